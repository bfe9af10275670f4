//! Heap profile of a large ratchet tree under dhat: `cargo run --release -p profiles --bin
//! heap_tree -- [N]` (default 100,000 members, suite 1, every parent set).
//!
//! The wire form of a valid full tree is generated first; then the heap is read before and
//! after `Tree::from_wire` (import + parallel hashing) and after full validation, so the
//! figures are the resident cost of the tree itself, per leaf, and the peak while importing.

use mls_engine::crypto::{AwsLcSuite, CipherSuite};
use mls_engine::tree::generate::generate_tree;
use mls_engine::tree::{validate_tree, Tree, TreeValidationParams};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() -> Result<(), String> {
    let n: u32 = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("N must be a number, got {a}"))?,
        None => 100_000,
    };
    let _profiler = dhat::Profiler::builder().testing().build();
    let cs = AwsLcSuite::new(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .map_err(|e| e.to_string())?;
    let wire = {
        let g = generate_tree(&cs, n, b"group", true).map_err(|e| e.to_string())?;
        g.tree.to_wire()
    };
    let wire_bytes = mls_engine::codec::encode(&wire)
        .map_err(|e| e.to_string())?
        .len();

    let before = dhat::HeapStats::get();
    let mut tree = Tree::from_wire(&cs, &wire).map_err(|e| e.to_string())?;
    let after_import = dhat::HeapStats::get();
    validate_tree(
        &mut tree,
        &cs,
        &TreeValidationParams::new(b"group", 1_000).without_lifetime_check(),
    )
    .map_err(|e| e.to_string())?;
    let after_validate = dhat::HeapStats::get();

    let resident = after_import.curr_bytes.saturating_sub(before.curr_bytes);
    let peak_import = after_import.max_bytes.saturating_sub(before.curr_bytes);
    let peak_validate = after_validate.max_bytes.saturating_sub(before.curr_bytes);
    let per = |b: usize| b as f64 / f64::from(n);
    println!("ratchet tree heap, N = {n} leaves (suite 1, every parent set)");
    println!(
        "  encoded ratchet_tree extension: {wire_bytes} bytes ({:.0} per leaf)",
        per(wire_bytes)
    );
    println!(
        "  resident Tree after import:      {resident} bytes ({:.0} per leaf)",
        per(resident)
    );
    println!(
        "  heap peak above start, import:   {peak_import} bytes ({:.0} per leaf)",
        per(peak_import)
    );
    println!(
        "  heap peak above start, validate: {peak_validate} bytes ({:.0} per leaf)",
        per(peak_validate)
    );
    println!(
        "  (peaks include the wire tree still held: {:.0} bytes per leaf resident before import)",
        per(before.curr_bytes)
    );
    drop(tree);
    Ok(())
}
