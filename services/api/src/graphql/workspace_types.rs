//! What a workspace holds, as GraphQL sees it: repos, branches, commits,
//! files, pipelines, jobs, datums and the DAG. Every field is answered by
//! the workspace, reached as [`super::reach`] describes: the workspace
//! resolved once per request, called in-process when this server hosts it
//! or through one pooled client, and the gateway's own role check on every
//! call.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use strata_api_types::pfs::{BranchInfo, CommitInfo, FileInfo, FileKind, RepoInfo};
use strata_api_types::pps::{DatumInfo, JobInfo, PipelineInfo};
use strata_hub::{HubError, UserError};

use super::paging;
use super::reach::Reach;

/// The workspace `org/slug` as the caller reaches it.
pub(crate) async fn workspace_client(ctx: &Context<'_>, org: &str, slug: &str) -> Result<Reach, HubError> {
    super::reach::reach(ctx, org, slug).await
}

/// For query fields of a workspace.
pub(crate) fn answer<T>(result: Result<T, HubError>) -> async_graphql::Result<T> {
    super::caller::query_result(result)
}

/// The organisation and workspace a nested field belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub org: String,
    pub workspace: String,
}

impl Place {
    pub(crate) async fn client(&self, ctx: &Context<'_>) -> async_graphql::Result<Reach> {
        super::caller::query_result(workspace_client(ctx, &self.org, &self.workspace).await)
    }
}

/// A repo.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub info: RepoInfo,
    pub place: Place,
}

#[Object]
impl Repo {
    async fn name(&self) -> &str {
        &self.info.name
    }
    /// `user`, `output` (a pipeline's) or `spec`.
    async fn kind(&self) -> &str {
        &self.info.kind
    }
    async fn description(&self) -> &str {
        &self.info.description
    }
    async fn created_at(&self) -> &str {
        &self.info.created_at
    }
    /// Size of its largest branch head, in bytes.
    async fn size_bytes(&self) -> u64 {
        self.info.size_bytes
    }
    #[graphql(complexity = "super::limits::PER_ITEM + child_complexity")]
    async fn branches(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Branch>> {
        let branches = answer(self.place.client(ctx).await?.branch_list(&self.info.name).await)?;
        Ok(branches.into_iter().map(Branch).collect())
    }
    /// Newest first.
    #[graphql(complexity = "super::limits::PER_ITEM + child_complexity")]
    async fn commits(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: u32,
    ) -> async_graphql::Result<Vec<Commit>> {
        let first = paging::list_limit(first)?;
        let commits = answer(self.place.client(ctx).await?.commit_list(&self.info.name, first).await)?;
        Ok(commits.into_iter().map(Commit).collect())
    }
    /// The entries of a directory at a branch or commit.
    #[graphql(complexity = "super::limits::PER_ITEM + child_complexity")]
    async fn files(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "master")] reference: String,
        #[graphql(default = "/")] path: String,
    ) -> async_graphql::Result<Vec<File>> {
        let files = answer(self.place.client(ctx).await?.file_list(&self.info.name, &reference, &path).await)?;
        Ok(files.into_iter().map(File).collect())
    }
}

/// A branch.
#[derive(Debug, Clone)]
pub(crate) struct Branch(pub BranchInfo);

#[Object]
impl Branch {
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its head commit's id.
    async fn head(&self) -> &str {
        &self.0.head
    }
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }
    /// `repo@branch` it derives from.
    async fn provenance(&self) -> &[String] {
        &self.0.provenance
    }
}

/// A commit.
#[derive(Debug, Clone)]
pub(crate) struct Commit(pub CommitInfo);

