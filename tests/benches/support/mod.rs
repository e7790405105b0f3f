//! What the hub benchmarks share: GraphQL as the local administrator, a
//! verified domain, and latency percentiles.

#![allow(dead_code, reason = "each benchmark uses the part it needs")]

use std::time::Duration;

use serde_json::{Value, json};
use strata_testkit::TestApp;
use strata_testkit::dns::TestDns;

/// A count from the environment variable `name`, else `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs one GraphQL operation with `input` as its `$input`, as the local
/// administrator; panics on a transport error or `errors`.
pub async fn graphql(app: &TestApp, query: &str, input: Value) -> Value {
    let body = json!({ "query": query, "variables": { "input": input } });
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .expect("POST /graphql");
    let answer: Value = response.json().await.expect("a JSON answer");
    assert!(answer.get("errors").is_none(), "{query}: {answer}");
    answer
}

/// Claims `domain` for the local organisation, publishes its TXT record on
/// `dns` and verifies it.
pub async fn verify_domain(app: &TestApp, dns: &TestDns, domain: &str) {
    let claim =
        "mutation($input: ClaimDomainInput!) { claimDomain(input: $input) { domain { recordName recordValue } } }";
    let claimed = graphql(app, claim, json!({ "organization": "local", "domain": domain })).await;
    let record = &claimed["data"]["claimDomain"]["domain"];
    dns.set_txt(
        record["recordName"].as_str().expect("a record name"),
        vec![record["recordValue"].as_str().expect("a value").to_owned()],
    );
    let verify = "mutation($input: VerifyDomainInput!) { verifyDomain(input: $input) { domain { verified } } }";
    let verified = graphql(app, verify, json!({ "organization": "local", "domain": domain })).await;
    assert_eq!(verified["data"]["verifyDomain"]["domain"]["verified"], true, "{verified}");
}

/// The `q` quantile (0.5 for the median) of `samples`, in milliseconds.
pub fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}
