//! Ed25519 batch verification: many `(public key, message, signature)` triples checked with one
//! multi-scalar multiplication instead of one double-scalar multiplication each.
//!
//! This module owns the only use of `curve25519-dalek` and of `mls-ed25519-ifma` (the same
//! computation in AVX-512 IFMA, used where the CPU has it) in the engine. Single signatures are
//! still verified by AWS-LC ([`super::aws_lc`]); a batch is the fast path for the places that
//! verify thousands of signatures at once (the leaves of a received tree, §12.4.3.1; the
//! KeyPackages of a large add, §10.1). The one single check here is [`verify_parts`]: a
//! signature over a message given in pieces (a received commit's bytes and the GroupContext),
//! hashed where they lie instead of copied together for AWS-LC, with AWS-LC's acceptance.
//!
//! # What a batch accepts
//!
//! For random 128-bit `z_i` drawn from the OS generator, the batch checks
//! `[8]( [-Σ z_i s_i] B + Σ [z_i] R_i + Σ [z_i k_i] A_i ) = 0` with `k_i = SHA-512(R_i || A_i ||
//! M_i)`: the cofactored group equation of RFC 8032 §5.1.7, `[8][S]B = [8]R + [8][k]A'`. A forged
//! or altered signature makes the sum non-zero except with probability about 2^-125.
//!
//! The batch is strict and never the last word on a rejection: it returns `false` (and the caller
//! falls back to the single verifier, which decides) for
//! - a public key or signature of the wrong length, `S >= L` (RFC 8032 §5.1.7 step 1);
//! - a non-canonical encoding of `R` or `A` (`y >= p`), or a point that does not decode;
//! - an `R` or `A` of small order (the eight torsion points): a small-order key verifies any
//!   signature under the cofactored equation.
//!
//! Where it differs from AWS-LC's single verifier: AWS-LC checks the cofactorless equation
//! `[S]B = R + [k]A'`, which RFC 8032 §5.1.7 allows as a stricter alternative. The two disagree
//! only on a signature whose `R` or `A` carries a small-order component next to its prime-order
//! part; only the holder of the private key can make one (an honest signer never does). The batch
//! accepts such a signature, the single verifier refuses it. The test
//! `mixed_order_r_is_the_documented_difference` pins this down. A "batch" of one check is
//! handed to the single verifier (cheaper), so it is decided by the cofactorless equation.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};

use super::provider::SignatureCheck;
use super::public_sha512::PublicSha512;
use super::CryptoError;

/// Decodes a point for the batch: canonical (`y < p`), on the curve, not of small order.
fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !is_canonical_y(bytes) || is_small_order_y(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// The `y` of a small-order point, whatever the sign bit says. A curve point has small order
/// if and only if its `y` is one of the (five distinct) `y` of the eight torsion points, since
/// `(-x, y)` is the negation of `(x, y)`. Comparing bytes is much cheaper than `[8]P = 0`.
fn is_small_order_y(bytes: &[u8; 32]) -> bool {
    static TORSION_Y: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    let ys = TORSION_Y.get_or_init(|| {
        EIGHT_TORSION
            .iter()
            .map(|t| {
                let mut y = t.compress().to_bytes();
                y[31] &= 0x7f;
                y
            })
            .collect()
    });
    ys.iter()
        .any(|y| y[..31] == bytes[..31] && y[31] == bytes[31] & 0x7f)
}

/// `y < p = 2^255 - 19` for the little-endian `y` in the low 255 bits (the top bit is the sign
/// of `x`). The only non-canonical values are `p ..= 2^255 - 1`.
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top_all_ones = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(top_all_ones && bytes[0] >= 0xed)
}

