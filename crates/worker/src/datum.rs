//! Running one datum: its environment, its tries, `err_cmd` recovery and
//! its captured log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use strata_api_types::pps::{DatumState, TaskAssignment, TaskDatum};
use strata_sandbox::{DatumRun, ExitKind, Isolation, RunOutcome, Sandbox};

use strata_core::text::tail;

/// Log kept per datum (the end of it).
const LOG_LIMIT: usize = 64 * 1024;

/// How a datum's run went, before its output is uploaded.
#[derive(Debug)]
pub(super) struct Ran {
    pub state: DatumState,
    pub attempts: u32,
    pub exit: Option<String>,
    pub log: String,
    pub process_secs: f64,
    /// CPU time of every try (and of `err_cmd`).
    pub cpu_secs: f64,
}

/// The environment of a datum, as Pachyderm sets it, plus Strata's names
/// and the transform's own variables (which win).
pub(super) fn environment(task: &TaskAssignment, datum: &TaskDatum, pfs: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("STRATA_JOB_ID".to_owned(), task.job.clone()),
        ("STRATA_DATUM_ID".to_owned(), datum.id.clone()),
        ("PACH_JOB_ID".to_owned(), task.job.clone()),
        ("PACH_DATUM_ID".to_owned(), datum.id.clone()),
        ("PACH_OUTPUT_COMMIT_ID".to_owned(), task.job.clone()),
        ("PPS_PIPELINE_NAME".to_owned(), task.pipeline.clone()),
    ];
    for input in &datum.inputs {
        let path = format!("{}/{}{}", pfs.display(), input.name, input.path);
        env.push((input.name.clone(), path.trim_end_matches('/').to_owned()));
        env.push((format!("{}_COMMIT", input.name), input.commit.clone()));
        if let Some(key) = &input.key {
            // The task does not say whether the key came from a join or a
            // group, so both names are set; code reads the one it expects.
            env.push((format!("PACH_DATUM_{}_JOIN_ON", input.name), key.clone()));
            env.push((format!("PACH_DATUM_{}_GROUP_BY", input.name), key.clone()));
        }
    }
    env.extend(task.transform.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let secrets = &task.transform.secrets.env;
    env.extend(secrets.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
    env
}

/// The distinct input names of a datum: the directories under `/pfs`.
pub(super) fn input_names(datum: &TaskDatum) -> Vec<String> {
    let mut names: Vec<String> = datum.inputs.iter().map(|i| i.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// Runs the datum rooted at `root` up to `datum_tries` times, then its
/// `err_cmd` if every try failed. `log` is the worker's one datum log: it is
/// emptied here and reused by every datum, because a file created and
/// deleted per datum costs more than a trivial datum's whole run on some
/// file systems (ext4 without a journal scans recently deleted inodes on
/// every allocation).
pub(super) async fn run(sandbox: &Sandbox, task: &TaskAssignment, datum: &TaskDatum, root: &Path, log: &Path) -> Ran {
    // Truncating keeps the inode; the sandbox appends to it.
    if let Err(error) = tokio::fs::File::create(log).await {
        tracing::warn!(path = %log.display(), %error, "cannot empty the datum log");
    }
    let log = log.to_path_buf();
    let started = Instant::now();
    if let Some(refusal) = refusal(sandbox, task) {
        append(&log, &format!("strata: {refusal}\n")).await;
        return finished(DatumState::Failed, 1, Some(refusal), &log, (started, Duration::ZERO)).await;
    }
    let pfs = sandbox.pfs_root(root);
    let mut run = DatumRun {
        root: root.to_path_buf(),
        inputs: input_names(datum),
        cmd: task.transform.cmd.clone(),
        stdin: joined(&task.transform.stdin),
        env: environment(task, datum, &pfs),
        timeout: task.datum_timeout_ms.map(Duration::from_millis),
        log: log.clone(),
        workdir: task.transform.working_dir.as_ref().map(PathBuf::from),
    };
    let tries = task.datum_tries.max(1);
    let mut exit = None;
    let mut cpu = Duration::ZERO;
    for attempt in 1..=tries {
        if attempt > 1 {
            clear_out(root).await;
        }
        match sandbox.run(&run).await {
            Ok(outcome) if accepted(task, &outcome) => {
                cpu += outcome.cpu;
                return finished(DatumState::Processed, attempt, None, &log, (started, cpu)).await;
            }
            Ok(outcome) => {
                cpu += outcome.cpu;
                exit = Some(describe(&outcome, run.timeout));
            }
            Err(error) => {
                append(&log, &format!("strata: {error}\n")).await;
                exit = Some(error.to_string());
            }
        }
    }
    if !task.transform.err_cmd.is_empty() {
        clear_out(root).await;
        run.cmd = task.transform.err_cmd.clone();
        run.stdin = joined(&task.transform.err_stdin);
        let recovered = match sandbox.run(&run).await {
            Ok(outcome) => {
                cpu += outcome.cpu;
                accepted(task, &outcome)
            }
            Err(_) => false,
        };
        if recovered {
            clear_out(root).await;
            return finished(DatumState::Recovered, tries, exit, &log, (started, cpu)).await;
        }
    }
    finished(DatumState::Failed, tries, exit, &log, (started, cpu)).await
}

/// Whether a run counts as a success: exit 0 or a code in `accept_return_code`.
fn accepted(task: &TaskAssignment, outcome: &RunOutcome) -> bool {
    match outcome.status {
        ExitKind::Exited(code) => task.transform.accepts(code),
        _ => false,
    }
}

/// What this sandbox cannot give the task: secret files need a container to be
/// mounted in (the process runner shares the host's file system).
fn refusal(sandbox: &Sandbox, task: &TaskAssignment) -> Option<String> {
    let files = &task.transform.secrets.files;
    (sandbox.isolation() != Isolation::Container && !files.is_empty()).then(|| {
        format!(
            "transform.secrets mounts files ({}), which needs the container runner; \
             this worker runs the process runner: run workers with `--runner container`, or use `env_var`",
            files.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// `spent`: when the datum started, and the CPU time its runs used.
async fn finished(
    state: DatumState,
    attempts: u32,
    exit: Option<String>,
    log: &Path,
    (started, cpu): (Instant, Duration),
) -> Ran {
    let text = tokio::fs::read(log).await.unwrap_or_default();
    Ran {
        state,
        attempts,
        exit,
        log: tail(&String::from_utf8_lossy(&text), LOG_LIMIT),
        process_secs: started.elapsed().as_secs_f64(),
        cpu_secs: cpu.as_secs_f64(),
    }
}

fn joined(lines: &[String]) -> Option<String> {
    (!lines.is_empty()).then(|| lines.iter().map(|line| format!("{line}\n")).collect())
}

/// Each try starts with an empty `/pfs/out`. The sandbox creates `out/`
/// when it is missing, so removing it is enough; the first try skips even
/// that, because creating and deleting directories per datum is what costs
/// most on ext4 (its inode allocator scans recently deleted inodes).
async fn clear_out(root: &Path) {
    let _ = tokio::fs::remove_dir_all(root.join("out")).await;
}

/// Appends `text` to the datum log. The flush matters: a `tokio::fs::File` hands a
/// write to a blocking thread and returns, so without it the log may be read back
/// (by `finished`) before the line is in it.
async fn append(log: &Path, text: &str) {
    use tokio::io::AsyncWriteExt;
    let written = match tokio::fs::OpenOptions::new().create(true).append(true).open(log).await {
        Ok(mut file) => file.write_all(text.as_bytes()).await.and(file.flush().await),
        Err(error) => Err(error),
    };
    if let Err(error) = written {
        tracing::warn!(path = %log.display(), %error, "cannot write to the datum log");
    }
}

/// How a failed try ended, for people.
pub(super) fn describe(outcome: &RunOutcome, timeout: Option<Duration>) -> String {
    match outcome.status {
        ExitKind::Exited(code) => format!("exit code {code}"),
        ExitKind::Signalled(signal) => format!("killed by signal {signal}"),
        ExitKind::OutOfMemory => "OOM: killed for using more memory than the pipeline's limit".to_owned(),
        ExitKind::TimedOut => match timeout {
            Some(limit) => format!("timed out after {:.1} s (datum_timeout)", limit.as_secs_f64()),
            None => "timed out".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use strata_api_types::pps::{DatumInput, TaskTransform};

    use super::*;

    /// The log is read back right after the worker's own lines are appended (a refused
    /// datum fails at once), so an append must have landed when it returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_appended_line_is_in_the_log_when_append_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("datum.log");
        for attempt in 0..200 {
            tokio::fs::File::create(&log).await.expect("empty the log");
            append(&log, "strata: refused\n").await;
            let text = tokio::fs::read_to_string(&log).await.expect("read the log");
            assert_eq!(text, "strata: refused\n", "attempt {attempt}");
        }
    }

    fn task() -> TaskAssignment {
        TaskAssignment {
            delivery: "d".into(),
            pipeline: "edges".into(),
            job: "j1".into(),
            output_repo: "edges".into(),
            transform: TaskTransform {
                image: "busybox".into(),
                limits: Default::default(),
                cmd: vec!["true".into()],
                stdin: Vec::new(),
                env: BTreeMap::from([("MODE".to_owned(), "fast".to_owned())]),
                err_cmd: Vec::new(),
                err_stdin: Vec::new(),
                ..TaskTransform::default()
            },
            datum_tries: 3,
            datum_timeout_ms: None,
            lease_ms: 30_000,
            datums: Vec::new(),
            traceparent: None,
        }
    }

    fn datum() -> TaskDatum {
        TaskDatum {
            id: "d1".into(),
            index: 0,
            inputs: vec![DatumInput {
                name: "images".into(),
                repo: "images".into(),
                commit: "c1".into(),
                path: "/a/b.png".into(),
                key: Some("a".into()),
            }],
        }
    }

    #[test]
    fn the_environment_names_inputs_ids_and_keys_like_pachyderm() {
        let env: BTreeMap<_, _> = environment(&task(), &datum(), Path::new("/pfs")).into_iter().collect();
        assert_eq!(env["images"], "/pfs/images/a/b.png");
        assert_eq!(env["images_COMMIT"], "c1");
        assert_eq!(env["STRATA_JOB_ID"], "j1");
        assert_eq!(env["PACH_DATUM_ID"], "d1");
        assert_eq!(env["PACH_DATUM_images_JOIN_ON"], "a");
        assert_eq!(env["PPS_PIPELINE_NAME"], "edges");
        assert_eq!(env["MODE"], "fast");
    }

    #[test]
    fn a_root_glob_input_points_at_the_input_directory() {
        let mut whole = datum();
        whole.inputs[0].path = "/".into();
        let env: BTreeMap<_, _> = environment(&task(), &whole, Path::new("/pfs")).into_iter().collect();
        assert_eq!(env["images"], "/pfs/images");
    }

    #[test]
    fn failures_are_described_for_people() {
        let outcome = |status| RunOutcome { status, elapsed: Duration::ZERO, cpu: Duration::ZERO };
        assert_eq!(describe(&outcome(ExitKind::Exited(3)), None), "exit code 3");
        assert!(describe(&outcome(ExitKind::OutOfMemory), None).starts_with("OOM"));
        assert!(describe(&outcome(ExitKind::TimedOut), Some(Duration::from_secs(1))).contains("timed out"));
        assert_eq!(joined(&["a".into(), "b".into()]).as_deref(), Some("a\nb\n"));
        assert_eq!(joined(&[]), None);
    }

    #[test]
    fn accepted_return_codes_count_as_success_and_signals_never_do() {
        let mut task = task();
        task.transform.accept_return_codes = vec![3];
        let ran = |status| RunOutcome { status, elapsed: Duration::ZERO, cpu: Duration::ZERO };
        assert!(accepted(&task, &ran(ExitKind::Exited(0))));
        assert!(accepted(&task, &ran(ExitKind::Exited(3))));
        assert!(!accepted(&task, &ran(ExitKind::Exited(4))));
        assert!(!accepted(&task, &ran(ExitKind::Signalled(3))));
        assert!(!accepted(&task, &ran(ExitKind::OutOfMemory)));
    }

    #[test]
    fn secret_variables_join_the_environment_under_their_names() {
        let mut task = task();
        task.transform.secrets.env.insert("DB_PASSWORD".into(), strata_api_types::pps::SecretText("hunter2".into()));
        let env = environment(&task, &datum(), Path::new("/pfs"));
        assert!(env.contains(&("DB_PASSWORD".to_owned(), "hunter2".to_owned())), "{env:?}");
        assert!(!format!("{:?}", task.transform).contains("hunter2"), "Debug of a task shows no secret value");
    }
}
