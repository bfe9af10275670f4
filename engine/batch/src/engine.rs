//! [`BatchEngine`]: many groups, one batch at a time, through a three-stage pipeline.
//!
//! ```text
//!  items ──► [1 decode + route] ──jobs──► [2 per-group processing, rayon] ──transitions──► [3 writer]
//!              (one thread,            (bounded)   (one task per group,     (bounded)     (one thread,
//!               bump arena)                         items in batch order)                 bump arena)
//!                     │ decode errors                     │ item errors                        │ acks
//!                     └───────────────────────────────────┴──────────────► collector ◄─────────┘
//! ```
//!
//! - Stage 1 groups the items by group id (the grouping index and the id keys live in a
//!   per-batch `bumpalo` arena) and decodes each item's messages; a job per group is sent on
//!   as soon as it is decoded, so stage 2 starts while stage 1 still decodes.
//! - Stage 2 runs one task per group on the engine's rayon pool; a group's items are applied
//!   in the order given. Each epoch transition (and, at the end of the group's items, any
//!   other state change such as a cached proposal or a consumed application key) is handed
//!   to stage 3 as a state record plus the outputs it acknowledges: a delta (what changed,
//!   `Group::take_delta` / `Observer::take_delta`, O(changed)) while the stored deltas stay
//!   smaller than the stored snapshot, else a new snapshot (compaction, O(N) once per
//!   snapshot-size worth of deltas).
//! - Stage 3 encodes the outputs into its per-batch arena and writes each transition in one
//!   store transaction; only then are the items' results released (and `on_ack` called).
//! - The collector assembles the results in a third per-batch arena (the item ids and one
//!   slot per item); only the `Vec<ItemResult>` handed back to the caller is a heap vector.
//!
//! Invariants:
//! - Every item gets exactly one result; failures are per item, groups are independent.
//! - A group's in-memory state may run ahead of the store only within a batch; if a write
//!   fails, the group's later items in the batch fail with [`BatchError::GroupUnavailable`]
//!   and the group is dropped from memory, to be reloaded from the store on next use.
//! - One batch at a time per engine (`run_batch` takes `&mut self`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use mls_engine::codec::{decode_exact, encode};
use mls_engine::crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_engine::group::{CommitOptions, Group, ProcessedMessage};
use mls_engine::messages::{
    Add, GroupInfo, KeyPackage, MlsMessage, MlsMessageBody, Proposal, Remove, WelcomeMessage,
};
use zeroize::Zeroizing;

use crate::api::{BatchError, CommitRequest, ItemResult, Op, Output, WorkItem};
use crate::observer::Observer;
use crate::store::{Record, Role, Store, StoredGroup, Transition};

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// The cipher suite of the engine's groups.
    pub suite: CipherSuite,
    /// Worker threads of the stage-2 rayon pool.
    pub threads: usize,
    /// Capacity of each bounded channel between stages.
    pub channel_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            suite: CipherSuite(1),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            channel_capacity: 64,
        }
    }
}

/// One group as the engine holds it.
#[derive(Debug)]
enum Slot {
    Member(Box<Group>),
    Observer(Box<Observer>),
}

impl Slot {
    fn role(&self) -> Role {
        match self {
            Slot::Member(_) => Role::Member,
            Slot::Observer(_) => Role::Observer,
        }
    }

