//! Large-group operations of the peer implementations (OpenMLS, mls-rs) and of ours
//! (`mls-engine`), side by side in one run, suite 1, everything through
//! `mls_peers::InteropClient` so that the three do exactly the same work.
//!
//! For N = 1,000 (and 10,000 with `MLS_BENCH_LARGE=1`), criterion groups `<operation>/N=<n>`,
//! one function per implementation:
//! - `create_add`: create a group and build the commit adding N-1 members (no path); the key
//!   packages are made outside the timed part.
//! - `join`: join by the Welcome (ratchet tree in the GroupInfo extension).
//! - `commit_path_new_member`: the first commit with a path, by a newly added member (the tree is
//!   blank but for the leaves: large resolutions).
//! - `process_commit`: another member processes (validates and applies) that commit.
//! - `commit_path_creator`: the second commit with a path, by the creator.
//! - `add_one`, `remove_one`: the creator's commit adding / removing one member.
//! - `protect_1k`, `unprotect_1k`: a 1 KiB application message.
//!
//! Commit benchmarks time building the commit (the sender's work until the message can be sent):
//! the commit is then discarded, outside the timed part, so the same state serves every
//! iteration. Processing consumes a member per iteration; fresh members come from a pool of
//! real joiners kept in the group ("fixture"), rebuilt outside the timed part when it runs out.

// criterion's macros generate undocumented public items; benchmark setup may unwrap.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};
use mls_peers::{new_client, InteropClient, Peer};

type Client = Box<dyn InteropClient>;

/// Makes a client of one implementation with the given identity.
type Factory = fn(&[u8]) -> Client;

/// The implementations under comparison: (name, factory).
fn implementations() -> Vec<(&'static str, Factory)> {
    fn openmls(id: &[u8]) -> Client {
        new_client(Peer::OpenMls, id).expect("openmls client")
    }
    fn mls_rs(id: &[u8]) -> Client {
        new_client(Peer::MlsRs, id).expect("mls-rs client")
    }
    fn ours(id: &[u8]) -> Client {
        new_client(Peer::Ours, id).expect("mls-engine client")
    }
    let all: Vec<(&'static str, Factory)> = vec![
        ("openmls", openmls),
        ("mls-rs", mls_rs),
        ("mls-engine", ours),
    ];
    // `MLS_BENCH_IMPLS=mls-engine,mls-rs` restricts the run (e.g. for the N = 10,000 rows).
    match std::env::var("MLS_BENCH_IMPLS") {
        Ok(list) => all
            .into_iter()
            .filter(|(name, _)| list.split(',').any(|x| x == *name))
            .collect(),
        Err(_) => all,
    }
}

fn sizes() -> Vec<usize> {
    let mut sizes = vec![1_000];
    if std::env::var("MLS_BENCH_LARGE").is_ok_and(|v| v == "1") {
        sizes.push(10_000);
    }
    sizes
}

/// Real joiners per fixture group; the rest of the N-1 added members are key packages only.
const REAL_JOINERS: usize = 32;

/// A group of `n` built by one implementation and the members the benchmarks draw on.
struct Fixture {
    make: Factory,
    n: usize,
    /// N-1 key packages of throwaway clients (reused for every group built).
    key_packages: Vec<Vec<u8>>,
    /// One more key package, for `add_one`.
    extra_key_package: Vec<u8>,
    creator: Client,
    creator_at_epoch_2: bool,
    welcome: Vec<u8>,
    /// Members in the group that have not joined yet.
    unjoined: Vec<Client>,
    /// Members that joined and are at epoch 1.
    joined: Vec<Client>,
    /// The first commit with a path by a newly added member (epoch 1 -> 2), once made.
    member_commit: Option<Vec<u8>>,
    /// A member at epoch 2 receiving the creator's application messages.
    receiver: Option<Client>,
}

impl Fixture {
    fn new(make: Factory, n: usize) -> Fixture {
        let key_packages: Vec<_> = (1..n)
            .map(|i| make(format!("kp {i}").as_bytes()).key_package().unwrap())
            .collect();
        let extra_key_package = make(b"extra").key_package().unwrap();
        let mut fx = Fixture {
            make,
            n,
            key_packages,
            extra_key_package,
            creator: make(b"creator"),
            creator_at_epoch_2: false,
            welcome: Vec::new(),
            unjoined: Vec::new(),
            joined: Vec::new(),
            member_commit: None,
            receiver: None,
        };
        fx.rebuild();
        fx
    }

    /// A new group: a creator adds REAL_JOINERS real members and fills up to N with key packages.
    fn rebuild(&mut self) {
        let real = REAL_JOINERS.min(self.n - 1);
        let mut joiners: Vec<Client> = (0..real)
            .map(|i| (self.make)(format!("joiner {i}").as_bytes()))
            .collect();
        let mut kps: Vec<_> = joiners
            .iter_mut()
            .map(|j| j.key_package().unwrap())
            .collect();
        kps.extend_from_slice(&self.key_packages[real..]);
        let mut creator = (self.make)(b"creator");
        creator.create_group(b"bench group").unwrap();
        let out = creator.add_members(&kps).unwrap();
        creator.merge_pending_commit().unwrap();
        self.creator = creator;
        self.creator_at_epoch_2 = false;
        self.welcome = out.welcome.unwrap();
        self.unjoined = joiners;
        self.joined.clear();
        self.member_commit = None;
        self.receiver = None;
    }

    fn take_unjoined(&mut self) -> Client {
        if self.unjoined.is_empty() {
            self.rebuild();
        }
        self.unjoined.pop().unwrap()
    }

