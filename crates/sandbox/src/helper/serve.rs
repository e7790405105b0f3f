//! The helper's request loop, inside the namespace.
//!
//! Waiting is thread-free and has no polling delay: SIGCHLD is blocked and read from a
//! signalfd, and one `poll` waits for the child's exit, room in its stdin pipe, the
//! worker hanging up, or the timeout, whichever comes first.

use std::fs;
use std::io::{self, BufRead, ErrorKind, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{Gid, Uid, chown};

use super::{HelperConfig, Placement, WORK_DIR};
use crate::launch::{self, group_of, kill_group};
use crate::protocol::{Request, Response, WireError};
use crate::{ExitKind, NAMESPACE_PFS};

/// Longest single `poll`; only bounds how long a missed wake-up could go unnoticed.
const MAX_POLL: Duration = Duration::from_secs(1);

/// Serves requests until the worker closes our stdin.
pub(super) fn serve(config: &HelperConfig) -> Result<(), String> {
    let mut runner = Runner::new(config)?;
    let stdin = io::stdin();
    serve_lines(&mut runner, stdin.lock(), &mut io::stdout(), stdin.as_fd())
}

/// Answers each request line of `reader` on `writer` until the worker hangs up, which
/// `hangup` (the reading end's descriptor) reports while a datum runs.
pub(super) fn serve_lines(
    runner: &mut Runner,
    mut reader: impl BufRead,
    writer: &mut impl Write,
    hangup: BorrowedFd<'_>,
) -> Result<(), String> {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read a request: {e}")),
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => match runner.run(&request, hangup) {
                Step::Respond(response) => response,
                Step::WorkerGone => return Ok(()),
            },
            Err(e) => Response::Failed(WireError::Internal { message: format!("cannot decode the request: {e}") }),
        };
        super::send(writer, &response).map_err(|e| format!("cannot write to the worker: {e}"))?;
    }
}

enum Step {
    Respond(Response),
    /// The worker closed our stdin mid-datum; the datum was killed and we should exit.
    WorkerGone,
}

pub(super) struct Runner {
    sigchld: SignalFd,
    pfs: PathBuf,
    config: HelperConfig,
}

