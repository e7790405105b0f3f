//! Not a timed assertion: prints what the sandbox adds per datum, for the record.
//! `cargo test -p strata-sandbox --release --test sandbox -- overhead --nocapture` for real
//! numbers. On a busy machine the totals swing with the cost of exec itself; the
//! "around the program" column (total minus the program's own start-to-exit time) is what
//! the sandbox adds.

use std::time::{Duration, Instant};

use strata_sandbox::IsolationMode;

use crate::helpers::{Datum, sandbox};

const RUNS: u32 = 500;

#[tokio::test]
#[allow(clippy::print_stdout, reason = "the numbers are the point of this test")]
async fn overhead_per_datum_of_true() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let mut run = datum.sh("");
    run.cmd = vec!["true".to_owned()];

    let (direct, _) = time(|| async {
        let status = tokio::process::Command::new("true").status().await.unwrap();
        assert!(status.success());
        Duration::ZERO
    })
    .await;
    let (blocking, _) = time(|| async {
        let status = std::process::Command::new("true").status().unwrap();
        assert!(status.success());
        Duration::ZERO
    })
    .await;
    println!("{:32} {:>8.1} µs/datum", "spawn `true` directly (tokio)", micros(direct));
    println!("{:32} {:>8.1} µs/datum", "spawn `true` directly (std)", micros(blocking));

    for (label, mode) in
        [("scratch mode", IsolationMode::Scratch), ("namespace mode (2 bind mounts)", IsolationMode::Namespace)]
    {
        let sandbox = sandbox(mode).await;
        let (total, program) = time(|| async {
            let outcome = sandbox.run(&run).await.unwrap();
            assert!(outcome.success());
            outcome.elapsed
        })
        .await;
        sandbox.close().await;
        println!(
            "{label:32} {:>8.1} µs/datum  ({:>5.0}/s), around the program {:>6.1} µs",
            micros(total),
            1.0 / total.as_secs_f64(),
            micros(total.saturating_sub(program)),
        );
    }
}

/// Throughput with two slots, as a worker with parallelism 2 (or `xargs -P2`) would run.
#[tokio::test]
#[allow(clippy::print_stdout, reason = "the numbers are the point of this test")]
async fn throughput_of_true_with_two_namespace_sandboxes() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let mut run = datum.sh("");
    run.cmd = vec!["true".to_owned()];
    let (one, two) = tokio::join!(sandbox(IsolationMode::Namespace), sandbox(IsolationMode::Namespace));
    async fn slot(sandbox: &strata_sandbox::Sandbox, run: &strata_sandbox::DatumRun) {
        for _ in 0..RUNS / 2 {
            assert!(sandbox.run(run).await.unwrap().success());
        }
    }
    let started = Instant::now();
    tokio::join!(slot(&one, &run), slot(&two, &run));
    let sandboxed = started.elapsed();

    let direct = || async {
        for _ in 0..RUNS / 2 {
            assert!(tokio::process::Command::new("true").status().await.unwrap().success());
        }
    };
    let started = Instant::now();
    tokio::join!(direct(), direct());
    let spawned = started.elapsed();
    tokio::join!(one.close(), two.close());
    for (label, total) in [("2 namespace sandboxes", sandboxed), ("2 direct spawn loops", spawned)] {
        println!("{label:32} {:>6.0} datums/s ({RUNS} runs)", f64::from(RUNS) / total.as_secs_f64());
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Mean wall time per call and mean of what each call reports as the program's own time.
async fn time<F, Fut>(mut one: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    // Warm up caches and the helper's first mounts.
    for _ in 0..20 {
        one().await;
    }
    let mut program = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..RUNS {
        program += one().await;
    }
    (started.elapsed() / RUNS, program / RUNS)
}
