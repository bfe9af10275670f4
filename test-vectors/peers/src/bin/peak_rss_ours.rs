//! Peak RSS of a process that creates a group of N and joins it, with `ours` only:
//! `cargo run --release -p mls-peers --bin peak_rss_ours -- N`. See [`mls_peers::rss`].

use mls_peers::ours::{OursClient, NAME};

fn main() -> std::process::ExitCode {
    mls_peers::rss::main_for(NAME, |identity| Ok(Box::new(OursClient::new(identity)?)))
}
