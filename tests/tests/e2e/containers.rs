//! Pipelines in their declared image: with `runner = "container"`, embedded
//! workers run each datum in a container of the pipeline's `transform.image`,
//! where unmodified code finds its inputs at the literal `/pfs/...`.
//!
//! Needs podman with runc, the static helper and the test image in a local
//! registry (`eval "$(scripts/containers.sh)"`); `scripts/test.sh` runs it in
//! its container step. Ignored in the ordinary run, so counted as skipped.

use strata_api_types::pps::{CreatePipeline, JobState};
use strata_sandbox::config::SandboxConfig;
use strata_testkit::{Backend, TestApp, TestOptions};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; run `eval \"$(scripts/containers.sh)\"`"))
}

/// An app whose embedded workers run datums in containers of the test registry.
async fn app_with_containers() -> TestApp {
    let registry_of = |image: String| image.split('/').next().unwrap_or_default().to_owned();
    let registry = [registry_of(var("STRATA_TEST_IMAGE")), registry_of(var("STRATA_TEST_PRIVATE_IMAGE"))].join(",");
    let sandbox = SandboxConfig {
        runner: "container".to_owned(),
        containers_conf: Some(var("STRATA_TEST_CONTAINERS_CONF").into()),
        container_helper: Some(var("STRATA_TEST_HELPER_STATIC").into()),
        insecure_registries: Some(registry),
        ..SandboxConfig::default()
    };
    TestApp::spawn_with_options(Backend::Sqlite, TestOptions { sandbox: Some(sandbox), ..TestOptions::default() }).await
}

/// The text of `path` on the master branch of `repo`.
async fn read(ws: &strata_client::Workspace, repo: &str, path: &str) -> String {
    let response = ws.get_file(repo, "master", path, None, None).await.expect("an output");
    String::from_utf8(response.bytes().await.expect("bytes").to_vec()).expect("text")
}

/// Repo `in` with one file: one datum for a `/` glob.
async fn one_datum_input(ws: &strata_client::Workspace) {
    ws.repo_create("in", "").await.expect("repo");
    ws.put("in", "master", "/x", false, false, reqwest::Body::from("x")).await.expect("put");
}

