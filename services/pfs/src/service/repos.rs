//! Repos and branches.

use std::collections::{HashMap, HashSet};

use super::Pfs;
use crate::error::PfsError;
use crate::model::{Branch, BranchRef, Repo, RepoKind, RepoStorage, RepoSummary, WhenDependedOn};
use crate::names::{BranchName, RepoName};
use crate::storage::chunks::CHUNKS;

impl Pfs {
    // ---- repos -------------------------------------------------------

    /// Creates a repo for people's data.
    pub async fn repo_create(&self, name: &RepoName, description: &str) -> Result<Repo, PfsError> {
        self.meta.repo_create(name.as_str(), RepoKind::User, description).await
    }

    /// Creates a repo of a given kind (pipelines make output and spec repos).
    pub async fn repo_create_kind(&self, name: &RepoName, kind: RepoKind, description: &str) -> Result<Repo, PfsError> {
        self.meta.repo_create(name.as_str(), kind, description).await
    }

    /// The repo, or `NotFound`.
    pub(super) async fn repo(&self, name: &RepoName) -> Result<Repo, PfsError> {
        self.meta
            .repo_get(name.as_str())
            .await?
            .ok_or_else(|| PfsError::not_found_hint(format!("repo `{name}`"), "`strata repo list` shows the repos"))
    }

    /// A repo with its branches and size.
    pub async fn repo_inspect(&self, name: &RepoName) -> Result<RepoSummary, PfsError> {
        let repo = self.repo(name).await?;
        let branches = self.meta.branch_list(Some(name.as_str())).await?;
        let sizes = self.meta.branch_head_sizes(Some(name.as_str())).await?;
        Ok(summarise(repo, &branches, &sizes))
    }

    /// Logical bytes (what the branch heads hold) against stored bytes (the
    /// compressed, deduplicated chunks they reference; chunks shared with
    /// other repos count in full for each).
    pub async fn repo_storage(&self, name: &RepoName) -> Result<RepoStorage, PfsError> {
        self.repo(name).await?;
        let mut chunks = HashSet::new();
        let mut pages = HashSet::new();
        let mut logical_bytes = 0;
        for branch in self.meta.branch_list(Some(name.as_str())).await? {
            let head = self.commit_row(name, branch.head).await?;
            let root = self.content(&head).await?;
            logical_bytes += root.bytes;
            for page in &root.pages {
                if pages.insert(page.hash) {
                    for entry in self.index.get_page(page).await? {
                        chunks.extend(entry.spans.iter().map(|s| s.chunk));
                    }
                }
            }
        }
        let mut stored_bytes = 0;
        for chunk in &chunks {
            stored_bytes += self.objects().stored_size(CHUNKS, chunk).await?;
        }
        Ok(RepoStorage { logical_bytes, stored_bytes, chunks: chunks.len() as u64 })
    }

    /// Every repo with its branches and size, in a constant number of
    /// statements whatever the number of repos and branches.
    pub async fn repo_list(&self) -> Result<Vec<RepoSummary>, PfsError> {
        let repos = self.meta.repo_list().await?;
        let branches = self.meta.branch_list(None).await?;
        let sizes = self.meta.branch_head_sizes(None).await?;
        let mut by_repo: HashMap<&RepoName, Vec<Branch>> = HashMap::new();
        for branch in &branches {
            by_repo.entry(&branch.repo).or_default().push(branch.clone());
        }
        Ok(repos
            .into_iter()
            .map(|repo| {
                let of_repo = by_repo.remove(&repo.name).unwrap_or_default();
                summarise(repo, &of_repo, &sizes)
            })
            .collect())
    }

    /// Deletes a repo. Refuses when branches of other repos derive from it,
    /// unless told to delete anyway. Returns the names deleted.
    pub async fn repo_delete(&self, name: &RepoName, when: WhenDependedOn) -> Result<Vec<RepoName>, PfsError> {
        self.repo(name).await?;
        let dependants = self.meta.repo_dependants(name.as_str()).await?;
        if !dependants.is_empty() && when == WhenDependedOn::Refuse {
            let list: Vec<String> = dependants.iter().map(|(r, b)| format!("{r}@{b}")).collect();
            return Err(PfsError::Conflict(format!(
                "repo `{name}` is in the provenance of {}; delete those first or pass --force",
                list.join(", ")
            )));
        }
        self.meta.repo_delete(name.as_str()).await?;
        Ok(vec![name.clone()])
    }

