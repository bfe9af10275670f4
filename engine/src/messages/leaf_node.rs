//! Leaf nodes (RFC 9420 §7.2): `LeafNode` with its three `leaf_node_source` variants,
//! `LeafNodeTBS`, `Capabilities` and `Lifetime`.

use std::io::Write;

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::{CredentialType, ExtensionType, ProposalType, ProtocolVersion};
use super::credential::Credential;
use super::extensions::Extension;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::{CipherSuite, HpkePublicKey, SignaturePublicKey};

/// `Capabilities` (RFC 9420 §7.2): what a client supports.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Capabilities {
    /// Supported protocol versions.
    pub versions: VarVec<ProtocolVersion>,
    /// Supported cipher suites.
    pub cipher_suites: VarVec<CipherSuite>,
    /// Supported non-default extension types.
    pub extensions: VarVec<ExtensionType>,
    /// Supported non-default proposal types.
    pub proposals: VarVec<ProposalType>,
    /// Supported credential types.
    pub credentials: VarVec<CredentialType>,
}

/// `Lifetime` (RFC 9420 §7.2): validity window in seconds since the Unix epoch.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize,
)]
pub struct Lifetime {
    /// First valid second.
    pub not_before: u64,
    /// Last valid second.
    pub not_after: u64,
}

/// `leaf_node_source` and its selected content (RFC 9420 §7.2). The u8 tag is
/// `key_package(1)`, `update(2)` or `commit(3)`; anything else is a decode error.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LeafNodeSource {
    /// `key_package`: the leaf came in a KeyPackage, with its lifetime.
    KeyPackage(Lifetime),
    /// `update`: the leaf came in an Update proposal.
    Update,
    /// `commit`: the leaf came in a Commit's UpdatePath, with its `parent_hash<V>`.
    Commit(VarBytes),
}

impl LeafNodeSource {
    /// The wire tag.
    pub fn tag(&self) -> u8 {
        match self {
            LeafNodeSource::KeyPackage(_) => 1,
            LeafNodeSource::Update => 2,
            LeafNodeSource::Commit(_) => 3,
        }
    }
}

impl Size for LeafNodeSource {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            LeafNodeSource::KeyPackage(l) => l.tls_serialized_len(),
            LeafNodeSource::Update => 0,
            LeafNodeSource::Commit(h) => h.tls_serialized_len(),
        }
    }
}

impl Serialize for LeafNodeSource {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let n = self.tag().tls_serialize(writer)?;
        Ok(n + match self {
            LeafNodeSource::KeyPackage(l) => l.tls_serialize(writer)?,
            LeafNodeSource::Update => 0,
            LeafNodeSource::Commit(h) => h.tls_serialize(writer)?,
        })
    }
}

impl DeserializeBytes for LeafNodeSource {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (tag, rest) = u8::tls_deserialize_bytes(bytes)?;
        match tag {
            1 => {
                let (l, rest) = Lifetime::tls_deserialize_bytes(rest)?;
                Ok((LeafNodeSource::KeyPackage(l), rest))
            }
            2 => Ok((LeafNodeSource::Update, rest)),
            3 => {
                let (h, rest) = VarBytes::tls_deserialize_bytes(rest)?;
                Ok((LeafNodeSource::Commit(h), rest))
            }
            other => Err(Error::UnknownValue(u64::from(other))),
        }
    }
}

/// `LeafNode` (RFC 9420 §7.2).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct LeafNode {
    /// The leaf's HPKE key.
    pub encryption_key: HpkePublicKey,
    /// The member's signature key.
    pub signature_key: SignaturePublicKey,
    /// The member's credential.
    pub credential: Credential,
    /// What the member supports.
    pub capabilities: Capabilities,
    /// Where the leaf came from, with the source's content.
    pub leaf_node_source: LeafNodeSource,
    /// Leaf extensions.
    pub extensions: VarVec<Extension>,
    /// `SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`.
    pub signature: VarBytes,
}

top_level!(LeafNode);

