//! Tree deltas: which nodes a tree changed since a mark, read out in O(changed), and their
//! replay onto the earlier tree.
//!
//! A tracked tree ([`Tree::track_changes`]) appends the index of every node it writes to a
//! [`ChangeLog`] (O(1) per write; the log travels with [`Tree::stage`] clones, so a staged
//! commit that is merged brings its writes along and one that is dropped takes them away).
//! It also remembers the smallest size the tree shrank to, so a replay truncates and
//! re-extends exactly as the live tree did. [`Tree::take_changes`] turns the log into a
//! [`TreeDelta`] (the changed nodes' current values and the sizes) and restarts it.
//!
//! Invariant: replaying with [`Tree::apply_delta`] the delta taken from a tree onto the tree
//! it had when the log was last restarted gives the same nodes, size and hashes. A delta
//! that does not fit (sizes not powers of two, a node out of range or of the wrong type for
//! its position) is refused with [`TreeError::BadDelta`] and leaves the tree unchanged.

use std::sync::Arc;

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use crate::codec::VarVec;
use crate::crypto::CipherSuiteProvider;
use crate::messages::Node;
use crate::tree_math::{NodeIndex, TreeSize};

use super::error::TreeError;
use super::ratchet_tree::Tree;

/// The writes a tracked tree recorded since its log was last restarted.
#[derive(Clone, Debug)]
pub(crate) struct ChangeLog {
    /// Written node indexes, in write order, with repeats.
    nodes: Vec<u32>,
    /// The fewest leaves the tree had since the restart.
    min_leaves: u32,
    /// More writes than the tree has nodes: the log was dropped, the caller must write the
    /// whole tree (bounds the log's memory by the tree's size).
    overflow: bool,
}

/// One node of a [`TreeDelta`]: its index and its value (`None`: blank).
#[derive(Clone, Debug, PartialEq, Eq, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct NodeUpdate {
    /// The node index (Appendix C array order).
    pub index: u32,
    /// The node's value after the change.
    pub node: Option<Node>,
}

/// What a tree changed over one or more epochs: the sizes and the changed nodes.
#[derive(Clone, Debug, PartialEq, Eq, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct TreeDelta {
    /// The fewest leaves the tree had in between (it was truncated to this size).
    pub min_leaves: u32,
    /// The number of leaves after the change.
    pub leaves: u32,
    /// The changed nodes, ascending by index, each once.
    pub nodes: VarVec<NodeUpdate>,
}

impl Tree {
    /// Starts (or restarts) recording which nodes are written, for [`Tree::take_changes`].
    pub fn track_changes(&mut self) {
        self.changes = Some(ChangeLog {
            nodes: Vec::new(),
            min_leaves: self.size.leaves(),
            overflow: false,
        });
    }

    /// True when the tree records its writes.
    pub fn is_tracking_changes(&self) -> bool {
        self.changes.is_some()
    }

    /// Records a write of `at` (when tracking).
    pub(crate) fn record_change(&mut self, at: NodeIndex) {
        let limit = self.size.node_width() as usize + 64;
        if let Some(log) = &mut self.changes {
            if log.overflow {
                return;
            }
            log.nodes.push(at.0);
            if log.nodes.len() > limit {
                log.overflow = true;
                log.nodes = Vec::new();
            }
        }
    }

    /// Records that the tree was truncated (when tracking).
    pub(crate) fn record_truncation(&mut self) {
        let leaves = self.size.leaves();
        if let Some(log) = &mut self.changes {
            log.min_leaves = log.min_leaves.min(leaves);
        }
    }

    /// The changes since tracking (re)started, as a delta, in O(c log c) for c writes; the
    /// log restarts. `None` when the tree is not tracked or recorded more writes than it
    /// has nodes (then the whole tree is the cheaper record).
    pub fn take_changes(&mut self) -> Option<TreeDelta> {
        let log = self.changes.take()?;
        self.track_changes();
        if log.overflow {
            return None;
        }
        let mut indexes = log.nodes;
        indexes.sort_unstable();
        indexes.dedup();
        let width = self.size.node_width();
        let nodes: Vec<NodeUpdate> = indexes
            .into_iter()
            .filter(|&i| i < width)
            .map(|i| NodeUpdate {
                index: i,
                node: self.node(NodeIndex(i)).cloned(),
            })
            .collect();
        Some(TreeDelta {
            min_leaves: log.min_leaves,
            leaves: self.size.leaves(),
            nodes: nodes.into(),
        })
    }

    /// Replays a delta taken by [`Tree::take_changes`] onto the tree it was taken against,
    /// and brings the hashes up to date (O(changed log N) hashes). On error the tree is
    /// unchanged.
    pub fn apply_delta(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        delta: TreeDelta,
    ) -> Result<(), TreeError> {
        self.check_suite(cs)?;
        let min = TreeSize::new(delta.min_leaves).ok_or(TreeError::BadDelta("minimum size"))?;
        let size = TreeSize::new(delta.leaves).ok_or(TreeError::BadDelta("size"))?;
        if min.leaves() > self.size.leaves() || min.leaves() > size.leaves() {
            return Err(TreeError::BadDelta("minimum size above the sizes"));
        }
        let width = size.node_width();
        let mut last = None;
        for u in delta.nodes.iter() {
            if u.index >= width || last.is_some_and(|l| u.index <= l) {
                return Err(TreeError::BadDelta("node index out of range or order"));
            }
            last = Some(u.index);
            let fits = match &u.node {
                None => true,
                Some(Node::Leaf(_)) => u.index % 2 == 0,
                Some(Node::Parent(_)) => u.index % 2 == 1,
            };
            if !fits {
                return Err(TreeError::WrongNodeType(NodeIndex(u.index)));
            }
        }
        let mut tree = self.stage();
        tree.shrink_to(min);
        while tree.size.leaves() < size.leaves() {
            tree.extend()?;
        }
        for u in delta.nodes.into_vec() {
            tree.put(NodeIndex(u.index), u.node.map(Arc::new));
        }
        tree.update_hashes(cs)?;
        *self = tree;
        Ok(())
    }

    /// Cuts the tree to `smaller` leaves, whatever its right part holds (replay of a
    /// truncation).
    fn shrink_to(&mut self, smaller: TreeSize) {
        if smaller.leaves() >= self.size.leaves() {
            return;
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
