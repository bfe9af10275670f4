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
//! - `process_add_one`: a member at epoch 2 processes the creator's commit adding one member
//!   (no path: a commit whose size does not grow with N).
//! - `add_one`, `remove_one`: the creator's commit adding / removing one member;
//!   `add_one_tree_out_of_band`: the same add with the ratchet tree left out of the Welcome
//!   (delivered by the DS), which removes the O(N) tree from the signed GroupInfo.
//! - `protect_1k`, `unprotect_1k`: a 1 KiB application message.
//!
//! - `crypto_floor/N=<n>/...`: the cryptography the rows cannot avoid, at our message sizes, on
//!   one core and (rows ending `_pool`) spread over all cores as the engine spreads it.
//!
//! At N = 10,000 `create_add` is timed outside criterion (printed): up to 5 runs per
//! implementation, no new run once its runs took a minute, the median and range printed; `MLS_BENCH_HUGE=1` adds N = 100,000 for our engine alone (create, join, processing).
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
    let on = |var: &str| std::env::var(var).is_ok_and(|v| v == "1");
    let mut sizes = vec![1_000];
    if on("MLS_BENCH_LARGE") {
        sizes.push(10_000);
    }
    if on("MLS_BENCH_HUGE") {
        sizes.push(100_000);
    }
    sizes
}

/// From this size on, only our engine runs (the peers' create alone takes minutes), and only
/// the rows the issue asks of it: create, join, processing commits.
const OURS_ONLY_FROM: usize = 100_000;

/// From this size on, `create_add` is timed in a few runs per implementation, printed, instead
/// of by criterion (OpenMLS needs about 50-65 s per iteration at N = 10,000).
const SINGLE_CREATE_FROM: usize = 10_000;
/// At most this many timed runs of a create from [`SINGLE_CREATE_FROM`] members...
const CREATE_RUNS: usize = 5;
/// ...and no new run once the runs so far took this long.
const CREATE_RUNS_BUDGET: Duration = Duration::from_secs(60);

/// Real joiners per fixture group; the rest of the N-1 added members are key packages only.
const REAL_JOINERS: usize = 40;

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
    /// The creator's commit adding one member at epoch 2 (made once, then discarded by its
    /// sender), for `process_add_one`.
    add_one_commit: Option<Vec<u8>>,
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
            add_one_commit: None,
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
        let out = creator.add_members(kps).unwrap();
        creator.merge_pending_commit().unwrap();
        self.creator = creator;
        self.creator_at_epoch_2 = false;
        self.welcome = out.welcome.unwrap();
        self.unjoined = joiners;
        self.joined.clear();
        self.member_commit = None;
        self.receiver = None;
        self.add_one_commit = None;
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
            let out = self.joined[0].commit(vec![], true).unwrap();
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

    /// A member at epoch 2 (it processed the member's commit, untimed) and the creator's
    /// add-one commit of epoch 2 for it to process.
    fn take_add_one_processor(&mut self) -> (Client, Vec<u8>) {
        loop {
            let (mut p, member_commit) = self.take_processor();
            p.process(&member_commit).unwrap();
            if self.add_one_commit.is_none() {
                let kp = vec![self.extra_key_package.clone()];
                let creator = self.creator_epoch_2();
                let out = creator.add_members(kp).unwrap();
                creator.discard_pending_commit().unwrap();
                self.add_one_commit = Some(out.commit);
            }
            // A rebuild inside creator_epoch_2 starts a new group: take a member of it.
            if self.member_commit.as_ref() == Some(&member_commit) {
                return (p, self.add_one_commit.clone().unwrap());
            }
        }
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

/// Processes `commit` as `p`; the member is returned so that dropping it is not timed.
fn process_returning_member((mut p, commit): (Client, Vec<u8>)) -> (Client, mls_peers::Processed) {
    let r = p.process(&commit).unwrap();
    (p, r)
}

/// Times `iters` commits adding `kp` by `creator`, each discarded (untimed) so the same state
/// serves every iteration.
fn time_add_one(creator: &mut Client, kp: &[Vec<u8>], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let kp = kp.to_vec();
        let start = Instant::now();
        let out = creator.add_members(kp).unwrap();
        total += start.elapsed();
        black_box(out);
        creator.discard_pending_commit().unwrap();
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

/// [`group`] for rows that use up a joined member per iteration (a join costs far more than
/// the operation timed): short warm-up and measurement, so few members are spent.
fn consuming_group<'a>(c: &'a mut Criterion, op: &str, n: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = group(c, op, n);
    g.warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500));
    g
}

