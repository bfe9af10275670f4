//! Message protection (RFC 9420 §6): signing and verifying `FramedContent`, PublicMessage
//! protect/unprotect with the membership tag (§6.2), PrivateMessage protect/unprotect with sender
//! data, the secret-tree content key, the reuse guard and padding (§6.3), and the content rules
//! that say which sender may send what in which wire format.
//!
//! # What this module owns
//!
//! - The signature over `FramedContentTBS` (`SignWithLabel(., "FramedContentTBS", .)`, §6.1),
//!   whose GroupContext is included for `member` and `new_member_commit` senders.
//! - The membership tag (`MAC(membership_key, AuthenticatedContentTBM)`, §6.2), for member
//!   senders of PublicMessages, checked in constant time.
//! - The PrivateMessage encryption (§6.3): content under the sender's ratchet key with
//!   `reuse_guard` XORed into the nonce, sender data under a key sampled from the ciphertext.
//!
//! # Invariants
//!
//! - **Unprotect has no side effect on failure.** Every check (group id, epoch, content rules,
//!   sender data, AEAD, padding, signature) runs against a *peeked* ratchet key; the key is
//!   consumed from the [`SecretTree`] only when all of them passed. A forged, replayed or
//!   corrupted message leaves the tree exactly as it was.
//! - Application data is only ever protected or accepted as a PrivateMessage (§6.2).
//! - The padding of a received PrivateMessageContent must be all zero (§6.3.1).
//! - Every failure is a distinct [`ProtectionError`] variant.

use tls_codec::DeserializeBytes;

use crate::codec::{decode_exact, encode, VarBytes};
use crate::crypto::labels::{expand_with_label, SignContentBuf};
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret, SignaturePublicKey};
use crate::messages::{
    AuthenticatedContent, Commit, ContentType, FramedContent, FramedContentAuthData,
    FramedContentBody, GroupContext, Mac, PrivateContentAad, PrivateMessage, PrivateMessageContent,
    Proposal, ProtocolVersion, PublicMessage, Sender, SenderData, SenderDataAad, WireFormat,
};
use crate::secret_tree::{RatchetKind, SecretTree, SecretTreeError};
use crate::tree_math::LeafIndex;

/// Why protecting or unprotecting a message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtectionError {
    /// The message is for another group.
    #[error("message is for another group")]
    WrongGroupId,
    /// The message is for another epoch.
    #[error("message is for epoch {got}, the group is at epoch {expected}")]
    WrongEpoch {
        /// The group's epoch.
        expected: u64,
        /// The message's epoch.
        got: u64,
    },
    /// Application data in a PublicMessage (§6.2: application data is PrivateMessage only).
    #[error("application data must be sent as a PrivateMessage")]
    ApplicationDataInPublicMessage,
    /// This sender type may not send this content in this wire format (§6).
    #[error("sender type {sender_type} may not send content type {content_type} as {wire_format}")]
    SenderNotAllowed {
        /// The sender type.
        sender_type: u8,
        /// The content type.
        content_type: u8,
        /// The wire format.
        wire_format: u16,
    },
    /// A commit without a confirmation tag, or another content type with one (§6.1).
    #[error("confirmation tag must be present exactly for commits")]
    ConfirmationTagMismatch,
    /// A member's PublicMessage has no membership tag, or a non-member's has one (§6.2).
    #[error("membership tag must be present exactly for member senders")]
    MembershipTagPresence,
    /// The membership tag does not verify (§6.2).
    #[error("membership tag does not verify")]
    BadMembershipTag,
    /// No signature key is known for the sender.
    #[error("unknown sender")]
    UnknownSender,
    /// The signature over FramedContentTBS does not verify (§6.1).
    #[error("signature does not verify")]
    BadSignature,
    /// A ciphertext is too short to hold even an AEAD tag.
    #[error("{what} truncated: {len} bytes")]
    TruncatedCiphertext {
        /// Which ciphertext.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The sender data did not decrypt (forged or corrupted, §6.3.2).
    #[error("sender data does not decrypt")]
    SenderDataUndecryptable,
    /// The decrypted sender data is not a SenderData.
    #[error("malformed sender data")]
    MalformedSenderData,
    /// The content did not decrypt under the sender's ratchet key (§6.3.1).
    #[error("content does not decrypt")]
    ContentUndecryptable,
    /// The padding of a PrivateMessageContent is not all zero (§6.3.1).
    #[error("non-zero padding")]
    NonZeroPadding,
    /// The decrypted content does not parse.
    #[error("malformed content: {0}")]
    MalformedContent(String),
    /// The secret tree refused the sender or generation (out of tree, too far ahead,
    /// consumed/replayed).
    #[error(transparent)]
    SecretTree(#[from] SecretTreeError),
    /// A structure could not be encoded.
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A cryptographic operation failed for another reason.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<tls_codec::Error> for ProtectionError {
    fn from(e: tls_codec::Error) -> Self {
        ProtectionError::Encoding(e.to_string())
    }
}

/// How much zero padding to add to a PrivateMessageContent (§6.3.1). The default pads to a
/// multiple of 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PaddingPolicy {
    /// No padding.
    None,
    /// Pad the plaintext to a multiple of this many bytes (0 or 1 mean no padding).
    ToMultipleOf(usize),
}

impl Default for PaddingPolicy {
    fn default() -> Self {
        PaddingPolicy::ToMultipleOf(32)
    }
}

impl PaddingPolicy {
    fn padding_for(self, len: usize) -> usize {
        match self {
            PaddingPolicy::ToMultipleOf(m) if m > 1 => (m - len % m) % m,
            _ => 0,
        }
    }
}

/// `sender_data_key` and `sender_data_nonce` (§6.3.2) for a PrivateMessage `ciphertext`: the
/// sample is its first `KDF.Nh` bytes, or all of it when shorter.
pub fn sender_data_key_nonce(
    cs: &dyn CipherSuiteProvider,
    sender_data_secret: &Secret,
    ciphertext: &[u8],
) -> Result<(Secret, Secret), CryptoError> {
    let sample = &ciphertext[..ciphertext.len().min(cs.hash_len())];
    let key = expand_with_label(
        cs,
        sender_data_secret.as_bytes(),
        "key",
        sample,
        cs.aead_key_len(),
    )?;
    let nonce = expand_with_label(
        cs,
        sender_data_secret.as_bytes(),
        "nonce",
        sample,
        cs.aead_nonce_len(),
    )?;
    Ok((key, nonce))
}

/// The sender/content/wire-format rules of §6 (and §6.2 for application data).
fn check_content_rules(
    sender: &Sender,
    body: &FramedContentBody,
    wire_format: WireFormat,
) -> Result<(), ProtectionError> {
    let content_type = body.content_type();
    if wire_format == WireFormat::PUBLIC_MESSAGE && content_type == ContentType::APPLICATION {
        return Err(ProtectionError::ApplicationDataInPublicMessage);
    }
    let allowed = match sender {
        Sender::Member(_) => true,
        // §6: only members send PrivateMessages; external senders send proposals only,
        // new_member_proposal only Add proposals, new_member_commit only commits.
        Sender::External(_) => {
            wire_format == WireFormat::PUBLIC_MESSAGE
                && matches!(body, FramedContentBody::Proposal(_))
        }
        Sender::NewMemberProposal => {
            wire_format == WireFormat::PUBLIC_MESSAGE
                && matches!(body, FramedContentBody::Proposal(Proposal::Add(_)))
        }
        Sender::NewMemberCommit => {
            wire_format == WireFormat::PUBLIC_MESSAGE
                && matches!(body, FramedContentBody::Commit(_))
        }
    };
    if !allowed
        || (wire_format == WireFormat::PRIVATE_MESSAGE && !matches!(sender, Sender::Member(_)))
    {
        return Err(ProtectionError::SenderNotAllowed {
            sender_type: sender.sender_type().0,
            content_type: content_type.0,
            wire_format: wire_format.0,
        });
    }
    Ok(())
}

/// The key a received PrivateMessage was opened with: one generation of one ratchet of one
/// leaf's secret tree entry (§9.1). [`MessageProtection::open_private`] returns it unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatchetPosition {
    /// The sender's leaf.
    pub leaf: LeafIndex,
    /// Handshake or application ratchet.
    pub kind: RatchetKind,
    /// The generation.
    pub generation: u32,
}

