//! Pipelines driven through the `strata` binary against `strata dev`:
//! the scripting contract of `job inspect`/`job wait`, logs, and workers
//! that die under `kill -9`.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Sandbox, json, ok, put, stdout, write_spec};

const COUNT_YAML: &str = r#"
pipeline:
  name: count
input:
  pfs:
    repo: words
    glob: "/*"
transform:
  cmd: ["sh", "-c", "for f in /pfs/words/*; do wc -w < $f | tr -d ' ' > /pfs/out/$(basename $f); done; echo counted $words"]
datumTries: 1
"#;

#[test]
fn job_inspect_and_wait_keep_their_json_contract_and_exit_codes() {
    let sandbox = Sandbox::new();
    let _server = sandbox.start_dev(&[]);
    ok(&sandbox, &["repo", "create", "words"]);
    put(&sandbox, "words@master:/a.txt", "one two");
    let spec = write_spec(&sandbox, "count.yaml", COUNT_YAML);
    ok(&sandbox, &["pipeline", "create", "-f", &spec]);

    put(&sandbox, "words@master:/b.txt", "three four five");
    let job = json(&sandbox, &["job", "wait", "-p", "count"]);
    let input_head = json(&sandbox, &["branch", "inspect", "words@master"]);
    assert_eq!(job["id"], input_head[0]["head"], "wait -p waits for the newest input commit's job");
    assert_eq!(job["pipeline"], "count");
    assert_eq!(job["state"], "SUCCESS");
    for key in ["total", "processed", "skipped", "failed", "recovered"] {
        assert!(job["datums"][key].is_u64(), "datums.{key} is an integer: {job}");
    }
    assert_eq!((job["datums"]["processed"].as_u64(), job["datums"]["skipped"].as_u64()), (Some(1), Some(1)));
    let id = job["id"].as_str().expect("id");
    assert_eq!(json(&sandbox, &["job", "inspect", &format!("count@{id}")]), job);
    let logs = ok(&sandbox, &["logs", "--pipeline", "count", "--job", id]);
    assert!(logs.contains("counted /pfs/words/b.txt"), "{logs}");

    put(&sandbox, "words@master:/c.txt", "x");
    let failing = COUNT_YAML.replace("for f in", "exit 4; for f in");
    let failing = write_spec(&sandbox, "failing.yaml", &failing);
    ok(&sandbox, &["pipeline", "update", "-f", &failing]);
    let output = sandbox.run(&["job", "wait", "-p", "count", "-o", "json"]);
    assert_ne!(output.status.code(), Some(0), "a failed job makes wait fail");
    let failed: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("still prints the job");
    assert_eq!(failed["state"], "FAILURE");
}

/// `strata worker` for `pipeline`, named `id`, with its scratch space (and
/// so its datum log, `<scratch>/<id>/datum.log`) in the sandbox.
fn spawn_worker(sandbox: &Sandbox, pipeline: &str, id: &str) -> Child {
    let scratch = sandbox.dir.path().join("scratch");
    sandbox
        .command(&["worker", "--pipeline", pipeline, "--id", id, "--scratch", scratch.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn strata worker")
}

#[test]
fn a_datum_held_by_a_killed_worker_is_finished_by_another() {
    let sandbox = Sandbox::new();
    let _server = sandbox.start_dev_with_env(&[], &[("STRATA_WORKERS", "0"), ("STRATA_TASK_LEASE_SECS", "2")]);
    ok(&sandbox, &["repo", "create", "in"]);
    for n in 0..3 {
        put(&sandbox, &format!("in@master:/{n}"), &n.to_string());
    }
    // The user program naps 2 s: a datum long enough for the kill to land
    // while it runs (the test waits for "napping", not for time).
    let spec = write_spec(
        &sandbox,
        "slow.json",
        r#"{"pipeline": {"name": "slow"}, "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "echo napping; sleep 2; cp /pfs/in/* /pfs/out/"]}}"#,
    );
    ok(&sandbox, &["pipeline", "create", "-f", &spec]);
    let mut first = spawn_worker(&sandbox, "slow", "first");
    // The datum's own first words in the worker's datum log: it is running.
    let log = sandbox.dir.path().join("scratch/first/datum.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("napping") {
        assert!(Instant::now() < deadline, "no datum started");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(i32::try_from(first.id()).expect("pid")), Signal::SIGKILL).expect("kill -9");
    first.wait().expect("reap");
    let mut second = spawn_worker(&sandbox, "slow", "second");
    let job = json(&sandbox, &["job", "wait", "slow@latest", "--timeout", "120"]);
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(job["state"], "SUCCESS", "{job}");
    assert_eq!(job["datums"]["processed"], 3, "{job}");
    let files = json(&sandbox, &["list", "file", "slow@master:/"]);
    assert_eq!(files.as_array().map(Vec::len), Some(3), "{files}");
}
