//! Fuzz target: stored state edited by the input, then loaded. The first byte picks it (modulo
//! 5): the receiver's state (0), the committer's with a past epoch (1), the observer's (2), or
//! the receiver's (3) or the observer's (4) delta for a commit, replayed onto its snapshot. No panic, and a state
//! that loads writes back exactly the bytes it was loaded from (a replayed one, bytes that load
//! back unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mls_engine_fuzz::{group, observer};

fuzz_target!(|data: &[u8]| {
    let Some((pick, script)) = data.split_first() else {
        return;
    };
    match pick % 5 {
        2 => observer::load_edited_observer_state(script),
        3 => group::replay_edited_delta(script),
        4 => observer::replay_edited_observer_delta(script),
        p => group::load_edited_state(&[[p].as_slice(), script].concat()),
    }
});
