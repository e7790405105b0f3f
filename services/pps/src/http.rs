//! The PPS HTTP API, mounted at `/v1/workspaces/{workspace}/pps`.
//!
//! Pipelines, jobs, datums and logs for people and scripts; the task
//! endpoints for workers. Errors are `{code, message}` with a 4xx/5xx status.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use strata_api_types::pps::{CreatePipeline, PullTask, PutSecret, TaskHeartbeat, TaskResult, WorkerLeaving};

use crate::error::PpsError;
use crate::meta::LogFilter;
use crate::service::Pps;
use crate::spec;
use crate::state::DatumState;
use crate::tasks::delivery_pipeline;

/// Largest accepted JSON body (task results carry datum logs).
const MAX_JSON: usize = 32 * 1024 * 1024;
/// Largest body of a pipeline creation: the spec text (at most
/// [`spec::MAX_SPEC_BYTES`]) may grow when escaped as a JSON string.
const MAX_CREATE_JSON: usize = 4 * spec::MAX_SPEC_BYTES;
/// Longest `job wait` a single request may hold.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Default and largest page of log lines.
const LOG_PAGE: u64 = 1000;
const LOG_PAGE_MAX: u64 = 10_000;

/// The PPS of each workspace this server holds, by slug.
#[derive(Debug, Clone, Default)]
pub struct PpsWorkspaces {
    by_slug: HashMap<String, Pps>,
}

impl PpsWorkspaces {
    pub fn insert(&mut self, slug: &str, pps: Pps) {
        self.by_slug.insert(slug.to_owned(), pps);
    }

    /// Every workspace with its PPS.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Pps)> {
        self.by_slug.iter()
    }

    /// The PPS of workspace `slug`.
    pub fn get(&self, slug: &str) -> Result<&Pps> {
        self.by_slug.get(slug).ok_or_else(|| PpsError::not_found(format!("workspace `{slug}`"), ""))
    }
}

type Result<T> = std::result::Result<T, PpsError>;

/// Put in a request's extensions by the server in front of these routes
/// when the caller is a worker of one pipeline: its task calls may concern
/// that pipeline's tasks only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineScope(pub String);

/// Set by the workspace server on requests of the Kubernetes provisioner's
/// pod-secrets credential: the only caller the pod-secrets route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodSecretsReader;

/// Refuses a scoped caller's request about another pipeline, exactly as a
/// missing task is refused.
fn within_scope(scope: Option<&web::ReqData<PipelineScope>>, pipeline: Option<&str>) -> Result<()> {
    match scope {
        Some(scope) if pipeline != Some(scope.0.as_str()) => {
            Err(PpsError::not_found("task", " for this worker's pipeline"))
        }
        _ => Ok(()),
    }
}

/// Mounts the routes; the caller wraps them in `/v1/workspaces/{workspace}/pps`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(json_config(MAX_JSON))
        .app_data(
            web::QueryConfig::default().error_handler(|error, _| PpsError::invalid("query", format!("{error}")).into()),
        )
        .service(
            web::resource("/pipelines")
                .app_data(json_config(MAX_CREATE_JSON))
                .route(web::get().to(pipeline_list))
                .route(web::post().to(pipeline_create)),
        )
        .route("/pipelines/{pipeline}", web::get().to(pipeline_inspect))
        .route("/pipelines/{pipeline}", web::delete().to(pipeline_delete))
        .route("/pipelines/{pipeline}/stop", web::post().to(pipeline_stop))
        .route("/pipelines/{pipeline}/start", web::post().to(pipeline_start))
        .route("/pipelines/{pipeline}/pod-secrets", web::get().to(pod_secrets))
        .route("/jobs", web::get().to(job_list))
        .route("/pipelines/{pipeline}/jobs/{job}", web::get().to(job_inspect))
        .route("/pipelines/{pipeline}/jobs/{job}/wait", web::get().to(job_wait))
        .route("/pipelines/{pipeline}/jobs/{job}/stop", web::post().to(job_stop))
        .route("/pipelines/{pipeline}/jobs/{job}/datums", web::get().to(datum_list))
        .route("/pipelines/{pipeline}/jobs/{job}/datums/{datum}", web::get().to(datum_inspect))
        .route("/secrets", web::get().to(secret_list))
        .route("/secrets/{name}", web::get().to(secret_inspect))
        .route("/secrets/{name}", web::put().to(secret_put))
        .route("/secrets/{name}", web::delete().to(secret_delete))
        .route("/load", web::get().to(load))
        .route("/usage", web::get().to(usage))
        .route("/usage/records", web::get().to(usage_records))
        .route("/logs", web::get().to(logs))
        .route("/tasks/pull", web::post().to(task_pull))
        .route("/tasks/leave", web::post().to(task_leave))
        .route("/tasks/release", web::post().to(task_release))
        .route("/tasks/heartbeat", web::post().to(task_heartbeat))
        .route("/tasks/result", web::post().to(task_result))
        .route("/tasks/{delivery}/inputs", web::get().to(task_inputs));
}

