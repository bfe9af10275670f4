//! The ratchet tree and TreeKEM (RFC 9420 §4, §7, §12.4.3.1, Appendix C).
//!
//! This module owns the group's tree: its nodes in a flat array ([`Tree`]), the tree hashes
//! cached beside them ([`tree_hash`]), parent hashes ([`parent_hash`]), the validation of a
//! received tree ([`tree_validation`]) and the creation and application of UpdatePaths
//! ([`tree_kem`]). Proposals and paths are applied to a staged copy ([`Tree::stage`]) that
//! shares unchanged storage with the current tree and replaces it only on merge.
//!
//! Costs (N leaves): a change touching `k` nodes re-hashes O(k log N) nodes; a whole tree is
//! hashed level by level in parallel; validation is O(N) hashes plus N signature
//! verifications spread over all cores; staging costs three reference-count increments per
//! 4,096 nodes, and each node written afterwards copies at most one 64-node chunk.
//!
//! Persistence by deltas ([`TreeDelta`]): a tree whose changes are tracked
//! ([`Tree::track_changes`]) records which nodes were written, O(1) per write, so the nodes
//! an epoch changed are read out in O(changed) ([`Tree::take_changes`]) and replayed onto
//! the previous tree ([`Tree::apply_delta`]).

mod cow;
mod delta;
mod error;
pub mod generate;
pub(crate) mod key_id;
pub mod parent_hash;
mod ratchet_tree;
pub mod tree_hash;
pub mod tree_kem;
pub mod tree_validation;

pub use delta::{NodeUpdate, TreeDelta};
pub use error::TreeError;
pub use ratchet_tree::{Tree, WireLayout};
pub use tree_hash::Digest;
pub use tree_kem::{DecryptedUpdatePath, GeneratedUpdatePath, PathPrivateKeys, PendingUpdatePath};
pub use tree_validation::{
    validate_tree, LifetimePolicy, MemberIndex, TreeValidationError, TreeValidationParams,
};

#[cfg(test)]
mod tests;
