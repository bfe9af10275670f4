//! Per-epoch state deltas of a [`Group`]: the bytes one epoch transition (or a change
//! within an epoch: a cached proposal, a consumed key) changed, so a store can write
//! O(changed) bytes per commit instead of the whole state ([`Group::to_bytes`], O(N)).
//!
//! A delta holds the tree nodes written since the last delta ([`TreeDelta`], recorded by
//! the tree as it is staged and merged: O(changed), no scan) and the group's non-tree state
//! written whole: GroupContext, transcript hashes, epoch secrets and secret tree, own keys,
//! pending proposals, retained past epochs' secrets, PSKs. Those are small; the past
//! epochs' members are not written, a replay rebuilds them from the trees it passes through.
//!
//! Format: a big-endian `u16` version ([`DELTA_VERSION`]), then the TLS encoding of the
//! base epoch (the epoch of the state the delta applies to), the [`TreeDelta`] and the
//! version-1 state body of [`super::state`] with an empty tree.
//!
//! Invariants:
//! - [`Group::take_delta`] returns a delta only when change tracking covers everything since
//!   the last delta and at most one epoch passed; otherwise `None`, and the caller writes a
//!   snapshot ([`Group::to_bytes`]). Call it after every merged commit.
//! - Loading a snapshot and replaying, in order, the deltas taken after it
//!   ([`Group::from_bytes_and_deltas`]) gives a group whose [`Group::to_bytes`] equals that of
//!   the group the deltas were taken from.
//! - A delta that does not decode or does not fit the state it is replayed onto (base epoch,
//!   tree shape, tree hash, unknown past epoch) is refused with
//!   [`MalformedError::CorruptState`] or [`MalformedError::UnknownStateVersion`]; nothing
//!   panics.

use std::collections::BTreeMap;

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use crate::codec::{decode_exact, encode};
use crate::crypto::CipherSuiteProvider;
use crate::messages::RatchetTree;
use crate::tree::TreeDelta;

use super::error::{GroupError, MalformedError};
use super::key_package::MemberIndex;
use super::state::{corrupt, StateV1};
use super::Group;

/// The current delta format version.
pub const DELTA_VERSION: u16 = 1;

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct DeltaV1 {
    base_epoch: u64,
    tree: TreeDelta,
    state: StateV1,
}

impl Group {
    /// Starts recording changes for [`Group::take_delta`], against the current state (which
    /// the caller has just stored whole).
    pub fn track_changes(&mut self) {
        self.tree.track_changes();
        self.delta_epoch = Some(self.context.epoch);
    }

    /// The delta from the state at the last [`Group::track_changes`] or `take_delta` to the
    /// current one (see the module documentation), and restarts the recording. `None` when
    /// no recording covers the change (tracking never started, the tree was replaced, more
    /// than one epoch passed, or more writes than the tree has nodes): store a snapshot.
    pub fn take_delta(&mut self) -> Result<Option<Vec<u8>>, GroupError> {
        let base_epoch = self.delta_epoch.replace(self.context.epoch);
        let tree = self.tree.take_changes();
        if !self.tree.is_tracking_changes() {
            self.tree.track_changes();
        }
        let (Some(base_epoch), Some(tree)) = (base_epoch, tree) else {
            return Ok(None);
        };
        if self.context.epoch != base_epoch && self.context.epoch != base_epoch.wrapping_add(1) {
            return Ok(None);
        }
        let delta = DeltaV1 {
            base_epoch,
            tree,
            state: self.base_state(RatchetTree::default())?,
        };
        let mut out = DELTA_VERSION.to_be_bytes().to_vec();
        out.extend_from_slice(&encode(&delta)?);
        Ok(Some(out))
    }

