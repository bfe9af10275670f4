//! `secret-tree.json`: RFC 9420 §9 secret tree (generations 0 and 15 of every leaf's two
//! ratchets) and §6.3.2 sender-data key and nonce.

use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider, Secret};
use mls_engine::framing::sender_data_key_nonce;
use mls_engine::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig};
use mls_engine::tree_math::LeafIndex;
use serde::Deserialize;

use crate::HexBytes;

/// One case: the sender-data check and, per leaf, the keys at some generations.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    sender_data: SenderData,
    encryption_secret: HexBytes,
    leaves: Vec<Vec<Generation>>,
}

#[derive(Deserialize)]
struct SenderData {
    sender_data_secret: HexBytes,
    ciphertext: HexBytes,
    key: HexBytes,
    nonce: HexBytes,
}

#[derive(Deserialize)]
struct Generation {
    generation: u32,
    handshake_key: HexBytes,
    handshake_nonce: HexBytes,
    application_key: HexBytes,
    application_nonce: HexBytes,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let sd = &case.sender_data;
    let (key, nonce) = sender_data_key_nonce(
        cs,
        &Secret::from_slice(&sd.sender_data_secret),
        &sd.ciphertext,
    )
    .map_err(|e| e.to_string())?;
    if key.as_bytes() != sd.key.0.as_slice() || nonce.as_bytes() != sd.nonce.0.as_slice() {
        return Err("sender data key/nonce mismatch".into());
    }
    let n_leaves = u32::try_from(case.leaves.len()).map_err(|e| e.to_string())?;
    let mut tree = SecretTree::new(
        Secret::from_slice(&case.encryption_secret),
        n_leaves,
        SecretTreeConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    for (leaf, gens) in (0u32..).zip(&case.leaves) {
        for g in gens {
            for (kind, want_key, want_nonce) in [
                (RatchetKind::Handshake, &g.handshake_key, &g.handshake_nonce),
                (
                    RatchetKind::Application,
                    &g.application_key,
                    &g.application_nonce,
                ),
            ] {
                let peeked = tree
                    .peek_key(cs, LeafIndex(leaf), kind, g.generation)
                    .map_err(|e| format!("leaf {leaf} gen {}: {e}", g.generation))?;
                let used = tree
                    .consume_key(cs, LeafIndex(leaf), kind, g.generation)
                    .map_err(|e| format!("leaf {leaf} gen {}: {e}", g.generation))?;
                if peeked != used {
                    return Err(format!("leaf {leaf} gen {}: peek != consume", g.generation));
                }
                if used.key.as_bytes() != want_key.0.as_slice()
                    || used.nonce.as_bytes() != want_nonce.0.as_slice()
                {
                    return Err(format!(
                        "leaf {leaf} gen {} {kind:?}: key/nonce mismatch",
                        g.generation
                    ));
                }
            }
        }
    }
    Ok(())
}
