//! TreeKEM (RFC 9420 §7.4-§7.6): creating an UpdatePath for a commit and applying a received
//! one.
//!
//! Creating is two steps around the caller's computation of the provisional GroupContext
//! (which needs the tree hash after the path is merged):
//! 1. [`Tree::generate_update_path`] blanks the committer's direct path, derives a fresh leaf
//!    secret and the path secrets up the filtered direct path, sets the derived public keys,
//!    computes the parent hashes root-first (§7.9) and signs the new `commit` leaf with them;
//! 2. [`PendingUpdatePath::encrypt`] encrypts each path secret with
//!    `EncryptWithLabel(., "UpdatePathNode", group_context, .)` to every node of the copath
//!    child's resolution, new members excluded (§7.6). The HPKE `info` is prepared once, and
//!    all the seals run in parallel (rayon); the output order is the sequential one.
//!
//! Applying is also two steps:
//! 1. [`Tree::merge_update_path`] checks the new leaf (source `commit`, signature) and that
//!    every sent public key can be encrypted to, blanks the
//!    sender's direct path, sets the sent public keys with empty `unmerged_leaves`, recomputes
//!    the parent hashes and checks the leaf's `parent_hash` (§7.5, §7.9.2);
//! 2. [`Tree::decrypt_update_path`] finds the one ciphertext for the receiver (at the lowest
//!    common ancestor, to the resolution node it holds a key for), decrypts it, derives the
//!    rest of the path, checks every derived public key equals the one sent, and returns the
//!    private keys and the `commit_secret`.
//!
//! All of this runs on a staged tree ([`Tree::stage`]); on error the staged tree is dropped.

use rayon::prelude::*;

use crate::codec::{VarBytes, VarVec};
use crate::crypto::{CipherSuiteProvider, HpkeCiphertext, HpkePublicKey, Secret};
use crate::messages::{
    EncryptedPathSecrets, LeafNode, LeafNodeSource, Node, ParentNode, UpdatePath, UpdatePathNode,
};
use crate::tree_math::{LeafIndex, NodeIndex};

use super::error::TreeError;
use super::ratchet_tree::Tree;
use super::tree_validation::{sign_leaf_content, verify_leaf_signature};
use crate::crypto::labels::{
    decrypt_with_label, derive_secret, encrypt_with_label_prepared, prepare_encrypt_with_label,
};

const LABEL: &str = "UpdatePathNode";

/// The private keys a member holds: its leaf's and those of parents on its direct path.
#[derive(Debug, Clone)]
pub struct PathPrivateKeys {
    /// The member's leaf.
    pub leaf: LeafIndex,
    keys: Vec<(NodeIndex, Secret)>,
}

impl PathPrivateKeys {
    /// Keys for `leaf`, starting with the leaf's own HPKE private key.
    pub fn new(leaf: LeafIndex, leaf_key: Secret) -> Self {
        Self {
            leaf,
            keys: vec![(leaf.node(), leaf_key)],
        }
    }

    /// Adds or replaces the private key of `node`.
    pub fn insert(&mut self, node: NodeIndex, key: Secret) {
        match self.keys.iter_mut().find(|(n, _)| *n == node) {
            Some(slot) => slot.1 = key,
            None => self.keys.push((node, key)),
        }
    }

    /// The private key of `node`, if held.
    pub fn get(&self, node: NodeIndex) -> Option<&Secret> {
        self.keys.iter().find(|(n, _)| *n == node).map(|(_, k)| k)
    }
}

/// Path key material derived from a path secret (§7.4).
fn node_key_pair(
    cs: &dyn CipherSuiteProvider,
    path_secret: &Secret,
) -> Result<(Secret, HpkePublicKey), TreeError> {
    let node_secret = derive_secret(cs, path_secret.as_bytes(), "node")?;
    Ok(cs.kem_derive(node_secret.as_bytes())?)
}

fn next_path_secret(cs: &dyn CipherSuiteProvider, ps: &Secret) -> Result<Secret, TreeError> {
    Ok(derive_secret(cs, ps.as_bytes(), "path")?)
}

