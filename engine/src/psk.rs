//! Pre-shared keys in the key schedule (RFC 9420 §8.4): the `psk_secret` that chains any number
//! of external and resumption PSKs, and fresh PSK nonces.
//!
//! Invariants: the PSKs are injected in the order given (the order of the Commit's proposals or
//! of `GroupSecrets.psks`); each step's `PSKLabel` carries the PSK's index and the total count,
//! so reordering or dropping a PSK changes the result; zero PSKs give `KDF.Nh` zero bytes. Where
//! the PSK bytes come from (an application store, or a past epoch's `resumption_psk`) is the
//! caller's business: this module only combines them.

use tls_codec::Serialize;

use crate::codec::VarBytes;
use crate::crypto::labels::expand_with_label;
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret};
use crate::messages::{PreSharedKeyId, PskLabel};

/// `psk_secret` (RFC 9420 §8.4): the PSK input to the key schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskSecret(Secret);

impl PskSecret {
    /// The `psk_secret` of an epoch without PSKs: `KDF.Nh` zero bytes (§8.4).
    pub fn zero(cs: &dyn CipherSuiteProvider) -> Self {
        Self(Secret::zero(cs.hash_len()))
    }

    /// Wraps an already computed `psk_secret`.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret bytes.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// Chains `psks` (their ids and values, in order) into a `psk_secret` (§8.4):
    ///
    /// ```text
    /// psk_extracted_[i] = KDF.Extract(0, psk_[i])
    /// psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
    /// psk_secret_[0]    = 0
    /// psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
    /// ```
    ///
    /// More than 65,535 PSKs cannot be labelled (`uint16 count`) and are an error.
    pub fn compute(
        cs: &dyn CipherSuiteProvider,
        psks: &[(&PreSharedKeyId, &Secret)],
    ) -> Result<Self, PskError> {
        let count = u16::try_from(psks.len()).map_err(|_| PskError::TooManyPsks(psks.len()))?;
        let zero = Secret::zero(cs.hash_len());
        let mut acc = zero.clone();
        for (index, (id, psk)) in (0u16..).zip(psks.iter()) {
            let label = PskLabel {
                id: (*id).clone(),
                index,
                count,
            };
            let mut encoded = Vec::new();
            label
                .tls_serialize(&mut encoded)
                .map_err(|e| PskError::Encoding(e.to_string()))?;
            let extracted = cs.kdf_extract(zero.as_bytes(), psk.as_bytes());
            let input = expand_with_label(
                cs,
                extracted.as_bytes(),
                "derived psk",
                &encoded,
                cs.hash_len(),
            )?;
            acc = cs.kdf_extract(input.as_bytes(), acc.as_bytes());
        }
        Ok(Self(acc))
    }
}

/// A fresh `psk_nonce` of `KDF.Nh` random bytes (§8.4).
pub fn fresh_psk_nonce(cs: &dyn CipherSuiteProvider) -> Result<VarBytes, CryptoError> {
    cs.random_vec(cs.hash_len()).map(VarBytes)
}

/// Why a `psk_secret` could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PskError {
    /// More PSKs than a `uint16` count can label.
    #[error("{0} PSKs exceed the 65535 a PSKLabel can count")]
    TooManyPsks(usize),
    /// A PSKLabel could not be encoded.
    #[error("PSKLabel encoding failed: {0}")]
    Encoding(String),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
