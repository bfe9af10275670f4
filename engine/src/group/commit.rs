//! Commits (RFC 9420 §12.4): creating one and processing a received one, both into a
//! [`StagedCommit`] that holds the complete next epoch and is merged only on acceptance.
//!
//! Processing (§12.4.2) resolves the proposals (by value and by reference), validates and
//! applies them to a staged tree (§12.2, §12.3), enforces the path-required rule, validates
//! and merges the UpdatePath (new leaf per §7.3, parent hashes, keys never seen in the tree),
//! decrypts it with the provisional GroupContext, advances the transcript hashes and the key
//! schedule (with PSKs and external init), and verifies the confirmation tag. Nothing in the
//! group changes until [`Group::merge_staged_commit`].
//!
//! Creating (§12.4.1) does the same from our side, and builds the Welcome: the GroupInfo is
//! encrypted once, and the GroupSecrets are sealed to every joiner in parallel with one
//! prepared `EncryptWithLabel(., "Welcome", encrypted_group_info, .)` context. The seals' KEM
//! encapsulations need only the joiners' init keys, so the pool makes them while the
//! committer's thread validates, signs and builds the GroupInfo.

use rayon::prelude::*;

use crate::codec::{encode, VarBytes, VarVec};
use crate::crypto::labels::{
    encrypt_with_label_encapsulated, key_package_ref, prepare_encrypt_with_label, SignContentBuf,
};
use crate::crypto::{
    CipherSuiteProvider, CryptoError, Encapsulation, HpkePublicKey, PreparedInfo, Secret,
};
use crate::framing::framed_content_sign_content;
use crate::key_schedule::{advance_epoch, InitSecret, JoinerSecret, WelcomeSecret};
use crate::messages::group_info::{
    GROUP_INFO_SIGN_CONTENT_ROOM as SIGN_CONTENT_ROOM, GROUP_INFO_TBS_LABEL,
};
use crate::messages::{
    AuthenticatedContent, Commit, Extension, ExternalPub, FramedContent, FramedContentAuthData,
    FramedContentBody, GroupContext, GroupInfo, GroupSecrets, KeyPackage, Mac, MlsMessage,
    MlsMessageBody, PathSecret, PreSharedKeyId, Proposal, ProposalOrRef, PublicMessage, ReInit,
    Sender, UpdatePath, WelcomeMessage, WireFormat,
};
use crate::psk::{resolve_psk_secret, PskSecret};
use crate::secret_tree::RatchetKind;
use crate::transcript_hash::{
    confirmation_tag, confirmed_transcript_hash_from_tbs, interim_transcript_hash,
    verify_confirmation_tag,
};
use crate::tree::Tree;
use crate::tree_math::{LeafIndex, NodeIndex};

use super::error::{GroupError, MisuseError, ProposalRule, ProtocolError};
use super::key_package::{KeyPackageSignatures, LeafCheck, LeafRole};
use super::proposal::{Applied, Committer, Resolved};
use super::{EpochKeys, Group, OwnKeys};

/// A validated commit with the complete next epoch, not yet part of the group. Merge it with
/// [`Group::merge_staged_commit`]; drop it to discard it.
#[derive(Debug)]
pub struct StagedCommit {
    pub(crate) base_epoch: u64,
    pub(crate) group_id: Vec<u8>,
    pub(crate) context: GroupContext,
    pub(crate) tree: Tree,
    pub(crate) interim: Vec<u8>,
    pub(crate) confirmation_tag: Mac,
    pub(crate) keys: Option<EpochKeys>,
    pub(crate) own_keys: OwnKeys,
    pub(crate) touched: Vec<NodeIndex>,
    pub(crate) reinit: Option<ReInit>,
    pub(crate) removed_self: bool,
    /// The committer.
    pub sender: Sender,
    /// Leaves added, in order.
    pub added: Vec<LeafIndex>,
    /// Leaves removed.
    pub removed: Vec<LeafIndex>,
    /// Leaves updated by Update proposals.
    pub updated: Vec<LeafIndex>,
    /// The PSKs injected.
    pub psks: Vec<PreSharedKeyId>,
    /// Whether the commit carried a path.
    pub has_path: bool,
}

impl StagedCommit {
    /// The epoch this commit leads to.
    pub fn new_epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The next epoch's authenticator (RFC 9420 §8.7); `None` when we were removed.
    pub fn epoch_authenticator(&self) -> Option<&Secret> {
        self.keys.as_ref().map(|k| &k.epoch_authenticator)
    }

    /// True if the commit removes us.
    pub fn removes_self(&self) -> bool {
        self.removed_self
    }

    /// The ReInit it commits, if any.
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }
}

/// How to build a commit.
#[derive(Clone, Debug)]
pub struct CommitOptions {
    /// Proposals to commit by value (after the cached ones, if included).
    pub proposals: Vec<Proposal>,
    /// Commit every proposal received this epoch, by reference.
    pub include_pending: bool,
    /// Send a path even when no proposal requires one.
    pub force_path: bool,
    /// Put the ratchet tree into the Welcome's GroupInfo (RFC 9420 §12.4.3.3).
    pub ratchet_tree_in_welcome: bool,
    /// Also return a signed GroupInfo for the new epoch with `external_pub` and the ratchet
    /// tree, for external joiners (RFC 9420 §12.4.3.2).
    pub group_info_for_external: bool,
    /// The commit's authenticated data.
    pub authenticated_data: Vec<u8>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            proposals: Vec::new(),
            include_pending: true,
            force_path: false,
            ratchet_tree_in_welcome: true,
            group_info_for_external: false,
            authenticated_data: Vec::new(),
        }
    }
}

/// What [`Group::commit`] produced.
#[derive(Debug)]
pub struct CommitOutput {
    /// The commit to send to the group.
    pub commit: MlsMessage,
    /// The Welcome for added members, if any, encoded.
    pub welcome: Option<WelcomeMessage>,
    /// A GroupInfo for external joiners, if asked for.
    pub group_info: Option<MlsMessage>,
    /// The next epoch: merge it once the delivery service accepted the commit.
    pub staged: StagedCommit,
    /// Cached proposals left out because they could not be committed (RFC 9420 §12.2), each
    /// with the reason. They stay cached until the epoch ends.
    pub dropped: Vec<(crate::messages::ProposalRef, GroupError)>,
}

/// Builds and signs a GroupInfo (RFC 9420 §12.4.3).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_group_info(
    cs: &dyn CipherSuiteProvider,
    context: &GroupContext,
    tag: &Mac,
    signer_leaf: LeafIndex,
    signer: &Secret,
    tree: Option<&Tree>,
    external_pub: Option<HpkePublicKey>,
) -> Result<GroupInfo, GroupError> {
    let mut extensions = Vec::new();
    if let Some(t) = tree {
        extensions.push(Extension {
            extension_type: crate::messages::ExtensionType::RATCHET_TREE,
            extension_data: VarBytes(t.to_wire_bytes()?),
        });
    }
    if let Some(pk) = external_pub {
        extensions.push(Extension::from_value(&ExternalPub { external_pub: pk })?);
    }
    let mut gi = GroupInfo {
        group_context: context.clone(),
        extensions: VarVec(extensions),
        confirmation_tag: tag.clone(),
        signer: signer_leaf.0,
        signature: VarBytes::default(),
    };
    gi.signature = VarBytes(gi.sign_content()?.sign(cs, signer)?);
    Ok(gi)
}

/// What signing and encrypting a Welcome's GroupInfo takes (RFC 9420 §12.4.3): the new epoch's
/// GroupContext and confirmation tag, the signer, the tree if the Welcome carries it, and the
/// welcome secret.
pub(crate) struct WelcomeGroupInfo<'a> {
    /// The new epoch's GroupContext.
    pub context: &'a GroupContext,
    /// The new epoch's confirmation tag.
    pub tag: &'a Mac,
    /// The committer's leaf.
    pub signer_leaf: LeafIndex,
    /// The committer's signature key.
    pub signer: &'a Secret,
    /// The tree, for the `ratchet_tree` extension, or `None` (out of band).
    pub tree: Option<&'a Tree>,
    /// The epoch's welcome secret.
    pub welcome_secret: &'a WelcomeSecret,
}

/// GroupInfos at least this long are signed beside their encryption
/// ([`encrypted_group_info`]); below it waking a second core costs more than it saves.
const OVERLAP_MIN_LEN: usize = 64 * 1024;

/// The overlap is kept for Welcomes whose joiners' entries take less than this fraction
/// (1/`OVERLAP_MAX_FRONT_SHARE`) of the GroupInfo's length. It costs a second GroupInfo-sized
/// buffer for the time of one AES-GCM pass and one SHA-256 pass over the GroupInfo, about
/// 1.1 ns a byte here; the joiners cost an HPKE seal each (about 23 µs on two cores for a
/// 120-byte entry, 0.19 µs a byte of entries). With entries of a tenth of the GroupInfo or
/// more, the overlap would save at most 5% of the commit. Adding all 9,999 members of a
/// 10,000-member group (1.2 MB of entries, a 1.76 MB GroupInfo) it saved 2 ms of 590 and
/// raised the commit's heap peak by 1.78 MB; adding one member, it saves a third.
const OVERLAP_MAX_FRONT_SHARE: usize = 10;

/// Whether a GroupInfoTBS of `tbs_len` bytes in a Welcome whose joiners' entries take `front`
/// bytes is signed beside its encryption ([`OVERLAP_MIN_LEN`], [`OVERLAP_MAX_FRONT_SHARE`]).
fn overlap_pays(tbs_len: usize, front: usize) -> bool {
    tbs_len >= OVERLAP_MIN_LEN && front.saturating_mul(OVERLAP_MAX_FRONT_SHARE) < tbs_len
}

/// A Welcome's GroupInfo signed and encrypted, with the joiners' HPKE `info` prepared.
pub(crate) struct EncryptedGroupInfo {
    /// `front` bytes of room, then the encrypted GroupInfo.
    pub buf: Vec<u8>,
    /// `EncryptWithLabel(., "Welcome", encrypted_group_info, .)`'s `info` prepared (it does
    /// not depend on the joiner).
    pub prepared: PreparedInfo,
}

/// The Welcome's GroupInfo (RFC 9420 §12.4.3), built, signed and encrypted in one buffer: the
/// GroupInfoTBS (the tree written straight into its `ratchet_tree` extension when `tree` is
/// given) is written after room for its SignContent header and signed there. The same bytes
/// as encoding and encrypting [`build_group_info`]'s GroupInfo, without its two tree-sized
/// copies (the extension's data and the encoded GroupInfoTBS). The joiners' HPKE `info`, the
/// encrypted GroupInfo, is hashed too.
///
/// A large GroupInfo ([`OVERLAP_MIN_LEN`]) in a Welcome to few joiners
/// ([`OVERLAP_MAX_FRONT_SHARE`]) whose signature has a fixed length (EdDSA) is
/// encrypted and hashed while it is signed, on another core: the GroupInfo with its
/// signature's bytes left as zeros is encrypted and hashed up to them, then the signature is
/// put in ([`crate::crypto::LateTail`]) and the hash finished. Signing takes longer than
/// both together (one SHA-512 pass against AES-GCM and one SHA-256), so they cost no time;
/// they start once the signature's nonce is made ([`CipherSuiteProvider::sign_beside`]).
/// Otherwise (or if the provider cannot encrypt a late tail) it is signed, then encrypted in
/// place, then hashed.
///
/// Either way, when the GroupContext carries the current hash of the tree written, the
/// signature's nonce may be bound to the GroupInfo without the tree's bytes
/// ([`tree_nonce_binding`]) instead of hashing all of it. With the overlap, the nonce is then
/// made before the tree is written, and the signature's hash follows the tree's writer piece
/// by piece on another core ([`streamed_group_info`]).
///
/// The encrypted GroupInfo starts at `buf[front..]`; the `front` bytes before it are room for
/// what precedes it in the Welcome (their content is unspecified).
pub(crate) fn encrypted_group_info(
    cs: &dyn CipherSuiteProvider,
    gi: &WelcomeGroupInfo<'_>,
    front: usize,
) -> Result<EncryptedGroupInfo, GroupError> {
    encrypted_group_info_with(cs, gi, front, None)
}

