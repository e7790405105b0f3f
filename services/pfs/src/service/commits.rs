//! Commits: start, finish, wait, squash, drop, and a commit's content.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use strata_core::id::CommitId;

use super::Pfs;
use crate::error::PfsError;
use crate::meta::HeadUpdate;
use crate::model::{BranchRef, Commit, Origin, RepoKind};
use crate::names::{Ancestry, BranchName, CommitRef, RepoName};
use crate::storage::fileset::{Diff, Root};

/// How many times a finish retries when writers keep adding layers.
const FINISH_ATTEMPTS: usize = 5;

impl Pfs {
    // ---- commits -----------------------------------------------------

    /// Makes a finished, empty commit (the first commit of a new branch).
    pub(super) async fn empty_commit(
        &self,
        repo: &RepoName,
        branch: Option<&str>,
        parent: Option<CommitId>,
    ) -> Result<CommitId, PfsError> {
        let root = self.index.put_root(&Root::default()).await?;
        let now = Utc::now();
        let commit = Commit {
            repo: repo.clone(),
            id: CommitId::new(),
            seq: 0,
            branch: branch.map(str::to_owned),
            parent,
            origin: Origin::User,
            description: String::new(),
            started_at: now,
            finished_at: Some(now),
            root: Some(root),
            size_bytes: 0,
            files: 0,
            error: None,
            provenance: Vec::new(),
        };
        // The caller points the branch at it.
        self.meta.commit_start(&commit, HeadUpdate::Leave).await?;
        Ok(commit.id)
    }

    /// Resolves `reference` (branch, id, ancestry) in `repo`.
    pub async fn resolve(&self, repo: &RepoName, reference: &str) -> Result<Commit, PfsError> {
        self.repo(repo).await?;
        let parsed = CommitRef::parse(reference)?;
        let start = match self.meta.branch_get(repo.as_str(), &parsed.base).await? {
            Some(branch) => self.commit_row(repo, branch.head).await?,
            None => match parsed.base.parse::<CommitId>() {
                Ok(id) => self.commit_row(repo, id).await?,
                Err(_) => {
                    return Err(PfsError::not_found_hint(
                        format!("branch or commit `{repo}@{}`", parsed.base),
                        format!("`strata branch list {repo}` shows the branches"),
                    ));
                }
            },
        };
        match parsed.ancestry {
            Ancestry::Back(steps) => self.ancestor(start, steps, reference).await,
            Ancestry::Nth(n) => {
                let mut chain = vec![start.clone()];
                let mut current = start;
                while let Some(parent) = current.parent {
                    current = self.commit_row(repo, parent).await?;
                    chain.push(current.clone());
                }
                let index = chain.len().checked_sub(n as usize).ok_or_else(|| {
                    PfsError::not_found(format!("commit `{repo}@{reference}` (the branch has {} commits)", chain.len()))
                })?;
                Ok(chain.swap_remove(index))
            }
        }
    }

    pub(super) async fn ancestor(&self, mut commit: Commit, steps: u32, reference: &str) -> Result<Commit, PfsError> {
        for _ in 0..steps {
            let parent = commit.parent.ok_or_else(|| {
                PfsError::not_found(format!("commit `{}@{reference}` (history is shorter)", commit.repo))
            })?;
            commit = self.commit_row(&commit.repo, parent).await?;
        }
        Ok(commit)
    }

    pub(super) async fn commit_row(&self, repo: &RepoName, id: CommitId) -> Result<Commit, PfsError> {
        self.meta
            .commit_get(repo.as_str(), id)
            .await?
            .ok_or_else(|| PfsError::not_found(format!("commit `{repo}@{id}`")))
    }

    /// Starts a commit on `branch` (created if missing). The branch must not
    /// have an open head. Downstream branches (provenance) get AUTO commits
    /// with the same id, forming a commit set.
    pub async fn commit_start(&self, repo: &RepoName, branch: &str, description: &str) -> Result<Commit, PfsError> {
        self.repo(repo).await?;
        BranchName::parse(branch)?;
        let id = CommitId::new();
        self.traces.note(id);
        self.start_on_branch(repo, branch, id, Origin::User, description, Vec::new()).await?;
        self.propagate(repo, branch, id).await?;
        self.commit_row(repo, id).await
    }

    /// Starts an AUTO commit on `repo@branch` whose provenance is the
    /// current heads of the branch's provenance, and propagates it
    /// downstream like any new commit. PPS uses it when a pipeline's spec
    /// changes: the new commit set is the job that applies the new spec.
    pub async fn commit_start_auto(&self, repo: &RepoName, branch: &str) -> Result<Commit, PfsError> {
        let current = self.branch_get(repo, branch).await?;
        let provenance = self.heads_of(&current.provenance).await?;
        let id = CommitId::new();
        self.traces.note(id);
        self.start_on_branch(repo, branch, id, Origin::Auto, "", provenance).await?;
        self.propagate(repo, branch, id).await?;
        self.commit_row(repo, id).await
    }

