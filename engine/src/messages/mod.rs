//! RFC 9420 wire structs: every message, key package, tree, proposal and extension type that
//! crosses the wire, with their TLS presentation-language encoding (§2.1).
//!
//! This module owns the byte layout of MLS data, nothing else: it does no cryptography and no
//! semantic validation beyond what the encoding itself fixes (variant selectors, the MLS 1.0
//! version of an [`MlsMessage`], zero padding of a [`PrivateMessageContent`], the presence of
//! conditional fields such as `membership_tag` and `confirmation_tag`).
//!
//! Conventions:
//! - Code points ([`ProtocolVersion`], [`WireFormat`], [`ContentType`], [`SenderType`],
//!   [`ExtensionType`], [`ProposalType`], [`CredentialType`]) are open newtypes over the wire
//!   integer with named constants, so GREASE and unknown values survive a round trip.
//! - Where a code point selects a variant (`select (...)` in the RFC), an unknown value is a
//!   decode error ([`tls_codec::Error::UnknownValue`]), except for proposals and credentials,
//!   whose unknown types are kept as opaque `<V>` bodies ([`Proposal::Unknown`],
//!   [`Credential::Unknown`]).
//! - Vectors are [`VarBytes`](crate::codec::VarBytes) and [`VarVec`](crate::codec::VarVec);
//!   `Option<T>` is only used with its tls_codec encoding for the RFC's `optional<T>`. Where a
//!   field is present or absent depending on another field (e.g. `confirmation_tag`), the
//!   struct has a hand-written codec that checks the pairing on encode and decode.
//! - Anything decoded from outside goes through [`crate::codec::decode_exact`] (trailing bytes
//!   are an error); the [`MlsMessage::from_bytes`]-style helpers do that.
//!
//! Decoding never panics and never allocates more than the input justifies.

#[macro_use]
mod macros;

pub mod codepoints;
pub mod commit;
pub mod credential;
pub mod extensions;
pub mod framing;
pub mod group_context;
pub mod group_info;
pub mod key_package;
pub mod leaf_node;
pub mod proposal;
pub mod psk;
pub mod ratchet_tree;
pub mod welcome;

pub use codepoints::{
    ContentType, CredentialType, ExtensionType, ProposalType, ProtocolVersion, SenderType,
    WireFormat,
};
pub use commit::{Commit, EncryptedPathSecrets, ProposalOrRef, UpdatePath, UpdatePathNode};
pub use credential::{Certificate, Credential};
pub use extensions::{
    first_misplaced_extension, first_misplaced_in, repeated_extension_type, ApplicationId,
    Extension, ExtensionContainer, ExtensionValue, ExternalPub, ExternalSender, ExternalSenders,
    RequiredCapabilities,
};
pub use framing::{
    AuthenticatedContent, AuthenticatedContentTbm, ConfirmedTranscriptHashInput, FramedContent,
    FramedContentAuthData, FramedContentBody, FramedContentTbs, InterimTranscriptHashInput, Mac,
    MlsMessage, MlsMessageBody, PrivateContentAad, PrivateMessage, PrivateMessageContent,
    PublicMessage, Sender, SenderData, SenderDataAad,
};
pub use group_context::GroupContext;
pub use group_info::{GroupInfo, GroupInfoTbs};
pub use key_package::{KeyPackage, KeyPackageRef, KeyPackageTbs};
pub use leaf_node::{
    Capabilities, CapabilitiesRef, CodeList, ExtensionRef, ExtensionsRef, LeafNode, LeafNodeSource,
    LeafNodeTbs, Lifetime, TreePosition,
};
pub use proposal::{
    Add, ExternalInit, GroupContextExtensions, PreSharedKey, Proposal, ProposalRef, ReInit, Remove,
    Update,
};
pub use psk::{
    ExternalPsk, PreSharedKeyId, Psk, PskLabel, PskType, ResumptionPsk, ResumptionPskUsage,
};
pub use ratchet_tree::{
    LeafNodeHashInput, Node, ParentHashInput, ParentNode, ParentNodeHashInput, RatchetTree,
    TreeHashInput,
};
pub use welcome::{EncryptedGroupSecrets, GroupSecrets, PathSecret, Welcome, WelcomeMessage};

#[cfg(test)]
mod tests;
