//! Differential interop: what our committer builds from edited proposals, OpenMLS and mls-rs
//! must accept.
//!
//! A group of three: our engine's committer (driven through its own API, so it can commit any
//! proposal by value), an OpenMLS member and an mls-rs member. A template proposal (an Add of
//! a new member's KeyPackage, signed again by its owner after the edit, or a
//! GroupContextExtensions) has its encoding edited by a deterministic script; when our
//! committer accepts to commit the result (RFC 9420 §12.2 validation, §10.1 KeyPackage checks,
//! §7.3 leaf checks, §13 extension rules), both peers process the commit, and each must reach
//! the same epoch authenticator as the committer (a new member must join from the Welcome).
//! A peer refusing what we build is either our bug or theirs; each kind found is explained in
//! `INTEROP.md` and recognised by [`known`]. Its first run found our committer adding a
//! KeyPackage whose capabilities did not list the group's cipher suite, which RFC 9420 §7.3
//! ("compatible with the group's parameters") forbids and OpenMLS refused; the engine now
//! refuses such leaves (`received_rules::a_leaf_must_list_the_groups_version_and_cipher_suite`).

use std::time::{SystemTime, UNIX_EPOCH};

use mls_engine::codec::{decode_exact, encode, VarBytes, VarVec};
use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use mls_engine::group::{
    generate_key_package, CommitOptions, Group, GroupConfig, KeyPackageBundle, KeyPackageOptions,
    ProcessedMessage,
};
use mls_engine::messages::{
    Add, Capabilities, Credential, CredentialType, Extension, ExtensionType, ExternalSender,
    ExternalSenders, GroupContextExtensions, MlsMessage, MlsMessageBody, Proposal, ProtocolVersion,
    ReInit, Remove, RequiredCapabilities,
};
use mls_peers::{new_client, InteropClient, Peer, Processed, TEST_EXTENSION_TYPE};

// The fuzz crate's edit scripts and re-signing (`fuzz/src/group.rs`, `fuzz/src/committer.rs`),
// shared with the engine's property tests.
#[path = "../../../fuzz/src/committer.rs"]
#[allow(unreachable_pub, dead_code)]
mod committer;
#[path = "../../../fuzz/src/group.rs"]
#[allow(unreachable_pub, dead_code)]
mod group;

use committer::resign_key_package;
use group::{edit, sample_scripts};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn cs() -> AwsLcSuite {
    AwsLcSuite::new(CipherSuite(1)).expect("suite 1")
}

fn capabilities() -> Capabilities {
    Capabilities {
        versions: VarVec(vec![ProtocolVersion::MLS10]),
        cipher_suites: VarVec(vec![CipherSuite(1)]),
        extensions: VarVec(vec![ExtensionType(TEST_EXTENSION_TYPE)]),
        proposals: VarVec::default(),
        credentials: VarVec(vec![CredentialType::BASIC]),
    }
}

fn bundle(name: &str) -> KeyPackageBundle {
    let (sk, _) = cs().signature_generate().expect("key pair");
    bundle_with(name, sk, vec![], vec![])
}

/// A KeyPackage of `name` signed with `sk`, valid from an hour ago for 90 days, with the
/// test's capabilities (plus the types of `extensions`, which a KeyPackage must list) and
/// these leaf and KeyPackage extensions.
fn bundle_with(
    name: &str,
    sk: mls_engine::crypto::Secret,
    leaf_extensions: Vec<Extension>,
    extensions: Vec<Extension>,
) -> KeyPackageBundle {
    let t = now();
    let mut options = KeyPackageOptions::new(t - 3600, t + 90 * 24 * 3600);
    let mut listed = capabilities();
    listed
        .extensions
        .0
        .extend(extensions.iter().map(|e| e.extension_type));
    options.capabilities = Some(listed);
    options.leaf_extensions = leaf_extensions;
    options.extensions = extensions;
    generate_key_package(&cs(), Credential::basic(name), sk, options).expect("KeyPackage")
}

/// The second Add template's KeyPackage, so that edits reach the extension rules of a leaf
/// and a KeyPackage: the test extension in its leaf, `last_resort` in the KeyPackage, both
/// listed in its capabilities (not an `application_id` in the leaf: mls-rs refuses every leaf
/// carrying one, difference 20). It has `dave`'s signature key, with which [`edited`] signs it
/// again.
fn extended_key_package(dave: &KeyPackageBundle) -> mls_engine::messages::KeyPackage {
    let leaf = Extension {
        extension_type: ExtensionType(TEST_EXTENSION_TYPE),
        extension_data: VarBytes(b"leaf".to_vec()),
    };
    let last_resort = Extension {
        extension_type: ExtensionType::LAST_RESORT,
        extension_data: VarBytes::default(),
    };
    let sk = dave.signature_private_key.clone();
    bundle_with("erin", sk, vec![leaf], vec![last_resort]).key_package
}

