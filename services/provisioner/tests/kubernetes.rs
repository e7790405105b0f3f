//! The Kubernetes backend against the in-memory API server (kube-fake),
//! which validates every object it is sent against the Kubernetes 1.37
//! schemas, and a real hub on PostgreSQL (workspaces get schemas there).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod common;
mod eks_fake;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use eks_fake::EksFake;
use object_store::aws::AwsCredential;
use serde_json::{Value, json};
use strata_core::config::{DatabaseUrl, ObjectStoreUrl, SecretUrl};
use strata_hub::{ConditionType, Hub, HubSettings, NewWorkspace, OutboxMailer, Principal, WorkspaceState};
use strata_kube_fake::{Effect, FakeApiServer, Fault, Verb};
use strata_provisioner::kubernetes::hub::to_yaml;
use strata_provisioner::kubernetes::identity::{PodIdentity, PodIdentitySettings, WorkspaceCredentials};
use strata_provisioner::kubernetes::render::{self, Cluster, Egress};
use strata_provisioner::{
    Backend, KubernetesBackend, KubernetesConfig, ProvisionerMetrics, Reconciler, ReconcilerConfig,
};
use strata_testkit::{Backend as Db, TestDatabase};

use crate::common::ManualClock;

struct Fixture {
    hub: Hub,
    admin: Principal,
    fake: FakeApiServer,
    database_url: String,
    db: sea_orm::DatabaseConnection,
    dir: tempfile::TempDir,
    /// The reconcilers' time, moved on by the tests.
    clock: Arc<ManualClock>,
    /// EKS, where the backend associates the workspace role with each namespace.
    eks: EksFake,
    _database: TestDatabase,
}

const WORKSPACE_ROLE: &str = "arn:aws:iam::111122223333:role/strata-workspace";

fn cluster() -> Cluster {
    Cluster {
        image: "ghcr.io/strata-dev/strata:0.1.0".into(),
        hub_namespace: "strata".into(),
        egress: vec![Egress { cidr: "10.0.0.0/8".into(), ports: vec![5432, 6379, 443] }],
        placeholder_pods: 2,
        telemetry_env: Default::default(),
    }
}

/// The operator lets the local organisation use every plan and hold the
/// workspaces these tests make (`org_plans`).
fn operator_settings() -> HubSettings {
    let org_plans = strata_hub::plans::OrgPlans::new(
        &strata_hub::plans::Catalogue::built_in(),
        &[(strata_hub::LOCAL_ORG.to_owned(), "enterprise".to_owned())],
    );
    HubSettings { org_plans: org_plans.unwrap(), ..HubSettings::new(strata_core::config::MasterKeys::generate()) }
}

async fn fixture(fake: FakeApiServer) -> Fixture {
    // The hub's own namespace exists before any workspace.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(fake.client());
    let hub_namespace = serde_json::from_value(json!({"metadata": {"name": "strata"}})).unwrap();
    namespaces.create(&kube::api::PostParams::default(), &hub_namespace).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Db::Postgres, dir.path()).await;
    let db = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    let mailer = Arc::new(OutboxMailer::new(dir.path().join("outbox")));
    let hub = Hub::open(db.clone(), mailer, operator_settings()).await.unwrap();
    hub.ensure_hosted_workspace(strata_hub::LOCAL_ORG, "default", "http://127.0.0.1:1").await.unwrap();
    let token = hub.local_admin_token("tests").await.unwrap();
    let admin = hub.authenticate(&token.secret).await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let eks = EksFake::start().await;
    Fixture { hub, admin, fake, database_url: database.url(), db, dir, clock, eks, _database: database }
}

fn postgres(url: &str) -> SecretUrl {
    match DatabaseUrl::parse(url).unwrap() {
        DatabaseUrl::Postgres(url) => url,
        DatabaseUrl::Sqlite(path) => panic!("the Kubernetes backend needs PostgreSQL, not {}", path.display()),
    }
}

fn reconciler_config() -> ReconcilerConfig {
    ReconcilerConfig {
        poll: Duration::from_millis(20),
        resync: Duration::from_secs(3600),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(100),
        ..ReconcilerConfig::default()
    }
}

impl Fixture {
    /// EKS Pod Identity against the fake, signing with the test key.
    fn pod_identity(&self, cluster: &str) -> WorkspaceCredentials {
        let settings = PodIdentitySettings {
            cluster: cluster.into(),
            region: eks_fake::REGION.into(),
            role_arn: WORKSPACE_ROLE.into(),
            endpoint: Some(self.eks.endpoint.clone()),
        };
        let key = AwsCredential { key_id: eks_fake::KEY_ID.into(), secret_key: "test-secret".into(), token: None };
        let credentials = Arc::new(object_store::StaticCredentialProvider::new(key));
        WorkspaceCredentials::PodIdentity(PodIdentity::new(settings, credentials, Duration::from_secs(5)).unwrap())
    }

    fn backend(&self) -> Arc<KubernetesBackend> {
        self.backend_with(self.pod_identity(eks_fake::CLUSTER))
    }

    fn backend_with(&self, credentials: WorkspaceCredentials) -> Arc<KubernetesBackend> {
        let config = KubernetesConfig {
            cluster: cluster(),
            database: postgres(&self.database_url),
            object_store: ObjectStoreUrl::parse("s3://strata-workspaces").unwrap(),
            credentials,
            redis_url: Some("redis://10.0.0.5:6379".into()),
            task_lease: Duration::from_secs(30),
            master_keys: None,
            request_timeout: Duration::from_millis(300),
            policy: Default::default(),
            idle_sleep: Default::default(),
            autoscale_every: Duration::from_millis(500),
            autoscale: false,
            placeholder_max: 0,
            placeholder_window: Duration::from_secs(300),
        };
        let store = strata_core::store::open(&ObjectStoreUrl::Local(self.dir.path().join("objects"))).unwrap();
        let backend = KubernetesBackend::new(
            self.fake.client(),
            config,
            self.db.clone(),
            store,
            self.hub.clone(),
            ProvisionerMetrics::disabled(),
        );
        Arc::new(backend)
    }

