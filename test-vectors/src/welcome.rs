//! `welcome.json`: joining by Welcome (RFC 9420 §12.4.3.1): decrypt GroupSecrets with the init
//! key, decrypt the GroupInfo, verify its signature, and recompute its confirmation tag from
//! the joiner secret with no PSKs.

use mls_engine::codec::VarBytes;
use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SignaturePublicKey,
};
use mls_engine::key_schedule::JoinerSecret;
use mls_engine::messages::{ExtensionType, MlsMessage, MlsMessageBody};
use mls_engine::psk::PskSecret;
use mls_engine::welcome::{
    decrypt_group_info, decrypt_group_secrets, join_secrets, open_group_info,
    verify_group_info_signature,
};
use serde::Deserialize;

use crate::HexBytes;

/// One case (`key_package` and `welcome` are MLSMessages).
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    init_priv: HexBytes,
    signer_pub: HexBytes,
    key_package: HexBytes,
    welcome: HexBytes,
}

/// HPKE private keys of P-521 are sometimes written with 65 bytes: left-pad to 66.
fn hpke_key(cs: &dyn CipherSuiteProvider, raw: &[u8]) -> Secret {
    let want = cs.algorithms().kem.private_key_len();
    if raw.len() < want {
        let mut v = vec![0u8; want - raw.len()];
        v.extend_from_slice(raw);
        return Secret::new(v);
    }
    Secret::from_slice(raw)
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let MlsMessageBody::KeyPackage(kp) = MlsMessage::from_bytes(&case.key_package)
        .map_err(|e| format!("key_package: {e}"))?
        .body
    else {
        return Err("key_package is not a KeyPackage".into());
    };
    let MlsMessageBody::Welcome(welcome) = MlsMessage::from_bytes(&case.welcome)
        .map_err(|e| format!("welcome: {e}"))?
        .body
    else {
        return Err("welcome is not a Welcome".into());
    };
    let init_priv = hpke_key(cs, &case.init_priv);
    let gs = decrypt_group_secrets(cs, &welcome, &kp, &init_priv).map_err(|e| e.to_string())?;
    if !gs.psks.is_empty() {
        return Err("vector has PSKs; expected none".into());
    }
    let joiner = JoinerSecret::new(Secret::from_slice(&gs.joiner_secret));
    let psk = PskSecret::zero(cs);
    let gi = decrypt_group_info(cs, &welcome, &joiner, &psk).map_err(|e| e.to_string())?;
    let signer = SignaturePublicKey(VarBytes(case.signer_pub.0.clone()));
    verify_group_info_signature(cs, &gi, &signer).map_err(|e| e.to_string())?;
    // The in-place path joining takes: the same GroupInfo (its tree, if any, read apart) and
    // the same signature verdict.
    let opened = open_group_info(cs, &welcome, &joiner, &psk).map_err(|e| e.to_string())?;
    let mut tree = opened.ratchet_tree().map(<[u8]>::to_vec);
    let (mut without_tree, signed) = opened.into_parts();
    for e in without_tree.extensions.0.iter_mut() {
        if e.extension_type == ExtensionType::RATCHET_TREE && e.extension_data.is_empty() {
            if let Some(t) = tree.take() {
                e.extension_data = VarBytes(t);
            }
        }
    }
    if without_tree != gi {
        return Err("open_group_info decoded another GroupInfo".into());
    }
    signed
        .verify(cs, &signer, gi.signature.as_slice())
        .map_err(|e| format!("in place: {e}"))?;
    join_secrets(cs, &gi, &joiner, &psk).map_err(|e| e.to_string())?;
    Ok(())
}
