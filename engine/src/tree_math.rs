//! RFC 9420 Appendix C: the array representation of a complete binary tree.
//!
//! Leaf `i` is node `2i`; parents take the odd indices. A tree of `n` leaves (a power of two in
//! MLS, RFC 9420 §7.8) has `2n - 1` nodes. Everything here is index arithmetic: no recursion,
//! no allocation except where a `Vec` is asked for, and every function that could be asked an
//! impossible question (the parent of the root, the children of a leaf) answers `None` or says
//! `_unchecked` in its name. Indices are `u32`, so trees up to 2^31 leaves are covered.

/// The index of a leaf among the leaves (leaf `i` is node `2i`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct LeafIndex(pub u32);

/// The index of a node in the array representation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NodeIndex(pub u32);

/// The largest number of leaves supported: 2^31, so that every node index fits in a `u32`.
pub const MAX_LEAVES: u32 = 1 << 31;

impl LeafIndex {
    /// The node index of this leaf (`2i`). A leaf index from the wire may be past
    /// [`MAX_LEAVES`], where `2i` leaves the `u32` range: it maps to `u32::MAX`, a parent
    /// position past the last node of the largest tree, so every lookup finds nothing. (A
    /// plain shift would wrap `2^31 + i` onto leaf `i`: a Remove or a sender naming
    /// `2^31 + i` would have been taken for member `i`.)
    pub fn node(self) -> NodeIndex {
        NodeIndex(self.0.saturating_mul(2))
    }
}

impl NodeIndex {
    /// True for leaves (even indices).
    pub fn is_leaf(self) -> bool {
        self.0 & 1 == 0
    }

    /// The leaf index of a leaf node, or `None` for a parent node.
    pub fn leaf(self) -> Option<LeafIndex> {
        self.is_leaf().then_some(LeafIndex(self.0 >> 1))
    }

    /// The level of the node: leaves are 0, their parents 1, and so on (the number of
    /// trailing one bits of the index).
    pub fn level(self) -> u32 {
        self.0.trailing_ones()
    }

    /// The left child of a parent node, or `None` for a leaf.
    pub fn left(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (1 << (k - 1))))
    }

    /// The right child of a parent node, or `None` for a leaf.
    pub fn right(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (3 << (k - 1))))
    }

    /// The parent of a node in a complete tree, without checking it is below the root.
    ///
    /// Meaningful only when `self` is not the root of the tree it belongs to; for the root of a
    /// tree of 2^31 leaves the arithmetic would leave the `u32` range, so callers use
    /// [`TreeSize::parent`] unless they have checked.
    pub fn parent_unchecked(self) -> NodeIndex {
        let k = self.level();
        let b = (self.0 >> (k + 1)) & 1;
        NodeIndex((self.0 | (1 << k)) ^ (b << (k + 1)))
    }

    /// The other child of this node's parent, without checking it is below the root.
    pub fn sibling_unchecked(self) -> NodeIndex {
        // Siblings differ exactly in the bit just above their level.
        NodeIndex(self.0 ^ (1 << (self.level() + 1)))
    }
}

/// The size of a tree, counted in leaves: a power of two between 1 and 2^31 (RFC 9420 §7.8:
/// the tree always has 2^d leaves).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TreeSize(u32);

impl TreeSize {
    /// A tree of `n_leaves` leaves; `None` unless it is a power of two no larger than 2^31.
    pub fn new(n_leaves: u32) -> Option<TreeSize> {
        (n_leaves.is_power_of_two() && n_leaves <= MAX_LEAVES).then_some(TreeSize(n_leaves))
    }

    /// The smallest tree with room for `n_leaves` leaves (at least one leaf).
    pub fn for_leaves(n_leaves: u32) -> Option<TreeSize> {
        Self::new(n_leaves.max(1).checked_next_power_of_two()?)
    }

    /// The number of leaves.
    pub fn leaves(self) -> u32 {
        self.0
    }

    /// The number of nodes, `2n - 1` (Appendix C `node_width`).
    pub fn node_width(self) -> u32 {
        2 * (self.0 - 1) + 1
    }

    /// The root: `2^d - 1` for `2^d` leaves.
    pub fn root(self) -> NodeIndex {
        NodeIndex(self.0 - 1)
    }

    /// The tree of twice this size (the tree grows by doubling), or `None` past 2^31 leaves.
    pub fn doubled(self) -> Option<TreeSize> {
        Self::new(self.0.checked_mul(2)?)
    }

