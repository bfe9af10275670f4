//! Arbitrary bytes as keys, encapsulations, ciphertexts and signatures: every suite must return
//! errors, never panic.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use mls_engine::crypto::{
    labels, AwsLcProvider, CipherSuite, CryptoProvider, HpkeCiphertext, HpkePublicKey, Secret,
    SignaturePublicKey,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics(
        suite in 1u16..=7,
        a in proptest::collection::vec(any::<u8>(), 0..140),
        b in proptest::collection::vec(any::<u8>(), 0..140),
        c in proptest::collection::vec(any::<u8>(), 0..140),
    ) {
        let provider = AwsLcProvider::new();
        let cs = provider.suite(CipherSuite(suite)).unwrap();
        let sk = Secret::from_slice(&a);
        let _ = cs.signature_public_key(&sk);
        let _ = cs.sign(&sk, &b);
        let _ = cs.verify(&SignaturePublicKey(a.clone().into()), &b, &c);
        let _ = cs.kem_public_key(&sk);
        let _ = cs.kem_derive(&a);
        let _ = cs.hpke_seal_base(&HpkePublicKey(a.clone().into()), &b, &c, &c);
        let ct = HpkeCiphertext { kem_output: b.clone().into(), ciphertext: c.clone().into() };
        let _ = cs.hpke_open_base(&ct, &sk, &b, &c);
        let _ = cs.hpke_export_receiver(&b, &sk, &c, &a, 32);
        let _ = cs.aead_open(&a, &b, &c, &c);
        let _ = cs.mac_verify(&a, &[&b], &c);
        let _ = labels::decrypt_with_label(cs, &sk, "label", &a, &ct);

        // A valid key with a garbage ciphertext.
        let (vsk, _) = cs.kem_generate().unwrap();
        prop_assert!(cs.hpke_open_base(&ct, &vsk, &b, &c).is_err());
    }

    #[test]
    fn exact_length_garbage_never_panics(
        suite in 1u16..=7,
        len in prop::sample::select(vec![32usize, 48, 56, 57, 64, 65, 66, 97, 114, 133]),
        bytes in proptest::collection::vec(any::<u8>(), 133),
        first in prop::sample::select(vec![0u8, 2, 3, 4, 0xff]),
    ) {
        let provider = AwsLcProvider::new();
        let cs = provider.suite(CipherSuite(suite)).unwrap();
        let mut a = bytes[..len].to_vec();
        a[0] = first;
        let sk = Secret::from_slice(&a);
        let _ = cs.signature_public_key(&sk);
        let _ = cs.sign(&sk, b"m");
        let (ssk, spk) = cs.signature_generate().unwrap();
        let sig = cs.sign(&ssk, b"m").unwrap();
        let _ = cs.verify(&SignaturePublicKey(a.clone().into()), b"m", &sig);
        prop_assert!(cs.verify(&spk, b"m", &a).is_err());
        let _ = cs.kem_public_key(&sk);
        let _ = cs.hpke_seal_base(&HpkePublicKey(a.clone().into()), b"", b"", b"");
        let (vsk, _) = cs.kem_generate().unwrap();
        let ct = HpkeCiphertext { kem_output: a.clone().into(), ciphertext: vec![0; 20].into() };
        prop_assert!(cs.hpke_open_base(&ct, &vsk, b"", b"").is_err());
        let _ = cs.hpke_export_receiver(&a, &vsk, b"", b"", 32);
        let _ = cs.hpke_export_receiver(&a, &sk, b"", b"", 32);
    }
}
