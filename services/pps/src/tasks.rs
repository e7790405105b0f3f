//! The server side of the worker protocol: handing out datum tasks,
//! serving their inputs, heartbeats and results.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_api_types::pps::{
    DatumResult, PullTask, TaskAssignment, TaskDatum, TaskHeartbeat, TaskLimits, TaskResult, TaskTransform,
    WorkerLeaving,
};
use strata_core::text::tail;
use strata_pfs::{RepoName, TarMember};
use strata_queue::{Delivery, QueueError, Task};

use crate::error::PpsError;
use crate::meta::{DatumRow, LogRow};
use crate::plan::Plan;
use crate::service::{Pipeline, Pps};
use crate::spec;
use crate::state::{DatumState, DatumStats};

/// The most datums one task carries.
const MAX_TASK_DATUMS: usize = 100;
/// Longest single wait of a pull.
const MAX_PULL_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting pull checks whether it should end early; on Redis
/// each slice costs an idle worker two commands.
const PULL_SLICE: Duration = Duration::from_secs(1);
/// Log kept per datum in the database.
const MAX_STORED_LOG: usize = 64 * 1024;

/// What a task's payload names: plan positions of one job.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TaskPayload {
    pub job: String,
    pub datums: Vec<u32>,
}

/// Where one datum input goes in a task's tar: datum index, input name, path.
type InputPlace = (u32, String, String);

/// A task handed to a worker.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub pipeline: String,
    pub job: String,
    pub delivery: Delivery,
    pub datums: Vec<u32>,
}

/// Delivery tokens carry pipeline and job so that a result arriving after
/// a server restart (when the lease table is gone) is still recorded.
fn token(pipeline: &str, job: &str) -> String {
    format!("{pipeline}.{job}.{}", uuid::Uuid::new_v4().simple())
}

/// The pipeline a delivery token names (it is checked against the lease
/// or the database before anything is done with it).
pub(crate) fn delivery_pipeline(token: &str) -> Option<&str> {
    parse_token(token).map(|(pipeline, _)| pipeline)
}

fn parse_token(token: &str) -> Option<(&str, &str)> {
    let mut parts = token.splitn(3, '.');
    Some((parts.next()?, parts.next()?))
}

impl Pps {
    /// Splits the pending datums of a plan into tasks on the pipeline's queue.
    pub(crate) async fn enqueue(
        &self,
        pipeline: &str,
        job: &str,
        pending: &[u32],
        parallelism: u32,
    ) -> Result<(), PpsError> {
        let per_task = pending.len().div_ceil((parallelism.max(1) as usize) * 4).clamp(1, MAX_TASK_DATUMS);
        for (n, batch) in pending.chunks(per_task).enumerate() {
            let payload = TaskPayload { job: job.to_owned(), datums: batch.to_vec() };
            let payload = serde_json::to_vec(&payload).map_err(PpsError::internal)?;
            let datums = u32::try_from(batch.len()).unwrap_or(u32::MAX);
            self.inner.queue.push(pipeline, Task { id: format!("{job}:{n}"), datums, payload }).await?;
        }
        Ok(())
    }