    fn reconciler(&self, config: ReconcilerConfig) -> Reconciler {
        Reconciler::new(self.hub.clone(), self.backend(), config, ProvisionerMetrics::disabled())
            .with_clock(self.clock.clone())
    }

    async fn create(&self, slug: &str) -> strata_hub::Workspace {
        let new = NewWorkspace { org_slug: strata_hub::LOCAL_ORG.into(), slug: slug.into(), ..Default::default() };
        self.hub.create_workspace(&self.admin, &new).await.unwrap()
    }

    /// Creates `slug` and reconciles it READY: its row, the reconciler that
    /// did it, and its namespace.
    async fn ready(&self, slug: &str) -> (strata_hub::Workspace, Reconciler, String) {
        let created = self.create(slug).await;
        let mut reconciler = self.reconciler(reconciler_config());
        reconciler.pass().await;
        assert_eq!(self.get(slug).await.state, WorkspaceState::Ready);
        let namespace = format!("ws-{}", created.id);
        (created, reconciler, namespace)
    }

    async fn get(&self, slug: &str) -> strata_hub::Workspace {
        self.hub.workspace(&self.admin, strata_hub::LOCAL_ORG, slug).await.unwrap()
    }

    /// The objects of one namespace as (kind, name).
    fn objects_in(&self, namespace: &str) -> BTreeSet<(String, String)> {
        self.fake
            .objects()
            .iter()
            .filter(|o| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace))
            .map(|o| (o["kind"].as_str().unwrap().to_owned(), o["metadata"]["name"].as_str().unwrap().to_owned()))
            .collect()
    }
}

fn condition(ws: &strata_hub::Workspace, kind: ConditionType) -> strata_hub::Condition {
    ws.conditions
        .iter()
        .find(|c| c.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} in {:?}", ws.conditions))
}

fn the_objects_of_a_workspace() -> BTreeSet<(String, String)> {
    [
        ("ResourceQuota", "workspace-quota"),
        ("LimitRange", "workspace-limits"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "allow-dns"),
        ("NetworkPolicy", "allow-server-ingress"),
        ("NetworkPolicy", "allow-worker-egress"),
        ("NetworkPolicy", "allow-server-egress"),
        ("ServiceAccount", "workspace"),
        ("ServiceAccount", "worker"),
        ("Secret", "workspace-config"),
        ("Service", "server"),
        ("PodDisruptionBudget", "workers"),
        ("Deployment", "server"),
        ("Pod", "server"),
    ]
    .iter()
    .map(|(k, n)| ((*k).to_owned(), (*n).to_owned()))
    .collect()
}

/// Pods are named by the simulated controller; compare them by prefix.
fn normalised(objects: BTreeSet<(String, String)>) -> BTreeSet<(String, String)> {
    objects
        .into_iter()
        .map(
            |(kind, name)| {
                if kind == "Pod" { (kind, name.rsplit_once('-').unwrap().0.to_owned()) } else { (kind, name) }
            },
        )
        .collect()
}

#[tokio::test]
async fn a_created_workspace_becomes_ready_as_a_namespace_of_valid_objects() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    let mut reconciler = f.reconciler(reconciler_config());
    reconciler.pass().await;

    let ready = f.get("ci").await;
    assert_eq!(ready.state, WorkspaceState::Ready, "{:?}", ready.conditions);
    let namespace = format!("ws-{}", created.id);
    assert_eq!(ready.endpoint, Some(format!("http://server.{namespace}.svc:8080")));
    assert!(f.fake.rejected().is_empty(), "the API server refused: {:?}", f.fake.rejected());
    assert_eq!(normalised(f.objects_in(&namespace)), the_objects_of_a_workspace());

    let ns = f.fake.get("v1", "Namespace", None, &namespace).unwrap();
    let labels = &ns["metadata"]["labels"];
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert_eq!(labels["strata.dev/workspace"], created.id.to_string());
    assert_eq!(labels["strata.dev/org"], strata_hub::LOCAL_ORG);
    assert_eq!(labels["strata.dev/plan"], "free");
    assert_eq!(f.fake.managers("apps/v1", "Deployment", Some(&namespace), "server"), ["strata-provisioner"]);
    assert!(f.fake.get("scheduling.k8s.io/v1", "PriorityClass", None, "strata-placeholder").is_some());
    let placeholders = f.fake.get("apps/v1", "Deployment", Some("strata"), "strata-placeholders").unwrap();
    assert_eq!(placeholders["spec"]["replicas"], 2);
    assert_eq!(placeholders["spec"]["template"]["spec"]["priorityClassName"], "strata-placeholder");
}

