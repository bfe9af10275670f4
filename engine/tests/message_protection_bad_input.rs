//! Bad input to message protection (RFC 9420 §6): every rejection is its own typed error, and
//! a rejected message leaves the secret tree exactly as it was, so the next valid message still
//! decrypts.

#![allow(clippy::unwrap_used)] // Test fixtures: a failure here is a test failure.

use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SignaturePublicKey,
};
use mls_engine::framing::{MessageProtection, PaddingPolicy, ProtectionError, RatchetPosition};
use mls_engine::messages::{
    FramedContent, FramedContentBody, GroupContext, Mac, PrivateMessage, Proposal, ProtocolVersion,
    PublicMessage, Remove, Sender,
};
use mls_engine::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig, SecretTreeError};
use mls_engine::tree_math::LeafIndex;

const SENDER: u32 = 3;
const LEAVES: u32 = 8;

struct Fixture {
    provider: AwsLcProvider,
    gc: GroupContext,
    membership_key: Secret,
    sender_data_secret: Secret,
    encryption_secret: Secret,
    sk: Secret,
    pk: SignaturePublicKey,
}

impl Fixture {
    fn new() -> Self {
        let provider = AwsLcProvider::new();
        let cs = provider.suite(CipherSuite(1)).unwrap();
        let (sk, pk) = cs.signature_generate().unwrap();
        let gc = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(1),
            group_id: VarBytes(b"bad-input group".to_vec()),
            epoch: 7,
            tree_hash: VarBytes(vec![1; 32]),
            confirmed_transcript_hash: VarBytes(vec![2; 32]),
            extensions: VarVec::default(),
        };
        Self {
            gc,
            membership_key: Secret::new(cs.random_vec(32).unwrap()),
            sender_data_secret: Secret::new(cs.random_vec(32).unwrap()),
            encryption_secret: Secret::new(cs.random_vec(32).unwrap()),
            sk,
            pk,
            provider,
        }
    }

    fn cs(&self) -> &dyn CipherSuiteProvider {
        self.provider.suite(CipherSuite(1)).unwrap()
    }

    fn mp(&self) -> MessageProtection<'_> {
        MessageProtection::new(
            self.cs(),
            &self.gc,
            &self.membership_key,
            &self.sender_data_secret,
        )
    }

    fn tree(&self, config: SecretTreeConfig) -> SecretTree {
        SecretTree::new(self.encryption_secret.clone(), LEAVES, config).unwrap()
    }

    fn content(&self, body: FramedContentBody) -> FramedContent {
        FramedContent {
            group_id: self.gc.group_id.clone(),
            epoch: self.gc.epoch,
            sender: Sender::Member(SENDER),
            authenticated_data: VarBytes(b"aad".to_vec()),
            body,
        }
    }

    fn app(&self, text: &[u8]) -> FramedContent {
        self.content(FramedContentBody::Application(VarBytes(text.to_vec())))
    }

    fn keys(&self) -> impl Fn(&FramedContent) -> Option<SignaturePublicKey> + Copy + '_ {
        |c: &FramedContent| (c.sender == Sender::Member(SENDER)).then(|| self.pk.clone())
    }

    /// `n` application messages from the sender, generations 0..n.
    fn send(&self, sender_tree: &mut SecretTree, n: usize) -> Vec<PrivateMessage> {
        (0..n)
            .map(|i| {
                self.mp()
                    .protect_private(
                        sender_tree,
                        self.app(format!("message {i}").as_bytes()),
                        &self.sk,
                        None,
                        PaddingPolicy::default(),
                    )
                    .unwrap()
            })
            .collect()
    }

    fn open(
        &self,
        tree: &mut SecretTree,
        msg: &PrivateMessage,
    ) -> Result<Vec<u8>, ProtectionError> {
        let ac = self.mp().unprotect_private(tree, msg, self.keys())?;
        match ac.content.body {
            FramedContentBody::Application(b) => Ok(b.0),
            other => panic!("not application data: {other:?}"),
        }
    }

    fn proposal_public(&self) -> PublicMessage {
        let body = FramedContentBody::Proposal(Proposal::Remove(Remove { removed: 1 }));
        self.mp()
            .protect_public(self.content(body), &self.sk, None)
            .unwrap()
    }
}

