//! Fuzz target: an official valid ratchet tree's encoding edited by the input, imported,
//! hashed node by node and validated (§7.9.2, §12.4.3.1) as a joiner does; no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mls_engine_fuzz::tree::validate_edited_tree(data);
});
