//! Rules on received values that are checked where the value arrives, not when it is used:
//! - RFC 9420 §13 on lists of extensions: no extension type twice (KeyPackages, leaves, a
//!   received tree, GroupContextExtensions, the lists given to `Group::create` and
//!   `generate_key_package`), and every GroupContext extension supported by the members (a new
//!   member's capabilities list it; the creator's too). The joiner's side (a received
//!   GroupInfo) is in `group_join_props.rs`;
//! - HPKE public keys that no one can encrypt to, in a received tree (KeyPackages, proposals
//!   and UpdatePaths are in `group_commit_props.rs` and `group_process_props.rs`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use mls_engine::codec::{encode, VarBytes, VarVec};
use mls_engine::crypto::labels::sign_with_label;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_engine::group::*;
use mls_engine::messages::*;
use mls_engine::tree::{validate_tree, Tree, TreeValidationError, TreeValidationParams};
use mls_engine::tree_math::LeafIndex;

/// A non-default extension type.
const X: ExtensionType = ExtensionType(0xff00);

fn cs() -> &'static dyn CipherSuiteProvider {
    static P: OnceLock<AwsLcProvider> = OnceLock::new();
    P.get_or_init(AwsLcProvider::new)
        .suite(CipherSuite(1))
        .unwrap()
}

fn ext(t: ExtensionType) -> Extension {
    Extension {
        extension_type: t,
        extension_data: VarBytes(vec![]),
    }
}

/// A KeyPackage whose leaf lists `X` in its capabilities (when `supports_x`) and the
/// non-default types of `kp_extensions`, with `leaf_extensions` and `kp_extensions` as given,
/// signed as its owner would: nothing here is refused by the generator's own checks.
fn key_package(
    name: &str,
    supports_x: bool,
    leaf_extensions: Vec<Extension>,
    kp_extensions: Vec<Extension>,
) -> KeyPackageBundle {
    let cs = cs();
    let (sk, _) = cs.signature_generate().unwrap();
    let credential = Credential::basic(name);
    let mut capabilities = Capabilities {
        versions: VarVec(vec![ProtocolVersion::MLS10]),
        cipher_suites: VarVec(vec![CipherSuite(1)]),
        extensions: VarVec::default(),
        proposals: VarVec::default(),
        credentials: VarVec(vec![credential.credential_type()]),
    };
    if supports_x {
        capabilities.extensions.0.push(X);
    }
    for t in kp_extensions.iter().map(|e| e.extension_type) {
        if !t.is_default() && !capabilities.extensions.0.contains(&t) {
            capabilities.extensions.0.push(t);
        }
    }
    let options = KeyPackageOptions {
        capabilities: Some(capabilities),
        ..KeyPackageOptions::new(0, u64::MAX)
    };
    let mut bundle = generate_key_package(cs, credential, sk, options).unwrap();
    let kp = &mut bundle.key_package;
    let mut tbs = kp.leaf_node.to_be_signed(None).unwrap();
    tbs.extensions = VarVec(leaf_extensions);
    kp.leaf_node = sign_leaf(cs, tbs, &bundle.signature_private_key, &[], LeafIndex(0)).unwrap();
    kp.extensions = VarVec(kp_extensions);
    let tbs = encode(&kp.to_be_signed()).unwrap();
    kp.signature = VarBytes(
        sign_with_label(cs, &bundle.signature_private_key, "KeyPackageTBS", &tbs).unwrap(),
    );
    bundle
}

fn config() -> GroupConfig {
    GroupConfig::default().at_time(1_000)
}

/// What a commit adding `kp` by value gave, once `proposals` were committed first.
fn commit_by_value(group: &Group, proposals: Vec<Proposal>) -> Result<CommitOutput, GroupError> {
    group.commit(
        cs(),
        CommitOptions {
            proposals,
            ..CommitOptions::default()
        },
    )
}

fn add(b: &KeyPackageBundle) -> Proposal {
    Proposal::Add(Add {
        key_package: b.key_package.clone(),
    })
}

fn invalid_add(index: usize, e: LeafNodeError) -> GroupError {
    GroupError::Protocol(ProtocolError::Proposal {
        index: Some(index),
        rule: ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(
            KeyPackageError::LeafNode(e),
        )),
    })
}

