//! Fuzz target: a valid commit's content edited by the input, signed and MACed again by the
//! committer (so it reaches §12 validation and the UpdatePath), processed through both entry
//! points: same answer, and a refusal leaves the group as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::group::process_resigned_commit(data);
});
