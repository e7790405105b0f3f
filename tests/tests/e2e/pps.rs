//! PPS end to end: pipelines over real repos, embedded workers running
//! real commands in the sandbox, on SQLite with the in-process queue and
//! on PostgreSQL with Redis Streams.

use std::time::Duration;

use strata_api_types::pps::{CreatePipeline, DatumState, JobInfo, JobState};
use strata_client::{ClientError, Workspace};
use strata_testkit::{Backend, TestApp, TestOptions};

/// SQLite runs with the in-process queue, PostgreSQL with Redis: the two
/// deployments people run.
macro_rules! on_both_setups {
    (async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            use super::*;

            async fn check($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_in_process() {
                check(spawn(Backend::Sqlite, false).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                check(spawn(Backend::Postgres, true).await).await
            }
        }
    };
}

fn options(redis: bool) -> TestOptions {
    TestOptions {
        redis_url: redis
            .then(|| std::env::var("STRATA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())),
        sandbox_helper: Some(env!("CARGO_BIN_EXE_strata-e2e-sandbox").into()),
        task_lease_secs: Some(3),
        ..TestOptions::default()
    }
}

async fn spawn(backend: Backend, redis: bool) -> TestApp {
    TestApp::spawn_with_options(backend, options(redis)).await
}

fn ws(app: &TestApp) -> Workspace {
    app.client().workspace("default")
}

async fn put(ws: &Workspace, repo: &str, path: &str, data: &str) {
    ws.put(repo, "master", path, false, false, reqwest::Body::from(data.to_owned())).await.expect("put");
}

async fn read(ws: &Workspace, repo: &str, reference: &str, path: &str) -> String {
    let response = ws.get_file(repo, reference, path, None, None).await.expect("get file");
    String::from_utf8(response.bytes().await.expect("bytes").to_vec()).expect("utf-8")
}

async fn create(ws: &Workspace, spec: serde_json::Value) {
    ws.pipeline_create(&CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None })
        .await
        .expect("create pipeline");
}

async fn wait(ws: &Workspace, pipeline: &str) -> JobInfo {
    ws.job_wait(pipeline, "latest", 120).await.expect("job finishes")
}

fn code(error: &ClientError) -> String {
    match error {
        ClientError::Api { code, .. } => code.clone(),
        other => format!("not an API error: {other}"),
    }
}

/// A pipeline that writes the word count of each top-level file.
fn count_spec() -> serde_json::Value {
    serde_json::json!({
        "pipeline": {"name": "count"},
        "input": {"pfs": {"repo": "words", "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", "for f in /pfs/words/*; do wc -w < \"$f\" | tr -d ' ' > /pfs/out/$(basename \"$f\"); done"]},
        "datum_tries": 2
    })
}

/// A second stage summing the counts into one file.
fn total_spec() -> serde_json::Value {
    serde_json::json!({
        "pipeline": {"name": "total"},
        "input": {"pfs": {"repo": "count", "glob": "/"}},
        "transform": {"cmd": ["sh", "-c", "cat $PFS/count/* | awk '{s+=$1} END {print s}' > $PFS/out/total"]}
    })
}

on_both_setups! {
    async fn a_two_stage_pipeline_chains_and_runs_only_what_changed(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("words", "").await.expect("repo");
        put(&ws, "words", "/a.txt", "one two three").await;
        put(&ws, "words", "/b.txt", "four five").await;
        create(&ws, count_spec()).await;
        create(&ws, total_spec()).await;

        let first = wait(&ws, "total").await;
        assert_eq!(first.state, JobState::Success, "{first:?}");
        let runner = first.runner.as_deref();
        assert!(matches!(runner, Some("namespace" | "scratch")), "the process runner says so: {runner:?}");
        assert_eq!(read(&ws, "count", "master", "/a.txt").await.trim(), "3");
        assert_eq!(read(&ws, "total", "master", "/total").await.trim(), "5");

        // One changed file: one datum runs, the other is skipped; both
        // stages share the commit set id of the input commit.
        put(&ws, "words", "/b.txt", "four five six seven").await;
        let input = ws.branch_inspect("words", "master").await.expect("branch").head;
        let count_job = wait(&ws, "count").await;
        assert_eq!(count_job.id, input, "the job id is the commit set id");
        assert_eq!(count_job.state, JobState::Success);
        assert_eq!((count_job.datums.total, count_job.datums.processed, count_job.datums.skipped), (2, 1, 1));
        let total_job = wait(&ws, "total").await;
        assert_eq!(total_job.id, input);
        assert_eq!(read(&ws, "total", "master", "/total").await.trim(), "7");

        // A deleted input file takes its output with it.
        ws.file_delete("words", "master", "/a.txt").await.expect("delete");
        let after_delete = wait(&ws, "count").await;
        wait(&ws, "total").await;
        assert_eq!(after_delete.state, JobState::Success);
        assert_eq!(after_delete.datums.total, 1);
        let outputs = ws.file_list("count", "master", "/").await.expect("list");
        let names: Vec<_> = outputs.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["/b.txt"]);
        assert_eq!(read(&ws, "total", &after_delete.id, "/total").await.trim(), "4");

        // The output commit records provenance to the input commit.
        let commit = ws.commit_inspect("count", &after_delete.id).await.expect("output commit");
        assert!(commit.provenance.iter().any(|p| p.starts_with("words@")), "{:?}", commit.provenance);
    }
}

on_both_setups! {
    async fn a_failing_datum_fails_the_job_after_its_tries_and_downstream_is_unrunnable(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("words", "").await.expect("repo");
        put(&ws, "words", "/good.txt", "fine").await;
        put(&ws, "words", "/bad.txt", "boom").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "count"},
            "input": {"pfs": {"repo": "words", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "if grep -q boom $PFS/words/*; then echo exploding >&2; exit 3; fi; cp $PFS/words/* $PFS/out/"]},
            "datum_tries": 2
        })).await;
        create(&ws, total_spec()).await;
        let job = wait(&ws, "count").await;
        assert_eq!(job.state, JobState::Failure, "{job:?}");
        assert_eq!(job.datums.failed, 1);
        let failed = &job.failed_datums[0];
        assert!(failed.log_tail.contains("exploding"), "{failed:?}");
        let datum = ws.datum_inspect("count", &job.id, &failed.id).await.expect("datum");
        assert_eq!(datum.attempts, 2, "datum_tries attempts");
        assert_eq!(datum.state, DatumState::Failed);
        let downstream = wait(&ws, "total").await;
        assert_eq!(downstream.state, JobState::Unrunnable, "{downstream:?}");
        let commit = ws.commit_inspect("count", &job.id).await.expect("commit");
        assert!(commit.error.is_some(), "the failed job's output commit carries the error");
    }
}

