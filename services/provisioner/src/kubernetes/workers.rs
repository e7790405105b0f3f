//! Workers of a Kubernetes workspace: one Deployment per pipeline whose
//! `replicas` the live autoscaler ([`crate::scaling`]) sets. Before a
//! scale-down, the pods get `controller.kubernetes.io/pod-deletion-cost`
//! annotations (idle low, busy high) so the ReplicaSet controller removes
//! idle workers first. The Deployment is applied only when what it renders
//! changes, so a steady pipeline costs no API writes.

use std::collections::HashMap;

use serde_json::{Value, json};
use strata_client::wire::pps::PipelineLoad;
use strata_hub::DesiredWorkspace;
use uuid::Uuid;

use super::render::{self, Cluster, WorkerDeployment};
use super::{KubeApi, kind_named, name_of};
use crate::error::Result;
use crate::plans::PlanQuota;
use crate::scaling::Workers;

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
    workspace_id: Uuid,
    workspace_slug: String,
    quota: PlanQuota,
    /// What was last applied (or found) per pipeline.
    applied: HashMap<String, Applied>,
}

impl KubeWorkers {
    pub(crate) fn new(api: KubeApi, cluster: Cluster, workspace: &DesiredWorkspace, quota: PlanQuota) -> Self {
        KubeWorkers {
            api,
            cluster,
            workspace_id: workspace.id,
            workspace_slug: workspace.slug.clone(),
            quota,
            applied: HashMap::new(),
        }
    }

    fn deployment<'a>(&'a self, load: &'a PipelineLoad, replicas: u32) -> WorkerDeployment<'a> {
        WorkerDeployment {
            cluster: &self.cluster,
            workspace_id: self.workspace_id,
            workspace_slug: &self.workspace_slug,
            quota: self.quota,
            pipeline: &load.pipeline,
            image: &load.image,
            replicas,
        }
    }

    fn namespace(&self) -> String {
        render::namespace_of(self.workspace_id)
    }

    /// Marks each pod of the pipeline idle or busy, writing only changes.
    async fn mark_deletion_costs(&self, load: &PipelineLoad) -> Result<()> {
        let selector = self.deployment(load, 0).selector();
        let pods = kind_named("Pod");
        for pod in self.api.list(pods, &self.namespace(), &selector).await? {
            let name = name_of(&pod);
            let cost = if load.busy_workers.iter().any(|w| w == name) { BUSY_COST } else { IDLE_COST };
            let current =
                pod.pointer("/metadata/annotations").and_then(|a| a.get(DELETION_COST)).and_then(Value::as_str);
            if current != Some(cost) {
                let patch = json!({"metadata": {"annotations": {DELETION_COST: cost}}});
                self.api.merge(pods, &self.namespace(), name, &patch).await?;
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
        let name = self.deployment(load, 0).name();
        match self.api.get(kind_named("Deployment"), Some(&self.namespace()), &name).await {
            Ok(Some(found)) => {
                let replicas = found.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(0);
                let replicas = u32::try_from(replicas).unwrap_or(u32::MAX);
                let hash = found
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(render::APPLIED_HASH))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
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
        let object = render::with_hash(self.deployment(load, desired).render());
        let hash = object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(render::APPLIED_HASH))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let before = self.applied.get(&load.pipeline);
        if before.is_some_and(|a| a.hash == hash) {
            return Ok(());
        }
        if before.is_some_and(|a| desired < a.replicas) {
            self.mark_deletion_costs(load).await?;
        }
        self.api.apply(&object).await?;
        self.applied.insert(load.pipeline.clone(), Applied { replicas: desired, hash });
        Ok(())
    }

    async fn remove(&mut self, pipeline: &str) {
        self.applied.remove(pipeline);
        let name = format!("worker-{}", render::dns_name(pipeline));
        if let Err(error) = self.api.delete(kind_named("Deployment"), Some(&self.namespace()), &name).await {
            tracing::warn!(pipeline, %error, "cannot delete the worker Deployment of a deleted pipeline");
        }
    }

    /// Workers in the cluster outlive this provisioner; the next one's
    /// scaler takes them over.
    async fn stop(&mut self) {}
}
