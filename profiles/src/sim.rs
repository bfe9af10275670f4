//! The load simulation: runs a [`Profile`] with every member a real MLS client.
//!
//! Each member has its own signature key and KeyPackage bundle. The processing members (all,
//! or [`Profile::processing_members`] per group: the creator plus members drawn from the seed,
//! plus everyone added during the run) also hold their own [`Group`], joined from the Welcome,
//! and process every commit, proposal and application message of their group. The others keep
//! their keys and are leaves of the tree that never act.
//!
//! The run is deterministic in its seed: a seeded PRNG (SplitMix64) picks group sizes, the
//! processing sample, the event sequence (a Poisson process over the profile's rates), the
//! committers, the members added, removed or updated and the message senders. Crypto
//! randomness comes from the OS, so two runs do the same operations, not the same bytes:
//! [`Report::sequence_digest`] hashes the operation sequence.
//!
//! Everything is checked: after each commit every processing member's epoch authenticator
//! must equal the committer's, every joiner's too, and every decrypted application message
//! must equal what was sent. Any difference is a [`SimError::Disagreement`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mls_engine::crypto::{AwsLcProvider, CipherSuiteProvider, CryptoProvider, Secret};
use mls_engine::group::{
    generate_key_package, CommitOptions, Group, GroupConfig, JoinOptions, KeyPackageBundle,
    KeyPackageOptions, ProcessedMessage,
};
use mls_engine::messages::{Add, Credential, MlsMessage, Proposal, Remove, WelcomeMessage};
use mls_engine::tree_math::LeafIndex;
use rayon::prelude::*;
use serde::Serialize;

use crate::{Committer, Members, Profile};

/// The time every group's lifetime checks use (the core reads no clock; fixed for determinism).
const NOW: u64 = 1_700_000_000;

/// One kind of measured operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `generate_key_package` for a new member (signature key included).
    KeyPackage,
    /// `Group::create` by a group's creator.
    Create,
    /// `Group::join` from a Welcome.
    Join,
    /// The creator's commit adding the initial members.
    CommitPopulate,
    /// A commit adding one member.
    CommitAdd,
    /// A commit removing one member.
    CommitRemove,
    /// A member's self-update: an empty commit with a path.
    CommitUpdatePath,
    /// A commit of a pending Update proposal (by reference).
    CommitUpdateProposal,
    /// An Update proposal.
    ProposeUpdate,
    /// One member processing and merging a commit.
    ProcessCommit,
    /// One member processing a proposal.
    ProcessProposal,
    /// Encrypting an application message.
    Protect,
    /// One member decrypting an application message.
    Unprotect,
}

impl Op {
    /// Every kind, in report order.
    pub const ALL: [Op; 13] = [
        Op::KeyPackage,
        Op::Create,
        Op::Join,
        Op::CommitPopulate,
        Op::CommitAdd,
        Op::CommitRemove,
        Op::CommitUpdatePath,
        Op::CommitUpdateProposal,
        Op::ProposeUpdate,
        Op::ProcessCommit,
        Op::ProcessProposal,
        Op::Protect,
        Op::Unprotect,
    ];

    /// The name used in reports, CSV and charts.
    pub fn name(self) -> &'static str {
        match self {
            Op::KeyPackage => "key_package",
            Op::Create => "create",
            Op::Join => "join",
            Op::CommitPopulate => "commit_populate",
            Op::CommitAdd => "commit_add",
            Op::CommitRemove => "commit_remove",
            Op::CommitUpdatePath => "commit_update_path",
            Op::CommitUpdateProposal => "commit_update_proposal",
            Op::ProposeUpdate => "propose_update",
            Op::ProcessCommit => "process_commit",
            Op::ProcessProposal => "process_proposal",
            Op::Protect => "protect",
            Op::Unprotect => "unprotect",
        }
    }

    fn index(self) -> usize {
        Op::ALL.iter().position(|&o| o == self).unwrap_or(0)
    }
}

/// One measured operation, for the CSV and the chart.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When it started, in milliseconds since the run started.
    pub offset_ms: f64,
    /// What it was.
    pub op: Op,
    /// How long it took, in microseconds.
    pub latency_us: f64,
}

