//! The worker runtime behind `strata worker`: pulls datum tasks of one
//! pipeline from the server, runs each datum's command in a
//! [`Sandbox`](strata_sandbox::Sandbox) with its inputs at `/pfs/<input>`
//! and its output at `/pfs/out`, uploads the output and reports the result.
//!
//! One task at a time, one datum at a time: parallelism comes from running
//! more workers. A task's life (see [`task`]):
//!
//! 1. `POST /tasks/pull` hands out a task; a heartbeat keeps its lease from
//!    then until its result is posted.
//! 2. The task's input tar is unpacked into `<scratch>/<worker>/task-<n>/`,
//!    one directory per datum (`inputs/<index>/<input name>/<path>`), which
//!    becomes that datum's sandbox root.
//! 3. Each datum runs up to `datum_tries` times; on success its `out/` is
//!    uploaded into the job's output commit right away, so outputs are
//!    attributable per datum. After the last failed try `err_cmd` may
//!    recover it (no outputs then).
//! 4. The results of all datums are posted together; the scratch directory
//!    is removed.
//!
//! A failed datum does not stop the task: the remaining datums still run,
//! and the server decides what a failure means for the job. A 410 from any
//! call of the task (the job is over, or the lease passed to another worker)
//! abandons the task at once: the running command is killed and nothing is
//! posted. So does the worker's stop token: a task cut short is delivered
//! again by the server once its lease expires.

mod datum;
mod inputs;
mod outputs;
mod retry;
mod runner;
mod task;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strata_api_types::pps::{PullTask, TaskAssignment, TaskHeartbeat, WorkerLeaving};
use strata_client::{ClientError, Workspace};
use strata_core::error::display_chain;
use strata_sandbox::{Confinement, ContainerRuntime, HelperCommand, IsolationMode, Sandbox};
use tokio_util::sync::CancellationToken;

use retry::Backoff;
use runner::Runner;

/// How long a pull waits for work by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// How long a stopping worker waits for its pull to end after saying it
/// leaves (the server ends it within a second).
const LEAVE_WITHIN: Duration = Duration::from_secs(5);

/// How long [`spawn_embedded`] waits before running a failed worker again.
const RESTART_AFTER: Duration = Duration::from_secs(5);

/// Jobs remembered as already told about this worker's isolation; the set is
/// cleared when it grows past this (the note is then repeated, harmlessly).
const NOTED_JOBS: usize = 1024;

/// Everything a worker needs. Build it with [`WorkerConfig::new`] and adjust
/// the fields.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The server and workspace the pipeline lives in.
    pub workspace: Workspace,
    /// The pipeline whose tasks this worker runs.
    pub pipeline: String,
    /// Names this worker to the queue; unique among the pipeline's workers.
    /// Also names its scratch directory, which it owns (see `scratch_dir`).
    pub worker_id: String,
    /// What isolation to ask the sandbox for. `Namespace` (what provisioned workspaces'
    /// workers run with) never runs user code unconfined: if the sandbox cannot be made,
    /// the worker still takes tasks and fails their datums with the reason.
    pub isolation: IsolationMode,
    /// The workspace's stable identity (its id where known, else its slug): user code
    /// runs as the uid derived from it (see [`strata_sandbox::tenant_uid`]).
    pub tenant: String,
    /// How to start the sandbox's helper (`strata __sandbox`).
    pub sandbox_helper: HelperCommand,
    /// What runs the datums; with anything but [`RunnerKind::Process`],
    /// `isolation` and `sandbox_helper` are unused.
    pub runner: RunnerKind,
    /// The worker keeps its files in `<scratch_dir>/<worker_id>/`, which it
    /// empties when it starts and removes when it stops. Must not be a file
    /// system mounted after the worker started (see `strata_sandbox`).
    pub scratch_dir: PathBuf,
    /// How long one pull may wait for work before asking again.
    pub wait: Duration,
}

