//! The committer's side of hostile proposals: a group of four in which three members hold
//! their state (the committer, a receiver, a proposer; the fourth is a leaf only). An edited
//! proposal reaches the committer in one of two ways:
//! - **received:** the proposer (a member), the group's external sender or, for an Add, the
//!   new member itself signs it (a member also MACs it) as a PublicMessage; the committer and
//!   the receiver both process it (with, optionally, a second, unedited proposal from the
//!   same sender, so that the two can conflict), then the committer commits everything it
//!   cached;
//! - **by value:** the committer puts it into its own commit.
//!
//! Edited KeyPackages and leaves are signed again by their owner (the KeyPackage's leaf and the
//! KeyPackage, an Update's leaf), so an edit reaches the §10.1 and §7.3 checks instead of
//! stopping at a signature.
//!
//! What every run checks, beyond "no panic" (a failed check panics):
//! - the committer and the receiver both accept a received proposal or both refuse it;
//! - received proposals never stop the next commit: it succeeds, and every cached proposal
//!   it leaves out is reported in [`CommitOutput::dropped`] (RFC 9420 §12.2: the committer
//!   includes the valid ones "as long as this results in a valid proposal list");
//! - a commit the committer builds, the receiver accepts, and both merged epochs agree
//!   (GroupContext and epoch authenticator): anything else splits the group;
//! - a Welcome for an edited KeyPackage is joined by its owner to the same epoch when the
//!   KeyPackage's keys are the ones the owner holds, and refused when its init key is not.
//!
//! Included by the property tests in `engine/tests/group_commit_props.rs`.

use std::sync::OnceLock;

use mls_engine::codec::{decode_exact, encode, VarBytes, VarVec};
use mls_engine::crypto::labels::{key_package_ref, sign_with_label};
use mls_engine::crypto::{CipherSuite, Secret};
use mls_engine::group::*;
use mls_engine::messages::*;
use mls_engine::tree_math::LeafIndex;

use crate::group::{bundle, cs, edit};

/// The group's fixed time (every KeyPackage's lifetime is checked against it).
const NOW: u64 = 1_000;
/// The external PSK every member holds.
const PSK_ID: &[u8] = b"psk";

/// The group and the people around it.
pub struct CommitFixture {
    /// Member 0: commits.
    pub committer: Group,
    /// Member 1: receives the proposals and the commit.
    pub receiver: Group,
    /// Member 2: sends the received proposals.
    pub proposer: Group,
    /// The proposer's signature private key (it signs edited Update leaves again).
    pub proposer_key: Secret,
    /// The signature private key of the group's one external sender (`external_senders`).
    external_sender_key: Secret,
    /// Dave, not a member: the KeyPackage the first Add template carries, and his private
    /// keys.
    pub dave: KeyPackageBundle,
    /// Dave's second KeyPackage (his signature key, a leaf extension and `last_resort`), which
    /// the second Add template carries, and its private keys.
    dave_extended: KeyPackageBundle,
    /// The proposal templates ([`template`]).
    templates: Vec<Proposal>,
}

/// Group options at the fixture's time.
fn config() -> GroupConfig {
    GroupConfig::default().at_time(NOW)
}

/// The external PSK every member holds.
fn psk() -> Secret {
    Secret::new(vec![7; 32])
}

