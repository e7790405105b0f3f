//! Billing's rules against the hub on SQLite and PostgreSQL, with the
//! in-memory provider standing in for Stripe and sending signed webhooks.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::sync::Arc;

use chrono::{Duration, Utc};
use strata_api_types::ErrorCode;
use strata_billing::memory::{Delivery, InMemoryProvider};
use strata_billing::{Billing, BillingError, BillingLinks, BillingProvider, StripeSettings, WebhookOutcome};
use strata_core::config::{DatabaseUrl, MasterKeys};
use strata_hub::{BillingStatus, Hub, HubSettings, NewWorkspace, OutboxMailer, Principal, SignUp, WorkspaceState};
use strata_testkit::{Backend, TestDatabase};

const WEBHOOK_SECRET: &str = "whsec_billing_tests";

struct Fixture {
    hub: Hub,
    billing: Billing,
    stripe: Arc<InMemoryProvider>,
    outbox: OutboxMailer,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

fn settings() -> StripeSettings {
    StripeSettings {
        secret_key: "sk_test_unused".into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        api_base: None,
        seat_prices: [("team".to_owned(), "price_team".to_owned()), ("enterprise".to_owned(), "price_ent".to_owned())]
            .into(),
        metered_prices: vec!["price_cpu".to_owned()],
    }
}

async fn fixture(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path()).await;
    let db = strata_core::db::connect(&DatabaseUrl::parse(&database.url()).unwrap()).await.unwrap();
    let outbox = OutboxMailer::new(dir.path().join("outbox"));
    let key = base64_key();
    let hub_settings = HubSettings {
        public_url: "https://strata.test".into(),
        ..HubSettings::new(MasterKeys::parse(&key, "master_key").unwrap())
    };
    let hub = Hub::open(db, Arc::new(outbox.clone()), hub_settings).await.unwrap();
    let stripe = Arc::new(InMemoryProvider::new(WEBHOOK_SECRET));
    let links = BillingLinks { console: "https://strata.test".into() };
    let billing = Billing::with_provider(hub.clone(), links, settings(), stripe.clone());
    Fixture { hub, billing, stripe, outbox, _database: database, _dir: dir }
}

fn base64_key() -> String {
    // 32 bytes, base64: a test key, not a secret.
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()
}

async fn person(f: &Fixture, email: &str) -> Principal {
    let password = "a long passphrase 42";
    f.hub.sign_up(SignUp { email: email.into(), password: password.into(), display_name: None }).await.unwrap();
    let mail = f.outbox.messages_to(email).pop().expect("a verification mail");
    let link = mail.link.expect("a link");
    f.hub.verify_email(link.split("token=").nth(1).unwrap()).await.unwrap();
    let tokens = f.hub.log_in(email, password, None).await.unwrap();
    f.hub.authenticate(&tokens.access_token).await.unwrap()
}

fn now() -> i64 {
    Utc::now().timestamp()
}

async fn deliver(f: &Fixture, deliveries: &[Delivery]) -> Vec<WebhookOutcome> {
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        outcomes.push(f.billing.handle_webhook(&delivery.body, &delivery.signature, now()).await.unwrap());
    }
    outcomes
}

fn user_code(error: BillingError) -> ErrorCode {
    match error {
        BillingError::Hub(hub) => hub.user_error().unwrap_or_else(|| panic!("not a user error: {hub:?}")).code,
        other => panic!("not a user error: {other:?}"),
    }
}

async fn plan_of(f: &Fixture, owner: &Principal, org: &str) -> String {
    let (org, _) = f.hub.org_for(owner, org).await.unwrap();
    f.hub.org_plan(org.id, &org.slug).await.unwrap().name.clone()
}

/// Subscribes `org` to the team plan through checkout; returns the
/// subscription id.
async fn subscribe(f: &Fixture, owner: &Principal, org: &str) -> String {
    let url = f.billing.checkout(owner, org, "team").await.unwrap();
    let outcomes = deliver(f, &f.stripe.complete_checkout(&url, now()).unwrap()).await;
    assert_eq!(outcomes, [WebhookOutcome::Applied, WebhookOutcome::Applied]);
    let (org, _) = f.hub.org_for(owner, org).await.unwrap();
    f.hub.billing_account(org.id).await.unwrap().subscription_id.expect("a subscription")
}