#[Object]
impl Commit {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn repo(&self) -> &str {
        &self.0.repo
    }
    async fn branch(&self) -> Option<&str> {
        self.0.branch.as_deref()
    }
    async fn parent(&self) -> Option<&str> {
        self.0.parent.as_deref()
    }
    /// `USER` or `AUTO`.
    async fn origin(&self) -> &str {
        &self.0.origin
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn started_at(&self) -> &str {
        &self.0.started_at
    }
    /// Null while the commit is open.
    async fn finished_at(&self) -> Option<&str> {
        self.0.finished_at.as_deref()
    }
    async fn size_bytes(&self) -> u64 {
        self.0.size_bytes
    }
    async fn file_count(&self) -> u64 {
        self.0.files
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// `repo@commit` it derives from.
    async fn provenance(&self) -> &[String] {
        &self.0.provenance
    }
}

/// A file or directory.
#[derive(Debug, Clone)]
pub(crate) struct File(pub FileInfo);

/// Whether an entry is a file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum FileType {
    File,
    Dir,
}

#[Object]
impl File {
    async fn path(&self) -> &str {
        &self.0.path
    }
    #[graphql(name = "type")]
    async fn file_type(&self) -> FileType {
        match self.0.kind {
            FileKind::File => FileType::File,
            FileKind::Dir => FileType::Dir,
        }
    }
    async fn size_bytes(&self) -> u64 {
        self.0.size
    }
    /// BLAKE3 of the content (files) or of the children (directories).
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

// `strata_api_types::pps::JobState` as a GraphQL enum: `remote` converts
// both ways with exhaustive matches, so the compiler keeps the lists equal.
/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "JobState", remote = "strata_api_types::pps::JobState")]
pub(crate) enum GqlJobState {
    Created,
    Starting,
    Running,
    Finishing,
    Success,
    Failure,
    Killed,
    Unrunnable,
}

/// A pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub info: PipelineInfo,
    pub place: Place,
}

#[Object]
impl Pipeline {
    async fn name(&self) -> &str {
        &self.info.name
    }
    async fn description(&self) -> &str {
        &self.info.description
    }
    /// `running` or `paused`.
    async fn state(&self) -> &str {
        &self.info.state
    }
    /// 1 when created, +1 per update.
    async fn version(&self) -> i32 {
        self.info.version
    }
    /// The effective spec, defaults filled in.
    async fn spec(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.info.spec.clone())
    }
    /// `repo@branch` it reads.
    async fn inputs(&self) -> &[String] {
        &self.info.inputs
    }
    async fn output_repo(&self) -> &str {
        &self.info.output_repo
    }
    async fn parallelism(&self) -> u32 {
        self.info.parallelism
    }
    async fn created_at(&self) -> &str {
        &self.info.created_at
    }
    async fn updated_at(&self) -> &str {
        &self.info.updated_at
    }
    /// The state of its newest job, if it has one.
    async fn last_job_state(&self) -> Option<GqlJobState> {
        self.info.last_job.as_ref().map(|job| job.state.into())
    }
    /// Newest first.
    #[graphql(complexity = "super::limits::PER_ITEM + child_complexity")]
    async fn jobs(&self, ctx: &Context<'_>, #[graphql(default = 20)] first: u32) -> async_graphql::Result<Vec<Job>> {
        let first = paging::list_limit(first)?;
        let jobs = answer(self.place.client(ctx).await?.job_list(Some(&self.info.name), first).await)?;
        Ok(jobs.into_iter().map(|info| Job { info, place: self.place.clone() }).collect())
    }
}

/// Datums of a job by state.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct DatumCounts {
    pub total: u64,
    pub processed: u64,
    pub skipped: u64,
    pub failed: u64,
    pub recovered: u64,
}

/// Time and bytes a job's (or datum's) work took.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct WorkStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub download_secs: f64,
    pub process_secs: f64,
    pub upload_secs: f64,
}

impl WorkStats {
    /// From bytes in and out and the download, process and upload seconds.
    fn new(bytes_in: u64, bytes_out: u64, [download_secs, process_secs, upload_secs]: [f64; 3]) -> Self {
        WorkStats { bytes_in, bytes_out, download_secs, process_secs, upload_secs }
    }
}

