//! `strata provisioner run`, the local provisioner inside `strata dev`, and
//! the hidden `strata __workspace-server` the local backend starts.

use std::sync::Arc;

use anyhow::Context as _;
use strata_api::Application;
use strata_core::config::{Overrides, ServerConfig, Settings};
use strata_provisioner::autoscaler::PolicyConfig;
use strata_provisioner::{LocalBackend, LocalConfig, ProvisionerMetrics, Reconciler, ReconcilerConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{ProvisionerBackend, ServerArgs};
use crate::failure::{Failure, internal};
use crate::output::say;

/// Server settings from the config file, `STRATA_*` and the flags.
pub(crate) fn settings(args: &ServerArgs, listen: Option<String>) -> Result<Settings, Failure> {
    let overrides = Overrides {
        listen,
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
        object_store_url: args.object_store_url.clone(),
        redis_url: args.redis_url.clone(),
        log_format: args.log_format.clone(),
        log_level: args.log_level.clone(),
    };
    Ok(ServerConfig::load(args.config.as_deref(), &overrides)?.resolve()?)
}

fn local_config(settings: &Settings) -> Result<LocalConfig, Failure> {
    let binary = std::env::current_exe().context("cannot find the strata executable").map_err(internal)?;
    Ok(LocalConfig {
        binary,
        data_dir: settings.data_dir.clone(),
        database: settings.database.clone(),
        object_store_url: settings.object_store.describe(),
        redis_url: settings.redis.as_ref().map(|url| url.expose().to_owned()),
        task_lease: settings.pps.task_lease,
        isolation: settings.pps.sandbox.clone(),
        policy: PolicyConfig {
            datums_per_worker: settings.provisioner.datums_per_worker,
            cooldown: settings.provisioner.scale_down_cooldown,
        },
        autoscale_every: std::time::Duration::from_millis(500),
        start_timeout: std::time::Duration::from_secs(20),
    })
}

fn reconciler_config(settings: &Settings) -> ReconcilerConfig {
    ReconcilerConfig { deletion_grace: settings.provisioner.deletion_grace, ..ReconcilerConfig::default() }
}

/// Starts the local provisioner beside `strata dev`'s server.
pub(crate) fn start_local(
    settings: &Settings,
    app: &Application,
    stop: CancellationToken,
) -> Result<JoinHandle<()>, Failure> {
    let metrics = ProvisionerMetrics::new(&app.metrics().meter("strata-provisioner"));
    let backend = LocalBackend::new(
        local_config(settings)?,
        app.database().clone(),
        app.object_store().clone(),
        app.hub().clone(),
        metrics.clone(),
    );
    let reconciler = Reconciler::new(app.hub().clone(), Arc::new(backend), reconciler_config(settings), metrics);
    Ok(tokio::spawn(reconciler.run(stop)))
}

/// `strata provisioner run`: the reconciler as its own process.
pub async fn run(backend: ProvisionerBackend, args: &ServerArgs) -> Result<(), Failure> {
    let settings = settings(args, None)?;
    let _logging = strata_core::telemetry::init_logging(&settings.log)?;
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    if settings.needs_data_dir() {
        strata_core::config::prepare_data_dir(&settings.data_dir)?;
    }
    let db = strata_core::db::connect(&settings.database).await?;
    let mailer = Arc::new(strata_hub::OutboxMailer::new(settings.data_dir.join("outbox")));
    let hub = strata_hub::Hub::open(db.clone(), mailer, strata_hub::HubSettings::default()).await.map_err(internal)?;
    let store = strata_core::store::open(&settings.object_store)?;
    let metrics = ProvisionerMetrics::disabled();
    let backend: Arc<dyn strata_provisioner::Backend> = match backend {
        ProvisionerBackend::Local => {
            Arc::new(LocalBackend::new(local_config(&settings)?, db, store, hub.clone(), metrics.clone()))
        }
    };
    tracing::info!(backend = backend.name(), database = %settings.database.redacted(), "provisioner starting");
    Reconciler::new(hub, backend, reconciler_config(&settings), metrics).run(stop).await;
    Ok(())
}

/// `strata __workspace-server`: see `strata_api::workspace_server`.
pub async fn workspace_server(config_file: Option<&std::path::Path>) -> Result<(), Failure> {
    let logging = strata_core::config::LogSettings {
        format: strata_core::config::LogFormat::Pretty,
        filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
    };
    let _logging = strata_core::telemetry::init_logging(&logging)?;
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    match config_file {
        Some(path) => strata_api::workspace_server::serve_from_file(path, stop).await?,
        None => strata_api::workspace_server::serve_from_stdin(stop, say).await?,
    }
    Ok(())
}

/// `strata __install DEST`: this executable, copied to DEST and made
/// executable for everyone.
pub fn install(dest: &std::path::Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let me = std::env::current_exe().context("cannot find this executable").map_err(internal)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))
            .map_err(internal)?;
    }
    std::fs::copy(&me, dest)
        .with_context(|| format!("cannot copy {} to {}", me.display(), dest.display()))
        .map_err(internal)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", dest.display()))
        .map_err(internal)?;
    Ok(())
}
