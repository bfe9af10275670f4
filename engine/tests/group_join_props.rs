//! Property tests for `Group::join`: a valid Welcome whose GroupSecrets or GroupInfo (tree
//! included) is edited, then signed, encrypted and sealed again as the committer would, is
//! joined through both entry points with the same answer, refused with a typed error when it
//! should be, and, when accepted, holds exactly the GroupContext and tree it was sent.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The harnesses the cargo-fuzz target `join_welcome` runs (`join.rs` uses `group.rs`'s
// suite, KeyPackages and edit scripts). Here they run on random scripts in the test command,
// so the fuzz target's code is built and exercised on every CI run.
#[path = "../../fuzz/src/group.rs"]
#[allow(unreachable_pub, dead_code)] // public for the fuzz crate, which exports it
mod group;
#[path = "../../fuzz/src/join.rs"]
#[allow(unreachable_pub)]
mod join;

use join::{join_edited, join_fixture};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Edits of the joiner's GroupSecrets: the joiner secret, the path secret, the PSKs.
    #[test]
    fn edited_group_secrets(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        join_edited(&[[0u8].as_slice(), &script].concat());
    }

    /// Edits of the GroupInfo, signed again as they are (mostly refused by the tree hash).
    #[test]
    fn edited_group_info(script in proptest::collection::vec(any::<u8>(), 4..16)) {
        join_edited(&[[1u8].as_slice(), &script].concat());
    }

    /// Edits of the GroupInfo made consistent (tree hash, confirmation tag): they reach the
    /// tree's validation, the joiner's leaf and the path secret's keys.
    #[test]
    fn edited_group_info_made_consistent(
        script in proptest::collection::vec(any::<u8>(), 4..16)
    ) {
        join_edited(&[[2u8].as_slice(), &script].concat());
    }
}

/// The harness is live: the unedited plaintexts join (with the checks of `join_edited`), and
/// a fixed sample of edits of each kind reaches past decoding into the joiner's checks: the
/// path secret's keys, the tree's validation, the signer, and joins that succeed.
#[test]
fn edits_reach_the_joiners_checks() {
    use mls_engine::group::{GroupError, JoinCheck, ProtocolError};
    assert!(!join_fixture().group_info.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for pick in 0..3u8 {
        assert!(
            join_edited(&[pick]).unwrap().is_ok(),
            "unedited, target {pick}"
        );
        for script in group::sample_scripts(0x9e37_79b9_7f4a_7c15 + u64::from(pick), 400) {
            let data = [[pick].as_slice(), &script].concat();
            let kind = match join_edited(&data).unwrap() {
                Ok(_) => "joined",
                Err(GroupError::Malformed(_)) => "malformed",
                Err(GroupError::Protocol(ProtocolError::Welcome(JoinCheck::PathSecret(_)))) => {
                    "path secret"
                }
                Err(GroupError::Protocol(ProtocolError::TreeValidation(_))) => "tree",
                Err(GroupError::Protocol(ProtocolError::Welcome(JoinCheck::Welcome(_)))) => {
                    "signature or tag"
                }
                Err(_) => "other",
            };
            seen.insert((pick, kind));
        }
    }
    for expected in [
        (0, "malformed"),
        (0, "path secret"),
        (0, "signature or tag"),
        (1, "malformed"),
        (1, "tree"),
        (2, "tree"),
        (2, "joined"),
    ] {
        assert!(seen.contains(&expected), "no {expected:?} among {seen:?}");
    }
}

/// RFC 9420 §13 on a received GroupInfo, signed and made consistent by the committer: a
/// GroupContext extension the joiner's capabilities do not list, and an extension type twice
/// (in the GroupInfo's extensions or the GroupContext's), are refused; the unedited one joins.
#[test]
fn group_info_extension_lists_are_checked() {
    use mls_engine::codec::{decode_exact, VarBytes};
    use mls_engine::group::{GroupError, JoinCheck, ProtocolError};
    use mls_engine::messages::{Extension, ExtensionType, GroupInfo};
    let gi = decode_exact::<GroupInfo>(&join_fixture().group_info).unwrap();
    assert!(join::join_group_info(&gi).is_ok());
    let refused = |e: JoinCheck| Err(GroupError::Protocol(ProtocolError::Welcome(e)));
    let unknown = Extension {
        extension_type: ExtensionType(0xff00),
        extension_data: VarBytes(vec![]),
    };

    let mut unsupported = gi.clone();
    unsupported.group_context.extensions.0.push(unknown.clone());
    assert_eq!(
        join::join_group_info(&unsupported).map(drop),
        refused(JoinCheck::UnsupportedGroupExtension(0xff00))
    );

    let mut twice = gi.clone();
    twice
        .group_context
        .extensions
        .0
        .extend([unknown.clone(), unknown]);
    assert_eq!(
        join::join_group_info(&twice).map(drop),
        refused(JoinCheck::DuplicateExtension(0xff00))
    );

    let mut tree_twice = gi.clone();
    let tree = tree_twice.extensions.0[0].clone();
    assert_eq!(tree.extension_type, ExtensionType::RATCHET_TREE);
    tree_twice.extensions.0.push(tree);
    assert_eq!(
        join::join_group_info(&tree_twice).map(drop),
        refused(JoinCheck::DuplicateExtension(ExtensionType::RATCHET_TREE.0))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Edits of a GroupInfo for external joiners, signed again (tree hash made to match when
    /// `fix`): an external commit built on it is in the right group and epoch, and a member
    /// accepting it agrees with the joiner.
    #[test]
    fn edited_external_group_info(
        fix in any::<bool>(),
        script in proptest::collection::vec(any::<u8>(), 4..16),
    ) {
        join::external_join_edited(&[[u8::from(fix)].as_slice(), &script].concat());
    }
}

/// The external join harness is live: the unedited GroupInfo joins (and the committer accepts
/// the commit, checked inside), and a fixed sample of edits reaches both refusals and joins.
#[test]
fn external_join_edits_reach_the_joiners_checks() {
    assert!(matches!(join::external_join_edited(&[0]), Some(Ok(_))));
    assert!(matches!(join::external_join_edited(&[1]), Some(Ok(_))));
    let (mut joined, mut refused) = (0, 0);
    for script in group::sample_scripts(0xe7e7, 300) {
        match join::external_join_edited(&[[1u8].as_slice(), &script].concat()) {
            Some(Ok(_)) => joined += 1,
            Some(Err(_)) => refused += 1,
            None => {}
        }
    }
    assert!(
        joined > 0 && refused > 0,
        "joined {joined}, refused {refused}"
    );
}
