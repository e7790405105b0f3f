//! The helper as an ordinary user: it cannot confine user code, so it says so, and only
//! `auto` (a laptop's `strata dev`) falls back to scratch mode.
//!
//! Dropping to another user needs root and `setpriv`. The test is ignored in the ordinary
//! run, so that nextest counts it as skipped where it cannot run instead of as passed;
//! `scripts/test.sh` runs it in a step of its own where both are present (as root, like
//! the project's machines and CI), and says it skipped it elsewhere.

use std::os::unix::fs::PermissionsExt;

use strata_sandbox::{HelperCommand, Isolation, IsolationMode, Sandbox, SandboxError};

use crate::helpers::confinement;

const NOBODY: &str = "65534";

#[tokio::test]
#[ignore = "needs root and setpriv: scripts/test.sh runs it where both are present"]
async fn an_unprivileged_helper_refuses_to_confine_and_only_auto_falls_back() {
    let setpriv = find_setpriv().expect("setpriv (util-linux) is installed");
    assert!(running_as_root(), "dropping to another uid needs root; this run is already unprivileged");
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
