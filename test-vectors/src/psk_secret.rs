//! `psk_secret.json`: RFC 9420 §8.4 chaining of 0 to 10 external PSKs.

use mls_engine::codec::VarBytes;
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider, Secret};
use mls_engine::messages::{ExternalPsk, PreSharedKeyId, Psk};
use mls_engine::psk::PskSecret;
use serde::Deserialize;

use crate::HexBytes;

/// One case: external PSKs in order and the resulting `psk_secret`.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    psks: Vec<PskEntry>,
    psk_secret: HexBytes,
}

#[derive(Deserialize)]
struct PskEntry {
    psk_id: HexBytes,
    psk: HexBytes,
    psk_nonce: HexBytes,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let ids: Vec<(PreSharedKeyId, Secret)> = case
        .psks
        .iter()
        .map(|p| {
            (
                PreSharedKeyId {
                    psk: Psk::External(ExternalPsk {
                        psk_id: VarBytes(p.psk_id.0.clone()),
                    }),
                    psk_nonce: VarBytes(p.psk_nonce.0.clone()),
                },
                Secret::from_slice(&p.psk),
            )
        })
        .collect();
    let refs: Vec<(&PreSharedKeyId, &Secret)> = ids.iter().map(|(i, s)| (i, s)).collect();
    let ours = PskSecret::compute(cs, &refs).map_err(|e| e.to_string())?;
    if ours.as_secret().as_bytes() != case.psk_secret.0.as_slice() {
        return Err(format!(
            "psk_secret {} != {}",
            hex::encode(ours.as_secret().as_bytes()),
            hex::encode(&case.psk_secret.0)
        ));
    }
    Ok(())
}
