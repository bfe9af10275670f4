//! Ed25519 signatures over large messages with one pass of SHA-512 over the message, not two.
//!
//! RFC 8032 §5.1.6 hashes the message twice: once for the nonce, `r = SHA-512(prefix || M)`,
//! and once for the challenge, `k = SHA-512(R || A || M)`, which needs `R = [r]B` first. On a
//! CPU without SHA-512 instructions each pass over a 1.76 MB GroupInfo (a Welcome carrying the
//! tree of 10,000 members) takes about 5 ms, and the second cannot start before the first ends.
//!
//! The verifier never sees how `r` was chosen (§5.1.7 checks `[S]B = R + [k]A` only), so for
//! messages of [`HEDGED_MIN_LEN`] bytes or more this module derives it from the secret
//! `prefix`, 32 bytes from the OS generator and a digest of the message that costs a fraction
//! of a SHA-512 pass: SHA-256 (SHA-NI on current x86) of the message's two halves, hashed on
//! two cores:
//!
//! ```text
//! r = SHA-512(NONCE_LABEL || prefix || Z || len(M) || SHA-256(M[..m]) || SHA-256(M[m..])) mod L
//! ```
//!
//! This is a hedged nonce, as in XEdDSA and draft-irtf-cfrg-det-sigs-with-noise:
//! - with a working generator, `r` is uniform and secret, as the signature's security needs;
//! - if the generator repeats `Z`, `r` still differs for different messages (unless SHA-256
//!   collides), so a failed generator does not leak the key as a repeated nonce would;
//! - no input of this derivation equals an input of RFC 8032's (`prefix || M`), so a nonce is
//!   never shared with a deterministic signature over another message: ours start with the
//!   public `NONCE_LABEL`, RFC 8032's with the secret `prefix` (equal only with probability
//!   2^-256). Putting `prefix` first would let a deterministic signature of a crafted short
//!   message reuse the nonce of a hedged one.
//!
//! A caller that can name parts of the message which, with its length, determine it (a
//! GroupInfo: its GroupContext commits to the tree that fills the rest, by the tree hash) may
//! give them instead ([`sign_beside`]'s `binding`), and the nonce then costs no pass over the
//! message:
//!
//! ```text
//! r = SHA-512(BOUND_NONCE_LABEL || prefix || Z || len(M) || n || (len(p_i) || p_i) for each part) mod L
//! ```
//!
//! The three properties above hold as they are argued there, with "different messages" read
//! as "different parts or lengths": the caller vouches that equal parts and length mean equal
//! messages among everything the key signs with parts (for a GroupInfo, that the tree written
//! is the one whose hash its GroupContext carries; `group::commit` checks this on the cached
//! tree hash before it asks). The two labels differ, and neither is a prefix of the other, so
//! a bound nonce is never a message-hashed one.
//!
//! Everything else is RFC 8032: the clamped scalar `s` and `prefix` from `SHA-512(seed)`,
//! `A = [s]B`, `k`, and `S = (r + k s) mod L`. Smaller messages keep AWS-LC's deterministic
//! signature (the official vectors and every short signature stay byte-for-byte
//! reproducible).

use aws_lc_rs::digest;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use zeroize::Zeroizing;

use super::error::check_len;
use super::public_sha512::PublicSha512;
use super::CryptoError;

/// Messages at least this long are signed with the hedged nonce. Below it the nonce's SHA-512
/// pass costs less than what the hedged derivation adds (a second base-point multiplication
/// for `A` and waking a second core), and AWS-LC's deterministic signature is kept.
pub(crate) const HEDGED_MIN_LEN: usize = 64 * 1024;

/// The nonce derivation's domain separation; it must not be 32 bytes of anyone's `prefix`.
const NONCE_LABEL: &[u8] = b"mls-engine hedged Ed25519 nonce v1";

/// The domain separation of a nonce bound to parts of the message (module documentation).
const BOUND_NONCE_LABEL: &[u8] = b"mls-engine bound Ed25519 nonce v1";

/// An Ed25519 signature of `msg` by the 32-byte `seed`, with a hedged nonce (module
/// documentation); `Err` if the seed has the wrong length or the OS generator fails.
pub(crate) fn sign(seed: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    sign_beside(seed, msg, None, &mut || {})
}

/// [`sign`], with `beside` run on another core while the challenge is hashed: after the
/// nonce, whose two hashes take both cores. With `binding`, the nonce is bound to those parts
/// of `msg` instead of hashing it (module documentation: the caller vouches that they
/// determine it).
pub(crate) fn sign_beside(
    seed: &[u8],
    msg: &[u8],
    binding: Option<&[&[u8]]>,
    beside: &mut (dyn FnMut() + Send),
) -> Result<Vec<u8>, CryptoError> {
    let mut z = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut z[..]).map_err(|_| CryptoError::Library("random"))?;
    sign_with_noise(seed, msg, binding, &z, beside)
}

