//! The HTTP front door of Strata.
//!
//! Serves health and readiness probes, Prometheus metrics, GraphQL (the hub
//! and every workspace's data), the gateway to every workspace, the
//! embedded workspace's own endpoints and the web console.
//! [`Application::build`] does all fallible start-up work (data directory,
//! database, migrations, object store, binding the port) so that
//! configuration mistakes are reported before anything is served.

mod billing_routes;
pub mod config;
mod console;
mod error;
mod gateway;
mod graphql;
mod health;
mod instance;
mod metering;
mod middleware;
pub mod migration;
mod rate_limit;
mod scim_routes;
mod session_cookies;
mod sso_routes;
mod state;
mod upstream_limit;
mod workers;
mod workspace_auth;
mod workspace_path;
pub mod workspace_server;

use std::net::TcpListener;

use crate::config::AppSettings;
use actix_web::{App, HttpServer, web};
use strata_core::store::DynObjectStore;
use strata_core::telemetry::Metrics;
use strata_core::workspace_server::secrets_context;
use strata_pfs::Pfs;
use strata_pfs::http::Workspaces;
use strata_pps::http::PpsWorkspaces;
use strata_pps::{Pps, PpsSettings};
use tokio_util::sync::CancellationToken;

pub use error::Error;
pub use graphql::{build_schema, schema_sdl};
pub use instance::Instance;
use state::AppState;

