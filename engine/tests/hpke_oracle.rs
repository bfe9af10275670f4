//! Cross-checks our HPKE (RFC 9180) against the independent `hpke` crate, both directions, for
//! every KEM both implement with the MLS suite's KDF and AEAD: base mode, PSK mode, the secret
//! export, and DeriveKeyPair.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
use hpke::kdf::{HkdfSha256, HkdfSha384, HkdfSha512};
use hpke::kem::{DhP256HkdfSha256, DhP384HkdfSha384, DhP521HkdfSha512, X25519HkdfSha256};
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, PskBundle, Serializable};
use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CryptoProvider, HpkeCiphertext, HpkePublicKey, Secret,
};

/// An RNG for the `hpke` crate backed by our provider's OS randomness.
struct OsRandom;

impl hpke::rand_core::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        let p = AwsLcProvider::new();
        p.suite(CipherSuite(1)).unwrap().random_bytes(dst).unwrap();
    }
}

impl hpke::rand_core::CryptoRng for OsRandom {}

const INFO: &[u8] = b"oracle info";
const AAD: &[u8] = b"oracle aad";
const PT: &[u8] = b"a plaintext of some length, 42 bytes long.";
const PSK: &[u8] = b"a pre-shared key of 32 bytes....";
const PSK_ID: &[u8] = b"psk id";

