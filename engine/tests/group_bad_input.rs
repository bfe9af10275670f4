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

/// The Welcome a commit built, decoded (to alter it or join from the decoded form).
fn welcome_of(m: &WelcomeMessage) -> Welcome {
    match m.to_message().unwrap().body {
        MlsMessageBody::Welcome(w) => w,
        _ => panic!("not a welcome"),
    }
}

/// Alice creates a group and adds `n - 1` members in one commit; they join by Welcome.
fn setup(cs: &dyn CipherSuiteProvider, n: usize) -> Vec<Group> {
    setup_b(cs, n).0
}

/// [`setup`], also returning every member's KeyPackage bundle (signature keys included).
fn setup_b(cs: &dyn CipherSuiteProvider, n: usize) -> (Vec<Group>, Vec<KeyPackageBundle>) {
    let alice = bundle(cs, "alice");
    let others: Vec<KeyPackageBundle> = (1..n).map(|i| bundle(cs, &format!("m{i}"))).collect();
    setup_from(cs, alice, others)
}

/// `alice` creates a group and adds `others` in one commit, merged; returns her group and the
/// commit's Welcome.
fn create_adding(
    cs: &dyn CipherSuiteProvider,
    alice: &KeyPackageBundle,
    others: &[KeyPackageBundle],
) -> (Group, Option<WelcomeMessage>) {
    let mut a = Group::create(cs, alice, b"group".to_vec(), vec![], config()).unwrap();
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
    (a, out.welcome)
}

/// A group created by `alice`'s bundle, with `others` added in one commit.
fn setup_from(
    cs: &dyn CipherSuiteProvider,
    alice: KeyPackageBundle,
    others: Vec<KeyPackageBundle>,
) -> (Vec<Group>, Vec<KeyPackageBundle>) {
    let (a, welcome) = create_adding(cs, &alice, &others);
    let mut groups = vec![a];
    if let Some(w) = &welcome {
        for b in others.iter() {
            let options = JoinOptions {
                config: config(),
                ..JoinOptions::default()
            };
            groups.push(Group::join(cs, w, b, options).unwrap());
        }
    }
    assert_agree(&groups);
    let mut bundles = vec![alice];
    bundles.extend(others);
    (groups, bundles)
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
        match g.process_message(cs, out.commit.clone()).unwrap() {
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
                g.process_message(cs, msg.clone()).unwrap(),
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
    // GroupContextExtensions (application_id belongs in a LeafNode, not here: RFC 9420 §17.3).
    let ext = Extension::from_value(&RequiredCapabilities {
        credential_types: VarVec(vec![CredentialType::BASIC]),
        ..RequiredCapabilities::default()
    })
    .unwrap();
    let (m, _) = g[1]
        .propose_group_context_extensions(cs, vec![ext])
        .unwrap();
    propose_all(cs, &mut g, 1, &m);
    commit_all(cs, &mut g, 2, CommitOptions::default());
    assert_agree(&g);
    // Application data and exporter agreement.
    let ct = g[0].encrypt_application(cs, b"hello", b"").unwrap();
    match g[3].process_message(cs, ct).unwrap() {
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
        match x.process_message(cs, commit.clone()).unwrap() {
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
        match x.process_message(cs, commit.clone()).unwrap() {
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
        &welcome,
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
        &welcome,
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
    let ProcessedMessage::Commit(s) = g[1].process_message(cs, out.commit.clone()).unwrap() else {
        panic!()
    };
    g[1].merge_staged_commit(*s).unwrap();
    g[0].merge_staged_commit(out.staged).unwrap();
    let err = g[1].process_message(cs, out.commit).unwrap_err();
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
    let upd = own_leaf.edited(|t| t.leaf_node_source = LeafNodeSource::Update);
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
    let member1_key = g[1].member(LeafIndex(1)).unwrap().signature_key().to_vec();
    let _ = member1_key;
    let dup = {
        // Member 1's own signer makes a second KeyPackage.
        let b = bundle(cs, "m1-again");
        let mut kp = b.key_package;
        let theirs = g[1].member(LeafIndex(1)).unwrap().signature_key().into();
        kp.leaf_node = kp.leaf_node.edited(|t| t.signature_key = theirs);
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
    kp.init_key = kp.leaf_node.encryption_key().into();
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
    g1.process_message(cs, msg).unwrap_err()
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
    let reused: mls_engine::crypto::HpkePublicKey =
        g[0].member(LeafIndex(2)).unwrap().encryption_key().into();
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
    let w = &welcome_of(out.welcome.as_ref().unwrap());
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
    let err = g[1].process_message(cs, forged).unwrap_err();
    assert_eq!(rule_of(err), ProposalRule::ExternalInitCount(2));
    still_works(cs, &mut g);
}

// ---------------------------------------------------------------------------------------
// Receiving side (RFC 9420 §12.2, §12.4.2): forged commits that pass signature and
// membership checks, one per rule, each refused with its own error and without any change
// to the receiver.
// ---------------------------------------------------------------------------------------

/// Member `from`'s valid path commit with its proposal list replaced by `proposals`,
/// re-signed and re-MACed by `from` (the confirmation tag is the original one, checked only
/// after the proposal list).
fn forge(
    cs: &dyn CipherSuiteProvider,
    g: &[Group],
    from: usize,
    proposals: Vec<ProposalOrRef>,
) -> MlsMessage {
    let out = g[from]
        .commit(
            cs,
            CommitOptions {
                include_pending: false,
                ..forced()
            },
        )
        .unwrap();
    let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
        panic!()
    };
    let mut content = pm.content.clone();
    let FramedContentBody::Commit(c) = &mut content.body else {
        panic!()
    };
    c.proposals = VarVec(proposals);
    g[from]
        .sign_and_frame_for_tests(cs, content, pm.auth.confirmation_tag.clone())
        .unwrap()
}

fn by_value(ps: Vec<Proposal>) -> Vec<ProposalOrRef> {
    ps.into_iter().map(ProposalOrRef::Proposal).collect()
}

/// Delivers `msg` to `g`, expects a refusal, and checks the group is byte-for-byte (and
/// epoch-authenticator) unchanged.
fn refused(cs: &dyn CipherSuiteProvider, g: &mut Group, msg: &MlsMessage) -> GroupError {
    let before = g.to_bytes().unwrap();
    let auth = g.epoch_authenticator().clone();
    let epoch = g.epoch();
    let err = g.process_message(cs, msg.clone()).unwrap_err();
    assert_eq!(
        g.to_bytes().unwrap(),
        before,
        "state changed by refused {err:?}"
    );
    assert_eq!(g.epoch_authenticator(), &auth);
    assert_eq!(g.epoch(), epoch);
    // The same message as received bytes (when it has an encoding at all): the same error,
    // the group unchanged. A message whose encoding does not decode back is refused as
    // malformed.
    if let Ok(bytes) = msg.to_bytes() {
        let from_bytes = g.process_message_bytes(cs, &bytes).unwrap_err();
        if MlsMessage::from_bytes(&bytes).is_ok() {
            assert_eq!(from_bytes, err, "the entry points disagree");
        } else {
            let malformed = matches!(from_bytes, GroupError::Malformed(_));
            assert!(malformed, "{from_bytes:?}");
        }
        assert_eq!(g.to_bytes().unwrap(), before);
    }
    err
}

/// A forged member commit from 0 with `proposals` (by value), refused by member 1; the
/// group then still accepts a valid commit. Returns the rule and the proposal index.
fn receive_rule(
    cs: &dyn CipherSuiteProvider,
    g: &mut [Group],
    proposals: Vec<Proposal>,
) -> (Option<usize>, ProposalRule) {
    let msg = forge(cs, g, 0, by_value(proposals));
    match refused(cs, &mut g[1], &msg) {
        GroupError::Protocol(ProtocolError::Proposal { index, rule }) => (index, rule),
        other => panic!("expected a proposal rule, got {other:?}"),
    }
}

#[test]
fn bad_signatures_among_many_adds_name_the_first_bad_add() {
    // 150 Adds: their 300 signatures are verified in several batches. A bad signature anywhere
    // fails its batch; the verdicts then come from one-by-one checks, in list order.
    let cs = cs();
    let mut g = setup(cs, 3);
    let bundles: Vec<KeyPackageBundle> =
        (0..150).map(|i| bundle(cs, &format!("new {i}"))).collect();
    let kps: Vec<KeyPackage> = bundles.iter().map(|b| b.key_package.clone()).collect();
    let adds = |kps: &[KeyPackage]| -> Vec<Proposal> {
        kps.iter()
            .map(|kp| {
                Proposal::Add(Add {
                    key_package: kp.clone(),
                })
            })
            .collect()
    };
    // The KeyPackage's own signature (§10.1), then its LeafNode's (§7.3), then both at once
    // in two packages: the lower index is named, with its own error.
    let mut bad_kp = kps.clone();
    bad_kp[137].signature.0[3] ^= 1;
    let (i, rule) = receive_rule(cs, &mut g, adds(&bad_kp));
    assert_eq!(i, Some(137));
    assert_eq!(
        rule,
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(KeyPackageError::Signature))
    );
    // A bad leaf signature under a good KeyPackage signature (re-signed over the bad leaf).
    let leaf_bad = |i: usize| -> KeyPackage {
        let mut kp = kps[i].clone();
        let mut sig = kp.leaf_node.signature().to_vec();
        sig[40] ^= 2;
        kp.leaf_node = LeafNode::from_tbs(&kp.leaf_node.to_be_signed(None).unwrap(), &sig).unwrap();
        let tbs = mls_engine::codec::encode(&kp.to_be_signed()).unwrap();
        let sk = &bundles[i].signature_private_key;
        kp.signature = VarBytes(sign_with_label(cs, sk, "KeyPackageTBS", &tbs).unwrap());
        kp
    };
    let mut bad_leaf = kps.clone();
    bad_leaf[70] = leaf_bad(70);
    let (i, rule) = receive_rule(cs, &mut g, adds(&bad_leaf));
    assert_eq!(i, Some(70));
    assert_eq!(
        rule,
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(KeyPackageError::LeafNode(
            LeafNodeError::Signature
        )))
    );
    let mut both = kps.clone();
    both[149].signature.0[0] ^= 1;
    both[5] = leaf_bad(5);
    let (i, _) = receive_rule(cs, &mut g, adds(&both));
    assert_eq!(i, Some(5));
    // The same 150 packages unaltered are accepted by the same member.
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: adds(&kps),
                ..CommitOptions::default()
            },
        )
        .unwrap();
    match g[1].process_message(cs, out.commit).unwrap() {
        ProcessedMessage::Commit(s) => g[1].merge_staged_commit(*s).unwrap(),
        _ => panic!("not a commit"),
    }
    assert_eq!(g[1].member_count(), 153);
}

