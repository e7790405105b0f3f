//! The PFS HTTP API, mounted at `/v1/workspaces/{workspace}`.
//!
//! Metadata travels as JSON; file bytes stream in both directions without
//! being buffered whole. Errors are `{code, message}` with a 4xx/5xx status.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use strata_api_types::pfs::{
    BranchInfo, CommitInfo, CopyFile, CreateBranch, CreateRepo, FinishCommit, RepoInfo, RepoStorageInfo, StartCommit,
};
use strata_core::id::CommitId;
use tokio::sync::mpsc;

use crate::error::PfsError;
use crate::meta::{Branch, Commit};
use crate::names::{BranchName, clean_path};
use crate::service::{CommitTarget, Pfs, PutMode, RepoSummary};
use crate::storage::fileset::FileEntry;
use crate::upload::ChannelReader;

/// Largest accepted JSON body.
const MAX_JSON: usize = 256 * 1024;
/// Body buffers in flight between the socket and the chunker.
const BODY_QUEUE: usize = 16;

/// The workspaces this server holds, by slug.
#[derive(Debug, Clone, Default)]
pub struct Workspaces {
    by_slug: HashMap<String, Pfs>,
}

impl Workspaces {
    pub fn insert(&mut self, slug: &str, pfs: Pfs) {
        self.by_slug.insert(slug.to_owned(), pfs);
    }

    fn get(&self, slug: &str) -> Result<&Pfs> {
        self.by_slug.get(slug).ok_or_else(|| PfsError::not_found(format!("workspace `{slug}`")))
    }
}

type Result<T> = std::result::Result<T, PfsError>;

/// Mounts the routes; the caller wraps them in `/v1/workspaces/{workspace}`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON)
                .error_handler(|error, _| PfsError::invalid("body", format!("{error}")).into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|error, _| PfsError::invalid("query", format!("{error}")).into()),
        )
        .route("/repos", web::get().to(repo_list))
        .route("/repos", web::post().to(repo_create))
        .route("/repos/{repo}", web::get().to(repo_inspect))
        .route("/repos/{repo}", web::delete().to(repo_delete))
        .route("/repos/{repo}/branches", web::get().to(branch_list))
        .route("/repos/{repo}/branches", web::post().to(branch_create))
        .route("/repos/{repo}/branches/{branch}", web::get().to(branch_inspect))
        .route("/repos/{repo}/branches/{branch}", web::delete().to(branch_delete))
        .route("/repos/{repo}/commits", web::get().to(commit_list))
        .route("/repos/{repo}/commits", web::post().to(commit_start))
        .route("/repos/{repo}/commits/{reference}", web::get().to(commit_inspect))
        .route("/repos/{repo}/commits/{reference}", web::delete().to(commit_drop))
        .route("/repos/{repo}/commits/{reference}/finish", web::post().to(commit_finish))
        .route("/repos/{repo}/commits/{reference}/wait", web::get().to(commit_wait))
        .route("/repos/{repo}/commits/{reference}/squash", web::post().to(commit_squash))
        .route("/commitsets/{id}", web::get().to(commit_set))
        .route("/repos/{repo}/refs/{reference}/files/{path:.*}", web::put().to(file_put))
        .route("/repos/{repo}/refs/{reference}/files/{path:.*}", web::get().to(file_get))
        .route("/repos/{repo}/refs/{reference}/files/{path:.*}", web::delete().to(file_delete))
        .route("/repos/{repo}/refs/{reference}/tar/{path:.*}", web::post().to(tar_put))
        .route("/repos/{repo}/refs/{reference}/tar/{path:.*}", web::get().to(tar_get))
        .route("/repos/{repo}/refs/{reference}/list/{path:.*}", web::get().to(file_list))
        .route("/repos/{repo}/refs/{reference}/inspect/{path:.*}", web::get().to(file_inspect))
        .route("/repos/{repo}/refs/{reference}/glob", web::get().to(file_glob))
        .route("/repos/{repo}/refs/{reference}/diff/{path:.*}", web::get().to(file_diff))
        .route("/repos/{repo}/refs/{reference}/history/{path:.*}", web::get().to(file_history))
        .route("/repos/{repo}/refs/{reference}/copy", web::post().to(file_copy))
        .route("/fsck", web::post().to(fsck))
        .route("/gc", web::post().to(gc))
        .route("/storage", web::get().to(storage));
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn repo_info(summary: RepoSummary) -> RepoInfo {
    RepoInfo {
        name: summary.repo.name,
        kind: summary.repo.kind.as_str().to_owned(),
        description: summary.repo.description,
        created_at: rfc3339(summary.repo.created_at),
        branches: summary.branches,
        size_bytes: summary.size_bytes,
        storage: None,
    }
}

