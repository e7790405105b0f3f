//! `strata provisioner run`, the local provisioner inside `strata dev`, and
//! the hidden `strata __workspace-server` the local backend starts.

use std::sync::Arc;

use anyhow::Context as _;
use strata_api::Application;
use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
use strata_provisioner::autoscaler::PolicyConfig;
use strata_provisioner::config::CredentialsMode;
use strata_provisioner::kubernetes::identity::{PodIdentity, PodIdentitySettings, WorkspaceCredentials};
use strata_provisioner::kubernetes::render::Cluster;
use strata_provisioner::{
    KubernetesBackend, KubernetesConfig, LocalBackend, LocalConfig, ProvisionerMetrics, Reconciler, ReconcilerConfig,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{ProvisionerBackend, ServerArgs};
use crate::config::{StrataConfig, StrataSettings};
use crate::failure::{Failure, internal};
use crate::output::say;

/// Server settings from the config file, `STRATA_*` and the flags.
pub(crate) fn settings(args: &ServerArgs, listen: Option<&str>) -> Result<StrataSettings, Failure> {
    Ok(StrataConfig::load(args, listen)?.resolve()?)
}

fn local_config(settings: &StrataSettings) -> Result<LocalConfig, Failure> {
    let binary = std::env::current_exe().context("cannot find the strata executable").map_err(internal)?;
    let server = &settings.app.server;
    Ok(LocalConfig {
        binary,
        data_dir: server.data_dir.clone(),
        database: server.database.clone(),
        object_store: server.object_store.clone(),
        redis_url: server.redis.as_ref().map(|url| url.expose().to_owned()),
        task_lease: settings.app.pps.lease,
        master_keys: Some(settings.app.hub.master_key.load()?),
        runner: local_runner(settings),
        policy: policy_config(settings),
        idle_sleep: settings.provisioner.idle_sleep,
        autoscale_every: std::time::Duration::from_millis(500),
        start_timeout: std::time::Duration::from_secs(20),
    })
}

/// Provisioned workspaces run their pipelines in containers where the
/// installation has a container runner; without one, in namespaces only if
/// the operator set `insecure_workspaces_without_containers`, else their
/// datums fail saying what to install.
fn local_runner(settings: &StrataSettings) -> strata_provisioner::LocalRunner {
    let sandbox = &settings.app.sandbox;
    match &sandbox.containers {
        Some(containers) => strata_provisioner::LocalRunner::Container(strata_provisioner::ContainerRunner {
            engine: containers.engine.clone(),
            containers_conf: containers.conf.clone(),
            helper: containers.helper.clone(),
            insecure_registries: containers.insecure_registries.clone(),
        }),
        None if sandbox.insecure_workspaces_without_containers => {
            tracing::warn!(
                "insecure_workspaces_without_containers is set: hub workspaces run tenant code as processes on this machine"
            );
            strata_provisioner::LocalRunner::Namespace
        }
        None => strata_provisioner::LocalRunner::Refused(format!(
            "workspaces made through the hub run pipelines only in containers, and this installation has no \
             container runner ({}); install podman and runc (scripts/containers.sh does) and set \
             runner = \"container\", or, knowing tenant code then shares this machine, set \
             insecure_workspaces_without_containers = true",
            sandbox.runner_fallback.as_deref().unwrap_or("runner = \"process\"")
        )),
    }
}

/// With `kubernetes_workspace_credentials = "shared-keys"`: the object-store
/// settings forwarded from the provisioner's environment into every workspace's
/// Secret.
const FORWARDED_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT",
    "AWS_ALLOW_HTTP",
    "GOOGLE_SERVICE_ACCOUNT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
];

/// The in-cluster service account, or KUBECONFIG outside a cluster.
async fn kube_client() -> Result<kube::Client, Failure> {
    kube::Client::try_default().await.map_err(|error| {
        Failure::User(anyhow::anyhow!(
            "cannot reach Kubernetes ({error}); run the provisioner inside the cluster or point KUBECONFIG at it"
        ))
    })
}

