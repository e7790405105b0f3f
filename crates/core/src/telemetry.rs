//! Logs, traces and metrics.
//!
//! * Logs: `tracing` to stderr, human-readable or JSON.
//! * Traces: every span gets an OpenTelemetry context, so W3C `traceparent`
//!   headers are honoured on incoming requests and sent on outgoing ones.
//!   Spans are exported by OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! * Metrics: OpenTelemetry instruments, read by a Prometheus registry for
//!   `/metrics` and, when the OTLP endpoint is set, pushed by OTLP as well.

use std::sync::OnceLock;

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings};
use crate::error::{Error, Result};

/// The environment variable that switches OTLP export on.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

const SERVICE_NAME: &str = "strata";

fn otlp_enabled() -> bool {
    std::env::var_os(OTLP_ENDPOINT_VAR).is_some_and(|value| !value.is_empty())
}

fn resource() -> Resource {
    Resource::builder().with_service_name(SERVICE_NAME).build()
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
/// OpenTelemetry layer. Call once, first thing in `main`.
pub fn init_logging(settings: &LogSettings) -> Result<LoggingGuard> {
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
        init_logging(&settings).ok()
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
    fn two_registries_do_not_share_figures() {
        let first = Metrics::new().expect("metrics");
        let second = Metrics::new().expect("metrics");
        first.meter("test").u64_counter("only.here").build().add(1, &[]);
        assert!(first.render().expect("render").contains("only_here_total"));
        assert!(!second.render().expect("render").contains("only_here_total"));
    }
}
