//! `mls-peers`: other MLS implementations behind one implementation-neutral trait, for live
//! interop tests and side-by-side benchmarks.
//!
//! An [`InteropClient`] is one MLS client in (at most) one group. It exchanges only RFC 9420 wire
//! bytes: every message in or out is a TLS-encoded `MLSMessage` (KeyPackage, Welcome, GroupInfo,
//! PublicMessage or PrivateMessage), and a ratchet tree travels as the TLS encoding of
//! `optional<Node> ratchet_tree<V>` (the content of the `ratchet_tree` extension). Nothing else of
//! an implementation leaks through, so any two implementations of the trait can be made to talk.
//!
//! Clients use cipher suite 1 (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`) unless made with
//! [`new_client_in_suite`], and basic credentials. Where an implementation cannot do something
//! through its public API, the method returns [`InteropError::Unsupported`]; see `INTEROP.md`
//! beside this crate for the table.
//!
//! Implementations: [`openmls_peer::OpenMlsClient`] (OpenMLS 0.9 with its RustCrypto provider),
//! [`mls_rs_peer::MlsRsClient`] (mls-rs 0.57 with its aws-lc provider) and
//! [`ours::OursClient`] (our engine, `mls-engine`, with its aws-lc provider).

#![forbid(unsafe_code)]

pub mod mls_rs_peer;
pub mod openmls_peer;
pub mod ours;
pub mod rss;

/// Cipher suite 1: `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`.
pub const SUITE: u16 = 1;

/// A private-use extension type (RFC 9420, section 17.3: 0xF000-0xFFFF) that every client here
/// advertises in its leaf capabilities, so that a GroupContextExtensions proposal may carry it.
pub const TEST_EXTENSION_TYPE: u16 = 0xff00;

/// Result of an [`InteropClient`] operation.
pub type Result<T> = std::result::Result<T, InteropError>;

/// Why an [`InteropClient`] operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteropError {
    /// The implementation has no public API for the operation (recorded in `INTEROP.md`).
    #[error("{peer}: {operation} is not supported: {reason}")]
    Unsupported {
        /// [`InteropClient::name`] of the implementation.
        peer: &'static str,
        /// The trait operation.
        operation: &'static str,
        /// Why: which API is missing.
        reason: &'static str,
    },
    /// The implementation tried and returned an error (its text, unchanged).
    #[error("{peer}: {operation} failed: {message}")]
    Failed {
        /// [`InteropClient::name`] of the implementation.
        peer: &'static str,
        /// The trait operation.
        operation: &'static str,
        /// The implementation's error, formatted with `{:?}`.
        message: String,
    },
    /// The client is in the wrong state for the operation (e.g. no group yet).
    #[error("{peer}: {operation}: {message}")]
    State {
        /// [`InteropClient::name`] of the implementation.
        peer: &'static str,
        /// The trait operation.
        operation: &'static str,
        /// What was wrong.
        message: &'static str,
    },
}

impl InteropError {
    /// Whether this is [`InteropError::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, InteropError::Unsupported { .. })
    }
}

/// One group context (or leaf) extension: its type and its opaque `extension_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExtension {
    /// `ExtensionType`.
    pub extension_type: u16,
    /// `extension_data`, as on the wire without its length prefix.
    pub data: Vec<u8>,
}

/// A proposal to send (by reference, [`InteropClient::propose`]) or to include by value in a
/// commit ([`InteropClient::commit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalSpec {
    /// Add the member whose `MLSMessage(KeyPackage)` encoding this is.
    Add(Vec<u8>),
    /// Remove the member at this leaf index.
    Remove(u32),
    /// Update the sender's own leaf (fresh HPKE key). Only by reference.
    Update,
    /// Inject the external PSK with this `psk_id` (both sides must have registered it with
    /// [`InteropClient::register_external_psk`]); the implementation picks the nonce.
    ExternalPsk(Vec<u8>),
    /// Replace the group context extensions with this list.
    GroupContextExtensions(Vec<RawExtension>),
    /// Reinitialise the group under a new group id, same version and cipher suite, no extensions.
    ReInit {
        /// `group_id` of the new group.
        group_id: Vec<u8>,
    },
}

