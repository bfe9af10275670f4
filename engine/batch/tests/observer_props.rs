//! Property tests holding the observer (the delivery service's public view) to a member's
//! validation: the same edited commits, signed again by their sender (a member's commit, also
//! MACed again; an external commit), are judged by both. A commit the member accepts the
//! observer accepts, to the same GroupContext; one the member refuses on a public rule the
//! observer refuses; one the member refuses only at its confirmation tag the observer accepts;
//! and a refusal leaves the observer as it was.

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

    /// Edits of a member's commit, signed and MACed again by the committer.
    #[test]
    fn member_and_observer_agree_on_member_commits(
        script in proptest::collection::vec(any::<u8>(), 4..12)
    ) {
        observer::observe_resigned_commit(&[[0u8].as_slice(), &script].concat());
    }

    /// Edits of a member's proposals (Add, Update, Remove, PreSharedKey,
    /// GroupContextExtensions), signed and MACed again: both accept exactly the same.
    #[test]
    fn member_and_observer_agree_on_proposals(
        pick in any::<u8>(),
        script in proptest::collection::vec(any::<u8>(), 4..12),
    ) {
        let _ = observer::observe_resigned_proposal(&[[pick].as_slice(), &script].concat());
    }

    /// Edits of the observer's stored state: what loads writes back the bytes it was loaded
    /// from.
    #[test]
    fn edited_observer_state(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        observer::load_edited_observer_state(&script);
    }

    /// Edits of the observer's delta for the fixture commit, replayed onto its snapshot.
    #[test]
    fn edited_observer_delta(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        observer::replay_edited_observer_delta(&script);
    }

    /// Edits of an external commit, signed again by the joiner.
    #[test]
    fn member_and_observer_agree_on_external_commits(
        script in proptest::collection::vec(any::<u8>(), 4..12)
    ) {
        observer::observe_resigned_commit(&[[1u8].as_slice(), &script].concat());
    }
}

/// Each unedited proposal is accepted by both (`observe_resigned_proposal` asserts they
/// agree), so the proposals' harness starts from valid messages. (A proposal's content is
/// validated when a commit includes it, by both; on receipt both check the framing, the
/// signature, the membership tag and which sender may propose what, §12.1.8.)
#[test]
fn unedited_proposals_are_accepted() {
    for pick in 0..5u8 {
        assert_eq!(
            observer::observe_resigned_proposal(&[pick]),
            Some(true),
            "{pick}"
        );
    }
}

/// The unedited observer delta replays to the observer's state (checked by the harness).
#[test]
fn unedited_observer_delta_replays() {
    observer::replay_edited_observer_delta(&[]);
}

/// The harness is live: both accept each unedited commit to the same GroupContext, and for
/// each, a fixed sample of edits has the member refusing on public rules and at the
/// confirmation tag.
#[test]
fn edits_reach_both_validations() {
    use mls_engine::group::{GroupError, ProtocolError};
    let resign = [group::resigned_commit, observer::resigned_external_commit];
    for (kind, resigned) in resign.into_iter().enumerate() {
        let (member, verdict) = observer::compare(&resigned(&[]).unwrap());
        assert!(member.is_ok() && verdict.is_ok(), "unedited commit {kind}");
        let (mut public, mut at_tag) = (0, 0);
        for script in group::sample_scripts(0x2545_f491_4f6c_dd1d + kind as u64, 400) {
            let Some(bytes) = resigned(&script) else {
                continue;
            };
            match observer::compare(&bytes).0 {
                Err(GroupError::Protocol(ProtocolError::ConfirmationTag)) => at_tag += 1,
                Err(GroupError::Protocol(_) | GroupError::Incompatible(_)) => public += 1,
                _ => {}
            }
        }
        let counts = format!("commit {kind}: public {public}, at the tag {at_tag}");
        assert!(public > 0 && at_tag > 0, "{counts}");
    }
}
