//! PFS's own domain types: what its API takes and returns.
//!
//! They are neither wire bodies (`strata_api_types::pfs`, converted from
//! these in `http.rs`) nor database rows or storage structures: what PFS
//! needs to remember about storage inside them (a commit's root, a file's
//! chunks) is private to the crate.

use chrono::{DateTime, Utc};
use strata_core::id::CommitId;

use crate::error::PfsError;
use crate::names::{BranchName, RepoName};
use crate::storage::Hash;
use crate::storage::fileset::{FileEntry, Root};

/// What a repo holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// Data people put in.
    User,
    /// A pipeline's output.
    Output,
    /// A pipeline's spec history.
    Spec,
}

impl RepoKind {
    /// The name stored and shown (`user`, `output`, `spec`).
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::User => "user",
            RepoKind::Output => "output",
            RepoKind::Spec => "spec",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, PfsError> {
        match text {
            "user" => Ok(RepoKind::User),
            "output" => Ok(RepoKind::Output),
            "spec" => Ok(RepoKind::Spec),
            other => Err(PfsError::invalid("repo type", format!("`{other}` is not one of: user, output, spec"))),
        }
    }
}

/// A repo.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: RepoName,
    pub kind: RepoKind,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// A branch with its direct provenance.
#[derive(Debug, Clone)]
pub struct Branch {
    pub repo: RepoName,
    pub name: String,
    pub head: CommitId,
    pub created_at: DateTime<Utc>,
    /// The branches this branch is derived from.
    pub provenance: Vec<BranchRef>,
}

/// A branch of a repo, `repo@branch`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BranchRef {
    pub repo: RepoName,
    pub branch: BranchName,
}

impl std::fmt::Display for BranchRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.repo, self.branch)
    }
}

/// How a commit came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Started by a person or a program.
    User,
    /// Created by provenance propagation (a pipeline's output).
    Auto,
}

impl Origin {
    /// The name stored and shown (`USER`, `AUTO`).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "USER",
            Origin::Auto => "AUTO",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        if text == "AUTO" { Origin::Auto } else { Origin::User }
    }
}

/// A commit: what it is, where it sits in history, what it holds.
#[derive(Debug, Clone)]
pub struct Commit {
    pub repo: RepoName,
    pub id: CommitId,
    /// Order of creation within the repo.
    pub seq: i64,
    pub branch: Option<String>,
    pub parent: Option<CommitId>,
    pub origin: Origin,
    pub description: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub size_bytes: u64,
    pub files: u64,
    pub error: Option<String>,
    /// `(repo, commit)` pairs this commit was derived from.
    pub provenance: Vec<(RepoName, CommitId)>,
    /// The file-set root; `None` while open.
    pub(crate) root: Option<Hash>,
}

impl Commit {
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}

/// A repo with its branches and size.
#[derive(Debug, Clone)]
pub struct RepoSummary {
    pub repo: Repo,
    pub branches: Vec<String>,
    /// Size of the largest branch head.
    pub size_bytes: u64,
}

/// Storage figures of a repo's branch heads.
#[derive(Debug, Clone, Copy)]
pub struct RepoStorage {
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    pub chunks: u64,
}

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
    pub(crate) fn name(&self) -> String {
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

/// What the bytes of a write are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFormat {
    /// One file's content, stored at the given path.
    File,
    /// A tar archive whose files are stored below the given directory.
    Tar,
}

/// What a delete does when other repos' or branches' provenance names the
/// thing deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDependedOn {
    /// Refuse, naming the dependants (the default for people).
    Refuse,
    /// Delete anyway (pipelines removing their own repos).
    DeleteAnyway,
}

/// What a write did.
#[derive(Debug, Clone)]
pub struct PutSummary {
    pub commit: CommitId,
    pub files: u64,
    pub bytes: u64,
    /// Bytes newly stored after dedup and compression.
    pub stored_bytes: u64,
    /// True when the write made and finished its own commit.
    pub auto_committed: bool,
}

/// A file or an implicit directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
}

/// A file or directory with its size and content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: String,
    pub kind: FileKind,
    pub size: u64,
    /// BLAKE3 of a file's content (hex); for a directory a hash over its
    /// files' paths and hashes.
    pub hash: String,
}

/// How a path differs between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    Added,
    Removed,
    Modified,
}

/// One path of a diff between two commits.
#[derive(Debug, Clone)]
pub struct DiffEntry {
    pub path: String,
    pub change: DiffKind,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

/// What GC reclaimed.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub objects_kept: u64,
    pub objects_deleted: u64,
    pub bytes_deleted: u64,
    pub bytes_kept: u64,
}

/// What fsck found; `problems` empty means healthy.
#[derive(Debug, Clone, Default)]
pub struct FsckReport {
    pub commits_checked: u64,
    pub objects_checked: u64,
    pub problems: Vec<String>,
}

/// The content of a commit at one moment: every file, by path. Cheap to
/// hold; reading files through it reads the index pages they are on.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub(crate) root: Root,
}

impl Snapshot {
    /// Number of files.
    pub fn files(&self) -> u64 {
        self.root.files
    }
}

/// One stored file of a snapshot: its path and size, and (private to PFS)
/// where its bytes are, so it can be streamed later without a lookup.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub path: String,
    pub size: u64,
    pub(crate) entry: FileEntry,
}

impl StoredFile {
    pub(crate) fn new(entry: FileEntry) -> Self {
        Self { path: entry.path.clone(), size: entry.size, entry }
    }

    /// The same file with no content: its name is all a reader gets
    /// (Pachyderm's `empty_files` inputs).
    pub fn without_content(mut self) -> Self {
        self.size = 0;
        self.entry.size = 0;
        self.entry.spans.clear();
        self
    }
}

/// A path whose content differs between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    pub path: String,
}

/// One file of a tar stream: its name in the archive and its content.
#[derive(Debug, Clone)]
pub struct TarMember {
    pub name: String,
    pub file: StoredFile,
}
