//! Cryptography: cipher suites, the provider seam, HPKE and the labelled operations of RFC 9420 §5.
//!
//! This module owns every call into a cryptographic library. The rest of the engine sees only
//! the types declared here.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use crate::codec::VarBytes;

pub mod aws_lc;
pub mod curve448;
mod ed25519_batch;
mod ed25519_hedged;
pub mod error;
mod gcm_late_tail;
pub mod hpke;
pub mod kem;
pub mod labels;
pub mod provider;
mod public_sha512;
pub mod secret;
pub mod suite;

pub use aws_lc::{AwsLcProvider, AwsLcSuite};
pub use error::CryptoError;
pub use gcm_late_tail::LateTail;
pub use hpke::{Context as HpkeContext, Encapsulation, Hpke, HpkeMode, InfoStream, PreparedInfo};
pub use kem::{DhGroup, DhKem, Kem};
pub use provider::{BoundSignature, CipherSuiteProvider, CryptoProvider, SignatureCheck};
pub use secret::Secret;
pub use suite::{AeadAlgorithm, HashAlgorithm, KemAlgorithm, SignatureAlgorithm, SuiteAlgorithms};

/// A cipher suite code point (RFC 9420 §17.1), open so unknown values survive a round trip.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    TlsSerialize,
    TlsDeserializeBytes,
    TlsSize,
)]
pub struct CipherSuite(pub u16);

impl From<u16> for CipherSuite {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl CipherSuite {
    /// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
    pub const MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519: Self = Self(0x0001);
    /// MLS_128_DHKEMP256_AES128GCM_SHA256_P256
    pub const MLS_128_DHKEMP256_AES128GCM_SHA256_P256: Self = Self(0x0002);
    /// MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
    pub const MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519: Self = Self(0x0003);
    /// MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448
    pub const MLS_256_DHKEMX448_AES256GCM_SHA512_ED448: Self = Self(0x0004);
    /// MLS_256_DHKEMP521_AES256GCM_SHA512_P521
    pub const MLS_256_DHKEMP521_AES256GCM_SHA512_P521: Self = Self(0x0005);
    /// MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448
    pub const MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448: Self = Self(0x0006);
    /// MLS_256_DHKEMP384_AES256GCM_SHA384_P384
    pub const MLS_256_DHKEMP384_AES256GCM_SHA384_P384: Self = Self(0x0007);
}

/// An HPKE public key (`HPKEPublicKey`, RFC 9420 §5.1.1): the KEM's serialized public key.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    Default,
    TlsSerialize,
    TlsDeserializeBytes,
    TlsSize,
)]
pub struct HpkePublicKey(pub VarBytes);

/// A signature public key (`SignaturePublicKey`, RFC 9420 §5.1.1).
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    Default,
    TlsSerialize,
    TlsDeserializeBytes,
    TlsSize,
)]
pub struct SignaturePublicKey(pub VarBytes);

macro_rules! public_key_bytes {
    ($($name:ident),+) => {$(
        impl $name {
            /// Copies a serialized key.
            pub fn from_slice(bytes: &[u8]) -> Self {
                Self(VarBytes(bytes.to_vec()))
            }

            /// The serialized key.
            pub fn as_slice(&self) -> &[u8] {
                self.0.as_slice()
            }
        }

        impl std::ops::Deref for $name {
            type Target = [u8];
            fn deref(&self) -> &[u8] {
                self.0.as_slice()
            }
        }

        impl From<&[u8]> for $name {
            fn from(bytes: &[u8]) -> Self {
                Self::from_slice(bytes)
            }
        }

        impl From<Vec<u8>> for $name {
            fn from(bytes: Vec<u8>) -> Self {
                Self(VarBytes(bytes))
            }
        }
    )+};
}

public_key_bytes!(HpkePublicKey, SignaturePublicKey);

/// `HPKECiphertext` (RFC 9420 §7.6): the KEM output and the AEAD ciphertext.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct HpkeCiphertext {
    /// The KEM encapsulation (`enc`).
    pub kem_output: VarBytes,
    /// The AEAD ciphertext.
    pub ciphertext: VarBytes,
}