/// Re-signs a KeyPackage (its leaf and the package) with `sk`, after edits.
fn resign_kp(cs: &dyn CipherSuiteProvider, kp: &mut KeyPackage, sk: &Secret) {
    let content = kp.leaf_node.to_be_signed(None).unwrap();
    kp.leaf_node = sign_leaf(cs, content, sk, &[], LeafIndex(0)).unwrap();
    let tbs = mls_engine::codec::encode(&kp.to_be_signed()).unwrap();
    kp.signature = VarBytes(sign_with_label(cs, sk, "KeyPackageTBS", &tbs).unwrap());
}

#[test]
fn receive_r1_invalid_proposal() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let (i, rule) = receive_rule(cs, &mut g, vec![Proposal::Remove(Remove { removed: 9 })]);
    assert_eq!(i, Some(0));
    assert_eq!(
        rule,
        ProposalRule::InvalidProposal(InvalidProposal::RemoveBlankLeaf(LeafIndex(9)))
    );
    // A KeyPackage whose signature does not verify.
    let mut kp = bundle(cs, "x").key_package;
    kp.signature = VarBytes(vec![0; 64]);
    let (_, rule) = receive_rule(cs, &mut g, vec![Proposal::Add(Add { key_package: kp })]);
    assert_eq!(
        rule,
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(KeyPackageError::Signature))
    );
    // A PreSharedKey whose nonce is not KDF.Nh bytes.
    let psk = Proposal::PreSharedKey(PreSharedKey {
        psk: PreSharedKeyId {
            psk: Psk::External(ExternalPsk {
                psk_id: VarBytes(b"p".to_vec()),
            }),
            psk_nonce: VarBytes(vec![3; 5]),
        },
    });
    let (_, rule) = receive_rule(cs, &mut g, vec![psk]);
    assert!(
        matches!(rule, ProposalRule::InvalidProposal(InvalidProposal::Psk(_))),
        "{rule:?}"
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_r2_update_by_committer() {
    let cs = cs();
    let (mut g, b) = setup_b(cs, 4);
    let mut content = g[0]
        .member(LeafIndex(0))
        .unwrap()
        .to_be_signed(None)
        .unwrap();
    let (_, pk) = cs.kem_generate().unwrap();
    content.encryption_key = pk;
    content.leaf_node_source = LeafNodeSource::Update;
    let gid = g[0].group_id().to_vec();
    let leaf = sign_leaf(cs, content, &b[0].signature_private_key, &gid, LeafIndex(0)).unwrap();
    let (i, rule) = receive_rule(
        cs,
        &mut g,
        vec![Proposal::Update(Update { leaf_node: leaf })],
    );
    assert_eq!((i, rule), (Some(0), ProposalRule::UpdateByCommitter));
    still_works(cs, &mut g);
}

#[test]
fn receive_r3_removes_committer() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let (i, rule) = receive_rule(cs, &mut g, vec![Proposal::Remove(Remove { removed: 0 })]);
    assert_eq!((i, rule), (Some(0), ProposalRule::RemovesCommitter));
    still_works(cs, &mut g);
}

#[test]
fn receive_r4_update_and_remove_same_leaf() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let rm = Proposal::Remove(Remove { removed: 2 });
    let (i, rule) = receive_rule(cs, &mut g, vec![rm.clone(), rm]);
    assert_eq!(
        (i, rule),
        (Some(1), ProposalRule::DuplicateUpdateOrRemove(LeafIndex(2)))
    );
    // An Update by reference (from member 2) and a Remove of member 2.
    let (m, _) = g[2].propose_update(cs).unwrap();
    propose_all(cs, &mut g, 2, &m);
    let r = g[1]
        .pending_proposals()
        .next()
        .unwrap()
        .proposal_ref
        .clone();
    let msg = forge(
        cs,
        &g,
        0,
        vec![
            ProposalOrRef::Reference(r),
            ProposalOrRef::Proposal(Proposal::Remove(Remove { removed: 2 })),
        ],
    );
    let err = refused(cs, &mut g[1], &msg);
    assert_eq!(
        rule_of(err),
        ProposalRule::DuplicateUpdateOrRemove(LeafIndex(2))
    );
    g[2].clear_pending_proposals();
    for x in g.iter_mut() {
        x.clear_pending_proposals();
    }
    still_works(cs, &mut g);
}

#[test]
fn receive_r5_duplicate_add() {
    let cs = cs();
    let mut g = setup(cs, 4);
    // Two different KeyPackages of one client (same signature key).
    let b = bundle(cs, "x");
    let kp1 = b.key_package.clone();
    let kp2 = generate_key_package(
        cs,
        Credential::basic("x"),
        b.signature_private_key.clone(),
        KeyPackageOptions::new(0, u64::MAX),
    )
    .unwrap()
    .key_package;
    let (i, rule) = receive_rule(
        cs,
        &mut g,
        vec![
            Proposal::Add(Add { key_package: kp1 }),
            Proposal::Add(Add { key_package: kp2 }),
        ],
    );
    assert_eq!((i, rule), (Some(1), ProposalRule::DuplicateAdd));
    still_works(cs, &mut g);
}

