//! Shared check for the fuzz targets: decode with `decode_exact`; whatever decodes must
//! re-encode to exactly the input bytes. [`group`] holds the live group the processing targets
//! edit commits for, [`committer`] the group whose committer is sent edited
//! proposals, [`join`] the Welcome the join target edits, [`observer`] the
//! delivery service's observer held to a member, [`tree`] the official trees the
//! validation target edits.

pub mod committer;
pub mod group;
pub mod join;
pub mod observer;
pub mod tree;

use mls_engine::codec::{decode_exact, encode};
use tls_codec::{DeserializeBytes, Serialize, Size};

/// Decodes `data` as `T` and, if that works, asserts the re-encoding is identical.
pub fn round_trip<T: DeserializeBytes + Serialize + Size>(data: &[u8]) {
    if let Ok(value) = decode_exact::<T>(data) {
        let again = encode(&value).expect("a decoded value must encode");
        assert_eq!(again, data, "re-encoding differs from the input");
        assert_eq!(value.tls_serialized_len(), data.len(), "size hint differs");
    }
}
