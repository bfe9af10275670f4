//! The observer role: a delivery service's view of a group, public state only (no secrets).
//!
//! [`Observer`] owns the GroupContext, the ratchet tree, the interim transcript hash, the
//! proposals received this epoch (by reference) and the latest GroupInfo a member published.
//! It is built on the engine's public pieces: [`Tree`] (staged copy-on-write, UpdatePath
//! merged without decryption by [`Tree::merge_update_path`]), [`MemberIndex`] for key
//! uniqueness, `verify_with_label` for signatures, and the transcript-hash functions.
//!
//! What an observer checks, for PublicMessage proposals and commits:
//! - group id and epoch: a commit for an older epoch is refused ([`ObserverError::StaleEpoch`]):
//!   the first valid commit of an epoch wins;
//! - the sender's signature over `FramedContentTBS` (with the current GroupContext);
//! - the public proposal-list rules of RFC 9420 §12.2 (known references, at most one change
//!   per leaf, no Update or Remove of the committer, Updates by reference only, valid
//!   KeyPackages, no duplicate Adds, fresh and unique keys, path present when required) and
//!   the new leaves' signatures;
//! - the UpdatePath's leaf signature and parent hashes (in `merge_update_path`);
//! - external commits (§12.4.3.2, §12.2): signed by the path's leaf, exactly one
//!   ExternalInit, only ExternalInit / Remove / PreSharedKey and by value, at most one
//!   Remove and only of a leaf with the joiner's credential (resync), path required;
//! - ReInit (§11.2): alone in its commit; once committed, every later message of the old
//!   group is refused ([`ObserverError::ReInitialised`]);
//! - required capabilities (§11.1, §12.1.7): new leaves support the group's
//!   `required_capabilities` (those after the commit's GroupContextExtensions), and every
//!   member supports a GroupContextExtensions proposal ([`ObserverError::Unsupported`]).
//!
//! What it cannot check without the epoch's secrets, and so does not:
//! - the membership tag of a PublicMessage (needs `membership_key`);
//! - the confirmation tag of a commit (needs `confirmation_key`): the observer computes the
//!   confirmed transcript hash, and takes the tag as given for the interim hash;
//! - that the path secrets decrypt to the announced public keys;
//! - PrivateMessages at all (refused with [`ObserverError::Encrypted`]).
//!
//! The group module's proposal validation (`Group::validate_and_apply`) is a method of a
//! member's `Group` and needs its state, so the public checks are re-implemented here over
//! the public pieces.
//!
//! Persistence: a snapshot ([`Observer::to_bytes`]) plus per-epoch deltas
//! ([`Observer::take_delta`], O(changed); replayed by [`Observer::from_bytes_and_deltas`]).
//!
//! Invariant: every error leaves the observer exactly as it was (the tree is staged).

use std::collections::HashSet;

use mls_engine::codec::{decode_exact, encode, VarBytes};
use mls_engine::crypto::labels::{proposal_ref, verify_with_label};
use mls_engine::crypto::{CipherSuiteProvider, SignaturePublicKey};
use mls_engine::group::{validate_key_packages, KeyPackageError, LeafNodeError};
use mls_engine::messages::{
    first_misplaced_in, repeated_extension_type, AuthenticatedContent, Extension,
    ExtensionContainer, ExternalSenders, FramedContent, FramedContentBody, FramedContentTbs,
    GroupContext, GroupInfo, LeafNode, LeafNodeSource, Mac, MlsMessage, MlsMessageBody, Proposal,
    ProposalOrRef, ProtocolVersion, RatchetTree, ReInit, RequiredCapabilities, Sender, WireFormat,
};
use mls_engine::transcript_hash::{confirmed_transcript_hash, interim_transcript_hash};
use mls_engine::tree::{
    validate_tree, LifetimePolicy, MemberIndex, Tree, TreeDelta, TreeError, TreeValidationError,
    TreeValidationParams,
};
use mls_engine::tree_math::LeafIndex;

/// Why an observer refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObserverError {
    /// The message is for another group.
    #[error("wrong group id")]
    WrongGroup,
    /// A commit or proposal for an epoch already closed: the first valid commit won.
    #[error("stale epoch {got} (current {current})")]
    StaleEpoch {
        /// The observer's epoch.
        current: u64,
        /// The message's epoch.
        got: u64,
    },
    /// A message for an epoch the observer has not reached.
    #[error("future epoch {got} (current {current})")]
    FutureEpoch {
        /// The observer's epoch.
        current: u64,
        /// The message's epoch.
        got: u64,
    },
    /// A PrivateMessage: an observer holds no secrets to open it.
    #[error("encrypted message: an observer cannot open PrivateMessages")]
    Encrypted,
    /// Not a PublicMessage proposal or commit (or GroupInfo where one is expected).
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    /// The sender is unknown (blank leaf, unknown external sender).
    #[error("unknown sender")]
    UnknownSender,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A proposal reference not received this epoch.
    #[error("unknown proposal reference")]
    UnknownProposal,
    /// A rule of RFC 9420 §12.2 (or a proposal's own validity) is broken.
    #[error("proposal {index:?}: {rule}")]
    Proposal {
        /// Position in the commit's list, if it concerns one proposal.
        index: Option<usize>,
        /// The rule.
        rule: &'static str,
    },
    /// An added KeyPackage is invalid.
    #[error("KeyPackage {index}: {error}")]
    KeyPackage {
        /// Position in the commit's list.
        index: usize,
        /// Why.
        error: KeyPackageError,
    },
    /// A new leaf's keys clash with the tree's, or the tree is invalid.
    #[error("tree validation: {0}")]
    TreeValidation(#[from] TreeValidationError),
    /// Applying a change to the tree failed (path length, parent hash, leaf signature...).
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    /// The group was reinitialised by a committed ReInit (RFC 9420 §11.2): the old group
    /// takes no further proposals or commits.
    #[error("the group was reinitialised; no further messages for it")]
    ReInitialised,
    /// A new leaf (Add, Update, commit path) does not support the group's
    /// `required_capabilities`, or a member does not support a GroupContextExtensions
    /// proposal's extensions (RFC 9420 §11.1, §12.1.7).
    #[error("leaf {leaf}: unsupported {what}")]
    Unsupported {
        /// The leaf.
        leaf: u32,
        /// What it does not support.
        what: &'static str,
    },
    /// A GroupInfo does not describe the observer's current epoch.
    #[error("GroupInfo does not match the tracked GroupContext")]
    GroupInfoMismatch,
    /// Encoding, decoding or a cryptographic primitive failed.
    #[error("codec or crypto: {0}")]
    Codec(String),
    /// A stored state or delta does not decode or does not fit the state it is applied to.
    #[error("corrupt observer state: {0}")]
    Corrupt(String),
}

