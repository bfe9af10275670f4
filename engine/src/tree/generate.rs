//! Synthetic valid trees for tests and benchmarks: every leaf occupied and signed, and either
//! every parent set with a valid parent-hash chain or every parent blank.
//!
//! The full tree is the state reached when members commit from the rightmost leaf to the
//! leftmost: each parent was last set by the leftmost leaf below it, so it is parent-hash
//! valid through its left child, while each right child carries the (stale) parent hash of an
//! earlier commit. It is built directly in one O(N) pass: key pairs in parallel, then one
//! recursion that fills each subtree given its root's `parent_hash` (the right subtree first,
//! since its tree hash is the left child's original sibling tree hash).

use rayon::prelude::*;

use crate::codec::{VarBytes, VarVec};
use crate::crypto::{CipherSuiteProvider, HpkePublicKey, Secret, SignaturePublicKey};
use crate::messages::{
    Capabilities, Credential, CredentialType, LeafNode, LeafNodeSource, LeafNodeTbs, Lifetime,
    Node, ParentNode, ProtocolVersion,
};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

use super::error::TreeError;
use super::parent_hash::parent_hash_of;
use super::ratchet_tree::Tree;
use super::tree_hash::{hash_leaf, hash_parent, Digest};
use super::tree_validation::sign_leaf_content;

/// A generated tree and every private key in it.
#[derive(Debug)]
pub struct GeneratedTree {
    /// The tree, hashed.
    pub tree: Tree,
    /// Each leaf's signature private key.
    pub signature_keys: Vec<Secret>,
    /// The HPKE private key of every node, by node index (`None` for blank parents).
    pub node_keys: Vec<Option<Secret>>,
}

impl GeneratedTree {
    /// The private keys member `leaf` holds: its leaf and every non-blank parent above it.
    pub fn private_keys(&self, leaf: LeafIndex) -> super::PathPrivateKeys {
        let key = |n: NodeIndex| self.node_keys.get(n.0 as usize).cloned().flatten();
        let mut keys =
            super::PathPrivateKeys::new(leaf, key(leaf.node()).unwrap_or_else(|| Secret::zero(0)));
        for p in self.tree.size().direct_path(leaf.node()) {
            if let Some(k) = key(p) {
                keys.insert(p, k);
            }
        }
        keys
    }
}

/// A member's leaf content, unsigned, for `leaf` in a group of `suite`.
fn leaf_template(
    cs: &dyn CipherSuiteProvider,
    index: u32,
    encryption_key: HpkePublicKey,
    signature_key: SignaturePublicKey,
    source: LeafNodeSource,
) -> Result<LeafNode, TreeError> {
    let tbs = LeafNodeTbs {
        encryption_key,
        signature_key,
        credential: Credential::basic(format!("member-{index}").into_bytes()),
        capabilities: Capabilities {
            versions: VarVec(vec![ProtocolVersion::MLS10]),
            cipher_suites: VarVec(vec![cs.cipher_suite()]),
            extensions: VarVec::default(),
            proposals: VarVec::default(),
            credentials: VarVec(vec![CredentialType::BASIC]),
        },
        leaf_node_source: source,
        extensions: VarVec::default(),
        tree_position: None,
    };
    Ok(LeafNode::from_tbs(&tbs, &[])?)
}

struct Builder<'a> {
    cs: &'a dyn CipherSuiteProvider,
    group_id: &'a [u8],
    nodes: Vec<Option<Node>>,
    sig_sks: &'a [Secret],
}

impl Builder<'_> {
    /// Fills the subtree at `x` given the `parent_hash` its root carries; returns its hash.
    fn build(&mut self, x: NodeIndex, parent_hash: Vec<u8>) -> Result<Digest, TreeError> {
        let i = x.0 as usize;
        if let Some(leaf) = x.leaf() {
            let Some(Some(Node::Leaf(node))) = self.nodes.get_mut(i).map(Option::take) else {
                return hash_leaf(self.cs, leaf, None);
            };
            let mut tbs = node.to_be_signed(None)?;
            tbs.leaf_node_source = LeafNodeSource::Commit(parent_hash.into());
            let sk = self
                .sig_sks
                .get(leaf.0 as usize)
                .ok_or(TreeError::BlankLeaf(leaf))?;
            let node = sign_leaf_content(self.cs, tbs, sk, self.group_id, leaf)?;
            let h = hash_leaf(self.cs, leaf, Some(&node))?;
            self.nodes[i] = Some(Node::Leaf(node));
            return Ok(h);
        }
        let (Some(l), Some(r)) = (x.left(), x.right()) else {
            return Err(TreeError::WrongNodeType(x));
        };
        let Some(Some(Node::Parent(mut node))) = self.nodes.get_mut(i).map(Option::take) else {
            // A blank parent (its right subtree has no member): the chain passes through.
            let rh = self.build(r, Vec::new())?;
            let lh = self.build(l, parent_hash)?;
            return hash_parent(self.cs, None, &lh, &rh);
        };
        node.parent_hash = parent_hash.into();
        // A right child's parent hash is stale: from an earlier commit through it.
        let stale = self.cs.hash(&[&x.0.to_be_bytes()[..], b"stale"].concat());
        let rh = self.build(r, stale)?;
        let ph = parent_hash_of(self.cs, &node, &rh)?;
        let lh = self.build(l, ph)?;
        let h = hash_parent(self.cs, Some(&node), &lh, &rh)?;
        self.nodes[i] = Some(Node::Parent(node));
        Ok(h)
    }
}

