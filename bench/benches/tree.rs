//! Ratchet-tree benchmarks (suite 1: X25519 / Ed25519 / SHA-256), each beside its crypto floor
//! measured in the same run:
//!
//! - import + full validation of a tree with every parent set (floor: N Ed25519 verifications
//!   spread over all cores), and the import alone (building and hashing every node);
//! - generate one UpdatePath in that tree (floor: its log N HPKE seals) and in a tree whose
//!   parents are all blank (floor: its N - 1 HPKE seals over all cores);
//! - apply one UpdatePath (merge, tree hash, decrypt; floor: one HPKE open);
//! - re-hash after changing one leaf (no crypto floor beyond log N hashes);
//! - staging: the cost of `Tree::stage` (the copy-on-write clone every commit starts from).
//!
//! N = 1,000 and 10,000 run under criterion. N = 100,000 is set up once (its generator takes
//! tens of seconds on 2 cores) and each operation is timed directly, median of a few runs,
//! printed at the end; set `TREE_BENCH_SKIP_100K=1` to skip it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use mls_engine::crypto::labels::{encrypt_with_label, prepare_encrypt_with_label};
use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use mls_engine::tree::generate::{generate_tree, GeneratedTree};
use mls_engine::tree::{validate_tree, Tree, TreeValidationParams};
use mls_engine::tree_math::LeafIndex;
use rayon::prelude::*;

const GROUP: &[u8] = b"bench group";

fn suite() -> AwsLcSuite {
    AwsLcSuite::new(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519).expect("suite 1")
}

/// Everything one N needs, prepared once.
struct Fixture {
    n: u32,
    full: GeneratedTree,
    blank: GeneratedTree,
    wire: mls_engine::messages::RatchetTree,
    /// (signature key, message, signature) per leaf for the verification floor.
    sigs: Vec<bench::Signed>,
    /// An UpdatePath from `sender` in the full tree, with its group context.
    path: mls_engine::messages::UpdatePath,
    path_gc: Vec<u8>,
    sender: LeafIndex,
    receiver: LeafIndex,
    /// Leaf `n / 2` with one signature bit flipped, to re-hash one changed leaf.
    flipped: mls_engine::messages::LeafNode,
}

fn gc_for(tree_hash: &[u8]) -> Vec<u8> {
    let mut gc = b"provisional group context".to_vec();
    gc.extend_from_slice(tree_hash);
    gc
}

fn fixture(cs: &AwsLcSuite, n: u32) -> Fixture {
    let t0 = Instant::now();
    let full = generate_tree(cs, n, GROUP, true).expect("full tree");
    let blank = generate_tree(cs, n, GROUP, false).expect("blank tree");
    let wire = full.tree.to_wire();
    let sigs = (0..n)
        .into_par_iter()
        .map(|i| {
            let msg = format!("message {i}").into_bytes();
            let (sk, pk) = cs.signature_generate().expect("keygen");
            let sig = cs.sign(&sk, &msg).expect("sign");
            (pk, msg, sig)
        })
        .collect();
    let sender = LeafIndex(n / 3);
    let receiver = LeafIndex(n - 1);
    let mut st = full.tree.stage();
    let leaf = st.leaf(sender).expect("sender").clone();
    let pending = st
        .generate_update_path(
            cs,
            sender,
            leaf,
            &full.signature_keys[sender.0 as usize],
            GROUP,
        )
        .expect("path");
    let gc = gc_for(&st.tree_hash(cs).expect("hash"));
    let out = pending.encrypt(cs, &st, &[], &gc).expect("encrypt");
    let flipped = {
        let leaf = full.tree.leaf(LeafIndex(n / 2)).expect("leaf");
        let mut sig = leaf.signature().to_vec();
        sig[0] ^= 1;
        let tbs = leaf.to_be_signed(None).expect("content");
        mls_engine::messages::LeafNode::from_tbs(&tbs, &sig).expect("leaf")
    };
    eprintln!("fixture N={n}: {:.1?}", t0.elapsed());
    Fixture {
        n,
        full,
        blank,
        wire,
        sigs,
        path: out.update_path,
        path_gc: gc,
        sender,
        receiver,
        flipped,
    }
}

