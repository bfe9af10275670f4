//! Arithmetic modulo `p = 2^255 - 19` on four field elements at once.
//!
//! # Representation
//! An element is ten limbs in radix 2^25.5: limb `i` weighs `2^ceil(25.5 i)` (bit positions
//! 0, 26, 51, 77, 102, 128, 153, 179, 204, 230), even limbs are 26 bits wide and odd limbs 25.
//! Each limb is a 256-bit AVX2 register of four 64-bit lanes, one lane per element, so one
//! instruction (`vpmuludq`, `vpaddq`, `vpsrlq`, `vpand`) works on the same limb of all four.
//! Products are written out term by term: a loop over the 100 terms was left rolled by the
//! compiler and ran at a third of the speed.
//!
//! Limbs are unsigned. A multiplication reads only the low 32 bits of each operand (as
//! `vpmuludq` does), so the bounds below are what keeps it exact.
//!
//! # Bounds
//! - *Reduced* (the output of [`mul`], [`square`], [`mul_small`] and [`Fe4::from_bytes`]): even
//!   limbs `< 2^26`, odd limbs `< 2^25 + 2^16`.
//! - [`add`] of two reduced elements: even `< 2^27`, odd `< 2^26 + 2^17`.
//! - [`sub`] of two reduced elements (computed as `a + 2p - b`, never negative): even
//!   `< 3 * 2^26`, odd `< 3 * 2^25 + 2^16`.
//! - [`mul`] and [`square`] accept operands within the larger of the two, so every limb is
//!   `< 3 * 2^26 < 2^27.6`. Then `19 g_j < 2^31.9` and `2 f_i < 2^27.6` (the factors fed to the
//!   32-bit multiplier) fit 32 bits, and each 64-bit column sum `h_k` stays below 2^62:
//!   for even `k`, `h_k <= 77 * (3 * 2^26)^2 + 190 * (3 * 2^25 + 2^16)^2 < 2^61.5`; for odd `k`,
//!   `h_k <= 154 * (3 * 2^26) * (3 * 2^25 + 2^16) < 2^61.5`.
//! - [`carry`] takes columns below 2^62 (or, for `mul_small`, below 2^45) back to reduced.
//!
//! Nothing here branches on or indexes by the values: every function runs the same
//! instructions whatever the inputs (the ladder's secrets flow through all of it).

// Limb `i` of one element meets limb `i` of another: indexing reads as the arithmetic does.
#![allow(clippy::needless_range_loop)]

use core::arch::x86_64::{
    __m256i, _mm256_add_epi64 as vadd, _mm256_and_si256, _mm256_extract_epi64,
    _mm256_mul_epu32 as vmul32, _mm256_set1_epi64x, _mm256_set_epi64x, _mm256_setzero_si256,
    _mm256_slli_epi64, _mm256_srli_epi64, _mm256_sub_epi64 as vsub, _mm256_xor_si256,
};

use zeroize::Zeroize;

/// One limb of four elements: a 256-bit register of four 64-bit lanes.
pub(crate) type L = __m256i;

/// Four field elements, limb-major.
#[derive(Clone, Copy)]
pub(crate) struct Fe4(pub(crate) [L; 10]);

const M26: u64 = (1 << 26) - 1;
const M25: u64 = (1 << 25) - 1;

/// The bit position of each limb.
const POS: [u32; 10] = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];
/// The width of each limb.
const WIDTH: [u32; 10] = [26, 25, 26, 25, 26, 25, 26, 25, 26, 25];

/// `2p` in limbs: `2 * (2^26 - 19)`, then `2 * (2^25 - 1)` and `2 * (2^26 - 1)` alternately.
/// Every limb exceeds the bound of a reduced limb, so `a + 2p - b` never goes below zero.
const TWO_P: [u64; 10] = [
    (1 << 27) - 38,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
    (1 << 27) - 2,
    (1 << 26) - 2,
];

/// `x` in every lane.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn splat(x: u64) -> L {
    _mm256_set1_epi64x(x as i64)
}

#[target_feature(enable = "avx2")]
#[inline]
fn vand(a: L, m: u64) -> L {
    _mm256_and_si256(a, splat(m))
}