/// Gap: R6 with a validly signed KeyPackage that reuses member 1's signature key.
#[test]
fn receive_r6_add_existing_member_signature_key() {
    let cs = cs();
    let (mut g, b) = setup_b(cs, 4);
    let dup = generate_key_package(
        cs,
        Credential::basic("m1"),
        b[1].signature_private_key.clone(),
        KeyPackageOptions::new(0, u64::MAX),
    )
    .unwrap();
    validate_key_package(
        cs,
        &dup.key_package,
        mls_engine::tree::LifetimePolicy::Ignore,
    )
    .unwrap();
    let add = Proposal::Add(Add {
        key_package: dup.key_package.clone(),
    });
    let expected = ProposalRule::AddExistingMember {
        existing: LeafIndex(1),
    };
    // Receiving side (member 2 refuses member 0's forged commit).
    let msg = forge(cs, &g, 0, by_value(vec![add.clone()]));
    assert_eq!(rule_of(refused(cs, &mut g[2], &msg)), expected);
    // Sending side.
    assert_eq!(commit_err(cs, &g[0], vec![add.clone()]), expected);
    // With a Remove of the matching client the Add is valid (§12.2).
    commit_all(
        cs,
        &mut g,
        0,
        CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: 1 }), add],
            ..CommitOptions::default()
        },
    );
    assert!(!g[1].is_active());
    assert_eq!(
        g[0].member(LeafIndex(1)).unwrap().encryption_key(),
        dup.key_package.leaf_node.encryption_key()
    );
    g.remove(1);
    still_works(cs, &mut g);
}

/// Gap: a validly signed KeyPackage reusing member 2's encryption key breaks the tree (R12).
#[test]
fn receive_r12_add_reusing_encryption_key() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let b = bundle(cs, "x");
    let mut kp = b.key_package.clone();
    let taken = g[0].member(LeafIndex(2)).unwrap().encryption_key().into();
    kp.leaf_node = kp.leaf_node.edited(|t| t.encryption_key = taken);
    resign_kp(cs, &mut kp, &b.signature_private_key);
    validate_key_package(cs, &kp, mls_engine::tree::LifetimePolicy::Ignore).unwrap();
    let add = Proposal::Add(Add { key_package: kp });
    let expected = ProposalRule::InvalidTreeAfterCommit {
        leaf: LeafIndex(4),
        error: LeafNodeError::DuplicateEncryptionKey(mls_engine::tree_math::NodeIndex(4)),
    };
    let (i, rule) = receive_rule(cs, &mut g, vec![add.clone()]);
    assert_eq!((i, rule), (Some(0), expected.clone()));
    assert_eq!(commit_err(cs, &g[0], vec![add]), expected);
    still_works(cs, &mut g);
}

/// R12 through an Update (by reference) whose new leaf takes member 3's encryption key.
#[test]
fn receive_r12_update_reusing_encryption_key() {
    let cs = cs();
    let (mut g, b) = setup_b(cs, 4);
    let mut content = g[2]
        .member(LeafIndex(2))
        .unwrap()
        .to_be_signed(None)
        .unwrap();
    content.encryption_key = g[2].member(LeafIndex(3)).unwrap().encryption_key().into();
    content.leaf_node_source = LeafNodeSource::Update;
    let gid = g[2].group_id().to_vec();
    let leaf = sign_leaf(cs, content, &b[2].signature_private_key, &gid, LeafIndex(2)).unwrap();
    let (m, c) = g[2]
        .propose_unchecked_for_tests(cs, Proposal::Update(Update { leaf_node: leaf }))
        .unwrap();
    propose_all(cs, &mut g, 2, &m);
    let msg = forge(cs, &g, 0, vec![ProposalOrRef::Reference(c.proposal_ref)]);
    let err = refused(cs, &mut g[1], &msg);
    assert_eq!(
        rule_of(err),
        ProposalRule::InvalidTreeAfterCommit {
            leaf: LeafIndex(2),
            error: LeafNodeError::DuplicateEncryptionKey(mls_engine::tree_math::NodeIndex(6)),
        }
    );
    for x in g.iter_mut() {
        x.clear_pending_proposals();
    }
    still_works(cs, &mut g);
}

fn psk_proposal(id: &[u8]) -> Proposal {
    Proposal::PreSharedKey(PreSharedKey {
        psk: PreSharedKeyId {
            psk: Psk::External(ExternalPsk {
                psk_id: VarBytes(id.to_vec()),
            }),
            psk_nonce: VarBytes(vec![3; 32]),
        },
    })
}

#[test]
fn receive_r7_duplicate_psk() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let (i, rule) = receive_rule(cs, &mut g, vec![psk_proposal(b"p"), psk_proposal(b"p")]);
    assert_eq!((i, rule), (Some(1), ProposalRule::DuplicatePsk));
    still_works(cs, &mut g);
}

#[test]
fn receive_r8_two_group_context_extensions() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec::default(),
    });
    let (i, rule) = receive_rule(cs, &mut g, vec![gce.clone(), gce]);
    assert_eq!(
        (i, rule),
        (Some(1), ProposalRule::MultipleGroupContextExtensions)
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_r9_reinit_not_alone() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let ri = Proposal::ReInit(ReInit {
        group_id: VarBytes(b"n".to_vec()),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        extensions: VarVec::default(),
    });
    let (i, rule) = receive_rule(cs, &mut g, vec![psk_proposal(b"p"), ri]);
    assert_eq!((i, rule), (Some(1), ProposalRule::ReInitNotAlone));
    still_works(cs, &mut g);
}

#[test]
fn receive_r10_external_init_in_member_commit() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let ei = Proposal::ExternalInit(ExternalInit {
        kem_output: VarBytes(vec![1; 32]),
    });
    let (i, rule) = receive_rule(cs, &mut g, vec![ei]);
    assert_eq!(
        (i, rule),
        (Some(0), ProposalRule::ExternalInitInMemberCommit)
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_r11_unsupported_proposal_type() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let unknown = Proposal::Unknown {
        proposal_type: ProposalType(0x7777),
        body: VarBytes(vec![1, 2, 3]),
    };
    let (i, rule) = receive_rule(cs, &mut g, vec![unknown]);
    assert_eq!(
        (i, rule),
        (Some(0), ProposalRule::UnsupportedProposalType(0x7777))
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_path_required() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                include_pending: false,
                ..forced()
            },
        )
        .unwrap();
    let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
        panic!()
    };
    let mut content = pm.content.clone();
    let FramedContentBody::Commit(c) = &mut content.body else {
        panic!()
    };
    c.path = None;
    c.proposals = VarVec(by_value(vec![Proposal::Remove(Remove { removed: 3 })]));
    let msg = g[0]
        .sign_and_frame_for_tests(cs, content, pm.auth.confirmation_tag.clone())
        .unwrap();
    assert_eq!(
        rule_of(refused(cs, &mut g[1], &msg)),
        ProposalRule::PathRequired
    );
    still_works(cs, &mut g);
}

/// An external commit (by a new joiner "eve") with its proposal list edited, re-signed with
/// the joiner's key; returns the message and the joiner's signature key.
fn forge_external(
    cs: &dyn CipherSuiteProvider,
    g: &[Group],
    credential: Credential,
    sk: Option<Secret>,
    remove_prior_leaf: Option<LeafIndex>,
    edit: impl FnOnce(&mut Vec<ProposalOrRef>),
) -> MlsMessage {
    let gi = match g[0].group_info(cs, true).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!(),
    };
    let sk = sk.unwrap_or_else(|| cs.signature_generate().unwrap().0);
    let (_, commit) = Group::join_by_external_commit(
        cs,
        &gi,
        credential,
        sk.clone(),
        ExternalCommitOptions {
            config: config(),
            remove_prior_leaf,
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
    edit(&mut c.proposals.0);
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
    MlsMessage::new(MlsMessageBody::PublicMessage(PublicMessage {
        content,
        auth: FramedContentAuthData {
            signature: VarBytes(sig),
            confirmation_tag: pm.auth.confirmation_tag,
        },
        membership_tag: None,
    }))
}

#[test]
fn receive_e1_external_init_count() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        ps.retain(|p| !matches!(p, ProposalOrRef::Proposal(Proposal::ExternalInit(_))))
    });
    assert_eq!(
        rule_of(refused(cs, &mut g[1], &msg)),
        ProposalRule::ExternalInitCount(0)
    );
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        let first = ps[0].clone();
        ps.push(first);
    });
    assert_eq!(
        rule_of(refused(cs, &mut g[1], &msg)),
        ProposalRule::ExternalInitCount(2)
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_e2_external_remove() {
    let cs = cs();
    let mut g = setup(cs, 4);
    // Two Removes.
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        ps.push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
            removed: 1,
        })));
        ps.push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
            removed: 2,
        })));
    });
    let err = refused(cs, &mut g[1], &msg);
    assert!(
        matches!(
            err,
            GroupError::Protocol(ProtocolError::Proposal {
                index: Some(2),
                rule: ProposalRule::ExternalRemove
            })
        ),
        "{err:?}"
    );
    // One Remove, of a member that is not the joiner's prior self (other credential).
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        ps.push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
            removed: 2,
        })));
    });
    assert_eq!(
        rule_of(refused(cs, &mut g[1], &msg)),
        ProposalRule::ExternalRemove
    );
    still_works(cs, &mut g);
}

