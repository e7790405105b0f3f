//! PFS: the versioned file system.
//!
//! The API is [`Pfs`] with the domain types of [`model`] (re-exported
//! here), [`names`] and [`glob`]; [`api`] answers its operations in the
//! wire types and [`http`] serves them over HTTP: those two are the only
//! places that know the wire types. Everything else is private to the
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

pub mod api;
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
