//! Group lifecycle and bad-input tests: every invalid input is refused with its own typed
//! error and leaves the group as it was (the next valid commit still applies).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::crypto::labels::sign_with_label;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use mls_engine::group::*;
use mls_engine::messages::*;
use mls_engine::tree_math::LeafIndex;

fn cs() -> &'static dyn CipherSuiteProvider {
    let p: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
    p.suite(CipherSuite(1)).unwrap()
}

fn config() -> GroupConfig {
    GroupConfig::default().at_time(1_000)
}

fn bundle(cs: &dyn CipherSuiteProvider, name: &str) -> KeyPackageBundle {
    let (sk, _) = cs.signature_generate().unwrap();
    generate_key_package(
        cs,
        Credential::basic(name),
        sk,
        KeyPackageOptions::new(0, u64::MAX),
    )
    .unwrap()
}

fn welcome_of(m: &MlsMessage) -> &Welcome {
    match &m.body {
        MlsMessageBody::Welcome(w) => w,
        _ => panic!("not a welcome"),
    }
}

/// Alice creates a group and adds `n - 1` members in one commit; they join by Welcome.
fn setup(cs: &dyn CipherSuiteProvider, n: usize) -> Vec<Group> {
    let alice = bundle(cs, "alice");
    let mut a = Group::create(cs, &alice, b"group".to_vec(), vec![], config()).unwrap();
    let others: Vec<KeyPackageBundle> = (1..n).map(|i| bundle(cs, &format!("m{i}"))).collect();
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
    let mut groups = vec![a];
    if let Some(w) = &out.welcome {
        for b in &others {
            let options = JoinOptions {
                config: config(),
                ..JoinOptions::default()
            };
            groups.push(Group::join(cs, welcome_of(w), b, options).unwrap());
        }
    }
    assert_agree(&groups);
    groups
}

fn assert_agree(groups: &[Group]) {
    let first = groups[0].epoch_authenticator().clone();
    for g in groups {
        assert_eq!(
            g.epoch_authenticator(),
            &first,
            "epoch authenticators differ"
        );
        assert_eq!(g.epoch(), groups[0].epoch());
    }
}

/// Member `from` commits with `options`; everyone else processes; all merge.
fn commit_all(
    cs: &dyn CipherSuiteProvider,
    groups: &mut [Group],
    from: usize,
    options: CommitOptions,
) {
    let out = groups[from].commit(cs, options).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == from || !g.is_active() {
            continue;
        }
        match g.process_message(cs, &out.commit).unwrap() {
            ProcessedMessage::Commit(s) => g.merge_staged_commit(*s).unwrap(),
            _ => panic!("not a commit"),
        }
    }
    groups[from].merge_staged_commit(out.staged).unwrap();
}

/// A proposal sent by `from` and delivered to everyone else.
fn propose_all(cs: &dyn CipherSuiteProvider, groups: &mut [Group], from: usize, msg: &MlsMessage) {
    for (i, g) in groups.iter_mut().enumerate() {
        if i != from {
            assert!(matches!(
                g.process_message(cs, msg).unwrap(),
                ProcessedMessage::Proposal(_)
            ));
        }
    }
}

fn forced() -> CommitOptions {
    CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    }
}

/// The group still works: one more path commit applies for everyone.
fn still_works(cs: &dyn CipherSuiteProvider, groups: &mut [Group]) {
    commit_all(cs, groups, 0, forced());
    assert_agree(groups);
}

fn rule_of(e: GroupError) -> ProposalRule {
    match e {
        GroupError::Protocol(ProtocolError::Proposal { rule, .. }) => rule,
        other => panic!("expected a proposal rule, got {other:?}"),
    }
}

fn commit_err(cs: &dyn CipherSuiteProvider, g: &Group, proposals: Vec<Proposal>) -> ProposalRule {
    rule_of(
        g.commit(
            cs,
            CommitOptions {
                proposals,
                include_pending: false,
                ..CommitOptions::default()
            },
        )
        .unwrap_err(),
    )
}

