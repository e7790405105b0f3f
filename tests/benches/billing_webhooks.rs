//! Stripe webhook handling latency, as Stripe sees it: `POST
//! /webhooks/stripe` with a signed `customer.subscription.updated` event,
//! one at a time, against the real application on PostgreSQL with the
//! local Stripe double as Stripe. Each event is verified, looked up among
//! the handled ones, its subscription read again from the double and
//! applied, and its id stored. Printed next to a trivial request on the
//! same server (`GET /healthz`) and to the double's own answer time for the
//! subscription read, the two floors of this path. Also the answer to a
//! replayed event. Exits non-zero when an answer is not the expected one.
//!
//!   cargo bench -p strata-e2e --bench billing_webhooks          # COUNT=500
//!   COUNT=100 cargo bench -p strata-e2e --bench billing_webhooks

#![allow(clippy::print_stdout, reason = "a benchmark's report is its output")]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_testkit::stripe::StripeDouble;
use strata_testkit::{Backend, TestApp, TestOptions};

mod support;

use support::{env, quantile_ms};

async fn timed<F: Future<Output = ()>>(count: usize, mut request: impl FnMut(usize) -> F) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for n in 0..count {
        let started = Instant::now();
        request(n).await;
        samples.push(started.elapsed());
    }
    samples
}

fn line(name: &str, samples: &[Duration]) {
    println!("  {name:<38} p50 {:>7.2} ms   p95 {:>7.2} ms", quantile_ms(samples, 0.5), quantile_ms(samples, 0.95));
}

/// Subscribes the local organisation to the team plan through the double's
/// checkout; returns the subscription's id.
async fn subscribe(app: &TestApp, stripe: &StripeDouble) -> String {
    let started = app
        .admin_graphql(
            "mutation($input: StartCheckoutInput!) { startCheckout(input: $input) { url userErrors { message } } }",
            json!({ "organization": "local", "plan": "team" }),
        )
        .await;
    let url = started["data"]["startCheckout"]["url"].as_str().expect("a checkout URL").to_owned();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let paid = client.post(format!("{url}/pay")).send().await.expect("pay");
    assert_eq!(paid.status(), 303, "the double took the payment and delivered its webhooks");
    let totals = stripe.delivered();
    assert_eq!(totals, 2, "two webhooks for a checkout");
    let query = "{ organization(slug: \"local\") { plan } }";
    let body = json!({ "query": query });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["data"]["organization"]["plan"], "team", "{answer}");
    stripe.provider().subscription_ids().pop().expect("a subscription")
}

#[tokio::main]
async fn main() {
    let count = env("COUNT", 500);
    let stripe = StripeDouble::start().expect("the Stripe double");
    let options = TestOptions { billing: Some(stripe.billing_config()), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(Backend::Postgres, options).await;
    stripe.deliver_to(&app.address);
    let subscription = subscribe(&app, &stripe).await;
    let http = reqwest::Client::new();
    let endpoint = format!("{}/webhooks/stripe", app.address);
    let object = stripe.provider().subscription_json(&subscription, chrono::Utc::now().timestamp()).expect("it exists");

    let healthz = timed(count, |_| async {
        let answer = http.get(format!("{}/healthz", app.address)).send().await.expect("GET /healthz");
        assert!(answer.status().is_success());
    })
    .await;
    let stripe_read = timed(count, |_| async {
        let answer = http
            .get(format!("{}/v1/subscriptions/{subscription}", stripe.address))
            .send()
            .await
            .expect("GET subscription");
        assert!(answer.status().is_success());
    })
    .await;
    let deliveries: Vec<_> = (0..count)
        .map(|_| stripe.provider().delivery("customer.subscription.updated", &object, chrono::Utc::now().timestamp()))
        .collect();
    let post = |n: usize, expected: &'static str| {
        let (http, endpoint, delivery) = (&http, &endpoint, &deliveries[n]);
        async move {
            let answer = http
                .post(endpoint)
                .header("stripe-signature", &delivery.signature)
                .header("content-type", "application/json")
                .body(delivery.body.clone())
                .send()
                .await
                .expect("POST /webhooks/stripe");
            let status = answer.status();
            let body: Value = answer.json().await.expect("a JSON answer");
            if status != 200 || body["outcome"] != expected {
                println!("FAILED: event {n}: {status} {body}, expected {expected}");
                std::process::exit(1);
            }
        }
    };
    let handled = timed(count, |n| post(n, "Applied")).await;
    let replayed = timed(count, |n| post(n, "Duplicate")).await;

    println!("Stripe webhooks on PostgreSQL, {count} events one at a time");
    line("GET /healthz (floor)", &healthz);
    line("the double's subscription read (floor)", &stripe_read);
    line("subscription.updated, handled", &handled);
    line("the same events replayed", &replayed);
}
