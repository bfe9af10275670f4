//! Peak RSS of a process that creates a group of N and joins it, with `mls_rs_peer` only:
//! `cargo run --release -p mls-peers --bin peak_rss_mls_rs -- N`. See [`mls_peers::rss`].

use mls_peers::mls_rs_peer::{MlsRsClient, NAME};

fn main() -> std::process::ExitCode {
    mls_peers::rss::main_for(NAME, |identity| Ok(Box::new(MlsRsClient::new(identity)?)))
}
