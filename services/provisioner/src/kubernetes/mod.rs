//! The Kubernetes backend: every workspace is a namespace `ws-<id>` with
//! its quota, network policies, Secret, workspace server and one worker
//! Deployment per pipeline ([`render`] has the objects).
//!
//! * Server-side apply only, with field manager `strata-provisioner` and
//!   `force` (the provisioner owns these objects; no read-modify-write).
//! * A no-op reconcile writes nothing: each applied object carries the hash
//!   of what was rendered, and one list per kind tells which objects are
//!   missing or differ. Objects the provisioner made that are no longer
//!   rendered are deleted.
//! * Deleting goes in order: worker Deployments, the server, then the
//!   namespace, and reports `Waiting` until the namespace is gone.
//! * Every API call has a timeout; failures map to retryable conditions
//!   (conflicts, 5xx, timeouts, a quota refusal) or, for an object the
//!   server finds invalid, to a permanent one.

pub mod hub;
pub mod identity;
mod placeholders;
pub mod render;
mod workers;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use strata_core::id::WorkspaceId;
use strata_core::workspace_credentials::CredentialIssuer;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use strata_core::config::{ObjectStoreUrl, SecretUrl};
use strata_core::store::DynObjectStore;
use strata_hub::{DesiredWorkspace, Hub};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::autoscaler::PolicyConfig;
use crate::backend::{Applied, Backend, Teardown};
use crate::data;
use crate::error::{ProvisionerError, Result};
use crate::metrics::ProvisionerMetrics;
use crate::plans::PlanQuota;
use crate::scaling::Scaler;
use identity::WorkspaceCredentials;
use placeholders::{Demand, PlaceholderPlan, Placeholders};
use render::{APPLIED_HASH, COMPONENT_LABEL, Cluster, MANAGER, Size, WorkspaceObjects};

/// Clusters pull over HTTPS only, so does the server that pins.
static PIN_OVER_HTTPS: strata_core::workspace_server::PinImages =
    strata_core::workspace_server::PinImages { plain_http_registries: Vec::new() };

/// How the Kubernetes backend runs workspaces.
#[derive(Debug, Clone)]
pub struct KubernetesConfig {
    pub cluster: Cluster,
    /// The control-plane PostgreSQL: each workspace gets a schema in it.
    pub database: SecretUrl,
    /// The installation's bucket; each workspace server is given only its
    /// prefix `ws/<namespace>/` ([`identity::object_prefix`]).
    pub object_store: ObjectStoreUrl,
    /// How workspace servers get credentials for their prefix.
    pub credentials: WorkspaceCredentials,
    pub redis_url: Option<String>,
    pub task_lease: Duration,
    /// The installation's master keys: each workspace server gets secrets
    /// keys derived from them. `None`: workspaces keep no secrets.
    pub master_keys: Option<strata_core::config::MasterKeys>,
    /// The longest one API call may take.
    pub request_timeout: Duration,
    pub policy: PolicyConfig,
    /// When idle workspaces sleep (their plan's setting unless overridden).
    pub idle_sleep: crate::plans::IdleSleep,
    pub autoscale_every: Duration,
    /// Whether to run the worker autoscaler of READY workspaces (it reaches
    /// their servers by cluster DNS, so only inside the cluster), and with
    /// it the placeholder pods that follow the queue.
    pub autoscale: bool,
    /// The most placeholder pods the queue's forecast may ask for (0: only
    /// `cluster.placeholder_pods`, fixed).
    pub placeholder_max: u32,
    /// How long the forecast remembers a peak of wanted workers.
    pub placeholder_window: Duration,
}

/// A kind the backend applies, with its REST coordinates as k8s-openapi
/// knows them (no hand-written groups or plurals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    /// The API verbs the backend uses on it, which are all the RBAC rules
    /// of the provisioner grant ([`hub`]). Server-side apply is `patch`,
    /// and `create` where the object does not exist yet.
    verbs: &'static [&'static str],
}

/// What the backend does with the objects it owns.
const OWNED: &[&str] = &["get", "list", "create", "patch", "delete"];

