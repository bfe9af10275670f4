//! Group policy: lifetime checks, epoch retention, secret-tree bounds and padding.
//!
//! Policy lives here, not in code paths: every knob has a default suited to live traffic
//! (lifetimes checked, a few past epochs kept) and the caller may change it at any time.

use crate::framing::PaddingPolicy;
use crate::secret_tree::SecretTreeConfig;
use crate::tree::LifetimePolicy;

/// Policy for one group. Serialised with the group state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// Whether leaf lifetimes are checked, and the current time (RFC 9420 §7.3). The core
    /// reads no clock: the caller keeps `now` current with [`GroupConfig::at_time`] or
    /// `Group::set_time`. Default: checked, at time 0 (so a caller who never sets the time
    /// fails closed on KeyPackages whose lifetime starts later).
    pub lifetime: LifetimePolicy,
    /// How many past epochs keep their secret tree (for late application messages).
    pub epoch_retention: usize,
    /// How many past epochs' resumption PSKs are kept (RFC 9420 §8.6).
    pub resumption_psk_retention: usize,
    /// Out-of-order bounds of the secret tree (RFC 9420 §9).
    pub secret_tree: SecretTreeConfig,
    /// Padding of PrivateMessages we send.
    pub padding: PaddingPolicy,
    /// Whether handshake messages we send are PrivateMessages (else PublicMessages).
    pub encrypt_handshake: bool,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            lifetime: LifetimePolicy::Check { now: 0 },
            epoch_retention: 3,
            resumption_psk_retention: 16,
            secret_tree: SecretTreeConfig::default(),
            padding: PaddingPolicy::default(),
            encrypt_handshake: false,
        }
    }
}

impl GroupConfig {
    /// The same policy with lifetimes checked at `now` (seconds since the Unix epoch).
    pub fn at_time(mut self, now: u64) -> Self {
        self.lifetime = LifetimePolicy::Check { now };
        self
    }

    /// The same policy with the lifetime check off (stored or replayed data, test vectors).
    pub fn without_lifetime_check(mut self) -> Self {
        self.lifetime = LifetimePolicy::Ignore;
        self
    }
}
