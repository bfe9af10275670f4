//! Fuzz target: decode arbitrary bytes as `Commit`; re-encoding must give the input back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mls_engine::messages::Commit;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::round_trip::<Commit>(data);
});
