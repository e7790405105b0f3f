//! The container runner: a pipeline's datums run inside one long-lived OCI container made
//! from its image, with the sandbox helper as the container's entrypoint.
//!
//! The container engine (podman, with runc) makes the namespaces; the helper, started in
//! them as the container's root, speaks this crate's line protocol on the container's
//! stdin and stdout exactly as the namespace helper does: for each datum it binds the
//! datum's directories from the worker's scratch directory (mounted at the helper's
//! private work directory) onto the literal `/pfs/<input>` and `/pfs/out`, runs the
//! command as the pipeline's user with no capabilities and `no_new_privs`, and unbinds
//! them. What the container is given, and nothing more:
//!
//! - a user namespace of its own: container uid 0 is an unprivileged host uid, from a
//!   block of 65 536 host uids per workspace ([`container_uid_base`]), so its root is
//!   nobody on the host and two workspaces' code never shares a uid;
//! - the capabilities the helper needs to bind `/pfs` and switch to the pipeline's user,
//!   all of them only over the container's own namespaces; user code has none;
//! - a read-only root file system (the image), a private `/tmp`, a `/pfs` of its own;
//! - no network (`--network=none`): the worker, outside, talks to the workspace server;
//! - the process and memory limits given, enforced by the kernel's cgroups;
//! - no environment but the image's and the datum's variables.
//!
//! The helper must run in any image, with or without a C library: it is a statically
//! linked build of `strata-sandbox-helper`, bound read-only into the container.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helper::{IN_CONTAINER_ENV, UID_ENV, WORK_DIR_ENV};
use crate::{Confinement, HelperCommand, SandboxError};

/// Where the helper binary is bound in the container.
pub(crate) const HELPER_PATH: &str = "/.strata/helper";

/// The first host uid of the blocks containers map their uids to: above the tenant uids
/// of namespace mode (see [`crate::FIRST_TENANT_UID`]) and below 2^31.
pub const FIRST_CONTAINER_UID: u32 = 0x7000_0000;

/// Host uids per container (its uids 0 ..= 65 535).
pub const CONTAINER_UIDS: u32 = 1 << 16;

/// How many blocks of [`CONTAINER_UIDS`] there are (4 096). Two workspaces share a block
/// with a probability of about n²/8 192 for n workspaces on one machine; even then each
/// datum sees only its own `/pfs`.
const CONTAINER_BLOCKS: u32 = (0x8000_0000 - FIRST_CONTAINER_UID) / CONTAINER_UIDS;

/// Processes and threads a container may hold unless told otherwise: a fork bomb
/// stops here instead of exhausting the machine's pids.
pub const DEFAULT_PIDS: u64 = 1024;

/// The uid user code runs as in a container unless the pipeline names one: not root.
pub const DEFAULT_CONTAINER_USER: u32 = 1000;

/// The first host uid of `workspace`'s containers: derived from the workspace's stable
/// identity, the same on every machine and every start.
pub fn container_uid_base(workspace: &str) -> u32 {
    let block = (crate::tenant::fnv1a(workspace.as_bytes()) % u64::from(CONTAINER_BLOCKS)) as u32;
    FIRST_CONTAINER_UID + block * CONTAINER_UIDS
}

/// Resource limits of a pipeline's container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerLimits {
    /// Memory in bytes; the kernel kills what exceeds it.
    pub memory_bytes: Option<u64>,
    /// CPU time in thousandths of a core.
    pub millicpus: Option<u64>,
    /// Processes and threads at once; a fork bomb stops here.
    pub pids: Option<u64>,
    /// The size of the writable `/tmp` (a tmpfs, so it counts against the
    /// memory limit too). The image's root is read-only, and `/pfs/out` is
    /// the worker's scratch space, so this bounds what user code keeps aside.
    pub disk_bytes: Option<u64>,
}

