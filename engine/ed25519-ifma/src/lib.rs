//! The fast path of Ed25519 batch verification on CPUs with AVX-512 IFMA: point decoding and
//! multi-scalar multiplication over edwards25519, eight points at a time.
//!
//! # Why this crate exists
//! Verifying a batch of `n` Ed25519 signatures decodes `2n` points (a square root each) and
//! runs one multi-scalar multiplication over them. `curve25519-dalek` decodes points in serial
//! 64-bit arithmetic (about 11,000 cycles each on the Xeon the project was measured on) and
//! offers no way to build a point from coordinates computed elsewhere. Joining a group of
//! 10,000 decodes 20,000 points; on that Xeon, decoding was half of the join's CPU time. Here
//! the square roots of eight points run at once in the 52-bit multiply-adds of AVX-512 IFMA,
//! and the points stay in that form for the multiplication (Pippenger's method, one
//! independent sum per lane).
//!
//! Status: written and tested on a machine without AVX-512 (the `emulate` feature runs the
//! same arithmetic on `[u64; 8]`), so its speed on IFMA hardware has not been measured yet:
//! the criterion row `ed25519_decode_msm_1021_points/ifma` of `bench/benches/primitives.rs`
//! measures it beside curve25519-dalek's on such a CPU.
//!
//! # What it computes
//! [`cofactored_sum_is_identity`] decodes each encoding strictly (RFC 8032 §5.1.3: `y < p`, `x`
//! exists, not `x = 0` with the sign bit set) and answers whether `[8] Σ [s_i] P_i` is the
//! identity. Choosing the scalars (random coefficients, hashes) and refusing small-order points
//! is the caller's job: the engine's `crypto::ed25519_batch`, which also keeps
//! `curve25519-dalek` as the path for other CPUs and is tested against it.
//!
//! All data here is public (keys, signatures, messages); the code is not constant time.
//!
//! # `unsafe`
//! The workspace forbids `unsafe`; this crate denies it and allows it in three places:
//! entering the `#[target_feature]` code after checking the CPU at run time
//! ([`cofactored_sum_is_identity`]), and viewing `[u64; 8]` as a 512-bit register and back
//! (`fe8::from_lanes`, `fe8::to_lanes`). Each carries its argument.

#[cfg(target_arch = "x86_64")]
mod edwards8;
#[cfg(target_arch = "x86_64")]
mod fe51;
#[cfg(target_arch = "x86_64")]
mod fe8;
#[cfg(target_arch = "x86_64")]
mod msm;
#[cfg(target_arch = "x86_64")]
mod simd;

/// Why [`cofactored_sum_is_identity`] gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    /// The CPU lacks AVX-512F or AVX-512 IFMA (or is not x86-64): use another implementation.
    Unavailable,
    /// `points` and `scalars` differ in length.
    LengthMismatch,
    /// The scalar at this index is not below 2^253 (every canonical scalar mod `L` is).
    ScalarOutOfRange(usize),
    /// The encoding at this index is not a point (RFC 8032 §5.1.3).
    Undecodable(usize),
}

