//! Suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519) primitives as the engine calls them, plus
//! the same HPKE seal/open through the `hpke` crate for comparison.

// criterion's macros generate undocumented public items; test code may unwrap.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use mls_engine::crypto::aws_lc::X25519;
use mls_engine::crypto::{CipherSuiteProvider, DhGroup, SignatureCheck};

/// An RNG for the `hpke` crate backed by the OS RNG through our provider.
struct OsRandom(&'static dyn CipherSuiteProvider);

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
        self.0.random_bytes(dst).unwrap();
    }
}

impl hpke::rand_core::CryptoRng for OsRandom {}

type TheirKem = hpke::kem::X25519HkdfSha256;
type TheirKdf = hpke::kdf::HkdfSha256;
type TheirAead = hpke::aead::AesGcm128;

fn primitives(c: &mut Criterion) {
    let cs = bench::suite(1);
    let pt32 = [7u8; 32];

    let (sk, pk) = cs.kem_generate().unwrap();
    let (_, peer_pk) = cs.kem_generate().unwrap();
    c.bench_function("x25519_dh", |b| {
        b.iter(|| X25519::dh(black_box(sk.as_bytes()), black_box(peer_pk.0.as_slice())).unwrap())
    });

    // The check every received encryption key now gets (a KeyPackage's, a leaf's, every node
    // of a received tree): a comparison for X25519, a point decoding for P-256.
    c.bench_function("kem_check_public_key/x25519", |b| {
        b.iter(|| {
            cs.kem_check_public_key(black_box(peer_pk.0.as_slice()))
                .unwrap()
        })
    });
    let p256 = bench::suite(2);
    let (_, p256_pk) = p256.kem_generate().unwrap();
    c.bench_function("kem_check_public_key/p256", |b| {
        b.iter(|| {
            p256.kem_check_public_key(black_box(p256_pk.0.as_slice()))
                .unwrap()
        })
    });

    c.bench_function("hpke_seal_32B", |b| {
        b.iter(|| {
            cs.hpke_seal_base(black_box(&pk), b"info", b"", &pt32)
                .unwrap()
        })
    });
    let prepared = cs.hpke_prepare(b"info", None).unwrap();
    c.bench_function("hpke_seal_32B_prepared_info", |b| {
        b.iter(|| {
            cs.hpke_seal_prepared(&prepared, black_box(&pk), b"", &pt32)
                .unwrap()
        })
    });
    let ct = cs.hpke_seal_base(&pk, b"info", b"", &pt32).unwrap();
    c.bench_function("hpke_open_32B", |b| {
        b.iter(|| {
            cs.hpke_open_base(black_box(&ct), &sk, b"info", b"")
                .unwrap()
        })
    });

    c.bench_function("derive_key_pair", |b| {
        b.iter(|| cs.kem_derive(black_box(&[5u8; 32])).unwrap())
    });

    let (ssk, spk) = cs.signature_generate().unwrap();
    let msg = [1u8; 128];
    c.bench_function("ed25519_sign_128B", |b| {
        b.iter(|| cs.sign(&ssk, black_box(&msg)).unwrap())
    });
    let sig = cs.sign(&ssk, &msg).unwrap();
    c.bench_function("ed25519_verify_128B", |b| {
        b.iter(|| cs.verify(&spk, black_box(&msg), &sig).unwrap())
    });
    // Batch verification (curve25519-dalek, cofactored), 1 to 1,024 distinct keys; divide by
    // the batch size for the cost of one signature. The small sizes show where batching starts
    // to pay (a batch of one is handed to the single verifier); a small tree's leaves end in
    // batches of two or one.
    let signed = bench::signed_by_distinct_keys(cs, 1024, &msg);
    let checks = bench::signature_checks(&signed);
    for n in [1, 2, 3, 4, 6, 8, 64, 1024] {
        c.bench_function(&format!("ed25519_verify_batch_{n}x128B"), |b| {
            b.iter(|| assert!(cs.verify_batch(black_box(&checks[..n])).unwrap()))
        });
    }
    // A KeyPackage's two signatures (its own and its LeafNode's): one key, side by side.
    let (ksk, kpk) = cs.signature_generate().unwrap();
    let pair: Vec<(Vec<u8>, Vec<u8>)> = [&msg[..64], &msg[64..]]
        .iter()
        .map(|m| (m.to_vec(), cs.sign(&ksk, m).unwrap()))
        .collect();
    let pair_checks: Vec<SignatureCheck<'_>> = pair
        .iter()
        .map(|(m, sig)| SignatureCheck {
            public_key: &kpk,
            message: m,
            signature: sig,
        })
        .collect();
    c.bench_function("ed25519_verify_batch_one_key_2x64B", |b| {
        b.iter(|| assert!(cs.verify_batch(black_box(&pair_checks)).unwrap()))
    });

    // The batch's multiplication alone, both implementations over the same 1,021 points
    // (a batch of 510 checks: 510 R, 510 keys, the base point): decoding every point and
    // summing [s_i] P_i. The IFMA row runs only on CPUs with AVX-512 IFMA.
    {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::scalar::Scalar;
        use curve25519_dalek::traits::VartimeMultiscalarMul;
        let points: Vec<[u8; 32]> = signed
            .iter()
            .flat_map(|(pk, _, sig)| {
                let r: [u8; 32] = sig[..32].try_into().unwrap();
                let a: [u8; 32] = pk[..].try_into().unwrap();
                [r, a]
            })
            .take(1021)
            .collect();
        let scalars: Vec<Scalar> = (0..points.len() as u64)
            .map(|i| {
                Scalar::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * Scalar::from(u64::MAX - i)
            })
            .collect();
        c.bench_function("ed25519_decode_msm_1021_points/curve25519-dalek", |b| {
            b.iter(|| {
                let decoded = points.iter().map(|p| CompressedEdwardsY(*p).decompress());
                black_box(
                    curve25519_dalek::EdwardsPoint::optional_multiscalar_mul(&scalars, decoded)
                        .unwrap(),
                )
            })
        });
        if mls_ed25519_ifma::available() {
            let refs: Vec<&[u8; 32]> = points.iter().collect();
            let bytes: Vec<[u8; 32]> = scalars.iter().map(Scalar::to_bytes).collect();
            c.bench_function("ed25519_decode_msm_1021_points/ifma", |b| {
                b.iter(|| {
                    black_box(mls_ed25519_ifma::cofactored_sum_is_identity(&refs, &bytes).unwrap())
                })
            });
        }
    }

    // The one SHA-512 pass of an Ed25519 signature over a GroupInfo carrying a 10,000-member
    // tree: AWS-LC's (the engine's for short messages) and mls-sha512-avx2's (for long ones).
    let group_info = vec![0x5au8; 1_760_000];
    c.bench_function("sha512_1760kB/aws-lc", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, black_box(&group_info)))
    });
    if let Some(fresh) = mls_sha512_avx2::Sha512::new() {
        c.bench_function("sha512_1760kB/avx2", |b| {
            b.iter(|| {
                let mut h = fresh.clone();
                h.update(black_box(&group_info));
                h.finish()
            })
        });
    }

    let data64 = [3u8; 64];
    c.bench_function("sha256_64B", |b| b.iter(|| cs.hash(black_box(&data64))));
    let prk = [9u8; 32];
    c.bench_function("hkdf_expand_32B", |b| {
        b.iter(|| cs.kdf_expand(black_box(&prk), b"info", 32).unwrap())
    });
    let key = [2u8; 16];
    let nonce = [4u8; 12];
    let kib = [6u8; 1024];
    c.bench_function("aes128gcm_seal_1KiB", |b| {
        b.iter(|| cs.aead_seal(&key, &nonce, b"", black_box(&kib)).unwrap())
    });

    // The same HPKE operations through the `hpke` crate (RustCrypto backends).
    let mut rng = OsRandom(cs);
    let their_sk = <TheirKem as hpke::Kem>::PrivateKey::from_bytes(sk.as_bytes()).unwrap();
    let their_pk = <TheirKem as hpke::Kem>::PublicKey::from_bytes(pk.0.as_slice()).unwrap();
    c.bench_function("hpke_crate_seal_32B", |b| {
        b.iter(|| {
            hpke::single_shot_seal::<TheirAead, TheirKdf, TheirKem, _>(
                &OpModeS::Base,
                black_box(&their_pk),
                b"info",
                &pt32,
                b"",
                &mut rng,
            )
            .unwrap()
        })
    });
    let (enc, tct) = hpke::single_shot_seal::<TheirAead, TheirKdf, TheirKem, _>(
        &OpModeS::Base,
        &their_pk,
        b"info",
        &pt32,
        b"",
        &mut rng,
    )
    .unwrap();
    let enc = <TheirKem as hpke::Kem>::EncappedKey::from_bytes(&enc.to_bytes()).unwrap();
    c.bench_function("hpke_crate_open_32B", |b| {
        b.iter(|| {
            hpke::single_shot_open::<TheirAead, TheirKdf, TheirKem>(
                &OpModeR::Base,
                &their_sk,
                black_box(&enc),
                b"info",
                &tct,
                b"",
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, primitives);
criterion_main!(benches);