    /// Makes sure at least `k` joined members are at epoch 1 (rebuilding if the pool is out).
    fn ensure_joined(&mut self, k: usize) {
        while self.joined.len() < k {
            if self.unjoined.is_empty() {
                self.rebuild();
            }
            let mut j = self.unjoined.pop().unwrap();
            j.join(&self.welcome, None).unwrap();
            self.joined.push(j);
        }
    }

    /// The first commit with a path by the new member `joined[0]` (made once, then discarded by
    /// its sender so the member stays at epoch 1).
    fn member_commit(&mut self) -> Vec<u8> {
        self.ensure_joined(1);
        if self.member_commit.is_none() {
            let out = self.joined[0].commit(&[], true).unwrap();
            self.joined[0].discard_pending_commit().unwrap();
            self.member_commit = Some(out.commit);
        }
        self.member_commit.clone().unwrap()
    }

    /// A joined member at epoch 1 other than the committer `joined[0]`, removed from the pool.
    fn take_processor(&mut self) -> (Client, Vec<u8>) {
        loop {
            let commit = self.member_commit();
            self.ensure_joined(2);
            // A rebuild inside ensure_joined drops the commit: start over then.
            if self.member_commit.as_ref() == Some(&commit) {
                return (self.joined.pop().unwrap(), commit);
            }
        }
    }

    /// The creator at epoch 2 (it processed the member's commit).
    fn creator_epoch_2(&mut self) -> &mut Client {
        if !self.creator_at_epoch_2 {
            let commit = self.member_commit();
            self.creator.process(&commit).unwrap();
            self.creator_at_epoch_2 = true;
        }
        &mut self.creator
    }

    /// The creator and a receiver, both at epoch 2.
    fn sender_and_receiver(&mut self) -> (&mut Client, &mut Client) {
        if self.receiver.is_none() {
            let (mut r, commit) = self.take_processor();
            r.process(&commit).unwrap();
            self.receiver = Some(r);
        }
        self.creator_epoch_2();
        (&mut self.creator, self.receiver.as_mut().unwrap())
    }
}

/// Times `op` once per iteration, with `setup` outside the timed part.
fn timed<S, T>(iters: u64, mut setup: impl FnMut() -> S, mut op: impl FnMut(S) -> T) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let input = setup();
        let start = Instant::now();
        let out = op(input);
        total += start.elapsed();
        black_box(out);
    }
    total
}

/// The criterion group `<op>/N=<n>`: 10 samples, flat sampling (every sample the same number
/// of iterations, which suits operations of tens of milliseconds and more).
fn group<'a>(c: &'a mut Criterion, op: &str, n: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("{op}/N={n}"));
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g
}

fn peers(c: &mut Criterion) {
    for n in sizes() {
        for (name, make) in implementations() {
            let mut fx = Fixture::new(make, n);

            group(c, "create_add", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let kps = &fx.key_packages;
                    timed(
                        iters,
                        || make(b"creator"),
                        |mut creator| {
                            creator.create_group(b"bench group").unwrap();
                            creator.add_members(kps).unwrap()
                        },
                    )
                })
            });

            group(c, "join", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut j = fx.take_unjoined();
                        let start = Instant::now();
                        j.join(&fx.welcome, None).unwrap();
                        total += start.elapsed();
                        fx.joined.push(j);
                    }
                    total
                })
            });

            group(c, "commit_path_new_member", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    fx.ensure_joined(1);
                    let m = &mut fx.joined[0];
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let out = m.commit(&[], true).unwrap();
                        total += start.elapsed();
                        black_box(out);
                        m.discard_pending_commit().unwrap();
                    }
                    total
                })
            });

            group(c, "process_commit", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    timed(
                        iters,
                        || fx.take_processor(),
                        |(mut p, commit)| p.process(&commit).unwrap(),
                    )
                })
            });

            group(c, "commit_path_creator", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let creator = fx.creator_epoch_2();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let out = creator.commit(&[], true).unwrap();
                        total += start.elapsed();
                        black_box(out);
                        creator.discard_pending_commit().unwrap();
                    }
                    total
                })
            });

            group(c, "add_one", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let kp = [fx.extra_key_package.clone()];
                    let creator = fx.creator_epoch_2();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let out = creator.add_members(&kp).unwrap();
                        total += start.elapsed();
                        black_box(out);
                        creator.discard_pending_commit().unwrap();
                    }
                    total
                })
            });

            group(c, "remove_one", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let leaf = u32::try_from(n / 2).unwrap();
                    let creator = fx.creator_epoch_2();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let out = creator.remove(leaf).unwrap();
                        total += start.elapsed();
                        black_box(out);
                        creator.discard_pending_commit().unwrap();
                    }
                    total
                })
            });

            let payload = vec![0xa5u8; 1024];
            group(c, "protect_1k", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let (sender, receiver) = fx.sender_and_receiver();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let ct = sender.protect(&payload).unwrap();
                        total += start.elapsed();
                        // Keep the receiver's ratchet in step (untimed).
                        receiver.unprotect(&ct).unwrap();
                    }
                    total
                })
            });

            group(c, "unprotect_1k", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let (sender, receiver) = fx.sender_and_receiver();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let ct = sender.protect(&payload).unwrap();
                        let start = Instant::now();
                        let pt = receiver.unprotect(&ct).unwrap();
                        total += start.elapsed();
                        assert_eq!(pt.len(), payload.len());
                    }
                    total
                })
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = peers
}
criterion_main!(benches);