on_both_setups! {
    async fn err_cmd_recovers_timeouts_fail_and_stopped_jobs_are_killed(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("in", "").await.expect("repo");
        put(&ws, "in", "/x", "1").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "recover"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["false"], "err_cmd": ["true"]},
            "datum_tries": 1
        })).await;
        let recovered = wait(&ws, "recover").await;
        assert_eq!(recovered.state, JobState::Success, "{recovered:?}");
        assert_eq!(recovered.datums.recovered, 1);

        create(&ws, serde_json::json!({
            "pipeline": {"name": "slow"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sleep", "30"]},
            "datum_timeout": "1s",
            "datum_tries": 1
        })).await;
        let timed_out = wait(&ws, "slow").await;
        assert_eq!(timed_out.state, JobState::Failure, "{timed_out:?}");
        assert!(timed_out.failed_datums[0].exit.contains("time"), "{:?}", timed_out.failed_datums);

        create(&ws, serde_json::json!({
            "pipeline": {"name": "hang"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sleep", "60"]}
        })).await;
        let running = ws.job_inspect("hang", "latest").await.expect("job");
        let stopped = ws.job_stop("hang", &running.id).await.expect("stop");
        assert_eq!(stopped.state, JobState::Killed);
        let again = ws.job_stop("hang", &running.id).await.expect_err("a stopped job cannot stop again");
        assert_eq!(code(&again), "CONFLICT");
    }
}

on_both_setups! {
    async fn two_datums_writing_one_path_fail_the_job_naming_both(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("in", "").await.expect("repo");
        put(&ws, "in", "/a", "1").await;
        put(&ws, "in", "/b", "2").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "clash"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "echo hi > $PFS/out/same"]}
        })).await;
        let job = wait(&ws, "clash").await;
        assert_eq!(job.state, JobState::Failure);
        let reason = job.reason.clone().unwrap_or_default();
        let datums = ws.datum_list("clash", &job.id, None).await.expect("datums");
        assert_eq!(datums.len(), 2);
        for datum in &datums {
            assert!(reason.contains(&datum.id), "{reason} names {}", datum.id);
        }
        assert!(reason.contains("/same"), "{reason}");
    }
}

on_both_setups! {
    async fn updates_skip_unchanged_datums_unless_the_transform_or_reprocess_says_otherwise(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("words", "").await.expect("repo");
        for n in 0..4 {
            put(&ws, "words", &format!("/{n}.txt"), "a b").await;
        }
        create(&ws, count_spec()).await;
        assert_eq!(wait(&ws, "count").await.datums.processed, 4);

        let mut same = count_spec();
        same["description"] = "only the description changed".into();
        let update = |spec: serde_json::Value, reprocess| CreatePipeline { spec: spec.to_string(), update: true, reprocess, format: None };
        ws.pipeline_create(&update(same.clone(), false)).await.expect("update");
        let skipped = wait(&ws, "count").await;
        assert_eq!((skipped.datums.processed, skipped.datums.skipped), (0, 4), "{skipped:?}");

        ws.pipeline_create(&update(same, true)).await.expect("update --reprocess");
        assert_eq!(wait(&ws, "count").await.datums.processed, 4);

        let mut new_code = count_spec();
        new_code["transform"]["cmd"] = serde_json::json!(["sh", "-c", "for f in $PFS/words/*; do echo changed > $PFS/out/$(basename $f); done"]);
        ws.pipeline_create(&update(new_code, false)).await.expect("update transform");
        let changed = wait(&ws, "count").await;
        assert_eq!(changed.datums.processed, 4);
        assert_eq!(read(&ws, "count", &changed.id, "/0.txt").await.trim(), "changed");
        let info = ws.pipeline_inspect("count").await.expect("inspect");
        assert_eq!(info.version, 4, "every update is kept in the spec history");
    }
}

