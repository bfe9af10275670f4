//! `messages.json`: every RFC 9420 wire struct decodes (with `decode_exact`) and re-encodes to
//! identical bytes.

use mls_engine::codec::{decode_exact, encode};
use mls_engine::messages::{
    Add, Commit, ContentType, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage,
    MlsMessageBody, PreSharedKey, Proposal, ProposalType, RatchetTree, ReInit, Remove, Update,
    WireFormat,
};
use serde::Deserialize;
use tls_codec::{DeserializeBytes, Serialize, Size};

use crate::HexBytes;

/// One case: 17 encoded structs. The seven `*_proposal` fields are proposal bodies without
/// the u16 proposal type.
#[derive(Deserialize)]
pub(crate) struct Case {
    mls_welcome: HexBytes,
    mls_group_info: HexBytes,
    mls_key_package: HexBytes,
    ratchet_tree: HexBytes,
    group_secrets: HexBytes,
    add_proposal: HexBytes,
    update_proposal: HexBytes,
    remove_proposal: HexBytes,
    pre_shared_key_proposal: HexBytes,
    re_init_proposal: HexBytes,
    external_init_proposal: HexBytes,
    group_context_extensions_proposal: HexBytes,
    commit: HexBytes,
    public_message_application: HexBytes,
    public_message_proposal: HexBytes,
    public_message_commit: HexBytes,
    private_message: HexBytes,
}

fn round_trip<T: DeserializeBytes + Serialize + Size>(
    name: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let value: T = decode_exact(bytes).map_err(|e| format!("{name}: decode: {e:?}"))?;
    let again = encode(&value).map_err(|e| format!("{name}: encode: {e:?}"))?;
    if again != bytes {
        return Err(format!("{name}: re-encoding differs"));
    }
    if value.tls_serialized_len() != bytes.len() {
        return Err(format!("{name}: tls_serialized_len differs"));
    }
    Ok(())
}

/// The MLSMessage must also carry the expected wire format (and, for PublicMessages, content
/// type).
fn expect_kind(
    name: &str,
    bytes: &[u8],
    wire_format: WireFormat,
    content_type: Option<ContentType>,
) -> Result<(), String> {
    let msg: MlsMessage = decode_exact(bytes).map_err(|e| format!("{name}: decode: {e:?}"))?;
    if msg.wire_format() != wire_format {
        return Err(format!("{name}: wire format {:?}", msg.wire_format()));
    }
    if let (MlsMessageBody::PublicMessage(pm), Some(ct)) = (&msg.body, content_type) {
        if pm.content.content_type() != ct {
            return Err(format!(
                "{name}: content type {:?}",
                pm.content.content_type()
            ));
        }
    }
    Ok(())
}

/// A proposal body must also decode as a whole `Proposal` once its u16 type is prepended.
fn as_proposal(name: &str, proposal_type: ProposalType, body: &[u8]) -> Result<(), String> {
    let mut bytes = proposal_type.0.to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    round_trip::<Proposal>(name, &bytes)?;
    let p: Proposal = decode_exact(&bytes).map_err(|e| format!("{name}: {e:?}"))?;
    if p.proposal_type() != proposal_type || matches!(p, Proposal::Unknown { .. }) {
        return Err(format!("{name}: decoded as {:?}", p.proposal_type()));
    }
    Ok(())
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    expect_kind("mls_welcome", &case.mls_welcome, WireFormat::WELCOME, None)?;
    expect_kind(
        "mls_group_info",
        &case.mls_group_info,
        WireFormat::GROUP_INFO,
        None,
    )?;
    expect_kind(
        "mls_key_package",
        &case.mls_key_package,
        WireFormat::KEY_PACKAGE,
        None,
    )?;
    expect_kind(
        "public_message_application",
        &case.public_message_application,
        WireFormat::PUBLIC_MESSAGE,
        Some(ContentType::APPLICATION),
    )?;
    expect_kind(
        "public_message_proposal",
        &case.public_message_proposal,
        WireFormat::PUBLIC_MESSAGE,
        Some(ContentType::PROPOSAL),
    )?;
    expect_kind(
        "public_message_commit",
        &case.public_message_commit,
        WireFormat::PUBLIC_MESSAGE,
        Some(ContentType::COMMIT),
    )?;
    expect_kind(
        "private_message",
        &case.private_message,
        WireFormat::PRIVATE_MESSAGE,
        None,
    )?;
    for (name, ty, body) in [
        ("add_proposal", ProposalType::ADD, &case.add_proposal),
        (
            "update_proposal",
            ProposalType::UPDATE,
            &case.update_proposal,
        ),
        (
            "remove_proposal",
            ProposalType::REMOVE,
            &case.remove_proposal,
        ),
        (
            "pre_shared_key_proposal",
            ProposalType::PSK,
            &case.pre_shared_key_proposal,
        ),
        (
            "re_init_proposal",
            ProposalType::REINIT,
            &case.re_init_proposal,
        ),
        (
            "external_init_proposal",
            ProposalType::EXTERNAL_INIT,
            &case.external_init_proposal,
        ),
        (
            "group_context_extensions_proposal",
            ProposalType::GROUP_CONTEXT_EXTENSIONS,
            &case.group_context_extensions_proposal,
        ),
    ] {
        as_proposal(name, ty, body)?;
    }
    round_trip::<MlsMessage>("mls_welcome", &case.mls_welcome)?;
    round_trip::<MlsMessage>("mls_group_info", &case.mls_group_info)?;
    round_trip::<MlsMessage>("mls_key_package", &case.mls_key_package)?;
    round_trip::<RatchetTree>("ratchet_tree", &case.ratchet_tree)?;
    round_trip::<GroupSecrets>("group_secrets", &case.group_secrets)?;
    round_trip::<Add>("add_proposal", &case.add_proposal)?;
    round_trip::<Update>("update_proposal", &case.update_proposal)?;
    round_trip::<Remove>("remove_proposal", &case.remove_proposal)?;
    round_trip::<PreSharedKey>("pre_shared_key_proposal", &case.pre_shared_key_proposal)?;
    round_trip::<ReInit>("re_init_proposal", &case.re_init_proposal)?;
    round_trip::<ExternalInit>("external_init_proposal", &case.external_init_proposal)?;
    round_trip::<GroupContextExtensions>(
        "group_context_extensions_proposal",
        &case.group_context_extensions_proposal,
    )?;
    round_trip::<Commit>("commit", &case.commit)?;
    round_trip::<MlsMessage>(
        "public_message_application",
        &case.public_message_application,
    )?;
    round_trip::<MlsMessage>("public_message_proposal", &case.public_message_proposal)?;
    round_trip::<MlsMessage>("public_message_commit", &case.public_message_commit)?;
    round_trip::<MlsMessage>("private_message", &case.private_message)?;
    Ok(())
}
