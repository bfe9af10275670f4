//! mls-batch: many MLS groups per process, processed in batches.
//!
//! This crate keeps storage and threading out of the I/O-free `mls-engine` core. It owns:
//! - [`engine::BatchEngine`]: batches of [`api::WorkItem`]s across many groups, one result
//!   per item, groups in parallel on a rayon pool, a decode → process → persist pipeline
//!   over bounded crossbeam channels, per-batch bumpalo arenas for scratch;
//! - two roles per group: member (wraps `mls_engine::group::Group`, holds secrets) and
//!   [`observer::Observer`] (a delivery service's public view, no secrets);
//! - [`store::Store`]: atomic epoch transitions, with the crash-safe [`store::RedbStore`]
//!   and the in-memory [`store::MemStore`];
//! - [`key_packages::KeyPackageStore`]: consume-once KeyPackages (last resort excepted);
//! - [`counting::CountingProvider`]: a crypto provider wrapper counting the expensive
//!   operations, for measuring what a commit costs;
//! - [`fixture`]: deterministic group set-ups shared by tests, benchmarks and the crash child.

pub mod api;
pub mod counting;
pub mod engine;
pub mod fixture;
pub mod key_packages;
pub mod observer;
pub mod store;

pub use api::{BatchError, CommitRequest, ItemResult, Op, Output, WorkItem};
pub use engine::{BatchEngine, EngineConfig};
pub use observer::{Observer, ObserverError};
pub use store::{MemStore, RedbStore, Role, Store, StoreError};
