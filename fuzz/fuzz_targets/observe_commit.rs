//! Fuzz target: a valid commit's content edited by the input and signed again by its
//! committer, judged by a member and by the delivery service's observer: the observer accepts
//! what the member accepts (to the same GroupContext), refuses what the member refuses on a
//! public rule, and is unchanged by a refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::observer::observe_resigned_commit(data);
});
