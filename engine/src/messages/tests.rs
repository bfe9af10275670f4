//! Unit tests of the wire structs: GREASE round trips, malformed input refused without panics,
//! and the conditional-field rules of §6.

use tls_codec::{Serialize, Size};

use super::*;
use crate::codec::{decode_exact, encode, VarBytes, VarVec};
use crate::crypto::{CipherSuite, HpkeCiphertext, HpkePublicKey, SignaturePublicKey};

fn bytes(b: &[u8]) -> VarBytes {
    VarBytes(b.to_vec())
}

fn leaf(source: LeafNodeSource) -> LeafNode {
    let tbs = LeafNodeTbs {
        encryption_key: HpkePublicKey(bytes(&[1; 32])),
        signature_key: SignaturePublicKey(bytes(&[2; 32])),
        credential: Credential::basic(b"alice".to_vec()),
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10].into(),
            cipher_suites: vec![CipherSuite(1), CipherSuite(0x0a0a)].into(),
            extensions: vec![ExtensionType(0x1a1a)].into(),
            proposals: vec![ProposalType(0x2a2a)].into(),
            credentials: vec![CredentialType::BASIC, CredentialType(0x3a3a)].into(),
        },
        leaf_node_source: source,
        extensions: vec![Extension {
            extension_type: ExtensionType(0x4a4a),
            extension_data: bytes(b"grease"),
        }]
        .into(),
        tree_position: None,
    };
    LeafNode::from_tbs(&tbs, &[3; 64]).unwrap()
}

fn key_package() -> KeyPackage {
    KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        init_key: HpkePublicKey(bytes(&[4; 32])),
        leaf_node: leaf(LeafNodeSource::KeyPackage(Lifetime {
            not_before: 1,
            not_after: u64::MAX,
        })),
        extensions: VarVec::default(),
        signature: bytes(&[5; 64]),
    }
}

fn group_context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        group_id: bytes(b"group"),
        epoch: 7,
        tree_hash: bytes(&[6; 32]),
        confirmed_transcript_hash: bytes(&[7; 32]),
        extensions: VarVec::default(),
    }
}

fn commit() -> Commit {
    Commit {
        proposals: vec![
            ProposalOrRef::Proposal(Proposal::Remove(Remove { removed: 3 })),
            ProposalOrRef::Reference(ProposalRef(bytes(&[8; 32]))),
            ProposalOrRef::Proposal(Proposal::Unknown {
                proposal_type: ProposalType(0x5a5a),
                body: bytes(b"opaque"),
            }),
        ]
        .into(),
        path: Some(UpdatePath {
            leaf_node: leaf(LeafNodeSource::Commit(bytes(&[9; 32]))),
            nodes: vec![UpdatePathNode {
                encryption_key: HpkePublicKey(bytes(&[10; 32])),
                encrypted_path_secret: vec![HpkeCiphertext {
                    kem_output: bytes(&[11; 32]),
                    ciphertext: bytes(&[12; 48]),
                }]
                .try_into()
                .unwrap(),
            }]
            .into(),
        }),
    }
}

fn public_commit() -> MlsMessage {
    MlsMessage::new(MlsMessageBody::PublicMessage(PublicMessage {
        content: FramedContent {
            group_id: bytes(b"group"),
            epoch: 7,
            sender: Sender::Member(0),
            authenticated_data: VarBytes::default(),
            body: FramedContentBody::Commit(commit()),
        },
        auth: FramedContentAuthData {
            signature: bytes(&[13; 64]),
            confirmation_tag: Some(Mac(bytes(&[14; 32]))),
        },
        membership_tag: Some(Mac(bytes(&[15; 32]))),
    }))
}

fn round_trip<T>(value: &T) -> Vec<u8>
where
    T: Serialize + Size + tls_codec::DeserializeBytes + PartialEq + std::fmt::Debug,
{
    let enc = encode(value).expect("encode");
    assert_eq!(enc.len(), value.tls_serialized_len());
    let dec: T = decode_exact(&enc).expect("decode");
    assert_eq!(&dec, value);
    assert_eq!(encode(&dec).expect("re-encode"), enc);
    enc
}

