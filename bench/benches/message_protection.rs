//! PrivateMessage protect and unprotect of a 1 KiB application message (suite 1), beside the raw
//! cryptography each must do, measured in the same run: Ed25519 sign + AES-128-GCM seal of
//! 1 KiB (protect), Ed25519 verify + AES-128-GCM open (unprotect).

// criterion's macros generate undocumented public items; benchmark setup may unwrap.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::crypto::{CipherSuite, Secret};
use mls_engine::framing::{MessageProtection, PaddingPolicy};
use mls_engine::messages::{
    FramedContent, FramedContentBody, GroupContext, ProtocolVersion, Sender,
};
use mls_engine::secret_tree::{SecretTree, SecretTreeConfig};

fn message_protection(c: &mut Criterion) {
    let cs = bench::suite(1);
    let (sk, pk) = cs.signature_generate().unwrap();
    let gc = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        group_id: VarBytes(vec![0x42; 16]),
        epoch: 1000,
        tree_hash: VarBytes(vec![1; 32]),
        confirmed_transcript_hash: VarBytes(vec![2; 32]),
        extensions: VarVec::default(),
    };
    let membership_key = Secret::new(cs.random_vec(32).unwrap());
    let sender_data_secret = Secret::new(cs.random_vec(32).unwrap());
    let encryption_secret = Secret::new(cs.random_vec(32).unwrap());
    let mp = MessageProtection::new(cs, &gc, &membership_key, &sender_data_secret);
    let payload = vec![0xa5u8; 1024];
    let content = FramedContent {
        group_id: gc.group_id.clone(),
        epoch: gc.epoch,
        sender: Sender::Member(3),
        authenticated_data: VarBytes::default(),
        body: FramedContentBody::Application(VarBytes(payload.clone())),
    };
    // A 1,000-member group: the sender and receiver see the same secret tree.
    let new_tree =
        || SecretTree::new(encryption_secret.clone(), 1000, SecretTreeConfig::default()).unwrap();
    let keys = |_: &FramedContent| Some(pk.clone());

    let mut group = c.benchmark_group("message_protection_1KiB");
    let mut tx = new_tree();
    group.bench_function("protect_private", |b| {
        b.iter(|| {
            mp.protect_private(
                &mut tx,
                black_box(content.clone()),
                &sk,
                None,
                PaddingPolicy::default(),
            )
            .unwrap()
        })
    });

    let mut tx = new_tree();
    let mut rx = new_tree();
    group.bench_function("unprotect_private", |b| {
        b.iter_batched(
            || {
                mp.protect_private(
                    &mut tx,
                    content.clone(),
                    &sk,
                    None,
                    PaddingPolicy::default(),
                )
                .unwrap()
            },
            |msg| {
                mp.unprotect_private(&mut rx, black_box(&msg), keys)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    // The raw cryptography underneath, on the same sizes.
    let key = cs.random_vec(16).unwrap();
    let nonce = cs.random_vec(12).unwrap();
    let aad = [0u8; 32];
    group.bench_function("raw_sign_and_seal", |b| {
        b.iter(|| {
            let sig = cs.sign(&sk, black_box(&payload)).unwrap();
            let ct = cs
                .aead_seal(&key, &nonce, &aad, black_box(&payload))
                .unwrap();
            (sig, ct)
        })
    });
    let sig = cs.sign(&sk, &payload).unwrap();
    let ct = cs.aead_seal(&key, &nonce, &aad, &payload).unwrap();
    group.bench_function("raw_verify_and_open", |b| {
        b.iter(|| {
            cs.verify(&pk, black_box(&payload), black_box(&sig))
                .unwrap();
            cs.aead_open(&key, &nonce, &aad, black_box(&ct)).unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = message_protection
}
criterion_main!(benches);
