//! HPKE KEMs (RFC 9180 §4): the [`Kem`] trait every KEM implements, and [`DhKem`], the
//! DH-based KEM of RFC 9180 §4.1, generic over a [`DhGroup`].
//!
//! Nothing outside this module assumes a KEM is Diffie-Hellman: HPKE sees only
//! `encap`/`decap`/`derive_key_pair`, so post-quantum KEMs (ML-KEM, X-Wing) can be added as
//! further implementations of [`Kem`].

use std::marker::PhantomData;

use subtle::ConstantTimeEq;

use super::aws_lc::random_secret;
use super::error::{check_len, CryptoError};
use super::hpke::{labeled_expand, labeled_extract};
use super::secret::Secret;
use super::suite::KemAlgorithm;

/// A key encapsulation mechanism (RFC 9180 §4). Keys are in their serialized forms
/// (`SerializePublicKey`, `SerializePrivateKey`).
pub trait Kem: Send + Sync {
    /// Which KEM this is.
    fn algorithm(&self) -> KemAlgorithm;

    /// The HPKE KEM identifier.
    fn id(&self) -> u16 {
        self.algorithm().id()
    }

    /// `Nsecret`.
    fn secret_len(&self) -> usize {
        self.algorithm().secret_len()
    }

    /// `Nenc`.
    fn enc_len(&self) -> usize {
        self.algorithm().enc_len()
    }

    /// `Npk`.
    fn public_key_len(&self) -> usize {
        self.algorithm().public_key_len()
    }

    /// `Nsk`.
    fn private_key_len(&self) -> usize {
        self.algorithm().private_key_len()
    }

    /// `GenerateKeyPair()`: `(private key, public key)`.
    fn generate_key_pair(&self) -> Result<(Secret, Vec<u8>), CryptoError>;

    /// `DeriveKeyPair(ikm)`: `(private key, public key)`, deterministic in `ikm`.
    fn derive_key_pair(&self, ikm: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError>;

    /// The public key of a private key.
    fn public_key(&self, sk: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// `Encap(pkR)`: `(shared_secret, enc)`.
    fn encap(&self, pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError>;

    /// `Decap(enc, skR)`: the shared secret.
    fn decap(&self, enc: &[u8], sk: &[u8]) -> Result<Secret, CryptoError>;

    /// Checks a received public key without using it: what `Encap` to it would refuse
    /// (wrong length, not a point of the group, a point of small order) is refused here, so
    /// that a key is judged when it arrives (in a KeyPackage, a leaf, an UpdatePath, a tree),
    /// not when someone later encrypts to it.
    fn check_public_key(&self, pk: &[u8]) -> Result<(), CryptoError>;
}

/// A Diffie-Hellman group as DHKEM needs it (RFC 9180 §4.1). Private keys are serialized with
/// SerializePrivateKey (RFC 9180 §7.1.2), public keys with SerializePublicKey.
pub trait DhGroup: Send + Sync + 'static {
    /// The DHKEM built on this group (identifier, sizes and KDF).
    const KEM: KemAlgorithm;
    /// The group order, big-endian and `Nsk` bytes long, for the NIST curves' DeriveKeyPair
    /// rejection loop; `None` for X25519/X448, whose every `Nsk`-byte string is a key.
    const ORDER: Option<&'static [u8]>;
    /// The mask applied to the first candidate byte (RFC 9180 §7.1.3: 0xff for P-256 and P-384,
    /// 0x01 for P-521).
    const BITMASK: u8;

    /// The public key of a private key.
    fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// A fresh key pair.
    fn generate() -> Result<(Secret, Vec<u8>), CryptoError>;

    /// `DH(sk, pk)`: the raw shared value; invalid public keys are errors.
    fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError>;

    /// Refuses a public key that [`DhGroup::dh`] would refuse for any private key (see
    /// [`Kem::check_public_key`]), without a scalar multiplication.
    fn check_public_key(pk: &[u8]) -> Result<(), CryptoError>;

    /// `(DH(sk, pk), public key of sk)`: what Decap needs, in one call so that implementations
    /// can parse the private key once.
    fn dh_and_public_key(sk: &[u8], pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        Ok((Self::dh(sk, pk)?, Self::public_key(sk)?))
    }

    /// A fresh ephemeral key pair used at once: `(DH(skE, pk), pkE)`.
    fn ephemeral_dh(pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        let (sk, pk_e) = Self::generate()?;
        Ok((Self::dh(sk.as_bytes(), pk)?, pk_e))
    }
}

/// DHKEM(Group, KDF) of RFC 9180 §4.1.
pub struct DhKem<G: DhGroup> {
    /// `"KEM" || I2OSP(kem_id, 2)`.
    suite_id: [u8; 5],
    _group: PhantomData<G>,
}

impl<G: DhGroup> Default for DhKem<G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<G: DhGroup> std::fmt::Debug for DhKem<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhKem({:?})", G::KEM)
    }
}

