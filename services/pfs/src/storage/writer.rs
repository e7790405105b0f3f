//! Turns a stream of files into content-defined chunks and file entries.
//!
//! All files written through one [`FileSetWriter`] form one byte stream that
//! is cut by FastCDC, so small files are packed together into ~1 MiB chunks
//! and a large file edited in place changes only the chunks around the edit.
//! Runs on a blocking thread; chunks go to a sink (the uploader).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::Hash;
use super::fileset::{FileEntry, Span};
use crate::error::PfsError;

/// Chunk size bounds. The 1 MiB average keeps per-chunk overhead (one object
/// and one hash lookup each) small against the ~1 ms cost of an object-store
/// request, while a 1 % in-place edit of a large file rewrites only about
/// 1 % + 2 MiB; `strata bench pfs` reports the effect on dedup.
pub const MIN_CHUNK: usize = 256 * 1024;
pub const AVG_CHUNK: usize = 1024 * 1024;
pub const MAX_CHUNK: usize = 4 * 1024 * 1024;

/// A file whose bytes have not all been cut into chunks yet.
#[derive(Debug)]
struct PendingFile {
    path: String,
    /// Stream offset of the first byte.
    start: u64,
    /// Stream offset after the last byte, once the file is complete.
    end: Option<u64>,
    hasher: blake3::Hasher,
    spans: Vec<Span>,
}

/// Chunks files; see the module docs. `S` receives each new chunk.
pub struct FileSetWriter<S> {
    sink: S,
    /// Bytes written but not cut yet. Chunks are split off its front
    /// without copying (`BytesMut::split_to`).
    buffer: BytesMut,
    /// Stream offset of `buffer[0]`: everything before it is chunked.
    chunked: u64,
    pending: VecDeque<PendingFile>,
    done: Vec<FileEntry>,
}

impl<S> std::fmt::Debug for FileSetWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSetWriter").field("files", &self.done.len()).finish_non_exhaustive()
    }
}

