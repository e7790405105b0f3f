//! PFS on S3: `strata dev` with `s3://` against a real S3 server on
//! loopback (`s3s-fs`, which keeps objects in a directory, so it can be
//! killed and started again with its data). The server binary comes from
//! `scripts/s3.sh`, which sets `STRATA_TEST_S3S_FS`; CI runs these with
//! `--run-ignored only`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{DevServer, Sandbox, json, ok, path_str};

const BUCKET: &str = "strata";
const ACCESS_KEY: &str = "strata-test";
const SECRET_KEY: &str = "strata-test-secret";

/// An `s3s-fs` process serving `root` (one directory per bucket) on `port`.
struct S3Server {
    child: Child,
    port: u16,
    root: PathBuf,
}

impl S3Server {
    fn start(root: &Path, port: Option<u16>) -> S3Server {
        let binary = std::env::var("STRATA_TEST_S3S_FS").expect("STRATA_TEST_S3S_FS (run scripts/s3.sh)");
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket directory");
        let port = port.unwrap_or_else(free_port);
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let server = S3Server { child, port, root: root.to_path_buf() };
        wait_for(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), "s3s-fs to listen");
        server
    }

    /// The variables `object_store`'s S3 client reads.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Files the server holds in the bucket, i.e. PFS's objects.
    fn objects(&self) -> usize {
        count_files(&self.root.join(BUCKET))
    }

    fn kill(mut self) -> (PathBuf, u16) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.root.clone(), self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn wait_for(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_dev_on(sandbox: &Sandbox, s3: &S3Server) -> DevServer {
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sandbox.start_dev_with_env(&["--object-store-url", &format!("s3://{BUCKET}/pfs")], &env)
}

/// Bytes that do not compress or deduplicate, so every chunk is its own object.
fn random_file(path: &Path, mib: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(mib << 20);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (mib as u64);
    while bytes.len() < mib << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::write(path, &bytes).expect("write");
    bytes
}

#[test]
#[ignore = "needs an S3 server binary: scripts/s3.sh sets STRATA_TEST_S3S_FS (CI runs it)"]
fn pfs_on_s3_puts_gets_globs_collects_and_checks_against_a_real_server() {
    let sandbox = Sandbox::new();
    let s3 = S3Server::start(&sandbox.dir.path().join("s3"), None);
    let server = start_dev_on(&sandbox, &s3);
    let status = json(&sandbox, &["status"]);
    assert_eq!(status["checks"]["object_store"]["ok"], true, "{status}");

    ok(&sandbox, &["repo", "create", "images"]);
    let local = sandbox.dir.path().join("in");
    std::fs::create_dir_all(local.join("b")).expect("mkdir");
    std::fs::write(local.join("a.txt"), "alpha").expect("write");
    std::fs::write(local.join("b/c.txt"), "gamma").expect("write");
    let big = random_file(&local.join("big.bin"), 24);
    ok(&sandbox, &["put", "file", "images@master:/", "-f", path_str(&local), "-r"]);
    assert!(s3.objects() > 3, "a 24 MiB file is many chunk objects in the bucket");

    let out = sandbox.dir.path().join("out");
    ok(&sandbox, &["get", "file", "images@master:/", "-r", "--out", path_str(&out)]);
    assert_eq!(std::fs::read(out.join("big.bin")).expect("big"), big);
    assert_eq!(std::fs::read_to_string(out.join("b/c.txt")).expect("c"), "gamma");
    let globbed = json(&sandbox, &["glob", "file", "images@master:/*/*.txt"]);
    assert_eq!(globbed.as_array().expect("array").len(), 1, "{globbed}");
    let fsck = json(&sandbox, &["fsck"]);
    assert_eq!(fsck["problems"], serde_json::json!([]));
    assert!(fsck["objects_checked"].as_u64().expect("count") > 3);

    ok(&sandbox, &["repo", "delete", "images", "--force"]);
    let before = s3.objects();
    let gc = json(&sandbox, &["gc", "--grace-secs", "0"]);
    assert!(gc["objects_deleted"].as_u64().expect("count") > 3, "{gc}");
    assert!(s3.objects() < before, "GC deleted objects in the bucket");
    server.stop_with(Signal::SIGTERM);
}

#[test]
#[ignore = "needs an S3 server binary: scripts/s3.sh sets STRATA_TEST_S3S_FS (CI runs it)"]
fn an_s3_server_killed_and_restarted_mid_upload_loses_nothing() {
    let sandbox = Sandbox::new();
    let s3 = S3Server::start(&sandbox.dir.path().join("s3"), None);
    let server = start_dev_on(&sandbox, &s3);
    ok(&sandbox, &["repo", "create", "raw"]);
    let path = sandbox.dir.path().join("large.bin");
    let large = random_file(&path, 64);
    let upload = sandbox
        .command(&["put", "file", "raw@master:/large.bin", "-f", path_str(&path)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the upload");
    wait_for(|| s3.objects() > 0, "the first chunks to reach the bucket");
    let (root, port) = s3.kill();
    let s3 = S3Server::start(&root, Some(port));
    let finished = upload.wait_with_output().expect("the upload ends");

    // The client's retries may carry it over the restart; if not, no
    // commit was finished and the error says so.
    let error = String::from_utf8_lossy(&finished.stderr).into_owned();
    let commits = json(&sandbox, &["commit", "list", "raw"]);
    let finished_commits = commits.as_array().expect("array").iter().filter(|c| !c["finished_at"].is_null()).count();
    if finished.status.success() {
        assert_eq!(finished_commits, 1);
    } else {
        assert_eq!(finished_commits, 0, "a failed upload finishes no commit: {commits}");
        assert!(error.contains("STORAGE_UNAVAILABLE"), "a failed upload says why: {error}");
        ok(&sandbox, &["put", "file", "raw@master:/large.bin", "-f", path_str(&path)]);
    }
    let out = sandbox.dir.path().join("back.bin");
    ok(&sandbox, &["get", "file", "raw@master:/large.bin", "--out", path_str(&out)]);
    assert_eq!(std::fs::read(&out).expect("read"), large);
    let fsck = json(&sandbox, &["fsck"]);
    assert_eq!(fsck["problems"], serde_json::json!([]));
    drop(s3);
    server.stop_with(Signal::SIGTERM);
}
