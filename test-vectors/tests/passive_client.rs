//! Runs the official `passive-client-*.json` vectors: join by Welcome, then process every
//! epoch's proposals and commit, comparing epoch authenticators.

fn run(stem: &str, cases: usize) {
    let Some(path) = test_vectors::official_file(stem) else {
        return;
    };
    let outcome = test_vectors::check_file(&path, None).expect("vector file readable");
    match &outcome {
        test_vectors::Outcome::Checked { passed, failures } => {
            assert!(failures.is_empty(), "{stem} failures: {failures:#?}");
            assert_eq!(*passed, cases, "{stem}: expected {cases} cases");
        }
        test_vectors::Outcome::Unsupported => panic!("{stem} not wired"),
    }
}

#[test]
fn official_passive_client_welcome() {
    run("passive-client-welcome", 56);
}

#[test]
fn official_passive_client_handling_commit() {
    run("passive-client-handling-commit", 91);
}

#[test]
fn official_passive_client_random() {
    run("passive-client-random", 1);
}