impl RatchetPosition {
    /// Marks the key used and deletes it (§9.2): [`SecretTree::mark_consumed`]. A refusal
    /// leaves `tree` unchanged.
    pub fn mark_consumed(
        self,
        cs: &dyn CipherSuiteProvider,
        tree: &mut SecretTree,
    ) -> Result<(), SecretTreeError> {
        tree.mark_consumed(cs, self.leaf, self.kind, self.generation)
    }
}

fn ratchet_kind(content_type: ContentType) -> RatchetKind {
    if content_type == ContentType::APPLICATION {
        RatchetKind::Application
    } else {
        RatchetKind::Handshake
    }
}

fn xor_reuse_guard(nonce: &Secret, guard: [u8; 4]) -> Secret {
    let mut n = nonce.clone();
    for (b, g) in n.as_mut_bytes().iter_mut().zip(guard) {
        *b ^= g;
    }
    n
}

/// The `SignContent` of a FramedContentTBS (RFC 9420 §6.1), encoded once in place: version,
/// wire format, the content, and the GroupContext when the sender is a member or a
/// new-member committer. Signing, verifying and the membership tag (§6.2) all read it, so a
/// large commit is serialized once per operation and never cloned.
pub fn framed_content_sign_content(
    wire_format: WireFormat,
    content: &FramedContent,
    group_context: &GroupContext,
) -> Result<SignContentBuf, ProtectionError> {
    use tls_codec::{Serialize as _, Size as _};
    let context = matches!(content.sender, Sender::Member(_) | Sender::NewMemberCommit)
        .then_some(group_context);
    let version = ProtocolVersion::MLS10;
    let len = version.tls_serialized_len()
        + wire_format.tls_serialized_len()
        + content.tls_serialized_len()
        + context.map_or(0, |c| c.tls_serialized_len());
    let mut sc = SignContentBuf::new("FramedContentTBS", len).map_err(ProtectionError::Crypto)?;
    let w = sc.writer();
    version.tls_serialize(w)?;
    wire_format.tls_serialize(w)?;
    content.tls_serialize(w)?;
    if let Some(c) = context {
        c.tls_serialize(w)?;
    }
    Ok(sc)
}

