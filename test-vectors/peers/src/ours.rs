//! [`InteropClient`] over our own engine, `mls-engine` (its `group` module on the aws-lc
//! provider), so it can be tested and benchmarked against the peers through the same trait.
//!
//! The client keeps the private keys of every KeyPackage it handed out (a Welcome is tried against
//! them, newest first), the external PSKs it was given, and at most one pending own commit. Group
//! policy: lifetimes are checked against the system clock (read here, in the harness: the engine
//! reads none), handshake messages are PublicMessages unless `set_handshake_encrypted` says
//! otherwise, the ratchet tree goes into every Welcome.

use std::time::{SystemTime, UNIX_EPOCH};

use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider, Secret};
use mls_engine::group::{
    external_proposal, generate_key_package, CommitOptions, ExternalCommitOptions, Group,
    GroupConfig, JoinOptions, KeyPackageBundle, KeyPackageOptions, ProcessedMessage, StagedCommit,
};
use mls_engine::messages::{
    Add, Capabilities, Credential, CredentialType, Extension, ExtensionType, ExternalPsk,
    GroupContextExtensions, KeyPackage, MlsMessage, MlsMessageBody, PreSharedKey, PreSharedKeyId,
    Proposal, ProtocolVersion, Psk, RatchetTree, ReInit, Remove,
};
use mls_engine::psk::fresh_psk_nonce;
use mls_engine::welcome::WelcomeRef;

use crate::{
    CommitOutput, InteropClient, InteropError, Processed, ProposalSpec, RawExtension, Result,
    TEST_EXTENSION_TYPE,
};

/// [`InteropClient::name`] of our clients.
pub const NAME: &str = "mls-engine";

/// KeyPackage lifetime: from an hour ago (clock skew) to 90 days ahead.
const KP_BACKDATE: u64 = 3600;
const KP_LIFETIME: u64 = 90 * 24 * 3600;

/// Maps any `Debug` error to [`InteropError::Failed`] for `operation`.
fn fail<E: std::fmt::Debug>(operation: &'static str) -> impl FnOnce(E) -> InteropError {
    move |e| InteropError::Failed {
        peer: NAME,
        operation,
        message: format!("{e:?}"),
    }
}

fn state(operation: &'static str, message: &'static str) -> InteropError {
    InteropError::State {
        peer: NAME,
        operation,
        message,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn config() -> GroupConfig {
    GroupConfig::default().at_time(now())
}

/// The group id and epoch of an `MLSMessage(GroupInfo)` (its signature is not checked: they
/// only address a proposal, which the group's members check).
fn group_and_epoch(operation: &'static str, group_info: &[u8]) -> Result<(Vec<u8>, u64)> {
    match decode(operation, group_info)?.body {
        MlsMessageBody::GroupInfo(gi) => Ok((
            gi.group_context.group_id.as_slice().to_vec(),
            gi.group_context.epoch,
        )),
        _ => Err(state(operation, "not a GroupInfo")),
    }
}

/// Decodes `MLSMessage(KeyPackage)`s.
fn key_packages_of(operation: &'static str, messages: &[Vec<u8>]) -> Result<Vec<KeyPackage>> {
    messages
        .iter()
        .map(|m| match decode(operation, m)?.body {
            MlsMessageBody::KeyPackage(kp) => Ok(kp),
            _ => Err(state(operation, "not a KeyPackage")),
        })
        .collect()
}

fn decode(operation: &'static str, bytes: &[u8]) -> Result<MlsMessage> {
    MlsMessage::from_bytes(bytes).map_err(fail(operation))
}

fn decode_tree(operation: &'static str, bytes: Option<&[u8]>) -> Result<Option<RatchetTree>> {
    bytes
        .map(|b| RatchetTree::from_bytes(b).map_err(fail(operation)))
        .transpose()
}

fn encode(operation: &'static str, msg: &MlsMessage) -> Result<Vec<u8>> {
    msg.to_bytes().map_err(fail(operation))
}

fn extensions(raw: &[RawExtension]) -> Vec<Extension> {
    raw.iter()
        .map(|e| Extension {
            extension_type: ExtensionType(e.extension_type),
            extension_data: VarBytes(e.data.clone()),
        })
        .collect()
}

/// Default capabilities (the client's suite) plus the private-use test extension type.
fn capabilities(suite: CipherSuite) -> Capabilities {
    Capabilities {
        versions: VarVec(vec![ProtocolVersion::MLS10]),
        cipher_suites: VarVec(vec![suite]),
        extensions: VarVec(vec![ExtensionType(TEST_EXTENSION_TYPE)]),
        proposals: VarVec::default(),
        credentials: VarVec(vec![CredentialType::BASIC]),
    }
}

/// A client of our engine: suite provider, signature key, outstanding KeyPackages, registered
/// PSKs and (once created or joined) its group and pending commit.
pub struct OursClient {
    identity: Vec<u8>,
    cs: AwsLcSuite,
    signer: Secret,
    /// The public half of `signer`.
    signature_key: Vec<u8>,
    bundles: Vec<KeyPackageBundle>,
    psks: Vec<(Vec<u8>, Secret)>,
    group: Option<Group>,
    pending: Option<StagedCommit>,
    /// Whether our Welcomes carry the ratchet tree (else it goes out of band).
    tree_in_welcome: bool,
}

impl std::fmt::Debug for OursClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OursClient")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("epoch", &self.group.as_ref().map(Group::epoch))
            .finish()
    }
}

