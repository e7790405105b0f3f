//! PFS: the versioned file system.
//!
//! The API is [`Pfs`] with the domain types of [`model`] (re-exported
//! here), [`names`] and [`glob`]; [`http`] serves it over HTTP and is the
//! only place that knows the wire types. Everything else is private to the
//! crate:
//!
//! * `storage`: content-defined chunks and paged file-set indexes in the object store.
//! * `meta`: repos, branches, commits and layers in the workspace database.
//! * `service`: the operations, by concern (repos, commits, files, reads, maintenance).
//! * `archive`: streaming files as bytes or tar archives.
//!
//! Invariant: objects are written before the metadata that names them, and
//! each metadata change is one transaction, so a crash at any point leaves
//! at most unreferenced objects (removed by GC), never a dangling reference
//! or a half-finished commit.

mod archive;
pub mod error;
pub mod glob;
pub mod http;
mod meta;
pub mod model;
pub mod names;
mod service;
mod storage;
mod upload;

pub use error::PfsError;
pub use model::{
    Branch, BranchRef, Commit, CommitTarget, DiffEntry, DiffKind, FileInfo, FileKind, FsckReport, GcReport, Origin,
    PathChange, PutFormat, PutMode, PutSummary, Repo, RepoKind, RepoStorage, RepoSummary, Snapshot, StoredFile,
    TarMember, WhenDependedOn,
};
pub use names::RepoName;
pub use service::Pfs;
