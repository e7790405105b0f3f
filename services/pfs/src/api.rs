//! PFS's operations in the types that cross the wire (`strata-api-types`).
//!
//! The HTTP routes answer with these, and a server that hosts a workspace
//! in-process calls them directly (GraphQL on the embedded workspace), so
//! both parse their input and shape their answer the same way. Only this
//! module and [`crate::http`] know the wire types.

use strata_api_types::pfs as wire;
use strata_api_types::pfs::{BranchInfo, CommitInfo, CreateBranch, CreateRepo, FinishCommit, RepoInfo, StartCommit};
use strata_core::id::CommitId;

use crate::error::PfsError;
use crate::model::{
    Branch, BranchRef, Commit, CommitTarget, DiffEntry, DiffKind, FileInfo, FileKind, FsckReport, GcReport, PutSummary,
    RepoStorage, RepoSummary, WhenDependedOn,
};
use crate::names::{BranchName, RepoName};
use crate::service::Pfs;

type Result<T> = std::result::Result<T, PfsError>;

// ---- operations ------------------------------------------------------

pub async fn repo_list(pfs: &Pfs) -> Result<Vec<RepoInfo>> {
    Ok(wire_list(pfs.repo_list().await?))
}

/// Creates a repo and answers it as `repo inspect` would.
pub async fn repo_create(pfs: &Pfs, body: &CreateRepo) -> Result<RepoInfo> {
    let name = RepoName::parse(&body.name)?;
    let repo = pfs.repo_create(&name, &body.description).await?;
    Ok(RepoInfo::from(pfs.repo_inspect(&repo.name).await?))
}

/// A repo with its storage figures.
pub async fn repo_inspect(pfs: &Pfs, repo: &str) -> Result<RepoInfo> {
    let repo = RepoName::parse(repo)?;
    let mut info = RepoInfo::from(pfs.repo_inspect(&repo).await?);
    info.storage = Some(pfs.repo_storage(&repo).await?.into());
    Ok(info)
}

/// Deletes a repo (and, with [`WhenDependedOn::DeleteAnyway`], what depends
/// on it); answers the names of the repos deleted.
pub async fn repo_delete(pfs: &Pfs, repo: &str, when_depended_on: WhenDependedOn) -> Result<Vec<String>> {
    let deleted = pfs.repo_delete(&RepoName::parse(repo)?, when_depended_on).await?;
    Ok(deleted.iter().map(RepoName::to_string).collect())
}

pub async fn branch_list(pfs: &Pfs, repo: &str) -> Result<Vec<BranchInfo>> {
    Ok(wire_list(pfs.branch_list(&RepoName::parse(repo)?).await?))
}

pub async fn branch_create(pfs: &Pfs, repo: &str, body: &CreateBranch) -> Result<BranchInfo> {
    let repo = RepoName::parse(repo)?;
    let provenance = body.provenance.iter().map(|p| parse_branch_ref(p)).collect::<Result<Vec<_>>>()?;
    Ok(pfs.branch_create(&repo, &body.name, body.head.as_deref(), &provenance).await?.into())
}

pub async fn commit_list(pfs: &Pfs, repo: &str, limit: u64) -> Result<Vec<CommitInfo>> {
    Ok(wire_list(pfs.commit_list(&RepoName::parse(repo)?, limit).await?))
}

pub async fn commit_start(pfs: &Pfs, repo: &str, body: &StartCommit) -> Result<CommitInfo> {
    Ok(pfs.commit_start(&RepoName::parse(repo)?, &body.branch, &body.description).await?.into())
}

pub async fn commit_finish(pfs: &Pfs, repo: &str, reference: &str, body: &FinishCommit) -> Result<CommitInfo> {
    let repo = RepoName::parse(repo)?;
    Ok(pfs.commit_finish(&repo, reference, body.description.as_deref(), body.error.as_deref()).await?.into())
}

/// Every commit of the commit set `id`.
pub async fn commit_set(pfs: &Pfs, id: &str) -> Result<Vec<CommitInfo>> {
    let id = id.parse::<CommitId>().map_err(|e| PfsError::invalid("commit set id", e.to_string()))?;
    Ok(wire_list(pfs.commit_set(id).await?))
}

/// The files and directories directly below `dir`.
pub async fn file_list(pfs: &Pfs, repo: &str, reference: &str, dir: &str) -> Result<Vec<wire::FileInfo>> {
    Ok(wire_list(pfs.file_list(&RepoName::parse(repo)?, reference, dir).await?))
}

/// Deletes a file or directory in a branch's new commit or an open
/// commit; answers the commit written.
pub async fn file_delete(pfs: &Pfs, repo: &str, reference: &str, path: &str) -> Result<wire::FileDeleted> {
    let commit = pfs.delete(&RepoName::parse(repo)?, target(reference)?, path).await?;
    Ok(wire::FileDeleted { commit: commit.to_string() })
}

