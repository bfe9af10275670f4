//! The delivery service's view beside a member's: an [`Observer`] (public state only, crate
//! `mls-batch`) of the processing fixture's group ([`crate::group`]), at the epoch of its
//! commit. The observer re-implements the public rules of RFC 9420 §12 over public state, so
//! it can drift from the member's validation; this harness holds the two to each other on the
//! same edited, re-signed commits.
//!
//! What every run checks, beyond "no panic" (a failed check panics):
//! - a refusal leaves the observer's state byte for byte as it was;
//! - a commit the member accepts, the observer accepts, to the same GroupContext;
//! - a commit the member refuses on a public rule (anything the observer can check: proposal
//!   rules, KeyPackages, leaves, the tree, the UpdatePath's shape and parent hashes), the
//!   observer refuses;
//! - a commit the member refuses only at its confirmation tag (every public check passed; the
//!   tag needs the epoch's secrets), the observer accepts.
//!
//! Refusals that need secrets (the path secret's decryption and keys, PSKs the member lacks)
//! may go either way for the observer.

use std::sync::OnceLock;

use mls_batch::Observer;
use mls_engine::codec::{decode_exact, encode};
use mls_engine::group::{GroupError, ProtocolError};
use mls_engine::messages::{MlsMessage, MlsMessageBody};
use mls_engine::tree::{LifetimePolicy, TreeError};

use crate::group::{cs, fixture, process, resigned_commit};

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
        (Ok(out), Ok(_)) => {
            let ctx = encode(ob.context()).expect("encode");
            assert!(
                out.starts_with(&ctx),
                "member and observer in different epochs"
            );
        }
        (Err(_), Ok(_)) => {}
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

/// The fixture's commit edited by `script` and signed again ([`resigned_commit`]), judged by
/// the member and the observer ([`compare`]).
pub fn observe_resigned_commit(script: &[u8]) {
    if let Some(bytes) = resigned_commit(script) {
        let _ = compare(&bytes);
    }
}