/// Built once per process: a group of four added in one commit; the committer, the receiver
/// and the proposer join from the Welcome, the fourth never acts.
pub fn commit_fixture() -> &'static CommitFixture {
    static F: OnceLock<CommitFixture> = OnceLock::new();
    F.get_or_init(|| {
        let cs = cs();
        let creator = bundle("committer");
        let (external_sender_key, signature_key) = cs.signature_generate().expect("a key pair");
        let senders = Extension::from_value(&ExternalSenders(VarVec(vec![ExternalSender {
            signature_key,
            credential: Credential::basic("delivery service"),
        }])))
        .expect("encode");
        let mut committer = Group::create(
            cs,
            &creator,
            b"commit-fuzz".to_vec(),
            vec![senders],
            config(),
        )
        .expect("create");
        let (receiver, proposer, fourth) = (bundle("receiver"), bundle("proposer"), bundle("4"));
        let adds = [&receiver, &proposer, &fourth].map(|b| {
            Proposal::Add(Add {
                key_package: b.key_package.clone(),
            })
        });
        let out = committer
            .commit(
                cs,
                CommitOptions {
                    proposals: adds.to_vec(),
                    force_path: true,
                    ..CommitOptions::default()
                },
            )
            .expect("the commit adding three");
        committer.merge_staged_commit(out.staged).expect("merge");
        let welcome = out.welcome.expect("a Welcome");
        let join = |b: &KeyPackageBundle| {
            let mut g = Group::join(
                cs,
                &welcome,
                b,
                JoinOptions {
                    config: config(),
                    ..JoinOptions::default()
                },
            )
            .expect("join");
            g.add_external_psk(PSK_ID.to_vec(), psk());
            g
        };
        committer.add_external_psk(PSK_ID.to_vec(), psk());
        let (receiver, proposer_group) = (join(&receiver), join(&proposer));
        let dave = bundle("dave");
        // A second KeyPackage of Dave's key (so that an edit is signed again by it) with a
        // leaf extension and `last_resort`, listed by the generator in its capabilities.
        let mut options = KeyPackageOptions::new(0, u64::MAX);
        options.leaf_extensions = vec![Extension {
            extension_type: ExtensionType(0xff00),
            extension_data: VarBytes(b"leaf".to_vec()),
        }];
        options.extensions = vec![Extension {
            extension_type: ExtensionType::LAST_RESORT,
            extension_data: VarBytes::default(),
        }];
        let extended = generate_key_package(
            cs,
            Credential::basic("dave"),
            dave.signature_private_key.clone(),
            options,
        )
        .expect("a KeyPackage with extensions");
        let required = Extension::from_value(&RequiredCapabilities {
            extension_types: VarVec::default(),
            proposal_types: VarVec::default(),
            credential_types: VarVec(vec![CredentialType::BASIC]),
        })
        .expect("encode");
        let mut p = proposer_group.clone();
        let (_, update) = p.propose_update(cs).expect("an Update");
        let (_, psk) = p
            .propose_external_psk(cs, PSK_ID.to_vec())
            .expect("a PreSharedKey");
        let templates = vec![
            Proposal::Add(Add {
                key_package: dave.key_package.clone(),
            }),
            update.proposal,
            Proposal::Remove(Remove { removed: 3 }),
            psk.proposal,
            Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions: VarVec(vec![required.clone()]),
            }),
            Proposal::ReInit(ReInit {
                group_id: VarBytes(b"next".to_vec()),
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuite(1),
                extensions: VarVec(vec![
                    required,
                    Extension {
                        extension_type: ExtensionType(0xff00),
                        extension_data: VarBytes(b"next".to_vec()),
                    },
                ]),
            }),
            Proposal::Add(Add {
                key_package: extended.key_package.clone(),
            }),
        ];
        CommitFixture {
            committer,
            receiver,
            proposer: proposer_group,
            proposer_key: proposer.signature_private_key,
            external_sender_key,
            dave,
            dave_extended: extended,
            templates,
        }
    })
}

/// The templates: an Add of Dave's KeyPackage, an Update of the proposer's leaf, a Remove of
/// leaf 3, an external PreSharedKey, a GroupContextExtensions (required capabilities), a
/// ReInit (with required capabilities and a private extension), and an Add of a second
/// KeyPackage of Dave's carrying a leaf extension and `last_resort`, picked by `pick` modulo
/// their number.
pub fn template(pick: u8) -> &'static Proposal {
    let t = &commit_fixture().templates;
    &t[usize::from(pick) % t.len()]
}

/// How many templates there are.
pub fn template_count() -> usize {
    commit_fixture().templates.len()
}

/// `leaf` signed again by `key` as a leaf of `group_id` at `index` (for a KeyPackage's leaf,
/// which has no group binding, both are ignored); unchanged if its content has no
/// to-be-signed form.
pub fn resign_leaf(leaf: LeafNode, key: &Secret, group_id: &[u8], index: LeafIndex) -> LeafNode {
    match leaf.to_be_signed(None) {
        Ok(tbs) => sign_leaf(cs(), tbs, key, group_id, index).unwrap_or(leaf),
        Err(_) => leaf,
    }
}

/// `kp` with its leaf and then itself signed again by `key`.
pub fn resign_key_package(mut kp: KeyPackage, key: &Secret) -> KeyPackage {
    kp.leaf_node = resign_leaf(kp.leaf_node, key, &[], LeafIndex(0));
    let tbs = encode(&kp.to_be_signed()).expect("encode");
    kp.signature = VarBytes(sign_with_label(cs(), key, "KeyPackageTBS", &tbs).expect("sign"));
    kp
}

