//! SHA-512 of long public messages on x86-64 CPUs with AVX2 and BMI2, about 1.4 times the speed
//! of AWS-LC's SHA-512 on the AMD EPYC (Zen 3) the project is measured on.
//!
//! # Why this crate exists
//! An Ed25519 signature hashes its whole message once with SHA-512 (RFC 8032 §5.1.6-7). In a
//! large group those messages are large: the GroupInfo in a Welcome carries the ratchet tree
//! (1.76 MB at 10,000 members), and a commit with a path over a mostly blank tree carries
//! thousands of HPKE ciphertexts (821 kB). That single hash is the floor of adding a member,
//! of processing such a commit and of checking the GroupInfo on joining. On AMD CPUs AWS-LC
//! runs its portable SHA-512 (3.41 ms for 1.76 MB); OpenSSL's AVX2 code runs 1.4 times
//! faster (CRYPTO-NOTES.md). This crate is our own code of that speed; the design is in
//! `build.rs`, which generates the assembly.
//!
//! # What it offers
//! [`Sha512`]: `new` (only on CPUs with AVX2, BMI1 and BMI2), `update`, `finish`. Groups of
//! four 128-byte blocks go through the assembly; the rest (fewer than four blocks, and the
//! padding) through a portable compression function here. It is meant for messages of
//! kilobytes and more: each call of the assembly sets up a 15 KB stack frame.
//!
//! All data here is public (signed messages and their hashes); nothing is zeroized and the
//! code is not constant time in the length (it is in the content: SHA-512 has no branches on
//! data).
//!
//! # `unsafe`
//! The workspace forbids `unsafe`; this crate denies it and allows it in two places: the
//! naked function holding the assembly, and its one call site (`groups`), which checks the CPU
//! and derives the count from the slice's length. Each carries its argument.

use asm::K;

/// The initial hash value (FIPS 180-4 §5.3.5).
const H0: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// Bytes in one group of four blocks: the unit of the assembly.
const GROUP: usize = 512;

mod asm {
    /// A table the assembly loads with aligned 256-bit moves.
    #[repr(C, align(32))]
    pub(crate) struct Align32<const N: usize>(pub(crate) [u64; N]);

    // `K`, and the tables of the assembly: `K` broadcast to four lanes, and the byte shuffles
    // (big-endian words; rotation right by eight bits).
    include!(concat!(env!("OUT_DIR"), "/constants.rs"));

    /// SHA-512's compression function over `groups` groups of four consecutive 128-byte blocks
    /// at `data`, updating the eight words at `state`.
    ///
    /// # Safety
    /// - The CPU has AVX2, BMI1 and BMI2 (`rorx`, `andn`).
    /// - `state` is valid for reads and writes of eight `u64`; `data` for reads of
    ///   `512 × groups` bytes (any alignment); `groups ≥ 1`.
    ///
    /// It follows the System V ABI: it saves and restores `rbx`, `rbp`, `r12`-`r15` and `rsp`,
    /// clears the upper halves of the vector registers before returning, and leaves the
    /// direction flag alone. Its frame (about 15 KB) is below the caller's `rsp`, entered a
    /// page at a time so that it cannot step over a guard page, and it writes nothing else but
    /// the eight words at `state`.
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    #[unsafe(naked)]
    pub(crate) unsafe extern "sysv64" fn blocks(
        _state: *mut u64,
        _data: *const u8,
        _groups: usize,
    ) {
        include!(concat!(env!("OUT_DIR"), "/blocks.rs"))
    }
}

/// Whether this CPU runs [`Sha512`] (x86-64 with AVX2, BMI1 and BMI2, and an OS that saves the
/// AVX registers).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A SHA-512 computation (FIPS 180-4) fed in pieces.
#[derive(Clone)]
pub struct Sha512 {
    state: [u64; 8],
    /// Bytes waiting for a whole group (fewer than [`GROUP`]).
    pending: Vec<u8>,
    /// Bytes fed in all.
    len: u128,
}

impl Sha512 {
    /// A new computation, or `None` when the CPU cannot run it (see [`available`]).
    pub fn new() -> Option<Self> {
        available().then(|| Sha512 {
            state: H0,
            pending: Vec::with_capacity(GROUP),
            len: 0,
        })
    }

    /// Feeds `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u128;
        if !self.pending.is_empty() {
            let take = (GROUP - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < GROUP {
                return;
            }
            groups(&mut self.state, &self.pending);
            self.pending.clear();
        }
        let whole = data.len() - data.len() % GROUP;
        groups(&mut self.state, &data[..whole]);
        self.pending.extend_from_slice(&data[whole..]);
    }

    /// The digest of everything fed.
    pub fn finish(mut self) -> [u8; 64] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = std::mem::take(&mut self.pending);
        tail.push(0x80);
        while tail.len() % 128 != 112 {
            tail.push(0);
        }
        tail.extend_from_slice(&bits.to_be_bytes());
        for block in tail.chunks_exact(128) {
            compress(&mut self.state, block);
        }
        let mut out = [0u8; 64];
        for (o, s) in out.chunks_exact_mut(8).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

/// Compresses `data`, a whole number of groups, into `state`: in the assembly where the CPU
/// runs it (checked here, so this is safe to call from anywhere), else block by block.
fn groups(state: &mut [u64; 8], data: &[u8]) {
    debug_assert_eq!(data.len() % GROUP, 0);
    let groups = data.len() / GROUP;
    #[cfg(target_arch = "x86_64")]
    if groups > 0 && available() {
        // SAFETY: the CPU has AVX2, BMI1 and BMI2 (checked on this line's condition); `state`
        // is eight `u64` borrowed mutably; `data` holds at least `512 × groups` readable bytes
        // and `groups ≥ 1`.
        #[allow(unsafe_code)]
        unsafe {
            asm::blocks(state.as_mut_ptr(), data.as_ptr(), groups)
        };
        return;
    }
    for block in data[..groups * GROUP].chunks_exact(128) {
        compress(state, block);
    }
}

/// SHA-512's compression function on one 128-byte block, in portable code (FIPS 180-4
/// §6.4.2): for the tail of a message and in tests, the reference for the assembly.
fn compress(state: &mut [u64; 8], block: &[u8]) {
    let mut w = [0u64; 80];
    for (w, b) in w.iter_mut().zip(block.chunks_exact(8)) {
        *w = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }
    for t in 16..80 {
        let s0 = w[t - 15].rotate_right(1) ^ w[t - 15].rotate_right(8) ^ (w[t - 15] >> 7);
        let s1 = w[t - 2].rotate_right(19) ^ w[t - 2].rotate_right(61) ^ (w[t - 2] >> 6);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..80 {
        let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests;