fn corrupt(what: impl std::fmt::Display) -> ObserverError {
    ObserverError::Corrupt(what.to_string())
}

fn codec(e: impl std::fmt::Display) -> ObserverError {
    ObserverError::Codec(e.to_string())
}

fn rule(index: Option<usize>, rule: &'static str) -> ObserverError {
    ObserverError::Proposal { index, rule }
}

/// A proposal received this epoch.
#[derive(Clone, Debug)]
struct Cached {
    reference: Vec<u8>,
    proposal: Proposal,
    sender: Sender,
    /// The encoded AuthenticatedContent (kept for serialisation).
    encoded: Vec<u8>,
}

/// What an accepted message did to the observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserverOutcome {
    /// A proposal was cached under its reference.
    Proposal {
        /// `MakeProposalRef` of the proposal.
        reference: Vec<u8>,
    },
    /// A commit was applied: the group is now at `epoch`.
    Commit {
        /// The new epoch.
        epoch: u64,
    },
}

/// A delivery service's public view of one group. See the module documentation.
#[derive(Clone, Debug)]
pub struct Observer {
    context: GroupContext,
    tree: Tree,
    interim_transcript_hash: Vec<u8>,
    index: MemberIndex,
    proposals: Vec<Cached>,
    group_info: Option<GroupInfo>,
    lifetime: LifetimePolicy,
    /// The ReInit committed in this epoch: the group is closed (RFC 9420 §11.2).
    reinit: Option<ReInit>,
    /// The epoch of the state the next delta is taken against; `None` until tracking starts.
    delta_epoch: Option<u64>,
    /// The GroupInfo changed since the last delta.
    group_info_changed: bool,
}

/// Serialisation format version of [`Observer::to_bytes`] (version 1 had no ReInit part).
const STATE_VERSION: u8 = 2;
/// First byte of an observer delta ([`Observer::take_delta`]).
const DELTA_VERSION: u8 = 0x81;