fn peers(c: &mut Criterion) {
    for n in sizes() {
        for (name, make) in implementations() {
            if n >= OURS_ONLY_FROM && name != "mls-engine" {
                continue;
            }
            let mut fx = Fixture::new(make, n);
            if name == "mls-engine" {
                let commit_len = fx.member_commit().len();
                let tree_len = fx.creator.export_ratchet_tree().unwrap().len();
                crypto_floor(c, n, commit_len, tree_len);
            }

            let create = |creator: &mut Client, kps: Vec<Vec<u8>>| {
                creator.create_group(b"bench group").unwrap();
                creator.add_members(kps).unwrap()
            };
            if n >= SINGLE_CREATE_FROM {
                // Timed runs while the time spent stays under a budget, the same rule for
                // every implementation (OpenMLS gets one run at 10,000, the others several).
                let mut runs: Vec<Duration> = Vec::new();
                while runs.len() < CREATE_RUNS && runs.iter().sum::<Duration>() < CREATE_RUNS_BUDGET
                {
                    let mut creator = make(b"creator");
                    let kps = fx.key_packages.clone();
                    let start = Instant::now();
                    let out = create(&mut creator, kps);
                    runs.push(start.elapsed());
                    black_box(out);
                }
                runs.sort();
                println!(
                    "create_add/N={n}/{name}: {} timed runs, median {:?} (least {:?}, greatest {:?})",
                    runs.len(),
                    runs[runs.len() / 2],
                    runs[0],
                    runs[runs.len() - 1]
                );
            } else {
                group(c, "create_add", n).bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        let kps = &fx.key_packages;
                        timed(
                            iters,
                            || (make(b"creator"), kps.clone()),
                            // The creator is returned: dropping it is not part of the work.
                            |(mut creator, kps)| {
                                let out = create(&mut creator, kps);
                                (creator, out)
                            },
                        )
                    })
                });
            }

            consuming_group(c, "join", n).bench_function(name, |b| {
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
                        let out = m.commit(vec![], true).unwrap();
                        total += start.elapsed();
                        black_box(out);
                        m.discard_pending_commit().unwrap();
                    }
                    total
                })
            });

            consuming_group(c, "process_commit", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    timed(iters, || fx.take_processor(), process_returning_member)
                })
            });

            consuming_group(c, "process_add_one", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    timed(
                        iters,
                        || fx.take_add_one_processor(),
                        process_returning_member,
                    )
                })
            });

            if n >= OURS_ONLY_FROM {
                continue;
            }

            group(c, "commit_path_creator", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let creator = fx.creator_epoch_2();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let out = creator.commit(vec![], true).unwrap();
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
                    time_add_one(fx.creator_epoch_2(), &kp, iters)
                })
            });

            group(c, "add_one_tree_out_of_band", n).bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let kp = [fx.extra_key_package.clone()];
                    let creator = fx.creator_epoch_2();
                    creator.set_ratchet_tree_in_welcome(false).unwrap();
                    let total = time_add_one(creator, &kp, iters);
                    creator.set_ratchet_tree_in_welcome(true).unwrap();
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