/// Whether this CPU runs [`cofactored_sum_is_identity`].
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cfg!(feature = "emulate")
            || (std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512ifma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Decodes `points` and answers whether `[8] Σ [scalars_i] points_i` is the identity.
/// Scalars are little-endian and must be below 2^253.
pub fn cofactored_sum_is_identity(
    points: &[&[u8; 32]],
    scalars: &[[u8; 32]],
) -> Result<bool, BatchError> {
    if points.len() != scalars.len() {
        return Err(BatchError::LengthMismatch);
    }
    if let Some(i) = scalars.iter().position(|s| s[31] >= 0x20) {
        return Err(BatchError::ScalarOutOfRange(i));
    }
    if !available() {
        return Err(BatchError::Unavailable);
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unsafe_code, unused_unsafe)]
        // SAFETY: `available()` has just confirmed that this CPU has AVX-512F and AVX-512
        // IFMA, the only features `x86::run` and everything it calls are compiled for.
        unsafe {
            x86::run(points, scalars)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Err(BatchError::Unavailable)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::BatchError;
    use crate::edwards8::{decode8, Niels8};

    use crate::msm::multiscalar;

    /// The encoding of the identity `(0, 1)`, which pads the last group of eight.
    const IDENTITY: [u8; 32] = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };

    /// Decodes every encoding, eight at a time (the last group padded with the identity).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    fn decode_all(points: &[&[u8; 32]]) -> Result<Vec<Niels8>, BatchError> {
        let mut decoded: Vec<Niels8> = Vec::with_capacity(points.len().div_ceil(8));
        for (j, chunk) in points.chunks(8).enumerate() {
            let encodings: [[u8; 32]; 8] =
                core::array::from_fn(|k| chunk.get(k).map_or(IDENTITY, |p| **p));
            let (niels, valid) = decode8(&encodings);
            if valid != 0xff {
                let k = valid.trailing_ones() as usize;
                return Err(BatchError::Undecodable(8 * j + k));
            }
            decoded.push(niels);
        }
        Ok(decoded)
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(super) fn run(points: &[&[u8; 32]], scalars: &[[u8; 32]]) -> Result<bool, BatchError> {
        let sum = multiscalar(&decode_all(points)?, scalars);
        let eight = sum.double().double().double();
        let (x, y, z) = eight.lane0();
        Ok(x.is_zero() && y.equals(&z))
    }

    /// `Σ [s_i] P_i` compressed (RFC 8032 §5.1.2), for the tests against `curve25519-dalek`.
    #[cfg(test)]
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(super) fn sum_compressed(
        points: &[&[u8; 32]],
        scalars: &[[u8; 32]],
    ) -> Result<[u8; 32], BatchError> {
        let (x, y, z) = multiscalar(&decode_all(points)?, scalars).lane0();
        let zi = z.invert();
        let (x, y) = (x.mul(&zi), y.mul(&zi));
        let mut out = y.to_bytes();
        out[31] |= u8::from(x.is_odd()) << 7;
        Ok(out)
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::VartimeMultiscalarMul;
    use proptest::prelude::*;

    #[allow(unsafe_code, unused_unsafe)]
    fn sum_compressed(points: &[&[u8; 32]], scalars: &[[u8; 32]]) -> Option<[u8; 32]> {
        // SAFETY: the features are checked first.
        available().then(|| unsafe { x86::sum_compressed(points, scalars) }.ok())?
    }

    fn point(seed: u64) -> EdwardsPoint {
        ED25519_BASEPOINT_POINT * Scalar::from(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
            + EIGHT_TORSION[(seed % 8) as usize]
    }

    fn scalar(seed: u64) -> Scalar {
        let mut wide = [0u8; 64];
        for (i, b) in wide.iter_mut().enumerate() {
            *b = (seed
                .wrapping_mul(31)
                .wrapping_add(i as u64)
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                >> 56)
                .to_le_bytes()[0];
        }
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    /// The sum against `curve25519-dalek`'s, for `n` points of mixed order and random scalars.
    fn agrees_with_dalek(n: usize, seed: u64) {
        let pts: Vec<EdwardsPoint> = (0..n as u64).map(|i| point(seed + i)).collect();
        let ss: Vec<Scalar> = (0..n as u64).map(|i| scalar(seed ^ (i << 20))).collect();
        let enc: Vec<[u8; 32]> = pts.iter().map(|p| p.compress().to_bytes()).collect();
        let refs: Vec<&[u8; 32]> = enc.iter().collect();
        let sb: Vec<[u8; 32]> = ss.iter().map(|s| s.to_bytes()).collect();
        let Some(ours) = sum_compressed(&refs, &sb) else {
            eprintln!("skipped: no AVX-512 IFMA here (`--features emulate` runs it)");
            return;
        };
        let theirs = EdwardsPoint::vartime_multiscalar_mul(&ss, &pts).compress();
        assert_eq!(ours, theirs.to_bytes(), "n = {n}, seed = {seed}");
    }

    #[test]
    fn sums_match_curve25519_dalek_at_every_window_size() {
        for (n, seed) in [
            (1, 1),
            (7, 2),
            (8, 3),
            (9, 4),
            (100, 5),
            (200, 6),
            (700, 7),
            (1500, 8),
        ] {
            agrees_with_dalek(n, seed);
        }
        // m = 2,100 points per lane takes the widest window.
        agrees_with_dalek(16_800, 9);
    }

    #[test]
    fn non_canonical_and_signed_zero_encodings_are_refused() {
        if !available() {
            eprintln!("skipped: no AVX-512 IFMA here (`--features emulate` runs it)");
            return;
        }
        let one = [Scalar::ONE.to_bytes()];
        // y = p + k for k = 0..19 (the only non-canonical values), either sign: refused even
        // where y - p is a valid y (dalek accepts some of them).
        for k in 0u8..19 {
            for sign in [0u8, 0x80] {
                let mut y = [0xffu8; 32];
                y[0] = 0xed + k;
                y[31] = 0x7f | sign;
                assert_eq!(
                    cofactored_sum_is_identity(&[&y], &one),
                    Err(BatchError::Undecodable(0)),
                    "y = p + {k}, sign {sign}"
                );
            }
        }
        // x = 0 happens for y = 1 and y = -1 (p - 1); with the sign bit set the encoding is
        // refused (RFC 8032 §5.1.3 step 4), without it the point decodes.
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        let mut plus_one = [0u8; 32];
        plus_one[0] = 1;
        for y in [plus_one, minus_one] {
            assert!(cofactored_sum_is_identity(&[&y], &one).is_ok());
            let mut signed = y;
            signed[31] |= 0x80;
            assert_eq!(
                cofactored_sum_is_identity(&[&signed], &one),
                Err(BatchError::Undecodable(0))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn decoding_agrees_with_curve25519_dalek(bytes in prop::array::uniform32(any::<u8>())) {
            // Random strings: about half are points. Ours decodes exactly those dalek decodes
            // (both strict about y < p here), to the same point.
            let y_canonical = {
                let mut y = bytes;
                y[31] &= 0x7f;
                !(y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed)
            };
            let theirs = CompressedEdwardsY(bytes).decompress();
            let x_zero_signed = theirs.is_some_and(|p| p.compress().to_bytes() != bytes);
            let ours = sum_compressed(&[&bytes], &[Scalar::ONE.to_bytes()]);
            if available() {
                match (theirs, y_canonical && !x_zero_signed) {
                    (Some(p), true) => prop_assert_eq!(ours, Some(p.compress().to_bytes())),
                    _ => prop_assert_eq!(ours, None),
                }
            }
        }
    }

    #[test]
    fn the_identity_check_is_cofactored_and_strict() {
        let b = ED25519_BASEPOINT_POINT.compress().to_bytes();
        let s = |v: u64| Scalar::from(v).to_bytes();
        let neg = |v: u64| (-Scalar::from(v)).to_bytes();
        // The arguments are checked on every CPU, before the CPU is.
        assert_eq!(
            cofactored_sum_is_identity(&[&b], &[[0xff; 32]]),
            Err(BatchError::ScalarOutOfRange(0))
        );
        assert_eq!(
            cofactored_sum_is_identity(&[&b, &b], &[s(1)]),
            Err(BatchError::LengthMismatch)
        );
        if !available() {
            assert_eq!(
                cofactored_sum_is_identity(&[&b], &[s(1)]),
                Err(BatchError::Unavailable)
            );
            return;
        }
        let t = EIGHT_TORSION[3].compress().to_bytes();
        let two_b = (ED25519_BASEPOINT_POINT * Scalar::from(2u8))
            .compress()
            .to_bytes();
        // 2B - 2·B = 0.
        assert_eq!(
            cofactored_sum_is_identity(&[&two_b, &b], &[s(1), neg(2)]),
            Ok(true)
        );
        // A torsion point vanishes under [8].
        assert_eq!(
            cofactored_sum_is_identity(&[&t, &b], &[s(5), s(0)]),
            Ok(true)
        );
        // 2B - B does not.
        assert_eq!(
            cofactored_sum_is_identity(&[&two_b, &b], &[s(1), neg(1)]),
            Ok(false)
        );
        let mut not_a_point = b;
        not_a_point[0] ^= 1;
        while CompressedEdwardsY(not_a_point).decompress().is_some() {
            not_a_point[1] = not_a_point[1].wrapping_add(1);
        }
        let pts: Vec<&[u8; 32]> = (0..11)
            .map(|i| if i == 9 { &not_a_point } else { &b })
            .collect();
        assert_eq!(
            cofactored_sum_is_identity(&pts, &vec![s(1); 11]),
            Err(BatchError::Undecodable(9))
        );
    }
}