    /// Waits up to `wait_ms` for a task of the pipeline and hands it out.
    ///
    /// The wait goes in slices of [`PULL_SLICE`], and ends early, without a
    /// task, when the server stops or the worker says it is leaving: a
    /// handler keeps running after its client hung up, and a pull that
    /// outlived its worker would hand the next task to no one (until the
    /// lease ran out). A queue pull is never cut short mid-way, because on
    /// Redis that could lose the delivery it was handing out.
    pub async fn task_pull(&self, request: &PullTask) -> Result<Option<TaskAssignment>, PpsError> {
        self.pipeline(&request.pipeline).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(request.wait_ms).min(MAX_PULL_WAIT);
        loop {
            if self.pull_should_end(request) {
                return Ok(None);
            }
            let wait = deadline.saturating_duration_since(tokio::time::Instant::now()).min(PULL_SLICE);
            let Some(delivery) = self.inner.queue.pull(&request.pipeline, &request.worker, wait).await? else {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            };
            // The spec is read after the wait: the pipeline may have changed meanwhile.
            let pipeline = self.pipeline(&request.pipeline).await?;
            if let Some(assignment) = self.assign(&pipeline, delivery).await? {
                return Ok(Some(assignment));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// The server is stopping, or this worker said it is leaving (which is
    /// forgotten once it ended the worker's pull).
    fn pull_should_end(&self, request: &PullTask) -> bool {
        if self.inner.closing.is_cancelled() {
            return true;
        }
        let key = (request.pipeline.clone(), request.worker.clone());
        self.inner.leaving.lock().remove(&key).is_some()
    }

    /// A worker is stopping: its pull in flight, if any, ends within a
    /// slice without a task. Notes of workers that never pulled again are
    /// dropped after the longest pull.
    pub fn task_leave(&self, leaving: &WorkerLeaving) {
        let now = std::time::Instant::now();
        let mut workers = self.inner.leaving.lock();
        workers.retain(|_, since| now.duration_since(*since) < MAX_PULL_WAIT + PULL_SLICE);
        workers.insert((leaving.pipeline.clone(), leaving.worker.clone()), now);
    }

    /// A stopping worker hands back a task it received but will not run:
    /// the next pull gets it at once, without counting an attempt. Without
    /// the lease (the server restarted meanwhile) the task comes back when
    /// its lease runs out instead.
    pub async fn task_release(&self, release: &TaskHeartbeat) -> Result<(), PpsError> {
        if let Some(lease) = self.drop_lease(&release.delivery) {
            self.inner.queue.release(&lease.delivery, &release.worker).await?;
        }
        Ok(())
    }

    /// Turns a delivery into an assignment, or drops it (`None`) when its
    /// job is over or it was delivered too often.
    async fn assign(&self, pipeline: &Pipeline, delivery: Delivery) -> Result<Option<TaskAssignment>, PpsError> {
        let Ok(payload) = serde_json::from_slice::<TaskPayload>(&delivery.task.payload) else {
            self.inner.queue.ack(&delivery).await?;
            return Ok(None);
        };
        let job = self.meta().job_get(&pipeline.row.name, &payload.job).await?;
        let Some(job) = job.filter(|job| !job.state.is_terminal()) else {
            self.inner.queue.ack(&delivery).await?;
            return Ok(None);
        };
        let (spec, _) = self.versioned(pipeline, job.spec_version).await?;
        let spec = &spec;
        let plan = self.plan_of(&spec.name, &payload.job).await?;
        if delivery.attempt > spec.datum_tries.saturating_add(1) {
            self.give_up(&spec.name, &payload, &plan, delivery.attempt).await?;
            self.inner.queue.ack(&delivery).await?;
            return Ok(None);
        }
        let datums = task_datums(&plan, &payload.datums);
        let token = token(&spec.name, &payload.job);
        let lease =
            Lease { pipeline: spec.name.clone(), job: payload.job.clone(), delivery, datums: payload.datums.clone() };
        self.inner.leases.lock().insert(token.clone(), lease);
        let traceparent = payload.job.parse().ok().and_then(|commit_set| self.pfs().trace_of(commit_set));
        Ok(Some(TaskAssignment {
            delivery: token,
            pipeline: spec.name.clone(),
            job: payload.job,
            output_repo: spec.name.clone(),
            transform: TaskTransform {
                image: job.image.clone().unwrap_or_else(|| spec.transform.image.clone()),
                limits: task_limits(spec.resource_limits.as_ref()),
                cmd: spec.transform.cmd.clone(),
                stdin: spec.transform.stdin.clone(),
                env: spec.transform.env.clone(),
                err_cmd: spec.transform.err_cmd.clone(),
                err_stdin: spec.transform.err_stdin.clone(),
                user: spec.transform.user,
                working_dir: spec.transform.working_dir.clone(),
                accept_return_codes: spec.transform.accept_return_codes.clone(),
                secrets: self.task_secrets(spec).await?,
            },
            datum_tries: spec.datum_tries,
            datum_timeout_ms: spec.datum_timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            lease_ms: u64::try_from(self.inner.settings.lease.as_millis()).unwrap_or(u64::MAX),
            datums,
            traceparent,
        }))
    }

    /// A task whose workers keep dying fails its datums instead of looping.
    async fn give_up(&self, pipeline: &str, payload: &TaskPayload, plan: &Plan, attempt: u32) -> Result<(), PpsError> {
        let now = Utc::now();
        let message = format!("the worker was lost {} times while running this datum", attempt - 1);
        let rows: Vec<DatumRow> = task_datums(plan, &payload.datums)
            .into_iter()
            .map(|datum| DatumRow {
                id: datum.id,
                state: DatumState::Failed,
                attempts: attempt - 1,
                exit: Some("worker lost".to_owned()),
                stats: DatumStats::default(),
                outputs: Vec::new(),
                log: message.clone(),
                started_at: now,
                finished_at: now,
            })
            .collect();
        self.meta().datums_record(pipeline, &payload.job, &rows).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The plan of a running job, cached.
    pub(crate) async fn plan_of(&self, pipeline: &str, job: &str) -> Result<Arc<Plan>, PpsError> {
        let key = (pipeline.to_owned(), job.to_owned());
        let cached = self.inner.plans.lock().get(&key).cloned();
        if let Some(plan) = cached {
            return Ok(plan);
        }
        let plan = crate::plan::load(&self.inner.store, pipeline, job)
            .await?
            .ok_or_else(|| PpsError::not_found(format!("datum plan of job {pipeline}@{job}"), ""))?;
        let plan = Arc::new(plan);
        self.inner.plans.lock().insert(key, plan.clone());
        Ok(plan)
    }

    fn lease(&self, token: &str) -> Result<Lease, PpsError> {
        let held = self.inner.leases.lock().get(token).cloned();
        held.ok_or_else(|| PpsError::Gone(format!("task {token} is no longer held; pull a new one")))
    }

    /// The files of a task's datums, as tar members named
    /// `<index>/<input name>/<path>`.
    pub async fn task_inputs(&self, token: &str) -> Result<Vec<TarMember>, PpsError> {
        let lease = self.lease(token)?;
        let pipeline = self.pipeline(&lease.pipeline).await?;
        let empty: Vec<String> = pipeline
            .spec
            .input
            .leaves()
            .into_iter()
            .filter_map(|leaf| match leaf {
                spec::Leaf::Pfs(pfs) if pfs.empty_files => Some(pfs.name.clone()),
                _ => None,
            })
            .collect();
        let plan = self.plan_of(&lease.pipeline, &lease.job).await?;
        // Inputs grouped by commit, so each commit's index is read once.
        let mut wanted: HashMap<(String, String), Vec<InputPlace>> = HashMap::new();
        for datum in task_datums(&plan, &lease.datums) {
            for input in datum.inputs {
                let place = (datum.index, input.name, input.path);
                wanted.entry((input.repo, input.commit)).or_default().push(place);
            }
        }
        let mut members = Vec::new();
        for ((repo, commit), places) in wanted {
            let commit = self.pfs().commit_inspect(&RepoName::parse(&repo)?, &commit).await?;
            let snapshot = self.pfs().commit_content(&commit).await?;
            let paths: Vec<String> = places.iter().map(|(_, _, path)| path.clone()).collect();
            let found = self.pfs().files_at(&snapshot, &paths).await?;
            for ((index, name, _), entries) in places.into_iter().zip(found) {
                for mut file in entries {
                    if empty.contains(&name) {
                        file = file.without_content();
                    }
                    members.push(TarMember { name: format!("{index}/{name}{}", file.path), file });
                }
            }
        }
        Ok(members)
    }

    /// Keeps a task's lease; `Gone` when the job is over or the lease passed
    /// to another worker.
    pub async fn task_heartbeat(&self, beat: &TaskHeartbeat) -> Result<(), PpsError> {
        let lease = self.lease(&beat.delivery)?;
        let job = self.meta().job_get(&lease.pipeline, &lease.job).await?;
        if job.is_none_or(|job| job.state.is_terminal()) {
            self.drop_lease(&beat.delivery);
            return Err(PpsError::Gone(format!("job {}@{} is over; abandon the task", lease.pipeline, lease.job)));
        }
        match self.inner.queue.heartbeat(&lease.delivery, &beat.worker).await {
            Ok(()) => Ok(()),
            Err(QueueError::LeaseLost { .. }) => {
                self.drop_lease(&beat.delivery);
                Err(PpsError::Gone("the task's lease passed to another worker; abandon it".to_owned()))
            }
            Err(other) => Err(other.into()),
        }
    }

    fn drop_lease(&self, token: &str) -> Option<Lease> {
        self.inner.leases.lock().remove(token)
    }

    /// Records a task's datum results (once per datum) and its logs, then
    /// acks the task.
    pub async fn task_result(&self, result: TaskResult) -> Result<(), PpsError> {
        let lease = self.drop_lease(&result.delivery);
        let (pipeline, job) = match &lease {
            Some(lease) => (lease.pipeline.clone(), lease.job.clone()),
            None => parse_token(&result.delivery)
                .map(|(p, j)| (p.to_owned(), j.to_owned()))
                .ok_or_else(|| PpsError::invalid("delivery", "not a task token"))?,
        };
        let over = self.meta().job_get(&pipeline, &job).await?.is_none_or(|row| row.state.is_terminal());
        if over {
            // The job was stopped or failed meanwhile: its results no longer count.
            if let Some(lease) = lease {
                self.inner.queue.ack(&lease.delivery).await?;
            }
            return Ok(());
        }
        let plan = self.plan_of(&pipeline, &job).await?;
        let known: std::collections::HashSet<&str> = plan.datums.iter().map(|d| d.id.as_str()).collect();
        let rows: Vec<DatumRow> =
            result.datums.iter().filter(|d| known.contains(d.id.as_str())).map(datum_row).collect();
        let added = self.meta().datums_record(&pipeline, &job, &rows).await?;
        self.record_logs(&pipeline, &job, &added, &result.notes).await?;
        // Only the runners there are: the job page shows it as is.
        let runner = result.runner.as_deref().filter(|r| ["container", "namespace", "scratch"].contains(r));
        if let Some(runner) = runner {
            self.meta().job_set_runner(&pipeline, &job, runner).await?;
        }
        for row in &added {
            self.inner.metrics.datums(&pipeline, row.state.as_str(), 1);
            self.inner.metrics.datum_took(&pipeline, (row.finished_at - row.started_at).as_seconds_f64());
        }
        if let Some(lease) = lease {
            self.inner.queue.ack(&lease.delivery).await?;
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    async fn record_logs(
        &self,
        pipeline: &str,
        job: &str,
        added: &[DatumRow],
        notes: &[String],
    ) -> Result<(), PpsError> {
        let now = Utc::now();
        let mut lines: Vec<LogRow> = notes
            .iter()
            .map(|note| LogRow {
                cursor: 0,
                ts: now,
                pipeline: pipeline.to_owned(),
                job: Some(job.to_owned()),
                datum: None,
                user: false,
                message: note.clone(),
            })
            .collect();
        for row in added {
            lines.extend(row.log.lines().map(|line| LogRow {
                cursor: 0,
                ts: row.finished_at,
                pipeline: pipeline.to_owned(),
                job: Some(job.to_owned()),
                datum: Some(row.id.clone()),
                user: true,
                message: line.to_owned(),
            }));
        }
        for chunk in lines.chunks(500) {
            self.meta().log_append(chunk.to_vec()).await?;
        }
        Ok(())
    }
}

fn task_datums(plan: &Plan, indices: &[u32]) -> Vec<TaskDatum> {
    indices
        .iter()
        .filter_map(|&index| {
            let datum = plan.datums.get(index as usize)?;
            let inputs = datum.inputs.iter().cloned().map(Into::into).collect();
            Some(TaskDatum { id: datum.id.clone(), index, inputs })
        })
        .collect()
}

fn datum_row(result: &DatumResult) -> DatumRow {
    let parse =
        |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|_| Utc::now());
    // A worker reports what ran; any other state it claims is a failure.
    let state = match DatumState::from(result.state) {
        state @ (DatumState::Processed | DatumState::Failed | DatumState::Recovered) => state,
        DatumState::Pending | DatumState::Skipped => DatumState::Failed,
    };
    DatumRow {
        id: result.id.clone(),
        state,
        attempts: result.attempts,
        exit: result.exit.clone(),
        stats: result.stats.into(),
        outputs: result.outputs.clone(),
        log: tail(&result.log, MAX_STORED_LOG),
        started_at: parse(&result.started_at),
        finished_at: parse(&result.finished_at),
    }
}

/// The container limits of a pipeline's `resource_limits`.
fn task_limits(limits: Option<&crate::spec::Resources>) -> TaskLimits {
    let Some(limits) = limits else { return TaskLimits::default() };
    TaskLimits { memory_bytes: limits.memory_bytes(), millicpus: limits.millicpus(), disk_bytes: limits.disk_bytes() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_limits_become_the_containers_limits() {
        assert_eq!(task_limits(None), TaskLimits::default());
        let limits = crate::spec::Resources {
            cpu: Some(0.25),
            memory: Some(crate::spec::Quantity::parse("64Mi").expect("a quantity")),
            disk: Some(crate::spec::Quantity::parse("1Gi").expect("a quantity")),
            ..crate::spec::Resources::default()
        };
        let expected = TaskLimits { memory_bytes: Some(64 << 20), millicpus: Some(250), disk_bytes: Some(1 << 30) };
        assert_eq!(task_limits(Some(&limits)), expected);
        let tiny = crate::spec::Resources { cpu: Some(0.0001), ..crate::spec::Resources::default() };
        assert_eq!(task_limits(Some(&tiny)).millicpus, Some(1), "a limit never becomes no limit");
    }

    /// A PPS on a fresh SQLite database (its directory removed on drop)
    /// and memory objects.
    struct Scratch {
        pps: Pps,
        dir: std::path::PathBuf,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn scratch() -> Scratch {
        use strata_core::config::{DatabaseUrl, ObjectStoreUrl};
        let dir = std::env::temp_dir().join(format!("strata-pps-{}", uuid::Uuid::new_v4().simple()));
        let db = strata_core::db::connect(&DatabaseUrl::Sqlite(dir.join("strata.db"))).await.unwrap();
        let store = strata_core::store::open(&ObjectStoreUrl::Memory).unwrap();
        let pfs = strata_pfs::Pfs::open(db.clone(), store.clone()).await.unwrap();
        let queue = Arc::new(strata_queue::InProcessQueue::new(Duration::from_secs(30)));
        let pps = Pps::open(pfs, db, store, queue, crate::PpsSettings::default(), None).await.unwrap();
        Scratch { pps, dir }
    }

    /// With `std::sync::Mutex`, a panic while the table was held poisoned
    /// it, and every later leave note was silently dropped: the worker's
    /// pull then held its next task until the lease ran out.
    #[tokio::test]
    async fn a_panic_while_a_table_is_held_makes_no_later_caller_skip_its_work() {
        let scratch = scratch().await;
        let inner = scratch.pps.inner.clone();
        let panicked = std::thread::spawn(move || {
            let _held = inner.leaving.lock();
            panic!("a bug while the table is held");
        })
        .join();
        assert!(panicked.is_err(), "the thread panicked holding the lock");
        scratch.pps.task_leave(&WorkerLeaving { pipeline: "p".to_owned(), worker: "w".to_owned() });
        let pull = PullTask { pipeline: "p".to_owned(), worker: "w".to_owned(), wait_ms: 0 };
        assert!(scratch.pps.pull_should_end(&pull), "the leave note was kept");
    }

    #[test]
    fn tokens_name_their_pipeline_and_job() {
        let token = token("edges", "abc123");
        assert_eq!(parse_token(&token), Some(("edges", "abc123")));
        assert_eq!(parse_token("garbage"), None);
    }
}