#[test]
fn lifecycle() {
    let cs = cs();
    let mut g = setup(cs, 4);
    // Commits with and without path from several members.
    commit_all(cs, &mut g, 1, forced());
    assert_agree(&g);
    commit_all(cs, &mut g, 2, forced());
    assert_agree(&g);
    // Update by reference, committed by another member.
    let (m, _) = g[2].propose_update(cs).unwrap();
    propose_all(cs, &mut g, 2, &m);
    commit_all(cs, &mut g, 3, CommitOptions::default());
    assert_agree(&g);
    // PSK (external), committed without path.
    for x in g.iter_mut() {
        x.add_external_psk(b"ext".to_vec(), Secret::from_slice(&[7; 32]));
    }
    let (m, _) = g[0].propose_external_psk(cs, b"ext".to_vec()).unwrap();
    propose_all(cs, &mut g, 0, &m);
    commit_all(cs, &mut g, 1, CommitOptions::default());
    assert_agree(&g);
    // GroupContextExtensions.
    let ext = Extension::from_value(&ApplicationId(VarBytes(b"app".to_vec()))).unwrap();
    let (m, _) = g[1]
        .propose_group_context_extensions(cs, vec![ext])
        .unwrap();
    propose_all(cs, &mut g, 1, &m);
    commit_all(cs, &mut g, 2, CommitOptions::default());
    assert_agree(&g);
    // Application data and exporter agreement.
    let ct = g[0].encrypt_application(cs, b"hello", b"").unwrap();
    match g[3].process_message(cs, &ct).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"hello"),
        _ => panic!("not application"),
    }
    let e0 = g[0].export_secret(cs, "label", b"ctx", 32).unwrap();
    for x in &g {
        assert_eq!(x.export_secret(cs, "label", b"ctx", 32).unwrap(), e0);
    }
    // Serialise mid-life and continue.
    let bytes = g[3].to_bytes().unwrap();
    g[3] = Group::from_bytes(cs, &bytes).unwrap();
    let mut bad = bytes.clone();
    bad[1] = 9;
    assert_eq!(
        Group::from_bytes(cs, &bad).unwrap_err(),
        GroupError::Malformed(MalformedError::UnknownStateVersion(9))
    );
    commit_all(cs, &mut g, 3, forced());
    assert_agree(&g);
    // Remove.
    let (m, _) = g[0].propose_remove(cs, LeafIndex(3)).unwrap();
    propose_all(cs, &mut g, 0, &m);
    commit_all(cs, &mut g, 1, CommitOptions::default());
    assert!(!g[3].is_active());
    g.truncate(3);
    assert_agree(&g);

    // External commit, then resync (the same joiner removing its prior leaf).
    let gi = match g[0].group_info(cs, true).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!(),
    };
    let (sk, _) = cs.signature_generate().unwrap();
    let ext_opts = || ExternalCommitOptions {
        config: config(),
        ..ExternalCommitOptions::default()
    };
    let (joined, commit) =
        Group::join_by_external_commit(cs, &gi, Credential::basic("eve"), sk.clone(), ext_opts())
            .unwrap();
    for x in g.iter_mut() {
        match x.process_message(cs, &commit).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!(),
        }
    }
    let eve_leaf = joined.own_leaf();
    g.push(joined);
    assert_agree(&g);
    let gi = match g[0].group_info(cs, true).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!(),
    };
    let (rejoined, commit) = Group::join_by_external_commit(
        cs,
        &gi,
        Credential::basic("eve"),
        sk,
        ExternalCommitOptions {
            remove_prior_leaf: Some(eve_leaf),
            ..ext_opts()
        },
    )
    .unwrap();
    for x in g.iter_mut().take(3) {
        match x.process_message(cs, &commit).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!(),
        }
    }
    g[3] = rejoined;
    assert_agree(&g);
    still_works(cs, &mut g);

    // Branch: a subgroup of members 0 and 1 bound by a branch PSK.
    let b0 = bundle(cs, "alice-branch");
    let b1 = bundle(cs, "m1-branch");
    let (branch, welcome) = g[0]
        .branch(
            cs,
            &b0,
            vec![b1.key_package.clone()],
            config(),
            b"branch".to_vec(),
        )
        .unwrap();
    let joined = Group::join(
        cs,
        welcome_of(&welcome),
        &b1,
        JoinOptions {
            config: config(),
            resumption_psks: vec![g[1].resumption_psk_entry()],
            ..JoinOptions::default()
        },
    )
    .unwrap();
    assert_agree(&[branch, joined]);

    // ReInit to a new group.
    let ri = ReInit {
        group_id: VarBytes(b"group-2".to_vec()),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        extensions: VarVec::default(),
    };
    commit_all(
        cs,
        &mut g,
        0,
        CommitOptions {
            proposals: vec![Proposal::ReInit(ri)],
            ..CommitOptions::default()
        },
    );
    assert!(g
        .iter()
        .all(|x| x.pending_reinit().is_some() && !x.is_active()));
    let n0 = bundle(cs, "alice-2");
    let n1 = bundle(cs, "m1-2");
    let (new, welcome) = g[0]
        .reinit(cs, &n0, vec![n1.key_package.clone()], config())
        .unwrap();
    let joined = Group::join(
        cs,
        welcome_of(&welcome),
        &n1,
        JoinOptions {
            config: config(),
            resumption_psks: vec![g[1].resumption_psk_entry()],
            ..JoinOptions::default()
        },
    )
    .unwrap();
    assert_eq!(new.group_id(), b"group-2");
    assert_agree(&[new, joined]);
}