const fn kind<K: k8s_openapi::Resource>(namespaced: bool) -> Kind {
    kind_with::<K>(namespaced, OWNED)
}

const fn kind_with<K: k8s_openapi::Resource>(namespaced: bool, verbs: &'static [&'static str]) -> Kind {
    Kind { group: K::GROUP, version: K::VERSION, kind: K::KIND, plural: K::URL_PATH_SEGMENT, namespaced, verbs }
}

use k8s_openapi::api::{apps, core, networking, policy, scheduling};

pub(crate) const NAMESPACE: Kind = kind::<core::v1::Namespace>(false);
pub(crate) const DEPLOYMENT: Kind = kind::<apps::v1::Deployment>(true);
/// Pods are the Deployments' own: the backend reads them and annotates
/// which to remove first on scale-down, never creates or deletes one.
pub(crate) const POD: Kind = kind_with::<core::v1::Pod>(true, &["get", "list", "patch"]);
pub(crate) const SECRET: Kind = kind::<core::v1::Secret>(true);

/// Every kind the backend sends, by the `kind` field of its objects.
const KINDS: &[Kind] = &[
    NAMESPACE,
    kind::<core::v1::ResourceQuota>(true),
    kind::<core::v1::LimitRange>(true),
    kind::<networking::v1::NetworkPolicy>(true),
    kind::<core::v1::ServiceAccount>(true),
    kind::<core::v1::Secret>(true),
    kind::<core::v1::Service>(true),
    kind::<policy::v1::PodDisruptionBudget>(true),
    DEPLOYMENT,
    POD,
    kind::<scheduling::v1::PriorityClass>(false),
];

fn kind_of(object: &Value) -> Result<Kind> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    KINDS
        .iter()
        .find(|k| k.kind == kind)
        .copied()
        .ok_or_else(|| ProvisionerError::Config(format!("no API for kind {kind:?}")))
}

/// Kubernetes API calls with a timeout and errors mapped to conditions.
#[derive(Clone)]
pub(crate) struct KubeApi {
    client: kube::Client,
    timeout: Duration,
}

impl std::fmt::Debug for KubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApi").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl KubeApi {
    fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(kind.group, kind.version, kind.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural);
        match namespace {
            Some(namespace) if kind.namespaced => Api::namespaced_with(self.client.clone(), namespace, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        }
    }

    async fn call<T>(&self, what: String, call: impl Future<Output = kube::Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(api_error(&what, &error)),
            Err(_) => Err(ProvisionerError::retryable(
                "ApiTimeout",
                format!("{what}: the Kubernetes API did not answer within {:?}", self.timeout),
            )),
        }
    }

    async fn get(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Result<Option<Value>> {
        let api = self.api(kind, namespace);
        let found = self.call(format!("get {} {name}", kind.kind), api.get_opt(name)).await?;
        Ok(found.map(to_value))
    }

    async fn list(&self, kind: Kind, namespace: &str, selector: &str) -> Result<Vec<Value>> {
        let api = self.api(kind, Some(namespace));
        let params = ListParams::default().labels(selector);
        let list = self.call(format!("list {} in {namespace}", kind.plural), api.list(&params)).await?;
        Ok(list.items.into_iter().map(to_value).collect())
    }

    /// Server-side apply of a whole object.
    async fn apply(&self, object: &Value) -> Result<Value> {
        let kind = kind_of(object)?;
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str);
        let api = self.api(kind, namespace);
        let params = PatchParams::apply(MANAGER).force();
        let applied =
            self.call(format!("apply {} {name}", kind.kind), api.patch(name, &params, &Patch::Apply(object))).await?;
        Ok(to_value(applied))
    }

    /// A JSON merge patch (annotations on pods the provisioner does not own).
    async fn merge(&self, kind: Kind, namespace: &str, name: &str, patch: &Value) -> Result<()> {
        let api = self.api(kind, Some(namespace));
        let params = PatchParams { field_manager: Some(MANAGER.to_owned()), ..PatchParams::default() };
        self.call(format!("patch {} {name}", kind.kind), api.patch(name, &params, &Patch::Merge(patch))).await?;
        Ok(())
    }

    /// Deletes an object; one that is already gone is fine.
    async fn delete(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Result<()> {
        let api = self.api(kind, namespace);
        match tokio::time::timeout(self.timeout, api.delete(name, &DeleteParams::background())).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(kube::Error::Api(status))) if status.code == 404 => Ok(()),
            Ok(Err(error)) => Err(api_error(&format!("delete {} {name}", kind.kind), &error)),
            Err(_) => Err(ProvisionerError::retryable("ApiTimeout", format!("delete {} {name}: no answer", kind.kind))),
        }
    }
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// An API failure as a condition reason; only an object the server finds
/// invalid is not worth retrying as it is.
fn api_error(what: &str, error: &kube::Error) -> ProvisionerError {
    let kube::Error::Api(status) = error else {
        return ProvisionerError::retryable("ApiUnreachable", format!("{what}: {error}"));
    };
    let message = format!("{what}: {} ({} {})", status.message, status.code, status.reason);
    match status.code {
        422 => ProvisionerError::permanent("InvalidObject", message),
        409 => ProvisionerError::retryable("ApiConflict", message),
        403 if status.message.contains("quota") => ProvisionerError::retryable("QuotaExceeded", message),
        403 => ProvisionerError::retryable("Forbidden", message),
        429 => ProvisionerError::retryable("ApiThrottled", message),
        _ => ProvisionerError::retryable("ApiError", message),
    }
}