fn check<K, F, A>(suite: u16)
where
    K: KemTrait,
    F: hpke::kdf::Kdf,
    A: hpke::aead::Aead,
{
    let provider = AwsLcProvider::new();
    let cs = provider.suite(CipherSuite(suite)).unwrap();

    // DeriveKeyPair: identical keys for identical ikm.
    for i in 0u8..16 {
        let ikm: Vec<u8> = (0..32u8)
            .map(|j| j.wrapping_mul(31).wrapping_add(i))
            .collect();
        let (our_sk, our_pk) = cs.kem_derive(&ikm).unwrap();
        let (their_sk, their_pk) = K::derive_keypair(&ikm);
        assert_eq!(
            our_pk.0.as_slice(),
            their_pk.to_bytes().as_slice(),
            "pk {suite}"
        );
        assert_eq!(
            our_sk.as_bytes(),
            their_sk.to_bytes().as_slice(),
            "sk {suite}"
        );
    }

    let mut rng = OsRandom;
    let (our_sk, our_pk) = cs.kem_generate().unwrap();
    let their_sk = K::PrivateKey::from_bytes(our_sk.as_bytes()).unwrap();
    let their_pk = K::PublicKey::from_bytes(our_pk.0.as_slice()).unwrap();
    let psk = PskBundle::new(PSK, PSK_ID).unwrap();

    // Ours seals, theirs opens: base then PSK.
    let ct = cs.hpke_seal_base(&our_pk, INFO, AAD, PT).unwrap();
    let enc = K::EncappedKey::from_bytes(ct.kem_output.as_slice()).unwrap();
    let pt = hpke::single_shot_open::<A, F, K>(
        &OpModeR::Base,
        &their_sk,
        &enc,
        INFO,
        ct.ciphertext.as_slice(),
        AAD,
    )
    .unwrap();
    assert_eq!(pt, PT);
    let ct = cs
        .hpke_seal_psk(&our_pk, INFO, AAD, PT, PSK, PSK_ID)
        .unwrap();
    let enc = K::EncappedKey::from_bytes(ct.kem_output.as_slice()).unwrap();
    let pt = hpke::single_shot_open::<A, F, K>(
        &OpModeR::Psk(psk),
        &their_sk,
        &enc,
        INFO,
        ct.ciphertext.as_slice(),
        AAD,
    )
    .unwrap();
    assert_eq!(pt, PT);

    // Ours seals with the KEM step made first (before the info is prepared), theirs opens:
    // base then PSK, with the encapsulation made ahead of either.
    for (mode_s, mode_r) in [
        (None, OpModeR::Base),
        (Some((PSK, PSK_ID)), OpModeR::Psk(psk)),
    ] {
        let encapsulation = cs.hpke_encap(&our_pk).unwrap();
        let enc_bytes = encapsulation.enc().to_vec();
        let prepared = cs.hpke_prepare(INFO, mode_s).unwrap();
        let ct = cs
            .hpke_seal_encapsulated(&prepared, encapsulation, AAD, PT)
            .unwrap();
        assert_eq!(ct.kem_output.as_slice(), enc_bytes.as_slice());
        let enc = K::EncappedKey::from_bytes(ct.kem_output.as_slice()).unwrap();
        let pt = hpke::single_shot_open::<A, F, K>(
            &mode_r,
            &their_sk,
            &enc,
            INFO,
            ct.ciphertext.as_slice(),
            AAD,
        )
        .unwrap();
        assert_eq!(pt, PT, "suite {suite}");
    }

    // Theirs seals, ours opens: base then PSK.
    let (enc, ct) =
        hpke::single_shot_seal::<A, F, K, _>(&OpModeS::Base, &their_pk, INFO, PT, AAD, &mut rng)
            .unwrap();
    let ours = HpkeCiphertext {
        kem_output: enc.to_bytes().to_vec().into(),
        ciphertext: ct.into(),
    };
    assert_eq!(cs.hpke_open_base(&ours, &our_sk, INFO, AAD).unwrap(), PT);
    let (enc, ct) = hpke::single_shot_seal::<A, F, K, _>(
        &OpModeS::Psk(psk),
        &their_pk,
        INFO,
        PT,
        AAD,
        &mut rng,
    )
    .unwrap();
    let ours = HpkeCiphertext {
        kem_output: enc.to_bytes().to_vec().into(),
        ciphertext: ct.into(),
    };
    assert_eq!(
        cs.hpke_open_psk(&ours, &our_sk, INFO, AAD, PSK, PSK_ID)
            .unwrap(),
        PT
    );

    // The secret export (MLS external init), both directions.
    let (enc, ours) = cs
        .hpke_export_sender(&our_pk, INFO, b"exp ctx", 48)
        .unwrap();
    let enc_t = K::EncappedKey::from_bytes(&enc).unwrap();
    let ctx = hpke::setup_receiver::<A, F, K>(&OpModeR::Base, &their_sk, &enc_t, INFO).unwrap();
    let mut theirs = [0u8; 48];
    ctx.export(b"exp ctx", &mut theirs).unwrap();
    assert_eq!(ours, Secret::from_slice(&theirs));

    let (enc_t, ctx) =
        hpke::setup_sender::<A, F, K, _>(&OpModeS::Base, &their_pk, INFO, &mut rng).unwrap();
    ctx.export(b"exp ctx", &mut theirs).unwrap();
    let ours = cs
        .hpke_export_receiver(&enc_t.to_bytes(), &our_sk, INFO, b"exp ctx", 48)
        .unwrap();
    assert_eq!(ours, Secret::from_slice(&theirs));

    // Many recipients with one prepared info: each opens with the other implementation.
    let keys: Vec<_> = (0..4).map(|_| cs.kem_generate().unwrap()).collect();
    let pks: Vec<HpkePublicKey> = keys.iter().map(|(_, pk)| pk.clone()).collect();
    let cts = cs.hpke_seal_base_many(&pks, INFO, AAD, PT).unwrap();
    for ((sk, _), ct) in keys.iter().zip(&cts) {
        let their_sk = K::PrivateKey::from_bytes(sk.as_bytes()).unwrap();
        let enc = K::EncappedKey::from_bytes(ct.kem_output.as_slice()).unwrap();
        let pt = hpke::single_shot_open::<A, F, K>(
            &OpModeR::Base,
            &their_sk,
            &enc,
            INFO,
            ct.ciphertext.as_slice(),
            AAD,
        )
        .unwrap();
        assert_eq!(pt, PT);
    }
}

#[test]
fn suite1_x25519_sha256_aes128gcm() {
    check::<X25519HkdfSha256, HkdfSha256, AesGcm128>(1);
}

#[test]
fn suite2_p256_sha256_aes128gcm() {
    check::<DhP256HkdfSha256, HkdfSha256, AesGcm128>(2);
}

#[test]
fn suite3_x25519_sha256_chacha20poly1305() {
    check::<X25519HkdfSha256, HkdfSha256, ChaCha20Poly1305>(3);
}

#[test]
fn suite5_p521_sha512_aes256gcm() {
    check::<DhP521HkdfSha512, HkdfSha512, AesGcm256>(5);
}

#[test]
fn suite7_p384_sha384_aes256gcm() {
    check::<DhP384HkdfSha384, HkdfSha384, AesGcm256>(7);
}
