//! The local backend: every workspace is a `strata __workspace-server`
//! child process on its own loopback port, with its own metadata (a SQLite
//! file, or a PostgreSQL schema), object-store prefix and queue prefix; its
//! workers are `strata worker` child processes that the autoscaler
//! ([`workers`]) starts and stops.
//!
//! Children read their configuration from standard input and exit when it
//! closes, so whatever way the provisioner ends (even SIGKILL), its
//! children follow, and the next provisioner starts fresh ones.

mod process;
mod workers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use strata_core::id::WorkspaceId;
use strata_core::workspace_credentials::CredentialIssuer;

use sea_orm::DatabaseConnection;
use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
use strata_core::store::DynObjectStore;
use strata_core::workspace_server::WorkspaceServerConfig;
use strata_hub::{DesiredWorkspace, Hub};
use tokio::sync::{Mutex, Notify};

use crate::autoscaler::PolicyConfig;
use crate::backend::{Applied, Backend, Teardown};
use crate::data;
use crate::error::{ProvisionerError, Result};
use crate::metrics::ProvisionerMetrics;
use crate::scaling::Scaler;
use process::ServerProcess;

/// How the local backend runs workspaces.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The `strata` executable to run servers and workers with.
    pub binary: PathBuf,
    /// Workspaces keep their files under `<data_dir>/workspaces/<id>/`.
    pub data_dir: PathBuf,
    /// The control-plane database: SQLite gives each workspace its own
    /// file, PostgreSQL its own schema.
    pub database: DatabaseUrl,
    /// The installation's object store; each workspace server is given only
    /// its own part, `workspaces/<id>/`.
    pub object_store: ObjectStoreUrl,
    pub redis_url: Option<String>,
    pub task_lease: Duration,
    /// The installation's master keys: each workspace server gets secrets
    /// keys derived from them. `None`: workspaces keep no secrets.
    pub master_keys: Option<strata_core::config::MasterKeys>,
    /// How the workspaces' workers run tenant code.
    pub runner: LocalRunner,
    pub policy: PolicyConfig,
    /// When idle workspaces sleep (their plan's setting unless overridden).
    pub idle_sleep: crate::plans::IdleSleep,
    /// How often the autoscaler looks at each workspace's queues.
    pub autoscale_every: Duration,
    /// How long a server may take to start listening.
    pub start_timeout: Duration,
}

/// How a local workspace's workers run tenant code: in containers, or,
/// only where the operator set the insecure setting that allows it, in
/// namespaces; else not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalRunner {
    /// Processes in namespaces on this machine (`--isolation namespace`);
    /// the pipeline's image is not used.
    Namespace,
    /// Containers of each pipeline's image; its jobs pin the image's digest.
    Container(ContainerRunner),
    /// No container runner and no permission to do without: every datum
    /// fails with this reason.
    Refused(String),
}

/// The installation's container settings, handed to each worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRunner {
    pub engine: PathBuf,
    pub containers_conf: Option<PathBuf>,
    pub helper: Option<PathBuf>,
    /// Registries (`host:port`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
}

impl LocalRunner {
    /// The `strata worker` flags of this runner.
    pub(crate) fn worker_args(&self) -> Vec<std::ffi::OsString> {
        match self {
            // A hub-created workspace's user code runs confined or not at all, whatever
            // the installation's `sandbox` setting (that is for `strata dev`'s own
            // workspace): a worker that cannot confine it fails its datums with the reason.
            LocalRunner::Namespace => vec!["--isolation".into(), "namespace".into()],
            LocalRunner::Refused(reason) => vec!["--refuse".into(), reason.into()],
            LocalRunner::Container(containers) => {
                let mut args: Vec<std::ffi::OsString> = vec![
                    "--runner".into(),
                    "container".into(),
                    "--container-engine".into(),
                    containers.engine.clone().into(),
                ];
                if let Some(conf) = &containers.containers_conf {
                    args.extend(["--containers-conf".into(), conf.clone().into()]);
                }
                if let Some(helper) = &containers.helper {
                    args.extend(["--container-helper".into(), helper.clone().into()]);
                }
                if !containers.insecure_registries.is_empty() {
                    args.extend(["--insecure-registries".into(), containers.insecure_registries.join(",").into()]);
                }
                args
            }
        }
    }

    /// Whether (and how) the workspace server pins its jobs' images.
    pub(crate) fn pin_images(&self) -> Option<strata_core::workspace_server::PinImages> {
        match self {
            LocalRunner::Namespace | LocalRunner::Refused(_) => None,
            LocalRunner::Container(containers) => Some(strata_core::workspace_server::PinImages {
                plain_http_registries: containers.insecure_registries.clone(),
            }),
        }
    }
}

/// The local backend.
#[derive(Debug)]
pub struct LocalBackend {
    config: LocalConfig,
    /// The control-plane database, for per-workspace PostgreSQL schemas.
    db: DatabaseConnection,
    store: DynObjectStore,
    hub: Hub,
    metrics: ProvisionerMetrics,
    servers: Mutex<HashMap<WorkspaceId, ServerProcess>>,
    changes: Arc<Notify>,
}

impl LocalBackend {
    pub fn new(
        config: LocalConfig,
        db: DatabaseConnection,
        store: DynObjectStore,
        hub: Hub,
        metrics: ProvisionerMetrics,
    ) -> Self {
        LocalBackend { config, db, store, hub, metrics, servers: Mutex::default(), changes: Arc::default() }
    }

    fn workspace_dir(&self, id: WorkspaceId) -> PathBuf {
        self.config.data_dir.join("workspaces").join(id.to_string())
    }

