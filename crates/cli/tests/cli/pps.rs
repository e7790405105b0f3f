//! PPS commands through the `strata` binary: mistakes caught before any
//! request is sent, and the CLI's own logic against a scripted stub server.

use crate::support::{Sandbox, assert_user_error, stdout};

#[test]
fn a_job_without_at_is_refused_with_an_example() {
    let sandbox = Sandbox::new();
    for args in [
        &["job", "inspect", "edges"][..],
        &["job", "wait", "edges"],
        &["job", "stop", "edges@"],
        &["datum", "list", "edges"],
        &["datum", "inspect", "edges", "d1"],
    ] {
        let output = sandbox.run(args);
        assert_user_error(&output, &["`edges", "PIPELINE@JOB", "edges@latest"]);
    }
}

#[test]
fn a_datum_inspect_without_a_datum_says_how_to_name_one() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["datum", "inspect", "edges@latest"]);
    assert_user_error(&output, &["PIPELINE@JOB DATUM", "PIPELINE@JOB/DATUM"]);
}

#[test]
fn a_missing_spec_file_is_named() {
    let sandbox = Sandbox::new();
    let missing = sandbox.dir.path().join("edges.yaml");
    let missing = missing.to_str().expect("utf-8");
    for verb in ["create", "update"] {
        let output = sandbox.run(&["pipeline", verb, "-f", missing]);
        assert_user_error(&output, &["spec file", missing, "does not exist"]);
    }
}

#[test]
fn every_pps_command_documents_an_example() {
    let sandbox = Sandbox::new();
    for args in [
        &["pipeline", "create", "--help"][..],
        &["pipeline", "update", "--help"],
        &["job", "inspect", "--help"],
        &["job", "wait", "--help"],
        &["datum", "inspect", "--help"],
        &["logs", "--help"],
    ] {
        let output = sandbox.run(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let text = stdout(&output);
        assert!(text.contains("Example") && text.contains("strata "), "{args:?}: {text}");
    }
}

/// A stand-in PPS server that scripts one pipeline's answers, so the CLI's
/// own logic (short ids, wait retries, exit codes, following logs) is
/// checked without a worker. It speaks the routes the client calls, one
/// request per connection, on a thread of its own.
mod stub {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    pub const JOB_ID: &str = "1f2e3d4c5b6a0000000000000000000a";
    const OTHER_ID: &str = "9a8b7c6d5e4f0000000000000000000b";
    const BASE: &str = "/v1/workspaces/default/pps/";

    /// What the stub was asked, for the assertions.
    #[derive(Debug, Default)]
    pub struct Seen {
        /// The job of every wait request, with its timeout.
        pub waits: Vec<(String, u64)>,
        /// How often the job was inspected (it reads SUCCESS from the third look).
        pub inspections: u64,
        /// The `after` of every log request.
        pub log_afters: Vec<Option<u64>>,
    }

    pub struct Stub {
        pub url: String,
        pub seen: Arc<Mutex<Seen>>,
    }

    pub fn job(id: &str, state: &str) -> Value {
        json!({
            "id": id, "pipeline": "edges", "state": state,
            "reason": if state == "FAILURE" { Some("1 datum failed") } else { None },
            "spec_version": 1,
            "datums": {"total": 2, "processed": 1, "skipped": 0, "failed": 1, "recovered": 0},
            "stats": {"bytes_in": 10, "bytes_out": 5, "download_secs": 0.1, "process_secs": 1.0, "upload_secs": 0.1, "cpu_secs": 0.75},
            "inputs": ["images@c1"], "output_commit": format!("edges@{id}"),
            "created_at": "2024-05-01T12:00:00Z", "started_at": "2024-05-01T12:00:01Z",
            "finished_at": null, "duration_secs": 3.5,
            "failed_datums": [{"id": "d1", "exit": "exit 3", "log_tail": "about to fail"}],
        })
    }

    fn log_line(cursor: u64) -> Value {
        json!({
            "cursor": cursor, "ts": "2024-05-01T12:00:02Z", "pipeline": "edges", "job": JOB_ID,
            "datum": "d1", "user": true, "message": format!("line {cursor}"),
        })
    }

    /// The answer to `GET path?query`: status and JSON body.
    fn answer(seen: &Mutex<Seen>, path: &str, query: &HashMap<String, String>) -> (u16, Value) {
        let mut seen = seen.lock().expect("lock");
        let parts: Vec<&str> = path.strip_prefix(BASE).unwrap_or_default().split('/').collect();
        match parts.as_slice() {
            ["jobs"] => (200, json!([job(JOB_ID, "FAILURE"), job(OTHER_ID, "SUCCESS")])),
            ["pipelines", "edges", "jobs", id] => {
                seen.inspections += 1;
                let id = if *id == "latest" { JOB_ID } else { id };
                (200, job(id, if seen.inspections >= 3 { "SUCCESS" } else { "RUNNING" }))
            }
            // The first wait runs out of time; the next one sees the job failed.
            ["pipelines", "edges", "jobs", id, "wait"] => {
                let timeout = query.get("timeout_secs").and_then(|t| t.parse().ok()).expect("timeout_secs");
                seen.waits.push(((*id).to_owned(), timeout));
                if seen.waits.len() == 1 {
                    (408, json!({"code": "TIMEOUT", "message": "not yet"}))
                } else {
                    (200, job(id, "FAILURE"))
                }
            }
            // Five lines in all; each look at the job lets two more appear,
            // and by the time it reads SUCCESS all five are there.
            ["logs"] => {
                let after = query.get("after").map(|a| a.parse::<u64>().expect("after is a number"));
                let limit = query.get("limit").map_or(usize::MAX, |l| l.parse().expect("limit is a number"));
                seen.log_afters.push(after);
                let visible = (seen.inspections * 2).min(5);
                let from = after.map_or(1, |a| a + 1);
                (200, Value::Array((from..=visible).take(limit).map(log_line).collect()))
            }
            _ => (404, json!({"code": "NOT_FOUND", "message": format!("no route {path}")})),
        }
    }

    fn serve(mut stream: TcpStream, seen: &Mutex<Seen>) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        // GET requests have no body: the head ends at the first empty line.
        let mut header = String::new();
        while reader.read_line(&mut header).expect("header") > 2 {
            header.clear();
        }
        let target = request_line.split_whitespace().nth(1).expect("request target");
        let url = url::Url::parse(&format!("http://stub{target}")).expect("target");
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let (status, body) = answer(seen, url.path(), &query);
        let body = body.to_string();
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
    }

    pub fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        // The thread ends with the test binary.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &shared);
            }
        });
        Stub { url, seen }
    }
}

