//! Errors of tree operations and TreeKEM (validation has its own, [`super::TreeValidationError`]).

use crate::crypto::{CipherSuite, CryptoError};
use crate::tree_math::{LeafIndex, NodeIndex};

/// Why a tree operation failed. Every variant names the node or leaf involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// A structure could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(String),
    /// The tree has no nodes.
    #[error("empty ratchet tree")]
    EmptyTree,
    /// The tree would exceed 2^31 leaves.
    #[error("ratchet tree too large")]
    TooLarge,
    /// A tree hash could not be cached: no such node slot, or not the suite's hash length.
    #[error("tree hash of {len} bytes does not fit node slot {node}")]
    HashSlot {
        /// The node slot.
        node: usize,
        /// The hash length given.
        len: usize,
    },
    /// A received tree ends in a blank node (RFC 9420 §12.4.3.3: trailing blanks are dropped).
    #[error("ratchet tree ends in a blank node")]
    TrailingBlank,
    /// A leaf position holds a parent node or a parent position a leaf node.
    #[error("node {0:?} has the wrong node type for its position")]
    WrongNodeType(NodeIndex),
    /// A leaf index beyond the tree.
    #[error("leaf {0:?} is outside the tree")]
    LeafOutOfRange(LeafIndex),
    /// An operation needs a non-blank leaf and found a blank one.
    #[error("leaf {0:?} is blank")]
    BlankLeaf(LeafIndex),
    /// The provider's suite is not the tree's.
    #[error("tree uses {tree:?} but the provider implements {provider:?}")]
    SuiteMismatch {
        /// The tree's suite.
        tree: CipherSuite,
        /// The provider's suite.
        provider: CipherSuite,
    },
    /// An UpdatePath has a different number of nodes than the sender's filtered direct path
    /// (RFC 9420 §7.6).
    #[error("UpdatePath has {got} nodes, the filtered direct path {expected}")]
    PathLengthMismatch {
        /// Length of the filtered direct path.
        expected: usize,
        /// Nodes in the UpdatePath.
        got: usize,
    },
    /// An UpdatePath node's encryption key cannot be encrypted to (wrong length, not a point
    /// of the suite's group, or of small order): the node it would be set at.
    #[error("UpdatePath key for {0:?} cannot be encrypted to")]
    InvalidEncryptionKey(NodeIndex),
    /// The UpdatePath's leaf does not have source `commit` (RFC 9420 §7.3).
    #[error("UpdatePath leaf of {0:?} does not have leaf_node_source commit")]
    NotCommitSource(LeafIndex),
    /// The committer's leaf signature does not verify (RFC 9420 §7.3).
    #[error("leaf {0:?}: LeafNodeTBS signature invalid")]
    LeafSignature(LeafIndex),
    /// The committer's leaf `parent_hash` is not the parent hash of the first node of its
    /// filtered direct path (RFC 9420 §7.5, §7.9.2).
    #[error("leaf {0:?}: parent_hash does not match the merged path")]
    ParentHashMismatch(LeafIndex),
    /// An UpdatePathNode has a ciphertext count different from its copath resolution
    /// (RFC 9420 §7.6).
    #[error("UpdatePath node {node:?}: {got} ciphertexts for a resolution of {expected}")]
    CiphertextCountMismatch {
        /// The filtered-direct-path node.
        node: NodeIndex,
        /// Size of the copath child's resolution (without new members).
        expected: usize,
        /// Ciphertexts sent.
        got: usize,
    },
    /// The receiver holds no private key for any node of the relevant resolution.
    #[error("no private key for the resolution below {0:?}")]
    NoDecryptionKey(NodeIndex),
    /// A public key derived from a decrypted path secret differs from the one sent
    /// (RFC 9420 §7.5, step 6 of decryption).
    #[error("node {0:?}: derived public key differs from the UpdatePath")]
    PublicKeyMismatch(NodeIndex),
    /// The receiver is the sender of the UpdatePath.
    #[error("cannot decrypt one's own UpdatePath")]
    OwnPath,
    /// A [`super::TreeDelta`] does not fit the tree it is replayed onto.
    #[error("tree delta: {0}")]
    BadDelta(&'static str),
}

impl From<tls_codec::Error> for TreeError {
    fn from(e: tls_codec::Error) -> Self {
        TreeError::Codec(e.to_string())
    }
}
