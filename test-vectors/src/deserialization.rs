//! `deserialization.json`: RFC 9420 §2.1.2 variable-length vector headers (1, 2 and 4 bytes,
//! shortest form).

use mls_engine::codec::{read_varint, write_varint};
use serde::Deserialize;

use crate::HexBytes;

/// One case: a header and the length it encodes.
#[derive(Deserialize)]
pub(crate) struct Case {
    vlbytes_header: HexBytes,
    length: u64,
}

pub(crate) fn check(case: &Case) -> Result<(), String> {
    let (len, rest) = read_varint(&case.vlbytes_header).map_err(|e| format!("decode: {e:?}"))?;
    if !rest.is_empty() {
        return Err("header has trailing bytes".into());
    }
    if u64::try_from(len).ok() != Some(case.length) {
        return Err(format!("decoded {len}, expected {}", case.length));
    }
    let want = usize::try_from(case.length).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    write_varint(&mut out, want).map_err(|e| format!("encode: {e:?}"))?;
    if out != case.vlbytes_header.0 {
        return Err(format!("encoded {}", hex::encode(&out)));
    }
    Ok(())
}