#[test]
fn job_wait_expands_a_short_id_retries_after_a_timeout_and_fails_on_a_failed_job() {
    let sandbox = Sandbox::new();
    let stub = stub::start();
    let output = sandbox.run(&["--endpoint", &stub.url, "job", "wait", "edges@1f2e3d4c5b6a", "-o", "json"]);
    assert_eq!(output.status.code(), Some(1), "stderr: {}", crate::support::stderr(&output));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("the job as JSON");
    assert_eq!(printed, stub::job(stub::JOB_ID, "FAILURE"), "printed exactly as the server sent it");
    let message = crate::support::stderr(&output);
    assert_eq!(message.trim(), format!("error: job {} of pipeline edges ended FAILURE: 1 datum failed", stub::JOB_ID));
    let seen = stub.seen.lock().expect("lock");
    assert_eq!(seen.waits.len(), 2, "{seen:?}");
    assert!(seen.waits.iter().all(|(job, secs)| job == stub::JOB_ID && *secs <= 300), "{seen:?}");
}

#[test]
fn an_ambiguous_or_unknown_short_id_is_a_user_error() {
    let sandbox = Sandbox::new();
    let stub = stub::start();
    let output = sandbox.run(&["--endpoint", &stub.url, "job", "inspect", "edges@ab"]);
    assert_user_error(&output, &["pipeline edges", "no job id starts with `ab`"]);
}

#[test]
fn following_a_job_prints_every_line_once_and_stops_when_the_job_is_done() {
    let sandbox = Sandbox::new();
    let stub = stub::start();
    let output = sandbox.run(&["--endpoint", &stub.url, "logs", "-p", "edges", "--job", "latest", "-f", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", crate::support::stderr(&output));
    let cursors: Vec<u64> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("one JSON object per line"))
        .map(|line| line["cursor"].as_u64().expect("cursor"))
        .collect();
    assert_eq!(cursors, [1, 2, 3, 4, 5]);
    let seen = stub.seen.lock().expect("lock");
    assert_eq!(seen.log_afters.first(), Some(&None));
    assert!(seen.log_afters.iter().skip(1).all(Option::is_some), "later requests continue after a cursor: {seen:?}");
}
