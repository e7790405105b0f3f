//! [`Pps`]: pipelines and their spec history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use parking_lot::Mutex;
use strata_api_types::pps::{JobSummary, PipelineInfo};
use strata_core::store::DynObjectStore;
use strata_pfs::names::BranchName;
use strata_pfs::{BranchRef, Pfs, PfsError, RepoKind, RepoName, WhenDependedOn};
use strata_queue::{Depth, TaskQueue};
use tokio::sync::Notify;

use crate::error::PpsError;
use crate::meta::{LogRow, Meta, PipelineRow};
use crate::metrics::PpsMetrics;
use crate::plan::{self, Plan};
use crate::spec::{self, PipelineSpec, Reprocess};
use crate::tasks::Lease;

/// Tunables of one workspace's PPS.
#[derive(Debug, Clone)]
pub struct PpsSettings {
    /// How long a worker may hold a task without a heartbeat.
    pub lease: Duration,
    /// Whether each job's image is pinned to its digest before it runs.
    pub images: ImagePinning,
    /// The keys the workspace's secrets are sealed with (derived from the
    /// installation's master keys); `None` keeps no secrets.
    pub secrets_keys: Option<strata_core::master_key::MasterKeys>,
}

impl Default for PpsSettings {
    fn default() -> Self {
        Self { lease: Duration::from_secs(30), images: ImagePinning::Off, secrets_keys: None }
    }
}

/// Whether jobs run on the digest their image's tag pointed at when they
/// started (asked of the registry), or on the tag as written.
#[derive(Debug, Clone, Default)]
pub enum ImagePinning {
    /// The image is not looked up: the process runner ignores it.
    #[default]
    Off,
    /// Every job records the digest, and its tasks name the image by it.
    Pin(strata_registry::Registries),
}

impl ImagePinning {
    /// Pinning that asks `plain_http` registries over HTTP, all others over HTTPS.
    pub fn pin(plain_http: Vec<String>) -> Result<ImagePinning, PpsError> {
        strata_registry::Registries::new(plain_http)
            .map(ImagePinning::Pin)
            .map_err(|e| PpsError::internal(format!("image pinning: {e}")))
    }
}

/// PPS's section of the server configuration (docs/configuration.md).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PpsConfig {
    /// How long a worker may hold a datum task without a heartbeat before
    /// another worker gets it.
    pub task_lease_secs: u64,
    /// Pin each job's image to its digest: `always` or `never`; unset, pin
    /// exactly when this server's own workers run containers.
    pub pin_images: Option<String>,
    /// Registries (`host:port`, separated by `,`) asked over plain HTTP when
    /// pinning; unset: the container runner's `insecure_registries`.
    pub plain_http_registries: Option<String>,
}

impl Default for PpsConfig {
    fn default() -> Self {
        Self { task_lease_secs: PpsSettings::default().lease.as_secs(), pin_images: None, plain_http_registries: None }
    }
}

impl PpsConfig {
    /// Checks the values; a lease of zero would hand every task out twice.
    /// `insecure_registries` is the container runner's list when this
    /// server's workers run containers, `None` when they do not.
    pub fn resolve(&self, insecure_registries: Option<&[String]>) -> strata_core::Result<PpsSettings> {
        if self.task_lease_secs == 0 {
            return Err(strata_core::config::invalid("task_lease_secs", "a task lease needs at least 1 second"));
        }
        let pin = match self.pin_images.as_deref().map(str::trim) {
            None | Some("") => insecure_registries.is_some(),
            Some("always") => true,
            Some("never") => false,
            Some(other) => {
                return Err(strata_core::config::invalid(
                    "pin_images",
                    format!(
                        "unknown value {other:?}: use always or never, or leave it unset to pin where workers run containers"
                    ),
                ));
            }
        };
        let images = if pin {
            let plain_http = match &self.plain_http_registries {
                Some(list) => list.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect(),
                None => insecure_registries.map(<[String]>::to_vec).unwrap_or_default(),
            };
            ImagePinning::pin(plain_http).map_err(|e| strata_core::config::invalid("pin_images", e.to_string()))?
        } else {
            ImagePinning::Off
        };
        Ok(PpsSettings { lease: Duration::from_secs(self.task_lease_secs), images, secrets_keys: None })
    }
}

/// The pipeline system of one workspace. Cheap to clone.
#[derive(Clone)]
pub struct Pps {
    pub(crate) inner: Arc<Inner>,
}

