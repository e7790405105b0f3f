//! PPS commands: pipelines, jobs, datums and logs.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use strata_api_types::pps::{
    CreatePipeline, DatumCounts, DatumInfo, DatumState, JobInfo, JobState, LogLine, PipelineInfo, SpecFormat,
};
use strata_client::{ClientError, LogQuery, Workspace};

use crate::cli::{DatumCommand, DatumStateArg, GlobalArgs, JobCommand, LogsArgs, OutputFormat, PipelineCommand};
use crate::commands::pfs::workspace;
use crate::failure::{Failure, internal, user};
use crate::output::{bytes, duration, print_record, print_table, say, short, when};

/// The job name the server resolves to the pipeline's newest job.
const LATEST: &str = "latest";

/// Job ids are 32 hex characters; anything shorter made of hex digits is
/// taken as a prefix, the way tables print ids.
const JOB_ID_LEN: usize = 32;

/// How many of a pipeline's newest jobs a short id is looked up among.
const PREFIX_SEARCH_LIMIT: u64 = 1000;

/// The longest single wait request; longer waits are several requests, so
/// no proxy or server cap on request time cuts them short.
const WAIT_REQUEST_SECS: u64 = 300;

/// Log lines asked for per request.
const LOG_PAGE: u64 = 1000;

/// How often `logs -f` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

// ---- arguments -------------------------------------------------------

/// A parsed `PIPELINE@JOB`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobRef {
    pipeline: String,
    /// A job id, a prefix of one, or `latest`.
    job: String,
}

impl JobRef {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let shape = || {
            anyhow!(
                "`{text}` is not PIPELINE@JOB (for example edges@latest or edges@1f2e3d4c5b6a; ids from `strata job list`)"
            )
        };
        let (pipeline, job) = text.split_once('@').ok_or_else(shape)?;
        if pipeline.is_empty() || job.is_empty() || job.contains('@') {
            return Err(shape());
        }
        Ok(Self { pipeline: pipeline.to_owned(), job: job.to_owned() })
    }

    fn latest(pipeline: String) -> Self {
        Self { pipeline, job: LATEST.to_owned() }
    }
}

/// `PIPELINE@JOB DATUM` or `PIPELINE@JOB/DATUM`.
fn datum_ref(job: &str, datum: Option<&str>) -> anyhow::Result<(JobRef, String)> {
    let mut parsed = JobRef::parse(job)?;
    let inline = parsed.job.split_once('/').map(|(j, d)| (j.to_owned(), d.to_owned()));
    match (inline, datum) {
        (None, Some(datum)) if !datum.is_empty() => Ok((parsed, datum.to_owned())),
        (Some((job_part, datum)), None) if !job_part.is_empty() && !datum.is_empty() => {
            parsed.job = job_part;
            Ok((parsed, datum))
        }
        (Some(_), Some(_)) => bail!("name the datum once: `{job}` already ends in /DATUM"),
        _ => bail!(
            "which datum of `{job}`? Give it as PIPELINE@JOB DATUM or PIPELINE@JOB/DATUM \
             (ids from `strata datum list PIPELINE@JOB`)"
        ),
    }
}

fn looks_like_prefix(id: &str, full_len: usize) -> bool {
    !id.is_empty() && id.len() < full_len && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ids of `candidates` that start with `prefix` (case aside).
fn prefix_matches<'a>(prefix: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let prefix = prefix.to_ascii_lowercase();
    candidates.into_iter().filter(|id| id.starts_with(&prefix)).collect()
}

/// The one id of `matches`, or why there is not exactly one.
fn pick_one<'a>(prefix: &str, matches: &[&'a str], what: &str) -> anyhow::Result<&'a str> {
    match matches {
        [one] => Ok(one),
        [] => bail!("no {what} id starts with `{prefix}`"),
        several => {
            let shown: Vec<&str> = several.iter().take(5).copied().collect();
            bail!(
                "`{prefix}` is ambiguous: {} {what}s start with it ({}); give more characters",
                several.len(),
                shown.join(", ")
            )
        }
    }
}

impl From<DatumStateArg> for DatumState {
    fn from(state: DatumStateArg) -> Self {
        match state {
            DatumStateArg::Pending => DatumState::Pending,
            DatumStateArg::Processed => DatumState::Processed,
            DatumStateArg::Skipped => DatumState::Skipped,
            DatumStateArg::Failed => DatumState::Failed,
            DatumStateArg::Recovered => DatumState::Recovered,
        }
    }
}