/// Where the parts of an encoded MLSMessage that frames a member's commit as a PublicMessage lie
/// (RFC 9420 §6.2), found from the framing alone: the FramedContent's header, the lengths of the
/// commit's vectors, and its UpdatePath's LeafNode; the encrypted path secrets are skipped by
/// their length, never decoded. With it the signature is checked over the received bytes while
/// the message is decoded and the commit staged (`Group::process_message_bytes`): for a large
/// commit the signature's hash over the whole message is most of the work.
#[derive(Clone, Copy, Debug)]
pub struct PublicCommitLayout<'a> {
    /// The committer's leaf.
    pub sender: LeafIndex,
    /// `version || wire_format || content`: the FramedContentTBS without its GroupContext.
    pub tbs_prefix: &'a [u8],
    /// The encoded FramedContentAuthData (signature and confirmation tag), which follows the
    /// FramedContentTBS in AuthenticatedContentTBM.
    pub auth: &'a [u8],
    /// The signature, inside `auth`.
    pub signature: &'a [u8],
}

impl<'a> PublicCommitLayout<'a> {
    /// The layout of `bytes` when they frame a member's commit as an MLS 1.0 PublicMessage;
    /// `None` for any other message and for anything malformed, which decoding the message
    /// then reports. What follows the auth data (the membership tag, and anything after it)
    /// is left to the decoder.
    pub fn of(bytes: &'a [u8]) -> Option<Self> {
        let mut header = [0u8; 4];
        header[..2].copy_from_slice(&ProtocolVersion::MLS10.0.to_be_bytes());
        header[2..].copy_from_slice(&WireFormat::PUBLIC_MESSAGE.0.to_be_bytes());
        let rest = bytes.strip_prefix(&header[..])?;
        let rest = skip_vector(rest)?; // group_id
        let rest = rest.get(8..)?; // epoch
        let (&sender_type, rest) = rest.split_first()?;
        if sender_type != crate::messages::SenderType::MEMBER.0 {
            return None;
        }
        let leaf = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        let rest = skip_vector(rest.get(4..)?)?; // authenticated_data
        let (&content_type, rest) = rest.split_first()?;
        if content_type != ContentType::COMMIT.0 {
            return None;
        }
        let rest = skip_vector(rest)?; // proposals
        let rest = match rest.split_first()? {
            (0, rest) => rest,
            (1, rest) => {
                let (_, rest) = crate::messages::LeafNode::tls_deserialize_bytes(rest).ok()?;
                skip_vector(rest)? // the UpdatePath's nodes
            }
            _ => return None,
        };
        let content_end = bytes.len() - rest.len();
        let (signature_len, after) = crate::codec::read_varint(rest).ok()?;
        let signature = after.get(..signature_len)?;
        let after = skip_vector(after.get(signature_len..)?)?; // confirmation_tag
        let auth_end = bytes.len() - after.len();
        Some(Self {
            sender: LeafIndex(leaf),
            tbs_prefix: bytes.get(..content_end)?,
            auth: bytes.get(content_end..auth_end)?,
            signature,
        })
    }
}

/// The bytes after a §2.1.2 vector at the start of `bytes`.
fn skip_vector(bytes: &[u8]) -> Option<&[u8]> {
    let (len, rest) = crate::codec::read_varint(bytes).ok()?;
    rest.get(len..)
}

/// A PublicMessage that passed [`MessageProtection::check_public`] but whose membership tag
/// and signature are not checked yet. Its content may be read to prepare work in parallel with
/// those checks (a commit is staged, never applied); it becomes an [`AuthenticatedContent`]
/// only through [`UnverifiedPublicMessage::into_verified`], which the caller reaches only once
/// both checks passed.
#[derive(Debug)]
pub struct UnverifiedPublicMessage {
    content: AuthenticatedContent,
    tbs: SignContentBuf,
    membership_tag: Option<Mac>,
    sender_key: Option<SignaturePublicKey>,
}

impl UnverifiedPublicMessage {
    /// The content, not yet authenticated.
    pub fn unverified_content(&self) -> &AuthenticatedContent {
        &self.content
    }

    /// The encoded FramedContentTBS the signature is checked over.
    pub fn tbs(&self) -> &SignContentBuf {
        &self.tbs
    }

    /// The content and its TBS, for a caller whose
    /// [`MessageProtection::verify_membership_tag`] and
    /// [`MessageProtection::verify_public_signature`] both passed.
    pub fn into_verified(self) -> (AuthenticatedContent, SignContentBuf) {
        (self.content, self.tbs)
    }
}

/// What protecting and unprotecting messages needs from the current epoch: the suite, the
/// GroupContext, `membership_key` and `sender_data_secret` (§6, §8).
pub struct MessageProtection<'a> {
    cs: &'a dyn CipherSuiteProvider,
    group_context: &'a GroupContext,
    membership_key: &'a Secret,
    sender_data_secret: &'a Secret,
}

impl std::fmt::Debug for MessageProtection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageProtection")
            .field("cipher_suite", &self.cs.cipher_suite())
            .field("epoch", &self.group_context.epoch)
            .finish_non_exhaustive()
    }
}

impl<'a> MessageProtection<'a> {
    /// Message protection for the epoch described by `group_context`.
    pub fn new(
        cs: &'a dyn CipherSuiteProvider,
        group_context: &'a GroupContext,
        membership_key: &'a Secret,
        sender_data_secret: &'a Secret,
    ) -> Self {
        Self {
            cs,
            group_context,
            membership_key,
            sender_data_secret,
        }
    }

