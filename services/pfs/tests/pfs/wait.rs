//! Waiting for a commit is driven by PFS's change notifications, not by
//! polling the database.

use std::time::Duration;

use strata_pfs::PfsError;

use crate::{TestPfs, repo};

#[tokio::test]
async fn a_wait_that_times_out_reads_the_commit_as_often_however_long_it_waited() {
    let test = TestPfs::open().await;
    let name = repo("data");
    test.pfs.repo_create(&name, "").await.unwrap();
    test.pfs.commit_start(&name, "master", "").await.unwrap();

    let (immediate, immediate_statements) = test.counting(test.pfs.commit_wait(&name, "master", Duration::ZERO)).await;
    let (waited, waited_statements) =
        test.counting(test.pfs.commit_wait(&name, "master", Duration::from_millis(600))).await;

    assert!(matches!(immediate, Err(PfsError::Timeout(_))), "{immediate:?}");
    assert!(matches!(waited, Err(PfsError::Timeout(_))), "{waited:?}");
    // Polling every 50 ms would have read the commit a dozen more times.
    assert_eq!(waited_statements, immediate_statements);
}

#[tokio::test]
async fn a_waiter_returns_the_finished_commit_as_soon_as_it_is_finished() {
    let test = TestPfs::open().await;
    let name = repo("data");
    test.pfs.repo_create(&name, "").await.unwrap();
    let open = test.pfs.commit_start(&name, "master", "").await.unwrap();
    let (_, statements_to_start_waiting) = test.counting(test.pfs.commit_wait(&name, "master", Duration::ZERO)).await;
    let before = test.statements();
    let waiter = {
        let (pfs, name) = (test.pfs.clone(), name.clone());
        tokio::spawn(async move { pfs.commit_wait(&name, "master", Duration::from_secs(600)).await })
    };
    // The waiter has looked at the commit once and is waiting when it has
    // sent the statements of a wait that gives up at once.
    tokio::time::timeout(Duration::from_secs(30), async {
        while test.statements() - before < statements_to_start_waiting {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the waiter never looked at the commit");

    test.pfs.commit_finish(&name, &open.id.to_string(), None, None).await.unwrap();

    let finished = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter did not wake when the commit finished")
        .unwrap()
        .unwrap();
    assert_eq!(finished.id, open.id);
    assert!(finished.is_finished());
}