/// [`encrypted_group_info`], the overlap decided by `overlap` if given (the tests run both
/// ways on small trees), else by the GroupInfo's length.
fn encrypted_group_info_with(
    cs: &dyn CipherSuiteProvider,
    gi: &WelcomeGroupInfo<'_>,
    front: usize,
    overlap: Option<bool>,
) -> Result<EncryptedGroupInfo, GroupError> {
    let WelcomeGroupInfo {
        context,
        tag,
        signer_leaf,
        signer,
        tree,
        welcome_secret,
    } = *gi;
    use crate::codec::{varint_len, write_varint};
    use tls_codec::{Serialize as _, Size as _};
    let layout = tree.map(Tree::wire_layout).transpose()?;
    // The extension list: `ratchet_tree` (type, then its data as `opaque<V>`) or nothing.
    let extension_len = match &layout {
        Some(l) => 2 + varint_len(l.encoded_len())? + l.encoded_len(),
        None => 0,
    };
    let tbs_len = context.tls_serialized_len()
        + varint_len(extension_len)?
        + extension_len
        + tag.tls_serialized_len()
        + 4;
    // A large GroupInfo signed with a fixed-length signature is encrypted into a second
    // buffer while it is signed (below), which takes the `front` room; the signed one needs
    // room for its SignContent header only.
    let sig_len = cs
        .algorithms()
        .signature
        .fixed_signature_len()
        .filter(|_| overlap.unwrap_or_else(|| overlap_pays(tbs_len, front)));
    if let (Some(tree), Some(layout), Some(sig_len)) = (tree, &layout, sig_len) {
        let parts = StreamedParts {
            gi,
            tree,
            layout,
            extension_len,
            tbs_len,
        };
        if let Some(done) = streamed_group_info(cs, &parts, front, sig_len)? {
            return Ok(done);
        }
    }
    // Room for the header (and, signed and encrypted in place, what precedes the GroupInfo),
    // the TBS, the signature (up to 2 + 139 bytes, ECDSA P-521 in DER) and the AEAD tag:
    // nothing reallocates.
    let room = if sig_len.is_some() {
        SIGN_CONTENT_ROOM
    } else {
        front.max(SIGN_CONTENT_ROOM)
    };
    let mut buf = Vec::with_capacity(room + tbs_len + 160);
    buf.resize(room, 0);
    context.tls_serialize(&mut buf)?;
    write_varint(&mut buf, extension_len)?;
    let mut tree_bytes = None;
    if let (Some(tree), Some(layout)) = (tree, &layout) {
        crate::messages::ExtensionType::RATCHET_TREE.tls_serialize(&mut buf)?;
        write_varint(&mut buf, layout.encoded_len())?;
        let at = buf.len();
        tree.write_wire(layout, &mut buf)?;
        tree_bytes = Some(at..buf.len());
    }
    tag.tls_serialize(&mut buf)?;
    signer_leaf.0.tls_serialize(&mut buf)?;
    if buf.len() != room + tbs_len {
        return Err(GroupError::codec(
            GROUP_INFO_TBS_LABEL,
            tls_codec::Error::EncodingError("length differs from its layout".into()),
        ));
    }
    let header = crate::crypto::labels::sign_content_header(GROUP_INFO_TBS_LABEL, tbs_len)?;
    let start = room.checked_sub(header.len()).ok_or_else(|| {
        GroupError::codec(GROUP_INFO_TBS_LABEL, tls_codec::Error::InvalidVectorLength)
    })?;
    buf[start..room].copy_from_slice(&header);
    let binding = tree.zip(tree_bytes).and_then(|(tree, at)| {
        let at = at.start.checked_sub(start)?..at.end.checked_sub(start)?;
        tree_nonce_binding(&buf[start..], at, tree, context)
    });
    let binding = binding.as_ref().map(|parts| &parts[..]);
    let (key, nonce) = welcome_secret.key_and_nonce(cs)?;
    if let Some(sig_len) = sig_len {
        // The encrypted copy is allocated here, not on the core that fills it: a buffer this
        // size from another thread's allocator arena stays resident beside this thread's
        // (glibc), and the process's peak grew by it in half the runs.
        let egi_len = tbs_len + varint_len(sig_len)? + sig_len + cs.algorithms().aead.tag_len();
        let mut out = Some(Vec::with_capacity(front + egi_len));
        let mut sealed = None;
        let signature = cs.sign_beside(signer, &buf[start..], binding, &mut || {
            let mut filled = out.take().unwrap_or_default();
            filled.resize(front, 0);
            filled.extend_from_slice(&buf[room..]);
            sealed = Some(seal_before_signature(
                cs,
                filled,
                tbs_len,
                front,
                sig_len,
                key.as_bytes(),
                nonce.as_bytes(),
            ));
        })?;
        let sealed = sealed.ok_or_else(|| {
            GroupError::codec(
                "Welcome",
                tls_codec::Error::EncodingError("the GroupInfo was not encrypted".into()),
            )
        })?;
        if let Ok(sealed) = sealed? {
            return finish_late_tail(cs, sealed, &signature, sig_len);
        }
        // The provider cannot encrypt a late tail: the signature made is used as it is.
        return finish_in_order(cs, buf, signature, front, room, &key, &nonce);
    }
    let signature = match binding {
        Some(_) => cs.sign_beside(signer, &buf[start..], binding, &mut || {})?,
        None => cs.sign(signer, &buf[start..])?,
    };
    finish_in_order(cs, buf, signature, front, room, &key, &nonce)
}

/// What [`streamed_group_info`] writes: a GroupInfo's fields, its tree and that tree's layout,
/// and the lengths already derived from them.
struct StreamedParts<'a> {
    gi: &'a WelcomeGroupInfo<'a>,
    tree: &'a Tree,
    layout: &'a crate::tree::WireLayout,
    extension_len: usize,
    tbs_len: usize,
}

/// [`encrypted_group_info_with`]'s overlap for a GroupInfo whose GroupContext carries the
/// current hash of the tree it carries, signed by a suite that takes a message in pieces
/// ([`CipherSuiteProvider::begin_bound_signature`], the nonce bound to the GroupInfo without
/// the tree as [`tree_nonce_binding`] argues): the tree is written on one core in pieces that
/// the signature's hash follows on another, and the writer goes on to encrypt the GroupInfo
/// and hash it as the joiners' HPKE `info` ([`seal_before_signature`]) while the hash runs.
/// So the one SHA-512 pass starts with the tree's first piece instead of after the whole
/// tree, and the GroupInfo is written once, straight into the buffer it is encrypted in.
/// `None` when the tree hash is not current or the suite signs only whole messages (the
/// caller then writes the GroupInfo first).
fn streamed_group_info(
    cs: &dyn CipherSuiteProvider,
    parts: &StreamedParts<'_>,
    front: usize,
    sig_len: usize,
) -> Result<Option<EncryptedGroupInfo>, GroupError> {
    use crate::codec::{varint_len, write_varint};
    use tls_codec::Serialize as _;
    let StreamedParts {
        gi,
        tree,
        layout,
        extension_len,
        tbs_len,
    } = *parts;
    let WelcomeGroupInfo {
        context,
        tag,
        signer_leaf,
        signer,
        welcome_secret,
        ..
    } = *gi;
    if !hashes_current_tree(context, tree) {
        return Ok(None);
    }
    // The signed message: SignContent header, then the TBS, whose tree is what the writer
    // hands over; `head` and `tail` are the rest, the nonce's binding.
    let header = crate::crypto::labels::sign_content_header(GROUP_INFO_TBS_LABEL, tbs_len)?;
    let mut head = header.clone();
    context.tls_serialize(&mut head)?;
    write_varint(&mut head, extension_len)?;
    crate::messages::ExtensionType::RATCHET_TREE.tls_serialize(&mut head)?;
    write_varint(&mut head, layout.encoded_len())?;
    let mut tail = Vec::new();
    tag.tls_serialize(&mut tail)?;
    signer_leaf.0.tls_serialize(&mut tail)?;
    let msg_len = header.len() + tbs_len;
    if head.len() + layout.encoded_len() + tail.len() != msg_len {
        return Err(GroupError::codec(
            GROUP_INFO_TBS_LABEL,
            tls_codec::Error::EncodingError("length differs from its layout".into()),
        ));
    }
    let Some(mut signature) = cs.begin_bound_signature(signer, msg_len, &[&head, &tail])? else {
        return Ok(None);
    };
    let (key, nonce) = welcome_secret.key_and_nonce(cs)?;
    let egi_len = tbs_len + varint_len(sig_len)? + sig_len + cs.algorithms().aead.tag_len();
    let mut out = Vec::with_capacity(front + egi_len);
    out.resize(front, 0);
    out.extend_from_slice(&head[header.len()..]);
    let (pieces, received) = std::sync::mpsc::channel::<Vec<u8>>();
    signature.update(&head);
    // The hash is fed by whoever holds `hashing`: the pool thread that takes the second task
    // from the moment it starts (it then holds the lock until the last piece), and until
    // then the writer, which after each piece hashes what is waiting. The pool's other
    // thread may still be busy (with the joiners' encapsulations and KeyPackage checks,
    // `Group::commit`), and the pass must not wait for it: it is the longer side. Once the
    // second task has started, the writer leaves the hash to it (at most the piece it is
    // hashing is finished first). The channel keeps the pieces in order, and one holder at
    // a time feeds them.
    let hashing = std::sync::Mutex::new((signature, received));
    let taken = std::sync::atomic::AtomicBool::new(false);
    let (tail_ref, key_ref, nonce_ref, hashing_ref, taken_ref) =
        (&tail, &key, &nonce, &hashing, &taken);
    let (sealed, ()) = rayon::join(
        move || {
            let written = tree.write_wire_pieces(layout, |piece| {
                out.extend_from_slice(&piece);
                // The hash ends early only if it failed; its error is reported below.
                let _ = pieces.send(piece);
                if taken_ref.load(std::sync::atomic::Ordering::Acquire) {
                    return;
                }
                if let Ok(mut held) = hashing_ref.try_lock() {
                    let (signature, received) = &mut *held;
                    while let Ok(piece) = received.try_recv() {
                        signature.update(&piece);
                    }
                }
            });
            drop(pieces);
            written?;
            out.extend_from_slice(tail_ref);
            seal_before_signature(
                cs,
                out,
                tbs_len,
                front,
                sig_len,
                key_ref.as_bytes(),
                nonce_ref.as_bytes(),
            )
        },
        move || {
            taken_ref.store(true, std::sync::atomic::Ordering::Release);
            // The writer may be finishing a piece: wait for it without sleeping (a woken
            // thread takes tens of microseconds here). A poisoned lock is reported below,
            // by `into_inner`.
            let held = loop {
                match hashing_ref.try_lock() {
                    Err(std::sync::TryLockError::WouldBlock) => std::thread::yield_now(),
                    other => break other.ok(),
                }
            };
            if let Some(mut held) = held {
                let (signature, received) = &mut *held;
                for piece in received.iter() {
                    signature.update(&piece);
                }
            }
        },
    );
    let signature = hashing
        .into_inner()
        .map_err(|_| {
            GroupError::codec(
                GROUP_INFO_TBS_LABEL,
                tls_codec::Error::EncodingError("the GroupInfo's hash failed".into()),
            )
        })
        .and_then(|(mut signature, received)| {
            // Whatever the writer sent after the last holder let go (none when the second
            // task ran: it held the lock until the channel closed).
            for piece in received.try_iter() {
                signature.update(&piece);
            }
            signature.update(&tail);
            Ok(signature.finish()?)
        });
    let (sealed, signature) = (sealed?, signature?);
    Ok(Some(match sealed {
        Ok(sealed) => finish_late_tail(cs, sealed, &signature, sig_len)?,
        // The provider cannot encrypt a late tail: the GroupInfo is encrypted now, whole.
        Err(out) => finish_in_order(cs, out, signature, front, front, &key, &nonce)?,
    }))
}

