//! Tree tests: structure, staging, incremental hashing, validation (positive and one negative
//! test per rule family) and TreeKEM round trips.

use crate::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use crate::messages::{LeafNode, Node, RatchetTree};
use crate::tree_math::{LeafIndex, NodeIndex};

use super::generate::{generate_tree, GeneratedTree};
use super::*;

const GROUP: &[u8] = b"group";

fn suite() -> AwsLcSuite {
    AwsLcSuite::new(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519).unwrap()
}

fn params() -> TreeValidationParams<'static> {
    TreeValidationParams::new(GROUP, 1_000)
}

/// Fresh `key_package` leaves (valid anywhere), from a blank-parent tree.
fn new_members(cs: &dyn CipherSuiteProvider, n: u32) -> Vec<LeafNode> {
    let g = generate_tree(cs, n, b"other", false).unwrap();
    g.tree.leaves().map(|(_, l)| l.clone()).collect()
}

/// A tree re-imported from a modified wire form.
fn reimport(
    cs: &dyn CipherSuiteProvider,
    tree: &Tree,
    edit: impl FnOnce(&mut Vec<Option<Node>>),
) -> Tree {
    let mut wire = tree.to_wire();
    edit(&mut wire.0);
    Tree::from_wire(cs, &wire).unwrap()
}

/// Hash of a tree recomputed from scratch.
fn fresh_hash(cs: &dyn CipherSuiteProvider, tree: &Tree) -> Vec<u8> {
    let mut t = Tree::from_wire(cs, &tree.to_wire()).unwrap();
    t.tree_hash(cs).unwrap()
}

#[test]
fn generated_trees_validate() {
    let cs = suite();
    for full in [true, false] {
        for n in [1, 2, 3, 8, 13, 32] {
            let mut g = generate_tree(&cs, n, GROUP, full).unwrap();
            validate_tree(&mut g.tree, &cs, &params())
                .unwrap_or_else(|e| panic!("{n} {full}: {e}"));
        }
    }
}

#[test]
fn wire_round_trip_drops_trailing_blanks() {
    let cs = suite();
    let mut g = generate_tree(&cs, 8, GROUP, true).unwrap();
    g.tree.remove_leaf(LeafIndex(7)).unwrap();
    let wire = g.tree.to_wire();
    assert_eq!(wire.0.len(), 13, "nodes 13 and 14 are blank and dropped");
    // The in-place encoding is the encoding of the wire struct, blanks and all.
    assert_eq!(
        g.tree.to_wire_bytes().unwrap(),
        crate::codec::encode(&wire).unwrap()
    );
    let big = generate_tree(&cs, 100, GROUP, false).unwrap();
    assert_eq!(
        big.tree.to_wire_bytes().unwrap(),
        crate::codec::encode(&big.tree.to_wire()).unwrap()
    );
    // Over 8,192 nodes the encoding is measured and written in two halves, one per core;
    // with blanks on both sides of the split and trailing ones dropped.
    let mut huge = generate_tree(&cs, 4_200, GROUP, true).unwrap();
    let before = huge.tree.wire_layout().unwrap();
    assert!(before.mid < before.nodes, "the split is taken");
    // Each chunk of nodes keeps its encoded length; a copy shares it, and a change keeps the
    // changed chunks' current (leaf 5 is node 10, in chunk 0; no removed leaf nor its direct
    // path is in chunk 2, nodes 128-191).
    let kept = huge.tree.stage();
    let edge = u32::try_from(before.mid / 2).unwrap();
    for leaf in [5, edge - 1, edge, 4_000, 4_199] {
        huge.tree.remove_leaf(LeafIndex(leaf)).unwrap();
    }
    let chunk_0 = |t: &Tree| -> usize {
        t.nodes
            .iter()
            .take(super::cow::CHUNK)
            .map(Tree::node_encoded_len)
            .sum()
    };
    assert_eq!(huge.tree.nodes.known_memo(0), Some(chunk_0(&huge.tree)));
    assert!(huge.tree.nodes.known_memo(2).is_some());
    assert_eq!(kept.nodes.known_memo(0), Some(chunk_0(&kept)));
    assert!(chunk_0(&huge.tree) < chunk_0(&kept), "leaf 5 left chunk 0");
    let layout = huge.tree.wire_layout().unwrap();
    assert!(layout.mid < layout.nodes, "the split is taken");
    assert_eq!(layout.mid, before.mid);
    assert!(layout.encoded_len() < before.encoded_len());
    assert_eq!(
        huge.tree.to_wire_bytes().unwrap(),
        crate::codec::encode(&huge.tree.to_wire()).unwrap()
    );
    assert_eq!(kept.wire_layout().unwrap(), before);
    assert_eq!(
        kept.to_wire_bytes().unwrap(),
        crate::codec::encode(&kept.to_wire()).unwrap()
    );
    // In pieces, for a consumer that follows the writer: the same bytes, in order, the
    // length header first; a tree with blanks at the ends of pieces, and a one-piece tree.
    for (tree, layout) in [
        (&huge.tree, &layout),
        (&kept, &before),
        (&g.tree, &g.tree.wire_layout().unwrap()),
    ] {
        let mut pieces = Vec::new();
        tree.write_wire_pieces(layout, |p| pieces.push(p)).unwrap();
        assert_eq!(pieces.len(), layout.nodes.div_ceil(512));
        assert_eq!(pieces.concat(), tree.to_wire_bytes().unwrap());
    }
    // A layout of another tree is refused, not written past, in pieces too.
    let mut other = Vec::new();
    assert!(big.tree.write_wire(&layout, &mut other).is_err());
    assert!(big.tree.write_wire_pieces(&layout, |_| ()).is_err());
    let mut back = Tree::from_wire(&cs, &wire).unwrap();
    assert_eq!(back.size().leaves(), 8);
    assert_eq!(back.tree_hash(&cs).unwrap(), g.tree.tree_hash(&cs).unwrap());
    let mut bad = wire.clone();
    bad.0.push(None);
    assert_eq!(
        Tree::from_wire(&cs, &bad).unwrap_err(),
        TreeError::TrailingBlank
    );
    let mut misplaced = wire;
    misplaced.0.swap(0, 1);
    assert!(matches!(
        Tree::from_wire(&cs, &misplaced),
        Err(TreeError::WrongNodeType(_))
    ));
    assert_eq!(
        Tree::from_wire(&cs, &RatchetTree::default()).unwrap_err(),
        TreeError::EmptyTree
    );
    // A tree may end at a parent node: the width still covers it.
    let g4 = generate_tree(&cs, 4, GROUP, true).unwrap();
    let mut two = g4.tree.to_wire();
    two.0.truncate(2);
    let t = Tree::from_wire(&cs, &two).unwrap();
    assert_eq!(t.size().leaves(), 2);
    assert!(t.parent(NodeIndex(1)).is_some());
}

