//! Runs the official `tree-validation.json` through the runner.

#[test]
fn official_tree_validation() {
    let Some(path) = test_vectors::official_file("tree-validation") else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("readable");
    assert!(outcome.all_passed(), "{outcome:?}");
    let test_vectors::Outcome::Checked { passed, .. } = outcome else {
        unreachable!()
    };
    assert_eq!(passed, 98);
}
