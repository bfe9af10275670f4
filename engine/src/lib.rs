//! mls-engine: a Messaging Layer Security (RFC 9420) engine for very large groups.
//!
//! The protocol core does no I/O, reads no clock and calls no storage: time comes in as a
//! parameter and state goes out as bytes.

pub mod codec;
pub mod crypto;
pub mod messages;
mod pool;
pub mod tree_math;

pub mod framing;
pub mod group;
pub mod key_schedule;
pub mod psk;
pub mod secret_tree;
pub mod transcript_hash;
pub mod tree;
pub mod welcome;
