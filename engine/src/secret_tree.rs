//! The secret tree (RFC 9420 §9): per-sender handshake and application ratchets derived from
//! the epoch's `encryption_secret`, with the deletion schedule (§9.2) and explicit bounds on
//! out-of-order delivery.
//!
//! # What this module owns
//!
//! ```text
//! tree_node_[root]_secret = encryption_secret
//! left(N)  = ExpandWithLabel(tree_node_[N]_secret, "tree", "left",  KDF.Nh)
//! right(N) = ExpandWithLabel(tree_node_[N]_secret, "tree", "right", KDF.Nh)
//! handshake_ratchet_secret_[N]_[0]   = ExpandWithLabel(leaf secret, "handshake",   "", KDF.Nh)
//! application_ratchet_secret_[N]_[0] = ExpandWithLabel(leaf secret, "application", "", KDF.Nh)
//! key_[j]    = DeriveTreeSecret(ratchet_secret_[j], "key",    j, AEAD.Nk)
//! nonce_[j]  = DeriveTreeSecret(ratchet_secret_[j], "nonce",  j, AEAD.Nn)
//! secret_[j+1] = DeriveTreeSecret(ratchet_secret_[j], "secret", j, KDF.Nh)
//! ```
//!
//! # Invariants
//!
//! - **Sparse.** Nothing is allocated per member up front. Tree-node secrets live in a map keyed
//!   by node index; the tree starts with the root only. A leaf's ratchets are created the first
//!   time that leaf is used, by walking down from its nearest stored ancestor. A group of
//!   100,000 members with `k` active senders holds `O(k · log n)` node secrets.
//! - **Deletion schedule (§9.2).** When a node's children are derived the node's secret is
//!   deleted; a leaf's secret is deleted once its two ratchets exist; a ratchet secret is
//!   replaced by the next one when a generation is used; a key/nonce pair is deleted when it is
//!   consumed. For every leaf without ratchets, some ancestor-or-self secret is still stored.
//! - **Bounded.** A ratchet moves at most [`SecretTreeConfig::max_forward_distance`]
//!   generations ahead in one step, and keeps at most
//!   [`SecretTreeConfig::max_retained_keys`] skipped keys per ratchet (oldest evicted first).
//!   No input makes it derive or store more.
//! - **Peek, then consume.** [`SecretTree::peek_key`] takes `&self` and changes nothing; a
//!   receiver peeks, opens the AEAD, checks the content, and only then calls
//!   [`SecretTree::consume_key`]. A forged or corrupted message therefore leaves the tree as it
//!   was.

use std::collections::{BTreeMap, HashMap};

use crate::crypto::labels::{derive_tree_secret, expand_with_label};
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// Which of a leaf's two ratchets (§9.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RatchetKind {
    /// The handshake ratchet: proposals and commits sent as PrivateMessage.
    Handshake,
    /// The application ratchet: application data.
    Application,
}

/// Bounds on out-of-order tolerance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SecretTreeConfig {
    /// The largest number of generations a message may be ahead of a ratchet's next unused
    /// generation (the number of keys a receiver is willing to derive and skip for it).
    pub max_forward_distance: u32,
    /// The largest number of skipped (not yet consumed) keys kept per ratchet for late
    /// messages; the oldest are evicted first.
    pub max_retained_keys: usize,
}

impl Default for SecretTreeConfig {
    fn default() -> Self {
        Self {
            max_forward_distance: 1024,
            max_retained_keys: 32,
        }
    }
}

/// An AEAD key and nonce for one generation of one ratchet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatchetKey {
    /// The generation.
    pub generation: u32,
    /// `AEAD.Nk` bytes.
    pub key: Secret,
    /// `AEAD.Nn` bytes.
    pub nonce: Secret,
}

/// Why a secret-tree operation failed. None of these changes the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretTreeError {
    /// The leaf is outside the group's tree.
    #[error("leaf {leaf} is outside a tree of {leaves} leaves")]
    LeafOutOfTree {
        /// The leaf asked for.
        leaf: u32,
        /// Leaves in the tree.
        leaves: u32,
    },
    /// The generation is further ahead than the configured bound allows.
    #[error("generation {generation} is more than {max} ahead of {next}")]
    GenerationTooFarAhead {
        /// The generation asked for.
        generation: u32,
        /// The ratchet's next unused generation.
        next: u32,
        /// The bound.
        max: u32,
    },
    /// The generation's key was already used (a replay) or has been deleted.
    #[error("generation {generation} already consumed or deleted")]
    GenerationConsumed {
        /// The generation asked for.
        generation: u32,
    },
    /// The ratchet reached the last generation a `uint32` can name.
    #[error("ratchet generations exhausted")]
    GenerationsExhausted,
    /// The tree cannot hold that many leaves.
    #[error("invalid leaf count {0}")]
    InvalidLeafCount(u32),
    /// The secrets for this leaf are gone (an internal invariant was broken).
    #[error("secret tree has no secret for leaf {0}")]
    SecretsMissing(u32),
    /// A key derivation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// One ratchet: its current secret, the generation that secret is for, and retained skipped
