//! Accounts, organisations, workspaces and tokens through the `strata`
//! binary, as a user and a CI script drive them.

use nix::sys::signal::Signal;

use crate::support::{Sandbox, assert_user_error, json, mailed_token, ok, wait_until, with_stdin_line};

#[test]
fn the_dev_admin_manages_tokens_that_ci_scripts_use() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let me = json(&sandbox, &["auth", "whoami"]);
    assert_eq!(me["email"], "admin@strata.localhost");
    let workspaces = json(&sandbox, &["workspace", "list"]);
    assert_eq!(workspaces[0]["slug"], "default");
    assert_eq!(workspaces[0]["state"], "READY");

    let made = json(&sandbox, &["token", "create", "ci", "--role", "writer", "--expires-in-days", "30"]);
    let secret = made["token"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("stp_"));
    let listed = ok(&sandbox, &["token", "list"]);
    assert!(listed.contains("ci") && !listed.contains(&secret), "{listed}");

    // A CI job has only STRATA_TOKEN and the endpoint.
    let ci = |args: &[&str]| {
        let mut command = sandbox.command(args);
        command
            .env("STRATA_TOKEN", &secret)
            .env("STRATA_ENDPOINT", &server.url)
            .env("STRATA_CONFIG", sandbox.dir.path().join("none.toml"));
        command.output().expect("run")
    };
    let created = ci(&["repo", "create", "from-ci"]);
    assert_eq!(created.status.code(), Some(0), "{}", String::from_utf8_lossy(&created.stderr));
    let refused = ci(&["gc"]);
    assert_user_error(&refused, &["admin", "writer"]);

    let id = made["apiToken"]["id"].as_str().expect("id").to_owned();
    ok(&sandbox, &["token", "revoke", &id]);
    assert_user_error(&ci(&["repo", "list"]), &["not valid"]);
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn a_new_user_signs_up_verifies_logs_in_and_creates_an_organisation() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let weak =
        with_stdin_line(&sandbox, &["auth", "signup", "--email", "ada@example.com", "--password-stdin"], "short");
    assert_user_error(&weak, &["password", "at least"]);
    let signed = with_stdin_line(
        &sandbox,
        &["auth", "signup", "--email", "ada@example.com", "--password-stdin"],
        "a long passphrase 42",
    );
    assert_eq!(signed.status.code(), Some(0), "{}", String::from_utf8_lossy(&signed.stderr));
    ok(&sandbox, &["auth", "verify", &mailed_token(&sandbox, "ada@example.com")]);
    let wrong = with_stdin_line(
        &sandbox,
        &["auth", "login", "--email", "ada@example.com", "--password-stdin"],
        "not the password",
    );
    assert_user_error(&wrong, &["wrong email or password"]);
    let login = with_stdin_line(
        &sandbox,
        &["auth", "login", "--email", "ada@example.com", "--password-stdin"],
        "a long passphrase 42",
    );
    assert_eq!(login.status.code(), Some(0), "{}", String::from_utf8_lossy(&login.stderr));
    assert_eq!(json(&sandbox, &["auth", "whoami"])["email"], "ada@example.com");

    assert_user_error(&sandbox.run(&["org", "create", "Not A Slug"]), &["slug", "data-team"]);
    ok(&sandbox, &["org", "create", "ada-labs"]);
    assert_user_error(&sandbox.run(&["org", "create", "ada-labs"]), &["taken"]);
    let ws = json(&sandbox, &["workspace", "create", "research", "--idempotency-key", "k1"]);
    assert_eq!(ws["state"], "PENDING");
    let again = json(&sandbox, &["workspace", "create", "research", "--idempotency-key", "k1"]);
    assert_eq!(again["id"], ws["id"]);
    let list = json(&sandbox, &["workspace", "list"]);
    assert_eq!(list.as_array().expect("array").len(), 1);
    assert_eq!(list[0]["slug"], "research");
    let state = list[0]["state"].as_str().unwrap_or_default();
    assert!(["PENDING", "PROVISIONING", "READY"].contains(&state), "the provisioner takes it from PENDING: {state}");
    assert_user_error(
        &sandbox.run(&["workspace", "delete", "research", "--confirm", "nope"]),
        &["confirm", "research"],
    );
    assert_user_error(
        &sandbox.run(&["org", "delete", "ada-labs", "--confirm", "ada-labs"]),
        &["still has 1 workspace", "delete them first"],
    );
    assert_eq!(json(&sandbox, &["workspace", "delete", "research", "--confirm", "research"])["state"], "DELETING");

    // The organisation goes once its workspace is gone (the provisioner's part).
    assert_user_error(&sandbox.run(&["org", "delete", "ada-labs", "--confirm", "ada"]), &["confirm", "ada-labs"]);
    wait_until("the deleted workspace leaving the list", std::time::Duration::from_secs(30), || {
        json(&sandbox, &["workspace", "list"]).as_array().is_some_and(Vec::is_empty)
    });
    let deleted = json(&sandbox, &["org", "delete", "ada-labs", "--confirm", "ada-labs"]);
    assert_eq!(deleted["deleted"], "ada-labs", "{deleted}");
    assert_eq!(json(&sandbox, &["org", "list"]), serde_json::json!([]));

    // Ada is not in the local organisation: its workspace is invisible to her.
    assert_user_error(&sandbox.run(&["repo", "list"]), &["no workspace `default`"]);
    ok(&sandbox, &["auth", "logout"]);
    assert_user_error(&sandbox.run(&["auth", "whoami"]), &["log in"]);
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn passwords_and_tokens_never_reach_the_server_log() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&["--log-level", "debug"]);
    let password = "a very secret passphrase 77";
    let signed =
        with_stdin_line(&sandbox, &["auth", "signup", "--email", "eve@example.com", "--password-stdin"], password);
    assert_eq!(signed.status.code(), Some(0));
    let verification = mailed_token(&sandbox, "eve@example.com");
    ok(&sandbox, &["auth", "verify", &verification]);
    let _ = with_stdin_line(
        &sandbox,
        &["auth", "login", "--email", "eve@example.com", "--password-stdin"],
        "wrong secret guess 1",
    );
    let login =
        with_stdin_line(&sandbox, &["auth", "login", "--email", "eve@example.com", "--password-stdin"], password);
    assert_eq!(login.status.code(), Some(0));
    ok(&sandbox, &["org", "create", "eve-org"]);
    let made = json(&sandbox, &["token", "create", "ci", "--role", "writer"]);
    let secret = made["token"].as_str().expect("secret").to_owned();
    let config = std::fs::read_to_string(sandbox.cli_config()).expect("CLI config");
    let stored = |key: &str| {
        config.lines().find(|l| l.starts_with(key)).and_then(|l| l.split('"').nth(1)).expect(key).to_owned()
    };
    let (access, refresh) = (stored("token"), stored("refresh_token"));
    let mut ci = sandbox.command(&["repo", "list"]);
    ci.env("STRATA_TOKEN", &secret);
    let _ = ci.output();
    server.stop_with(Signal::SIGTERM);

    let log = std::fs::read_to_string(sandbox.dir.path().join("dev.log")).expect("server log");
    assert!(log.contains("request served") && log.contains("/graphql"), "the access log is on at debug level: {log}");
    for (what, value) in [
        ("password", password),
        ("verification token", verification.as_str()),
        ("API token", secret.as_str()),
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
    ] {
        assert!(!log.contains(value), "the {what} appears in the server log");
    }
}

