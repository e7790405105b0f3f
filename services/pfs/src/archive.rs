//! Streaming stored files: byte ranges of one file, and tar archives of
//! many, read chunk by chunk as the stream is consumed.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::PfsError;
use crate::model::TarMember;
use crate::service::Pfs;
use crate::storage::Hash;
use crate::storage::fileset::Span;

/// Streams the bytes of spans, reading each chunk once even when several
/// consecutive spans (small files) share it.
pub(crate) fn span_stream(pfs: Pfs, spans: Vec<Span>) -> impl Stream<Item = Result<Bytes, PfsError>> {
    futures::stream::unfold((pfs, spans.into_iter(), None::<(Hash, Bytes)>), |(pfs, mut spans, cached)| async move {
        let span = spans.next()?;
        let chunk = match cached {
            Some((hash, bytes)) if hash == span.chunk => bytes,
            _ => match pfs.read_chunk(&span.chunk).await {
                Ok(bytes) => bytes,
                Err(error) => return Some((Err(error), (pfs, Vec::new().into_iter(), None))),
            },
        };
        let start = span.offset as usize;
        let end = start + span.len as usize;
        let piece = if end <= chunk.len() {
            Ok(chunk.slice(start..end))
        } else {
            Err(PfsError::Corrupted {
                object: format!("chunks/{}", span.chunk),
                reason: "shorter than the file's span".into(),
            })
        };
        Some((piece, (pfs, spans, Some((span.chunk, chunk)))))
    })
}

/// Streams `members` as a tar archive, reading each file's chunks as it
/// goes. A member whose entry has no spans is written empty.
pub(crate) fn tar_stream(pfs: Pfs, members: Vec<TarMember>) -> impl Stream<Item = Result<Bytes, PfsError>> + 'static {
    let files = futures::stream::iter(members).flat_map(move |member| {
        let size: u64 = member.file.entry.spans.iter().map(|s| u64::from(s.len)).sum();
        let header = futures::stream::once(futures::future::ready(tar_header(&member.name, size)));
        let padding = (512 - (size % 512)) % 512;
        let trailer = futures::stream::once(futures::future::ready(Ok(Bytes::from(vec![0u8; padding as usize]))));
        header.chain(span_stream(pfs.clone(), member.file.entry.spans)).chain(trailer)
    });
    files.chain(futures::stream::once(futures::future::ready(Ok(Bytes::from(vec![0u8; 1024])))))
}

fn tar_header(name: &str, size: u64) -> Result<Bytes, PfsError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    let mut out = Vec::with_capacity(1536);
    if name.len() > 99 {
        // GNU long name: a pseudo-entry carrying the full path.
        let mut long = tar::Header::new_gnu();
        long.set_entry_type(tar::EntryType::GNULongName);
        long.set_size(name.len() as u64 + 1);
        if let Some(gnu) = long.as_gnu_mut() {
            gnu.name[..13].copy_from_slice(b"././@LongLink");
        }
        long.set_cksum();
        out.extend_from_slice(long.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().div_ceil(512) * 512, 0);
        header.set_path(&name[..99]).map_err(|e| PfsError::Internal(format!("tar header: {e}")))?;
    } else {
        header.set_path(name).map_err(|e| PfsError::Internal(format!("tar header: {e}")))?;
    }
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    Ok(Bytes::from(out))
}