    fn epoch(&self) -> u64 {
        match self {
            Slot::Member(g) => g.epoch(),
            Slot::Observer(o) => o.epoch(),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>, BatchError> {
        match self {
            Slot::Member(g) => Ok(g.to_bytes()?),
            Slot::Observer(o) => Ok(o.to_bytes()?),
        }
    }

    fn track_changes(&mut self) {
        match self {
            Slot::Member(g) => g.track_changes(),
            Slot::Observer(o) => o.track_changes(),
        }
    }

    fn take_delta(&mut self) -> Result<Option<Vec<u8>>, BatchError> {
        match self {
            Slot::Member(g) => Ok(g.take_delta()?),
            Slot::Observer(o) => Ok(o.take_delta()?),
        }
    }

    fn load(cs: &dyn CipherSuiteProvider, stored: &StoredGroup) -> Result<Self, BatchError> {
        let (snapshot, deltas) = (&stored.snapshot, &stored.deltas);
        Ok(match stored.role {
            Role::Member => Slot::Member(Box::new(Group::from_bytes_and_deltas(
                cs, snapshot, deltas,
            )?)),
            Role::Observer => Slot::Observer(Box::new(Observer::from_bytes_and_deltas(
                cs, snapshot, deltas,
            )?)),
        })
    }
}

/// A group in memory with the size of its stored record, to decide between a delta and a
/// compaction.
#[derive(Debug)]
struct Held {
    slot: Slot,
    /// Size of the stored snapshot.
    snapshot_len: usize,
    /// Total size of the deltas stored after it.
    delta_len: usize,
}

/// What stage 2 hands the writer for a group's state. A member's bytes hold its secrets:
/// wiped when dropped.
enum StateRecord {
    Snapshot(Zeroizing<Vec<u8>>),
    Delta(Zeroizing<Vec<u8>>),
}

impl Held {
    /// A group whose state was just stored whole (`snapshot_len` bytes).
    fn snapshotted(mut slot: Slot, snapshot_len: usize) -> Self {
        slot.track_changes();
        Self {
            slot,
            snapshot_len,
            delta_len: 0,
        }
    }

    /// The record of the state changed since the last one: a delta while the deltas stay
    /// smaller than the snapshot, else a new snapshot (compaction). O(changed) bytes for a
    /// delta; a snapshot's O(N) is paid once per snapshot-size worth of deltas.
    fn record(&mut self) -> Result<StateRecord, BatchError> {
        // A failed delta falls back to a snapshot (tracking restarts with it).
        if let Ok(Some(d)) = self.slot.take_delta() {
            let d = Zeroizing::new(d);
            if self.delta_len.saturating_add(d.len()) < self.snapshot_len {
                self.delta_len += d.len();
                return Ok(StateRecord::Delta(d));
            }
        }
        let s = Zeroizing::new(self.slot.to_bytes()?);
        self.slot.track_changes();
        self.snapshot_len = s.len();
        self.delta_len = 0;
        Ok(StateRecord::Snapshot(s))
    }
}

/// An item after stage 1.
#[derive(Debug)]
enum Decoded {
    Message(Box<MlsMessage>),
    Commit {
        add: Vec<KeyPackage>,
        remove: Vec<u32>,
        update: bool,
        include_pending: bool,
    },
    Protect {
        data: Vec<u8>,
        authenticated_data: Vec<u8>,
    },
    GroupInfo(Box<GroupInfo>),
}

fn decode_message(bytes: &[u8]) -> Result<MlsMessage, BatchError> {
    decode_exact::<MlsMessage>(bytes).map_err(|e| BatchError::Decode(e.to_string()))
}

fn decode_op(op: Op) -> Result<Decoded, BatchError> {
    Ok(match op {
        Op::Process(bytes) => Decoded::Message(Box::new(decode_message(&bytes)?)),
        Op::Commit(CommitRequest {
            add,
            remove,
            update,
            include_pending,
        }) => {
            let add = add
                .iter()
                .map(|b| match decode_message(b)?.body {
                    MlsMessageBody::KeyPackage(kp) => Ok(kp),
                    _ => Err(BatchError::Decode("not a KeyPackage message".into())),
                })
                .collect::<Result<_, _>>()?;
            Decoded::Commit {
                add,
                remove,
                update,
                include_pending,
            }
        }
        Op::Protect {
            data,
            authenticated_data,
        } => Decoded::Protect {
            data,
            authenticated_data,
        },
        Op::PublishGroupInfo(bytes) => match decode_message(&bytes)?.body {
            MlsMessageBody::GroupInfo(gi) => Decoded::GroupInfo(Box::new(gi)),
            _ => return Err(BatchError::Decode("not a GroupInfo message".into())),
        },
    })
}

fn encode_msg(m: &MlsMessage) -> Result<Vec<u8>, BatchError> {
    encode(m).map_err(|e| BatchError::Decode(e.to_string()))
}

fn apply_member(
    g: &mut Group,
    cs: &dyn CipherSuiteProvider,
    op: Decoded,
) -> Result<Output, BatchError> {
    match op {
        Decoded::Message(m) => match g.process_message(cs, *m)? {
            ProcessedMessage::Proposal(_) => Ok(Output::ProposalCached),
            ProcessedMessage::Commit(staged) => {
                g.merge_staged_commit(*staged)?;
                Ok(Output::CommitApplied { epoch: g.epoch() })
            }
            ProcessedMessage::Application {
                sender,
                epoch,
                data,
                ..
            } => Ok(Output::Application {
                sender: sender.0,
                epoch,
                data,
            }),
            _ => Err(BatchError::WrongRole("unsupported processed message")),
        },
        Decoded::Commit {
            add,
            remove,
            update,
            include_pending,
        } => {
            let mut proposals: Vec<Proposal> = add
                .into_iter()
                .map(|key_package| Proposal::Add(Add { key_package }))
                .collect();
            proposals.extend(
                remove
                    .into_iter()
                    .map(|removed| Proposal::Remove(Remove { removed })),
            );
            let out = g.commit(
                cs,
                CommitOptions {
                    proposals,
                    include_pending,
                    force_path: update,
                    ..CommitOptions::default()
                },
            )?;
            let commit = encode_msg(&out.commit)?;
            let welcome = out.welcome.map(WelcomeMessage::into_bytes);
            g.merge_staged_commit(out.staged)?;
            Ok(Output::Committed {
                epoch: g.epoch(),
                commit,
                welcome,
            })
        }
        Decoded::Protect {
            data,
            authenticated_data,
        } => Ok(Output::Protected(encode_msg(&g.encrypt_application(
            cs,
            &data,
            &authenticated_data,
        )?)?)),
        Decoded::GroupInfo(_) => Err(BatchError::WrongRole("PublishGroupInfo is for observers")),
    }
}

fn apply_observer(
    o: &mut Observer,
    cs: &dyn CipherSuiteProvider,
    op: Decoded,
) -> Result<Output, BatchError> {
    match op {
        Decoded::Message(m) => Ok(match o.process(cs, &m)? {
            crate::observer::ObserverOutcome::Proposal { .. } => Output::ProposalCached,
            crate::observer::ObserverOutcome::Commit { epoch } => Output::CommitApplied { epoch },
        }),
        Decoded::GroupInfo(gi) => {
            o.publish_group_info(cs, *gi)?;
            Ok(Output::GroupInfoAccepted)
        }
        Decoded::Commit { .. } => Err(BatchError::WrongRole("an observer cannot commit")),
        Decoded::Protect { .. } => Err(BatchError::WrongRole(
            "an observer holds no keys to protect data",
        )),
    }
}

/// All of one group's items of a batch, decoded, in batch order: `(position, id, op)`.
struct GroupJob {
    group_id: Vec<u8>,
    items: Vec<(usize, u64, Decoded)>,
}

/// One transition for stage 3.
struct Persist {
    group_id: Vec<u8>,
    role: Role,
    epoch: u64,
    state: StateRecord,
    items: Vec<(usize, u64, Output)>,
}

type ResultTx = Sender<(usize, Result<Output, BatchError>)>;

/// Many groups in one process; see the module documentation.
pub struct BatchEngine<S: Store> {
    provider: Box<dyn CryptoProvider>,
    config: EngineConfig,
    store: S,
    groups: RwLock<HashMap<Vec<u8>, Arc<Mutex<Held>>>>,
    pool: rayon::ThreadPool,
}

impl<S: Store> std::fmt::Debug for BatchEngine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Store> BatchEngine<S> {
    /// An engine over `store`, with `provider`'s implementation of `config.suite`.
    pub fn new(
        provider: Box<dyn CryptoProvider>,
        store: S,
        config: EngineConfig,
    ) -> Result<Self, BatchError> {
        provider
            .suite(config.suite)
            .map_err(|e| BatchError::Setup(e.to_string()))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads.max(1))
            .thread_name(|i| format!("mls-batch-{i}"))
            .build()
            .map_err(|e| BatchError::Setup(e.to_string()))?;
        Ok(Self {
            provider,
            config,
            store,
            groups: RwLock::new(HashMap::new()),
            pool,
        })
    }

    /// The cipher suite implementation every group of the engine uses.
    pub fn cs(&self) -> Result<&dyn CipherSuiteProvider, BatchError> {
        self.provider
            .suite(self.config.suite)
            .map_err(|e| BatchError::Setup(e.to_string()))
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn insert(&self, group_id: Vec<u8>, slot: Slot) -> Result<(), BatchError> {
        let state = Zeroizing::new(slot.to_bytes()?);
        self.store.commit_transition(&Transition {
            group_id: &group_id,
            role: slot.role(),
            epoch: slot.epoch(),
            record: Record::Snapshot(&state),
            outputs: &[],
        })?;
        let held = Held::snapshotted(slot, state.len());
        self.groups
            .write()
            .map_err(|_| BatchError::Setup("poisoned lock".into()))?
            .insert(group_id, Arc::new(Mutex::new(held)));
        Ok(())
    }

    /// Adds a group the engine is a member of (stores its state first).
    pub fn add_member(&self, group: Group) -> Result<(), BatchError> {
        self.insert(group.group_id().to_vec(), Slot::Member(Box::new(group)))
    }

    /// Adds a group the engine observes (stores its state first).
    pub fn add_observer(&self, observer: Observer) -> Result<(), BatchError> {
        self.insert(
            observer.group_id().to_vec(),
            Slot::Observer(Box::new(observer)),
        )
    }

    /// Drops a group's in-memory state (it is reloaded from the store on next use).
    pub fn evict(&self, group_id: &[u8]) {
        if let Ok(mut g) = self.groups.write() {
            g.remove(group_id);
        }
    }

    /// Drops every group's in-memory state.
    pub fn evict_all(&self) {
        if let Ok(mut g) = self.groups.write() {
            g.clear();
        }
    }

    /// The group's slot, loaded from the store if not in memory.
    fn slot(&self, group_id: &[u8]) -> Result<Arc<Mutex<Held>>, BatchError> {
        let poisoned = || BatchError::Setup("poisoned lock".into());
        if let Some(s) = self.groups.read().map_err(|_| poisoned())?.get(group_id) {
            return Ok(s.clone());
        }
        let stored = self.store.load(group_id)?.ok_or(BatchError::UnknownGroup)?;
        let mut held = Held::snapshotted(Slot::load(self.cs()?, &stored)?, stored.snapshot.len());
        held.delta_len = stored.delta_bytes();
        let slot = Arc::new(Mutex::new(held));
        let mut groups = self.groups.write().map_err(|_| poisoned())?;
        Ok(groups.entry(group_id.to_vec()).or_insert(slot).clone())
    }

    /// Runs `f` on a member group (loading it if needed).
    pub fn with_member<R>(
        &self,
        group_id: &[u8],
        f: impl FnOnce(&Group) -> R,
    ) -> Result<R, BatchError> {
        let slot = self.slot(group_id)?;
        let guard = slot
            .lock()
            .map_err(|_| BatchError::Setup("poisoned lock".into()))?;
        match &guard.slot {
            Slot::Member(g) => Ok(f(g)),
            Slot::Observer(_) => Err(BatchError::WrongRole("not a member group")),
        }
    }

    /// Runs `f` on an observed group (loading it if needed).
    pub fn with_observer<R>(
        &self,
        group_id: &[u8],
        f: impl FnOnce(&Observer) -> R,
    ) -> Result<R, BatchError> {
        let slot = self.slot(group_id)?;
        let guard = slot
            .lock()
            .map_err(|_| BatchError::Setup("poisoned lock".into()))?;
        match &guard.slot {
            Slot::Observer(o) => Ok(f(o)),
            Slot::Member(_) => Err(BatchError::WrongRole("not an observed group")),
        }
    }

    /// The current epoch of a group.
    pub fn epoch(&self, group_id: &[u8]) -> Result<u64, BatchError> {
        let slot = self.slot(group_id)?;
        let guard = slot
            .lock()
            .map_err(|_| BatchError::Setup("poisoned lock".into()))?;
        Ok(guard.slot.epoch())
    }

    /// Runs a batch; one result per item, in the items' order.
    pub fn run_batch(&mut self, items: Vec<WorkItem>) -> Vec<ItemResult> {
        self.run_batch_with_ack(items, &|_, _| {})
    }

    /// [`BatchEngine::run_batch`], calling `on_ack(group_id, result)` for each item as soon as
    /// the transaction holding its output committed (from the writer thread).
    pub fn run_batch_with_ack(
        &mut self,
        items: Vec<WorkItem>,
        on_ack: &(dyn Fn(&[u8], &ItemResult) + Sync),
    ) -> Vec<ItemResult> {
        let this = &*self;
        // Result assembly is per-batch scratch: the ids and the slots the collector fills
        // live in an arena dropped with the batch; only the returned vector is a `Vec`.
        let arena = Bump::new();
        let ids = BumpVec::from_iter_in(items.iter().map(|i| i.id), &arena);
        let n = items.len();
        let cap = this.config.channel_capacity.max(1);
        let (job_tx, job_rx) = bounded::<GroupJob>(cap);
        let (persist_tx, persist_rx) = bounded::<Persist>(cap);
        let (result_tx, result_rx) = unbounded();
        let mut results: BumpVec<Option<Result<Output, BatchError>>> =
            BumpVec::from_iter_in((0..n).map(|_| None), &arena);
        std::thread::scope(|s| {
            let rtx = result_tx.clone();
            s.spawn(move || decode_and_route(items, &job_tx, &rtx));
            let rtx = result_tx.clone();
            s.spawn(move || {
                this.pool.in_place_scope(|ps| {
                    for job in job_rx.iter() {
                        let (ptx, rtx) = (persist_tx.clone(), rtx.clone());
                        ps.spawn(move |_| this.process_group(job, &ptx, &rtx));
                    }
                });
            });
            let rtx = result_tx.clone();
            s.spawn(move || this.write(&persist_rx, &rtx, on_ack));
            drop(result_tx);
            for (i, r) in result_rx.iter() {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r);
                }
            }
        });
        let mut out = Vec::with_capacity(n);
        out.extend(
            ids.iter()
                .zip(results.iter_mut())
                .map(|(&id, r)| ItemResult {
                    id,
                    result: r.take().unwrap_or(Err(BatchError::GroupUnavailable)),
                }),
        );
        out
    }

