//! Fuzz target: a valid commit's content edited by the input, signed again by its committer
//! and encrypted in a PrivateMessage with the committer's handshake key, processed by a member
//! through both entry points: same answer, and a refusal leaves the group (its secret tree
//! included) as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::group::process_resigned_private_commit(data);
});
