//! Namespace mode: the literal `/pfs` paths of Pachyderm code.

use std::path::Path;
use std::time::{Duration, Instant};

use strata_sandbox::{ExitKind, Isolation, IsolationMode, SandboxError};

use crate::helpers::{Datum, eventually, process_is_dead, read_pid, sandbox};

#[tokio::test]
async fn inputs_appear_at_their_literal_pfs_paths_and_output_lands_in_root_out() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    assert_eq!(sandbox.isolation(), Isolation::Namespace);
    assert_eq!(sandbox.fallback_reason(), None);
    let datum = Datum::new(&[("images", "a/b.csv", "1,2\n"), ("labels", "l.txt", "cat")]);

    let outcome =
        sandbox
            .run(&datum.sh(
                "cat /pfs/images/a/b.csv /pfs/labels/l.txt > /pfs/out/x && mkdir /pfs/out/d && echo y > /pfs/out/d/y",
            ))
            .await
            .unwrap();

    assert!(outcome.success(), "{outcome:?}: {}", datum.log_text());
    assert_eq!(datum.out("x"), "1,2\ncat");
    assert_eq!(datum.out("d/y"), "y\n");
    sandbox.close().await;
}

#[tokio::test]
async fn the_host_never_gets_a_pfs_directory_nor_a_staging_dir() {
    let staging_before = staging_dirs();
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let outcome = sandbox.run(&datum.sh("test -d /pfs/in && test -d /pfs/out")).await.unwrap();
    assert!(outcome.success());
    assert!(!Path::new("/pfs").exists(), "the host must not see /pfs while a helper runs");
    sandbox.close().await;
    assert!(!Path::new("/pfs").exists());
    // Other tests' helpers may be starting concurrently; ours must not have left one.
    let leftover: Vec<_> = staging_dirs().into_iter().filter(|d| !staging_before.contains(d)).collect();
    assert!(
        eventually(|| staging_dirs().iter().all(|d| !leftover.contains(d))).await,
        "staging dirs left behind: {leftover:?}"
    );
}

fn staging_dirs() -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("strata-sandbox-"))
        .collect()
}

#[tokio::test]
async fn a_second_datum_does_not_see_the_first_datums_inputs() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let first = Datum::new(&[("a", "one", "1")]);
    let second = Datum::new(&[("b", "two", "2")]);

    assert!(sandbox.run(&first.sh("test -f /pfs/a/one")).await.unwrap().success());
    let outcome =
        sandbox.run(&second.sh("ls -A /pfs > /pfs/out/listing; ls -A /pfs/out >> /pfs/out/listing")).await.unwrap();

    assert!(outcome.success(), "{}", second.log_text());
    // Only its own input and output: not `a`, and not the first datum's output files.
    assert_eq!(second.out("listing"), "b\nout\nlisting\n");
    sandbox.close().await;
}

#[tokio::test]
async fn user_code_can_neither_write_nor_mount_in_pfs_and_nothing_reaches_the_next_datum() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    // As root in the namespace (before confinement) a command could write next to the
    // mounts, or mount there; as the workspace's uid it can do neither.
    let script = "for try in 'touch /pfs/junk' 'mkdir /pfs/extra' 'mount -t tmpfs none /pfs/in' 'touch /pfs/in/new'; do \
                  if sh -c \"$try\" 2>/dev/null; then echo \"$try\" >> /pfs/out/allowed; fi; done; true";
    let outcome = sandbox.run(&datum.sh(script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert!(!datum.root.join("out/allowed").exists(), "user code did: {}", datum.out("allowed"));

    let outcome = sandbox.run(&datum.sh("ls -A /pfs > /pfs/out/listing")).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("listing"), "in\nout\n");
    assert_eq!(std::fs::read_to_string(datum.root.join("in/f")).unwrap(), "x");
    sandbox.close().await;
}

#[tokio::test]
async fn pfs_is_slash_pfs_in_namespace_mode() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    assert_eq!(sandbox.pfs_root(Path::new("/somewhere")), Path::new("/pfs"));
    let datum = Datum::new(&[("in", "f", "x")]);
    let outcome = sandbox.run(&datum.sh(r#"printf %s "$PFS" > /pfs/out/pfs"#)).await.unwrap();
    assert!(outcome.success());
    assert_eq!(datum.out("pfs"), "/pfs");
    sandbox.close().await;
}

#[tokio::test]
async fn the_command_runs_without_a_shell() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let mut run = datum.sh("");
    // Without a shell the `$PFS` and `>` are plain arguments to echo.
    run.cmd = vec!["echo".into(), "$PFS".into(), ">".into(), "/pfs/out/nope".into()];
    assert!(sandbox.run(&run).await.unwrap().success());
    assert_eq!(datum.log_text(), "$PFS > /pfs/out/nope\n");
    sandbox.close().await;
}