impl Observer {
    /// Starts observing from a GroupInfo that carries the ratchet tree (`ratchet_tree`
    /// extension), or with `tree` given separately. Validates the whole tree (O(N)), checks
    /// it hashes to the GroupContext's tree hash and verifies the GroupInfo's signature.
    pub fn from_group_info(
        cs: &dyn CipherSuiteProvider,
        group_info: GroupInfo,
        tree: Option<RatchetTree>,
        lifetime: LifetimePolicy,
    ) -> Result<Self, ObserverError> {
        let wire = match tree {
            Some(t) => t,
            None => Extension::find::<RatchetTree>(&group_info.extensions)
                .ok_or(ObserverError::Unexpected("GroupInfo without ratchet tree"))?
                .map_err(codec)?,
        };
        let ctx = &group_info.group_context;
        // RFC 9420 §13: no extension type twice in either list.
        for list in [&group_info.extensions, &ctx.extensions] {
            if repeated_extension_type(list.iter().map(|e| e.extension_type)).is_some() {
                return Err(ObserverError::Unexpected(
                    "an extension type twice in the GroupInfo",
                ));
            }
        }
        // §17.3: only the extension types registered for each list.
        if first_misplaced_in(&group_info.extensions, ExtensionContainer::GroupInfo).is_some()
            || first_misplaced_in(&ctx.extensions, ExtensionContainer::GroupContext).is_some()
        {
            return Err(ObserverError::Unexpected(
                "an extension not allowed where the GroupInfo carries it",
            ));
        }
        let mut tree = Tree::from_wire_owned(cs, wire)?;
        let mut params = TreeValidationParams::new(ctx.group_id.as_slice(), 0);
        params.lifetime = lifetime;
        validate_tree(&mut tree, cs, &params)?;
        if tree.tree_hash(cs)? != ctx.tree_hash.as_slice() {
            return Err(ObserverError::GroupInfoMismatch);
        }
        let index = MemberIndex::from_tree(&tree)?;
        let interim = interim_transcript_hash(
            cs,
            ctx.confirmed_transcript_hash.as_slice(),
            &group_info.confirmation_tag,
        )
        .map_err(codec)?;
        let obs = Self {
            context: ctx.clone(),
            tree,
            interim_transcript_hash: interim,
            index,
            proposals: Vec::new(),
            group_info: None,
            lifetime,
            reinit: None,
            delta_epoch: None,
            group_info_changed: false,
        };
        obs.check_group_info_signature(cs, &group_info)?;
        Ok(Self {
            group_info: Some(group_info),
            ..obs
        })
    }

    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        self.context.group_id.as_slice()
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The tracked GroupContext (equal to every member's after the same commits).
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The ratchet tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The ratchet tree in wire form, for external joiners.
    pub fn ratchet_tree(&self) -> RatchetTree {
        self.tree.to_wire()
    }

    /// The latest GroupInfo published for the current epoch (for external joins), if any.
    pub fn group_info(&self) -> Option<&GroupInfo> {
        self.group_info.as_ref()
    }

    /// Sets the time for lifetime checks of new leaves.
    pub fn set_lifetime(&mut self, lifetime: LifetimePolicy) {
        self.lifetime = lifetime;
    }

    fn check_group_info_signature(
        &self,
        cs: &dyn CipherSuiteProvider,
        gi: &GroupInfo,
    ) -> Result<(), ObserverError> {
        let signer = self
            .tree
            .leaf(LeafIndex(gi.signer))
            .ok_or(ObserverError::UnknownSender)?;
        let tbs = encode(&gi.to_be_signed()).map_err(codec)?;
        verify_with_label(
            cs,
            signer.signature_key(),
            "GroupInfoTBS",
            &tbs,
            gi.signature.as_slice(),
        )
        .map_err(|_| ObserverError::BadSignature)
    }

    /// Accepts a GroupInfo a member published for the current epoch (to serve to external
    /// joiners): its GroupContext must equal the tracked one and its signature must verify.
    /// The confirmation tag cannot be checked (it is the committer's word).
    pub fn publish_group_info(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        gi: GroupInfo,
    ) -> Result<(), ObserverError> {
        if gi.group_context != self.context {
            return Err(ObserverError::GroupInfoMismatch);
        }
        self.check_group_info_signature(cs, &gi)?;
        self.group_info = Some(gi);
        self.group_info_changed = true;
        Ok(())
    }

    fn sender_key(&self, content: &FramedContent) -> Option<SignaturePublicKey> {
        match (&content.sender, &content.body) {
            (Sender::Member(i), _) => self
                .tree
                .leaf(LeafIndex(*i))
                .map(|l| l.signature_key().into()),
            (Sender::External(i), _) => {
                let senders = Extension::find::<mls_engine::messages::ExternalSenders>(
                    &self.context.extensions,
                )?
                .ok()?;
                senders
                    .0
                    .get(usize::try_from(*i).ok()?)
                    .map(|s| s.signature_key.clone())
            }
            (Sender::NewMemberProposal, FramedContentBody::Proposal(Proposal::Add(a))) => {
                Some(a.key_package.leaf_node.signature_key().into())
            }
            // An external commit is signed by the joiner's new leaf (§12.4.3.2).
            (Sender::NewMemberCommit, FramedContentBody::Commit(c)) => {
                c.path.as_ref().map(|p| p.leaf_node.signature_key().into())
            }
            _ => None,
        }
    }

    /// Verifies a PublicMessage's framing and signature (not its membership tag: see the
    /// module documentation) and returns its AuthenticatedContent.
    fn verify_public(
        &self,
        cs: &dyn CipherSuiteProvider,
        msg: &MlsMessage,
    ) -> Result<AuthenticatedContent, ObserverError> {
        let pm = match &msg.body {
            MlsMessageBody::PublicMessage(pm) => pm,
            MlsMessageBody::PrivateMessage(_) => return Err(ObserverError::Encrypted),
            _ => return Err(ObserverError::Unexpected("not a PublicMessage")),
        };
        let content = &pm.content;
        if content.group_id != self.context.group_id {
            return Err(ObserverError::WrongGroup);
        }
        let (current, got) = (self.context.epoch, content.epoch);
        if got < current {
            return Err(ObserverError::StaleEpoch { current, got });
        }
        if got > current {
            return Err(ObserverError::FutureEpoch { current, got });
        }
        let is_commit = matches!(content.body, FramedContentBody::Commit(_));
        if pm.auth.confirmation_tag.is_some() != is_commit {
            return Err(ObserverError::Unexpected("confirmation tag presence"));
        }
        // The membership tag cannot be verified, but its presence rule can (§6.2).
        if pm.membership_tag.is_some() != matches!(content.sender, Sender::Member(_)) {
            return Err(ObserverError::Unexpected("membership tag presence"));
        }
        if matches!(content.body, FramedContentBody::Application(_)) {
            return Err(ObserverError::Unexpected(
                "application data in a PublicMessage",
            ));
        }
        match (&content.sender, &content.body) {
            (Sender::NewMemberCommit, FramedContentBody::Commit(c)) if c.path.is_none() => {
                return Err(rule(None, "external commit without path"));
            }
            (Sender::NewMemberCommit, FramedContentBody::Commit(_)) => {}
            (Sender::NewMemberCommit, _) => {
                return Err(ObserverError::Unexpected(
                    "new_member_commit sender on a non-commit",
                ));
            }
            _ => {}
        }
        let key = self
            .sender_key(content)
            .ok_or(ObserverError::UnknownSender)?;
        let tbs = FramedContentTbs {
            version: ProtocolVersion::MLS10,
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: content.clone(),
            // §6.1: the GroupContext is signed for member and new_member_commit senders.
            context: matches!(content.sender, Sender::Member(_) | Sender::NewMemberCommit)
                .then(|| self.context.clone()),
        };
        verify_with_label(
            cs,
            &key,
            "FramedContentTBS",
            &encode(&tbs).map_err(codec)?,
            pm.auth.signature.as_slice(),
        )
        .map_err(|_| ObserverError::BadSignature)?;
        Ok(AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: content.clone(),
            auth: pm.auth.clone(),
        })
    }

