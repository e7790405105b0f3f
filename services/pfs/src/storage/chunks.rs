//! Chunk and index objects: encoding, verification, reads and writes.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use strata_core::store::DynObjectStore;

use super::{Hash, object_path};
use crate::error::PfsError;

/// Objects are stored as one codec byte followed by the payload.
const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// zstd level 1: on this 2-core machine it compresses at several hundred
/// MB/s, so it does not bound upload throughput; higher levels gain little
/// on typical data files for a large CPU cost.
const ZSTD_LEVEL: i32 = 1;

/// Object areas.
pub const CHUNKS: &str = "chunks";
pub const INDEX: &str = "index";

/// Decoded chunks kept in memory: small files share chunks, so reading
/// files in path order reads each chunk once instead of once per file.
const CACHED_CHUNKS: usize = 16;

/// Content-addressed object storage with integrity checks.
#[derive(Clone)]
pub struct ObjectArea {
    store: DynObjectStore,
    /// Hashes known to exist, so re-uploads of identical data cost no I/O.
    known: Arc<Mutex<HashSet<Hash>>>,
    /// Recently read, verified objects, most recent last.
    recent: Arc<Mutex<VecDeque<(Hash, Bytes)>>>,
}

impl std::fmt::Debug for ObjectArea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectArea").finish_non_exhaustive()
    }
}

/// Bytes compressed first to judge whether a chunk compresses at all.
const PROBE: usize = 64 * 1024;

/// True when a sample of `plain` shrinks by at least 3 %: already compressed
/// data (media, archives, encrypted files) is stored raw without spending a
/// full compression pass on it.
fn worth_compressing(plain: &[u8]) -> bool {
    if plain.len() <= PROBE {
        return true;
    }
    let sample = &plain[..PROBE];
    zstd::bulk::compress(sample, ZSTD_LEVEL).is_ok_and(|c| c.len() * 100 < sample.len() * 97)
}

/// Compresses `plain` when that pays off; returns the stored bytes.
pub fn encode(plain: &[u8]) -> Vec<u8> {
    let compressed = if worth_compressing(plain) { zstd::bulk::compress(plain, ZSTD_LEVEL).ok() } else { None };
    match compressed {
        Some(compressed) if compressed.len() + 1 < plain.len() => {
            let mut out = Vec::with_capacity(compressed.len() + 1);
            out.push(CODEC_ZSTD);
            out.extend_from_slice(&compressed);
            out
        }
        _ => {
            let mut out = Vec::with_capacity(plain.len() + 1);
            out.push(CODEC_RAW);
            out.extend_from_slice(plain);
            out
        }
    }
}

/// Decodes stored bytes and checks they hash to `expected`.
pub fn decode(stored: &[u8], expected: &Hash, area: &str) -> Result<Vec<u8>, PfsError> {
    let corrupt = |reason: String| PfsError::Corrupted { object: format!("{area}/{expected}"), reason };
    let (codec, payload) = stored.split_first().ok_or_else(|| corrupt("empty object".to_owned()))?;
    let plain = match *codec {
        CODEC_RAW => payload.to_vec(),
        // Chunks are at most a few MiB; the limit stops a corrupted frame
        // header from asking for gigabytes.
        CODEC_ZSTD => zstd::bulk::decompress(payload, 64 << 20).map_err(|e| corrupt(format!("zstd: {e}")))?,
        other => return Err(corrupt(format!("unknown codec {other}"))),
    };
    let actual = Hash::of(&plain);
    if &actual != expected {
        return Err(corrupt(format!("content hashes to {actual}")));
    }
    Ok(plain)
}

impl ObjectArea {
    pub fn new(store: DynObjectStore) -> Self {
        Self { store, known: Arc::default(), recent: Arc::default() }
    }

