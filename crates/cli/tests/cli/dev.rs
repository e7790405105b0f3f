//! `strata dev` end to end through the binary.

use nix::sys::signal::Signal;
use strata_testkit::{Backend, TestDatabase};

use crate::support::{Sandbox, stdout};

#[test]
fn dev_serves_writes_the_context_and_stops_cleanly_on_sigint() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);

    // The dev context is current, so plain `strata status` finds the server.
    let output = sandbox.run(&["status", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", crate::support::stderr(&output));
    let status: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(status["status"], "ready");
    assert_eq!(status["context"], "dev");
    assert_eq!(status["endpoint"], server.url.as_str());
    assert_eq!(status["checks"]["database"]["ok"], true);
    // `strata dev` runs processes unless told to run containers, and says so.
    assert_eq!(status["runner"]["runner"], "process");
    assert!(status["runner"]["warning"].as_str().is_some_and(|w| w.contains("runner = \"container\"")), "{status}");

    let config = std::fs::read_to_string(sandbox.cli_config()).expect("context file");
    assert!(config.contains("current_context = \"dev\""), "{config}");
    assert!(config.contains("workspace = \"default\""), "{config}");

    let status = server.stop_with(Signal::SIGINT);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn dev_stops_cleanly_on_sigterm_and_frees_the_port() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&["--no-context"]);
    let address = server.url.trim_start_matches("http://").to_owned();
    assert!(!sandbox.cli_config().exists(), "--no-context writes nothing");
    let status = server.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0));
    std::net::TcpListener::bind(&address).expect("the port is free again");
}

#[test]
fn dev_keeps_data_across_restarts() {
    let sandbox = Sandbox::new();
    let first = sandbox.start_dev(&[]);
    first.stop_with(Signal::SIGTERM);
    let database = sandbox.data_dir().join("strata.db");
    let size = std::fs::metadata(&database).expect("database file").len();
    let second = sandbox.start_dev(&[]);
    let output = sandbox.run(&["status"]);
    assert_eq!(output.status.code(), Some(0));
    second.stop_with(Signal::SIGTERM);
    assert!(std::fs::metadata(&database).expect("database file").len() >= size);
}

#[test]
fn dev_runs_on_postgres_too() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sandbox = Sandbox::new();
    let database = runtime.block_on(TestDatabase::create(Backend::Postgres, &sandbox.data_dir()));
    let server = sandbox.start_dev(&["--database-url", &database.url()]);
    let output = sandbox.run(&["status", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", crate::support::stderr(&output));
    let status: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(status["checks"]["database"]["ok"], true);
    assert_eq!(server.stop_with(Signal::SIGTERM).code(), Some(0));
}

#[test]
fn version_prints_client_and_server_versions_as_json() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let output = sandbox.run(&["version", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let versions: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(versions["client"], env!("CARGO_PKG_VERSION"));
    assert_eq!(versions["server"], env!("CARGO_PKG_VERSION"));
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn help_lists_the_commands() {
    let output = Sandbox::new().run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for command in ["dev", "version", "status", "completion"] {
        assert!(text.contains(command), "{command} missing in:\n{text}");
    }
}

#[test]
fn completions_are_generated_for_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Sandbox::new().run(&["completion", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        assert!(stdout(&output).contains("strata"), "{shell}");
    }
}
