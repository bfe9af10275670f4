//! Processing the large first commit of a new member (the `process_commit` row of the peers
//! bench) REPS times on one receiver without merging it, alternating the two entry points
//! message by message: decoding it and calling `Group::process_message`, and
//! `Group::process_message_bytes` (the signature checked over the received bytes while the
//! message is decoded and staged). Prints the median, the fastest and the 10th, 25th, 75th and
//! 90th percentiles of each; also a harness to
//! attach `perf record -p` to. With PAUSE_MS, each processing follows that many milliseconds
//! of sleep, after which the rayon pool's threads are asleep: a receiver that processes a
//! commit now and then.
//!
//! `cargo run --release -p bench --example process_loop -- [N] [REPS] [PAUSE_MS]` (default
//! 10,000, 200, 0).
#![allow(clippy::unwrap_used)]
use mls_engine::crypto::{AwsLcSuite, CipherSuite};
use mls_engine::messages::MlsMessage;
use mls_peers::ours::OursClient;
use mls_peers::InteropClient;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let pause =
        std::time::Duration::from_millis(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0));
    let mut a = OursClient::new(b"a").unwrap();
    let mut b = OursClient::new(b"b").unwrap();
    let mut kps = vec![a.key_package().unwrap(), b.key_package().unwrap()];
    kps.extend((2..n - 1).map(|i| {
        OursClient::new(format!("kp{i}").as_bytes())
            .unwrap()
            .key_package()
            .unwrap()
    }));
    let mut creator = OursClient::new(b"c").unwrap();
    creator.create_group(b"g").unwrap();
    let out = creator.add_members(kps).unwrap();
    creator.merge_pending_commit().unwrap();
    let w = out.welcome.unwrap();
    a.join(&w, None).unwrap();
    b.join(&w, None).unwrap();
    let commit = a.commit(vec![], true).unwrap().commit;
    println!("commit bytes {}", commit.len());
    let cs = AwsLcSuite::new(CipherSuite(1)).unwrap();
    let mut g = b.group().unwrap().clone();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        std::thread::sleep(pause);
        let t = Instant::now();
        let msg = MlsMessage::from_bytes(&commit).unwrap();
        drop(g.process_message(&cs, msg).unwrap());
        old.push(t.elapsed());
        std::thread::sleep(pause);
        let t = Instant::now();
        drop(g.process_message_bytes(&cs, &commit).unwrap());
        new.push(t.elapsed());
    }
    for (name, mut v) in [
        ("decode + process_message", old),
        ("process_message_bytes", new),
    ] {
        v.sort();
        let at = |q: usize| v[(reps - 1) * q / 100].as_secs_f64() * 1e3;
        println!(
            "{name}: median {:.3} ms min {:.3} ms (p10 {:.3}, p25 {:.3}, p75 {:.3}, p90 {:.3})",
            at(50),
            at(0),
            at(10),
            at(25),
            at(75),
            at(90)
        );
    }
}