/// Sleep keeps the namespace (policies, Secrets, pod identity) and scales
/// the server to zero; waking is one scale-up of the same Deployment.
#[tokio::test]
async fn a_sleeping_workspace_keeps_its_namespace_with_no_pods_and_wakes_by_scaling_up() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let (created, mut reconciler, namespace) = f.ready("ci").await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(f.fake.client(), &namespace);
    let worker = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "worker-edges", "labels": {render::COMPONENT_LABEL: "worker"}},
        "spec": {"selector": {"matchLabels": {"w": "edges"}}, "template": {
            "metadata": {"labels": {"w": "edges"}}, "spec": {"containers": [{"name": "w", "image": "busybox"}]}}},
    });
    deployments.create(&kube::api::PostParams::default(), &serde_json::from_value(worker).unwrap()).await.unwrap();

    let quiet_since = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert!(f.hub.request_sleep(created.id, quiet_since).await.unwrap());
    reconciler.pass().await;
    let asleep = f.get("ci").await;
    assert_eq!(asleep.state, WorkspaceState::Sleeping, "{:?}", asleep.conditions);
    assert_eq!(condition(&asleep, ConditionType::Ready).reason, "Sleeping");
    assert_eq!(asleep.endpoint, None);
    let server = f.fake.get("apps/v1", "Deployment", Some(&namespace), "server").unwrap();
    assert_eq!((server["spec"]["replicas"].as_i64(), server["status"]["replicas"].as_i64()), (Some(0), Some(0)));
    assert!(f.fake.get("apps/v1", "Deployment", Some(&namespace), "worker-edges").is_none(), "workers go");
    // (The fake has no garbage collector: the deleted worker Deployment's pod lingers there.)
    let not_pods = |objects: BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        objects.into_iter().filter(|(kind, _)| kind != "Pod").collect()
    };
    assert_eq!(not_pods(f.objects_in(&namespace)), not_pods(the_objects_of_a_workspace()), "all but pods stay");
    assert!(!normalised(f.objects_in(&namespace)).contains(&("Pod".to_owned(), "server".to_owned())));
    assert!(f.fake.rejected().is_empty(), "the API server refused: {:?}", f.fake.rejected());

    assert!(f.hub.wake(created.id).await.unwrap());
    reconciler.pass().await;
    let awake = f.get("ci").await;
    assert_eq!(awake.state, WorkspaceState::Ready, "{:?}", awake.conditions);
    assert_eq!(awake.endpoint, Some(format!("http://server.{namespace}.svc:8080")));
    let server = f.fake.get("apps/v1", "Deployment", Some(&namespace), "server").unwrap();
    assert_eq!(server["status"]["availableReplicas"].as_i64(), Some(1));
    assert!(!f.hub.wake(created.id).await.unwrap(), "only a sleeping workspace wakes");
}

#[tokio::test]
async fn every_pod_meets_the_restricted_pod_security_profile() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    f.reconciler(reconciler_config()).pass().await;
    let namespace = format!("ws-{}", created.id);
    let server = f.fake.get("apps/v1", "Deployment", Some(&namespace), "server").unwrap();
    let pod = &server["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], false);
    for container in pod["containers"].as_array().unwrap() {
        let security = &container["securityContext"];
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
        assert!(container["resources"]["limits"]["memory"].is_string());
        assert!(container["readinessProbe"].is_object() && container["livenessProbe"].is_object());
    }
}

#[tokio::test]
async fn a_no_op_reconcile_reads_and_never_writes() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    let backend = f.backend();
    f.reconciler(reconciler_config()).pass().await;
    assert_eq!(f.get("ci").await.state, WorkspaceState::Ready);

    f.fake.clear_requests();
    let desired = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap();
    let secret = desired.service_secret.clone().unwrap();
    backend.apply(&desired, &secret).await.unwrap();
    let requests = f.fake.requests();
    let writes: Vec<_> = requests.iter().filter(|r| r.verb.is_write()).collect();
    assert!(writes.is_empty(), "a no-op wrote: {writes:?}");
    // The four cluster-wide objects (three PriorityClasses, the
    // placeholders) once per process; then one get and one list per
    // namespaced kind.
    assert!(requests.len() <= 13, "{} requests: {requests:?}", requests.len());
}

#[tokio::test]
async fn until_the_server_pod_is_available_the_workspace_is_not_ready() {
    // No deployment controller: pods never start.
    let f = fixture(FakeApiServer::new()).await;
    f.create("slow").await;
    f.reconciler(reconciler_config()).pass().await;
    let waiting = f.get("slow").await;
    assert_eq!(waiting.state, WorkspaceState::Provisioning);
    let progressing = condition(&waiting, ConditionType::Progressing);
    assert!(progressing.status && progressing.reason == "WaitingForServer", "{progressing:?}");
    assert!(progressing.message.contains("0 of 1"), "{progressing:?}");
    assert!(waiting.endpoint.is_none(), "no endpoint before the server serves");
}

/// A server that takes its time is looked at less and less often (each
/// look lists every kind of object), while a new wish, here a delete, is
/// acted on at once.
#[tokio::test]
async fn a_slow_server_is_looked_at_less_and_less_often_but_a_delete_goes_through_at_once() {
    let f = fixture(FakeApiServer::new()).await;
    let created = f.create("slow").await;
    let config = reconciler_config();
    let poll = config.poll;
    let mut reconciler = f.reconciler(config);
    // What the loop does when nothing wakes it: a pass every poll interval,
    // here on the manual clock, for 1.5 s.
    for _ in 0..75 {
        reconciler.pass().await;
        f.clock.advance(poll);
    }
    let looks = f.fake.requests().iter().filter(|r| r.verb == Verb::List && r.kind == "Deployment").count();
    // Every poll (20 ms) would be 75 looks; pauses doubling from the poll
    // interval make about 7.
    assert!((3..=12).contains(&looks), "{looks} looks in 1.5 s");
    assert_eq!(f.get("slow").await.state, WorkspaceState::Provisioning);

    f.hub.delete_workspace(&f.admin, strata_hub::LOCAL_ORG, "slow", "slow").await.unwrap();
    let mut waited = Duration::ZERO;
    loop {
        reconciler.pass().await;
        if f.hub.provisioner_workspace(created.id).await.unwrap().unwrap().state == WorkspaceState::Deleted {
            break;
        }
        assert!(waited < Duration::from_millis(600), "the delete waited for the pause");
        f.clock.advance(poll);
        waited += poll;
    }
}

