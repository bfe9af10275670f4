//! Live interop: OpenMLS, mls-rs and our engine (`mls-engine`) in the same groups through
//! [`InteropClient`], exchanging only RFC 9420 wire bytes. Every epoch change is followed by a
//! check that all members agree on the epoch, the epoch authenticator and an exported secret.
//!
//! Most tests are one body run for every ordered pair `(a, b)` of different implementations
//! ([`PAIRS`]): `a` creates the group, `b` is on the other side; so each operation is exercised
//! from each side of each pair (OpenMLS-mls-rs, OpenMLS-ours, mls-rs-ours).

use mls_batch::Observer;
use mls_engine::crypto::{AwsLcSuite, CipherSuite};
use mls_engine::messages::{GroupContext, MlsMessage, MlsMessageBody};
use mls_engine::tree::LifetimePolicy;
use mls_peers::{
    external_senders_extension, new_client, new_client_in_suite, InteropClient, InteropError, Peer,
    Processed, ProposalSpec, RawExtension, TEST_EXTENSION_TYPE,
};

/// The members of one group, each driven through the trait.
struct Group {
    members: Vec<Box<dyn InteropClient>>,
    /// Whether every member sends its commits and proposals as PrivateMessages
    /// ([`Group::encrypt_handshake`]); the helpers check each one's wire format.
    encrypted: bool,
    /// The cipher suite of the group and of every client [`Group::add`] makes.
    suite: u16,
    /// Our delivery service's view of the group ([`Group::observe`]): public state only,
    /// fed every commit and proposal, and after each commit held to the committer's
    /// GroupContext and ratchet tree.
    observer: Option<Observer>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The GroupContext of an `MLSMessage(GroupInfo)`, decoded by our engine.
fn group_context_of(group_info: &[u8]) -> GroupContext {
    match MlsMessage::from_bytes(group_info).expect("GroupInfo").body {
        MlsMessageBody::GroupInfo(gi) => gi.group_context,
        _ => panic!("not a GroupInfo"),
    }
}

/// Reads an RFC 9420 variable-size length at `at` (§2.1.2): `(length, header bytes)`.
fn varint(msg: &[u8], at: usize) -> (usize, usize) {
    let first = msg[at];
    let n = 1 << (first >> 6);
    let mut len = usize::from(first & 0x3f);
    for &b in &msg[at + 1..at + n] {
        len = (len << 8) | usize::from(b);
    }
    (len, n)
}

/// Where the `authenticated_data` of an `MLSMessage(PrivateMessage)` lies: after `version`,
/// `wire_format`, `group_id<V>`, `epoch` and `content_type`.
fn private_message_aad(msg: &[u8]) -> std::ops::Range<usize> {
    assert_eq!(wire_format(msg), 2, "a PrivateMessage");
    let (gid, n) = varint(msg, 4);
    let at = 4 + n + gid + 8 + 1;
    let (len, n) = varint(msg, at);
    at + n..at + n + len
}

/// `wire_format` of an `MLSMessage` (after its `version`): 1 PublicMessage, 2 PrivateMessage.
fn wire_format(msg: &[u8]) -> u16 {
    let bytes = msg.get(2..4).expect("an MLSMessage");
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn client(peer: Peer, name: &str) -> Box<dyn InteropClient> {
    new_client(peer, name.as_bytes()).expect("new client")
}

impl Group {
    /// `creator` creates the group; `joiners` are added in one commit by the creator and join by
    /// Welcome.
    fn new(creator: Peer, joiners: &[Peer]) -> Group {
        Group::new_in_suite(creator, joiners, mls_peers::SUITE)
    }

    /// [`Group::new`] in cipher suite `suite`: every client made for it is of that suite.
    fn new_in_suite(creator: Peer, joiners: &[Peer], suite: u16) -> Group {
        let mut c = new_client_in_suite(creator, b"m0", suite)
            .unwrap_or_else(|e| panic!("suite {suite}: {e}"));
        c.create_group(b"interop group").expect("create_group");
        let mut g = Group {
            members: vec![c],
            encrypted: false,
            suite,
            observer: None,
        };
        g.assert_agree();
        if !joiners.is_empty() {
            g.add(0, joiners);
        }
        g
    }

    /// Member `by` adds new clients of `peers` in one commit; they join by the Welcome.
    fn add(&mut self, by: usize, peers: &[Peer]) {
        let base = self.members.len();
        let mut new: Vec<_> = peers
            .iter()
            .enumerate()
            .map(|(i, &p)| self.client(p, &format!("m{}", base + i)))
            .collect();
        let kps: Vec<_> = new
            .iter_mut()
            .map(|c| c.key_package().expect("key_package"))
            .collect();
        let out = self.members[by].add_members(kps).expect("add_members");
        self.deliver(by, &out.commit);
        let welcome = out.welcome.expect("a Welcome");
        for c in &mut new {
            c.join(&welcome, None)
                .unwrap_or_else(|e| panic!("{} joins: {e}", c.name()));
            if self.encrypted {
                c.set_handshake_encrypted(true).expect("encrypt handshake");
            }
        }
        self.members.extend(new);
        self.assert_agree();
    }

    /// From now on every member, and every member added, sends its commits and proposals as
    /// PrivateMessages.
    fn encrypt_handshake(&mut self) {
        for m in &mut self.members {
            m.set_handshake_encrypted(true)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name()));
        }
        self.encrypted = true;
    }

    /// A member's commit or proposal is in the group's handshake wire format.
    fn assert_handshake_format(&self, from: usize, msg: &[u8]) {
        let expected = if self.encrypted { 2 } else { 1 };
        assert_eq!(
            wire_format(msg),
            expected,
            "{} (member {from}) sent a handshake message in the wrong wire format",
            self.members[from].name()
        );
    }

    /// The suite's provider, for the observer.
    fn cs(&self) -> AwsLcSuite {
        AwsLcSuite::new(CipherSuite(self.suite)).expect("suite")
    }

    /// From now on our delivery service's observer follows the group: it starts from member
    /// 0's GroupInfo (with the tree) and processes every commit and proposal the helpers
    /// deliver (PublicMessages: not for a group that encrypts its handshake messages).
    fn observe(&mut self) {
        let gi = self.members[0].export_group_info(true).expect("group info");
        let MlsMessageBody::GroupInfo(gi) = MlsMessage::from_bytes(&gi).expect("decode").body
        else {
            panic!("not a GroupInfo");
        };
        let obs =
            Observer::from_group_info(&self.cs(), gi, None, LifetimePolicy::Check { now: now() })
                .unwrap_or_else(|e| {
                    panic!("observer from {}'s GroupInfo: {e}", self.members[0].name())
                });
        self.observer = Some(obs);
        self.check_observer(0);
    }

    /// Feeds `msg` to the observer, if one follows the group.
    fn observe_message(&mut self, msg: &[u8], from: &str) {
        let cs = self.cs();
        if let Some(obs) = self.observer.as_mut() {
            obs.set_lifetime(LifetimePolicy::Check { now: now() });
            let msg = MlsMessage::from_bytes(msg).expect("decode");
            obs.process(&cs, &msg)
                .unwrap_or_else(|e| panic!("the observer refused {from}'s message: {e}"));
        }
    }

    /// The observer, if any, holds the GroupContext and ratchet tree of member `at`.
    fn check_observer(&mut self, at: usize) {
        let Some(obs) = self.observer.as_ref() else {
            return;
        };
        let (ctx, tree) = (obs.context().clone(), obs.ratchet_tree());
        let m = &mut self.members[at];
        let gi = m.export_group_info(false).expect("group info");
        assert_eq!(
            ctx,
            group_context_of(&gi),
            "the observer's GroupContext against {}'s",
            m.name()
        );
        assert_eq!(
            tree.to_bytes().expect("encode"),
            m.export_ratchet_tree().expect("tree"),
            "the observer's tree against {}'s",
            m.name()
        );
    }