/// How to run one pipeline's container; made by [`ContainerRuntime::spec`].
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub runtime: ContainerRuntime,
    /// The image, by digest where it is known (`registry/name@sha256:…`).
    pub image: String,
    /// The uid user code runs as, inside the container (0 is refused).
    pub user: u32,
    /// The first host uid of the container's uid block (see [`container_uid_base`]).
    pub uid_base: u32,
    pub limits: ContainerLimits,
    /// Secret files and registry credentials it starts with.
    pub secrets: ContainerSecrets,
}

/// The secrets a container starts with: files bound read-only where the
/// pipeline mounts them, and registry credentials for pulling its image.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ContainerSecrets {
    /// File contents by absolute path in the container.
    pub files: BTreeMap<String, String>,
    /// A Docker `config.json` for the pull.
    pub pull_auth: Option<String>,
}

/// Paths only: a secret's value never reaches a log line.
impl std::fmt::Debug for ContainerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerSecrets")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("pull_auth", &self.pull_auth.is_some())
            .finish()
    }
}

/// Directories no secret may be mounted over: what the container is made of.
const RESERVED_DIRS: &[&str] = &["/pfs", "/tmp", "/.strata", "/proc", "/dev", "/sys"];

/// Where secret files are staged in the work directory, one directory per mount.
const SECRETS_DIR: &str = ".secrets";
/// The registry credentials for one pull, removed right after it.
const PULL_AUTH_FILE: &str = ".pull-auth.json";

/// What a machine runs containers with: the same for every pipeline of a worker.
#[derive(Debug, Clone)]
pub struct ContainerRuntime {
    /// The container engine (`podman`).
    pub engine: PathBuf,
    /// The engine's own environment (e.g. `CONTAINERS_CONF`, `PATH` to find runc).
    pub engine_env: Vec<(OsString, OsString)>,
    /// Registries (`host:port`) images are pulled from over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// The statically linked helper on the host.
    pub helper: PathBuf,
}

impl ContainerRuntime {
    /// The container of `image` for `workspace`'s user code, run as `user`, with at
    /// most [`DEFAULT_PIDS`] processes unless `limits` says otherwise.
    pub fn spec(&self, image: &str, workspace: &str, user: u32, mut limits: ContainerLimits) -> ContainerSpec {
        limits.pids = limits.pids.or(Some(DEFAULT_PIDS));
        ContainerSpec {
            runtime: self.clone(),
            image: image.to_owned(),
            user,
            uid_base: container_uid_base(workspace),
            limits,
            secrets: ContainerSecrets::default(),
        }
    }

    /// Whether `image` comes from a registry listed as pulled over plain HTTP.
    fn is_insecure(&self, image: &str) -> bool {
        let registry = image.split('/').next().unwrap_or_default();
        image.contains('/') && self.insecure_registries.iter().any(|insecure| insecure == registry)
    }
}

