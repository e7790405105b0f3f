//! PFS operations. Handlers call these; these call `meta` and `storage`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use object_store::ObjectStoreExt;
use sea_orm::DatabaseConnection;
use strata_api_types::pfs::{DiffEntry, DiffKind, FileInfo, FileKind, FsckReport, GcReport, PutSummary};
use strata_core::id::CommitId;
use strata_core::store::DynObjectStore;
use tokio::sync::{RwLock, watch};

use crate::error::PfsError;
use crate::glob::Glob;
use crate::meta::{Branch, Commit, HeadUpdate, Meta, Origin, Repo, RepoKind};
use crate::names::{Ancestry, BranchName, CommitRef, RepoName, clean_path, dir_prefix};
use crate::storage::Hash;
use crate::storage::chunks::{CHUNKS, INDEX, ObjectArea};
use crate::storage::fileset::{Change, Diff, FileEntry, IndexStore, Layer, Root};
use crate::upload::{Source, upload};

/// How many times a finish retries when writers keep adding layers.
const FINISH_ATTEMPTS: usize = 5;

/// Where a write goes.
#[derive(Debug, Clone)]
pub enum CommitTarget {
    /// A branch: its open head commit, or a new commit made and finished
    /// around this one write.
    Branch(BranchName),
    /// An open commit by id.
    Commit(CommitId),
}

impl CommitTarget {
    /// The branch or commit id, for messages.
    fn name(&self) -> String {
        match self {
            CommitTarget::Branch(branch) => branch.to_string(),
            CommitTarget::Commit(id) => id.to_string(),
        }
    }
}

/// Overwrite or append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Overwrite,
    Append,
}

/// Storage figures of a repo's branch heads.
#[derive(Debug, Clone, Copy)]
pub struct RepoStorage {
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    pub chunks: u64,
}

/// A repo with its branches and size.
#[derive(Debug, Clone)]
pub struct RepoSummary {
    pub repo: Repo,
    pub branches: Vec<String>,
    /// Size of the largest branch head.
    pub size_bytes: u64,
}

/// The PFS of one workspace.
#[derive(Clone)]
pub struct Pfs {
    meta: Meta,
    index: IndexStore,
    /// Uploads hold it shared, GC exclusively: an upload that finds a chunk
    /// already stored can never see GC delete it before the upload's layer
    /// references it. One workspace server owns a workspace's storage, so a
    /// process-local lock is enough.
    gc_lock: Arc<RwLock<()>>,
    /// Bumped whenever a commit starts or finishes, so PPS can react at
    /// once instead of polling.
    changes: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Pfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pfs").finish_non_exhaustive()
    }
}

impl Pfs {
    /// Opens PFS on a workspace database (migrating it) and object store.
    pub async fn open(db: DatabaseConnection, store: DynObjectStore) -> Result<Self, PfsError> {
        let meta = Meta::new(db);
        meta.migrate().await?;
        Ok(Self {
            meta,
            index: IndexStore::new(ObjectArea::new(store)),
            gc_lock: Arc::default(),
            changes: Arc::new(watch::Sender::new(0)),
        })
    }

