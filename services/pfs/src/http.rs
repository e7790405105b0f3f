//! The PFS HTTP API, mounted at `/v1/workspaces/{workspace}`.
//!
//! Metadata travels as JSON; file bytes stream in both directions without
//! being buffered whole. Errors are `{code, message}` with a 4xx/5xx status.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures::StreamExt;
use serde::Deserialize;
use strata_api_types::pfs as wire;
use strata_api_types::pfs::{BranchInfo, CommitInfo, CopyFile, CreateBranch, CreateRepo, FinishCommit, StartCommit};
use tokio::sync::mpsc;

use crate::api;
use crate::archive::span_stream;
use crate::error::PfsError;
use crate::model::{PutFormat, PutMode, TarMember, WhenDependedOn};
use crate::names::{RepoName, clean_path};
use crate::service::Pfs;
use crate::storage::fileset::{FileEntry, Span};
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

    /// The PFS of workspace `slug`.
    pub fn get(&self, slug: &str) -> Result<&Pfs> {
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
        .route("/storage", web::get().to(storage))
        .route("/storage/total", web::get().to(storage_total));
}

// ---- repos -----------------------------------------------------------

async fn repo_list(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(api::repo_list(ws.get(&path)?).await?))
}

async fn repo_create(
    ws: web::Data<Workspaces>,
    path: web::Path<String>,
    body: web::Json<CreateRepo>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Created().json(api::repo_create(ws.get(&path)?, &body).await?))
}

async fn repo_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    Ok(HttpResponse::Ok().json(api::repo_inspect(ws.get(&workspace)?, &repo).await?))
}

#[derive(Debug, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

impl ForceQuery {
    fn when_depended_on(&self) -> WhenDependedOn {
        if self.force { WhenDependedOn::DeleteAnyway } else { WhenDependedOn::Refuse }
    }
}

async fn repo_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    let deleted = api::repo_delete(ws.get(&workspace)?, &repo, query.when_depended_on()).await?;
    Ok(HttpResponse::Ok().json(wire::ReposDeleted { deleted }))
}

// ---- branches --------------------------------------------------------

async fn branch_list(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    Ok(HttpResponse::Ok().json(api::branch_list(ws.get(&workspace)?, &repo).await?))
}

async fn branch_create(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    body: web::Json<CreateBranch>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    Ok(HttpResponse::Created().json(api::branch_create(ws.get(&workspace)?, &repo, &body).await?))
}

async fn branch_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, branch) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let branch = pfs.branch_get(&RepoName::parse(&repo)?, &branch).await?;
    Ok(HttpResponse::Ok().json(BranchInfo::from(branch)))
}

async fn branch_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, branch) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    pfs.branch_delete(&RepoName::parse(&repo)?, &branch, query.when_depended_on()).await?;
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
    Ok(HttpResponse::Ok().json(api::commit_list(ws.get(&workspace)?, &repo, query.limit).await?))
}

async fn commit_start(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String)>,
    body: web::Json<StartCommit>,
) -> Result<HttpResponse> {
    let (workspace, repo) = path.into_inner();
    Ok(HttpResponse::Created().json(api::commit_start(ws.get(&workspace)?, &repo, &body).await?))
}

async fn commit_inspect(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let commit = pfs.commit_inspect(&RepoName::parse(&repo)?, &reference).await?;
    Ok(HttpResponse::Ok().json(CommitInfo::from(commit)))
}

async fn commit_finish(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    body: Option<web::Json<FinishCommit>>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    Ok(HttpResponse::Ok().json(api::commit_finish(ws.get(&workspace)?, &repo, &reference, &body).await?))
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
    let pfs = ws.get(&workspace)?;
    let timeout = Duration::from_secs(query.timeout_secs.min(3600));
    let commit = pfs.commit_wait(&RepoName::parse(&repo)?, &reference, timeout).await?;
    Ok(HttpResponse::Ok().json(CommitInfo::from(commit)))
}

async fn commit_squash(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    pfs.commit_squash(&RepoName::parse(&repo)?, &reference).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn commit_drop(ws: web::Data<Workspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    pfs.commit_drop(&RepoName::parse(&repo)?, &reference).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn commit_set(ws: web::Data<Workspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(api::commit_set(ws.get(&workspace)?, &id).await?))
}

// ---- files: writes ---------------------------------------------------

#[derive(Debug, Deserialize)]
struct PutQuery {
    #[serde(default)]
    append: bool,
}

impl PutQuery {
    fn mode(&self) -> PutMode {
        if self.append { PutMode::Append } else { PutMode::Overwrite }
    }
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
    put(&ws, &workspace, &repo, &reference, &file, PutFormat::File, query.mode(), payload).await
}

async fn tar_put(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<PutQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, dir) = path.into_inner();
    put(&ws, &workspace, &repo, &reference, &dir, PutFormat::Tar, query.mode(), payload).await
}

#[allow(clippy::too_many_arguments, reason = "the parsed parts of one request, passed through once")]
async fn put(
    ws: &Workspaces,
    workspace: &str,
    repo: &str,
    reference: &str,
    path: &str,
    format: PutFormat,
    mode: PutMode,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let pfs = ws.get(workspace)?.clone();
    let repo = RepoName::parse(repo)?;
    let summary = pfs.put(&repo, api::target(reference)?, path, format, mode, body_reader(payload)).await?;
    Ok(HttpResponse::Created().json(wire::PutSummary::from(summary)))
}

