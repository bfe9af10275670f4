//! Child process of the crash test (`tests/crash.rs`): opens a redb store, replays a script
//! of commits over many groups one batch (one commit per group) at a time, and prints
//! `ACK <group index> <epoch> <item id>` for each item as soon as its transaction committed.
//! The test kills it with SIGKILL mid-batch.
//!
//! Usage: `crash_child <store.redb> <script>`; the script is [`mls_batch::fixture::frames`]:
//! the number of rounds (u64 big-endian), then per group its id and one commit per round.

use std::io::Write;

use mls_batch::fixture::frames;
use mls_batch::{BatchEngine, BatchError, EngineConfig, Op, Output, RedbStore, WorkItem};
use mls_engine::crypto::AwsLcProvider;

fn run() -> Result<(), BatchError> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(db), Some(script)) = (args.get(1), args.get(2)) else {
        return Err(BatchError::Setup(
            "usage: crash_child <store> <script>".into(),
        ));
    };
    let script = std::fs::read(script).map_err(|e| BatchError::Setup(e.to_string()))?;
    let f = frames(&script)?;
    let (rounds, rest) = f
        .split_first()
        .ok_or_else(|| BatchError::Decode("empty script".into()))?;
    let rounds = usize::try_from(u64::from_be_bytes(
        rounds
            .first_chunk::<8>()
            .copied()
            .ok_or_else(|| BatchError::Decode("bad round count".into()))?,
    ))
    .map_err(|e| BatchError::Decode(e.to_string()))?;
    let groups: Vec<&[&[u8]]> = rest.chunks(rounds + 1).collect();
    let store = RedbStore::open(db)?;
    let mut engine = BatchEngine::new(
        Box::new(AwsLcProvider::new()),
        store,
        EngineConfig {
            threads: 2,
            channel_capacity: 4,
            ..EngineConfig::default()
        },
    )?;
    let index_of = |gid: &[u8]| groups.iter().position(|g| g.first() == Some(&gid));
    for round in 0..rounds {
        let items = groups
            .iter()
            .enumerate()
            .filter_map(|(g, frames)| {
                Some(WorkItem {
                    id: (g * 10_000 + round) as u64,
                    group_id: frames.first()?.to_vec(),
                    op: Op::Process(frames.get(round + 1)?.to_vec()),
                })
            })
            .collect();
        let results = engine.run_batch_with_ack(items, &|gid, r| {
            if let (Some(g), Ok(Output::CommitApplied { epoch })) = (index_of(gid), &r.result) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ACK {g} {epoch} {}", r.id);
                let _ = out.flush();
            }
        });
        if let Some(bad) = results.iter().find(|r| r.result.is_err()) {
            return Err(BatchError::Setup(format!("item failed: {bad:?}")));
        }
    }
    println!("DONE");
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("crash_child: {e}");
        std::process::exit(1);
    }
}
