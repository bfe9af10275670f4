//! The assembly and the portable code against AWS-LC's SHA-512, and against each other.
use super::*;
use aws_lc_rs::digest;
use proptest::prelude::*;

fn reference(data: &[u8]) -> [u8; 64] {
    let d = digest::digest(&digest::SHA512, data);
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// Deterministic bytes (xorshift), so failures reproduce.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24).to_le_bytes()[0]
        })
        .collect()
}

/// The hasher of this CPU; these tests need AVX2 and BMI2, which every machine the project
/// runs on has (the CI machines included), so its absence fails rather than skips.
fn hasher() -> Sha512 {
    Sha512::new().expect("this CPU has AVX2, BMI1 and BMI2")
}

/// SHA-512 in the portable code alone.
fn portable(data: &[u8]) -> [u8; 64] {
    let mut h = Sha512 {
        state: H0,
        pending: Vec::new(),
        len: data.len() as u128,
    };
    let whole = data.len() - data.len() % 128;
    for block in data[..whole].chunks_exact(128) {
        compress(&mut h.state, block);
    }
    h.pending.extend_from_slice(&data[whole..]);
    h.finish()
}

#[test]
fn the_portable_compression_function_is_sha512() {
    for len in (0..700).chain([1023, 1024, 1025, 9000]) {
        let data = bytes(len, len as u64);
        assert_eq!(portable(&data), reference(&data), "length {len}");
    }
}

#[test]
fn every_length_up_to_five_groups_in_one_piece() {
    for len in 0..=5 * GROUP + 130 {
        let data = bytes(len, 7 + len as u64);
        let mut h = hasher();
        h.update(&data);
        assert_eq!(h.finish(), reference(&data), "length {len}");
    }
}

#[test]
fn large_messages_in_one_piece_and_in_tree_sized_pieces() {
    // The sizes of the messages this crate is for: a GroupInfo carrying a 10,000-member tree,
    // a commit over a mostly blank one; and a few groups more or less.
    for len in [1_760_000, 821_000, 512 * 200 + 511, 512 * 201] {
        let data = bytes(len, len as u64);
        let expected = reference(&data);
        let mut whole = hasher();
        whole.update(&data);
        assert_eq!(whole.finish(), expected, "length {len}, whole");
        let mut pieces = hasher();
        for piece in data.chunks(87_041) {
            pieces.update(piece);
        }
        assert_eq!(pieces.finish(), expected, "length {len}, pieces");
    }
}

#[test]
fn unaligned_input() {
    let data = bytes(4 * GROUP + 64, 99);
    for start in 0..64 {
        let slice = &data[start..start + 3 * GROUP + 5];
        let mut h = hasher();
        h.update(slice);
        assert_eq!(h.finish(), reference(slice), "offset {start}");
    }
}

#[test]
fn a_clone_continues_independently() {
    let data = bytes(3 * GROUP, 5);
    let mut h = hasher();
    h.update(&data[..GROUP + 10]);
    let mut fork = h.clone();
    h.update(&data[GROUP + 10..]);
    fork.update(b"other");
    let mut other = data[..GROUP + 10].to_vec();
    other.extend_from_slice(b"other");
    assert_eq!(h.finish(), reference(&data));
    assert_eq!(fork.finish(), reference(&other));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The assembly from any state, on one to three groups, equals the portable function
    /// block by block (this checks the compression without the padding).
    #[test]
    fn the_assembly_is_the_compression_function_from_any_state(
        state in proptest::array::uniform8(any::<u64>()),
        count in 1usize..4,
        seed in any::<u64>(),
    ) {
        let data = bytes(count * GROUP, seed);
        assert!(available(), "this CPU has AVX2, BMI1 and BMI2");
        let mut got = state;
        groups(&mut got, &data);
        let mut expected = state;
        for block in data.chunks_exact(128) {
            compress(&mut expected, block);
        }
        prop_assert_eq!(got, expected);
    }

    /// Any message, cut anywhere into any number of pieces, hashes as AWS-LC hashes it whole.
    #[test]
    fn pieces_cut_anywhere(
        len in 0usize..6000,
        cuts in proptest::collection::vec(0usize..6000, 0..8),
        seed in any::<u64>(),
    ) {
        let data = bytes(len, seed);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (len + 1)).collect();
        cuts.sort_unstable();
        let mut h = hasher();
        let mut at = 0;
        for c in cuts.into_iter().chain([len]) {
            h.update(&data[at..c]);
            at = c;
        }
        prop_assert_eq!(h.finish(), reference(&data));
    }
}