#[test]
fn a_key_package_with_an_extension_type_twice_is_refused() {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    let ok = key_package("a", true, vec![ext(X)], vec![ext(X)]);
    assert_eq!(
        validate_key_package(cs(), &ok.key_package, lifetime),
        Ok(())
    );
    let leaf_twice = key_package("a", true, vec![ext(X), ext(X)], vec![]);
    assert_eq!(
        validate_key_package(cs(), &leaf_twice.key_package, lifetime),
        Err(KeyPackageError::LeafNode(
            LeafNodeError::DuplicateExtension(X.0)
        ))
    );
    let kp_twice = key_package("a", false, vec![], vec![ext(X), ext(X)]);
    assert_eq!(
        validate_key_package(cs(), &kp_twice.key_package, lifetime),
        Err(KeyPackageError::DuplicateExtension(X.0))
    );
    // An Add of either is refused by the committer.
    let creator = key_package("creator", true, vec![], vec![]);
    let group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    assert_eq!(
        commit_by_value(&group, vec![add(&leaf_twice)]).map(drop),
        Err(invalid_add(0, LeafNodeError::DuplicateExtension(X.0)))
    );
    assert!(commit_by_value(&group, vec![add(&kp_twice)]).is_err());
}

#[test]
fn a_received_tree_with_a_leaf_extension_twice_is_refused() {
    let twice = key_package("a", true, vec![ext(X), ext(X)], vec![]);
    let mut tree = Tree::new(cs(), twice.key_package.leaf_node.clone()).unwrap();
    assert_eq!(
        validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
        Err(TreeValidationError::DuplicateExtension {
            leaf: LeafIndex(0),
            extension_type: X
        })
    );
    let once = key_package("a", true, vec![ext(X)], vec![]);
    let mut tree = Tree::new(cs(), once.key_package.leaf_node.clone()).unwrap();
    assert_eq!(
        validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
        Ok(())
    );
}

#[test]
fn a_new_member_must_support_every_group_context_extension() {
    let creator = key_package("creator", true, vec![], vec![]);
    let group = Group::create(cs(), &creator, b"g".to_vec(), vec![ext(X)], config()).unwrap();
    let without = key_package("without", false, vec![], vec![]);
    assert_eq!(
        commit_by_value(&group, vec![add(&without)]).map(drop),
        Err(invalid_add(
            0,
            LeafNodeError::GroupExtensionUnsupported(X.0)
        ))
    );
    let with = key_package("with", true, vec![], vec![]);
    let out = commit_by_value(&group, vec![add(&with)]).unwrap();
    // And the member added joins (it supports the group's extensions).
    let joined = Group::join(
        cs(),
        out.welcome.as_ref().unwrap(),
        &with,
        JoinOptions {
            config: config(),
            ..JoinOptions::default()
        },
    );
    assert!(joined.is_ok(), "{joined:?}");

    // Extensions added in the same commit count too: an Add beside a GroupContextExtensions
    // that brings `X` into a group without it.
    let plain = Group::create(cs(), &creator, b"h".to_vec(), vec![], config()).unwrap();
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec(vec![ext(X)]),
    });
    assert_eq!(
        commit_by_value(&plain, vec![gce.clone(), add(&without)]).map(drop),
        Err(invalid_add(
            1,
            LeafNodeError::GroupExtensionUnsupported(X.0)
        ))
    );
    assert!(commit_by_value(&plain, vec![gce, add(&with)]).is_ok());
}

#[test]
fn group_context_extensions_with_a_type_twice_are_refused() {
    let creator = key_package("creator", true, vec![], vec![]);
    let group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    let gce = |exts| {
        Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec(exts),
        })
    };
    assert_eq!(
        commit_by_value(&group, vec![gce(vec![ext(X), ext(X)])]).map(drop),
        Err(GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(InvalidProposal::DuplicateExtension(X.0)),
        }))
    );
    assert!(commit_by_value(&group, vec![gce(vec![ext(X)])]).is_ok());
}

