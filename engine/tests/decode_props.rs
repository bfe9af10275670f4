//! Property tests: decoding arbitrary bytes, and mutations of the official `messages.json`
//! encodings, as every top-level wire type never panics, and whatever decodes re-encodes to
//! exactly the input bytes.

use std::sync::OnceLock;

use mls_engine::codec::{decode_exact, encode};
use mls_engine::messages::{
    Commit, ContentType, GroupInfo, GroupSecrets, KeyPackage, LeafNode, MlsMessage,
    PrivateMessageContent, Proposal, RatchetTree, Welcome,
};
use proptest::prelude::*;
use tls_codec::{DeserializeBytes, Serialize, Size};

/// Decodes `bytes` as `T`; if that works, the re-encoding must be identical.
fn check<T: DeserializeBytes + Serialize + Size>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = decode_exact::<T>(bytes) {
        let again = encode(&value).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&again, bytes);
        prop_assert_eq!(value.tls_serialized_len(), bytes.len());
    }
    Ok(())
}

fn check_private_content(content_type: u8, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = PrivateMessageContent::decode(ContentType(content_type), bytes) {
        let again = value
            .to_bytes()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&again, bytes);
    }
    Ok(())
}

/// Runs every top-level decoder over the same bytes.
fn check_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    check::<MlsMessage>(bytes)?;
    check::<KeyPackage>(bytes)?;
    check::<Welcome>(bytes)?;
    check::<GroupInfo>(bytes)?;
    check::<GroupSecrets>(bytes)?;
    check::<RatchetTree>(bytes)?;
    check::<Commit>(bytes)?;
    check::<Proposal>(bytes)?;
    check::<LeafNode>(bytes)?;
    for ct in 0..=4 {
        check_private_content(ct, bytes)?;
    }
    Ok(())
}

/// Seed encodings from the official vectors (a handful of cases), each tagged with the decoder
/// it belongs to. Empty (with a warning) when the file is missing.
fn seeds() -> &'static [(usize, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(usize, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = std::env::var("MLS_TEST_VECTORS").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/test-vectors").to_string()
        });
        let Ok(json) = std::fs::read_to_string(format!("{dir}/messages.json")) else {
            eprintln!("!!! messages.json not found in {dir}: mutation tests use no seeds");
            return Vec::new();
        };
        // Field name -> (decoder index, proposal type prefix).
        let fields: [(&str, usize, Option<u16>); 13] = [
            ("mls_welcome", 0, None),
            ("mls_group_info", 0, None),
            ("mls_key_package", 0, None),
            ("public_message_application", 0, None),
            ("public_message_proposal", 0, None),
            ("public_message_commit", 0, None),
            ("private_message", 0, None),
            ("ratchet_tree", 1, None),
            ("group_secrets", 2, None),
            ("commit", 3, None),
            ("add_proposal", 4, Some(1)),
            ("update_proposal", 4, Some(2)),
            ("re_init_proposal", 4, Some(5)),
        ];
        let mut out = Vec::new();
        for (name, decoder, prefix) in fields {
            let key = format!("\"{name}\": \"");
            for (i, (pos, _)) in json.match_indices(&key).enumerate() {
                if i >= 8 {
                    break;
                }
                let start = pos + key.len();
                let Some(len) = json[start..].find('"') else {
                    continue;
                };
                let Ok(mut bytes) = hex::decode(&json[start..start + len]) else {
                    continue;
                };
                if let Some(t) = prefix {
                    let mut with_type = t.to_be_bytes().to_vec();
                    with_type.append(&mut bytes);
                    bytes = with_type;
                }
                out.push((decoder, bytes));
            }
        }
        out
    })
}

fn check_seed_decoder(decoder: usize, bytes: &[u8]) -> Result<(), TestCaseError> {
    match decoder {
        0 => check::<MlsMessage>(bytes),
        1 => check::<RatchetTree>(bytes),
        2 => check::<GroupSecrets>(bytes),
        3 => check::<Commit>(bytes),
        _ => check::<Proposal>(bytes),
    }
}

#[test]
fn seeds_are_loaded_when_the_file_exists() {
    let seeds = seeds();
    if !seeds.is_empty() {
        // 8 cases of each of the 13 fields.
        assert_eq!(seeds.len(), 8 * 13);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Set(i, b) => {
            let i = i % bytes.len();
            bytes[i] = b;
        }
        Mutation::Insert(i, b) => {
            let i = i % (bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Remove(i) => {
            let i = i % bytes.len();
            bytes.remove(i);
        }
        Mutation::Truncate(i) => {
            let i = i % bytes.len();
            bytes.truncate(i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_all(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_behind_an_mls_header(
        wire_format in 0u8..=6,
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![0, 1, 0, wire_format];
        bytes.extend_from_slice(&tail);
        check::<MlsMessage>(&bytes)?;
    }

    #[test]
    fn arbitrary_small_vectors(parts in proptest::collection::vec(
        prop_oneof![
            Just(vec![0u8]),
            Just(vec![1u8]),
            Just(vec![2u8]),
            Just(vec![0u8, 1]),
            Just(vec![0u8, 1, 0, 1]),
            proptest::collection::vec(any::<u8>(), 0..4),
        ],
        0..48,
    )) {
        // Byte soup of plausible tags, small lengths and empty vectors reaches deeper fields.
        let bytes: Vec<u8> = parts.concat();
        check_all(&bytes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_vector_messages(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let seeds = seeds();
        if seeds.is_empty() {
            return Ok(());
        }
        let (decoder, seed) = &seeds[pick % seeds.len()];
        // The unmutated seed is valid and round-trips.
        prop_assert!(check_seed_decoder(*decoder, seed).is_ok());
        let seed_decodes = match decoder {
            0 => decode_exact::<MlsMessage>(seed).is_ok(),
            1 => decode_exact::<RatchetTree>(seed).is_ok(),
            2 => decode_exact::<GroupSecrets>(seed).is_ok(),
            3 => decode_exact::<Commit>(seed).is_ok(),
            _ => decode_exact::<Proposal>(seed).is_ok(),
        };
        prop_assert!(seed_decodes);
        let mut bytes = seed.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_seed_decoder(*decoder, &bytes)?;
        check_all(&bytes)?;
    }
}
