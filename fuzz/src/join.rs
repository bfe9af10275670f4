//! A Welcome for the join target: a group of three whose creator commits (with a path) to add a
//! joiner. The target edits the Welcome's plaintexts, the joiner's `GroupSecrets` or the
//! `GroupInfo` (tree included), and builds a Welcome around the result as the committer would:
//! the GroupInfo signed again with the committer's key and encrypted with the welcome key of the
//! (possibly edited) joiner secret, the GroupSecrets sealed to the joiner's init key with the
//! new ciphertext as HPKE `info`. So every edit reaches the joiner's own checks (§12.4.3.1)
//! instead of stopping at a signature or a decryption.
//!
//! What every run checks, beyond "no panic":
//! - joining from the decoded Welcome and from the message bytes ([`WelcomeRef`]) gives the
//!   same answer;
//! - a plaintext that does not decode is refused as `Malformed`;
//! - a join that succeeds holds what the GroupInfo says: its GroupContext, its tree (the one
//!   sent, node for node), and a state that serialises and loads back to the same bytes;
//! - the unedited plaintexts join, to the committer's epoch.
//!
//! A failed check panics: a crash for the fuzzer, a failed case for the property tests that
//! include this file (`engine/tests/group_join_props.rs`, which also includes `group.rs`).

use std::sync::OnceLock;

use mls_engine::codec::{decode_exact, encode, VarBytes, VarVec};
use mls_engine::crypto::labels::{encrypt_with_label, sign_with_label};
use mls_engine::crypto::Secret;
use mls_engine::group::*;
use mls_engine::key_schedule::JoinerSecret;
use mls_engine::messages::*;
use mls_engine::psk::PskSecret;
use mls_engine::transcript_hash::confirmation_tag;
use mls_engine::tree::Tree;
use mls_engine::welcome::{decrypt_group_info, decrypt_group_secrets, WelcomeRef};

use crate::group::{bundle, cs, edit};

/// The committer's Welcome to the joiner, opened.
pub struct JoinFixture {
    /// The committer's signature private key (it signs edited GroupInfos again).
    signer: Secret,
    /// The joiner's KeyPackage and private keys.
    pub joiner: KeyPackageBundle,
    /// The Welcome the commit built.
    pub welcome: Welcome,
    /// The joiner's GroupSecrets, encoded.
    pub group_secrets: Vec<u8>,
    /// The GroupInfo, encoded.
    pub group_info: Vec<u8>,
    /// The committer's epoch authenticator once the commit is merged.
    pub authenticator: Vec<u8>,
    /// The committer once the commit is merged (it judges external commits).
    pub committer: Group,
    /// The committer's GroupInfo for external joiners (tree and `external_pub`), encoded.
    pub external_group_info: Vec<u8>,
}

/// Join options for the fixture's time (the KeyPackages' lifetimes are checked against it).
fn options() -> JoinOptions {
    JoinOptions {
        config: GroupConfig::default().at_time(1_000),
        ..JoinOptions::default()
    }
}

