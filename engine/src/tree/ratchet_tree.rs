//! The ratchet tree (RFC 9420 §4, §7.1, §7.7, Appendix C) as a flat array.
//!
//! [`Tree`] owns the nodes of one group's tree in Appendix C order (leaf `i` is node `2i`,
//! parents at odd indices), blanks as `None`, and three arrays in parallel with the nodes:
//!
//! - the tree hash of every node (§7.8), kept current incrementally: every change marks the
//!   changed node and its ancestors dirty, and [`Tree::update_hashes`] recomputes exactly the
//!   dirty nodes bottom-up;
//! - per node, how many non-blank leaves and non-blank nodes its subtree holds, kept current
//!   on every change in O(log N): this answers "is this resolution empty?" (filtered direct
//!   paths, §4.1.2), "where is the leftmost blank leaf?" (§12.1.1) and "is the right subtree
//!   blank?" (§7.7 truncation) without a scan.
//!
//! Invariants: the array width is `2n - 1` for `n` leaves, `n` a power of two; leaf positions
//! hold only leaf nodes and parent positions only parent nodes; every parent's
//! `unmerged_leaves` is sorted ascending (additions insert in place); the dirty set is closed
//! under "parent of".
//!
//! Staging: a [`Tree`] is stored in two-level copy-on-write chunks, so [`Tree::stage`] (a
//! clone) costs one reference-count increment per 4,096 nodes for each of the three arrays,
//! and a change to a staged tree copies only the 64-element chunks (and 64-pointer tables) it
//! writes. Proposals and UpdatePaths are applied to a staged tree; the current tree
//! is untouched until the caller swaps the staged one in with [`Tree::merge_staged`].

use std::collections::HashSet;
use std::sync::Arc;

use crate::crypto::{CipherSuite, CipherSuiteProvider};
use crate::messages::{LeafNode, Node, ParentNode, RatchetTree};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::cow::CowVec;
use super::error::TreeError;
use super::tree_hash::HashCache;

/// Non-blank leaves and non-blank nodes (leaves and parents) in a node's subtree.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) leaves: u32,
    pub(crate) nodes: u32,
}

/// One group's ratchet tree with cached tree hashes. See the module documentation.
#[derive(Clone, Debug)]
pub struct Tree {
    pub(crate) suite: CipherSuite,
    pub(crate) size: TreeSize,
    pub(crate) nodes: CowVec<Option<Arc<Node>>>,
    pub(crate) hashes: HashCache,
    pub(crate) counts: CowVec<Counts>,
    /// Nodes whose hash is stale; closed under "parent of".
    pub(crate) dirty: HashSet<u32>,
    /// Nodes written since the last [`Tree::take_changes`], when tracking is on
    /// ([`Tree::track_changes`]); `None` otherwise (no cost for untracked trees).
    pub(crate) changes: Option<super::delta::ChangeLog>,
}

/// The shape of a tree's encoded `RatchetTree` (§12.4.3.3): see [`Tree::wire_layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireLayout {
    /// Nodes listed (trailing blanks dropped).
    pub(crate) nodes: usize,
    /// Bytes of the vector's length header.
    header_len: usize,
    /// Bytes of the vector's body.
    body_len: usize,
    /// The first node of the second half (written on another core), or `nodes`.
    pub(crate) mid: usize,
    /// Bytes of the first half's nodes.
    first_len: usize,
}

/// Trees of at least this many nodes are measured and written in two halves, one per core:
/// both passes wait on memory for each node.
const WIRE_SPLIT_MIN_NODES: usize = 8192;

/// Nodes per piece of [`Tree::write_wire_pieces`]: about 45 kB at 10,000 members, small
/// enough that its consumer starts soon after the writer, large enough that handing a piece
/// over costs nothing next to writing it.
const WIRE_PIECE_NODES: usize = 512;

/// The room a piece starts with (it grows if its nodes need more).
const WIRE_PIECE_BYTES: usize = 64 * 1024;

impl WireLayout {
    /// Bytes of the whole encoding.
    pub fn encoded_len(&self) -> usize {
        self.header_len + self.body_len
    }
}

