//! The text report, and the CSV and SVG files of `--out`.

use std::fmt::Write as _;
use std::path::Path;

use profiles::sim::{Op, Report, Sample};

/// File name of the per-operation CSV.
pub(crate) const CSV: &str = "operations.csv";
/// File name of the latency chart.
pub(crate) const SVG: &str = "latency.svg";

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// The human-readable report.
pub(crate) fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "loadgen: profile `{}` (seed {}, cipher suite {}){}",
        r.profile,
        r.seed,
        r.cipher_suite,
        if r.interrupted {
            " -- INTERRUPTED, partial report"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "  groups {}, members {} at start, {} at end; processing members: {} ({} at end, each with its own Group)",
        r.groups, r.members_initial, r.members_final, r.processing_members, r.processing_members_final
    );
    let _ = writeln!(
        s,
        "  {} operations ({} adds, {} removes, {} updates, {} messages, {} skipped) = {:.2} simulated minutes in {:.2} s wall",
        r.operations,
        r.events.adds,
        r.events.removes,
        r.events.updates,
        r.events.messages,
        r.events.skipped,
        r.simulated_minutes,
        r.wall_seconds
    );
    let _ = writeln!(
        s,
        "  commits processed by every processing member; application messages decrypted by {}",
        r.application_decrypted_by
    );
    let _ = writeln!(
        s,
        "  agreement: {} checks passed, {} disagreements (epoch authenticators after every commit and join, decrypted data)",
        r.agreement_checks, r.disagreements
    );
    let _ = writeln!(s, "  operation sequence digest: {}", r.sequence_digest);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<24} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11}",
        "operation", "count", "ops/s", "mean us", "p50 us", "p90 us", "p99 us", "max us"
    );
    for o in r.ops.iter().filter(|o| o.count > 0) {
        let _ = writeln!(
            s,
            "  {:<24} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>11.1}",
            o.op, o.count, o.per_second, o.mean_us, o.p50_us, o.p90_us, o.p99_us, o.max_us
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<24} {:>9} {:>12} {:>12} {:>14}",
        "bytes on the wire", "count", "mean", "max", "total"
    );
    for w in &r.wire {
        let _ = writeln!(
            s,
            "  {:<24} {:>9} {:>12.0} {:>12} {:>14}",
            w.kind, w.count, w.mean_bytes, w.max_bytes, w.total_bytes
        );
    }
    let _ = writeln!(s);
    match r.peak_rss_bytes {
        Some(b) => {
            let _ = writeln!(s, "  peak RSS (VmHWM): {:.1} MiB", mib(b));
        }
        None => {
            let _ = writeln!(s, "  peak RSS: unavailable (no /proc/self/status)");
        }
    }
    s
}

/// Writes `operations.csv` (one row per operation) and `latency.svg` into `dir`.
pub(crate) fn write_files(dir: &Path, samples: &[Sample]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("offset_ms,op,latency_us\n");
    for x in samples {
        let _ = writeln!(
            csv,
            "{:.3},{},{:.3}",
            x.offset_ms,
            x.op.name(),
            x.latency_us
        );
    }
    std::fs::write(dir.join(CSV), csv)?;
    std::fs::write(dir.join(SVG), svg(samples))
}

const COLORS: [&str; 13] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39",
];

/// A scatter chart of latency (log scale) over time, one colour per operation kind; at most
/// 4,000 points per kind (evenly thinned).
pub(crate) fn svg(samples: &[Sample]) -> String {
    let (w, h) = (1000.0, 560.0);
    let (left, right, top, bottom) = (70.0, 210.0, 30.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let t_max = samples
        .iter()
        .map(|s| s.offset_ms)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let lat = |s: &Sample| s.latency_us.max(0.1).log10();
    let lo = samples.iter().map(lat).fold(f64::INFINITY, f64::min);
    let hi = samples.iter().map(lat).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo.floor(), hi.ceil().max(lo.floor() + 1.0))
    } else {
        (0.0, 1.0)
    };
    let x = |t: f64| left + t / t_max * pw;
    let y = |l: f64| top + ph - (l - lo) / (hi - lo) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" font-size="14" text-anchor="middle">latency per operation over the run</text>"#,
        left + pw / 2.0
    );
    // Axes.
    let _ = writeln!(
        s,
        r#"<path d="M{left},{top} V{} H{}" stroke="black" fill="none"/>"#,
        top + ph,
        left + pw
    );
    let mut l = lo;
    while l <= hi + 0.5 {
        let yy = y(l);
        let label = 10f64.powf(l);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0,
            if label >= 1.0 {
                format!("{label:.0}")
            } else {
                format!("{label}")
            }
        );
        l += 1.0;
    }
    for i in 0..=5 {
        let t = t_max * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="black"/><text x="{xx:.1}" y="{}" text-anchor="middle">{:.1}</text>"#,
            top + ph,
            top + ph + 5.0,
            top + ph + 18.0,
            t / 1e3,
            xx = x(t)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">time since start (s)</text>"#,
        left + pw / 2.0,
        h - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">latency (µs, log scale)</text>"#,
        top + ph / 2.0
    );
    // Points and legend.
    let mut row = 0.0;
    for (k, op) in Op::ALL.iter().enumerate() {
        let mine: Vec<&Sample> = samples.iter().filter(|x| x.op == *op).collect();
        if mine.is_empty() {
            continue;
        }
        let color = COLORS[k % COLORS.len()];
        let step = mine.len().div_ceil(4000).max(1);
        let _ = write!(s, r#"<g fill="{color}" fill-opacity="0.6">"#);
        for p in mine.iter().step_by(step) {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="1.6"/>"#,
                x(p.offset_ms),
                y(lat(p))
            );
        }
        let _ = writeln!(s, "</g>");
        let ly = top + 10.0 + row * 16.0;
        let _ = writeln!(
            s,
            r#"<circle cx="{}" cy="{ly}" r="4" fill="{color}"/><text x="{}" y="{}">{} ({})</text>"#,
            left + pw + 16.0,
            left + pw + 26.0,
            ly + 4.0,
            op.name(),
            mine.len()
        );
        row += 1.0;
    }
    s.push_str("</svg>\n");
    s
}
