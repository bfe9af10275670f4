//! Hex-encoded byte strings as the vector files write them.

use serde::{Deserialize, Deserializer};

/// Bytes written in a vector file as a hex string.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct HexBytes(pub Vec<u8>);

impl std::ops::Deref for HexBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}
