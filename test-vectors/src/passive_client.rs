//! `passive-client-*.json`: a member that only receives (RFC 9420 §12.4.3.1, §12.4.2). Join
//! from `welcome` with the KeyPackage and its private keys (ratchet tree in the GroupInfo or
//! given out of band), compare the initial epoch authenticator, then per epoch process each
//! proposal and the commit and compare the epoch authenticator. Lifetime checks are off: the
//! vectors' KeyPackages expired years ago (FORMATS.md).

use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use mls_engine::group::{Group, GroupConfig, JoinOptions, KeyPackageBundle, ProcessedMessage};
use mls_engine::messages::{MlsMessage, MlsMessageBody, RatchetTree};
use serde::Deserialize;

use crate::HexBytes;

#[derive(Deserialize)]
pub(crate) struct Psk {
    psk_id: HexBytes,
    psk: HexBytes,
}

#[derive(Deserialize)]
pub(crate) struct Epoch {
    proposals: Vec<HexBytes>,
    commit: HexBytes,
    epoch_authenticator: HexBytes,
}

#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    external_psks: Vec<Psk>,
    key_package: HexBytes,
    signature_priv: HexBytes,
    encryption_priv: HexBytes,
    init_priv: HexBytes,
    welcome: HexBytes,
    ratchet_tree: Option<HexBytes>,
    initial_epoch_authenticator: HexBytes,
    epochs: Vec<Epoch>,
}

/// Left-pads a private key that is one byte short (P-521, FORMATS.md).
fn padded(raw: &[u8], want: usize) -> Secret {
    if raw.len() < want {
        let mut v = vec![0u8; want - raw.len()];
        v.extend_from_slice(raw);
        return Secret::new(v);
    }
    Secret::from_slice(raw)
}

fn message(bytes: &[u8], what: &str) -> Result<MlsMessage, String> {
    MlsMessage::from_bytes(bytes).map_err(|e| format!("{what}: {e}"))
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs: &dyn CipherSuiteProvider = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let MlsMessageBody::KeyPackage(key_package) = message(&case.key_package, "key_package")?.body
    else {
        return Err("key_package is not a KeyPackage".into());
    };
    let MlsMessageBody::Welcome(welcome) = message(&case.welcome, "welcome")?.body else {
        return Err("welcome is not a Welcome".into());
    };
    let kem_len = cs.algorithms().kem.private_key_len();
    let sig_len = if case.cipher_suite == 5 { 66 } else { 0 };
    let bundle = KeyPackageBundle {
        key_package,
        init_private_key: padded(&case.init_priv, kem_len),
        encryption_private_key: padded(&case.encryption_priv, kem_len),
        signature_private_key: padded(&case.signature_priv, sig_len),
    };
    let ratchet_tree = match &case.ratchet_tree {
        Some(t) => Some(RatchetTree::from_bytes(t).map_err(|e| format!("ratchet_tree: {e}"))?),
        None => None,
    };
    let options = JoinOptions {
        config: GroupConfig::default().without_lifetime_check(),
        ratchet_tree,
        external_psks: case
            .external_psks
            .iter()
            .map(|p| (p.psk_id.0.clone(), Secret::from_slice(&p.psk)))
            .collect(),
        resumption_psks: Vec::new(),
    };
    let mut group =
        Group::join(cs, &welcome, &bundle, options).map_err(|e| format!("join: {e}"))?;
    if group.epoch_authenticator().as_bytes() != case.initial_epoch_authenticator.0.as_slice() {
        return Err("initial epoch authenticator differs".into());
    }
    for (i, epoch) in case.epochs.iter().enumerate() {
        for (j, p) in epoch.proposals.iter().enumerate() {
            let msg = message(p, "proposal")?;
            match group.process_message(cs, msg) {
                Ok(ProcessedMessage::Proposal(_)) => {}
                Ok(_) => return Err(format!("epoch {i} proposal {j}: not a proposal")),
                Err(e) => return Err(format!("epoch {i} proposal {j}: {e}")),
            }
        }
        let msg = message(&epoch.commit, "commit")?;
        let staged = match group.process_message(cs, msg) {
            Ok(ProcessedMessage::Commit(s)) => s,
            Ok(_) => return Err(format!("epoch {i}: commit is not a commit")),
            Err(e) => return Err(format!("epoch {i} commit: {e}")),
        };
        group
            .merge_staged_commit(*staged)
            .map_err(|e| format!("epoch {i} merge: {e}"))?;
        if group.epoch_authenticator().as_bytes() != epoch.epoch_authenticator.0.as_slice() {
            return Err(format!("epoch {i}: epoch authenticator differs"));
        }
    }
    Ok(())
}
