//! Observer completeness: external commits (join and resync), ReInit, required capabilities
//! and GroupContextExtensions support. Each refusal forges the bad commit (re-signed by the
//! sender, so it passes the signature check and reaches the rule) and checks the observer's
//! state is unchanged; accepted commits leave the observer agreeing with the members.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mls_batch::fixture::{self, bundle, config, group_pair, observer_of};
use mls_batch::observer::ObserverOutcome;
use mls_batch::{Observer, ObserverError};
use mls_engine::codec::{encode, VarBytes, VarVec};
use mls_engine::crypto::labels::sign_with_label;
use mls_engine::crypto::{CipherSuite, CipherSuiteProvider, Secret};
use mls_engine::group::key_package::default_capabilities;
use mls_engine::group::{
    generate_key_package, CommitOptions, ExternalCommitOptions, Group, KeyPackageBundle,
    KeyPackageError, KeyPackageOptions, LeafNodeError, ProcessedMessage,
};
use mls_engine::messages::{
    Add, Commit, Credential, CredentialType, Extension, ExtensionType, ExternalInit,
    FramedContentBody, FramedContentTbs, GroupContextExtensions, MlsMessage, MlsMessageBody,
    Proposal, ProposalOrRef, ProposalRef, ProtocolVersion, ReInit, Remove, RequiredCapabilities,
    WireFormat,
};
use mls_engine::tree_math::LeafIndex;

fn gi_of(cs: &dyn CipherSuiteProvider, g: &Group) -> mls_engine::messages::GroupInfo {
    match g.group_info(cs, true).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!("not a GroupInfo"),
    }
}

/// Re-signs a PublicMessage's content with `sk` over `ctx` (member or new_member_commit).
fn resign(cs: &dyn CipherSuiteProvider, msg: &mut MlsMessage, sk: &Secret, ob: &Observer) {
    let MlsMessageBody::PublicMessage(pm) = &mut msg.body else {
        panic!("not a PublicMessage")
    };
    let tbs = FramedContentTbs {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: pm.content.clone(),
        context: Some(ob.context().clone()),
    };
    pm.auth.signature =
        VarBytes(sign_with_label(cs, sk, "FramedContentTBS", &encode(&tbs).unwrap()).unwrap());
}

fn commit_mut(msg: &mut MlsMessage) -> &mut Commit {
    match &mut msg.body {
        MlsMessageBody::PublicMessage(pm) => match &mut pm.content.body {
            FramedContentBody::Commit(c) => c,
            _ => panic!("not a commit"),
        },
        _ => panic!("not a PublicMessage"),
    }
}

/// Processes `msg` and expects a refusal matching `ok`, with the state unchanged.
fn refused(
    cs: &dyn CipherSuiteProvider,
    ob: &mut Observer,
    msg: &MlsMessage,
    ok: impl Fn(&ObserverError) -> bool,
) {
    let before = ob.to_bytes().unwrap();
    let err = ob.process(cs, msg).unwrap_err();
    assert!(ok(&err), "unexpected error {err:?}");
    assert_eq!(ob.to_bytes().unwrap(), before, "state changed by {err:?}");
}

fn is_rule(e: &ObserverError, text: &str) -> bool {
    matches!(e, ObserverError::Proposal { rule, .. } if rule.contains(text))
}

/// A member processes a commit and merges it.
fn apply(cs: &dyn CipherSuiteProvider, g: &mut Group, msg: &MlsMessage) {
    match g.process_message(cs, msg.clone()).unwrap() {
        ProcessedMessage::Commit(staged) => g.merge_staged_commit(*staged).unwrap(),
        _ => panic!("not a commit"),
    }
}

fn agree(ob: &mut Observer, cs: &dyn CipherSuiteProvider, g: &Group) {
    assert_eq!(ob.context(), g.context());
    assert_eq!(
        ob.tree().clone().tree_hash(cs).unwrap(),
        g.context().tree_hash.as_slice()
    );
}

