//! [`InteropClient`] over mls-rs 0.57 with the aws-lc crypto provider (`mls-rs-crypto-awslc`).
//!
//! Each client is an `mls_rs::Client` with in-memory storage, the basic identity provider, an
//! Ed25519 signing identity and [`PeerRules`]: mls-rs's default commit options except that the
//! UpdatePath can be forced per commit (mls-rs decides that in its `MlsRules`, not per call).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mls_rs::client_builder::{
    BaseConfig, PaddingMode, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::crypto::SignatureSecretKey;
use mls_rs::extension::ExtensionType;
use mls_rs::external_client::ExternalClient;
use mls_rs::group::{
    CommitEffect, ExportedTree, GroupContext, ReceivedMessage, ReinitClient, Roster,
};
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::identity::SigningIdentity;
use mls_rs::mls_rules::{
    CommitDirection, CommitOptions, CommitSource, EncryptionOptions, ProposalBundle,
};
use mls_rs::psk::{ExternalPskId, PreSharedKey};
use mls_rs::{
    CipherSuite, CipherSuiteProvider, Client, CryptoProvider, Extension, ExtensionList, Group,
    MlsMessage, MlsRules, ProtocolVersion,
};
use mls_rs_crypto_awslc::AwsLcCryptoProvider;

use crate::{
    CommitOutput, InteropClient, InteropError, Processed, ProposalSpec, RawExtension, Result,
    TEST_EXTENSION_TYPE,
};

/// [`InteropClient::name`] of mls-rs clients.
pub const NAME: &str = "mls-rs";

/// mls-rs's default rules (RFC 9420 proposal validation, ratchet tree in Welcome, one Welcome,
/// commits as PublicMessage) with switches to force an UpdatePath on the next commits, to leave
/// the tree out of the Welcome and to send commits and proposals as PrivateMessage.
#[derive(Debug, Clone, Default)]
pub struct PeerRules {
    force_path: Arc<AtomicBool>,
    /// Inverted so that the `Default` (false) means "tree in the Welcome".
    tree_out_of_band: Arc<AtomicBool>,
    /// Commits and proposals as PrivateMessage (mls-rs's `encrypt_control_messages`).
    encrypt_handshake: Arc<AtomicBool>,
}

impl MlsRules for PeerRules {
    type Error = std::convert::Infallible;

    fn filter_proposals(
        &self,
        _direction: CommitDirection,
        _source: CommitSource,
        _current_roster: &Roster,
        _current_context: &GroupContext,
        proposals: ProposalBundle,
    ) -> std::result::Result<ProposalBundle, Self::Error> {
        Ok(proposals)
    }

    fn commit_options(
        &self,
        _new_roster: &Roster,
        _new_context: &GroupContext,
        _proposals: &ProposalBundle,
    ) -> std::result::Result<CommitOptions, Self::Error> {
        Ok(CommitOptions::new()
            .with_path_required(self.force_path.load(Ordering::Relaxed))
            .with_ratchet_tree_extension(!self.tree_out_of_band.load(Ordering::Relaxed))
            .with_single_welcome_message(true)
            .with_allow_external_commit(true))
    }

    fn encryption_options(
        &self,
        _current_roster: &Roster,
        _current_context: &GroupContext,
    ) -> std::result::Result<EncryptionOptions, Self::Error> {
        Ok(EncryptionOptions::new(
            self.encrypt_handshake.load(Ordering::Relaxed),
            PaddingMode::default(),
        ))
    }
}

/// The client configuration type of [`MlsRsClient`].
pub type Config = WithMlsRules<
    PeerRules,
    WithIdentityProvider<
        BasicIdentityProvider,
        WithCryptoProvider<AwsLcCryptoProvider, BaseConfig>,
    >,
>;

/// Maps any `Debug` error to [`InteropError::Failed`] for `operation`.
fn fail<E: std::fmt::Debug>(operation: &'static str) -> impl FnOnce(E) -> InteropError {
    move |e| InteropError::Failed {
        peer: NAME,
        operation,
        message: format!("{e:?}"),
    }
}

fn no_group(operation: &'static str) -> InteropError {
    InteropError::State {
        peer: NAME,
        operation,
        message: "not in a group",
    }
}

fn message(operation: &'static str, bytes: &[u8]) -> Result<MlsMessage> {
    MlsMessage::from_bytes(bytes).map_err(fail(operation))
}