#[test]
fn create_and_generate_refuse_what_the_group_could_not_hold() {
    let creator = key_package("creator", false, vec![], vec![]);
    let misuse = |r: Result<Group, GroupError>| {
        matches!(r, Err(GroupError::Misuse(MisuseError::InvalidArgument(_))))
    };
    // An extension type twice; one the creator's leaf does not list; required capabilities
    // the creator does not meet, or that do not decode.
    let x_twice = vec![
        ext(ExtensionType::REQUIRED_CAPABILITIES),
        ext(ExtensionType::REQUIRED_CAPABILITIES),
    ];
    let required_x = Extension::from_value(&RequiredCapabilities {
        extension_types: VarVec(vec![X]),
        proposal_types: VarVec::default(),
        credential_types: VarVec::default(),
    })
    .unwrap();
    let garbled = Extension {
        extension_type: ExtensionType::REQUIRED_CAPABILITIES,
        extension_data: VarBytes(vec![0xff]),
    };
    for extensions in [
        x_twice,
        vec![ext(X)],
        vec![required_x.clone()],
        vec![garbled],
    ] {
        let r = Group::create(cs(), &creator, b"g".to_vec(), extensions.clone(), config());
        assert!(misuse(r), "{extensions:?}");
    }
    let supports_x = key_package("creator", true, vec![], vec![]);
    assert!(Group::create(cs(), &supports_x, b"g".to_vec(), vec![required_x], config()).is_ok());

    let (sk, _) = cs().signature_generate().unwrap();
    let options = KeyPackageOptions {
        extensions: vec![ext(X), ext(X)],
        ..KeyPackageOptions::new(0, u64::MAX)
    };
    assert!(matches!(
        generate_key_package(cs(), Credential::basic("a"), sk, options),
        Err(GroupError::Misuse(MisuseError::InvalidArgument(_)))
    ));
}

#[test]
fn a_received_tree_with_a_key_no_one_can_encrypt_to_is_refused() {
    let b = key_package("a", true, vec![], vec![]);
    for bad in [vec![0u8; 32], vec![1u8; 31]] {
        let mut tbs = b.key_package.leaf_node.to_be_signed(None).unwrap();
        tbs.encryption_key = mls_engine::crypto::HpkePublicKey::from(bad);
        let leaf = sign_leaf(cs(), tbs, &b.signature_private_key, &[], LeafIndex(0)).unwrap();
        let mut tree = Tree::new(cs(), leaf).unwrap();
        assert_eq!(
            validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
            Err(TreeValidationError::InvalidEncryptionKey {
                node: mls_engine::tree_math::NodeIndex(0)
            })
        );
    }
}

/// RFC 9420 §12.1.7: a GroupContextExtensions is judged against the members after the commit
/// ("excluding those removed"): a member that does not support the new extension blocks it,
/// unless the same commit removes that member.
#[test]
fn group_context_extensions_exclude_members_removed_by_the_commit() {
    let creator = key_package("creator", true, vec![], vec![]);
    let mut group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    let lacking = key_package("lacking", false, vec![], vec![]);
    let out = commit_by_value(&group, vec![add(&lacking)]).unwrap();
    group.merge_staged_commit(out.staged).unwrap();
    let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec(vec![ext(X)]),
    });
    assert_eq!(
        commit_by_value(&group, vec![gce.clone()]).map(drop),
        Err(GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(InvalidProposal::ExtensionsUnsupported(LeafIndex(
                1
            ))),
        }))
    );
    let remove = Proposal::Remove(Remove { removed: 1 });
    let out = commit_by_value(&group, vec![gce, remove]).unwrap();
    group.merge_staged_commit(out.staged).unwrap();
    assert_eq!(group.context().extensions.0, vec![ext(X)]);
}

/// A KeyPackage whose leaf's capabilities list these versions and cipher suites (and the
/// basic credential), signed as its owner would.
fn with_versions_and_suites(
    versions: Vec<ProtocolVersion>,
    suites: Vec<CipherSuite>,
) -> KeyPackageBundle {
    with_capabilities(&key_package("a", false, vec![], vec![]), |c| {
        c.versions = VarVec(versions);
        c.cipher_suites = VarVec(suites);
    })
}

/// `base` with its leaf re-signed with its capabilities edited by `edit`, and the
/// KeyPackage signed again, as its owner would.
fn with_capabilities(
    base: &KeyPackageBundle,
    edit: impl FnOnce(&mut Capabilities),
) -> KeyPackageBundle {
    let mut bundle = base.clone();
    let kp = &mut bundle.key_package;
    let mut tbs = kp.leaf_node.to_be_signed(None).unwrap();
    edit(&mut tbs.capabilities);
    kp.leaf_node = sign_leaf(cs(), tbs, &bundle.signature_private_key, &[], LeafIndex(0)).unwrap();
    let tbs = encode(&kp.to_be_signed()).unwrap();
    kp.signature = VarBytes(
        sign_with_label(cs(), &bundle.signature_private_key, "KeyPackageTBS", &tbs).unwrap(),
    );
    bundle
}

