//! [`InteropClient`] over OpenMLS 0.9 (`openmls`, `openmls_rust_crypto`,
//! `openmls_basic_credential`).
//!
//! Each client has its own `OpenMlsRustCrypto` provider (its in-memory storage holds the client's
//! key packages, PSKs and group state) and one Ed25519 [`SignatureKeyPair`].

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls::schedule::{ExternalPsk, PreSharedKeyId, Psk};
use openmls::treesync::LeafNodeParameters;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use crate::{
    CommitOutput, InteropClient, InteropError, Processed, ProposalSpec, RawExtension, Result,
    TEST_EXTENSION_TYPE,
};

/// [`InteropClient::name`] of OpenMLS clients.
pub const NAME: &str = "openmls";

/// Maps any `Debug` error to [`InteropError::Failed`] for `operation`.
fn fail<E: std::fmt::Debug>(operation: &'static str) -> impl FnOnce(E) -> InteropError {
    move |e| InteropError::Failed {
        peer: NAME,
        operation,
        message: format!("{e:?}"),
    }
}

fn unsupported(operation: &'static str, reason: &'static str) -> InteropError {
    InteropError::Unsupported {
        peer: NAME,
        operation,
        reason,
    }
}

fn no_group(operation: &'static str) -> InteropError {
    InteropError::State {
        peer: NAME,
        operation,
        message: "not in a group",
    }
}

/// Why the ReInit and branch operations are unsupported.
const NO_RESUMPTION: &str = "OpenMLS has no API to create or join a group resumed from another \
     (ReInit or branch, with a resumption PSK)";

/// An OpenMLS client: provider, signer, credential and (once created or joined) its group.
pub struct OpenMlsClient {
    identity: Vec<u8>,
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    ciphersuite: Ciphersuite,
    group: Option<MlsGroup>,
    /// The group's setting: the ratchet tree in Welcomes (the default).
    tree_in_welcome: bool,
    /// The group's setting: commits and proposals sent as PrivateMessage.
    encrypt_handshake: bool,
}

impl std::fmt::Debug for OpenMlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenMlsClient")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("epoch", &self.group.as_ref().map(|g| g.epoch().as_u64()))
            .finish()
    }
}

/// Leaf capabilities: the client's suite, otherwise the defaults plus [`TEST_EXTENSION_TYPE`].
fn capabilities(suite: Ciphersuite) -> Capabilities {
    Capabilities::builder()
        .ciphersuites(vec![suite])
        .extensions(vec![ExtensionType::Unknown(TEST_EXTENSION_TYPE)])
        .build()
}

/// The default join configuration: ratchet tree in Welcomes, handshake messages in the clear.
fn join_config() -> MlsGroupJoinConfig {
    join_config_with(true, false)
}

/// A join configuration (also applied to a group with `set_configuration`): the tree in
/// Welcomes or not; commits and proposals sent as PublicMessage or PrivateMessage, incoming ones
/// accepted in either form; application data always as PrivateMessage.
fn join_config_with(ratchet_tree_in_welcome: bool, encrypt_handshake: bool) -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .use_ratchet_tree_extension(ratchet_tree_in_welcome)
        .wire_format_policy(if encrypt_handshake {
            MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY
        } else {
            MIXED_PLAINTEXT_WIRE_FORMAT_POLICY
        })
        .build()
}

/// Decodes a [`RawExtension`] through its wire encoding, so that known types (e.g.
/// `required_capabilities`) become OpenMLS's typed variants, as they would on receipt.
fn to_extension(operation: &'static str, raw: &RawExtension) -> Result<Extension> {
    Extension::tls_deserialize_exact(crate::join_extension(raw)).map_err(fail(operation))
}

/// Splits a TLS-encoded `Extension` into its type and `extension_data`.
fn raw_extension(ext: &Extension) -> Result<RawExtension> {
    let bytes = ext
        .tls_serialize_detached()
        .map_err(fail("group_context_extensions"))?;
    crate::split_extension(&bytes).ok_or_else(|| InteropError::Failed {
        peer: NAME,
        operation: "group_context_extensions",
        message: "malformed extension encoding".into(),
    })
}

fn mls_message_in(operation: &'static str, bytes: &[u8]) -> Result<MlsMessageIn> {
    MlsMessageIn::tls_deserialize_exact(bytes).map_err(fail(operation))
}

fn serialize(operation: &'static str, msg: &MlsMessageOut) -> Result<Vec<u8>> {
    msg.tls_serialize_detached().map_err(fail(operation))
}

