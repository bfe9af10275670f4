//! KeyPackages (RFC 9420 §10): generation with their private keys, validation (§10.1), and
//! the LeafNode validation of §7.3 that Adds, Updates and commit paths share.
//!
//! This module also owns `MemberIndex`, the group's hash indexes of signature keys,
//! encryption keys and credential-type support, so a new leaf is checked in O(1) for
//! uniqueness and compatibility instead of a scan of all N members. The key indexes hold node
//! indices only (4 bytes a slot; the keys are read from the tree), hashed with a per-index
//! random SipHash key. The index is built once when a group is joined or loaded (O(N)) and
//! updated on every merge with only the nodes the commit touched (O(k log N)).
//!
//! Invariant: every index entry names a node holding the key *in the index's tree* (the
//! group's current tree, passed as `base` to lookups, which compare keys there); a lookup on
//! behalf of a staged tree confirms the entry against that tree as well, so stale entries
//! (keys the staged commit has already replaced) never cause false refusals.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use rayon::prelude::*;

use crate::codec::{encode, VarBytes, VarVec};
use crate::crypto::labels::{
    sign_with_label, verify_all_with_label, verify_with_label, LabelledSignature,
};
use crate::crypto::{CipherSuite, CipherSuiteProvider, Secret};
use crate::messages::{
    first_misplaced_in, repeated_extension_type, Capabilities, Credential, CredentialType,
    Extension, ExtensionContainer, ExtensionType, KeyPackage, LeafNode, LeafNodeSource,
    LeafNodeTbs, Lifetime, Node, ProtocolVersion, RequiredCapabilities,
};
use crate::tree::tree_validation::{
    leaf_tbs, misplaced_leaf_extension, supports_group_parameters, verify_leaf_signature, KeyTables,
};
use crate::tree::{LifetimePolicy, Tree};
use crate::tree_math::{LeafIndex, NodeIndex};

use super::error::{GroupError, KeyPackageError, LeafNodeError, MisuseError};

/// A KeyPackage with the private keys its owner keeps (RFC 9420 §10).
#[derive(Clone, Debug)]
pub struct KeyPackageBundle {
    /// The public KeyPackage to publish.
    pub key_package: KeyPackage,
    /// The private key of `init_key` (used once, to open a Welcome).
    pub init_private_key: Secret,
    /// The private key of the leaf's `encryption_key`.
    pub encryption_private_key: Secret,
    /// The private key of the leaf's `signature_key`.
    pub signature_private_key: Secret,
}

/// What to put into a new KeyPackage besides keys.
#[derive(Clone, Debug)]
pub struct KeyPackageOptions {
    /// The validity period (seconds since the Unix epoch).
    pub lifetime: Lifetime,
    /// The leaf's capabilities; `None` for this suite, MLS 1.0 and the credential's type.
    pub capabilities: Option<Capabilities>,
    /// Leaf node extensions.
    pub leaf_extensions: Vec<Extension>,
    /// KeyPackage extensions.
    pub extensions: Vec<Extension>,
}

impl KeyPackageOptions {
    /// Defaults with the given lifetime.
    pub fn new(not_before: u64, not_after: u64) -> Self {
        Self {
            lifetime: Lifetime {
                not_before,
                not_after,
            },
            capabilities: None,
            leaf_extensions: Vec::new(),
            extensions: Vec::new(),
        }
    }
}

/// The default capabilities for `cs` and `credential`.
pub fn default_capabilities(suite: CipherSuite, credential: &Credential) -> Capabilities {
    Capabilities {
        versions: VarVec(vec![ProtocolVersion::MLS10]),
        cipher_suites: VarVec(vec![suite]),
        extensions: VarVec::default(),
        proposals: VarVec::default(),
        credentials: VarVec(vec![credential.credential_type()]),
    }
}

/// Generates a KeyPackage (RFC 9420 §10): fresh init and leaf HPKE key pairs, a leaf node
/// with source `key_package` signed with `signature_private_key`, and the KeyPackage
/// signature.
pub fn generate_key_package(
    cs: &dyn CipherSuiteProvider,
    credential: Credential,
    signature_private_key: Secret,
    options: KeyPackageOptions,
) -> Result<KeyPackageBundle, GroupError> {
    // §13: no extension type twice in either list.
    for list in [&options.leaf_extensions, &options.extensions] {
        if repeated_extension_type(list.iter().map(|e| e.extension_type)).is_some() {
            return Err(MisuseError::InvalidArgument("an extension type given twice").into());
        }
    }
    // §17.3: only the extension types registered for each list.
    if first_misplaced_in(&options.extensions, ExtensionContainer::KeyPackage).is_some()
        || first_misplaced_in(&options.leaf_extensions, ExtensionContainer::LeafNode).is_some()
    {
        return Err(MisuseError::InvalidArgument(
            "an extension not allowed in a KeyPackage or LeafNode, or a malformed application_id",
        )
        .into());
    }
    let signature_key = cs.signature_public_key(&signature_private_key)?;
    let (init_private_key, init_key) = cs.kem_generate()?;
    let (encryption_private_key, encryption_key) = cs.kem_generate()?;
    // §7.2, §10: the non-default extension types of both lists are listed in the leaf's
    // capabilities. Default capabilities list them; given ones must.
    let mut carried: Vec<ExtensionType> = options
        .leaf_extensions
        .iter()
        .chain(&options.extensions)
        .map(|e| e.extension_type)
        .filter(|t| !t.is_default())
        .collect();
    carried.sort_unstable();
    carried.dedup();
    let capabilities = match options.capabilities {
        Some(c) if carried.iter().all(|t| c.extensions.0.contains(t)) => c,
        Some(_) => {
            return Err(MisuseError::InvalidArgument(
                "an extension whose type the capabilities do not list",
            )
            .into())
        }
        None => {
            let mut c = default_capabilities(cs.cipher_suite(), &credential);
            c.extensions = VarVec(carried);
            c
        }
    };
    let leaf = sign_leaf(
        cs,
        LeafNodeTbs {
            encryption_key,
            signature_key,
            credential,
            capabilities,
            leaf_node_source: LeafNodeSource::KeyPackage(options.lifetime),
            extensions: VarVec(options.leaf_extensions),
            tree_position: None,
        },
        &signature_private_key,
        &[],
        LeafIndex(0),
    )?;
    // §7.2: default proposal and extension types "MUST NOT be listed".
    if leaf.capabilities().lists_default_type() {
        return Err(MisuseError::InvalidArgument(
            "capabilities list a default proposal or extension type",
        )
        .into());
    }
    let mut key_package = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: cs.cipher_suite(),
        init_key,
        leaf_node: leaf,
        extensions: VarVec(options.extensions),
        signature: VarBytes::default(),
    };
    let tbs = encode(&key_package.to_be_signed())?;
    key_package.signature = VarBytes(sign_with_label(
        cs,
        &signature_private_key,
        "KeyPackageTBS",
        &tbs,
    )?);
    Ok(KeyPackageBundle {
        key_package,
        init_private_key,
        encryption_private_key,
        signature_private_key,
    })
}