    /// Processes a PublicMessage proposal (cached) or commit (applied: the epoch advances).
    /// On error the observer is unchanged.
    pub fn process(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        msg: &MlsMessage,
    ) -> Result<ObserverOutcome, ObserverError> {
        if self.reinit.is_some() {
            return Err(ObserverError::ReInitialised);
        }
        let ac = self.verify_public(cs, msg)?;
        match &ac.content.body {
            FramedContentBody::Proposal(p) => {
                let encoded = encode(&ac).map_err(codec)?;
                let reference = proposal_ref(cs, &encoded).map_err(codec)?;
                self.proposals.push(Cached {
                    reference: reference.clone(),
                    proposal: p.clone(),
                    sender: ac.content.sender,
                    encoded,
                });
                Ok(ObserverOutcome::Proposal { reference })
            }
            FramedContentBody::Commit(_) => self.apply_commit(cs, &ac),
            FramedContentBody::Application(_) => Err(ObserverError::Unexpected("application data")),
        }
    }

    /// §7.3 for a new leaf at `at`: alone (own capabilities, the group's required
    /// capabilities `required`, lifetime) and against the members (unique keys, credential
    /// support); its signature when `check_signature`.
    #[allow(clippy::too_many_arguments)]
    fn check_new_leaf(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: &LeafNode,
        at: LeafIndex,
        replacing: Option<&LeafNode>,
        required: Option<&RequiredCapabilities>,
        check_signature: bool,
    ) -> Result<(), ObserverError> {
        // A key no one can encrypt to would make later commits fail (as the member checks).
        if cs.kem_check_public_key(leaf.encryption_key()).is_err() {
            return Err(TreeValidationError::InvalidEncryptionKey { node: at.node() }.into());
        }
        let mut params = TreeValidationParams::new(self.group_id(), 0);
        params.lifetime = self.lifetime;
        if let Some(rc) = required {
            params = params.with_required_capabilities(rc);
        }
        match self
            .index
            .check_leaf(leaf, at, replacing, self.context.cipher_suite, &params)
        {
            Err(TreeValidationError::RequiredCapabilityMissing { leaf }) => {
                return Err(ObserverError::Unsupported {
                    leaf: leaf.0,
                    what: "required_capabilities",
                })
            }
            other => other?,
        }
        if check_signature {
            let tbs = leaf
                .tbs_bytes(&self.context.group_id, at.0)
                .map_err(codec)?;
            verify_with_label(
                cs,
                leaf.signature_key(),
                "LeafNodeTBS",
                &tbs,
                leaf.signature(),
            )
            .map_err(|_| ObserverError::BadSignature)?;
        }
        Ok(())
    }

