//! Scratch mode, the fallback, and behaviour both modes share (run here for each mode).

use std::path::Path;
use std::time::{Duration, Instant};

use strata_sandbox::{ExitKind, FORCE_FALLBACK_ENV, Isolation, IsolationMode, Sandbox, SandboxError, pfs_root_for};

use crate::helpers::{Datum, confinement, eventually, helper, process_is_dead, read_pid, sandbox};

#[tokio::test]
async fn scratch_mode_gives_the_same_layout_under_pfs() {
    let sandbox = sandbox(IsolationMode::Scratch).await;
    assert_eq!(sandbox.isolation(), Isolation::Scratch);
    assert_eq!(sandbox.fallback_reason(), None, "scratch was asked for, not fallen back to");
    let datum = Datum::new(&[("images", "a/b.csv", "1,2\n")]);

    let outcome = sandbox
        .run(&datum.sh(r#"cat "$PFS/images/a/b.csv" > "$PFS/out/x"; printf %s "$PFS" > "$PFS/out/pfs""#))
        .await
        .unwrap();

    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("x"), "1,2\n");
    assert_eq!(Path::new(&datum.out("pfs")), datum.root);
    assert_eq!(sandbox.pfs_root(&datum.root), datum.root);
    assert_eq!(pfs_root_for(Isolation::Scratch, &datum.root), datum.root);
}

#[tokio::test]
async fn auto_falls_back_to_scratch_with_a_reason_when_namespaces_cannot_be_made() {
    let sandbox =
        Sandbox::start(IsolationMode::Auto, helper().env(FORCE_FALLBACK_ENV, "1"), &confinement()).await.unwrap();
    assert_eq!(sandbox.isolation(), Isolation::Scratch);
    let reason = sandbox.fallback_reason().unwrap();
    assert!(reason.contains(FORCE_FALLBACK_ENV), "{reason}");

    let datum = Datum::new(&[("in", "f", "x")]);
    let outcome = sandbox.run(&datum.sh(r#"cat "$PFS/in/f" > "$PFS/out/f""#)).await.unwrap();
    assert!(outcome.success());
    assert_eq!(datum.out("f"), "x");
}

#[tokio::test]
async fn auto_uses_a_namespace_when_it_can() {
    let sandbox = sandbox(IsolationMode::Auto).await;
    assert_eq!(sandbox.isolation(), Isolation::Namespace);
    assert_eq!(sandbox.fallback_reason(), None);
    sandbox.close().await;
}

#[tokio::test]
async fn namespace_mode_is_an_error_when_namespaces_cannot_be_made() {
    let error = Sandbox::start(IsolationMode::Namespace, helper().env(FORCE_FALLBACK_ENV, "1"), &confinement())
        .await
        .unwrap_err();
    assert!(matches!(error, SandboxError::NamespaceUnavailable { .. }), "{error}");
}

#[tokio::test]
async fn auto_falls_back_when_the_helper_cannot_even_start() {
    let helper = strata_sandbox::HelperCommand::new("/no/such/helper");
    let sandbox = Sandbox::start(IsolationMode::Auto, helper, &confinement()).await.unwrap();
    assert_eq!(sandbox.isolation(), Isolation::Scratch);
    assert!(sandbox.fallback_reason().unwrap().contains("/no/such/helper"));
}

#[test]
fn isolation_modes_parse_from_configuration_words() {
    assert_eq!("auto".parse::<IsolationMode>().unwrap(), IsolationMode::Auto);
    assert_eq!("namespace".parse::<IsolationMode>().unwrap(), IsolationMode::Namespace);
    assert_eq!("scratch".parse::<IsolationMode>().unwrap(), IsolationMode::Scratch);
    assert!("chroot".parse::<IsolationMode>().is_err());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_quickly_in_scratch_mode() {
    check_timeout_kills_the_group(IsolationMode::Scratch).await;
}

#[tokio::test]
async fn dropping_a_run_kills_its_command_in_scratch_mode() {
    check_dropping_a_run_kills_it(IsolationMode::Scratch).await;
}

#[tokio::test]
async fn shared_behaviour_holds_in_scratch_mode() {
    check_shared_behaviour(IsolationMode::Scratch).await;
}

/// `sleep 30` with a forked `sleep 30` child and a 300 ms timeout.
pub async fn check_timeout_kills_the_group(mode: IsolationMode) {
    let sandbox = sandbox(mode).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let mut run = datum.sh(r#"sleep 30 & echo $! > "$PFS/out/child"; sleep 30"#);
    run.timeout = Some(Duration::from_millis(300));

    let started = Instant::now();
    let outcome = sandbox.run(&run).await.unwrap();

    assert_eq!(outcome.status, ExitKind::TimedOut);
    assert!(!outcome.success());
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(outcome.elapsed >= Duration::from_millis(300));
    let child = read_pid(&datum.root.join("out/child"));
    assert!(eventually(|| process_is_dead(child)).await, "forked child {child} survived");
    sandbox.close().await;
}

/// A caller that gives up on a run (drops the future) must not leave the command running.
pub async fn check_dropping_a_run_kills_it(mode: IsolationMode) {
    let sandbox = sandbox(mode).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let run = datum.sh(r#"echo $$ > "$PFS/out/pid"; exec sleep 30"#);
    let gave_up = tokio::time::timeout(Duration::from_millis(500), sandbox.run(&run)).await;
    assert!(gave_up.is_err(), "the run should still have been going");
    let pid = read_pid(&datum.root.join("out/pid"));
    assert!(eventually(|| process_is_dead(pid)).await, "command {pid} survived");

    // The sandbox is still usable afterwards (in namespace mode: with a new helper).
    let outcome = sandbox.run(&datum.sh("exit 0")).await.unwrap();
    assert!(outcome.success());
    sandbox.close().await;
}

/// Stdin, env, the log, exit codes, signals, missing programs, bad requests.
pub async fn check_shared_behaviour(mode: IsolationMode) {
    let sandbox = sandbox(mode).await;
    let datum = Datum::new(&[("in", "f", "x")]);

    // Stdin lines reach the program, and end with end of file.
    let mut run = datum.sh(r#"while read -r line; do echo "got $line"; done > "$PFS/out/stdin""#);
    run.stdin = Some("one\ntwo\n".to_owned());
    assert!(sandbox.run(&run).await.unwrap().success());
    assert_eq!(datum.out("stdin"), "got one\ngot two\n");

    // More stdin than a pipe holds, read in full...
    let big = "0123456789abcdef\n".repeat(64 * 1024);
    let mut run = datum.sh(r#"wc -c > "$PFS/out/count""#);
    run.stdin = Some(big.clone());
    assert!(sandbox.run(&run).await.unwrap().success());
    assert_eq!(datum.out("count").trim(), big.len().to_string());
    // ...or not read at all: neither may hang.
    let mut run = datum.sh("exit 0");
    run.stdin = Some(big);
    assert!(sandbox.run(&run).await.unwrap().success());

    // Env vars arrive, with PATH, HOME and LANG; nothing of the worker's environment does
    // (this test process has CARGO_* variables, for one).
    let mut run = datum.sh(
        r#"printf '%s|%s|%s|%s' "$in" "$STRATA_DATUM_ID" "$PATH" "${HOME:+has-home}" > "$PFS/out/env"; env > "$PFS/out/all""#,
    );
    let pfs = sandbox.pfs_root(&datum.root);
    run.env = vec![
        ("in".to_owned(), pfs.join("in/f").display().to_string()),
        ("STRATA_DATUM_ID".to_owned(), "d1".to_owned()),
    ];
    assert!(sandbox.run(&run).await.unwrap().success());
    let path = strata_sandbox::USER_PATH;
    assert_eq!(datum.out("env"), format!("{}|d1|{path}|has-home", pfs.join("in/f").display()));
    assert!(std::env::vars().any(|(name, _)| name.starts_with("CARGO")), "the test needs a variable of its own");
    let mut names: Vec<String> =
        datum.out("all").lines().filter_map(|line| line.split_once('=')).map(|(name, _)| name.to_owned()).collect();
    // What `sh` adds itself.
    names.retain(|name| !["PWD", "OLDPWD", "SHLVL", "_"].contains(&name.as_str()));
    names.sort();
    assert_eq!(names, ["HOME", "LANG", "PATH", "PFS", "STRATA_DATUM_ID", "in"]);

    // Stdout and stderr are both appended to the log, in order.
    std::fs::write(&datum.log, "before\n").unwrap();
    let outcome = sandbox.run(&datum.sh("echo out1; echo err1 >&2; echo out2")).await.unwrap();
    assert!(outcome.success());
    assert_eq!(datum.log_text(), "before\nout1\nerr1\nout2\n");

    // A timeout too large to count in is no timeout.
    let mut run = datum.sh("exit 0");
    run.timeout = Some(Duration::MAX);
    assert!(sandbox.run(&run).await.unwrap().success());

    // Exit codes and signals.
    let outcome = sandbox.run(&datum.sh("exit 7")).await.unwrap();
    assert_eq!(outcome.status, ExitKind::Exited(7));
    assert!(!outcome.success());
    let outcome = sandbox.run(&datum.sh("kill -TERM $$")).await.unwrap();
    assert_eq!(outcome.status, ExitKind::Signalled(15));

    // The working directory: by default the worker's (scratch) or the private home
    // (namespace), or the one asked for, as the command sees it.
    let default_dir = match sandbox.isolation() {
        Isolation::Scratch => std::env::current_dir().unwrap().canonicalize().unwrap(),
        Isolation::Namespace => "/home/strata".into(),
        Isolation::Container => "/tmp".into(),
    };
    let outcome = sandbox.run(&datum.sh(r#"pwd -P > "$PFS/out/pwd""#)).await.unwrap();
    assert!(outcome.success());
    assert_eq!(Path::new(datum.out("pwd").trim()), default_dir);
    let mut run = datum.sh(r#"pwd -P > "$PFS/out/pwd""#);
    run.workdir = Some(pfs.join("in"));
    assert!(sandbox.run(&run).await.unwrap().success(), "{}", datum.log_text());
    let expected = match sandbox.isolation() {
        Isolation::Scratch => datum.root.join("in").canonicalize().unwrap(),
        Isolation::Namespace | Isolation::Container => "/pfs/in".into(),
    };
    assert_eq!(Path::new(datum.out("pwd").trim()), expected);

    // A missing program is an error the caller can log, not a crash.
    let mut run = datum.sh("");
    run.cmd = vec!["no-such-program-xyz".to_owned(), "arg".to_owned()];
    let error = sandbox.run(&run).await.unwrap_err();
    assert_eq!(error.to_string(), "command not found: no-such-program-xyz");
    assert!(error.is_user_error());
    // ...and the sandbox carries on.
    assert!(sandbox.run(&datum.sh("exit 0")).await.unwrap().success());

    // A missing working directory is not mistaken for a missing program.
    let mut run = datum.sh("exit 0");
    run.workdir = Some(pfs.join("nope"));
    let error = sandbox.run(&run).await.unwrap_err();
    assert!(matches!(error, SandboxError::Workdir { .. }), "{error}");

    // Bad requests.
    for bad in ["out", ".", "..", "a/b", ""] {
        let mut run = datum.sh("exit 0");
        run.inputs = vec![bad.to_owned()];
        let error = sandbox.run(&run).await.unwrap_err();
        assert!(matches!(error, SandboxError::InvalidInputName { .. }), "{bad:?}: {error}");
    }
    let mut run = datum.sh("exit 0");
    run.inputs = vec!["in".to_owned(), "in".to_owned()];
    assert!(matches!(sandbox.run(&run).await.unwrap_err(), SandboxError::InvalidInputName { .. }));
    let mut run = datum.sh("exit 0");
    run.inputs = vec!["absent".to_owned()];
    let error = sandbox.run(&run).await.unwrap_err();
    assert!(matches!(error, SandboxError::MissingInput { .. }), "{error}");
    let mut run = datum.sh("exit 0");
    run.cmd.clear();
    assert!(matches!(sandbox.run(&run).await.unwrap_err(), SandboxError::EmptyCommand));

    // Still fine after all of that.
    let outcome = sandbox.run(&datum.sh(r#"cat "$PFS/in/f" > "$PFS/out/final""#)).await.unwrap();
    assert!(outcome.success());
    assert_eq!(datum.out("final"), "x");
    sandbox.close().await;
}