#[test]
fn receive_e3_external_forbidden_proposal() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let kp = bundle(cs, "x").key_package;
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        ps.push(ProposalOrRef::Proposal(Proposal::Add(Add {
            key_package: kp,
        })));
    });
    let err = refused(cs, &mut g[1], &msg);
    assert!(
        matches!(
            err,
            GroupError::Protocol(ProtocolError::Proposal {
                index: Some(1),
                rule: ProposalRule::ExternalForbiddenProposal(1)
            })
        ),
        "{err:?}"
    );
    // A Remove by reference (even of a valid cached proposal) is not allowed either.
    let (m, c) = g[0].propose_remove(cs, LeafIndex(2)).unwrap();
    propose_all(cs, &mut g, 0, &m);
    let msg = forge_external(cs, &g, Credential::basic("eve"), None, None, |ps| {
        ps.push(ProposalOrRef::Reference(c.proposal_ref.clone()));
    });
    assert_eq!(
        rule_of(refused(cs, &mut g[1], &msg)),
        ProposalRule::ExternalForbiddenProposal(3)
    );
    for x in g.iter_mut() {
        x.clear_pending_proposals();
    }
    still_works(cs, &mut g);
}

// ---------------------------------------------------------------------------------------
// UpdatePath whose derived keys differ from the advertised ones (RFC 9420 §7.5, §12.4.2).
// ---------------------------------------------------------------------------------------

/// Member 0 builds two UpdatePaths on the same tree: A (whose path secrets are encrypted)
/// and B (whose public keys, parent hashes and signed leaf are advertised). The ciphertexts
/// of A are made under the provisional GroupContext of B's tree, so the commit passes the
/// parent-hash check and decrypts, and fails only at the derived-key comparison.
#[test]
fn receive_update_path_derived_key_mismatch() {
    use mls_engine::tree::TreeError;
    use mls_engine::tree_math::NodeIndex;
    let cs = cs();
    let (mut g, b) = setup_b(cs, 4);
    let gid = g[0].group_id().to_vec();
    let leaf = g[0].member(LeafIndex(0)).unwrap().clone();
    let sk = &b[0].signature_private_key;
    let mut ta = g[0].tree().stage();
    let pa = ta
        .generate_update_path(cs, LeafIndex(0), leaf.clone(), sk, &gid)
        .unwrap();
    let mut tb = g[0].tree().stage();
    let pb = tb
        .generate_update_path(cs, LeafIndex(0), leaf, sk, &gid)
        .unwrap();
    let mut ctx = g[0].context().clone();
    ctx.epoch += 1;
    ctx.tree_hash = VarBytes(tb.tree_hash(cs).unwrap());
    let provisional = mls_engine::codec::encode(&ctx).unwrap();
    let ga = pa.encrypt(cs, &tb, &[], &provisional).unwrap();
    let gb = pb.encrypt(cs, &tb, &[], &provisional).unwrap();
    let mut path = gb.update_path.clone();
    for (n, a) in path.nodes.iter_mut().zip(ga.update_path.nodes.iter()) {
        assert_ne!(n.encryption_key, a.encryption_key);
        n.encrypted_path_secret = a.encrypted_path_secret.clone();
    }
    let content = FramedContent {
        group_id: VarBytes(gid),
        epoch: g[0].epoch(),
        sender: Sender::Member(0),
        authenticated_data: VarBytes::default(),
        body: FramedContentBody::Commit(Commit {
            proposals: VarVec::default(),
            path: Some(path),
        }),
    };
    let msg = g[0]
        .sign_and_frame_for_tests(cs, content, Some(Mac(VarBytes(vec![0; 32]))))
        .unwrap();
    // Member 1 decrypts at node 1 (the parent of leaves 0 and 1), member 3 at the root.
    assert_eq!(
        refused(cs, &mut g[1], &msg),
        GroupError::Protocol(ProtocolError::Tree(TreeError::PublicKeyMismatch(
            NodeIndex(1)
        )))
    );
    assert_eq!(
        refused(cs, &mut g[3], &msg),
        GroupError::Protocol(ProtocolError::Tree(TreeError::PublicKeyMismatch(
            NodeIndex(3)
        )))
    );
    still_works(cs, &mut g);
}

// ---------------------------------------------------------------------------------------
// Welcomes whose GroupInfo is edited and re-signed by the committer (RFC 9420 §12.4.3.1).
// ---------------------------------------------------------------------------------------

/// Re-opens `w` as `joiner`, applies `edit` to the GroupInfo, re-signs it with `signer`
/// (the committer's key), re-encrypts it and the joiner's GroupSecrets (whose HPKE context
/// is the encrypted GroupInfo).
fn rewrap_welcome(
    cs: &dyn CipherSuiteProvider,
    w: &Welcome,
    joiner: &KeyPackageBundle,
    signer: &Secret,
    edit: impl FnOnce(&mut GroupInfo),
) -> Welcome {
    use mls_engine::codec::encode;
    use mls_engine::key_schedule::JoinerSecret;
    use mls_engine::psk::PskSecret;
    use mls_engine::welcome::{decrypt_group_info, decrypt_group_secrets};
    let gs = decrypt_group_secrets(cs, w, &joiner.key_package, &joiner.init_private_key).unwrap();
    assert!(gs.psks.is_empty());
    let js = JoinerSecret::new(Secret::from_slice(&gs.joiner_secret));
    let psk = PskSecret::zero(cs);
    let mut gi = decrypt_group_info(cs, w, &js, &psk).unwrap();
    edit(&mut gi);
    let tbs = encode(&gi.to_be_signed()).unwrap();
    gi.signature = VarBytes(sign_with_label(cs, signer, "GroupInfoTBS", &tbs).unwrap());
    let (key, nonce) = js
        .member_secret(cs, &psk)
        .welcome_secret(cs)
        .unwrap()
        .key_and_nonce(cs)
        .unwrap();
    let egi = cs
        .aead_seal(key.as_bytes(), nonce.as_bytes(), b"", &encode(&gi).unwrap())
        .unwrap();
    let ct = mls_engine::crypto::labels::encrypt_with_label(
        cs,
        &joiner.key_package.init_key,
        "Welcome",
        &egi,
        &encode(&gs).unwrap(),
    )
    .unwrap();
    let mut entry = w.secrets[0].clone();
    entry.encrypted_group_secrets = ct;
    Welcome {
        cipher_suite: w.cipher_suite,
        secrets: VarVec(vec![entry]),
        encrypted_group_info: VarBytes(egi),
    }
}