#[test]
fn add_fills_leftmost_blank_then_extends_and_tracks_unmerged() {
    let cs = suite();
    let mut g = generate_tree(&cs, 4, GROUP, true).unwrap();
    let joiners = new_members(&cs, 4);
    let t = &mut g.tree;
    t.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(t.leftmost_blank_leaf(), Some(LeafIndex(1)));
    assert_eq!(t.add_leaf(joiners[0].clone()).unwrap(), LeafIndex(1));
    // Leaf 1's path (1, 3) was blanked by the removal: nothing to mark unmerged.
    assert!(t.parent(NodeIndex(1)).is_none());
    // Full now: the next add doubles the tree and lands at leaf 4, unmerged at the old root?
    // The old root (3) is blank; the new root (7) is blank: no unmerged entries.
    assert_eq!(t.add_leaf(joiners[1].clone()).unwrap(), LeafIndex(4));
    assert_eq!(t.size().leaves(), 8);
    // Node 5 (parent of leaves 2, 3) is still set: remove leaf 5... add into a blank leaf
    // below a set parent to get unmerged entries.
    let mut g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let t = &mut g.tree;
    t.remove_leaf(LeafIndex(6)).unwrap(); // blanks 12, 13, 11, 7
    t.remove_leaf(LeafIndex(7)).unwrap(); // right subtree still holds leaves 4, 5
    assert_eq!(t.size().leaves(), 8);
    t.remove_leaf(LeafIndex(5)).unwrap();
    t.remove_leaf(LeafIndex(4)).unwrap(); // right half blank: truncated to 4 leaves
    assert_eq!(t.size().leaves(), 4);
    assert!(t.parent(NodeIndex(1)).is_some());
    // A leaf under a set parent: blank leaf 1 without touching its path is impossible via
    // Remove, so set up by removing leaf 1 and re-committing from leaf 0.
    t.remove_leaf(LeafIndex(1)).unwrap();
    let mut st = t.stage();
    let pending = st
        .generate_update_path(
            &cs,
            LeafIndex(0),
            t.leaf(LeafIndex(0)).unwrap().clone(),
            &g.signature_keys[0],
            GROUP,
        )
        .unwrap();
    drop(pending);
    // Node 1's copath (leaf 1) is blank, so 1 is not on the filtered path: only 3 is set.
    assert!(st.parent(NodeIndex(1)).is_none());
    assert!(st.parent(NodeIndex(3)).is_some());
    let a = st.add_leaf(joiners[2].clone()).unwrap();
    assert_eq!(a, LeafIndex(1));
    assert_eq!(&st.parent(NodeIndex(3)).unwrap().unmerged_leaves[..], &[1]);
    validate_tree(&mut st, &cs, &params()).unwrap();
}

#[test]
fn staging_leaves_the_original_untouched_and_hashes_stay_exact() {
    let cs = suite();
    let mut g = generate_tree(&cs, 16, GROUP, true).unwrap();
    let before = g.tree.tree_hash(&cs).unwrap();
    let wire_before = g.tree.to_wire();
    let joiners = new_members(&cs, 8);
    let mut st = g.tree.stage();
    st.remove_leaf(LeafIndex(3)).unwrap();
    st.remove_leaf(LeafIndex(15)).unwrap();
    st.update_leaf(LeafIndex(9), joiners[0].clone()).unwrap();
    for j in &joiners[1..4] {
        st.add_leaf(j.clone()).unwrap();
    }
    let staged_hash = st.tree_hash(&cs).unwrap();
    assert_eq!(
        staged_hash,
        fresh_hash(&cs, &st),
        "incremental == from scratch"
    );
    assert_eq!(g.tree.tree_hash(&cs).unwrap(), before);
    assert_eq!(g.tree.to_wire(), wire_before);
    g.tree.merge_staged(st);
    assert_eq!(g.tree.tree_hash(&cs).unwrap(), staged_hash);
}

#[test]
fn remove_truncates_to_the_rightmost_member() {
    let cs = suite();
    let mut g = generate_tree(&cs, 16, GROUP, false).unwrap();
    for l in (3..16).rev() {
        g.tree.remove_leaf(LeafIndex(l)).unwrap();
    }
    assert_eq!(g.tree.size().leaves(), 4);
    g.tree.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(g.tree.size().leaves(), 4, "leaf 2 keeps the right half");
    g.tree.remove_leaf(LeafIndex(2)).unwrap();
    assert_eq!(g.tree.size().leaves(), 1);
    assert_eq!(g.tree.member_count(), 1);
    assert_eq!(g.tree.tree_hash(&cs).unwrap(), fresh_hash(&cs, &g.tree));
    assert_eq!(
        g.tree.remove_leaf(LeafIndex(2)),
        Err(TreeError::BlankLeaf(LeafIndex(2)))
    );
}