/// Usage and its price: of a job, or of a pipeline or workspace over a month.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct UsageCost {
    /// The plan whose prices apply.
    pub plan: String,
    /// CPU time the datums' commands used.
    pub cpu_seconds: f64,
    /// Worker memory held while the datums ran (the plan's worker memory ×
    /// run time).
    pub memory_gib_seconds: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// In US dollars, unrounded (the console shows cents).
    pub price_usd: f64,
}

impl UsageCost {
    /// The price of `cpu_secs` of CPU and `process_secs` of a worker's
    /// memory under `plan` (docs/billing.md, "What a job costs").
    pub(crate) fn of(
        cpu_secs: f64,
        process_secs: f64,
        [bytes_in, bytes_out]: [u64; 2],
        plan: &strata_hub::plans::Plan,
    ) -> Self {
        let usage = strata_hub::plans::Usage {
            cpu_seconds: cpu_secs,
            memory_gib_seconds: process_secs * plan.worker_memory_mib as f64 / 1024.0,
            ..strata_hub::plans::Usage::default()
        };
        UsageCost {
            plan: plan.name.clone(),
            cpu_seconds: usage.cpu_seconds,
            memory_gib_seconds: usage.memory_gib_seconds,
            bytes_in,
            bytes_out,
            price_usd: plan.prices.of(&usage),
        }
    }
}

/// What one pipeline's jobs used in a month, and its price.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct PipelineCost {
    pub pipeline: String,
    /// Jobs with datums that ran in the month.
    pub jobs: u64,
    pub datums: u64,
    pub cost: UsageCost,
}

/// A workspace's storage against its plan's.
#[derive(Debug, Clone, Copy, SimpleObject)]
pub(crate) struct StorageUsage {
    pub used_bytes: u64,
    /// What a write may take it to; none for the server's own workspace
    /// (`local/default`), which no plan limits.
    pub limit_bytes: Option<u64>,
}

/// Where a workspace's bill for a month came from: each pipeline's usage
/// and price, and their sum.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct MonthlyCost {
    /// `YYYY-MM`, in UTC.
    pub month: String,
    pub total: UsageCost,
    /// The costliest first.
    pub pipelines: Vec<PipelineCost>,
}

impl MonthlyCost {
    pub(crate) fn of(
        month: String,
        used: &[strata_api_types::pps::PipelineUsage],
        plan: &strata_hub::plans::Plan,
    ) -> Self {
        let mut pipelines: Vec<PipelineCost> = used
            .iter()
            .map(|p| PipelineCost {
                pipeline: p.pipeline.clone(),
                jobs: p.jobs,
                datums: p.datums,
                cost: UsageCost::of(p.cpu_secs, p.process_secs, [p.bytes_in, p.bytes_out], plan),
            })
            .collect();
        pipelines.sort_by(|a, b| b.cost.price_usd.total_cmp(&a.cost.price_usd).then(a.pipeline.cmp(&b.pipeline)));
        let sum = |field: fn(&strata_api_types::pps::PipelineUsage) -> f64| used.iter().map(field).sum::<f64>();
        let bytes = [used.iter().map(|p| p.bytes_in).sum(), used.iter().map(|p| p.bytes_out).sum()];
        let total = UsageCost::of(sum(|p| p.cpu_secs), sum(|p| p.process_secs), bytes, plan);
        MonthlyCost { month, total, pipelines }
    }
}