on_both_setups! {
    async fn cross_and_join_inputs_see_their_files_at_pfs_paths(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("left", "").await.expect("repo");
        ws.repo_create("right", "").await.expect("repo");
        put(&ws, "left", "/k1.txt", "L1").await;
        put(&ws, "left", "/k2.txt", "L2").await;
        put(&ws, "right", "/k1.csv", "R1").await;
        put(&ws, "right", "/k3.csv", "R3").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "pairs"},
            "input": {"cross": [
                {"pfs": {"repo": "left", "glob": "/*"}},
                {"pfs": {"repo": "right", "glob": "/*"}}
            ]},
            "transform": {"cmd": ["sh", "-c", "cat $left $right > $PFS/out/$(basename $left)-$(basename $right)"]}
        })).await;
        let cross = wait(&ws, "pairs").await;
        assert_eq!((cross.state, cross.datums.total), (JobState::Success, 4), "{cross:?}");
        assert_eq!(read(&ws, "pairs", "master", "/k2.txt-k3.csv").await, "L2R3");

        create(&ws, serde_json::json!({
            "pipeline": {"name": "joined"},
            "input": {"join": [
                {"pfs": {"repo": "left", "glob": "/(*).txt", "join_on": "$1"}},
                {"pfs": {"repo": "right", "glob": "/(*).csv", "join_on": "$1", "outer_join": true}}
            ]},
            "transform": {"cmd": ["sh", "-c", "cat $PFS/left/* $PFS/right/* 2>/dev/null > $PFS/out/$PACH_DATUM_right_JOIN_ON$PACH_DATUM_left_JOIN_ON; true"]}
        })).await;
        let join = wait(&ws, "joined").await;
        assert_eq!((join.state, join.datums.total), (JobState::Success, 2), "inner k1 plus right-outer k3: {join:?}");
        assert_eq!(read(&ws, "joined", "master", "/k1k1").await, "L1R1");
    }
}

on_both_setups! {
    async fn bad_specs_are_rejected_with_the_field_and_nothing_is_created(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("in", "").await.expect("repo");
        let bad = CreatePipeline {
            spec: r#"{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "in", "glob": "/*"}}, "transform": {"cmd": ["true"]}, "paralelism_spec": {"constant": 2}}"#.into(),
            update: false,
            reprocess: false,
            format: None,
        };
        let error = ws.pipeline_create(&bad).await.expect_err("typo is rejected");
        assert_eq!(code(&error), "INVALID_SPEC");
        assert!(error.to_string().contains("paralelism_spec"), "{error}");
        let missing = serde_json::json!({"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "nope", "glob": "/*"}}, "transform": {"cmd": ["true"]}});
        let error = ws
            .pipeline_create(&CreatePipeline { spec: missing.to_string(), update: false, reprocess: false, format: None })
            .await
            .expect_err("missing input repo");
        assert_eq!(code(&error), "NOT_FOUND");
        assert!(ws.pipeline_list().await.expect("list").is_empty());
        assert!(ws.repo_inspect("p").await.is_err(), "no output repo was made");
        create(&ws, count_spec_on("in")).await;
        let twice = ws
            .pipeline_create(&CreatePipeline { spec: count_spec_on("in").to_string(), update: false, reprocess: false, format: None })
            .await
            .expect_err("create twice");
        assert_eq!(code(&twice), "ALREADY_EXISTS");
    }
}

fn count_spec_on(repo: &str) -> serde_json::Value {
    serde_json::json!({
        "pipeline": {"name": "copy"},
        "input": {"pfs": {"repo": repo, "glob": "/*"}},
        "transform": {"cmd": ["sh", "-c", "cp -r $PFS/*/ $PFS/out/ 2>/dev/null; true"]}
    })
}

on_both_setups! {
    async fn a_job_survives_a_server_restart_mid_run(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("in", "").await.expect("repo");
        for n in 0..6 {
            put(&ws, "in", &format!("/{n}"), &n.to_string()).await;
        }
        create(&ws, serde_json::json!({
            "pipeline": {"name": "slowcopy"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "sleep 0.5; cp $PFS/in/* $PFS/out/"]}
        })).await;
        let job = ws.job_inspect("slowcopy", "latest").await.expect("job");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while ws.job_inspect("slowcopy", &job.id).await.expect("job").datums.processed == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no datum finished");
            // Poll interval of a wait-for-condition loop, not synchronisation.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let app = app.restart().await;
        let ws = super::ws(&app);
        let done = ws.job_wait("slowcopy", &job.id, 120).await.expect("wait");
        assert_eq!(done.state, JobState::Success, "{done:?}");
        assert_eq!(done.datums.processed, 6);
        let files = ws.file_list("slowcopy", "master", "/").await.expect("list");
        assert_eq!(files.len(), 6);
    }
}

on_both_setups! {
    async fn logs_and_datums_are_listed_per_job(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("in", "").await.expect("repo");
        put(&ws, "in", "/a", "x").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "talk"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "echo hello from $STRATA_DATUM_ID in $STRATA_JOB_ID; echo data at $in"]}
        })).await;
        let job = wait(&ws, "talk").await;
        assert_eq!(job.state, JobState::Success);
        let datums = ws.datum_list("talk", &job.id, Some(DatumState::Processed)).await.expect("datums");
        assert_eq!(datums.len(), 1);
        let lines = ws.logs(&strata_client::LogQuery { job: Some(job.id.clone()), ..strata_client::LogQuery::pipeline("talk") }).await.expect("logs");
        let user: Vec<_> = lines.iter().filter(|l| l.user).map(|l| l.message.as_str()).collect();
        assert!(user.contains(&format!("hello from {} in {}", datums[0].id, job.id).as_str()), "{user:?}");
        assert!(user.iter().any(|l| l.ends_with("/in/a")), "{user:?}");
        assert!(lines.iter().any(|l| !l.user && l.message.contains("datums")), "system lines too");
    }
}

