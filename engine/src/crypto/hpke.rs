//! HPKE (RFC 9180) on aws-lc-rs primitives: the labelled KDF, the key schedule, base and PSK
//! modes, single-shot seal/open, encryption contexts and the secret export. The KEM is any
//! [`Kem`]; nothing here assumes Diffie-Hellman.
//!
//! The recipient-independent part of the key schedule (`psk_id_hash`, `info_hash`,
//! `key_schedule_context`) can be computed once as a [`PreparedInfo`] and reused for any number
//! of recipients.

use super::aws_lc::{aead_open, aead_seal, hkdf_expand, hkdf_extract, HmacStream};
use super::error::CryptoError;
use super::kem::Kem;
use super::secret::Secret;
use super::suite::{AeadAlgorithm, HashAlgorithm};
use super::HpkeCiphertext;

/// The RFC 9180 §4 version label.
const HPKE_V1: &[u8] = b"HPKE-v1";

/// `LabeledExtract(salt, label, ikm)` (RFC 9180 §4).
pub(crate) fn labeled_extract(
    kdf: HashAlgorithm,
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Secret {
    hkdf_extract(kdf, salt, &[HPKE_V1, suite_id, label, ikm])
}

/// `LabeledExpand(prk, label, info, L)` (RFC 9180 §4).
pub(crate) fn labeled_expand(
    kdf: HashAlgorithm,
    suite_id: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    // I2OSP(L, 2): L must fit in two bytes.
    let l = u16::try_from(len).map_err(|_| CryptoError::KdfOutputTooLong(len))?;
    hkdf_expand(
        kdf,
        prk,
        &[&l.to_be_bytes(), HPKE_V1, suite_id, label, info],
        len,
    )
}

/// The HPKE mode and its PSK inputs (RFC 9180 §5). Auth modes are not needed by MLS.
#[derive(Clone, Debug)]
pub enum HpkeMode {
    /// `mode_base` (0x00).
    Base,
    /// `mode_psk` (0x01) with the PSK and its identifier; both must be non-empty.
    Psk {
        /// The pre-shared key.
        psk: Secret,
        /// The PSK identifier.
        psk_id: Vec<u8>,
    },
}

impl HpkeMode {
    fn id(&self) -> u8 {
        match self {
            HpkeMode::Base => 0x00,
            HpkeMode::Psk { .. } => 0x01,
        }
    }
}

/// The recipient-independent part of the HPKE key schedule for one `(mode, psk, info)`:
/// computed once by [`Hpke::prepare`], then reused for any number of recipients.
#[derive(Clone, Debug)]
pub struct PreparedInfo {
    /// The HPKE suite it was prepared for.
    suite_id: [u8; 10],
    /// The PSK (empty in base mode, RFC 9180 §5.1 `default_psk`).
    psk: Secret,
    /// `mode || psk_id_hash || info_hash`.
    key_schedule_context: Vec<u8>,
}

impl PreparedInfo {
    /// `mode || psk_id_hash || info_hash` (the tests compare preparations by it).
    #[cfg(test)]
    pub(crate) fn key_schedule_context(&self) -> &[u8] {
        &self.key_schedule_context
    }
}

/// An HPKE `info` given piece by piece, for an `info` whose last bytes are known later than
/// the rest (a Welcome's: its encrypted GroupInfo ends with a tag computed last). Made by
/// [`Hpke::info_stream`], which hashes each piece as it comes (`info_hash`, RFC 9180 §5.1), or
/// by [`InfoStream::buffered`], which keeps the pieces (for providers that cannot hash them
/// as they come). Finished by `hpke_prepare_stream` of the provider that made it.
pub struct InfoStream(InfoStreamInner);

enum InfoStreamInner {
    /// The pieces, kept.
    Buffered(Vec<u8>),
    /// `LabeledExtract("", "info_hash", info)` under way, for one HPKE suite.
    Hashing {
        suite_id: [u8; 10],
        mac: Box<HmacStream>,
    },
}

impl std::fmt::Debug for InfoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            InfoStreamInner::Buffered(b) => write!(f, "InfoStream::Buffered({} bytes)", b.len()),
            InfoStreamInner::Hashing { suite_id, .. } => {
                write!(f, "InfoStream::Hashing({suite_id:02x?})")
            }
        }
    }
}

