//! What one request and one tenant may cost: upstream calls counted in the
//! GraphQL complexity with a cap, a bound on each organisation's calls in
//! flight to its workspace servers, and one log-in per request.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn gql(app: &TestApp, query: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// Sum of the series of `name` on `/metrics` whose line contains `filter`.
pub(crate) async fn metric(app: &TestApp, name: &str, filter: &str) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", app.address))
        .bearer_auth(&app.metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(filter))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Requests the embedded workspace's HTTP endpoints have answered so far
/// (what the gateway forwards to them; GraphQL calls the embedded
/// workspace in-process).
async fn workspace_server_requests(app: &TestApp) -> f64 {
    metric(app, "http_server_request_duration_seconds_count", "/v1/workspaces/{workspace}").await
}

/// Calls GraphQL has made to workspaces hosted by this server so far.
async fn in_process_calls(app: &TestApp) -> f64 {
    metric(app, "strata_graphql_workspace_calls_total", "reached=\"in_process\"").await
}

/// `n` aliased `workspace { repos { name } }` fields.
fn fan_out(n: usize) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| format!("w{i}: workspace(organization: \"local\", slug: \"default\") {{ repos {{ name }} }}"))
        .collect();
    format!("{{ {} }}", fields.join(" "))
}

/// SQL statements the server ran answering requests so far.
async fn request_statements(app: &TestApp) -> f64 {
    metric(app, "strata_db_queries_total", "origin=\"request\"").await
}

/// The statements one GraphQL query costs.
async fn statements_of(app: &TestApp, query: &str) -> f64 {
    let before = request_statements(app).await;
    let body = gql(app, query).await;
    assert!(body["errors"].is_null(), "{body}");
    request_statements(app).await - before
}

#[tokio::test]
async fn a_workspace_is_resolved_once_per_request_however_many_fields_name_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let aliased = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("r{i}: repos {{ name }}")).collect();
        format!("{{ workspace(organization: \"local\", slug: \"default\") {{ {} }} }}", fields.join(" "))
    };
    let one = statements_of(&app, &aliased(1)).await;
    let eight = statements_of(&app, &aliased(8)).await;
    // Each further field costs the workspace server's own statements for
    // listing repos, and nothing else: no second lookup of the caller, the
    // organisation, the workspace or the caller's roles in the hub (four or
    // more statements per field when every field went through the
    // gateway), so less than a REST listing, which authenticates its caller.
    let rest = app.client().workspace("default");
    let before = request_statements(&app).await;
    rest.repo_list().await.unwrap();
    let listing_with_auth = request_statements(&app).await - before;
    let per_field = (eight - one) / 7.0;
    assert!(
        per_field < listing_with_auth,
        "each further field cost {per_field} statements (one: {one}, eight: {eight}); \
         an authenticated REST listing costs {listing_with_auth}"
    );
}

#[tokio::test]
async fn a_query_with_more_upstream_calls_than_the_cap_is_refused_before_any_call() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = in_process_calls(&app).await;
    let body = gql(&app, &fan_out(330)).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "TOO_COMPLEX", "{body}");
    assert_eq!((error["extensions"]["cost"].as_i64(), error["extensions"]["limit"].as_i64()), (Some(330), Some(100)));
    assert!(body["data"].is_null(), "nothing ran: {body}");
    assert_eq!(in_process_calls(&app).await, before, "no workspace was called");

    // Fields that run once per item of a list count ten calls each: 52 per copy.
    let nested = "workspace(organization: \"local\", slug: \"default\") { repos { branches { name } commits { id } files { path } } pipelines { jobs { id datumList { id } } } }";
    let body = gql(&app, &format!("{{ a: {nested} b: {nested} }}")).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "TOO_COMPLEX", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["cost"], 104);
    assert_eq!(in_process_calls(&app).await, before, "still no workspace was called");

    // Under the cap, the query runs and calls the workspace.
    let body = gql(&app, &fan_out(40)).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(in_process_calls(&app).await, before + 40.0);
}

#[tokio::test]
async fn graphql_calls_the_workspace_this_server_hosts_in_process_not_over_http() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.client().workspace("default");
    ws.repo_create("images", "").await.unwrap();
    let over_http = workspace_server_requests(&app).await;
    let in_process = in_process_calls(&app).await;

    let query = "{ workspace(organization: \"local\", slug: \"default\") { repos { name branches { name } } pipelines { name } } }";
    let body = gql(&app, query).await;
    assert_eq!(body["data"]["workspace"]["repos"][0]["name"], "images", "{body}");
    let mutation = "mutation { createRepo(input: { target: { organization: \"local\", workspace: \"default\" }, name: \"more\" }) { repo { name } userErrors { code } } }";
    let body = gql(&app, mutation).await;
    assert_eq!(body["data"]["createRepo"]["repo"]["name"], "more", "{body}");

    assert_eq!(in_process_calls(&app).await, in_process + 4.0, "repos, branches, pipelines, createRepo");
    assert_eq!(workspace_server_requests(&app).await, over_http, "no HTTP request to a workspace endpoint");
}

