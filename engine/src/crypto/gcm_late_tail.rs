//! AES-GCM (NIST SP 800-38D) of a plaintext whose last bytes come later: the rest is encrypted
//! now, on another core, while the last bytes are still being computed.
//!
//! The case it serves: a Welcome's GroupInfo ends with its signature, and the GroupInfo is
//! encrypted, then hashed as the joiners' HPKE `info`. For a GroupInfo carrying the tree of
//! 10,000 members (1.76 MB) signing takes a SHA-512 pass and encrypting and hashing together
//! take about as long again; with the signature's bytes filled in last, the encryption and most
//! of the hash run beside the signature.
//!
//! GCM allows it because both of its parts are linear in the plaintext's bytes:
//! - CTR: `C = P xor keystream`. The tail is first encrypted as zeros, so its ciphertext is the
//!   keystream; xoring the real tail into it gives the real ciphertext.
//! - GHASH: `GHASH_H(A, C) = sum of X_i H^(m-i+1)` over the blocks `X_1..X_m` of `A`, `C` and
//!   the lengths, in GF(2^128). Changing ciphertext blocks by `D_j` changes the tag by
//!   `sum of D_j H^(m-i_j+1)`, with `H = AES_K(0^128)`; the lengths do not change.
//!
//! [`LateTail::finish`] applies both. The result is byte for byte the ciphertext and tag of
//! sealing the whole plaintext at once (the test `late_tail_equals_sealing_at_once` holds it
//! to AWS-LC on every tail position and length tried). `H` is a secret (it forges tags under
//! the key); it is multiplied in constant time and wiped when dropped.

use aws_lc_rs::cipher::{EncryptingKey, UnboundCipherKey, AES_128, AES_256};
use zeroize::{Zeroize, Zeroizing};

use super::suite::AeadAlgorithm;
use super::CryptoError;

/// What `seal` leaves to do once the tail is known: where the tail's ciphertext and the tag
/// lie in the buffer, and `H`.
pub struct LateTail {
    /// `AES_K(0^128)`, as a GCM field element (bit 0 of the field is the top bit).
    h: u128,
    /// Where the ciphertext starts in the buffer.
    from: usize,
    /// The ciphertext's length (the tag follows it).
    ct_len: usize,
    /// The tail's length: the ciphertext's last `tail_len` bytes.
    tail_len: usize,
}

impl Drop for LateTail {
    fn drop(&mut self) {
        self.h.zeroize();
    }
}

impl std::fmt::Debug for LateTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LateTail")
            .field("from", &self.from)
            .field("ct_len", &self.ct_len)
            .field("tail_len", &self.tail_len)
            .finish_non_exhaustive()
    }
}

/// Seals `buf[from..]` with AES-GCM in place, its last `tail_len` bytes taken as zeros (they
/// are overwritten with zeros); [`LateTail::finish`] then puts in the real tail. `None` for an
/// AEAD other than AES-GCM; `InvalidLength` if the buffer is shorter than `from + tail_len`.
pub(crate) fn seal(
    alg: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    from: usize,
    tail_len: usize,
) -> Result<Option<LateTail>, CryptoError> {
    let cipher = match alg {
        AeadAlgorithm::Aes128Gcm => &AES_128,
        AeadAlgorithm::Aes256Gcm => &AES_256,
        _ => return Ok(None),
    };
    let ct_len = buf
        .len()
        .checked_sub(from)
        .filter(|len| *len >= tail_len)
        .ok_or(CryptoError::InvalidLength {
            what: "AES-GCM late tail",
            expected: from.saturating_add(tail_len),
            actual: buf.len(),
        })?;
    let end = buf.len();
    buf[end - tail_len..].fill(0);
    super::aws_lc::aead_seal_in_place(alg, key, nonce, aad, buf, from)?;
    // H = AES_K(0^128): one block in ECB (the key's length was checked by the seal).
    let mut block = Zeroizing::new([0u8; 16]);
    let ecb = UnboundCipherKey::new(cipher, key)
        .and_then(EncryptingKey::ecb)
        .map_err(|_| CryptoError::Library("AES block"))?;
    ecb.encrypt(&mut block[..])
        .map_err(|_| CryptoError::Library("AES block"))?;
    Ok(Some(LateTail {
        h: u128::from_be_bytes(*block),
        from,
        ct_len,
        tail_len,
    }))
}

impl LateTail {
    /// Puts `tail` (the plaintext's last bytes) into the sealed `buf`: its ciphertext, and the
    /// tag corrected for it. `InvalidLength` if `tail` or `buf` is not the length `seal`
    /// was given (nothing is changed then).
    pub fn finish(self, buf: &mut [u8], tail: &[u8]) -> Result<(), CryptoError> {
        let tag_len = 16;
        let expected = self.from + self.ct_len + tag_len;
        if buf.len() != expected || tail.len() != self.tail_len {
            return Err(CryptoError::InvalidLength {
                what: "AES-GCM late tail",
                expected: self.tail_len,
                actual: tail.len(),
            });
        }
        let ct = self.from..self.from + self.ct_len;
        let tail_start = self.ct_len - self.tail_len;
        // The ciphertext blocks the tail touches, each changed by the tail's bytes where they
        // lie in it (zeros elsewhere), folded by Horner's rule: the last ciphertext block gets
        // H^2 (the lengths block, unchanged, comes after it).
        let first_block = tail_start / 16;
        let blocks = self.ct_len.div_ceil(16);
        let mut delta = 0u128;
        for b in first_block..blocks {
            let mut d = [0u8; 16];
            for (i, byte) in d.iter_mut().enumerate() {
                let at = b * 16 + i;
                if at >= tail_start && at < self.ct_len {
                    *byte = tail[at - tail_start];
                }
            }
            delta = gf_mul(delta ^ u128::from_be_bytes(d), self.h);
            d.zeroize();
        }
        delta = gf_mul(delta, self.h);
        let ct = &mut buf[ct];
        for (c, t) in ct[tail_start..].iter_mut().zip(tail) {
            *c ^= t;
        }
        let tag = &mut buf[expected - tag_len..];
        let corrected = u128::from_be_bytes(
            <[u8; 16]>::try_from(&*tag).map_err(|_| CryptoError::Library("AES-GCM tag"))?,
        ) ^ delta;
        tag.copy_from_slice(&corrected.to_be_bytes());
        delta.zeroize();
        Ok(())
    }
}

