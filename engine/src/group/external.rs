//! External commits (RFC 9420 §12.4.3.2): joining from a GroupInfo with `external_pub`
//! without a Welcome, optionally removing one's own prior leaf (resync), and publishing such
//! a GroupInfo ([`Group::group_info`]).
//!
//! The joiner checks the GroupInfo like a Welcome joiner does (signature by a member, valid
//! tree, tree hash), derives its `init_secret` by HPKE export to `external_pub` (§8.3), places
//! its leaf in the leftmost blank leaf after the Remove (§12.3), and sends a commit whose
//! sender is `new_member_commit` with a path. Receivers process it like any commit
//! ([`Group::process_message`]) under the external-commit rules E1-E3.

use std::collections::{BTreeMap, VecDeque};

use crate::codec::{encode, VarBytes, VarVec};
use crate::crypto::labels::sign_with_label;
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::key_schedule::{advance_epoch, InitSecret};
use crate::messages::{
    AuthenticatedContent, Capabilities, Commit, Credential, Extension, ExternalInit, ExternalPub,
    FramedContent, FramedContentAuthData, FramedContentBody, FramedContentTbs, GroupInfo, LeafNode,
    LeafNodeSource, LeafNodeTbs, MlsMessage, MlsMessageBody, Proposal, ProposalOrRef,
    ProtocolVersion, PublicMessage, RatchetTree, Remove, Sender, WireFormat,
};
use crate::psk::{PskSecret, ResumptionPskStore};
use crate::transcript_hash::{
    confirmation_tag, confirmed_transcript_hash, interim_transcript_hash,
};
use crate::tree::Tree;
use crate::tree_math::LeafIndex;
use crate::welcome::verify_group_info_signature;

use super::commit::build_group_info;
use super::error::{GroupError, IncompatibleError, JoinCheck};
use super::key_package::{default_capabilities, MemberIndex};
use super::proposal::ProposalCache;
use super::{EpochKeys, Group, GroupConfig, OwnKeys};

/// What an external joiner supplies besides the GroupInfo and its identity.
#[derive(Clone, Debug, Default)]
pub struct ExternalCommitOptions {
    /// Policy for the joined group.
    pub config: GroupConfig,
    /// The ratchet tree, when the GroupInfo has no `ratchet_tree` extension.
    pub ratchet_tree: Option<RatchetTree>,
    /// Resync: our own prior leaf, removed by the same commit (§12.4.3.2).
    pub remove_prior_leaf: Option<LeafIndex>,
    /// Leaf capabilities; `None` for defaults.
    pub capabilities: Option<Capabilities>,
    /// The commit's authenticated data.
    pub authenticated_data: Vec<u8>,
}

impl Group {
    /// A signed GroupInfo for the current epoch with `external_pub` (RFC 9420 §12.4.3.2) and,
    /// if asked, the ratchet tree (§12.4.3.3): what an external joiner needs.
    pub fn group_info(
        &self,
        cs: &dyn CipherSuiteProvider,
        with_ratchet_tree: bool,
    ) -> Result<MlsMessage, GroupError> {
        self.check_suite(cs)?;
        let (_, external_pub) = cs.kem_derive(self.keys.external_secret.as_bytes())?;
        let gi = build_group_info(
            cs,
            &self.context,
            &self.confirmation_tag,
            self.own_leaf,
            &self.signer,
            with_ratchet_tree.then_some(&self.tree),
            Some(external_pub),
        )?;
        Ok(MlsMessage::new(MlsMessageBody::GroupInfo(gi)))
    }