impl InfoStream {
    /// A stream that keeps its pieces.
    pub fn buffered() -> Self {
        Self(InfoStreamInner::Buffered(Vec::new()))
    }

    /// Adds `piece` to the `info`.
    pub fn update(&mut self, piece: &[u8]) {
        match &mut self.0 {
            InfoStreamInner::Buffered(b) => b.extend_from_slice(piece),
            InfoStreamInner::Hashing { mac, .. } => mac.update(piece),
        }
    }

    /// The `info` given, if the stream kept it (`None` for a hashing stream).
    pub fn into_buffered(self) -> Option<Vec<u8>> {
        match self.0 {
            InfoStreamInner::Buffered(b) => Some(b),
            InfoStreamInner::Hashing { .. } => None,
        }
    }
}

/// The KEM half of a sender's setup, `(shared_secret, enc) = Encap(pkR)` (RFC 9180 §5.1.1),
/// made ahead of the key schedule: it depends on the recipient's public key alone, so a
/// sender can make it before the `info` is known (a Welcome's `info` is its encrypted
/// GroupInfo, known only once the commit is signed). [`Hpke::seal_encapsulated`] consumes it:
/// one encapsulation seals one message. The shared secret is zeroized on drop.
pub struct Encapsulation {
    /// The HPKE suite it was made for.
    suite_id: [u8; 10],
    /// `shared_secret`.
    shared_secret: Secret,
    /// `enc`, the KEM output the recipient decapsulates.
    enc: Vec<u8>,
}

impl std::fmt::Debug for Encapsulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encapsulation")
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

impl Encapsulation {
    /// `enc`, the KEM output the recipient decapsulates.
    pub fn enc(&self) -> &[u8] {
        &self.enc
    }
}

/// An HPKE instance: one KEM, KDF and AEAD (RFC 9180 §5).
pub struct Hpke {
    kem: Box<dyn Kem>,
    kdf: HashAlgorithm,
    aead: AeadAlgorithm,
    /// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`.
    suite_id: [u8; 10],
}

impl std::fmt::Debug for Hpke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hpke")
            .field("kem", &self.kem.algorithm())
            .field("kdf", &self.kdf)
            .field("aead", &self.aead)
            .finish()
    }
}

impl Hpke {
    /// HPKE with the given KEM, KDF and AEAD.
    pub fn new(kem: Box<dyn Kem>, kdf: HashAlgorithm, aead: AeadAlgorithm) -> Self {
        let k = kem.id().to_be_bytes();
        let d = kdf.hpke_kdf_id().to_be_bytes();
        let a = aead.hpke_aead_id().to_be_bytes();
        let suite_id = [b'H', b'P', b'K', b'E', k[0], k[1], d[0], d[1], a[0], a[1]];
        Self {
            kem,
            kdf,
            aead,
            suite_id,
        }
    }

    /// The KEM.
    pub fn kem(&self) -> &dyn Kem {
        self.kem.as_ref()
    }

    /// The KDF.
    pub fn kdf(&self) -> HashAlgorithm {
        self.kdf
    }

    /// The AEAD.
    pub fn aead(&self) -> AeadAlgorithm {
        self.aead
    }

    /// The first half of `KeySchedule` (RFC 9180 §5.1): `VerifyPSKInputs`, `psk_id_hash`,
    /// `info_hash` and `key_schedule_context`, none of which depend on the recipient.
    pub fn prepare(&self, mode: HpkeMode, info: &[u8]) -> Result<PreparedInfo, CryptoError> {
        self.prepare_parts(mode, &[info])
    }

    /// [`Hpke::prepare`] with `info` given as the concatenation of `info_parts`, so a large
    /// `info` (an EncryptContext carrying an encrypted GroupInfo) is hashed without being
    /// assembled in one buffer.
    pub fn prepare_parts(
        &self,
        mode: HpkeMode,
        info_parts: &[&[u8]],
    ) -> Result<PreparedInfo, CryptoError> {
        let mut info = self.info_stream();
        for part in info_parts {
            info.update(part);
        }
        self.prepare_stream(mode, info)
    }