#[test]
fn welcome_bad_confirmation_tag_tree_hash_and_parent_hash() {
    use mls_engine::tree::TreeValidationError;
    use mls_engine::tree_math::NodeIndex;
    use mls_engine::welcome::WelcomeError;
    let cs = cs();
    let (mut g, b) = setup_b(cs, 3);
    let before = g[0].tree().to_wire();
    let carol = bundle(cs, "carol");
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: carol.key_package.clone(),
                })],
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let w = &welcome_of(out.welcome.as_ref().unwrap());
    let signer = &b[0].signature_private_key;
    let join = |w: &Welcome| {
        Group::join(
            cs,
            w,
            &carol,
            JoinOptions {
                config: config(),
                ..JoinOptions::default()
            },
        )
    };
    // The unedited rewrap joins (the helper itself is sound).
    let same = rewrap_welcome(cs, w, &carol, signer, |_| {});
    let joined = join(&same).unwrap();
    // A corrupted confirmation tag, validly signed.
    let bad_tag = rewrap_welcome(cs, w, &carol, signer, |gi| {
        gi.confirmation_tag.0 .0[0] ^= 1;
    });
    assert_eq!(
        join(&bad_tag).unwrap_err(),
        GroupError::Protocol(ProtocolError::Welcome(JoinCheck::Welcome(
            WelcomeError::BadConfirmationTag
        )))
    );
    // A valid tree (the previous epoch's) whose hash is not the GroupContext's.
    let set_tree = |gi: &mut GroupInfo, t: &RatchetTree| {
        let ext = Extension::from_value(t).unwrap();
        for e in gi.extensions.iter_mut() {
            if e.extension_type == ext.extension_type {
                *e = ext.clone();
            }
        }
    };
    let wrong_tree = rewrap_welcome(cs, w, &carol, signer, |gi| set_tree(gi, &before));
    assert_eq!(
        join(&wrong_tree).unwrap_err(),
        GroupError::Protocol(ProtocolError::Welcome(JoinCheck::TreeHash))
    );
    // The new tree with node 1's parent hash broken: node 1 then has no parent-hash valid
    // descendant (leaf 0's parent_hash covers node 1's own parent_hash field).
    let mut broken = joined.tree().to_wire();
    let Some(Some(Node::Parent(p))) = broken.0.get_mut(1) else {
        panic!("node 1 is not a parent")
    };
    p.parent_hash.0[0] ^= 1;
    let broken_ph = rewrap_welcome(cs, w, &carol, signer, |gi| set_tree(gi, &broken));
    assert_eq!(
        join(&broken_ph).unwrap_err(),
        GroupError::Protocol(ProtocolError::TreeValidation(
            TreeValidationError::ParentHashInvalid {
                parent: NodeIndex(1),
                valid_descendants: 0
            }
        ))
    );
    // The signature is checked beside the tree, yet a GroupInfo failing both is refused for
    // its signature, as a sequential check would: signed by member 1 instead of its signer
    // (member 0), with each of the bad trees above, and with the good one.
    let bad_signature = GroupError::Protocol(ProtocolError::Welcome(JoinCheck::Welcome(
        WelcomeError::BadGroupInfoSignature,
    )));
    let other = &b[1].signature_private_key;
    for tree in [Some(&before), Some(&broken), None] {
        let forged = rewrap_welcome(cs, w, &carol, other, |gi| {
            if let Some(t) = tree {
                set_tree(gi, t);
            }
        });
        assert_eq!(join(&forged).unwrap_err(), bad_signature);
    }
    g[0].merge_staged_commit(out.staged).unwrap();
    for x in g.iter_mut().skip(1) {
        match x.process_message(cs, out.commit.clone()).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!(),
        }
    }
    g.push(joined);
    still_works(cs, &mut g);
}

// ---------------------------------------------------------------------------------------
// Approximations fixed: credential support of the resulting group, past-epoch trees, and
// invalid cached proposals.
// ---------------------------------------------------------------------------------------

/// A bundle whose capabilities list `credentials`, with `credential`.
fn bundle_with(
    cs: &dyn CipherSuiteProvider,
    credential: Credential,
    credentials: Vec<CredentialType>,
) -> KeyPackageBundle {
    let (sk, _) = cs.signature_generate().unwrap();
    let mut options = KeyPackageOptions::new(0, u64::MAX);
    options.capabilities = Some(Capabilities {
        versions: VarVec(vec![ProtocolVersion::MLS10]),
        cipher_suites: VarVec(vec![cs.cipher_suite()]),
        extensions: VarVec::default(),
        proposals: VarVec::default(),
        credentials: VarVec(credentials),
    });
    generate_key_package(cs, credential, sk, options).unwrap()
}

/// §7.3, §12.2: a new member's credential type must be supported by the members of the
/// *resulting* group; a member removed by the same commit does not count.
#[test]
fn credential_support_ignores_members_removed_by_the_commit() {
    let cs = cs();
    let odd = CredentialType(0x0A0A);
    let basic = CredentialType(1);
    let alice = bundle_with(cs, Credential::basic("alice"), vec![basic, odd]);
    let m1 = bundle_with(cs, Credential::basic("m1"), vec![basic, odd]);
    let m2 = bundle(cs, "m2"); // basic only
    let (mut g, _) = setup_from(cs, alice, vec![m1, m2]);
    let newcomer = bundle_with(
        cs,
        Credential::Unknown {
            credential_type: odd,
            data: VarBytes(b"newcomer".to_vec()),
        },
        vec![basic, odd],
    );
    let add = Proposal::Add(Add {
        key_package: newcomer.key_package.clone(),
    });
    // Alone, refused on both sides: member 2 does not support the type.
    let expected = ProposalRule::InvalidTreeAfterCommit {
        leaf: LeafIndex(3),
        error: LeafNodeError::CredentialType(0x0A0A),
    };
    assert_eq!(commit_err(cs, &g[0], vec![add.clone()]), expected);
    let (_, rule) = receive_rule(cs, &mut g, vec![add.clone()]);
    assert_eq!(rule, expected);
    // Together with the Remove of member 2 it is valid, for the committer and receivers.
    commit_all(
        cs,
        &mut g,
        0,
        CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: 2 }), add],
            ..CommitOptions::default()
        },
    );
    assert!(!g[2].is_active());
    assert_eq!(
        g[0].member(LeafIndex(2))
            .unwrap()
            .credential()
            .credential_type(),
        odd
    );
    g.truncate(2);
    still_works(cs, &mut g);
}

/// §6.3.2, §15.2: a late application message of a retained past epoch is verified with the
/// sender's signature key *of that epoch*. Member 2 is removed and re-added with a new
/// signature key: its late message (old key) verifies; one forged for the old epoch with
/// the new key does not. Also after a save/load of the receiver.
#[test]
fn late_application_message_uses_its_epochs_tree() {
    use mls_engine::framing::ProtectionError;
    let cs = cs();
    let mut g = setup(cs, 3);
    let late = g[2].encrypt_application(cs, b"late", b"").unwrap();
    let new_m2 = bundle(cs, "m2");
    let mut forger = g[2].clone();
    forger.replace_signer_for_tests(new_m2.signature_private_key.clone());
    let forged = forger.encrypt_application(cs, b"forged", b"").unwrap();
    commit_all(
        cs,
        &mut g,
        0,
        CommitOptions {
            proposals: vec![
                Proposal::Remove(Remove { removed: 2 }),
                Proposal::Add(Add {
                    key_package: new_m2.key_package.clone(),
                }),
            ],
            ..CommitOptions::default()
        },
    );
    assert_eq!(
        g[1].member(LeafIndex(2)).unwrap().signature_key(),
        new_m2.key_package.leaf_node.signature_key()
    );
    let reloaded = Group::from_bytes(cs, &g[1].to_bytes().unwrap()).unwrap();
    for mut r in [g[1].clone(), reloaded] {
        let err = refused(cs, &mut r, &forged);
        assert_eq!(
            err,
            GroupError::Protocol(ProtocolError::Protection(ProtectionError::BadSignature))
        );
        match r.process_message(cs, late.clone()).unwrap() {
            ProcessedMessage::Application {
                sender,
                epoch,
                data,
                ..
            } => {
                assert_eq!(
                    (sender, epoch, data.as_slice()),
                    (LeafIndex(2), 1, &b"late"[..])
                );
            }
            _ => panic!("not application"),
        }
    }
    g.truncate(2);
    still_works(cs, &mut g);
}

/// §12.2, §12.4: cached proposals the committer cannot commit (a Remove of the committer, a
/// Remove of a blank leaf, a second Remove of one leaf) are left out and reported; the
/// valid one is committed, and receivers accept the commit.
#[test]
fn invalid_cached_proposals_do_not_wedge_commit() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let (m, bad_self) = g[1]
        .propose_unchecked_for_tests(cs, Proposal::Remove(Remove { removed: 0 }))
        .unwrap();
    propose_all(cs, &mut g, 1, &m);
    let (m, bad_blank) = g[2]
        .propose_unchecked_for_tests(cs, Proposal::Remove(Remove { removed: 9 }))
        .unwrap();
    propose_all(cs, &mut g, 2, &m);
    let (m, good) = g[1].propose_remove(cs, LeafIndex(3)).unwrap();
    propose_all(cs, &mut g, 1, &m);
    let (m, dup) = g[2].propose_remove(cs, LeafIndex(3)).unwrap();
    propose_all(cs, &mut g, 2, &m);
    let out = g[0].commit(cs, CommitOptions::default()).unwrap();
    let dropped: Vec<(ProposalRef, ProposalRule)> = out
        .dropped
        .iter()
        .map(|(r, e)| (r.clone(), rule_of(e.clone())))
        .collect();
    assert_eq!(
        dropped,
        vec![
            (bad_self.proposal_ref, ProposalRule::RemovesCommitter),
            (
                dup.proposal_ref,
                ProposalRule::DuplicateUpdateOrRemove(LeafIndex(3))
            ),
            (
                bad_blank.proposal_ref,
                ProposalRule::InvalidProposal(InvalidProposal::RemoveBlankLeaf(LeafIndex(9)))
            ),
        ]
    );
    assert_eq!(out.staged.removed, vec![LeafIndex(3)]);
    let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
        panic!()
    };
    let FramedContentBody::Commit(c) = &pm.content.body else {
        panic!()
    };
    assert_eq!(
        c.proposals.0,
        vec![ProposalOrRef::Reference(good.proposal_ref)]
    );
    for x in g.iter_mut().skip(1) {
        match x.process_message(cs, out.commit.clone()).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!(),
        }
    }
    g[0].merge_staged_commit(out.staged).unwrap();
    assert!(!g[3].is_active());
    g.truncate(3);
    assert_agree(&g);
    // A by-value proposal of the caller that is invalid is still an error, not dropped.
    assert_eq!(
        commit_err(cs, &g[0], vec![Proposal::Remove(Remove { removed: 0 })]),
        ProposalRule::RemovesCommitter
    );
    still_works(cs, &mut g);
}

