//! Shared helpers for benchmarks.

use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, SignatureCheck,
    SignaturePublicKey,
};

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