/// Our committer and the two peers, all at epoch 1.
struct Fixture {
    committer: Group,
    peers: Vec<Box<dyn InteropClient>>,
}

fn fixture() -> Fixture {
    let (committer, _, peers) = group_with_peers(b"differential", None);
    Fixture { committer, peers }
}

/// A group created by our member `ours`, which adds an OpenMLS member, an mls-rs member and,
/// when given, our second member `receiver` (from its KeyPackage bundle) in one commit; all at
/// epoch 1.
fn group_with_peers(
    group_id: &[u8],
    receiver: Option<&KeyPackageBundle>,
) -> (Group, Option<Group>, Vec<Box<dyn InteropClient>>) {
    let cs = cs();
    let config = GroupConfig::default().at_time(now());
    let mut ours =
        Group::create(&cs, &bundle("ours"), group_id.to_vec(), vec![], config).expect("create");
    let mut peers: Vec<_> = [Peer::OpenMls, Peer::MlsRs]
        .into_iter()
        .map(|p| new_client(p, p.name().as_bytes()).expect("client"))
        .collect();
    let mut adds: Vec<_> = peers
        .iter_mut()
        .map(|p| {
            let kp = p.key_package().expect("key package");
            match MlsMessage::from_bytes(&kp).expect("decode").body {
                MlsMessageBody::KeyPackage(key_package) => Proposal::Add(Add { key_package }),
                _ => panic!("not a KeyPackage"),
            }
        })
        .collect();
    adds.extend(receiver.map(|b| {
        Proposal::Add(Add {
            key_package: b.key_package.clone(),
        })
    }));
    // The peers' KeyPackages start their lifetime when they are made (mls-rs: not before
    // "now"), so our time is read after them.
    ours.set_time(now());
    let out = ours
        .commit(
            &cs,
            CommitOptions {
                proposals: adds,
                ..CommitOptions::default()
            },
        )
        .expect("commit");
    ours.merge_staged_commit(out.staged).expect("merge");
    let welcome = out.welcome.expect("Welcome");
    let joined = receiver.map(|b| {
        let options = mls_engine::group::JoinOptions {
            config: GroupConfig::default().at_time(now()),
            ..Default::default()
        };
        Group::join(&cs, &welcome, b, options).expect("join")
    });
    let welcome = welcome.into_bytes();
    for p in &mut peers {
        p.join(&welcome, None).expect("join");
    }
    (ours, joined, peers)
}

/// `template`'s encoding edited by `script`, if it still decodes; an Add's KeyPackage is
/// signed again by its owner `new_member`.
fn edited(template: &Proposal, script: &[u8], new_member: &KeyPackageBundle) -> Option<Proposal> {
    let bytes = edit(&encode(template).expect("encode"), script);
    Some(match decode_exact::<Proposal>(&bytes).ok()? {
        Proposal::Add(Add { key_package }) => Proposal::Add(Add {
            key_package: resign_key_package(key_package, &new_member.signature_private_key),
        }),
        other => other,
    })
}

/// How many edit scripts each direction tries: 2,400, or `MLS_DIFFERENTIAL_CASES` (for longer
/// runs outside the test command).
fn cases() -> usize {
    std::env::var("MLS_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2400)
}

/// Whether a peer's refusal of a commit we built is a difference explained in `INTEROP.md`:
/// OpenMLS cannot decode a ReInit proposal to a cipher suite it does not know (its
/// `Ciphersuite` is a closed enum: `UnknownValue`), which RFC 9420 does not forbid
/// (difference 13); mls-rs hands the external senders of a new GroupContext to the
/// application's identity provider, and the basic one it runs with here refuses every
/// credential but a basic one (difference 21).
fn known(peer: &str, proposal: &Proposal, error: &str) -> bool {
    let known_suite = |s: CipherSuite| (1..=7).contains(&s.0);
    let non_basic_sender = |g: &GroupContextExtensions| {
        Extension::find::<ExternalSenders>(&g.extensions.0).is_some_and(|senders| {
            senders.is_ok_and(|s| {
                s.0.iter()
                    .any(|e| e.credential.credential_type() != CredentialType::BASIC)
            })
        })
    };
    match (peer, proposal) {
        ("openmls", Proposal::ReInit(r)) => {
            !known_suite(r.cipher_suite) && error.contains("UnknownValue")
        }
        ("mls-rs", Proposal::GroupContextExtensions(g)) => {
            non_basic_sender(g) && error.contains("BasicIdentityProviderError(CredentialType(")
        }
        _ => false,
    }
}

/// The GroupContextExtensions template of both directions: `required_capabilities` naming the
/// test's extension type, which every member lists, an extension of that type, and
/// `external_senders` with one sender.
fn gce_template() -> Proposal {
    Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec(vec![
            Extension::from_value(&RequiredCapabilities {
                extension_types: VarVec(vec![ExtensionType(TEST_EXTENSION_TYPE)]),
                proposal_types: VarVec::default(),
                credential_types: VarVec(vec![CredentialType::BASIC]),
            })
            .expect("encode"),
            Extension {
                extension_type: ExtensionType(TEST_EXTENSION_TYPE),
                extension_data: VarBytes(b"differential".to_vec()),
            },
            Extension::from_value(&ExternalSenders(VarVec(vec![ExternalSender {
                signature_key: cs().signature_generate().expect("key pair").1,
                credential: Credential::basic("external sender"),
            }])))
            .expect("encode"),
        ]),
    })
}