/// [`sign_beside`] with the noise `z` given (the tests fix it).
fn sign_with_noise(
    seed: &[u8],
    msg: &[u8],
    binding: Option<&[&[u8]]>,
    z: &[u8; 32],
    beside: &mut (dyn FnMut() + Send),
) -> Result<Vec<u8>, CryptoError> {
    let key = ExpandedKey::new(seed)?;
    let mut signer = match binding {
        Some(parts) => key.bound(msg.len(), parts, z),
        None => {
            let mid = msg.len() / 2;
            let (left, right) = rayon::join(
                || digest::digest(&digest::SHA256, &msg[..mid]),
                || digest::digest(&digest::SHA256, &msg[mid..]),
            );
            let mut nonce = digest::Context::new(&digest::SHA512);
            nonce.update(NONCE_LABEL);
            nonce.update(&key.expanded[32..]);
            nonce.update(z);
            nonce.update(&(msg.len() as u64).to_be_bytes());
            nonce.update(left.as_ref());
            nonce.update(right.as_ref());
            key.with_nonce(msg.len(), nonce)
        }
    };
    rayon::join(|| signer.update(msg), beside);
    signer.finish()
}

/// The secrets RFC 8032 §5.1.5 expands a seed into: `SHA-512(seed)` (its second half is
/// `prefix`), the clamped scalar `s` reduced mod `L`, and the public key `A = [s]B`.
struct ExpandedKey {
    expanded: Zeroizing<[u8; 64]>,
    s: Zeroizing<Scalar>,
    a: [u8; 32],
}

impl ExpandedKey {
    fn new(seed: &[u8]) -> Result<ExpandedKey, CryptoError> {
        check_len("Ed25519 private key", 32, seed.len())?;
        // The expanded key passes through aws-lc-rs's `Digest`, which is not wiped when
        // dropped (nor is any hash or HMAC output of that crate); our copies are.
        let mut expanded = Zeroizing::new([0u8; 64]);
        expanded.copy_from_slice(digest::digest(&digest::SHA512, seed).as_ref());
        let mut clamped = Zeroizing::new([0u8; 32]);
        clamped.copy_from_slice(&expanded[..32]);
        *clamped = clamp_integer(*clamped);
        // `s mod L`: B has order L, so [s mod L]B = [s]B and (r + k s) mod L is unchanged.
        let s = Zeroizing::new(Scalar::from_bytes_mod_order(*clamped));
        let a = EdwardsPoint::mul_base(&s).compress().to_bytes();
        Ok(ExpandedKey { expanded, s, a })
    }

    /// A signer of a `len`-byte message whose nonce is bound to `parts` of it (module
    /// documentation).
    fn bound(self, len: usize, parts: &[&[u8]], z: &[u8; 32]) -> PieceSigner {
        let mut nonce = digest::Context::new(&digest::SHA512);
        nonce.update(BOUND_NONCE_LABEL);
        nonce.update(&self.expanded[32..]);
        nonce.update(z);
        nonce.update(&(len as u64).to_be_bytes());
        nonce.update(&(parts.len() as u64).to_be_bytes());
        for part in parts {
            nonce.update(&(part.len() as u64).to_be_bytes());
            nonce.update(part);
        }
        self.with_nonce(len, nonce)
    }

    /// A signer whose nonce `r` is the digest `nonce` reduced mod `L`.
    fn with_nonce(self, len: usize, nonce: digest::Context) -> PieceSigner {
        let mut wide = Zeroizing::new([0u8; 64]);
        wide.copy_from_slice(nonce.finish().as_ref());
        let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide));
        let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let mut challenge = PublicSha512::for_len(len.saturating_add(64));
        challenge.update(&big_r);
        challenge.update(&self.a);
        PieceSigner {
            s: self.s,
            r,
            big_r,
            challenge,
            len,
            fed: 0,
        }
    }
}

/// An Ed25519 signature whose nonce is made (and `R = [r]B` computed) before the message is
/// seen: the message is then fed in order, in pieces of any size, to the challenge hash
/// `k = SHA-512(R || A || M)`, so a caller can hash a message while it is still writing it.
/// Made by [`begin_bound`] (or by the hedged path, which has the whole message).
pub(crate) struct PieceSigner {
    s: Zeroizing<Scalar>,
    r: Zeroizing<Scalar>,
    big_r: [u8; 32],
    challenge: PublicSha512,
    /// The message's length, which the nonce is bound to.
    len: usize,
    fed: usize,
}

impl PieceSigner {
    /// The next bytes of the message.
    pub(crate) fn update(&mut self, piece: &[u8]) {
        self.fed = self.fed.saturating_add(piece.len());
        self.challenge.update(piece);
    }

