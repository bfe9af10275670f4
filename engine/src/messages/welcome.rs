//! Welcome messages (RFC 9420 §12.4.3.1): `Welcome`, `EncryptedGroupSecrets`, `GroupSecrets`
//! and `PathSecret`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

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