/// An external join and a resync (same credential, prior leaf removed): the observer
/// accepts both and agrees with the members on epoch, tree hash and GroupContext.
#[test]
fn observer_agrees_with_members_after_external_join_and_resync() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..3)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, mut b) = group_pair(cs, b"ext", &creator, &pool, 3).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let (sk, _) = cs.signature_generate().unwrap();
    let (mut j, msg) = Group::join_by_external_commit(
        cs,
        &gi_of(cs, &a),
        Credential::basic("joiner"),
        sk,
        ExternalCommitOptions {
            config: config(),
            ..ExternalCommitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        ob.process(cs, &msg).unwrap(),
        ObserverOutcome::Commit {
            epoch: a.epoch() + 1
        }
    );
    apply(cs, &mut a, &msg);
    apply(cs, &mut b, &msg);
    agree(&mut ob, cs, &a);
    assert_eq!(j.context(), a.context());
    // Resync: "m0" (leaf 1, b) rejoins with a new key, removing its prior leaf.
    let (sk, _) = cs.signature_generate().unwrap();
    let (b2, msg) = Group::join_by_external_commit(
        cs,
        &gi_of(cs, &a),
        Credential::basic("m0"),
        sk,
        ExternalCommitOptions {
            config: config(),
            remove_prior_leaf: Some(LeafIndex(1)),
            ..ExternalCommitOptions::default()
        },
    )
    .unwrap();
    ob.process(cs, &msg).unwrap();
    apply(cs, &mut a, &msg);
    apply(cs, &mut j, &msg);
    agree(&mut ob, cs, &a);
    assert_eq!(b2.context(), a.context());
    assert_eq!(ob.tree().member_count(), a.member_count());
}

/// Forged external commits: two ExternalInits, a forbidden proposal type, a proposal by
/// reference, no path, two Removes, a resync Remove of another member. Each refused,
/// observer unchanged.
#[test]
fn observer_refuses_forged_external_commits() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..4)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (a, _) = group_pair(cs, b"ext-bad", &creator, &pool, 4).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let (sk, _) = cs.signature_generate().unwrap();
    let (_, valid) = Group::join_by_external_commit(
        cs,
        &gi_of(cs, &a),
        Credential::basic("joiner"),
        sk.clone(),
        ExternalCommitOptions {
            config: config(),
            ..ExternalCommitOptions::default()
        },
    )
    .unwrap();
    let forge = |f: &dyn Fn(&mut Commit), ob: &Observer| {
        let mut m = valid.clone();
        f(commit_mut(&mut m));
        resign(cs, &mut m, &sk, ob);
        m
    };
    let ext_init = ProposalOrRef::Proposal(Proposal::ExternalInit(ExternalInit {
        kem_output: VarBytes(vec![1; 32]),
    }));
    let m = forge(&|c| c.proposals.push(ext_init.clone()), &ob);
    refused(cs, &mut ob, &m, |e| is_rule(e, "exactly one ExternalInit"));
    let m = forge(&|c| c.proposals = VarVec(vec![]), &ob);
    refused(cs, &mut ob, &m, |e| is_rule(e, "exactly one ExternalInit"));
    let add = ProposalOrRef::Proposal(Proposal::Add(Add {
        key_package: bundle(cs, "x").unwrap().key_package,
    }));
    let m = forge(&|c| c.proposals.push(add.clone()), &ob);
    refused(cs, &mut ob, &m, |e| {
        is_rule(e, "not allowed in an external commit")
    });
    let by_ref = ProposalOrRef::Reference(ProposalRef(VarBytes(vec![7; 32])));
    let m = forge(&|c| c.proposals.push(by_ref.clone()), &ob);
    refused(cs, &mut ob, &m, |e| {
        is_rule(e, "by reference in an external commit")
    });
    let m = forge(&|c| c.path = None, &ob);
    refused(cs, &mut ob, &m, |e| is_rule(e, "without path"));
    let rm = |l: u32| ProposalOrRef::Proposal(Proposal::Remove(Remove { removed: l }));
    let m = forge(
        &|c| {
            c.proposals.push(rm(2));
            c.proposals.push(rm(3));
        },
        &ob,
    );
    refused(cs, &mut ob, &m, |e| is_rule(e, "more than one Remove"));
    // "joiner" removing "m1"'s leaf is not a resync.
    let m = forge(&|c| c.proposals.push(rm(2)), &ob);
    refused(cs, &mut ob, &m, |e| {
        is_rule(e, "resync Remove of another member")
    });
    // The valid one still goes through afterwards.
    assert!(ob.process(cs, &valid).is_ok());
}