    /// A stream that hashes an `info` as it is given, for [`Hpke::prepare_stream`].
    pub fn info_stream(&self) -> InfoStream {
        let mut mac = HmacStream::new(self.kdf, b"");
        for piece in [HPKE_V1, &self.suite_id, b"info_hash"] {
            mac.update(piece);
        }
        InfoStream(InfoStreamInner::Hashing {
            suite_id: self.suite_id,
            mac: Box::new(mac),
        })
    }

    /// [`Hpke::prepare`] with the `info` given to `info` (hashed as it came, or kept);
    /// `SuiteMismatch` if another HPKE suite started hashing it.
    pub fn prepare_stream(
        &self,
        mode: HpkeMode,
        info: InfoStream,
    ) -> Result<PreparedInfo, CryptoError> {
        let info_hash = match info.0 {
            InfoStreamInner::Hashing { suite_id, mac } if suite_id == self.suite_id => mac.finish(),
            InfoStreamInner::Hashing { .. } => return Err(CryptoError::SuiteMismatch),
            InfoStreamInner::Buffered(info) => hkdf_extract(
                self.kdf,
                b"",
                &[HPKE_V1, &self.suite_id, b"info_hash", &info],
            ),
        };
        let mode_id = mode.id();
        let (psk, psk_id) = match mode {
            HpkeMode::Base => (Secret::default(), Vec::new()),
            HpkeMode::Psk { psk, psk_id } => {
                // VerifyPSKInputs: in PSK mode both the PSK and its id must be given.
                if psk.is_empty() || psk_id.is_empty() {
                    return Err(CryptoError::InconsistentPsk);
                }
                (psk, psk_id)
            }
        };
        let psk_id_hash = labeled_extract(self.kdf, &self.suite_id, b"", b"psk_id_hash", &psk_id);
        let mut key_schedule_context = Vec::with_capacity(1 + 2 * self.kdf.output_len());
        key_schedule_context.push(mode_id);
        key_schedule_context.extend_from_slice(psk_id_hash.as_bytes());
        key_schedule_context.extend_from_slice(info_hash.as_bytes());
        Ok(PreparedInfo {
            suite_id: self.suite_id,
            psk,
            key_schedule_context,
        })
    }

    /// The second half of `KeySchedule` (RFC 9180 §5.1). The exporter secret is derived only
    /// when asked for (single-shot seal/open never use it).
    fn key_schedule(
        &self,
        prepared: &PreparedInfo,
        shared_secret: &Secret,
        with_exporter: bool,
    ) -> Result<Context, CryptoError> {
        if prepared.suite_id != self.suite_id {
            return Err(CryptoError::SuiteMismatch);
        }
        let ksc = &prepared.key_schedule_context;
        let secret = labeled_extract(
            self.kdf,
            &self.suite_id,
            shared_secret.as_bytes(),
            b"secret",
            prepared.psk.as_bytes(),
        );
        let expand = |label: &[u8], len| {
            labeled_expand(self.kdf, &self.suite_id, secret.as_bytes(), label, ksc, len)
        };
        let key = expand(b"key", self.aead.key_len())?;
        let base_nonce = expand(b"base_nonce", self.aead.nonce_len())?;
        let exporter_secret = if with_exporter {
            Some(expand(b"exp", self.kdf.output_len())?)
        } else {
            None
        };
        Ok(Context {
            kdf: self.kdf,
            aead: self.aead,
            suite_id: self.suite_id,
            key,
            base_nonce,
            exporter_secret,
            seq: 0,
        })
    }

    /// `SetupBaseS` / `SetupPSKS` with a prepared info: `(enc, context)`.
    pub fn setup_sender_prepared(
        &self,
        prepared: &PreparedInfo,
        pk: &[u8],
    ) -> Result<(Vec<u8>, Context), CryptoError> {
        let (shared_secret, enc) = self.kem.encap(pk)?;
        Ok((enc, self.key_schedule(prepared, &shared_secret, true)?))
    }

