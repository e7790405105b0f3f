//! Liveness, readiness and metrics endpoints.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use strata_api_types::{Check, Readiness};

use crate::state::AppState;
use strata_api_types::ErrorCode;
use strata_http::reject;

/// How long one dependency may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and serving. Checks nothing else, by design: a
/// failing database must not get the process restarted.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The server can do its work: the database answers and the object store
/// accepts a write. 503 with the failing checks otherwise. The database is
/// asked over the probe's own connection: a pool busy with requests says
/// nothing about whether the database is up.
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, object_store) = tokio::join!(
        timed(strata_core::db::ping(&state.probe_db)),
        timed(strata_core::store::probe(state.store.as_ref())),
    );
    let checks = BTreeMap::from([("database".to_owned(), database), ("object_store".to_owned(), object_store)]);
    let ready = checks.values().all(|check| check.ok);
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.to_owned(),
        version: strata_core::VERSION.to_owned(),
        checks,
        runner: Some(state.runner.clone()),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(?body, "not ready");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Runs one check with a timeout, keeping its latency and error.
async fn timed<E: std::fmt::Display>(check: impl Future<Output = Result<(), E>>) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    };
    Check { ok: error.is_none(), latency_ms, error }
}

/// `/metrics` on the public address: only for `Authorization: Bearer
/// <metrics_token>`. Series name tenants' workspaces, so without a token
/// configured the public address does not serve them at all (a scraper
/// then uses `metrics_listen`).
pub(crate) async fn metrics(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, crate::Error> {
    let Some(expected) = &state.metrics_token else {
        return Ok(reject(
            ErrorCode::NotFound,
            "metrics are not served here; set `metrics_token` or `metrics_listen` (docs/operations.md#metrics)",
        ));
    };
    let given = crate::workspace_auth::bearer(request.headers()).and_then(Result::ok).unwrap_or_default();
    if !crate::workspace_auth::same_secret(given, expected.expose()) {
        return Ok(reject(ErrorCode::Unauthenticated, "metrics need `Authorization: Bearer <metrics_token>`"));
    }
    exposition(&state.metrics)
}

/// `/metrics` on the `metrics_listen` address, which only a private
/// network reaches: no credentials.
pub(crate) async fn open_metrics(state: web::Data<AppState>) -> Result<HttpResponse, crate::Error> {
    exposition(&state.metrics)
}

/// `metrics` in the Prometheus text format, as an answer.
pub(crate) fn exposition(metrics: &strata_core::telemetry::Metrics) -> Result<HttpResponse, crate::Error> {
    let text = metrics.render()?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}
