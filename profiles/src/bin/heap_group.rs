//! Heap profile of a large group under dhat: `cargo run --release -p profiles --bin
//! heap_group -- [N]` (default 100,000 members, suite 1).
//!
//! A creator adds N-1 members by KeyPackage in one commit (no path) and merges it; one of them
//! joins by the Welcome (ratchet tree in the GroupInfo). The heap is read around each step, so
//! the figures are: the creator's and the joiner's resident `Group` per member, and the heap
//! peak above the step's starting point while creating (commit + Welcome) and while joining.
//! The N-1 KeyPackages (the input) are counted separately.
//!
//! dhat keeps one maximum per profiler, so the join is read by a second profiler started just
//! before it: read from the first, the join's peak would be the creation's whenever that was
//! higher. The second sees only what is allocated after it starts (frees of older blocks are
//! ignored), which is what the join adds to the heap.

use std::time::{SystemTime, UNIX_EPOCH};

use mls_engine::crypto::{AwsLcSuite, CipherSuite, CipherSuiteProvider};
use mls_engine::group::{
    generate_key_package, CommitOptions, Group, GroupConfig, JoinOptions, KeyPackageBundle,
    KeyPackageOptions,
};
use mls_engine::messages::{Add, Credential, Proposal};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn bundle(cs: &AwsLcSuite, id: String, now: u64) -> Result<KeyPackageBundle, String> {
    let (signer, _) = cs.signature_generate().map_err(|e| e.to_string())?;
    generate_key_package(
        cs,
        Credential::basic(id.into_bytes()),
        signer,
        KeyPackageOptions::new(now.saturating_sub(3600), now + 86_400),
    )
    .map_err(|e| e.to_string())
}

fn main() -> Result<(), String> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("N must be a number, got {a}"))?,
        None => 100_000,
    };
    if n < 2 {
        return Err("N must be at least 2".into());
    }
    // `HEAP_JSON=create` or `HEAP_JSON=join` also writes `dhat-heap.json`, the allocation
    // sites at that step's peak (for `dh_view.html`); otherwise only the figures are printed.
    let profiler = |step: &str| {
        if std::env::var("HEAP_JSON").is_ok_and(|v| v == step) {
            dhat::Profiler::new_heap()
        } else {
            dhat::Profiler::builder().testing().build()
        }
    };
    let create_profiler = profiler("create");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = || GroupConfig::default().at_time(now);
    let cs = AwsLcSuite::new(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .map_err(|e| e.to_string())?;

    let joiner = bundle(&cs, "joiner".into(), now)?;
    let creator_kp = bundle(&cs, "creator".into(), now)?;
    let start = dhat::HeapStats::get();
    let mut proposals = vec![Proposal::Add(Add {
        key_package: joiner.key_package.clone(),
    })];
    for i in 2..n {
        proposals.push(Proposal::Add(Add {
            key_package: bundle(&cs, format!("member {i}"), now)?.key_package,
        }));
    }
    let after_kps = dhat::HeapStats::get();

    let mut creator = Group::create(&cs, &creator_kp, b"heap group".to_vec(), vec![], config())
        .map_err(|e| e.to_string())?;
    let before_create = dhat::HeapStats::get();
    let out = creator
        .commit(
            &cs,
            CommitOptions {
                proposals,
                ratchet_tree_in_welcome: true,
                ..CommitOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
    creator
        .merge_staged_commit(out.staged)
        .map_err(|e| e.to_string())?;
    let welcome = out.welcome.ok_or("no Welcome")?;
    drop(out.commit);
    let after_create = dhat::HeapStats::get();
    drop(create_profiler);

    let _join_profiler = profiler("join");
    let before_join = dhat::HeapStats::get();
    let joined = Group::join(
        &cs,
        &welcome,
        &joiner,
        JoinOptions {
            config: config(),
            ..JoinOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let after_join = dhat::HeapStats::get();
    if joined.epoch_authenticator().as_bytes() != creator.epoch_authenticator().as_bytes() {
        return Err("joiner and creator disagree".into());
    }

    // The Welcome and the creator's group stay alive through the join; the creator's group
    // after the commit is what `after_create` holds beyond `before_create` but the Welcome.
    let welcome_bytes = welcome.as_bytes().len();
    let per = |b: usize| b as f64 / n as f64;
    let kps = after_kps.curr_bytes.saturating_sub(start.curr_bytes);
    let creator_resident = after_create
        .curr_bytes
        .saturating_sub(before_create.curr_bytes);
    let create_peak = after_create
        .max_bytes
        .saturating_sub(before_create.curr_bytes);
    let joiner_resident = after_join.curr_bytes.saturating_sub(before_join.curr_bytes);
    let join_peak = after_join.max_bytes.saturating_sub(before_join.curr_bytes);
    println!("group heap, N = {n} members (suite 1)");
    println!(
        "  N-1 KeyPackages, decoded (input):     {kps} bytes ({:.0} per member)",
        per(kps)
    );
    println!(
        "  heap held after create (creator Group, Welcome; input freed): {creator_resident} bytes ({:.0} per member; Welcome encoded {welcome_bytes} bytes)",
        per(creator_resident)
    );
    println!(
        "  heap peak above start, create:        {create_peak} bytes ({:.0} per member)",
        per(create_peak)
    );
    println!(
        "  joiner Group resident after join:     {joiner_resident} bytes ({:.0} per member)",
        per(joiner_resident)
    );
    println!(
        "  heap peak above start, join:          {join_peak} bytes ({:.0} per member)",
        per(join_peak)
    );
    Ok(())
}
