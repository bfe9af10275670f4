//! The Montgomery ladder of RFC 7748 §5, four independent scalar multiplications at once.

use zeroize::Zeroize;

use crate::fe::{add, from_lanes, invert, mul, mul_small, square, sub, Fe4};

/// `(A - 2) / 4` for curve25519, as RFC 7748 §5 uses it (`z_2 = E * (AA + a24 * E)`).
const A24: u64 = 121_665;

/// `X25519(k_i, u_i)` for the four lanes: clamping, the ladder over bits 254 down to 0 with
/// constant-time swaps, and the final inversion. Every lane runs the same instructions
/// whatever its scalar; the clamped scalars and the ladder's state are zeroized at the end.
#[target_feature(enable = "avx2")]
pub(crate) fn x25519_x4(scalars: &[[u8; 32]; 4], us: &[[u8; 32]; 4]) -> [[u8; 32]; 4] {
    let mut k = *scalars;
    for s in k.iter_mut() {
        s[0] &= 248;
        s[31] &= 127;
        s[31] |= 64;
    }
    let x1 = Fe4::from_bytes(us);
    let mut x2 = Fe4::constant(1);
    let mut z2 = Fe4::constant(0);
    let mut x3 = x1;
    let mut z3 = Fe4::constant(1);
    // All ones in a lane whose ladder has x2 and x3 swapped.
    let mut swapped = [0u64; 4];
    for t in (0..255).rev() {
        let mut mask = [0u64; 4];
        let mut flip = [0u64; 4];
        for lane in 0..4 {
            mask[lane] = 0u64.wrapping_sub(u64::from((k[lane][t / 8] >> (t % 8)) & 1));
            flip[lane] = mask[lane] ^ swapped[lane];
        }
        swapped = mask;
        let flip = from_lanes(flip);
        Fe4::cswap(flip, &mut x2, &mut x3);
        Fe4::cswap(flip, &mut z2, &mut z3);

        // RFC 7748's step, ordered so that each multiplication's inputs were finished at
        // least one multiplication earlier (its carry chain overlaps the next one's products).
        let a = add(&x2, &z2);
        let b = sub(&x2, &z2);
        let c = add(&x3, &z3);
        let d = sub(&x3, &z3);
        let aa = square(&a);
        let bb = square(&b);
        let da = mul(&d, &a);
        let cb = mul(&c, &b);
        x2 = mul(&aa, &bb);
        let e = sub(&aa, &bb);
        let a24e = mul_small(&e, A24);
        x3 = square(&add(&da, &cb));
        let t = square(&sub(&da, &cb));
        z2 = mul(&e, &add(&aa, &a24e));
        z3 = mul(&x1, &t);
    }
    let flip = from_lanes(swapped);
    Fe4::cswap(flip, &mut x2, &mut x3);
    Fe4::cswap(flip, &mut z2, &mut z3);
    let out = mul(&x2, &invert(&z2)).to_bytes();
    k.zeroize();
    swapped.zeroize();
    x2.clear();
    z2.clear();
    x3.clear();
    z3.clear();
    out
}