    /// Stage 2: one group's items, in order.
    fn process_group(&self, job: GroupJob, ptx: &Sender<Persist>, rtx: &ResultTx) {
        let fail_all = |items: Vec<(usize, u64, Decoded)>, e: BatchError| {
            for (i, _, _) in items {
                let _ = rtx.send((i, Err(e.clone())));
            }
        };
        let (cs, slot) = match self.cs().and_then(|cs| Ok((cs, self.slot(&job.group_id)?))) {
            Ok(x) => x,
            Err(e) => return fail_all(job.items, e),
        };
        let Ok(mut guard) = slot.lock() else {
            return fail_all(job.items, BatchError::Setup("poisoned lock".into()));
        };
        let mut pending: Vec<(usize, u64, Output)> = Vec::new();
        let flush = |held: &mut Held, pending: &mut Vec<(usize, u64, Output)>| -> bool {
            let items = std::mem::take(pending);
            match held.record() {
                Ok(state) => {
                    let p = Persist {
                        group_id: job.group_id.clone(),
                        role: held.slot.role(),
                        epoch: held.slot.epoch(),
                        state,
                        items,
                    };
                    ptx.send(p).is_ok()
                }
                Err(e) => {
                    for (i, _, _) in items {
                        let _ = rtx.send((i, Err(e.clone())));
                    }
                    false
                }
            }
        };
        let mut items = job.items.into_iter();
        while let Some((i, id, op)) = items.next() {
            let r = match &mut guard.slot {
                Slot::Member(g) => apply_member(g, cs, op),
                Slot::Observer(o) => apply_observer(o, cs, op),
            };
            match r {
                Ok(out) => {
                    let transition = out.new_epoch().is_some();
                    pending.push((i, id, out));
                    if transition && !flush(&mut guard, &mut pending) {
                        // The state cannot be handed to the writer: drop it from memory.
                        drop(guard);
                        self.evict(&job.group_id);
                        return fail_all(items.collect(), BatchError::GroupUnavailable);
                    }
                }
                Err(e) => {
                    let _ = rtx.send((i, Err(e)));
                }
            }
        }
        if !pending.is_empty() && !flush(&mut guard, &mut pending) {
            drop(guard);
            self.evict(&job.group_id);
        }
    }

