//! `loadgen`: drives mls-engine with large fan-outs.
//!
//! For now it runs one job, `demo`: for each RFC 9420 cipher suite it builds `--members N`
//! HPKE key pairs (DeriveKeyPair, as TreeKEM derives node keys), has one sender encrypt a path
//! secret to every member with EncryptWithLabel("UpdatePathNode") in parallel across cores
//! (the HPKE `info` prepared once), has every member decrypt and check it, and signs and
//! verifies a LeafNode-sized message with SignWithLabel. It prints the time of each phase and
//! exits non-zero if any member failed to recover the secret. The full profile-driven run
//! (`loadgen run profiles/default.toml`) arrives with the group lifecycle.

use std::process::ExitCode;
use std::time::Instant;

use mls_engine::crypto::labels::{
    decrypt_with_label, encrypt_with_label_prepared, prepare_encrypt_with_label, sign_with_label,
    verify_with_label,
};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
use rayon::prelude::*;

fn usage() -> ExitCode {
    eprintln!("usage: loadgen demo [--members N] [--suite S]");
    ExitCode::from(2)
}

struct SuiteReport {
    suite: u16,
    keygen_ms: f64,
    seal_ms: f64,
    open_ms: f64,
    sign_verify_us: f64,
    failures: usize,
}

fn run_suite(
    provider: &AwsLcProvider,
    suite: CipherSuite,
    members: u32,
) -> Result<SuiteReport, String> {
    let cs = provider.suite(suite).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let keys: Vec<_> = (0..members)
        .into_par_iter()
        .map(|i| cs.kem_derive(&cs.hash(&i.to_be_bytes())))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let keygen_ms = t.elapsed().as_secs_f64() * 1e3;

    let context = b"group context of the demo";
    let path_secret = cs.hash(b"path secret");
    let t = Instant::now();
    let prepared =
        prepare_encrypt_with_label(cs, "UpdatePathNode", context).map_err(|e| e.to_string())?;
    let cts: Vec<_> = keys
        .par_iter()
        .map(|(_, pk)| encrypt_with_label_prepared(cs, &prepared, pk, &path_secret))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let seal_ms = t.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let failures = keys
        .par_iter()
        .zip(cts.par_iter())
        .filter(|((sk, _), ct)| {
            decrypt_with_label(cs, sk, "UpdatePathNode", context, ct).as_deref()
                != Ok(&path_secret[..])
        })
        .count();
    let open_ms = t.elapsed().as_secs_f64() * 1e3;

    let (sk, pk) = cs.signature_generate().map_err(|e| e.to_string())?;
    let content = vec![0x5a; 300];
    let rounds = 200;
    let t = Instant::now();
    for _ in 0..rounds {
        let sig = sign_with_label(cs, &sk, "LeafNodeTBS", &content).map_err(|e| e.to_string())?;
        verify_with_label(cs, &pk, "LeafNodeTBS", &content, &sig).map_err(|e| e.to_string())?;
    }
    let sign_verify_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    Ok(SuiteReport {
        suite: suite.0,
        keygen_ms,
        seal_ms,
        open_ms,
        sign_verify_us,
        failures,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("demo") {
        return usage();
    }
    let mut members = 2_000u32;
    let mut suites: Vec<u16> = (1..=7).collect();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let value = it.next().and_then(|v| v.parse::<u32>().ok());
        match (a.as_str(), value) {
            ("--members", Some(n)) if n > 0 => members = n,
            ("--suite", Some(s)) if (1..=7).contains(&s) => {
                suites = vec![u16::try_from(s).unwrap_or(1)]
            }
            _ => return usage(),
        }
    }
    let provider = AwsLcProvider::new();
    println!(
        "mls-engine demo: one path secret EncryptWithLabel'd to {members} members per suite, on {} threads",
        rayon::current_num_threads()
    );
    println!("suite  derive-keys(ms)  seal-all(ms)  open-all(ms)  sign+verify(us)  failures");
    let mut ok = true;
    for s in suites {
        match run_suite(&provider, CipherSuite(s), members) {
            Ok(r) => {
                println!(
                    "{:>5}  {:>15.1}  {:>12.1}  {:>12.1}  {:>15.1}  {:>8}",
                    r.suite, r.keygen_ms, r.seal_ms, r.open_ms, r.sign_verify_us, r.failures
                );
                ok &= r.failures == 0;
            }
            Err(e) => {
                println!("{s:>5}  error: {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
