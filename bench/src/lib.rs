//! Shared helpers for benchmarks.

use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider};

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