/// A committed ReInit: the observer agrees with the members, records the ReInit (also
/// across a reload) and refuses every later message with `ReInitialised`; a ReInit with
/// another proposal beside it is refused.
#[test]
fn observer_tracks_reinit_and_refuses_the_old_group() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..3)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, mut b) = group_pair(cs, b"reinit", &creator, &pool, 3).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let reinit = ReInit {
        group_id: VarBytes(b"reinit-2".to_vec()),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        extensions: VarVec::default(),
    };
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::ReInit(reinit.clone())],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let msg = out.commit.clone();
    // Not alone: the same commit with an Add beside the ReInit.
    let mut bad = msg.clone();
    commit_mut(&mut bad)
        .proposals
        .push(ProposalOrRef::Proposal(Proposal::Add(Add {
            key_package: bundle(cs, "y").unwrap().key_package,
        })));
    resign(cs, &mut bad, &creator.signature_private_key, &ob);
    refused(cs, &mut ob, &bad, |e| is_rule(e, "ReInit not alone"));
    assert!(ob.reinit().is_none());

    a.merge_staged_commit(out.staged).unwrap();
    apply(cs, &mut b, &msg);
    ob.process(cs, &msg).unwrap();
    agree(&mut ob, cs, &a);
    assert_eq!(ob.reinit(), Some(&reinit));
    assert_eq!(b.pending_reinit(), Some(&reinit));
    // Any further message for the old group: a replay, and a commit forged for the new
    // epoch by a former member.
    refused(cs, &mut ob, &msg, |e| *e == ObserverError::ReInitialised);
    let mut next = msg.clone();
    if let MlsMessageBody::PublicMessage(pm) = &mut next.body {
        pm.content.epoch = ob.epoch();
    }
    resign(cs, &mut next, &creator.signature_private_key, &ob);
    refused(cs, &mut ob, &next, |e| *e == ObserverError::ReInitialised);
    // The ReInit survives a reload, and so does the refusal.
    let mut reloaded = Observer::from_bytes(cs, &ob.to_bytes().unwrap()).unwrap();
    assert_eq!(reloaded.reinit(), Some(&reinit));
    refused(cs, &mut reloaded, &next, |e| {
        *e == ObserverError::ReInitialised
    });
}

/// A bundle whose leaf lists `credentials` (basic first) in its capabilities.
fn bundle_with(cs: &dyn CipherSuiteProvider, name: &str, credentials: &[u16]) -> KeyPackageBundle {
    bundle_with_caps(cs, name, |caps| {
        caps.credentials = VarVec(credentials.iter().map(|&t| CredentialType(t)).collect());
    })
}

/// A bundle whose leaf lists `extensions` (non-default types) in its capabilities.
fn bundle_with_extensions(
    cs: &dyn CipherSuiteProvider,
    name: &str,
    extensions: &[ExtensionType],
) -> KeyPackageBundle {
    bundle_with_caps(cs, name, |caps| {
        caps.extensions = VarVec(extensions.to_vec())
    })
}

/// A bundle whose leaf has the default capabilities as changed by `edit`.
fn bundle_with_caps(
    cs: &dyn CipherSuiteProvider,
    name: &str,
    edit: impl FnOnce(&mut mls_engine::messages::Capabilities),
) -> KeyPackageBundle {
    let (sk, _) = cs.signature_generate().unwrap();
    let credential = Credential::basic(name);
    let mut caps = default_capabilities(cs.cipher_suite(), &credential);
    edit(&mut caps);
    let mut opts = KeyPackageOptions::new(0, u64::MAX);
    opts.capabilities = Some(caps);
    generate_key_package(cs, credential, sk, opts).unwrap()
}

fn required_x509() -> Extension {
    Extension::from_value(&RequiredCapabilities {
        extension_types: VarVec::default(),
        proposal_types: VarVec::default(),
        credential_types: VarVec(vec![CredentialType(1), CredentialType(2)]),
    })
    .unwrap()
}

