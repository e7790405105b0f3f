//! Billing end to end: the server's Stripe client against the local Stripe
//! double, which sends signed webhooks back to `/webhooks/stripe`.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use serde_json::{Value, json};
use strata_hub::BillingStatus;
use strata_testkit::stripe::StripeDouble;
use strata_testkit::{Backend, TestApp, TestOptions, on_both_backends};

use crate::hub::{api_error, gql, mutate, person};

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
    a_pipeline_run_is_metered_exactly_and_its_job_shows_its_cost,
    a_write_past_the_workspace_storage_is_refused_until_the_plan_allows_more,
    bytes_sent_out_through_the_gateway_are_metered_to_the_byte,
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
    // Each request counted by its outcome on /metrics.
    for outcome in ["unsigned", "refused", "ignored"] {
        let filter = format!("outcome=\"{outcome}\"");
        let counted = crate::limits::metric(&app, "strata_billing_webhooks_total", &filter).await;
        assert_eq!(counted, 1.0, "{outcome}");
    }
}

/// The embedded workspace's usage outbox, read straight from the app's
/// database (where the server's own metering reads it through PPS).
struct OutboxTable(sea_orm::DatabaseConnection, strata_core::id::WorkspaceId);

#[async_trait::async_trait]
impl strata_billing::metering::UsageSource for OutboxTable {
    async fn usage_after(
        &self,
        workspace: &strata_hub::metering::MeteredWorkspace,
        after: i64,
        limit: u64,
    ) -> strata_billing::Result<Option<Vec<strata_billing::metering::UsageRecord>>> {
        use sea_orm::{ConnectionTrait, Statement};
        if workspace.id != self.1 {
            return Ok(None);
        }
        let sql = format!("SELECT * FROM pps_usage WHERE seq > {after} ORDER BY seq LIMIT {limit}");
        let rows = self.0.query_all_raw(Statement::from_string(self.0.get_database_backend(), sql)).await.unwrap();
        Ok(Some(
            rows.iter()
                .map(|row| strata_billing::metering::UsageRecord {
                    seq: row.try_get("", "seq").unwrap(),
                    pipeline: row.try_get("", "pipeline").unwrap(),
                    job: row.try_get("", "job").unwrap(),
                    bytes_in: row.try_get::<i64>("", "bytes_in").unwrap() as u64,
                    bytes_out: row.try_get::<i64>("", "bytes_out").unwrap() as u64,
                    datums: row.try_get::<i64>("", "datums").unwrap() as u64,
                    cpu_ms: row.try_get::<i64>("", "cpu_ms").unwrap() as u64,
                    process_ms: row.try_get::<i64>("", "process_ms").unwrap() as u64,
                    recorded_at: row.try_get("", "recorded_at").unwrap(),
                })
                .collect(),
        ))
    }

    /// This test checks the outbox's meters only.
    async fn stored_bytes(
        &self,
        _workspace: &strata_hub::metering::MeteredWorkspace,
    ) -> strata_billing::Result<Option<u64>> {
        Ok(None)
    }
}

async fn sum_of(app: &TestApp, column: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!("SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS total FROM pps_usage");
    let row = app.db.query_one_raw(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "total").unwrap()
}

