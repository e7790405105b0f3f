//! PFS operations: the API that handlers and PPS call, by concern
//! (`repos`, `commits`, `files`, `reads`, `maintenance`). These call `meta`
//! and `storage`; they take and return the types of `crate::model`.

mod commits;
mod files;
mod maintenance;
mod quota;
mod reads;
mod repos;
mod traces;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use strata_core::store::DynObjectStore;
use tokio::sync::{RwLock, watch};

use crate::error::PfsError;
use crate::meta::Meta;
use crate::storage::chunks::ObjectArea;
use crate::storage::fileset::IndexStore;

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
    /// Bumped whenever a commit starts, finishes or leaves history, so PPS
    /// and `commit_wait` react at once instead of polling.
    changes: Arc<watch::Sender<u64>>,
    /// The trace of the request that started each recent commit set.
    traces: Arc<traces::CommitTraces>,
    /// What the workspace may store, and what it stores.
    quota: Arc<quota::StorageQuota>,
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
            traces: Arc::default(),
            quota: Arc::default(),
        })
    }

    /// The W3C `traceparent` of the request that started the commit set
    /// `id`, while this process remembers it: the job filling the set and
    /// its datums continue that trace.
    pub fn trace_of(&self, id: strata_core::id::CommitId) -> Option<String> {
        self.traces.of(id)
    }

    /// A receiver that sees a new value whenever a commit starts, finishes
    /// or leaves history.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn objects(&self) -> &ObjectArea {
        self.index.objects()
    }
}