impl Runner {
    pub(super) fn new(config: &HelperConfig) -> Result<Runner, String> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        // Blocked so that it queues for the signalfd; std resets the mask in children.
        mask.thread_block().map_err(|e| format!("cannot block SIGCHLD: {e}"))?;
        let sigchld = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| format!("cannot make a signalfd: {e}"))?;
        Ok(Runner { sigchld, pfs: PathBuf::from(NAMESPACE_PFS), config: config.clone() })
    }

    fn run(&mut self, request: &Request, hangup: BorrowedFd<'_>) -> Step {
        match self.localise(request) {
            Ok(local) => self.run_local(&local, hangup),
            Err(error) => Step::Respond(Response::Failed(error)),
        }
    }

    /// The request with its host paths (root and log) turned into the paths that reach
    /// them here, through the worker's scratch directory at [`WORK_DIR`]. Paths outside
    /// that directory do not exist in the namespace and are refused.
    fn localise(&self, request: &Request) -> Result<Request, WireError> {
        let inside = |path: &Path| {
            path.strip_prefix(&self.config.work_dir).map(|rest| Path::new(WORK_DIR).join(rest)).map_err(|_| {
                WireError::Prepare {
                    path: path.to_path_buf(),
                    message: format!("not under the worker's scratch directory {}", self.config.work_dir.display()),
                }
            })
        };
        let mut local = request.clone();
        local.root = inside(&request.root)?;
        local.log = inside(&request.log)?;
        Ok(local)
    }

    fn run_local(&mut self, request: &Request, hangup: BorrowedFd<'_>) -> Step {
        // The previous datum's cleanup should have left nothing mounted on /pfs; make
        // sure, so that one datum can never see another's files.
        if let Err(error) = self.clear_pfs() {
            // Reported as internal so that the worker replaces this helper (and its
            // namespace) instead of sending it more datums.
            let message = format!("/pfs cannot be cleared: {}", crate::SandboxError::from(error));
            return Step::Respond(Response::Failed(WireError::Internal { message }));
        }
        let laid_out = match self.config.placement {
            Placement::Pod(_) => self.link_datum(request),
            Placement::Namespace | Placement::Container => self.mount_datum(request),
        };
        let step = match laid_out {
            Ok(()) => self.execute(request, hangup),
            Err(error) => Step::Respond(Response::Failed(error)),
        };
        end_leftovers();
        if let Err(error) = self.clear_pfs() {
            // The next request tries again and reports it if it still fails.
            super::report(&format!("after a datum: {}", crate::SandboxError::from(error)));
        }
        step
    }

    fn mount_datum(&self, request: &Request) -> Result<(), WireError> {
        for (name, source) in launch::datum_dirs(request)? {
            if let Some(uid) = self.config.uid
                && name == crate::OUT_DIR
            {
                // The only place user code may write (besides /tmp and its home).
                let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(uid)));
                chown(&source, owner.0, owner.1)
                    .map_err(|e| WireError::Prepare { path: source.clone(), message: format!("chown: {e}") })?;
            }
            let target = self.pfs.join(name);
            fs::create_dir(&target).map_err(|e| WireError::Mount { target: target.clone(), message: e.to_string() })?;
            // Recursive, so that mounts inside the datum's root stay visible.
            mount(Some(&source), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>).map_err(
                |e| WireError::Mount {
                    target: target.clone(),
                    message: format!("bind from {}: {e}", source.display()),
                },
            )?;
        }
        Ok(())
    }

    /// In a pod, where the helper may not mount: `/pfs/<input>` and `/pfs/out` are
    /// symbolic links to the datum's directories on the volume shared with the worker,
    /// as Pachyderm's own workers lay them out (hence `find -L` in its examples).
    fn link_datum(&self, request: &Request) -> Result<(), WireError> {
        for (name, source) in launch::datum_dirs(request)? {
            let target = self.pfs.join(name);
            std::os::unix::fs::symlink(&source, &target)
                .map_err(|e| WireError::Mount { target: target.clone(), message: format!("link: {e}") })?;
        }
        Ok(())
    }

    /// Detaches and removes everything under `/pfs`: our mounts, and whatever else is
    /// there (user code cannot write or mount there itself, but a helper of an older
    /// release ran it as root, and this must hold whatever a command did). Detaching (rather than a plain unmount) cannot fail with EBUSY while a
    /// leftover process holds a file open.
    ///
    /// (A fresh tmpfs on `/pfs` per datum would make this one unmount, but mounting a
    /// tmpfs costs several times what it saves.)
    fn clear_pfs(&self) -> Result<(), WireError> {
        let failed = |path: &Path, e: &dyn std::fmt::Display| WireError::Mount {
            target: path.to_path_buf(),
            message: format!("cannot clear: {e}"),
        };
        for entry in fs::read_dir(&self.pfs).map_err(|e| failed(&self.pfs, &e))? {
            let path = entry.map_err(|e| failed(&self.pfs, &e))?.path();
            // Usually this is our bind: removing it fails with EBUSY while something is
            // mounted on it, so detach the top mount and try again (the command may have
            // stacked mounts of its own).
            loop {
                match fs::remove_dir(&path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::ResourceBusy => {}
                    Err(_) => {
                        // A file, or a directory with the command's files in it.
                        let device = fs::metadata(&self.pfs).map_err(|e| failed(&self.pfs, &e))?.dev();
                        remove_anything(&path, device).map_err(|e| failed(&path, &e))?;
                        break;
                    }
                }
                umount2(&path, MntFlags::MNT_DETACH).map_err(|e| failed(&path, &e))?;
            }
        }
        Ok(())
    }

    fn execute(&mut self, request: &Request, hangup: BorrowedFd<'_>) -> Step {
        let mut command = match launch::command(request, self.config.uid, &self.config.image_env) {
            Ok(command) => command,
            Err(error) => return Step::Respond(Response::Failed(error)),
        };
        let oom_kills_before = self.oom_kills();
        let cpu_before = children_cpu();
        let started = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return Step::Respond(Response::Failed(launch::spawn_error(request, &e))),
        };
        let group = group_of(child.id());
        let mut feeder = Feeder::new(child.stdin.take(), request.stdin.as_deref());
        // A timeout too large to add is no timeout at all.
        let deadline = request.timeout().and_then(|limit| started.checked_add(limit));
        let ended = self.wait(&mut child, &mut feeder, deadline, hangup);
        drop(feeder);
        kill_group(group);
        let status = match ended {
            Ok(Ended::Exited(ExitKind::Signalled(9))) if self.oom_kills() > oom_kills_before => ExitKind::OutOfMemory,
            Ok(Ended::Exited(status)) => status,
            Ok(Ended::TimedOut) => ExitKind::TimedOut,
            Ok(Ended::WorkerGone) => return Step::WorkerGone,
            Err(message) => {
                // Whatever broke, do not leave the datum running.
                let _reaped = child.kill().and_then(|()| child.wait());
                return Step::Respond(Response::Failed(WireError::Internal { message }));
            }
        };
        let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // The helper runs one datum at a time and reaps every orphan, so the
        // growth of its children's CPU time is this datum's.
        let cpu_us = u64::try_from(children_cpu().saturating_sub(cpu_before).as_micros()).unwrap_or(u64::MAX);
        Step::Respond(Response::Finished { status, elapsed_us, cpu_us })
    }

    /// How many processes the kernel has killed for exceeding the container's memory
    /// limit (the memory cgroup's `oom_kill` count, cgroup v2 or v1); `None` outside a
    /// container, where the cgroup is not the datum's.
    fn oom_kills(&self) -> Option<u64> {
        if !self.config.in_container() {
            return None;
        }
        ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"].iter().find_map(|path| {
            let text = fs::read_to_string(path).ok()?;
            text.lines().find_map(|line| line.strip_prefix("oom_kill ")?.trim().parse().ok())
        })
    }

    /// Waits for the child to exit, feeding its stdin meanwhile. Kills its group on
    /// timeout or when the worker hangs up.
    fn wait(
        &mut self,
        child: &mut Child,
        feeder: &mut Feeder,
        deadline: Option<Instant>,
        hangup: BorrowedFd<'_>,
    ) -> Result<Ended, String> {
        let group = group_of(child.id());
        loop {
            // Drain first: a SIGCHLD from an earlier child must not count as this one's,
            // and one that arrives after the drain will wake the poll below.
            while let Ok(Some(_)) = self.sigchld.read_signal() {}
            if let Some(status) = child.try_wait().map_err(|e| format!("waitpid: {e}"))? {
                return Ok(Ended::Exited(launch::exit_kind(status)));
            }
            let mut wait_for = MAX_POLL;
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    kill_group(group);
                    child.wait().map_err(|e| format!("waitpid: {e}"))?;
                    return Ok(Ended::TimedOut);
                }
                wait_for = wait_for.min(deadline - now);
            }
            // poll counts milliseconds; round up so a near deadline is not a busy loop.
            let millis = wait_for.as_micros().div_ceil(1000);
            let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);

            let mut fds = vec![
                PollFd::new(self.sigchld.as_fd(), PollFlags::POLLIN),
                // No events asked: POLLHUP is always reported, and data (there should be
                // none mid-datum) must not make poll spin.
                PollFd::new(hangup, PollFlags::empty()),
            ];
            if let Some(pipe) = feeder.pending() {
                fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLOUT));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("poll: {e}")),
            }
            let hung_up =
                |fd: &PollFd| fd.revents().is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
            if hung_up(&fds[1]) {
                kill_group(group);
                let _reaped = child.wait();
                return Ok(Ended::WorkerGone);
            }
            let writable = fds.get(2).is_some_and(|fd| fd.revents().is_some_and(|r| !r.is_empty()));
            drop(fds);
            if writable {
                feeder.write_some();
            }
        }
    }
}