#[test]
fn grease_types_round_trip_unchanged() {
    let kp = key_package();
    let enc = round_trip(&kp);
    // The GREASE values are on the wire as they were given.
    for g in [0x0a0a_u16, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a] {
        assert!(enc.windows(2).any(|w| w == g.to_be_bytes()), "{g:#x}");
    }
    let cred = Credential::Unknown {
        credential_type: CredentialType(0x6a6a),
        data: bytes(b"cred"),
    };
    assert_eq!(round_trip(&cred), [0x6a, 0x6a, 4, b'c', b'r', b'e', b'd']);
    let prop = Proposal::Unknown {
        proposal_type: ProposalType(0x7a7a),
        body: bytes(&[1, 2]),
    };
    assert_eq!(round_trip(&prop), [0x7a, 0x7a, 2, 1, 2]);
    assert!(prop.proposal_type().is_grease());
    let ext = Extension {
        extension_type: ExtensionType(0x8a8a),
        extension_data: bytes(&[]),
    };
    assert_eq!(round_trip(&ext), [0x8a, 0x8a, 0]);
    round_trip(&public_commit());
}

#[test]
fn unknown_variant_with_a_known_type_is_not_encoded() {
    let prop = Proposal::Unknown {
        proposal_type: ProposalType::ADD,
        body: bytes(&[]),
    };
    assert!(encode(&prop).is_err());
    let cred = Credential::Unknown {
        credential_type: CredentialType::X509,
        data: bytes(&[]),
    };
    assert!(encode(&cred).is_err());
}

#[test]
fn every_top_level_type_round_trips() {
    round_trip(&MlsMessage::new(MlsMessageBody::KeyPackage(key_package())));
    round_trip(&leaf(LeafNodeSource::Update));
    round_trip(&commit());
    let tree = RatchetTree(
        vec![
            Some(Node::Leaf(leaf(LeafNodeSource::Update))),
            Some(Node::Parent(ParentNode {
                encryption_key: HpkePublicKey(bytes(&[1; 32])),
                parent_hash: VarBytes::default(),
                unmerged_leaves: vec![2u32].into(),
            })),
            None,
        ]
        .into(),
    );
    round_trip(&tree);
    let secrets = GroupSecrets {
        joiner_secret: bytes(&[1; 32]),
        path_secret: Some(PathSecret {
            path_secret: bytes(&[2; 32]),
        }),
        psks: vec![
            PreSharedKeyId {
                psk: Psk::External(ExternalPsk {
                    psk_id: bytes(b"id"),
                }),
                psk_nonce: bytes(&[3; 32]),
            },
            PreSharedKeyId {
                psk: Psk::Resumption(ResumptionPsk {
                    usage: ResumptionPskUsage::BRANCH,
                    psk_group_id: bytes(b"g"),
                    psk_epoch: 9,
                }),
                psk_nonce: bytes(&[4; 32]),
            },
        ]
        .into(),
    };
    round_trip(&secrets);
    let welcome = Welcome {
        cipher_suite: CipherSuite(1),
        secrets: vec![EncryptedGroupSecrets {
            new_member: KeyPackageRef(bytes(&[5; 32])),
            encrypted_group_secrets: HpkeCiphertext::default(),
        }]
        .into(),
        encrypted_group_info: bytes(&[6; 100]),
    };
    round_trip(&MlsMessage::new(MlsMessageBody::Welcome(welcome)));
    let group_info = GroupInfo {
        group_context: group_context(),
        extensions: vec![Extension::from_value(&ExternalPub {
            external_pub: HpkePublicKey(bytes(&[7; 32])),
        })
        .expect("encode")]
        .into(),
        confirmation_tag: Mac(bytes(&[8; 32])),
        signer: 1,
        signature: bytes(&[9; 64]),
    };
    round_trip(&MlsMessage::new(MlsMessageBody::GroupInfo(group_info)));
    let private = PrivateMessage {
        group_id: bytes(b"group"),
        epoch: 1,
        content_type: ContentType::APPLICATION,
        authenticated_data: VarBytes::default(),
        encrypted_sender_data: bytes(&[1; 28]),
        ciphertext: bytes(&[2; 40]),
    };
    round_trip(&MlsMessage::new(MlsMessageBody::PrivateMessage(private)));
    let tbs = FramedContentTbs {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: FramedContent {
            group_id: bytes(b"group"),
            epoch: 7,
            sender: Sender::NewMemberCommit,
            authenticated_data: VarBytes::default(),
            body: FramedContentBody::Commit(commit()),
        },
        context: Some(group_context()),
    };
    round_trip(&tbs);
    round_trip(&AuthenticatedContentTbm {
        content_tbs: tbs,
        auth: FramedContentAuthData {
            signature: bytes(&[1; 64]),
            confirmation_tag: Some(Mac(bytes(&[2; 32]))),
        },
    });
}

