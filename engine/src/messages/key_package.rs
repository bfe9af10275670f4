//! Key packages (RFC 9420 §10): `KeyPackage`, `KeyPackageTBS` and `KeyPackageRef`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::codepoints::ProtocolVersion;
use super::extensions::Extension;
use super::leaf_node::LeafNode;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::{CipherSuite, HpkePublicKey};

/// `KeyPackage` (RFC 9420 §10).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct KeyPackage {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Cipher suite.
    pub cipher_suite: CipherSuite,
    /// HPKE key the Welcome is encrypted to.
    pub init_key: HpkePublicKey,
    /// The member's leaf (source `key_package`).
    pub leaf_node: LeafNode,
    /// KeyPackage extensions.
    pub extensions: VarVec<Extension>,
    /// `SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)`.
    pub signature: VarBytes,
}

top_level!(KeyPackage);

/// `KeyPackageTBS` (RFC 9420 §10): a [`KeyPackage`] without its signature.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct KeyPackageTbs {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Cipher suite.
    pub cipher_suite: CipherSuite,
    /// HPKE init key.
    pub init_key: HpkePublicKey,
    /// The member's leaf.
    pub leaf_node: LeafNode,
    /// KeyPackage extensions.
    pub extensions: VarVec<Extension>,
}

impl KeyPackage {
    /// The to-be-signed form.
    pub fn to_be_signed(&self) -> KeyPackageTbs {
        KeyPackageTbs {
            version: self.version,
            cipher_suite: self.cipher_suite,
            init_key: self.init_key.clone(),
            leaf_node: self.leaf_node.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

/// `KeyPackageRef` (RFC 9420 §5.2): `RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)`,
/// an opaque `HashReference<V>`.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    Default,
    TlsSerialize,
    TlsDeserializeBytes,
    TlsSize,
)]
pub struct KeyPackageRef(pub VarBytes);