    /// Restores a group from a snapshot ([`Group::to_bytes`]) and the deltas taken after it,
    /// in order. Costs the snapshot's load (O(N)) plus O(changed log N) per delta.
    pub fn from_bytes_and_deltas<D: AsRef<[u8]>>(
        cs: &dyn CipherSuiteProvider,
        snapshot: &[u8],
        deltas: &[D],
    ) -> Result<Group, GroupError> {
        let mut group = Group::from_bytes(cs, snapshot)?;
        for d in deltas {
            group = group.with_delta(cs, d.as_ref())?;
        }
        if !deltas.is_empty() {
            group.index = MemberIndex::build(&group.tree);
        }
        Ok(group)
    }

    /// The state `bytes` (a delta) leads to from this one. The member index of the result
    /// is stale: the caller rebuilds it once after the last delta.
    fn with_delta(&self, cs: &dyn CipherSuiteProvider, bytes: &[u8]) -> Result<Group, GroupError> {
        let (Some(&hi), Some(&lo)) = (bytes.first(), bytes.get(1)) else {
            return Err(corrupt("delta too short"));
        };
        let version = u16::from_be_bytes([hi, lo]);
        if version != DELTA_VERSION {
            return Err(MalformedError::UnknownStateVersion(version).into());
        }
        let d = decode_exact::<DeltaV1>(bytes.get(2..).unwrap_or_default())
            .map_err(|e| MalformedError::CorruptState(format!("delta: {e}")))?;
        let epoch = self.context.epoch;
        let next = d.state.context.epoch;
        if d.base_epoch != epoch || (next != epoch && next != epoch.wrapping_add(1)) {
            return Err(corrupt("delta epoch does not follow the state"));
        }
        if d.state.context.cipher_suite != self.context.cipher_suite
            || d.state.context.group_id != self.context.group_id
        {
            return Err(corrupt("delta of another group or suite"));
        }
        if !d.state.tree.0.is_empty() {
            return Err(corrupt("delta with a whole tree"));
        }
        let mut tree = self.tree.stage();
        tree.apply_delta(cs, d.tree)
            .map_err(|e| MalformedError::CorruptState(format!("tree delta: {e}")))?;
        if tree.tree_hash(cs)? != d.state.context.tree_hash.as_slice() {
            return Err(corrupt("tree hash after delta"));
        }
        Group::from_state(d.state, tree, |p| {
            if let Some((_, past)) = self.past_epochs.iter().find(|(e, _)| *e == p.epoch) {
                Ok((past.tree.stage(), past.signer_overrides.clone()))
            } else if p.epoch == epoch && next != epoch {
                // The epoch this delta's commit closed: its members are the tree before it.
                Ok((self.tree.stage(), BTreeMap::new()))
            } else {
                Err(corrupt("delta names an unknown past epoch"))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bundle, commit_with_path, cs, group};
    use super::super::CommitOptions;
    use super::*;
    use crate::messages::{Add, Proposal, Remove};

    /// Commits `proposals` (with a path) and merges; returns the delta.
    fn step(g: &mut Group, proposals: Vec<Proposal>) -> Vec<u8> {
        commit_with_path(cs(), g, proposals);
        g.take_delta().unwrap().expect("tracked")
    }

    /// Adds, removes (with truncation and regrowth) and path updates over many epochs: the
    /// snapshot plus deltas reload to the live group's exact bytes at every epoch, and each
    /// delta is far smaller than the snapshot.
    #[test]
    fn snapshot_plus_deltas_equal_live_state() {
        let cs = cs();
        let mut g = group(cs, 40);
        let snapshot = g.to_bytes().unwrap();
        g.track_changes();
        let mut deltas = Vec::new();
        for round in 0..24u32 {
            let proposals = match round % 4 {
                0 => vec![Proposal::Add(Add {
                    key_package: bundle(cs, &format!("n{round}")).key_package,
                })],
                1 => {
                    // Remove the highest occupied leaf other than ours (truncates).
                    let last = g
                        .tree()
                        .leaves()
                        .map(|(l, _)| l)
                        .filter(|&l| l != g.own_leaf())
                        .last()
                        .unwrap();
                    vec![Proposal::Remove(Remove { removed: last.0 })]
                }
                2 => vec![
                    Proposal::Add(Add {
                        key_package: bundle(cs, &format!("a{round}")).key_package,
                    }),
                    Proposal::Add(Add {
                        key_package: bundle(cs, &format!("b{round}")).key_package,
                    }),
                ],
                _ => vec![],
            };
            let d = step(&mut g, proposals);
            assert!(d.len() < snapshot.len(), "round {round}: delta {}", d.len());
            deltas.push(d);
            let loaded = Group::from_bytes_and_deltas(cs, &snapshot, &deltas).unwrap();
            assert_eq!(
                loaded.to_bytes().unwrap(),
                g.to_bytes().unwrap(),
                "round {round}"
            );
            assert_eq!(loaded.epoch_authenticator(), g.epoch_authenticator());
        }
        // The reloaded group goes on, and its next delta replays too.
        let mut loaded = Group::from_bytes_and_deltas(cs, &snapshot, &deltas).unwrap();
        loaded.track_changes();
        deltas.push(step(&mut loaded, vec![]));
        let again = Group::from_bytes_and_deltas(cs, &snapshot, &deltas).unwrap();
        assert_eq!(again.to_bytes().unwrap(), loaded.to_bytes().unwrap());
    }

    /// Every truncation of a delta, a flipped version, a delta replayed onto the wrong base
    /// and a bit flip in the tree part are typed errors.
    #[test]
    fn corrupt_deltas_refused() {
        let cs = cs();
        let mut g = group(cs, 4);
        let snapshot = g.to_bytes().unwrap();
        g.track_changes();
        let d1 = step(&mut g, vec![]);
        let d2 = step(&mut g, vec![]);
        for len in 0..d1.len() {
            match Group::from_bytes_and_deltas(cs, &snapshot, &[&d1[..len]]) {
                Err(GroupError::Malformed(
                    MalformedError::CorruptState(_) | MalformedError::UnknownStateVersion(_),
                )) => {}
                other => panic!("prefix {len}: {:?}", other.map(|g| g.epoch())),
            }
        }
        let mut v = d1.clone();
        v[1] ^= 0x40;
        assert!(matches!(
            Group::from_bytes_and_deltas(cs, &snapshot, &[&v]),
            Err(GroupError::Malformed(MalformedError::UnknownStateVersion(
                _
            )))
        ));
        // d2 does not follow the snapshot; d1 twice does not either.
        for deltas in [vec![&d2], vec![&d1, &d1]] {
            assert!(matches!(
                Group::from_bytes_and_deltas(cs, &snapshot, &deltas),
                Err(GroupError::Malformed(MalformedError::CorruptState(_)))
            ));
        }
        // Flip each byte of the base epoch, the sizes and the first changed node: refused
        // (wrong base, bad shape, undecodable, or a tree hash that no longer matches).
        for i in 2..60.min(d1.len()) {
            let mut b = d1.clone();
            b[i] ^= 0xff;
            assert!(
                Group::from_bytes_and_deltas(cs, &snapshot, &[&b]).is_err(),
                "byte {i}"
            );
        }
        let ok = Group::from_bytes_and_deltas(cs, &snapshot, &[&d1, &d2]).unwrap();
        assert_eq!(ok.to_bytes().unwrap(), g.to_bytes().unwrap());
    }

    /// No delta without tracking, nor across two epochs.
    #[test]
    fn untracked_or_two_epochs_need_a_snapshot() {
        let cs = cs();
        let mut g = group(cs, 3);
        assert!(g.take_delta().unwrap().is_none());
        g.track_changes();
        let out = g.commit(cs, CommitOptions::default()).unwrap();
        g.merge_staged_commit(out.staged).unwrap();
        let out = g.commit(cs, CommitOptions::default()).unwrap();
        g.merge_staged_commit(out.staged).unwrap();
        assert!(g.take_delta().unwrap().is_none());
        // Tracking restarted: the next epoch gives a delta again.
        let out = g.commit(cs, CommitOptions::default()).unwrap();
        g.merge_staged_commit(out.staged).unwrap();
        assert!(g.take_delta().unwrap().is_some());
    }
}