/// A bound, ready-to-run server.
#[derive(Debug)]
pub struct Application {
    port: u16,
    state: web::Data<AppState>,
    workspaces: web::Data<Workspaces>,
    pipelines: web::Data<PpsWorkspaces>,
    hub: web::Data<strata_hub::Hub>,
    billing: web::Data<strata_billing::Billing>,
    /// The workspace served in-process, whose usage billing meters here.
    hosted_workspace: strata_core::id::WorkspaceId,
    guard: web::Data<workspace_auth::WorkspaceGuard>,
    limiter: web::Data<rate_limit::RateLimiter>,
    upstreams: web::Data<gateway::Upstreams>,
    console: web::Data<console::Console>,
    /// What runs beside the HTTP server: masters and embedded workers.
    background: workers::Background,
    listener: TcpListener,
    /// The `metrics_listen` socket, serving only `/metrics`.
    metrics_listener: Option<TcpListener>,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    /// Prepares storage, runs migrations and binds the listening socket.
    pub async fn build(settings: &AppSettings) -> Result<Self, Error> {
        let server = &settings.server;
        if server.needs_data_dir() {
            strata_core::config::prepare_data_dir(&server.data_dir)?;
        }
        // Read first: a missing or malformed master key is a configuration
        // error, reported before anything connects.
        let master_keys = settings.hub.master_key.load()?;
        let mut db = strata_core::db::connect(&server.database).await?;
        let metrics = Metrics::new()?;
        count_queries(&mut db, &metrics);
        strata_core::db::migrate::<migration::Migrator>(&db, &server.database).await?;
        let instance = instance::instance_get_or_create(&db).await?;
        let store = strata_core::store::open(&server.object_store)?;
        let (workspaces, pipelines) =
            embedded_workspaces(&db, &store, &metrics, &instance, settings, &master_keys).await?;
        let listener =
            TcpListener::bind(server.listen).map_err(|source| Error::Bind { addr: server.listen, source })?;
        let port = listener.local_addr().map_err(|source| Error::Bind { addr: server.listen, source })?.port();
        let metrics_listener = match settings.api.metrics.listen {
            Some(addr) => Some(TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?),
            None => None,
        };
        let hub = open_hub(&db, settings, master_keys, port).await?;
        let links = strata_billing::BillingLinks { console: public_url(settings, port) };
        let billing =
            strata_billing::Billing::from_settings(hub.clone(), links, &settings.billing).map_err(Error::Billing)?;
        let hosted = hub
            .ensure_hosted_workspace(strata_hub::LOCAL_ORG, EMBEDDED_WORKSPACE, &format!("http://127.0.0.1:{port}"))
            .await
            .map_err(Error::Hub)?;
        let hosted_workspace = hosted;
        let guard = workspace_auth::WorkspaceGuard::new([(EMBEDDED_WORKSPACE.to_owned(), hosted)].into());
        let redis = server.redis.as_ref().map(strata_core::config::SecretUrl::expose);
        let limiter = rate_limit::RateLimiter::connect(
            redis,
            &format!("strata:{}:rl:", instance.id),
            settings.api.rate_limit_per_minute,
        )
        .await
        .map_err(Error::RateLimiter)?;
        let scratch = server.data_dir.join("scratch");
        let token = guard.internal_token().to_owned();
        let background = workers::Background::new(&pipelines, port, settings.embedded_workers(), scratch, token);
        let probe_db = strata_core::db::connect_for_probes(&server.database).await?;
        let own = std::net::SocketAddr::new(server.listen.ip(), port);
        let (workspaces, pipelines) = (web::Data::new(workspaces), web::Data::new(pipelines));
        let hosted = graphql::Hosted { pfs: workspaces.clone().into_inner(), pps: pipelines.clone().into_inner() };
        let upstreams = web::Data::new(gateway::Upstreams::new(own, hosted, &metrics)?);
        let state = web::Data::new(AppState::new((db, probe_db), store, metrics, instance, settings));
        if let Some(warning) = &state.runner.warning {
            tracing::warn!(runner = %state.runner.runner, "{warning}");
        }
        Ok(Self {
            port,
            state,
            workspaces,
            pipelines,
            hub: web::Data::new(hub),
            billing: web::Data::new(billing),
            hosted_workspace,
            guard: web::Data::new(guard),
            limiter: web::Data::new(limiter),
            upstreams,
            console: web::Data::new(console::Console::locate(settings.api.web_dir.as_deref())),
            background,
            listener,
            metrics_listener,
            shutdown_timeout: server.shutdown_timeout,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `metrics_listen` address, when one is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok()).map(|addr| addr.port())
    }

    /// The hub (accounts, organisations, workspaces, tokens).
    pub fn hub(&self) -> &strata_hub::Hub {
        &self.hub
    }

    /// The control-plane database.
    pub fn database(&self) -> &sea_orm::DatabaseConnection {
        &self.state.db
    }

    /// The installation's object store (unprefixed).
    pub fn object_store(&self) -> &DynObjectStore {
        &self.state.store
    }

    /// This process's metrics registry (served at `/metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// The installation this server belongs to.
    pub fn instance(&self) -> &Instance {
        &self.state.instance
    }

    /// Serves until `stop` is cancelled, then lets in-flight requests finish
    /// (up to the shutdown timeout) and returns.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> Result<(), Error> {
        let state = self.state.clone();
        let workspaces = self.workspaces.clone();
        let pipelines = self.pipelines.clone();
        let hub = self.hub.clone();
        let billing = self.billing.clone();
        let guard = self.guard.clone();
        let limiter = self.limiter.clone();
        let upstreams = self.upstreams.clone();
        let console = self.console.clone();
        let background = self.background.start(stop.child_token());
        let usage = metering::WorkspaceUsage {
            embedded: self.pipelines.get(EMBEDDED_WORKSPACE).ok().map(|pps| (self.hosted_workspace, pps.clone())),
            servers: strata_billing::metering::WorkspaceServers::new(self.upstreams.http().clone()),
        };
        let billing_metrics = web::Data::new(billing_routes::BillingMetrics::new(&state.metrics));
        let billing_upkeep =
            tokio::spawn(billing_upkeep(billing.clone(), usage, billing_metrics.get_ref().clone(), stop.child_token()));
        let metrics_server =
            self.metrics_listener.map(|listener| tokio::spawn(serve_metrics(listener, state.clone(), stop.clone())));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(workspaces.clone())
                .app_data(pipelines.clone())
                .app_data(hub.clone())
                .app_data(billing.clone())
                .app_data(billing_metrics.clone())
                .app_data(guard.clone())
                .app_data(limiter.clone())
                .app_data(upstreams.clone())
                .app_data(console.clone())
                .wrap(actix_web::middleware::from_fn(rate_limit::limit_requests))
                .wrap(middleware::RequestTelemetry::new(&state.metrics))
                .configure(routes)
        })
        .listen(self.listener)
        .map_err(Error::Serve)?
        .disable_signals()
        .shutdown_timeout(self.shutdown_timeout.as_secs())
        .run();
        let served = serve_until(server, stop, &self.pipelines).await;
        background.stop().await;
        if let Err(error) = billing_upkeep.await {
            tracing::error!(%error, "the billing upkeep panicked");
        }
        if let Some(metrics_server) = metrics_server {
            match metrics_server.await {
                Ok(Err(error)) => {
                    tracing::error!(error = %strata_core::error::display_chain(&error), "metrics listener failed");
                }
                Err(error) => tracing::error!(%error, "metrics listener panicked"),
                Ok(Ok(())) => {}
            }
        }
        self.state.metrics.shutdown();
        served
    }
}