    /// `SetupBaseR` / `SetupPSKR` with a prepared info.
    pub fn setup_receiver_prepared(
        &self,
        prepared: &PreparedInfo,
        enc: &[u8],
        sk: &[u8],
    ) -> Result<Context, CryptoError> {
        let shared_secret = self.kem.decap(enc, sk)?;
        self.key_schedule(prepared, &shared_secret, true)
    }

    /// `SetupBaseS` / `SetupPSKS` (RFC 9180 §5.1.1, §5.1.2): `(enc, context)`.
    pub fn setup_sender(
        &self,
        mode: &HpkeMode,
        pk: &[u8],
        info: &[u8],
    ) -> Result<(Vec<u8>, Context), CryptoError> {
        let prepared = self.prepare(mode.clone(), info)?;
        self.setup_sender_prepared(&prepared, pk)
    }

    /// `SetupBaseR` / `SetupPSKR` (RFC 9180 §5.1.1, §5.1.2).
    pub fn setup_receiver(
        &self,
        mode: &HpkeMode,
        enc: &[u8],
        sk: &[u8],
        info: &[u8],
    ) -> Result<Context, CryptoError> {
        let prepared = self.prepare(mode.clone(), info)?;
        self.setup_receiver_prepared(&prepared, enc, sk)
    }

    /// Single-shot `Seal` (RFC 9180 §6.1) with a prepared info.
    pub fn seal_prepared(
        &self,
        prepared: &PreparedInfo,
        pk: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        self.seal_encapsulated(prepared, self.encap(pk)?, aad, plaintext)
    }

    /// `Encap(pkR)` for a later [`Hpke::seal_encapsulated`]: the recipient-dependent half of
    /// a single-shot seal, which needs no `info`.
    pub fn encap(&self, pk: &[u8]) -> Result<Encapsulation, CryptoError> {
        let (shared_secret, enc) = self.kem.encap(pk)?;
        Ok(Encapsulation {
            suite_id: self.suite_id,
            shared_secret,
            enc,
        })
    }

    /// Single-shot `Seal` (RFC 9180 §6.1) to the recipient `encapsulation` was made for: the
    /// key schedule with the prepared info, then the AEAD. The same ciphertext as
    /// [`Hpke::seal_prepared`] with the same KEM randomness.
    pub fn seal_encapsulated(
        &self,
        prepared: &PreparedInfo,
        encapsulation: Encapsulation,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        if encapsulation.suite_id != self.suite_id {
            return Err(CryptoError::SuiteMismatch);
        }
        let mut ctx = self.key_schedule(prepared, &encapsulation.shared_secret, false)?;
        let ciphertext = ctx.seal(aad, plaintext)?;
        Ok(HpkeCiphertext {
            kem_output: encapsulation.enc.into(),
            ciphertext: ciphertext.into(),
        })
    }

    /// Single-shot `Open` (RFC 9180 §6.1) with a prepared info.
    pub fn open_prepared(
        &self,
        prepared: &PreparedInfo,
        enc: &[u8],
        sk: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let shared_secret = self.kem.decap(enc, sk)?;
        let mut ctx = self.key_schedule(prepared, &shared_secret, false)?;
        ctx.open(aad, ciphertext)
    }

    /// `SealBase(pkR, info, aad, pt)`.
    pub fn seal_base(
        &self,
        pk: &[u8],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let prepared = self.prepare(HpkeMode::Base, info)?;
        self.seal_prepared(&prepared, pk, aad, plaintext)
    }

    /// `OpenBase(enc, skR, info, aad, ct)`.
    pub fn open_base(
        &self,
        enc: &[u8],
        sk: &[u8],
        info: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let prepared = self.prepare(HpkeMode::Base, info)?;
        self.open_prepared(&prepared, enc, sk, aad, ciphertext)
    }

