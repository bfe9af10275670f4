//! The MLS group (RFC 9420 §8, §11, §12): one member's view of one group, epoch by epoch.
//!
//! [`Group`] owns the current epoch: the GroupContext, the ratchet tree, the interim
//! transcript hash, the epoch's secrets and secret tree, our leaf and private keys, the
//! proposals received this epoch, a bounded window of past epochs (for late application
//! messages and resumption PSKs), and the hash indexes new leaves are checked against.
//!
//! Invariants:
//! - **Never mutated in place by a commit.** A commit, ours or received, is *staged*: it is
//!   validated and the whole next epoch is built on the side ([`StagedCommit`], with the tree
//!   staged by [`Tree::stage`]). [`Group::merge_staged_commit`] swaps it in; dropping it
//!   discards it. Every error leaves the group exactly as it was.
//! - **No O(N) work per commit where O(log N) will do**: the tree is staged copy-on-write,
//!   only the changed leaves and path are validated, and key uniqueness and credential
//!   support are answered by the group's `MemberIndex`. Joining costs O(N) (one full tree
//!   validation).
//! - The core reads no clock: the time for lifetime checks is in [`GroupConfig::lifetime`].
//!
//! Submodules follow the RFC: [`key_package`] (§10), [`proposal`] (§12.1-§12.3), [`commit`]
//! (§12.4), [`join`] (§12.4.3.1), [`external`] (§12.4.3.2), [`reinit`] (§11.2-§11.3),
//! [`state`] (serialisation), [`delta`] (per-epoch state deltas), [`error`].

pub mod commit;
pub mod config;
pub mod delta;
pub mod error;
pub mod external;
pub mod join;
pub mod key_package;
pub mod proposal;
pub mod reinit;
pub mod state;

use std::collections::{BTreeMap, VecDeque};

use crate::codec::VarBytes;
use crate::crypto::labels::SignContentBuf;
use crate::crypto::{CipherSuite, CipherSuiteProvider, HpkePublicKey, Secret, SignaturePublicKey};
use crate::framing::{MessageProtection, RatchetPosition};
use crate::key_schedule::{mls_exporter, EpochSecrets};
use crate::messages::{
    AuthenticatedContent, ContentType, Extension, ExternalSenders, FramedContent,
    FramedContentBody, GroupContext, LeafNode, MlsMessage, MlsMessageBody, Node, Proposal, ReInit,
    RequiredCapabilities, Sender,
};
use crate::psk::ResumptionPskStore;
use crate::secret_tree::SecretTree;
use crate::transcript_hash::{confirmed_transcript_hash, confirmed_transcript_hash_from_tbs};
use crate::tree::{PathPrivateKeys, Tree};
use crate::tree_math::{LeafIndex, NodeIndex};

pub use commit::{CommitOptions, CommitOutput, StagedCommit};
pub use config::GroupConfig;
pub use error::{
    GroupError, IncompatibleError, InvalidProposal, JoinCheck, KeyPackageError, LeafNodeError,
    MalformedError, MisuseError, ProposalRule, ProtocolError,
};
pub use external::ExternalCommitOptions;
pub use join::JoinOptions;
pub use key_package::{
    generate_key_package, sign_leaf, validate_key_package, validate_key_packages, KeyPackageBundle,
    KeyPackageOptions,
};
pub use proposal::{external_proposal, CachedProposal};

use key_package::MemberIndex;
use proposal::ProposalCache;

/// The secrets of one epoch that the group keeps (RFC 9420 §8), with its secret tree (§9).
#[derive(Clone, Debug)]
pub(crate) struct EpochKeys {
    pub(crate) sender_data_secret: Secret,
    pub(crate) exporter_secret: Secret,
    pub(crate) external_secret: Secret,
    pub(crate) membership_key: Secret,
    pub(crate) resumption_psk: Secret,
    pub(crate) epoch_authenticator: Secret,
    pub(crate) init_secret: Secret,
    pub(crate) secret_tree: SecretTree,
    /// Handshake generations of our own ratchet that commits used this epoch.
    pub(crate) handshake_lent: LentGenerations,
}

