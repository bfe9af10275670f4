//! Property tests holding the observer (the delivery service's public view) to a member's
//! validation: the same edited commits, signed and MACed again by their committer, are judged
//! by both. A commit the member accepts the observer accepts, to the same GroupContext; one the
//! member refuses on a public rule the observer refuses; one the member refuses only at its
//! confirmation tag the observer accepts; and a refusal leaves the observer as it was.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The harnesses of the cargo-fuzz target `observe_commit` (`observer.rs` uses `group.rs`'s
// fixture group, edit scripts and member-side checks), run here on random scripts in the test
// command.
#[path = "../../../fuzz/src/group.rs"]
#[allow(unreachable_pub, dead_code)] // public for the fuzz crate, which exports it
mod group;
#[path = "../../../fuzz/src/observer.rs"]
#[allow(unreachable_pub)]
mod observer;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Edits of the commit's content, re-signed and re-MACed by the committer.
    #[test]
    fn member_and_observer_agree(script in proptest::collection::vec(any::<u8>(), 4..12)) {
        observer::observe_resigned_commit(&script);
    }
}

/// The harness is live: both accept the unedited commit to the same GroupContext, and a fixed
/// sample of edits has the member refusing on public rules and at the confirmation tag.
#[test]
fn edits_reach_both_validations() {
    use mls_engine::group::{GroupError, ProtocolError};
    let (member, verdict) = observer::compare(&group::fixture().commit);
    assert!(member.is_ok() && verdict.is_ok());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut public, mut at_tag) = (0, 0);
    for _ in 0..400 {
        let script: Vec<u8> = (0..4 + next() % 9)
            .map(|_| next().to_le_bytes()[0])
            .collect();
        let Some(bytes) = group::resigned_commit(&script) else {
            continue;
        };
        match observer::compare(&bytes).0 {
            Err(GroupError::Protocol(ProtocolError::ConfirmationTag)) => at_tag += 1,
            Err(GroupError::Protocol(_) | GroupError::Incompatible(_)) => public += 1,
            _ => {}
        }
    }
    assert!(
        public > 0 && at_tag > 0,
        "public {public}, at the tag {at_tag}"
    );
}