impl Tree {
    /// A one-member tree holding `leaf` at leaf 0, hashed.
    pub fn new(cs: &dyn CipherSuiteProvider, leaf: LeafNode) -> Result<Tree, TreeError> {
        let mut tree = Tree::from_nodes(cs.cipher_suite(), vec![Some(Node::Leaf(leaf))])?;
        tree.hash_all(cs)?;
        Ok(tree)
    }

    /// Imports a tree from the `ratchet_tree` extension (RFC 9420 §12.4.3.3): the nodes in
    /// array order with trailing blank nodes dropped. The tree is padded back to its
    /// power-of-two width and hashed level by level, each level in parallel.
    ///
    /// Only the shape is checked here (node types by position, no trailing blank); the
    /// validation a joiner owes the tree (§12.4.3.1) is [`super::validate_tree`].
    pub fn from_wire(cs: &dyn CipherSuiteProvider, wire: &RatchetTree) -> Result<Tree, TreeError> {
        Tree::from_wire_owned(cs, wire.clone())
    }

    /// [`Tree::from_wire`] taking the decoded extension by value (no copy of the nodes).
    pub fn from_wire_owned(
        cs: &dyn CipherSuiteProvider,
        wire: RatchetTree,
    ) -> Result<Tree, TreeError> {
        Tree::from_shared_nodes(
            cs,
            wire.0
                .into_vec()
                .into_iter()
                .map(|n| n.map(Arc::new))
                .collect(),
        )
    }

    /// Builds and hashes a tree from nodes in array order as
    /// [`RatchetTree::decode_shared_nodes`] gives them (each node already in its own `Arc`, so
    /// a large tree is never held twice, once decoded and once built).
    pub fn from_shared_nodes(
        cs: &dyn CipherSuiteProvider,
        nodes: Vec<Option<Arc<Node>>>,
    ) -> Result<Tree, TreeError> {
        let mut tree = Tree::from_arc_nodes(cs.cipher_suite(), nodes)?;
        tree.hash_all(cs)?;
        Ok(tree)
    }

    /// Builds a tree from nodes in array order (trailing blanks dropped), without hashing.
    pub(crate) fn from_nodes(
        suite: CipherSuite,
        nodes: Vec<Option<Node>>,
    ) -> Result<Tree, TreeError> {
        Tree::from_arc_nodes(suite, nodes.into_iter().map(|n| n.map(Arc::new)).collect())
    }

    /// [`Tree::from_nodes`] over nodes already shared.
    fn from_arc_nodes(
        suite: CipherSuite,
        mut nodes: Vec<Option<Arc<Node>>>,
    ) -> Result<Tree, TreeError> {
        match nodes.last() {
            None => return Err(TreeError::EmptyTree),
            Some(None) => return Err(TreeError::TrailingBlank),
            Some(Some(_)) => {}
        }
        // Smallest power of two n with 2n - 1 >= len (a tree may end at a parent).
        let n_leaves =
            u32::try_from((nodes.len() + 1).div_ceil(2)).map_err(|_| TreeError::TooLarge)?;
        let size = TreeSize::for_leaves(n_leaves).ok_or(TreeError::TooLarge)?;
        let width = size.node_width() as usize;
        nodes.resize(width, None);
        for (i, node) in (0u32..).zip(nodes.iter()) {
            let ok = match node.as_deref() {
                None => true,
                Some(Node::Leaf(_)) => i % 2 == 0,
                Some(Node::Parent(_)) => i % 2 == 1,
            };
            if !ok {
                return Err(TreeError::WrongNodeType(NodeIndex(i)));
            }
        }
        let counts = compute_counts(&nodes);
        Ok(Tree {
            suite,
            size,
            nodes: CowVec::from_vec(nodes),
            hashes: HashCache::new(suite, width),
            counts: CowVec::from_vec(counts),
            dirty: HashSet::new(),
            changes: None,
        })
    }

    /// Exports the tree for the `ratchet_tree` extension: array order, trailing blank nodes
    /// dropped (RFC 9420 §12.4.3.3).
    pub fn to_wire(&self) -> RatchetTree {
        let last = self.last_non_blank().map_or(0, |n| n.0 as usize);
        let nodes = self
            .nodes
            .iter()
            .take(last + 1)
            .map(|n| n.as_deref().cloned())
            .collect();
        RatchetTree(nodes)
    }

