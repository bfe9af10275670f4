//! Fuzz target: decode arbitrary bytes as `MlsMessage`; re-encoding must give the input back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mls_engine::messages::MlsMessage;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::round_trip::<MlsMessage>(data);
});
