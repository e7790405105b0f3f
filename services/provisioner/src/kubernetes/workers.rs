//! Workers of a Kubernetes workspace: one Deployment per pipeline whose
//! `replicas` the live autoscaler ([`crate::scaling`]) sets. Before a
//! scale-down, the pods get `controller.kubernetes.io/pod-deletion-cost`
//! annotations (idle low, busy high) so the ReplicaSet controller removes
//! idle workers first. The Deployment is applied only when what it renders
//! changes, so a steady pipeline costs no API writes.

use std::collections::HashMap;

use serde_json::{Value, json};
use strata_api_types::pps::{PipelineLoad, TaskSecrets};
use strata_core::id::WorkspaceId;
use strata_core::workspace_credentials::CredentialIssuer;
use strata_hub::DesiredWorkspace;

use super::placeholders::Demand;
use super::render::{self, Cluster, WorkerDeployment};
use super::{DEPLOYMENT, KubeApi, POD, SECRET, hash_of, name_of};
use crate::error::Result;
use crate::plans::PlanQuota;
use crate::scaling::Workers;

/// What a pipeline without secrets renders with.
static NO_SECRETS: TaskSecrets =
    TaskSecrets { env: std::collections::BTreeMap::new(), files: std::collections::BTreeMap::new(), pull_auth: None };

pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// Pod deletion costs: a busy worker is the last to go.
const IDLE_COST: &str = "-100";
const BUSY_COST: &str = "100";

#[derive(Debug)]
struct Applied {
    replicas: u32,
    hash: String,
}

#[derive(Debug)]
pub(crate) struct KubeWorkers {
    api: KubeApi,
    cluster: Cluster,
    workspace_id: WorkspaceId,
    workspace_slug: String,
    quota: PlanQuota,
    /// Makes each pipeline's worker credential.
    credentials: CredentialIssuer,
    /// The digest of the service secret the workers get (rolls them when it changes).
    secret_digest: String,
    /// What was last applied (or found) per pipeline.
    applied: HashMap<String, Applied>,
    /// Reads the secret values of worker pods, with the pod-secrets credential.
    secrets_client: strata_client::Workspace,
    /// The values read per pipeline, with the version they were read at.
    secrets: HashMap<String, (String, TaskSecrets)>,
    /// Where the workers wanted are reported, for the placeholder pods.
    demand: Option<Demand>,
}

impl KubeWorkers {
    pub(crate) fn new(
        api: KubeApi,
        cluster: Cluster,
        workspace: &DesiredWorkspace,
        quota: PlanQuota,
        credentials: CredentialIssuer,
        secret_digest: String,
        secrets_client: strata_client::Workspace,
    ) -> Self {
        KubeWorkers {
            demand: None,
            secrets_client,
            secrets: HashMap::new(),
            credentials,
            api,
            cluster,
            workspace_id: workspace.id,
            workspace_slug: workspace.slug.clone(),
            quota,
            secret_digest,
            applied: HashMap::new(),
        }
    }

    /// Reports the workers each pipeline wants to `demand`.
    pub(crate) fn reporting_to(mut self, demand: Demand) -> Self {
        self.demand = Some(demand);
        self
    }