/// `true` only if every check verifies under the cofactored equation (see the module
/// documentation). `false` means "not all verified here"; the caller decides each one with the
/// single verifier. `Err` only if the OS generator fails.
///
/// A single check goes to AWS-LC's verifier: a batch of one costs two point decodings and a
/// three-point multiplication, about 1.3-1.7x one double-scalar multiplication
/// (`ed25519_verify_batch_1x128B` against `ed25519_verify_128B` in `bench/benches/primitives.rs`).
/// Batches of one occur at the end of a small tree's leaves (`labels::batch_ranges`).
pub(crate) fn verify_batch(checks: &[SignatureCheck<'_>]) -> Result<bool, CryptoError> {
    if let [c] = checks {
        return Ok(super::aws_lc::verify(
            super::SignatureAlgorithm::Ed25519,
            c.public_key,
            c.message,
            c.signature,
        )
        .is_ok());
    }
    verify_batch_with(checks, Backend::best())
}

/// Ed25519 verification (RFC 8032 §5.1.7) of `sig` by `pk` over the concatenation of `parts`,
/// which are fed to SHA-512 one after the other (a large message is never copied). It accepts
/// exactly what AWS-LC's verifier ([`super::aws_lc::verify`]) accepts:
/// - a 32-byte key (else `InvalidLength`, as AWS-LC's path reports) and a 64-byte signature;
/// - `S < L`;
/// - `A` the canonical encoding of a curve point: `y < p`, and no sign bit on `x = 0` (AWS-LC's
///   decoder, s2n-bignum's `edwards25519_decode`, refuses both; here the decoded point must
///   encode back to the same bytes);
/// - the cofactorless equation, checked as AWS-LC checks it: the encoding of `[S]B - [k]A`,
///   `k = SHA-512(R || A || M)`, equals the bytes of `R` (so a non-canonical `R` never passes).
///
/// The test `verify_parts_agrees_with_aws_lc` holds it to AWS-LC on valid, altered and edge
/// signatures.
pub(crate) fn verify_parts(pk: &[u8], parts: &[&[u8]], sig: &[u8]) -> Result<(), CryptoError> {
    super::error::check_len("Ed25519 public key", 32, pk.len())?;
    let pk_bytes = <[u8; 32]>::try_from(pk).map_err(|_| CryptoError::InvalidSignature)?;
    let (r_bytes, s_bytes) = split_signature(sig).ok_or(CryptoError::InvalidSignature)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(CryptoError::InvalidSignature)?;
    let a = CompressedEdwardsY(pk_bytes)
        .decompress()
        .filter(|a| a.compress().to_bytes() == pk_bytes)
        .ok_or(CryptoError::InvalidSignature)?;
    let len = parts.iter().fold(64usize, |n, p| n.saturating_add(p.len()));
    let mut h = PublicSha512::for_len(len);
    h.update(r_bytes);
    h.update(&pk_bytes);
    for p in parts {
        h.update(p);
    }
    let k = Scalar::from_bytes_mod_order_wide(&h.finish());
    let r = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s);
    if r.compress().to_bytes() == *r_bytes {
        Ok(())
    } else {
        Err(CryptoError::InvalidSignature)
    }
}

/// Which code computes the batch's multi-scalar multiplication. Both decode the same points
/// and check the same equation; the tests run every batch through both where the CPU allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// `curve25519-dalek` (its AVX-512, AVX2 or serial code, chosen at run time).
    Dalek,
    /// `mls-ed25519-ifma`: decoding and multiplication eight points at a time in AVX-512 IFMA
    /// (CPUs that have it; see that crate's documentation).
    Ifma,
}

impl Backend {
    fn best() -> Backend {
        if mls_ed25519_ifma::available() {
            Backend::Ifma
        } else {
            Backend::Dalek
        }
    }
}

