//! Durable group state: the [`Store`] trait, its crash-safe default [`RedbStore`] and the
//! in-memory [`MemStore`] for tests.
//!
//! A store keeps, per group, a **snapshot** (the whole state, `Group::to_bytes` /
//! `Observer::to_bytes`), the **deltas** written since (`Group::take_delta` /
//! `Observer::take_delta`: what each transition changed, O(changed) bytes, in order), the
//! role and epoch, and the acknowledged outputs of the batch items applied to it, keyed by
//! `(group id, item id)`. A transition writes either one delta (appended) or a new snapshot
//! (which drops the deltas: compaction). The engine chooses a snapshot once the deltas would
//! reach the snapshot's size, so a commit writes O(delta) bytes amortised and a load reads
//! at most about twice the snapshot.
//!
//! Invariants:
//! - [`Store::commit_transition`] is atomic: the new state and every output of the
//!   transition are written in one transaction, or nothing is. After a crash a group is at
//!   the state of its last committed transition, never between two.
//! - A transition never moves a group's epoch backwards (typed [`StoreError::EpochRegression`]).
//! - Callers acknowledge an item only after the transaction holding its output returned.
//! - A delta is appended only to a stored snapshot of the same role
//!   ([`StoreError::MissingSnapshot`] otherwise).
//! - [`Store::stats`] counts the bytes handed to the backend, by kind.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, Durability, ReadableTable, TableDefinition};

/// What a group's record holds: which role the engine plays in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The engine holds the group's secrets (state is `Group::to_bytes`).
    Member,
    /// The engine keeps only the public state (state is `Observer::to_bytes`).
    Observer,
}

impl Role {
    fn to_byte(self) -> u8 {
        match self {
            Role::Member => 1,
            Role::Observer => 2,
        }
    }

    fn from_byte(b: u8) -> Result<Self, StoreError> {
        match b {
            1 => Ok(Role::Member),
            2 => Ok(Role::Observer),
            other => Err(StoreError::Corrupt(format!("unknown role {other}"))),
        }
    }
}

/// One group's stored record: a snapshot and the deltas written after it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGroup {
    /// The role the engine plays.
    pub role: Role,
    /// The epoch after the last delta (or of the snapshot, when there is none).
    pub epoch: u64,
    /// The whole state at the last compaction.
    pub snapshot: Vec<u8>,
    /// The deltas written since, oldest first.
    pub deltas: Vec<Vec<u8>>,
}

impl StoredGroup {
    /// Total size of the deltas.
    pub fn delta_bytes(&self) -> usize {
        self.deltas.iter().map(Vec::len).sum()
    }
}

/// What a transition writes of the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// The whole state: replaces the snapshot and drops the deltas.
    Snapshot(&'a [u8]),
    /// What changed since the previous record: appended to the deltas.
    Delta(&'a [u8]),
}

impl Record<'_> {
    fn len(&self) -> usize {
        match self {
            Record::Snapshot(b) | Record::Delta(b) => b.len(),
        }
    }
}

/// One atomic write: a group's new state record and the outputs of the items that
/// produced it.
#[derive(Debug)]
pub struct Transition<'a> {
    /// The group.
    pub group_id: &'a [u8],
    /// The role.
    pub role: Role,
    /// The epoch after the transition (equal to or one more than the stored epoch).
    pub epoch: u64,
    /// The state: a snapshot or a delta.
    pub record: Record<'a>,
    /// `(item id, encoded output)` of each item acknowledged by this transition.
    pub outputs: &'a [(u64, &'a [u8])],
}

/// Bytes and records a store was handed, by kind (for measuring what a commit writes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Committed transitions.
    pub transitions: u64,
    /// Snapshots written (first writes and compactions).
    pub snapshots: u64,
    /// Deltas written.
    pub deltas: u64,
    /// Bytes of state written: snapshots and deltas.
    pub state_bytes: u64,
    /// Bytes of snapshots alone.
    pub snapshot_bytes: u64,
    /// Bytes of acknowledged outputs.
    pub output_bytes: u64,
}

impl WriteStats {
    fn add(&mut self, t: &Transition<'_>) {
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        self.transitions += 1;
        self.state_bytes += n(t.record.len());
        match t.record {
            Record::Snapshot(b) => {
                self.snapshots += 1;
                self.snapshot_bytes += n(b.len());
            }
            Record::Delta(_) => self.deltas += 1,
        }
        self.output_bytes += t.outputs.iter().map(|(_, o)| n(o.len())).sum::<u64>();
    }
}

