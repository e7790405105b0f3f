//! What user code can reach in namespace mode: its own uid and nothing of root's powers,
//! an allow-listed root, no network, and none of the worker's environment.

use std::path::Path;

use strata_sandbox::{IsolationMode, tenant_uid};

use crate::helpers::{Datum, WORKSPACE, sandbox};

#[tokio::test]
async fn user_code_runs_as_the_workspaces_uid_with_no_capabilities_and_no_new_privs() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let script = "id -u > /pfs/out/uid; id -G > /pfs/out/groups; \
                  grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status > /pfs/out/status";
    let outcome = sandbox.run(&datum.sh(script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());

    let uid = tenant_uid(WORKSPACE);
    assert_eq!(datum.out("uid").trim(), uid.to_string());
    assert_eq!(datum.out("groups").trim(), uid.to_string(), "its own group and no other");
    let status = datum.out("status");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(status.contains(&format!("{set}:\t0000000000000000")), "{set} not empty:\n{status}");
    }
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    sandbox.close().await;
}

#[tokio::test]
async fn user_code_sees_the_system_dirs_read_only_and_nothing_else_of_the_host() {
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    // A host file beside the datum, in the worker's scratch directory, as another
    // workspace's or the platform's would be.
    let secret = datum.root.parent().unwrap().join("secret.db");
    std::fs::write(&secret, "signing keys").unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let probes = [
        format!("test -e {}", secret.display()),
        format!("test -e {}", datum.root.display()),
        format!("test -e {home}"),
        "test -e /root".to_owned(),
        "ls /.strata".to_owned(),
        "ls -A /tmp | grep -q .".to_owned(),
        "test -e /var/lib".to_owned(),
        "test -e /proc/1".to_owned(),
        "test -e /proc/$PPID".to_owned(),
        "touch /usr/strata-probe".to_owned(),
        "touch /etc/strata-probe".to_owned(),
    ];
    let mut script = String::new();
    for probe in &probes {
        script.push_str(&format!("if {probe} 2>/dev/null; then echo '{probe}' >> /pfs/out/reached; fi; "));
    }
    // What user code does need: programs, /etc, /dev/null, a writable home and /tmp.
    script.push_str(
        "test -r /etc/passwd && test -x /bin/sh && echo ok > /dev/null && touch \"$HOME/f\" /tmp/f \
         && echo usable > /pfs/out/usable",
    );
    let outcome = sandbox.run(&datum.sh(&script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());

    let reached = std::fs::read_to_string(datum.root.join("out/reached")).unwrap_or_default();
    assert!(reached.is_empty(), "user code reached:\n{reached}");
    assert_eq!(datum.out("usable"), "usable\n", "{}", datum.log_text());
    assert!(!Path::new("/usr/strata-probe").exists());
    sandbox.close().await;
}

#[tokio::test]
async fn user_code_cannot_connect_to_a_server_on_the_hosts_loopback() {
    // Like the root these tests need, bash is part of the test machine: a
    // missing one fails the test rather than passing it unseen.
    assert!(Path::new("/bin/bash").exists(), "the probe connects with bash's /dev/tcp: install bash");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sandbox = sandbox(IsolationMode::Namespace).await;
    let datum = Datum::new(&[("in", "f", "x")]);
    let script = format!(
        "if bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/pfs/out/error; then echo connected > /pfs/out/net; fi; \
         cat /proc/net/dev > /pfs/out/devices"
    );
    let outcome = sandbox.run(&datum.sh(&script)).await.unwrap();
    assert!(outcome.success(), "{}", datum.log_text());

    assert!(!datum.root.join("out/net").exists(), "user code reached 127.0.0.1:{port}");
    assert!(datum.out("error").contains("unreachable"), "{}", datum.out("error"));
    let devices: Vec<String> =
        datum.out("devices").lines().skip(2).filter_map(|l| l.split(':').next()).map(|d| d.trim().to_owned()).collect();
    assert_eq!(devices, ["lo"], "a fresh network namespace has only lo");
    assert!(listener.accept().is_err(), "the listener got a connection");

    // The control: the same probe from the host does connect, so the test can fail.
    let host = std::process::Command::new("bash")
        .args(["-c", &format!("echo hi > /dev/tcp/127.0.0.1/{port}")])
        .status()
        .unwrap();
    assert!(host.success());
    sandbox.close().await;
}
