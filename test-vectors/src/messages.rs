//! `messages.json`: every RFC 9420 wire struct decodes (with `decode_exact`) and re-encodes to
//! identical bytes.

use mls_engine::codec::{decode_exact, encode};
use mls_engine::messages::{
    Add, Commit, ExternalInit, GroupContextExtensions, GroupSecrets, MlsMessage, PreSharedKey,
    RatchetTree, ReInit, Remove, Update,
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

pub(crate) fn check(case: &Case) -> Result<(), String> {
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
