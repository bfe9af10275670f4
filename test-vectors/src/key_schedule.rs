//! `key-schedule.json`: RFC 9420 §8 key schedule over 5 chained epochs per suite, with the
//! exporter (§8.5) and the external init public key (§8.3).

use mls_engine::codec::{encode, VarBytes, VarVec};
use mls_engine::crypto::{AwsLcProvider, CipherSuite, CryptoProvider, Secret};
use mls_engine::key_schedule::{join_epoch, InitSecret};
use mls_engine::messages::{GroupContext, ProtocolVersion};
use mls_engine::psk::PskSecret;
use serde::Deserialize;

use crate::HexBytes;

/// One suite's chain of epochs.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    group_id: HexBytes,
    initial_init_secret: HexBytes,
    epochs: Vec<Epoch>,
}

#[derive(Deserialize)]
struct Epoch {
    tree_hash: HexBytes,
    commit_secret: HexBytes,
    psk_secret: HexBytes,
    confirmed_transcript_hash: HexBytes,
    group_context: HexBytes,
    joiner_secret: HexBytes,
    welcome_secret: HexBytes,
    init_secret: HexBytes,
    sender_data_secret: HexBytes,
    encryption_secret: HexBytes,
    exporter_secret: HexBytes,
    epoch_authenticator: HexBytes,
    external_secret: HexBytes,
    confirmation_key: HexBytes,
    membership_key: HexBytes,
    resumption_psk: HexBytes,
    external_pub: HexBytes,
    exporter: Exporter,
}

#[derive(Deserialize)]
struct Exporter {
    /// Used as its ASCII bytes, not hex-decoded (see FORMATS.md).
    label: String,
    context: HexBytes,
    length: usize,
    secret: HexBytes,
}

fn same(name: &str, epoch: usize, ours: &[u8], want: &[u8]) -> Result<(), String> {
    if ours != want {
        return Err(format!(
            "epoch {epoch}: {name} = {}, want {}",
            hex::encode(ours),
            hex::encode(want)
        ));
    }
    Ok(())
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let mut init = InitSecret::new(Secret::from_slice(&case.initial_init_secret));
    for (n, e) in case.epochs.iter().enumerate() {
        let gc = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(case.cipher_suite),
            group_id: VarBytes(case.group_id.0.clone()),
            epoch: n as u64,
            tree_hash: VarBytes(e.tree_hash.0.clone()),
            confirmed_transcript_hash: VarBytes(e.confirmed_transcript_hash.0.clone()),
            extensions: VarVec::default(),
        };
        let gc_bytes = encode(&gc).map_err(|e| e.to_string())?;
        same("group_context", n, &gc_bytes, &e.group_context)?;
        let joiner = init
            .joiner_secret(cs, &Secret::from_slice(&e.commit_secret), &gc_bytes)
            .map_err(|e| e.to_string())?;
        same(
            "joiner_secret",
            n,
            joiner.as_secret().as_bytes(),
            &e.joiner_secret,
        )?;
        let psk = PskSecret::from_secret(Secret::from_slice(&e.psk_secret));
        let (welcome, mut secrets) =
            join_epoch(cs, &joiner, &psk, &gc_bytes).map_err(|e| e.to_string())?;
        same(
            "welcome_secret",
            n,
            welcome.as_secret().as_bytes(),
            &e.welcome_secret,
        )?;
        for (name, ours, want) in [
            (
                "sender_data_secret",
                &secrets.sender_data_secret,
                &e.sender_data_secret,
            ),
            (
                "encryption_secret",
                &secrets.encryption_secret,
                &e.encryption_secret,
            ),
            (
                "exporter_secret",
                &secrets.exporter_secret,
                &e.exporter_secret,
            ),
            (
                "epoch_authenticator",
                &secrets.epoch_authenticator,
                &e.epoch_authenticator,
            ),
            (
                "external_secret",
                &secrets.external_secret,
                &e.external_secret,
            ),
            (
                "confirmation_key",
                &secrets.confirmation_key,
                &e.confirmation_key,
            ),
            ("membership_key", &secrets.membership_key, &e.membership_key),
            ("resumption_psk", &secrets.resumption_psk, &e.resumption_psk),
        ] {
            same(name, n, ours.as_bytes(), want)?;
        }
        let exported = secrets
            .mls_exporter(
                cs,
                &e.exporter.label,
                &e.exporter.context,
                e.exporter.length,
            )
            .map_err(|e| e.to_string())?;
        same(
            "exporter.secret",
            n,
            exported.as_bytes(),
            &e.exporter.secret,
        )?;
        let (_, external_pub) = secrets.external_key_pair(cs).map_err(|e| e.to_string())?;
        same(
            "external_pub",
            n,
            external_pub.0.as_slice(),
            &e.external_pub,
        )?;
        init = secrets.take_init_secret();
        same(
            "init_secret",
            n,
            init.as_secret().as_bytes(),
            &e.init_secret,
        )?;
    }
    Ok(())
}