#[test]
fn original_sibling_hash_matches_brute_force() {
    let cs = suite();
    let mut g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let joiners = new_members(&cs, 4);
    let t = &mut g.tree;
    // Blank leaves 5 and 6, re-commit from leaf 0 (sets 1, 3, 7), then add two members into
    // 5 and 6: both land unmerged at 7 (and 11 if set).
    t.remove_leaf(LeafIndex(5)).unwrap();
    t.remove_leaf(LeafIndex(6)).unwrap();
    let leaf0 = t.leaf(LeafIndex(0)).unwrap().clone();
    let _ = t
        .generate_update_path(&cs, LeafIndex(0), leaf0, &g.signature_keys[0], GROUP)
        .unwrap();
    t.add_leaf(joiners[0].clone()).unwrap();
    t.add_leaf(joiners[1].clone()).unwrap();
    t.update_hashes(&cs).unwrap();
    let root = t.parent(NodeIndex(7)).unwrap();
    assert_eq!(&root.unmerged_leaves[..], &[5, 6]);
    let removed = root.unmerged_leaves.to_vec();
    let fast = t.original_tree_hash(&cs, NodeIndex(11), &removed).unwrap();
    // Brute force: blank 5 and 6 and drop them from every unmerged list, hash from scratch.
    let mut brute = reimport(&cs, t, |nodes| {
        for l in [5usize, 6] {
            nodes[2 * l] = None;
        }
        for n in nodes.iter_mut().flatten() {
            if let Node::Parent(p) = n {
                p.unmerged_leaves.retain(|u| !removed.contains(u));
            }
        }
        while nodes.last().is_some_and(Option::is_none) {
            nodes.pop();
        }
    });
    // The brute-force tree may have been truncated: compare the subtree at 11 only if present.
    let want = brute.node_tree_hash(&cs, NodeIndex(11)).unwrap();
    assert_eq!(fast.as_slice(), &want[..]);
    validate_tree(t, &cs, &params()).unwrap();
}

// ---- Negative validation tests: each broken tree rejected with its own error. ----

#[test]
fn shared_node_decoding_agrees_with_ratchet_tree_decoding() {
    let cs = suite();
    let g = generate_tree(&cs, 40, GROUP, true).unwrap();
    let bytes = crate::codec::encode(&g.tree.to_wire()).unwrap();
    let decode_both = |b: &[u8]| {
        let wire = crate::codec::decode_exact::<RatchetTree>(b);
        let shared = RatchetTree::decode_shared_nodes(b);
        (wire, shared)
    };
    let (wire, shared) = decode_both(&bytes);
    let wire = wire.unwrap();
    let shared = shared.unwrap();
    assert_eq!(wire.0.len(), shared.len());
    for (a, b) in wire.0.iter().zip(&shared) {
        assert_eq!(a.as_ref(), b.as_deref());
    }
    // The tree built from either is the same tree.
    let mut from_shared = Tree::from_shared_nodes(&cs, shared).unwrap();
    assert_eq!(
        from_shared.tree_hash(&cs).unwrap(),
        Tree::from_wire(&cs, &wire).unwrap().tree_hash(&cs).unwrap()
    );
    // Every truncation, a trailing byte and a corrupted length header: both refuse.
    let mut cases: Vec<Vec<u8>> = (0..bytes.len())
        .step_by(7)
        .map(|cut| bytes[..cut].to_vec())
        .collect();
    cases.push([&bytes[..], &[0]].concat());
    let mut longer = bytes.clone();
    longer[1] ^= 0x01;
    cases.push(longer);
    for case in &cases {
        let (wire, shared) = decode_both(case);
        assert_eq!(wire.is_ok(), shared.is_ok(), "{} bytes", case.len());
    }
}

/// A leaf's signature with one bit flipped.
fn flip_signature(l: &mut LeafNode) {
    let mut sig = l.signature().to_vec();
    sig[7] ^= 0x10;
    *l = LeafNode::from_tbs(&l.to_be_signed(None).unwrap(), &sig).unwrap();
}

#[test]
fn bad_leaf_signatures_in_a_large_tree_name_the_first_bad_leaf() {
    // 300 leaves: several verification batches. The batch that holds a bad leaf fails, and the
    // one-by-one pass names the lowest bad leaf whichever batch it is in.
    let cs = suite();
    let g = generate_tree(&cs, 300, GROUP, true).unwrap();
    let mut good = reimport(&cs, &g.tree, |_| {});
    assert_eq!(validate_tree(&mut good, &cs, &params()), Ok(()));
    for bad in [vec![299u32], vec![250, 40], vec![0, 150, 299]] {
        let mut t = reimport(&cs, &g.tree, |nodes| {
            for &leaf in &bad {
                if let Some(Some(Node::Leaf(l))) = nodes.get_mut(2 * leaf as usize) {
                    flip_signature(l);
                }
            }
        });
        let first = *bad.iter().min().unwrap();
        assert_eq!(
            validate_tree(&mut t, &cs, &params()),
            Err(TreeValidationError::LeafSignature {
                leaf: LeafIndex(first)
            }),
            "bad leaves {bad:?}"
        );
    }
}

#[test]
fn bad_leaf_signature_is_rejected() {
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(6) {
            let mut sig = l.signature().to_vec();
            sig[0] ^= 1;
            *l = LeafNode::from_tbs(&l.to_be_signed(None).unwrap(), &sig).unwrap();
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::LeafSignature { leaf: LeafIndex(3) })
    );
    // The group id is part of what commit leaves sign.
    let mut g = g;
    let other = TreeValidationParams::new(b"other group", 1_000);
    assert!(matches!(
        validate_tree(&mut g.tree, &cs, &other),
        Err(TreeValidationError::LeafSignature { .. })
    ));
}