/// Template `pick` with its encoding edited by `script`, if that still decodes; a KeyPackage
/// or an Update's leaf is signed again by its owner.
pub fn edited_proposal(pick: u8, script: &[u8]) -> Option<Proposal> {
    let f = commit_fixture();
    let bytes = edit(&encode(template(pick)).expect("encode"), script);
    Some(match decode_exact::<Proposal>(&bytes).ok()? {
        Proposal::Add(Add { key_package }) => Proposal::Add(Add {
            key_package: resign_key_package(key_package, &f.dave.signature_private_key),
        }),
        Proposal::Update(Update { leaf_node }) => Proposal::Update(Update {
            leaf_node: resign_leaf(
                leaf_node,
                &f.proposer_key,
                f.proposer.group_id(),
                f.proposer.own_leaf(),
            ),
        }),
        other => other,
    })
}

/// Who sends a received proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalSender {
    /// The proposer, a member (signed and MACed).
    Member,
    /// The group's external sender (§12.1.8.1), signed without the GroupContext.
    External,
    /// The new member itself, for an Add (`new_member_proposal`), signed with the key of the
    /// KeyPackage's leaf (Dave's, unless the edit changed it).
    NewMember,
}

/// `proposal` from `sender`, as a PublicMessage of the current epoch.
fn sent_by(sender: ProposalSender, proposal: Proposal) -> MlsMessage {
    let f = commit_fixture();
    let p = &f.proposer;
    let external = |index: Option<u32>, key: &Secret, proposal: Proposal| {
        external_proposal(cs(), p.group_id(), p.epoch(), index, key, proposal)
            .expect("an external proposal is signed")
    };
    match sender {
        ProposalSender::External => return external(Some(0), &f.external_sender_key, proposal),
        ProposalSender::NewMember if matches!(proposal, Proposal::Add(_)) => {
            return external(None, &f.dave.signature_private_key, proposal)
        }
        _ => {}
    }
    let content = FramedContent {
        group_id: VarBytes(p.group_id().to_vec()),
        epoch: p.epoch(),
        sender: Sender::Member(p.own_leaf().0),
        authenticated_data: VarBytes::default(),
        body: FramedContentBody::Proposal(proposal),
    };
    p.sign_and_frame_for_tests(cs(), content, None)
        .expect("the proposer signs")
}

/// What a run came to, for the tests that check the harness reaches each case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitRun {
    /// The edit did not decode.
    Undecodable,
    /// The committer refused its own by-value proposal.
    Refused(GroupError),
    /// The commit was built and agreed on: how many cached proposals it left out, and
    /// whether a Welcome was joined.
    Committed {
        /// Why each cached proposal left out was ([`CommitOutput::dropped`]).
        dropped: Vec<GroupError>,
        /// Whether the commit carried a Welcome that its joiner joined.
        joined: bool,
    },
}

/// One run (module docs). `data[0]`: bit 0 by value (else received), bit 1 a forced path,
/// bits 2-3 the sender of received proposals (a member, the external sender, the new member
/// for an Add);
/// `data[1]` the template edited; `data[2]` (received only) a second, unedited template from
/// the proposer, or none; the rest is the edit script.
pub fn commit_edited(data: &[u8]) -> CommitRun {
    let [flags, pick, second, script @ ..] = data else {
        return CommitRun::Undecodable;
    };
    let Some(proposal) = edited_proposal(*pick, script) else {
        return CommitRun::Undecodable;
    };
    let by_value = flags & 1 == 1;
    let mut sent = vec![proposal];
    if !by_value && usize::from(*second) % (template_count() + 1) < template_count() {
        sent.push(template(*second).clone());
    }
    let sender = match (flags >> 2) % 3 {
        0 => ProposalSender::Member,
        1 => ProposalSender::External,
        _ => ProposalSender::NewMember,
    };
    commit_proposals_from(sender, by_value, flags & 2 == 2, sent)
}

/// The committer commits `sent`: by value, or received from the proposer (the receiver
/// receives them too) and committed by reference; with a path if `force_path` or needed.
/// Checks as in the module docs.
pub fn commit_proposals(by_value: bool, force_path: bool, sent: Vec<Proposal>) -> CommitRun {
    commit_proposals_from(ProposalSender::Member, by_value, force_path, sent)
}

