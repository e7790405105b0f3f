//! What the provisioner exports: reconcile outcomes and durations, and the
//! autoscaler's every decision with its inputs.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};

use crate::error::ProvisionerError;

/// Instruments of the provisioner; no-ops without a meter.
#[derive(Debug, Clone)]
pub struct ProvisionerMetrics {
    reconciles: Counter<u64>,
    reconcile_seconds: Histogram<f64>,
    decisions: Counter<u64>,
    desired: Gauge<u64>,
    current: Gauge<u64>,
    outstanding: Gauge<u64>,
}

impl ProvisionerMetrics {
    pub fn new(meter: &Meter) -> Self {
        ProvisionerMetrics {
            reconciles: meter
                .u64_counter("strata_provisioner_reconciles")
                .with_description("Workspace reconciles by backend and outcome (ok or the failure reason)")
                .build(),
            reconcile_seconds: meter
                .f64_histogram("strata_provisioner_reconcile_duration_seconds")
                .with_description("Time to reconcile one workspace")
                .with_unit("s")
                .build(),
            decisions: meter
                .u64_counter("strata_autoscaler_decisions")
                .with_description("Autoscaler decisions that changed a pipeline's workers, by reason")
                .build(),
            desired: meter
                .u64_gauge("strata_autoscaler_desired_workers")
                .with_description("Workers the autoscaler wants for a pipeline")
                .build(),
            current: meter
                .u64_gauge("strata_autoscaler_current_workers")
                .with_description("Workers running for a pipeline")
                .build(),
            outstanding: meter
                .u64_gauge("strata_autoscaler_outstanding_datums")
                .with_description("Datums queued or in flight for a pipeline")
                .build(),
        }
    }

    /// Instruments that record nothing (tests, the simulator).
    pub fn disabled() -> Self {
        use opentelemetry::metrics::MeterProvider as _;
        Self::new(&opentelemetry::metrics::noop::NoopMeterProvider::new().meter("strata-provisioner"))
    }

    pub(crate) fn reconciled(&self, backend: &'static str, error: Option<&ProvisionerError>, took: Duration) {
        let outcome = error.map_or("ok", ProvisionerError::reason);
        let labels = [KeyValue::new("backend", backend), KeyValue::new("outcome", outcome)];
        self.reconciles.add(1, &labels);
        self.reconcile_seconds.record(took.as_secs_f64(), &labels[..1]);
    }

    pub(crate) fn scaled(&self, workspace: &str, pipeline: &str, observed: Scaling<'_>) {
        let labels = [KeyValue::new("workspace", workspace.to_owned()), KeyValue::new("pipeline", pipeline.to_owned())];
        self.desired.record(u64::from(observed.desired), &labels);
        self.current.record(u64::from(observed.current), &labels);
        self.outstanding.record(observed.outstanding, &labels);
        if observed.changed {
            self.decisions.add(1, &[KeyValue::new("reason", observed.reason.to_owned())]);
        }
    }
}

/// One observation of a pipeline's workers, for [`ProvisionerMetrics::scaled`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scaling<'a> {
    pub desired: u32,
    pub current: u32,
    pub outstanding: u64,
    pub reason: &'a str,
    pub changed: bool,
}
