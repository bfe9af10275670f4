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
/// refusal leaves the group byte-for-byte as it was.
fn check(msg: &MlsMessage) -> Result<(), TestCaseError> {
    let f = fixture();
    let mut g = f.receiver.clone();
    let before = g.to_bytes().unwrap();
    if g.process_message(cs(), msg.clone()).is_err() {
        prop_assert_eq!(g.to_bytes().unwrap(), before);
        prop_assert_eq!(g.epoch(), f.receiver.epoch());
    }
    Ok(())
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
        if let Ok(msg) = decode_exact::<MlsMessage>(&bytes) {
            check(&msg)?;
        }
    }

    /// Byte-level mutations of a valid commit (mostly refused by framing or signature).
    #[test]
    fn mutated_commit_bytes(ms in proptest::collection::vec(mutation(), 1..4)) {
        let bytes = mutate(&fixture().commit, &ms);
        if let Ok(msg) = decode_exact::<MlsMessage>(&bytes) {
            check(&msg)?;
        }
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

/// The unmutated fixture commit is accepted (the properties exercise a live path).
#[test]
fn fixture_commit_is_valid() {
    let f = fixture();
    let mut g = f.receiver.clone();
    let msg = decode_exact::<MlsMessage>(&f.commit).unwrap();
    assert!(matches!(
        g.process_message(cs(), msg).unwrap(),
        ProcessedMessage::Commit(_)
    ));
}