/// §12.2, §12.4.3.1: a cached Add left out of the commit, between two that are committed, does
/// not fail the commit (though its init key cannot be encapsulated to: the committer
/// encapsulates to every offered Add while it validates) and does not shift the joiners'
/// GroupSecrets: the joiners cached before and after it and the one added by value all join
/// from the Welcome.
#[test]
fn dropped_cached_add_keeps_the_welcome_aligned() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let [a, c, d] = ["a", "c", "d"].map(|n| bundle(cs, n));
    // All zeros is a low-order X25519 point (no encapsulation to it), and the KeyPackage's
    // signature no longer verifies.
    let mut bad = bundle(cs, "bad").key_package;
    bad.init_key = vec![0u8; 32].into();
    let mut refs = Vec::new();
    for (from, key_package) in [
        (1, a.key_package.clone()),
        (2, bad),
        (1, c.key_package.clone()),
    ] {
        let (m, r) = g[from]
            .propose_unchecked_for_tests(cs, Proposal::Add(Add { key_package }))
            .unwrap();
        propose_all(cs, &mut g, from, &m);
        refs.push(r.proposal_ref);
    }
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: d.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let dropped: Vec<&ProposalRef> = out.dropped.iter().map(|(r, _)| r).collect();
    assert_eq!(dropped, vec![&refs[1]]);
    assert!(matches!(
        rule_of(out.dropped[0].1.clone()),
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(_))
    ));
    let welcome = out.welcome.clone().unwrap();
    for x in g.iter_mut().skip(1) {
        match x.process_message(cs, out.commit.clone()).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!("not a commit"),
        }
    }
    g[0].merge_staged_commit(out.staged).unwrap();
    for b in [&a, &c, &d] {
        let options = JoinOptions {
            config: config(),
            ..JoinOptions::default()
        };
        g.push(Group::join(cs, &welcome, b, options).unwrap());
    }
    assert_agree(&g);
    still_works(cs, &mut g);
}

/// Our commit of a few Adds verifies their KeyPackages' signatures beside its validation,
/// which goes on as if they were valid. A bad signature must still be the error reported
/// where the checks in list order find it: here the second Add's, not the third Add's
/// duplicate of the first (which a validation that trusted the signatures would name), and
/// a good list after it still commits.
#[test]
fn our_commit_names_a_bad_signature_before_a_later_rule() {
    let cs = cs();
    let mut g = setup(cs, 2);
    let good = bundle(cs, "good").key_package;
    let mut bad_sig = bundle(cs, "bad").key_package;
    bad_sig.signature.0[7] ^= 1;
    let add = |key_package: &KeyPackage| {
        Proposal::Add(Add {
            key_package: key_package.clone(),
        })
    };
    let out = g[0].commit(
        cs,
        CommitOptions {
            proposals: vec![add(&good), add(&bad_sig), add(&good)],
            include_pending: false,
            ..CommitOptions::default()
        },
    );
    match out.unwrap_err() {
        GroupError::Protocol(ProtocolError::Proposal { index, rule }) => {
            assert_eq!(index, Some(1));
            assert_eq!(
                rule,
                ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(
                    KeyPackageError::Signature
                ))
            );
        }
        other => panic!("expected a proposal rule, got {other:?}"),
    }
    // Without the bad one, the duplicate is what is refused; without both, it commits.
    assert_eq!(
        commit_err(cs, &g[0], vec![add(&good), add(&good)]),
        ProposalRule::DuplicateAdd
    );
    let joiner = bundle(cs, "joiner");
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: vec![add(&good), add(&joiner.key_package)],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    assert_eq!(out.staged.added.len(), 2);
    still_works(cs, &mut g);
}

/// A cached Add whose KeyPackage is well formed but badly signed (its init key can be
/// encapsulated to, so only the signature is wrong) is left out of our commit of a few Adds
/// and reported, though the first validation trusted the signatures verified beside it; the
/// by-value Add is committed and its member joins.
#[test]
fn our_commit_drops_a_cached_add_whose_signature_fails_beside() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let joiner = bundle(cs, "joiner");
    let mut bad = bundle(cs, "bad").key_package;
    bad.signature.0[9] ^= 4;
    let (m, cached) = g[1]
        .propose_unchecked_for_tests(cs, Proposal::Add(Add { key_package: bad }))
        .unwrap();
    propose_all(cs, &mut g, 1, &m);
    let out = g[0]
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: joiner.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    assert_eq!(out.dropped.len(), 1);
    assert_eq!(out.dropped[0].0, cached.proposal_ref);
    assert_eq!(
        rule_of(out.dropped[0].1.clone()),
        ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(KeyPackageError::Signature))
    );
    assert_eq!(out.staged.added, vec![LeafIndex(3)]);
    let welcome = out.welcome.clone().unwrap();
    for x in g.iter_mut().skip(1) {
        match x.process_message(cs, out.commit.clone()).unwrap() {
            ProcessedMessage::Commit(s) => x.merge_staged_commit(*s).unwrap(),
            _ => panic!("not a commit"),
        }
    }
    g[0].merge_staged_commit(out.staged).unwrap();
    let options = JoinOptions {
        config: config(),
        ..JoinOptions::default()
    };
    g.push(Group::join(cs, &welcome, &joiner, options).unwrap());
    assert_agree(&g);
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
        g[1].process_message(cs, ct).unwrap(),
        ProcessedMessage::Application { .. }
    ));
}

