//! A live group for the processing targets: a committer and a receiver at the same epoch, and
//! one valid commit (an Add with an UpdatePath) from the committer. The targets turn their input
//! into edits of that commit, so every run starts from a message the receiver would accept.
//!
//! What every run checks, beyond "no panic": `process_message_bytes` and `process_message`
//! give the same answer, and a refused message leaves the receiver exactly as it was. A failed
//! check panics, which is a crash for the fuzzer and a failed case for the property tests that
//! include this file (`engine/tests/group_process_props.rs`).

use std::sync::OnceLock;

use mls_engine::codec::{decode_exact, encode};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_engine::group::*;
use mls_engine::messages::*;

/// Suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519).
pub fn cs() -> &'static dyn CipherSuiteProvider {
    static P: OnceLock<AwsLcProvider> = OnceLock::new();
    P.get_or_init(AwsLcProvider::new)
        .suite(CipherSuite(1))
        .expect("suite 1 is supported")
}

/// The committer, the receiver, and the committer's valid commit (encoded and as content).
pub struct Fixture {
    /// Member 0, after the commit was built (not merged).
    pub committer: Group,
    /// Member 1, at the epoch the commit is for.
    pub receiver: Group,
    /// The commit, an `MLSMessage` encoded.
    pub commit: Vec<u8>,
    /// Its content.
    pub content: FramedContent,
    /// The commit's confirmation tag.
    pub tag: Option<Mac>,
}

/// A KeyPackage for a new member called `name`, with its private keys.
pub fn bundle(name: &str) -> KeyPackageBundle {
    let cs = cs();
    let (sk, _) = cs.signature_generate().expect("a key pair");
    let options = KeyPackageOptions::new(0, u64::MAX);
    generate_key_package(cs, Credential::basic(name), sk, options).expect("a KeyPackage")
}

fn add(name: &str) -> Proposal {
    Proposal::Add(Add {
        key_package: bundle(name).key_package,
    })
}

/// Built once per process: a group of four, then a path commit adding a fifth.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cs = cs();
        let config = GroupConfig::default().at_time(1_000);
        let creator = bundle("creator");
        let mut committer =
            Group::create(cs, &creator, b"fuzz".to_vec(), vec![], config).expect("create");
        let joiner = bundle("joiner");
        let mut proposals = vec![Proposal::Add(Add {
            key_package: joiner.key_package.clone(),
        })];
        proposals.extend(["m2", "m3"].map(add));
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        let out = committer.commit(cs, options).expect("commit");
        committer.merge_staged_commit(out.staged).expect("merge");
        let welcome = out.welcome.expect("a Welcome");
        let join = JoinOptions {
            config,
            ..JoinOptions::default()
        };
        let receiver = Group::join(cs, &welcome, &joiner, join).expect("join");
        let options = CommitOptions {
            proposals: vec![add("m4")],
            force_path: true,
            ..CommitOptions::default()
        };
        let out = committer.commit(cs, options).expect("path commit");
        let MlsMessageBody::PublicMessage(pm) = &out.commit.body else {
            panic!("a member's commit is a PublicMessage by default")
        };
        Fixture {
            content: pm.content.clone(),
            tag: pm.auth.confirmation_tag.clone(),
            commit: encode(&out.commit).expect("encode"),
            committer,
            receiver,
        }
    })
}

/// Applies `script` to `bytes` as edits of four bytes each: an operation, a 16-bit position
/// (taken modulo the length) and a value. Operations: xor, truncate, insert, remove, set.
pub fn edit(bytes: &[u8], script: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in script.chunks_exact(4) {
        if b.is_empty() {
            break;
        }
        let n = b.len();
        let at = usize::from(u16::from_be_bytes([e[1], e[2]]));
        match e[0] % 5 {
            0 => b[at % n] ^= e[3].max(1),
            1 => b.truncate(at % n),
            2 => b.insert(at % (n + 1), e[3]),
            3 => {
                b.remove(at % n);
            }
            _ => b[at % n] = e[3],
        }
    }
    b
}

/// `count` edit scripts of 4 to 12 bytes, the same for the same `seed` (xorshift64): a fixed
/// sample for the tests that check where edits are refused.
pub fn sample_scripts(mut seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..count)
        .map(|_| {
            let n = 4 + next() % 9;
            (0..n).map(|_| next().to_le_bytes()[0]).collect()
        })
        .collect()
}

