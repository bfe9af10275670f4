//! [`KeyId`]: a fixed-size, allocation-free identity of a public key, the map key of the two
//! member indexes (the tree validation's [`MemberIndex`](super::MemberIndex) and the
//! group's own index of signature and encryption keys), which check key uniqueness
//! (RFC 9420 §7.3, §12.4.3.1) in O(1).
//!
//! A key of at most 32 bytes (X25519 and Ed25519 keys) is stored inline: its length, then its
//! bytes, zero padded. A longer key (P-256, P-384 and P-521 points, X448 and Ed448 keys,
//! post-quantum keys) is identified by a SHA-256 of its length and bytes, under a tag no
//! inline key has. Two keys have equal identities exactly when they are equal (for long keys,
//! up to a SHA-256 collision), so the indexes stay sound. An identity is 33 bytes held in the
//! hash table's own slot: no heap allocation per key.

use aws_lc_rs::digest;

/// Keys up to this many bytes are stored inline.
const INLINE: usize = 32;

/// The tag of a hashed (longer) key; inline keys are tagged with their length, 0 to 32.
const HASHED: u8 = 0xff;

/// The identity of a public key: equal exactly for equal keys. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyId {
    /// The key's length (inline) or [`HASHED`].
    tag: u8,
    /// The key zero padded (inline) or SHA-256(u64 length || key) (hashed).
    body: [u8; INLINE],
}

impl KeyId {
    /// The identity of `key`.
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut body = [0u8; INLINE];
        let tag = match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE => {
                body.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
                len
            }
            _ => {
                let len = u64::try_from(key.len()).unwrap_or(u64::MAX);
                let mut ctx = digest::Context::new(&digest::SHA256);
                ctx.update(&len.to_be_bytes());
                ctx.update(key);
                let hash = ctx.finish();
                body.iter_mut()
                    .zip(hash.as_ref())
                    .for_each(|(b, h)| *b = *h);
                HASHED
            }
        };
        KeyId { tag, body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal keys collide; keys differing in length, a padding byte, or a byte beyond the
    /// inline prefix do not, on both sides of the inline limit.
    #[test]
    fn equal_exactly_for_equal_keys() {
        let k32: Vec<u8> = (1..=32).collect();
        let k33: Vec<u8> = (1..=33).collect();
        let k97: Vec<u8> = (0..97u8).map(|i| i.wrapping_mul(7)).collect();
        for k in [&[][..], &[0][..], &k32[..31], &k32, &k33, &k97] {
            let copy = k.to_vec();
            assert_eq!(KeyId::new(k), KeyId::new(&copy));
        }
        // The 32-byte key is the 33-byte key's prefix: distinct.
        assert_ne!(KeyId::new(&k32), KeyId::new(&k33));
        // Zero padding does not make a short key equal to its padded form.
        let mut padded = k32[..31].to_vec();
        padded.push(0);
        assert_ne!(KeyId::new(&k32[..31]), KeyId::new(&padded));
        assert_ne!(KeyId::new(&[]), KeyId::new(&[0]));
        // Long keys differing only in the last byte, or only in length, are distinct.
        let mut other = k97.clone();
        if let Some(last) = other.last_mut() {
            *last ^= 1;
        }
        assert_ne!(KeyId::new(&k97), KeyId::new(&other));
        assert_ne!(KeyId::new(&k97), KeyId::new(&k97[..96]));
        let mut zero_tail = k97.clone();
        zero_tail.push(0);
        assert_ne!(KeyId::new(&k97), KeyId::new(&zero_tail));
        // A 32-byte key equal to a long key's identity body is still a different identity.
        let long = KeyId::new(&k97);
        assert_ne!(KeyId::new(&long.body), long);
        assert_eq!(std::mem::size_of::<KeyId>(), 33);
    }
}