#[tokio::test]
async fn a_helper_that_dies_is_reported_and_replaced_on_the_next_run() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);

    // In namespace mode the command's parent is the helper. User code cannot signal it
    // (another uid), so the test kills it. The user program's `sleep 30` only
    // keeps it running until then; the test waits for its pid files.
    let run = datum.sh("echo $$ > /pfs/out/group; echo $PPID > /pfs/out/helper; sleep 30");
    let kill_helper = async {
        let pid_file = datum.root.join("out/helper");
        assert!(eventually(|| std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))).await);
        let pid = read_pid(&pid_file);
        assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    };
    let (result, ()) = tokio::join!(sandbox.run(&run), kill_helper);
    let error = result.unwrap_err();
    // The orphaned command is the test's to clean up.
    let group = read_pid(&datum.root.join("out/group"));
    let _ = std::process::Command::new("kill").args(["-9", "--", &format!("-{group}")]).status();
    assert!(matches!(error, SandboxError::HelperDied { .. }), "{error}");
    assert!(!error.is_user_error());

    let outcome = sandbox.run(&datum.sh("cat /pfs/in/f > /pfs/out/f")).await.unwrap();
    assert!(outcome.success());
    assert_eq!(datum.out("f"), "x");
    sandbox.close().await;
}

#[tokio::test]
async fn several_sandboxes_run_side_by_side_each_with_its_own_pfs() {
    let (one, two) = tokio::join!(sandbox(IsolationMode::Namespace), sandbox(IsolationMode::Namespace));
    let a = Datum::new(&[("in", "f", "a")]);
    let b = Datum::new(&[("in", "f", "b")]);
    let script = "sleep 0.2; cat /pfs/in/f > /pfs/out/f";
    let (run_a, run_b) = (a.sh(script), b.sh(script));
    let (ra, rb) = tokio::join!(one.run(&run_a), two.run(&run_b));
    assert!(ra.unwrap().success() && rb.unwrap().success());
    assert_eq!((a.out("f"), b.out("f")), ("a".to_owned(), "b".to_owned()));
    tokio::join!(one.close(), two.close());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_quickly_in_namespace_mode() {
    crate::scratch::check_timeout_kills_the_group(IsolationMode::Namespace).await;
}

#[tokio::test]
async fn dropping_a_run_kills_its_command_in_namespace_mode() {
    crate::scratch::check_dropping_a_run_kills_it(IsolationMode::Namespace).await;
}

#[tokio::test]
async fn shared_behaviour_holds_in_namespace_mode() {
    crate::scratch::check_shared_behaviour(IsolationMode::Namespace).await;
}

/// Kept here to show that one run's leftovers cannot outlive it.
#[tokio::test]
async fn background_processes_are_killed_when_the_datum_ends() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let started = Instant::now();
    let outcome = sandbox.run(&datum.sh("sleep 30 & echo $! > /pfs/out/bg; exit 0")).await.unwrap();
    assert_eq!(outcome.status, ExitKind::Exited(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid = read_pid(&datum.root.join("out/bg"));
    assert!(eventually(|| process_is_dead(pid)).await, "background sleep {pid} survived");
    sandbox.close().await;
}

/// Billing meters CPU time per datum: a busy loop's shows, an idle wait's
/// does not, and the next datum does not inherit the first one's.
#[tokio::test]
async fn each_datum_reports_the_cpu_time_its_processes_used() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let busy = Datum::new(&[("in", "f", "x")]);
    let burn = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done";
    let outcome = sandbox.run(&busy.sh(burn)).await.unwrap();
    assert!(outcome.success(), "{outcome:?}: {}", busy.log_text());
    assert!(outcome.cpu > Duration::from_millis(20), "a busy shell: {outcome:?}");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u32;
    assert!(outcome.cpu <= outcome.elapsed * cores + Duration::from_millis(20), "{outcome:?}");

    let idle = Datum::new(&[("in", "f", "x")]);
    let outcome = sandbox.run(&idle.sh("echo quiet > /pfs/out/q")).await.unwrap();
    assert!(outcome.success(), "{outcome:?}: {}", idle.log_text());
    assert!(outcome.cpu < Duration::from_millis(50), "an idle datum is not billed the busy one's time: {outcome:?}");
    sandbox.close().await;
}
