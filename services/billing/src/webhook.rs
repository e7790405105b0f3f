//! Stripe's webhook requests: the `Stripe-Signature` header checked against
//! the endpoint's secret (HMAC-SHA256 of `timestamp.body`, any of the `v1`
//! signatures, timestamp within [`TOLERANCE_SECS`] of now), then the event
//! read as far as billing needs it.
//!
//! Billing reads only identifiers from an event (which subscription, which
//! customer, which organisation) and then fetches the subscription as it
//! is now: two deliveries, or events out of order, then apply the same
//! latest state, whatever each event's copy of the object said.

use aws_lc_rs::hmac;
use serde::Deserialize;

use crate::error::{BillingError, Result};

/// How far a signature's timestamp may be from now (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

/// What billing does with a verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A subscription was created, changed, paused or ended.
    Subscription { subscription: String, customer: String },
    /// An invoice was paid or its payment failed: its subscription's status
    /// is read again (an invoice with no subscription changes nothing).
    Invoice { subscription: Option<String>, customer: String },
    /// A checkout finished: `org` (the session's `client_reference_id`) now
    /// has this customer and subscription.
    CheckoutCompleted { org: Option<String>, customer: Option<String>, subscription: Option<String> },
    /// Any other type: acknowledged and ignored.
    Ignored,
}

/// A verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub notice: Notice,
}

/// Checks `header` (the `Stripe-Signature` value) for `body` against
/// `secret` at `now` (seconds since the epoch), then reads the event.
pub fn verify(body: &[u8], header: &str, secret: &str, now: i64) -> Result<Event> {
    let (timestamp, signatures) = parse_header(header)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = signed_payload(timestamp, body);
    let genuine = signatures.iter().any(|signature| hmac::verify(&key, &signed, signature).is_ok());
    if !genuine {
        return Err(BillingError::Webhook("the signature does not match this endpoint's secret".to_owned()));
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(BillingError::Webhook(format!(
            "the signature's timestamp is {}s from now, over the {TOLERANCE_SECS}s tolerance",
            now - timestamp
        )));
    }
    parse_event(body)
}

/// What Stripe's `v1` scheme signs: `<timestamp>.<body>`.
pub(crate) fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(body.len() + 16);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    signed
}

/// `t=<seconds>,v1=<hex>[,v1=<hex>...]`; other schemes (`v0`) are ignored.
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>)> {
    let malformed = || BillingError::Webhook("the Stripe-Signature header is malformed".to_owned());
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| malformed())?),
            Some(("v1", value)) => signatures.push(hex::decode(value).map_err(|_| malformed())?),
            Some(_) => {}
            None => return Err(malformed()),
        }
    }
    let timestamp = timestamp.ok_or_else(malformed)?;
    if signatures.is_empty() {
        return Err(BillingError::Webhook("the Stripe-Signature header has no v1 signature".to_owned()));
    }
    Ok((timestamp, signatures))
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    object: serde_json::Value,
}

fn parse_event(body: &[u8]) -> Result<Event> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|error| BillingError::Webhook(format!("the body is not a Stripe event: {error}")))?;
    let object = &envelope.data.object;
    let text = |key: &str| object.get(key).and_then(expandable_id);
    let required = |key: &str| {
        text(key)
            .ok_or_else(|| BillingError::Webhook(format!("a `{}` event without `data.object.{key}`", envelope.kind)))
    };
    let notice = match envelope.kind.as_str() {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => {
            Notice::Subscription { subscription: required("id")?, customer: required("customer")? }
        }
        "invoice.paid" | "invoice.payment_failed" => {
            Notice::Invoice { subscription: invoice_subscription(object), customer: required("customer")? }
        }
        "checkout.session.completed" => Notice::CheckoutCompleted {
            org: text("client_reference_id"),
            customer: text("customer"),
            subscription: text("subscription"),
        },
        _ => Notice::Ignored,
    };
    Ok(Event { id: envelope.id, kind: envelope.kind, notice })
}

/// An invoice's subscription: under `parent.subscription_details` since
/// API version 2025-03-31, at the top before.
fn invoice_subscription(invoice: &serde_json::Value) -> Option<String> {
    invoice
        .pointer("/parent/subscription_details/subscription")
        .and_then(expandable_id)
        .or_else(|| invoice.get("subscription").and_then(expandable_id))
}