/// Serves `/metrics` (and nothing else) on the `metrics_listen` socket
/// until `stop`.
async fn serve_metrics(
    listener: TcpListener,
    state: web::Data<AppState>,
    stop: CancellationToken,
) -> Result<(), Error> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(health::open_metrics))
            .default_service(web::to(error::not_found))
    })
    .workers(1)
    .listen(listener)
    .map_err(Error::Serve)?
    .disable_signals()
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        stop.cancelled().await;
        handle.stop(true).await;
    });
    server.await.map_err(Error::Serve)
}

/// The slug of the workspace `strata dev` serves in-process.
pub const EMBEDDED_WORKSPACE: &str = "default";

/// The embedded workspace: PFS and PPS on the same database (their own
/// `pfs_*`/`pps_*` tables), under their own object-store prefix and Redis
/// key prefix. Other workspaces get their own servers from the provisioner.
async fn embedded_workspaces(
    db: &sea_orm::DatabaseConnection,
    store: &DynObjectStore,
    metrics: &Metrics,
    instance: &Instance,
    settings: &AppSettings,
    master_keys: &strata_core::config::MasterKeys,
) -> Result<(Workspaces, PpsWorkspaces), Error> {
    let own: DynObjectStore = std::sync::Arc::new(object_store::prefix::PrefixStore::new(
        store.clone(),
        format!("workspaces/{EMBEDDED_WORKSPACE}"),
    ));
    let queue_prefix = format!("strata:{}:{EMBEDDED_WORKSPACE}:", instance.id);
    OpenWorkspace {
        slug: EMBEDDED_WORKSPACE,
        queue_prefix: &queue_prefix,
        redis: settings.server.redis.as_ref().map(strata_core::config::SecretUrl::expose),
        pps: PpsSettings {
            secrets_keys: Some(master_keys.derive(&secrets_context(&instance.id.to_string(), EMBEDDED_WORKSPACE))),
            ..settings.pps.clone()
        },
    }
    .open(db, own, metrics)
    .await
}

/// Where one workspace's PFS and PPS keep their data.
pub(crate) struct OpenWorkspace<'a> {
    pub slug: &'a str,
    pub queue_prefix: &'a str,
    pub redis: Option<&'a str>,
    pub pps: PpsSettings,
}

impl OpenWorkspace<'_> {
    /// Opens (and migrates) PFS and PPS on `db`, keeping their objects in
    /// `scoped` (the workspace's own store) and tasks below the queue prefix.
    pub(crate) async fn open(
        &self,
        db: &sea_orm::DatabaseConnection,
        scoped: DynObjectStore,
        metrics: &Metrics,
    ) -> Result<(Workspaces, PpsWorkspaces), Error> {
        let pfs = Pfs::open(db.clone(), scoped.clone()).await.map_err(Error::Pfs)?;
        let queue =
            strata_queue::from_url(self.redis, self.queue_prefix, self.pps.lease).await.map_err(Error::Queue)?;
        let pps =
            Pps::open(pfs.clone(), db.clone(), scoped, queue, self.pps.clone(), Some(metrics.meter("strata-pps")))
                .await
                .map_err(Error::Pps)?;
        let mut workspaces = Workspaces::default();
        workspaces.insert(self.slug, pfs);
        let mut pipelines = PpsWorkspaces::default();
        pipelines.insert(self.slug, pps);
        Ok((workspaces, pipelines))
    }
}

/// Runs `server` until it ends or `stop` is cancelled; then the long waits
/// of `pipelines` (task pulls, `job wait`) end at once, so the graceful stop
/// (in-flight requests, within the shutdown timeout) does not wait for them.
pub(crate) async fn serve_until(
    server: actix_web::dev::Server,
    stop: CancellationToken,
    pipelines: &PpsWorkspaces,
) -> Result<(), Error> {
    let handle = server.handle();
    let closing: Vec<strata_pps::Pps> = pipelines.iter().map(|(_, pps)| pps.clone()).collect();
    tokio::spawn(async move {
        stop.cancelled().await;
        closing.iter().for_each(strata_pps::Pps::close);
        handle.stop(true).await;
    });
    server.await.map_err(Error::Serve)
}

/// Counts every SQL statement (`strata_db_queries_total`, by success and by
/// origin, a request or background work), so that N+1 query patterns show up
/// on dashboards and in tests.
pub(crate) fn count_queries(db: &mut sea_orm::DatabaseConnection, metrics: &Metrics) {
    let counter = metrics
        .meter("strata-db")
        .u64_counter("strata_db_queries")
        .with_description("SQL statements sent to the metadata database")
        .build();
    db.set_metric_callback(move |info| {
        let labels = [
            opentelemetry::KeyValue::new("failed", info.failed),
            opentelemetry::KeyValue::new("origin", middleware::origin()),
        ];
        counter.add(1, &labels);
    });
}

