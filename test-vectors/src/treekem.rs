//! `treekem.json`: every private leaf decrypts every UpdatePath (after merging it into a
//! staged tree); the decrypted path secret, `commit_secret` and tree hash after the merge must
//! match. The GroupContext is the given epoch, group id and confirmed transcript hash with the
//! tree hash after the merge and no extensions. Then each private leaf generates a fresh
//! UpdatePath, which every other private leaf must merge and decrypt to the same commit secret.

use mls_engine::codec::{decode_exact, encode, VarBytes, VarVec};
use mls_engine::crypto::labels::derive_secret;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use mls_engine::messages::{GroupContext, ProtocolVersion, RatchetTree, UpdatePath};
use mls_engine::tree::{PathPrivateKeys, Tree};
use mls_engine::tree_math::{LeafIndex, NodeIndex};
use serde::Deserialize;

use crate::HexBytes;

/// A path secret a leaf holds.
#[derive(Deserialize)]
pub(crate) struct NodeSecret {
    node: u32,
    path_secret: HexBytes,
}

/// A leaf's private state.
#[derive(Deserialize)]
pub(crate) struct LeafPrivate {
    index: u32,
    encryption_priv: HexBytes,
    signature_priv: HexBytes,
    path_secrets: Vec<NodeSecret>,
}

/// One UpdatePath and what every leaf should get from it.
#[derive(Deserialize)]
pub(crate) struct PathCase {
    sender: u32,
    update_path: HexBytes,
    path_secrets: Vec<Option<HexBytes>>,
    commit_secret: HexBytes,
    tree_hash_after: HexBytes,
}

/// One case.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    group_id: HexBytes,
    epoch: u64,
    confirmed_transcript_hash: HexBytes,
    ratchet_tree: HexBytes,
    leaves_private: Vec<LeafPrivate>,
    update_paths: Vec<PathCase>,
}

/// Suite 5 private keys are sometimes one byte short (FORMATS.md): left-pad to 66.
fn private_key(suite: u16, bytes: &[u8]) -> Secret {
    if suite == 5 && bytes.len() == 65 {
        let mut v = vec![0u8];
        v.extend_from_slice(bytes);
        return Secret::new(v);
    }
    Secret::from_slice(bytes)
}

fn group_context(case: &Case, tree_hash: Vec<u8>) -> Result<Vec<u8>, String> {
    let gc = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(case.cipher_suite),
        group_id: VarBytes(case.group_id.0.clone()),
        epoch: case.epoch,
        tree_hash: VarBytes(tree_hash),
        confirmed_transcript_hash: VarBytes(case.confirmed_transcript_hash.0.clone()),
        extensions: VarVec::default(),
    };
    encode(&gc).map_err(|e| e.to_string())
}

fn keys_of(
    cs: &dyn CipherSuiteProvider,
    suite: u16,
    leaf: &LeafPrivate,
) -> Result<PathPrivateKeys, String> {
    let mut keys = PathPrivateKeys::new(
        LeafIndex(leaf.index),
        private_key(suite, &leaf.encryption_priv),
    );
    for ps in &leaf.path_secrets {
        let node_secret = derive_secret(cs, &ps.path_secret, "node").map_err(|e| e.to_string())?;
        let (sk, _) = cs
            .kem_derive(node_secret.as_bytes())
            .map_err(|e| e.to_string())?;
        keys.insert(NodeIndex(ps.node), sk);
    }
    Ok(keys)
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let wire: RatchetTree = decode_exact(&case.ratchet_tree).map_err(|e| format!("decode: {e}"))?;
    let tree = Tree::from_wire(cs, &wire).map_err(|e| format!("import: {e}"))?;
    let keys: Vec<PathPrivateKeys> = case
        .leaves_private
        .iter()
        .map(|l| keys_of(cs, case.cipher_suite, l))
        .collect::<Result<_, _>>()?;

    for (u, pc) in case.update_paths.iter().enumerate() {
        let sender = LeafIndex(pc.sender);
        let path: UpdatePath =
            decode_exact(&pc.update_path).map_err(|e| format!("path {u}: {e}"))?;
        let mut staged = tree.stage();
        staged
            .merge_update_path(cs, sender, &path, &case.group_id)
            .map_err(|e| format!("path {u}: merge: {e}"))?;
        let th = staged.tree_hash(cs).map_err(|e| e.to_string())?;
        if th != pc.tree_hash_after.0 {
            return Err(format!("path {u}: tree_hash_after differs"));
        }
        let gc = group_context(case, th)?;
        for k in &keys {
            if k.leaf == sender {
                continue;
            }
            let dec = staged
                .decrypt_update_path(cs, sender, &path, &[], k, &gc)
                .map_err(|e| format!("path {u}, leaf {}: {e}", k.leaf.0))?;
            let want = pc
                .path_secrets
                .get(k.leaf.0 as usize)
                .and_then(|p| p.as_ref())
                .ok_or(format!("path {u}: no path secret for leaf {}", k.leaf.0))?;
            if dec.path_secret.as_bytes() != want.0.as_slice() {
                return Err(format!("path {u}, leaf {}: path secret differs", k.leaf.0));
            }
            if dec.commit_secret.as_bytes() != pc.commit_secret.0.as_slice() {
                return Err(format!(
                    "path {u}, leaf {}: commit secret differs",
                    k.leaf.0
                ));
            }
        }
    }

    // Our own UpdatePaths: each private leaf commits, every other private leaf follows.
    for (s, lp) in case.leaves_private.iter().enumerate() {
        let sender = LeafIndex(lp.index);
        let template = tree
            .leaf(sender)
            .cloned()
            .ok_or(format!("leaf {} blank", lp.index))?;
        let mut staged = tree.stage();
        let pending = staged
            .generate_update_path(
                cs,
                sender,
                template,
                &private_key(case.cipher_suite, &lp.signature_priv),
                &case.group_id,
            )
            .map_err(|e| format!("generate {s}: {e}"))?;
        let th = staged.tree_hash(cs).map_err(|e| e.to_string())?;
        let gc = group_context(case, th.clone())?;
        let generated = pending
            .encrypt(cs, &staged, &[], &gc)
            .map_err(|e| format!("encrypt {s}: {e}"))?;
        let mut follower = tree.stage();
        follower
            .merge_update_path(cs, sender, &generated.update_path, &case.group_id)
            .map_err(|e| format!("own path {s}: merge: {e}"))?;
        if follower.tree_hash(cs).map_err(|e| e.to_string())? != th {
            return Err(format!("own path {s}: tree hashes differ"));
        }
        for k in keys.iter().filter(|k| k.leaf != sender) {
            let dec = follower
                .decrypt_update_path(cs, sender, &generated.update_path, &[], k, &gc)
                .map_err(|e| format!("own path {s}, leaf {}: {e}", k.leaf.0))?;
            if dec.commit_secret.as_bytes() != generated.commit_secret.as_bytes() {
                return Err(format!(
                    "own path {s}, leaf {}: commit secret differs",
                    k.leaf.0
                ));
            }
        }
    }
    Ok(())
}