fn messages(operation: &'static str, bytes: &[Vec<u8>]) -> Result<Vec<MlsMessage>> {
    bytes.iter().map(|b| message(operation, b)).collect()
}

/// The one Welcome of a new group's creation (the rules ask for a single Welcome).
fn only_welcome(operation: &'static str, welcomes: Vec<MlsMessage>) -> Result<Vec<u8>> {
    match welcomes.as_slice() {
        [w] => w.to_bytes().map_err(fail(operation)),
        _ => Err(InteropError::Failed {
            peer: NAME,
            operation,
            message: format!("{} Welcome messages, expected one", welcomes.len()),
        }),
    }
}

fn tree(operation: &'static str, bytes: Option<&[u8]>) -> Result<Option<ExportedTree<'static>>> {
    bytes
        .map(|b| ExportedTree::from_bytes(b).map_err(fail(operation)))
        .transpose()
}

fn extension_list(exts: &[RawExtension]) -> ExtensionList {
    ExtensionList::from(
        exts.iter()
            .map(|e| Extension::new(ExtensionType::new(e.extension_type), e.data.clone()))
            .collect::<Vec<_>>(),
    )
}

/// An mls-rs client and (once created or joined) its group.
pub struct MlsRsClient {
    identity: Vec<u8>,
    client: Client<Config>,
    rules: PeerRules,
    group: Option<Group<Config>>,
    /// The client's signature key and identity, also used by its external sender.
    signer: SignatureSecretKey,
    signing_identity: SigningIdentity,
    /// The client's cipher suite (its KeyPackages', and a ReInit's).
    cipher_suite: CipherSuite,
    /// After a committed ReInit: the client for the new group, made from the old group
    /// (which mls-rs consumes to make it).
    reinit: Option<ReinitClient<Config>>,
}

impl std::fmt::Debug for MlsRsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlsRsClient")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("epoch", &self.group.as_ref().map(|g| g.current_epoch()))
            .finish()
    }
}

impl MlsRsClient {
    /// A new client of suite 1 with basic credential `identity` and a fresh Ed25519 key.
    pub fn new(identity: &[u8]) -> Result<Self> {
        Self::new_in_suite(identity, crate::SUITE)
    }

    /// A new client of cipher suite `suite` with basic credential `identity` and a fresh
    /// signature key of the suite's scheme.
    pub fn new_in_suite(identity: &[u8], suite: u16) -> Result<Self> {
        let cipher_suite = CipherSuite::new(suite);
        let crypto = AwsLcCryptoProvider::default();
        let cs =
            crypto
                .cipher_suite_provider(cipher_suite)
                .ok_or_else(|| InteropError::Failed {
                    peer: NAME,
                    operation: "new",
                    message: format!("suite {suite} not provided"),
                })?;
        let (secret, public) = cs.signature_key_generate().map_err(fail("new"))?;
        let signing_identity = SigningIdentity::new(
            BasicCredential::new(identity.to_vec()).into_credential(),
            public,
        );
        let rules = PeerRules::default();
        let client = Client::builder()
            .crypto_provider(crypto)
            .identity_provider(BasicIdentityProvider)
            .mls_rules(rules.clone())
            .extension_type(ExtensionType::new(TEST_EXTENSION_TYPE))
            .signing_identity(signing_identity.clone(), secret.clone(), cipher_suite)
            .build();
        Ok(Self {
            identity: identity.to_vec(),
            client,
            rules,
            group: None,
            signer: secret,
            signing_identity,
            cipher_suite,
            reinit: None,
        })
    }

    /// The ReInit client, made from the group on first use after a committed ReInit.
    fn reinit_client(&mut self, operation: &'static str) -> Result<&ReinitClient<Config>> {
        if self.reinit.is_none() {
            let group = self.group.take().ok_or_else(|| no_group(operation))?;
            self.reinit = Some(
                group
                    .get_reinit_client(None, None)
                    .map_err(fail(operation))?,
            );
        }
        self.reinit.as_ref().ok_or_else(|| no_group(operation))
    }

    fn group(&self, operation: &'static str) -> Result<&Group<Config>> {
        self.group.as_ref().ok_or_else(|| no_group(operation))
    }