    /// Joins by external commit (RFC 9420 §12.4.3.2). Returns the group in the new epoch and
    /// the commit to send; if the delivery service rejects the commit, drop the group.
    pub fn join_by_external_commit(
        cs: &dyn CipherSuiteProvider,
        group_info: &GroupInfo,
        credential: Credential,
        signature_private_key: Secret,
        options: ExternalCommitOptions,
    ) -> Result<(Group, MlsMessage), GroupError> {
        let ctx = &group_info.group_context;
        if ctx.cipher_suite != cs.cipher_suite() {
            return Err(IncompatibleError::CipherSuite {
                group: ctx.cipher_suite,
                provider: cs.cipher_suite(),
            }
            .into());
        }
        let config = options.config;
        let capabilities = options
            .capabilities
            .unwrap_or_else(|| default_capabilities(cs.cipher_suite(), &credential));
        super::join::check_group_info_extensions(group_info, |t| {
            capabilities.extensions.contains(&t)
        })?;
        let wire = match Extension::find::<RatchetTree>(&group_info.extensions) {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(GroupError::codec("ratchet_tree extension", e)),
            None => options.ratchet_tree.ok_or(JoinCheck::NoRatchetTree)?,
        };
        let external_pub = match Extension::find::<ExternalPub>(&group_info.extensions) {
            Some(Ok(e)) => e.external_pub,
            Some(Err(e)) => return Err(GroupError::codec("external_pub extension", e)),
            None => return Err(IncompatibleError::MissingExtension("external_pub").into()),
        };
        let mut tree = Tree::from_wire_owned(cs, wire)?;
        let signer_leaf = LeafIndex(group_info.signer);
        let signer_key = tree
            .leaf(signer_leaf)
            .ok_or(JoinCheck::UnknownSigner(signer_leaf))?
            .signature_key()
            .to_vec();
        verify_group_info_signature(cs, group_info, &signer_key)?;
        super::join::validate_received_tree(cs, &mut tree, ctx, &config)?;

        // §8.3: init_secret by export to external_pub.
        let (kem_output, init) = InitSecret::external_init_sender(cs, &external_pub)?;
        let mut proposals = vec![ProposalOrRef::Proposal(Proposal::ExternalInit(
            ExternalInit {
                kem_output: VarBytes(kem_output),
            },
        ))];
        // §12.3: the Remove (resync) before our leaf is placed.
        if let Some(old) = options.remove_prior_leaf {
            tree.remove_leaf(old)?;
            proposals.push(ProposalOrRef::Proposal(Proposal::Remove(Remove {
                removed: old.0,
            })));
        }
        let signature_key = cs.signature_public_key(&signature_private_key)?;
        let (_, placeholder) = cs.kem_generate()?;
        // Unsigned: the UpdatePath replaces the key, source and signature.
        let leaf = LeafNode::from_tbs(
            &LeafNodeTbs {
                encryption_key: placeholder,
                signature_key,
                credential,
                capabilities,
                leaf_node_source: LeafNodeSource::Commit(VarBytes::default()),
                extensions: VarVec::default(),
                tree_position: None,
            },
            &[],
        )?;
        let own = tree.add_leaf(leaf.clone())?;
        let group_id = ctx.group_id.to_vec();
        let pending =
            tree.generate_update_path(cs, own, leaf, &signature_private_key, &group_id)?;
        let mut next = ctx.clone();
        next.epoch += 1;
        next.tree_hash = VarBytes(tree.tree_hash(cs)?);
        let generated = pending.encrypt(cs, &tree, &[], &encode(&next)?)?;
        let mut own_keys = OwnKeys::default();
        if let Some(sk) = generated.private_keys.get(own.node()) {
            own_keys.keys.insert(
                own.node().0,
                (
                    sk.clone(),
                    generated.update_path.leaf_node.encryption_key().into(),
                ),
            );
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

        let content = FramedContent {
            group_id: ctx.group_id.clone(),
            epoch: ctx.epoch,
            sender: Sender::NewMemberCommit,
            authenticated_data: VarBytes(options.authenticated_data),
            body: FramedContentBody::Commit(Commit {
                proposals: VarVec(proposals),
                path: Some(generated.update_path),
            }),
        };
        let tbs = FramedContentTbs {
            version: ProtocolVersion::MLS10,
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: content.clone(),
            context: Some(ctx.clone()),
        };
        let signature = sign_with_label(
            cs,
            &signature_private_key,
            "FramedContentTBS",
            &encode(&tbs)?,
        )?;
        let mut auth = FramedContentAuthData {
            signature: VarBytes(signature),
            confirmation_tag: None,
        };
        let ac = AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: content.clone(),
            auth: auth.clone(),
        };
        let interim_before = interim_transcript_hash(
            cs,
            &ctx.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        let confirmed = confirmed_transcript_hash(cs, &interim_before, &ac)?;
        next.confirmed_transcript_hash = VarBytes(confirmed.clone());
        let (_, _, secrets) = advance_epoch(
            cs,
            init,
            &generated.commit_secret,
            &PskSecret::zero(cs),
            &encode(&next)?,
        )?;
        let tag = confirmation_tag(cs, &secrets.confirmation_key, &confirmed);
        let interim = interim_transcript_hash(cs, &confirmed, &tag)?;
        auth.confirmation_tag = Some(tag.clone());
        let message = MlsMessage::new(MlsMessageBody::PublicMessage(PublicMessage {
            content,
            auth,
            membership_tag: None,
        }));
        let keys = EpochKeys::new(secrets, tree.size().leaves(), &config)?;
        let mut resumption_psks = ResumptionPskStore::new(config.resumption_psk_retention.max(1));
        resumption_psks.insert(&group_id, next.epoch, keys.resumption_psk.clone());
        let group = Group {
            index: MemberIndex::build(&tree),
            config,
            context: next,
            tree,
            interim_transcript_hash: interim,
            confirmation_tag: tag,
            keys,
            own_leaf: own,
            signer: signature_private_key,
            own_keys,
            proposals: ProposalCache::default(),
            pending_updates: BTreeMap::new(),
            past_epochs: VecDeque::new(),
            resumption_psks,
            external_psks: BTreeMap::new(),
            pending_reinit: None,
            active: true,
            delta_epoch: None,
        };
        Ok((group, message))
    }
}
