//! `loadgen`: runs a workload profile against mls-engine with every member a real MLS client.
//!
//! ```text
//! loadgen run PROFILE.toml [--json] [--out DIR] [--quiet]
//! ```
//!
//! The simulation itself is `profiles::sim` (shared with the `heap` runner of the `profiles`
//! crate); this binary adds the progress bar, Ctrl-C handling, the text and JSON reports and
//! the CSV and SVG files of `--out`.
//!
//! Exit codes: 0 done, 1 the run failed (an engine error or members disagreeing), 2 bad
//! arguments or an invalid profile, 130 stopped by Ctrl-C (after printing a partial report).

mod output;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use profiles::sim::{self, Observer, Options};
use profiles::Profile;

/// Set by the Ctrl-C handler, checked by the simulation between operations.
static STOP: AtomicBool = AtomicBool::new(false);

const USAGE: &str = "usage: loadgen run PROFILE.toml [--json] [--out DIR] [--quiet]";

/// The parsed command line.
struct Args {
    profile: PathBuf,
    json: bool,
    out: Option<PathBuf>,
    quiet: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("run") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
        None => return Err("no command".into()),
    }
    let mut profile = None;
    let mut json = false;
    let mut out = None;
    let mut quiet = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--quiet" | "-q" => quiet = true,
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a directory")?)),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            path if profile.is_none() => profile = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    Ok(Args {
        profile: profile.ok_or("no profile given")?,
        json,
        out,
        quiet,
    })
}

/// A progress bar per long phase, drawn on stderr; hidden unless stdout is a terminal.
struct Bar {
    visible: bool,
    bar: Option<ProgressBar>,
}

impl Observer for Bar {
    fn phase(&mut self, name: &str, total: u64) {
        if !self.visible {
            return;
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn end_phase(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let profile = match Profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("loadgen: {}: {e}", args.profile.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)) {
        eprintln!("loadgen: cannot install the Ctrl-C handler: {e}");
    }
    let mut bar = Bar {
        visible: !args.quiet && std::io::stdout().is_terminal(),
        bar: None,
    };
    let options = Options {
        record_samples: args.out.is_some(),
    };
    let outcome = match sim::run(&profile, &STOP, &mut bar, &options) {
        Ok(o) => o,
        Err(e) => {
            bar.end_phase();
            eprintln!("loadgen: run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = &outcome.report;
    if let Some(dir) = &args.out {
        if let Err(e) = output::write_files(dir, &outcome.samples) {
            eprintln!("loadgen: cannot write {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    if args.json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("loadgen: cannot encode the report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", output::text(report));
        if let Some(dir) = &args.out {
            println!(
                "wrote {} and {}",
                dir.join(output::CSV).display(),
                dir.join(output::SVG).display()
            );
        }
    }
    if report.interrupted {
        eprintln!("loadgen: interrupted: partial report");
        return ExitCode::from(130);
    }
    ExitCode::SUCCESS
}
