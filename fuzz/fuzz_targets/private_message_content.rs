//! Fuzz target: the first byte picks a content type, the rest is decoded as a
//! `PrivateMessageContent` plaintext; re-encoding must give it back (padding included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mls_engine::messages::{ContentType, PrivateMessageContent};

fuzz_target!(|data: &[u8]| {
    let Some((&content_type, plaintext)) = data.split_first() else {
        return;
    };
    if let Ok(value) = PrivateMessageContent::decode(ContentType(content_type % 5), plaintext) {
        let again = value.to_bytes().expect("a decoded value must encode");
        assert_eq!(again, plaintext, "re-encoding differs from the input");
    }
});