#[test]
fn extension_helpers() {
    let senders = ExternalSenders(
        vec![ExternalSender {
            signature_key: SignaturePublicKey(bytes(&[1; 32])),
            credential: Credential::basic(b"ds".to_vec()),
        }]
        .into(),
    );
    let req = RequiredCapabilities {
        extension_types: vec![ExtensionType::EXTERNAL_SENDERS].into(),
        proposal_types: VarVec::default(),
        credential_types: vec![CredentialType::BASIC].into(),
    };
    let list = vec![
        Extension::from_value(&ApplicationId(bytes(b"app"))).expect("encode"),
        Extension::from_value(&senders).expect("encode"),
        Extension::from_value(&req).expect("encode"),
        Extension::from_value(&RatchetTree::default()).expect("encode"),
    ];
    assert_eq!(list[0].extension_data.as_slice(), [3, b'a', b'p', b'p']);
    assert_eq!(
        Extension::find::<ExternalSenders>(&list)
            .expect("present")
            .expect("parses"),
        senders
    );
    assert_eq!(
        Extension::find::<RequiredCapabilities>(&list)
            .expect("present")
            .expect("parses"),
        req
    );
    assert!(Extension::find::<ExternalPub>(&list).is_none());
    assert!(list[0].parse::<ExternalSenders>().is_none());
}

#[test]
fn eight_byte_and_non_minimal_headers_are_errors() {
    // A Welcome whose encrypted_group_info header uses the 8-byte form.
    let mut msg = vec![0, 1, 0, 3, 0, 1, 0];
    msg.extend_from_slice(&[0xc0, 0, 0, 0, 0, 0, 0, 1, 0xaa]);
    assert!(MlsMessage::from_bytes(&msg).is_err());
    // The same with a non-minimal 2-byte header for a 1-byte body.
    let mut msg = vec![0, 1, 0, 3, 0, 1, 0];
    msg.extend_from_slice(&[0x40, 0x01, 0xaa]);
    assert!(MlsMessage::from_bytes(&msg).is_err());
    // And the minimal form is fine.
    let mut msg = vec![0, 1, 0, 3, 0, 1, 0];
    msg.extend_from_slice(&[0x01, 0xaa]);
    assert!(MlsMessage::from_bytes(&msg).is_ok());
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut enc = encode(&public_commit()).expect("encode");
    enc.push(0);
    assert!(MlsMessage::from_bytes(&enc).is_err());
    let mut enc = encode(&commit()).expect("encode");
    enc.push(0);
    assert!(Commit::from_bytes(&enc).is_err());
}

#[test]
fn huge_length_claim_in_small_buffer_is_an_error() {
    // Welcome: encrypted_group_info claims 2^30 - 1 bytes inside a 100-byte buffer.
    let mut msg = vec![0, 1, 0, 3, 0, 1, 0, 0xbf, 0xff, 0xff, 0xff];
    msg.resize(100, 0);
    assert!(MlsMessage::from_bytes(&msg).is_err());
    // Ratchet tree vector claiming 1 GiB - 1.
    let mut tree = vec![0xbf, 0xff, 0xff, 0xff, 1];
    tree.resize(100, 0);
    assert!(RatchetTree::from_bytes(&tree).is_err());
}

#[test]
fn unknown_wire_format_and_bad_version_are_errors() {
    let good = encode(&public_commit()).expect("encode");
    let mut wf = good.clone();
    wf[3] = 6;
    assert!(MlsMessage::from_bytes(&wf).is_err());
    wf[3] = 0;
    assert!(MlsMessage::from_bytes(&wf).is_err());
    for v in [0u16, 2, 0x0a0a] {
        let mut bad = good.clone();
        bad[..2].copy_from_slice(&v.to_be_bytes());
        assert!(MlsMessage::from_bytes(&bad).is_err(), "version {v}");
    }
}

