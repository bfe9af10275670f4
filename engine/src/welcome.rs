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
use crate::messages::group_info::{
    GROUP_INFO_SIGN_CONTENT_ROOM as SIGN_CONTENT_ROOM, GROUP_INFO_TBS_LABEL,
};
use crate::messages::{
    EncryptedGroupSecrets, GroupInfo, GroupSecrets, KeyPackage, ProtocolVersion, Welcome,
    WelcomeMessage, WireFormat,
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

impl<'a> From<&'a WelcomeMessage> for WelcomeRef<'a> {
    fn from(w: &'a WelcomeMessage) -> Self {
        WelcomeRef {
            cipher_suite: w.cipher_suite(),
            secrets: SecretsRef::Wire(w.secrets_body()),
            encrypted_group_info: w.encrypted_group_info(),
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
    let (key, nonce) = welcome_key_and_nonce(cs, joiner_secret, psk_secret)?;
    let plain = cs
        .aead_open(
            key.as_bytes(),
            nonce.as_bytes(),
            b"",
            welcome.into().encrypted_group_info,
        )
        .map_err(group_info_open_error)?;
    decode_exact(&plain).map_err(|e| WelcomeError::MalformedGroupInfo(e.to_string()))
}

/// `welcome_key` and `welcome_nonce` (§8, §12.4.3.1) from the joiner and PSK secrets.
fn welcome_key_and_nonce(
    cs: &dyn CipherSuiteProvider,
    joiner_secret: &JoinerSecret,
    psk_secret: &PskSecret,
) -> Result<(Secret, Secret), WelcomeError> {
    Ok(joiner_secret
        .member_secret(cs, psk_secret)
        .welcome_secret(cs)?
        .key_and_nonce(cs)?)
}

/// A failure to decrypt the GroupInfo: a wrong key or a tampered ciphertext is
/// `GroupInfoUndecryptable`.
fn group_info_open_error(e: CryptoError) -> WelcomeError {
    match e {
        CryptoError::AeadOpenFailed => WelcomeError::GroupInfoUndecryptable,
        other => WelcomeError::Crypto(other),
    }
}

/// A Welcome's GroupInfo, decrypted and decoded but not yet verified (§12.4.3.1), without a
/// copy of its tree: the plaintext stays in one buffer, the `ratchet_tree` extension is read
/// from it ([`OpenedGroupInfo::ratchet_tree`]), and the signature is verified over it in place
/// ([`GroupInfoSignatureInput`]). For a GroupInfo carrying a 10,000-member tree this saves two
/// 1.8 MB copies (the decoded extension and the encoded GroupInfoTBS) per join.
#[derive(Debug)]
pub struct OpenedGroupInfo {
    /// The GroupInfo, every `ratchet_tree` extension's data left empty.
    pub group_info: GroupInfo,
    signed: GroupInfoSignatureInput,
}

/// The encoded `SignContent` of a decrypted GroupInfo's GroupInfoTBS, in the buffer it was
/// decrypted in: what its signature is verified over, and where the tree's bytes are read.
#[derive(Debug)]
pub struct GroupInfoSignatureInput {
    buf: Vec<u8>,
    sign_content: std::ops::Range<usize>,
    /// The first `ratchet_tree` extension's data, in `buf`.
    tree: Option<std::ops::Range<usize>>,
}

impl GroupInfoSignatureInput {
    /// Verifies `signature` (the GroupInfo's) with the signer's key (§12.4.3).
    pub fn verify(
        &self,
        cs: &dyn CipherSuiteProvider,
        signer: &[u8],
        signature: &[u8],
    ) -> Result<(), WelcomeError> {
        let msg = self
            .buf
            .get(self.sign_content.clone())
            .ok_or_else(|| WelcomeError::Encoding("GroupInfoTBS range".into()))?;
        cs.verify(signer, msg, signature).map_err(|e| match e {
            CryptoError::InvalidSignature => WelcomeError::BadGroupInfoSignature,
            other => WelcomeError::Crypto(other),
        })
    }
}

impl GroupInfoSignatureInput {
    /// The `ratchet_tree` extension's data (the first one), if the GroupInfo has one.
    pub fn ratchet_tree(&self) -> Option<&[u8]> {
        self.buf.get(self.tree.clone()?)
    }
}

impl OpenedGroupInfo {
    /// The `ratchet_tree` extension's data (the first one), if the GroupInfo has one.
    pub fn ratchet_tree(&self) -> Option<&[u8]> {
        self.signed.ratchet_tree()
    }

    /// The GroupInfo (its tree left out) and what its signature is verified over, apart: the
    /// check may then run beside work on the GroupInfo (joining checks the tree meanwhile).
    pub fn into_parts(self) -> (GroupInfo, GroupInfoSignatureInput) {
        (self.group_info, self.signed)
    }
}

/// [`decrypt_group_info`] without copying the tree: see [`OpenedGroupInfo`]. Decoding is the
/// same as [`GroupInfo`]'s (every byte used, shortest-form lengths); only where the
/// `ratchet_tree` extension's data lives differs.
pub fn open_group_info<'a>(
    cs: &dyn CipherSuiteProvider,
    welcome: impl Into<WelcomeRef<'a>>,
    joiner_secret: &JoinerSecret,
    psk_secret: &PskSecret,
) -> Result<OpenedGroupInfo, WelcomeError> {
    let (key, nonce) = welcome_key_and_nonce(cs, joiner_secret, psk_secret)?;
    let ciphertext = welcome.into().encrypted_group_info;
    let mut buf = Vec::with_capacity(SIGN_CONTENT_ROOM + ciphertext.len());
    buf.resize(SIGN_CONTENT_ROOM, 0);
    buf.extend_from_slice(ciphertext);
    let plain_len = cs
        .aead_open_in_place(
            key.as_bytes(),
            nonce.as_bytes(),
            b"",
            &mut buf[SIGN_CONTENT_ROOM..],
        )
        .map_err(group_info_open_error)?;
    buf.truncate(SIGN_CONTENT_ROOM + plain_len);
    let malformed = |e: tls_codec::Error| WelcomeError::MalformedGroupInfo(e.to_string());
    let (group_info, tree, tbs_len) =
        decode_group_info_without_tree(&buf[SIGN_CONTENT_ROOM..]).map_err(malformed)?;
    let header = crate::crypto::labels::sign_content_header(GROUP_INFO_TBS_LABEL, tbs_len)?;
    let start = SIGN_CONTENT_ROOM
        .checked_sub(header.len())
        .ok_or_else(|| WelcomeError::Encoding("SignContent header".into()))?;
    buf[start..SIGN_CONTENT_ROOM].copy_from_slice(&header);
    Ok(OpenedGroupInfo {
        group_info,
        signed: GroupInfoSignatureInput {
            buf,
            sign_content: start..SIGN_CONTENT_ROOM + tbs_len,
            tree: tree.map(|r| r.start + SIGN_CONTENT_ROOM..r.end + SIGN_CONTENT_ROOM),
        },
    })
}

/// Decodes a GroupInfo as [`GroupInfo`]'s decoder does, but leaves every `ratchet_tree`
/// extension's data empty; returns it with the first such data's range in `bytes` and the
/// length of the GroupInfoTBS (everything before the signature).
fn decode_group_info_without_tree(
    bytes: &[u8],
) -> Result<(GroupInfo, Option<std::ops::Range<usize>>, usize), tls_codec::Error> {
    use crate::messages::{Extension, ExtensionType, GroupContext, Mac};
    let offset = |rest: &[u8]| bytes.len() - rest.len();
    let (group_context, rest) = GroupContext::tls_deserialize_bytes(bytes)?;
    let (mut list, rest) = read_vector_body(rest)?;
    // Where the extension list ends in `bytes` (each item's remainder is a suffix of the list).
    let list_end = offset(rest);
    let mut extensions = Vec::new();
    let mut tree = None;
    while !list.is_empty() {
        let (extension_type, after_type) = ExtensionType::tls_deserialize_bytes(list)?;
        let (data, after) = read_vector_body(after_type)?;
        let extension_data = if extension_type == ExtensionType::RATCHET_TREE {
            if tree.is_none() {
                // `data` ends where `after` starts.
                let end = list_end - after.len();
                tree = Some(end - data.len()..end);
            }
            VarBytes::default()
        } else {
            VarBytes(data.to_vec())
        };
        extensions.push(Extension {
            extension_type,
            extension_data,
        });
        list = after;
    }
    let (confirmation_tag, rest) = Mac::tls_deserialize_bytes(rest)?;
    let (signer, rest) = u32::tls_deserialize_bytes(rest)?;
    let tbs_len = offset(rest);
    let (signature, rest) = VarBytes::tls_deserialize_bytes(rest)?;
    if !rest.is_empty() {
        return Err(tls_codec::Error::TrailingData);
    }
    Ok((
        GroupInfo {
            group_context,
            extensions: crate::codec::VarVec(extensions),
            confirmation_tag,
            signer,
            signature,
        },
        tree,
        tbs_len,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::VarVec;
    use crate::messages::{Extension, ExtensionType, GroupContext, Mac};

    fn group_info(extensions: Vec<Extension>) -> GroupInfo {
        GroupInfo {
            group_context: GroupContext {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuite(1),
                group_id: VarBytes(b"group".to_vec()),
                epoch: 3,
                tree_hash: VarBytes(vec![1; 32]),
                confirmed_transcript_hash: VarBytes(vec![2; 32]),
                extensions: VarVec(vec![Extension {
                    extension_type: ExtensionType(0x0a0a),
                    extension_data: VarBytes(b"context".to_vec()),
                }]),
            },
            extensions: VarVec(extensions),
            confirmation_tag: Mac(VarBytes(vec![3; 32])),
            signer: 7,
            signature: VarBytes(vec![4; 64]),
        }
    }

    fn ext(t: ExtensionType, data: &[u8]) -> Extension {
        Extension {
            extension_type: t,
            extension_data: VarBytes(data.to_vec()),
        }
    }

    /// The GroupInfo decoded without its tree is the GroupInfo with every `ratchet_tree`
    /// extension's data emptied; the range is the first tree's data (wherever it sits in
    /// the list, with data lengths crossing the 1-, 2- and 4-byte header forms); the TBS length
    /// is that of the encoded GroupInfoTBS.
    #[test]
    fn decoded_without_tree_is_the_group_info_less_its_tree() {
        let tree = ExtensionType::RATCHET_TREE;
        let other = ExtensionType(0x1a1a);
        let big: Vec<u8> = (0..20_000u32).map(|i| i.to_le_bytes()[0]).collect();
        for exts in [
            vec![],
            vec![ext(other, b"x")],
            vec![ext(tree, &big)],
            vec![
                ext(other, &[9; 70]),
                ext(tree, &big[..100]),
                ext(other, b""),
            ],
            vec![ext(tree, b"first"), ext(other, b"y"), ext(tree, b"second")],
        ] {
            let gi = group_info(exts.clone());
            let bytes = encode(&gi).unwrap();
            let (decoded, range, tbs_len) = decode_group_info_without_tree(&bytes).unwrap();
            let mut expected = gi.clone();
            for e in expected.extensions.0.iter_mut() {
                if e.extension_type == tree {
                    e.extension_data = VarBytes::default();
                }
            }
            assert_eq!(decoded, expected);
            let first_tree = exts.iter().find(|e| e.extension_type == tree);
            assert_eq!(
                range.map(|r| bytes[r].to_vec()),
                first_tree.map(|e| e.extension_data.to_vec())
            );
            assert_eq!(tbs_len, encode(&gi.to_be_signed()).unwrap().len());
        }
    }

    /// Refused exactly where the GroupInfo decoder refuses: every truncation and a trailing
    /// byte.
    #[test]
    fn decoded_without_tree_refuses_what_the_decoder_refuses() {
        let gi = group_info(vec![ext(ExtensionType::RATCHET_TREE, &[5; 300])]);
        let bytes = encode(&gi).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_group_info_without_tree(&bytes[..cut]).is_err());
            assert!(decode_exact::<GroupInfo>(&bytes[..cut]).is_err());
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_group_info_without_tree(&trailing).is_err());
        assert!(decode_exact::<GroupInfo>(&trailing).is_err());
    }
}
