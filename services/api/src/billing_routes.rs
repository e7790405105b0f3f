//! `POST /webhooks/stripe`: Stripe's events, verified by signature (no
//! session: the signature is the authentication). A refused signature is
//! a 400 Stripe shows in its dashboard; a failure of ours is a 500, so
//! Stripe delivers the event again later.

use actix_web::{HttpRequest, HttpResponse, web};
use strata_api_types::ErrorCode;
use strata_billing::{Billing, BillingError};

/// Stripe's events are small; anything far larger is not one.
pub(crate) const MAX_EVENT_BYTES: usize = 512 * 1024;

pub(crate) async fn stripe(billing: web::Data<Billing>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(signature) = request.headers().get("stripe-signature").and_then(|v| v.to_str().ok()) else {
        return strata_http::reject(ErrorCode::Unauthenticated, "a Stripe webhook needs its Stripe-Signature header");
    };
    let now = chrono::Utc::now().timestamp();
    match billing.handle_webhook(&body, signature, now).await {
        Ok(outcome) => {
            HttpResponse::Ok().json(serde_json::json!({ "received": true, "outcome": format!("{outcome:?}") }))
        }
        Err(BillingError::Webhook(reason)) => {
            tracing::warn!(%reason, "a Stripe webhook was refused");
            strata_http::reject(ErrorCode::InvalidRequest, reason)
        }
        Err(error) => strata_http::error_response(ErrorCode::Internal, &error, strata_http::Disclosure::Withheld),
    }
}