// ---- conversions -----------------------------------------------------

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<RepoSummary> for RepoInfo {
    fn from(summary: RepoSummary) -> Self {
        RepoInfo {
            name: summary.repo.name.to_string(),
            kind: summary.repo.kind.as_str().to_owned(),
            description: summary.repo.description,
            created_at: rfc3339(summary.repo.created_at),
            branches: summary.branches,
            size_bytes: summary.size_bytes,
            storage: None,
        }
    }
}

impl From<RepoStorage> for wire::RepoStorageInfo {
    fn from(storage: RepoStorage) -> Self {
        wire::RepoStorageInfo {
            logical_bytes: storage.logical_bytes,
            stored_bytes: storage.stored_bytes,
            chunks: storage.chunks,
        }
    }
}

impl From<Branch> for BranchInfo {
    fn from(branch: Branch) -> Self {
        BranchInfo {
            repo: branch.repo.to_string(),
            name: branch.name,
            head: branch.head.to_string(),
            created_at: rfc3339(branch.created_at),
            provenance: branch.provenance.iter().map(BranchRef::to_string).collect(),
        }
    }
}

impl From<Commit> for CommitInfo {
    fn from(commit: Commit) -> Self {
        CommitInfo {
            repo: commit.repo.to_string(),
            id: commit.id.to_string(),
            branch: commit.branch,
            parent: commit.parent.map(|p| p.to_string()),
            origin: commit.origin.as_str().to_owned(),
            description: commit.description,
            started_at: rfc3339(commit.started_at),
            finished_at: commit.finished_at.map(rfc3339),
            size_bytes: commit.size_bytes,
            files: commit.files,
            error: commit.error,
            provenance: commit.provenance.into_iter().map(|(r, c)| format!("{r}@{c}")).collect(),
        }
    }
}

impl From<PutSummary> for wire::PutSummary {
    fn from(summary: PutSummary) -> Self {
        wire::PutSummary {
            commit: summary.commit.to_string(),
            files: summary.files,
            bytes: summary.bytes,
            stored_bytes: summary.stored_bytes,
            auto_committed: summary.auto_committed,
        }
    }
}

impl From<FileKind> for wire::FileKind {
    fn from(kind: FileKind) -> Self {
        match kind {
            FileKind::File => wire::FileKind::File,
            FileKind::Dir => wire::FileKind::Dir,
        }
    }
}

impl From<FileInfo> for wire::FileInfo {
    fn from(info: FileInfo) -> Self {
        wire::FileInfo { path: info.path, kind: info.kind.into(), size: info.size, hash: info.hash }
    }
}

impl From<DiffKind> for wire::DiffKind {
    fn from(kind: DiffKind) -> Self {
        match kind {
            DiffKind::Added => wire::DiffKind::Added,
            DiffKind::Removed => wire::DiffKind::Removed,
            DiffKind::Modified => wire::DiffKind::Modified,
        }
    }
}

impl From<DiffEntry> for wire::DiffEntry {
    fn from(entry: DiffEntry) -> Self {
        wire::DiffEntry {
            path: entry.path,
            change: entry.change.into(),
            old_size: entry.old_size,
            new_size: entry.new_size,
        }
    }
}

impl From<GcReport> for wire::GcReport {
    fn from(report: GcReport) -> Self {
        wire::GcReport {
            objects_kept: report.objects_kept,
            objects_deleted: report.objects_deleted,
            bytes_deleted: report.bytes_deleted,
            bytes_kept: report.bytes_kept,
        }
    }
}

impl From<FsckReport> for wire::FsckReport {
    fn from(report: FsckReport) -> Self {
        wire::FsckReport {
            commits_checked: report.commits_checked,
            objects_checked: report.objects_checked,
            problems: report.problems,
        }
    }
}

/// Converts each item of a domain list to its wire form.
pub(crate) fn wire_list<T, W: From<T>>(items: Vec<T>) -> Vec<W> {
    items.into_iter().map(W::from).collect()
}

/// `repo@branch` → the pair, validated.
pub(crate) fn parse_branch_ref(text: &str) -> Result<BranchRef> {
    let (repo, branch) = text
        .split_once('@')
        .ok_or_else(|| PfsError::invalid("provenance", format!("`{text}` is not `repo@branch`")))?;
    Ok(BranchRef { repo: RepoName::parse(repo)?, branch: BranchName::parse(branch)? })
}

/// A write goes to a branch or to an open commit by id.
pub(crate) fn target(reference: &str) -> Result<CommitTarget> {
    if let Some(id) = (reference.len() == 32).then(|| reference.parse::<CommitId>().ok()).flatten() {
        return Ok(CommitTarget::Commit(id));
    }
    BranchName::parse(reference).map(CommitTarget::Branch).map_err(|_| {
        PfsError::invalid("commit reference", format!("writes go to a branch or an open commit id, not `{reference}`"))
    })
}