/// JSON bodies of at most `limit` bytes; a larger one is a 413, any other
/// problem a 400 naming it.
fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |error, _| {
        use actix_web::error::JsonPayloadError;
        match error {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                PpsError::TooLarge(format!("the request body is larger than {} KiB", limit / 1024)).into()
            }
            other => PpsError::invalid("body", format!("{other}")).into(),
        }
    })
}

async fn pipeline_list(ws: web::Data<PpsWorkspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    let pps = ws.get(&path)?;
    Ok(HttpResponse::Ok().json(pps.pipeline_list().await?))
}

async fn load(ws: web::Data<PpsWorkspaces>, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.pipeline_load().await?))
}

#[derive(Debug, Deserialize)]
struct UsageQuery {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
}

async fn usage(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(ws.get(&path)?.usage_by_pipeline(query.from, query.to).await?))
}

#[derive(Debug, Deserialize)]
struct RecordsQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_records")]
    limit: u64,
}

fn default_records() -> u64 {
    1000
}

/// The usage outbox after `after`, oldest first (what billing meters).
async fn usage_records(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    query: web::Query<RecordsQuery>,
) -> Result<HttpResponse> {
    let limit = query.limit.clamp(1, 10_000);
    Ok(HttpResponse::Ok().json(ws.get(&path)?.usage_after(query.after, limit).await?))
}

async fn pipeline_create(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<CreatePipeline>,
) -> Result<HttpResponse> {
    let pps = ws.get(&path)?;
    let body = body.into_inner();
    let created = pps.pipeline_create(body.spec, body.format.map(Into::into), body.update, body.reprocess).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn pipeline_inspect(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.pipeline_info(&pipeline).await?))
}

async fn pipeline_delete(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline) = path.into_inner();
    ws.get(&workspace)?.pipeline_delete(&pipeline).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A worker's pipeline-scoped credential runs tasks; it never manages secrets.
fn not_a_worker(scope: Option<&web::ReqData<PipelineScope>>) -> Result<()> {
    match scope {
        Some(_) => Err(PpsError::not_found("secrets", "a worker's credential does not manage secrets")),
        None => Ok(()),
    }
}

/// The secret values a pipeline's worker pods reference; nobody but the
/// provisioner's credential gets an answer, and no one else learns the route
/// exists.
async fn pod_secrets(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String)>,
    reader: Option<web::ReqData<PodSecretsReader>>,
) -> Result<HttpResponse> {
    if reader.is_none() {
        return Err(PpsError::not_found("route", "secret values are never shown"));
    }
    let (workspace, pipeline) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.pod_secrets(&pipeline).await?))
}

async fn secret_list(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    not_a_worker(scope.as_ref())?;
    Ok(HttpResponse::Ok().json(ws.get(&path)?.secret_list().await?))
}

async fn secret_inspect(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String)>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    not_a_worker(scope.as_ref())?;
    let (workspace, name) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.secret_inspect(&name).await?))
}

async fn secret_put(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String)>,
    body: web::Json<PutSecret>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    not_a_worker(scope.as_ref())?;
    let (workspace, name) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.secret_put(&name, body.into_inner()).await?))
}

async fn secret_delete(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String)>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    not_a_worker(scope.as_ref())?;
    let (workspace, name) = path.into_inner();
    ws.get(&workspace)?.secret_delete(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn pipeline_stop(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.pipeline_set_stopped(&pipeline, true).await?))
}

async fn pipeline_start(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.pipeline_set_stopped(&pipeline, false).await?))
}

#[derive(Debug, Deserialize)]
struct JobListQuery {
    pipeline: Option<String>,
    #[serde(default = "default_jobs")]
    limit: u64,
}