/// A Welcome read in place from its message bytes joins exactly as the decoded Welcome does;
/// malformed bytes (cut anywhere, a trailing byte, another wire format, a broken entry in the
/// middle of `secrets`) are refused with an error, and a Welcome without our entry is
/// `NotForThisKeyPackage`.
#[test]
fn welcome_read_in_place() {
    use mls_engine::welcome::WelcomeRef;
    let cs = cs();
    let alice = bundle(cs, "alice");
    let others: Vec<KeyPackageBundle> = (1..5).map(|i| bundle(cs, &format!("m{i}"))).collect();
    let (a, welcome) = create_adding(cs, &alice, &others);
    let msg = welcome.expect("welcome");
    let bytes = msg.as_bytes().to_vec();
    // The message built in one buffer is the encoding of the Welcome it decodes to, and
    // reading it in place from the bytes or from the built message gives the same view.
    assert_eq!(msg.to_message().unwrap().to_bytes().unwrap(), bytes);
    assert_eq!(msg.clone().into_bytes(), bytes);
    let view = WelcomeRef::from_message_bytes(&bytes).unwrap();
    let built = WelcomeRef::from(&msg);
    assert_eq!(built.encrypted_group_info, view.encrypted_group_info);
    assert_eq!(built.cipher_suite, view.cipher_suite);
    assert_eq!(built.secrets_len(), 4);
    assert_eq!(view.secrets_len(), 4);
    let options = || JoinOptions {
        config: config(),
        ..JoinOptions::default()
    };
    for b in &others {
        let by_view = Group::join(cs, view, b, options()).unwrap();
        let by_decoded = Group::join(cs, &welcome_of(&msg), b, options()).unwrap();
        assert_eq!(by_view.epoch_authenticator(), a.epoch_authenticator());
        assert_eq!(by_decoded.epoch_authenticator(), a.epoch_authenticator());
        assert_eq!(by_view.own_leaf(), by_decoded.own_leaf());
    }
    // Not for this KeyPackage.
    let stranger = bundle(cs, "stranger");
    assert!(matches!(
        Group::join(cs, view, &stranger, options()),
        Err(GroupError::Protocol(ProtocolError::Welcome(
            JoinCheck::Welcome(mls_engine::welcome::WelcomeError::NotForThisKeyPackage)
        )))
    ));
    // Cut anywhere, or one byte too many.
    for cut in 0..bytes.len() {
        assert!(
            WelcomeRef::from_message_bytes(&bytes[..cut]).is_err(),
            "cut {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(WelcomeRef::from_message_bytes(&long).is_err());
    // Another wire format (PublicMessage = 1).
    let mut other = bytes.clone();
    other[3] = 1;
    assert!(WelcomeRef::from_message_bytes(&other).is_err());
    // The second entry's new_member claims one byte more than it has: the entries no longer
    // parse, although the first one is intact.
    let mut broken = bytes.clone();
    let secrets_at = 2 + 2 + 2;
    let (_, body_at) = header(&broken[secrets_at..]);
    let first = secrets_at + body_at;
    let entry_len = entry_len(&broken[first..]);
    broken[first + entry_len] += 1;
    assert!(WelcomeRef::from_message_bytes(&broken).is_err());
    assert!(MlsMessage::from_bytes(&broken).is_err());

    /// (length, header size) of the varint vector at the front.
    fn header(b: &[u8]) -> (usize, usize) {
        match b[0] >> 6 {
            0 => (usize::from(b[0]), 1),
            1 => ((usize::from(b[0] & 0x3f) << 8) | usize::from(b[1]), 2),
            _ => (
                (usize::from(b[0] & 0x3f) << 24)
                    | (usize::from(b[1]) << 16)
                    | (usize::from(b[2]) << 8)
                    | usize::from(b[3]),
                4,
            ),
        }
    }
    /// Length of one EncryptedGroupSecrets: three vectors.
    fn entry_len(b: &[u8]) -> usize {
        let mut at = 0;
        for _ in 0..3 {
            let (len, h) = header(&b[at..]);
            at += h + len;
        }
        at
    }
}

/// A PublicMessage commit's signature is checked in parallel with its membership tag and its
/// staging (§6.2, §12.4.2), yet its errors come in the order of a sequential check: the
/// membership tag, then the signature, then the commit itself. A commit that fails both its
/// signature and its staging is refused for its signature; one that also fails its tag, for
/// the tag. None of them changes the receiver.
#[test]
fn commit_errors_come_in_check_order() {
    use mls_engine::framing::ProtectionError;
    let cs = cs();
    let mut g = setup(cs, 3);
    // Member 0 with another signature key: its messages carry a valid membership tag (the
    // key is the group's) and a signature member 0's leaf key does not verify.
    let mut forger = g[0].clone();
    forger.replace_signer_for_tests(bundle(cs, "not 0").signature_private_key);
    let out = g[0].commit(cs, forced()).unwrap();
    let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
        panic!()
    };
    let bad_tag = Some(Mac(VarBytes(vec![0; cs.hash_len()])));
    let frame = |signer: &Group, confirmation_tag: Option<Mac>| {
        signer
            .sign_and_frame_for_tests(cs, pm.content.clone(), confirmation_tag)
            .unwrap()
    };
    let protection = |e: ProtectionError| GroupError::Protocol(ProtocolError::Protection(e));

    // Each fault alone is refused for itself.
    let stage_only = frame(&g[0], bad_tag.clone());
    assert_eq!(
        refused(cs, &mut g[1], &stage_only),
        GroupError::Protocol(ProtocolError::ConfirmationTag)
    );
    let signature_only = frame(&forger, pm.auth.confirmation_tag.clone());
    assert_eq!(
        refused(cs, &mut g[1], &signature_only),
        protection(ProtectionError::BadSignature)
    );
    // A bad signature on a commit that would also fail staging: the signature.
    let signature_and_stage = frame(&forger, bad_tag);
    assert_eq!(
        refused(cs, &mut g[1], &signature_and_stage),
        protection(ProtectionError::BadSignature)
    );
    // And with a bad membership tag on top: the membership tag.
    let mut all_three = signature_and_stage.clone();
    let MlsMessageBody::PublicMessage(p) = &mut all_three.body else {
        panic!()
    };
    let tag = p.membership_tag.as_mut().unwrap();
    tag.0 .0[0] ^= 1;
    assert_eq!(
        refused(cs, &mut g[1], &all_three),
        protection(ProtectionError::BadMembershipTag)
    );
    // A commit whose staging fails early (its proposal names no member, found before the
    // path is decrypted and the membership tag checked beside it): the rule alone, the
    // signature before it, and the tag before both.
    let mut early = pm.content.clone();
    let FramedContentBody::Commit(c) = &mut early.body else {
        panic!()
    };
    c.proposals = VarVec(by_value(vec![Proposal::Remove(Remove { removed: 99 })]));
    let confirmation = pm.auth.confirmation_tag.clone();
    let frame_early = |signer: &Group| {
        signer
            .sign_and_frame_for_tests(cs, early.clone(), confirmation.clone())
            .unwrap()
    };
    let flip_tag = |mut m: MlsMessage| {
        let MlsMessageBody::PublicMessage(p) = &mut m.body else {
            panic!()
        };
        p.membership_tag.as_mut().unwrap().0 .0[0] ^= 1;
        m
    };
    let rule_only = frame_early(&g[0]);
    let rule = refused(cs, &mut g[1], &rule_only);
    assert!(
        matches!(rule, GroupError::Protocol(ProtocolError::Proposal { .. })),
        "{rule:?}"
    );
    assert_eq!(
        refused(cs, &mut g[1], &flip_tag(rule_only)),
        protection(ProtectionError::BadMembershipTag)
    );
    let signature_and_rule = frame_early(&forger);
    assert_eq!(
        refused(cs, &mut g[1], &signature_and_rule),
        protection(ProtectionError::BadSignature)
    );
    assert_eq!(
        refused(cs, &mut g[1], &flip_tag(signature_and_rule)),
        protection(ProtectionError::BadMembershipTag)
    );
    // A membership tag on a commit from a new member is refused before anything else.
    let mut tag_presence = out.commit.clone();
    let MlsMessageBody::PublicMessage(p) = &mut tag_presence.body else {
        panic!()
    };
    p.content.sender = Sender::NewMemberCommit;
    assert_eq!(
        refused(cs, &mut g[1], &tag_presence),
        protection(ProtectionError::MembershipTagPresence)
    );
    // The original commit still applies.
    match g[1].process_message(cs, out.commit.clone()).unwrap() {
        ProcessedMessage::Commit(staged) => {
            g[1].merge_staged_commit(*staged).unwrap();
        }
        other => panic!("not a commit: {other:?}"),
    }
    g[0].merge_staged_commit(out.staged).unwrap();
    assert_agree(&g[..2]);
}

// ---------------------------------------------------------------------------------------
// PrivateMessages (RFC 9420 §6.3, §9.2): a key is used up only by a message the group
// accepts, and a used key cannot be used again.
// ---------------------------------------------------------------------------------------

/// `err` is the secret tree refusing an already used `generation`.
fn is_consumed(err: &GroupError, generation: u32) -> bool {
    matches!(
        err,
        GroupError::Protocol(ProtocolError::Protection(
            mls_engine::framing::ProtectionError::SecretTree(
                mls_engine::secret_tree::SecretTreeError::GenerationConsumed { generation: g }
            )
        )) if *g == generation
    )
}

#[test]
fn application_messages_use_their_keys_once() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let m0 = g[0].encrypt_application(cs, b"zero", b"").unwrap();
    let m1 = g[0].encrypt_application(cs, b"one", b"").unwrap();
    // Out of order: the skipped generation 0 stays usable once.
    for (m, data) in [(&m1, &b"one"[..]), (&m0, &b"zero"[..])] {
        match g[1].process_message(cs, m.clone()).unwrap() {
            ProcessedMessage::Application { data: d, .. } => assert_eq!(d, data),
            other => panic!("expected application data, got {other:?}"),
        }
    }
    // Replays are refused, and change nothing.
    for (m, generation) in [(&m0, 0), (&m1, 1)] {
        let err = refused(cs, &mut g[1], m);
        assert!(is_consumed(&err, generation), "{err:?}");
    }
    // The third member, who saw nothing yet, still reads both.
    for m in [&m0, &m1] {
        g[2].process_message(cs, m.clone()).unwrap();
    }

    // A late message of the epoch just left (§15.2): read once, then refused.
    let late = g[0].encrypt_application(cs, b"late", b"").unwrap();
    commit_all(cs, &mut g, 0, forced());
    match g[1].process_message(cs, late.clone()).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"late"),
        other => panic!("expected application data, got {other:?}"),
    }
    let err = refused(cs, &mut g[1], &late);
    assert!(is_consumed(&err, 2), "{err:?}");
    still_works(cs, &mut g);
}