fn branch_info(branch: Branch) -> BranchInfo {
    BranchInfo {
        repo: branch.repo,
        name: branch.name,
        head: branch.head.to_string(),
        created_at: rfc3339(branch.created_at),
        provenance: branch.provenance.into_iter().map(|(r, b)| format!("{r}@{b}")).collect(),
    }
}

fn commit_info(commit: Commit) -> CommitInfo {
    CommitInfo {
        repo: commit.repo,
        id: commit.id.to_string(),
        branch: commit.branch,
        parent: commit.parent.map(|p| p.to_string()),
        origin: commit.origin.as_str().to_owned(),
        description: commit.description,
        started_at: rfc3339(commit.started_at),
        finished_at: commit.finished_at.map(rfc3339),
        size_bytes: commit.size_bytes,
        files: commit.files,
        error: commit.error,
        provenance: commit.provenance.into_iter().map(|(r, c)| format!("{r}@{c}")).collect(),
    }
}

/// `repo@branch` → the pair, validated.
fn parse_branch_ref(text: &str) -> Result<(String, String)> {
    let (repo, branch) = text
        .split_once('@')
        .ok_or_else(|| PfsError::invalid("provenance", format!("`{text}` is not `repo@branch`")))?;
    Ok((repo.to_owned(), BranchName::parse(branch)?.to_string()))
}

/// A write goes to a branch or to an open commit by id.
fn target(reference: &str) -> Result<CommitTarget> {
    if let Some(id) = (reference.len() == 32).then(|| reference.parse::<CommitId>().ok()).flatten() {
        return Ok(CommitTarget::Commit(id));
    }
    BranchName::parse(reference).map(CommitTarget::Branch).map_err(|_| {
        PfsError::invalid("commit reference", format!("writes go to a branch or an open commit id, not `{reference}`"))
    })
}

// ---- repos -----------------------------------------------------------

async fn repo_list(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    let pfs = ws.get(&path)?;
    let repos: Vec<RepoInfo> = pfs.repo_list().await?.into_iter().map(repo_info).collect();
    Ok(HttpResponse::Ok().json(repos))
}

async fn repo_create(
    ws: web::Data<Workspaces>,
    path: web::Path<String>,
    body: web::Json<CreateRepo>,
) -> Result<HttpResponse> {
    let pfs = ws.get(&path)?;
    let repo = pfs.repo_create(&body.name, &body.description).await?;
    let summary = pfs.repo_inspect(&repo.name).await?;
    Ok(HttpResponse::Created().json(repo_info(summary)))
}

async fn repo_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let mut info = repo_info(pfs.repo_inspect(&repo).await?);
    let storage = pfs.repo_storage(&repo).await?;
    info.storage = Some(RepoStorageInfo {
        logical_bytes: storage.logical_bytes,
        stored_bytes: storage.stored_bytes,
        chunks: storage.chunks,
    });
    Ok(HttpResponse::Ok().json(info))
}

#[derive(Debug, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn repo_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let deleted = ws.get(&workspace)?.repo_delete(&repo, query.force).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": deleted })))
}

// ---- branches --------------------------------------------------------

async fn branch_list(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let branches: Vec<BranchInfo> =
        ws.get(&workspace)?.branch_list(&repo).await?.into_iter().map(branch_info).collect();
    Ok(HttpResponse::Ok().json(branches))
}

async fn branch_create(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    body: web::Json<CreateBranch>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let provenance = body.provenance.iter().map(|p| parse_branch_ref(p)).collect::<Result<Vec<_>>>()?;
    let branch = ws.get(&workspace)?.branch_create(&repo, &body.name, body.head.as_deref(), &provenance).await?;
    Ok(HttpResponse::Created().json(branch_info(branch)))
}

async fn branch_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, branch) = path.into_inner();
    Ok(HttpResponse::Ok().json(branch_info(ws.get(&workspace)?.branch_get(&repo, &branch).await?)))
}

async fn branch_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, branch) = path.into_inner();
    ws.get(&workspace)?.branch_delete(&repo, &branch, query.force).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- commits ---------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: u64,
}

fn default_limit() -> u64 {
    100
}

async fn commit_list(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let commits: Vec<CommitInfo> =
        ws.get(&workspace)?.commit_list(&repo, query.limit).await?.into_iter().map(commit_info).collect();
    Ok(HttpResponse::Ok().json(commits))
}

async fn commit_start(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    body: web::Json<StartCommit>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let commit = ws.get(&workspace)?.commit_start(&repo, &body.branch, &body.description).await?;
    Ok(HttpResponse::Created().json(commit_info(commit)))
}

async fn commit_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    Ok(HttpResponse::Ok().json(commit_info(ws.get(&workspace)?.commit_inspect(&repo, &reference).await?)))
}

