//! Making the helper's namespaces and giving up what user code must not inherit.
//!
//! The new root is an allow-list, not a copy of the host with holes punched in it: a
//! fresh tmpfs holding
//!
//! - read-only binds of the system directories ([`SYSTEM_DIRS`]; symlinks such as a
//!   merged-usr `/bin -> usr/bin` are copied as symlinks),
//! - a `/proc` of its own, mounted `hidepid=invisible` so that user code sees only its
//!   own processes (not the worker's, whose environment holds its credential),
//! - a `/dev` tmpfs with `null`, `zero`, `full`, `random`, `urandom` and the `fd` links,
//! - a private `/tmp`, a home owned by the workspace's uid ([`NAMESPACE_HOME`]),
//! - an empty `/pfs`,
//! - the worker's scratch directory at [`WORK_DIR`], under a directory only root can
//!   enter: the helper binds each datum's directories from there onto `/pfs`.
//!
//! Nothing else of the host exists in it: not the data directory, not a database file, not
//! `/root` or `/home`, not other workers' scratch directories. A deny-list (tmpfs over the
//! paths we know to be secret) would leave everything we did not think of, and every path
//! an operator configures later, readable; an allow-list fails closed.
//!
//! The network namespace is new too, so it has a `lo` that is down and no other device:
//! the platform's servers on the host's loopback are out of reach.
//!
//! We switch to the root with `pivot_root` rather than `chroot`: afterwards the old root
//! is unmounted, so no path leads back out, and the staging directory the tmpfs was first
//! mounted on is no longer a mount point and can be removed from the host.
//!
//! Last, the helper gives up privileges it does not need to keep and that children could
//! otherwise inherit: it sets `no_new_privs` and empties its bounding, inheritable and
//! ambient capability sets. It keeps its effective set (to mount each datum and to switch
//! a child to the workspace's uid, which empties the child's effective and permitted
//! sets).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use caps::CapSet;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{Gid, Uid, chdir, chown, geteuid, pivot_root};

use super::{HelperConfig, WORK_DIR};
use crate::NAMESPACE_PFS;
use crate::tenant::NAMESPACE_HOME;

/// Where the old root is parked during `pivot_root`, relative to the new root.
const OLD_ROOT: &str = ".strata-old-root";

/// The root-only directory holding [`WORK_DIR`].
pub(super) const PRIVATE_DIR: &str = "/.strata";

/// Host directories bound read-only into the new root when they exist. Programs, their
/// libraries and `/etc` (users, DNS, certificates, locales); not `/var`, `/opt`, `/srv`,
/// `/home`, `/root`, `/run`, `/mnt` or `/tmp`, where data of the platform and of people
/// lives.
const SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];

/// Device nodes user code may open; bound from the host's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// Enters private mount and network namespaces whose root is the allow-list above, and
/// drops what children must not inherit. On error, says why in a sentence for the job's
/// log.
pub(super) fn enter(config: &HelperConfig) -> Result<(), String> {
    let uid = geteuid();
    if !uid.is_root() {
        return Err(format!(
            "confining user code needs root (to switch it to the workspace's uid, drop its capabilities \
             and make its mount and network namespaces); the helper runs as uid {uid}"
        ));
    }
    if !config.work_dir.is_dir() {
        return Err(format!("the worker's scratch directory {} is not a directory", config.work_dir.display()));
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("unshare(CLONE_NEWNS|CLONE_NEWNET) failed: {e}"))?;
    // Without this our mounts would propagate back to the host's shared mounts.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("cannot make / private in the new namespace: {e}"))?;

    let staging = staging_dir();
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    if let Err(reason) = build_root(&staging, config) {
        // Still in the old root: undo what we can so the host keeps no staging dir.
        let _not_mounted = umount2(&staging, MntFlags::MNT_DETACH);
        let _gone = fs::remove_dir(&staging);
        return Err(reason);
    }
    switch_root(&staging)?;
    chdir(NAMESPACE_HOME).map_err(|e| format!("cannot enter {NAMESPACE_HOME}: {e}"))?;
    drop_privileges()
}

