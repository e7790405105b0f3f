//! The worker pod: how user code runs on Kubernetes, where the worker cannot start
//! containers itself.
//!
//! A pipeline's worker pod has two containers. The **worker** container (the Strata
//! image, the non-root Strata user) pulls tasks, downloads inputs and uploads outputs;
//! it holds the pipeline's credential. The **user** container is made from
//! `transform.image`; its entrypoint is the statically linked helper (copied from the
//! Strata image by an init container into a volume at [`HELPER_DIR`]), running as the
//! pipeline's user. They share two volumes and nothing else of their file systems:
//!
//! - [`WORK_DIR`], the worker's scratch directory, at the same path in both, where each
//!   datum's inputs, output and log lie;
//! - [`RUN_DIR`], holding the helper's unix socket ([`SOCKET`]).
//!
//! For each datum the worker makes the datum's root readable by the pod's group (the
//! pod's `fsGroup`, which the user container has as a supplementary group), its `out/`
//! writable by that group, and sends the helper a request over the socket, the same
//! line protocol as everywhere else. The helper links `/pfs/<input>` and `/pfs/out` (an
//! `emptyDir` of the user container) to the datum's directories, runs the command with
//! a group-writable umask, and removes the links. User code therefore sees the literal
//! `/pfs` paths, and never the worker's environment, files or processes (separate
//! containers, no shared process namespace, a different uid). Containers of a pod do
//! share its network: user code reaches what the workspace's NetworkPolicy lets worker
//! pods reach, and nothing else.
//!
//! Unlike the local container runner, the helper is not a boundary here, and needs no
//! privilege: the pod's security context (non-root, no capabilities, read-only root,
//! RuntimeDefault seccomp) is.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::SandboxError;

/// Where both containers mount the worker's scratch volume.
pub const WORK_DIR: &str = crate::helper::WORK_DIR;

/// Where both containers mount the volume holding the helper's socket.
pub const RUN_DIR: &str = "/.strata/run";

/// The helper's socket.
pub const SOCKET: &str = "/.strata/run/helper.sock";

/// Where the user container finds the helper (the `strata` binary) the init container
/// copied.
pub const HELPER_DIR: &str = "/.strata/bin";

/// The environment variable that makes the helper listen on [`SOCKET`].
pub const LISTEN_ENV: &str = crate::helper::LISTEN_ENV;

/// The environment variable naming the worker's scratch directory to the helper.
pub const WORK_DIR_ENV: &str = crate::helper::WORK_DIR_ENV;

/// Opens a datum's directories to the user container: the root readable through the
/// pod's group, `out/` writable (and `setgid`, so what user code writes stays in the
/// group the worker reads it through), the log appendable.
pub(crate) fn share_datum_root(root: &Path, log: &Path) -> Result<(), SandboxError> {
    set_mode(root, 0o2750)?;
    let out = root.join(crate::OUT_DIR);
    if !out.is_dir() {
        fs::DirBuilder::new().mode(0o2770).create(&out).map_err(|e| prepare_error(&out, &e))?;
    }
    set_mode(&out, 0o2770)?;
    if !log.exists() {
        fs::File::create(log).map_err(|e| prepare_error(log, &e))?;
    }
    set_mode(log, 0o660)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| prepare_error(path, &e))
}

fn prepare_error(path: &Path, error: &dyn std::fmt::Display) -> SandboxError {
    SandboxError::Prepare {
        path: path.to_path_buf(),
        message: format!("cannot share it with the user container: {error}"),
    }
}
