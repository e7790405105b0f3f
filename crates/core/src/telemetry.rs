//! Logs, traces and metrics.
//!
//! * Logs: `tracing` to stderr, human-readable or JSON.
//! * Traces: every span gets an OpenTelemetry context, so W3C `traceparent`
//!   headers are honoured on incoming requests and sent on outgoing ones.
//!   Spans are exported by OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! * Metrics: OpenTelemetry instruments, read by a Prometheus registry for
//!   `/metrics` and, when the OTLP endpoint is set, pushed by OTLP as well.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings};
use crate::error::{Error, Result};

/// The environment variable that switches OTLP export on.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

const SERVICE_NAME: &str = "strata";

/// The `service.name` of this process's spans and metrics, set once by
/// [`init_logging`], so a trace shows which process did what.
static SERVICE: OnceLock<&'static str> = OnceLock::new();

fn otlp_enabled() -> bool {
    std::env::var_os(OTLP_ENDPOINT_VAR).is_some_and(|value| !value.is_empty())
}

fn resource() -> Resource {
    Resource::builder().with_service_name(*SERVICE.get().unwrap_or(&SERVICE_NAME)).build()
}

/// The current span's trace context as W3C headers (`traceparent`, and
/// `tracestate` when there is one), for a request this process sends on.
pub fn trace_headers() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut headers = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut headers));
    headers
}

/// The current span's W3C `traceparent`, to hand to work that continues
/// elsewhere (a datum a worker runs); `None` outside a traced span.
pub fn current_traceparent() -> Option<String> {
    trace_headers().remove("traceparent")
}

/// Makes `span` a child of the span a `traceparent` names (as handed on by
/// [`current_traceparent`]); a malformed value leaves it a new root.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    // Fails only when the span is disabled by the filter: nothing to join then.
    let _ = span.set_parent(parent);
}

/// Keeps the tracer provider alive; dropping it flushes pending spans.
#[derive(Debug)]
pub struct LoggingGuard {
    tracer_provider: SdkTracerProvider,
}

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        // Flushing can only fail if the collector is gone; nothing to do then.
        let _ = self.tracer_provider.shutdown();
    }
}

/// Installs the process-wide subscriber: logs to stderr plus the
/// OpenTelemetry layer, its spans named as `service` (`strata-api`,
/// `strata-workspace`, `strata-worker`…). Call once, first thing in `main`.
pub fn init_logging(settings: &LogSettings, service: &'static str) -> Result<LoggingGuard> {
    let _ = SERVICE.set(service);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer_provider = tracer_provider()?;
    // Traces do not depend on the log level: spans at INFO and above always
    // get a context, so propagation works even when logs are quiet.
    let otel =
        tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer(SERVICE_NAME)).with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(otel);
    let log_filter = || log_filter(&settings.filter);
    let result = match settings.format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(log_filter()?))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr)
                    .with_filter(log_filter()?),
            )
            .try_init(),
    };
    result.map_err(|e| Error::Telemetry(format!("a log subscriber is already installed: {e}")))?;
    Ok(LoggingGuard { tracer_provider })
}

/// Libraries whose INFO lines are chatter for Strata's users; quieted unless
/// the filter names them.
const QUIET_TARGETS: &[&str] = &["sea_orm_migration", "sqlx", "opentelemetry_sdk", "actix_server"];

/// The user's filter, plus WARN for [`QUIET_TARGETS`] it does not mention.
fn log_filter(directives: &str) -> Result<EnvFilter> {
    let mut filter = EnvFilter::try_new(directives).map_err(|e| Error::Telemetry(e.to_string()))?;
    for target in QUIET_TARGETS.iter().filter(|target| !directives.contains(*target)) {
        let directive = format!("{target}=warn").parse().map_err(|e| Error::Telemetry(format!("{e}")))?;
        filter = filter.add_directive(directive);
    }
    Ok(filter)
}