    /// The workspace's own metadata database, created if missing.
    async fn prepare_database(&self, id: WorkspaceId) -> Result<String> {
        match &self.config.database {
            DatabaseUrl::Sqlite(_) => {
                let path = self.workspace_dir(id).join("meta.sqlite");
                Ok(format!("sqlite://{}", path.display()))
            }
            DatabaseUrl::Postgres(url) => {
                data::create_postgres_schema(&self.db, id).await?;
                Ok(data::schema_url(url, id))
            }
        }
    }

    fn server_config(&self, workspace: &DesiredWorkspace, database_url: String, secret: &str) -> WorkspaceServerConfig {
        let pin = self.config.runner.pin_images();
        let shared = data::Shared {
            object_store: &self.config.object_store,
            redis_url: self.config.redis_url.as_deref(),
            task_lease: self.config.task_lease,
            master_keys: self.config.master_keys.as_ref(),
            pin_images: pin.as_ref(),
        };
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let prefix = data::local_object_prefix(workspace.id);
        data::server_config(workspace, database_url, loopback, secret, &prefix, shared)
    }

    async fn start(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<ServerProcess> {
        let dir = self.workspace_dir(workspace.id);
        std::fs::create_dir_all(&dir).map_err(|e| {
            ProvisionerError::retryable("StorageError", format!("cannot create {}: {e}", dir.display()))
        })?;
        let database_url = self.prepare_database(workspace.id).await?;
        let server_config = self.server_config(workspace, database_url, secret);
        let mut server = ServerProcess::spawn(&self.config, &server_config, &dir, self.changes.clone()).await?;
        let label = format!("{}/{}", workspace.org_slug, workspace.slug);
        let client = strata_client::StrataClient::new(&server.endpoint)
            .map_err(|e| ProvisionerError::retryable("ServerStartFailed", e.to_string()))?
            .with_token(CredentialIssuer::new(secret, &workspace.slug).load_reader())
            .workspace(&workspace.slug);
        let scaler = Scaler {
            workspace_id: workspace.id,
            label: label.clone(),
            client,
            every: self.config.autoscale_every,
            policy: self.config.policy,
            quota: server.quota_updates(crate::plans::PlanQuota::of(&workspace.plan)),
            hub: self.hub.clone(),
            metrics: self.metrics.clone(),
            idle_sleep: self.config.idle_sleep,
        };
        let workers = workers::LocalWorkers {
            workspace_id: workspace.id,
            label,
            slug: workspace.slug.clone(),
            endpoint: server.endpoint.clone(),
            credentials: CredentialIssuer::new(secret, &workspace.slug),
            dir,
            config: self.config.clone(),
            pipelines: HashMap::new(),
        };
        server.attach_scaler(scaler, workers);
        Ok(server)
    }
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn apply(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<Applied> {
        let mut servers = self.servers.lock().await;
        if let Some(running) = servers.get(&workspace.id) {
            let current = running.holds_secret(secret);
            if current && running.healthy().await {
                running.set_quota(crate::plans::PlanQuota::of(&workspace.plan));
                return Ok(Applied::running(running.endpoint.clone()));
            }
            if current {
                tracing::warn!(workspace = %workspace.id, "workspace server is gone or not answering; starting a new one");
            } else {
                tracing::info!(workspace = %workspace.id, "the service secret changed; restarting the workspace server");
            }
            if let Some(old) = servers.remove(&workspace.id) {
                old.stop().await;
            }
        }
        let server = self.start(workspace, secret).await?;
        let endpoint = server.endpoint.clone();
        servers.insert(workspace.id, server);
        Ok(Applied::running(endpoint))
    }

    async fn teardown(&self, workspace: &DesiredWorkspace) -> Result<Teardown> {
        let server = self.servers.lock().await.remove(&workspace.id);
        if let Some(server) = server {
            server.stop().await;
        }
        Ok(Teardown::Done)
    }

    async fn free_data(&self, workspace: &DesiredWorkspace) -> Result<()> {
        if let DatabaseUrl::Postgres(_) = self.config.database {
            data::drop_postgres_schema(&self.db, workspace.id).await?;
        }
        let dir = self.workspace_dir(workspace.id);
        // A workspace directory can be large: remove it off the runtime.
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(ProvisionerError::retryable(
                    "StorageError",
                    format!("cannot remove {}: {error}", dir.display()),
                ));
            }
        }
        data::delete_objects(&self.store, &data::local_object_prefix(workspace.id)).await
    }

    async fn shutdown(&self) {
        let servers: Vec<ServerProcess> = self.servers.lock().await.drain().map(|(_, server)| server).collect();
        futures::future::join_all(servers.into_iter().map(ServerProcess::stop)).await;
    }

    fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }
}

#[cfg(test)]
mod runner_tests {
    use super::*;

    #[test]
    fn workers_run_containers_where_a_runtime_is_configured_and_namespaces_otherwise() {
        let args = |runner: &LocalRunner| {
            runner.worker_args().into_iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        assert_eq!(args(&LocalRunner::Namespace), ["--isolation", "namespace"]);
        assert_eq!(LocalRunner::Namespace.pin_images(), None, "the process runner ignores images");
        let containers = LocalRunner::Container(ContainerRunner {
            engine: PathBuf::from("podman"),
            containers_conf: Some(PathBuf::from("containers.conf")),
            helper: None,
            insecure_registries: vec!["127.0.0.1:5055".to_owned(), "127.0.0.1:5056".to_owned()],
        });
        assert_eq!(
            args(&containers),
            [
                "--runner",
                "container",
                "--container-engine",
                "podman",
                "--containers-conf",
                "containers.conf",
                "--insecure-registries",
                "127.0.0.1:5055,127.0.0.1:5056"
            ]
        );
        let pin = containers.pin_images().expect("jobs pin their image");
        assert_eq!(pin.plain_http_registries, ["127.0.0.1:5055", "127.0.0.1:5056"]);
    }
}
