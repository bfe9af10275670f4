//! Creating a group (RFC 9420 §11) and joining one by Welcome (§12.4.3.1).
//!
//! Joining runs every joiner check of §12.4.3.1, each failure with its own [`JoinCheck`]:
//! the GroupSecrets decrypt for our KeyPackage, the PSKs resolve, the GroupInfo decrypts and
//! is signed by a member of the tree, the tree (from the `ratchet_tree` extension or supplied
//! out of band) passes [`crate::tree::tree_validation::validate_tree`] and hashes to the
//! GroupContext's `tree_hash`, our leaf is in it, the `path_secret` derives the tree's keys,
//! and the confirmation tag verifies. Cost: O(N) (the one whole-tree validation, signatures
//! in parallel).

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use crate::codec::{VarBytes, VarVec};
use crate::crypto::labels::derive_secret;
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::key_schedule::{advance_epoch, InitSecret, JoinerSecret};
use crate::messages::{
    first_misplaced_in, repeated_extension_type, Extension, ExtensionContainer, ExtensionType,
    GroupContext, GroupInfo, Node, ProtocolVersion, Psk, RatchetTree, ResumptionPskUsage,
};
use crate::psk::{resolve_psk_secret, PskSecret, ResumptionPskStore};
use crate::transcript_hash::{confirmation_tag, interim_transcript_hash};
use crate::tree::tree_validation::{build_validated_tree, validate_tree_keyed, KeyTables};
use crate::tree::{Tree, TreeValidationParams};
use crate::tree_math::LeafIndex;
use crate::welcome::{
    decrypt_group_secrets, join_secrets, open_group_info, WelcomeError, WelcomeRef,
};

use super::error::{GroupError, JoinCheck, MisuseError};
use super::key_package::{KeyPackageBundle, MemberIndex};
use super::proposal::ProposalCache;
use super::{EpochKeys, Group, GroupConfig, OwnKeys};

/// What a joiner supplies besides the Welcome and its KeyPackage.
#[derive(Clone, Debug, Default)]
pub struct JoinOptions {
    /// Policy for the new group.
    pub config: GroupConfig,
    /// The ratchet tree, when the GroupInfo has no `ratchet_tree` extension (§12.4.3.3).
    pub ratchet_tree: Option<RatchetTree>,
    /// External PSKs by id (§8.4).
    pub external_psks: Vec<(Vec<u8>, Secret)>,
    /// Resumption PSKs of other groups (ReInit, branch: §11.2, §11.3), as
    /// `(group_id, epoch, psk)`.
    pub resumption_psks: Vec<(Vec<u8>, u64, Secret)>,
}

/// The validation parameters of §12.4.3.1 for a received tree: the group's id and required
/// capabilities, `config`'s lifetime policy.
fn received_tree_params<'a>(
    ctx: &'a GroupContext,
    required: Option<&'a crate::messages::RequiredCapabilities>,
    config: &GroupConfig,
) -> TreeValidationParams<'a> {
    let mut params = TreeValidationParams::new(ctx.group_id.as_slice(), 0);
    params.lifetime = config.lifetime;
    if let Some(rc) = required {
        params = params.with_required_capabilities(rc);
    }
    params
}

/// §12.4.3.1 (joining by Welcome or by external commit): the received tree is valid as a
/// whole (§7.9.2, with the group's required capabilities and `config`'s lifetime policy)
/// and its hash is the GroupContext's. Returns the key tables the validation built.
pub(crate) fn validate_received_tree(
    cs: &dyn CipherSuiteProvider,
    tree: &mut Tree,
    ctx: &GroupContext,
    config: &GroupConfig,
) -> Result<KeyTables, GroupError> {
    let required = Group::required_capabilities(&ctx.extensions)?;
    let params = received_tree_params(ctx, required.as_ref(), config);
    let keys = validate_tree_keyed(tree, cs, &params)?;
    if tree.tree_hash(cs)? != ctx.tree_hash.as_slice() {
        return Err(JoinCheck::TreeHash.into());
    }
    Ok(keys)
}