/// The tables below are `parking_lot` mutexes, which do not poison: a
/// panic while one is held leaves a table whose every entry is whole (each
/// critical section is one insert, remove or lookup), so later callers go on
/// using it instead of skipping their work.
pub(crate) struct Inner {
    pub pfs: Pfs,
    pub meta: Meta,
    pub store: DynObjectStore,
    pub queue: Arc<dyn TaskQueue>,
    pub settings: PpsSettings,
    /// Tasks handed to workers, by delivery token.
    pub leases: Mutex<HashMap<String, Lease>>,
    /// Workers that said they are stopping, by `(pipeline, worker)`, with
    /// when they said so: their waiting pull ends without a task.
    pub leaving: Mutex<HashMap<(String, String), std::time::Instant>>,
    /// Cancelled when the server stops: long waits (pulls, `job wait`) end
    /// at once instead of holding the shutdown up.
    pub closing: tokio_util::sync::CancellationToken,
    /// Plans of running jobs, by `(pipeline, job)`.
    pub plans: Mutex<HashMap<(String, String), Arc<Plan>>>,
    /// Queue depth per pipeline as last seen by the master (for metrics).
    pub depths: Arc<Mutex<HashMap<String, Depth>>>,
    /// Wakes the master when a result or a stop arrives.
    pub wake: Notify,
    /// Bumped when pipelines are created, updated or deleted, so embedded
    /// workers follow at once.
    pub pipelines: tokio::sync::watch::Sender<u64>,
    pub metrics: PpsMetrics,
    /// Seals and opens the workspace's secrets; `None` when it keeps none.
    pub secrets: Option<strata_core::sealing::Sealer>,
    /// How long logs are kept.
    pub retention: crate::retention::LogRetention,
}

impl std::fmt::Debug for Pps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pps").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

/// A parsed pipeline row.
pub(crate) struct Pipeline {
    pub row: PipelineRow,
    pub spec: PipelineSpec,
}

