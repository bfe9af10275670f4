//! `transcript-hashes.json`: RFC 9420 §8.2 confirmed and interim transcript hashes and the
//! §8.1 confirmation tag of a commit.

use mls_engine::codec::{VarBytes, VarVec};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider, Secret};
use mls_engine::framing::framed_content_sign_content;
use mls_engine::messages::{AuthenticatedContent, GroupContext, ProtocolVersion, WireFormat};
use mls_engine::transcript_hash::{
    confirmed_transcript_hash, confirmed_transcript_hash_from_tbs, interim_transcript_hash,
    update_transcript, verify_confirmation_tag,
};
use serde::Deserialize;

use crate::HexBytes;

/// One case: a commit's AuthenticatedContent and the hashes around it.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    confirmation_key: HexBytes,
    authenticated_content: HexBytes,
    interim_transcript_hash_before: HexBytes,
    confirmed_transcript_hash_after: HexBytes,
    interim_transcript_hash_after: HexBytes,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let ac =
        AuthenticatedContent::from_bytes(&case.authenticated_content).map_err(|e| e.to_string())?;
    let key = Secret::from_slice(&case.confirmation_key);
    let confirmed = confirmed_transcript_hash(cs, &case.interim_transcript_hash_before, &ac)
        .map_err(|e| e.to_string())?;
    if confirmed != case.confirmed_transcript_hash_after.0 {
        return Err("confirmed_transcript_hash_after mismatch".into());
    }
    // The same hash read from the commit's FramedContentTBS (as the engine does after
    // verifying a commit's signature); the GroupContext only follows the content in the TBS.
    let context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(case.cipher_suite),
        group_id: VarBytes(b"any group".to_vec()),
        epoch: 7,
        tree_hash: VarBytes(vec![1; 32]),
        confirmed_transcript_hash: VarBytes(vec![2; 32]),
        extensions: VarVec::default(),
    };
    let tbs = framed_content_sign_content(ac.wire_format, &ac.content, &context)
        .map_err(|e| e.to_string())?;
    let from_tbs = confirmed_transcript_hash_from_tbs(
        cs,
        &case.interim_transcript_hash_before,
        &ac,
        tbs.content().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    if from_tbs != confirmed {
        return Err("confirmed_transcript_hash_from_tbs disagrees".into());
    }
    // A TBS made for the other wire format is refused, not hashed.
    let other = if ac.wire_format == WireFormat::PUBLIC_MESSAGE {
        WireFormat::PRIVATE_MESSAGE
    } else {
        WireFormat::PUBLIC_MESSAGE
    };
    let wrong =
        framed_content_sign_content(other, &ac.content, &context).map_err(|e| e.to_string())?;
    let content = wrong.content().map_err(|e| e.to_string())?;
    if confirmed_transcript_hash_from_tbs(cs, &case.interim_transcript_hash_before, &ac, content)
        .is_ok()
    {
        return Err("confirmed_transcript_hash_from_tbs took another wire format's TBS".into());
    }
    if confirmed_transcript_hash_from_tbs(
        cs,
        &case.interim_transcript_hash_before,
        &ac,
        &tbs.content().map_err(|e| e.to_string())?[..10],
    )
    .is_ok()
    {
        return Err("confirmed_transcript_hash_from_tbs took a truncated TBS".into());
    }
    let tag = ac
        .auth
        .confirmation_tag
        .as_ref()
        .ok_or("no confirmation tag")?;
    verify_confirmation_tag(cs, &key, &confirmed, tag).map_err(|e| e.to_string())?;
    let interim = interim_transcript_hash(cs, &confirmed, tag).map_err(|e| e.to_string())?;
    if interim != case.interim_transcript_hash_after.0 {
        return Err("interim_transcript_hash_after mismatch".into());
    }
    let (c2, i2) = update_transcript(cs, &case.interim_transcript_hash_before, &ac, &key)
        .map_err(|e| e.to_string())?;
    if c2 != confirmed || i2 != interim {
        return Err("update_transcript disagrees".into());
    }
    Ok(())
}
