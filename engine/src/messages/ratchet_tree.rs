//! The ratchet tree on the wire (RFC 9420 §7.8, §7.9, §12.4.3.3): `Node`, `ParentNode`, the
//! `ratchet_tree` vector of `optional<Node>`, and the tree-hash and parent-hash inputs.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::leaf_node::LeafNode;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::HpkePublicKey;

/// `ParentNode` (RFC 9420 §7.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ParentNode {
    /// The node's HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The parent hash of this node's parent (§7.9).
    pub parent_hash: VarBytes,
    /// Leaves added below this node since its key was last set, ascending.
    pub unmerged_leaves: VarVec<u32>,
}

tagged_union! {
    /// `Node` (RFC 9420 §7.8, §12.4.3.3): a u8 `NodeType`, `leaf(1)` or `parent(2)`, then the
    /// node; any other type is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum Node: u8 {
        /// A leaf.
        Leaf(LeafNode) = 1,
        /// A parent.
        Parent(ParentNode) = 2,
    }
}

/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3): the tree in array order, blank
/// nodes as `None`. Senders drop trailing blank nodes; this type keeps what it is given.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct RatchetTree(pub VarVec<Option<Node>>);

top_level!(RatchetTree);

impl RatchetTree {
    /// Decodes an encoded `ratchet_tree` (the `ratchet_tree` extension's data, which it must
    /// use entirely) straight into shared nodes, accepting and refusing exactly what decoding
    /// a [`RatchetTree`] does. A large tree is decoded without an intermediate vector of nodes
    /// (72 bytes a slot, doubled while it grows): each node goes into its own `Arc` as it is
    /// read, the form [`crate::tree::Tree::from_shared_nodes`] builds from.
    pub fn decode_shared_nodes(
        bytes: &[u8],
    ) -> Result<Vec<Option<std::sync::Arc<Node>>>, tls_codec::Error> {
        Self::decode_shared_nodes_observed(bytes, |_, _| {})
    }

    /// [`RatchetTree::decode_shared_nodes`], calling `seen(i, node)` as each node `i` is read
    /// (a joiner starts checking the GroupInfo's signature as soon as its signer's leaf is
    /// read, beside decoding the rest).
    pub fn decode_shared_nodes_observed(
        bytes: &[u8],
        mut seen: impl FnMut(usize, &Option<std::sync::Arc<Node>>),
    ) -> Result<Vec<Option<std::sync::Arc<Node>>>, tls_codec::Error> {
        let (mut body, rest) = crate::codec::read_vector_body(bytes)?;
        if !rest.is_empty() {
            return Err(tls_codec::Error::TrailingData);
        }
        let mut nodes = Vec::new();
        while !body.is_empty() {
            let (node, after) =
                <Option<Node> as tls_codec::DeserializeBytes>::tls_deserialize_bytes(body)?;
            if after.len() >= body.len() {
                return Err(tls_codec::Error::DecodingError(
                    "zero-length vector item".into(),
                ));
            }
            let node = node.map(std::sync::Arc::new);
            seen(nodes.len(), &node);
            nodes.push(node);
            body = after;
        }
        Ok(nodes)
    }
}

/// `LeafNodeHashInput` (RFC 9420 §7.8).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct LeafNodeHashInput {
    /// The leaf's index.
    pub leaf_index: u32,
    /// The leaf, or `None` when blank.
    pub leaf_node: Option<LeafNode>,
}

/// `ParentNodeHashInput` (RFC 9420 §7.8).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ParentNodeHashInput {
    /// The parent, or `None` when blank.
    pub parent_node: Option<ParentNode>,
    /// Tree hash of the left child.
    pub left_hash: VarBytes,
    /// Tree hash of the right child.
    pub right_hash: VarBytes,
}

tagged_union! {
    /// `TreeHashInput` (RFC 9420 §7.8): `node_type` then the leaf or parent hash input.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum TreeHashInput: u8 {
        /// `leaf` (1).
        Leaf(LeafNodeHashInput) = 1,
        /// `parent` (2).
        Parent(ParentNodeHashInput) = 2,
    }
}

/// `ParentHashInput` (RFC 9420 §7.9).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ParentHashInput {
    /// The parent's HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The parent's own `parent_hash`.
    pub parent_hash: VarBytes,
    /// Tree hash of the sibling subtree as it was when the hash was computed.
    pub original_sibling_tree_hash: VarBytes,
}
