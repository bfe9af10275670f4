//! Versioned serialisation of a group's whole state (public and private) to bytes.
//!
//! Format: a big-endian `u16` version ([`STATE_VERSION`]), then the TLS encoding of one
//! private struct per version. An unknown version is refused with
//! [`MalformedError::UnknownStateVersion`]. The bytes hold private keys and epoch secrets in
//! the clear: the caller stores them as securely as any key material (one atomic write per
//! epoch transition). Loading rebuilds the tree hashes and member index (O(N)).
//!
//! Version 2 (current) is version 1 followed by, for each retained past epoch, the leaves
//! whose signature key then differs from the current tree's, so late application messages
//! are still verified with their epoch's keys after a reload (RFC 9420 §6.3.2). Version 1
//! still loads, without its past epochs (their members are unknown).

use std::collections::{BTreeMap, VecDeque};

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use crate::codec::{decode_exact, encode, VarBytes, VarVec};
use crate::crypto::{CipherSuiteProvider, HpkePublicKey, Secret, SignaturePublicKey};
use crate::framing::PaddingPolicy;
use crate::messages::{GroupContext, Mac, Proposal, ProposalRef, RatchetTree, ReInit, Sender};
use crate::psk::ResumptionPskStore;
use crate::secret_tree::{SecretTree, SecretTreeConfig};
use crate::tree::{LifetimePolicy, Tree};
use crate::tree_math::LeafIndex;

use super::error::{GroupError, MalformedError};
use super::key_package::MemberIndex;
use super::proposal::{CachedProposal, ProposalCache};
use super::{EpochKeys, Group, GroupConfig, OwnKeys, PastEpoch};

/// The current state format version.
pub const STATE_VERSION: u16 = 2;

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct ConfigWire {
    lifetime_check: u8,
    now: u64,
    epoch_retention: u32,
    resumption_psk_retention: u32,
    max_forward_distance: u32,
    max_retained_keys: u32,
    padding: u32,
    encrypt_handshake: u8,
}

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct KeysWire {
    sender_data_secret: VarBytes,
    exporter_secret: VarBytes,
    external_secret: VarBytes,
    membership_key: VarBytes,
    resumption_psk: VarBytes,
    epoch_authenticator: VarBytes,
    init_secret: VarBytes,
    secret_tree: VarBytes,
}

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct KeyWire {
    id: VarBytes,
    private_key: VarBytes,
    public_key: HpkePublicKey,
}

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct ProposalWire {
    proposal_ref: ProposalRef,
    proposal: Proposal,
    sender: Sender,
}

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub(super) struct PastWire {
    pub(super) epoch: u64,
    context: GroupContext,
    sender_data_secret: VarBytes,
    membership_key: VarBytes,
    secret_tree: VarBytes,
}

/// A leaf whose signature key in a past epoch differs from the current tree's (`None`:
/// blank then).
#[derive(Clone, TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct SignerWire {
    leaf: u32,
    key: Option<SignaturePublicKey>,
}

/// Version 2: the past epochs' members, as differences from the current tree, in the order
/// of `past_epochs`.
#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct PastSignersWire {
    epoch: u64,
    signers: VarVec<SignerWire>,
}

#[derive(Clone, TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct PskWire {
    group_id: VarBytes,
    epoch: u64,
    psk: VarBytes,
}

#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub(super) struct StateV1 {
    config: ConfigWire,
    pub(super) context: GroupContext,
    pub(super) tree: RatchetTree,
    interim_transcript_hash: VarBytes,
    confirmation_tag: Mac,
    keys: KeysWire,
    own_leaf: u32,
    signer: VarBytes,
    own_keys: VarVec<KeyWire>,
    proposals: VarVec<ProposalWire>,
    pending_updates: VarVec<KeyWire>,
    pub(super) past_epochs: VarVec<PastWire>,
    resumption_capacity: u32,
    resumption_psks: VarVec<PskWire>,
    external_psks: VarVec<PskWire>,
    pending_reinit: Option<ReInit>,
    active: u8,
}

