//! PFS through the `strata` binary, as a user drives it.

use std::io::Write;
use std::process::Stdio;

use nix::sys::signal::Signal;

use strata_testkit::{Backend, TestDatabase};

use crate::support::{Sandbox, json, ok, path_str, stderr};

#[test]
fn a_directory_goes_in_and_comes_back_identical_on_sqlite() {
    let sandbox = Sandbox::new();
    directory_round_trip(&sandbox, &[]);
}

#[test]
fn a_directory_goes_in_and_comes_back_identical_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sandbox = Sandbox::new();
    let database = runtime.block_on(TestDatabase::create(Backend::Postgres, &sandbox.data_dir()));
    directory_round_trip(&sandbox, &["--database-url", &database.url()]);
}

fn directory_round_trip(sandbox: &Sandbox, dev_args: &[&str]) {
    let server = sandbox.start_dev(dev_args);
    let local = sandbox.dir.path().join("photos");
    for (path, content) in
        [("a.txt", "alpha"), ("nested/b.txt", "beta"), ("nested/deeper/c.bin", "gamma"), ("z.txt", "")]
    {
        let file = local.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, content).expect("write");
    }
    ok(sandbox, &["repo", "create", "photos", "-d", "holiday pictures"]);
    let summary = json(sandbox, &["put", "file", "photos@master:/trip", "-f", path_str(&local), "-r", "-p", "3"]);
    assert_eq!(summary["files"], 4);
    let commits = json(sandbox, &["commit", "list", "photos"]);
    assert_eq!(commits.as_array().expect("array").len(), 1, "three streams, one commit");

    let listing = json(sandbox, &["list", "file", "photos@master:/trip"]);
    let paths: Vec<&str> =
        listing.as_array().expect("array").iter().map(|f| f["path"].as_str().expect("path")).collect();
    assert_eq!(paths, ["/trip/a.txt", "/trip/nested", "/trip/z.txt"]);

    let out = sandbox.dir.path().join("restored");
    ok(sandbox, &["get", "file", "photos@master:/trip", "-r", "--out", path_str(&out)]);
    for path in ["a.txt", "nested/b.txt", "nested/deeper/c.bin", "z.txt"] {
        assert_eq!(std::fs::read(out.join(path)).expect(path), std::fs::read(local.join(path)).expect(path), "{path}");
    }
    assert_eq!(ok(sandbox, &["get", "file", "photos@master:/trip/nested/b.txt"]), "beta");
    let fsck = json(sandbox, &["fsck"]);
    assert_eq!(fsck["problems"].as_array().expect("array").len(), 0);
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn stdin_tar_streams_and_the_other_file_commands_work() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    ok(&sandbox, &["repo", "create", "logs"]);
    let mut child = sandbox
        .command(&["put", "file", "logs@master:/from-stdin.txt", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(b"piped in").expect("write");
    assert!(child.wait().expect("wait").success());

    let tar_path = sandbox.dir.path().join("bundle.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tar_path).expect("tar"));
    for (name, content) in [("x/1.txt", "one"), ("x/2.txt", "two")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, content.as_bytes()).expect("append");
    }
    builder.finish().expect("finish tar");
    drop(builder);
    ok(&sandbox, &["put", "file", "logs@master:/unpacked", "-f", path_str(&tar_path), "--untar"]);

    let globbed = json(&sandbox, &["glob", "file", "logs@master:/unpacked/x/*.txt"]);
    assert_eq!(globbed.as_array().expect("array").len(), 2);
    let diff = json(&sandbox, &["diff", "file", "logs@master"]);
    assert_eq!(diff.as_array().expect("array").len(), 2, "the tar commit added two files");
    let info = json(&sandbox, &["inspect", "file", "logs@master:/from-stdin.txt"]);
    assert_eq!(info["size"], 8);

    ok(&sandbox, &["copy", "file", "logs@master:/from-stdin.txt", "logs@master:/copy.txt"]);
    assert_eq!(ok(&sandbox, &["get", "file", "logs@master:/copy.txt"]), "piped in");
    ok(&sandbox, &["delete", "file", "logs@master:/unpacked"]);
    let history = json(&sandbox, &["file", "history", "logs@master:/from-stdin.txt"]);
    assert_eq!(history.as_array().expect("array").len(), 1);
    let fsck = json(&sandbox, &["fsck"]);
    assert_eq!(fsck["problems"].as_array().expect("array").len(), 0);
    server.stop_with(Signal::SIGTERM);
}

#[test]
fn mistakes_get_a_clear_message_and_exit_code_1() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_dev(&[]);
    let cases: [(&[&str], &str); 5] = [
        (&["repo", "create", "bad name"], "letters, digits"),
        (&["list", "file", "nosuch@master"], "repo `nosuch` not found"),
        (&["get", "file", "no-at-sign"], "REPO@REF"),
        (&["commit", "inspect", "nosuch@master"], "not found"),
        (&["get", "file", "nosuch@master:/x", "-r"], "--out"),
    ];
    for (args, needle) in cases {
        let output = sandbox.run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(needle), "{args:?}: {}", stderr(&output));
    }
    server.stop_with(Signal::SIGTERM);
}
