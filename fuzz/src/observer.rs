//! The delivery service's view beside a member's: an [`Observer`] (public state only, crate
//! `mls-batch`) of the processing fixture's group ([`crate::group`]), at the epoch of its
//! commit. The observer re-implements the public rules of RFC 9420 §12 over public state, so
//! it can drift from the member's validation; this harness holds the two to each other on the
//! same edited commits, signed again by their sender: the fixture's member commit, and an
//! external commit (§12.4.3.2) by a new joiner; and on proposals of each kind a member sends.
//!
//! What every run checks, beyond "no panic" (a failed check panics):
//! - a refusal leaves the observer's state byte for byte as it was;
//! - a commit the member accepts, the observer accepts, to the same GroupContext;
//! - a commit the member refuses on a public rule (anything the observer can check: proposal
//!   rules, KeyPackages, leaves, the tree, the UpdatePath's shape and parent hashes), the
//!   observer refuses;
//! - a commit the member refuses only at its confirmation tag (every public check passed; the
//!   tag needs the epoch's secrets), the observer accepts;
//! - a proposal (which needs no secret to check) the observer accepts exactly when the member
//!   does.
//!
//! Refusals that need secrets (the path secret's decryption and keys, PSKs the member lacks)
//! may go either way for the observer.

use std::sync::OnceLock;

use mls_batch::Observer;
use mls_engine::codec::{decode_exact, encode, VarBytes, VarVec};
use mls_engine::crypto::labels::sign_with_label;
use mls_engine::crypto::Secret;
use mls_engine::group::{ExternalCommitOptions, Group, GroupConfig, GroupError, ProtocolError};
use mls_engine::messages::*;
use mls_engine::tree::{LifetimePolicy, TreeError};

use crate::group::{
    check_load, check_replay, cs, edit, edited_commit, fixture, process, resigned_commit, Stored,
};

/// An observer of the fixture's group at the epoch its commit is for, from the receiver's
/// GroupInfo (with the tree).
pub fn observer() -> &'static Observer {
    static O: OnceLock<Observer> = OnceLock::new();
    O.get_or_init(|| {
        let msg = fixture()
            .receiver
            .group_info(cs(), true)
            .expect("a GroupInfo");
        let MlsMessageBody::GroupInfo(gi) = msg.body else {
            panic!("a GroupInfo message")
        };
        Observer::from_group_info(cs(), gi, None, LifetimePolicy::Check { now: 1_000 })
            .expect("an observer of the fixture's group")
    })
}

/// Refusals by a member that depend on its secrets, which the observer cannot reproduce.
fn needs_secrets(e: &GroupError) -> bool {
    matches!(
        e,
        GroupError::Crypto(_)
            | GroupError::Protocol(
                ProtocolError::ConfirmationTag
                    | ProtocolError::Psk(_)
                    | ProtocolError::Tree(
                        TreeError::PublicKeyMismatch(_)
                            | TreeError::NoDecryptionKey(_)
                            | TreeError::Crypto(_)
                    )
            )
    )
}

/// The member's and the observer's verdicts on `bytes`, checked against each other (module
/// docs). Returns both.
pub fn compare(
    bytes: &[u8],
) -> (
    Result<Vec<u8>, GroupError>,
    Result<mls_batch::observer::ObserverOutcome, mls_batch::ObserverError>,
) {
    let member = process(bytes);
    let Ok(msg) = decode_exact::<MlsMessage>(bytes) else {
        return (
            member,
            Err(mls_batch::ObserverError::Unexpected("undecodable")),
        );
    };
    let before = observer().to_bytes().expect("observer state encodes");
    let mut ob = observer().clone();
    let verdict = ob.process(cs(), &msg);
    match (&member, &verdict) {
        (_, Err(_)) => assert!(
            ob.to_bytes().expect("encodes") == before,
            "a refusal changed the observer"
        ),
        (Ok(out), Ok(mls_batch::observer::ObserverOutcome::Commit { .. })) => {
            let ctx = encode(ob.context()).expect("encode");
            assert!(
                out.starts_with(&ctx),
                "member and observer in different epochs"
            );
        }
        _ => {}
    }
    match &member {
        Ok(_) => assert!(
            verdict.is_ok(),
            "member accepted, observer refused: {verdict:?}"
        ),
        Err(GroupError::Protocol(ProtocolError::ConfirmationTag)) => assert!(
            verdict.is_ok(),
            "member refused only at the confirmation tag, observer refused: {verdict:?}"
        ),
        Err(e) if !needs_secrets(e) => assert!(
            verdict.is_err(),
            "member refused on a public rule ({e:?}), observer accepted"
        ),
        Err(_) => {}
    }
    (member, verdict)
}