/// Installs a subscriber for tests once per process (later calls are no-ops),
/// so spans carry trace contexts as they do in production.
pub fn init_for_tests() {
    static ONCE: OnceLock<Option<LoggingGuard>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let settings = LogSettings { format: LogFormat::Pretty, filter: "warn".to_owned() };
        init_logging(&settings, "strata-test").ok()
    });
}

/// Always a real provider, so spans have ids even without an exporter: trace
/// context then still flows from incoming to outgoing requests.
fn tracer_provider() -> Result<SdkTracerProvider> {
    let builder = SdkTracerProvider::builder().with_resource(resource());
    if !otlp_enabled() {
        return Ok(builder.build());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| Error::Telemetry(format!("OTLP span exporter: {e}")))?;
    Ok(builder.with_batch_exporter(exporter).build())
}

/// Metrics of one running application: instruments are created from
/// [`Metrics::meter`] and read back as Prometheus text by [`Metrics::render`].
///
/// Not global, so several applications in one test process keep their
/// figures apart.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: prometheus::Registry,
    provider: SdkMeterProvider,
}

impl Metrics {
    /// A fresh registry; pushes by OTLP too when the endpoint is configured.
    pub fn new() -> Result<Self> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .scope_info_enabled(false)
            .build()
            .map_err(|e| Error::Telemetry(format!("Prometheus exporter: {e}")))?;
        let mut builder = SdkMeterProvider::builder().with_resource(resource()).with_reader(exporter);
        if otlp_enabled() {
            let otlp = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| Error::Telemetry(format!("OTLP metric exporter: {e}")))?;
            builder = builder.with_reader(PeriodicReader::builder(otlp).build());
        }
        Ok(Self { registry, provider: builder.build() })
    }

    /// A meter for one component, e.g. `strata-api`.
    pub fn meter(&self, component: &'static str) -> Meter {
        self.provider.meter(component)
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String> {
        let mut out = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut out)
            .map_err(|e| Error::Telemetry(format!("encoding metrics: {e}")))?;
        Ok(out)
    }

    /// Flushes metrics to the OTLP collector, if any.
    pub fn shutdown(&self) {
        // Nothing can be done about a collector that is gone at exit.
        let _ = self.provider.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    #[test]
    fn instruments_show_up_in_prometheus_text() {
        let metrics = Metrics::new().expect("metrics");
        let counter = metrics.meter("test").u64_counter("widgets.made").with_description("Widgets made").build();
        counter.add(3, &[KeyValue::new("colour", "blue")]);
        let text = metrics.render().expect("render");
        assert!(text.contains("# HELP widgets_made_total Widgets made"), "{text}");
        assert!(text.contains("widgets_made_total{colour=\"blue\""), "{text}");
    }

    #[test]
    fn a_traceparent_handed_on_makes_the_next_span_a_child_in_the_same_trace() {
        use opentelemetry::trace::TraceContextExt as _;
        init_for_tests();
        let request = tracing::info_span!("request");
        let handed_on = request.in_scope(current_traceparent).expect("a traced span has a traceparent");
        let datum = tracing::info_span!("datum");
        continue_trace(&datum, &handed_on);
        let (parent, child) = (request.context(), datum.context());
        let (parent, child) = (parent.span().span_context().clone(), child.span().span_context().clone());
        assert_eq!(child.trace_id(), parent.trace_id(), "one trace");
        assert!(handed_on.contains(&parent.span_id().to_string()), "{handed_on} names the request's span");
        assert!(
            tracing::info_span!("outside")
                .in_scope(current_traceparent)
                .is_some_and(|t| !t.contains(&parent.trace_id().to_string()))
        );
    }

    #[test]
    fn two_registries_do_not_share_figures() {
        let first = Metrics::new().expect("metrics");
        let second = Metrics::new().expect("metrics");
        first.meter("test").u64_counter("only.here").build().add(1, &[]);
        assert!(first.render().expect("render").contains("only_here_total"));
        assert!(!second.render().expect("render").contains("only_here_total"));
    }
}
