//! `POST /webhooks/stripe`: Stripe's events, verified by signature (no
//! session: the signature is the authentication). A refused signature is
//! a 400 Stripe shows in its dashboard; a failure of ours is a 500, so
//! Stripe delivers the event again later.

use actix_web::{HttpRequest, HttpResponse, web};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use strata_api_types::ErrorCode;
use strata_billing::metering::Round;
use strata_billing::{Billing, BillingError, WebhookOutcome};
use strata_core::telemetry::Metrics;

/// Stripe's events are small; anything far larger is not one.
pub(crate) const MAX_EVENT_BYTES: usize = 512 * 1024;

/// Billing's counters on `/metrics`: `strata_billing_webhooks_total{outcome}`,
/// `strata_billing_usage_records_total`, `strata_billing_storage_samples_total`
/// and `strata_billing_meter_events_total`.
#[derive(Debug, Clone)]
pub(crate) struct BillingMetrics {
    webhooks: Counter<u64>,
    records: Counter<u64>,
    storage_samples: Counter<u64>,
    meter_events: Counter<u64>,
}

impl BillingMetrics {
    pub(crate) fn new(metrics: &Metrics) -> Self {
        let meter = metrics.meter("strata.billing");
        let counter = |name: &'static str, description: &'static str| {
            meter.u64_counter(name).with_description(description).build()
        };
        BillingMetrics {
            webhooks: counter("strata.billing.webhooks", "Stripe webhook requests, by outcome"),
            records: counter("strata.billing.usage.records", "Usage records counted into meter buckets"),
            storage_samples: counter("strata.billing.storage.samples", "Hourly storage samples of workspaces counted"),
            meter_events: counter("strata.billing.meter.events", "Meter events sent to Stripe"),
        }
    }

    /// What one metering round did.
    pub(crate) fn metered(&self, round: Round) {
        self.records.add(round.counted, &[]);
        self.storage_samples.add(round.sampled, &[]);
        self.meter_events.add(round.sent, &[]);
    }

    fn webhook(&self, outcome: &'static str) {
        self.webhooks.add(1, &[KeyValue::new("outcome", outcome)]);
    }
}

pub(crate) async fn stripe(
    billing: web::Data<Billing>,
    metrics: web::Data<BillingMetrics>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(signature) = request.headers().get("stripe-signature").and_then(|v| v.to_str().ok()) else {
        metrics.webhook("unsigned");
        return strata_http::reject(ErrorCode::Unauthenticated, "a Stripe webhook needs its Stripe-Signature header");
    };
    let now = chrono::Utc::now().timestamp();
    match billing.handle_webhook(&body, signature, now).await {
        Ok(outcome) => {
            metrics.webhook(match outcome {
                WebhookOutcome::Applied => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Ignored => "ignored",
            });
            HttpResponse::Ok().json(serde_json::json!({ "received": true, "outcome": format!("{outcome:?}") }))
        }
        Err(BillingError::Webhook(reason)) => {
            metrics.webhook("refused");
            tracing::warn!(%reason, "a Stripe webhook was refused");
            strata_http::reject(ErrorCode::InvalidRequest, reason)
        }
        Err(error) => {
            metrics.webhook("failed");
            strata_http::error_response(ErrorCode::Internal, &error, strata_http::Disclosure::Withheld)
        }
    }
}
