//! Fuzz target: a GroupInfo for external joiners edited by the input (its tree hash made to
//! match, optionally) and signed again by its member; a new joiner builds an external commit
//! from it. The unedited one must join and be accepted; a join that succeeds is in the right
//! group and epoch; a member that accepts the commit agrees with the joiner.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mls_engine_fuzz::join::external_join_edited(data);
});
