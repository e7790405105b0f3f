//! The container runner: datums run in a long-lived container made from the pipeline's
//! image, with literal `/pfs`, as a non-root user, and reach nothing of the host.
//!
//! These need podman with runc, the statically linked helper and a test image in a
//! local registry: `scripts/containers.sh` provides all three and prints their
//! `STRATA_TEST_*` variables, and `scripts/test.sh` runs these tests in a step of its
//! own. In the ordinary run they are ignored, so nextest counts them as skipped.

use std::path::PathBuf;
use std::time::Duration;

use strata_sandbox::config::ContainerSettings;
use strata_sandbox::{Confinement, ContainerLimits, ContainerSpec, ExitKind, Isolation, Sandbox};

use crate::helpers::{Datum, WORKSPACE};

const NEEDS: &str = "set by `eval \"$(scripts/containers.sh)\"`";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; {NEEDS}"))
}

/// The test image's container, run as the configuration would run it.
fn spec(limits: ContainerLimits) -> ContainerSpec {
    let settings = ContainerSettings {
        engine: PathBuf::from("podman"),
        conf: Some(PathBuf::from(var("STRATA_TEST_CONTAINERS_CONF"))),
        helper: Some(PathBuf::from(var("STRATA_TEST_HELPER_STATIC"))),
        insecure_registries: vec![registry_address()],
    };
    settings.runtime(None).spec(&var("STRATA_TEST_IMAGE"), WORKSPACE, 1000, limits)
}

/// The home directory of the user running the tests: it exists on the host, so it
/// must not in the container.
fn host_home() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    assert!(home.is_dir() && home != std::path::Path::new("/"), "a real home directory: {}", home.display());
    home
}

/// The test registry's `host:port`, a server on the host's loopback.
fn registry_address() -> String {
    var("STRATA_TEST_IMAGE").split('/').next().unwrap().to_owned()
}