/// Signs the leaf content `tbs` (`SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`, RFC 9420
/// §7.2) and returns the leaf. The group binding is set from `group_id` and `index` for
/// `update` and `commit` leaves and left out for `key_package` leaves.
pub fn sign_leaf(
    cs: &dyn CipherSuiteProvider,
    tbs: LeafNodeTbs,
    signer: &Secret,
    group_id: &[u8],
    index: LeafIndex,
) -> Result<LeafNode, GroupError> {
    Ok(crate::tree::tree_validation::sign_leaf_content(
        cs, tbs, signer, group_id, index,
    )?)
}

/// Who verifies the signatures of the KeyPackages a commit adds
/// ([`LeafCheck::validate_key_packages`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyPackageSignatures {
    /// The validation, in batches.
    Verify,
    /// The caller, beside the validation ([`LeafCheck::verify_key_package_signatures`] on
    /// another core); the rest of §10.1 is checked as if they were valid, and the caller
    /// validates again with `Verify` if they are not.
    VerifiedBeside,
}

/// Whether [`LeafCheck`] verifies a KeyPackage's signatures or they were already verified (in
/// a batch).
#[derive(Clone, Copy)]
enum Signatures {
    Verify,
    Verified,
}

/// Where a leaf node appears, which fixes its expected `leaf_node_source` (RFC 9420 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafRole {
    /// In a KeyPackage (Add, Welcome, external commit's Add-like insertion is `Commit`).
    KeyPackage,
    /// In an Update proposal from this leaf.
    Update(LeafIndex),
    /// In the UpdatePath of a commit from this leaf.
    Commit(LeafIndex),
}

/// What a leaf is checked against (RFC 9420 §7.3). The checks against the other members
/// (key uniqueness, credential support) need the resulting group and are made by the caller
/// with [`MemberIndex`] and a [`MembershipDelta`].
pub(crate) struct LeafCheck<'a> {
    pub(crate) cs: &'a dyn CipherSuiteProvider,
    pub(crate) group_id: &'a [u8],
    pub(crate) required: Option<&'a RequiredCapabilities>,
    pub(crate) lifetime: LifetimePolicy,
}

/// Extension types every client supports without listing them (§7.2).
impl LeafRole {
    /// The leaf index the leaf's signature binds (§7.2): none for a KeyPackage, whose TBS
    /// carries no position, so any index serves.
    fn position(self) -> LeafIndex {
        match self {
            LeafRole::KeyPackage => LeafIndex(0),
            LeafRole::Update(i) | LeafRole::Commit(i) => i,
        }
    }
}

