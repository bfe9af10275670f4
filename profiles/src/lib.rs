//! Workload profiles: small TOML files that name a cipher suite, a population of groups, churn,
//! application traffic, a commit policy and a length, all driven from one seed.
//!
//! [`Profile::load`] parses and validates a profile; an invalid one gets one error that names
//! the offending field. The shipped profiles live beside this crate (`profiles/*.toml`).
//!
//! [`sim`] runs a profile: every member a real MLS client, every commit processed by the
//! processing members, every result checked. The `loadgen` CLI and the `heap` runner of this
//! crate both call it (it lives here because `loadgen` depends on this crate).

pub mod sim;

use std::path::Path;

use mls_engine::crypto::CipherSuite;
use serde::Deserialize;

/// How many members each group has.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Members {
    /// Every group has `value` members.
    Fixed {
        /// Members per group.
        value: u32,
    },
    /// Each group draws its size uniformly from `min..=max`.
    Uniform {
        /// Smallest group.
        min: u32,
        /// Largest group.
        max: u32,
    },
}

/// The groups to simulate.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    /// How many groups.
    pub count: u32,
    /// Their sizes.
    pub members: Members,
}

/// Membership churn, per minute of simulated time, per group.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Members added per minute.
    #[serde(default)]
    pub adds_per_minute: f64,
    /// Members removed per minute.
    #[serde(default)]
    pub removes_per_minute: f64,
    /// Leaf updates per minute.
    #[serde(default)]
    pub updates_per_minute: f64,
}

/// Application traffic, per group.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    /// Application messages per minute.
    #[serde(default)]
    pub per_minute: f64,
    /// Plaintext size in bytes.
    #[serde(default = "default_message_size")]
    pub size: u32,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            per_minute: 0.0,
            size: default_message_size(),
        }
    }
}

fn default_message_size() -> u32 {
    1024
}

/// Who commits pending proposals.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Committer {
    /// The group's creator commits everything.
    #[default]
    Creator,
    /// A member drawn at random commits.
    RandomMember,
}

/// The commit policy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommitPolicy {
    /// Who commits.
    #[serde(default)]
    pub committer: Committer,
    /// Whether commits carry an UpdatePath.
    #[serde(default = "yes")]
    pub with_path: bool,
}

impl Default for CommitPolicy {
    fn default() -> Self {
        Self {
            committer: Committer::Creator,
            with_path: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// How long the run lasts: a simulated duration or an operation count.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Length {
    /// Simulated minutes.
    pub minutes: Option<f64>,
    /// Operations (commits plus messages) in all.
    pub operations: Option<u64>,
}

/// How many members of each group actively process every commit and message.
///
/// Written `"all"` (the default) or a number: the creator plus members drawn from the seed.
/// Members added during the run always join and process. The others keep their own keys but
/// hold no group state (they are leaves of the tree that never act).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ProcessingMembers {
    /// A word: only `"all"` is accepted.
    Word(String),
    /// This many members per group (at most the group's size).
    Count(u32),
}

impl Default for ProcessingMembers {
    fn default() -> Self {
        Self::Word("all".into())
    }
}

impl ProcessingMembers {
    /// How many of a group of `size` members process.
    pub fn of(&self, size: u32) -> u32 {
        match self {
            Self::Word(_) => size,
            Self::Count(n) => (*n).min(size),
        }
    }

    /// `"all"` or the number, for reports.
    pub fn describe(&self) -> String {
        match self {
            Self::Word(_) => "all".into(),
            Self::Count(n) => format!("{n} per group"),
        }
    }
}

/// One workload profile.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// RFC 9420 cipher suite number (1 to 7).
    pub cipher_suite: u16,
    /// Seed of every random choice: the same seed gives the same run.
    pub seed: u64,
    /// The groups.
    pub groups: Groups,
    /// Membership churn.
    #[serde(default)]
    pub churn: Churn,
    /// Application traffic.
    #[serde(default)]
    pub messages: Messages,
    /// Commit policy.
    #[serde(default)]
    pub commit: CommitPolicy,
    /// Run length.
    pub length: Length,
    /// How many members per group process every commit and message (default: all).
    #[serde(default)]
    pub processing_members: ProcessingMembers,
}