/// In a pipeline's container (see [`crate::container`]): the engine made the namespaces,
/// the root (the image, read-only), `/tmp`, `/pfs` and [`WORK_DIR`]; what is left is to
/// check that the work directory is the helper's alone and to drop what children must
/// not inherit.
pub(super) fn enter_container() -> Result<(), String> {
    for dir in [WORK_DIR, NAMESPACE_PFS] {
        if !Path::new(dir).is_dir() {
            return Err(format!("the container has no {dir}; it must be started by the container runner"));
        }
    }
    let mode = fs::metadata(WORK_DIR).map_err(|e| format!("cannot read {WORK_DIR}: {e}"))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!("{WORK_DIR} is open to others (mode {mode:o}); the runner makes it private"));
    }
    // The engine's tmpfs belongs to the container's root, mode 0755 whatever mode was
    // asked for in a user namespace: open it to the pipeline's user as a /tmp is.
    for tmp in ["/tmp", "/var/tmp"] {
        if Path::new(tmp).is_dir() {
            fs::set_permissions(tmp, fs::Permissions::from_mode(0o1777))
                .map_err(|e| format!("cannot open {tmp} to user code: {e}"))?;
        }
    }
    chdir("/tmp").map_err(|e| format!("cannot enter /tmp: {e}"))?;
    drop_privileges()
}

/// A fresh name under the temp dir; the pid and clock keep concurrent helpers apart.
fn staging_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("strata-sandbox-{}-{nanos}", std::process::id()))
}

/// Mounts the tmpfs on `staging` and fills it (see the module's documentation).
fn build_root(staging: &Path, config: &HelperConfig) -> Result<(), String> {
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), staging, Some("tmpfs"), tmpfs_flags, Some("mode=0755"))
        .map_err(|e| format!("cannot mount a tmpfs on {}: {e}", staging.display()))?;
    for name in SYSTEM_DIRS {
        bind_system_entry(staging, name)?;
    }
    mount_proc(&staging.join("proc"))?;
    build_dev(&staging.join("dev"))?;

    let tmp = staging.join("tmp");
    make_dir(&tmp, 0o1777)?;
    mount(Some("tmpfs"), &tmp, Some("tmpfs"), tmpfs_flags, Some("mode=1777"))
        .map_err(|e| format!("cannot mount a tmpfs on /tmp: {e}"))?;

    let home = staging.join(NAMESPACE_HOME.trim_start_matches('/'));
    make_dir(home.parent().unwrap_or(staging), 0o755)?;
    make_dir(&home, 0o700)?;
    let uid = config.uid.ok_or("no uid for user code")?;
    let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(uid)));
    chown(&home, owner.0, owner.1).map_err(|e| format!("cannot give {NAMESPACE_HOME} to uid {uid}: {e}"))?;

    make_dir(&staging.join(NAMESPACE_PFS.trim_start_matches('/')), 0o755)?;
    make_dir(&staging.join(PRIVATE_DIR.trim_start_matches('/')), 0o700)?;
    let work = staging.join(WORK_DIR.trim_start_matches('/'));
    make_dir(&work, 0o700)?;
    bind(&config.work_dir, &work, MsFlags::MS_BIND | MsFlags::MS_REC)?;
    // A work dir that holds the staging dir (as the temp dir does in tests) brought a copy
    // of the new root along; it would keep the host's staging dir busy for ever.
    if let Ok(inner) = staging.strip_prefix(&config.work_dir) {
        let copy = work.join(inner);
        umount2(&copy, MntFlags::MNT_DETACH).map_err(|e| format!("cannot unmount {}: {e}", copy.display()))?;
    }
    make_dir(&staging.join(OLD_ROOT), 0o700)?;
    Ok(())
}

/// Binds host `/<name>` read-only at `<staging>/<name>`, or copies it if it is a symlink;
/// a missing entry is skipped (not every system has `/lib32`).
fn bind_system_entry(staging: &Path, name: &str) -> Result<(), String> {
    let host = Path::new("/").join(name);
    let Ok(meta) = fs::symlink_metadata(&host) else { return Ok(()) };
    let copy = staging.join(name);
    if meta.file_type().is_symlink() {
        let target = fs::read_link(&host).map_err(|e| format!("cannot read the link {}: {e}", host.display()))?;
        return std::os::unix::fs::symlink(&target, &copy)
            .map_err(|e| format!("cannot copy the link {}: {e}", host.display()));
    }
    if !meta.is_dir() {
        return Ok(());
    }
    make_dir(&copy, 0o755)?;
    bind(&host, &copy, MsFlags::MS_BIND | MsFlags::MS_REC)?;
    // A bind takes the source's flags; read-only needs a second, remounting call.
    let read_only = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID;
    mount(None::<&str>, &copy, None::<&str>, read_only, None::<&str>)
        .map_err(|e| format!("cannot make /{name} read-only in the new root: {e}"))
}

