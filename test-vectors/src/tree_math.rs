//! `tree-math.json`: RFC 9420 Appendix C array-index functions.

use mls_engine::tree_math::{NodeIndex, TreeSize};
use serde::Deserialize;

/// One case: relations indexed by node, `null` where there is none.
#[derive(Deserialize)]
pub(crate) struct Case {
    n_leaves: u32,
    n_nodes: u32,
    root: u32,
    left: Vec<Option<u32>>,
    right: Vec<Option<u32>>,
    parent: Vec<Option<u32>>,
    sibling: Vec<Option<u32>>,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let t = TreeSize::new(case.n_leaves).ok_or("n_leaves is not a power of two")?;
    if t.node_width() != case.n_nodes {
        return Err(format!("n_nodes {} != {}", t.node_width(), case.n_nodes));
    }
    if t.root().0 != case.root {
        return Err(format!("root {} != {}", t.root().0, case.root));
    }
    let width = case.n_nodes as usize;
    for (name, col) in [
        ("left", &case.left),
        ("right", &case.right),
        ("parent", &case.parent),
        ("sibling", &case.sibling),
    ] {
        if col.len() != width {
            return Err(format!("{name} has {} entries, want {width}", col.len()));
        }
    }
    for x in 0..case.n_nodes {
        let n = NodeIndex(x);
        let i = x as usize;
        let got = [
            ("left", n.left(), case.left[i]),
            ("right", n.right(), case.right[i]),
            ("parent", t.parent(n), case.parent[i]),
            ("sibling", t.sibling(n), case.sibling[i]),
        ];
        for (name, ours, want) in got {
            if ours.map(|n| n.0) != want {
                return Err(format!("{name}({x}) = {ours:?}, want {want:?}"));
            }
        }
    }
    Ok(())
}