/// What a GroupInfo's signature nonce may be bound to instead of the whole message
/// ([`CipherSuiteProvider::sign_beside`]'s `binding`): the signed `msg` without the bytes of
/// the tree (`tree_at`), when the GroupContext in it carries the tree hash of `tree`, the tree
/// written there (its cache is current and agrees). Equal such parts and lengths then mean an
/// equal tree (the tree hash resists collisions), which is written the same way, so an equal
/// GroupInfo. `None` otherwise (the nonce then hashes the message).
fn tree_nonce_binding<'m>(
    msg: &'m [u8],
    tree_at: std::ops::Range<usize>,
    tree: &Tree,
    context: &GroupContext,
) -> Option<[&'m [u8]; 2]> {
    if !hashes_current_tree(context, tree) {
        return None;
    }
    Some([msg.get(..tree_at.start)?, msg.get(tree_at.end..)?])
}

/// Whether `context` carries the hash of `tree` as it is (its hash cache current, no change
/// pending), the condition for binding a GroupInfo's nonce to the GroupInfo without the tree.
fn hashes_current_tree(context: &GroupContext, tree: &Tree) -> bool {
    tree.current_tree_hash()
        .is_some_and(|h| h.as_slice() == context.tree_hash.as_slice())
}

/// The signed GroupInfo encrypted in place, then hashed as the Welcome's HPKE `info`.
fn finish_in_order(
    cs: &dyn CipherSuiteProvider,
    mut buf: Vec<u8>,
    signature: Vec<u8>,
    front: usize,
    room: usize,
    key: &Secret,
    nonce: &Secret,
) -> Result<EncryptedGroupInfo, GroupError> {
    use tls_codec::Serialize as _;
    VarBytes(signature).tls_serialize(&mut buf)?;
    // The GroupInfo is what follows the room; only a room other than asked for moves it (a
    // room made for the overlap, which the provider turned down, is too short).
    if room >= front {
        buf.drain(front..room);
    } else {
        buf.splice(0..0, std::iter::repeat_n(0, front - room));
    }
    cs.aead_seal_in_place(key.as_bytes(), nonce.as_bytes(), b"", &mut buf, front)?;
    let prepared = prepare_encrypt_with_label(cs, "Welcome", &buf[front..])?;
    Ok(EncryptedGroupInfo { buf, prepared })
}

/// What [`seal_before_signature`] leaves: the buffer (`front` bytes of room, then the
/// GroupInfo encrypted with a zero signature, then the tag), the tail to put in, the `info`
/// hashed up to the signature's ciphertext, and where that hash stopped.
type SealedBeforeSignature = (
    Vec<u8>,
    crate::crypto::LateTail,
    crate::crypto::InfoStream,
    usize,
);

/// `out` (`front` bytes of room, then the GroupInfoTBS, `tbs_len` bytes) completed with a
/// `sig_len`-byte signature of zeros and encrypted there, and the Welcome's HPKE `info` (its
/// EncryptContext) hashed up to the signature's bytes. `Err(out)`, untouched, if the provider
/// cannot encrypt a late tail.
fn seal_before_signature(
    cs: &dyn CipherSuiteProvider,
    mut out: Vec<u8>,
    tbs_len: usize,
    front: usize,
    sig_len: usize,
    key: &[u8],
    nonce: &[u8],
) -> Result<Result<SealedBeforeSignature, Vec<u8>>, GroupError> {
    use crate::codec::{varint_len, write_varint};
    let gi_len = tbs_len + varint_len(sig_len)? + sig_len;
    let egi_len = gi_len + cs.algorithms().aead.tag_len();
    if out.len() != front + tbs_len {
        return Err(GroupError::codec(
            GROUP_INFO_TBS_LABEL,
            tls_codec::Error::EncodingError("length differs from its layout".into()),
        ));
    }
    write_varint(&mut out, sig_len)?;
    out.resize(front + gi_len, 0);
    let Some(late) = cs.aead_seal_in_place_late_tail(key, nonce, b"", &mut out, front, sig_len)?
    else {
        out.truncate(front + tbs_len);
        return Ok(Err(out));
    };
    if out.len() != front + egi_len {
        return Err(GroupError::codec(
            "Welcome",
            tls_codec::Error::EncodingError("AEAD output of an unexpected length".into()),
        ));
    }
    let mut info = cs.hpke_info_stream();
    info.update(&crate::crypto::labels::encrypt_context_head(
        "Welcome", egi_len,
    )?);
    let hashed_to = front + tbs_len + varint_len(sig_len)?;
    info.update(&out[front..hashed_to]);
    Ok(Ok((out, late, info, hashed_to)))
}

/// The encrypted GroupInfo from what [`seal_before_signature`] left and the signature.
fn finish_late_tail(
    cs: &dyn CipherSuiteProvider,
    sealed: SealedBeforeSignature,
    signature: &[u8],
    sig_len: usize,
) -> Result<EncryptedGroupInfo, GroupError> {
    let (mut out, late, mut info, hashed_to) = sealed;
    if signature.len() != sig_len {
        return Err(GroupError::codec(
            GROUP_INFO_TBS_LABEL,
            tls_codec::Error::EncodingError("signature of an unexpected length".into()),
        ));
    }
    late.finish(&mut out, signature)?;
    info.update(&out[hashed_to..]);
    let prepared = cs.hpke_prepare_stream(info, None)?;
    Ok(EncryptedGroupInfo { buf: out, prepared })
}

/// A Welcome's parts that do not depend on the joiner (RFC 9420 §12.4.3.1).
pub(crate) struct WelcomeContent<'a> {
    /// The epoch's joiner secret.
    pub joiner_secret: &'a JoinerSecret,
    /// The epoch's PSKs.
    pub psks: &'a [PreSharedKeyId],
}

impl WelcomeContent<'_> {
    /// The GroupSecrets for a joiner given the path secret of its common ancestor with the
    /// committer, if the commit has a path.
    fn group_secrets(&self, path_secret: Option<&Secret>) -> GroupSecrets {
        GroupSecrets {
            joiner_secret: VarBytes(self.joiner_secret.as_secret().as_bytes().to_vec()),
            path_secret: path_secret.map(|s| PathSecret {
                path_secret: VarBytes(s.as_bytes().to_vec()),
            }),
            psks: VarVec(self.psks.to_vec()),
        }
    }
}

/// The lengths an `EncryptedGroupSecrets` is made of, fixed by the suite and the GroupSecrets.
#[derive(Clone, Copy)]
struct EntryShape {
    ref_len: usize,
    enc_len: usize,
    ciphertext_len: usize,
}

impl EntryShape {
    fn encoded_len(&self) -> Result<usize, GroupError> {
        use crate::codec::varint_len;
        let field = |n: usize| -> Result<usize, GroupError> { Ok(varint_len(n)? + n) };
        Ok(field(self.ref_len)? + field(self.enc_len)? + field(self.ciphertext_len)?)
    }
}

/// Writes `opaque<V>` holding `body` at the front of `out`, returning the rest; an error if
/// `body` is not `len` bytes or `out` is too short (the slot was sized for other lengths).
fn put_vector<'o>(out: &'o mut [u8], body: &[u8], len: usize) -> Result<&'o mut [u8], GroupError> {
    let mismatch = || {
        GroupError::codec(
            "Welcome",
            tls_codec::Error::EncodingError("an entry differs from its layout".into()),
        )
    };
    if body.len() != len {
        return Err(mismatch());
    }
    let mut header = Vec::with_capacity(4);
    crate::codec::write_varint(&mut header, len)?;
    let total = header.len() + len;
    if out.len() < total {
        return Err(mismatch());
    }
    let (this, rest) = out.split_at_mut(total);
    this[..header.len()].copy_from_slice(&header);
    this[header.len()..].copy_from_slice(body);
    Ok(rest)
}

/// The KeyPackages of the Adds among `cached` then `proposals`, in that order.
fn offered_key_packages<'c, 'p: 'c>(
    cached: &'c [&'p super::CachedProposal],
    proposals: &'p [Proposal],
) -> impl Iterator<Item = &'p KeyPackage> + 'c {
    cached
        .iter()
        .map(|c| &c.proposal)
        .chain(proposals)
        .filter_map(|p| match p {
            Proposal::Add(a) => Some(&a.key_package),
            _ => None,
        })
}

/// The most Adds a commit has its KeyPackages' signatures verified for beside its validation
/// ([`Group::commit`]): adding a few members, those checks (about 75 µs for one) are a
/// quarter of what precedes the GroupInfo's signature, and the pool's other thread has only
/// the encapsulations to do meanwhile.
const VERIFY_BESIDE_MAX_ADDS: usize = 8;

/// The most encapsulations one pool task does in a row (about 50 µs each). These run beside
/// the commit's own work ([`Group::commit`] joins them with `sign_commit`), so a thread
/// becomes free for them at any moment; rayon's adaptive splitting stops dividing a part
/// that nobody stole while that thread was busy, and in a profile of creating a group of
/// 10,000 one thread then ran the last 60 ms of encapsulations alone. Small grains let a
/// free thread always find some.
const ENCAP_GRAIN: usize = 16;

/// Encapsulates to every joiner's `init_key` in parallel over the pool: the KEM half of each
/// joiner's `EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)`, which
/// needs no `info` and so can run before the commit is signed ([`PendingWelcome::seal`]
/// finishes them).
///
/// One result per key: a key that cannot be encapsulated to fails only the joiner it belongs
/// to (a cached Add dropped from the commit must not fail it). Each key is dropped as soon as
/// it has been encapsulated to: the task often runs into the moment the GroupInfo's buffers
/// make the commit's heap peak.
pub(crate) fn encapsulate_to_joiners(
    cs: &dyn CipherSuiteProvider,
    init_keys: Vec<HpkePublicKey>,
) -> Vec<Result<Encapsulation, CryptoError>> {
    init_keys
        .into_par_iter()
        .with_max_len(ENCAP_GRAIN)
        .map(|pk| cs.hpke_encap(pk.as_slice()))
        .collect()
}

