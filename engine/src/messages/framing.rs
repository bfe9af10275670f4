//! Message framing (RFC 9420 §6): `MLSMessage` and its five wire formats' envelope,
//! `FramedContent`, `Sender`, the auth data and TBS/TBM structs, `PublicMessage`,
//! `PrivateMessage`, `PrivateMessageContent`, sender data and the transcript-hash inputs.

use std::io::Write;

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::{ContentType, ProtocolVersion, SenderType, WireFormat};
use super::commit::Commit;
use super::group_context::GroupContext;
use super::group_info::GroupInfo;
use super::key_package::KeyPackage;
use super::proposal::Proposal;
use super::welcome::Welcome;
use crate::codec::VarBytes;

/// `MAC` (RFC 9420 §6.1): `opaque MAC<V>`, used for confirmation and membership tags.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Mac(pub VarBytes);

/// `Sender` (RFC 9420 §6): a u8 `SenderType` then its content; an unknown sender type is a
/// decode error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sender {
    /// `member`: the sender's leaf index.
    Member(u32),
    /// `external`: index into the group's `external_senders` extension.
    External(u32),
    /// `new_member_proposal`: a would-be member proposing its own Add.
    NewMemberProposal,
    /// `new_member_commit`: a joiner by external commit.
    NewMemberCommit,
}

impl Sender {
    /// The sender type on the wire.
    pub fn sender_type(&self) -> SenderType {
        match self {
            Sender::Member(_) => SenderType::MEMBER,
            Sender::External(_) => SenderType::EXTERNAL,
            Sender::NewMemberProposal => SenderType::NEW_MEMBER_PROPOSAL,
            Sender::NewMemberCommit => SenderType::NEW_MEMBER_COMMIT,
        }
    }
}

impl Size for Sender {
    fn tls_serialized_len(&self) -> usize {
        match self {
            Sender::Member(_) | Sender::External(_) => 5,
            Sender::NewMemberProposal | Sender::NewMemberCommit => 1,
        }
    }
}

impl Serialize for Sender {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let n = self.sender_type().tls_serialize(writer)?;
        Ok(n + match self {
            Sender::Member(i) | Sender::External(i) => i.tls_serialize(writer)?,
            Sender::NewMemberProposal | Sender::NewMemberCommit => 0,
        })
    }
}

impl DeserializeBytes for Sender {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (ty, rest) = SenderType::tls_deserialize_bytes(bytes)?;
        match ty {
            SenderType::MEMBER => {
                let (i, rest) = u32::tls_deserialize_bytes(rest)?;
                Ok((Sender::Member(i), rest))
            }
            SenderType::EXTERNAL => {
                let (i, rest) = u32::tls_deserialize_bytes(rest)?;
                Ok((Sender::External(i), rest))
            }
            SenderType::NEW_MEMBER_PROPOSAL => Ok((Sender::NewMemberProposal, rest)),
            SenderType::NEW_MEMBER_COMMIT => Ok((Sender::NewMemberCommit, rest)),
            other => Err(Error::UnknownValue(u64::from(other.0))),
        }
    }
}

tagged_union! {
    /// `content_type` and the selected content of a `FramedContent` (RFC 9420 §6): a u8,
    /// `application(1)`, `proposal(2)` or `commit(3)`; anything else is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum FramedContentBody: u8 {
        /// `application_data<V>`.
        Application(VarBytes) = 1,
        /// A proposal.
        Proposal(Proposal) = 2,
        /// A commit.
        Commit(Commit) = 3,
    }
}

impl FramedContentBody {
    /// The content type.
    pub fn content_type(&self) -> ContentType {
        ContentType(self.tag())
    }

    fn payload_len(&self) -> usize {
        match self {
            FramedContentBody::Application(b) => b.tls_serialized_len(),
            FramedContentBody::Proposal(p) => p.tls_serialized_len(),
            FramedContentBody::Commit(c) => c.tls_serialized_len(),
        }
    }

    /// Encodes the content without its content type (as in `PrivateMessageContent`, §6.3.1).
    fn serialize_payload<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        match self {
            FramedContentBody::Application(b) => b.tls_serialize(writer),
            FramedContentBody::Proposal(p) => p.tls_serialize(writer),
            FramedContentBody::Commit(c) => c.tls_serialize(writer),
        }
    }

    /// Decodes content of a known type whose tag is not on the wire (§6.3.1).
    fn decode_payload(content_type: ContentType, bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        match content_type {
            ContentType::APPLICATION => {
                let (b, rest) = VarBytes::tls_deserialize_bytes(bytes)?;
                Ok((FramedContentBody::Application(b), rest))
            }
            ContentType::PROPOSAL => {
                let (p, rest) = Proposal::tls_deserialize_bytes(bytes)?;
                Ok((FramedContentBody::Proposal(p), rest))
            }
            ContentType::COMMIT => {
                let (c, rest) = Commit::tls_deserialize_bytes(bytes)?;
                Ok((FramedContentBody::Commit(c), rest))
            }
            other => Err(Error::UnknownValue(u64::from(other.0))),
        }
    }
}

