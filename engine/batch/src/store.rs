//! Durable group state: the [`Store`] trait, its crash-safe default [`RedbStore`] and the
//! in-memory [`MemStore`] for tests.
//!
//! A store keeps, per group, one record `(role, epoch, state bytes)` and the acknowledged
//! outputs of the batch items applied to it, keyed by `(group id, item id)`.
//!
//! Invariants:
//! - [`Store::commit_transition`] is atomic: the new state and every output of the
//!   transition are written in one transaction, or nothing is. After a crash a group is at
//!   the state of its last committed transition, never between two.
//! - A transition never moves a group's epoch backwards (typed [`StoreError::EpochRegression`]).
//! - Callers acknowledge an item only after the transaction holding its output returned.

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

/// One group's stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGroup {
    /// The role the engine plays.
    pub role: Role,
    /// The epoch of `state`.
    pub epoch: u64,
    /// The serialised state.
    pub state: Vec<u8>,
}

impl StoredGroup {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.state.len());
        out.push(self.role.to_byte());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.state);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let (&role, rest) = bytes
            .split_first()
            .ok_or_else(|| StoreError::Corrupt("empty group record".into()))?;
        let (epoch, state) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| StoreError::Corrupt("short group record".into()))?;
        Ok(Self {
            role: Role::from_byte(role)?,
            epoch: u64::from_be_bytes(*epoch),
            state: state.to_vec(),
        })
    }
}

/// One atomic write: a group's new state and the outputs of the items that produced it.
#[derive(Debug)]
pub struct Transition<'a> {
    /// The group.
    pub group_id: &'a [u8],
    /// The role and the new state.
    pub role: Role,
    /// The epoch of `state` (equal to or one more than the stored epoch).
    pub epoch: u64,
    /// The new state bytes.
    pub state: &'a [u8],
    /// `(item id, encoded output)` of each item acknowledged by this transition.
    pub outputs: &'a [(u64, &'a [u8])],
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
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Durable storage of group states and acknowledged outputs. See the module documentation.
pub trait Store: Send + Sync {
    /// The stored record of `group_id`, if any.
    fn load(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, StoreError>;
    /// Every stored group id.
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Writes one transition atomically (state and outputs together, or nothing).
    fn commit_transition(&self, t: &Transition<'_>) -> Result<(), StoreError>;
    /// The acknowledged output of item `item_id` of `group_id`, if any.
    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError>;
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
        if let Some(old) = inner.groups.get(t.group_id) {
            if t.epoch < old.epoch {
                return Err(StoreError::EpochRegression {
                    stored: old.epoch,
                    new: t.epoch,
                });
            }
        }
        inner.groups.insert(
            t.group_id.to_vec(),
            StoredGroup {
                role: t.role,
                epoch: t.epoch,
                state: t.state.to_vec(),
            },
        );
        for (id, out) in t.outputs {
            inner
                .outputs
                .insert((t.group_id.to_vec(), *id), out.to_vec());
        }
        Ok(())
    }

    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()?
            .outputs
            .get(&(group_id.to_vec(), item_id))
            .cloned())
    }
}

const GROUPS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("groups");
const OUTPUTS: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("outputs");

/// The embedded, crash-safe [`Store`]: one `redb` file. Each transition is one redb write
/// transaction committed with [`Durability::Immediate`] (fsynced before it returns), so an
/// acknowledged output survives a crash and a half-written transition is never visible.
#[derive(Debug)]
pub struct RedbStore {
    db: Arc<Database>,
}

impl RedbStore {
    /// Opens (or creates) the store at `path`, recovering it after a crash if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        {
            txn.open_table(GROUPS).map_err(backend)?;
            txn.open_table(OUTPUTS).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The underlying database (the KeyPackage store can share it).
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }
}

impl Store for RedbStore {
    fn load(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(GROUPS).map_err(backend)?;
        match table.get(group_id).map_err(backend)? {
            Some(v) => Ok(Some(StoredGroup::decode(v.value())?)),
            None => Ok(None),
        }
    }

    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(GROUPS).map_err(backend)?;
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
            let mut groups = txn.open_table(GROUPS).map_err(backend)?;
            let stored = match groups.get(t.group_id).map_err(backend)? {
                Some(v) => Some(StoredGroup::decode(v.value())?.epoch),
                None => None,
            };
            if let Some(stored) = stored {
                if t.epoch < stored {
                    // Dropping the transaction aborts it.
                    return Err(StoreError::EpochRegression {
                        stored,
                        new: t.epoch,
                    });
                }
            }
            let record = StoredGroup {
                role: t.role,
                epoch: t.epoch,
                state: t.state.to_vec(),
            };
            groups
                .insert(t.group_id, record.encode().as_slice())
                .map_err(backend)?;
            let mut outputs = txn.open_table(OUTPUTS).map_err(backend)?;
            for (id, out) in t.outputs {
                outputs.insert((t.group_id, *id), *out).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)
    }

    fn output(&self, group_id: &[u8], item_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OUTPUTS).map_err(backend)?;
        Ok(table
            .get((group_id, item_id))
            .map_err(backend)?
            .map(|v| v.value().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn roundtrip(store: &dyn Store) {
        let outs: [(u64, &[u8]); 2] = [(1, b"a"), (2, b"b")];
        let t = Transition {
            group_id: b"g",
            role: Role::Member,
            epoch: 3,
            state: b"state",
            outputs: &outs,
        };
        store.commit_transition(&t).unwrap();
        let g = store.load(b"g").unwrap().unwrap();
        assert_eq!(
            (g.role, g.epoch, g.state.as_slice()),
            (Role::Member, 3, &b"state"[..])
        );
        assert_eq!(store.output(b"g", 2).unwrap().unwrap(), b"b");
        assert_eq!(store.group_ids().unwrap(), vec![b"g".to_vec()]);
        let back = Transition { epoch: 2, ..t };
        assert_eq!(
            store.commit_transition(&back).unwrap_err(),
            StoreError::EpochRegression { stored: 3, new: 2 }
        );
        assert_eq!(store.load(b"g").unwrap().unwrap().epoch, 3);
    }

    #[test]
    fn mem_and_redb_roundtrip() {
        roundtrip(&MemStore::new());
        let dir = std::env::temp_dir().join(format!("mls-batch-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        roundtrip(&RedbStore::open(&dir).unwrap());
        let _ = std::fs::remove_file(&dir);
    }
}
