//! Curve448 primitives aws-lc lacks, from RustCrypto's `x448` and `ed448-goldilocks` crates:
//! the X448 group of DHKEM(X448, HKDF-SHA512) and Ed448 signatures (suites 4 and 6).

use ed448_goldilocks::{Signature, SigningKey, VerifyingKey};

use super::error::{check_len, CryptoError};
use super::kem::{random_private_key, DhGroup};
use super::secret::Secret;
use super::suite::KemAlgorithm;

const X448_LEN: usize = 56;
const ED448_KEY_LEN: usize = 57;

fn array56(bytes: &[u8], what: &'static str) -> Result<[u8; X448_LEN], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::InvalidLength {
        what,
        expected: X448_LEN,
        actual: bytes.len(),
    })
}

/// The X448 group (RFC 7748), for DHKEM(X448, HKDF-SHA512).
#[derive(Clone, Copy, Debug, Default)]
pub struct X448;

impl DhGroup for X448 {
    const KEM: KemAlgorithm = KemAlgorithm::DhKemX448;
    const ORDER: Option<&'static [u8]> = None;
    const BITMASK: u8 = 0xff;

    fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sk = zeroize::Zeroizing::new(array56(sk, "X448 private key")?);
        let pk =
            x448::x448(*sk, x448::X448_BASEPOINT_BYTES).ok_or(CryptoError::InvalidPrivateKey)?;
        Ok(pk.to_vec())
    }

    fn generate() -> Result<(Secret, Vec<u8>), CryptoError> {
        // RFC 9180 §7.1.2: X448 private keys are the raw 56 bytes; clamping is internal.
        let sk = random_private_key(X448_LEN)?;
        let pk = Self::public_key(sk.as_bytes())?;
        Ok((sk, pk))
    }

    fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
        let sk = zeroize::Zeroizing::new(array56(sk, "X448 private key")?);
        let pk = array56(pk, "X448 public key")?;
        // `x448` refuses low-order points (RFC 7748 §6.2), which would give the zero value.
        let z = zeroize::Zeroizing::new(x448::x448(*sk, pk).ok_or(CryptoError::InvalidPublicKey)?);
        Ok(Secret::from_slice(&z[..]))
    }

    fn check_public_key(pk: &[u8]) -> Result<(), CryptoError> {
        let pk = array56(pk, "X448 public key")?;
        if x448_small_order().contains(&pk) {
            return Err(CryptoError::InvalidPublicKey);
        }
        Ok(())
    }
}

/// The X448 coordinates (little-endian) of the points of order 1, 2 and 4 and their
/// encodings at or above p = 2^448 - 2^224 - 1: `0`, `1`, `p - 1`, `p`, `p + 1`. Every other
/// 448-bit coordinate gives X448 a non-zero value. (Test: each is refused by `x448`.)
pub(crate) fn x448_small_order() -> [[u8; X448_LEN]; 5] {
    let half = X448_LEN / 2;
    let mut one = [0u8; X448_LEN];
    one[0] = 1;
    // p: the low half all ones, the high half 2^224 - 2.
    let mut p = [0xffu8; X448_LEN];
    p[half] = 0xfe;
    let mut p_minus_1 = p;
    p_minus_1[0] = 0xfe;
    // p + 1 = 2^448 - 2^224: the low half zero, the high half all ones.
    let mut p_plus_1 = [0xffu8; X448_LEN];
    p_plus_1[..half].fill(0);
    [[0u8; X448_LEN], one, p_minus_1, p, p_plus_1]
}

fn ed448_signing_key(sk: &[u8]) -> Result<SigningKey, CryptoError> {
    check_len("Ed448 private key", ED448_KEY_LEN, sk.len())?;
    SigningKey::try_from(sk).map_err(|_| CryptoError::InvalidPrivateKey)
}

/// A fresh Ed448 key pair: (57-byte RFC 8032 private key, 57-byte public key).
pub(crate) fn ed448_generate() -> Result<(Secret, Vec<u8>), CryptoError> {
    // RFC 8032 §5.2.5: the private key is 57 random bytes.
    let sk = random_private_key(ED448_KEY_LEN)?;
    let pk = ed448_public_key(sk.as_bytes())?;
    Ok((sk, pk))
}

/// The Ed448 public key of a raw private key.
pub(crate) fn ed448_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(ed448_signing_key(sk)?.verifying_key().to_bytes().to_vec())
}

/// Pure Ed448 (empty context) signature, `R || S`.
pub(crate) fn ed448_sign(sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(ed448_signing_key(sk)?.sign_raw(msg).to_bytes().to_vec())
}

/// Verifies a pure Ed448 signature.
pub(crate) fn ed448_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let pk: [u8; ED448_KEY_LEN] = pk.try_into().map_err(|_| CryptoError::InvalidLength {
        what: "Ed448 public key",
        expected: ED448_KEY_LEN,
        actual: pk.len(),
    })?;
    let vk = VerifyingKey::from_bytes(&pk).map_err(|_| CryptoError::InvalidPublicKey)?;
    let sig = Signature::from_slice(sig).map_err(|_| CryptoError::InvalidSignature)?;
    vk.verify_raw(&sig, msg)
        .map_err(|_| CryptoError::InvalidSignature)
}