pub(crate) fn hash_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/annotations").and_then(|a| a.get(APPLIED_HASH)).and_then(Value::as_str)
}

fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

/// The autoscaler of one READY workspace.
#[derive(Debug)]
struct RunningScaler {
    stop: CancellationToken,
    task: JoinHandle<()>,
    quota: tokio::sync::watch::Sender<PlanQuota>,
    /// The digest of the secret its client presents.
    secret_digest: String,
}

/// The backend.
#[derive(Debug)]
pub struct KubernetesBackend {
    api: KubeApi,
    config: KubernetesConfig,
    db: DatabaseConnection,
    store: DynObjectStore,
    hub: Hub,
    metrics: ProvisionerMetrics,
    /// The hash of the cluster-wide objects once applied.
    cluster_applied: Mutex<Option<String>>,
    /// Workspaces whose PostgreSQL schema this process has created (or
    /// found), so a resync does not repeat the DDL.
    schemas: Mutex<HashSet<WorkspaceId>>,
    scalers: Mutex<HashMap<WorkspaceId, RunningScaler>>,
    /// What every workspace's workers want, for the placeholder pods.
    demand: Demand,
    /// The loop sizing the placeholder pods, once started.
    placeholders: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
    changes: Arc<Notify>,
}

impl KubernetesBackend {
    pub fn new(
        client: kube::Client,
        config: KubernetesConfig,
        db: DatabaseConnection,
        store: DynObjectStore,
        hub: Hub,
        metrics: ProvisionerMetrics,
    ) -> Self {
        let api = KubeApi { client, timeout: config.request_timeout };
        KubernetesBackend {
            api,
            config,
            db,
            store,
            hub,
            metrics,
            cluster_applied: Mutex::new(None),
            schemas: Mutex::default(),
            scalers: Mutex::default(),
            demand: Demand::new(placeholder_slot()),
            placeholders: Mutex::default(),
            changes: Arc::default(),
        }
    }