/// `FramedContent` (RFC 9420 §6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct FramedContent {
    /// The group's id.
    pub group_id: VarBytes,
    /// The epoch.
    pub epoch: u64,
    /// Who sent it.
    pub sender: Sender,
    /// Application-supplied authenticated data.
    pub authenticated_data: VarBytes,
    /// The content with its content type.
    pub body: FramedContentBody,
}

impl FramedContent {
    /// The content type.
    pub fn content_type(&self) -> ContentType {
        self.body.content_type()
    }
}

/// `FramedContentAuthData` (RFC 9420 §6.1): the signature, and the `confirmation_tag` iff the
/// content is a commit. Its layout depends on the content type, so it has no standalone
/// decoder: use [`FramedContentAuthData::decode`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FramedContentAuthData {
    /// `SignWithLabel(., "FramedContentTBS", FramedContentTBS)`.
    pub signature: VarBytes,
    /// Present iff the content type is `commit` (not an `optional<T>`: no presence byte).
    pub confirmation_tag: Option<Mac>,
}

impl FramedContentAuthData {
    /// Decodes the auth data of content of type `content_type` (§6.1).
    pub fn decode(content_type: ContentType, bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (signature, rest) = VarBytes::tls_deserialize_bytes(bytes)?;
        match content_type {
            ContentType::COMMIT => {
                let (tag, rest) = Mac::tls_deserialize_bytes(rest)?;
                Ok((
                    Self {
                        signature,
                        confirmation_tag: Some(tag),
                    },
                    rest,
                ))
            }
            ContentType::APPLICATION | ContentType::PROPOSAL => Ok((
                Self {
                    signature,
                    confirmation_tag: None,
                },
                rest,
            )),
            other => Err(Error::UnknownValue(u64::from(other.0))),
        }
    }

    /// Errors unless `confirmation_tag` is present exactly for commits (§6.1).
    pub fn check(&self, content_type: ContentType) -> Result<(), Error> {
        if self.confirmation_tag.is_some() != (content_type == ContentType::COMMIT) {
            return Err(Error::EncodingError(
                "confirmation_tag must be present iff the content is a commit".into(),
            ));
        }
        Ok(())
    }
}

impl Size for FramedContentAuthData {
    fn tls_serialized_len(&self) -> usize {
        self.signature.tls_serialized_len()
            + self
                .confirmation_tag
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for FramedContentAuthData {
    /// Writes the signature and, if present, the confirmation tag. Containers check the tag's
    /// presence against the content type first.
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let mut n = self.signature.tls_serialize(writer)?;
        if let Some(tag) = &self.confirmation_tag {
            n += tag.tls_serialize(writer)?;
        }
        Ok(n)
    }
}

/// `AuthenticatedContent` (RFC 9420 §6.1).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthenticatedContent {
    /// The wire format the content travels in.
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// Its signature and confirmation tag.
    pub auth: FramedContentAuthData,
}

top_level!(AuthenticatedContent);

impl Size for AuthenticatedContent {
    fn tls_serialized_len(&self) -> usize {
        self.wire_format.tls_serialized_len()
            + self.content.tls_serialized_len()
            + self.auth.tls_serialized_len()
    }
}

impl Serialize for AuthenticatedContent {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        self.auth.check(self.content.content_type())?;
        Ok(self.wire_format.tls_serialize(writer)?
            + self.content.tls_serialize(writer)?
            + self.auth.tls_serialize(writer)?)
    }
}

impl DeserializeBytes for AuthenticatedContent {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (wire_format, rest) = WireFormat::tls_deserialize_bytes(bytes)?;
        let (content, rest) = FramedContent::tls_deserialize_bytes(rest)?;
        let (auth, rest) = FramedContentAuthData::decode(content.content_type(), rest)?;
        Ok((
            Self {
                wire_format,
                content,
                auth,
            },
            rest,
        ))
    }
}

