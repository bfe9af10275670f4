//! Four X25519 functions (RFC 7748 §5) at once, in constant time, vectorised for AVX2.
//!
//! # Why this crate exists
//! A large MLS commit or Welcome is mostly DHKEM encapsulations (RFC 9180 §4.1): committing
//! with a path into a group of 10,000 seals a path secret to thousands of resolution nodes, and
//! adding 9,999 members seals their GroupSecrets to as many init keys. Each encapsulation is
//! one fixed-base multiplication (the ephemeral key) and one variable-base multiplication (the
//! shared secret). AWS-LC does the variable-base one in serial 64-bit code, one point at a
//! time; this crate runs four of them side by side, one per 64-bit lane of a 256-bit register
//! (radix 2^25.5 limbs multiplied with `vpmuludq`), which the engine's DHKEM uses for batches.
//!
//! # What it computes
//! [`x25519_x4`] is `X25519(k_i, u_i)` for four pairs, bit for bit what RFC 7748 §5 defines:
//! the scalar clamped, the top bit of `u` ignored, non-canonical `u` accepted, the output
//! canonical. It does not refuse the all-zero output (a small-order `u`); DHKEM's caller must
//! (RFC 9180 §7.1.4), as the engine does.
//!
//! # Constant time
//! The scalars are secret. The ladder swaps with masks, never branches on or indexes by a
//! secret, and runs the same instructions for every input; the final reduction adds a
//! computed multiple of 19 instead of comparing. The clamped scalars and the ladder's state
//! are zeroized before returning.
//!
//! # Tests
//! Against RFC 7748's vectors (including the 1,000-fold iteration), AWS-LC's X25519 on random
//! and on edge inputs (non-canonical `u`, the top bit set, small-order points).
//!
//! # `unsafe`
//! The workspace forbids `unsafe`; this crate denies it and allows it once: calling the AVX2
//! build after `is_x86_feature_detected!("avx2")` confirmed the CPU has it.

#[cfg(target_arch = "x86_64")]
mod fe;
#[cfg(target_arch = "x86_64")]
mod ladder;

/// Whether this CPU runs [`x25519_x4`] (x86-64 with AVX2). Where it does not, use another
/// X25519 implementation.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `X25519(scalars[i], us[i])` for `i` in `0..4` (RFC 7748 §5), or `None` if the CPU lacks
/// AVX2 ([`available`]). The all-zero output of a small-order `u` is returned as it is:
/// refusing it is the caller's job.
pub fn x25519_x4(scalars: &[[u8; 32]; 4], us: &[[u8; 32]; 4]) -> Option<[[u8; 32]; 4]> {
    if !available() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unsafe_code)]
        // SAFETY: `available()` has just confirmed that this CPU has AVX2, the only feature
        // `ladder::x25519_x4` and everything it calls are compiled for.
        Some(unsafe { ladder::x25519_x4(scalars, us) })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use aws_lc_rs::agreement;
    use proptest::prelude::*;

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn both(k: &[[u8; 32]; 4], u: &[[u8; 32]; 4]) -> [[u8; 32]; 4] {
        x25519_x4(k, u).expect("the test machine has AVX2")
    }

    /// AWS-LC's X25519, `None` where it refuses (the all-zero output).
    fn aws_lc(k: &[u8; 32], u: &[u8; 32]) -> Option<[u8; 32]> {
        let sk = agreement::PrivateKey::from_private_key(&agreement::X25519, k).unwrap();
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, u);
        agreement::agree(&sk, peer, (), |s| Ok(<[u8; 32]>::try_from(s).unwrap())).ok()
    }

    #[test]
    fn the_avx2_build_runs_on_x86_64_test_machines() {
        // Every machine this project is tested on has AVX2; the tests below need it.
        #[cfg(target_arch = "x86_64")]
        assert!(available());
    }

    #[test]
    fn rfc7748_section_5_2_vectors() {
        let k1 = hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        let u1 = hex32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        let r1 = hex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
        let k2 = hex32("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
        let u2 = hex32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
        let r2 = hex32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
        let out = both(&[k1, k2, k2, k1], &[u1, u2, u2, u1]);
        assert_eq!(out, [r1, r2, r2, r1]);
    }

    #[test]
    fn rfc7748_iterated_1000_times() {
        // k = u = 9; then k, u = X25519(k, u), k, 1,000 times, in every lane.
        let mut k = [[0u8; 32]; 4];
        for lane in k.iter_mut() {
            lane[0] = 9;
        }
        let mut u = k;
        for i in 1..=1000 {
            let r = both(&k, &u);
            u = k;
            k = r;
            if i == 1 {
                assert_eq!(
                    k[0],
                    hex32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
                );
            }
        }
        assert!(k.iter().all(|l| *l == k[0]));
        assert_eq!(
            k[0],
            hex32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
        );
    }

    #[test]
    fn small_order_and_edge_u_match_aws_lc() {
        let small = |x: u8| {
            let mut b = [0u8; 32];
            b[0] = x;
            b
        };
        // p, p + 1, 2^255 - 1, the top bit set on 9, and the order-8 point
        // 0xe0eb7a7c... (RFC 7748 §7's list of small-order u).
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut p1 = p;
        p1[0] += 1;
        let mut top9 = small(9);
        top9[31] = 0x80;
        let order8 = hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        let us = [
            small(0),
            small(1),
            p,
            p1,
            [0xff; 32],
            top9,
            order8,
            small(9),
        ];
        let k = hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        for pair in us.chunks_exact(4) {
            let u: [[u8; 32]; 4] = pair.try_into().unwrap();
            let out = both(&[k; 4], &u);
            for lane in 0..4 {
                match aws_lc(&k, &u[lane]) {
                    Some(r) => assert_eq!(out[lane], r, "u = {}", hex::encode(u[lane])),
                    None => assert_eq!(out[lane], [0; 32], "u = {}", hex::encode(u[lane])),
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_inputs_match_aws_lc(k in any::<[[u8; 32]; 4]>(), u in any::<[[u8; 32]; 4]>()) {
            let out = both(&k, &u);
            for lane in 0..4 {
                let expected = aws_lc(&k[lane], &u[lane]).unwrap_or([0; 32]);
                prop_assert_eq!(out[lane], expected);
            }
        }
    }
}