strata_testkit::on_both_backends!(
    a_new_organisation_is_free_and_gets_the_team_plan_only_from_the_signed_webhook,
    a_replayed_or_forged_event_changes_nothing,
    a_failed_payment_suspends_after_the_grace_period_and_payment_resumes,
    events_out_of_order_apply_the_latest_subscription,
    a_cancelled_subscription_returns_to_free_and_lowers_its_workspaces,
    only_owners_pay_and_billing_off_leaves_plans_to_the_administrator,
    deleting_an_organisation_cancels_its_subscription_once_its_workspaces_are_gone,
    the_seat_quantity_follows_the_members_once_per_change,
);

async fn deleting_an_organisation_cancels_its_subscription_once_its_workspaces_are_gone(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    let org = f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let subscription = subscribe(&f, &owner, "acme").await;
    let new = NewWorkspace { org_slug: "acme".into(), slug: "prod".into(), ..Default::default() };
    let workspace = f.hub.create_workspace(&owner, &new).await.unwrap();
    let admin = person(&f, "admin@acme.test").await;
    f.hub.invite_member(&owner, "acme", "admin@acme.test", strata_hub::OrgRole::Admin).await.unwrap();
    let link = f.outbox.messages_to("admin@acme.test").pop().unwrap().link.unwrap();
    f.hub.accept_invitation(&admin, link.split("token=").nth(1).unwrap()).await.unwrap();

    // Refused, and nothing cancelled: a live workspace, a wrong slug, an admin.
    let refused = f.billing.delete_organization(&owner, "acme", "acme").await.unwrap_err();
    assert_eq!(user_code(refused), ErrorCode::Conflict);
    f.hub.delete_workspace(&owner, "acme", "prod", "prod").await.unwrap();
    let deleted = strata_hub::ObservedStatus { state: WorkspaceState::Deleted, endpoint: None, conditions: Vec::new() };
    f.hub.record_status(workspace.id, workspace.generation + 1, deleted).await.unwrap();
    let refused = f.billing.delete_organization(&owner, "acme", "acm").await.unwrap_err();
    assert_eq!(user_code(refused), ErrorCode::ConfirmationMismatch);
    let refused = f.billing.delete_organization(&admin, "acme", "acme").await.unwrap_err();
    assert_eq!(user_code(refused), ErrorCode::Forbidden);
    assert_eq!(f.stripe.subscription(&subscription).await.unwrap().unwrap().status, BillingStatus::Active);

    let gone = f.billing.delete_organization(&owner, "acme", "acme").await.unwrap();
    assert_eq!(gone.id, org.id);
    assert_eq!(f.stripe.subscription(&subscription).await.unwrap().unwrap().status, BillingStatus::Canceled);
    for someone in [&owner, &admin] {
        let missing = f.hub.org_for(someone, "acme").await.unwrap_err();
        assert_eq!(missing.user_error().unwrap().code, ErrorCode::NotFound);
    }
    // Stripe's cancellation event finds no organisation; the slug is free.
    let cancelled = f.stripe.set_status(&subscription, BillingStatus::Canceled, now()).unwrap();
    assert!(deliver(&f, &cancelled).await.iter().all(|outcome| *outcome == WebhookOutcome::Ignored));
    f.hub.create_organization(&admin, "acme", None).await.unwrap();
    assert_eq!(plan_of(&f, &admin, "acme").await, "free", "a new organisation of that name starts afresh");
}