    /// The signature `R || S`; `InvalidLength` if the pieces fed do not add up to the length
    /// the nonce was bound to (the signature would be valid, but the binding would not hold).
    pub(crate) fn finish(self) -> Result<Vec<u8>, CryptoError> {
        check_len("message signed in pieces", self.len, self.fed)?;
        let k = Scalar::from_bytes_mod_order_wide(&self.challenge.finish());
        let ks = Zeroizing::new(k * *self.s);
        let big_s = *self.r + *ks;
        let mut sig = Vec::with_capacity(64);
        sig.extend_from_slice(&self.big_r);
        sig.extend_from_slice(big_s.as_bytes());
        Ok(sig)
    }
}

impl super::BoundSignature for PieceSigner {
    fn update(&mut self, piece: &[u8]) {
        PieceSigner::update(self, piece);
    }

    fn finish(self: Box<Self>) -> Result<Vec<u8>, CryptoError> {
        PieceSigner::finish(*self)
    }
}

/// A [`PieceSigner`] for a `len`-byte message by the 32-byte `seed`, its nonce bound to
/// `parts` of the message (module documentation: the caller vouches that they and the length
/// determine it); `Err` if the seed has the wrong length or the OS generator fails.
pub(crate) fn begin_bound(
    seed: &[u8],
    len: usize,
    parts: &[&[u8]],
) -> Result<PieceSigner, CryptoError> {
    let mut z = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut z[..]).map_err(|_| CryptoError::Library("random"))?;
    Ok(ExpandedKey::new(seed)?.bound(len, parts, &z))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{self, KeyPair as _};

    fn key() -> ([u8; 32], Vec<u8>) {
        let seed = [0x42u8; 32];
        let kp = signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        (seed, kp.public_key().as_ref().to_vec())
    }

    fn aws_lc_verifies(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, pk)
            .verify(msg, sig)
            .is_ok()
    }

    fn message(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| u8::try_from(i * 31 % 251).unwrap())
            .collect()
    }

    #[test]
    fn hedged_signatures_verify_under_aws_lc() {
        let (seed, pk) = key();
        for len in [
            0,
            1,
            63,
            64,
            65,
            1000,
            HEDGED_MIN_LEN,
            HEDGED_MIN_LEN + 1,
            300_001,
        ] {
            let msg = message(len);
            let sig = sign(&seed, &msg).unwrap();
            assert_eq!(sig.len(), 64);
            assert!(aws_lc_verifies(&pk, &msg, &sig), "length {len}");
            assert!(super::super::ed25519_batch::verify_parts(&pk, &[&msg], &sig).is_ok());
            let mut altered = msg.clone();
            if let Some(b) = altered.last_mut() {
                *b ^= 1;
                assert!(!aws_lc_verifies(&pk, &altered, &sig), "length {len}");
            }
        }
    }

    #[test]
    fn the_nonce_is_fresh_for_each_signature() {
        let (seed, pk) = key();
        let msg = message(HEDGED_MIN_LEN);
        let (a, b) = (sign(&seed, &msg).unwrap(), sign(&seed, &msg).unwrap());
        assert_ne!(a[..32], b[..32], "two signatures shared a nonce");
        assert!(aws_lc_verifies(&pk, &msg, &a) && aws_lc_verifies(&pk, &msg, &b));
    }

    /// With the noise fixed (a failed generator), the nonce is a function of the message: the
    /// same message gives the same signature, and a change anywhere (either half, or the
    /// length) gives another nonce, so a repeated `Z` never repeats a nonce across messages.
    #[test]
    fn with_fixed_noise_the_nonce_still_depends_on_every_byte() {
        let (seed, pk) = key();
        let z = [7u8; 32];
        let msg = message(200_000);
        let sig = sign_with_noise(&seed, &msg, None, &z, &mut || {}).unwrap();
        assert_eq!(
            sig,
            sign_with_noise(&seed, &msg, None, &z, &mut || {}).unwrap()
        );
        // Work run beside the signature runs once and changes nothing in it.
        let mut ran = 0;
        let beside_sig = sign_with_noise(&seed, &msg, None, &z, &mut || ran += 1).unwrap();
        assert_eq!((ran, &beside_sig), (1, &sig));
        let mut variants = Vec::new();
        for at in [0, 99_999, 100_000, 199_999] {
            let mut m = msg.clone();
            m[at] ^= 0x80;
            variants.push(m);
        }
        variants.push(msg[..199_999].to_vec());
        let mut longer = msg.clone();
        longer.push(0);
        variants.push(longer);
        for m in &variants {
            let other = sign_with_noise(&seed, m, None, &z, &mut || {}).unwrap();
            assert_ne!(
                other[..32],
                sig[..32],
                "a different message reused the nonce"
            );
            assert!(aws_lc_verifies(&pk, m, &other));
        }
        let other_noise = sign_with_noise(&seed, &msg, None, &[8u8; 32], &mut || {}).unwrap();
        assert_ne!(other_noise[..32], sig[..32]);
    }

    /// A nonce bound to parts: the signature verifies; with the noise fixed, the nonce is a
    /// function of the parts and the message's length alone (which is why the caller must
    /// vouch that they determine the message), any change to a part, to how the bytes are
    /// split into parts or to the length gives another, and it is never the message-hashed
    /// nonce of the same message.
    #[test]
    fn a_bound_nonce_depends_on_the_parts_and_the_length_only() {
        let (seed, pk) = key();
        let z = [7u8; 32];
        let msg = message(200_000);
        let (head, tail) = (&msg[..300], &msg[199_900..]);
        let bound = |m: &[u8], parts: &[&[u8]]| {
            let sig = sign_with_noise(&seed, m, Some(parts), &z, &mut || {}).unwrap();
            assert!(aws_lc_verifies(&pk, m, &sig));
            sig
        };
        let sig = bound(&msg, &[head, tail]);
        let mut ran = 0;
        let beside = sign_with_noise(&seed, &msg, Some(&[head, tail]), &z, &mut || ran += 1);
        assert_eq!((ran, beside.unwrap()), (1, sig.clone()));
        // A change outside the parts keeps the nonce: the parts are the caller's promise.
        let mut middle = msg.clone();
        middle[100_000] ^= 1;
        assert_eq!(bound(&middle, &[head, tail])[..32], sig[..32]);
        let mut other_tail = tail.to_vec();
        other_tail[0] ^= 1;
        let mut longer = msg.clone();
        longer.push(0);
        for other in [
            bound(&msg, &[head, &other_tail]),
            bound(&msg, &[&head[..299], &msg[299..300], tail]),
            bound(&msg, &[&msg[..301], &tail[1..]]),
            bound(&msg, &[head]),
            bound(&longer, &[head, tail]),
            sign_with_noise(&seed, &msg, None, &z, &mut || {}).unwrap(),
        ] {
            assert_ne!(other[..32], sig[..32], "another binding reused the nonce");
        }
        assert_ne!(
            sign_with_noise(&seed, &msg, Some(&[head, tail]), &[8u8; 32], &mut || {}).unwrap()
                [..32],
            sig[..32]
        );
    }

    /// A bound signature fed in pieces is the one of the whole message, however the message
    /// is cut; pieces that do not add up to the length the nonce was bound to are refused.
    #[test]
    fn a_bound_signature_fed_in_pieces_is_the_whole_message_s() {
        let (seed, pk) = key();
        let z = [7u8; 32];
        let msg = message(200_000);
        let parts: [&[u8]; 2] = [&msg[..300], &msg[199_900..]];
        let whole = sign_with_noise(&seed, &msg, Some(&parts), &z, &mut || {}).unwrap();
        assert!(aws_lc_verifies(&pk, &msg, &whole));
        for cuts in [vec![], vec![1], vec![300, 45_000, 199_900], vec![199_999]] {
            let mut signer = ExpandedKey::new(&seed)
                .unwrap()
                .bound(msg.len(), &parts, &z);
            let mut at = 0;
            for cut in cuts.iter().copied().chain([msg.len()]) {
                signer.update(&msg[at..cut]);
                at = cut;
            }
            assert_eq!(signer.finish().unwrap(), whole, "cuts {cuts:?}");
        }
        for fed in [&msg[..199_999], &msg[..]] {
            let mut signer = ExpandedKey::new(&seed)
                .unwrap()
                .bound(msg.len() + 1, &parts, &z);
            signer.update(fed);
            assert!(matches!(
                signer.finish(),
                Err(CryptoError::InvalidLength { .. })
            ));
        }
        // Through the provider's interface, with fresh noise: valid, and another nonce.
        let mut fresh = begin_bound(&seed, msg.len(), &parts).unwrap();
        fresh.update(&msg);
        let fresh = fresh.finish().unwrap();
        assert!(aws_lc_verifies(&pk, &msg, &fresh));
        assert_ne!(fresh[..32], whole[..32]);
    }

    /// The hedged nonce is never RFC 8032's: the deterministic signature of the message is
    /// another signature.
    #[test]
    fn the_nonce_differs_from_the_deterministic_one() {
        let (seed, _) = key();
        let kp = signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let msg = message(HEDGED_MIN_LEN);
        let deterministic = kp.sign(&msg);
        assert_ne!(
            deterministic.as_ref()[..32],
            sign(&seed, &msg).unwrap()[..32]
        );
    }

    #[test]
    fn wrong_seed_lengths_are_refused() {
        for len in [0, 31, 33, 64] {
            assert!(sign(&vec![1u8; len], b"m").is_err());
        }
    }
}
