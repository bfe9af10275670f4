//! Validation of a received ratchet tree (RFC 9420 §12.4.3.1, with §7.3 for every leaf and
//! §7.9.2 for every parent), with a typed error naming the node and the rule broken.
//!
//! What is checked, in this order:
//! 1. every parent's `unmerged_leaves`: strictly ascending, each a non-blank leaf below the
//!    parent, and listed by every non-blank parent between the leaf and it (§7.1, §12.4.3.1);
//! 2. every leaf (§7.3): no extension type twice (§13), its extensions listed in its own
//!    capabilities (default extension
//!    types 1-5 excepted, §7.2), its credential type listed in its own capabilities, every
//!    credential type in use supported by every member (one intersection over the group, not
//!    a pairwise scan), the group's required capabilities if given, and the lifetime of
//!    `key_package` leaves when the lifetime policy is on (the default);
//! 3. every node's encryption key one that can be encrypted to
//!    ([`CipherSuiteProvider::kem_check_public_key`]: length, a point of the group, not of small
//!    order), so that no later commit fails at encrypting to it;
//! 4. uniqueness of signature keys among leaves and of encryption keys among all nodes
//!    (hash-map indexes; [`MemberIndex`] keeps the leaf indexes and the per-credential-type
//!    counters for checking new leaves later in O(1));
//! 5. every leaf signature, `VerifyWithLabel(., "LeafNodeTBS", LeafNodeTBS)` with the group id
//!    and leaf index for `update` and `commit` leaves, in parallel across cores;
//! 6. every non-blank parent parent-hash valid (§7.9.2), in parallel.
//!
//! Credential validation itself (§5.3.1: does this identity own this key?) belongs to the
//! application's credential validator and is not done here.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::codec::{encode, VarBytes};
use crate::crypto::labels::sign_with_label;
use crate::crypto::{CipherSuite, CipherSuiteProvider, Secret};
use crate::messages::{
    first_misplaced_extension, repeated_extension_type, CredentialType, ExtensionContainer,
    ExtensionType, LeafNode, LeafNodeSource, LeafNodeTbs, Node, ProtocolVersion,
    RequiredCapabilities, TreePosition,
};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::error::TreeError;
use super::key_id::KeyId;
use super::ratchet_tree::Tree;
use crate::crypto::labels::{verify_all_with_label, verify_with_label, LabelledSignature};

/// Whether leaf lifetimes are checked (RFC 9420 §7.3 only RECOMMENDS it for received leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimePolicy {
    /// Reject a `key_package` leaf whose lifetime does not contain `now` (seconds since the
    /// Unix epoch). The default.
    Check {
        /// The current time, from the caller (the engine reads no clock).
        now: u64,
    },
    /// Do not check lifetimes (for stored or replayed data, e.g. test vectors).
    Ignore,
}

/// What a tree is validated against.
#[derive(Clone, Copy, Debug)]
pub struct TreeValidationParams<'a> {
    /// The group id, part of the signed content of `update` and `commit` leaves.
    pub group_id: &'a [u8],
    /// The lifetime policy.
    pub lifetime: LifetimePolicy,
    /// The group's `required_capabilities` extension, if any.
    pub required_capabilities: Option<&'a RequiredCapabilities>,
}

impl<'a> TreeValidationParams<'a> {
    /// Validation for group `group_id` at time `now`, lifetimes checked, no required
    /// capabilities.
    pub fn new(group_id: &'a [u8], now: u64) -> Self {
        Self {
            group_id,
            lifetime: LifetimePolicy::Check { now },
            required_capabilities: None,
        }
    }

    /// The same, with the lifetime check switched off.
    pub fn without_lifetime_check(mut self) -> Self {
        self.lifetime = LifetimePolicy::Ignore;
        self
    }

    /// The same, with the group's required capabilities.
    pub fn with_required_capabilities(mut self, rc: &'a RequiredCapabilities) -> Self {
        self.required_capabilities = Some(rc);
        self
    }
}