    /// The underlying store (for GC listing and fsck).
    pub fn store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    /// Stores `plain` under its hash in `area` unless it is already there.
    /// Returns the number of bytes newly written (0 for a duplicate).
    pub async fn put(&self, area: &'static str, hash: Hash, plain: Bytes) -> Result<u64, PfsError> {
        if self.is_known(&hash) {
            return Ok(0);
        }
        let path = object_path(area, &hash);
        match self.store.head(&path).await {
            Ok(_) => {
                self.remember(hash);
                return Ok(0);
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => return Err(PfsError::ObjectStore { action: "check", source }),
        }
        let stored = tokio::task::spawn_blocking(move || encode(&plain))
            .await
            .map_err(|e| PfsError::Internal(format!("compression task failed: {e}")))?;
        let written = stored.len() as u64;
        let stored = Bytes::from(stored);
        let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.store.put_opts(&path, PutPayload::from(stored.clone()), options).await {
            Ok(_) => {}
            // Someone else stored the same content meanwhile: same bytes.
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(0),
            // Stores without conditional puts: overwriting with identical
            // content is equally correct.
            Err(object_store::Error::NotImplemented { .. }) => {
                self.store
                    .put(&path, PutPayload::from(stored))
                    .await
                    .map_err(|source| PfsError::ObjectStore { action: "write", source })?;
            }
            Err(source) => return Err(PfsError::ObjectStore { action: "write", source }),
        }
        self.remember(hash);
        Ok(written)
    }

    /// Reads, decodes and verifies the object `hash` in `area`.
    pub async fn get(&self, area: &'static str, hash: &Hash) -> Result<Bytes, PfsError> {
        if let Some(bytes) = self.cached(hash) {
            return Ok(bytes);
        }
        let bytes = Bytes::from(self.read_verified(area, hash).await?);
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= CACHED_CHUNKS {
                recent.pop_front();
            }
            recent.push_back((*hash, bytes.clone()));
        }
        Ok(bytes)
    }

    fn cached(&self, hash: &Hash) -> Option<Bytes> {
        let recent = self.recent.lock().ok()?;
        recent.iter().rev().find(|(h, _)| h == hash).map(|(_, bytes)| bytes.clone())
    }

    async fn read_verified(&self, area: &'static str, hash: &Hash) -> Result<Vec<u8>, PfsError> {
        let path = object_path(area, hash);
        let stored = match self.store.get(&path).await {
            Ok(result) => result.bytes().await.map_err(|source| PfsError::ObjectStore { action: "read", source })?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(PfsError::Corrupted { object: format!("{area}/{hash}"), reason: "missing".to_owned() });
            }
            Err(source) => return Err(PfsError::ObjectStore { action: "read", source }),
        };
        let expected = *hash;
        tokio::task::spawn_blocking(move || decode(&stored, &expected, area))
            .await
            .map_err(|e| PfsError::Internal(format!("decode task failed: {e}")))?
    }

    /// Every object of an area (for GC and storage figures).
    pub async fn list(&self, area: &'static str) -> Result<Vec<object_store::ObjectMeta>, PfsError> {
        use futures::TryStreamExt;
        let prefix = object_store::path::Path::from(area);
        self.store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| PfsError::ObjectStore { action: "list", source })
    }

    /// Bytes an object occupies in the store.
    pub async fn stored_size(&self, area: &'static str, hash: &Hash) -> Result<u64, PfsError> {
        match self.store.head(&object_path(area, hash)).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => {
                Err(PfsError::Corrupted { object: format!("{area}/{hash}"), reason: "missing".to_owned() })
            }
            Err(source) => Err(PfsError::ObjectStore { action: "check", source }),
        }
    }

    /// Forgets every cached answer (after GC deleted objects, or to make
    /// fsck read from the store).
    pub fn forget_known(&self) {
        if let Ok(mut known) = self.known.lock() {
            known.clear();
        }
        if let Ok(mut recent) = self.recent.lock() {
            recent.clear();
        }
    }

    fn is_known(&self, hash: &Hash) -> bool {
        self.known.lock().map(|known| known.contains(hash)).unwrap_or(false)
    }

    fn remember(&self, hash: Hash) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_data_is_compressed_and_noise_is_stored_raw() {
        let text = b"the same line again\n".repeat(20_000);
        let stored = encode(&text);
        assert_eq!(stored[0], CODEC_ZSTD);
        assert!(stored.len() < text.len() / 10);
        let noise: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let stored_noise = encode(&noise);
        for (plain, stored) in [(&text[..], &stored), (&noise[..], &stored_noise)] {
            assert_eq!(decode(stored, &Hash::of(plain), CHUNKS).expect("decode"), plain);
        }
    }

    #[test]
    fn a_flipped_byte_is_detected_on_read() {
        let plain = b"precious data".repeat(100);
        let mut stored = encode(&plain);
        let last = stored.len() - 1;
        stored[last] ^= 1;
        let error = decode(&stored, &Hash::of(&plain), CHUNKS).expect_err("corrupt");
        assert_eq!(error.code(), "DATA_CORRUPTED");
    }
}