    /// A new client of `peer` in the group's suite.
    fn client(&self, peer: Peer, name: &str) -> Box<dyn InteropClient> {
        new_client_in_suite(peer, name.as_bytes(), self.suite)
            .unwrap_or_else(|e| panic!("suite {}: {e}", self.suite))
    }

    /// `by` merges its own pending commit, every other member processes it.
    fn deliver(&mut self, by: usize, commit: &[u8]) {
        self.assert_handshake_format(by, commit);
        self.members[by].merge_pending_commit().expect("merge");
        self.broadcast(by, commit);
    }

    /// Every member but `from` processes `msg` (it must be a commit).
    fn broadcast(&mut self, from: usize, msg: &[u8]) -> Vec<bool> {
        let sender = self
            .members
            .get(from)
            .map_or("external joiner", |m| m.name());
        self.observe_message(msg, sender);
        let mut removed = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if i == from {
                removed.push(false);
                continue;
            }
            match m.process(msg) {
                Ok(Processed::Commit { removed_self }) => removed.push(removed_self),
                Ok(other) => panic!("{} got {other:?} for a commit from {sender}", m.name()),
                Err(e) => panic!(
                    "{} (member {i}) processing {sender}'s commit: {e}",
                    m.name()
                ),
            }
        }
        // The committer, or for an external commit the first member, is at the new epoch.
        self.check_observer(if from < self.members.len() { from } else { 0 });
        removed
    }

    /// Every member but `from` processes the proposal `msg`.
    fn broadcast_proposal(&mut self, from: usize, msg: &[u8]) {
        self.assert_handshake_format(from, msg);
        self.observe_message(msg, self.members[from].name());
        for (i, m) in self.members.iter_mut().enumerate() {
            if i != from {
                let got = m.process(msg).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(got, Processed::Proposal, "{}", m.name());
            }
        }
    }

    /// Every member processes the proposal `msg` from a non-member (an external sender or a
    /// new member), which is always a PublicMessage.
    fn broadcast_external_proposal(&mut self, msg: &[u8]) {
        assert_eq!(wire_format(msg), 1, "a non-member's proposal");
        self.observe_message(msg, "a non-member");
        for (i, m) in self.members.iter_mut().enumerate() {
            let got = m
                .process(msg)
                .unwrap_or_else(|e| panic!("{} (member {i}): {e}", m.name()));
            assert_eq!(got, Processed::Proposal, "{}", m.name());
        }
    }

    /// `by` commits (pending proposals plus `proposals`), everyone else processes it.
    fn commit(&mut self, by: usize, proposals: &[ProposalSpec], force_path: bool) {
        let out = self.members[by]
            .commit(proposals.to_vec(), force_path)
            .unwrap_or_else(|e| panic!("{e}"));
        self.deliver(by, &out.commit);
        self.assert_agree();
    }

    /// Member `by` removes member `target`; the removed member sees itself removed.
    fn remove(&mut self, by: usize, target: usize) {
        let leaf = self.members[target].own_leaf();
        let out = self.members[by].remove(leaf).expect("remove");
        self.assert_handshake_format(by, &out.commit);
        self.members[by].merge_pending_commit().expect("merge");
        let removed = self.broadcast(by, &out.commit);
        assert!(removed[target], "the removed member sees its removal");
        assert_eq!(removed.iter().filter(|r| **r).count(), 1);
        self.members.remove(target);
        self.assert_agree();
    }

    /// All members agree on epoch, epoch authenticator, an exporter value and the member count.
    fn assert_agree(&self) {
        let first = &self.members[0];
        let epoch = first.epoch();
        let auth = first.epoch_authenticator().expect("epoch_authenticator");
        let exported = first.export_secret("interop", b"ctx", 32).expect("export");
        for m in &self.members {
            assert_eq!(m.epoch(), epoch, "{} epoch", m.name());
            assert_eq!(
                m.epoch_authenticator().expect("epoch_authenticator"),
                auth,
                "{} epoch authenticator at epoch {epoch}",
                m.name()
            );
            assert_eq!(
                m.export_secret("interop", b"ctx", 32).expect("export"),
                exported,
                "{} exporter at epoch {epoch}",
                m.name()
            );
            assert_eq!(m.member_count(), self.members.len(), "{} roster", m.name());
        }
    }

    /// Member `from` sends an application message; all others decrypt it.
    fn message(&mut self, from: usize, text: &[u8]) {
        let ct = self.members[from].protect(text).expect("protect");
        for (i, m) in self.members.iter_mut().enumerate() {
            if i != from {
                let pt = m
                    .unprotect(&ct)
                    .unwrap_or_else(|e| panic!("{} unprotect: {e}", m.name()));
                assert_eq!(pt, text);
            }
        }
    }
}

const O: Peer = Peer::OpenMls;
const R: Peer = Peer::MlsRs;
const U: Peer = Peer::Ours;

/// Every ordered pair of different implementations: (creator side, other side).
const PAIRS: [(Peer, Peer); 6] = [(O, R), (R, O), (O, U), (U, O), (R, U), (U, R)];

/// Runs `body` for every pair in [`PAIRS`], naming the pair on failure.
fn for_pairs(body: impl Fn(Peer, Peer)) {
    for (a, b) in PAIRS {
        eprintln!("pair: {} creates, {} on the other side", a.name(), b.name());
        body(a, b);
    }
}

#[test]
fn welcome_join_each_pair() {
    for_pairs(|a, b| {
        let g = Group::new(a, &[b]);
        assert_eq!(g.members[1].name(), b.name());
        assert_eq!(g.members[1].epoch(), 1);
    });
}

#[test]
fn welcome_join_mixed_joiners_in_one_commit() {
    for creator in Peer::ALL {
        let g = Group::new(creator, &[O, R, U, O, R, U]);
        assert_eq!(g.members.len(), 7);
    }
}

#[test]
fn commits_with_path_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a, b]);
        for round in 0..2 {
            for by in 0..g.members.len() {
                g.commit(by, &[], round == 0);
            }
        }
        assert_eq!(g.members[0].epoch(), 9);
    });
}

#[test]
fn adds_and_removes_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        // Each side adds one of each.
        g.add(0, &[a, b]);
        g.add(1, &[b, a]);
        assert_eq!(g.members.len(), 6);
        // Each side removes, from the far end and from the middle.
        g.remove(1, 5);
        g.remove(0, 2);
        g.remove(0, 1);
        // The remaining members still talk.
        g.message(0, b"after removals");
        g.commit(g.members.len() - 1, &[], true);
    });
}

#[test]
fn remove_creator_by_other_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a]);
        g.remove(1, 0);
        g.commit(0, &[], true);
        g.message(1, b"the creator is gone");
    });
}

#[test]
fn application_messages_both_ways() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a, b]);
        for round in 0..3 {
            for from in 0..g.members.len() {
                g.message(from, format!("round {round} from {from}").as_bytes());
            }
        }
        g.message(1, &[0xa5; 1024]);
        g.message(0, b"");
        g.commit(1, &[], true);
        g.message(0, b"new epoch");
    });
}