/// keys.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ratchet {
    secret: Secret,
    next: u32,
    retained: BTreeMap<u32, (Secret, Secret)>,
}

impl Ratchet {
    fn new(secret: Secret) -> Self {
        Self {
            secret,
            next: 0,
            retained: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LeafRatchets {
    handshake: Ratchet,
    application: Ratchet,
}

impl LeafRatchets {
    fn get(&self, kind: RatchetKind) -> &Ratchet {
        match kind {
            RatchetKind::Handshake => &self.handshake,
            RatchetKind::Application => &self.application,
        }
    }
    fn get_mut(&mut self, kind: RatchetKind) -> &mut Ratchet {
        match kind {
            RatchetKind::Handshake => &mut self.handshake,
            RatchetKind::Application => &mut self.application,
        }
    }
}

/// The secret tree of one epoch (§9), sparse and bounded; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretTree {
    size: TreeSize,
    n_leaves: u32,
    config: SecretTreeConfig,
    nodes: HashMap<u32, Secret>,
    leaves: HashMap<u32, LeafRatchets>,
}

fn key_and_nonce(
    cs: &dyn CipherSuiteProvider,
    secret: &Secret,
    generation: u32,
) -> Result<(Secret, Secret), CryptoError> {
    let key = derive_tree_secret(cs, secret.as_bytes(), "key", generation, cs.aead_key_len())?;
    let nonce = derive_tree_secret(
        cs,
        secret.as_bytes(),
        "nonce",
        generation,
        cs.aead_nonce_len(),
    )?;
    Ok((key, nonce))
}

fn next_secret(
    cs: &dyn CipherSuiteProvider,
    secret: &Secret,
    generation: u32,
) -> Result<Secret, CryptoError> {
    derive_tree_secret(cs, secret.as_bytes(), "secret", generation, cs.hash_len())
}

fn child_secret(
    cs: &dyn CipherSuiteProvider,
    parent: &Secret,
    left: bool,
) -> Result<Secret, CryptoError> {
    let ctx: &[u8] = if left { b"left" } else { b"right" };
    expand_with_label(cs, parent.as_bytes(), "tree", ctx, cs.hash_len())
}

fn leaf_ratchets(
    cs: &dyn CipherSuiteProvider,
    leaf_secret: &Secret,
) -> Result<LeafRatchets, CryptoError> {
    let h = expand_with_label(cs, leaf_secret.as_bytes(), "handshake", b"", cs.hash_len())?;
    let a = expand_with_label(
        cs,
        leaf_secret.as_bytes(),
        "application",
        b"",
        cs.hash_len(),
    )?;
    Ok(LeafRatchets {
        handshake: Ratchet::new(h),
        application: Ratchet::new(a),
    })
}

/// The wire form of a [`SecretTree`] for group-state serialisation (private state).
#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserializeBytes, tls_codec::TlsSize)]
struct SecretTreeWire {
    n_leaves: u32,
    max_forward_distance: u32,
    max_retained_keys: u32,
    nodes: crate::codec::VarVec<NodeWire>,
    leaves: crate::codec::VarVec<LeafWire>,
}

#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserializeBytes, tls_codec::TlsSize)]
struct NodeWire {
    node: u32,
    secret: crate::codec::VarBytes,
}

#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserializeBytes, tls_codec::TlsSize)]
struct RatchetWire {
    secret: crate::codec::VarBytes,
    next: u32,
    retained: crate::codec::VarVec<RetainedWire>,
}

#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserializeBytes, tls_codec::TlsSize)]
struct RetainedWire {
    generation: u32,
    key: crate::codec::VarBytes,
    nonce: crate::codec::VarBytes,
}

#[derive(tls_codec::TlsSerialize, tls_codec::TlsDeserializeBytes, tls_codec::TlsSize)]
struct LeafWire {
    leaf: u32,
    handshake: RatchetWire,
    application: RatchetWire,
}

fn ratchet_to_wire(r: &Ratchet) -> RatchetWire {
    RatchetWire {
        secret: r.secret.as_bytes().to_vec().into(),
        next: r.next,
        retained: r
            .retained
            .iter()
            .map(|(g, (k, n))| RetainedWire {
                generation: *g,
                key: k.as_bytes().to_vec().into(),
                nonce: n.as_bytes().to_vec().into(),
            })
            .collect(),
    }
}

fn ratchet_from_wire(w: RatchetWire) -> Ratchet {
    Ratchet {
        secret: Secret::new(w.secret.into_vec()),
        next: w.next,
        retained: w
            .retained
            .into_vec()
            .into_iter()
            .map(|r| {
                (
                    r.generation,
                    (
                        Secret::new(r.key.into_vec()),
                        Secret::new(r.nonce.into_vec()),
                    ),
                )
            })
            .collect(),
    }
}

impl SecretTree {
    /// Encodes the tree (its remaining secrets, in the clear) for the group's private state.
    pub fn to_bytes(&self) -> Result<Vec<u8>, tls_codec::Error> {
        let mut nodes: Vec<NodeWire> = self
            .nodes
            .iter()
            .map(|(n, s)| NodeWire {
                node: *n,
                secret: s.as_bytes().to_vec().into(),
            })
            .collect();
        nodes.sort_by_key(|n| n.node);
        let mut leaves: Vec<LeafWire> = self
            .leaves
            .iter()
            .map(|(l, r)| LeafWire {
                leaf: *l,
                handshake: ratchet_to_wire(&r.handshake),
                application: ratchet_to_wire(&r.application),
            })
            .collect();
        leaves.sort_by_key(|l| l.leaf);
        crate::codec::encode(&SecretTreeWire {
            n_leaves: self.n_leaves,
            max_forward_distance: self.config.max_forward_distance,
            max_retained_keys: u32::try_from(self.config.max_retained_keys).unwrap_or(u32::MAX),
            nodes: nodes.into(),
            leaves: leaves.into(),
        })
    }

    /// Decodes a tree written by [`SecretTree::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretTreeError> {
        let w: SecretTreeWire =
            crate::codec::decode_exact(bytes).map_err(|_| SecretTreeError::InvalidLeafCount(0))?;
        let size = TreeSize::for_leaves(w.n_leaves)
            .ok_or(SecretTreeError::InvalidLeafCount(w.n_leaves))?;
        Ok(Self {
            size,
            n_leaves: w.n_leaves,
            config: SecretTreeConfig {
                max_forward_distance: w.max_forward_distance,
                max_retained_keys: w.max_retained_keys as usize,
            },
            nodes: w
                .nodes
                .into_vec()
                .into_iter()
                .map(|n| (n.node, Secret::new(n.secret.into_vec())))
                .collect(),
            leaves: w
                .leaves
                .into_vec()
                .into_iter()
                .map(|l| {
                    (
                        l.leaf,
                        LeafRatchets {
                            handshake: ratchet_from_wire(l.handshake),
                            application: ratchet_from_wire(l.application),
                        },
                    )
                })
                .collect(),
        })
    }
    /// The secret tree of an epoch whose ratchet tree has `n_leaves` leaves (blank or not), rooted
    /// at `encryption_secret` (§9). Stores one secret.
    pub fn new(
        encryption_secret: Secret,
        n_leaves: u32,
        config: SecretTreeConfig,
    ) -> Result<Self, SecretTreeError> {
        if n_leaves == 0 {
            return Err(SecretTreeError::InvalidLeafCount(n_leaves));
        }
        let size =
            TreeSize::for_leaves(n_leaves).ok_or(SecretTreeError::InvalidLeafCount(n_leaves))?;
        let mut nodes = HashMap::new();
        nodes.insert(size.root().0, encryption_secret);
        Ok(Self {
            size,
            n_leaves,
            config,
            nodes,
            leaves: HashMap::new(),
        })
    }

    /// The configured bounds.
    pub fn config(&self) -> SecretTreeConfig {
        self.config
    }

    /// Leaves in the tree.
    pub fn leaf_count(&self) -> u32 {
        self.n_leaves
    }

    /// Tree-node secrets currently stored (for memory accounting and tests).
    pub fn stored_node_secrets(&self) -> usize {
        self.nodes.len()
    }

    /// Leaves whose ratchets exist (for memory accounting and tests).
    pub fn active_leaves(&self) -> usize {
        self.leaves.len()
    }

    /// Skipped keys retained for `leaf`'s `kind` ratchet.
    pub fn retained_keys(&self, leaf: LeafIndex, kind: RatchetKind) -> usize {
        self.leaves
            .get(&leaf.0)
            .map_or(0, |r| r.get(kind).retained.len())
    }

    /// The next unused generation of `leaf`'s `kind` ratchet (0 before first use).
    pub fn next_generation(&self, leaf: LeafIndex, kind: RatchetKind) -> u32 {
        self.leaves.get(&leaf.0).map_or(0, |r| r.get(kind).next)
    }

    fn check_leaf(&self, leaf: LeafIndex) -> Result<(), SecretTreeError> {
        if leaf.0 >= self.n_leaves {
            return Err(SecretTreeError::LeafOutOfTree {
                leaf: leaf.0,
                leaves: self.n_leaves,
            });
        }
        Ok(())
    }

    /// The path from the nearest stored ancestor-or-self of `leaf` down to `leaf`, top first.
    fn stored_path(&self, leaf: LeafIndex) -> Result<Vec<NodeIndex>, SecretTreeError> {
        let mut path = vec![leaf.node()];
        let mut node = leaf.node();
        while !self.nodes.contains_key(&node.0) {
            node = self
                .size
                .parent(node)
                .ok_or(SecretTreeError::SecretsMissing(leaf.0))?;
            path.push(node);
        }
        path.reverse();
        Ok(path)
    }

    /// The leaf's fresh ratchets, derived without storing anything.
    fn derive_leaf(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<LeafRatchets, SecretTreeError> {
        let path = self.stored_path(leaf)?;
        let top = path
            .first()
            .ok_or(SecretTreeError::SecretsMissing(leaf.0))?;
        let mut secret = self
            .nodes
            .get(&top.0)
            .ok_or(SecretTreeError::SecretsMissing(leaf.0))?
            .clone();
        for pair in path.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            secret = child_secret(cs, &secret, parent.left() == Some(child))?;
        }
        Ok(leaf_ratchets(cs, &secret)?)
    }

    /// Creates `leaf`'s ratchets, following the deletion schedule: every node on the way down is
    /// deleted once both its children are derived, the off-path children are stored, and the
    /// leaf secret is deleted once its ratchets exist.
    fn ensure_leaf(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<&mut LeafRatchets, SecretTreeError> {
        if !self.leaves.contains_key(&leaf.0) {
            let path = self.stored_path(leaf)?;
            // Derive everything first, then mutate, so an error leaves the tree unchanged.
            let top = path
                .first()
                .ok_or(SecretTreeError::SecretsMissing(leaf.0))?;
            let mut secret = self
                .nodes
                .get(&top.0)
                .ok_or(SecretTreeError::SecretsMissing(leaf.0))?
                .clone();
            let mut siblings = Vec::with_capacity(path.len());
            for pair in path.windows(2) {
                let (parent, child) = (pair[0], pair[1]);
                let (left, right) = (
                    child_secret(cs, &secret, true)?,
                    child_secret(cs, &secret, false)?,
                );
                let (on_path, off_path) = if parent.left() == Some(child) {
                    (left, right)
                } else {
                    (right, left)
                };
                siblings.push((self.size.sibling(child), off_path));
                secret = on_path;
            }
            let ratchets = leaf_ratchets(cs, &secret)?;
            for node in &path {
                self.nodes.remove(&node.0);
            }
            for (sibling, s) in siblings {
                if let Some(sib) = sibling {
                    self.nodes.insert(sib.0, s);
                }
            }
            self.leaves.insert(leaf.0, ratchets);
        }
        self.leaves
            .get_mut(&leaf.0)
            .ok_or(SecretTreeError::SecretsMissing(leaf.0))
    }

    fn check_forward(&self, ratchet_next: u32, generation: u32) -> Result<(), SecretTreeError> {
        if generation - ratchet_next > self.config.max_forward_distance {
            return Err(SecretTreeError::GenerationTooFarAhead {
                generation,
                next: ratchet_next,
                max: self.config.max_forward_distance,
            });
        }
        if generation == u32::MAX {
            return Err(SecretTreeError::GenerationsExhausted);
        }
        Ok(())
    }

    /// The key and nonce of `generation` of `leaf`'s `kind` ratchet, changing nothing (§9.1).
    ///
    /// Errors: the leaf is outside the tree; the generation was consumed or its key deleted;
    /// the generation is beyond [`SecretTreeConfig::max_forward_distance`].
    pub fn peek_key(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<RatchetKey, SecretTreeError> {
        self.check_leaf(leaf)?;
        let derived;
        let ratchet = match self.leaves.get(&leaf.0) {
            Some(r) => r.get(kind),
            None => {
                derived = self.derive_leaf(cs, leaf)?;
                derived.get(kind)
            }
        };
        if generation < ratchet.next {
            let (key, nonce) = ratchet
                .retained
                .get(&generation)
                .ok_or(SecretTreeError::GenerationConsumed { generation })?;
            return Ok(RatchetKey {
                generation,
                key: key.clone(),
                nonce: nonce.clone(),
            });
        }
        self.check_forward(ratchet.next, generation)?;
        let mut secret = ratchet.secret.clone();
        for g in ratchet.next..generation {
            secret = next_secret(cs, &secret, g)?;
        }
        let (key, nonce) = key_and_nonce(cs, &secret, generation)?;
        Ok(RatchetKey {
            generation,
            key,
            nonce,
        })
    }

    /// Marks `generation` of `leaf`'s `kind` ratchet as used and deletes its key (§9.2),
    /// ratcheting forward if needed and retaining the skipped keys within the configured bound.
    /// Returns the key and nonce. A refusal (leaf outside the tree, generation too far ahead,
    /// consumed or deleted) changes nothing.
    pub fn consume_key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<RatchetKey, SecretTreeError> {
        self.consume(cs, leaf, kind, generation, true)?
            .ok_or(SecretTreeError::SecretsMissing(leaf.0))
    }

    /// Like [`SecretTree::consume_key`] but without deriving the consumed key again: for a
    /// receiver that already holds it from [`SecretTree::peek_key`].
    pub fn mark_consumed(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<(), SecretTreeError> {
        self.consume(cs, leaf, kind, generation, false).map(|_| ())
    }

    fn consume(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
        derive_target: bool,
    ) -> Result<Option<RatchetKey>, SecretTreeError> {
        self.check_leaf(leaf)?;
        // Validate against the current (or would-be) state before creating anything.
        let next = self.next_generation(leaf, kind);
        if generation < next {
            let ratchets = self
                .leaves
                .get_mut(&leaf.0)
                .ok_or(SecretTreeError::SecretsMissing(leaf.0))?;
            let (key, nonce) = ratchets
                .get_mut(kind)
                .retained
                .remove(&generation)
                .ok_or(SecretTreeError::GenerationConsumed { generation })?;
            return Ok(Some(RatchetKey {
                generation,
                key,
                nonce,
            }));
        }
        self.check_forward(next, generation)?;
        let max_retained = self.config.max_retained_keys;
        let ratchet = self.ensure_leaf(cs, leaf)?.get_mut(kind);
        // Derive into locals first so a failure leaves the ratchet as it was.
        let mut secret = ratchet.secret.clone();
        let mut skipped = Vec::new();
        for g in ratchet.next..generation {
            // Only the newest `max_retained` skipped keys could survive eviction.
            if (generation - g) as usize <= max_retained {
                skipped.push((g, key_and_nonce(cs, &secret, g)?));
            }
            secret = next_secret(cs, &secret, g)?;
        }
        let target = if derive_target {
            let (key, nonce) = key_and_nonce(cs, &secret, generation)?;
            Some(RatchetKey {
                generation,
                key,
                nonce,
            })
        } else {
            None
        };
        let new_secret = next_secret(cs, &secret, generation)?;
        ratchet.secret = new_secret;
        ratchet.next = generation + 1;
        ratchet.retained.extend(skipped);
        while ratchet.retained.len() > max_retained {
            ratchet.retained.pop_first();
        }
        Ok(target)
    }

    /// Moves `leaf`'s `kind` ratchet forward so that its next generation is at least
    /// `generation`, deleting the keys passed over without keeping them: the sender's side,
    /// for generations used elsewhere (a copy of this tree). A refusal changes nothing.
    pub fn advance_to(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
        generation: u32,
    ) -> Result<(), SecretTreeError> {
        self.check_leaf(leaf)?;
        let next = self.next_generation(leaf, kind);
        if generation <= next {
            return Ok(());
        }
        self.check_forward(next, generation)?;
        let ratchet = self.ensure_leaf(cs, leaf)?.get_mut(kind);
        let mut secret = ratchet.secret.clone();
        for g in next..generation {
            secret = next_secret(cs, &secret, g)?;
        }
        ratchet.secret = secret;
        ratchet.next = generation;
        Ok(())
    }

    /// The next unused key of `leaf`'s `kind` ratchet, consumed: the sender's side (§9.1).
    pub fn next_key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        kind: RatchetKind,
    ) -> Result<RatchetKey, SecretTreeError> {
        let g = self.next_generation(leaf, kind);
        self.consume_key(cs, leaf, kind, g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};

    fn cs(p: &AwsLcProvider) -> &dyn CipherSuiteProvider {
        p.suite(CipherSuite(1)).unwrap()
    }

    #[test]
    fn large_group_stays_sparse() {
        let p = AwsLcProvider::new();
        let cs = cs(&p);
        let n = 100_000;
        let mut tree = SecretTree::new(Secret::zero(32), n, SecretTreeConfig::default()).unwrap();
        assert_eq!(tree.stored_node_secrets(), 1);
        let senders = [0u32, 1, 50_000, 99_999];
        for s in senders {
            tree.next_key(cs, LeafIndex(s), RatchetKind::Application)
                .unwrap();
        }
        assert_eq!(tree.active_leaves(), senders.len());
        // Each new sender stores at most one sibling per level of a 2^17-leaf tree.
        assert!(
            tree.stored_node_secrets() <= senders.len() * 17,
            "{}",
            tree.stored_node_secrets()
        );
    }

    #[test]
    fn deletion_schedule_two_leaves() {
        let p = AwsLcProvider::new();
        let cs = cs(&p);
        let mut tree = SecretTree::new(Secret::zero(32), 2, SecretTreeConfig::default()).unwrap();
        tree.next_key(cs, LeafIndex(0), RatchetKind::Handshake)
            .unwrap();
        // Root deleted, leaf 0's secret deleted (its ratchets exist), leaf 1's kept.
        assert_eq!(tree.stored_node_secrets(), 1);
        tree.next_key(cs, LeafIndex(1), RatchetKind::Handshake)
            .unwrap();
        assert_eq!(tree.stored_node_secrets(), 0);
        assert_eq!(tree.active_leaves(), 2);
    }

    #[test]
    fn peek_changes_nothing_and_matches_consume() {
        let p = AwsLcProvider::new();
        let cs = cs(&p);
        let mut tree = SecretTree::new(Secret::zero(32), 16, SecretTreeConfig::default()).unwrap();
        let before = tree.clone();
        let peeked = tree
            .peek_key(cs, LeafIndex(5), RatchetKind::Application, 3)
            .unwrap();
        assert_eq!(tree, before);
        let used = tree
            .consume_key(cs, LeafIndex(5), RatchetKind::Application, 3)
            .unwrap();
        assert_eq!(peeked, used);
        assert_eq!(
            tree.retained_keys(LeafIndex(5), RatchetKind::Application),
            3
        );
        assert_eq!(
            tree.next_generation(LeafIndex(5), RatchetKind::Application),
            4
        );
    }

    #[test]
    fn bounds_hold() {
        let p = AwsLcProvider::new();
        let cs = cs(&p);
        let config = SecretTreeConfig {
            max_forward_distance: 100,
            max_retained_keys: 5,
        };
        let mut tree = SecretTree::new(Secret::zero(32), 4, config).unwrap();
        let l = LeafIndex(2);
        let k = RatchetKind::Handshake;
        assert!(matches!(
            tree.peek_key(cs, l, k, u32::MAX),
            Err(SecretTreeError::GenerationTooFarAhead { .. })
        ));
        assert!(matches!(
            tree.consume_key(cs, l, k, 101),
            Err(SecretTreeError::GenerationTooFarAhead { .. })
        ));
        tree.consume_key(cs, l, k, 100).unwrap();
        assert_eq!(tree.retained_keys(l, k), 5);
        for g in 95..100 {
            tree.consume_key(cs, l, k, g).unwrap();
        }
        assert_eq!(tree.retained_keys(l, k), 0);
        assert!(matches!(
            tree.consume_key(cs, l, k, 94),
            Err(SecretTreeError::GenerationConsumed { generation: 94 })
        ));
        assert!(matches!(
            tree.peek_key(cs, LeafIndex(4), k, 0),
            Err(SecretTreeError::LeafOutOfTree { leaf: 4, leaves: 4 })
        ));
        assert!(SecretTree::new(Secret::zero(32), 0, config).is_err());
    }
}
