//! Proposals (RFC 9420 §12.1): the cache of proposals received in an epoch, the validation
//! of a commit's proposal list (§12.2, every rule numbered as in [`ProposalRule`]), and its
//! application to a staged tree in the order of §12.3.
//!
//! Invariants: the cache holds only proposals whose message verified in the current epoch,
//! keyed by ProposalRef (§5.2), and is emptied when an epoch ends. Validation and
//! application never touch the group: they write only to the staged tree they are given.

use std::collections::{HashMap, HashSet};

use crate::codec::{encode, VarBytes, VarVec};
use crate::crypto::labels::{proposal_ref, sign_with_label};
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::framing::MessageProtection;
use crate::messages::{
    first_misplaced_in, repeated_extension_type, Add, AuthenticatedContent, Extension,
    ExtensionContainer, ExtensionType, ExternalInit, ExternalPsk, ExternalSenders, FramedContent,
    FramedContentAuthData, FramedContentBody, FramedContentTbs, GroupContextExtensions, KeyPackage,
    LeafNodeSource, MlsMessage, MlsMessageBody, PreSharedKey, PreSharedKeyId, Proposal,
    ProposalRef, ProposalType, ProtocolVersion, Psk, PublicMessage, ReInit, Remove,
    ResumptionPskUsage, Sender, Update, WireFormat,
};
use crate::psk::fresh_psk_nonce;
use crate::secret_tree::RatchetKind;
use crate::tree::Tree;
use crate::tree_math::{LeafIndex, NodeIndex};

use super::error::{
    GroupError, InvalidProposal, KeyPackageError, LeafNodeError, MisuseError, ProposalRule,
    ProtocolError,
};
use super::key_package::{sign_leaf, KeyPackageSignatures, LeafCheck, LeafRole, MembershipDelta};
use super::Group;

/// A proposal received in the current epoch.
#[derive(Clone, Debug)]
pub struct CachedProposal {
    /// Its reference (RFC 9420 §5.2).
    pub proposal_ref: ProposalRef,
    /// The proposal.
    pub proposal: Proposal,
    /// Who sent it.
    pub sender: Sender,
}

/// The proposals received in one epoch, by reference, in arrival order.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProposalCache {
    order: Vec<Vec<u8>>,
    by_ref: HashMap<Vec<u8>, CachedProposal>,
}

impl ProposalCache {
    pub(crate) fn insert(&mut self, p: CachedProposal) {
        let key = p.proposal_ref.0.to_vec();
        if self.by_ref.insert(key.clone(), p).is_none() {
            self.order.push(key);
        }
    }

    pub(crate) fn get(&self, r: &[u8]) -> Option<&CachedProposal> {
        self.by_ref.get(r)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &CachedProposal> {
        self.order.iter().filter_map(|k| self.by_ref.get(k))
    }

    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.by_ref.clear();
    }
}

/// One proposal of a commit, resolved: its body, its sender, and whether it came by
/// reference.
#[derive(Clone, Debug)]
pub(crate) struct Resolved<'a> {
    pub(crate) proposal: &'a Proposal,
    pub(crate) sender: Sender,
    pub(crate) proposal_ref: Option<Vec<u8>>,
}

/// Who commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Committer {
    /// A member at this leaf.
    Member(LeafIndex),
    /// A new member by external commit (RFC 9420 §12.4.3.2).
    External,
}

/// What applying a proposal list gave (RFC 9420 §12.3).
#[derive(Clone, Debug, Default)]
pub(crate) struct Applied<'a> {
    /// The new GroupContext extensions, when a GCE proposal was committed.
    pub(crate) extensions: Option<Vec<Extension>>,
    /// Leaves added, with their KeyPackages, in order.
    pub(crate) added: Vec<(LeafIndex, &'a KeyPackage)>,
    /// Leaves removed.
    pub(crate) removed: Vec<LeafIndex>,
    /// Leaves updated, with the proposal reference.
    pub(crate) updated: Vec<(LeafIndex, Option<Vec<u8>>)>,
    /// PSKs in list order.
    pub(crate) psks: Vec<PreSharedKeyId>,
    /// The ExternalInit.
    pub(crate) external_init: Option<ExternalInit>,
    /// The ReInit.
    pub(crate) reinit: Option<ReInit>,
    /// Nodes whose content changed (for the member index), O(k log N).
    pub(crate) touched: Vec<NodeIndex>,
    /// True if any proposal requires a path (§12.4).
    pub(crate) path_required: bool,
    /// The leaves leaving and joining (for §7.3 checks against the resulting group).
    pub(crate) delta: MembershipDelta,
}

fn invalid(index: usize, p: InvalidProposal) -> GroupError {
    GroupError::rule(Some(index), ProposalRule::InvalidProposal(p))
}