impl LeafCheck<'_> {
    /// Validates a leaf node for its role (RFC 9420 §7.3), except key uniqueness and the
    /// credential support of the other members, which the caller checks against the
    /// resulting group ([`MemberIndex::check_credential_support`]).
    pub(crate) fn validate(&self, leaf: &LeafNode, role: LeafRole) -> Result<(), LeafNodeError> {
        self.validate_content(leaf, role)?;
        // §7.3: signature.
        match verify_leaf_signature(self.cs, leaf, self.group_id, role.position()) {
            Ok(true) => Ok(()),
            _ => Err(LeafNodeError::Signature),
        }
    }

    /// Every check of [`LeafCheck::validate`] but the signature, in the same order.
    fn validate_content(&self, leaf: &LeafNode, role: LeafRole) -> Result<(), LeafNodeError> {
        // §7.3: leaf_node_source matches where the leaf appears.
        let source_ok = matches!(
            (role, &leaf.leaf_node_source()),
            (LeafRole::KeyPackage, LeafNodeSource::KeyPackage(_))
                | (LeafRole::Update(_), LeafNodeSource::Update)
                | (LeafRole::Commit(_), LeafNodeSource::Commit(_))
        );
        if !source_ok {
            return Err(LeafNodeError::Source);
        }
        // §7.3: "compatible with the group's parameters": its capabilities list the group's
        // version and cipher suite.
        if !supports_group_parameters(leaf, self.cs.cipher_suite()) {
            return Err(LeafNodeError::Capabilities);
        }
        // An encryption key no one can encrypt to would make every later commit that must
        // encrypt to this leaf fail.
        if self.cs.kem_check_public_key(leaf.encryption_key()).is_err() {
            return Err(LeafNodeError::InvalidEncryptionKey);
        }
        // §7.3: lifetime, by policy.
        if let (LifetimePolicy::Check { now }, LeafNodeSource::KeyPackage(lt)) =
            (self.lifetime, &leaf.leaf_node_source())
        {
            if now < lt.not_before || now > lt.not_after {
                return Err(LeafNodeError::Lifetime {
                    not_before: lt.not_before,
                    not_after: lt.not_after,
                    now,
                });
            }
        }
        // §13: no extension type twice.
        if let Some(t) = repeated_extension_type(leaf.extensions().iter().map(|e| e.extension_type))
        {
            return Err(LeafNodeError::DuplicateExtension(t.0));
        }
        // §17.3: only the extensions registered for a LeafNode, and a readable
        // application_id.
        if let Some(t) = misplaced_leaf_extension(leaf) {
            return Err(LeafNodeError::MisplacedExtension(t.0));
        }
        // §7.2: default proposal and extension types "MUST NOT be listed".
        if leaf.capabilities().lists_default_type() {
            return Err(LeafNodeError::DefaultCapabilityListed);
        }
        // §7.3: extensions listed in capabilities.
        let extensions = leaf.extensions().iter().map(|e| e.extension_type);
        if let Some(t) = leaf
            .capabilities()
            .extensions
            .first_missing(extensions.filter(|t| !t.is_default()))
        {
            return Err(LeafNodeError::Extension(t.0));
        }
        // §7.3, §11.1: required capabilities.
        if let Some(rc) = self.required {
            if !leaf.capabilities().satisfies(rc) {
                return Err(LeafNodeError::RequiredCapabilities);
            }
        }
        // §7.3: the credential type is in the leaf's own capabilities (the other members'
        // support is checked against the resulting group by the caller).
        let ct = leaf.credential_type();
        if !leaf.capabilities().credentials.contains(&ct) {
            return Err(LeafNodeError::CredentialType(ct.0));
        }
        Ok(())
    }

    /// Validates a KeyPackage (RFC 9420 §10.1) for a group of `suite`.
    pub(crate) fn validate_key_package(
        &self,
        kp: &KeyPackage,
        suite: CipherSuite,
    ) -> Result<(), KeyPackageError> {
        self.check_key_package(kp, suite, Signatures::Verify)
    }

    /// Validates the KeyPackages of many Adds (§10.1) and returns one verdict each, in order;
    /// each verdict is the one [`LeafCheck::validate_key_package`] gives when the signatures
    /// are `KeyPackageSignatures::Verify` (with `VerifiedBeside`, the one it gives if they
    /// are valid). The 2k signatures are first verified in batches
    /// ([`LeafCheck::verify_key_package_signatures`]); only if some batch fails is each
    /// KeyPackage verified on its own.
    pub(crate) fn validate_key_packages(
        &self,
        kps: &[&KeyPackage],
        suite: CipherSuite,
        who: KeyPackageSignatures,
    ) -> Vec<Result<(), KeyPackageError>> {
        let signatures = match who {
            KeyPackageSignatures::VerifiedBeside => Signatures::Verified,
            KeyPackageSignatures::Verify if self.verify_key_package_signatures(kps) => {
                Signatures::Verified
            }
            KeyPackageSignatures::Verify => Signatures::Verify,
        };
        kps.par_iter()
            .map(|kp| self.check_key_package(kp, suite, signatures))
            .collect()
    }

    /// Whether every signature of `kps` (each KeyPackage's own and its LeafNode's) is valid,
    /// verified in batches over the pool ([`verify_all_with_label`]). `false` says only that
    /// some signature failed, not which.
    pub(crate) fn verify_key_package_signatures(&self, kps: &[&KeyPackage]) -> bool {
        // Item 2j is KeyPackage j's own signature, 2j + 1 its LeafNode's: one key signs both,
        // side by side, so the batch decodes it once.
        verify_all_with_label(self.cs, 2 * kps.len(), |k| {
            let kp = kps[k / 2];
            let leaf = &kp.leaf_node;
            Some(if k % 2 == 0 {
                LabelledSignature {
                    public_key: leaf.signature_key(),
                    label: "KeyPackageTBS",
                    content: encode(&kp.to_be_signed()).ok()?,
                    signature: &kp.signature,
                }
            } else {
                LabelledSignature {
                    public_key: leaf.signature_key(),
                    label: "LeafNodeTBS",
                    content: leaf_tbs(leaf, self.group_id, LeafRole::KeyPackage.position()).ok()?,
                    signature: leaf.signature(),
                }
            })
        })
    }

    /// The checks of §10.1 in order, the two signatures verified here or already verified.
    fn check_key_package(
        &self,
        kp: &KeyPackage,
        suite: CipherSuite,
        signatures: Signatures,
    ) -> Result<(), KeyPackageError> {
        if kp.version != ProtocolVersion::MLS10 || kp.cipher_suite != suite {
            return Err(KeyPackageError::SuiteOrVersion);
        }
        // §13: no extension type twice.
        if let Some(t) = repeated_extension_type(kp.extensions.iter().map(|e| e.extension_type)) {
            return Err(KeyPackageError::DuplicateExtension(t.0));
        }
        // §17.3: none of RFC 9420's own extension types belongs in a KeyPackage.
        if let Some(t) = first_misplaced_in(&kp.extensions, ExtensionContainer::KeyPackage) {
            return Err(KeyPackageError::MisplacedExtension(t.0));
        }
        // §10: "Extensions included in the `extensions` or `leaf_node.extensions` fields MUST
        // be included in the `leaf_node.capabilities` field" (the leaf's own are checked with
        // the leaf, §7.2). None of RFC 9420's default types can be here: they were refused
        // just above.
        if let Some(t) = kp
            .leaf_node
            .capabilities()
            .extensions
            .first_missing(kp.extensions.iter().map(|e| e.extension_type))
        {
            return Err(KeyPackageError::ExtensionNotInCapabilities(t.0));
        }
        // The init key must be one the Welcome can be encrypted to, or the commit adding it
        // fails.
        if self.cs.kem_check_public_key(&kp.init_key).is_err() {
            return Err(KeyPackageError::InvalidInitKey);
        }
        // §10.1: init_key and encryption_key must differ.
        if kp.init_key.as_slice() == kp.leaf_node.encryption_key() {
            return Err(KeyPackageError::InitKeyEqualsEncryptionKey);
        }
        match signatures {
            Signatures::Verify => {
                let tbs = encode(&kp.to_be_signed()).map_err(|_| KeyPackageError::Signature)?;
                verify_with_label(
                    self.cs,
                    kp.leaf_node.signature_key(),
                    "KeyPackageTBS",
                    &tbs,
                    &kp.signature,
                )
                .map_err(|_| KeyPackageError::Signature)?;
                self.validate(&kp.leaf_node, LeafRole::KeyPackage)
            }
            Signatures::Verified => self.validate_content(&kp.leaf_node, LeafRole::KeyPackage),
        }
        .map_err(KeyPackageError::LeafNode)
    }
}

