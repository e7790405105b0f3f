//! Reading jobs, datums and logs; waiting for and stopping jobs.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use strata_api_types::pps::{DatumInfo, FailedDatum, JobInfo, LogLine};
use strata_pfs::{Commit, RepoName};

use crate::error::PpsError;
use crate::meta::{DatumRow, JobRow, LogFilter};
use crate::plan::PlannedDatum;
use crate::service::{Pipeline, Pps};
use crate::state::{DatumInput, DatumState, JobState};
use strata_core::text::tail;

/// How often a wait re-reads the job.
const WAIT_POLL: Duration = Duration::from_millis(50);
/// Log tail shown for a failed datum in `job inspect`.
const FAILED_LOG_TAIL: u32 = 2048;
/// Failed datums listed in `job inspect`.
const FAILED_SHOWN: u64 = 5;

impl Pps {
    /// Jobs, newest first.
    pub async fn job_list(&self, pipeline: Option<&str>, limit: u64) -> Result<Vec<JobInfo>, PpsError> {
        if let Some(name) = pipeline {
            self.pipeline(name).await?;
        }
        let rows = self.meta().job_list(pipeline, limit.clamp(1, 10_000)).await?;
        Ok(rows.into_iter().map(|row| job_info(row, Vec::new())).collect())
    }

    /// One job by id or `latest` (the job of the output branch's head
    /// commit, so it is never older than the newest input commit).
    pub async fn job_inspect(&self, pipeline: &str, job: &str) -> Result<JobInfo, PpsError> {
        let row = self.job_row(pipeline, job).await?;
        self.job_answer(row).await
    }

    /// What `job inspect` shows of a job: its row, with its first failed
    /// datums when some failed.
    async fn job_answer(&self, row: JobRow) -> Result<JobInfo, PpsError> {
        let failed = if row.counts.failed > 0 { self.failed_datums(&row.pipeline, &row.id).await? } else { Vec::new() };
        Ok(job_info(row, failed))
    }

    pub(crate) async fn job_row(&self, pipeline: &str, job: &str) -> Result<JobRow, PpsError> {
        let loaded = self.pipeline(pipeline).await?;
        let commit = if job == "latest" {
            self.pfs().commit_inspect(&RepoName::parse(pipeline)?, &loaded.spec.output_branch).await?
        } else {
            match self.meta().job_get(pipeline, job).await? {
                Some(row) => return Ok(row),
                None => self.pfs().commit_inspect(&RepoName::parse(pipeline)?, job).await.map_err(|_| {
                    PpsError::not_found(
                        format!("job {pipeline}@{job}"),
                        format!("`strata job list -p {pipeline}` shows its jobs"),
                    )
                })?,
            }
        };
        self.ensure_job(&loaded, &commit).await
    }

    /// The job row of an output commit, created (CREATED) if the master has
    /// not seen the commit yet.
    pub(crate) async fn ensure_job(&self, pipeline: &Pipeline, commit: &Commit) -> Result<JobRow, PpsError> {
        let id = commit.id.to_string();
        if let Some(row) = self.meta().job_get(&pipeline.row.name, &id).await? {
            return Ok(row);
        }
        if commit.provenance.is_empty() {
            return Err(PpsError::not_found(
                format!("job {}@{id}", pipeline.row.name),
                "this output commit was not made by a job (the pipeline has not run yet)",
            ));
        }
        let row = JobRow {
            pipeline: pipeline.row.name.clone(),
            id: id.clone(),
            seq: commit.seq,
            state: JobState::Created,
            reason: None,
            spec_version: pipeline.row.version,
            counts: Default::default(),
            stats: Default::default(),
            inputs: commit.provenance.iter().map(|(repo, c)| format!("{repo}@{c}")).collect(),
            created_at: commit.started_at,
            started_at: None,
            finished_at: None,
            image: None,
            runner: None,
        };
        self.meta().job_create(&row).await?;
        self.meta()
            .job_get(&pipeline.row.name, &id)
            .await?
            .ok_or_else(|| PpsError::internal("job vanished after create"))
    }

    async fn failed_datums(&self, pipeline: &str, job: &str) -> Result<Vec<FailedDatum>, PpsError> {
        let rows = self.meta().datums_failed(pipeline, job, FAILED_SHOWN, FAILED_LOG_TAIL).await?;
        Ok(rows
            .into_iter()
            .map(|row| FailedDatum {
                id: row.id,
                exit: row.exit.unwrap_or_else(|| "unknown".to_owned()),
                // The row holds one character more than the tail, so a
                // longer log is still marked as cut.
                log_tail: tail(&row.log_end, FAILED_LOG_TAIL as usize),
            })
            .collect())
    }

