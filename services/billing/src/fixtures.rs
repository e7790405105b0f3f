//! Stripe objects in the shape of API version 2026-09-30, for the providers
//! that stand in for Stripe: the in-memory one's webhook events, and the
//! local HTTP double the Stripe client is tested against. Each carries the
//! fields Stripe always sends (the typed client refuses an object without
//! them) and the ones billing reads; the rest are left out, as absent
//! optional fields.

use serde_json::{Value, json};

/// The API version the objects follow (async-stripe 1.0.0-rc.10's).
pub const API_VERSION: &str = "2026-09-30.endive";

/// A customer.
pub fn customer(id: &str, org_id: &str, name: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "customer", "created": created, "livemode": false,
        "name": name, "email": null, "metadata": { "strata_org": org_id },
        "balance": 0, "currency": null, "delinquent": false, "description": null,
        "invoice_prefix": "STRATA", "preferred_locales": [], "tax_exempt": "none",
    })
}

/// One item of a subscription: a price and, for a licensed one, a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub price: String,
    /// `licensed` (seats) or `metered` (usage).
    pub usage_type: &'static str,
    pub quantity: Option<u64>,
}

/// A subscription of `customer` with `items`, in `status`.
pub fn subscription(id: &str, customer: &str, status: &str, items: &[Item], created: i64) -> Value {
    let period_end = created + 30 * 24 * 3600;
    let items: Vec<Value> = items.iter().map(|item| subscription_item(id, item, created, period_end)).collect();
    json!({
        "id": id, "object": "subscription", "created": created, "livemode": false,
        "customer": customer, "status": status, "currency": "usd", "metadata": {},
        "automatic_tax": { "enabled": false, "disabled_reason": null, "liability": null },
        "billing_cycle_anchor": created,
        "billing_mode": { "type": "flexible", "flexible": { "proration_discounts": "included" }, "updated_at": created },
        "billing_schedules": [], "cancel_at": null, "cancel_at_period_end": false,
        "canceled_at": if status == "canceled" { json!(created) } else { Value::Null },
        "collection_method": "charge_automatically", "discounts": [],
        "ended_at": if status == "canceled" { json!(created) } else { Value::Null },
        "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
        "items": { "object": "list", "data": items, "has_more": false, "url": format!("/v1/subscription_items?subscription={id}") },
        "latest_invoice": null, "start_date": created, "trial_end": null, "trial_start": null,
    })
}

fn subscription_item(subscription: &str, item: &Item, created: i64, period_end: i64) -> Value {
    let recurring = json!({ "interval": "month", "interval_count": 1, "usage_type": item.usage_type, "meter": null });
    json!({
        "id": item.id, "object": "subscription_item", "created": created, "metadata": {}, "discounts": [],
        "current_period_start": created, "current_period_end": period_end,
        "quantity": item.quantity, "subscription": subscription, "tax_rates": [],
        "plan": {
            "id": item.price, "object": "plan", "active": true, "billing_scheme": "per_unit", "created": created,
            "currency": "usd", "interval": "month", "interval_count": 1, "livemode": false,
            "usage_type": item.usage_type, "amount": null, "product": "prod_strata",
        },
        "price": {
            "id": item.price, "object": "price", "active": true, "billing_scheme": "per_unit", "created": created,
            "currency": "usd", "livemode": false, "metadata": {}, "type": "recurring", "recurring": recurring,
            "product": "prod_strata", "lookup_key": null, "unit_amount": null,
        },
    })
}

/// A Checkout Session in subscription mode.
pub fn checkout_session(session: &CheckoutSessionFixture<'_>) -> Value {
    json!({
        "id": session.id, "object": "checkout.session", "created": session.created,
        "expires_at": session.created + 24 * 3600, "livemode": false, "mode": "subscription",
        "status": session.status, "payment_status": if session.status == "complete" { "paid" } else { "unpaid" },
        "customer": session.customer, "subscription": session.subscription,
        "client_reference_id": session.client_reference_id, "url": session.url,
        "success_url": session.success_url, "cancel_url": session.cancel_url,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "custom_fields": [], "custom_text": {}, "payment_method_types": ["card"], "shipping_options": [],
        "metadata": {}, "currency": "usd",
    })
}

/// What a Checkout Session fixture says.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutSessionFixture<'a> {
    pub id: &'a str,
    pub customer: &'a str,
    pub subscription: Option<&'a str>,
    pub client_reference_id: &'a str,
    /// `open` or `complete`.
    pub status: &'a str,
    pub url: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    pub created: i64,
}

/// A customer portal session.
pub fn portal_session(id: &str, customer: &str, url: &str, return_url: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "billing_portal.session", "configuration": "bpc_strata", "created": created,
        "customer": customer, "livemode": false, "locale": null, "on_behalf_of": null,
        "return_url": return_url, "url": url, "flow": null,
    })
}

/// A meter event as Stripe answers its creation.
pub fn meter_event(
    event_name: &str,
    identifier: &str,
    customer: &str,
    value: u64,
    timestamp: i64,
    created: i64,
) -> Value {
    json!({
        "object": "billing.meter_event", "created": created, "event_name": event_name, "identifier": identifier,
        "livemode": false, "payload": { "stripe_customer_id": customer, "value": value.to_string() },
        "timestamp": timestamp,
    })
}

/// An invoice of `subscription` (where it bills one), `paid` or `open`.
pub fn invoice(id: &str, customer: &str, subscription: Option<&str>, status: &str, created: i64) -> Value {
    let parent = subscription.map(|subscription| {
        json!({
            "type": "subscription_details", "quote_details": null,
            "subscription_details": { "subscription": subscription, "metadata": {} },
        })
    });
    json!({
        "id": id, "object": "invoice", "created": created, "livemode": false, "customer": customer,
        "status": status, "currency": "usd", "parent": parent, "attempt_count": 1,
        "attempted": true, "amount_due": 2000, "amount_paid": if status == "paid" { 2000 } else { 0 },
        "billing_reason": "subscription_cycle", "collection_method": "charge_automatically",
    })
}

/// An event of `kind` about `object`.
pub fn event(id: &str, kind: &str, object: &Value, created: i64) -> Value {
    json!({
        "id": id, "object": "event", "api_version": API_VERSION, "created": created,
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null }, "type": kind,
    })
}

/// The `Stripe-Signature` header Stripe sends with `body`, signed with the
/// endpoint's `secret` at `timestamp`.
pub fn signature(body: &[u8], secret: &str, timestamp: i64) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = crate::webhook::signed_payload(timestamp, body);
    format!("t={timestamp},v1={}", hex::encode(hmac::sign(&key, &signed).as_ref()))
}
