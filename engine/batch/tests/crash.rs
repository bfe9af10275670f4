//! Crash safety: a child process runs batches over many groups against a redb file and is
//! killed with SIGKILL mid-batch; every group must then load at its last acknowledged epoch
//! or one more, every acknowledged output must be in the store, and each group must still
//! process the next commit to the same epoch authenticator as a reference member that lived
//! outside the killed process.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use mls_batch::fixture::{self, bundle, group_pair, path_commit, put_frame};
use mls_batch::{BatchEngine, EngineConfig, Op, Output, RedbStore, Store, WorkItem};
use mls_engine::crypto::AwsLcProvider;

const GROUPS: usize = 16;
const ROUNDS: usize = 30;
/// Acknowledgements to wait for before the kill.
const KILL_AFTER: usize = 40;

fn engine(store: RedbStore) -> BatchEngine<RedbStore> {
    BatchEngine::new(
        Box::new(AwsLcProvider::new()),
        store,
        EngineConfig {
            threads: 2,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

#[test]
fn sigkill_mid_batch_loses_nothing_acknowledged() {
    let cs = fixture::suite().unwrap();
    let dir = std::env::temp_dir().join(format!("mls-batch-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("store.redb");
    let script_path = dir.join("script");

    // The reference members (creators, leaf 0) stay here; the engine-side members (leaf 1)
    // go to the store. Each round, every reference member makes one path commit.
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<_> = (0..2)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let e = engine(RedbStore::open(&db).unwrap());
    let mut script = Vec::new();
    put_frame(&mut script, &(ROUNDS as u64).to_be_bytes());
    let mut commits: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut authenticators: Vec<Vec<Vec<u8>>> = Vec::new();
    for g in 0..GROUPS {
        let gid = format!("crash-{g}").into_bytes();
        let (mut a, b) = group_pair(cs, &gid, &creator, &pool, 3).unwrap();
        assert_eq!(b.epoch(), 1);
        e.add_member(b).unwrap();
        put_frame(&mut script, &gid);
        let (mut cs_g, mut auth_g) = (Vec::new(), Vec::new());
        // One commit more than the child gets: the post-crash check uses it.
        for _ in 0..=ROUNDS {
            cs_g.push(path_commit(cs, &mut a).unwrap());
            auth_g.push(a.epoch_authenticator().as_bytes().to_vec());
        }
        for c in &cs_g[..ROUNDS] {
            put_frame(&mut script, c);
        }
        commits.push(cs_g);
        authenticators.push(auth_g);
    }
    // The snapshots written by add_member: a group whose stored snapshot differs after the
    // crash was compacted by the child.
    let initial: Vec<Vec<u8>> = (0..GROUPS)
        .map(|g| {
            let gid = format!("crash-{g}").into_bytes();
            e.store().load(&gid).unwrap().unwrap().snapshot
        })
        .collect();
    drop(e);
    std::fs::write(&script_path, &script).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
        .arg(&db)
        .arg(&script_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: HashMap<usize, (u64, Vec<u64>)> = HashMap::new();
    let mut record = |line: &str| {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["ACK", g, epoch, id] = parts.as_slice() {
            let e = acked.entry(g.parse().unwrap()).or_insert((1, Vec::new()));
            e.0 = e.0.max(epoch.parse().unwrap());
            e.1.push(id.parse().unwrap());
            return true;
        }
        assert_ne!(line, "DONE", "the child finished before it was killed");
        false
    };
    let mut seen = 0;
    while seen < KILL_AFTER {
        let line = lines.next().expect("child ended early").unwrap();
        seen += usize::from(record(&line));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    // Acknowledgements already in the pipe were printed before the kill: they count too.
    for line in lines {
        record(&line.unwrap());
    }

    // Reopen the store after the crash.
    let mut e = engine(RedbStore::open(&db).unwrap());
    let (mut ahead, mut with_deltas, mut compacted) = (0, 0, 0);
    for g in 0..GROUPS {
        let gid = format!("crash-{g}").into_bytes();
        let (last_acked, ids) = acked.get(&g).cloned().unwrap_or((1, Vec::new()));
        let stored = e.store().load(&gid).unwrap().expect("group lost");
        assert!(
            stored.epoch == last_acked || stored.epoch == last_acked + 1,
            "group {g}: stored epoch {} but last acknowledged {last_acked}",
            stored.epoch
        );
        ahead += usize::from(stored.epoch > last_acked);
        with_deltas += usize::from(!stored.deltas.is_empty());
        compacted += usize::from(stored.snapshot != initial[g]);
        for id in ids {
            assert!(
                e.store().output(&gid, id).unwrap().is_some(),
                "group {g}: acknowledged item {id} lost"
            );
        }
        // The next commit applies and agrees with the reference member.
        let next = usize::try_from(stored.epoch - 1).unwrap();
        let r = e.run_batch(vec![WorkItem {
            id: 1_000_000,
            group_id: gid.clone(),
            op: Op::Process(commits[g][next].clone()),
        }]);
        assert_eq!(
            r[0].result,
            Ok(Output::CommitApplied {
                epoch: stored.epoch + 1
            }),
            "group {g}"
        );
        let auth = e
            .with_member(&gid, |m| m.epoch_authenticator().as_bytes().to_vec())
            .unwrap();
        assert_eq!(
            auth, authenticators[g][next],
            "group {g}: epoch authenticator"
        );
    }
    // The reload above went through snapshot + deltas, and the child compacted.
    assert!(with_deltas > 0, "no group had deltas in the store");
    assert!(compacted > 0, "no group was compacted");
    let epochs: std::collections::BTreeSet<u64> = acked.values().map(|(e, _)| *e).collect();
    eprintln!(
        "crash test: {} groups acknowledged, last acknowledged epochs {epochs:?} (more than one: \
         killed mid-batch), {ahead} group(s) one epoch ahead of their last ack, {with_deltas} loaded from \
         snapshot + deltas, {compacted} compacted",
        acked.len()
    );
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
