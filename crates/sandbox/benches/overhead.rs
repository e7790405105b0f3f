//! What the sandbox adds per datum, run by `benches/sandbox.sh` (not by the
//! test suite: it spawns a few thousand processes). Prints the figures and
//! exits non-zero if any run fails, so a broken sandbox never yields numbers.
//!
//! On a busy machine the totals swing with the cost of exec itself; the
//! "around the program" column (total minus the program's own start-to-exit
//! time) is what the sandbox adds.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark's report is its output")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use strata_sandbox::{Confinement, DatumRun, HelperCommand, IsolationMode, Sandbox};

/// Runs per measurement; `RUNS` in the environment changes it.
const DEFAULT_RUNS: u32 = 500;
/// Runs before each measurement, to warm caches and the helper's first mounts.
const WARM_UP: u32 = 20;

type Outcome<T> = Result<T, String>;

fn main() -> ExitCode {
    let runs = std::env::var("RUNS").ok().and_then(|runs| runs.parse().ok()).unwrap_or(DEFAULT_RUNS);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(report(runs.max(2))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn report(runs: u32) -> Outcome<()> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let run = datum_of_true(dir.path())?;
    let direct = mean(runs, || async { spawn_true().await.map(|()| Duration::ZERO) }).await?;
    println!("{:32} {:>8.1} µs/datum", "spawn `true` directly (tokio)", micros(direct.0));
    for (label, mode) in
        [("scratch mode", IsolationMode::Scratch), ("namespace mode (2 bind mounts)", IsolationMode::Namespace)]
    {
        let sandbox = start(mode).await?;
        let measured = mean(runs, || async { run_once(&sandbox, &run).await }).await;
        sandbox.close().await;
        let (total, program) = measured?;
        println!(
            "{label:32} {:>8.1} µs/datum  ({:>5.0}/s), around the program {:>6.1} µs",
            micros(total),
            1.0 / total.as_secs_f64(),
            micros(total.saturating_sub(program)),
        );
    }
    throughput_with_two_sandboxes(runs, &run).await
}

/// Throughput with two slots, as a worker with parallelism 2 would run.
async fn throughput_with_two_sandboxes(runs: u32, run: &DatumRun) -> Outcome<()> {
    let (one, two) = tokio::join!(start(IsolationMode::Namespace), start(IsolationMode::Namespace));
    let (one, two) = (one?, two?);
    let started = Instant::now();
    let (first, second) = tokio::join!(slot(&one, run, runs / 2), slot(&two, run, runs / 2));
    let sandboxed = started.elapsed();
    tokio::join!(one.close(), two.close());
    first?;
    second?;
    let direct = || async {
        for _ in 0..runs / 2 {
            spawn_true().await?;
        }
        Outcome::Ok(())
    };
    let started = Instant::now();
    let (first, second) = tokio::join!(direct(), direct());
    let spawned = started.elapsed();
    first?;
    second?;
    for (label, total) in [("2 namespace sandboxes", sandboxed), ("2 direct spawn loops", spawned)] {
        println!("{label:32} {:>6.0} datums/s ({runs} runs)", f64::from(runs) / total.as_secs_f64());
    }
    Ok(())
}

/// `runs` sandboxed runs one after another, as one worker slot does them.
async fn slot(sandbox: &Sandbox, run: &DatumRun, runs: u32) -> Outcome<()> {
    for _ in 0..runs {
        run_once(sandbox, run).await?;
    }
    Ok(())
}

/// A datum whose command is `true`, with one input file, under `dir`.
fn datum_of_true(dir: &Path) -> Outcome<DatumRun> {
    let root = dir.join("root");
    let input = root.join("in");
    for made in [root.join("out"), input.clone()] {
        std::fs::create_dir_all(&made).map_err(|e| format!("{}: {e}", made.display()))?;
    }
    std::fs::write(input.join("f"), "x").map_err(|e| format!("input file: {e}"))?;
    Ok(DatumRun {
        root,
        inputs: vec!["in".to_owned()],
        cmd: vec!["true".to_owned()],
        log: dir.join("datum.log"),
        timeout: Some(Duration::from_secs(30)),
        ..DatumRun::default()
    })
}

async fn start(mode: IsolationMode) -> Outcome<Sandbox> {
    let helper = HelperCommand::new(PathBuf::from(env!("CARGO_BIN_EXE_strata-sandbox-helper")));
    let confinement = Confinement::for_workspace("sandbox-bench", std::env::temp_dir());
    Sandbox::start(mode, helper, &confinement).await.map_err(|e| format!("starting the {mode:?} sandbox: {e}"))
}

/// One sandboxed run; answers the program's own time.
async fn run_once(sandbox: &Sandbox, run: &DatumRun) -> Outcome<Duration> {
    let outcome = sandbox.run(run).await.map_err(|e| format!("sandboxed run: {e}"))?;
    if !outcome.success() {
        return Err(format!("sandboxed `true` did not succeed: {outcome:?}"));
    }
    Ok(outcome.elapsed)
}

async fn spawn_true() -> Outcome<()> {
    let status = tokio::process::Command::new("true").status().await.map_err(|e| format!("spawning true: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`true` exited with {status}")) }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Mean wall time per call and mean of what each call reports as the
/// program's own time, after a warm-up.
async fn mean<F, Fut>(runs: u32, mut one: F) -> Outcome<(Duration, Duration)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<Duration>>,
{
    for _ in 0..WARM_UP {
        one().await?;
    }
    let mut program = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..runs {
        program += one().await?;
    }
    Ok((started.elapsed() / runs, program / runs))
}