/// The ReInit template of both directions, carrying the GroupContextExtensions template's
/// extensions (the new group's GroupContext extensions, which edits may make misplaced,
/// repeated or malformed).
fn reinit_template() -> Proposal {
    let Proposal::GroupContextExtensions(gce) = gce_template() else {
        unreachable!("gce_template is a GroupContextExtensions")
    };
    Proposal::ReInit(ReInit {
        group_id: VarBytes(b"next".to_vec()),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        extensions: gce.extensions,
    })
}

#[test]
fn peers_accept_what_our_committer_builds_from_edited_proposals() {
    let cs = cs();
    let dave = bundle("dave");
    let templates = [
        Proposal::Add(Add {
            key_package: dave.key_package.clone(),
        }),
        Proposal::Add(Add {
            key_package: extended_key_package(&dave),
        }),
        gce_template(),
        Proposal::Remove(Remove { removed: 2 }),
        reinit_template(),
    ];
    let mut f = fixture();
    let (mut committed, mut unknown) = (0, Vec::new());
    for (i, script) in sample_scripts(0x5eed_1234, cases()).into_iter().enumerate() {
        let template = &templates[i % templates.len()];
        let Some(proposal) = edited(template, &script, &dave) else {
            continue;
        };
        let mut committer = f.committer.clone();
        committer.set_time(now());
        let Ok(out) = committer.commit(
            &cs,
            CommitOptions {
                proposals: vec![proposal.clone()],
                force_path: i % 3 == 0,
                ..CommitOptions::default()
            },
        ) else {
            continue;
        };
        committed += 1;
        committer.merge_staged_commit(out.staged).expect("merge");
        let commit = encode(&out.commit).expect("encode");
        let mut moved = false;
        for p in &mut f.peers {
            match p.process(&commit) {
                Ok(Processed::Commit { removed_self: true }) => moved = true,
                Ok(Processed::Commit { .. }) => {
                    moved = true;
                    assert_eq!(
                        p.epoch_authenticator().expect("authenticator"),
                        committer.epoch_authenticator().as_bytes(),
                        "{} after case {i}",
                        p.name()
                    );
                }
                Ok(other) => panic!("{}: {other:?}", p.name()),
                Err(e) => {
                    let text = e.to_string();
                    if !known(p.name(), &proposal, &text) {
                        unknown.push(format!("case {i} ({proposal:?}): {text}"));
                    }
                }
            }
        }
        if moved {
            f = fixture();
        }
    }
    eprintln!("{committed} commits built from edited proposals");
    assert!(
        committed >= 20,
        "too few cases reached the peers: {committed}"
    );
    assert!(
        unknown.is_empty(),
        "peers refused what we built:\n{}",
        unknown.join("\n")
    );
}

