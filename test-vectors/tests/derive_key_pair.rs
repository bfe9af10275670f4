//! DeriveKeyPair (RFC 9180 §7.1.3) for every suite, including X448, checked against the
//! official `key-schedule.json`: each epoch's `external_pub` is the public key of
//! `DeriveKeyPair(external_secret)` (RFC 9420 §8).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};

#[test]
fn external_pub_from_external_secret() {
    let Some(path) = test_vectors::official_file("key-schedule") else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let provider = AwsLcProvider::new();
    let mut checked = 0;
    for case in json.as_array().unwrap() {
        let suite = u16::try_from(case["cipher_suite"].as_u64().unwrap()).unwrap();
        let cs = provider.suite(CipherSuite(suite)).unwrap();
        for epoch in case["epochs"].as_array().unwrap() {
            let secret = hex::decode(epoch["external_secret"].as_str().unwrap()).unwrap();
            let want = hex::decode(epoch["external_pub"].as_str().unwrap()).unwrap();
            let (_, pk) = cs.kem_derive(&secret).unwrap();
            assert_eq!(pk.0.as_slice(), want.as_slice(), "suite {suite}");
            checked += 1;
        }
    }
    assert_eq!(checked, 35);
}