/// Latency and throughput of one operation kind.
#[derive(Clone, Debug, Serialize)]
pub struct OpStats {
    /// The operation's name ([`Op::name`]).
    pub op: String,
    /// How many were done.
    pub count: u64,
    /// `count` over the run's wall time.
    pub per_second: f64,
    /// Mean latency (µs).
    pub mean_us: f64,
    /// Median latency (µs).
    pub p50_us: f64,
    /// 90th percentile (µs).
    pub p90_us: f64,
    /// 99th percentile (µs).
    pub p99_us: f64,
    /// Largest latency (µs).
    pub max_us: f64,
}

/// Bytes on the wire of one message kind (TLS-encoded `MLSMessage` or KeyPackage).
#[derive(Clone, Debug, Default, Serialize)]
pub struct WireStats {
    /// The message kind.
    pub kind: String,
    /// How many were sent.
    pub count: u64,
    /// Their total size.
    pub total_bytes: u64,
    /// Mean size.
    pub mean_bytes: f64,
    /// Largest size.
    pub max_bytes: u64,
}

/// How many scheduled events of each kind ran.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Events {
    /// Members added.
    pub adds: u64,
    /// Members removed.
    pub removes: u64,
    /// Leaf updates.
    pub updates: u64,
    /// Application messages sent.
    pub messages: u64,
    /// Events skipped because the group could not do them (say, a remove from a group of
    /// two).
    pub skipped: u64,
}

/// What a run measured. Serialised as `loadgen --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The profile's name.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The cipher suite.
    pub cipher_suite: u16,
    /// Groups created.
    pub groups: u32,
    /// Members at creation, all groups.
    pub members_initial: u64,
    /// Members at the end, all groups.
    pub members_final: u64,
    /// The profile's setting: `"all"` or `"N per group"`.
    pub processing_members: String,
    /// Processing members at the end, all groups (each with its own `Group`).
    pub processing_members_final: u64,
    /// Who decrypts application messages.
    pub application_decrypted_by: String,
    /// Scheduled events done (commits plus messages; the initial population not counted).
    pub operations: u64,
    /// The events by kind.
    pub events: Events,
    /// Simulated minutes covered by the events done.
    pub simulated_minutes: f64,
    /// Wall time of the whole run (seconds).
    pub wall_seconds: f64,
    /// True if the run was stopped (Ctrl-C) before its end.
    pub interrupted: bool,
    /// Agreement checks passed (epoch authenticators and decrypted data).
    pub agreement_checks: u64,
    /// Checks failed (always 0 in a report: a failure ends the run with an error).
    pub disagreements: u64,
    /// FNV-1a hash of the operation sequence (hex): equal seeds give equal digests.
    pub sequence_digest: String,
    /// Latency per operation kind (kinds never done are listed with count 0).
    pub ops: Vec<OpStats>,
    /// Bytes on the wire per message kind.
    pub wire: Vec<WireStats>,
    /// Peak resident set size (VmHWM from /proc/self/status), if readable.
    pub peak_rss_bytes: Option<u64>,
}

impl Report {
    /// The stats of `op`.
    pub fn op(&self, op: Op) -> Option<&OpStats> {
        self.ops.iter().find(|s| s.op == op.name())
    }
}

/// A run and its per-operation samples (empty unless asked for).
#[derive(Debug)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// One sample per operation, in the order recorded, if [`Options::record_samples`].
    pub samples: Vec<Sample>,
}

/// Why a run failed.
#[derive(Debug)]
pub enum SimError {
    /// The cipher suite is not available.
    Suite(String),
    /// The engine refused an operation.
    Engine {
        /// The operation.
        op: &'static str,
        /// The engine's error.
        detail: String,
    },
    /// Two members disagree, or a message decrypted to the wrong data.
    Disagreement(String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Suite(e) => write!(f, "cipher suite unavailable: {e}"),
            SimError::Engine { op, detail } => write!(f, "{op} failed: {detail}"),
            SimError::Disagreement(what) => write!(f, "members disagree: {what}"),
        }
    }
}

impl std::error::Error for SimError {}

fn engine<E: fmt::Display>(op: &'static str) -> impl Fn(E) -> SimError {
    move |e| SimError::Engine {
        op,
        detail: e.to_string(),
    }
}

