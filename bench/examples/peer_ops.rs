//! One pass of the large-group operations of `benches/peers.rs` for one implementation, each
//! timed once (or `REPS` times) with wall-clock timers: a harness to run under `perf record`
//! and to read where the time goes, not a benchmark (the figures come from criterion).
//!
//! `cargo run --release -p bench --example peer_ops -- [IMPL] [N] [REPS]`, with IMPL one of
//! `mls-engine` (default), `mls-rs`, `openmls`. With `STOP_AFTER_JOIN=1` it stops after the
//! joins (REPS + 2 of them), to profile joining alone (and prints how busy the cores were while
//! joining); with `STOP_AFTER_CREATE=1` it creates the group REPS times (each by a new
//! creator) and stops, to profile creation alone (printing how busy the cores were likewise).

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use mls_peers::{new_client, Peer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let peer = match args.get(1).map_or("mls-engine", String::as_str) {
        "mls-rs" => Peer::MlsRs,
        "openmls" => Peer::OpenMls,
        _ => Peer::Ours,
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let reps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let make = |id: &str| new_client(peer, id.as_bytes()).unwrap();

    let t = Instant::now();
    let mut joiners: Vec<_> = (0..reps + 2)
        .map(|i| make(&format!("joiner {i}")))
        .collect();
    let mut kps: Vec<_> = joiners
        .iter_mut()
        .map(|j| j.key_package().unwrap())
        .collect();
    kps.extend((kps.len() + 1..n).map(|i| make(&format!("kp {i}")).key_package().unwrap()));
    let extra = make("extra").key_package().unwrap();
    println!("key packages: {:?}", t.elapsed());

    if std::env::var_os("STOP_AFTER_CREATE").is_some() {
        let (mut wall, mut cpu) = (0.0, 0.0);
        for r in 0..reps {
            let mut c = make(&format!("creator {r}"));
            let kps = kps.clone();
            let (t, before) = (Instant::now(), process_cpu_seconds());
            c.create_group(b"g").unwrap();
            let out = c.add_members(kps).unwrap();
            let elapsed = t.elapsed();
            println!("create_add {r}: {elapsed:?}");
            if let (Some(before), Some(after)) = (before, process_cpu_seconds()) {
                wall += elapsed.as_secs_f64();
                cpu += after - before;
            }
            drop((out, c));
        }
        if wall > 0.0 {
            println!(
                "creates: {wall:.3} s wall, {cpu:.3} s CPU, {:.2} cores busy",
                cpu / wall
            );
        }
        return;
    }
    let mut creator = make("creator");
    let t = Instant::now();
    creator.create_group(b"g").unwrap();
    let out = creator.add_members(kps).unwrap();
    println!("create_add: {:?}", t.elapsed());
    creator.merge_pending_commit().unwrap();
    let welcome = out.welcome.unwrap();
    println!("welcome bytes: {}", welcome.len());

    let (all_joins, cpu_before) = (Instant::now(), process_cpu_seconds());
    for (i, j) in joiners.iter_mut().enumerate() {
        let t = Instant::now();
        j.join(&welcome, None).unwrap();
        println!("join {i}: {:?}", t.elapsed());
    }
    if let (Some(before), Some(after)) = (cpu_before, process_cpu_seconds()) {
        // How busy the cores were while joining: 2.0 is both cores all the time.
        let wall = all_joins.elapsed().as_secs_f64();
        println!(
            "joins: {wall:.3} s wall, {:.3} s CPU, {:.2} cores busy",
            after - before,
            (after - before) / wall
        );
    }
    if std::env::var_os("STOP_AFTER_JOIN").is_some() {
        return;
    }
    let t = Instant::now();
    let commit = joiners[0].commit(vec![], true).unwrap().commit;
    println!(
        "commit_path_new_member: {:?} ({} bytes)",
        t.elapsed(),
        commit.len()
    );
    joiners[0].discard_pending_commit().unwrap();
    for j in joiners.iter_mut().skip(1) {
        let t = Instant::now();
        j.process(&commit).unwrap();
        println!("process_commit: {:?}", t.elapsed());
    }
    creator.process(&commit).unwrap();
    let t = Instant::now();
    let second = creator.commit(vec![], true).unwrap().commit;
    println!(
        "commit_path_creator: {:?} ({} bytes)",
        t.elapsed(),
        second.len()
    );
    creator.merge_pending_commit().unwrap();
    for j in joiners.iter_mut().skip(1) {
        let t = Instant::now();
        j.process(&second).unwrap();
        println!("process_second_commit: {:?}", t.elapsed());
    }
    let add_commit = add_one_loop(creator.as_mut(), &extra, reps.max(1));
    for j in joiners.iter_mut().skip(1) {
        let t = Instant::now();
        j.process(&add_commit).unwrap();
        println!("process_add_one: {:?}", t.elapsed());
    }
    let t = Instant::now();
    let _ = creator
        .commit(vec![mls_peers::ProposalSpec::Remove(5)], false)
        .unwrap();
    println!("remove_one: {:?}", t.elapsed());
    creator.discard_pending_commit().unwrap();
    let data = vec![7u8; 1024];
    let t = Instant::now();
    let mut ct = Vec::new();
    // `PROTECT_REPS` (default 1,000) lengthens the loop for a profile.
    let protect_reps: u32 = std::env::var("PROTECT_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for _ in 0..protect_reps {
        ct = creator.protect(&data).unwrap();
    }
    println!("protect_1k: {:?}", t.elapsed() / protect_reps.max(1));
    let _ = ct;
    drop(joiners);
}

/// `add_one` `reps` times (a function of its own, so a profile can pick out its samples);
/// returns the last commit (discarded by its sender) for members to process.
#[inline(never)]
fn add_one_loop(creator: &mut dyn mls_peers::InteropClient, kp: &[u8], reps: usize) -> Vec<u8> {
    let mut last = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let out = creator.add_members(vec![kp.to_vec()]).unwrap();
        println!("add_one: {:?}", t.elapsed());
        creator.discard_pending_commit().unwrap();
        last = out.commit;
    }
    last
}

/// This process's user + system CPU time in seconds, from `/proc/self/stat` (Linux; `None`
/// elsewhere), in clock ticks of 10 ms: read over many operations, not one.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
