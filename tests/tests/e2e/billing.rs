//! Billing end to end: the server's Stripe client against the local Stripe
//! double, which sends signed webhooks back to `/webhooks/stripe`.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_hub::BillingStatus;
use strata_testkit::stripe::StripeDouble;
use strata_testkit::{Backend, TestApp, TestOptions, on_both_backends};

use crate::hub::{gql, mutate, person};

/// The shipped plans, with no grace period on the team plan, so a failed
/// payment suspends at once.
fn plans_without_grace(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = include_str!("../../../crates/plans/plans.toml");
    assert!(shipped.contains("grace_period_days = 7"), "the team plan's grace period");
    let path = dir.join("plans.toml");
    std::fs::write(&path, shipped.replace("grace_period_days = 7", "grace_period_days = 0")).unwrap();
    path
}

async fn app_with_stripe(backend: Backend) -> (TestApp, StripeDouble, tempfile::TempDir) {
    let stripe = StripeDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = TestOptions {
        billing: Some(stripe.billing_config()),
        plans_file: Some(plans_without_grace(dir.path())),
        ..TestOptions::default()
    };
    let app = TestApp::spawn_with_options(backend, options).await;
    stripe.deliver_to(&app.address);
    (app, stripe, dir)
}

async fn billing_of(app: &TestApp, token: &str) -> Value {
    let query = "{ organization(slug: \"acme\") { plan billing { enabled plan status pastDueSince suspendedAt } } }";
    gql(app, Some(token), query, json!({})).await["data"]["organization"].clone()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

on_both_backends!(
    checkout_upgrades_only_when_the_signed_webhook_arrives_and_dunning_suspends_and_resumes,
    the_webhook_endpoint_refuses_unsigned_and_forged_requests,
);

async fn checkout_upgrades_only_when_the_signed_webhook_arrives_and_dunning_suspends_and_resumes(backend: Backend) {
    let (app, stripe, _dir) = app_with_stripe(backend).await;
    let owner = person(&app, "owner@acme.test").await;
    mutate(&app, Some(&owner), "createOrganization", json!({ "slug": "acme" }), "organization { id }").await;
    for slug in ["ws-a", "ws-b", "ws-c"] {
        mutate(
            &app,
            Some(&owner),
            "createWorkspace",
            json!({ "organization": "acme", "slug": slug }),
            "workspace { id }",
        )
        .await;
    }
    let fourth = json!({ "input": { "organization": "acme", "slug": "ws-d" } });
    let create =
        "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { userErrors { code message } } }";
    let refused = gql(&app, Some(&owner), create, fourth.clone()).await;
    let error = &refused["data"]["createWorkspace"]["userErrors"][0];
    assert_eq!(error["code"], "QUOTA_EXCEEDED", "{refused}");
    assert!(error["message"].as_str().unwrap().contains("team"), "names the plan that lifts it: {error}");

    let started =
        mutate(&app, Some(&owner), "startCheckout", json!({ "organization": "acme", "plan": "team" }), "url").await;
    let url = started["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&stripe.address), "{url}");
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("team plan"), "{page}");
    assert_eq!(billing_of(&app, &owner).await["plan"], "free", "starting a checkout grants nothing");

    let paid = no_redirects().post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap();
    assert_eq!(back, format!("{}/orgs/acme/billing?checkout=done", app.address));
    assert_eq!(stripe.delivered(), 2, "customer.subscription.created and checkout.session.completed");
    let billing = billing_of(&app, &owner).await;
    assert_eq!(billing["plan"], "team", "{billing}");
    assert_eq!(billing["billing"]["status"], "active");
    assert!(gql(&app, Some(&owner), create, fourth).await["data"]["createWorkspace"]["userErrors"] == json!([]));

    let subscription = subscription_of_acme(&app).await;
    stripe.set_status(&subscription, BillingStatus::PastDue).await.unwrap();
    let billing = billing_of(&app, &owner).await;
    assert_eq!(billing["billing"]["status"], "past_due", "{billing}");
    assert!(billing["billing"]["suspendedAt"].is_string(), "no grace on this plan: {billing}");
    let gateway = format!("{}/v1/orgs/acme/workspaces/ws-a/pfs/repos", app.address);
    let answer = reqwest::Client::new().get(&gateway).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(answer.status(), 402);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "PAYMENT_REQUIRED", "{body}");

    stripe.set_status(&subscription, BillingStatus::Active).await.unwrap();
    let billing = billing_of(&app, &owner).await;
    assert_eq!(
        (billing["billing"]["status"].as_str(), &billing["billing"]["suspendedAt"]),
        (Some("active"), &Value::Null)
    );
    let answer = reqwest::Client::new().get(&gateway).bearer_auth(&owner).send().await.unwrap();
    assert_ne!(answer.status(), 402, "resumed: the workspace is starting again");
    let states =
        gql(&app, Some(&owner), "{ organization(slug: \"acme\") { workspaces { nodes { slug state } } } }", json!({}))
            .await;
    assert!(!states.to_string().contains("SUSPENDED"), "{states}");
}

/// The subscription the server recorded (the only one in this app).
async fn subscription_of_acme(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let statement = Statement::from_string(
        app.db.get_database_backend(),
        "SELECT subscription_id FROM hub_billing_accounts WHERE subscription_id IS NOT NULL",
    );
    let row = app.db.query_one_raw(statement).await.unwrap().expect("a subscription recorded");
    row.try_get::<String>("", "subscription_id").unwrap()
}

async fn the_webhook_endpoint_refuses_unsigned_and_forged_requests(backend: Backend) {
    let (app, stripe, _dir) = app_with_stripe(backend).await;
    let endpoint = format!("{}/webhooks/stripe", app.address);
    let event = stripe.provider().delivery(
        "customer.subscription.updated",
        &json!({ "id": "sub_x", "customer": "cus_x" }),
        chrono::Utc::now().timestamp(),
    );
    let client = reqwest::Client::new();
    let unsigned = client.post(&endpoint).body(event.body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let forged = strata_billing::fixtures::signature(&event.body, "whsec_wrong", chrono::Utc::now().timestamp());
    let answer =
        client.post(&endpoint).header("stripe-signature", forged).body(event.body.clone()).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("signature"), "{body}");
    // Genuine, about a customer of no organisation: acknowledged, ignored.
    let answer = client
        .post(&endpoint)
        .header("stripe-signature", &event.signature)
        .body(event.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["outcome"], "Ignored", "{body}");
}