fn verify_batch_with(checks: &[SignatureCheck<'_>], backend: Backend) -> Result<bool, CryptoError> {
    if checks.is_empty() {
        return Ok(true);
    }
    let mut z_bytes = vec![0u8; 16 * checks.len()];
    aws_lc_rs::rand::fill(&mut z_bytes).map_err(|_| CryptoError::Library("random"))?;
    // The encodings of the points and their coefficients; the base point's coefficient is
    // accumulated apart. A key that signs two consecutive checks (a KeyPackage and its LeafNode)
    // is decoded once and its two coefficients are added.
    let mut encodings: Vec<&[u8; 32]> = Vec::with_capacity(2 * checks.len() + 1);
    let mut scalars: Vec<Scalar> = Vec::with_capacity(2 * checks.len() + 1);
    let mut base = Scalar::ZERO;
    let mut last_key: Option<(&[u8], usize)> = None;
    for (check, z) in checks.iter().zip(z_bytes.chunks_exact(16)) {
        let (Ok(a_bytes), Some((r_bytes, s_bytes))) = (
            <&[u8; 32]>::try_from(check.public_key),
            split_signature(check.signature),
        ) else {
            return Ok(false);
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return Ok(false);
        };
        let mut h = PublicSha512::for_len(check.message.len().saturating_add(64));
        h.update(r_bytes);
        h.update(a_bytes);
        h.update(check.message);
        let k = Scalar::from_bytes_mod_order_wide(&h.finish());
        let mut z16 = [0u8; 16];
        z16.copy_from_slice(z);
        let z = Scalar::from(u128::from_le_bytes(z16));
        base -= z * s;
        encodings.push(r_bytes);
        scalars.push(z);
        match last_key {
            Some((prev, at)) if prev == check.public_key => scalars[at] += z * k,
            _ => {
                last_key = Some((check.public_key, encodings.len()));
                encodings.push(a_bytes);
                scalars.push(z * k);
            }
        }
    }
    scalars.push(base);
    Ok(match backend {
        Backend::Dalek => {
            // The points are decoded only as the multiplication consumes them, so a batch
            // holds 8 bytes per point, not 160. `None` when a point does not decode.
            let points = encodings
                .into_iter()
                .map(decode_point)
                .chain(std::iter::once(Some(ED25519_BASEPOINT_POINT)));
            EdwardsPoint::optional_multiscalar_mul(&scalars, points)
                .is_some_and(|sum| sum.mul_by_cofactor().is_identity())
        }
        Backend::Ifma => {
            // The same refusals as `decode_point` (the crate decodes strictly, the small-order
            // check is ours).
            if encodings
                .iter()
                .any(|e| !is_canonical_y(e) || is_small_order_y(e))
            {
                return Ok(false);
            }
            let base_point = ED25519_BASEPOINT_POINT.compress().to_bytes();
            encodings.push(&base_point);
            let scalars: Vec<[u8; 32]> = scalars.iter().map(Scalar::to_bytes).collect();
            // An error (a point that does not decode; nothing else can occur) is a "no".
            mls_ed25519_ifma::cofactored_sum_is_identity(&encodings, &scalars) == Ok(true)
        }
    })
}

/// `R` and the bytes of `S` of a 64-byte signature.
fn split_signature(sig: &[u8]) -> Option<(&[u8; 32], [u8; 32])> {
    let sig = <&[u8; 64]>::try_from(sig).ok()?;
    let (r, s) = sig.split_at(32);
    Some((r.try_into().ok()?, s.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::digest;

    /// Every batch of the tests below goes through both backends where the CPU has AVX-512
    /// IFMA (the answers must agree), else through curve25519-dalek alone.
    fn verify_batch(checks: &[SignatureCheck<'_>]) -> Result<bool, CryptoError> {
        let dalek = verify_batch_with(checks, Backend::Dalek)?;
        if Backend::best() == Backend::Ifma {
            assert_eq!(
                verify_batch_with(checks, Backend::Ifma)?,
                dalek,
                "the backends disagree"
            );
        }
        Ok(dalek)
    }
    use crate::crypto::aws_lc::verify;
    use crate::crypto::SignatureAlgorithm;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    struct Signed {
        pk: Vec<u8>,
        msg: Vec<u8>,
        sig: Vec<u8>,
    }

    fn signed(n: usize) -> Vec<Signed> {
        (0..n)
            .map(|i| {
                let kp = Ed25519KeyPair::generate().unwrap();
                let msg = vec![u8::try_from(i % 251).unwrap(); 40 + i % 300];
                let sig = kp.sign(&msg).as_ref().to_vec();
                Signed {
                    pk: kp.public_key().as_ref().to_vec(),
                    msg,
                    sig,
                }
            })
            .collect()
    }

    fn checks(s: &[Signed]) -> Vec<SignatureCheck<'_>> {
        s.iter()
            .map(|s| SignatureCheck {
                public_key: &s.pk,
                message: &s.msg,
                signature: &s.sig,
            })
            .collect()
    }

    fn single(c: &SignatureCheck<'_>) -> bool {
        verify(
            SignatureAlgorithm::Ed25519,
            c.public_key,
            c.message,
            c.signature,
        )
        .is_ok()
    }

    #[test]
    fn accepts_valid_batches_of_every_size() {
        let s = signed(300);
        for n in [0, 1, 2, 3, 64, 191, 300] {
            assert!(verify_batch(&checks(&s[..n])).unwrap(), "n = {n}");
        }
    }

    #[test]
    fn any_altered_byte_fails_the_batch_and_the_single_verifier() {
        let s = signed(40);
        let base = checks(&s);
        for victim in [0, 17, 39] {
            // Every byte of the signature, of the key and the first bytes of the message.
            for field in 0..3 {
                let len = [64, 32, 8][field];
                for at in 0..len {
                    let mut owned: Vec<u8> = match field {
                        0 => s[victim].sig.clone(),
                        1 => s[victim].pk.clone(),
                        _ => s[victim].msg.clone(),
                    };
                    owned[at] ^= 1 << (at % 8);
                    let mut c = base.clone();
                    match field {
                        0 => c[victim].signature = &owned,
                        1 => c[victim].public_key = &owned,
                        _ => c[victim].message = &owned,
                    }
                    assert!(!single(&c[victim]));
                    assert!(
                        !verify_batch(&c).unwrap(),
                        "victim {victim} field {field} byte {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn swapped_signatures_and_wrong_lengths_fail() {
        let s = signed(4);
        let mut c = checks(&s);
        let (a, b) = (c[0].signature, c[1].signature);
        c[0].signature = b;
        c[1].signature = a;
        assert!(!verify_batch(&c).unwrap());
        let c = checks(&s);
        let mut long_pk = s[2].pk.clone();
        long_pk.push(0);
        for pk in [&s[2].pk[..0], &s[2].pk[..31], &long_pk[..]] {
            let mut bad = c.clone();
            bad[2].public_key = pk;
            assert!(!verify_batch(&bad).unwrap());
        }
        let mut long_sig = s[3].sig.clone();
        long_sig.push(0);
        let mut bad = c.clone();
        bad[3].signature = &long_sig;
        assert!(!verify_batch(&bad).unwrap());
        bad[3].signature = &s[3].sig[..63];
        assert!(!verify_batch(&bad).unwrap());
    }

    #[test]
    fn non_canonical_s_is_refused() {
        // S + L verifies under the equation but is not canonical (RFC 8032 §5.1.7 step 1).
        let s = signed(2);
        let sig = with_s_plus_l(&s[1].sig);
        let mut c = checks(&s);
        c[1].signature = &sig;
        assert!(!single(&c[1]));
        assert!(!verify_batch(&c).unwrap());
    }

    /// `sig` with `S` replaced by `S + L` as a 256-bit integer (fits: `S < L < 2^253`).
    fn with_s_plus_l(sig: &[u8]) -> Vec<u8> {
        let mut sig = sig.to_vec();
        let big = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
        let l_le: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for ((out, a), b) in sig[32..].iter_mut().zip(big.to_bytes()).zip(l_le) {
            let [lo, hi] = (u16::from(a) + u16::from(b) + carry).to_le_bytes();
            *out = lo;
            carry = u16::from(hi);
        }
        assert_eq!(carry, 0);
        sig
    }

    #[test]
    fn non_canonical_and_small_order_points_are_refused() {
        let mut y = [0xffu8; 32];
        y[31] = 0x7f;
        y[0] = 0xed; // p itself
        assert!(!is_canonical_y(&y));
        y[0] = 0xec; // p - 1
        assert!(is_canonical_y(&y));
        y[31] = 0xff; // sign bit does not count
        assert!(is_canonical_y(&y));
        for t in EIGHT_TORSION.iter() {
            let mut enc = t.compress().to_bytes();
            assert!(decode_point(&enc).is_none());
            // The other sign bit: the negation, or a non-canonical x = 0.
            enc[31] ^= 0x80;
            assert!(decode_point(&enc).is_none());
        }
        // Random points of large order decode, with their sign bit either way (a valid
        // encoding decodes to a point of large order or to nothing).
        for k in 1u64..50 {
            let p = ED25519_BASEPOINT_POINT * Scalar::from(k) + EIGHT_TORSION[(k % 8) as usize];
            let enc = p.compress().to_bytes();
            assert_eq!(decode_point(&enc), Some(p));
            assert!(!p.is_small_order());
        }
        // A small-order key "verifies" R = [r]B, S = r under the cofactored equation for any
        // message; the batch must not accept it.
        let r = Scalar::from(12345u64);
        let mut sig = (ED25519_BASEPOINT_POINT * r).compress().to_bytes().to_vec();
        sig.extend_from_slice(r.as_bytes());
        let pk = EIGHT_TORSION[1].compress().to_bytes();
        let c = [SignatureCheck {
            public_key: &pk,
            message: b"anything",
            signature: &sig,
        }];
        assert!(!verify_batch(&c).unwrap());
    }

    /// An Ed25519 signature by secret scalar `a` over `msg` with nonce point `big_r` =
    /// [r]B (+ any torsion the caller added): `R || S` with `S = r + k a`.
    fn sign_with_nonce_point(a: Scalar, r: Scalar, big_r: EdwardsPoint, msg: &[u8]) -> Vec<u8> {
        let pk = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
        let r_bytes = big_r.compress().to_bytes();
        let mut h = digest::Context::new(&digest::SHA512);
        h.update(&r_bytes);
        h.update(&pk);
        h.update(msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finish().as_ref().try_into().unwrap());
        [&r_bytes[..], (r + k * a).as_bytes()].concat()
    }

    /// The key of secret scalar `a`, and its signature of `msg` with nonce `r` whose `R`
    /// carries a small-order component T: R = [r]B + T, S = r + k a.
    /// [8]([S]B - R - [k]A) = -[8]T = 0 holds, [S]B = R + [k]A does not.
    fn mixed_order_signature(a: Scalar, r: Scalar, msg: &[u8]) -> ([u8; 32], Vec<u8>) {
        let pk = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
        let sig = sign_with_nonce_point(a, r, ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[2], msg);
        (pk, sig)
    }

    #[test]
    fn mixed_order_r_is_the_documented_difference() {
        // Only the key holder can make such a signature.
        let (a, r) = (Scalar::from(987_654_321u64), Scalar::from(424_242u64));
        let msg = b"crafted by the key holder";
        let (pk, crafted) = mixed_order_signature(a, r, msg);
        let c = SignatureCheck {
            public_key: &pk,
            message: msg,
            signature: &crafted,
        };
        assert!(!single(&c), "AWS-LC checks the cofactorless equation");
        assert!(
            verify_batch(&[c]).unwrap(),
            "the batch checks the cofactored one"
        );
        // Without the torsion component both accept: the construction itself is sound.
        let honest = sign_with_nonce_point(a, r, ED25519_BASEPOINT_POINT * r, msg);
        let c = SignatureCheck {
            public_key: &pk,
            message: msg,
            signature: &honest,
        };
        assert!(single(&c));
        assert!(verify_batch(&[c]).unwrap());
    }

    #[test]
    fn a_batch_of_one_is_decided_by_the_single_verifier() {
        // The crafted signature above, which the cofactored equation accepts: alone, it goes to
        // AWS-LC, which refuses it; beside an honest one, the batch accepts both.
        let msg = b"one check";
        let (pk, crafted) =
            mixed_order_signature(Scalar::from(55_555u64), Scalar::from(777u64), msg);
        let c = SignatureCheck {
            public_key: &pk,
            message: msg,
            signature: &crafted,
        };
        assert!(!super::verify_batch(&[c]).unwrap());
        let s = signed(1);
        let honest = checks(&s);
        assert!(super::verify_batch(&honest).unwrap());
        assert!(super::verify_batch(&[c, honest[0]]).unwrap());
        // Any altered byte of a lone check is refused.
        let mut bad = s[0].sig.clone();
        bad[40] ^= 1;
        let altered = SignatureCheck {
            signature: &bad,
            ..honest[0]
        };
        assert!(!super::verify_batch(&[altered]).unwrap());
    }

    #[test]
    fn a_key_signing_consecutive_checks_is_merged_correctly() {
        let kp = Ed25519KeyPair::generate().unwrap();
        let msgs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let sigs: Vec<Vec<u8>> = msgs.iter().map(|m| kp.sign(m).as_ref().to_vec()).collect();
        let pk = kp.public_key().as_ref().to_vec();
        let mut c: Vec<SignatureCheck<'_>> = msgs
            .iter()
            .zip(&sigs)
            .map(|(m, s)| SignatureCheck {
                public_key: &pk,
                message: m,
                signature: s,
            })
            .collect();
        assert!(verify_batch(&c).unwrap());
        // The third signature over the fourth message: fails although the key is shared.
        c[2].message = &msgs[3];
        assert!(!verify_batch(&c).unwrap());
    }

    /// Long messages take the other SHA-512 (`public_sha512`): a signature made by AWS-LC over
    /// a message of 300 kB, given in pieces of every alignment, verifies; a change of one bit
    /// anywhere, or one byte less, fails, as it does in AWS-LC's verifier.
    #[test]
    fn verify_parts_agrees_with_aws_lc_on_long_messages() {
        use crate::crypto::public_sha512::LONG_MIN_LEN;
        let seed = [7u8; 32];
        let (sk, pk) = (
            seed.to_vec(),
            super::super::aws_lc::signature_public_key(SignatureAlgorithm::Ed25519, &seed).unwrap(),
        );
        let msg: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 253) as u8).collect();
        assert!(msg.len() >= 4 * LONG_MIN_LEN);
        let sig = super::super::aws_lc::sign(SignatureAlgorithm::Ed25519, &sk, &msg).unwrap();
        // AWS-LC's own verifier (`aws_lc::verify` hands long messages to `verify_parts`).
        let aws_lc_accepts = |m: &[u8]| {
            aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &pk)
                .verify(m, &sig)
                .is_ok()
        };
        assert!(aws_lc_accepts(&msg));
        assert_eq!(verify(SignatureAlgorithm::Ed25519, &pk, &msg, &sig), Ok(()));
        for cut in [0, 1, 511, 512, 513, LONG_MIN_LEN, 150_001, 299_999] {
            let (x, y) = msg.split_at(cut);
            assert_eq!(verify_parts(&pk, &[x, y], &sig), Ok(()), "cut at {cut}");
        }
        for at in [0, 127, 128, 4_095, 150_000, 299_999] {
            let mut altered = msg.clone();
            altered[at] ^= 0x10;
            assert!(
                verify_parts(&pk, &[&altered], &sig).is_err(),
                "byte {at} altered"
            );
            assert!(!aws_lc_accepts(&altered));
            assert!(verify(SignatureAlgorithm::Ed25519, &pk, &altered, &sig).is_err());
        }
        assert!(verify_parts(&pk, &[&msg[..299_999]], &sig).is_err());
        assert!(!aws_lc_accepts(&msg[..299_999]));
    }

    /// `verify_parts` against AWS-LC's verifier over the joined message: valid signatures with
    /// the message split in every way, every single-byte change of the signature, altered
    /// messages, `S + L`, non-canonical and small-order keys, the identity key with its
    /// trivial signature, a mixed-order `R`, wrong lengths. The verdicts must be equal.
    #[test]
    fn verify_parts_agrees_with_aws_lc() {
        let joined = |parts: &[&[u8]]| parts.concat();
        let same = |pk: &[u8], parts: &[&[u8]], sig: &[u8]| {
            let ours = verify_parts(pk, parts, sig);
            let theirs = verify(SignatureAlgorithm::Ed25519, pk, &joined(parts), sig);
            assert_eq!(ours, theirs, "pk {pk:02x?} sig {sig:02x?}");
            ours.is_ok()
        };
        let (a, r) = (Scalar::from(31_337u64), Scalar::from(271_828u64));
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let pk = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
        let sig = sign_with_nonce_point(a, r, ED25519_BASEPOINT_POINT * r, &msg);
        for cut in [0, 1, 64, 127, 128, 129, 299, 300] {
            let (x, y) = msg.split_at(cut);
            assert!(same(&pk, &[x, y], &sig));
            assert!(same(&pk, &[x, &[], y], &sig));
        }
        for i in 0..64 {
            for bit in [0x01u8, 0x80] {
                let mut bad = sig.clone();
                bad[i] ^= bit;
                assert!(!same(&pk, &[&msg], &bad));
            }
        }
        let mut altered = msg.clone();
        altered[150] ^= 4;
        assert!(!same(&pk, &[&altered], &sig));
        assert!(!same(&pk, &[&msg[..299]], &sig));
        // S + L: the same point equation, refused for malleability by both.
        assert!(!same(&pk, &[&msg], &with_s_plus_l(&sig)));
        // The identity key (y = 1): canonical, small order; [S]B - [k]O = R holds for S = 0
        // and R the identity, for any message. AWS-LC accepts it; so must we.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let trivial = [&identity[..], &[0u8; 32][..]].concat();
        assert!(same(&identity, &[&msg], &trivial));
        // The identity with the sign bit set (x = 0 cannot be negative): refused.
        let mut signed_identity = identity;
        signed_identity[31] |= 0x80;
        assert!(!same(&signed_identity, &[&msg], &trivial));
        // y = 1 + p, a non-canonical encoding of the identity: refused.
        let mut y_plus_p = [0xffu8; 32];
        y_plus_p[0] = 0xee;
        y_plus_p[31] = 0x7f;
        assert!(!same(&y_plus_p, &[&msg], &trivial));
        // Non-canonical encodings of a real key's y are impossible for most keys; a key whose
        // y is not on the curve decodes in neither.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(!same(&off_curve, &[&msg], &sig));
        // Every small-order key, with the trivial signature.
        for t in EIGHT_TORSION.iter() {
            let t = t.compress().to_bytes();
            same(&t, &[&msg], &trivial);
        }
        // A mixed-order R: the cofactorless equation refuses it in both.
        let (mixed_pk, crafted) = mixed_order_signature(a, r, &msg);
        assert!(!same(&mixed_pk, &[&msg], &crafted));
        // Wrong lengths.
        assert!(!same(&pk[..31], &[&msg], &sig));
        assert!(!same(&pk, &[&msg], &sig[..63]));
        assert!(!same(&pk, &[&msg], &[&sig[..], &[0]].concat()));
    }
}
