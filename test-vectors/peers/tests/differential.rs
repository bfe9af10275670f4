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
use mls_engine::crypto::labels::sign_with_label;
use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use mls_engine::group::{
    generate_key_package, sign_leaf, CommitOptions, Group, GroupConfig, KeyPackageBundle,
    KeyPackageOptions,
};
use mls_engine::messages::{
    Add, Capabilities, Credential, CredentialType, Extension, ExtensionType,
    GroupContextExtensions, KeyPackage, MlsMessage, MlsMessageBody, Proposal, ProtocolVersion,
    ReInit, Remove, RequiredCapabilities,
};
use mls_engine::tree_math::LeafIndex;
use mls_peers::{new_client, InteropClient, Peer, Processed, TEST_EXTENSION_TYPE};

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
    let cs = cs();
    let (sk, _) = cs.signature_generate().expect("key pair");
    let t = now();
    let mut options = KeyPackageOptions::new(t - 3600, t + 90 * 24 * 3600);
    options.capabilities = Some(capabilities());
    generate_key_package(&cs, Credential::basic(name), sk, options).expect("KeyPackage")
}

/// Our committer and the two peers, all at epoch 1.
struct Fixture {
    committer: Group,
    peers: Vec<Box<dyn InteropClient>>,
}

fn fixture() -> Fixture {
    let cs = cs();
    let config = GroupConfig::default().at_time(now());
    let mut committer = Group::create(
        &cs,
        &bundle("committer"),
        b"differential".to_vec(),
        vec![],
        config,
    )
    .expect("create");
    let mut peers: Vec<_> = [Peer::OpenMls, Peer::MlsRs]
        .into_iter()
        .map(|p| new_client(p, p.name().as_bytes()).expect("client"))
        .collect();
    let adds = peers
        .iter_mut()
        .map(|p| {
            let kp = p.key_package().expect("key package");
            match MlsMessage::from_bytes(&kp).expect("decode").body {
                MlsMessageBody::KeyPackage(key_package) => Proposal::Add(Add { key_package }),
                _ => panic!("not a KeyPackage"),
            }
        })
        .collect();
    // The peers' KeyPackages start their lifetime when they are made (mls-rs: not before
    // "now"), so the committer's time is read after them.
    committer.set_time(now());
    let out = committer
        .commit(
            &cs,
            CommitOptions {
                proposals: adds,
                ..CommitOptions::default()
            },
        )
        .expect("commit");
    committer.merge_staged_commit(out.staged).expect("merge");
    let welcome = out.welcome.expect("Welcome").into_bytes();
    for p in &mut peers {
        p.join(&welcome, None).expect("join");
    }
    Fixture { committer, peers }
}

/// The new member's KeyPackage with its leaf and itself signed again by its owner.
fn resign(mut kp: KeyPackage, owner: &KeyPackageBundle) -> KeyPackage {
    let cs = cs();
    let key = &owner.signature_private_key;
    if let Ok(tbs) = kp.leaf_node.to_be_signed(None) {
        if let Ok(leaf) = sign_leaf(&cs, tbs, key, &[], LeafIndex(0)) {
            kp.leaf_node = leaf;
        }
    }
    let tbs = encode(&kp.to_be_signed()).expect("encode");
    kp.signature = VarBytes(sign_with_label(&cs, key, "KeyPackageTBS", &tbs).expect("sign"));
    kp
}

/// Applies `script` (four bytes an edit: operation, 16-bit position, value) to `bytes`.
fn edit(bytes: &[u8], script: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in script.chunks_exact(4) {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        let at = usize::from(u16::from_be_bytes([e[1], e[2]]));
        match e[0] % 5 {
            0 => b[at % n] ^= e[3].max(1),
            1 => b.truncate(at % n),
            2 => b.insert(at % (n + 1), e[3]),
            3 => {
                b.remove(at % n);
            }
            _ => b[at % n] = e[3],
        }
    }
    b
}

fn scripts(mut seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..count)
        .map(|_| {
            let n = 4 * (1 + next() % 3);
            (0..n).map(|_| next().to_le_bytes()[0]).collect()
        })
        .collect()
}

/// How many edit scripts are tried (about one in ten yields a proposal our committer
/// commits).
const CASES: usize = 2400;

/// Whether a peer's refusal of a commit we built is a difference explained in `INTEROP.md`:
/// OpenMLS cannot decode a ReInit proposal to a cipher suite it does not know (its
/// `Ciphersuite` is a closed enum: `UnknownValue`), which RFC 9420 does not forbid
/// (difference 13).
fn known(peer: &str, proposal: &Proposal, error: &str) -> bool {
    let known_suite = |s: CipherSuite| (1..=7).contains(&s.0);
    matches!(
        (peer, proposal),
        ("openmls", Proposal::ReInit(r)) if !known_suite(r.cipher_suite)
            && error.contains("UnknownValue")
    )
}

#[test]
fn peers_accept_what_our_committer_builds_from_edited_proposals() {
    let cs = cs();
    let dave = bundle("dave");
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
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
        ]),
    });
    let templates = [
        Proposal::Add(Add {
            key_package: dave.key_package.clone(),
        }),
        gce,
        Proposal::Remove(Remove { removed: 2 }),
        Proposal::ReInit(ReInit {
            group_id: VarBytes(b"next".to_vec()),
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(1),
            extensions: VarVec::default(),
        }),
    ];
    let mut f = fixture();
    let (mut committed, mut unknown) = (0, Vec::new());
    for (i, script) in scripts(0x5eed_1234, CASES).into_iter().enumerate() {
        let template = &templates[i % templates.len()];
        let bytes = edit(&encode(template).expect("encode"), &script);
        let Ok(proposal) = decode_exact::<Proposal>(&bytes) else {
            continue;
        };
        let proposal = match proposal {
            Proposal::Add(Add { key_package }) => Proposal::Add(Add {
                key_package: resign(key_package, &dave),
            }),
            other => other,
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