/// An external commit (§12.4.3.2) for the fixture's group at the receiver's epoch, by a
/// joiner "eve": her signature key, the commit's content and its confirmation tag.
pub struct External {
    sk: Secret,
    /// The commit's content (sender `new_member_commit`).
    pub content: FramedContent,
    tag: Option<Mac>,
}

/// Built once per process from the receiver's GroupInfo.
pub fn external() -> &'static External {
    static E: OnceLock<External> = OnceLock::new();
    E.get_or_init(|| {
        let cs = cs();
        let MlsMessageBody::GroupInfo(gi) = fixture()
            .receiver
            .group_info(cs, true)
            .expect("a GroupInfo")
            .body
        else {
            panic!("a GroupInfo message")
        };
        let sk = cs.signature_generate().expect("a key pair").0;
        let options = ExternalCommitOptions {
            config: GroupConfig::default().at_time(1_000),
            ..ExternalCommitOptions::default()
        };
        let (_, msg) =
            Group::join_by_external_commit(cs, &gi, Credential::basic("eve"), sk.clone(), options)
                .expect("an external commit");
        let MlsMessageBody::PublicMessage(pm) = msg.body else {
            panic!("an external commit is a PublicMessage")
        };
        External {
            sk,
            content: pm.content,
            tag: pm.auth.confirmation_tag,
        }
    })
}

/// The external commit's `Commit` edited by `script` and, if it still decodes, signed again
/// by the joiner (with the original confirmation tag): the `MLSMessage`'s bytes.
pub fn resigned_external_commit(script: &[u8]) -> Option<Vec<u8>> {
    let e = external();
    let cs = cs();
    let content = edited_commit(&e.content, script)?;
    let tbs = FramedContentTbs {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: content.clone(),
        context: Some(fixture().receiver.context().clone()),
    };
    let tbs = encode(&tbs).expect("encode");
    let signature = sign_with_label(cs, &e.sk, "FramedContentTBS", &tbs).expect("sign");
    let msg = MlsMessage::new(MlsMessageBody::PublicMessage(PublicMessage {
        content,
        auth: FramedContentAuthData {
            signature: VarBytes(signature),
            confirmation_tag: e.tag.clone(),
        },
        membership_tag: None,
    }));
    Some(encode(&msg).expect("encode"))
}

/// The first byte of `data` picks the member's commit (0), the external commit (1), modulo 3,
/// whose `Commit` the rest edits, or a proposal (2, [`observe_resigned_proposal`] on the
/// rest); signed again by its sender, it is judged by the member and the observer
/// ([`compare`]).
pub fn observe_resigned_commit(data: &[u8]) {
    let Some((&pick, script)) = data.split_first() else {
        return;
    };
    let bytes = match pick % 3 {
        0 => resigned_commit(script),
        1 => resigned_external_commit(script),
        _ => {
            let _ = observe_resigned_proposal(script);
            return;
        }
    };
    if let Some(bytes) = bytes {
        let _ = compare(&bytes);
    }
}