    /// The encoded `RatchetTree` (the `ratchet_tree` extension's data, §12.4.3.3), written
    /// straight from the nodes: the same bytes as encoding [`Tree::to_wire`], without copying
    /// a node (what a Welcome or GroupInfo carrying the tree needs).
    pub fn to_wire_bytes(&self) -> Result<Vec<u8>, tls_codec::Error> {
        let layout = self.wire_layout()?;
        let mut out = Vec::with_capacity(layout.encoded_len());
        self.write_wire(&layout, &mut out)?;
        Ok(out)
    }

    /// How [`Tree::to_wire_bytes`] lays the tree out: for a caller that writes it into a larger
    /// buffer ([`Tree::write_wire`]) and needs its length first.
    ///
    /// The encoded length of each chunk of nodes is kept with the chunk
    /// (`CowVec::chunk_memo`) until one of its nodes changes, so after a commit
    /// only the chunks it touched are measured again; a large tree's unknown chunks are
    /// measured on all cores.
    pub fn wire_layout(&self) -> Result<WireLayout, tls_codec::Error> {
        use super::cow::CHUNK;
        let nodes = self.last_non_blank().map_or(1, |last| last.0 as usize + 1);
        // The chunks wholly listed, then the listed part of the next one.
        let full = nodes / CHUNK;
        let unknown = (0..full)
            .filter(|&c| self.nodes.known_memo(c).is_none())
            .count();
        let chunk_len = |c: usize| {
            self.nodes
                .chunk_memo(c, |chunk| Self::nodes_encoded_len(chunk.iter()))
                .unwrap_or(0)
        };
        let lens: Vec<usize> = if unknown * CHUNK >= WIRE_SPLIT_MIN_NODES {
            use rayon::prelude::*;
            (0..full)
                .into_par_iter()
                .with_min_len(16)
                .map(chunk_len)
                .collect()
        } else {
            (0..full).map(chunk_len).collect()
        };
        let tail_len =
            Self::nodes_encoded_len((full * CHUNK..nodes).filter_map(|i| self.nodes.get(i)));
        let body_len = lens.iter().sum::<usize>() + tail_len;
        // A large tree is written in two halves split at a chunk boundary.
        let (mid, first_len) = if nodes >= WIRE_SPLIT_MIN_NODES {
            let half = full / 2;
            (half * CHUNK, lens[..half].iter().sum())
        } else {
            (nodes, body_len)
        };
        Ok(WireLayout {
            nodes,
            header_len: crate::codec::varint_len(body_len)?,
            body_len,
            mid,
            first_len,
        })
    }

