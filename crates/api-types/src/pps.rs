//! PPS bodies: pipelines, jobs, datums, logs, and the worker protocol.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /pps/pipelines`: the spec file's text (JSON or YAML, one or
/// more specs); the server parses it so errors name the field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatePipeline {
    pub spec: String,
    /// Replace existing pipelines of the same name (else they conflict).
    #[serde(default)]
    pub update: bool,
    /// Give the pipeline a new salt so every datum runs again.
    #[serde(default)]
    pub reprocess: bool,
    /// How `spec` is written; when absent, text starting with `{` or `[`
    /// is JSON and anything else YAML. Only that parser is tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SpecFormat>,
}

/// The language of a spec's text: the server parses it with this parser
/// and no other, so a spec is never parsed twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecFormat {
    Json,
    Yaml,
}

impl SpecFormat {
    /// From a file name's extension: `.json`, `.yaml` or `.yml`
    /// (any case); `None` for others, which leaves the choice to the server.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (_, extension) = name.rsplit_once('.')?;
        match extension.to_ascii_lowercase().as_str() {
            "json" => Some(SpecFormat::Json),
            "yaml" | "yml" => Some(SpecFormat::Yaml),
            _ => None,
        }
    }
}

/// `GET /pps/load`: the work waiting in one pipeline, which the
/// autoscaler turns into a number of workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineLoad {
    pub pipeline: String,
    /// Datums of unfinished jobs not yet done (queued or in flight).
    pub outstanding_datums: u64,
    /// `parallelism_spec.constant`: the pipeline's most workers.
    pub parallelism: u32,
    /// Whether the pipeline may go down to zero workers while idle.
    pub autoscaling: bool,
    /// A stopped pipeline needs no workers.
    pub stopped: bool,
    /// `transform.image`: what the pipeline's workers run in.
    #[serde(default)]
    pub image: String,
    /// Workers holding a datum now, sorted; scale-down spares them.
    #[serde(default)]
    pub busy_workers: Vec<String>,
    /// What the pipeline's worker pods are made of, where a cluster makes them.
    #[serde(default)]
    pub pod: WorkerPod,
    /// Whether a cron input makes commits on its own schedule: the
    /// workspace server must keep running for it, so it never sleeps.
    #[serde(default)]
    pub scheduled: bool,
}

/// A pipeline's worker pod as its effective spec and jobs describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPod {
    /// The image of the user container: by digest where the oldest unfinished
    /// job pinned one, else `transform.image`.
    pub image: String,
    /// `transform.user`; `None`: the runner's default non-root user.
    pub user: Option<u32>,
    /// `resource_requests`.
    pub requests: PodResources,
    /// `resource_limits`.
    pub limits: PodResources,
    /// Changes whenever what the pods' secrets hold may have: the secrets the
    /// spec uses and when each was last written. `None`: the pods use none.
    pub secrets_version: Option<String>,
}

/// Compute resources of a worker pod's user container; `None` is unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodResources {
    /// Thousandths of a core.
    pub millicpus: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// Ephemeral storage.
    pub disk_bytes: Option<u64>,
    pub gpu: Option<PodGpu>,
}

/// GPUs of a Kubernetes extended resource, e.g. `nvidia.com/gpu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodGpu {
    pub resource: String,
    pub count: u32,
}

/// A pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineInfo {
    pub name: String,
    pub description: String,
    /// `running` or `paused`.
    pub state: String,
    /// 1 for a new pipeline, +1 per update.
    pub version: i32,
    /// The effective spec (defaults filled in).
    pub spec: serde_json::Value,
    /// Repos (`repo@branch`) the pipeline reads.
    pub inputs: Vec<String>,
    pub output_repo: String,
    pub parallelism: u32,
    pub created_at: String,
    pub updated_at: String,
    pub last_job: Option<JobSummary>,
}

/// A job's id and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: String,
    pub state: JobState,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Created,
    Starting,
    Running,
    Finishing,
    Success,
    Failure,
    Killed,
    Unrunnable,
}

impl JobState {
    /// The name as in JSON, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Starting => "STARTING",
            JobState::Running => "RUNNING",
            JobState::Finishing => "FINISHING",
            JobState::Success => "SUCCESS",
            JobState::Failure => "FAILURE",
            JobState::Killed => "KILLED",
            JobState::Unrunnable => "UNRUNNABLE",
        }
    }

    /// True once the job can no longer change (what a client waiting on a
    /// job checks; PPS decides with its own `JobState`).
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Success | JobState::Failure | JobState::Killed | JobState::Unrunnable)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Datums of a job by state. `total` = processed + skipped + failed +
/// recovered + those not yet done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatumCounts {
    pub total: u64,
    pub processed: u64,
    pub skipped: u64,
    pub failed: u64,
    pub recovered: u64,
}