/// `19 x` as `16 x + 2 x + x`: exact for any `x < 2^59`, and it leaves the multiplier (the
/// busiest unit here) to the products.
#[target_feature(enable = "avx2")]
#[inline]
fn times19(x: L) -> L {
    vadd(
        vadd(_mm256_slli_epi64::<4>(x), _mm256_slli_epi64::<1>(x)),
        x,
    )
}

/// The four lanes of a register.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn lanes(a: L) -> [u64; 4] {
    [
        _mm256_extract_epi64::<0>(a) as u64,
        _mm256_extract_epi64::<1>(a) as u64,
        _mm256_extract_epi64::<2>(a) as u64,
        _mm256_extract_epi64::<3>(a) as u64,
    ]
}

/// A register of four lanes.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn from_lanes(x: [u64; 4]) -> L {
    _mm256_set_epi64x(x[3] as i64, x[2] as i64, x[1] as i64, x[0] as i64)
}

impl Fe4 {
    /// Four copies of a small constant.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn constant(x: u64) -> Fe4 {
        let mut f = [_mm256_setzero_si256(); 10];
        f[0] = splat(x);
        Fe4(f)
    }

    /// The four `u`-coordinates of RFC 7748 §5: little-endian, the top bit ignored, values
    /// from `p` to `2^255 - 1` accepted (they stand for `u - p`).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn from_bytes(bytes: &[[u8; 32]; 4]) -> Fe4 {
        let mut f = [[0u64; 4]; 10];
        for (lane, b) in bytes.iter().enumerate() {
            let mut w = [0u64; 4];
            for (i, word) in w.iter_mut().enumerate() {
                let mut le = [0u8; 8];
                le.copy_from_slice(&b[8 * i..8 * i + 8]);
                *word = u64::from_le_bytes(le);
            }
            w[3] &= (1 << 63) - 1;
            for i in 0..10 {
                f[i][lane] = extract(&w, POS[i], WIDTH[i]);
            }
        }
        let mut out = [_mm256_setzero_si256(); 10];
        for i in 0..10 {
            out[i] = from_lanes(f[i]);
        }
        f.zeroize();
        Fe4(out)
    }

    /// The canonical encoding (value below `p`, little-endian) of each element. Constant time.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn to_bytes(self) -> [[u8; 32]; 4] {
        let mut limbs = [[0u64; 4]; 10];
        for i in 0..10 {
            limbs[i] = lanes(self.0[i]);
        }
        let mut out = [[0u8; 32]; 4];
        for (lane, o) in out.iter_mut().enumerate() {
            let mut one = [0u64; 10];
            for i in 0..10 {
                one[i] = limbs[i][lane];
            }
            *o = pack(&one);
            one.zeroize();
        }
        limbs.zeroize();
        out
    }

    /// Swaps `a` and `b` in the lanes whose `mask` is all ones (and not where it is zero),
    /// without a branch: the Montgomery ladder's `cswap`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn cswap(mask: L, a: &mut Fe4, b: &mut Fe4) {
        for i in 0..10 {
            let d = _mm256_and_si256(_mm256_xor_si256(a.0[i], b.0[i]), mask);
            a.0[i] = _mm256_xor_si256(a.0[i], d);
            b.0[i] = _mm256_xor_si256(b.0[i], d);
        }
    }

    /// Overwrites the four elements with zeros.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.0 = [_mm256_setzero_si256(); 10];
    }
}

/// The `width` bits of the 256-bit little-endian `w` from bit `pos`.
#[inline(always)]
fn extract(w: &[u64; 4], pos: u32, width: u32) -> u64 {
    let word = (pos / 64) as usize;
    let off = pos % 64;
    let lo = w[word] >> off;
    let hi = if off + width > 64 {
        w[word + 1] << (64 - off)
    } else {
        0
    };
    (lo | hi) & ((1 << width) - 1)
}

/// The low 64 bits of `x`.
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // The truncation is the point.
fn low64(x: u128) -> u64 {
    x as u64
}

/// Adds `x << shift` (`x < 2^28`, `shift < 64`) at word `at` of `acc`, carrying to the top.
#[inline(always)]
fn add_at(acc: &mut [u64; 5], at: usize, x: u64, shift: u32) {
    let wide = u128::from(x) << shift;
    let mut carry = 0u128;
    for (i, word) in acc.iter_mut().enumerate() {
        let add = match i.checked_sub(at) {
            Some(0) => wide & u128::from(u64::MAX),
            Some(1) => wide >> 64,
            _ => 0,
        };
        let s = u128::from(*word) + add + carry;
        *word = low64(s);
        carry = s >> 64;
    }
}