/// A reference Stripe sends as an id, or as the object when expanded.
fn expandable_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Object(object) => object.get("id").and_then(|id| id.as_str()).map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    const SECRET: &str = "whsec_unit";

    fn event_body(kind: &str, object: &serde_json::Value) -> Vec<u8> {
        fixtures::event("evt_1", kind, object, 1_800_000_000).to_string().into_bytes()
    }

    #[test]
    fn our_signatures_are_stripes_and_verify_within_the_tolerance() {
        let body =
            event_body("customer.subscription.updated", &serde_json::json!({ "id": "sub_1", "customer": "cus_1" }));
        let text = std::str::from_utf8(&body).unwrap();
        let at = 1_800_000_000;
        let header = stripe_webhook::Webhook::generate_test_header(text, SECRET, Some(at));
        assert_eq!(header, fixtures::signature(&body, SECRET, at), "the same HMAC as Stripe's library");
        let event = verify(&body, &header, SECRET, at + TOLERANCE_SECS).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.notice, Notice::Subscription { subscription: "sub_1".into(), customer: "cus_1".into() });
        assert!(verify(&body, &header, SECRET, at + TOLERANCE_SECS + 1).is_err(), "stale");
        assert!(verify(&body, &header, SECRET, at - TOLERANCE_SECS - 1).is_err(), "from the future");
    }

    #[test]
    fn a_wrong_secret_a_tampered_body_or_a_bad_header_is_refused() {
        let body = event_body("invoice.paid", &fixtures::invoice("in_1", "cus_1", Some("sub_1"), "paid", 1));
        let at = 1_800_000_000;
        let header = fixtures::signature(&body, SECRET, at);
        assert!(verify(&body, &header, "whsec_other", at).is_err());
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert!(verify(&tampered, &header, SECRET, at).is_err());
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert!(matches!(verify(&body, bad, SECRET, at), Err(BillingError::Webhook(_))), "{bad}");
        }
        // Any of several v1 signatures (during a secret's rotation) will do.
        let both = format!("{header},v1={}", "00".repeat(32));
        let event = verify(&body, &both, SECRET, at).unwrap();
        assert_eq!(event.notice, Notice::Invoice { subscription: Some("sub_1".into()), customer: "cus_1".into() });
    }

    #[test]
    fn events_name_what_billing_reads_again() {
        let session = fixtures::checkout_session(&fixtures::CheckoutSessionFixture {
            id: "cs_1",
            customer: "cus_1",
            subscription: Some("sub_1"),
            client_reference_id: "org-1",
            status: "complete",
            url: None,
            success_url: "https://x/",
            cancel_url: "https://x/",
            created: 1,
        });
        let parsed = parse_event(&event_body("checkout.session.completed", &session)).unwrap();
        assert_eq!(
            parsed.notice,
            Notice::CheckoutCompleted {
                org: Some("org-1".into()),
                customer: Some("cus_1".into()),
                subscription: Some("sub_1".into())
            }
        );
        let old_invoice = serde_json::json!({ "id": "in_1", "customer": "cus_1", "subscription": "sub_9" });
        let parsed = parse_event(&event_body("invoice.payment_failed", &old_invoice)).unwrap();
        assert_eq!(parsed.notice, Notice::Invoice { subscription: Some("sub_9".into()), customer: "cus_1".into() });
        let unknown = parse_event(&event_body("payout.paid", &serde_json::json!({}))).unwrap();
        assert_eq!(unknown.notice, Notice::Ignored);
        let broken = parse_event(&event_body("customer.subscription.updated", &serde_json::json!({ "id": "sub_1" })));
        assert!(broken.is_err(), "a subscription event without its customer");
    }

    /// The fixtures parse as Stripe's own typed event objects, so they are
    /// in the shape the API sends.
    #[test]
    fn fixture_events_parse_with_stripes_library() {
        let items = [fixtures::Item {
            id: "si_1".into(),
            price: "price_team".into(),
            usage_type: "licensed",
            quantity: Some(3),
        }];
        let subscription = fixtures::subscription("sub_1", "cus_1", "active", &items, 1_800_000_000);
        let body = event_body("customer.subscription.updated", &subscription);
        let text = std::str::from_utf8(&body).unwrap();
        let header = stripe_webhook::Webhook::generate_test_header(text, SECRET, None);
        let event = stripe_webhook::Webhook::construct_event(text, &header, SECRET).unwrap();
        assert!(matches!(event.data.object, stripe_webhook::EventObject::CustomerSubscriptionUpdated(_)));
    }
}
