//! Commits (RFC 9420 §12.4 and §7.6): `Commit`, `ProposalOrRef`, `UpdatePath` and
//! `UpdatePathNode`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::leaf_node::LeafNode;
use super::proposal::{Proposal, ProposalRef};
use crate::codec::VarVec;
use crate::crypto::{HpkeCiphertext, HpkePublicKey};

tagged_union! {
    /// `ProposalOrRef` (RFC 9420 §12.4): a u8 type, `proposal(1)` or `reference(2)`, then the
    /// proposal or its reference; any other type is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum ProposalOrRef: u8 {
        /// An inline proposal.
        Proposal(Proposal) = 1,
        /// A reference to a proposal sent earlier in the epoch.
        Reference(ProposalRef) = 2,
    }
}

/// `UpdatePathNode` (RFC 9420 §7.6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct UpdatePathNode {
    /// The node's new HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The path secret encrypted to each node of the copath child's resolution.
    pub encrypted_path_secret: VarVec<HpkeCiphertext>,
}

/// `UpdatePath` (RFC 9420 §7.6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct UpdatePath {
    /// The committer's new leaf (source `commit`).
    pub leaf_node: LeafNode,
    /// One entry per node of the filtered direct path.
    pub nodes: VarVec<UpdatePathNode>,
}

/// `Commit` (RFC 9420 §12.4).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Commit {
    /// The proposals committed, inline or by reference.
    pub proposals: VarVec<ProposalOrRef>,
    /// `optional<UpdatePath> path`.
    pub path: Option<UpdatePath>,
}

top_level!(Commit);