    fn check_group_and_epoch(
        &self,
        group_id: &VarBytes,
        epoch: u64,
    ) -> Result<(), ProtectionError> {
        if group_id != &self.group_context.group_id {
            return Err(ProtectionError::WrongGroupId);
        }
        if epoch != self.group_context.epoch {
            return Err(ProtectionError::WrongEpoch {
                expected: self.group_context.epoch,
                got: epoch,
            });
        }
        Ok(())
    }

    /// The SignContent of this epoch's FramedContentTBS for `content` (§6.1).
    fn sign_content(
        &self,
        wire_format: WireFormat,
        content: &FramedContent,
    ) -> Result<SignContentBuf, ProtectionError> {
        framed_content_sign_content(wire_format, content, self.group_context)
    }

    /// Signs `content` for `wire_format` (§6.1), attaching `confirmation_tag` (commits only).
    /// Returns the SignContent too (its content is the TBS a membership tag covers).
    fn sign(
        &self,
        wire_format: WireFormat,
        content: &FramedContent,
        signer: &Secret,
        confirmation_tag: Option<Mac>,
    ) -> Result<(SignContentBuf, FramedContentAuthData), ProtectionError> {
        if confirmation_tag.is_some() != (content.content_type() == ContentType::COMMIT) {
            return Err(ProtectionError::ConfirmationTagMismatch);
        }
        let sc = self.sign_content(wire_format, content)?;
        let signature = sc.sign(self.cs, signer).map_err(ProtectionError::Crypto)?;
        Ok((
            sc,
            FramedContentAuthData {
                signature: VarBytes(signature),
                confirmation_tag,
            },
        ))
    }

    fn verify(
        &self,
        sc: &SignContentBuf,
        auth: &FramedContentAuthData,
        key: &[u8],
    ) -> Result<(), ProtectionError> {
        sc.verify(self.cs, key, auth.signature.as_slice())
            .map_err(|e| match e {
                CryptoError::InvalidSignature => ProtectionError::BadSignature,
                other => ProtectionError::Crypto(other),
            })
    }

    /// The membership tag of a PublicMessage from a member (§6.2): the MAC of
    /// AuthenticatedContentTBM, i.e. the TBS in `sc` followed by `auth`.
    fn membership_tag(
        &self,
        sc: &mut SignContentBuf,
        auth: &FramedContentAuthData,
    ) -> Result<Mac, ProtectionError> {
        let key = self.membership_key.as_bytes();
        let tag = sc
            .with_suffix(auth, |tbm| self.cs.mac(key, tbm))
            .map_err(ProtectionError::Crypto)?;
        Ok(Mac(VarBytes(tag)))
    }

    /// Signs `content` and frames it as a PublicMessage (§6.2), with a membership tag when the
    /// sender is a member. Application data is refused.
    pub fn protect_public(
        &self,
        content: FramedContent,
        signer: &Secret,
        confirmation_tag: Option<Mac>,
    ) -> Result<PublicMessage, ProtectionError> {
        let wf = WireFormat::PUBLIC_MESSAGE;
        self.check_group_and_epoch(&content.group_id, content.epoch)?;
        check_content_rules(&content.sender, &content.body, wf)?;
        let (mut sc, auth) = self.sign(wf, &content, signer, confirmation_tag)?;
        let membership_tag = match content.sender {
            Sender::Member(_) => Some(self.membership_tag(&mut sc, &auth)?),
            _ => None,
        };
        Ok(PublicMessage {
            content,
            auth,
            membership_tag,
        })
    }

    /// Verifies a PublicMessage (§6.2): group and epoch, content rules, the membership tag for
    /// member senders, then the signature with the key `sender_key` gives for the content's
    /// sender (it sees the whole content, so a `new_member_commit` or `new_member_proposal`
    /// sender's key can be taken from the commit's or Add's leaf; it returns `None` for a
    /// sender it does not know, e.g. a blank leaf).
    pub fn unprotect_public(
        &self,
        msg: PublicMessage,
        sender_key: impl FnOnce(&FramedContent) -> Option<SignaturePublicKey>,
    ) -> Result<AuthenticatedContent, ProtectionError> {
        Ok(self.unprotect_public_with_tbs(msg, sender_key)?.0)
    }

    /// [`MessageProtection::unprotect_public`], also returning the FramedContentTBS the
    /// signature was verified over, so a commit's transcript hash can read its content from
    /// there instead of serializing it again
    /// ([`crate::transcript_hash::confirmed_transcript_hash_from_tbs`]).
    pub fn unprotect_public_with_tbs(
        &self,
        msg: PublicMessage,
        sender_key: impl FnOnce(&FramedContent) -> Option<SignaturePublicKey>,
    ) -> Result<(AuthenticatedContent, SignContentBuf), ProtectionError> {
        let msg = self.check_public(msg, sender_key)?;
        self.verify_membership_tag(&msg)?;
        self.verify_public_signature(&msg)?;
        Ok(msg.into_verified())
    }

