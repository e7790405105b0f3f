//! PPS calls, scoped to one workspace: pipelines, jobs, datums and logs.
//!
//! Every path is below `/v1/workspaces/{workspace}/pps`. A job is named by
//! its id or by `latest`, the job of the pipeline's newest output commit.

use reqwest::Method;

use crate::client::ClientError;
use crate::pfs::Workspace;
use strata_api_types::pps::{
    CreatePipeline, DatumInfo, DatumState, JobInfo, LogLine, PipelineInfo, PipelineUsage, PullTask, PutSecret,
    SecretInfo, TaskAssignment, TaskHeartbeat, TaskResult, UsageRecord, WorkerLeaving,
};

/// Which log lines [`Workspace::logs`] returns. Lines come back in cursor
/// order; to follow a log, ask again with `after` set to the last cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub pipeline: String,
    /// Only this job's lines (an id).
    pub job: Option<String>,
    /// Only this datum's lines.
    pub datum: Option<String>,
    /// Only lines after this cursor.
    pub after: Option<u64>,
    /// At most this many lines; the server's default when `None`.
    pub limit: Option<u64>,
}

impl LogQuery {
    /// All lines of `pipeline`.
    pub fn pipeline(pipeline: &str) -> Self {
        Self { pipeline: pipeline.to_owned(), ..Self::default() }
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("pipeline", self.pipeline.clone())];
        pairs.extend(self.job.clone().map(|job| ("job", job)));
        pairs.extend(self.datum.clone().map(|datum| ("datum", datum)));
        pairs.extend(self.after.map(|after| ("after", after.to_string())));
        pairs.extend(self.limit.map(|limit| ("limit", limit.to_string())));
        pairs
    }
}

impl Workspace {
    /// `POST /pps/pipelines`: creates (or with `update`, replaces) every
    /// pipeline of a spec file.
    pub async fn pipeline_create(&self, body: &CreatePipeline) -> Result<Vec<PipelineInfo>, ClientError> {
        self.call(Method::POST, &["pps", "pipelines"], &[], Some(body), &[201]).await
    }

    /// Every pipeline of the workspace.
    pub async fn pipeline_list(&self) -> Result<Vec<PipelineInfo>, ClientError> {
        self.get(&["pps", "pipelines"], &[]).await
    }

    /// The work waiting in each pipeline (for autoscalers).
    pub async fn pipeline_load(&self) -> Result<Vec<strata_api_types::pps::PipelineLoad>, ClientError> {
        self.get(&["pps", "load"], &[]).await
    }

    /// The secret values a pipeline's worker pods reference (the Kubernetes
    /// provisioner's pod-secrets credential only).
    pub async fn pod_secrets(&self, pipeline: &str) -> Result<strata_api_types::pps::TaskSecrets, ClientError> {
        self.get(&["pps", "pipelines", pipeline, "pod-secrets"], &[]).await
    }

    /// One pipeline with its effective spec.
    pub async fn pipeline_inspect(&self, pipeline: &str) -> Result<PipelineInfo, ClientError> {
        self.get(&["pps", "pipelines", pipeline], &[]).await
    }

    /// Deletes a pipeline.
    pub async fn pipeline_delete(&self, pipeline: &str) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["pps", "pipelines", pipeline], &[]).await
    }

    /// The workspace's secrets: names and key names, never values.
    pub async fn secret_list(&self) -> Result<Vec<SecretInfo>, ClientError> {
        self.get(&["pps", "secrets"], &[]).await
    }

    pub async fn secret_inspect(&self, name: &str) -> Result<SecretInfo, ClientError> {
        self.get(&["pps", "secrets", name], &[]).await
    }

    /// Creates a secret (or replaces it when `body.overwrite`).
    pub async fn secret_put(&self, name: &str, body: &PutSecret) -> Result<SecretInfo, ClientError> {
        self.call(Method::PUT, &["pps", "secrets", name], &[], Some(body), &[200]).await
    }

    pub async fn secret_delete(&self, name: &str) -> Result<(), ClientError> {
        self.no_content(Method::DELETE, &["pps", "secrets", name], &[]).await
    }

    /// Pauses a pipeline: no new jobs start until [`Self::pipeline_start`].
    pub async fn pipeline_stop(&self, pipeline: &str) -> Result<PipelineInfo, ClientError> {
        self.call(Method::POST, &["pps", "pipelines", pipeline, "stop"], &[], None::<&()>, &[200]).await
    }

    /// Resumes a paused pipeline.
    pub async fn pipeline_start(&self, pipeline: &str) -> Result<PipelineInfo, ClientError> {
        self.call(Method::POST, &["pps", "pipelines", pipeline, "start"], &[], None::<&()>, &[200]).await
    }

    /// Jobs, newest first; of one pipeline or of all.
    pub async fn job_list(&self, pipeline: Option<&str>, limit: u64) -> Result<Vec<JobInfo>, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(pipeline.map(|p| ("pipeline", p.to_owned())));
        self.get(&["pps", "jobs"], &query).await
    }

    /// What each pipeline used in `[from, to)`, by name.
    pub async fn usage_by_pipeline(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PipelineUsage>, ClientError> {
        let query = [("from", from.to_rfc3339()), ("to", to.to_rfc3339())];
        self.get(&["pps", "usage"], &query).await
    }

    /// The usage outbox after record `after`, oldest first, at most `limit`
    /// (billing's credential only).
    pub async fn usage_records(&self, after: i64, limit: u64) -> Result<Vec<UsageRecord>, ClientError> {
        self.get(&["pps", "usage", "records"], &[("after", after.to_string()), ("limit", limit.to_string())]).await
    }

    /// One job, by id or `latest`.
    pub async fn job_inspect(&self, pipeline: &str, job: &str) -> Result<JobInfo, ClientError> {
        self.get(&["pps", "pipelines", pipeline, "jobs", job], &[]).await
    }

    /// Waits until the job is terminal. The server holds the request up to
    /// `timeout_secs` and then answers a `timeout` error; the client sets
    /// no request timeout of its own, so nothing cuts the wait shorter.
    pub async fn job_wait(&self, pipeline: &str, job: &str, timeout_secs: u64) -> Result<JobInfo, ClientError> {
        self.get(&["pps", "pipelines", pipeline, "jobs", job, "wait"], &[("timeout_secs", timeout_secs.to_string())])
            .await
    }

    /// Stops a job that has not finished; it ends KILLED.
    pub async fn job_stop(&self, pipeline: &str, job: &str) -> Result<JobInfo, ClientError> {
        self.call(Method::POST, &["pps", "pipelines", pipeline, "jobs", job, "stop"], &[], None::<&()>, &[200]).await
    }

    /// A job's datums, optionally only those in `state`.
    pub async fn datum_list(
        &self,
        pipeline: &str,
        job: &str,
        state: Option<DatumState>,
    ) -> Result<Vec<DatumInfo>, ClientError> {
        let query: Vec<_> = state.map(|s| ("state", s.as_str().to_owned())).into_iter().collect();
        self.get(&["pps", "pipelines", pipeline, "jobs", job, "datums"], &query).await
    }

    /// One datum, with its log.
    pub async fn datum_inspect(&self, pipeline: &str, job: &str, datum: &str) -> Result<DatumInfo, ClientError> {
        self.get(&["pps", "pipelines", pipeline, "jobs", job, "datums", datum], &[]).await
    }

    /// Log lines in cursor order.
    pub async fn logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, ClientError> {
        self.get(&["pps", "logs"], &query.pairs()).await
    }
}