#[test]
fn broken_parent_hash_chain_is_rejected() {
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let fresh = cs.kem_generate().unwrap().1;
    // A new key at node 5 breaks the chain from leaf 2 (node 4) to node 5, and changes the
    // original sibling tree hash node 3 was signed with: the lowest broken parent is 3.
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Parent(p))) = nodes.get_mut(5) {
            p.encryption_key = fresh;
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::ParentHashInvalid {
            parent: NodeIndex(3),
            valid_descendants: 0
        })
    );
    // Both 3 and 5 are individually broken.
    t.update_hashes(&cs).unwrap();
    assert_eq!(t.parent_hash_witnesses(&cs, NodeIndex(5)).unwrap(), 0);
    assert_eq!(t.parent_hash_witnesses(&cs, NodeIndex(3)).unwrap(), 0);
    assert_eq!(t.parent_hash_witnesses(&cs, NodeIndex(11)).unwrap(), 1);
}

#[test]
fn building_from_decoded_nodes_reports_what_validating_a_built_tree_reports() {
    // `build_validated_tree` checks the signatures beside hashing and the other checks; its
    // verdict must be the sequential one whatever finishes first, and `finish` must see a
    // fully hashed tree.
    use std::sync::Arc;
    use tree_validation::{build_validated_tree, validate_tree_keyed};
    let cs = suite();
    let g = generate_tree(&cs, 40, GROUP, true).unwrap();
    let fresh = cs.kem_generate().unwrap().1;
    let bad_signature = |nodes: &mut Vec<Option<Node>>| {
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(2 * 33) {
            flip_signature(l);
        }
    };
    let bad_parent_hash = |nodes: &mut Vec<Option<Node>>| {
        if let Some(Some(Node::Parent(p))) = nodes.get_mut(5) {
            p.encryption_key = fresh.clone();
        }
    };
    let duplicate_key = |nodes: &mut Vec<Option<Node>>| {
        let key = match &nodes[0] {
            Some(Node::Leaf(l)) => l.signature_key().to_vec(),
            _ => unreachable!(),
        };
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(4) {
            *l = l.edited(|t| t.signature_key = key.into());
        }
    };
    type Edit<'a> = &'a dyn Fn(&mut Vec<Option<Node>>);
    let cases: Vec<(&str, Vec<Edit<'_>>)> = vec![
        ("valid", vec![]),
        ("bad signature", vec![&bad_signature]),
        ("bad parent hash", vec![&bad_parent_hash]),
        (
            "signature before parent hash",
            vec![&bad_parent_hash, &bad_signature],
        ),
        (
            "duplicate key before signature",
            vec![&bad_signature, &duplicate_key],
        ),
    ];
    for (name, edits) in cases {
        let mut wire = g.tree.to_wire();
        for edit in &edits {
            edit(&mut wire.0);
        }
        let mut built = Tree::from_wire(&cs, &wire).unwrap();
        let expected = validate_tree_keyed(&mut built, &cs, &params()).map(drop);
        let nodes = wire.0 .0.into_iter().map(|n| n.map(Arc::new)).collect();
        let got = build_validated_tree(&cs, nodes, &params(), |tree, _| {
            tree.cached_hash(tree.size().root())
        });
        assert_eq!(
            got.as_ref().map(drop),
            expected.as_ref().map(drop),
            "{name}"
        );
        if let Ok((mut tree, root_hash)) = got {
            let hash = fresh_hash(&cs, &tree);
            assert_eq!(root_hash.as_slice(), hash, "{name}");
            assert_eq!(tree.tree_hash(&cs).unwrap(), hash, "{name}");
        }
    }
    // A bad signature is named before a bad parent hash whatever the order of the edits.
    let mut wire = g.tree.to_wire();
    bad_signature(&mut wire.0);
    bad_parent_hash(&mut wire.0);
    let nodes = wire.0 .0.into_iter().map(|n| n.map(Arc::new)).collect();
    assert_eq!(
        build_validated_tree(&cs, nodes, &params(), |_, _| ()).map(drop),
        Err(TreeValidationError::LeafSignature {
            leaf: LeafIndex(33)
        })
    );
    // A leaf in a parent's slot is refused before anything is verified.
    let mut wire = g.tree.to_wire();
    wire.0[1] = wire.0[0].clone();
    let nodes = wire.0 .0.into_iter().map(|n| n.map(Arc::new)).collect();
    assert_eq!(
        build_validated_tree(&cs, nodes, &params(), |_, _| ()).map(drop),
        Err(TreeValidationError::Tree(TreeError::WrongNodeType(
            NodeIndex(1)
        )))
    );
}

#[test]
fn duplicate_encryption_key_is_rejected() {
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let mut t = reimport(&cs, &g.tree, |nodes| {
        let key = match &nodes[2] {
            Some(Node::Leaf(l)) => l.encryption_key().into(),
            _ => unreachable!(),
        };
        if let Some(Some(Node::Parent(p))) = nodes.get_mut(9) {
            p.encryption_key = key;
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::DuplicateEncryptionKey {
            node: NodeIndex(9),
            first: NodeIndex(2)
        })
    );
    let mut t = reimport(&cs, &g.tree, |nodes| {
        let key = match &nodes[0] {
            Some(Node::Leaf(l)) => l.signature_key().into(),
            _ => unreachable!(),
        };
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(4) {
            *l = l.edited(|t| t.signature_key = key);
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::DuplicateSignatureKey {
            leaf: LeafIndex(2),
            first: LeafIndex(0)
        })
    );
}

#[test]
fn unmerged_leaf_outside_its_subtree_is_rejected() {
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Parent(p))) = nodes.get_mut(3) {
            p.unmerged_leaves.push(5);
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::UnmergedLeafOutsideSubtree {
            parent: NodeIndex(3),
            leaf: LeafIndex(5)
        })
    );
    // Listed at the root but not at the set node 3 between leaf 1 and the root.
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Parent(p))) = nodes.get_mut(7) {
            p.unmerged_leaves.push(1);
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::UnmergedLeafNotInIntermediate {
            parent: NodeIndex(7),
            leaf: LeafIndex(1),
            intermediate: NodeIndex(1)
        })
    );
}

