//! A server for exactly one workspace: its PFS and PPS endpoints, its PPS
//! master, on its own metadata database, object-store prefix and queue
//! prefix. The provisioner's local backend runs one per workspace as a
//! child process (`strata __workspace-server`); in Kubernetes it is the
//! workspace server Deployment.
//!
//! It never accepts its service secret as a bearer token: the gateway sends
//! a short-lived credential derived from it that names the caller, their
//! role and the one request it is for; workers send a credential for their
//! own pipeline; the provisioner one for reading the load. People never
//! talk to it directly.

use std::net::TcpListener;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};

use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
use strata_core::telemetry::Metrics;
use strata_core::workspace_server::{PlanLimits, WorkspaceServerConfig};
use strata_pfs::http::Workspaces;
use strata_pps::http::PpsWorkspaces;
use tokio_util::sync::CancellationToken;

use crate::Error;
use actix_web::HttpMessage;
use actix_web::http::Method;
use strata_core::workspace_credentials::{ForwardedRequest, ServiceScope};
use strata_hub::WorkspaceRole;

use strata_api_types::ErrorCode;
use strata_http::reject;

use crate::workspace_auth::{bearer, parse_workspace_request};
use crate::workspace_path::WorkspacePath;

/// A bound workspace server.
pub struct WorkspaceServer {
    listener: TcpListener,
    port: u16,
    slug: String,
    secret: String,
    workspaces: web::Data<Workspaces>,
    pipelines: web::Data<PpsWorkspaces>,
    metrics: web::Data<Metrics>,
}

impl std::fmt::Debug for WorkspaceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceServer").field("slug", &self.slug).field("port", &self.port).finish_non_exhaustive()
    }
}

/// What the auth middleware compares against.
#[derive(Clone)]
struct ServiceIdentity {
    slug: String,
    secret: String,
}

