//! Integration tests of the PFS API on a real SQLite database and an
//! in-memory object store, counting the SQL statements each call sends.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod history;
mod listing;
mod quota;
mod squash;
mod wait;

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use strata_pfs::names::BranchName;
use strata_pfs::{CommitTarget, Pfs, PutFormat, PutMode, PutSummary, RepoName};
use tempfile::TempDir;

/// A PFS on its own database file, with a count of the statements sent.
#[derive(Debug)]
pub struct TestPfs {
    pub pfs: Pfs,
    /// The same database, for what the tests do behind PFS's back.
    pub db: DatabaseConnection,
    statements: Arc<AtomicU64>,
    _dir: TempDir,
}

impl TestPfs {
    pub async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("pfs.db").display());
        let mut db = sea_orm::Database::connect(url).await.unwrap();
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let store = Arc::new(object_store::memory::InMemory::new());
        let pfs = Pfs::open(db.clone(), store).await.unwrap();
        Self { pfs, db, statements, _dir: dir }
    }

    /// Statements sent so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }

    /// Runs `work` and answers what it returned and how many statements it sent.
    pub async fn counting<T>(&self, work: impl Future<Output = T>) -> (T, u64) {
        let before = self.statements();
        let out = work.await;
        (out, self.statements() - before)
    }

    /// Runs a statement behind PFS's back (fault injection).
    pub async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.unwrap();
    }

    /// Writes `content` to `path` on `repo@branch` in a commit of its own.
    pub async fn put(&self, repo: &RepoName, branch: &str, path: &str, content: &str) -> PutSummary {
        let target = CommitTarget::Branch(BranchName::parse(branch).unwrap());
        let body = Cursor::new(content.as_bytes().to_vec());
        self.pfs.put(repo, target, path, PutFormat::File, PutMode::Overwrite, body).await.unwrap()
    }
}

pub fn repo(name: &str) -> RepoName {
    RepoName::parse(name).unwrap()
}