/// The handshake generations of our own leaf's ratchet that commits used this epoch. A commit
/// is built from `&self` (staged, merged only once accepted), so as a PrivateMessage it is
/// encrypted with a key of a copy of the secret tree; a key is used once (RFC 9420 §9.2), so
/// the next handshake message we send, a commit built again after one was discarded or a
/// proposal, starts after the generations lent here. Not kept by [`Group::to_bytes`]: a group
/// restored from bytes starts again from its secret tree.
#[derive(Debug, Default)]
pub(crate) struct LentGenerations(std::sync::atomic::AtomicU32);

impl Clone for LentGenerations {
    fn clone(&self) -> Self {
        Self(std::sync::atomic::AtomicU32::new(self.next()))
    }
}

impl LentGenerations {
    /// The first generation not lent.
    pub(crate) fn next(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Lends the first generation at or after `floor` (the secret tree's own next one) that
    /// no commit was lent, and returns it. Atomic: commits built at once on other threads
    /// get other generations.
    pub(crate) fn lend(&self, floor: u32) -> u32 {
        use std::sync::atomic::Ordering;
        let mut lent = floor;
        // The closure always returns `Some`, so the update cannot fail.
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| {
                lent = next.max(floor);
                Some(lent.saturating_add(1))
            });
        lent
    }
}

impl EpochKeys {
    /// Keeps an epoch's secrets; the encryption secret moves into a secret tree of
    /// `n_leaves` leaves.
    pub(crate) fn new(
        mut secrets: EpochSecrets,
        n_leaves: u32,
        config: &GroupConfig,
    ) -> Result<Self, GroupError> {
        let init_secret = secrets.take_init_secret().as_secret().clone();
        let encryption_secret = std::mem::take(&mut secrets.encryption_secret);
        Ok(Self {
            secret_tree: SecretTree::new(encryption_secret, n_leaves, config.secret_tree)?,
            sender_data_secret: secrets.sender_data_secret,
            exporter_secret: secrets.exporter_secret,
            external_secret: secrets.external_secret,
            membership_key: secrets.membership_key,
            resumption_psk: secrets.resumption_psk,
            epoch_authenticator: secrets.epoch_authenticator,
            init_secret,
            handshake_lent: LentGenerations::default(),
        })
    }
}

/// A retained past epoch: enough to open and verify late application messages (RFC 9420
/// §6.3.2, §15.2): its context, secrets, secret tree, and its members' signature keys.
///
/// The members are the epoch's own tree, a copy-on-write clone ([`Tree::stage`]: one
/// reference count per 4,096 nodes, sharing every chunk later epochs did not change), so a
/// member who updated or left since is verified with the key it had in that epoch.
/// `signer_overrides` is empty for epochs retired in memory; a group loaded from bytes
/// rebuilds each past epoch as the loaded tree plus the leaves whose signature key differed
/// (`None`: blank in that epoch).
#[derive(Clone, Debug)]
pub(crate) struct PastEpoch {
    pub(crate) context: GroupContext,
    pub(crate) sender_data_secret: Secret,
    pub(crate) membership_key: Secret,
    pub(crate) secret_tree: SecretTree,
    pub(crate) tree: Tree,
    pub(crate) signer_overrides: BTreeMap<u32, Option<SignaturePublicKey>>,
}

impl PastEpoch {
    /// The signature key of `leaf` in this epoch.
    pub(crate) fn signature_key(&self, leaf: LeafIndex) -> Option<SignaturePublicKey> {
        match self.signer_overrides.get(&leaf.0) {
            Some(k) => k.clone(),
            None => self.tree.leaf(leaf).map(|l| l.signature_key().into()),
        }
    }