#[test]
fn private_proposals_use_their_keys_once() {
    let cs = cs();
    let mut g = setup(cs, 3);
    for m in g.iter_mut() {
        let mut c = *m.config();
        c.encrypt_handshake = true;
        m.set_config(c);
    }
    let before = g[0].to_bytes().unwrap();
    let (msg, cached) = g[0]
        .propose(
            cs,
            Proposal::Remove(Remove {
                removed: LeafIndex(2).0,
            }),
        )
        .unwrap();
    assert!(matches!(msg.body, MlsMessageBody::PrivateMessage(_)));
    assert_ne!(g[0].to_bytes().unwrap(), before, "the sender kept nothing");
    match g[1].process_message(cs, msg.clone()).unwrap() {
        ProcessedMessage::Proposal(p) => assert_eq!(p.proposal_ref, cached.proposal_ref),
        other => panic!("expected a proposal, got {other:?}"),
    }
    let err = refused(cs, &mut g[1], &msg);
    assert!(is_consumed(&err, 0), "{err:?}");
    // The next handshake message uses the next generation: both receivers read it.
    let (next, _) = g[0]
        .propose(
            cs,
            Proposal::Remove(Remove {
                removed: LeafIndex(1).0,
            }),
        )
        .unwrap();
    g[1].process_message(cs, next.clone()).unwrap();
    g[2].process_message(cs, msg).unwrap();
    g[2].process_message(cs, next).unwrap();
}

/// A member does not send a proposal no member could commit (RFC 9420 §12.2): `propose`
/// refuses it, and the group is unchanged. Found by the differential interop test
/// (`test-vectors/peers/tests/differential.rs`): OpenMLS caches such a proposal and then fails
/// every commit of the epoch. Valid proposals still go out, including a Remove of ourselves
/// (another member commits it).
#[test]
fn propose_refuses_what_no_member_could_commit() {
    let cs = cs();
    let mut g = setup(cs, 3);
    let before = g[0].to_bytes().unwrap();
    let mut bad_signature = bundle(cs, "bad").key_package;
    bad_signature.signature.0[9] ^= 4;
    let undecodable_rc = Extension {
        extension_type: ExtensionType(3),
        extension_data: VarBytes(vec![0x02, 0xff, 0x00, 0x00, 0xd8, 0x00, 0x01]),
    };
    let refused = [
        (
            "a Remove of a blank leaf",
            Proposal::Remove(Remove { removed: 7 }),
        ),
        (
            "a Remove past the tree",
            Proposal::Remove(Remove { removed: 1 << 30 }),
        ),
        (
            "an Add whose KeyPackage signature fails",
            Proposal::Add(Add {
                key_package: bad_signature,
            }),
        ),
        (
            "a PreSharedKey we do not hold",
            Proposal::PreSharedKey(PreSharedKey {
                psk: PreSharedKeyId {
                    psk: Psk::External(ExternalPsk {
                        psk_id: VarBytes(b"unknown".to_vec()),
                    }),
                    psk_nonce: VarBytes(vec![0; 32]),
                },
            }),
        ),
        (
            "a GroupContextExtensions whose required_capabilities does not decode",
            Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: VarVec(vec![undecodable_rc]),
            }),
        ),
        (
            "a non-default proposal type no member supports",
            Proposal::Unknown {
                proposal_type: ProposalType(0x8100),
                body: VarBytes::default(),
            },
        ),
    ];
    for (what, p) in refused {
        assert!(g[0].propose(cs, p).is_err(), "{what} was sent");
        assert_eq!(g[0].to_bytes().unwrap(), before, "{what} changed the group");
    }
    // Our own removal, proposed for another member to commit, goes out.
    let (m, _) = g[0]
        .propose(cs, Proposal::Remove(Remove { removed: 0 }))
        .unwrap();
    g[1].process_message(cs, m).unwrap();
    let out = g[1].commit(cs, CommitOptions::default()).unwrap();
    assert!(out.dropped.is_empty(), "{:?}", out.dropped);
}

/// A leaf index past the largest tree (2^31 leaves) names no member. Before the fix,
/// `LeafIndex::node` shifted `2^31 + i` onto node `2i`, so a Remove of leaf `2^31 + 3` removed
/// member 3, and a message from sender `2^31 + 0` was taken for member 0's, where OpenMLS and
/// mls-rs refuse both: a hostile member could split our members from theirs. Found by the
/// differential interop test's long run (`MLS_DIFFERENTIAL_CASES=24000`).
#[test]
fn leaf_indices_past_the_largest_tree_name_no_member() {
    let cs = cs();
    let mut g = setup(cs, 4);
    let far = |i: u32| (1u32 << 31) + i;
    // Our own proposal and commit refuse it.
    assert!(g[0]
        .propose(cs, Proposal::Remove(Remove { removed: far(3) }))
        .is_err());
    let by_value = g[0].commit(
        cs,
        CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: far(3) })],
            ..CommitOptions::default()
        },
    );
    assert!(by_value.is_err(), "committed a Remove of leaf 2^31 + 3");
    // A received commit with it is refused on the Remove, not later at the confirmation tag.
    let err = tampered(
        cs,
        &g,
        |c| {
            c.proposals = VarVec(vec![ProposalOrRef::Proposal(Proposal::Remove(Remove {
                removed: far(3),
            }))])
        },
        None,
    );
    assert!(
        matches!(err, GroupError::Protocol(ProtocolError::Proposal { .. })),
        "{err:?}"
    );
    // A proposal signed by member 0 under sender index 2^31 + 0 is not member 0's.
    let content = FramedContent {
        group_id: VarBytes(g[0].group_id().to_vec()),
        epoch: g[0].epoch(),
        sender: Sender::Member(far(0)),
        authenticated_data: VarBytes::default(),
        body: FramedContentBody::Proposal(Proposal::Remove(Remove { removed: 2 })),
    };
    let msg = g[0].sign_and_frame_for_tests(cs, content, None).unwrap();
    let before = g[1].to_bytes().unwrap();
    assert!(g[1].process_message(cs, msg).is_err());
    assert_eq!(g[1].to_bytes().unwrap(), before);
    still_works(cs, &mut g);
}

/// In a group of one, our own Update can never be committed: the only member is the committer
/// of every commit, and a committer must not include its own Update (RFC 9420 §12.2). So
/// `propose_update` refuses it, leaves the group as it was, and a commit with a path (which
/// replaces our leaf, §12.4.1) is the way to refresh it.
#[test]
fn a_lone_members_update_is_refused_and_a_path_commit_refreshes_its_leaf() {
    let cs = cs();
    let alice = bundle(cs, "alice");
    let mut g = Group::create(cs, &alice, b"alone".to_vec(), vec![], config()).unwrap();
    let before = g.to_bytes().unwrap();
    let old_key = g
        .tree()
        .leaf(g.own_leaf())
        .unwrap()
        .encryption_key()
        .to_vec();
    let err = g.propose_update(cs).unwrap_err();
    assert!(
        matches!(
            err,
            GroupError::Protocol(ProtocolError::Proposal {
                rule: ProposalRule::UpdateByCommitter,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        g.to_bytes().unwrap(),
        before,
        "the refused Update changed the group"
    );
    let out = g
        .commit(
            cs,
            CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    g.merge_staged_commit(out.staged).unwrap();
    assert_eq!(g.epoch(), 1);
    let new_key = g.tree().leaf(g.own_leaf()).unwrap().encryption_key();
    assert_ne!(
        new_key,
        old_key.as_slice(),
        "the path commit kept the old leaf key"
    );
}
