//! One element of GF(2^255 - 19) in five 51-bit limbs, in plain 64-bit arithmetic.
//!
//! This is the slow, obviously-correct side of the crate: it derives the curve constants, puts
//! a lane of the vector arithmetic into canonical form (to compare, to read a sign, to encode)
//! and inverts the final point for the tests. Nothing here is on a hot path.

/// `2^51 - 1`.
pub(crate) const MASK: u64 = (1 << 51) - 1;

/// An element of GF(p), `p = 2^255 - 19`, as `Σ l_i 2^(51 i)`. Limbs may exceed 51 bits (up to
/// 2^54) between operations; [`Fe51::canonical`] gives the unique form with every limb below
/// 2^51 and the value below `p`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fe51(pub(crate) [u64; 5]);

impl Fe51 {
    pub(crate) const ZERO: Fe51 = Fe51([0; 5]);
    pub(crate) const ONE: Fe51 = Fe51([1, 0, 0, 0, 0]);

    /// The low 255 bits of a little-endian encoding (the top bit is ignored).
    pub(crate) fn from_bytes(b: &[u8; 32]) -> Fe51 {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Fe51([
            word(0) & MASK,
            (word(6) >> 3) & MASK,
            (word(12) >> 6) & MASK,
            (word(19) >> 1) & MASK,
            (word(24) >> 12) & MASK,
        ])
    }

    pub(crate) fn from_u64(v: u64) -> Fe51 {
        Fe51([v & MASK, v >> 51, 0, 0, 0])
    }

    /// One carry pass: every limb below 2^51 except the lowest, which takes `19 ×` the carry
    /// out of the top.
    fn carry(mut l: [u64; 5]) -> [u64; 5] {
        for i in 0..4 {
            l[i + 1] += l[i] >> 51;
            l[i] &= MASK;
        }
        let c = l[4] >> 51;
        l[4] &= MASK;
        l[0] += 19 * c;
        l
    }

    /// The canonical limbs: each below 2^51, the value below `p`.
    pub(crate) fn canonical(&self) -> [u64; 5] {
        // Three passes leave limbs 1-4 below 2^51 and limb 0 below 2^51 (a third wrap can add
        // 19 only to a limb 0 that the second left small).
        let mut l = Self::carry(Self::carry(Self::carry(self.0)));
        // Now the value v < 2^255; v >= p exactly when v + 19 carries out of bit 255.
        let mut q = (l[0] + 19) >> 51;
        for limb in &l[1..] {
            q = (limb + q) >> 51;
        }
        l[0] += 19 * q;
        for i in 0..4 {
            l[i + 1] += l[i] >> 51;
            l[i] &= MASK;
        }
        l[4] &= MASK;
        l
    }

    /// The canonical little-endian encoding.
    #[cfg(test)]
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        let l = self.canonical();
        let mut out = [0u8; 32];
        let mut acc: u128 = 0;
        let mut bits = 0;
        let mut at = 0;
        for limb in l {
            acc |= u128::from(limb) << bits;
            bits += 51;
            while bits >= 8 && at < 32 {
                out[at] = acc.to_le_bytes()[0];
                acc >>= 8;
                bits -= 8;
                at += 1;
            }
        }
        if at < 32 {
            out[at] = acc.to_le_bytes()[0];
        }
        out
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.canonical() == [0; 5]
    }

    pub(crate) fn equals(&self, other: &Fe51) -> bool {
        self.canonical() == other.canonical()
    }

    /// The "sign" of RFC 8032: the least significant bit of the canonical value.
    pub(crate) fn is_odd(&self) -> bool {
        self.canonical()[0] & 1 == 1
    }

    pub(crate) fn add(&self, o: &Fe51) -> Fe51 {
        let mut l = [0; 5];
        for (i, limb) in l.iter_mut().enumerate() {
            *limb = self.0[i] + o.0[i];
        }
        Fe51(Self::carry(l))
    }

    /// `self - o`, computed as `self + 16p - o` so that no limb underflows (limbs below 2^54).
    pub(crate) fn sub(&self, o: &Fe51) -> Fe51 {
        let sixteen_p = [16 * (MASK - 18), 16 * MASK, 16 * MASK, 16 * MASK, 16 * MASK];
        let mut l = [0; 5];
        for (i, limb) in l.iter_mut().enumerate() {
            *limb = self.0[i] + sixteen_p[i] - o.0[i];
        }
        Fe51(Self::carry(l))
    }

    pub(crate) fn neg(&self) -> Fe51 {
        Fe51::ZERO.sub(self)
    }

    pub(crate) fn mul(&self, o: &Fe51) -> Fe51 {
        let a = self.0.map(u128::from);
        let b = o.0.map(u128::from);
        let mut c = [0u128; 5];
        for i in 0..5 {
            for j in 0..5 {
                if i + j < 5 {
                    c[i + j] += a[i] * b[j];
                } else {
                    c[i + j - 5] += 19 * a[i] * b[j];
                }
            }
        }
        for i in 0..4 {
            c[i + 1] += c[i] >> 51;
            c[i] &= u128::from(MASK);
        }
        let top = c[4] >> 51;
        c[4] &= u128::from(MASK);
        c[0] += 19 * top;
        c[1] += c[0] >> 51;
        c[0] &= u128::from(MASK);
        let mut l = [0u64; 5];
        for (out, v) in l.iter_mut().zip(c) {
            // Every limb is below 2^52 here, so the conversion cannot fail.
            *out = u64::try_from(v).unwrap_or(u64::MAX);
        }
        Fe51(Self::carry(l))
    }

    pub(crate) fn square(&self) -> Fe51 {
        self.mul(self)
    }

    /// `self^e` for a little-endian exponent (square and multiply; not constant time, and only
    /// used on public values).
    pub(crate) fn pow(&self, e: &[u8; 32]) -> Fe51 {
        let mut acc = Fe51::ONE;
        for byte in e.iter().rev() {
            for bit in (0..8).rev() {
                acc = acc.square();
                if (byte >> bit) & 1 == 1 {
                    acc = acc.mul(self);
                }
            }
        }
        acc
    }

    /// `self^(p-2)`: the inverse of a non-zero element (zero maps to zero).
    pub(crate) fn invert(&self) -> Fe51 {
        let mut e = [0xffu8; 32];
        e[0] = 0xeb; // p - 2 = 2^255 - 21
        e[31] = 0x7f;
        self.pow(&e)
    }
}