/// §12.4: the proposal types that require a path.
fn requires_path(t: ProposalType) -> bool {
    matches!(
        t,
        ProposalType::UPDATE
            | ProposalType::REMOVE
            | ProposalType::EXTERNAL_INIT
            | ProposalType::GROUP_CONTEXT_EXTENSIONS
    )
}

impl Group {
    /// A verified proposal (RFC 9420 §12.1) as it is cached, under its reference, once the
    /// sender may send this type (§12.1.8). Changes nothing: the caller caches it.
    pub(crate) fn check_proposal(
        &self,
        cs: &dyn CipherSuiteProvider,
        ac: &AuthenticatedContent,
    ) -> Result<CachedProposal, GroupError> {
        let FramedContentBody::Proposal(p) = &ac.content.body else {
            return Err(super::MisuseError::Unsupported("not a proposal").into());
        };
        check_sender_may_propose(0, &ac.content.sender, p)?;
        let r = proposal_ref(cs, &encode(ac)?)?;
        Ok(CachedProposal {
            proposal_ref: ProposalRef(r.into()),
            proposal: p.clone(),
            sender: ac.content.sender,
        })
    }

    /// Validates a commit's proposal list (RFC 9420 §12.2) and applies it to `tree` (a staged
    /// tree) in the order of §12.3; the added KeyPackages' signatures are verified here or,
    /// with `KeyPackageSignatures::VerifiedBeside`, by the caller. `tree` may be partly
    /// modified on error; the caller drops it.
    pub(crate) fn validate_and_apply<'a>(
        &self,
        cs: &dyn CipherSuiteProvider,
        tree: &mut Tree,
        list: &[Resolved<'a>],
        committer: Committer,
        kp_signatures: KeyPackageSignatures,
    ) -> Result<Applied<'a>, GroupError> {
        let mut out = Applied {
            path_required: list.is_empty(),
            ..Applied::default()
        };
        // Collect by type, checking the sender rules (§12.1.8) and the list rules of §12.2.
        let mut gce: Option<(usize, &Vec<Extension>)> = None;
        let mut updates: Vec<(usize, LeafIndex, &Resolved<'a>)> = Vec::new();
        let mut removes: Vec<(usize, LeafIndex)> = Vec::new();
        let mut adds: Vec<(usize, &KeyPackage)> = Vec::new();
        let mut psks: Vec<(usize, &PreSharedKeyId)> = Vec::new();
        let mut external_inits: Vec<(usize, &ExternalInit)> = Vec::new();
        let mut reinit: Option<(usize, &ReInit)> = None;
        for (i, r) in list.iter().enumerate() {
            let t = r.proposal.proposal_type();
            out.path_required |= requires_path(t);
            // E3 first: for an external commit it is the more specific rule (every
            // by-value proposal of a new member's commit that is not ExternalInit, Remove or
            // PreSharedKey would otherwise be refused as a sender violation, §12.1.8).
            if committer == Committer::External {
                // E3: only ExternalInit, Remove and PreSharedKey, all by value (§12.2,
                // §12.4.3.2).
                let allowed = matches!(
                    r.proposal,
                    Proposal::ExternalInit(_) | Proposal::Remove(_) | Proposal::PreSharedKey(_)
                );
                if !allowed || r.proposal_ref.is_some() {
                    return Err(GroupError::rule(
                        Some(i),
                        ProposalRule::ExternalForbiddenProposal(t.0),
                    ));
                }
            }
            check_sender_may_propose(i, &r.sender, r.proposal)?;
            match r.proposal {
                Proposal::Add(a) => adds.push((i, &a.key_package)),
                Proposal::Update(_) => {
                    let Sender::Member(l) = r.sender else {
                        return Err(invalid(i, InvalidProposal::UpdateFromNonMember));
                    };
                    // R2: no Update from the committer (§12.2).
                    if committer == Committer::Member(LeafIndex(l)) {
                        return Err(GroupError::rule(Some(i), ProposalRule::UpdateByCommitter));
                    }
                    updates.push((i, LeafIndex(l), r));
                }
                Proposal::Remove(rm) => {
                    let leaf = LeafIndex(rm.removed);
                    // R3: no Remove of the committer (§12.2).
                    if committer == Committer::Member(leaf) {
                        return Err(GroupError::rule(Some(i), ProposalRule::RemovesCommitter));
                    }
                    removes.push((i, leaf));
                }
                Proposal::PreSharedKey(p) => psks.push((i, &p.psk)),
                Proposal::ReInit(ri) => reinit = Some((i, ri)),
                Proposal::ExternalInit(e) => {
                    // R10: no ExternalInit in a member commit (§12.2).
                    if committer != Committer::External {
                        return Err(GroupError::rule(
                            Some(i),
                            ProposalRule::ExternalInitInMemberCommit,
                        ));
                    }
                    external_inits.push((i, e));
                }
                Proposal::GroupContextExtensions(g) => {
                    // R8: at most one GroupContextExtensions (§12.2).
                    if gce.is_some() {
                        return Err(GroupError::rule(
                            Some(i),
                            ProposalRule::MultipleGroupContextExtensions,
                        ));
                    }
                    gce = Some((i, &g.extensions.0));
                }
                Proposal::Unknown { .. } => {
                    // R11: a non-default type must be supported by every member, which the
                    // group's required_capabilities guarantees (§12.2, §11.1).
                    let required = Self::required_capabilities(&self.context.extensions)?;
                    if !required.is_some_and(|rc| rc.proposal_types.contains(&t)) {
                        return Err(GroupError::rule(
                            Some(i),
                            ProposalRule::UnsupportedProposalType(t.0),
                        ));
                    }
                }
            }
        }
        // R9: a ReInit stands alone (§12.2).
        if let Some((i, _)) = reinit {
            if list.len() > 1 {
                return Err(GroupError::rule(Some(i), ProposalRule::ReInitNotAlone));
            }
        }
        if committer == Committer::External {
            // E1: exactly one ExternalInit; E2: at most one Remove (§12.2).
            if external_inits.len() != 1 {
                return Err(GroupError::rule(
                    None,
                    ProposalRule::ExternalInitCount(external_inits.len()),
                ));
            }
            if removes.len() > 1 {
                return Err(GroupError::rule(
                    removes.get(1).map(|(i, _)| *i),
                    ProposalRule::ExternalRemove,
                ));
            }
        }
        // R4: one Update or Remove per leaf (§12.2). Removes are seen first, so when an
        // Update and a Remove collide the Update is blamed (a committer dropping the blamed
        // proposal then keeps the Remove, as §12.2 recommends).
        let mut seen: HashSet<u32> = HashSet::new();
        for (i, leaf) in removes
            .iter()
            .copied()
            .chain(updates.iter().map(|(i, l, _)| (*i, *l)))
        {
            if !seen.insert(leaf.0) {
                return Err(GroupError::rule(
                    Some(i),
                    ProposalRule::DuplicateUpdateOrRemove(leaf),
                ));
            }
        }
        // R7: no PreSharedKeyID twice (§12.2); §12.1.4 nonce length and usage.
        let mut seen_psk: HashSet<Vec<u8>> = HashSet::new();
        for (i, id) in &psks {
            if id.psk_nonce.len() != cs.hash_len() {
                return Err(invalid(
                    *i,
                    InvalidProposal::Psk("psk_nonce is not KDF.Nh bytes".into()),
                ));
            }
            if let Psk::Resumption(r) = &id.psk {
                // §12.1.4: only `application` resumption PSKs, except in the first commit of
                // a group created by ReInit or branch (§11.2, §11.3), from epoch 0.
                if r.usage != ResumptionPskUsage::APPLICATION && self.context.epoch != 0 {
                    return Err(invalid(
                        *i,
                        InvalidProposal::Psk("resumption usage must be application".into()),
                    ));
                }
            }
            if !seen_psk.insert(encode(*id)?) {
                return Err(GroupError::rule(Some(*i), ProposalRule::DuplicatePsk));
            }
        }
        // §12.1.5: ReInit version not older. Its extensions become the new group's
        // GroupContext extensions (§11.2), so they are held to the same rules as a
        // GroupContextExtensions proposal's: a list no new group could be created with is
        // refused here, not when the ReInit is carried out.
        if let Some((i, ri)) = reinit {
            if ri.version.0 < ProtocolVersion::MLS10.0 {
                return Err(invalid(i, InvalidProposal::ReInitVersion));
            }
            Self::check_gce_wellformed(i, &ri.extensions.0)?;
        }

        // §12.3 step 1: GroupContextExtensions first; the new extensions govern the rest.
        let extensions: &[Extension] = match gce {
            Some((i, exts)) => {
                Self::check_gce_wellformed(i, exts)?;
                out.extensions = Some(exts.clone());
                exts
            }
            None => &self.context.extensions,
        };
        let required = Self::required_capabilities(extensions)?;
        let check = LeafCheck {
            cs,
            group_id: self.group_id(),
            required: required.as_ref(),
            lifetime: self.config.lifetime,
        };

        // §12.3 step 2: Updates.
        for (i, leaf, r) in &updates {
            let Proposal::Update(u) = r.proposal else {
                continue;
            };
            let current = tree
                .leaf(*leaf)
                .ok_or_else(|| {
                    invalid(
                        *i,
                        InvalidProposal::Update {
                            leaf: *leaf,
                            reason: "sender's leaf is blank".into(),
                        },
                    )
                })?
                .clone();
            check
                .validate(&u.leaf_node, LeafRole::Update(*leaf))
                .map_err(|e| {
                    invalid(
                        *i,
                        InvalidProposal::Update {
                            leaf: *leaf,
                            reason: e.to_string(),
                        },
                    )
                })?;
            // §7.3: an Update must change the encryption key.
            if u.leaf_node.encryption_key() == current.encryption_key() {
                return Err(invalid(
                    *i,
                    InvalidProposal::Update {
                        leaf: *leaf,
                        reason: "encryption key unchanged".into(),
                    },
                ));
            }
            out.touched.push(leaf.node());
            out.touched.extend(tree.size().direct_path(leaf.node()));
            out.delta.leave(&current);
            out.delta.join(&u.leaf_node);
            tree.update_leaf(*leaf, u.leaf_node.clone())?;
            out.updated.push((*leaf, r.proposal_ref.clone()));
        }
        // §12.3 step 3: Removes.
        for (i, leaf) in &removes {
            // §12.1.3: the removed leaf must be a member.
            let Some(old) = tree.leaf(*leaf) else {
                return Err(invalid(*i, InvalidProposal::RemoveBlankLeaf(*leaf)));
            };
            out.delta.leave(old);
            out.touched.push(leaf.node());
            out.touched.extend(tree.size().direct_path(leaf.node()));
            tree.remove_leaf(*leaf)?;
            out.removed.push(*leaf);
        }
        // §12.1.7: every member after the Updates and Removes supports the new extensions
        // ("excluding those removed"); the Adds are checked against them below.
        if let Some((i, exts)) = gce {
            Self::check_gce_supported(i, exts, tree)?;
        }
        // §12.3 step 4: Adds, in list order.
        // The KeyPackages' two signatures each are checked up front, in batches over the
        // pool (or beside, by the caller); the verdicts are then read in list order, so the
        // error reported is the one a sequential pass would report.
        let suite = self.context.cipher_suite;
        let kps: Vec<&KeyPackage> = adds.iter().map(|(_, kp)| *kp).collect();
        let verdicts = check.validate_key_packages(&kps, suite, kp_signatures);
        let mut add_sig_keys: HashSet<&[u8]> = HashSet::new();
        for ((i, kp), verdict) in adds.iter().zip(verdicts) {
            verdict.map_err(|e| invalid(*i, InvalidProposal::KeyPackage(e)))?;
            // §13: the new member supports every extension of the resulting GroupContext.
            if let Some(t) = kp.leaf_node.capabilities().first_unsupported(extensions) {
                return Err(invalid(
                    *i,
                    InvalidProposal::KeyPackage(KeyPackageError::LeafNode(
                        LeafNodeError::GroupExtensionUnsupported(t.0),
                    )),
                ));
            }
            // R5: no two Adds for the same client (same KeyPackage or signature key).
            if !add_sig_keys.insert(kp.leaf_node.signature_key()) {
                return Err(GroupError::rule(Some(*i), ProposalRule::DuplicateAdd));
            }
            // R6: not a client already in the group, unless removed by this commit.
            if let Some(existing) =
                self.index
                    .sig_holder(&self.tree, &self.tree, kp.leaf_node.signature_key())
            {
                if !out.removed.contains(&existing) {
                    return Err(GroupError::rule(
                        Some(*i),
                        ProposalRule::AddExistingMember { existing },
                    ));
                }
            }
            out.delta.join(&kp.leaf_node);
            let at = tree.add_leaf(kp.leaf_node.clone())?;
            out.touched.push(at.node());
            out.added.push((at, *kp));
        }
        // §12.3 steps 5-6: PSKs in order, then ExternalInit; ReInit is kept for the caller.
        out.psks = psks.iter().map(|(_, id)| (*id).clone()).collect();
        out.external_init = external_inits.first().map(|(_, e)| (*e).clone());
        out.reinit = reinit.map(|(_, r)| r.clone());

        // R12 (§12.2, §7.3): the new leaves' keys are unique in the resulting tree. O(k)
        // with the member index.
        let mut fresh_enc: HashMap<&[u8], LeafIndex> = HashMap::new();
        let new_leaves = updates
            .iter()
            .map(|(i, l, _)| (*i, *l))
            .chain(
                adds.iter()
                    .map(|(i, _)| *i)
                    .zip(out.added.iter().map(|(l, _)| *l)),
            )
            .collect::<Vec<_>>();
        for (i, leaf) in new_leaves {
            let Some(node) = tree.leaf(leaf) else {
                continue;
            };
            let key = node.encryption_key();
            let holder = match fresh_enc.insert(key, leaf) {
                Some(other) => Some(other.node()),
                None => self.index.enc_holder(&self.tree, tree, key),
            };
            if let Some(holder) = holder {
                return Err(GroupError::rule(
                    Some(i),
                    ProposalRule::InvalidTreeAfterCommit {
                        leaf,
                        error: LeafNodeError::DuplicateEncryptionKey(holder),
                    },
                ));
            }
            if let Some(holder) = self
                .index
                .sig_holder(&self.tree, tree, node.signature_key())
            {
                if holder != leaf {
                    return Err(GroupError::rule(
                        Some(i),
                        ProposalRule::InvalidTreeAfterCommit {
                            leaf,
                            error: LeafNodeError::DuplicateSignatureKey(holder),
                        },
                    ));
                }
            }
            // §7.3 against the resulting group (members removed by this commit excluded):
            // its credential type is supported by every other member, and it supports
            // every credential type in use.
            self.index
                .check_credential_support(node, &out.delta, true)
                .map_err(|error| {
                    GroupError::rule(
                        Some(i),
                        ProposalRule::InvalidTreeAfterCommit { leaf, error },
                    )
                })?;
        }
        Ok(out)
    }

