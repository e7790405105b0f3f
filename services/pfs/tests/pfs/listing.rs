//! Listing repos sends the same few statements whatever their number.

use crate::{TestPfs, repo};

/// A PFS with `count` repos, each with a `master` holding one file and an
/// empty `staging` branch.
async fn with_repos(count: usize) -> TestPfs {
    let test = TestPfs::open().await;
    for n in 0..count {
        let name = repo(&format!("repo-{n:02}"));
        test.pfs.repo_create(&name, "").await.unwrap();
        test.put(&name, "master", "/data", &"x".repeat(n + 1)).await;
        test.pfs.branch_create(&name, "staging", None, &[]).await.unwrap();
    }
    test
}

#[tokio::test]
async fn listing_thirty_repos_costs_the_statements_of_listing_three() {
    let few = with_repos(3).await;
    let many = with_repos(30).await;

    let (few_repos, few_statements) = few.counting(few.pfs.repo_list()).await;
    let (many_repos, many_statements) = many.counting(many.pfs.repo_list()).await;

    assert_eq!(few_repos.unwrap().len(), 3);
    let many_repos = many_repos.unwrap();
    assert_eq!(many_repos.len(), 30);
    assert_eq!(many_statements, few_statements, "repo_list must not send statements per repo or branch");
    assert!(few_statements <= 4, "{few_statements} statements for a listing");
    // The summaries are still right: both branches, the largest head's size.
    let last = &many_repos[29];
    assert_eq!(last.repo.name.as_str(), "repo-29");
    assert_eq!(last.branches, ["master", "staging"]);
    assert_eq!(last.size_bytes, 30);
}

#[tokio::test]
async fn inspecting_a_repo_with_many_branches_costs_the_statements_of_one_with_few() {
    let test = TestPfs::open().await;
    let (few, many) = (repo("few"), repo("many"));
    for (name, branches) in [(&few, 2), (&many, 20)] {
        test.pfs.repo_create(name, "").await.unwrap();
        for n in 0..branches {
            test.pfs.branch_create(name, &format!("b{n:02}"), None, &[]).await.unwrap();
        }
    }

    let (few_summary, few_statements) = test.counting(test.pfs.repo_inspect(&few)).await;
    let (many_summary, many_statements) = test.counting(test.pfs.repo_inspect(&many)).await;

    assert_eq!(few_summary.unwrap().branches.len(), 2);
    assert_eq!(many_summary.unwrap().branches.len(), 20);
    assert_eq!(many_statements, few_statements);
}