/// Capabilities the helper keeps inside the container (over its own namespaces only):
/// binding `/pfs`, handing `/pfs/out` to the user, switching to that user, killing the
/// user's processes, clearing `/pfs` afterwards and dropping the bounding set.
const HELPER_CAPS: &[&str] = &["SYS_ADMIN", "CHOWN", "FOWNER", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL", "SETPCAP"];

impl ContainerSpec {
    /// `--tls-verify=false` for an image of a registry pulled over plain HTTP, for
    /// `pull` and `run` alike.
    fn tls_args(&self) -> &'static [&'static str] {
        if self.runtime.is_insecure(&self.image) { &["--tls-verify=false"] } else { &[] }
    }

    /// The command that starts the container with the helper as its entrypoint.
    pub fn helper_command(&self, confinement: &Confinement) -> HelperCommand {
        let map = format!("0:{}:{CONTAINER_UIDS}", self.uid_base);
        let mut args: Vec<String> = vec![
            "run".into(),
            "--interactive".into(),
            "--rm".into(),
            "--log-driver=none".into(),
            format!("--uidmap={map}"),
            format!("--gidmap={map}"),
            "--user=0:0".into(),
            "--network=none".into(),
            "--read-only".into(),
            match self.limits.disk_bytes {
                Some(bytes) => format!("--mount=type=tmpfs,destination=/tmp,tmpfs-size={bytes}"),
                None => "--mount=type=tmpfs,destination=/tmp".into(),
            },
            "--mount=type=tmpfs,destination=/pfs".into(),
            "--cap-drop=all".into(),
            format!("--cap-add={}", HELPER_CAPS.join(",")),
            "--security-opt=no-new-privileges".into(),
            format!("--volume={}:{HELPER_PATH}:ro", self.runtime.helper.display()),
            format!("--volume={}:{}", confinement.work_dir.display(), crate::helper::WORK_DIR),
            format!("--env={IN_CONTAINER_ENV}=1"),
            format!("--env={UID_ENV}={}", self.user),
            format!("--env={WORK_DIR_ENV}={}", confinement.work_dir.display()),
            format!("--entrypoint={HELPER_PATH}"),
        ];
        if let Some(bytes) = self.limits.memory_bytes {
            // Swap would let a memory hog run on, slowly, instead of being stopped.
            args.push(format!("--memory={bytes}"));
            args.push(format!("--memory-swap={bytes}"));
        }
        if let Some(millis) = self.limits.millicpus {
            args.push(format!("--cpus={}.{:03}", millis / 1000, millis % 1000));
        }
        if let Some(pids) = self.limits.pids {
            args.push(format!("--pids-limit={pids}"));
        }
        for dir in secret_mounts(&self.secrets.files).keys() {
            let staged = confinement.work_dir.join(SECRETS_DIR).join(staged_name(dir));
            args.push(format!("--volume={}:{dir}:ro", staged.display()));
        }
        args.extend(self.tls_args().iter().map(|arg| (*arg).to_owned()));
        args.push(self.image.clone());
        // Run in the work directory: the engine's monitor (conmon) writes its OOM
        // markers into its working directory, which would otherwise be the worker's.
        let command = HelperCommand::new(&self.runtime.engine).current_dir(&confinement.work_dir);
        let command = self.runtime.engine_env.iter().fold(command, |command, (key, value)| command.env(key, value));
        args.into_iter().fold(command, HelperCommand::arg)
    }
}

/// How long pulling an image may take before starting its container is given up.
const PULL_TIMEOUT: Duration = Duration::from_secs(600);

/// Pulls the image (unless the engine has it), so that the helper's start is not raced
/// by a long download and a missing image is reported as such.
pub(crate) async fn pull(spec: &ContainerSpec, work_dir: &Path) -> Result<(), SandboxError> {
    let mut command = tokio::process::Command::new(&spec.runtime.engine);
    command.env_clear().envs(spec.runtime.engine_env.iter().map(|(k, v)| (k, v)));
    command.arg("pull").arg("--quiet").args(spec.tls_args());
    let failed = |reason: String| SandboxError::ImagePull { image: spec.image.clone(), reason };
    let auth_file = work_dir.join(PULL_AUTH_FILE);
    if let Some(auth) = &spec.secrets.pull_auth {
        write_private(&auth_file, auth, 0o600).map_err(|e| failed(format!("cannot stage its credentials: {e}")))?;
        command.arg(format!("--authfile={}", auth_file.display()));
    }
    command.arg(&spec.image);
    command.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(PULL_TIMEOUT, command.output()).await;
    if spec.secrets.pull_auth.is_some() {
        let _ = std::fs::remove_file(&auth_file);
    }
    let output = output
        .map_err(|_| failed(format!("it took longer than {} s", PULL_TIMEOUT.as_secs())))?
        .map_err(|e| failed(format!("cannot run {}: {e}", spec.runtime.engine.display())))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no message");
    Err(failed(last.trim().to_owned()))
}

/// The directories secret files are mounted in, each with its files.
fn secret_mounts(files: &BTreeMap<String, String>) -> BTreeMap<String, Vec<(&str, &str)>> {
    let mut mounts: BTreeMap<String, Vec<(&str, &str)>> = BTreeMap::new();
    for (path, value) in files {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        mounts.entry(if dir.is_empty() { "/".to_owned() } else { dir.to_owned() }).or_default().push((name, value));
    }
    mounts
}