/// Commits and proposals as PrivateMessages (RFC 9420 §6.3; OpenMLS's default policy sends
/// nothing else): every kind of handshake message from each side of each pair, its wire format
/// checked, and the group's agreement after each epoch.
#[test]
fn encrypted_handshake_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a, b]);
        g.encrypt_handshake();
        // Commits with a path by every member, twice, so each handshake ratchet moves on.
        for _ in 0..2 {
            for by in 0..g.members.len() {
                g.commit(by, &[], true);
            }
        }
        // Adds and removes by value, from each side; the new members encrypt too.
        g.add(0, &[b]);
        g.add(1, &[a]);
        g.remove(1, 5);
        g.remove(0, 4);
        // Proposals by reference, from each side, committed by the other: the ProposalRef
        // covers the PrivateMessage's wire format.
        psk_setup(&mut g, b"psk-encrypted");
        let proposals = [
            ProposalSpec::Update,
            ProposalSpec::ExternalPsk(b"psk-encrypted".to_vec()),
            ProposalSpec::GroupContextExtensions(test_extension(b"encrypted")),
        ];
        for spec in &proposals {
            for (proposer, committer) in [(0, 1), (1, 0)] {
                let p = g.members[proposer]
                    .propose(spec)
                    .unwrap_or_else(|e| panic!("propose {spec:?}: {e}"));
                g.broadcast_proposal(proposer, &p);
                g.commit(committer, &[], false);
            }
        }
        for m in &g.members {
            assert_eq!(
                m.group_context_extensions().expect("extensions"),
                test_extension(b"encrypted"),
                "{}",
                m.name()
            );
        }
        let leaf = g.members[3].own_leaf();
        let p = g.members[1]
            .propose(&ProposalSpec::Remove(leaf))
            .expect("propose remove");
        g.broadcast_proposal(1, &p);
        let out = g.members[0].commit(vec![], false).expect("commit");
        g.assert_handshake_format(0, &out.commit);
        g.members[0].merge_pending_commit().expect("merge");
        let removed = g.broadcast(0, &out.commit);
        assert!(removed[3], "the removed member sees its removal");
        g.members.remove(3);
        g.assert_agree();
        // An external commit stays a PublicMessage (§6: only members encrypt).
        let gi = g.members[1].export_group_info(true).expect("group info");
        let mut j = client(a, "external");
        let commit = j.external_join(&gi, None).expect("external join");
        assert_eq!(wire_format(&commit), 1, "{}'s external commit", j.name());
        g.broadcast(usize::MAX, &commit);
        j.set_handshake_encrypted(true).expect("encrypt handshake");
        g.members.push(j);
        g.assert_agree();
        let n = g.members.len();
        g.commit(n - 1, &[], true);
        // Application messages after all of it, both ways.
        g.message(0, b"after encrypted handshakes");
        g.message(1, b"and back");
    });
}

/// An encrypted commit with one bit of its AEAD tag changed on the way is refused by every
/// receiver; whether the unaltered commit is then accepted is recorded per implementation
/// (difference 12 in `INTEROP.md`): ours and OpenMLS accept it, an mls-rs receiver has deleted
/// the handshake key and cannot follow the group any more.
#[test]
fn altered_encrypted_commit_then_the_original() {
    for_pairs(|a, b| {
        for (committer, receiver) in [(0, 1), (1, 0)] {
            let mut g = Group::new(a, &[b]);
            g.encrypt_handshake();
            let out = g.members[committer].commit(vec![], true).expect("commit");
            g.assert_handshake_format(committer, &out.commit);
            let mut changed = out.commit.clone();
            let last = changed.len() - 1;
            changed[last] ^= 1;
            let name = g.members[receiver].name();
            let got = g.members[receiver].process(&changed);
            assert!(got.is_err(), "{name} accepted an altered commit: {got:?}");
            let got = g.members[receiver].process(&out.commit);
            match name {
                "mls-rs" => {
                    assert!(
                        matches!(&got, Err(InteropError::Failed { message, .. })
                            if message.starts_with("KeyMissing")),
                        "mls-rs kept the handshake key: {got:?}"
                    );
                    continue;
                }
                _ => assert_eq!(
                    got.as_ref().ok(),
                    Some(&Processed::Commit {
                        removed_self: false
                    }),
                    "{name}: {got:?}"
                ),
            }
            g.members[committer].merge_pending_commit().expect("merge");
            g.assert_agree();
        }
    });
}

/// One member sends its handshake messages encrypted and the other in the clear: each
/// accepts the other's (a group may mix them; RFC 9420 leaves the choice to the sender).
#[test]
fn encrypted_and_plain_handshakes_in_one_group() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        for (encrypting, plain) in [(0, 1), (1, 0)] {
            g.members[encrypting]
                .set_handshake_encrypted(true)
                .expect("encrypt handshake");
            g.members[plain]
                .set_handshake_encrypted(false)
                .expect("plain handshake");
            for (by, format) in [(encrypting, 2), (plain, 1)] {
                let p = g.members[by]
                    .propose(&ProposalSpec::Update)
                    .expect("propose update");
                assert_eq!(
                    wire_format(&p),
                    format,
                    "{}'s proposal",
                    g.members[by].name()
                );
                let other = 1 - by;
                assert_eq!(
                    g.members[other].process(&p).expect("proposal"),
                    Processed::Proposal
                );
                let out = g.members[other].commit(vec![], true).expect("commit");
                assert_eq!(
                    wire_format(&out.commit),
                    if other == encrypting { 2 } else { 1 },
                    "{}'s commit",
                    g.members[other].name()
                );
                g.members[other].merge_pending_commit().expect("merge");
                g.broadcast(other, &out.commit);
                g.assert_agree();
            }
        }
        g.message(0, b"mixed");
    });
}

/// The group's external sender (RFC 9420 §12.1.8), a non-member of each implementation in
/// turn: a GroupContextExtensions from the other side lists it in `external_senders`; it
/// proposes adding a member, which the other side commits, then removing one, which the
/// creator's side commits. Every member processes its proposals.
#[test]
fn external_sender_proposals_from_each_implementation() {
    for_pairs(|a, b| {
        for sender in Peer::ALL {
            eprintln!("  external sender: {}", sender.name());
            let mut g = Group::new(a, &[b, a]);
            g.observe();
            let mut ds = client(sender, "delivery service");
            let ext = external_senders_extension(&[ds.external_sender().expect("sender")]);
            g.commit(
                1,
                &[ProposalSpec::GroupContextExtensions(vec![ext.clone()])],
                false,
            );
            for m in &g.members {
                assert_eq!(
                    m.group_context_extensions().expect("extensions"),
                    vec![ext.clone()],
                    "{}",
                    m.name()
                );
            }
            let mut newcomer = client(b, "newcomer");
            let kp = newcomer.key_package().expect("key package");
            let gi = g.members[0].export_group_info(true).expect("group info");
            let p = ds
                .propose_as_external_sender(&gi, 0, &ProposalSpec::Add(kp))
                .unwrap_or_else(|e| panic!("external Add: {e}"));
            g.broadcast_external_proposal(&p);
            let out = g.members[1].commit(vec![], false).expect("commit");
            g.deliver(1, &out.commit);
            newcomer
                .join(&out.welcome.expect("a Welcome"), None)
                .unwrap_or_else(|e| panic!("{} joins: {e}", newcomer.name()));
            g.members.push(newcomer);
            g.assert_agree();

            let leaf = g.members[2].own_leaf();
            let gi = g.members[3].export_group_info(true).expect("group info");
            let p = ds
                .propose_as_external_sender(&gi, 0, &ProposalSpec::Remove(leaf))
                .unwrap_or_else(|e| panic!("external Remove: {e}"));
            g.broadcast_external_proposal(&p);
            let out = g.members[0].commit(vec![], false).expect("commit");
            g.members[0].merge_pending_commit().expect("merge");
            let removed = g.broadcast(0, &out.commit);
            assert!(removed[2], "the removed member sees its removal");
            g.members.remove(2);
            g.assert_agree();

            // A GroupContextExtensions from the external sender, keeping itself listed.
            let mut exts = test_extension(b"from the external sender");
            exts.push(ext.clone());
            let gi = g.members[1].export_group_info(true).expect("group info");
            let p = ds
                .propose_as_external_sender(
                    &gi,
                    0,
                    &ProposalSpec::GroupContextExtensions(exts.clone()),
                )
                .unwrap_or_else(|e| panic!("external GroupContextExtensions: {e}"));
            g.broadcast_external_proposal(&p);
            g.commit(1, &[], false);
            for m in &g.members {
                assert_eq!(
                    m.group_context_extensions().expect("extensions"),
                    exts,
                    "{}",
                    m.name()
                );
            }
            g.message(2, b"after the external sender's proposals");
        }
    });
}

