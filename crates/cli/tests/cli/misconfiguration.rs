//! Each misconfiguration gives one clear line naming the problem and exit 1.

use crate::support::{Sandbox, assert_user_error, path_str};

#[test]
fn an_unsupported_database_url_is_named() {
    let sandbox = Sandbox::new();
    let output =
        sandbox.run(&["dev", "--data-dir", path_str(&sandbox.data_dir()), "--database-url", "mysql://root@db/strata"]);
    assert_user_error(&output, &["database_url", "mysql://root@db/strata", "sqlite://"]);
}

#[test]
fn a_database_password_is_never_echoed() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["dev", "--database-url", "mysql://root:hunter2@db/strata"]);
    assert_user_error(&output, &["database_url"]);
    assert!(!crate::support::stderr(&output).contains("hunter2"));
}

#[test]
fn an_unsupported_object_store_url_is_named() {
    let sandbox = Sandbox::new();
    let output =
        sandbox.run(&["dev", "--data-dir", path_str(&sandbox.data_dir()), "--object-store-url", "ftp://files/x"]);
    assert_user_error(&output, &["object_store_url", "ftp"]);
}

#[test]
fn an_unknown_key_in_the_config_file_is_named() {
    let sandbox = Sandbox::new();
    let file = sandbox.dir.path().join("strata.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://x.db\"\n").expect("write");
    let output = sandbox.run(&["dev", "--config", path_str(&file)]);
    assert_user_error(&output, &["`database`", "database_url"]);
}

#[test]
fn an_unknown_key_in_the_environment_is_ignored_but_a_bad_value_is_named() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .command(&["dev", "--data-dir", path_str(&sandbox.data_dir())])
        .env("STRATA_LISTEN", "everywhere")
        .output()
        .expect("run");
    assert_user_error(&output, &["`listen`", "everywhere"]);
}

#[test]
fn an_unwritable_data_dir_is_named() {
    let sandbox = Sandbox::new();
    // A path below a regular file can never be created, even by root.
    let file = sandbox.dir.path().join("a-file");
    std::fs::write(&file, b"").expect("write");
    let data_dir = file.join("data");
    let output = sandbox.run(&["dev", "--listen", "127.0.0.1:0", "--data-dir", path_str(&data_dir)]);
    assert_user_error(&output, &["data directory", path_str(&data_dir), "--data-dir"]);
}

#[test]
fn a_port_in_use_is_named_with_what_to_do() {
    let sandbox = Sandbox::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let output = sandbox.run(&["dev", "--listen", &address, "--data-dir", path_str(&sandbox.data_dir())]);
    assert_user_error(&output, &[&address, "already in use", "--listen"]);
}

#[test]
fn a_bad_log_format_is_named() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["dev", "--log-format", "xml", "--data-dir", path_str(&sandbox.data_dir())]);
    assert_user_error(&output, &["log_format", "pretty, json"]);
}

#[test]
fn an_unknown_cli_context_lists_the_known_ones() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["status", "--context", "staging"]);
    assert_user_error(&output, &["staging", "strata dev"]);
}

#[test]
fn an_unreachable_server_is_a_server_error_with_a_hint() {
    let sandbox = Sandbox::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let output = sandbox.run(&["status", "--endpoint", &endpoint]);
    assert_eq!(output.status.code(), Some(2), "{}", crate::support::stderr(&output));
    assert!(crate::support::stderr(&output).contains("strata dev"));
}

/// The last line of stderr, which `strata` prints its error on (start-up
/// logs may come before it).
fn error_line(output: &std::process::Output) -> String {
    let text = crate::support::stderr(output);
    assert_eq!(output.status.code(), Some(1), "exit code; stderr: {text}");
    let last = text.lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("error: "), "{text}");
    last
}

#[test]
fn strata_dev_makes_a_private_master_key_once_and_a_wrong_one_is_named_never_shown() {
    use std::os::unix::fs::PermissionsExt as _;
    let sandbox = Sandbox::new();
    let key_file = sandbox.data_dir().join("keys/master.key");
    let first = sandbox.start_dev(&[]);
    let made = std::fs::read_to_string(&key_file).expect("strata dev made a master key");
    assert_eq!(std::fs::metadata(&key_file).expect("key").permissions().mode() & 0o777, 0o600);
    let keys_dir = key_file.parent().expect("dir");
    assert_eq!(std::fs::metadata(keys_dir).expect("dir").permissions().mode() & 0o777, 0o700);
    assert!(first.stop_with(nix::sys::signal::Signal::SIGTERM).success());
    let again = sandbox.start_dev(&[]);
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), made, "the key is reused, not replaced");
    assert!(again.stop_with(nix::sys::signal::Signal::SIGTERM).success());

    let data_dir = sandbox.data_dir();
    let start_with = |key: &str| {
        let args = ["dev", "--listen", "127.0.0.1:0", "--data-dir", path_str(&data_dir)];
        sandbox.command(&args).env("STRATA_MASTER_KEY", key).output().expect("run strata dev")
    };
    // Another valid key cannot open what the first one encrypted.
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let line = error_line(&start_with(wrong));
    assert!(line.contains("`master_key`") && line.contains("cannot be decrypted"), "{line}");
    // Something that is no key at all.
    let line = error_line(&start_with("hunter2"));
    assert!(line.contains("`master_key`") && line.contains("openssl rand -base64 32"), "{line}");
    for shown in [wrong, made.trim(), "hunter2"] {
        assert!(!line.contains(shown), "a key in the error: {line}");
    }
    let wrong_line = error_line(&start_with(wrong));
    assert!(!wrong_line.contains(wrong) && !wrong_line.contains(made.trim()), "{wrong_line}");
}

#[test]
fn an_unknown_worker_runner_is_named_before_anything_starts() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["worker", "--pipeline", "edges", "--runner", "docker"]);
    assert_user_error(&output, &["--runner", "docker", "process, container or auto"]);
}

#[test]
fn an_unknown_worker_isolation_is_named_by_its_flag() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["worker", "--pipeline", "edges", "--isolation", "docker"]);
    assert_user_error(&output, &["--isolation", "docker", "auto, namespace or scratch"]);
}

#[test]
fn deploy_render_prints_the_hub_and_names_a_bad_flag() {
    let sandbox = Sandbox::new();
    let yaml = crate::support::ok(&sandbox, &["deploy", "render", "--image", "registry.example.com/strata:1"]);
    assert!(yaml.contains("kind: ClusterRole") && yaml.contains("image: registry.example.com/strata:1"));
    let list = crate::support::json(&sandbox, &["deploy", "render", "--image", "registry.example.com/strata:1"]);
    assert_eq!(list["kind"], "List");
    let bad = sandbox.run(&["deploy", "render", "--image", "x:1", "--namespace", "Strata_Hub"]);
    assert_user_error(&bad, &["--namespace", "Strata_Hub"]);
    let bad =
        sandbox.run(&["deploy", "render", "--image", "x:1", "--api-min-replicas", "5", "--api-max-replicas", "2"]);
    assert_user_error(&bad, &["--api-min-replicas", "--api-max-replicas"]);
}