/// A procfs of our own in which each uid sees only its processes (Linux 5.8 and later
/// keep this option per mount). Where it cannot be had, user code gets no `/proc` at all
/// rather than one that shows the worker's processes.
fn mount_proc(target: &Path) -> Result<(), String> {
    make_dir(target, 0o555)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let Err(e) = mount(Some("proc"), target, Some("proc"), flags, Some("hidepid=invisible")) {
        super::report(&format!("user code gets no /proc: cannot mount one with hidepid=invisible: {e}"));
    }
    Ok(())
}

/// A tmpfs `/dev` with the few device nodes programs expect (bound from the host: a
/// bind mount keeps working on a `nodev` tmpfs), `/dev/fd` and friends, and `/dev/shm`.
fn build_dev(dev: &Path) -> Result<(), String> {
    make_dir(dev, 0o755)?;
    mount(Some("tmpfs"), dev, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("mode=0755"))
        .map_err(|e| format!("cannot mount a tmpfs on /dev: {e}"))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let node = dev.join(name);
        fs::File::create(&node).map_err(|e| format!("cannot create /dev/{name}: {e}"))?;
        bind(&host, &node, MsFlags::MS_BIND)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name)).map_err(|e| format!("cannot create /dev/{name}: {e}"))?;
    }
    make_dir(&dev.join("shm"), 0o1777)
}

/// Creates a directory with exactly `mode` (the umask does not apply).
fn make_dir(path: &Path, mode: u32) -> Result<(), String> {
    fs::create_dir(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

fn bind(source: &Path, target: &Path, flags: MsFlags) -> Result<(), String> {
    mount(Some(source), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("cannot bind-mount {} in the new root: {e}", source.display()))
}

/// Makes the tmpfs the root, removes the staging dir from the host and drops the old root.
fn switch_root(staging: &Path) -> Result<(), String> {
    chdir(staging).map_err(|e| format!("cannot enter {}: {e}", staging.display()))?;
    pivot_root(".", OLD_ROOT).map_err(|e| format!("pivot_root failed: {e}"))?;
    chdir("/").map_err(|e| format!("cannot enter the new root: {e}"))?;
    let old_root = Path::new("/").join(OLD_ROOT);
    // The tmpfs moved to `/`, so the staging path in the old root is a plain, empty
    // directory of the host again: remove it while the old root is still reachable.
    let host_staging = old_root.join(staging.strip_prefix("/").unwrap_or(staging));
    if let Err(e) = fs::remove_dir(&host_staging) {
        super::report(&format!("cannot remove {}: {e}", staging.display()));
    }
    umount2(&old_root, MntFlags::MNT_DETACH).map_err(|e| format!("cannot unmount the old root: {e}"))?;
    fs::remove_dir(&old_root).map_err(|e| format!("cannot remove {OLD_ROOT}: {e}"))
}

/// `no_new_privs`, and empty bounding, inheritable and ambient sets, checked afterwards:
/// a set that is not empty (e.g. a capability newer than the `caps` crate) is an error,
/// not a silent gap.
fn drop_privileges() -> Result<(), String> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("cannot clear the ambient capabilities: {e}"))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| format!("cannot clear the inheritable capabilities: {e}"))?;
    caps::clear(None, CapSet::Bounding).map_err(|e| format!("cannot clear the bounding capabilities: {e}"))?;
    let status = fs::read_to_string("/proc/self/status");
    // Without our /proc (see `mount_proc`) the `caps` crate's own reading has to do.
    let Ok(status) = status else {
        let left = caps::read(None, CapSet::Bounding).map_err(|e| format!("cannot read the bounding set: {e}"))?;
        return if left.is_empty() { Ok(()) } else { Err(format!("capabilities left in the bounding set: {left:?}")) };
    };
    for field in ["CapBnd:", "CapInh:", "CapAmb:"] {
        let value = status.lines().find_map(|line| line.strip_prefix(field)).map(str::trim);
        if value.is_none_or(|mask| mask.chars().any(|c| c != '0')) {
            return Err(format!("{field} is {} after dropping every capability", value.unwrap_or("missing")));
        }
    }
    Ok(())
}
