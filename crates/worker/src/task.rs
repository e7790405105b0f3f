//! One task: heartbeat, inputs, datums, outputs, result.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use strata_api_types::pps::{DatumResult, DatumState, DatumStats, TaskAssignment, TaskHeartbeat, TaskResult};
use strata_client::Workspace;
use strata_core::error::display_chain;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::retry::{self, Backoff};
use super::{Worker, datum, inputs, outputs};

/// The worker's datum log, in its home directory, reused by every datum.
const DATUM_LOG: &str = "datum.log";

/// Attempts at posting a result before giving the task up to redelivery.
const RESULT_TRIES: u32 = 8;

impl Worker {
    /// Runs a task to its result, or abandons it when the server says it is
    /// over (410) or the worker stops; traced as a child of the request that
    /// started the job's commit set, when the server handed its trace on.
    pub(super) async fn run_task(&mut self, task: TaskAssignment, stop: &CancellationToken) {
        let span =
            tracing::info_span!("pps.task", pipeline = %task.pipeline, job = %task.job, datums = task.datums.len());
        if let Some(traceparent) = &task.traceparent {
            strata_core::telemetry::continue_trace(&span, traceparent);
        }
        self.run_task_in_span(task, stop).instrument(span).await;
    }

    async fn run_task_in_span(&mut self, task: TaskAssignment, stop: &CancellationToken) {
        let dir = self.home.join(format!("task-{}", self.tasks));
        let abandon = stop.child_token();
        let heartbeat = tokio::spawn(heartbeat(
            self.config.workspace.clone(),
            TaskHeartbeat { delivery: task.delivery.clone(), worker: self.config.worker_id.clone() },
            Duration::from_millis(task.lease_ms / 3).max(Duration::from_millis(100)),
            abandon.clone(),
        ));
        let results = tokio::select! {
            results = self.process(&task, &dir) => results,
            () = abandon.cancelled() => None,
        };
        heartbeat.abort();
        if let Err(error) = tokio::fs::remove_dir_all(&dir).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %dir.display(), %error, "cannot remove a task's scratch directory");
        }
        let Some(results) = results else {
            if stop.is_cancelled() {
                // Stopped, not failed: the next worker should not wait out the lease.
                super::hand_back(&self.config.workspace, &task, &self.config.worker_id).await;
            }
            tracing::info!(job = %task.job, "task abandoned");
            return;
        };
        let result = TaskResult {
            delivery: task.delivery.clone(),
            worker: self.config.worker_id.clone(),
            datums: results,
            notes: self.notes_for(&task.job),
            runner: Some(self.runner.isolation().to_string()),
        };
        post_result(&self.config.workspace, &result, stop).await;
    }

    /// Downloads the inputs and runs every datum of the task; `None` when
    /// the inputs or outputs could not be moved, so the task is handed back
    /// (its lease runs out and another try gets it) instead of failing
    /// datums over a network blip.
    async fn process(&mut self, task: &TaskAssignment, dir: &Path) -> Option<Vec<DatumResult>> {
        let download_start = Instant::now();
        let downloaded = inputs::download(&self.config.workspace, &task.delivery, dir).await;
        let download_secs = download_start.elapsed().as_secs_f64() / task.datums.len().max(1) as f64;
        let bytes_in = match downloaded {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(job = %task.job, error = %display_chain(&error), "could not download the inputs; handing the task back");
                return None;
            }
        };
        let mut results = Vec::with_capacity(task.datums.len());
        // Successful datums' output directories, by position in `results`.
        let mut outs = Vec::new();
        for datum in &task.datums {
            let root = inputs::datum_root(dir, datum.index);
            for name in datum::input_names(datum) {
                let _ = tokio::fs::create_dir_all(root.join(name)).await;
            }
            let started_at = Utc::now();
            let sandbox = self.runner.for_task(&task.transform).await;
            let ran = datum::run(sandbox, task, datum, &root, &self.home.join(DATUM_LOG)).await;
            let stats = DatumStats {
                bytes_in: bytes_in.get(&datum.index).copied().unwrap_or(0),
                download_secs,
                process_secs: ran.process_secs,
                cpu_secs: ran.cpu_secs,
                ..DatumStats::default()
            };
            results.push(DatumResult {
                id: datum.id.clone(),
                state: ran.state,
                attempts: ran.attempts,
                exit: ran.exit,
                stats,
                outputs: Vec::new(),
                log: ran.log,
                started_at: started_at.to_rfc3339(),
                finished_at: Utc::now().to_rfc3339(),
            });
            if ran.state == DatumState::Processed {
                outs.push((results.len() - 1, root.join("out")));
            }
        }
        self.upload_outputs(task, dir, outs, &mut results).await?;
        Some(results)
    }
}

