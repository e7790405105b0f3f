//! The helper as the entrypoint of a worker pod's user container (see [`crate::pod`]).
//!
//! There it has no privileges to give up and no namespace to make: the pod is the wall,
//! the helper runs as the pipeline's user, and it only lays out `/pfs` and runs datums
//! for the worker container next to it. It listens on a unix socket on a volume the two
//! containers share and serves one worker connection at a time, for as long as the
//! container lives: a worker that restarts connects again.

use std::fs;
use std::io::BufReader;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::sys::stat::{Mode, umask};

use super::serve::{Runner, serve_lines};
use super::{HelperConfig, Placement, WORK_DIR};
use crate::NAMESPACE_PFS;
use crate::protocol::Hello;

/// Checks the pod's volumes, then serves worker connections until the container stops.
pub(super) fn serve(config: &HelperConfig) -> Result<(), String> {
    let Placement::Pod(socket) = &config.placement else {
        return Err("not in a worker pod".to_owned());
    };
    for dir in [WORK_DIR, NAMESPACE_PFS] {
        if !Path::new(dir).is_dir() {
            return Err(format!("the pod has no {dir}; the worker pod mounts its shared volumes there"));
        }
    }
    // Group-writable files: the worker container, which shares only the pod's group with
    // the user, reads `/pfs/out` and removes it after the upload.
    umask(Mode::from_bits_truncate(0o002));
    let listener = listen(socket)?;
    let mut runner = Runner::new(config)?;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                super::report(&format!("cannot accept a worker connection: {e}"));
                continue;
            }
        };
        let reader = match stream.try_clone() {
            Ok(reader) => BufReader::new(reader),
            Err(e) => {
                super::report(&format!("cannot read the worker connection: {e}"));
                continue;
            }
        };
        let mut writer = &stream;
        if let Err(e) = super::send(&mut writer, &Hello::Ready) {
            super::report(&format!("cannot greet the worker: {e}"));
            continue;
        }
        if let Err(message) = serve_lines(&mut runner, reader, &mut writer, stream.as_fd()) {
            super::report(&message);
        }
    }
    Ok(())
}

/// Binds the socket, replacing one a previous run of the container left.
fn listen(socket: &Path) -> Result<UnixListener, String> {
    match fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove the old socket {}: {e}", socket.display())),
    }
    UnixListener::bind(socket).map_err(|e| format!("cannot listen on {}: {e}", socket.display()))
}
