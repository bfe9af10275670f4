//! Shared helpers for benchmarks.

use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, HpkePublicKey, PreparedInfo,
    SignatureCheck, SignaturePublicKey,
};
use rayon::prelude::*;

/// The provider for `suite` from a process-wide [`AwsLcProvider`].
///
/// # Panics
/// When `suite` is not one of the seven RFC 9420 suites (benchmark setup only).
pub fn suite(suite: u16) -> &'static dyn CipherSuiteProvider {
    static PROVIDER: std::sync::OnceLock<AwsLcProvider> = std::sync::OnceLock::new();
    let provider = PROVIDER.get_or_init(AwsLcProvider::new);
    match provider.suite(CipherSuite(suite)) {
        Ok(s) => s,
        Err(e) => panic!("benchmark suite {suite}: {e}"),
    }
}

/// A signed message: the signer's public key, the message and the signature.
pub type Signed = (SignaturePublicKey, Vec<u8>, Vec<u8>);

/// `n` signatures, each by a fresh key, over `msg` followed by the signature's index.
///
/// # Panics
/// When the suite cannot generate keys or sign (benchmark setup only).
pub fn signed_by_distinct_keys(cs: &dyn CipherSuiteProvider, n: u32, msg: &[u8]) -> Vec<Signed> {
    (0..n)
        .map(|i| {
            let (sk, pk) = cs.signature_generate().expect("key pair");
            let m = [msg, &i.to_be_bytes()].concat();
            let sig = cs.sign(&sk, &m).expect("sign");
            (pk, m, sig)
        })
        .collect()
}

/// The [`SignatureCheck`]s of `signed`, for [`CipherSuiteProvider::verify_batch`].
pub fn signature_checks(signed: &[Signed]) -> Vec<SignatureCheck<'_>> {
    signed
        .iter()
        .map(|(pk, m, sig)| SignatureCheck {
            public_key: pk,
            message: m,
            signature: sig,
        })
        .collect()
}

/// The largest batch the engine verifies at once (`labels::VERIFY_BATCH` in the engine).
pub const VERIFY_BATCH: usize = 510;

/// `n` fresh HPKE public keys, the recipients of [`seal_pool`].
///
/// # Panics
/// When the suite cannot generate keys (benchmark setup only).
pub fn hpke_recipients(cs: &dyn CipherSuiteProvider, n: usize) -> Vec<HpkePublicKey> {
    (0..n)
        .map(|_| cs.kem_generate().expect("key pair").1)
        .collect()
}

/// One HPKE seal of a 32-byte secret to each of `recipients`, spread over the rayon pool the
/// way the engine spreads an UpdatePath's seals (one parallel iterator): the cryptography of a
/// commit whose resolutions are large, on all cores.
///
/// # Panics
/// When a seal fails (benchmark only).
pub fn seal_pool(
    cs: &dyn CipherSuiteProvider,
    prepared: &PreparedInfo,
    recipients: &[HpkePublicKey],
) {
    recipients.par_iter().for_each(|pk| {
        cs.hpke_seal_prepared(prepared, pk, b"", &[7u8; 32])
            .expect("seal");
    });
}

/// Verifies `checks` in batches of [`VERIFY_BATCH`] spread over the rayon pool, as a joiner
/// verifies the leaves of a received tree: the cryptography of a join, on all cores.
///
/// # Panics
/// When the suite fails (benchmark only).
pub fn verify_pool(cs: &dyn CipherSuiteProvider, checks: &[SignatureCheck<'_>]) -> bool {
    checks
        .par_chunks(VERIFY_BATCH)
        .all(|batch| cs.verify_batch(batch).expect("verify_batch"))
}
