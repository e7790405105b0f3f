//! A server for exactly one workspace: its PFS and PPS endpoints, its PPS
//! master, on its own metadata database, object-store prefix and queue
//! prefix. The provisioner's local backend runs one per workspace as a
//! child process (`strata __workspace-server`); in Kubernetes it is the
//! workspace server Deployment.
//!
//! It trusts one bearer token, the workspace's service secret: the hub's
//! gateway sends it after checking the caller's role, and the workspace's
//! workers send it. People never talk to it directly.

use std::net::TcpListener;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
use strata_core::telemetry::Metrics;
use strata_core::workspace_server::WorkspaceServerConfig;
use strata_pfs::http::Workspaces;
use strata_pps::http::PpsWorkspaces;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::workspace_auth::{bearer, reject, same_secret};

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
            object_prefix: &config.object_prefix,
            queue_prefix: &config.queue_prefix,
            redis: config.redis_url.as_deref(),
            task_lease: config.task_lease,
        }
        .open(&db, &store, &metrics)
        .await?;
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

/// Lets through only the service secret, and only for this workspace.
async fn service_only(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(identity) = request.app_data::<web::Data<ServiceIdentity>>().cloned() else {
        let response = reject(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "authorization is not configured".into());
        return Ok(request.into_response(response));
    };
    let authorised = matches!(bearer(request.headers()), Some(Ok(token)) if same_secret(token, &identity.secret));
    if !authorised {
        let message = "this workspace server only answers its gateway and workers".to_owned();
        return Ok(request.into_response(reject(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)));
    }
    if request.match_info().get("workspace") != Some(identity.slug.as_str()) {
        let message = format!("this server hosts workspace `{}` only", identity.slug);
        return Ok(request.into_response(reject(StatusCode::NOT_FOUND, "NOT_FOUND", message)));
    }
    Ok(next.call(request).await?.map_into_boxed_body())
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