/// The server of a workspace gets only its own prefix of the bucket, through
/// the workspace role EKS Pod Identity gives its namespace's account: no key
/// of the hub's is in the namespace, worker pods (tenant code) have no cloud
/// identity, and the association goes with the workspace.
#[tokio::test]
async fn workspace_servers_reach_only_their_prefix_through_pod_identity_never_the_hubs_keys() {
    use base64::Engine;
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let (created, mut reconciler, namespace) = f.ready("ci").await;

    let associations = f.eks.associations();
    assert_eq!(associations.len(), 1, "{associations:?}");
    let association = &associations[0];
    assert_eq!(
        (association.namespace.as_str(), association.service_account.as_str()),
        (namespace.as_str(), "workspace")
    );
    assert_eq!(association.role_arn, WORKSPACE_ROLE);
    assert_eq!(association.tags["strata.dev/workspace"], created.id.to_string());

    let secret = f.fake.get("v1", "Secret", Some(&namespace), "workspace-config").unwrap();
    let keys: BTreeSet<&str> = secret["data"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["service-secret", "workspace.json"]), "only the server's own settings");
    let config = base64::engine::general_purpose::STANDARD.decode(secret["data"]["workspace.json"].as_str().unwrap());
    let config: Value = serde_json::from_slice(&config.unwrap()).unwrap();
    assert_eq!(config["object_store_url"], format!("s3://strata-workspaces/ws/{namespace}"));
    assert!(config.get("object_prefix").is_none(), "the server is told of its own prefix only: {config}");

    let server = f.fake.get("apps/v1", "Deployment", Some(&namespace), "server").unwrap();
    assert_eq!(server["spec"]["template"]["spec"]["serviceAccountName"], "workspace");
    assert!(f.fake.get("v1", "ServiceAccount", Some(&namespace), "worker").is_some());

    // A resync by this process asks EKS nothing; a new process looks, and makes nothing.
    let desired = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap();
    let secret = desired.service_secret.clone().unwrap();
    let backend = f.backend();
    f.eks.clear_calls();
    backend.apply(&desired, &secret).await.unwrap();
    assert!(f.eks.calls().iter().all(|(method, _)| method == "GET"), "{:?}", f.eks.calls());
    f.eks.clear_calls();
    backend.apply(&desired, &secret).await.unwrap();
    assert!(f.eks.calls().is_empty(), "{:?}", f.eks.calls());
    assert_eq!(f.eks.associations().len(), 1);

    f.hub.delete_workspace(&f.admin, strata_hub::LOCAL_ORG, "ci", "ci").await.unwrap();
    reconciler.pass().await;
    assert_eq!(f.hub.provisioner_workspace(created.id).await.unwrap().unwrap().state, WorkspaceState::Deleted);
    assert!(f.eks.associations().is_empty(), "the association goes with the workspace");
}

/// An association of an earlier role is taken over; EKS refusing the
/// provisioner's role shows as a condition naming the permission, and a
/// cluster EKS does not know fails the workspace naming the setting.
#[tokio::test]
async fn pod_identity_takes_over_a_stale_role_and_names_what_to_fix_when_eks_refuses() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    let namespace = format!("ws-{}", created.id);
    f.eks.insert(&namespace, "arn:aws:iam::111122223333:role/earlier-workspace-role");
    let mut reconciler = f.reconciler(reconciler_config());
    reconciler.pass().await;
    assert_eq!(f.get("ci").await.state, WorkspaceState::Ready);
    let roles: Vec<String> = f.eks.associations().into_iter().map(|a| a.role_arn).collect();
    assert_eq!(roles, [WORKSPACE_ROLE]);

    f.eks.fail_with(
        403,
        "User: arn:aws:sts::111122223333:assumed-role/strata-hub is not authorized to perform: iam:PassRole",
    );
    f.create("refused").await;
    reconciler.pass().await;
    let refused = f.get("refused").await;
    assert_eq!(refused.state, WorkspaceState::Provisioning, "a permission can still be granted");
    let degraded = condition(&refused, ConditionType::Degraded);
    assert_eq!(degraded.reason, "PodIdentityForbidden", "{degraded:?}");
    assert!(degraded.message.contains("iam:PassRole on the workspace role"), "{degraded:?}");

    let other = fixture(FakeApiServer::new().with_deployment_controller()).await;
    other.create("lost").await;
    let backend = other.backend_with(other.pod_identity("no-such-cluster"));
    let mut lost = Reconciler::new(other.hub.clone(), backend, reconciler_config(), ProvisionerMetrics::disabled())
        .with_clock(other.clock.clone());
    lost.pass().await;
    let failed = other.get("lost").await;
    assert_eq!(failed.state, WorkspaceState::Failed, "{:?}", failed.conditions);
    assert!(condition(&failed, ConditionType::Degraded).message.contains("kubernetes_eks_cluster"));
}

