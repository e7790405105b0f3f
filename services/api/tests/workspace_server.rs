//! What a workspace server accepts (issue: a workspace's service secret was
//! an admin key with no audit). Its secret is no credential; the gateway's
//! forwarded credentials are bound to one request and role; a worker's
//! credential serves its own pipeline's tasks and nothing else.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use reqwest::Method;
use serde_json::{Value, json};
use strata_core::workspace_credentials::{FORWARD_LIFETIME_SECS, ForwardedRequest, ServiceScope};
use strata_testkit::TestWorkspaceServer;

const SLUG: &str = "wsa";
const SECRET: &str = "sts_0123456789abcdef0123456789abcdef";

struct Server {
    base: String,
    http: reqwest::Client,
    _server: TestWorkspaceServer,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    async fn start_with(secrets_keys: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = TestWorkspaceServer::start(dir.path(), SLUG, SECRET, secrets_keys).await;
        let base = format!("http://127.0.0.1:{}/v1/workspaces/{SLUG}", server.port);
        Server { base, http: reqwest::Client::new(), _server: server, _dir: dir }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A request as the gateway forwards it for someone with `role`.
    async fn as_person(&self, role: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        // The gateway vouches for the path; the query is not part of it.
        let vouched_path = path.split('?').next().unwrap_or(path);
        let token =
            vouched(role, method.as_str(), vouched_path, chrono::Utc::now().timestamp() + FORWARD_LIFETIME_SECS);
        self.call(method, path, &token, body).await
    }
}

fn vouched(role: &str, method: &str, path: &str, expires: i64) -> String {
    ForwardedRequest {
        workspace: SLUG.into(),
        actor: "9d3c2a4e-0000-4000-8000-000000000001".into(),
        token_id: None,
        role: role.into(),
        method: method.into(),
        path: path.into(),
        expires,
        limits: None,
    }
    .seal(SECRET)
}

fn worker(pipeline: &str) -> String {
    ServiceScope::Pipeline(pipeline.into()).credential(SECRET, SLUG)
}

#[tokio::test]
async fn the_service_secret_itself_is_no_credential() {
    let server = Server::start().await;
    let (status, body) = server.call(Method::GET, "/repos", SECRET, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHENTICATED")), "{body}");
    let (status, _) = server.call(Method::GET, "/repos", "stc_load.00", None).await;
    assert_eq!(status, 401, "a made-up credential");
    let (status, _) = server.as_person("reader", Method::GET, "/repos", None).await;
    assert_eq!(status, 200, "what the gateway vouches for");
}

#[tokio::test]
async fn forwarded_credentials_carry_a_role_that_is_checked_again_and_serve_one_request() {
    let server = Server::start().await;
    let created = server.as_person("writer", Method::POST, "/repos", Some(json!({"name": "victim"}))).await;
    assert_eq!(created.0, 201, "{created:?}");

    let (status, body) = server.as_person("writer", Method::DELETE, "/repos/victim", None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")), "deleting a repo needs admin: {body}");

    // Vouched for one path, replayed on another; for one method, used with another.
    let other = vouched("admin", "DELETE", "/repos/other", chrono::Utc::now().timestamp() + 30);
    assert_eq!(server.call(Method::DELETE, "/repos/victim", &other, None).await.0, 403);
    let read = vouched("admin", "GET", "/repos/victim", chrono::Utc::now().timestamp() + 30);
    assert_eq!(server.call(Method::DELETE, "/repos/victim", &read, None).await.0, 403);
    let expired = vouched("admin", "DELETE", "/repos/victim", chrono::Utc::now().timestamp() - 1);
    assert_eq!(server.call(Method::DELETE, "/repos/victim", &expired, None).await.0, 401);
    let forged =
        vouched("admin", "DELETE", "/repos/victim", chrono::Utc::now().timestamp() + 30).replacen("sta_", "sta_x", 1);
    assert_eq!(server.call(Method::DELETE, "/repos/victim", &forged, None).await.0, 401);
    assert_eq!(server.as_person("reader", Method::GET, "/repos/victim", None).await.0, 200, "victim survived");

    let (status, _) = server.as_person("admin", Method::DELETE, "/repos/victim", None).await;
    assert_eq!(status, 200, "an admin deletes");
}

#[tokio::test]
async fn a_worker_credential_serves_its_pipelines_tasks_and_nothing_else() {
    let server = Server::start().await;
    server.as_person("writer", Method::POST, "/repos", Some(json!({"name": "numbers"}))).await;
    let put = server.http.put(format!("{}/repos/numbers/refs/master/files/1.txt", server.base));
    let token = vouched("writer", "PUT", "/repos/numbers/refs/master/files/1.txt", chrono::Utc::now().timestamp() + 30);
    assert!(put.bearer_auth(token).body("1\n").send().await.unwrap().status().is_success());
    for name in ["a", "b"] {
        let spec = json!({"pipeline": {"name": name}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
                          "transform": {"cmd": ["cp", "-r", "/pfs/numbers", "/pfs/out/"]}});
        let (status, body) =
            server.as_person("writer", Method::POST, "/pps/pipelines", Some(json!({"spec": spec.to_string()}))).await;
        assert_eq!(status, 201, "{body}");
    }

    let as_a = worker("a");
    let (status, body) = server.call(Method::DELETE, "/repos/numbers", &as_a, None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")), "no repo deletes: {body}");
    let spec = json!({"spec": "{\"pipeline\":{\"name\":\"evil\"},\"input\":{\"pfs\":{\"repo\":\"numbers\",\"glob\":\"/\"}},\"transform\":{\"cmd\":[\"true\"]}}"});
    assert_eq!(server.call(Method::POST, "/pps/pipelines", &as_a, Some(spec)).await.0, 403, "no pipelines");
    assert_eq!(server.call(Method::GET, "/repos/numbers/refs/master/files/1.txt", &as_a, None).await.0, 403);
    assert_eq!(server.call(Method::GET, "/pps/load", &as_a, None).await.0, 403);

    // B's task, pulled with B's credential: A can neither pull it nor read its inputs.
    let pull = |pipeline: &str| json!({"pipeline": pipeline, "worker": format!("w-{pipeline}"), "wait_ms": 20_000});
    let (status, _) = server.call(Method::POST, "/pps/tasks/pull", &as_a, Some(pull("b"))).await;
    assert_eq!(status, 404, "another pipeline's queue");
    let (status, task) = server.call(Method::POST, "/pps/tasks/pull", &worker("b"), Some(pull("b"))).await;
    assert_eq!(status, 200, "b's worker gets b's task: {task}");
    let delivery = task["delivery"].as_str().unwrap().to_owned();
    let inputs = format!("/pps/tasks/{delivery}/inputs");
    assert_eq!(server.call(Method::GET, &inputs, &as_a, None).await.0, 404, "another pipeline's inputs");
    let beat = json!({"delivery": delivery, "worker": "w-a"});
    assert_eq!(server.call(Method::POST, "/pps/tasks/heartbeat", &as_a, Some(beat.clone())).await.0, 404);
    assert_eq!(
        server
            .call(
                Method::POST,
                "/pps/tasks/result",
                &as_a,
                Some(json!({"delivery": delivery, "worker": "w-a", "datums": []}))
            )
            .await
            .0,
        404
    );
    let response = server.http.get(format!("{}{inputs}", server.base)).bearer_auth(worker("b")).send().await.unwrap();
    assert_eq!(response.status(), 200, "its own inputs");

    // Outputs go into a commit of its own output repo, by id, as a tar: not into another repo or a branch.
    let tar_into = |repo: &str, reference: &str| format!("/repos/{repo}/refs/{reference}/tar/");
    let job = task["job"].as_str().unwrap();
    assert_eq!(server.call(Method::POST, &tar_into("numbers", job), &worker("b"), None).await.0, 403);
    assert_eq!(server.call(Method::POST, &tar_into("b", "master"), &worker("b"), None).await.0, 403);
    assert_eq!(server.call(Method::POST, &tar_into("b", job), &as_a, None).await.0, 403);
    assert_eq!(server.call(Method::PUT, &format!("/repos/b/refs/{job}/files/x"), &worker("b"), None).await.0, 403);

    // The provisioner's credential reads the load and nothing else.
    let load = ServiceScope::Load.credential(SECRET, SLUG);
    assert_eq!(server.call(Method::GET, "/pps/load", &load, None).await.0, 200);
    assert_eq!(server.call(Method::GET, "/repos", &load, None).await.0, 403);
    // Credentials of another workspace's secret are not this one's.
    let foreign = ServiceScope::Pipeline("b".into()).credential("sts_other", SLUG);
    assert_eq!(server.call(Method::POST, "/pps/tasks/pull", &foreign, Some(pull("b"))).await.0, 401);
}

#[tokio::test]
async fn only_the_provisioners_pod_secrets_credential_reads_the_values_a_pipelines_pods_use() {
    let keys = strata_core::master_key::MasterKeys::generate().derive("workspace-server test");
    let server = Server::start_with(Some(keys.to_list())).await;
    server.as_person("writer", Method::POST, "/repos", Some(json!({"name": "numbers"}))).await;
    let secret = json!({"data": {"password": "hunter2"}});
    assert_eq!(server.as_person("writer", Method::PUT, "/pps/secrets/db", Some(secret)).await.0, 200);
    let spec = json!({"pipeline": {"name": "a"}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
                      "transform": {"cmd": ["true"], "secrets": [{"name": "db", "key": "password", "env_var": "PW"}]}});
    let created =
        server.as_person("writer", Method::POST, "/pps/pipelines", Some(json!({"spec": spec.to_string()}))).await;
    assert_eq!(created.0, 201, "{created:?}");

    let path = "/pps/pipelines/a/pod-secrets";
    let reader = ServiceScope::PodSecrets.credential(SECRET, SLUG);
    let (status, body) = server.call(Method::GET, path, &reader, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["env"]["PW"], "hunter2");
    // Nobody else: not an admin the gateway vouches for, not the pipeline's workers, not the load reader.
    let (status, body) = server.as_person("admin", Method::GET, path, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains("hunter2"));
    assert_eq!(server.call(Method::GET, path, &worker("a"), None).await.0, 403);
    let load = ServiceScope::Load.credential(SECRET, SLUG);
    assert_eq!(server.call(Method::GET, path, &load, None).await.0, 403);
    // And the pod-secrets credential reads nothing else.
    assert_eq!(server.call(Method::GET, "/pps/secrets", &reader, None).await.0, 403);
    assert_eq!(server.call(Method::GET, "/repos", &reader, None).await.0, 403);
    // The load says which version of the secrets the pods hold, never the values.
    let (_, loads) = server.call(Method::GET, "/pps/load", &load, None).await;
    assert!(loads[0]["pod"]["secrets_version"].is_string(), "{loads}");
    assert!(!loads.to_string().contains("hunter2"));
}

#[tokio::test]
async fn the_usage_credential_reads_the_usage_outbox_and_the_storage_total_and_nothing_else() {
    let server = Server::start().await;
    let usage = ServiceScope::Usage.credential(SECRET, SLUG);
    let (status, records) = server.call(Method::GET, "/pps/usage/records?after=0", &usage, None).await;
    assert_eq!(status, 200, "{records}");
    assert_eq!(records, json!([]), "a fresh workspace has recorded no usage");
    let (status, stored) = server.call(Method::GET, "/storage/total", &usage, None).await;
    assert_eq!((status, stored), (200, json!({ "bytes": 0 })));
    let month = "/pps/usage?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";
    for path in [month, "/pps/load", "/pps/secrets", "/repos", "/storage"] {
        assert_eq!(server.call(Method::GET, path, &usage, None).await.0, 403, "{path}");
    }
    assert_eq!(server.call(Method::POST, "/repos", &usage, Some(json!({"name": "x"}))).await.0, 403);
    // Another workspace's usage credential is no credential here.
    let elsewhere = ServiceScope::Usage.credential(SECRET, "another");
    assert_eq!(server.call(Method::GET, "/pps/usage/records", &elsewhere, None).await.0, 401);
    // A pipeline's workers do not read it.
    assert_eq!(server.call(Method::GET, "/pps/usage/records", &worker("a"), None).await.0, 403);
    // A reader the gateway vouches for sees the month's usage by pipeline.
    let (status, by_pipeline) = server.as_person("reader", Method::GET, month, None).await;
    assert_eq!((status, by_pipeline), (200, json!([])));
    let backwards = "/pps/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z";
    let (status, refused) = server.as_person("reader", Method::GET, backwards, None).await;
    assert_eq!(status, 400, "{refused}");
}