/// What a commit produced: the `MLSMessage` encodings to distribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitOutput {
    /// The commit (a PublicMessage, or a PrivateMessage when handshake messages are encrypted).
    pub commit: Vec<u8>,
    /// The Welcome for added members, if any were added.
    pub welcome: Option<Vec<u8>>,
}

/// What processing an incoming message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// An application message.
    Application {
        /// Its plaintext.
        data: Vec<u8>,
        /// Its `authenticated_data` (sent in the clear, covered by the AEAD and the
        /// signature).
        authenticated_data: Vec<u8>,
    },
    /// A proposal, now cached for the next commit.
    Proposal,
    /// A commit, validated and applied: the client is at the new epoch (or was removed).
    Commit {
        /// Whether the commit removed this client from the group.
        removed_self: bool,
    },
}

/// One MLS client (one identity, one signature key) in at most one group, exchanging only
/// RFC 9420 wire bytes. Suite 1, basic credentials.
///
/// Conventions: an own commit becomes effective only after [`merge_pending_commit`]
/// (or is dropped by [`discard_pending_commit`]); a received commit is validated and applied by
/// [`process`]. Commits and proposals are sent as PublicMessage unless
/// [`set_handshake_encrypted`] says otherwise, application data as PrivateMessage. Welcomes and GroupInfos carry the `ratchet_tree` extension.
///
/// [`merge_pending_commit`]: InteropClient::merge_pending_commit
/// [`discard_pending_commit`]: InteropClient::discard_pending_commit
/// [`process`]: InteropClient::process
/// [`set_handshake_encrypted`]: InteropClient::set_handshake_encrypted
pub trait InteropClient {
    /// Short name of the implementation ("openmls", "mls-rs", ...).
    fn name(&self) -> &'static str;

    /// The basic credential's identity.
    fn identity(&self) -> &[u8];

    /// A fresh `MLSMessage(KeyPackage)`; the client keeps the private keys so it can be welcomed
    /// with it. May be called many times (many outstanding key packages).
    fn key_package(&mut self) -> Result<Vec<u8>>;

    /// Make an external PSK known to this client (before a commit that uses it is made or
    /// processed).
    fn register_external_psk(&mut self, psk_id: &[u8], secret: &[u8]) -> Result<()>;

    /// Create a one-member group with this id at epoch 0.
    fn create_group(&mut self, group_id: &[u8]) -> Result<()>;

    /// Whether this client's Welcomes carry the ratchet tree in the GroupInfo's `ratchet_tree`
    /// extension (the default) or leave it to be sent out of band
    /// ([`export_ratchet_tree`](InteropClient::export_ratchet_tree)). Applies to the current group.
    fn set_ratchet_tree_in_welcome(&mut self, in_welcome: bool) -> Result<()>;

    /// Whether the handshake messages this client sends in the current group (its commits and
    /// proposals; external commits stay PublicMessages, RFC 9420 §6) are PrivateMessages or, the
    /// default, PublicMessages. Incoming handshake messages are accepted in either form
    /// whatever this says.
    fn set_handshake_encrypted(&mut self, encrypted: bool) -> Result<()>;

