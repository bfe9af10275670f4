//! Transcript hashes and the confirmation tag (RFC 9420 §8.2, §8.1; §6.1 for the tag's place).
//!
//! ```text
//! confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
//! interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
//! confirmation_tag              = MAC(confirmation_key, confirmed_transcript_hash)
//! ```
//!
//! This module owns those three computations and the constant-time check of a received
//! confirmation tag. Invariant: the inputs are always built from the commit's
//! [`AuthenticatedContent`] (its wire format, content and signature), never re-assembled from
//! loose fields, so what is hashed is what was signed.

use crate::codec::VarBytes;
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret};
use crate::messages::{AuthenticatedContent, InterimTranscriptHashInput, Mac};
use tls_codec::{Serialize as _, Size as _};

/// Why a transcript-hash step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// The content is not a commit: only commits enter the transcript (§8.2).
    #[error("only a commit enters the transcript hash")]
    NotACommit,
    /// The commit has no confirmation tag.
    #[error("commit has no confirmation tag")]
    MissingConfirmationTag,
    /// The confirmation tag does not match (§8.1 / §12.4.2).
    #[error("confirmation tag does not verify")]
    BadConfirmationTag,
    /// An input could not be encoded.
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn encode<T: tls_codec::Serialize + tls_codec::Size>(v: &T) -> Result<Vec<u8>, TranscriptError> {
    crate::codec::encode(v).map_err(|e| TranscriptError::Encoding(e.to_string()))
}

/// [`confirmed_transcript_hash`] reading `wire_format || content` from `tbs`, the encoded
/// FramedContentTBS (§6.1: `version || wire_format || content || [group_context]`) that the
/// commit's signature was made or verified over, instead of serializing the commit again.
/// `tbs` must be the TBS of this very commit (the caller just built it from `commit`); its
/// length and leading `version || wire_format` are checked.
pub fn confirmed_transcript_hash_from_tbs(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    commit: &AuthenticatedContent,
    tbs: &[u8],
) -> Result<Vec<u8>, TranscriptError> {
    if commit.content.content_type() != crate::messages::ContentType::COMMIT {
        return Err(TranscriptError::NotACommit);
    }
    let end = 4 + commit.content.tls_serialized_len();
    let wire_format = commit.wire_format.0.to_be_bytes();
    let wf_and_content = tbs
        .get(2..end)
        .filter(|b| b.starts_with(&wire_format))
        .ok_or_else(|| TranscriptError::Encoding("TBS does not hold this commit".into()))?;
    // The input in parts: the content (as large as the commit) is hashed where it is.
    let signature = crate::codec::encode(&commit.auth.signature)
        .map_err(|e| TranscriptError::Encoding(e.to_string()))?;
    Ok(cs.hash_parts(&[interim_before, wf_and_content, &signature]))
}

/// `confirmed_transcript_hash_[n]` from the previous interim hash and the commit (§8.2).
pub fn confirmed_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    commit: &AuthenticatedContent,
) -> Result<Vec<u8>, TranscriptError> {
    if commit.content.content_type() != crate::messages::ContentType::COMMIT {
        return Err(TranscriptError::NotACommit);
    }
    // ConfirmedTranscriptHashInput = wire_format || content || signature, serialized from the
    // commit in place (a commit with a large UpdatePath is not copied).
    let mut buf = Vec::with_capacity(
        interim_before.len()
            + commit.wire_format.tls_serialized_len()
            + commit.content.tls_serialized_len()
            + commit.auth.signature.tls_serialized_len(),
    );
    buf.extend_from_slice(interim_before);
    let codec = |e: tls_codec::Error| TranscriptError::Encoding(e.to_string());
    commit.wire_format.tls_serialize(&mut buf).map_err(codec)?;
    commit.content.tls_serialize(&mut buf).map_err(codec)?;
    commit
        .auth
        .signature
        .tls_serialize(&mut buf)
        .map_err(codec)?;
    Ok(cs.hash(&buf))
}

/// `interim_transcript_hash_[n]` from the confirmed hash and the confirmation tag (§8.2).
pub fn interim_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    confirmed: &[u8],
    confirmation_tag: &Mac,
) -> Result<Vec<u8>, TranscriptError> {
    let input = InterimTranscriptHashInput {
        confirmation_tag: confirmation_tag.clone(),
    };
    let mut buf = confirmed.to_vec();
    buf.extend_from_slice(&encode(&input)?);
    Ok(cs.hash(&buf))
}

/// `confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)` (§8.1).
pub fn confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &Secret,
    confirmed_transcript_hash: &[u8],
) -> Mac {
    Mac(VarBytes(cs.mac(
        confirmation_key.as_bytes(),
        confirmed_transcript_hash,
    )))
}

/// Checks a received confirmation tag in constant time (§12.4.2 step "verify the
/// confirmation tag"; §12.4.3.1 for joiners).
pub fn verify_confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &Secret,
    confirmed_transcript_hash: &[u8],
    tag: &Mac,
) -> Result<(), TranscriptError> {
    cs.mac_verify(
        confirmation_key.as_bytes(),
        &[confirmed_transcript_hash],
        tag.0.as_slice(),
    )
    .map_err(|e| match e {
        CryptoError::InvalidMac => TranscriptError::BadConfirmationTag,
        other => TranscriptError::Crypto(other),
    })
}

/// Both transcript hashes after a commit, checking its confirmation tag on the way: returns
/// `(confirmed_transcript_hash, interim_transcript_hash)`.
pub fn update_transcript(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    commit: &AuthenticatedContent,
    confirmation_key: &Secret,
) -> Result<(Vec<u8>, Vec<u8>), TranscriptError> {
    let tag = commit
        .auth
        .confirmation_tag
        .as_ref()
        .ok_or(TranscriptError::MissingConfirmationTag)?;
    let confirmed = confirmed_transcript_hash(cs, interim_before, commit)?;
    verify_confirmation_tag(cs, confirmation_key, &confirmed, tag)?;
    let interim = interim_transcript_hash(cs, &confirmed, tag)?;
    Ok((confirmed, interim))
}