/// A proposal signed by a non-member that the group's `external_senders` does not list is
/// refused by every member, whether it claims index 0 (another key's) or index 1 (past the
/// end of the list). mls-rs will not even build one: it looks its own index up and finds none.
#[test]
fn external_proposal_from_an_unlisted_sender_is_refused() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        let listed = client(a, "listed sender");
        let ext = external_senders_extension(&[listed.external_sender().expect("sender")]);
        g.commit(0, &[ProposalSpec::GroupContextExtensions(vec![ext])], false);
        for (sender, index) in Peer::ALL.into_iter().flat_map(|p| [(p, 0), (p, 1)]) {
            let mut impostor = client(sender, "impostor");
            let gi = g.members[0].export_group_info(true).expect("group info");
            let leaf = g.members[1].own_leaf();
            match impostor.propose_as_external_sender(&gi, index, &ProposalSpec::Remove(leaf)) {
                Ok(p) => {
                    for m in &mut g.members {
                        let got = m.process(&p);
                        assert!(
                            matches!(got, Err(InteropError::Failed { .. })),
                            "{} accepted {}'s proposal as the listed sender's: {got:?}",
                            m.name(),
                            sender.name()
                        );
                    }
                }
                Err(e) => assert_eq!(sender, R, "{e}"),
            }
        }
        // The refusals left every member able to go on.
        g.commit(1, &[], true);
    });
}

/// A non-member of each implementation proposes to add itself (sender `new_member_proposal`,
/// RFC 9420 §12.1.8), each time to a GroupInfo from a different member; a member of the other
/// side commits the proposal, and the proposer joins from the Welcome.
#[test]
fn new_member_proposals_from_each_implementation() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        for (i, joiner) in Peer::ALL.into_iter().enumerate() {
            let mut j = client(joiner, &format!("joiner {i}"));
            let gi = g.members[i % 2]
                .export_group_info(true)
                .expect("group info");
            let p = j
                .propose_join(&gi)
                .unwrap_or_else(|e| panic!("{} proposes to join: {e}", joiner.name()));
            g.broadcast_external_proposal(&p);
            let committer = (i + 1) % 2;
            let out = g.members[committer].commit(vec![], false).expect("commit");
            g.deliver(committer, &out.commit);
            j.join(&out.welcome.expect("a Welcome"), None)
                .unwrap_or_else(|e| panic!("{} joins: {e}", j.name()));
            g.members.push(j);
            g.assert_agree();
        }
        let n = g.members.len();
        g.message(n - 1, b"joined on my own proposal");
        g.commit(n - 1, &[], true);
    });
}

/// Application messages with `authenticated_data` (RFC 9420 §6.3: sent in the clear, covered by
/// the content's AEAD), from each side of each pair: the receiver reports the same bytes, and a
/// copy with one bit of its authenticated data or of its AEAD tag changed is refused. Whether the unchanged
/// message still decrypts after that refusal is recorded per implementation (difference 12 in
/// `INTEROP.md`): ours and OpenMLS keep the key a failed decryption tried; mls-rs deletes it,
/// so a copy altered on the way destroys the message for an mls-rs receiver.
#[test]
fn application_messages_with_authenticated_data() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        for from in [0, 1] {
            let to = 1 - from;
            for aad in [&b"x"[..], &[0x5a; 300][..]] {
                let expected = Processed::Application {
                    data: b"with aad".to_vec(),
                    authenticated_data: aad.to_vec(),
                };
                let ct = g.members[from]
                    .protect_with_aad(b"with aad", aad)
                    .expect("protect");
                let range = private_message_aad(&ct);
                assert_eq!(&ct[range.clone()], aad, "{}", g.members[from].name());
                let got = g.members[to].process(&ct);
                assert_eq!(got.as_ref().ok(), Some(&expected), "{got:?}");

                // One bit of the authenticated data, or of the ciphertext's tag (its last
                // byte), changed.
                for at in [range.start, ct.len() - 1] {
                    let ct = g.members[from]
                        .protect_with_aad(b"with aad", aad)
                        .expect("protect");
                    let mut changed = ct.clone();
                    changed[at] ^= 1;
                    let receiver = g.members[to].name();
                    let got = g.members[to].process(&changed);
                    assert!(
                        got.is_err(),
                        "{receiver} accepted a changed message: {got:?}"
                    );
                    let got = g.members[to].process(&ct);
                    match receiver {
                        "mls-rs" => assert!(
                            matches!(&got, Err(InteropError::Failed { message, .. })
                                if message.starts_with("KeyMissing")),
                            "mls-rs kept the key: {got:?}"
                        ),
                        _ => assert_eq!(got.as_ref().ok(), Some(&expected), "{receiver}: {got:?}"),
                    }
                }
            }
        }
        g.message(0, b"the ratchets go on");
    });
}

/// Application messages delivered out of order within an epoch (RFC 9420 §9.1: the receiver
/// derives the skipped generations' keys and keeps them), from each side of each pair: five
/// messages received newest first, then five more with every other one held back; a replay
/// of a generation already used is refused.
#[test]
fn application_messages_out_of_order() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        for from in [0, 1] {
            let to = 1 - from;
            let sent: Vec<(Vec<u8>, Vec<u8>)> = (0..10)
                .map(|i| {
                    let text = format!("message {i} from {from}").into_bytes();
                    let ct = g.members[from].protect(&text).expect("protect");
                    (text, ct)
                })
                .collect();
            let order = [4, 3, 2, 1, 0, 5, 7, 9, 6, 8];
            for i in order {
                let (text, ct) = &sent[i];
                let got = g.members[to]
                    .unprotect(ct)
                    .unwrap_or_else(|e| panic!("{} message {i}: {e}", g.members[to].name()));
                assert_eq!(&got, text);
            }
            let replay = g.members[to].unprotect(&sent[3].1);
            assert!(
                replay.is_err(),
                "{} accepted a replay",
                g.members[to].name()
            );
        }
        g.commit(1, &[], true);
        g.message(0, b"after the reordering");
    });
}

/// An application message sent in an epoch and delivered after the receiver has moved to the
/// next one (RFC 9420 §14 leaves keeping past epochs' keys to the application). Recorded per
/// implementation, in its configuration here, so a change is noticed: ours keeps three past
/// epochs (`GroupConfig::epoch_retention`) and mls-rs keeps some, so both decrypt it; OpenMLS
/// keeps none by default and refuses it (`SecretTreeError(TooDistantInThePast)`).
#[test]
fn application_message_from_the_previous_epoch() {
    for_pairs(|a, b| {
        for (sender, receiver) in [(0, 1), (1, 0)] {
            let mut g = Group::new(a, &[b, a]);
            let late = g.members[sender].protect(b"late").expect("protect");
            // Member 2 commits; both move to the next epoch before the message arrives.
            g.commit(2, &[], true);
            let got = g.members[receiver].unprotect(&late);
            let name = g.members[receiver].name();
            match name {
                "openmls" => assert!(got.is_err(), "{name} kept the past epoch: {got:?}"),
                _ => assert_eq!(got.as_deref().ok(), Some(&b"late"[..]), "{name}: {got:?}"),
            }
            g.message(receiver, b"the current epoch still works");
        }
    });
}