/// `b`'s leaf is refused with `leaf_error` as a KeyPackage (§10.1), as an Add committed by
/// value to `group`, and with `tree_error` as the only leaf of a received tree.
fn refused_as_key_package_add_and_tree_leaf(
    group: &Group,
    b: &KeyPackageBundle,
    leaf_error: LeafNodeError,
    tree_error: TreeValidationError,
    what: &str,
) {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    assert_eq!(
        validate_key_package(cs(), &b.key_package, lifetime),
        Err(KeyPackageError::LeafNode(leaf_error.clone())),
        "{what}"
    );
    assert_eq!(
        commit_by_value(group, vec![add(b)]).map(drop),
        Err(invalid_add(0, leaf_error)),
        "{what}"
    );
    let mut tree = Tree::new(cs(), b.key_package.leaf_node.clone()).unwrap();
    assert_eq!(
        validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
        Err(tree_error),
        "{what}"
    );
}

/// RFC 9420 §7.3: a leaf must be "compatible with the group's parameters": its capabilities
/// list the group's protocol version and cipher suite (OpenMLS checks the same). Found by the
/// differential interop test (`test-vectors/peers/tests/differential.rs`): our committer added
/// a KeyPackage whose capabilities named another suite, and OpenMLS refused the commit.
#[test]
fn a_leaf_must_list_the_groups_version_and_cipher_suite() {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    let creator = key_package("creator", true, vec![], vec![]);
    let group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    let mls10 = ProtocolVersion::MLS10;
    for (versions, suites) in [
        (vec![mls10], vec![CipherSuite(2)]),
        (vec![ProtocolVersion(2)], vec![CipherSuite(1)]),
        (vec![], vec![]),
    ] {
        let b = with_versions_and_suites(versions.clone(), suites.clone());
        let what = format!("versions {versions:?}, suites {suites:?}");
        refused_as_key_package_add_and_tree_leaf(
            &group,
            &b,
            LeafNodeError::Capabilities,
            TreeValidationError::GroupParametersUnsupported { leaf: LeafIndex(0) },
            &what,
        );
        assert!(
            Group::create(cs(), &b, b"g2".to_vec(), vec![], config()).is_err(),
            "create with {what}"
        );
    }
    // Listed among others (GREASE values included), they are found.
    let b = with_versions_and_suites(
        vec![ProtocolVersion(0x0a0a), mls10],
        vec![CipherSuite(0x0a0a), CipherSuite(3), CipherSuite(1)],
    );
    assert_eq!(validate_key_package(cs(), &b.key_package, lifetime), Ok(()));
    assert!(commit_by_value(&group, vec![add(&b)]).is_ok());
    let mut tree = Tree::new(cs(), b.key_package.leaf_node.clone()).unwrap();
    assert_eq!(
        validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
        Ok(())
    );
}

/// RFC 9420 §10: "Extensions included in the `extensions` or `leaf_node.extensions` fields
/// MUST be included in the `leaf_node.capabilities` field". OpenMLS refuses a KeyPackage whose
/// own extensions are not listed (`UnsupportedExtension`), so a commit adding one splits the
/// group from its OpenMLS members (found by the differential interop test). Refused as a
/// KeyPackage and in an Add; the generator lists them itself or refuses given capabilities
/// that do not.
#[test]
fn key_package_extensions_are_listed_in_its_capabilities() {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    let last_resort = Extension {
        extension_type: ExtensionType::LAST_RESORT,
        extension_data: VarBytes::default(),
    };
    // Listed (by the helper): valid. Then signed again with the type dropped from the list.
    let listed = key_package("a", false, vec![], vec![last_resort.clone(), ext(X)]);
    assert_eq!(
        validate_key_package(cs(), &listed.key_package, lifetime),
        Ok(())
    );
    for dropped in [ExtensionType::LAST_RESORT, X] {
        let b = with_capabilities(&listed, |c| c.extensions.0.retain(|t| *t != dropped));
        assert_eq!(
            validate_key_package(cs(), &b.key_package, lifetime),
            Err(KeyPackageError::ExtensionNotInCapabilities(dropped.0)),
            "{dropped:?}"
        );
        let creator = key_package("creator", true, vec![], vec![]);
        let group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
        let refused = commit_by_value(&group, vec![add(&b)]).map(drop);
        assert_eq!(
            refused,
            Err(GroupError::Protocol(ProtocolError::Proposal {
                index: Some(0),
                rule: ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(
                    KeyPackageError::ExtensionNotInCapabilities(dropped.0)
                )),
            })),
            "{dropped:?}"
        );
    }
    // The generator: default capabilities list the carried types; given ones must.
    let generate = |capabilities: Option<Capabilities>| {
        let (sk, _) = cs().signature_generate().unwrap();
        let options = KeyPackageOptions {
            capabilities,
            leaf_extensions: vec![ext(X)],
            extensions: vec![last_resort.clone()],
            ..KeyPackageOptions::new(0, u64::MAX)
        };
        generate_key_package(cs(), Credential::basic("g"), sk, options)
    };
    let made = generate(None).unwrap();
    let mut listed: Vec<u16> = made
        .key_package
        .leaf_node
        .capabilities()
        .extensions
        .to_vec()
        .into_iter()
        .map(|t| t.0)
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, [ExtensionType::LAST_RESORT.0, X.0]);
    assert_eq!(
        validate_key_package(cs(), &made.key_package, lifetime),
        Ok(())
    );
    let only_x = Capabilities {
        extensions: VarVec(vec![X]),
        ..mls_engine::group::key_package::default_capabilities(
            CipherSuite(1),
            &Credential::basic("g"),
        )
    };
    assert!(matches!(generate(Some(only_x)), Err(GroupError::Misuse(_))));
}