/// `FramedContentTBS` (RFC 9420 §6.1): what a FramedContent's signature covers. `context` is
/// present iff the sender is `member` or `new_member_commit`; encoding and decoding enforce
/// that.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FramedContentTbs {
    /// Protocol version (`mls10`).
    pub version: ProtocolVersion,
    /// The wire format.
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// The sender's GroupContext, for member and new-member-commit senders.
    pub context: Option<GroupContext>,
}

fn context_expected(sender: &Sender) -> bool {
    matches!(sender, Sender::Member(_) | Sender::NewMemberCommit)
}

impl Size for FramedContentTbs {
    fn tls_serialized_len(&self) -> usize {
        self.version.tls_serialized_len()
            + self.wire_format.tls_serialized_len()
            + self.content.tls_serialized_len()
            + self.context.as_ref().map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for FramedContentTbs {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        if context_expected(&self.content.sender) != self.context.is_some() {
            return Err(Error::EncodingError(
                "FramedContentTBS: GroupContext present iff sender is member or new_member_commit"
                    .into(),
            ));
        }
        let mut n = self.version.tls_serialize(writer)?;
        n += self.wire_format.tls_serialize(writer)?;
        n += self.content.tls_serialize(writer)?;
        if let Some(c) = &self.context {
            n += c.tls_serialize(writer)?;
        }
        Ok(n)
    }
}

impl DeserializeBytes for FramedContentTbs {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (version, rest) = ProtocolVersion::tls_deserialize_bytes(bytes)?;
        let (wire_format, rest) = WireFormat::tls_deserialize_bytes(rest)?;
        let (content, mut rest) = FramedContent::tls_deserialize_bytes(rest)?;
        let mut context = None;
        if context_expected(&content.sender) {
            let (c, after) = GroupContext::tls_deserialize_bytes(rest)?;
            context = Some(c);
            rest = after;
        }
        Ok((
            Self {
                version,
                wire_format,
                content,
                context,
            },
            rest,
        ))
    }
}

/// `AuthenticatedContentTBM` (RFC 9420 §6.2): what a PublicMessage's membership tag covers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthenticatedContentTbm {
    /// The signed content.
    pub content_tbs: FramedContentTbs,
    /// Its auth data.
    pub auth: FramedContentAuthData,
}

impl Size for AuthenticatedContentTbm {
    fn tls_serialized_len(&self) -> usize {
        self.content_tbs.tls_serialized_len() + self.auth.tls_serialized_len()
    }
}

impl Serialize for AuthenticatedContentTbm {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        self.auth.check(self.content_tbs.content.content_type())?;
        Ok(self.content_tbs.tls_serialize(writer)? + self.auth.tls_serialize(writer)?)
    }
}

impl DeserializeBytes for AuthenticatedContentTbm {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (content_tbs, rest) = FramedContentTbs::tls_deserialize_bytes(bytes)?;
        let (auth, rest) = FramedContentAuthData::decode(content_tbs.content.content_type(), rest)?;
        Ok((Self { content_tbs, auth }, rest))
    }
}

/// `PublicMessage` (RFC 9420 §6.2). `membership_tag` is present iff the sender is a member;
/// encoding and decoding enforce that.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublicMessage {
    /// The content.
    pub content: FramedContent,
    /// Its signature and confirmation tag.
    pub auth: FramedContentAuthData,
    /// MAC over `AuthenticatedContentTBM` with the membership key, for member senders only
    /// (not an `optional<T>`: no presence byte).
    pub membership_tag: Option<Mac>,
}

top_level!(PublicMessage);

impl Size for PublicMessage {
    fn tls_serialized_len(&self) -> usize {
        self.content.tls_serialized_len()
            + self.auth.tls_serialized_len()
            + self
                .membership_tag
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for PublicMessage {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        self.auth.check(self.content.content_type())?;
        if matches!(self.content.sender, Sender::Member(_)) != self.membership_tag.is_some() {
            return Err(Error::EncodingError(
                "PublicMessage: membership_tag present iff the sender is a member".into(),
            ));
        }
        let mut n = self.content.tls_serialize(writer)?;
        n += self.auth.tls_serialize(writer)?;
        if let Some(tag) = &self.membership_tag {
            n += tag.tls_serialize(writer)?;
        }
        Ok(n)
    }
}

impl DeserializeBytes for PublicMessage {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (content, rest) = FramedContent::tls_deserialize_bytes(bytes)?;
        let (auth, mut rest) = FramedContentAuthData::decode(content.content_type(), rest)?;
        let mut membership_tag = None;
        if matches!(content.sender, Sender::Member(_)) {
            let (tag, after) = Mac::tls_deserialize_bytes(rest)?;
            membership_tag = Some(tag);
            rest = after;
        }
        Ok((
            Self {
                content,
                auth,
                membership_tag,
            },
            rest,
        ))
    }
}

