//! `message-protection.json`: RFC 9420 §6 PublicMessage and PrivateMessage protection of a
//! proposal, a commit and application data, sent by leaf 1 of a 2-leaf group.
//!
//! Per content: the `_pub` message verifies; re-protecting as a PublicMessage verifies
//! (application data must be refused); the `_priv` message decrypts to the content;
//! re-protecting as a PrivateMessage round-trips.

use mls_engine::codec::{decode_exact, VarBytes, VarVec};
use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SignaturePublicKey,
};
use mls_engine::framing::{MessageProtection, PaddingPolicy, ProtectionError};
use mls_engine::messages::{
    Commit, FramedContent, FramedContentBody, GroupContext, Mac, MlsMessage, MlsMessageBody,
    Proposal, ProtocolVersion, Sender,
};
use mls_engine::secret_tree::{SecretTree, SecretTreeConfig};
use serde::Deserialize;

use crate::HexBytes;

/// One case.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    group_id: HexBytes,
    epoch: u64,
    tree_hash: HexBytes,
    confirmed_transcript_hash: HexBytes,
    signature_priv: HexBytes,
    signature_pub: HexBytes,
    encryption_secret: HexBytes,
    sender_data_secret: HexBytes,
    membership_key: HexBytes,
    proposal: HexBytes,
    proposal_pub: HexBytes,
    proposal_priv: HexBytes,
    commit: HexBytes,
    commit_pub: HexBytes,
    commit_priv: HexBytes,
    application: HexBytes,
    application_priv: HexBytes,
}

const SENDER: u32 = 1;

/// Signature private keys of P-521 are sometimes written with 65 bytes: left-pad to 66.
fn signature_key(cs: &dyn CipherSuiteProvider, raw: &[u8]) -> Secret {
    if cs.cipher_suite() == CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521 && raw.len() == 65
    {
        let mut v = vec![0u8];
        v.extend_from_slice(raw);
        return Secret::new(v);
    }
    Secret::from_slice(raw)
}

fn fresh_tree(case: &Case) -> Result<SecretTree, String> {
    SecretTree::new(
        Secret::from_slice(&case.encryption_secret),
        2,
        SecretTreeConfig::default(),
    )
    .map_err(|e| e.to_string())
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let gc = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(case.cipher_suite),
        group_id: VarBytes(case.group_id.0.clone()),
        epoch: case.epoch,
        tree_hash: VarBytes(case.tree_hash.0.clone()),
        confirmed_transcript_hash: VarBytes(case.confirmed_transcript_hash.0.clone()),
        extensions: VarVec::default(),
    };
    let membership_key = Secret::from_slice(&case.membership_key);
    let sender_data_secret = Secret::from_slice(&case.sender_data_secret);
    let mp = MessageProtection::new(cs, &gc, &membership_key, &sender_data_secret);
    let signer = signature_key(cs, &case.signature_priv);
    let pub_key = SignaturePublicKey(VarBytes(case.signature_pub.0.clone()));
    let keys = |c: &FramedContent| (c.sender == Sender::Member(SENDER)).then(|| pub_key.clone());

    let proposal: Proposal = decode_exact(&case.proposal).map_err(|e| format!("proposal: {e}"))?;
    let commit: Commit = decode_exact(&case.commit).map_err(|e| format!("commit: {e}"))?;
    let bodies = [
        (
            "proposal",
            FramedContentBody::Proposal(proposal),
            Some(&case.proposal_pub),
            &case.proposal_priv,
        ),
        (
            "commit",
            FramedContentBody::Commit(commit),
            Some(&case.commit_pub),
            &case.commit_priv,
        ),
        (
            "application",
            FramedContentBody::Application(VarBytes(case.application.0.clone())),
            None,
            &case.application_priv,
        ),
    ];
    for (name, body, pub_msg, priv_msg) in bodies {
        let err = |step: &str, e: &dyn std::fmt::Display| format!("{name} {step}: {e}");
        let content = FramedContent {
            group_id: gc.group_id.clone(),
            epoch: case.epoch,
            sender: Sender::Member(SENDER),
            authenticated_data: VarBytes::default(),
            body: body.clone(),
        };
        let mut confirmation_tag = None;

        // 1. The given PublicMessage verifies.
        if let Some(bytes) = pub_msg {
            let msg = MlsMessage::from_bytes(bytes).map_err(|e| err("pub decode", &e))?;
            let MlsMessageBody::PublicMessage(pm) = msg.body else {
                return Err(format!("{name}_pub is not a PublicMessage"));
            };
            let ac = mp
                .unprotect_public(pm, keys)
                .map_err(|e| err("pub verify", &e))?;
            if ac.content != content {
                return Err(format!("{name}_pub content differs"));
            }
            confirmation_tag = ac.auth.confirmation_tag.clone();
        } else if matches!(body, FramedContentBody::Commit(_)) {
            confirmation_tag = Some(Mac(VarBytes(vec![0; cs.hash_len()])));
        }

        // 2. Re-protect as PublicMessage and verify; application data must be refused.
        let protected = mp.protect_public(content.clone(), &signer, confirmation_tag.clone());
        match (&body, protected) {
            (
                FramedContentBody::Application(_),
                Err(ProtectionError::ApplicationDataInPublicMessage),
            ) => {}
            (FramedContentBody::Application(_), other) => {
                return Err(format!(
                    "application as PublicMessage not refused: {other:?}"
                ))
            }
            (_, Ok(pm)) => {
                let ac = mp
                    .unprotect_public(pm, keys)
                    .map_err(|e| err("re-protected pub verify", &e))?;
                if ac.content != content {
                    return Err(format!("{name} re-protected pub content differs"));
                }
            }
            (_, Err(e)) => return Err(err("protect pub", &e)),
        }

        // 3. The given PrivateMessage decrypts.
        let msg = MlsMessage::from_bytes(priv_msg).map_err(|e| err("priv decode", &e))?;
        let MlsMessageBody::PrivateMessage(pm) = msg.body else {
            return Err(format!("{name}_priv is not a PrivateMessage"));
        };
        let mut tree = fresh_tree(case)?;
        let ac = mp
            .unprotect_private(&mut tree, &pm, keys)
            .map_err(|e| err("priv unprotect", &e))?;
        if ac.content != content {
            return Err(format!("{name}_priv content differs"));
        }
        let priv_tag = ac.auth.confirmation_tag.clone();

        // 4. Re-protect as PrivateMessage and round-trip through a receiver's tree.
        let mut sender_tree = fresh_tree(case)?;
        let mut receiver_tree = fresh_tree(case)?;
        let pm = mp
            .protect_private(
                &mut sender_tree,
                content.clone(),
                &signer,
                priv_tag,
                PaddingPolicy::default(),
            )
            .map_err(|e| err("protect priv", &e))?;
        let bytes = MlsMessage::new(MlsMessageBody::PrivateMessage(pm))
            .to_bytes()
            .map_err(|e| err("encode priv", &e))?;
        let MlsMessageBody::PrivateMessage(pm) = MlsMessage::from_bytes(&bytes)
            .map_err(|e| err("decode priv", &e))?
            .body
        else {
            return Err("re-encoded PrivateMessage changed type".into());
        };
        let ac = mp
            .unprotect_private(&mut receiver_tree, &pm, keys)
            .map_err(|e| err("re-protected priv unprotect", &e))?;
        if ac.content != content {
            return Err(format!("{name} re-protected priv content differs"));
        }
    }
    Ok(())
}