    /// The objects of a workspace as this backend would apply them.
    pub fn render(&self, workspace: &DesiredWorkspace, secret: &str, database_url: String) -> Result<Vec<Value>> {
        let shared = data::Shared {
            object_store: &self.config.object_store,
            redis_url: self.config.redis_url.as_deref(),
            task_lease: self.config.task_lease,
            master_keys: self.config.master_keys.as_ref(),
            // Each job records its image's digest, and the worker pods run
            // that digest; the server needs egress to the registries over
            // HTTPS for it (`kubernetes_egress`, docs/provisioning.md).
            pin_images: Some(&PIN_OVER_HTTPS),
        };
        let all_interfaces = std::net::SocketAddr::from(([0, 0, 0, 0], render::SERVER_PORT));
        let prefix = identity::object_prefix(&render::namespace_of(workspace.id));
        let server_config = data::server_config(workspace, database_url, all_interfaces, secret, &prefix, shared);
        let server_config =
            serde_json::to_string(&server_config).map_err(|e| ProvisionerError::Config(e.to_string()))?;
        let objects = WorkspaceObjects {
            cluster: &self.config.cluster,
            workspace,
            quota: PlanQuota::of(&workspace.plan),
            server_config,
            service_secret: secret,
            server_env: &self.config.credentials.server_env(),
        };
        Ok(objects.render().into_iter().map(render::with_hash).collect())
    }

    /// [`Self::render`] with the workspace's own schema of the database.
    fn objects_of(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<Vec<Value>> {
        self.render(workspace, secret, data::schema_url(&self.config.database, workspace.id))
    }

    /// Deletes the worker Deployments of `namespace` (their pods go with them).
    async fn delete_workers(&self, namespace: &str) -> Result<()> {
        let workers = format!("{COMPONENT_LABEL}=worker");
        for worker in self.api.list(DEPLOYMENT, namespace, &workers).await? {
            self.api.delete(DEPLOYMENT, Some(namespace), name_of(&worker)).await?;
        }
        Ok(())
    }

    async fn ensure_schema(&self, id: WorkspaceId) -> Result<()> {
        let mut schemas = self.schemas.lock().await;
        if !schemas.contains(&id) {
            data::create_postgres_schema(&self.db, id).await?;
            schemas.insert(id);
        }
        Ok(())
    }

    /// The PriorityClass and placeholder pods, applied once per process
    /// (and again if what they render changes).
    async fn ensure_cluster_objects(&self) -> Result<()> {
        let objects: Vec<Value> = render::cluster_objects(&self.config.cluster, placeholder_slot())
            .into_iter()
            .map(render::with_hash)
            .collect();
        let hash = render::applied_hash(&Value::Array(objects.clone()));
        let mut applied = self.cluster_applied.lock().await;
        if applied.as_deref() == Some(hash.as_str()) {
            return Ok(());
        }
        for object in &objects {
            let kind = kind_of(object)?;
            let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str);
            let current = self.api.get(kind, namespace, name_of(object)).await?;
            if current.as_ref().and_then(hash_of) != hash_of(object) {
                self.api.apply(object).await?;
            }
        }
        *applied = Some(hash);
        self.start_placeholders().await;
        Ok(())
    }

    /// Starts the loop that sizes the placeholder pods from the queue's
    /// forecast, once, where the autoscaler runs.
    async fn start_placeholders(&self) {
        let mut running = self.placeholders.lock().await;
        if running.is_some() || !self.config.autoscale || self.config.placeholder_max == 0 {
            return;
        }
        let floor = self.config.cluster.placeholder_pods;
        let placeholders = Placeholders {
            api: self.api.clone(),
            cluster: self.config.cluster.clone(),
            slot: placeholder_slot(),
            // What ensure_cluster_objects has just applied.
            applied: Some(floor),
        };
        let plan = PlaceholderPlan::new(floor, self.config.placeholder_max, self.config.placeholder_window);
        let stop = CancellationToken::new();
        let task = placeholders.run(self.demand.clone(), plan, self.config.autoscale_every, stop.clone());
        *running = Some((stop, tokio::spawn(task)));
    }

