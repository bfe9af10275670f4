//! Property tests for `Group::process_message`: arbitrary bytes, byte-level mutations of a
//! valid commit, and mutations of a commit's content that are re-signed and re-MACed (so they
//! get past signature and membership checks into §12 validation) never panic, and never
//! change the group when refused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The harness the cargo-fuzz targets `process_commit` and `process_resigned_commit` run: the
// fixture group, the edit scripts and the checks. Here it runs on random scripts in the test
// command, so the fuzz targets' code is built and exercised on every CI run.
#[path = "../../fuzz/src/group.rs"]
#[allow(unreachable_pub)] // public for the fuzz crate, which exports it
mod group;

use group::{bundle, cs, fixture, outcome, process};
use mls_engine::codec::{decode_exact, encode};
use mls_engine::group::*;
use mls_engine::messages::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary bytes: whatever decodes as an MlsMessage is processed safely.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = process(&bytes);
    }

    /// Byte-level edits of a valid commit (mostly refused by framing or signature).
    #[test]
    fn mutated_commit_bytes(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        group::process_edited_commit(&script);
    }

    /// Edits of the commit's content, re-signed and re-MACed by the committer: they reach
    /// proposal validation, the UpdatePath checks and the confirmation tag.
    #[test]
    fn mutated_and_resigned_commit(script in proptest::collection::vec(any::<u8>(), 4..12)) {
        group::process_resigned_commit(&script);
    }

    /// Edits of a stored state (the receiver's, or the committer's with a past epoch): what
    /// loads writes back the bytes it was loaded from.
    #[test]
    fn edited_stored_state(
        pick in any::<u8>(),
        script in proptest::collection::vec(any::<u8>(), 4..16),
    ) {
        group::load_edited_state(&[[pick].as_slice(), &script].concat());
    }

    /// Edits of the delta the receiver recorded for the fixture commit, replayed onto its
    /// snapshot.
    #[test]
    fn edited_delta(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        group::replay_edited_delta(&script);
    }

    /// The same edits, signed again and encrypted in a PrivateMessage with the committer's
    /// handshake key: a refusal after the key was found leaves the secret tree unchanged.
    #[test]
    fn mutated_and_resigned_private_commit(
        script in proptest::collection::vec(any::<u8>(), 4..12)
    ) {
        group::process_resigned_private_commit(&script);
    }
}

/// The unmutated fixture commit is accepted (the properties exercise a live path), by both
/// entry points, to the same epoch; as bytes, it is laid out for the parallel path.
#[test]
fn fixture_commit_is_valid() {
    let f = fixture();
    let mut g = f.receiver.clone();
    let msg = decode_exact::<MlsMessage>(&f.commit).unwrap();
    let decoded = g.process_message(cs(), msg).unwrap();
    assert!(matches!(decoded, ProcessedMessage::Commit(_)));
    let from_bytes = g.process_message_bytes(cs(), &f.commit).unwrap();
    assert!(matches!(from_bytes, ProcessedMessage::Commit(_)));
    let expected = outcome(Ok(decoded)).unwrap();
    assert_eq!(outcome(Ok(from_bytes)).unwrap(), expected);
    assert!(mls_engine::framing::PublicCommitLayout::of(&f.commit).is_some());
}

/// The unedited commit signed again in a PrivateMessage gets through decryption, the signature
/// and §12 validation to the confirmation tag (computed for the PublicMessage's transcript, so
/// it fails there), and the refusal leaves the receiver as it was (checked by `process`).
#[test]
fn private_commit_reaches_the_confirmation_tag() {
    let bytes = group::resigned_commit_as(&[], WireFormat::PRIVATE_MESSAGE).unwrap();
    let msg = decode_exact::<MlsMessage>(&bytes).unwrap();
    assert!(matches!(msg.body, MlsMessageBody::PrivateMessage(_)));
    assert_eq!(
        group::process(&bytes),
        Err(GroupError::Protocol(ProtocolError::ConfirmationTag))
    );
}