    /// The number of leaf positions this epoch knows about (tree or overrides).
    pub(crate) fn leaf_span(&self) -> u32 {
        let overrides = self
            .signer_overrides
            .keys()
            .next_back()
            .map_or(0, |l| l + 1);
        self.tree.size().leaves().max(overrides)
    }
}

/// Our private HPKE keys: our leaf's and those of parent nodes we know, each with its public
/// key so stale keys are dropped when the tree changes (O(log N) per commit).
#[derive(Clone, Debug, Default)]
pub(crate) struct OwnKeys {
    pub(crate) keys: BTreeMap<u32, (Secret, HpkePublicKey)>,
}

impl OwnKeys {
    /// The keys as the tree module wants them.
    pub(crate) fn path_keys(&self, leaf: LeafIndex) -> PathPrivateKeys {
        let leaf_key = self
            .keys
            .get(&leaf.node().0)
            .map(|(s, _)| s.clone())
            .unwrap_or_default();
        let mut out = PathPrivateKeys::new(leaf, leaf_key);
        for (&n, (s, _)) in &self.keys {
            if n != leaf.node().0 {
                out.insert(NodeIndex(n), s.clone());
            }
        }
        out
    }

    /// Drops keys whose node no longer carries the matching public key in `tree`.
    pub(crate) fn retain_valid(&mut self, tree: &Tree) {
        self.keys.retain(|&n, (_, pk)| {
            tree.node(NodeIndex(n))
                .is_some_and(|node| node_public_key(node) == pk.as_slice())
        });
    }
}

pub(crate) fn node_public_key(node: &Node) -> &[u8] {
    match node {
        Node::Leaf(l) => l.encryption_key(),
        Node::Parent(p) => &p.encryption_key,
    }
}

/// What processing a message produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessedMessage {
    /// A proposal, now cached for this epoch under its reference.
    Proposal(Box<CachedProposal>),
    /// A commit, validated and staged: merge it with [`Group::merge_staged_commit`].
    Commit(Box<StagedCommit>),
    /// Application data from a member.
    Application {
        /// The sender's leaf.
        sender: LeafIndex,
        /// The epoch it was sent in.
        epoch: u64,
        /// The data.
        data: Vec<u8>,
        /// The authenticated data.
        authenticated_data: Vec<u8>,
    },
}

/// One member's state of one MLS group. See the module documentation.
#[derive(Clone, Debug)]
pub struct Group {
    pub(crate) config: GroupConfig,
    pub(crate) context: GroupContext,
    pub(crate) tree: Tree,
    pub(crate) interim_transcript_hash: Vec<u8>,
    /// The confirmation tag of the commit that started this epoch (for GroupInfos).
    pub(crate) confirmation_tag: crate::messages::Mac,
    pub(crate) keys: EpochKeys,
    pub(crate) own_leaf: LeafIndex,
    pub(crate) signer: Secret,
    pub(crate) own_keys: OwnKeys,
    pub(crate) proposals: ProposalCache,
    /// Leaf private keys of our own pending Update proposals, by proposal reference.
    pub(crate) pending_updates: BTreeMap<Vec<u8>, (Secret, HpkePublicKey)>,
    pub(crate) past_epochs: VecDeque<(u64, PastEpoch)>,
    pub(crate) resumption_psks: ResumptionPskStore,
    pub(crate) external_psks: BTreeMap<Vec<u8>, Secret>,
    pub(crate) index: MemberIndex,
    pub(crate) pending_reinit: Option<ReInit>,
    pub(crate) active: bool,
    /// The epoch of the state the next delta is taken against ([`Group::take_delta`]);
    /// `None` until change tracking starts.
    pub(crate) delta_epoch: Option<u64>,
}

/// A verified message of the current epoch, from [`Group::unprotect`]: its content, the
/// FramedContentTBS of a PublicMessage, and the unused key of a PrivateMessage.
type Unprotected = (
    AuthenticatedContent,
    Option<SignContentBuf>,
    Option<RatchetPosition>,
);