    /// Applies what is missing or differs and deletes what is no longer
    /// rendered; returns the server Deployment as the API server has it.
    async fn sync(&self, id: WorkspaceId, objects: &[Value]) -> Result<Option<Value>> {
        let namespace = render::namespace_of(id);
        let existing_namespace = self.api.get(NAMESPACE, None, &namespace).await?;
        let fresh = existing_namespace.is_none();
        let mut existing: HashMap<(Kind, String), Value> = HashMap::new();
        if let Some(found) = existing_namespace {
            existing.insert((NAMESPACE, namespace.clone()), found);
        }
        let selector = format!("app.kubernetes.io/managed-by={MANAGER},{COMPONENT_LABEL}!=worker");
        let mut kinds: Vec<Kind> = Vec::new();
        for object in objects {
            let kind = kind_of(object)?;
            if kind.namespaced && !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if !fresh {
            // A namespace created now holds nothing: no need to look.
            for kind in kinds {
                for found in self.api.list(kind, &namespace, &selector).await? {
                    existing.insert((kind, name_of(&found).to_owned()), found);
                }
            }
        }
        let mut server = None;
        for object in objects {
            let kind = kind_of(object)?;
            let key = (kind, name_of(object).to_owned());
            let current = existing.remove(&key);
            let seen = match current {
                Some(current) if hash_of(&current) == hash_of(object) => current,
                _ => self.api.apply(object).await?,
            };
            if kind == DEPLOYMENT && name_of(object) == "server" {
                server = Some(seen);
            }
        }
        for ((kind, name), _) in existing {
            if kind != NAMESPACE {
                tracing::info!(workspace = %id, kind = kind.kind, name, "deleting an object no longer rendered");
                self.api.delete(kind, Some(&namespace), &name).await?;
            }
        }
        Ok(server)
    }

    async fn start_scaler(&self, workspace: &DesiredWorkspace, secret: &str, endpoint: &str) -> Result<()> {
        let mut scalers = self.scalers.lock().await;
        let quota = PlanQuota::of(&workspace.plan);
        let secret_digest = render::secret_digest(secret);
        if let Some(running) = scalers.get(&workspace.id).filter(|s| !s.task.is_finished()) {
            if running.secret_digest == secret_digest {
                running.quota.send_replace(quota);
                return Ok(());
            }
            // A rotated secret: the old client would be refused, and the
            // workers it renders must roll to the new secret.
            if let Some(old) = scalers.remove(&workspace.id) {
                old.stop.cancel();
                let _ = old.task.await;
            }
        }
        if !self.config.autoscale {
            return Ok(());
        }
        let credentials = CredentialIssuer::new(secret, &workspace.slug);
        let client = strata_client::StrataClient::new(endpoint)
            .map_err(|e| ProvisionerError::Config(e.to_string()))?
            .with_token(credentials.load_reader())
            .workspace(&workspace.slug);
        let (quota_sender, quota_updates) = tokio::sync::watch::channel(quota);
        let scaler = Scaler {
            workspace_id: workspace.id,
            label: format!("{}/{}", workspace.org_slug, workspace.slug),
            client,
            every: self.config.autoscale_every,
            policy: self.config.policy,
            quota: quota_updates,
            hub: self.hub.clone(),
            metrics: self.metrics.clone(),
            idle_sleep: self.config.idle_sleep,
        };
        let secrets_client = strata_client::StrataClient::new(endpoint)
            .map_err(|e| ProvisionerError::Config(e.to_string()))?
            .with_token(credentials.pod_secrets_reader())
            .workspace(&workspace.slug);
        let workers = workers::KubeWorkers::new(
            self.api.clone(),
            self.config.cluster.clone(),
            workspace,
            quota,
            credentials,
            secret_digest.clone(),
            secrets_client,
        )
        .reporting_to(self.demand.clone());
        let stop = CancellationToken::new();
        let task = tokio::spawn(scaler.run(workers, stop.clone()));
        scalers.insert(workspace.id, RunningScaler { stop, task, quota: quota_sender, secret_digest });
        Ok(())
    }

    async fn stop_scaler(&self, id: WorkspaceId) {
        self.demand.forget_workspace(id);
        let running = self.scalers.lock().await.remove(&id);
        if let Some(running) = running {
            running.stop.cancel();
            let _ = running.task.await;
        }
    }
}

/// One placeholder pod: a team-plan worker.
fn placeholder_slot() -> Size {
    let team = PlanQuota::built_in("team");
    Size { cpu_millis: team.worker_cpu_millis, memory_mib: team.worker_memory_mib }
}

/// Why the server is not serving yet, if it is not.
fn server_waiting(server: Option<&Value>) -> Option<String> {
    let Some(server) = server else {
        return Some("the workspace server Deployment is not there yet".to_owned());
    };
    let number = |pointer: &str| server.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    let current = number("/status/observedGeneration") >= number("/metadata/generation");
    let available = number("/status/availableReplicas");
    (!current || available < 1).then(|| format!("the workspace server pod is starting ({available} of 1 available)"))
}

#[async_trait::async_trait]
impl Backend for KubernetesBackend {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn apply(&self, workspace: &DesiredWorkspace, secret: &str) -> Result<Applied> {
        self.ensure_cluster_objects().await?;
        self.ensure_schema(workspace.id).await?;
        let server = self.sync(workspace.id, &self.objects_of(workspace, secret)?).await?;
        if let WorkspaceCredentials::PodIdentity(identity) = &self.config.credentials {
            identity.associate(&render::namespace_of(workspace.id), workspace.id).await?;
        }
        let endpoint = render::endpoint_of(workspace.id);
        if let Some(waiting) = server_waiting(server.as_ref()) {
            return Ok(Applied { endpoint, notes: Vec::new(), waiting: Some(waiting) });
        }
        self.start_scaler(workspace, secret, &endpoint).await?;
        Ok(Applied::running(endpoint))
    }