/// Each fault: the reason it shows, and whether the workspace is FAILED
/// (retrying cannot help) rather than still provisioning.
#[tokio::test]
async fn api_faults_degrade_the_workspace_and_it_recovers_once_they_stop() {
    let cases = [
        (Effect::Status(409), "ApiConflict", WorkspaceState::Provisioning),
        (Effect::Status(500), "ApiError", WorkspaceState::Provisioning),
        (Effect::Status(429), "ApiThrottled", WorkspaceState::Provisioning),
        (Effect::Status(422), "InvalidObject", WorkspaceState::Failed),
        (Effect::Delay(Duration::from_secs(2)), "ApiTimeout", WorkspaceState::Provisioning),
    ];
    for (effect, reason, state) in cases {
        let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
        let created = f.create("flaky").await;
        f.fake.inject(Fault { verb: Some(Verb::Apply), kind: Some("Deployment"), effect: effect.clone(), times: 1 });
        let mut reconciler = f.reconciler(reconciler_config());
        reconciler.pass().await;
        let failed = f.get("flaky").await;
        assert_eq!(failed.state, state, "{effect:?}: {:?}", failed.conditions);
        let degraded = condition(&failed, ConditionType::Degraded);
        assert!(degraded.status && degraded.reason == reason, "{effect:?}: {degraded:?}");
        assert!(!condition(&failed, ConditionType::Ready).status);

        f.clock.advance(Duration::from_millis(120));
        reconciler.pass().await;
        let ready = f.get("flaky").await;
        assert_eq!(ready.state, WorkspaceState::Ready, "{effect:?} then recovery: {:?}", ready.conditions);
        assert!(!condition(&ready, ConditionType::Degraded).status);
        assert_eq!(normalised(f.objects_in(&format!("ws-{}", created.id))), the_objects_of_a_workspace());
    }
}

#[tokio::test]
async fn a_provisioner_killed_mid_reconcile_is_resumed_by_the_next_with_the_same_objects() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    // The first provisioner hangs on the Secret and is killed there.
    f.fake.inject(Fault {
        verb: Some(Verb::Apply),
        kind: Some("Secret"),
        effect: Effect::Delay(Duration::from_secs(30)),
        times: 1,
    });
    let mut first = f.reconciler(reconciler_config());
    let killed = tokio::spawn(async move { first.pass().await });
    let hanging = f.fake.faults_taken(1);
    tokio::time::timeout(Duration::from_secs(30), hanging).await.expect("the first provisioner reaches the Secret");
    killed.abort();
    let namespace = format!("ws-{}", created.id);
    let partial = f.objects_in(&namespace);
    assert!(!partial.is_empty() && partial.len() < the_objects_of_a_workspace().len(), "{partial:?}");
    assert_ne!(f.get("ci").await.state, WorkspaceState::Ready);

    let mut second = f.reconciler(reconciler_config());
    second.pass().await;
    assert_eq!(f.get("ci").await.state, WorkspaceState::Ready);
    assert_eq!(normalised(f.objects_in(&namespace)), the_objects_of_a_workspace());
}

#[tokio::test]
async fn a_namespace_deleted_out_of_band_is_recreated_on_the_next_resync() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    let config = ReconcilerConfig { resync: Duration::ZERO, ..reconciler_config() };
    let mut reconciler = f.reconciler(config);
    reconciler.pass().await;
    let namespace = format!("ws-{}", created.id);
    f.fake.delete_namespace(&namespace).unwrap();
    assert!(f.objects_in(&namespace).is_empty());

    reconciler.pass().await;
    assert_eq!(normalised(f.objects_in(&namespace)), the_objects_of_a_workspace());
    assert_eq!(f.get("ci").await.state, WorkspaceState::Ready);
}

#[tokio::test]
async fn deleting_removes_workers_then_the_server_then_the_namespace() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    let mut reconciler = f.reconciler(reconciler_config());
    reconciler.pass().await;
    let namespace = format!("ws-{}", created.id);
    // A worker Deployment as the autoscaler makes them.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(f.fake.client(), &namespace);
    let worker = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "worker-edges", "labels": {"strata.dev/component": "worker", "app.kubernetes.io/managed-by": "strata-provisioner"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"strata.dev/component": "worker"}},
                 "template": {"metadata": {"labels": {"strata.dev/component": "worker"}}, "spec": {"containers": [{"name": "w", "image": "busybox"}]}}}
    });
    deployments
        .patch("worker-edges", &kube::api::PatchParams::apply("strata-provisioner"), &kube::api::Patch::Apply(&worker))
        .await
        .unwrap();

    f.fake.clear_requests();
    f.hub.delete_workspace(&f.admin, strata_hub::LOCAL_ORG, "ci", "ci").await.unwrap();
    reconciler.pass().await;
    let deleted = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap();
    assert_eq!(deleted.state, WorkspaceState::Deleted);
    let deletes: Vec<(&str, String)> = f
        .fake
        .requests()
        .iter()
        .filter(|r| r.verb == Verb::Delete)
        .map(|r| (r.kind, r.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        deletes,
        [
            ("Deployment", "worker-edges".to_owned()),
            ("Deployment", "server".to_owned()),
            ("Namespace", namespace.clone())
        ]
    );
    assert!(f.fake.get("v1", "Namespace", None, &namespace).is_none());
}

#[tokio::test]
async fn a_workspace_deleted_while_provisioning_is_torn_down_without_becoming_ready() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("ci").await;
    f.fake.inject(Fault { verb: Some(Verb::Apply), kind: Some("Service"), effect: Effect::Status(503), times: 1 });
    let mut reconciler = f.reconciler(reconciler_config());
    reconciler.pass().await;
    assert_eq!(f.get("ci").await.state, WorkspaceState::Provisioning);
    f.hub.delete_workspace(&f.admin, strata_hub::LOCAL_ORG, "ci", "ci").await.unwrap();
    // Past the backoff of the failed apply.
    f.clock.advance(Duration::from_millis(120));
    reconciler.pass().await;
    let row = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap();
    assert_eq!(row.state, WorkspaceState::Deleted);
    assert!(f.objects_in(&format!("ws-{}", created.id)).is_empty());
}