// ---- lookups ---------------------------------------------------------

/// The job id to send: a short id is expanded among the pipeline's newest
/// jobs; a full id and `latest` pass through.
async fn resolve_job(ws: &Workspace, job: &JobRef) -> Result<String, Failure> {
    if !looks_like_prefix(&job.job, JOB_ID_LEN) {
        return Ok(job.job.clone());
    }
    let jobs = ws.job_list(Some(&job.pipeline), PREFIX_SEARCH_LIMIT).await?;
    let matches = prefix_matches(&job.job, jobs.iter().map(|j| j.id.as_str()));
    let id = pick_one(&job.job, &matches, "job").with_context(|| format!("pipeline {}", job.pipeline)).map_err(user)?;
    Ok(id.to_owned())
}

/// Like [`resolve_job`], and `latest` becomes the id of the job that is latest now,
/// so later requests keep talking about the same job.
async fn pin_job(ws: &Workspace, job: &JobRef) -> Result<String, Failure> {
    if job.job == LATEST {
        return Ok(ws.job_inspect(&job.pipeline, LATEST).await?.id);
    }
    resolve_job(ws, job).await
}

/// A datum by id, or by the short id `datum list` prints.
async fn find_datum(ws: &Workspace, job: &JobRef, datum: &str) -> Result<DatumInfo, Failure> {
    let id = resolve_job(ws, job).await?;
    let error = match ws.datum_inspect(&job.pipeline, &id, datum).await {
        Ok(info) => return Ok(info),
        Err(error) => error,
    };
    // Datum ids are the server's business, so a short one is only looked
    // up once the server did not know it as it is.
    let unknown = matches!(error, ClientError::Api { status: 400 | 404, .. });
    if !unknown || !looks_like_prefix(datum, usize::MAX) {
        return Err(error.into());
    }
    let datums = ws.datum_list(&job.pipeline, &id, None).await?;
    let matches = prefix_matches(datum, datums.iter().map(|d| d.id.as_str()));
    if matches.is_empty() {
        return Err(error.into());
    }
    let full = pick_one(datum, &matches, "datum").map_err(user)?;
    Ok(ws.datum_inspect(&job.pipeline, &id, full).await?)
}

/// The datum id to filter logs by: a short id is expanded among the job's
/// datums when it matches exactly one, else sent as it is.
async fn expand_datum(ws: &Workspace, pipeline: &str, job: &str, datum: String) -> Result<String, Failure> {
    if !looks_like_prefix(&datum, usize::MAX) {
        return Ok(datum);
    }
    let datums = ws.datum_list(pipeline, job, None).await?;
    let matches = prefix_matches(&datum, datums.iter().map(|d| d.id.as_str()));
    Ok(match matches.as_slice() {
        [one] => (*one).to_owned(),
        _ => datum,
    })
}

fn is_timeout(error: &ClientError) -> bool {
    matches!(error, ClientError::Api { status, code, .. } if *status == 408 || code.eq_ignore_ascii_case("timeout"))
}

/// Waits for a job in requests of at most [`WAIT_REQUEST_SECS`].
async fn wait_for(ws: &Workspace, target: &JobRef, timeout_secs: u64) -> Result<JobInfo, Failure> {
    let mut job = resolve_job(ws, target).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs();
        let this_time = remaining.min(WAIT_REQUEST_SECS);
        match ws.job_wait(&target.pipeline, &job, this_time).await {
            Ok(info) => return Ok(info),
            Err(error) if is_timeout(&error) && remaining > this_time => {
                // Keep waiting for the job the first request meant, even if
                // a newer one became `latest` meanwhile.
                if job == LATEST
                    && let Ok(info) = ws.job_inspect(&target.pipeline, LATEST).await
                {
                    job = info.id;
                }
            }
            Err(error) if is_timeout(&error) => {
                let progress = match ws.job_inspect(&target.pipeline, &job).await {
                    Ok(info) => format!(" (still {}, {} datums)", info.state, progress(&info.datums)),
                    Err(_) => String::new(),
                };
                return Err(user(anyhow!(
                    "job {job} of pipeline {} did not finish within {timeout_secs} s{progress}",
                    target.pipeline
                )));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// `job wait`'s verdict: a job that did not succeed fails the command.
fn require_success(job: &JobInfo) -> Result<(), Failure> {
    if job.state == JobState::Success {
        return Ok(());
    }
    let reason = job.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    Err(user(anyhow!("job {} of pipeline {} ended {}{reason}", job.id, job.pipeline, job.state)))
}

/// A spec file's text; `-` is stdin.
/// The spec's language from the file's extension (`.json`, `.yaml`, `.yml`);
/// for stdin or another name the server decides from the first character.
fn spec_format(file: &str) -> Option<SpecFormat> {
    if file == "-" { None } else { SpecFormat::from_file_name(file) }
}

fn read_spec(file: &str) -> Result<String, Failure> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the spec from stdin").map_err(user)?
    } else {
        match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(user(anyhow!("spec file `{file}` does not exist")));
            }
            Err(error) => {
                return Err(user(anyhow::Error::new(error).context(format!("cannot read spec file `{file}`"))));
            }
        }
    };
    if text.trim().is_empty() {
        let name = if file == "-" { "stdin" } else { file };
        return Err(user(anyhow!("the spec in `{name}` is empty")));
    }
    Ok(text)
}

