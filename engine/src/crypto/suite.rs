//! The algorithms each cipher suite names (RFC 9420 §17.1) and their sizes and HPKE identifiers
//! (RFC 9180 §7).

use super::CipherSuite;

/// A hash function, and the HMAC and HKDF built on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum HashAlgorithm {
    /// SHA-256 (HPKE KDF 0x0001, HKDF-SHA256).
    Sha256,
    /// SHA-384 (HPKE KDF 0x0002, HKDF-SHA384).
    Sha384,
    /// SHA-512 (HPKE KDF 0x0003, HKDF-SHA512).
    Sha512,
}

impl HashAlgorithm {
    /// Output size in bytes (`Nh`).
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The HPKE KDF identifier (RFC 9180 §7.2).
    pub const fn hpke_kdf_id(self) -> u16 {
        match self {
            Self::Sha256 => 0x0001,
            Self::Sha384 => 0x0002,
            Self::Sha512 => 0x0003,
        }
    }
}

/// An AEAD algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AeadAlgorithm {
    /// AES-128-GCM (HPKE AEAD 0x0001).
    Aes128Gcm,
    /// AES-256-GCM (HPKE AEAD 0x0002).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (HPKE AEAD 0x0003).
    ChaCha20Poly1305,
}

impl AeadAlgorithm {
    /// Key size in bytes (`Nk`).
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => 32,
        }
    }

    /// Nonce size in bytes (`Nn`).
    pub const fn nonce_len(self) -> usize {
        12
    }

    /// Authentication tag size in bytes (`Nt`).
    pub const fn tag_len(self) -> usize {
        16
    }

    /// The HPKE AEAD identifier (RFC 9180 §7.3).
    pub const fn hpke_aead_id(self) -> u16 {
        match self {
            Self::Aes128Gcm => 0x0001,
            Self::Aes256Gcm => 0x0002,
            Self::ChaCha20Poly1305 => 0x0003,
        }
    }
}

/// An HPKE KEM. Only DHKEMs exist today; post-quantum KEMs will be added as new variants.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum KemAlgorithm {
    /// DHKEM(P-256, HKDF-SHA256), 0x0010.
    DhKemP256,
    /// DHKEM(P-384, HKDF-SHA384), 0x0011.
    DhKemP384,
    /// DHKEM(P-521, HKDF-SHA512), 0x0012.
    DhKemP521,
    /// DHKEM(X25519, HKDF-SHA256), 0x0020.
    DhKemX25519,
    /// DHKEM(X448, HKDF-SHA512), 0x0021.
    DhKemX448,
}

impl KemAlgorithm {
    /// The HPKE KEM identifier (RFC 9180 §7.1).
    pub const fn id(self) -> u16 {
        match self {
            Self::DhKemP256 => 0x0010,
            Self::DhKemP384 => 0x0011,
            Self::DhKemP521 => 0x0012,
            Self::DhKemX25519 => 0x0020,
            Self::DhKemX448 => 0x0021,
        }
    }

    /// Shared-secret size (`Nsecret`).
    pub const fn secret_len(self) -> usize {
        match self {
            Self::DhKemP256 | Self::DhKemX25519 => 32,
            Self::DhKemP384 => 48,
            Self::DhKemP521 | Self::DhKemX448 => 64,
        }
    }

    /// Encapsulation size (`Nenc`).
    pub const fn enc_len(self) -> usize {
        self.public_key_len()
    }

    /// Serialized public key size (`Npk`).
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::DhKemP256 => 65,
            Self::DhKemP384 => 97,
            Self::DhKemP521 => 133,
            Self::DhKemX25519 => 32,
            Self::DhKemX448 => 56,
        }
    }

    /// Serialized private key size (`Nsk`).
    pub const fn private_key_len(self) -> usize {
        match self {
            Self::DhKemP256 | Self::DhKemX25519 => 32,
            Self::DhKemP384 => 48,
            Self::DhKemP521 => 66,
            Self::DhKemX448 => 56,
        }
    }

    /// The KDF the KEM uses internally (RFC 9180 §7.1).
    pub const fn kdf(self) -> HashAlgorithm {
        match self {
            Self::DhKemP256 | Self::DhKemX25519 => HashAlgorithm::Sha256,
            Self::DhKemP384 => HashAlgorithm::Sha384,
            Self::DhKemP521 | Self::DhKemX448 => HashAlgorithm::Sha512,
        }
    }
}

/// A signature scheme (RFC 9420 §5.1.2: ECDSA signatures are DER, EdDSA are `R || S`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum SignatureAlgorithm {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// Ed448 (RFC 8032), empty context.
    Ed448,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384Sha384,
    /// ECDSA on P-521 with SHA-512.
    EcdsaP521Sha512,
}

impl SignatureAlgorithm {
    /// The length of every signature, for the schemes whose signatures have one (EdDSA's
    /// `R || S`); `None` for ECDSA, whose DER encoding varies.
    pub const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Self::Ed25519 => Some(64),
            Self::Ed448 => Some(114),
            Self::EcdsaP256Sha256 | Self::EcdsaP384Sha384 | Self::EcdsaP521Sha512 => None,
        }
    }
}

/// The algorithms one MLS cipher suite is made of.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct SuiteAlgorithms {
    /// HPKE KEM.
    pub kem: KemAlgorithm,
    /// Hash, MAC and KDF (also the HPKE KDF).
    pub hash: HashAlgorithm,
    /// AEAD (also the HPKE AEAD).
    pub aead: AeadAlgorithm,
    /// Signature scheme.
    pub signature: SignatureAlgorithm,
}

impl CipherSuite {
    /// The algorithms of a suite registered in RFC 9420 §17.1, or `None` for any other value.
    pub const fn algorithms(self) -> Option<SuiteAlgorithms> {
        use AeadAlgorithm::*;
        use HashAlgorithm::*;
        use KemAlgorithm::*;
        use SignatureAlgorithm::*;
        let (kem, hash, aead, signature) = match self.0 {
            0x0001 => (DhKemX25519, Sha256, Aes128Gcm, Ed25519),
            0x0002 => (DhKemP256, Sha256, Aes128Gcm, EcdsaP256Sha256),
            0x0003 => (DhKemX25519, Sha256, ChaCha20Poly1305, Ed25519),
            0x0004 => (DhKemX448, Sha512, Aes256Gcm, Ed448),
            0x0005 => (DhKemP521, Sha512, Aes256Gcm, EcdsaP521Sha512),
            0x0006 => (DhKemX448, Sha512, ChaCha20Poly1305, Ed448),
            0x0007 => (DhKemP384, Sha384, Aes256Gcm, EcdsaP384Sha384),
            _ => return None,
        };
        Some(SuiteAlgorithms {
            kem,
            hash,
            aead,
            signature,
        })
    }

    /// The seven suites of RFC 9420 §17.1.
    pub const ALL: [CipherSuite; 7] = [
        CipherSuite(1),
        CipherSuite(2),
        CipherSuite(3),
        CipherSuite(4),
        CipherSuite(5),
        CipherSuite(6),
        CipherSuite(7),
    ];
}
