//! Peak resident set size of this process, for the memory comparison of the peers, and the
//! workload it is read after ([`create_and_join`]).
//!
//! Each implementation is measured by its own binary (`peak_rss_ours`, `peak_rss_mls_rs`,
//! `peak_rss_openmls`), which names only that implementation's client, so the linker leaves the
//! other two out. Resident pages of the executable count in `VmHWM`, and the kernel maps code
//! in blocks around each page it faults in; one binary holding all three engines measured about
//! 1 MB more for ours than a binary holding ours alone.

use std::time::Instant;

use crate::{CommitOutput, InteropClient, Result};

/// `VmHWM` (peak resident set size) of this process in KiB, from `/proc/self/status`; `None`
/// where that file or field is missing (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Where this process's resident pages are, in KiB, from `/proc/self/smaps`: the main malloc
/// arena (`[heap]`), anonymous mappings (other malloc arenas, large allocations, thread
/// stacks) and file-backed pages (the executable and libraries).
#[derive(Debug, Clone, Copy, Default)]
pub struct Residency {
    /// `[heap]`: glibc's main arena (the brk heap).
    pub heap_kib: u64,
    /// Anonymous mappings: other threads' arenas, mmapped allocations, stacks.
    pub anon_kib: u64,
    /// Mappings of files: the executable, shared libraries.
    pub file_kib: u64,
}

/// The current [`Residency`]; `None` where `/proc/self/smaps` is missing (not Linux).
pub fn residency() -> Option<Residency> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut out = Residency::default();
    let mut kind = 0u8;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping header: address range, perms, offset, dev, inode, [path].
            let path = fields.nth(4).unwrap_or("");
            kind = match path {
                "[heap]" => 0,
                "" | "[stack]" | "[anon]" => 1,
                p if p.starts_with('[') => 3,
                _ => 2,
            };
        } else if first == "Rss:" {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match kind {
                0 => out.heap_kib += kib,
                1 => out.anon_kib += kib,
                2 => out.file_kib += kib,
                _ => {}
            }
        }
    }
    Some(out)
}

/// Creates a group of `n` members with clients from `new_client` (N-1 added by KeyPackage in
/// one commit, no path), joins one real member by the Welcome (ratchet tree in the GroupInfo),
/// and prints `VmHWM` after each step, then `peak_rss_kib NAME N KIB`. With `RSS_DETAIL` set
/// in the environment it also prints where the resident pages are ([`residency`]).
///
/// Every implementation gets the same treatment: its KeyPackages are moved into the commit
/// (not copied), and the commit bytes are dropped once created (they would have been sent).
pub fn create_and_join<F>(name: &str, n: usize, new_client: F) -> Result<()>
where
    F: Fn(&[u8]) -> Result<Box<dyn InteropClient>>,
{
    let report = |step: &str, t: Instant| {
        let hwm =
            peak_rss_kib().map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!(
            "{name:<8} N={n:<6} {step:<28} {:>9.1} ms  VmHWM {hwm}",
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
    let mut joiner = new_client(b"joiner")?;
    let mut kps = vec![joiner.key_package()?];
    for i in 2..n {
        // Each KeyPackage from its own short-lived client: only the bytes are kept.
        kps.push(new_client(format!("member {i}").as_bytes())?.key_package()?);
    }
    report("key packages", t);

    let t = Instant::now();
    let mut creator = new_client(b"creator")?;
    creator.create_group(b"peak rss group")?;
    let out = creator.add_members(kps)?;
    creator.merge_pending_commit()?;
    report("create + add N-1 + merge", t);

    // The commit is the creator's output: a real process sends it and lets it go. The
    // Welcome is the joiner's input and stays.
    let CommitOutput { commit, welcome } = out;
    drop(commit);
    let t = Instant::now();
    let welcome = welcome.unwrap_or_default();
    joiner.join(&welcome, None)?;
    report("join by Welcome", t);
    if joiner.epoch_authenticator()? != creator.epoch_authenticator()? {
        println!("epoch authenticators differ");
    }
    println!("peak_rss_kib {name} {n} {}", peak_rss_kib().unwrap_or(0));
    Ok(())
}

/// The `main` of each `peak_rss_*` binary: reads `N` (at least 2) from the first argument
/// and runs [`create_and_join`]. Exit status 2 on a bad argument, 1 on an error.
pub fn main_for<F>(name: &str, new_client: F) -> std::process::ExitCode
where
    F: Fn(&[u8]) -> Result<Box<dyn InteropClient>>,
{
    use std::process::ExitCode;
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .get(1)
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|n| *n >= 2);
    let Some(n) = n else {
        let program = args.first().map_or("peak_rss", String::as_str);
        eprintln!("usage: {program} <N >= 2>");
        return ExitCode::from(2);
    };
    match create_and_join(name, n, new_client) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