/// The curve constants, derived once from their definitions.
pub(crate) struct Constants {
    /// `d = -121665 / 121666`.
    pub(crate) d: Fe51,
    /// `2d`.
    pub(crate) d2: Fe51,
    /// `sqrt(-1) = 2^((p-1)/4)`.
    pub(crate) sqrt_m1: Fe51,
}

pub(crate) fn constants() -> &'static Constants {
    static C: std::sync::OnceLock<Constants> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let d = Fe51::from_u64(121_665)
            .neg()
            .mul(&Fe51::from_u64(121_666).invert());
        // (p - 1) / 4 = 2^253 - 5.
        let mut e = [0xffu8; 32];
        e[0] = 0xfb;
        e[31] = 0x1f;
        Constants {
            d,
            d2: d.add(&d),
            sqrt_m1: Fe51::from_u64(2).pow(&e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    fn p() -> BigUint {
        (BigUint::from(1u8) << 255u32) - BigUint::from(19u8)
    }

    fn big(f: &Fe51) -> BigUint {
        f.0.iter()
            .enumerate()
            .fold(BigUint::from(0u8), |acc, (i, &l)| {
                acc + (BigUint::from(l) << (51 * i))
            })
    }

    fn limbs(max_bits: u32) -> impl Strategy<Value = Fe51> {
        prop::array::uniform5(0u64..(1u64 << max_bits)).prop_map(Fe51)
    }

    proptest! {
        #[test]
        fn arithmetic_matches_big_integers(a in limbs(54), b in limbs(54)) {
            let (x, y) = (big(&a), big(&b));
            prop_assert_eq!(big(&a.mul(&b)) % p(), (&x * &y) % p());
            prop_assert_eq!(big(&a.add(&b)) % p(), (&x + &y) % p());
            prop_assert_eq!(big(&a.sub(&b)) % p(), (&x + p() * 16u8 - &y) % p());
            let c = Fe51(a.canonical());
            prop_assert_eq!(big(&c), &x % p());
            prop_assert!(c.0.iter().all(|&l| l <= MASK));
        }
    }

    #[test]
    fn canonical_form_at_the_edges() {
        // p, p + 1, 2^255 - 1, 2p - 1 and the largest limbs all reduce to x mod p.
        let m = MASK;
        for l in [
            [m - 18, m, m, m, m],
            [m - 17, m, m, m, m],
            [m, m, m, m, m],
            [m - 19, m, m, m, m],
            [u64::MAX >> 10; 5],
            [0; 5],
        ] {
            let f = Fe51(l);
            assert_eq!(big(&Fe51(f.canonical())), big(&f) % p());
        }
    }

    #[test]
    fn constants_are_what_they_claim() {
        let c = constants();
        let minus_one = Fe51::ONE.neg();
        assert!(c.sqrt_m1.square().equals(&minus_one));
        // d · 121666 = -121665.
        assert!(c
            .d
            .mul(&Fe51::from_u64(121_666))
            .equals(&Fe51::from_u64(121_665).neg()));
        assert!(Fe51::from_u64(7)
            .mul(&Fe51::from_u64(7).invert())
            .equals(&Fe51::ONE));
        // The encoding of d matches RFC 8032 §5.1: 0x52036cee...78a3 (big-endian).
        let mut be = c.d.to_bytes();
        be.reverse();
        assert_eq!(be[0], 0x52);
        assert_eq!(be[31], 0xa3);
    }

    #[test]
    fn bytes_round_trip() {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = u8::try_from(i)
                .unwrap_or(0)
                .wrapping_mul(37)
                .wrapping_add(11);
        }
        b[31] &= 0x7f;
        assert_eq!(Fe51::from_bytes(&b).to_bytes(), b);
    }
}