async fn commit_finish(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    body: Option<web::Json<FinishCommit>>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let commit = ws
        .get(&workspace)?
        .commit_finish(&repo, &reference, body.description.as_deref(), body.error.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(commit_info(commit)))
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default = "default_wait")]
    timeout_secs: u64,
}

fn default_wait() -> u64 {
    60
}

async fn commit_wait(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let timeout = Duration::from_secs(query.timeout_secs.min(3600));
    Ok(HttpResponse::Ok().json(commit_info(ws.get(&workspace)?.commit_wait(&repo, &reference, timeout).await?)))
}

async fn commit_squash(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    ws.get(&workspace)?.commit_squash(&repo, &reference).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn commit_drop(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    ws.get(&workspace)?.commit_drop(&repo, &reference).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn commit_set(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, id) = path.into_inner();
    let id = id.parse::<CommitId>().map_err(|e| PfsError::invalid("commit set id", e.to_string()))?;
    let commits: Vec<CommitInfo> = ws.get(&workspace)?.commit_set(id).await?.into_iter().map(commit_info).collect();
    Ok(HttpResponse::Ok().json(commits))
}

// ---- files: writes ---------------------------------------------------

#[derive(Debug, Deserialize)]
struct PutQuery {
    #[serde(default)]
    append: bool,
}

/// Feeds the request body to a blocking reader; returns the reader.
fn body_reader(mut payload: web::Payload) -> ChannelReader {
    let (tx, rx) = mpsc::channel(BODY_QUEUE);
    // The payload is tied to this worker's thread; pump it from a local task.
    actix_web::rt::spawn(async move {
        while let Some(item) = payload.next().await {
            let item = item.map_err(|e| format!("request body: {e}"));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    ChannelReader::new(rx)
}

async fn file_put(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<PutQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let pfs = ws.get(&workspace)?.clone();
    let mode = if query.append { PutMode::Append } else { PutMode::Overwrite };
    let summary = pfs.put(&repo, target(&reference)?, &file, false, mode, body_reader(payload)).await?;
    Ok(HttpResponse::Created().json(summary))
}

async fn tar_put(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<PutQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, dir) = path.into_inner();
    let pfs = ws.get(&workspace)?.clone();
    let mode = if query.append { PutMode::Append } else { PutMode::Overwrite };
    let summary = pfs.put(&repo, target(&reference)?, &dir, true, mode, body_reader(payload)).await?;
    Ok(HttpResponse::Created().json(summary))
}

async fn file_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let commit = ws.get(&workspace)?.delete(&repo, target(&reference)?, &file).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "commit": commit.to_string() })))
}

async fn file_copy(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    body: web::Json<CopyFile>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let summary = ws
        .get(&workspace)?
        .copy(&body.src_repo, &body.src_ref, &body.src_path, &repo, target(&reference)?, &body.dst_path)
        .await?;
    Ok(HttpResponse::Created().json(summary))
}

// ---- files: reads ----------------------------------------------------

#[derive(Debug, Deserialize)]
struct RangeQuery {
    offset: Option<u64>,
    length: Option<u64>,
}

/// The spans of `entry` covering `offset..offset+length`, trimmed.
fn spans_in_range(entry: &FileEntry, offset: u64, length: u64) -> Vec<crate::storage::fileset::Span> {
    let end = offset.saturating_add(length).min(entry.size);
    let mut at = 0u64;
    let mut out = Vec::new();
    for span in &entry.spans {
        let span_end = at + u64::from(span.len);
        if span_end > offset && at < end {
            let skip = offset.saturating_sub(at);
            let take = span_end.min(end) - at - skip;
            out.push(crate::storage::fileset::Span {
                chunk: span.chunk,
                offset: span.offset + u32::try_from(skip).unwrap_or(0),
                len: u32::try_from(take).unwrap_or(0),
            });
        }
        at = span_end;
    }
    out
}

/// Streams the bytes of spans, reading each chunk once even when several
/// consecutive spans (small files) share it.
fn span_stream(pfs: Pfs, spans: Vec<crate::storage::fileset::Span>) -> impl futures::Stream<Item = Result<Bytes>> {
    futures::stream::unfold(
        (pfs, spans.into_iter(), None::<(crate::storage::Hash, Bytes)>),
        |(pfs, mut spans, cached)| async move {
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
        },
    )
}

