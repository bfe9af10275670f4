//! `crypto-basics.json`: RFC 9420 §5 labelled operations per cipher suite (RefHash,
//! ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel, EncryptWithLabel).

use mls_engine::codec::VarBytes;
use mls_engine::crypto::labels;
use mls_engine::crypto::{
    AwsLcProvider, CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeCiphertext, HpkePublicKey,
    Secret, SignaturePublicKey,
};
use serde::Deserialize;

use crate::HexBytes;

/// `ref_hash`.
#[derive(Deserialize)]
pub(crate) struct RefHash {
    label: String,
    value: HexBytes,
    out: HexBytes,
}

/// `expand_with_label`.
#[derive(Deserialize)]
pub(crate) struct ExpandWithLabel {
    secret: HexBytes,
    label: String,
    context: HexBytes,
    length: u16,
    out: HexBytes,
}

/// `derive_secret`.
#[derive(Deserialize)]
pub(crate) struct DeriveSecret {
    secret: HexBytes,
    label: String,
    out: HexBytes,
}

/// `derive_tree_secret`.
#[derive(Deserialize)]
pub(crate) struct DeriveTreeSecret {
    secret: HexBytes,
    label: String,
    generation: u32,
    length: u16,
    out: HexBytes,
}

/// `sign_with_label`.
#[derive(Deserialize)]
pub(crate) struct SignWithLabel {
    #[serde(rename = "priv")]
    private: HexBytes,
    #[serde(rename = "pub")]
    public: HexBytes,
    content: HexBytes,
    label: String,
    signature: HexBytes,
}

/// `encrypt_with_label`.
#[derive(Deserialize)]
pub(crate) struct EncryptWithLabel {
    #[serde(rename = "priv")]
    private: HexBytes,
    #[serde(rename = "pub")]
    public: HexBytes,
    label: String,
    context: HexBytes,
    plaintext: HexBytes,
    kem_output: HexBytes,
    ciphertext: HexBytes,
}

/// One case: one cipher suite.
#[derive(Deserialize)]
pub(crate) struct Case {
    cipher_suite: u16,
    ref_hash: RefHash,
    expand_with_label: ExpandWithLabel,
    derive_secret: DeriveSecret,
    derive_tree_secret: DeriveTreeSecret,
    sign_with_label: SignWithLabel,
    encrypt_with_label: EncryptWithLabel,
}

fn same(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, want {}",
            hex::encode(got),
            hex::encode(want)
        ))
    }
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let provider = AwsLcProvider::new();
    let cs = provider
        .suite(CipherSuite(case.cipher_suite))
        .map_err(|e| e.to_string())?;
    let err = |what: &'static str| move |e: mls_engine::crypto::CryptoError| format!("{what}: {e}");

    let r = &case.ref_hash;
    let out = labels::ref_hash(cs, &r.label, &r.value).map_err(err("ref_hash"))?;
    same("ref_hash", &out, &r.out)?;

    let e = &case.expand_with_label;
    let out = labels::expand_with_label(cs, &e.secret, &e.label, &e.context, e.length.into())
        .map_err(err("expand_with_label"))?;
    same("expand_with_label", out.as_bytes(), &e.out)?;

    let d = &case.derive_secret;
    let out = labels::derive_secret(cs, &d.secret, &d.label).map_err(err("derive_secret"))?;
    same("derive_secret", out.as_bytes(), &d.out)?;

    let t = &case.derive_tree_secret;
    let out = labels::derive_tree_secret(cs, &t.secret, &t.label, t.generation, t.length.into())
        .map_err(err("derive_tree_secret"))?;
    same("derive_tree_secret", out.as_bytes(), &t.out)?;

    check_signature(cs, &case.sign_with_label)?;
    check_encryption(cs, &case.encrypt_with_label)
}

fn check_signature(cs: &dyn CipherSuiteProvider, s: &SignWithLabel) -> Result<(), String> {
    let sk = Secret::from_slice(&s.private);
    let pk = SignaturePublicKey(VarBytes::from(s.public.0.clone()));
    let derived = cs
        .signature_public_key(&sk)
        .map_err(|e| format!("signature public key: {e}"))?;
    same("signature public key", &derived.0, &pk.0)?;
    labels::verify_with_label(cs, &pk, &s.label, &s.content, &s.signature)
        .map_err(|e| format!("given signature: {e}"))?;
    let fresh =
        labels::sign_with_label(cs, &sk, &s.label, &s.content).map_err(|e| format!("sign: {e}"))?;
    labels::verify_with_label(cs, &pk, &s.label, &s.content, &fresh)
        .map_err(|e| format!("fresh signature: {e}"))?;
    if labels::verify_with_label(cs, &pk, "other label", &s.content, &fresh).is_ok() {
        return Err("signature verified under another label".into());
    }
    Ok(())
}

fn check_encryption(cs: &dyn CipherSuiteProvider, x: &EncryptWithLabel) -> Result<(), String> {
    let sk = Secret::from_slice(&x.private);
    let pk = HpkePublicKey(VarBytes::from(x.public.0.clone()));
    let derived = cs
        .kem_public_key(&sk)
        .map_err(|e| format!("HPKE public key: {e}"))?;
    same("HPKE public key", &derived.0, &pk.0)?;
    let given = HpkeCiphertext {
        kem_output: VarBytes::from(x.kem_output.0.clone()),
        ciphertext: VarBytes::from(x.ciphertext.0.clone()),
    };
    let pt = labels::decrypt_with_label(cs, &sk, &x.label, &x.context, &given)
        .map_err(|e| format!("decrypt given: {e}"))?;
    same("decrypted plaintext", &pt, &x.plaintext)?;
    let fresh = labels::encrypt_with_label(cs, &pk, &x.label, &x.context, &x.plaintext)
        .map_err(|e| format!("encrypt: {e}"))?;
    let pt = labels::decrypt_with_label(cs, &sk, &x.label, &x.context, &fresh)
        .map_err(|e| format!("decrypt fresh: {e}"))?;
    same("round-trip plaintext", &pt, &x.plaintext)
}