impl OursClient {
    /// A new client of suite 1 with basic credential `identity` and a fresh Ed25519 key.
    pub fn new(identity: &[u8]) -> Result<Self> {
        Self::new_in_suite(identity, crate::SUITE)
    }

    /// A new client of cipher suite `suite` with basic credential `identity` and a fresh
    /// signature key of the suite's scheme.
    pub fn new_in_suite(identity: &[u8], suite: u16) -> Result<Self> {
        let cs = AwsLcSuite::new(CipherSuite(suite)).map_err(fail("new"))?;
        let (signer, public) = cs.signature_generate().map_err(fail("new"))?;
        Ok(Self {
            identity: identity.to_vec(),
            cs,
            signer,
            signature_key: public.0 .0,
            bundles: Vec::new(),
            psks: Vec::new(),
            group: None,
            pending: None,
            tree_in_welcome: true,
        })
    }

    /// The group, for callers that want to look past the trait (benchmarks, tests).
    pub fn group(&self) -> Option<&Group> {
        self.group.as_ref()
    }

    /// The group, with the lifetime-check time set to the current clock (KeyPackages made
    /// after the group was joined must not be "not yet valid").
    fn group_now(&mut self, operation: &'static str) -> Result<&mut Group> {
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| state(operation, "not in a group"))?;
        group.set_time(now());
        Ok(group)
    }

    fn group_ref(&self, operation: &'static str) -> Result<&Group> {
        self.group
            .as_ref()
            .ok_or_else(|| state(operation, "not in a group"))
    }

    fn new_bundle(&self) -> Result<KeyPackageBundle> {
        let t = now();
        let mut options =
            KeyPackageOptions::new(t.saturating_sub(KP_BACKDATE), t.saturating_add(KP_LIFETIME));
        options.capabilities = Some(capabilities(self.cs.cipher_suite()));
        generate_key_package(
            &self.cs,
            Credential::basic(self.identity.clone()),
            self.signer.clone(),
            options,
        )
        .map_err(fail("key_package"))
    }

    fn install(&mut self, mut group: Group) {
        for (id, secret) in &self.psks {
            group.add_external_psk(id.clone(), secret.clone());
        }
        self.group = Some(group);
        self.pending = None;
    }

    /// Joins from a Welcome, trying every outstanding KeyPackage newest first, with the
    /// resumption PSKs of other groups a ReInit or branch Welcome may name.
    fn join_with(
        &mut self,
        operation: &'static str,
        welcome: &[u8],
        ratchet_tree: Option<&[u8]>,
        resumption_psks: Vec<(Vec<u8>, u64, Secret)>,
    ) -> Result<()> {
        // Read in place: only our entry of the Welcome is copied.
        let welcome = match WelcomeRef::from_message_bytes(welcome) {
            Ok(w) => w,
            Err(e) => {
                return Err(match decode(operation, welcome)?.body {
                    MlsMessageBody::Welcome(_) => fail(operation)(e),
                    _ => state(operation, "not a Welcome"),
                })
            }
        };
        let ratchet_tree = decode_tree(operation, ratchet_tree)?;
        // The Welcome names its KeyPackages by reference; trying ours newest first finds it.
        let mut last = None;
        for i in (0..self.bundles.len()).rev() {
            let options = JoinOptions {
                config: config(),
                ratchet_tree: ratchet_tree.clone(),
                external_psks: self.psks.clone(),
                resumption_psks: resumption_psks.clone(),
            };
            match Group::join(&self.cs, welcome, &self.bundles[i], options) {
                Ok(group) => {
                    self.bundles.remove(i);
                    self.install(group);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or_else(
            || state(operation, "no KeyPackage outstanding"),
            |e| fail(operation)(e),
        ))
    }

    /// Joins a group resumed from the current one (ReInit or branch): the Welcome names the
    /// current epoch's resumption PSK.
    fn join_resumed(&mut self, operation: &'static str, welcome: &[u8]) -> Result<()> {
        let entry = self.group_ref(operation)?.resumption_psk_entry();
        self.join_with(operation, welcome, None, vec![entry])
    }

    /// The engine proposal for a [`ProposalSpec`] (PSK nonces fresh).
    fn proposal(&self, operation: &'static str, spec: &ProposalSpec) -> Result<Proposal> {
        Ok(match spec {
            ProposalSpec::Add(kp) => match decode(operation, kp)?.body {
                MlsMessageBody::KeyPackage(key_package) => Proposal::Add(Add { key_package }),
                _ => return Err(state(operation, "not a KeyPackage")),
            },
            ProposalSpec::Remove(leaf) => Proposal::Remove(Remove { removed: *leaf }),
            ProposalSpec::ExternalPsk(id) => Proposal::PreSharedKey(PreSharedKey {
                psk: PreSharedKeyId {
                    psk: Psk::External(ExternalPsk {
                        psk_id: VarBytes(id.clone()),
                    }),
                    psk_nonce: fresh_psk_nonce(&self.cs).map_err(fail(operation))?,
                },
            }),
            ProposalSpec::GroupContextExtensions(exts) => {
                Proposal::GroupContextExtensions(GroupContextExtensions {
                    extensions: VarVec(extensions(exts)),
                })
            }
            ProposalSpec::ReInit { group_id } => Proposal::ReInit(ReInit {
                group_id: VarBytes(group_id.clone()),
                version: ProtocolVersion::MLS10,
                cipher_suite: self.cs.cipher_suite(),
                extensions: VarVec::default(),
            }),
            ProposalSpec::Update => {
                return Err(InteropError::Unsupported {
                    peer: NAME,
                    operation,
                    reason: "an Update proposal cannot be committed by value (use force_path)",
                })
            }
        })
    }
}

impl InteropClient for OursClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn identity(&self) -> &[u8] {
        &self.identity
    }

    fn key_package(&mut self) -> Result<Vec<u8>> {
        let bundle = self.new_bundle()?;
        let msg = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
        self.bundles.push(bundle);
        encode("key_package", &msg)
    }

    fn register_external_psk(&mut self, psk_id: &[u8], secret: &[u8]) -> Result<()> {
        let secret = Secret::from_slice(secret);
        if let Some(g) = &mut self.group {
            g.add_external_psk(psk_id.to_vec(), secret.clone());
        }
        self.psks.push((psk_id.to_vec(), secret));
        Ok(())
    }

    fn create_group(&mut self, group_id: &[u8]) -> Result<()> {
        let bundle = self.new_bundle()?;
        let group = Group::create(&self.cs, &bundle, group_id.to_vec(), vec![], config())
            .map_err(fail("create_group"))?;
        self.install(group);
        Ok(())
    }

    fn set_ratchet_tree_in_welcome(&mut self, in_welcome: bool) -> Result<()> {
        self.group_ref("set_ratchet_tree_in_welcome")?;
        self.tree_in_welcome = in_welcome;
        Ok(())
    }

    fn set_handshake_encrypted(&mut self, encrypted: bool) -> Result<()> {
        let group = self.group_now("set_handshake_encrypted")?;
        let mut config = *group.config();
        config.encrypt_handshake = encrypted;
        group.set_config(config);
        Ok(())
    }

    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()> {
        self.join_with("join", welcome, ratchet_tree, Vec::new())
    }

    fn reinit_key_package(&mut self) -> Result<Vec<u8>> {
        const OP: &str = "reinit_key_package";
        if self.group_ref(OP)?.pending_reinit().is_none() {
            return Err(state(OP, "no ReInit committed"));
        }
        // The ReInit's suite and version are the group's (`ProposalSpec::ReInit`).
        self.key_package()
    }

    fn reinit_group(&mut self, key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        const OP: &str = "reinit_group";
        let own = self.new_bundle()?;
        let members = key_packages_of(OP, &key_packages)?;
        let (group, welcome) = self
            .group_ref(OP)?
            .reinit(&self.cs, &own, members, config())
            .map_err(fail(OP))?;
        self.install(group);
        Ok(welcome.into_bytes())
    }

    fn join_reinit(&mut self, welcome: &[u8]) -> Result<()> {
        self.join_resumed("join_reinit", welcome)
    }

    fn branch_group(&mut self, group_id: &[u8], key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        const OP: &str = "branch_group";
        let own = self.new_bundle()?;
        let members = key_packages_of(OP, &key_packages)?;
        self.group_now(OP)?;
        let (group, welcome) = self
            .group_ref(OP)?
            .branch(&self.cs, &own, members, config(), group_id.to_vec())
            .map_err(fail(OP))?;
        self.install(group);
        Ok(welcome.into_bytes())
    }

    fn join_branch(&mut self, welcome: &[u8]) -> Result<()> {
        self.join_resumed("join_branch", welcome)
    }

    fn external_join(&mut self, group_info: &[u8], ratchet_tree: Option<&[u8]>) -> Result<Vec<u8>> {
        const OP: &str = "external_join";
        let MlsMessageBody::GroupInfo(gi) = decode(OP, group_info)?.body else {
            return Err(state(OP, "not a GroupInfo"));
        };
        let options = ExternalCommitOptions {
            config: config(),
            ratchet_tree: decode_tree(OP, ratchet_tree)?,
            capabilities: Some(capabilities(self.cs.cipher_suite())),
            ..ExternalCommitOptions::default()
        };
        let (group, commit) = Group::join_by_external_commit(
            &self.cs,
            &gi,
            Credential::basic(self.identity.clone()),
            self.signer.clone(),
            options,
        )
        .map_err(fail(OP))?;
        self.install(group);
        encode(OP, &commit)
    }

    fn external_sender(&self) -> Result<Vec<u8>> {
        Ok(crate::external_sender_encoding(
            &self.signature_key,
            &self.identity,
        ))
    }

    fn propose_as_external_sender(
        &mut self,
        group_info: &[u8],
        sender_index: u32,
        spec: &ProposalSpec,
    ) -> Result<Vec<u8>> {
        const OP: &str = "propose_as_external_sender";
        let (group_id, epoch) = group_and_epoch(OP, group_info)?;
        let proposal = self.proposal(OP, spec)?;
        let msg = external_proposal(
            &self.cs,
            &group_id,
            epoch,
            Some(sender_index),
            &self.signer,
            proposal,
        )
        .map_err(fail(OP))?;
        encode(OP, &msg)
    }

    fn propose_join(&mut self, group_info: &[u8]) -> Result<Vec<u8>> {
        const OP: &str = "propose_join";
        let (group_id, epoch) = group_and_epoch(OP, group_info)?;
        let bundle = self.new_bundle()?;
        let proposal = Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        });
        let msg = external_proposal(&self.cs, &group_id, epoch, None, &self.signer, proposal)
            .map_err(fail(OP))?;
        self.bundles.push(bundle);
        encode(OP, &msg)
    }

    fn propose(&mut self, spec: &ProposalSpec) -> Result<Vec<u8>> {
        const OP: &str = "propose";
        let proposal = match spec {
            ProposalSpec::Update => None,
            other => Some(self.proposal(OP, other)?),
        };
        self.group_now(OP)?;
        let cs = &self.cs;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| state(OP, "not in a group"))?;
        let (msg, _) = match proposal {
            None => group.propose_update(cs),
            Some(p) => group.propose(cs, p),
        }
        .map_err(fail(OP))?;
        encode(OP, &msg)
    }

    fn commit(&mut self, specs: Vec<ProposalSpec>, force_path: bool) -> Result<CommitOutput> {
        const OP: &str = "commit";
        let mut proposals = Vec::with_capacity(specs.len());
        // Each spec (a KeyPackage's bytes) is freed once decoded.
        for s in specs {
            proposals.push(self.proposal(OP, &s)?);
        }
        let options = CommitOptions {
            proposals,
            force_path,
            ratchet_tree_in_welcome: self.tree_in_welcome,
            ..CommitOptions::default()
        };
        self.group_now(OP)?;
        let out = self
            .group_ref(OP)?
            .commit(&self.cs, options)
            .map_err(fail(OP))?;
        // The Welcome comes encoded (built in one buffer); the commit is encoded and its
        // struct dropped.
        let mls_engine::group::CommitOutput {
            commit,
            welcome,
            staged,
            ..
        } = out;
        let welcome = welcome.map(mls_engine::messages::WelcomeMessage::into_bytes);
        let commit = encode(OP, &commit)?;
        self.pending = Some(staged);
        Ok(CommitOutput { commit, welcome })
    }

    fn merge_pending_commit(&mut self) -> Result<()> {
        const OP: &str = "merge_pending_commit";
        let staged = self
            .pending
            .take()
            .ok_or_else(|| state(OP, "no pending commit"))?;
        self.group
            .as_mut()
            .ok_or_else(|| state(OP, "not in a group"))?
            .merge_staged_commit(staged)
            .map_err(fail(OP))
    }

    fn discard_pending_commit(&mut self) -> Result<()> {
        self.pending = None;
        Ok(())
    }

    fn process(&mut self, message: &[u8]) -> Result<Processed> {
        const OP: &str = "process";
        self.group_now(OP)?;
        let cs = &self.cs;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| state(OP, "not in a group"))?;
        // From the received bytes: a member's commit is checked without encoding it again.
        match group.process_message_bytes(cs, message).map_err(fail(OP))? {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                ..
            } => Ok(Processed::Application {
                data,
                authenticated_data,
            }),
            ProcessedMessage::Proposal(_) => Ok(Processed::Proposal),
            ProcessedMessage::Commit(staged) => {
                let removed_self = staged.removes_self();
                group.merge_staged_commit(*staged).map_err(fail(OP))?;
                // A received commit supersedes our own pending one.
                self.pending = None;
                Ok(Processed::Commit { removed_self })
            }
            other => Err(InteropError::Failed {
                peer: NAME,
                operation: OP,
                message: format!("unexpected message {other:?}"),
            }),
        }
    }

    fn protect_with_aad(&mut self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        const OP: &str = "protect";
        let cs = &self.cs;
        let group = self
            .group
            .as_mut()
            .ok_or_else(|| state(OP, "not in a group"))?;
        let msg = group.encrypt_application(cs, data, aad).map_err(fail(OP))?;
        encode(OP, &msg)
    }

    fn epoch(&self) -> u64 {
        self.group.as_ref().map_or(0, Group::epoch)
    }

    fn own_leaf(&self) -> u32 {
        self.group.as_ref().map_or(0, |g| g.own_leaf().0)
    }

    fn member_count(&self) -> usize {
        self.group.as_ref().map_or(0, |g| {
            usize::try_from(g.member_count()).unwrap_or(usize::MAX)
        })
    }

    fn epoch_authenticator(&self) -> Result<Vec<u8>> {
        Ok(self
            .group_ref("epoch_authenticator")?
            .epoch_authenticator()
            .as_bytes()
            .to_vec())
    }

    fn group_context_extensions(&self) -> Result<Vec<RawExtension>> {
        Ok(self
            .group_ref("group_context_extensions")?
            .context()
            .extensions
            .iter()
            .map(|e| RawExtension {
                extension_type: e.extension_type.0,
                data: e.extension_data.to_vec(),
            })
            .collect())
    }

    fn export_secret(&self, label: &str, context: &[u8], length: usize) -> Result<Vec<u8>> {
        Ok(self
            .group_ref("export_secret")?
            .export_secret(&self.cs, label, context, length)
            .map_err(fail("export_secret"))?
            .as_bytes()
            .to_vec())
    }

    fn export_group_info(&mut self, with_tree: bool) -> Result<Vec<u8>> {
        const OP: &str = "export_group_info";
        let msg = self
            .group_ref(OP)?
            .group_info(&self.cs, with_tree)
            .map_err(fail(OP))?;
        encode(OP, &msg)
    }

    fn export_ratchet_tree(&self) -> Result<Vec<u8>> {
        const OP: &str = "export_ratchet_tree";
        self.group_ref(OP)?
            .tree()
            .to_wire()
            .to_bytes()
            .map_err(fail(OP))
    }
}
