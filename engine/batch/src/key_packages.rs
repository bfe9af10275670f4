//! KeyPackages waiting to be consumed (RFC 9420 §10, §16.8): [`KeyPackageStore`], with an
//! in-memory [`MemKeyPackages`] and the durable [`RedbKeyPackages`].
//!
//! Invariants:
//! - An ordinary KeyPackage is handed out by [`KeyPackageStore::consume`] at most once, even
//!   with many concurrent consumers: the lookup and the deletion are one critical section (a
//!   mutex, or one redb write transaction: redb serialises writers).
//! - A last-resort KeyPackage is handed out every time it is asked for and never deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redb::{Database, Durability, ReadableTable, TableDefinition};

use crate::store::StoreError;

/// A store of KeyPackages by reference (`MakeKeyPackageRef`). See the module documentation.
pub trait KeyPackageStore: Send + Sync {
    /// Stores `key_package` (encoded) under `kp_ref`; `last_resort` ones are never consumed.
    fn insert(
        &self,
        kp_ref: &[u8],
        key_package: &[u8],
        last_resort: bool,
    ) -> Result<(), StoreError>;
    /// Hands out the KeyPackage `kp_ref`: removed unless last-resort; `None` if absent or
    /// already consumed.
    fn consume(&self, kp_ref: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A stored KeyPackage and its last-resort flag.
type Entry = (Vec<u8>, bool);

/// In-memory [`KeyPackageStore`].
#[derive(Debug, Default)]
pub struct MemKeyPackages {
    inner: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl MemKeyPackages {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyPackageStore for MemKeyPackages {
    fn insert(
        &self,
        kp_ref: &[u8],
        key_package: &[u8],
        last_resort: bool,
    ) -> Result<(), StoreError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| StoreError::Backend("poisoned lock".into()))?;
        m.insert(kp_ref.to_vec(), (key_package.to_vec(), last_resort));
        Ok(())
    }

    fn consume(&self, kp_ref: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| StoreError::Backend("poisoned lock".into()))?;
        match m.get(kp_ref) {
            Some((kp, true)) => Ok(Some(kp.clone())),
            Some(_) => Ok(m.remove(kp_ref).map(|(kp, _)| kp)),
            None => Ok(None),
        }
    }
}

/// KeyPackages in a redb table: `ref -> (last_resort flag, KeyPackage)`.
const KEY_PACKAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("key_packages");

/// Durable [`KeyPackageStore`] in a redb database (shareable with a
/// [`crate::store::RedbStore`] through [`RedbKeyPackages::new`]).
#[derive(Debug, Clone)]
pub struct RedbKeyPackages {
    db: Arc<Database>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RedbKeyPackages {
    /// KeyPackages kept in `db` (the table is created if missing).
    pub fn new(db: Arc<Database>) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(KEY_PACKAGES).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(Self { db })
    }
}

impl KeyPackageStore for RedbKeyPackages {
    fn insert(
        &self,
        kp_ref: &[u8],
        key_package: &[u8],
        last_resort: bool,
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate);
        {
            let mut t = txn.open_table(KEY_PACKAGES).map_err(backend)?;
            let mut v = Vec::with_capacity(1 + key_package.len());
            v.push(u8::from(last_resort));
            v.extend_from_slice(key_package);
            t.insert(kp_ref, v.as_slice()).map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }

    fn consume(&self, kp_ref: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // One write transaction: redb admits one writer at a time, so the read and the
        // removal cannot interleave with another consumer's.
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate);
        let out = {
            let mut t = txn.open_table(KEY_PACKAGES).map_err(backend)?;
            let found = t.get(kp_ref).map_err(backend)?.map(|v| v.value().to_vec());
            match found.as_deref().and_then(<[u8]>::split_first) {
                None => None,
                Some((&1, kp)) => Some(kp.to_vec()),
                Some((_, kp)) => {
                    let kp = kp.to_vec();
                    t.remove(kp_ref).map_err(backend)?;
                    Some(kp)
                }
            }
        };
        txn.commit().map_err(backend)?;
        Ok(out)
    }
}