fn import_validate(cs: &AwsLcSuite, f: &Fixture) {
    let mut t = Tree::from_wire(cs, &f.wire).expect("import");
    let params = TreeValidationParams::new(GROUP, 1_000);
    validate_tree(&mut t, cs, &params).expect("valid");
    black_box(t);
}

fn verify_floor(cs: &AwsLcSuite, f: &Fixture) {
    f.sigs
        .par_iter()
        .for_each(|(pk, m, s)| cs.verify(pk, m, s).expect("verify"));
}

/// The same N signatures verified as the engine verifies a received tree: batches of 512
/// (curve25519-dalek, see `CRYPTO-NOTES.md`) spread over the pool.
fn verify_floor_batch(cs: &AwsLcSuite, f: &Fixture) {
    let checks = bench::signature_checks(&f.sigs);
    assert!(checks
        .par_chunks(512)
        .all(|c| cs.verify_batch(c).expect("batch")));
}

fn generate_path(cs: &AwsLcSuite, g: &GeneratedTree, sender: LeafIndex) -> usize {
    let mut st = g.tree.stage();
    let leaf = st.leaf(sender).expect("sender").clone();
    let pending = st
        .generate_update_path(
            cs,
            sender,
            leaf,
            &g.signature_keys[sender.0 as usize],
            GROUP,
        )
        .expect("path");
    let gc = gc_for(&st.tree_hash(cs).expect("hash"));
    let out = pending.encrypt(cs, &st, &[], &gc).expect("encrypt");
    out.update_path
        .nodes
        .iter()
        .map(|n| n.encrypted_path_secret.len())
        .sum()
}

/// `seals` HPKE seals of a 32-byte secret, over all cores, with one prepared context.
fn seal_floor(cs: &AwsLcSuite, pk: &mls_engine::crypto::HpkePublicKey, seals: usize) {
    let prepared = prepare_encrypt_with_label(cs, "UpdatePathNode", b"ctx").expect("prepare");
    (0..seals).into_par_iter().for_each(|_| {
        black_box(
            mls_engine::crypto::labels::encrypt_with_label_prepared(cs, &prepared, pk, &[7; 32])
                .expect("seal"),
        );
    });
}

fn apply_path(cs: &AwsLcSuite, f: &Fixture) {
    let mut st = f.full.tree.stage();
    st.merge_update_path(cs, f.sender, &f.path, GROUP)
        .expect("merge");
    let th = st.tree_hash(cs).expect("hash");
    black_box(th);
    let keys = f.full.private_keys(f.receiver);
    let dec = st
        .decrypt_update_path(cs, f.sender, &f.path, &[], &keys, &f.path_gc)
        .expect("decrypt");
    black_box(dec);
}

fn open_floor(
    cs: &AwsLcSuite,
    pk: &mls_engine::crypto::HpkePublicKey,
    sk: &mls_engine::crypto::Secret,
) {
    let ct = encrypt_with_label(cs, pk, "UpdatePathNode", b"ctx", &[7; 32]).expect("seal");
    black_box(
        mls_engine::crypto::labels::decrypt_with_label(cs, sk, "UpdatePathNode", b"ctx", &ct)
            .expect("open"),
    );
}

fn rehash_one_leaf(cs: &AwsLcSuite, f: &Fixture) {
    let mut st = f.full.tree.stage();
    let l = LeafIndex(f.n / 2);
    st.set_leaf(l, f.flipped.clone()).expect("set");
    black_box(st.tree_hash(cs).expect("hash"));
}

fn path_seals(f: &Fixture) -> usize {
    f.path
        .nodes
        .iter()
        .map(|n| n.encrypted_path_secret.len())
        .sum()
}

fn blank_seals(cs: &AwsLcSuite, f: &Fixture) -> usize {
    let _ = cs;
    // Resolution sizes of the blank tree's copath: every other member.
    (f.n - 1) as usize
}

fn any_leaf_key(
    f: &Fixture,
) -> (
    mls_engine::crypto::HpkePublicKey,
    mls_engine::crypto::Secret,
) {
    let l = f.receiver;
    let pk = f.full.tree.leaf(l).expect("leaf").encryption_key().into();
    let sk = f.full.node_keys[l.node().0 as usize].clone().expect("key");
    (pk, sk)
}

