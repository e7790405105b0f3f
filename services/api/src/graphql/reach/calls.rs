//! The calls GraphQL makes to a workspace. Each is answered in-process by
//! the workspace's PFS or PPS when this server hosts it, after the same
//! decision the gateway makes on that call's method and path, or sent to
//! the workspace's server, whose client has that decision made on the URL
//! it sends. Both answer in the wire types, with the same error codes.

use reqwest::Method;
use strata_api_types::ErrorCode;
use strata_api_types::pfs::{
    BranchInfo, CommitInfo, CreateBranch, CreateRepo, FileInfo, FinishCommit, RepoInfo, StartCommit, StoredTotal,
};
use strata_api_types::pps::{CreatePipeline, DatumInfo, JobInfo, PipelineInfo, PipelineUsage, PutSecret, SecretInfo};
use strata_client::ClientError;
use strata_hub::{HubError, UserError};
use strata_pfs::{Pfs, PfsError, WhenDependedOn, api as pfs_api};
use strata_pps::{Pps, PpsError};

use super::{Reach, Target};

/// How one call goes, once it is allowed.
enum Way<'a> {
    InProcess { pfs: &'a Pfs, pps: &'a Pps },
    Remote(&'a strata_client::Workspace),
}

impl Reach {
    /// The way of a call of `method` on `segments` (the path below the
    /// workspace, as the HTTP API names it); decided here when in-process.
    fn way(&self, method: &Method, segments: &[&str]) -> Result<Way<'_>, HubError> {
        match &self.link.target {
            Target::InProcess { pfs, pps } => {
                self.link.vouching.allow(method, segments)?;
                Ok(Way::InProcess { pfs, pps })
            }
            Target::Remote(client) => Ok(Way::Remote(client)),
        }
    }

    // ---- PFS ------------------------------------------------------------

    pub(crate) async fn repo_list(&self) -> Result<Vec<RepoInfo>, HubError> {
        match self.way(&Method::GET, &["repos"])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::repo_list(pfs).await),
            Way::Remote(client) => remote(client.repo_list().await),
        }
    }

    /// The bytes the workspace stores.
    pub(crate) async fn stored_total(&self) -> Result<StoredTotal, HubError> {
        match self.way(&Method::GET, &["storage", "total"])? {
            Way::InProcess { pfs, .. } => in_process(pfs.stored_total().await.map(|bytes| StoredTotal { bytes })),
            Way::Remote(client) => remote(client.stored_total().await),
        }
    }

    /// The storage its server holds it to: its plan's, for a workspace on
    /// its own server; none for the one this server hosts.
    pub(crate) fn storage_limit(&self) -> Option<u64> {
        match &self.link.target {
            Target::InProcess { .. } => None,
            Target::Remote(_) => Some(self.link.vouching.access.limits.storage.bytes),
        }
    }

    pub(crate) async fn repo_inspect(&self, name: &str) -> Result<RepoInfo, HubError> {
        match self.way(&Method::GET, &["repos", name])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::repo_inspect(pfs, name).await),
            Way::Remote(client) => remote(client.repo_inspect(name).await),
        }
    }

    pub(crate) async fn repo_create(&self, name: &str, description: &str) -> Result<RepoInfo, HubError> {
        match self.way(&Method::POST, &["repos"])? {
            Way::InProcess { pfs, .. } => {
                let body = CreateRepo { name: name.to_owned(), description: description.to_owned() };
                in_process(pfs_api::repo_create(pfs, &body).await)
            }
            Way::Remote(client) => remote(client.repo_create(name, description).await),
        }
    }

    pub(crate) async fn repo_delete(&self, name: &str, force: bool) -> Result<Vec<String>, HubError> {
        match self.way(&Method::DELETE, &["repos", name])? {
            Way::InProcess { pfs, .. } => {
                let when = if force { WhenDependedOn::DeleteAnyway } else { WhenDependedOn::Refuse };
                in_process(pfs_api::repo_delete(pfs, name, when).await)
            }
            Way::Remote(client) => remote(client.repo_delete(name, force).await),
        }
    }

    pub(crate) async fn branch_list(&self, repo: &str) -> Result<Vec<BranchInfo>, HubError> {
        match self.way(&Method::GET, &["repos", repo, "branches"])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::branch_list(pfs, repo).await),
            Way::Remote(client) => remote(client.branch_list(repo).await),
        }
    }

    pub(crate) async fn branch_create(&self, repo: &str, body: &CreateBranch) -> Result<BranchInfo, HubError> {
        match self.way(&Method::POST, &["repos", repo, "branches"])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::branch_create(pfs, repo, body).await),
            Way::Remote(client) => remote(client.branch_create(repo, body).await),
        }
    }

    pub(crate) async fn commit_list(&self, repo: &str, limit: u64) -> Result<Vec<CommitInfo>, HubError> {
        match self.way(&Method::GET, &["repos", repo, "commits"])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::commit_list(pfs, repo, limit).await),
            Way::Remote(client) => remote(client.commit_list(repo, limit).await),
        }
    }

    pub(crate) async fn commit_start(
        &self,
        repo: &str,
        branch: &str,
        description: &str,
    ) -> Result<CommitInfo, HubError> {
        match self.way(&Method::POST, &["repos", repo, "commits"])? {
            Way::InProcess { pfs, .. } => {
                let body = StartCommit { branch: branch.to_owned(), description: description.to_owned() };
                in_process(pfs_api::commit_start(pfs, repo, &body).await)
            }
            Way::Remote(client) => remote(client.commit_start(repo, branch, description).await),
        }
    }

    pub(crate) async fn commit_finish(
        &self,
        repo: &str,
        commit: &str,
        body: &FinishCommit,
    ) -> Result<CommitInfo, HubError> {
        match self.way(&Method::POST, &["repos", repo, "commits", commit, "finish"])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::commit_finish(pfs, repo, commit, body).await),
            Way::Remote(client) => remote(client.commit_finish(repo, commit, body).await),
        }
    }

    pub(crate) async fn commit_set(&self, id: &str) -> Result<Vec<CommitInfo>, HubError> {
        match self.way(&Method::GET, &["commitsets", id])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::commit_set(pfs, id).await),
            Way::Remote(client) => remote(client.commit_set(id).await),
        }
    }

    pub(crate) async fn file_list(&self, repo: &str, reference: &str, dir: &str) -> Result<Vec<FileInfo>, HubError> {
        match self.way(&Method::GET, &["repos", repo, "refs", reference, "list", dir])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::file_list(pfs, repo, reference, dir).await),
            Way::Remote(client) => remote(client.file_list(repo, reference, dir).await),
        }
    }

    /// Deletes a file; answers the commit the deletion is in.
    pub(crate) async fn file_delete(&self, repo: &str, reference: &str, path: &str) -> Result<String, HubError> {
        let deleted = match self.way(&Method::DELETE, &["repos", repo, "refs", reference, "files", path])? {
            Way::InProcess { pfs, .. } => in_process(pfs_api::file_delete(pfs, repo, reference, path).await),
            Way::Remote(client) => remote(client.file_delete(repo, reference, path).await),
        };
        deleted.map(|deleted| deleted.commit)
    }

    // ---- PPS ------------------------------------------------------------

    pub(crate) async fn pipeline_list(&self) -> Result<Vec<PipelineInfo>, HubError> {
        match self.way(&Method::GET, &["pps", "pipelines"])? {
            Way::InProcess { pps, .. } => in_process(pps.pipeline_list().await),
            Way::Remote(client) => remote(client.pipeline_list().await),
        }
    }

    pub(crate) async fn pipeline_inspect(&self, name: &str) -> Result<PipelineInfo, HubError> {
        match self.way(&Method::GET, &["pps", "pipelines", name])? {
            Way::InProcess { pps, .. } => in_process(pps.pipeline_info(name).await),
            Way::Remote(client) => remote(client.pipeline_inspect(name).await),
        }
    }

    /// Creates or updates the pipelines of a spec.
    pub(crate) async fn pipeline_create(&self, body: &CreatePipeline) -> Result<Vec<PipelineInfo>, HubError> {
        match self.way(&Method::POST, &["pps", "pipelines"])? {
            Way::InProcess { pps, .. } => {
                let format = body.format.map(Into::into);
                in_process(pps.pipeline_create(body.spec.clone(), format, body.update, body.reprocess).await)
            }
            Way::Remote(client) => remote(client.pipeline_create(body).await),
        }
    }

    pub(crate) async fn pipeline_delete(&self, name: &str) -> Result<(), HubError> {
        match self.way(&Method::DELETE, &["pps", "pipelines", name])? {
            Way::InProcess { pps, .. } => in_process(pps.pipeline_delete(name).await),
            Way::Remote(client) => remote(client.pipeline_delete(name).await),
        }
    }

    /// Names and key names only: no call returns a secret's values.
    pub(crate) async fn secret_list(&self) -> Result<Vec<SecretInfo>, HubError> {
        match self.way(&Method::GET, &["pps", "secrets"])? {
            Way::InProcess { pps, .. } => in_process(pps.secret_list().await),
            Way::Remote(client) => remote(client.secret_list().await),
        }
    }

    pub(crate) async fn secret_put(&self, name: &str, body: PutSecret) -> Result<SecretInfo, HubError> {
        match self.way(&Method::PUT, &["pps", "secrets", name])? {
            Way::InProcess { pps, .. } => in_process(pps.secret_put(name, body).await),
            Way::Remote(client) => remote(client.secret_put(name, &body).await),
        }
    }

    pub(crate) async fn secret_delete(&self, name: &str) -> Result<(), HubError> {
        match self.way(&Method::DELETE, &["pps", "secrets", name])? {
            Way::InProcess { pps, .. } => in_process(pps.secret_delete(name).await),
            Way::Remote(client) => remote(client.secret_delete(name).await),
        }
    }

    pub(crate) async fn usage_by_pipeline(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PipelineUsage>, HubError> {
        match self.way(&Method::GET, &["pps", "usage"])? {
            Way::InProcess { pps, .. } => in_process(pps.usage_by_pipeline(from, to).await),
            Way::Remote(client) => remote(client.usage_by_pipeline(from, to).await),
        }
    }

    pub(crate) async fn job_list(&self, pipeline: Option<&str>, limit: u64) -> Result<Vec<JobInfo>, HubError> {
        match self.way(&Method::GET, &["pps", "jobs"])? {
            Way::InProcess { pps, .. } => in_process(pps.job_list(pipeline, limit).await),
            Way::Remote(client) => remote(client.job_list(pipeline, limit).await),
        }
    }

    pub(crate) async fn job_inspect(&self, pipeline: &str, id: &str) -> Result<JobInfo, HubError> {
        match self.way(&Method::GET, &["pps", "pipelines", pipeline, "jobs", id])? {
            Way::InProcess { pps, .. } => in_process(pps.job_inspect(pipeline, id).await),
            Way::Remote(client) => remote(client.job_inspect(pipeline, id).await),
        }
    }

    pub(crate) async fn job_stop(&self, pipeline: &str, id: &str) -> Result<JobInfo, HubError> {
        match self.way(&Method::POST, &["pps", "pipelines", pipeline, "jobs", id, "stop"])? {
            Way::InProcess { pps, .. } => in_process(pps.job_stop(pipeline, id).await),
            Way::Remote(client) => remote(client.job_stop(pipeline, id).await),
        }
    }

    /// Every datum of a job.
    pub(crate) async fn datum_list(&self, pipeline: &str, id: &str) -> Result<Vec<DatumInfo>, HubError> {
        match self.way(&Method::GET, &["pps", "pipelines", pipeline, "jobs", id, "datums"])? {
            Way::InProcess { pps, .. } => in_process(pps.datum_list(pipeline, id, None).await),
            Way::Remote(client) => remote(client.datum_list(pipeline, id, None).await),
        }
    }
}