/// What processing gave, comparable across the entry points: the error, or the new
/// GroupContext (encoded) followed by the epoch authenticator after merging (or the kind of
/// message).
pub fn outcome(r: Result<ProcessedMessage, GroupError>) -> Result<Vec<u8>, GroupError> {
    match r? {
        ProcessedMessage::Commit(staged) => {
            let mut g = fixture().receiver.clone();
            g.merge_staged_commit(*staged)
                .expect("a staged commit merges");
            let mut out = encode(g.context()).expect("encode");
            out.extend_from_slice(g.epoch_authenticator().as_bytes());
            Ok(out)
        }
        other => Ok(format!("{other:?}").into_bytes()),
    }
}

/// Runs `entry` on a copy of the receiver; panics if it refused and the copy changed.
fn on_copy(
    before: &[u8],
    entry: impl FnOnce(&mut Group) -> Result<ProcessedMessage, GroupError>,
) -> Result<ProcessedMessage, GroupError> {
    let mut g = fixture().receiver.clone();
    let r = entry(&mut g);
    if r.is_err() {
        let after = g.to_bytes().expect("state encodes");
        assert!(after == before, "refusal changed the group");
    }
    r
}

/// Processes `bytes` on a copy of the receiver through both entry points; panics (a crash
/// for the fuzzer) if they disagree or a refusal changed the group. Returns their answer
/// ([`outcome`]).
pub fn process(bytes: &[u8]) -> Result<Vec<u8>, GroupError> {
    let before = fixture().receiver.to_bytes().expect("state encodes");
    let from_bytes = outcome(on_copy(&before, |g| g.process_message_bytes(cs(), bytes)));
    match decode_exact::<MlsMessage>(bytes) {
        Err(_) => assert!(
            matches!(from_bytes, Err(GroupError::Malformed(_))),
            "undecodable bytes not refused as malformed: {from_bytes:?}"
        ),
        Ok(msg) => {
            let decoded = outcome(on_copy(&before, |g| g.process_message(cs(), msg)));
            assert_eq!(decoded, from_bytes, "the two entry points disagree");
        }
    }
    from_bytes
}

/// The fixture commit's bytes edited by `script`, then processed.
pub fn process_edited_commit(script: &[u8]) {
    let _ = process(&edit(&fixture().commit, script));
}

/// The fixture's `Commit` edited by `script`; if it still decodes, signed and MACed again by
/// the committer (so it passes the framing checks and reaches §12 validation), then processed.
pub fn process_resigned_commit(script: &[u8]) {
    if let Some(bytes) = resigned_commit(script) {
        let _ = process(&bytes);
    }
}

/// The fixture's `Commit` edited by `script`; if it still decodes, signed again by the
/// committer and encrypted in a PrivateMessage, then processed: a refusal after the handshake
/// key was found must leave the secret tree as it was.
pub fn process_resigned_private_commit(script: &[u8]) {
    if let Some(bytes) = resigned_commit_as(script, WireFormat::PRIVATE_MESSAGE) {
        let _ = process(&bytes);
    }
}

/// The fixture's `Commit` edited by `script` and, if it still decodes, signed and MACed again
/// by the committer (with the original confirmation tag): the `MLSMessage`'s bytes.
pub fn resigned_commit(script: &[u8]) -> Option<Vec<u8>> {
    resigned_commit_as(script, WireFormat::PUBLIC_MESSAGE)
}

/// `content` (a commit) with its `Commit`'s encoding edited by `script`, if that still decodes.
pub fn edited_commit(content: &FramedContent, script: &[u8]) -> Option<FramedContent> {
    let FramedContentBody::Commit(commit) = &content.body else {
        unreachable!("the fixtures are commits")
    };
    let bytes = edit(&encode(commit).expect("encode"), script);
    let commit = decode_exact::<Commit>(&bytes).ok()?;
    Some(FramedContent {
        body: FramedContentBody::Commit(commit),
        ..content.clone()
    })
}

/// [`resigned_commit`] framed in `wire_format` (a PrivateMessage with the committer's first
/// unused handshake key: the committer is copied for each message, so every message uses the
/// same generation and none is lent away).
pub fn resigned_commit_as(script: &[u8], wire_format: WireFormat) -> Option<Vec<u8>> {
    let f = fixture();
    let content = edited_commit(&f.content, script)?;
    let msg = f
        .committer
        .clone()
        .sign_and_frame_as_for_tests(cs(), wire_format, content, f.tag.clone())
        .ok()?;
    Some(encode(&msg).expect("encode"))
}

