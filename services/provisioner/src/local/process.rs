//! Child processes of the local backend: workspace servers and workers.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strata_core::workspace_server::{LISTENING_PREFIX, WorkspaceServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::LocalConfig;
use super::workers::LocalWorkers;
use crate::error::{ProvisionerError, Result};
use crate::plans::PlanQuota;
use crate::scaling::Scaler;

/// How long a child may take to exit after being asked to.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A command for the `strata` binary with none of the provisioner's own
/// `STRATA_*` settings leaking in.
pub(super) fn strata(config: &LocalConfig, log: &Path) -> Result<Command> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ProvisionerError::retryable("StorageError", format!("cannot open {}: {e}", log.display())))?;
    let mut command = Command::new(&config.binary);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("STRATA_") {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(log).kill_on_drop(true);
    Ok(command)
}

/// A running workspace server and the autoscaler of its workers.
#[derive(Debug)]
pub(super) struct ServerProcess {
    pub endpoint: String,
    stop: CancellationToken,
    exited: Arc<AtomicBool>,
    watcher: JoinHandle<()>,
    pool: Option<JoinHandle<()>>,
    /// The plan's quota, as the autoscaler sees it.
    quota: Option<tokio::sync::watch::Sender<PlanQuota>>,
    http: reqwest::Client,
    /// A hash of the service secret the server was started with: a rotated
    /// secret needs a new server (and new worker credentials).
    secret_digest: blake3::Hash,
}

impl ServerProcess {
    /// Starts a server and waits until it listens.
    pub async fn spawn(
        config: &LocalConfig,
        server: &WorkspaceServerConfig,
        dir: &Path,
        changes: Arc<Notify>,
    ) -> Result<ServerProcess> {
        let mut command = strata(config, &dir.join("server.log"))?;
        command.arg("__workspace-server").stdout(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            ProvisionerError::permanent("ExecutableMissing", format!("cannot run {}: {e}", config.binary.display()))
        })?;
        let mut stdin = child.stdin.take().ok_or_else(|| ProvisionerError::retryable("SpawnError", "no stdin"))?;
        let mut line = serde_json::to_string(server).map_err(|e| ProvisionerError::Config(e.to_string()))?;
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| ProvisionerError::retryable("SpawnError", format!("workspace server exited at once: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| ProvisionerError::retryable("SpawnError", "no stdout"))?;
        let address = match tokio::time::timeout(config.start_timeout, listening_address(stdout)).await {
            Ok(Ok(address)) => address,
            Ok(Err(message)) => {
                let _ = child.kill().await;
                return Err(ProvisionerError::retryable("ServerStartFailed", format!("{message}; see server.log")));
            }
            Err(_) => {
                let _ = child.kill().await;
                let message = format!("the workspace server did not listen within {:?}", config.start_timeout);
                return Err(ProvisionerError::retryable("ServerStartTimeout", message));
            }
        };
        let stop = CancellationToken::new();
        let exited = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(watch(child, stdin, stop.clone(), exited.clone(), changes));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| ProvisionerError::Config(e.to_string()))?;
        Ok(ServerProcess {
            secret_digest: blake3::hash(server.service_secret.as_bytes()),
            endpoint: format!("http://{address}"),
            stop,
            exited,
            watcher,
            pool: None,
            quota: None,
            http,
        })
    }

    /// The channel through which the autoscaler learns of plan changes.
    pub fn quota_updates(&mut self, quota: PlanQuota) -> tokio::sync::watch::Receiver<PlanQuota> {
        let (sender, receiver) = tokio::sync::watch::channel(quota);
        self.quota = Some(sender);
        receiver
    }

    /// A new plan's quota for the autoscaler, read at its next tick.
    pub fn set_quota(&self, quota: PlanQuota) {
        if let Some(sender) = &self.quota {
            sender.send_replace(quota);
        }
    }

    /// Starts the worker autoscaler of this server.
    pub fn attach_scaler(&mut self, scaler: Scaler, workers: LocalWorkers) {
        self.pool = Some(tokio::spawn(scaler.run(workers, self.stop.child_token())));
    }

    /// True when the server was started with `secret` (compared as hashes).
    pub fn holds_secret(&self, secret: &str) -> bool {
        self.secret_digest == blake3::hash(secret.as_bytes())
    }

    /// The process runs and answers its health check (which needs no
    /// credential: the service secret never travels).
    pub async fn healthy(&self) -> bool {
        if self.exited.load(Ordering::SeqCst) {
            return false;
        }
        let url = format!("{}/healthz", self.endpoint);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    /// Stops the workers, then the server, and waits for both.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Some(pool) = self.pool {
            let _ = pool.await;
        }
        let _ = self.watcher.await;
    }
}

/// Reads the child's standard output up to its "listening" line, then
/// keeps draining it in the background.
async fn listening_address(stdout: tokio::process::ChildStdout) -> Result<String, String> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Some(address) = line.strip_prefix(LISTENING_PREFIX) {
                    let address = address.trim().to_owned();
                    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                    return Ok(address);
                }
            }
            Ok(None) => return Err("the workspace server exited before listening".to_owned()),
            Err(error) => return Err(format!("cannot read the workspace server's output: {error}")),
        }
    }
}

/// Owns a server process: notes when it exits on its own, and on `stop`
/// closes its standard input (its signal to shut down) and waits.
async fn watch(
    mut child: Child,
    stdin: ChildStdin,
    stop: CancellationToken,
    exited: Arc<AtomicBool>,
    changes: Arc<Notify>,
) {
    tokio::select! {
        status = child.wait() => {
            exited.store(true, Ordering::SeqCst);
            tracing::warn!(?status, "a workspace server exited");
            changes.notify_one();
        }
        () = stop.cancelled() => {
            drop(stdin);
            finish(&mut child).await;
            exited.store(true, Ordering::SeqCst);
        }
    }
}

/// Waits for a child asked to stop, killing it after the grace period.
pub(super) async fn finish(child: &mut Child) {
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// A `strata worker` process for one pipeline.
#[derive(Debug)]
pub(super) struct WorkerProcess {
    pub id: String,
    child: Child,
    /// Held open: the worker exits when it closes.
    stdin: Option<ChildStdin>,
}

impl WorkerProcess {
    pub fn spawn(mut command: Command, id: String) -> Result<WorkerProcess> {
        let mut child = command
            .spawn()
            .map_err(|e| ProvisionerError::retryable("WorkerStartFailed", format!("cannot start a worker: {e}")))?;
        let stdin = child.stdin.take();
        Ok(WorkerProcess { id, child, stdin })
    }

    /// True once the process has exited (crashed or finished).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks the worker to stop after handing back its current task
    /// (SIGTERM), and makes sure it is gone within the grace period.
    pub fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        tokio::spawn(async move {
            finish(&mut self.child).await;
            drop(self.stdin.take());
        });
    }
}