fn criterion_benches(c: &mut Criterion, cs: &AwsLcSuite) {
    for n in [1_000u32, 10_000] {
        let f = fixture(cs, n);
        let (pk, sk) = any_leaf_key(&f);
        let mut g = c.benchmark_group(format!("tree/N={n}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if n > 5_000 { 8 } else { 3 }));
        g.bench_function(BenchmarkId::new("import_validate_full", n), |b| {
            b.iter(|| import_validate(cs, &f))
        });
        g.bench_function(BenchmarkId::new("import_hash", n), |b| {
            b.iter(|| black_box(Tree::from_wire(cs, &f.wire).expect("import")))
        });
        g.bench_function(BenchmarkId::new("floor_verify_N_ed25519_par", n), |b| {
            b.iter(|| verify_floor(cs, &f))
        });
        g.bench_function(BenchmarkId::new("floor_verify_N_ed25519_batch", n), |b| {
            b.iter(|| verify_floor_batch(cs, &f))
        });
        g.bench_function(BenchmarkId::new("generate_path_full", n), |b| {
            b.iter(|| generate_path(cs, &f.full, f.sender))
        });
        let full_seals = path_seals(&f);
        g.bench_function(
            BenchmarkId::new(format!("floor_{full_seals}_seals"), n),
            |b| b.iter(|| seal_floor(cs, &pk, full_seals)),
        );
        g.bench_function(BenchmarkId::new("generate_path_blank_parents", n), |b| {
            b.iter(|| generate_path(cs, &f.blank, f.sender))
        });
        let bs = blank_seals(cs, &f);
        g.bench_function(BenchmarkId::new(format!("floor_{bs}_seals_par"), n), |b| {
            b.iter(|| seal_floor(cs, &pk, bs))
        });
        g.bench_function(BenchmarkId::new("apply_path", n), |b| {
            b.iter(|| apply_path(cs, &f))
        });
        g.bench_function(BenchmarkId::new("floor_1_open", n), |b| {
            b.iter(|| open_floor(cs, &pk, &sk))
        });
        g.bench_function(BenchmarkId::new("rehash_one_leaf", n), |b| {
            b.iter(|| rehash_one_leaf(cs, &f))
        });
        g.bench_function(BenchmarkId::new("stage_clone", n), |b| {
            b.iter(|| black_box(f.full.tree.stage()))
        });
        g.finish();
    }
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn large(cs: &AwsLcSuite) {
    let n = 100_000;
    let f = fixture(cs, n);
    let (pk, sk) = any_leaf_key(&f);
    let full_seals = path_seals(&f);
    let bs = blank_seals(cs, &f);
    let rows: Vec<(String, Duration)> = vec![
        (
            "import_validate_full".into(),
            median(|| import_validate(cs, &f), 3),
        ),
        (
            "floor_verify_N_ed25519_par".into(),
            median(|| verify_floor(cs, &f), 3),
        ),
        (
            "floor_verify_N_ed25519_batch".into(),
            median(|| verify_floor_batch(cs, &f), 3),
        ),
        (
            "generate_path_full".into(),
            median(
                || {
                    black_box(generate_path(cs, &f.full, f.sender));
                },
                5,
            ),
        ),
        (
            format!("floor_{full_seals}_seals"),
            median(|| seal_floor(cs, &pk, full_seals), 5),
        ),
        (
            "generate_path_blank_parents".into(),
            median(
                || {
                    black_box(generate_path(cs, &f.blank, f.sender));
                },
                3,
            ),
        ),
        (
            format!("floor_{bs}_seals_par"),
            median(|| seal_floor(cs, &pk, bs), 3),
        ),
        ("apply_path".into(), median(|| apply_path(cs, &f), 5)),
        (
            "floor_1_open".into(),
            median(|| open_floor(cs, &pk, &sk), 5),
        ),
        (
            "rehash_one_leaf".into(),
            median(|| rehash_one_leaf(cs, &f), 5),
        ),
        (
            "stage_clone".into(),
            median(
                || {
                    black_box(f.full.tree.stage());
                },
                9,
            ),
        ),
    ];
    println!("\ntree/N=100000 (single timed runs, median):");
    for (name, d) in rows {
        println!("  {name:<32} {d:>12.3?}");
    }
}

fn main() {
    let cs = suite();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &cs);
    c.final_summary();
    if std::env::var("TREE_BENCH_SKIP_100K").is_err() {
        large(&cs);
    }
}