/// Adds the small `x` to `acc` (words 0..4), carrying through all of them.
#[inline(always)]
fn add_small(acc: &mut [u64; 5], x: u64) {
    let mut carry = u128::from(x);
    for word in acc.iter_mut() {
        let s = u128::from(*word) + carry;
        *word = low64(s);
        carry = s >> 64;
    }
}

/// The canonical encoding of one element given by its limbs (each below 2^28). Constant time:
/// the reductions are additions of 19 times a computed carry, never a branch.
#[inline(always)]
fn pack(limbs: &[u64; 10]) -> [u8; 32] {
    let mut acc = [0u64; 5];
    for i in 0..10 {
        add_at(&mut acc, (POS[i] / 64) as usize, limbs[i], POS[i] % 64);
    }
    // The value is below 2^283: fold the bits from 2^255 up (2^255 = 19 mod p), twice, which
    // leaves it below 2^255 + 19 * 2^2 and then below 2^255.
    for _ in 0..2 {
        let top = (acc[3] >> 63) | (acc[4] << 1);
        acc[3] &= (1 << 63) - 1;
        acc[4] = 0;
        add_small(&mut acc, 19 * top);
    }
    // Now `v < 2^255`; `v >= p` exactly when `v + 19` reaches 2^255. Subtract `p` then, as
    // "add 19 and drop bit 255".
    let mut t = acc;
    add_small(&mut t, 19);
    let q = t[3] >> 63;
    add_small(&mut acc, 19 * q);
    acc[3] &= (1 << 63) - 1;
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[8 * i..8 * i + 8].copy_from_slice(&acc[i].to_le_bytes());
    }
    acc.zeroize();
    t.zeroize();
    out
}

/// `a + b` (see the bounds in the module documentation).
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn add(a: &Fe4, b: &Fe4) -> Fe4 {
    let mut r = [_mm256_setzero_si256(); 10];
    for i in 0..10 {
        r[i] = vadd(a.0[i], b.0[i]);
    }
    Fe4(r)
}

/// `a - b`, as `a + 2p - b` so that no limb goes negative (`b` reduced).
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn sub(a: &Fe4, b: &Fe4) -> Fe4 {
    let mut r = [_mm256_setzero_si256(); 10];
    for i in 0..10 {
        r[i] = vsub(vadd(a.0[i], splat(TWO_P[i])), b.0[i]);
    }
    Fe4(r)
}

/// Carries columns (each below 2^62) into a reduced element. Two interleaved chains
/// (0 -> 5 and 4 -> 9 -> 0 -> 1) halve the latency of one.
#[target_feature(enable = "avx2")]
#[inline]
fn carry(mut h: [L; 10]) -> Fe4 {
    macro_rules! c {
        ($i:expr, $w:expr, $m:expr) => {{
            let c = _mm256_srli_epi64::<$w>(h[$i]);
            h[$i] = vand(h[$i], $m);
            h[$i + 1] = vadd(h[$i + 1], c);
        }};
    }
    c!(0, 26, M26);
    c!(4, 26, M26);
    c!(1, 25, M25);
    c!(5, 25, M25);
    c!(2, 26, M26);
    c!(6, 26, M26);
    c!(3, 25, M25);
    c!(7, 25, M25);
    c!(4, 26, M26);
    c!(8, 26, M26);
    // Limb 9 carries into limb 0 times 19 (2^255 = 19 mod p).
    let c9 = _mm256_srli_epi64::<25>(h[9]);
    h[9] = vand(h[9], M25);
    // `c9` may exceed 32 bits (it is below 2^37): `times19` does not use the 32-bit multiplier.
    h[0] = vadd(h[0], times19(c9));
    c!(0, 26, M26);
    Fe4(h)
}