/// A staged mount's directory name: its path with `/` made `_` and a hash, so
/// that two mounts never share one.
fn staged_name(dir: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dir.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Checks where secrets go: absolute, one plain file name each, and never over
/// what the container is made of.
pub(crate) fn check_secret_paths(secrets: &ContainerSecrets) -> Result<(), SandboxError> {
    for path in secrets.files.keys() {
        let bad = |reason: &str| SandboxError::SecretPath { path: path.clone(), reason: reason.to_owned() };
        let Some((dir, name)) = path.rsplit_once('/') else { return Err(bad("it is not an absolute path")) };
        if !path.starts_with('/') || name.is_empty() || name == "." || name == ".." {
            return Err(bad("it is not an absolute path to a file"));
        }
        if dir.is_empty() || dir.split('/').any(|part| part == "." || part == "..") {
            return Err(bad("secrets are mounted in a directory of their own, e.g. /var/secrets/db"));
        }
        if RESERVED_DIRS.iter().any(|reserved| dir == *reserved || dir.starts_with(&format!("{reserved}/"))) {
            return Err(bad("that directory belongs to the sandbox (/pfs, /tmp, /.strata, /proc, /dev, /sys)"));
        }
    }
    Ok(())
}

/// Writes the secret files into the work directory, one directory per mount, readable
/// by the container's user only; the previous container's are removed first.
pub(crate) fn stage_secrets(secrets: &ContainerSecrets, work_dir: &Path, owners: Owners) -> Result<(), SandboxError> {
    let root = work_dir.join(SECRETS_DIR);
    remove_secrets(work_dir);
    if secrets.files.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&root).map_err(|e| prepare_error(&root, &e))?;
    for (dir, files) in secret_mounts(&secrets.files) {
        let staged = root.join(staged_name(&dir));
        std::fs::create_dir_all(&staged).map_err(|e| prepare_error(&staged, &e))?;
        for (name, value) in files {
            let file = staged.join(name);
            write_private(&file, value, 0o400).map_err(|e| prepare_error(&file, &e))?;
            give(&file, owners.user, 0o400)?;
        }
        give(&staged, owners.user, 0o500)?;
    }
    Ok(())
}

/// Removes the staged secret files (when the container stops or is replaced).
pub(crate) fn remove_secrets(work_dir: &Path) {
    let root = work_dir.join(SECRETS_DIR);
    if let Err(error) = std::fs::remove_dir_all(&root)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %root.display(), %error, "cannot remove staged secrets");
    }
}

/// Creates `path` with `mode` from the start, so the value is never readable by others.
fn write_private(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(contents.as_bytes())
}

/// The host uids of a container's root (the helper) and of its user (the datum's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owners {
    pub root: u32,
    pub user: u32,
}

impl ContainerSpec {
    /// Checks the user and finds the host uids it and the container's root map to.
    pub(crate) fn owners(&self) -> Result<Owners, SandboxError> {
        if self.user == 0 || self.user >= CONTAINER_UIDS {
            return Err(SandboxError::InvalidUser {
                uid: self.user,
                reason: format!("user code runs as a uid from 1 to {}", CONTAINER_UIDS - 1),
            });
        }
        Ok(Owners { root: self.uid_base, user: self.uid_base + self.user })
    }
}

/// Gives the worker's scratch directory to the container's root, private: in the
/// container only the helper can enter it. (Capabilities in the container's user
/// namespace reach only files whose owner is mapped there.)
pub(crate) fn give_work_dir(dir: &Path, owners: Owners) -> Result<(), SandboxError> {
    give(dir, owners.root, 0o700)
}

/// Makes a datum's root, `out/` and log writable in the container: the root and the log
/// the helper's, `out/` the user's.
pub(crate) fn give_datum_root(root: &Path, log: &Path, owners: Owners) -> Result<(), SandboxError> {
    give(root, owners.root, 0o755)?;
    if log.exists() {
        give(log, owners.root, 0o644)?;
    }
    let out = root.join(crate::OUT_DIR);
    std::fs::create_dir_all(&out).map_err(|e| prepare_error(&out, &e))?;
    give(&out, owners.user, 0o755)
}