/// A private Redis on a free port, to restart under a running job.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/services.sh installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            // Poll interval of a wait-for-condition loop, not synchronisation.
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        Self::start_on(port)
    }

    /// Kills Redis (losing every queued task) and starts it again.
    fn restart(mut self) -> Self {
        self.child.kill().expect("kill redis");
        self.child.wait().expect("reap redis");
        Self::start_on(self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_a_redis_restart_that_loses_its_queue() {
    let redis = PrivateRedis::start();
    let options = TestOptions { redis_url: Some(format!("redis://127.0.0.1:{}", redis.port)), ..options(false) };
    let app = TestApp::spawn_with_options(Backend::Postgres, options).await;
    let ws = ws(&app);
    ws.repo_create("in", "").await.expect("repo");
    for n in 0..6 {
        put(&ws, "in", &format!("/{n}"), &n.to_string()).await;
    }
    create(
        &ws,
        serde_json::json!({
            "pipeline": {"name": "slowcopy"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "sleep 0.5; cp $PFS/in/* $PFS/out/"]}
        }),
    )
    .await;
    let job = ws.job_inspect("slowcopy", "latest").await.expect("job");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ws.job_inspect("slowcopy", &job.id).await.expect("job").datums.processed == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no datum finished");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _redis = redis.restart();
    let done = ws.job_wait("slowcopy", &job.id, 120).await.expect("wait");
    assert_eq!(done.state, JobState::Success, "{done:?}");
    assert_eq!(done.datums.processed, 6);
}

on_both_setups! {
    async fn cron_ticks_start_jobs_and_job_timeouts_kill_them(app: TestApp) {
        let ws = ws(&app);
        create(&ws, serde_json::json!({
            "pipeline": {"name": "ticker"},
            "input": {"cron": {"name": "tick", "spec": "@every 1s", "overwrite": true}},
            "transform": {"cmd": ["sh", "-c", "ls $PFS/tick > $PFS/out/seen"]}
        })).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let ticked = loop {
            let jobs = ws.job_list(Some("ticker"), 20).await.expect("jobs");
            if let Some(done) = jobs.into_iter().find(|j| j.state == JobState::Success && j.datums.processed == 1) {
                break done;
            }
            assert!(tokio::time::Instant::now() < deadline, "no cron tick ran a datum");
            // Poll interval of a wait-for-condition loop, not synchronisation.
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let seen = read(&ws, "ticker", &ticked.id, "/seen").await;
        assert!(seen.trim().ends_with('Z'), "the tick file is named by its RFC 3339 time: {seen}");
        ws.pipeline_delete("ticker").await.expect("delete the cron pipeline");
        assert!(ws.repo_inspect("ticker_tick").await.is_err(), "its cron repo goes with it");

        ws.repo_create("in", "").await.expect("repo");
        put(&ws, "in", "/a", "1").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "long"},
            "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sleep", "60"]},
            "job_timeout": "1s"
        })).await;
        let killed = wait(&ws, "long").await;
        assert_eq!(killed.state, JobState::Killed, "{killed:?}");
        assert!(killed.reason.unwrap_or_default().contains("job_timeout"));
    }
}

/// A worker of `pipeline` in this process, as `strata worker` runs one.
fn worker(app: &TestApp, pipeline: &str, id: &str, scratch: &std::path::Path) -> strata_worker::WorkerConfig {
    let helper = strata_sandbox::HelperCommand::new(env!("CARGO_BIN_EXE_strata-e2e-sandbox")).arg("__sandbox");
    let mut config = strata_worker::WorkerConfig::new(ws(app), pipeline, helper);
    config.worker_id = id.to_owned();
    config.scratch_dir = scratch.to_path_buf();
    config.wait = Duration::from_secs(10);
    config
}

/// Starts a worker; cancel the token to stop it.
fn start_worker(
    config: strata_worker::WorkerConfig,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<Result<(), strata_worker::WorkerError>>) {
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(strata_worker::run(config, stop.clone()));
    (stop, running)
}

/// The job of `pipeline` for the current head of `repo`, once the master
/// has created it.
async fn job_of_head(ws: &Workspace, pipeline: &str, repo: &str) -> String {
    let head = ws.branch_inspect(repo, "master").await.expect("branch").head;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ws.job_inspect(pipeline, &head).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "no job of {pipeline} for {repo}@{head}");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    head
}