    /// The checks of a PublicMessage (§6.2) that come before its membership tag and signature:
    /// group and epoch, content rules, the confirmation tag's and the membership tag's
    /// presence. Also encodes the FramedContentTBS and looks up the sender's key with
    /// `sender_key` (see [`MessageProtection::unprotect_public`]). The two cryptographic
    /// checks are left to [`MessageProtection::verify_membership_tag`] and
    /// [`MessageProtection::verify_public_signature`], which may run in parallel with each
    /// other and with work prepared from the still unverified content.
    pub fn check_public(
        &self,
        msg: PublicMessage,
        sender_key: impl FnOnce(&FramedContent) -> Option<SignaturePublicKey>,
    ) -> Result<UnverifiedPublicMessage, ProtectionError> {
        let wf = WireFormat::PUBLIC_MESSAGE;
        self.check_public_rules(&msg)?;
        let content = &msg.content;
        let tbs = self.sign_content(wf, content)?;
        let sender_key = sender_key(content);
        Ok(UnverifiedPublicMessage {
            content: AuthenticatedContent {
                wire_format: wf,
                content: msg.content,
                auth: msg.auth,
            },
            tbs,
            membership_tag: msg.membership_tag,
            sender_key,
        })
    }

    /// The checks of a PublicMessage's framing (§6.2): group and epoch, content rules, the
    /// confirmation tag's and the membership tag's presence.
    fn check_public_rules(&self, msg: &PublicMessage) -> Result<(), ProtectionError> {
        let content = &msg.content;
        self.check_group_and_epoch(&content.group_id, content.epoch)?;
        check_content_rules(&content.sender, &content.body, WireFormat::PUBLIC_MESSAGE)?;
        if msg.auth.confirmation_tag.is_some() != (content.content_type() == ContentType::COMMIT) {
            return Err(ProtectionError::ConfirmationTagMismatch);
        }
        // A membership tag from members, and only from them.
        if matches!(content.sender, Sender::Member(_)) != msg.membership_tag.is_some() {
            return Err(ProtectionError::MembershipTagPresence);
        }
        Ok(())
    }

