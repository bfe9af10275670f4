//! Pre-shared key identifiers (RFC 9420 §8.4): `PreSharedKeyID` with its external and
//! resumption variants, `ResumptionPSKUsage` and `PSKLabel`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use crate::codec::VarBytes;

code_point! {
    /// `PSKType` (RFC 9420 §8.4): a u8 selecting the PSK variant.
    PskType(u8) {
        /// Reserved (0).
        RESERVED = 0,
        /// `external` (1).
        EXTERNAL = 1,
        /// `resumption` (2).
        RESUMPTION = 2,
    }
}

code_point! {
    /// `ResumptionPSKUsage` (RFC 9420 §8.4): a u8, open (the value selects nothing on the wire).
    ResumptionPskUsage(u8) {
        /// Reserved (0).
        RESERVED = 0,
        /// `application` (1).
        APPLICATION = 1,
        /// `reinit` (2).
        REINIT = 2,
        /// `branch` (3).
        BRANCH = 3,
    }
}

/// The `external` content of a `PreSharedKeyID`.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ExternalPsk {
    /// The application's PSK id.
    pub psk_id: VarBytes,
}

/// The `resumption` content of a `PreSharedKeyID`.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct ResumptionPsk {
    /// What the resumption is for.
    pub usage: ResumptionPskUsage,
    /// The group whose resumption secret is used.
    pub psk_group_id: VarBytes,
    /// The epoch of that secret.
    pub psk_epoch: u64,
}

tagged_union! {
    /// `psktype` and its selected content (RFC 9420 §8.4); an unknown type is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum Psk: u8 {
        /// `external` (1).
        External(ExternalPsk) = 1,
        /// `resumption` (2).
        Resumption(ResumptionPsk) = 2,
    }
}

impl Psk {
    /// The PSK type.
    pub fn psk_type(&self) -> PskType {
        PskType(self.tag())
    }
}

/// `PreSharedKeyID` (RFC 9420 §8.4).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct PreSharedKeyId {
    /// The PSK's type and identifier.
    pub psk: Psk,
    /// A fresh `Nh`-byte nonce.
    pub psk_nonce: VarBytes,
}

/// `PSKLabel` (RFC 9420 §8.4): the context of each PSK's derivation step.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct PskLabel {
    /// The PSK.
    pub id: PreSharedKeyId,
    /// Its position in the list.
    pub index: u16,
    /// The number of PSKs.
    pub count: u16,
}