/// A container whose work directory is `datum`'s temporary directory.
async fn container(datum: &Datum, limits: ContainerLimits) -> Sandbox {
    let work_dir = datum.root.parent().unwrap().to_path_buf();
    let confinement = Confinement { uid: 1000, work_dir };
    Sandbox::start_container(&spec(limits), &confinement).await.unwrap()
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_datum_reads_literal_pfs_and_writes_pfs_out_as_a_non_root_user() {
    let datum = Datum::new(&[("images", "a/b.txt", "hello")]);
    let sandbox = container(&datum, ContainerLimits::default()).await;
    assert_eq!(sandbox.isolation(), Isolation::Container);

    let script = "cat /pfs/images/a/b.txt > /pfs/out/copy && id -u > /pfs/out/uid && \
                  grep CapEff /proc/self/status > /pfs/out/caps && echo $HOME > /pfs/out/home";
    let outcome = sandbox.run(&datum.sh(script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("copy"), "hello");
    assert_eq!(datum.out("uid").trim(), "1000", "not root");
    assert_eq!(datum.out("caps").split_whitespace().last(), Some("0000000000000000"), "no capabilities");
    assert_eq!(datum.out("home").trim(), "/tmp");

    // The same sandbox runs the next datum, with only that datum's files in /pfs.
    crate::helpers::next_datum_sees_only_its_own_input(&sandbox, &datum).await;
    sandbox.close().await;
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn user_code_cannot_write_the_image_see_the_host_or_reach_the_network() {
    let datum = Datum::new(&[("in", "f", "x")]);
    // A secret of the platform beside the work directory, and one in the worker's environment.
    let secret = datum.root.parent().unwrap().parent().unwrap().join("strata-secret-for-container-test");
    std::fs::write(&secret, "sts_do-not-leak").unwrap();
    let sandbox = container(&datum, ContainerLimits::default()).await;
    let script = format!(
        "touch /etc/x 2>/dev/null && echo wrote-image >> /pfs/out/escapes; \
         cat {secret} 2>/dev/null && echo read-host >> /pfs/out/escapes; \
         test -e {home} && echo saw-host-home >> /pfs/out/escapes; \
         ls /.strata/work 2>/dev/null && echo saw-work-dir >> /pfs/out/escapes; \
         wget -q -T 2 -O /dev/null http://{registry}/v2/ 2>/dev/null && echo reached-host >> /pfs/out/escapes; \
         env | grep -i -e sts_ -e token -e STRATA_SANDBOX && echo leaked-env >> /pfs/out/escapes; \
         echo tmp > /tmp/private && cat /tmp/private > /pfs/out/tmp; \
         grep -c : /proc/net/dev > /pfs/out/interfaces; true",
        secret = secret.display(),
        registry = registry_address(),
        home = host_home().display(),
    );
    let outcome = sandbox.run(&datum.sh(&script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    let escapes = std::fs::read_to_string(datum.root.join("out/escapes")).unwrap_or_default();
    assert_eq!(escapes, "", "what user code reached: {escapes}");
    assert_eq!(datum.out("tmp"), "tmp\n", "a private /tmp is writable");
    assert_eq!(datum.out("interfaces").trim(), "1", "only lo: {}", datum.out("interfaces"));
    sandbox.close().await;
    std::fs::remove_file(&secret).unwrap();
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_fork_bomb_or_a_memory_hog_fails_its_datum_and_the_container_runs_the_next() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let limits = ContainerLimits { memory_bytes: Some(64 << 20), millicpus: None, pids: Some(64), disk_bytes: None };
    let sandbox = container(&datum, limits).await;

    // 200 sleeping children against a limit of 64 processes.
    let bomb = "for i in $(seq 1 200); do sleep 5 & done; wait; exit 3";
    let mut run = datum.sh(bomb);
    run.timeout = Some(Duration::from_secs(20));
    let outcome = sandbox.run(&run).await.unwrap();
    assert!(!outcome.success(), "the pids limit stops the fork bomb: {}", datum.log_text());
    assert!(datum.log_text().contains("can't fork") || datum.log_text().contains("Resource"), "{}", datum.log_text());

    // 256 MiB of memory in a 64 MiB container: killed by the kernel.
    let hog = "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ${#x}";
    let outcome = sandbox.run(&datum.sh(hog)).await.unwrap();
    assert_eq!(outcome.status, ExitKind::OutOfMemory, "{}", datum.log_text());
    // The engine's monitor marks an OOM with a file in its working directory: the
    // container's work directory, never the worker's (here, the test's) own.
    let markers: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("oom"))
        .collect();
    assert!(markers.is_empty(), "{markers:?} in the worker's working directory");

    let outcome = sandbox.run(&datum.sh("echo still here > /pfs/out/after")).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("after"), "still here\n");
    sandbox.close().await;
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_datum_timeout_kills_its_processes_inside_the_container() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let sandbox = container(&datum, ContainerLimits::default()).await;
    let mut run = datum.sh("sleep 60 & sleep 60; echo not reached > /pfs/out/late");
    run.timeout = Some(Duration::from_millis(500));
    let outcome = sandbox.run(&run).await.unwrap();
    assert_eq!(outcome.status, ExitKind::TimedOut);
    // The next datum finds no process of the last one left in the container.
    let outcome = sandbox.run(&datum.sh("ps -o comm | grep -c sleep > /pfs/out/left; true")).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());
    assert_eq!(datum.out("left").trim(), "0");
    sandbox.close().await;
}

#[tokio::test]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn the_disk_limit_bounds_what_user_code_can_write_to_tmp() {
    let datum = Datum::new(&[("in", "f", "x")]);
    let limits = ContainerLimits { disk_bytes: Some(1 << 20), ..ContainerLimits::default() };
    let sandbox = container(&datum, limits).await;
    let script = "head -c 4194304 /dev/zero > /tmp/big 2>/dev/null; ls -l /tmp/big | awk '{print $5}' > /pfs/out/size";
    assert!(sandbox.run(&datum.sh(script)).await.unwrap().success(), "{}", datum.log_text());
    let size: u64 = datum.out("size").trim().parse().unwrap();
    assert!(size <= 1 << 20, "4 MiB asked, at most the 1 MiB limit written: {size}");
    sandbox.close().await;
}