/// Version 2 is version 1 followed by the past epochs' signature keys.
#[derive(TlsSerialize, TlsDeserializeBytes, TlsSize)]
struct StateV2 {
    base: StateV1,
    past_signers: VarVec<PastSignersWire>,
}

/// A retained epoch's members: its tree and the leaves whose signature key then differs.
pub(super) type PastTree = (Tree, BTreeMap<u32, Option<SignaturePublicKey>>);

fn sb(s: &Secret) -> VarBytes {
    VarBytes(s.as_bytes().to_vec())
}

fn sec(v: VarBytes) -> Secret {
    Secret::new(v.into_vec())
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn corrupt(what: &str) -> GroupError {
    MalformedError::CorruptState(what.to_string()).into()
}

/// A flag written as `u8::from(bool)`: 0 or 1, anything else refused (one encoding per state).
fn flag(v: u8, what: &str) -> Result<bool, GroupError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(corrupt(what)),
    }
}

impl Group {
    /// Serialises the whole group state (see the module documentation).
    pub fn to_bytes(&self) -> Result<Vec<u8>, GroupError> {
        let state = self.base_state(self.tree.to_wire())?;
        // O(N) per retained epoch, like the tree itself: the leaves whose signature key
        // differs between that epoch and now.
        let past_signers = self
            .past_epochs
            .iter()
            .map(|(e, p)| {
                let span = p.leaf_span().max(self.tree.size().leaves());
                let signers: Vec<SignerWire> = (0..span)
                    .filter_map(|l| {
                        let then = p.signature_key(LeafIndex(l));
                        let now = self.tree.leaf(LeafIndex(l)).map(|n| n.signature_key());
                        (then.as_ref().map(|k| k.as_slice()) != now)
                            .then_some(SignerWire { leaf: l, key: then })
                    })
                    .collect();
                PastSignersWire {
                    epoch: *e,
                    signers: signers.into(),
                }
            })
            .collect();
        let state = StateV2 {
            base: state,
            past_signers,
        };
        let mut out = STATE_VERSION.to_be_bytes().to_vec();
        out.extend_from_slice(&encode(&state)?);
        Ok(out)
    }

    /// Everything but the past epochs' members, with `tree` as the tree (the whole tree for
    /// a snapshot, an empty one for a delta).
    pub(super) fn base_state(&self, tree: RatchetTree) -> Result<StateV1, GroupError> {
        let c = &self.config;
        let (lifetime_check, now) = match c.lifetime {
            LifetimePolicy::Check { now } => (1, now),
            LifetimePolicy::Ignore => (0, 0),
        };
        let padding = match c.padding {
            PaddingPolicy::None => 0,
            PaddingPolicy::ToMultipleOf(m) => u32_of(m),
        };
        let state = StateV1 {
            config: ConfigWire {
                lifetime_check,
                now,
                epoch_retention: u32_of(c.epoch_retention),
                resumption_psk_retention: u32_of(c.resumption_psk_retention),
                max_forward_distance: c.secret_tree.max_forward_distance,
                max_retained_keys: u32_of(c.secret_tree.max_retained_keys),
                padding,
                encrypt_handshake: u8::from(c.encrypt_handshake),
            },
            context: self.context.clone(),
            tree,
            interim_transcript_hash: VarBytes(self.interim_transcript_hash.clone()),
            confirmation_tag: self.confirmation_tag.clone(),
            keys: KeysWire {
                sender_data_secret: sb(&self.keys.sender_data_secret),
                exporter_secret: sb(&self.keys.exporter_secret),
                external_secret: sb(&self.keys.external_secret),
                membership_key: sb(&self.keys.membership_key),
                resumption_psk: sb(&self.keys.resumption_psk),
                epoch_authenticator: sb(&self.keys.epoch_authenticator),
                init_secret: sb(&self.keys.init_secret),
                secret_tree: VarBytes(self.keys.secret_tree.to_bytes()?),
            },
            own_leaf: self.own_leaf.0,
            signer: sb(&self.signer),
            own_keys: self
                .own_keys
                .keys
                .iter()
                .map(|(n, (s, p))| KeyWire {
                    id: VarBytes(n.to_be_bytes().to_vec()),
                    private_key: sb(s),
                    public_key: p.clone(),
                })
                .collect(),
            proposals: self
                .proposals
                .iter()
                .map(|c| ProposalWire {
                    proposal_ref: c.proposal_ref.clone(),
                    proposal: c.proposal.clone(),
                    sender: c.sender,
                })
                .collect(),
            pending_updates: self
                .pending_updates
                .iter()
                .map(|(r, (s, p))| KeyWire {
                    id: VarBytes(r.clone()),
                    private_key: sb(s),
                    public_key: p.clone(),
                })
                .collect(),
            past_epochs: self
                .past_epochs
                .iter()
                .map(|(e, p)| {
                    Ok(PastWire {
                        epoch: *e,
                        context: p.context.clone(),
                        sender_data_secret: sb(&p.sender_data_secret),
                        membership_key: sb(&p.membership_key),
                        secret_tree: VarBytes(p.secret_tree.to_bytes()?),
                    })
                })
                .collect::<Result<Vec<_>, tls_codec::Error>>()?
                .into(),
            resumption_capacity: u32_of(self.resumption_psks.capacity()),
            resumption_psks: self
                .resumption_psks
                .iter()
                .map(|(g, e, s)| PskWire {
                    group_id: VarBytes(g.to_vec()),
                    epoch: e,
                    psk: sb(s),
                })
                .collect(),
            external_psks: self
                .external_psks
                .iter()
                .map(|(id, s)| PskWire {
                    group_id: VarBytes(id.clone()),
                    epoch: 0,
                    psk: sb(s),
                })
                .collect(),
            pending_reinit: self.pending_reinit.clone(),
            active: u8::from(self.active),
        };
        Ok(state)
    }