    pub(super) async fn start_on_branch(
        &self,
        repo: &RepoName,
        branch: &str,
        id: CommitId,
        origin: Origin,
        description: &str,
        provenance: Vec<(RepoName, CommitId)>,
    ) -> Result<(), PfsError> {
        let head = self.meta.branch_get(repo.as_str(), branch).await?;
        // Propagated (AUTO) commits stack on an open head: the job filling
        // the older commit still finishes it, as in Pachyderm.
        if let (Some(head), Origin::User) = (&head, origin) {
            let current = self.commit_row(repo, head.head).await?;
            if !current.is_finished() {
                return Err(PfsError::Conflict(format!(
                    "branch `{repo}@{branch}` already has an open commit {}; finish it first (`strata commit finish {repo}@{branch}`)",
                    current.id
                )));
            }
        }
        let commit = Commit {
            repo: repo.clone(),
            id,
            seq: 0,
            branch: Some(branch.to_owned()),
            parent: head.as_ref().map(|h| h.head),
            origin,
            description: description.to_owned(),
            started_at: Utc::now(),
            finished_at: None,
            root: None,
            size_bytes: 0,
            files: 0,
            error: None,
            provenance,
        };
        let update = match head {
            Some(head) => HeadUpdate::Move(head.head),
            None => HeadUpdate::Create,
        };
        if self.meta.commit_start(&commit, update).await? {
            self.changed();
            Ok(())
        } else {
            Err(PfsError::Conflict(format!(
                "another writer started a commit on `{repo}@{branch}` at the same time; retry"
            )))
        }
    }

    /// The current heads of `branches`, as a commit's provenance.
    async fn heads_of(&self, branches: &[BranchRef]) -> Result<Vec<(RepoName, CommitId)>, PfsError> {
        let mut heads = Vec::new();
        for upstream in branches {
            if let Some(up) = self.meta.branch_get(upstream.repo.as_str(), upstream.branch.as_str()).await? {
                heads.push((upstream.repo.clone(), up.head));
            }
        }
        Ok(heads)
    }

    /// Starts AUTO commits with id `id` on every branch downstream of
    /// `repo@branch`, parents being their current heads.
    pub(super) async fn propagate(&self, repo: &RepoName, branch: &str, id: CommitId) -> Result<(), PfsError> {
        let mut queue = self.meta.branch_downstream(repo.as_str(), branch).await?;
        let mut done = HashSet::new();
        while let Some((down_repo, down_branch)) = queue.pop() {
            if !done.insert((down_repo.clone(), down_branch.clone())) {
                continue;
            }
            let Some(down) = self.meta.branch_get(&down_repo, &down_branch).await? else { continue };
            let provenance = self.heads_of(&down.provenance).await?;
            self.start_on_branch(&down.repo, &down_branch, id, Origin::Auto, "", provenance).await?;
            queue.extend(self.meta.branch_downstream(&down_repo, &down_branch).await?);
        }
        Ok(())
    }

    /// The current content of a commit: its root when finished, else its
    /// parent's content with its layers applied.
    pub(super) async fn content(&self, commit: &Commit) -> Result<Root, PfsError> {
        if let Some(root) = &commit.root {
            return self.index.get_root(root).await;
        }
        let base = match commit.parent {
            Some(parent) => {
                let parent = self.commit_row(&commit.repo, parent).await?;
                Box::pin(self.content(&parent)).await?
            }
            None => Root::default(),
        };
        let diff = self.diff_of_layers(&commit.repo, commit.id).await?.0;
        self.index.apply(&base, &diff).await
    }

    pub(super) async fn diff_of_layers(&self, repo: &RepoName, id: CommitId) -> Result<(Diff, i32), PfsError> {
        let hashes = self.meta.commit_layers(repo.as_str(), id).await?;
        let mut diff = Diff::default();
        for hash in &hashes {
            let layer = self.index.get_layer(hash).await?;
            for path in &layer.deletes {
                diff.delete(path);
            }
            let mut cursor = self.index.cursor(&layer.puts, "");
            while let Some(entry) = cursor.next().await? {
                diff.put(entry);
            }
        }
        let count = i32::try_from(hashes.len()).map_err(|_| PfsError::Internal("too many layers".into()))?;
        Ok((diff, count))
    }

    /// Finishes an open commit: its layers are merged into a new root in
    /// one metadata transaction. Safe to call again after a crash.
    pub async fn commit_finish(
        &self,
        repo: &RepoName,
        reference: &str,
        description: Option<&str>,
        error: Option<&str>,
    ) -> Result<Commit, PfsError> {
        let commit = self.resolve(repo, reference).await?;
        if commit.is_finished() {
            return Err(PfsError::Conflict(format!("commit {repo}@{} is already finished", commit.id)));
        }
        for _ in 0..FINISH_ATTEMPTS {
            let base = match commit.parent {
                Some(parent) => self.content(&self.commit_row(repo, parent).await?).await?,
                None => Root::default(),
            };
            let (diff, layers) = self.diff_of_layers(repo, commit.id).await?;
            let root = self.index.apply(&base, &diff).await?;
            let root_hash = self.index.put_root(&root).await?;
            if self
                .meta
                .commit_finish(repo.as_str(), commit.id, layers, root_hash, root.bytes, root.files, description, error)
                .await?
            {
                self.changed();
                self.finish_ready_auto_commits(commit.id).await?;
                return self.commit_row(repo, commit.id).await;
            }
            let now = self.commit_row(repo, commit.id).await?;
            if now.is_finished() {
                return Err(PfsError::Conflict(format!("commit {repo}@{} was finished by someone else", commit.id)));
            }
        }
        Err(PfsError::Conflict(format!("commit {repo}@{} kept changing while finishing; retry", commit.id)))
    }