    /// A GroupContext extension list (a GroupContextExtensions' or a ReInit's) is well
    /// formed: no type twice (§13), only types §17.3 registers for the GroupContext, and the
    /// extensions this engine reads decode.
    fn check_gce_wellformed(i: usize, exts: &[Extension]) -> Result<(), GroupError> {
        // §13: no extension type twice.
        if let Some(t) = repeated_extension_type(exts.iter().map(|e| e.extension_type)) {
            return Err(invalid(i, InvalidProposal::DuplicateExtension(t.0)));
        }
        // §17.3: only the extension types registered for the GroupContext.
        if let Some(t) = first_misplaced_in(exts, ExtensionContainer::GroupContext) {
            return Err(invalid(i, InvalidProposal::MisplacedExtension(t.0)));
        }
        // The extensions this engine reads from the GroupContext must decode: a list it cannot
        // read is the proposal's fault, so a committer leaves the proposal out.
        Self::required_capabilities(exts).map_err(|_| {
            invalid(
                i,
                InvalidProposal::MalformedExtension(ExtensionType::REQUIRED_CAPABILITIES.0),
            )
        })?;
        if let Some(Err(_)) = Extension::find::<ExternalSenders>(exts) {
            return Err(invalid(
                i,
                InvalidProposal::MalformedExtension(ExtensionType::EXTERNAL_SENDERS.0),
            ));
        }
        Ok(())
    }