    /// [`MessageProtection::check_public`]'s checks of `msg`, decoded from the bytes `layout`
    /// describes, which must be the ones laid out (same sender, signature and content length),
    /// else `MalformedContent`. Returns the membership tag, for
    /// [`MessageProtection::verify_received_membership_tag`].
    pub fn check_received_public_commit<'m>(
        &self,
        msg: &'m PublicMessage,
        layout: &PublicCommitLayout<'_>,
    ) -> Result<&'m Mac, ProtectionError> {
        use tls_codec::Size as _;
        self.check_public_rules(msg)?;
        let header = ProtocolVersion::MLS10.tls_serialized_len()
            + WireFormat::PUBLIC_MESSAGE.tls_serialized_len();
        if msg.content.sender != Sender::Member(layout.sender.0)
            || msg.auth.signature.as_slice() != layout.signature
            || header + msg.content.tls_serialized_len() != layout.tbs_prefix.len()
        {
            return Err(ProtectionError::MalformedContent(
                "the decoded commit is not the one laid out".into(),
            ));
        }
        msg.membership_tag
            .as_ref()
            .ok_or(ProtectionError::MembershipTagPresence)
    }

    /// The membership tag (§6.2) `tag` of the commit `layout` describes: the MAC is taken over
    /// the received `tbs_prefix`, the encoded GroupContext `group_context` and the received
    /// auth data, so no FramedContentTBS is encoded; compared in constant time.
    pub fn verify_received_membership_tag(
        &self,
        layout: &PublicCommitLayout<'_>,
        group_context: &[u8],
        tag: &Mac,
    ) -> Result<(), ProtectionError> {
        self.cs
            .mac_verify(
                self.membership_key.as_bytes(),
                &[layout.tbs_prefix, group_context, layout.auth],
                tag.0.as_slice(),
            )
            .map_err(|e| match e {
                CryptoError::InvalidMac => ProtectionError::BadMembershipTag,
                other => ProtectionError::Crypto(other),
            })
    }

    /// The signature (§6.1) of the commit `layout` describes, over its received bytes and the
    /// encoded GroupContext `group_context`, with the sender's key `key` (`UnknownSender`
    /// when it has none).
    pub fn verify_received_signature(
        &self,
        layout: &PublicCommitLayout<'_>,
        group_context: &[u8],
        key: Option<&[u8]>,
    ) -> Result<(), ProtectionError> {
        let key = key.ok_or(ProtectionError::UnknownSender)?;
        crate::crypto::labels::verify_with_label_parts(
            self.cs,
            key,
            "FramedContentTBS",
            &[layout.tbs_prefix, group_context],
            layout.signature,
        )
        .map_err(|e| match e {
            CryptoError::InvalidSignature => ProtectionError::BadSignature,
            other => ProtectionError::Crypto(other),
        })
    }

    /// Checks the membership tag of a PublicMessage from a member (§6.2): the MAC of
    /// AuthenticatedContentTBM (the FramedContentTBS followed by the auth data), compared in
    /// constant time. Nothing to check for other senders (whose tag's absence
    /// [`MessageProtection::check_public`] checked).
    pub fn verify_membership_tag(
        &self,
        msg: &UnverifiedPublicMessage,
    ) -> Result<(), ProtectionError> {
        let Some(tag) = &msg.membership_tag else {
            return Ok(());
        };
        let auth = encode(&msg.content.auth)?;
        let tbs = msg.tbs.content().map_err(ProtectionError::Crypto)?;
        self.cs
            .mac_verify(
                self.membership_key.as_bytes(),
                &[tbs, &auth],
                tag.0.as_slice(),
            )
            .map_err(|e| match e {
                CryptoError::InvalidMac => ProtectionError::BadMembershipTag,
                other => ProtectionError::Crypto(other),
            })
    }

    /// Checks the signature of a PublicMessage (§6.1) with its sender's key; `UnknownSender`
    /// when the sender had none.
    pub fn verify_public_signature(
        &self,
        msg: &UnverifiedPublicMessage,
    ) -> Result<(), ProtectionError> {
        let key = msg
            .sender_key
            .as_ref()
            .ok_or(ProtectionError::UnknownSender)?;
        self.verify(&msg.tbs, &msg.content.auth, key)
    }

    /// Signs `content` (from a member) and encrypts it as a PrivateMessage (§6.3), consuming the
    /// next key of the sender's ratchet in `tree`, with a fresh random reuse guard and `padding`.
    pub fn protect_private(
        &self,
        tree: &mut SecretTree,
        content: FramedContent,
        signer: &Secret,
        confirmation_tag: Option<Mac>,
        padding: PaddingPolicy,
    ) -> Result<PrivateMessage, ProtectionError> {
        // Refuse what cannot be sent before spending a signature on it.
        self.check_private(&content)?;
        let (_, auth) = self.sign(
            WireFormat::PRIVATE_MESSAGE,
            &content,
            signer,
            confirmation_tag,
        )?;
        self.protect_private_signed(tree, content, auth, padding)
    }

    /// The checks every PrivateMessage passes before encryption (§6.3): group and epoch,
    /// content rules, and a member sender, whose leaf is returned.
    fn check_private(&self, content: &FramedContent) -> Result<LeafIndex, ProtectionError> {
        let wf = WireFormat::PRIVATE_MESSAGE;
        self.check_group_and_epoch(&content.group_id, content.epoch)?;
        check_content_rules(&content.sender, &content.body, wf)?;
        match content.sender {
            Sender::Member(leaf) => Ok(LeafIndex(leaf)),
            _ => Err(ProtectionError::SenderNotAllowed {
                sender_type: content.sender.sender_type().0,
                content_type: content.content_type().0,
                wire_format: wf.0,
            }),
        }
    }

    /// Encrypts already-signed member content as a PrivateMessage (§6.3). For commits, whose
    /// signature enters the transcript hash before the confirmation tag exists (§8.2): the
    /// caller signs, computes the tag, and frames the content here without re-signing.
    pub fn protect_private_signed(
        &self,
        tree: &mut SecretTree,
        content: FramedContent,
        auth: FramedContentAuthData,
        padding: PaddingPolicy,
    ) -> Result<PrivateMessage, ProtectionError> {
        // The next key is peeked and marked used only once the message is built: a failure
        // leaves `tree` as it was.
        let leaf = self.check_private(&content)?;
        let kind = ratchet_kind(content.content_type());
        let generation = tree.next_generation(leaf, kind);
        let pm = self.seal_private(tree, leaf, generation, content, auth, padding)?;
        tree.mark_consumed(self.cs, leaf, kind, generation)?;
        Ok(pm)
    }

    /// [`MessageProtection::protect_private_signed`] with the key of `generation` of the
    /// sender's ratchet, which the caller has set aside for this message (§9.2: a key is used
    /// once) and records itself: `tree` is only read.
    pub fn protect_private_signed_at(
        &self,
        tree: &SecretTree,
        generation: u32,
        content: FramedContent,
        auth: FramedContentAuthData,
        padding: PaddingPolicy,
    ) -> Result<PrivateMessage, ProtectionError> {
        let leaf = self.check_private(&content)?;
        self.seal_private(tree, leaf, generation, content, auth, padding)
    }

    /// Encodes and encrypts checked content ([`MessageProtection::check_private`] gave
    /// `leaf`) with the key of `generation`; `tree` is only read.
    fn seal_private(
        &self,
        tree: &SecretTree,
        leaf: LeafIndex,
        generation: u32,
        content: FramedContent,
        auth: FramedContentAuthData,
        padding: PaddingPolicy,
    ) -> Result<PrivateMessage, ProtectionError> {
        if auth.confirmation_tag.is_some() != (content.content_type() == ContentType::COMMIT) {
            return Err(ProtectionError::ConfirmationTagMismatch);
        }
        let content_type = content.content_type();
        let mut pmc = PrivateMessageContent {
            content: content.body,
            auth,
            padding_len: 0,
        };
        let unpadded = tls_codec::Size::tls_serialized_len(&pmc);
        pmc.padding_len = padding.padding_for(unpadded);
        let plaintext = zeroize::Zeroizing::new(pmc.to_bytes()?);
        self.encrypt_private(
            tree,
            generation,
            leaf,
            content_type,
            content.group_id,
            content.epoch,
            content.authenticated_data,
            &plaintext,
        )
    }

    /// Encrypts an encoded PrivateMessageContent (§6.3.1) and its sender data (§6.3.2).
    #[allow(clippy::too_many_arguments)]
    fn encrypt_private(
        &self,
        tree: &SecretTree,
        generation: u32,
        leaf: LeafIndex,
        content_type: ContentType,
        group_id: VarBytes,
        epoch: u64,
        authenticated_data: VarBytes,
        plaintext: &[u8],
    ) -> Result<PrivateMessage, ProtectionError> {
        let rk = tree.peek_key(self.cs, leaf, ratchet_kind(content_type), generation)?;
        let mut reuse_guard = [0u8; 4];
        self.cs
            .random_bytes(&mut reuse_guard)
            .map_err(ProtectionError::Crypto)?;
        let nonce = xor_reuse_guard(&rk.nonce, reuse_guard);
        let aad = encode(&PrivateContentAad {
            group_id: group_id.clone(),
            epoch,
            content_type,
            authenticated_data: authenticated_data.clone(),
        })?;
        let ciphertext = self
            .cs
            .aead_seal(rk.key.as_bytes(), nonce.as_bytes(), &aad, plaintext)
            .map_err(ProtectionError::Crypto)?;

        let sender_data = SenderData {
            leaf_index: leaf.0,
            generation: rk.generation,
            reuse_guard,
        };
        let (sd_key, sd_nonce) =
            sender_data_key_nonce(self.cs, self.sender_data_secret, &ciphertext)
                .map_err(ProtectionError::Crypto)?;
        let sd_aad = encode(&SenderDataAad {
            group_id: group_id.clone(),
            epoch,
            content_type,
        })?;
        let encrypted_sender_data = self
            .cs
            .aead_seal(
                sd_key.as_bytes(),
                sd_nonce.as_bytes(),
                &sd_aad,
                &encode(&sender_data)?,
            )
            .map_err(ProtectionError::Crypto)?;
        Ok(PrivateMessage {
            group_id,
            epoch,
            content_type,
            authenticated_data,
            encrypted_sender_data: VarBytes(encrypted_sender_data),
            ciphertext: VarBytes(ciphertext),
        })
    }

    /// Decrypts and verifies a PrivateMessage (§6.3): group and epoch, sender data, the content
    /// under a *peeked* ratchet key, padding, content rules and signature; only then is the
    /// ratchet key consumed from `tree`. On any error `tree` is unchanged. `sender_key` returns
    /// the signature key of the decrypted content's member sender, or `None` when that leaf is
    /// blank or unknown (§6.3.2: the leaf must be non-blank).
    pub fn unprotect_private(
        &self,
        tree: &mut SecretTree,
        msg: &PrivateMessage,
        sender_key: impl FnOnce(&FramedContent) -> Option<SignaturePublicKey>,
    ) -> Result<AuthenticatedContent, ProtectionError> {
        let (ac, key) = self.open_private(tree, msg, sender_key)?;
        key.mark_consumed(self.cs, tree)?;
        Ok(ac)
    }

    /// [`MessageProtection::unprotect_private`] without using the key up: `tree` is only
    /// read. The caller marks the returned [`RatchetPosition`] consumed once it accepts the
    /// message (§9.2), so that it need not copy the secret tree to stay unchanged when a later
    /// check of its own refuses the message.
    pub fn open_private(
        &self,
        tree: &SecretTree,
        msg: &PrivateMessage,
        sender_key: impl FnOnce(&FramedContent) -> Option<SignaturePublicKey>,
    ) -> Result<(AuthenticatedContent, RatchetPosition), ProtectionError> {
        let wf = WireFormat::PRIVATE_MESSAGE;
        self.check_group_and_epoch(&msg.group_id, msg.epoch)?;
        let tag_len = self.cs.algorithms().aead.tag_len();
        for (what, ct) in [
            ("encrypted_sender_data", &msg.encrypted_sender_data),
            ("ciphertext", &msg.ciphertext),
        ] {
            if ct.len() < tag_len {
                return Err(ProtectionError::TruncatedCiphertext {
                    what,
                    len: ct.len(),
                });
            }
        }

        // Sender data (§6.3.2).
        let (sd_key, sd_nonce) =
            sender_data_key_nonce(self.cs, self.sender_data_secret, &msg.ciphertext)
                .map_err(ProtectionError::Crypto)?;
        let sd_aad = encode(&SenderDataAad {
            group_id: msg.group_id.clone(),
            epoch: msg.epoch,
            content_type: msg.content_type,
        })?;
        let sd_plain = self
            .cs
            .aead_open(
                sd_key.as_bytes(),
                sd_nonce.as_bytes(),
                &sd_aad,
                &msg.encrypted_sender_data,
            )
            .map_err(|e| match e {
                CryptoError::AeadOpenFailed => ProtectionError::SenderDataUndecryptable,
                other => ProtectionError::Crypto(other),
            })?;
        let sender_data: SenderData =
            decode_exact(&sd_plain).map_err(|_| ProtectionError::MalformedSenderData)?;
        let leaf = LeafIndex(sender_data.leaf_index);
        let kind = ratchet_kind(msg.content_type);

        // Content (§6.3.1), with a peeked key.
        let rk = tree.peek_key(self.cs, leaf, kind, sender_data.generation)?;
        let nonce = xor_reuse_guard(&rk.nonce, sender_data.reuse_guard);
        let aad = encode(&PrivateContentAad {
            group_id: msg.group_id.clone(),
            epoch: msg.epoch,
            content_type: msg.content_type,
            authenticated_data: msg.authenticated_data.clone(),
        })?;
        let plaintext = zeroize::Zeroizing::new(
            self.cs
                .aead_open(rk.key.as_bytes(), nonce.as_bytes(), &aad, &msg.ciphertext)
                .map_err(|e| match e {
                    CryptoError::AeadOpenFailed => ProtectionError::ContentUndecryptable,
                    other => ProtectionError::Crypto(other),
                })?,
        );
        let (body, auth) = decode_private_content(msg.content_type, &plaintext)?;

        let content = FramedContent {
            group_id: msg.group_id.clone(),
            epoch: msg.epoch,
            sender: Sender::Member(sender_data.leaf_index),
            authenticated_data: msg.authenticated_data.clone(),
            body,
        };
        check_content_rules(&content.sender, &content.body, wf)?;
        let key = sender_key(&content).ok_or(ProtectionError::UnknownSender)?;
        let sc = self.sign_content(wf, &content)?;
        self.verify(&sc, &auth, &key)?;

        // Everything checked: the caller now uses the key up (§9.2).
        Ok((
            AuthenticatedContent {
                wire_format: wf,
                content,
                auth,
            },
            RatchetPosition {
                leaf,
                kind,
                generation: sender_data.generation,
            },
        ))
    }
}