/// Waits until a worker's pull for a task is in flight at the server.
async fn until_a_pull_waits(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while crate::limits::metric(app, "http_server_active_requests", "/tasks/pull").await < 1.0 {
        assert!(tokio::time::Instant::now() < deadline, "no worker is waiting for a task");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stopped worker takes no task with it, whether it was waiting for one
/// or running one: the next worker gets the task at once instead of after
/// the lease (a minute here) of a worker that is gone.
async fn a_stopped_worker_takes_no_task_with_it(backend: Backend, redis: bool) {
    let options = TestOptions { workers: Some("0".to_owned()), task_lease_secs: Some(60), ..options(redis) };
    let app = TestApp::spawn_with_options(backend, options).await;
    let ws = ws(&app);
    let scratch = tempfile::tempdir().expect("scratch");
    ws.repo_create("words", "").await.expect("repo");
    put(&ws, "words", "/a.txt", "one two").await;
    create(&ws, count_spec()).await;

    // Stopped while its pull waits for work.
    let (stop, first) = start_worker(worker(&app, "count", "first", scratch.path()));
    assert_eq!(wait(&ws, "count").await.state, JobState::Success);
    until_a_pull_waits(&app).await;
    let stopping = tokio::time::Instant::now();
    stop.cancel();
    first.await.expect("join").expect("the first worker stops cleanly");
    assert!(stopping.elapsed() < Duration::from_secs(3), "stopping took {:?}", stopping.elapsed());
    put(&ws, "words", "/b.txt", "three four five").await;
    let job = job_of_head(&ws, "count", "words").await;
    let (stop, second) = start_worker(worker(&app, "count", "second", scratch.path()));
    let done = ws.job_wait("count", &job, 20).await.expect("the next worker runs the new job");
    assert_eq!(done.state, JobState::Success, "{done:?}");
    stop.cancel();
    second.await.expect("join").expect("the second worker stops cleanly");

    // Stopped in the middle of a datum: the task goes back unrun and does
    // not count as one of the datum's tries.
    ws.repo_create("naps", "").await.expect("repo");
    put(&ws, "naps", "/n", "1").await;
    // The user program naps 2 s so that the stop lands while it runs (the
    // test waits for "napping" in its log, not for time).
    create(
        &ws,
        serde_json::json!({
            "pipeline": {"name": "nap"},
            "input": {"pfs": {"repo": "naps", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "echo napping; sleep 2; cp $PFS/naps/* $PFS/out/"]},
            "datum_tries": 1
        }),
    )
    .await;
    // A new pipeline's first job has a commit set of its own, not the input's.
    let job = ws.job_inspect("nap", "latest").await.expect("the first job of nap").id;
    let (stop, third) = start_worker(worker(&app, "nap", "third", scratch.path()));
    // The datum's own first words in the worker's datum log: it is running.
    let log = scratch.path().join("third").join("datum.log");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("napping") {
        assert!(tokio::time::Instant::now() < deadline, "the nap datum never started");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    third.await.expect("join").expect("the third worker stops cleanly");
    let (stop, fourth) = start_worker(worker(&app, "nap", "fourth", scratch.path()));
    let done = ws.job_wait("nap", &job, 20).await.expect("the next worker runs the handed-back task");
    assert_eq!((done.state, done.datums.processed), (JobState::Success, 1), "{done:?}");
    stop.cancel();
    fourth.await.expect("join").expect("the fourth worker stops cleanly");
}

mod a_stopped_worker_takes_no_task_with_it {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_in_process() {
        a_stopped_worker_takes_no_task_with_it(Backend::Sqlite, false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_redis() {
        a_stopped_worker_takes_no_task_with_it(Backend::Postgres, true).await;
    }
}

/// Workers report their results at the same time; every datum must count,
/// or the job waits for a datum that is long done and never finishes.
async fn concurrent_results_all_count(backend: Backend) {
    use strata_pps::meta::{DatumRow, JobRow, Meta};
    use strata_pps::state::{DatumCounts, DatumState, DatumStats, JobState, JobStats};

    let dir = tempfile::tempdir().expect("data dir");
    let database = strata_testkit::TestDatabase::create(backend, dir.path()).await;
    let url = strata_core::config::DatabaseUrl::parse(&database.url()).expect("database URL");
    let meta = Meta::new(strata_core::db::connect(&url).await.expect("connect"));
    meta.migrate().await.expect("migrate");
    let now = chrono::Utc::now();
    let job = JobRow {
        pipeline: "count".to_owned(),
        id: "j1".to_owned(),
        seq: 1,
        state: JobState::Running,
        reason: None,
        spec_version: 1,
        counts: DatumCounts { total: 16, ..DatumCounts::default() },
        stats: JobStats::default(),
        inputs: Vec::new(),
        created_at: now,
        started_at: Some(now),
        finished_at: None,
        image: None,
        runner: None,
    };
    meta.job_create(&job).await.expect("job");
    let reports = (0..16).map(|n| {
        let meta = meta.clone();
        let datum = DatumRow {
            id: format!("d{n}"),
            state: if n % 4 == 0 { DatumState::Failed } else { DatumState::Processed },
            attempts: 1,
            exit: None,
            stats: DatumStats { bytes_in: 10, ..DatumStats::default() },
            outputs: Vec::new(),
            log: String::new(),
            started_at: now,
            finished_at: now,
        };
        tokio::spawn(async move { meta.datums_record("count", "j1", &[datum]).await })
    });
    for report in futures::future::join_all(reports).await {
        report.expect("join").expect("recorded");
    }

    let job = meta.job_get("count", "j1").await.expect("read").expect("the job");
    assert_eq!((job.counts.processed, job.counts.failed), (12, 4), "{job:?}");
    assert_eq!(job.stats.bytes_in, 160, "{job:?}");

    // Counts that drifted anyway (a bug, a hand edit) are set again from
    // the datum rows, which the master does when a job has nothing left to run.
    let db = strata_core::db::connect(&url).await.expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(&db, "UPDATE pps_jobs SET processed = 1, failed = 0")
        .await
        .expect("drift");
    meta.job_recount("count", "j1").await.expect("recount");
    let job = meta.job_get("count", "j1").await.expect("read").expect("the job");
    assert_eq!((job.counts.processed, job.counts.failed, job.counts.recovered), (12, 4, 0), "{job:?}");
}

mod concurrent_results_all_count {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        concurrent_results_all_count(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        concurrent_results_all_count(Backend::Postgres).await;
    }
}

/// One tar member with `name` written into the header as is: the `tar`
/// crate refuses to write `..`, and these tests need archives an attacker
/// would send.
fn raw_tar_member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], data.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut member = header.to_vec();
    member.extend_from_slice(data);
    member.resize(member.len().div_ceil(512) * 512, 0);
    member
}

/// A tar whose second member climbs out with `../`. The first member is
/// large, so the upload runs long enough for the master to see any commit
/// made for it before the bad entry is read.
fn escaping_tar() -> Vec<u8> {
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut archive = raw_tar_member("fine.txt", &big);
    archive.extend(raw_tar_member("../escaped.txt", b"out of the directory"));
    archive.extend([0u8; 1024]);
    archive
}

on_both_setups! {
    async fn refused_tar_uploads_leave_no_trace_and_the_next_upload_runs_its_job(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("words", "").await.expect("repo");
        put(&ws, "words", "/a.txt", "one two").await;
        create(&ws, count_spec()).await;
        assert_eq!(wait(&ws, "count").await.state, JobState::Success);
        let words_before = ws.commit_list("words", 100).await.expect("commits").len();
        let count_before = ws.commit_list("count", 100).await.expect("commits").len();

        for attempt in 0..3 {
            let refused = ws
                .put("words", "master", "/", true, false, reqwest::Body::from(escaping_tar()))
                .await
                .expect_err("a `../` entry is refused");
            assert_eq!(code(&refused), "INVALID_ARGUMENT", "attempt {attempt}: {refused}");
        }
        assert_eq!(ws.commit_list("words", 100).await.expect("commits").len(), words_before, "no input commit");
        assert_eq!(ws.commit_list("count", 100).await.expect("commits").len(), count_before, "no output commit");
        assert_eq!(ws.job_list(Some("count"), 100).await.expect("jobs").len(), 1, "no job for a refused upload");

        put(&ws, "words", "/b.txt", "three four five").await;
        let input = ws.branch_inspect("words", "master").await.expect("branch").head;
        let job = ws.job_wait("count", &input, 120).await.expect("the valid upload's job ends");
        assert_eq!(job.state, JobState::Success, "{job:?}");
        assert_eq!(read(&ws, "count", "master", "/b.txt").await.trim(), "3");
        let jobs = ws.job_list(Some("count"), 100).await.expect("jobs");
        assert!(jobs.iter().all(|j| j.state == JobState::Success), "{jobs:?}");
    }
}

on_both_setups! {
    async fn a_job_whose_output_commit_is_gone_fails_with_a_reason_and_later_jobs_run(app: TestApp) {
        let ws = ws(&app);
        ws.repo_create("words", "").await.expect("repo");
        put(&ws, "words", "/a.txt", "one two").await;
        create(&ws, count_spec()).await;
        assert_eq!(wait(&ws, "count").await.state, JobState::Success);

        // An open input commit makes an output commit and a job waiting for it;
        // then the output commit is dropped under the job.
        let open = ws.commit_start("words", "master", "held open").await.expect("start");
        let job = job_of_head(&ws, "count", "words").await;
        assert_eq!(job, open.id);
        ws.commit_drop("count", &job).await.expect("drop the output commit");
        let ended = ws.job_wait("count", &job, 60).await.expect("the job ends instead of waiting for ever");
        assert_eq!(ended.state, JobState::Failure, "{ended:?}");
        let reason = ended.reason.clone().unwrap_or_default();
        assert!(reason.contains("no longer exists"), "{reason}");

        ws.commit_finish("words", &open.id, &strata_api_types::pfs::FinishCommit::default()).await.expect("finish the input");
        put(&ws, "words", "/b.txt", "three four five").await;
        let next = wait(&ws, "count").await;
        assert_eq!(next.state, JobState::Success, "{next:?}");
        assert_eq!(read(&ws, "count", "master", "/b.txt").await.trim(), "3");
    }
}

fn create_body(spec: String, format: Option<strata_api_types::pps::SpecFormat>) -> CreatePipeline {
    CreatePipeline { spec, update: false, reprocess: false, format }
}

/// The nesting from the penetration test (`{"a":` n times): YAML's scanner
/// spends time proportional to depth × size on it, seconds per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_specs_are_refused_before_parsing_and_health_stays_answering() {
    use strata_api_types::pps::SpecFormat;
    let app = spawn(Backend::Sqlite, false).await;
    let ws = ws(&app);
    let nested = format!("{}1{}", r#"{"a":"#.repeat(40_000), "}".repeat(40_000));
    assert!(nested.len() < strata_pps::spec::MAX_SPEC_BYTES, "under the size limit: the depth is what is refused");
    let bodies = [
        create_body(nested.clone(), None),
        create_body(nested.clone(), Some(SpecFormat::Yaml)),
        create_body(nested, Some(SpecFormat::Json)),
    ];
    let client = app.client();
    let refusals = futures::future::join_all(bodies.iter().map(|body| ws.pipeline_create(body)));
    let (refusals, health) = tokio::join!(refusals, client.healthz());
    assert!(health.expect("the health check answers while specs are refused"));
    for refusal in refusals {
        let error = refusal.expect_err("too deep");
        assert_eq!(code(&error), "INVALID_SPEC", "{error}");
        assert!(error.to_string().contains(&strata_pps::spec::MAX_SPEC_DEPTH.to_string()), "{error}");
        assert!(matches!(error, ClientError::Api { status: 400, .. }), "{error}");
    }
    assert!(app.client().healthz().await.expect("and after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_specs_are_413_and_big_legal_ones_in_either_language_work() {
    use strata_api_types::pps::SpecFormat;
    let app = spawn(Backend::Sqlite, false).await;
    let ws = ws(&app);
    ws.repo_create("words", "").await.expect("repo");
    let with_description = |name: &str, bytes: usize| {
        let mut spec = count_spec();
        spec["pipeline"]["name"] = serde_json::json!(name);
        spec["description"] = serde_json::json!("d".repeat(bytes));
        spec.to_string()
    };

    let oversized = with_description("huge", strata_pps::spec::MAX_SPEC_BYTES + 1);
    let error = ws.pipeline_create(&create_body(oversized, None)).await.expect_err("too large");
    assert!(matches!(error, ClientError::Api { status: 413, .. }), "{error}");
    assert_eq!(code(&error), "PAYLOAD_TOO_LARGE");
    assert!(error.to_string().contains("256 KiB"), "{error}");

    let big = with_description("big", 200 * 1024);
    let created = ws.pipeline_create(&create_body(big, Some(SpecFormat::Json))).await.expect("a big legal spec");
    assert_eq!(created[0].name, "big");

    // YAML's flow style starts with `{` too: sent as YAML it is read as YAML;
    // sent without a format it is JSON and gets the JSON error, not a second parse.
    let flow_yaml =
        "{pipeline: {name: flow}, input: {pfs: {repo: words, glob: /*}}, transform: {cmd: [sh, -c, \"exit 0\"]}}";
    let error = ws.pipeline_create(&create_body(flow_yaml.to_owned(), None)).await.expect_err("not JSON");
    assert_eq!(code(&error), "INVALID_SPEC");
    assert!(error.to_string().contains("invalid JSON"), "{error}");
    let created = ws
        .pipeline_create(&create_body(flow_yaml.to_owned(), Some(SpecFormat::Yaml)))
        .await
        .expect("flow-style YAML sent as YAML");
    assert_eq!(created[0].name, "flow");
}

/// Whether this test process runs as root: confining user code needs it.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

/// A shell script that records in `/pfs/out/reached` each probe that succeeds.
fn probes_script(probes: &[String]) -> String {
    probes
        .iter()
        .map(|probe| format!("if {probe} >/dev/null 2>&1; then echo '{probe}' >> /pfs/out/reached; fi; "))
        .collect()
}

on_both_setups! {
    async fn user_code_runs_confined_and_reaches_nothing_of_the_platform(app: TestApp) {
        if !running_as_root() {
            #[allow(clippy::print_stderr, reason = "a skipped test says why")]
            {
                eprintln!("skipped: confining user code needs root, and this test runs unprivileged");
            }
            return;
        }
        let ws = ws(&app);
        // Another workspace's scratch directory on this machine, and everything of the
        // platform's: the data dir (the hub database on SQLite), the CLI's config under
        // $HOME, the server's port, PostgreSQL's and Redis's.
        let other = app.data_dir.join("scratch").join("tenant-b");
        std::fs::create_dir_all(&other).expect("other workspace's scratch");
        std::fs::write(other.join("secret.txt"), "tenant b's data").expect("other workspace's file");
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
        let port = app.address.rsplit(':').next().expect("a port").to_owned();
        let mut probes = vec![
            format!("test -e {}", app.data_dir.display()),
            format!("cat {}", app.data_dir.join("strata.db").display()),
            format!("ls {}", other.display()),
            format!("cat {}", other.join("secret.txt").display()),
            format!("test -e {home}/.config/strata"),
            format!("ls {home}"),
        ];
        for port in [port.as_str(), "5432", "6379"] {
            probes.push(format!("bash -c 'echo > /dev/tcp/127.0.0.1/{port}'"));
        }
        let script = format!(
            "{} id -u > /pfs/out/uid; \
             grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status > /pfs/out/status; \
             env | cut -d= -f1 | sort > /pfs/out/env; \
             wc -w < /pfs/data/words.txt | tr -d ' ' > /pfs/out/count",
            probes_script(&probes)
        );
        ws.repo_create("data", "").await.expect("repo");
        put(&ws, "data", "/words.txt", "one two three").await;
        create(&ws, serde_json::json!({
            "pipeline": {"name": "probe"},
            "input": {"pfs": {"repo": "data", "glob": "/"}},
            "transform": {"cmd": ["sh", "-c", script], "env": {"MODE": "probe"}}
        })).await;
        let job = wait(&ws, "probe").await;
        assert_eq!(job.state, JobState::Success, "{job:?}");

        let reached = ws.get_file("probe", "master", "/reached", None, None).await;
        assert!(reached.is_err(), "user code reached: {}", read(&ws, "probe", "master", "/reached").await);
        assert_eq!(read(&ws, "probe", "master", "/uid").await.trim(), strata_sandbox::tenant_uid("default").to_string());
        let status = read(&ws, "probe", "master", "/status").await;
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert!(status.contains(&format!("{set}:\t0000000000000000")), "{set} not empty:\n{status}");
        }
        assert!(status.contains("NoNewPrivs:\t1"), "{status}");
        let env = read(&ws, "probe", "master", "/env").await;
        let mut names: Vec<&str> = env.lines().filter(|n| !["PWD", "OLDPWD", "SHLVL", "_"].contains(n)).collect();
        names.sort_unstable();
        assert!(!names.contains(&"STRATA_TOKEN"), "{names:?}");
        assert_eq!(
            names,
            [
                "HOME", "LANG", "MODE", "PACH_DATUM_ID", "PACH_JOB_ID", "PACH_OUTPUT_COMMIT_ID", "PATH", "PFS",
                "PPS_PIPELINE_NAME", "STRATA_DATUM_ID", "STRATA_JOB_ID", "data", "data_COMMIT",
            ]
        );
        // Ordinary work still happens.
        assert_eq!(read(&ws, "probe", "master", "/count").await.trim(), "3");
    }
}

/// A worker of a provisioned workspace runs with `namespace` isolation; where it cannot
/// confine user code it must not run it, and the job must fail saying why and what to do
/// (not wait for ever while the worker exits and is restarted).
async fn a_worker_that_must_confine_user_code_and_cannot_fails_the_job_saying_what_to_do(
    backend: Backend,
    redis: bool,
) {
    let options = TestOptions { workers: Some("0".to_owned()), ..options(redis) };
    let app = TestApp::spawn_with_options(backend, options).await;
    let ws = ws(&app);
    let scratch = tempfile::tempdir().expect("scratch");
    ws.repo_create("words", "").await.expect("repo");
    put(&ws, "words", "/a.txt", "one two").await;
    let marker = scratch.path().join("ran");
    create(
        &ws,
        serde_json::json!({
            "pipeline": {"name": "count"},
            "input": {"pfs": {"repo": "words", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", format!("touch {}", marker.display())]},
            "datum_tries": 1
        }),
    )
    .await;
    let mut config = worker(&app, "count", "provisioned", scratch.path());
    config.isolation = strata_sandbox::IsolationMode::Namespace;
    config.sandbox_helper = config.sandbox_helper.env(strata_sandbox::FORCE_FALLBACK_ENV, "1");
    let (stop, running) = start_worker(config);

    let job = ws.job_wait("count", "latest", 60).await.expect("the job fails instead of waiting");
    assert_eq!(job.state, JobState::Failure, "{job:?}");
    let failed = &job.failed_datums[0];
    assert!(failed.log_tail.contains("refusing to run user code unconfined"), "{failed:?}");
    assert!(failed.log_tail.contains("run the worker as root"), "{failed:?}");
    assert!(!marker.exists(), "user code ran unconfined");
    stop.cancel();
    running.await.expect("join").expect("the worker stops cleanly");
}

mod a_worker_that_must_confine_user_code_and_cannot_fails_the_job_saying_what_to_do {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_in_process() {
        a_worker_that_must_confine_user_code_and_cannot_fails_the_job_saying_what_to_do(Backend::Sqlite, false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_redis() {
        a_worker_that_must_confine_user_code_and_cannot_fails_the_job_saying_what_to_do(Backend::Postgres, true).await;
    }
}

/// The process runner shares the host's file system, so it cannot mount a
/// secret's files: the datum fails and says what to do, instead of running
/// without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_runner_refuses_secret_files_and_names_the_container_runner() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.client().workspace("default");
    let data = [("k".to_owned(), strata_api_types::pps::SecretText("v".to_owned()))].into();
    ws.secret_put("files", &strata_api_types::pps::PutSecret { data, overwrite: false }).await.expect("secret");
    ws.repo_create("in", "").await.expect("repo");
    ws.put("in", "master", "/x", false, false, reqwest::Body::from("x")).await.expect("put");
    let spec = serde_json::json!({
        "pipeline": {"name": "wants-files"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "transform": {"cmd": ["true"], "secrets": [{"name": "files", "mount_path": "/var/secrets/files"}]}
    });
    let body = CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None };
    ws.pipeline_create(&body).await.expect("create");
    let job = ws.job_wait("wants-files", "latest", 120).await.expect("the job ends");
    assert_eq!(job.state, JobState::Failure, "{job:?}");
    let exit = job.failed_datums.first().map(|d| d.exit.clone()).unwrap_or_default();
    assert!(exit.contains("container runner"), "{exit}");
}

/// A pipeline naming a secret the workspace does not have fails its job
/// with the name and what to do, before any datum is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_fails_the_job_naming_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.client().workspace("default");
    ws.repo_create("in", "").await.expect("repo");
    ws.put("in", "master", "/x", false, false, reqwest::Body::from("x")).await.expect("put");
    let spec = serde_json::json!({
        "pipeline": {"name": "wants-db"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "transform": {"cmd": ["true"], "secrets": [{"name": "db", "key": "password", "env_var": "DB_PASSWORD"}]}
    });
    let body = CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None };
    ws.pipeline_create(&body).await.expect("create");
    let job = ws.job_wait("wants-db", "latest", 120).await.expect("the job ends");
    assert_eq!(job.state, JobState::Failure, "{job:?}");
    let reason = job.reason.unwrap_or_default();
    assert!(reason.contains("secret db") && reason.contains("strata secret create db"), "{reason}");
    assert_eq!(job.datums.total, 0, "no datum was queued");
}