fn kubernetes_config(settings: &StrataSettings) -> Result<KubernetesConfig, Failure> {
    let user = |message: &str| Failure::User(anyhow::anyhow!("{message}"));
    let server = &settings.app.server;
    let DatabaseUrl::Postgres(database) = &server.database else {
        return Err(user(
            "the Kubernetes backend keeps each workspace's metadata in a PostgreSQL schema: \
             set database_url to a postgres:// URL that pods can reach",
        ));
    };
    if matches!(server.object_store, ObjectStoreUrl::Local(_)) {
        return Err(user(
            "pods cannot see this machine's directories: set object_store_url to an s3://, gs:// or az:// bucket",
        ));
    }
    let kubernetes = &settings.provisioner.kubernetes;
    if kubernetes.egress.is_empty() {
        return Err(user(
            "workspace servers may only connect where kubernetes_egress allows: set it to the CIDRs and ports \
             of the database, Redis and object store, e.g. STRATA_KUBERNETES_EGRESS='10.0.0.0/16:5432,6379;0.0.0.0/0:443'",
        ));
    }
    let request_timeout = std::time::Duration::from_secs(10);
    let credentials = workspace_credentials(&server.object_store, &kubernetes.credentials, request_timeout)?;
    let mut egress = kubernetes.egress.clone();
    if matches!(credentials, WorkspaceCredentials::PodIdentity(_)) {
        egress.push(strata_provisioner::kubernetes::identity::agent_egress());
    }
    Ok(KubernetesConfig {
        cluster: Cluster {
            image: kubernetes.image.clone(),
            hub_namespace: kubernetes.hub_namespace.clone(),
            egress,
            placeholder_pods: kubernetes.placeholder_pods,
            telemetry_env: Cluster::telemetry_from_env(),
        },
        database: database.clone(),
        object_store: server.object_store.clone(),
        credentials,
        redis_url: server.redis.as_ref().map(|url| url.expose().to_owned()),
        task_lease: settings.app.pps.lease,
        // Set once the master keys are read, after the cluster settings are checked.
        master_keys: None,
        request_timeout,
        policy: policy_config(settings),
        idle_sleep: settings.provisioner.idle_sleep,
        autoscale_every: std::time::Duration::from_millis(500),
        autoscale: true,
        placeholder_max: kubernetes.placeholder_max,
        placeholder_window: kubernetes.placeholder_window,
    })
}

/// How workspace servers get object-store credentials: an EKS Pod Identity
/// client signing with the provisioner's own AWS identity, or (chosen
/// explicitly) the provisioner's keys copied into every workspace.
fn workspace_credentials(
    store: &ObjectStoreUrl,
    mode: &CredentialsMode,
    timeout: std::time::Duration,
) -> Result<WorkspaceCredentials, Failure> {
    let user = |message: String| Failure::User(anyhow::anyhow!("{message}"));
    let CredentialsMode::PodIdentity { cluster, region, role_arn, endpoint } = mode else {
        tracing::warn!(
            "kubernetes_workspace_credentials = \"shared-keys\": every workspace gets the provisioner's \
             object-store keys and can read every other workspace's objects"
        );
        let env = FORWARDED_ENV
            .iter()
            .filter_map(|key| std::env::var(key).ok().map(|value| ((*key).to_owned(), value)))
            .collect();
        return Ok(WorkspaceCredentials::SharedKeys(env));
    };
    let ObjectStoreUrl::Cloud(url) = store else {
        return Err(user("EKS Pod Identity needs an s3:// object_store_url".to_owned()));
    };
    if url.scheme() != "s3" || !url.path().trim_matches('/').is_empty() {
        return Err(user(format!(
            "with EKS Pod Identity the workspace role allows s3://BUCKET/ws/<namespace>/, so object_store_url must \
             be a bucket without a prefix (s3://BUCKET), not {url}; on GCS or Azure set \
             kubernetes_workspace_credentials = \"shared-keys\" (docs/provisioning.md)"
        )));
    }
    let missing: Vec<&str> = [
        ("kubernetes_eks_cluster", cluster.is_empty()),
        ("kubernetes_eks_region (or AWS_REGION)", region.is_empty()),
        ("kubernetes_workspace_role_arn", !role_arn.starts_with("arn:")),
    ]
    .into_iter()
    .filter_map(|(key, missing)| missing.then_some(key))
    .collect();
    if !missing.is_empty() {
        return Err(user(format!(
            "workspace servers get object-store credentials through EKS Pod Identity: set {} (terraform outputs \
             cluster_name, region and workspace_role_arn), or, knowing every workspace then holds the \
             provisioner's keys, set kubernetes_workspace_credentials = \"shared-keys\"",
            missing.join(", ")
        )));
    }
    let settings = PodIdentitySettings {
        cluster: cluster.clone(),
        region: region.clone(),
        role_arn: role_arn.clone(),
        endpoint: endpoint.clone(),
    };
    let identity =
        PodIdentity::with_own_credentials(settings, url.as_str(), timeout).map_err(|e| user(e.to_string()))?;
    Ok(WorkspaceCredentials::PodIdentity(identity))
}