/// Proposals a member could send at the fixture's epoch, by the committer: an Add (of the
/// fixture commit's KeyPackage), an Update (of the committer's own leaf), a Remove (of leaf
/// 2), a PreSharedKey (external) and a GroupContextExtensions.
fn proposals() -> &'static [Proposal] {
    static P: OnceLock<Vec<Proposal>> = OnceLock::new();
    P.get_or_init(|| {
        let f = fixture();
        let FramedContentBody::Commit(commit) = &f.content.body else {
            unreachable!("the fixture is a commit")
        };
        let Some(ProposalOrRef::Proposal(add)) = commit.proposals.first() else {
            panic!("the fixture commit adds by value")
        };
        let mut committer = f.committer.clone();
        // A member proposes only a PSK it holds (`Group::propose`); judging the proposal
        // needs no secret.
        committer.add_external_psk(
            b"psk".to_vec(),
            mls_engine::crypto::Secret::from_slice(&[7; 32]),
        );
        let (_, update) = committer.propose_update(cs()).expect("an Update");
        let (_, psk) = committer
            .propose_external_psk(cs(), b"psk".to_vec())
            .expect("a PreSharedKey");
        vec![
            (*add).clone(),
            update.proposal,
            Proposal::Remove(Remove { removed: 2 }),
            psk.proposal,
            Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: VarVec::default(),
            }),
        ]
    })
}

/// The first byte of `data` picks one of [`proposals`], the rest edits its encoding; if it
/// still decodes, the committer signs and MACs it again as a PublicMessage proposal, which the
/// member and the observer both judge: the observer accepts exactly what the member accepts
/// (a proposal's checks need no secret), and a refusal changes neither. Returns whether they
/// accepted it (`None` if the edit did not decode).
pub fn observe_resigned_proposal(data: &[u8]) -> Option<bool> {
    let (&pick, script) = data.split_first()?;
    let f = fixture();
    let all = proposals();
    let proposal = &all[usize::from(pick) % all.len()];
    let bytes = edit(&encode(proposal).expect("encode"), script);
    let proposal = decode_exact::<Proposal>(&bytes).ok()?;
    let content = FramedContent {
        body: FramedContentBody::Proposal(proposal),
        ..f.content.clone()
    };
    let msg = f
        .committer
        .sign_and_frame_for_tests(cs(), content, None)
        .ok()?;
    let (member, verdict) = compare(&encode(&msg).expect("encode"));
    assert_eq!(
        member.is_ok(),
        verdict.is_ok(),
        "member {member:?}, observer {verdict:?}"
    );
    Some(member.is_ok())
}

impl Stored for Observer {
    fn load(bytes: &[u8]) -> Option<Self> {
        Observer::from_bytes(cs(), bytes).ok()
    }
    fn replay(snapshot: &[u8], delta: &[u8]) -> Option<Self> {
        Observer::from_bytes_and_deltas(cs(), snapshot, &[delta]).ok()
    }
    fn save(&self) -> Vec<u8> {
        self.to_bytes().expect("a loaded observer encodes")
    }
}

/// The observer's stored state (`Observer::to_bytes`) edited by `script`, then loaded
/// ([`check_load`]; version 1 is the older version).
pub fn load_edited_observer_state(script: &[u8]) {
    let state = observer().to_bytes().expect("observer state encodes");
    check_load::<Observer>(&state, script, |b| b.first() == Some(&1));
}

/// The observer's snapshot and the delta its processing of the fixture commit recorded
/// (`Observer::take_delta`), and the state it reached.
fn observer_delta() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
    static D: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
    D.get_or_init(|| {
        let mut ob = observer().clone();
        let snapshot = ob.to_bytes().expect("encodes");
        ob.track_changes();
        let msg = decode_exact::<MlsMessage>(&fixture().commit).expect("decodes");
        ob.process(cs(), &msg)
            .expect("the observer takes the commit");
        let delta = ob.take_delta().expect("encodes").expect("a delta");
        (snapshot, delta, ob.to_bytes().expect("encodes"))
    })
}

/// The observer's delta for the fixture commit edited by `script`, then replayed onto its
/// snapshot ([`check_replay`]).
pub fn replay_edited_observer_delta(script: &[u8]) {
    let (snapshot, delta, reached) = observer_delta();
    check_replay::<Observer>(snapshot, delta, reached, script);
}
