//! Property tests for the committer's side of hostile proposals (`Group::commit`): edited
//! proposals, received from another member or committed by value, never stop a commit of
//! the received ones, and every commit the committer builds is accepted by the other members
//! and joined by the member it adds, to the same epoch.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The harness the cargo-fuzz target `commit_proposals` runs (`committer.rs` uses
// `group.rs`'s suite, KeyPackages and edit scripts). Here it runs on random scripts in the
// test command, so the fuzz target's code is built and exercised on every CI run.
#[path = "../../fuzz/src/committer.rs"]
#[allow(unreachable_pub)]
mod committer;
#[path = "../../fuzz/src/group.rs"]
#[allow(unreachable_pub, dead_code)] // public for the fuzz crate, which exports it
mod group;

use committer::{
    commit_edited, commit_fixture, commit_proposals, commit_proposals_from, resign_key_package,
    resign_leaf, template, template_count, CommitRun, ProposalSender,
};
use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::group::{
    GroupError, InvalidProposal, KeyPackageError, LeafNodeError, ProposalRule, ProtocolError,
};
use mls_engine::messages::*;
use proptest::prelude::*;

/// The run's input: flags, template, second template, edit script.
fn input(flags: u8, pick: u8, second: u8, script: &[u8]) -> Vec<u8> {
    [[flags, pick, second].as_slice(), script].concat()
}

/// "No second proposal" for [`input`].
fn none() -> u8 {
    u8::try_from(template_count()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Edited proposals received from a member (with a second, unedited one or none), then
    /// committed by reference.
    #[test]
    fn received_edited_proposals(
        path in any::<bool>(),
        pick in any::<u8>(),
        second in any::<u8>(),
        script in proptest::collection::vec(any::<u8>(), 4..16),
    ) {
        commit_edited(&input(u8::from(path) << 1, pick, second, &script));
    }

    /// Edited proposals received from the group's external sender or, for an Add, from the new
    /// member itself, then committed by reference.
    #[test]
    fn edited_proposals_from_non_members(
        new_member in any::<bool>(),
        path in any::<bool>(),
        pick in any::<u8>(),
        second in any::<u8>(),
        script in proptest::collection::vec(any::<u8>(), 4..16),
    ) {
        let flags = (1 + u8::from(new_member)) << 2 | u8::from(path) << 1;
        commit_edited(&input(flags, pick, second, &script));
    }

    /// Edited proposals committed by value by the committer itself.
    #[test]
    fn edited_proposals_by_value(
        path in any::<bool>(),
        pick in any::<u8>(),
        script in proptest::collection::vec(any::<u8>(), 4..16),
    ) {
        commit_edited(&input(1 | u8::from(path) << 1, pick, 0, &script));
    }
}

/// The harness is live: every unedited template received from a member is committed (none
/// left out) and agreed on; by value, every one but the Update (a committer cannot commit
/// another member's Update by value) is committed, and the Adds' Welcomes are joined.
#[test]
fn unedited_templates_are_committed() {
    for pick in 0..none() {
        let is_add = matches!(template(pick), Proposal::Add(_));
        assert_eq!(
            commit_edited(&input(0, pick, none(), &[])),
            CommitRun::Committed {
                dropped: vec![],
                joined: is_add
            },
            "received template {pick}"
        );
        let by_value = commit_edited(&input(1, pick, 0, &[]));
        if pick == 1 {
            assert!(matches!(by_value, CommitRun::Refused(_)), "{by_value:?}");
        } else {
            assert_eq!(
                by_value,
                CommitRun::Committed {
                    dropped: vec![],
                    joined: is_add
                },
                "template {pick} by value"
            );
        }
    }
}

/// Two received proposals that cannot both be committed (a ReInit beside anything else; two
/// Adds of one client): one is left out and reported, and the commit goes through. The same
/// proposal sent twice is one proposal (one reference), so nothing is left out.
#[test]
fn conflicting_received_proposals_are_left_out() {
    for (first, second) in [(5, 2), (2, 5), (3, 5), (5, 0)] {
        let run = commit_edited(&input(0, first, second, &[]));
        assert!(
            matches!(&run, CommitRun::Committed { dropped, .. } if dropped.len() == 1),
            "templates {first} and {second}: {run:?}"
        );
    }
    for same in [0, 2] {
        let run = commit_edited(&input(0, same, same, &[]));
        assert!(
            matches!(&run, CommitRun::Committed { dropped, .. } if dropped.is_empty()),
            "{run:?}"
        );
    }
    // An edited KeyPackage of Dave's beside his original one: R5 (one Add per client).
    let two_adds = group::sample_scripts(0xadd5, 200)
        .iter()
        .filter(|script| {
            matches!(
                commit_edited(&input(0, 0, 0, script)),
                CommitRun::Committed { dropped, .. } if dropped.len() == 1
            )
        })
        .count();
    assert!(
        two_adds > 0,
        "no edited Add was left out beside the original"
    );
}

/// A fixed sample of edits reaches each outcome: refusals of the committer's own proposals,
/// received proposals left out of the commit, and Welcomes joined for edited KeyPackages.
#[test]
fn edits_reach_each_outcome() {
    let mut refused = 0;
    let mut dropped = 0;
    let mut joined_edited = 0;
    for (i, script) in group::sample_scripts(0x5151_7e57, 600).iter().enumerate() {
        let pick = u8::try_from(i % usize::from(none())).unwrap();
        let flags = u8::try_from(i % 4).unwrap();
        match commit_edited(&input(flags, pick, none(), script)) {
            CommitRun::Refused(_) => refused += 1,
            CommitRun::Committed { dropped: d, joined } => {
                dropped += d.len();
                joined_edited += usize::from(joined && matches!(template(pick), Proposal::Add(_)));
            }
            CommitRun::Undecodable => {}
        }
    }
    assert!(refused > 10, "by-value refusals: {refused}");
    assert!(dropped > 10, "received proposals left out: {dropped}");
    assert!(joined_edited > 0, "no edited KeyPackage was joined");
}

/// A member proposes a PSK the committer does not hold: the committer leaves it out (with
/// the reason) and commits the rest, where it used to fail the whole commit, so that one
/// member could stop every commit of the epoch.
#[test]
fn unknown_psk_received_is_left_out() {
    let Proposal::PreSharedKey(mut p) = template(3).clone() else {
        panic!("template 3 is a PreSharedKey")
    };
    p.psk.psk = Psk::External(ExternalPsk {
        psk_id: VarBytes(b"nobody has this".to_vec()),
    });
    let run = commit_proposals(
        false,
        false,
        vec![Proposal::PreSharedKey(p), template(2).clone()],
    );
    let CommitRun::Committed { dropped, .. } = run else {
        panic!("{run:?}")
    };
    assert!(
        matches!(
            dropped.as_slice(),
            [GroupError::Protocol(ProtocolError::Psk(_))]
        ),
        "{dropped:?}"
    );
}

/// A member proposes GroupContext extensions whose `required_capabilities` or
/// `external_senders` does not decode: the committer leaves the proposal out (it used to fail
/// the commit as `Malformed`), and a commit carrying it by value is refused as an invalid
/// proposal.
#[test]
fn undecodable_group_context_extensions_are_left_out() {
    for extension_type in [
        ExtensionType::REQUIRED_CAPABILITIES,
        ExtensionType::EXTERNAL_SENDERS,
    ] {
        let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec(vec![Extension {
                extension_type,
                extension_data: VarBytes(vec![0xff]),
            }]),
        });
        let expected = GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(InvalidProposal::MalformedExtension(
                extension_type.0,
            )),
        });
        let run = commit_proposals(false, true, vec![gce.clone()]);
        assert_eq!(
            run,
            CommitRun::Committed {
                dropped: vec![expected.clone()],
                joined: false
            }
        );
        assert_eq!(
            commit_proposals(true, true, vec![gce]),
            CommitRun::Refused(expected)
        );
    }
}