fn policy_config(settings: &StrataSettings) -> PolicyConfig {
    PolicyConfig {
        datums_per_worker: settings.provisioner.datums_per_worker,
        cooldown: settings.provisioner.scale_down_cooldown,
    }
}

fn reconciler_config(settings: &StrataSettings) -> ReconcilerConfig {
    ReconcilerConfig { deletion_grace: settings.provisioner.deletion_grace, ..ReconcilerConfig::default() }
}

/// Starts the local provisioner beside `strata dev`'s server.
pub(crate) fn start_local(
    settings: &StrataSettings,
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
    let server = &settings.app.server;
    let _logging = strata_core::telemetry::init_logging(&server.log, "strata-provisioner")?;
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    // Settings the cluster needs are checked before anything connects.
    let kubernetes = match backend {
        ProvisionerBackend::Kubernetes => Some((kubernetes_config(&settings)?, kube_client().await?)),
        ProvisionerBackend::Local => None,
    };
    if server.needs_data_dir() {
        strata_core::config::prepare_data_dir(&server.data_dir)?;
    }
    let master_keys = settings.app.hub.master_key.load()?;
    let db = strata_core::db::connect(&server.database).await?;
    let mailer = Arc::new(strata_hub::OutboxMailer::new(server.data_dir.join("outbox")));
    let hub = strata_hub::Hub::open(db.clone(), mailer, strata_hub::HubSettings::new(master_keys.clone()))
        .await
        .map_err(|error| if error.is_configuration_error() { crate::failure::user(error) } else { internal(error) })?;
    let store = strata_core::store::open(&server.object_store)?;
    let metrics = ProvisionerMetrics::disabled();
    let backend: Arc<dyn strata_provisioner::Backend> = match kubernetes {
        None => Arc::new(LocalBackend::new(local_config(&settings)?, db, store, hub.clone(), metrics.clone())),
        Some((config, client)) => {
            let config = KubernetesConfig { master_keys: Some(master_keys), ..config };
            Arc::new(KubernetesBackend::new(client, config, db, store, hub.clone(), metrics.clone()))
        }
    };
    tracing::info!(backend = backend.name(), database = %server.database.redacted(), "provisioner starting");
    Reconciler::new(hub, backend, reconciler_config(&settings), metrics).run(stop).await;
    Ok(())
}

/// `strata __workspace-server`: see `strata_api::workspace_server`.
pub async fn workspace_server(config_file: Option<&std::path::Path>) -> Result<(), Failure> {
    let logging = strata_core::config::LogSettings {
        format: strata_core::config::LogFormat::Pretty,
        filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
    };
    let _logging = strata_core::telemetry::init_logging(&logging, "strata-workspace")?;
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