/// Rejects `bad`, checks the error, and checks the tree did not change and `good` still opens.
fn rejects_then_recovers(
    f: &Fixture,
    tree: &mut SecretTree,
    bad: &PrivateMessage,
    good: &PrivateMessage,
    expect: impl Fn(&ProtectionError) -> bool,
) {
    let before = tree.clone();
    let err = f.open(tree, bad).expect_err("bad message accepted");
    assert!(expect(&err), "unexpected error {err:?}");
    assert_eq!(*tree, before, "tree changed after {err:?}");
    f.open(tree, good)
        .expect("valid message after a rejected one");
}

#[test]
fn truncated_ciphertext() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    let mut bad = msgs[0].clone();
    bad.ciphertext.truncate(10);
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(
            e,
            ProtectionError::TruncatedCiphertext {
                what: "ciphertext",
                len: 10
            }
        )
    });
    let mut bad = msgs[0].clone();
    bad.encrypted_sender_data.truncate(3);
    let mut rx = f.tree(SecretTreeConfig::default());
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(
            e,
            ProtectionError::TruncatedCiphertext {
                what: "encrypted_sender_data",
                ..
            }
        )
    });
    // Cut short but longer than a tag: the AEAD refuses it, still no state change.
    let mut bad = msgs[0].clone();
    let len = bad.ciphertext.len();
    bad.ciphertext.truncate(len - 1);
    let mut rx = f.tree(SecretTreeConfig::default());
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(
            e,
            ProtectionError::SenderDataUndecryptable | ProtectionError::ContentUndecryptable
        )
    });
}

#[test]
fn wrong_epoch() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    let mut bad = msgs[0].clone();
    bad.epoch += 1;
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(
            e,
            ProtectionError::WrongEpoch {
                expected: 7,
                got: 8
            }
        )
    });
}

#[test]
fn wrong_group_id() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    let mut bad = msgs[0].clone();
    bad.group_id = VarBytes(b"another group".to_vec());
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(e, ProtectionError::WrongGroupId)
    });
}

#[test]
fn forged_sender_data() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    for i in [0, 5, 9, 20] {
        let mut bad = msgs[0].clone();
        bad.encrypted_sender_data[i] ^= 0x01;
        let before = rx.clone();
        let err = f.open(&mut rx, &bad).unwrap_err();
        assert_eq!(err, ProtectionError::SenderDataUndecryptable, "byte {i}");
        assert_eq!(rx, before);
    }
    f.open(&mut rx, &msgs[0]).unwrap();
}

#[test]
fn forged_content() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    let mut bad = msgs[0].clone();
    // Past the sender-data sample (KDF.Nh = 32 bytes), so only the content AEAD notices.
    let last = bad.ciphertext.len() - 1;
    bad.ciphertext[last] ^= 0x80;
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(e, ProtectionError::ContentUndecryptable)
    });
    let mut bad = msgs[0].clone();
    bad.authenticated_data = VarBytes(b"AAD".to_vec());
    let mut rx = f.tree(SecretTreeConfig::default());
    rejects_then_recovers(&f, &mut rx, &bad, &msgs[0], |e| {
        matches!(e, ProtectionError::ContentUndecryptable)
    });
}

#[test]
fn generation_beyond_bound() {
    let f = Fixture::new();
    let config = SecretTreeConfig {
        max_forward_distance: 8,
        max_retained_keys: 4,
    };
    let mut tx = f.tree(config);
    let mut rx = f.tree(config);
    let msgs = f.send(&mut tx, 10);
    rejects_then_recovers(&f, &mut rx, &msgs[9], &msgs[0], |e| {
        matches!(
            e,
            ProtectionError::SecretTree(SecretTreeError::GenerationTooFarAhead {
                generation: 9,
                next: 0,
                max: 8
            })
        )
    });
    // Now 9 is within reach (8 ahead of 1) and decrypts.
    assert_eq!(f.open(&mut rx, &msgs[9]).unwrap(), b"message 9");
}

#[test]
fn replayed_generation() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 2);
    f.open(&mut rx, &msgs[0]).unwrap();
    rejects_then_recovers(&f, &mut rx, &msgs[0], &msgs[1], |e| {
        matches!(
            e,
            ProtectionError::SecretTree(SecretTreeError::GenerationConsumed { generation: 0 })
        )
    });
    // And the out-of-order key, once used, cannot be replayed either.
    assert!(matches!(
        f.open(&mut rx, &msgs[1]),
        Err(ProtectionError::SecretTree(
            SecretTreeError::GenerationConsumed { generation: 1 }
        ))
    ));
}

