//! Dunning end to end on the real `strata dev` with its local provisioner
//! and the local Stripe double: a failed payment stops the workspace's own
//! server, the workspace answers `PAYMENT_REQUIRED`, and paying starts it
//! again on the data it kept, byte for byte.

use std::time::Duration;

use strata_hub::BillingStatus;
use strata_testkit::stripe::{self, StripeDouble};

use crate::support::{Sandbox, answers, json, ok, path_str, wait_until};

/// The shipped plans with no grace period on the team plan, so a failed
/// payment suspends at once.
fn plans_without_grace(sandbox: &Sandbox) -> String {
    let shipped = include_str!("../../../plans/plans.toml");
    assert!(shipped.contains("grace_period_days = 7"), "the team plan's grace period");
    let path = sandbox.dir.path().join("plans.toml");
    std::fs::write(&path, shipped.replace("grace_period_days = 7", "grace_period_days = 0")).expect("plans file");
    path_str(&path).to_owned()
}

/// The bearer token `strata dev` left in the CLI's configuration.
fn admin_token(sandbox: &Sandbox) -> String {
    let text = std::fs::read_to_string(sandbox.cli_config()).expect("CLI config");
    let config: toml::Value = toml::from_str(&text).expect("CLI config TOML");
    let contexts = config["contexts"].as_table().expect("contexts");
    let token = contexts.values().find_map(|context| context.get("token")?.as_str());
    token.expect("a context with a token").to_owned()
}

/// POSTs `body` to `url` with curl; answers the status and body.
fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut curl = std::process::Command::new("curl");
    curl.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", url, "-H", "content-type: application/json"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    let output = curl.args(["--data-binary", body]).output().expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.trim().parse().expect("status"), body.to_owned())
}

fn state_of(sandbox: &Sandbox, slug: &str) -> String {
    let inspected = json(sandbox, &["workspace", "inspect", slug, "--org", "local"]);
    inspected["state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_failed_payment_stops_the_workspace_server_and_paying_resumes_it_with_its_data_byte_for_byte() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let stripe = runtime.block_on(async { StripeDouble::start() }).expect("the Stripe double");
    let sandbox = Sandbox::new();
    let plans = plans_without_grace(&sandbox);
    let api = format!("{}/", stripe.address);
    let dev = sandbox.start_dev_with_env(
        &[],
        &[
            ("STRATA_STRIPE_SECRET_KEY", stripe::SECRET_KEY),
            ("STRATA_STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
            ("STRATA_STRIPE_API_BASE", &api),
            ("STRATA_STRIPE_SEAT_PRICES", stripe::SEAT_PRICES),
            ("STRATA_STRIPE_METERED_PRICES", stripe::METERED_PRICES),
            ("STRATA_PLANS_FILE", &plans),
        ],
    );
    stripe.deliver_to(&dev.url);

    // The local organisation pays for the team plan through Checkout.
    let token = admin_token(&sandbox);
    let checkout = r#"{"query": "mutation { startCheckout(input: {organization: \"local\", plan: \"team\"}) { url userErrors { message } } }"}"#;
    let (status, answer) = post(&format!("{}/graphql", dev.url), Some(&token), checkout);
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    let url = answer["data"]["startCheckout"]["url"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
    let (paid, _) = post(&format!("{url}/pay"), None, "");
    assert_eq!(paid, 303, "paid; the double delivered the signed webhooks");
    let [subscription] = <[String; 1]>::try_from(stripe.provider().subscription_ids()).expect("one subscription");

    // A workspace on its own server, with data in it.
    let created = json(&sandbox, &["workspace", "create", "ledger", "--org", "local", "--wait"]);
    assert_eq!(created["state"], "READY", "{created}");
    let endpoint = created["endpoint"].as_str().expect("endpoint").to_owned();
    ok(&sandbox, &["workspace", "use", "local/ledger"]);
    ok(&sandbox, &["repo", "create", "books"]);
    let content: String = (0..20_000).map(|n| format!("{n:05} entry {}\n", n * 7919 % 10_007)).collect();
    let file = sandbox.dir.path().join("books.txt");
    std::fs::write(&file, &content).expect("file");
    ok(&sandbox, &["put", "file", "books@master:/books.txt", "-f", path_str(&file)]);

    // The payment fails: suspended at once (no grace on this plan).
    runtime.block_on(stripe.set_status(&subscription, BillingStatus::PastDue)).expect("webhooks delivered");
    wait_until("the workspace suspended", Duration::from_secs(30), || state_of(&sandbox, "ledger") == "SUSPENDED");
    wait_until("its server stopping", Duration::from_secs(30), || !answers(&endpoint));
    let refused = sandbox.run(&["get", "file", "books@master:/books.txt"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("PAYMENT_REQUIRED") || said.contains("payment"), "{said}");

    // Paid: it starts again on the data it kept.
    runtime.block_on(stripe.set_status(&subscription, BillingStatus::Active)).expect("webhooks delivered");
    wait_until("the workspace ready again", Duration::from_secs(60), || state_of(&sandbox, "ledger") == "READY");
    assert!(ok(&sandbox, &["get", "file", "books@master:/books.txt"]) == content, "the same bytes after");
    drop(dev);
}