// ---- printing --------------------------------------------------------

/// `processed+skipped/total`, then failures and recoveries when there are any.
fn progress(counts: &DatumCounts) -> String {
    let mut text = format!("{}+{}/{}", counts.processed, counts.skipped, counts.total);
    let mut extra = Vec::new();
    if counts.failed > 0 {
        extra.push(format!("{} failed", counts.failed));
    }
    if counts.recovered > 0 {
        extra.push(format!("{} recovered", counts.recovered));
    }
    if !extra.is_empty() {
        text.push_str(&format!(" ({})", extra.join(", ")));
    }
    text
}

fn optional_duration(secs: Option<f64>) -> String {
    secs.map_or_else(|| "-".to_owned(), duration)
}

fn pipeline_row(pipeline: &PipelineInfo) -> Vec<String> {
    vec![
        pipeline.name.clone(),
        pipeline.version.to_string(),
        pipeline.state.clone(),
        pipeline.inputs.join(","),
        pipeline.last_job.as_ref().map_or_else(|| "-".to_owned(), |job| job.state.to_string()),
        when(Some(&pipeline.created_at)),
        pipeline.description.clone(),
    ]
}

const PIPELINE_HEADERS: [&str; 7] = ["name", "version", "state", "input", "last job", "created", "description"];

fn print_pipelines(format: OutputFormat, pipelines: &[PipelineInfo]) -> anyhow::Result<()> {
    print_table(format, &pipelines, &PIPELINE_HEADERS, pipelines.iter().map(pipeline_row).collect())
}

fn print_pipeline(format: OutputFormat, pipeline: &PipelineInfo) -> anyhow::Result<()> {
    let last_job = pipeline.last_job.as_ref().map_or_else(|| "-".to_owned(), |job| format!("{} {}", job.id, job.state));
    let rows = [
        ("name", pipeline.name.clone()),
        ("description", pipeline.description.clone()),
        ("state", pipeline.state.clone()),
        ("version", pipeline.version.to_string()),
        ("input", pipeline.inputs.join(", ")),
        ("output repo", pipeline.output_repo.clone()),
        ("parallelism", pipeline.parallelism.to_string()),
        ("last job", last_job),
        ("created", when(Some(&pipeline.created_at))),
        ("updated", when(Some(&pipeline.updated_at))),
    ];
    print_record(format, pipeline, &rows)?;
    if format == OutputFormat::Table {
        say("spec:");
        say(&indent(&serde_json::to_string_pretty(&pipeline.spec)?, "  "));
    }
    Ok(())
}

fn job_row(job: &JobInfo) -> Vec<String> {
    vec![
        short(&job.id),
        job.pipeline.clone(),
        when(job.started_at.as_deref()),
        optional_duration(job.duration_secs),
        progress(&job.datums),
        bytes(job.stats.bytes_in),
        bytes(job.stats.bytes_out),
        job.state.to_string(),
    ]
}

fn print_jobs(format: OutputFormat, jobs: &[JobInfo]) -> anyhow::Result<()> {
    let headers = ["id", "pipeline", "started", "duration", "progress", "in", "out", "state"];
    print_table(format, &jobs, &headers, jobs.iter().map(job_row).collect())
}