impl WorkerConfig {
    /// A worker of `pipeline` with a [`default_worker_id`], automatic
    /// isolation, the workspace's slug as its tenant, scratch space in the
    /// system's temporary directory and [`DEFAULT_WAIT`].
    pub fn new(workspace: Workspace, pipeline: &str, sandbox_helper: HelperCommand) -> Self {
        WorkerConfig {
            tenant: workspace.slug().to_owned(),
            workspace,
            pipeline: pipeline.to_owned(),
            worker_id: default_worker_id(),
            isolation: IsolationMode::Auto,
            sandbox_helper,
            runner: RunnerKind::Process,
            scratch_dir: std::env::temp_dir().join("strata-worker"),
            wait: DEFAULT_WAIT,
        }
    }
}

/// What runs a worker's datums.
#[derive(Debug, Clone)]
pub enum RunnerKind {
    /// The process runner: the sandbox helper in namespaces of its own.
    Process,
    /// A container of each task's image, started with this runtime.
    Container(ContainerRuntime),
    /// The user container of this worker's pod (see [`strata_sandbox::pod`]).
    Pod(PodRunner),
    /// Nothing may run here: every datum fails with this reason, which says
    /// what to install or set. The worker still takes tasks, so that jobs
    /// end with the reason instead of waiting for ever.
    Refused(String),
}

/// The user container next to a worker in its pod.
#[derive(Debug, Clone)]
pub struct PodRunner {
    /// Where its helper listens.
    pub socket: PathBuf,
    /// The image the pod's user container was made from, as the provisioner put it
    /// in the pod (by digest once a job pinned one).
    pub image: String,
}

/// How long a pod's worker waits between attempts to reach the helper of its user
/// container, which the cluster may still be pulling.
const POD_HELPER_RETRY: Duration = Duration::from_secs(2);

/// `<host name>-<process id>`: unique per process on a machine and
/// recognisable in logs.
pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Why a worker stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker's scratch directory cannot be made or emptied.
    #[error("cannot prepare the scratch directory {}", path.display())]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The server refused to hand out tasks for good (e.g. no such pipeline,
    /// or not allowed); transient failures are retried instead.
    #[error("the server refused tasks of pipeline `{pipeline}`")]
    Pull {
        pipeline: String,
        #[source]
        source: ClientError,
    },
}

impl WorkerError {
    /// Whether the operator can fix it (configuration, flags, permissions)
    /// rather than the server or the machine having failed.
    pub fn is_user_error(&self) -> bool {
        match self {
            WorkerError::Scratch { .. } => true,
            WorkerError::Pull { source, .. } => source.is_user_error(),
        }
    }
}

/// Runs a worker until `stop` is cancelled (then `Ok`) or it cannot go on.
/// Transient server errors are retried with backoff, never returned.
pub async fn run(config: WorkerConfig, stop: CancellationToken) -> Result<(), WorkerError> {
    let home = config.scratch_dir.join(dir_name(&config.worker_id));
    empty_dir(&home).await?;
    let runner = match &config.runner {
        RunnerKind::Container(runtime) => Runner::Container {
            runtime: runtime.clone(),
            confinement: Confinement::for_workspace(&config.tenant, &home),
            tenant: config.tenant.clone(),
            current: None,
        },
        RunnerKind::Process => Runner::Process(Box::new(start_sandbox(&config, &home).await)),
        RunnerKind::Refused(reason) => Runner::Process(Box::new(Sandbox::refusing(reason.clone()))),
        RunnerKind::Pod(pod) => {
            let confinement = Confinement::for_workspace(&config.tenant, &home);
            let Some(sandbox) = connect_pod(pod, &confinement, &stop).await else {
                return Ok(());
            };
            Runner::Pod { sandbox: Box::new(sandbox), image: pod.image.clone() }
        }
    };
    let note = runner.process().and_then(|sandbox| isolation_note(sandbox, &home));
    match &note {
        Some(note) => tracing::warn!(worker = %config.worker_id, "{note}"),
        None => tracing::info!(worker = %config.worker_id, isolation = %runner.isolation(), "worker started"),
    }
    let mut worker = Worker { config, runner, home, note, noted_jobs: HashSet::new(), tasks: 0 };
    let result = worker.serve(&stop).await;
    let Worker { runner, home, config, .. } = worker;
    runner.close().await;
    if let Err(error) = tokio::fs::remove_dir_all(&home).await {
        tracing::warn!(path = %home.display(), error = %error, "cannot remove the worker's scratch directory");
    }
    tracing::info!(worker = %config.worker_id, "worker stopped");
    result
}