    /// `SealBase` of one plaintext to many recipients, with `info` hashed once.
    pub fn seal_base_many(
        &self,
        pks: &[&[u8]],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<HpkeCiphertext>, CryptoError> {
        let prepared = self.prepare(HpkeMode::Base, info)?;
        pks.iter()
            .map(|pk| self.seal_prepared(&prepared, pk, aad, plaintext))
            .collect()
    }
}

/// An HPKE encryption context (RFC 9180 §5.2), for a sender or a recipient.
pub struct Context {
    kdf: HashAlgorithm,
    aead: AeadAlgorithm,
    suite_id: [u8; 10],
    key: Secret,
    base_nonce: Secret,
    exporter_secret: Option<Secret>,
    seq: u64,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("aead", &self.aead)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// `ComputeNonce(seq)`: `base_nonce XOR I2OSP(seq, Nn)`.
    fn nonce(&self) -> Vec<u8> {
        let mut nonce = self.base_nonce.as_bytes().to_vec();
        let seq = self.seq.to_be_bytes();
        let offset = nonce.len().saturating_sub(seq.len());
        for (n, s) in nonce[offset..].iter_mut().zip(seq.iter()) {
            *n ^= s;
        }
        nonce
    }

    /// `IncrementSeq()`: an error once the sequence number would overflow.
    fn increment(&mut self) -> Result<(), CryptoError> {
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or(CryptoError::MessageLimitReached)?;
        Ok(())
    }

    /// `ContextS.Seal(aad, pt)`.
    pub fn seal(&mut self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let ct = aead_seal(
            self.aead,
            self.key.as_bytes(),
            &self.nonce(),
            aad,
            plaintext,
        )?;
        self.increment()?;
        Ok(ct)
    }

    /// `ContextR.Open(aad, ct)`.
    pub fn open(&mut self, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let pt = aead_open(
            self.aead,
            self.key.as_bytes(),
            &self.nonce(),
            aad,
            ciphertext,
        )?;
        self.increment()?;
        Ok(pt)
    }