fn node_public_key(node: &Node) -> &[u8] {
    match node {
        Node::Leaf(l) => l.encryption_key(),
        Node::Parent(p) => &p.encryption_key,
    }
}

/// An UpdatePath whose keys are set in the (staged) tree but whose path secrets are not yet
/// encrypted: the caller computes the provisional GroupContext from the tree hash first.
#[derive(Debug)]
pub struct PendingUpdatePath {
    sender: LeafIndex,
    leaf_node: LeafNode,
    /// Filtered direct path with copath children, leaf side first.
    path: Vec<(NodeIndex, NodeIndex)>,
    /// One per path node.
    path_secrets: Vec<Secret>,
    public_keys: Vec<HpkePublicKey>,
    leaf_private_key: Secret,
    node_private_keys: Vec<Secret>,
    commit_secret: Secret,
}

/// A finished UpdatePath with the committer's secrets.
#[derive(Debug)]
pub struct GeneratedUpdatePath {
    /// The UpdatePath to send in the Commit.
    pub update_path: UpdatePath,
    /// The committer's private keys: the new leaf and every filtered-direct-path node.
    pub private_keys: PathPrivateKeys,
    /// The path secret of each filtered-direct-path node (for Welcome `path_secret`s).
    pub path_secrets: Vec<(NodeIndex, Secret)>,
    /// The `commit_secret` (the path secret after the root's).
    pub commit_secret: Secret,
}

/// What a receiver learns from an UpdatePath.
#[derive(Debug)]
pub struct DecryptedUpdatePath {
    /// The path secret decrypted, at the lowest common ancestor of sender and receiver.
    pub path_secret: Secret,
    /// The node where it was decrypted (the lowest common ancestor).
    pub node: NodeIndex,
    /// Private keys of the path nodes from that node up to the root.
    pub private_keys: Vec<(NodeIndex, Secret)>,
    /// The `commit_secret`.
    pub commit_secret: Secret,
}

impl Tree {
    /// Step 1 of creating an UpdatePath (§7.4, §7.5): on this (staged) tree, with all the
    /// commit's proposals applied, replaces `sender`'s direct path and leaf. `leaf` supplies
    /// the new leaf's credential, signature key, capabilities and extensions; its
    /// `encryption_key`, source and signature are replaced. `signer` is the private key of
    /// `leaf.signature_key`.
    pub fn generate_update_path(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        sender: LeafIndex,
        leaf: LeafNode,
        signer: &Secret,
        group_id: &[u8],
    ) -> Result<PendingUpdatePath, TreeError> {
        self.check_suite(cs)?;
        if self.leaf(sender).is_none() {
            return Err(TreeError::BlankLeaf(sender));
        }
        let path = self.filtered_direct_path(sender);
        self.blank_direct_path(sender);

        let mut leaf_secret = Secret::zero(cs.hash_len());
        cs.random_bytes(leaf_secret.as_mut_bytes())?;
        let (leaf_private_key, leaf_public_key) = node_key_pair(cs, &leaf_secret)?;

        let mut path_secrets = Vec::with_capacity(path.len());
        let mut public_keys = Vec::with_capacity(path.len());
        let mut node_private_keys = Vec::with_capacity(path.len());
        let mut ps = next_path_secret(cs, &leaf_secret)?;
        for &(p, _) in &path {
            let (sk, pk) = node_key_pair(cs, &ps)?;
            self.set_parent(
                p,
                ParentNode {
                    encryption_key: pk.clone(),
                    parent_hash: VarBytes::default(),
                    unmerged_leaves: VarVec::default(),
                },
            )?;
            let next = next_path_secret(cs, &ps)?;
            path_secrets.push(ps);
            public_keys.push(pk);
            node_private_keys.push(sk);
            ps = next;
        }
        let commit_secret = ps;

        self.update_hashes(cs)?;
        let parent_hash = self.set_path_parent_hashes(cs, &path)?;
        let mut tbs = leaf.to_be_signed(None)?;
        tbs.encryption_key = leaf_public_key;
        tbs.leaf_node_source = LeafNodeSource::Commit(parent_hash.into());
        let leaf = sign_leaf_content(cs, tbs, signer, group_id, sender)?;
        self.set_leaf(sender, leaf.clone())?;

        Ok(PendingUpdatePath {
            sender,
            leaf_node: leaf,
            path,
            path_secrets,
            public_keys,
            leaf_private_key,
            node_private_keys,
            commit_secret,
        })
    }