async fn a_new_organisation_is_free_and_gets_the_team_plan_only_from_the_signed_webhook(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    assert_eq!(plan_of(&f, &owner, "acme").await, "free");

    // A fourth workspace is over the free plan's three, naming the plan that lifts it.
    for slug in ["one", "two", "three"] {
        let new = NewWorkspace { org_slug: "acme".into(), slug: slug.into(), ..Default::default() };
        f.hub.create_workspace(&owner, &new).await.unwrap();
    }
    let fourth = NewWorkspace { org_slug: "acme".into(), slug: "four".into(), ..Default::default() };
    let refused = f.hub.create_workspace(&owner, &fourth).await.unwrap_err();
    let refused = refused.user_error().unwrap();
    assert_eq!(refused.code, ErrorCode::QuotaExceeded);
    assert!(refused.message.contains("team"), "{}", refused.message);

    let url = f.billing.checkout(&owner, "acme", "team").await.unwrap();
    assert!(url.contains("/checkout/"), "{url}");
    assert_eq!(plan_of(&f, &owner, "acme").await, "free", "starting a checkout grants nothing");
    let account = f.billing.account(&owner, "acme").await.unwrap();
    assert!(account.customer_id.is_some() && account.subscription_id.is_none());

    let deliveries = f.stripe.complete_checkout(&url, now()).unwrap();
    assert_eq!(deliver(&f, &deliveries).await, [WebhookOutcome::Applied, WebhookOutcome::Applied]);
    assert_eq!(plan_of(&f, &owner, "acme").await, "team");
    let account = f.billing.account(&owner, "acme").await.unwrap();
    assert_eq!(account.status, BillingStatus::Active);
    f.hub.create_workspace(&owner, &fourth).await.unwrap();

    // A second checkout while subscribed is refused: plans change in the portal.
    let again = f.billing.checkout(&owner, "acme", "enterprise").await.unwrap_err();
    assert_eq!(user_code(again), ErrorCode::Conflict);
    assert!(f.billing.portal(&owner, "acme").await.unwrap().contains("/portal/"));
}

async fn a_replayed_or_forged_event_changes_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let url = f.billing.checkout(&owner, "acme", "team").await.unwrap();
    let deliveries = f.stripe.complete_checkout(&url, now()).unwrap();

    let forged = strata_billing::fixtures::signature(&deliveries[0].body, "whsec_someone_else", now());
    let error = f.billing.handle_webhook(&deliveries[0].body, &forged, now()).await.unwrap_err();
    assert!(matches!(error, BillingError::Webhook(_)), "{error:?}");
    let mut tampered = deliveries[0].body.clone();
    let at = tampered.iter().position(|b| *b == b'{').unwrap() + 1;
    tampered.insert(at, b' ');
    assert!(f.billing.handle_webhook(&tampered, &deliveries[0].signature, now()).await.is_err());
    let stale = f.billing.handle_webhook(&deliveries[0].body, &deliveries[0].signature, now() + 301).await;
    assert!(matches!(stale, Err(BillingError::Webhook(message)) if message.contains("tolerance")));
    assert_eq!(plan_of(&f, &owner, "acme").await, "free", "no refused event changed the plan");

    assert_eq!(deliver(&f, &deliveries).await, [WebhookOutcome::Applied, WebhookOutcome::Applied]);
    assert_eq!(deliver(&f, &deliveries).await, [WebhookOutcome::Duplicate, WebhookOutcome::Duplicate]);

    // A checkout naming another organisation than its customer's moves nothing.
    let other_owner = person(&f, "owner@other.test").await;
    let other = f.hub.create_organization(&other_owner, "other", None).await.unwrap();
    let session = strata_billing::fixtures::checkout_session(&strata_billing::fixtures::CheckoutSessionFixture {
        id: "cs_forged",
        customer: f.billing.account(&owner, "acme").await.unwrap().customer_id.as_deref().unwrap(),
        subscription: f.billing.account(&owner, "acme").await.unwrap().subscription_id.as_deref(),
        client_reference_id: &other.id.to_string(),
        status: "complete",
        url: None,
        success_url: "https://strata.test/",
        cancel_url: "https://strata.test/",
        created: now(),
    });
    let delivery = f.stripe.delivery("checkout.session.completed", &session, now());
    assert_eq!(deliver(&f, &[delivery]).await, [WebhookOutcome::Ignored]);
    assert_eq!(plan_of(&f, &other_owner, "other").await, "free");

    // Types billing does not act on are acknowledged.
    let unknown = f.stripe.delivery("charge.refunded", &serde_json::json!({ "id": "ch_1" }), now());
    assert_eq!(deliver(&f, &[unknown]).await, [WebhookOutcome::Ignored]);
}

