//! The Kubernetes backend's cost per reconcile, against the in-memory API
//! server (kube-fake, with its simulated deployment controller) and a real
//! PostgreSQL: COUNT new workspaces reconciled one by one, then a no-op
//! re-reconcile of each. Prints time (median, p95) and API requests (reads
//! and writes) per reconcile. Run by benches/provisioner.sh.
//!
//! The fake answers in microseconds, so the times are the provisioner's own
//! work plus PostgreSQL; a real API server adds its round trips (about
//! 5-20 ms each in a cloud cluster) per request counted here.
#![allow(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark binary: it prints, and panics are failures")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
use strata_hub::{Hub, HubSettings, NewWorkspace, OutboxMailer};
use strata_kube_fake::FakeApiServer;
use strata_provisioner::config::EgressRule;
use strata_provisioner::kubernetes::identity::WorkspaceCredentials;
use strata_provisioner::kubernetes::render::Cluster;
use strata_provisioner::{Backend, KubernetesBackend, KubernetesConfig, ProvisionerMetrics};
use strata_testkit::{Backend as Db, TestDatabase};

fn stats(label: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() as f64 * q).ceil() as usize).clamp(1, millis.len()) - 1];
    println!("{label}: median {:.2} ms, p95 {:.2} ms (n={})", at(0.5), at(0.95), millis.len());
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Db::Postgres, dir.path()).await;
    let url = DatabaseUrl::parse(&database.url()).unwrap();
    let DatabaseUrl::Postgres(postgres) = url.clone() else { panic!("PostgreSQL expected") };
    let db = strata_core::db::connect(&url).await.unwrap();
    let hub = Hub::open(
        db.clone(),
        Arc::new(OutboxMailer::new(dir.path().join("outbox"))),
        // The operator lets `local` hold the bench's workspaces (free allows 3).
        HubSettings {
            org_plans: strata_hub::plans::OrgPlans::new(
                &strata_hub::plans::Catalogue::built_in(),
                &[(strata_hub::LOCAL_ORG.to_owned(), "enterprise".to_owned())],
            )
            .unwrap(),
            ..HubSettings::new(strata_core::config::MasterKeys::generate())
        },
    )
    .await
    .unwrap();
    hub.ensure_hosted_workspace(strata_hub::LOCAL_ORG, "default", "http://127.0.0.1:1").await.unwrap();
    let admin = hub.authenticate(&hub.local_admin_token("bench").await.unwrap().secret).await.unwrap();

    let fake = FakeApiServer::new().with_deployment_controller();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(fake.client());
    let hub_namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "strata"}})).unwrap();
    namespaces.create(&kube::api::PostParams::default(), &hub_namespace).await.unwrap();
    let config = KubernetesConfig {
        cluster: Cluster {
            image: "ghcr.io/strata-dev/strata:0.1.0".into(),
            hub_namespace: "strata".into(),
            egress: vec![EgressRule { cidr: "10.0.0.0/8".into(), ports: vec![5432, 6379, 443] }],
            placeholder_pods: 1,
            telemetry_env: Default::default(),
        },
        database: postgres,
        object_store: ObjectStoreUrl::parse("s3://strata-workspaces").unwrap(),
        // What is measured is the Kubernetes API; EKS calls are the tests' business.
        credentials: WorkspaceCredentials::SharedKeys(BTreeMap::new()),
        redis_url: None,
        task_lease: Duration::from_secs(30),
        master_keys: None,
        request_timeout: Duration::from_secs(10),
        policy: Default::default(),
        idle_sleep: Default::default(),
        autoscale_every: Duration::from_millis(500),
        autoscale: false,
        placeholder_max: 0,
        placeholder_window: Duration::from_secs(300),
    };
    let store = strata_core::store::open(&ObjectStoreUrl::Local(dir.path().join("objects"))).unwrap();
    let backend = KubernetesBackend::new(fake.client(), config, db, store, hub.clone(), ProvisionerMetrics::disabled());

    let mut desired = Vec::new();
    for i in 0..count {
        let new =
            NewWorkspace { org_slug: strata_hub::LOCAL_ORG.into(), slug: format!("bench-{i}"), ..Default::default() };
        let created = hub.create_workspace(&admin, &new).await.unwrap();
        let secret = hub.ensure_service_secret(created.id).await.unwrap();
        desired.push((hub.provisioner_workspace(created.id).await.unwrap().unwrap(), secret));
    }
    // The cluster-wide objects are applied once per process: not part of
    // a workspace's cost.
    backend.apply(&desired[0].0, &desired[0].1).await.unwrap();
    desired.remove(0);

    for (label, _) in [("new workspace", ()), ("no-op re-reconcile", ())] {
        let mut times = Vec::new();
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for (workspace, secret) in &desired {
            fake.clear_requests();
            let started = Instant::now();
            let applied = backend.apply(workspace, secret).await.unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(applied.waiting.is_none(), "the simulated controller makes servers available at once");
            let requests = fake.requests();
            writes.push(requests.iter().filter(|r| r.verb.is_write()).count());
            reads.push(requests.len() - writes.last().copied().unwrap_or(0));
        }
        assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
        stats(label, times);
        println!(
            "  API requests per reconcile: {} reads, {} writes (max over {} workspaces: {} reads, {} writes)",
            reads[0],
            writes[0],
            reads.len(),
            reads.iter().max().unwrap(),
            writes.iter().max().unwrap()
        );
    }
}
