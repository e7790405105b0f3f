//! Prometheus metrics of PPS (through OpenTelemetry).

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use parking_lot::Mutex;
use strata_queue::Depth;

/// Counters for jobs and datums; gauges for queue depth, read from the
/// depths the master last saw (the autoscaler scrapes them).
#[derive(Clone, Default)]
pub struct PpsMetrics {
    jobs: Option<Counter<u64>>,
    datums: Option<Counter<u64>>,
    datum_seconds: Option<Histogram<f64>>,
}

impl PpsMetrics {
    pub fn new(meter: Option<Meter>, depths: Arc<Mutex<HashMap<String, Depth>>>) -> Self {
        let Some(meter) = meter else { return Self::default() };
        let queued = depths.clone();
        meter
            .u64_observable_gauge("strata_pps_queue_tasks")
            .with_description("Datum tasks waiting in a pipeline's queue")
            .with_callback(move |observer| {
                for (pipeline, depth) in queued.lock().iter() {
                    observer.observe(depth.queued, &[KeyValue::new("pipeline", pipeline.clone())]);
                }
            })
            .build();
        meter
            .u64_observable_gauge("strata_pps_in_flight_tasks")
            .with_description("Datum tasks held by workers")
            .with_callback(move |observer| {
                for (pipeline, depth) in depths.lock().iter() {
                    observer.observe(depth.in_flight, &[KeyValue::new("pipeline", pipeline.clone())]);
                }
            })
            .build();
        Self {
            jobs: Some(meter.u64_counter("strata_pps_jobs").with_description("Jobs that ended, by state").build()),
            datums: Some(meter.u64_counter("strata_pps_datums").with_description("Datums by final state").build()),
            datum_seconds: Some(
                meter
                    .f64_histogram("strata_pps_datum_duration_seconds")
                    .with_description("Wall time of processed datums")
                    .with_boundaries(vec![
                        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                    ])
                    .build(),
            ),
        }
    }

    pub fn job_ended(&self, pipeline: &str, state: &str) {
        if let Some(jobs) = &self.jobs {
            jobs.add(1, &[KeyValue::new("pipeline", pipeline.to_owned()), KeyValue::new("state", state.to_owned())]);
        }
    }

    pub fn datums(&self, pipeline: &str, state: &str, count: u64) {
        if let Some(datums) = &self.datums {
            datums.add(
                count,
                &[KeyValue::new("pipeline", pipeline.to_owned()), KeyValue::new("state", state.to_owned())],
            );
        }
    }

    pub fn datum_took(&self, pipeline: &str, seconds: f64) {
        if let Some(histogram) = &self.datum_seconds {
            histogram.record(seconds, &[KeyValue::new("pipeline", pipeline.to_owned())]);
        }
    }
}
