//! The default provider, [`AwsLcProvider`], on `aws-lc-rs`: hashes, HMAC, HKDF, AEADs,
//! Ed25519/ECDSA signatures, the X25519 and NIST-curve DH groups of DHKEM, and the OS RNG.
//!
//! X448 and Ed448 are not in aws-lc; they come from [`super::curve448`].

use aws_lc_rs::{aead, agreement, digest, hkdf, hmac, rand, signature};

use super::curve448;
use super::error::{check_len, CryptoError};
use super::hpke::{Encapsulation, Hpke, HpkeMode, PreparedInfo};
use super::kem::{DhGroup, DhKem, Kem};
use super::provider::{CipherSuiteProvider, CryptoProvider, SignatureCheck};
use super::public_sha512::{PublicSha512, LONG_MIN_LEN};
use super::secret::Secret;
use super::suite::{
    AeadAlgorithm, HashAlgorithm, KemAlgorithm, SignatureAlgorithm, SuiteAlgorithms,
};
use super::{CipherSuite, HpkeCiphertext, HpkePublicKey, SignaturePublicKey};

// ---------------------------------------------------------------------------------------------
// Hash, HMAC, HKDF

fn digest_alg(alg: HashAlgorithm) -> &'static digest::Algorithm {
    match alg {
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
    }
}

fn hmac_alg(alg: HashAlgorithm) -> hmac::Algorithm {
    match alg {
        HashAlgorithm::Sha256 => hmac::HMAC_SHA256,
        HashAlgorithm::Sha384 => hmac::HMAC_SHA384,
        HashAlgorithm::Sha512 => hmac::HMAC_SHA512,
    }
}

fn hkdf_alg(alg: HashAlgorithm) -> hkdf::Algorithm {
    match alg {
        HashAlgorithm::Sha256 => hkdf::HKDF_SHA256,
        HashAlgorithm::Sha384 => hkdf::HKDF_SHA384,
        HashAlgorithm::Sha512 => hkdf::HKDF_SHA512,
    }
}

/// `Hash(data)`. Long messages in SHA-512 go to [`PublicSha512`] (no secret is that long).
pub(crate) fn hash(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    if alg == HashAlgorithm::Sha512 && data.len() >= LONG_MIN_LEN {
        return hash_parts(alg, &[data]);
    }
    digest::digest(digest_alg(alg), data).as_ref().to_vec()
}