impl WorkspaceServer {
    /// Opens the workspace's storage (running its migrations) and binds.
    pub async fn build(config: &WorkspaceServerConfig) -> Result<Self, Error> {
        let database = DatabaseUrl::parse(&config.database_url)?;
        let mut db = strata_core::db::connect(&database).await?;
        let metrics = Metrics::new()?;
        crate::count_queries(&mut db, &metrics);
        let store = strata_core::store::open(&ObjectStoreUrl::parse(&config.object_store_url)?)?;
        let opened = crate::OpenWorkspace {
            slug: &config.slug,
            queue_prefix: &config.queue_prefix,
            redis: config.redis_url.as_deref(),
            pps: strata_pps::PpsSettings {
                lease: config.task_lease,
                images: image_pinning(config)?,
                secrets_keys: secrets_keys(config)?,
            },
        }
        .open(&db, store, &metrics)
        .await?;
        if let Some(limits) = &config.limits {
            apply_limits(&opened.0, &opened.1, &config.slug, limits);
        }
        let listener =
            TcpListener::bind(config.listen).map_err(|source| Error::Bind { addr: config.listen, source })?;
        let port = listener.local_addr().map_err(|source| Error::Bind { addr: config.listen, source })?.port();
        Ok(WorkspaceServer {
            listener,
            port,
            slug: config.slug.clone(),
            secret: config.service_secret.clone(),
            workspaces: web::Data::new(opened.0),
            pipelines: web::Data::new(opened.1),
            metrics: web::Data::new(metrics),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves (with the PPS master) until `stop` is cancelled.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> Result<(), Error> {
        let masters: Vec<_> =
            self.pipelines.iter().map(|(_, pps)| tokio::spawn(pps.clone().run_master(stop.child_token()))).collect();
        let identity = web::Data::new(ServiceIdentity { slug: self.slug.clone(), secret: self.secret.clone() });
        let (workspaces, pipelines, metrics) = (self.workspaces.clone(), self.pipelines.clone(), self.metrics.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(workspaces.clone())
                .app_data(pipelines.clone())
                .app_data(metrics.clone())
                .app_data(identity.clone())
                .wrap(crate::middleware::RequestTelemetry::new(&metrics))
                .route("/healthz", web::get().to(crate::health::healthz))
                .route("/metrics", web::get().to(render_metrics))
                .service(
                    web::scope("/v1/workspaces/{workspace}/pps")
                        .wrap(actix_web::middleware::from_fn(service_only))
                        .configure(strata_pps::http::configure),
                )
                .service(
                    web::scope("/v1/workspaces/{workspace}")
                        .wrap(actix_web::middleware::from_fn(service_only))
                        .configure(strata_pfs::http::configure),
                )
                .default_service(web::to(crate::error::not_found))
        })
        .workers(2)
        .listen(self.listener)
        .map_err(Error::Serve)?
        .disable_signals()
        .run();
        let served = crate::serve_until(server, stop, &self.pipelines).await;
        for master in masters {
            let _ = master.await;
        }
        self.metrics.shutdown();
        served
    }
}

async fn render_metrics(metrics: web::Data<Metrics>) -> Result<HttpResponse, Error> {
    crate::health::exposition(&metrics)
}

/// Admits what the workspace's credentials allow (see
/// [`strata_core::workspace_credentials`]): requests the gateway forwarded
/// for a person, checked again against the role they carry and bound to
/// their method and path; workers, for their own pipeline's tasks only; the
/// provisioner, for the load; billing, for the usage outbox. The service
/// secret itself is not a credential.
async fn service_only(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(identity) = request.app_data::<web::Data<ServiceIdentity>>().cloned() else {
        let response = reject(ErrorCode::Internal, "authorization is not configured");
        return Ok(request.into_response(response));
    };
    let (slug, path) = match parse_workspace_request(&request) {
        Ok(parsed) => parsed,
        Err(refusal) => return Ok(request.into_response(refusal.response())),
    };
    if slug != identity.slug {
        let message = format!("this server hosts workspace `{}` only", identity.slug);
        return Ok(request.into_response(reject(ErrorCode::NotFound, message)));
    }
    let Some(Ok(token)) = bearer(request.headers()) else {
        return Ok(request.into_response(Denial::Unauthenticated.response()));
    };
    match admit(&identity, request.method(), &path, token, chrono::Utc::now().timestamp()) {
        Ok(ServiceCaller::Forwarded(forwarded)) => {
            // The hub's word on the plan, as of this request; workers' writes
            // are held to the latest one too.
            if let (Some(limits), Some(pfs), Some(pps)) = (
                &forwarded.limits,
                request.app_data::<web::Data<Workspaces>>(),
                request.app_data::<web::Data<PpsWorkspaces>>(),
            ) {
                apply_limits(pfs, pps, &slug, limits);
            }
            if let Some((action, target)) = path.audited_action(request.method()) {
                tracing::info!(
                    target: "strata::audit", workspace = %slug, actor = %forwarded.actor,
                    token = forwarded.token_id.as_deref().unwrap_or("-"), role = %forwarded.role, action, target,
                    "workspace action forwarded by the gateway"
                );
            }
        }
        Ok(ServiceCaller::Scoped(ServiceScope::Pipeline(pipeline))) => {
            request.extensions_mut().insert(strata_pps::http::PipelineScope(pipeline));
        }
        Ok(ServiceCaller::Scoped(ServiceScope::Load | ServiceScope::Usage)) => {}
        Ok(ServiceCaller::Scoped(ServiceScope::PodSecrets)) => {
            // The only caller the pod-secrets route answers: no person, whatever
            // their role, reads a secret's values.
            request.extensions_mut().insert(strata_pps::http::PodSecretsReader);
        }
        Err(denial) => return Ok(request.into_response(denial.response())),
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

/// Holds the workspace to what its plan allows.
fn apply_limits(pfs: &Workspaces, pps: &PpsWorkspaces, slug: &str, limits: &PlanLimits) {
    if let Ok(pfs) = pfs.get(slug) {
        pfs.set_storage_limit(Some(limits.storage.clone()));
    }
    if let Ok(pps) = pps.get(slug) {
        pps.set_log_retention(Some(limits.log_retention()));
    }
}

/// Who a request comes from, once its credential has been checked.
#[derive(Debug)]
enum ServiceCaller {
    Forwarded(ForwardedRequest),
    Scoped(ServiceScope),
}

/// Checks a credential against the request it came with.
fn admit(
    identity: &ServiceIdentity,
    method: &Method,
    path: &WorkspacePath,
    token: &str,
    now: i64,
) -> Result<ServiceCaller, Denial> {
    if ForwardedRequest::looks_like(token) {
        let forwarded = ForwardedRequest::open(token, &identity.secret, now).map_err(|_| Denial::Unauthenticated)?;
        let same_request = forwarded.workspace == identity.slug
            && forwarded.method == method.as_str()
            && forwarded.path == path.encoded();
        if !same_request {
            return Err(Denial::Forbidden("the forwarded credential was issued for another request".to_owned()));
        }
        let role: WorkspaceRole = forwarded.role.parse().map_err(|_| Denial::Unauthenticated)?;
        let needed = path.required_role(method);
        if role < needed {
            return Err(Denial::Forbidden(format!("this needs the {needed} role; the gateway vouched for {role}")));
        }
        return Ok(ServiceCaller::Forwarded(forwarded));
    }
    if ServiceScope::looks_like(token) {
        let scope =
            ServiceScope::verify(token, &identity.secret, &identity.slug).map_err(|_| Denial::Unauthenticated)?;
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let allowed = match &scope {
            ServiceScope::Pipeline(pipeline) => pipeline_may(pipeline, method, &segments),
            ServiceScope::Load => *method == Method::GET && segments == ["pps", "load"],
            ServiceScope::PodSecrets => {
                *method == Method::GET && matches!(segments.as_slice(), ["pps", "pipelines", _, "pod-secrets"])
            }
            ServiceScope::Usage => {
                *method == Method::GET
                    && matches!(segments.as_slice(), ["pps", "usage", "records"] | ["storage", "total"])
            }
        };
        if !allowed {
            return Err(Denial::Forbidden(format!(
                "a {scope} credential only serves its own tasks, the load, pods' secrets or the usage outbox"
            )));
        }
        return Ok(ServiceCaller::Scoped(scope));
    }
    Err(Denial::Unauthenticated)
}

/// What a pipeline's workers may call: the task protocol (the handlers
/// keep them to their pipeline's tasks), and uploads of their outputs as a
/// tar into a commit, by id, of the pipeline's output repo (which has the
/// pipeline's name; PFS accepts writes to open commits only).
fn pipeline_may(pipeline: &str, method: &Method, segments: &[&str]) -> bool {
    match segments {
        ["pps", "tasks", ..] => true,
        ["repos", repo, "refs", commit, "tar", ..] => {
            *method == Method::POST && repo == &pipeline && commit.parse::<strata_core::id::CommitId>().is_ok()
        }
        _ => false,
    }
}

/// Why a credential does not admit a request.
#[derive(Debug)]
enum Denial {
    /// No credential of this workspace (the same answer whatever was wrong).
    Unauthenticated,
    /// A valid credential that does not cover this request.
    Forbidden(String),
}

impl Denial {
    fn response(self) -> HttpResponse {
        match self {
            Denial::Unauthenticated => reject(
                ErrorCode::Unauthenticated,
                "this workspace server only answers its gateway, its workers and its provisioner",
            ),
            Denial::Forbidden(message) => reject(ErrorCode::Forbidden, message),
        }
    }
}

/// `strata __workspace-server --config-file PATH`, as the Kubernetes
/// backend runs it: the configuration comes from a mounted Secret and the
/// server runs until `stop` (SIGTERM from the kubelet).
pub async fn serve_from_file(path: &std::path::Path, stop: CancellationToken) -> Result<(), Error> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|error| config_error(&format!("cannot read {}: {error}", path.display())))?;
    let config: WorkspaceServerConfig = serde_json::from_str(&text)
        .map_err(|error| config_error(&format!("{} is not a workspace configuration: {error}", path.display())))?;
    let server = WorkspaceServer::build(&config).await?;
    tracing::info!(workspace = %config.slug, port = server.port(), "workspace server listening");
    server.run_until_stopped(stop).await
}

fn config_error(message: &str) -> Error {
    Error::Core(strata_core::Error::Config { key: "workspace server".to_owned(), message: message.to_owned() })
}

/// `strata __workspace-server`: reads its configuration as one JSON line
/// from standard input, calls `announce` with the line the provisioner
/// waits for ([`strata_core::workspace_server::LISTENING_PREFIX`] and the
/// address) once bound, and serves until standard input closes (its
/// provisioner went away) or `stop` is cancelled.
pub async fn serve_from_stdin(stop: CancellationToken, announce: impl FnOnce(&str)) -> Result<(), Error> {
    use tokio::io::AsyncBufReadExt;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    stdin.read_line(&mut line).await.map_err(Error::Serve)?;
    let config: WorkspaceServerConfig = serde_json::from_str(&line)
        .map_err(|error| config_error(&format!("standard input must be one JSON configuration line: {error}")))?;
    let server = WorkspaceServer::build(&config).await?;
    announce(&format!("{}127.0.0.1:{}", strata_core::workspace_server::LISTENING_PREFIX, server.port()));
    let orphaned = stop.clone();
    tokio::spawn(async move {
        let mut rest = String::new();
        // EOF (or an error): the provisioner that started us is gone.
        while matches!(stdin.read_line(&mut rest).await, Ok(n) if n > 0) {
            rest.clear();
        }
        orphaned.cancel();
    });
    server.run_until_stopped(stop).await
}

/// Pinning as the provisioner asks for it: on where the workspace's workers run containers.
fn image_pinning(config: &WorkspaceServerConfig) -> Result<strata_pps::ImagePinning, Error> {
    match &config.pin_images {
        None => Ok(strata_pps::ImagePinning::Off),
        Some(pin) => strata_pps::ImagePinning::pin(pin.plain_http_registries.clone()).map_err(Error::Pps),
    }
}

/// The secrets keys the provisioner derived for this workspace, if any.
fn secrets_keys(config: &WorkspaceServerConfig) -> Result<Option<strata_core::config::MasterKeys>, Error> {
    match &config.secrets_keys {
        None => Ok(None),
        Some(list) => Ok(Some(strata_core::config::MasterKeys::parse(list, "secrets_keys")?)),
    }
}