/// Receives progress of the long phases (a progress bar, or nothing).
pub trait Observer {
    /// A phase starts, with `total` steps.
    fn phase(&mut self, _name: &str, _total: u64) {}
    /// `n` more steps are done.
    fn advance(&mut self, _n: u64) {}
    /// The phase is over.
    fn end_phase(&mut self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Run options besides the profile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep one [`Sample`] per operation (for CSV and charts).
    pub record_samples: bool,
}

/// SplitMix64: a small seeded PRNG with a fixed, documented output sequence.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        let wide = (u128::from(self.next()) * n as u128) >> 64;
        usize::try_from(wide).unwrap_or(0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a over the operation sequence.
#[derive(Clone, Debug)]
struct Digest(u64);

impl Digest {
    fn mix(&mut self, words: &[u64]) {
        for w in words {
            for b in w.to_le_bytes() {
                self.0 ^= u64::from(b);
                self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
            }
        }
    }
}

/// One member: its own keys, and its own group state if it processes.
struct Client {
    id: u64,
    leaf: LeafIndex,
    /// The member's keys (a dormant member only keeps them; a remove checks that the leaf
    /// removed carries this member's signature key).
    bundle: KeyPackageBundle,
    group: Option<Group>,
}

struct SimGroup {
    index: u32,
    clients: Vec<Client>,
    next_id: u64,
}

impl SimGroup {
    fn processing(&self) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&i| self.clients[i].group.is_some())
            .collect()
    }
}

struct Recorder {
    start: Instant,
    hist: Vec<Histogram<u64>>,
    samples: Option<Vec<Sample>>,
    wire: BTreeMap<&'static str, WireStats>,
    checks: u64,
}

impl Recorder {
    fn new(record_samples: bool) -> Result<Self, SimError> {
        let hist = Op::ALL
            .iter()
            .map(|_| Histogram::new_with_bounds(1, 3_600_000_000_000, 3))
            .collect::<Result<Vec<_>, _>>()
            .map_err(engine("histogram"))?;
        Ok(Self {
            start: Instant::now(),
            hist,
            samples: record_samples.then(Vec::new),
            wire: BTreeMap::new(),
            checks: 0,
        })
    }

    fn record(&mut self, op: Op, began: Instant, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.hist[op.index()].saturating_record(ns);
        if let Some(s) = &mut self.samples {
            s.push(Sample {
                offset_ms: began.saturating_duration_since(self.start).as_secs_f64() * 1e3,
                op,
                latency_us: took.as_secs_f64() * 1e6,
            });
        }
    }

    fn wire_bytes(&mut self, kind: &'static str, bytes: usize) {
        let w = self.wire.entry(kind).or_default();
        let b = bytes as u64;
        w.count += 1;
        w.total_bytes += b;
        w.max_bytes = w.max_bytes.max(b);
    }

    fn wire_msg(&mut self, kind: &'static str, msg: &MlsMessage) -> Result<(), SimError> {
        let len = mls_engine::codec::encode(msg)
            .map_err(engine("encode"))?
            .len();
        self.wire_bytes(kind, len);
        Ok(())
    }

    fn stats(&self, wall: f64) -> (Vec<OpStats>, Vec<WireStats>) {
        let us = |ns: u64| ns as f64 / 1e3;
        let ops = Op::ALL
            .iter()
            .map(|&op| {
                let h = &self.hist[op.index()];
                OpStats {
                    op: op.name().into(),
                    count: h.len(),
                    per_second: if wall > 0.0 {
                        h.len() as f64 / wall
                    } else {
                        0.0
                    },
                    mean_us: h.mean() / 1e3,
                    p50_us: us(h.value_at_quantile(0.5)),
                    p90_us: us(h.value_at_quantile(0.9)),
                    p99_us: us(h.value_at_quantile(0.99)),
                    max_us: us(h.max()),
                }
            })
            .collect();
        let wire = self
            .wire
            .iter()
            .map(|(k, w)| WireStats {
                kind: (*k).into(),
                mean_bytes: if w.count > 0 {
                    w.total_bytes as f64 / w.count as f64
                } else {
                    0.0
                },
                ..w.clone()
            })
            .collect();
        (ops, wire)
    }
}

/// Peak resident set size of this process (VmHWM), in bytes, where /proc is readable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn config() -> GroupConfig {
    GroupConfig::default().at_time(NOW)
}

fn new_bundle(
    cs: &dyn CipherSuiteProvider,
    group: u32,
    id: u64,
) -> Result<(KeyPackageBundle, Instant, Duration), SimError> {
    let began = Instant::now();
    let (sk, _) = cs
        .signature_generate()
        .map_err(engine("signature keygen"))?;
    let bundle = generate_key_package(
        cs,
        Credential::basic(format!("g{group}-m{id}")),
        sk,
        KeyPackageOptions::new(0, u64::MAX),
    )
    .map_err(engine("generate_key_package"))?;
    Ok((bundle, began, began.elapsed()))
}