fn default_jobs() -> u64 {
    100
}

async fn job_list(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    query: web::Query<JobListQuery>,
) -> Result<HttpResponse> {
    let pps = ws.get(&path)?;
    Ok(HttpResponse::Ok().json(pps.job_list(query.pipeline.as_deref(), query.limit).await?))
}

async fn job_inspect(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline, job) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.job_inspect(&pipeline, &job).await?))
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default = "default_wait")]
    timeout_secs: u64,
}

fn default_wait() -> u64 {
    600
}

async fn job_wait(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<WaitQuery>,
) -> Result<HttpResponse> {
    let (workspace, pipeline, job) = path.into_inner();
    let timeout = Duration::from_secs(query.timeout_secs).min(MAX_WAIT);
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.job_wait(&pipeline, &job, timeout).await?))
}

async fn job_stop(ws: web::Data<PpsWorkspaces>, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (workspace, pipeline, job) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.job_stop(&pipeline, &job).await?))
}

#[derive(Debug, Deserialize)]
struct DatumQuery {
    state: Option<String>,
}

fn parse_datum_state(text: &str) -> Result<DatumState> {
    DatumState::parse(text).ok_or_else(|| {
        PpsError::invalid(
            "state",
            format!("`{text}` is not a datum state; use pending, processed, skipped, failed or recovered"),
        )
    })
}

async fn datum_list(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String, String)>,
    query: web::Query<DatumQuery>,
) -> Result<HttpResponse> {
    let (workspace, pipeline, job) = path.into_inner();
    let state = query.state.as_deref().map(parse_datum_state).transpose()?;
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.datum_list(&pipeline, &job, state).await?))
}

async fn datum_inspect(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (workspace, pipeline, job, datum) = path.into_inner();
    Ok(HttpResponse::Ok().json(ws.get(&workspace)?.datum_inspect(&pipeline, &job, &datum).await?))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    pipeline: String,
    job: Option<String>,
    datum: Option<String>,
    #[serde(default)]
    after: u64,
    limit: Option<u64>,
}

async fn logs(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse> {
    let pps = ws.get(&path)?;
    let query = query.into_inner();
    let filter = LogFilter {
        pipeline: query.pipeline,
        job: query.job,
        datum: query.datum,
        after: i64::try_from(query.after).unwrap_or(i64::MAX),
        limit: query.limit.unwrap_or(LOG_PAGE).clamp(1, LOG_PAGE_MAX),
    };
    Ok(HttpResponse::Ok().json(pps.logs(filter).await?))
}

async fn task_pull(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<PullTask>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    within_scope(scope.as_ref(), Some(&body.pipeline))?;
    let pps = ws.get(&path)?;
    match pps.task_pull(&body).await? {
        Some(assignment) => Ok(HttpResponse::Ok().json(assignment)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

async fn task_leave(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<WorkerLeaving>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    within_scope(scope.as_ref(), Some(&body.pipeline))?;
    ws.get(&path)?.task_leave(&body);
    Ok(HttpResponse::NoContent().finish())
}

async fn task_release(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<TaskHeartbeat>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    within_scope(scope.as_ref(), delivery_pipeline(&body.delivery))?;
    ws.get(&path)?.task_release(&body).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn task_heartbeat(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<TaskHeartbeat>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    within_scope(scope.as_ref(), delivery_pipeline(&body.delivery))?;
    ws.get(&path)?.task_heartbeat(&body).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn task_result(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<String>,
    body: web::Json<TaskResult>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    within_scope(scope.as_ref(), delivery_pipeline(&body.delivery))?;
    ws.get(&path)?.task_result(body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn task_inputs(
    ws: web::Data<PpsWorkspaces>,
    path: web::Path<(String, String)>,
    scope: Option<web::ReqData<PipelineScope>>,
) -> Result<HttpResponse> {
    let (workspace, delivery) = path.into_inner();
    within_scope(scope.as_ref(), delivery_pipeline(&delivery))?;
    let pps = ws.get(&workspace)?;
    let members = pps.task_inputs(&delivery).await?;
    Ok(HttpResponse::Ok().content_type("application/x-tar").streaming(pps.pfs().tar_stream(members)))
}

// ---- errors ------------------------------------------------------------

// The status, body and logging of every PpsError come from its code.
strata_http::coded_error_responses!(PpsError);