/// Constant-time `a < b` for equal-length big-endian integers.
fn ct_less_than(a: &[u8], b: &[u8]) -> bool {
    // Subtract b from a from the least significant byte up; a final borrow means a < b.
    let mut borrow: u16 = 0;
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        let diff = u16::from(*x)
            .wrapping_sub(u16::from(*y))
            .wrapping_sub(borrow);
        borrow = (diff >> 8) & 1;
    }
    borrow == 1
}

impl<G: DhGroup> DhKem<G> {
    /// The KEM.
    pub fn new() -> Self {
        let id = G::KEM.id().to_be_bytes();
        Self {
            suite_id: [b'K', b'E', b'M', id[0], id[1]],
            _group: PhantomData,
        }
    }

    /// `ExtractAndExpand(dh, kem_context)` (RFC 9180 §4.1).
    fn extract_and_expand(&self, dh: &Secret, kem_context: &[u8]) -> Result<Secret, CryptoError> {
        // RFC 9180 §7.1.4: an all-zero DH output (X25519/X448 low-order input) is an error.
        let zero = dh.as_bytes().iter().fold(0u8, |acc, b| acc | b);
        if bool::from(zero.ct_eq(&0)) {
            return Err(CryptoError::KeyAgreementFailed);
        }
        let kdf = G::KEM.kdf();
        let eae_prk = labeled_extract(kdf, &self.suite_id, b"", b"eae_prk", dh.as_bytes());
        labeled_expand(
            kdf,
            &self.suite_id,
            eae_prk.as_bytes(),
            b"shared_secret",
            kem_context,
            G::KEM.secret_len(),
        )
    }
}

impl<G: DhGroup> Kem for DhKem<G> {
    fn algorithm(&self) -> KemAlgorithm {
        G::KEM
    }

    fn generate_key_pair(&self) -> Result<(Secret, Vec<u8>), CryptoError> {
        G::generate()
    }

    fn derive_key_pair(&self, ikm: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        // RFC 9180 §7.1.3.
        let kdf = G::KEM.kdf();
        let nsk = G::KEM.private_key_len();
        let dkp_prk = labeled_extract(kdf, &self.suite_id, b"", b"dkp_prk", ikm);
        let sk = match G::ORDER {
            None => labeled_expand(kdf, &self.suite_id, dkp_prk.as_bytes(), b"sk", b"", nsk)?,
            Some(order) => {
                let mut found: Option<Secret> = None;
                for counter in 0u8..=255 {
                    let mut candidate = labeled_expand(
                        kdf,
                        &self.suite_id,
                        dkp_prk.as_bytes(),
                        b"candidate",
                        &[counter],
                        nsk,
                    )?;
                    let bytes = candidate.as_mut_bytes();
                    if let Some(first) = bytes.first_mut() {
                        *first &= G::BITMASK;
                    }
                    let nonzero = bytes.iter().fold(0u8, |acc, b| acc | b);
                    let nonzero = !bool::from(nonzero.ct_eq(&0));
                    if nonzero && ct_less_than(bytes, order) {
                        found = Some(candidate);
                        break;
                    }
                }
                found.ok_or(CryptoError::DeriveKeyPairError)?
            }
        };
        let pk = G::public_key(sk.as_bytes())?;
        Ok((sk, pk))
    }

    fn public_key(&self, sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        G::public_key(sk)
    }

    fn encap(&self, pk: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
        check_len("KEM public key", G::KEM.public_key_len(), pk.len())?;
        let (dh, enc) = G::ephemeral_dh(pk)?;
        let mut kem_context = Vec::with_capacity(enc.len() + pk.len());
        kem_context.extend_from_slice(&enc);
        kem_context.extend_from_slice(pk);
        let shared = self.extract_and_expand(&dh, &kem_context)?;
        Ok((shared, enc))
    }