#[test]
fn the_autoscaling_simulator_compares_the_policy_with_its_baselines() {
    let sandbox = Sandbox::new();
    let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/autoscale/bursty-ci.json");
    let svg = sandbox.dir.path().join("plot.svg");
    let rows = json(&sandbox, &["autoscale", "simulate", "--trace", trace, "--svg", svg.to_str().expect("utf-8")]);
    let rows = rows.as_array().expect("one row per policy");
    assert_eq!(rows.len(), 3);
    let figure = |n: usize, key: &str| rows[n][key].as_f64().expect(key);
    assert_eq!(rows[0]["policy"], "strata");
    assert_eq!(rows[2]["policy"], "keda_like");
    assert!(figure(0, "worker_seconds") < figure(1, "worker_seconds"), "cheaper than the fixed pool");
    assert!(figure(0, "worker_seconds") < figure(2, "worker_seconds"), "cheaper than 30 s polling");
    assert!(figure(0, "p95_job_latency_secs") < figure(2, "p95_job_latency_secs"), "and faster");
    assert_eq!(figure(0, "busy_seconds"), figure(1, "busy_seconds"), "the same work under every policy");
    let picture = std::fs::read_to_string(&svg).expect("the plot");
    assert_eq!(picture.matches("<polyline").count(), 3);

    // With nodes: the same trace on a node pool, four node policies.
    let nodes = json(&sandbox, &["autoscale", "simulate", "--trace", trace, "--nodes"]);
    let nodes = nodes.as_array().expect("one row per node policy");
    let policies: Vec<&str> = nodes.iter().map(|r| r["policy"].as_str().expect("policy")).collect();
    assert_eq!(policies, ["peak_fixed", "no_buffer", "fixed_buffer", "queue_driven"]);
    let cost = |n: usize| nodes[n]["cost"].as_f64().expect("cost");
    assert!(cost(1) < cost(2) && cost(2) < cost(0), "no buffer < fixed buffer < the peak pool");
    assert!(nodes[1]["p95_job_latency_secs"].as_f64() > nodes[0]["p95_job_latency_secs"].as_f64(), "cold nodes wait");

    let bad = sandbox.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"name": "x", "worker_start_secs": 1, "max_workers": 2, "jobs": []}"#).expect("write");
    assert_user_error(&sandbox.run(&["autoscale", "simulate", "--trace", bad.to_str().expect("utf-8")]), &["no jobs"]);
    std::fs::write(&bad, r#"{"name": "x", "workers": 2}"#).expect("write");
    assert_user_error(
        &sandbox.run(&["autoscale", "simulate", "--trace", bad.to_str().expect("utf-8")]),
        &["not a queue trace"],
    );
}
