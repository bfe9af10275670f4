//! The key schedule (RFC 9420 §8): from one epoch's `init_secret` and the commit's
//! `commit_secret` to every secret of the next epoch, the exporter (§8.5) and external
//! initialisation (§8.3).
//!
//! This module owns the derivation chain
//!
//! ```text
//! init_secret ─Extract(commit_secret)─ExpandWithLabel("joiner", GroupContext)─► joiner_secret
//! joiner_secret ─Extract(psk_secret)─► member secret ─┬─DeriveSecret("welcome")─► welcome_secret
//!                                                     └─ExpandWithLabel("epoch", GroupContext)─► epoch_secret
//! epoch_secret ─DeriveSecret(label)─► sender data, encryption, exporter, external, confirm,
//!                                     membership, resumption, authentication, init
//! ```
//!
//! Invariants:
//! - Each stage is its own type ([`InitSecret`], [`JoinerSecret`], [`MemberSecret`],
//!   [`WelcomeSecret`], [`EpochSecret`], [`EpochSecrets`]); a stage can only be built from the
//!   one before it (or from bytes a joiner received, explicitly), so no secret is used before it
//!   exists.
//! - Stages that must not outlive their use are consumed by value (`init_secret` and
//!   `epoch_secret`); every secret is held in the zeroizing [`Secret`] and never printed.
//! - The GroupContext is passed already encoded, exactly the bytes the RFC's `GroupContext_[n]`
//!   denotes.

use crate::crypto::labels::{derive_secret, expand_with_label};
use crate::crypto::{CipherSuiteProvider, CryptoError, HpkePublicKey, Secret};

/// `init_secret`: the secret an epoch hands to the next (RFC 9420 §8), or the random / external
/// init secret of a group's first epoch (§8, §8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSecret(Secret);

impl InitSecret {
    /// Wraps an `init_secret` (the previous epoch's, or a fresh random one for epoch 0).
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }

    /// A fresh random `init_secret` of `KDF.Nh` bytes, for a new group (§8).
    pub fn random(cs: &dyn CipherSuiteProvider) -> Result<Self, CryptoError> {
        let mut s = Secret::zero(cs.hash_len());
        cs.random_bytes(s.as_mut_bytes())?;
        Ok(Self(s))
    }

    /// The external-init sender side (§8.3): `kem_output, ctx = SetupBaseS(external_pub, "")`,
    /// `init_secret = ctx.export("MLS 1.0 external init secret", KDF.Nh)`. Returns the
    /// `kem_output` to place in the ExternalInit proposal and the new `init_secret`.
    pub fn external_init_sender(
        cs: &dyn CipherSuiteProvider,
        external_pub: &[u8],
    ) -> Result<(Vec<u8>, Self), CryptoError> {
        let (kem_output, secret) =
            cs.hpke_export_sender(external_pub, b"", EXTERNAL_INIT_LABEL, cs.hash_len())?;
        Ok((kem_output, Self(secret)))
    }

    /// The external-init receiver side (§8.3): the group's members recover the joiner's
    /// `init_secret` from `kem_output` with the epoch's external private key.
    pub fn external_init_receiver(
        cs: &dyn CipherSuiteProvider,
        external_priv: &Secret,
        kem_output: &[u8],
    ) -> Result<Self, CryptoError> {
        cs.hpke_export_receiver(
            kem_output,
            external_priv,
            b"",
            EXTERNAL_INIT_LABEL,
            cs.hash_len(),
        )
        .map(Self)
    }

    /// The secret bytes.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `joiner_secret = ExpandWithLabel(Extract(init_secret, commit_secret), "joiner",
    /// GroupContext_[n], KDF.Nh)` (§8). Consumes the init secret: it is used exactly once.
    pub fn joiner_secret(
        self,
        cs: &dyn CipherSuiteProvider,
        commit_secret: &Secret,
        group_context: &[u8],
    ) -> Result<JoinerSecret, CryptoError> {
        let prk = cs.kdf_extract(self.0.as_bytes(), commit_secret.as_bytes());
        expand_with_label(cs, prk.as_bytes(), "joiner", group_context, cs.hash_len())
            .map(JoinerSecret)
    }
}

/// The HPKE exporter context of external init (§8.3).
const EXTERNAL_INIT_LABEL: &[u8] = b"MLS 1.0 external init secret";

/// `joiner_secret` (RFC 9420 §8): what a Welcome carries to joiners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinerSecret(Secret);