/// RFC 9420 §7.2: the default proposal types (1-7) and extension types (1-5) "MUST NOT be
/// listed" in a leaf's capabilities. mls-rs refuses such a leaf (`DefaultValueListed`), so a
/// group that admits one splits from its mls-rs members. Found by the differential interop
/// test's long run (`MLS_DIFFERENTIAL_CASES=120000`): our committer added such a KeyPackage
/// and mls-rs refused the commit.
#[test]
fn a_leaf_listing_a_default_type_is_refused() {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    let creator = key_package("creator", true, vec![], vec![]);
    let group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    // (what, proposal types listed, extension types listed)
    let cases: [(&str, Vec<u16>, Vec<u16>); 5] = [
        ("proposal type add", vec![1], vec![]),
        ("proposal type group_context_extensions", vec![7], vec![]),
        ("extension type application_id", vec![], vec![1]),
        ("the reserved extension type 0", vec![], vec![0]),
        (
            "extension type external_senders, after a private one",
            vec![],
            vec![X.0, 5],
        ),
    ];
    for (what, proposals, extensions) in cases {
        let b = with_capabilities(&key_package("a", false, vec![], vec![]), |c| {
            c.proposals
                .0
                .extend(proposals.iter().map(|&t| ProposalType(t)));
            c.extensions
                .0
                .extend(extensions.iter().map(|&t| ExtensionType(t)));
        });
        refused_as_key_package_add_and_tree_leaf(
            &group,
            &b,
            LeafNodeError::DefaultCapabilityListed,
            TreeValidationError::DefaultCapabilityListed { leaf: LeafIndex(0) },
            what,
        );
        // Our own generator refuses to make one.
        let capabilities = b.key_package.leaf_node.capabilities().to_owned();
        let (sk, _) = cs().signature_generate().unwrap();
        let options = KeyPackageOptions {
            capabilities: Some(capabilities),
            ..KeyPackageOptions::new(0, u64::MAX)
        };
        assert!(
            matches!(
                generate_key_package(cs(), Credential::basic("a"), sk, options),
                Err(GroupError::Misuse(_))
            ),
            "{what}"
        );
    }
    // Non-default and GREASE types are listed freely.
    let b = with_capabilities(&key_package("a", false, vec![], vec![]), |c| {
        c.proposals
            .0
            .extend([ProposalType(0x0a0a), ProposalType(8)]);
        c.extensions
            .0
            .extend([ExtensionType(0x1a1a), ExtensionType(6)]);
    });
    assert_eq!(validate_key_package(cs(), &b.key_package, lifetime), Ok(()));
    assert!(commit_by_value(&group, vec![add(&b)]).is_ok());
}

