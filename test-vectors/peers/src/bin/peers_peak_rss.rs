//! Peak-RSS probe: `peers_peak_rss <openmls|mls-rs|mls-engine> <N>` creates a group of N members with one
//! implementation (N-1 added by key packages in one commit, no path), joins one real member by the
//! Welcome (ratchet tree in the GroupInfo), and prints the process's peak resident set size
//! (`VmHWM`) after each step. Run one implementation per process so the peaks are comparable.
//! Every implementation gets the same treatment: its key packages are moved into the commit
//! (not copied), and the commit bytes are dropped once created (they would have been sent).

use std::process::ExitCode;
use std::time::Instant;

use mls_peers::rss::{peak_rss_kib, residency};
use mls_peers::{new_client, Peer};

fn run(peer: Peer, n: usize) -> mls_peers::Result<()> {
    let report = |step: &str, t: Instant| {
        let hwm =
            peak_rss_kib().map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!(
            "{:<8} N={n:<6} {step:<28} {:>9.1} ms  VmHWM {hwm}",
            peer.name(),
            t.elapsed().as_secs_f64() * 1e3
        );
        if std::env::var_os("RSS_DETAIL").is_some() {
            if let Some(r) = residency() {
                println!(
                    "         resident now: main arena {:.1} MiB, anonymous {:.1} MiB, files {:.1} MiB",
                    r.heap_kib as f64 / 1024.0,
                    r.anon_kib as f64 / 1024.0,
                    r.file_kib as f64 / 1024.0
                );
            }
        }
    };
    report("start", Instant::now());
    let t = Instant::now();
    let mut joiner = new_client(peer, b"joiner")?;
    let mut kps = vec![joiner.key_package()?];
    for i in 2..n {
        // Each key package from its own short-lived client: only the bytes are kept.
        kps.push(new_client(peer, format!("member {i}").as_bytes())?.key_package()?);
    }
    report("key packages", t);

    let t = Instant::now();
    let mut creator = new_client(peer, b"creator")?;
    creator.create_group(b"peak rss group")?;
    let out = creator.add_members(kps)?;
    creator.merge_pending_commit()?;
    report("create + add N-1 + merge", t);

    // The commit is the creator's output: a real process sends it and lets it go. The
    // Welcome is the joiner's input and stays.
    let mls_peers::CommitOutput { commit, welcome } = out;
    drop(commit);
    let t = Instant::now();
    let welcome = welcome.unwrap_or_default();
    joiner.join(&welcome, None)?;
    report("join by Welcome", t);
    if joiner.epoch_authenticator()? != creator.epoch_authenticator()? {
        println!("epoch authenticators differ");
    }
    println!(
        "peak_rss_kib {} {n} {}",
        peer.name(),
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, name, n] => Peer::from_name(name).zip(n.parse::<usize>().ok().filter(|n| *n >= 2)),
        _ => None,
    };
    let Some((peer, n)) = parsed else {
        eprintln!("usage: peers_peak_rss <openmls|mls-rs|mls-engine> <N >= 2>");
        return ExitCode::from(2);
    };
    match run(peer, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