/// An error of a hosted workspace's PFS or PPS, with its code.
trait Coded: std::error::Error + 'static {
    fn code(&self) -> ErrorCode;
    fn message_is_public(&self) -> bool;
}

impl Coded for PfsError {
    fn code(&self) -> ErrorCode {
        PfsError::code(self)
    }
    fn message_is_public(&self) -> bool {
        PfsError::message_is_public(self)
    }
}

impl Coded for PpsError {
    fn code(&self) -> ErrorCode {
        PpsError::code(self)
    }
    fn message_is_public(&self) -> bool {
        PpsError::message_is_public(self)
    }
}

fn in_process<T, E: Coded>(result: Result<T, E>) -> Result<T, HubError> {
    result.map_err(|error| served(error.code(), error.message_is_public(), &error))
}

fn remote<T>(result: Result<T, ClientError>) -> Result<T, HubError> {
    result.map_err(from_client)
}

/// A hosted workspace's answer as a hub error, as its server would have
/// answered over HTTP: a refusal is a user error; a failure is logged here
/// with its whole cause and a request id, and answered with its code, the
/// message only when it is safe to show, and that id.
fn served(code: ErrorCode, message_is_public: bool, error: &(dyn std::error::Error + 'static)) -> HubError {
    if !code.is_server_error() {
        return UserError::new(None, code, error.to_string()).into();
    }
    let request_id = strata_http::request_id();
    tracing::error!(%request_id, error = %strata_core::error::display_chain(error), "workspace call failed");
    let message = if message_is_public { error.to_string() } else { strata_http::INTERNAL_MESSAGE.to_owned() };
    HubError::Remote { code, message: format!("{message} (request id {request_id})") }
}

/// A workspace server's answer as a hub error, keeping its code: a refusal
/// is a user error, a failure of that server stays its failure.
fn from_client(error: ClientError) -> HubError {
    match error {
        ClientError::Api { status, code, message } => {
            let code = ErrorCode::parse(&code).unwrap_or(match status {
                401 => ErrorCode::Unauthenticated,
                403 => ErrorCode::Forbidden,
                404 => ErrorCode::NotFound,
                400..500 => ErrorCode::InvalidArgument,
                _ => ErrorCode::Internal,
            });
            if code.is_server_error() {
                HubError::Remote { code, message }
            } else {
                HubError::User(UserError::new(None, code, message))
            }
        }
        other => HubError::Internal(format!("workspace server: {other}")),
    }
}