/// RFC 9420 §13 for a received GroupInfo: neither its extensions nor its GroupContext's list a
/// type twice, and the joiner supports every extension of the GroupContext (`supports` says
/// whether the joiner's capabilities list a type; RFC 9420's own types need no listing).
pub(crate) fn check_group_info_extensions(
    gi: &GroupInfo,
    supports: impl Fn(ExtensionType) -> bool,
) -> Result<(), GroupError> {
    let lists = [&gi.extensions, &gi.group_context.extensions];
    for list in lists {
        if let Some(t) = repeated_extension_type(list.iter().map(|e| e.extension_type)) {
            return Err(JoinCheck::DuplicateExtension(t.0).into());
        }
    }
    // §17.3: only the extension types registered for each list.
    if let Some(t) =
        first_misplaced_in(&gi.extensions, ExtensionContainer::GroupInfo).or_else(|| {
            first_misplaced_in(
                &gi.group_context.extensions,
                ExtensionContainer::GroupContext,
            )
        })
    {
        return Err(JoinCheck::MisplacedExtension(t.0).into());
    }
    match gi
        .group_context
        .extensions
        .iter()
        .map(|e| e.extension_type)
        .find(|t| !t.is_default() && !supports(*t))
    {
        Some(t) => Err(JoinCheck::UnsupportedGroupExtension(t.0).into()),
        None => Ok(()),
    }
}

/// [`validate_received_tree`] for a tree received as decoded nodes (a Welcome's): built,
/// hashed and checked beside its leaf signatures, and indexed for the group.
fn build_received_tree(
    cs: &dyn CipherSuiteProvider,
    nodes: Vec<Option<std::sync::Arc<Node>>>,
    ctx: &GroupContext,
    config: &GroupConfig,
) -> Result<(Tree, MemberIndex), GroupError> {
    let required = Group::required_capabilities(&ctx.extensions)?;
    let params = received_tree_params(ctx, required.as_ref(), config);
    // The validation leaves the hashes current: the root's is read from the cache.
    let (tree, (tree_hash, index)) = build_validated_tree(cs, nodes, &params, |tree, keys| {
        (
            tree.cached_hash(tree.size().root()),
            MemberIndex::from_validated(tree, keys),
        )
    })?;
    if tree_hash.as_slice() != ctx.tree_hash.as_slice() {
        return Err(JoinCheck::TreeHash.into());
    }
    Ok((tree, index))
}

