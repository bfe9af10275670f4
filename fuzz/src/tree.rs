//! The received-tree target's inputs: the suite-1 trees of the official `tree-validation.json`
//! (each a valid tree with its group id), edited by the fuzzer's input and validated as a joiner
//! validates the tree in a Welcome.

use std::sync::OnceLock;

use mls_engine::codec::decode_exact;
use mls_engine::messages::RatchetTree;
use mls_engine::tree::{validate_tree, Tree, TreeValidationParams};
use mls_engine::tree_math::NodeIndex;
use serde::Deserialize;

use crate::group::{cs, edit};

#[derive(Deserialize)]
struct Case {
    cipher_suite: u16,
    tree: String,
    group_id: String,
}

/// The suite-1 trees and their group ids, decoded from hex.
fn cases() -> &'static [(Vec<u8>, Vec<u8>)] {
    static C: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    C.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/test-vectors/tree-validation.json"
        );
        let json = std::fs::read_to_string(path).expect("the official tree-validation vectors");
        let cases: Vec<Case> = serde_json::from_str(&json).expect("their layout");
        let hex = |s: &str| hex::decode(s).expect("hex");
        let trees: Vec<_> = cases
            .iter()
            .filter(|c| c.cipher_suite == 1)
            .map(|c| (hex(&c.tree), hex(&c.group_id)))
            .collect();
        assert!(!trees.is_empty(), "no suite-1 tree in the vectors");
        trees
    })
}

/// The first input byte picks a tree, the rest edits its encoding ([`edit`]); whatever still
/// decodes is imported, asked for every node's resolution and tree hash, and validated. Only
/// a panic fails; an unedited tree must validate.
pub fn validate_edited_tree(data: &[u8]) {
    let Some((&pick, script)) = data.split_first() else {
        return;
    };
    let cases = cases();
    let (tree, group_id) = &cases[usize::from(pick) % cases.len()];
    let bytes = edit(tree, script);
    let Ok(wire) = decode_exact::<RatchetTree>(&bytes) else {
        return;
    };
    let Ok(mut tree) = Tree::from_wire(cs(), &wire) else {
        return;
    };
    for n in (0..tree.size().node_width()).map(NodeIndex) {
        let _ = tree.resolution(n);
        let _ = tree.node_tree_hash(cs(), n);
    }
    let params = TreeValidationParams::new(group_id, 0).without_lifetime_check();
    let verdict = validate_tree(&mut tree, cs(), &params);
    if bytes == cases[usize::from(pick) % cases.len()].0 {
        assert!(
            verdict.is_ok(),
            "an official valid tree refused: {verdict:?}"
        );
    }
}