/// Validates a KeyPackage on its own (RFC 9420 §10.1): version, suite, signature,
/// `init_key != encryption_key`, and its leaf node (source, lifetime by `lifetime`,
/// extensions, credential type in its capabilities, signature).
pub fn validate_key_package(
    cs: &dyn CipherSuiteProvider,
    kp: &KeyPackage,
    lifetime: LifetimePolicy,
) -> Result<(), KeyPackageError> {
    LeafCheck {
        cs,
        group_id: &[],
        required: None,
        lifetime,
    }
    .validate_key_package(kp, cs.cipher_suite())
}

/// Validates many KeyPackages on their own ([`validate_key_package`] for each, same verdicts,
/// in order), their signatures verified in batches over the rayon pool.
pub fn validate_key_packages(
    cs: &dyn CipherSuiteProvider,
    kps: &[&KeyPackage],
    lifetime: LifetimePolicy,
) -> Vec<Result<(), KeyPackageError>> {
    LeafCheck {
        cs,
        group_id: &[],
        required: None,
        lifetime,
    }
    .validate_key_packages(kps, cs.cipher_suite(), KeyPackageSignatures::Verify)
}

/// Hash indexes over the group's tree: who holds which signature and encryption key, and how
/// many members support / use each credential type. See the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemberIndex {
    /// Every non-blank node's index, found by its encryption key.
    enc: HashTable<u32>,
    /// Every member's leaf index, found by its signature key.
    sig: HashTable<u32>,
    /// The keyed hash of both tables (random per index).
    hasher: RandomState,
    members: u32,
    cred_support: HashMap<u16, u32>,
    cred_in_use: HashMap<u16, u32>,
}

fn node_enc_key(node: &Node) -> &[u8] {
    match node {
        Node::Leaf(l) => l.encryption_key(),
        Node::Parent(p) => p.encryption_key.0.as_slice(),
    }
}

/// The encryption key of node `n` of `tree`.
fn enc_key_at(tree: &Tree, n: u32) -> Option<&[u8]> {
    tree.node(NodeIndex(n)).map(node_enc_key)
}

/// The signature key of leaf `l` of `tree`.
fn sig_key_at(tree: &Tree, l: u32) -> Option<&[u8]> {
    tree.leaf(LeafIndex(l)).map(LeafNode::signature_key)
}

/// Inserts `value` for `key` into `table`, replacing the entry of an equal key (as a map's
/// insert does); `key_at` reads an entry's key from the tree the table indexes.
fn table_insert<'t>(
    table: &mut HashTable<u32>,
    hasher: &RandomState,
    key: &[u8],
    value: u32,
    key_at: impl Fn(u32) -> Option<&'t [u8]>,
) {
    let hash = |k: &[u8]| hasher.hash_one(k);
    match table.entry(
        hash(key),
        |&e| key_at(e) == Some(key),
        |&e| hash(key_at(e).unwrap_or_default()),
    ) {
        hashbrown::hash_table::Entry::Occupied(mut o) => *o.get_mut() = value,
        hashbrown::hash_table::Entry::Vacant(v) => {
            v.insert(value);
        }
    }
}

/// Removes the entry `value` of `key` from `table`, if it is there (another node's entry
/// for an equal key stays).
fn table_remove(table: &mut HashTable<u32>, hasher: &RandomState, key: &[u8], value: u32) {
    if let Ok(o) = table.find_entry(hasher.hash_one(key), |&e| e == value) {
        o.remove();
    }
}

/// The entry of `key` in `table`, comparing keys in the indexed tree with `key_at`.
fn table_find<'t>(
    table: &HashTable<u32>,
    hasher: &RandomState,
    key: &[u8],
    key_at: impl Fn(u32) -> Option<&'t [u8]>,
) -> Option<u32> {
    table
        .find(hasher.hash_one(key), |&e| key_at(e) == Some(key))
        .copied()
}

impl MemberIndex {
    /// Indexes a whole tree (O(N)); used when joining or loading a group.
    pub(crate) fn build(tree: &Tree) -> Self {
        let mut index = MemberIndex::default();
        // Sized once for what it will hold (members' keys, and every non-blank node's
        // encryption key), not grown by rehashing.
        let width = tree.size().node_width();
        let members = tree.member_count() as usize;
        let nodes = (0..width).filter(|&i| !tree.is_blank(NodeIndex(i))).count();
        index.sig = HashTable::with_capacity(members);
        index.enc = HashTable::with_capacity(nodes);
        for i in 0..width {
            index.insert_node(tree, NodeIndex(i));
        }
        index
    }

    /// Indexes a tree that [`validate_tree_keyed`](crate::tree::tree_validation) validated,
    /// keeping the key tables its uniqueness check built (the same tables [`Self::build`]
    /// would build, the keys being unique); only the credential counts are added, O(N).
    pub(crate) fn from_validated(tree: &Tree, keys: KeyTables) -> Self {
        let KeyTables { sig, enc, hasher } = keys;
        let mut index = MemberIndex {
            enc,
            sig,
            hasher,
            ..MemberIndex::default()
        };
        for (_, l) in tree.leaves() {
            index.count_member(l);
        }
        index
    }

    fn insert_node(&mut self, tree: &Tree, n: NodeIndex) {
        let Some(node) = tree.node(n) else { return };
        table_insert(&mut self.enc, &self.hasher, node_enc_key(node), n.0, |e| {
            enc_key_at(tree, e)
        });
        if let Node::Leaf(l) = node {
            table_insert(
                &mut self.sig,
                &self.hasher,
                l.signature_key(),
                n.0 / 2,
                |e| sig_key_at(tree, e),
            );
            self.count_member(l);
        }
    }

    /// Counts a member and its credential types.
    fn count_member(&mut self, l: &LeafNode) {
        self.members += 1;
        let support = &mut self.cred_support;
        l.capabilities()
            .credentials
            .for_each_distinct(|ct| *support.entry(ct.0).or_default() += 1);
        *self.cred_in_use.entry(l.credential_type().0).or_default() += 1;
    }

