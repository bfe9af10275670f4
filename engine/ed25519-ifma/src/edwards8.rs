//! Eight points of edwards25519 at once: decoding (RFC 8032 §5.1.3), and the extended-coordinate
//! formulas of Hisil, Wong, Carter and Dawson (2008) for `a = -1`, which are complete on this
//! curve (`-1` is a square and `d` is not), so no input needs a special case.

use crate::simd::{permute, V};

use crate::fe51::{constants, Fe51};
use crate::fe8::Fe8;
use crate::simd::from_lanes;

/// Eight points in extended coordinates `(X : Y : Z : T)`, `x = X/Z`, `y = Y/Z`, `xy = T/Z`.
#[derive(Clone, Copy)]
pub(crate) struct Extended8 {
    pub(crate) x: Fe8,
    pub(crate) y: Fe8,
    pub(crate) z: Fe8,
    pub(crate) t: Fe8,
}

/// Eight affine points ready to be added: `(y + x, y - x, 2d x y)`.
#[derive(Clone, Copy)]
pub(crate) struct Niels8 {
    pub(crate) y_plus_x: Fe8,
    pub(crate) y_minus_x: Fe8,
    pub(crate) xy2d: Fe8,
}

/// The number of 64-bit words of an [`Extended8`] lane-set: 4 coordinates × 5 limbs.
pub(crate) const EXTENDED_WORDS: usize = 20;

impl Extended8 {
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(crate) fn identity() -> Extended8 {
        let zero = Fe8::splat(&Fe51::ZERO);
        let one = Fe8::splat(&Fe51::ONE);
        Extended8 {
            x: zero,
            y: one,
            z: one,
            t: zero,
        }
    }

    /// The twenty registers, coordinate-major (`x` limbs 0-4, then `y`, `z`, `t`).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn to_registers(self) -> [V; EXTENDED_WORDS] {
        let mut out = [self.x.0[0]; EXTENDED_WORDS];
        for (c, f) in [self.x, self.y, self.z, self.t].iter().enumerate() {
            out[5 * c..5 * c + 5].copy_from_slice(&f.0);
        }
        out
    }

    /// The inverse of [`Extended8::to_registers`].
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn from_registers(r: &[V; EXTENDED_WORDS]) -> Extended8 {
        let fe = |c: usize| Fe8(core::array::from_fn(|i| r[5 * c + i]));
        Extended8 {
            x: fe(0),
            y: fe(1),
            z: fe(2),
            t: fe(3),
        }
    }

    /// `self + q` for an affine `q` (7 multiplications).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn add_niels(&self, q: &Niels8) -> Extended8 {
        let a = self.y.sub(&self.x).mul(&q.y_minus_x);
        let b = self.y.add(&self.x).mul(&q.y_plus_x);
        let c = self.t.mul(&q.xy2d);
        let d = self.z.add(&self.z);
        finish(a, b, c, d)
    }

    /// `self + q` for any `q` (9 multiplications).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn add(&self, q: &Extended8) -> Extended8 {
        let d2 = Fe8::splat(&constants().d2);
        let a = self.y.sub(&self.x).mul(&q.y.sub(&q.x));
        let b = self.y.add(&self.x).mul(&q.y.add(&q.x));
        let c = self.t.mul(&q.t).mul(&d2);
        let zz = self.z.mul(&q.z);
        let d = zz.add(&zz);
        finish(a, b, c, d)
    }

    /// `2 self` (4 multiplications and 4 squarings).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn double(&self) -> Extended8 {
        let a = self.x.square();
        let b = self.y.square();
        let zz = self.z.square();
        let c = zz.add(&zz);
        // a = -1: D = -A, E = (X + Y)² - A - B, G = D + B, F = G - C, H = D - B.
        let e = self.x.add(&self.y).square().sub(&a).sub(&b);
        let g = b.sub(&a);
        let f = g.sub(&c);
        let h = a.add(&b).neg();
        Extended8 {
            x: e.mul(&f),
            y: g.mul(&h),
            z: f.mul(&g),
            t: e.mul(&h),
        }
    }

    /// Every lane holds the sum of the eight lanes.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(crate) fn sum_lanes(&self) -> Extended8 {
        let mut s = *self;
        for shift in [4u64, 2, 1] {
            let idx = from_lanes(core::array::from_fn(|k| (k as u64) ^ shift));
            let perm = |f: &Fe8| Fe8(f.0.map(|v| permute(idx, v)));
            let other = Extended8 {
                x: perm(&s.x),
                y: perm(&s.y),
                z: perm(&s.z),
                t: perm(&s.t),
            };
            s = s.add(&other);
        }
        s
    }

    /// Lane 0 as affine `(x, y)` (for tests and the final check).
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    pub(crate) fn lane0(&self) -> (Fe51, Fe51, Fe51) {
        (self.x.lanes()[0], self.y.lanes()[0], self.z.lanes()[0])
    }
}

