//! Proposals (RFC 9420 §12.1): the seven RFC proposal bodies, the `Proposal` union (unknown
//! proposal types kept as opaque `<V>` bodies) and `ProposalRef`.

use std::io::Write;

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::{ProposalType, ProtocolVersion};
use super::extensions::Extension;
use super::key_package::KeyPackage;
use super::leaf_node::LeafNode;
use super::psk::PreSharedKeyId;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::CipherSuite;

/// `Add` (RFC 9420 §12.1.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Add {
    /// The new member's KeyPackage.
    pub key_package: KeyPackage,
}

/// `Update` (RFC 9420 §12.1.2).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Update {
    /// The sender's new leaf (source `update`).
    pub leaf_node: LeafNode,
}

/// `Remove` (RFC 9420 §12.1.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Remove {
    /// Leaf index of the member removed.
    pub removed: u32,
}

/// `PreSharedKey` (RFC 9420 §12.1.4).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct PreSharedKey {
    /// The PSK to inject.
    pub psk: PreSharedKeyId,
}

/// `ReInit` (RFC 9420 §12.1.5).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ReInit {
    /// The new group's id.
    pub group_id: VarBytes,
    /// Its protocol version.
    pub version: ProtocolVersion,
    /// Its cipher suite.
    pub cipher_suite: CipherSuite,
    /// Its GroupContext extensions.
    pub extensions: VarVec<Extension>,
}

/// `ExternalInit` (RFC 9420 §12.1.6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ExternalInit {
    /// The HPKE encapsulation to the group's `external_pub`.
    pub kem_output: VarBytes,
}

/// `GroupContextExtensions` (RFC 9420 §12.1.7).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct GroupContextExtensions {
    /// The complete new list of GroupContext extensions.
    pub extensions: VarVec<Extension>,
}

/// `Proposal` (RFC 9420 §12.1): `proposal_type` then the selected body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Proposal {
    /// `add` (1).
    Add(Add),
    /// `update` (2).
    Update(Update),
    /// `remove` (3).
    Remove(Remove),
    /// `psk` (4).
    PreSharedKey(PreSharedKey),
    /// `reinit` (5).
    ReInit(ReInit),
    /// `external_init` (6).
    ExternalInit(ExternalInit),
    /// `group_context_extensions` (7).
    GroupContextExtensions(GroupContextExtensions),
    /// Any other type (GREASE or an extension's): its body kept as `opaque body<V>`, so it
    /// re-encodes unchanged. The type must not be one of the seven above (encoding refuses it).
    Unknown {
        /// The proposal type.
        proposal_type: ProposalType,
        /// The opaque body.
        body: VarBytes,
    },
}

top_level!(Proposal);

impl Proposal {
    /// The proposal type on the wire.
    pub fn proposal_type(&self) -> ProposalType {
        match self {
            Proposal::Add(_) => ProposalType::ADD,
            Proposal::Update(_) => ProposalType::UPDATE,
            Proposal::Remove(_) => ProposalType::REMOVE,
            Proposal::PreSharedKey(_) => ProposalType::PSK,
            Proposal::ReInit(_) => ProposalType::REINIT,
            Proposal::ExternalInit(_) => ProposalType::EXTERNAL_INIT,
            Proposal::GroupContextExtensions(_) => ProposalType::GROUP_CONTEXT_EXTENSIONS,
            Proposal::Unknown { proposal_type, .. } => *proposal_type,
        }
    }
}

impl Size for Proposal {
    fn tls_serialized_len(&self) -> usize {
        2 + match self {
            Proposal::Add(p) => p.tls_serialized_len(),
            Proposal::Update(p) => p.tls_serialized_len(),
            Proposal::Remove(p) => p.tls_serialized_len(),
            Proposal::PreSharedKey(p) => p.tls_serialized_len(),
            Proposal::ReInit(p) => p.tls_serialized_len(),
            Proposal::ExternalInit(p) => p.tls_serialized_len(),
            Proposal::GroupContextExtensions(p) => p.tls_serialized_len(),
            Proposal::Unknown { body, .. } => body.tls_serialized_len(),
        }
    }
}

impl Serialize for Proposal {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let ty = self.proposal_type();
        if matches!(self, Proposal::Unknown { .. }) && ty.is_default() {
            return Err(Error::EncodingError(
                "Proposal::Unknown with an RFC 9420 proposal type".into(),
            ));
        }
        let n = ty.tls_serialize(writer)?;
        Ok(n + match self {
            Proposal::Add(p) => p.tls_serialize(writer)?,
            Proposal::Update(p) => p.tls_serialize(writer)?,
            Proposal::Remove(p) => p.tls_serialize(writer)?,
            Proposal::PreSharedKey(p) => p.tls_serialize(writer)?,
            Proposal::ReInit(p) => p.tls_serialize(writer)?,
            Proposal::ExternalInit(p) => p.tls_serialize(writer)?,
            Proposal::GroupContextExtensions(p) => p.tls_serialize(writer)?,
            Proposal::Unknown { body, .. } => body.tls_serialize(writer)?,
        })
    }
}

fn body<T: DeserializeBytes>(
    bytes: &[u8],
    wrap: impl FnOnce(T) -> Proposal,
) -> Result<(Proposal, &[u8]), Error> {
    let (p, rest) = T::tls_deserialize_bytes(bytes)?;
    Ok((wrap(p), rest))
}

impl DeserializeBytes for Proposal {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (proposal_type, rest) = ProposalType::tls_deserialize_bytes(bytes)?;
        match proposal_type {
            ProposalType::ADD => body(rest, Proposal::Add),
            ProposalType::UPDATE => body(rest, Proposal::Update),
            ProposalType::REMOVE => body(rest, Proposal::Remove),
            ProposalType::PSK => body(rest, Proposal::PreSharedKey),
            ProposalType::REINIT => body(rest, Proposal::ReInit),
            ProposalType::EXTERNAL_INIT => body(rest, Proposal::ExternalInit),
            ProposalType::GROUP_CONTEXT_EXTENSIONS => body(rest, Proposal::GroupContextExtensions),
            _ => body(rest, |body| Proposal::Unknown {
                proposal_type,
                body,
            }),
        }
    }
}

/// `ProposalRef` (RFC 9420 §5.2): `RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)`,
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
pub struct ProposalRef(pub VarBytes);