/// The group binding of a `LeafNodeTBS` for the `update` and `commit` sources (RFC 9420 §7.2).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct TreePosition {
    /// The group's id.
    pub group_id: VarBytes,
    /// The signer's leaf index.
    pub leaf_index: u32,
}

/// `LeafNodeTBS` (RFC 9420 §7.2): the signed part of a [`LeafNode`]. `tree_position` is
/// present iff the source is `update` or `commit`; encoding and decoding enforce that.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LeafNodeTbs {
    /// See [`LeafNode::encryption_key`].
    pub encryption_key: HpkePublicKey,
    /// See [`LeafNode::signature_key`].
    pub signature_key: SignaturePublicKey,
    /// See [`LeafNode::credential`].
    pub credential: Credential,
    /// See [`LeafNode::capabilities`].
    pub capabilities: Capabilities,
    /// See [`LeafNode::leaf_node_source`].
    pub leaf_node_source: LeafNodeSource,
    /// See [`LeafNode::extensions`].
    pub extensions: VarVec<Extension>,
    /// `group_id` and `leaf_index`, for the `update` and `commit` sources only.
    pub tree_position: Option<TreePosition>,
}

impl LeafNode {
    /// The to-be-signed form, with the group binding required by `update`/`commit` leaves.
    pub fn to_be_signed(&self, tree_position: Option<TreePosition>) -> LeafNodeTbs {
        LeafNodeTbs {
            encryption_key: self.encryption_key.clone(),
            signature_key: self.signature_key.clone(),
            credential: self.credential.clone(),
            capabilities: self.capabilities.clone(),
            leaf_node_source: self.leaf_node_source.clone(),
            extensions: self.extensions.clone(),
            tree_position,
        }
    }
}

impl LeafNodeTbs {
    fn position_expected(&self) -> bool {
        !matches!(self.leaf_node_source, LeafNodeSource::KeyPackage(_))
    }
}

impl Size for LeafNodeTbs {
    fn tls_serialized_len(&self) -> usize {
        self.encryption_key.tls_serialized_len()
            + self.signature_key.tls_serialized_len()
            + self.credential.tls_serialized_len()
            + self.capabilities.tls_serialized_len()
            + self.leaf_node_source.tls_serialized_len()
            + self.extensions.tls_serialized_len()
            + self
                .tree_position
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for LeafNodeTbs {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        if self.position_expected() != self.tree_position.is_some() {
            return Err(Error::EncodingError(
                "LeafNodeTBS: group_id/leaf_index present iff source is update or commit".into(),
            ));
        }
        let mut n = self.encryption_key.tls_serialize(writer)?;
        n += self.signature_key.tls_serialize(writer)?;
        n += self.credential.tls_serialize(writer)?;
        n += self.capabilities.tls_serialize(writer)?;
        n += self.leaf_node_source.tls_serialize(writer)?;
        n += self.extensions.tls_serialize(writer)?;
        if let Some(p) = &self.tree_position {
            n += p.tls_serialize(writer)?;
        }
        Ok(n)
    }
}

impl DeserializeBytes for LeafNodeTbs {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (encryption_key, rest) = HpkePublicKey::tls_deserialize_bytes(bytes)?;
        let (signature_key, rest) = SignaturePublicKey::tls_deserialize_bytes(rest)?;
        let (credential, rest) = Credential::tls_deserialize_bytes(rest)?;
        let (capabilities, rest) = Capabilities::tls_deserialize_bytes(rest)?;
        let (leaf_node_source, rest) = LeafNodeSource::tls_deserialize_bytes(rest)?;
        let (extensions, mut rest) = VarVec::tls_deserialize_bytes(rest)?;
        let mut tbs = LeafNodeTbs {
            encryption_key,
            signature_key,
            credential,
            capabilities,
            leaf_node_source,
            extensions,
            tree_position: None,
        };
        if tbs.position_expected() {
            let (p, after) = TreePosition::tls_deserialize_bytes(rest)?;
            tbs.tree_position = Some(p);
            rest = after;
        }
        Ok((tbs, rest))
    }
}