    /// Restores a group written by [`Group::to_bytes`]; refuses unknown versions.
    pub fn from_bytes(cs: &dyn CipherSuiteProvider, bytes: &[u8]) -> Result<Group, GroupError> {
        let (Some(&hi), Some(&lo)) = (bytes.first(), bytes.get(1)) else {
            return Err(corrupt("too short"));
        };
        let version = u16::from_be_bytes([hi, lo]);
        let rest = bytes.get(2..).unwrap_or_default();
        let decoded = match version {
            // Version 1 has no past-epoch members: its past epochs are dropped, since late
            // messages could not be verified with their epoch's keys.
            1 => decode_exact::<StateV1>(rest).map(|mut s| {
                s.past_epochs = VarVec::default();
                (s, Vec::new())
            }),
            2 => decode_exact::<StateV2>(rest).map(|s| (s.base, s.past_signers.into_vec())),
            _ => return Err(MalformedError::UnknownStateVersion(version).into()),
        };
        let (mut s, past_signers) =
            decoded.map_err(|e| MalformedError::CorruptState(e.to_string()))?;
        if past_signers.len() != s.past_epochs.len() {
            return Err(corrupt("past epochs"));
        }
        if s.context.cipher_suite != cs.cipher_suite() {
            return Err(corrupt("provider suite differs from the state's"));
        }
        let mut tree = Tree::from_wire_owned(cs, std::mem::take(&mut s.tree))?;
        if tree.tree_hash(cs)? != s.context.tree_hash.as_slice() {
            return Err(corrupt("tree hash"));
        }
        let mut signers = past_signers.into_iter();
        let mut g = Group::from_state(s, tree.clone(), |p| {
            let w = signers.next().ok_or_else(|| corrupt("past epochs"))?;
            if w.epoch != p.epoch {
                return Err(corrupt("past epoch signers"));
            }
            // As written: leaves in ascending order, each with a key (or blank) that differs
            // from the loaded tree's.
            let signers = w.signers.into_vec();
            let ascending = signers.windows(2).all(|p| p[0].leaf < p[1].leaf);
            let differs = signers.iter().all(|w| {
                let now = tree.leaf(LeafIndex(w.leaf)).map(|n| n.signature_key());
                w.key.as_ref().map(|k| k.as_slice()) != now
            });
            if !ascending || !differs {
                return Err(corrupt("past epoch signers"));
            }
            let overrides = signers.into_iter().map(|w| (w.leaf, w.key)).collect();
            Ok((tree.stage(), overrides))
        })?;
        g.index = MemberIndex::build(&g.tree);
        Ok(g)
    }