/// Why a received tree is invalid: the node and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeValidationError {
    /// The tree could not be processed (suite mismatch, encoding, crypto failure).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// `unmerged_leaves` not strictly ascending (§7.1).
    #[error("parent {parent:?}: unmerged_leaves not strictly ascending")]
    UnmergedLeavesUnsorted {
        /// The parent.
        parent: NodeIndex,
    },
    /// An unmerged leaf is not below its parent (§12.4.3.1).
    #[error("parent {parent:?}: unmerged leaf {leaf:?} is not in its subtree")]
    UnmergedLeafOutsideSubtree {
        /// The parent.
        parent: NodeIndex,
        /// The unmerged leaf.
        leaf: LeafIndex,
    },
    /// An unmerged leaf is blank (§12.4.3.1).
    #[error("parent {parent:?}: unmerged leaf {leaf:?} is blank")]
    UnmergedLeafBlank {
        /// The parent.
        parent: NodeIndex,
        /// The unmerged leaf.
        leaf: LeafIndex,
    },
    /// A non-blank node between an unmerged leaf and its parent does not list the leaf
    /// (§12.4.3.1).
    #[error("parent {parent:?}: unmerged leaf {leaf:?} missing from {intermediate:?}")]
    UnmergedLeafNotInIntermediate {
        /// The parent.
        parent: NodeIndex,
        /// The unmerged leaf.
        leaf: LeafIndex,
        /// The intermediate node lacking it.
        intermediate: NodeIndex,
    },
    /// A node's encryption key cannot be encrypted to (wrong length, not a point of the
    /// suite's group, or of small order): every commit encrypting to it would fail.
    #[error("node {node:?}: encryption key cannot be encrypted to")]
    InvalidEncryptionKey {
        /// The node.
        node: NodeIndex,
    },
    /// An extension type appears more than once in a leaf's extensions (§13).
    #[error("leaf {leaf:?}: extension {extension_type:?} appears more than once")]
    DuplicateExtension {
        /// The leaf.
        leaf: LeafIndex,
        /// The repeated extension type.
        extension_type: ExtensionType,
    },
    /// A leaf extension is not listed in the leaf's capabilities (§7.2, §7.3).
    #[error("leaf {leaf:?}: extension {extension_type:?} not in its capabilities")]
    ExtensionNotInCapabilities {
        /// The leaf.
        leaf: LeafIndex,
        /// The extension.
        extension_type: ExtensionType,
    },
    /// A leaf's credential type is not listed in its own capabilities (§7.2).
    #[error("leaf {leaf:?}: own credential type {credential_type:?} not in its capabilities")]
    CredentialNotInOwnCapabilities {
        /// The leaf.
        leaf: LeafIndex,
        /// Its credential type.
        credential_type: CredentialType,
    },
    /// A credential type in use in the group is not supported by this member (§7.3).
    #[error("leaf {leaf:?}: does not support credential type {credential_type:?} in use")]
    CredentialTypeNotSupported {
        /// The member lacking support.
        leaf: LeafIndex,
        /// The credential type.
        credential_type: CredentialType,
    },
    /// A new leaf's credential type is not supported by every other member (§7.3).
    #[error("leaf {leaf:?}: credential type {credential_type:?} not supported by all members")]
    CredentialTypeUnsupportedByGroup {
        /// The new leaf.
        leaf: LeafIndex,
        /// Its credential type.
        credential_type: CredentialType,
    },
    /// An Update leaf keeps the encryption key of the leaf it replaces (§7.3).
    #[error("leaf {leaf:?}: encryption key not changed by the update")]
    EncryptionKeyNotUpdated {
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A leaf lacks a capability the group requires (§7.3, §11.1).
    #[error("leaf {leaf:?}: lacks a required capability")]
    RequiredCapabilityMissing {
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A leaf extension RFC 9420 §17.3 does not register for a LeafNode (one of its own types
    /// other than `application_id`), or an `application_id` that does not decode.
    #[error("leaf {leaf:?}: extension {extension_type:?} not allowed in a LeafNode, or malformed")]
    MisplacedExtension {
        /// The leaf.
        leaf: LeafIndex,
        /// The extension type.
        extension_type: ExtensionType,
    },
    /// A leaf's capabilities list a default proposal or extension type, which RFC 9420 §7.2
    /// says "MUST NOT be listed", or the reserved extension type 0
    /// (`CapabilitiesRef::lists_default_type`).
    #[error("leaf {leaf:?}: its capabilities list a default proposal or extension type")]
    DefaultCapabilityListed {
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A leaf's capabilities do not list the group's protocol version and cipher suite, so it
    /// is not "compatible with the group's parameters" (§7.3).
    #[error("leaf {leaf:?}: the group's version or cipher suite not in its capabilities")]
    GroupParametersUnsupported {
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A `key_package` leaf's lifetime does not contain the current time (§7.3).
    #[error("leaf {leaf:?}: lifetime [{not_before}, {not_after}] does not contain {now}")]
    LifetimeInvalid {
        /// The leaf.
        leaf: LeafIndex,
        /// Start of the lifetime.
        not_before: u64,
        /// End of the lifetime.
        not_after: u64,
        /// The time checked.
        now: u64,
    },
    /// Two leaves share a signature key (§7.3).
    #[error("leaf {leaf:?}: signature key already used by {first:?}")]
    DuplicateSignatureKey {
        /// The later leaf.
        leaf: LeafIndex,
        /// The first leaf with the key.
        first: LeafIndex,
    },
    /// Two nodes share an encryption key (§7.3, §12.4.3.1).
    #[error("node {node:?}: encryption key already used by {first:?}")]
    DuplicateEncryptionKey {
        /// The later node.
        node: NodeIndex,
        /// The first node with the key.
        first: NodeIndex,
    },
    /// A leaf signature does not verify (§7.3).
    #[error("leaf {leaf:?}: LeafNodeTBS signature invalid")]
    LeafSignature {
        /// The leaf.
        leaf: LeafIndex,
    },
    /// A non-blank parent is not parent-hash valid: it has no descendant, or more than one,
    /// with a valid parent hash for it (§7.9.2).
    #[error("parent {parent:?}: {valid_descendants} parent-hash valid descendants, want 1")]
    ParentHashInvalid {
        /// The parent.
        parent: NodeIndex,
        /// How many descendants validate against it.
        valid_descendants: usize,
    },
}

/// The `LeafNodeTBS` encoding of `leaf` (§7.2): the leaf's encoding without its signature,
/// followed by `group_id` and `leaf_index` for `update` and `commit` leaves.
pub(crate) fn leaf_tbs(
    leaf: &LeafNode,
    group_id: &[u8],
    index: LeafIndex,
) -> Result<Vec<u8>, TreeError> {
    Ok(leaf.tbs_bytes(group_id, index.0)?)
}

/// Signs the leaf content `tbs` (`SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`, §7.2) and
/// returns the leaf. The group binding is `group_id` and `index` for `update` and `commit`
/// leaves; `key_package` leaves have none.
pub(crate) fn sign_leaf_content(
    cs: &dyn CipherSuiteProvider,
    mut tbs: LeafNodeTbs,
    signer: &Secret,
    group_id: &[u8],
    index: LeafIndex,
) -> Result<LeafNode, TreeError> {
    tbs.tree_position = match tbs.leaf_node_source {
        LeafNodeSource::KeyPackage(_) => None,
        _ => Some(TreePosition {
            group_id: VarBytes(group_id.to_vec()),
            leaf_index: index.0,
        }),
    };
    let signature = sign_with_label(cs, signer, "LeafNodeTBS", &encode(&tbs)?)?;
    Ok(LeafNode::from_tbs(&tbs, &signature)?)
}

/// Verifies one leaf's signature (§7.3).
pub(crate) fn verify_leaf_signature(
    cs: &dyn CipherSuiteProvider,
    leaf: &LeafNode,
    group_id: &[u8],
    index: LeafIndex,
) -> Result<bool, TreeError> {
    let tbs = leaf_tbs(leaf, group_id, index)?;
    Ok(verify_with_label(
        cs,
        leaf.signature_key(),
        "LeafNodeTBS",
        &tbs,
        leaf.signature(),
    )
    .is_ok())
}

/// Extension types every client supports without listing them (§7.2).
fn check_unmerged(tree: &Tree) -> Result<(), TreeValidationError> {
    for k in 0..tree.size.leaves().saturating_sub(1) {
        let p = NodeIndex(2 * k + 1);
        let Some(node) = tree.parent(p) else { continue };
        let mut prev: Option<u32> = None;
        for &u in node.unmerged_leaves.iter() {
            if prev.is_some_and(|v| v >= u) {
                return Err(TreeValidationError::UnmergedLeavesUnsorted { parent: p });
            }
            prev = Some(u);
            let leaf = LeafIndex(u);
            if !TreeSize::is_in_subtree(p, leaf) {
                return Err(TreeValidationError::UnmergedLeafOutsideSubtree { parent: p, leaf });
            }
            if tree.leaf(leaf).is_none() {
                return Err(TreeValidationError::UnmergedLeafBlank { parent: p, leaf });
            }
            for mid in tree.size.direct_path(leaf.node()) {
                if mid == p {
                    break;
                }
                if let Some(m) = tree.parent(mid) {
                    if m.unmerged_leaves.binary_search(&u).is_err() {
                        return Err(TreeValidationError::UnmergedLeafNotInIntermediate {
                            parent: p,
                            leaf,
                            intermediate: mid,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether a leaf's capabilities list the group's protocol version (MLS 1.0, the only one) and
/// cipher suite: what RFC 9420 §7.3 calls being "compatible with the group's parameters".
pub fn supports_group_parameters(leaf: &LeafNode, suite: CipherSuite) -> bool {
    let caps = leaf.capabilities();
    caps.versions.contains(&ProtocolVersion::MLS10) && caps.cipher_suites.contains(&suite)
}

/// The first of a leaf's extensions that may not be in a LeafNode, or an `application_id`
/// that does not decode ([`first_misplaced_extension`]).
pub fn misplaced_leaf_extension(leaf: &LeafNode) -> Option<ExtensionType> {
    first_misplaced_extension(
        leaf.extensions()
            .iter()
            .map(|e| (e.extension_type, e.extension_data)),
        ExtensionContainer::LeafNode,
    )
}

/// The checks of §7.3 that concern one leaf alone: the group's version and cipher suite, its
/// extensions and credential type listed in its own capabilities, the group's required
/// capabilities, its lifetime under the policy.
fn check_leaf_alone(
    leaf: &LeafNode,
    i: LeafIndex,
    suite: CipherSuite,
    params: &TreeValidationParams<'_>,
) -> Result<(), TreeValidationError> {
    if !supports_group_parameters(leaf, suite) {
        return Err(TreeValidationError::GroupParametersUnsupported { leaf: i });
    }
    let caps = &leaf.capabilities();
    let ct = leaf.credential_type();
    if !caps.credentials.contains(&ct) {
        return Err(TreeValidationError::CredentialNotInOwnCapabilities {
            leaf: i,
            credential_type: ct,
        });
    }
    if let Some(t) = repeated_extension_type(leaf.extensions().iter().map(|e| e.extension_type)) {
        return Err(TreeValidationError::DuplicateExtension {
            leaf: i,
            extension_type: t,
        });
    }
    if let Some(t) = misplaced_leaf_extension(leaf) {
        return Err(TreeValidationError::MisplacedExtension {
            leaf: i,
            extension_type: t,
        });
    }
    if caps.lists_default_type() {
        return Err(TreeValidationError::DefaultCapabilityListed { leaf: i });
    }
    let extensions = leaf.extensions().iter().map(|e| e.extension_type);
    if let Some(t) = caps
        .extensions
        .first_missing(extensions.filter(|t| !t.is_default()))
    {
        return Err(TreeValidationError::ExtensionNotInCapabilities {
            leaf: i,
            extension_type: t,
        });
    }
    if let Some(rc) = params.required_capabilities {
        if !caps.satisfies(rc) {
            return Err(TreeValidationError::RequiredCapabilityMissing { leaf: i });
        }
    }
    if let (LifetimePolicy::Check { now }, LeafNodeSource::KeyPackage(lt)) =
        (params.lifetime, &leaf.leaf_node_source())
    {
        if now < lt.not_before || now > lt.not_after {
            return Err(TreeValidationError::LifetimeInvalid {
                leaf: i,
                not_before: lt.not_before,
                not_after: lt.not_after,
                now,
            });
        }
    }
    Ok(())
}

/// Group-wide indexes for the §7.3 checks that compare a leaf with the other members: the
/// leaves' signature and encryption keys (hash maps keyed by a fixed-size, allocation-free key
/// identity, so uniqueness is O(1) per leaf, never a pairwise scan) and, per credential type, how many members use it and how many support it
/// (so "supported by all members" is a counter comparison).
///
/// Built in O(N) from a tree ([`MemberIndex::from_tree`]) and kept current by the caller with
/// [`MemberIndex::insert`] and [`MemberIndex::remove`] as members join, update and leave, so
/// that each new leaf (Add, Update, Commit) is checked in O(1) with
/// [`MemberIndex::check_leaf`].
#[derive(Clone, Debug, Default)]
pub struct MemberIndex {
    signature_keys: HashMap<KeyId, LeafIndex>,
    encryption_keys: HashMap<KeyId, LeafIndex>,
    credentials: CredentialCounts,
}

/// Per credential type, how many members use it and how many support it (a type a leaf lists
/// twice counts once): "supported by all members" is a comparison with `members`.
#[derive(Clone, Debug, Default)]
struct CredentialCounts {
    members: u32,
    in_use: HashMap<CredentialType, u32>,
    supported: HashMap<CredentialType, u32>,
}

impl CredentialCounts {
    /// Counts a member's leaf.
    fn add(&mut self, leaf: &LeafNode) {
        self.members += 1;
        *self.in_use.entry(leaf.credential_type()).or_default() += 1;
        let supported = &mut self.supported;
        leaf.capabilities()
            .credentials
            .for_each_distinct(|t| *supported.entry(t).or_default() += 1);
    }

    /// Stops counting a member's leaf (the leaf as counted).
    fn remove(&mut self, leaf: &LeafNode) {
        self.members = self.members.saturating_sub(1);
        if let Some(c) = self.in_use.get_mut(&leaf.credential_type()) {
            *c = c.saturating_sub(1);
        }
        let supported = &mut self.supported;
        leaf.capabilities().credentials.for_each_distinct(|t| {
            if let Some(c) = supported.get_mut(&t) {
                *c = c.saturating_sub(1);
            }
        });
    }
}

fn supports(leaf: &LeafNode, t: CredentialType) -> bool {
    leaf.capabilities().credentials.contains(&t)
}

impl MemberIndex {
    /// Indexes every leaf of `tree`; fails on the first duplicate key.
    pub fn from_tree(tree: &Tree) -> Result<Self, TreeValidationError> {
        let mut index = MemberIndex::default();
        for (i, leaf) in tree.leaves() {
            index.insert(i, leaf)?;
        }
        Ok(index)
    }

    /// Adds a member's leaf; fails (and changes nothing) when one of its keys is already used
    /// by another leaf.
    pub fn insert(&mut self, at: LeafIndex, leaf: &LeafNode) -> Result<(), TreeValidationError> {
        let sig = KeyId::new(leaf.signature_key());
        let enc = KeyId::new(leaf.encryption_key());
        if let Some(&first) = self.signature_keys.get(&sig) {
            return Err(TreeValidationError::DuplicateSignatureKey { leaf: at, first });
        }
        if let Some(&first) = self.encryption_keys.get(&enc) {
            return Err(TreeValidationError::DuplicateEncryptionKey {
                node: at.node(),
                first: first.node(),
            });
        }
        self.signature_keys.insert(sig, at);
        self.encryption_keys.insert(enc, at);
        self.credentials.add(leaf);
        Ok(())
    }

    /// Removes a member's leaf (the leaf as indexed).
    pub fn remove(&mut self, at: LeafIndex, leaf: &LeafNode) {
        let sig = KeyId::new(leaf.signature_key());
        let enc = KeyId::new(leaf.encryption_key());
        if self.signature_keys.get(&sig) == Some(&at) {
            self.signature_keys.remove(&sig);
        }
        if self.encryption_keys.get(&enc) == Some(&at) {
            self.encryption_keys.remove(&enc);
        }
        self.credentials.remove(leaf);
    }

    /// Checks a leaf arriving at `at` (§7.3), in O(number of credential types): alone (see
    /// [`validate_tree`]'s rules), its keys unused by any other member, its credential type
    /// supported by every other member, and every credential type the others use supported
    /// by it. `replacing` is the leaf it replaces (Update, Commit), which then does not count
    /// as another member, and whose encryption key must change. The signature is not checked
    /// here.
    pub fn check_leaf(
        &self,
        leaf: &LeafNode,
        at: LeafIndex,
        replacing: Option<&LeafNode>,
        suite: CipherSuite,
        params: &TreeValidationParams<'_>,
    ) -> Result<(), TreeValidationError> {
        check_leaf_alone(leaf, at, suite, params)?;
        if let Some(old) = replacing {
            if old.encryption_key() == leaf.encryption_key() {
                return Err(TreeValidationError::EncryptionKeyNotUpdated { leaf: at });
            }
        }
        if let Some(&first) = self.signature_keys.get(&KeyId::new(leaf.signature_key())) {
            if first != at {
                return Err(TreeValidationError::DuplicateSignatureKey { leaf: at, first });
            }
        }
        if let Some(&first) = self.encryption_keys.get(&KeyId::new(leaf.encryption_key())) {
            if first != at {
                return Err(TreeValidationError::DuplicateEncryptionKey {
                    node: at.node(),
                    first: first.node(),
                });
            }
        }
        let counts = &self.credentials;
        let others = counts
            .members
            .saturating_sub(u32::from(replacing.is_some()));
        let ct = leaf.credential_type();
        let supporting_others = counts
            .supported
            .get(&ct)
            .copied()
            .unwrap_or(0)
            .saturating_sub(u32::from(replacing.is_some_and(|o| supports(o, ct))));
        if supporting_others < others {
            return Err(TreeValidationError::CredentialTypeUnsupportedByGroup {
                leaf: at,
                credential_type: ct,
            });
        }
        // Every type another member uses is in the leaf's list (a long list is searched
        // sorted, see `CodeList::first_missing`).
        let used_by_others = counts.in_use.iter().filter_map(|(&t, &count)| {
            let replaced = u32::from(replacing.is_some_and(|o| o.credential_type() == t));
            (count.saturating_sub(replaced) > 0).then_some(t)
        });
        match leaf
            .capabilities()
            .credentials
            .first_missing(used_by_others)
        {
            Some(t) => Err(TreeValidationError::CredentialTypeNotSupported {
                leaf: at,
                credential_type: t,
            }),
            None => Ok(()),
        }
    }
}

fn check_leaves(
    tree: &Tree,
    suite: CipherSuite,
    params: &TreeValidationParams<'_>,
) -> Result<(), TreeValidationError> {
    for (i, leaf) in tree.leaves() {
        check_leaf_alone(leaf, i, suite, params)?;
    }
    // The credential counters in one O(N) pass (key uniqueness is `check_unique_keys`').
    let mut counts = CredentialCounts::default();
    for (_, leaf) in tree.leaves() {
        counts.add(leaf);
    }
    // Every credential type in use must be supported by all members.
    for (&t, &used) in &counts.in_use {
        if used > 0 && counts.supported.get(&t).copied().unwrap_or(0) < counts.members {
            if let Some((leaf, _)) = tree.leaves().find(|(_, l)| !supports(l, t)) {
                return Err(TreeValidationError::CredentialTypeNotSupported {
                    leaf,
                    credential_type: t,
                });
            }
        }
    }
    Ok(())
}

/// The keys of a tree, found by value, as the uniqueness check built them: each member's leaf
/// index by its signature key, each non-blank node's index by its encryption key. The tables
/// hold indices only (a key is read from the tree to compare), hashed with one random SipHash
/// key. A joining member keeps them as its group's index (`group::key_package::MemberIndex`)
/// instead of building them a second time.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyTables {
    /// Every member's leaf index, found by its signature key.
    pub(crate) sig: hashbrown::HashTable<u32>,
    /// Every non-blank node's index, found by its encryption key.
    pub(crate) enc: hashbrown::HashTable<u32>,
    /// The keyed hash of both tables.
    pub(crate) hasher: std::collections::hash_map::RandomState,
}

/// §7.3: no two leaves share a signature key and no two nodes an encryption key. The two
/// tables are sized once for what they will hold: about 5 bytes an entry instead of a map's
/// 24, never rehashed.
fn check_unique_keys(tree: &Tree) -> Result<KeyTables, TreeValidationError> {
    use std::hash::BuildHasher;
    let hasher = std::collections::hash_map::RandomState::new();
    let width = tree.size().node_width();
    let nodes = (0..width).filter(|&i| !tree.is_blank(NodeIndex(i))).count();
    let mut sig: hashbrown::HashTable<u32> =
        hashbrown::HashTable::with_capacity(tree.member_count() as usize);
    let mut enc: hashbrown::HashTable<u32> = hashbrown::HashTable::with_capacity(nodes);
    let sig_at = |l: u32| tree.leaf(LeafIndex(l)).map(LeafNode::signature_key);
    let enc_at = |n: u32| tree.node(NodeIndex(n)).map(node_encryption_key);
    // The first holder of `key` in `table`, or `at` inserted as its holder.
    fn first_holder<'t>(
        table: &mut hashbrown::HashTable<u32>,
        hasher: &std::collections::hash_map::RandomState,
        key: &[u8],
        at: u32,
        key_at: impl Fn(u32) -> Option<&'t [u8]>,
    ) -> Option<u32> {
        match table.entry(
            hasher.hash_one(key),
            |&e| key_at(e) == Some(key),
            |&e| hasher.hash_one(key_at(e).unwrap_or_default()),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => Some(*o.get()),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(at);
                None
            }
        }
    }
    for i in 0..width {
        let at = NodeIndex(i);
        let Some(node) = tree.node(at) else {
            continue;
        };
        if let crate::messages::Node::Leaf(l) = node {
            let leaf = LeafIndex(at.0 / 2);
            if let Some(first) = first_holder(&mut sig, &hasher, l.signature_key(), leaf.0, sig_at)
            {
                return Err(TreeValidationError::DuplicateSignatureKey {
                    leaf,
                    first: LeafIndex(first),
                });
            }
        }
        if let Some(first) = first_holder(&mut enc, &hasher, node_encryption_key(node), i, enc_at) {
            return Err(TreeValidationError::DuplicateEncryptionKey {
                node: at,
                first: NodeIndex(first),
            });
        }
    }
    Ok(KeyTables { sig, enc, hasher })
}

/// A node's HPKE encryption key.
/// Every non-blank node's encryption key passes the suite's check (the first bad node is
/// named). In parallel: the NIST suites' check decodes a point.
fn check_encryption_keys(
    tree: &Tree,
    cs: &dyn CipherSuiteProvider,
) -> Result<(), TreeValidationError> {
    let bad = (0..tree.size().node_width())
        .into_par_iter()
        .with_min_len(1024)
        .filter(|&i| {
            tree.node(NodeIndex(i))
                .is_some_and(|n| cs.kem_check_public_key(node_encryption_key(n)).is_err())
        })
        .min();
    match bad {
        Some(i) => Err(TreeValidationError::InvalidEncryptionKey { node: NodeIndex(i) }),
        None => Ok(()),
    }
}

fn node_encryption_key(node: &crate::messages::Node) -> &[u8] {
    match node {
        crate::messages::Node::Leaf(l) => l.encryption_key(),
        crate::messages::Node::Parent(p) => p.encryption_key.0.as_slice(),
    }
}

/// Every leaf's node, shared (not copied), for checking the signatures while the tree itself
/// is borrowed mutably (hashed) or not yet built.
fn shared_leaves<'n>(
    nodes: impl Iterator<Item = &'n Option<Arc<Node>>>,
) -> Vec<(LeafIndex, Arc<Node>)> {
    nodes
        .step_by(2)
        .zip(0u32..)
        .filter_map(|(n, i)| match n.as_deref() {
            Some(Node::Leaf(_)) => n.clone().map(|n| (LeafIndex(i), n)),
            _ => None,
        })
        .collect()
}

fn check_signatures(
    shared: &[(LeafIndex, Arc<Node>)],
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
) -> Result<(), TreeValidationError> {
    let leaves: Vec<(LeafIndex, &LeafNode)> = shared
        .iter()
        .filter_map(|(i, n)| match &**n {
            Node::Leaf(l) => Some((*i, l)),
            Node::Parent(_) => None,
        })
        .collect();
    // Fast path: all N signatures in batches. Only if some batch does not verify are the
    // leaves checked one by one, to name the failing leaf.
    let all_valid = verify_all_with_label(cs, leaves.len(), |k| {
        let (i, l) = leaves[k];
        Some(LabelledSignature {
            public_key: l.signature_key(),
            label: "LeafNodeTBS",
            content: leaf_tbs(l, group_id, i).ok()?,
            signature: l.signature(),
        })
    });
    if all_valid {
        return Ok(());
    }
    let bad = leaves
        .par_iter()
        .map(|(i, l)| verify_leaf_signature(cs, l, group_id, *i).map(|ok| (*i, ok)))
        .filter(|r| !matches!(r, Ok((_, true))))
        .collect::<Result<Vec<_>, _>>()?;
    match bad.into_iter().map(|(i, _)| i).min() {
        Some(leaf) => Err(TreeValidationError::LeafSignature { leaf }),
        None => Ok(()),
    }
}

/// What [`check_structure`] found: the parent-hash verdict (check 5, not yet applied) and the
/// key tables of check 3.
type Structure = (Result<Option<(NodeIndex, usize)>, TreeError>, KeyTables);

/// Checks 1-3 of the module documentation, with the tree's hashes brought up to date first;
/// check 5 (the parent hashes) is returned, not yet applied, so that its verdict can be read
/// after the signatures'.
fn check_structure(
    tree: &mut Tree,
    cs: &dyn CipherSuiteProvider,
    params: &TreeValidationParams<'_>,
) -> Result<Structure, TreeValidationError> {
    tree.update_hashes(cs)?;
    check_unmerged(tree)?;
    check_leaves(tree, cs.cipher_suite(), params)?;
    check_encryption_keys(tree, cs)?;
    let keys = check_unique_keys(tree)?;
    Ok((tree.verify_parent_hashes(cs), keys))
}

/// The verdicts in the order the checks are listed, so the error reported does not depend on
/// which half finished first.
fn verdict(
    structure: Result<Structure, TreeValidationError>,
    signatures: Result<(), TreeValidationError>,
) -> Result<KeyTables, TreeValidationError> {
    let (parent_hashes, keys) = structure?;
    signatures?;
    if let Some((parent, valid_descendants)) = parent_hashes? {
        return Err(TreeValidationError::ParentHashInvalid {
            parent,
            valid_descendants,
        });
    }
    Ok(keys)
}

/// Validates a received tree completely (see the module documentation for the rules and
/// their order). Brings the tree's hashes up to date first.
pub fn validate_tree(
    tree: &mut Tree,
    cs: &dyn CipherSuiteProvider,
    params: &TreeValidationParams<'_>,
) -> Result<(), TreeValidationError> {
    validate_tree_keyed(tree, cs, params).map(drop)
}

/// [`validate_tree`], returning the key tables its uniqueness check built.
pub(crate) fn validate_tree_keyed(
    tree: &mut Tree,
    cs: &dyn CipherSuiteProvider,
    params: &TreeValidationParams<'_>,
) -> Result<KeyTables, TreeValidationError> {
    // The leaf signatures (N verifications, spread over the pool) run beside the hashing,
    // the structural checks and the parent-hash walk; they need only the leaves.
    let leaves = shared_leaves(tree.nodes.iter());
    let (structure, signatures) = rayon::join(
        || check_structure(tree, cs, params),
        || check_signatures(&leaves, cs, params.group_id),
    );
    verdict(structure, signatures)
}

/// Builds a received tree from its decoded nodes ([`Tree::from_shared_nodes`]) and validates
/// it as [`validate_tree_keyed`] does, the leaf signatures checked from the first moment: the
/// whole-tree hash, the structural checks and then `finish` (given the valid-so-far tree and
/// its key tables, for what the caller derives from them) all run beside the signatures.
/// `finish`'s output is returned only if every check passed.
pub(crate) fn build_validated_tree<T: Send>(
    cs: &dyn CipherSuiteProvider,
    nodes: Vec<Option<Arc<Node>>>,
    params: &TreeValidationParams<'_>,
    finish: impl FnOnce(&Tree, KeyTables) -> T + Send,
) -> Result<(Tree, T), TreeValidationError> {
    let leaves = shared_leaves(nodes.iter());
    let (built, signatures) = rayon::join(
        || -> Result<_, TreeValidationError> {
            let mut tree = Tree::from_shared_nodes(cs, nodes)?;
            let (parent_hashes, keys) = check_structure(&mut tree, cs, params)?;
            // `finish` only when nothing found so far is wrong (its work is wasted, not
            // wrong, if a signature then fails); a bad parent hash is reported after the
            // signatures' verdict, as in `verdict`.
            let then = match parent_hashes {
                Ok(None) => Ok(Ok(finish(&tree, keys))),
                Ok(Some(bad)) => Ok(Err(bad)),
                Err(e) => Err(e),
            };
            Ok((tree, then))
        },
        || check_signatures(&leaves, cs, params.group_id),
    );
    let (tree, then) = built?;
    signatures?;
    match then? {
        Ok(finished) => Ok((tree, finished)),
        Err((parent, valid_descendants)) => Err(TreeValidationError::ParentHashInvalid {
            parent,
            valid_descendants,
        }),
    }
}