async fn file_delete(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    Ok(HttpResponse::Ok().json(api::file_delete(ws.get(&workspace)?, &repo, &reference, &file).await?))
}

async fn file_copy(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String)>,
    body: web::Json<CopyFile>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let repo = RepoName::parse(&repo)?;
    let src_repo = RepoName::parse(&body.src_repo)?;
    let summary =
        pfs.copy(&src_repo, &body.src_ref, &body.src_path, &repo, api::target(&reference)?, &body.dst_path).await?;
    Ok(HttpResponse::Created().json(wire::PutSummary::from(summary)))
}

// ---- files: reads ----------------------------------------------------

#[derive(Debug, Deserialize)]
struct RangeQuery {
    offset: Option<u64>,
    length: Option<u64>,
}

/// The spans of `entry` covering `offset..offset+length`, trimmed.
fn spans_in_range(entry: &FileEntry, offset: u64, length: u64) -> Vec<Span> {
    let end = offset.saturating_add(length).min(entry.size);
    let mut at = 0u64;
    let mut out = Vec::new();
    for span in &entry.spans {
        let span_end = at + u64::from(span.len);
        if span_end > offset && at < end {
            let skip = offset.saturating_sub(at);
            let take = span_end.min(end) - at - skip;
            out.push(Span {
                chunk: span.chunk,
                offset: span.offset + u32::try_from(skip).unwrap_or(0),
                len: u32::try_from(take).unwrap_or(0),
            });
        }
        at = span_end;
    }
    out
}

async fn file_get(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let pfs = ws.get(&workspace)?.clone();
    let file = clean_path(&file)?;
    let (commit, snapshot) = pfs.snapshot(&RepoName::parse(&repo)?, &reference).await?;
    let entry = pfs.file_entry(&snapshot, &file).await?.ok_or_else(|| {
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
    let (commit, snapshot) = pfs.snapshot(&RepoName::parse(&repo)?, &reference).await?;
    let files = pfs.files_at(&snapshot, std::slice::from_ref(&dir)).await?.pop().unwrap_or_default();
    if files.is_empty() && dir != "/" {
        return Err(PfsError::not_found(format!("file or directory `{repo}@{}:{dir}`", commit.id)));
    }
    let strip = if dir == "/" || files.len() == 1 && files[0].path == dir {
        crate::names::dir_prefix(parent_of(&dir))
    } else {
        crate::names::dir_prefix(&dir)
    };
    let members = files.into_iter().map(|file| TarMember { name: file.path[strip.len()..].to_owned(), file }).collect();
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header(("x-strata-commit", commit.id.to_string()))
        .streaming(pfs.tar_stream(members)))
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

async fn file_list(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, dir) = path.into_inner();
    Ok(HttpResponse::Ok().json(api::file_list(ws.get(&workspace)?, &repo, &reference, &dir).await?))
}

async fn file_inspect(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let info = pfs.file_inspect(&RepoName::parse(&repo)?, &reference, &file).await?;
    Ok(HttpResponse::Ok().json(wire::FileInfo::from(info)))
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
    let pfs = ws.get(&workspace)?;
    let files = pfs.file_glob(&RepoName::parse(&repo)?, &reference, &query.pattern).await?;
    Ok(HttpResponse::Ok().json(api::wire_list::<_, wire::FileInfo>(files)))
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
    let pfs = ws.get(&workspace)?;
    let repo = RepoName::parse(&repo)?;
    let old_repo = match &query.old_repo {
        Some(old_repo) => RepoName::parse(old_repo)?,
        None => repo.clone(),
    };
    let old = query.old_ref.as_deref().map(|old_ref| (&old_repo, old_ref));
    let diff = pfs.file_diff(&repo, &reference, &file, old).await?;
    Ok(HttpResponse::Ok().json(api::wire_list::<_, wire::DiffEntry>(diff)))
}

async fn file_history(
    ws: web::Data<Workspaces>,
    path: web::Path<(String, String, String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (workspace, repo, reference, file) = path.into_inner();
    let pfs = ws.get(&workspace)?;
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let commits = pfs.file_history(&RepoName::parse(&repo)?, &reference, &file, limit).await?;
    Ok(HttpResponse::Ok().json(api::wire_list::<_, CommitInfo>(commits)))
}

// ---- maintenance -----------------------------------------------------

async fn fsck(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(wire::FsckReport::from(ws.get(&path)?.fsck().await?)))
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
    let report = ws.get(&path)?.gc(Duration::from_secs(query.grace_secs)).await?;
    Ok(HttpResponse::Ok().json(wire::GcReport::from(report)))
}

async fn storage(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.stored_bytes().await?))
}

async fn storage_total(ws: web::Data<Workspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(wire::StoredTotal { bytes: ws.get(&path)?.stored_total().await? }))
}

// ---- errors ------------------------------------------------------------

// The status, body and logging of every PfsError come from its code.
strata_http::coded_error_responses!(PfsError);