/// A ReInit's extensions become the new group's GroupContext extensions (RFC 9420 §11.2), so
/// they follow a GroupContextExtensions' rules: a type §17.3 does not register for the
/// GroupContext, a type twice, or a `required_capabilities` that does not decode is left out
/// when received and refused by value (OpenMLS refuses such a ReInit when it decodes it); a
/// list a GroupContext may carry is committed.
#[test]
fn a_reinits_extensions_follow_the_group_contexts_rules() {
    let typed = |t: u16, data: Vec<u8>| Extension {
        extension_type: ExtensionType(t),
        extension_data: VarBytes(data),
    };
    let reinit = |extensions: Vec<Extension>| {
        Proposal::ReInit(ReInit {
            group_id: VarBytes(b"next".to_vec()),
            version: ProtocolVersion::MLS10,
            cipher_suite: mls_engine::crypto::CipherSuite(1),
            extensions: VarVec(extensions),
        })
    };
    let app_id = typed(1, vec![3, b'a', b'p', b'p']);
    let private = typed(0xf0a0, vec![1]);
    let cases = [
        (
            vec![app_id],
            InvalidProposal::MisplacedExtension(ExtensionType::APPLICATION_ID.0),
        ),
        (
            vec![typed(ExtensionType::LAST_RESORT.0, vec![])],
            InvalidProposal::MisplacedExtension(ExtensionType::LAST_RESORT.0),
        ),
        (
            vec![private.clone(), private.clone()],
            InvalidProposal::DuplicateExtension(0xf0a0),
        ),
        (
            vec![typed(ExtensionType::REQUIRED_CAPABILITIES.0, vec![0xff])],
            InvalidProposal::MalformedExtension(ExtensionType::REQUIRED_CAPABILITIES.0),
        ),
    ];
    for (extensions, rule) in cases {
        let expected = GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(rule),
        });
        let sent = vec![reinit(extensions)];
        assert_eq!(
            commit_proposals(false, false, sent.clone()),
            CommitRun::Committed {
                dropped: vec![expected.clone()],
                joined: false
            }
        );
        assert_eq!(
            commit_proposals(true, false, sent),
            CommitRun::Refused(expected)
        );
    }
    let fit = vec![
        private,
        Extension::from_value(&RequiredCapabilities::default()).unwrap(),
    ];
    assert_eq!(
        commit_proposals(true, false, vec![reinit(fit)]),
        CommitRun::Committed {
            dropped: vec![],
            joined: false
        }
    );
}

