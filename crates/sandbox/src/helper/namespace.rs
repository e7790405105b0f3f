//! Making the helper's mount namespace.
//!
//! The new root is a tmpfs holding a stand-in for every entry of the host's `/` (an
//! empty directory with the host directory bind-mounted on it recursively, the same
//! symlink, or an empty file with the host file bind-mounted on it) plus an empty `/pfs`.
//! Everything the worker can see stays at the same path, and `/pfs` exists only here.
//!
//! We switch to it with `pivot_root` rather than `chroot`: afterwards the old root is
//! unmounted, so no path leads back out of the new root, and the staging directory the
//! tmpfs was first mounted on is no longer a mount point in this namespace and can be
//! removed from the host (with `chroot` it would stay behind, busy, for the helper's life).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{chdir, getegid, geteuid, pivot_root};

use crate::NAMESPACE_PFS;

/// Where the old root is parked during `pivot_root`, relative to the new root.
const OLD_ROOT: &str = ".strata-old-root";

/// Enters a private mount namespace whose root has `/pfs`. On error, says why in a
/// sentence for the job's log.
pub(super) fn enter() -> Result<(), String> {
    // Commands without a working directory of their own start in the worker's, as in
    // scratch mode; every host path is still there after the switch.
    let worker_dir = std::env::current_dir().ok();
    unshare_mount_namespace()?;
    // Without this our mounts would propagate back to the host's shared mounts.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("cannot make / private in the new namespace: {e}"))?;

    let staging = staging_dir();
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    if let Err(reason) = build_root(&staging) {
        // Still in the old root: undo what we can so the host keeps no staging dir.
        let _not_mounted = umount2(&staging, MntFlags::MNT_DETACH);
        let _gone = fs::remove_dir(&staging);
        return Err(reason);
    }
    switch_root(&staging)?;
    if let Some(dir) = worker_dir
        && chdir(&dir).is_err()
    {
        super::report(&format!("{} is not reachable in the namespace; commands start in /", dir.display()));
    }
    Ok(())
}

/// `CLONE_NEWNS` alone when we are root; otherwise (or if that is refused, e.g. root
/// without `CAP_SYS_ADMIN` in a container) a user namespace too, mapping our own uid and
/// gid to themselves so that files keep their owners.
fn unshare_mount_namespace() -> Result<(), String> {
    let uid = geteuid();
    let gid = getegid();
    let privileged = if uid.is_root() {
        match unshare(CloneFlags::CLONE_NEWNS) {
            Ok(()) => return Ok(()),
            Err(e) => Some(e),
        }
    } else {
        None
    };
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|e| match privileged {
        Some(first) => {
            format!("unshare(CLONE_NEWNS) failed ({first}) and so did unshare(CLONE_NEWUSER|CLONE_NEWNS) ({e})")
        }
        None => format!("unshare(CLONE_NEWUSER|CLONE_NEWNS) failed as uid {uid}: {e}"),
    })?;
    // An unprivileged process may write gid_map only after giving up setgroups.
    match fs::write("/proc/self/setgroups", "deny") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // kernels before 3.19
        Err(e) => return Err(format!("cannot write /proc/self/setgroups: {e}")),
    }
    fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))
        .map_err(|e| format!("cannot write /proc/self/uid_map: {e}"))?;
    fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))
        .map_err(|e| format!("cannot write /proc/self/gid_map: {e}"))?;
    Ok(())
}

/// A fresh name under the temp dir; the pid and clock keep concurrent helpers apart.
fn staging_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("strata-sandbox-{}-{nanos}", std::process::id()))
}

/// Mounts the tmpfs on `staging` and fills it with the host's top level and `/pfs`.
fn build_root(staging: &Path) -> Result<(), String> {
    mount(Some("tmpfs"), staging, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
        .map_err(|e| format!("cannot mount a tmpfs on {}: {e}", staging.display()))?;
    let entries = fs::read_dir("/").map_err(|e| format!("cannot list /: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list /: {e}"))?;
        let name = entry.file_name();
        // A host `/pfs` (which we never create) would be shadowed by ours anyway.
        if name == "pfs" {
            continue;
        }
        let host = Path::new("/").join(&name);
        let copy = staging.join(&name);
        let kind = entry.file_type().map_err(|e| format!("cannot stat {}: {e}", host.display()))?;
        if kind.is_symlink() {
            let target = fs::read_link(&host).map_err(|e| format!("cannot read the link {}: {e}", host.display()))?;
            std::os::unix::fs::symlink(&target, &copy)
                .map_err(|e| format!("cannot copy the link {}: {e}", host.display()))?;
        } else if kind.is_dir() {
            fs::create_dir(&copy).map_err(|e| format!("cannot create {}: {e}", copy.display()))?;
            bind(&host, &copy, MsFlags::MS_BIND | MsFlags::MS_REC)?;
        } else if kind.is_file() {
            fs::File::create(&copy).map_err(|e| format!("cannot create {}: {e}", copy.display()))?;
            bind(&host, &copy, MsFlags::MS_BIND)?;
        }
        // Sockets, fifos and devices directly in `/` are not worth a mount each.
    }
    fs::create_dir(staging.join(NAMESPACE_PFS.trim_start_matches('/')))
        .map_err(|e| format!("cannot create /pfs in the new root: {e}"))?;
    fs::create_dir(staging.join(OLD_ROOT)).map_err(|e| format!("cannot create {OLD_ROOT} in the new root: {e}"))?;
    Ok(())
}

fn bind(source: &Path, target: &Path, flags: MsFlags) -> Result<(), String> {
    mount(Some(source), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("cannot bind-mount {} in the new root: {e}", source.display()))
}

/// Makes the tmpfs the root, drops the old root, and removes the staging dir.
fn switch_root(staging: &Path) -> Result<(), String> {
    chdir(staging).map_err(|e| format!("cannot enter {}: {e}", staging.display()))?;
    pivot_root(".", OLD_ROOT).map_err(|e| format!("pivot_root failed: {e}"))?;
    chdir("/").map_err(|e| format!("cannot enter the new root: {e}"))?;
    let old_root = Path::new("/").join(OLD_ROOT);
    umount2(&old_root, MntFlags::MNT_DETACH).map_err(|e| format!("cannot unmount the old root: {e}"))?;
    fs::remove_dir(&old_root).map_err(|e| format!("cannot remove {OLD_ROOT}: {e}"))?;
    forget_staging(staging);
    Ok(())
}

/// The recursive bind of the directory holding `staging` (usually `/tmp`) copied the
/// tmpfs that was mounted there, so the new root would show itself at `staging`. Unmount
/// that copy and remove the now-plain host directory. Failing here only leaves an empty
/// directory behind, so it is reported, not fatal.
fn forget_staging(staging: &Path) {
    match umount2(staging, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point, i.e. the temp dir was not under a bound directory.
        Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => {}
        Err(e) => {
            super::report(&format!("cannot unmount the copy at {}: {e}", staging.display()));
            return;
        }
    }
    match fs::remove_dir(staging) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            super::report(&format!("cannot remove {}: {e}", staging.display()));
        }
    }
}
