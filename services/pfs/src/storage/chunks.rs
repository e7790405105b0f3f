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

/// The stored form of a chunk: a codec byte and the payload, kept apart so
/// a raw chunk is written from the caller's buffer without a copy.
pub fn encode(plain: &Bytes) -> (u8, Bytes) {
    let compressed = if worth_compressing(plain) { zstd::bulk::compress(plain, ZSTD_LEVEL).ok() } else { None };
    match compressed {
        Some(compressed) if compressed.len() + 1 < plain.len() => (CODEC_ZSTD, Bytes::from(compressed)),
        _ => (CODEC_RAW, plain.clone()),
    }
}

/// Decodes stored bytes and checks they hash to `expected`.
pub fn decode(stored: &Bytes, expected: &Hash, area: &str) -> Result<Bytes, PfsError> {
    let corrupt = |reason: String| PfsError::Corrupted { object: format!("{area}/{expected}"), reason };
    let Some(&codec) = stored.first() else { return Err(corrupt("empty object".to_owned())) };
    let plain = match codec {
        CODEC_RAW => stored.slice(1..),
        // Chunks are at most a few MiB; the limit stops a corrupted frame
        // header from asking for gigabytes.
        CODEC_ZSTD => {
            Bytes::from(zstd::bulk::decompress(&stored[1..], 64 << 20).map_err(|e| corrupt(format!("zstd: {e}")))?)
        }
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
        let (codec, payload) = tokio::task::spawn_blocking(move || encode(&plain))
            .await
            .map_err(|e| PfsError::Internal(format!("compression task failed: {e}")))?;
        let written = payload.len() as u64 + 1;
        let stored = || PutPayload::from_iter([Bytes::copy_from_slice(&[codec]), payload.clone()]);
        let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.store.put_opts(&path, stored(), options).await {
            Ok(_) => {}
            // Someone else stored the same content meanwhile: same bytes.
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(0),
            // Stores without conditional puts: overwriting with identical
            // content is equally correct.
            Err(object_store::Error::NotImplemented { .. }) => {
                self.store
                    .put(&path, stored())
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
        let bytes = self.read_verified(area, hash).await?;
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

    async fn read_verified(&self, area: &'static str, hash: &Hash) -> Result<Bytes, PfsError> {
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

    fn stored_form(plain: &Bytes) -> Bytes {
        let (codec, payload) = encode(plain);
        [Bytes::copy_from_slice(&[codec]), payload].concat().into()
    }

    #[test]
    fn compressible_data_is_compressed_and_noise_is_stored_raw() {
        let text = Bytes::from(b"the same line again\n".repeat(20_000));
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Bytes = (0..300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        for (plain, expected_codec) in [(&text, CODEC_ZSTD), (&noise, CODEC_RAW)] {
            let stored = stored_form(plain);
            assert_eq!(stored[0], expected_codec);
            assert_eq!(decode(&stored, &Hash::of(plain), CHUNKS).expect("decode"), plain);
        }
        assert!(stored_form(&text).len() < text.len() / 10);
    }

    #[test]
    fn a_flipped_byte_is_detected_on_read() {
        let plain = Bytes::from(b"precious data".repeat(100));
        let mut stored = stored_form(&plain).to_vec();
        let last = stored.len() - 1;
        stored[last] ^= 1;
        let error = decode(&Bytes::from(stored), &Hash::of(&plain), CHUNKS).expect_err("corrupt");
        assert_eq!(error.code().as_str(), "DATA_CORRUPTED");
    }
}
