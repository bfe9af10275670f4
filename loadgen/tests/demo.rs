//! The demo job runs end to end for every suite and every member recovers the secret.

use std::process::Command;

#[test]
fn demo_runs_every_suite() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["demo", "--members", "24"])
        .output()
        .expect("run loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for suite in 1..=7 {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&suite.to_string()))
            .unwrap_or_else(|| panic!("no row for suite {suite}: {stdout}"));
        assert_eq!(
            row.split_whitespace().last(),
            Some("0"),
            "failures in {row}"
        );
    }
}

#[test]
fn bad_arguments_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["demo", "--members", "zero"])
        .output()
        .expect("run loadgen");
    assert_eq!(out.status.code(), Some(2));
}