impl JoinerSecret {
    /// Wraps a `joiner_secret` received in `GroupSecrets` (§12.4.3.1).
    pub fn new(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret bytes (to place in `GroupSecrets`).
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `Extract(joiner_secret, psk_secret)`: the secret both `welcome_secret` and
    /// `epoch_secret` come from (§8). `psk_secret` is `KDF.Nh` zero bytes without PSKs
    /// ([`crate::psk::PskSecret::zero`]).
    pub fn member_secret(
        &self,
        cs: &dyn CipherSuiteProvider,
        psk_secret: &crate::psk::PskSecret,
    ) -> MemberSecret {
        MemberSecret(cs.kdf_extract(self.0.as_bytes(), psk_secret.as_secret().as_bytes()))
    }
}

/// `Extract(joiner_secret, psk_secret)` (RFC 9420 §8; unnamed there): the source of
/// `welcome_secret` and `epoch_secret`.
#[derive(Clone, Debug)]
pub struct MemberSecret(Secret);

impl MemberSecret {
    /// `welcome_secret = DeriveSecret(., "welcome")` (§8).
    pub fn welcome_secret(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<WelcomeSecret, CryptoError> {
        derive_secret(cs, self.0.as_bytes(), "welcome").map(WelcomeSecret)
    }

    /// `epoch_secret = ExpandWithLabel(., "epoch", GroupContext_[n], KDF.Nh)` (§8).
    pub fn epoch_secret(
        self,
        cs: &dyn CipherSuiteProvider,
        group_context: &[u8],
    ) -> Result<EpochSecret, CryptoError> {
        expand_with_label(cs, self.0.as_bytes(), "epoch", group_context, cs.hash_len())
            .map(EpochSecret)
    }
}

/// `welcome_secret` (RFC 9420 §8): keys the Welcome's encrypted GroupInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WelcomeSecret(Secret);

impl WelcomeSecret {
    /// The secret bytes.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// `welcome_key = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)` and
    /// `welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)` (§12.4.3.1).
    pub fn key_and_nonce(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(Secret, Secret), CryptoError> {
        let key = expand_with_label(cs, self.0.as_bytes(), "key", b"", cs.aead_key_len())?;
        let nonce = expand_with_label(cs, self.0.as_bytes(), "nonce", b"", cs.aead_nonce_len())?;
        Ok((key, nonce))
    }
}

/// `epoch_secret` (RFC 9420 §8): consumed by [`EpochSecret::derive`].
#[derive(Debug)]
pub struct EpochSecret(Secret);

impl EpochSecret {
    /// Every secret of the epoch (§8, table of labels). The epoch secret itself is consumed.
    pub fn derive(self, cs: &dyn CipherSuiteProvider) -> Result<EpochSecrets, CryptoError> {
        let d = |label: &str| derive_secret(cs, self.0.as_bytes(), label);
        Ok(EpochSecrets {
            sender_data_secret: d("sender data")?,
            encryption_secret: d("encryption")?,
            exporter_secret: d("exporter")?,
            external_secret: d("external")?,
            confirmation_key: d("confirm")?,
            membership_key: d("membership")?,
            resumption_psk: d("resumption")?,
            epoch_authenticator: d("authentication")?,
            init_secret: InitSecret(d("init")?),
        })
    }
}

/// Every secret derived from one epoch's `epoch_secret` (RFC 9420 §8).
///
/// The caller moves `encryption_secret` into a [`crate::secret_tree::SecretTree`] and
/// `init_secret` into the next epoch's key schedule ([`EpochSecrets::take_init_secret`]);
/// both leave this struct when taken.
#[derive(Debug)]
pub struct EpochSecrets {
    /// `sender_data_secret`: keys PrivateMessage sender data (§6.3.2).
    pub sender_data_secret: Secret,
    /// `encryption_secret`: the root of the secret tree (§9).
    pub encryption_secret: Secret,
    /// `exporter_secret`: the MLS-Exporter's root (§8.5).
    pub exporter_secret: Secret,
    /// `external_secret`: seeds the external init key pair (§8.3).
    pub external_secret: Secret,
    /// `confirmation_key`: keys the confirmation tag (§8.1).
    pub confirmation_key: Secret,
    /// `membership_key`: keys PublicMessage membership tags (§6.2).
    pub membership_key: Secret,
    /// `resumption_psk`: this epoch's resumption PSK (§8.6).
    pub resumption_psk: Secret,
    /// `epoch_authenticator` (§8.7).
    pub epoch_authenticator: Secret,
    init_secret: InitSecret,
}

impl EpochSecrets {
    /// The next epoch's `init_secret`, leaving zeros behind (it may be taken once).
    pub fn take_init_secret(&mut self) -> InitSecret {
        std::mem::replace(&mut self.init_secret, InitSecret(Secret::default()))
    }

