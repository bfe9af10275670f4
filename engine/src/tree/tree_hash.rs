//! Tree hashes (RFC 9420 §7.8): the hash of every node, cached in an array parallel to the
//! nodes and recomputed only where something changed.
//!
//! - A whole tree (an import) is hashed level by level, leaves first; the nodes of one level
//!   are independent and are hashed in parallel (rayon).
//! - After a change, [`Tree::update_hashes`] recomputes exactly the dirty nodes (the changed
//!   nodes and their ancestors), lowest level first: O(changed · log N) hashes.
//! - [`Tree::original_tree_hash`] gives the hash of a subtree as it would be with some leaves
//!   blanked and dropped from every `unmerged_leaves` (the "original sibling tree hash" of
//!   §7.9) by re-hashing only the paths from those leaves up to the subtree root, on top of
//!   the cached hashes: O(k · log N) for k leaves, never a pass over the subtree.
//!
//! The hash inputs are encoded here directly from borrowed nodes, byte for byte the
//! `TreeHashInput` of §7.8, to avoid cloning nodes into the owned wire structs.

use std::collections::HashMap;

use rayon::prelude::*;
use tls_codec::Serialize;

use crate::codec::write_varint;
use crate::crypto::{CipherSuite, CipherSuiteProvider};
use crate::messages::{LeafNode, ParentNode};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::cow::CowVec;
use super::error::TreeError;
use super::ratchet_tree::Tree;

/// Largest hash output of any suite (SHA-512).
const MAX_HASH: usize = 64;

/// A hash value stored inline (no allocation): up to 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    len: u8,
    bytes: [u8; MAX_HASH],
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            len: 0,
            bytes: [0; MAX_HASH],
        }
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x")?;
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Digest {
    /// Copies a hash output; `None` when longer than 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Digest> {
        let mut d = Digest::default();
        d.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        d.len = u8::try_from(bytes.len()).ok()?;
        Some(d)
    }

    /// The hash bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Nodes hashed per parallel piece by [`Tree::hash_nodes`]: enough to keep both cores busy,
/// few enough that the piece's buffer stays small (2,048 x 65 bytes).
const HASH_PIECE: usize = 2048;

/// `Hash(input)` straight into a [`Digest`] (no allocation).
fn digest(cs: &dyn CipherSuiteProvider, input: &[u8]) -> Result<Digest, TreeError> {
    let mut d = Digest::default();
    let len = cs
        .hash_into(input, &mut d.bytes)
        .ok_or(TreeError::Codec("hash longer than 64 bytes".into()))?;
    d.len = u8::try_from(len).map_err(|_| TreeError::Codec("hash length".into()))?;
    Ok(d)
}

/// A hash input larger than this is not kept in a thread's scratch buffer afterwards.
const SCRATCH_KEEP: usize = 16 * 1024;

thread_local! {
    /// Each thread's buffer for encoding one `TreeHashInput`: hashing a whole tree encodes
    /// tens of thousands of small inputs, and a buffer per input cost as much as hashing it.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Encodes with `fill` into this thread's scratch buffer and hashes the result.
fn digest_encoded(
    cs: &dyn CipherSuiteProvider,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), TreeError>,
) -> Result<Digest, TreeError> {
    SCRATCH.with(|cell| {
        // A re-entrant call (none is made today) gets a buffer of its own.
        let mut own = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let buf = guard.as_deref_mut().unwrap_or(&mut own);
        buf.clear();
        let out = fill(buf).and_then(|()| digest(cs, buf));
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        out
    })
}

