//! Property tests for `Group::process_message`: arbitrary bytes, byte-level mutations of a
//! valid commit, and mutations of a commit's content that are re-signed and re-MACed (so they
//! get past signature and membership checks into §12 validation) never panic, and never
//! change the group when refused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use mls_engine::codec::{decode_exact, encode};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_engine::group::*;
use mls_engine::messages::*;
use proptest::prelude::*;

fn cs() -> &'static dyn CipherSuiteProvider {
    static P: OnceLock<AwsLcProvider> = OnceLock::new();
    P.get_or_init(AwsLcProvider::new)
        .suite(CipherSuite(1))
        .unwrap()
}

struct Fixture {
    /// The committer (member 0) and the receiver (member 1), at the same epoch.
    committer: Group,
    receiver: Group,
    /// A valid path commit with an Add, by member 0, encoded.
    commit: Vec<u8>,
    /// Its content and confirmation tag.
    content: FramedContent,
    tag: Option<Mac>,
}

fn bundle(name: &str) -> KeyPackageBundle {
    let cs = cs();
    let (sk, _) = cs.signature_generate().unwrap();
    generate_key_package(
        cs,
        Credential::basic(name),
        sk,
        KeyPackageOptions::new(0, u64::MAX),
    )
    .unwrap()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cs = cs();
        let config = GroupConfig::default().at_time(1_000);
        let alice = bundle("alice");
        let mut a = Group::create(cs, &alice, b"g".to_vec(), vec![], config).unwrap();
        let others: Vec<KeyPackageBundle> = (1..4).map(|i| bundle(&format!("m{i}"))).collect();
        let out = a
            .commit(
                cs,
                CommitOptions {
                    proposals: others
                        .iter()
                        .map(|b| {
                            Proposal::Add(Add {
                                key_package: b.key_package.clone(),
                            })
                        })
                        .collect(),
                    ..CommitOptions::default()
                },
            )
            .unwrap();
        a.merge_staged_commit(out.staged).unwrap();
        let w = out.welcome.unwrap();
        let receiver = Group::join(
            cs,
            &w,
            &others[0],
            JoinOptions {
                config,
                ..JoinOptions::default()
            },
        )
        .unwrap();
        let out = a
            .commit(
                cs,
                CommitOptions {
                    proposals: vec![Proposal::Add(Add {
                        key_package: bundle("x").key_package,
                    })],
                    force_path: true,
                    ..CommitOptions::default()
                },
            )
            .unwrap();
        let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
            panic!()
        };
        Fixture {
            content: pm.content.clone(),
            tag: pm.auth.confirmation_tag.clone(),
            commit: encode(&out.commit).unwrap(),
            committer: a,
            receiver,
        }
    })
}

/// Processes `msg` on a copy of the receiver: no panic (the harness would report it), and a
/// refusal leaves the group byte-for-byte as it was. The same message as bytes
/// ([`check_bytes`]) must get the same answer.
fn check(msg: &MlsMessage) -> Result<(), TestCaseError> {
    let f = fixture();
    let mut g = f.receiver.clone();
    let before = g.to_bytes().unwrap();
    let decoded = g.process_message(cs(), msg.clone());
    if decoded.is_err() {
        prop_assert_eq!(g.to_bytes().unwrap(), before);
        prop_assert_eq!(g.epoch(), f.receiver.epoch());
    }
    let from_bytes = process_bytes(&encode(msg).unwrap())?;
    prop_assert_eq!(outcome(decoded), from_bytes);
    Ok(())
}

/// What processing gave, comparable across the two entry points: the error, or the epoch
/// authenticator and transcript hash the staged commit leads to once merged (or the kind of
/// message it was).
fn outcome(r: Result<ProcessedMessage, GroupError>) -> Result<Vec<u8>, GroupError> {
    match r? {
        ProcessedMessage::Commit(staged) => {
            let mut g = fixture().receiver.clone();
            g.merge_staged_commit(*staged).unwrap();
            let mut out = g.epoch_authenticator().as_bytes().to_vec();
            out.extend_from_slice(g.context().confirmed_transcript_hash.as_slice());
            Ok(out)
        }
        other => Ok(format!("{other:?}").into_bytes()),
    }
}

/// `Group::process_message_bytes` on a copy of the receiver: no panic, a refusal leaves the
/// group as it was, and bytes that do not decode as an MlsMessage are refused as malformed.
fn process_bytes(bytes: &[u8]) -> Result<Result<Vec<u8>, GroupError>, TestCaseError> {
    let f = fixture();
    let mut g = f.receiver.clone();
    let before = g.to_bytes().unwrap();
    let r = g.process_message_bytes(cs(), bytes);
    if r.is_err() {
        prop_assert_eq!(g.to_bytes().unwrap(), before);
    }
    if decode_exact::<MlsMessage>(bytes).is_err() {
        prop_assert!(matches!(r, Err(GroupError::Malformed(_))), "{:?}", r.err());
    }
    Ok(outcome(r))
}

/// `check` for bytes: decoded and processed, or refused as malformed by both entry points.
fn check_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode_exact::<MlsMessage>(bytes) {
        Ok(msg) => check(&msg),
        Err(_) => process_bytes(bytes).map(drop),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(bytes: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in ms {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        match *m {
            Mutation::Flip(i, x) => b[i % n] ^= x,
            Mutation::Truncate(i) => b.truncate(i % n),
            Mutation::Insert(i, x) => b.insert(i % (n + 1), x),
            Mutation::Remove(i) => {
                b.remove(i % n);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary bytes: whatever decodes as an MlsMessage is processed safely.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_bytes(&bytes)?;
    }

    /// Byte-level mutations of a valid commit (mostly refused by framing or signature).
    #[test]
    fn mutated_commit_bytes(ms in proptest::collection::vec(mutation(), 1..4)) {
        let bytes = mutate(&fixture().commit, &ms);
        check_bytes(&bytes)?;
    }

    /// Mutations of the commit's content, re-signed and re-MACed by the committer: they
    /// reach proposal validation, the UpdatePath checks and the confirmation tag.
    #[test]
    fn mutated_and_resigned_commit(ms in proptest::collection::vec(mutation(), 1..3)) {
        let f = fixture();
        let FramedContentBody::Commit(commit) = &f.content.body else {
            unreachable!()
        };
        let bytes = mutate(&encode(commit).unwrap(), &ms);
        if let Ok(commit) = decode_exact::<Commit>(&bytes) {
            let body = FramedContentBody::Commit(commit);
            let content = FramedContent { body, ..f.content.clone() };
            if let Ok(msg) = f.committer.sign_and_frame_for_tests(cs(), content, f.tag.clone()) {
                check(&msg)?;
            }
        }
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

/// Every truncation of the fixture commit, and every single-byte change of its framing
/// (everything but the encrypted path secrets), gets the same answer from both entry points.
#[test]
fn truncations_and_framing_flips_agree() {
    let commit = &fixture().commit;
    for end in 0..commit.len() {
        check_bytes(&commit[..end]).unwrap();
    }
    let layout = mls_engine::framing::PublicCommitLayout::of(commit).unwrap();
    let framing = (0..200).chain(layout.tbs_prefix.len().saturating_sub(8)..commit.len());
    for i in framing.filter(|i| *i < commit.len()) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = commit.clone();
            b[i] ^= x;
            check_bytes(&b).unwrap();
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
