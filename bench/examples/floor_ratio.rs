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
//! | join by Welcome (tree in it) | N leaf-signature checks in batches of 510, and one check over a message the size of the tree (the GroupInfo's signature) |
//! | first commit with a path, by a new member | N-1 HPKE seals |
//! | second commit with a path, by the creator | N-1 HPKE seals |
//!
//! Each floor is measured two ways in every round: spread over the rayon pool as the engine
//! spreads it ([`bench::verify_pool`], [`bench::seal_pool`]: what the machine's cores deliver
//! together), and as one core's cost divided by the number of cores (the ideal, which two
//! cores of a shared machine do not reach).

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

    // The group: a creator, `rounds + 1` joiners (one commits, the others join one per round)
    // and N - rounds - 2 members who never act.
    let mut joiners: Vec<Box<dyn InteropClient>> =
        (0..=rounds).map(|i| make(&format!("joiner {i}"))).collect();
    let mut kps: Vec<Vec<u8>> = joiners
        .iter_mut()
        .map(|j| j.key_package().unwrap())
        .collect();
    kps.extend((kps.len() + 1..n).map(|i| make(&format!("kp {i}")).key_package().unwrap()));
    let mut creator = make("creator");
    creator.create_group(b"floor ratio").unwrap();
    let welcome = creator.add_members(kps).unwrap().welcome.unwrap();
    creator.merge_pending_commit().unwrap();
    let tree_len = creator.export_ratchet_tree().unwrap().len();
    let (committer, others) = joiners.split_first_mut().unwrap();
    committer.join(&welcome, None).unwrap();

    // The floors' inputs, made once.
    let signed = bench::signed_by_distinct_keys(cs, u32::try_from(n).unwrap(), &[0x11; 200]);
    let checks = bench::signature_checks(&signed);
    let (ssk, spk) = cs.signature_generate().unwrap();
    let group_info = vec![0x33u8; tree_len];
    let group_info_sig = cs.sign(&ssk, &group_info).unwrap();
    let join_floor = || {
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
    };
    let prepared = cs.hpke_prepare(b"floor ratio", None).unwrap();
    let recipients = bench::hpke_recipients(cs, n - 1);
    let seal_floor = || {
        let pool = timed(|| bench::seal_pool(cs, &prepared, &recipients));
        let ideal = one_core_share((n - 1) as f64, 1000, || {
            cs.hpke_seal_prepared(&prepared, &recipients[0], b"", &[7u8; 32])
                .unwrap();
        });
        (pool, ideal)
    };

    println!("N = {n}, {rounds} rounds, the operation and its floors alternating first");
    interleave(
        "join by Welcome",
        rounds,
        |r| timed(|| others[r].join(&welcome, None).unwrap()),
        join_floor,
    );
    interleave(
        "first commit with a path, new member",
        rounds,
        |_| {
            let took = timed(|| {
                committer.commit(vec![], true).unwrap();
            });
            committer.discard_pending_commit().unwrap();
            took
        },
        seal_floor,
    );
    // The creator commits at epoch 2, after the new member's commit.
    let first = committer.commit(vec![], true).unwrap().commit;
    creator.process(&first).unwrap();
    interleave(
        "second commit with a path, creator",
        rounds,
        |_| {
            let took = timed(|| {
                creator.commit(vec![], true).unwrap();
            });
            creator.discard_pending_commit().unwrap();
            took
        },
        seal_floor,
    );
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
        "{name}: {:?} | pool floor {:?}, ratio {to_pool} | one core / {} {:?}, ratio {to_ideal}",
        median(&ops),
        median(&pools),
        rayon::current_num_threads(),
        median(&ideals),
    );
}

fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[sorted.len() / 2]
}