#[test]
fn out_of_order_within_bounds() {
    let f = Fixture::new();
    let config = SecretTreeConfig {
        max_forward_distance: 16,
        max_retained_keys: 3,
    };
    let mut tx = f.tree(config);
    let mut rx = f.tree(config);
    let msgs = f.send(&mut tx, 10);
    assert_eq!(f.open(&mut rx, &msgs[9]).unwrap(), b"message 9");
    // Only the 3 newest skipped keys (6, 7, 8) were kept.
    assert_eq!(f.open(&mut rx, &msgs[7]).unwrap(), b"message 7");
    assert_eq!(f.open(&mut rx, &msgs[8]).unwrap(), b"message 8");
    assert_eq!(f.open(&mut rx, &msgs[6]).unwrap(), b"message 6");
    assert!(matches!(
        f.open(&mut rx, &msgs[5]),
        Err(ProtectionError::SecretTree(
            SecretTreeError::GenerationConsumed { generation: 5 }
        ))
    ));
}

#[test]
fn wrong_signature_private() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let (other_sk, _) = f.cs().signature_generate().unwrap();
    let bad = f
        .mp()
        .protect_private(
            &mut tx,
            f.app(b"forged"),
            &other_sk,
            None,
            PaddingPolicy::None,
        )
        .unwrap();
    let good = f.send(&mut tx, 1).remove(0);
    rejects_then_recovers(&f, &mut rx, &bad, &good, |e| {
        matches!(e, ProtectionError::BadSignature)
    });
}

#[test]
fn unknown_sender_private() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 1);
    let before = rx.clone();
    let err = f
        .mp()
        .unprotect_private(&mut rx, &msgs[0], |_| None)
        .unwrap_err();
    assert_eq!(err, ProtectionError::UnknownSender);
    assert_eq!(rx, before);
    f.open(&mut rx, &msgs[0]).unwrap();
}

#[test]
fn leaf_outside_tree() {
    let f = Fixture::new();
    // The sender's tree is larger than the receiver's: leaf 3 is outside a 2-leaf tree.
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx =
        SecretTree::new(f.encryption_secret.clone(), 2, SecretTreeConfig::default()).unwrap();
    let msgs = f.send(&mut tx, 1);
    let before = rx.clone();
    let err = f.open(&mut rx, &msgs[0]).unwrap_err();
    assert!(matches!(
        err,
        ProtectionError::SecretTree(SecretTreeError::LeafOutOfTree { leaf: 3, leaves: 2 })
    ));
    assert_eq!(rx, before);
}

#[test]
fn wrong_membership_tag() {
    let f = Fixture::new();
    let good = f.proposal_public();
    let mut bad = good.clone();
    let tag = bad.membership_tag.as_mut().unwrap();
    tag.0[0] ^= 1;
    assert_eq!(
        f.mp().unprotect_public(bad.clone(), f.keys()).unwrap_err(),
        ProtectionError::BadMembershipTag
    );
    bad.membership_tag = None;
    assert_eq!(
        f.mp().unprotect_public(bad, f.keys()).unwrap_err(),
        ProtectionError::MembershipTagPresence
    );
    f.mp().unprotect_public(good, f.keys()).unwrap();
}

#[test]
fn wrong_signature_public() {
    let f = Fixture::new();
    let good = f.proposal_public();
    let (_, other_pk) = f.cs().signature_generate().unwrap();
    assert_eq!(
        f.mp()
            .unprotect_public(good.clone(), |_| Some(other_pk.clone()))
            .unwrap_err(),
        ProtectionError::BadSignature
    );
    // A tampered signature is caught by the membership tag first (it covers the auth data).
    let mut bad = good.clone();
    bad.auth.signature[0] ^= 1;
    assert_eq!(
        f.mp().unprotect_public(bad, f.keys()).unwrap_err(),
        ProtectionError::BadMembershipTag
    );
    f.mp().unprotect_public(good, f.keys()).unwrap();
}

#[test]
fn public_message_wrong_epoch_and_group() {
    let f = Fixture::new();
    let good = f.proposal_public();
    let mut bad = good.clone();
    bad.content.epoch = 6;
    assert_eq!(
        f.mp().unprotect_public(bad, f.keys()).unwrap_err(),
        ProtectionError::WrongEpoch {
            expected: 7,
            got: 6
        }
    );
    let mut bad = good.clone();
    bad.content.group_id = VarBytes(b"x".to_vec());
    assert_eq!(
        f.mp().unprotect_public(bad, f.keys()).unwrap_err(),
        ProtectionError::WrongGroupId
    );
}