/// A profile that cannot be used, naming the field at fault.
#[derive(Debug, PartialEq)]
pub struct ProfileError {
    /// The dotted path of the offending field (or `file` / `toml`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid profile: field `{}`: {}",
            self.field, self.reason
        )
    }
}

impl std::error::Error for ProfileError {}

fn bad(field: &str, reason: impl Into<String>) -> ProfileError {
    ProfileError {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad("file", format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses and validates profile text.
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| {
            // toml reports the offending key in its message; pull out the span's key when we can.
            let msg = e.message().to_string();
            let field = e
                .span()
                .and_then(|s| text.get(s))
                .map(|s| s.split('=').next().unwrap_or(s).trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "toml".to_string());
            bad(&field, msg)
        })?;
        profile.validate()?;
        Ok(profile)
    }

    /// The profile's cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        CipherSuite(self.cipher_suite)
    }

    fn validate(&self) -> Result<(), ProfileError> {
        if !(1..=7).contains(&self.cipher_suite) {
            return Err(bad(
                "cipher_suite",
                format!("{} is not an RFC 9420 suite (1-7)", self.cipher_suite),
            ));
        }
        if self.groups.count == 0 {
            return Err(bad("groups.count", "must be at least 1"));
        }
        match self.groups.members {
            Members::Fixed { value: 0 } => {
                return Err(bad("groups.members.value", "must be at least 1"))
            }
            Members::Uniform { min, max } if min == 0 || min > max => {
                return Err(bad("groups.members", "need 1 <= min <= max"))
            }
            _ => {}
        }
        for (field, v) in [
            ("churn.adds_per_minute", self.churn.adds_per_minute),
            ("churn.removes_per_minute", self.churn.removes_per_minute),
            ("churn.updates_per_minute", self.churn.updates_per_minute),
            ("messages.per_minute", self.messages.per_minute),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(field, "must be a finite number >= 0"));
            }
        }
        match &self.processing_members {
            ProcessingMembers::Word(w) if w != "all" => {
                return Err(bad(
                    "processing_members",
                    format!("\"{w}\" is neither \"all\" nor a number"),
                ))
            }
            ProcessingMembers::Count(0) => {
                return Err(bad("processing_members", "must be at least 1"))
            }
            _ => {}
        }
        match (self.length.minutes, self.length.operations) {
            (None, None) => return Err(bad("length", "give minutes or operations")),
            (Some(m), _) if !(m.is_finite() && m > 0.0) => {
                return Err(bad("length.minutes", "must be a finite number > 0"))
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
cipher_suite = 1
seed = 7
groups = { count = 2, members = { distribution = "uniform", min = 3, max = 9 } }
churn = { adds_per_minute = 1.5 }
length = { operations = 10 }
"#;

    #[test]
    fn shipped_profiles_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.file_name() != Some("Cargo.toml".as_ref())
            {
                let p = Profile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    Some(p.name.as_str()),
                    path.file_stem().and_then(|s| s.to_str())
                );
                n += 1;
            }
        }
        assert!(n >= 2, "expected the shipped profiles, found {n}");
    }

    #[test]
    fn a_good_profile_parses() {
        let p = Profile::parse(GOOD).unwrap();
        assert_eq!(p.groups.members, Members::Uniform { min: 3, max: 9 });
        assert_eq!(p.churn.adds_per_minute, 1.5);
        assert_eq!(p.messages.size, 1024);
        assert!(p.commit.with_path);
    }

    #[test]
    fn invalid_profiles_name_the_field() {
        let cases = [
            (
                GOOD.replace("cipher_suite = 1", "cipher_suite = 9"),
                "cipher_suite",
            ),
            (GOOD.replace("count = 2", "count = 0"), "groups.count"),
            (GOOD.replace("min = 3", "min = 10"), "groups.members"),
            (
                GOOD.replace("adds_per_minute = 1.5", "adds_per_minute = -1.0"),
                "churn.adds_per_minute",
            ),
            (
                GOOD.replace("length = { operations = 10 }", "length = {}"),
                "length",
            ),
            (
                format!("processing_members = \"some\"\n{GOOD}"),
                "processing_members",
            ),
            (
                format!("processing_members = 0\n{GOOD}"),
                "processing_members",
            ),
        ];
        for (text, field) in cases {
            let err = Profile::parse(&text).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
        let unknown = format!("{GOOD}\nbogus = 1\n");
        let err = Profile::parse(&unknown).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