/// An `MLSMessage(Welcome)` (RFC 9420 §12.4.3.1) built in one buffer up to its joiners'
/// entries: the GroupInfo signed and encrypted where the message carries it
/// ([`encrypted_group_info`] with room in front for the rest), the HPKE context
/// `EncryptWithLabel(., "Welcome", encrypted_group_info, .)` prepared once for all (the
/// `info` does not depend on the joiner), and a slot sized for every entry.
pub(crate) struct PendingWelcome {
    buf: Vec<u8>,
    /// Where the message starts in `buf`.
    start: usize,
    /// The `secrets` vector's body.
    secrets: std::ops::Range<usize>,
    /// The encrypted GroupInfo's body.
    encrypted_group_info: std::ops::Range<usize>,
    /// Each joiner's entry, in order.
    shapes: Vec<EntryShape>,
    prepared: PreparedInfo,
}

impl PendingWelcome {
    /// Lays out the Welcome for `joiners` (each given the path secret of its common ancestor
    /// with the committer, if the commit has a path) and encrypts its GroupInfo.
    pub(crate) fn new(
        cs: &dyn CipherSuiteProvider,
        gi: &WelcomeGroupInfo<'_>,
        content: &WelcomeContent<'_>,
        path_secrets: &[Option<Secret>],
    ) -> Result<Self, GroupError> {
        use crate::codec::write_varint;
        use tls_codec::{Serialize as _, Size as _};
        let algs = cs.algorithms();
        let shapes: Vec<EntryShape> = path_secrets
            .iter()
            .map(|ps| EntryShape {
                ref_len: cs.hash_len(),
                enc_len: algs.kem.enc_len(),
                ciphertext_len: content.group_secrets(ps.as_ref()).tls_serialized_len()
                    + algs.aead.tag_len(),
            })
            .collect();
        let mut secrets_len = 0usize;
        for s in &shapes {
            secrets_len = secrets_len.checked_add(s.encoded_len()?).ok_or_else(|| {
                GroupError::codec("Welcome", tls_codec::Error::InvalidVectorLength)
            })?;
        }
        // version, wire_format, cipher_suite, secrets<V>, then encrypted_group_info<V>, whose
        // header takes up to 4 bytes: the room is sized for 4 and the message starts later by
        // what the header does not use.
        let mut head = Vec::with_capacity(10);
        crate::messages::ProtocolVersion::MLS10.tls_serialize(&mut head)?;
        WireFormat::WELCOME.tls_serialize(&mut head)?;
        cs.cipher_suite().tls_serialize(&mut head)?;
        write_varint(&mut head, secrets_len)?;
        let front = head.len() + secrets_len + 4;
        let EncryptedGroupInfo { mut buf, prepared } = encrypted_group_info(cs, gi, front)?;
        let egi_len = buf.len() - front;
        let mut egi_header = Vec::with_capacity(4);
        write_varint(&mut egi_header, egi_len)?;
        let start = 4 - egi_header.len();
        let secrets_start = start + head.len();
        let secrets_end = secrets_start + secrets_len;
        buf[start..secrets_start].copy_from_slice(&head);
        buf[secrets_end..front].copy_from_slice(&egi_header);
        Ok(Self {
            buf,
            start,
            secrets: secrets_start..secrets_end,
            encrypted_group_info: front..front + egi_len,
            shapes,
            prepared,
        })
    }

    /// Encrypts every joiner's GroupSecrets in parallel into its slot, with the joiner's
    /// encapsulation ([`encapsulate_to_joiners`], in the same order as `joiners`); the
    /// joiners and their path secrets are those the Welcome was laid out for. No entry is
    /// allocated apart and the message is never copied.
    pub(crate) fn seal(
        mut self,
        cs: &dyn CipherSuiteProvider,
        content: &WelcomeContent<'_>,
        joiners: &[(&KeyPackage, Option<Secret>)],
        encapsulations: Vec<Encapsulation>,
    ) -> Result<WelcomeMessage, GroupError> {
        let layout_mismatch = || {
            GroupError::codec(
                "Welcome",
                tls_codec::Error::EncodingError("an entry differs from its layout".into()),
            )
        };
        if joiners.len() != self.shapes.len() || encapsulations.len() != joiners.len() {
            return Err(layout_mismatch());
        }
        let mut slots: Vec<&mut [u8]> = Vec::with_capacity(joiners.len());
        let mut rest = &mut self.buf[self.secrets.clone()];
        for s in &self.shapes {
            let (slot, tail) = std::mem::take(&mut rest).split_at_mut(s.encoded_len()?);
            slots.push(slot);
            rest = tail;
        }
        let prepared = &self.prepared;
        slots
            .into_par_iter()
            .zip(encapsulations)
            .zip(joiners.par_iter().zip(self.shapes.par_iter()))
            .try_for_each(
                |((slot, encapsulation), ((kp, path_secret), shape))| -> Result<(), GroupError> {
                    let plain = zeroize::Zeroizing::new(encode(
                        &content.group_secrets(path_secret.as_ref()),
                    )?);
                    let ct = encrypt_with_label_encapsulated(cs, prepared, encapsulation, &plain)?;
                    let kp_ref = key_package_ref(cs, &encode(*kp)?)?;
                    let slot = put_vector(slot, &kp_ref, shape.ref_len)?;
                    let slot = put_vector(slot, &ct.kem_output, shape.enc_len)?;
                    let slot = put_vector(slot, &ct.ciphertext, shape.ciphertext_len)?;
                    if slot.is_empty() {
                        Ok(())
                    } else {
                        Err(layout_mismatch())
                    }
                },
            )?;
        Ok(WelcomeMessage::from_built(
            self.buf,
            self.start,
            cs.cipher_suite(),
            self.secrets,
            self.encrypted_group_info,
        ))
    }
}

/// A commit of ours signed, with its next epoch derived and its Welcome's GroupInfo
/// encrypted: what [`Group::commit`] builds on its own thread while the pool encapsulates to
/// the joiners.
struct Signed<'g> {
    /// The cached proposals committed (by reference), in list order.
    cached: Vec<&'g super::CachedProposal>,
    /// The cached proposals left out, with the reason.
    dropped: Vec<(crate::messages::ProposalRef, GroupError)>,
    /// The added leaves, in list order.
    added: Vec<LeafIndex>,
    psks: Vec<PreSharedKeyId>,
    reinit: Option<ReInit>,
    removed: Vec<LeafIndex>,
    updated: Vec<LeafIndex>,
    ctx: GroupContext,
    tree: Tree,
    touched: Vec<NodeIndex>,
    own_keys: OwnKeys,
    /// The commit, with its confirmation tag.
    ac: AuthenticatedContent,
    membership_tag: Option<Mac>,
    joiner: JoinerSecret,
    secrets: crate::key_schedule::EpochSecrets,
    tag: Mac,
    interim: Vec<u8>,
    has_path: bool,
    /// Each joiner's path secret (of its common ancestor with the committer), in the order
    /// their leaves were added.
    joiner_path_secrets: Vec<Option<Secret>>,
    /// The Welcome, laid out and its GroupInfo encrypted, if anyone was added.
    welcome: Option<PendingWelcome>,
}

impl Group {
    /// PSK secret for `ids` (RFC 9420 §8.4) from our external PSKs and retained resumption
    /// PSKs.
    pub(crate) fn psk_secret(
        &self,
        cs: &dyn CipherSuiteProvider,
        ids: &[PreSharedKeyId],
    ) -> Result<PskSecret, GroupError> {
        Ok(resolve_psk_secret(
            cs,
            ids,
            |id| self.external_psks.get(id).cloned(),
            &self.resumption_psks,
        )?)
    }

    /// Stages a received commit (RFC 9420 §12.4.2). See the module documentation.
    /// `transcript` gives the confirmed transcript hash (§8.2) and runs any check the caller
    /// left to it (a PublicMessage's membership tag); for a commit with a path it runs beside
    /// the path secret's decryption (`pool::join`: on a pool thread, this thread runs it and
    /// offers the decryption), since for a large commit it is a pass over the whole message
    /// and the decryption is a chain of key derivations.
    pub(crate) fn stage_received_commit(
        &self,
        cs: &dyn CipherSuiteProvider,
        ac: &AuthenticatedContent,
        transcript: &(dyn Fn() -> Result<Vec<u8>, GroupError> + Sync),
    ) -> Result<StagedCommit, GroupError> {
        let FramedContentBody::Commit(commit) = &ac.content.body else {
            return Err(MisuseError::Unsupported("not a commit").into());
        };
        let committer = match ac.content.sender {
            Sender::Member(l) if LeafIndex(l) == self.own_leaf => {
                return Err(MisuseError::Unsupported(
                    "own commit: merge the StagedCommit returned by commit()",
                )
                .into())
            }
            Sender::Member(l) => Committer::Member(LeafIndex(l)),
            Sender::NewMemberCommit => Committer::External,
            _ => return Err(ProtocolError::InvalidCommitSender.into()),
        };
        let list = self.resolve_proposals(commit, &ac.content.sender)?;
        let mut tree = self.tree.stage();
        let applied = self.validate_and_apply(
            cs,
            &mut tree,
            &list,
            committer,
            KeyPackageSignatures::Verify,
        )?;
        // RFC 9420 §12.4: path required for an empty list or path-requiring types (and
        // always for an external commit, §12.4.3.2).
        if (applied.path_required || committer == Committer::External) && commit.path.is_none() {
            return Err(GroupError::rule(None, ProposalRule::PathRequired));
        }
        let mut ctx = self.next_context(&applied);
        let removed_self = applied.removed.contains(&self.own_leaf);
        let mut own_keys = self.own_keys.clone();
        for (leaf, r) in &applied.updated {
            if *leaf == self.own_leaf {
                // Our own Update was committed: our leaf key is the one we proposed.
                let key = r
                    .as_ref()
                    .and_then(|r| self.pending_updates.get(r))
                    .ok_or(MisuseError::UnknownProposal)?;
                own_keys.keys.insert(leaf.node().0, key.clone());
            }
        }
        let mut touched = applied.touched.clone();
        let added: Vec<LeafIndex> = applied.added.iter().map(|(l, _)| *l).collect();
        let mut path_sender = None;
        if let Some(path) = &commit.path {
            let sender = match committer {
                Committer::Member(l) => l,
                Committer::External => {
                    let l = tree.add_leaf(path.leaf_node.clone())?;
                    touched.push(l.node());
                    l
                }
            };
            self.check_path_leaf(cs, &tree, &applied, committer, sender, path)?;
            touched.push(sender.node());
            touched.extend(tree.size().direct_path(sender.node()));
            // Keys first (a reused key is named as such), then the path (parent hashes).
            self.check_path_keys(&tree, sender, path, &applied)?;
            tree.merge_update_path(cs, sender, path, self.group_id())?;
            path_sender = Some((sender, path));
        }
        ctx.tree_hash = VarBytes(tree.tree_hash(cs)?);
        // §12.4.2: the path secret is decrypted with the provisional GroupContext (new epoch,
        // tree hash and extensions; the old confirmed transcript hash), beside the transcript.
        let (confirmed, decrypted) = match path_sender {
            Some((sender, path)) if !removed_self => {
                // `pool::join`: a PrivateMessage's commit is staged on the caller's thread,
                // which may be outside the pool.
                let (confirmed, decrypted) = crate::pool::join(transcript, || {
                    let provisional = encode(&ctx)?;
                    let path_keys = own_keys.path_keys(self.own_leaf);
                    let dec = tree.decrypt_update_path(
                        cs,
                        sender,
                        path,
                        &added,
                        &path_keys,
                        &provisional,
                    )?;
                    Ok::<_, GroupError>(Some(dec))
                });
                (super::ran(confirmed)??, super::ran(decrypted)??)
            }
            _ => (transcript()?, None),
        };
        let mut commit_secret = Secret::zero(cs.hash_len());
        if let Some(dec) = decrypted {
            commit_secret = dec.commit_secret;
            for (n, sk) in dec.private_keys {
                if let Some(node) = tree.node(n) {
                    let pk = super::node_public_key(node).into();
                    own_keys.keys.insert(n.0, (sk, pk));
                }
            }
        }
        own_keys.retain_valid(&tree);
        ctx.confirmed_transcript_hash = VarBytes(confirmed.clone());
        let tag = ac
            .auth
            .confirmation_tag
            .clone()
            .ok_or(GroupError::Protocol(ProtocolError::ConfirmationTag))?;
        let keys = if removed_self {
            None
        } else {
            let psk_secret = self.psk_secret(cs, &applied.psks)?;
            let init = match &applied.external_init {
                // §8.3: the joiner's init_secret from the ExternalInit's kem_output.
                Some(e) => {
                    let (external_priv, _) = cs.kem_derive(self.keys.external_secret.as_bytes())?;
                    InitSecret::external_init_receiver(cs, &external_priv, &e.kem_output)?
                }
                None => InitSecret::new(self.keys.init_secret.clone()),
            };
            let (_, _, secrets) =
                advance_epoch(cs, init, &commit_secret, &psk_secret, &encode(&ctx)?)?;
            // §6.1, §8.1: the confirmation tag.
            verify_confirmation_tag(cs, &secrets.confirmation_key, &confirmed, &tag)?;
            Some(EpochKeys::new(secrets, tree.size().leaves(), &self.config)?)
        };
        let interim = interim_transcript_hash(cs, &confirmed, &tag)?;
        Ok(StagedCommit {
            base_epoch: self.context.epoch,
            group_id: self.group_id().to_vec(),
            context: ctx,
            tree,
            interim,
            confirmation_tag: tag,
            keys,
            own_keys,
            touched,
            reinit: applied.reinit.clone(),
            removed_self,
            sender: ac.content.sender,
            added,
            removed: applied.removed.clone(),
            updated: applied.updated.iter().map(|(l, _)| *l).collect(),
            psks: applied.psks.clone(),
            has_path: commit.path.is_some(),
        })
    }

