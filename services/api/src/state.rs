//! What every request handler can reach.

use crate::config::AppSettings;
use sea_orm::DatabaseConnection;
use strata_core::store::DynObjectStore;
use strata_core::telemetry::Metrics;

use crate::graphql::StrataSchema;
use crate::instance::Instance;

/// Shared, immutable application state.
pub(crate) struct AppState {
    pub db: DatabaseConnection,
    /// The readiness probe's own connection (never the shared pool).
    pub probe_db: DatabaseConnection,
    pub store: DynObjectStore,
    pub metrics: Metrics,
    pub instance: Instance,
    pub schema: StrataSchema,
    /// What reads `/metrics` on the public address, if anything does.
    pub metrics_token: Option<crate::config::MetricsToken>,
    /// Safe-for-logs descriptions of where data lives.
    pub database_description: String,
    pub object_store_description: String,
    /// How the embedded workers run user code, for readiness and the log.
    pub runner: strata_api_types::RunnerInfo,
}

impl AppState {
    pub fn new(
        (db, probe_db): (DatabaseConnection, DatabaseConnection),
        store: DynObjectStore,
        metrics: Metrics,
        instance: Instance,
        settings: &AppSettings,
    ) -> Self {
        Self {
            db,
            probe_db,
            store,
            metrics,
            instance,
            schema: crate::graphql::build_schema(),
            metrics_token: settings.api.metrics.token.clone(),
            database_description: settings.server.database.redacted(),
            object_store_description: settings.server.object_store.describe(),
            runner: runner_info(&settings.sandbox),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("instance", &self.instance)
            .field("database", &self.database_description)
            .field("object_store", &self.object_store_description)
            .finish_non_exhaustive()
    }
}

/// What `strata status` and the start-up log say of the embedded workers'
/// runner: the process runner is said loudly, because pipelines then do
/// not run in their image and user code shares this machine.
pub(crate) fn runner_info(sandbox: &strata_sandbox::config::SandboxSettings) -> strata_api_types::RunnerInfo {
    let why = match &sandbox.runner_fallback {
        Some(missing) => format!("the container runner is not available ({missing}), so "),
        None => String::new(),
    };
    match &sandbox.containers {
        Some(_) => strata_api_types::RunnerInfo { runner: "container".to_owned(), warning: None },
        None => strata_api_types::RunnerInfo {
            runner: "process".to_owned(),
            warning: Some(format!(
                "{why}pipelines run as processes on this machine (isolation {:?}), not in their declared image; \
                 install podman and runc (scripts/containers.sh does) and set runner = \"container\"",
                sandbox.isolation
            )),
        },
    }
}