    /// Waits until the job is terminal, up to `timeout`.
    pub async fn job_wait(&self, pipeline: &str, job: &str, timeout: Duration) -> Result<JobInfo, PpsError> {
        let id = self.job_row(pipeline, job).await?.id;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let row = self.job_row(pipeline, &id).await?;
            if row.state.is_terminal() {
                return self.job_answer(row).await;
            }
            if tokio::time::Instant::now() >= deadline {
                let c = row.counts;
                let done = c.processed + c.skipped + c.failed + c.recovered;
                return Err(PpsError::Timeout(format!(
                    "job {pipeline}@{id} is still {} ({done}/{} datums) after {} s",
                    row.state,
                    c.total,
                    timeout.as_secs()
                )));
            }
            tokio::select! {
                () = tokio::time::sleep(WAIT_POLL) => {}
                () = self.inner.closing.cancelled() => return Err(PpsError::Stopping),
            }
        }
    }

    /// Stops a job: it ends KILLED, its output commit is finished with an
    /// error and its queued tasks are dropped.
    pub async fn job_stop(&self, pipeline: &str, job: &str) -> Result<JobInfo, PpsError> {
        let row = self.job_row(pipeline, job).await?;
        if row.state.is_terminal() {
            return Err(PpsError::Conflict(format!(
                "job {pipeline}@{} already ended {}; nothing to stop",
                row.id, row.state
            )));
        }
        self.end_job(&row, JobState::Killed, "stopped by `strata job stop`").await?;
        self.job_inspect(pipeline, &row.id).await
    }

    /// A job's datums: the planned ones with their states, and what ran.
    pub async fn datum_list(
        &self,
        pipeline: &str,
        job: &str,
        state: Option<DatumState>,
    ) -> Result<Vec<DatumInfo>, PpsError> {
        let row = self.job_row(pipeline, job).await?;
        let ran: HashMap<String, DatumRow> =
            self.meta().datum_rows(pipeline, &row.id).await?.into_iter().map(|d| (d.id.clone(), d)).collect();
        let Some(plan) = crate::plan::load(&self.inner.store, pipeline, &row.id).await? else {
            return Ok(Vec::new());
        };
        let mut infos = Vec::new();
        for planned in &plan.datums {
            let info = match ran.get(&planned.id) {
                Some(done) => datum_info(&row.id, &planned.inputs, done, false),
                None => not_run_info(&row.id, planned),
            };
            if state.is_none_or(|wanted| info.state == wanted.into()) {
                infos.push(info);
            }
        }
        Ok(infos)
    }

    /// One datum with its log.
    pub async fn datum_inspect(&self, pipeline: &str, job: &str, datum: &str) -> Result<DatumInfo, PpsError> {
        let row = self.job_row(pipeline, job).await?;
        let plan = crate::plan::load(&self.inner.store, pipeline, &row.id).await?.unwrap_or_default();
        let matching: Vec<_> = plan.datums.iter().filter(|d| d.id.starts_with(datum)).collect();
        let planned = match matching.as_slice() {
            [one] => *one,
            [] => {
                return Err(PpsError::not_found(
                    format!("datum {datum} of job {pipeline}@{}", row.id),
                    format!("`strata datum list {pipeline}@{}` shows its datums", row.id),
                ));
            }
            _ => {
                return Err(PpsError::invalid(
                    "datum",
                    format!("`{datum}` matches several datums; give more of the id"),
                ));
            }
        };
        match self.meta().datum_get(pipeline, &row.id, &planned.id).await? {
            Some(done) => Ok(datum_info(&row.id, &planned.inputs, &done, true)),
            None => Ok(not_run_info(&row.id, planned)),
        }
    }

    /// Log lines in cursor order.
    pub async fn logs(&self, filter: LogFilter) -> Result<Vec<LogLine>, PpsError> {
        self.pipeline(&filter.pipeline).await?;
        let rows = self.meta().log_query(&filter).await?;
        Ok(rows
            .into_iter()
            .map(|row| LogLine {
                cursor: u64::try_from(row.cursor).unwrap_or(0),
                ts: row.ts.to_rfc3339(),
                pipeline: row.pipeline,
                job: row.job,
                datum: row.datum,
                user: row.user,
                message: row.message,
            })
            .collect())
    }
}

fn job_info(row: JobRow, failed_datums: Vec<FailedDatum>) -> JobInfo {
    let duration_secs = row.started_at.map(|start| (row.finished_at.unwrap_or_else(Utc::now) - start).as_seconds_f64());
    JobInfo {
        output_commit: format!("{}@{}", row.pipeline, row.id),
        id: row.id,
        pipeline: row.pipeline,
        state: row.state.into(),
        reason: row.reason,
        spec_version: row.spec_version,
        datums: row.counts.into(),
        stats: row.stats.into(),
        inputs: row.inputs,
        created_at: row.created_at.to_rfc3339(),
        started_at: row.started_at.map(|t| t.to_rfc3339()),
        finished_at: row.finished_at.map(|t| t.to_rfc3339()),
        duration_secs,
        image: row.image,
        runner: row.runner,
        failed_datums,
    }
}

/// A datum that did not run in this job: pending, or skipped with its
/// carried outputs.
fn not_run_info(job: &str, planned: &PlannedDatum) -> DatumInfo {
    DatumInfo {
        id: planned.id.clone(),
        job: job.to_owned(),
        state: planned.state.into(),
        inputs: wire_inputs(&planned.inputs),
        attempts: 0,
        exit: None,
        stats: Default::default(),
        outputs: planned.outputs.clone(),
        started_at: None,
        finished_at: None,
        log: None,
    }
}

fn datum_info(job: &str, inputs: &[DatumInput], row: &DatumRow, with_log: bool) -> DatumInfo {
    DatumInfo {
        id: row.id.clone(),
        job: job.to_owned(),
        state: row.state.into(),
        inputs: wire_inputs(inputs),
        attempts: row.attempts,
        exit: row.exit.clone(),
        stats: row.stats.into(),
        outputs: row.outputs.clone(),
        started_at: Some(row.started_at.to_rfc3339()),
        finished_at: Some(row.finished_at.to_rfc3339()),
        log: with_log.then(|| row.log.clone()),
    }
}

fn wire_inputs(inputs: &[DatumInput]) -> Vec<strata_api_types::pps::DatumInput> {
    inputs.iter().cloned().map(Into::into).collect()
}
