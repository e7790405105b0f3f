//! Uploads: bytes from any reader become chunks in the object store and a
//! sorted list of file entries, with the CPU work on a blocking thread and
//! object writes running concurrently.

use std::io::Read;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::error::PfsError;
use crate::names::clean_path;
use crate::storage::Hash;
use crate::storage::chunks::{CHUNKS, ObjectArea};
use crate::storage::fileset::FileEntry;
use crate::storage::writer::FileSetWriter;

/// Object writes in flight at once per upload.
const CONCURRENT_WRITES: usize = 4;
/// Chunks queued between the chunker and the writers (bounds memory to
/// about this many times the 4 MiB maximum chunk size).
const QUEUE: usize = 8;

/// What an upload's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// One file at this (clean) path.
    File(String),
    /// A tar stream, unpacked below this (clean) directory.
    Tar(String),
}

/// The result of chunking one upload.
#[derive(Debug)]
pub struct Uploaded {
    pub entries: Vec<FileEntry>,
    /// Bytes newly written to the object store (after dedup and compression).
    pub stored_bytes: u64,
    /// The chunks newly written, with their stored sizes.
    pub new_chunks: Vec<(Hash, u64)>,
}

/// Chunks everything `reader` yields and stores the chunks.
pub async fn upload(
    objects: &ObjectArea,
    source: Source,
    reader: impl Read + Send + 'static,
) -> Result<Uploaded, PfsError> {
    let (tx, mut rx) = mpsc::channel::<(Hash, Bytes)>(QUEUE);
    let chunker = tokio::task::spawn_blocking(move || {
        let mut writer = FileSetWriter::new(|hash, data| {
            tx.blocking_send((hash, data)).map_err(|_| PfsError::Internal("chunk writers stopped".into()))
        });
        match source {
            Source::File(path) => copy_file(&mut writer, path, reader)?,
            Source::Tar(dir) => unpack_tar(&mut writer, &dir, reader)?,
        }
        writer.finish()
    });
    let objects = objects.clone();
    let writes = async move {
        let mut stored = 0u64;
        let mut results = futures::stream::poll_fn(|cx| rx.poll_recv(cx))
            .map(|(hash, data)| {
                let objects = objects.clone();
                async move { objects.put(CHUNKS, hash, data).await.map(|size| (hash, size)) }
            })
            .buffer_unordered(CONCURRENT_WRITES);
        let mut new_chunks = Vec::new();
        while let Some(result) = results.next().await {
            let (hash, size) = result?;
            if size > 0 {
                stored += size;
                new_chunks.push((hash, size));
            }
        }
        Ok::<_, PfsError>((stored, new_chunks))
    };
    let (entries, stored) = tokio::join!(chunker, writes);
    let entries = entries.map_err(|e| PfsError::Internal(format!("chunker task: {e}")))?;
    // A failed object write stops the chunker (its channel closes); report
    // the write error, which is the cause.
    let (stored_bytes, new_chunks) = stored?;
    Ok(Uploaded { entries: entries?, stored_bytes, new_chunks })
}

/// Adapts the writer to `std::io::Write` for `io::copy`.
struct WriteAdapter<'a, S>(&'a mut FileSetWriter<S>);

impl<S: FnMut(Hash, Bytes) -> Result<(), PfsError>> std::io::Write for WriteAdapter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_error(error: std::io::Error) -> PfsError {
    // The writer's own failures travel inside io errors; unwrap them.
    match error.downcast::<PfsError>() {
        Ok(inner) => inner,
        Err(error) => PfsError::Upload(error.to_string()),
    }
}

fn copy_file<S: FnMut(Hash, Bytes) -> Result<(), PfsError>>(
    writer: &mut FileSetWriter<S>,
    path: String,
    mut reader: impl Read,
) -> Result<(), PfsError> {
    writer.begin_file(path);
    std::io::copy(&mut reader, &mut WriteAdapter(writer)).map_err(read_error)?;
    writer.end_file();
    Ok(())
}

fn unpack_tar<S: FnMut(Hash, Bytes) -> Result<(), PfsError>>(
    writer: &mut FileSetWriter<S>,
    dir: &str,
    reader: impl Read,
) -> Result<(), PfsError> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname()
        {
            continue;
        }
        let name = entry.path().map_err(read_error)?.to_string_lossy().into_owned();
        if !kind.is_file() {
            return Err(PfsError::invalid(
                "tar entry",
                format!("`{name}` is not a regular file (links and devices are not supported)"),
            ));
        }
        let path = clean_path(&format!("{dir}/{name}"))?;
        writer.begin_file(path);
        std::io::copy(&mut entry, &mut WriteAdapter(writer)).map_err(read_error)?;
        writer.end_file();
    }
    Ok(())
}

/// A `Read` over byte buffers arriving on a channel, so async request
/// bodies can feed the blocking chunker. An `Err` item aborts the read.
#[derive(Debug)]
pub struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Result<Bytes, String>>) -> Self {
        Self { rx, current: Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(reason)) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, reason)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