    /// A group from its decoded state and `tree` (already checked against the context's tree
    /// hash); `past(wire)` gives each retained epoch's tree and signer overrides. The member
    /// index is left empty: the caller builds it once.
    pub(super) fn from_state(
        s: StateV1,
        tree: Tree,
        mut past: impl FnMut(&PastWire) -> Result<PastTree, GroupError>,
    ) -> Result<Group, GroupError> {
        let c = &s.config;
        let lifetime = match (flag(c.lifetime_check, "lifetime check")?, c.now) {
            (true, now) => LifetimePolicy::Check { now },
            (false, 0) => LifetimePolicy::Ignore,
            (false, _) => return Err(corrupt("a time without the lifetime check")),
        };
        let config = GroupConfig {
            lifetime,
            epoch_retention: c.epoch_retention as usize,
            resumption_psk_retention: c.resumption_psk_retention as usize,
            secret_tree: SecretTreeConfig {
                max_forward_distance: c.max_forward_distance,
                max_retained_keys: c.max_retained_keys as usize,
            },
            padding: if c.padding == 0 {
                PaddingPolicy::None
            } else {
                PaddingPolicy::ToMultipleOf(c.padding as usize)
            },
            encrypt_handshake: flag(c.encrypt_handshake, "encrypt_handshake")?,
        };
        let active = flag(s.active, "active")?;
        let st =
            |v: VarBytes| SecretTree::from_bytes(v.as_slice()).map_err(|_| corrupt("secret tree"));
        let k = s.keys;
        let keys = EpochKeys {
            secret_tree: st(k.secret_tree)?,
            sender_data_secret: sec(k.sender_data_secret),
            exporter_secret: sec(k.exporter_secret),
            external_secret: sec(k.external_secret),
            membership_key: sec(k.membership_key),
            resumption_psk: sec(k.resumption_psk),
            epoch_authenticator: sec(k.epoch_authenticator),
            init_secret: sec(k.init_secret),
            handshake_lent: Default::default(),
        };
        let mut own_keys = OwnKeys::default();
        for w in s.own_keys.into_vec() {
            let n: [u8; 4] = w.id.as_slice().try_into().map_err(|_| corrupt("own key"))?;
            own_keys
                .keys
                .insert(u32::from_be_bytes(n), (sec(w.private_key), w.public_key));
        }
        let mut proposals = ProposalCache::default();
        for p in s.proposals.into_vec() {
            proposals.insert(CachedProposal {
                proposal_ref: p.proposal_ref,
                proposal: p.proposal,
                sender: p.sender,
            });
        }
        let pending_updates = s
            .pending_updates
            .into_vec()
            .into_iter()
            .map(|w| (w.id.into_vec(), (sec(w.private_key), w.public_key)))
            .collect();
        let mut past_epochs = VecDeque::new();
        for p in s.past_epochs.into_vec() {
            let (tree, signer_overrides) = past(&p)?;
            past_epochs.push_back((
                p.epoch,
                PastEpoch {
                    context: p.context,
                    sender_data_secret: sec(p.sender_data_secret),
                    membership_key: sec(p.membership_key),
                    secret_tree: st(p.secret_tree)?,
                    tree,
                    signer_overrides,
                },
            ));
        }
        // Both PSK lists are written in their stores' order, without duplicates (and the
        // resumption list within its capacity): a list the store would reorder, merge or cut
        // is refused, not silently changed.
        let written: Vec<(Vec<u8>, u64)> = s
            .resumption_psks
            .iter()
            .map(|p| (p.group_id.as_slice().to_vec(), p.epoch))
            .collect();
        let mut resumption_psks = ResumptionPskStore::new(s.resumption_capacity as usize);
        for p in s.resumption_psks.into_vec() {
            resumption_psks.insert(p.group_id.as_slice(), p.epoch, sec(p.psk));
        }
        let kept = resumption_psks.iter().map(|(g, e, _)| (g, e));
        if !kept.eq(written.iter().map(|(g, e)| (g.as_slice(), *e))) {
            return Err(corrupt("resumption PSKs"));
        }
        let external = s.external_psks.as_slice();
        let ascending = external
            .windows(2)
            .all(|w| w[0].group_id.as_slice() < w[1].group_id.as_slice());
        if !ascending || external.iter().any(|p| p.epoch != 0) {
            return Err(corrupt("external PSKs"));
        }
        let external_psks: BTreeMap<Vec<u8>, Secret> = s
            .external_psks
            .into_vec()
            .into_iter()
            .map(|p| (p.group_id.into_vec(), sec(p.psk)))
            .collect();
        Ok(Group {
            index: MemberIndex::default(),
            config,
            context: s.context,
            tree,
            interim_transcript_hash: s.interim_transcript_hash.into_vec(),
            confirmation_tag: s.confirmation_tag,
            keys,
            own_leaf: LeafIndex(s.own_leaf),
            signer: sec(s.signer),
            own_keys,
            proposals,
            pending_updates,
            past_epochs,
            resumption_psks,
            external_psks,
            pending_reinit: s.pending_reinit,
            active,
            delta_epoch: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cs, group};
    use super::*;

    #[test]
    fn round_trip() {
        let cs = cs();
        let g = group(cs, 3);
        let bytes = g.to_bytes().unwrap();
        let h = Group::from_bytes(cs, &bytes).unwrap();
        assert_eq!(h.to_bytes().unwrap(), bytes);
        assert_eq!(h.epoch_authenticator(), g.epoch_authenticator());
        assert_eq!(h.past_epochs.len(), 1);
    }

    #[test]
    fn unknown_versions_refused() {
        let cs = cs();
        let bytes = group(cs, 2).to_bytes().unwrap();
        for v in [0u16, 3, 0x0100, u16::MAX] {
            let mut b = bytes.clone();
            b[..2].copy_from_slice(&v.to_be_bytes());
            assert_eq!(
                Group::from_bytes(cs, &b).unwrap_err(),
                GroupError::Malformed(MalformedError::UnknownStateVersion(v))
            );
        }
    }

    /// Every truncation, and trailing bytes, are refused as corrupt without a panic.
    #[test]
    fn truncated_and_extended_refused() {
        let cs = cs();
        let bytes = group(cs, 2).to_bytes().unwrap();
        for len in 0..bytes.len() {
            match Group::from_bytes(cs, &bytes[..len]) {
                Err(GroupError::Malformed(MalformedError::CorruptState(_))) => {}
                other => panic!("prefix {len}: {other:?}"),
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Group::from_bytes(cs, &longer),
            Err(GroupError::Malformed(MalformedError::CorruptState(_)))
        ));
    }

    /// A state whose parts are not as `to_bytes` writes them is refused, not silently
    /// changed (each case was loaded, and written back otherwise, before): flags other than
    /// 0 and 1, a time without the lifetime check, resumption PSKs beyond the capacity or
    /// repeated, external PSKs out of order or with an epoch, past-epoch signers out of order
    /// or equal to the loaded tree's.
    #[test]
    fn non_canonical_parts_refused() {
        type Edit = Box<dyn Fn(&mut StateV2)>;
        let cs = cs();
        let bytes = group(cs, 3).to_bytes().unwrap();
        let load = |edit: &dyn Fn(&mut StateV2)| {
            let mut s = decode_exact::<StateV2>(&bytes[2..]).unwrap();
            edit(&mut s);
            let mut b = STATE_VERSION.to_be_bytes().to_vec();
            b.extend_from_slice(&encode(&s).unwrap());
            Group::from_bytes(cs, &b)
        };
        assert_eq!(load(&|_| {}).unwrap().to_bytes().unwrap(), bytes);
        let base = decode_exact::<StateV2>(&bytes[2..]).unwrap();
        assert_eq!(base.base.config.lifetime_check, 1);
        let kept = base.base.resumption_psks.len();
        assert!(kept >= 1 && base.base.resumption_capacity as usize > kept);
        assert!(base.past_signers[0].signers.len() >= 2);
        let psk = |id: &[u8], epoch| PskWire {
            group_id: VarBytes(id.to_vec()),
            epoch,
            psk: VarBytes(vec![7; 32]),
        };
        let Some(Some(crate::messages::Node::Leaf(leaf0))) = base.base.tree.0.first() else {
            panic!("leaf 0 is a member")
        };
        let key0 = SignaturePublicKey::from(leaf0.signature_key());
        let edits: Vec<(&str, Edit)> = vec![
            (
                "encrypt_handshake 2",
                Box::new(|s| s.base.config.encrypt_handshake = 2),
            ),
            ("active 2", Box::new(|s| s.base.active = 2)),
            (
                "lifetime_check 2",
                Box::new(|s| s.base.config.lifetime_check = 2),
            ),
            (
                "a time without the lifetime check",
                Box::new(|s| s.base.config.lifetime_check = 0),
            ),
            (
                "capacity below the list",
                Box::new(|s| s.base.resumption_capacity = 0),
            ),
            (
                "a repeated resumption PSK",
                Box::new(|s| {
                    let p = s.base.resumption_psks[0].clone();
                    s.base.resumption_psks.0.insert(1, p);
                }),
            ),
            (
                "an external PSK with an epoch",
                Box::new(move |s| s.base.external_psks = vec![psk(b"a", 1)].into()),
            ),
            (
                "external PSKs out of order",
                Box::new(move |s| s.base.external_psks = vec![psk(b"b", 0), psk(b"a", 0)].into()),
            ),
            (
                "a past signer equal to the tree's",
                Box::new(move |s| {
                    let wire = SignerWire {
                        leaf: 0,
                        key: Some(key0.clone()),
                    };
                    s.past_signers.0[0].signers.0.insert(0, wire);
                }),
            ),
            (
                "past signers out of order",
                Box::new(|s| s.past_signers.0[0].signers.0.reverse()),
            ),
        ];
        for (what, edit) in &edits {
            assert!(
                matches!(
                    load(edit.as_ref()),
                    Err(GroupError::Malformed(MalformedError::CorruptState(_)))
                ),
                "{what} loaded"
            );
        }
        // The well-formed versions of the PSK edits load and write back unchanged.
        let external =
            load(&move |s| s.base.external_psks = vec![psk(b"a", 0), psk(b"b", 0)].into());
        let loaded = external.unwrap().to_bytes().unwrap();
        assert_eq!(
            Group::from_bytes(cs, &loaded).unwrap().to_bytes().unwrap(),
            loaded
        );
    }

    /// A version-1 state (no past-epoch members) loads, without its past epochs.
    #[test]
    fn version_1_loads_without_past_epochs() {
        let cs = cs();
        let g = group(cs, 2);
        let mut h = g.clone();
        h.past_epochs.clear();
        let v2 = h.to_bytes().unwrap();
        // Version 2 = version 1 + an empty past_signers vector (one length byte).
        let mut v1 = 1u16.to_be_bytes().to_vec();
        v1.extend_from_slice(&v2[2..v2.len() - 1]);
        let loaded = Group::from_bytes(cs, &v1).unwrap();
        assert!(loaded.past_epochs.is_empty());
        // With past epochs in a v1 body they are dropped.
        let v2 = g.to_bytes().unwrap();
        let body = decode_exact::<StateV2>(&v2[2..]).unwrap();
        let mut v1 = 1u16.to_be_bytes().to_vec();
        v1.extend_from_slice(&encode(&body.base).unwrap());
        let loaded = Group::from_bytes(cs, &v1).unwrap();
        assert!(loaded.past_epochs.is_empty());
        assert_eq!(loaded.epoch_authenticator(), g.epoch_authenticator());
    }
}
