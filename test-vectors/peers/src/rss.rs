//! Peak resident set size of this process, for the memory comparison of the peers.

/// `VmHWM` (peak resident set size) of this process in KiB, from `/proc/self/status`; `None`
/// where that file or field is missing (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