/// The worker's sandbox. Where confinement is required and cannot be had, a sandbox that
/// refuses every datum: the worker goes on taking tasks so that their jobs fail with a
/// reason that says what to do, rather than exiting (and being restarted for ever while
/// the jobs wait) or running tenant code unconfined.
async fn start_sandbox(config: &WorkerConfig, home: &Path) -> Sandbox {
    let confinement = Confinement::for_workspace(&config.tenant, home);
    match Sandbox::start(config.isolation, config.sandbox_helper.clone(), &confinement).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            let reason = display_chain(&error);
            tracing::error!(
                worker = %config.worker_id, pipeline = %config.pipeline, reason = %reason,
                "cannot confine user code; this worker fails every datum until it is fixed"
            );
            Sandbox::refusing(reason)
        }
    }
}

/// Waits until the pod's user container answers (the cluster may still be pulling its
/// image), so that no task is taken before its datums can run; `None` if told to stop
/// first.
async fn connect_pod(pod: &PodRunner, confinement: &Confinement, stop: &CancellationToken) -> Option<Sandbox> {
    let mut attempts = 0u32;
    loop {
        match Sandbox::connect_pod(&pod.socket, confinement).await {
            Ok(sandbox) => return Some(sandbox),
            Err(error) => {
                // Once a minute is enough to see why a pod never gets going.
                if attempts.is_multiple_of(30) {
                    tracing::warn!(socket = %pod.socket.display(), error = %display_chain(&error), "waiting for the user container's helper");
                }
                attempts += 1;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POD_HELPER_RETRY) => {}
            () = stop.cancelled() => return None,
        }
    }
}

/// Runs a worker in this process, e.g. inside the server, until `stop` is
/// cancelled. A worker that fails is logged and started again after a pause.
pub fn spawn_embedded(config: WorkerConfig, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run(config.clone(), stop.clone()).await {
                Ok(()) => return,
                Err(error) => tracing::error!(
                    pipeline = %config.pipeline,
                    worker = %config.worker_id,
                    error = %display_chain(&error),
                    "embedded worker failed; restarting it in {}s",
                    RESTART_AFTER.as_secs()
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(RESTART_AFTER) => {}
                () = stop.cancelled() => return,
            }
        }
    })
}

/// A running worker: its configuration, sandbox and scratch space.
#[derive(Debug)]
struct Worker {
    config: WorkerConfig,
    runner: Runner,
    home: PathBuf,
    /// What to tell each job about this worker's isolation, if anything.
    note: Option<String>,
    /// Jobs already given `note`.
    noted_jobs: HashSet<String>,
    /// Tasks started so far; names their scratch directories.
    tasks: u64,
}

