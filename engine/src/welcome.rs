//! The cryptography of joining by Welcome (RFC 9420 §12.4.3.1): finding and decrypting one's
//! `GroupSecrets`, decrypting the `GroupInfo` with the welcome key and nonce, verifying the
//! GroupInfo's signature, and checking its confirmation tag against the key schedule.
//!
//! This module owns those steps only; validating the ratchet tree, the GroupContext extensions
//! and the joiner's own leaf belongs to the group logic that calls it.
//!
//! Invariant: nothing here trusts the GroupInfo before both its signature and its confirmation
//! tag verified; [`join_secrets`] returns the epoch's secrets only after the tag matched.

use crate::codec::{decode_exact, encode};
use crate::crypto::labels::{decrypt_with_label, key_package_ref};
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret};
use crate::key_schedule::{join_epoch, EpochSecrets, JoinerSecret};
use crate::messages::{GroupInfo, GroupSecrets, KeyPackage, Welcome};
use crate::psk::PskSecret;
use crate::transcript_hash::{verify_confirmation_tag, TranscriptError};

/// Why processing a Welcome failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WelcomeError {
    /// The Welcome's cipher suite is not the one given.
    #[error("welcome cipher suite 0x{0:04x} does not match")]
    CipherSuiteMismatch(u16),
    /// No `EncryptedGroupSecrets` entry names this KeyPackage.
    #[error("no entry for this key package")]
    NotForThisKeyPackage,
    /// The GroupSecrets did not decrypt with the init key.
    #[error("group secrets do not decrypt")]
    GroupSecretsUndecryptable,
    /// The decrypted GroupSecrets do not parse.
    #[error("malformed group secrets: {0}")]
    MalformedGroupSecrets(String),
    /// The GroupInfo did not decrypt with the welcome key.
    #[error("group info does not decrypt")]
    GroupInfoUndecryptable,
    /// The decrypted GroupInfo does not parse.
    #[error("malformed group info: {0}")]
    MalformedGroupInfo(String),
    /// The GroupInfo's signature does not verify (§12.4.3.1).
    #[error("group info signature does not verify")]
    BadGroupInfoSignature,
    /// The GroupInfo's confirmation tag does not match the key schedule (§12.4.3.1).
    #[error("group info confirmation tag does not verify")]
    BadConfirmationTag,
    /// A structure could not be encoded.
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A cryptographic operation failed for another reason.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<tls_codec::Error> for WelcomeError {
    fn from(e: tls_codec::Error) -> Self {
        WelcomeError::Encoding(e.to_string())
    }
}

/// Finds the entry for `key_package` and decrypts it:
/// `DecryptWithLabel(init_priv, "Welcome", encrypted_group_info, kem_output, ciphertext)`.
pub fn decrypt_group_secrets(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_priv: &Secret,
) -> Result<GroupSecrets, WelcomeError> {
    if welcome.cipher_suite != cs.cipher_suite() {
        return Err(WelcomeError::CipherSuiteMismatch(welcome.cipher_suite.0));
    }
    let kp_ref = key_package_ref(cs, &encode(key_package)?)?;
    let entry = welcome
        .secrets
        .iter()
        .find(|e| e.new_member.0.as_slice() == kp_ref.as_slice())
        .ok_or(WelcomeError::NotForThisKeyPackage)?;
    let plain = zeroize::Zeroizing::new(
        decrypt_with_label(
            cs,
            init_priv,
            "Welcome",
            &welcome.encrypted_group_info,
            &entry.encrypted_group_secrets,
        )
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => WelcomeError::GroupSecretsUndecryptable,
            other => WelcomeError::Crypto(other),
        })?,
    );
    decode_exact(&plain).map_err(|e| WelcomeError::MalformedGroupSecrets(e.to_string()))
}

/// Decrypts the Welcome's GroupInfo with `welcome_key` / `welcome_nonce` derived from
/// `joiner_secret` and `psk_secret` (§8, §12.4.3.1). The GroupInfo is not yet verified.
pub fn decrypt_group_info(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    joiner_secret: &JoinerSecret,
    psk_secret: &PskSecret,
) -> Result<GroupInfo, WelcomeError> {
    let welcome_secret = joiner_secret
        .member_secret(cs, psk_secret)
        .welcome_secret(cs)?;
    let (key, nonce) = welcome_secret.key_and_nonce(cs)?;
    let plain = cs
        .aead_open(
            key.as_bytes(),
            nonce.as_bytes(),
            b"",
            &welcome.encrypted_group_info,
        )
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => WelcomeError::GroupInfoUndecryptable,
            other => WelcomeError::Crypto(other),
        })?;
    decode_exact(&plain).map_err(|e| WelcomeError::MalformedGroupInfo(e.to_string()))
}

/// Verifies `SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)` with the signer's key (§12.4.3).
pub fn verify_group_info_signature(
    cs: &dyn CipherSuiteProvider,
    group_info: &GroupInfo,
    signer: &[u8],
) -> Result<(), WelcomeError> {
    group_info
        .sign_content()
        .and_then(|sc| sc.verify(cs, signer, group_info.signature.as_slice()))
        .map_err(|e| match e {
            CryptoError::InvalidSignature => WelcomeError::BadGroupInfoSignature,
            other => WelcomeError::Crypto(other),
        })
}

/// Runs the key schedule for the GroupInfo's epoch from `joiner_secret` and `psk_secret` and
/// checks the GroupInfo's confirmation tag against it (§12.4.3.1); returns the epoch's secrets.
pub fn join_secrets(
    cs: &dyn CipherSuiteProvider,
    group_info: &GroupInfo,
    joiner_secret: &JoinerSecret,
    psk_secret: &PskSecret,
) -> Result<EpochSecrets, WelcomeError> {
    let gc = encode(&group_info.group_context)?;
    let (_, secrets) = join_epoch(cs, joiner_secret, psk_secret, &gc)?;
    verify_confirmation_tag(
        cs,
        &secrets.confirmation_key,
        &group_info.group_context.confirmed_transcript_hash,
        &group_info.confirmation_tag,
    )
    .map_err(|e| match e {
        TranscriptError::BadConfirmationTag => WelcomeError::BadConfirmationTag,
        TranscriptError::Crypto(c) => WelcomeError::Crypto(c),
        other => WelcomeError::Encoding(other.to_string()),
    })?;
    Ok(secrets)
}
