//! Runs the official `messages.json` through the runner; every case must pass.

use test_vectors::{check_file, official_file, Kind, Outcome};

#[test]
fn official_messages_vectors_pass() {
    let Some(path) = official_file("messages") else {
        return;
    };
    let outcome = check_file(&path, Some(Kind::Messages)).expect("vector file readable");
    match outcome {
        Outcome::Checked { passed, failures } => {
            assert!(
                failures.is_empty(),
                "{} failed: {failures:#?}",
                failures.len()
            );
            assert!(passed > 0, "no cases in the file");
        }
        Outcome::Unsupported => panic!("messages layout not supported"),
    }
}