/// The sum of the terms, as a balanced tree of additions (shorter dependency chains).
macro_rules! sum {
    ($a:expr) => { $a };
    ($a:expr, $b:expr) => { vadd($a, $b) };
    ($a:expr, $b:expr, $c:expr) => { vadd(vadd($a, $b), $c) };
    ($a:expr, $b:expr, $c:expr, $d:expr) => { vadd(vadd($a, $b), vadd($c, $d)) };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => { vadd(sum!($a, $b, $c, $d), $e) };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $($rest:expr),+) => {
        vadd(sum!($a, $b, $c, $d, $e), sum!($($rest),+))
    };
}

/// `a * b`, reduced. Column `k` collects `f_i g_j` for `i + j = k mod 10`: doubled when `i`
/// and `j` are both odd (two odd limbs meet one bit above their column's weight), times 19
/// when `i + j >= 10` (the column wraps past 2^255 = 19 mod p). Written out term by term.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn mul(f: &Fe4, g: &Fe4) -> Fe4 {
    let f = &f.0;
    let g = &g.0;
    let g19_1 = times19(g[1]);
    let g19_2 = times19(g[2]);
    let g19_3 = times19(g[3]);
    let g19_4 = times19(g[4]);
    let g19_5 = times19(g[5]);
    let g19_6 = times19(g[6]);
    let g19_7 = times19(g[7]);
    let g19_8 = times19(g[8]);
    let g19_9 = times19(g[9]);
    let f2_1 = vadd(f[1], f[1]);
    let f2_3 = vadd(f[3], f[3]);
    let f2_5 = vadd(f[5], f[5]);
    let f2_7 = vadd(f[7], f[7]);
    let f2_9 = vadd(f[9], f[9]);
    let h0 = sum!(
        vmul32(f[0], g[0]),
        vmul32(f2_1, g19_9),
        vmul32(f[2], g19_8),
        vmul32(f2_3, g19_7),
        vmul32(f[4], g19_6),
        vmul32(f2_5, g19_5),
        vmul32(f[6], g19_4),
        vmul32(f2_7, g19_3),
        vmul32(f[8], g19_2),
        vmul32(f2_9, g19_1)
    );
    let h1 = sum!(
        vmul32(f[0], g[1]),
        vmul32(f[1], g[0]),
        vmul32(f[2], g19_9),
        vmul32(f[3], g19_8),
        vmul32(f[4], g19_7),
        vmul32(f[5], g19_6),
        vmul32(f[6], g19_5),
        vmul32(f[7], g19_4),
        vmul32(f[8], g19_3),
        vmul32(f[9], g19_2)
    );
    let h2 = sum!(
        vmul32(f[0], g[2]),
        vmul32(f2_1, g[1]),
        vmul32(f[2], g[0]),
        vmul32(f2_3, g19_9),
        vmul32(f[4], g19_8),
        vmul32(f2_5, g19_7),
        vmul32(f[6], g19_6),
        vmul32(f2_7, g19_5),
        vmul32(f[8], g19_4),
        vmul32(f2_9, g19_3)
    );
    let h3 = sum!(
        vmul32(f[0], g[3]),
        vmul32(f[1], g[2]),
        vmul32(f[2], g[1]),
        vmul32(f[3], g[0]),
        vmul32(f[4], g19_9),
        vmul32(f[5], g19_8),
        vmul32(f[6], g19_7),
        vmul32(f[7], g19_6),
        vmul32(f[8], g19_5),
        vmul32(f[9], g19_4)
    );
    let h4 = sum!(
        vmul32(f[0], g[4]),
        vmul32(f2_1, g[3]),
        vmul32(f[2], g[2]),
        vmul32(f2_3, g[1]),
        vmul32(f[4], g[0]),
        vmul32(f2_5, g19_9),
        vmul32(f[6], g19_8),
        vmul32(f2_7, g19_7),
        vmul32(f[8], g19_6),
        vmul32(f2_9, g19_5)
    );
    let h5 = sum!(
        vmul32(f[0], g[5]),
        vmul32(f[1], g[4]),
        vmul32(f[2], g[3]),
        vmul32(f[3], g[2]),
        vmul32(f[4], g[1]),
        vmul32(f[5], g[0]),
        vmul32(f[6], g19_9),
        vmul32(f[7], g19_8),
        vmul32(f[8], g19_7),
        vmul32(f[9], g19_6)
    );
    let h6 = sum!(
        vmul32(f[0], g[6]),
        vmul32(f2_1, g[5]),
        vmul32(f[2], g[4]),
        vmul32(f2_3, g[3]),
        vmul32(f[4], g[2]),
        vmul32(f2_5, g[1]),
        vmul32(f[6], g[0]),
        vmul32(f2_7, g19_9),
        vmul32(f[8], g19_8),
        vmul32(f2_9, g19_7)
    );
    let h7 = sum!(
        vmul32(f[0], g[7]),
        vmul32(f[1], g[6]),
        vmul32(f[2], g[5]),
        vmul32(f[3], g[4]),
        vmul32(f[4], g[3]),
        vmul32(f[5], g[2]),
        vmul32(f[6], g[1]),
        vmul32(f[7], g[0]),
        vmul32(f[8], g19_9),
        vmul32(f[9], g19_8)
    );
    let h8 = sum!(
        vmul32(f[0], g[8]),
        vmul32(f2_1, g[7]),
        vmul32(f[2], g[6]),
        vmul32(f2_3, g[5]),
        vmul32(f[4], g[4]),
        vmul32(f2_5, g[3]),
        vmul32(f[6], g[2]),
        vmul32(f2_7, g[1]),
        vmul32(f[8], g[0]),
        vmul32(f2_9, g19_9)
    );
    let h9 = sum!(
        vmul32(f[0], g[9]),
        vmul32(f[1], g[8]),
        vmul32(f[2], g[7]),
        vmul32(f[3], g[6]),
        vmul32(f[4], g[5]),
        vmul32(f[5], g[4]),
        vmul32(f[6], g[3]),
        vmul32(f[7], g[2]),
        vmul32(f[8], g[1]),
        vmul32(f[9], g[0])
    );
    carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `a^2`, reduced: each product `f_i f_j` with `i < j` taken once and doubled. The factor of