#[test]
fn lifetime_policy_is_switchable() {
    let cs = suite();
    let joiners = new_members(&cs, 2);
    // Lifetime checks look at key_package leaves; the signature then no longer matters
    // because lifetimes are checked first.
    let expired = joiners[0].edited(|t| {
        if let crate::messages::LeafNodeSource::KeyPackage(lt) = &mut t.leaf_node_source {
            lt.not_after = 10;
        }
    });
    assert_eq!(expired.lifetime().map(|l| l.not_after), Some(10));
    let mut t = Tree::new(&cs, expired).unwrap();
    assert!(matches!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::LifetimeInvalid {
            leaf: LeafIndex(0),
            ..
        })
    ));
    assert!(matches!(
        validate_tree(&mut t, &cs, &params().without_lifetime_check()),
        Err(TreeValidationError::LeafSignature { .. })
    ));
}

/// Suite 7 keys (P-384, 97 bytes) are longer than the index's inline key identities: the
/// duplicate checks still fire for them, through the whole-tree validation and the index,
/// and a key sharing all but its last byte with a member's is not taken for it.
#[test]
fn duplicate_long_keys_are_rejected() {
    let cs = AwsLcSuite::new(CipherSuite(7)).unwrap();
    let g = generate_tree(&cs, 4, GROUP, true).unwrap();
    let leaf = |i| g.tree.leaf(LeafIndex(i)).unwrap();
    assert_eq!(leaf(0).signature_key().len(), 97);
    assert_eq!(leaf(0).encryption_key().len(), 97);
    // Leaf 1 (node 2) takes leaf 0's encryption key, then leaf 3 takes leaf 1's signature
    // key: both refused by `validate_tree`.
    let enc0 = leaf(0).encryption_key().to_vec();
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(2) {
            *l = l.edited(|t| t.encryption_key = enc0.as_slice().into());
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::DuplicateEncryptionKey {
            node: NodeIndex(2),
            first: NodeIndex(0)
        })
    );
    let sig1 = leaf(1).signature_key().to_vec();
    let mut t = reimport(&cs, &g.tree, |nodes| {
        if let Some(Some(Node::Leaf(l))) = nodes.get_mut(6) {
            *l = l.edited(|t| t.signature_key = sig1.as_slice().into());
        }
    });
    assert_eq!(
        validate_tree(&mut t, &cs, &params()),
        Err(TreeValidationError::DuplicateSignatureKey {
            leaf: LeafIndex(3),
            first: LeafIndex(1)
        })
    );
    // The same through the index, for a new leaf.
    let mut index = MemberIndex::from_tree(&g.tree).unwrap();
    let joiner = new_members(&cs, 1).remove(0);
    let p = params();
    index
        .check_leaf(&joiner, LeafIndex(4), None, cs.cipher_suite(), &p)
        .unwrap();
    let dup_sig = joiner.edited(|t| t.signature_key = sig1.as_slice().into());
    assert_eq!(
        index.check_leaf(&dup_sig, LeafIndex(4), None, cs.cipher_suite(), &p),
        Err(TreeValidationError::DuplicateSignatureKey {
            leaf: LeafIndex(4),
            first: LeafIndex(1)
        })
    );
    let dup_enc = joiner.edited(|t| t.encryption_key = enc0.as_slice().into());
    assert_eq!(
        index.check_leaf(&dup_enc, LeafIndex(4), None, cs.cipher_suite(), &p),
        Err(TreeValidationError::DuplicateEncryptionKey {
            node: NodeIndex(8),
            first: NodeIndex(0)
        })
    );
    // Keys equal to a member's but for the last byte are distinct.
    let mut near_sig = sig1.clone();
    let mut near_enc = enc0.clone();
    for k in [&mut near_sig, &mut near_enc] {
        if let Some(b) = k.last_mut() {
            *b ^= 1;
        }
    }
    let near = joiner.edited(|t| {
        t.signature_key = near_sig.as_slice().into();
        t.encryption_key = near_enc.as_slice().into();
    });
    index
        .check_leaf(&near, LeafIndex(4), None, cs.cipher_suite(), &p)
        .unwrap();
    // Removing leaf 1 frees its signature key; inserting it again takes it back.
    index.remove(LeafIndex(1), leaf(1));
    index
        .check_leaf(&dup_sig, LeafIndex(4), None, cs.cipher_suite(), &p)
        .unwrap();
    index.insert(LeafIndex(1), leaf(1)).unwrap();
    assert!(index
        .check_leaf(&dup_sig, LeafIndex(4), None, cs.cipher_suite(), &p)
        .is_err());
    assert!(matches!(
        index.insert(LeafIndex(4), &dup_enc),
        Err(TreeValidationError::DuplicateEncryptionKey { .. })
    ));
}

