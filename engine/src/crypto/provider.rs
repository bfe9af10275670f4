//! The provider seam: [`CryptoProvider`] hands out one [`CipherSuiteProvider`] per cipher suite,
//! and the engine calls cryptography only through these two traits.

use super::error::CryptoError;
use super::gcm_late_tail::LateTail;
use super::hpke::{Encapsulation, InfoStream, PreparedInfo};
use super::secret::Secret;
use super::suite::SuiteAlgorithms;
use super::{CipherSuite, HpkeCiphertext, HpkePublicKey, SignaturePublicKey};

/// One signature to verify: `Signature.Verify(public_key, message, signature)`, where
/// `message` is the full signed input (for MLS, an encoded `SignContent`, §5.1.2).
#[derive(Clone, Copy, Debug)]
pub struct SignatureCheck<'a> {
    /// The signer's public key.
    pub public_key: &'a [u8],
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}

/// A source of cipher-suite implementations.
pub trait CryptoProvider: Send + Sync {
    /// The implementation of `suite`, or [`CryptoError::UnsupportedCipherSuite`].
    fn suite(&self, suite: CipherSuite) -> Result<&dyn CipherSuiteProvider, CryptoError>;

    /// Every suite this provider implements.
    fn supported_suites(&self) -> Vec<CipherSuite>;
}

/// A signature being made over a message fed in order, in pieces of any size
/// ([`CipherSuiteProvider::begin_bound_signature`]).
pub trait BoundSignature: Send {
    /// The next bytes of the message.
    fn update(&mut self, piece: &[u8]);

    /// The signature, once every byte was fed; an error if the pieces do not add up to the
    /// length announced.
    fn finish(self: Box<Self>) -> Result<Vec<u8>, CryptoError>;
}

/// Every primitive of one MLS cipher suite (RFC 9420 §5.1): hash, MAC, KDF, AEAD, signature,
/// HPKE (RFC 9180) and randomness. Private keys are [`Secret`]s in their raw serialization:
/// HPKE keys as SerializePrivateKey (RFC 9180 §7.1.2), ECDSA keys as fixed-length big-endian
/// scalars, EdDSA keys as the RFC 8032 private key.
pub trait CipherSuiteProvider: Send + Sync {
    /// The suite implemented.
    fn cipher_suite(&self) -> CipherSuite;

    /// The suite's algorithms (and through them every size).
    fn algorithms(&self) -> SuiteAlgorithms;

    /// `KDF.Nh`: hash and KDF-Extract output size.
    fn hash_len(&self) -> usize {
        self.algorithms().hash.output_len()
    }

    /// `AEAD.Nk`.
    fn aead_key_len(&self) -> usize {
        self.algorithms().aead.key_len()
    }

    /// `AEAD.Nn`.
    fn aead_nonce_len(&self) -> usize {
        self.algorithms().aead.nonce_len()
    }

    /// `Hash(data)`.
    fn hash(&self, data: &[u8]) -> Vec<u8>;

