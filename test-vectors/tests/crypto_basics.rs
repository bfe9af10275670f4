//! Runs the official `crypto-basics.json` vectors.

#[test]
fn official_crypto_basics() {
    let Some(path) = test_vectors::official_file("crypto-basics") else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("vector file readable");
    match &outcome {
        test_vectors::Outcome::Checked { passed, failures } => {
            assert!(failures.is_empty(), "failures: {failures:#?}");
            assert_eq!(*passed, 7, "expected 7 cases");
        }
        test_vectors::Outcome::Unsupported => panic!("crypto-basics not wired"),
    }
}