/// In a group requiring support for credential types 1 and 2: an Add of a KeyPackage and a
/// commit path leaf that list only type 1 are refused (`Unsupported`), state unchanged;
/// the valid versions are accepted.
#[test]
fn observer_enforces_required_capabilities_on_new_leaves() {
    let cs = fixture::suite().unwrap();
    let creator = bundle_with(cs, "creator", &[1, 2]);
    let member = bundle_with(cs, "m", &[1, 2]);
    let mut a = Group::create(
        cs,
        &creator,
        b"rc".to_vec(),
        vec![required_x509()],
        config(),
    )
    .unwrap();
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: member.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let sk = &creator.signature_private_key;

    // Add: a valid commit adding a supporting KeyPackage, with the KeyPackage swapped.
    let good = bundle_with(cs, "good", &[1, 2]);
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: good.key_package.clone(),
                })],
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let mut bad = out.commit.clone();
    let weak = bundle_with(cs, "weak", &[1]);
    commit_mut(&mut bad).proposals = VarVec(vec![ProposalOrRef::Proposal(Proposal::Add(Add {
        key_package: weak.key_package.clone(),
    }))]);
    resign(cs, &mut bad, sk, &ob);
    refused(cs, &mut ob, &bad, |e| {
        matches!(
            e,
            ObserverError::Unsupported {
                what: "required_capabilities",
                ..
            }
        )
    });
    // Path leaf without the capability (its signature is not even reached).
    let mut bad = out.commit.clone();
    let path = commit_mut(&mut bad).path.as_mut().expect("path commit");
    let mut content = path.leaf_node.to_be_signed(None).expect("content");
    content.capabilities.credentials = VarVec(vec![CredentialType(1)]);
    path.leaf_node = mls_engine::messages::LeafNode::from_tbs(&content, path.leaf_node.signature())
        .expect("leaf");
    resign(cs, &mut bad, sk, &ob);
    refused(cs, &mut ob, &bad, |e| {
        matches!(
            e,
            ObserverError::Unsupported {
                leaf: 0,
                what: "required_capabilities"
            }
        )
    });
    // The genuine commit is accepted and agrees.
    ob.process(cs, &out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    agree(&mut ob, cs, &a);
}

/// RFC 9420 §7.3: a new leaf must list the group's version and cipher suite. A valid commit
/// with its Add's KeyPackage swapped for one whose capabilities name only another suite is
/// refused, state unchanged; the genuine commit is accepted and agrees.
#[test]
fn observer_refuses_a_leaf_without_the_groups_cipher_suite() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..2)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, _) = group_pair(cs, b"suites", &creator, &pool, 2).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let good = bundle(cs, "good").unwrap();
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: good.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    // The same KeyPackage, its leaf listing only suite 2 and signed again by its owner.
    let mut kp = good.key_package.clone();
    let mut tbs = kp.leaf_node.to_be_signed(None).unwrap();
    tbs.capabilities.cipher_suites = VarVec(vec![CipherSuite(2)]);
    kp.leaf_node = mls_engine::group::sign_leaf(
        cs,
        tbs,
        &good.signature_private_key,
        &[],
        mls_engine::tree_math::LeafIndex(0),
    )
    .unwrap();
    let kp_tbs = mls_engine::codec::encode(&kp.to_be_signed()).unwrap();
    kp.signature = VarBytes(
        mls_engine::crypto::labels::sign_with_label(
            cs,
            &good.signature_private_key,
            "KeyPackageTBS",
            &kp_tbs,
        )
        .unwrap(),
    );
    let mut bad = out.commit.clone();
    commit_mut(&mut bad).proposals = VarVec(vec![ProposalOrRef::Proposal(Proposal::Add(Add {
        key_package: kp,
    }))]);
    resign(cs, &mut bad, &creator.signature_private_key, &ob);
    refused(cs, &mut ob, &bad, |e| {
        matches!(
            e,
            ObserverError::KeyPackage {
                error: KeyPackageError::LeafNode(LeafNodeError::Capabilities),
                ..
            } | ObserverError::TreeValidation(
                mls_engine::tree::TreeValidationError::GroupParametersUnsupported { .. }
            )
        )
    });
    ob.process(cs, &out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    agree(&mut ob, cs, &a);
}