#[test]
fn unknown_selectors_are_errors() {
    let good = encode(&public_commit()).expect("encode");
    // Offsets: version(2) wire_format(2) group_id(1+5) epoch(8) -> sender_type at 18.
    assert_eq!(good[18], 1);
    let mut bad = good.clone();
    bad[18] = 5;
    assert!(MlsMessage::from_bytes(&bad).is_err());
    // sender(5) authenticated_data(1) -> content_type at 24.
    assert_eq!(good[24], 3);
    let mut bad = good.clone();
    bad[24] = 4;
    assert!(MlsMessage::from_bytes(&bad).is_err());
    // PrivateMessage with an unknown content type.
    let mut private = vec![0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 0, 0, 0];
    assert!(MlsMessage::from_bytes(&private).is_err());
    private[13] = 1;
    assert!(MlsMessage::from_bytes(&private).is_ok());
    // A leaf node source of 4.
    let mut leaf_enc = encode(&leaf(LeafNodeSource::Update)).expect("encode");
    let pos = leaf_enc.len() - (1 + 2 + 2 + 6 + 1 + 64) - 1;
    assert_eq!(leaf_enc[pos], 2);
    leaf_enc[pos] = 4;
    assert!(LeafNode::from_bytes(&leaf_enc).is_err());
    // An optional<> presence byte of 2.
    let mut c = encode(&commit()).expect("encode");
    let path_pos = 1 + commit()
        .proposals
        .iter()
        .map(Size::tls_serialized_len)
        .sum::<usize>();
    assert_eq!(c[path_pos], 1);
    c[path_pos] = 2;
    assert!(Commit::from_bytes(&c).is_err());
}

#[test]
fn conditional_fields_are_enforced() {
    let MlsMessageBody::PublicMessage(pm) = public_commit().body else {
        unreachable!()
    };
    let mut no_tag = pm.clone();
    no_tag.membership_tag = None;
    assert!(encode(&no_tag).is_err());
    let mut no_confirmation = pm.clone();
    no_confirmation.auth.confirmation_tag = None;
    assert!(encode(&no_confirmation).is_err());
    let mut external = pm.clone();
    external.content.sender = Sender::NewMemberCommit;
    assert!(encode(&external).is_err());
    external.membership_tag = None;
    round_trip(&external);
    let mut app = pm;
    app.content.body = FramedContentBody::Application(bytes(b"hi"));
    assert!(encode(&app).is_err());
    app.auth.confirmation_tag = None;
    round_trip(&app);

    let tbs_without_position = leaf(LeafNodeSource::Update).to_be_signed(None).unwrap();
    assert!(encode(&tbs_without_position).is_err());
    let tbs = leaf(LeafNodeSource::Update)
        .to_be_signed(Some(TreePosition {
            group_id: bytes(b"g"),
            leaf_index: 3,
        }))
        .unwrap();
    round_trip(&tbs);
    let kp_tbs = key_package().leaf_node.to_be_signed(None).unwrap();
    round_trip(&kp_tbs);
}

#[test]
fn private_message_content_padding() {
    let content = PrivateMessageContent {
        content: FramedContentBody::Application(bytes(b"hello")),
        auth: FramedContentAuthData {
            signature: bytes(&[1; 64]),
            confirmation_tag: None,
        },
        padding_len: 300,
    };
    let enc = content.to_bytes().expect("encode");
    assert_eq!(enc.len(), 6 + 66 + 300);
    assert_eq!(
        PrivateMessageContent::decode(ContentType::APPLICATION, &enc).expect("decode"),
        content
    );
    let mut bad = enc.clone();
    bad[6 + 66 + 299] = 1;
    assert!(PrivateMessageContent::decode(ContentType::APPLICATION, &bad).is_err());
    let mut bad = enc.clone();
    bad[6 + 66] = 0x80;
    assert!(PrivateMessageContent::decode(ContentType::APPLICATION, &bad).is_err());
    // The wrong content type reads different fields: no panic either way.
    let _ = PrivateMessageContent::decode(ContentType::COMMIT, &enc);
    assert!(PrivateMessageContent::decode(ContentType(9), &enc).is_err());

    let commit_content = PrivateMessageContent {
        content: FramedContentBody::Commit(commit()),
        auth: FramedContentAuthData {
            signature: bytes(&[1; 64]),
            confirmation_tag: Some(Mac(bytes(&[2; 32]))),
        },
        padding_len: 0,
    };
    let enc = commit_content.to_bytes().expect("encode");
    assert_eq!(
        PrivateMessageContent::decode(ContentType::COMMIT, &enc).expect("decode"),
        commit_content
    );
}