/// Store failures.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend failed (I/O, lock, transaction).
    #[error("storage backend: {0}")]
    Backend(String),
    /// A record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A transition would move a group back in epochs.
    #[error("epoch regression for group: stored {stored}, new {new}")]
    EpochRegression {
        /// The stored epoch.
        stored: u64,
        /// The refused epoch.
        new: u64,
    },
    /// A delta for a group without a stored snapshot of that role.
    #[error("delta without a snapshot to apply it to")]
    MissingSnapshot,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Checks a transition against the stored `(role, epoch)`.
fn check(stored: Option<(Role, u64)>, t: &Transition<'_>) -> Result<(), StoreError> {
    if let Some((_, epoch)) = stored {
        if t.epoch < epoch {
            return Err(StoreError::EpochRegression {
                stored: epoch,
                new: t.epoch,
            });
        }
    }
    if matches!(t.record, Record::Delta(_)) && stored.map(|(r, _)| r) != Some(t.role) {
        return Err(StoreError::MissingSnapshot);
    }
    Ok(())
}

/// Durable storage of group states and acknowledged outputs. See the module documentation.
pub trait Store: Send + Sync {
    /// The stored record of `group_id`, if any.
    fn load(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, StoreError>;
    /// Every stored group id.
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Writes one transition atomically (state record and outputs together, or nothing).
    fn commit_transition(&self, t: &Transition<'_>) -> Result<(), StoreError>;
    /// The acknowledged output of item `item_id` of `group_id`, if any.
    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// What the committed transitions wrote since the store was opened.
    fn stats(&self) -> WriteStats;
}

/// In-memory [`Store`] for tests: the same contract, no durability.
#[derive(Debug, Default)]
pub struct MemStore {
    inner: Mutex<MemInner>,
}

#[derive(Debug, Default)]
struct MemInner {
    groups: HashMap<Vec<u8>, StoredGroup>,
    outputs: BTreeMap<(Vec<u8>, u64), Vec<u8>>,
    stats: WriteStats,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemInner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("poisoned lock".into()))
    }
}

impl Store for MemStore {
    fn load(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, StoreError> {
        Ok(self.lock()?.groups.get(group_id).cloned())
    }

    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.lock()?.groups.keys().cloned().collect())
    }

    fn commit_transition(&self, t: &Transition<'_>) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let stored = inner.groups.get(t.group_id).map(|g| (g.role, g.epoch));
        check(stored, t)?;
        match (t.record, inner.groups.get_mut(t.group_id)) {
            (Record::Delta(d), Some(g)) => {
                g.epoch = t.epoch;
                g.deltas.push(d.to_vec());
            }
            (Record::Delta(_), None) => return Err(StoreError::MissingSnapshot),
            (Record::Snapshot(s), _) => {
                inner.groups.insert(
                    t.group_id.to_vec(),
                    StoredGroup {
                        role: t.role,
                        epoch: t.epoch,
                        snapshot: s.to_vec(),
                        deltas: Vec::new(),
                    },
                );
            }
        }
        for (id, out) in t.outputs {
            inner
                .outputs
                .insert((t.group_id.to_vec(), *id), out.to_vec());
        }
        inner.stats.add(t);
        Ok(())
    }

    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()?
            .outputs
            .get(&(group_id.to_vec(), item_id))
            .cloned())
    }

    fn stats(&self) -> WriteStats {
        self.lock().map(|i| i.stats).unwrap_or_default()
    }
}

/// Per group: role, epoch, and the range of its delta sequence numbers.
const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("group_meta");
/// Per group: the snapshot.
const SNAPSHOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("group_snapshots");
/// Per group and sequence number: the deltas written after the snapshot.
const DELTAS: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("group_deltas");
const OUTPUTS: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("outputs");

/// A group's META row: `role (1) | epoch (8) | first delta seq (8) | next delta seq (8)`,
/// big-endian; the deltas are the sequence numbers `first..next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    role: Role,
    epoch: u64,
    first: u64,
    next: u64,
}

impl Meta {
    const LEN: usize = 25;

    fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = self.role.to_byte();
        out[1..9].copy_from_slice(&self.epoch.to_be_bytes());
        out[9..17].copy_from_slice(&self.first.to_be_bytes());
        out[17..25].copy_from_slice(&self.next.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = || StoreError::Corrupt("group meta record".into());
        let b: &[u8; Self::LEN] = bytes.try_into().map_err(|_| bad())?;
        let (role, rest) = b.split_first().ok_or_else(bad)?;
        let (epoch, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let (first, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let next = rest.first_chunk::<8>().ok_or_else(bad)?;
        let meta = Self {
            role: Role::from_byte(*role)?,
            epoch: u64::from_be_bytes(*epoch),
            first: u64::from_be_bytes(*first),
            next: u64::from_be_bytes(*next),
        };
        if meta.first > meta.next {
            return Err(bad());
        }
        Ok(meta)
    }
}

/// The embedded, crash-safe [`Store`]: one `redb` file. Each transition is one redb write
/// transaction committed with [`Durability::Immediate`] (fsynced before it returns), so an
/// acknowledged output survives a crash and a half-written transition is never visible.
///
/// Tables: `group_meta` (role, epoch, delta range: 25 bytes, rewritten per transition),
/// `group_snapshots` (written only at compaction), `group_deltas` keyed by `(group id,
/// sequence number)` (one row appended per transition, all removed at compaction) and
/// `outputs`.
#[derive(Debug)]
pub struct RedbStore {
    db: Arc<Database>,
    stats: Mutex<WriteStats>,
}

impl RedbStore {
    /// Opens (or creates) the store at `path`, recovering it after a crash if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(META).map_err(backend)?;
            txn.open_table(SNAPSHOTS).map_err(backend)?;
            txn.open_table(DELTAS).map_err(backend)?;
            txn.open_table(OUTPUTS).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self {
            db: Arc::new(db),
            stats: Mutex::new(WriteStats::default()),
        })
    }

    /// The underlying database (the KeyPackage store can share it).
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }
}