    /// The tree of half this size, or `None` for a single leaf.
    pub fn halved(self) -> Option<TreeSize> {
        (self.0 > 1).then_some(TreeSize(self.0 / 2))
    }

    /// True when `node` is inside this tree.
    pub fn contains(self, node: NodeIndex) -> bool {
        node.0 < self.node_width()
    }

    /// True when `leaf` is inside this tree.
    pub fn contains_leaf(self, leaf: LeafIndex) -> bool {
        leaf.0 < self.0
    }

    /// The parent of `node`, or `None` for the root or a node outside the tree.
    pub fn parent(self, node: NodeIndex) -> Option<NodeIndex> {
        (self.contains(node) && node != self.root()).then(|| node.parent_unchecked())
    }

    /// The sibling of `node`, or `None` for the root or a node outside the tree.
    pub fn sibling(self, node: NodeIndex) -> Option<NodeIndex> {
        (self.contains(node) && node != self.root()).then(|| node.sibling_unchecked())
    }

    /// The direct path of `node`, from its parent up to and including the root (empty for the
    /// root; empty for a node outside the tree).
    pub fn direct_path(self, node: NodeIndex) -> DirectPath {
        DirectPath {
            next: if self.contains(node) {
                Some(node)
            } else {
                None
            },
            root: self.root(),
        }
    }

