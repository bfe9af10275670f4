//! `tree-operations.json`: applying an Add, Update or Remove proposal to a tree (on a staged
//! copy); the resulting tree and tree hash must match, and the original must be unchanged.

use mls_engine::codec::{decode_exact, encode};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
use mls_engine::messages::{Proposal, RatchetTree};
use mls_engine::tree::Tree;
use mls_engine::tree_math::LeafIndex;
use serde::Deserialize;

use crate::HexBytes;

/// One case.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    tree_before: HexBytes,
    proposal: HexBytes,
    proposal_sender: u32,
    tree_hash_before: HexBytes,
    tree_after: HexBytes,
    tree_hash_after: HexBytes,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let wire: RatchetTree = decode_exact(&case.tree_before).map_err(|e| format!("decode: {e}"))?;
    let mut tree = Tree::from_wire(cs, &wire).map_err(|e| format!("import: {e}"))?;
    if tree.tree_hash(cs).map_err(|e| e.to_string())? != case.tree_hash_before.0 {
        return Err("tree_hash_before differs".into());
    }
    let proposal: Proposal = decode_exact(&case.proposal).map_err(|e| format!("proposal: {e}"))?;
    let mut staged = tree.stage();
    let result = match proposal {
        Proposal::Add(add) => staged.add_leaf(add.key_package.leaf_node).map(|_| ()),
        Proposal::Update(up) => staged.update_leaf(LeafIndex(case.proposal_sender), up.leaf_node),
        Proposal::Remove(rm) => staged.remove_leaf(LeafIndex(rm.removed)),
        other => return Err(format!("unexpected proposal {:?}", other.proposal_type())),
    };
    result.map_err(|e| format!("apply: {e}"))?;
    if staged.tree_hash(cs).map_err(|e| e.to_string())? != case.tree_hash_after.0 {
        return Err("tree_hash_after differs".into());
    }
    let after = encode(&staged.to_wire()).map_err(|e| e.to_string())?;
    if after != case.tree_after.0 {
        return Err("tree_after differs".into());
    }
    if tree.tree_hash(cs).map_err(|e| e.to_string())? != case.tree_hash_before.0
        || encode(&tree.to_wire()).map_err(|e| e.to_string())? != case.tree_before.0
    {
        return Err("staging changed the original tree".into());
    }
    Ok(())
}