fn give(path: &Path, uid: u32, mode: u32) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(uid)))
        .map_err(|e| prepare_error(path, &e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| prepare_error(path, &e))
}

fn prepare_error(path: &Path, error: &dyn std::fmt::Display) -> SandboxError {
    SandboxError::Prepare { path: path.to_path_buf(), message: format!("cannot hand it to the container: {error}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> ContainerRuntime {
        ContainerRuntime {
            engine: PathBuf::from("/usr/bin/podman"),
            engine_env: vec![("CONTAINERS_CONF".into(), "/etc/strata/containers.conf".into())],
            insecure_registries: vec!["127.0.0.1:5055".to_owned()],
            helper: PathBuf::from("/opt/strata/strata-sandbox-helper"),
        }
    }

    fn spec() -> ContainerSpec {
        let limits = ContainerLimits {
            memory_bytes: Some(64 << 20),
            millicpus: Some(1500),
            pids: Some(128),
            disk_bytes: Some(1 << 20),
        };
        runtime().spec("127.0.0.1:5000/busybox@sha256:abc", "ws", 1000, limits)
    }

    #[test]
    fn the_container_gets_no_network_a_read_only_root_its_own_uids_and_the_limits() {
        let confinement = Confinement { uid: 1000, work_dir: PathBuf::from("/scratch/w1") };
        let command = spec().helper_command(&confinement);
        let args: Vec<String> = command.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        for wanted in [
            "--network=none",
            "--read-only",
            "--cap-drop=all",
            "--security-opt=no-new-privileges",
            "--memory=67108864",
            "--memory-swap=67108864",
            "--cpus=1.500",
            "--pids-limit=128",
            "--mount=type=tmpfs,destination=/tmp,tmpfs-size=1048576",
            "--entrypoint=/.strata/helper",
            "--volume=/opt/strata/strata-sandbox-helper:/.strata/helper:ro",
        ] {
            assert!(args.iter().any(|a| a == wanted), "{wanted} missing from {args:?}");
        }
        let base = container_uid_base("ws");
        assert!(args.contains(&format!("--uidmap=0:{base}:65536")), "{args:?}");
        assert_eq!(args.last().map(String::as_str), Some("127.0.0.1:5000/busybox@sha256:abc"), "the image comes last");
        assert_eq!(command.env, vec![("CONTAINERS_CONF".into(), "/etc/strata/containers.conf".into())]);
        assert_eq!(command.current_dir.as_deref(), Some(Path::new("/scratch/w1")), "not the worker's own directory");
    }

    #[test]
    fn a_runtime_bounds_processes_unless_the_limits_say_otherwise() {
        let spec = runtime().spec("127.0.0.1:5055/a:1", "ws", 1000, ContainerLimits::default());
        assert_eq!(spec.limits.pids, Some(DEFAULT_PIDS));
        assert_eq!(spec.tls_args(), ["--tls-verify=false"], "a listed registry is pulled over plain HTTP");
        let limits = ContainerLimits { pids: Some(10), ..ContainerLimits::default() };
        let spec = runtime().spec("docker.io/library/alpine:3.20", "ws", 1000, limits);
        assert_eq!(spec.limits.pids, Some(10));
        assert!(spec.tls_args().is_empty(), "other registries are pulled over TLS");
    }

    #[test]
    fn workspaces_get_disjoint_uid_blocks_in_the_documented_range() {
        let base = container_uid_base("0b7c1f9e-2f8d-4c1e-9a51-6c1d2e3f4a5b");
        assert_eq!(base % CONTAINER_UIDS, 0);
        assert!(base >= FIRST_CONTAINER_UID && base + CONTAINER_UIDS <= 0x8000_0000, "{base}");
        assert_ne!(container_uid_base("tenant-a/wsa"), container_uid_base("tenant-b/wsa"));
        // Pinned: a block that changed between releases would strand files owned by the old one.
        assert_eq!(container_uid_base("default"), 1_979_580_416);
    }
}
