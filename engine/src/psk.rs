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

/// Why the PSKs of a commit or Welcome could not be resolved to their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PskResolveError {
    /// An external PSK id the application does not know.
    #[error("unknown external PSK id")]
    UnknownExternalPsk,
    /// A resumption PSK for a group and epoch whose `resumption_psk` is not kept.
    #[error("no resumption PSK kept for epoch {epoch}")]
    UnknownResumptionPsk {
        /// The epoch asked for.
        epoch: u64,
    },
    /// The PSK nonce is not `KDF.Nh` bytes long (§8.4).
    #[error("psk_nonce is {0} bytes, not KDF.Nh")]
    BadNonceLength(usize),
    /// Computing the `psk_secret` failed.
    #[error(transparent)]
    Psk(#[from] PskError),
}

/// Past epochs' `resumption_psk`s (§8.6), keyed by group id and epoch, keeping at most
/// `capacity` of them (the oldest epochs are evicted first). Resumption PSKs may name any past
/// epoch, including the one a member joined at, so the group keeps them here rather than in
/// the epoch state that is dropped on every commit.
#[derive(Clone, Debug)]
pub struct ResumptionPskStore {
    capacity: usize,
    psks: std::collections::BTreeMap<(u64, Vec<u8>), Secret>,
}

impl ResumptionPskStore {
    /// An empty store keeping at most `capacity` PSKs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            psks: std::collections::BTreeMap::new(),
        }
    }

    /// Keeps `group_id`'s `resumption_psk` of `epoch`, evicting the oldest epoch beyond capacity.
    pub fn insert(&mut self, group_id: &[u8], epoch: u64, resumption_psk: Secret) {
        self.psks.insert((epoch, group_id.to_vec()), resumption_psk);
        while self.psks.len() > self.capacity {
            self.psks.pop_first();
        }
    }

    /// Every kept PSK as `(group_id, epoch, psk)` (for state serialisation).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64, &Secret)> {
        self.psks.iter().map(|((e, g), s)| (g.as_slice(), *e, s))
    }

    /// The most PSKs kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The `resumption_psk` of `group_id` at `epoch`, if kept.
    pub fn get(&self, group_id: &[u8], epoch: u64) -> Option<&Secret> {
        self.psks.get(&(epoch, group_id.to_vec()))
    }

    /// How many PSKs are kept.
    pub fn len(&self) -> usize {
        self.psks.len()
    }

    /// True when none are kept.
    pub fn is_empty(&self) -> bool {
        self.psks.is_empty()
    }
}

/// Resolves each `PreSharedKeyID` to its value (external ones through `external`, resumption
/// ones through `resumption`), checks each nonce is `KDF.Nh` bytes (§8.4), and chains them into
/// the `psk_secret`, in order.
pub fn resolve_psk_secret(
    cs: &dyn CipherSuiteProvider,
    ids: &[PreSharedKeyId],
    external: impl Fn(&[u8]) -> Option<Secret>,
    resumption: &ResumptionPskStore,
) -> Result<PskSecret, PskResolveError> {
    let mut values = Vec::with_capacity(ids.len());
    for id in ids {
        if id.psk_nonce.len() != cs.hash_len() {
            return Err(PskResolveError::BadNonceLength(id.psk_nonce.len()));
        }
        let value = match &id.psk {
            crate::messages::Psk::External(e) => {
                external(e.psk_id.as_slice()).ok_or(PskResolveError::UnknownExternalPsk)?
            }
            crate::messages::Psk::Resumption(r) => resumption
                .get(r.psk_group_id.as_slice(), r.psk_epoch)
                .cloned()
                .ok_or(PskResolveError::UnknownResumptionPsk { epoch: r.psk_epoch })?,
        };
        values.push(value);
    }
    let pairs: Vec<(&PreSharedKeyId, &Secret)> = ids.iter().zip(values.iter()).collect();
    Ok(PskSecret::compute(cs, &pairs)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
    use crate::messages::{ExternalPsk, Psk, ResumptionPsk, ResumptionPskUsage};

    #[test]
    fn resolves_external_and_resumption_in_order() {
        let p = AwsLcProvider::new();
        let cs = p.suite(CipherSuite(1)).unwrap();
        let mut store = ResumptionPskStore::new(2);
        store.insert(b"g", 1, Secret::from_slice(&[1; 32]));
        store.insert(b"g", 2, Secret::from_slice(&[2; 32]));
        store.insert(b"g", 3, Secret::from_slice(&[3; 32]));
        assert_eq!(store.len(), 2);
        assert!(store.get(b"g", 1).is_none());
        let ext = PreSharedKeyId {
            psk: Psk::External(ExternalPsk {
                psk_id: VarBytes(b"e".to_vec()),
            }),
            psk_nonce: VarBytes(vec![9; 32]),
        };
        let res = |epoch| PreSharedKeyId {
            psk: Psk::Resumption(ResumptionPsk {
                usage: ResumptionPskUsage::APPLICATION,
                psk_group_id: VarBytes(b"g".to_vec()),
                psk_epoch: epoch,
            }),
            psk_nonce: VarBytes(vec![8; 32]),
        };
        let external = |id: &[u8]| (id == b"e").then(|| Secret::from_slice(&[7; 32]));
        let ids = [ext.clone(), res(2)];
        let got = resolve_psk_secret(cs, &ids, external, &store).unwrap();
        let e_val = Secret::from_slice(&[7; 32]);
        let r_val = Secret::from_slice(&[2; 32]);
        let want = PskSecret::compute(cs, &[(&ext, &e_val), (&ids[1], &r_val)]).unwrap();
        assert_eq!(got, want);
        // Order matters.
        let swapped = PskSecret::compute(cs, &[(&ids[1], &r_val), (&ext, &e_val)]).unwrap();
        assert_ne!(got, swapped);
        assert_eq!(
            resolve_psk_secret(cs, &[res(1)], external, &store).unwrap_err(),
            PskResolveError::UnknownResumptionPsk { epoch: 1 }
        );
        let mut short = ext.clone();
        short.psk_nonce = VarBytes(vec![0; 5]);
        assert_eq!(
            resolve_psk_secret(cs, &[short], external, &store).unwrap_err(),
            PskResolveError::BadNonceLength(5)
        );
        assert_eq!(PskSecret::compute(cs, &[]).unwrap(), PskSecret::zero(cs));
    }
}
