//! Squashing is one transaction: it happens whole or not at all.

use strata_pfs::Commit;

use crate::{TestPfs, repo};

/// `first ← middle ← {head of master, head of side}`: `middle` has two
/// children, on two branches.
async fn with_two_children(test: &TestPfs) -> (Commit, Commit, Commit, Commit) {
    let name = repo("data");
    test.pfs.repo_create(&name, "").await.unwrap();
    test.put(&name, "master", "/a", "1").await;
    let first = test.pfs.commit_inspect(&name, "master").await.unwrap();
    test.put(&name, "master", "/a", "2").await;
    let middle = test.pfs.commit_inspect(&name, "master").await.unwrap();
    test.pfs.branch_create(&name, "side", Some(&middle.id.to_string()), &[]).await.unwrap();
    test.put(&name, "master", "/a", "3").await;
    test.put(&name, "side", "/b", "3").await;
    let master = test.pfs.commit_inspect(&name, "master").await.unwrap();
    let side = test.pfs.commit_inspect(&name, "side").await.unwrap();
    assert_eq!((master.parent, side.parent), (Some(middle.id), Some(middle.id)));
    (first, middle, master, side)
}

#[tokio::test]
async fn a_squash_that_fails_midway_leaves_history_as_it_was() {
    let test = TestPfs::open().await;
    let name = repo("data");
    let (_, middle, master, side) = with_two_children(&test).await;
    // Removing the commit row fails after the children were re-parented.
    test.execute(
        "CREATE TRIGGER refuse_commit_delete BEFORE DELETE ON pfs_commits \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .await;

    let squashed = test.pfs.commit_squash(&name, &middle.id.to_string()).await;

    assert!(squashed.is_err(), "{squashed:?}");
    for child in [&master, &side] {
        let now = test.pfs.commit_inspect(&name, &child.id.to_string()).await.unwrap();
        assert_eq!(now.parent, Some(middle.id), "commit {} was re-parented by a failed squash", child.id);
    }
    test.pfs.commit_inspect(&name, &middle.id.to_string()).await.unwrap();
}

#[tokio::test]
async fn a_squash_gives_every_child_the_squashed_commits_parent_and_keeps_their_content() {
    let test = TestPfs::open().await;
    let name = repo("data");
    let (first, middle, master, side) = with_two_children(&test).await;

    test.pfs.commit_squash(&name, &middle.id.to_string()).await.unwrap();

    for child in [&master, &side] {
        let now = test.pfs.commit_inspect(&name, &child.id.to_string()).await.unwrap();
        assert_eq!(now.parent, Some(first.id));
        let files = test.pfs.file_list(&name, &child.id.to_string(), "/").await.unwrap();
        assert_eq!(files.len(), if child.id == side.id { 2 } else { 1 });
    }
    assert!(test.pfs.commit_inspect(&name, &middle.id.to_string()).await.is_err());
}