    /// A receiver that sees a new value whenever a commit starts or finishes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The workspace database, for services that keep their own tables
    /// beside PFS's (PPS).
    pub fn db(&self) -> &DatabaseConnection {
        self.meta.db()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn objects(&self) -> &ObjectArea {
        self.index.objects()
    }

    // ---- repos -------------------------------------------------------

    pub async fn repo_create(&self, name: &str, description: &str) -> Result<Repo, PfsError> {
        let name = RepoName::parse(name)?;
        self.meta.repo_create(name.as_str(), RepoKind::User, description).await
    }

    /// Creates a repo of a given kind (pipelines make output and spec repos).
    pub async fn repo_create_kind(&self, name: &str, kind: RepoKind, description: &str) -> Result<Repo, PfsError> {
        let name = RepoName::parse(name)?;
        self.meta.repo_create(name.as_str(), kind, description).await
    }

    async fn repo(&self, name: &str) -> Result<Repo, PfsError> {
        RepoName::parse(name)?;
        self.meta
            .repo_get(name)
            .await?
            .ok_or_else(|| PfsError::not_found_hint(format!("repo `{name}`"), "`strata repo list` shows the repos"))
    }

    pub async fn repo_inspect(&self, name: &str) -> Result<RepoSummary, PfsError> {
        let repo = self.repo(name).await?;
        self.summarise(repo).await
    }

    /// Logical bytes (what the branch heads hold) against stored bytes (the
    /// compressed, deduplicated chunks they reference; chunks shared with
    /// other repos count in full for each).
    pub async fn repo_storage(&self, name: &str) -> Result<RepoStorage, PfsError> {
        self.repo(name).await?;
        let mut chunks = HashSet::new();
        let mut pages = HashSet::new();
        let mut logical_bytes = 0;
        for branch in self.meta.branch_list(name).await? {
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

    async fn summarise(&self, repo: Repo) -> Result<RepoSummary, PfsError> {
        let branches = self.meta.branch_list(&repo.name).await?;
        let mut size_bytes = 0;
        for branch in &branches {
            if let Some(head) = self.meta.commit_get(&repo.name, branch.head).await? {
                size_bytes = size_bytes.max(head.size_bytes);
            }
        }
        Ok(RepoSummary { branches: branches.into_iter().map(|b| b.name).collect(), size_bytes, repo })
    }

    pub async fn repo_list(&self) -> Result<Vec<RepoSummary>, PfsError> {
        let mut summaries = Vec::new();
        for repo in self.meta.repo_list().await? {
            summaries.push(self.summarise(repo).await?);
        }
        Ok(summaries)
    }

    /// Deletes a repo. Refuses when branches of other repos derive from it,
    /// unless `force`. Returns the names deleted.
    pub async fn repo_delete(&self, name: &str, force: bool) -> Result<Vec<String>, PfsError> {
        self.repo(name).await?;
        let dependants = self.meta.repo_dependants(name).await?;
        if !dependants.is_empty() && !force {
            let list: Vec<String> = dependants.iter().map(|(r, b)| format!("{r}@{b}")).collect();
            return Err(PfsError::Conflict(format!(
                "repo `{name}` is in the provenance of {}; delete those first or pass --force",
                list.join(", ")
            )));
        }
        self.meta.repo_delete(name).await?;
        Ok(vec![name.to_owned()])
    }

    // ---- branches ----------------------------------------------------

    pub async fn branch_get(&self, repo: &str, name: &str) -> Result<Branch, PfsError> {
        self.repo(repo).await?;
        BranchName::parse(name)?;
        self.meta.branch_get(repo, name).await?.ok_or_else(|| {
            PfsError::not_found_hint(
                format!("branch `{repo}@{name}`"),
                format!("`strata branch list {repo}` shows the branches"),
            )
        })
    }

    pub async fn branch_list(&self, repo: &str) -> Result<Vec<Branch>, PfsError> {
        self.repo(repo).await?;
        self.meta.branch_list(repo).await
    }

    /// Creates or updates a branch. `head` moves it to an existing commit;
    /// without it a new branch starts at a new empty commit. `provenance`
    /// (other repos' branches) makes commits there propagate here.
    pub async fn branch_create(
        &self,
        repo: &str,
        name: &str,
        head: Option<&str>,
        provenance: &[(String, String)],
    ) -> Result<Branch, PfsError> {
        self.repo(repo).await?;
        BranchName::parse(name)?;
        for (upstream_repo, upstream_branch) in provenance {
            if upstream_repo == repo {
                return Err(PfsError::invalid(
                    "provenance",
                    format!("branch `{repo}@{name}` cannot derive from its own repo"),
                ));
            }
            self.branch_get(upstream_repo, upstream_branch).await?;
            if self.is_upstream_of(repo, name, upstream_repo, upstream_branch).await? {
                return Err(PfsError::invalid(
                    "provenance",
                    format!(
                        "`{upstream_repo}@{upstream_branch}` derives from `{repo}@{name}`; provenance cannot form a cycle"
                    ),
                ));
            }
        }
        let existing = self.meta.branch_get(repo, name).await?;
        let head = match (head, &existing) {
            (Some(reference), _) => self.resolve(repo, reference).await?.id,
            (None, Some(branch)) => branch.head,
            (None, None) => self.empty_commit(repo, Some(name), None).await?,
        };
        let provenance = (!provenance.is_empty() || existing.is_none()).then_some(provenance);
        self.meta.branch_upsert(repo, name, head, provenance).await?;
        self.branch_get(repo, name).await
    }

    /// True when `repo@branch` is (transitively) in the provenance of `of_repo@of_branch`.
    async fn is_upstream_of(&self, repo: &str, branch: &str, of_repo: &str, of_branch: &str) -> Result<bool, PfsError> {
        let mut stack = vec![(of_repo.to_owned(), of_branch.to_owned())];
        let mut seen = HashSet::new();
        while let Some((r, b)) = stack.pop() {
            if r == repo && b == branch {
                return Ok(true);
            }
            if !seen.insert((r.clone(), b.clone())) {
                continue;
            }
            if let Some(found) = self.meta.branch_get(&r, &b).await? {
                stack.extend(found.provenance);
            }
        }
        Ok(false)
    }

    /// Deletes a branch; its commits stay. Refuses when other branches
    /// derive from it, unless `force`.
    pub async fn branch_delete(&self, repo: &str, name: &str, force: bool) -> Result<(), PfsError> {
        self.branch_get(repo, name).await?;
        let downstream = self.meta.branch_downstream(repo, name).await?;
        if !downstream.is_empty() && !force {
            let list: Vec<String> = downstream.iter().map(|(r, b)| format!("{r}@{b}")).collect();
            return Err(PfsError::Conflict(format!(
                "{} derive from `{repo}@{name}`; delete them first or pass --force",
                list.join(", ")
            )));
        }
        self.meta.branch_delete(repo, name).await
    }

    // ---- commits -----------------------------------------------------

    /// Makes a finished, empty commit (the first commit of a new branch).
    async fn empty_commit(
        &self,
        repo: &str,
        branch: Option<&str>,
        parent: Option<CommitId>,
    ) -> Result<CommitId, PfsError> {
        let root = self.index.put_root(&Root::default()).await?;
        let now = Utc::now();
        let commit = Commit {
            repo: repo.to_owned(),
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
            layers: 0,
            error: None,
            provenance: Vec::new(),
        };
        // The caller points the branch at it.
        self.meta.commit_start(&commit, HeadUpdate::Leave).await?;
        Ok(commit.id)
    }

    /// Resolves `reference` (branch, id, ancestry) in `repo`.
    pub async fn resolve(&self, repo: &str, reference: &str) -> Result<Commit, PfsError> {
        self.repo(repo).await?;
        let parsed = CommitRef::parse(reference)?;
        let start = match self.meta.branch_get(repo, &parsed.base).await? {
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

    async fn ancestor(&self, mut commit: Commit, steps: u32, reference: &str) -> Result<Commit, PfsError> {
        for _ in 0..steps {
            let parent = commit.parent.ok_or_else(|| {
                PfsError::not_found(format!("commit `{}@{reference}` (history is shorter)", commit.repo))
            })?;
            commit = self.commit_row(&commit.repo, parent).await?;
        }
        Ok(commit)
    }

    async fn commit_row(&self, repo: &str, id: CommitId) -> Result<Commit, PfsError> {
        self.meta.commit_get(repo, id).await?.ok_or_else(|| PfsError::not_found(format!("commit `{repo}@{id}`")))
    }

    /// Starts a commit on `branch` (created if missing). The branch must not
    /// have an open head. Downstream branches (provenance) get AUTO commits
    /// with the same id, forming a commit set.
    pub async fn commit_start(&self, repo: &str, branch: &str, description: &str) -> Result<Commit, PfsError> {
        self.repo(repo).await?;
        BranchName::parse(branch)?;
        let id = CommitId::new();
        self.start_on_branch(repo, branch, id, Origin::User, description, Vec::new()).await?;
        self.propagate(repo, branch, id).await?;
        self.commit_row(repo, id).await
    }

    /// Starts an AUTO commit on `repo@branch` whose provenance is the
    /// current heads of the branch's provenance, and propagates it
    /// downstream like any new commit. PPS uses it when a pipeline's spec
    /// changes: the new commit set is the job that applies the new spec.
    pub async fn commit_start_auto(&self, repo: &str, branch: &str) -> Result<Commit, PfsError> {
        let current = self.branch_get(repo, branch).await?;
        let mut provenance = Vec::new();
        for (up_repo, up_branch) in &current.provenance {
            if let Some(up) = self.meta.branch_get(up_repo, up_branch).await? {
                provenance.push((up_repo.clone(), up.head));
            }
        }
        let id = CommitId::new();
        self.start_on_branch(repo, branch, id, Origin::Auto, "", provenance).await?;
        self.propagate(repo, branch, id).await?;
        self.commit_row(repo, id).await
    }

    async fn start_on_branch(
        &self,
        repo: &str,
        branch: &str,
        id: CommitId,
        origin: Origin,
        description: &str,
        provenance: Vec<(String, CommitId)>,
    ) -> Result<(), PfsError> {
        let head = self.meta.branch_get(repo, branch).await?;
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
            repo: repo.to_owned(),
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
            layers: 0,
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

    /// Starts AUTO commits with id `id` on every branch downstream of
    /// `repo@branch`, parents being their current heads.
    async fn propagate(&self, repo: &str, branch: &str, id: CommitId) -> Result<(), PfsError> {
        let mut queue = self.meta.branch_downstream(repo, branch).await?;
        let mut done = HashSet::new();
        while let Some((down_repo, down_branch)) = queue.pop() {
            if !done.insert((down_repo.clone(), down_branch.clone())) {
                continue;
            }
            let Some(down) = self.meta.branch_get(&down_repo, &down_branch).await? else { continue };
            let mut provenance = Vec::new();
            for (up_repo, up_branch) in &down.provenance {
                if let Some(up) = self.meta.branch_get(up_repo, up_branch).await? {
                    provenance.push((up_repo.clone(), up.head));
                }
            }
            self.start_on_branch(&down_repo, &down_branch, id, Origin::Auto, "", provenance).await?;
            queue.extend(self.meta.branch_downstream(&down_repo, &down_branch).await?);
        }
        Ok(())
    }

    /// The current content of a commit: its root when finished, else its
    /// parent's content with its layers applied.
    async fn content(&self, commit: &Commit) -> Result<Root, PfsError> {
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

    async fn diff_of_layers(&self, repo: &str, id: CommitId) -> Result<(Diff, i32), PfsError> {
        let hashes = self.meta.commit_layers(repo, id).await?;
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
        repo: &str,
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
                .commit_finish(repo, commit.id, layers, root_hash, root.bytes, root.files, description, error)
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
    async fn finish_ready_auto_commits(&self, id: CommitId) -> Result<(), PfsError> {
        loop {
            let mut progressed = false;
            for commit in self.meta.commit_set(id).await? {
                if commit.is_finished() || commit.origin != Origin::Auto {
                    continue;
                }
                let kind = self.meta.repo_get(&commit.repo).await?.map(|r| r.kind);
                if kind == Some(RepoKind::Output) {
                    continue;
                }
                let mut ready = true;
                for (up_repo, up_id) in &commit.provenance {
                    ready &= self.meta.commit_get(up_repo, *up_id).await?.is_some_and(|c| c.is_finished());
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

    pub async fn commit_inspect(&self, repo: &str, reference: &str) -> Result<Commit, PfsError> {
        self.resolve(repo, reference).await
    }

    pub async fn commit_list(&self, repo: &str, limit: u64) -> Result<Vec<Commit>, PfsError> {
        self.repo(repo).await?;
        self.meta.commit_list(repo, limit).await
    }

    /// Every commit of a commit set.
    pub async fn commit_set(&self, id: CommitId) -> Result<Vec<Commit>, PfsError> {
        let commits = self.meta.commit_set(id).await?;
        if commits.is_empty() {
            return Err(PfsError::not_found(format!("commit set {id}")));
        }
        Ok(commits)
    }

    /// Waits until the commit is finished, up to `timeout`.
    pub async fn commit_wait(&self, repo: &str, reference: &str, timeout: Duration) -> Result<Commit, PfsError> {
        let id = self.resolve(repo, reference).await?.id;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let commit = self.commit_row(repo, id).await?;
            if commit.is_finished() {
                return Ok(commit);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PfsError::Timeout(format!(
                    "commit {repo}@{id} did not finish within {} s",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Removes a finished commit from history; its children take its parent.
    /// No data is lost: every commit's content is a full snapshot.
    pub async fn commit_squash(&self, repo: &str, reference: &str) -> Result<(), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        let children = self.meta.commit_children(repo, commit.id).await?;
        if children.is_empty() {
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{} has no children; use `strata commit drop` to delete it",
                commit.id
            )));
        }
        if !commit.is_finished() {
            return Err(PfsError::Conflict(format!("commit {repo}@{} is open; finish it first", commit.id)));
        }
        if let Some(branch) = self.meta.branch_list(repo).await?.into_iter().find(|b| b.head == commit.id) {
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{} is the head of branch `{}`",
                commit.id, branch.name
            )));
        }
        for child in children {
            self.meta.commit_set_parent_and_root(repo, child, commit.parent, None).await?;
        }
        self.meta.commit_delete(repo, commit.id, None).await
    }

    /// Deletes a commit without children and its data; branches pointing at
    /// it move to its parent.
    pub async fn commit_drop(&self, repo: &str, reference: &str) -> Result<(), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        if !self.meta.commit_children(repo, commit.id).await?.is_empty() {
            return Err(PfsError::Conflict(format!("commit {repo}@{} has children; squash it instead", commit.id)));
        }
        let new_head = match commit.parent {
            Some(parent) => Some(parent),
            None => Some(self.empty_commit(repo, commit.branch.as_deref(), None).await?),
        };
        self.meta.commit_delete(repo, commit.id, new_head).await
    }

    // ---- files: writes -----------------------------------------------

    /// Writes one file, or a tar of files, to `target`. On a branch without
    /// an open commit the write gets its own commit, finished afterwards; on
    /// failure nothing becomes visible.
    pub async fn put(
        &self,
        repo: &str,
        target: CommitTarget,
        source_path: &str,
        tar: bool,
        mode: PutMode,
        reader: impl Read + Send + 'static,
    ) -> Result<PutSummary, PfsError> {
        let path = clean_path(source_path)?;
        if !tar && path == "/" {
            return Err(PfsError::invalid("path", "a file needs a path other than `/`"));
        }
        self.check_writable(repo, &target).await?;
        let upload_guard = self.gc_lock.read().await;
        let source = if tar { Source::Tar(path) } else { Source::File(path) };
        // The bytes are stored before any commit exists: a refused upload (a
        // `../` tar entry, a broken stream) must leave nothing that a
        // pipeline could see, not even a commit that is undone a moment
        // later. Chunks of a refused upload are garbage that GC reclaims.
        let uploaded = upload(self.objects(), source, reader).await?;
        let (commit, auto) = self.open_commit_for_write(repo, &target).await?;
        let layered = self.add_put_layer(&commit, uploaded.entries, mode).await;
        drop(upload_guard);
        let (files, bytes) = match layered {
            Ok(counts) => counts,
            Err(error) => {
                if auto {
                    self.abandon(commit.id).await;
                }
                return Err(error);
            }
        };
        if auto {
            self.commit_finish(repo, &commit.id.to_string(), None, None).await?;
        }
        Ok(PutSummary {
            commit: commit.id.to_string(),
            files,
            bytes,
            stored_bytes: uploaded.stored_bytes,
            auto_committed: auto,
        })
    }

    /// Records uploaded entries as a layer of the open `commit`; answers
    /// the number of files and bytes written.
    async fn add_put_layer(
        &self,
        commit: &Commit,
        mut entries: Vec<FileEntry>,
        mode: PutMode,
    ) -> Result<(u64, u64), PfsError> {
        if mode == PutMode::Append {
            entries = self.appended(commit, entries).await?;
        }
        let files = entries.len() as u64;
        let bytes = entries.iter().map(|e| e.size).sum();
        let puts = self.index.write_sorted(entries).await?;
        let layer = self.index.put_layer(&Layer { puts, deletes: Vec::new() }).await?;
        self.meta.commit_add_layer(&commit.repo, commit.id, layer).await?;
        Ok((files, bytes))
    }

    /// Removes a commit set a failed write made (the write's own commit and
    /// the AUTO commits it propagated), moving each branch back to where it
    /// was. Best effort: what is left stays an open commit, which is safe.
    async fn abandon(&self, id: CommitId) {
        let Ok(commits) = self.meta.commit_set(id).await else { return };
        for commit in commits {
            if let Err(error) = self.meta.commit_delete(&commit.repo, id, commit.parent).await {
                tracing::warn!(repo = %commit.repo, commit = %id, %error, "could not remove the commit of a failed write");
            }
        }
    }

    /// The commit `repo@id` while it is open; writing to a finished one is a conflict.
    async fn unfinished_commit(&self, repo: &str, id: CommitId) -> Result<Commit, PfsError> {
        let commit = self.commit_row(repo, id).await?;
        if commit.is_finished() {
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{id} is finished; start a new commit to write more"
            )));
        }
        Ok(commit)
    }

    /// Refuses a write that [`Self::open_commit_for_write`] would refuse,
    /// without creating anything, so bad requests fail before their body is read.
    async fn check_writable(&self, repo: &str, target: &CommitTarget) -> Result<(), PfsError> {
        self.repo(repo).await?;
        match target {
            CommitTarget::Commit(id) => self.unfinished_commit(repo, *id).await.map(drop),
            // Parsed already; the commit is made (or found open) later.
            CommitTarget::Branch(_) => Ok(()),
        }
    }

    /// What a write to `target` starts from: the open commit's content, or
    /// the branch head's that a new commit would inherit.
    async fn target_content(&self, repo: &str, target: &CommitTarget) -> Result<Root, PfsError> {
        let commit = match target {
            CommitTarget::Commit(id) => self.commit_row(repo, *id).await?,
            CommitTarget::Branch(branch) => match self.meta.branch_get(repo, branch.as_str()).await? {
                Some(head) => self.commit_row(repo, head.head).await?,
                None => return Ok(Root::default()),
            },
        };
        self.content(&commit).await
    }

    /// The open commit a write goes to, and whether it was made for it.
    async fn open_commit_for_write(&self, repo: &str, target: &CommitTarget) -> Result<(Commit, bool), PfsError> {
        match target {
            CommitTarget::Commit(id) => {
                let commit = self.unfinished_commit(repo, *id).await?;
                Ok((commit, false))
            }
            CommitTarget::Branch(branch) => {
                if let Some(head) = self.meta.branch_get(repo, branch.as_str()).await? {
                    let commit = self.commit_row(repo, head.head).await?;
                    if !commit.is_finished() {
                        return Ok((commit, false));
                    }
                }
                let commit = self.commit_start(repo, branch.as_str(), "").await?;
                Ok((commit, true))
            }
        }
    }

    /// Turns appended entries into full entries: existing content first.
    async fn appended(&self, commit: &Commit, entries: Vec<FileEntry>) -> Result<Vec<FileEntry>, PfsError> {
        let current = self.content(commit).await?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            match self.index.lookup(&current, &entry.path).await? {
                None => out.push(entry),
                Some(existing) => {
                    let mut hasher = blake3::Hasher::new();
                    for span in existing.spans.iter().chain(&entry.spans) {
                        let chunk = self.objects().get(CHUNKS, &span.chunk).await?;
                        hasher.update(&chunk[span.offset as usize..(span.offset + span.len) as usize]);
                    }
                    let mut spans = existing.spans;
                    spans.extend(entry.spans);
                    out.push(FileEntry {
                        path: entry.path,
                        size: existing.size + entry.size,
                        hash: hasher.finalize().into(),
                        spans,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Deletes a file or, recursively, a directory.
    pub async fn delete(&self, repo: &str, target: CommitTarget, path: &str) -> Result<CommitId, PfsError> {
        let path = clean_path(path)?;
        self.check_writable(repo, &target).await?;
        // Checked before a commit is made, so deleting a missing file on a
        // branch leaves no commit behind for pipelines to see.
        let current = self.target_content(repo, &target).await?;
        let exists = self.index.lookup(&current, &path).await?.is_some();
        let prefix = dir_prefix(&path);
        let is_dir = self.index.cursor(&current, &prefix).next().await?.is_some_and(|e| e.path.starts_with(&prefix));
        if !exists && !is_dir {
            return Err(PfsError::not_found(format!("file `{repo}@{}:{path}`", target.name())));
        }
        let (commit, auto) = self.open_commit_for_write(repo, &target).await?;
        let deletes = if is_dir { vec![prefix] } else { vec![path] };
        let layer = self.index.put_layer(&Layer { puts: Root::default(), deletes }).await?;
        self.meta.commit_add_layer(repo, commit.id, layer).await?;
        if auto {
            self.commit_finish(repo, &commit.id.to_string(), None, None).await?;
        }
        Ok(commit.id)
    }

    /// Deletes many files or directories (`/dir/`) of an open commit in one
    /// layer. Paths that do not exist are ignored: PPS uses it to clear the
    /// outputs of datums that run again, some of which may be gone already.
    pub async fn delete_paths(&self, repo: &str, id: CommitId, paths: Vec<String>) -> Result<(), PfsError> {
        if paths.is_empty() {
            return Ok(());
        }
        let commit = self.commit_row(repo, id).await?;
        if commit.is_finished() {
            return Err(PfsError::Conflict(format!("commit {repo}@{id} is finished")));
        }
        let layer = self.index.put_layer(&Layer { puts: Root::default(), deletes: paths }).await?;
        self.meta.commit_add_layer(repo, id, layer).await
    }

    /// Copies a file or directory by reference (no data is copied).
    pub async fn copy(
        &self,
        src_repo: &str,
        src_ref: &str,
        src_path: &str,
        repo: &str,
        target: CommitTarget,
        dst_path: &str,
    ) -> Result<PutSummary, PfsError> {
        let src_path = clean_path(src_path)?;
        let dst_path = clean_path(dst_path)?;
        let source = self.resolve(src_repo, src_ref).await?;
        let content = self.content(&source).await?;
        let source_prefix = dir_prefix(&src_path);
        let target_prefix = dir_prefix(&dst_path);
        let mut entries: Vec<FileEntry> = self
            .file_or_tree(&content, &src_path)
            .await?
            .into_iter()
            .map(|entry| {
                let path = match entry.path.strip_prefix(&source_prefix) {
                    Some(relative) if entry.path != src_path => format!("{target_prefix}{relative}"),
                    _ => dst_path.clone(),
                };
                FileEntry { path, ..entry }
            })
            .collect();
        if entries.is_empty() {
            return Err(PfsError::not_found(format!("file `{src_repo}@{src_ref}:{src_path}`")));
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let (commit, auto) = self.open_commit_for_write(repo, &target).await?;
        let files = entries.len() as u64;
        let bytes = entries.iter().map(|e| e.size).sum();
        let puts = self.index.write_sorted(entries).await?;
        let layer = self.index.put_layer(&Layer { puts, deletes: Vec::new() }).await?;
        self.meta.commit_add_layer(repo, commit.id, layer).await?;
        if auto {
            self.commit_finish(repo, &commit.id.to_string(), None, None).await?;
        }
        Ok(PutSummary { commit: commit.id.to_string(), files, bytes, stored_bytes: 0, auto_committed: auto })
    }

    // ---- files: reads ------------------------------------------------

    /// The content root of a commit reference, for readers.
    pub async fn snapshot(&self, repo: &str, reference: &str) -> Result<(Commit, Root), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        let root = self.content(&commit).await?;
        Ok((commit, root))
    }

    /// The content root of a commit, finished or not.
    pub async fn commit_content(&self, commit: &Commit) -> Result<Root, PfsError> {
        self.content(commit).await
    }

    /// Files and directories of `root` matching `glob`, in path order, with
    /// directory hashes over their files.
    pub async fn glob_root(&self, root: &Root, glob: &Glob) -> Result<Vec<FileInfo>, PfsError> {
        glob_root(&self.index, root, glob).await
    }

    /// The file or directory at `path` with the hash `glob_root` gives it;
    /// `None` when neither exists.
    pub async fn path_info(&self, root: &Root, path: &str) -> Result<Option<FileInfo>, PfsError> {
        if let Some(entry) = self.index.lookup(root, path).await? {
            return Ok(Some(file_info(&entry)));
        }
        let mut dir = DirAccumulator::new(path.to_owned());
        self.walk(root, path, |entry| {
            dir.add(&entry);
            true
        })
        .await?;
        Ok((dir.files > 0).then(|| dir.finish()))
    }

    /// Paths that differ between two roots; cost follows the change.
    pub async fn root_changes(&self, old: &Root, new: &Root) -> Result<Vec<Change>, PfsError> {
        self.index.changes(old, new).await
    }

    /// The entry of one file.
    pub async fn file_entry(&self, root: &Root, path: &str) -> Result<Option<FileEntry>, PfsError> {
        self.index.lookup(root, path).await
    }

    /// Reads a whole chunk (verified).
    pub async fn read_chunk(&self, hash: &Hash) -> Result<bytes::Bytes, PfsError> {
        self.objects().get(CHUNKS, hash).await
    }

    /// The file at `path`, or else every file below it as a directory, in
    /// path order; empty when neither exists.
    /// [`Self::file_or_tree`] for many paths of one root, reading each index
    /// page once: a task of a hundred one-file datums costs one page read,
    /// not a hundred.
    pub async fn files_or_trees(&self, root: &Root, paths: &[String]) -> Result<Vec<Vec<FileEntry>>, PfsError> {
        let mut pages: HashMap<usize, Vec<FileEntry>> = HashMap::new();
        let mut found = Vec::with_capacity(paths.len());
        for path in paths {
            let page =
                root.pages.iter().position(|p| p.first.as_str() <= path.as_str() && path.as_str() <= p.last.as_str());
            let file = match page {
                Some(index) => {
                    let entries = match pages.entry(index) {
                        std::collections::hash_map::Entry::Occupied(loaded) => loaded.into_mut(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert(self.index.get_page(&root.pages[index]).await?)
                        }
                    };
                    entries.binary_search_by(|e| e.path.as_str().cmp(path)).ok().map(|i| entries[i].clone())
                }
                None => None,
            };
            match file {
                Some(file) => found.push(vec![file]),
                None => found.push(self.file_or_tree(root, path).await?),
            }
        }
        Ok(found)
    }

    pub async fn file_or_tree(&self, root: &Root, path: &str) -> Result<Vec<FileEntry>, PfsError> {
        if let Some(file) = self.index.lookup(root, path).await? {
            return Ok(vec![file]);
        }
        let mut entries = Vec::new();
        self.walk(root, path, |entry| {
            entries.push(entry);
            true
        })
        .await?;
        Ok(entries)
    }

    /// Every file under `dir` (recursively), in path order.
    pub async fn walk(&self, root: &Root, dir: &str, mut visit: impl FnMut(FileEntry) -> bool) -> Result<(), PfsError> {
        let prefix = dir_prefix(dir);
        let mut cursor = self.index.cursor(root, &prefix);
        while let Some(entry) = cursor.next().await? {
            if !entry.path.starts_with(&prefix) || !visit(entry) {
                break;
            }
        }
        Ok(())
    }

    /// Information about a file or directory.
    pub async fn file_inspect(&self, repo: &str, reference: &str, path: &str) -> Result<FileInfo, PfsError> {
        let path = clean_path(path)?;
        let (commit, root) = self.snapshot(repo, reference).await?;
        if let Some(entry) = self.index.lookup(&root, &path).await? {
            return Ok(file_info(&entry));
        }
        let mut dir = DirAccumulator::new(path.clone());
        self.walk(&root, &path, |entry| {
            dir.add(&entry);
            true
        })
        .await?;
        if dir.files == 0 && path != "/" {
            return Err(PfsError::not_found(format!("file `{repo}@{}:{path}`", commit.id)));
        }
        Ok(dir.finish())
    }

    /// The immediate children of a directory (files and directories).
    pub async fn file_list(&self, repo: &str, reference: &str, dir: &str) -> Result<Vec<FileInfo>, PfsError> {
        let dir = clean_path(dir)?;
        let (commit, root) = self.snapshot(repo, reference).await?;
        if let Some(file) = self.index.lookup(&root, &dir).await? {
            return Ok(vec![file_info(&file)]);
        }
        let prefix = dir_prefix(&dir);
        let mut out: Vec<FileInfo> = Vec::new();
        let mut current: Option<DirAccumulator> = None;
        self.walk(&root, &dir, |entry| {
            let rest = &entry.path[prefix.len()..];
            match rest.split_once('/') {
                None => {
                    if let Some(done) = current.take() {
                        out.push(done.finish());
                    }
                    out.push(file_info(&entry));
                }
                Some((child, _)) => {
                    let child_path = format!("{prefix}{child}");
                    if let Some(done) = current.take_if(|c| c.path != child_path) {
                        out.push(done.finish());
                    }
                    current.get_or_insert_with(|| DirAccumulator::new(child_path)).add(&entry);
                }
            }
            true
        })
        .await?;
        if let Some(done) = current {
            out.push(done.finish());
        }
        if out.is_empty() && dir != "/" {
            return Err(PfsError::not_found(format!("directory `{repo}@{}:{dir}`", commit.id)));
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Files and directories matching a glob, in path order.
    pub async fn file_glob(&self, repo: &str, reference: &str, pattern: &str) -> Result<Vec<FileInfo>, PfsError> {
        let glob = Glob::new(pattern)?;
        let (_, root) = self.snapshot(repo, reference).await?;
        glob_root(&self.index, &root, &glob).await
    }

    /// Paths that differ between `new` and `old` (default: `new`'s parent),
    /// under `path`.
    pub async fn file_diff(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        old: Option<(&str, &str)>,
    ) -> Result<Vec<DiffEntry>, PfsError> {
        let path = clean_path(path)?;
        let (new_commit, new_root) = self.snapshot(repo, reference).await?;
        let old_root = match old {
            Some((old_repo, old_ref)) => self.snapshot(old_repo, old_ref).await?.1,
            None => match new_commit.parent {
                Some(parent) => self.content(&self.commit_row(repo, parent).await?).await?,
                None => Root::default(),
            },
        };
        diff_roots(&self.index, &old_root, &new_root, &path).await
    }

    /// Commits, newest first, in which the file at `path` changed.
    pub async fn file_history(
        &self,
        repo: &str,
        reference: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<Commit>, PfsError> {
        let path = clean_path(path)?;
        let mut commit = self.resolve(repo, reference).await?;
        let mut here = self.index.lookup(&self.content(&commit).await?, &path).await?.map(|e| e.hash);
        let mut changes = Vec::new();
        loop {
            let parent = match commit.parent {
                Some(parent) => Some(self.commit_row(repo, parent).await?),
                None => None,
            };
            // Each commit's version of the file is looked up once: as the
            // parent here, it is `here` on the next step.
            let before = match &parent {
                Some(parent) => self.index.lookup(&self.content(parent).await?, &path).await?.map(|e| e.hash),
                None => None,
            };
            if here != before {
                changes.push(commit.clone());
                if changes.len() >= limit {
                    break;
                }
            }
            match parent {
                Some(parent) => commit = parent,
                None => break,
            }
            here = before;
        }
        Ok(changes)
    }

    // ---- maintenance -------------------------------------------------

    /// Deletes objects nothing refers to and that are older than `grace`.
    /// Uploads wait while GC sweeps.
    pub async fn gc(&self, grace: Duration) -> Result<GcReport, PfsError> {
        let _exclusive = self.gc_lock.write().await;
        let live = self.live_objects().await?;
        let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut report = GcReport::default();
        for area in [CHUNKS, INDEX] {
            let listing = self.objects().list(area).await?;
            for object in listing {
                let name = object.location.filename().unwrap_or_default();
                let referenced = Hash::from_hex(name).is_some_and(|h| live.contains(&(area, h)));
                if referenced || object.last_modified > cutoff {
                    report.objects_kept += 1;
                    report.bytes_kept += object.size;
                    continue;
                }
                self.objects()
                    .store()
                    .delete(&object.location)
                    .await
                    .map_err(|source| PfsError::ObjectStore { action: "delete", source })?;
                report.objects_deleted += 1;
                report.bytes_deleted += object.size;
            }
        }
        self.objects().forget_known();
        tracing::info!(?report, "PFS garbage collection finished");
        Ok(report)
    }

    /// Marks every object reachable from metadata.
    async fn live_objects(&self) -> Result<HashSet<(&'static str, Hash)>, PfsError> {
        let (roots, layers) = self.meta.referenced_objects().await?;
        let mut live = HashSet::new();
        let mut roots_to_walk: Vec<Root> = Vec::new();
        for hash in roots {
            live.insert((INDEX, hash));
            roots_to_walk.push(self.index.get_root(&hash).await?);
        }
        for hash in layers {
            live.insert((INDEX, hash));
            roots_to_walk.push(self.index.get_layer(&hash).await?.puts);
        }
        for root in roots_to_walk {
            for page in &root.pages {
                if !live.insert((INDEX, page.hash)) {
                    continue; // pages shared between commits are walked once
                }
                for entry in self.index.get_page(page).await? {
                    live.extend(entry.spans.iter().map(|s| (CHUNKS, s.chunk)));
                }
            }
        }
        Ok(live)
    }

    /// Verifies every reference and every hash, changing nothing.
    pub async fn fsck(&self) -> Result<FsckReport, PfsError> {
        // Check what is stored, not what was cached.
        self.objects().forget_known();
        let mut report = FsckReport::default();
        let mut checked: HashSet<(&str, Hash)> = HashSet::new();
        for repo in self.meta.repo_list().await? {
            for branch in self.meta.branch_list(&repo.name).await? {
                if self.meta.commit_get(&repo.name, branch.head).await?.is_none() {
                    report
                        .problems
                        .push(format!("branch {}@{} points at missing commit {}", repo.name, branch.name, branch.head));
                }
            }
            for commit in self.meta.commit_list(&repo.name, u64::MAX).await? {
                report.commits_checked += 1;
                let label = format!("{}@{}", repo.name, commit.id);
                if let Some(parent) = commit.parent
                    && self.meta.commit_get(&repo.name, parent).await?.is_none()
                {
                    report.problems.push(format!("commit {label} has a missing parent {parent}"));
                }
                let roots = match (&commit.root, commit.is_finished()) {
                    (Some(root), _) => vec![self.check_root(*root, &label, &mut report, &mut checked).await],
                    (None, true) => {
                        report.problems.push(format!("finished commit {label} has no content root"));
                        Vec::new()
                    }
                    (None, false) => {
                        let mut roots = Vec::new();
                        for layer in self.meta.commit_layers(&repo.name, commit.id).await? {
                            report.objects_checked += 1;
                            match self.index.get_layer(&layer).await {
                                Ok(layer) => roots.push(Some(layer.puts)),
                                Err(error) => {
                                    report.problems.push(format!("open commit {label}: layer {layer}: {error}"));
                                }
                            }
                        }
                        roots
                    }
                };
                for root in roots.into_iter().flatten() {
                    self.check_pages(&root, &label, &mut report, &mut checked).await?;
                }
            }
        }
        Ok(report)
    }

    async fn check_root(
        &self,
        hash: Hash,
        label: &str,
        report: &mut FsckReport,
        checked: &mut HashSet<(&str, Hash)>,
    ) -> Option<Root> {
        checked.insert((INDEX, hash));
        report.objects_checked += 1;
        match self.index.get_root(&hash).await {
            Ok(root) => Some(root),
            Err(error) => {
                report.problems.push(format!("commit {label}: root: {error}"));
                None
            }
        }
    }

    async fn check_pages(
        &self,
        root: &Root,
        label: &str,
        report: &mut FsckReport,
        checked: &mut HashSet<(&str, Hash)>,
    ) -> Result<(), PfsError> {
        for page in &root.pages {
            if !checked.insert((INDEX, page.hash)) {
                continue;
            }
            report.objects_checked += 1;
            let entries = match self.index.get_page(page).await {
                Ok(entries) => entries,
                Err(error) => {
                    report.problems.push(format!("commit {label}: index page: {error}"));
                    continue;
                }
            };
            for entry in entries {
                for span in &entry.spans {
                    if !checked.insert((CHUNKS, span.chunk)) {
                        continue;
                    }
                    report.objects_checked += 1;
                    match self.objects().get(CHUNKS, &span.chunk).await {
                        Ok(chunk) if chunk.len() < (span.offset + span.len) as usize => {
                            report.problems.push(format!(
                                "commit {label}: file {}: chunk {} is shorter than the span",
                                entry.path, span.chunk
                            ));
                        }
                        Ok(_) => {}
                        Err(error) => report.problems.push(format!("commit {label}: file {}: {error}", entry.path)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes stored in the object store, per area (`chunks`, `index`).
    pub async fn stored_bytes(&self) -> Result<BTreeMap<&'static str, u64>, PfsError> {
        let mut sizes = BTreeMap::new();
        for area in [CHUNKS, INDEX] {
            let listing = self.objects().list(area).await?;
            sizes.insert(area, listing.iter().map(|o| o.size).sum());
        }
        Ok(sizes)
    }
}

fn file_info(entry: &FileEntry) -> FileInfo {
    FileInfo { path: entry.path.clone(), kind: FileKind::File, size: entry.size, hash: entry.hash.to_hex() }
}

/// Builds a directory's size and hash from its files in path order.
struct DirAccumulator {
    path: String,
    size: u64,
    files: u64,
    hasher: blake3::Hasher,
}

impl DirAccumulator {
    fn new(path: String) -> Self {
        Self { path, size: 0, files: 0, hasher: blake3::Hasher::new() }
    }

    fn add(&mut self, entry: &FileEntry) {
        self.size += entry.size;
        self.files += 1;
        self.hasher.update(entry.path.as_bytes());
        self.hasher.update(&entry.hash.0);
    }

    fn finish(self) -> FileInfo {
        FileInfo {
            path: self.path,
            kind: FileKind::Dir,
            size: self.size,
            hash: self.hasher.finalize().to_hex().to_string(),
        }
    }
}

/// Matches files and directories of `root` against `glob`, in path order.
/// Directories are implicit: each is the run of files under its prefix, so
/// one pass over the sorted files finds them all. Matched entries wait in
/// `pending` only while a matched directory above them is still open.
pub(crate) async fn glob_root(index: &IndexStore, root: &Root, glob: &Glob) -> Result<Vec<FileInfo>, PfsError> {
    let mut out = Vec::new();
    if glob.is_match("/") {
        let mut whole = DirAccumulator::new("/".to_owned());
        let mut cursor = index.cursor(root, "/");
        while let Some(entry) = cursor.next().await? {
            whole.add(&entry);
        }
        out.push(whole.finish());
        return Ok(out);
    }
    let prefix = glob.literal_prefix().to_owned();
    // Open directories, outermost first: (accumulator, matched).
    let mut open: Vec<(DirAccumulator, bool)> = Vec::new();
    let mut pending: Vec<(String, Option<FileInfo>)> = Vec::new();
    let mut cursor = index.cursor(root, &prefix);
    while let Some(entry) = cursor.next().await? {
        if !entry.path.starts_with(&prefix) {
            break;
        }
        // Close directories this entry is not in.
        while let Some((dir, _)) = open.last() {
            if entry.path.starts_with(&dir_prefix(&dir.path)) {
                break;
            }
            close_dir(&mut open, &mut pending);
        }
        // Open the directories between the innermost open one and the file.
        let depth_start = open.last().map_or(1, |(dir, _)| dir.path.len() + 1);
        let mut at = depth_start;
        while let Some(slash) = entry.path[at..].find('/') {
            let dir_path = entry.path[..at + slash].to_owned();
            let matched = glob.is_match(&dir_path);
            if matched {
                pending.push((dir_path.clone(), None));
            }
            open.push((DirAccumulator::new(dir_path), matched));
            at += slash + 1;
        }
        for (dir, _) in &mut open {
            dir.add(&entry);
        }
        if glob.is_match(&entry.path) {
            pending.push((entry.path.clone(), Some(file_info(&entry))));
        }
        flush_ready(&mut pending, &mut out);
    }
    while !open.is_empty() {
        close_dir(&mut open, &mut pending);
    }
    flush_ready(&mut pending, &mut out);
    Ok(out)
}

fn close_dir(open: &mut Vec<(DirAccumulator, bool)>, pending: &mut [(String, Option<FileInfo>)]) {
    let Some((dir, matched)) = open.pop() else { return };
    if matched {
        let info = dir.finish();
        if let Some((_, slot)) = pending.iter_mut().rev().find(|(path, slot)| slot.is_none() && *path == info.path) {
            *slot = Some(info);
        }
    }
}

/// Emits pending results up to the first directory still being measured.
fn flush_ready(pending: &mut Vec<(String, Option<FileInfo>)>, out: &mut Vec<FileInfo>) {
    let ready = pending.iter().take_while(|(_, info)| info.is_some()).count();
    out.extend(pending.drain(..ready).filter_map(|(_, info)| info));
}

/// Paths under `dir` that differ between two roots, by merging the two
/// sorted walks.
async fn diff_roots(index: &IndexStore, old: &Root, new: &Root, dir: &str) -> Result<Vec<DiffEntry>, PfsError> {
    let prefix = if dir == "/" { "/".to_owned() } else { dir.to_owned() };
    let within = |path: &str| dir == "/" || path == dir || path.starts_with(&dir_prefix(dir));
    let mut old_cursor = index.cursor(old, &prefix);
    let mut new_cursor = index.cursor(new, &prefix);
    let mut a = next_within(&mut old_cursor, &within).await?;
    let mut b = next_within(&mut new_cursor, &within).await?;
    let mut out = Vec::new();
    loop {
        // Which walk is behind; an exhausted walk is behind nothing.
        let order = match (&a, &b) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.path.cmp(&y.path),
        };
        match (order, &a, &b) {
            (std::cmp::Ordering::Equal, Some(x), Some(y)) => {
                if x.hash != y.hash {
                    out.push(DiffEntry {
                        path: y.path.clone(),
                        change: DiffKind::Modified,
                        old_size: Some(x.size),
                        new_size: Some(y.size),
                    });
                }
                a = next_within(&mut old_cursor, &within).await?;
                b = next_within(&mut new_cursor, &within).await?;
            }
            (std::cmp::Ordering::Less, Some(x), _) => {
                out.push(DiffEntry {
                    path: x.path.clone(),
                    change: DiffKind::Removed,
                    old_size: Some(x.size),
                    new_size: None,
                });
                a = next_within(&mut old_cursor, &within).await?;
            }
            (_, _, Some(y)) => {
                out.push(DiffEntry {
                    path: y.path.clone(),
                    change: DiffKind::Added,
                    old_size: None,
                    new_size: Some(y.size),
                });
                b = next_within(&mut new_cursor, &within).await?;
            }
            (_, _, None) => break,
        }
    }
    Ok(out)
}

async fn next_within(
    cursor: &mut crate::storage::fileset::Cursor<'_>,
    within: &impl Fn(&str) -> bool,
) -> Result<Option<FileEntry>, PfsError> {
    Ok(cursor.next().await?.filter(|e| within(&e.path)))
}