fn check_content_type(content_type: ContentType) -> Result<(), Error> {
    match content_type {
        ContentType::APPLICATION | ContentType::PROPOSAL | ContentType::COMMIT => Ok(()),
        other => Err(Error::UnknownValue(u64::from(other.0))),
    }
}

/// `PrivateMessage` (RFC 9420 §6.3). `content_type` selects the layout of the encrypted
/// [`PrivateMessageContent`], so an unknown content type is a decode error.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrivateMessage {
    /// The group's id.
    pub group_id: VarBytes,
    /// The epoch.
    pub epoch: u64,
    /// The content type of the encrypted content.
    pub content_type: ContentType,
    /// Application-supplied authenticated data.
    pub authenticated_data: VarBytes,
    /// The encrypted `SenderData`.
    pub encrypted_sender_data: VarBytes,
    /// The encrypted `PrivateMessageContent`.
    pub ciphertext: VarBytes,
}

top_level!(PrivateMessage);

impl Size for PrivateMessage {
    fn tls_serialized_len(&self) -> usize {
        self.group_id.tls_serialized_len()
            + 8
            + 1
            + self.authenticated_data.tls_serialized_len()
            + self.encrypted_sender_data.tls_serialized_len()
            + self.ciphertext.tls_serialized_len()
    }
}

impl Serialize for PrivateMessage {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        check_content_type(self.content_type)?;
        Ok(self.group_id.tls_serialize(writer)?
            + self.epoch.tls_serialize(writer)?
            + self.content_type.tls_serialize(writer)?
            + self.authenticated_data.tls_serialize(writer)?
            + self.encrypted_sender_data.tls_serialize(writer)?
            + self.ciphertext.tls_serialize(writer)?)
    }
}

impl DeserializeBytes for PrivateMessage {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (group_id, rest) = VarBytes::tls_deserialize_bytes(bytes)?;
        let (epoch, rest) = u64::tls_deserialize_bytes(rest)?;
        let (content_type, rest) = ContentType::tls_deserialize_bytes(rest)?;
        check_content_type(content_type)?;
        let (authenticated_data, rest) = VarBytes::tls_deserialize_bytes(rest)?;
        let (encrypted_sender_data, rest) = VarBytes::tls_deserialize_bytes(rest)?;
        let (ciphertext, rest) = VarBytes::tls_deserialize_bytes(rest)?;
        Ok((
            Self {
                group_id,
                epoch,
                content_type,
                authenticated_data,
                encrypted_sender_data,
                ciphertext,
            },
            rest,
        ))
    }
}

/// `PrivateMessageContent` (RFC 9420 §6.3.1): the plaintext of a PrivateMessage's ciphertext.
/// The content type is not on the wire (it is in the PrivateMessage), and the padding runs to
/// the end of the plaintext, so decoding takes the content type and the whole plaintext:
/// [`PrivateMessageContent::decode`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrivateMessageContent {
    /// The content (its type is the PrivateMessage's `content_type`).
    pub content: FramedContentBody,
    /// Its signature and confirmation tag.
    pub auth: FramedContentAuthData,
    /// Number of zero padding bytes after the auth data.
    pub padding_len: usize,
}

impl PrivateMessageContent {
    /// Decodes a complete plaintext of content type `content_type`. The padding (every byte
    /// after the auth data) must be all zero (§6.3.1), else this is an error.
    pub fn decode(content_type: ContentType, bytes: &[u8]) -> Result<Self, Error> {
        let (content, rest) = FramedContentBody::decode_payload(content_type, bytes)?;
        let (auth, padding) = FramedContentAuthData::decode(content_type, rest)?;
        if padding.iter().any(|b| *b != 0) {
            return Err(Error::DecodingError(
                "PrivateMessageContent padding is not all zero (RFC 9420 §6.3.1)".into(),
            ));
        }
        Ok(Self {
            content,
            auth,
            padding_len: padding.len(),
        })
    }

    /// Encodes the plaintext, padding included.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        crate::codec::encode(self)
    }
}

impl Size for PrivateMessageContent {
    fn tls_serialized_len(&self) -> usize {
        self.content.payload_len() + self.auth.tls_serialized_len() + self.padding_len
    }
}