async fn a_failed_payment_suspends_after_the_grace_period_and_payment_resumes(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let subscription = subscribe(&f, &owner, "acme").await;
    let new = NewWorkspace { org_slug: "acme".into(), slug: "prod".into(), ..Default::default() };
    let workspace = f.hub.create_workspace(&owner, &new).await.unwrap();

    let failed = f.stripe.set_status(&subscription, BillingStatus::PastDue, now()).unwrap();
    assert_eq!(deliver(&f, &failed).await, [WebhookOutcome::Applied, WebhookOutcome::Applied]);
    let account = f.billing.account(&owner, "acme").await.unwrap();
    let since = account.past_due_since.expect("the grace period started");
    assert_eq!(account.plan, "team", "the plan holds through the grace period");

    let grace = Duration::days(7); // the team plan's grace_period_days
    assert!(f.billing.upkeep(since + grace - Duration::minutes(1)).await.unwrap().is_empty());
    let state = f.hub.provisioner_workspace(workspace.id).await.unwrap().unwrap().state;
    assert_eq!(state, WorkspaceState::Pending);
    assert_eq!(f.billing.upkeep(since + grace + Duration::minutes(1)).await.unwrap().len(), 1);
    assert!(f.billing.upkeep(since + grace + Duration::hours(1)).await.unwrap().is_empty(), "suspended once");
    let suspended = f.hub.provisioner_workspace(workspace.id).await.unwrap().unwrap();
    assert_eq!(suspended.state, WorkspaceState::Suspended);
    assert!(suspended.generation > workspace.generation, "the provisioner is asked to stop its server");
    let refused = f.hub.workspace_route(&owner, "acme", "prod", None).await.unwrap_err();
    let refused = refused.user_error().unwrap();
    assert_eq!(refused.code, ErrorCode::PaymentRequired);
    assert!(refused.message.contains("billing portal"), "{}", refused.message);

    let paid = f.stripe.set_status(&subscription, BillingStatus::Active, now()).unwrap();
    assert_eq!(deliver(&f, &paid).await, [WebhookOutcome::Applied, WebhookOutcome::Applied]);
    let account = f.billing.account(&owner, "acme").await.unwrap();
    assert_eq!((account.past_due_since, account.suspended_at), (None, None));
    let resumed = f.hub.provisioner_workspace(workspace.id).await.unwrap().unwrap();
    assert_eq!(resumed.state, WorkspaceState::Pending, "the provisioner starts it again");
    assert!(resumed.generation > suspended.generation);
}

async fn events_out_of_order_apply_the_latest_subscription(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let subscription = subscribe(&f, &owner, "acme").await;
    let failed = f.stripe.set_status(&subscription, BillingStatus::PastDue, now()).unwrap();
    let paid = f.stripe.set_status(&subscription, BillingStatus::Active, now()).unwrap();
    // Delivered newest first: each event re-reads the subscription, active now.
    deliver(&f, &paid).await;
    deliver(&f, &failed).await;
    let account = f.billing.account(&owner, "acme").await.unwrap();
    assert_eq!((account.status, account.past_due_since), (BillingStatus::Active, None));

    // A read older than the one applied does not roll the state back.
    let (org, _) = f.hub.org_for(&owner, "acme").await.unwrap();
    let stale = strata_hub::SubscriptionSnapshot {
        id: subscription.clone(),
        status: BillingStatus::Canceled,
        plan: None,
        seats: None,
        observed_at: Utc::now() - Duration::minutes(5),
    };
    assert!(!f.hub.apply_subscription(org.id, &stale).await.unwrap().fresh);
    assert_eq!(plan_of(&f, &owner, "acme").await, "team");
}

async fn a_cancelled_subscription_returns_to_free_and_lowers_its_workspaces(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let subscription = subscribe(&f, &owner, "acme").await;
    let new =
        NewWorkspace { org_slug: "acme".into(), slug: "big".into(), plan: Some("team".into()), ..Default::default() };
    let workspace = f.hub.create_workspace(&owner, &new).await.unwrap();

    let cancelled = f.stripe.set_status(&subscription, BillingStatus::Canceled, now()).unwrap();
    assert_eq!(deliver(&f, &cancelled).await, [WebhookOutcome::Applied]);
    assert_eq!(plan_of(&f, &owner, "acme").await, "free");
    let desired = f.hub.provisioner_workspace(workspace.id).await.unwrap().unwrap();
    assert_eq!(desired.plan.name, "free", "its workspace is moved down to the organisation's plan");
    // Subscribing again is a new checkout.
    f.billing.checkout(&owner, "acme", "team").await.unwrap();
}