#[test]
fn commit_for_wrong_epoch() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let out = g[0].commit(cs, forced()).unwrap();
    let ProcessedMessage::Commit(s) = g[1].process_message(cs, &out.commit).unwrap() else {
        panic!()
    };
    g[1].merge_staged_commit(*s).unwrap();
    g[0].merge_staged_commit(out.staged).unwrap();
    let err = g[1].process_message(cs, &out.commit).unwrap_err();
    assert!(matches!(
        err,
        GroupError::Protocol(ProtocolError::WrongEpoch {
            expected: 2,
            got: 1
        })
    ));
    still_works(cs, &mut g);
}

#[test]
fn proposal_rules() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let a = &g[0];
    let own_leaf = a.member(LeafIndex(0)).unwrap().clone();
    // R2: an Update from the committer.
    let mut upd = own_leaf.clone();
    upd.leaf_node_source = LeafNodeSource::Update;
    assert_eq!(
        commit_err(cs, a, vec![Proposal::Update(Update { leaf_node: upd })]),
        ProposalRule::UpdateByCommitter
    );
    // R3: removing the committer.
    assert_eq!(
        commit_err(cs, a, vec![Proposal::Remove(Remove { removed: 0 })]),
        ProposalRule::RemovesCommitter
    );
    // R4: two Removes of one leaf.
    let rm = Proposal::Remove(Remove { removed: 1 });
    assert_eq!(
        commit_err(cs, a, vec![rm.clone(), rm]),
        ProposalRule::DuplicateUpdateOrRemove(LeafIndex(1))
    );
    // R5: the same KeyPackage offered twice.
    let kp = bundle(cs, "x").key_package;
    let add = Proposal::Add(Add { key_package: kp });
    assert_eq!(
        commit_err(cs, a, vec![add.clone(), add]),
        ProposalRule::DuplicateAdd
    );
    // R6: a client already in the group (same signature key as member 1).
    let member1_key = g[1].member(LeafIndex(1)).unwrap().signature_key.clone();
    let _ = member1_key;
    let dup = {
        // Member 1's own signer makes a second KeyPackage.
        let b = bundle(cs, "m1-again");
        let mut kp = b.key_package;
        kp.leaf_node.signature_key = g[1].member(LeafIndex(1)).unwrap().signature_key.clone();
        kp
    };
    let rule = commit_err(cs, a, vec![Proposal::Add(Add { key_package: dup })]);
    assert!(
        matches!(
            rule,
            ProposalRule::InvalidProposal(_) | ProposalRule::AddExistingMember { .. }
        ),
        "{rule:?}"
    );
    // R7: the same PreSharedKeyID twice.
    g[0].add_external_psk(b"p".to_vec(), Secret::from_slice(&[1; 32]));
    let a = &g[0];
    let psk = Proposal::PreSharedKey(PreSharedKey {
        psk: PreSharedKeyId {
            psk: Psk::External(ExternalPsk {
                psk_id: VarBytes(b"p".to_vec()),
            }),
            psk_nonce: VarBytes(vec![3; 32]),
        },
    });
    assert_eq!(
        commit_err(cs, a, vec![psk.clone(), psk]),
        ProposalRule::DuplicatePsk
    );
    // R8: two GroupContextExtensions.
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec::default(),
    });
    assert_eq!(
        commit_err(cs, a, vec![gce.clone(), gce]),
        ProposalRule::MultipleGroupContextExtensions
    );
    // R9: a ReInit with another proposal.
    let ri = Proposal::ReInit(ReInit {
        group_id: VarBytes(b"n".to_vec()),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        extensions: VarVec::default(),
    });
    assert_eq!(
        commit_err(cs, a, vec![ri, Proposal::Remove(Remove { removed: 1 })]),
        ProposalRule::ReInitNotAlone
    );
    // R10: an ExternalInit in a member commit.
    let ei = Proposal::ExternalInit(ExternalInit {
        kem_output: VarBytes(vec![1; 32]),
    });
    assert_eq!(
        commit_err(cs, a, vec![ei]),
        ProposalRule::ExternalInitInMemberCommit
    );
    // R11: an unknown proposal type no member supports.
    let unknown = Proposal::Unknown {
        proposal_type: ProposalType(0x7777),
        body: VarBytes(vec![]),
    };
    assert_eq!(
        commit_err(cs, a, vec![unknown]),
        ProposalRule::UnsupportedProposalType(0x7777)
    );
    // R1: a Remove of a blank leaf.
    assert!(matches!(
        commit_err(cs, a, vec![Proposal::Remove(Remove { removed: 9 })]),
        ProposalRule::InvalidProposal(InvalidProposal::RemoveBlankLeaf(LeafIndex(9)))
    ));
    still_works(cs, &mut g);
}

