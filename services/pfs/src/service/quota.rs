//! A workspace's storage against its plan's limit (docs/billing.md,
//! "Quotas"). The limit comes from the hub: in the server's configuration
//! when it starts, then with every request the gateway forwards, so a plan
//! change applies from the next request. A write is refused when the bytes
//! it newly stores (after deduplication and compression) would take the
//! workspace past the limit; deletes, and writes of content already stored,
//! always pass, so a full workspace can always be cleaned up.
//!
//! The bytes stored are counted from a listing of the object store the
//! first time a limit needs them (while no upload is in flight, so the
//! listing holds none of their chunks) and after each garbage collection,
//! and kept up to date by every accepted write in between. Checking and
//! adding happen under one lock, so concurrent writes cannot both slip
//! under the limit.
//!
//! A refused write's chunks stay in the store as garbage until garbage
//! collection, uncounted; a later write that reuses one of them (a retry
//! of the same content, say) counts it then, once.

use std::collections::HashMap;

use strata_core::workspace_server::StorageLimit;
use tokio::sync::Mutex;

use super::Pfs;
use crate::error::PfsError;
use crate::storage::Hash;
use crate::upload::Uploaded;

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct StorageQuota {
    limit: std::sync::RwLock<Option<StorageLimit>>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Bytes in the object store; `None` until counted.
    stored: Option<u64>,
    /// Chunks of refused writes, stored but not counted, with their sizes.
    uncounted: HashMap<Hash, u64>,
}

impl Counts {
    /// What `uploaded` adds: the chunks it wrote, and those of refused
    /// writes it reuses.
    fn added_by(&self, uploaded: &Uploaded) -> (u64, Vec<Hash>) {
        let mut reused: Vec<Hash> = uploaded
            .entries
            .iter()
            .flat_map(|entry| entry.spans.iter().map(|span| span.chunk))
            .filter(|chunk| self.uncounted.contains_key(chunk))
            .collect();
        reused.sort_unstable();
        reused.dedup();
        let reused_bytes: u64 = reused.iter().filter_map(|chunk| self.uncounted.get(chunk)).sum();
        (uploaded.stored_bytes.saturating_add(reused_bytes), reused)
    }
}

impl StorageQuota {
    fn limit(&self) -> Option<StorageLimit> {
        self.limit.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Pfs {
    /// Sets what the workspace may store (`None`: no limit).
    pub fn set_storage_limit(&self, limit: Option<StorageLimit>) {
        let mut current = self.quota.limit.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current != limit {
            tracing::info!(?limit, "storage limit set");
            *current = limit;
        }
    }

    /// The bytes the workspace stores, as the quota counts them.
    pub async fn stored_total(&self) -> Result<u64, PfsError> {
        if let Some(bytes) = self.quota.counts.lock().await.stored {
            return Ok(bytes);
        }
        self.count_quietly().await
    }

    /// Counts the bytes stored from a listing while no upload is in flight
    /// (as garbage collection, it waits for them), so the count holds none
    /// of their chunks, which they add themselves when admitted.
    async fn count_quietly(&self) -> Result<u64, PfsError> {
        let _no_uploads = self.gc_lock.write().await;
        let mut counts = self.quota.counts.lock().await;
        self.counted(&mut counts).await
    }

    async fn counted(&self, counts: &mut Counts) -> Result<u64, PfsError> {
        if let Some(bytes) = counts.stored {
            return Ok(bytes);
        }
        let bytes = self.stored_bytes().await?.values().sum();
        // The listing holds every chunk, refused ones too.
        *counts = Counts { stored: Some(bytes), uncounted: HashMap::new() };
        Ok(bytes)
    }

    /// Counts the bytes stored before an upload when a limit needs them
    /// and they are not counted yet.
    pub(super) async fn count_before_upload(&self) -> Result<(), PfsError> {
        if self.quota.limit().is_none() || self.quota.counts.lock().await.stored.is_some() {
            return Ok(());
        }
        self.count_quietly().await.map(drop)
    }

    /// Admits an upload, counting what it adds, or refuses it with
    /// `QUOTA_EXCEEDED` (its new chunks are then garbage, uncounted).
    pub(super) async fn admit_upload(&self, uploaded: &Uploaded) -> Result<(), PfsError> {
        let mut counts = self.quota.counts.lock().await;
        let limit = self.quota.limit();
        let (added, reused) = counts.added_by(uploaded);
        if added == 0 {
            return Ok(());
        }
        let (after, listed) = match counts.stored {
            Some(bytes) => (bytes.saturating_add(added), false),
            // Nothing to enforce and nothing counted yet: no listing needed.
            None if limit.is_none() => return Ok(()),
            // A limit set while this upload was in flight: the listing holds
            // its chunks already (and perhaps others' in flight: a count on
            // the safe side until the next garbage collection).
            None => (self.counted(&mut counts).await?, true),
        };
        if let Some(limit) = limit.filter(|limit| after > limit.bytes) {
            if !listed {
                counts.uncounted.extend(uploaded.new_chunks.iter().copied());
            }
            return Err(PfsError::QuotaExceeded(limit.refusal(after)));
        }
        counts.stored = Some(after);
        for chunk in reused {
            counts.uncounted.remove(&chunk);
        }
        Ok(())
    }

    /// Sets the count to what garbage collection found kept (refused
    /// writes' chunks are gone, or kept and counted).
    pub(super) async fn recount_stored(&self, bytes: u64) {
        *self.quota.counts.lock().await = Counts { stored: Some(bytes), uncounted: HashMap::new() };
    }
}
