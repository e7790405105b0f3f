//! The foundation every service builds on: probes, metrics, GraphQL,
//! tracing headers, storage isolation and persistence across restarts.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use strata_testkit::{Backend, TestApp, TestOptions, on_both_backends};

async fn instance_ids(app: &TestApp) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let rows =
        app.db.query_all_raw(Statement::from_string(backend, "SELECT id FROM instance")).await.expect("query instance");
    rows.iter()
        .map(|row| match backend {
            DbBackend::Postgres => row.try_get::<uuid::Uuid>("", "id").expect("uuid").to_string(),
            // SQLite keeps UUIDs as 16-byte blobs.
            _ => uuid::Uuid::from_slice(&row.try_get::<Vec<u8>>("", "id").expect("blob id")).expect("uuid").to_string(),
        })
        .collect()
}

on_both_backends! {
    async fn readiness_reports_database_and_object_store_ready(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let readiness = app.client().readyz().await.expect("readyz");
        assert_eq!(readiness.status, "ready");
        assert_eq!(readiness.version, strata_core::VERSION);
        for name in ["database", "object_store"] {
            let check = &readiness.checks[name];
            assert!(check.ok, "{name}: {:?}", check.error);
        }
    }
}

on_both_backends! {
    async fn restarting_on_the_same_data_keeps_the_installation(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let before = instance_ids(&app).await;
        assert_eq!(before.len(), 1, "exactly one installation row");
        let app = app.restart().await;
        assert_eq!(instance_ids(&app).await, before);
        assert_eq!(app.client().readyz().await.expect("readyz").status, "ready");
    }
}

on_both_backends! {
    async fn each_test_gets_a_database_no_other_test_sees(backend: Backend) {
        let (first, second) = tokio::join!(TestApp::spawn(backend), TestApp::spawn(backend));
        assert_ne!(instance_ids(&first).await, instance_ids(&second).await);
        first.db.execute_unprepared("CREATE TABLE scratch (note TEXT)").await.expect("create");
        first.db.execute_unprepared("INSERT INTO scratch VALUES ('only in the first')").await.expect("insert");
        let seen = second.db.execute_unprepared("SELECT note FROM scratch").await;
        assert!(seen.is_err(), "the second database must not have the first one's table");
    }
}

on_both_backends! {
    async fn graphql_answers_the_server_version(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let version = app.client().version().await.expect("version");
        assert_eq!(version.server, strata_core::VERSION);
        assert_eq!(version.api, 1);
    }
}

#[tokio::test]
async fn graphql_also_answers_queries_sent_by_get() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body: serde_json::Value = reqwest::get(format!("{}/graphql?query=%7Bversion%7Bserver%7D%7D", app.address))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(body["data"]["version"]["server"], strata_core::VERSION);
}

#[tokio::test]
async fn browsers_opening_graphql_get_an_explorer_that_loads_nothing_from_other_origins() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unpkg") && !csp.contains("https:"), "{csp}");
    let page = response.text().await.expect("text");
    assert!(!page.contains("://") && !page.contains("\"//"), "the page names another origin: {page}");
    let mut referenced = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for value in page.split(attribute).skip(1) {
            referenced.push(value.split('"').next().expect("a value").to_owned());
        }
    }
    assert!(!referenced.is_empty(), "{page}");
    for path in referenced {
        assert!(path.starts_with('/') && !path.starts_with("//"), "{path}");
        let file = client.get(format!("{}{path}", app.address)).send().await.expect("GET");
        assert_eq!(file.status(), 200, "{path}");
        let text = file.text().await.expect("text");
        assert!(!text.contains("://"), "{path} names another origin");
    }
}

#[tokio::test]
async fn invalid_graphql_is_a_graphql_error_not_a_crash() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let error = app
        .client()
        .graphql::<serde_json::Value>("{ nosuchfield }", serde_json::json!({}))
        .await
        .expect_err("unknown field");
    assert!(error.to_string().contains("nosuchfield"), "{error}");
    assert!(error.is_user_error());
}

#[tokio::test]
async fn unknown_paths_answer_404_with_a_json_error() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = reqwest::get(format!("{}/no/such/thing", app.address)).await.expect("GET");
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], "NOT_FOUND");
    assert!(body["message"].as_str().expect("message").contains("/no/such/thing"));
}

