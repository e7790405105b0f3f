//! Scratch mode: the command runs directly, with `PFS` set to the datum's root.

use std::time::Instant;

use tokio::io::AsyncWriteExt;

use crate::launch::{self, group_of, kill_group};
use crate::protocol::Request;
use crate::{ExitKind, RunOutcome, SandboxError};

pub(crate) async fn run(request: &Request) -> Result<RunOutcome, SandboxError> {
    launch::datum_dirs(request)?;
    let mut command = tokio::process::Command::from(launch::command(request, None, &[])?);
    // Only reached if this future is dropped mid-run; `GroupGuard` then kills the rest.
    command.kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| SandboxError::from(launch::spawn_error(request, &e)))?;
    let guard = GroupGuard(child.id().and_then(group_of));

    // Fed from a task so that a program that never reads its stdin cannot stall the wait;
    // the task is aborted once the program is gone.
    let feeder = match (child.stdin.take(), &request.stdin) {
        (Some(mut pipe), Some(text)) => {
            let text = text.clone();
            Some(tokio::spawn(async move {
                // A program that exits without reading everything closes the pipe; that
                // is its business, not an error of the run.
                let _closed_early = pipe.write_all(text.as_bytes()).await;
            }))
        }
        _ => None,
    };

    let waited = match request.timeout() {
        Some(limit) => tokio::time::timeout(limit, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let status = match waited {
        Some(status) => launch::exit_kind(
            status.map_err(|source| SandboxError::Io { what: "waiting for the datum's command failed", source })?,
        ),
        None => {
            kill_group(guard.0);
            child
                .wait()
                .await
                .map_err(|source| SandboxError::Io { what: "waiting for the killed datum's command failed", source })?;
            ExitKind::TimedOut
        }
    };
    let elapsed = started.elapsed();
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    drop(guard);
    // The worker's other children run beside this one: no per-datum CPU
    // account exists here, so the wall time stands in for it.
    Ok(RunOutcome { status, elapsed, cpu: elapsed })
}

/// Kills the datum's process group when the run ends, however it ends (see
/// [`launch::kill_group`]).
struct GroupGuard(Option<nix::unistd::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}