async fn create(ws: &strata_client::Workspace, spec: serde_json::Value) {
    let body = CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None };
    ws.pipeline_create(&body).await.expect("create pipeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_pipeline_runs_in_its_image_with_hard_coded_pfs_paths() {
    let image = var("STRATA_TEST_IMAGE");
    let app = app_with_containers().await;
    let runner = app.client().readyz().await.expect("readyz").runner.expect("the embedded workers' runner");
    assert_eq!((runner.runner.as_str(), runner.warning), ("container", None), "`strata status` says so");
    let ws = app.client().workspace("default");
    ws.repo_create("words", "").await.expect("repo");
    for (path, text) in [("/a.txt", "one two three"), ("/b.txt", "four five")] {
        ws.put("words", "master", path, false, false, reqwest::Body::from(text)).await.expect("put");
    }
    // As a Pachyderm user writes it: literal /pfs paths, no $PFS.
    let spec = serde_json::json!({
        "pipeline": {"name": "count"},
        "input": {"pfs": {"repo": "words", "glob": "/*"}},
        "transform": {
            "image": image,
            "cmd": ["sh", "-c", "for f in /pfs/words/*; do wc -w < \"$f\" | tr -d ' ' > /pfs/out/$(basename \"$f\"); done; id -u > /pfs/out/uid-$(basename /pfs/words/*)"]
        }
    });
    create(&ws, spec).await;

    let job = ws.job_wait("count", "latest", 300).await.expect("the job finishes");
    assert_eq!(job.state, JobState::Success, "{job:?}");
    assert_eq!(job.runner.as_deref(), Some("container"), "the workers say what ran the datums");
    assert_eq!(read(&ws, "count", "/a.txt").await.trim(), "3");
    assert_eq!(read(&ws, "count", "/b.txt").await.trim(), "2");
    assert_eq!(read(&ws, "count", "/uid-a.txt").await.trim(), "1000", "user code is not root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_datum_over_the_pipelines_memory_limit_fails_as_oom() {
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    one_datum_input(&ws).await;
    let spec = serde_json::json!({
        "pipeline": {"name": "hog"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "resource_limits": {"memory": "64Mi"},
        "datum_tries": 1,
        "transform": {
            "image": var("STRATA_TEST_IMAGE"),
            "cmd": ["sh", "-c", "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ${#x} > /pfs/out/size"]
        }
    });
    create(&ws, spec).await;

    let job = ws.job_wait("hog", "latest", 300).await.expect("the job finishes");
    assert_eq!(job.state, JobState::Failure, "{job:?}");
    let datums = ws.datum_list("hog", &job.id, None).await.expect("datums");
    let exit = datums[0].exit.clone().unwrap_or_default();
    assert!(exit.starts_with("OOM"), "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_job_pins_its_tag_to_a_digest_and_honours_user_working_dir_and_accepted_codes() {
    // The same image by its tag, as a user writes it; the job must name the digest.
    let pinned = var("STRATA_TEST_IMAGE");
    let (name, digest) = pinned.split_once('@').expect("the test image is pinned");
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    one_datum_input(&ws).await;
    let spec = serde_json::json!({
        "pipeline": {"name": "who"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "datum_tries": 1,
        "transform": {
            "image": format!("{name}:1"),
            "user": "1001",
            "working_dir": "/pfs/in",
            "accept_return_code": [3],
            "cmd": ["sh", "-c", "pwd > /pfs/out/pwd; id -u > /pfs/out/uid; exit 3"]
        }
    });
    create(&ws, spec).await;

    let job = ws.job_wait("who", "latest", 300).await.expect("the job finishes");
    assert_eq!(job.state, JobState::Success, "exit 3 is accepted: {job:?}");
    assert_eq!(job.image.as_deref(), Some(format!("{name}@{digest}").as_str()), "the job names the digest");
    assert_eq!(read(&ws, "who", "/uid").await.trim(), "1001", "transform.user");
    assert_eq!(read(&ws, "who", "/pwd").await.trim(), "/pfs/in", "transform.working_dir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn a_job_whose_image_does_not_exist_fails_with_the_registrys_answer() {
    let pinned = var("STRATA_TEST_IMAGE");
    let (name, _) = pinned.split_once('@').expect("the test image is pinned");
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    one_datum_input(&ws).await;
    let spec = serde_json::json!({
        "pipeline": {"name": "ghost"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "transform": {"image": format!("{name}:no-such-tag"), "cmd": ["true"]}
    });
    create(&ws, spec).await;

    let job = ws.job_wait("ghost", "latest", 120).await.expect("the job ends");
    assert_eq!(job.state, JobState::Failure, "{job:?}");
    let reason = job.reason.unwrap_or_default();
    assert!(reason.contains("no-such-tag") && reason.contains("does not exist"), "{reason}");
    assert_eq!(job.image, None);
}

fn secret(pairs: &[(&str, &str)]) -> strata_api_types::pps::PutSecret {
    let data =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), strata_api_types::pps::SecretText((*v).to_owned()))).collect();
    strata_api_types::pps::PutSecret { data, overwrite: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test image: scripts/test.sh runs it"]
async fn secrets_reach_user_code_as_variables_and_read_only_files_and_never_come_back_out() {
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    let info = ws.secret_put("db", &secret(&[("password", "hunter2"), ("ca.pem", "CERT")])).await.expect("secret");
    assert_eq!(info.keys, ["ca.pem", "password"]);
    let listed = serde_json::to_string(&ws.secret_list().await.expect("list")).expect("json");
    assert!(!listed.contains("hunter2"), "{listed}");
    one_datum_input(&ws).await;
    let spec = serde_json::json!({
        "pipeline": {"name": "uses-secrets"},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "datum_tries": 1,
        "transform": {
            "image": var("STRATA_TEST_IMAGE"),
            "secrets": [
                {"name": "db", "key": "password", "env_var": "DB_PASSWORD"},
                {"name": "db", "mount_path": "/var/secrets/db"}
            ],
            "cmd": ["sh", "-c", "echo \"$DB_PASSWORD\" > /pfs/out/env; cat /var/secrets/db/ca.pem > /pfs/out/file; \
                     if echo x > /var/secrets/db/password; then echo writable; else echo read-only; fi > /pfs/out/write"]
        }
    });
    create(&ws, spec).await;

    let job = ws.job_wait("uses-secrets", "latest", 300).await.expect("the job finishes");
    assert_eq!(job.state, JobState::Success, "{job:?}");
    assert_eq!(read(&ws, "uses-secrets", "/env").await.trim(), "hunter2");
    assert_eq!(read(&ws, "uses-secrets", "/file").await.trim(), "CERT");
    assert_eq!(read(&ws, "uses-secrets", "/write").await.trim(), "read-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the test registries: scripts/test.sh runs it"]
async fn an_image_behind_a_password_is_pinned_and_pulled_with_the_pipelines_pull_secret() {
    let image = var("STRATA_TEST_PRIVATE_IMAGE");
    let registry = image.split('/').next().unwrap_or_default().to_owned();
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    one_datum_input(&ws).await;
    let spec = |name: &str, pull_secrets: serde_json::Value| {
        serde_json::json!({
            "pipeline": {"name": name},
            "input": {"pfs": {"repo": "in", "glob": "/"}},
            "transform": {"image": image, "image_pull_secrets": pull_secrets, "cmd": ["sh", "-c", "echo pulled > /pfs/out/ok"]}
        })
    };

    create(&ws, spec("anonymous", serde_json::json!([]))).await;
    let refused = ws.job_wait("anonymous", "latest", 120).await.expect("the job ends");
    assert_eq!(refused.state, JobState::Failure, "{refused:?}");
    let reason = refused.reason.unwrap_or_default();
    assert!(reason.contains("refused access") && reason.contains("image_pull_secrets"), "{reason}");

    let config = serde_json::json!({"auths": {registry.as_str(): {
        "username": var("STRATA_TEST_PRIVATE_USER"), "password": var("STRATA_TEST_PRIVATE_PASSWORD")
    }}});
    ws.secret_put("regcred", &secret(&[(".dockerconfigjson", &config.to_string())])).await.expect("pull secret");
    create(&ws, spec("authorised", serde_json::json!(["regcred"]))).await;
    let job = ws.job_wait("authorised", "latest", 300).await.expect("the job finishes");
    assert_eq!(job.state, JobState::Success, "{job:?}");
    assert!(
        job.image.as_deref().is_some_and(|i| i.starts_with(&format!("{registry}/strata-test/private@sha256:"))),
        "{job:?}"
    );
    assert_eq!(read(&ws, "authorised", "/ok").await.trim(), "pulled");
}

/// One of Pachyderm's example specs, exactly as its users write it, but for
/// the registry its image is pulled from: no internet here, so the test
/// registry holds the images under the names the specs use.
fn pachyderm_example(file: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/opencv").join(file);
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(path).expect("the example")).expect("json");
    let image = spec["transform"]["image"].as_str().expect("an image").to_owned();
    spec["transform"]["image"] = serde_json::json!(format!("{}/{image}", var("STRATA_TEST_OPENCV_REGISTRY")));
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the static helper and the OpenCV image: scripts/test.sh runs it"]
async fn pachyderms_opencv_edges_and_montage_specs_run_unmodified_in_their_images() {
    let app = app_with_containers().await;
    let ws = app.client().workspace("default");
    ws.repo_create("images", "").await.expect("repo");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/opencv");
    for name in ["square.png", "ring.png"] {
        let bytes = std::fs::read(fixtures.join(name)).expect("a picture");
        ws.put("images", "master", &format!("/{name}"), false, false, reqwest::Body::from(bytes)).await.expect("put");
    }

    // python3 and OpenCV read /pfs/images and write /pfs/out, hard-coded in /edges.py.
    create(&ws, pachyderm_example("edges.json")).await;
    let edges = ws.job_wait("edges", "latest", 600).await.expect("the edges job finishes");
    assert_eq!(edges.state, JobState::Success, "{edges:?}");
    assert!(edges.image.as_deref().is_some_and(|image| image.contains("@sha256:")), "pinned: {edges:?}");
    assert_eq!(edges.datums.total, 2, "one datum per image for glob /*");
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    for name in ["square.png", "ring.png"] {
        let response = ws.get_file("edges", "master", &format!("/{name}"), None, None).await.expect("an edge map");
        assert!(response.bytes().await.expect("bytes").starts_with(PNG), "{name} is a PNG");
    }

    // ImageMagick's montage over the cross of both repos, found with `find -L /pfs/...`.
    create(&ws, pachyderm_example("montage.json")).await;
    let montage = ws.job_wait("montage", "latest", 600).await.expect("the montage job finishes");
    assert_eq!(montage.state, JobState::Success, "{montage:?}");
    let response = ws.get_file("montage", "master", "/montage.png", None, None).await.expect("the montage");
    let bytes = response.bytes().await.expect("bytes");
    assert!(bytes.starts_with(PNG) && bytes.len() > 1000, "a picture of {} bytes", bytes.len());
}