    fn group_mut(&mut self, operation: &'static str) -> Result<&mut Group<Config>> {
        self.group.as_mut().ok_or_else(|| no_group(operation))
    }
}

impl InteropClient for MlsRsClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn identity(&self) -> &[u8] {
        &self.identity
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        self.client
            .generate_key_package_message(Default::default(), Default::default(), None)
            .map_err(fail("key_package"))?
            .to_bytes()
            .map_err(fail("key_package"))
    }

    fn register_external_psk(&mut self, psk_id: &[u8], secret: &[u8]) -> Result<()> {
        // The in-memory store is shared by all clones, so this reaches the client's config.
        self.client.secret_store().insert(
            ExternalPskId::new(psk_id.to_vec()),
            PreSharedKey::new(secret.to_vec()),
        );
        Ok(())
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let group = self
            .client
            .create_group_with_id(
                group_id.to_vec(),
                Default::default(),
                Default::default(),
                None,
            )
            .map_err(fail("create_group"))?;
        self.group = Some(group);
        Ok(())
    }

    fn set_ratchet_tree_in_welcome(&mut self, in_welcome: bool) -> Result<()> {
        self.group("set_ratchet_tree_in_welcome")?;
        self.rules
            .tree_out_of_band
            .store(!in_welcome, Ordering::Relaxed);
        Ok(())
    }

    fn set_handshake_encrypted(&mut self, encrypted: bool) -> Result<()> {
        self.group("set_handshake_encrypted")?;
        self.rules
            .encrypt_handshake
            .store(encrypted, Ordering::Relaxed);
        Ok(())
    }

    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        let welcome = message("join", welcome)?;
        let (group, _info) = self
            .client
            .join_group(tree("join", ratchet_tree)?, &welcome, None)
            .map_err(fail("join"))?;
        self.group = Some(group);
        Ok(())
    }

    fn external_join(&mut self, group_info: &[u8], ratchet_tree: Option<&[u8]>) -> Result<Vec<u8>> {
        const OP: &str = "external_join";
        let group_info = message(OP, group_info)?;
        let mut builder = self.client.external_commit_builder().map_err(fail(OP))?;
        if let Some(tree) = tree(OP, ratchet_tree)? {
            builder = builder.with_tree_data(tree);
        }
        let (group, commit) = builder.build(group_info).map_err(fail(OP))?;
        self.group = Some(group);
        commit.to_bytes().map_err(fail(OP))
    }

    fn external_sender(&self) -> Result<Vec<u8>> {
        Ok(crate::external_sender_encoding(
            self.signing_identity.signature_key.as_bytes(),
            &self.identity,
        ))
    }

    fn propose_as_external_sender(
        &mut self,
        group_info: &[u8],
        _sender_index: u32,
        spec: &ProposalSpec,
    ) -> Result<Vec<u8>> {
        // mls-rs finds its index itself, by its signing identity in the group's
        // `external_senders`; it observes the group from the GroupInfo (tree included).
        const OP: &str = "propose_as_external_sender";
        let external = ExternalClient::builder()
            .crypto_provider(AwsLcCryptoProvider::default())
            .identity_provider(BasicIdentityProvider)
            .extension_type(ExtensionType::new(TEST_EXTENSION_TYPE))
            .signer(self.signer.clone(), self.signing_identity.clone())
            .build();
        let mut group = external
            .observe_group(message(OP, group_info)?, None, None)
            .map_err(fail(OP))?;
        let msg = match spec {
            ProposalSpec::Add(kp) => group.propose_add(message(OP, kp)?, vec![]),
            ProposalSpec::Remove(leaf) => group.propose_remove(*leaf, vec![]),
            ProposalSpec::ExternalPsk(id) => {
                group.propose_external_psk(ExternalPskId::new(id.clone()), vec![])
            }
            ProposalSpec::GroupContextExtensions(exts) => {
                group.propose_group_context_extensions(extension_list(exts), vec![])
            }
            ProposalSpec::ReInit { group_id } => group.propose_reinit(
                Some(group_id.clone()),
                ProtocolVersion::MLS_10,
                self.cipher_suite,
                ExtensionList::new(),
                vec![],
            ),
            ProposalSpec::Update => {
                return Err(InteropError::Unsupported {
                    peer: NAME,
                    operation: OP,
                    reason: "an external sender has no leaf to update",
                })
            }
        }
        .map_err(fail(OP))?;
        msg.to_bytes().map_err(fail(OP))
    }

    fn propose_join(&mut self, group_info: &[u8]) -> Result<Vec<u8>> {
        const OP: &str = "propose_join";
        self.client
            .external_add_proposal(
                &message(OP, group_info)?,
                None,
                vec![],
                Default::default(),
                Default::default(),
                None,
            )
            .map_err(fail(OP))?
            .to_bytes()
            .map_err(fail(OP))
    }

    fn reinit_key_package(&mut self) -> Result<Vec<u8>> {
        const OP: &str = "reinit_key_package";
        self.reinit_client(OP)?
            .generate_key_package(None)
            .map_err(fail(OP))?
            .to_bytes()
            .map_err(fail(OP))
    }

    fn reinit_group(&mut self, key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        const OP: &str = "reinit_group";
        let key_packages = messages(OP, &key_packages)?;
        self.reinit_client(OP)?;
        let client = self.reinit.take().ok_or_else(|| no_group(OP))?;
        let (group, welcomes) = client
            .commit(key_packages, ExtensionList::new(), None)
            .map_err(fail(OP))?;
        self.group = Some(group);
        only_welcome(OP, welcomes)
    }

    fn join_reinit(&mut self, welcome: &[u8]) -> Result<()> {
        const OP: &str = "join_reinit";
        let welcome = message(OP, welcome)?;
        self.reinit_client(OP)?;
        let client = self.reinit.take().ok_or_else(|| no_group(OP))?;
        let (group, _) = client.join(&welcome, None, None).map_err(fail(OP))?;
        self.group = Some(group);
        Ok(())
    }

    fn branch_group(&mut self, group_id: &[u8], key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        const OP: &str = "branch_group";
        let key_packages = messages(OP, &key_packages)?;
        let (group, welcomes) = self
            .group(OP)?
            .branch(group_id.to_vec(), key_packages, None)
            .map_err(fail(OP))?;
        self.group = Some(group);
        only_welcome(OP, welcomes)
    }

    fn join_branch(&mut self, welcome: &[u8]) -> Result<()> {
        const OP: &str = "join_branch";
        let welcome = message(OP, welcome)?;
        let (group, _) = self
            .group(OP)?
            .join_subgroup(&welcome, None, None)
            .map_err(fail(OP))?;
        self.group = Some(group);
        Ok(())
    }

    fn propose(&mut self, proposal: &ProposalSpec) -> Result<Vec<u8>> {
        const OP: &str = "propose";
        let cipher_suite = self.cipher_suite;
        let group = self.group_mut(OP)?;
        let msg = match proposal {
            ProposalSpec::Add(kp) => group.propose_add(message(OP, kp)?, vec![]),
            ProposalSpec::Remove(leaf) => group.propose_remove(*leaf, vec![]),
            ProposalSpec::Update => group.propose_update(vec![]),
            ProposalSpec::ExternalPsk(id) => {
                group.propose_external_psk(ExternalPskId::new(id.clone()), vec![])
            }
            ProposalSpec::GroupContextExtensions(exts) => {
                group.propose_group_context_extensions(extension_list(exts), vec![])
            }
            ProposalSpec::ReInit { group_id } => group.propose_reinit(
                Some(group_id.clone()),
                ProtocolVersion::MLS_10,
                cipher_suite,
                ExtensionList::new(),
                vec![],
            ),
        }
        .map_err(fail(OP))?;
        msg.to_bytes().map_err(fail(OP))
    }

    fn commit(&mut self, proposals: Vec<ProposalSpec>, force_path: bool) -> Result<CommitOutput> {
        const OP: &str = "commit";
        self.rules.force_path.store(force_path, Ordering::Relaxed);
        let group = self.group.as_mut().ok_or_else(|| no_group(OP))?;
        let mut builder = group.commit_builder();
        // Each spec (a KeyPackage's bytes) is freed once decoded.
        for p in proposals {
            builder = match &p {
                ProposalSpec::Add(kp) => builder.add_member(message(OP, kp)?),
                ProposalSpec::Remove(leaf) => builder.remove_member(*leaf),
                ProposalSpec::ExternalPsk(id) => {
                    builder.add_external_psk(ExternalPskId::new(id.clone()))
                }
                ProposalSpec::GroupContextExtensions(exts) => {
                    builder.set_group_context_ext(extension_list(exts))
                }
                ProposalSpec::ReInit { group_id } => builder.reinit(
                    Some(group_id.clone()),
                    ProtocolVersion::MLS_10,
                    self.cipher_suite,
                    ExtensionList::new(),
                ),
                ProposalSpec::Update => {
                    return Err(InteropError::Unsupported {
                        peer: NAME,
                        operation: OP,
                        reason: "an Update proposal cannot be committed by value (use force_path)",
                    })
                }
            }
            .map_err(fail(OP))?;
        }
        let out = builder.build().map_err(fail(OP));
        self.rules.force_path.store(false, Ordering::Relaxed);
        let out = out?;
        let welcome = match out.welcome_messages.as_slice() {
            [] => None,
            [w] => Some(w.to_bytes().map_err(fail(OP))?),
            _ => {
                return Err(InteropError::Failed {
                    peer: NAME,
                    operation: OP,
                    message: "more than one Welcome".into(),
                })
            }
        };
        Ok(CommitOutput {
            commit: out.commit_message.to_bytes().map_err(fail(OP))?,
            welcome,
        })
    }

    fn merge_pending_commit(&mut self) -> Result<()> {
        self.group_mut("merge_pending_commit")?
            .apply_pending_commit()
            .map_err(fail("merge_pending_commit"))
            .map(drop)
    }

    fn discard_pending_commit(&mut self) -> Result<()> {
        self.group_mut("discard_pending_commit")?
            .clear_pending_commit();
        Ok(())
    }

    fn process(&mut self, msg: &[u8]) -> Result<Processed> {
        const OP: &str = "process";
        let msg = message(OP, msg)?;
        let group = self.group_mut(OP)?;
        match group.process_incoming_message(msg).map_err(fail(OP))? {
            ReceivedMessage::ApplicationMessage(m) => Ok(Processed::Application {
                data: m.data().to_vec(),
                authenticated_data: m.authenticated_data,
            }),
            ReceivedMessage::Proposal(_) => Ok(Processed::Proposal),
            ReceivedMessage::Commit(c) => Ok(Processed::Commit {
                removed_self: matches!(c.effect, CommitEffect::Removed { .. }),
            }),
            other => Err(InteropError::Failed {
                peer: NAME,
                operation: OP,
                message: format!("unexpected message {other:?}"),
            }),
        }
    }

    fn protect_with_aad(&mut self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        self.group_mut("protect")?
            .encrypt_application_message(data, aad.to_vec())
            .map_err(fail("protect"))?
            .to_bytes()
            .map_err(fail("protect"))
    }

    fn epoch(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.current_epoch())
    }

    fn own_leaf(&self) -> u32 {
        self.group.as_ref().map_or(0, |g| g.current_member_index())
    }

    fn member_count(&self) -> usize {
        self.group
            .as_ref()
            .map_or(0, |g| g.roster().members_iter().count())
    }

    fn epoch_authenticator(&self) -> Result<Vec<u8>> {
        Ok(self
            .group("epoch_authenticator")?
            .epoch_authenticator()
            .map_err(fail("epoch_authenticator"))?
            .to_vec())
    }

    fn group_context_extensions(&self) -> Result<Vec<RawExtension>> {
        Ok(self
            .group("group_context_extensions")?
            .context()
            .extensions
            .iter()
            .map(|e| RawExtension {
                extension_type: e.extension_type.raw_value(),
                data: e.extension_data.clone(),
            })
            .collect())
    }

    fn export_secret(&self, label: &str, context: &[u8], length: usize) -> Result<Vec<u8>> {
        Ok(self
            .group("export_secret")?
            .export_secret(label.as_bytes(), context, length)
            .map_err(fail("export_secret"))?
            .to_vec())
    }

    fn export_group_info(&mut self, with_tree: bool) -> Result<Vec<u8>> {
        self.group("export_group_info")?
            .group_info_message_allowing_ext_commit(with_tree)
            .map_err(fail("export_group_info"))?
            .to_bytes()
            .map_err(fail("export_group_info"))
    }

    fn export_ratchet_tree(&self) -> Result<Vec<u8>> {
        self.group("export_ratchet_tree")?
            .export_tree()
            .to_bytes()
            .map_err(fail("export_ratchet_tree"))
    }
}