#[test]
fn member_index_checks_new_leaves_in_constant_time() {
    use crate::codec::VarVec;
    use crate::messages::{Credential, CredentialType};
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let mut index = MemberIndex::from_tree(&g.tree).unwrap();
    let joiners = new_members(&cs, 4);
    let p = params();
    // A fresh member is fine at the next leaf.
    index
        .check_leaf(&joiners[0], LeafIndex(8), None, suite().cipher_suite(), &p)
        .unwrap();
    // Reusing member 3's signature key is not.
    let taken = g.tree.leaf(LeafIndex(3)).unwrap().signature_key().into();
    let dup = joiners[1].edited(|t| t.signature_key = taken);
    assert_eq!(
        index.check_leaf(&dup, LeafIndex(8), None, suite().cipher_suite(), &p),
        Err(TreeValidationError::DuplicateSignatureKey {
            leaf: LeafIndex(8),
            first: LeafIndex(3)
        })
    );
    // An X.509 member that the basic-only members cannot support.
    let x509 = joiners[1].edited(|t| {
        t.credential = Credential::X509 {
            certificates: VarVec::default(),
        };
        t.capabilities.credentials = VarVec(vec![CredentialType::BASIC, CredentialType::X509]);
    });
    assert_eq!(
        index.check_leaf(&x509, LeafIndex(8), None, suite().cipher_suite(), &p),
        Err(TreeValidationError::CredentialTypeUnsupportedByGroup {
            leaf: LeafIndex(8),
            credential_type: CredentialType::X509
        })
    );
    // A member that does not support the basic credentials in use.
    let picky = x509.edited(|t| {
        t.capabilities.credentials = VarVec(vec![CredentialType::X509]);
        t.credential = Credential::basic(b"x".to_vec());
    });
    assert!(matches!(
        index.check_leaf(&picky, LeafIndex(8), None, suite().cipher_suite(), &p),
        Err(TreeValidationError::CredentialNotInOwnCapabilities { .. })
    ));
    // An update that keeps its encryption key.
    let old = g.tree.leaf(LeafIndex(2)).unwrap().clone();
    let same = joiners[2].edited(|t| t.encryption_key = old.encryption_key().into());
    assert_eq!(
        index.check_leaf(&same, LeafIndex(2), Some(&old), suite().cipher_suite(), &p),
        Err(TreeValidationError::EncryptionKeyNotUpdated { leaf: LeafIndex(2) })
    );
    // An update keeping its own signature key is fine.
    let upd = joiners[2].edited(|t| t.signature_key = old.signature_key().into());
    index
        .check_leaf(&upd, LeafIndex(2), Some(&old), suite().cipher_suite(), &p)
        .unwrap();
    // Once every member supports X.509, an X.509 member may join.
    let mut all = MemberIndex::default();
    for (i, l) in g.tree.leaves() {
        let l = l.edited(|t| {
            t.capabilities.credentials = VarVec(vec![CredentialType::BASIC, CredentialType::X509])
        });
        all.insert(i, &l).unwrap();
    }
    all.check_leaf(&x509, LeafIndex(8), None, suite().cipher_suite(), &p)
        .unwrap();
    // An X.509-only member cannot join a group whose members use basic credentials.
    let x509_only =
        x509.edited(|t| t.capabilities.credentials = VarVec(vec![CredentialType::X509]));
    assert_eq!(
        all.check_leaf(&x509_only, LeafIndex(8), None, suite().cipher_suite(), &p),
        Err(TreeValidationError::CredentialTypeNotSupported {
            leaf: LeafIndex(8),
            credential_type: CredentialType::BASIC
        })
    );
    // Remove then re-insert round-trips.
    index.remove(LeafIndex(3), g.tree.leaf(LeafIndex(3)).unwrap());
    index
        .check_leaf(&dup, LeafIndex(8), None, suite().cipher_suite(), &p)
        .unwrap();
    index
        .insert(LeafIndex(3), g.tree.leaf(LeafIndex(3)).unwrap())
        .unwrap();
    assert!(index
        .check_leaf(&dup, LeafIndex(8), None, suite().cipher_suite(), &p)
        .is_err());
}

// ---- TreeKEM ----

fn group_context(tree_hash: &[u8]) -> Vec<u8> {
    let mut gc = b"provisional group context ".to_vec();
    gc.extend_from_slice(tree_hash);
    gc
}

fn commit_round_trip(g: &GeneratedTree, sender: LeafIndex, joiners: &[LeafNode]) {
    let cs = suite();
    // Committer: apply the adds to a staged tree, then the path.
    let mut st = g.tree.stage();
    let mut added: Vec<LeafIndex> = joiners
        .iter()
        .map(|j| st.add_leaf(j.clone()).unwrap())
        .collect();
    added.sort();
    let template = st.leaf(sender).unwrap().clone();
    let pending = st
        .generate_update_path(
            &cs,
            sender,
            template,
            &g.signature_keys[sender.0 as usize],
            GROUP,
        )
        .unwrap();
    let th = st.tree_hash(&cs).unwrap();
    let gc = group_context(&th);
    let out = pending.encrypt(&cs, &st, &added, &gc).unwrap();
    // Ciphertext counts equal the resolutions without the joiners.
    for (node, (_, copath)) in out
        .update_path
        .nodes
        .iter()
        .zip(st.filtered_direct_path(sender))
    {
        assert_eq!(
            node.encrypted_path_secret.len(),
            st.resolution_excluding(copath, &added).len()
        );
    }
    validate_tree(&mut st, &cs, &params()).unwrap();
    // Every other member follows.
    let n = g.tree.size().leaves();
    for r in (0..n)
        .map(LeafIndex)
        .filter(|r| *r != sender && g.tree.leaf(*r).is_some())
    {
        let mut follower = g.tree.stage();
        for j in joiners {
            follower.add_leaf(j.clone()).unwrap();
        }
        follower
            .merge_update_path(&cs, sender, &out.update_path, GROUP)
            .unwrap();
        assert_eq!(follower.tree_hash(&cs).unwrap(), th);
        let dec = follower
            .decrypt_update_path(
                &cs,
                sender,
                &out.update_path,
                &added,
                &g.private_keys(r),
                &gc,
            )
            .unwrap();
        assert_eq!(dec.commit_secret, out.commit_secret);
    }
}

#[test]
fn update_path_round_trip_full_and_blank_trees_with_joiners() {
    let cs = suite();
    let joiners = new_members(&cs, 4);
    let full = generate_tree(&cs, 8, GROUP, true).unwrap();
    commit_round_trip(&full, LeafIndex(5), &[]);
    commit_round_trip(&full, LeafIndex(0), &joiners[..2]);
    let blank = generate_tree(&cs, 8, GROUP, false).unwrap();
    commit_round_trip(&blank, LeafIndex(3), &[]);
    let mut holes = generate_tree(&cs, 8, GROUP, true).unwrap();
    holes.tree.remove_leaf(LeafIndex(2)).unwrap();
    holes.tree.remove_leaf(LeafIndex(6)).unwrap();
    commit_round_trip(&holes, LeafIndex(7), &joiners[2..4]);
    let ragged = generate_tree(&cs, 13, GROUP, true).unwrap();
    commit_round_trip(&ragged, LeafIndex(12), &joiners[..1]);
    commit_round_trip(&ragged, LeafIndex(4), &[]);
}