    /// §12.1.7: every member of `tree` (the group after the commit's Updates and Removes)
    /// supports the new extensions (default types excepted) and satisfies new required
    /// capabilities. O(N), only when a GroupContextExtensions proposal is committed. The list
    /// was checked by [`Group::check_gce_wellformed`].
    fn check_gce_supported(i: usize, exts: &[Extension], tree: &Tree) -> Result<(), GroupError> {
        let rc = Self::required_capabilities(exts)?;
        for (leaf, node) in tree.leaves() {
            let caps = &node.capabilities();
            let exts_ok = caps.first_unsupported(exts).is_none();
            let rc_ok = rc.as_ref().is_none_or(|rc| caps.satisfies(rc));
            if !exts_ok || !rc_ok {
                return Err(invalid(i, InvalidProposal::ExtensionsUnsupported(leaf)));
            }
        }
        Ok(())
    }

    /// Resolves a commit's proposals (by value and by reference, RFC 9420 §12.4) with
    /// `committer_sender` as the sender of by-value proposals.
    pub(crate) fn resolve_proposals<'a>(
        &'a self,
        commit: &'a crate::messages::Commit,
        committer_sender: &Sender,
    ) -> Result<Vec<Resolved<'a>>, GroupError> {
        commit
            .proposals
            .iter()
            .map(|p| match p {
                crate::messages::ProposalOrRef::Proposal(p) => Ok(Resolved {
                    proposal: p,
                    sender: *committer_sender,
                    proposal_ref: None,
                }),
                crate::messages::ProposalOrRef::Reference(r) => {
                    let c = self
                        .proposals
                        .get(r.0.as_slice())
                        .ok_or(GroupError::Protocol(ProtocolError::UnknownProposalRef))?;
                    Ok(Resolved {
                        proposal: &c.proposal,
                        sender: c.sender,
                        proposal_ref: Some(r.0.to_vec()),
                    })
                }
            })
            .collect()
    }
}