/// docs/kubernetes/workspace.yaml is what the backend renders for an
/// example workspace (regenerate with STRATA_UPDATE_DOCS=1), and every
/// object in it passes the API server's schema validation.
#[tokio::test]
async fn the_documented_yaml_is_what_the_backend_renders_and_is_valid() {
    use strata_provisioner::kubernetes::render::{WorkerDeployment, WorkspaceObjects};
    let workspace = strata_hub::DesiredWorkspace {
        id: "3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f".parse().unwrap(),
        org_id: strata_core::id::OrganizationId::from_uuid(uuid::Uuid::nil()),
        org_slug: "acme".into(),
        slug: "vision".into(),
        plan: strata_plans::Catalogue::built_in().named_or_default("team").clone(),
        limits: strata_hub::plans::workspace_limits(
            &strata_plans::Catalogue::built_in(),
            strata_plans::Catalogue::built_in().named_or_default("team"),
        ),
        region: "eu-west-1".into(),
        state: WorkspaceState::Pending,
        generation: 1,
        observed_generation: 0,
        endpoint: None,
        conditions: Vec::new(),
        service_secret: None,
        updated_at: chrono::Utc::now(),
        data_freed_at: None,
    };
    // Spans go to the operator's collector: the server gets the variable.
    let endpoint = "http://otel-collector.observability:4317";
    let telemetry_env = BTreeMap::from([("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint.to_owned())]);
    let cluster = Cluster { telemetry_env, ..cluster() };
    let quota = strata_provisioner::plans::PlanQuota::of(&workspace.plan);
    // EKS Pod Identity: no object-store keys in the Secret.
    let env = BTreeMap::new();
    let server_config = r#"{"slug":"vision","database_url":"postgres://strata:EXAMPLE@db.internal:5432/strata?options[search_path]=ws_3f2b8c1e5d4a4e6b9c7d2a1b0c9d8e7f","object_store_url":"s3://strata-workspaces/ws/ws-3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f","redis_url":"redis://redis.internal:6379","queue_prefix":"strata:ws:3f2b8c1e5d4a4e6b9c7d2a1b0c9d8e7f:","listen":"0.0.0.0:8080","service_secret":"sts_EXAMPLE","task_lease":{"secs":30,"nanos":0}}"#;
    let objects = WorkspaceObjects {
        cluster: &cluster,
        workspace: &workspace,
        quota,
        server_config: server_config.into(),
        service_secret: "sts_EXAMPLE",
        server_env: &env,
    };
    let pod = example_pod(None);
    let secrets = example_secrets();
    let worker = WorkerDeployment {
        cluster: &cluster,
        workspace_id: workspace.id,
        workspace_slug: &workspace.slug,
        quota,
        pipeline: "edges",
        pod: &pod,
        secrets: &secrets,
        replicas: 2,
        credential: "stc_pipeline:edges.EXAMPLE",
        secret_digest: &render::secret_digest("sts_EXAMPLE"),
    };
    let worker_size = render::Size { cpu_millis: quota.worker_cpu_millis, memory_mib: quota.worker_memory_mib };
    let mut all: Vec<Value> = render::cluster_objects(&cluster, worker_size);
    all.extend(objects.render());
    all.push(worker.credential_secret());
    all.extend(worker.pipeline_secrets());
    all.push(worker.render());
    let all: Vec<Value> = all.into_iter().map(render::with_hash).collect();
    let env_of = |name: &str| -> String {
        let deployment = all.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name).unwrap();
        deployment["spec"]["template"]["spec"]["containers"].to_string()
    };
    assert!(env_of("server").contains(endpoint), "the server exports its spans");
    assert!(!env_of(&worker.name()).contains("OTEL_"), "worker pods (tenant code's network) never get the collector");

    let fake = FakeApiServer::new();
    // The hub's namespace, where the placeholders go, exists (deploy render).
    apply_all(&fake, &[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "strata"}})]).await;
    apply_all(&fake, &all).await;
    let header = "What the Kubernetes backend applies for an example workspace `acme/vision` on the\n\
                  team plan with one pipeline, `edges`. Generated by the provisioner's tests\n\
                  (STRATA_UPDATE_DOCS=1 cargo nextest run -p strata-provisioner documented_yaml);\n\
                  secrets are examples. See docs/provisioning.md.";
    check_documented("docs/kubernetes/workspace.yaml", &to_yaml(header, &all).unwrap());
}

/// `strata deploy render`'s objects, as docs/kubernetes/hub.yaml shows them
/// (regenerate with STRATA_UPDATE_DOCS=1), pass the schema validation, and
/// the provisioner's ClusterRole covers every kind a workspace is made of
/// with the verbs of server-side apply.
#[tokio::test]
async fn the_hubs_manifests_are_valid_and_let_the_provisioner_apply_every_workspace_object() {
    use strata_provisioner::kubernetes::hub::{HubManifest, Replicas};
    let manifest = HubManifest {
        namespace: "strata".into(),
        image: "registry.example.com/strata:0.1.0".into(),
        config_secret: "strata-config".into(),
        host: Some("strata.example.com".into()),
        ingress_class: "alb".into(),
        tls_secret: None,
        api_replicas: Replicas { min: 2, max: 10 },
        monitoring_namespace: "monitoring".into(),
    };
    let objects = manifest.render();
    let fake = FakeApiServer::new();
    apply_all(&fake, &objects).await;

    let role = objects.iter().find(|o| o["kind"] == "ClusterRole").unwrap();
    let may = |group: &str, plural: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|rule| {
            rule["apiGroups"].as_array().unwrap().contains(&json!(group))
                && rule["resources"].as_array().unwrap().contains(&json!(plural))
                && rule["verbs"].as_array().unwrap().contains(&json!(verb))
        })
    };
    let documented: Vec<Value> = serde_yaml_ng::Deserializer::from_str(
        &std::fs::read_to_string(docs_path("docs/kubernetes/workspace.yaml")).unwrap(),
    )
    .map(|document| serde::Deserialize::deserialize(document).unwrap())
    .collect();
    assert!(documented.len() > 10);
    for object in &documented {
        let (group, _) = object["apiVersion"].as_str().unwrap().rsplit_once('/').unwrap_or(("", ""));
        let plural = plural_of(object["kind"].as_str().unwrap());
        for verb in ["get", "list", "create", "patch", "delete"] {
            assert!(may(group, &plural, verb), "the provisioner may not {verb} {group}/{plural}");
        }
    }
    assert!(
        !may("", "pods", "delete") && !may("", "nodes", "get") && !may("rbac.authorization.k8s.io", "roles", "create")
    );
    let deployments: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Deployment").collect();
    for deployment in deployments {
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(spec["priorityClassName"], "strata-hub");
        assert_eq!(spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"], true);
    }

    let header = "The Strata hub as `strata deploy render --image registry.example.com/strata:0.1.0\n\
                  --host strata.example.com` prints it. Generated by the provisioner's tests\n\
                  (STRATA_UPDATE_DOCS=1 cargo nextest run -p strata-provisioner hubs_manifests).\n\
                  See docs/deploy.md.";
    check_documented("docs/kubernetes/hub.yaml", &to_yaml(header, &objects).unwrap());
}

