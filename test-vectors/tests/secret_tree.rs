//! Runs the official `secret-tree.json` through the runner.

#[test]
fn official_secret_tree() {
    let Some(path) = test_vectors::official_file("secret-tree") else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("readable");
    assert!(outcome.all_passed(), "{outcome:?}");
    let test_vectors::Outcome::Checked { passed, .. } = outcome else {
        unreachable!()
    };
    assert_eq!(passed, 21);
}
