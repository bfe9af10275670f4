//! The cryptography of joining by Welcome (RFC 9420 §12.4.3.1): finding and decrypting one's
//! `GroupSecrets`, decrypting the `GroupInfo` with the welcome key and nonce, verifying the
//! GroupInfo's signature, and checking its confirmation tag against the key schedule.
//!
//! This module owns those steps only; validating the ratchet tree, the GroupContext extensions
//! and the joiner's own leaf belongs to the group logic that calls it.
//!
//! Invariant: nothing here trusts the GroupInfo before both its signature and its confirmation
//! tag verified; [`join_secrets`] returns the epoch's secrets only after the tag matched.

use tls_codec::DeserializeBytes;

use crate::codec::{decode_exact, encode, read_vector_body, VarBytes};
use crate::crypto::labels::{decrypt_with_label, key_package_ref};
use crate::crypto::{CipherSuite, CipherSuiteProvider, CryptoError, HpkeCiphertext, Secret};
use crate::key_schedule::{join_epoch, EpochSecrets, JoinerSecret};
use crate::messages::{
    EncryptedGroupSecrets, GroupInfo, GroupSecrets, KeyPackage, ProtocolVersion, Welcome,
    WireFormat,
};
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

/// A Welcome as the joiner reads it: the cipher suite, the `EncryptedGroupSecrets` entries
/// and the encrypted GroupInfo, borrowed either from a decoded [`Welcome`] or straight from
/// the bytes of an `MLSMessage(Welcome)` ([`WelcomeRef::from_message_bytes`]).
///
/// A Welcome to N joiners holds N entries and the GroupInfo (with the tree, O(N) bytes); a
/// joiner needs one entry, so reading the message in place saves decoding and copying the
/// other N-1 entries and the GroupInfo ciphertext.
#[derive(Clone, Copy, Debug)]
pub struct WelcomeRef<'a> {
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    secrets: SecretsRef<'a>,
    /// The GroupInfo, AEAD-encrypted with the welcome key.
    pub encrypted_group_info: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
enum SecretsRef<'a> {
    Decoded(&'a [EncryptedGroupSecrets]),
    /// The body of `EncryptedGroupSecrets secrets<V>`, every entry's shape checked.
    Wire(&'a [u8]),
}

impl<'a> From<&'a Welcome> for WelcomeRef<'a> {
    fn from(w: &'a Welcome) -> Self {
        WelcomeRef {
            cipher_suite: w.cipher_suite,
            secrets: SecretsRef::Decoded(&w.secrets),
            encrypted_group_info: &w.encrypted_group_info,
        }
    }
}

/// One `EncryptedGroupSecrets` read in place.
struct WireEntry<'a> {
    new_member: &'a [u8],
    kem_output: &'a [u8],
    ciphertext: &'a [u8],
}

/// The wire `EncryptedGroupSecrets` at the front of `bytes`, and the rest.
fn split_entry(bytes: &[u8]) -> Result<(WireEntry<'_>, &[u8]), tls_codec::Error> {
    let (new_member, rest) = read_vector_body(bytes)?;
    let (kem_output, rest) = read_vector_body(rest)?;
    let (ciphertext, rest) = read_vector_body(rest)?;
    let entry = WireEntry {
        new_member,
        kem_output,
        ciphertext,
    };
    Ok((entry, rest))
}

impl<'a> WelcomeRef<'a> {
    /// Reads the encoding of an `MLSMessage` carrying a Welcome in place. Refuses, as decoding
    /// would: another version or wire format, a malformed entry anywhere in `secrets`, and
    /// trailing bytes. Nothing is copied.
    pub fn from_message_bytes(bytes: &'a [u8]) -> Result<Self, tls_codec::Error> {
        let (version, rest) = ProtocolVersion::tls_deserialize_bytes(bytes)?;
        if version != ProtocolVersion::MLS10 {
            return Err(tls_codec::Error::DecodingError(format!(
                "unsupported protocol version {}",
                version.0
            )));
        }
        let (wire_format, rest) = WireFormat::tls_deserialize_bytes(rest)?;
        if wire_format != WireFormat::WELCOME {
            return Err(tls_codec::Error::DecodingError(format!(
                "wire format {} is not a Welcome",
                wire_format.0
            )));
        }
        let (cipher_suite, rest) = CipherSuite::tls_deserialize_bytes(rest)?;
        let (secrets, rest) = read_vector_body(rest)?;
        let mut entries = secrets;
        while !entries.is_empty() {
            entries = split_entry(entries)?.1;
        }
        let (encrypted_group_info, rest) = read_vector_body(rest)?;
        if !rest.is_empty() {
            return Err(tls_codec::Error::TrailingData);
        }
        Ok(WelcomeRef {
            cipher_suite,
            secrets: SecretsRef::Wire(secrets),
            encrypted_group_info,
        })
    }

    /// The entry whose `new_member` is `kp_ref`, as an owned ciphertext (only this one).
    fn find(&self, kp_ref: &[u8]) -> Option<HpkeCiphertext> {
        match self.secrets {
            SecretsRef::Decoded(list) => list
                .iter()
                .find(|e| e.new_member.0.as_slice() == kp_ref)
                .map(|e| e.encrypted_group_secrets.clone()),
            SecretsRef::Wire(mut entries) => {
                while let Ok((e, rest)) = split_entry(entries) {
                    if e.new_member == kp_ref {
                        return Some(HpkeCiphertext {
                            kem_output: VarBytes(e.kem_output.to_vec()),
                            ciphertext: VarBytes(e.ciphertext.to_vec()),
                        });
                    }
                    entries = rest;
                }
                None
            }
        }
    }

    /// How many `EncryptedGroupSecrets` entries the Welcome holds.
    pub fn secrets_len(&self) -> usize {
        match self.secrets {
            SecretsRef::Decoded(list) => list.len(),
            SecretsRef::Wire(mut entries) => {
                let mut n = 0;
                while let Ok((_, rest)) = split_entry(entries) {
                    n += 1;
                    entries = rest;
                }
                n
            }
        }
    }
}

/// Finds the entry for `key_package` and decrypts it:
/// `DecryptWithLabel(init_priv, "Welcome", encrypted_group_info, kem_output, ciphertext)`.
pub fn decrypt_group_secrets<'a>(
    cs: &dyn CipherSuiteProvider,
    welcome: impl Into<WelcomeRef<'a>>,
    key_package: &KeyPackage,
    init_priv: &Secret,
) -> Result<GroupSecrets, WelcomeError> {
    let welcome = welcome.into();
    if welcome.cipher_suite != cs.cipher_suite() {
        return Err(WelcomeError::CipherSuiteMismatch(welcome.cipher_suite.0));
    }
    let kp_ref = key_package_ref(cs, &encode(key_package)?)?;
    let entry = welcome
        .find(&kp_ref)
        .ok_or(WelcomeError::NotForThisKeyPackage)?;
    let plain = zeroize::Zeroizing::new(
        decrypt_with_label(
            cs,
            init_priv,
            "Welcome",
            welcome.encrypted_group_info,
            &entry,
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
pub fn decrypt_group_info<'a>(
    cs: &dyn CipherSuiteProvider,
    welcome: impl Into<WelcomeRef<'a>>,
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
            welcome.into().encrypted_group_info,
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