    /// The next GroupContext before the tree hash and transcript are known.
    fn next_context(&self, applied: &Applied) -> GroupContext {
        let mut ctx = self.context.clone();
        ctx.epoch += 1;
        if let Some(exts) = &applied.extensions {
            ctx.extensions = VarVec(exts.clone());
        }
        ctx
    }

    /// §7.3, §12.4.2: the committer's new leaf is valid, with source `commit`, a changed
    /// encryption key, and (external resync, §12.2 E2) the removed leaf's credential.
    fn check_path_leaf(
        &self,
        cs: &dyn CipherSuiteProvider,
        tree: &Tree,
        applied: &Applied,
        committer: Committer,
        sender: LeafIndex,
        path: &UpdatePath,
    ) -> Result<(), GroupError> {
        let extensions = applied
            .extensions
            .as_deref()
            .unwrap_or(&self.context.extensions);
        let required = Self::required_capabilities(extensions)?;
        let replaced = match committer {
            Committer::Member(l) => tree.leaf(l).cloned(),
            Committer::External => match applied.removed.first() {
                Some(r) => {
                    let old = self.tree.leaf(*r).cloned();
                    if old.as_ref().map(|o| o.credential_bytes())
                        != Some(path.leaf_node.credential_bytes())
                    {
                        return Err(GroupError::rule(None, ProposalRule::ExternalRemove));
                    }
                    old
                }
                None => None,
            },
        };
        let check = LeafCheck {
            cs,
            group_id: self.group_id(),
            required: required.as_ref(),
            lifetime: self.config.lifetime,
        };
        let leaf_error = |error| ProtocolError::LeafNode {
            leaf: sender,
            error,
        };
        check
            .validate(&path.leaf_node, LeafRole::Commit(sender))
            .map_err(leaf_error)?;
        // §7.3 against the resulting group: the committer's old leaf (and, for an external
        // resync, the removed prior leaf, already in the delta) does not count.
        let mut delta = applied.delta.clone();
        if let (Committer::Member(_), Some(old)) = (committer, &replaced) {
            delta.leave(old);
        }
        self.index
            .check_credential_support(&path.leaf_node, &delta, false)
            .map_err(leaf_error)?;
        if let (Committer::Member(_), Some(old)) = (committer, &replaced) {
            if old.encryption_key() == path.leaf_node.encryption_key() {
                return Err(ProtocolError::LeafNode {
                    leaf: sender,
                    error: super::LeafNodeError::EncryptionKeyUnchanged,
                }
                .into());
            }
        }
        Ok(())
    }

