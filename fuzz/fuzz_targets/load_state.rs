//! Fuzz target: a stored state edited by the input, then loaded. The first byte picks it: the
//! receiver's (0), the committer's with a past epoch (1) or the observer's (2), modulo 3. No
//! panic, and a state that loads writes back exactly the bytes it was loaded from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mls_engine_fuzz::{group, observer};

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((pick, script)) if pick % 3 == 2 => observer::load_edited_observer_state(script),
        Some((pick, script)) => group::load_edited_state(&[[pick % 3].as_slice(), script].concat()),
        None => {}
    }
});