/// Time and bytes a job's datums spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub download_secs: f64,
    pub process_secs: f64,
    pub upload_secs: f64,
    /// CPU time (user + system) its datums' commands used.
    #[serde(default)]
    pub cpu_secs: f64,
}

/// What one batch of datum results used: a row of the usage outbox billing
/// meters (`GET /pps/usage/records`, for billing's credential only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Increases with each record; billing reads on from the last it saw.
    pub seq: i64,
    pub pipeline: String,
    pub job: String,
    pub datums: u64,
    pub cpu_ms: u64,
    /// Wall time of the datums' commands (memory is held this long).
    pub process_ms: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// What one pipeline's datums used over a span of time (from the records
/// billing meters, so the two always agree).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineUsage {
    pub pipeline: String,
    /// Jobs with datums recorded in the span.
    pub jobs: u64,
    pub datums: u64,
    /// CPU time (user + system) of the datums' commands.
    pub cpu_secs: f64,
    /// Wall time of the datums' commands (a worker's memory is held this long).
    pub process_secs: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A failed datum as `job inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedDatum {
    pub id: String,
    pub exit: String,
    /// The last lines the datum printed.
    pub log_tail: String,
}

/// A job: one run of a pipeline for one output commit. Its id is the
/// commit set id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: String,
    pub pipeline: String,
    pub state: JobState,
    pub reason: Option<String>,
    pub spec_version: i32,
    pub datums: DatumCounts,
    pub stats: JobStats,
    /// `repo@commit` of every input.
    pub inputs: Vec<String>,
    pub output_commit: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Seconds from start to finish (or to now while running).
    pub duration_secs: Option<f64>,
    /// The image the job's datums ran in, pinned by digest
    /// (`registry/name@sha256:…`); `None` where images are not resolved
    /// (the process runner) or the job has not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// What ran its datums, as its workers reported: `container` (its
    /// image, literal `/pfs`), `namespace` or `scratch` (processes on the
    /// worker's machine); `None` until a task reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_datums: Vec<FailedDatum>,
}

/// What happened to a datum in a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatumState {
    /// Not done yet.
    Pending,
    Processed,
    Skipped,
    Failed,
    Recovered,
}

impl DatumState {
    /// The name as in JSON and in `?state=`, e.g. `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatumState::Pending => "pending",
            DatumState::Processed => "processed",
            DatumState::Skipped => "skipped",
            DatumState::Failed => "failed",
            DatumState::Recovered => "recovered",
        }
    }
}

/// One input file or directory of a datum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatumInput {
    /// The input's name: the program reads `/pfs/<name>/<path>`.
    pub name: String,
    pub repo: String,
    pub commit: String,
    pub path: String,
    /// The join or group key, when the input has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Timings of one datum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DatumStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub download_secs: f64,
    pub process_secs: f64,
    pub upload_secs: f64,
    /// CPU time (user + system) of its command and what it started.
    #[serde(default)]
    pub cpu_secs: f64,
}

/// A datum of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatumInfo {
    pub id: String,
    pub job: String,
    pub state: DatumState,
    pub inputs: Vec<DatumInput>,
    pub attempts: u32,
    /// `exit 0`, `exit 2`, `signal 9`, `timed out` — the last attempt.
    pub exit: Option<String>,
    pub stats: DatumStats,
    /// Output paths it wrote.
    pub outputs: Vec<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Its log (`datum inspect` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// One log line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct LogLine {
    /// Position for `?after=` when following.
    pub cursor: u64,
    pub ts: String,
    pub pipeline: String,
    pub job: Option<String>,
    pub datum: Option<String>,
    /// True when the user's program printed it.
    pub user: bool,
    pub message: String,
}

// ---- worker protocol ---------------------------------------------

/// `POST /pps/tasks/pull`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullTask {
    pub pipeline: String,
    /// A name unique to the worker process (the queue's consumer).
    pub worker: String,
    /// How long the server may hold the request waiting for work.
    pub wait_ms: u64,
}

