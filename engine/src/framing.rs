//! Message protection (RFC 9420 §6): PublicMessage and PrivateMessage protect and unprotect.

use crate::crypto::labels::expand_with_label;
use crate::crypto::{CipherSuiteProvider, CryptoError, Secret};

/// `sender_data_key` and `sender_data_nonce` (§6.3.2) for a PrivateMessage `ciphertext`: the
/// sample is its first `KDF.Nh` bytes, or all of it when shorter.
pub fn sender_data_key_nonce(
    cs: &dyn CipherSuiteProvider,
    sender_data_secret: &Secret,
    ciphertext: &[u8],
) -> Result<(Secret, Secret), CryptoError> {
    let sample = &ciphertext[..ciphertext.len().min(cs.hash_len())];
    let key = expand_with_label(
        cs,
        sender_data_secret.as_bytes(),
        "key",
        sample,
        cs.aead_key_len(),
    )?;
    let nonce = expand_with_label(
        cs,
        sender_data_secret.as_bytes(),
        "nonce",
        sample,
        cs.aead_nonce_len(),
    )?;
    Ok((key, nonce))
}