    fn remove_node(&mut self, tree: &Tree, n: NodeIndex) {
        let Some(node) = tree.node(n) else { return };
        table_remove(&mut self.enc, &self.hasher, node_enc_key(node), n.0);
        if let Node::Leaf(l) = node {
            table_remove(&mut self.sig, &self.hasher, l.signature_key(), n.0 / 2);
            self.members = self.members.saturating_sub(1);
            let support = &mut self.cred_support;
            l.capabilities().credentials.for_each_distinct(|ct| {
                if let Some(c) = support.get_mut(&ct.0) {
                    *c = c.saturating_sub(1);
                }
            });
            if let Some(c) = self.cred_in_use.get_mut(&l.credential_type().0) {
                *c = c.saturating_sub(1);
            }
        }
    }

    /// Moves the index from `old` to `new` for the nodes a commit touched (O(k)). Every
    /// touched node's entries are removed (keys read in `old`) before any is inserted (keys
    /// read in `new`): when a table grows, it rehashes its entries with their keys in `new`,
    /// which are the keys they were inserted under.
    pub(crate) fn apply(&mut self, old: &Tree, new: &Tree, touched: &[NodeIndex]) {
        let mut seen = std::collections::HashSet::new();
        for &n in touched {
            if seen.insert(n.0) {
                self.remove_node(old, n);
            }
        }
        for &n in touched {
            if seen.remove(&n.0) {
                self.insert_node(new, n);
            }
        }
    }

    /// The leaf holding signature key `key` in `base` (the tree indexed) and still in `tree`
    /// (a staged tree, or `base` itself), if any.
    pub(crate) fn sig_holder(&self, base: &Tree, tree: &Tree, key: &[u8]) -> Option<LeafIndex> {
        let l = table_find(&self.sig, &self.hasher, key, |e| sig_key_at(base, e))?;
        (sig_key_at(tree, l)? == key).then_some(LeafIndex(l))
    }

    /// The node holding encryption key `key` in `base` (the tree indexed) and still in
    /// `tree` (a staged tree, or `base` itself), if any.
    pub(crate) fn enc_holder(&self, base: &Tree, tree: &Tree, key: &[u8]) -> Option<NodeIndex> {
        let n = table_find(&self.enc, &self.hasher, key, |e| enc_key_at(base, e))?;
        (enc_key_at(tree, n)? == key).then_some(NodeIndex(n))
    }

    /// RFC 9420 §7.3, §12.2: in the group that results from a commit (the indexed group
    /// changed by `delta`), every *other* member supports `leaf`'s credential type, and `leaf`
    /// supports every credential type in use by another member. `leaf_in_delta` says whether
    /// `leaf` is itself among `delta`'s joining leaves (then it is discounted). Members being
    /// removed (or replaced) by the commit are in `delta` as leaving and do not count.
    /// O(number of credential types).
    pub(crate) fn check_credential_support(
        &self,
        leaf: &LeafNode,
        delta: &MembershipDelta,
        leaf_in_delta: bool,
    ) -> Result<(), LeafNodeError> {
        let own = i64::from(leaf_in_delta);
        let ct = leaf.credential_type();
        let count = |map: &HashMap<u16, u32>, dmap: &HashMap<u16, i64>, t: u16| {
            i64::from(map.get(&t).copied().unwrap_or(0)) + dmap.get(&t).copied().unwrap_or(0)
        };
        let lists =
            |l: &LeafNode, t: u16| l.capabilities().credentials.contains(&CredentialType(t));
        let others = i64::from(self.members) + delta.members - own;
        let supporting =
            count(&self.cred_support, &delta.support, ct.0) - own * i64::from(lists(leaf, ct.0));
        if others > supporting {
            return Err(LeafNodeError::CredentialType(ct.0));
        }
        // Every type another member uses is in the leaf's list (searched so that a long list
        // against many types in use costs O((k + t) log k), see `CodeList::first_missing`).
        let in_use = self
            .cred_in_use
            .keys()
            .chain(delta.in_use.keys())
            .copied()
            .filter(|&t| {
                count(&self.cred_in_use, &delta.in_use, t) - own * i64::from(ct.0 == t) > 0
            })
            .map(CredentialType);
        match leaf.capabilities().credentials.first_missing(in_use) {
            Some(t) => Err(LeafNodeError::CredentialType(t.0)),
            None => Ok(()),
        }
    }
}

/// How a commit changes the indexed group's membership, for the credential checks of
/// RFC 9420 §7.3 against the *resulting* group: leaves leaving (removed, or replaced by an
/// Update or a commit path) and joining (added, or the replacing leaves). O(k) to build for
/// a commit of k proposals.
#[derive(Clone, Debug, Default)]
pub(crate) struct MembershipDelta {
    members: i64,
    support: HashMap<u16, i64>,
    in_use: HashMap<u16, i64>,
}

impl MembershipDelta {
    /// `leaf` leaves the group (removed, or replaced).
    pub(crate) fn leave(&mut self, leaf: &LeafNode) {
        self.count(leaf, -1);
    }

    /// `leaf` joins the group (added, or replacing a leaf).
    pub(crate) fn join(&mut self, leaf: &LeafNode) {
        self.count(leaf, 1);
    }

    fn count(&mut self, leaf: &LeafNode, d: i64) {
        self.members += d;
        // Each distinct type once, as `MemberIndex` counts it.
        let support = &mut self.support;
        leaf.capabilities()
            .credentials
            .for_each_distinct(|ct| *support.entry(ct.0).or_default() += d);
        *self.in_use.entry(leaf.credential_type().0).or_default() += d;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bundle, commit_with_path, cs, group};
    use super::*;

    fn resign(cs: &dyn CipherSuiteProvider, kp: &mut KeyPackage, sk: &Secret) {
        let content = kp.leaf_node.to_be_signed(None).unwrap();
        kp.leaf_node = sign_leaf(cs, content, sk, &[], LeafIndex(0)).unwrap();
        let tbs = encode(&kp.to_be_signed()).unwrap();
        kp.signature = VarBytes(sign_with_label(cs, sk, "KeyPackageTBS", &tbs).unwrap());
    }