#[test]
fn key_package_init_key_equals_encryption_key() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let b = bundle(cs, "x");
    let mut kp = b.key_package;
    kp.init_key = kp.leaf_node.encryption_key.clone();
    let tbs = kp.to_be_signed();
    kp.signature = VarBytes(
        sign_with_label(
            cs,
            &b.signature_private_key,
            "KeyPackageTBS",
            &mls_engine::codec::encode(&tbs).unwrap(),
        )
        .unwrap(),
    );
    assert_eq!(
        validate_key_package(cs, &kp, mls_engine::tree::LifetimePolicy::Ignore).unwrap_err(),
        KeyPackageError::InitKeyEqualsEncryptionKey
    );
    assert_eq!(
        commit_err(cs, &g[0], vec![Proposal::Add(Add { key_package: kp })]),
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(
            KeyPackageError::InitKeyEqualsEncryptionKey
        ))
    );
    still_works(cs, &mut g);
}

/// Re-frames member 0's commit with a modified body (validly signed and tagged for
/// membership) and delivers it to member 1.
fn tampered(
    cs: &dyn CipherSuiteProvider,
    g: &[Group],
    edit: impl FnOnce(&mut Commit),
    tag: Option<Mac>,
) -> GroupError {
    let out = g[0].commit(cs, forced()).unwrap();
    let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
        panic!()
    };
    let mut content = pm.content.clone();
    let FramedContentBody::Commit(c) = &mut content.body else {
        panic!()
    };
    edit(c);
    let tag = tag.or(pm.auth.confirmation_tag.clone());
    let msg = g[0].sign_and_frame_for_tests(cs, content, tag).unwrap();
    let mut g1 = g[1].clone();
    g1.process_message(cs, &msg).unwrap_err()
}

#[test]
fn bad_update_paths_and_confirmation_tag() {
    let cs = cs();
    let mut g = setup(cs, 4);
    // Derived keys do not match what the path claims (a path node key replaced).
    let (_, fresh) = cs.kem_generate().unwrap();
    let err = tampered(
        cs,
        &g,
        |c| c.path.as_mut().unwrap().nodes[0].encryption_key = fresh,
        None,
    );
    assert!(
        matches!(err, GroupError::Protocol(ProtocolError::Tree(_))),
        "{err:?}"
    );
    // A path node reusing an HPKE key already in the tree (member 2's leaf key).
    let reused = g[0].member(LeafIndex(2)).unwrap().encryption_key.clone();
    let err = tampered(
        cs,
        &g,
        |c| c.path.as_mut().unwrap().nodes[0].encryption_key = reused,
        None,
    );
    assert!(
        matches!(err, GroupError::Protocol(ProtocolError::ReusedPathKey(_))),
        "{err:?}"
    );
    // A wrong confirmation tag.
    let err = tampered(cs, &g, |_| {}, Some(Mac(VarBytes(vec![0; 32]))));
    assert_eq!(err, GroupError::Protocol(ProtocolError::ConfirmationTag));
    // A commit without the path it needs (it removes a member).
    let err = tampered(
        cs,
        &g,
        |c| {
            c.path = None;
            c.proposals = VarVec(vec![ProposalOrRef::Proposal(Proposal::Remove(Remove {
                removed: 3,
            }))]);
        },
        None,
    );
    assert_eq!(rule_of(err), ProposalRule::PathRequired);
    still_works(cs, &mut g);
}