/// One commit covering many proposals (RFC 9420 §12.3 fixes the order they apply in): by
/// reference from three members of both sides (an Update, a Remove, an Add, a PSK) and by
/// value (an Add and a Remove), committed by each side in turn; the two newcomers join from
/// the Welcome, which names the PSK they must hold.
#[test]
fn one_commit_many_proposals_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a, b, a, b]);
        g.observe();
        psk_setup(&mut g, b"psk-many");
        for committer in [0, 1] {
            let other = 1 - committer;
            let n = g.members.len();
            let by_ref = |g: &mut Group, from: usize, spec: ProposalSpec| {
                let p = g.members[from]
                    .propose(&spec)
                    .unwrap_or_else(|e| panic!("propose {spec:?}: {e}"));
                g.broadcast_proposal(from, &p);
            };
            by_ref(&mut g, 2, ProposalSpec::Update);
            let leaf = g.members[n - 1].own_leaf();
            by_ref(&mut g, 3, ProposalSpec::Remove(leaf));
            let mut newcomers = vec![
                client(b, &format!("by ref {committer}")),
                client(a, &format!("by value {committer}")),
            ];
            let kps: Vec<_> = newcomers
                .iter_mut()
                .map(|c| {
                    c.register_external_psk(b"psk-many", b"external psk secret, 32 bytes!!")
                        .expect("register psk");
                    c.key_package().expect("key package")
                })
                .collect();
            by_ref(&mut g, other, ProposalSpec::Add(kps[0].clone()));
            by_ref(&mut g, 2, ProposalSpec::ExternalPsk(b"psk-many".to_vec()));
            let leaf = g.members[n - 2].own_leaf();
            let out = g.members[committer]
                .commit(
                    vec![
                        ProposalSpec::Add(kps[1].clone()),
                        ProposalSpec::Remove(leaf),
                    ],
                    false,
                )
                .unwrap_or_else(|e| panic!("commit: {e}"));
            g.assert_handshake_format(committer, &out.commit);
            g.members[committer].merge_pending_commit().expect("merge");
            let removed = g.broadcast(committer, &out.commit);
            let gone: Vec<usize> = (0..n).filter(|i| removed[*i]).collect();
            assert_eq!(
                gone,
                [n - 2, n - 1],
                "the removed members see their removal"
            );
            g.members.truncate(n - 2);
            let welcome = out.welcome.expect("a Welcome");
            for c in &mut newcomers {
                c.join(&welcome, None)
                    .unwrap_or_else(|e| panic!("{} joins: {e}", c.name()));
            }
            g.members.extend(newcomers);
            g.assert_agree();
        }
        let n = g.members.len();
        g.message(n - 1, b"after two crowded commits");
    });
}

/// Every RFC 9420 cipher suite that two implementations share besides suite 1 (which every
/// other test uses): 2 (P-256, ECDSA), 3 (ChaCha20-Poly1305) with all three, 5 (P-521) and 7
/// (P-384) between mls-rs and ours. For each suite and each ordered pair that provides it:
/// Welcome joins, commits with a path from each side, an Update and a PSK by reference, adds
/// and removes, an external commit, and application messages both ways.
#[test]
fn other_cipher_suites_from_each_side() {
    for suite in [2u16, 3, 5, 7] {
        for (a, b) in PAIRS {
            if !(a.suites().contains(&suite) && b.suites().contains(&suite)) {
                continue;
            }
            eprintln!(
                "suite {suite}: {} creates, {} on the other side",
                a.name(),
                b.name()
            );
            let mut g = Group::new_in_suite(a, &[b, a], suite);
            g.observe();
            for peer in [a, b] {
                // MLSMessage(KeyPackage): version, wire_format, then the KeyPackage's version
                // and cipher_suite.
                let kp = g.client(peer, "probe").key_package().expect("key package");
                assert_eq!(
                    kp[6..8],
                    suite.to_be_bytes(),
                    "{}'s KeyPackage",
                    peer.name()
                );
            }
            for by in 0..g.members.len() {
                g.commit(by, &[], true);
            }
            psk_setup(&mut g, b"psk-suite");
            for (proposer, committer) in [(0, 1), (1, 0)] {
                for spec in [
                    ProposalSpec::Update,
                    ProposalSpec::ExternalPsk(b"psk-suite".to_vec()),
                ] {
                    let p = g.members[proposer]
                        .propose(&spec)
                        .unwrap_or_else(|e| panic!("suite {suite}: propose {spec:?}: {e}"));
                    g.broadcast_proposal(proposer, &p);
                    g.commit(committer, &[], false);
                }
            }
            g.add(1, &[a, b]);
            g.remove(0, 2);
            g.remove(1, 3);
            let gi = g.members[1].export_group_info(true).expect("group info");
            let mut j = g.client(a, "external");
            let commit = j
                .external_join(&gi, None)
                .unwrap_or_else(|e| panic!("suite {suite}: {} external join: {e}", a.name()));
            g.broadcast(usize::MAX, &commit);
            g.members.push(j);
            g.assert_agree();
            for from in 0..g.members.len() {
                g.message(from, format!("suite {suite} from {from}").as_bytes());
            }
        }
    }
}

/// A client refuses to be made in a suite its implementation does not provide, with a typed
/// error rather than a panic; and a KeyPackage of one suite cannot be added to a group of
/// another (RFC 9420 §12.2: the KeyPackage's suite must be the group's).
#[test]
fn suites_an_implementation_lacks_and_mixed_suites() {
    for peer in Peer::ALL {
        for suite in 1..=7u16 {
            let made = new_client_in_suite(peer, b"x", suite);
            assert_eq!(
                made.is_ok(),
                peer.suites().contains(&suite),
                "{} in suite {suite}",
                peer.name()
            );
        }
        assert!(new_client_in_suite(peer, b"x", 0x0a0a).is_err());
    }
    for (a, b) in PAIRS {
        let mut g = Group::new(a, &[b]);
        let mut other = new_client_in_suite(b, b"other suite", 2).expect("suite 2");
        let kp = other.key_package().expect("key package");
        let got = g.members[0].commit(vec![ProposalSpec::Add(kp)], false);
        assert!(
            got.is_err(),
            "{} added a suite-2 KeyPackage to a suite-1 group",
            a.name()
        );
        g.commit(1, &[], true);
    }
}