impl Serialize for PrivateMessageContent {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        self.auth.check(self.content.content_type())?;
        let mut n = self.content.serialize_payload(writer)?;
        n += self.auth.tls_serialize(writer)?;
        let zeros = [0u8; 256];
        let mut left = self.padding_len;
        while left > 0 {
            let chunk = left.min(zeros.len());
            writer
                .write_all(&zeros[..chunk])
                .map_err(|e| Error::EncodingError(e.to_string()))?;
            left -= chunk;
        }
        Ok(n + self.padding_len)
    }
}

/// `PrivateContentAAD` (RFC 9420 §6.3.1): the AEAD associated data of a PrivateMessage.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct PrivateContentAad {
    /// The group's id.
    pub group_id: VarBytes,
    /// The epoch.
    pub epoch: u64,
    /// The content type.
    pub content_type: ContentType,
    /// Application-supplied authenticated data.
    pub authenticated_data: VarBytes,
}

/// `SenderData` (RFC 9420 §6.3.2): the encrypted sender identification of a PrivateMessage.
#[derive(Clone, Copy, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct SenderData {
    /// The sender's leaf index.
    pub leaf_index: u32,
    /// The generation of the ratchet key used.
    pub generation: u32,
    /// XORed into the first 4 bytes of the content nonce.
    pub reuse_guard: [u8; 4],
}

top_level!(SenderData);

/// `SenderDataAAD` (RFC 9420 §6.3.2): the AEAD associated data of the sender data.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct SenderDataAad {
    /// The group's id.
    pub group_id: VarBytes,
    /// The epoch.
    pub epoch: u64,
    /// The content type.
    pub content_type: ContentType,
}

/// `ConfirmedTranscriptHashInput` (RFC 9420 §8.2); `content` is a commit.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ConfirmedTranscriptHashInput {
    /// The wire format the commit travelled in.
    pub wire_format: WireFormat,
    /// The commit's content.
    pub content: FramedContent,
    /// The commit's signature.
    pub signature: VarBytes,
}

/// `InterimTranscriptHashInput` (RFC 9420 §8.2).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct InterimTranscriptHashInput {
    /// The commit's confirmation tag.
    pub confirmation_tag: Mac,
}

tagged_union! {
    /// `wire_format` and the selected body of an `MLSMessage` (RFC 9420 §6): a u16, 1 to 5;
    /// anything else is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum MlsMessageBody: u16 {
        /// `mls_public_message` (1).
        PublicMessage(PublicMessage) = 1,
        /// `mls_private_message` (2).
        PrivateMessage(PrivateMessage) = 2,
        /// `mls_welcome` (3).
        Welcome(Welcome) = 3,
        /// `mls_group_info` (4).
        GroupInfo(GroupInfo) = 4,
        /// `mls_key_package` (5).
        KeyPackage(KeyPackage) = 5,
    }
}

impl MlsMessageBody {
    /// The wire format.
    pub fn wire_format(&self) -> WireFormat {
        WireFormat(self.tag())
    }
}

/// `MLSMessage` (RFC 9420 §6): the version, then the wire format and its body. Only MLS 1.0
/// is accepted: any other version is an error on decode and on encode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MlsMessage {
    /// The body, with its wire format.
    pub body: MlsMessageBody,
}

top_level!(MlsMessage);

impl MlsMessage {
    /// Wraps a body as an MLS 1.0 message.
    pub fn new(body: MlsMessageBody) -> Self {
        Self { body }
    }

    /// The protocol version (always `mls10`).
    pub fn version(&self) -> ProtocolVersion {
        ProtocolVersion::MLS10
    }

    /// The wire format.
    pub fn wire_format(&self) -> WireFormat {
        self.body.wire_format()
    }
}

impl Size for MlsMessage {
    fn tls_serialized_len(&self) -> usize {
        2 + self.body.tls_serialized_len()
    }
}

impl Serialize for MlsMessage {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        Ok(ProtocolVersion::MLS10.tls_serialize(writer)? + self.body.tls_serialize(writer)?)
    }
}

impl DeserializeBytes for MlsMessage {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (version, rest) = ProtocolVersion::tls_deserialize_bytes(bytes)?;
        if version != ProtocolVersion::MLS10 {
            // RFC 9420 §6: this implementation speaks MLS 1.0 only.
            return Err(Error::DecodingError(format!(
                "unsupported protocol version {}",
                version.0
            )));
        }
        let (body, rest) = MlsMessageBody::tls_deserialize_bytes(rest)?;
        Ok((Self { body }, rest))
    }
}