    /// Finishes the AUTO commits of a commit set whose provenance is all
    /// finished, in repos no pipeline fills (output repos are finished by
    /// their jobs). They carry their parent's content forward, so a plain
    /// `--provenance` branch follows its upstream without blocking it.
    pub(super) async fn finish_ready_auto_commits(&self, id: CommitId) -> Result<(), PfsError> {
        loop {
            let mut progressed = false;
            for commit in self.meta.commit_set(id).await? {
                if commit.is_finished() || commit.origin != Origin::Auto {
                    continue;
                }
                let kind = self.meta.repo_get(commit.repo.as_str()).await?.map(|r| r.kind);
                if kind == Some(RepoKind::Output) {
                    continue;
                }
                let mut ready = true;
                for (up_repo, up_id) in &commit.provenance {
                    ready &= self.meta.commit_get(up_repo.as_str(), *up_id).await?.is_some_and(|c| c.is_finished());
                }
                if ready {
                    Box::pin(self.commit_finish(&commit.repo, &commit.id.to_string(), None, None)).await?;
                    progressed = true;
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    pub async fn commit_inspect(&self, repo: &RepoName, reference: &str) -> Result<Commit, PfsError> {
        self.resolve(repo, reference).await
    }

    pub async fn commit_list(&self, repo: &RepoName, limit: u64) -> Result<Vec<Commit>, PfsError> {
        self.repo(repo).await?;
        self.meta.commit_list(repo.as_str(), limit).await
    }

    /// Every commit of a commit set.
    pub async fn commit_set(&self, id: CommitId) -> Result<Vec<Commit>, PfsError> {
        let commits = self.meta.commit_set(id).await?;
        if commits.is_empty() {
            return Err(PfsError::not_found(format!("commit set {id}")));
        }
        Ok(commits)
    }

    /// Waits until the commit is finished, up to `timeout`. Wakes on the
    /// change notifications, not by polling: the receiver is taken before
    /// each look at the row, so a finish between the look and the wait
    /// still wakes it.
    pub async fn commit_wait(&self, repo: &RepoName, reference: &str, timeout: Duration) -> Result<Commit, PfsError> {
        let id = self.resolve(repo, reference).await?.id;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.subscribe();
        loop {
            changes.borrow_and_update();
            let commit = self.commit_row(repo, id).await?;
            if commit.is_finished() {
                return Ok(commit);
            }
            let timed_out = tokio::select! {
                changed = changes.changed() => changed.is_err(),
                () = tokio::time::sleep_until(deadline) => true,
            };
            if timed_out {
                return Err(PfsError::Timeout(format!(
                    "commit {repo}@{id} did not finish within {} s",
                    timeout.as_secs()
                )));
            }
        }
    }

    /// Removes a finished commit from history; its children take its parent.
    /// No data is lost: every commit's content is a full snapshot.
    pub async fn commit_squash(&self, repo: &RepoName, reference: &str) -> Result<(), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        let children = self.meta.commit_children(repo.as_str(), commit.id).await?;
        if children.is_empty() {
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{} has no children; use `strata commit drop` to delete it",
                commit.id
            )));
        }
        if !commit.is_finished() {
            return Err(PfsError::Conflict(format!("commit {repo}@{} is open; finish it first", commit.id)));
        }
        if let Some(branch) =
            self.meta.branch_list(Some(repo.as_str())).await?.into_iter().find(|b| b.head == commit.id)
        {
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{} is the head of branch `{}`",
                commit.id, branch.name
            )));
        }
        // Re-parenting the children and removing the commit is one
        // transaction: a failure leaves history as it was.
        self.meta.commit_squash(repo.as_str(), commit.id, commit.parent).await?;
        self.changed();
        Ok(())
    }

    /// Deletes a commit without children and its data; branches pointing at
    /// it move to its parent.
    pub async fn commit_drop(&self, repo: &RepoName, reference: &str) -> Result<(), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        if !self.meta.commit_children(repo.as_str(), commit.id).await?.is_empty() {
            return Err(PfsError::Conflict(format!("commit {repo}@{} has children; squash it instead", commit.id)));
        }
        let new_head = match commit.parent {
            Some(parent) => Some(parent),
            None => Some(self.empty_commit(repo, commit.branch.as_deref(), None).await?),
        };
        self.meta.commit_delete(repo.as_str(), commit.id, new_head).await?;
        self.changed();
        Ok(())
    }
}
