//! What an application message costs against the number of senders a member has heard from
//! this epoch: a group of N (default 1,000) where every member joins, the creator protects
//! and member 1 unprotects 400 messages (p50 printed); then every other member sends one
//! message, which both read, and the 400 are timed again. The two lines should agree: a
//! member's secret tree grows with the senders heard from (RFC 9420 §9), and a message must
//! not copy it.
//!
//! `cargo run --release -p bench --example active_senders -- [N]`

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mls_peers::{new_client, InteropClient, Peer};

type Client = Box<dyn InteropClient>;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .max(3);
    let make = |id: &str| new_client(Peer::Ours, id.as_bytes()).unwrap();
    let mut members: Vec<Client> = (1..n).map(|i| make(&format!("member {i}"))).collect();
    let kps: Vec<Vec<u8>> = members
        .iter_mut()
        .map(|m| m.key_package().unwrap())
        .collect();
    let mut creator = make("creator");
    creator.create_group(b"active senders").unwrap();
    let welcome = creator.add_members(kps).unwrap().welcome.unwrap();
    creator.merge_pending_commit().unwrap();
    for m in members.iter_mut() {
        m.join(&welcome, None).unwrap();
    }
    let data = vec![7u8; 1024];
    let (receiver, senders) = members.split_first_mut().unwrap();
    report("heard from 1 sender", &mut creator, receiver, &data);
    for s in senders.iter_mut() {
        let ct = s.protect(&data).unwrap();
        receiver.unprotect(&ct).unwrap();
        creator.unprotect(&ct).unwrap();
    }
    report(
        &format!("heard from {} senders", n - 1),
        &mut creator,
        receiver,
        &data,
    );
}

/// Times 400 messages from `sender` to `receiver`; prints the medians.
fn report(label: &str, sender: &mut Client, receiver: &mut Client, data: &[u8]) {
    let (mut protect, mut unprotect): (Vec<Duration>, Vec<Duration>) = (0..400)
        .map(|_| {
            let t = Instant::now();
            let ct = sender.protect(data).unwrap();
            let p = t.elapsed();
            let t = Instant::now();
            assert_eq!(receiver.unprotect(&ct).unwrap(), data);
            (p, t.elapsed())
        })
        .unzip();
    protect.sort();
    unprotect.sort();
    println!(
        "{label}: protect p50 {:?}, unprotect p50 {:?}",
        protect[protect.len() / 2],
        unprotect[unprotect.len() / 2]
    );
}