    /// Join from an `MLSMessage(Welcome)`; `ratchet_tree` when the Welcome's GroupInfo has no
    /// `ratchet_tree` extension.
    fn join(&mut self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<()>;

    /// Join by external commit from an `MLSMessage(GroupInfo)` (with `external_pub`), the tree
    /// out of band if the GroupInfo has none. Returns the commit to send; the client is already at
    /// the new epoch (the commit is merged).
    fn external_join(&mut self, group_info: &[u8], ratchet_tree: Option<&[u8]>) -> Result<Vec<u8>>;

    /// Send a proposal by reference (a PublicMessage). The sender caches it too, so a later
    /// [`commit`](InteropClient::commit) by any member includes it.
    fn propose(&mut self, proposal: &ProposalSpec) -> Result<Vec<u8>>;

    /// The TLS encoding of this client's `ExternalSender` (its signature key and basic
    /// credential, RFC 9420 §12.1.8.1), for a group's `external_senders` extension
    /// ([`external_senders_extension`]).
    fn external_sender(&self) -> Result<Vec<u8>>;

    /// As the external sender at `sender_index` of the group's `external_senders` extension,
    /// without being a member (RFC 9420 §12.1.8): a proposal for the group and epoch of
    /// `group_info` (an `MLSMessage(GroupInfo)` carrying the tree, exported by a member), as a
    /// PublicMessage. Members process it like a member's proposal.
    fn propose_as_external_sender(
        &mut self,
        group_info: &[u8],
        sender_index: u32,
        proposal: &ProposalSpec,
    ) -> Result<Vec<u8>>;

    /// A non-member's proposal to add itself (sender `new_member_proposal`, RFC 9420 §12.1.8)
    /// to the group and epoch of `group_info`, with a fresh KeyPackage whose private keys the
    /// client keeps, so that it can [`join`](InteropClient::join) from the Welcome of the commit
    /// that covers it.
    fn propose_join(&mut self, group_info: &[u8]) -> Result<Vec<u8>>;

    /// After a commit covering a ReInit (merged or processed): a KeyPackage for the group the
    /// ReInit asks for (RFC 9420 §11.2), whose private keys the client keeps.
    fn reinit_key_package(&mut self) -> Result<Vec<u8>>;

    /// After a commit covering a ReInit: create the group it asks for (its group id, version,
    /// suite and extensions), adding the other members by their
    /// [`reinit_key_package`](InteropClient::reinit_key_package)s with a PreSharedKey of usage
    /// `reinit` for the old group's last epoch (RFC 9420 §11.2). The client is then in the
    /// new group, at epoch 1. Returns the `MLSMessage(Welcome)`.
    fn reinit_group(&mut self, key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>>;

    /// Join the group a ReInit started from the current one, by its Welcome (which names the
    /// old group's resumption PSK, usage `reinit`).
    fn join_reinit(&mut self, welcome: &[u8]) -> Result<()>;

    /// Branch (RFC 9420 §11.3): create a group with `group_id`, the current group's suite
    /// and extensions, adding members of the current group by fresh
    /// [`key_package`](InteropClient::key_package)s with a PreSharedKey of usage `branch` for
    /// the current epoch. The client is then in the new group, at epoch 1. Returns the
    /// `MLSMessage(Welcome)`.
    fn branch_group(&mut self, group_id: &[u8], key_packages: Vec<Vec<u8>>) -> Result<Vec<u8>>;

    /// Join a group branched from the current one, by its Welcome.
    fn join_branch(&mut self, welcome: &[u8]) -> Result<()>;

    /// Commit the cached proposals plus `proposals` by value. `force_path`: include an
    /// UpdatePath even when no proposal requires one (an empty commit always has one).
    fn commit(&mut self, proposals: Vec<ProposalSpec>, force_path: bool) -> Result<CommitOutput>;

    /// Make the pending own commit effective (after the delivery service accepted it).
    fn merge_pending_commit(&mut self) -> Result<()>;

    /// Drop the pending own commit; the client stays at its epoch.
    fn discard_pending_commit(&mut self) -> Result<()>;

    /// Process one incoming `MLSMessage` (proposal, commit or application message).
    fn process(&mut self, message: &[u8]) -> Result<Processed>;

    /// Encrypt application data as an `MLSMessage(PrivateMessage)` whose `authenticated_data`
    /// is `aad`.
    fn protect_with_aad(&mut self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>>;

    /// Encrypt application data as an `MLSMessage(PrivateMessage)`, no authenticated data.
    fn protect(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.protect_with_aad(data, &[])
    }

    /// Current epoch.
    fn epoch(&self) -> u64;

    /// This client's leaf index.
    fn own_leaf(&self) -> u32;

    /// Number of members.
    fn member_count(&self) -> usize;

    /// The epoch authenticator of the current epoch.
    fn epoch_authenticator(&self) -> Result<Vec<u8>>;

    /// The group context extensions of the current epoch.
    fn group_context_extensions(&self) -> Result<Vec<RawExtension>>;

    /// `MLS-Exporter(label, context, length)` of the current epoch.
    fn export_secret(&self, label: &str, context: &[u8], length: usize) -> Result<Vec<u8>>;

    /// A signed `MLSMessage(GroupInfo)` for the current epoch with the `external_pub` extension
    /// (so it can be used for an external commit), and the `ratchet_tree` extension if
    /// `with_tree`.
    fn export_group_info(&mut self, with_tree: bool) -> Result<Vec<u8>>;

    /// The TLS encoding of the current public ratchet tree.
    fn export_ratchet_tree(&self) -> Result<Vec<u8>>;

    /// Add members by their key packages in one commit without a forced path. The key
    /// packages are taken by value, so no implementation pays for a copy of them, and every
    /// implementation frees each one's bytes once it has decoded it.
    fn add_members(&mut self, key_packages: Vec<Vec<u8>>) -> Result<CommitOutput> {
        let proposals: Vec<_> = key_packages.into_iter().map(ProposalSpec::Add).collect();
        self.commit(proposals, false)
    }

    /// Remove the member at `leaf` in one commit (which has a path, as RFC 9420 requires).
    fn remove(&mut self, leaf: u32) -> Result<CommitOutput> {
        self.commit(vec![ProposalSpec::Remove(leaf)], false)
    }

    /// Decrypt an `MLSMessage(PrivateMessage)` carrying application data.
    fn unprotect(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        match self.process(message)? {
            Processed::Application { data, .. } => Ok(data),
            _ => Err(InteropError::State {
                peer: self.name(),
                operation: "unprotect",
                message: "the message was not an application message",
            }),
        }
    }
}

/// Which implementation a [`new_client`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// OpenMLS 0.9 with `openmls_rust_crypto`.
    OpenMls,
    /// mls-rs 0.57 with `mls-rs-crypto-awslc`.
    MlsRs,
    /// Our engine, `mls-engine`.
    Ours,
}

impl Peer {
    /// Every implementation: both peers and ours.
    pub const ALL: [Peer; 3] = [Peer::OpenMls, Peer::MlsRs, Peer::Ours];

    /// The other implementations (not ours).
    pub const PEERS: [Peer; 2] = [Peer::OpenMls, Peer::MlsRs];

    /// The [`InteropClient::name`] of its clients.
    pub fn name(self) -> &'static str {
        match self {
            Peer::OpenMls => openmls_peer::NAME,
            Peer::MlsRs => mls_rs_peer::NAME,
            Peer::Ours => ours::NAME,
        }
    }

    /// The RFC 9420 cipher suites its client here provides: OpenMLS's RustCrypto provider
    /// 1-3; mls-rs's aws-lc provider 1-3, 5 and 7 (AWS-LC has no X448 or Ed448); ours all
    /// seven.
    pub fn suites(self) -> &'static [u16] {
        match self {
            Peer::OpenMls => &[1, 2, 3],
            Peer::MlsRs => &[1, 2, 3, 5, 7],
            Peer::Ours => &[1, 2, 3, 4, 5, 6, 7],
        }
    }

