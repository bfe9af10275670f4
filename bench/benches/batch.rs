//! Batch engine throughput (`mls-batch`), suite 1 (X25519 / Ed25519 / SHA-256):
//!
//! - commits processed per second across 1,000 groups of 100 members and across 100 groups
//!   of 1,000 members, as a member (holds secrets: verifies, decrypts its path secret,
//!   re-keys) and as an observer (public state only: verifies, merges the path, tracks the
//!   GroupContext), with the stage-2 rayon pool at 1 thread and at 2 threads;
//! - beside each, the cryptography one commit costs (signature verifications and HPKE opens,
//!   counted by `CountingProvider` in the same run) times commits per second divided by the
//!   pool's threads: the crypto operations per second per core the engine sustained.
//!
//! One iteration = one batch holding one (path) commit per group, each group at epoch 1;
//! the engine is rebuilt from the same states between iterations (untimed). The store is
//! `MemStore`, so persistence costs the state record (a per-epoch delta: `Group::take_delta`
//! / `Observer::take_delta`; the engine's first write per group is its snapshot) and a
//! copy, not an fsync. The summary prints the state bytes the store was handed per commit. Setup (KeyPackages reused across groups, group creation, one Welcome join
//! and one path commit per group) runs once on all cores and takes tens of seconds.
//! The summary lines are printed at the end (stderr).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use mls_batch::counting::{Counters, CountingProvider, Counts};
use mls_batch::fixture::{self, bundle, group_pair, observer_of, path_commit};
use mls_batch::{BatchEngine, EngineConfig, MemStore, Observer, Op, Output, Store, WorkItem};
use mls_engine::crypto::CipherSuiteProvider;
use mls_engine::group::{Group, KeyPackageBundle};
use rayon::prelude::*;

/// Groups × members, as the brief sets them.
const SHAPES: [(usize, usize); 2] = [(1_000, 100), (100, 1_000)];

struct Scenario {
    groups: usize,
    members: usize,
    member_states: Vec<Group>,
    observers: Vec<Observer>,
    /// `(group id, commit)`: one path commit per group, epoch 1 -> 2.
    commits: Vec<(Vec<u8>, Vec<u8>)>,
}