/// Difference 20 (mls-rs's): our committer adds a KeyPackage whose leaf carries an
/// `application_id` that its capabilities do not list, as RFC 9420 §7.2 exempts (and forbids
/// listing) the default types. OpenMLS follows the commit to our epoch; mls-rs refuses it
/// (`ExtensionNotInCapabilities`). Should mls-rs change, this fails and `INTEROP.md` is to be
/// updated.
#[test]
fn a_leaf_with_an_application_id_is_refused_by_mls_rs_only() {
    let cs = cs();
    let app_id = Extension {
        extension_type: ExtensionType::APPLICATION_ID,
        extension_data: VarBytes(encode(&VarBytes(b"erin".to_vec())).expect("encode")),
    };
    let (sk, _) = cs.signature_generate().expect("key pair");
    let erin = bundle_with("erin", sk, vec![app_id], vec![]);
    let mut f = fixture();
    f.committer.set_time(now());
    let out = f
        .committer
        .commit(
            &cs,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: erin.key_package,
                })],
                ..CommitOptions::default()
            },
        )
        .expect("our committer adds it (§7.2)");
    f.committer.merge_staged_commit(out.staged).expect("merge");
    let commit = encode(&out.commit).expect("encode");
    for p in &mut f.peers {
        let result = p.process(&commit);
        match p.name() {
            "openmls" => {
                assert!(
                    matches!(
                        result,
                        Ok(Processed::Commit {
                            removed_self: false
                        })
                    ),
                    "openmls: {result:?}"
                );
                assert_eq!(
                    p.epoch_authenticator().expect("authenticator"),
                    f.committer.epoch_authenticator().as_bytes()
                );
            }
            "mls-rs" => {
                let e = result.expect_err("mls-rs refuses the leaf");
                assert!(
                    e.to_string().contains("ExtensionNotInCapabilities"),
                    "mls-rs: {e}"
                );
            }
            other => panic!("unexpected peer {other}"),
        }
    }
}

/// The secret of the external PSK every member of [`Fixture2`] holds.
const PSK_SECRET: &[u8] = b"external psk secret, 32 bytes!!";
const PSK_ID: &[u8] = b"differential psk";

/// Our proposer and our receiver (engine API), an OpenMLS member and an mls-rs member, all at
/// epoch 1 and all holding the external PSK [`PSK_ID`].
struct Fixture2 {
    proposer: Group,
    receiver: Group,
    peers: Vec<Box<dyn InteropClient>>,
}

fn fixture2() -> Fixture2 {
    let (mut proposer, receiver, mut peers) =
        group_with_peers(b"differential 2", Some(&bundle("receiver")));
    let mut receiver = receiver.expect("our receiver");
    for p in &mut peers {
        p.register_external_psk(PSK_ID, PSK_SECRET).expect("psk");
    }
    for g in [&mut proposer, &mut receiver] {
        g.add_external_psk(
            PSK_ID.to_vec(),
            mls_engine::crypto::Secret::from_slice(PSK_SECRET),
        );
    }
    Fixture2 {
        proposer,
        receiver,
        peers,
    }
}