impl Worker {
    /// Pulls and runs tasks until `stop`.
    async fn serve(&mut self, stop: &CancellationToken) -> Result<(), WorkerError> {
        let mut backoff = Backoff::default();
        let request = PullTask {
            pipeline: self.config.pipeline.clone(),
            worker: self.config.worker_id.clone(),
            wait_ms: u64::try_from(self.config.wait.as_millis()).unwrap_or(u64::MAX),
        };
        loop {
            let pulled = {
                let pull = self.config.workspace.task_pull(&request);
                tokio::pin!(pull);
                tokio::select! {
                    pulled = &mut pull => pulled,
                    () = stop.cancelled() => {
                        self.leave(&request, pull).await;
                        return Ok(());
                    }
                }
            };
            match pulled {
                Ok(Some(task)) => {
                    if let Some(reason) = self.runner.cannot_run(&task.transform) {
                        tracing::warn!(job = %task.job, %reason, "handing the task back for a worker that can run it");
                        hand_back(&self.config.workspace, &task, &self.config.worker_id).await;
                        if !backoff.wait(stop).await {
                            return Ok(());
                        }
                        continue;
                    }
                    backoff.reset();
                    self.tasks += 1;
                    self.run_task(task, stop).await;
                }
                Ok(None) => backoff.reset(),
                Err(error) if retry::is_transient(&error) => {
                    tracing::warn!(pipeline = %request.pipeline, error = %display_chain(&error), "cannot pull a task; retrying");
                    if !backoff.wait(stop).await {
                        return Ok(());
                    }
                }
                Err(source) => return Err(WorkerError::Pull { pipeline: request.pipeline, source }),
            }
            if stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// Stops while a pull waits. Dropping the request would not end it: the
    /// server would go on waiting and could hand the next task to this
    /// worker after it is gone, where it would sit until its lease ran out.
    /// So the worker tells the server it is leaving, lets the pull end, and
    /// hands back a task that reached it meanwhile.
    async fn leave(&self, request: &PullTask, pull: impl Future<Output = Result<Option<TaskAssignment>, ClientError>>) {
        let ws = &self.config.workspace;
        let leaving = WorkerLeaving { pipeline: request.pipeline.clone(), worker: request.worker.clone() };
        let ended = async {
            if let Err(error) = ws.task_leave(&leaving).await {
                tracing::debug!(error = %display_chain(&error), "could not tell the server this worker is leaving");
            }
            pull.await
        };
        match tokio::time::timeout(LEAVE_WITHIN, ended).await {
            Ok(Ok(Some(task))) => hand_back(ws, &task, &request.worker).await,
            Ok(Ok(None) | Err(_)) => {}
            Err(_) => {
                tracing::warn!(worker = %request.worker, "the server did not end this worker's pull in time; leaving anyway");
            }
        }
    }

    /// The notes for a task result of `job`: the isolation note the first
    /// time this worker reports to the job.
    fn notes_for(&mut self, job: &str) -> Vec<String> {
        let Some(note) = &self.note else { return Vec::new() };
        if self.noted_jobs.len() >= NOTED_JOBS {
            self.noted_jobs.clear();
        }
        if self.noted_jobs.insert(job.to_owned()) {
            vec![format!("worker {}: {note}", self.config.worker_id)]
        } else {
            Vec::new()
        }
    }
}

/// Gives a task back unrun, so the next worker gets it at once. If that
/// fails, the task comes back when its lease runs out.
async fn hand_back(ws: &Workspace, task: &TaskAssignment, worker: &str) {
    let release = TaskHeartbeat { delivery: task.delivery.clone(), worker: worker.to_owned() };
    match ws.task_release(&release).await {
        Ok(()) => tracing::info!(job = %task.job, worker, "handed a task back unrun"),
        Err(error) => tracing::warn!(
            job = %task.job, worker, error = %display_chain(&error),
            "could not hand a task back; it is redelivered when its lease runs out"
        ),
    }
}

/// The job-log line that says user code runs unconfined (scratch mode, chosen by `auto`).
fn isolation_note(sandbox: &Sandbox, home: &Path) -> Option<String> {
    let reason = sandbox.fallback_reason()?;
    Some(format!(
        "USER CODE IS NOT ISOLATED: the sandbox cannot confine it ({reason}), so it runs as the worker's \
         user with the worker's files and network, and finds its datum under $PFS=<scratch> below {} \
         instead of /pfs. Fine for a laptop's `strata dev`, never for a shared machine: run the worker \
         as root on Linux, or with `--isolation namespace` to refuse instead",
        home.display()
    ))
}

/// Removes whatever a previous worker of the same id left and creates the
/// directory afresh.
async fn empty_dir(path: &Path) -> Result<(), WorkerError> {
    let failed = |source| WorkerError::Scratch { path: path.to_path_buf(), source };
    match tokio::fs::remove_dir_all(path).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(error)),
    }
    tokio::fs::create_dir_all(path).await.map_err(failed)
}

/// A worker id as one safe path component.
fn dir_name(worker_id: &str) -> String {
    let name: String = worker_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    match name.as_str() {
        "" | "." | ".." => format!("worker{name}"),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_become_single_path_components() {
        assert_eq!(dir_name("host-12"), "host-12");
        assert_eq!(dir_name("a/b c"), "a_b_c");
        assert_eq!(dir_name(".."), "worker..");
        assert_eq!(dir_name(""), "worker");
    }

    #[test]
    fn the_default_worker_id_names_the_process() {
        assert!(default_worker_id().ends_with(&format!("-{}", std::process::id())));
    }
}
