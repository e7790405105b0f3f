//! The storage limit of a workspace's plan, as PFS enforces it on writes.

use std::io::Cursor;
use std::time::Duration;

use strata_api_types::ErrorCode;
use strata_core::workspace_server::StorageLimit;
use strata_pfs::names::BranchName;
use strata_pfs::{CommitTarget, PfsError, PutFormat, PutMode, PutSummary, RepoName, WhenDependedOn};

use crate::{TestPfs, repo};

const KIB: usize = 1024;

/// Bytes that neither compress nor repeat: each seed gives other content.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn free_plan(bytes: u64) -> StorageLimit {
    StorageLimit { bytes, plan: "free".into(), lifted_by: Some("team".into()) }
}

async fn put(test: &TestPfs, repo: &RepoName, path: &str, content: Vec<u8>) -> Result<PutSummary, PfsError> {
    let target = CommitTarget::Branch(BranchName::parse("master").unwrap());
    test.pfs.put(repo, target, path, PutFormat::File, PutMode::Overwrite, Cursor::new(content)).await
}

#[tokio::test]
async fn a_write_past_the_limit_is_refused_whole_and_names_the_plan_that_lifts_it() {
    let test = TestPfs::open().await;
    let data = repo("data");
    test.pfs.repo_create(&data, "").await.unwrap();
    put(&test, &data, "/first.bin", noise(1, 200 * KIB)).await.unwrap();
    let stored = test.pfs.stored_total().await.unwrap();
    assert!(stored >= 200 * KIB as u64, "incompressible bytes are stored as they are: {stored}");
    test.pfs.set_storage_limit(Some(free_plan(stored + 100 * KIB as u64)));

    let refused = put(&test, &data, "/second.bin", noise(2, 200 * KIB)).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::QuotaExceeded, "{refused}");
    let message = refused.to_string();
    assert!(message.contains("the free plan allows") && message.contains("the team plan lifts it"), "{message}");
    assert_eq!(test.pfs.commit_list(&data, 10).await.unwrap().len(), 1, "the refused write made no commit");
    assert_eq!(test.pfs.stored_total().await.unwrap(), stored, "its bytes are garbage, not counted");

    let small = put(&test, &data, "/small.bin", noise(3, 50 * KIB)).await.unwrap();
    assert!(small.stored_bytes > 0, "a write within the limit passes");
    let again = put(&test, &data, "/copy-of-first.bin", noise(1, 200 * KIB)).await.unwrap();
    assert_eq!(again.stored_bytes, 0, "content stored already costs nothing, so it passes at the limit");

    // With room again, a retry of the refused content reuses its chunks,
    // which count now, once.
    let before = test.pfs.stored_total().await.unwrap();
    test.pfs.set_storage_limit(Some(free_plan(before + 1024 * KIB as u64)));
    let retried = put(&test, &data, "/second.bin", noise(2, 200 * KIB)).await.unwrap();
    assert_eq!(retried.stored_bytes, 0, "its chunks were stored by the refused write");
    assert!(test.pfs.stored_total().await.unwrap() >= before + 200 * KIB as u64, "and are counted now");
    let stored = test.pfs.stored_total().await.unwrap();
    put(&test, &data, "/third-copy.bin", noise(2, 200 * KIB)).await.unwrap();
    assert_eq!(test.pfs.stored_total().await.unwrap(), stored, "counted once");
}

#[tokio::test]
async fn deleting_data_and_collecting_garbage_makes_room_again() {
    let test = TestPfs::open().await;
    let (old, new) = (repo("old"), repo("new"));
    for name in [&old, &new] {
        test.pfs.repo_create(name, "").await.unwrap();
    }
    put(&test, &old, "/big.bin", noise(1, 300 * KIB)).await.unwrap();
    test.pfs.set_storage_limit(Some(free_plan(400 * KIB as u64)));
    let refused = put(&test, &new, "/big.bin", noise(2, 300 * KIB)).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::QuotaExceeded);

    test.pfs.repo_delete(&old, WhenDependedOn::Refuse).await.unwrap();
    let report = test.pfs.gc(Duration::ZERO).await.unwrap();
    assert_eq!(test.pfs.stored_total().await.unwrap(), report.bytes_kept, "counted again from what GC kept");
    put(&test, &new, "/big.bin", noise(2, 300 * KIB)).await.expect("room after the old repo went");
}

#[tokio::test]
async fn concurrent_writes_cannot_both_slip_under_the_limit() {
    let test = TestPfs::open().await;
    // One repo per write: concurrent writes to one branch conflict anyway.
    let repos: Vec<RepoName> = (0..4).map(|n| repo(&format!("part{n}"))).collect();
    for name in &repos {
        test.pfs.repo_create(name, "").await.unwrap();
    }
    test.pfs.set_storage_limit(Some(free_plan(250 * KIB as u64)));
    let writes = repos.iter().zip(10..).map(|(name, seed)| put(&test, name, "/part.bin", noise(seed, 100 * KIB)));
    let outcomes = futures::future::join_all(writes).await;
    let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(accepted, 2, "two writes of 100 KiB fit in 250 KiB, a third does not: {outcomes:?}");
    let refused = outcomes.iter().filter_map(|outcome| outcome.as_ref().err());
    assert!(refused.into_iter().all(|error| error.code() == ErrorCode::QuotaExceeded), "{outcomes:?}");
    assert!(test.pfs.stored_total().await.unwrap() <= 250 * KIB as u64);
}

#[tokio::test]
async fn without_a_limit_every_write_passes() {
    let test = TestPfs::open().await;
    let data = repo("data");
    test.pfs.repo_create(&data, "").await.unwrap();
    put(&test, &data, "/a.bin", noise(1, 100 * KIB)).await.unwrap();
    test.pfs.set_storage_limit(Some(free_plan(0)));
    assert!(put(&test, &data, "/b.bin", noise(2, KIB)).await.is_err());
    test.pfs.set_storage_limit(None);
    put(&test, &data, "/b.bin", noise(2, KIB)).await.expect("the limit lifted");
}