/// RFC 9420 §17.3 registers each of its extension types for the objects it may appear in:
/// `application_id` in a LeafNode, `ratchet_tree` and `external_pub` in a GroupInfo,
/// `required_capabilities` and `external_senders` in the GroupContext. OpenMLS refuses the
/// others (and decodes the contents of RFC types where it meets them). Found by the
/// differential interop test's long run: our committer built GroupContextExtensions with
/// `application_id`, `ratchet_tree` or `external_pub` in them, and OpenMLS refused the commit.
#[test]
fn extensions_are_allowed_only_where_rfc_9420_registers_them() {
    let lifetime = mls_engine::tree::LifetimePolicy::Check { now: 1_000 };
    let creator = key_package("creator", true, vec![], vec![]);
    let mut group = Group::create(cs(), &creator, b"g".to_vec(), vec![], config()).unwrap();
    let typed = |t: u16, data: Vec<u8>| Extension {
        extension_type: ExtensionType(t),
        extension_data: VarBytes(data),
    };
    let app_id = typed(1, vec![3, b'a', b'p', b'p']);
    let external_pub = typed(4, encode(&VarBytes(vec![9; 32])).unwrap());
    let last_resort = typed(10, vec![]);
    // In the GroupContext: application_id, ratchet_tree, external_pub and last_resort (as the
    // peers deploy it) are refused, in a proposal, a commit, and `Group::create`.
    for e in [
        app_id.clone(),
        typed(2, vec![0]),
        external_pub.clone(),
        last_resort.clone(),
    ] {
        let t = e.extension_type.0;
        let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec(vec![e.clone()]),
        });
        let expected = GroupError::Protocol(ProtocolError::Proposal {
            index: Some(0),
            rule: ProposalRule::InvalidProposal(InvalidProposal::MisplacedExtension(t)),
        });
        assert_eq!(
            commit_by_value(&group, vec![gce.clone()]).map(drop),
            Err(expected.clone()),
            "type {t}"
        );
        assert_eq!(
            group.propose(cs(), gce).map(drop),
            Err(expected),
            "type {t}"
        );
        assert!(
            matches!(
                Group::create(cs(), &creator, b"g2".to_vec(), vec![e], config()),
                Err(GroupError::Misuse(_))
            ),
            "type {t}"
        );
    }
    // required_capabilities, external_senders, private and GREASE types are allowed there.
    let rc = Extension::from_value(&RequiredCapabilities::default()).unwrap();
    let senders = Extension::from_value(&ExternalSenders::default()).unwrap();
    let ok = Proposal::GroupContextExtensions(GroupContextExtensions {
        extensions: VarVec(vec![rc, senders]),
    });
    assert!(commit_by_value(&group, vec![ok]).is_ok());
    // In a KeyPackage: none of RFC 9420's types.
    for e in [app_id.clone(), typed(3, vec![0, 0, 0])] {
        let t = e.extension_type.0;
        let b = key_package("a", false, vec![], vec![e]);
        assert_eq!(
            validate_key_package(cs(), &b.key_package, lifetime),
            Err(KeyPackageError::MisplacedExtension(t)),
            "type {t}"
        );
    }
    // In a KeyPackage: an empty last_resort.
    let last_resort_kp = key_package("a", false, vec![], vec![last_resort.clone()]);
    assert_eq!(
        validate_key_package(cs(), &last_resort_kp.key_package, lifetime),
        Ok(())
    );
    let b = key_package("a", false, vec![], vec![typed(10, vec![0])]);
    assert_eq!(
        validate_key_package(cs(), &b.key_package, lifetime),
        Err(KeyPackageError::MisplacedExtension(10))
    );
    // In a LeafNode: application_id only, and one that decodes.
    let readable = key_package("a", false, vec![app_id], vec![]);
    assert_eq!(
        validate_key_package(cs(), &readable.key_package, lifetime),
        Ok(())
    );
    for e in [
        typed(1, vec![5, b'a']),
        typed(1, vec![1, b'a', b'b']),
        external_pub,
        last_resort,
    ] {
        let b = key_package("a", false, vec![e.clone()], vec![]);
        let t = e.extension_type.0;
        assert_eq!(
            validate_key_package(cs(), &b.key_package, lifetime),
            Err(KeyPackageError::LeafNode(
                LeafNodeError::MisplacedExtension(t)
            )),
            "{e:?}"
        );
        let mut tree = Tree::new(cs(), b.key_package.leaf_node.clone()).unwrap();
        assert_eq!(
            validate_tree(&mut tree, cs(), &TreeValidationParams::new(b"g", 1_000)),
            Err(TreeValidationError::MisplacedExtension {
                leaf: LeafIndex(0),
                extension_type: ExtensionType(t),
            }),
            "{e:?}"
        );
    }
    assert_eq!(
        group.epoch(),
        0,
        "a refused proposal or commit changed the group"
    );
    assert_eq!(group.pending_proposals().count(), 0);
}
