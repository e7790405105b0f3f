//! Per-request telemetry: a span joined to the caller's W3C trace context,
//! a `traceresponse` header naming it, and request metrics.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use futures::future::LocalBoxFuture;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, UpDownCounter};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use strata_core::telemetry::Metrics;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

tokio::task_local! {
    /// Set while a request is being answered, so that what it causes (SQL
    /// statements) can be told from what background tasks do.
    static SERVING: ();
}

/// `request` inside the answering of an HTTP request, `background` for the
/// rest (masters, embedded workers, the provisioner): the `origin` label of
/// `strata_db_queries_total`.
pub(crate) fn origin() -> &'static str {
    if SERVING.try_with(|()| ()).is_ok() { "request" } else { "background" }
}

/// Spawns `work` that a request asked for and waits on (a DataLoader's
/// batch), so that its statements count as the request's.
pub(crate) fn spawn_for_request<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(SERVING.scope((), work))
}

/// Reads propagation headers from actix's header map.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Middleware factory; see the module docs.
#[derive(Clone)]
pub(crate) struct RequestTelemetry {
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

impl RequestTelemetry {
    pub fn new(metrics: &Metrics) -> Self {
        let duration = metrics
            .meter("strata-api")
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("Time to answer HTTP requests, by method, route and status")
            .with_boundaries(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .build();
        let active = metrics
            .meter("strata-api")
            .i64_up_down_counter("http.server.active_requests")
            .with_description("HTTP requests being answered now, by method and route (long polls included)")
            .build();
        Self { duration, active }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestTelemetryService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTelemetryService {
            service: Rc::new(service),
            duration: self.duration.clone(),
            active: self.active.clone(),
        }))
    }
}

/// The per-worker service created by [`RequestTelemetry`].
pub(crate) struct RequestTelemetryService<S> {
    service: Rc<S>,
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
}

/// Counts a request as active for as long as its answer is being made; a
/// request whose client went away is dropped, and stops counting, too.
struct Active {
    counter: UpDownCounter<i64>,
    labels: [KeyValue; 2],
}

impl Active {
    fn start(counter: UpDownCounter<i64>, method: &str, route: String) -> Self {
        let labels = [KeyValue::new("http.request.method", method.to_owned()), KeyValue::new("http.route", route)];
        counter.add(1, &labels);
        Active { counter, labels }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.counter.add(-1, &self.labels);
    }
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let method = request.method().to_string();
        let span = tracing::info_span!(
            "http.request",
            http.method = %method,
            http.path = %request.path(),
            http.route = tracing::field::Empty,
            http.status = tracing::field::Empty,
        );
        // Fails only when the span is disabled by the filter; then there is
        // no context to join.
        let _ = span.set_parent(parent);
        let service = Rc::clone(&self.service);
        let duration = self.duration.clone();
        let pattern = request.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let active = Active::start(self.active.clone(), &method, pattern);
        let started = Instant::now();
        Box::pin(
            async move {
                let mut response = SERVING.scope((), service.call(request)).await?;
                let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                let status = response.status().as_u16();
                let current = tracing::Span::current();
                current.record("http.route", route.as_str());
                current.record("http.status", status);
                let elapsed = started.elapsed();
                // The access log, at debug level: method, path (never the
                // query string, which may hold a link's token), status, time.
                tracing::debug!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request served");
                duration.record(
                    elapsed.as_secs_f64(),
                    &[
                        KeyValue::new("http.request.method", method),
                        KeyValue::new("http.route", route),
                        KeyValue::new("http.response.status_code", i64::from(status)),
                    ],
                );
                if let Some(value) = traceresponse(&current) {
                    response.headers_mut().insert(HeaderName::from_static("traceresponse"), value);
                }
                drop(active);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// The W3C `traceresponse` header for the request's span: lets a caller find
/// the server side of its trace.
fn traceresponse(span: &tracing::Span) -> Option<HeaderValue> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if !span_context.is_valid() {
        return None;
    }
    let value =
        format!("00-{}-{}-{:02x}", span_context.trace_id(), span_context.span_id(), span_context.trace_flags().to_u8());
    HeaderValue::from_str(&value).ok()
}
