//! One timed pass over a large tree (default 100,000 members; `cargo run --release -p bench
//! --example tree_large -- N`), phase by phase, for when criterion would take too long to set
//! up: import, hashing, validation, and the Ed25519 floor measured in the same run.

use std::time::Instant;

use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use mls_engine::tree::generate::generate_tree;
use mls_engine::tree::{validate_tree, MemberIndex, Tree, TreeValidationParams};
use rayon::prelude::*;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let cs = AwsLcSuite::new(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .expect("suite 1");
    let t = Instant::now();
    let g = generate_tree(&cs, n, b"group", true).expect("generate");
    println!("generate full tree N={n}: {:.2?}", t.elapsed());
    let wire = g.tree.to_wire();

    let t = Instant::now();
    let mut tree = Tree::from_wire(&cs, &wire).expect("import");
    println!(
        "import (copy + hash all levels in parallel): {:.2?}",
        t.elapsed()
    );

    let t = Instant::now();
    let index = MemberIndex::from_tree(&tree).expect("index");
    println!("member index: {:.2?}", t.elapsed());
    drop(index);

    let t = Instant::now();
    validate_tree(&mut tree, &cs, &TreeValidationParams::new(b"group", 1_000)).expect("valid");
    println!("validate (all rules): {:.2?}", t.elapsed());

    let sigs: Vec<_> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (sk, pk) = cs.signature_generate().expect("keygen");
            let m = i.to_be_bytes().to_vec();
            let s = cs.sign(&sk, &m).expect("sign");
            (pk, m, s)
        })
        .collect();
    let t = Instant::now();
    sigs.par_iter()
        .for_each(|(pk, m, s)| cs.verify(pk, m, s).expect("verify"));
    println!(
        "floor: {n} Ed25519 verifications over all cores: {:.2?}",
        t.elapsed()
    );
}