/// `Hash(parts[0] || parts[1] || ...)`, incrementally. Long messages in SHA-512 go to
/// [`PublicSha512`].
pub(crate) fn hash_parts(alg: HashAlgorithm, parts: &[&[u8]]) -> Vec<u8> {
    if alg == HashAlgorithm::Sha512 {
        let len = parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
        if len >= LONG_MIN_LEN {
            let mut h = PublicSha512::for_len(len);
            for p in parts {
                h.update(p);
            }
            return h.finish().to_vec();
        }
    }
    let mut ctx = digest::Context::new(digest_alg(alg));
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// `HMAC(key, parts[0] || parts[1] || ...)`.
pub(crate) fn hmac_parts(alg: HashAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac_alg(alg), key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

/// An HMAC computed as its message is given (a large message hashed in pieces that are
/// ready at different times).
#[derive(Clone)]
pub(crate) struct HmacStream(hmac::Context);

impl HmacStream {
    /// Starts `HMAC(key, .)`.
    pub(crate) fn new(alg: HashAlgorithm, key: &[u8]) -> Self {
        Self(hmac::Context::with_key(&hmac::Key::new(hmac_alg(alg), key)))
    }

    /// Adds `part` to the message.
    pub(crate) fn update(&mut self, part: &[u8]) {
        self.0.update(part);
    }

    /// The HMAC of everything given.
    pub(crate) fn finish(self) -> Secret {
        Secret::new(self.0.sign().as_ref().to_vec())
    }
}

/// Verifies in constant time an HMAC tag over the concatenation of `parts`.
pub(crate) fn hmac_verify(
    alg: HashAlgorithm,
    key: &[u8],
    parts: &[&[u8]],
    tag: &[u8],
) -> Result<(), CryptoError> {
    use subtle::ConstantTimeEq;
    let expected = hmac_parts(alg, key, parts);
    // The length is public (the suite's); the bytes are compared in constant time.
    if bool::from(expected.as_slice().ct_eq(tag)) {
        Ok(())
    } else {
        Err(CryptoError::InvalidMac)
    }
}

/// HKDF-Extract(salt, ikm) (RFC 5869 §2.2), with the IKM given in pieces. Equal to
/// `HMAC(salt, ikm)`; an empty salt is the same HMAC key as `Nh` zero bytes.
pub(crate) fn hkdf_extract(alg: HashAlgorithm, salt: &[u8], ikm: &[&[u8]]) -> Secret {
    Secret::new(hmac_parts(alg, salt, ikm))
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand(prk, info, len) (RFC 5869 §2.3), with the info given in pieces.
pub(crate) fn hkdf_expand(
    alg: HashAlgorithm,
    prk: &[u8],
    info: &[&[u8]],
    len: usize,
) -> Result<Secret, CryptoError> {
    // RFC 5869 §2.3: L <= 255 * HashLen.
    if len > 255 * alg.output_len() {
        return Err(CryptoError::KdfOutputTooLong(len));
    }
    let prk = hkdf::Prk::new_less_safe(hkdf_alg(alg), prk);
    let okm = prk
        .expand(info, Len(len))
        .map_err(|_| CryptoError::KdfOutputTooLong(len))?;
    let mut out = Secret::zero(len);
    okm.fill(out.as_mut_bytes())
        .map_err(|_| CryptoError::Library("HKDF-Expand"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// AEAD

fn aead_key(alg: AeadAlgorithm, key: &[u8]) -> Result<aead::LessSafeKey, CryptoError> {
    check_len("AEAD key", alg.key_len(), key.len())?;
    let a = match alg {
        AeadAlgorithm::Aes128Gcm => &aead::AES_128_GCM,
        AeadAlgorithm::Aes256Gcm => &aead::AES_256_GCM,
        AeadAlgorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    };
    let unbound = aead::UnboundKey::new(a, key).map_err(|_| CryptoError::Library("AEAD key"))?;
    Ok(aead::LessSafeKey::new(unbound))
}

fn aead_nonce(alg: AeadAlgorithm, nonce: &[u8]) -> Result<aead::Nonce, CryptoError> {
    check_len("AEAD nonce", alg.nonce_len(), nonce.len())?;
    aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Library("AEAD nonce"))
}

/// AEAD encryption: returns ciphertext with the tag appended.
pub(crate) fn aead_seal(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = aead_key(alg, key)?;
    let nonce = aead_nonce(alg, nonce)?;
    let mut buf = Vec::with_capacity(plaintext.len() + alg.tag_len());
    buf.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Library("AEAD seal"))?;
    Ok(buf)
}

/// AEAD encryption of `buf[from..]` in place, the tag appended.
pub(crate) fn aead_seal_in_place(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    from: usize,
) -> Result<(), CryptoError> {
    let key = aead_key(alg, key)?;
    let nonce = aead_nonce(alg, nonce)?;
    let len = buf.len();
    let plain = buf.get_mut(from..).ok_or(CryptoError::InvalidLength {
        what: "AEAD in-place offset",
        expected: len,
        actual: from,
    })?;
    let tag = key
        .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), plain)
        .map_err(|_| CryptoError::Library("AEAD seal"))?;
    buf.extend_from_slice(tag.as_ref());
    Ok(())
}

/// AEAD decryption of ciphertext-with-tag.
pub(crate) fn aead_open(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = aead_key(alg, key)?;
    let nonce = aead_nonce(alg, nonce)?;
    if ciphertext.len() < alg.tag_len() {
        return Err(CryptoError::AeadOpenFailed);
    }
    let mut buf = ciphertext.to_vec();
    let pt_len = key
        .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::AeadOpenFailed)?
        .len();
    buf.truncate(pt_len);
    Ok(buf)
}

/// AEAD decryption of ciphertext-with-tag in place; returns the plaintext's length.
pub(crate) fn aead_open_in_place(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<usize, CryptoError> {
    let key = aead_key(alg, key)?;
    let nonce = aead_nonce(alg, nonce)?;
    if buf.len() < alg.tag_len() {
        return Err(CryptoError::AeadOpenFailed);
    }
    Ok(key
        .open_in_place(nonce, aead::Aad::from(aad), buf)
        .map_err(|_| CryptoError::AeadOpenFailed)?
        .len())
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// Fills `out` from the operating system's CSPRNG.
pub(crate) fn random_fill(out: &mut [u8]) -> Result<(), CryptoError> {
    use rand::SecureRandom;
    rand::SystemRandom::new()
        .fill(out)
        .map_err(|_| CryptoError::RandomFailure)
}

/// `len` random bytes as a [`Secret`].
pub(crate) fn random_secret(len: usize) -> Result<Secret, CryptoError> {
    let mut s = Secret::zero(len);
    random_fill(s.as_mut_bytes())?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Signatures

struct EcdsaParams {
    ecdh: &'static agreement::Algorithm,
    signing: &'static signature::EcdsaSigningAlgorithm,
    verify: &'static signature::EcdsaVerificationAlgorithm,
    scalar_len: usize,
}

fn ecdsa_params(alg: SignatureAlgorithm) -> Option<EcdsaParams> {
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => Some(EcdsaParams {
            ecdh: &agreement::ECDH_P256,
            signing: &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            verify: &signature::ECDSA_P256_SHA256_ASN1,
            scalar_len: 32,
        }),
        SignatureAlgorithm::EcdsaP384Sha384 => Some(EcdsaParams {
            ecdh: &agreement::ECDH_P384,
            signing: &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            verify: &signature::ECDSA_P384_SHA384_ASN1,
            scalar_len: 48,
        }),
        SignatureAlgorithm::EcdsaP521Sha512 => Some(EcdsaParams {
            ecdh: &agreement::ECDH_P521,
            signing: &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            verify: &signature::ECDSA_P521_SHA512_ASN1,
            scalar_len: 66,
        }),
        _ => None,
    }
}

/// Left-pads a big-endian scalar that is one byte short (the official vectors carry some
/// 65-byte P-521 keys); any other length mismatch is an error.
fn fixed_scalar(sk: &[u8], scalar_len: usize) -> Result<Secret, CryptoError> {
    if sk.len() == scalar_len {
        Ok(Secret::from_slice(sk))
    } else if scalar_len == 66 && sk.len() == 65 {
        let mut v = Vec::with_capacity(66);
        v.push(0);
        v.extend_from_slice(sk);
        Ok(Secret::new(v))
    } else {
        Err(CryptoError::InvalidLength {
            what: "private key",
            expected: scalar_len,
            actual: sk.len(),
        })
    }
}

/// Uncompressed public point of an EC scalar.
fn ec_public_key(alg: &'static agreement::Algorithm, sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = agreement::PrivateKey::from_private_key(alg, sk)
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    let pk = key
        .compute_public_key()
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    Ok(pk.as_ref().to_vec())
}

fn ec_generate(alg: &'static agreement::Algorithm) -> Result<(Secret, Vec<u8>), CryptoError> {
    use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
    let key = agreement::PrivateKey::generate(alg).map_err(|_| CryptoError::RandomFailure)?;
    let bin: EcPrivateKeyBin<'static> = key
        .as_be_bytes()
        .map_err(|_| CryptoError::Library("EC key serialization"))?;
    let pk = key
        .compute_public_key()
        .map_err(|_| CryptoError::Library("EC public key"))?;
    Ok((Secret::from_slice(bin.as_ref()), pk.as_ref().to_vec()))
}

/// A fresh signature key pair: (raw private key, public key).
pub(crate) fn signature_generate(
    alg: SignatureAlgorithm,
) -> Result<(Secret, Vec<u8>), CryptoError> {
    match alg {
        SignatureAlgorithm::Ed25519 => {
            // RFC 8032 §5.1.5: the private key is 32 random bytes.
            let sk = random_secret(32)?;
            let pk = signature_public_key(alg, sk.as_bytes())?;
            Ok((sk, pk))
        }
        SignatureAlgorithm::Ed448 => curve448::ed448_generate(),
        _ => {
            let p = ecdsa_params(alg).ok_or(CryptoError::Library("ECDSA parameters"))?;
            ec_generate(p.ecdh)
        }
    }
}

/// The public key of a raw signature private key.
pub(crate) fn signature_public_key(
    alg: SignatureAlgorithm,
    sk: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    match alg {
        SignatureAlgorithm::Ed25519 => {
            check_len("Ed25519 private key", 32, sk.len())?;
            let kp = signature::Ed25519KeyPair::from_seed_unchecked(sk)
                .map_err(|_| CryptoError::InvalidPrivateKey)?;
            use signature::KeyPair;
            Ok(kp.public_key().as_ref().to_vec())
        }
        SignatureAlgorithm::Ed448 => curve448::ed448_public_key(sk),
        _ => {
            let p = ecdsa_params(alg).ok_or(CryptoError::Library("ECDSA parameters"))?;
            let sk = fixed_scalar(sk, p.scalar_len)?;
            ec_public_key(p.ecdh, sk.as_bytes())
        }
    }
}

/// Signs `msg` with a raw private key.
pub(crate) fn sign(alg: SignatureAlgorithm, sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match alg {
        SignatureAlgorithm::Ed25519 => {
            check_len("Ed25519 private key", 32, sk.len())?;
            let kp = signature::Ed25519KeyPair::from_seed_unchecked(sk)
                .map_err(|_| CryptoError::InvalidPrivateKey)?;
            Ok(kp.sign(msg).as_ref().to_vec())
        }
        SignatureAlgorithm::Ed448 => curve448::ed448_sign(sk, msg),
        _ => {
            let p = ecdsa_params(alg).ok_or(CryptoError::Library("ECDSA parameters"))?;
            let sk = fixed_scalar(sk, p.scalar_len)?;
            let pk = ec_public_key(p.ecdh, sk.as_bytes())?;
            let kp = signature::EcdsaKeyPair::from_private_key_and_public_key(
                p.signing,
                sk.as_bytes(),
                &pk,
            )
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
            let sig = kp
                .sign(&rand::SystemRandom::new(), msg)
                .map_err(|_| CryptoError::Library("ECDSA sign"))?;
            Ok(sig.as_ref().to_vec())
        }
    }
}

/// Verifies a signature over `msg`.
pub(crate) fn verify(
    alg: SignatureAlgorithm,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match alg {
        // Long messages: our verifier, which accepts exactly what AWS-LC's does and hashes
        // with `PublicSha512` (`ed25519_batch::verify_parts`).
        SignatureAlgorithm::Ed25519 if msg.len() >= LONG_MIN_LEN => {
            super::ed25519_batch::verify_parts(pk, &[msg], sig)
        }
        SignatureAlgorithm::Ed25519 => {
            check_len("Ed25519 public key", 32, pk.len())?;
            signature::UnparsedPublicKey::new(&signature::ED25519, pk)
                .verify(msg, sig)
                .map_err(|_| CryptoError::InvalidSignature)
        }
        SignatureAlgorithm::Ed448 => curve448::ed448_verify(pk, msg, sig),
        _ => {
            let p = ecdsa_params(alg).ok_or(CryptoError::Library("ECDSA parameters"))?;
            // RFC 9420 §5.1.1: uncompressed point representation only.
            check_len("ECDSA public key", 2 * p.scalar_len + 1, pk.len())?;
            if pk.first() != Some(&0x04) {
                return Err(CryptoError::InvalidPublicKey);
            }
            signature::UnparsedPublicKey::new(p.verify, pk)
                .verify(msg, sig)
                .map_err(|_| CryptoError::InvalidSignature)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DH groups for DHKEM (RFC 9180 §4.1, §7.1)

fn agreement_dh(
    alg: &'static agreement::Algorithm,
    sk: &[u8],
    pk: &[u8],
) -> Result<Secret, CryptoError> {
    let key = agreement::PrivateKey::from_private_key(alg, sk)
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    agree(alg, &key, pk)
}

/// `(DH(sk, pk), public key of sk)` with the private key parsed once.
fn agreement_dh_and_public(
    alg: &'static agreement::Algorithm,
    sk: &[u8],
    pk: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let key = agreement::PrivateKey::from_private_key(alg, sk)
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    let dh = agree(alg, &key, pk)?;
    let own = key
        .compute_public_key()
        .map_err(|_| CryptoError::InvalidPrivateKey)?;
    Ok((dh, own.as_ref().to_vec()))
}

fn agree(
    alg: &'static agreement::Algorithm,
    key: &agreement::PrivateKey,
    pk: &[u8],
) -> Result<Secret, CryptoError> {
    agreement::agree(
        key,
        agreement::UnparsedPublicKey::new(alg, pk),
        CryptoError::KeyAgreementFailed,
        |z| Ok(Secret::from_slice(z)),
    )
}

fn agreement_ephemeral_dh(
    alg: &'static agreement::Algorithm,
    pk: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let key = agreement::PrivateKey::generate(alg).map_err(|_| CryptoError::RandomFailure)?;
    let pk_e = key
        .compute_public_key()
        .map_err(|_| CryptoError::Library("public key"))?;
    let dh = agree(alg, &key, pk)?;
    Ok((dh, pk_e.as_ref().to_vec()))
}

/// Checks an uncompressed NIST point encoding's length and prefix (RFC 9180 §7.1.1).
fn check_nist_public(kem: KemAlgorithm, pk: &[u8]) -> Result<(), CryptoError> {
    check_len("public key", kem.public_key_len(), pk.len())?;
    if pk.first() != Some(&0x04) {
        return Err(CryptoError::InvalidPublicKey);
    }
    Ok(())
}

/// The X25519 coordinates (top bit cleared, little-endian) of the points of order 1, 2, 4 and 8
/// and their encodings at or above p = 2^255 - 19: `0`, `1`, the two points of order 8, `p -
/// 1`, `p` and `p + 1`. Every other 255-bit coordinate is of large order on the curve or its
/// twist, where X25519 gives a non-zero value. (Test: each gives AWS-LC's refusal.)
const X25519_SMALL_ORDER: [[u8; 32]; 7] = {
    const fn le(hex: &[u8; 64]) -> [u8; 32] {
        const fn nibble(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            }
        }
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
            i += 1;
        }
        out
    }
    [
        le(b"0000000000000000000000000000000000000000000000000000000000000000"),
        le(b"0100000000000000000000000000000000000000000000000000000000000000"),
        le(b"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        le(b"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        le(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        le(b"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        le(b"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ]
};

/// The X25519 group (RFC 7748), for DHKEM(X25519, HKDF-SHA256).
#[derive(Clone, Copy, Debug, Default)]
pub struct X25519;

impl DhGroup for X25519 {
    const KEM: KemAlgorithm = KemAlgorithm::DhKemX25519;
    const ORDER: Option<&'static [u8]> = None;
    const BITMASK: u8 = 0xff;

    fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        check_len("X25519 private key", 32, sk.len())?;
        let key = agreement::PrivateKey::from_private_key(&agreement::X25519, sk)
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        let pk = key
            .compute_public_key()
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(pk.as_ref().to_vec())
    }

    fn generate() -> Result<(Secret, Vec<u8>), CryptoError> {
        // RFC 9180 §7.1.3 serializes X25519 private keys as the raw 32 bytes; any 32 bytes are
        // a valid key (clamping happens inside the scalar multiplication).
        let sk = random_secret(32)?;
        let pk = Self::public_key(sk.as_bytes())?;
        Ok((sk, pk))
    }

    fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
        check_len("X25519 private key", 32, sk.len())?;
        check_len("X25519 public key", 32, pk.len())?;
        agreement_dh(&agreement::X25519, sk, pk)
    }

    fn check_public_key(pk: &[u8]) -> Result<(), CryptoError> {
        check_len("X25519 public key", 32, pk.len())?;
        // RFC 7748 §5: the top bit is ignored. A key whose coordinate is one of these gives
        // the all-zero shared value for every private key, which RFC 9180 §7.1.4 (and AWS-LC)
        // refuse.
        let (last, rest) = pk.split_last().ok_or(CryptoError::InvalidPublicKey)?;
        let small = X25519_SMALL_ORDER
            .iter()
            .any(|bad| bad[..31] == *rest && bad[31] == last & 0x7f);
        if small {
            return Err(CryptoError::InvalidPublicKey);
        }
        Ok(())
    }

    fn dh_and_public_key(sk: &[u8], pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        check_len("X25519 private key", 32, sk.len())?;
        check_len("X25519 public key", 32, pk.len())?;
        agreement_dh_and_public(&agreement::X25519, sk, pk)
    }

    fn ephemeral_dh(pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        check_len("X25519 public key", 32, pk.len())?;
        agreement_ephemeral_dh(&agreement::X25519, pk)
    }
}

macro_rules! nist_group {
    ($name:ident, $kem:expr, $alg:expr, $order:expr, $mask:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl DhGroup for $name {
            const KEM: KemAlgorithm = $kem;
            const ORDER: Option<&'static [u8]> = Some($order);
            const BITMASK: u8 = $mask;

            fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
                let sk = fixed_scalar(sk, Self::KEM.private_key_len())?;
                ec_public_key($alg, sk.as_bytes())
            }

            fn generate() -> Result<(Secret, Vec<u8>), CryptoError> {
                ec_generate($alg)
            }

            fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
                let sk = fixed_scalar(sk, Self::KEM.private_key_len())?;
                check_nist_public(Self::KEM, pk)?;
                agreement_dh($alg, sk.as_bytes(), pk)
            }

            fn dh_and_public_key(sk: &[u8], pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
                let sk = fixed_scalar(sk, Self::KEM.private_key_len())?;
                check_nist_public(Self::KEM, pk)?;
                agreement_dh_and_public($alg, sk.as_bytes(), pk)
            }

            fn ephemeral_dh(pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
                check_nist_public(Self::KEM, pk)?;
                agreement_ephemeral_dh($alg, pk)
            }

            fn check_public_key(pk: &[u8]) -> Result<(), CryptoError> {
                check_nist_public(Self::KEM, pk)?;
                // A point of the curve (AWS-LC's parse checks the equation; the curves have
                // cofactor 1, so every such point but the identity, which has no
                // uncompressed encoding, is of large order).
                agreement::ParsedPublicKey::try_from(&agreement::UnparsedPublicKey::new($alg, pk))
                    .map(drop)
                    .map_err(|_| CryptoError::InvalidPublicKey)
            }
        }
    };
}

/// Order of the P-256 group (big-endian).
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// Order of the P-384 group (big-endian).
const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];
/// Order of the P-521 group (big-endian, 66 bytes).
const P521_ORDER: [u8; 66] = [
    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01, 0x48, 0xf7, 0x09,
    0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38,
    0x64, 0x09,
];

nist_group!(
    P256,
    KemAlgorithm::DhKemP256,
    &agreement::ECDH_P256,
    &P256_ORDER,
    0xff,
    "The P-256 group, for DHKEM(P-256, HKDF-SHA256)."
);
nist_group!(
    P384,
    KemAlgorithm::DhKemP384,
    &agreement::ECDH_P384,
    &P384_ORDER,
    0xff,
    "The P-384 group, for DHKEM(P-384, HKDF-SHA384)."
);
nist_group!(
    P521,
    KemAlgorithm::DhKemP521,
    &agreement::ECDH_P521,
    &P521_ORDER,
    0x01,
    "The P-521 group, for DHKEM(P-521, HKDF-SHA512)."
);

/// The KEM implementation for a KEM algorithm.
pub fn kem_for(kem: KemAlgorithm) -> Box<dyn Kem> {
    match kem {
        KemAlgorithm::DhKemP256 => Box::new(DhKem::<P256>::new()),
        KemAlgorithm::DhKemP384 => Box::new(DhKem::<P384>::new()),
        KemAlgorithm::DhKemP521 => Box::new(DhKem::<P521>::new()),
        KemAlgorithm::DhKemX25519 => Box::new(DhKem::<X25519>::new()),
        KemAlgorithm::DhKemX448 => Box::new(DhKem::<curve448::X448>::new()),
    }
}

// ---------------------------------------------------------------------------------------------
// The provider

/// The default [`CryptoProvider`]: every RFC 9420 suite (0x0001-0x0007) on aws-lc-rs, with
/// X448/Ed448 from RustCrypto.
#[derive(Debug)]
pub struct AwsLcProvider {
    suites: Vec<AwsLcSuite>,
}

impl AwsLcProvider {
    /// A provider for all seven suites.
    pub fn new() -> Self {
        let suites = CipherSuite::ALL
            .iter()
            .filter_map(|cs| AwsLcSuite::new(*cs).ok())
            .collect();
        Self { suites }
    }
}

impl Default for AwsLcProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl CryptoProvider for AwsLcProvider {
    fn suite(&self, cs: CipherSuite) -> Result<&dyn CipherSuiteProvider, CryptoError> {
        self.suites
            .iter()
            .find(|s| s.suite == cs)
            .map(|s| s as &dyn CipherSuiteProvider)
            .ok_or(CryptoError::UnsupportedCipherSuite(cs))
    }

    fn supported_suites(&self) -> Vec<CipherSuite> {
        self.suites.iter().map(|s| s.suite).collect()
    }
}

/// The HPKE mode of an optional `(psk, psk_id)`.
fn hpke_mode(psk: Option<(&[u8], &[u8])>) -> HpkeMode {
    match psk {
        None => HpkeMode::Base,
        Some((psk, psk_id)) => HpkeMode::Psk {
            psk: Secret::from_slice(psk),
            psk_id: psk_id.to_vec(),
        },
    }
}

/// One cipher suite on aws-lc-rs.
pub struct AwsLcSuite {
    suite: CipherSuite,
    algs: SuiteAlgorithms,
    hpke: Hpke,
    ed25519_signer: Ed25519SignerCache,
}

/// The last Ed25519 key pair a suite signed with. Turning a 32-byte seed into a key pair
/// costs a base-point multiplication, as much as half of a signature; a member signs message
/// after message with the same key, so the pair is kept. One entry: another key replaces it,
/// and a thread that finds it locked signs without it. The seed copy is zeroized when
/// replaced or when the suite is dropped (AWS-LC cleanses the key pair when it is freed).
#[derive(Default)]
struct Ed25519SignerCache(
    std::sync::Mutex<Option<(zeroize::Zeroizing<Vec<u8>>, signature::Ed25519KeyPair)>>,
);

impl Ed25519SignerCache {
    /// Signs with the cached pair for `seed`, deriving and caching it on a miss; `None` when
    /// the cache is busy (the caller signs without it).
    fn sign(&self, seed: &[u8], msg: &[u8]) -> Option<Result<Vec<u8>, CryptoError>> {
        use subtle::ConstantTimeEq;
        let mut slot = self.0.try_lock().ok()?;
        let hit = matches!(&*slot, Some((cached, _)) if bool::from(cached.as_slice().ct_eq(seed)));
        if !hit {
            if let Err(e) = check_len("Ed25519 private key", 32, seed.len()) {
                return Some(Err(e));
            }
            match signature::Ed25519KeyPair::from_seed_unchecked(seed) {
                Ok(kp) => *slot = Some((zeroize::Zeroizing::new(seed.to_vec()), kp)),
                Err(_) => return Some(Err(CryptoError::InvalidPrivateKey)),
            }
        }
        slot.as_ref()
            .map(|(_, kp)| Ok(kp.sign(msg).as_ref().to_vec()))
    }
}

impl std::fmt::Debug for AwsLcSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsLcSuite")
            .field("suite", &self.suite)
            .field("algs", &self.algs)
            .finish()
    }
}