#[test]
fn tampered_update_paths_are_rejected() {
    let cs = suite();
    let g = generate_tree(&cs, 8, GROUP, true).unwrap();
    let sender = LeafIndex(1);
    let mut st = g.tree.stage();
    let pending = st
        .generate_update_path(
            &cs,
            sender,
            st.leaf(sender).unwrap().clone(),
            &g.signature_keys[1],
            GROUP,
        )
        .unwrap();
    let gc = group_context(&st.tree_hash(&cs).unwrap());
    let out = pending.encrypt(&cs, &st, &[], &gc).unwrap();

    // A swapped public key: the parent hash no longer matches the signed leaf.
    let mut bad = out.update_path.clone();
    bad.nodes[1].encryption_key = cs.kem_generate().unwrap().1;
    assert_eq!(
        g.tree.stage().merge_update_path(&cs, sender, &bad, GROUP),
        Err(TreeError::ParentHashMismatch(sender))
    );
    // A dropped node.
    let mut short = out.update_path.clone();
    short.nodes.pop();
    assert!(matches!(
        g.tree.stage().merge_update_path(&cs, sender, &short, GROUP),
        Err(TreeError::PathLengthMismatch { .. })
    ));
    // A leaf signed for another group.
    assert_eq!(
        g.tree
            .stage()
            .merge_update_path(&cs, sender, &out.update_path, b"x"),
        Err(TreeError::LeafSignature(sender))
    );
    // After a correct merge, a path whose keys or ciphertexts differ from the merged one is
    // caught by decryption itself.
    let mut merged = g.tree.stage();
    merged
        .merge_update_path(&cs, sender, &out.update_path, GROUP)
        .unwrap();
    let receiver = g.private_keys(LeafIndex(0)); // below node 1, the first path node
    let mut other_key = out.update_path.clone();
    let last = other_key.nodes.len() - 1;
    other_key.nodes[last].encryption_key = cs.kem_generate().unwrap().1;
    assert_eq!(
        merged
            .decrypt_update_path(&cs, sender, &other_key, &[], &receiver, &gc)
            .err(),
        Some(TreeError::PublicKeyMismatch(NodeIndex(7)))
    );
    let mut fewer = out.update_path.clone();
    fewer.nodes[0].encrypted_path_secret.truncate(0);
    assert_eq!(
        merged
            .decrypt_update_path(&cs, sender, &fewer, &[], &receiver, &gc)
            .err(),
        Some(TreeError::CiphertextCountMismatch {
            node: NodeIndex(1),
            expected: 1,
            got: 0
        })
    );
    assert_eq!(
        merged
            .decrypt_update_path(
                &cs,
                sender,
                &out.update_path,
                &[],
                &g.private_keys(sender),
                &gc
            )
            .err(),
        Some(TreeError::OwnPath)
    );
    // The wrong group context: decryption fails.
    let mut f = g.tree.stage();
    f.merge_update_path(&cs, sender, &out.update_path, GROUP)
        .unwrap();
    assert!(matches!(
        f.decrypt_update_path(
            &cs,
            sender,
            &out.update_path,
            &[],
            &g.private_keys(LeafIndex(6)),
            b"wrong"
        ),
        Err(TreeError::Crypto(_))
    ));
}

/// The encoded tree ends at its last non-blank node. In the fixture (13 members of 16 leaves)
/// that is leaf 12 (node 24); with a parent set to its right (node 25, as a received tree may
/// have it) the tree ends there; with both gone, at the set parent above them (node 23).
#[test]
fn the_wire_tree_ends_at_the_last_non_blank_node_even_a_parent() {
    let (base, _) = fixture();
    let t = &base.tree;
    assert_eq!(t.size().leaves(), 16);
    assert_eq!(t.last_non_blank(), Some(NodeIndex(24)));
    assert_eq!(t.to_wire().0.len(), 25);
    assert_eq!(t.wire_layout().unwrap().nodes, 25);
    let mut staged = t.stage();
    let parent = t.parent(NodeIndex(1)).cloned().unwrap();
    staged.put(
        NodeIndex(25),
        Some(std::sync::Arc::new(Node::Parent(parent))),
    );
    assert_eq!(staged.last_non_blank(), Some(NodeIndex(25)));
    assert_eq!(staged.to_wire().0.len(), 26);
    assert_eq!(staged.wire_layout().unwrap().nodes, 26);
    staged.put(NodeIndex(24), None);
    assert_eq!(staged.last_non_blank(), Some(NodeIndex(25)));
    staged.put(NodeIndex(25), None);
    // Node 23 (leaves 8-15) is set in the fixture: it now ends the tree.
    assert_eq!(staged.last_non_blank(), Some(NodeIndex(23)));
    assert_eq!(staged.to_wire().0.len(), 24);
}

/// An add puts the new leaf into its set ancestors' unmerged leaves (§12.1.1); the encoded
/// lengths kept per chunk follow those edits, and the layout built from them is the encoding.
#[test]
fn an_add_keeps_its_ancestors_chunk_lengths_current() {
    let cs = suite();
    let mut g = generate_tree(&cs, 4_200, GROUP, true).unwrap();
    g.tree.wire_layout().unwrap();
    let set: Vec<NodeIndex> = g
        .tree
        .size()
        .direct_path(LeafIndex(4_200).node())
        .filter(|p| g.tree.parent(*p).is_some())
        .collect();
    assert!(set.len() >= 2, "leaf 4,200 has set ancestors");
    let chunk = |t: &Tree, c: usize| -> usize {
        t.nodes
            .iter()
            .skip(c * super::cow::CHUNK)
            .take(super::cow::CHUNK)
            .map(Tree::node_encoded_len)
            .sum()
    };
    let known_before: Vec<Option<usize>> = set
        .iter()
        .map(|p| g.tree.nodes.known_memo(p.0 as usize / super::cow::CHUNK))
        .collect();
    assert_eq!(
        g.tree.add_leaf(new_members(&cs, 1).remove(0)).unwrap(),
        LeafIndex(4_200)
    );
    for (p, before) in set.iter().zip(known_before) {
        assert!(g.tree.parent(*p).unwrap().unmerged_leaves.contains(&4_200));
        let c = p.0 as usize / super::cow::CHUNK;
        if before.is_some() {
            assert_eq!(
                g.tree.nodes.known_memo(c),
                Some(chunk(&g.tree, c)),
                "node {}",
                p.0
            );
        }
    }
    assert_eq!(
        g.tree.to_wire_bytes().unwrap(),
        crate::codec::encode(&g.tree.to_wire()).unwrap()
    );
}