impl<S: FnMut(Hash, Bytes) -> Result<(), PfsError>> FileSetWriter<S> {
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            buffer: BytesMut::with_capacity(MAX_CHUNK * 2),
            chunked: 0,
            pending: VecDeque::new(),
            done: Vec::new(),
        }
    }

    /// Bytes written but not yet cut.
    fn unchunked(&self) -> usize {
        self.buffer.len()
    }

    fn stream_len(&self) -> u64 {
        self.chunked + self.unchunked() as u64
    }

    /// Starts a file; the previous one must have been ended.
    pub fn begin_file(&mut self, path: String) {
        let start = self.stream_len();
        self.pending.push_back(PendingFile {
            path,
            start,
            end: None,
            hasher: blake3::Hasher::new(),
            spans: Vec::new(),
        });
    }

    /// Appends bytes to the current file.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), PfsError> {
        if let Some(file) = self.pending.back_mut() {
            file.hasher.update(bytes);
        }
        self.buffer.extend_from_slice(bytes);
        while self.unchunked() >= MAX_CHUNK {
            self.cut(false)?;
        }
        Ok(())
    }

    /// Ends the current file.
    pub fn end_file(&mut self) {
        let end = self.stream_len();
        if let Some(file) = self.pending.back_mut() {
            file.end = Some(end);
        }
        self.complete_ready();
    }

    /// Chunks what is left and returns every file, sorted by path; when a
    /// path was written twice the last write wins.
    pub fn finish(mut self) -> Result<Vec<FileEntry>, PfsError> {
        while self.unchunked() > 0 {
            self.cut(true)?;
        }
        self.complete_ready();
        let mut files = self.done;
        // Stable sort keeps write order among equal paths; keep the last.
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut unique: Vec<FileEntry> = Vec::with_capacity(files.len());
        for file in files {
            match unique.last_mut() {
                Some(last) if last.path == file.path => *last = file,
                _ => unique.push(file),
            }
        }
        Ok(unique)
    }

    /// Cuts one chunk off the front of the buffer. Unless `at_end`, only a
    /// cut FastCDC is sure of (the buffer holds at least `MAX_CHUNK`).
    fn cut(&mut self, at_end: bool) -> Result<(), PfsError> {
        let length = fastcdc::v2020::FastCDC::new(&self.buffer, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
            .next()
            .map_or(self.buffer.len(), |chunk| chunk.length);
        debug_assert!(at_end || length <= self.buffer.len());
        let data = self.buffer.split_to(length).freeze();
        let hash = Hash::of(&data);
        let chunk_start = self.chunked;
        let chunk_end = chunk_start + length as u64;
        for file in &mut self.pending {
            let end = file.end.unwrap_or(u64::MAX).min(chunk_end);
            let start = file.start.max(chunk_start);
            if start < end {
                let offset =
                    u32::try_from(start - chunk_start).map_err(|_| PfsError::Internal("chunk too large".into()))?;
                let len = u32::try_from(end - start).map_err(|_| PfsError::Internal("chunk too large".into()))?;
                file.spans.push(Span { chunk: hash, offset, len });
            }
        }
        (self.sink)(hash, data)?;
        self.chunked = chunk_end;
        self.complete_ready();
        Ok(())
    }

    /// Moves files whose bytes are all chunked to `done`.
    fn complete_ready(&mut self) {
        while let Some(file) = self.pending.front() {
            match file.end {
                Some(end) if end <= self.chunked => {}
                _ => break,
            }
            let Some(file) = self.pending.pop_front() else { break };
            let size = file.end.unwrap_or(file.start) - file.start;
            self.done.push(FileEntry { path: file.path, size, hash: file.hasher.finalize().into(), spans: file.spans });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn write_all(files: &[(&str, Vec<u8>)]) -> (Vec<FileEntry>, HashMap<Hash, Bytes>) {
        let mut chunks = HashMap::new();
        let mut writer = FileSetWriter::new(|hash, data| {
            chunks.insert(hash, data);
            Ok(())
        });
        for (path, data) in files {
            writer.begin_file((*path).to_owned());
            for piece in data.chunks(100_000) {
                writer.write(piece).expect("write");
            }
            writer.end_file();
        }
        (writer.finish().expect("finish"), chunks)
    }

    fn read_back(entry: &FileEntry, chunks: &HashMap<Hash, Bytes>) -> Vec<u8> {
        let mut out = Vec::new();
        for span in &entry.spans {
            let chunk = &chunks[&span.chunk];
            out.extend_from_slice(&chunk[span.offset as usize..(span.offset + span.len) as usize]);
        }
        out
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn files_read_back_byte_for_byte_with_their_hashes() {
        let files = vec![
            ("/b/big.bin", pseudo_random(9 * 1024 * 1024 + 17, 1)),
            ("/a/empty", Vec::new()),
            ("/a/small.txt", b"hello".to_vec()),
        ];
        let (entries, chunks) = write_all(&files);
        assert_eq!(
            entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["/a/empty", "/a/small.txt", "/b/big.bin"]
        );
        for (path, data) in &files {
            let entry = entries.iter().find(|e| e.path == *path).expect("entry");
            assert_eq!(entry.size, data.len() as u64);
            assert_eq!(entry.hash, Hash::of(data));
            assert_eq!(&read_back(entry, &chunks), data);
        }
        assert!(chunks.values().all(|c| c.len() <= MAX_CHUNK));
    }

    #[test]
    fn small_files_are_packed_into_shared_chunks() {
        let files: Vec<(String, Vec<u8>)> =
            (0..1000).map(|i| (format!("/f/{i:04}"), pseudo_random(4096, i + 10))).collect();
        let borrowed: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, d)| (p.as_str(), d.clone())).collect();
        let (entries, chunks) = write_all(&borrowed);
        assert_eq!(entries.len(), 1000);
        assert!(chunks.len() <= 8, "4 MB of 4 KiB files made {} chunks", chunks.len());
    }

    #[test]
    fn an_in_place_edit_changes_few_chunks() {
        let original = pseudo_random(32 * 1024 * 1024, 7);
        let mut edited = original.clone();
        for byte in &mut edited[16_000_000..16_300_000] {
            *byte = byte.wrapping_add(1);
        }
        let (_, before) = write_all(&[("/f", original)]);
        let (_, after) = write_all(&[("/f", edited)]);
        let new_bytes: usize = after.iter().filter(|(h, _)| !before.contains_key(*h)).map(|(_, c)| c.len()).sum();
        assert!(new_bytes < 3 * MAX_CHUNK, "{new_bytes} new bytes for a 300 kB edit");
    }

    #[test]
    fn the_last_write_of_a_path_wins() {
        let (entries, chunks) = write_all(&[("/x", b"one".to_vec()), ("/x", b"two".to_vec())]);
        assert_eq!(entries.len(), 1);
        assert_eq!(read_back(&entries[0], &chunks), b"two");
    }
}
