//! The group context (RFC 9420 §8.1): `GroupContext`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::codepoints::ProtocolVersion;
use super::extensions::Extension;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::CipherSuite;

/// `GroupContext` (RFC 9420 §8.1).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct GroupContext {
    /// Protocol version (`mls10`).
    pub version: ProtocolVersion,
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The group's id.
    pub group_id: VarBytes,
    /// The epoch.
    pub epoch: u64,
    /// Tree hash of the ratchet tree's root.
    pub tree_hash: VarBytes,
    /// The confirmed transcript hash.
    pub confirmed_transcript_hash: VarBytes,
    /// GroupContext extensions.
    pub extensions: VarVec<Extension>,
}

top_level!(GroupContext);
