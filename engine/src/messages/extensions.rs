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

/// The objects that carry a list of extensions: the "Message(s)" of RFC 9420 §17.3's
/// extension-type registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionContainer {
    /// `KeyPackage.extensions` ("KP").
    KeyPackage,
    /// `LeafNode.extensions` ("LN").
    LeafNode,
    /// `GroupContext.extensions`, and so a GroupContextExtensions proposal's ("GC").
    GroupContext,
    /// `GroupInfo.extensions` ("GI").
    GroupInfo,
}

impl ExtensionType {
    /// Whether RFC 9420 §17.3 registers this type for `container`. RFC 9420's own five types
    /// are allowed only where the registry lists them (`application_id` in a LeafNode;
    /// `ratchet_tree` and `external_pub` in a GroupInfo; `required_capabilities` and
    /// `external_senders` in the GroupContext). `last_resort` (10, as both peers deploy it) is
    /// allowed in a KeyPackage only. Every other type, GREASE included (§13.5 forbids special
    /// rules for it), is allowed anywhere here and left to the capability checks.
    pub fn allowed_in(self, container: ExtensionContainer) -> bool {
        use ExtensionContainer as C;
        match self {
            ExtensionType::APPLICATION_ID => container == C::LeafNode,
            ExtensionType::RATCHET_TREE | ExtensionType::EXTERNAL_PUB => container == C::GroupInfo,
            ExtensionType::REQUIRED_CAPABILITIES | ExtensionType::EXTERNAL_SENDERS => {
                container == C::GroupContext
            }
            ExtensionType::LAST_RESORT => container == C::KeyPackage,
            _ => true,
        }
    }
}

/// The first extension of a list (its types and contents, in order) that may not appear in
/// `container` ([`ExtensionType::allowed_in`]), or that is an `application_id` or
/// `external_pub` whose content does not decode as its type, or a `last_resort` that is not
/// empty (the engine reads the other RFC types' contents where it uses them, and refuses them
/// there). A list that passes is one OpenMLS, which decodes every RFC type where it appears
/// and checks the registry, accepts too.
pub fn first_misplaced_extension<'a>(
    extensions: impl IntoIterator<Item = (ExtensionType, &'a [u8])>,
    container: ExtensionContainer,
) -> Option<ExtensionType> {
    extensions
        .into_iter()
        .find(|&(t, data)| {
            !t.allowed_in(container)
                || (t == ExtensionType::APPLICATION_ID
                    && decode_exact::<ApplicationId>(data).is_err())
                || (t == ExtensionType::EXTERNAL_PUB && decode_exact::<ExternalPub>(data).is_err())
                || (t == ExtensionType::LAST_RESORT && !data.is_empty())
        })
        .map(|(t, _)| t)
}

/// [`first_misplaced_extension`] for a list of [`Extension`]s.
pub fn first_misplaced_in(
    extensions: &[Extension],
    container: ExtensionContainer,
) -> Option<ExtensionType> {
    first_misplaced_extension(
        extensions
            .iter()
            .map(|e| (e.extension_type, e.extension_data.as_slice())),
        container,
    )
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
    fn rfc_types_are_allowed_only_where_the_registry_lists_them() {
        use ExtensionContainer as C;
        let all = [C::KeyPackage, C::LeafNode, C::GroupContext, C::GroupInfo];
        let allowed = |t: u16| -> Vec<C> {
            all.into_iter()
                .filter(|c| ExtensionType(t).allowed_in(*c))
                .collect()
        };
        assert_eq!(allowed(1), [C::LeafNode]);
        assert_eq!(allowed(2), [C::GroupInfo]);
        assert_eq!(allowed(3), [C::GroupContext]);
        assert_eq!(allowed(4), [C::GroupInfo]);
        assert_eq!(allowed(5), [C::GroupContext]);
        assert_eq!(allowed(10), [C::KeyPackage]);
        // Reserved, GREASE, later documents' and private types: no rule here.
        for t in [0, 6, 9, 11, 0x0a0a, 0xfafa, 0xff00] {
            assert_eq!(allowed(t), all, "{t:#06x}");
        }
    }

    #[test]
    fn misplaced_or_unreadable_extensions_are_found_first_in_order() {
        let e = |t: u16, data: &[u8]| Extension {
            extension_type: ExtensionType(t),
            extension_data: VarBytes(data.to_vec()),
        };
        let gi = ExtensionContainer::GroupInfo;
        let pub32 = [&[32u8][..], &[7; 32]].concat();
        assert_eq!(
            first_misplaced_in(&[e(0xff00, b"x"), e(4, &pub32)], gi),
            None
        );
        // external_pub whose key does not fill its length, or is followed by more bytes.
        assert_eq!(
            first_misplaced_in(&[e(4, &pub32[..20])], gi),
            Some(ExtensionType(4))
        );
        assert_eq!(
            first_misplaced_in(&[e(4, &[&pub32[..], &[0]].concat())], gi),
            Some(ExtensionType(4))
        );
        // The first offender in list order.
        assert_eq!(
            first_misplaced_in(&[e(0xff00, b""), e(3, b"\0\0\0"), e(1, b"\0")], gi),
            Some(ExtensionType(3))
        );
        // last_resort: empty, in a KeyPackage.
        let kp = ExtensionContainer::KeyPackage;
        assert_eq!(first_misplaced_in(&[e(10, b"")], kp), None);
        assert_eq!(
            first_misplaced_in(&[e(10, b"\0")], kp),
            Some(ExtensionType(10))
        );
        let ln = ExtensionContainer::LeafNode;
        assert_eq!(first_misplaced_in(&[e(1, b"\x02ab")], ln), None);
        assert_eq!(
            first_misplaced_in(&[e(1, b"\x03ab")], ln),
            Some(ExtensionType(1))
        );
    }

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
