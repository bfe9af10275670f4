//! Deterministic set-ups shared by the tests, the benchmarks, the heap profile and the
//! crash-test child: a suite, KeyPackages, a group with a committer and one engine-side
//! member, an observer of it, and the crash child's script format.
//!
//! Nothing here is used by the engine itself.

use std::sync::OnceLock;

use mls_engine::codec::encode;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_engine::group::{
    generate_key_package, CommitOptions, Group, GroupConfig, JoinOptions, KeyPackageBundle,
    KeyPackageOptions,
};
use mls_engine::messages::{Add, Credential, MlsMessage, MlsMessageBody, Proposal};
use mls_engine::tree::LifetimePolicy;

use crate::api::BatchError;
use crate::observer::{group_info_of, Observer};

/// The time every fixture group checks lifetimes against.
pub const NOW: u64 = 1_000;

/// The AWS-LC implementation of suite 1, for the life of the process.
pub fn suite() -> Result<&'static dyn CipherSuiteProvider, BatchError> {
    static PROVIDER: OnceLock<AwsLcProvider> = OnceLock::new();
    PROVIDER
        .get_or_init(AwsLcProvider::new)
        .suite(CipherSuite(1))
        .map_err(|e| BatchError::Setup(e.to_string()))
}

/// The policy of fixture groups (lifetimes checked at [`NOW`]).
pub fn config() -> GroupConfig {
    GroupConfig::default().at_time(NOW)
}

/// A fresh KeyPackage with a basic credential `name`.
pub fn bundle(cs: &dyn CipherSuiteProvider, name: &str) -> Result<KeyPackageBundle, BatchError> {
    let (sk, _) = cs
        .signature_generate()
        .map_err(|e| BatchError::Setup(e.to_string()))?;
    Ok(generate_key_package(
        cs,
        Credential::basic(name),
        sk,
        KeyPackageOptions::new(0, u64::MAX),
    )?)
}

/// A bundle's KeyPackage as an encoded `MLSMessage`.
pub fn key_package_message(b: &KeyPackageBundle) -> Result<Vec<u8>, BatchError> {
    encode(&MlsMessage::new(MlsMessageBody::KeyPackage(
        b.key_package.clone(),
    )))
    .map_err(|e| BatchError::Decode(e.to_string()))
}

/// Creates group `group_id` with `creator` at leaf 0 and `pool[..members - 1]` added in one
/// commit; returns the creator's group and `pool[0]`'s (leaf 1, joined by Welcome). The
/// same pool can be reused across groups (keys need only be unique within one group).
pub fn group_pair(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    creator: &KeyPackageBundle,
    pool: &[KeyPackageBundle],
    members: usize,
) -> Result<(Group, Group), BatchError> {
    let others = pool
        .get(..members.saturating_sub(1))
        .ok_or_else(|| BatchError::Setup("key package pool too small".into()))?;
    let first = others
        .first()
        .ok_or_else(|| BatchError::Setup("a pair needs two members".into()))?;
    let mut a = Group::create(cs, creator, group_id.to_vec(), vec![], config())?;
    let out = a.commit(
        cs,
        CommitOptions {
            proposals: others
                .iter()
                .map(|b| {
                    Proposal::Add(Add {
                        key_package: b.key_package.clone(),
                    })
                })
                .collect(),
            ..CommitOptions::default()
        },
    )?;
    a.merge_staged_commit(out.staged)?;
    let Some(w) = out.welcome else {
        return Err(BatchError::Setup("no welcome".into()));
    };
    let b = Group::join(
        cs,
        &w,
        first,
        JoinOptions {
            config: config(),
            ..JoinOptions::default()
        },
    )?;
    Ok((a, b))
}

/// An observer of `group`, started from its GroupInfo with the ratchet tree.
pub fn observer_of(cs: &dyn CipherSuiteProvider, group: &Group) -> Result<Observer, BatchError> {
    let gi = group.group_info(cs, true)?;
    Ok(Observer::from_group_info(
        cs,
        group_info_of(&gi)?.clone(),
        None,
        LifetimePolicy::Check { now: NOW },
    )?)
}

/// A path commit by `committer` (merged into it); returns the encoded commit.
pub fn path_commit(
    cs: &dyn CipherSuiteProvider,
    committer: &mut Group,
) -> Result<Vec<u8>, BatchError> {
    let out = committer.commit(
        cs,
        CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    )?;
    let bytes = encode(&out.commit).map_err(|e| BatchError::Decode(e.to_string()))?;
    committer.merge_staged_commit(out.staged)?;
    Ok(bytes)
}

/// Length-prefixed frames (u32 big-endian), the crash child's script format.
pub fn put_frame(out: &mut Vec<u8>, frame: &[u8]) {
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
}

/// Splits [`put_frame`] output back into frames.
pub fn frames(mut bytes: &[u8]) -> Result<Vec<&[u8]>, BatchError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| BatchError::Decode("truncated frame".into()))?;
        let len = usize::try_from(u32::from_be_bytes(*len))
            .map_err(|e| BatchError::Decode(e.to_string()))?;
        if rest.len() < len {
            return Err(BatchError::Decode("truncated frame".into()));
        }
        let (f, rest) = rest.split_at(len);
        out.push(f);
        bytes = rest;
    }
    Ok(out)
}
