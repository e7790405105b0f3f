//! SCIM provisioning rate, as an identity provider sees it: HTTP requests
//! to `/scim/v2/{org}/Users` against the real application on PostgreSQL
//! (the production control plane), `CONCURRENCY` requests in flight (Okta
//! and Entra send several at once). Creates `COUNT` people of a verified
//! domain, then deactivates each with Entra's PATCH, and prints both rates
//! next to the rate of a trivial request (`GET /healthz`) on the same
//! server, the machine's ceiling for this stack. Exits non-zero when a
//! request fails or a person is not in the state asked for.
//!
//!   cargo bench -p strata-e2e --bench scim                 # COUNT=1000 CONCURRENCY=8
//!   COUNT=200 CONCURRENCY=1 cargo bench -p strata-e2e --bench scim

#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]

use std::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};
use strata_testkit::dns::TestDns;
use strata_testkit::{Backend, TestApp, TestOptions};

mod support;

use support::env;

/// Verifies `bench.test` for the local organisation and returns a SCIM token.
async fn set_up(app: &TestApp, dns: &TestDns) -> String {
    app.verify_local_domain(dns, "bench.test").await;
    let issue = "mutation($input: IssueScimTokenInput!) { issueScimToken(input: $input) { token } }";
    let issued = app.admin_graphql(issue, json!({ "organization": "local" })).await;
    issued["data"]["issueScimToken"]["token"].as_str().expect("a SCIM token").to_owned()
}

/// Runs `requests` with `concurrency` in flight; returns requests per second.
async fn rate<F>(count: usize, concurrency: usize, request: impl Fn(usize) -> F) -> f64
where
    F: Future<Output = ()>,
{
    let started = Instant::now();
    futures::stream::iter((0..count).map(request)).buffer_unordered(concurrency).collect::<Vec<()>>().await;
    count as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let count = env("COUNT", 1000);
    let concurrency = env("CONCURRENCY", 8);
    let dns = TestDns::start().await;
    let app = TestApp::spawn_with_options(
        Backend::Postgres,
        // The enterprise plan's seats hold every person the bench makes.
        TestOptions {
            dns_server: Some(dns.addr()),
            org_plans: Some("local=enterprise".into()),
            ..TestOptions::default()
        },
    )
    .await;
    let token = set_up(&app, &dns).await;
    let http = reqwest::Client::new();
    let base = format!("{}/scim/v2/local", app.address);
    let ids = std::sync::Mutex::new(vec![String::new(); count]);

    let ceiling = rate(count, concurrency, |_| async {
        let answer = http.get(format!("{}/healthz", app.address)).send().await.expect("GET /healthz");
        assert!(answer.status().is_success());
    })
    .await;
    let created = rate(count, concurrency, |n| {
        let (http, base, token, ids) = (&http, &base, &token, &ids);
        async move {
            let email = format!("person{n}@bench.test");
            let body = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                "emails": [{ "primary": true, "value": email }], "active": true, "externalId": format!("ext-{n}") });
            let answer =
                http.post(format!("{base}/Users")).bearer_auth(token).json(&body).send().await.expect("POST /Users");
            assert_eq!(answer.status(), 201, "creating {email}");
            let person: Value = answer.json().await.expect("a user");
            ids.lock().expect("ids")[n] = person["id"].as_str().expect("an id").to_owned();
        }
    })
    .await;
    let deactivated = rate(count, concurrency, |n| {
        let (http, base, token, ids) = (&http, &base, &token, &ids);
        async move {
            let id = ids.lock().expect("ids")[n].clone();
            let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
            let answer =
                http.patch(format!("{base}/Users/{id}")).bearer_auth(token).json(&patch).send().await.expect("PATCH");
            assert_eq!(answer.status(), 200, "deactivating {id}");
            let person: Value = answer.json().await.expect("a user");
            assert_eq!(person["active"], false, "{person}");
        }
    })
    .await;
    println!("SCIM on PostgreSQL, {count} people, {concurrency} requests in flight");
    println!("  GET /healthz (ceiling)     {ceiling:>8.0} requests/s");
    println!("  create (POST /Users)       {created:>8.0} people/s");
    println!("  deactivate (PATCH active)  {deactivated:>8.0} people/s");
    let goal = 200.0;
    if created < goal || deactivated < goal {
        println!("  below the goal of {goal} people/s");
    }
}
