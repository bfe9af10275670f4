//! Conformance: runs the MLS working group's official test-vector files against mls-engine.
//!
//! Each file layout is a [`Kind`], recognised from the file name (any name starting with
//! `passive-client` is the passive-client layout) or named explicitly. A kind the runner cannot
//! check yet is reported as [`Outcome::Unsupported`], never as passed.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

mod crypto_basics;
mod deserialization;
mod hexbytes;
mod key_schedule;
mod message_protection;
mod messages;
mod passive_client;
mod psk_secret;
mod secret_tree;
mod transcript_hashes;
mod tree_math;
mod tree_operations;
mod tree_validation;
mod treekem;
mod welcome;

pub use hexbytes::HexBytes;

/// The layouts of the official vector files, named by their file stems.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `tree-math.json`
    TreeMath,
    /// `crypto-basics.json`
    CryptoBasics,
    /// `deserialization.json`
    Deserialization,
    /// `messages.json`
    Messages,
    /// `secret-tree.json`
    SecretTree,
    /// `message-protection.json`
    MessageProtection,
    /// `key-schedule.json`
    KeySchedule,
    /// `psk_secret.json`
    PskSecret,
    /// `transcript-hashes.json`
    TranscriptHashes,
    /// `welcome.json`
    Welcome,
    /// `tree-operations.json`
    TreeOperations,
    /// `tree-validation.json`
    TreeValidation,
    /// `treekem.json`
    TreeKem,
    /// `passive-client-*.json`
    PassiveClient,
}

impl Kind {
    /// Every kind with its official file stem.
    pub const ALL: [(Kind, &'static str); 14] = [
        (Kind::TreeMath, "tree-math"),
        (Kind::CryptoBasics, "crypto-basics"),
        (Kind::Deserialization, "deserialization"),
        (Kind::Messages, "messages"),
        (Kind::SecretTree, "secret-tree"),
        (Kind::MessageProtection, "message-protection"),
        (Kind::KeySchedule, "key-schedule"),
        (Kind::PskSecret, "psk_secret"),
        (Kind::TranscriptHashes, "transcript-hashes"),
        (Kind::Welcome, "welcome"),
        (Kind::TreeOperations, "tree-operations"),
        (Kind::TreeValidation, "tree-validation"),
        (Kind::TreeKem, "treekem"),
        (Kind::PassiveClient, "passive-client"),
    ];

    /// The kind named by an official file stem (`passive-client-*` stems all map to
    /// [`Kind::PassiveClient`]).
    pub fn from_stem(stem: &str) -> Option<Kind> {
        if stem.starts_with("passive-client") {
            return Some(Kind::PassiveClient);
        }
        Self::ALL.iter().find(|(_, s)| *s == stem).map(|(k, _)| *k)
    }

    /// The kind of a vector file, from its name.
    pub fn from_path(path: &Path) -> Option<Kind> {
        let stem = path.file_stem()?.to_str()?;
        Self::from_stem(stem)
    }
}

/// What checking one file gave.
#[derive(Debug)]
pub enum Outcome {
    /// Every case was checked: how many passed, and a message per failed case.
    Checked {
        /// Cases that passed.
        passed: usize,
        /// One message per failed case, naming the case index.
        failures: Vec<String>,
    },
    /// The runner cannot check this layout yet.
    Unsupported,
}

impl Outcome {
    /// True when every case was checked and none failed.
    pub fn all_passed(&self) -> bool {
        matches!(self, Outcome::Checked { failures, .. } if failures.is_empty())
    }
}

/// Checks every case of one JSON array of `T`, with `check` returning `Err(reason)` on failure.
/// A case that panics counts as failed, with the panic message.
pub(crate) fn check_cases<T: DeserializeOwned>(
    json: &str,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Outcome, String> {
    let cases: Vec<T> = serde_json::from_str(json).map_err(|e| format!("bad JSON: {e}"))?;
    let mut passed = 0;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case)));
        match result {
            Ok(Ok(())) => passed += 1,
            Ok(Err(e)) => failures.push(format!("case {i}: {e}")),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("case {i}: panicked: {msg}"));
            }
        }
    }
    Ok(Outcome::Checked { passed, failures })
}

/// Checks one vector file's JSON text as layout `kind`.
pub fn check_json(kind: Kind, json: &str) -> Result<Outcome, String> {
    match kind {
        Kind::TreeMath => check_cases(json, tree_math::check),
        Kind::CryptoBasics => check_cases(json, crypto_basics::check),
        Kind::Deserialization => check_cases(json, deserialization::check),
        Kind::Messages => check_cases(json, messages::check),
        Kind::MessageProtection => check_cases(json, message_protection::check),
        Kind::Welcome => check_cases(json, welcome::check),
        Kind::KeySchedule => check_cases(json, key_schedule::check),
        Kind::PskSecret => check_cases(json, psk_secret::check),
        Kind::SecretTree => check_cases(json, secret_tree::check),
        Kind::TranscriptHashes => check_cases(json, transcript_hashes::check),
        Kind::TreeValidation => check_cases(json, tree_validation::check),
        Kind::TreeOperations => check_cases(json, tree_operations::check),
        Kind::TreeKem => check_cases(json, treekem::check),
        Kind::PassiveClient => check_cases(json, passive_client::check),
    }
}

/// Checks one vector file; its kind comes from `kind` or else from its name.
pub fn check_file(path: &Path, kind: Option<Kind>) -> Result<Outcome, String> {
    let kind = kind
        .or_else(|| Kind::from_path(path))
        .ok_or_else(|| format!("{}: unknown vector layout (use --kind)", path.display()))?;
    let json = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    check_json(kind, &json)
}

/// The folder of the official vectors: `MLS_TEST_VECTORS` if set, else `../shared/test-vectors`
/// beside the workspace root.
pub fn vector_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MLS_TEST_VECTORS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors")
}

/// The path of an official vector file by stem, or `None` when it is missing. Outside CI a
/// missing file is reported loudly on stderr; with `CI=true` it is a panic (a test failure).
pub fn official_file(stem: &str) -> Option<PathBuf> {
    let path = vector_dir().join(format!("{stem}.json"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("official vector {} is missing (CI=true)", path.display());
    }
    eprintln!(
        "!!! official vector {} is missing: its conformance test did NOT run. Set MLS_TEST_VECTORS.",
        path.display()
    );
    None
}
