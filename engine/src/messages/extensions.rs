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

/// The smallest extension type that occurs more than once in a list of extensions' types, if
/// any. RFC 9420 §13: "Any field containing a list of extensions MUST NOT have more than one
/// extension of any given type." O(k log k) for k extensions (a hostile list may be long), no
/// allocation for fewer than two.
pub fn repeated_extension_type(
    types: impl IntoIterator<Item = ExtensionType>,
) -> Option<ExtensionType> {
    let mut types = types.into_iter();
    let first = types.next()?;
    let second = types.next()?;
    let mut all: Vec<u16> = [first.0, second.0]
        .into_iter()
        .chain(types.map(|t| t.0))
        .collect();
    all.sort_unstable();
    all.windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| ExtensionType(w[0]))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_extension_types_are_found() {
        let ty = |v: &[u16]| v.iter().map(|&t| ExtensionType(t)).collect::<Vec<_>>();
        assert_eq!(repeated_extension_type(ty(&[])), None);
        assert_eq!(repeated_extension_type(ty(&[7])), None);
        assert_eq!(repeated_extension_type(ty(&[7, 7])), Some(ExtensionType(7)));
        assert_eq!(repeated_extension_type(ty(&[1, 2, 3, 0xff00])), None);
        // The smallest repeated type, wherever the repeats are.
        assert_eq!(
            repeated_extension_type(ty(&[9, 4, 2, 9, 4])),
            Some(ExtensionType(4))
        );
        let long: Vec<u16> = (0..5_000).chain([4_999]).collect();
        assert_eq!(
            repeated_extension_type(ty(&long)),
            Some(ExtensionType(4_999))
        );
    }
}
