//! Eight elements of GF(2^255 - 19) at once, one per 64-bit lane of five AVX-512 registers,
//! multiplied with the IFMA instructions (`vpmadd52luq` / `vpmadd52huq`).
//!
//! # Representation and bounds
//! Limb `i` of lane `k` holds bits `51 i ..` of element `k`: radix 2^51, so the 52-bit inputs of
//! IFMA leave one bit of slack. **Every function takes and returns limbs below 2^52**, which is
//! all IFMA reads of its operands. The bounds that keep the arithmetic exact:
//! - a product `a_i b_j` of two 52-bit limbs splits into `lo` (bits 0-51, weight
//!   `2^(51(i+j))`) and `hi` (bits 52-103, weight `2^(51(i+j)+52) = 2 · 2^(51(i+j+1))`). A
//!   column sums at most five of each, so it stays below `5·2^52 + 2·5·2^52 < 2^56`;
//! - columns 5-9 fold into 0-4 times 19 (`2^255 = 19 mod p`): below `20 · 2^56 < 2^61`;
//! - one parallel carry then leaves limbs 1-4 below `2^51 + 2^10` and limb 0 below
//!   `2^51 + 19 · 2^10`: all below 2^52 again.
//!
//! Sums and differences carry before they return, so any output feeds any input. Values are
//! not canonical; [`Fe8::lanes`] and [`crate::fe51::Fe51::canonical`] give the unique form.
//! All arithmetic here is variable-time-safe by construction (no branches, no lookups on
//! values), though it is used only on public data.

// `#[target_feature]` functions do not implement the `Fn` traits, so they are wrapped in
// closures to be mapped; under `emulate` clippy sees those closures as redundant.
#![allow(clippy::redundant_closure)]

use crate::simd::{
    add, and, blend, from_lanes, madd52hi, madd52lo, shl, shr, sub, to_lanes, zero, V,
};

use crate::fe51::{Fe51, MASK};

/// Eight field elements, lane `k` of each register being element `k`.
#[derive(Clone, Copy)]
pub(crate) struct Fe8(pub(crate) [V; 5]);

#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
#[inline]
fn splat(v: u64) -> V {
    from_lanes([v; 8])
}

/// `19 x` as shifts and adds (a 64-bit multiply is three micro-ops and slow).
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
#[inline]
fn times19(x: V) -> V {
    let x16 = shl::<4>(x);
    let x2 = shl::<1>(x);
    add(add(x16, x2), x)
}

/// One parallel carry: limb `i`'s bits above 51 move to limb `i + 1`, the top's to limb 0
/// times 19. Takes limbs below 2^61, returns limbs below 2^52 (see the module bounds).
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
#[inline]
fn carry(r: [V; 5]) -> Fe8 {
    let mask = splat(MASK);
    let c = r.map(|x| shr::<51>(x));
    let l = r.map(|x| and(x, mask));
    Fe8([
        add(l[0], times19(c[4])),
        add(l[1], c[0]),
        add(l[2], c[1]),
        add(l[3], c[2]),
        add(l[4], c[3]),
    ])
}

/// Columns 0-8 of `lo` and `hi` (see the module bounds) to a reduced element.
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
#[inline]
fn reduce(lo: [V; 9], hi: [V; 9]) -> Fe8 {
    // col_k = lo_k + 2 hi_{k-1}, k = 0..=9; then col_k + 19 col_{k+5}.
    let mut col = [zero(); 10];
    col[0] = lo[0];
    for k in 1..9 {
        col[k] = add(lo[k], shl::<1>(hi[k - 1]));
    }
    col[9] = shl::<1>(hi[8]);
    let mut r = [zero(); 5];
    for k in 0..5 {
        r[k] = add(col[k], times19(col[k + 5]));
    }
    carry(r)
}