#[test]
fn content_rules() {
    let f = Fixture::new();
    // Application data is never a PublicMessage, either way.
    assert_eq!(
        f.mp()
            .protect_public(f.app(b"hi"), &f.sk, None)
            .unwrap_err(),
        ProtectionError::ApplicationDataInPublicMessage
    );
    let mut pm = f.proposal_public();
    pm.content.body = FramedContentBody::Application(VarBytes(b"hi".to_vec()));
    assert_eq!(
        f.mp().unprotect_public(pm, f.keys()).unwrap_err(),
        ProtectionError::ApplicationDataInPublicMessage
    );
    // An external sender may not commit, nor send a PrivateMessage.
    let mut c = f.content(FramedContentBody::Proposal(Proposal::Remove(Remove {
        removed: 1,
    })));
    c.sender = Sender::External(0);
    let mut tx = f.tree(SecretTreeConfig::default());
    assert!(matches!(
        f.mp()
            .protect_private(&mut tx, c.clone(), &f.sk, None, PaddingPolicy::None)
            .unwrap_err(),
        ProtectionError::SenderNotAllowed { sender_type: 2, .. }
    ));
    // A commit needs a confirmation tag, and nothing else may carry one.
    assert_eq!(
        f.mp()
            .protect_public(
                f.content(FramedContentBody::Proposal(Proposal::Remove(Remove {
                    removed: 1
                }))),
                &f.sk,
                Some(Mac(VarBytes(vec![0; 32])))
            )
            .unwrap_err(),
        ProtectionError::ConfirmationTagMismatch
    );
    // An external proposal verifies without a membership tag.
    let ext = f.mp().protect_public(c, &f.sk, None).unwrap();
    assert!(ext.membership_tag.is_none());
    f.mp()
        .unprotect_public(ext, |_| Some(f.pk.clone()))
        .unwrap();
}

#[test]
fn padding_policy_pads_and_round_trips() {
    let f = Fixture::new();
    for (policy, multiple) in [
        (PaddingPolicy::None, 1),
        (PaddingPolicy::ToMultipleOf(32), 32),
        (PaddingPolicy::ToMultipleOf(256), 256),
    ] {
        let mut tx = f.tree(SecretTreeConfig::default());
        let mut rx = f.tree(SecretTreeConfig::default());
        let msg = f
            .mp()
            .protect_private(&mut tx, f.app(b"pad me"), &f.sk, None, policy)
            .unwrap();
        let tag = 16;
        assert_eq!((msg.ciphertext.len() - tag) % multiple, 0, "{policy:?}");
        assert_eq!(f.open(&mut rx, &msg).unwrap(), b"pad me");
    }
}

#[test]
fn open_private_reads_the_tree_and_names_the_key() {
    let f = Fixture::new();
    let mut tx = f.tree(SecretTreeConfig::default());
    let mut rx = f.tree(SecretTreeConfig::default());
    let msgs = f.send(&mut tx, 3);
    // Opened out of order, and twice: `open_private` uses nothing up.
    let before = rx.clone();
    for _ in 0..2 {
        let (ac, key) = f.mp().open_private(&rx, &msgs[2], f.keys()).unwrap();
        assert_eq!(ac.content, f.app(b"message 2"));
        assert_eq!(
            key,
            RatchetPosition {
                leaf: LeafIndex(SENDER),
                kind: RatchetKind::Application,
                generation: 2,
            }
        );
        assert_eq!(rx, before);
    }
    // Marked used, the key is gone; the skipped ones are still there, once each.
    let (_, key) = f.mp().open_private(&rx, &msgs[2], f.keys()).unwrap();
    key.mark_consumed(f.cs(), &mut rx).unwrap();
    assert!(matches!(
        f.mp().open_private(&rx, &msgs[2], f.keys()),
        Err(ProtectionError::SecretTree(
            SecretTreeError::GenerationConsumed { generation: 2 }
        ))
    ));
    assert_eq!(
        rx.retained_keys(LeafIndex(SENDER), RatchetKind::Application),
        2
    );
    for m in &msgs[..2] {
        f.open(&mut rx, m).unwrap();
    }
    assert_eq!(
        rx.retained_keys(LeafIndex(SENDER), RatchetKind::Application),
        0
    );
}