    /// The next epoch's `init_secret`, by reference.
    pub fn init_secret(&self) -> &InitSecret {
        &self.init_secret
    }

    /// `MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret,
    /// Label), "exported", Hash(Context), Length)` (§8.5).
    pub fn mls_exporter(
        &self,
        cs: &dyn CipherSuiteProvider,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Secret, CryptoError> {
        mls_exporter(cs, &self.exporter_secret, label, context, length)
    }

    /// The external init key pair: `DeriveKeyPair(external_secret)` (§8.3). Returns the
    /// private key and `external_pub`.
    pub fn external_key_pair(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(Secret, HpkePublicKey), CryptoError> {
        cs.kem_derive(self.external_secret.as_bytes())
    }
}

/// `MLS-Exporter` over an `exporter_secret` (RFC 9420 §8.5).
pub fn mls_exporter(
    cs: &dyn CipherSuiteProvider,
    exporter_secret: &Secret,
    label: &str,
    context: &[u8],
    length: usize,
) -> Result<Secret, CryptoError> {
    let derived = derive_secret(cs, exporter_secret.as_bytes(), label)?;
    let hashed = cs.hash(context);
    expand_with_label(cs, derived.as_bytes(), "exported", &hashed, length)
}

/// One whole epoch step (RFC 9420 §8) for a member that knows `init_secret`: returns the
/// `joiner_secret` (for Welcomes), the `welcome_secret` and the epoch's secrets.
pub fn advance_epoch(
    cs: &dyn CipherSuiteProvider,
    init_secret: InitSecret,
    commit_secret: &Secret,
    psk_secret: &crate::psk::PskSecret,
    group_context: &[u8],
) -> Result<(JoinerSecret, WelcomeSecret, EpochSecrets), CryptoError> {
    let joiner = init_secret.joiner_secret(cs, commit_secret, group_context)?;
    let (welcome, secrets) = join_epoch(cs, &joiner, psk_secret, group_context)?;
    Ok((joiner, welcome, secrets))
}

/// The epoch step from a `joiner_secret` (RFC 9420 §8; a joiner's path, §12.4.3.1): returns
/// the `welcome_secret` and the epoch's secrets.
pub fn join_epoch(
    cs: &dyn CipherSuiteProvider,
    joiner_secret: &JoinerSecret,
    psk_secret: &crate::psk::PskSecret,
    group_context: &[u8],
) -> Result<(WelcomeSecret, EpochSecrets), CryptoError> {
    let member = joiner_secret.member_secret(cs, psk_secret);
    let welcome = member.welcome_secret(cs)?;
    let secrets = member.epoch_secret(cs, group_context)?.derive(cs)?;
    Ok((welcome, secrets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AwsLcProvider, CipherSuite, CryptoProvider};
    use crate::psk::PskSecret;

    #[test]
    fn external_init_round_trip() {
        let p = AwsLcProvider::new();
        for suite in CipherSuite::ALL {
            let cs = p.suite(suite).unwrap();
            let init = InitSecret::random(cs).unwrap();
            let psk = PskSecret::zero(cs);
            let (_, _, secrets) =
                advance_epoch(cs, init, &Secret::zero(cs.hash_len()), &psk, b"gc").unwrap();
            let (external_priv, external_pub) = secrets.external_key_pair(cs).unwrap();
            let (kem_output, sent) = InitSecret::external_init_sender(cs, &external_pub).unwrap();
            let received =
                InitSecret::external_init_receiver(cs, &external_priv, &kem_output).unwrap();
            assert_eq!(sent, received, "{suite:?}");
            assert_eq!(sent.as_secret().len(), cs.hash_len());
        }
    }

    #[test]
    fn init_secret_is_taken_once() {
        let p = AwsLcProvider::new();
        let cs = p.suite(CipherSuite(1)).unwrap();
        let psk = PskSecret::zero(cs);
        let init = InitSecret::new(Secret::zero(32));
        let (_, _, mut secrets) = advance_epoch(cs, init, &Secret::zero(32), &psk, b"gc").unwrap();
        let next = secrets.take_init_secret();
        assert_ne!(next.as_secret(), &Secret::zero(32));
        assert!(secrets.init_secret().as_secret().is_empty());
    }
}