/// Our delivery service's observer (`mls_batch::Observer`: public state only) follows a group
/// mixing all three implementations, each one the creator in turn: it starts from a
/// GroupInfo, processes every commit and proposal the members send (commits with a path from
/// each, Update, Remove, Add and PSK proposals by reference, adds and removes by value, a
/// GroupContextExtensions, an external commit, a new member's own Add), and after each commit
/// holds exactly the committer's GroupContext (tree hash, transcript hash, extensions) and
/// ratchet tree.
#[test]
fn observer_follows_groups_of_every_implementation() {
    for creator in Peer::ALL {
        eprintln!("{} creates", creator.name());
        let mut g = Group::new(creator, &[O, R, U]);
        g.observe();
        for by in 0..g.members.len() {
            g.commit(by, &[], true);
        }
        psk_setup(&mut g, b"psk-observed");
        for (proposer, committer) in [(1, 2), (2, 3), (3, 1)] {
            for spec in [
                ProposalSpec::Update,
                ProposalSpec::ExternalPsk(b"psk-observed".to_vec()),
            ] {
                let p = g.members[proposer].propose(&spec).expect("propose");
                g.broadcast_proposal(proposer, &p);
                g.commit(committer, &[], false);
            }
        }
        g.add(2, &[U, O, R]);
        g.remove(3, 1);
        let leaf = g.members[4].own_leaf();
        let p = g.members[1]
            .propose(&ProposalSpec::Remove(leaf))
            .expect("propose remove");
        g.broadcast_proposal(1, &p);
        let out = g.members[2].commit(vec![], false).expect("commit");
        g.members[2].merge_pending_commit().expect("merge");
        let removed = g.broadcast(2, &out.commit);
        assert!(removed[4]);
        g.members.remove(4);
        g.commit(
            1,
            &[ProposalSpec::GroupContextExtensions(test_extension(
                b"observed",
            ))],
            false,
        );
        for (i, joiner) in [R, O, U].into_iter().enumerate() {
            let gi = g.members[i].export_group_info(true).expect("group info");
            let mut j = g.client(joiner, &format!("external {i}"));
            let commit = j.external_join(&gi, None).expect("external join");
            g.broadcast(usize::MAX, &commit);
            g.members.push(j);
            g.assert_agree();
        }
        for (i, joiner) in Peer::ALL.into_iter().enumerate() {
            let gi = g.members[i].export_group_info(true).expect("group info");
            let mut j = g.client(joiner, &format!("proposer {i}"));
            let p = j.propose_join(&gi).expect("propose join");
            g.broadcast_external_proposal(&p);
            let out = g.members[i + 1].commit(vec![], false).expect("commit");
            g.deliver(i + 1, &out.commit);
            j.join(&out.welcome.expect("a Welcome"), None)
                .expect("join");
            g.members.push(j);
            g.assert_agree();
        }
        let obs = g.observer.as_ref().expect("observer");
        assert_eq!(obs.epoch(), g.members[0].epoch());
    }
}

/// A client of `joiner` externally commits into a group of `creator` and `other`, with the tree
/// in the GroupInfo or out of band; the GroupInfo is exported by member `gi_from`.
fn external_join(creator: Peer, other: Peer, joiner: Peer, gi_from: usize, tree_in_gi: bool) {
    let mut g = Group::new(creator, &[other]);
    let gi = g.members[gi_from]
        .export_group_info(tree_in_gi)
        .expect("group info");
    let tree = (!tree_in_gi).then(|| g.members[gi_from].export_ratchet_tree().expect("tree"));
    let mut j = client(joiner, "external");
    let commit = j.external_join(&gi, tree.as_deref()).unwrap_or_else(|e| {
        panic!(
            "{} group, GroupInfo from {}, {} joins: {e}",
            creator.name(),
            g.members[gi_from].name(),
            joiner.name()
        )
    });
    g.broadcast(usize::MAX, &commit);
    g.members.push(j);
    g.assert_agree();
    let n = g.members.len();
    g.message(n - 1, b"hello from the external joiner");
    g.commit(n - 1, &[], true);
    g.commit(0, &[], false);
}

#[test]
fn external_commit_into_the_other_sides_group() {
    // `b` joins a group created by `a` (GroupInfo from the creator), tree in the GroupInfo and
    // out of band.
    for_pairs(|a, b| {
        external_join(a, b, b, 0, true);
        external_join(a, b, b, 0, false);
    });
}

#[test]
fn external_commit_group_info_from_the_other_side() {
    // The GroupInfo is signed by member 1 (implementation `b`), the joiner is of `a`.
    for_pairs(|a, b| external_join(a, b, a, 1, true));
}

fn psk_setup(g: &mut Group, id: &[u8]) {
    for m in &mut g.members {
        m.register_external_psk(id, b"external psk secret, 32 bytes!!")
            .expect("register psk");
    }
}

#[test]
fn external_psk_by_value_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        psk_setup(&mut g, b"psk-1");
        g.commit(0, &[ProposalSpec::ExternalPsk(b"psk-1".to_vec())], false);
        g.commit(1, &[ProposalSpec::ExternalPsk(b"psk-1".to_vec())], false);
        g.message(1, b"after psk");
    });
}

#[test]
fn external_psk_by_reference_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        psk_setup(&mut g, b"psk-2");
        // Proposed by one side, committed by the other.
        for (proposer, committer) in [(0, 1), (1, 0)] {
            let p = g.members[proposer]
                .propose(&ProposalSpec::ExternalPsk(b"psk-2".to_vec()))
                .expect("propose psk");
            g.broadcast_proposal(proposer, &p);
            g.commit(committer, &[], false);
        }
    });
}

#[test]
fn external_psk_unknown_to_receiver_is_rejected() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        g.members[0]
            .register_external_psk(b"only-mine", b"secret")
            .expect("register");
        let out = g.members[0]
            .commit(
                vec![ProposalSpec::ExternalPsk(b"only-mine".to_vec())],
                false,
            )
            .expect("commit with psk");
        let err = g.members[1].process(&out.commit).expect_err("unknown PSK");
        assert!(matches!(err, InteropError::Failed { .. }), "{err}");
    });
}

/// The private-use extension alone (what RFC 9420 allows when every member supports it).
fn bare_test_extension(data: &[u8]) -> Vec<RawExtension> {
    vec![RawExtension {
        extension_type: TEST_EXTENSION_TYPE,
        data: data.to_vec(),
    }]
}

/// `required_capabilities` naming the private-use extension, then the extension: the form
/// OpenMLS insists on (see `gce_without_required_capabilities_is_rejected_by_openmls`).
fn test_extension(data: &[u8]) -> Vec<RawExtension> {
    let [hi, lo] = TEST_EXTENSION_TYPE.to_be_bytes();
    let mut exts = vec![RawExtension {
        extension_type: 3, // required_capabilities
        // extension_types<V> = [0xff00], proposal_types<V> = [], credential_types<V> = []
        data: vec![2, hi, lo, 0, 0],
    }];
    exts.extend(bare_test_extension(data));
    exts
}

/// Difference: RFC 9420 (12.1.7) only asks that required capabilities be supported by all
/// members; OpenMLS additionally rejects a GroupContextExtensions proposal whose non-default
/// extensions are not listed in a `required_capabilities` extension of the same proposal
/// (`ExtensionNotInRequiredCapabilities`), both when committing and when processing. mls-rs and
/// ours accept it (every member advertises the extension in its capabilities).
#[test]
fn gce_without_required_capabilities_is_rejected_by_openmls() {
    let proposal = ProposalSpec::GroupContextExtensions(bare_test_extension(b"bare"));
    // OpenMLS will not commit it.
    let mut g = Group::new(O, &[R, U, R, U]);
    let err = g.members[0]
        .commit(vec![proposal.clone()], false)
        .expect_err("OpenMLS refuses");
    assert!(
        err.to_string()
            .contains("ExtensionNotInRequiredCapabilities"),
        "{err}"
    );
    // mls-rs (member 1) and ours (member 2) commit it; the other mls-rs and ours members accept
    // it, the OpenMLS member rejects it.
    for by in [1, 2] {
        let out = g.members[by]
            .commit(vec![proposal.clone()], false)
            .expect("a bare GCE is committed");
        g.members[by].discard_pending_commit().expect("discard");
        let committer = g.members[by].name();
        for m in &mut g.members[3..] {
            let got = m.process(&out.commit);
            assert!(
                matches!(got, Ok(Processed::Commit { .. })),
                "{} accepts {committer}'s bare GCE: {got:?}",
                m.name()
            );
        }
        // The members who processed it moved on: rebuild the group for the next committer.
        let err = g.members[0]
            .process(&out.commit)
            .expect_err("OpenMLS rejects");
        assert!(
            err.to_string()
                .contains("ExtensionNotInRequiredCapabilities"),
            "{err}"
        );
        g = Group::new(O, &[R, U, R, U]);
    }
}