impl Group {
    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        self.context.group_id.as_slice()
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.context.cipher_suite
    }

    /// The current GroupContext.
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The ratchet tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Our leaf index.
    pub fn own_leaf(&self) -> LeafIndex {
        self.own_leaf
    }

    /// The policy.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Replaces the policy (takes effect from the next operation).
    pub fn set_config(&mut self, config: GroupConfig) {
        self.config = config;
    }

    /// Sets the time lifetime checks use (seconds since the Unix epoch); keeps the check on.
    pub fn set_time(&mut self, now: u64) {
        self.config.lifetime = crate::tree::LifetimePolicy::Check { now };
    }

    /// False once we were removed or the group was reinitialised (RFC 9420 §11.2).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The ReInit committed in this epoch, if any (RFC 9420 §11.2).
    pub fn pending_reinit(&self) -> Option<&ReInit> {
        self.pending_reinit.as_ref()
    }

    /// The epoch authenticator (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self) -> &Secret {
        &self.keys.epoch_authenticator
    }

    /// This epoch's resumption PSK (RFC 9420 §8.6).
    pub fn resumption_psk(&self) -> &Secret {
        &self.keys.resumption_psk
    }

    /// A retained resumption PSK of this group for `epoch` (RFC 9420 §8.6).
    pub fn resumption_psk_for(&self, epoch: u64) -> Option<&Secret> {
        self.resumption_psks.get(self.group_id(), epoch)
    }

    /// Registers an external PSK (RFC 9420 §8.4) under `id`.
    pub fn add_external_psk(&mut self, id: Vec<u8>, psk: Secret) {
        self.external_psks.insert(id, psk);
    }

    /// Number of members.
    pub fn member_count(&self) -> u32 {
        self.tree.member_count()
    }

    /// A member's leaf node.
    pub fn member(&self, leaf: LeafIndex) -> Option<&LeafNode> {
        self.tree.leaf(leaf)
    }

    /// The proposals received this epoch, in arrival order.
    pub fn pending_proposals(&self) -> impl Iterator<Item = &CachedProposal> {
        self.proposals.iter()
    }

    /// Forgets the proposals received this epoch.
    pub fn clear_pending_proposals(&mut self) {
        self.proposals.clear();
        self.pending_updates.clear();
    }

    /// `MLS-Exporter(label, context, length)` for the current epoch (RFC 9420 §8.5).
    pub fn export_secret(
        &self,
        cs: &dyn CipherSuiteProvider,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Secret, GroupError> {
        self.check_suite(cs)?;
        Ok(mls_exporter(
            cs,
            &self.keys.exporter_secret,
            label,
            context,
            length,
        )?)
    }

    /// The group's required capabilities (RFC 9420 §11.1), if any.
    pub(crate) fn required_capabilities(
        extensions: &[Extension],
    ) -> Result<Option<RequiredCapabilities>, GroupError> {
        Extension::find::<RequiredCapabilities>(extensions)
            .transpose()
            .map_err(|e| GroupError::codec("required_capabilities", e))
    }

    pub(crate) fn check_suite(&self, cs: &dyn CipherSuiteProvider) -> Result<(), GroupError> {
        if cs.cipher_suite() != self.context.cipher_suite {
            return Err(IncompatibleError::CipherSuite {
                group: self.context.cipher_suite,
                provider: cs.cipher_suite(),
            }
            .into());
        }
        Ok(())
    }

    pub(crate) fn check_active(&self) -> Result<(), GroupError> {
        if !self.active {
            return Err(MisuseError::Inactive.into());
        }
        Ok(())
    }

    /// The signature key of a message's sender (RFC 9420 §6.1): a member's leaf, an external
    /// sender from `external_senders` (§12.1.8.1), or the key in a new member's Add or path.
    pub(crate) fn sender_key(
        tree: &Tree,
        context: &GroupContext,
        content: &FramedContent,
    ) -> Option<SignaturePublicKey> {
        match (&content.sender, &content.body) {
            (Sender::Member(i), _) => tree.leaf(LeafIndex(*i)).map(|l| l.signature_key().into()),
            (Sender::External(i), _) => {
                let senders = Extension::find::<ExternalSenders>(&context.extensions)?.ok()?;
                senders
                    .0
                    .get(usize::try_from(*i).ok()?)
                    .map(|s| s.signature_key.clone())
            }
            (Sender::NewMemberProposal, FramedContentBody::Proposal(Proposal::Add(a))) => {
                Some(a.key_package.leaf_node.signature_key().into())
            }
            (Sender::NewMemberCommit, FramedContentBody::Commit(c)) => {
                c.path.as_ref().map(|p| p.leaf_node.signature_key().into())
            }
            _ => None,
        }
    }

    /// Message protection (§6) under the current epoch's keys.
    pub(crate) fn protection<'a>(
        &'a self,
        cs: &'a dyn CipherSuiteProvider,
    ) -> MessageProtection<'a> {
        MessageProtection::new(
            cs,
            &self.context,
            &self.keys.membership_key,
            &self.keys.sender_data_secret,
        )
    }

    /// Verifies and decrypts a handshake or application message of the current epoch. The
    /// secret tree is only read: for a PrivateMessage the key it was opened with is returned
    /// unused, and the caller marks it used once it accepts the message. For a PublicMessage
    /// the FramedContentTBS its signature was verified over is returned too (a commit's
    /// transcript hash reads the content from it).
    fn unprotect(
        &self,
        cs: &dyn CipherSuiteProvider,
        msg: MlsMessage,
    ) -> Result<Unprotected, GroupError> {
        let mp = self.protection(cs);
        let (tree, context) = (&self.tree, &self.context);
        match msg.body {
            MlsMessageBody::PublicMessage(pm) => {
                let (ac, tbs) =
                    mp.unprotect_public_with_tbs(pm, |c| Self::sender_key(tree, context, c))?;
                Ok((ac, Some(tbs), None))
            }
            MlsMessageBody::PrivateMessage(pm) => {
                let (ac, key) = mp.open_private(&self.keys.secret_tree, &pm, |c| {
                    Self::sender_key(tree, context, c)
                })?;
                Ok((ac, None, Some(key)))
            }
            _ => Err(MalformedError::UnexpectedMessage {
                expected: "PublicMessage or PrivateMessage",
            }
            .into()),
        }
    }

    /// Marks the key a received PrivateMessage was opened with as used (§9.2), if any.
    fn use_key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        key: Option<RatchetPosition>,
    ) -> Result<(), GroupError> {
        if let Some(k) = key {
            k.mark_consumed(cs, &mut self.keys.secret_tree)?;
        }
        Ok(())
    }

    /// [`Group::process_message`] for a message as received, in its encoding (an MLSMessage).
    /// A member's commit sent as a PublicMessage is checked on the received bytes: its
    /// signature's hash over the whole message starts on one core while the message is
    /// decoded, its membership tag checked and the commit staged on another (for a commit
    /// with a large UpdatePath the hash is most of the work); nothing is encoded again. Every
    /// other message is decoded and handed to [`Group::process_message`]. Undecodable bytes
    /// are a [`GroupError::Malformed`]; on any error the group is unchanged.
    pub fn process_message_bytes(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        bytes: &[u8],
    ) -> Result<ProcessedMessage, GroupError> {
        let Some(layout) = crate::framing::PublicCommitLayout::of(bytes) else {
            let msg =
                MlsMessage::from_bytes(bytes).map_err(|e| GroupError::codec("MLSMessage", e))?;
            return self.process_message(cs, msg);
        };
        self.check_suite(cs)?;
        self.check_active()?;
        Ok(ProcessedMessage::Commit(Box::new(
            self.process_received_public_commit(cs, bytes, &layout)?,
        )))
    }

    /// A member's commit in a PublicMessage, from its bytes laid out in `layout`: the
    /// signature over the received bytes on one core; decoding, the framing checks and
    /// staging on another, the membership tag and the transcript hash (over the received
    /// bytes too) beside the path's decryption (see [`Group::stage_tagged`]). Errors come in
    /// the order of [`Group::process_public_commit`]'s: decoding and framing, membership tag,
    /// signature, then the commit's own.
    fn process_received_public_commit(
        &self,
        cs: &dyn CipherSuiteProvider,
        bytes: &[u8],
        layout: &crate::framing::PublicCommitLayout<'_>,
    ) -> Result<StagedCommit, GroupError> {
        let mp = self.protection(cs);
        let context = crate::codec::encode(&self.context)?;
        let (checked, signature) = crate::pool::join(
            || -> Result<Result<StagedCommit, GroupError>, GroupError> {
                let msg = MlsMessage::from_bytes(bytes)
                    .map_err(|e| GroupError::codec("MLSMessage", e))?;
                let MlsMessageBody::PublicMessage(pm) = msg.body else {
                    return Err(MalformedError::UnexpectedMessage {
                        expected: "PublicMessage",
                    }
                    .into());
                };
                let tag = mp.check_received_public_commit(&pm, layout)?.clone();
                let ac = AuthenticatedContent {
                    wire_format: crate::messages::WireFormat::PUBLIC_MESSAGE,
                    content: pm.content,
                    auth: pm.auth,
                };
                self.stage_tagged(cs, &ac, layout.tbs_prefix, || {
                    mp.verify_received_membership_tag(layout, &context, &tag)
                })
            },
            || {
                let key = self.tree.leaf(layout.sender).map(|l| l.signature_key());
                mp.verify_received_signature(layout, &context, key)
            },
        );
        let staged = ran(checked)??;
        ran(signature)??;
        staged
    }

    /// Stages the PublicMessage commit `ac`, whose TBS is `tbs`, with its membership tag
    /// (`check_tag`) checked beside the path's decryption, just before the transcript hash:
    /// both are passes over the whole message, and the decryption a chain of key derivations.
    /// The tag's verdict is the outer error and the staging's the inner, as if the tag had
    /// been checked first: when staging fails before the tag was checked, it is checked then.
    fn stage_tagged(
        &self,
        cs: &dyn CipherSuiteProvider,
        ac: &AuthenticatedContent,
        tbs: &[u8],
        check_tag: impl Fn() -> Result<(), crate::framing::ProtectionError> + Sync,
    ) -> Result<Result<StagedCommit, GroupError>, GroupError> {
        let verdict = std::sync::OnceLock::new();
        let tagged = || verdict.get_or_init(&check_tag).clone();
        let transcript = || -> Result<Vec<u8>, GroupError> {
            tagged()?;
            let hash =
                confirmed_transcript_hash_from_tbs(cs, &self.interim_transcript_hash, ac, tbs)?;
            Ok(hash)
        };
        let staged = self.stage_received_commit(cs, ac, &transcript);
        tagged()?;
        Ok(staged)
    }

    /// Processes a PublicMessage or PrivateMessage (RFC 9420 §6, §12): a proposal is verified
    /// and cached; a commit is verified, validated and staged (merge it with
    /// [`Group::merge_staged_commit`]); application data is decrypted, from the current or a
    /// retained past epoch. On error the group is unchanged. The message is taken by value: a
    /// commit's content moves into the staged commit, never copied.
    pub fn process_message(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        msg: MlsMessage,
    ) -> Result<ProcessedMessage, GroupError> {
        self.check_suite(cs)?;
        self.check_active()?;
        // Late application data from a retained past epoch (RFC 9420 §15.2).
        if let MlsMessageBody::PrivateMessage(pm) = &msg.body {
            if pm.epoch != self.context.epoch && pm.content_type == ContentType::APPLICATION {
                return self.process_past_application(cs, pm);
            }
        }
        let msg = match msg.body {
            MlsMessageBody::PublicMessage(pm)
                if pm.content.content_type() == ContentType::COMMIT =>
            {
                return Ok(ProcessedMessage::Commit(Box::new(
                    self.process_public_commit(cs, pm)?,
                )));
            }
            body => MlsMessage { body },
        };
        // The secret tree is only read until the message is accepted; its key is then marked
        // used, the last step that can fail (no copy of the tree per message: it holds every
        // sender heard from this epoch).
        let (ac, tbs, key) = self.unprotect(cs, msg)?;
        match &ac.content.body {
            FramedContentBody::Application(data) => {
                let Sender::Member(sender) = ac.content.sender else {
                    return Err(MisuseError::Unsupported("application data from non-member").into());
                };
                self.use_key(cs, key)?;
                Ok(ProcessedMessage::Application {
                    sender: LeafIndex(sender),
                    epoch: ac.content.epoch,
                    data: data.to_vec(),
                    authenticated_data: ac.content.authenticated_data.to_vec(),
                })
            }
            FramedContentBody::Proposal(_) => {
                let cached = self.check_proposal(cs, &ac)?;
                self.use_key(cs, key)?;
                self.proposals.insert(cached.clone());
                Ok(ProcessedMessage::Proposal(Box::new(cached)))
            }
            // The secret tree is replaced by the next epoch's on merge: the consumed key
            // is not kept (a staged commit changes nothing).
            FramedContentBody::Commit(_) => {
                let tbs = tbs.as_ref().map(SignContentBuf::content).transpose()?;
                let transcript = || -> Result<Vec<u8>, GroupError> {
                    let interim = &self.interim_transcript_hash;
                    Ok(match tbs {
                        Some(tbs) => confirmed_transcript_hash_from_tbs(cs, interim, &ac, tbs)?,
                        None => confirmed_transcript_hash(cs, interim, &ac)?,
                    })
                };
                Ok(ProcessedMessage::Commit(Box::new(
                    self.stage_received_commit(cs, &ac, &transcript)?,
                )))
            }
        }
    }

    /// A commit in a PublicMessage (§6.2, §12.4.2): its signature is checked on one core while
    /// the commit is staged on another, its membership tag beside the path's decryption (see
    /// [`Group::stage_tagged`]; for a large commit the signature, the tag and the transcript
    /// hash are passes over the whole message). Staging changes nothing, and its result is
    /// returned only once both checks passed; errors come in the order of a sequential
    /// check: framing, membership tag, signature, then the commit's own.
    fn process_public_commit(
        &self,
        cs: &dyn CipherSuiteProvider,
        pm: crate::messages::PublicMessage,
    ) -> Result<StagedCommit, GroupError> {
        let mp = self.protection(cs);
        let (tree, context) = (&self.tree, &self.context);
        let msg = mp.check_public(pm, |c| Self::sender_key(tree, context, c))?;
        // The membership tag and staging beside the signature, both on the pool (see
        // `pool::join`); nothing is used until both checks pass.
        let (tagged, signature) = crate::pool::join(
            || {
                let tbs = msg.tbs().content()?;
                self.stage_tagged(cs, msg.unverified_content(), tbs, || {
                    mp.verify_membership_tag(&msg)
                })
            },
            || mp.verify_public_signature(&msg),
        );
        let staged = ran(tagged)??;
        ran(signature)??;
        staged
    }

    fn process_past_application(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        pm: &crate::messages::PrivateMessage,
    ) -> Result<ProcessedMessage, GroupError> {
        let Some(pos) = self.past_epochs.iter().position(|(e, _)| *e == pm.epoch) else {
            return Err(MisuseError::EpochNotRetained(pm.epoch).into());
        };
        let (_, past) = &self.past_epochs[pos];
        let mp = MessageProtection::new(
            cs,
            &past.context,
            &past.membership_key,
            &past.sender_data_secret,
        );
        // RFC 9420 §6.3.2, §15.2: the sender's signature key is the one of the message's
        // epoch (a member who updated or left since is verified with its key then). The
        // key is used up only once the message is accepted.
        let (ac, key) = mp.open_private(&past.secret_tree, pm, |c| match c.sender {
            Sender::Member(i) => past.signature_key(LeafIndex(i)),
            _ => None,
        })?;
        let FramedContentBody::Application(data) = &ac.content.body else {
            return Err(MisuseError::Unsupported("handshake message of a past epoch").into());
        };
        let Sender::Member(sender) = ac.content.sender else {
            return Err(MisuseError::Unsupported("application data from non-member").into());
        };
        if let Some((_, past)) = self.past_epochs.get_mut(pos) {
            key.mark_consumed(cs, &mut past.secret_tree)?;
        }
        Ok(ProcessedMessage::Application {
            sender: LeafIndex(sender),
            epoch: pm.epoch,
            data: data.to_vec(),
            authenticated_data: ac.content.authenticated_data.to_vec(),
        })
    }

    /// Encrypts application data as a PrivateMessage of the current epoch (RFC 9420 §6.3).
    /// Refused with [`MisuseError::CommitRequired`] while proposals received or sent this
    /// epoch are pending (§12.4: a member that has observed a valid proposal MUST commit
    /// before sending application data).
    pub fn encrypt_application(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        data: &[u8],
        authenticated_data: &[u8],
    ) -> Result<MlsMessage, GroupError> {
        self.check_suite(cs)?;
        self.check_active()?;
        if self.proposals.iter().next().is_some() {
            return Err(MisuseError::CommitRequired.into());
        }
        let content = FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(self.own_leaf.0),
            authenticated_data: VarBytes(authenticated_data.to_vec()),
            body: FramedContentBody::Application(VarBytes(data.to_vec())),
        };
        // `protect_private` changes the secret tree only once the message is built.
        let keys = &mut self.keys;
        let mp = MessageProtection::new(
            cs,
            &self.context,
            &keys.membership_key,
            &keys.sender_data_secret,
        );
        let pm = mp.protect_private(
            &mut keys.secret_tree,
            content,
            &self.signer,
            None,
            self.config.padding,
        )?;
        Ok(MlsMessage::new(MlsMessageBody::PrivateMessage(pm)))
    }

    /// Moves the current epoch into the retained window and trims it to the policy: its
    /// context and tree, and the keys `left` (the current ones, already replaced by the next
    /// epoch's), or a copy of the current ones when there is no next epoch for us.
    pub(crate) fn retire_epoch(&mut self, left: Option<EpochKeys>) {
        let (sender_data_secret, membership_key, secret_tree) = match left {
            Some(k) => (k.sender_data_secret, k.membership_key, k.secret_tree),
            None => (
                self.keys.sender_data_secret.clone(),
                self.keys.membership_key.clone(),
                self.keys.secret_tree.clone(),
            ),
        };
        let past = PastEpoch {
            context: self.context.clone(),
            sender_data_secret,
            membership_key,
            secret_tree,
            tree: self.tree.stage(),
            signer_overrides: BTreeMap::new(),
        };
        self.past_epochs.push_back((self.context.epoch, past));
        while self.past_epochs.len() > self.config.epoch_retention {
            self.past_epochs.pop_front();
        }
    }
}

