//! Mutations on a workspace's data, for CI systems: repos, branches,
//! commits, file deletion, pipelines and jobs. Bytes go through the HTTP
//! file endpoints, never GraphQL. Each is carried out by the workspace's
//! server with the caller's token, which checks the caller's role.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use strata_api_types::pfs::{CreateBranch, FinishCommit};
use strata_api_types::pps::{CreatePipeline, SpecFormat};
use strata_hub::HubError;

use super::caller::{GqlUserError, payload};
use super::workspace_types::{Branch, Commit, Job, Pipeline, Place, Repo, Secret, workspace_client};

/// The workspace mutations.
#[derive(Debug, Default)]
pub struct WorkspaceMutation;

/// Names the workspace a mutation acts on.
#[derive(Debug, Clone, InputObject)]
pub(crate) struct WorkspaceRef {
    /// The organisation's slug.
    organization: String,
    /// The workspace's slug.
    workspace: String,
}

impl WorkspaceRef {
    fn place(&self) -> Place {
        Place { org: self.organization.clone(), workspace: self.workspace.clone() }
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateRepoInput {
    target: WorkspaceRef,
    name: String,
    #[graphql(default)]
    description: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct RepoPayload {
    repo: Option<Repo>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteRepoInput {
    target: WorkspaceRef,
    name: String,
    /// Also when pipelines read it.
    #[graphql(default)]
    force: bool,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct DeletedPayload {
    /// What was deleted.
    deleted: Vec<String>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreateBranchInput {
    target: WorkspaceRef,
    repo: String,
    name: String,
    /// A commit (or branch) to point it at.
    head: Option<String>,
    /// `repo@branch` it derives from.
    #[graphql(default)]
    provenance: Vec<String>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct BranchPayload {
    branch: Option<Branch>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct StartCommitInput {
    target: WorkspaceRef,
    repo: String,
    branch: String,
    #[graphql(default)]
    description: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct CommitPayload {
    commit: Option<Commit>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct FinishCommitInput {
    target: WorkspaceRef,
    repo: String,
    /// The commit id, or the branch whose open commit to finish.
    commit: String,
    description: Option<String>,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteFileInput {
    target: WorkspaceRef,
    repo: String,
    /// A branch (a new commit is made) or an open commit.
    reference: String,
    path: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct CreatePipelineInput {
    target: WorkspaceRef,
    /// The spec file's text, JSON or YAML (Pachyderm-compatible), at most 256 KiB.
    spec: String,
    /// The spec's language; when null, text starting with `{` or `[` is JSON
    /// and anything else YAML.
    format: Option<GqlSpecFormat>,
}

/// The language a pipeline spec is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "SpecFormat")]
pub(crate) enum GqlSpecFormat {
    Json,
    Yaml,
}

impl From<GqlSpecFormat> for SpecFormat {
    fn from(format: GqlSpecFormat) -> Self {
        match format {
            GqlSpecFormat::Json => SpecFormat::Json,
            GqlSpecFormat::Yaml => SpecFormat::Yaml,
        }
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct UpdatePipelineInput {
    target: WorkspaceRef,
    /// The spec file's text, JSON or YAML (Pachyderm-compatible), at most 256 KiB.
    spec: String,
    /// The spec's language, as in `CreatePipelineInput`.
    format: Option<GqlSpecFormat>,
    /// Run every datum again, not only those the change affects.
    #[graphql(default)]
    reprocess: bool,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct PipelinesPayload {
    pipelines: Vec<Pipeline>,
    user_errors: Vec<GqlUserError>,
}

/// One key of a secret and its value (write-only).
#[derive(InputObject)]
pub(crate) struct SecretEntryInput {
    key: String,
    value: String,
}

/// The key only: a value never reaches a log line.
impl std::fmt::Debug for SecretEntryInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretEntryInput").field("key", &self.key).finish_non_exhaustive()
    }
}

#[derive(Debug, InputObject)]
pub(crate) struct PutSecretInput {
    target: WorkspaceRef,
    name: String,
    data: Vec<SecretEntryInput>,
    /// Replace an existing secret's values instead of refusing.
    #[graphql(default)]
    overwrite: bool,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeleteSecretInput {
    target: WorkspaceRef,
    name: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct SecretPayload {
    secret: Option<Secret>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Debug, InputObject)]
pub(crate) struct DeletePipelineInput {
    target: WorkspaceRef,
    name: String,
}

#[derive(Debug, InputObject)]
pub(crate) struct StopJobInput {
    target: WorkspaceRef,
    pipeline: String,
    id: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct JobPayload {
    job: Option<Job>,
    user_errors: Vec<GqlUserError>,
}

/// Runs `call` against the workspace, turning refusals into user errors.
macro_rules! on_workspace {
    ($ctx:expr, $target:expr, |$ws:ident| $call:expr) => {{
        match workspace_client($ctx, &$target.organization, &$target.workspace).await {
            Ok($ws) => {
                let result = $call.await;
                if let Ok(hub) = $ctx.data::<strata_hub::Hub>() {
                    $ws.settle_audit(hub, result.is_ok()).await;
                }
                result
            }
            Err(error) => Err::<_, HubError>(error),
        }
    }};
}

#[Object]
impl WorkspaceMutation {
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn create_repo(&self, ctx: &Context<'_>, input: CreateRepoInput) -> async_graphql::Result<RepoPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.repo_create(&input.name, &input.description));
        let (info, user_errors) = payload(result)?;
        Ok(RepoPayload { repo: info.map(|info| Repo { info, place: input.target.place() }), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn delete_repo(&self, ctx: &Context<'_>, input: DeleteRepoInput) -> async_graphql::Result<DeletedPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.repo_delete(&input.name, input.force));
        let (deleted, user_errors) = payload(result)?;
        Ok(DeletedPayload { deleted: deleted.unwrap_or_default(), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn create_branch(&self, ctx: &Context<'_>, input: CreateBranchInput) -> async_graphql::Result<BranchPayload> {
        let body =
            CreateBranch { name: input.name.clone(), head: input.head.clone(), provenance: input.provenance.clone() };
        let result = on_workspace!(ctx, input.target, |ws| ws.branch_create(&input.repo, &body));
        let (branch, user_errors) = payload(result)?;
        Ok(BranchPayload { branch: branch.map(Branch), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    /// Opens a commit on a branch; put files into it over HTTP, then finish it.
    async fn start_commit(&self, ctx: &Context<'_>, input: StartCommitInput) -> async_graphql::Result<CommitPayload> {
        let result =
            on_workspace!(ctx, input.target, |ws| ws.commit_start(&input.repo, &input.branch, &input.description));
        let (commit, user_errors) = payload(result)?;
        Ok(CommitPayload { commit: commit.map(Commit), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn finish_commit(&self, ctx: &Context<'_>, input: FinishCommitInput) -> async_graphql::Result<CommitPayload> {
        let body = FinishCommit { description: input.description.clone(), error: None };
        let result = on_workspace!(ctx, input.target, |ws| ws.commit_finish(&input.repo, &input.commit, &body));
        let (commit, user_errors) = payload(result)?;
        Ok(CommitPayload { commit: commit.map(Commit), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn delete_file(&self, ctx: &Context<'_>, input: DeleteFileInput) -> async_graphql::Result<DeletedPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.file_delete(&input.repo, &input.reference, &input.path));
        let (done, user_errors) = payload(result)?;
        Ok(DeletedPayload { deleted: done.map(|_| vec![input.path.clone()]).unwrap_or_default(), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    /// Creates the pipelines of a spec file; the first job starts at once.
    async fn create_pipeline(
        &self,
        ctx: &Context<'_>,
        input: CreatePipelineInput,
    ) -> async_graphql::Result<PipelinesPayload> {
        let body =
            CreatePipeline { spec: input.spec, update: false, reprocess: false, format: input.format.map(Into::into) };
        pipelines(ctx, &input.target, &body).await
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    /// Updates pipelines; by default only what the change affects is reprocessed.
    async fn update_pipeline(
        &self,
        ctx: &Context<'_>,
        input: UpdatePipelineInput,
    ) -> async_graphql::Result<PipelinesPayload> {
        let body = CreatePipeline {
            spec: input.spec,
            update: true,
            reprocess: input.reprocess,
            format: input.format.map(Into::into),
        };
        pipelines(ctx, &input.target, &body).await
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn delete_pipeline(
        &self,
        ctx: &Context<'_>,
        input: DeletePipelineInput,
    ) -> async_graphql::Result<DeletedPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.pipeline_delete(&input.name));
        let (done, user_errors) = payload(result)?;
        Ok(DeletedPayload { deleted: done.map(|()| vec![input.name.clone()]).unwrap_or_default(), user_errors })
    }

    /// Creates a workspace secret (or replaces it with `overwrite`). The
    /// values are sealed at rest and never returned by any call.
    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn put_secret(&self, ctx: &Context<'_>, input: PutSecretInput) -> async_graphql::Result<SecretPayload> {
        let mut data = std::collections::BTreeMap::new();
        for entry in input.data {
            data.insert(entry.key, strata_api_types::pps::SecretText(entry.value));
        }
        let body = strata_api_types::pps::PutSecret { data, overwrite: input.overwrite };
        let result = on_workspace!(ctx, input.target, |ws| ws.secret_put(&input.name, body));
        let (info, user_errors) = payload(result)?;
        Ok(SecretPayload { secret: info.map(Secret::from), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn delete_secret(
        &self,
        ctx: &Context<'_>,
        input: DeleteSecretInput,
    ) -> async_graphql::Result<DeletedPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.secret_delete(&input.name));
        let (done, user_errors) = payload(result)?;
        Ok(DeletedPayload { deleted: done.map(|()| vec![input.name.clone()]).unwrap_or_default(), user_errors })
    }

    #[graphql(complexity = "super::limits::ONE_CALL + child_complexity")]
    async fn stop_job(&self, ctx: &Context<'_>, input: StopJobInput) -> async_graphql::Result<JobPayload> {
        let result = on_workspace!(ctx, input.target, |ws| ws.job_stop(&input.pipeline, &input.id));
        let (info, user_errors) = payload(result)?;
        Ok(JobPayload { job: info.map(|info| Job { info, place: input.target.place() }), user_errors })
    }
}

async fn pipelines(
    ctx: &Context<'_>,
    target: &WorkspaceRef,
    body: &CreatePipeline,
) -> async_graphql::Result<PipelinesPayload> {
    let result = on_workspace!(ctx, target, |ws| ws.pipeline_create(body));
    let (made, user_errors) = payload(result)?;
    let place = target.place();
    let pipelines = made.unwrap_or_default().into_iter().map(|info| Pipeline { info, place: place.clone() }).collect();
    Ok(PipelinesPayload { pipelines, user_errors })
}