#[test]
fn truncations_never_panic() {
    let enc = encode(&public_commit()).expect("encode");
    for n in 0..enc.len() {
        assert!(MlsMessage::from_bytes(&enc[..n]).is_err(), "prefix {n}");
    }
}

/// The compact LeafNode reads every field from its encoding exactly as the field-by-field
/// decoding (`LeafNodeTbs` plus the signature) does, and shares the encoding when cloned.
#[test]
fn leaf_node_accessors_match_the_decoded_fields() {
    for source in [
        LeafNodeSource::KeyPackage(Lifetime {
            not_before: 7,
            not_after: 9,
        }),
        LeafNodeSource::Update,
        LeafNodeSource::Commit(bytes(&[5; 32])),
    ] {
        let l = leaf(source.clone());
        let enc = round_trip(&l);
        assert_eq!(l.as_bytes(), enc.as_slice());
        let (tbs, rest) = LeafNodeTbs::decode_content(&enc).unwrap();
        let (sig, rest) =
            <VarBytes as tls_codec::DeserializeBytes>::tls_deserialize_bytes(rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(l.encryption_key(), tbs.encryption_key.as_slice());
        assert_eq!(l.signature_key(), tbs.signature_key.as_slice());
        assert_eq!(l.credential(), tbs.credential);
        assert_eq!(l.credential_type(), CredentialType::BASIC);
        assert_eq!(l.capabilities().to_owned(), tbs.capabilities);
        assert!(l.capabilities().proposals.contains(&ProposalType(0x2a2a)));
        assert!(!l.capabilities().proposals.contains(&ProposalType(0x2a2b)));
        assert_eq!(l.leaf_node_source(), source);
        assert_eq!(l.extensions().to_vec(), tbs.extensions.0);
        assert_eq!(
            l.extensions().get(ExtensionType(0x4a4a)),
            Some(&b"grease"[..])
        );
        assert_eq!(l.signature(), sig.as_slice());
        assert_eq!(l.tbs_content().len(), enc.len() - sig.tls_serialized_len());
        match &source {
            LeafNodeSource::KeyPackage(lt) => {
                assert_eq!(l.lifetime(), Some(*lt));
                assert_eq!(l.parent_hash(), None);
                assert_eq!(l.tbs_bytes(b"g", 3).unwrap(), l.tbs_content());
            }
            LeafNodeSource::Commit(h) => {
                assert_eq!(l.parent_hash(), Some(h.as_slice()));
                let expected = encode(&LeafNodeTbs {
                    tree_position: Some(TreePosition {
                        group_id: bytes(b"g"),
                        leaf_index: 3,
                    }),
                    ..tbs.clone()
                })
                .unwrap();
                assert_eq!(l.tbs_bytes(b"g", 3).unwrap(), expected);
            }
            LeafNodeSource::Update => assert_eq!(l.lifetime(), None),
        }
        assert_eq!(LeafNode::from_tbs(&tbs, &sig).unwrap(), l);
        let copy = l.clone();
        assert!(std::ptr::eq(copy.as_bytes(), l.as_bytes()));
    }
}

/// Malformed leaves are refused as the field decoders refuse them: an odd-length capability
/// list, an unknown source, a truncated signature, trailing bytes.
#[test]
fn malformed_leaf_nodes_are_errors() {
    let good = leaf(LeafNodeSource::Update).to_bytes().unwrap();
    assert!(LeafNode::from_bytes(&good).is_ok());
    // Truncated anywhere.
    for cut in 0..good.len() {
        assert!(LeafNode::from_bytes(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Trailing bytes.
    let mut long = good.clone();
    long.push(0);
    assert!(LeafNode::from_bytes(&long).is_err());
    // An odd-length versions list: [1 byte header][0x00 0x01] -> claim 3 bytes.
    let caps_at = {
        let l = leaf(LeafNodeSource::Update);
        let before = 1 + 32 + 1 + 32 + l.credential_bytes().len();
        assert_eq!(&good[before..before + 3], &[2, 0, 1]);
        before
    };
    let mut odd = good.clone();
    odd[caps_at] = 3;
    assert!(LeafNode::from_bytes(&odd).is_err());
    // An unknown leaf_node_source tag.
    let tbs = leaf(LeafNodeSource::Update).to_be_signed(None).unwrap();
    let source_at = encode(&tbs.encryption_key).unwrap().len()
        + encode(&tbs.signature_key).unwrap().len()
        + encode(&tbs.credential).unwrap().len()
        + encode(&tbs.capabilities).unwrap().len();
    assert_eq!(good[source_at], 2);
    let mut unknown = good.clone();
    unknown[source_at] = 9;
    assert!(matches!(
        LeafNode::from_bytes(&unknown),
        Err(tls_codec::Error::UnknownValue(9))
    ));
}

fn ciphertexts(n: u8) -> Vec<HpkeCiphertext> {
    (0..n)
        .map(|i| HpkeCiphertext {
            // Lengths crossing the 1-, 2- and 4-byte header forms, and empty fields.
            kem_output: VarBytes(vec![i; [0, 32, 63, 64][usize::from(i % 4)]]),
            ciphertext: VarBytes(vec![!i; [48, 0, 16_384, 1][usize::from(i % 4)]]),
        })
        .collect()
}

#[test]
fn encrypted_path_secrets_encode_as_a_vector_of_hpke_ciphertexts() {
    for n in [0u8, 1, 2, 7] {
        let cts = ciphertexts(n);
        let (n, half) = (usize::from(n), usize::from(n / 2));
        let list = EncryptedPathSecrets::try_from(cts.clone()).unwrap();
        let as_vec = VarVec(cts.clone());
        // The same wire bytes as `HPKECiphertext encrypted_path_secret<V>`, both ways.
        let enc = encode(&list).unwrap();
        assert_eq!(enc, encode(&as_vec).unwrap());
        assert_eq!(enc.len(), list.tls_serialized_len());
        let dec: EncryptedPathSecrets = decode_exact(&enc).unwrap();
        assert_eq!(dec, list);
        assert_eq!(dec.len(), n);
        assert_eq!(dec.iter().collect::<Vec<_>>(), cts);
        assert_eq!(dec.get(n), None);
        // Truncating keeps a valid vector of the first ciphertexts.
        let mut fewer = dec.clone();
        fewer.truncate(half);
        assert_eq!(
            encode(&fewer).unwrap(),
            encode(&VarVec(cts[..half].to_vec())).unwrap()
        );
        fewer.truncate(n);
        assert_eq!(fewer.len(), half);
    }
}

#[test]
fn malformed_encrypted_path_secrets_are_errors() {
    let good = encode(&EncryptedPathSecrets::try_from(ciphertexts(3)).unwrap()).unwrap();
    // Every truncation of the body (with its header fixed up) leaves a ciphertext cut short,
    // or the vector's own header claims more than there is.
    for cut in 0..good.len() {
        assert!(decode_exact::<EncryptedPathSecrets>(&good[..cut]).is_err());
    }
    let refuse = |body: &[u8]| {
        let mut enc = Vec::new();
        crate::codec::write_varint(&mut enc, body.len()).unwrap();
        enc.extend_from_slice(body);
        assert!(
            decode_exact::<EncryptedPathSecrets>(&enc).is_err(),
            "{body:?} accepted"
        );
        // The same bytes are refused as `HPKECiphertext<V>` too.
        assert!(decode_exact::<VarVec<HpkeCiphertext>>(&enc).is_err());
    };
    // A kem_output without its ciphertext.
    refuse(&[0x02, 1, 2]);
    // A ciphertext running past the vector's end.
    refuse(&[0x00, 0x03, 1, 2]);
    // A non-minimal length header inside a ciphertext.
    refuse(&[0x40, 0x01, 9, 0x00]);
    // The 8-byte header form.
    refuse(&[0xc0, 0, 0, 0, 0, 0, 0, 1, 9, 0x00]);
    // A good ciphertext followed by one byte.
    refuse(&[0x00, 0x00, 0x00]);
}
