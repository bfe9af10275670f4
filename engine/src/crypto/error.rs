//! The typed error of every cryptographic operation.

use super::CipherSuite;

/// Why a cryptographic operation failed. No operation panics on any input: malformed keys,
/// invalid points, bad signatures and AEAD failures all come back as one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The cipher suite is unknown or not implemented by this provider.
    #[error("unsupported cipher suite 0x{:04x}", .0 .0)]
    UnsupportedCipherSuite(CipherSuite),
    /// An input has the wrong length (key, nonce, encapsulation, ...).
    #[error("invalid length for {what}: expected {expected}, got {actual}")]
    InvalidLength {
        /// What had the wrong length.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A private key was rejected (out of range, zero, malformed).
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// A public key was rejected (not on the curve, wrong encoding, low order).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A signature did not verify.
    #[error("signature verification failed")]
    InvalidSignature,
    /// A MAC did not verify.
    #[error("MAC verification failed")]
    InvalidMac,
    /// AEAD decryption failed (wrong key, tampered ciphertext or AAD).
    #[error("AEAD decryption failed")]
    AeadOpenFailed,
    /// A Diffie-Hellman computation failed or gave the all-zero value (RFC 9180 §7.1.4).
    #[error("key agreement failed")]
    KeyAgreementFailed,
    /// DeriveKeyPair found no valid scalar within 256 candidates (RFC 9180 §7.1.3).
    #[error("DeriveKeyPair failed")]
    DeriveKeyPairError,
    /// A KDF output length is too large (more than 255 * Nh, or more than 2^16 - 1).
    #[error("KDF output length {0} too large")]
    KdfOutputTooLong(usize),
    /// HPKE PSK inputs are inconsistent (RFC 9180 §5.1 VerifyPSKInputs).
    #[error("inconsistent HPKE PSK inputs")]
    InconsistentPsk,
    /// The HPKE context's sequence number overflowed (RFC 9180 §5.2).
    #[error("HPKE message limit reached")]
    MessageLimitReached,
    /// A prepared HPKE value was used with a different suite than it was prepared for.
    #[error("prepared HPKE input belongs to another suite")]
    SuiteMismatch,
    /// The operating system's random number generator failed.
    #[error("random number generator failure")]
    RandomFailure,
    /// A structure could not be encoded.
    #[error("encoding error: {0}")]
    Encoding(String),
    /// The underlying library failed for a reason it does not say.
    #[error("cryptographic library failure: {0}")]
    Library(&'static str),
}

impl From<tls_codec::Error> for CryptoError {
    fn from(e: tls_codec::Error) -> Self {
        CryptoError::Encoding(e.to_string())
    }
}

/// Checks that `actual` equals `expected`, naming `what` in the error.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    actual: usize,
) -> Result<(), CryptoError> {
    if expected == actual {
        Ok(())
    } else {
        Err(CryptoError::InvalidLength {
            what,
            expected,
            actual,
        })
    }
}
