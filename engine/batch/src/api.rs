//! The batch vocabulary: [`WorkItem`]s in, one [`ItemResult`] per item out.
//!
//! Invariants: every item gets exactly one result, in the position it had in the batch; an
//! item's failure is its own ([`BatchError`]) and touches neither other items nor other
//! groups. Outputs have a stable byte encoding ([`Output::encode`]) so that the store can
//! keep them with the state transition that acknowledged them.

use mls_engine::group::GroupError;

use crate::observer::ObserverError;
use crate::store::StoreError;

/// One unit of work for one group.
#[derive(Clone, Debug)]
pub struct WorkItem {
    /// The caller's id for the item (the key of its acknowledged output in the store).
    pub id: u64,
    /// The group it is for.
    pub group_id: Vec<u8>,
    /// What to do.
    pub op: Op,
}

/// What to do with a group.
#[derive(Clone, Debug)]
pub enum Op {
    /// Process an encoded `MLSMessage`: a proposal, a commit, or (members only) application
    /// data in a PrivateMessage.
    Process(Vec<u8>),
    /// Create and merge a commit (members only): adds (encoded KeyPackage `MLSMessage`s,
    /// producing a Welcome), removes (leaf indexes), and an update of our own path.
    Commit(CommitRequest),
    /// Protect application data as a PrivateMessage (members only).
    Protect {
        /// The plaintext.
        data: Vec<u8>,
        /// Authenticated data.
        authenticated_data: Vec<u8>,
    },
    /// Publish a GroupInfo `MLSMessage` for the current epoch (observers only: served to
    /// external joiners).
    PublishGroupInfo(Vec<u8>),
}

/// A commit to create.
#[derive(Clone, Debug, Default)]
pub struct CommitRequest {
    /// KeyPackages to add, each an encoded `MLSMessage` of type `mls_key_package`.
    pub add: Vec<Vec<u8>>,
    /// Leaves to remove.
    pub remove: Vec<u32>,
    /// Send an UpdatePath even if no proposal needs one (refreshes our keys).
    pub update: bool,
    /// Also commit the proposals received this epoch.
    pub include_pending: bool,
}

/// What an item produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A proposal was verified and cached.
    ProposalCached,
    /// A received commit was applied: the group is at `epoch`.
    CommitApplied {
        /// The new epoch.
        epoch: u64,
    },
    /// Application data was decrypted.
    Application {
        /// The sender's leaf.
        sender: u32,
        /// The epoch it was sent in.
        epoch: u64,
        /// The plaintext.
        data: Vec<u8>,
    },
    /// A commit was created and merged: the group is at `epoch`.
    Committed {
        /// The new epoch.
        epoch: u64,
        /// The commit `MLSMessage`.
        commit: Vec<u8>,
        /// The Welcome `MLSMessage`, when members were added.
        welcome: Option<Vec<u8>>,
    },
    /// Application data protected as a PrivateMessage `MLSMessage`.
    Protected(Vec<u8>),
    /// A GroupInfo was accepted for serving.
    GroupInfoAccepted,
}

impl Output {
    /// The epoch the item moved the group to, if it was an epoch transition.
    pub fn new_epoch(&self) -> Option<u64> {
        match self {
            Output::CommitApplied { epoch } | Output::Committed { epoch, .. } => Some(*epoch),
            _ => None,
        }
    }

    /// A stable encoding for the store: a tag byte, then fields (u64 big-endian, byte
    /// strings prefixed by a u32 big-endian length).
    pub fn encode_into(&self, out: &mut impl Extend<u8>) {
        fn bytes(out: &mut impl Extend<u8>, b: &[u8]) {
            // Lengths above u32::MAX cannot occur: MLS messages are bounded far below.
            let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
            out.extend(len.to_be_bytes());
            out.extend(b.iter().copied());
        }
        match self {
            Output::ProposalCached => out.extend([1u8]),
            Output::CommitApplied { epoch } => {
                out.extend([2u8]);
                out.extend(epoch.to_be_bytes());
            }
            Output::Application {
                sender,
                epoch,
                data,
            } => {
                out.extend([3u8]);
                out.extend(sender.to_be_bytes());
                out.extend(epoch.to_be_bytes());
                bytes(out, data);
            }
            Output::Committed {
                epoch,
                commit,
                welcome,
            } => {
                out.extend([4u8]);
                out.extend(epoch.to_be_bytes());
                bytes(out, commit);
                if let Some(w) = welcome {
                    bytes(out, w);
                }
            }
            Output::Protected(m) => {
                out.extend([5u8]);
                bytes(out, m);
            }
            Output::GroupInfoAccepted => out.extend([6u8]),
        }
    }

    /// [`Output::encode_into`] into a fresh vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_into(&mut v);
        v
    }
}

/// Why an item failed. Each failure concerns its item only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The item's bytes do not decode.
    #[error("decode: {0}")]
    Decode(String),
    /// No such group in the engine or its store.
    #[error("unknown group")]
    UnknownGroup,
    /// The operation needs the other role (e.g. `Protect` on an observer).
    #[error("operation not available to this role: {0}")]
    WrongRole(&'static str),
    /// The group (member role) refused the item.
    #[error("group: {0}")]
    Group(#[from] GroupError),
    /// The observer refused the item.
    #[error("observer: {0}")]
    Observer(#[from] ObserverError),
    /// The state transition could not be stored: the item is not acknowledged and the group
    /// is reloaded from the store before its next use.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An earlier item of the same group in this batch failed to be stored, so the group's
    /// in-memory state was dropped; this item was not applied.
    #[error("group state dropped after a store failure earlier in the batch")]
    GroupUnavailable,
    /// The engine could not be set up or a lock was poisoned by a panic.
    #[error("engine: {0}")]
    Setup(String),
}

/// The result of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// The item's id.
    pub id: u64,
    /// Its output (acknowledged: stored with the group's state) or its error.
    pub result: Result<Output, BatchError>,
}
