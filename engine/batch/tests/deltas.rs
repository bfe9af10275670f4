//! Per-epoch deltas in the store: a group reloaded from snapshot + deltas is byte-for-byte
//! the live group (member and observer, both stores, across adds, removes, updates, cached
//! proposals and compactions), and the state bytes a commit writes do not grow with the
//! group's size beyond O(log N).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mls_batch::fixture::{self, bundle, group_pair, observer_of, path_commit};
use mls_batch::store::WriteStats;
use mls_batch::{BatchEngine, EngineConfig, MemStore, Op, Output, RedbStore, Store, WorkItem};
use mls_engine::codec::encode;
use mls_engine::crypto::{AwsLcProvider, CipherSuiteProvider};
use mls_engine::group::{CommitOptions, Group, KeyPackageBundle};
use mls_engine::messages::{Add, Proposal, Remove};
use mls_engine::tree_math::LeafIndex;

fn engine<S: Store>(store: S) -> BatchEngine<S> {
    BatchEngine::new(
        Box::new(AwsLcProvider::new()),
        store,
        EngineConfig {
            threads: 1,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

fn item(id: u64, group: &[u8], op: Op) -> WorkItem {
    WorkItem {
        id,
        group_id: group.to_vec(),
        op,
    }
}

/// Commits `proposals` from `a` (with a path), merges it, returns the encoded commit.
fn commit(cs: &dyn CipherSuiteProvider, a: &mut Group, proposals: Vec<Proposal>) -> Vec<u8> {
    let out = a
        .commit(
            cs,
            CommitOptions {
                proposals,
                include_pending: true,
                force_path: true,
                ..CommitOptions::default()
            },
        )
        .unwrap();
    let bytes = encode(&out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    bytes
}

/// The engine's state of `gid`, then again after evicting it (reloaded from the store).
fn live_and_reloaded<S: Store>(e: &BatchEngine<S>, gid: &[u8], member: bool) -> (Vec<u8>, Vec<u8>) {
    let get = || {
        if member {
            e.with_member(gid, |g| g.to_bytes().unwrap()).unwrap()
        } else {
            e.with_observer(gid, |o| o.to_bytes().unwrap()).unwrap()
        }
    };
    let live = get();
    e.evict(gid);
    (live, get())
}

fn run_many_epochs<S: Store>(member_store: S, observer_store: S) -> (WriteStats, WriteStats) {
    let cs = fixture::suite().unwrap();
    let gid = b"deltas".to_vec();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..12)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, b) = group_pair(cs, &gid, &creator, &pool, 12).unwrap();
    let mut m = engine(member_store);
    let mut o = engine(observer_store);
    o.add_observer(observer_of(cs, &a).unwrap()).unwrap();
    m.add_member(b).unwrap();
    let mut id = 0u64;
    for round in 0..40u32 {
        let mut ops = Vec::new();
        let proposals = match round % 5 {
            // Adds (the tree grows), one by value and one by reference (a cached
            // proposal: a same-epoch delta first).
            0 => {
                let (msg, _) = a
                    .propose_add(cs, bundle(cs, &format!("p{round}")).unwrap().key_package)
                    .unwrap();
                ops.push(Op::Process(encode(&msg).unwrap()));
                vec![Proposal::Add(Add {
                    key_package: bundle(cs, &format!("n{round}")).unwrap().key_package,
                })]
            }
            // Remove the rightmost member other than 0 and 1 (truncation when it is last).
            1 | 3 => {
                let last = a
                    .tree()
                    .leaves()
                    .map(|(l, _)| l)
                    .filter(|l| l.0 > 1)
                    .last()
                    .unwrap();
                vec![Proposal::Remove(Remove { removed: last.0 })]
            }
            // Remove a middle member and add one (fills the blank leaf).
            2 => {
                let mid = a.tree().leaves().map(|(l, _)| l).find(|l| l.0 > 1).unwrap();
                vec![
                    Proposal::Remove(Remove { removed: mid.0 }),
                    Proposal::Add(Add {
                        key_package: bundle(cs, &format!("r{round}")).unwrap().key_package,
                    }),
                ]
            }
            // A path-only update of the committer.
            _ => vec![],
        };
        ops.push(Op::Process(commit(cs, &mut a, proposals)));
        // Application data consumes a key: a same-epoch delta at the end of the batch.
        let app = a.encrypt_application(cs, b"x", b"").unwrap();
        let mut member_ops = ops.clone();
        member_ops.push(Op::Process(encode(&app).unwrap()));
        let items: Vec<WorkItem> = member_ops
            .into_iter()
            .map(|op| {
                id += 1;
                item(id, &gid, op)
            })
            .collect();
        for r in m.run_batch(items) {
            assert!(r.result.is_ok(), "round {round}: {r:?}");
        }
        let items: Vec<WorkItem> = ops
            .into_iter()
            .map(|op| {
                id += 1;
                item(id, &gid, op)
            })
            .collect();
        let results = o.run_batch(items);
        assert_eq!(
            results.last().unwrap().result,
            Ok(Output::CommitApplied { epoch: a.epoch() })
        );
        for (engine_is_member, (live, reloaded)) in [
            (true, live_and_reloaded(&m, &gid, true)),
            (false, live_and_reloaded(&o, &gid, false)),
        ] {
            assert_eq!(live, reloaded, "round {round}, member {engine_is_member}");
        }
        // And the reloaded state agrees with the reference member.
        let tree_hash = m
            .with_member(&gid, |g| g.context().tree_hash.clone())
            .unwrap();
        assert_eq!(tree_hash, a.context().tree_hash);
        assert_eq!(
            o.with_observer(&gid, |ob| ob.context().clone()).unwrap(),
            *a.context()
        );
    }
    assert!(a.member(LeafIndex(1)).is_some());
    (m.store().stats(), o.store().stats())
}

/// Both paths ran: many deltas, and compactions after the first snapshot (in a 12-member
/// group a member's delta, mostly the non-tree state, is half its snapshot).
fn check_stats(s: WriteStats) {
    assert!(s.deltas >= 20, "{s:?}");
    assert!(s.snapshots >= 2, "no compaction: {s:?}");
}

#[test]
fn reload_from_snapshot_and_deltas_equals_live_state_mem() {
    let (m, o) = run_many_epochs(MemStore::new(), MemStore::new());
    check_stats(m);
    check_stats(o);
}

#[test]
fn reload_from_snapshot_and_deltas_equals_live_state_redb() {
    let dir = std::env::temp_dir().join(format!("mls-batch-deltas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (m, o) = run_many_epochs(
        RedbStore::open(dir.join("m.redb")).unwrap(),
        RedbStore::open(dir.join("o.redb")).unwrap(),
    );
    check_stats(m);
    check_stats(o);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-commit state bytes at `n` members over `commits` path commits, after set-up:
/// `(delta bytes per delta, all state bytes per commit incl. compactions, snapshot size)`,
/// for the member and the observer role.
fn bytes_per_commit(n: usize, pool: &[KeyPackageBundle], commits: usize) -> [(u64, u64, u64); 2] {
    let cs = fixture::suite().unwrap();
    let gid = format!("size-{n}").into_bytes();
    let creator = bundle(cs, "creator").unwrap();
    let (mut a, b) = group_pair(cs, &gid, &creator, pool, n).unwrap();
    let mut m = engine(MemStore::new());
    let mut o = engine(MemStore::new());
    o.add_observer(observer_of(cs, &a).unwrap()).unwrap();
    m.add_member(b).unwrap();
    let before = [m.store().stats(), o.store().stats()];
    for i in 0..commits {
        let c = path_commit(cs, &mut a).unwrap();
        for e in [&mut m, &mut o] {
            let r = e.run_batch(vec![item(i as u64, &gid, Op::Process(c.clone()))]);
            assert!(r[0].result.is_ok());
        }
    }
    let after = [m.store().stats(), o.store().stats()];
    let mut out = [(0, 0, 0); 2];
    for k in 0..2 {
        let (s0, s1) = (before[k], after[k]);
        let deltas = s1.deltas - s0.deltas;
        let delta_bytes =
            (s1.state_bytes - s1.snapshot_bytes) - (s0.state_bytes - s0.snapshot_bytes);
        out[k] = (
            delta_bytes / deltas.max(1),
            (s1.state_bytes - s0.state_bytes) / commits as u64,
            s0.snapshot_bytes,
        );
    }
    out
}

/// The state bytes written per commit grow with log N, not N: a path commit at 1,000
/// members writes a delta less than 1.6 times (log 1000 / log 100 = 1.5) the one at 100
/// members, while the snapshot grows about tenfold. Prints the figures.
#[test]
fn bytes_per_commit_do_not_grow_with_group_size() {
    let cs = fixture::suite().unwrap();
    let pool: Vec<KeyPackageBundle> = (0..999)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let small = bytes_per_commit(100, &pool, 12);
    let large = bytes_per_commit(1000, &pool, 12);
    for (role, k) in [("member", 0), ("observer", 1)] {
        let ((d100, all100, s100), (d1000, all1000, s1000)) = (small[k], large[k]);
        eprintln!(
            "{role}: delta bytes per commit 100 members {d100}, 1,000 members {d1000}; \
             state bytes per commit incl. compactions {all100}, {all1000}; \
             snapshot {s100}, {s1000}"
        );
        assert!(d100 > 0 && d1000 > 0);
        assert!(s1000 > 5 * s100, "{role}: snapshot {s100} -> {s1000}");
        assert!(d1000 * 10 < d100 * 16, "{role}: delta {d100} -> {d1000}");
        // Amortised over the compactions, still far below the snapshot per commit.
        assert!(
            all1000 * 10 < s1000,
            "{role}: {all1000} per commit vs snapshot {s1000}"
        );
    }
}

/// Every truncation of an observer delta, a delta replayed twice or onto the wrong base,
/// and byte flips in its tree part are typed errors, never a panic; the intact chain loads.
#[test]
fn corrupt_observer_deltas_refused() {
    use mls_batch::{Observer, ObserverError};
    use mls_engine::codec::decode_exact;
    use mls_engine::messages::MlsMessage;
    let cs = fixture::suite().unwrap();
    let creator = bundle(cs, "creator").unwrap();
    let pool: Vec<KeyPackageBundle> = (0..4)
        .map(|i| bundle(cs, &format!("m{i}")).unwrap())
        .collect();
    let (mut a, _) = group_pair(cs, b"corrupt", &creator, &pool, 4).unwrap();
    let mut ob = observer_of(cs, &a).unwrap();
    let snapshot = ob.to_bytes().unwrap();
    ob.track_changes();
    let mut deltas = Vec::new();
    for _ in 0..2 {
        let c = path_commit(cs, &mut a).unwrap();
        ob.process(cs, &decode_exact::<MlsMessage>(&c).unwrap())
            .unwrap();
        deltas.push(ob.take_delta().unwrap().expect("tracked"));
    }
    let ok = Observer::from_bytes_and_deltas(cs, &snapshot, &deltas).unwrap();
    assert_eq!(ok.to_bytes().unwrap(), ob.to_bytes().unwrap());
    let d1 = &deltas[0];
    for len in 0..d1.len() {
        assert!(
            Observer::from_bytes_and_deltas(cs, &snapshot, &[&d1[..len]]).is_err(),
            "prefix {len}"
        );
    }
    for chain in [vec![&deltas[1]], vec![&deltas[0], &deltas[0]]] {
        assert!(matches!(
            Observer::from_bytes_and_deltas(cs, &snapshot, &chain),
            Err(ObserverError::Corrupt(_))
        ));
    }
    // The base epoch, the tree delta's sizes and first node (after 1 + 4 + 8 + 4 bytes).
    for i in 1..80.min(d1.len()) {
        let mut b = d1.clone();
        b[i] ^= 0xff;
        assert!(
            Observer::from_bytes_and_deltas(cs, &snapshot, &[&b]).is_err(),
            "byte {i}"
        );
    }
}
