//! Runs any profile under dhat: `cargo run --release -p profiles --bin heap -- PROFILE.toml`.
//!
//! The run is the load generator's ([`profiles::sim::run`], every check on), with every heap
//! allocation counted. It prints the heap peak, the heap at the end of the run with every
//! member's state alive, the total allocations and bytes, and both heaps per member (members
//! at the end, all groups), then the run's summary line.
//! Exit codes as `loadgen`: 2 for an invalid profile, 1 for a failed run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use profiles::sim::{self, Observer, Options};
use profiles::Profile;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Reads the heap at the end of each phase: the last reading is taken after the operations,
/// with every member's state still alive.
#[derive(Default)]
struct Probe {
    at_end: Option<dhat::HeapStats>,
}

impl Observer for Probe {
    fn end_phase(&mut self) {
        self.at_end = Some(dhat::HeapStats::get());
    }
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: heap PROFILE.toml");
        return ExitCode::from(2);
    };
    let profile = match Profile::load(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("heap: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let _profiler = dhat::Profiler::builder().testing().build();
    let stop = AtomicBool::new(false);
    let mut probe = Probe::default();
    let outcome = match sim::run(&profile, &stop, &mut probe, &Options::default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("heap: run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stats = dhat::HeapStats::get();
    let live = probe.at_end.map_or(0, |s| s.curr_bytes);
    let r = &outcome.report;
    let members = r.members_final.max(1) as f64;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "heap profile of `{}` (dhat): {} groups, {} members at end ({} processing: {})",
        r.profile, r.groups, r.members_final, r.processing_members_final, r.processing_members
    );
    println!(
        "  heap peak:          {} bytes ({:.1} MiB), {:.0} bytes per member",
        stats.max_bytes,
        mib(stats.max_bytes as u64),
        stats.max_bytes as f64 / members
    );
    println!(
        "  heap at end of run: {} bytes ({:.1} MiB), {:.0} bytes per member (all state alive)",
        live,
        mib(live as u64),
        live as f64 / members
    );
    println!(
        "  total allocations:  {} blocks, {} bytes ({:.1} MiB)",
        stats.total_blocks,
        stats.total_bytes,
        mib(stats.total_bytes)
    );
    println!(
        "  run: {} operations, {} agreement checks, {:.2} s wall (slowed by dhat)",
        r.operations, r.agreement_checks, r.wall_seconds
    );
    ExitCode::SUCCESS
}