/// `monthlyCost` sums the records billing meters: one pipeline, one job,
/// twelve datums this month, none in another; a malformed month is a typed
/// error.
async fn the_month_sums_the_pipeline_from_the_metered_records(app: &TestApp, admin: &str) {
    let local = strata_hub::LOCAL_ORG;
    let month = |month: &str| {
        format!(
            "{{ organization(slug: \"{local}\") {{ workspace(slug: \"default\") {{ monthlyCost{month} {{ month total {{ priceUsd cpuSeconds }} pipelines {{ pipeline jobs datums cost {{ plan cpuSeconds memoryGibSeconds priceUsd }} }} }} }} }} }}"
        )
    };
    let answer = gql(app, Some(admin), &month(""), json!({})).await;
    let this_month = &answer["data"]["organization"]["workspace"]["monthlyCost"];
    assert_eq!(this_month["month"], chrono::Utc::now().format("%Y-%m").to_string(), "{answer}");
    let burn = &this_month["pipelines"][0];
    assert_eq!(
        (burn["pipeline"].as_str(), burn["jobs"].as_u64(), burn["datums"].as_u64()),
        (Some("burn"), Some(1), Some(12))
    );
    let cpu_secs = sum_of(app, "cpu_ms").await as f64 / 1000.0;
    assert!((burn["cost"]["cpuSeconds"].as_f64().unwrap() - cpu_secs).abs() < 1e-9, "{burn}");
    let memory = sum_of(app, "process_ms").await as f64 / 1000.0 * 4096.0 / 1024.0;
    assert!((burn["cost"]["memoryGibSeconds"].as_f64().unwrap() - memory).abs() < 1e-9, "{burn}");
    assert_eq!(burn["cost"]["plan"], "team");
    assert_eq!(this_month["total"]["priceUsd"], burn["cost"]["priceUsd"], "one pipeline: {this_month}");

    let answer = gql(app, Some(admin), &month("(month: \"2020-01\")"), json!({})).await;
    let long_ago = &answer["data"]["organization"]["workspace"]["monthlyCost"];
    assert_eq!(
        (long_ago["month"].as_str(), long_ago["pipelines"].as_array().map(Vec::len)),
        (Some("2020-01"), Some(0))
    );
    assert_eq!(long_ago["total"]["priceUsd"], 0.0, "{answer}");

    let answer = gql(app, Some(admin), &month("(month: \"December\")"), json!({})).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "INVALID_ARGUMENT", "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("YYYY-MM"), "{answer}");
}