/// Multiplication in GCM's GF(2^128) (SP 800-38D §6.3, Algorithm 1), with no branch or index
/// that depends on either operand: each step's choices are masks.
fn gf_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xe1 << 120;
    let mut z = 0u128;
    let mut v = y;
    for i in 0..128 {
        let bit = (x >> (127 - i)) & 1;
        z ^= v & 0u128.wrapping_sub(bit);
        let carry = v & 1;
        v = (v >> 1) ^ (R & 0u128.wrapping_sub(carry));
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_at_once(alg: AeadAlgorithm, key: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buf = [&[0xaa; 5][..], plain].concat();
        super::super::aws_lc::aead_seal_in_place(alg, key, &[9; 12], aad, &mut buf, 5).unwrap();
        buf
    }

    #[test]
    fn late_tail_equals_sealing_at_once() {
        for (alg, key_len) in [
            (AeadAlgorithm::Aes128Gcm, 16),
            (AeadAlgorithm::Aes256Gcm, 32),
        ] {
            let key: Vec<u8> = (0..key_len).map(|i: u8| i * 7 + 1).collect();
            for aad in [&b""[..], b"associated", &[3u8; 40]] {
                for len in [0usize, 1, 15, 16, 17, 65, 100, 1000] {
                    for tail_len in [0usize, 1, 15, 16, 17, 64, 65] {
                        if tail_len > len {
                            continue;
                        }
                        let plain: Vec<u8> = (0..len)
                            .map(|i| ((i * 13 + len) % 256).to_le_bytes()[0])
                            .collect();
                        let want = sealed_at_once(alg, &key, aad, &plain);
                        let mut buf = [&[0xaa; 5][..], &plain[..len - tail_len]].concat();
                        buf.extend_from_slice(&[0x5c; 65][..tail_len]);
                        let late = seal(alg, &key, &[9; 12], aad, &mut buf, 5, tail_len)
                            .unwrap()
                            .unwrap();
                        late.finish(&mut buf, &plain[len - tail_len..]).unwrap();
                        assert_eq!(
                            buf,
                            want,
                            "{alg:?}, aad {}, {len} bytes, tail {tail_len}",
                            aad.len()
                        );
                        let mut opened = buf[5..].to_vec();
                        let n = super::super::aws_lc::aead_open_in_place(
                            alg,
                            &key,
                            &[9; 12],
                            aad,
                            &mut opened,
                        )
                        .unwrap();
                        assert_eq!(&opened[..n], &plain[..]);
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_refused_and_change_nothing() {
        let alg = AeadAlgorithm::Aes128Gcm;
        let mut buf = vec![1u8; 50];
        assert!(seal(alg, &[1; 16], &[0; 12], b"", &mut buf, 40, 11).is_err());
        assert!(seal(alg, &[1; 16], &[0; 12], b"", &mut buf, 51, 0).is_err());
        let late = seal(alg, &[1; 16], &[0; 12], b"", &mut buf, 10, 8)
            .unwrap()
            .unwrap();
        let before = buf.clone();
        assert!(late.finish(&mut buf, &[0; 7]).is_err());
        assert_eq!(buf, before);
        let late = seal(alg, &[1; 16], &[0; 12], b"", &mut buf, 10, 8)
            .unwrap()
            .unwrap();
        let mut short = buf[..buf.len() - 1].to_vec();
        assert!(late.finish(&mut short, &[0; 8]).is_err());
    }

    #[test]
    fn other_aeads_are_not_handled() {
        let mut buf = vec![0u8; 40];
        let out = seal(
            AeadAlgorithm::ChaCha20Poly1305,
            &[1; 32],
            &[0; 12],
            b"",
            &mut buf,
            0,
            4,
        );
        assert!(out.unwrap().is_none());
        assert_eq!(buf, vec![0u8; 40]);
    }

    /// The multiplication against the field's definition: `x * 1 = x` (1 is the top bit),
    /// commutativity, distributivity, and one product from SP 800-38D's GCM test case 2
    /// (`H = 66e94bd4...`, `GHASH(H, C)` for one block with lengths).
    #[test]
    fn gf_mul_is_gcm_multiplication() {
        let one = 1u128 << 127;
        let a = 0x66e9_4bd4_ef8a_2c3b_884c_fa59_ca34_2b2eu128;
        let b = 0x0388_dace_60b6_a392_f328_c2b9_71b2_fe78u128;
        let c = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321u128;
        assert_eq!(gf_mul(a, one), a);
        assert_eq!(gf_mul(a, b), gf_mul(b, a));
        assert_eq!(gf_mul(a, b ^ c), gf_mul(a, b) ^ gf_mul(a, c));
        // GHASH(H, {}, C) for test case 2: ((C * H) ^ len) * H, len = 0 || 128.
        let ghash = gf_mul(gf_mul(b, a) ^ 128, a);
        assert_eq!(ghash, 0xf38c_bb1a_d692_23dc_c345_7ae5_b6b0_f885u128);
    }
}
