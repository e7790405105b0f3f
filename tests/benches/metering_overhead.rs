//! What metering adds to a job, in the same run: a 2,000-datum job (one
//! file per datum, `cp`) on the real application (SQLite, in-process queue,
//! embedded workers in the namespace sandbox), then each piece of work
//! metering puts on the job's path, measured on the same machine and
//! database:
//!
//! - the usage outbox: one row per batch of datum results, written in the
//!   batch's transaction (timed here as that many single-row transactions,
//!   which bounds it from above: in the product it shares the batch's
//!   commit);
//! - CPU accounting: two `getrusage` calls per datum try in the sandbox
//!   helper.
//!
//! Counting and sending run in the hub, off the job's path; their time for
//! the job's records is printed too. Exits non-zero when the job fails or
//! the outbox does not hold exactly its datums.
//!
//!   cargo bench -p strata-e2e --bench metering_overhead       # DATUMS=2000

#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use strata_api_types::pps::{CreatePipeline, JobState};
use strata_testkit::{Backend, TestApp, TestOptions};

mod support;

use support::env;

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let statement = Statement::from_string(app.db.get_database_backend(), sql.to_owned());
    let row = app.db.query_one_raw(statement).await.expect("query").expect("a row");
    row.try_get("", "value").expect("value")
}

fn fail(message: &str) -> ! {
    println!("FAILED: {message}");
    std::process::exit(1);
}

/// `rows` single-row inserts into the outbox, each in its own transaction.
async fn outbox_writes(app: &TestApp, rows: i64) -> Duration {
    let backend = app.db.get_database_backend();
    let started = Instant::now();
    for n in 0..rows {
        let sql = format!(
            "INSERT INTO pps_usage (pipeline, job, datums, cpu_ms, process_ms, bytes_in, bytes_out, recorded_at) \
             VALUES ('bench-probe', 'probe-{n}', 8, 12, 40, 100, 100, CURRENT_TIMESTAMP)"
        );
        app.db.execute_raw(Statement::from_string(backend, sql)).await.expect("insert");
    }
    let spent = started.elapsed();
    let cleanup = "DELETE FROM pps_usage WHERE pipeline = 'bench-probe'".to_owned();
    app.db.execute_raw(Statement::from_string(backend, cleanup)).await.expect("delete");
    spent
}

fn rusage_calls(count: usize) -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let started = Instant::now();
    for _ in 0..count {
        std::hint::black_box(getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage"));
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let datums = env("DATUMS", 2000);
    let options =
        TestOptions { sandbox_helper: Some(env!("CARGO_BIN_EXE_strata-e2e-sandbox").into()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Sqlite, options).await;
    let ws = app.client().workspace("default");
    ws.repo_create("files", "").await.expect("repo");
    let dir = tempfile::tempdir().expect("dir");
    for n in 0..datums {
        std::fs::write(dir.path().join(format!("f{n:05}")), format!("{n}\n")).expect("write");
    }
    let tar = {
        let mut out = Vec::new();
        {
            let mut builder = tar::Builder::new(&mut out);
            builder.append_dir_all(".", dir.path()).expect("tar");
            builder.finish().expect("tar");
        }
        out
    };
    ws.put("files", "master", "/", true, false, reqwest::Body::from(tar)).await.expect("put tar");
    let spec = serde_json::json!({
        "pipeline": { "name": "copy" },
        "input": { "pfs": { "repo": "files", "glob": "/*" } },
        "transform": { "cmd": ["sh", "-c", "cp /pfs/files/* /pfs/out/"] }
    });
    let create = CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None };
    ws.pipeline_create(&create).await.expect("pipeline");
    let job = ws.job_wait("copy", "latest", 1800).await.expect("the job ends");
    if job.state != JobState::Success || job.datums.processed != datums as u64 {
        fail(&format!("the job: {job:?}"));
    }
    let created = chrono::DateTime::parse_from_rfc3339(&job.created_at).expect("created_at");
    let finished =
        chrono::DateTime::parse_from_rfc3339(job.finished_at.as_deref().expect("finished")).expect("finished_at");
    let wall = (finished - created).to_std().expect("a duration");
    let rows = scalar(&app, "SELECT CAST(COUNT(*) AS BIGINT) AS value FROM pps_usage").await;
    let metered = scalar(&app, "SELECT CAST(SUM(datums) AS BIGINT) AS value FROM pps_usage").await;
    if metered != datums as i64 {
        fail(&format!("the outbox holds {metered} datums, the job ran {datums}"));
    }
    let outbox = outbox_writes(&app, rows).await;
    let accounting = rusage_calls(2 * datums);
    let share = (outbox + accounting).as_secs_f64() / wall.as_secs_f64() * 100.0;
    println!("Metering overhead, a {datums}-datum job on SQLite (embedded workers, namespace sandbox)");
    println!("  job wall time (created → finished)        {:>9.1} ms", wall.as_secs_f64() * 1000.0);
    println!("  outbox: {rows:>5} rows, as separate commits     {:>9.1} ms", outbox.as_secs_f64() * 1000.0);
    println!("  CPU accounting: {:>5} getrusage calls     {:>9.3} ms", 2 * datums, accounting.as_secs_f64() * 1000.0);
    println!("  metering's share of the job (upper bound) {share:>9.2} %   (goal ≤ 2 %)");
    if share > 2.0 {
        println!("  above the goal");
    }
}