async fn only_owners_pay_and_billing_off_leaves_plans_to_the_administrator(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    let stranger = person(&f, "stranger@else.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    assert_eq!(user_code(f.billing.checkout(&stranger, "acme", "team").await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(
        user_code(f.billing.checkout(&owner, "acme", "free").await.unwrap_err()),
        ErrorCode::InvalidArgument,
        "the free plan is not on sale"
    );
    assert_eq!(user_code(f.billing.portal(&owner, "acme").await.unwrap_err()), ErrorCode::InvalidRequest);
    assert_eq!(user_code(f.billing.assign_plan(&owner, "acme", "team").await.unwrap_err()), ErrorCode::Forbidden);

    let off = Billing::from_settings(
        f.hub.clone(),
        BillingLinks { console: "https://strata.test".into() },
        &strata_billing::BillingSettings::default(),
    )
    .unwrap();
    assert!(!off.is_enabled());
    assert_eq!(user_code(off.checkout(&owner, "acme", "team").await.unwrap_err()), ErrorCode::InvalidRequest);
    assert_eq!(user_code(off.assign_plan(&owner, "acme", "team").await.unwrap_err()), ErrorCode::Forbidden);
    let admin = person(&f, strata_hub::LOCAL_ADMIN_EMAIL).await;
    assert_eq!(off.assign_plan(&admin, "acme", "team").await.unwrap().plan, "team");
    assert_eq!(plan_of(&f, &owner, "acme").await, "team");
}

/// The seat quantity of the subscription as the provider has it.
async fn seats_on(f: &Fixture, subscription: &str) -> Option<u64> {
    let found = f.stripe.subscription(subscription).await.unwrap().unwrap();
    found.items.iter().find(|item| item.price == "price_team").and_then(|item| item.quantity)
}

async fn the_seat_quantity_follows_the_members_once_per_change(backend: Backend) {
    let f = fixture(backend).await;
    let owner = person(&f, "owner@acme.test").await;
    f.hub.create_organization(&owner, "acme", None).await.unwrap();
    let subscription = subscribe(&f, &owner, "acme").await;
    assert_eq!(seats_on(&f, &subscription).await, Some(1), "checkout bills the one member");
    assert_eq!(f.billing.sync_seats().await.unwrap(), 0, "nothing to change");
    assert_eq!(f.stripe.quantity_changes(), 0);

    let mut joined = Vec::new();
    for email in ["ada@acme.test", "grace@acme.test"] {
        let member = person(&f, email).await;
        f.hub.invite_member(&owner, "acme", email, strata_hub::OrgRole::Member).await.unwrap();
        let link = f.outbox.messages_to(email).pop().unwrap().link.unwrap();
        f.hub.accept_invitation(&member, link.split("token=").nth(1).unwrap()).await.unwrap();
        joined.push(member);
    }
    f.hub.invite_member(&owner, "acme", "later@acme.test", strata_hub::OrgRole::Member).await.unwrap();
    assert_eq!(f.billing.sync_seats().await.unwrap(), 1);
    assert_eq!(seats_on(&f, &subscription).await, Some(3), "members are billed, open invitations are not");
    assert_eq!(f.billing.sync_seats().await.unwrap(), 0, "pushed once");
    assert_eq!(f.stripe.quantity_changes(), 1);

    // Stripe's event for the change reads back what was set: still in step.
    let updated = f.stripe.update_item(&format!("si_{subscription}_0"), 3, now()).unwrap();
    deliver(&f, &[updated]).await;
    assert_eq!(f.billing.sync_seats().await.unwrap(), 0);
    // A quantity changed elsewhere (the portal) is put back to the members.
    let elsewhere = f.stripe.update_item(&format!("si_{subscription}_0"), 10, now()).unwrap();
    deliver(&f, &[elsewhere]).await;
    assert_eq!(f.billing.sync_seats().await.unwrap(), 1);
    assert_eq!(seats_on(&f, &subscription).await, Some(3));

    f.hub.remove_member(&owner, "acme", joined[0].user_id).await.unwrap();
    assert_eq!(f.billing.sync_seats().await.unwrap(), 1);
    assert_eq!(seats_on(&f, &subscription).await, Some(2));
}
