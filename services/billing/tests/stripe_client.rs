//! The Stripe provider through the real async-stripe client, against a
//! local server answering in the shapes of API version 2026-09-30.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use strata_billing::fixtures::{self, Item};
use strata_billing::stripe::StripeProvider;
use strata_billing::{BillingProvider, CheckoutRequest, MeterEvent, StripeSettings};
use strata_hub::BillingStatus;
use wiremock::matchers::{body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provider(server: &MockServer) -> StripeProvider {
    let settings = StripeSettings {
        secret_key: "sk_test_local".into(),
        webhook_secret: "whsec_local".into(),
        api_base: Some(format!("{}/", server.uri())),
        seat_prices: [("team".to_owned(), "price_team".to_owned())].into(),
        metered_prices: vec!["price_cpu".to_owned()],
    };
    StripeProvider::new(&settings).unwrap()
}

/// What the server received, for a failure's message.
async fn received(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| format!("{} {} {:?} {}", r.method, r.url, r.headers, String::from_utf8_lossy(&r.body)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn customers_are_made_once_per_organisation_with_an_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(header("authorization", "Bearer sk_test_local"))
        .and(header("idempotency-key", "strata-customer-org-1"))
        .and(body_string_contains("metadata[strata_org]=org-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::customer("cus_1", "org-1", "Acme", 1)))
        .expect(1)
        .mount(&server)
        .await;
    let made = provider(&server).create_customer("org-1", "Acme").await;
    let seen = received(&server).await;
    assert_eq!(made.unwrap_or_else(|e| panic!("{e}: {seen}")), "cus_1");
}

#[tokio::test]
async fn checkout_subscribes_the_seats_and_the_metered_prices() {
    let server = MockServer::start().await;
    let session = fixtures::checkout_session(&fixtures::CheckoutSessionFixture {
        id: "cs_1",
        customer: "cus_1",
        subscription: None,
        client_reference_id: "org-1",
        status: "open",
        url: Some("https://checkout.stripe.test/c/cs_1"),
        success_url: "https://strata.test/orgs/acme/billing?checkout=done",
        cancel_url: "https://strata.test/orgs/acme/billing?checkout=cancelled",
        created: 1,
    });
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(body_string_contains("mode=subscription"))
        .and(body_string_contains("client_reference_id=org-1"))
        .and(body_string_contains("line_items[0][price]=price_team"))
        .and(body_string_contains("line_items[0][quantity]=3"))
        .and(body_string_contains("line_items[1][price]=price_cpu"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session))
        .expect(1)
        .mount(&server)
        .await;
    let request = CheckoutRequest {
        org_id: "org-1".into(),
        customer: "cus_1".into(),
        plan: "team".into(),
        seat_price: "price_team".into(),
        seats: 3,
        metered_prices: vec!["price_cpu".into()],
        success_url: "https://strata.test/orgs/acme/billing?checkout=done".into(),
        cancel_url: "https://strata.test/orgs/acme/billing?checkout=cancelled".into(),
    };
    assert_eq!(provider(&server).checkout(&request).await.unwrap(), "https://checkout.stripe.test/c/cs_1");
}

#[tokio::test]
async fn subscriptions_are_read_with_their_status_and_prices() {
    let server = MockServer::start().await;
    let items = [
        Item { id: "si_1".into(), price: "price_team".into(), usage_type: "licensed", quantity: Some(3) },
        Item { id: "si_2".into(), price: "price_cpu".into(), usage_type: "metered", quantity: None },
    ];
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixtures::subscription("sub_1", "cus_1", "past_due", &items, 1)),
        )
        .mount(&server)
        .await;
    let missing = serde_json::json!({ "error": {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such subscription: 'sub_gone'" } });
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(missing))
        .mount(&server)
        .await;
    let stripe = provider(&server);
    let found = stripe.subscription("sub_1").await.unwrap().unwrap();
    assert_eq!(found.status, BillingStatus::PastDue);
    assert_eq!(found.customer, "cus_1");
    let items: Vec<(&str, &str, Option<u64>)> =
        found.items.iter().map(|item| (item.id.as_str(), item.price.as_str(), item.quantity)).collect();
    assert_eq!(items, [("si_1", "price_team", Some(3)), ("si_2", "price_cpu", None)]);
    assert_eq!(stripe.subscription("sub_gone").await.unwrap(), None);
}

#[tokio::test]
async fn a_seat_quantity_is_set_on_its_subscription_item() {
    let server = MockServer::start().await;
    let answer = serde_json::json!({ "id": "si_1", "object": "subscription_item", "quantity": 4 });
    Mock::given(method("POST"))
        .and(path("/v1/subscription_items/si_1"))
        .and(header("authorization", "Bearer sk_test_local"))
        .and(body_string_contains("quantity=4"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).set_item_quantity("si_1", 4).await.unwrap_or_else(|error| panic!("{error}"));
    let missing = provider(&server).set_item_quantity("si_gone", 4).await.unwrap_err();
    assert!(missing.to_string().contains("404"), "{missing}");
}

#[tokio::test]
async fn meter_events_carry_their_identifier_and_errors_never_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .and(body_string_contains("identifier=acme-cpu-1"))
        .and(body_string_contains("event_name=strata_cpu_seconds"))
        .and(body_string_contains("payload[value]=42"))
        .and(header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::meter_event(
            "strata_cpu_seconds",
            "acme-cpu-1",
            "cus_1",
            42,
            100,
            101,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let event = MeterEvent {
        event_name: "strata_cpu_seconds".into(),
        customer: "cus_1".into(),
        value: 42,
        identifier: "acme-cpu-1".into(),
        timestamp: 100,
    };
    let stripe = provider(&server);
    stripe.send_meter_event(&event).await.unwrap();

    let refused = serde_json::json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****" } });
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(refused))
        .mount(&server)
        .await;
    let error = stripe.portal("cus_1", "https://strata.test/").await.unwrap_err().to_string();
    assert!(error.contains("401") && !error.contains("sk_test_local"), "{error}");
}

#[tokio::test]
async fn portal_sessions_return_their_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .and(body_string_contains("customer=cus_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::portal_session(
            "bps_1",
            "cus_1",
            "https://billing.stripe.test/p/session/bps_1",
            "https://strata.test/orgs/acme/billing",
            1,
        )))
        .mount(&server)
        .await;
    let url = provider(&server).portal("cus_1", "https://strata.test/orgs/acme/billing").await.unwrap();
    assert_eq!(url, "https://billing.stripe.test/p/session/bps_1");
}