enum Ended {
    Exited(ExitKind),
    TimedOut,
    WorkerGone,
}

/// Writes the datum's stdin text without blocking, as the pipe makes room; closes the
/// pipe when done so the program sees end of file.
struct Feeder {
    pipe: Option<ChildStdin>,
    data: Vec<u8>,
    written: usize,
}

impl Feeder {
    fn new(pipe: Option<ChildStdin>, text: Option<&str>) -> Feeder {
        let mut feeder = Feeder { pipe, data: text.map(|t| t.as_bytes().to_vec()).unwrap_or_default(), written: 0 };
        if let Some(pipe) = &feeder.pipe
            && fcntl(pipe, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_err()
        {
            // A blocking pipe could stall the helper behind a program that does not
            // read; giving it no stdin at all is the lesser harm, and says so.
            super::report("cannot make the stdin pipe non-blocking; the datum gets no stdin");
            feeder.pipe = None;
        }
        // Most texts fit in the pipe at once; write before the first poll.
        feeder.write_some();
        feeder
    }

    fn pending(&self) -> Option<&ChildStdin> {
        self.pipe.as_ref()
    }

    fn write_some(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        while self.written < self.data.len() {
            match pipe.write(&self.data[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Broken pipe: the program closed its stdin; the rest is not wanted.
                Err(_) => break,
            }
        }
        self.pipe = None;
    }
}

/// Removes a file or a whole tree the command left directly in `/pfs`. Mounts inside
/// that tree are detached first, since removal must not cross into them; anything on
/// another device than `/pfs` itself (a mount we failed to detach) is left alone and
/// reported, so that a cleanup can never delete host files.
fn remove_anything(path: &Path, pfs_device: u64) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.dev() != pfs_device {
        return Err(std::io::Error::other(format!("{} is on another file system", path.display())));
    }
    if !meta.file_type().is_dir() {
        return fs::remove_file(path);
    }
    // A directory user code closed to itself (mode 000) must still go; as its owner (in
    // a pod) or root, opening it is allowed.
    if meta.permissions().mode() & 0o700 != 0o700 {
        let _best_effort = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    }
    for entry in fs::read_dir(path)? {
        let inner = entry?.path();
        while umount2(&inner, MntFlags::MNT_DETACH).is_ok() {}
        remove_anything(&inner, pfs_device)?;
    }
    fs::remove_dir(path)
}

/// Where the helper is a container's first process (its entrypoint, pid 1 of the
/// container's pid namespace), every other process there is what a datum left: one
/// that escaped its process group, or a killed one re-parented to us as a zombie.
/// Each is killed and reaped, so that nothing runs on into the next datum and no
/// zombie holds a slot of the container's pids limit. Nowhere else: in the helper's
/// own namespaces (no pid namespace) `kill(-1)` would reach the host's processes.
fn end_leftovers() {
    use nix::sys::wait::waitpid;
    use nix::unistd::{Pid, getpid};
    if getpid() != Pid::from_raw(1) {
        return;
    }
    let _none_left = nix::sys::signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(_) | Err(Errno::EINTR) => {}
            // ECHILD: none left.
            Err(_) => return,
        }
    }
}

/// User and system CPU time of every child the helper has waited for
/// (`getrusage(RUSAGE_CHILDREN)`); zero if the kernel will not say.
fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) else { return Duration::ZERO };
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    micros(usage.user_time()) + micros(usage.system_time())
}