/// §12.1.8: which sender may send which proposal type. Members: all but ExternalInit;
/// external senders: Add, Remove, PreSharedKey, ReInit, GroupContextExtensions; new members
/// (by proposal): Add only; new members (by commit): ExternalInit, Remove, PreSharedKey.
fn check_sender_may_propose(i: usize, sender: &Sender, p: &Proposal) -> Result<(), GroupError> {
    let t = p.proposal_type();
    let ok = match sender {
        // R10 covers ExternalInit from a member (§12.2).
        Sender::Member(_) => true,
        Sender::External(_) => matches!(
            p,
            Proposal::Add(_)
                | Proposal::Remove(_)
                | Proposal::PreSharedKey(_)
                | Proposal::ReInit(_)
                | Proposal::GroupContextExtensions(_)
        ),
        Sender::NewMemberProposal => matches!(p, Proposal::Add(_)),
        Sender::NewMemberCommit => matches!(
            p,
            Proposal::ExternalInit(_) | Proposal::Remove(_) | Proposal::PreSharedKey(_)
        ),
    };
    if !ok {
        return Err(invalid(
            i,
            InvalidProposal::SenderNotAllowed { proposal_type: t.0 },
        ));
    }
    Ok(())
}

impl Group {
    /// Sends a proposal (RFC 9420 §12.1) as a member: signs and frames it (PublicMessage, or
    /// PrivateMessage with `encrypt_handshake`) and caches it so our next commit includes
    /// it. Returns the message to send. A proposal no member could commit is refused and
    /// nothing changes (see `check_committable`): an invalid KeyPackage, a Remove of a leaf
    /// that is not a member, a PreSharedKey we do not hold, a GroupContextExtensions that
    /// does not decode or is not supported, a non-default type not every member supports.
    pub fn propose(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        proposal: Proposal,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        self.propose_checked(cs, proposal, true)
    }