#[tokio::test]
async fn the_console_is_served_with_cache_headers_and_routes_to_index() {
    let web = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(web.path().join("assets")).expect("assets");
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>Strata</title>").expect("index");
    std::fs::write(web.path().join("assets/app-3f2a9c.js"), "console.log(1)").expect("asset");
    std::fs::write(web.path().join("favicon.svg"), "<svg/>").expect("favicon");
    let options = TestOptions { web_dir: Some(web.path().to_path_buf()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Sqlite, options).await;
    let client = reqwest::Client::new();
    let page = |path: &str| client.get(format!("{}{path}", app.address)).header("accept", "text/html,*/*").send();

    for path in ["/", "/orgs/acme/workspaces", "/w/acme/ci/pipelines/edges"] {
        let response = page(path).await.expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(response.text().await.expect("body").contains("<title>Strata</title>"), "{path}");
    }
    let asset = client.get(format!("{}/assets/app-3f2a9c.js", app.address)).send().await.expect("GET");
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(asset.headers()["content-type"].to_str().expect("type").starts_with("text/javascript"));
    let favicon = client.get(format!("{}/favicon.svg", app.address)).send().await.expect("GET");
    assert_eq!(favicon.headers()["content-type"], "image/svg+xml");

    for missing in ["/assets/nope.js", "/assets/..%2Findex.html", "/nope.png"] {
        let response = page(missing).await.expect("GET");
        assert_eq!(response.status(), 404, "{missing}");
    }
    // API paths keep their JSON answers, even for a browser.
    let api = page("/v1/nothing").await.expect("GET");
    assert_eq!(api.status(), 404);
    assert_eq!(api.json::<serde_json::Value>().await.expect("json")["code"], "NOT_FOUND");
}

#[tokio::test]
async fn without_a_built_console_pages_say_how_to_build_it() {
    let options = TestOptions { web_dir: Some("/nonexistent/web/dist".into()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Sqlite, options).await;
    let response = reqwest::Client::new().get(&app.address).header("accept", "text/html").send().await.expect("GET");
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    assert!(body.contains("not built") && body.contains("scripts/web.sh"), "{body}");
}

#[tokio::test]
async fn metrics_expose_request_durations_by_route() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.client().healthz().await.expect("healthz");
    let (_, text) = get_metrics(&app.address, Some(&app.metrics_token)).await;
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"), "{text}");
    let healthz_count = text
        .lines()
        .find(|line| {
            line.starts_with("http_server_request_duration_seconds_count") && line.contains("http_route=\"/healthz\"")
        })
        .unwrap_or_else(|| panic!("no /healthz series in:\n{text}"));
    assert!(healthz_count.contains("http_response_status_code=\"200\""), "{healthz_count}");
}

#[tokio::test]
async fn an_incoming_trace_context_is_continued() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", app.address))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .expect("GET");
    let traceresponse = response.headers()["traceresponse"].to_str().expect("ascii").to_owned();
    let parts: Vec<&str> = traceresponse.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceresponse}");
    assert_eq!(parts[1], trace_id, "the server span joins the caller's trace");
    assert_ne!(parts[2], "00f067aa0ba902b7", "with a span of its own");
}

#[tokio::test]
async fn a_broken_object_store_makes_the_server_unready_and_says_why() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Replace the object directory with a plain file: writes now fail.
    let objects = app.data_dir.join("objects");
    std::fs::remove_dir_all(&objects).expect("remove objects");
    std::fs::write(&objects, b"not a directory").expect("write file");
    let response = reqwest::get(format!("{}/readyz", app.address)).await.expect("GET");
    assert_eq!(response.status(), 503);
    let readiness: strata_api_types::Readiness = response.json().await.expect("json");
    assert_eq!(readiness.status, "unavailable");
    assert!(readiness.checks["database"].ok);
    assert!(!readiness.checks["object_store"].ok);
    assert!(readiness.checks["object_store"].error.is_some());
}

/// The most connections the app's request pool holds.
fn pool_size(app: &TestApp) -> u32 {
    match app.backend() {
        Backend::Postgres => app.pool.get_postgres_connection_pool().options().get_max_connections(),
        Backend::Sqlite => app.pool.get_sqlite_connection_pool().options().get_max_connections(),
    }
}

on_both_backends! {
    /// Load that takes every connection of the request pool must not make a
    /// healthy server look dead: the probe has a connection of its own.
    async fn readiness_answers_while_the_request_pool_is_exhausted(backend: Backend) {
        use sea_orm::TransactionTrait;
        let app = TestApp::spawn(backend).await;
        let mut held = Vec::new();
        for _ in 0..pool_size(&app) {
            held.push(app.pool.begin().await.expect("a pooled connection"));
        }
        let readiness = app.client().readyz().await.expect("readyz");
        assert_eq!(readiness.status, "ready", "{:?}", readiness.checks);
        assert!(readiness.checks["database"].ok, "{:?}", readiness.checks["database"]);
        drop(held);
    }
}

/// `GET /metrics` on `address` with `token`, if any: status and body.
async fn get_metrics(address: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{address}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET /metrics");
    (response.status().as_u16(), response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_on_the_public_address_need_the_metrics_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = get_metrics(&app.address, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("strata_db_queries"), "{body}");
    assert_eq!(get_metrics(&app.address, Some("a-guess-of-sixteen-chars")).await.0, 401);
    assert_eq!(
        get_metrics(&app.address, Some(&app.admin_token)).await.0,
        401,
        "an admin token is not the metrics token"
    );
    let (status, body) = get_metrics(&app.address, Some(&app.metrics_token)).await;
    assert_eq!(status, 200);
    assert!(body.contains("strata_db_queries_total"), "{body}");
}

#[tokio::test]
async fn with_metrics_listen_the_public_address_refuses_metrics_and_the_private_one_serves_them() {
    let options = TestOptions { metrics_listen: true, ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Sqlite, options).await;
    let private = app.metrics_address.clone().expect("a metrics address");
    let (status, body) = get_metrics(&private, None).await;
    assert_eq!(status, 200, "no credentials on the private address");
    assert!(body.contains("strata_db_queries_total"), "{body}");
    assert_eq!(get_metrics(&private, None).await.0, 200);
    let other = reqwest::get(format!("{private}/graphql")).await.expect("GET");
    assert_eq!(other.status(), 404, "the metrics address serves nothing else");
    let (status, body) = get_metrics(&app.address, None).await;
    assert_eq!(status, 404, "the public address serves no metrics: {body}");
    assert!(!body.contains("strata_db_queries"), "{body}");
}