/// A tree of `n_leaves` members (leaves `0..n_leaves`) in group `group_id`. When `full`, every
/// parent that can be set is (those with a member in their right subtree; the others would
/// not be on any filtered direct path), with valid parent hashes and `commit` leaves; else
/// every parent is blank and leaves have source `key_package`.
pub fn generate_tree(
    cs: &dyn CipherSuiteProvider,
    n_leaves: u32,
    group_id: &[u8],
    full: bool,
) -> Result<GeneratedTree, TreeError> {
    let size = TreeSize::for_leaves(n_leaves).ok_or(TreeError::TooLarge)?;
    let width = size.node_width();
    let present = |i: u32| {
        let x = NodeIndex(i);
        match x.leaf() {
            Some(l) => l.0 < n_leaves,
            None => {
                full && x
                    .right()
                    .is_some_and(|r| TreeSize::leaf_span(r).0 < n_leaves)
            }
        }
    };
    // Key pairs for every leaf (signature + HPKE) and every parent (HPKE), in parallel.
    let sig: Vec<(Secret, SignaturePublicKey)> = (0..n_leaves)
        .into_par_iter()
        .map(|_| cs.signature_generate())
        .collect::<Result<_, _>>()?;
    let hpke: Vec<Option<(Secret, HpkePublicKey)>> = (0..width)
        .into_par_iter()
        .map(|i| {
            if !present(i) {
                return Ok(None);
            }
            cs.kem_generate().map(Some)
        })
        .collect::<Result<_, _>>()?;
    let mut nodes: Vec<Option<Node>> = Vec::with_capacity(width as usize);
    for (i, kp) in (0u32..).zip(hpke.iter()) {
        let Some((_, pk)) = kp else {
            nodes.push(None);
            continue;
        };
        if i % 2 == 0 {
            let leaf = i / 2;
            let source = LeafNodeSource::KeyPackage(Lifetime {
                not_before: 0,
                not_after: u64::MAX,
            });
            let sig_pk = sig[leaf as usize].1.clone();
            nodes.push(Some(Node::Leaf(leaf_template(
                cs,
                leaf,
                pk.clone(),
                sig_pk,
                source,
            )?)));
        } else {
            nodes.push(Some(Node::Parent(ParentNode {
                encryption_key: pk.clone(),
                parent_hash: VarBytes::default(),
                unmerged_leaves: VarVec::default(),
            })));
        }
    }
    let sig_sks: Vec<Secret> = sig.into_iter().map(|(sk, _)| sk).collect();
    if full {
        let mut b = Builder {
            cs,
            group_id,
            nodes,
            sig_sks: &sig_sks,
        };
        b.build(size.root(), Vec::new())?;
        nodes = b.nodes;
    } else {
        let signed: Vec<Option<Node>> = nodes
            .into_par_iter()
            .zip((0..width).into_par_iter())
            .map(|(n, i)| match n {
                Some(Node::Leaf(leaf)) => {
                    let idx = LeafIndex(i / 2);
                    let sk = &sig_sks[idx.0 as usize];
                    let tbs = leaf.to_be_signed(None)?;
                    let leaf = sign_leaf_content(cs, tbs, sk, group_id, idx)?;
                    Ok(Some(Node::Leaf(leaf)))
                }
                other => Ok(other),
            })
            .collect::<Result<_, TreeError>>()?;
        nodes = signed;
    }
    while nodes.last().is_some_and(Option::is_none) {
        nodes.pop();
    }
    let mut tree = Tree::from_nodes(cs.cipher_suite(), nodes)?;
    tree.hash_all(cs)?;
    Ok(GeneratedTree {
        tree,
        signature_keys: sig_sks,
        node_keys: hpke.into_iter().map(|kp| kp.map(|(sk, _)| sk)).collect(),
    })
}
