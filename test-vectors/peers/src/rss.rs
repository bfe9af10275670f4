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
