//! A file's history is read in batches, not a statement per ancestor.

use crate::{TestPfs, repo};

/// A repo whose `/file` changed in each of `commits` commits, with another
/// file changing in between so that not every commit touches `/file`.
async fn with_history(commits: usize) -> TestPfs {
    let test = TestPfs::open().await;
    let name = repo("data");
    test.pfs.repo_create(&name, "").await.unwrap();
    for n in 0..commits {
        test.put(&name, "master", "/file", &format!("version {n}")).await;
        test.put(&name, "master", "/other", &format!("noise {n}")).await;
    }
    test
}

#[tokio::test]
async fn the_history_of_a_file_changed_thirty_times_costs_the_statements_of_three() {
    let few = with_history(3).await;
    let many = with_history(30).await;
    let name = repo("data");

    let (few_history, few_statements) = few.counting(few.pfs.file_history(&name, "master", "/file", 100)).await;
    let (many_history, many_statements) = many.counting(many.pfs.file_history(&name, "master", "/file", 100)).await;

    assert_eq!(few_history.unwrap().len(), 3);
    assert_eq!(many_history.unwrap().len(), 30);
    assert_eq!(many_statements, few_statements, "file_history must not send a statement per ancestor");
}

#[tokio::test]
async fn a_history_longer_than_one_batch_is_complete_and_newest_first() {
    // Two commits per version: 130 versions span more than one batch of 256.
    let test = with_history(130).await;
    let history = test.pfs.file_history(&repo("data"), "master", "/file", 1000).await.unwrap();
    assert_eq!(history.len(), 130);
    assert!(history.windows(2).all(|pair| pair[0].started_at >= pair[1].started_at));
    let oldest = history.last().unwrap();
    let snapshot = test.pfs.commit_content(oldest).await.unwrap();
    assert_eq!(snapshot.files(), 1, "the oldest change is the first commit, holding only /file");
}