impl Worker {
    /// Uploads the outputs of the task's successful datums as one tar and
    /// records each datum's paths; if the upload fails, they fail.
    async fn upload_outputs(
        &self,
        task: &TaskAssignment,
        dir: &Path,
        outs: Vec<(usize, PathBuf)>,
        results: &mut [DatumResult],
    ) -> Option<()> {
        if outs.is_empty() {
            return Some(());
        }
        let started = Instant::now();
        let (positions, dirs): (Vec<usize>, Vec<PathBuf>) = outs.into_iter().unzip();
        let archive = dir.join("outputs.tar");
        let uploaded = outputs::upload(&self.config.workspace, &task.output_repo, &task.job, dirs, &archive).await;
        let share = started.elapsed().as_secs_f64() / positions.len() as f64;
        match uploaded {
            Ok(uploaded) => {
                for (position, done) in positions.into_iter().zip(uploaded) {
                    let Some(result) = results.get_mut(position) else { continue };
                    result.stats.bytes_out = done.bytes;
                    result.stats.upload_secs = share;
                    result.outputs = done.paths;
                }
            }
            Err(outputs::OutputError::Client(error)) if retry::is_transient(&error) || retry::is_gone(&error) => {
                tracing::warn!(job = %task.job, error = %display_chain(&error), "could not upload outputs; handing the task back");
                return None;
            }
            Err(error) => {
                // The output itself is unusable (unreadable, a name that is not UTF-8).
                let message = format!("could not upload /pfs/out: {}", display_chain(&error));
                for position in positions {
                    let Some(result) = results.get_mut(position) else { continue };
                    result.state = DatumState::Failed;
                    result.log.push_str(&format!("\nstrata: {message}\n"));
                    result.exit = Some(message.clone());
                }
            }
        }
        Some(())
    }
}

/// Keeps the task's lease until aborted; cancels `abandon` when the server
/// answers 410 (the job is over or the lease passed to another worker).
async fn heartbeat(ws: Workspace, beat: TaskHeartbeat, every: Duration, abandon: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = abandon.cancelled() => return,
        }
        match ws.task_heartbeat(&beat).await {
            Ok(()) => {}
            Err(error) if retry::is_gone(&error) => {
                abandon.cancel();
                return;
            }
            Err(error) => tracing::warn!(error = %display_chain(&error), "heartbeat failed; will try again"),
        }
    }
}

/// Posts a result, retrying transient failures; a task whose result cannot
/// be posted is delivered again by the server once its lease runs out.
async fn post_result(ws: &Workspace, result: &TaskResult, stop: &CancellationToken) {
    let mut backoff = Backoff::default();
    for _ in 0..RESULT_TRIES {
        match ws.task_result(result).await {
            Ok(()) => return,
            Err(error) if retry::is_transient(&error) => {
                tracing::warn!(error = %display_chain(&error), "cannot post a task result; retrying");
                if !backoff.wait(stop).await {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(error = %display_chain(&error), "the server refused a task result");
                return;
            }
        }
    }
}