    async fn teardown(&self, workspace: &DesiredWorkspace) -> Result<Teardown> {
        self.stop_scaler(workspace.id).await;
        let namespace = render::namespace_of(workspace.id);
        if let WorkspaceCredentials::PodIdentity(identity) = &self.config.credentials {
            identity.dissociate(&namespace).await?;
        }
        let Some(found) = self.api.get(NAMESPACE, None, &namespace).await? else {
            return Ok(Teardown::Done);
        };
        if found.pointer("/metadata/deletionTimestamp").is_none() {
            self.delete_workers(&namespace).await?;
            self.api.delete(DEPLOYMENT, Some(&namespace), "server").await?;
            self.api.delete(NAMESPACE, None, &namespace).await?;
        }
        match self.api.get(NAMESPACE, None, &namespace).await? {
            None => Ok(Teardown::Done),
            Some(_) => Ok(Teardown::Waiting(format!("namespace {namespace} is terminating"))),
        }
    }

    /// Scales the server to zero and deletes the worker Deployments; the
    /// namespace, its policies, Secrets and the pod identity stay, so waking
    /// is one scale-up. The server is rendered at zero replicas (not
    /// patched), so the wake's render differs and is applied.
    async fn sleep(&self, workspace: &DesiredWorkspace) -> Result<Teardown> {
        self.stop_scaler(workspace.id).await;
        let namespace = render::namespace_of(workspace.id);
        if self.api.get(NAMESPACE, None, &namespace).await?.is_none() {
            return Ok(Teardown::Done);
        }
        self.delete_workers(&namespace).await?;
        let secret = self.hub.ensure_service_secret(workspace.id).await?;
        let server = self.sync(workspace.id, &self.objects_of(workspace, &secret)?).await?;
        let running = server.as_ref().and_then(|s| s.pointer("/status/replicas")).and_then(Value::as_i64).unwrap_or(0);
        match running {
            0 => Ok(Teardown::Done),
            n => Ok(Teardown::Waiting(format!("the workspace server is stopping ({n} pod left)"))),
        }
    }

    async fn free_data(&self, workspace: &DesiredWorkspace) -> Result<()> {
        self.schemas.lock().await.remove(&workspace.id);
        data::drop_postgres_schema(&self.db, workspace.id).await?;
        data::delete_objects(&self.store, &identity::object_prefix(&render::namespace_of(workspace.id))).await
    }

    async fn shutdown(&self) {
        if let Some((stop, task)) = self.placeholders.lock().await.take() {
            stop.cancel();
            let _ = task.await;
        }
        let running: Vec<RunningScaler> = self.scalers.lock().await.drain().map(|(_, s)| s).collect();
        for scaler in running {
            scaler.stop.cancel();
            let _ = scaler.task.await;
        }
    }

    fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }
}