fn plural_of(kind: &str) -> String {
    format!("{}s", kind.to_lowercase()).replace("policys", "policies").replace("sss", "sses")
}

/// Server-side applies each object to the fake, which must accept them all.
async fn apply_all(fake: &FakeApiServer, objects: &[Value]) {
    let client = fake.client();
    for object in objects {
        let kind = object["kind"].as_str().unwrap();
        let api_version = object["apiVersion"].as_str().unwrap();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(group, version, kind),
            &plural_of(kind),
        );
        let api: kube::Api<kube::api::DynamicObject> =
            match object.pointer("/metadata/namespace").and_then(Value::as_str) {
                Some(namespace) => kube::Api::namespaced_with(client.clone(), namespace, &resource),
                None => kube::Api::all_with(client.clone(), &resource),
            };
        let name = object["metadata"]["name"].as_str().unwrap();
        let params = kube::api::PatchParams::apply("strata-provisioner").force();
        api.patch(name, &params, &kube::api::Patch::Apply(object))
            .await
            .unwrap_or_else(|e| panic!("{kind} {name}: {e}"));
    }
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
}

fn docs_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// A generated file under docs/ must be what the code renders now.
fn check_documented(relative: &str, text: &str) {
    let path = docs_path(relative);
    if std::env::var_os("STRATA_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let documented = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(documented == text, "{relative} is stale; rerun with STRATA_UPDATE_DOCS=1");
}

/// What the upgrade to sealed secrets does to a workspace row (hub migration
/// `m0003_sealed_secrets`): its secret removed and its generation bumped.
async fn drop_the_secret_as_the_upgrade_does(f: &Fixture, id: strata_core::id::WorkspaceId) {
    use sea_orm::ConnectionTrait;
    let sql = "UPDATE hub_workspaces SET service_secret_sealed = NULL, service_secret_key = NULL, \
               generation = generation + 1 WHERE id = $1";
    let statement = sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, [id.into()]);
    f.db.execute_raw(statement).await.unwrap();
}

#[tokio::test]
async fn a_rotated_service_secret_reaches_the_server_and_rolls_its_pods() {
    let f = fixture(FakeApiServer::new().with_deployment_controller()).await;
    let created = f.create("rotating").await;
    let mut reconciler = f.reconciler(reconciler_config());
    reconciler.pass().await;
    assert_eq!(f.get("rotating").await.state, WorkspaceState::Ready);
    let namespace = strata_provisioner::kubernetes::render::namespace_of(created.id);
    let find = |kind: &str, name: &str| {
        f.fake
            .objects()
            .into_iter()
            .find(|o| {
                o["kind"] == kind && o["metadata"]["name"] == name && o["metadata"]["namespace"] == namespace.as_str()
            })
            .unwrap()
    };
    let digest_of =
        |deployment: &Value| deployment["spec"]["template"]["metadata"]["annotations"][render::SECRET_DIGEST].clone();
    let old_secret = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap().service_secret.unwrap();
    let old_digest = digest_of(&find("Deployment", "server"));
    assert_eq!(old_digest, json!(render::secret_digest(&old_secret)));
    assert!(!old_digest.as_str().unwrap().contains(&old_secret[4..20]), "the digest reveals nothing of the secret");

    drop_the_secret_as_the_upgrade_does(&f, created.id).await;
    reconciler.pass().await;
    let rotated = f.get("rotating").await;
    assert_eq!((rotated.state, rotated.generation, rotated.observed_generation), (WorkspaceState::Ready, 2, 2));
    let new_secret = f.hub.provisioner_workspace(created.id).await.unwrap().unwrap().service_secret.unwrap();
    assert_ne!(new_secret, old_secret);
    // The server's Secret holds the new one, and its pods roll to read it.
    use base64::Engine;
    let stored = find("Secret", "workspace-config")["data"][render::SERVICE_SECRET_KEY].as_str().unwrap().to_owned();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(stored).unwrap(), new_secret.as_bytes());
    assert_eq!(digest_of(&find("Deployment", "server")), json!(render::secret_digest(&new_secret)));
}

/// The `edges` pipeline's pod as the workspace server reports it: pinned to a
/// digest, a uid of its own, requests and limits (and `gpu`, if given).
fn example_pod(gpu: Option<strata_api_types::pps::PodGpu>) -> strata_api_types::pps::WorkerPod {
    use strata_api_types::pps::{PodResources, WorkerPod};
    WorkerPod {
        image:
            "registry.example.com/vision/opencv@sha256:8f4c9a1d0b2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2"
                .into(),
        user: Some(1001),
        requests: PodResources {
            millicpus: Some(500),
            memory_bytes: Some(512 << 20),
            disk_bytes: Some(2 << 30),
            gpu: None,
        },
        limits: PodResources { millicpus: Some(800), memory_bytes: Some(1 << 30), disk_bytes: None, gpu },
        secrets_version: Some("0123456789abcdef".into()),
    }
}

