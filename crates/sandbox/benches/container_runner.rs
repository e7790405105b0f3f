//! The container runner's figures, run by `benches/container_runner.sh` with
//! the runtime `scripts/containers.sh` sets up: how long a worker's container
//! takes from start to its first datum, and trivial-datum throughput through
//! two containers against `xargs -P 2` of the same command on the host, in
//! the same run. Exits non-zero, without figures for the failed part, when a
//! datum fails or a container does not start.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark's report is its output")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use strata_sandbox::config::ContainerSettings;
use strata_sandbox::{Confinement, ContainerLimits, DatumRun, HelperCommand, IsolationMode, RunOutcome, Sandbox};

type Outcome<T> = Result<T, String>;

const WORKSPACE: &str = "container-bench";

fn setting(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn var(name: &str) -> Outcome<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; run `eval \"$(scripts/containers.sh)\"`"))
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(report(setting("STARTS", 20), setting("RUNS", 400).max(2))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn report(starts: u32, runs: u32) -> Outcome<()> {
    let mut times = Vec::new();
    for _ in 0..starts {
        let work = tempfile::tempdir().map_err(|e| format!("work directory: {e}"))?;
        let run = datum_of_true(work.path())?;
        let began = Instant::now();
        let sandbox = start_container(work.path()).await?;
        run_once(&sandbox, &run).await?;
        times.push(began.elapsed());
        sandbox.close().await;
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "container start to first datum: p50 {:.0} ms, p95 {:.0} ms ({starts} starts; goal p50 <= 1000 ms)",
        millis(at(0.5)),
        millis(at(0.95))
    );

    let (work_a, work_b) = (tempdir()?, tempdir()?);
    let (run_a, run_b) = (datum_of_true(work_a.path())?, datum_of_true(work_b.path())?);
    let (a, b) = tokio::join!(start_container(work_a.path()), start_container(work_b.path()));
    let (a, b) = (a?, b?);
    let per_datum = mean_run(&a, &run_a, runs).await?;
    let began = Instant::now();
    let (first, second) = tokio::join!(slot(&a, &run_a, runs / 2), slot(&b, &run_b, runs / 2));
    let containers = began.elapsed();
    tokio::join!(a.close(), b.close());
    first?;
    second?;
    let xargs = xargs_true(runs).await?;
    let namespace = namespace_per_datum(runs).await?;
    let rate = |total: Duration| f64::from(runs) / total.as_secs_f64();
    println!("per datum, one container:        {:>8.0} µs", micros(per_datum));
    println!("per datum, one namespace sandbox: {:>8.0} µs", micros(namespace));
    println!("2 containers:                     {:>8.0} datums/s ({runs} datums)", rate(containers));
    println!("xargs -P 2 on the host:           {:>8.0} datums/s ({runs} datums)", rate(xargs));
    println!("ratio containers / xargs:         {:>8.2} (goal >= 0.5)", rate(containers) / rate(xargs));
    Ok(())
}

fn tempdir() -> Outcome<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| format!("work directory: {e}"))
}

async fn start_container(work_dir: &Path) -> Outcome<Sandbox> {
    let image = var("STRATA_TEST_IMAGE")?;
    let registry = image.split('/').next().unwrap_or_default().to_owned();
    let settings = ContainerSettings {
        engine: PathBuf::from("podman"),
        conf: Some(PathBuf::from(var("STRATA_TEST_CONTAINERS_CONF")?)),
        helper: Some(PathBuf::from(var("STRATA_TEST_HELPER_STATIC")?)),
        insecure_registries: vec![registry],
    };
    let spec = settings.runtime(None).spec(&image, WORKSPACE, 1000, ContainerLimits::default());
    let confinement = Confinement { uid: 1000, work_dir: work_dir.to_path_buf() };
    Sandbox::start_container(&spec, &confinement).await.map_err(|e| format!("starting a container: {e}"))
}

/// The namespace process runner's mean per datum, measured here so both
/// figures come from the same run.
async fn namespace_per_datum(runs: u32) -> Outcome<Duration> {
    let work = tempdir()?;
    let run = datum_of_true(work.path())?;
    let helper = HelperCommand::new(PathBuf::from(env!("CARGO_BIN_EXE_strata-sandbox-helper")));
    let confinement = Confinement::for_workspace(WORKSPACE, std::env::temp_dir());
    let sandbox = Sandbox::start(IsolationMode::Namespace, helper, &confinement)
        .await
        .map_err(|e| format!("starting the namespace sandbox: {e}"))?;
    let mean = mean_run(&sandbox, &run, runs).await;
    sandbox.close().await;
    mean
}

async fn mean_run(sandbox: &Sandbox, run: &DatumRun, runs: u32) -> Outcome<Duration> {
    let began = Instant::now();
    slot(sandbox, run, runs).await?;
    Ok(began.elapsed() / runs)
}

async fn slot(sandbox: &Sandbox, run: &DatumRun, runs: u32) -> Outcome<()> {
    for _ in 0..runs {
        run_once(sandbox, run).await?;
    }
    Ok(())
}

async fn run_once(sandbox: &Sandbox, run: &DatumRun) -> Outcome<RunOutcome> {
    let outcome = sandbox.run(run).await.map_err(|e| format!("datum: {e}"))?;
    if outcome.success() { Ok(outcome) } else { Err(format!("`true` in the container did not succeed: {outcome:?}")) }
}

/// The hardware reference: the same `true`, `runs` times, two at a time.
async fn xargs_true(runs: u32) -> Outcome<Duration> {
    let began = Instant::now();
    let status = tokio::process::Command::new("sh")
        .args(["-c", &format!("seq {runs} | xargs -P 2 -n 1 sh -c true")])
        .status()
        .await
        .map_err(|e| format!("xargs: {e}"))?;
    if !status.success() {
        return Err(format!("xargs exited with {status}"));
    }
    Ok(began.elapsed())
}

/// A datum whose command is `true`, with one input file, under `work_dir`.
fn datum_of_true(work_dir: &Path) -> Outcome<DatumRun> {
    let root = work_dir.join("root");
    let input = root.join("in");
    for made in [root.join("out"), input.clone()] {
        std::fs::create_dir_all(&made).map_err(|e| format!("{}: {e}", made.display()))?;
    }
    std::fs::write(input.join("f"), "x").map_err(|e| format!("input file: {e}"))?;
    Ok(DatumRun {
        root,
        inputs: vec!["in".to_owned()],
        cmd: vec!["true".to_owned()],
        log: work_dir.join("datum.log"),
        timeout: Some(Duration::from_secs(30)),
        ..DatumRun::default()
    })
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
