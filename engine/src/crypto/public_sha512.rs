//! SHA-512 of long public messages: the challenge hash `k = SHA-512(R || A || M)` of the
//! engine's own Ed25519 signing (`ed25519_hedged`) and verifying (`ed25519_batch`, which
//! `aws_lc::verify` also uses for long messages), and `Hash` in the SHA-512 suites (4, 5, 6)
//! for messages of [`LONG_MIN_LEN`] or more (tree-sized GroupInfos and commits; no secret is
//! that long).
//!
//! Messages of [`LONG_MIN_LEN`] bytes or more go to `mls-sha512-avx2` on CPUs with AVX2 and
//! BMI2: on the AMD EPYC the project is measured on it hashes a 1.76 MB GroupInfo 1.4 times
//! faster than AWS-LC, whose SHA-512 runs portable code there (CRYPTO-NOTES.md, "SHA-512 on
//! AMD"). Shorter messages, and every CPU without those extensions, keep AWS-LC's. Inputs that
//! hold secrets (the expanded key, the nonce) never come here: that crate zeroizes nothing.

use aws_lc_rs::digest;

/// From this length on, the AVX2 code is used where the CPU has it. Below it each call's set-up
/// (a 15 KB frame, the first group's message schedule alone) weighs more than the speed-up, and
/// most such messages (leaf nodes, KeyPackages, short commits) are a few blocks long.
pub(crate) const LONG_MIN_LEN: usize = 16 * 1024;

/// A SHA-512 computation over a public message of known length, fed in pieces.
pub(crate) enum PublicSha512 {
    /// `mls-sha512-avx2`, for long messages on CPUs with AVX2 and BMI2.
    Long(mls_sha512_avx2::Sha512),
    /// AWS-LC.
    Short(digest::Context),
}

impl PublicSha512 {
    /// A computation for a message of `len` bytes (its length picks the implementation; any
    /// number of bytes may be fed).
    pub(crate) fn for_len(len: usize) -> PublicSha512 {
        if len >= LONG_MIN_LEN {
            if let Some(h) = mls_sha512_avx2::Sha512::new() {
                return PublicSha512::Long(h);
            }
        }
        PublicSha512::Short(digest::Context::new(&digest::SHA512))
    }

    /// Feeds `data`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            PublicSha512::Long(h) => h.update(data),
            PublicSha512::Short(h) => h.update(data),
        }
    }

    /// The digest.
    pub(crate) fn finish(self) -> [u8; 64] {
        match self {
            PublicSha512::Long(h) => h.finish(),
            PublicSha512::Short(h) => {
                let mut out = [0u8; 64];
                out.copy_from_slice(h.finish().as_ref());
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_implementations_are_sha512_on_either_side_of_the_threshold() {
        for len in [
            0,
            1,
            200,
            LONG_MIN_LEN - 1,
            LONG_MIN_LEN,
            LONG_MIN_LEN + 129,
            821_000,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + len).to_le_bytes()[0]).collect();
            let mut h = PublicSha512::for_len(len);
            assert_eq!(
                matches!(h, PublicSha512::Long(_)),
                len >= LONG_MIN_LEN && mls_sha512_avx2::available(),
                "length {len} picks the wrong implementation"
            );
            for piece in data.chunks(5000) {
                h.update(piece);
            }
            assert_eq!(
                h.finish()[..],
                *digest::digest(&digest::SHA512, &data).as_ref(),
                "length {len}"
            );
        }
    }

    #[test]
    fn long_messages_use_the_avx2_code_on_the_machines_we_measure() {
        // The project's machines (and CI's) are x86-64 with AVX2 and BMI2; if this fails, the
        // long-message path silently became AWS-LC's and the README's figures no longer hold.
        assert!(mls_sha512_avx2::available());
        assert!(matches!(
            PublicSha512::for_len(LONG_MIN_LEN),
            PublicSha512::Long(_)
        ));
    }
}