/// A variable, a file and registry credentials, as `transform.secrets` and
/// `image_pull_secrets` resolve them.
fn example_secrets() -> strata_api_types::pps::TaskSecrets {
    use strata_api_types::pps::{SecretText, TaskSecrets};
    TaskSecrets {
        env: BTreeMap::from([("DB_PASSWORD".to_owned(), SecretText("EXAMPLE-password".into()))]),
        files: BTreeMap::from([("/var/secrets/api/token".to_owned(), SecretText("EXAMPLE-token".into()))]),
        pull_auth: Some(SecretText(r#"{"auths":{"registry.example.com":{"auth":"RVhBTVBMRTpFWEFNUExF"}}}"#.into())),
    }
}

#[tokio::test]
async fn a_worker_pod_runs_the_pipelines_image_beside_the_worker_sharing_only_its_scratch_and_socket() {
    use strata_api_types::pps::PodGpu;
    use strata_provisioner::kubernetes::render::WorkerDeployment;
    let cluster = cluster();
    let quota = strata_provisioner::plans::PlanQuota::built_in("team");
    let gpu = PodGpu { resource: "nvidia.com/gpu".into(), count: 2 };
    let pod = example_pod(Some(gpu));
    let secrets = example_secrets();
    let id: strata_core::id::WorkspaceId = "3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f".parse().unwrap();
    let worker = WorkerDeployment {
        cluster: &cluster,
        workspace_id: id,
        workspace_slug: "vision",
        quota,
        pipeline: "edges",
        pod: &pod,
        secrets: &secrets,
        replicas: 1,
        credential: "stc_pipeline:edges.EXAMPLE",
        secret_digest: "0123456789abcdef",
    };
    let deployment = worker.render();
    let spec = &deployment["spec"]["template"]["spec"];
    let containers = spec["containers"].as_array().unwrap();
    let names: Vec<&str> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["worker", "user"]);
    assert_eq!(spec["serviceAccountName"], "worker", "tenant code gets no cloud identity");
    let (worker_c, user) = (&containers[0], &containers[1]);
    let mounts = |c: &Value| -> BTreeMap<String, String> {
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap().to_owned(), m["mountPath"].as_str().unwrap().to_owned()))
            .collect()
    };
    let (worker_mounts, user_mounts) = (mounts(worker_c), mounts(user));
    assert_eq!(user_mounts["pfs"], "/pfs", "literal /pfs in the user container");
    assert!(!worker_mounts.contains_key("pfs"));
    for shared in ["work", "run"] {
        assert_eq!(worker_mounts[shared], user_mounts[shared], "{shared} at the same path in both");
    }
    assert_ne!(worker_mounts["tmp"], "", "each has its own /tmp");
    assert_eq!(user_mounts["user-tmp"], "/tmp");

    assert_eq!(user["image"], pod.image, "the pinned digest");
    assert_eq!(user["command"], json!(["/.strata/bin/strata", "__sandbox"]));
    assert_eq!(user["securityContext"]["runAsUser"], 1001);
    assert_eq!(user["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(user["resources"]["limits"]["nvidia.com/gpu"], "2");
    assert_eq!(user["resources"]["requests"]["cpu"], "500m");
    assert_eq!(user["resources"]["limits"]["memory"], (1u64 << 30).to_string());
    assert_eq!(spec["nodeSelector"]["strata.dev/pool"], "workers-gpu");
    assert!(spec["tolerations"].as_array().unwrap().iter().any(|t| t["key"] == "nvidia.com/gpu"));
    assert_eq!(spec["imagePullSecrets"], json!([{"name": "worker-edges-pull"}]));

    // The worker holds the credential; the user container holds the secrets,
    // by reference only, and none of it stands in the Deployment.
    let text = deployment.to_string();
    for value in ["EXAMPLE-password", "EXAMPLE-token", "RVhBTVBMRTpFWEFNUExF", "stc_"] {
        assert!(!text.contains(value), "{value} in the Deployment");
    }
    let env_names = |c: &Value| -> Vec<String> {
        c["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect()
    };
    assert!(env_names(worker_c).contains(&"STRATA_TOKEN".to_owned()));
    assert!(!env_names(user).iter().any(|name| name == "STRATA_TOKEN"), "the user container never gets the token");
    assert!(env_names(user).contains(&"DB_PASSWORD".to_owned()));
    assert_eq!(user_mounts.values().filter(|path| *path == "/var/secrets/api").count(), 1);
    assert_eq!(worker.pipeline_secrets().len(), 2, "the values and the pull credentials");

    // And the cluster accepts all of it: every object valid against the schemas.
    let f = fixture(FakeApiServer::new()).await;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(f.fake.client());
    let namespace = serde_json::from_value(json!({"metadata": {"name": render::namespace_of(id)}})).unwrap();
    namespaces.create(&kube::api::PostParams::default(), &namespace).await.unwrap();
    let secrets_api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(f.fake.client(), &render::namespace_of(id));
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(f.fake.client(), &render::namespace_of(id));
    let params = kube::api::PatchParams::apply("strata-provisioner").force();
    for secret in worker.pipeline_secrets() {
        let name = secret["metadata"]["name"].as_str().unwrap().to_owned();
        secrets_api.patch(&name, &params, &kube::api::Patch::Apply(&secret)).await.unwrap();
    }
    deployments.patch("worker-edges", &params, &kube::api::Patch::Apply(&deployment)).await.unwrap();
    assert!(f.fake.rejected().is_empty(), "{:?}", f.fake.rejected());
}