    // ---- branches ----------------------------------------------------

    /// A branch, or `NotFound`.
    pub async fn branch_get(&self, repo: &RepoName, name: &str) -> Result<Branch, PfsError> {
        self.repo(repo).await?;
        BranchName::parse(name)?;
        self.meta.branch_get(repo.as_str(), name).await?.ok_or_else(|| {
            PfsError::not_found_hint(
                format!("branch `{repo}@{name}`"),
                format!("`strata branch list {repo}` shows the branches"),
            )
        })
    }

    /// The branches of a repo, by name.
    pub async fn branch_list(&self, repo: &RepoName) -> Result<Vec<Branch>, PfsError> {
        self.repo(repo).await?;
        self.meta.branch_list(Some(repo.as_str())).await
    }

    /// Creates or updates a branch. `head` moves it to an existing commit;
    /// without it a new branch starts at a new empty commit. `provenance`
    /// (other repos' branches) makes commits there propagate here.
    pub async fn branch_create(
        &self,
        repo: &RepoName,
        name: &str,
        head: Option<&str>,
        provenance: &[BranchRef],
    ) -> Result<Branch, PfsError> {
        self.repo(repo).await?;
        let name = BranchName::parse(name)?;
        let this = BranchRef { repo: repo.clone(), branch: name.clone() };
        for upstream in provenance {
            if upstream.repo == *repo {
                return Err(PfsError::invalid(
                    "provenance",
                    format!("branch `{repo}@{name}` cannot derive from its own repo"),
                ));
            }
            self.branch_get(&upstream.repo, upstream.branch.as_str()).await?;
            if self.is_upstream_of(&this, upstream).await? {
                return Err(PfsError::invalid(
                    "provenance",
                    format!("`{upstream}` derives from `{this}`; provenance cannot form a cycle"),
                ));
            }
        }
        let existing = self.meta.branch_get(repo.as_str(), name.as_str()).await?;
        let head = match (head, &existing) {
            (Some(reference), _) => self.resolve(repo, reference).await?.id,
            (None, Some(branch)) => branch.head,
            (None, None) => self.empty_commit(repo, Some(name.as_str()), None).await?,
        };
        let provenance = (!provenance.is_empty() || existing.is_none()).then_some(provenance);
        self.meta.branch_upsert(repo.as_str(), name.as_str(), head, provenance).await?;
        self.branch_get(repo, name.as_str()).await
    }

    /// True when `branch` is (transitively) in the provenance of `of`.
    pub(super) async fn is_upstream_of(&self, branch: &BranchRef, of: &BranchRef) -> Result<bool, PfsError> {
        let mut stack = vec![of.clone()];
        let mut seen = HashSet::new();
        while let Some(next) = stack.pop() {
            if next == *branch {
                return Ok(true);
            }
            if !seen.insert(next.clone()) {
                continue;
            }
            if let Some(found) = self.meta.branch_get(next.repo.as_str(), next.branch.as_str()).await? {
                stack.extend(found.provenance);
            }
        }
        Ok(false)
    }

    /// Deletes a branch; its commits stay. Refuses when other branches
    /// derive from it, unless told to delete anyway.
    pub async fn branch_delete(&self, repo: &RepoName, name: &str, when: WhenDependedOn) -> Result<(), PfsError> {
        self.branch_get(repo, name).await?;
        let downstream = self.meta.branch_downstream(repo.as_str(), name).await?;
        if !downstream.is_empty() && when == WhenDependedOn::Refuse {
            let list: Vec<String> = downstream.iter().map(|(r, b)| format!("{r}@{b}")).collect();
            return Err(PfsError::Conflict(format!(
                "{} derive from `{repo}@{name}`; delete them first or pass --force",
                list.join(", ")
            )));
        }
        self.meta.branch_delete(repo.as_str(), name).await
    }
}

/// A repo with the names of its branches and the size of its largest head.
fn summarise(
    repo: Repo,
    branches: &[Branch],
    head_sizes: &HashMap<(String, strata_core::id::CommitId), u64>,
) -> RepoSummary {
    let size_bytes =
        branches.iter().filter_map(|b| head_sizes.get(&(b.repo.to_string(), b.head)).copied()).max().unwrap_or(0);
    RepoSummary { branches: branches.iter().map(|b| b.name.clone()).collect(), size_bytes, repo }
}