    /// Stage 3: one store transaction per transition; results released after it committed.
    fn write(
        &self,
        rx: &Receiver<Persist>,
        rtx: &ResultTx,
        on_ack: &(dyn Fn(&[u8], &ItemResult) + Sync),
    ) {
        let arena = Bump::new();
        let mut failed: HashSet<&[u8]> = HashSet::new();
        for p in rx.iter() {
            if failed.contains(p.group_id.as_slice()) {
                for (i, _, _) in p.items {
                    let _ = rtx.send((i, Err(BatchError::GroupUnavailable)));
                }
                continue;
            }
            let mut outputs = BumpVec::with_capacity_in(p.items.len(), &arena);
            for (_, id, out) in &p.items {
                let mut buf = BumpVec::new_in(&arena);
                out.encode_into(&mut buf);
                let encoded: &[u8] = buf.into_bump_slice();
                outputs.push((*id, encoded));
            }
            let t = Transition {
                group_id: &p.group_id,
                role: p.role,
                epoch: p.epoch,
                record: match &p.state {
                    StateRecord::Snapshot(s) => Record::Snapshot(s),
                    StateRecord::Delta(d) => Record::Delta(d),
                },
                outputs: &outputs,
            };
            match self.store.commit_transition(&t) {
                Ok(()) => {
                    for (i, id, out) in p.items {
                        let r = ItemResult {
                            id,
                            result: Ok(out),
                        };
                        on_ack(&p.group_id, &r);
                        let _ = rtx.send((i, r.result));
                    }
                }
                Err(e) => {
                    failed.insert(arena.alloc_slice_copy(&p.group_id));
                    self.evict(&p.group_id);
                    for (i, _, _) in p.items {
                        let _ = rtx.send((i, Err(BatchError::Store(e.clone()))));
                    }
                }
            }
        }
    }
}