    fn apply_commit(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        ac: &AuthenticatedContent,
    ) -> Result<ObserverOutcome, ObserverError> {
        let FramedContentBody::Commit(commit) = &ac.content.body else {
            return Err(ObserverError::Unexpected("not a commit"));
        };
        // The committer's leaf; `None` for an external commit (its leaf is added below).
        let committer = match ac.content.sender {
            Sender::Member(l) => Some(LeafIndex(l)),
            Sender::NewMemberCommit => None,
            _ => return Err(ObserverError::Unexpected("commit from a non-member")),
        };
        // Resolve references (§12.4): each must be a proposal of this epoch; an external
        // commit has none (§12.4.3.2: the joiner cannot judge them).
        let mut list: Vec<(Proposal, Sender, bool)> = Vec::with_capacity(commit.proposals.len());
        for (i, p) in commit.proposals.iter().enumerate() {
            match p {
                ProposalOrRef::Proposal(p) => list.push((p.clone(), ac.content.sender, false)),
                ProposalOrRef::Reference(_) if committer.is_none() => {
                    return Err(rule(Some(i), "proposal by reference in an external commit"));
                }
                ProposalOrRef::Reference(r) => {
                    let c = self
                        .proposals
                        .iter()
                        .find(|c| c.reference.as_slice() == r.0.as_slice())
                        .ok_or(ObserverError::UnknownProposal)?;
                    list.push((c.proposal.clone(), c.sender, true));
                }
            }
        }
        let mut path_required = list.is_empty() || committer.is_none();
        let mut touched: HashSet<LeafIndex> = HashSet::new();
        let mut gce = None;
        let mut reinit = None;
        let mut external_inits = 0usize;
        let mut updates = Vec::new();
        let mut removes = Vec::new();
        let mut adds = Vec::new();
        for (i, (p, sender, by_ref)) in list.iter().enumerate() {
            // §12.2 E1-E3: an external commit holds ExternalInit, Remove, PreSharedKey only.
            if committer.is_none()
                && !matches!(
                    p,
                    Proposal::ExternalInit(_) | Proposal::Remove(_) | Proposal::PreSharedKey(_)
                )
            {
                return Err(rule(
                    Some(i),
                    "proposal type not allowed in an external commit",
                ));
            }
            match p {
                Proposal::Add(a) => adds.push((i, &a.key_package)),
                Proposal::Update(u) => {
                    path_required = true;
                    let Sender::Member(l) = sender else {
                        return Err(rule(Some(i), "Update from a non-member"));
                    };
                    let l = LeafIndex(*l);
                    if !by_ref {
                        return Err(rule(Some(i), "Update by value"));
                    }
                    if Some(l) == committer {
                        return Err(rule(Some(i), "Update of the committer"));
                    }
                    if !touched.insert(l) {
                        return Err(rule(Some(i), "two changes to one leaf"));
                    }
                    updates.push((i, l, &u.leaf_node));
                }
                Proposal::Remove(r) => {
                    path_required = true;
                    let l = LeafIndex(r.removed);
                    if Some(l) == committer {
                        return Err(rule(Some(i), "Remove of the committer"));
                    }
                    if !touched.insert(l) {
                        return Err(rule(Some(i), "two changes to one leaf"));
                    }
                    removes.push((i, l));
                }
                Proposal::PreSharedKey(_) => {}
                Proposal::GroupContextExtensions(g) => {
                    path_required = true;
                    if gce.replace((i, &g.extensions)).is_some() {
                        return Err(rule(Some(i), "two GroupContextExtensions"));
                    }
                }
                Proposal::ReInit(r) => {
                    // §12.1.5: not to an older protocol version.
                    if r.version.0 < ProtocolVersion::MLS10.0 {
                        return Err(rule(Some(i), "ReInit to an older version"));
                    }
                    // §11.2: its extensions are the new group's GroupContext extensions.
                    check_extensions_wellformed(i, &r.extensions)?;
                    reinit = Some((i, r));
                }
                Proposal::ExternalInit(_) => {
                    // R10: only in an external commit.
                    if committer.is_some() {
                        return Err(rule(Some(i), "ExternalInit in a member's commit"));
                    }
                    path_required = true;
                    external_inits += 1;
                }
                Proposal::Unknown { .. } => {
                    return Err(rule(Some(i), "unsupported proposal type"));
                }
            }
        }
        // R9: a ReInit stands alone.
        if let Some((i, _)) = reinit {
            if list.len() > 1 {
                return Err(rule(Some(i), "ReInit not alone in the commit"));
            }
        }
        if committer.is_none() {
            if external_inits != 1 {
                return Err(rule(
                    None,
                    "external commit without exactly one ExternalInit",
                ));
            }
            if let Some((i, _)) = removes.get(1) {
                return Err(rule(Some(*i), "more than one Remove in an external commit"));
            }
        }
        if path_required && commit.path.is_none() {
            return Err(rule(None, "path required"));
        }
        // §12.3 step 1: the GroupContextExtensions first; every member must support them
        // (§12.1.7: O(N), only for a commit that changes the extensions). The new
        // extensions' required capabilities govern the new leaves.
        let extensions = match gce {
            Some((i, exts)) => {
                check_extensions_wellformed(i, exts)?;
                exts.as_slice()
            }
            None => self.context.extensions.as_slice(),
        };
        let required = Extension::find::<RequiredCapabilities>(extensions)
            .transpose()
            .map_err(codec)?;
        let required = required.as_ref();
        // Apply to a staged tree in RFC 9420 §12.3 order: Updates, Removes, Adds, then the
        // path. Index changes are collected and applied only once everything passed.
        let removed: Vec<LeafIndex> = removes.iter().map(|(_, l)| *l).collect();
        let mut tree = self.tree.stage();
        let mut changes: Vec<(LeafIndex, Option<LeafNode>, Option<LeafNode>)> = Vec::new();
        let mut fresh_sig: HashSet<Vec<u8>> = HashSet::new();
        let mut fresh_enc: HashSet<Vec<u8>> = HashSet::new();
        let mut fresh = |leaf: &LeafNode, i: Option<usize>| -> Result<(), ObserverError> {
            if !fresh_sig.insert(leaf.signature_key().to_vec())
                || !fresh_enc.insert(leaf.encryption_key().to_vec())
            {
                return Err(rule(i, "two new leaves share a key"));
            }
            Ok(())
        };
        // A key still held by a member this commit removes may be reused.
        let allow_removed =
            |r: Result<(), ObserverError>| match r {
                Err(ObserverError::TreeValidation(
                    TreeValidationError::DuplicateSignatureKey { first, .. },
                )) if removed.contains(&first) => Ok(()),
                Err(ObserverError::TreeValidation(
                    TreeValidationError::DuplicateEncryptionKey { first, .. },
                )) if removed.iter().any(|l| l.node() == first) => Ok(()),
                other => other,
            };
        for (i, l, leaf) in updates {
            let old = self
                .tree
                .leaf(l)
                .ok_or_else(|| rule(Some(i), "Update of a blank leaf"))?;
            if !matches!(leaf.leaf_node_source(), LeafNodeSource::Update) {
                return Err(rule(Some(i), "Update leaf source is not update"));
            }
            self.check_new_leaf(cs, leaf, l, Some(old), required, true)?;
            fresh(leaf, Some(i))?;
            tree.update_leaf(l, leaf.clone())?;
            changes.push((l, Some(old.clone()), Some(leaf.clone())));
        }
        for (i, l) in &removes {
            let old = tree
                .leaf(*l)
                .cloned()
                .ok_or_else(|| rule(Some(*i), "Remove of a blank leaf"))?;
            tree.remove_leaf(*l)?;
            changes.push((*l, Some(old), None));
        }
        // §12.1.7 against the members after the Updates and Removes ("excluding those
        // removed"); the Adds are checked against the new extensions below.
        if let Some((i, exts)) = gce {
            check_extensions_supported(i, exts, &tree)?;
        }
        let kps: Vec<&mls_engine::messages::KeyPackage> = adds.iter().map(|(_, kp)| *kp).collect();
        let verdicts = validate_key_packages(cs, &kps, self.lifetime);
        for ((i, kp), verdict) in adds.into_iter().zip(verdicts) {
            verdict.map_err(|error| ObserverError::KeyPackage { index: i, error })?;
            // RFC 9420 §13: the new member supports every extension of the GroupContext.
            if let Some(t) = kp.leaf_node.capabilities().first_unsupported(extensions) {
                return Err(ObserverError::KeyPackage {
                    index: i,
                    error: KeyPackageError::LeafNode(LeafNodeError::GroupExtensionUnsupported(t.0)),
                });
            }
            let at = tree.add_leaf(kp.leaf_node.clone())?;
            allow_removed(self.check_new_leaf(cs, &kp.leaf_node, at, None, required, false))?;
            fresh(&kp.leaf_node, Some(i))?;
            changes.push((at, None, Some(kp.leaf_node.clone())));
        }
        if let Some(path) = &commit.path {
            let (sender, old) = match committer {
                Some(l) => {
                    let old = tree.leaf(l).cloned().ok_or(ObserverError::UnknownSender)?;
                    self.check_new_leaf(cs, &path.leaf_node, l, Some(&old), required, false)?;
                    (l, Some(old))
                }
                None => {
                    // §12.2 resync: the removed leaf must be the joiner's own prior leaf
                    // (same credential, as for an Update of it).
                    if let Some((i, r)) = removes.first() {
                        let prior = self.tree.leaf(*r).map(|l| l.credential_bytes());
                        if prior != Some(path.leaf_node.credential_bytes()) {
                            return Err(rule(Some(*i), "resync Remove of another member"));
                        }
                    }
                    // The joiner is placed like an Add (§12.4.3.2).
                    let at = tree.add_leaf(path.leaf_node.clone())?;
                    allow_removed(self.check_new_leaf(
                        cs,
                        &path.leaf_node,
                        at,
                        None,
                        required,
                        false,
                    ))?;
                    (at, None)
                }
            };
            // The leaf signature and the parent hashes are checked by merge_update_path.
            fresh(&path.leaf_node, None)?;
            tree.merge_update_path(cs, sender, path, self.group_id())?;
            changes.push((sender, old, Some(path.leaf_node.clone())));
        }
        // The next GroupContext (§8.2): the confirmed transcript hash is computable from the
        // commit; the confirmation tag is taken as sent (it needs the confirmation key).
        let tag: &Mac = ac
            .auth
            .confirmation_tag
            .as_ref()
            .ok_or(ObserverError::Unexpected("commit without confirmation tag"))?;
        let mut ctx = self.context.clone();
        ctx.epoch += 1;
        if let Some((_, ext)) = gce {
            ctx.extensions = ext.clone();
        }
        ctx.tree_hash = VarBytes(tree.tree_hash(cs)?);
        let confirmed =
            confirmed_transcript_hash(cs, &self.interim_transcript_hash, ac).map_err(codec)?;
        let interim = interim_transcript_hash(cs, &confirmed, tag).map_err(codec)?;
        ctx.confirmed_transcript_hash = VarBytes(confirmed);
        // Everything passed: apply.
        let mut index = std::mem::take(&mut self.index);
        if let Err(e) = apply_index_changes(&mut index, &changes) {
            // Unreachable after the checks above; rebuild rather than keep a bad index.
            self.index = MemberIndex::from_tree(&self.tree)?;
            return Err(e.into());
        }
        self.index = index;
        self.tree.merge_staged(tree);
        self.context = ctx;
        self.interim_transcript_hash = interim;
        self.proposals.clear();
        self.group_info = None;
        self.group_info_changed = true;
        // §11.2: after a ReInit commit the group takes no further messages.
        self.reinit = reinit.map(|(_, r)| r.clone());
        Ok(ObserverOutcome::Commit {
            epoch: self.context.epoch,
        })
    }