    /// Parses "openmls", "mls-rs" or "mls-engine".
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A new client of `peer` with basic credential `identity`, in cipher suite 1 ([`SUITE`]).
pub fn new_client(peer: Peer, identity: &[u8]) -> Result<Box<dyn InteropClient>> {
    new_client_in_suite(peer, identity, SUITE)
}

/// A new client of `peer` with basic credential `identity`, in cipher suite `suite` (its
/// KeyPackages, the groups it creates, its signature key). An implementation that does not
/// provide the suite returns [`InteropError::Failed`] (see [`Peer::suites`]).
pub fn new_client_in_suite(
    peer: Peer,
    identity: &[u8],
    suite: u16,
) -> Result<Box<dyn InteropClient>> {
    Ok(match peer {
        Peer::OpenMls => Box::new(openmls_peer::OpenMlsClient::new_in_suite(identity, suite)?),
        Peer::MlsRs => Box::new(mls_rs_peer::MlsRsClient::new_in_suite(identity, suite)?),
        Peer::Ours => Box::new(ours::OursClient::new_in_suite(identity, suite)?),
    })
}

/// Splits the TLS encoding of one `Extension` (`uint16 extension_type; opaque
/// extension_data<V>`) into a [`RawExtension`]; `None` if malformed.
pub(crate) fn split_extension(bytes: &[u8]) -> Option<RawExtension> {
    let (ty, rest) = bytes.split_first_chunk::<2>()?;
    let (&first, _) = rest.split_first()?;
    // RFC 9420 variable-size length: 1, 2 or 4 bytes, the top two bits say which.
    let prefix = match first >> 6 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => return None,
    };
    let len_bytes = rest.get(..prefix)?;
    let mut len = u64::from(first & 0x3f);
    for &b in &len_bytes[1..] {
        len = (len << 8) | u64::from(b);
    }
    let data = rest.get(prefix..)?;
    (u64::try_from(data.len()).ok()? == len).then(|| RawExtension {
        extension_type: u16::from_be_bytes(*ty),
        data: data.to_vec(),
    })
}

