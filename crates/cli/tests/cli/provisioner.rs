//! The local provisioner inside `strata dev`: a created workspace becomes
//! READY on its own server, its pipeline's workers follow the queue up and
//! back to zero, it is isolated from its neighbours, deleting it stops its
//! server, and no child outlives a killed `strata dev`.

use std::time::{Duration, Instant};

use crate::support::{Sandbox, answers, assert_user_error, json, ok, path_str, stderr, wait_until, write_spec};

/// (desired, current) workers of `pipeline`, once the autoscaler has a row.
fn workers(sandbox: &Sandbox, pipeline: &str) -> Option<(u64, u64)> {
    let inspected = json(sandbox, &["workspace", "inspect", "ci", "--org", "local"]);
    let rows = inspected["workers"].as_array()?.clone();
    let row = rows.into_iter().find(|row| row["pipeline"] == pipeline)?;
    Some((row["desired"].as_u64()?, row["current"].as_u64()?))
}

#[test]
fn a_created_workspace_runs_on_its_own_server_and_its_workers_follow_the_queue() {
    let sandbox = Sandbox::new();
    let dev =
        sandbox.start_dev_with_env(&[], &[("STRATA_SCALE_DOWN_COOLDOWN_SECS", "2"), ("STRATA_SANDBOX", "scratch")]);

    let created = json(&sandbox, &["workspace", "create", "ci", "--org", "local", "--wait"]);
    assert_eq!(created["state"], "READY", "{created}");
    let endpoint = created["endpoint"].as_str().expect("endpoint").to_owned();
    assert!(answers(&endpoint), "the workspace server listens at {endpoint}");
    let ready = created["conditions"].as_array().expect("conditions").iter().find(|c| c["type"] == "Ready").cloned();
    assert_eq!(ready.map(|c| c["status"].clone()), Some(serde_json::Value::Bool(true)));

    // Data goes through the hub's gateway into the new workspace only.
    ok(&sandbox, &["workspace", "use", "local/ci"]);
    ok(&sandbox, &["repo", "create", "numbers"]);
    let inputs = sandbox.dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("inputs dir");
    for n in 0..9 {
        std::fs::write(inputs.join(format!("{n}.txt")), format!("{n}\n")).expect("input file");
    }
    ok(&sandbox, &["put", "file", "numbers@master:/", "-f", path_str(&inputs), "-r"]);
    let default_repos = json(&sandbox, &["repo", "list", "--workspace", "local/default"]);
    assert_eq!(default_repos.as_array().map(Vec::len), Some(0), "the default workspace sees nothing of ci");

    let spec = write_spec(
        &sandbox,
        "slow.json",
        r#"{"pipeline": {"name": "slow"},
            "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "sleep 1; cp $PFS/numbers/* $PFS/out/"]},
            "parallelism_spec": {"constant": 3},
            "autoscaling": true}"#,
    );
    ok(&sandbox, &["pipeline", "create", "-f", &spec]);

    // Record the replica counts over time until the job is done and the
    // workers are gone again.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(counts) = workers(&sandbox, "slow")
            && seen.last() != Some(&counts)
        {
            seen.push(counts);
        }
        let finished = seen.iter().any(|&(_, current)| current > 0) && seen.last() == Some(&(0, 0));
        if finished {
            break;
        }
        assert!(Instant::now() < deadline, "workers never went back to zero: {seen:?}");
        // Poll interval of a wait-for-condition loop, not synchronisation.
        std::thread::sleep(Duration::from_millis(150));
    }
    let peak = seen.iter().map(|&(_, current)| current).max().unwrap_or(0);
    assert_eq!(peak, 3, "9 datums, parallelism 3: three workers at the peak ({seen:?})");
    let jobs = json(&sandbox, &["job", "list"]);
    assert_eq!(jobs[0]["state"], "SUCCESS", "{jobs}");
    assert_eq!(jobs[0]["datums"]["processed"], 9, "{jobs}");
    let output = ok(&sandbox, &["get", "file", "slow@master:/4.txt"]);
    assert_eq!(output, "4\n");

    // A CI job with an API token drives the new workspace with curl and GraphQL alone.
    let token = json(&sandbox, &["token", "create", "ci-job", "--role", "writer", "--org", "local"]);
    let words = sandbox.dir.path().join("words.txt");
    std::fs::write(&words, "the quick brown fox\n").expect("words");
    let count = write_spec(
        &sandbox,
        "count.json",
        r#"{"pipeline": {"name": "count"}, "input": {"pfs": {"repo": "docs", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "wc -w < $PFS/docs/words.txt > $PFS/out/words"]}}"#,
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ci/strata-ci.sh");
    let ci = std::process::Command::new("bash")
        .arg(script)
        .args(["docs", path_str(&words), &count])
        .env("STRATA_ENDPOINT", &dev.url)
        .env("STRATA_TOKEN", token["token"].as_str().expect("secret"))
        .env("STRATA_ORG", "local")
        .env("STRATA_WORKSPACE", "ci")
        .output()
        .expect("run the CI script");
    let said = String::from_utf8_lossy(&ci.stdout);
    assert!(ci.status.success(), "{said}\n{}", String::from_utf8_lossy(&ci.stderr));
    assert!(said.contains("SUCCESS {\"total\":1,\"processed\":1"), "{said}");
    assert_eq!(ok(&sandbox, &["get", "file", "count@master:/words"]).trim(), "4");

    // Deleting stops the server; the slug is free again.
    ok(&sandbox, &["workspace", "delete", "ci", "--org", "local", "--confirm", "ci"]);
    wait_until("the workspace server stopping", Duration::from_secs(20), || !answers(&endpoint));
    wait_until("the workspace leaving the list", Duration::from_secs(10), || {
        let listed = json(&sandbox, &["workspace", "list", "--org", "local"]);
        let slugs: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|w| w["slug"].as_str()).collect();
        slugs == ["default"]
    });
}

/// The state and endpoint of `local/<slug>`, as `workspace inspect` shows them.
fn state_of(sandbox: &Sandbox, slug: &str) -> (String, Option<String>) {
    let inspected = json(sandbox, &["workspace", "inspect", slug, "--org", "local"]);
    let state = inspected["state"].as_str().unwrap_or_default().to_owned();
    (state, inspected["endpoint"].as_str().map(str::to_owned))
}

#[test]
fn an_idle_workspace_sleeps_with_its_server_stopped_and_the_next_request_wakes_it_with_its_data() {
    let sandbox = Sandbox::new();
    let _dev = sandbox.start_dev_with_env(&[], &[("STRATA_IDLE_SLEEP_AFTER", "3")]);
    let created = json(&sandbox, &["workspace", "create", "napper", "--org", "local", "--wait"]);
    let endpoint = created["endpoint"].as_str().expect("endpoint").to_owned();
    ok(&sandbox, &["workspace", "use", "local/napper"]);
    ok(&sandbox, &["repo", "create", "notes"]);
    let note = sandbox.dir.path().join("note.txt");
    std::fs::write(&note, "kept while asleep\n").expect("note");
    ok(&sandbox, &["put", "file", "notes@master:/note.txt", "-f", path_str(&note)]);

    // Looking at the workspace in the hub is not using it: it falls asleep.
    wait_until("the idle workspace sleeping", Duration::from_secs(60), || state_of(&sandbox, "napper").0 == "SLEEPING");
    assert_eq!(state_of(&sandbox, "napper").1, None, "a sleeping workspace has no endpoint");
    wait_until("its server stopping", Duration::from_secs(20), || !answers(&endpoint));
    let listed = json(&sandbox, &["workspace", "list", "--org", "local"]);
    let napper = listed.as_array().expect("list").iter().find(|w| w["slug"] == "napper").cloned().expect("listed");
    assert_eq!(napper["state"], "SLEEPING", "{napper}");

    // The first request through the gateway wakes it and is answered, data intact.
    assert_eq!(ok(&sandbox, &["get", "file", "notes@master:/note.txt"]), "kept while asleep\n");
    let (state, woken) = state_of(&sandbox, "napper");
    assert_eq!(state, "READY");
    assert!(woken.as_deref().is_some_and(answers), "the server serves again at {woken:?}");
    ok(&sandbox, &["put", "file", "notes@master:/after.txt", "-f", path_str(&note)]);
    let files = json(&sandbox, &["list", "file", "notes@master:/"]);
    assert_eq!(files.as_array().map(Vec::len), Some(2), "{files}");
}

#[test]
fn workspace_servers_do_not_outlive_a_killed_strata_dev() {
    let sandbox = Sandbox::new();
    let dev = sandbox.start_dev(&[]);
    let created = json(&sandbox, &["workspace", "create", "orphan-check", "--org", "local", "--wait"]);
    let endpoint = created["endpoint"].as_str().expect("endpoint").to_owned();
    assert!(answers(&endpoint));
    dev.stop_with(nix::sys::signal::Signal::SIGKILL);
    wait_until("the orphaned workspace server exiting", Duration::from_secs(10), || !answers(&endpoint));

    // A new `strata dev` on the same data starts the workspace again, with its data.
    let _again = sandbox.start_dev(&[]);
    wait_until("the workspace coming back", Duration::from_secs(20), || {
        let inspected = json(&sandbox, &["workspace", "inspect", "orphan-check", "--org", "local"]);
        inspected["state"] == "READY" && inspected["endpoint"].as_str().is_some_and(answers)
    });
}

#[test]
fn the_kubernetes_backend_says_what_it_is_missing_before_it_starts() {
    let sandbox = Sandbox::new();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["provisioner", "run", "--backend", "kubernetes"];
        args.extend_from_slice(extra);
        let mut command = sandbox.command(&args);
        command.env("KUBECONFIG", sandbox.dir.path().join("no-such-kubeconfig")).env_remove("KUBERNETES_SERVICE_HOST");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("run strata")
    };
    let postgres = ["--database-url", "postgres://strata@127.0.0.1:1/strata"];
    assert_user_error(&run(&[], &[]), &["PostgreSQL", "database_url"]);
    assert_user_error(&run(&postgres, &[]), &["object_store_url", "s3://"]);
    let bucket = [&postgres[..], &["--object-store-url", "s3://strata-workspaces"]].concat();
    assert_user_error(&run(&bucket, &[]), &["kubernetes_egress", "e.g."]);
    let egress = [("STRATA_KUBERNETES_EGRESS", "10.0.0.0/16:5432")];
    assert_user_error(&run(&bucket, &egress), &["EKS Pod Identity", "kubernetes_eks_cluster", "shared-keys"]);
    let pod_identity = [
        egress[0],
        ("STRATA_KUBERNETES_EKS_CLUSTER", "strata"),
        ("STRATA_KUBERNETES_EKS_REGION", "eu-west-1"),
        ("STRATA_KUBERNETES_WORKSPACE_ROLE_ARN", "arn:aws:iam::111122223333:role/strata-workspace"),
    ];
    assert_user_error(&run(&bucket, &pod_identity), &["cannot reach Kubernetes", "KUBECONFIG"]);
    let prefixed = [&postgres[..], &["--object-store-url", "s3://strata-workspaces/strata"]].concat();
    assert_user_error(&run(&prefixed, &pod_identity), &["without a prefix", "ws/<namespace>"]);
    let shared = [egress[0], ("STRATA_KUBERNETES_WORKSPACE_CREDENTIALS", "shared-keys")];
    let sharing = run(&bucket, &shared);
    let said = stderr(&sharing);
    assert_eq!(sharing.status.code(), Some(1), "{said}");
    assert!(said.contains("can read every other workspace's objects"), "the operator is warned: {said}");
    assert!(said.lines().last().is_some_and(|l| l.contains("cannot reach Kubernetes")), "{said}");
    let unknown = [egress[0], ("STRATA_KUBERNETES_WORKSPACE_CREDENTIALS", "keys")];
    assert_user_error(&run(&bucket, &unknown), &["kubernetes_workspace_credentials", "pod-identity, shared-keys"]);
    let bad_egress = [("STRATA_KUBERNETES_EGRESS", "10.0.0.0:5432")];
    assert_user_error(&run(&bucket, &bad_egress), &["kubernetes_egress", "not a CIDR"]);
}

/// A valid master key (32 bytes, base64) that this test passes in the environment.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Every process below `pid`, with its command line.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // `pid (comm) state ppid …`; comm may hold spaces, so split after its `)`.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(parent) {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                found.push((child, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
                parents.push(child);
            }
        }
    }
    found
}

fn environment_of(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).expect("environ")).replace('\0', "\n")
}

/// Runs a pipeline in `workspace` that writes its environment to its output.
fn environment_of_tenant_code(sandbox: &Sandbox, workspace: &str) -> String {
    ok(sandbox, &["workspace", "use", workspace]);
    ok(sandbox, &["repo", "create", "numbers"]);
    let input = sandbox.dir.path().join("1.txt");
    std::fs::write(&input, "1\n").expect("input");
    ok(sandbox, &["put", "file", "numbers@master:/1.txt", "-f", path_str(&input)]);
    let spec = sandbox.dir.path().join("env.json");
    std::fs::write(
        &spec,
        r#"{"pipeline": {"name": "env"}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "env > $PFS/out/env.txt"]}, "autoscaling": true}"#,
    )
    .expect("spec");
    ok(sandbox, &["pipeline", "create", "-f", path_str(&spec)]);
    let job = json(sandbox, &["job", "wait", "env@latest", "--timeout", "120"]);
    assert_eq!(job["state"], "SUCCESS", "{workspace}: {job}");
    ok(sandbox, &["get", "file", "env@master:/env.txt"])
}

#[test]
fn the_master_key_reaches_no_workspace_server_worker_or_tenant_code() {
    let sandbox = Sandbox::new();
    let dev = sandbox.start_dev_with_env(
        &[],
        &[
            ("STRATA_MASTER_KEY", MASTER_KEY),
            ("STRATA_SANDBOX", "scratch"),
            // Workers stay after the job, so the test can look at them.
            ("STRATA_SCALE_DOWN_COOLDOWN_SECS", "600"),
        ],
    );
    assert!(!sandbox.data_dir().join("keys/master.key").exists(), "with STRATA_MASTER_KEY set, no key file is made");
    let created = json(&sandbox, &["workspace", "create", "envcheck", "--org", "local", "--wait"]);
    assert_eq!(created["state"], "READY", "{created}");
    // Tenant code of the embedded workspace (run by `strata dev` itself) and
    // of the provisioned one (run by a `strata worker`) dumps its environment.
    for workspace in ["local/default", "local/envcheck"] {
        let seen = environment_of_tenant_code(&sandbox, workspace);
        assert!(seen.contains("PFS="), "the dump is the datum's environment: {seen}");
        for secret in ["STRATA_MASTER_KEY", MASTER_KEY, "STRATA_TOKEN"] {
            assert!(!seen.contains(secret), "tenant code in {workspace} got {secret}: {seen}");
        }
    }

    // The workspace server and the worker `strata dev` started.
    let children = descendants(dev.child.id());
    let server = children.iter().find(|(_, cmd)| cmd.contains("__workspace-server")).expect("a workspace server");
    let worker = children.iter().find(|(_, cmd)| cmd.contains(" worker ")).expect("a worker");
    for (pid, cmd) in [server, worker] {
        let environment = environment_of(*pid);
        assert!(
            !environment.contains("STRATA_MASTER_KEY") && !environment.contains(MASTER_KEY),
            "{cmd} got the master key"
        );
    }
    assert!(environment_of(dev.child.id()).contains(MASTER_KEY), "the control case: strata dev itself has it");
}

#[test]
fn without_containers_a_hub_workspace_refuses_to_run_tenant_code_and_says_what_to_install() {
    let sandbox = Sandbox::new();
    let _dev = sandbox.start_dev_with_env(&[], &[("STRATA_INSECURE_WORKSPACES_WITHOUT_CONTAINERS", "false")]);
    json(&sandbox, &["workspace", "create", "ci", "--org", "local", "--wait"]);
    ok(&sandbox, &["workspace", "use", "local/ci"]);
    ok(&sandbox, &["repo", "create", "numbers"]);
    let input = sandbox.dir.path().join("1.txt");
    std::fs::write(&input, "1\n").expect("input");
    ok(&sandbox, &["put", "file", "numbers@master:/1.txt", "-f", path_str(&input)]);
    let spec = sandbox.dir.path().join("copy.json");
    std::fs::write(
        &spec,
        r#"{"pipeline": {"name": "copy"}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "cp /pfs/numbers/* /pfs/out/"]}, "datum_tries": 1}"#,
    )
    .expect("spec");
    ok(&sandbox, &["pipeline", "create", "-f", path_str(&spec)]);
    let output = sandbox.run(&["job", "wait", "copy@latest", "--timeout", "120", "-o", "json"]);
    let job: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the job as JSON");
    assert_eq!(job["state"], "FAILURE", "{job}");
    let datums = json(&sandbox, &["datum", "list", "copy@latest"]);
    let text = datums.to_string();
    assert!(
        text.contains("only in containers") && text.contains("insecure_workspaces_without_containers"),
        "the datum says why and what to do: {text}"
    );
}
