//! Our large-group operations against their cryptography on all cores, interleaved: for N
//! members, ROUNDS rounds of {operation, floor}, the order alternating from round to round, so
//! that the drift of a shared machine's speed falls on both sides of every ratio (on the
//! project's machine the CPU time of the same commit varies by a third from minute to minute,
//! which makes a ratio of two criterion rows measured minutes apart unreliable). Prints, per
//! operation, the median, least and greatest ratio and the medians of both sides.
//!
//! `cargo run --release -p bench --example floor_ratio -- [N] [ROUNDS]` (defaults 10,000 and
//! 10), suite 1, our engine through the same `mls_peers` client as `benches/peers.rs`.
//!
//! | operation | its cryptography |
//! |---|---|
//! | create a group adding N-1 members in one commit | 2(N-1) signature checks (a KeyPackage and its LeafNode, one key) in batches of 510, N-1 HPKE seals, and the GroupInfo carrying the tree (below) |
//! | join by Welcome (tree in it) | N leaf-signature checks in batches of 510, and one check over a message the size of the tree (the GroupInfo's signature) |
//! | first commit with a path, by a new member | N-1 HPKE seals |
//! | processing that commit | one signature check over the whole commit, beside two SHA-256 passes over it |
//! | second commit with a path, by the creator | N-1 HPKE seals |
//! | add one, tree in the Welcome | the challenge hash of a tree-sized message's Ed25519 signature (one SHA-512 pass), beside AES-GCM over it and hashing it as HPKE `info` |
//!
//! Each floor is measured two ways in every round: on the pool, spread over the rayon pool as
//! the engine spreads it ([`bench::verify_pool`], [`bench::seal_pool`]: what the machine's
//! cores deliver together); and ideal, one core's cost of the parallel part divided by the
//! number of cores (which two cores of a shared machine do not reach), plus the serial part
//! (the tree-sized GroupInfo). For processing the commit and for the tree-sized GroupInfo the
//! ideal is the longer of their two sides, each timed alone on one core.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mls_peers::{new_client, InteropClient, Peer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let cs = bench::suite(1);
    let make = |id: &str| new_client(Peer::Ours, id.as_bytes()).unwrap();

    // The group: a creator, `rounds + 1` joiners (one commits, the others join one per round
    // and later process its commit) and N - rounds - 2 members who never act.
    let mut joiners: Vec<Box<dyn InteropClient>> =
        (0..=rounds).map(|i| make(&format!("joiner {i}"))).collect();
    let mut kps: Vec<Vec<u8>> = joiners
        .iter_mut()
        .map(|j| j.key_package().unwrap())
        .collect();
    kps.extend((kps.len() + 1..n).map(|i| make(&format!("kp {i}")).key_package().unwrap()));
    let extra = make("extra").key_package().unwrap();

    // The floors' inputs, made once: N leaf-sized signatures by distinct keys, N - 1 pairs by
    // one key each (a KeyPackage and its LeafNode), N - 1 HPKE recipients, and messages the
    // size of the tree and of the first commit.
    let signed = bench::signed_by_distinct_keys(cs, u32::try_from(n).unwrap(), &[0x11; 200]);
    let checks = bench::signature_checks(&signed);
    let pairs: Vec<bench::Signed> = (1..n)
        .flat_map(|i| {
            let (sk, pk) = cs.signature_generate().unwrap();
            [0u8, 1].map(|k| {
                let m = [&[k; 300][..], &i.to_be_bytes()].concat();
                let sig = cs.sign(&sk, &m).unwrap();
                (pk.clone(), m, sig)
            })
        })
        .collect();
    let pair_checks = bench::signature_checks(&pairs);
    let prepared = cs.hpke_prepare(b"floor ratio", None).unwrap();
    let recipients = bench::hpke_recipients(cs, n - 1);
    let (ssk, spk) = cs.signature_generate().unwrap();

    // The group everyone joins, made first: its tree's size sizes the floors.
    let mut creator = make("creator");
    creator.create_group(b"floor ratio").unwrap();
    let welcome = creator.add_members(kps.clone()).unwrap().welcome.unwrap();
    creator.merge_pending_commit().unwrap();
    let tree_len = creator.export_ratchet_tree().unwrap().len();
    let group_info = vec![0x33u8; tree_len];
    let group_info_sig = cs.sign(&ssk, &group_info).unwrap();
    // What a GroupInfo carrying the tree costs its sender: the challenge hash of its Ed25519
    // signature, `SHA-512(R || A || M)`, which a signature needs however its nonce is chosen
    // (suite 5's hash is SHA-512), beside encrypting it and hashing it as the joiners' HPKE
    // `info` on the other core. On the pool: both sides under `rayon::join`; ideal: the
    // longer side, each timed alone.
    let (key, nonce) = (vec![1u8; cs.aead_key_len()], vec![2u8; cs.aead_nonce_len()]);
    let sha512 = bench::suite(5);
    let encrypt_and_hash = || {
        let encrypted = cs.aead_seal(&key, &nonce, b"", &group_info).unwrap();
        cs.hpke_prepare(&encrypted, None).unwrap();
    };
    let tree_sized = || {
        let pool = timed(|| {
            rayon::join(|| sha512.hash(&group_info), encrypt_and_hash);
        });
        let ideal = timed(|| drop(sha512.hash(&group_info))).max(timed(encrypt_and_hash));
        (pool, ideal)
    };

    println!("N = {n}, {rounds} rounds, the operation and its floors alternating first");
    // Create: a fresh creator adds the N - 1 KeyPackages in one commit, each round.
    interleave(
        "create + add N-1",
        rounds,
        |r| {
            let mut c = make(&format!("creator {r}"));
            let kps = kps.clone();
            timed(|| {
                c.create_group(b"floor ratio").unwrap();
                c.add_members(kps).unwrap();
            })
        },
        || {
            let (group_info_pool, group_info_ideal) = tree_sized();
            let pool = timed(|| {
                assert!(bench::verify_pool(cs, &pair_checks));
                bench::seal_pool(cs, &prepared, &recipients);
            }) + group_info_pool;
            let batch = &pair_checks[..bench::VERIFY_BATCH.min(pair_checks.len())];
            let ideal = one_core_share(pair_checks.len() as f64 / batch.len() as f64, 2, || {
                assert!(cs.verify_batch(batch).unwrap());
            }) + one_core_share((n - 1) as f64, 1000, || {
                cs.hpke_seal_prepared(&prepared, &recipients[0], b"", &[7u8; 32])
                    .unwrap();
            }) + group_info_ideal;
            (pool, ideal)
        },
    );

    let (committer, others) = joiners.split_first_mut().unwrap();
    committer.join(&welcome, None).unwrap();
    interleave(
        "join by Welcome",
        rounds,
        |r| timed(|| others[r].join(&welcome, None).unwrap()),
        || {
            let pool = timed(|| {
                let (leaves, group_info) = rayon::join(
                    || bench::verify_pool(cs, &checks),
                    || cs.verify(&spk, &group_info, &group_info_sig).is_ok(),
                );
                assert!(leaves && group_info);
            });
            let batch = &checks[..bench::VERIFY_BATCH.min(n)];
            let ideal = one_core_share(n as f64 / batch.len() as f64, 2, || {
                assert!(cs.verify_batch(batch).unwrap());
            }) + one_core_share(1.0, 1, || {
                cs.verify(&spk, &group_info, &group_info_sig).unwrap();
            });
            (pool, ideal)
        },
    );

    let seal_floor = || {
        let pool = timed(|| bench::seal_pool(cs, &prepared, &recipients));
        let ideal = one_core_share((n - 1) as f64, 1000, || {
            cs.hpke_seal_prepared(&prepared, &recipients[0], b"", &[7u8; 32])
                .unwrap();
        });
        (pool, ideal)
    };
    interleave(
        "first commit with a path, new member",
        rounds,
        |_| {
            commit_discarded(committer.as_mut(), |c| {
                drop(c.commit(vec![], true).unwrap())
            })
        },
        seal_floor,
    );

    // Every other joiner processes the new member's commit, one per round. Its floor: the
    // signature over the whole commit beside the two SHA-256 passes over it (membership tag,
    // transcript hash), which run on the other core.
    let first = committer.commit(vec![], true).unwrap().commit;
    let commit_sig = cs.sign(&ssk, &first).unwrap();
    let verify_commit = || cs.verify(&spk, &first, &commit_sig).unwrap();
    let hash_commit_twice = || {
        std::hint::black_box(cs.hash(&first));
        std::hint::black_box(cs.hash(&first));
    };
    interleave(
        "process that commit",
        rounds,
        |r| timed(|| drop(others[r].process(&first).unwrap())),
        || {
            let pool = timed(|| {
                rayon::join(verify_commit, hash_commit_twice);
            });
            let ideal = timed(verify_commit).max(timed(hash_commit_twice));
            (pool, ideal)
        },
    );

    // The creator commits at epoch 2, after the new member's commit.
    creator.process(&first).unwrap();
    interleave(
        "second commit with a path, creator",
        rounds,
        |_| commit_discarded(creator.as_mut(), |c| drop(c.commit(vec![], true).unwrap())),
        seal_floor,
    );

    // Adding one with the tree in the Welcome: signing the tree-sized GroupInfo beside
    // encrypting it and hashing it as the joiner's HPKE `info`.
    interleave(
        "add one, tree in the Welcome",
        rounds,
        |_| {
            commit_discarded(creator.as_mut(), |c| {
                drop(c.add_members(vec![extra.clone()]).unwrap());
            })
        },
        tree_sized,
    );
}

