//! Writes: put, delete, copy.

use std::io::Read;

use strata_core::id::CommitId;

use super::Pfs;
use crate::error::PfsError;
use crate::model::{Commit, CommitTarget, PutFormat, PutMode, PutSummary};
use crate::names::{RepoName, clean_path, dir_prefix};
use crate::storage::chunks::CHUNKS;
use crate::storage::fileset::{FileEntry, Layer, Root};
use crate::upload::{Source, upload};

impl Pfs {
    // ---- files: writes -----------------------------------------------

    /// Writes one file, or a tar of files below a directory, to `target`. On a branch without
    /// an open commit the write gets its own commit, finished afterwards; on
    /// failure nothing becomes visible.
    pub async fn put(
        &self,
        repo: &RepoName,
        target: CommitTarget,
        source_path: &str,
        format: PutFormat,
        mode: PutMode,
        reader: impl Read + Send + 'static,
    ) -> Result<PutSummary, PfsError> {
        let path = clean_path(source_path)?;
        if format == PutFormat::File && path == "/" {
            return Err(PfsError::invalid("path", "a file needs a path other than `/`"));
        }
        self.check_writable(repo, &target).await?;
        self.count_before_upload().await?;
        let upload_guard = self.gc_lock.read().await;
        let source = match format {
            PutFormat::File => Source::File(path),
            PutFormat::Tar => Source::Tar(path),
        };
        // The bytes are stored before any commit exists: a refused upload (a
        // `../` tar entry, a broken stream) must leave nothing that a
        // pipeline could see, not even a commit that is undone a moment
        // later. Chunks of a refused upload are garbage that GC reclaims.
        let uploaded = upload(self.objects(), source, reader).await?;
        self.admit_upload(&uploaded).await?;
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
        Ok(PutSummary { commit: commit.id, files, bytes, stored_bytes: uploaded.stored_bytes, auto_committed: auto })
    }

    /// Records uploaded entries as a layer of the open `commit`; answers
    /// the number of files and bytes written.
    pub(super) async fn add_put_layer(
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
        self.meta.commit_add_layer(commit.repo.as_str(), commit.id, layer).await?;
        Ok((files, bytes))
    }

    /// Removes a commit set a failed write made (the write's own commit and
    /// the AUTO commits it propagated), moving each branch back to where it
    /// was. Best effort: what is left stays an open commit, which is safe.
    pub(super) async fn abandon(&self, id: CommitId) {
        let Ok(commits) = self.meta.commit_set(id).await else { return };
        for commit in commits {
            if let Err(error) = self.meta.commit_delete(commit.repo.as_str(), id, commit.parent).await {
                tracing::warn!(repo = %commit.repo, commit = %id, %error, "could not remove the commit of a failed write");
            }
        }
    }

    /// The commit `repo@id` while it is open; writing to a finished one is a conflict.
    pub(super) async fn unfinished_commit(&self, repo: &RepoName, id: CommitId) -> Result<Commit, PfsError> {
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
    pub(super) async fn check_writable(&self, repo: &RepoName, target: &CommitTarget) -> Result<(), PfsError> {
        self.repo(repo).await?;
        match target {
            CommitTarget::Commit(id) => self.unfinished_commit(repo, *id).await.map(drop),
            // Parsed already; the commit is made (or found open) later.
            CommitTarget::Branch(_) => Ok(()),
        }
    }

    /// What a write to `target` starts from: the open commit's content, or
    /// the branch head's that a new commit would inherit.
    pub(super) async fn target_content(&self, repo: &RepoName, target: &CommitTarget) -> Result<Root, PfsError> {
        let commit = match target {
            CommitTarget::Commit(id) => self.commit_row(repo, *id).await?,
            CommitTarget::Branch(branch) => match self.meta.branch_get(repo.as_str(), branch.as_str()).await? {
                Some(head) => self.commit_row(repo, head.head).await?,
                None => return Ok(Root::default()),
            },
        };
        self.content(&commit).await
    }

    /// The open commit a write goes to, and whether it was made for it.
    pub(super) async fn open_commit_for_write(
        &self,
        repo: &RepoName,
        target: &CommitTarget,
    ) -> Result<(Commit, bool), PfsError> {
        match target {
            CommitTarget::Commit(id) => {
                let commit = self.unfinished_commit(repo, *id).await?;
                Ok((commit, false))
            }
            CommitTarget::Branch(branch) => {
                if let Some(head) = self.meta.branch_get(repo.as_str(), branch.as_str()).await? {
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
    pub(super) async fn appended(&self, commit: &Commit, entries: Vec<FileEntry>) -> Result<Vec<FileEntry>, PfsError> {
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
    pub async fn delete(&self, repo: &RepoName, target: CommitTarget, path: &str) -> Result<CommitId, PfsError> {
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
        self.meta.commit_add_layer(repo.as_str(), commit.id, layer).await?;
        if auto {
            self.commit_finish(repo, &commit.id.to_string(), None, None).await?;
        }
        Ok(commit.id)
    }

    /// Deletes many files or directories (`/dir/`) of an open commit in one
    /// layer. Paths that do not exist are ignored: PPS uses it to clear the
    /// outputs of datums that run again, some of which may be gone already.
    pub async fn delete_paths(&self, repo: &RepoName, id: CommitId, paths: Vec<String>) -> Result<(), PfsError> {
        if paths.is_empty() {
            return Ok(());
        }
        let commit = self.commit_row(repo, id).await?;
        if commit.is_finished() {
            return Err(PfsError::Conflict(format!("commit {repo}@{id} is finished")));
        }
        let layer = self.index.put_layer(&Layer { puts: Root::default(), deletes: paths }).await?;
        self.meta.commit_add_layer(repo.as_str(), id, layer).await
    }

    /// Copies a file or directory by reference (no data is copied).
    pub async fn copy(
        &self,
        src_repo: &RepoName,
        src_ref: &str,
        src_path: &str,
        repo: &RepoName,
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
        self.meta.commit_add_layer(repo.as_str(), commit.id, layer).await?;
        if auto {
            self.commit_finish(repo, &commit.id.to_string(), None, None).await?;
        }
        Ok(PutSummary { commit: commit.id, files, bytes, stored_bytes: 0, auto_committed: auto })
    }
}
