//! Credentials (RFC 9420 §5.3): `Credential` with the basic and X.509 variants, and unknown
//! credential types kept as opaque `<V>` data so they round-trip unchanged.

use std::io::Write;

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::CredentialType;
use crate::codec::{VarBytes, VarVec};

/// `Certificate` (RFC 9420 §5.3): one DER certificate of an X.509 chain.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Certificate {
    /// The DER-encoded certificate.
    pub cert_data: VarBytes,
}

/// `Credential` (RFC 9420 §5.3): `credential_type` then the selected body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Credential {
    /// `basic` (1): `opaque identity<V>`.
    Basic {
        /// The application-defined identity.
        identity: VarBytes,
    },
    /// `x509` (2): `Certificate certificates<V>`, the end-entity certificate first.
    X509 {
        /// The chain.
        certificates: VarVec<Certificate>,
    },
    /// Any other credential type (GREASE or an extension's): the body kept as `opaque data<V>`.
    /// The type must not be `basic` or `x509` (encoding refuses it).
    Unknown {
        /// The credential type.
        credential_type: CredentialType,
        /// The opaque body.
        data: VarBytes,
    },
}

impl Credential {
    /// A basic credential.
    pub fn basic(identity: impl Into<Vec<u8>>) -> Self {
        Credential::Basic {
            identity: VarBytes(identity.into()),
        }
    }

    /// The credential type on the wire.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            Credential::Basic { .. } => CredentialType::BASIC,
            Credential::X509 { .. } => CredentialType::X509,
            Credential::Unknown {
                credential_type, ..
            } => *credential_type,
        }
    }
}

impl Size for Credential {
    fn tls_serialized_len(&self) -> usize {
        2 + match self {
            Credential::Basic { identity } => identity.tls_serialized_len(),
            Credential::X509 { certificates } => certificates.tls_serialized_len(),
            Credential::Unknown { data, .. } => data.tls_serialized_len(),
        }
    }
}

impl Serialize for Credential {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let ty = self.credential_type();
        let n = ty.tls_serialize(writer)?;
        Ok(n + match self {
            Credential::Basic { identity } => identity.tls_serialize(writer)?,
            Credential::X509 { certificates } => certificates.tls_serialize(writer)?,
            Credential::Unknown { data, .. } => {
                if ty == CredentialType::BASIC || ty == CredentialType::X509 {
                    return Err(Error::EncodingError(
                        "Credential::Unknown with a known credential type".into(),
                    ));
                }
                data.tls_serialize(writer)?
            }
        })
    }
}

impl DeserializeBytes for Credential {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (credential_type, rest) = CredentialType::tls_deserialize_bytes(bytes)?;
        match credential_type {
            CredentialType::BASIC => {
                let (identity, rest) = VarBytes::tls_deserialize_bytes(rest)?;
                Ok((Credential::Basic { identity }, rest))
            }
            CredentialType::X509 => {
                let (certificates, rest) = VarVec::tls_deserialize_bytes(rest)?;
                Ok((Credential::X509 { certificates }, rest))
            }
            _ => {
                let (data, rest) = VarBytes::tls_deserialize_bytes(rest)?;
                Ok((
                    Credential::Unknown {
                        credential_type,
                        data,
                    },
                    rest,
                ))
            }
        }
    }
}