/// a term is (2 if `i != j`) * (2 if both odd) * (19 if the column wraps); the 19 rides on
/// `f_j` (below 2^31.9) and the powers of two on `f_i` (four times an odd limb, or twice an
/// even one, is below 2^28.6).
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn square(f: &Fe4) -> Fe4 {
    let f = &f.0;
    let f2_0 = vadd(f[0], f[0]);
    let f2_1 = vadd(f[1], f[1]);
    let f2_2 = vadd(f[2], f[2]);
    let f2_3 = vadd(f[3], f[3]);
    let f2_4 = vadd(f[4], f[4]);
    let f2_5 = vadd(f[5], f[5]);
    let f2_6 = vadd(f[6], f[6]);
    let f2_7 = vadd(f[7], f[7]);
    let f2_8 = vadd(f[8], f[8]);
    let f2_9 = vadd(f[9], f[9]);
    let f4_1 = vadd(f2_1, f2_1);
    let f4_3 = vadd(f2_3, f2_3);
    let f4_5 = vadd(f2_5, f2_5);
    let f4_7 = vadd(f2_7, f2_7);
    let f19_5 = times19(f[5]);
    let f19_6 = times19(f[6]);
    let f19_7 = times19(f[7]);
    let f19_8 = times19(f[8]);
    let f19_9 = times19(f[9]);
    let h0 = sum!(
        vmul32(f[0], f[0]),
        vmul32(f4_1, f19_9),
        vmul32(f2_2, f19_8),
        vmul32(f4_3, f19_7),
        vmul32(f2_4, f19_6),
        vmul32(f2_5, f19_5)
    );
    let h1 = sum!(
        vmul32(f2_0, f[1]),
        vmul32(f2_2, f19_9),
        vmul32(f2_3, f19_8),
        vmul32(f2_4, f19_7),
        vmul32(f2_5, f19_6)
    );
    let h2 = sum!(
        vmul32(f2_0, f[2]),
        vmul32(f2_1, f[1]),
        vmul32(f4_3, f19_9),
        vmul32(f2_4, f19_8),
        vmul32(f4_5, f19_7),
        vmul32(f[6], f19_6)
    );
    let h3 = sum!(
        vmul32(f2_0, f[3]),
        vmul32(f2_1, f[2]),
        vmul32(f2_4, f19_9),
        vmul32(f2_5, f19_8),
        vmul32(f2_6, f19_7)
    );
    let h4 = sum!(
        vmul32(f2_0, f[4]),
        vmul32(f4_1, f[3]),
        vmul32(f[2], f[2]),
        vmul32(f4_5, f19_9),
        vmul32(f2_6, f19_8),
        vmul32(f2_7, f19_7)
    );
    let h5 = sum!(
        vmul32(f2_0, f[5]),
        vmul32(f2_1, f[4]),
        vmul32(f2_2, f[3]),
        vmul32(f2_6, f19_9),
        vmul32(f2_7, f19_8)
    );
    let h6 = sum!(
        vmul32(f2_0, f[6]),
        vmul32(f4_1, f[5]),
        vmul32(f2_2, f[4]),
        vmul32(f2_3, f[3]),
        vmul32(f4_7, f19_9),
        vmul32(f[8], f19_8)
    );
    let h7 = sum!(
        vmul32(f2_0, f[7]),
        vmul32(f2_1, f[6]),
        vmul32(f2_2, f[5]),
        vmul32(f2_3, f[4]),
        vmul32(f2_8, f19_9)
    );
    let h8 = sum!(
        vmul32(f2_0, f[8]),
        vmul32(f4_1, f[7]),
        vmul32(f2_2, f[6]),
        vmul32(f4_3, f[5]),
        vmul32(f[4], f[4]),
        vmul32(f2_9, f19_9)
    );
    let h9 = sum!(
        vmul32(f2_0, f[9]),
        vmul32(f2_1, f[8]),
        vmul32(f2_2, f[7]),
        vmul32(f2_3, f[6]),
        vmul32(f2_4, f[5])
    );
    carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `a * c` for a constant `c < 2^17` (the ladder's `a24`), reduced.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn mul_small(f: &Fe4, c: u64) -> Fe4 {
    let mut h = [_mm256_setzero_si256(); 10];
    for i in 0..10 {
        h[i] = vmul32(f.0[i], splat(c));
    }
    carry(h)
}

/// `f^(2^k)`.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn square_times(f: &Fe4, k: u32) -> Fe4 {
    let mut r = square(f);
    for _ in 1..k {
        r = square(&r);
    }
    r
}