/// Built once per process: a group of three (added without a path), then a path commit by the
/// creator adding the joiner, so the GroupSecrets carry a path secret and the tree has blank
/// and unmerged nodes.
pub fn join_fixture() -> &'static JoinFixture {
    static F: OnceLock<JoinFixture> = OnceLock::new();
    F.get_or_init(|| {
        let cs = cs();
        let config = GroupConfig::default().at_time(1_000);
        let creator = bundle("creator");
        let mut g = Group::create(cs, &creator, b"join".to_vec(), vec![], config).expect("create");
        let adds = ["m1", "m2"].map(|name| {
            Proposal::Add(Add {
                key_package: bundle(name).key_package,
            })
        });
        let out = g
            .commit(
                cs,
                CommitOptions {
                    proposals: adds.to_vec(),
                    ..CommitOptions::default()
                },
            )
            .expect("commit");
        g.merge_staged_commit(out.staged).expect("merge");
        let joiner = bundle("joiner");
        let out = g
            .commit(
                cs,
                CommitOptions {
                    proposals: vec![Proposal::Add(Add {
                        key_package: joiner.key_package.clone(),
                    })],
                    force_path: true,
                    ..CommitOptions::default()
                },
            )
            .expect("path commit");
        g.merge_staged_commit(out.staged).expect("merge");
        let message = out
            .welcome
            .expect("a Welcome")
            .to_message()
            .expect("decodes");
        let MlsMessageBody::Welcome(welcome) = message.body else {
            panic!("a Welcome message")
        };
        let kp = &joiner.key_package;
        let gs = decrypt_group_secrets(cs, &welcome, kp, &joiner.init_private_key)
            .expect("the joiner's GroupSecrets");
        assert!(gs.path_secret.is_some() && gs.psks.is_empty());
        let js = JoinerSecret::new(Secret::from_slice(&gs.joiner_secret));
        let gi = decrypt_group_info(cs, &welcome, &js, &PskSecret::zero(cs)).expect("GroupInfo");
        let MlsMessageBody::GroupInfo(external) = g.group_info(cs, true).expect("a GroupInfo").body
        else {
            panic!("a GroupInfo message")
        };
        JoinFixture {
            external_group_info: encode(&external).expect("encode"),
            committer: g.clone(),
            signer: creator.signature_private_key.clone(),
            group_secrets: encode(&gs).expect("encode"),
            group_info: encode(&gi).expect("encode"),
            authenticator: g.epoch_authenticator().as_bytes().to_vec(),
            joiner,
            welcome,
        }
    })
}

/// Which plaintext an input edits, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plaintext {
    /// The joiner's GroupSecrets (joiner secret, path secret, PSKs).
    Secrets,
    /// The GroupInfo, signed again as it is.
    Info,
    /// The GroupInfo, then made consistent where it decodes: the GroupContext's tree hash set
    /// to the edited tree's, the confirmation tag computed for the edited GroupContext, so
    /// edits of the tree and the context reach the tree's validation and the path secret.
    InfoMadeConsistent,
}

impl Plaintext {
    fn of(byte: u8) -> Plaintext {
        match byte % 3 {
            0 => Plaintext::Secrets,
            1 => Plaintext::Info,
            _ => Plaintext::InfoMadeConsistent,
        }
    }
}

/// The GroupInfo's encoding after `fix`: the tree hash and confirmation tag made to match its
/// (edited) tree and GroupContext under `js`, then signed by the committer. Bytes that do not
/// decode are returned as they are (the join must refuse them).
fn signed_group_info(bytes: Vec<u8>, fix: bool, js: &JoinerSecret) -> Vec<u8> {
    let f = join_fixture();
    let cs = cs();
    let Ok(mut gi) = decode_exact::<GroupInfo>(&bytes) else {
        return bytes;
    };
    if fix {
        set_tree_hash_of_its_tree(&mut gi);
        let ctx = encode(&gi.group_context).expect("encode");
        if let Ok(epoch) = js
            .member_secret(cs, &PskSecret::zero(cs))
            .epoch_secret(cs, &ctx)
            .and_then(|e| e.derive(cs))
        {
            let hash = gi.group_context.confirmed_transcript_hash.as_slice();
            gi.confirmation_tag = confirmation_tag(cs, &epoch.confirmation_key, hash);
        }
    }
    let tbs = encode(&gi.to_be_signed()).expect("encode");
    gi.signature = VarBytes(sign_with_label(cs, &f.signer, "GroupInfoTBS", &tbs).expect("sign"));
    encode(&gi).expect("encode")
}

/// Sets the GroupContext's tree hash in `gi` to the hash of the tree in its `ratchet_tree`
/// extension, where that decodes.
fn set_tree_hash_of_its_tree(gi: &mut GroupInfo) {
    let cs = cs();
    let hash = Extension::find::<RatchetTree>(&gi.extensions)
        .and_then(Result::ok)
        .and_then(|wire| Tree::from_wire(cs, &wire).ok())
        .and_then(|mut tree| tree.tree_hash(cs).ok());
    if let Some(hash) = hash {
        gi.group_context.tree_hash = VarBytes(hash);
    }
}