/// A calendar month in UTC, as `YYYY-MM`: its first instant and the next
/// month's.
pub(crate) fn month_span(month: Option<&str>) -> Result<(String, [DateTime<Utc>; 2]), HubError> {
    use chrono::{Datelike as _, NaiveDate, TimeZone as _};
    let invalid = || UserError::invalid("month", "use a month as `YYYY-MM`, e.g. `2026-12`");
    let first = match month.map(str::trim) {
        None | Some("") => {
            let now = Utc::now();
            NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        }
        Some(text) if text.len() == "YYYY-MM".len() => {
            NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()
        }
        Some(_) => None,
    }
    .ok_or_else(invalid)?;
    let next = first.checked_add_months(chrono::Months::new(1)).ok_or_else(invalid)?;
    let start = |day: NaiveDate| Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN));
    Ok((first.format("%Y-%m").to_string(), [start(first), start(next)]))
}

/// A job: one run of a pipeline for one commit set.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub info: JobInfo,
    pub place: Place,
}

#[Object]
impl Job {
    /// The commit set id.
    async fn id(&self) -> &str {
        &self.info.id
    }
    async fn pipeline(&self) -> &str {
        &self.info.pipeline
    }
    async fn state(&self) -> GqlJobState {
        self.info.state.into()
    }
    async fn reason(&self) -> Option<&str> {
        self.info.reason.as_deref()
    }
    async fn datums(&self) -> DatumCounts {
        let d = self.info.datums;
        DatumCounts {
            total: d.total,
            processed: d.processed,
            skipped: d.skipped,
            failed: d.failed,
            recovered: d.recovered,
        }
    }
    async fn stats(&self) -> WorkStats {
        let s = self.info.stats;
        WorkStats::new(s.bytes_in, s.bytes_out, [s.download_secs, s.process_secs, s.upload_secs])
    }
    /// What the job used and what that costs at its workspace's plan's
    /// prices (docs/billing.md, "What a job costs").
    async fn cost(&self, ctx: &Context<'_>) -> async_graphql::Result<UsageCost> {
        let hub = super::caller::hub(ctx)?;
        let principal = super::caller::principal(ctx)?;
        let workspace =
            super::caller::query_result(hub.workspace(principal, &self.place.org, &self.place.workspace).await)?;
        let stats = &self.info.stats;
        let plan = hub.plans().named_or_default(&workspace.plan);
        Ok(UsageCost::of(stats.cpu_secs, stats.process_secs, [stats.bytes_in, stats.bytes_out], plan))
    }
    /// `repo@commit` of every input.
    async fn inputs(&self) -> &[String] {
        &self.info.inputs
    }
    async fn output_commit(&self) -> &str {
        &self.info.output_commit
    }
    async fn created_at(&self) -> &str {
        &self.info.created_at
    }
    async fn started_at(&self) -> Option<&str> {
        self.info.started_at.as_deref()
    }
    async fn finished_at(&self) -> Option<&str> {
        self.info.finished_at.as_deref()
    }
    async fn duration_secs(&self) -> Option<f64> {
        self.info.duration_secs
    }
    /// The image the job's datums ran in, pinned by digest
    /// (`registry/name@sha256:…`); null until the job starts, and where
    /// workers run processes (which ignore the image).
    async fn image(&self) -> Option<&str> {
        self.info.image.as_deref()
    }
    /// What ran its datums, as its workers reported: `container` (the
    /// pipeline's image, literal `/pfs`), or `namespace` / `scratch`
    /// (processes on the workers' machine, not the image); null until a task
    /// finished.
    async fn runner(&self) -> Option<&str> {
        self.info.runner.as_deref()
    }
    /// The datums that ran (skipped ones are counted, not listed).
    #[graphql(complexity = "super::limits::PER_ITEM + child_complexity")]
    async fn datum_list(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Datum>> {
        let datums = answer(self.place.client(ctx).await?.datum_list(&self.info.pipeline, &self.info.id).await)?;
        Ok(datums.into_iter().map(Datum).collect())
    }
}

/// A datum of a job.
#[derive(Debug, Clone)]
pub(crate) struct Datum(pub DatumInfo);

#[Object]
impl Datum {
    async fn id(&self) -> &str {
        &self.0.id
    }
    /// `pending`, `processed`, `skipped`, `failed` or `recovered`.
    async fn state(&self) -> &str {
        self.0.state.as_str()
    }
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }
    async fn exit(&self) -> Option<&str> {
        self.0.exit.as_deref()
    }
    async fn stats(&self) -> WorkStats {
        let s = self.0.stats;
        WorkStats::new(s.bytes_in, s.bytes_out, [s.download_secs, s.process_secs, s.upload_secs])
    }
    async fn outputs(&self) -> &[String] {
        &self.0.outputs
    }
    async fn started_at(&self) -> Option<&str> {
        self.0.started_at.as_deref()
    }
    async fn finished_at(&self) -> Option<&str> {
        self.0.finished_at.as_deref()
    }
}

