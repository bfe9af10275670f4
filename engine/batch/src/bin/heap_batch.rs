//! Heap cost of groups held by a [`BatchEngine`], under dhat:
//! `cargo run --release -p mls-batch --features dhat-heap --bin heap_batch -- [GROUPS MEMBERS]`
//! (default: 20 groups of 100 members, then 4 groups of 1,000).
//!
//! For each shape and role (member: a `Group` with secrets; observer: public state), the
//! heap in use is read before and after the groups are added to an engine whose store is
//! `MemStore`; the store's copy of the serialised states is reported separately so the
//! engine's resident cost per group and per member can be read off.

use mls_batch::fixture::{self, bundle, group_pair, observer_of};
use mls_batch::{BatchEngine, BatchError, EngineConfig, MemStore, Observer};
use mls_engine::crypto::AwsLcProvider;
use mls_engine::group::{Group, KeyPackageBundle};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

fn measure(groups: usize, members: usize) -> Result<(), BatchError> {
    let cs = fixture::suite()?;
    let creator = bundle(cs, "creator")?;
    let pool: Vec<KeyPackageBundle> = (1..members)
        .map(|i| bundle(cs, &format!("m{i}")))
        .collect::<Result<_, _>>()?;
    // Serialised first, so that the measured window holds only what loading creates.
    let mut member_states = Vec::new();
    let mut observer_states = Vec::new();
    for i in 0..groups {
        let gid = format!("heap-{members}-{i}").into_bytes();
        let (a, b) = group_pair(cs, &gid, &creator, &pool, members)?;
        observer_states.push(observer_of(cs, &a)?.to_bytes()?);
        member_states.push(b.to_bytes()?);
    }
    drop(pool);
    for role in ["member", "observer"] {
        let engine = BatchEngine::new(
            Box::new(AwsLcProvider::new()),
            MemStore::new(),
            EngineConfig {
                threads: 1,
                ..EngineConfig::default()
            },
        )?;
        let before = heap();
        let mut stored = 0u64;
        // Loaded inside the window: the delta is the live groups plus the store's copy.
        if role == "member" {
            for bytes in &member_states {
                let g = Group::from_bytes(cs, bytes)?;
                stored += bytes.len() as u64;
                engine.add_member(g)?;
            }
        } else {
            for bytes in &observer_states {
                let o = Observer::from_bytes(cs, bytes)?;
                stored += bytes.len() as u64;
                engine.add_observer(o)?;
            }
        }
        let total = heap().saturating_sub(before);
        let in_memory = total.saturating_sub(stored);
        let (g, m) = (groups as u64, (groups * members) as u64);
        println!(
            "{role:<8} {groups:>4} groups x {members:>5} members: engine {:>9} B/group {:>6} B/member; \
             serialised state {:>9} B/group {:>6} B/member",
            in_memory / g,
            in_memory / m,
            stored / g,
            stored / m
        );
        drop(engine);
    }
    Ok(())
}

fn main() -> Result<(), BatchError> {
    let _profiler = dhat::Profiler::builder().testing().build();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    match args.as_slice() {
        [groups, members] => measure(*groups, *members)?,
        _ => {
            measure(20, 100)?;
            measure(4, 1_000)?;
        }
    }
    Ok(())
}
