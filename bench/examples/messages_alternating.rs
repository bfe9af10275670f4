//! Application messages of our engine and mls-rs, alternating message by message in one
//! process, so that the machine's drift falls on both (criterion rows of the two engines are
//! measured minutes apart, and on the project's VM the speed of the same code changes by a
//! third between minutes). Prints, per engine, the median time to protect and to unprotect
//! a 1 KiB message, and the quartiles of unprotect.
//!
//! `cargo run --release -p bench --example messages_alternating -- [N] [ROUNDS]` (defaults
//! 1,000 and 3,000): each engine makes a group of N, two of its members join by Welcome, and
//! in every round each engine's first joiner protects a message that its second unprotects;
//! which engine goes first alternates from round to round.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mls_peers::{new_client, InteropClient, Peer};

/// A sender and a receiver in a group of `n` made by `peer`.
fn pair(peer: Peer, n: usize) -> (Box<dyn InteropClient>, Box<dyn InteropClient>) {
    let make = |id: &str| new_client(peer, id.as_bytes()).unwrap();
    let mut sender = make("sender");
    let mut receiver = make("receiver");
    let mut kps = vec![
        sender.key_package().unwrap(),
        receiver.key_package().unwrap(),
    ];
    kps.extend((3..n).map(|i| make(&format!("member {i}")).key_package().unwrap()));
    let mut creator = make("creator");
    creator.create_group(b"group").unwrap();
    let welcome = creator.add_members(kps).unwrap().welcome.unwrap();
    creator.merge_pending_commit().unwrap();
    sender.join(&welcome, None).unwrap();
    receiver.join(&welcome, None).unwrap();
    (sender, receiver)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rounds: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
        .max(1);
    let engines = [("mls-engine", Peer::Ours), ("mls-rs", Peer::MlsRs)];
    let mut pairs: Vec<_> = engines.iter().map(|(_, p)| pair(*p, n)).collect();
    let payload = vec![7u8; 1024];
    let mut protect = vec![Vec::with_capacity(rounds); engines.len()];
    let mut unprotect = vec![Vec::with_capacity(rounds); engines.len()];
    for round in 0..rounds {
        for k in 0..engines.len() {
            let e = if round % 2 == 0 {
                k
            } else {
                engines.len() - 1 - k
            };
            let (sender, receiver) = &mut pairs[e];
            let start = Instant::now();
            let ct = sender.protect(&payload).unwrap();
            protect[e].push(start.elapsed());
            let start = Instant::now();
            let pt = receiver.unprotect(&ct).unwrap();
            unprotect[e].push(start.elapsed());
            assert_eq!(pt, payload);
        }
    }
    println!("N = {n}, {rounds} rounds, 1 KiB messages, the engines alternating");
    for (e, (name, _)) in engines.iter().enumerate() {
        let p = median(&mut protect[e]);
        let u = &mut unprotect[e];
        let m = median(u);
        println!(
            "{name}: protect median {p:?}, unprotect median {m:?} (quartiles {:?}-{:?})",
            u[u.len() / 4],
            u[3 * u.len() / 4]
        );
    }
}
