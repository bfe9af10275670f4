//! Parent hashes (RFC 9420 §7.9): computing them along an UpdatePath and verifying that every
//! non-blank parent of a received tree is parent-hash valid (§7.9.2).
//!
//! The "original sibling tree hash" of a parent P with copath child S is S's tree hash with
//! P's unmerged leaves blanked and dropped from every `unmerged_leaves`. Only the tree hashes
//! on the paths from those leaves up to S differ from the current ones, so it is computed by
//! [`Tree::original_tree_hash`] from the cached hashes in O(k · log N) for k unmerged leaves
//! below S, and is the cached hash of S itself when none of P's unmerged leaves is below S
//! (always the case along a fresh UpdatePath, whose nodes have no unmerged leaves).
//!
//! Verification is "top down" (§7.9.2): every non-blank parent P must have exactly one
//! descendant D for which D's `parent_hash` is the parent hash of P, D is in the resolution
//! of P's child C above it, and that resolution minus D is exactly P's unmerged leaves below
//! C. Each parent is checked independently, in parallel; a check reads at most
//! `|P.unmerged_leaves| + 2` resolution entries (a longer resolution is rejected without
//! being listed), so a tree whose parents are all set costs O(N) hashes overall.

use rayon::prelude::*;

use crate::codec::write_varint;
use crate::crypto::CipherSuiteProvider;
use crate::messages::{Node, ParentNode};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::error::TreeError;
use super::ratchet_tree::Tree;
use super::tree_hash::Digest;

/// `Hash(ParentHashInput)` (§7.9): P's `encryption_key`, P's own `parent_hash`, and the
/// original sibling tree hash.
pub(crate) fn parent_hash_of(
    cs: &dyn CipherSuiteProvider,
    p: &ParentNode,
    original_sibling_tree_hash: &Digest,
) -> Result<Vec<u8>, TreeError> {
    let key = p.encryption_key.0.as_slice();
    let ph = p.parent_hash.as_slice();
    let sib = original_sibling_tree_hash.as_slice();
    let mut buf = Vec::with_capacity(key.len() + ph.len() + sib.len() + 12);
    for part in [key, ph, sib] {
        write_varint(&mut buf, part.len())?;
        buf.extend_from_slice(part);
    }
    Ok(cs.hash(&buf))
}

/// The `parent_hash` a node carries: a parent's field, a `commit`-source leaf's field; other
/// leaves carry none.
fn carried_parent_hash(node: &Node) -> Option<&[u8]> {
    match node {
        Node::Parent(p) => Some(p.parent_hash.as_slice()),
        Node::Leaf(l) => l.parent_hash(),
    }
}

impl Tree {
    /// Fills the `parent_hash` of each node of a freshly set filtered direct path, root side
    /// first (§7.9: the root's is empty, each other's is the parent hash of the next node up
    /// with respect to its copath child), and returns the parent hash the leaf must carry
    /// (empty for an empty path). `path` is the filtered direct path with copath children,
    /// leaf side first; its nodes must be non-blank, without unmerged leaves; the hashes of
    /// the copath subtrees must be current.
    pub(crate) fn set_path_parent_hashes(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        path: &[(NodeIndex, NodeIndex)],
    ) -> Result<Vec<u8>, TreeError> {
        let mut ph: Vec<u8> = Vec::new();
        for &(p, s) in path.iter().rev() {
            let Some(mut node) = self.parent(p).cloned() else {
                return Err(TreeError::WrongNodeType(p));
            };
            node.parent_hash = ph.into();
            let sibling = self.cached_hash(s);
            ph = parent_hash_of(cs, &node, &sibling)?;
            self.set_parent(p, node)?;
        }
        Ok(ph)
    }

    /// The resolution of `node` if it has at most `limit` entries, else `None` (stops early).
    fn resolution_capped(&self, node: NodeIndex, limit: usize) -> Option<Vec<NodeIndex>> {
        let mut out = Vec::new();
        let mut stack = vec![node];
        while let Some(x) = stack.pop() {
            if self.resolution_is_empty(x) {
                continue;
            }
            match self.node(x) {
                Some(Node::Leaf(_)) => out.push(x),
                Some(Node::Parent(p)) => {
                    out.push(x);
                    out.extend(p.unmerged_leaves.iter().map(|&l| LeafIndex(l).node()));
                }
                None => {
                    if let (Some(l), Some(r)) = (x.left(), x.right()) {
                        stack.push(r);
                        stack.push(l);
                    }
                }
            }
            if out.len() > limit {
                return None;
            }
        }
        Some(out)
    }

    /// How many descendants of `p` are parent-hash valid with respect to it (§7.9.2).
    pub(crate) fn parent_hash_witnesses(
        &self,
        cs: &dyn CipherSuiteProvider,
        p: NodeIndex,
    ) -> Result<usize, TreeError> {
        let Some(node) = self.parent(p) else {
            return Ok(0);
        };
        let (Some(left), Some(right)) = (p.left(), p.right()) else {
            return Err(TreeError::WrongNodeType(p));
        };
        let unmerged: &[u32] = &node.unmerged_leaves;
        let mut found = 0;
        for (c, s) in [(left, right), (right, left)] {
            let (lo, hi) = TreeSize::leaf_span(c);
            let mut below_c: Vec<NodeIndex> = unmerged
                .iter()
                .filter(|l| (lo..hi).contains(*l))
                .map(|&l| LeafIndex(l).node())
                .collect();
            let Some(res) = self.resolution_capped(c, below_c.len() + 1) else {
                continue;
            };
            if res.len() != below_c.len() + 1 {
                continue;
            }
            let original = self.original_tree_hash(cs, s, unmerged)?;
            let ph = parent_hash_of(cs, node, &original)?;
            below_c.sort_unstable();
            for d in &res {
                let carried = self.node(*d).and_then(carried_parent_hash);
                if carried != Some(ph.as_slice()) {
                    continue;
                }
                let mut rest: Vec<NodeIndex> = res.iter().copied().filter(|x| x != d).collect();
                rest.sort_unstable();
                if rest == below_c {
                    found += 1;
                }
            }
        }
        Ok(found)
    }

    /// Checks every non-blank parent is parent-hash valid (§7.9.2), in parallel. Returns the
    /// lowest-indexed failing parent with its number of valid descendants (0 or more than 1).
    /// Hashes must be current.
    pub(crate) fn verify_parent_hashes(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<Option<(NodeIndex, usize)>, TreeError> {
        let parents = self.size.leaves() - 1;
        let failures: Vec<(NodeIndex, usize)> = (0..parents)
            .into_par_iter()
            .map(|k| NodeIndex(2 * k + 1))
            .filter(|&p| self.parent(p).is_some())
            .map(|p| self.parent_hash_witnesses(cs, p).map(|n| (p, n)))
            .filter(|r| !matches!(r, Ok((_, 1))))
            .collect::<Result<_, _>>()?;
        Ok(failures.into_iter().min_by_key(|(p, _)| p.0))
    }
}