#[test]
fn group_context_extensions_by_value_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a]);
        for (by, data) in [(0, &b"from creator"[..]), (1, b"from other side")] {
            g.commit(
                by,
                &[ProposalSpec::GroupContextExtensions(test_extension(data))],
                false,
            );
            for m in &g.members {
                assert_eq!(
                    m.group_context_extensions().expect("gce"),
                    test_extension(data),
                    "{}",
                    m.name()
                );
            }
        }
        // A joiner after the change sees the extension too.
        g.add(1, &[a]);
        g.message(3, b"gce");
    });
}

#[test]
fn group_context_extensions_by_reference_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        for (proposer, committer) in [(0, 1), (1, 0)] {
            let data = format!("proposed by {proposer}");
            let p = g.members[proposer]
                .propose(&ProposalSpec::GroupContextExtensions(test_extension(
                    data.as_bytes(),
                )))
                .expect("propose gce");
            g.broadcast_proposal(proposer, &p);
            g.commit(committer, &[], false);
            for m in &g.members {
                assert_eq!(
                    m.group_context_extensions().expect("gce"),
                    test_extension(data.as_bytes())
                );
            }
        }
    });
}

#[test]
fn add_and_remove_and_update_by_reference_from_each_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b, a]);
        // Update proposed by each side, committed by the other.
        for (proposer, committer) in [(0, 1), (1, 0)] {
            let p = g.members[proposer]
                .propose(&ProposalSpec::Update)
                .expect("propose update");
            g.broadcast_proposal(proposer, &p);
            g.commit(committer, &[], false);
        }
        // Remove member 2 proposed by 1, committed by 0.
        let leaf = g.members[2].own_leaf();
        let p = g.members[1]
            .propose(&ProposalSpec::Remove(leaf))
            .expect("propose remove");
        g.broadcast_proposal(1, &p);
        let out = g.members[0].commit(vec![], false).expect("commit");
        g.members[0].merge_pending_commit().expect("merge");
        let removed = g.broadcast(0, &out.commit);
        assert!(removed[2]);
        g.members.remove(2);
        g.assert_agree();
        // Add proposed by 0, committed by 1.
        let mut newcomer = client(b, "newcomer");
        let kp = newcomer.key_package().expect("kp");
        let p = g.members[0]
            .propose(&ProposalSpec::Add(kp))
            .expect("propose add");
        g.broadcast_proposal(0, &p);
        let out = g.members[1].commit(vec![], false).expect("commit");
        g.deliver(1, &out.commit);
        newcomer
            .join(&out.welcome.expect("welcome"), None)
            .expect("join");
        g.members.push(newcomer);
        g.assert_agree();
    });
}

fn reinit() -> ProposalSpec {
    ProposalSpec::ReInit {
        group_id: b"new".to_vec(),
    }
}

/// RFC 9420 (12.4.2): after a commit covering a ReInit, "the client MUST NOT use the group to
/// send messages anymore". Asserted per implementation, so a change is noticed: ours refuses,
/// OpenMLS and mls-rs still protect (difference 2 in INTEROP.md).
fn assert_sends_after_reinit(m: &mut Box<dyn InteropClient>) {
    let got = m.protect(b"after reinit");
    match m.name() {
        "mls-engine" => assert!(
            got.as_ref()
                .is_err_and(|e| e.to_string().contains("Inactive")),
            "{got:?}"
        ),
        _ => assert!(got.is_ok(), "{} protects after ReInit: {got:?}", m.name()),
    }
}

#[test]
fn reinit_support() {
    // OpenMLS has no API to propose or commit a ReInit: a typed Unsupported.
    let mut g = Group::new(O, &[R]);
    let err = g.members[0]
        .commit(vec![reinit()], false)
        .expect_err("OpenMLS ReInit");
    assert!(err.is_unsupported(), "{err}");
    let err = g.members[0].propose(&reinit()).expect_err("OpenMLS ReInit");
    assert!(err.is_unsupported(), "{err}");

    // mls-rs and ours commit a ReInit (by value, and by reference from the other side); every
    // other implementation processes it: the epoch advances and the authenticators agree.
    for (committer, receivers) in [(R, [O, U]), (U, [O, R])] {
        let mut g = Group::new(committer, &receivers);
        g.commit(0, &[reinit()], false);
        for m in &mut g.members {
            assert_sends_after_reinit(m);
        }
    }
    for (proposer, committer) in [(R, U), (U, R)] {
        let mut g = Group::new(committer, &[proposer]);
        let p = g.members[1].propose(&reinit()).expect("propose reinit");
        g.broadcast_proposal(1, &p);
        g.commit(0, &[], false);
        for m in &mut g.members {
            assert_sends_after_reinit(m);
        }
    }
    // The new group itself (RFC 9420 11.2) is `reinit_carried_through_between_mls_rs_and_ours`.
}

/// A ReInit carried through (RFC 9420 §11.2), between mls-rs and ours (OpenMLS has no API for
/// it: `INTEROP.md`): after the commit covering the ReInit, each other member makes a
/// KeyPackage for the new group, one member creates it (adding them, with a PreSharedKey of
/// usage `reinit` for the old group's last epoch) and the others join from its Welcome. Each
/// side commits the ReInit, and each side creates the new group.
#[test]
fn reinit_carried_through_between_mls_rs_and_ours() {
    for (a, b) in [(R, U), (U, R)] {
        for creator in [0, 1] {
            eprintln!(
                "{} commits the ReInit, member {creator} creates the new group",
                a.name()
            );
            let mut g = Group::new(a, &[b, a, b]);
            g.commit(0, &[reinit()], false);
            let others: Vec<usize> = (0..g.members.len()).filter(|i| *i != creator).collect();
            let kps = others
                .iter()
                .map(|&i| {
                    g.members[i]
                        .reinit_key_package()
                        .unwrap_or_else(|e| panic!("{}: {e}", g.members[i].name()))
                })
                .collect();
            let welcome = g.members[creator]
                .reinit_group(kps)
                .unwrap_or_else(|e| panic!("{} creates: {e}", g.members[creator].name()));
            // Without the old group's resumption PSK, the Welcome cannot be opened.
            let first = others[0];
            let plain = g.members[first].join(&welcome, None);
            assert!(
                plain.is_err(),
                "{} joined without the resumption PSK",
                g.members[first].name()
            );
            for &i in &others {
                g.members[i]
                    .join_reinit(&welcome)
                    .unwrap_or_else(|e| panic!("{} joins: {e}", g.members[i].name()));
            }
            assert_eq!(g.members[0].epoch(), 1, "the new group starts at epoch 1");
            g.assert_agree();
            g.message(creator, b"in the new group");
            g.commit(1 - creator, &[], true);
            g.message(3, b"and on");
        }
    }
}

/// Branch (RFC 9420 §11.3), between mls-rs and ours: a member of each side creates a subgroup
/// of itself and two members of both sides (by fresh KeyPackages, with a PreSharedKey of usage
/// `branch` for the current epoch); they join from its Welcome, and the subgroup goes on.
#[test]
fn branch_between_mls_rs_and_ours() {
    for (a, b) in [(R, U), (U, R)] {
        for brancher in [0, 1] {
            eprintln!("{} creates, member {brancher} branches", a.name());
            let mut g = Group::new(a, &[b, a, b]);
            let invited = [1 - brancher, 2];
            let kps = invited
                .iter()
                .map(|&i| g.members[i].key_package().expect("key package"))
                .collect();
            let welcome = g.members[brancher]
                .branch_group(b"branch", kps)
                .unwrap_or_else(|e| panic!("{} branches: {e}", g.members[brancher].name()));
            for i in invited {
                g.members[i]
                    .join_branch(&welcome)
                    .unwrap_or_else(|e| panic!("{} joins: {e}", g.members[i].name()));
            }
            // Member 3 stays in the old group only.
            g.members.truncate(3);
            assert_eq!(g.members[0].epoch(), 1, "the subgroup starts at epoch 1");
            g.assert_agree();
            g.message(2, b"in the subgroup");
            g.commit(1 - brancher, &[], true);
            g.message(brancher, b"and on");
        }
    }
}

