//! Batch engine behaviour: per-item results, isolation of bad items and groups, both roles,
//! Welcomes, the observer's first-commit-wins rule, and consume-once KeyPackages.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use std::sync::{Arc, Barrier, Mutex};

use mls_batch::fixture::{self, bundle, group_pair, key_package_message, observer_of, path_commit};
use mls_batch::key_packages::{KeyPackageStore, MemKeyPackages, RedbKeyPackages};
use mls_batch::store::{StoredGroup, Transition, WriteStats};
use mls_batch::{
    BatchEngine, BatchError, CommitRequest, EngineConfig, MemStore, ObserverError, Op, Output,
    RedbStore, Store, StoreError, WorkItem,
};
use mls_engine::codec::{decode_exact, encode};
use mls_engine::crypto::{AwsLcProvider, CipherSuiteProvider};
use mls_engine::group::{Group, JoinOptions, KeyPackageBundle, ProcessedMessage};
use mls_engine::messages::{MlsMessage, MlsMessageBody};
use mls_engine::tree_math::LeafIndex;

fn engine(threads: usize) -> BatchEngine<MemStore> {
    BatchEngine::new(
        Box::new(AwsLcProvider::new()),
        MemStore::new(),
        EngineConfig {
            threads,
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

struct Fixture {
    cs: &'static dyn CipherSuiteProvider,
    creator: KeyPackageBundle,
    pool: Vec<KeyPackageBundle>,
}

fn setup(pool: usize) -> Fixture {
    let cs = fixture::suite().unwrap();
    Fixture {
        cs,
        creator: bundle(cs, "creator").unwrap(),
        pool: (0..pool)
            .map(|i| bundle(cs, &format!("m{i}")).unwrap())
            .collect(),
    }
}

fn gid(i: usize) -> Vec<u8> {
    format!("group-{i}").into_bytes()
}

#[test]
fn member_batch_isolates_bad_items_and_groups() {
    let f = setup(3);
    let mut e = engine(2);
    let mut committers = Vec::new();
    for i in 0..4 {
        let (a, b) = group_pair(f.cs, &gid(i), &f.creator, &f.pool, 4).unwrap();
        e.add_member(b).unwrap();
        committers.push(a);
    }
    let mut items = Vec::new();
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    for (i, a) in committers.iter_mut().enumerate() {
        let c1 = path_commit(f.cs, a).unwrap();
        let app = encode(&a.encrypt_application(f.cs, b"hi", b"").unwrap()).unwrap();
        let c2 = path_commit(f.cs, a).unwrap();
        items.push(item(next(), &gid(i), Op::Process(c1.clone())));
        // Garbage, then a replay of an applied commit: both refused, neither poisons.
        items.push(item(next(), &gid(i), Op::Process(vec![0, 1, 2])));
        items.push(item(next(), &gid(i), Op::Process(c1)));
        items.push(item(next(), &gid(i), Op::Process(app)));
        items.push(item(next(), &gid(i), Op::Process(c2)));
        items.push(item(
            next(),
            &gid(i),
            Op::Protect {
                data: b"reply".to_vec(),
                authenticated_data: vec![],
            },
        ));
    }
    items.push(item(next(), b"nope", Op::Process(vec![1])));
    items.push(item(
        next(),
        b"nope",
        Op::Protect {
            data: vec![],
            authenticated_data: vec![],
        },
    ));
    let results = e.run_batch(items);
    assert_eq!(results.len(), 4 * 6 + 2);
    for (i, a) in committers.iter_mut().enumerate() {
        let r = &results[i * 6..i * 6 + 6];
        assert_eq!(r[0].result, Ok(Output::CommitApplied { epoch: 2 }));
        assert!(matches!(r[1].result, Err(BatchError::Decode(_))));
        assert!(
            matches!(r[2].result, Err(BatchError::Group(_))),
            "{:?}",
            r[2]
        );
        assert!(matches!(&r[3].result, Ok(Output::Application { data, .. }) if data == b"hi"));
        assert_eq!(r[4].result, Ok(Output::CommitApplied { epoch: 3 }));
        let Ok(Output::Protected(ct)) = &r[5].result else {
            panic!("{:?}", r[5])
        };
        let ct: MlsMessage = decode_exact(ct).unwrap();
        match a.process_message(f.cs, ct).unwrap() {
            ProcessedMessage::Application { data, .. } => assert_eq!(data, b"reply"),
            _ => panic!(),
        }
        let auth = e
            .with_member(&gid(i), |g| g.epoch_authenticator().clone())
            .unwrap();
        assert_eq!(&auth, a.epoch_authenticator());
        // Stored at the last epoch, outputs acknowledged with it.
        assert_eq!(e.store().load(&gid(i)).unwrap().unwrap().epoch, 3);
        assert!(e.store().output(&gid(i), r[4].id).unwrap().is_some());
        assert!(e.store().output(&gid(i), r[1].id).unwrap().is_none());
    }
    // The unknown group fails alone; decode errors come first.
    assert!(matches!(results[24].result, Err(BatchError::Decode(_))));
    assert_eq!(results[25].result, Err(BatchError::UnknownGroup));
    // Reloading from the store gives the same state.
    e.evict_all();
    let auth = e
        .with_member(&gid(0), |g| g.epoch_authenticator().clone())
        .unwrap();
    assert_eq!(&auth, committers[0].epoch_authenticator());
}

#[test]
fn member_commits_with_adds_removes_and_welcome() {
    let f = setup(4);
    let mut e = engine(2);
    let (mut a, b) = group_pair(f.cs, b"g", &f.creator, &f.pool, 3).unwrap();
    e.add_member(b).unwrap();
    let joiner = bundle(f.cs, "joiner").unwrap();
    let r = e.run_batch(vec![item(
        7,
        b"g",
        Op::Commit(CommitRequest {
            add: vec![key_package_message(&joiner).unwrap()],
            remove: vec![2],
            update: true,
            include_pending: true,
        }),
    )]);
    let Ok(Output::Committed {
        epoch,
        commit,
        welcome: Some(welcome),
    }) = &r[0].result
    else {
        panic!("{:?}", r[0])
    };
    assert_eq!(*epoch, 2);
    let commit: MlsMessage = decode_exact(commit).unwrap();
    match a.process_message(f.cs, commit).unwrap() {
        ProcessedMessage::Commit(s) => a.merge_staged_commit(*s).unwrap(),
        _ => panic!(),
    }
    let welcome: MlsMessage = decode_exact(welcome).unwrap();
    let MlsMessageBody::Welcome(w) = &welcome.body else {
        panic!()
    };
    let j = Group::join(
        f.cs,
        w,
        &joiner,
        JoinOptions {
            config: fixture::config(),
            ..JoinOptions::default()
        },
    )
    .unwrap();
    assert_eq!(j.epoch_authenticator(), a.epoch_authenticator());
    assert!(
        a.member(LeafIndex(2)).is_some(),
        "joiner took the removed leaf"
    );
    // The engine's output is the acknowledged one in the store.
    assert!(e.store().output(b"g", 7).unwrap().is_some());
}

#[test]
fn observer_tracks_commits_and_refuses_stale_epochs() {
    let f = setup(6);
    let mut e = engine(2);
    let (mut a, b) = group_pair(f.cs, b"obs", &f.creator, &f.pool, 5).unwrap();
    e.add_observer(observer_of(f.cs, &a).unwrap()).unwrap();
    // Epoch 1 -> 2: two commits for the same epoch; the first one delivered wins.
    let (sa, ca) = {
        let out = a
            .commit(
                f.cs,
                mls_engine::group::CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
            )
            .unwrap();
        (out.staged, encode(&out.commit).unwrap())
    };
    let cb = {
        let out = b
            .commit(
                f.cs,
                mls_engine::group::CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
            )
            .unwrap();
        encode(&out.commit).unwrap()
    };
    a.merge_staged_commit(sa).unwrap();
    // Proposals by reference (Remove) and by value (Add) in the next commit.
    let joiner = bundle(f.cs, "joiner").unwrap();
    let (remove, _) = a.propose_remove(f.cs, LeafIndex(3)).unwrap();
    let remove_bytes = encode(&remove).unwrap();
    let out = a
        .commit(
            f.cs,
            mls_engine::group::CommitOptions {
                proposals: vec![mls_engine::messages::Proposal::Add(
                    mls_engine::messages::Add {
                        key_package: joiner.key_package.clone(),
                    },
                )],
                group_info_for_external: true,
                ..Default::default()
            },
        )
        .unwrap();
    let c3 = encode(&out.commit).unwrap();
    let gi = encode(out.group_info.as_ref().unwrap()).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    // A flipped bit in the signed content is caught. (One in the confirmation tag would not
    // be: that tag is unsigned and only checkable with the epoch's secrets.)
    let mut tampered = c3.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    let r = e.run_batch(vec![
        item(1, b"obs", Op::Process(ca)),
        item(2, b"obs", Op::Process(cb)),
        item(3, b"obs", Op::Process(remove_bytes)),
        item(4, b"obs", Op::Process(tampered)),
        item(5, b"obs", Op::Process(c3)),
        item(6, b"obs", Op::PublishGroupInfo(gi)),
        item(
            7,
            b"obs",
            Op::Protect {
                data: vec![],
                authenticated_data: vec![],
            },
        ),
    ]);
    assert_eq!(r[0].result, Ok(Output::CommitApplied { epoch: 2 }));
    assert_eq!(
        r[1].result,
        Err(BatchError::Observer(ObserverError::StaleEpoch {
            current: 2,
            got: 1
        }))
    );
    assert_eq!(r[2].result, Ok(Output::ProposalCached));
    assert!(
        matches!(r[3].result, Err(BatchError::Observer(_))),
        "{:?}",
        r[3]
    );
    assert_eq!(r[4].result, Ok(Output::CommitApplied { epoch: 3 }));
    assert_eq!(r[5].result, Ok(Output::GroupInfoAccepted));
    assert!(matches!(r[6].result, Err(BatchError::WrongRole(_))));
    // The observer's GroupContext (tree hash, transcript hash) is every member's.
    let ctx = e.with_observer(b"obs", |o| o.context().clone()).unwrap();
    assert_eq!(&ctx, a.context());
    // Reloaded from the store, it serves GroupInfo and tree and keeps tracking.
    e.evict_all();
    let (gi, tree) = e
        .with_observer(b"obs", |o| (o.group_info().cloned(), o.ratchet_tree()))
        .unwrap();
    assert_eq!(gi.unwrap().group_context, *a.context());
    assert_eq!(tree, a.tree().to_wire());
    let c4 = path_commit(f.cs, &mut a).unwrap();
    let r = e.run_batch(vec![item(8, b"obs", Op::Process(c4))]);
    assert_eq!(r[0].result, Ok(Output::CommitApplied { epoch: 4 }));
    assert_eq!(
        &e.with_observer(b"obs", |o| o.context().clone()).unwrap(),
        a.context()
    );
}

#[test]
fn observer_follows_update_by_reference_and_commits_from_other_members() {
    let f = setup(4);
    let mut e = engine(1);
    let (mut a, mut b) = group_pair(f.cs, b"upd", &f.creator, &f.pool, 4).unwrap();
    e.add_observer(observer_of(f.cs, &a).unwrap()).unwrap();
    // b proposes an Update; a commits it by reference; b commits next.
    let (upd, _) = b.propose_update(f.cs).unwrap();
    assert!(matches!(
        a.process_message(f.cs, upd.clone()).unwrap(),
        ProcessedMessage::Proposal(_)
    ));
    let out = a
        .commit(f.cs, mls_engine::group::CommitOptions::default())
        .unwrap();
    let c1 = encode(&out.commit).unwrap();
    a.merge_staged_commit(out.staged).unwrap();
    match b.process_message(f.cs, out.commit).unwrap() {
        ProcessedMessage::Commit(s) => b.merge_staged_commit(*s).unwrap(),
        _ => panic!(),
    }
    let c2 = path_commit(f.cs, &mut b).unwrap();
    let r = e.run_batch(vec![
        item(1, b"upd", Op::Process(encode(&upd).unwrap())),
        item(2, b"upd", Op::Process(c1)),
        item(3, b"upd", Op::Process(c2)),
    ]);
    assert_eq!(r[0].result, Ok(Output::ProposalCached));
    assert_eq!(r[1].result, Ok(Output::CommitApplied { epoch: 2 }));
    assert_eq!(r[2].result, Ok(Output::CommitApplied { epoch: 3 }));
    assert_eq!(
        &e.with_observer(b"upd", |o| o.context().clone()).unwrap(),
        b.context()
    );
}

/// A store whose writes for one group fail from some epoch on.
struct FailingStore {
    inner: MemStore,
    group: Vec<u8>,
    from_epoch: u64,
}

impl Store for FailingStore {
    fn load(&self, g: &[u8]) -> Result<Option<StoredGroup>, StoreError> {
        self.inner.load(g)
    }
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.group_ids()
    }
    fn commit_transition(&self, t: &Transition<'_>) -> Result<(), StoreError> {
        if t.group_id == self.group.as_slice() && t.epoch >= self.from_epoch {
            return Err(StoreError::Backend("disk full".into()));
        }
        self.inner.commit_transition(t)
    }
    fn output(&self, g: &[u8], id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.output(g, id)
    }
    fn stats(&self) -> WriteStats {
        self.inner.stats()
    }
}

#[test]
fn store_failure_fails_only_that_group_and_reloads_it() {
    let f = setup(2);
    let mut e = BatchEngine::new(
        Box::new(AwsLcProvider::new()),
        FailingStore {
            inner: MemStore::new(),
            group: gid(0),
            from_epoch: 3,
        },
        EngineConfig::default(),
    )
    .unwrap();
    let mut refs = Vec::new();
    for i in 0..2 {
        let (a, b) = group_pair(f.cs, &gid(i), &f.creator, &f.pool, 3).unwrap();
        e.add_member(b).unwrap();
        refs.push(a);
    }
    let mut items = Vec::new();
    for (i, a) in refs.iter_mut().enumerate() {
        for round in 0..3 {
            items.push(item(
                (i * 10 + round) as u64,
                &gid(i),
                Op::Process(path_commit(f.cs, a).unwrap()),
            ));
        }
    }
    let r = e.run_batch(items);
    // Group 0: epoch 2 stored; epoch 3 refused by the store; the next item not applied.
    assert_eq!(r[0].result, Ok(Output::CommitApplied { epoch: 2 }));
    assert!(
        matches!(r[1].result, Err(BatchError::Store(_))),
        "{:?}",
        r[1]
    );
    assert_eq!(r[2].result, Err(BatchError::GroupUnavailable));
    // Group 1 is untouched by group 0's failure.
    for x in &r[3..6] {
        assert!(x.result.is_ok(), "{x:?}");
    }
    // Group 0 was dropped from memory and reloads at its last stored epoch.
    assert_eq!(e.epoch(&gid(0)).unwrap(), 2);
    assert_eq!(e.epoch(&gid(1)).unwrap(), 4);
}

fn race(store: Arc<dyn KeyPackageStore>) {
    const KPS: usize = 64;
    const THREADS: usize = 8;
    for i in 0..KPS {
        store
            .insert(format!("kp{i}").as_bytes(), &[i as u8], false)
            .unwrap();
    }
    store.insert(b"last", b"resort", true).unwrap();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let last_count: Arc<Mutex<usize>> = Arc::default();
    let barrier = Arc::new(Barrier::new(THREADS));
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (store, got, barrier, last_count) = (
                store.clone(),
                got.clone(),
                barrier.clone(),
                last_count.clone(),
            );
            s.spawn(move || {
                barrier.wait();
                // Every thread tries every KeyPackage, and the last-resort one.
                for i in 0..KPS {
                    if let Some(kp) = store.consume(format!("kp{i}").as_bytes()).unwrap() {
                        got.lock().unwrap().push(kp);
                    }
                    if i % 16 == 0 {
                        assert_eq!(store.consume(b"last").unwrap().unwrap(), b"resort");
                        *last_count.lock().unwrap() += 1;
                    }
                }
            });
        }
    });
    let mut got = got.lock().unwrap().clone();
    got.sort();
    let want: Vec<Vec<u8>> = (0..KPS).map(|i| vec![i as u8]).collect();
    assert_eq!(got, want, "each KeyPackage handed out exactly once");
    assert_eq!(*last_count.lock().unwrap(), THREADS * KPS / 16);
    assert!(store.consume(b"kp0").unwrap().is_none());
}

#[test]
fn key_packages_consumed_once_under_concurrency() {
    race(Arc::new(MemKeyPackages::new()));
    let path = std::env::temp_dir().join(format!("mls-batch-kp-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = RedbStore::open(&path).unwrap();
    race(Arc::new(RedbKeyPackages::new(db.database()).unwrap()));
    drop(db);
    let _ = std::fs::remove_file(&path);
}