fn scenario(
    cs: &dyn CipherSuiteProvider,
    creator: &KeyPackageBundle,
    pool: &[KeyPackageBundle],
    groups: usize,
    members: usize,
) -> Scenario {
    let built: Vec<(Group, Observer, Vec<u8>, Vec<u8>)> = (0..groups)
        .into_par_iter()
        .map(|i| {
            let gid = format!("bench-{members}-{i}").into_bytes();
            let (mut a, b) = group_pair(cs, &gid, creator, pool, members).expect("group");
            let obs = observer_of(cs, &a).expect("observer");
            let commit = path_commit(cs, &mut a).expect("commit");
            (b, obs, gid, commit)
        })
        .collect();
    let mut s = Scenario {
        groups,
        members,
        member_states: Vec::with_capacity(groups),
        observers: Vec::with_capacity(groups),
        commits: Vec::with_capacity(groups),
    };
    for (b, o, gid, c) in built {
        s.member_states.push(b);
        s.observers.push(o);
        s.commits.push((gid, c));
    }
    s
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RoleKind {
    Member,
    Observer,
}

#[derive(Default)]
struct Tally {
    commits: u64,
    time: Duration,
    crypto: Counts,
    /// State bytes the store was handed for the timed commits (deltas, or snapshots when
    /// compacting), and how many of the records were deltas.
    state_bytes: u64,
    deltas: u64,
}

fn engine_for(
    s: &Scenario,
    role: RoleKind,
    threads: usize,
) -> (BatchEngine<MemStore>, std::sync::Arc<Counters>) {
    let (provider, counters) = CountingProvider::new(fixture::suite().expect("suite"));
    let e = BatchEngine::new(
        Box::new(provider),
        MemStore::new(),
        EngineConfig {
            threads,
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    match role {
        RoleKind::Member => {
            for g in &s.member_states {
                e.add_member(g.clone()).expect("add");
            }
        }
        RoleKind::Observer => {
            for o in &s.observers {
                e.add_observer(o.clone()).expect("add");
            }
        }
    }
    (e, counters)
}

fn bench_batch(c: &mut Criterion) {
    let cs = fixture::suite().expect("suite");
    let t0 = Instant::now();
    let max_members = SHAPES.iter().map(|s| s.1).max().unwrap_or(2);
    let creator = bundle(cs, "creator").expect("bundle");
    let pool: Vec<KeyPackageBundle> = (1..max_members)
        .into_par_iter()
        .map(|i| bundle(cs, &format!("member-{i}")).expect("bundle"))
        .collect();
    let scenarios: Vec<Scenario> = SHAPES
        .iter()
        .map(|&(g, m)| scenario(cs, &creator, &pool, g, m))
        .collect();
    eprintln!("batch bench setup: {:.1} s", t0.elapsed().as_secs_f64());

    let tallies: Mutex<Vec<(String, usize, Tally)>> = Mutex::new(Vec::new());
    let mut group = c.benchmark_group("batch_commits");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for s in &scenarios {
        for role in [RoleKind::Member, RoleKind::Observer] {
            for threads in [1usize, 2] {
                let name = format!("{role:?}/{}x{}", s.groups, s.members);
                group.throughput(Throughput::Elements(s.groups as u64));
                let mut tally = Tally::default();
                group.bench_function(BenchmarkId::new(name.clone(), format!("{threads}t")), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let (mut e, counters) = engine_for(s, role, threads);
                            let items: Vec<WorkItem> = s
                                .commits
                                .iter()
                                .enumerate()
                                .map(|(i, (gid, commit))| WorkItem {
                                    id: i as u64,
                                    group_id: gid.clone(),
                                    op: Op::Process(commit.clone()),
                                })
                                .collect();
                            let before = counters.snapshot();
                            let stored = e.store().stats();
                            let start = Instant::now();
                            let results = e.run_batch(items);
                            let dt = start.elapsed();
                            let spent = counters.snapshot() - before;
                            let written = e.store().stats();
                            tally.state_bytes += written.state_bytes - stored.state_bytes;
                            tally.deltas += written.deltas - stored.deltas;
                            for r in &results {
                                assert_eq!(r.result, Ok(Output::CommitApplied { epoch: 2 }));
                            }
                            total += dt;
                            tally.commits += s.groups as u64;
                            tally.time += dt;
                            tally.crypto.verify += spent.verify;
                            tally.crypto.hpke_open += spent.hpke_open;
                            // Engine teardown (dropping many groups) is not timed.
                            drop(e);
                        }
                        total
                    });
                });
                tallies.lock().expect("tally").push((name, threads, tally));
            }
        }
    }
    group.finish();

    eprintln!(
        "\nbatch summary (suite 1; one path commit per group; MemStore):\n\
         {:<24} {:>3} {:>12} {:>10} {:>10} {:>14} {:>14} {:>14} {:>8}",
        "role/groups x members",
        "thr",
        "commits/s",
        "verify/c",
        "open/c",
        "verify/s/core",
        "open/s/core",
        "state B/commit",
        "deltas%"
    );
    for (name, threads, t) in tallies.lock().expect("tally").iter() {
        if t.commits == 0 {
            continue;
        }
        let per_s = t.commits as f64 / t.time.as_secs_f64();
        let v = t.crypto.verify as f64 / t.commits as f64;
        let o = t.crypto.hpke_open as f64 / t.commits as f64;
        let cores = *threads as f64;
        eprintln!(
            "{name:<24} {threads:>3} {per_s:>12.0} {v:>10.2} {o:>10.2} {:>14.0} {:>14.0} {:>14.0} {:>8.1}",
            v * per_s / cores,
            o * per_s / cores,
            t.state_bytes as f64 / t.commits as f64,
            100.0 * t.deltas as f64 / t.commits as f64
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_batch(&mut c);
    c.final_summary();
}