    /// The copath of `node`: the sibling of each node on the path from `node` up to, not
    /// including, the root.
    pub fn copath(self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> {
        let root = self.root();
        std::iter::once(node)
            .chain(self.direct_path(node))
            .take_while(move |n| *n != root)
            .map(NodeIndex::sibling_unchecked)
    }

    /// The lowest common ancestor of two nodes of this tree.
    pub fn common_ancestor(self, x: NodeIndex, y: NodeIndex) -> NodeIndex {
        let (lx, ly) = (x.level() + 1, y.level() + 1);
        if lx <= ly && x.0.checked_shr(ly) == y.0.checked_shr(ly) {
            return y;
        }
        if ly <= lx && x.0.checked_shr(lx) == y.0.checked_shr(lx) {
            return x;
        }
        let (mut xn, mut yn, mut k) = (x.0, y.0, 0u32);
        while xn != yn {
            xn >>= 1;
            yn >>= 1;
            k += 1;
        }
        NodeIndex((xn << k) + (1 << (k - 1)) - 1)
    }

    /// The leaves below `node` as the half-open range `[first, end)` of leaf indices.
    pub fn leaf_span(node: NodeIndex) -> (u32, u32) {
        let k = node.level();
        let first = (node.0 >> (k + 1)) << k;
        (first, first + (1u32 << k))
    }

    /// True when leaf `leaf` is in the subtree rooted at `node`.
    pub fn is_in_subtree(node: NodeIndex, leaf: LeafIndex) -> bool {
        let (a, b) = Self::leaf_span(node);
        (a..b).contains(&leaf.0)
    }
}

/// Iterator over a direct path, leaf side first (see [`TreeSize::direct_path`]).
#[derive(Clone, Debug)]
pub struct DirectPath {
    next: Option<NodeIndex>,
    root: NodeIndex,
}

impl Iterator for DirectPath {
    type Item = NodeIndex;
    fn next(&mut self) -> Option<NodeIndex> {
        let current = self.next?;
        if current == self.root {
            self.next = None;
            return None;
        }
        let p = current.parent_unchecked();
        self.next = Some(p);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn size(n: u32) -> TreeSize {
        TreeSize::new(n).unwrap()
    }

    #[test]
    fn eight_leaf_tree_matches_appendix_c_figure() {
        let t = size(8);
        assert_eq!(t.node_width(), 15);
        assert_eq!(t.root(), NodeIndex(7));
        assert_eq!(NodeIndex(7).left(), Some(NodeIndex(3)));
        assert_eq!(NodeIndex(7).right(), Some(NodeIndex(11)));
        assert_eq!(NodeIndex(4).left(), None);
        let dp: Vec<_> = t.direct_path(NodeIndex(4)).map(|n| n.0).collect();
        assert_eq!(dp, vec![5, 3, 7]);
        let cp: Vec<_> = t.copath(NodeIndex(4)).map(|n| n.0).collect();
        assert_eq!(cp, vec![6, 1, 11]);
        assert_eq!(t.parent(t.root()), None);
        assert_eq!(t.direct_path(t.root()).count(), 0);
        assert_eq!(t.copath(t.root()).count(), 0);
        assert_eq!(t.common_ancestor(NodeIndex(0), NodeIndex(6)), NodeIndex(3));
        assert_eq!(t.common_ancestor(NodeIndex(2), NodeIndex(14)), NodeIndex(7));
        assert_eq!(TreeSize::leaf_span(NodeIndex(11)), (4, 8));
    }

    #[test]
    fn leaf_indices_past_the_largest_tree_have_no_node() {
        assert_eq!(LeafIndex(MAX_LEAVES - 1).node(), NodeIndex(u32::MAX - 1));
        for i in [MAX_LEAVES, MAX_LEAVES + 3, u32::MAX] {
            let n = LeafIndex(i).node();
            assert_eq!(n, NodeIndex(u32::MAX));
            assert!(!n.is_leaf(), "{i} maps to a leaf position");
            assert!(n.0 >= size(MAX_LEAVES).node_width(), "{i} maps into a tree");
        }
    }

    #[test]
    fn sizes() {
        assert!(TreeSize::new(0).is_none());
        assert!(TreeSize::new(3).is_none());
        assert!(TreeSize::new(1 << 31).is_some());
        assert!(size(1 << 31).doubled().is_none());
        assert_eq!(size(1 << 31).root(), NodeIndex((1 << 31) - 1));
        assert_eq!(size(1 << 31).node_width(), u32::MAX);
        assert_eq!(TreeSize::for_leaves(5), TreeSize::new(8));
        assert_eq!(TreeSize::for_leaves(0), TreeSize::new(1));
        // The last leaf of the largest tree has a full-height direct path.
        let big = size(1 << 31);
        let last = LeafIndex((1 << 31) - 1).node();
        assert_eq!(big.direct_path(last).count(), 31);
        assert_eq!(big.direct_path(last).last(), Some(big.root()));
    }

    /// Reference implementation of Appendix C's `parent` for a full tree, recomputed by
    /// walking down from the root (independent of the bit trick).
    fn parent_by_descent(x: u32, n: TreeSize) -> Option<u32> {
        let mut cur = n.root();
        if cur.0 == x {
            return None;
        }
        loop {
            let (l, r) = (cur.left()?, cur.right()?);
            if l.0 == x || r.0 == x {
                return Some(cur.0);
            }
            cur = if x < cur.0 { l } else { r };
        }
    }

    proptest! {
        #[test]
        fn parent_child_sibling_agree(log in 0u32..=20, raw in any::<u32>()) {
            let t = size(1 << log);
            let x = NodeIndex(raw % t.node_width());
            prop_assert_eq!(t.parent(x).map(|p| p.0), parent_by_descent(x.0, t));
            if let Some(p) = t.parent(x) {
                let s = t.sibling(x).unwrap();
                prop_assert_eq!(t.parent(s), Some(p));
                let kids = [p.left().unwrap(), p.right().unwrap()];
                prop_assert!(kids.contains(&x) && kids.contains(&s) && x != s);
                prop_assert_eq!(p.level(), x.level() + 1);
            }
            let dp: Vec<_> = t.direct_path(x).collect();
            prop_assert_eq!(dp.len(), (log - x.level().min(log)) as usize);
            let cp: Vec<_> = t.copath(x).collect();
            prop_assert_eq!(cp.len(), dp.len());
            if let Some(l) = x.leaf() {
                for a in &dp {
                    prop_assert!(TreeSize::is_in_subtree(*a, l));
                }
                for c in &cp {
                    prop_assert!(!TreeSize::is_in_subtree(*c, l));
                }
            }
        }

        #[test]
        fn common_ancestor_is_lowest_shared(log in 0u32..=20, a in any::<u32>(), b in any::<u32>()) {
            let t = size(1 << log);
            let (x, y) = (NodeIndex(a % t.node_width()), NodeIndex(b % t.node_width()));
            let c = t.common_ancestor(x, y);
            let px: Vec<_> = std::iter::once(x).chain(t.direct_path(x)).collect();
            let py: Vec<_> = std::iter::once(y).chain(t.direct_path(y)).collect();
            let lowest = px.iter().find(|n| py.contains(n)).copied();
            prop_assert_eq!(Some(c), lowest);
        }
    }
}