/// The other direction: a proposal our member sends (edited, then proposed by it: it must
/// pass our own proposer's checks) is received by both peers and by our receiver; each peer in
/// turn commits it, and our receiver (and our proposer) must accept the commit the peer
/// builds, to the same epoch authenticator. A peer refusing a proposal we sent, or our
/// receiver refusing a peer's commit, is a difference to explain.
#[test]
fn we_accept_what_peers_commit_from_our_edited_proposals() {
    let cs = cs();
    let dave = bundle("dave");
    let templates = [
        Proposal::Add(Add {
            key_package: dave.key_package.clone(),
        }),
        Proposal::Add(Add {
            key_package: extended_key_package(&dave),
        }),
        gce_template(),
        Proposal::Remove(Remove { removed: 3 }),
        Proposal::PreSharedKey(mls_engine::messages::PreSharedKey {
            psk: mls_engine::messages::PreSharedKeyId {
                psk: mls_engine::messages::Psk::External(mls_engine::messages::ExternalPsk {
                    psk_id: VarBytes(PSK_ID.to_vec()),
                }),
                psk_nonce: VarBytes(vec![7; 32]),
            },
        }),
        reinit_template(),
    ];
    let mut f = fixture2();
    let (mut proposed, mut committed, mut differences) = (0, 0, Vec::new());
    for (i, script) in sample_scripts(0xd1ff_2024, cases()).into_iter().enumerate() {
        let template = &templates[i % templates.len()];
        let Some(proposal) = edited(template, &script, &dave) else {
            continue;
        };
        let mut proposer = f.proposer.clone();
        proposer.set_time(now());
        let Ok((msg, _)) = proposer.propose(&cs, proposal.clone()) else {
            continue;
        };
        proposed += 1;
        let msg = encode(&msg).expect("encode");
        let mut receiver = f.receiver.clone();
        receiver.set_time(now());
        assert!(
            matches!(
                receiver.process_message_bytes(&cs, &msg),
                Ok(ProcessedMessage::Proposal(_))
            ),
            "case {i}: our receiver refused our proposer's {proposal:?}"
        );
        // The peers take turns per template (each template is committed by both). Peer j is
        // at leaf j + 1. A committer may not commit its own removal (RFC 9420 §12.2), so the
        // other peer commits a Remove of the first choice.
        let mut by = (i / templates.len()) % 2;
        if matches!(&proposal, Proposal::Remove(r) if r.removed as usize == by + 1) {
            by = 1 - by;
        }
        let mut accepted = [false; 2];
        for (j, p) in f.peers.iter_mut().enumerate() {
            match p.process(&msg) {
                Ok(Processed::Proposal) => accepted[j] = true,
                Ok(other) => panic!("{}: {other:?}", p.name()),
                Err(e) if known(p.name(), &proposal, &e.to_string()) => {}
                Err(e) => differences.push(format!(
                    "case {i}: {} refused our proposal {proposal:?}: {e}",
                    p.name()
                )),
            }
        }
        if !accepted[by] {
            if accepted.contains(&true) {
                f = fixture2();
            }
            continue;
        }
        let out = match f.peers[by].commit(vec![], false) {
            Ok(out) => out,
            Err(e) => {
                differences.push(format!(
                    "case {i}: {} accepted {proposal:?} but cannot commit it: {e}",
                    f.peers[by].name()
                ));
                f = fixture2();
                continue;
            }
        };
        f.peers[by].merge_pending_commit().expect("merge");
        committed += 1;
        let authenticator = f.peers[by].epoch_authenticator().expect("authenticator");
        for (name, g) in [("receiver", &mut receiver), ("proposer", &mut proposer)] {
            match g.process_message_bytes(&cs, &out.commit) {
                Ok(ProcessedMessage::Commit(staged)) => {
                    let removed = staged.removes_self();
                    g.merge_staged_commit(*staged).expect("merge");
                    if !removed {
                        assert_eq!(
                            g.epoch_authenticator().as_bytes(),
                            authenticator,
                            "case {i}: our {name} after {}'s commit",
                            f.peers[by].name()
                        );
                    }
                }
                Ok(other) => panic!("case {i}: {other:?}"),
                Err(e) => differences.push(format!(
                    "case {i}: our {name} refused {}'s commit of {proposal:?}: {e:?}",
                    f.peers[by].name()
                )),
            }
        }
        f = fixture2();
    }
    eprintln!("{proposed} proposals sent, {committed} committed by a peer");
    assert!(
        committed >= 20,
        "too few cases reached a commit: {committed}"
    );
    assert!(
        differences.is_empty(),
        "differences:\n{}",
        differences.join("\n")
    );
}

/// Difference 15 in `INTEROP.md`, kept observable: a proposal no member could commit (here a
/// Remove of a blank leaf, which our `Group::propose` refuses to send; the test hook sends it
/// as a faulty or hostile member would) is cached by OpenMLS, which then fails every commit of
/// the epoch; mls-rs refuses it on receipt or leaves it out; our committer leaves it out and
/// reports it, and both peers accept that commit.
#[test]
fn a_proposal_no_one_can_commit_stops_openmls_commits() {
    let cs = cs();
    let mut f = fixture2();
    let (msg, _) = f
        .proposer
        .propose_unchecked_for_tests(&cs, Proposal::Remove(Remove { removed: 9 }))
        .expect("sent");
    let msg = encode(&msg).expect("encode");
    assert!(matches!(
        f.receiver.process_message_bytes(&cs, &msg),
        Ok(ProcessedMessage::Proposal(_))
    ));
    for p in &mut f.peers {
        let _ = p.process(&msg);
    }
    let openmls = f.peers[0].commit(vec![], true);
    assert!(
        matches!(&openmls, Err(e) if e.to_string().contains("UnknownMemberRemoval")),
        "OpenMLS committed: {openmls:?}"
    );
    f.peers[1].commit(vec![], true).expect("mls-rs commits");
    f.peers[1].discard_pending_commit().expect("discard");
    f.peers[0].discard_pending_commit().ok();
    f.receiver.set_time(now());
    let out = f
        .receiver
        .commit(
            &cs,
            CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .expect("our commit");
    assert_eq!(out.dropped.len(), 1, "the Remove is left out and reported");
    f.receiver.merge_staged_commit(out.staged).expect("merge");
    let commit = encode(&out.commit).expect("encode");
    for p in &mut f.peers {
        assert_eq!(
            p.process(&commit).expect("our commit accepted"),
            Processed::Commit {
                removed_self: false
            }
        );
        assert_eq!(
            p.epoch_authenticator().expect("authenticator"),
            f.receiver.epoch_authenticator().as_bytes()
        );
    }
}
