//! Validation of a received ratchet tree (RFC 9420 §12.4.3.1, with §7.3 for every leaf and
//! §7.9.2 for every parent), with a typed error naming the node and the rule broken.
//!
//! What is checked, in this order:
//! 1. every parent's `unmerged_leaves`: strictly ascending, each a non-blank leaf below the
//!    parent, and listed by every non-blank parent between the leaf and it (§7.1, §12.4.3.1);
//! 2. every leaf (§7.3): its extensions listed in its own capabilities (default extension
//!    types 1-5 excepted, §7.2), its credential type listed in its own capabilities, every
//!    credential type in use supported by every member (one intersection over the group, not
//!    a pairwise scan), the group's required capabilities if given, and the lifetime of
//!    `key_package` leaves when the lifetime policy is on (the default);
//! 3. uniqueness of signature keys among leaves and of encryption keys among all nodes
//!    (hash-set indexes);
//! 4. every leaf signature, `VerifyWithLabel(., "LeafNodeTBS", LeafNodeTBS)` with the group id
//!    and leaf index for `update` and `commit` leaves, in parallel across cores;
//! 5. every non-blank parent parent-hash valid (§7.9.2), in parallel.
//!
//! Credential validation itself (§5.3.1: does this identity own this key?) belongs to the
//! application's credential validator and is not done here.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use tls_codec::Serialize;

use crate::codec::varint_len;
use crate::crypto::CipherSuiteProvider;
use crate::messages::{
    CredentialType, ExtensionType, LeafNode, LeafNodeSource, RequiredCapabilities,
};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::error::TreeError;
use super::ratchet_tree::Tree;
use crate::crypto::labels::verify_with_label;

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
    /// A leaf lacks a capability the group requires (§7.3, §11.1).
    #[error("leaf {leaf:?}: lacks a required capability")]
    RequiredCapabilityMissing {
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
    let mut buf = Vec::with_capacity(512);
    leaf.tls_serialize(&mut buf)?;
    let sig_len = varint_len(leaf.signature.len())? + leaf.signature.len();
    buf.truncate(buf.len().saturating_sub(sig_len));
    if !matches!(leaf.leaf_node_source, LeafNodeSource::KeyPackage(_)) {
        crate::codec::write_varint(&mut buf, group_id.len())?;
        buf.extend_from_slice(group_id);
        buf.extend_from_slice(&index.0.to_be_bytes());
    }
    Ok(buf)
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
        &leaf.signature_key,
        "LeafNodeTBS",
        &tbs,
        &leaf.signature,
    )
    .is_ok())
}

/// Extension types every client supports without listing them (§7.2).
fn is_default_extension(t: ExtensionType) -> bool {
    (1..=5).contains(&t.0)
}

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

fn check_leaves(tree: &Tree, params: &TreeValidationParams<'_>) -> Result<(), TreeValidationError> {
    // Credential types in use, and the types every member supports (one intersection).
    let mut in_use: HashSet<CredentialType> = HashSet::new();
    let mut supported_by_all: Option<HashSet<CredentialType>> = None;
    for (i, leaf) in tree.leaves() {
        let caps = &leaf.capabilities;
        let ct = leaf.credential.credential_type();
        if !caps.credentials.contains(&ct) {
            return Err(TreeValidationError::CredentialNotInOwnCapabilities {
                leaf: i,
                credential_type: ct,
            });
        }
        for ext in leaf.extensions.iter() {
            let t = ext.extension_type;
            if !is_default_extension(t) && !caps.extensions.contains(&t) {
                return Err(TreeValidationError::ExtensionNotInCapabilities {
                    leaf: i,
                    extension_type: t,
                });
            }
        }
        if let Some(rc) = params.required_capabilities {
            let ok = rc
                .extension_types
                .iter()
                .all(|t| is_default_extension(*t) || caps.extensions.contains(t))
                && rc
                    .proposal_types
                    .iter()
                    .all(|t| (1..=7).contains(&t.0) || caps.proposals.contains(t))
                && rc
                    .credential_types
                    .iter()
                    .all(|t| caps.credentials.contains(t));
            if !ok {
                return Err(TreeValidationError::RequiredCapabilityMissing { leaf: i });
            }
        }
        if let (LifetimePolicy::Check { now }, LeafNodeSource::KeyPackage(lt)) =
            (params.lifetime, &leaf.leaf_node_source)
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
        in_use.insert(ct);
        let supported: HashSet<CredentialType> = caps.credentials.iter().copied().collect();
        supported_by_all = Some(match supported_by_all {
            None => supported,
            Some(all) => all.intersection(&supported).copied().collect(),
        });
    }
    let supported_by_all = supported_by_all.unwrap_or_default();
    if let Some(missing) = in_use.iter().find(|t| !supported_by_all.contains(t)) {
        // Name the first member lacking it.
        if let Some((leaf, _)) = tree
            .leaves()
            .find(|(_, l)| !l.capabilities.credentials.contains(missing))
        {
            return Err(TreeValidationError::CredentialTypeNotSupported {
                leaf,
                credential_type: *missing,
            });
        }
    }
    Ok(())
}

fn check_unique_keys(tree: &Tree) -> Result<(), TreeValidationError> {
    let mut sig: HashMap<&[u8], LeafIndex> = HashMap::new();
    let mut enc: HashMap<&[u8], NodeIndex> = HashMap::new();
    for (i, node) in (0u32..).zip(tree.nodes.iter()) {
        let at = NodeIndex(i);
        let Some(node) = node.as_deref() else {
            continue;
        };
        let key = match node {
            crate::messages::Node::Leaf(l) => {
                let leaf = LeafIndex(at.0 / 2);
                if let Some(first) = sig.insert(l.signature_key.0.as_slice(), leaf) {
                    return Err(TreeValidationError::DuplicateSignatureKey { leaf, first });
                }
                l.encryption_key.0.as_slice()
            }
            crate::messages::Node::Parent(p) => p.encryption_key.0.as_slice(),
        };
        if let Some(first) = enc.insert(key, at) {
            return Err(TreeValidationError::DuplicateEncryptionKey { node: at, first });
        }
    }
    Ok(())
}

fn check_signatures(
    tree: &Tree,
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
) -> Result<(), TreeValidationError> {
    let leaves: Vec<(LeafIndex, &LeafNode)> = tree.leaves().collect();
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

/// Validates a received tree completely (see the module documentation for the rules and
/// their order). Brings the tree's hashes up to date first.
pub fn validate_tree(
    tree: &mut Tree,
    cs: &dyn CipherSuiteProvider,
    params: &TreeValidationParams<'_>,
) -> Result<(), TreeValidationError> {
    tree.update_hashes(cs)?;
    check_unmerged(tree)?;
    check_leaves(tree, params)?;
    check_unique_keys(tree)?;
    check_signatures(tree, cs, params.group_id)?;
    if let Some((parent, valid_descendants)) = tree.verify_parent_hashes(cs)? {
        return Err(TreeValidationError::ParentHashInvalid {
            parent,
            valid_descendants,
        });
    }
    Ok(())
}