/// RFC 9420 §17.3: a GroupContextExtensions carrying `application_id`, `ratchet_tree` or
/// `external_pub` (registered for LeafNodes and GroupInfos only) is refused by the observer
/// as by a member, state unchanged; one with `required_capabilities` is accepted.
#[test]
fn observer_refuses_extensions_not_registered_for_the_group_context() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..2)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, _) = group_pair(cs, b"registry", &creator, &pool, 2).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let gce = |e: Extension| {
        Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec(vec![e]),
        })
    };
    let rc = Extension::from_value(&RequiredCapabilities::default()).unwrap();
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![gce(rc)],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    // A ReInit's extensions are the new group's GroupContext extensions (§11.2).
    let reinit = |e: Extension| {
        Proposal::ReInit(ReInit {
            group_id: VarBytes(b"next".to_vec()),
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            extensions: VarVec(vec![e]),
        })
    };
    for t in [1u16, 2, 4, 10] {
        let misplaced = Extension {
            extension_type: ExtensionType(t),
            extension_data: VarBytes(vec![0]),
        };
        for proposal in [gce(misplaced.clone()), reinit(misplaced)] {
            let mut bad = out.commit.clone();
            commit_mut(&mut bad).proposals = VarVec(vec![ProposalOrRef::Proposal(proposal)]);
            resign(cs, &mut bad, &creator.signature_private_key, &ob);
            refused(cs, &mut ob, &bad, |e| {
                is_rule(e, "an extension not allowed in the GroupContext")
            });
        }
    }
    ob.process(cs, &out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    agree(&mut ob, cs, &a);
}

