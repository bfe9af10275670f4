//! End-to-end tests of `loadgen run`: the smoke profile runs with every operation kind and
//! every member agreeing, the JSON and file outputs, invalid profiles, determinism and Ctrl-C.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn profile(name: &str) -> String {
    format!("{}/../profiles/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("run loadgen")
}

fn ok_json(args: &[&str]) -> Value {
    let out = loadgen(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn count(report: &Value, op: &str) -> u64 {
    report["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == op)
        .unwrap_or_else(|| panic!("no op {op}"))["count"]
        .as_u64()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn smoke_covers_every_operation_and_everyone_agrees() {
    let out = loadgen(&["run", &profile("smoke")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 disagreements"), "{stdout}");
    for op in [
        "key_package",
        "create",
        "join",
        "commit_populate",
        "commit_add",
        "commit_remove",
        "commit_update_path",
        "process_commit",
        "protect",
        "unprotect",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(op)),
            "no row for {op}: {stdout}"
        );
    }
    let r = ok_json(&["run", &profile("smoke"), "--json"]);
    for op in [
        "key_package",
        "create",
        "join",
        "commit_populate",
        "commit_add",
        "commit_remove",
        "commit_update_path",
        "process_commit",
        "protect",
        "unprotect",
    ] {
        assert!(count(&r, op) > 0, "{op} never ran: {r}");
    }
    assert!(r["agreement_checks"].as_u64().unwrap() > 0);
    assert_eq!(r["disagreements"], 0);
    assert_eq!(r["interrupted"], false);
    assert_eq!(r["operations"], 50);
}

#[test]
fn update_proposals_without_path_and_random_committers() {
    let dir = scratch("proposals");
    let text = std::fs::read_to_string(profile("smoke"))
        .unwrap()
        .replace("name = \"smoke\"", "name = \"proposals\"")
        .replace(
            "commit = { committer = \"creator\", with_path = true }",
            "commit = { committer = \"random-member\", with_path = false }",
        )
        .replace("updates_per_minute = 3", "updates_per_minute = 12");
    let path = dir.join("proposals.toml");
    std::fs::write(&path, text).unwrap();
    let r = ok_json(&["run", path.to_str().unwrap(), "--json"]);
    for op in [
        "propose_update",
        "process_proposal",
        "commit_update_proposal",
        "commit_add",
        "commit_remove",
    ] {
        assert!(count(&r, op) > 0, "{op} never ran: {r}");
    }
    assert_eq!(count(&r, "commit_update_path"), 0);
}

#[test]
fn json_has_the_expected_keys() {
    let r = ok_json(&["run", &profile("smoke"), "--json", "--quiet"]);
    for key in [
        "profile",
        "seed",
        "cipher_suite",
        "groups",
        "members_initial",
        "members_final",
        "processing_members",
        "application_decrypted_by",
        "operations",
        "events",
        "simulated_minutes",
        "wall_seconds",
        "interrupted",
        "agreement_checks",
        "sequence_digest",
        "ops",
        "wire",
        "peak_rss_bytes",
    ] {
        assert!(r.get(key).is_some(), "missing {key}: {r}");
    }
    let op = &r["ops"][0];
    for key in [
        "op",
        "count",
        "per_second",
        "mean_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "max_us",
    ] {
        assert!(op.get(key).is_some(), "missing ops[].{key}: {op}");
    }
    let kinds: Vec<&str> = r["wire"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    for kind in ["application", "welcome", "commit_add", "key_package"] {
        assert!(kinds.contains(&kind), "no wire stats for {kind}: {kinds:?}");
    }
    assert_eq!(r["processing_members"], "all");
}

#[test]
fn out_writes_csv_and_svg() {
    let dir = scratch("out");
    let out = loadgen(&["run", &profile("smoke"), "--out", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let csv = std::fs::read_to_string(dir.join("operations.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("offset_ms,op,latency_us"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    for row in &rows {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 3, "{row}");
        assert!(
            f[0].parse::<f64>().is_ok() && f[2].parse::<f64>().is_ok(),
            "{row}"
        );
    }
    assert!(rows.iter().any(|r| r.contains(",process_commit,")));
    let svg = std::fs::read_to_string(dir.join("latency.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<circle"));
}

#[test]
fn invalid_profile_exits_2_naming_the_field() {
    let dir = scratch("invalid");
    let path = dir.join("bad.toml");
    let text = std::fs::read_to_string(profile("smoke"))
        .unwrap()
        .replace("cipher_suite = 1", "cipher_suite = 42");
    std::fs::write(&path, text).unwrap();
    let out = loadgen(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`cipher_suite`"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");

    let out = loadgen(&["run", "/nonexistent/profile.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = loadgen(&["demo"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn same_seed_same_operations() {
    let a = ok_json(&["run", &profile("smoke"), "--json"]);
    let b = ok_json(&["run", &profile("smoke"), "--json"]);
    assert_eq!(a["sequence_digest"], b["sequence_digest"]);
    assert_eq!(a["events"], b["events"]);
    assert_eq!(a["members_final"], b["members_final"]);
    for op in a["ops"].as_array().unwrap() {
        let name = op["op"].as_str().unwrap();
        assert_eq!(op["count"].as_u64(), Some(count(&b, name)), "{name}");
    }
    // And a different seed gives a different sequence.
    let dir = scratch("seed");
    let path = dir.join("smoke.toml");
    let text = std::fs::read_to_string(profile("smoke"))
        .unwrap()
        .replace("seed = 1", "seed = 2");
    std::fs::write(&path, text).unwrap();
    let c = ok_json(&["run", path.to_str().unwrap(), "--json"]);
    assert_ne!(a["sequence_digest"], c["sequence_digest"]);
}

#[test]
fn sigint_stops_with_a_partial_report() {
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", &profile("default"), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    std::thread::sleep(Duration::from_secs(2));
    let pid = i32::try_from(child.id()).unwrap();
    // kill(1), not libc::kill: the workspace forbids `unsafe`.
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["disagreements"], 0);
}