impl Store for RedbStore {
    fn load(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        let Some(m) = meta.get(group_id).map_err(backend)? else {
            return Ok(None);
        };
        let m = Meta::decode(m.value())?;
        let snapshot = txn
            .open_table(SNAPSHOTS)
            .map_err(backend)?
            .get(group_id)
            .map_err(backend)?
            .ok_or_else(|| StoreError::Corrupt("group without snapshot".into()))?
            .value()
            .to_vec();
        let deltas_table = txn.open_table(DELTAS).map_err(backend)?;
        let mut deltas = Vec::new();
        for (expected, entry) in (m.first..).zip(
            deltas_table
                .range((group_id, m.first)..(group_id, m.next))
                .map_err(backend)?,
        ) {
            let (k, v) = entry.map_err(backend)?;
            if k.value().1 != expected {
                return Err(StoreError::Corrupt("missing delta".into()));
            }
            deltas.push(v.value().to_vec());
        }
        if u64::try_from(deltas.len()).ok() != m.next.checked_sub(m.first) {
            return Err(StoreError::Corrupt("missing delta".into()));
        }
        Ok(Some(StoredGroup {
            role: m.role,
            epoch: m.epoch,
            snapshot,
            deltas,
        }))
    }

    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(META).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(backend)? {
            let (k, _) = entry.map_err(backend)?;
            out.push(k.value().to_vec());
        }
        Ok(out)
    }

    fn commit_transition(&self, t: &Transition<'_>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate);
        {
            let mut meta = txn.open_table(META).map_err(backend)?;
            let stored = match meta.get(t.group_id).map_err(backend)? {
                Some(v) => Some(Meta::decode(v.value())?),
                None => None,
            };
            // On error, dropping the transaction aborts it.
            check(stored.map(|m| (m.role, m.epoch)), t)?;
            let mut deltas = txn.open_table(DELTAS).map_err(backend)?;
            let new = match (t.record, stored) {
                (Record::Delta(d), Some(m)) => {
                    deltas.insert((t.group_id, m.next), d).map_err(backend)?;
                    Meta {
                        role: t.role,
                        epoch: t.epoch,
                        first: m.first,
                        next: m.next.checked_add(1).ok_or_else(|| {
                            StoreError::Corrupt("delta sequence exhausted".into())
                        })?,
                    }
                }
                (Record::Delta(_), None) => return Err(StoreError::MissingSnapshot),
                (Record::Snapshot(s), stored) => {
                    // Compaction: the snapshot replaces the deltas (each removed once).
                    let next = stored.map_or(0, |m| m.next);
                    if let Some(m) = stored {
                        for seq in m.first..m.next {
                            deltas.remove((t.group_id, seq)).map_err(backend)?;
                        }
                    }
                    txn.open_table(SNAPSHOTS)
                        .map_err(backend)?
                        .insert(t.group_id, s)
                        .map_err(backend)?;
                    Meta {
                        role: t.role,
                        epoch: t.epoch,
                        first: next,
                        next,
                    }
                }
            };
            meta.insert(t.group_id, new.encode().as_slice())
                .map_err(backend)?;
            let mut outputs = txn.open_table(OUTPUTS).map_err(backend)?;
            for (id, out) in t.outputs {
                outputs.insert((t.group_id, *id), *out).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)?;
        if let Ok(mut s) = self.stats.lock() {
            s.add(t);
        }
        Ok(())
    }

    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OUTPUTS).map_err(backend)?;
        Ok(table
            .get((group_id, item_id))
            .map_err(backend)?
            .map(|v| v.value().to_vec()))
    }

    fn stats(&self) -> WriteStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn roundtrip(store: &dyn Store) {
        let outs: [(u64, &[u8]); 2] = [(1, b"a"), (2, b"b")];
        let delta = Transition {
            group_id: b"g",
            role: Role::Member,
            epoch: 3,
            record: Record::Delta(b"d0"),
            outputs: &outs,
        };
        // No snapshot yet: a delta is refused and nothing is written.
        assert_eq!(
            store.commit_transition(&delta).unwrap_err(),
            StoreError::MissingSnapshot
        );
        assert_eq!(store.output(b"g", 1).unwrap(), None);
        let snap = Transition {
            record: Record::Snapshot(b"state"),
            epoch: 2,
            outputs: &[],
            ..delta
        };
        store.commit_transition(&snap).unwrap();
        store.commit_transition(&delta).unwrap();
        store
            .commit_transition(&Transition {
                record: Record::Delta(b"d1"),
                outputs: &[],
                ..delta
            })
            .unwrap();
        let g = store.load(b"g").unwrap().unwrap();
        assert_eq!(
            (g.role, g.epoch, g.snapshot.as_slice()),
            (Role::Member, 3, &b"state"[..])
        );
        assert_eq!(g.deltas, vec![b"d0".to_vec(), b"d1".to_vec()]);
        assert_eq!(store.output(b"g", 2).unwrap().unwrap(), b"b");
        assert_eq!(store.group_ids().unwrap(), vec![b"g".to_vec()]);
        // An observer delta onto a member snapshot is refused.
        assert_eq!(
            store
                .commit_transition(&Transition {
                    role: Role::Observer,
                    ..delta
                })
                .unwrap_err(),
            StoreError::MissingSnapshot
        );
        let back = Transition { epoch: 2, ..delta };
        assert_eq!(
            store.commit_transition(&back).unwrap_err(),
            StoreError::EpochRegression { stored: 3, new: 2 }
        );
        // Compaction: a snapshot drops the deltas; later deltas follow it.
        store
            .commit_transition(&Transition {
                record: Record::Snapshot(b"state2"),
                epoch: 4,
                outputs: &[],
                ..delta
            })
            .unwrap();
        store
            .commit_transition(&Transition {
                record: Record::Delta(b"d2"),
                epoch: 5,
                outputs: &[],
                ..delta
            })
            .unwrap();
        let g = store.load(b"g").unwrap().unwrap();
        assert_eq!(
            (g.epoch, g.snapshot.as_slice(), g.deltas.clone()),
            (5, &b"state2"[..], vec![b"d2".to_vec()])
        );
        let s = store.stats();
        assert_eq!((s.transitions, s.snapshots, s.deltas), (5, 2, 3));
        assert_eq!(s.state_bytes, 5 + 2 + 2 + 6 + 2);
        assert_eq!((s.snapshot_bytes, s.output_bytes), (11, 2));
    }

    #[test]
    fn mem_and_redb_roundtrip() {
        roundtrip(&MemStore::new());
        let dir = std::env::temp_dir().join(format!("mls-batch-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        roundtrip(&RedbStore::open(&dir).unwrap());
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn meta_record_refuses_garbage() {
        let m = Meta {
            role: Role::Observer,
            epoch: 7,
            first: 2,
            next: 9,
        };
        assert_eq!(Meta::decode(&m.encode()).unwrap(), m);
        for len in 0..Meta::LEN {
            assert!(matches!(
                Meta::decode(&m.encode()[..len]),
                Err(StoreError::Corrupt(_))
            ));
        }
        let mut bad = m.encode();
        bad[0] = 9;
        assert!(Meta::decode(&bad).is_err());
        let swapped = Meta {
            first: 9,
            next: 2,
            ..m
        };
        assert!(Meta::decode(&swapped.encode()).is_err());
    }
}
