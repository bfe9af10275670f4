//! Fuzz target: a valid commit's bytes edited by the input, processed by a member through both
//! entry points (`process_message_bytes`, `process_message`): same answer, and a refusal leaves
//! the group as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::group::process_edited_commit(data);
});
