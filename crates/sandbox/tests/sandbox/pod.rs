//! The worker pod's user container (see `strata_sandbox::pod`), run here with podman the
//! way the pod runs it on Kubernetes: the pipeline's image as a non-root user with the
//! pod's group, no capabilities, a read-only root, the helper as its entrypoint
//! listening on a socket in a shared volume, and the worker's scratch volume at the same
//! path in both. The worker side is this test process.
//!
//! Needs what the container tests need (`scripts/containers.sh`); ignored otherwise.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use strata_sandbox::{Confinement, ExitKind, Isolation, Sandbox, pod};

use crate::helpers::Datum;

/// The pod's `fsGroup` (the Strata user's group), which the worker's files carry.
const POD_GROUP: u32 = 65532;
const USER: u32 = 1000;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set by `eval \"$(scripts/containers.sh)\"`"))
}

/// The user container of one pod; removed when dropped.
struct UserContainer {
    name: String,
    socket: PathBuf,
    work_dir: PathBuf,
}

impl UserContainer {
    /// Starts it over `datum`'s directory, given to the pod's group as Kubernetes does
    /// for an `emptyDir` with an `fsGroup`.
    fn start(datum: &Datum) -> UserContainer {
        let work_dir = datum.root.parent().unwrap().to_path_buf();
        let run_dir = work_dir.join("run");
        std::fs::create_dir_all(&run_dir).unwrap();
        give_to_pod_group(&work_dir);
        let name =
            format!("strata-pod-test-{}-{}", std::process::id(), work_dir.file_name().unwrap().to_string_lossy());
        let status = Command::new("podman")
            .env("CONTAINERS_CONF", var("STRATA_TEST_CONTAINERS_CONF"))
            .args(["run", "--detach", "--rm", "--log-driver=none", "--name", &name])
            .arg(format!("--user={USER}:{USER}"))
            .arg(format!("--group-add={POD_GROUP}"))
            .args(["--network=none", "--read-only", "--cap-drop=all", "--security-opt=no-new-privileges"])
            .args(["--mount=type=tmpfs,destination=/tmp,tmpfs-mode=1777"])
            .args(["--mount=type=tmpfs,destination=/pfs,tmpfs-mode=1777"])
            .arg(format!("--volume={}:{}/strata:ro", var("STRATA_TEST_HELPER_STATIC"), pod::HELPER_DIR))
            .arg(format!("--volume={}:{}", work_dir.display(), pod::WORK_DIR))
            .arg(format!("--volume={}:{}", run_dir.display(), pod::RUN_DIR))
            .arg(format!("--env={}={}", pod::LISTEN_ENV, pod::SOCKET))
            .arg(format!("--env={}={}", pod::WORK_DIR_ENV, work_dir.display()))
            .arg(format!("--entrypoint={}/strata", pod::HELPER_DIR))
            .arg("--tls-verify=false")
            .arg(var("STRATA_TEST_IMAGE"))
            .status()
            .unwrap();
        assert!(status.success(), "podman run: {status}");
        UserContainer { name, socket: run_dir.join("helper.sock"), work_dir }
    }

    /// The worker's side: connects once the helper listens.
    async fn connect(&self) -> Sandbox {
        let confinement = Confinement { uid: USER, work_dir: self.work_dir.clone() };
        for _ in 0..200 {
            match Sandbox::connect_pod(&self.socket, &confinement).await {
                Ok(sandbox) => return sandbox,
                // Poll interval of a wait for the container to listen, not synchronisation.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("the pod's helper never listened on {}", self.socket.display());
    }
}

impl Drop for UserContainer {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .env("CONTAINERS_CONF", var("STRATA_TEST_CONTAINERS_CONF"))
            .args(["rm", "--force", "--time=0", &self.name])
            .output();
    }
}

/// What an `fsGroup` does to a volume: the pod's group owns everything, and the
/// directories are `setgid` so that new files join it.
fn give_to_pod_group(dir: &Path) {
    let gid = Some(nix::unistd::Gid::from_raw(POD_GROUP));
    for entry in walk(dir) {
        nix::unistd::chown(&entry, None, gid).unwrap();
        if entry.is_dir() {
            let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode | 0o2750)).unwrap();
        }
    }
    std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o2770)).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { all.extend(walk(&path)) } else { all.push(path) }
    }
    all
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_pod_datum_sees_literal_pfs_as_the_pods_user_and_cannot_change_its_inputs() {
    let datum = Datum::new(&[("images", "a/b.txt", "hello")]);
    let container = UserContainer::start(&datum);
    let sandbox = container.connect().await;
    assert_eq!(sandbox.isolation(), Isolation::Container);

    let script = "find -L /pfs/images -type f > /pfs/out/found && cat /pfs/images/a/b.txt > /pfs/out/copy && \
                  id -u > /pfs/out/uid && grep CapEff /proc/self/status > /pfs/out/caps; \
                  echo changed >> /pfs/images/a/b.txt 2>/dev/null && echo changed-input >> /pfs/out/escapes; \
                  touch /pfs/images/new 2>/dev/null && echo added-input >> /pfs/out/escapes; \
                  env | grep -e STRATA_ -e sts_ && echo leaked-env >> /pfs/out/escapes; \
                  mkdir -p /pfs/out/sub && echo deep > /pfs/out/sub/file; true";
    let outcome = sandbox.run(&datum.sh(script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("found"), "/pfs/images/a/b.txt\n");
    assert_eq!(datum.out("copy"), "hello");
    assert_eq!(datum.out("uid").trim(), USER.to_string(), "the pod's user, not root");
    assert_eq!(datum.out("caps").split_whitespace().last(), Some("0000000000000000"));
    assert!(
        !datum.root.join("out/escapes").exists(),
        "{}",
        std::fs::read_to_string(datum.root.join("out/escapes")).unwrap_or_default()
    );
    assert_eq!(std::fs::read_to_string(datum.root.join("images/a/b.txt")).unwrap(), "hello");
    // What user code wrote stays readable by the worker through the pod's group.
    let written = std::fs::metadata(datum.root.join("out/sub/file")).unwrap();
    assert_eq!((written.gid(), written.mode() & 0o040), (POD_GROUP, 0o040), "group-readable in the pod's group");

    // The same sandbox runs the next datum, with only that datum's files in /pfs.
    crate::helpers::next_datum_sees_only_its_own_input(&sandbox, &datum).await;
    sandbox.close().await;
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_pod_helper_kills_a_timed_out_datum_and_serves_a_worker_that_reconnects() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let container = UserContainer::start(&datum);
    let sandbox = container.connect().await;
    let mut run = datum.sh("sleep 60 & echo $! > /pfs/out/pid; wait");
    run.timeout = Some(Duration::from_millis(500));
    assert_eq!(sandbox.run(&run).await.unwrap().status, ExitKind::TimedOut);
    // The worker restarts: the same helper serves its new connection.
    sandbox.close().await;
    let again = container.connect().await;
    let outcome = again.run(&datum.sh("ps -o pid,comm | grep -c sleep > /pfs/out/sleeping; true")).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("sleeping").trim(), "0", "the timed-out datum's processes are gone");
    again.close().await;
}