/// The worker protocol: what `strata worker` (and the server's embedded
/// workers) call. A 410 (`ClientError::Api { status: 410, .. }`) from any of
/// them means the task is no longer the worker's: its job is over or its
/// lease passed to another worker.
impl Workspace {
    /// `POST /pps/tasks/pull`: a task of `request.pipeline`, or `None` when
    /// none came within `request.wait_ms` (the server holds the request
    /// that long, so no client timeout applies).
    pub async fn task_pull(&self, request: &PullTask) -> Result<Option<TaskAssignment>, ClientError> {
        let builder = self.request(Method::POST, &["pps", "tasks", "pull"])?.json(request);
        let response = self.client().send(builder).await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        self.client().json(response, &[200]).await.map(Some)
    }

    /// `GET /pps/tasks/{delivery}/inputs`: the files of the task's datums as
    /// a tar stream, members named `<datum index>/<input name>/<path>`.
    pub async fn task_inputs(&self, delivery: &str) -> Result<reqwest::Response, ClientError> {
        let builder = self.request(Method::GET, &["pps", "tasks", delivery, "inputs"])?;
        let response = self.client().send(builder).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_of(response).await)
    }

    /// `POST /pps/tasks/heartbeat`: keeps the task's lease.
    pub async fn task_heartbeat(&self, beat: &TaskHeartbeat) -> Result<(), ClientError> {
        self.post_no_content(&["pps", "tasks", "heartbeat"], beat).await
    }

    /// `POST /pps/tasks/leave`: this worker is stopping, so its waiting
    /// pull should end without a task.
    pub async fn task_leave(&self, leaving: &WorkerLeaving) -> Result<(), ClientError> {
        self.post_no_content(&["pps", "tasks", "leave"], leaving).await
    }

    /// `POST /pps/tasks/release`: hands a task back unrun, for the next
    /// worker to take at once.
    pub async fn task_release(&self, release: &TaskHeartbeat) -> Result<(), ClientError> {
        self.post_no_content(&["pps", "tasks", "release"], release).await
    }

    /// `POST /pps/tasks/result`: the outcome of every datum of the task,
    /// sent after their outputs were uploaded.
    pub async fn task_result(&self, result: &TaskResult) -> Result<(), ClientError> {
        self.post_no_content(&["pps", "tasks", "result"], result).await
    }

    async fn post_no_content(&self, segments: &[&str], body: &impl serde::Serialize) -> Result<(), ClientError> {
        let builder = self.request(Method::POST, segments)?.json(body);
        let response = self.client().send(builder).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(self.error_of(response).await)
    }

    /// The error an unsuccessful response stands for.
    async fn error_of(&self, response: reqwest::Response) -> ClientError {
        let status = response.status().as_u16();
        match self.client().json::<serde_json::Value>(response, &[]).await {
            Err(error) => error,
            // Unreachable: no status is expected, so `json` always fails.
            Ok(_) => ClientError::Api { status, code: "UNKNOWN".to_owned(), message: String::new() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_query_sends_only_what_is_set() {
        assert_eq!(LogQuery::pipeline("edges").pairs(), [("pipeline", "edges".to_owned())]);
        let query = LogQuery {
            pipeline: "edges".into(),
            job: Some("j".into()),
            datum: Some("d".into()),
            after: Some(7),
            limit: Some(100),
        };
        let keys: Vec<&str> = query.pairs().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["pipeline", "job", "datum", "after", "limit"]);
    }
}