    /// `Context.Export(exporter_context, L)` (RFC 9180 §5.3).
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Result<Secret, CryptoError> {
        let exporter_secret = self
            .exporter_secret
            .as_ref()
            .ok_or(CryptoError::Library("context without exporter secret"))?;
        labeled_expand(
            self.kdf,
            &self.suite_id,
            exporter_secret.as_bytes(),
            b"sec",
            exporter_context,
            len,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{
        AwsLcProvider, AwsLcSuite, CipherSuite, CipherSuiteProvider, CryptoProvider,
    };

    fn suites() -> Vec<&'static dyn CipherSuiteProvider> {
        let provider: &'static AwsLcProvider = Box::leak(Box::new(AwsLcProvider::new()));
        CipherSuite::ALL
            .iter()
            .map(|cs| provider.suite(*cs).unwrap())
            .collect()
    }

    #[test]
    fn base_round_trip_every_suite() {
        for cs in suites() {
            let (sk, pk) = cs.kem_generate().unwrap();
            let ct = cs.hpke_seal_base(&pk, b"info", b"aad", b"hello").unwrap();
            assert_eq!(ct.kem_output.len(), cs.algorithms().kem.enc_len());
            assert_eq!(ct.ciphertext.len(), 5 + 16);
            let pt = cs.hpke_open_base(&ct, &sk, b"info", b"aad").unwrap();
            assert_eq!(pt, b"hello", "{:?}", cs.cipher_suite());
        }
    }

    #[test]
    fn psk_round_trip_every_suite() {
        for cs in suites() {
            let (sk, pk) = cs.kem_generate().unwrap();
            let psk = [7u8; 32];
            let ct = cs
                .hpke_seal_psk(&pk, b"info", b"aad", b"pt", &psk, b"id")
                .unwrap();
            let pt = cs
                .hpke_open_psk(&ct, &sk, b"info", b"aad", &psk, b"id")
                .unwrap();
            assert_eq!(pt, b"pt");
            // Wrong PSK, wrong id, or base mode must all fail.
            assert_eq!(
                cs.hpke_open_psk(&ct, &sk, b"info", b"aad", &[8u8; 32], b"id"),
                Err(CryptoError::AeadOpenFailed)
            );
            assert!(cs
                .hpke_open_psk(&ct, &sk, b"info", b"aad", &psk, b"other")
                .is_err());
            assert!(cs.hpke_open_base(&ct, &sk, b"info", b"aad").is_err());
        }
    }

    #[test]
    fn psk_inputs_must_be_consistent() {
        let cs = suites()[0];
        let (_, pk) = cs.kem_generate().unwrap();
        assert_eq!(
            cs.hpke_seal_psk(&pk, b"", b"", b"", b"", b"id")
                .unwrap_err(),
            CryptoError::InconsistentPsk
        );
        assert_eq!(
            cs.hpke_seal_psk(&pk, b"", b"", b"", b"psk", b"")
                .unwrap_err(),
            CryptoError::InconsistentPsk
        );
    }

    #[test]
    fn export_matches_every_suite() {
        for cs in suites() {
            let (sk, pk) = cs.kem_generate().unwrap();
            let (enc, s1) = cs.hpke_export_sender(&pk, b"info", b"ctx", 40).unwrap();
            let s2 = cs
                .hpke_export_receiver(&enc, &sk, b"info", b"ctx", 40)
                .unwrap();
            assert_eq!(s1, s2);
            assert_eq!(s1.len(), 40);
            let s3 = cs
                .hpke_export_receiver(&enc, &sk, b"info", b"other", 40)
                .unwrap();
            assert_ne!(s1, s3);
        }
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        for cs in suites() {
            let (sk, pk) = cs.kem_generate().unwrap();
            let (other_sk, _) = cs.kem_generate().unwrap();
            let ct = cs.hpke_seal_base(&pk, b"info", b"aad", b"secret").unwrap();
            assert!(cs.hpke_open_base(&ct, &other_sk, b"info", b"aad").is_err());
            assert!(cs.hpke_open_base(&ct, &sk, b"info2", b"aad").is_err());
            assert!(cs.hpke_open_base(&ct, &sk, b"info", b"aad2").is_err());
            let mut bad = ct.clone();
            bad.ciphertext.0[0] ^= 1;
            assert_eq!(
                cs.hpke_open_base(&bad, &sk, b"info", b"aad"),
                Err(CryptoError::AeadOpenFailed)
            );
            let mut bad = ct.clone();
            let last = bad.kem_output.len() - 1;
            bad.kem_output.0[last] ^= 1;
            assert!(cs.hpke_open_base(&bad, &sk, b"info", b"aad").is_err());
            let mut bad = ct.clone();
            bad.kem_output.0.pop();
            assert!(matches!(
                cs.hpke_open_base(&bad, &sk, b"info", b"aad"),
                Err(CryptoError::InvalidLength { .. })
            ));
            let mut bad = ct;
            bad.ciphertext.0.truncate(3);
            assert_eq!(
                cs.hpke_open_base(&bad, &sk, b"info", b"aad"),
                Err(CryptoError::AeadOpenFailed)
            );
            let short_pk = crate::crypto::HpkePublicKey(vec![4u8; 3].into());
            assert!(cs.hpke_seal_base(&short_pk, b"", b"", b"").is_err());
            let short_sk = Secret::from_slice(&[1, 2, 3]);
            let ct = cs.hpke_seal_base(&pk, b"", b"", b"").unwrap();
            assert!(cs.hpke_open_base(&ct, &short_sk, b"", b"").is_err());
        }
    }

    #[test]
    fn seal_many_with_prepared_info() {
        for cs in suites() {
            let keys: Vec<_> = (0..5).map(|_| cs.kem_generate().unwrap()).collect();
            let pks: Vec<_> = keys.iter().map(|(_, pk)| pk.clone()).collect();
            let cts = cs
                .hpke_seal_base_many(&pks, b"shared info", b"aad", b"group secret")
                .unwrap();
            assert_eq!(cts.len(), 5);
            for ((sk, _), ct) in keys.iter().zip(&cts) {
                let pt = cs.hpke_open_base(ct, sk, b"shared info", b"aad").unwrap();
                assert_eq!(pt, b"group secret");
            }
            // A prepared info reused across different plaintexts.
            let prepared = cs.hpke_prepare(b"shared info", None).unwrap();
            for (i, (sk, pk)) in keys.iter().enumerate() {
                let pt = vec![u8::try_from(i).unwrap(); 10];
                let ct = cs.hpke_seal_prepared(&prepared, pk, b"", &pt).unwrap();
                assert_eq!(cs.hpke_open_prepared(&prepared, &ct, sk, b"").unwrap(), pt);
            }
        }
    }

    #[test]
    fn info_in_parts_is_the_same_info() {
        let info: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        for cs in suites() {
            let whole = cs.hpke_prepare(&info, None).unwrap();
            let (sk, pk) = cs.kem_generate().unwrap();
            for cut in [0, 1, 17, 1500, 2999, 3000] {
                let (a, b) = info.split_at(cut);
                let parts = cs.hpke_prepare_parts(&[a, b], None).unwrap();
                assert_eq!(parts.key_schedule_context, whole.key_schedule_context);
                let ct = cs.hpke_seal_prepared(&parts, &pk, b"", b"secret").unwrap();
                assert_eq!(
                    cs.hpke_open_prepared(&whole, &ct, &sk, b"").unwrap(),
                    b"secret"
                );
            }
            // A different split point of different bytes is a different info.
            let mut other = info.clone();
            other[1500] ^= 1;
            let (a, b) = other.split_at(1500);
            let parts = cs.hpke_prepare_parts(&[a, b], None).unwrap();
            assert_ne!(parts.key_schedule_context, whole.key_schedule_context);
        }
    }

    #[test]
    fn encapsulation_is_bound_to_its_suite_and_recipient() {
        let s = suites();
        for cs in &s {
            let (sk, pk) = cs.kem_generate().unwrap();
            let (other_sk, _) = cs.kem_generate().unwrap();
            let prepared = cs.hpke_prepare(b"info", None).unwrap();
            let ct = cs
                .hpke_seal_encapsulated(&prepared, cs.hpke_encap(&pk).unwrap(), b"", b"pt")
                .unwrap();
            assert_eq!(
                cs.hpke_open_prepared(&prepared, &ct, &sk, b"").unwrap(),
                b"pt"
            );
            assert!(cs
                .hpke_open_prepared(&prepared, &ct, &other_sk, b"")
                .is_err());
        }
        // Suite 1's encapsulation (X25519) with suite 3's key schedule (also X25519, but
        // ChaCha20-Poly1305) is refused, not sealed.
        let (_, pk) = s[0].kem_generate().unwrap();
        let encapsulation = s[0].hpke_encap(&pk).unwrap();
        let prepared = s[2].hpke_prepare(b"info", None).unwrap();
        assert_eq!(
            s[2].hpke_seal_encapsulated(&prepared, encapsulation, b"", b"")
                .unwrap_err(),
            CryptoError::SuiteMismatch
        );
    }

    #[test]
    fn prepared_info_is_bound_to_its_suite() {
        let s = suites();
        let prepared = s[0].hpke_prepare(b"info", None).unwrap();
        let (_, pk) = s[6].kem_generate().unwrap();
        assert_eq!(
            s[6].hpke_seal_prepared(&prepared, &pk, b"", b"")
                .unwrap_err(),
            CryptoError::SuiteMismatch
        );
    }

    #[test]
    fn multi_message_context() {
        let suite = AwsLcSuite::new(CipherSuite(1)).unwrap();
        let hpke = suite.hpke();
        let (sk, pk) = hpke.kem().generate_key_pair().unwrap();
        let (enc, mut s) = hpke.setup_sender(&HpkeMode::Base, &pk, b"i").unwrap();
        let mut r = hpke
            .setup_receiver(&HpkeMode::Base, &enc, sk.as_bytes(), b"i")
            .unwrap();
        let c0 = s.seal(b"", b"zero").unwrap();
        let c1 = s.seal(b"", b"one").unwrap();
        assert_eq!(r.open(b"", &c0).unwrap(), b"zero");
        assert_eq!(r.open(b"", &c1).unwrap(), b"one");
        // Replaying c0 at sequence 2 fails: the nonce moved on.
        assert!(r.open(b"", &c0).is_err());
        assert_eq!(s.export(b"e", 32).unwrap(), r.export(b"e", 32).unwrap());
    }
}