    /// §7.3, §12.4.3.1: no key of the path (leaf and parents) is already in the tree or
    /// repeated among the commit's new keys; the leaf's signature key is not another
    /// member's. O(log N) with the member index.
    fn check_path_keys(
        &self,
        tree: &Tree,
        sender: LeafIndex,
        path: &UpdatePath,
        applied: &Applied,
    ) -> Result<(), GroupError> {
        let mut fresh: std::collections::HashSet<&[u8]> = applied
            .added
            .iter()
            .map(|(_, kp)| kp.leaf_node.encryption_key())
            .collect();
        let filtered = tree.filtered_direct_path(sender);
        let keys = std::iter::once((sender.node(), path.leaf_node.encryption_key())).chain(
            filtered
                .iter()
                .map(|(n, _)| *n)
                .zip(path.nodes.iter().map(|n| n.encryption_key.as_slice())),
        );
        for (node, key) in keys {
            if !fresh.insert(key) || self.index.enc_holder(&self.tree, tree, key).is_some() {
                return Err(ProtocolError::ReusedPathKey(node).into());
            }
        }
        if let Some(holder) =
            self.index
                .sig_holder(&self.tree, tree, path.leaf_node.signature_key())
        {
            if holder != sender {
                return Err(ProtocolError::LeafNode {
                    leaf: sender,
                    error: super::LeafNodeError::DuplicateSignatureKey(holder),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Merges a staged commit (ours once accepted, or a received one): the next epoch
    /// replaces the current one, which moves into the retained window. Infallible after the
    /// staleness check, so the group is never half-merged.
    pub fn merge_staged_commit(&mut self, staged: StagedCommit) -> Result<(), GroupError> {
        if staged.base_epoch != self.context.epoch || staged.group_id != self.group_id() {
            return Err(MisuseError::StaleStagedCommit.into());
        }
        self.index.apply(&self.tree, &staged.tree, &staged.touched);
        // The next epoch's keys replace ours, which move (not copied: the secret tree holds
        // every sender heard from this epoch) into the retained window.
        let left = staged
            .keys
            .map(|keys| std::mem::replace(&mut self.keys, keys));
        let removed = left.is_none();
        self.retire_epoch(left);
        self.tree.merge_staged(staged.tree);
        self.context = staged.context;
        self.interim_transcript_hash = staged.interim;
        self.confirmation_tag = staged.confirmation_tag;
        self.own_keys = staged.own_keys;
        self.proposals.clear();
        self.pending_updates.clear();
        if removed {
            self.active = false;
        } else {
            self.resumption_psks.insert(
                self.context.group_id.as_slice(),
                self.context.epoch,
                self.keys.resumption_psk.clone(),
            );
        }
        if staged.removed_self {
            self.active = false;
        }
        if staged.reinit.is_some() {
            // RFC 9420 §11.2: after a ReInit the old group is used only to start the new one.
            self.pending_reinit = staged.reinit;
            self.active = false;
        }
        Ok(())
    }

    /// Creates a commit (RFC 9420 §12.4.1) of the cached proposals (if
    /// `options.include_pending`) and `options.proposals`, with a path when required or
    /// forced, and a Welcome for added members. Cached proposals that cannot be committed are
    /// left out and reported in [`CommitOutput::dropped`] (§12.2). The group is unchanged:
    /// merge [`CommitOutput::staged`] once the commit is accepted.
    pub fn commit(
        &self,
        cs: &dyn CipherSuiteProvider,
        options: CommitOptions,
    ) -> Result<CommitOutput, GroupError> {
        let cached: Vec<&super::CachedProposal> = if options.include_pending {
            self.proposals.iter().collect()
        } else {
            Vec::new()
        };
        // The init keys of every Add the commit may carry, cached first, then by value (the
        // order their leaves are added in). Encapsulating to them needs nothing of the
        // commit, so the pool does it while this thread validates, signs and builds the
        // GroupInfo (`sign_commit`); the Welcome's seals only finish them.
        let add_keys: Vec<HpkePublicKey> = offered_key_packages(&cached, &options.proposals)
            .map(|kp| kp.init_key.clone())
            .collect();
        // A few Adds also have their signatures verified there, beside the validation, which
        // then checks the rest of §10.1 as if they were valid: if one is not, the commit is
        // made again with every check in order (from a copy of the options, which the first
        // attempt consumes), so the outcome is the same either way. Many Adds keep their
        // signatures in the validation's batches over the whole pool (and no copy is made).
        let retry = (!add_keys.is_empty() && add_keys.len() <= VERIFY_BESIDE_MAX_ADDS)
            .then(|| options.clone());
        let beside: Option<Vec<&KeyPackage>> = retry
            .as_ref()
            .map(|o| offered_key_packages(&cached, &o.proposals).collect());
        let group_info_for_external = options.group_info_for_external;
        let offered = cached.clone();
        let kp_signatures = if beside.is_some() {
            KeyPackageSignatures::VerifiedBeside
        } else {
            KeyPackageSignatures::Verify
        };
        let sign = || self.sign_commit(cs, offered, options, kp_signatures);
        let (signed, mut encapsulations) = if add_keys.is_empty() {
            (sign(), Vec::new())
        } else {
            let check = LeafCheck {
                cs,
                group_id: self.group_id(),
                required: None,
                lifetime: self.config.lifetime,
            };
            // The keys move into the task, which drops each once it is encapsulated to: the
            // task can still be running when the GroupInfo's buffers make the commit's heap
            // peak (dhat: 320 kB of keys at 10,000 joiners when they were freed only at the
            // end).
            // Two jobs at once (`pool::join`): from a thread outside the pool, the other
            // thread is woken now, not once the signing side has started, so it is awake for
            // the GroupInfo's hash when the signing side offers it.
            let (signed, beside) = crate::pool::join(sign, move || {
                let encapsulations = encapsulate_to_joiners(cs, add_keys);
                let verified = beside.map(|kps| check.verify_key_package_signatures(&kps));
                (encapsulations, verified)
            });
            let (signed, (encapsulations, verified)) = (super::ran(signed)?, super::ran(beside)?);
            match (verified, retry) {
                (Some(false), Some(options)) => (
                    self.sign_commit(cs, cached.clone(), options, KeyPackageSignatures::Verify),
                    encapsulations,
                ),
                _ => (signed, encapsulations),
            }
        };
        let s = signed?;
        // Cached Adds left out of the commit have their encapsulations discarded (`s.cached`
        // is `cached` less the dropped, in the same order).
        if s.cached.len() != cached.len() {
            let mut survivors = s.cached.iter().peekable();
            let mut keep = Vec::with_capacity(encapsulations.len());
            for c in &cached {
                let survived = survivors.next_if(|k| std::ptr::eq(**k, *c)).is_some();
                if matches!(c.proposal, Proposal::Add(_)) {
                    keep.push(survived);
                }
            }
            let mut flags = keep.into_iter();
            encapsulations.retain(|_| flags.next().unwrap_or(true));
        }
        let encapsulations = encapsulations.into_iter().collect::<Result<Vec<_>, _>>()?;
        let own = self.own_leaf;

        // The Welcome is sealed before the commit is framed: it reads the added KeyPackages
        // where they now live, in the Commit's proposal list (§12.4.3.1).
        let welcome = match s.welcome {
            None => None,
            Some(pending) => {
                let FramedContentBody::Commit(commit_body) = &s.ac.content.body else {
                    return Err(GroupError::codec(
                        "commit",
                        tls_codec::Error::DecodingError("not a commit".into()),
                    ));
                };
                // The Adds in list order (cached by reference first, then by value): the
                // order `validate_and_apply` added their leaves in.
                let mut by_ref = s.cached.iter().map(|c| &c.proposal);
                let added_kps = commit_body.proposals.iter().filter_map(|p| {
                    let proposal = match p {
                        ProposalOrRef::Reference(_) => by_ref.next()?,
                        ProposalOrRef::Proposal(p) => p,
                    };
                    match proposal {
                        Proposal::Add(a) => Some(&a.key_package),
                        _ => None,
                    }
                });
                let joiners: Vec<(&KeyPackage, Option<Secret>)> =
                    added_kps.zip(s.joiner_path_secrets).collect();
                if joiners.len() != s.added.len() {
                    return Err(GroupError::codec(
                        "commit",
                        tls_codec::Error::DecodingError("added leaves without KeyPackages".into()),
                    ));
                }
                let content = WelcomeContent {
                    joiner_secret: &s.joiner,
                    psks: &s.psks,
                };
                Some(pending.seal(cs, &content, &joiners, encapsulations)?)
            }
        };
        // As a PrivateMessage, with a handshake key lent by the epoch being left.
        let commit = self.frame_tagged(cs, s.ac, s.membership_tag)?;
        let keys = EpochKeys::new(s.secrets, s.tree.size().leaves(), &self.config)?;
        let group_info = if group_info_for_external {
            let (_, external_pub) = cs.kem_derive(keys.external_secret.as_bytes())?;
            let gi = build_group_info(
                cs,
                &s.ctx,
                &s.tag,
                own,
                &self.signer,
                Some(&s.tree),
                Some(external_pub),
            )?;
            Some(MlsMessage::new(MlsMessageBody::GroupInfo(gi)))
        } else {
            None
        };
        let staged = StagedCommit {
            base_epoch: self.context.epoch,
            group_id: self.group_id().to_vec(),
            context: s.ctx,
            tree: s.tree,
            interim: s.interim,
            confirmation_tag: s.tag,
            keys: Some(keys),
            own_keys: s.own_keys,
            touched: s.touched,
            reinit: s.reinit,
            removed_self: false,
            sender: Sender::Member(own.0),
            added: s.added,
            removed: s.removed,
            updated: s.updated,
            psks: s.psks,
            has_path: s.has_path,
        };
        Ok(CommitOutput {
            commit,
            welcome,
            group_info,
            staged,
            dropped: s.dropped,
        })
    }

    /// [`Group::commit`] up to the Welcome's seals, on the caller's thread: validating and
    /// applying the proposals (dropping cached ones that cannot be committed), the path, the
    /// tree hash, signing, the transcript and key schedule, the confirmation and membership
    /// tags, and the Welcome's GroupInfo (§12.4.1, §12.4.3). `cached` are the cached
    /// proposals offered for the commit.
    fn sign_commit<'g>(
        &'g self,
        cs: &dyn CipherSuiteProvider,
        mut cached: Vec<&'g super::CachedProposal>,
        options: CommitOptions,
        kp_signatures: KeyPackageSignatures,
    ) -> Result<Signed<'g>, GroupError> {
        self.check_suite(cs)?;
        self.check_active()?;
        let own = self.own_leaf;
        let sender = Sender::Member(own.0);
        let mut dropped = Vec::new();
        // A cached PreSharedKey whose secret this member does not hold cannot be committed: it
        // is left out (§12.2), not allowed to fail the commit, which would let any member stop
        // every commit of the epoch with one unknown PSK id.
        cached.retain(|c| match &c.proposal {
            Proposal::PreSharedKey(p) => match self.psk_secret(cs, std::slice::from_ref(&p.psk)) {
                Ok(_) => true,
                Err(e) => {
                    dropped.push((c.proposal_ref.clone(), e));
                    false
                }
            },
            _ => true,
        });
        // RFC 9420 §12.2, §12.4: the committer includes the valid proposals it received and
        // leaves out those it cannot commit (invalid on their own, conflicting with another,
        // or a ReInit among others). A cached proposal blamed by validation is dropped and
        // the list validated again (at most once per cached proposal); an error blamed on
        // `options.proposals`, or on no single proposal, is returned.
        let (applied, mut tree) = loop {
            let total = cached.len() + options.proposals.len();
            let mut list: Vec<Resolved> = Vec::with_capacity(total);
            for c in &cached {
                list.push(Resolved {
                    proposal: &c.proposal,
                    sender: c.sender,
                    proposal_ref: Some(c.proposal_ref.0.to_vec()),
                });
            }
            for p in &options.proposals {
                list.push(Resolved {
                    proposal: p,
                    sender,
                    proposal_ref: None,
                });
            }
            let mut tree = self.tree.stage();
            match self.validate_and_apply(
                cs,
                &mut tree,
                &list,
                Committer::Member(own),
                kp_signatures,
            ) {
                Ok(applied) => break (applied, tree),
                Err(e) => match e {
                    GroupError::Protocol(ProtocolError::Proposal { index: Some(i), .. })
                        if i < cached.len() =>
                    {
                        let c = cached.remove(i);
                        dropped.push((c.proposal_ref.clone(), e));
                    }
                    _ => return Err(e),
                },
            }
        };
        let mut ctx = self.next_context(&applied);
        let added: Vec<LeafIndex> = applied.added.iter().map(|(l, _)| *l).collect();
        let mut touched = applied.touched.clone();
        // What is needed of `applied` later, owned: it borrows the proposals, which move
        // into the Commit below (no copy of the KeyPackages).
        let path_required = applied.path_required;
        let psks = applied.psks.clone();
        let reinit = applied.reinit.clone();
        let removed = applied.removed.clone();
        let updated: Vec<LeafIndex> = applied.updated.iter().map(|(l, _)| *l).collect();
        drop(applied);
        let refs: Vec<ProposalOrRef> = cached
            .iter()
            .map(|c| ProposalOrRef::Reference(c.proposal_ref.clone()))
            .chain(options.proposals.into_iter().map(ProposalOrRef::Proposal))
            .collect();

        let mut commit_secret = Secret::zero(cs.hash_len());
        let mut own_keys = self.own_keys.clone();
        let mut path_secrets: Vec<(NodeIndex, Secret)> = Vec::new();
        let path = if path_required || options.force_path {
            let leaf = tree
                .leaf(own)
                .cloned()
                .ok_or(MisuseError::NotAMember(own))?;
            touched.push(own.node());
            touched.extend(tree.size().direct_path(own.node()));
            let pending =
                tree.generate_update_path(cs, own, leaf, &self.signer, self.group_id())?;
            ctx.tree_hash = VarBytes(tree.tree_hash(cs)?);
            let generated = pending.encrypt(cs, &tree, &added, &encode(&ctx)?)?;
            commit_secret = generated.commit_secret;
            own_keys.keys.clear();
            let leaf_pk: HpkePublicKey = generated.update_path.leaf_node.encryption_key().into();
            if let Some(sk) = generated.private_keys.get(own.node()) {
                own_keys.keys.insert(own.node().0, (sk.clone(), leaf_pk));
            }
            for ((n, _), upn) in generated
                .path_secrets
                .iter()
                .zip(generated.update_path.nodes.iter())
            {
                if let Some(sk) = generated.private_keys.get(*n) {
                    own_keys
                        .keys
                        .insert(n.0, (sk.clone(), upn.encryption_key.clone()));
                }
            }
            path_secrets = generated.path_secrets;
            Some(generated.update_path)
        } else {
            ctx.tree_hash = VarBytes(tree.tree_hash(cs)?);
            None
        };
        own_keys.retain_valid(&tree);

        // Sign, then the transcript and key schedule, then the confirmation tag (§6.1,
        // §8).
        let wire_format = if self.config.encrypt_handshake {
            WireFormat::PRIVATE_MESSAGE
        } else {
            WireFormat::PUBLIC_MESSAGE
        };
        let has_path = path.is_some();
        let content = FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender,
            authenticated_data: VarBytes(options.authenticated_data.clone()),
            body: FramedContentBody::Commit(Commit {
                proposals: VarVec(refs),
                path,
            }),
        };
        let (sc, auth) = self.sign_own_content(cs, wire_format, &content)?;
        let mut ac = AuthenticatedContent {
            wire_format,
            content,
            auth,
        };
        let confirmed = confirmed_transcript_hash_from_tbs(
            cs,
            &self.interim_transcript_hash,
            &ac,
            sc.content()?,
        )?;
        ctx.confirmed_transcript_hash = VarBytes(confirmed.clone());
        let psk_secret = self.psk_secret(cs, &psks)?;
        let (joiner, welcome_secret, secrets) = advance_epoch(
            cs,
            InitSecret::new(self.keys.init_secret.clone()),
            &commit_secret,
            &psk_secret,
            &encode(&ctx)?,
        )?;
        let tag = confirmation_tag(cs, &secrets.confirmation_key, &confirmed);
        let interim = interim_transcript_hash(cs, &confirmed, &tag)?;
        ac.auth.confirmation_tag = Some(tag.clone());
        // The membership tag now, so the commit's TBS (as large as the commit) is freed
        // before the Welcome is built.
        let membership_tag = self.own_membership_tag(cs, sc, &ac)?;

        // Each joiner gets the path secret of its common ancestor with us (§12.4.3.1).
        let joiner_path_secrets: Vec<Option<Secret>> = added
            .iter()
            .map(|leaf| {
                let lca = tree.size().common_ancestor(own.node(), leaf.node());
                path_secrets
                    .iter()
                    .find(|(n, _)| *n == lca)
                    .map(|(_, s)| s.clone())
            })
            .collect();
        let welcome = if added.is_empty() {
            None
        } else {
            let content = WelcomeContent {
                joiner_secret: &joiner,
                psks: &psks,
            };
            let gi = WelcomeGroupInfo {
                context: &ctx,
                tag: &tag,
                signer_leaf: own,
                signer: &self.signer,
                tree: options.ratchet_tree_in_welcome.then_some(&tree),
                welcome_secret: &welcome_secret,
            };
            Some(PendingWelcome::new(
                cs,
                &gi,
                &content,
                &joiner_path_secrets,
            )?)
        };
        Ok(Signed {
            cached,
            dropped,
            added,
            psks,
            reinit,
            removed,
            updated,
            ctx,
            tree,
            touched,
            own_keys,
            ac,
            membership_tag,
            joiner,
            secrets,
            tag,
            interim,
            has_path,
            joiner_path_secrets,
            welcome,
        })
    }

    /// Replaces the private key this member signs with. A test hook for building messages
    /// signed with the wrong key (e.g. a late message forged with a member's later key); not
    /// for production use.
    #[cfg(feature = "test-hooks")]
    pub fn replace_signer_for_tests(&mut self, signer: Secret) {
        self.signer = signer;
    }

    /// Signs and frames arbitrary content as this member in a PublicMessage, with
    /// `confirmation_tag` (for commits). A test hook for building invalid messages; not for
    /// production use.
    #[cfg(feature = "test-hooks")]
    pub fn sign_and_frame_for_tests(
        &self,
        cs: &dyn CipherSuiteProvider,
        content: FramedContent,
        confirmation_tag: Option<Mac>,
    ) -> Result<MlsMessage, GroupError> {
        self.sign_and_frame_as_for_tests(cs, WireFormat::PUBLIC_MESSAGE, content, confirmation_tag)
    }

    /// [`Group::sign_and_frame_for_tests`] in `wire_format`: a PrivateMessage is encrypted
    /// with this member's next handshake key. A test hook; not for production use.
    #[cfg(feature = "test-hooks")]
    pub fn sign_and_frame_as_for_tests(
        &self,
        cs: &dyn CipherSuiteProvider,
        wire_format: WireFormat,
        content: FramedContent,
        confirmation_tag: Option<Mac>,
    ) -> Result<MlsMessage, GroupError> {
        let (sc, mut auth) = self.sign_own_content(cs, wire_format, &content)?;
        auth.confirmation_tag = confirmation_tag;
        let ac = AuthenticatedContent {
            wire_format,
            content,
            auth,
        };
        self.frame_signed(cs, sc, ac)
    }

    /// Signs our `content` for `wire_format` (§6.1): the SignContent (kept: its content is
    /// the TBS a membership tag covers) and the auth data, without a confirmation tag.
    pub(crate) fn sign_own_content(
        &self,
        cs: &dyn CipherSuiteProvider,
        wire_format: WireFormat,
        content: &FramedContent,
    ) -> Result<(SignContentBuf, FramedContentAuthData), GroupError> {
        let sc = framed_content_sign_content(wire_format, content, &self.context)?;
        let signature = sc.sign(cs, &self.signer)?;
        Ok((
            sc,
            FramedContentAuthData {
                signature: VarBytes(signature),
                confirmation_tag: None,
            },
        ))
    }

    /// Frames our signed content as a PublicMessage (with membership tag for members, §6.2)
    /// or a PrivateMessage (§6.3) keyed from `secret_tree`, keeping the signature already
    /// computed (for commits it entered the transcript hash).
    pub(crate) fn frame_signed(
        &self,
        cs: &dyn CipherSuiteProvider,
        sc: SignContentBuf,
        ac: AuthenticatedContent,
    ) -> Result<MlsMessage, GroupError> {
        let membership_tag = self.own_membership_tag(cs, sc, &ac)?;
        self.frame_tagged(cs, ac, membership_tag)
    }

    /// The membership tag of our signed content if it goes out as a PublicMessage from a
    /// member (§6.2): the MAC of its TBS `sc` followed by its auth data. Consumes `sc`, so a
    /// large commit's TBS can be freed as soon as its tag exists.
    pub(crate) fn own_membership_tag(
        &self,
        cs: &dyn CipherSuiteProvider,
        mut sc: SignContentBuf,
        ac: &AuthenticatedContent,
    ) -> Result<Option<Mac>, GroupError> {
        if ac.wire_format == WireFormat::PRIVATE_MESSAGE {
            return Ok(None);
        }
        Ok(match ac.content.sender {
            Sender::Member(_) => {
                let key = self.keys.membership_key.as_bytes();
                Some(Mac(VarBytes(
                    sc.with_suffix(&ac.auth, |tbm| cs.mac(key, tbm))?,
                )))
            }
            _ => None,
        })
    }

    /// [`Group::frame_signed`] with the membership tag already computed
    /// ([`Group::own_membership_tag`]). A PrivateMessage is encrypted with the next handshake
    /// key not lent yet, read from the secret tree, and its generation is recorded as lent
    /// ([`super::LentGenerations`]): the tree is neither changed nor copied.
    pub(crate) fn frame_tagged(
        &self,
        cs: &dyn CipherSuiteProvider,
        ac: AuthenticatedContent,
        membership_tag: Option<Mac>,
    ) -> Result<MlsMessage, GroupError> {
        if ac.wire_format == WireFormat::PRIVATE_MESSAGE {
            let mp = self.protection(cs);
            let (own, kind) = (self.own_leaf, RatchetKind::Handshake);
            let tree = &self.keys.secret_tree;
            let generation = self
                .keys
                .handshake_lent
                .lend(tree.next_generation(own, kind));
            let pm = mp.protect_private_signed_at(
                tree,
                generation,
                ac.content,
                ac.auth,
                self.config.padding,
            )?;
            return Ok(MlsMessage::new(MlsMessageBody::PrivateMessage(pm)));
        }
        Ok(MlsMessage::new(MlsMessageBody::PublicMessage(
            PublicMessage {
                content: ac.content,
                auth: ac.auth,
                membership_tag,
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bundle, cs, group};
    use super::*;
    use crate::messages::{Add, GroupContextExtensions, Remove};

    /// The generation `g`'s PrivateMessage `m` of the current epoch was sent with (§6.3.2).
    fn sent_generation(g: &Group, m: &MlsMessage) -> u32 {
        let MlsMessageBody::PrivateMessage(pm) = &m.body else {
            panic!("not a PrivateMessage")
        };
        let (key, nonce) =
            crate::framing::sender_data_key_nonce(cs(), &g.keys.sender_data_secret, &pm.ciphertext)
                .unwrap();
        let aad = encode(&crate::messages::SenderDataAad {
            group_id: pm.group_id.clone(),
            epoch: pm.epoch,
            content_type: pm.content_type,
        })
        .unwrap();
        let plain = cs()
            .aead_open(
                key.as_bytes(),
                nonce.as_bytes(),
                &aad,
                &pm.encrypted_sender_data,
            )
            .unwrap();
        crate::codec::decode_exact::<crate::messages::SenderData>(&plain)
            .unwrap()
            .generation
    }

    #[test]
    fn private_handshake_messages_never_reuse_a_generation() {
        // Commits are built from `&self`: one built and discarded must not leave its key to
        // the next commit or proposal of the same epoch (§9.2).
        let mut g = group(cs(), 3);
        g.config.encrypt_handshake = true;
        let forced = || CommitOptions {
            force_path: true,
            include_pending: false,
            ..CommitOptions::default()
        };
        let first = g.commit(cs(), forced()).unwrap();
        let second = g.commit(cs(), forced()).unwrap();
        assert_eq!(sent_generation(&g, &first.commit), 0);
        assert_eq!(sent_generation(&g, &second.commit), 1);
        let (proposal, _) = g
            .propose(cs(), Proposal::Remove(Remove { removed: 2 }))
            .unwrap();
        assert_eq!(sent_generation(&g, &proposal), 2);
        let third = g.commit(cs(), forced()).unwrap();
        assert_eq!(sent_generation(&g, &third.commit), 3);
        // Commits built at once on two threads get two generations.
        let (x, y) = rayon::join(
            || g.commit(cs(), forced()).unwrap(),
            || g.commit(cs(), forced()).unwrap(),
        );
        let mut both = [
            sent_generation(&g, &x.commit),
            sent_generation(&g, &y.commit),
        ];
        both.sort_unstable();
        assert_eq!(both, [4, 5]);
        // A copy of the group carries what was lent; the next epoch starts again at 0.
        assert_eq!(g.clone().keys.handshake_lent.next(), 6);
        g.merge_staged_commit(third.staged).unwrap();
        let next = g.commit(cs(), forced()).unwrap();
        assert_eq!(sent_generation(&g, &next.commit), 0);
    }

    fn commit_with(g: &Group, proposals: Vec<Proposal>) -> CommitOutput {
        g.commit(
            cs(),
            CommitOptions {
                proposals,
                include_pending: false,
                ..CommitOptions::default()
            },
        )
        .unwrap()
    }

    /// §12.4: a path is sent exactly when required (empty list, Update, Remove,
    /// GroupContextExtensions) or forced.
    #[test]
    fn path_required_rules() {
        let cs = cs();
        let g = group(cs, 3);
        assert!(commit_with(&g, vec![]).staged.has_path);
        let add = Proposal::Add(Add {
            key_package: bundle(cs, "x").key_package,
        });
        let out = commit_with(&g, vec![add.clone()]);
        assert!(!out.staged.has_path && out.welcome.is_some());
        assert!(
            commit_with(&g, vec![Proposal::Remove(Remove { removed: 1 })])
                .staged
                .has_path
        );
        let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec::default(),
        });
        assert!(commit_with(&g, vec![gce]).staged.has_path);
        let forced = g
            .commit(
                cs,
                CommitOptions {
                    proposals: vec![add],
                    force_path: true,
                    include_pending: false,
                    ..CommitOptions::default()
                },
            )
            .unwrap();
        assert!(forced.staged.has_path);
    }

    /// The one-buffer GroupInfo is the GroupInfo of `build_group_info`, encoded and
    /// encrypted: byte for byte where signatures are deterministic (Ed25519, Ed448), and
    /// otherwise the same fields with a signature that verifies. With and without the tree,
    /// for a tree whose encoding needs a 4-byte length header, in every suite.
    /// The GroupInfo is signed beside its encryption when it is large and its Welcome's
    /// entries are small: adding one member to 10,000, not adding all of them.
    #[test]
    fn overlap_is_for_large_group_infos_to_few_joiners() {
        let group_info = 1_760_000;
        assert!(overlap_pays(group_info, 150));
        assert!(overlap_pays(group_info, 150 * 1_000));
        assert!(!overlap_pays(group_info, 120 * 9_999));
        assert!(!overlap_pays(OVERLAP_MIN_LEN - 1, 0));
        assert!(overlap_pays(OVERLAP_MIN_LEN, 0));
        assert!(!overlap_pays(group_info, usize::MAX));
    }

    /// A welcome secret from a fixed joiner secret and no PSK.
    fn fixed_welcome_secret(cs: &dyn CipherSuiteProvider) -> WelcomeSecret {
        use crate::key_schedule::JoinerSecret;
        use crate::psk::PskSecret;
        JoinerSecret::new(Secret::from_slice(&[7; 64][..cs.hash_len()]))
            .member_secret(cs, &PskSecret::zero(cs))
            .welcome_secret(cs)
            .unwrap()
    }

    /// The GroupInfo encrypted in `one`, checked as a joiner checks it: `prepared` is the
    /// HPKE `info` of exactly these bytes (however they were hashed), they decrypt under the
    /// welcome key and nonce, and the signature verifies under leaf 0's key in `tree`.
    fn open_checked(
        cs: &dyn CipherSuiteProvider,
        one: &[u8],
        prepared: &PreparedInfo,
        (key, nonce): (&Secret, &Secret),
        tree: &Tree,
        what: &str,
    ) -> GroupInfo {
        assert_eq!(
            prepared.key_schedule_context(),
            prepare_encrypt_with_label(cs, "Welcome", one)
                .unwrap()
                .key_schedule_context(),
            "{what}"
        );
        let plain = cs
            .aead_open(key.as_bytes(), nonce.as_bytes(), b"", one)
            .unwrap();
        let decoded: GroupInfo = crate::codec::decode_exact(&plain).unwrap();
        crate::welcome::verify_group_info_signature(
            cs,
            &decoded,
            tree.leaf(LeafIndex(0)).unwrap().signature_key(),
        )
        .unwrap();
        decoded
    }

    #[test]
    fn one_buffer_group_info_is_the_group_info() {
        use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
        let p: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
        for suite in CipherSuite::ALL {
            let cs = p.suite(suite).unwrap();
            // Suite 1's tree is over 64 KiB: signed beside its encryption, with a hedged
            // Ed25519 nonce, unless forced otherwise.
            let n = if suite == CipherSuite(1) { 450 } else { 3 };
            let g = group(cs, n);
            if n > 100 {
                assert!(g.tree.wire_layout().unwrap().encoded_len() > OVERLAP_MIN_LEN);
            }
            let welcome_secret = fixed_welcome_secret(cs);
            let (key, nonce) = welcome_secret.key_and_nonce(cs).unwrap();
            let tag = Mac(VarBytes(vec![5; cs.hash_len()]));
            for ((tree, front), overlap) in [
                (Some(&g.tree), 0),
                (None, 0),
                (Some(&g.tree), 7),
                (None, 300),
            ]
            .into_iter()
            .flat_map(|case| [None, Some(false), Some(true)].map(|o| (case, o)))
            {
                let what = format!("suite {suite:?}, front {front}, overlap {overlap:?}");
                let built =
                    build_group_info(cs, &g.context, &tag, LeafIndex(0), &g.signer, tree, None)
                        .unwrap();
                let signing = WelcomeGroupInfo {
                    context: &g.context,
                    tag: &tag,
                    signer_leaf: LeafIndex(0),
                    signer: &g.signer,
                    tree,
                    welcome_secret: &welcome_secret,
                };
                let EncryptedGroupInfo {
                    buf: mut one,
                    prepared,
                } = encrypted_group_info_with(cs, &signing, front, overlap).unwrap();
                // The room asked for precedes it, whether smaller or larger than the room
                // signing needs.
                let one = one.split_off(front);
                let decoded = open_checked(cs, &one, &prepared, (&key, &nonce), &g.tree, &what);
                let mut unsigned = decoded.clone();
                unsigned.signature = built.signature.clone();
                assert_eq!(unsigned, built, "{what}");
                // EdDSA below the hedged length is deterministic: the same bytes as
                // encrypting the GroupInfo built apart.
                let hedged = suite.0 == 1 && tree.is_some();
                if matches!(suite.0, 1 | 3 | 4 | 6) && !hedged {
                    assert_eq!(decoded.signature, built.signature);
                    let sealed = cs
                        .aead_seal(
                            key.as_bytes(),
                            nonce.as_bytes(),
                            b"",
                            &encode(&built).unwrap(),
                        )
                        .unwrap();
                    assert_eq!(one, sealed, "{what}");
                }
            }
        }
    }

    /// The GroupInfo whose tree is hashed behind its writer is the GroupInfo: in suite 1
    /// (AES-GCM, encrypted while it is signed) and suite 3 (ChaCha20-Poly1305, no late tail:
    /// encrypted whole once signed) it decrypts to `build_group_info`'s fields with a
    /// signature that verifies, and the prepared `info` is the encrypted GroupInfo's. It is
    /// declined when the GroupContext does not carry the tree's current hash, and for a
    /// GroupInfo too small for a signature in pieces. On the shared pool, whose second
    /// thread takes the hash, and on a pool of one thread, where the writer hashes every
    /// piece itself (the second task runs only after it).
    #[test]
    fn a_group_info_hashed_behind_its_tree_writer_is_the_group_info() {
        streamed_group_info_is_the_group_info();
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(streamed_group_info_is_the_group_info);
    }

    fn streamed_group_info_is_the_group_info() {
        use crate::codec::varint_len;
        use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
        use tls_codec::Size as _;
        let p = AwsLcProvider::new();
        for (suite, n, streams) in [(1, 450, true), (3, 450, true), (1, 3, false)] {
            let cs = p.suite(CipherSuite(suite)).unwrap();
            let mut g = group(cs, n);
            g.tree.update_hashes(cs).unwrap();
            let welcome_secret = fixed_welcome_secret(cs);
            let (key, nonce) = welcome_secret.key_and_nonce(cs).unwrap();
            let tag = Mac(VarBytes(vec![5; cs.hash_len()]));
            let layout = g.tree.wire_layout().unwrap();
            let extension_len =
                2 + varint_len(layout.encoded_len()).unwrap() + layout.encoded_len();
            let tbs_len = g.context.tls_serialized_len()
                + varint_len(extension_len).unwrap()
                + extension_len
                + tag.tls_serialized_len()
                + 4;
            let stream = |context: &GroupContext, front: usize| {
                let gi = WelcomeGroupInfo {
                    context,
                    tag: &tag,
                    signer_leaf: LeafIndex(0),
                    signer: &g.signer,
                    tree: Some(&g.tree),
                    welcome_secret: &welcome_secret,
                };
                let parts = StreamedParts {
                    gi: &gi,
                    tree: &g.tree,
                    layout: &layout,
                    extension_len,
                    tbs_len,
                };
                streamed_group_info(cs, &parts, front, 64).unwrap()
            };
            let mut stale = g.context.clone();
            stale.tree_hash = VarBytes(vec![0; cs.hash_len()]);
            assert!(stream(&stale, 0).is_none(), "suite {suite}");
            let Some(EncryptedGroupInfo { buf, prepared }) = stream(&g.context, 5) else {
                assert!(!streams, "suite {suite}, {n} members: not streamed");
                continue;
            };
            assert!(streams, "suite {suite}, {n} members: streamed");
            let what = format!("suite {suite}");
            let decoded = open_checked(cs, &buf[5..], &prepared, (&key, &nonce), &g.tree, &what);
            let built = build_group_info(
                cs,
                &g.context,
                &tag,
                LeafIndex(0),
                &g.signer,
                Some(&g.tree),
                None,
            )
            .unwrap();
            let mut unsigned = decoded;
            unsigned.signature = built.signature.clone();
            assert_eq!(unsigned, built, "suite {suite}");
        }
    }

    /// A GroupInfo's nonce is bound to the message without its tree only when the
    /// GroupContext carries the current hash of that tree: the parts and the tree's bytes
    /// are then the whole message, and the signature made with them verifies; a stale cache
    /// or another tree hash means no binding (the nonce hashes the message).
    #[test]
    fn the_group_info_nonce_is_bound_only_to_the_tree_its_context_hashes() {
        use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
        let p = AwsLcProvider::new();
        let cs = p.suite(CipherSuite(1)).unwrap();
        let mut g = group(cs, 450);
        g.tree.update_hashes(cs).unwrap();
        let wire = g.tree.wire_layout().unwrap();
        let mut tree = Vec::new();
        g.tree.write_wire(&wire, &mut tree).unwrap();
        assert!(tree.len() >= OVERLAP_MIN_LEN);
        let (head, tail) = (b"GroupInfoTBS head".to_vec(), b"tag, signer".to_vec());
        let msg = [head.clone(), tree.clone(), tail.clone()].concat();
        let at = head.len()..head.len() + tree.len();
        let parts = tree_nonce_binding(&msg, at.clone(), &g.tree, &g.context).unwrap();
        assert_eq!(parts, [&head[..], &tail[..]]);
        let signer_key = g.tree.leaf(LeafIndex(0)).unwrap().signature_key().to_vec();
        let sig = cs
            .sign_beside(&g.signer, &msg, Some(&parts), &mut || {})
            .unwrap();
        cs.verify(&signer_key, &msg, &sig).unwrap();
        // Another tree hash in the context: no binding.
        let mut other = g.context.clone();
        other.tree_hash = VarBytes(vec![0; cs.hash_len()]);
        assert!(tree_nonce_binding(&msg, at.clone(), &g.tree, &other).is_none());
        // A change not yet hashed: no binding, until the cache is brought up to date (and the
        // context then carries the new hash).
        let leaf = g.tree.leaf(LeafIndex(1)).unwrap().clone();
        let mut changed = g.tree.clone();
        changed.blank_direct_path(LeafIndex(1));
        changed.set_leaf(LeafIndex(1), leaf).unwrap();
        assert!(tree_nonce_binding(&msg, at.clone(), &changed, &g.context).is_none());
        let rehashed = changed.tree_hash(cs).unwrap();
        let mut context = g.context.clone();
        context.tree_hash = VarBytes(rehashed);
        assert!(tree_nonce_binding(&msg, at, &changed, &context).is_some());
    }

    /// The Welcome built in one buffer is a well-formed `MLSMessage(Welcome)` in every suite
    /// (P-521's 133-byte encapsulations, ECDSA's signatures of varying length): it decodes
    /// and re-encodes to itself, its ranges are the decoded fields, and every joiner joins
    /// from it, with and without a path secret, for a GroupInfo under 16 KiB (a 2-byte length
    /// header: the message starts after unused room) and, in suite 1, one over it.
    #[test]
    fn welcome_message_is_a_welcome_in_every_suite() {
        use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
        use crate::group::test_support::bundle;
        use crate::group::{GroupConfig, JoinOptions};
        let p: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
        for suite in CipherSuite::ALL {
            let cs = p.suite(suite).unwrap();
            let config = || GroupConfig::default().at_time(1_000);
            let mut g =
                Group::create(cs, &bundle(cs, "alice"), b"g".to_vec(), vec![], config()).unwrap();
            let rounds: &[(usize, bool)] = if suite == CipherSuite(1) {
                &[(2, false), (3, true), (120, false)]
            } else {
                &[(2, false), (3, true)]
            };
            for (round, &(adds, force_path)) in rounds.iter().enumerate() {
                let joiners: Vec<_> = (0..adds)
                    .map(|i| bundle(cs, &format!("r{round} m{i}")))
                    .collect();
                let out = g
                    .commit(
                        cs,
                        CommitOptions {
                            proposals: joiners
                                .iter()
                                .map(|b| {
                                    Proposal::Add(crate::messages::Add {
                                        key_package: b.key_package.clone(),
                                    })
                                })
                                .collect(),
                            force_path,
                            ..CommitOptions::default()
                        },
                    )
                    .unwrap();
                g.merge_staged_commit(out.staged).unwrap();
                let w = out.welcome.unwrap();
                let m = w.to_message().unwrap();
                assert_eq!(m.to_bytes().unwrap(), w.as_bytes(), "suite {suite:?}");
                let MlsMessageBody::Welcome(decoded) = m.body else {
                    panic!("not a Welcome")
                };
                assert_eq!(decoded.cipher_suite, suite);
                assert_eq!(w.cipher_suite(), suite);
                assert_eq!(
                    decoded.encrypted_group_info.as_slice(),
                    w.encrypted_group_info()
                );
                assert_eq!(decoded.secrets.len(), adds);
                assert_eq!(crate::welcome::WelcomeRef::from(&w).secrets_len(), adds);
                let small = w.encrypted_group_info().len() < 16_384;
                assert_eq!(small, round < 2, "suite {suite:?} round {round}");
                for b in &joiners {
                    let joined = Group::join(
                        cs,
                        &w,
                        b,
                        JoinOptions {
                            config: config(),
                            ..JoinOptions::default()
                        },
                    )
                    .unwrap();
                    assert_eq!(joined.epoch_authenticator(), g.epoch_authenticator());
                }
                assert_eq!(w.clone().into_bytes(), w.as_bytes());
            }
        }
    }

    /// A staged commit is merged only into the epoch it was built on.
    #[test]
    fn stale_staged_commit() {
        let cs = cs();
        let mut g = group(cs, 2);
        let a = commit_with(&g, vec![]);
        let b = commit_with(&g, vec![]);
        g.merge_staged_commit(a.staged).unwrap();
        assert_eq!(
            g.merge_staged_commit(b.staged),
            Err(MisuseError::StaleStagedCommit.into())
        );
    }
}