async fn a_pipeline_run_is_metered_exactly_and_its_job_shows_its_cost(backend: Backend) {
    let stripe = StripeDouble::start().unwrap();
    let options = TestOptions {
        billing: Some(stripe.billing_config()),
        sandbox_helper: Some(env!("CARGO_BIN_EXE_strata-e2e-sandbox").into()),
        ..TestOptions::default()
    };
    let app = TestApp::spawn_with_options(backend, options).await;
    stripe.deliver_to(&app.address);
    let admin = app.admin_token.clone();
    let local = strata_hub::LOCAL_ORG;
    let started =
        mutate(&app, Some(&admin), "startCheckout", json!({ "organization": local, "plan": "team" }), "url").await;
    let paid = no_redirects().post(format!("{}/pay", started["url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    // Paid for: the organisation may now move its workspace to the team plan.
    let moved = json!({ "organization": local, "slug": "default", "plan": "team" });
    mutate(&app, Some(&admin), "setWorkspacePlan", moved, "workspace { plan }").await;

    let ws = app.client().workspace("default");
    ws.repo_create("numbers", "").await.unwrap();
    for n in 0..12 {
        let body = reqwest::Body::from(format!("{n}\n"));
        ws.put("numbers", "master", &format!("/n{n}"), false, false, body).await.unwrap();
    }
    let spec = json!({
        "pipeline": { "name": "burn" },
        "input": { "pfs": { "repo": "numbers", "glob": "/*" } },
        "transform": { "cmd": ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; cp /pfs/numbers/* /pfs/out/"] }
    });
    let create =
        strata_api_types::pps::CreatePipeline { spec: spec.to_string(), update: false, reprocess: false, format: None };
    ws.pipeline_create(&create).await.unwrap();
    let job = ws.job_wait("burn", "latest", 120).await.unwrap();
    assert_eq!(job.state, strata_api_types::pps::JobState::Success, "{job:?}");
    assert_eq!(job.datums.processed, 12);
    assert!(job.stats.cpu_secs > 0.0, "the job's datums used CPU: {:?}", job.stats);

    // The job page's figures: its usage and its price on the team plan.
    let query = format!(
        "{{ organization(slug: \"{local}\") {{ workspace(slug: \"default\") {{ job(pipeline: \"burn\", id: \"{}\") {{ cost {{ plan cpuSeconds memoryGibSeconds priceUsd }} }} }} }} }}",
        job.id
    );
    let answer = gql(&app, Some(&admin), &query, json!({})).await;
    let cost = &answer["data"]["organization"]["workspace"]["job"]["cost"];
    assert_eq!(cost["plan"], "team", "{answer}");
    assert!((cost["cpuSeconds"].as_f64().unwrap() - job.stats.cpu_secs).abs() < 1e-9, "{cost}");
    let memory = job.stats.process_secs * 4096.0 / 1024.0;
    assert!((cost["memoryGibSeconds"].as_f64().unwrap() - memory).abs() < 1e-9, "{cost}");
    let price = job.stats.cpu_secs / 3600.0 * 0.06 + memory / 3600.0 * 0.008;
    assert!((cost["priceUsd"].as_f64().unwrap() - price).abs() < 1e-12, "the team plan's prices: {cost}");
    the_month_sums_the_pipeline_from_the_metered_records(&app, &admin).await;

    // Metering: the outbox's units reach Stripe's meters exactly once.
    let hub = crate::hub::strata_hub_for(&app).await;
    let hosted = hub.metered_workspaces().await.unwrap();
    let links = strata_billing::BillingLinks { console: app.address.clone() };
    let billing = strata_billing::Billing::from_settings(hub.clone(), links, &app.settings.billing).unwrap();
    for workspace in &hosted {
        let source = OutboxTable(app.db.clone(), workspace.id);
        billing.meter(&source, chrono::Utc::now() + chrono::Duration::hours(2)).await.unwrap();
        billing.meter(&source, chrono::Utc::now() + chrono::Duration::hours(2)).await.unwrap();
    }
    let totals = stripe.provider().meter_totals();
    let of = |meter: &str| totals.iter().find(|((name, _), _)| name == meter).map(|(_, total)| *total);
    assert_eq!(of("strata_datums"), Some(12), "{totals:?}");
    assert_eq!(of("strata_cpu_ms"), Some(sum_of(&app, "cpu_ms").await as u64), "{totals:?}");
    assert_eq!(of("strata_memory_mib_ms"), Some(sum_of(&app, "process_ms").await as u64 * 4096), "{totals:?}");
    let job_cpu_ms = job.stats.cpu_secs * 1000.0;
    assert!(
        (of("strata_cpu_ms").unwrap() as f64 - job_cpu_ms).abs() <= 12.0,
        "within rounding of each batch: {totals:?} vs {job_cpu_ms}"
    );
}

/// The shipped plans with no storage on the free plan, so the first byte
/// written to a free workspace meets its limit.
fn plans_without_free_storage(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = include_str!("../../../crates/plans/plans.toml");
    assert!(shipped.contains("name = \"free\""), "the free plan comes first");
    let path = dir.join("plans.toml");
    std::fs::write(&path, shipped.replacen("storage_gib = 10\n", "storage_gib = 0\n", 1)).unwrap();
    path
}

/// Marks `org/slug` ready at `endpoint` (its current generation), as the
/// provisioner does once its server answers.
async fn ready_at(hub: &strata_hub::Hub, id: strata_core::id::WorkspaceId, endpoint: &str) {
    let generation = hub.provisioner_workspace(id).await.unwrap().unwrap().generation;
    let status = strata_hub::ObservedStatus {
        state: strata_hub::WorkspaceState::Ready,
        endpoint: Some(endpoint.to_owned()),
        conditions: Vec::new(),
    };
    assert!(hub.record_status(id, generation, status).await.unwrap());
}

async fn a_write_past_the_workspace_storage_is_refused_until_the_plan_allows_more(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let options = TestOptions { plans_file: Some(plans_without_free_storage(dir.path())), ..TestOptions::default() };
    let app = TestApp::spawn_with_options(backend, options).await;
    let owner = person(&app, "owner@acme.test").await;
    mutate(&app, Some(&owner), "createOrganization", json!({ "slug": "acme" }), "organization { id }").await;
    let created = json!({ "organization": "acme", "slug": "data" });
    mutate(&app, Some(&owner), "createWorkspace", created, "workspace { id }").await;
    // The provisioner's part: the workspace's own server, ready.
    let hub = crate::hub::strata_hub_for(&app).await;
    let id = hub.provisioner_workspaces().await.unwrap().iter().find(|w| w.slug == "data").unwrap().id;
    let secret = hub.ensure_service_secret(id).await.unwrap();
    let server_dir = dir.path().join("data");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = strata_testkit::TestWorkspaceServer::start(&server_dir, "data", &secret, None).await;
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    ready_at(&hub, id, &endpoint).await;

    let ws = app.anonymous_client().with_token(owner.clone()).org_workspace("acme", "data");
    ws.repo_create("raw", "").await.unwrap();
    let put = || ws.put("raw", "master", "/rows.csv", false, false, reqwest::Body::from("1,2,3\n"));
    let (status, code, message) = api_error(put().await);
    assert_eq!((status, code.as_str()), (403, "QUOTA_EXCEEDED"), "{message}");
    assert!(message.contains("the free plan allows 0 GiB") && message.contains("the team plan lifts it"), "{message}");
    assert!(ws.commit_list("raw", 10).await.unwrap().is_empty(), "the refused write made no commit");

    // Billing is off here: the local admin moves the organisation to team,
    // and its owner the workspace; the next request carries the new limit.
    let assign = json!({ "organization": "acme", "plan": "team" });
    mutate(&app, Some(&app.admin_token), "assignPlan", assign, "billing { plan }").await;
    let moved = json!({ "organization": "acme", "slug": "data", "plan": "team" });
    mutate(&app, Some(&owner), "setWorkspacePlan", moved, "workspace { plan }").await;
    ready_at(&hub, id, &endpoint).await;
    let written = put().await.expect("within the team plan's storage");
    assert_eq!(written.files, 1);
    assert_eq!(ws.file_inspect("raw", "master", "/rows.csv").await.unwrap().size, 6);

    // Usage against the limit, as the console's Billing page shows it.
    let query = "{ workspace(organization: \"acme\", slug: \"data\") { storage { usedBytes limitBytes } } }";
    let storage = gql(&app, Some(&owner), query, json!({})).await["data"]["workspace"]["storage"].clone();
    assert_eq!(storage["limitBytes"], 200_u64 << 30, "the team plan's 200 GiB: {storage}");
    assert!(storage["usedBytes"].as_u64().unwrap() > 0, "{storage}");
}

async fn bytes_sent_out_through_the_gateway_are_metered_to_the_byte(backend: Backend) {
    let (app, _stripe, _dir) = app_with_stripe(backend).await;
    // Written on the server's own routes, which are not the gateway.
    let direct = app.client().workspace("default");
    direct.repo_create("images", "").await.unwrap();
    let payload: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|n: u32| (n % 251) as u8).collect();
    direct.put("images", "master", "/big.bin", false, false, reqwest::Body::from(payload.clone())).await.unwrap();

    let hub = crate::hub::strata_hub_for(&app).await;
    let (org, _) = hub.org_for(&app_admin(&app, &hub).await, strata_hub::LOCAL_ORG).await.unwrap();
    let egress = || async {
        let totals = hub.metered_totals(org.id).await.unwrap();
        totals.iter().find(|(meter, _)| meter == strata_billing::metering::meters::EGRESS_BYTES).map_or(0, |(_, n)| *n)
    };
    assert_eq!(egress().await, 0);
    // Several downloads at once, before the hour has a bucket: all of them
    // count, though each may be the first to open it.
    const DOWNLOADS: u64 = 6;
    let through_gateway = app.client().org_workspace(strata_hub::LOCAL_ORG, "default");
    let downloads = (0..DOWNLOADS).map(|_| async {
        let download = through_gateway.get_file("images", "master", "/big.bin", None, None).await.unwrap();
        download.bytes().await.unwrap().len()
    });
    for received in futures::future::join_all(downloads).await {
        assert_eq!(received, payload.len());
    }
    // Counted once each answer's stream has ended, off the answer's path.
    let expected = DOWNLOADS * payload.len() as u64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while egress().await < expected && tokio::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(egress().await, expected, "every byte of every answer, once");
}

/// The local administrator as the hub sees them.
async fn app_admin(app: &TestApp, hub: &strata_hub::Hub) -> strata_hub::Principal {
    hub.authenticate(&app.admin_token).await.unwrap()
}