impl Group {
    /// Creates a one-member group at epoch 0 (RFC 9420 §11) with our KeyPackage's leaf,
    /// `group_id` and GroupContext `extensions`.
    pub fn create(
        cs: &dyn CipherSuiteProvider,
        bundle: &KeyPackageBundle,
        group_id: Vec<u8>,
        extensions: Vec<Extension>,
        config: GroupConfig,
    ) -> Result<Group, GroupError> {
        // §13: no extension type twice.
        if repeated_extension_type(extensions.iter().map(|e| e.extension_type)).is_some() {
            return Err(MisuseError::InvalidArgument("an extension type given twice").into());
        }
        // §17.3: only the extension types registered for the GroupContext.
        if first_misplaced_in(&extensions, ExtensionContainer::GroupContext).is_some() {
            return Err(MisuseError::InvalidArgument(
                "an extension type not allowed in the GroupContext",
            )
            .into());
        }
        // §7.3: our leaf is compatible with the group's version and suite, as every member
        // after us must be.
        if !crate::tree::tree_validation::supports_group_parameters(
            &bundle.key_package.leaf_node,
            cs.cipher_suite(),
        ) {
            return Err(MisuseError::InvalidArgument(
                "our leaf's capabilities do not list the group's version and cipher suite",
            )
            .into());
        }
        // §13, §11.1: we support every extension of the group and meet its requirements, as
        // every member after us must.
        let caps = bundle.key_package.leaf_node.capabilities();
        if caps.first_unsupported(&extensions).is_some() {
            return Err(MisuseError::InvalidArgument(
                "a GroupContext extension our leaf's capabilities do not list",
            )
            .into());
        }
        match Group::required_capabilities(&extensions) {
            Err(_) => {
                return Err(
                    MisuseError::InvalidArgument("required_capabilities does not decode").into(),
                )
            }
            Ok(Some(rc)) if !caps.satisfies(&rc) => {
                return Err(MisuseError::InvalidArgument(
                    "our leaf does not meet the required capabilities",
                )
                .into())
            }
            Ok(_) => {}
        }
        let mut tree = Tree::new(cs, bundle.key_package.leaf_node.clone())?;
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            group_id: VarBytes(group_id),
            epoch: 0,
            tree_hash: VarBytes(tree.tree_hash(cs)?),
            confirmed_transcript_hash: VarBytes::default(),
            extensions: VarVec(extensions),
        };
        let init = InitSecret::random(cs)?;
        let (_, _, secrets) = advance_epoch(
            cs,
            init,
            &Secret::zero(cs.hash_len()),
            &PskSecret::zero(cs),
            &crate::codec::encode(&context)?,
        )?;
        // §11: epoch 0's confirmation tag is over the empty confirmed transcript hash.
        let tag = confirmation_tag(cs, &secrets.confirmation_key, &[]);
        let interim = interim_transcript_hash(cs, &[], &tag)?;
        let keys = EpochKeys::new(secrets, tree.size().leaves(), &config)?;
        let own = LeafIndex(0);
        let mut own_keys = OwnKeys::default();
        own_keys.keys.insert(
            own.node().0,
            (
                bundle.encryption_private_key.clone(),
                bundle.key_package.leaf_node.encryption_key().into(),
            ),
        );
        let mut resumption_psks = ResumptionPskStore::new(config.resumption_psk_retention.max(1));
        resumption_psks.insert(context.group_id.as_slice(), 0, keys.resumption_psk.clone());
        Ok(Group {
            index: MemberIndex::build(&tree),
            config,
            context,
            tree,
            interim_transcript_hash: interim,
            confirmation_tag: tag,
            keys,
            own_leaf: own,
            signer: bundle.signature_private_key.clone(),
            own_keys,
            proposals: ProposalCache::default(),
            pending_updates: BTreeMap::new(),
            past_epochs: VecDeque::new(),
            resumption_psks,
            external_psks: BTreeMap::new(),
            pending_reinit: None,
            active: true,
            delta_epoch: None,
        })
    }

    /// Joins a group from a Welcome (RFC 9420 §12.4.3.1) with the KeyPackage it was made
    /// for. See the module documentation for the checks.
    ///
    /// `welcome` is a decoded [`crate::messages::Welcome`] (`&Welcome`) or a [`WelcomeRef`] read in place from
    /// the message bytes ([`WelcomeRef::from_message_bytes`]), which spares decoding the
    /// other joiners' entries.
    pub fn join<'w>(
        cs: &dyn CipherSuiteProvider,
        welcome: impl Into<WelcomeRef<'w>>,
        bundle: &KeyPackageBundle,
        options: JoinOptions,
    ) -> Result<Group, GroupError> {
        let welcome: WelcomeRef<'w> = welcome.into();
        let kp = &bundle.key_package;
        if kp.cipher_suite != cs.cipher_suite() {
            return Err(JoinCheck::SuiteMismatch.into());
        }
        let gs = decrypt_group_secrets(cs, welcome, kp, &bundle.init_private_key)?;
        let config = options.config;
        let mut resumption = ResumptionPskStore::new(
            config
                .resumption_psk_retention
                .max(options.resumption_psks.len() + 1),
        );
        for (g, e, s) in &options.resumption_psks {
            resumption.insert(g, *e, s.clone());
        }
        let external: BTreeMap<Vec<u8>, Secret> = options.external_psks.into_iter().collect();
        let psk_secret =
            resolve_psk_secret(cs, &gs.psks, |id| external.get(id).cloned(), &resumption)?;
        let joiner = JoinerSecret::new(Secret::from_slice(&gs.joiner_secret));
        // Decrypted in one buffer: the tree is decoded from it and the signature verified
        // over it, neither copied.
        let opened = open_group_info(cs, welcome, &joiner, &psk_secret)?;
        let ctx = &opened.group_info.group_context;
        // §12.4.3.1: the GroupInfo's version and suite are the KeyPackage's.
        if ctx.cipher_suite != kp.cipher_suite || ctx.version != kp.version {
            return Err(JoinCheck::SuiteMismatch.into());
        }
        // §11.2, §11.3: a resumption PSK for reinit or branch only in a new group's epoch 1.
        for id in gs.psks.iter() {
            if let Psk::Resumption(r) = &id.psk {
                if r.usage != ResumptionPskUsage::APPLICATION && ctx.epoch != 1 {
                    return Err(JoinCheck::Resumption("reinit/branch PSK outside epoch 1").into());
                }
            }
        }
        let (gi, signed) = opened.into_parts();
        let caps = kp.leaf_node.capabilities();
        check_group_info_extensions(&gi, |t| caps.extensions.contains(&t))?;
        let ctx = &gi.group_context;
        let signer_leaf = LeafIndex(gi.signer);
        let signer_at = (gi.signer as usize).checked_mul(2);
        // §12.4.3.1: the GroupInfo's signature by its signer's leaf key, beside everything
        // else: it is one hash of the whole GroupInfo on one core, started as soon as the
        // signer's leaf is decoded (the rest of the tree is decoded meanwhile), and it holds
        // the decrypted buffer (shared with the decoding) until it is done. The tree is then
        // built and validated on the pool (`build_received_tree`). Errors in the order of a
        // sequential check: decoding the tree and finding the signer, the signature, the
        // tree.
        let signed = std::sync::Arc::new(signed);
        let signature: OnceLock<Result<(), WelcomeError>> = OnceLock::new();
        let built = rayon::in_place_scope(|s| -> Result<_, GroupError> {
            let start_signature = |node: Option<&Node>| -> bool {
                let Some(Node::Leaf(leaf)) = node else {
                    return false;
                };
                let key = leaf.signature_key().to_vec();
                let (signed, signature, gi) = (signed.clone(), &signature, &gi);
                s.spawn(move |_| {
                    let _ = signature.set(signed.verify(cs, &key, gi.signature.as_slice()));
                });
                true
            };
            let mut started = false;
            let wire = match signed.ratchet_tree() {
                Some(data) => RatchetTree::decode_shared_nodes_observed(data, |i, node| {
                    if Some(i) == signer_at {
                        started = start_signature(node.as_deref());
                    }
                })
                .map_err(|e| GroupError::codec("ratchet_tree extension", e))?,
                None => {
                    let given: Vec<_> = options
                        .ratchet_tree
                        .ok_or(JoinCheck::NoRatchetTree)?
                        .0
                        .into_vec()
                        .into_iter()
                        .map(|n| n.map(std::sync::Arc::new))
                        .collect();
                    started = start_signature(signer_at.and_then(|i| given.get(i)?.as_deref()));
                    given
                }
            };
            // The buffer is freed when the signature check is done with it.
            drop(signed);
            if !started {
                return Err(JoinCheck::UnknownSigner(signer_leaf).into());
            }
            Ok(build_received_tree(cs, wire, ctx, &config))
        })?;
        signature
            .into_inner()
            .ok_or(JoinCheck::UnknownSigner(signer_leaf))??;
        let (tree, index) = built?;
        // §12.4.3.1: our leaf is in the tree.
        let own = index
            .sig_holder(&tree, &tree, kp.leaf_node.signature_key())
            .filter(|l| tree.leaf(*l) == Some(&kp.leaf_node))
            .ok_or(JoinCheck::OwnLeafNotFound)?;
        if cs
            .kem_public_key(&bundle.encryption_private_key)?
            .as_slice()
            != kp.leaf_node.encryption_key()
        {
            return Err(JoinCheck::KeyMismatch.into());
        }
        let mut own_keys = OwnKeys::default();
        own_keys.keys.insert(
            own.node().0,
            (
                bundle.encryption_private_key.clone(),
                kp.leaf_node.encryption_key().into(),
            ),
        );
        // §12.4.3.1: path_secret is for the lowest common ancestor of us and the signer;
        // derive up the signer's filtered direct path and check every public key.
        if let Some(ps) = &gs.path_secret {
            let lca = tree.size().common_ancestor(own.node(), signer_leaf.node());
            let path = tree.filtered_direct_path(signer_leaf);
            let start = path
                .iter()
                .position(|(p, _)| *p == lca)
                .ok_or(JoinCheck::PathSecret(lca))?;
            let mut secret = Secret::from_slice(&ps.path_secret);
            for (n, _) in &path[start..] {
                let node_secret = derive_secret(cs, secret.as_bytes(), "node")?;
                let (sk, pk) = cs.kem_derive(node_secret.as_bytes())?;
                match tree.node(*n) {
                    Some(node) if super::node_public_key(node) == pk.as_slice() => {}
                    _ => return Err(JoinCheck::PathSecret(*n).into()),
                }
                own_keys.keys.insert(n.0, (sk, pk));
                secret = derive_secret(cs, secret.as_bytes(), "path")?;
            }
        }
        // §12.4.3.1: key schedule and confirmation tag.
        let secrets = join_secrets(cs, &gi, &joiner, &psk_secret)?;
        let interim =
            interim_transcript_hash(cs, &ctx.confirmed_transcript_hash, &gi.confirmation_tag)?;
        let keys = EpochKeys::new(secrets, tree.size().leaves(), &config)?;
        // The join epoch's resumption PSK is kept (a later commit may inject it).
        resumption.insert(
            ctx.group_id.as_slice(),
            ctx.epoch,
            keys.resumption_psk.clone(),
        );
        Ok(Group {
            index,
            config,
            context: gi.group_context.clone(),
            tree,
            interim_transcript_hash: interim,
            confirmation_tag: gi.confirmation_tag.clone(),
            keys,
            own_leaf: own,
            signer: bundle.signature_private_key.clone(),
            own_keys,
            proposals: ProposalCache::default(),
            pending_updates: BTreeMap::new(),
            past_epochs: VecDeque::new(),
            resumption_psks: resumption,
            external_psks: external,
            pending_reinit: None,
            active: true,
            delta_epoch: None,
        })
    }
}
