//! PFS: the versioned file system.
//!
//! * [`storage`]: content-defined chunks and paged file-set indexes in the object store.
//! * [`meta`]: repos, branches, commits and layers in the workspace database.
//! * [`Pfs`]: the operations (repos, branches, commits, files, GC, fsck).
//! * [`http`]: the HTTP API that streams file bytes.
//!
//! Invariant: objects are written before the metadata that names them, and
//! each metadata change is one transaction, so a crash at any point leaves
//! at most unreferenced objects (removed by GC), never a dangling reference
//! or a half-finished commit.

pub mod error;
pub mod glob;
pub mod http;
pub mod meta;
pub mod names;
mod service;
pub mod storage;
mod upload;

pub use error::PfsError;
pub use service::{CommitTarget, Pfs, PutMode, RepoStorage, RepoSummary};
