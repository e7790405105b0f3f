//! Streaming stored files: byte ranges of one file, and tar archives of
//! many, read chunk by chunk as the stream is consumed.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::PfsError;
use crate::model::TarMember;
use crate::service::Pfs;
use crate::storage::fileset::Span;

/// Chunks read ahead of the one being sent. An object store answers one GET
/// in milliseconds (tens on S3) but many at once nearly as fast, so a large
/// file streams at the store's throughput, not at one chunk per round trip;
/// memory stays bounded by this many chunks.
const READ_AHEAD: usize = 8;

/// Streams the bytes of spans in order, reading each chunk once even when
/// several consecutive spans (small files) share it, and up to
/// [`READ_AHEAD`] chunks ahead. Ends after the first error.
pub(crate) fn span_stream(pfs: Pfs, spans: Vec<Span>) -> impl Stream<Item = Result<Bytes, PfsError>> {
    let mut runs: Vec<Vec<Span>> = Vec::new();
    for span in spans {
        match runs.last_mut() {
            Some(run) if run[0].chunk == span.chunk => run.push(span),
            _ => runs.push(vec![span]),
        }
    }
    futures::stream::iter(runs)
        .map(move |run| {
            let pfs = pfs.clone();
            async move {
                let chunk = pfs.read_chunk(&run[0].chunk).await?;
                run.iter().map(|span| piece_of(&chunk, span)).collect::<Result<Vec<Bytes>, PfsError>>()
            }
        })
        .buffered(READ_AHEAD)
        .scan(false, |failed, run| {
            let item = (!*failed).then_some(run);
            *failed |= item.as_ref().is_some_and(Result::is_err);
            futures::future::ready(item)
        })
        .flat_map(|run| match run {
            Ok(pieces) => futures::stream::iter(pieces.into_iter().map(Ok)).left_stream(),
            Err(error) => futures::stream::once(futures::future::ready(Err(error))).right_stream(),
        })
}

/// The bytes of `span` in its chunk.
fn piece_of(chunk: &Bytes, span: &Span) -> Result<Bytes, PfsError> {
    let start = span.offset as usize;
    let end = start + span.len as usize;
    if end <= chunk.len() {
        Ok(chunk.slice(start..end))
    } else {
        Err(PfsError::Corrupted {
            object: format!("chunks/{}", span.chunk),
            reason: "shorter than the file's span".into(),
        })
    }
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
