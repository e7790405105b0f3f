//! PFS bodies: repos, branches, commits, files.

use serde::{Deserialize, Serialize};

/// `POST /repos`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateRepo {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A repo as listed and inspected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoInfo {
    pub name: String,
    /// `user`, `output` or `spec`.
    pub kind: String,
    pub description: String,
    pub created_at: String,
    pub branches: Vec<String>,
    /// Size of the largest branch head.
    pub size_bytes: u64,
    /// Logical against stored bytes; only on inspect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<RepoStorageInfo>,
}

/// What a repo's branch heads hold against what their chunks occupy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoStorageInfo {
    /// Sum of the heads' file sizes.
    pub logical_bytes: u64,
    /// Compressed bytes of the distinct chunks the heads reference.
    pub stored_bytes: u64,
    pub chunks: u64,
}

/// `POST /repos/{repo}/branches`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateBranch {
    pub name: String,
    /// A commit reference to point the branch at.
    #[serde(default)]
    pub head: Option<String>,
    /// `repo@branch` references this branch derives from.
    #[serde(default)]
    pub provenance: Vec<String>,
}

/// A branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchInfo {
    pub repo: String,
    pub name: String,
    pub head: String,
    pub created_at: String,
    pub provenance: Vec<String>,
}

/// `POST /repos/{repo}/commits`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartCommit {
    pub branch: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /repos/{repo}/commits/{ref}/finish`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FinishCommit {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitInfo {
    pub repo: String,
    pub id: String,
    pub branch: Option<String>,
    pub parent: Option<String>,
    /// `USER` or `AUTO`.
    pub origin: String,
    pub description: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub size_bytes: u64,
    pub files: u64,
    pub error: Option<String>,
    /// `repo@commit` this commit derives from.
    pub provenance: Vec<String>,
}

/// What a write did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PutSummary {
    pub commit: String,
    pub files: u64,
    pub bytes: u64,
    /// Bytes newly stored after dedup and compression.
    pub stored_bytes: u64,
    /// True when the write made and finished its own commit.
    pub auto_committed: bool,
}

/// The answer of `DELETE .../repos/{repo}`: the repos deleted (with
/// `force`, the repo and what depended on it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReposDeleted {
    pub deleted: Vec<String>,
}

/// The answer of `DELETE .../files/{path}`: the commit the deletion is in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileDeleted {
    pub commit: String,
}

/// `POST .../copy`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyFile {
    pub src_repo: String,
    pub src_ref: String,
    pub src_path: String,
    pub dst_path: String,
}

/// A file or an implicit directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
}

/// A file or directory in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub kind: FileKind,
    pub size: u64,
    /// Content hash (BLAKE3) for files; for directories a hash over the
    /// children's paths and hashes.
    pub hash: String,
}

/// How a path differs between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Added,
    Removed,
    Modified,
}

/// One line of a diff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct DiffEntry {
    pub path: String,
    pub change: DiffKind,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

/// What GC reclaimed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GcReport {
    pub objects_kept: u64,
    pub objects_deleted: u64,
    pub bytes_deleted: u64,
    pub bytes_kept: u64,
}

/// The bytes a workspace stores (chunks and index, after deduplication
/// and compression): what its plan's storage limit and the storage meter
/// count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTotal {
    pub bytes: u64,
}

/// What fsck found; `problems` empty means healthy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FsckReport {
    pub commits_checked: u64,
    pub objects_checked: u64,
    pub problems: Vec<String>,
}
