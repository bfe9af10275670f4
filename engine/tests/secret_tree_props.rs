//! Property tests of the secret tree's out-of-order handling (RFC 9420 §9): whatever order keys
//! are asked for in, a key is handed out at most once, it is always the sender's key for that
//! generation, a refusal changes nothing, and with generous bounds nothing is refused.

#![allow(clippy::unwrap_used)] // Test code: a failure is a test failure.

use std::collections::HashSet;

use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider, Secret};
use mls_engine::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig, SecretTreeError};
use mls_engine::tree_math::LeafIndex;
use proptest::prelude::*;

const N: u32 = 40;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn out_of_order_delivery(
        order in proptest::collection::vec(0..N, 0..80),
        max_forward in 0u32..50,
        max_retained in 0usize..50,
        leaf in 0u32..5,
    ) {
        let p = AwsLcProvider::new();
        let cs = p.suite(CipherSuite(1)).unwrap();
        let config = SecretTreeConfig { max_forward_distance: max_forward, max_retained_keys: max_retained };
        let root = Secret::from_slice(&[3; 32]);
        let leaf = LeafIndex(leaf);
        let kind = RatchetKind::Application;
        let mut sender = SecretTree::new(root.clone(), 5, SecretTreeConfig::default()).unwrap();
        let sent: Vec<_> = (0..N).map(|_| sender.next_key(cs, leaf, kind).unwrap()).collect();

        let mut rx = SecretTree::new(root, 5, config).unwrap();
        let mut accepted = HashSet::new();
        for g in order {
            let before = rx.clone();
            let peeked = rx.peek_key(cs, leaf, kind, g);
            prop_assert_eq!(&rx, &before);
            match rx.consume_key(cs, leaf, kind, g) {
                Ok(k) => {
                    prop_assert!(accepted.insert(g), "generation {} handed out twice", g);
                    prop_assert_eq!(&k, &sent[g as usize]);
                    prop_assert_eq!(peeked.unwrap(), k);
                }
                Err(e) => {
                    prop_assert_eq!(&rx, &before, "state changed on {:?}", e);
                    prop_assert_eq!(peeked.unwrap_err(), e.clone());
                    let generous = max_forward >= N && max_retained >= N as usize;
                    if generous {
                        let consumed = matches!(e, SecretTreeError::GenerationConsumed { .. });
                        prop_assert!(consumed, "refused with generous bounds: {:?}", e);
                        prop_assert!(accepted.contains(&g));
                    }
                }
            }
            prop_assert!(rx.retained_keys(leaf, kind) <= max_retained);
        }
    }
}