/// Appends `data` as an RFC 9420 `opaque<V>` (section 2.1.2: its length as a variable-size
/// integer, then the bytes). Nothing here reaches 2^30 bytes.
fn put_opaque(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if let Ok(l @ 0..=0x3f) = u8::try_from(len) {
        out.push(l);
    } else if let Ok(l @ 0..=0x3fff) = u16::try_from(len) {
        out.extend_from_slice(&(l | 0x4000).to_be_bytes());
    } else {
        let l = u32::try_from(len).unwrap_or(u32::MAX) & 0x3fff_ffff;
        out.extend_from_slice(&(l | 0x8000_0000).to_be_bytes());
    }
    out.extend_from_slice(data);
}

/// The TLS encoding of one `Extension` from a [`RawExtension`] (inverse of [`split_extension`]).
pub(crate) fn join_extension(raw: &RawExtension) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.data.len() + 6);
    out.extend_from_slice(&raw.extension_type.to_be_bytes());
    put_opaque(&mut out, &raw.data);
    out
}

/// `extension_type` of `external_senders` (RFC 9420 §17.3).
pub const EXTERNAL_SENDERS_EXTENSION_TYPE: u16 = 5;

/// The TLS encoding of an `ExternalSender` with a basic credential (RFC 9420 §12.1.8.1,
/// §5.3): `signature_key<V>`, then `credential_type = basic (1)` and `identity<V>`.
pub(crate) fn external_sender_encoding(signature_key: &[u8], identity: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(signature_key.len() + identity.len() + 6);
    put_opaque(&mut out, signature_key);
    out.extend_from_slice(&1u16.to_be_bytes());
    put_opaque(&mut out, identity);
    out
}

/// The `external_senders` GroupContext extension listing these `ExternalSender` encodings
/// ([`InteropClient::external_sender`]), in order: the first is sender index 0.
pub fn external_senders_extension(senders: &[Vec<u8>]) -> RawExtension {
    let mut data = Vec::new();
    put_opaque(&mut data, &senders.concat());
    RawExtension {
        extension_type: EXTERNAL_SENDERS_EXTENSION_TYPE,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_encoding_round_trips() {
        for len in [0usize, 1, 63, 64, 16383, 16384, 70000] {
            let raw = RawExtension {
                extension_type: 0xff00,
                data: vec![7; len],
            };
            assert_eq!(split_extension(&join_extension(&raw)), Some(raw));
        }
        assert_eq!(split_extension(&[0xff, 0, 2, 1]), None);
    }
}
