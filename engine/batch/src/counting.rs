//! [`CountingProvider`]: wraps a [`CryptoProvider`] and counts the operations that dominate a
//! commit's cost (signature signs and verifications, HPKE seals and opens), so a benchmark
//! can report what one commit costs in the same run that measures commits per second.
//!
//! Invariant: every call is forwarded unchanged to the wrapped provider; counting adds one
//! relaxed atomic increment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mls_engine::crypto::SignaturePublicKey;
use mls_engine::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, Encapsulation, HpkeCiphertext,
    HpkePublicKey, InfoStream, LateTail, PreparedInfo, Secret, SignatureCheck, SuiteAlgorithms,
};

/// Operation counters (shared between the provider and its observers).
#[derive(Debug, Default)]
pub struct Counters {
    /// Signature verifications.
    pub verify: AtomicU64,
    /// Signatures made.
    pub sign: AtomicU64,
    /// HPKE opens (single-shot, base or PSK).
    pub hpke_open: AtomicU64,
    /// HPKE seals.
    pub hpke_seal: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Signature verifications.
    pub verify: u64,
    /// Signatures made.
    pub sign: u64,
    /// HPKE opens.
    pub hpke_open: u64,
    /// HPKE seals.
    pub hpke_seal: u64,
}

impl Counters {
    /// The current values.
    pub fn snapshot(&self) -> Counts {
        Counts {
            verify: self.verify.load(Ordering::Relaxed),
            sign: self.sign.load(Ordering::Relaxed),
            hpke_open: self.hpke_open.load(Ordering::Relaxed),
            hpke_seal: self.hpke_seal.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            verify: self.verify.saturating_sub(o.verify),
            sign: self.sign.saturating_sub(o.sign),
            hpke_open: self.hpke_open.saturating_sub(o.hpke_open),
            hpke_seal: self.hpke_seal.saturating_sub(o.hpke_seal),
        }
    }
}

/// One counted suite.
struct CountingSuite {
    inner: &'static dyn CipherSuiteProvider,
    counters: Arc<Counters>,
}

/// A [`CryptoProvider`] that counts; see the module documentation. Holds one suite.
pub struct CountingProvider {
    suite: CountingSuite,
}

impl std::fmt::Debug for CountingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingProvider")
            .field("suite", &self.suite.inner.cipher_suite())
            .field("counts", &self.suite.counters.snapshot())
            .finish()
    }
}

impl CountingProvider {
    /// Wraps one suite implementation (for example `Box::leak`ed provider's suite).
    pub fn new(inner: &'static dyn CipherSuiteProvider) -> (Self, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        (
            Self {
                suite: CountingSuite {
                    inner,
                    counters: counters.clone(),
                },
            },
            counters,
        )
    }
}

impl CryptoProvider for CountingProvider {
    fn suite(&self, suite: CipherSuite) -> Result<&dyn CipherSuiteProvider, CryptoError> {
        if suite == self.suite.inner.cipher_suite() {
            Ok(&self.suite)
        } else {
            Err(CryptoError::UnsupportedCipherSuite(suite))
        }
    }