/// The time of `commit` (which leaves a pending commit) on `client`; the commit is then
/// discarded, untimed, so the next round starts from the same state.
fn commit_discarded(
    client: &mut dyn InteropClient,
    commit: impl FnOnce(&mut dyn InteropClient),
) -> Duration {
    let start = Instant::now();
    commit(client);
    let took = start.elapsed();
    client.discard_pending_commit().unwrap();
    took
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// `count` units of `unit` on this thread, divided among the pool's threads: the ideal floor
/// (one core's cost, perfectly shared), from `sample` units timed.
fn one_core_share(count: f64, sample: usize, unit: impl Fn()) -> Duration {
    let took = timed(|| (0..sample).for_each(|_| unit()));
    took.mul_f64(count / sample as f64 / rayon::current_num_threads() as f64)
}

/// `rounds` rounds of `operation(round)` and both floors (`floors()`: on the pool, and one
/// core's cost divided among the cores), the operation first in even rounds; prints the
/// ratios' medians and ranges and the sides' medians.
fn interleave(
    name: &str,
    rounds: usize,
    mut operation: impl FnMut(usize) -> Duration,
    mut floors: impl FnMut() -> (Duration, Duration),
) {
    let mut ops = Vec::with_capacity(rounds);
    let mut pools = Vec::with_capacity(rounds);
    let mut ideals = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let (op, (pool, ideal)) = if r % 2 == 0 {
            let op = operation(r);
            (op, floors())
        } else {
            let f = floors();
            (operation(r), f)
        };
        ops.push(op);
        pools.push(pool);
        ideals.push(ideal);
    }
    let ratios = |floor: &[Duration]| {
        let mut r: Vec<f64> = ops
            .iter()
            .zip(floor)
            .map(|(o, f)| o.as_secs_f64() / f.as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        format!("{:.3} ({:.3}-{:.3})", median(&r), r[0], r[r.len() - 1])
    };
    let (to_pool, to_ideal) = (ratios(&pools), ratios(&ideals));
    ops.sort();
    pools.sort();
    ideals.sort();
    println!(
        "{name}: {:?} | floor on the pool {:?}, ratio {to_pool} | ideal floor {:?}, ratio {to_ideal}",
        median(&ops),
        median(&pools),
        median(&ideals),
    );
}

fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[sorted.len() / 2]
}
