//! `tree-validation.json`: per-node resolutions and tree hashes over the full power-of-two
//! width, parent-hash validity and leaf signatures (with the group id) of a received tree.

use mls_engine::codec::decode_exact;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
use mls_engine::messages::RatchetTree;
use mls_engine::tree::{validate_tree, Tree, TreeValidationParams};
use mls_engine::tree_math::NodeIndex;
use serde::Deserialize;

use crate::HexBytes;

/// One case.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    tree: HexBytes,
    group_id: HexBytes,
    resolutions: Vec<Vec<u32>>,
    tree_hashes: Vec<HexBytes>,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let wire: RatchetTree = decode_exact(&case.tree).map_err(|e| format!("decode: {e}"))?;
    let mut tree = Tree::from_wire(cs, &wire).map_err(|e| format!("import: {e}"))?;
    let width = tree.size().node_width() as usize;
    if case.tree_hashes.len() != width || case.resolutions.len() != width {
        return Err(format!(
            "width {width}, vector has {} hashes and {} resolutions",
            case.tree_hashes.len(),
            case.resolutions.len()
        ));
    }
    for (i, n) in (0..width).zip((0u32..).map(NodeIndex)) {
        let res: Vec<u32> = tree.resolution(n).iter().map(|x| x.0).collect();
        if res != case.resolutions[i] {
            return Err(format!(
                "resolution({i}) = {res:?}, want {:?}",
                case.resolutions[i]
            ));
        }
        let h = tree.node_tree_hash(cs, n).map_err(|e| e.to_string())?;
        if h != case.tree_hashes[i].0 {
            return Err(format!("tree hash of node {i} differs"));
        }
    }
    // Vectors hold long-expired key-package lifetimes: lifetimes are not checked here.
    let params = TreeValidationParams::new(&case.group_id, 0).without_lifetime_check();
    validate_tree(&mut tree, cs, &params).map_err(|e| format!("validation: {e}"))?;
    Ok(())
}