// ---- Property: any sequence of adds, removes and updates keeps the caches exact. ----

fn fixture() -> &'static (GeneratedTree, Vec<LeafNode>) {
    static F: std::sync::OnceLock<(GeneratedTree, Vec<LeafNode>)> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let cs = suite();
        (
            generate_tree(&cs, 13, GROUP, true).unwrap(),
            new_members(&cs, 16),
        )
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    #[test]
    fn random_changes_keep_hashes_counts_and_original_exact(
        ops in proptest::collection::vec((0u8..3, 0u32..64), 1..40)
    ) {
        let cs = suite();
        let (base, pool) = fixture();
        let base_wire = base.tree.to_wire();
        // Chunk lengths known before the changes, so that the changes keep them current.
        base.tree.wire_layout().unwrap();
        let mut t = base.tree.stage();
        for (k, (op, x)) in ops.into_iter().enumerate() {
            let leaf = LeafIndex(x % t.size().leaves());
            match op {
                0 => {
                    t.add_leaf(pool[k % pool.len()].clone()).unwrap();
                }
                1 if t.leaf(leaf).is_some() && t.member_count() > 1 => {
                    t.remove_leaf(leaf).unwrap();
                }
                2 if t.leaf(leaf).is_some() => {
                    t.update_leaf(leaf, pool[k % pool.len()].clone()).unwrap();
                }
                _ => {}
            }
            // Hash a prefix of the steps incrementally too, and measure the tree now and then.
            if k % 3 == 0 {
                t.update_hashes(&cs).unwrap();
            }
            if k % 4 == 1 {
                t.wire_layout().unwrap();
            }
        }
        proptest::prop_assert_eq!(t.tree_hash(&cs).unwrap(), fresh_hash(&cs, &t));
        let width = t.size().node_width();
        let scan_blank = (0..t.size().leaves()).map(LeafIndex).find(|l| t.leaf(*l).is_none());
        proptest::prop_assert_eq!(t.leftmost_blank_leaf(), scan_blank);
        let scan_last = (0..width).rev().map(NodeIndex).find(|&n| {
            if n.is_leaf() { t.leaf(LeafIndex(n.0 / 2)).is_some() } else { t.parent(n).is_some() }
        });
        proptest::prop_assert_eq!(t.last_non_blank(), scan_last);
        // The layout from the kept chunk lengths, and the bytes written by it, are the
        // encoding of the tree.
        let encoded = crate::codec::encode(&t.to_wire()).unwrap();
        proptest::prop_assert_eq!(t.wire_layout().unwrap().encoded_len(), encoded.len());
        proptest::prop_assert_eq!(t.to_wire_bytes().unwrap(), encoded);
        proptest::prop_assert_eq!(t.member_count() as usize, t.leaves().count());
        for n in (0..width).map(NodeIndex) {
            let brute = {
                let (lo, hi) = crate::tree_math::TreeSize::leaf_span(n);
                let leaves_set = (lo..hi).any(|l| t.leaf(LeafIndex(l)).is_some());
                let parents_set = (lo * 2..hi * 2)
                    .map(NodeIndex)
                    .filter(|x| !x.is_leaf())
                    .any(|x| t.parent(x).is_some());
                !(leaves_set || parents_set)
            };
            proptest::prop_assert_eq!(t.resolution_is_empty(n), brute, "node {}", n.0);
        }
        // The tree ends in a non-blank leaf or has one leaf, and the original is unchanged.
        proptest::prop_assert!(t.size().leaves() == 1 || t.leaf(LeafIndex(t.size().leaves() - 1)).is_some()
            || (t.size().leaves() / 2..t.size().leaves()).any(|l| t.leaf(LeafIndex(l)).is_some()));
        proptest::prop_assert_eq!(base.tree.to_wire(), base_wire);
    }
}

/// The hash cache stores each node's tree hash in the suite's hash length: 32 bytes per slot
/// for SHA-256 suites, 48 for SHA-384, 64 for SHA-512; the tree hash read back is that length.
#[test]
fn hash_cache_slots_have_the_suites_hash_length() {
    use crate::crypto::{AwsLcSuite, CipherSuite};
    for (suite, len) in [
        (CipherSuite(1), 32),
        (CipherSuite(2), 32),
        (CipherSuite(3), 32),
        (CipherSuite(4), 64),
        (CipherSuite(5), 64),
        (CipherSuite(6), 64),
        (CipherSuite(7), 48),
    ] {
        let cs = AwsLcSuite::new(suite).unwrap();
        let g = generate_tree(&cs, 5, GROUP, true).unwrap();
        assert_eq!(g.tree.hashes.slot_len(), len, "suite {suite:?}");
        let mut t = g.tree.clone();
        assert_eq!(t.tree_hash(&cs).unwrap().len(), len);
        // A hash of another length is refused, not stored truncated.
        let wrong = Digest::from_slice(&vec![7; len - 1]).unwrap();
        assert!(t.hashes.set(0, &wrong).is_err());
        assert!(t
            .hashes
            .set(usize::MAX, &t.cached_hash(NodeIndex(0)))
            .is_err());
    }
}