#[test]
fn bad_welcomes() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let before = g[0].tree().to_wire();
    let c = bundle(cs, "carol");
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: c.key_package.clone(),
                })],
                ratchet_tree_in_welcome: false,
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let w = welcome_of(out.welcome.as_ref().unwrap());
    let join = |tree: Option<RatchetTree>| {
        Group::join(
            cs,
            w,
            &c,
            JoinOptions {
                config: config(),
                ratchet_tree: tree,
                ..JoinOptions::default()
            },
        )
    };
    // No tree at all.
    assert_eq!(
        join(None).unwrap_err(),
        GroupError::Protocol(ProtocolError::Welcome(JoinCheck::NoRatchetTree))
    );
    // The tree of the previous epoch: its hash is not the GroupContext's.
    assert_eq!(
        join(Some(before)).unwrap_err(),
        GroupError::Protocol(ProtocolError::Welcome(JoinCheck::TreeHash))
    );
    // A parent hash that does not verify.
    let mut staged_tree = {
        let mut x = g[0].clone();
        x.merge_staged_commit(out.staged).unwrap();
        x.tree().to_wire()
    };
    for n in staged_tree.0.iter_mut() {
        if let Some(Node::Parent(p)) = n {
            p.parent_hash = VarBytes(vec![0xAA; 32]);
        }
    }
    let err = join(Some(staged_tree)).unwrap_err();
    assert!(
        matches!(err, GroupError::Protocol(ProtocolError::TreeValidation(_))),
        "{err:?}"
    );
    still_works(cs, &mut g);
}

#[test]
fn external_commit_with_two_external_inits() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let gi = match g[0].group_info(cs, true).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!(),
    };
    let (sk, _) = cs.signature_generate().unwrap();
    let (_, commit) = Group::join_by_external_commit(
        cs,
        &gi,
        Credential::basic("eve"),
        sk.clone(),
        ExternalCommitOptions {
            config: config(),
            ..ExternalCommitOptions::default()
        },
    )
    .unwrap();
    let MlsMessageBody::PublicMessage(pm) = commit.body else {
        panic!()
    };
    let mut content = pm.content.clone();
    let FramedContentBody::Commit(c) = &mut content.body else {
        panic!()
    };
    let first = c.proposals[0].clone();
    c.proposals.push(first);
    let tbs = FramedContentTbs {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: content.clone(),
        context: Some(g[0].context().clone()),
    };
    let sig = sign_with_label(
        cs,
        &sk,
        "FramedContentTBS",
        &mls_engine::codec::encode(&tbs).unwrap(),
    )
    .unwrap();
    let forged = MlsMessage::new(MlsMessageBody::PublicMessage(PublicMessage {
        content,
        auth: FramedContentAuthData {
            signature: VarBytes(sig),
            confirmation_tag: pm.auth.confirmation_tag,
        },
        membership_tag: None,
    }));
    let err = g[1].process_message(cs, &forged).unwrap_err();
    assert_eq!(rule_of(err), ProposalRule::ExternalInitCount(2));
    still_works(cs, &mut g);
}

/// RFC 9420 §12.4: with a proposal pending (sent or received), application data is refused
/// until a commit; after the commit it flows again.
#[test]
fn application_data_refused_while_proposals_pending() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let (m, _) = g[0].propose_update(cs).unwrap();
    propose_all(cs, &mut g, 0, &m);
    for x in g.iter_mut() {
        assert_eq!(
            x.encrypt_application(cs, b"too early", b"").unwrap_err(),
            GroupError::Misuse(MisuseError::CommitRequired)
        );
    }
    commit_all(cs, &mut g, 1, CommitOptions::default());
    let ct = g[0].encrypt_application(cs, b"now", b"").unwrap();
    assert!(matches!(
        g[1].process_message(cs, &ct).unwrap(),
        ProcessedMessage::Application { .. }
    ));
}