    /// The ReInit committed in the current epoch, if the group was reinitialised (then every
    /// further message is refused with [`ObserverError::ReInitialised`]).
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }

    /// Serialises the observer's state (versioned): length-prefixed parts (u32 big-endian)
    /// context, tree, interim transcript hash, GroupInfo, lifetime, ReInit, then the cached
    /// proposals.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ObserverError> {
        let mut out = vec![STATE_VERSION];
        put_part(&mut out, &encode(&self.context).map_err(codec)?)?;
        put_part(&mut out, &encode(&self.tree.to_wire()).map_err(codec)?)?;
        put_part(&mut out, &self.interim_transcript_hash)?;
        match &self.group_info {
            Some(gi) => put_part(&mut out, &encode(gi).map_err(codec)?)?,
            None => put_part(&mut out, &[])?,
        }
        self.put_tail(&mut out)?;
        Ok(out)
    }

    /// Lifetime, ReInit and proposals: the parts shared by snapshots and deltas.
    fn put_tail(&self, out: &mut Vec<u8>) -> Result<(), ObserverError> {
        let lifetime = match self.lifetime {
            LifetimePolicy::Check { now } => now.to_be_bytes().to_vec(),
            LifetimePolicy::Ignore => Vec::new(),
        };
        put_part(out, &lifetime)?;
        match &self.reinit {
            Some(r) => put_part(out, &encode(r).map_err(codec)?)?,
            None => put_part(out, &[])?,
        }
        for p in &self.proposals {
            put_part(out, &p.encoded)?;
        }
        Ok(())
    }

    /// Restores an observer from [`Observer::to_bytes`] (re-indexes the tree: O(N)).
    pub fn from_bytes(cs: &dyn CipherSuiteProvider, bytes: &[u8]) -> Result<Self, ObserverError> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or_else(|| corrupt("empty observer state"))?;
        let parts = split_parts(rest)?;
        let (context, tree, interim, gi, tail) = match (version, parts.as_slice()) {
            (1 | 2, [context, tree, interim, gi, tail @ ..]) => (context, tree, interim, gi, tail),
            (1 | 2, _) => return Err(corrupt("observer state: missing parts")),
            _ => return Err(corrupt(format!("unknown observer state version {version}"))),
        };
        let context: GroupContext = decode_exact(context).map_err(corrupt)?;
        let tree = Tree::from_wire_owned(cs, decode_exact::<RatchetTree>(tree).map_err(corrupt)?)?;
        let index = MemberIndex::from_tree(&tree)?;
        let group_info = if gi.is_empty() {
            None
        } else {
            Some(decode_exact::<GroupInfo>(gi).map_err(corrupt)?)
        };
        let (lifetime, reinit, proposals) = read_tail(cs, tail, version == 1)?;
        Ok(Self {
            context,
            tree,
            interim_transcript_hash: interim.to_vec(),
            index,
            proposals,
            group_info,
            lifetime,
            reinit,
            delta_epoch: None,
            group_info_changed: false,
        })
    }

    /// Starts recording changes for [`Observer::take_delta`], against the current state
    /// (which the caller has just stored whole).
    pub fn track_changes(&mut self) {
        self.tree.track_changes();
        self.delta_epoch = Some(self.context.epoch);
        self.group_info_changed = false;
    }

    /// What changed since the last [`Observer::track_changes`] or `take_delta`, O(changed)
    /// bytes, and restarts the recording: the base epoch, the changed tree nodes
    /// ([`TreeDelta`]), the context and interim hash, the GroupInfo only if it changed, the
    /// lifetime, ReInit and proposals. `None` when no recording covers the change (store a
    /// snapshot).
    pub fn take_delta(&mut self) -> Result<Option<Vec<u8>>, ObserverError> {
        let base = self.delta_epoch.replace(self.context.epoch);
        let tree = self.tree.take_changes();
        if !self.tree.is_tracking_changes() {
            self.tree.track_changes();
        }
        let gi_changed = std::mem::take(&mut self.group_info_changed);
        let (Some(base), Some(tree)) = (base, tree) else {
            return Ok(None);
        };
        if self.context.epoch != base && self.context.epoch != base.wrapping_add(1) {
            return Ok(None);
        }
        let mut out = vec![DELTA_VERSION];
        put_part(&mut out, &base.to_be_bytes())?;
        put_part(&mut out, &encode(&tree).map_err(codec)?)?;
        put_part(&mut out, &encode(&self.context).map_err(codec)?)?;
        put_part(&mut out, &self.interim_transcript_hash)?;
        match (&self.group_info, gi_changed) {
            (_, false) => put_part(&mut out, &[0])?,
            (None, true) => put_part(&mut out, &[1])?,
            (Some(gi), true) => {
                let mut b = vec![2];
                b.extend_from_slice(&encode(gi).map_err(codec)?);
                put_part(&mut out, &b)?;
            }
        }
        self.put_tail(&mut out)?;
        Ok(Some(out))
    }

    /// Restores an observer from a snapshot ([`Observer::to_bytes`]) and the deltas taken
    /// after it, in order: O(N) for the snapshot plus O(changed log N) per delta. A delta
    /// that does not decode or does not follow the state is refused
    /// ([`ObserverError::Corrupt`] or a tree error), never a panic.
    pub fn from_bytes_and_deltas<D: AsRef<[u8]>>(
        cs: &dyn CipherSuiteProvider,
        snapshot: &[u8],
        deltas: &[D],
    ) -> Result<Self, ObserverError> {
        let mut o = Self::from_bytes(cs, snapshot)?;
        for d in deltas {
            o = o.with_delta(cs, d.as_ref())?;
        }
        if !deltas.is_empty() {
            o.index = MemberIndex::from_tree(&o.tree)?;
        }
        Ok(o)
    }

    /// The state a delta leads to from this one (member index left stale: the caller
    /// rebuilds it after the last delta).
    fn with_delta(
        &self,
        cs: &dyn CipherSuiteProvider,
        bytes: &[u8],
    ) -> Result<Self, ObserverError> {
        let (&version, rest) = bytes.split_first().ok_or_else(|| corrupt("empty delta"))?;
        if version != DELTA_VERSION {
            return Err(corrupt(format!("unknown observer delta version {version}")));
        }
        let parts = split_parts(rest)?;
        let [base, tree, context, interim, gi, tail @ ..] = parts.as_slice() else {
            return Err(corrupt("observer delta: missing parts"));
        };
        let base = base
            .first_chunk::<8>()
            .filter(|_| base.len() == 8)
            .map(|b| u64::from_be_bytes(*b))
            .ok_or_else(|| corrupt("observer delta: base epoch"))?;
        let context: GroupContext = decode_exact(context).map_err(corrupt)?;
        let (epoch, next) = (self.context.epoch, context.epoch);
        if base != epoch || (next != epoch && next != epoch.wrapping_add(1)) {
            return Err(corrupt("observer delta does not follow the state"));
        }
        if context.group_id != self.context.group_id
            || context.cipher_suite != self.context.cipher_suite
        {
            return Err(corrupt("observer delta of another group or suite"));
        }
        let mut new_tree = self.tree.stage();
        new_tree.apply_delta(cs, decode_exact::<TreeDelta>(tree).map_err(corrupt)?)?;
        if new_tree.tree_hash(cs)? != context.tree_hash.as_slice() {
            return Err(corrupt("tree hash after delta"));
        }
        let group_info = match gi.split_first() {
            Some((0, [])) => self.group_info.clone(),
            Some((1, [])) => None,
            Some((2, gi)) => Some(decode_exact::<GroupInfo>(gi).map_err(corrupt)?),
            _ => return Err(corrupt("observer delta: GroupInfo part")),
        };
        let (lifetime, reinit, proposals) = read_tail(cs, tail, false)?;
        Ok(Self {
            context,
            tree: new_tree,
            interim_transcript_hash: interim.to_vec(),
            index: MemberIndex::default(),
            proposals,
            group_info,
            lifetime,
            reinit,
            delta_epoch: None,
            group_info_changed: false,
        })
    }
}