    /// Step 1 of applying a received UpdatePath (§7.5): checks the new leaf (source `commit`
    /// and its signature), merges the path into this (staged) tree and verifies the leaf's
    /// `parent_hash` against the merged path.
    pub fn merge_update_path(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        sender: LeafIndex,
        update_path: &UpdatePath,
        group_id: &[u8],
    ) -> Result<(), TreeError> {
        self.check_suite(cs)?;
        if self.leaf(sender).is_none() {
            return Err(TreeError::BlankLeaf(sender));
        }
        let leaf = &update_path.leaf_node;
        let Some(claimed) = leaf.parent_hash() else {
            return Err(TreeError::NotCommitSource(sender));
        };
        if !verify_leaf_signature(cs, leaf, group_id, sender)? {
            return Err(TreeError::LeafSignature(sender));
        }
        let path = self.filtered_direct_path(sender);
        if path.len() != update_path.nodes.len() {
            return Err(TreeError::PathLengthMismatch {
                expected: path.len(),
                got: update_path.nodes.len(),
            });
        }
        // Keys no one can encrypt to would make later commits fail; the receivers who do
        // not decrypt below a node cannot check it against its path secret.
        for (&(p, _), n) in path.iter().zip(update_path.nodes.iter()) {
            if cs.kem_check_public_key(&n.encryption_key).is_err() {
                return Err(TreeError::InvalidEncryptionKey(p));
            }
        }
        self.blank_direct_path(sender);
        for (&(p, _), n) in path.iter().zip(update_path.nodes.iter()) {
            self.set_parent(
                p,
                ParentNode {
                    encryption_key: n.encryption_key.clone(),
                    parent_hash: VarBytes::default(),
                    unmerged_leaves: VarVec::default(),
                },
            )?;
        }
        self.update_hashes(cs)?;
        let expected = self.set_path_parent_hashes(cs, &path)?;
        if expected.as_slice() != claimed {
            return Err(TreeError::ParentHashMismatch(sender));
        }
        self.set_leaf(sender, leaf.clone())?;
        Ok(())
    }

    /// Step 2 of applying a received UpdatePath (§7.5): after [`Tree::merge_update_path`],
    /// decrypts the one ciphertext meant for `keys.leaf` with the provisional GroupContext
    /// `group_context` (encoded), derives the path secrets and keys from there to the root,
    /// and checks each derived public key equals the one sent. `new_members` are
    /// the leaves added by the same commit, excluded from the resolutions.
    pub fn decrypt_update_path(
        &self,
        cs: &dyn CipherSuiteProvider,
        sender: LeafIndex,
        update_path: &UpdatePath,
        new_members: &[LeafIndex],
        keys: &PathPrivateKeys,
        group_context: &[u8],
    ) -> Result<DecryptedUpdatePath, TreeError> {
        self.check_suite(cs)?;
        if keys.leaf == sender {
            return Err(TreeError::OwnPath);
        }
        let path = self.filtered_direct_path(sender);
        if path.len() != update_path.nodes.len() {
            return Err(TreeError::PathLengthMismatch {
                expected: path.len(),
                got: update_path.nodes.len(),
            });
        }
        let lca = self.size.common_ancestor(sender.node(), keys.leaf.node());
        let i = path
            .iter()
            .position(|(p, _)| *p == lca)
            .ok_or(TreeError::NoDecryptionKey(lca))?;
        let (p, copath) = path[i];
        let mut excluded = new_members.to_vec();
        excluded.sort_unstable();
        let resolution = self.resolution_excluding(copath, &excluded);
        let cts = &update_path.nodes[i].encrypted_path_secret;
        if cts.len() != resolution.len() {
            return Err(TreeError::CiphertextCountMismatch {
                node: p,
                expected: resolution.len(),
                got: cts.len(),
            });
        }
        let (j, sk) = resolution
            .iter()
            .enumerate()
            .find_map(|(j, n)| keys.get(*n).map(|k| (j, k)))
            .ok_or(TreeError::NoDecryptionKey(copath))?;
        let ct = cts.get(j).ok_or(TreeError::NoDecryptionKey(copath))?;
        let path_secret = Secret::new(decrypt_with_label(cs, sk, LABEL, group_context, &ct)?);

        let mut private_keys = Vec::with_capacity(path.len() - i);
        let mut ps = path_secret.clone();
        for (k, &(node, _)) in path.iter().enumerate().skip(i) {
            let (sk, pk) = node_key_pair(cs, &ps)?;
            if pk != update_path.nodes[k].encryption_key {
                return Err(TreeError::PublicKeyMismatch(node));
            }
            private_keys.push((node, sk));
            ps = next_path_secret(cs, &ps)?;
        }
        Ok(DecryptedUpdatePath {
            path_secret,
            node: p,
            private_keys,
            commit_secret: ps,
        })
    }
}

