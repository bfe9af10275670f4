//! Multi-scalar multiplication `Σ [s_i] P_i` by Pippenger's bucket method, run as eight
//! independent sums, one per lane: point `8 j + k` belongs to lane `k`. Each lane keeps its own
//! buckets (lane `k` of bucket `b`), so the eight additions of one step never touch the same
//! data and need no conflict handling. The lanes are added together at the end.
//!
//! Scalars are recoded into signed digits of `c` bits, `-2^(c-1) <= d < 2^(c-1)`; a negative
//! digit adds the negated point to bucket `|d|`. Bucket 0 is a sink for the lanes whose digit
//! is zero: it is added to but never summed.

use crate::edwards8::{Extended8, Niels8, EXTENDED_WORDS};
use crate::simd::{from_lanes, to_lanes, V};

/// Bits per digit for `m` points per lane: more buckets pay off only over more points (each
/// window costs `m` additions plus two per bucket).
fn window_bits(m: usize) -> usize {
    match m {
        0..=23 => 4,
        24..=79 => 5,
        80..=255 => 6,
        256..=767 => 7,
        _ => 8,
    }
}

/// Signed digits of a scalar below 2^253, least significant first: `Σ d_w 2^(c w)`. With
/// `c · windows >= 254` the top window takes at most 2^(c-2) + 1, so no carry leaves it.
#[allow(clippy::cast_possible_truncation)] // digits lie in [-2^(c-1), 2^(c-1)), c <= 8
fn recode(scalar: &[u8; 32], c: usize, out: &mut [i8]) {
    let mut carry = 0i32;
    for (w, digit) in out.iter_mut().enumerate() {
        let bit = w * c;
        let byte = bit / 8;
        let mut window = [0u8; 4];
        for (i, b) in window.iter_mut().enumerate() {
            *b = scalar.get(byte + i).copied().unwrap_or(0);
        }
        let bits = (u32::from_le_bytes(window) >> (bit % 8)) & ((1 << c) - 1);
        let v = bits as i32 + carry;
        if v >= 1 << (c - 1) {
            *digit = (v - (1 << c)) as i8;
            carry = 1;
        } else {
            *digit = v as i8;
            carry = 0;
        }
    }
}

/// Lane `k` of bucket storage: twenty words per lane, lanes interleaved as in the registers.
type Bucket = [[u64; 8]; EXTENDED_WORDS];

#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
fn identity_bucket() -> Bucket {
    Extended8::identity().to_registers().map(to_lanes)
}

#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
fn load(b: &Bucket) -> Extended8 {
    let regs: [V; EXTENDED_WORDS] = b.map(from_lanes);
    Extended8::from_registers(&regs)
}

/// `Σ [scalars[i]] P_i` with `P_{8j+k}` in lane `k` of `points[j]`; missing scalars are zero.
/// Every lane of the result holds the whole sum.
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
pub(crate) fn multiscalar(points: &[Niels8], scalars: &[[u8; 32]]) -> Extended8 {
    let m = points.len();
    let c = window_bits(m);
    let windows = 254usize.div_ceil(c);
    // digits[w * m + j][k]: window w of the scalar of point 8j + k.
    let mut digits = vec![[0i8; 8]; windows * m];
    let mut one = vec![0i8; windows];
    for (i, s) in scalars.iter().enumerate() {
        recode(s, c, &mut one);
        for (w, d) in one.iter().enumerate() {
            digits[w * m + i / 8][i % 8] = *d;
        }
    }
    let identity = identity_bucket();
    let mut buckets: Vec<Bucket> = vec![identity; (1 << (c - 1)) + 1];
    let mut total = Extended8::identity();
    for w in (0..windows).rev() {
        for _ in 0..c {
            total = total.double();
        }
        buckets.fill(identity);
        for (j, point) in points.iter().enumerate() {
            let d = digits[w * m + j];
            if d == [0; 8] {
                continue;
            }
            let mut idx = [0usize; 8];
            let mut negative = 0u8;
            for k in 0..8 {
                idx[k] = usize::from(d[k].unsigned_abs());
                negative |= u8::from(d[k] < 0) << k;
            }
            let mut gathered: Bucket = [[0; 8]; EXTENDED_WORDS];
            for (word, lanes) in gathered.iter_mut().enumerate() {
                for k in 0..8 {
                    lanes[k] = buckets[idx[k]][word][k];
                }
            }
            let sum = load(&gathered).add_niels(&point.negate_lanes(negative));
            let out = sum.to_registers().map(to_lanes);
            for (word, lanes) in out.iter().enumerate() {
                for k in 0..8 {
                    buckets[idx[k]][word][k] = lanes[k];
                }
            }
        }
        // Σ b · bucket_b as running sums from the top bucket down.
        let mut running = Extended8::identity();
        let mut window_sum = Extended8::identity();
        for bucket in buckets[1..].iter().rev() {
            running = running.add(&load(bucket));
            window_sum = window_sum.add(&running);
        }
        total = total.add(&window_sum);
    }
    total.sum_lanes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_recompose_the_scalar() {
        let mut s = [0u8; 32];
        for seed in 0u32..200 {
            for (i, b) in s.iter_mut().enumerate() {
                *b = (seed
                    .wrapping_mul(2_654_435_761)
                    .rotate_left(u32::try_from(i % 32).unwrap_or(0))
                    >> 7)
                    .to_le_bytes()[0];
            }
            s[31] &= 0x1f; // below 2^253
            if seed % 7 == 0 {
                s = [0xff; 32];
                s[31] = 0x1f;
            }
            for c in 4..=8 {
                let windows = 254usize.div_ceil(c);
                let mut d = vec![0i8; windows];
                recode(&s, c, &mut d);
                // Σ d_w 2^(cw) as a little-endian big integer, compared with s.
                let mut acc = [0i64; 40];
                for (w, &dw) in d.iter().enumerate() {
                    assert!(i32::from(dw) >= -(1 << (c - 1)) && i32::from(dw) < 1 << (c - 1));
                    let bit = w * c;
                    acc[bit / 8] += i64::from(dw) << (bit % 8);
                }
                let mut carry = 0i64;
                for (i, a) in acc.iter_mut().enumerate() {
                    let v = *a + carry;
                    carry = v.div_euclid(256);
                    *a = v.rem_euclid(256);
                    let want = s.get(i).copied().map_or(0, i64::from);
                    assert_eq!(*a, want, "seed {seed} c {c} byte {i}");
                }
                assert_eq!(carry, 0);
            }
        }
    }
}
