//! Fuzz target: an edited proposal (KeyPackages and leaves signed again by their owner), sent
//! to the committer by another member or put into its own commit by value: received proposals
//! never stop the next commit, and every commit the committer builds is accepted by the other
//! members and joined by the member it adds, to the same epoch.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mls_engine_fuzz::committer::commit_edited(data);
});