/// A Welcome carrying `group_secrets` (sealed to the joiner) and `group_info` (encrypted with
/// the welcome key of `js`), both as given, decodable or not.
fn welcome_of(group_secrets: &[u8], group_info: &[u8], js: &JoinerSecret) -> Welcome {
    let f = join_fixture();
    let cs = cs();
    let (key, nonce) = js
        .member_secret(cs, &PskSecret::zero(cs))
        .welcome_secret(cs)
        .and_then(|w| w.key_and_nonce(cs))
        .expect("welcome key");
    let egi = cs
        .aead_seal(key.as_bytes(), nonce.as_bytes(), b"", group_info)
        .expect("seal");
    let init_key = &f.joiner.key_package.init_key;
    let ct = encrypt_with_label(cs, init_key, "Welcome", &egi, group_secrets).expect("seal");
    let mut entry = f.welcome.secrets[0].clone();
    entry.encrypted_group_secrets = ct;
    Welcome {
        cipher_suite: f.welcome.cipher_suite,
        secrets: VarVec(vec![entry]),
        encrypted_group_info: VarBytes(egi),
    }
}

/// What a join gave, comparable across the entry points: the error, or the joined state.
fn joined_state(r: &Result<Group, GroupError>) -> Result<Vec<u8>, GroupError> {
    match r {
        Ok(g) => Ok(g.to_bytes().expect("a joined state encodes")),
        Err(e) => Err(e.clone()),
    }
}

/// The first byte of `data` picks the plaintext ([`Plaintext`]), the rest edits it ([`edit`]); the
/// Welcome built around it is joined through both entry points and checked (module docs).
/// Returns the join's verdict (`None` for an empty input).
pub fn join_edited(data: &[u8]) -> Option<Result<Group, GroupError>> {
    let (&pick, script) = data.split_first()?;
    let f = join_fixture();
    let cs = cs();
    let target = Plaintext::of(pick);
    let (gs, gi) = match target {
        Plaintext::Secrets => (edit(&f.group_secrets, script), f.group_info.clone()),
        Plaintext::Info | Plaintext::InfoMadeConsistent => {
            (f.group_secrets.clone(), edit(&f.group_info, script))
        }
    };
    // The joiner secret the GroupInfo is encrypted under: the edited one where it decodes.
    let decoded_gs = decode_exact::<GroupSecrets>(&gs);
    let js = match &decoded_gs {
        Ok(s) => JoinerSecret::new(Secret::from_slice(&s.joiner_secret)),
        Err(_) => {
            let original = decode_exact::<GroupSecrets>(&f.group_secrets).expect("decodes");
            JoinerSecret::new(Secret::from_slice(&original.joiner_secret))
        }
    };
    let gi = signed_group_info(gi, target == Plaintext::InfoMadeConsistent, &js);
    let welcome = welcome_of(&gs, &gi, &js);

    let decoded = Group::join(cs, &welcome, &f.joiner, options());
    let message = encode(&MlsMessage {
        body: MlsMessageBody::Welcome(welcome),
    })
    .expect("encode");
    let in_place = WelcomeRef::from_message_bytes(&message)
        .map_err(GroupError::from)
        .and_then(|w| Group::join(cs, w, &f.joiner, options()));
    let state = joined_state(&decoded);
    assert_eq!(
        state,
        joined_state(&in_place),
        "the two entry points disagree"
    );

    let decoded_gi = decode_exact::<GroupInfo>(&gi);
    if decoded_gs.is_err() || decoded_gi.is_err() {
        assert!(
            matches!(decoded, Err(GroupError::Malformed(_))),
            "an undecodable plaintext not refused as malformed: {decoded:?}"
        );
    }
    if gs == f.group_secrets && gi == f.group_info {
        let g = decoded.as_ref().expect("the unedited Welcome joins");
        assert_eq!(g.epoch_authenticator().as_bytes(), &f.authenticator[..]);
    }
    let (Ok(g), Ok(gi), Ok(state)) = (&decoded, &decoded_gi, &state) else {
        return Some(decoded);
    };
    assert_eq!(
        g.context(),
        &gi.group_context,
        "joined another GroupContext"
    );
    let sent = Extension::find::<RatchetTree>(&gi.extensions)
        .expect("joined without a tree in the Welcome")
        .expect("a tree that decoded for the join decodes");
    assert_eq!(g.tree().to_wire(), sent, "joined another tree");
    let loaded = Group::from_bytes(cs, state).expect("a joined state loads");
    assert_eq!(
        &loaded.to_bytes().expect("encodes"),
        state,
        "state round trip"
    );
    Some(decoded)
}