    fn supported_suites(&self) -> Vec<CipherSuite> {
        vec![self.suite.inner.cipher_suite()]
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl CipherSuiteProvider for CountingSuite {
    fn cipher_suite(&self) -> CipherSuite {
        self.inner.cipher_suite()
    }
    fn algorithms(&self) -> SuiteAlgorithms {
        self.inner.algorithms()
    }
    fn hash(&self, data: &[u8]) -> Vec<u8> {
        self.inner.hash(data)
    }
    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.inner.hash_parts(parts)
    }
    fn hash_into(&self, data: &[u8], out: &mut [u8; 64]) -> Option<usize> {
        self.inner.hash_into(data, out)
    }
    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        self.inner.mac(key, data)
    }
    fn mac_verify(&self, key: &[u8], data: &[&[u8]], tag: &[u8]) -> Result<(), CryptoError> {
        self.inner.mac_verify(key, data, tag)
    }
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        self.inner.kdf_extract(salt, ikm)
    }
    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        self.inner.kdf_expand(prk, info, len)
    }
    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_seal(key, nonce, aad, plaintext)
    }
    fn aead_seal_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), CryptoError> {
        self.inner.aead_seal_in_place(key, nonce, aad, buf, from)
    }
    fn aead_seal_in_place_late_tail(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
        tail_len: usize,
    ) -> Result<Option<LateTail>, CryptoError> {
        self.inner
            .aead_seal_in_place_late_tail(key, nonce, aad, buf, from, tail_len)
    }
    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_open(key, nonce, aad, ciphertext)
    }
    fn signature_generate(&self) -> Result<(Secret, SignaturePublicKey), CryptoError> {
        self.inner.signature_generate()
    }
    fn signature_public_key(&self, sk: &Secret) -> Result<SignaturePublicKey, CryptoError> {
        self.inner.signature_public_key(sk)
    }
    fn sign(&self, sk: &Secret, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        bump(&self.counters.sign);
        self.inner.sign(sk, msg)
    }
    fn sign_beside(
        &self,
        sk: &Secret,
        msg: &[u8],
        binding: Option<&[&[u8]]>,
        beside: &mut (dyn FnMut() + Send),
    ) -> Result<Vec<u8>, CryptoError> {
        bump(&self.counters.sign);
        self.inner.sign_beside(sk, msg, binding, beside)
    }
    fn verify(&self, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        bump(&self.counters.verify);
        self.inner.verify(pk, msg, sig)
    }
    fn verify_parts(&self, pk: &[u8], parts: &[&[u8]], sig: &[u8]) -> Result<(), CryptoError> {
        bump(&self.counters.verify);
        self.inner.verify_parts(pk, parts, sig)
    }
    fn verify_batch(&self, checks: &[SignatureCheck<'_>]) -> Result<bool, CryptoError> {
        // One count per signature, as for single checks.
        self.counters
            .verify
            .fetch_add(checks.len() as u64, Ordering::Relaxed);
        self.inner.verify_batch(checks)
    }
    fn kem_generate(&self) -> Result<(Secret, HpkePublicKey), CryptoError> {
        self.inner.kem_generate()
    }
    fn kem_derive(&self, ikm: &[u8]) -> Result<(Secret, HpkePublicKey), CryptoError> {
        self.inner.kem_derive(ikm)
    }
    fn kem_public_key(&self, sk: &Secret) -> Result<HpkePublicKey, CryptoError> {
        self.inner.kem_public_key(sk)
    }
    fn kem_check_public_key(&self, pk: &[u8]) -> Result<(), CryptoError> {
        self.inner.kem_check_public_key(pk)
    }
    fn hpke_prepare(
        &self,
        info: &[u8],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.inner.hpke_prepare(info, psk)
    }
    fn hpke_prepare_parts(
        &self,
        info_parts: &[&[u8]],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.inner.hpke_prepare_parts(info_parts, psk)
    }
    fn hpke_info_stream(&self) -> InfoStream {
        self.inner.hpke_info_stream()
    }
    fn hpke_prepare_stream(
        &self,
        info: InfoStream,
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.inner.hpke_prepare_stream(info, psk)
    }
    fn hpke_seal_prepared(
        &self,
        prepared: &PreparedInfo,
        pk: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        bump(&self.counters.hpke_seal);
        self.inner.hpke_seal_prepared(prepared, pk, aad, plaintext)
    }
    fn hpke_encap(&self, pk: &[u8]) -> Result<Encapsulation, CryptoError> {
        self.inner.hpke_encap(pk)
    }
    fn hpke_seal_encapsulated(
        &self,
        prepared: &PreparedInfo,
        encapsulation: Encapsulation,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        bump(&self.counters.hpke_seal);
        self.inner
            .hpke_seal_encapsulated(prepared, encapsulation, aad, plaintext)
    }
    fn hpke_open_prepared(
        &self,
        prepared: &PreparedInfo,
        ct: &HpkeCiphertext,
        sk: &Secret,
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        bump(&self.counters.hpke_open);
        self.inner.hpke_open_prepared(prepared, ct, sk, aad)
    }
    fn hpke_export_sender(
        &self,
        pk: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError> {
        self.inner
            .hpke_export_sender(pk, info, exporter_context, len)
    }
    fn hpke_export_receiver(
        &self,
        enc: &[u8],
        sk: &Secret,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError> {
        self.inner
            .hpke_export_receiver(enc, sk, info, exporter_context, len)
    }
    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.inner.random_bytes(out)
    }
}