/// Decodes an `MLSMessage(GroupInfo)` (its signature not checked).
fn verifiable_group_info(
    operation: &'static str,
    bytes: &[u8],
) -> Result<openmls::messages::group_info::VerifiableGroupInfo> {
    match mls_message_in(operation, bytes)?.extract() {
        MlsMessageBodyIn::GroupInfo(gi) => Ok(gi),
        _ => Err(InteropError::Failed {
            peer: NAME,
            operation,
            message: "not an MLSMessage(GroupInfo)".into(),
        }),
    }
}

fn ratchet_tree_in(operation: &'static str, tree: Option<&[u8]>) -> Result<Option<RatchetTreeIn>> {
    tree.map(|t| RatchetTreeIn::tls_deserialize_exact(t).map_err(fail(operation)))
        .transpose()
}

/// Decodes and validates an `MLSMessage(KeyPackage)`.
fn key_package_in(
    provider: &OpenMlsRustCrypto,
    operation: &'static str,
    bytes: &[u8],
) -> Result<KeyPackage> {
    match mls_message_in(operation, bytes)?.extract() {
        MlsMessageBodyIn::KeyPackage(kp) => kp
            .validate(provider.crypto(), ProtocolVersion::Mls10)
            .map_err(fail(operation)),
        _ => Err(InteropError::Failed {
            peer: NAME,
            operation,
            message: "not an MLSMessage(KeyPackage)".into(),
        }),
    }
}

/// An external PSK id with a fresh nonce.
fn external_psk_id(
    provider: &OpenMlsRustCrypto,
    suite: Ciphersuite,
    operation: &'static str,
    psk_id: &[u8],
) -> Result<PreSharedKeyId> {
    PreSharedKeyId::new(
        suite,
        provider.rand(),
        Psk::External(ExternalPsk::new(psk_id.to_vec())),
    )
    .map_err(fail(operation))
}

impl OpenMlsClient {
    /// A new client of suite 1 with basic credential `identity` and a fresh Ed25519 key.
    pub fn new(identity: &[u8]) -> Result<Self> {
        Self::new_in_suite(identity, crate::SUITE)
    }

    /// A new client of cipher suite `suite` with basic credential `identity` and a fresh
    /// signature key of the suite's scheme.
    pub fn new_in_suite(identity: &[u8], suite: u16) -> Result<Self> {
        let provider = OpenMlsRustCrypto::default();
        let ciphersuite = Ciphersuite::try_from(suite).map_err(fail("new"))?;
        provider
            .crypto()
            .supports(ciphersuite)
            .map_err(fail("new"))?;
        let signer =
            SignatureKeyPair::new(ciphersuite.signature_algorithm()).map_err(fail("new"))?;
        signer.store(provider.storage()).map_err(fail("new"))?;
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity.to_vec()).into(),
            signature_key: signer.to_public_vec().into(),
        };
        Ok(Self {
            identity: identity.to_vec(),
            provider,
            signer,
            credential,
            ciphersuite,
            group: None,
            tree_in_welcome: true,
            encrypt_handshake: false,
        })
    }

    fn group(&self, operation: &'static str) -> Result<&MlsGroup> {
        self.group.as_ref().ok_or_else(|| no_group(operation))
    }

    /// A fresh KeyPackage in the client's suite; the provider keeps its private keys.
    fn new_key_package(&self, operation: &'static str) -> Result<KeyPackageBundle> {
        KeyPackage::builder()
            .leaf_node_capabilities(capabilities(self.ciphersuite))
            .build(
                self.ciphersuite,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .map_err(fail(operation))
    }

    fn key_package_in(&self, operation: &'static str, bytes: &[u8]) -> Result<KeyPackage> {
        key_package_in(&self.provider, operation, bytes)
    }

    fn psk_id(&self, operation: &'static str, psk_id: &[u8]) -> Result<PreSharedKeyId> {
        external_psk_id(&self.provider, self.ciphersuite, operation, psk_id)
    }

    /// Changes the current group's configuration: the tree in Welcomes and the handshake
    /// wire format, each kept as it was when `None`. (OpenMLS's configuration does not expose
    /// its tree setting, so the client keeps both.)
    fn configure(
        &mut self,
        operation: &'static str,
        tree_in_welcome: Option<bool>,
        encrypt_handshake: Option<bool>,
    ) -> Result<()> {
        let provider = &self.provider;
        let group = self.group.as_mut().ok_or_else(|| no_group(operation))?;
        let tree_in_welcome = tree_in_welcome.unwrap_or(self.tree_in_welcome);
        let encrypt_handshake = encrypt_handshake.unwrap_or(self.encrypt_handshake);
        group
            .set_configuration(
                provider.storage(),
                &join_config_with(tree_in_welcome, encrypt_handshake),
            )
            .map_err(fail(operation))?;
        self.tree_in_welcome = tree_in_welcome;
        self.encrypt_handshake = encrypt_handshake;
        Ok(())
    }

    fn gce(operation: &'static str, exts: &[RawExtension]) -> Result<Extensions<GroupContext>> {
        let exts = exts
            .iter()
            .map(|e| to_extension(operation, e))
            .collect::<Result<Vec<_>>>()?;
        Extensions::from_vec(exts).map_err(fail(operation))
    }
}

