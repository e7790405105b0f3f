//! The master: turns output commits into jobs and drives each job from
//! CREATED to a terminal state.
//!
//! One loop per workspace wakes when a commit starts or finishes, when a
//! worker reports, or once a second. Jobs of one pipeline run one at a
//! time, oldest first, because each job's skips are decided against the
//! job before it. Everything the loop knows is re-read from the database
//! and the plan objects, so a restarted server continues where it stopped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use strata_pfs::{Commit, CommitTarget, PfsError, PutFormat, PutMode, RepoName};
use tokio_util::sync::CancellationToken;

use crate::datums::{LeafSet, combine};
use crate::error::PpsError;
use crate::images::Pinned;
use crate::meta::JobRow;
use crate::plan::{self, LeafRecord, Plan};
use crate::service::{Pipeline, Pps};
use crate::spec::{Leaf, PipelineSpec, Reprocess};
use crate::state::{DatumState, JobState};

/// The longest the master sleeps without being woken.
const TICK: Duration = Duration::from_secs(1);
/// How many newest output commits are checked for new jobs.
const DISCOVER: u64 = 20;

impl Pps {
    /// Runs the master loop until `stop`.
    pub async fn run_master(self, stop: CancellationToken) {
        let mut changes = self.pfs().subscribe();
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(error = %strata_core::error::display_chain(&error), "PPS master pass failed");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                _ = changes.changed() => {}
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// One pass over every pipeline.
    pub async fn tick(&self) -> Result<(), PpsError> {
        if let Err(error) = self.forget_old_logs_when_due().await {
            tracing::warn!(error = %strata_core::error::display_chain(&error), "forgetting old logs failed; retried within the hour");
        }
        for name in self.pipeline_names().await? {
            let pipeline = match self.pipeline(&name).await {
                Ok(pipeline) => pipeline,
                Err(PpsError::NotFound { .. }) => continue,
                Err(other) => return Err(other),
            };
            match self.tick_pipeline(&pipeline).await {
                Ok(()) => {}
                // A corrupt row stops the pipeline until a person repairs it.
                Err(error @ PpsError::Corrupted { .. }) => {
                    tracing::error!(pipeline = %name, error = %strata_core::error::display_chain(&error), "PPS pipeline stopped on a corrupt row");
                }
                Err(error) => {
                    tracing::warn!(pipeline = %name, error = %strata_core::error::display_chain(&error), "PPS pipeline pass failed");
                }
            }
        }
        Ok(())
    }

    async fn tick_pipeline(&self, pipeline: &Pipeline) -> Result<(), PpsError> {
        let depth = self.inner.queue.depth(&pipeline.row.name).await?;
        self.inner.depths.lock().insert(pipeline.row.name.clone(), depth);
        if !pipeline.row.stopped {
            self.tick_cron(pipeline).await?;
        }
        self.discover_jobs(pipeline).await?;
        // Several steps in one pass: a job can go from CREATED to RUNNING.
        for _ in 0..4 {
            let Some(job) = self.meta().jobs_open(&pipeline.row.name).await?.into_iter().next() else {
                return Ok(());
            };
            if !self.step(pipeline, job).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Creates job rows for output commits that have none yet.
    async fn discover_jobs(&self, pipeline: &Pipeline) -> Result<(), PpsError> {
        let commits = self.pfs().commit_list(&RepoName::parse(&pipeline.row.name)?, DISCOVER).await?;
        for commit in commits.iter().rev() {
            let on_branch = commit.branch.as_deref() == Some(pipeline.spec.output_branch.as_str());
            if !commit.is_finished() && on_branch && !commit.provenance.is_empty() {
                self.ensure_job(pipeline, commit).await?;
            }
        }
        Ok(())
    }

    /// Advances one job by one state; true when it moved.
    async fn step(&self, pipeline: &Pipeline, job: JobRow) -> Result<bool, PpsError> {
        match job.state {
            JobState::Created | JobState::Starting if pipeline.row.stopped => Ok(false),
            JobState::Created | JobState::Starting => self.start(pipeline, &job).await,
            JobState::Running => self.watch_running(pipeline, &job).await,
            JobState::Finishing => self.finish(pipeline, &job).await.map(|()| true),
            _ => Ok(false),
        }
    }

    async fn output_commit(&self, job: &JobRow) -> Result<Commit, PpsError> {
        Ok(self.pfs().commit_inspect(&RepoName::parse(&job.pipeline)?, &job.id).await?)
    }

    /// The job's output commit, or `None` once the job has been ended
    /// because the commit is gone (a write that started it was undone, or
    /// someone dropped it). Such a job can never finish, and as jobs of a
    /// pipeline run in order, waiting on it would hold up every later one.
    async fn output_or_end(&self, job: &JobRow) -> Result<Option<Commit>, PpsError> {
        match self.output_commit(job).await {
            Ok(commit) => Ok(Some(commit)),
            Err(PpsError::Pfs(PfsError::NotFound { .. })) => {
                let reason = format!(
                    "its output commit {}@{} no longer exists (the write that started it was undone or the commit was dropped)",
                    job.pipeline, job.id
                );
                self.end_job(job, JobState::Failure, &reason).await?;
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// CREATED/STARTING: waits for the input commits, then plans the datums.
    async fn start(&self, pipeline: &Pipeline, job: &JobRow) -> Result<bool, PpsError> {
        let Some(output) = self.output_or_end(job).await? else { return Ok(true) };
        if output.is_finished() {
            let state = if output.error.is_some() { JobState::Killed } else { JobState::Success };
            self.meta().job_set_state(&job.pipeline, &job.id, state, output.error.as_deref()).await?;
            return Ok(true);
        }
        let mut inputs = Vec::new();
        for (repo, id) in &output.provenance {
            let commit = match self.pfs().commit_inspect(repo, &id.to_string()).await {
                Ok(commit) => commit,
                Err(PfsError::NotFound { .. }) => {
                    let reason = format!("input commit {repo}@{id} no longer exists");
                    self.end_job(job, JobState::Unrunnable, &reason).await?;
                    return Ok(true);
                }
                Err(other) => return Err(other.into()),
            };
            if let Some(error) = &commit.error {
                let reason = format!("input commit {repo}@{id} failed: {error}");
                self.end_job(job, JobState::Unrunnable, &reason).await?;
                return Ok(true);
            }
            if !commit.is_finished() {
                if job.state == JobState::Created {
                    self.meta().job_set_state(&job.pipeline, &job.id, JobState::Starting, None).await?;
                    return Ok(true);
                }
                return Ok(false);
            }
            inputs.push(commit);
        }
        let (spec, _) = self.versioned(pipeline, job.spec_version).await?;
        match self.pin_image(&spec, job).await? {
            Pinned::Ready => {}
            Pinned::Failed(reason) => {
                self.end_job(job, JobState::Failure, &reason).await?;
                return Ok(true);
            }
            Pinned::Later(reason) => {
                // The reason shows in `job inspect` while the job waits; the
                // next tick asks the registry again.
                if job.reason.as_deref() != Some(reason.as_str()) {
                    self.meta().job_set_state(&job.pipeline, &job.id, JobState::Starting, Some(&reason)).await?;
                    return Ok(true);
                }
                return Ok(false);
            }
        }
        // A secret the spec names must exist before datums are queued: the
        // job fails naming it, rather than each task being refused.
        match self.task_secrets(&spec).await {
            Ok(_) => {}
            Err(error @ (PpsError::NotFound { .. } | PpsError::InvalidArgument { .. } | PpsError::Conflict(_))) => {
                self.end_job(job, JobState::Failure, &error.to_string()).await?;
                return Ok(true);
            }
            Err(other) => return Err(other),
        }
        self.plan_job(pipeline, job, &output, &inputs).await?;
        Ok(true)
    }

    /// Lists the datums, decides skips, clears stale outputs, queues the
    /// rest and moves the job to RUNNING (or straight to FINISHING).
    async fn plan_job(
        &self,
        pipeline: &Pipeline,
        job: &JobRow,
        output: &Commit,
        inputs: &[Commit],
    ) -> Result<(), PpsError> {
        let began = std::time::Instant::now();
        let base = self.meta().job_last_success(&job.pipeline, job.seq).await?;
        let base_plan = match &base {
            Some(base) => plan::load(&self.inner.store, &job.pipeline, &base.id).await?,
            None => None,
        };
        let (spec, salt) = self.versioned(pipeline, job.spec_version).await?;
        let leaves = self.list_leaves(&spec, inputs, base_plan.as_ref()).await?;
        let sets: Vec<LeafSet<'_>> =
            leaves.iter().map(|leaf| LeafSet { commit: &leaf.commit, matches: &leaf.matches }).collect();
        let datums = combine(&spec.input, &sets, &salt);
        // Datums that ran in jobs after the base (which then failed or were
        // killed) left outputs in the inherited commit: they run again.
        let since = base.as_ref().map_or(0, |b| b.seq);
        let mut ran_since = HashSet::new();
        let mut written_since = Vec::new();
        for ran in self.meta().datums_ran_between(&job.pipeline, since, job.seq).await? {
            ran_since.insert(ran.id);
            written_since.extend(ran.outputs);
        }
        let always = spec.reprocess == Reprocess::EveryJob;
        let mut merge = plan::merge_with_base(datums, base_plan.as_ref(), always, &ran_since);
        let kept: HashSet<String> = merge
            .datums
            .iter()
            .filter(|d| d.state == DatumState::Skipped)
            .flat_map(|d| d.outputs.iter().cloned())
            .collect();
        merge.stale_outputs.extend(written_since.into_iter().filter(|path| !kept.contains(path)));
        merge.stale_outputs.sort();
        merge.stale_outputs.dedup();
        if !merge.stale_outputs.is_empty() {
            self.pfs().delete_paths(&RepoName::parse(&job.pipeline)?, output.id, merge.stale_outputs.clone()).await?;
        }
        let plan = Plan { leaves, datums: merge.datums };
        plan::save(&self.inner.store, &job.pipeline, &job.id, &plan).await?;
        let pending: Vec<u32> = plan.pending().filter_map(|(i, _)| u32::try_from(i).ok()).collect();
        let skipped = plan.skipped() as u64;
        let total = plan.datums.len() as u64;
        let input_names: Vec<String> = inputs.iter().map(|c| format!("{}@{}", c.repo, c.id)).collect();
        self.meta().job_set_plan(&job.pipeline, &job.id, total, skipped, &input_names).await?;
        self.inner.metrics.datums(&job.pipeline, "skipped", skipped);
        self.inner.plans.lock().insert((job.pipeline.clone(), job.id.clone()), Arc::new(plan));
        self.log(
            &job.pipeline,
            Some(&job.id),
            format!(
                "{total} datums: {} to process, {skipped} skipped; planned in {} ms",
                pending.len(),
                began.elapsed().as_millis()
            ),
        )
        .await;
        self.meta().job_set_state(&job.pipeline, &job.id, JobState::Running, None).await?;
        if pending.is_empty() {
            self.meta().job_set_state(&job.pipeline, &job.id, JobState::Finishing, None).await?;
        } else {
            self.enqueue(&job.pipeline, &job.id, &pending, spec.parallelism).await?;
        }
        Ok(())
    }

    /// Lists every leaf input at its commit, incrementally from the base
    /// plan's listing of the same leaf.
    async fn list_leaves(
        &self,
        spec: &PipelineSpec,
        inputs: &[Commit],
        base: Option<&Plan>,
    ) -> Result<Vec<LeafRecord>, PpsError> {
        let mut leaves = Vec::new();
        for (index, leaf) in spec.input.leaves().into_iter().enumerate() {
            let commit = inputs.iter().find(|c| c.repo == leaf.repo()).ok_or_else(|| {
                PpsError::internal(format!("output commit has no provenance on input repo {}", leaf.repo()))
            })?;
            let before = base.and_then(|plan| plan.leaves.get(index));
            leaves.push(plan::list_leaf(self.pfs(), leaf.repo(), leaf.glob(), commit, before).await?);
        }
        Ok(leaves)
    }

    /// RUNNING: ends the job on a failed datum, a timeout or completion,
    /// and re-queues datums whose tasks were lost.
    async fn watch_running(&self, pipeline: &Pipeline, job: &JobRow) -> Result<bool, PpsError> {
        // Depth first, counts second: a task acked before the depth was
        // read has its results in the counts read after.
        let depth = self.inner.queue.depth(&job.pipeline).await?;
        let Some(now) = self.meta().job_get(&job.pipeline, &job.id).await? else { return Ok(false) };
        if now.counts.failed > 0 {
            let reason = format!(
                "{} datum(s) failed; `strata job inspect {}@{}` shows them",
                now.counts.failed, job.pipeline, job.id
            );
            self.end_job(&now, JobState::Failure, &reason).await?;
            return Ok(true);
        }
        let done = now.counts.processed + now.counts.skipped + now.counts.recovered;
        if done >= now.counts.total {
            self.meta().job_set_state(&job.pipeline, &job.id, JobState::Finishing, None).await?;
            return Ok(true);
        }
        if let (Some(limit), Some(started)) = (pipeline.spec.job_timeout, now.started_at)
            && (Utc::now() - started).to_std().unwrap_or_default() > limit
        {
            let reason = format!("job_timeout of {} exceeded", crate::spec::format_duration(limit));
            self.end_job(&now, JobState::Killed, &reason).await?;
            return Ok(true);
        }
        if depth.queued + depth.in_flight == 0 {
            self.requeue_lost(pipeline, &now).await?;
        }
        Ok(false)
    }

    /// Queues again the pending datums no task holds any more (the queue
    /// restarted empty, or the server restarted with an in-process queue).
    /// With nothing lost and nothing queued, the job's counts must already
    /// add up; if they do not, they are set again from the datum rows rather
    /// than leaving the job running for ever.
    async fn requeue_lost(&self, pipeline: &Pipeline, job: &JobRow) -> Result<(), PpsError> {
        let plan = self.plan_of(&job.pipeline, &job.id).await?;
        let rows = self.meta().datum_rows(&job.pipeline, &job.id).await?;
        let ran: HashSet<&str> = rows.iter().map(|d| d.id.as_str()).collect();
        let lost: Vec<u32> = plan
            .pending()
            .filter(|(_, d)| !ran.contains(d.id.as_str()))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        if lost.is_empty() {
            let counted = |state: DatumState| rows.iter().filter(|d| d.state == state).count() as u64;
            let recorded =
                (counted(DatumState::Processed), counted(DatumState::Failed), counted(DatumState::Recovered));
            if recorded != (job.counts.processed, job.counts.failed, job.counts.recovered) {
                tracing::warn!(pipeline = %job.pipeline, job = %job.id, ?recorded, counts = ?job.counts, "job counts disagree with its datums; recounting");
                self.meta().job_recount(&job.pipeline, &job.id).await?;
                self.inner.wake.notify_one();
            }
            return Ok(());
        }
        self.log(&job.pipeline, Some(&job.id), format!("re-queued {} datum(s) whose tasks were lost", lost.len()))
            .await;
        self.enqueue(&job.pipeline, &job.id, &lost, pipeline.spec.parallelism).await
    }

    /// FINISHING: checks that no two datums wrote the same path, stores the
    /// final plan and finishes the output commit.
    async fn finish(&self, pipeline: &Pipeline, job: &JobRow) -> Result<(), PpsError> {
        let _ = pipeline;
        let plan = self.plan_of(&job.pipeline, &job.id).await?;
        let mut rows: BTreeMap<String, _> =
            self.meta().datum_rows(&job.pipeline, &job.id).await?.into_iter().map(|d| (d.id.clone(), d)).collect();
        let mut final_plan = (*plan).clone();
        let mut writers: BTreeMap<String, String> = BTreeMap::new();
        for datum in &mut final_plan.datums {
            if let Some(row) = rows.remove(&datum.id) {
                datum.state = row.state;
                datum.outputs = if row.state == DatumState::Processed { row.outputs } else { Vec::new() };
            }
            for path in &datum.outputs {
                if let Some(other) = writers.insert(path.clone(), datum.id.clone()) {
                    let reason = format!(
                        "datums {other} and {} both wrote {path}; each output path must come from one datum",
                        datum.id
                    );
                    return self.end_job(job, JobState::Failure, &reason).await;
                }
            }
        }
        if self.output_or_end(job).await?.is_none() {
            return Ok(());
        }
        plan::save(&self.inner.store, &job.pipeline, &job.id, &final_plan).await?;
        match self.pfs().commit_finish(&RepoName::parse(&job.pipeline)?, &job.id, None, None).await {
            Ok(_) => {}
            // A crash after finishing the commit: the job is done.
            Err(PfsError::Conflict(_)) if self.output_commit(job).await?.is_finished() => {}
            Err(other) => return Err(other.into()),
        }
        self.meta().job_set_state(&job.pipeline, &job.id, JobState::Success, None).await?;
        self.inner.metrics.job_ended(&job.pipeline, JobState::Success.as_str());
        self.forget_plan(job);
        self.log(&job.pipeline, Some(&job.id), "job succeeded".to_owned()).await;
        Ok(())
    }

    /// Ends a job that did not succeed: drops its queued tasks and
    /// finishes its output commit with the reason as error, which makes
    /// downstream jobs UNRUNNABLE.
    pub(crate) async fn end_job(&self, job: &JobRow, state: JobState, reason: &str) -> Result<(), PpsError> {
        if !self.meta().job_set_state(&job.pipeline, &job.id, state, Some(reason)).await? {
            return Ok(());
        }
        self.inner.queue.purge(&job.pipeline).await?;
        match self.pfs().commit_finish(&RepoName::parse(&job.pipeline)?, &job.id, None, Some(reason)).await {
            Ok(_) | Err(PfsError::Conflict(_) | PfsError::NotFound { .. }) => {}
            Err(other) => return Err(other.into()),
        }
        self.inner.metrics.job_ended(&job.pipeline, state.as_str());
        self.forget_plan(job);
        self.log(&job.pipeline, Some(&job.id), format!("job ended {state}: {reason}")).await;
        self.inner.wake.notify_one();
        Ok(())
    }

    fn forget_plan(&self, job: &JobRow) {
        self.inner.plans.lock().remove(&(job.pipeline.clone(), job.id.clone()));
    }

    /// Commits a tick file to each cron input whose next tick is due.
    async fn tick_cron(&self, pipeline: &Pipeline) -> Result<(), PpsError> {
        for leaf in pipeline.spec.input.leaves() {
            let Leaf::Cron(cron) = leaf else { continue };
            if cron.spec.is_never() {
                continue;
            }
            let head = self.pfs().commit_inspect(&RepoName::parse(&cron.repo)?, "master").await?;
            let last = if head.files == 0 { cron.start.unwrap_or(pipeline.row.created_at) } else { head.started_at };
            let Some(due) = cron.spec.next_after(last) else { continue };
            if due > Utc::now() {
                continue;
            }
            self.commit_tick(&cron.repo, cron.overwrite, due).await?;
        }
        Ok(())
    }

    async fn commit_tick(&self, repo: &str, overwrite: bool, due: chrono::DateTime<Utc>) -> Result<(), PpsError> {
        let repo = &RepoName::parse(repo)?;
        let commit = self.pfs().commit_start(repo, "master", "cron tick").await?;
        if overwrite {
            let (_, snapshot) = self.pfs().snapshot(repo, &commit.id.to_string()).await?;
            let mut old = Vec::new();
            self.pfs()
                .walk(&snapshot, "/", |file| {
                    old.push(file.path);
                    true
                })
                .await?;
            if !old.is_empty() {
                self.pfs().delete_paths(repo, commit.id, old).await?;
            }
        }
        let name = format!("/{}", due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let body = std::io::Cursor::new(due.to_rfc3339().into_bytes());
        let target = CommitTarget::Commit(commit.id);
        self.pfs().put(repo, target, &name, PutFormat::File, PutMode::Overwrite, body).await?;
        self.pfs().commit_finish(repo, &commit.id.to_string(), None, None).await?;
        Ok(())
    }
}