fn put_var(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), TreeError> {
    write_varint(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// `Hash(TreeHashInput)` of a leaf (§7.8): `node_type = leaf`, `leaf_index`,
/// `optional<LeafNode>`.
pub(crate) fn hash_leaf(
    cs: &dyn CipherSuiteProvider,
    leaf: LeafIndex,
    node: Option<&LeafNode>,
) -> Result<Digest, TreeError> {
    // The leaf is held as its encoding: copied once after the 6-byte prefix (cheaper than a
    // digest context for the few hundred bytes of a leaf).
    digest_encoded(cs, |buf| {
        buf.push(1);
        buf.extend_from_slice(&leaf.0.to_be_bytes());
        match node {
            None => buf.push(0),
            Some(n) => {
                buf.push(1);
                buf.extend_from_slice(n.as_bytes());
            }
        }
        Ok(())
    })
}

/// `Hash(TreeHashInput)` of a parent (§7.8): `node_type = parent`, `optional<ParentNode>`,
/// `left_hash<V>`, `right_hash<V>`.
pub(crate) fn hash_parent(
    cs: &dyn CipherSuiteProvider,
    node: Option<&ParentNode>,
    left: &Digest,
    right: &Digest,
) -> Result<Digest, TreeError> {
    digest_encoded(cs, |buf| {
        buf.push(2);
        match node {
            None => buf.push(0),
            Some(p) => {
                buf.push(1);
                p.tls_serialize(buf)?;
            }
        }
        put_var(buf, left.as_slice())?;
        put_var(buf, right.as_slice())
    })
}

/// The cached tree hash of every node slot, each in exactly the suite's hash length: 32
/// bytes per slot for the SHA-256 suites (1, 2, 3), 48 for SHA-384 (7), 64 for SHA-512 (4, 5,
/// 6); any other suite keeps a [`Digest`] (length and 64 bytes) per slot. Copy-on-write in
/// chunks like the nodes ([`CowVec`]). A slot not yet hashed reads as zeros; the tree's dirty
/// set says which slots are stale.
#[derive(Clone, Debug)]
pub(crate) enum HashCache {
    /// SHA-256 suites.
    H32(CowVec<[u8; 32]>),
    /// SHA-384 suites.
    H48(CowVec<[u8; 48]>),
    /// SHA-512 suites.
    H64(CowVec<[u8; 64]>),
    /// Suites this engine does not size in advance.
    Other(CowVec<Digest>),
}

impl HashCache {
    /// `width` unhashed slots for `suite`.
    pub(crate) fn new(suite: CipherSuite, width: usize) -> Self {
        match suite.0 {
            1..=3 => HashCache::H32(CowVec::from_iter_exact((0..width).map(|_| [0; 32]))),
            7 => HashCache::H48(CowVec::from_iter_exact((0..width).map(|_| [0; 48]))),
            4..=6 => HashCache::H64(CowVec::from_iter_exact((0..width).map(|_| [0; 64]))),
            _ => HashCache::Other(CowVec::from_iter_exact(
                (0..width).map(|_| Digest::default()),
            )),
        }
    }

    /// The hash in slot `i`.
    pub(crate) fn get(&self, i: usize) -> Option<Digest> {
        match self {
            HashCache::H32(v) => v.get(i).and_then(|h| Digest::from_slice(h)),
            HashCache::H48(v) => v.get(i).and_then(|h| Digest::from_slice(h)),
            HashCache::H64(v) => v.get(i).and_then(|h| Digest::from_slice(h)),
            HashCache::Other(v) => v.get(i).copied(),
        }
    }

    /// Stores `d` in slot `i`; an error when the slot does not exist or `d` is not the
    /// suite's hash length (a provider of another suite).
    pub(crate) fn set(&mut self, i: usize, d: &Digest) -> Result<(), TreeError> {
        fn put<const N: usize>(v: &mut CowVec<[u8; N]>, i: usize, d: &Digest) -> bool {
            <[u8; N]>::try_from(d.as_slice()).is_ok_and(|h| v.set(i, h))
        }
        let ok = match self {
            HashCache::H32(v) => put(v, i, d),
            HashCache::H48(v) => put(v, i, d),
            HashCache::H64(v) => put(v, i, d),
            HashCache::Other(v) => v.set(i, *d),
        };
        if ok {
            Ok(())
        } else {
            Err(TreeError::HashSlot {
                node: i,
                len: d.as_slice().len(),
            })
        }
    }

    /// Appends an unhashed slot.
    pub(crate) fn push_blank(&mut self) {
        match self {
            HashCache::H32(v) => v.push([0; 32]),
            HashCache::H48(v) => v.push([0; 48]),
            HashCache::H64(v) => v.push([0; 64]),
            HashCache::Other(v) => v.push(Digest::default()),
        }
    }

    /// Keeps the first `len` slots.
    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            HashCache::H32(v) => v.truncate(len),
            HashCache::H48(v) => v.truncate(len),
            HashCache::H64(v) => v.truncate(len),
            HashCache::Other(v) => v.truncate(len),
        }
    }

    /// Bytes of hash per slot.
    #[cfg(test)]
    pub(crate) fn slot_len(&self) -> usize {
        match self {
            HashCache::H32(_) => 32,
            HashCache::H48(_) => 48,
            HashCache::H64(_) => 64,
            HashCache::Other(_) => std::mem::size_of::<Digest>(),
        }
    }
}