    /// `Hash(parts[0] || parts[1] || ...)`: a large input hashed without being copied into
    /// one buffer. The default concatenates.
    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.hash(&parts.concat())
    }

    /// `Hash(data)` written to the front of `out`, returning its length (`KDF.Nh`): for
    /// callers that hash many small inputs (the tree hash) and keep each output in a fixed
    /// slot, so nothing is allocated per hash. The default copies [`Self::hash`]'s output;
    /// `None` if it is longer than 64 bytes.
    fn hash_into(&self, data: &[u8], out: &mut [u8; 64]) -> Option<usize> {
        let h = self.hash(data);
        out.get_mut(..h.len())?.copy_from_slice(&h);
        Some(h.len())
    }

    /// `MAC(key, data)`: HMAC with the suite's hash.
    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8>;

    /// Verifies in constant time a MAC tag over the concatenation of `data` (given in parts,
    /// so a large input need not be copied into one buffer); `InvalidMac` on mismatch.
    fn mac_verify(&self, key: &[u8], data: &[&[u8]], tag: &[u8]) -> Result<(), CryptoError>;

    /// `KDF.Extract(salt, ikm)`.
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret;

    /// `KDF.Expand(prk, info, len)`.
    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError>;

    /// AEAD encryption; the tag is appended to the ciphertext.
    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// AEAD encryption of `buf[from..]` in place: on success `buf` holds its first `from`
    /// bytes unchanged, then the ciphertext with the tag appended. For large plaintexts (a
    /// GroupInfo carrying the tree, built where the Welcome will carry it) this avoids a
    /// second buffer; the default goes through [`CipherSuiteProvider::aead_seal`].
    /// `InvalidLength` if `from > buf.len()`.
    fn aead_seal_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), CryptoError> {
        let plain = buf.get(from..).ok_or(CryptoError::InvalidLength {
            what: "AEAD in-place offset",
            expected: buf.len(),
            actual: from,
        })?;
        let sealed = self.aead_seal(key, nonce, aad, plain)?;
        buf.truncate(from);
        buf.extend_from_slice(&sealed);
        Ok(())
    }

    /// [`CipherSuiteProvider::aead_seal_in_place`] of a plaintext whose last `tail_len` bytes
    /// are not known yet: `buf[from..]` is sealed with those bytes taken as zeros, and
    /// [`LateTail::finish`] later puts them in, leaving the same ciphertext and tag as sealing
    /// the whole plaintext at once. `None` (the default, and for AEADs other than AES-GCM) when
    /// the provider cannot; the caller then seals once every byte is known.
    fn aead_seal_in_place_late_tail(
        &self,
        _key: &[u8],
        _nonce: &[u8],
        _aad: &[u8],
        _buf: &mut Vec<u8>,
        _from: usize,
        _tail_len: usize,
    ) -> Result<Option<LateTail>, CryptoError> {
        Ok(None)
    }

    /// AEAD decryption; `AeadOpenFailed` when the ciphertext, AAD, key or nonce do not match.
    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// AEAD decryption in place: `buf` holds ciphertext-with-tag and on success starts with the
    /// plaintext, whose length is returned. For a large ciphertext (a Welcome's GroupInfo
    /// carrying the tree) this avoids a second buffer; the default goes through
    /// [`CipherSuiteProvider::aead_open`].
    fn aead_open_in_place(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let plain = zeroize::Zeroizing::new(self.aead_open(key, nonce, aad, buf)?);
        let out = buf
            .get_mut(..plain.len())
            .ok_or(CryptoError::AeadOpenFailed)?;
        out.copy_from_slice(&plain);
        Ok(plain.len())
    }

    /// A fresh signature key pair.
    fn signature_generate(&self) -> Result<(Secret, SignaturePublicKey), CryptoError>;

    /// The public key of a signature private key.
    fn signature_public_key(&self, sk: &Secret) -> Result<SignaturePublicKey, CryptoError>;

    /// `Signature.Sign(sk, msg)`.
    fn sign(&self, sk: &Secret, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// [`CipherSuiteProvider::sign`] with `beside` run on another core of the rayon pool
    /// meanwhile (a GroupInfo is encrypted while it is signed). A signature whose first steps
    /// use every core (the hedged nonce of a large Ed25519 message, which hashes the
    /// message's two halves at once) takes them before `beside` starts, so that neither waits
    /// on the other's core. The default runs both under `rayon::join`.
    ///
    /// `binding`, when given, are parts of `msg` that determine it together with its length,
    /// among every message this key is asked to sign with a binding: the caller vouches for
    /// that (a GroupInfo's GroupContext carries the hash of the tree that fills the rest). A
    /// provider whose nonce is bound to the message may bind it to these instead of hashing
    /// the whole message; the signature is valid either way, and the default ignores them.
    fn sign_beside(
        &self,
        sk: &Secret,
        msg: &[u8],
        binding: Option<&[&[u8]]>,
        beside: &mut (dyn FnMut() + Send),
    ) -> Result<Vec<u8>, CryptoError> {
        let _ = binding;
        rayon::join(|| self.sign(sk, msg), beside).0
    }

    /// A signature over a message of `len` bytes given in pieces afterwards (a GroupInfo is
    /// hashed behind the writer of its tree), with the nonce bound to `binding` as
    /// [`CipherSuiteProvider::sign_beside`] describes: the caller vouches that those parts
    /// and the length determine the message. `None` when the suite signs only whole messages
    /// (the default); the caller then does.
    fn begin_bound_signature(
        &self,
        sk: &Secret,
        len: usize,
        binding: &[&[u8]],
    ) -> Result<Option<Box<dyn BoundSignature>>, CryptoError> {
        let _ = (sk, len, binding);
        Ok(None)
    }

    /// `Signature.Verify(pk, msg, sig)`; `InvalidSignature` when it does not verify.
    fn verify(&self, pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError>;

    /// [`CipherSuiteProvider::verify`] of a message given as the concatenation of `parts`
    /// (a received commit's bytes and the GroupContext, say), with the same verdict. The
    /// default joins the parts; a suite that can hash them where they lie (Ed25519) does, so a
    /// large message is not copied.
    fn verify_parts(&self, pk: &[u8], parts: &[&[u8]], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify(pk, &parts.concat(), sig)
    }

    /// Verifies many signatures at once. `Ok(true)` only if every check verifies; `Ok(false)`
    /// when at least one may not, and the caller then decides each with
    /// [`CipherSuiteProvider::verify`], which is authoritative. Suites with a batch verifier
    /// (Ed25519) are faster here than one `verify` per check; the default is one `verify` each.
    fn verify_batch(&self, checks: &[SignatureCheck<'_>]) -> Result<bool, CryptoError> {
        Ok(checks
            .iter()
            .all(|c| self.verify(c.public_key, c.message, c.signature).is_ok()))
    }

    /// A fresh HPKE key pair (`GenerateKeyPair`).
    fn kem_generate(&self) -> Result<(Secret, HpkePublicKey), CryptoError>;

    /// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3).
    fn kem_derive(&self, ikm: &[u8]) -> Result<(Secret, HpkePublicKey), CryptoError>;

    /// The public key of an HPKE private key.
    fn kem_public_key(&self, sk: &Secret) -> Result<HpkePublicKey, CryptoError>;

    /// Checks a received HPKE public key (an init key, a leaf's or a parent node's encryption
    /// key) without using it: a key that encrypting to would fail (wrong length, not a point,
    /// small order) is refused with [`CryptoError::InvalidPublicKey`] or
    /// [`CryptoError::InvalidLength`]. Cheap: no scalar multiplication.
    fn kem_check_public_key(&self, pk: &[u8]) -> Result<(), CryptoError>;

    /// Prepares the recipient-independent part of the HPKE key schedule (RFC 9180 §5.1:
    /// `psk_id_hash`, `info_hash`, `key_schedule_context`) for `info`, in base mode (`psk` is
    /// `None`) or PSK mode (`Some((psk, psk_id))`). Reuse it to seal to many recipients.
    fn hpke_prepare(
        &self,
        info: &[u8],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError>;

    /// [`CipherSuiteProvider::hpke_prepare`] with `info` given as the concatenation of
    /// `info_parts` (a large `info` need not be copied into one buffer). The default
    /// concatenates them.
    fn hpke_prepare_parts(
        &self,
        info_parts: &[&[u8]],
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        self.hpke_prepare(&info_parts.concat(), psk)
    }

    /// An HPKE `info` to be given piece by piece and finished by
    /// [`CipherSuiteProvider::hpke_prepare_stream`]: a large `info` whose pieces are ready at
    /// different times is hashed as they come. The default keeps the pieces.
    fn hpke_info_stream(&self) -> InfoStream {
        InfoStream::buffered()
    }

    /// [`CipherSuiteProvider::hpke_prepare`] with the `info` given to `info`, a stream from
    /// [`CipherSuiteProvider::hpke_info_stream`] of this provider. The default takes a kept
    /// `info` (`SuiteMismatch` for a stream that hashed its pieces, which it cannot finish).
    fn hpke_prepare_stream(
        &self,
        info: InfoStream,
        psk: Option<(&[u8], &[u8])>,
    ) -> Result<PreparedInfo, CryptoError> {
        let info = info.into_buffered().ok_or(CryptoError::SuiteMismatch)?;
        self.hpke_prepare(&info, psk)
    }

    /// Single-shot HPKE seal (RFC 9180 §6.1) with a prepared info.
    fn hpke_seal_prepared(
        &self,
        prepared: &PreparedInfo,
        pk: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError>;

    /// `Encap(pk)` (RFC 9180 §4), the KEM half of a single-shot seal, made before the `info`
    /// is known; finish it with [`CipherSuiteProvider::hpke_seal_encapsulated`].
    fn hpke_encap(&self, pk: &[u8]) -> Result<Encapsulation, CryptoError>;

    /// Single-shot HPKE seal (RFC 9180 §6.1) with a prepared info to the recipient
    /// `encapsulation` was made for (by [`CipherSuiteProvider::hpke_encap`] of this suite).
    fn hpke_seal_encapsulated(
        &self,
        prepared: &PreparedInfo,
        encapsulation: Encapsulation,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError>;

    /// Single-shot HPKE open (RFC 9180 §6.1) with a prepared info.
    fn hpke_open_prepared(
        &self,
        prepared: &PreparedInfo,
        ct: &HpkeCiphertext,
        sk: &Secret,
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// `SealBase(pk, info, aad, pt)`.
    fn hpke_seal_base(
        &self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let prepared = self.hpke_prepare(info, None)?;
        self.hpke_seal_prepared(&prepared, pk, aad, plaintext)
    }

    /// `OpenBase(enc, sk, info, aad, ct)`.
    fn hpke_open_base(
        &self,
        ct: &HpkeCiphertext,
        sk: &Secret,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let prepared = self.hpke_prepare(info, None)?;
        self.hpke_open_prepared(&prepared, ct, sk, aad)
    }

    /// `SealPSK(pk, info, aad, pt, psk, psk_id)`.
    fn hpke_seal_psk(
        &self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        psk: &[u8],
        psk_id: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let prepared = self.hpke_prepare(info, Some((psk, psk_id)))?;
        self.hpke_seal_prepared(&prepared, pk, aad, plaintext)
    }

    /// `OpenPSK(enc, sk, info, aad, ct, psk, psk_id)`.
    fn hpke_open_psk(
        &self,
        ct: &HpkeCiphertext,
        sk: &Secret,
        info: &[u8],
        aad: &[u8],
        psk: &[u8],
        psk_id: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let prepared = self.hpke_prepare(info, Some((psk, psk_id)))?;
        self.hpke_open_prepared(&prepared, ct, sk, aad)
    }

    /// `SealBase` of one plaintext to many recipients, hashing `info` once. Sequential; callers
    /// wanting parallelism can share one [`PreparedInfo`] across threads instead.
    fn hpke_seal_base_many(
        &self,
        pks: &[HpkePublicKey],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<HpkeCiphertext>, CryptoError> {
        let prepared = self.hpke_prepare(info, None)?;
        pks.iter()
            .map(|pk| self.hpke_seal_prepared(&prepared, pk, aad, plaintext))
            .collect()
    }

    /// `SetupBaseS(pk, info)` then `Export(exporter_context, len)`: returns `(enc, secret)`
    /// (RFC 9420 §8.3 external init).
    fn hpke_export_sender(
        &self,
        pk: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError>;

    /// `SetupBaseR(enc, sk, info)` then `Export(exporter_context, len)`.
    fn hpke_export_receiver(
        &self,
        enc: &[u8],
        sk: &Secret,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError>;

    /// Fills `out` with random bytes from the operating system.
    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError>;

    /// `len` random bytes.
    fn random_vec(&self, len: usize) -> Result<Vec<u8>, CryptoError> {
        let mut v = vec![0; len];
        self.random_bytes(&mut v)?;
        Ok(v)
    }
}
