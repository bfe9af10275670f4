//! Fuzz target: the joiner's GroupSecrets or the GroupInfo of a valid Welcome edited by the
//! input, then signed, encrypted and sealed again as the committer would, and joined through
//! both entry points: same answer, undecodable plaintexts refused as malformed, and a join that
//! succeeds holds the GroupInfo's context and tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mls_engine_fuzz::join::join_edited(data);
});