    /// [`Group::propose`] without the check that some member could commit the proposal, so
    /// that tests can send what a faulty or hostile member would. A test hook; not for
    /// production use.
    #[cfg(feature = "test-hooks")]
    pub fn propose_unchecked_for_tests(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        proposal: Proposal,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        self.propose_checked(cs, proposal, false)
    }

    fn propose_checked(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        proposal: Proposal,
        committable: bool,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        self.check_suite(cs)?;
        self.check_active()?;
        let wire_format = if self.config.encrypt_handshake {
            WireFormat::PRIVATE_MESSAGE
        } else {
            WireFormat::PUBLIC_MESSAGE
        };
        let content = FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(self.own_leaf.0),
            authenticated_data: VarBytes::default(),
            body: FramedContentBody::Proposal(proposal),
        };
        let (sc, auth) = self.sign_own_content(cs, wire_format, &content)?;
        let ac = AuthenticatedContent {
            wire_format,
            content,
            auth,
        };
        // Checked first; the secret tree changes only once the message is built, and the cache
        // after that (nothing fails any more).
        let cached = self.check_proposal(cs, &ac)?;
        if committable {
            self.check_committable(cs, &cached)?;
        }
        let msg = if wire_format == WireFormat::PRIVATE_MESSAGE {
            let keys = &mut self.keys;
            // After the handshake keys our commits of this epoch used.
            let lent = keys.handshake_lent.next();
            keys.secret_tree
                .advance_to(cs, self.own_leaf, RatchetKind::Handshake, lent)?;
            let mp = MessageProtection::new(
                cs,
                &self.context,
                &keys.membership_key,
                &keys.sender_data_secret,
            );
            MlsMessage::new(MlsMessageBody::PrivateMessage(mp.protect_private_signed(
                &mut keys.secret_tree,
                ac.content,
                ac.auth,
                self.config.padding,
            )?))
        } else {
            self.frame_signed(cs, sc, ac)?
        };
        self.proposals.insert(cached.clone());
        Ok((msg, cached))
    }

    /// Refuses to send a proposal no member could commit (RFC 9420 §12.2): the proposal
    /// judged alone, as another member committing it by reference would judge it (a
    /// KeyPackage's validity and signatures, a Remove's target, a GroupContextExtensions'
    /// encoding and support, a ReInit's version, a non-default type's support), and a
    /// PreSharedKey whose secret we do not hold. A peer caches what it receives and meets the
    /// problem only when it commits (OpenMLS then fails every commit of the epoch: difference
    /// 15 in `test-vectors/peers/INTEROP.md`).
    fn check_committable(
        &self,
        cs: &dyn CipherSuiteProvider,
        cached: &CachedProposal,
    ) -> Result<(), GroupError> {
        if let Proposal::PreSharedKey(p) = &cached.proposal {
            self.psk_secret(cs, std::slice::from_ref(&p.psk))?;
        }
        // Another member commits it, not one it removes (in a group of one, we do).
        let target = match &cached.proposal {
            Proposal::Remove(r) => Some(r.removed),
            _ => None,
        };
        let committer = self
            .tree
            .leaves()
            .map(|(l, _)| l)
            .find(|l| *l != self.own_leaf && Some(l.0) != target)
            .unwrap_or(self.own_leaf);
        let list = [Resolved {
            proposal: &cached.proposal,
            sender: cached.sender,
            proposal_ref: Some(cached.proposal_ref.0.to_vec()),
        }];
        let mut tree = self.tree.stage();
        self.validate_and_apply(
            cs,
            &mut tree,
            &list,
            Committer::Member(committer),
            KeyPackageSignatures::Verify,
        )
        .map(drop)
    }

    /// Proposes adding the owner of `key_package` (RFC 9420 §12.1.1), after validating it
    /// (§10.1).
    pub fn propose_add(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        key_package: KeyPackage,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        self.propose(cs, Proposal::Add(Add { key_package }))
    }

    /// Proposes removing `leaf` (RFC 9420 §12.1.3).
    pub fn propose_remove(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        if self.tree.leaf(leaf).is_none() {
            return Err(MisuseError::NotAMember(leaf).into());
        }
        self.propose(cs, Proposal::Remove(Remove { removed: leaf.0 }))
    }

    /// Proposes a new leaf for ourselves (RFC 9420 §12.1.2) with a fresh encryption key;
    /// the private key is kept until a commit includes the proposal. Another member must
    /// commit it (§12.2: a committer never includes its own Update), so in a group of one it
    /// is refused (`ProposalRule::UpdateByCommitter`); a commit with a path
    /// (`CommitOptions::force_path`) replaces our leaf instead.
    pub fn propose_update(
        &mut self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        let mut tbs = self
            .tree
            .leaf(self.own_leaf)
            .ok_or(MisuseError::NotAMember(self.own_leaf))?
            .to_be_signed(None)?;
        let (sk, pk) = cs.kem_generate()?;
        tbs.encryption_key = pk.clone();
        tbs.leaf_node_source = LeafNodeSource::Update;
        let group_id = self.group_id().to_vec();
        let leaf = sign_leaf(cs, tbs, &self.signer, &group_id, self.own_leaf)?;
        let out = self.propose(cs, Proposal::Update(Update { leaf_node: leaf }))?;
        self.pending_updates
            .insert(out.1.proposal_ref.0.to_vec(), (sk, pk));
        Ok(out)
    }

    /// Proposes injecting an external PSK (RFC 9420 §12.1.4) registered under `psk_id`.
    pub fn propose_external_psk(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        psk_id: Vec<u8>,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        let psk = PreSharedKeyId {
            psk: Psk::External(ExternalPsk {
                psk_id: VarBytes(psk_id),
            }),
            psk_nonce: fresh_psk_nonce(cs)?,
        };
        self.propose(cs, Proposal::PreSharedKey(PreSharedKey { psk }))
    }

    /// Proposes new GroupContext extensions (RFC 9420 §12.1.7).
    pub fn propose_group_context_extensions(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        extensions: Vec<Extension>,
    ) -> Result<(MlsMessage, CachedProposal), GroupError> {
        self.propose(
            cs,
            Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: VarVec(extensions),
            }),
        )
    }
}