/// What a DAG node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum DagNodeKind {
    Repo,
    Pipeline,
}

/// A repo or pipeline in the DAG.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct DagNode {
    /// `repo:<name>` or `pipeline:<name>`.
    pub id: String,
    pub kind: DagNodeKind,
    pub name: String,
    /// A pipeline's newest job state.
    pub state: Option<GqlJobState>,
}

/// Data flowing from `from` to `to`.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct DagEdge {
    pub from: String,
    pub to: String,
}

/// The workspace's pipeline graph: repos feed pipelines, pipelines fill
/// their output repos.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Dag {
    pub nodes: Vec<DagNode>,
    pub edges: Vec<DagEdge>,
}

/// Builds the DAG from the repo and pipeline lists.
pub(crate) fn dag(repos: &[RepoInfo], pipelines: &[PipelineInfo]) -> Dag {
    let mut nodes: Vec<DagNode> = repos
        .iter()
        .filter(|repo| repo.kind != "spec")
        .map(|repo| DagNode {
            id: format!("repo:{}", repo.name),
            kind: DagNodeKind::Repo,
            name: repo.name.clone(),
            state: None,
        })
        .collect();
    let mut edges = Vec::new();
    for pipeline in pipelines {
        let id = format!("pipeline:{}", pipeline.name);
        nodes.push(DagNode {
            id: id.clone(),
            kind: DagNodeKind::Pipeline,
            name: pipeline.name.clone(),
            state: pipeline.last_job.as_ref().map(|job| job.state.into()),
        });
        for input in &pipeline.inputs {
            let repo = input.split('@').next().unwrap_or(input);
            edges.push(DagEdge { from: format!("repo:{repo}"), to: id.clone() });
        }
        edges.push(DagEdge { from: id, to: format!("repo:{}", pipeline.output_repo) });
    }
    edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    edges.dedup_by(|a, b| a.from == b.from && a.to == b.to);
    Dag { nodes, edges }
}

/// A workspace secret as GraphQL shows it: never its values.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub(crate) struct Secret {
    pub name: String,
    /// Its key names, sorted.
    pub keys: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<strata_api_types::pps::SecretInfo> for Secret {
    fn from(info: strata_api_types::pps::SecretInfo) -> Secret {
        Secret { name: info.name, keys: info.keys, created_at: info.created_at, updated_at: info.updated_at }
    }
}

#[cfg(test)]
mod tests {
    use super::month_span;

    #[test]
    fn a_month_spans_from_its_first_instant_to_the_next_months() {
        let (name, [from, to]) = month_span(Some("2026-12")).unwrap();
        assert_eq!(name, "2026-12");
        assert_eq!(from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let (name, [from, to]) = month_span(None).unwrap();
        assert!(from <= chrono::Utc::now() && chrono::Utc::now() < to, "{name}");
    }

    #[test]
    fn a_month_that_is_not_yyyy_mm_is_refused_naming_the_form() {
        for bad in ["December", "2026-13", "2026", "2026-12-01", "26-12"] {
            let refused = month_span(Some(bad)).unwrap_err().to_string();
            assert!(refused.contains("YYYY-MM"), "{bad}: {refused}");
        }
    }
}