fn job_rows(job: &JobInfo) -> Vec<(&'static str, String)> {
    let counts = &job.datums;
    let stats = &job.stats;
    let mut rows = vec![("job", format!("{}@{}", job.pipeline, job.id)), ("state", job.state.to_string())];
    rows.extend(job.reason.clone().map(|reason| ("reason", reason)));
    rows.extend([
        ("progress", progress(counts)),
        (
            "datums",
            format!(
                "{} total: {} processed, {} skipped, {} failed, {} recovered",
                counts.total, counts.processed, counts.skipped, counts.failed, counts.recovered
            ),
        ),
        ("input", job.inputs.join(", ")),
        ("output", job.output_commit.clone()),
        ("spec version", job.spec_version.to_string()),
        ("image", image_line(job)),
        ("runner", runner_line(job.runner.as_deref())),
        ("created", when(Some(&job.created_at))),
        ("started", when(job.started_at.as_deref())),
        ("finished", when(job.finished_at.as_deref())),
        ("duration", optional_duration(job.duration_secs)),
        ("data", format!("{} in, {} out", bytes(stats.bytes_in), bytes(stats.bytes_out))),
        (
            "datum time",
            format!(
                "download {}, process {}, upload {}",
                duration(stats.download_secs),
                duration(stats.process_secs),
                duration(stats.upload_secs)
            ),
        ),
    ]);
    rows
}

/// The image a job ran in, by digest; or why there is none.
fn image_line(job: &JobInfo) -> String {
    match (&job.image, job.state) {
        (Some(image), _) => image.clone(),
        (None, JobState::Created | JobState::Starting) => "pinned to a digest when the job starts".to_owned(),
        (None, _) => "not pinned (this workspace's workers run processes, which ignore the image)".to_owned(),
    }
}

/// What ran the datums, and a warning where that was not the job's image.
fn runner_line(runner: Option<&str>) -> String {
    match runner {
        Some("container") => "container (the pipeline's image, literal /pfs)".to_owned(),
        Some(process) => format!("{process}: processes on the worker's machine, NOT the pipeline's image"),
        None => "not reported yet (no task has finished)".to_owned(),
    }
}

/// What `job inspect`, `job wait` and `job stop` print.
fn print_job(format: OutputFormat, job: &JobInfo) -> anyhow::Result<()> {
    print_record(format, job, &job_rows(job))?;
    if format == OutputFormat::Table && !job.failed_datums.is_empty() {
        say("failed datums:");
        for datum in &job.failed_datums {
            say(&format!("  {}  {}", datum.id, datum.exit));
            let tail = datum.log_tail.trim_end();
            if !tail.is_empty() {
                say(&indent(tail, "    | "));
            }
        }
    }
    Ok(())
}

fn datum_inputs(datum: &DatumInfo) -> String {
    datum.inputs.iter().map(|input| format!("{}:{}", input.name, input.path)).collect::<Vec<_>>().join(",")
}

fn print_datums(format: OutputFormat, datums: &[DatumInfo]) -> anyhow::Result<()> {
    let rows = datums
        .iter()
        .map(|d| {
            vec![
                short(&d.id),
                d.state.as_str().to_owned(),
                d.attempts.to_string(),
                d.exit.clone().unwrap_or_else(|| "-".to_owned()),
                duration(d.stats.process_secs),
                datum_inputs(d),
            ]
        })
        .collect();
    print_table(format, &datums, &["id", "state", "attempts", "exit", "time", "inputs"], rows)
}

fn datum_rows(pipeline: &str, datum: &DatumInfo) -> Vec<(&'static str, String)> {
    let stats = &datum.stats;
    let mut rows = vec![
        ("datum", datum.id.clone()),
        ("job", format!("{pipeline}@{}", datum.job)),
        ("state", datum.state.as_str().to_owned()),
        ("attempts", datum.attempts.to_string()),
        ("exit", datum.exit.clone().unwrap_or_else(|| "-".to_owned())),
    ];
    rows.extend(datum.inputs.iter().map(|input| {
        let key = input.key.as_deref().map(|k| format!(" (key {k})")).unwrap_or_default();
        ("input", format!("{}: {}@{}:{}{key}", input.name, input.repo, input.commit, input.path))
    }));
    rows.extend(datum.outputs.iter().map(|path| ("output", path.clone())));
    rows.extend([
        ("data", format!("{} in, {} out", bytes(stats.bytes_in), bytes(stats.bytes_out))),
        (
            "time",
            format!(
                "download {}, process {}, upload {}",
                duration(stats.download_secs),
                duration(stats.process_secs),
                duration(stats.upload_secs)
            ),
        ),
        ("started", when(datum.started_at.as_deref())),
        ("finished", when(datum.finished_at.as_deref())),
    ]);
    rows
}