    #[test]
    fn valid_key_package() {
        let cs = cs();
        let b = bundle(cs, "a");
        validate_key_package(cs, &b.key_package, LifetimePolicy::Check { now: 5 }).unwrap();
    }

    /// §10.1: init_key must differ from the leaf's encryption_key (checked before the
    /// signature, so a correctly re-signed package is still refused).
    #[test]
    fn init_key_equals_encryption_key() {
        let cs = cs();
        let b = bundle(cs, "a");
        let mut kp = b.key_package;
        kp.init_key = kp.leaf_node.encryption_key().into();
        resign(cs, &mut kp, &b.signature_private_key);
        assert_eq!(
            validate_key_package(cs, &kp, LifetimePolicy::Ignore),
            Err(KeyPackageError::InitKeyEqualsEncryptionKey)
        );
    }

    /// §7.3: the lifetime is checked when the policy says so, and only then.
    #[test]
    fn lifetime_policy() {
        let cs = cs();
        let (sk, _) = cs.signature_generate().unwrap();
        let kp = generate_key_package(
            cs,
            Credential::basic("a"),
            sk,
            KeyPackageOptions::new(100, 200),
        )
        .unwrap()
        .key_package;
        let at = |now| validate_key_package(cs, &kp, LifetimePolicy::Check { now });
        at(100).unwrap();
        at(200).unwrap();
        for now in [0, 99, 201, u64::MAX] {
            assert_eq!(
                at(now),
                Err(KeyPackageError::LeafNode(LeafNodeError::Lifetime {
                    not_before: 100,
                    not_after: 200,
                    now
                }))
            );
        }
        validate_key_package(cs, &kp, LifetimePolicy::Ignore).unwrap();
    }

    #[test]
    fn signature_suite_and_source() {
        let cs = cs();
        let b = bundle(cs, "a");
        // An extension added (its type listed in the leaf's capabilities, the leaf signed
        // again) changes what the KeyPackage's signature covers; so does a flipped byte of the
        // signature itself.
        let mut kp = b.key_package.clone();
        kp.extensions.push(Extension {
            extension_type: crate::messages::ExtensionType(0x0a0a),
            extension_data: VarBytes(vec![1]),
        });
        let mut tbs = kp.leaf_node.to_be_signed(None).unwrap();
        tbs.capabilities
            .extensions
            .0
            .push(crate::messages::ExtensionType(0x0a0a));
        kp.leaf_node = sign_leaf(cs, tbs, &b.signature_private_key, &[], LeafIndex(0)).unwrap();
        assert_eq!(
            validate_key_package(cs, &kp, LifetimePolicy::Ignore),
            Err(KeyPackageError::Signature)
        );
        let mut kp = b.key_package.clone();
        kp.signature.0[0] ^= 1;
        assert_eq!(
            validate_key_package(cs, &kp, LifetimePolicy::Ignore),
            Err(KeyPackageError::Signature)
        );
        let mut kp = b.key_package.clone();
        kp.cipher_suite = CipherSuite(2);
        assert_eq!(
            validate_key_package(cs, &kp, LifetimePolicy::Ignore),
            Err(KeyPackageError::SuiteOrVersion)
        );
        let mut kp = b.key_package.clone();
        kp.leaf_node = kp
            .leaf_node
            .edited(|t| t.leaf_node_source = LeafNodeSource::Update);
        resign(cs, &mut kp, &b.signature_private_key);
        assert_eq!(
            validate_key_package(cs, &kp, LifetimePolicy::Ignore),
            Err(KeyPackageError::LeafNode(LeafNodeError::Source))
        );
    }

    /// The index kept by merges equals a fresh build after every commit: each member's
    /// signature key and each non-blank node's encryption key is found where it is, and there
    /// is no other entry. The commits grow the tables (rehashing during a merge), remove
    /// members, and replace the committer's path keys.
    #[test]
    fn index_follows_merges() {
        use crate::group::Group;
        use crate::messages::{Add, Proposal, Remove};
        let cs = cs();
        let mut g = group(cs, 1);
        let check = |g: &Group| {
            let fresh = MemberIndex::build(&g.tree);
            let mut non_blank = 0;
            for i in 0..g.tree.size().node_width() {
                let n = NodeIndex(i);
                let Some(node) = g.tree.node(n) else { continue };
                non_blank += 1;
                let key = node_enc_key(node);
                assert_eq!(g.index.enc_holder(&g.tree, &g.tree, key), Some(n));
                if let Node::Leaf(l) = node {
                    let leaf = LeafIndex(i / 2);
                    let key = l.signature_key();
                    assert_eq!(g.index.sig_holder(&g.tree, &g.tree, key), Some(leaf));
                }
            }
            assert_eq!(g.index.enc.len(), non_blank);
            assert_eq!(g.index.sig.len(), g.tree.member_count() as usize);
            assert_eq!(
                (fresh.enc.len(), fresh.sig.len()),
                (g.index.enc.len(), g.index.sig.len())
            );
            assert_eq!(fresh.members, g.index.members);
        };
        let mut gone = Vec::new();
        let rounds: [(std::ops::Range<usize>, &[u32]); 4] = [
            (0..3, &[]),
            (3..40, &[2]),
            (40..41, &[5, 6, 30]),
            (41..120, &[1, 7]),
        ];
        for (added, removed) in rounds {
            let mut proposals: Vec<Proposal> = removed
                .iter()
                .map(|&r| Proposal::Remove(Remove { removed: r }))
                .collect();
            for &r in removed {
                let leaf = g.tree.leaf(LeafIndex(r)).unwrap();
                gone.push(leaf.signature_key().to_vec());
                gone.push(leaf.encryption_key().to_vec());
            }
            proposals.extend(added.map(|i| {
                Proposal::Add(Add {
                    key_package: bundle(cs, &format!("m{i}")).key_package,
                })
            }));
            commit_with_path(cs, &mut g, proposals);
            check(&g);
            for key in &gone {
                assert_eq!(g.index.sig_holder(&g.tree, &g.tree, key), None);
                assert_eq!(g.index.enc_holder(&g.tree, &g.tree, key), None);
            }
        }
    }