    fn check_public_key(&self, pk: &[u8]) -> Result<(), CryptoError> {
        G::check_public_key(pk)
    }

    fn decap(&self, enc: &[u8], sk: &[u8]) -> Result<Secret, CryptoError> {
        check_len("KEM encapsulation", G::KEM.enc_len(), enc.len())?;
        let (dh, pk_rm) = G::dh_and_public_key(sk, enc)?;
        let mut kem_context = Vec::with_capacity(enc.len() + pk_rm.len());
        kem_context.extend_from_slice(enc);
        kem_context.extend_from_slice(&pk_rm);
        self.extract_and_expand(&dh, &kem_context)
    }
}

/// Random `Nsk` bytes, for groups whose every byte string is a valid private key.
pub(crate) fn random_private_key(len: usize) -> Result<Secret, CryptoError> {
    random_secret(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn less_than() {
        assert!(ct_less_than(&[0, 1], &[0, 2]));
        assert!(ct_less_than(&[0, 0xff], &[1, 0]));
        assert!(!ct_less_than(&[1, 0], &[1, 0]));
        assert!(!ct_less_than(&[2, 0], &[1, 0xff]));
    }
}

#[cfg(test)]
mod dhkem_tests {
    use crate::crypto::aws_lc::kem_for;
    use crate::crypto::suite::KemAlgorithm;
    use crate::crypto::CryptoError;

    const ALL: [KemAlgorithm; 5] = [
        KemAlgorithm::DhKemP256,
        KemAlgorithm::DhKemP384,
        KemAlgorithm::DhKemP521,
        KemAlgorithm::DhKemX25519,
        KemAlgorithm::DhKemX448,
    ];

    #[test]
    fn derive_key_pair_is_deterministic() {
        for alg in ALL {
            let kem = kem_for(alg);
            let (sk1, pk1) = kem
                .derive_key_pair(b"some input keying material 32 b!")
                .unwrap();
            let (sk2, pk2) = kem
                .derive_key_pair(b"some input keying material 32 b!")
                .unwrap();
            let (sk3, _) = kem
                .derive_key_pair(b"other input keying material 32 b")
                .unwrap();
            assert_eq!(sk1, sk2);
            assert_eq!(pk1, pk2);
            assert_ne!(sk1, sk3);
            assert_eq!(sk1.len(), alg.private_key_len());
            assert_eq!(pk1.len(), alg.public_key_len());
            assert_eq!(kem.public_key(sk1.as_bytes()).unwrap(), pk1);
        }
    }

    #[test]
    fn encap_decap_agree() {
        for alg in ALL {
            let kem = kem_for(alg);
            let (sk, pk) = kem.generate_key_pair().unwrap();
            let (ss, enc) = kem.encap(&pk).unwrap();
            assert_eq!(ss.len(), alg.secret_len());
            assert_eq!(enc.len(), alg.enc_len());
            assert_eq!(kem.decap(&enc, sk.as_bytes()).unwrap(), ss);
        }
    }

    #[test]
    fn invalid_public_keys_are_errors() {
        for alg in ALL {
            let kem = kem_for(alg);
            let n = alg.public_key_len();
            // All-zero: the identity / a low-order point (RFC 9180 §7.1.4).
            assert!(kem.encap(&vec![0u8; n]).is_err(), "{alg:?}");
            assert!(kem.encap(&vec![4u8; n - 1]).is_err());
            assert!(kem.encap(&[]).is_err());
        }
        // A P-256 point that is not on the curve.
        let kem = kem_for(KemAlgorithm::DhKemP256);
        let mut pt = vec![4u8];
        pt.extend_from_slice(&[1u8; 64]);
        assert!(kem.encap(&pt).is_err());
        // Compressed encodings are not SerializePublicKey.
        let (_, pk) = kem.generate_key_pair().unwrap();
        let mut compressed = vec![2 + (pk[64] & 1)];
        compressed.extend_from_slice(&pk[1..33]);
        assert!(matches!(
            kem.encap(&compressed),
            Err(CryptoError::InvalidLength { .. })
        ));
    }

    #[test]
    fn invalid_private_keys_are_errors() {
        for alg in [
            KemAlgorithm::DhKemP256,
            KemAlgorithm::DhKemP384,
            KemAlgorithm::DhKemP521,
        ] {
            let kem = kem_for(alg);
            let n = alg.private_key_len();
            assert!(
                kem.public_key(&vec![0u8; n]).is_err(),
                "zero scalar {alg:?}"
            );
            assert!(
                kem.public_key(&vec![0xffu8; n]).is_err(),
                "scalar >= order {alg:?}"
            );
            assert!(kem.public_key(&vec![1u8; n + 1]).is_err());
        }
        for alg in ALL {
            assert!(kem_for(alg).public_key(&[1, 2, 3]).is_err());
        }
    }

    #[test]
    fn p521_accepts_65_byte_private_key() {
        let kem = kem_for(KemAlgorithm::DhKemP521);
        let (sk, pk) = kem.generate_key_pair().unwrap();
        let mut short = sk.as_bytes().to_vec();
        short[0] = 0;
        short[1] &= 0x7f; // keep it below the order
        let pk_full = kem.public_key(&short).unwrap();
        let pk_short = kem.public_key(&short[1..]).unwrap();
        assert_eq!(pk_full, pk_short);
        let _ = pk;
    }
}

#[cfg(test)]
mod derive_loop_tests {
    use super::*;
    use crate::crypto::suite::HashAlgorithm;

    /// A fake group with a small order so the RFC 9180 §7.1.3 rejection loop really loops.
    struct SmallOrder;
    static SMALL: [u8; 32] = {
        let mut o = [0u8; 32];
        o[0] = 0x40; // accepts about one candidate in four
        o
    };
    impl DhGroup for SmallOrder {
        const KEM: KemAlgorithm = KemAlgorithm::DhKemP256;
        const ORDER: Option<&'static [u8]> = Some(&SMALL);
        const BITMASK: u8 = 0xff;
        fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
            Ok(sk.to_vec())
        }
        fn generate() -> Result<(Secret, Vec<u8>), CryptoError> {
            Err(CryptoError::Library("unused"))
        }
        fn check_public_key(_: &[u8]) -> Result<(), CryptoError> {
            Ok(())
        }
        fn dh(_: &[u8], _: &[u8]) -> Result<Secret, CryptoError> {
            Err(CryptoError::Library("unused"))
        }
    }

    /// An order nothing is below (except zero, which is also refused).
    struct NoKey;
    static ONE: [u8; 32] = {
        let mut o = [0u8; 32];
        o[31] = 1;
        o
    };
    impl DhGroup for NoKey {
        const KEM: KemAlgorithm = KemAlgorithm::DhKemP256;
        const ORDER: Option<&'static [u8]> = Some(&ONE);
        const BITMASK: u8 = 0xff;
        fn public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
            Ok(sk.to_vec())
        }
        fn generate() -> Result<(Secret, Vec<u8>), CryptoError> {
            Err(CryptoError::Library("unused"))
        }
        fn check_public_key(_: &[u8]) -> Result<(), CryptoError> {
            Ok(())
        }
        fn dh(_: &[u8], _: &[u8]) -> Result<Secret, CryptoError> {
            Err(CryptoError::Library("unused"))
        }
    }

    #[test]
    fn rejection_loop_takes_first_candidate_below_order() {
        let kem = DhKem::<SmallOrder>::new();
        let suite_id = b"KEM\x00\x10";
        let mut looped = false;
        for i in 0u8..20 {
            let ikm = [i; 32];
            let (sk, _) = kem.derive_key_pair(&ikm).unwrap();
            let prk = labeled_extract(HashAlgorithm::Sha256, suite_id, b"", b"dkp_prk", &ikm);
            let mut expected = None;
            for counter in 0u8..=255 {
                let c = labeled_expand(
                    HashAlgorithm::Sha256,
                    suite_id,
                    prk.as_bytes(),
                    b"candidate",
                    &[counter],
                    32,
                )
                .unwrap();
                if c.as_bytes()[0] < 0x40 {
                    looped |= counter > 0;
                    expected = Some(c);
                    break;
                }
            }
            assert_eq!(Some(sk), expected);
        }
        assert!(looped, "no ikm needed a second candidate");
        assert_eq!(
            DhKem::<NoKey>::new().derive_key_pair(b"x").unwrap_err(),
            CryptoError::DeriveKeyPairError
        );
    }
}