#[tokio::test]
async fn a_request_may_carry_one_login() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let aliased: Vec<String> = (0..2)
        .map(|i| format!("l{i}: logIn(input: {{ email: \"carol@example.com\", password: \"guess number {i} xx\" }}) {{ userErrors {{ code }} }}"))
        .collect();
    let via_fragment = "mutation { ...a logIn(input: { email: \"c@example.com\", password: \"guess number 3 xx\" }) { userErrors { code } } } \
                        fragment a on Mutation { requestPasswordReset(input: { email: \"c@example.com\" }) { ok } }";
    for query in [format!("mutation {{ {} }}", aliased.join(" ")), via_fragment.to_owned()] {
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "TOO_MANY_AUTH_MUTATIONS", "{body}");
        assert!(body["data"].is_null(), "none ran: {body}");
    }
}

/// A workspace server stand-in that counts requests in flight and holds
/// each until the test opens the gate.
struct HeldUpstream {
    address: String,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    gate: Arc<tokio::sync::Semaphore>,
    arrived: Arc<tokio::sync::Notify>,
}

impl HeldUpstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let upstream = HeldUpstream {
            address,
            in_flight: Arc::default(),
            most: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            arrived: Arc::default(),
        };
        let (in_flight, most, gate, arrived) =
            (upstream.in_flight.clone(), upstream.most.clone(), upstream.gate.clone(), upstream.arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (in_flight, most, gate, arrived) = (in_flight.clone(), most.clone(), gate.clone(), arrived.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        let Ok(n) = socket.read(&mut buffer).await else { return };
                        if n == 0 {
                            return;
                        }
                        head.extend_from_slice(&buffer[..n]);
                    }
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    arrived.notify_waiters();
                    gate.acquire().await.unwrap().forget();
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]";
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        upstream
    }
}

/// Points the workspace `local/<slug>` at `endpoint`, as a provisioner would.
async fn serve_workspace_at(app: &TestApp, slug: &str, endpoint: &str) {
    let hub = strata_hub::Hub::open(
        app.db.clone(),
        Arc::new(strata_hub::OutboxMailer::new(app.data_dir.join("outbox"))),
        strata_hub::HubSettings::new(app.settings.hub.master_key.load().expect("the app's master key")),
    )
    .await
    .unwrap();
    app.client().create_workspace("local", slug, None, None, None).await.unwrap();
    let desired = hub.provisioner_workspaces().await.unwrap();
    let id = desired.iter().find(|w| w.slug == slug).expect("the new workspace").id;
    hub.ensure_service_secret(id).await.unwrap();
    let status = strata_hub::ObservedStatus {
        state: strata_hub::WorkspaceState::Ready,
        endpoint: Some(endpoint.to_owned()),
        conditions: Vec::new(),
    };
    assert!(hub.record_status(id, 1, status).await.unwrap());
}

#[tokio::test]
async fn one_organisation_never_has_more_calls_in_flight_than_its_bound() {
    const BOUND: usize = 16;
    const CALLS: usize = BOUND + 6;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let upstream = HeldUpstream::start().await;
    serve_workspace_at(&app, "held", &upstream.address).await;
    let url = format!("{}/v1/orgs/local/workspaces/held/repos", app.address);
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let (url, token) = (url.clone(), app.admin_token.clone());
            tokio::spawn(
                async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status() },
            )
        })
        .collect();
    // Wait until every call is accounted for: at the upstream or queued at the gateway.
    let accounted = async {
        loop {
            let arrived = upstream.arrived.notified();
            let waiting = metric(&app, "strata_gateway_upstream_waiting", "").await as usize;
            if upstream.in_flight.load(Ordering::SeqCst) + waiting >= CALLS {
                return waiting;
            }
            // Woken by an arrival upstream, or look again shortly for the queue.
            let _ = tokio::time::timeout(Duration::from_millis(50), arrived).await;
        }
    };
    let waiting = tokio::time::timeout(Duration::from_secs(60), accounted).await.expect("all calls accounted for");
    assert_eq!(upstream.in_flight.load(Ordering::SeqCst), BOUND, "the bound is reached, not passed");
    assert_eq!(waiting, CALLS - BOUND, "the rest wait their turn");
    upstream.gate.add_permits(CALLS);
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(upstream.most.load(Ordering::SeqCst), BOUND, "never more than {BOUND} at once");
}
