//! Crash safety: `kill -9` the server at random moments during recursive
//! puts and commit finishing. After every restart fsck is clean, every
//! write acknowledged before a kill reads back byte for byte, and commits
//! left open by a crash can still be finished.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{Sandbox, path_str, stderr, stdout};

const TRIALS: u64 = 30;

/// A small deterministic generator, so a failing trial can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn write_tree(dir: &std::path::Path, trial: u64, rng: &mut Lcg) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let count = 40 + rng.next() % 80;
    for i in 0..count {
        let len = (rng.next() % 64 * 1024) as usize;
        let content: Vec<u8> = (0..len).map(|j| (j as u64 * 31 + i * 7 + trial) as u8).collect();
        let name = format!("d{}/f{i:03}.bin", i % 5);
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &content).expect("write");
        files.insert(format!("/{name}"), content);
    }
    files
}

fn verify(sandbox: &Sandbox, acknowledged: &[(String, BTreeMap<String, Vec<u8>>)]) {
    let fsck = sandbox.run(&["fsck", "-o", "json"]);
    assert_eq!(fsck.status.code(), Some(0), "fsck after restart: {}{}", stdout(&fsck), stderr(&fsck));
    for (reference, files) in acknowledged {
        let out = sandbox.dir.path().join("verify");
        let _ = std::fs::remove_dir_all(&out);
        let output = sandbox.run(&["get", "file", &format!("{reference}:/"), "-r", "--out", path_str(&out)]);
        assert_eq!(output.status.code(), Some(0), "{reference}: {}", stderr(&output));
        for (path, content) in files {
            let read = std::fs::read(out.join(path.trim_start_matches('/'))).unwrap_or_default();
            assert!(read == *content, "{reference}:{path} differs after a crash");
        }
    }
}

/// Finishes commits a crash left open: they must be resumable.
fn finish_open_commits(sandbox: &Sandbox) {
    let commits: serde_json::Value =
        serde_json::from_str(&stdout(&sandbox.run(&["commit", "list", "crash", "-o", "json"]))).expect("json");
    for commit in commits.as_array().expect("array") {
        if commit["finished_at"].is_null() {
            let id = commit["id"].as_str().expect("id");
            let output = sandbox.run(&["commit", "finish", &format!("crash@{id}")]);
            assert_eq!(output.status.code(), Some(0), "an open commit left by a crash finishes: {}", stderr(&output));
        }
    }
}

#[test]
fn kill_9_at_random_points_never_corrupts_the_store() {
    let sandbox = Sandbox::new();
    let mut rng = Lcg(0x5eed);
    let mut acknowledged: Vec<(String, BTreeMap<String, Vec<u8>>)> = Vec::new();
    let mut killed_mid_write = 0;
    {
        let server = sandbox.start_dev(&[]);
        assert_eq!(sandbox.run(&["repo", "create", "crash"]).status.code(), Some(0));
        server.stop_with(Signal::SIGTERM);
    }
    for trial in 0..TRIALS {
        let local = sandbox.dir.path().join(format!("tree{trial}"));
        let files = write_tree(&local, trial, &mut rng);
        let server = sandbox.start_dev(&[]);
        finish_open_commits(&sandbox);
        verify(&sandbox, &acknowledged);
        let branch = format!("crash@t{trial}");
        // Several streams into one commit, then a finish: the kill lands
        // in an upload, between layers, or inside the finish.
        let writer = sandbox
            .command(&["put", "file", &format!("{branch}:/"), "-f", path_str(&local), "-r", "-p", "3", "-o", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn put");
        // A random moment for the kill, the fault under test; nothing waits for anything.
        std::thread::sleep(Duration::from_millis(rng.next() % 250));
        server.stop_with(Signal::SIGKILL);
        let output = writer.wait_with_output().expect("writer ends");
        if output.status.success() {
            let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("summary");
            acknowledged.push((format!("crash@{}", summary["commit"].as_str().expect("commit")), files));
        } else {
            killed_mid_write += 1;
        }
        std::fs::remove_dir_all(&local).expect("cleanup");
    }
    let server = sandbox.start_dev(&[]);
    finish_open_commits(&sandbox);
    verify(&sandbox, &acknowledged);
    server.stop_with(Signal::SIGTERM);
    assert!(killed_mid_write > 0, "no kill landed during a write; the trial timing is wrong");
}