impl Tree {
    /// Empties the dirty set; a set grown large (a whole tree added or extended) gives its
    /// memory back instead of keeping the capacity.
    fn clear_dirty(&mut self) {
        if self.dirty.capacity() > 1024 {
            self.dirty = std::collections::HashSet::new();
        } else {
            self.dirty.clear();
        }
    }

    /// The tree hash of the root (§7.8) if the cache is current (no change pending since
    /// [`Tree::update_hashes`]), without computing anything; `None` otherwise. A tree never
    /// hashed reads as an empty hash.
    pub(crate) fn current_tree_hash(&self) -> Option<Digest> {
        self.dirty
            .is_empty()
            .then(|| self.cached_hash(self.size.root()))
    }

    /// The cached tree hash of `node`; current only when no change is pending (after
    /// [`Tree::update_hashes`]).
    pub(crate) fn cached_hash(&self, node: NodeIndex) -> Digest {
        self.hashes.get(node.0 as usize).unwrap_or_default()
    }

    /// Hash of one node from its content and its children's cached hashes.
    fn compute_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        x: NodeIndex,
    ) -> Result<Digest, TreeError> {
        match (x.leaf(), x.left(), x.right()) {
            (Some(leaf), _, _) => hash_leaf(cs, leaf, self.leaf(leaf)),
            (None, Some(l), Some(r)) => hash_parent(
                cs,
                self.parent(x),
                &self.cached_hash(l),
                &self.cached_hash(r),
            ),
            _ => Err(TreeError::WrongNodeType(x)),
        }
    }

    /// Hashes every node, level by level, each level in parallel.
    pub(crate) fn hash_all(&mut self, cs: &dyn CipherSuiteProvider) -> Result<(), TreeError> {
        self.check_suite(cs)?;
        let width = self.size.node_width();
        for level in 0..=self.size.root().level() {
            let first = (1u32 << level) - 1;
            let step = 1u32 << (level + 1);
            let count = (width - first).div_ceil(step);
            let nodes: Vec<NodeIndex> = (0..count).map(|m| NodeIndex(first + m * step)).collect();
            self.hash_nodes(cs, nodes.len(), |i| nodes[i])?;
        }
        self.clear_dirty();
        Ok(())
    }

    /// Hashes the `count` nodes `node(0..count)`, all of one level (so none depends on
    /// another), and stores their hashes. A large level is hashed in parallel, in pieces of
    /// [`HASH_PIECE`] nodes written into one reused buffer: the transient memory is bounded
    /// (130 kB) whatever the tree's size, and no per-thread lists are collected and joined.
    fn hash_nodes<F>(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        count: usize,
        node: F,
    ) -> Result<(), TreeError>
    where
        F: Fn(usize) -> NodeIndex + Sync,
    {
        let mut digests = vec![Digest::default(); count.min(HASH_PIECE)];
        for start in (0..count).step_by(HASH_PIECE) {
            let piece = &mut digests[..HASH_PIECE.min(count - start)];
            let this = &*self;
            let hash = |(i, slot): (usize, &mut Digest)| -> Result<(), TreeError> {
                *slot = this.compute_hash(cs, node(start + i))?;
                Ok(())
            };
            if piece.len() > 64 {
                piece.par_iter_mut().enumerate().try_for_each(hash)?;
            } else {
                piece.iter_mut().enumerate().try_for_each(hash)?;
            }
            for (i, d) in piece.iter().enumerate() {
                self.hashes.set(node(start + i).0 as usize, d)?;
            }
        }
        Ok(())
    }

    /// Recomputes the hash of every node changed since the last call, and of their ancestors,
    /// lowest level first (a level with many dirty nodes is hashed in parallel).
    pub fn update_hashes(&mut self, cs: &dyn CipherSuiteProvider) -> Result<(), TreeError> {
        self.check_suite(cs)?;
        if self.dirty.is_empty() {
            return Ok(());
        }
        // Bucket by level (O(k), no sort): a level depends only on the levels below it.
        let levels = self.size.root().level() as usize + 1;
        let mut by_level: Vec<Vec<NodeIndex>> = vec![Vec::new(); levels];
        for &n in &self.dirty {
            let x = NodeIndex(n);
            if let Some(bucket) = by_level.get_mut(x.level() as usize) {
                bucket.push(x);
            }
        }
        for batch in &by_level {
            self.hash_nodes(cs, batch.len(), |i| batch[i])?;
        }
        self.clear_dirty();
        Ok(())
    }

    /// The tree hash of the root (§7.8), after bringing the cache up to date.
    pub fn tree_hash(&mut self, cs: &dyn CipherSuiteProvider) -> Result<Vec<u8>, TreeError> {
        self.update_hashes(cs)?;
        Ok(self.cached_hash(self.size.root()).as_slice().to_vec())
    }

    /// The tree hash of any node (§7.8), after bringing the cache up to date.
    pub fn node_tree_hash(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
    ) -> Result<Vec<u8>, TreeError> {
        self.update_hashes(cs)?;
        Ok(self.cached_hash(node).as_slice().to_vec())
    }

    /// The tree hash of the subtree at `s` as it would be with every leaf of `removed` that
    /// lies below `s` blanked and dropped from all `unmerged_leaves` (§7.9). Only the paths
    /// from those leaves up to `s` are re-hashed; everything else comes from the cache, which
    /// must be current.
    pub fn original_tree_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        s: NodeIndex,
        removed: &[u32],
    ) -> Result<Digest, TreeError> {
        let (lo, hi) = TreeSize::leaf_span(s);
        let mut inside: Vec<u32> = removed
            .iter()
            .copied()
            .filter(|l| (lo..hi).contains(l))
            .collect();
        inside.sort_unstable();
        if inside.is_empty() {
            return Ok(self.cached_hash(s));
        }
        let mut affected: Vec<NodeIndex> = Vec::new();
        for &l in &inside {
            let mut x = LeafIndex(l).node();
            loop {
                affected.push(x);
                if x == s {
                    break;
                }
                match self.size.parent(x) {
                    Some(p) => x = p,
                    None => break,
                }
            }
        }
        affected.sort_unstable_by_key(|n| (n.level(), n.0));
        affected.dedup();
        let mut patched: HashMap<u32, Digest> = HashMap::with_capacity(affected.len());
        for x in affected {
            let d = match (x.leaf(), x.left(), x.right()) {
                (Some(leaf), _, _) => hash_leaf(cs, leaf, None)?,
                (None, Some(l), Some(r)) => {
                    let lh = patched.get(&l.0).copied().unwrap_or(self.cached_hash(l));
                    let rh = patched.get(&r.0).copied().unwrap_or(self.cached_hash(r));
                    match self.parent(x) {
                        Some(p)
                            if p.unmerged_leaves
                                .iter()
                                .any(|u| inside.binary_search(u).is_ok()) =>
                        {
                            let mut p = p.clone();
                            p.unmerged_leaves
                                .retain(|u| inside.binary_search(u).is_err());
                            hash_parent(cs, Some(&p), &lh, &rh)?
                        }
                        p => hash_parent(cs, p, &lh, &rh)?,
                    }
                }
                _ => return Err(TreeError::WrongNodeType(x)),
            };
            patched.insert(x.0, d);
        }
        patched
            .get(&s.0)
            .copied()
            .ok_or(TreeError::WrongNodeType(s))
    }
}
