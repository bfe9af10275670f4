//! Runs the official `tree-operations.json` through the runner.

#[test]
fn official_tree_operations() {
    let Some(path) = test_vectors::official_file("tree-operations") else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("readable");
    assert!(outcome.all_passed(), "{outcome:?}");
    let test_vectors::Outcome::Checked { passed, .. } = outcome else {
        unreachable!()
    };
    assert_eq!(passed, 5);
}
