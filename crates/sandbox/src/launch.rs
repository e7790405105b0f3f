//! What both modes do the same way around one datum: check the datum's layout, open its
//! log, build the command, and name the ways it can fail. These are synchronous: the helper
//! has no runtime, and in scratch mode they are a few `stat`s and an `open`, cheaper than a
//! trip to tokio's blocking pool.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use crate::protocol::{Request, WireError};
use crate::{ExitKind, OUT_DIR};

/// Checks that every input has a directory under the root and creates `out/` if needed.
/// Returns the directories to expose, `(name, source)`, output last.
pub(crate) fn datum_dirs(request: &Request) -> Result<Vec<(&str, PathBuf)>, WireError> {
    let mut dirs = Vec::with_capacity(request.inputs.len() + 1);
    for name in &request.inputs {
        if crate::check_input_name(name).is_err() {
            return Err(WireError::InvalidInputName { name: name.clone() });
        }
        let path = request.root.join(name);
        if !path.is_dir() {
            return Err(WireError::MissingInput { name: name.clone(), path });
        }
        dirs.push((name.as_str(), path));
    }
    let out = request.root.join(OUT_DIR);
    if !out.is_dir() {
        fs::create_dir_all(&out).map_err(|e| WireError::Prepare { path: out.clone(), message: e.to_string() })?;
    }
    dirs.push((OUT_DIR, out));
    Ok(dirs)
}

/// Builds the command: exactly `base_env` and the request's environment, its own
/// process group (so a timeout can kill everything it started), stdout and stderr
/// appended to the log through one open file so they interleave, stdin piped only if
/// there is text for it. With `uid`, the child switches to that uid and gid with no
/// supplementary groups before it executes the program; a root parent's child loses its
/// effective and permitted capabilities with that switch.
///
/// `base_env` comes first and the request's variables override it: in a container, the
/// image's environment; elsewhere nothing.
pub(crate) fn command(
    request: &Request,
    uid: Option<u32>,
    base_env: &[(String, String)],
) -> Result<Command, WireError> {
    let Some((program, args)) = request.cmd.split_first() else {
        return Err(WireError::EmptyCommand);
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&request.log)
        .map_err(|e| WireError::Log { path: request.log.clone(), message: e.to_string() })?;
    let log_too = log.try_clone().map_err(|e| WireError::Log { path: request.log.clone(), message: e.to_string() })?;
    let mut command = Command::new(program);
    // Strata's own settings and credentials (`STRATA_MASTER_KEY`,
    // `STRATA_TOKEN`…) stay with Strata's processes: the user's command gets
    // only the `STRATA_*` variables the request names (job and datum ids).
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("STRATA_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env_clear()
        .envs(base_env.iter().map(|(k, v)| (k, v)))
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(if request.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(log)
        .stderr(log_too);
    if let Some(uid) = uid {
        // std drops the supplementary groups when it switches the uid of a root child.
        command.uid(uid).gid(uid);
    }
    if let Some(dir) = &request.workdir {
        // Checked here because a missing working directory fails the spawn with the same
        // `NotFound` as a missing program, and would be reported as "command not found".
        if !dir.is_dir() {
            return Err(WireError::Workdir { path: dir.clone(), message: "not a directory".to_owned() });
        }
        command.current_dir(dir);
    }
    Ok(command)
}

/// Names a failed spawn the way a shell would.
pub(crate) fn spawn_error(request: &Request, error: &io::Error) -> WireError {
    let program = request.program().to_owned();
    if error.kind() == io::ErrorKind::NotFound {
        WireError::CommandNotFound { program }
    } else {
        WireError::Spawn { program, message: error.to_string() }
    }
}

pub(crate) fn exit_kind(status: ExitStatus) -> ExitKind {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitKind::Exited(code),
        (None, Some(signal)) => ExitKind::Signalled(signal),
        // Neither code nor signal only happens for stopped/continued states, which
        // `wait` does not report; treat it as a failure rather than guess.
        (None, None) => ExitKind::Exited(-1),
    }
}

/// The process group the child leads (it was started with `process_group(0)`).
pub(crate) fn group_of(pid: u32) -> Option<nix::unistd::Pid> {
    i32::try_from(pid).ok().map(nix::unistd::Pid::from_raw)
}

/// Kills whatever is left of a datum's process group: after a timeout, and after a normal
/// exit too, so that a background process cannot keep writing into a datum's output while
/// it is being uploaded. A group that is already empty is not an error.
pub(crate) fn kill_group(group: Option<nix::unistd::Pid>) {
    if let Some(group) = group {
        let _already_gone = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
}