/// Appends a part: its length (u32 big-endian), then its bytes.
fn put_part(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), ObserverError> {
    let len = u32::try_from(bytes.len()).map_err(codec)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Splits length-prefixed parts; a truncated part is refused.
fn split_parts(mut rest: &[u8]) -> Result<Vec<&[u8]>, ObserverError> {
    let mut parts: Vec<&[u8]> = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("truncated observer state"))?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(corrupt)?;
        if tail.len() < len {
            return Err(corrupt("truncated observer state"));
        }
        let (part, tail) = tail.split_at(len);
        parts.push(part);
        rest = tail;
    }
    Ok(parts)
}

type Tail = (LifetimePolicy, Option<ReInit>, Vec<Cached>);

/// Decodes the lifetime, ReInit (absent in version 1) and cached proposals parts.
fn read_tail(
    cs: &dyn CipherSuiteProvider,
    tail: &[&[u8]],
    version_1: bool,
) -> Result<Tail, ObserverError> {
    let (lifetime, reinit, proposals) = match (version_1, tail) {
        (true, [lifetime, proposals @ ..]) => (lifetime, None, proposals),
        (false, [lifetime, reinit, proposals @ ..]) => (lifetime, Some(reinit), proposals),
        _ => return Err(corrupt("observer state: missing parts")),
    };
    let lifetime = match (lifetime.len(), lifetime.first_chunk::<8>()) {
        (0, _) => LifetimePolicy::Ignore,
        (8, Some(now)) => LifetimePolicy::Check {
            now: u64::from_be_bytes(*now),
        },
        _ => return Err(corrupt("observer state: lifetime")),
    };
    let reinit = match reinit {
        Some(r) if !r.is_empty() => Some(decode_exact::<ReInit>(r).map_err(corrupt)?),
        _ => None,
    };
    let mut cached = Vec::with_capacity(proposals.len());
    for p in proposals {
        let ac: AuthenticatedContent = decode_exact(p).map_err(corrupt)?;
        let FramedContentBody::Proposal(proposal) = ac.content.body else {
            return Err(corrupt("observer state: cached item is not a proposal"));
        };
        cached.push(Cached {
            reference: proposal_ref(cs, p).map_err(codec)?,
            proposal,
            sender: ac.content.sender,
            encoded: p.to_vec(),
        });
    }
    Ok((lifetime, reinit, cached))
}