impl Fe8 {
    /// Eight copies of one element (its limbs must be below 2^52).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn splat(f: &Fe51) -> Fe8 {
        Fe8(f.0.map(|v| splat(v)))
    }

    /// Eight elements from their limbs (each below 2^52).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn from_elements(e: &[Fe51; 8]) -> Fe8 {
        let mut limbs = [[0u64; 8]; 5];
        for (k, f) in e.iter().enumerate() {
            for (i, l) in f.0.iter().enumerate() {
                limbs[i][k] = *l;
            }
        }
        Fe8(limbs.map(from_lanes))
    }

    /// The eight elements (not canonical).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn lanes(&self) -> [Fe51; 8] {
        let limbs = self.0.map(to_lanes);
        core::array::from_fn(|k| Fe51(core::array::from_fn(|i| limbs[i][k])))
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn add(&self, o: &Fe8) -> Fe8 {
        carry(core::array::from_fn(|i| add(self.0[i], o.0[i])))
    }

    /// `self - o` as `self + 4p - o`: `4p`'s limbs (`2^53 - 76`, `2^53 - 4`) exceed any
    /// input limb, so nothing underflows.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn sub(&self, o: &Fe8) -> Fe8 {
        let four_p0 = splat(4 * (MASK - 18));
        let four_p = splat(4 * MASK);
        carry(core::array::from_fn(|i| {
            let bias = if i == 0 { four_p0 } else { four_p };
            sub(add(self.0[i], bias), o.0[i])
        }))
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn neg(&self) -> Fe8 {
        Fe8([zero(); 5]).sub(self)
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn mul(&self, o: &Fe8) -> Fe8 {
        let (a, b) = (&self.0, &o.0);
        let mut lo = [zero(); 9];
        let mut hi = [zero(); 9];
        for i in 0..5 {
            for j in 0..5 {
                lo[i + j] = madd52lo(lo[i + j], a[i], b[j]);
                hi[i + j] = madd52hi(hi[i + j], a[i], b[j]);
            }
        }
        reduce(lo, hi)
    }

    /// `self²`: the ten cross products once, doubled, plus the five squares.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn square(&self) -> Fe8 {
        let a = &self.0;
        let mut lo = [zero(); 9];
        let mut hi = [zero(); 9];
        for i in 0..5 {
            for j in i + 1..5 {
                lo[i + j] = madd52lo(lo[i + j], a[i], a[j]);
                hi[i + j] = madd52hi(hi[i + j], a[i], a[j]);
            }
        }
        let mut lo = lo.map(|x| shl::<1>(x));
        let mut hi = hi.map(|x| shl::<1>(x));
        for i in 0..5 {
            lo[2 * i] = madd52lo(lo[2 * i], a[i], a[i]);
            hi[2 * i] = madd52hi(hi[2 * i], a[i], a[i]);
        }
        reduce(lo, hi)
    }

    /// `self^(2^n)`.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn square_n(&self, n: u32) -> Fe8 {
        let mut x = *self;
        for _ in 0..n {
            x = x.square();
        }
        x
    }

    /// `self^((p-5)/8) = self^(2^252 - 3)`, the exponent of the square root of a ratio.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(crate) fn pow_p58(&self) -> Fe8 {
        let x = self;
        let t0 = x.square(); // 2
        let t1 = x.mul(&t0.square_n(2)); // 9
        let t0 = t0.mul(&t1); // 11
        let t1 = t1.mul(&t0.square()); // 31 = 2^5 - 1
        let t1 = t1.square_n(5).mul(&t1); // 2^10 - 1
        let t2 = t1.square_n(10).mul(&t1); // 2^20 - 1
        let t2 = t2.square_n(20).mul(&t2); // 2^40 - 1
        let t1 = t2.square_n(10).mul(&t1); // 2^50 - 1
        let t2 = t1.square_n(50).mul(&t1); // 2^100 - 1
        let t2 = t2.square_n(100).mul(&t2); // 2^200 - 1
        let t1 = t2.square_n(50).mul(&t1); // 2^250 - 1
        t1.square_n(2).mul(x) // 2^252 - 3
    }

    /// Lane by lane: `b`'s element where `mask` has the lane's bit, else `self`'s.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn select(&self, b: &Fe8, mask: u8) -> Fe8 {
        Fe8(core::array::from_fn(|i| blend(mask, self.0[i], b.0[i])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a `#[target_feature]` check if the CPU has the features (else the test skips).
    macro_rules! with_ifma {
        ($f:ident($($arg:expr),*)) => {
            if !crate::available() {
                eprintln!("skipped: no AVX-512 IFMA here (`--features emulate` runs it)");
            } else {
                #[allow(unsafe_code, unused_unsafe)]
                // SAFETY: the CPU has the features `$f` is compiled for (checked just before).
                unsafe {
                    $f($($arg),*)
                }
            }
        };
    }

    fn elements(max_bits: u32) -> impl Strategy<Value = [Fe51; 8]> {
        prop::array::uniform8(prop::array::uniform5(0u64..(1u64 << max_bits)).prop_map(Fe51))
    }

    proptest! {
        #[test]
        fn lanes_match_the_scalar_field(a in elements(52), b in elements(52)) {
            with_ifma!(lanes_match(&a, &b));
        }
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    fn lanes_match(a: &[Fe51; 8], b: &[Fe51; 8]) {
        let (x, y) = (Fe8::from_elements(a), Fe8::from_elements(b));
        let outs = [
            x.mul(&y),
            x.square(),
            x.add(&y),
            x.sub(&y),
            x.neg(),
            x.pow_p58(),
        ];
        for (k, (ak, bk)) in a.iter().zip(b).enumerate() {
            let want = [
                ak.mul(bk),
                ak.square(),
                ak.add(bk),
                ak.sub(bk),
                ak.neg(),
                // (p - 5) / 8 = 2^252 - 3.
                ak.pow(&{
                    let mut e = [0xffu8; 32];
                    e[0] = 0xfd;
                    e[31] = 0x0f;
                    e
                }),
            ];
            for (o, w) in outs.iter().zip(want) {
                let got = o.lanes()[k];
                assert!(got.0.iter().all(|&l| l < 1 << 52), "limb bound");
                assert!(got.equals(&w), "lane {k}");
            }
        }
    }

    #[test]
    fn largest_limbs_stay_in_bounds() {
        with_ifma!(largest_limbs());
    }

    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    fn largest_limbs() {
        let max = Fe51([(1 << 52) - 1; 5]);
        {
            let x = Fe8::from_elements(&[max; 8]);
            let mut y = x;
            for _ in 0..20 {
                y = y.mul(&x).add(&y).sub(&x).square();
            }
            let mut z = max;
            for _ in 0..20 {
                z = z.mul(&max).add(&z).sub(&max).square();
            }
            for lane in y.lanes() {
                assert!(lane.0.iter().all(|&l| l < 1 << 52));
                assert!(lane.equals(&z));
            }
        }
    }
}
