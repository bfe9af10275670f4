//! The runner itself: layout detection and the refusal to call an unchecked layout passed.

use std::path::Path;

use test_vectors::{check_json, Kind, Outcome};

#[test]
fn layouts_are_recognised_by_file_name() {
    assert_eq!(
        Kind::from_path(Path::new("/x/tree-math.json")),
        Some(Kind::TreeMath)
    );
    assert_eq!(
        Kind::from_path(Path::new("psk_secret.json")),
        Some(Kind::PskSecret)
    );
    for stem in [
        "passive-client-welcome",
        "passive-client-random",
        "passive-client-mine",
    ] {
        assert_eq!(Kind::from_stem(stem), Some(Kind::PassiveClient), "{stem}");
    }
    assert_eq!(Kind::from_stem("tree_math"), None);
    for (kind, stem) in Kind::ALL {
        assert_eq!(Kind::from_stem(stem), Some(kind));
    }
}

#[test]
fn a_failing_case_is_counted_as_failed() {
    // n_nodes is wrong for 2 leaves.
    let json = r#"[{"n_leaves":2,"n_nodes":4,"root":1,"left":[null,0,null],"right":[null,2,null],
                   "parent":[1,null,1],"sibling":[2,null,0]}]"#;
    let outcome = check_json(Kind::TreeMath, json).unwrap();
    let Outcome::Checked { passed, failures } = outcome else {
        panic!("not checked")
    };
    assert_eq!((passed, failures.len()), (0, 1));
}

#[test]
fn malformed_json_is_an_error() {
    assert!(check_json(Kind::TreeMath, "{").is_err());
}
