//! Welcome messages (RFC 9420 §12.4.3.1): `Welcome`, `EncryptedGroupSecrets`, `GroupSecrets`
//! and `PathSecret`, and [`WelcomeMessage`], the encoded `MLSMessage(Welcome)` a commit
//! builds.

use std::ops::Range;

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::framing::MlsMessage;
use super::key_package::KeyPackageRef;
use super::psk::PreSharedKeyId;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::{CipherSuite, HpkeCiphertext};

/// `PathSecret` (RFC 9420 §12.4.3.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct PathSecret {
    /// The path secret of the lowest common ancestor of committer and joiner.
    pub path_secret: VarBytes,
}

/// `GroupSecrets` (RFC 9420 §12.4.3.1): what a Welcome encrypts to each joiner.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct GroupSecrets {
    /// The epoch's joiner secret.
    pub joiner_secret: VarBytes,
    /// `optional<PathSecret> path_secret`.
    pub path_secret: Option<PathSecret>,
    /// The PSKs of the epoch.
    pub psks: VarVec<PreSharedKeyId>,
}

top_level!(GroupSecrets);

/// `EncryptedGroupSecrets` (RFC 9420 §12.4.3.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct EncryptedGroupSecrets {
    /// The joiner's KeyPackage reference.
    pub new_member: KeyPackageRef,
    /// `EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets)`.
    pub encrypted_group_secrets: HpkeCiphertext,
}

/// `Welcome` (RFC 9420 §12.4.3.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Welcome {
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// One entry per joiner.
    pub secrets: VarVec<EncryptedGroupSecrets>,
    /// The GroupInfo, AEAD-encrypted with the welcome key.
    pub encrypted_group_info: VarBytes,
}

top_level!(Welcome);

/// An `MLSMessage` carrying a [`Welcome`] (RFC 9420 §6, §12.4.3.1), as a commit builds it: its
/// TLS encoding, ready to send, built in one buffer (the encrypted GroupInfo, which carries
/// the tree and so is O(N) bytes, is encrypted where the message holds it, and every
/// joiner's `EncryptedGroupSecrets` is written into its slot). A joiner reads it in place:
/// [`crate::welcome::WelcomeRef`] converts from a reference to it, and
/// [`crate::group::Group::join`] takes one.
#[derive(Clone, Debug)]
pub struct WelcomeMessage {
    /// The encoding starts at `start` (a few bytes of room may precede it).
    bytes: Vec<u8>,
    start: usize,
    cipher_suite: CipherSuite,
    /// The body of `secrets<V>` within `bytes`.
    secrets: Range<usize>,
    /// The body of `encrypted_group_info<V>` within `bytes`.
    encrypted_group_info: Range<usize>,
}

/// Two messages are equal when their encodings are (the room before an encoding is not part
/// of it).
impl PartialEq for WelcomeMessage {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for WelcomeMessage {}

impl WelcomeMessage {
    /// Wraps an encoding built by the engine. The caller vouches for the ranges (the group's
    /// Welcome builder checks every length it writes).
    pub(crate) fn from_built(
        bytes: Vec<u8>,
        start: usize,
        cipher_suite: CipherSuite,
        secrets: Range<usize>,
        encrypted_group_info: Range<usize>,
    ) -> Self {
        WelcomeMessage {
            bytes,
            start,
            cipher_suite,
            secrets,
            encrypted_group_info,
        }
    }

    /// The TLS encoding of the `MLSMessage`.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    /// The TLS encoding of the `MLSMessage`, owned (no copy unless a few bytes of room
    /// preceded it, as for a GroupInfo under 16 KiB).
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.bytes.drain(..self.start.min(self.bytes.len()));
        self.bytes
    }

    /// The group's cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.cipher_suite
    }

    /// The body of `EncryptedGroupSecrets secrets<V>`.
    pub(crate) fn secrets_body(&self) -> &[u8] {
        self.bytes.get(self.secrets.clone()).unwrap_or_default()
    }

    /// The encrypted GroupInfo.
    pub fn encrypted_group_info(&self) -> &[u8] {
        self.bytes
            .get(self.encrypted_group_info.clone())
            .unwrap_or_default()
    }

    /// Decodes the message (every entry copied out: for inspection and tests; a joiner
    /// reads it in place instead).
    pub fn to_message(&self) -> Result<MlsMessage, tls_codec::Error> {
        MlsMessage::from_bytes(self.as_bytes())
    }
}
