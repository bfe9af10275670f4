//! Peak RSS of a process that creates a group of N and joins it, with `openmls_peer` only:
//! `cargo run --release -p mls-peers --bin peak_rss_openmls -- N`. See [`mls_peers::rss`].

use mls_peers::openmls_peer::{OpenMlsClient, NAME};

fn main() -> std::process::ExitCode {
    mls_peers::rss::main_for(NAME, |identity| Ok(Box::new(OpenMlsClient::new(identity)?)))
}