/// Joins from a Welcome built around `gi` as the committer would (made consistent: tree hash
/// and confirmation tag, then signed), with the fixture's GroupSecrets: for tests of the
/// joiner's checks on a GroupInfo built on purpose.
pub fn join_group_info(gi: &GroupInfo) -> Result<Group, GroupError> {
    let f = join_fixture();
    let original = decode_exact::<GroupSecrets>(&f.group_secrets).expect("decodes");
    let js = JoinerSecret::new(Secret::from_slice(&original.joiner_secret));
    let gi = signed_group_info(encode(gi).expect("encode"), true, &js);
    Group::join(
        cs(),
        &welcome_of(&f.group_secrets, &gi, &js),
        &f.joiner,
        options(),
    )
}

/// The external-commit join (§12.4.3.2) from a GroupInfo the delivery service serves: the
/// committer's GroupInfo for external joiners (tree and `external_pub`) edited by the input
/// after its first byte; if it decodes, its tree hash is set to the edited tree's (first byte
/// odd) and it is signed again by the committer. A new joiner builds an external commit from
/// it. Checks: the unedited GroupInfo is joined and the committer accepts the commit; a join
/// that succeeds is in the GroupInfo's group at the next epoch and its state loads back to the
/// same bytes; if the committer accepts a commit built on an edited GroupInfo, the two agree on
/// the GroupContext and the epoch authenticator. Returns the join's verdict (`None` when the
/// edit does not decode).
pub fn external_join_edited(data: &[u8]) -> Option<Result<Group, GroupError>> {
    let (&pick, script) = data.split_first()?;
    let f = join_fixture();
    let cs = cs();
    let bytes = edit(&f.external_group_info, script);
    let unedited = bytes == f.external_group_info;
    let mut gi = decode_exact::<GroupInfo>(&bytes).ok()?;
    if pick % 2 == 1 {
        set_tree_hash_of_its_tree(&mut gi);
    }
    let tbs = encode(&gi.to_be_signed()).expect("encode");
    gi.signature = VarBytes(sign_with_label(cs, &f.signer, "GroupInfoTBS", &tbs).expect("sign"));
    let (sk, _) = cs.signature_generate().expect("a key pair");
    let options = ExternalCommitOptions {
        config: GroupConfig::default().at_time(1_000),
        ..ExternalCommitOptions::default()
    };
    let joined = Group::join_by_external_commit(cs, &gi, Credential::basic("eve"), sk, options);
    let (g, commit) = match joined {
        Ok(out) => out,
        Err(e) => {
            assert!(!unedited, "the unedited GroupInfo was refused: {e:?}");
            return Some(Err(e));
        }
    };
    assert_eq!(g.group_id(), gi.group_context.group_id.as_slice());
    assert_eq!(Some(g.epoch()), gi.group_context.epoch.checked_add(1));
    let state = g.to_bytes().expect("a joined state encodes");
    let loaded = Group::from_bytes(cs, &state).expect("a joined state loads");
    assert!(
        loaded.to_bytes().expect("encodes") == state,
        "state round trip"
    );
    let mut member = f.committer.clone();
    match member.process_message(cs, commit) {
        Ok(ProcessedMessage::Commit(staged)) => {
            member.merge_staged_commit(*staged).expect("merge");
            assert_eq!(member.context(), g.context(), "member and joiner disagree");
            assert!(
                member.epoch_authenticator().as_bytes() == g.epoch_authenticator().as_bytes(),
                "member and joiner have different epoch authenticators"
            );
        }
        Ok(other) => panic!("an external commit processed as {other:?}"),
        Err(e) => assert!(!unedited, "the member refused the external commit: {e:?}"),
    }
    Some(Ok(g))
}