/// The common tail of both additions (`E = B - A`, `F = D - C`, `G = D + C`, `H = B + A`).
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
#[inline]
fn finish(a: Fe8, b: Fe8, c: Fe8, d: Fe8) -> Extended8 {
    let e = b.sub(&a);
    let f = d.sub(&c);
    let g = d.add(&c);
    let h = b.add(&a);
    Extended8 {
        x: e.mul(&f),
        y: g.mul(&h),
        z: f.mul(&g),
        t: e.mul(&h),
    }
}

impl Niels8 {
    /// `-self` in the lanes of `mask`: negating `(x, y)` swaps `y + x` and `y - x` and negates
    /// `2dxy`.
    #[cfg_attr(
        not(feature = "emulate"),
        target_feature(enable = "avx512f,avx512ifma")
    )]
    #[inline]
    pub(crate) fn negate_lanes(&self, mask: u8) -> Niels8 {
        Niels8 {
            y_plus_x: self.y_plus_x.select(&self.y_minus_x, mask),
            y_minus_x: self.y_minus_x.select(&self.y_plus_x, mask),
            xy2d: self.xy2d.select(&self.xy2d.neg(), mask),
        }
    }
}

/// Decodes eight encodings (RFC 8032 §5.1.3). Lane `k` of the result is the point of
/// `encodings[k]` if bit `k` of the returned mask is set; otherwise the encoding is invalid
/// (`y >= p`, no square root, or `x = 0` with the sign bit set) and the lane holds the identity.
#[cfg_attr(
    not(feature = "emulate"),
    target_feature(enable = "avx512f,avx512ifma")
)]
pub(crate) fn decode8(encodings: &[[u8; 32]; 8]) -> (Niels8, u8) {
    let c = constants();
    let ys: [Fe51; 8] = core::array::from_fn(|k| Fe51::from_bytes(&encodings[k]));
    let y = Fe8::from_elements(&ys);
    let one = Fe8::splat(&Fe51::ONE);
    // x² = u / v with u = y² - 1, v = d y² + 1; candidate r = u v³ (u v⁷)^((p-5)/8).
    let yy = y.square();
    let u = yy.sub(&one);
    let v = yy.mul(&Fe8::splat(&c.d)).add(&one);
    let v3 = v.square().mul(&v);
    let v7 = v3.square().mul(&v);
    let r = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
    let check = v.mul(&r.square());
    let r_i = r.mul(&Fe8::splat(&c.sqrt_m1));
    let (us, checks, rs, r_is) = (u.lanes(), check.lanes(), r.lanes(), r_i.lanes());
    let mut valid = 0u8;
    let mut xs = [Fe51::ZERO; 8];
    let mut ys_out = [Fe51::ONE; 8];
    for k in 0..8 {
        let canonical_y = Fe51(ys[k].canonical()).0 == ys[k].0;
        let x = if checks[k].equals(&us[k]) {
            rs[k]
        } else if checks[k].equals(&us[k].neg()) {
            r_is[k]
        } else {
            continue;
        };
        let sign = encodings[k][31] >> 7 == 1;
        if !canonical_y || (x.is_zero() && sign) {
            continue;
        }
        xs[k] = if x.is_odd() == sign { x } else { x.neg() };
        ys_out[k] = ys[k];
        valid |= 1 << k;
    }
    let x = Fe8::from_elements(&xs);
    let y = Fe8::from_elements(&ys_out);
    let niels = Niels8 {
        y_plus_x: y.add(&x),
        y_minus_x: y.sub(&x),
        xy2d: x.mul(&y).mul(&Fe8::splat(&c.d2)),
    };
    (niels, valid)
}