/// A stored form the storage checks load and write: a member's state, the observer's.
pub trait Stored: Sized {
    /// Loads a snapshot (`from_bytes`).
    fn load(bytes: &[u8]) -> Option<Self>;
    /// Loads a snapshot and replays deltas onto it (`from_bytes_and_deltas`).
    fn replay(snapshot: &[u8], delta: &[u8]) -> Option<Self>;
    /// Writes a snapshot (`to_bytes`).
    fn save(&self) -> Vec<u8>;
}

impl Stored for Group {
    fn load(bytes: &[u8]) -> Option<Self> {
        Group::from_bytes(cs(), bytes).ok()
    }
    fn replay(snapshot: &[u8], delta: &[u8]) -> Option<Self> {
        Group::from_bytes_and_deltas(cs(), snapshot, &[delta]).ok()
    }
    fn save(&self) -> Vec<u8> {
        self.to_bytes().expect("a loaded state encodes")
    }
}

/// `state` edited by `script`, then loaded: no panic, and what loads writes back exactly the
/// bytes it was loaded from (the format has one encoding per state). Bytes of an older version
/// (`older`) are written in the current one, which must then load and write back unchanged.
pub fn check_load<T: Stored>(state: &[u8], script: &[u8], older: impl Fn(&[u8]) -> bool) {
    let bytes = edit(state, script);
    let Some(loaded) = T::load(&bytes) else {
        return;
    };
    let again = loaded.save();
    if older(&bytes) {
        let twice = T::load(&again).expect("an upgraded state loads").save();
        assert!(twice == again, "an upgraded state wrote back other bytes");
    } else {
        assert!(again == bytes, "a loaded state wrote back other bytes");
    }
}

/// `delta` (taken after `snapshot`, reaching `reached`) edited by `script`, then replayed onto
/// the snapshot: no panic; the unedited delta gives exactly `reached`; a replayed state writes
/// bytes that load and write back unchanged.
pub fn check_replay<T: Stored>(snapshot: &[u8], delta: &[u8], reached: &[u8], script: &[u8]) {
    let bytes = edit(delta, script);
    let Some(replayed) = T::replay(snapshot, &bytes) else {
        assert!(bytes != delta, "the unedited delta is refused");
        return;
    };
    let state = replayed.save();
    if bytes == delta {
        assert!(state == reached, "the unedited delta reached another state");
    }
    let again = T::load(&state).expect("a replayed state loads").save();
    assert!(again == state, "a replayed state changed on loading");
}

/// A stored state (`Group::to_bytes`) edited, then loaded ([`check_load`]): the first byte of
/// `data` picks the receiver's (even) or the committer's (odd; it keeps a past epoch), the rest
/// edits it. Version 1 is the older version.
pub fn load_edited_state(data: &[u8]) {
    let Some((&pick, script)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let group = if pick % 2 == 0 {
        &f.receiver
    } else {
        &f.committer
    };
    let state = group.to_bytes().expect("state encodes");
    check_load::<Group>(&state, script, |b| b.starts_with(&[0, 1]));
}

/// The receiver's snapshot and the delta its processing of the fixture commit recorded
/// (`Group::take_delta`), and the state it reached.
fn delta_fixture() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static D: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
    D.get_or_init(|| {
        let f = fixture();
        let mut g = f.receiver.clone();
        let snapshot = g.to_bytes().expect("state encodes");
        g.track_changes();
        let ProcessedMessage::Commit(staged) = g
            .process_message_bytes(cs(), &f.commit)
            .expect("the commit")
        else {
            panic!("a commit")
        };
        g.merge_staged_commit(*staged).expect("merge");
        let delta = g.take_delta().expect("encodes").expect("a delta");
        (snapshot, delta, g.to_bytes().expect("state encodes"))
    })
}

/// The receiver's delta for the fixture commit edited by `script`, then replayed onto its
/// snapshot ([`check_replay`]).
pub fn replay_edited_delta(script: &[u8]) {
    let (snapshot, delta, reached) = delta_fixture();
    check_replay::<Group>(snapshot, delta, reached, script);
}
