//! The helper as an ordinary user: it cannot confine user code, so it says so, and only
//! `auto` (a laptop's `strata dev`) falls back to scratch mode.

use std::os::unix::fs::PermissionsExt;

use strata_sandbox::{HelperCommand, Isolation, IsolationMode, Sandbox, SandboxError};

use crate::helpers::confinement;

const NOBODY: &str = "65534";

#[tokio::test]
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
async fn an_unprivileged_helper_refuses_to_confine_and_only_auto_falls_back() {
    let Some(setpriv) = find_setpriv() else {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    };
    if !running_as_root() {
        eprintln!("skipped: dropping to another uid needs root; this run is already unprivileged");
        return;
    }
    // The build directory is usually under root's 0700 home; give nobody its own copy.
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = bin.path().join("helper");
    // Copied by `cp`, not by us: a write fd of ours could leak into a child another test
    // thread is forking, and exec of the copy would then fail with ETXTBSY.
    let copied = std::process::Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_strata-sandbox-helper"))
        .arg(&helper)
        .status()
        .unwrap();
    assert!(copied.success());
    let command = HelperCommand::new(setpriv)
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(&helper);

    let error = Sandbox::start(IsolationMode::Namespace, command.clone(), &confinement()).await.unwrap_err();
    assert!(matches!(error, SandboxError::NamespaceUnavailable { .. }), "{error}");
    assert!(error.to_string().contains("needs root"), "{error}");

    let sandbox = Sandbox::start(IsolationMode::Auto, command, &confinement()).await.unwrap();
    assert_eq!(sandbox.isolation(), Isolation::Scratch);
    assert!(sandbox.fallback_reason().unwrap().contains("needs root"));
}

fn find_setpriv() -> Option<std::path::PathBuf> {
    ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"].iter().map(std::path::PathBuf::from).find(|p| p.exists())
}

fn running_as_root() -> bool {
    // Our own status says it without a dev-dependency just for geteuid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}