async fn file_get(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let pfs = ws.get(&workspace)?.clone();
    let file = clean_path(&file)?;
    let (commit, root) = pfs.snapshot(&repo, &reference).await?;
    let entry = pfs.file_entry(&root, &file).await?.ok_or_else(|| {
        PfsError::not_found_hint(
            format!("file `{repo}@{}:{file}`", commit.id),
            "for a directory use `strata get file -r`",
        )
    })?;
    let offset = query.offset.unwrap_or(0);
    if offset > entry.size {
        return Err(PfsError::invalid(
            "offset",
            format!("{offset} is past the end of the file ({} bytes)", entry.size),
        ));
    }
    let length = query.length.unwrap_or(u64::MAX);
    let size = length.min(entry.size - offset);
    let spans = spans_in_range(&entry, offset, length);
    // The first chunk is read before answering so that a missing or corrupt
    // chunk is an error status, not a truncated 200.
    let mut stream = Box::pin(span_stream(pfs, spans));
    let first = stream.next().await.transpose()?;
    let body = futures::stream::iter(first.map(Ok)).chain(stream);
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("x-strata-commit", commit.id.to_string()))
        .insert_header(("etag", format!("\"{}\"", entry.hash)))
        .no_chunking(size)
        .streaming(body))
}

async fn tar_get(ws: web::Data<Workspaces>, path: web::Path<(String, String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference, dir) = path.into_inner();
    let pfs = ws.get(&workspace)?.clone();
    let dir = clean_path(&dir)?;
    let (commit, root) = pfs.snapshot(&repo, &reference).await?;
    let entries = pfs.file_or_tree(&root, &dir).await?;
    if entries.is_empty() && dir != "/" {
        return Err(PfsError::not_found(format!("file or directory `{repo}@{}:{dir}`", commit.id)));
    }
    let strip = if dir == "/" || entries.len() == 1 && entries[0].path == dir {
        crate::names::dir_prefix(parent_of(&dir))
    } else {
        crate::names::dir_prefix(&dir)
    };
    let named = entries.into_iter().map(move |entry| TarMember { name: entry.path[strip.len()..].to_owned(), entry });
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header(("x-strata-commit", commit.id.to_string()))
        .streaming(tar_stream(pfs, named.collect())))
}

/// One file of a tar stream: its name in the archive and its content.
#[derive(Debug)]
pub struct TarMember {
    pub name: String,
    pub entry: FileEntry,
}

/// Streams `members` as a tar archive, reading each file's chunks as it
/// goes. A member whose entry has no spans is written empty.
pub fn tar_stream(pfs: Pfs, members: Vec<TarMember>) -> impl futures::Stream<Item = Result<Bytes>> + 'static {
    let files = futures::stream::iter(members).flat_map(move |member| {
        let size: u64 = member.entry.spans.iter().map(|s| u64::from(s.len)).sum();
        let header = futures::stream::once(futures::future::ready(tar_header(&member.name, size)));
        let padding = (512 - (size % 512)) % 512;
        let trailer = futures::stream::once(futures::future::ready(Ok(Bytes::from(vec![0u8; padding as usize]))));
        header.chain(span_stream(pfs.clone(), member.entry.spans)).chain(trailer)
    });
    files.chain(futures::stream::once(futures::future::ready(Ok(Bytes::from(vec![0u8; 1024])))))
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn tar_header(name: &str, size: u64) -> Result<Bytes> {
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

async fn file_list(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, dir) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.file_list(&repo, &reference, &dir).await?))
}

async fn file_inspect(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.file_inspect(&repo, &reference, &file).await?))
}

#[derive(Debug, Deserialize)]
struct GlobQuery {
    pattern: String,
}

async fn file_glob(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<GlobQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.file_glob(&repo, &reference, &query.pattern).await?))
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    old_repo: Option<String>,
    old_ref: Option<String>,
}

async fn file_diff(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let old_repo = query.old_repo.clone().unwrap_or_else(|| repo.clone());
    let old = query.old_ref.as_deref().map(|old_ref| (old_repo.as_str(), old_ref));
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.file_diff(&repo, &reference, &file, old).await?))
}

async fn file_history(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let commits: Vec<CommitInfo> =
        ws.get(&workspace)?.file_history(&repo, &reference, &file, limit).await?.into_iter().map(commit_info).collect();
    Ok(HttpResponse::Ok().json(commits))
}

// ---- maintenance -----------------------------------------------------

async fn fsck(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.fsck().await?))
}

#[derive(Debug, Deserialize)]
struct GcQuery {
    /// Objects younger than this are kept (uploads in flight).
    #[serde(default = "default_grace")]
    grace_secs: u64,
}

fn default_grace() -> u64 {
    3600
}

async fn gc(ws: web::Data<Workspaces>, path: web::Path<String>, query: web::Query<GcQuery>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.gc(Duration::from_secs(query.grace_secs)).await?))
}

async fn storage(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.stored_bytes().await?))
}

// ---- errors ------------------------------------------------------------

// The status, body and logging of every PfsError come from its code.
strata_http::coded_error_responses!(PfsError);
