//! Workers of a local workspace: `strata worker` child processes that the
//! live autoscaler ([`crate::scaling`]) asks for. A worker that exited is
//! dropped when counted, so the next resize replaces it.

use std::collections::HashMap;
use std::path::PathBuf;
use strata_core::id::WorkspaceId;
use strata_core::workspace_credentials::CredentialIssuer;

use strata_api_types::pps::PipelineLoad;

use super::LocalConfig;
use super::process::{WorkerProcess, strata};
use crate::error::Result;
use crate::scaling::Workers;

/// The processes of one workspace's pipelines.
#[derive(Debug)]
pub(crate) struct LocalWorkers {
    pub workspace_id: WorkspaceId,
    /// `org/slug`, for logs.
    pub label: String,
    pub slug: String,
    pub endpoint: String,
    /// Makes each pipeline's worker credential.
    pub credentials: CredentialIssuer,
    pub dir: PathBuf,
    pub config: LocalConfig,
    pub pipelines: HashMap<String, Processes>,
}

/// One pipeline's processes, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Processes {
    running: Vec<WorkerProcess>,
    spawned: u64,
}

#[async_trait::async_trait]
impl Workers for LocalWorkers {
    async fn current(&mut self, load: &PipelineLoad) -> u32 {
        let processes = self.pipelines.entry(load.pipeline.clone()).or_default();
        let crashed = reap(&mut processes.running);
        if crashed > 0 {
            tracing::warn!(workspace = %self.label, pipeline = %load.pipeline, crashed, "workers exited; replacing them");
        }
        u32::try_from(processes.running.len()).unwrap_or(u32::MAX)
    }

    async fn resize(&mut self, load: &PipelineLoad, desired: u32) -> Result<()> {
        let desired = desired as usize;
        let mut processes = self.pipelines.remove(&load.pipeline).unwrap_or_default();
        let outcome = self.resize_processes(&load.pipeline, &load.busy_workers, &mut processes, desired);
        self.pipelines.insert(load.pipeline.clone(), processes);
        outcome
    }

    /// Processes have no size to change.
    fn set_quota(&mut self, _: crate::plans::PlanQuota) {}

    async fn remove(&mut self, pipeline: &str) {
        if let Some(processes) = self.pipelines.remove(pipeline) {
            processes.running.into_iter().for_each(WorkerProcess::stop);
        }
    }

    async fn stop(&mut self) {
        for (_, processes) in self.pipelines.drain() {
            processes.running.into_iter().for_each(WorkerProcess::stop);
        }
    }
}

impl LocalWorkers {
    fn resize_processes(
        &self,
        pipeline: &str,
        busy: &[String],
        processes: &mut Processes,
        desired: usize,
    ) -> Result<()> {
        while processes.running.len() > desired {
            // Idle workers first, the newest among them; SIGTERM lets a busy
            // one hand its datum back.
            let victim =
                processes.running.iter().rposition(|w| !busy.contains(&w.id)).unwrap_or(processes.running.len() - 1);
            processes.running.remove(victim).stop();
        }
        while processes.running.len() < desired {
            processes.spawned += 1;
            let id =
                format!("{}-{pipeline}-{}", &self.workspace_id.as_uuid().simple().to_string()[..8], processes.spawned);
            let worker = WorkerProcess::spawn(self.worker_command(pipeline, &id)?, id)?;
            processes.running.push(worker);
        }
        Ok(())
    }

    fn worker_command(&self, pipeline: &str, id: &str) -> Result<tokio::process::Command> {
        let mut command = strata(&self.config, &self.dir.join("workers.log"))?;
        let scratch = self.dir.join("scratch");
        command
            .arg("worker")
            .args(["--endpoint", &self.endpoint, "--workspace", &self.slug, "--pipeline", pipeline, "--id", id])
            .args(self.config.runner.worker_args())
            .args(["--tenant", &self.workspace_id.to_string()])
            .arg("--scratch")
            .arg(&scratch)
            .arg("--supervised")
            // The CLI's own config file is not for workers.
            .env("STRATA_CONFIG", self.dir.join("worker-cli.toml"))
            // A credential for this pipeline's tasks only, never the secret.
            .env("STRATA_TOKEN", self.credentials.worker(pipeline));
        Ok(command)
    }
}

/// Drops workers that exited; returns how many did.
fn reap(workers: &mut Vec<WorkerProcess>) -> usize {
    let before = workers.len();
    workers.retain_mut(|worker| {
        let exited = worker.exited();
        if exited {
            tracing::debug!(worker = %worker.id, "worker exited");
        }
        !exited
    });
    before - workers.len()
}
