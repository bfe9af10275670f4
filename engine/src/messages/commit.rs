//! Commits (RFC 9420 §12.4 and §7.6): `Commit`, `ProposalOrRef`, `UpdatePath` and
//! `UpdatePathNode`, whose ciphertexts are kept as one encoded block
//! ([`EncryptedPathSecrets`]).

use std::io::Write;

use tls_codec::{
    DeserializeBytes, Error as TlsError, Serialize, Size, TlsDeserializeBytes, TlsSerialize,
    TlsSize,
};

use super::leaf_node::LeafNode;
use super::proposal::{Proposal, ProposalRef};
use crate::codec::{read_vector_body, varint_len, write_varint, VarBytes, VarVec};
use crate::crypto::{HpkeCiphertext, HpkePublicKey};

tagged_union! {
    /// `ProposalOrRef` (RFC 9420 §12.4): a u8 type, `proposal(1)` or `reference(2)`, then the
    /// proposal or its reference; any other type is a decode error.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub enum ProposalOrRef: u8 {
        /// An inline proposal.
        Proposal(Proposal) = 1,
        /// A reference to a proposal sent earlier in the epoch.
        Reference(ProposalRef) = 2,
    }
}

/// `UpdatePathNode` (RFC 9420 §7.6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct UpdatePathNode {
    /// The node's new HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The path secret encrypted to each node of the copath child's resolution.
    pub encrypted_path_secret: EncryptedPathSecrets,
}

/// `HPKECiphertext encrypted_path_secret<V>` of an [`UpdatePathNode`] (RFC 9420 §7.6), kept
/// as its encoded bytes with the offset of each ciphertext.
///
/// A commit to a mostly blank tree carries one ciphertext per member, of which a receiver
/// opens one: decoding them into two vectors each cost 2N allocations and frees per commit.
/// Here decoding validates every ciphertext's framing (two `opaque<V>` in shortest form,
/// exactly filling the vector) and copies the block once; [`EncryptedPathSecrets::get`]
/// decodes the one asked for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptedPathSecrets {
    /// The vector's body: the ciphertexts' encodings, back to back.
    bytes: Vec<u8>,
    /// Where each ciphertext starts in `bytes` (a vector body is at most 2^30 bytes).
    starts: Vec<u32>,
}

impl EncryptedPathSecrets {
    /// Number of ciphertexts.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The encoding of ciphertext `i`.
    fn encoded(&self, i: usize) -> Option<&[u8]> {
        let start = usize::try_from(*self.starts.get(i)?).ok()?;
        let end = match self.starts.get(i + 1) {
            Some(e) => usize::try_from(*e).ok()?,
            None => self.bytes.len(),
        };
        self.bytes.get(start..end)
    }

    /// Ciphertext `i`, decoded; `None` past the end.
    pub fn get(&self, i: usize) -> Option<HpkeCiphertext> {
        // Every entry was checked when it was decoded or pushed.
        let (kem_output, rest) = read_vector_body(self.encoded(i)?).ok()?;
        let (ciphertext, _) = read_vector_body(rest).ok()?;
        Some(HpkeCiphertext {
            kem_output: VarBytes(kem_output.to_vec()),
            ciphertext: VarBytes(ciphertext.to_vec()),
        })
    }

    /// Every ciphertext, decoded, in order.
    pub fn iter(&self) -> impl Iterator<Item = HpkeCiphertext> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Appends a ciphertext; an error only for a field longer than 2^30 bytes, or when the
    /// vector would be.
    pub fn push(&mut self, ct: &HpkeCiphertext) -> Result<(), TlsError> {
        let start = self.bytes.len();
        let added = ct.tls_serialized_len();
        if start + added > crate::codec::MAX_VECTOR_LEN {
            return Err(TlsError::InvalidVectorLength);
        }
        let written = write_varint(&mut self.bytes, ct.kem_output.len())
            .and_then(|()| {
                self.bytes.extend_from_slice(&ct.kem_output);
                write_varint(&mut self.bytes, ct.ciphertext.len())
            })
            .map(|()| self.bytes.extend_from_slice(&ct.ciphertext));
        if let Err(e) = written {
            self.bytes.truncate(start);
            return Err(e);
        }
        // `start` is below MAX_VECTOR_LEN (2^30), checked above.
        self.starts
            .push(u32::try_from(start).map_err(|_| TlsError::InvalidVectorLength)?);
        Ok(())
    }

    /// Drops every ciphertext from position `len` on.
    pub fn truncate(&mut self, len: usize) {
        if let Some(&start) = self.starts.get(len) {
            self.bytes.truncate(start as usize);
            self.starts.truncate(len);
        }
    }
}

impl std::fmt::Debug for EncryptedPathSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl TryFrom<Vec<HpkeCiphertext>> for EncryptedPathSecrets {
    type Error = TlsError;
    fn try_from(cts: Vec<HpkeCiphertext>) -> Result<Self, TlsError> {
        let mut out = Self::default();
        for ct in &cts {
            out.push(ct)?;
        }
        Ok(out)
    }
}

impl Size for EncryptedPathSecrets {
    fn tls_serialized_len(&self) -> usize {
        // The body is at most MAX_VECTOR_LEN (kept by `push` and by decoding).
        varint_len(self.bytes.len()).unwrap_or(4) + self.bytes.len()
    }
}

impl Serialize for EncryptedPathSecrets {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, TlsError> {
        let mut header = Vec::with_capacity(4);
        write_varint(&mut header, self.bytes.len())?;
        writer
            .write_all(&header)
            .and_then(|()| writer.write_all(&self.bytes))
            .map_err(|e| TlsError::EncodingError(e.to_string()))?;
        Ok(header.len() + self.bytes.len())
    }
}

impl DeserializeBytes for EncryptedPathSecrets {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), TlsError> {
        let (body, rest) = read_vector_body(bytes)?;
        let mut starts = Vec::new();
        let mut at = body;
        while !at.is_empty() {
            // The offset fits: a vector body is at most 2^30 bytes.
            let start =
                u32::try_from(body.len() - at.len()).map_err(|_| TlsError::InvalidVectorLength)?;
            let (_, after_kem) = read_vector_body(at)?;
            let (_, after) = read_vector_body(after_kem)?;
            starts.push(start);
            at = after;
        }
        Ok((
            Self {
                bytes: body.to_vec(),
                starts,
            },
            rest,
        ))
    }
}

/// `UpdatePath` (RFC 9420 §7.6).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct UpdatePath {
    /// The committer's new leaf (source `commit`).
    pub leaf_node: LeafNode,
    /// One entry per node of the filtered direct path.
    pub nodes: VarVec<UpdatePathNode>,
}

/// `Commit` (RFC 9420 §12.4).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Commit {
    /// The proposals committed, inline or by reference.
    pub proposals: VarVec<ProposalOrRef>,
    /// `optional<UpdatePath> path`.
    pub path: Option<UpdatePath>,
}

top_level!(Commit);