    /// The encoded length of `nodes`, each an `optional<Node>` (a presence byte, then the
    /// node).
    fn nodes_encoded_len<'a>(nodes: impl Iterator<Item = &'a Option<Arc<Node>>>) -> usize {
        nodes.map(Self::node_encoded_len).sum()
    }

    /// One `optional<Node>`'s encoded length: the chunks' memos are sums of these, kept
    /// current through writes ([`super::cow::CowVec::update_summed`]).
    pub(crate) fn node_encoded_len(node: &Option<Arc<Node>>) -> usize {
        use tls_codec::Size as _;
        1 + node.as_deref().map_or(0, |n| n.tls_serialized_len())
    }

    /// Appends the encoded `RatchetTree` laid out by [`Tree::wire_layout`] (of this tree,
    /// unchanged since) to `out`. A large tree is written in two halves, one per core, each
    /// into its place.
    pub fn write_wire(
        &self,
        layout: &WireLayout,
        out: &mut Vec<u8>,
    ) -> Result<(), tls_codec::Error> {
        let changed =
            || tls_codec::Error::EncodingError("ratchet tree changed since its layout".into());
        crate::codec::write_varint(out, layout.body_len)?;
        let body_start = out.len();
        out.resize(body_start + layout.body_len, 0);
        let (first, second) = out[body_start..]
            .split_at_mut_checked(layout.first_len)
            .ok_or_else(changed)?;
        if layout.mid >= layout.nodes {
            return self.write_nodes(0..layout.nodes, first);
        }
        let (a, b) = rayon::join(
            || self.write_nodes(0..layout.mid, first),
            || self.write_nodes(layout.mid..layout.nodes, second),
        );
        a?;
        b
    }

    /// The encoded `RatchetTree` laid out by [`Tree::wire_layout`] (of this tree, unchanged
    /// since), handed to `emit` in order in pieces of [`WIRE_PIECE_NODES`] nodes (the first
    /// starting with the vector's length), on this core: for a consumer that follows the
    /// writer, such as the hash of a signature over a message that carries the tree.
    pub(crate) fn write_wire_pieces(
        &self,
        layout: &WireLayout,
        mut emit: impl FnMut(Vec<u8>),
    ) -> Result<(), tls_codec::Error> {
        use tls_codec::Serialize as _;
        let mut written = 0;
        let mut at = 0;
        while at < layout.nodes || written == 0 {
            let end = layout.nodes.min(at + WIRE_PIECE_NODES);
            let mut piece = Vec::with_capacity(WIRE_PIECE_BYTES);
            if at == 0 {
                crate::codec::write_varint(&mut piece, layout.body_len)?;
            }
            for i in at..end {
                match self.nodes.get(i).and_then(Option::as_deref) {
                    None => piece.push(0),
                    Some(n) => {
                        piece.push(1);
                        n.tls_serialize(&mut piece)?;
                    }
                }
            }
            written += piece.len();
            at = end;
            emit(piece);
        }
        if written == layout.encoded_len() {
            Ok(())
        } else {
            Err(tls_codec::Error::EncodingError(
                "ratchet tree changed since its layout".into(),
            ))
        }
    }

    /// Writes the nodes in `range` as `optional<Node>` into `dst`, which they must fill
    /// exactly.
    fn write_nodes(
        &self,
        range: std::ops::Range<usize>,
        mut dst: &mut [u8],
    ) -> Result<(), tls_codec::Error> {
        use std::io::Write as _;
        use tls_codec::Serialize as _;
        let changed =
            || tls_codec::Error::EncodingError("ratchet tree changed since its layout".into());
        for i in range {
            match self.nodes.get(i).and_then(Option::as_deref) {
                None => dst.write_all(&[0]).map_err(|_| changed())?,
                Some(n) => {
                    dst.write_all(&[1]).map_err(|_| changed())?;
                    n.tls_serialize(&mut dst).map_err(|_| changed())?;
                }
            }
        }
        if dst.is_empty() {
            Ok(())
        } else {
            Err(changed())
        }
    }

    /// A staged copy to apply proposals and paths to; the original is unchanged. Costs one
    /// reference-count increment per 4,096 nodes per array; later writes copy only the chunks
    /// they touch.
    pub fn stage(&self) -> Tree {
        self.clone()
    }

    /// Replaces this tree with a staged one (the swap at the end of a commit).
    pub fn merge_staged(&mut self, staged: Tree) {
        *self = staged;
    }

    /// The tree's cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    /// The tree's size (number of leaves, a power of two).
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The node at `node`, or `None` when blank or out of range.
    pub fn node(&self, node: NodeIndex) -> Option<&Node> {
        self.nodes.get(node.0 as usize)?.as_deref()
    }

    /// The leaf node at `leaf`, or `None` when blank or out of range.
    pub fn leaf(&self, leaf: LeafIndex) -> Option<&LeafNode> {
        match self.node(leaf.node())? {
            Node::Leaf(l) => Some(l),
            Node::Parent(_) => None,
        }
    }

    /// The parent node at `node`, or `None` when blank, a leaf position or out of range.
    pub fn parent(&self, node: NodeIndex) -> Option<&ParentNode> {
        match self.node(node)? {
            Node::Parent(p) => Some(p),
            Node::Leaf(_) => None,
        }
    }

    /// True when the node is blank (or out of range).
    pub fn is_blank(&self, node: NodeIndex) -> bool {
        self.node(node).is_none()
    }

    /// Non-blank leaves, in order.
    pub fn leaves(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> + '_ {
        self.nodes
            .iter()
            .step_by(2)
            .zip(0u32..)
            .filter_map(|(n, i)| match n.as_deref() {
                Some(Node::Leaf(l)) => Some((LeafIndex(i), l)),
                _ => None,
            })
    }

    /// Number of non-blank leaves (members).
    pub fn member_count(&self) -> u32 {
        self.counts_of(self.size.root()).leaves
    }

    pub(crate) fn counts_of(&self, node: NodeIndex) -> Counts {
        self.counts
            .get(node.0 as usize)
            .copied()
            .unwrap_or_default()
    }

    /// True when the resolution of `node` is empty (no non-blank node in its subtree), in O(1).
    pub fn resolution_is_empty(&self, node: NodeIndex) -> bool {
        self.counts_of(node).nodes == 0
    }

    /// The resolution of `node` (RFC 9420 §4.1.1): a non-blank node and its unmerged leaves,
    /// or for a blank parent the resolutions of its children, left then right; a blank leaf
    /// has none. Costs O(size of the result + blank nodes crossed); empty subtrees are
    /// skipped in O(1).
    pub fn resolution(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        self.resolution_into(node, &[], &mut out);
        out
    }

    /// The resolution of `node` without the given leaves (new members, RFC 9420 §7.6).
    pub fn resolution_excluding(&self, node: NodeIndex, exclude: &[LeafIndex]) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        if exclude.windows(2).all(|w| w[0] <= w[1]) {
            self.resolution_into(node, exclude, &mut out);
        } else {
            let mut sorted = exclude.to_vec();
            sorted.sort_unstable();
            self.resolution_into(node, &sorted, &mut out);
        }
        out
    }

    fn resolution_into(&self, node: NodeIndex, exclude: &[LeafIndex], out: &mut Vec<NodeIndex>) {
        let excluded = |n: NodeIndex| n.leaf().is_some_and(|l| exclude.binary_search(&l).is_ok());
        let mut stack = vec![node];
        while let Some(x) = stack.pop() {
            if self.resolution_is_empty(x) {
                continue;
            }
            match self.node(x) {
                Some(Node::Leaf(_)) => {
                    if !excluded(x) {
                        out.push(x);
                    }
                }
                Some(Node::Parent(p)) => {
                    out.push(x);
                    out.extend(
                        p.unmerged_leaves
                            .iter()
                            .map(|&l| LeafIndex(l).node())
                            .filter(|&n| !excluded(n)),
                    );
                }
                None => {
                    // Right pushed first so the left subtree is resolved first.
                    if let (Some(l), Some(r)) = (x.left(), x.right()) {
                        stack.push(r);
                        stack.push(l);
                    }
                }
            }
        }
    }

    /// The filtered direct path of `leaf` (RFC 9420 §4.1.2): its direct path without the
    /// nodes whose copath child has an empty resolution, leaf-most first, with each node's
    /// copath child.
    pub fn filtered_direct_path(&self, leaf: LeafIndex) -> Vec<(NodeIndex, NodeIndex)> {
        let mut out = Vec::new();
        let mut child = leaf.node();
        for parent in self.size.direct_path(leaf.node()) {
            let sibling = if child.0 < parent.0 {
                parent.right()
            } else {
                parent.left()
            };
            if let Some(s) = sibling {
                if !self.resolution_is_empty(s) {
                    out.push((parent, s));
                }
            }
            child = parent;
        }
        out
    }

    /// The last non-blank node in array order (what ends an encoded `RatchetTree`, §12.4.3.3),
    /// in O(log N) from the subtrees' counts: a subtree's last non-blank node is in its right
    /// half if that has any, else its root if that is set, else in its left half. `None` for
    /// an empty tree.
    pub(crate) fn last_non_blank(&self) -> Option<NodeIndex> {
        let mut x = self.size.root();
        if self.counts_of(x).nodes == 0 {
            return None;
        }
        while let (Some(l), Some(r)) = (x.left(), x.right()) {
            let (below_left, below_right) = (self.counts_of(l).nodes, self.counts_of(r).nodes);
            if below_right > 0 {
                x = r;
            } else if self.counts_of(x).nodes > below_left {
                return Some(x);
            } else {
                x = l;
            }
        }
        Some(x)
    }

    /// The leftmost blank leaf, in O(log N), or `None` when every leaf is occupied.
    pub fn leftmost_blank_leaf(&self) -> Option<LeafIndex> {
        let capacity = |n: NodeIndex| 1u32 << n.level();
        let mut x = self.size.root();
        if self.counts_of(x).leaves >= capacity(x) {
            return None;
        }
        while let (Some(l), Some(r)) = (x.left(), x.right()) {
            x = if self.counts_of(l).leaves < capacity(l) {
                l
            } else {
                r
            };
        }
        x.leaf()
    }

    /// Sets or blanks one node, keeping counts and the dirty set current. The caller has
    /// checked the node type matches the position.
    pub(crate) fn put(&mut self, at: NodeIndex, node: Option<Arc<Node>>) {
        let i = at.0 as usize;
        let was = self.nodes.get(i).is_some_and(Option::is_some);
        let is = node.is_some();
        self.nodes
            .update_summed(i, Self::node_encoded_len, |slot| *slot = node);
        self.record_change(at);
        if was != is {
            let leaf = at.is_leaf();
            let mut x = Some(at);
            while let Some(n) = x {
                if let Some(c) = self.counts.get_mut(n.0 as usize) {
                    if is {
                        c.nodes += 1;
                        c.leaves += u32::from(leaf);
                    } else {
                        c.nodes -= 1;
                        c.leaves -= u32::from(leaf);
                    }
                }
                x = self.size.parent(n);
            }
        }
        self.mark_dirty(at);
    }

    /// Marks a node and its ancestors as needing a new tree hash.
    pub(crate) fn mark_dirty(&mut self, at: NodeIndex) {
        let mut x = Some(at);
        while let Some(n) = x {
            if !self.dirty.insert(n.0) {
                break;
            }
            x = self.size.parent(n);
        }
    }

    /// Sets the leaf at `leaf` (which must be inside the tree).
    pub fn set_leaf(&mut self, leaf: LeafIndex, node: LeafNode) -> Result<(), TreeError> {
        if !self.size.contains_leaf(leaf) {
            return Err(TreeError::LeafOutOfRange(leaf));
        }
        self.put(leaf.node(), Some(Arc::new(Node::Leaf(node))));
        Ok(())
    }

    /// Sets a parent node (which must be a parent position inside the tree).
    pub fn set_parent(&mut self, at: NodeIndex, node: ParentNode) -> Result<(), TreeError> {
        if at.is_leaf() || !self.size.contains(at) {
            return Err(TreeError::WrongNodeType(at));
        }
        self.put(at, Some(Arc::new(Node::Parent(node))));
        Ok(())
    }

    /// Blanks every node on the direct path of `leaf` (not the leaf).
    pub fn blank_direct_path(&mut self, leaf: LeafIndex) {
        let path: Vec<NodeIndex> = self.size.direct_path(leaf.node()).collect();
        for p in path {
            if !self.is_blank(p) {
                self.put(p, None);
            }
        }
    }

    /// Doubles the tree (RFC 9420 §7.7): a new blank root whose left subtree is the old tree
    /// and whose right subtree is blank.
    pub fn extend(&mut self) -> Result<(), TreeError> {
        let bigger = self.size.doubled().ok_or(TreeError::TooLarge)?;
        let old_width = self.size.node_width();
        let new_width = bigger.node_width();
        let root_counts = self.counts_of(self.size.root());
        self.size = bigger;
        for _ in old_width..new_width {
            self.nodes.push(None);
            self.hashes.push_blank();
            self.counts.push(Counts::default());
        }
        let root = bigger.root();
        self.counts.set(root.0 as usize, root_counts);
        // Every new node needs a hash: mark bottom-up from the new leaves (stops early where
        // an ancestor is already marked, so this is O(new nodes)).
        for i in old_width..new_width {
            self.mark_dirty(NodeIndex(i));
        }
        Ok(())
    }

    /// Halves the tree while its right subtree has no non-blank leaf (RFC 9420 §7.7,
    /// §12.1.3); a one-leaf tree is never truncated.
    pub fn truncate(&mut self) {
        while let Some(smaller) = self.size.halved() {
            let root = self.size.root();
            let Some(right) = root.right() else { break };
            if self.counts_of(right).leaves != 0 {
                break;
            }
            let width = smaller.node_width();
            self.nodes.truncate(width as usize);
            self.hashes.truncate(width as usize);
            self.counts.truncate(width as usize);
            self.dirty.retain(|&n| n < width);
            self.size = smaller;
            self.record_truncation();
        }
    }

    /// Adds a member (RFC 9420 §12.1.1): into the leftmost blank leaf, or a new leaf after
    /// extending the tree; the new leaf is inserted, in order, into the `unmerged_leaves` of
    /// every non-blank parent on its direct path. Returns the leaf index.
    pub fn add_leaf(&mut self, leaf: LeafNode) -> Result<LeafIndex, TreeError> {
        let at = match self.leftmost_blank_leaf() {
            Some(l) => l,
            None => {
                let first_new = LeafIndex(self.size.leaves());
                self.extend()?;
                first_new
            }
        };
        // Only the non-blank parents change (read first: a blank one's chunk is not made
        // unique for nothing).
        let path: Vec<NodeIndex> = self
            .size
            .direct_path(at.node())
            .filter(|p| self.nodes.get(p.0 as usize).is_some_and(Option::is_some))
            .collect();
        for p in path {
            self.nodes
                .update_summed(p.0 as usize, Self::node_encoded_len, |slot| {
                    if let Some(Node::Parent(parent)) = slot.as_mut().map(Arc::make_mut) {
                        if let Err(pos) = parent.unmerged_leaves.binary_search(&at.0) {
                            parent.unmerged_leaves.insert(pos, at.0);
                        }
                    }
                });
            self.record_change(p);
            self.mark_dirty(p);
        }
        self.set_leaf(at, leaf)?;
        Ok(at)
    }

    /// Replaces a member's leaf (RFC 9420 §12.1.2, Update) and blanks its direct path.
    pub fn update_leaf(&mut self, leaf: LeafIndex, node: LeafNode) -> Result<(), TreeError> {
        if self.leaf(leaf).is_none() {
            return Err(TreeError::BlankLeaf(leaf));
        }
        self.set_leaf(leaf, node)?;
        self.blank_direct_path(leaf);
        Ok(())
    }

    /// Removes a member (RFC 9420 §12.1.3): blanks the leaf and its direct path, then
    /// truncates the tree while its right half is blank.
    pub fn remove_leaf(&mut self, leaf: LeafIndex) -> Result<(), TreeError> {
        if self.leaf(leaf).is_none() {
            return Err(TreeError::BlankLeaf(leaf));
        }
        self.put(leaf.node(), None);
        self.blank_direct_path(leaf);
        self.truncate();
        Ok(())
    }

    /// Checks the provider implements the tree's suite.
    pub(crate) fn check_suite(&self, cs: &dyn CipherSuiteProvider) -> Result<(), TreeError> {
        if cs.cipher_suite() != self.suite {
            return Err(TreeError::SuiteMismatch {
                tree: self.suite,
                provider: cs.cipher_suite(),
            });
        }
        Ok(())
    }
}

/// Non-blank counts for a full array, bottom-up, in O(N).
fn compute_counts(nodes: &[Option<Arc<Node>>]) -> Vec<Counts> {
    let mut counts: Vec<Counts> = nodes
        .iter()
        .zip(0u32..)
        .map(|(n, i)| match n {
            Some(_) => Counts {
                nodes: 1,
                leaves: u32::from(i % 2 == 0),
            },
            None => Counts::default(),
        })
        .collect();
    let width = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let max_level = width.saturating_add(1).trailing_zeros();
    for level in 1..max_level {
        let step = 1u32 << (level + 1);
        let mut x = NodeIndex((1u32 << level) - 1);
        while x.0 < width {
            if let (Some(l), Some(r)) = (x.left(), x.right()) {
                let a = counts.get(l.0 as usize).copied().unwrap_or_default();
                let b = counts.get(r.0 as usize).copied().unwrap_or_default();
                if let Some(c) = counts.get_mut(x.0 as usize) {
                    c.nodes += a.nodes + b.nodes;
                    c.leaves += a.leaves + b.leaves;
                }
            }
            x.0 += step;
        }
    }
    counts
}
