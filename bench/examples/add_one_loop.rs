//! Adding one member (tree in the Welcome) to a group of N, REPS times, each commit discarded
//! untimed so that every add starts from the same state: the `add_one` row of the peers bench
//! in a loop. Prints the median, fastest and slowest add. Run two builds alternately to compare
//! them on a VM whose speed drifts; also a harness to attach `perf record -p` to (it prints
//! `start` when the group is made).
//!
//! With PAUSE_MS, each add follows that many milliseconds of sleep, after which the rayon
//! pool's threads are asleep: a member that adds someone now and then.
//!
//! `cargo run --release -p bench --example add_one_loop -- [N] [REPS] [PAUSE_MS]` (default
//! 10,000, 300, 0).
#![allow(clippy::unwrap_used)]
use mls_peers::{new_client, Peer};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let reps: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
        .max(1);
    let pause =
        std::time::Duration::from_millis(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0));
    let make = |id: &str| new_client(Peer::Ours, id.as_bytes()).unwrap();
    let mut creator = make("creator");
    let kps: Vec<Vec<u8>> = (1..n)
        .map(|i| make(&format!("kp {i}")).key_package().unwrap())
        .collect();
    creator.create_group(b"add one loop").unwrap();
    drop(creator.add_members(kps).unwrap());
    creator.merge_pending_commit().unwrap();
    let extra = make("extra").key_package().unwrap();
    eprintln!("start");
    let mut ms: Vec<f64> = (0..reps)
        .map(|_| {
            std::thread::sleep(pause);
            let start = Instant::now();
            drop(creator.add_members(vec![extra.clone()]).unwrap());
            let took = start.elapsed().as_secs_f64() * 1e3;
            creator.discard_pending_commit().unwrap();
            took
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "N = {n}, {reps} adds: median {:.3} ms, fastest {:.3} ms, slowest {:.3} ms",
        ms[reps / 2],
        ms[0],
        ms[reps - 1]
    );
}