#[test]
fn discard_pending_commit_then_process_other_side() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        // Both commit concurrently; the delivery service takes member 1's; member 0 discards.
        let _lost = g.members[0].commit(vec![], true).expect("commit 0");
        let won = g.members[1].commit(vec![], true).expect("commit 1");
        g.members[0].discard_pending_commit().expect("discard");
        g.deliver(1, &won.commit);
        g.assert_agree();
    });
}

/// 1,000 members from all three implementations: leaf 0 the creator, leaves 1 and 2 real members
/// of the other two, then 997 key packages from each implementation in turn, added in one commit
/// by member 1. The three real members process each other's commits (with a path, removes,
/// adds); their epoch authenticators agree at every epoch. Run once per implementation as the
/// creator.
#[test]
fn large_group_1000_all_three() {
    const N: usize = 1000;
    for (creator, x, y) in [(O, R, U), (R, U, O), (U, O, R)] {
        let mut g = Group::new(creator, &[x, y]);
        let kinds = [creator, x, y];
        let mut kps = Vec::with_capacity(N - 3);
        for i in 3..N {
            let mut c = client(kinds[i % 3], &format!("kp-{i}"));
            kps.push(c.key_package().expect("kp"));
        }
        let real = g.members.len();
        let count = |g: &Group| {
            g.members
                .iter()
                .map(|m| m.member_count())
                .collect::<Vec<_>>()
        };
        // Member `by` commits; the other real members process it; all agree.
        let step = |g: &mut Group, by: usize, out: mls_peers::CommitOutput| {
            g.members[by].merge_pending_commit().expect("merge");
            for i in 0..real {
                if i != by {
                    g.members[i].process(&out.commit).unwrap_or_else(|e| {
                        panic!(
                            "{} processes {}'s commit: {e}",
                            g.members[i].name(),
                            g.members[by].name()
                        )
                    });
                }
            }
            let auth = g.members[0].epoch_authenticator().expect("auth");
            for m in &g.members[..real] {
                assert_eq!(m.epoch_authenticator().expect("auth"), auth, "{}", m.name());
            }
        };
        // A non-creator adds the 997 in one commit.
        let out = g.members[1].add_members(kps).expect("add 997");
        assert!(out.welcome.is_some());
        step(&mut g, 1, out);
        assert_eq!(count(&g), [N; 3]);
        // Commits with a path over a mostly blank tree, from each implementation.
        for by in [0, 1, 2, 2, 1, 0] {
            let out = g.members[by]
                .commit(vec![], true)
                .expect("commit with path");
            step(&mut g, by, out);
        }
        // Removes from each implementation.
        for (by, leaf) in [(0, 500), (1, 501), (2, 502)] {
            let out = g.members[by].remove(leaf).expect("remove");
            step(&mut g, by, out);
        }
        assert_eq!(count(&g), [N - 3; 3]);
        g.message(0, b"to the big group");
        g.message(1, b"back");
        g.message(2, b"and from the third");
        // A new member of each implementation joins by Welcome (the tree in the GroupInfo).
        for (by, kind) in [(2, creator), (0, x), (1, y)] {
            // Distinct identities: mls-rs rejects a second leaf with the same basic identity.
            let mut newcomer = client(kind, &format!("newcomer-{by}"));
            let kp = newcomer.key_package().expect("kp");
            let out = g.members[by].add_members(vec![kp]).expect("add");
            let welcome = out.welcome.clone().expect("welcome");
            step(&mut g, by, out);
            newcomer.join(&welcome, None).expect("join the large group");
            assert_eq!(
                newcomer.epoch_authenticator().expect("auth"),
                g.members[0].epoch_authenticator().expect("auth")
            );
            assert_eq!(newcomer.member_count(), g.members[0].member_count());
            let ct = newcomer.protect(b"newcomer").expect("protect");
            for m in &mut g.members {
                assert_eq!(m.unprotect(&ct).expect("unprotect"), b"newcomer");
            }
        }
    }
}

/// RFC 9420 (12.4): "a member that has observed one or more valid proposals within an epoch MUST
/// send a Commit message before sending application data". All three enforce it, for the proposer
/// and for the receivers: mls-rs with `CommitRequired`, OpenMLS with
/// `GroupStateError(PendingProposal)`, ours with `CommitRequired` (added after this test found
/// that ours did not).
#[test]
fn protect_with_pending_proposals_is_refused() {
    for_pairs(|a, b| {
        let mut g = Group::new(a, &[b]);
        let p = g.members[0]
            .propose(&ProposalSpec::Update)
            .expect("propose update");
        g.broadcast_proposal(0, &p);
        for m in &mut g.members {
            let err = m.protect(b"with a proposal pending").expect_err("refused");
            let expected = match m.name() {
                "openmls" => "PendingProposal",
                _ => "CommitRequired",
            };
            assert!(err.to_string().contains(expected), "{err}");
        }
        g.commit(1, &[], false);
        g.message(0, b"after the commit");
    });
}

/// Welcomes without the `ratchet_tree` extension; the joiner gets the tree out of band.
///
/// Difference: a join attempt without the tree fails in both, but OpenMLS has consumed the key
/// package's private keys by then, so a retry with the tree fails with `NoMatchingKeyPackage`;
/// mls-rs and ours keep the key package and the retry succeeds.
#[test]
fn welcome_join_with_tree_out_of_band() {
    for_pairs(|creator, other| {
        for joiner in Peer::ALL {
            let mut g = Group::new(creator, &[other]);
            g.members[0]
                .set_ratchet_tree_in_welcome(false)
                .expect("tree out of band");
            let mut retrying = client(joiner, "retrying");
            let mut direct = client(joiner, "direct");
            let kps = [
                retrying.key_package().expect("kp"),
                direct.key_package().expect("kp"),
            ];
            let out = g.members[0].add_members(kps.to_vec()).expect("add");
            g.deliver(0, &out.commit);
            let welcome = out.welcome.expect("welcome");
            let tree = g.members[1].export_ratchet_tree().expect("tree");

            direct
                .join(&welcome, Some(&tree))
                .unwrap_or_else(|e| panic!("{creator:?} -> {joiner:?}: {e}"));

            let err = retrying.join(&welcome, None).expect_err("no tree: refused");
            assert!(matches!(err, InteropError::Failed { .. }), "{err}");
            let retry = retrying.join(&welcome, Some(&tree));
            match joiner {
                Peer::OpenMls => {
                    let err = retry.expect_err("OpenMLS consumed the key package");
                    assert!(err.to_string().contains("NoMatchingKeyPackage"), "{err}");
                    g.members.push(direct);
                }
                Peer::MlsRs | Peer::Ours => {
                    retry.unwrap_or_else(|e| panic!("{joiner:?} retries with the tree: {e}"));
                    g.members.push(direct);
                    g.members.push(retrying);
                }
            }
            // The OpenMLS retrying member's leaf stays in the tree, unjoined.
            let agree = |g: &Group| {
                let auth = g.members[0].epoch_authenticator().expect("auth");
                for m in &g.members {
                    assert_eq!(m.epoch_authenticator().expect("auth"), auth);
                }
            };
            agree(&g);
            let n = g.members.len();
            g.message(n - 1, b"joined with the tree out of band");
        }
    });
}