/// Edited private commits get past decryption and the signature into §12 validation: a fixed
/// sample of edits has the receiver refusing on proposal and path rules, not only at the
/// framing.
#[test]
fn edited_private_commits_reach_validation() {
    let mut rules = 0;
    for script in group::sample_scripts(0x5851_f42d_4c95_7f2d, 300) {
        let Some(bytes) = group::resigned_commit_as(&script, WireFormat::PRIVATE_MESSAGE) else {
            continue;
        };
        if let Err(GroupError::Protocol(
            ProtocolError::Proposal { .. }
            | ProtocolError::LeafNode { .. }
            | ProtocolError::Tree(_),
        )) = group::process(&bytes)
        {
            rules += 1;
        }
    }
    assert!(rules > 0, "no edited private commit reached §12 validation");
}

/// The unedited delta replays to the receiver's state (checked by `replay_edited_delta`).
#[test]
fn unedited_delta_replays() {
    group::replay_edited_delta(&[]);
}

/// Every truncation of the fixture commit, and every single-byte change of its framing
/// (everything but the encrypted path secrets), gets the same answer from both entry points.
#[test]
fn truncations_and_framing_flips_agree() {
    let commit = &fixture().commit;
    for end in 0..commit.len() {
        let _ = process(&commit[..end]);
    }
    let layout = mls_engine::framing::PublicCommitLayout::of(commit).unwrap();
    let framing = (0..200).chain(layout.tbs_prefix.len().saturating_sub(8)..commit.len());
    for i in framing.filter(|i| *i < commit.len()) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = commit.clone();
            b[i] ^= x;
            let _ = process(&b);
        }
    }
}

/// `PublicCommitLayout` finds exactly the encoded parts the decoder reads, for a commit with
/// an UpdatePath and one without, and declines every other message.
#[test]
fn layout_matches_the_decoded_parts() {
    use mls_engine::framing::PublicCommitLayout;
    use mls_engine::tree_math::LeafIndex;
    let f = fixture();
    let mut committer = f.committer.clone();
    let add_only = committer
        .commit(
            cs(),
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bundle("late").key_package,
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap()
        .commit;
    let add_only = encode(&add_only).unwrap();
    for (bytes, with_path) in [(&f.commit, true), (&add_only, false)] {
        let layout = PublicCommitLayout::of(bytes).unwrap();
        let MlsMessageBody::PublicMessage(pm) = decode_exact::<MlsMessage>(bytes).unwrap().body
        else {
            panic!("not a PublicMessage")
        };
        let FramedContentBody::Commit(c) = &pm.content.body else {
            panic!("not a commit")
        };
        assert_eq!(c.path.is_some(), with_path);
        let mut prefix = encode(&ProtocolVersion::MLS10).unwrap();
        prefix.extend(encode(&WireFormat::PUBLIC_MESSAGE).unwrap());
        prefix.extend(encode(&pm.content).unwrap());
        assert_eq!(layout.tbs_prefix, &prefix[..]);
        assert_eq!(layout.auth, &encode(&pm.auth).unwrap()[..]);
        assert_eq!(layout.signature, pm.auth.signature.as_slice());
        assert_eq!(layout.sender, LeafIndex(0));
    }
    // A proposal, an application message and a GroupInfo are not member commits.
    let application = committer.encrypt_application(cs(), b"hi", b"").unwrap();
    let (proposal, _) = committer.propose_update(cs()).unwrap();
    for other in [proposal, application] {
        assert!(PublicCommitLayout::of(&encode(&other).unwrap()).is_none());
    }
}

/// An UpdatePath whose node key no one can encrypt to (X25519's all-zero point), signed and
/// MACed again by the committer: refused when the path is merged, before any decryption (a
/// receiver whose path secret is for a node above it could not check that key, and every
/// later commit encrypting to the node would fail).
#[test]
fn an_update_path_key_no_one_can_encrypt_to_is_refused() {
    use mls_engine::tree::TreeError;
    let f = fixture();
    let mut content = f.content.clone();
    let FramedContentBody::Commit(commit) = &mut content.body else {
        panic!("a commit")
    };
    let path = commit.path.as_mut().expect("a path commit");
    path.nodes.0[0].encryption_key = mls_engine::crypto::HpkePublicKey::from(vec![0u8; 32]);
    let msg = f
        .committer
        .sign_and_frame_for_tests(cs(), content, f.tag.clone())
        .unwrap();
    let r = process(&encode(&msg).unwrap());
    assert!(
        matches!(
            r,
            Err(GroupError::Protocol(ProtocolError::Tree(
                TreeError::InvalidEncryptionKey(_)
            )))
        ),
        "{r:?}"
    );
}