/// `POST /pps/tasks/leave`: the worker is stopping; its waiting pull
/// should end without a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerLeaving {
    pub pipeline: String,
    pub worker: String,
}

/// A set of datums of one job handed to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskAssignment {
    /// Opaque; sent back with heartbeats and the result.
    pub delivery: String,
    pub pipeline: String,
    pub job: String,
    pub output_repo: String,
    pub transform: TaskTransform,
    pub datum_tries: u32,
    pub datum_timeout_ms: Option<u64>,
    /// Milliseconds within which the worker must heartbeat.
    pub lease_ms: u64,
    pub datums: Vec<TaskDatum>,
    /// The W3C `traceparent` of the request that started the job's commit
    /// set, when the server still knows it: the worker's span for the task
    /// continues that trace.
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// What to run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskTransform {
    /// The image the command runs in, where the worker runs containers.
    #[serde(default)]
    pub image: String,
    /// The pipeline's `resource_limits`, applied to its container.
    #[serde(default)]
    pub limits: TaskLimits,
    pub cmd: Vec<String>,
    pub stdin: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub err_cmd: Vec<String>,
    pub err_stdin: Vec<String>,
    /// `transform.user`: the uid the command runs as in its container.
    #[serde(default)]
    pub user: Option<u32>,
    /// `transform.working_dir`: where the command starts, in the image.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `transform.accept_return_code`: exit codes besides 0 that count as success.
    #[serde(default)]
    pub accept_return_codes: Vec<i32>,
    /// The values of `transform.secrets`, resolved from the workspace's secrets.
    #[serde(default)]
    pub secrets: TaskSecrets,
}

impl TaskTransform {
    /// Whether a command that exited with `code` succeeded.
    pub fn accepts(&self, code: i32) -> bool {
        code == 0 || self.accept_return_codes.contains(&code)
    }
}

/// A pipeline's secrets as its task carries them: variables and files, and
/// the registry credentials for pulling its image. Only ever sent to the
/// pipeline's own workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSecrets {
    /// Environment variables set from secret keys.
    #[serde(default)]
    pub env: BTreeMap<String, SecretText>,
    /// Files written from secret keys, by absolute path in the container.
    #[serde(default)]
    pub files: BTreeMap<String, SecretText>,
    /// A registry credentials file (the `auths` of a Docker `config.json`),
    /// merged from `image_pull_secrets`.
    #[serde(default)]
    pub pull_auth: Option<SecretText>,
}

impl TaskSecrets {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.files.is_empty() && self.pull_auth.is_none()
    }
}

/// A secret's value: serialised as is, but never shown by `Debug`, so it
/// cannot reach a log line by accident.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// `PUT /pps/secrets/{name}`: a secret's values by key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PutSecret {
    pub data: BTreeMap<String, SecretText>,
    /// Replace an existing secret's values instead of refusing.
    #[serde(default)]
    pub overwrite: bool,
}

/// A workspace secret as every call shows it: never its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub name: String,
    /// Its key names, sorted.
    pub keys: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a pipeline's container may use (from `resource_limits`); `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLimits {
    pub memory_bytes: Option<u64>,
    /// Thousandths of a core.
    pub millicpus: Option<u64>,
    /// `disk`: the size of the container's writable `/tmp`.
    #[serde(default)]
    pub disk_bytes: Option<u64>,
}

/// One datum of a task; its inputs arrive in the task's input tar
/// under `<index>/<input name>/<path>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDatum {
    pub id: String,
    pub index: u32,
    pub inputs: Vec<DatumInput>,
}

/// `POST /pps/tasks/heartbeat`, and `POST /pps/tasks/release` to hand
/// a task back unrun.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskHeartbeat {
    pub delivery: String,
    pub worker: String,
}

/// `POST /pps/tasks/result`: the outcome of every datum of a task,
/// sent after the outputs were uploaded to the job's output commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResult {
    pub delivery: String,
    pub worker: String,
    pub datums: Vec<DatumResult>,
    /// Lines for the job's log (e.g. which isolation the worker uses).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What ran the datums (see [`JobInfo::runner`]).
    #[serde(default)]
    pub runner: Option<String>,
}

/// The outcome of one datum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatumResult {
    pub id: String,
    /// `processed`, `failed` or `recovered`.
    pub state: DatumState,
    pub attempts: u32,
    pub exit: Option<String>,
    pub stats: DatumStats,
    pub outputs: Vec<String>,
    pub log: String,
    pub started_at: String,
    pub finished_at: String,
}