/// The hub on the control-plane database. Mail goes through SMTP when
/// `smtp_url` is set, else to the data directory's outbox.
async fn open_hub(
    db: &sea_orm::DatabaseConnection,
    settings: &AppSettings,
    master_keys: strata_core::config::MasterKeys,
    port: u16,
) -> Result<strata_hub::Hub, Error> {
    let mail = &settings.hub.mail;
    let mailer: std::sync::Arc<dyn strata_hub::Mailer> = match &mail.smtp {
        Some(url) => std::sync::Arc::new(
            strata_hub::SmtpMailer::new(url.expose(), &url.redacted(), &mail.from).map_err(Error::Hub)?,
        ),
        None => std::sync::Arc::new(strata_hub::OutboxMailer::new(settings.server.data_dir.join("outbox"))),
    };
    let public_url = public_url(settings, port);
    let (plans, org_plans) = (settings.hub.plans.clone(), settings.hub.org_plans.clone());
    let sso = settings.hub.sso.clone();
    let hub_settings =
        strata_hub::HubSettings { public_url, plans, org_plans, sso, ..strata_hub::HubSettings::new(master_keys) };
    strata_hub::Hub::open(db.clone(), mailer, hub_settings).await.map_err(Error::Hub)
}

/// The URL people reach the console at: `public_url`, else the listen address.
fn public_url(settings: &AppSettings, port: u16) -> String {
    match &settings.hub.mail.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => settings.server.local_url(port),
    }
}

/// How often usage is metered and overdue organisations looked for
/// (grace periods are days long; a webhook that makes an organisation
/// overdue also looks at once).
const BILLING_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Meters usage and suspends organisations whose payment is overdue past
/// their grace period, every [`BILLING_UPKEEP_EVERY`] until `stop`.
async fn billing_upkeep(
    billing: web::Data<strata_billing::Billing>,
    usage: metering::WorkspaceUsage,
    metrics: billing_routes::BillingMetrics,
    stop: CancellationToken,
) {
    if !billing.is_enabled() {
        return;
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(BILLING_UPKEEP_EVERY) => {}
        }
        let now = chrono::Utc::now();
        match billing.meter(&usage, now).await {
            Ok(round) => metrics.metered(round),
            Err(error) => {
                tracing::error!(error = %strata_core::error::display_chain(&error), "metering failed; it resumes where it stopped");
            }
        }
        if let Err(error) = billing.upkeep(now).await {
            tracing::error!(error = %strata_core::error::display_chain(&error), "billing upkeep failed");
        }
        if let Err(error) = billing.sync_seats().await {
            tracing::error!(error = %strata_core::error::display_chain(&error), "seat quantities not synced");
        }
    }
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/.well-known/jwks.json", web::get().to(session_cookies::jwks))
        .route("/auth/refresh", web::post().to(session_cookies::refresh))
        .route("/auth/link", web::get().to(session_cookies::login_link))
        .configure(sso_routes::configure)
        .route("/scim/v2/{org}/{tail:.*}", web::route().to(scim_routes::serve))
        .service(
            web::resource("/webhooks/stripe")
                .app_data(web::PayloadConfig::new(billing_routes::MAX_EVENT_BYTES))
                .route(web::post().to(billing_routes::stripe)),
        )
        .service(
            web::resource("/graphql")
                .route(web::get().guard(actix_web::guard::fn_guard(graphql::accepts_html)).to(graphql::explorer_page))
                .route(web::head().guard(actix_web::guard::fn_guard(graphql::accepts_html)).to(graphql::explorer_page))
                .route(web::get().to(graphql::execute))
                .route(web::head().to(graphql::execute))
                .route(web::post().to(graphql::execute)),
        )
        .configure(graphql::configure_explorer)
        .route("/v1/orgs/{org}/workspaces/{workspace}/{tail:.*}", web::route().to(gateway::forward))
        .service(
            web::resource("/assets/{name}")
                .wrap(actix_web::middleware::Compress::default())
                .route(web::get().to(console::asset))
                .route(web::head().to(console::asset)),
        )
        .service(
            web::scope("/v1/workspaces/{workspace}/pps")
                .wrap(actix_web::middleware::from_fn(workspace_auth::authorize))
                .configure(strata_pps::http::configure),
        )
        .service(
            web::scope("/v1/workspaces/{workspace}")
                .wrap(actix_web::middleware::from_fn(workspace_auth::authorize))
                .configure(strata_pfs::http::configure),
        )
        .default_service(web::to(console::page));
}
