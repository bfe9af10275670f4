//! Extensions (RFC 9420 §13): the generic `Extension` and the typed contents of the five RFC
//! extensions (`application_id`, `ratchet_tree`, `required_capabilities`, `external_pub`,
//! `external_senders`), with [`ExtensionValue`] to build and parse them.

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::{CredentialType, ExtensionType, ProposalType};
use super::credential::Credential;
use super::ratchet_tree::RatchetTree;
use crate::codec::{decode_exact, encode, VarBytes, VarVec};
use crate::crypto::{HpkePublicKey, SignaturePublicKey};

/// `Extension` (RFC 9420 §13): a type and its opaque `extension_data<V>`. Unknown (and GREASE)
/// types are kept as they are.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Extension {
    /// The extension type.
    pub extension_type: ExtensionType,
    /// The encoded extension content.
    pub extension_data: VarBytes,
}

/// The typed content of an extension with a fixed [`ExtensionType`].
pub trait ExtensionValue: Serialize + Size + DeserializeBytes + Sized {
    /// The extension type this content belongs to.
    const EXTENSION_TYPE: ExtensionType;
}

impl Extension {
    /// Builds an extension from its typed content.
    pub fn from_value<T: ExtensionValue>(value: &T) -> Result<Self, Error> {
        Ok(Self {
            extension_type: T::EXTENSION_TYPE,
            extension_data: VarBytes(encode(value)?),
        })
    }

    /// Parses the content as `T`; `None` when the type is not `T`'s. The content must use
    /// every byte of `extension_data`.
    pub fn parse<T: ExtensionValue>(&self) -> Option<Result<T, Error>> {
        (self.extension_type == T::EXTENSION_TYPE).then(|| decode_exact(&self.extension_data))
    }

    /// Finds the extension of `T`'s type in a list and parses it.
    pub fn find<T: ExtensionValue>(extensions: &[Extension]) -> Option<Result<T, Error>> {
        extensions.iter().find_map(Extension::parse::<T>)
    }
}

/// `application_id` (RFC 9420 §5.3.3): `opaque application_id<V>`.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ApplicationId(pub VarBytes);

impl ExtensionValue for ApplicationId {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::APPLICATION_ID;
}

impl ExtensionValue for RatchetTree {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::RATCHET_TREE;
}

/// `RequiredCapabilities` (RFC 9420 §11.1).
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct RequiredCapabilities {
    /// Extension types every member must support.
    pub extension_types: VarVec<ExtensionType>,
    /// Proposal types every member must support.
    pub proposal_types: VarVec<ProposalType>,
    /// Credential types every member must support.
    pub credential_types: VarVec<CredentialType>,
}

impl ExtensionValue for RequiredCapabilities {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::REQUIRED_CAPABILITIES;
}

/// `ExternalPub` (RFC 9420 §12.4.3.2): the group's external HPKE public key, in a GroupInfo.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ExternalPub {
    /// The public key derived from the epoch's `external_secret`.
    pub external_pub: HpkePublicKey,
}

impl ExtensionValue for ExternalPub {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::EXTERNAL_PUB;
}

/// `ExternalSender` (RFC 9420 §12.1.8.1): a party allowed to send proposals from outside.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ExternalSender {
    /// Its signature key.
    pub signature_key: SignaturePublicKey,
    /// Its credential.
    pub credential: Credential,
}

/// `ExternalSender external_senders<V>` (RFC 9420 §12.1.8.1), in the GroupContext.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ExternalSenders(pub VarVec<ExternalSender>);

impl ExtensionValue for ExternalSenders {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::EXTERNAL_SENDERS;
}
