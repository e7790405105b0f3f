//! What runs beside the HTTP server: each workspace's PPS master, and the
//! embedded workers `strata dev` uses so pipelines run with no other
//! process. Embedded workers talk to this server over loopback HTTP, the
//! same protocol `strata worker` uses, so both paths are one code path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use strata_client::StrataClient;
use strata_sandbox::config::SandboxSettings;

use crate::config::EmbeddedWorkers;
use strata_pps::Pps;
use strata_pps::http::PpsWorkspaces;
use strata_sandbox::HelperCommand;
use strata_worker::{RunnerKind, WorkerConfig, spawn_embedded};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the supervisor matches workers to pipelines.
const RECONCILE: Duration = Duration::from_secs(1);

/// How many embedded workers run per pipeline, and how they isolate datums.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedWorkerSettings {
    pub workers: EmbeddedWorkers,
    pub sandbox: SandboxSettings,
}

/// Masters and embedded workers, not yet started.
#[derive(Debug)]
pub(crate) struct Background {
    workspaces: Vec<(String, Pps)>,
    port: u16,
    config: EmbeddedWorkerSettings,
    scratch: PathBuf,
    /// How embedded workers authenticate to this server.
    token: String,
}

/// Started background tasks.
pub(crate) struct Running {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    pub fn new(
        pipelines: &PpsWorkspaces,
        port: u16,
        config: EmbeddedWorkerSettings,
        scratch: PathBuf,
        token: String,
    ) -> Self {
        let workspaces = pipelines.iter().map(|(slug, pps)| (slug.clone(), pps.clone())).collect();
        Self { workspaces, port, config, scratch, token }
    }

    pub fn start(&self, stop: CancellationToken) -> Running {
        let mut tasks = Vec::new();
        for (slug, pps) in &self.workspaces {
            tasks.push(tokio::spawn(pps.clone().run_master(stop.child_token())));
            if self.config.workers != EmbeddedWorkers::Fixed(0) {
                let supervisor = Supervisor {
                    slug: slug.clone(),
                    pps: pps.clone(),
                    address: format!("http://127.0.0.1:{}", self.port),
                    config: self.config.clone(),
                    scratch: self.scratch.join(slug),
                    token: self.token.clone(),
                    running: HashMap::new(),
                };
                tasks.push(tokio::spawn(supervisor.run(stop.child_token())));
            }
        }
        Running { stop, tasks }
    }
}

impl Running {
    /// Stops everything and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Keeps the embedded workers of one workspace in step with its pipelines.
struct Supervisor {
    slug: String,
    pps: Pps,
    address: String,
    config: EmbeddedWorkerSettings,
    scratch: PathBuf,
    token: String,
    /// Per pipeline: the workers' stop token and how many run.
    running: HashMap<String, (CancellationToken, u32)>,
}

impl Supervisor {
    async fn run(mut self, stop: CancellationToken) {
        let mut changes = self.pps.subscribe_pipelines();
        loop {
            if let Err(error) = self.reconcile(&stop).await {
                tracing::warn!(workspace = %self.slug, %error, "could not match embedded workers to pipelines");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                _ = changes.changed() => {}
                () = tokio::time::sleep(RECONCILE) => {}
            }
        }
        for (token, _) in self.running.values() {
            token.cancel();
        }
    }

    async fn reconcile(&mut self, stop: &CancellationToken) -> Result<(), strata_pps::PpsError> {
        let wanted = self.pps.pipeline_parallelism().await?;
        self.running.retain(|name, (token, count)| {
            let keep = wanted.get(name).is_some_and(|want| workers_for(&self.config, *want) == *count);
            if !keep {
                token.cancel();
            }
            keep
        });
        for (name, parallelism) in wanted {
            if self.running.contains_key(&name) {
                continue;
            }
            let count = workers_for(&self.config, parallelism);
            let token = stop.child_token();
            for n in 0..count {
                let config = self.worker_config(&name, n)?;
                spawn_embedded(config, token.clone());
            }
            self.running.insert(name, (token, count));
        }
        Ok(())
    }

    fn worker_config(&self, pipeline: &str, n: u32) -> Result<WorkerConfig, strata_pps::PpsError> {
        let client = StrataClient::new(&self.address)
            .map_err(|e| strata_pps::PpsError::Internal(e.to_string()))?
            .with_token(self.token.clone());
        let helper = self
            .config
            .sandbox
            .helper
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("strata"));
        Ok(WorkerConfig {
            workspace: client.workspace(&self.slug),
            pipeline: pipeline.to_owned(),
            worker_id: format!("embedded-{pipeline}-{n}-{}", std::process::id()),
            isolation: self.config.sandbox.isolation,
            // Embedded workspaces are this installation's own; their slug is their identity.
            tenant: self.slug.clone(),
            sandbox_helper: HelperCommand::new(helper).arg("__sandbox"),
            runner: match &self.config.sandbox.containers {
                Some(containers) => RunnerKind::Container(containers.runtime(std::env::current_exe().ok().as_deref())),
                None => RunnerKind::Process,
            },
            scratch_dir: self.scratch.clone(),
            wait: Duration::from_secs(5),
        })
    }
}

/// Workers for a pipeline of the given parallelism.
fn workers_for(config: &EmbeddedWorkerSettings, parallelism: u32) -> u32 {
    match config.workers {
        EmbeddedWorkers::Auto => parallelism.max(1),
        EmbeddedWorkers::Fixed(count) => count,
    }
}