impl PendingUpdatePath {
    /// The new leaf node (already set in the staged tree).
    pub fn leaf_node(&self) -> &LeafNode {
        &self.leaf_node
    }

    /// Step 2 of creating an UpdatePath (§7.6): encrypts every path secret to the copath
    /// child's resolution in `tree` (the staged tree of step 1) minus `new_members`,
    /// under the encoded provisional GroupContext. Seals run in parallel; the ciphertexts are
    /// in resolution order.
    pub fn encrypt(
        self,
        cs: &dyn CipherSuiteProvider,
        tree: &Tree,
        new_members: &[LeafIndex],
        group_context: &[u8],
    ) -> Result<GeneratedUpdatePath, TreeError> {
        tree.check_suite(cs)?;
        let prepared = prepare_encrypt_with_label(cs, LABEL, group_context)?;
        let mut excluded = new_members.to_vec();
        excluded.sort_unstable();
        // (path position, recipient public key), in output order.
        let mut jobs: Vec<(usize, &[u8])> = Vec::new();
        for (k, &(_, copath)) in self.path.iter().enumerate() {
            for n in tree.resolution_excluding(copath, &excluded) {
                let node = tree.node(n).ok_or(TreeError::WrongNodeType(n))?;
                jobs.push((k, node_public_key(node)));
            }
        }
        let cts: Vec<HpkeCiphertext> = jobs
            .par_iter()
            .map(|&(k, pk)| {
                encrypt_with_label_prepared(cs, &prepared, pk, self.path_secrets[k].as_bytes())
            })
            .collect::<Result<_, _>>()?;
        let mut nodes: Vec<UpdatePathNode> = self
            .public_keys
            .iter()
            .map(|pk| UpdatePathNode {
                encryption_key: pk.clone(),
                encrypted_path_secret: EncryptedPathSecrets::default(),
            })
            .collect();
        for ((k, _), ct) in jobs.iter().zip(&cts) {
            nodes[*k].encrypted_path_secret.push(ct)?;
        }
        let mut private_keys = PathPrivateKeys::new(self.sender, self.leaf_private_key);
        for (&(p, _), sk) in self.path.iter().zip(self.node_private_keys) {
            private_keys.insert(p, sk);
        }
        let path_secrets = self
            .path
            .iter()
            .map(|(p, _)| *p)
            .zip(self.path_secrets)
            .collect();
        Ok(GeneratedUpdatePath {
            update_path: UpdatePath {
                leaf_node: self.leaf_node,
                nodes: nodes.into(),
            },
            private_keys,
            path_secrets,
            commit_secret: self.commit_secret,
        })
    }
}