/// A proposal from a non-member (RFC 9420 §12.1.8): an external sender listed at
/// `sender_index` in the group's `external_senders` extension, or a new member proposing
/// its own Add (`sender_index = None`, `new_member_proposal`). Sent as a PublicMessage
/// without membership tag, signed without GroupContext (§6.1).
pub fn external_proposal(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    sender_index: Option<u32>,
    signer: &Secret,
    proposal: Proposal,
) -> Result<MlsMessage, GroupError> {
    let sender = match sender_index {
        Some(i) => Sender::External(i),
        None => Sender::NewMemberProposal,
    };
    let content = FramedContent {
        group_id: VarBytes(group_id.to_vec()),
        epoch,
        sender,
        authenticated_data: VarBytes::default(),
        body: FramedContentBody::Proposal(proposal),
    };
    let tbs = FramedContentTbs {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: content.clone(),
        context: None,
    };
    let signature = sign_with_label(cs, signer, "FramedContentTBS", &encode(&tbs)?)?;
    Ok(MlsMessage::new(MlsMessageBody::PublicMessage(
        PublicMessage {
            content,
            auth: FramedContentAuthData {
                signature: VarBytes(signature),
                confirmation_tag: None,
            },
            membership_tag: None,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bundle, cs, group};
    use super::*;
    use crate::messages::{Capabilities, ExtensionType, RequiredCapabilities};

    fn by_value<'a>(g: &Group, ps: &'a [Proposal]) -> Vec<Resolved<'a>> {
        ps.iter()
            .map(|proposal| Resolved {
                proposal,
                sender: Sender::Member(g.own_leaf.0),
                proposal_ref: None,
            })
            .collect()
    }

    fn apply<'a>(g: &Group, list: &[Resolved<'a>]) -> Result<Applied<'a>, GroupError> {
        let mut tree = g.tree.stage();
        g.validate_and_apply(
            cs(),
            &mut tree,
            list,
            Committer::Member(g.own_leaf),
            KeyPackageSignatures::Verify,
        )
    }

    #[test]
    fn path_required_types() {
        // §12.4: Update, Remove, ExternalInit, GroupContextExtensions require a path.
        for (t, want) in [
            (ProposalType::ADD, false),
            (ProposalType::UPDATE, true),
            (ProposalType::REMOVE, true),
            (ProposalType::PSK, false),
            (ProposalType::REINIT, false),
            (ProposalType::EXTERNAL_INIT, true),
            (ProposalType::GROUP_CONTEXT_EXTENSIONS, true),
        ] {
            assert_eq!(requires_path(t), want, "{t:?}");
        }
        let cs = cs();
        let g = group(cs, 3);
        // An empty commit requires a path; an Add alone does not; with a Remove it does.
        assert!(apply(&g, &[]).unwrap().path_required);
        let add = Proposal::Add(Add {
            key_package: bundle(cs, "x").key_package,
        });
        assert!(
            !apply(&g, &by_value(&g, std::slice::from_ref(&add)))
                .unwrap()
                .path_required
        );
        let rm = Proposal::Remove(Remove { removed: 2 });
        assert!(apply(&g, &by_value(&g, &[add, rm])).unwrap().path_required);
    }

    /// §12.3: Removes are applied before Adds whatever the list order, so an Add listed
    /// first takes the leaf a later-listed Remove frees.
    #[test]
    fn removes_before_adds() {
        let cs = cs();
        let g = group(cs, 3);
        let add = Proposal::Add(Add {
            key_package: bundle(cs, "x").key_package,
        });
        let rm = Proposal::Remove(Remove { removed: 1 });
        let list = [add, rm];
        let applied = apply(&g, &by_value(&g, &list)).unwrap();
        assert_eq!(applied.removed, vec![LeafIndex(1)]);
        assert_eq!(applied.added[0].0, LeafIndex(1));
    }

    /// §12.3: a GroupContextExtensions proposal is applied first and governs the Adds of the
    /// same list, even one listed before it.
    #[test]
    fn group_context_extensions_first() {
        let cs = cs();
        let g = group(cs, 1);
        let x = ExtensionType(0xff00);
        let rc = RequiredCapabilities {
            extension_types: VarVec(vec![x]),
            proposal_types: VarVec::default(),
            credential_types: VarVec::default(),
        };
        let gce = Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: VarVec(vec![Extension::from_value(&rc).unwrap()]),
        });
        // Make the only member support extension 0xff00 so the GCE itself is valid.
        let mut g = g;
        let leaf = g
            .tree
            .leaf(LeafIndex(0))
            .unwrap()
            .edited(|t| t.capabilities.extensions.push(x));
        g.tree.update_leaf(LeafIndex(0), leaf).unwrap();
        let kp = bundle(cs, "x").key_package;
        let add = Proposal::Add(Add { key_package: kp });
        let err = apply(&g, &by_value(&g, &[add.clone(), gce.clone()])).unwrap_err();
        assert_eq!(
            err,
            GroupError::rule(
                Some(0),
                ProposalRule::InvalidProposal(InvalidProposal::KeyPackage(
                    super::super::KeyPackageError::LeafNode(LeafNodeError::RequiredCapabilities)
                ))
            )
        );
        // Without the GCE the Add is fine; a KeyPackage listing the extension is fine with it.
        apply(&g, &by_value(&g, &[add])).unwrap();
        let (sk, _) = cs.signature_generate().unwrap();
        let mut options = super::super::KeyPackageOptions::new(0, u64::MAX);
        let mut caps: Capabilities = super::super::key_package::default_capabilities(
            cs.cipher_suite(),
            &crate::messages::Credential::basic("y"),
        );
        caps.extensions.push(x);
        options.capabilities = Some(caps);
        let kp = super::super::generate_key_package(
            cs,
            crate::messages::Credential::basic("y"),
            sk,
            options,
        )
        .unwrap()
        .key_package;
        let list = [Proposal::Add(Add { key_package: kp }), gce];
        let applied = apply(&g, &by_value(&g, &list)).unwrap();
        assert!(applied.extensions.is_some());
    }

    /// The cache keeps arrival order and ignores a second copy of one reference.
    #[test]
    fn cache_order_and_dedup() {
        let mut cache = ProposalCache::default();
        let p = |r: u8| CachedProposal {
            proposal_ref: ProposalRef(vec![r].into()),
            proposal: Proposal::Remove(Remove {
                removed: u32::from(r),
            }),
            sender: Sender::Member(0),
        };
        cache.insert(p(3));
        cache.insert(p(1));
        cache.insert(p(3));
        let order: Vec<u8> = cache.iter().map(|c| c.proposal_ref.0[0]).collect();
        assert_eq!(order, vec![3, 1]);
        cache.clear();
        assert_eq!(cache.iter().count(), 0);
    }
}