    /// Suite 7 keys (P-384, 97 bytes) are identified by hash in the index: holders are found
    /// for equal keys only, Adds reusing a member's signature or encryption key are refused
    /// (also after a member with a key sharing all but the last byte joined), and merging a
    /// Remove drops the member's entries.
    /// `-P` for an uncompressed P-384 point `P`: `(x, p - y)`.
    fn negated_p384_point(point: &[u8]) -> Vec<u8> {
        const P: [u8; 48] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
        ];
        let mut out = point.to_vec();
        let mut borrow = 0i16;
        for k in (0..48).rev() {
            let d = i16::from(P[k]) - i16::from(point[49 + k]) - borrow;
            borrow = i16::from(d < 0);
            out[49 + k] = u8::try_from(d.rem_euclid(256)).unwrap();
        }
        out
    }

    #[test]
    fn long_keys_in_the_group_index() {
        use crate::crypto::{AwsLcProvider, CryptoProvider};
        use crate::group::{CommitOptions, Group, GroupConfig, ProposalRule, ProtocolError};
        use crate::messages::{Add, Proposal, Remove};
        let p: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
        let cs = p.suite(CipherSuite(7)).unwrap();
        let alice = bundle(cs, "alice");
        let bob = bundle(cs, "bob");
        let mut g = Group::create(
            cs,
            &alice,
            b"g".to_vec(),
            vec![],
            GroupConfig::default().at_time(1_000),
        )
        .unwrap();
        let commit = |g: &Group, proposals: Vec<Proposal>| {
            g.commit(
                cs,
                CommitOptions {
                    proposals,
                    ..CommitOptions::default()
                },
            )
        };
        let add = |kp: &KeyPackage| {
            Proposal::Add(Add {
                key_package: kp.clone(),
            })
        };
        let out = commit(&g, vec![add(&bob.key_package)]).unwrap();
        g.merge_staged_commit(out.staged).unwrap();

        let bob_sig = bob.key_package.leaf_node.signature_key();
        let bob_enc = bob.key_package.leaf_node.encryption_key();
        assert_eq!((bob_sig.len(), bob_enc.len()), (97, 97));
        assert_eq!(
            g.index.sig_holder(&g.tree, &g.tree, bob_sig),
            Some(LeafIndex(1))
        );
        assert_eq!(
            g.index.enc_holder(&g.tree, &g.tree, bob_enc),
            Some(NodeIndex(2))
        );
        for key in [bob_sig, bob_enc] {
            let mut near = key.to_vec();
            if let Some(b) = near.last_mut() {
                *b ^= 1;
            }
            assert_eq!(g.index.sig_holder(&g.tree, &g.tree, &near), None);
            assert_eq!(g.index.enc_holder(&g.tree, &g.tree, &near), None);
            assert_eq!(g.index.sig_holder(&g.tree, &g.tree, &key[..32]), None);
            assert_eq!(g.index.enc_holder(&g.tree, &g.tree, &key[..32]), None);
        }

        let rule = |r: Result<_, GroupError>| match r {
            Err(GroupError::Protocol(ProtocolError::Proposal { rule, .. })) => rule,
            other => panic!("expected a proposal rule, got {other:?}"),
        };
        // A second client of Bob's, with his signature key (R6).
        let bob2 = generate_key_package(
            cs,
            Credential::basic("bob 2"),
            bob.signature_private_key.clone(),
            KeyPackageOptions::new(0, u64::MAX),
        )
        .unwrap();
        assert_eq!(
            rule(commit(&g, vec![add(&bob2.key_package)])),
            ProposalRule::AddExistingMember {
                existing: LeafIndex(1)
            }
        );
        // A KeyPackage validly signed over Bob's encryption key (R12).
        let carol = bundle(cs, "carol");
        let mut kp = carol.key_package.clone();
        kp.leaf_node = kp.leaf_node.edited(|t| t.encryption_key = bob_enc.into());
        resign(cs, &mut kp, &carol.signature_private_key);
        assert_eq!(
            rule(commit(&g, vec![add(&kp)])),
            ProposalRule::InvalidTreeAfterCommit {
                leaf: LeafIndex(2),
                error: LeafNodeError::DuplicateEncryptionKey(NodeIndex(2)),
            }
        );
        // Carol with Bob's key negated (a valid point with the same x: the first 49 of the 97
        // bytes equal) joins, and does not displace Bob's entry: his key is still refused.
        let near = negated_p384_point(bob_enc);
        assert_eq!(near[..49], bob_enc[..49]);
        let mut carol_kp = carol.key_package.clone();
        carol_kp.leaf_node = carol_kp
            .leaf_node
            .edited(|t| t.encryption_key = near.as_slice().into());
        resign(cs, &mut carol_kp, &carol.signature_private_key);
        let out = commit(&g, vec![add(&carol_kp)]).unwrap();
        g.merge_staged_commit(out.staged).unwrap();
        assert_eq!(
            g.index.enc_holder(&g.tree, &g.tree, &near),
            Some(NodeIndex(4))
        );
        assert_eq!(
            g.index.enc_holder(&g.tree, &g.tree, bob_enc),
            Some(NodeIndex(2))
        );
        let dave = bundle(cs, "dave");
        let mut dave_kp = dave.key_package.clone();
        dave_kp.leaf_node = dave_kp
            .leaf_node
            .edited(|t| t.encryption_key = bob_enc.into());
        resign(cs, &mut dave_kp, &dave.signature_private_key);
        assert_eq!(
            rule(commit(&g, vec![add(&dave_kp)])),
            ProposalRule::InvalidTreeAfterCommit {
                leaf: LeafIndex(3),
                error: LeafNodeError::DuplicateEncryptionKey(NodeIndex(2)),
            }
        );

        // Once Bob and Carol are removed, their keys leave the index.
        let out = commit(
            &g,
            vec![
                Proposal::Remove(Remove { removed: 1 }),
                Proposal::Remove(Remove { removed: 2 }),
            ],
        )
        .unwrap();
        g.merge_staged_commit(out.staged).unwrap();
        for key in [bob_sig, bob_enc, &near, carol_kp.leaf_node.signature_key()] {
            assert_eq!(g.index.sig_holder(&g.tree, &g.tree, key), None);
            assert_eq!(g.index.enc_holder(&g.tree, &g.tree, key), None);
        }
        // No stale entry: one per member and one per non-blank node.
        let non_blank = (0..g.tree.size().node_width())
            .filter(|&i| !g.tree.is_blank(NodeIndex(i)))
            .count();
        assert_eq!(g.index.sig.len(), g.tree.member_count() as usize);
        assert_eq!(g.index.enc.len(), non_blank);
        commit(&g, vec![add(&bob2.key_package), add(&dave_kp)]).unwrap();
    }

    /// A joiner's index, kept from its tree validation's key tables, answers every lookup as
    /// an index built from the tree does.
    #[test]
    fn index_from_validation_is_the_built_index() {
        use crate::tree::tree_validation::validate_tree_keyed;
        use crate::tree::TreeValidationParams;
        let cs = cs();
        let mut g = group(cs, 9);
        commit_with_path(cs, &mut g, vec![]);
        let mut tree = g.tree.clone();
        let params = TreeValidationParams::new(g.group_id(), 0);
        let keys = validate_tree_keyed(&mut tree, cs, &params).unwrap();
        let kept = MemberIndex::from_validated(&tree, keys);
        let built = MemberIndex::build(&tree);
        assert_eq!(kept.sig.len(), built.sig.len());
        assert_eq!(kept.enc.len(), built.enc.len());
        assert_eq!(kept.members, built.members);
        assert_eq!(kept.members, tree.member_count());
        assert_eq!(kept.cred_support, built.cred_support);
        assert_eq!(kept.cred_in_use, built.cred_in_use);
        let mut nodes = 0;
        for i in 0..tree.size().node_width() {
            let n = NodeIndex(i);
            let Some(node) = tree.node(n) else { continue };
            nodes += 1;
            assert_eq!(kept.enc_holder(&tree, &tree, node_enc_key(node)), Some(n));
            if let Node::Leaf(l) = node {
                assert_eq!(
                    kept.sig_holder(&tree, &tree, l.signature_key()),
                    Some(LeafIndex(i / 2))
                );
            }
        }
        assert!(nodes > 9, "the fixture has parents as well as leaves");
        assert_eq!(kept.enc.len(), nodes);
        assert_eq!(kept.sig_holder(&tree, &tree, &[7u8; 32]), None);
    }

    /// §7.3 against the resulting group: a member lacking support for a new leaf's
    /// credential type counts only while it stays.
    #[test]
    fn credential_support_with_delta() {
        let cs = cs();
        let odd = CredentialType(0x0a0a);
        let basic_only = bundle(cs, "b").key_package.leaf_node;
        let both = bundle(cs, "c")
            .key_package
            .leaf_node
            .edited(|t| t.capabilities.credentials.push(odd));
        let tree = Tree::new(cs, basic_only.clone()).unwrap();
        let index = MemberIndex::build(&tree);
        let newcomer = both.edited(|t| {
            t.credential = Credential::Unknown {
                credential_type: odd,
                data: VarBytes(b"n".to_vec()),
            }
        });
        let none = MembershipDelta::default();
        assert_eq!(
            index.check_credential_support(&newcomer, &none, false),
            Err(LeafNodeError::CredentialType(0x0a0a))
        );
        let mut leaving = MembershipDelta::default();
        leaving.leave(&basic_only);
        index
            .check_credential_support(&newcomer, &leaving, false)
            .unwrap();
        // The newcomer counted in the delta is discounted from its own check.
        leaving.join(&newcomer);
        index
            .check_credential_support(&newcomer, &leaving, true)
            .unwrap();
        // A member whose capabilities lack a type in use is refused.
        let basic_leaf_of_odd_group =
            basic_only.edited(|t| t.capabilities.credentials = VarVec(vec![CredentialType(1)]));
        assert_eq!(
            index.check_credential_support(&basic_leaf_of_odd_group, &leaving, false),
            Err(LeafNodeError::CredentialType(0x0a0a))
        );
    }

    /// A leaf that lists a credential type twice supports it once: it must not stand in for
    /// a member that does not support it, whether it is indexed or joining in the delta.
    #[test]
    fn a_type_listed_twice_counts_once() {
        let cs = cs();
        let odd = CredentialType(0x0a0a);
        let basic_only = bundle(cs, "b").key_package.leaf_node;
        let lists_odd_twice = bundle(cs, "c").key_package.leaf_node.edited(|t| {
            t.capabilities.credentials.push(odd);
            t.capabilities.credentials.push(odd);
        });
        let newcomer = lists_odd_twice.edited(|t| {
            t.credential = Credential::Unknown {
                credential_type: odd,
                data: VarBytes(b"n".to_vec()),
            }
        });
        // Indexed: the one member lists `odd` twice; the other, joining in the delta, lacks
        // it. Two members, one supporting it: the newcomer is refused.
        let index = MemberIndex::build(&Tree::new(cs, lists_odd_twice.clone()).unwrap());
        assert_eq!(index.cred_support.get(&odd.0), Some(&1));
        let mut delta = MembershipDelta::default();
        delta.join(&basic_only);
        assert_eq!(
            index.check_credential_support(&newcomer, &delta, false),
            Err(LeafNodeError::CredentialType(0x0a0a))
        );
        // The same with the roles swapped: the delta's member lists it twice.
        let index = MemberIndex::build(&Tree::new(cs, basic_only.clone()).unwrap());
        let mut delta = MembershipDelta::default();
        delta.join(&lists_odd_twice);
        assert_eq!(delta.support.get(&odd.0), Some(&1));
        assert_eq!(
            index.check_credential_support(&newcomer, &delta, false),
            Err(LeafNodeError::CredentialType(0x0a0a))
        );
        // Leaving takes away what joining counted, once.
        delta.leave(&lists_odd_twice);
        assert_eq!(delta.support.get(&odd.0), Some(&0));
    }
}