/// Keys no one can encrypt to (X25519's all-zero point, of small order; a 33-byte key), in a
/// KeyPackage's init key or leaf, or in an Update's leaf: received from a member, they are left
/// out of the commit (they used to fail the commit adding them, or be accepted and then fail
/// every later commit that encrypts to the leaf); by value, they are refused.
#[test]
fn keys_no_one_can_encrypt_to_are_refused() {
    let f = commit_fixture();
    let leaf_error = |e: LeafNodeError| InvalidProposal::KeyPackage(KeyPackageError::LeafNode(e));
    let with_enc = |leaf: &LeafNode, key: Vec<u8>| {
        let mut tbs = leaf.to_be_signed(None).unwrap();
        tbs.encryption_key = mls_engine::crypto::HpkePublicKey::from(key);
        LeafNode::from_tbs(&tbs, leaf.signature()).unwrap()
    };
    let dave = &f.dave;
    let mut cases = Vec::new();
    for bad in [vec![0u8; 32], vec![9u8; 33]] {
        let mut kp = dave.key_package.clone();
        kp.init_key = mls_engine::crypto::HpkePublicKey::from(bad.clone());
        cases.push((
            Proposal::Add(Add {
                key_package: resign_key_package(kp, &dave.signature_private_key),
            }),
            InvalidProposal::KeyPackage(KeyPackageError::InvalidInitKey),
        ));
        let mut kp = dave.key_package.clone();
        kp.leaf_node = with_enc(&kp.leaf_node, bad.clone());
        cases.push((
            Proposal::Add(Add {
                key_package: resign_key_package(kp, &dave.signature_private_key),
            }),
            leaf_error(LeafNodeError::InvalidEncryptionKey),
        ));
        let Proposal::Update(u) = template(1).clone() else {
            panic!("template 1 is an Update")
        };
        let leaf = resign_leaf(
            with_enc(&u.leaf_node, bad),
            &f.proposer_key,
            f.proposer.group_id(),
            f.proposer.own_leaf(),
        );
        cases.push((
            Proposal::Update(Update { leaf_node: leaf }),
            InvalidProposal::Update {
                leaf: f.proposer.own_leaf(),
                reason: LeafNodeError::InvalidEncryptionKey.to_string(),
            },
        ));
    }
    for (proposal, why) in cases {
        let expected = GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(why),
        });
        let run = commit_proposals(false, true, vec![proposal.clone()]);
        assert_eq!(
            run,
            CommitRun::Committed {
                dropped: vec![expected.clone()],
                joined: false
            },
            "{proposal:?}"
        );
        if !matches!(proposal, Proposal::Update(_)) {
            assert_eq!(
                commit_proposals(true, true, vec![proposal]),
                CommitRun::Refused(expected)
            );
        }
    }
}

/// Unedited templates from the external sender: everything but the Update (which §12.1.8
/// forbids an external sender, so both members refuse it on receipt and the commit is empty)
/// is committed; the new member's own Add is committed and joined.
#[test]
fn proposals_from_non_members_are_committed() {
    for pick in 0..none() {
        let run = commit_proposals_from(
            ProposalSender::External,
            false,
            true,
            vec![template(pick).clone()],
        );
        assert_eq!(
            run,
            CommitRun::Committed {
                dropped: vec![],
                joined: matches!(template(pick), Proposal::Add(_))
            },
            "template {pick}"
        );
    }
    assert_eq!(
        commit_proposals_from(
            ProposalSender::NewMember,
            false,
            false,
            vec![template(0).clone()]
        ),
        CommitRun::Committed {
            dropped: vec![],
            joined: true
        }
    );
}

/// The fuzzer's first crash (a harness error, mended): a received Remove edited to remove the
/// receiver, beside Dave's Add, which then takes the receiver's leaf. The receiver learns it
/// was removed and is no longer active; it does not learn the new epoch's secrets.
#[test]
fn a_removed_receiver_is_inactive() {
    let run = commit_edited(&[0xd4, 0xd4, 0x00, 0x00, 0x02, 0x09, 0x02]);
    assert_eq!(
        run,
        CommitRun::Committed {
            dropped: vec![],
            joined: true
        }
    );
}