/// [`commit_proposals`] with received proposals sent by `sender`.
pub fn commit_proposals_from(
    sender: ProposalSender,
    by_value: bool,
    force_path: bool,
    sent: Vec<Proposal>,
) -> CommitRun {
    let f = commit_fixture();
    let (mut committer, mut receiver) = (f.committer.clone(), f.receiver.clone());
    // The KeyPackages the commit may add for Dave.
    let candidates: Vec<KeyPackage> = sent
        .iter()
        .filter_map(|p| match p {
            Proposal::Add(a) => Some(a.key_package.clone()),
            _ => None,
        })
        .collect();
    let mut options = CommitOptions {
        force_path,
        ..CommitOptions::default()
    };
    if by_value {
        options.proposals = sent;
    } else {
        for p in sent {
            let msg = encode(&sent_by(sender, p)).expect("encode");
            let a = committer.process_message_bytes(cs(), &msg);
            let b = receiver.process_message_bytes(cs(), &msg);
            assert_eq!(
                a.is_ok(),
                b.is_ok(),
                "committer and receiver disagree on a proposal: {a:?} / {b:?}"
            );
        }
    }
    let cached: Vec<ProposalRef> = committer
        .pending_proposals()
        .map(|c| c.proposal_ref.clone())
        .collect();
    let out = match committer.commit(cs(), options) {
        Ok(out) => out,
        Err(e) => {
            assert!(by_value, "received proposals stopped the commit: {e:?}");
            return CommitRun::Refused(e);
        }
    };
    for (r, _) in &out.dropped {
        assert!(cached.contains(r), "dropped a proposal that was not cached");
    }
    let msg = encode(&out.commit).expect("encode");
    let staged = match receiver.process_message_bytes(cs(), &msg) {
        Ok(ProcessedMessage::Commit(staged)) => staged,
        other => panic!("the receiver refused the committer's commit: {other:?}"),
    };
    receiver.merge_staged_commit(*staged).expect("merge");
    committer.merge_staged_commit(out.staged).expect("merge");
    assert_eq!(committer.context(), receiver.context(), "contexts differ");
    // Removed: its leaf is blank or holds someone else (an Add fills the first blank leaf).
    let own_key = f
        .receiver
        .member(f.receiver.own_leaf())
        .map(|l| l.signature_key());
    let receiver_removed = committer
        .member(f.receiver.own_leaf())
        .map(|l| l.signature_key())
        != own_key;
    if receiver_removed {
        // A removed member learns of its removal but not the new epoch's secrets.
        assert!(!receiver.is_active(), "a removed receiver is still active");
    } else {
        assert!(
            committer.epoch_authenticator().as_bytes() == receiver.epoch_authenticator().as_bytes(),
            "epoch authenticators differ"
        );
    }
    let joined = match &out.welcome {
        Some(welcome) => join_as_dave(welcome, &candidates, &committer),
        None => false,
    };
    CommitRun::Committed {
        dropped: out.dropped.into_iter().map(|(_, e)| e).collect(),
        joined,
    }
}

/// Dave joins from `welcome` with the KeyPackage it was made for (one of `candidates`, found
/// by its reference) and the private keys of the KeyPackage of his whose init key it carries
/// (the first one's if none): he must join to the committer's epoch when that KeyPackage
/// carries those keys, and be refused when its init key is not his. Returns whether he
/// joined.
fn join_as_dave(welcome: &WelcomeMessage, candidates: &[KeyPackage], committer: &Group) -> bool {
    let f = commit_fixture();
    let msg = decode_exact::<MlsMessage>(welcome.as_bytes()).expect("the Welcome decodes");
    let MlsMessageBody::Welcome(w) = msg.body else {
        panic!("a Welcome message")
    };
    let made_for = |kp: &&KeyPackage| {
        let r = key_package_ref(cs(), &encode(*kp).expect("encode")).expect("hash");
        w.secrets.iter().any(|s| s.new_member.0.as_slice() == r)
    };
    let kp = candidates
        .iter()
        .find(made_for)
        .expect("the Welcome is for a KeyPackage that was sent");
    let owner = [&f.dave, &f.dave_extended]
        .into_iter()
        .find(|b| b.key_package.init_key == kp.init_key)
        .unwrap_or(&f.dave);
    let original = &owner.key_package;
    let bundle = KeyPackageBundle {
        key_package: kp.clone(),
        ..owner.clone()
    };
    let joined = Group::join(
        cs(),
        welcome,
        &bundle,
        JoinOptions {
            config: config(),
            external_psks: vec![(PSK_ID.to_vec(), psk())],
            ..JoinOptions::default()
        },
    );
    let own_keys = kp.init_key == original.init_key
        && kp.leaf_node.encryption_key() == original.leaf_node.encryption_key();
    if own_keys {
        let g = joined.expect("Dave, holding the keys of the KeyPackage added, could not join");
        assert_eq!(
            g.context(),
            committer.context(),
            "Dave joined another epoch"
        );
        assert!(
            g.epoch_authenticator().as_bytes() == committer.epoch_authenticator().as_bytes(),
            "Dave's epoch authenticator differs"
        );
        true
    } else {
        if kp.init_key != original.init_key {
            assert!(joined.is_err(), "Dave joined with an init key not his");
        }
        joined.is_ok()
    }
}