/// The cryptography the operations cannot avoid, in the same run, at the sizes of our engine's
/// messages for N (`crypto_floor/N=<n>/...`): one leaf-signature check, one HPKE seal (the
/// units a create, join or large commit needs N of), and the signature, hash and AEAD passes
/// over a commit and over the encoded ratchet tree (what processing a large commit and
/// sending the tree in a Welcome cannot do without: signing it, whose floor is one SHA-512
/// pass, encrypting it, and hashing it as the joiner's HPKE `info`, the last two beside the
/// signature).
fn crypto_floor(c: &mut Criterion, n: usize, commit_len: usize, tree_len: usize) {
    let cs = bench::suite(1);
    let mut g = c.benchmark_group(format!("crypto_floor/N={n}"));
    g.sample_size(20);
    let (ssk, spk) = cs.signature_generate().unwrap();
    let leaf = vec![0x11u8; 200];
    let leaf_sig = cs.sign(&ssk, &leaf).unwrap();
    g.bench_function("ed25519_verify_leaf", |b| {
        b.iter(|| cs.verify(&spk, black_box(&leaf), &leaf_sig).unwrap())
    });
    // What a leaf signature costs inside a batch (the engine verifies a received tree's leaves
    // and a large add's KeyPackages in batches of up to `labels::VERIFY_BATCH`, 510): divide
    // the row by 1,024.
    let signed = bench::signed_by_distinct_keys(cs, 1024, &leaf);
    let checks = bench::signature_checks(&signed);
    g.bench_function("ed25519_verify_leaf_batch_of_1024", |b| {
        b.iter(|| assert!(cs.verify_batch(black_box(&checks)).unwrap()))
    });
    let (_, pk) = cs.kem_generate().unwrap();
    let prepared = cs.hpke_prepare(b"info", None).unwrap();
    g.bench_function("hpke_seal", |b| {
        b.iter(|| {
            cs.hpke_seal_prepared(&prepared, black_box(&pk), b"", &[7u8; 32])
                .unwrap()
        })
    });
    let commit = vec![0x22u8; commit_len];
    let commit_sig = cs.sign(&ssk, &commit).unwrap();
    g.bench_function("ed25519_verify_commit", |b| {
        b.iter(|| cs.verify(&spk, black_box(&commit), &commit_sig).unwrap())
    });
    g.bench_function("sha256_commit", |b| b.iter(|| cs.hash(black_box(&commit))));
    let tree = vec![0x33u8; tree_len];
    // Signing a tree-sized message is our hedged Ed25519 (one SHA-512 pass and the nonce's
    // SHA-256, `ed25519_hedged`); verifying it is one SHA-512 pass, the challenge hash that
    // any signature of it needs: the floor of signing.
    g.bench_function("ed25519_sign_tree", |b| {
        b.iter(|| cs.sign(&ssk, black_box(&tree)).unwrap())
    });
    let tree_sig = cs.sign(&ssk, &tree).unwrap();
    g.bench_function("ed25519_verify_tree", |b| {
        b.iter(|| cs.verify(&spk, black_box(&tree), &tree_sig).unwrap())
    });
    let key = vec![1u8; cs.aead_key_len()];
    let nonce = vec![2u8; cs.aead_nonce_len()];
    g.bench_function("aes_gcm_seal_tree", |b| {
        b.iter(|| cs.aead_seal(&key, &nonce, b"", black_box(&tree)).unwrap())
    });
    // A joiner's GroupSecrets are sealed with the encrypted GroupInfo as HPKE `info` (RFC 9420
    // §12.4.3.1, EncryptWithLabel "Welcome"), whose key schedule hashes it (RFC 9180 §5.1):
    // with the tree in the Welcome, one more pass over a tree-sized buffer after encrypting it.
    g.bench_function("hpke_info_hash_tree", |b| {
        b.iter(|| cs.hpke_prepare(black_box(&tree), None).unwrap())
    });
    // A 1 KiB application message as a PrivateMessage (RFC 9420 §6.3): what either end cannot
    // do without. The signature over its FramedContentTBS (the data and about 100 bytes of
    // framing and GroupContext), the AEAD over the content (the data, the signature, headers),
    // the sender-data AEAD over 12 bytes, five HKDF-Expands (the ratchet's key, nonce and next
    // secret; the sender-data key and nonce) and, when sending, the 4-byte reuse guard.
    let tbs = vec![0x44u8; 1024 + 128];
    let content = vec![0x55u8; 1024 + 72];
    let sender_data = [0x66u8; 12];
    let secret = vec![0x77u8; cs.hash_len()];
    let info = [0x88u8; 24];
    let expand_five = || {
        [
            cs.aead_key_len(),
            cs.aead_nonce_len(),
            cs.hash_len(),
            cs.aead_key_len(),
            cs.aead_nonce_len(),
        ]
        .map(|len| cs.kdf_expand(black_box(&secret), &info, len).unwrap())
    };
    g.bench_function("app_message_1k_protect", |b| {
        b.iter(|| {
            let _keys = expand_five();
            let mut guard = [0u8; 4];
            cs.random_bytes(&mut guard).unwrap();
            let sig = cs.sign(&ssk, black_box(&tbs)).unwrap();
            let ct = cs.aead_seal(&key, &nonce, &guard, &content).unwrap();
            let sd = cs.aead_seal(&key, &nonce, b"", &sender_data).unwrap();
            (sig, ct, sd)
        })
    });
    let tbs_sig = cs.sign(&ssk, &tbs).unwrap();
    let content_ct = cs.aead_seal(&key, &nonce, b"", &content).unwrap();
    let sender_data_ct = cs.aead_seal(&key, &nonce, b"", &sender_data).unwrap();
    g.bench_function("app_message_1k_unprotect", |b| {
        b.iter(|| {
            let _keys = expand_five();
            let sd = cs.aead_open(&key, &nonce, b"", &sender_data_ct).unwrap();
            let pt = cs
                .aead_open(&key, &nonce, b"", black_box(&content_ct))
                .unwrap();
            cs.verify(&spk, black_box(&tbs), &tbs_sig).unwrap();
            (sd, pt)
        })
    });
    // The one-core rows above spread over the pool as the engine spreads them: the N-1 seals
    // of a large-resolution commit in one parallel iterator, the N leaf signatures of a join
    // in batches of 510 (`labels::VERIFY_BATCH`). Two cores of this machine deliver less than
    // twice one core (shared caches and clock, a virtual machine's neighbours), so an
    // operation's ratio to these rows is its own overhead, and these rows' ratio to the
    // one-core row / 2 is the machine's.
    g.sample_size(10);
    let recipients = bench::hpke_recipients(cs, n - 1);
    g.bench_function(format!("hpke_seal_x{}_pool", n - 1), |b| {
        b.iter(|| bench::seal_pool(cs, &prepared, black_box(&recipients)))
    });
    drop(recipients);
    let signed = bench::signed_by_distinct_keys(cs, u32::try_from(n).unwrap(), &leaf);
    let checks = bench::signature_checks(&signed);
    g.bench_function(format!("ed25519_verify_leaf_x{n}_batches_pool"), |b| {
        b.iter(|| assert!(bench::verify_pool(cs, black_box(&checks))))
    });
    g.finish();
    println!("crypto_floor/N={n}: commit {commit_len} bytes, ratchet tree {tree_len} bytes");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = peers
}
criterion_main!(benches);
