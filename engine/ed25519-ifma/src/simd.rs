//! The eight-lane operations the arithmetic uses, under short names: AVX-512 (F + IFMA)
//! intrinsics, or, with the `emulate` feature, the same operations on `[u64; 8]` in portable
//! code. The emulation exists to test the arithmetic on CPUs without AVX-512 IFMA: it follows
//! the instructions' definitions exactly, including that `vpmadd52luq` / `vpmadd52huq` read only
//! the low 52 bits of their multiplicands, so a limb that outgrows its bound gives a wrong
//! answer under the emulation as it would on the hardware.

#[cfg(not(feature = "emulate"))]
pub(crate) use core::arch::x86_64::{
    __m512i as V, _mm512_add_epi64 as add, _mm512_and_si512 as and,
    _mm512_madd52hi_epu64 as madd52hi, _mm512_madd52lo_epu64 as madd52lo,
    _mm512_mask_blend_epi64 as blend, _mm512_permutexvar_epi64 as permute,
    _mm512_setzero_si512 as zero, _mm512_slli_epi64 as shl, _mm512_srli_epi64 as shr,
    _mm512_sub_epi64 as sub,
};

/// `[u64; 8]` viewed as a vector register.
#[cfg(not(feature = "emulate"))]
#[allow(unsafe_code)]
#[inline]
pub(crate) fn from_lanes(lanes: [u64; 8]) -> V {
    // SAFETY: `__m512i` and `[u64; 8]` are both 64 bytes of plain integer data; every bit
    // pattern is valid for both, so the transmute (whose sizes the compiler checks) is sound.
    unsafe { core::mem::transmute::<[u64; 8], V>(lanes) }
}

/// A vector register as `[u64; 8]`.
#[cfg(not(feature = "emulate"))]
#[allow(unsafe_code)]
#[inline]
pub(crate) fn to_lanes(v: V) -> [u64; 8] {
    // SAFETY: as in `from_lanes`: same size, no invalid bit patterns on either side.
    unsafe { core::mem::transmute::<V, [u64; 8]>(v) }
}

#[cfg(feature = "emulate")]
pub(crate) use emulated::*;

#[cfg(feature = "emulate")]
mod emulated {
    /// Eight 64-bit lanes.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct V(pub(crate) [u64; 8]);

    const M52: u64 = (1 << 52) - 1;

    fn map2(a: V, b: V, f: impl Fn(u64, u64) -> u64) -> V {
        V(core::array::from_fn(|k| f(a.0[k], b.0[k])))
    }

    pub(crate) fn from_lanes(lanes: [u64; 8]) -> V {
        V(lanes)
    }

    pub(crate) fn to_lanes(v: V) -> [u64; 8] {
        v.0
    }

    pub(crate) fn zero() -> V {
        V([0; 8])
    }

    pub(crate) fn add(a: V, b: V) -> V {
        map2(a, b, u64::wrapping_add)
    }

    pub(crate) fn sub(a: V, b: V) -> V {
        map2(a, b, u64::wrapping_sub)
    }

    pub(crate) fn and(a: V, b: V) -> V {
        map2(a, b, |x, y| x & y)
    }

    pub(crate) fn shl<const S: u32>(a: V) -> V {
        V(a.0.map(|x| if S > 63 { 0 } else { x << S }))
    }

    pub(crate) fn shr<const S: u32>(a: V) -> V {
        V(a.0.map(|x| if S > 63 { 0 } else { x >> S }))
    }

    /// `a + low 52 bits of (b[51:0] × c[51:0])`.
    pub(crate) fn madd52lo(a: V, b: V, c: V) -> V {
        V(core::array::from_fn(|k| {
            let p = u128::from(b.0[k] & M52) * u128::from(c.0[k] & M52);
            a.0[k].wrapping_add(u64::try_from(p & u128::from(M52)).unwrap_or(0))
        }))
    }

    /// `a + bits 52-103 of (b[51:0] × c[51:0])`.
    pub(crate) fn madd52hi(a: V, b: V, c: V) -> V {
        V(core::array::from_fn(|k| {
            let p = u128::from(b.0[k] & M52) * u128::from(c.0[k] & M52);
            a.0[k].wrapping_add(u64::try_from(p >> 52).unwrap_or(0))
        }))
    }

    /// Lane `k` from `b` where bit `k` of `mask` is set, else from `a`.
    pub(crate) fn blend(mask: u8, a: V, b: V) -> V {
        V(core::array::from_fn(|k| {
            if mask >> k & 1 == 1 {
                b.0[k]
            } else {
                a.0[k]
            }
        }))
    }

    /// Lane `k` is `a[idx[k] mod 8]`.
    pub(crate) fn permute(idx: V, a: V) -> V {
        V(core::array::from_fn(|k| a.0[(idx.0[k] & 7) as usize]))
    }
}