/// `f^(p - 2)`, which is `1/f` for `f != 0` and 0 for 0: the usual chain of 254 squarings and
/// 11 multiplications.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn invert(z: &Fe4) -> Fe4 {
    let z2 = square(z);
    let z8 = square_times(&z2, 2);
    let z9 = mul(&z8, z);
    let z11 = mul(&z9, &z2);
    let z22 = square(&z11);
    let z_5_0 = mul(&z22, &z9);
    let z_10_0 = mul(&square_times(&z_5_0, 5), &z_5_0);
    let z_20_0 = mul(&square_times(&z_10_0, 10), &z_10_0);
    let z_40_0 = mul(&square_times(&z_20_0, 20), &z_20_0);
    let z_50_0 = mul(&square_times(&z_40_0, 10), &z_10_0);
    let z_100_0 = mul(&square_times(&z_50_0, 50), &z_50_0);
    let z_200_0 = mul(&square_times(&z_100_0, 100), &z_100_0);
    let z_250_0 = mul(&square_times(&z_200_0, 50), &z_50_0);
    mul(&square_times(&z_250_0, 5), &z11)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p = 2^255 - 19` as little-endian bytes.
    const P: [u8; 32] = {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        p
    };

    #[test]
    fn limbs_tile_the_255_bits() {
        for i in 0..9 {
            assert_eq!(POS[i] + WIDTH[i], POS[i + 1]);
        }
        assert_eq!(POS[9] + WIDTH[9], 255);
    }

    #[test]
    fn encoding_is_canonical_at_the_edges() {
        // p encodes as 0, p + 1 as 1, 2^255 - 1 (= p + 18) as 18; the top bit is ignored.
        let mut p1 = P;
        p1[0] += 1;
        let mut all = [0xffu8; 32];
        all[31] = 0xff;
        assert!(crate::available(), "the test machine has AVX2");
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2 (asserted above).
        let out = unsafe { Fe4::from_bytes(&[P, p1, all, [0; 32]]).to_bytes() };
        let small = |x: u8| {
            let mut b = [0u8; 32];
            b[0] = x;
            b
        };
        assert_eq!(out, [small(0), small(1), small(18), small(0)]);
    }
}