impl Pps {
    /// Opens PPS on the workspace's database (running its migrations),
    /// object store and task queue. `db` is the same database as PFS's,
    /// given by whoever composes the two; PPS keeps its own tables there.
    pub async fn open(
        pfs: Pfs,
        db: sea_orm::DatabaseConnection,
        store: DynObjectStore,
        queue: Arc<dyn TaskQueue>,
        settings: PpsSettings,
        meter: Option<opentelemetry::metrics::Meter>,
    ) -> Result<Self, PpsError> {
        let secrets = match &settings.secrets_keys {
            Some(keys) => Some(
                strata_core::sealing::Sealer::new(keys)
                    .map_err(|e| PpsError::internal(format!("the secrets keys: {e}")))?,
            ),
            None => None,
        };
        let meta = Meta::new(db);
        meta.migrate().await?;
        let depths = Arc::new(Mutex::new(HashMap::new()));
        let metrics = PpsMetrics::new(meter, depths.clone());
        let inner = Inner {
            pfs,
            meta,
            store,
            queue,
            settings,
            leases: Mutex::new(HashMap::new()),
            leaving: Mutex::new(HashMap::new()),
            closing: tokio_util::sync::CancellationToken::new(),
            plans: Mutex::new(HashMap::new()),
            depths,
            wake: Notify::new(),
            pipelines: tokio::sync::watch::Sender::new(0),
            metrics,
            secrets,
            retention: crate::retention::LogRetention::default(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Ends the long waits of requests in flight (task pulls, `job wait`)
    /// so the server can stop at once; call it when it stops serving.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    /// A receiver that sees a new value whenever the set of pipelines changes.
    pub fn subscribe_pipelines(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.pipelines.subscribe()
    }

    fn pipelines_changed(&self) {
        self.inner.pipelines.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn pfs(&self) -> &Pfs {
        &self.inner.pfs
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.inner.meta
    }

    /// Billing's outbox: usage records after `after`, oldest first.
    pub async fn usage_after(&self, after: i64, limit: u64) -> Result<Vec<crate::meta::UsageRecord>, PpsError> {
        self.meta().usage_after(after, limit).await
    }

    /// What each pipeline used in `[from, to)` (`GET /pps/usage`).
    pub async fn usage_by_pipeline(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<strata_api_types::pps::PipelineUsage>, PpsError> {
        if from >= to {
            return Err(PpsError::invalid("from", "must be before `to`"));
        }
        self.meta().usage_by_pipeline(from, to).await
    }

    pub(crate) async fn pipeline(&self, name: &str) -> Result<Pipeline, PpsError> {
        let row = self.meta().pipeline_get(name).await?.ok_or_else(|| {
            PpsError::not_found(format!("pipeline `{name}`"), "`strata pipeline list` shows the pipelines")
        })?;
        let spec = PipelineSpec::from_json_value(&row.spec)?;
        Ok(Pipeline { row, spec })
    }

    /// The spec and salt a job runs with: those of the pipeline version
    /// current when its commit was made, even if the pipeline changed since.
    pub(crate) async fn versioned(
        &self,
        pipeline: &Pipeline,
        version: i32,
    ) -> Result<(PipelineSpec, String), PpsError> {
        if version == pipeline.row.version {
            return Ok((pipeline.spec.clone(), pipeline.row.salt.clone()));
        }
        match self.meta().pipeline_version(&pipeline.row.name, version).await? {
            Some((spec, salt)) => Ok((PipelineSpec::from_json_value(&spec)?, salt)),
            None => Ok((pipeline.spec.clone(), pipeline.row.salt.clone())),
        }
    }

    /// Creates the pipelines of a spec file, or with `update` replaces
    /// existing ones. An update keeps the salt (so unchanged datums are
    /// skipped) unless the transform changed or `reprocess` is set.
    pub async fn pipeline_create(
        &self,
        text: String,
        format: Option<spec::Format>,
        update: bool,
        reprocess: bool,
    ) -> Result<Vec<PipelineInfo>, PpsError> {
        let specs = parse_bounded(text, format).await?;
        for spec in &specs {
            self.check_new_spec(spec, update).await?;
        }
        let mut created = Vec::new();
        for spec in specs {
            self.save_pipeline(&spec, reprocess).await?;
            created.push(self.pipeline_info(&spec.name).await?);
        }
        self.pipelines_changed();
        self.inner.wake.notify_one();
        Ok(created)
    }

    async fn check_new_spec(&self, spec: &PipelineSpec, update: bool) -> Result<(), PpsError> {
        let name = RepoName::parse(&spec.name)?;
        let existing = self.meta().pipeline_get(&spec.name).await?;
        if existing.is_some() && !update {
            return Err(PpsError::AlreadyExists {
                what: format!("pipeline `{}`", spec.name),
                hint: "; use `strata pipeline update -f FILE` to change it".to_owned(),
            });
        }
        if existing.is_none() {
            match self.pfs().repo_inspect(&name).await {
                Ok(_) => {
                    return Err(PpsError::Conflict(format!(
                        "repo `{}` already exists; a pipeline writes to a repo of its own name, so rename the pipeline or delete the repo",
                        spec.name
                    )));
                }
                Err(PfsError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        for leaf in spec.input.leaves() {
            if matches!(leaf, spec::Leaf::Cron(_)) {
                continue;
            }
            if leaf.repo() == spec.name {
                return Err(PpsError::invalid(
                    "input",
                    format!("pipeline `{}` cannot read its own output repo", spec.name),
                ));
            }
            self.pfs().repo_inspect(&RepoName::parse(leaf.repo())?).await.map_err(|error| match error {
                PfsError::NotFound { .. } => PpsError::not_found(
                    format!("input repo `{}` of pipeline `{}`", leaf.repo(), spec.name),
                    format!("create it first with `strata repo create {}`", leaf.repo()),
                ),
                other => other.into(),
            })?;
        }
        Ok(())
    }

    async fn save_pipeline(&self, spec: &PipelineSpec, reprocess: bool) -> Result<(), PpsError> {
        let existing = self.meta().pipeline_get(&spec.name).await?;
        let salt = match &existing {
            Some(row) if !reprocess && same_transform(row, spec) => row.salt.clone(),
            _ => uuid::Uuid::new_v4().simple().to_string(),
        };
        self.prepare_repos(spec).await?;
        let row = self.meta().pipeline_save(&spec.name, &spec.to_json(), &salt).await?;
        self.log(&spec.name, None, format!("pipeline version {} saved", row.version)).await;
        self.pfs().commit_start_auto(&RepoName::parse(&spec.name)?, &spec.output_branch).await?;
        Ok(())
    }

    /// Input branches, cron repos, the output repo and its branch with
    /// provenance on every input branch (so new input commits propagate).
    async fn prepare_repos(&self, spec: &PipelineSpec) -> Result<(), PpsError> {
        for leaf in spec.input.leaves() {
            if matches!(leaf, spec::Leaf::Cron(_)) {
                self.ensure_repo(leaf.repo(), RepoKind::User, "cron ticks").await?;
            }
            let repo = RepoName::parse(leaf.repo())?;
            if self.pfs().branch_get(&repo, leaf.branch()).await.is_err() {
                self.pfs().branch_create(&repo, leaf.branch(), None, &[]).await?;
            }
        }
        let description = format!("output of pipeline {}", spec.name);
        self.ensure_repo(&spec.name, RepoKind::Output, &description).await?;
        let provenance = spec
            .input_repos()
            .into_iter()
            .map(|(repo, branch)| Ok(BranchRef { repo: RepoName::parse(&repo)?, branch: BranchName::parse(&branch)? }))
            .collect::<Result<Vec<_>, PfsError>>()?;
        self.pfs().branch_create(&RepoName::parse(&spec.name)?, &spec.output_branch, None, &provenance).await?;
        Ok(())
    }

    async fn ensure_repo(&self, name: &str, kind: RepoKind, description: &str) -> Result<(), PpsError> {
        match self.pfs().repo_create_kind(&RepoName::parse(name)?, kind, description).await {
            Ok(_) | Err(PfsError::AlreadyExists { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn pipeline_list(&self) -> Result<Vec<PipelineInfo>, PpsError> {
        let mut infos = Vec::new();
        for row in self.meta().pipeline_list().await? {
            infos.push(self.pipeline_info(&row.name).await?);
        }
        Ok(infos)
    }

    pub async fn pipeline_info(&self, name: &str) -> Result<PipelineInfo, PpsError> {
        let Pipeline { row, spec } = self.pipeline(name).await?;
        let last = self.meta().job_list(Some(name), 1).await?.into_iter().next();
        let state = match (&last, row.stopped) {
            (_, true) => "PAUSED",
            (Some(job), false) if !job.state.is_terminal() => "RUNNING",
            _ => "STANDBY",
        };
        Ok(PipelineInfo {
            name: row.name.clone(),
            description: spec.description.clone(),
            state: state.to_owned(),
            version: row.version,
            spec: row.spec.clone(),
            inputs: spec.input_repos().into_iter().map(|(repo, branch)| format!("{repo}@{branch}")).collect(),
            output_repo: row.name.clone(),
            parallelism: spec.parallelism,
            created_at: row.created_at.to_rfc3339(),
            updated_at: row.updated_at.to_rfc3339(),
            last_job: last.map(|job| JobSummary { id: job.id, state: job.state.into() }),
        })
    }

    /// Deletes a pipeline, its output repo, cron repos, jobs and plans.
    /// Refuses while another pipeline reads its output.
    pub async fn pipeline_delete(&self, name: &str) -> Result<(), PpsError> {
        let Pipeline { spec, .. } = self.pipeline(name).await?;
        for other in self.meta().pipeline_list().await? {
            let other_spec = PipelineSpec::from_json_value(&other.spec)?;
            if other.name != name && other_spec.input.leaves().iter().any(|leaf| leaf.repo() == name) {
                return Err(PpsError::Conflict(format!(
                    "pipeline `{}` reads the output of `{name}`; delete `{}` first",
                    other.name, other.name
                )));
            }
        }
        self.inner.queue.purge(name).await?;
        self.meta().pipeline_delete(name).await?;
        plan::delete_all(&self.inner.store, name).await?;
        self.forget_pipeline(name);
        self.pipelines_changed();
        match self.pfs().repo_delete(&RepoName::parse(name)?, WhenDependedOn::DeleteAnyway).await {
            Ok(_) | Err(PfsError::NotFound { .. }) => {}
            Err(other) => return Err(other.into()),
        }
        for leaf in spec.input.leaves() {
            if matches!(leaf, spec::Leaf::Cron(_)) {
                match self.pfs().repo_delete(&RepoName::parse(leaf.repo())?, WhenDependedOn::DeleteAnyway).await {
                    Ok(_) | Err(PfsError::NotFound { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(())
    }

    fn forget_pipeline(&self, name: &str) {
        self.inner.plans.lock().retain(|(pipeline, _), _| pipeline != name);
        self.inner.leases.lock().retain(|_, lease| lease.pipeline != name);
        self.inner.depths.lock().remove(name);
    }

    /// Pauses (`stopped`) or resumes a pipeline.
    pub async fn pipeline_set_stopped(&self, name: &str, stopped: bool) -> Result<PipelineInfo, PpsError> {
        self.pipeline(name).await?;
        self.meta().pipeline_set_stopped(name, stopped).await?;
        let what = if stopped { "stopped: no new jobs start" } else { "started" };
        self.log(name, None, format!("pipeline {what}")).await;
        self.inner.wake.notify_one();
        self.pipeline_info(name).await
    }

    /// Appends a system log line; logging never fails the caller.
    pub(crate) async fn log(&self, pipeline: &str, job: Option<&str>, message: String) {
        let line = LogRow {
            cursor: 0,
            ts: Utc::now(),
            pipeline: pipeline.to_owned(),
            job: job.map(str::to_owned),
            datum: None,
            user: false,
            message,
        };
        if let Err(error) = self.meta().log_append(vec![line]).await {
            tracing::warn!(%error, pipeline, "could not store a PPS log line");
        }
    }

    /// Every pipeline with its parallelism, for embedded workers.
    pub async fn pipeline_parallelism(&self) -> Result<HashMap<String, u32>, PpsError> {
        let mut wanted = HashMap::new();
        for row in self.meta().pipeline_list().await? {
            let spec = PipelineSpec::from_json_value(&row.spec)?;
            wanted.insert(row.name, spec.parallelism);
        }
        Ok(wanted)
    }

    /// The outstanding datums and worker bounds of every pipeline, for the
    /// autoscaler: datums of jobs not yet over minus those already done.
    pub async fn pipeline_load(&self) -> Result<Vec<strata_api_types::pps::PipelineLoad>, PpsError> {
        let mut loads = Vec::new();
        let secrets = self.secret_list().await?;
        for row in self.meta().pipeline_list().await? {
            let spec = PipelineSpec::from_json_value(&row.spec)?;
            let open_jobs = self.meta().jobs_open(&row.name).await?;
            let outstanding = open_jobs.iter().map(|job| job.counts.outstanding()).sum();
            let busy_workers = self.inner.queue.busy_consumers(&row.name).await?;
            loads.push(strata_api_types::pps::PipelineLoad {
                pipeline: row.name,
                outstanding_datums: outstanding,
                parallelism: spec.parallelism,
                autoscaling: spec.autoscaling,
                stopped: row.stopped,
                image: spec.transform.image.clone(),
                busy_workers,
                pod: crate::pods::worker_pod(&spec, &open_jobs, &secrets),
                scheduled: spec
                    .input
                    .leaves()
                    .iter()
                    .any(|leaf| matches!(leaf, spec::Leaf::Cron(cron) if !cron.spec.is_never())),
            });
        }
        Ok(loads)
    }

    /// Names of every pipeline, for the master and embedded workers.
    pub async fn pipeline_names(&self) -> Result<Vec<String>, PpsError> {
        Ok(self.meta().pipeline_list().await?.into_iter().map(|row| row.name).collect())
    }
}

/// The transform fingerprint decides whether old outputs stay valid.
fn same_transform(row: &PipelineRow, spec: &PipelineSpec) -> bool {
    let reprocess_every_job = spec.reprocess == Reprocess::EveryJob;
    match PipelineSpec::from_json_value(&row.spec) {
        Ok(old) => !reprocess_every_job && old.transform_fingerprint() == spec.transform_fingerprint(),
        Err(_) => false,
    }
}

/// How long parsing one spec text may take, waiting for a turn included.
const PARSE_DEADLINE: Duration = Duration::from_secs(2);
/// Spec texts parsed at once in this process; parsing is CPU-bound.
static PARSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Parses a spec text of at most [`spec::MAX_SPEC_BYTES`] on a blocking
/// thread, a few at a time and within [`PARSE_DEADLINE`], so that hostile
/// specs cannot stall the async runtime (and with it the health checks).
async fn parse_bounded(text: String, format: Option<spec::Format>) -> Result<Vec<PipelineSpec>, PpsError> {
    if text.len() > spec::MAX_SPEC_BYTES {
        return Err(PpsError::TooLarge(format!(
            "the spec text is {} bytes; the limit is {} KiB (split the file into several)",
            text.len(),
            spec::MAX_SPEC_BYTES / 1024
        )));
    }
    let format = format.unwrap_or_else(|| spec::Format::detect(&text));
    let deadline = tokio::time::Instant::now() + PARSE_DEADLINE;
    let permit = tokio::time::timeout_at(deadline, PARSING.acquire())
        .await
        .map_err(|_| PpsError::Busy("too many pipeline specs are being parsed; try again shortly".to_owned()))?
        .map_err(|_| PpsError::Stopping)?;
    // The permit moves into the thread: a parse that outlives the deadline
    // keeps its slot until it ends, so timed-out parses cannot pile up.
    let parsing = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        spec::parse_specs_as(&text, format)
    });
    match tokio::time::timeout_at(deadline, parsing).await {
        Ok(Ok(parsed)) => Ok(parsed?),
        Ok(Err(join)) => Err(PpsError::internal(format!("spec parser failed: {join}"))),
        Err(_) => Err(PpsError::Spec(spec::SpecError::new(
            "",
            format!("the spec took longer than {} s to parse", PARSE_DEADLINE.as_secs()),
        ))),
    }
}