    fn deployment<'a>(&'a self, load: &'a PipelineLoad, replicas: u32, credential: &'a str) -> WorkerDeployment<'a> {
        WorkerDeployment {
            credential,
            cluster: &self.cluster,
            workspace_id: self.workspace_id,
            workspace_slug: &self.workspace_slug,
            quota: self.quota,
            pipeline: &load.pipeline,
            pod: &load.pod,
            secrets: self.secrets.get(&load.pipeline).map_or(&NO_SECRETS, |(_, values)| values),
            replicas,
            secret_digest: &self.secret_digest,
        }
    }

    /// Reads the pipeline's secret values again when their version changed
    /// (and forgets them when it uses none any more).
    async fn refresh_secrets(&mut self, load: &PipelineLoad) -> Result<()> {
        let Some(version) = &load.pod.secrets_version else {
            self.secrets.remove(&load.pipeline);
            return Ok(());
        };
        if self.secrets.get(&load.pipeline).is_some_and(|(read, _)| read == version) {
            return Ok(());
        }
        let values = self.secrets_client.pod_secrets(&load.pipeline).await.map_err(|e| {
            let message = format!("cannot read the secrets of pipeline `{}`'s worker pods: {e}", load.pipeline);
            crate::error::ProvisionerError::retryable("WorkerSecretsUnreadable", message)
        })?;
        self.secrets.insert(load.pipeline.clone(), (version.clone(), values));
        Ok(())
    }

    fn namespace(&self) -> String {
        render::namespace_of(self.workspace_id)
    }

    /// Marks each pod of the pipeline idle or busy, writing only changes.
    async fn mark_deletion_costs(&self, load: &PipelineLoad) -> Result<()> {
        let selector = self.deployment(load, 0, "").selector();
        for pod in self.api.list(POD, &self.namespace(), &selector).await? {
            let name = name_of(&pod);
            let cost = if load.busy_workers.iter().any(|w| w == name) { BUSY_COST } else { IDLE_COST };
            let current =
                pod.pointer("/metadata/annotations").and_then(|a| a.get(DELETION_COST)).and_then(Value::as_str);
            if current != Some(cost) {
                let patch = json!({"metadata": {"annotations": {DELETION_COST: cost}}});
                self.api.merge(POD, &self.namespace(), name, &patch).await?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Workers for KubeWorkers {
    async fn current(&mut self, load: &PipelineLoad) -> u32 {
        if let Some(applied) = self.applied.get(&load.pipeline) {
            return applied.replicas;
        }
        let name = render::worker_deployment_name(&load.pipeline);
        match self.api.get(DEPLOYMENT, Some(&self.namespace()), &name).await {
            Ok(Some(found)) => {
                let replicas = found.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(0);
                let replicas = u32::try_from(replicas).unwrap_or(u32::MAX);
                let hash = hash_of(&found).unwrap_or_default().to_owned();
                self.applied.insert(load.pipeline.clone(), Applied { replicas, hash });
                replicas
            }
            Ok(None) => 0,
            Err(error) => {
                tracing::warn!(pipeline = %load.pipeline, %error, "cannot read the worker Deployment");
                0
            }
        }
    }

    async fn resize(&mut self, load: &PipelineLoad, desired: u32) -> Result<()> {
        if let Some(demand) = &self.demand {
            demand.report(self.workspace_id, &load.pipeline, desired, &self.quota);
        }
        self.refresh_secrets(load).await?;
        let credential = self.credentials.worker(&load.pipeline);
        let deployment = self.deployment(load, desired, &credential);
        let object = render::with_hash(deployment.render());
        let hash = hash_of(&object).unwrap_or_default().to_owned();
        let before = self.applied.get(&load.pipeline);
        if before.is_some_and(|a| a.hash == hash) {
            return Ok(());
        }
        if before.is_some_and(|a| desired < a.replicas) {
            self.mark_deletion_costs(load).await?;
        }
        // The Secrets first, so new pods find them.
        self.api.apply(&deployment.credential_secret()).await?;
        for secret in deployment.pipeline_secrets() {
            self.api.apply(&secret).await?;
        }
        self.api.apply(&object).await?;
        self.applied.insert(load.pipeline.clone(), Applied { replicas: desired, hash });
        Ok(())
    }

    fn set_quota(&mut self, quota: PlanQuota) {
        // The next resize renders the new worker size and applies it.
        self.quota = quota;
    }

    async fn remove(&mut self, pipeline: &str) {
        if let Some(demand) = &self.demand {
            demand.forget_pipeline(self.workspace_id, pipeline);
        }
        self.applied.remove(pipeline);
        self.secrets.remove(pipeline);
        let name = render::worker_deployment_name(pipeline);
        let load = PipelineLoad { pipeline: pipeline.to_owned(), ..PipelineLoad::default() };
        let secrets = self.deployment(&load, 0, "").secret_names();
        let objects = std::iter::once((DEPLOYMENT, name)).chain(secrets.into_iter().map(|secret| (SECRET, secret)));
        for (kind, name) in objects {
            if let Err(error) = self.api.delete(kind, Some(&self.namespace()), &name).await {
                tracing::warn!(pipeline, kind = kind.kind, %error, "cannot delete a worker object of a deleted pipeline");
            }
        }
    }

    /// Workers in the cluster outlive this provisioner; the next one's
    /// scaler takes them over.
    async fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

    use std::time::Duration;

    use strata_core::id::OrganizationId;
    use strata_kube_fake::{FakeApiServer, Verb};

    use super::*;
    use crate::kubernetes::render::Egress;

    fn load(busy: &[&str]) -> PipelineLoad {
        PipelineLoad {
            pipeline: "Edges_v2".into(),
            outstanding_datums: 5,
            parallelism: 4,
            autoscaling: true,
            stopped: false,
            image: "python:3.13-slim".into(),
            busy_workers: busy.iter().map(|b| (*b).to_owned()).collect(),
            pod: strata_api_types::pps::WorkerPod { image: "python:3.13-slim".into(), ..Default::default() },
            scheduled: false,
        }
    }

    async fn workers(fake: &FakeApiServer) -> KubeWorkers {
        let workspace = DesiredWorkspace {
            id: WorkspaceId::new(),
            org_id: OrganizationId::new(),
            org_slug: "acme".into(),
            slug: "ci".into(),
            plan: strata_plans::Catalogue::built_in().named_or_default("team").clone(),
            limits: strata_hub::plans::workspace_limits(
                &strata_plans::Catalogue::built_in(),
                strata_plans::Catalogue::built_in().named_or_default("team"),
            ),
            region: "local".into(),
            state: strata_hub::WorkspaceState::Ready,
            generation: 1,
            observed_generation: 1,
            endpoint: None,
            conditions: Vec::new(),
            service_secret: None,
            updated_at: chrono::Utc::now(),
            data_freed_at: None,
        };
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(fake.client());
        let namespace =
            serde_json::from_value(json!({"metadata": {"name": render::namespace_of(workspace.id)}})).unwrap();
        namespaces.create(&kube::api::PostParams::default(), &namespace).await.unwrap();
        let cluster = Cluster {
            image: "ghcr.io/strata-dev/strata:0.1.0".into(),
            hub_namespace: "strata".into(),
            egress: vec![Egress { cidr: "10.0.0.0/8".into(), ports: vec![443] }],
            placeholder_pods: 0,
            telemetry_env: Default::default(),
        };
        let api = KubeApi { client: fake.client(), timeout: Duration::from_secs(5) };
        KubeWorkers::new(
            api,
            cluster,
            &workspace,
            PlanQuota::built_in("team"),
            CredentialIssuer::new("sts_test", "ci"),
            "0123456789abcdef".to_owned(),
            // Never called: these pipelines use no secrets.
            strata_client::StrataClient::new("http://127.0.0.1:9").unwrap().workspace("ci"),
        )
    }

    fn pods(fake: &FakeApiServer) -> Vec<String> {
        let mut names: Vec<String> = fake
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == "Pod")
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn replicas_follow_the_decisions_and_a_steady_pipeline_costs_no_writes() {
        let fake = FakeApiServer::new().with_deployment_controller();
        let demand = Demand::new(render::Size { cpu_millis: 1000, memory_mib: 4096 });
        let mut workers = workers(&fake).await.reporting_to(demand.clone());
        assert_eq!(workers.current(&load(&[])).await, 0);
        workers.resize(&load(&[]), 3).await.unwrap();
        assert_eq!(workers.current(&load(&[])).await, 3);
        assert_eq!(demand.total(), 3, "three team workers wanted, for the placeholder pods");
        assert_eq!(pods(&fake).len(), 3);
        assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());

        fake.clear_requests();
        workers.resize(&load(&[]), 3).await.unwrap();
        assert!(fake.requests().is_empty(), "no change, no request: {:?}", fake.requests());

        // A restarted provisioner finds the replicas it left.
        let mut again = super::KubeWorkers { applied: HashMap::new(), ..workers };
        assert_eq!(again.current(&load(&[])).await, 3);
        again.resize(&load(&[]), 0).await.unwrap();
        assert!(pods(&fake).is_empty());
        assert_eq!(demand.total(), 0);
    }

    #[tokio::test]
    async fn scaling_down_removes_idle_workers_before_busy_ones() {
        let fake = FakeApiServer::new().with_deployment_controller();
        let mut workers = workers(&fake).await;
        workers.resize(&load(&[]), 3).await.unwrap();
        let before = pods(&fake);
        let busy = before[1].clone();
        workers.resize(&load(&[busy.as_str()]), 1).await.unwrap();
        assert_eq!(pods(&fake), [busy], "the busy worker stays");
        let patches = fake.requests().iter().filter(|r| r.verb == Verb::Patch).count();
        assert_eq!(patches, 3, "each pod marked once");
    }

    #[tokio::test]
    async fn a_pipelines_credential_lives_in_its_own_secret_and_goes_with_the_pipeline() {
        let fake = FakeApiServer::new().with_deployment_controller();
        let mut workers = workers(&fake).await;
        workers.resize(&load(&[]), 2).await.unwrap();
        let secret = fake.objects().into_iter().find(|o| o["kind"] == "Secret").expect("the workers' credential");
        let token = secret["data"][render::WORKER_TOKEN_KEY].as_str().unwrap();
        use base64::Engine;
        let token = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).unwrap()).unwrap();
        assert!(token.starts_with("stc_pipeline:Edges_v2."), "{token}");
        let deployment = fake.objects().into_iter().find(|o| o["kind"] == "Deployment").unwrap();
        assert!(!deployment.to_string().contains("stc_"), "the credential is not in the Deployment");
        workers.remove("Edges_v2").await;
        assert!(fake.objects().iter().all(|o| o["kind"] != "Deployment" && o["kind"] != "Secret"));
    }

    /// A pipeline that uses a secret: the provisioner reads its value from a
    /// real workspace server with its pod-secrets credential and stores it as
    /// the pods' Secret, and reads it again when the secret is rewritten.
    #[tokio::test]
    async fn a_pipelines_secret_values_come_from_its_workspace_server_into_the_pods_secret() {
        use strata_core::workspace_credentials::{FORWARD_LIFETIME_SECS, ForwardedRequest};
        const SECRET: &str = "sts_0123456789abcdef0123456789abcdef";
        let dir = tempfile::tempdir().unwrap();
        let keys = strata_core::master_key::MasterKeys::generate().derive("provisioner test");
        let server = strata_testkit::TestWorkspaceServer::start(dir.path(), "ci", SECRET, Some(keys.to_list())).await;
        let endpoint = format!("http://127.0.0.1:{}", server.port);
        let as_writer = |method: &str, path: &str| {
            let request = ForwardedRequest {
                workspace: "ci".into(),
                actor: "9d3c2a4e-0000-4000-8000-000000000001".into(),
                token_id: None,
                role: "writer".into(),
                method: method.into(),
                path: path.into(),
                expires: chrono::Utc::now().timestamp() + FORWARD_LIFETIME_SECS,
                limits: None,
            };
            strata_client::StrataClient::new(&endpoint).unwrap().with_token(request.seal(SECRET)).workspace("ci")
        };
        let put_secret = |value: &str| {
            let body = strata_api_types::pps::PutSecret {
                data: [("password".to_owned(), strata_api_types::pps::SecretText(value.into()))].into(),
                overwrite: true,
            };
            let client = as_writer("PUT", "/pps/secrets/db");
            async move { client.secret_put("db", &body).await.unwrap() }
        };
        put_secret("hunter2").await;
        as_writer("POST", "/repos").repo_create("numbers", "").await.unwrap();
        let spec = json!({"pipeline": {"name": "Edges_v2"}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
            "transform": {"cmd": ["true"], "secrets": [{"name": "db", "key": "password", "env_var": "PW"}]}});
        let create = strata_api_types::pps::CreatePipeline {
            spec: spec.to_string(),
            update: false,
            reprocess: false,
            format: None,
        };
        as_writer("POST", "/pps/pipelines").pipeline_create(&create).await.unwrap();

        let fake = FakeApiServer::new().with_deployment_controller();
        let mut workers = workers(&fake).await;
        let issuer = CredentialIssuer::new(SECRET, "ci");
        let client = strata_client::StrataClient::new(&endpoint).unwrap();
        workers.secrets_client = client.clone().with_token(issuer.pod_secrets_reader()).workspace("ci");
        let loads = client.with_token(issuer.load_reader()).workspace("ci");
        let stored = |fake: &FakeApiServer| -> String {
            use base64::Engine;
            let name = format!("{}-secrets", render::worker_deployment_name("Edges_v2"));
            let secret = fake.objects().into_iter().find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == name);
            let value = secret.expect("the values Secret")["data"]["env.PW"].as_str().unwrap().to_owned();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).unwrap()).unwrap()
        };

        let load = loads.pipeline_load().await.unwrap().remove(0);
        workers.resize(&load, 1).await.unwrap();
        assert_eq!(stored(&fake), "hunter2");
        assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());

        put_secret("correct horse").await;
        let load = loads.pipeline_load().await.unwrap().remove(0);
        workers.resize(&load, 1).await.unwrap();
        assert_eq!(stored(&fake), "correct horse", "a rewritten secret is read again");
    }
}