/// The simulation state.
struct Sim<'a> {
    cs: &'a dyn CipherSuiteProvider,
    profile: &'a Profile,
    rng: Rng,
    digest: Digest,
    rec: Recorder,
    groups: Vec<SimGroup>,
    events: Events,
    payload_counter: u64,
}

impl Sim<'_> {
    /// Processing members other than `skip` process `msg`, a commit, and merge it; each must
    /// reach `expect` (or be removed by it).
    fn fan_out_commit(
        &mut self,
        g: usize,
        skip: usize,
        msg: &MlsMessage,
        expect: &Secret,
        epoch: u64,
    ) -> Result<(), SimError> {
        let cs = self.cs;
        let results: Vec<(Instant, Duration)> = self.groups[g]
            .clients
            .par_iter_mut()
            .enumerate()
            .filter(|(i, c)| *i != skip && c.group.is_some())
            .map(|(_, c)| {
                let Some(group) = c.group.as_mut() else {
                    return Err(SimError::Disagreement("member without state".into()));
                };
                // Each member gets its own copy, as if decoded from the wire (not timed).
                let own = msg.clone();
                let began = Instant::now();
                let staged = match group
                    .process_message(cs, own)
                    .map_err(engine("process commit"))?
                {
                    ProcessedMessage::Commit(s) => s,
                    _ => {
                        return Err(SimError::Disagreement(format!(
                            "member {} did not see a commit",
                            c.id
                        )))
                    }
                };
                let removed = staged.removes_self();
                group
                    .merge_staged_commit(*staged)
                    .map_err(engine("merge commit"))?;
                let took = began.elapsed();
                if !removed && (group.epoch() != epoch || group.epoch_authenticator() != expect) {
                    return Err(SimError::Disagreement(format!(
                        "member {} (leaf {}) has a different epoch authenticator at epoch {}",
                        c.id,
                        c.leaf.0,
                        group.epoch()
                    )));
                }
                Ok((began, took))
            })
            .collect::<Result<_, _>>()?;
        self.rec.checks += results.len() as u64;
        for (began, took) in results {
            self.rec.record(Op::ProcessCommit, began, took);
        }
        Ok(())
    }

    /// Member `from` of group `g` commits `options`; everyone processes; all merge and agree.
    /// Returns the committer's leaves added and the Welcome.
    fn commit(
        &mut self,
        g: usize,
        from: usize,
        op: Op,
        options: CommitOptions,
    ) -> Result<(Vec<LeafIndex>, Option<WelcomeMessage>), SimError> {
        let cs = self.cs;
        let committer = self.groups[g].clients[from]
            .group
            .as_mut()
            .ok_or_else(|| SimError::Disagreement("committer without state".into()))?;
        let began = Instant::now();
        let out = committer.commit(cs, options).map_err(engine("commit"))?;
        let took = began.elapsed();
        self.rec.record(op, began, took);
        let expect = out
            .staged
            .epoch_authenticator()
            .cloned()
            .ok_or_else(|| SimError::Disagreement("committer removed itself".into()))?;
        let epoch = out.staged.new_epoch();
        let added = out.staged.added.clone();
        self.rec.wire_msg(op.name(), &out.commit)?;
        if let Some(w) = &out.welcome {
            self.rec.wire_bytes("welcome", w.as_bytes().len());
        }
        self.fan_out_commit(g, from, &out.commit, &expect, epoch)?;
        let committer = self.groups[g].clients[from]
            .group
            .as_mut()
            .ok_or_else(|| SimError::Disagreement("committer without state".into()))?;
        committer
            .merge_staged_commit(out.staged)
            .map_err(engine("merge own commit"))?;
        if committer.epoch_authenticator() != &expect {
            return Err(SimError::Disagreement(
                "committer's merged epoch differs from its staged one".into(),
            ));
        }
        Ok((added, out.welcome))
    }

    /// Joins `bundles` from `welcome` in parallel; each must agree with `expect`.
    fn join_all(
        &mut self,
        welcome: &WelcomeMessage,
        joiners: Vec<(u64, LeafIndex, KeyPackageBundle)>,
        expect: &Secret,
        stop: &AtomicBool,
    ) -> Result<Vec<Client>, SimError> {
        let cs = self.cs;
        let results: Vec<(Client, Instant, Duration)> = joiners
            .into_par_iter()
            .map(|(id, leaf, bundle)| {
                if stop.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let began = Instant::now();
                let options = JoinOptions {
                    config: config(),
                    ..JoinOptions::default()
                };
                let group = Group::join(cs, welcome, &bundle, options).map_err(engine("join"))?;
                let took = began.elapsed();
                if group.epoch_authenticator() != expect || group.own_leaf() != leaf {
                    return Err(SimError::Disagreement(format!(
                        "joiner {id} disagrees with the committer"
                    )));
                }
                Ok(Some((
                    Client {
                        id,
                        leaf,
                        bundle,
                        group: Some(group),
                    },
                    began,
                    took,
                )))
            })
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        self.rec.checks += results.len() as u64;
        Ok(results
            .into_iter()
            .map(|(c, began, took)| {
                self.rec.record(Op::Join, began, took);
                c
            })
            .collect())
    }

    fn expect_of(&self, g: usize, member: usize) -> Result<Secret, SimError> {
        self.groups[g].clients[member]
            .group
            .as_ref()
            .map(|x| x.epoch_authenticator().clone())
            .ok_or_else(|| SimError::Disagreement("member without state".into()))
    }

    /// Creates group `index`: the creator creates, adds everyone in one commit, and the
    /// processing members join.
    fn populate(&mut self, index: u32, stop: &AtomicBool) -> Result<(), SimError> {
        let cs = self.cs;
        let size = match self.profile.groups.members {
            Members::Fixed { value } => value,
            Members::Uniform { min, max } => {
                let span = usize::try_from(max - min + 1).unwrap_or(1);
                min + u32::try_from(self.rng.below(span)).unwrap_or(0)
            }
        };
        let processing = self.profile.processing_members.of(size);
        self.digest
            .mix(&[u64::from(index), u64::from(size), u64::from(processing)]);
        // Which members process: the creator (0) and a seeded sample of the others.
        let mut others: Vec<u64> = (1..u64::from(size)).collect();
        let want = usize::try_from(processing.saturating_sub(1)).unwrap_or(0);
        for i in 0..want.min(others.len()) {
            let j = i + self.rng.below(others.len() - i);
            others.swap(i, j);
        }
        let mut active = vec![false; others.len() + 1];
        active[0] = true;
        for &id in &others[..want.min(others.len())] {
            active[usize::try_from(id).unwrap_or(0)] = true;
        }

        let bundles: Vec<(KeyPackageBundle, Instant, Duration)> = (0..u64::from(size))
            .into_par_iter()
            .map(|id| new_bundle(cs, index, id))
            .collect::<Result<_, _>>()?;
        let mut bundles: Vec<KeyPackageBundle> = bundles
            .into_iter()
            .map(|(b, began, took)| {
                self.rec.record(Op::KeyPackage, began, took);
                self.rec.wire_bytes(
                    "key_package",
                    mls_engine::codec::encode(&b.key_package).map_or(0, |v| v.len()),
                );
                b
            })
            .collect();
        if stop.load(Ordering::Relaxed) {
            // Stopped while generating keys: the group is not created.
            return Ok(());
        }

        let creator_bundle = bundles.remove(0);
        let began = Instant::now();
        let group = Group::create(
            cs,
            &creator_bundle,
            format!("loadgen-{}-{index}", self.profile.seed).into_bytes(),
            vec![],
            config(),
        )
        .map_err(engine("create"))?;
        self.rec.record(Op::Create, began, began.elapsed());
        self.groups.push(SimGroup {
            index,
            clients: vec![Client {
                id: 0,
                leaf: group.own_leaf(),
                bundle: creator_bundle,
                group: Some(group),
            }],
            next_id: u64::from(size),
        });
        let g = self.groups.len() - 1;
        if bundles.is_empty() {
            return Ok(());
        }
        let options = CommitOptions {
            proposals: bundles
                .iter()
                .map(|b| {
                    Proposal::Add(Add {
                        key_package: b.key_package.clone(),
                    })
                })
                .collect(),
            force_path: self.profile.commit.with_path,
            ..CommitOptions::default()
        };
        let (added, welcome) = self.commit(g, 0, Op::CommitPopulate, options)?;
        let welcome = welcome.ok_or_else(|| SimError::Engine {
            op: "commit",
            detail: "no Welcome for added members".into(),
        })?;
        if added.len() != bundles.len() {
            return Err(SimError::Disagreement(
                "the commit added a different number of members".into(),
            ));
        }
        let expect = self.expect_of(g, 0)?;
        let mut joiners = Vec::new();
        let mut dormant = Vec::new();
        for ((i, bundle), leaf) in bundles.into_iter().enumerate().zip(added) {
            let id = i as u64 + 1;
            if active[i + 1] {
                joiners.push((id, leaf, bundle));
            } else {
                dormant.push(Client {
                    id,
                    leaf,
                    bundle,
                    group: None,
                });
            }
        }
        let joined = self.join_all(&welcome, joiners, &expect, stop)?;
        let clients = &mut self.groups[g].clients;
        clients.extend(joined);
        clients.extend(dormant);
        clients.sort_by_key(|c| c.id);
        Ok(())
    }

    /// The committer for group `g` by the commit policy, or `None` if nobody can commit.
    fn committer(&mut self, g: usize) -> Option<usize> {
        let processing = self.groups[g].processing();
        match self.profile.commit.committer {
            Committer::Creator => processing
                .iter()
                .copied()
                .find(|&i| self.groups[g].clients[i].id == 0)
                .or_else(|| processing.first().copied()),
            Committer::RandomMember => {
                if processing.is_empty() {
                    None
                } else {
                    Some(processing[self.rng.below(processing.len())])
                }
            }
        }
    }

    fn add(&mut self, g: usize, stop: &AtomicBool) -> Result<bool, SimError> {
        let Some(from) = self.committer(g) else {
            return Ok(false);
        };
        let cs = self.cs;
        let group_index = self.groups[g].index;
        let id = self.groups[g].next_id;
        self.groups[g].next_id += 1;
        let (bundle, began, took) = new_bundle(cs, group_index, id)?;
        self.rec.record(Op::KeyPackage, began, took);
        self.rec.wire_bytes(
            "key_package",
            mls_engine::codec::encode(&bundle.key_package).map_or(0, |v| v.len()),
        );
        self.digest.mix(&[
            1,
            u64::from(group_index),
            self.groups[g].clients[from].id,
            id,
        ]);
        let options = CommitOptions {
            proposals: vec![Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            })],
            force_path: self.profile.commit.with_path,
            ..CommitOptions::default()
        };
        let (added, welcome) = self.commit(g, from, Op::CommitAdd, options)?;
        let (Some(&leaf), Some(welcome)) = (added.first(), welcome) else {
            return Err(SimError::Disagreement("the add commit added nobody".into()));
        };
        let expect = self.expect_of(g, from)?;
        let joined = self.join_all(&welcome, vec![(id, leaf, bundle)], &expect, stop)?;
        self.groups[g].clients.extend(joined);
        Ok(true)
    }

    fn remove(&mut self, g: usize) -> Result<bool, SimError> {
        let Some(from) = self.committer(g) else {
            return Ok(false);
        };
        let n = self.groups[g].clients.len();
        if n <= 2 {
            return Ok(false);
        }
        let processing = self.groups[g].processing().len();
        // Keep at least two processing members: then only dormant members may go.
        let candidates: Vec<usize> = (0..n)
            .filter(|&i| i != from && (processing > 2 || self.groups[g].clients[i].group.is_none()))
            .collect();
        if candidates.is_empty() {
            return Ok(false);
        }
        let victim = candidates[self.rng.below(candidates.len())];
        let leaf = self.groups[g].clients[victim].leaf;
        let theirs = &self.groups[g].clients[victim].bundle.key_package.leaf_node;
        let in_tree = self.groups[g].clients[from]
            .group
            .as_ref()
            .and_then(|x| x.member(leaf));
        if in_tree.map(|l| l.signature_key()) != Some(theirs.signature_key()) {
            return Err(SimError::Disagreement(format!(
                "leaf {} is not member {}'s",
                leaf.0, self.groups[g].clients[victim].id
            )));
        }
        self.digest.mix(&[
            2,
            u64::from(self.groups[g].index),
            self.groups[g].clients[from].id,
            self.groups[g].clients[victim].id,
        ]);
        let options = CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: leaf.0 })],
            force_path: self.profile.commit.with_path,
            ..CommitOptions::default()
        };
        self.commit(g, from, Op::CommitRemove, options)?;
        let gone = self.groups[g].clients.remove(victim);
        if gone.group.as_ref().is_some_and(Group::is_active) {
            return Err(SimError::Disagreement(format!(
                "removed member {} still thinks it is in the group",
                gone.id
            )));
        }
        Ok(true)
    }

    fn update(&mut self, g: usize) -> Result<bool, SimError> {
        let cs = self.cs;
        if self.profile.commit.with_path {
            // A self-update: the updating member commits with a path.
            let processing = self.groups[g].processing();
            if processing.is_empty() {
                return Ok(false);
            }
            let who = processing[self.rng.below(processing.len())];
            self.digest.mix(&[
                3,
                u64::from(self.groups[g].index),
                self.groups[g].clients[who].id,
            ]);
            let options = CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            };
            self.commit(g, who, Op::CommitUpdatePath, options)?;
            return Ok(true);
        }
        // An Update proposal, processed by everyone, committed by the committer.
        let Some(from) = self.committer(g) else {
            return Ok(false);
        };
        let processing: Vec<usize> = self.groups[g]
            .processing()
            .into_iter()
            .filter(|&i| i != from)
            .collect();
        if processing.is_empty() {
            return Ok(false);
        }
        let who = processing[self.rng.below(processing.len())];
        self.digest.mix(&[
            4,
            u64::from(self.groups[g].index),
            self.groups[g].clients[who].id,
            self.groups[g].clients[from].id,
        ]);
        let updater = self.groups[g].clients[who]
            .group
            .as_mut()
            .ok_or_else(|| SimError::Disagreement("updater without state".into()))?;
        let began = Instant::now();
        let (msg, _) = updater
            .propose_update(cs)
            .map_err(engine("propose update"))?;
        self.rec.record(Op::ProposeUpdate, began, began.elapsed());
        self.rec.wire_msg("proposal_update", &msg)?;
        let results: Vec<(Instant, Duration)> = self.groups[g]
            .clients
            .par_iter_mut()
            .enumerate()
            .filter(|(i, c)| *i != who && c.group.is_some())
            .filter_map(|(_, c)| c.group.as_mut())
            .map(|group| {
                // Each member gets its own copy, as if decoded from the wire (not timed).
                let own = msg.clone();
                let began = Instant::now();
                match group
                    .process_message(cs, own)
                    .map_err(engine("process proposal"))?
                {
                    ProcessedMessage::Proposal(_) => Ok((began, began.elapsed())),
                    _ => Err(SimError::Disagreement(
                        "a proposal processed as something else".into(),
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        for (began, took) in results {
            self.rec.record(Op::ProcessProposal, began, took);
        }
        let options = CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        };
        self.commit(g, from, Op::CommitUpdateProposal, options)?;
        Ok(true)
    }

    fn message(&mut self, g: usize) -> Result<bool, SimError> {
        let cs = self.cs;
        let processing = self.groups[g].processing();
        if processing.is_empty() {
            return Ok(false);
        }
        let who = processing[self.rng.below(processing.len())];
        self.payload_counter += 1;
        let counter = self.payload_counter;
        self.digest.mix(&[
            5,
            u64::from(self.groups[g].index),
            self.groups[g].clients[who].id,
        ]);
        let size = usize::try_from(self.profile.messages.size).unwrap_or(0);
        let mut data: Vec<u8> = counter
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect();
        if data.len() < 8 {
            data = counter.to_le_bytes()[..data.len()].to_vec();
        }
        let sender = self.groups[g].clients[who]
            .group
            .as_mut()
            .ok_or_else(|| SimError::Disagreement("sender without state".into()))?;
        let began = Instant::now();
        let msg = sender
            .encrypt_application(cs, &data, b"")
            .map_err(engine("encrypt application"))?;
        self.rec.record(Op::Protect, began, began.elapsed());
        self.rec.wire_msg("application", &msg)?;
        let data = &data;
        let results: Vec<(Instant, Duration)> = self.groups[g]
            .clients
            .par_iter_mut()
            .enumerate()
            .filter(|(i, c)| *i != who && c.group.is_some())
            .filter_map(|(_, c)| c.group.as_mut().map(|x| (c.id, x)))
            .map(|(id, group)| {
                // Each member gets its own copy, as if decoded from the wire (not timed).
                let own = msg.clone();
                let began = Instant::now();
                let got = group
                    .process_message(cs, own)
                    .map_err(engine("decrypt application"))?;
                let took = began.elapsed();
                match got {
                    ProcessedMessage::Application { data: d, .. } if &d == data => {
                        Ok((began, took))
                    }
                    _ => Err(SimError::Disagreement(format!(
                        "member {id} decrypted other data than was sent"
                    ))),
                }
            })
            .collect::<Result<_, _>>()?;
        self.rec.checks += results.len() as u64;
        for (began, took) in results {
            self.rec.record(Op::Unprotect, began, took);
        }
        Ok(true)
    }
}

/// Runs `profile`. `stop` is checked between operations: once set, the run ends early with a
/// partial report (`interrupted`). A failed check or a refused operation is an error.
pub fn run(
    profile: &Profile,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
    options: &Options,
) -> Result<Outcome, SimError> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(profile.cipher_suite())
        .map_err(|e| SimError::Suite(e.to_string()))?;
    let mut sim = Sim {
        cs,
        profile,
        rng: Rng(profile.seed),
        digest: Digest(0xCBF2_9CE4_8422_2325),
        rec: Recorder::new(options.record_samples)?,
        groups: Vec::new(),
        events: Events::default(),
        payload_counter: 0,
    };
    let mut interrupted = false;

    observer.phase("create groups", u64::from(profile.groups.count));
    for index in 0..profile.groups.count {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        sim.populate(index, stop)?;
        observer.advance(1);
    }
    observer.end_phase();
    let members_initial: u64 = sim.groups.iter().map(|g| g.clients.len() as u64).sum();

    let churn = &profile.churn;
    let weights = [
        churn.adds_per_minute,
        churn.removes_per_minute,
        churn.updates_per_minute,
        profile.messages.per_minute,
    ];
    let per_group: f64 = weights.iter().sum();
    let total_rate = per_group * f64::from(profile.groups.count);
    let mut minutes = 0.0;
    let mut done = 0u64;
    let expected = match (profile.length.operations, profile.length.minutes) {
        (Some(n), _) => n,
        // A progress-bar estimate only: saturating float-to-int is what we want.
        #[allow(clippy::cast_possible_truncation)]
        (None, Some(m)) => (m * total_rate).ceil() as u64,
        (None, None) => 0,
    };
    observer.phase("operations", expected);
    while !interrupted && total_rate > 0.0 && !sim.groups.is_empty() {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if profile.length.operations.is_some_and(|n| done >= n) {
            break;
        }
        let dt = -(1.0 - sim.rng.unit()).ln() / total_rate;
        if profile.length.minutes.is_some_and(|m| minutes + dt > m) {
            break;
        }
        minutes += dt;
        let g = sim.rng.below(sim.groups.len());
        let mut pick = sim.rng.unit() * per_group;
        let mut kind = 3;
        for (k, w) in weights.iter().enumerate() {
            if pick < *w {
                kind = k;
                break;
            }
            pick -= w;
        }
        let did = match kind {
            0 => sim.add(g, stop)?,
            1 => sim.remove(g)?,
            2 => sim.update(g)?,
            _ => sim.message(g)?,
        };
        let counter = match (did, kind) {
            (false, _) => &mut sim.events.skipped,
            (true, 0) => &mut sim.events.adds,
            (true, 1) => &mut sim.events.removes,
            (true, 2) => &mut sim.events.updates,
            (true, _) => &mut sim.events.messages,
        };
        *counter += 1;
        if !did {
            sim.digest.mix(&[9, kind as u64]);
        }
        done += 1;
        observer.advance(1);
    }
    observer.end_phase();

    let wall = sim.rec.start.elapsed().as_secs_f64();
    let (ops, wire) = sim.rec.stats(wall);
    let decrypted_by = match &profile.processing_members {
        crate::ProcessingMembers::Word(_) => "every other member".to_string(),
        crate::ProcessingMembers::Count(n) => format!(
            "the other processing members (a seeded sample of {n} per group plus members added during the run)"
        ),
    };
    let report = Report {
        profile: profile.name.clone(),
        seed: profile.seed,
        cipher_suite: profile.cipher_suite,
        groups: u32::try_from(sim.groups.len()).unwrap_or(u32::MAX),
        members_initial,
        members_final: sim.groups.iter().map(|g| g.clients.len() as u64).sum(),
        processing_members: profile.processing_members.describe(),
        processing_members_final: sim.groups.iter().map(|g| g.processing().len() as u64).sum(),
        application_decrypted_by: decrypted_by,
        operations: done,
        events: sim.events.clone(),
        simulated_minutes: minutes,
        wall_seconds: wall,
        interrupted,
        agreement_checks: sim.rec.checks,
        disagreements: 0,
        sequence_digest: format!("{:016x}", sim.digest.0),
        ops,
        wire,
        peak_rss_bytes: peak_rss_bytes(),
    };
    Ok(Outcome {
        report,
        samples: sim.rec.samples.take().unwrap_or_default(),
    })
}