impl InteropClient for OpenMlsClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn identity(&self) -> &[u8] {
        &self.identity
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        let bundle = self.new_key_package("key_package")?;
        serialize(
            "key_package",
            &MlsMessageOut::from(bundle.key_package().clone()),
        )
    }

    fn register_external_psk(&mut self, psk_id: &[u8], secret: &[u8]) -> Result<()> {
        // The store is keyed by the PSK id; the nonce of this PreSharedKeyId is not stored.
        self.psk_id("register_external_psk", psk_id)?
            .store(&self.provider, secret)
            .map_err(fail("register_external_psk"))
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(group_id))
            .ciphersuite(self.ciphersuite)
            .use_ratchet_tree_extension(true)
            .with_wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
            .with_capabilities(capabilities(self.ciphersuite))
            .build(&self.provider, &self.signer, self.credential.clone())
            .map_err(fail("create_group"))?;
        self.group = Some(group);
        Ok(())
    }

    fn set_ratchet_tree_in_welcome(&mut self, in_welcome: bool) -> Result<()> {
        self.configure("set_ratchet_tree_in_welcome", Some(in_welcome), None)
    }

    fn set_handshake_encrypted(&mut self, encrypted: bool) -> Result<()> {
        self.configure("set_handshake_encrypted", None, Some(encrypted))
    }

    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        let welcome = match mls_message_in("join", welcome)?.extract() {
            MlsMessageBodyIn::Welcome(w) => w,
            _ => {
                return Err(InteropError::Failed {
                    peer: NAME,
                    operation: "join",
                    message: "not an MLSMessage(Welcome)".into(),
                })
            }
        };
        let tree = ratchet_tree_in("join", ratchet_tree)?;
        let group = StagedWelcome::new_from_welcome(&self.provider, &join_config(), welcome, tree)
            .map_err(fail("join"))?
            .into_group(&self.provider)
            .map_err(fail("join"))?;
        self.group = Some(group);
        Ok(())
    }

    fn external_join(&mut self, group_info: &[u8], ratchet_tree: Option<&[u8]>) -> Result<Vec<u8>> {
        const OP: &str = "external_join";
        let group_info = match mls_message_in(OP, group_info)?.extract() {
            MlsMessageBodyIn::GroupInfo(gi) => gi,
            _ => {
                return Err(InteropError::Failed {
                    peer: NAME,
                    operation: OP,
                    message: "not an MLSMessage(GroupInfo)".into(),
                })
            }
        };
        let mut builder = MlsGroup::external_commit_builder().with_config(join_config());
        if let Some(tree) = ratchet_tree_in(OP, ratchet_tree)? {
            builder = builder.with_ratchet_tree(tree);
        }
        let (mut group, bundle) = builder
            .build_group(&self.provider, group_info, self.credential.clone())
            .map_err(fail(OP))?
            .leaf_node_parameters(
                LeafNodeParameters::builder()
                    .with_capabilities(capabilities(self.ciphersuite))
                    .build(),
            )
            .load_psks(self.provider.storage())
            .map_err(fail(OP))?
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(fail(OP))?
            .finalize(&self.provider)
            .map_err(fail(OP))?;
        let commit = serialize(OP, &bundle.into_commit())?;
        group
            .merge_pending_commit(&self.provider)
            .map_err(fail(OP))?;
        self.group = Some(group);
        Ok(commit)
    }

    fn external_sender(&self) -> Result<Vec<u8>> {
        Ok(crate::external_sender_encoding(
            &self.signer.to_public_vec(),
            &self.identity,
        ))
    }

    fn propose_as_external_sender(
        &mut self,
        group_info: &[u8],
        sender_index: u32,
        proposal: &ProposalSpec,
    ) -> Result<Vec<u8>> {
        const OP: &str = "propose_as_external_sender";
        let info = verifiable_group_info(OP, group_info)?;
        let (group_id, epoch) = (info.group_id().clone(), info.epoch());
        let index = SenderExtensionIndex::new(sender_index);
        let signer = &self.signer;
        let msg = match proposal {
            ProposalSpec::Add(kp) => ExternalProposal::new_add::<OpenMlsRustCrypto>(
                self.key_package_in(OP, kp)?,
                group_id,
                epoch,
                signer,
                index,
            )
            .map_err(fail(OP))?,
            ProposalSpec::Remove(leaf) => ExternalProposal::new_remove::<OpenMlsRustCrypto>(
                LeafNodeIndex::new(*leaf),
                group_id,
                epoch,
                signer,
                index,
            )
            .map_err(fail(OP))?,
            ProposalSpec::GroupContextExtensions(exts) => {
                ExternalProposal::new_group_context_extensions::<OpenMlsRustCrypto>(
                    Self::gce(OP, exts)?,
                    group_id,
                    epoch,
                    signer,
                    index,
                )
                .map_err(fail(OP))?
            }
            _ => return Err(unsupported(
                OP,
                "OpenMLS builds external proposals for Add, Remove and GroupContextExtensions only",
            )),
        };
        serialize(OP, &msg)
    }

    fn propose_join(&mut self, group_info: &[u8]) -> Result<Vec<u8>> {
        const OP: &str = "propose_join";
        let info = verifiable_group_info(OP, group_info)?;
        let bundle = self.new_key_package(OP)?;
        let msg = JoinProposal::new::<<OpenMlsRustCrypto as OpenMlsProvider>::StorageProvider>(
            bundle.key_package().clone(),
            info.group_id().clone(),
            info.epoch(),
            &self.signer,
        )
        .map_err(fail(OP))?;
        serialize(OP, &msg)
    }

    fn reinit_key_package(&mut self) -> Result<Vec<u8>> {
        Err(unsupported("reinit_key_package", NO_RESUMPTION))
    }

    fn reinit_group(&mut self, _key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        Err(unsupported("reinit_group", NO_RESUMPTION))
    }

    fn join_reinit(&mut self, _welcome: &[u8]) -> Result<()> {
        Err(unsupported("join_reinit", NO_RESUMPTION))
    }

    fn branch_group(&mut self, _group_id: &[u8], _key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        Err(unsupported("branch_group", NO_RESUMPTION))
    }

    fn join_branch(&mut self, _welcome: &[u8]) -> Result<()> {
        Err(unsupported("join_branch", NO_RESUMPTION))
    }

    fn propose(&mut self, proposal: &ProposalSpec) -> Result<Vec<u8>> {
        const OP: &str = "propose";
        let provider = &self.provider;
        let signer = &self.signer;
        let suite = self.ciphersuite;
        let group = self.group.as_mut().ok_or_else(|| no_group(OP))?;
        let msg = match proposal {
            ProposalSpec::Add(kp) => {
                let kp = key_package_in(provider, OP, kp)?;
                group
                    .propose_add_member(provider, signer, &kp)
                    .map_err(fail(OP))?
                    .0
            }
            ProposalSpec::Remove(leaf) => {
                group
                    .propose_remove_member(provider, signer, LeafNodeIndex::new(*leaf))
                    .map_err(fail(OP))?
                    .0
            }
            ProposalSpec::Update => {
                group
                    .propose_self_update(provider, signer, LeafNodeParameters::default())
                    .map_err(fail(OP))?
                    .0
            }
            ProposalSpec::ExternalPsk(id) => {
                let psk = external_psk_id(provider, suite, OP, id)?;
                group
                    .propose_pre_shared_key(provider, signer, psk)
                    .map_err(fail(OP))?
                    .0
            }
            ProposalSpec::GroupContextExtensions(exts) => {
                group
                    .propose_group_context_extensions(provider, Self::gce(OP, exts)?, signer)
                    .map_err(fail(OP))?
                    .0
            }
            ProposalSpec::ReInit { .. } => {
                return Err(unsupported(
                    OP,
                    "OpenMLS has no API to propose or commit a ReInit",
                ))
            }
        };
        serialize(OP, &msg)
    }

    fn commit(&mut self, proposals: Vec<ProposalSpec>, force_path: bool) -> Result<CommitOutput> {
        const OP: &str = "commit";
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        let mut others = Vec::new();
        let mut gce = None;
        // Each spec (a KeyPackage's bytes) is freed once decoded.
        for p in proposals {
            match &p {
                ProposalSpec::Add(kp) => adds.push(self.key_package_in(OP, kp)?),
                ProposalSpec::Remove(leaf) => removes.push(LeafNodeIndex::new(*leaf)),
                ProposalSpec::ExternalPsk(id) => others.push(Proposal::PreSharedKey(Box::new(
                    PreSharedKeyProposal::new(self.psk_id(OP, id)?),
                ))),
                ProposalSpec::GroupContextExtensions(exts) => gce = Some(Self::gce(OP, exts)?),
                ProposalSpec::Update => {
                    return Err(unsupported(
                        OP,
                        "an Update proposal cannot be committed by value (use force_path)",
                    ))
                }
                ProposalSpec::ReInit { .. } => {
                    return Err(unsupported(
                        OP,
                        "OpenMLS has no API to propose or commit a ReInit",
                    ))
                }
            }
        }
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self.group.as_mut().ok_or_else(|| no_group(OP))?;
        let mut builder = group
            .commit_builder()
            .propose_adds(adds)
            .propose_removals(removes)
            .add_proposals(others)
            .force_self_update(force_path);
        if let Some(gce) = gce {
            builder = builder
                .propose_group_context_extensions(gce)
                .map_err(fail(OP))?;
        }
        let bundle = builder
            .load_psks(provider.storage())
            .map_err(fail(OP))?
            .build(provider.rand(), provider.crypto(), signer, |_| true)
            .map_err(fail(OP))?
            .stage_commit(provider)
            .map_err(fail(OP))?;
        let (commit, welcome, _group_info) = bundle.into_messages();
        Ok(CommitOutput {
            commit: serialize(OP, &commit)?,
            welcome: welcome.map(|w| serialize(OP, &w)).transpose()?,
        })
    }

    fn merge_pending_commit(&mut self) -> Result<()> {
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| no_group("merge_pending_commit"))?;
        group
            .merge_pending_commit(provider)
            .map_err(fail("merge_pending_commit"))
    }

    fn discard_pending_commit(&mut self) -> Result<()> {
        let provider = &self.provider;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| no_group("discard_pending_commit"))?;
        group
            .clear_pending_commit(provider.storage())
            .map_err(fail("discard_pending_commit"))
    }

    fn process(&mut self, message: &[u8]) -> Result<Processed> {
        const OP: &str = "process";
        let msg = mls_message_in(OP, message)?
            .try_into_protocol_message()
            .map_err(fail(OP))?;
        let provider = &self.provider;
        let group = self.group.as_mut().ok_or_else(|| no_group(OP))?;
        let processed = group.process_message(provider, msg).map_err(fail(OP))?;
        let authenticated_data = processed.aad().to_vec();
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => Ok(Processed::Application {
                data: m.into_bytes(),
                authenticated_data,
            }),
            ProcessedMessageContent::ProposalMessage(p)
            | ProcessedMessageContent::ExternalJoinProposalMessage(p) => {
                group
                    .store_pending_proposal(provider.storage(), *p)
                    .map_err(fail(OP))?;
                Ok(Processed::Proposal)
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let removed_self = staged.self_removed();
                group
                    .merge_staged_commit(provider, *staged)
                    .map_err(fail(OP))?;
                Ok(Processed::Commit { removed_self })
            }
            other => Err(InteropError::Failed {
                peer: NAME,
                operation: OP,
                message: format!("unexpected message content {other:?}"),
            }),
        }
    }

    fn protect_with_aad(&mut self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self.group.as_mut().ok_or_else(|| no_group("protect"))?;
        group.set_aad(aad.to_vec());
        let msg = group
            .create_message(provider, signer, data)
            .map_err(fail("protect"))?;
        serialize("protect", &msg)
    }

    fn epoch(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.epoch().as_u64())
    }

    fn own_leaf(&self) -> u32 {
        self.group.as_ref().map_or(0, |g| g.own_leaf_index().u32())
    }

    fn member_count(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.members().count())
    }

    fn epoch_authenticator(&self) -> Result<Vec<u8>> {
        Ok(self
            .group("epoch_authenticator")?
            .epoch_authenticator()
            .as_slice()
            .to_vec())
    }

    fn group_context_extensions(&self) -> Result<Vec<RawExtension>> {
        self.group("group_context_extensions")?
            .extensions()
            .iter()
            .map(raw_extension)
            .collect()
    }

    fn export_secret(&self, label: &str, context: &[u8], length: usize) -> Result<Vec<u8>> {
        self.group("export_secret")?
            .export_secret(self.provider.crypto(), label, context, length)
            .map_err(fail("export_secret"))
    }

    fn export_group_info(&mut self, with_tree: bool) -> Result<Vec<u8>> {
        let msg = self
            .group("export_group_info")?
            .export_group_info(self.provider.crypto(), &self.signer, with_tree)
            .map_err(fail("export_group_info"))?;
        serialize("export_group_info", &msg)
    }

    fn export_ratchet_tree(&self) -> Result<Vec<u8>> {
        self.group("export_ratchet_tree")?
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(fail("export_ratchet_tree"))
    }
}
