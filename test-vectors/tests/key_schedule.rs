//! Runs the official `key-schedule.json` through the runner.

#[test]
fn official_key_schedule() {
    let Some(path) = test_vectors::official_file("key-schedule") else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("readable");
    assert!(outcome.all_passed(), "{outcome:?}");
    let test_vectors::Outcome::Checked { passed, .. } = outcome else {
        unreachable!()
    };
    assert_eq!(passed, 7);
}