fn print_datum(format: OutputFormat, pipeline: &str, datum: &DatumInfo) -> anyhow::Result<()> {
    print_record(format, datum, &datum_rows(pipeline, datum))?;
    if format == OutputFormat::Table {
        let log = datum.log.as_deref().map(str::trim_end).unwrap_or_default();
        say(if log.is_empty() { "log: (empty)" } else { "log:" });
        if !log.is_empty() {
            say(&indent(log, "  | "));
        }
    }
    Ok(())
}

/// `text` with `prefix` before every line.
fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|line| format!("{prefix}{line}")).collect::<Vec<_>>().join("\n")
}

/// A log line for people: time, datum (or `-`), message.
fn log_text(line: &LogLine) -> String {
    let datum = line.datum.as_deref().map_or_else(|| "-".to_owned(), short);
    format!("{}  {datum:<12}  {}", when(Some(&line.ts)), line.message.trim_end_matches(['\r', '\n']))
}

// ---- commands --------------------------------------------------------

pub async fn pipeline(global: &GlobalArgs, command: PipelineCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    let info = match command {
        PipelineCommand::Create { file } => {
            let body =
                CreatePipeline { spec: read_spec(&file)?, update: false, reprocess: false, format: spec_format(&file) };
            return print_pipelines(format, &ws.pipeline_create(&body).await?).map_err(internal);
        }
        PipelineCommand::Update { file, reprocess } => {
            let body = CreatePipeline { spec: read_spec(&file)?, update: true, reprocess, format: spec_format(&file) };
            return print_pipelines(format, &ws.pipeline_create(&body).await?).map_err(internal);
        }
        PipelineCommand::List => return print_pipelines(format, &ws.pipeline_list().await?).map_err(internal),
        PipelineCommand::Inspect { pipeline } => {
            return print_pipeline(format, &ws.pipeline_inspect(&pipeline).await?).map_err(internal);
        }
        PipelineCommand::Delete { pipeline } => return ws.pipeline_delete(&pipeline).await.map_err(Failure::from),
        PipelineCommand::Stop { pipeline } => ws.pipeline_stop(&pipeline).await?,
        PipelineCommand::Start { pipeline } => ws.pipeline_start(&pipeline).await?,
    };
    print_table(format, &info, &PIPELINE_HEADERS, vec![pipeline_row(&info)]).map_err(internal)
}

pub async fn job(global: &GlobalArgs, command: JobCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    match command {
        JobCommand::List { pipeline, limit } => {
            print_jobs(format, &ws.job_list(pipeline.as_deref(), limit).await?).map_err(internal)
        }
        JobCommand::Inspect { job } => {
            let job = JobRef::parse(&job).map_err(user)?;
            let info = ws.job_inspect(&job.pipeline, &resolve_job(&ws, &job).await?).await?;
            print_job(format, &info).map_err(internal)
        }
        JobCommand::Wait { job, pipeline, timeout } => {
            let job = match (job, pipeline) {
                (Some(job), _) => JobRef::parse(&job).map_err(user)?,
                (None, Some(pipeline)) => JobRef::latest(pipeline),
                (None, None) => {
                    return Err(user(anyhow!("which job? `strata job wait PIPELINE@JOB` or `-p PIPELINE`")));
                }
            };
            let info = wait_for(&ws, &job, timeout).await?;
            print_job(format, &info).map_err(internal)?;
            require_success(&info)
        }
        JobCommand::Stop { job } => {
            let job = JobRef::parse(&job).map_err(user)?;
            let info = ws.job_stop(&job.pipeline, &resolve_job(&ws, &job).await?).await?;
            print_job(format, &info).map_err(internal)
        }
    }
}

pub async fn datum(global: &GlobalArgs, command: DatumCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    match command {
        DatumCommand::List { job, state } => {
            let job = JobRef::parse(&job).map_err(user)?;
            let id = resolve_job(&ws, &job).await?;
            let datums = ws.datum_list(&job.pipeline, &id, state.map(DatumState::from)).await?;
            print_datums(format, &datums).map_err(internal)
        }
        DatumCommand::Inspect { job, datum } => {
            let (job, datum) = datum_ref(&job, datum.as_deref()).map_err(user)?;
            let info = find_datum(&ws, &job, &datum).await?;
            print_datum(format, &job.pipeline, &info).map_err(internal)
        }
    }
}