/// Parses a PrivateMessageContent of `content_type` (§6.3.1): the content, its auth data, then
/// padding that must be all zero.
fn decode_private_content(
    content_type: ContentType,
    plaintext: &[u8],
) -> Result<(FramedContentBody, FramedContentAuthData), ProtectionError> {
    let malformed = |e: tls_codec::Error| ProtectionError::MalformedContent(e.to_string());
    let (body, rest) = match content_type {
        ContentType::APPLICATION => {
            let (b, rest) = VarBytes::tls_deserialize_bytes(plaintext).map_err(malformed)?;
            (FramedContentBody::Application(b), rest)
        }
        ContentType::PROPOSAL => {
            let (p, rest) = Proposal::tls_deserialize_bytes(plaintext).map_err(malformed)?;
            (FramedContentBody::Proposal(p), rest)
        }
        ContentType::COMMIT => {
            let (c, rest) = Commit::tls_deserialize_bytes(plaintext).map_err(malformed)?;
            (FramedContentBody::Commit(c), rest)
        }
        other => {
            return Err(ProtectionError::MalformedContent(format!(
                "unknown content type {}",
                other.0
            )))
        }
    };
    let (auth, padding) = FramedContentAuthData::decode(content_type, rest).map_err(malformed)?;
    // Constant-time-ish: look at every byte rather than stopping at the first non-zero one.
    if padding.iter().fold(0u8, |acc, b| acc | b) != 0 {
        return Err(ProtectionError::NonZeroPadding);
    }
    Ok((body, auth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::VarVec;
    use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
    use crate::secret_tree::SecretTreeConfig;

    #[test]
    fn non_zero_padding_is_refused_and_changes_nothing() {
        let provider = AwsLcProvider::new();
        let cs = provider.suite(CipherSuite(1)).unwrap();
        let (sk, pk) = cs.signature_generate().unwrap();
        let gc = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(1),
            group_id: VarBytes(b"g".to_vec()),
            epoch: 1,
            tree_hash: VarBytes(vec![0; 32]),
            confirmed_transcript_hash: VarBytes(vec![0; 32]),
            extensions: VarVec::default(),
        };
        let (mk, sds, es) = (
            Secret::zero(32),
            Secret::from_slice(&[7; 32]),
            Secret::from_slice(&[9; 32]),
        );
        let mp = MessageProtection::new(cs, &gc, &mk, &sds);
        let tx = SecretTree::new(es.clone(), 2, SecretTreeConfig::default()).unwrap();
        let mut rx = SecretTree::new(es, 2, SecretTreeConfig::default()).unwrap();
        let content = FramedContent {
            group_id: gc.group_id.clone(),
            epoch: 1,
            sender: Sender::Member(0),
            authenticated_data: VarBytes::default(),
            body: FramedContentBody::Application(VarBytes(b"hello".to_vec())),
        };
        let (_, auth) = mp
            .sign(WireFormat::PRIVATE_MESSAGE, &content, &sk, None)
            .unwrap();
        let pmc = PrivateMessageContent {
            content: content.body.clone(),
            auth,
            padding_len: 8,
        };
        let mut plaintext = pmc.to_bytes().unwrap();
        let last = plaintext.len() - 1;
        plaintext[last] = 1;
        let bad = mp
            .encrypt_private(
                &tx,
                0,
                LeafIndex(0),
                ContentType::APPLICATION,
                gc.group_id.clone(),
                1,
                VarBytes::default(),
                &plaintext,
            )
            .unwrap();
        let keys = |_: &FramedContent| Some(pk.clone());
        let before = rx.clone();
        assert_eq!(
            mp.unprotect_private(&mut rx, &bad, keys).unwrap_err(),
            ProtectionError::NonZeroPadding
        );
        assert_eq!(rx, before);
        // The same generation (`encrypt_private` only reads the tree), correctly padded, still
        // opens.
        plaintext[last] = 0;
        let good = mp
            .encrypt_private(
                &tx,
                0,
                LeafIndex(0),
                ContentType::APPLICATION,
                gc.group_id.clone(),
                1,
                VarBytes::default(),
                &plaintext,
            )
            .unwrap();
        let ac = mp.unprotect_private(&mut rx, &good, keys).unwrap();
        assert_eq!(ac.content, content);
    }

    #[test]
    fn padding_sizes() {
        assert_eq!(PaddingPolicy::None.padding_for(33), 0);
        assert_eq!(PaddingPolicy::ToMultipleOf(0).padding_for(33), 0);
        assert_eq!(PaddingPolicy::ToMultipleOf(32).padding_for(33), 31);
        assert_eq!(PaddingPolicy::ToMultipleOf(32).padding_for(64), 0);
    }
}