/// Applies `(leaf, old, new)` changes to the index: all removals, then all insertions.
fn apply_index_changes(
    index: &mut MemberIndex,
    changes: &[(LeafIndex, Option<LeafNode>, Option<LeafNode>)],
) -> Result<(), TreeValidationError> {
    for (at, old, _) in changes {
        if let Some(old) = old {
            index.remove(*at, old);
        }
    }
    for (at, _, new) in changes {
        if let Some(new) = new {
            index.insert(*at, new)?;
        }
    }
    Ok(())
}

/// Decodes an `MlsMessage` carrying a GroupInfo.
pub fn group_info_of(msg: &MlsMessage) -> Result<&GroupInfo, ObserverError> {
    match &msg.body {
        MlsMessageBody::GroupInfo(gi) => Ok(gi),
        _ => Err(ObserverError::Unexpected("not a GroupInfo")),
    }
}

/// A GroupContext extension list (a GroupContextExtensions' or a ReInit's) is well formed (as in
/// the member's validation): no type
/// twice (RFC 9420 §13), and the extensions the group reads decode.
fn check_extensions_wellformed(i: usize, exts: &[Extension]) -> Result<(), ObserverError> {
    if repeated_extension_type(exts.iter().map(|e| e.extension_type)).is_some() {
        return Err(rule(Some(i), "an extension type twice"));
    }
    if first_misplaced_in(exts, ExtensionContainer::GroupContext).is_some() {
        return Err(rule(
            Some(i),
            "an extension not allowed in the GroupContext",
        ));
    }
    Extension::find::<RequiredCapabilities>(exts)
        .transpose()
        .map_err(|_| rule(Some(i), "malformed required_capabilities"))?;
    if let Some(Err(_)) = Extension::find::<ExternalSenders>(exts) {
        return Err(rule(Some(i), "malformed external_senders"));
    }
    Ok(())
}

/// §12.1.7: every member of `tree` (the group after the commit's Updates and Removes) supports
/// each extension of a GroupContextExtensions proposal (default types excepted) and any new
/// required capabilities. O(N), only for a commit that changes the extensions (as in the
/// member's validation). The list was checked by [`check_extensions_wellformed`].
fn check_extensions_supported(
    i: usize,
    exts: &[Extension],
    tree: &Tree,
) -> Result<(), ObserverError> {
    let rc = Extension::find::<RequiredCapabilities>(exts)
        .transpose()
        .map_err(|_| rule(Some(i), "malformed required_capabilities"))?;
    for (leaf, node) in tree.leaves() {
        let caps = &node.capabilities();
        if caps.first_unsupported(exts).is_some() {
            return Err(ObserverError::Unsupported {
                leaf: leaf.0,
                what: "GroupContextExtensions extension",
            });
        }
        if let Some(rc) = &rc {
            if !caps.satisfies(rc) {
                return Err(ObserverError::Unsupported {
                    leaf: leaf.0,
                    what: "new required_capabilities",
                });
            }
        }
    }
    Ok(())
}