pub async fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let job = match &args.job {
        Some(job) => Some(pin_job(&ws, &JobRef { pipeline: args.pipeline.clone(), job: job.clone() }).await?),
        None => None,
    };
    let datum = match (args.datum, &job) {
        (Some(datum), Some(job)) => Some(expand_datum(&ws, &args.pipeline, job, datum).await?),
        (datum, _) => datum,
    };
    let mut query = LogQuery { pipeline: args.pipeline, job, datum, after: None, limit: Some(LOG_PAGE) };
    if !args.follow {
        return print_all_logs(&ws, &mut query, global.output).await;
    }
    let follow = async {
        loop {
            // Look at the job before reading: lines written before it
            // ended are then all there, and nothing is cut off.
            let finished = match &query.job {
                Some(job) => ws.job_inspect(&query.pipeline, job).await?.state.is_terminal(),
                None => false,
            };
            if !print_new_logs(&ws, &mut query, global.output).await? || finished {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    };
    tokio::select! {
        result = follow => result,
        // Ctrl-C ends following; that is how a user stops it, not a failure.
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Every line so far: a table streams, JSON is one array.
async fn print_all_logs(ws: &Workspace, query: &mut LogQuery, format: OutputFormat) -> Result<(), Failure> {
    if format == OutputFormat::Table {
        print_new_logs(ws, query, format).await?;
        return Ok(());
    }
    let mut all = Vec::new();
    loop {
        let page = ws.logs(query).await?;
        let full = page.len() as u64 >= LOG_PAGE;
        query.after = page.last().map(|line| line.cursor).or(query.after);
        all.extend(page);
        if !full {
            break;
        }
    }
    say(&serde_json::to_string_pretty(&all).map_err(internal)?);
    Ok(())
}

/// Prints the lines after `query.after`, one per line (JSON: one object
/// per line), and moves the cursor. False once stdout is closed, e.g. the
/// reader of a pipe went away.
async fn print_new_logs(ws: &Workspace, query: &mut LogQuery, format: OutputFormat) -> Result<bool, Failure> {
    loop {
        let page = ws.logs(query).await?;
        let full = page.len() as u64 >= LOG_PAGE;
        if !write_log_lines(&page, format).map_err(internal)? {
            return Ok(false);
        }
        query.after = page.last().map(|line| line.cursor).or(query.after);
        if !full {
            return Ok(true);
        }
    }
}

/// Writes lines to stdout; false when stdout is closed.
fn write_log_lines(lines: &[LogLine], format: OutputFormat) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        let text = match format {
            OutputFormat::Table => log_text(line),
            OutputFormat::Json => serde_json::to_string(line)?,
        };
        if writeln!(out, "{text}").is_err() {
            return Ok(false);
        }
    }
    Ok(out.flush().is_ok())
}

#[cfg(test)]
mod tests {
    use strata_api_types::pps::{DatumInput, DatumStats, FailedDatum, JobStats};

    use super::*;

    #[test]
    fn the_spec_language_goes_by_the_file_extension() {
        assert_eq!(spec_format("edges.json"), Some(SpecFormat::Json));
        assert_eq!(spec_format("dir.v2/edges.YAML"), Some(SpecFormat::Yaml));
        assert_eq!(spec_format("edges.yml"), Some(SpecFormat::Yaml));
        // stdin and other names leave it to the server (first character).
        assert_eq!(spec_format("-"), None);
        assert_eq!(spec_format("edges.spec"), None);
        assert_eq!(spec_format("edges"), None);
    }

    #[test]
    fn a_job_reference_splits_into_pipeline_and_job() {
        let parsed = JobRef::parse("edges@1f2e3d4c5b6a").expect("parse");
        assert_eq!(parsed, JobRef { pipeline: "edges".into(), job: "1f2e3d4c5b6a".into() });
        assert_eq!(JobRef::parse("edges@latest").expect("parse").job, LATEST);
    }

    #[test]
    fn a_job_reference_without_at_explains_the_shape_with_an_example() {
        for bad in ["edges", "@latest", "edges@", "edges@a@b", ""] {
            let error = JobRef::parse(bad).expect_err(bad).to_string();
            assert!(error.contains("PIPELINE@JOB"), "{error}");
            assert!(error.contains("edges@latest"), "{error}");
        }
    }

    #[test]
    fn a_datum_is_named_after_a_slash_or_as_its_own_argument() {
        let expected = (JobRef { pipeline: "edges".into(), job: "abc".into() }, "d1".to_owned());
        assert_eq!(datum_ref("edges@abc/d1", None).expect("slash"), expected);
        assert_eq!(datum_ref("edges@abc", Some("d1")).expect("argument"), expected);
        assert!(datum_ref("edges@abc", None).expect_err("none").to_string().contains("PIPELINE@JOB/DATUM"));
        assert!(datum_ref("edges@abc/d1", Some("d2")).expect_err("twice").to_string().contains("once"));
        assert!(datum_ref("edges@abc/", None).is_err());
        assert!(datum_ref("edges@/d1", None).is_err());
    }

    #[test]
    fn only_short_hex_ids_are_taken_as_prefixes() {
        assert!(looks_like_prefix("1f2e3d4c5b6a", JOB_ID_LEN));
        assert!(!looks_like_prefix(LATEST, JOB_ID_LEN));
        assert!(!looks_like_prefix(&"a".repeat(32), JOB_ID_LEN));
        assert!(!looks_like_prefix("", JOB_ID_LEN));
    }

    #[test]
    fn a_prefix_must_name_exactly_one_id() {
        let ids = ["1f2e3d4c5b6a00", "1f2e99", "abcdef"];
        let one = prefix_matches("1F2E3", ids);
        assert_eq!(pick_one("1F2E3", &one, "job").expect("one"), "1f2e3d4c5b6a00");
        let two = prefix_matches("1f2e", ids);
        let ambiguous = pick_one("1f2e", &two, "job").expect_err("two").to_string();
        assert!(ambiguous.contains("ambiguous") && ambiguous.contains("2 jobs"), "{ambiguous}");
        let none = pick_one("99", &prefix_matches("99", ids), "job").expect_err("none").to_string();
        assert_eq!(none, "no job id starts with `99`");
    }

    #[test]
    fn progress_reads_processed_plus_skipped_over_total() {
        let counts = DatumCounts { total: 12, processed: 7, skipped: 3, failed: 0, recovered: 0 };
        assert_eq!(progress(&counts), "7+3/12");
        let counts = DatumCounts { failed: 2, recovered: 1, ..counts };
        assert_eq!(progress(&counts), "7+3/12 (2 failed, 1 recovered)");
    }

    fn job(state: JobState, reason: Option<&str>) -> JobInfo {
        JobInfo {
            id: "0123456789abcdef0123456789abcdef".into(),
            pipeline: "edges".into(),
            state,
            reason: reason.map(str::to_owned),
            spec_version: 2,
            datums: DatumCounts { total: 4, processed: 2, skipped: 1, failed: 1, recovered: 0 },
            stats: JobStats {
                bytes_in: 2048,
                bytes_out: 10,
                download_secs: 0.5,
                process_secs: 4.25,
                upload_secs: 0.1,
                cpu_secs: 3.5,
            },
            inputs: vec!["images@aaaa".into()],
            output_commit: "edges@bbbb".into(),
            created_at: "2024-05-01T12:00:00Z".into(),
            started_at: Some("2024-05-01T12:00:01.5Z".into()),
            finished_at: None,
            duration_secs: Some(65.0),
            image: Some(format!("127.0.0.1:5055/team/edges@sha256:{}", "ab".repeat(32))),
            runner: Some("container".into()),
            failed_datums: vec![FailedDatum { id: "d1".into(), exit: "exit 2".into(), log_tail: "boom\n".into() }],
        }
    }

    #[test]
    fn a_job_row_is_short_and_readable() {
        let row = job_row(&job(JobState::Running, None));
        assert_eq!(
            row,
            ["0123456789ab", "edges", "2024-05-01 12:00:01", "1m 05s", "2+1/4 (1 failed)", "2 KiB", "10 B", "RUNNING"]
        );
    }

    #[test]
    fn job_details_show_the_reason_only_when_there_is_one() {
        let keys = |job: &JobInfo| job_rows(job).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert!(!keys(&job(JobState::Running, None)).contains(&"reason"));
        let failed = job(JobState::Failure, Some("1 datum failed"));
        assert_eq!(keys(&failed)[..3], ["job", "state", "reason"]);
        let rows = job_rows(&failed);
        let value = |key: &str| rows.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).expect(key);
        assert_eq!(value("datums"), "4 total: 2 processed, 1 skipped, 1 failed, 0 recovered");
        assert_eq!(value("datum time"), "download 500ms, process 4.2s, upload 100ms");
        assert_eq!(value("finished"), "-");
    }

    #[test]
    fn job_details_name_the_image_by_digest_or_say_why_not() {
        let value = |job: &JobInfo| job_rows(job).into_iter().find(|(k, _)| *k == "image").map(|(_, v)| v);
        let pinned = job(JobState::Success, None);
        assert_eq!(value(&pinned).as_deref(), pinned.image.as_deref());
        let unpinned = JobInfo { image: None, ..job(JobState::Success, None) };
        assert!(value(&unpinned).expect("an image row").contains("not pinned"));
        let starting = JobInfo { image: None, ..job(JobState::Starting, None) };
        assert!(value(&starting).expect("an image row").contains("when the job starts"));
    }

    #[test]
    fn job_details_say_loudly_when_datums_did_not_run_in_the_image() {
        let value = |job: &JobInfo| job_rows(job).into_iter().find(|(k, _)| *k == "runner").map(|(_, v)| v);
        assert!(value(&job(JobState::Success, None)).expect("a runner row").starts_with("container"));
        let process = JobInfo { runner: Some("namespace".into()), ..job(JobState::Success, None) };
        assert!(value(&process).expect("a runner row").contains("NOT the pipeline's image"));
    }

    #[test]
    fn only_a_successful_job_passes_wait() {
        assert!(require_success(&job(JobState::Success, None)).is_ok());
        let Err(Failure::User(error)) = require_success(&job(JobState::Failure, Some("1 datum failed"))) else {
            panic!("a failed job is the user's failure (exit 1)");
        };
        assert_eq!(
            error.to_string(),
            "job 0123456789abcdef0123456789abcdef of pipeline edges ended FAILURE: 1 datum failed"
        );
        let Err(Failure::User(error)) = require_success(&job(JobState::Killed, None)) else { panic!("killed") };
        assert!(error.to_string().ends_with("ended KILLED"), "{error}");
    }

    #[test]
    fn a_wait_timeout_is_recognised_by_status_or_code() {
        let timeout = |status, code: &str| ClientError::Api { status, code: code.into(), message: String::new() };
        assert!(is_timeout(&timeout(408, "TIMEOUT")));
        assert!(is_timeout(&timeout(409, "timeout")));
        assert!(!is_timeout(&timeout(404, "NOT_FOUND")));
    }

    #[test]
    fn datum_details_list_each_input_and_output() {
        let datum = DatumInfo {
            id: "d1".into(),
            job: "j1".into(),
            state: DatumState::Failed,
            inputs: vec![DatumInput {
                name: "images".into(),
                repo: "images".into(),
                commit: "c1".into(),
                path: "/a.png".into(),
                key: Some("a".into()),
            }],
            attempts: 3,
            exit: Some("exit 2".into()),
            stats: DatumStats::default(),
            outputs: vec!["/a.txt".into()],
            started_at: None,
            finished_at: None,
            log: Some("boom".into()),
        };
        let rows = datum_rows("edges", &datum);
        assert!(rows.contains(&("job", "edges@j1".to_owned())));
        assert!(rows.contains(&("input", "images: images@c1:/a.png (key a)".to_owned())));
        assert!(rows.contains(&("output", "/a.txt".to_owned())));
        assert_eq!(datum_inputs(&datum), "images:/a.png");
    }

    #[test]
    fn a_log_line_shows_time_datum_and_message() {
        let line = LogLine {
            cursor: 1,
            ts: "2024-05-01T12:00:00.123Z".into(),
            pipeline: "edges".into(),
            job: Some("j".into()),
            datum: Some("0123456789abcdef".into()),
            user: true,
            message: "hello\n".into(),
        };
        assert_eq!(log_text(&line), "2024-05-01 12:00:00  0123456789ab  hello");
        let system = LogLine { datum: None, ..line };
        assert_eq!(log_text(&system), "2024-05-01 12:00:00  -             hello");
    }

    #[test]
    fn indent_prefixes_every_line() {
        assert_eq!(indent("a\nb", "  | "), "  | a\n  | b");
    }

    #[test]
    fn a_missing_spec_file_is_named() {
        let Err(Failure::User(error)) = read_spec("/nonexistent/edges.yaml") else { panic!("user error") };
        assert_eq!(error.to_string(), "spec file `/nonexistent/edges.yaml` does not exist");
    }

    #[test]
    fn datum_states_map_one_to_one() {
        for (arg, state) in [
            (DatumStateArg::Pending, DatumState::Pending),
            (DatumStateArg::Processed, DatumState::Processed),
            (DatumStateArg::Skipped, DatumState::Skipped),
            (DatumStateArg::Failed, DatumState::Failed),
            (DatumStateArg::Recovered, DatumState::Recovered),
        ] {
            assert_eq!(DatumState::from(arg), state);
        }
    }
}