/// Stage 1: groups items by group (index in a per-batch arena), decodes them and sends one
/// job per group, in order of first appearance.
fn decode_and_route(items: Vec<WorkItem>, job_tx: &Sender<GroupJob>, rtx: &ResultTx) {
    let arena = Bump::new();
    let mut group_of: HashMap<&[u8], usize> = HashMap::new();
    let mut groups: BumpVec<(&[u8], BumpVec<usize>)> = BumpVec::new_in(&arena);
    for (i, item) in items.iter().enumerate() {
        let g = match group_of.get(item.group_id.as_slice()) {
            Some(&g) => g,
            None => {
                let key: &[u8] = arena.alloc_slice_copy(&item.group_id);
                group_of.insert(key, groups.len());
                groups.push((key, BumpVec::new_in(&arena)));
                groups.len() - 1
            }
        };
        if let Some((_, list)) = groups.get_mut(g) {
            list.push(i);
        }
    }
    let mut items: Vec<Option<WorkItem>> = items.into_iter().map(Some).collect();
    for (key, list) in groups.iter() {
        let mut job = GroupJob {
            group_id: key.to_vec(),
            items: Vec::with_capacity(list.len()),
        };
        for &i in list.iter() {
            let Some(item) = items.get_mut(i).and_then(Option::take) else {
                continue;
            };
            match decode_op(item.op) {
                Ok(d) => job.items.push((i, item.id, d)),
                Err(e) => {
                    let _ = rtx.send((i, Err(e)));
                }
            }
        }
        if job_tx.send(job).is_err() {
            return;
        }
    }
}