/// GroupContextExtensions: a forged one naming an extension type a member does not list,
/// or new required capabilities a member does not meet, is refused (`Unsupported`), state
/// unchanged; a supported one is accepted and agrees with the member.
#[test]
fn observer_checks_group_context_extensions_are_supported() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..3)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, _) = group_pair(cs, b"gce", &creator, &pool, 3).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::GroupContextExtensions(GroupContextExtensions {
                    extensions: VarVec::default(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let sk = &creator.signature_private_key;
    let with_exts = |exts: Vec<Extension>, ob: &Observer| {
        let mut m = out.commit.clone();
        commit_mut(&mut m).proposals = VarVec(vec![ProposalOrRef::Proposal(
            Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: VarVec(exts),
            }),
        )]);
        resign(cs, &mut m, sk, ob);
        m
    };
    let unknown = Extension {
        extension_type: ExtensionType(0xff00),
        extension_data: VarBytes(vec![1]),
    };
    let m = with_exts(vec![unknown], &ob);
    refused(cs, &mut ob, &m, |e| {
        matches!(
            e,
            ObserverError::Unsupported {
                what: "GroupContextExtensions extension",
                ..
            }
        )
    });
    let m = with_exts(vec![required_x509()], &ob);
    refused(cs, &mut ob, &m, |e| {
        matches!(
            e,
            ObserverError::Unsupported {
                what: "new required_capabilities",
                ..
            }
        )
    });
    // RFC 9420 §13: an extension type twice, or an `external_senders` that does not decode.
    let m = with_exts(vec![required_x509(), required_x509()], &ob);
    refused(cs, &mut ob, &m, |e| is_rule(e, "an extension type twice"));
    let garbled = Extension {
        extension_type: ExtensionType::EXTERNAL_SENDERS,
        extension_data: VarBytes(vec![0xff]),
    };
    let m = with_exts(vec![garbled], &ob);
    refused(cs, &mut ob, &m, |e| {
        is_rule(e, "malformed external_senders")
    });
    ob.process(cs, &out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    agree(&mut ob, cs, &a);
}

/// RFC 9420 §13: in a group with a GroupContext extension of a non-default type, an Add whose
/// KeyPackage does not list that type is refused (as the member refuses it), state unchanged;
/// one that lists it is accepted. A GroupInfo listing an extension type twice is refused.
#[test]
fn observer_refuses_adds_lacking_a_group_context_extension() {
    let cs = fixture::suite().unwrap();
    let x = ExtensionType(0xff00);
    let with_x = |name: &str, supports: bool| {
        let listed = if supports { vec![x] } else { vec![] };
        bundle_with_extensions(cs, name, &listed)
    };
    let ext_x = Extension {
        extension_type: x,
        extension_data: VarBytes(vec![]),
    };
    let creator = with_x("creator", true);
    let a = Group::create(cs, &creator, b"x".to_vec(), vec![ext_x], config()).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let good = with_x("good", true);
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: good.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let mut bad = out.commit.clone();
    let weak = with_x("weak", false);
    commit_mut(&mut bad).proposals = VarVec(vec![ProposalOrRef::Proposal(Proposal::Add(Add {
        key_package: weak.key_package.clone(),
    }))]);
    resign(cs, &mut bad, &creator.signature_private_key, &ob);
    refused(cs, &mut ob, &bad, |e| {
        matches!(
            e,
            ObserverError::KeyPackage {
                index: 0,
                error: KeyPackageError::LeafNode(LeafNodeError::GroupExtensionUnsupported(0xff00)),
            }
        )
    });
    ob.process(cs, &out.commit).unwrap();

    let mut gi = gi_of(cs, &a);
    let again = gi.extensions.0[0].clone();
    gi.extensions.0.push(again);
    assert!(matches!(
        Observer::from_group_info(cs, gi, None, mls_engine::tree::LifetimePolicy::Ignore),
        Err(ObserverError::Unexpected(_))
    ));
}

/// Keys no one can encrypt to (X25519's all-zero point) in an UpdatePath node, a path's leaf
/// or an added KeyPackage's init key: refused as the member refuses them, state unchanged.
#[test]
fn observer_refuses_keys_no_one_can_encrypt_to() {
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..4)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (a, _) = group_pair(cs, b"keys", &creator, &pool, 3).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let sk = &creator.signature_private_key;
    let zero = mls_engine::crypto::HpkePublicKey::from(vec![0u8; 32]);
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: pool[3].key_package.clone(),
                })],
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let named = |e: &ObserverError, what: &str| format!("{e:?}").contains(what);

    let mut bad = out.commit.clone();
    commit_mut(&mut bad).path.as_mut().unwrap().nodes.0[0].encryption_key = zero.clone();
    resign(cs, &mut bad, sk, &ob);
    refused(cs, &mut ob, &bad, |e| named(e, "InvalidEncryptionKey"));

    let mut bad = out.commit.clone();
    let path = commit_mut(&mut bad).path.as_mut().unwrap();
    let mut content = path.leaf_node.to_be_signed(None).unwrap();
    content.encryption_key = zero.clone();
    path.leaf_node =
        mls_engine::messages::LeafNode::from_tbs(&content, path.leaf_node.signature()).unwrap();
    resign(cs, &mut bad, sk, &ob);
    refused(cs, &mut ob, &bad, |e| named(e, "InvalidEncryptionKey"));

    let mut bad = out.commit.clone();
    let mut kp = pool[3].key_package.clone();
    kp.init_key = zero;
    commit_mut(&mut bad).proposals.0[0] =
        ProposalOrRef::Proposal(Proposal::Add(Add { key_package: kp }));
    resign(cs, &mut bad, sk, &ob);
    refused(cs, &mut ob, &bad, |e| named(e, "InvalidInitKey"));

    ob.process(cs, &out.commit).unwrap();
}

/// RFC 9420 §12.1.7, "excluding those removed": a GroupContextExtensions that a member does
/// not support is accepted beside a Remove of that member, and refused without it (forged and
/// signed again by the committer), as the member judges it.
#[test]
fn observer_judges_group_context_extensions_after_removes() {
    let cs = fixture::suite().unwrap();
    let x = ExtensionType(0xff00);
    let creator = bundle_with_extensions(cs, "creator", &[x]);
    let lacking = bundle(cs, "lacking").unwrap();
    let mut a = Group::create(cs, &creator, b"rm".to_vec(), vec![], config()).unwrap();
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: lacking.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec(vec![Extension {
            extension_type: x,
            extension_data: VarBytes(vec![]),
        }]),
    });
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals: vec![gce, Proposal::Remove(Remove { removed: 1 })],
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let mut bad = out.commit.clone();
    commit_mut(&mut bad).proposals.0.pop();
    resign(cs, &mut bad, &creator.signature_private_key, &ob);
    refused(cs, &mut ob, &bad, |e| {
        matches!(
            e,
            ObserverError::Unsupported {
                leaf: 1,
                what: "GroupContextExtensions extension"
            }
        )
    });
    ob.process(cs, &out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    agree(&mut ob, cs, &a);
}