/// The result of a job handed to the pool by `crate::pool::join`, which runs every job it is
/// given: `None` would be a bug of ours, reported as an error rather than a panic.
fn ran<T>(result: Option<T>) -> Result<T, GroupError> {
    result.ok_or_else(|| MisuseError::Unsupported("a job handed to the pool did not run").into())
}

/// Helpers shared by the group modules' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::crypto::{AwsLcProvider, CryptoProvider};
    use crate::messages::{Add, Credential};

    /// Suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519).
    pub(crate) fn cs() -> &'static dyn CipherSuiteProvider {
        let p: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
        p.suite(CipherSuite(1)).unwrap()
    }

    /// A KeyPackage bundle with a basic credential and a lifetime of everything.
    pub(crate) fn bundle(cs: &dyn CipherSuiteProvider, name: &str) -> KeyPackageBundle {
        let (sk, _) = cs.signature_generate().unwrap();
        generate_key_package(
            cs,
            Credential::basic(name),
            sk,
            KeyPackageOptions::new(0, u64::MAX),
        )
        .unwrap()
    }

    /// Member 0's view of an `n`-member group (members added in one commit, epoch 1).
    pub(crate) fn group(cs: &dyn CipherSuiteProvider, n: usize) -> Group {
        let alice = bundle(cs, "alice");
        let mut g = Group::create(
            cs,
            &alice,
            b"g".to_vec(),
            vec![],
            GroupConfig::default().at_time(1_000),
        )
        .unwrap();
        if n > 1 {
            let proposals = (1..n)
                .map(|i| {
                    Proposal::Add(Add {
                        key_package: bundle(cs, &format!("m{i}")).key_package,
                    })
                })
                .collect();
            let out = g
                .commit(
                    cs,
                    CommitOptions {
                        proposals,
                        ..CommitOptions::default()
                    },
                )
                .unwrap();
            g.merge_staged_commit(out.staged).unwrap();
        }
        g
    }

    /// Commits `proposals` with a path and merges the commit.
    pub(crate) fn commit_with_path(
        cs: &dyn CipherSuiteProvider,
        g: &mut Group,
        proposals: Vec<Proposal>,
    ) {
        let out = g
            .commit(
                cs,
                CommitOptions {
                    proposals,
                    force_path: true,
                    ..CommitOptions::default()
                },
            )
            .unwrap();
        g.merge_staged_commit(out.staged).unwrap();
    }
}