impl AwsLcSuite {
    /// The provider for one suite, or `UnsupportedCipherSuite`.
    pub fn new(suite: CipherSuite) -> Result<Self, CryptoError> {
        let algs = suite
            .algorithms()
            .ok_or(CryptoError::UnsupportedCipherSuite(suite))?;
        let hpke = Hpke::new(kem_for(algs.kem), algs.hash, algs.aead);
        Ok(Self {
            suite,
            algs,
            hpke,
            ed25519_signer: Ed25519SignerCache::default(),
        })
    }

    /// The suite's HPKE instance (for contexts and exports beyond the trait's one-shot calls).
    pub fn hpke(&self) -> &Hpke {
        &self.hpke
    }
}

impl CipherSuiteProvider for AwsLcSuite {
    fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    fn algorithms(&self) -> SuiteAlgorithms {
        self.algs
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        hash(self.algs.hash, data)
    }

    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        hash_parts(self.algs.hash, parts)
    }

    fn hash_into(&self, data: &[u8], out: &mut [u8; 64]) -> Option<usize> {
        // One-shot: no digest context and no heap (a context costs about as much as
        // hashing 70 bytes).
        let d = digest::digest(digest_alg(self.algs.hash), data);
        let h = d.as_ref();
        out.get_mut(..h.len())?.copy_from_slice(h);
        Some(h.len())
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac_parts(self.algs.hash, key, &[data])
    }

    fn mac_verify(&self, key: &[u8], data: &[&[u8]], tag: &[u8]) -> Result<(), CryptoError> {
        hmac_verify(self.algs.hash, key, data, tag)
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        hkdf_extract(self.algs.hash, salt, &[ikm])
    }

    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        hkdf_expand(self.algs.hash, prk, &[info], len)
    }

    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_seal(self.algs.aead, key, nonce, aad, plaintext)
    }

    fn aead_seal_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), CryptoError> {
        aead_seal_in_place(self.algs.aead, key, nonce, aad, buf, from)
    }

    fn aead_seal_in_place_late_tail(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
        tail_len: usize,
    ) -> Result<Option<super::LateTail>, CryptoError> {
        super::gcm_late_tail::seal(self.algs.aead, key, nonce, aad, buf, from, tail_len)
    }

    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_open(self.algs.aead, key, nonce, aad, ciphertext)
    }

    fn aead_open_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        aead_open_in_place(self.algs.aead, key, nonce, aad, buf)
    }

    fn signature_generate(&self) -> Result<(Secret, SignaturePublicKey), CryptoError> {
        let (sk, pk) = signature_generate(self.algs.signature)?;
        Ok((sk, SignaturePublicKey(pk.into())))
    }

    fn signature_public_key(&self, sk: &Secret) -> Result<SignaturePublicKey, CryptoError> {
        let pk = signature_public_key(self.algs.signature, sk.as_bytes())?;
        Ok(SignaturePublicKey(pk.into()))
    }

    fn sign(&self, sk: &Secret, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if self.algs.signature == SignatureAlgorithm::Ed25519 {
            // A large message (a GroupInfo carrying the tree) is signed with one SHA-512 pass
            // over it, not two (`ed25519_hedged`).
            if msg.len() >= super::ed25519_hedged::HEDGED_MIN_LEN {
                return super::ed25519_hedged::sign(sk.as_bytes(), msg);
            }
            if let Some(signed) = self.ed25519_signer.sign(sk.as_bytes(), msg) {
                return signed;
            }
        }
        sign(self.algs.signature, sk.as_bytes(), msg)
    }

    fn sign_beside(
        &self,
        sk: &Secret,
        msg: &[u8],
        binding: Option<&[&[u8]]>,
        beside: &mut (dyn FnMut() + Send),
    ) -> Result<Vec<u8>, CryptoError> {
        if self.algs.signature == SignatureAlgorithm::Ed25519
            && msg.len() >= super::ed25519_hedged::HEDGED_MIN_LEN
        {
            // The nonce (bound to `binding`, or the message's two hashes on both cores)
            // first, then the challenge beside `beside`.
            return super::ed25519_hedged::sign_beside(sk.as_bytes(), msg, binding, beside);
        }
        rayon::join(|| self.sign(sk, msg), beside).0
    }

    fn begin_bound_signature(
        &self,
        sk: &Secret,
        len: usize,
        binding: &[&[u8]],
    ) -> Result<Option<Box<dyn super::BoundSignature>>, CryptoError> {
        if self.algs.signature != SignatureAlgorithm::Ed25519
            || len < super::ed25519_hedged::HEDGED_MIN_LEN
        {
            return Ok(None);
        }
        let signer = super::ed25519_hedged::begin_bound(sk.as_bytes(), len, binding)?;
        Ok(Some(Box::new(signer)))
    }

    fn verify(&self, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        verify(self.algs.signature, pk, msg, sig)
    }

    fn verify_parts(&self, pk: &[u8], parts: &[&[u8]], sig: &[u8]) -> Result<(), CryptoError> {
        // Ed25519 streams the parts into SHA-512 (AWS-LC's verifier takes one buffer); its
        // acceptance is AWS-LC's (`ed25519_batch::verify_parts`).
        if self.algs.signature == SignatureAlgorithm::Ed25519 {
            return super::ed25519_batch::verify_parts(pk, parts, sig);
        }
        verify(self.algs.signature, pk, &parts.concat(), sig)
    }

    fn verify_batch(&self, checks: &[SignatureCheck<'_>]) -> Result<bool, CryptoError> {
        if self.algs.signature == SignatureAlgorithm::Ed25519 {
            return super::ed25519_batch::verify_batch(checks);
        }
        Ok(checks
            .iter()
            .all(|c| verify(self.algs.signature, c.public_key, c.message, c.signature).is_ok()))
    }

    fn kem_generate(&self) -> Result<(Secret, HpkePublicKey), CryptoError> {
        let (sk, pk) = self.hpke.kem().generate_key_pair()?;
        Ok((sk, HpkePublicKey(pk.into())))
    }

    fn kem_derive(&self, ikm: &[u8]) -> Result<(Secret, HpkePublicKey), CryptoError> {
        let (sk, pk) = self.hpke.kem().derive_key_pair(ikm)?;
        Ok((sk, HpkePublicKey(pk.into())))
    }

    fn kem_public_key(&self, sk: &Secret) -> Result<HpkePublicKey, CryptoError> {
        let pk = self.hpke.kem().public_key(sk.as_bytes())?;
        Ok(HpkePublicKey(pk.into()))
    }

    fn kem_check_public_key(&self, pk: &[u8]) -> Result<(), CryptoError> {
        self.hpke.kem().check_public_key(pk)
    }

    fn hpke_prepare(
        &self,
        info: &[u8],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.hpke_prepare_parts(&[info], psk)
    }

    fn hpke_prepare_parts(
        &self,
        info_parts: &[&[u8]],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.hpke.prepare_parts(hpke_mode(psk), info_parts)
    }

    fn hpke_info_stream(&self) -> super::InfoStream {
        self.hpke.info_stream()
    }

    fn hpke_prepare_stream(
        &self,
        info: super::InfoStream,
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.hpke.prepare_stream(hpke_mode(psk), info)
    }

    fn hpke_seal_prepared(
        &self,
        prepared: &PreparedInfo,
        pk: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        self.hpke.seal_prepared(prepared, pk, aad, plaintext)
    }

    fn hpke_encap(&self, pk: &[u8]) -> Result<Encapsulation, CryptoError> {
        self.hpke.encap(pk)
    }

    fn hpke_seal_encapsulated(
        &self,
        prepared: &PreparedInfo,
        encapsulation: Encapsulation,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        self.hpke
            .seal_encapsulated(prepared, encapsulation, aad, plaintext)
    }

    fn hpke_open_prepared(
        &self,
        prepared: &PreparedInfo,
        ct: &HpkeCiphertext,
        sk: &Secret,
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.hpke.open_prepared(
            prepared,
            ct.kem_output.as_slice(),
            sk.as_bytes(),
            aad,
            ct.ciphertext.as_slice(),
        )
    }

    fn hpke_export_sender(
        &self,
        pk: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError> {
        let (enc, ctx) = self.hpke.setup_sender(&HpkeMode::Base, pk, info)?;
        Ok((enc, ctx.export(exporter_context, len)?))
    }

    fn hpke_export_receiver(
        &self,
        enc: &[u8],
        sk: &Secret,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError> {
        let ctx = self
            .hpke
            .setup_receiver(&HpkeMode::Base, enc, sk.as_bytes(), info)?;
        ctx.export(exporter_context, len)
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        random_fill(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> AwsLcProvider {
        AwsLcProvider::new()
    }

    /// `kem_check_public_key` refuses exactly the received keys that encrypting to would fail
    /// on, in every suite: the small-order lists of X25519 and X448 (top bit set too, for
    /// X25519) are each refused by the check and by an encapsulation; wrong lengths, points
    /// off the NIST curves and other encodings are refused; generated keys and random
    /// X25519/X448 strings pass both.
    #[test]
    fn kem_public_key_check_refuses_what_encryption_refuses() {
        use super::super::curve448::X448;
        let refused_both = |cs: &AwsLcSuite, pk: &[u8]| {
            assert!(
                cs.kem_check_public_key(pk).is_err(),
                "check passed {pk:02x?}"
            );
            assert!(cs.hpke_encap(pk).is_err(), "encap to {pk:02x?} worked");
        };
        let passes_both = |cs: &AwsLcSuite, pk: &[u8]| {
            cs.kem_check_public_key(pk).unwrap();
            cs.hpke_encap(pk).unwrap();
        };
        for suite in 1u16..=7 {
            let cs = AwsLcSuite::new(CipherSuite(suite)).unwrap();
            let (_, pk) = cs.kem_generate().unwrap();
            passes_both(&cs, &pk);
            let mut long = pk.to_vec();
            long.push(0);
            refused_both(&cs, &long);
            refused_both(&cs, &pk[1..]);
            refused_both(&cs, &[]);
            match suite {
                1 | 3 => {
                    for bad in X25519_SMALL_ORDER {
                        refused_both(&cs, &bad);
                        let mut high = bad;
                        high[31] |= 0x80;
                        refused_both(&cs, &high);
                    }
                    for _ in 0..64 {
                        passes_both(&cs, random_secret(32).unwrap().as_bytes());
                    }
                }
                4 | 6 => {
                    for bad in super::super::curve448::x448_small_order() {
                        refused_both(&cs, &bad);
                        assert!(X448::check_public_key(&bad).is_err());
                    }
                    for _ in 0..16 {
                        passes_both(&cs, random_secret(56).unwrap().as_bytes());
                    }
                }
                _ => {
                    // Off the curve: the last byte of y changed.
                    let mut off = pk.to_vec();
                    *off.last_mut().unwrap() ^= 1;
                    refused_both(&cs, &off);
                    // A compressed encoding of the same point is not SerializePublicKey.
                    let mut compressed = pk[..1 + (pk.len() - 1) / 2].to_vec();
                    compressed[0] = 0x02 | (pk[pk.len() - 1] & 1);
                    assert!(cs.kem_check_public_key(&compressed).is_err());
                    let mut prefix = pk.to_vec();
                    prefix[0] = 0x06;
                    assert!(cs.kem_check_public_key(&prefix).is_err());
                }
            }
        }
    }

    /// The Ed25519 suites sign a message of `HEDGED_MIN_LEN` bytes or more with a fresh nonce
    /// (`ed25519_hedged`) and anything shorter as RFC 8032 does, deterministically; both
    /// verify under the suite and under no other key.
    #[test]
    fn ed25519_suites_hedge_only_large_messages() {
        use super::super::ed25519_hedged::HEDGED_MIN_LEN;
        for suite in [1u16, 3] {
            let cs = AwsLcSuite::new(CipherSuite(suite)).unwrap();
            let (sk, pk) = cs.signature_generate().unwrap();
            let (_, other) = cs.signature_generate().unwrap();
            for len in [HEDGED_MIN_LEN - 1, HEDGED_MIN_LEN] {
                let msg = vec![0x3c; len];
                let (a, b) = (cs.sign(&sk, &msg).unwrap(), cs.sign(&sk, &msg).unwrap());
                cs.verify(&pk, &msg, &a).unwrap();
                cs.verify(&pk, &msg, &b).unwrap();
                assert!(cs.verify(&other, &msg, &a).is_err());
                assert_eq!(a == b, len < HEDGED_MIN_LEN, "suite {suite}, {len} bytes");
            }
        }
    }

    #[test]
    fn cached_ed25519_signer_signs_with_the_key_it_is_given() {
        let cs = AwsLcSuite::new(CipherSuite(1)).unwrap();
        let (sk_a, pk_a) = cs.signature_generate().unwrap();
        let (sk_b, pk_b) = cs.signature_generate().unwrap();
        // Alternate keys: each signature must verify under its own key only (a stale cache
        // entry would sign with the other key).
        for (i, (sk, pk, other)) in [(&sk_a, &pk_a, &pk_b), (&sk_b, &pk_b, &pk_a)]
            .iter()
            .cycle()
            .take(6)
            .enumerate()
        {
            let msg = [u8::try_from(i).unwrap(); 40];
            let sig = cs.sign(sk, &msg).unwrap();
            // Ed25519 is deterministic: the cached pair gives the uncached signature.
            assert_eq!(
                sig,
                sign(SignatureAlgorithm::Ed25519, sk.as_bytes(), &msg).unwrap()
            );
            cs.verify(pk, &msg, &sig).unwrap();
            assert!(cs.verify(other, &msg, &sig).is_err());
        }
        // A malformed key is refused whether or not a pair is cached.
        assert!(cs.sign(&Secret::from_slice(&[1; 31]), b"m").is_err());
    }

    #[test]
    fn all_seven_suites_and_nothing_else() {
        let p = provider();
        assert_eq!(p.supported_suites(), CipherSuite::ALL.to_vec());
        for cs in CipherSuite::ALL {
            assert_eq!(p.suite(cs).unwrap().cipher_suite(), cs);
        }
        for bad in [0u16, 8, 0xfefe] {
            assert_eq!(
                p.suite(CipherSuite(bad)).err(),
                Some(CryptoError::UnsupportedCipherSuite(CipherSuite(bad)))
            );
        }
    }

    #[test]
    fn signatures_every_suite() {
        let p = provider();
        for cs in CipherSuite::ALL {
            let s = p.suite(cs).unwrap();
            let (sk, pk) = s.signature_generate().unwrap();
            assert_eq!(s.signature_public_key(&sk).unwrap(), pk);
            let sig = s.sign(&sk, b"message").unwrap();
            s.verify(&pk, b"message", &sig).unwrap();
            assert_eq!(
                s.verify(&pk, b"messagf", &sig),
                Err(CryptoError::InvalidSignature),
                "{cs:?}"
            );
            let mut bad = sig.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(s.verify(&pk, b"message", &bad).is_err());
            assert!(s.verify(&pk, b"message", &[]).is_err());
            let (_, other_pk) = s.signature_generate().unwrap();
            assert!(s.verify(&other_pk, b"message", &sig).is_err());
            // Wrong lengths are errors, not panics.
            assert!(s.sign(&Secret::from_slice(&[1, 2, 3]), b"m").is_err());
            let short_pk = SignaturePublicKey(pk[1..].to_vec().into());
            assert!(s.verify(&short_pk, b"message", &sig).is_err());
            assert!(s
                .verify(&SignaturePublicKey::default(), b"message", &sig)
                .is_err());
        }
    }

    #[test]
    fn ed25519_rfc8032_test_1() {
        // RFC 8032 §7.1 TEST 1.
        let sk = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = hex(concat!(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155",
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ));
        assert_eq!(
            signature_public_key(SignatureAlgorithm::Ed25519, &sk).unwrap(),
            pk
        );
        assert_eq!(sign(SignatureAlgorithm::Ed25519, &sk, b"").unwrap(), sig);
    }

    #[test]
    fn ed448_rfc8032_blank() {
        // RFC 8032 §7.4 "Blank".
        let sk = hex(concat!(
            "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3",
            "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b"
        ));
        let pk = hex(concat!(
            "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778",
            "edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180"
        ));
        let sig = hex(concat!(
            "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f",
            "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a",
            "9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db",
            "b61149f05a7363268c71d95808ff2e652600"
        ));
        assert_eq!(
            signature_public_key(SignatureAlgorithm::Ed448, &sk).unwrap(),
            pk
        );
        assert_eq!(sign(SignatureAlgorithm::Ed448, &sk, b"").unwrap(), sig);
        verify(SignatureAlgorithm::Ed448, &pk, b"", &sig).unwrap();
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn aead_every_suite() {
        let p = provider();
        for cs in CipherSuite::ALL {
            let s = p.suite(cs).unwrap();
            let key = vec![3u8; s.aead_key_len()];
            let nonce = vec![9u8; s.aead_nonce_len()];
            let ct = s.aead_seal(&key, &nonce, b"aad", b"plaintext").unwrap();
            assert_eq!(
                s.aead_open(&key, &nonce, b"aad", &ct).unwrap(),
                b"plaintext"
            );
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_eq!(
                s.aead_open(&key, &nonce, b"aad", &bad),
                Err(CryptoError::AeadOpenFailed)
            );
            assert!(s.aead_open(&key, &nonce, b"aaX", &ct).is_err());
            assert!(s.aead_open(&key, &nonce, b"aad", &ct[..10]).is_err());
            // In place: the same plaintext at the front of the buffer, the same refusals.
            let mut buf = ct.clone();
            let n = s
                .aead_open_in_place(&key, &nonce, b"aad", &mut buf)
                .unwrap();
            assert_eq!(&buf[..n], b"plaintext");
            let mut buf = bad.clone();
            assert_eq!(
                s.aead_open_in_place(&key, &nonce, b"aad", &mut buf),
                Err(CryptoError::AeadOpenFailed)
            );
            assert!(s
                .aead_open_in_place(&key, &nonce, b"aad", &mut ct.clone()[..10])
                .is_err());
            assert!(matches!(
                s.aead_seal(&key[1..], &nonce, b"", b""),
                Err(CryptoError::InvalidLength { .. })
            ));
            assert!(matches!(
                s.aead_open(&key, &nonce[1..], b"", &ct),
                Err(CryptoError::InvalidLength { .. })
            ));
        }
    }

    #[test]
    fn mac_and_kdf() {
        let p = provider();
        for cs in CipherSuite::ALL {
            let s = p.suite(cs).unwrap();
            let tag = s.mac(b"key", b"data");
            assert_eq!(tag.len(), s.hash_len());
            s.mac_verify(b"key", &[b"data"], &tag).unwrap();
            // Hashing in parts is hashing the concatenation, however it is split.
            assert_eq!(s.hash_parts(&[b"da", b"", b"ta"]), s.hash(b"data"));
            assert_eq!(s.hash_parts(&[]), s.hash(b""));
            assert_ne!(s.hash_parts(&[b"da", b"tb"]), s.hash(b"data"));
            // In parts: the MAC of the concatenation, however it is split.
            s.mac_verify(b"key", &[b"da", b"", b"ta"], &tag).unwrap();
            assert_eq!(
                s.mac_verify(b"key", &[b"datb"], &tag),
                Err(CryptoError::InvalidMac)
            );
            assert_eq!(
                s.mac_verify(b"key", &[b"da", b"tb"], &tag),
                Err(CryptoError::InvalidMac)
            );
            assert!(s.mac_verify(b"key", &[b"data"], &tag[1..]).is_err());
            assert!(s
                .mac_verify(b"key", &[b"data"], &[tag.as_slice(), b"x"].concat())
                .is_err());
            let prk = s.kdf_extract(b"", b"ikm");
            // An empty salt is Nh zero bytes (RFC 5869 §2.2).
            assert_eq!(prk, s.kdf_extract(&vec![0; s.hash_len()], b"ikm"));
            assert_eq!(
                s.kdf_expand(prk.as_bytes(), b"info", 100).unwrap().len(),
                100
            );
            assert!(s
                .kdf_expand(prk.as_bytes(), b"info", 255 * s.hash_len() + 1)
                .is_err());
        }
    }

    #[test]
    fn hkdf_sha256_rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let prk = hkdf_extract(HashAlgorithm::Sha256, &salt, &[&ikm]);
        assert_eq!(
            prk.as_bytes(),
            hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let okm = hkdf_expand(HashAlgorithm::Sha256, prk.as_bytes(), &[&info], 42).unwrap();
        assert_eq!(
            okm.as_bytes(),
            hex(concat!(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf",
                "34007208d5b887185865"
            ))
        );
    }

    #[test]
    fn random_bytes_differ() {
        let p = provider();
        let s = p.suite(CipherSuite(1)).unwrap();
        assert_ne!(s.random_vec(32).unwrap(), s.random_vec(32).unwrap());
    }
}
