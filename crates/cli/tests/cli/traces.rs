//! Traces reach a real OTLP/gRPC receiver: OpenTelemetry's own collector
//! service (`opentelemetry-proto`), served on loopback by this test. One
//! `put file` through the gateway and the datum it sets off make a single
//! trace across three processes: `strata dev` (the gateway), the
//! workspace's server and its worker.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

use crate::support::{Sandbox, json, ok, put, write_spec};

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: HashMap<String, String>,
}

/// Keeps every span exported to it, and signals each export.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<(Mutex<Vec<Received>>, Condvar)>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            let service = text_attributes(&resource).remove("service.name").unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                received.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    attributes: text_attributes(&span.attributes),
                });
            }
        }
        let (spans, exported) = &*self.spans;
        spans.lock().unwrap_or_else(PoisonError::into_inner).extend(received);
        exported.notify_all();
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn text_attributes(attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(text) => text.clone(),
                AnyValue::IntValue(number) => number.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

impl Receiver {
    /// Serves OTLP/gRPC on a loopback port, on its own thread, for the rest
    /// of the test process.
    fn start() -> (Receiver, u16) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("address").port();
        let receiver = Receiver::default();
        let serving = receiver.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((stream, _)) = listener.accept().await {
                    let service =
                        hyper_util::service::TowerToHyperService::new(TraceServiceServer::new(serving.clone()));
                    tokio::spawn(async move {
                        let http2 = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
                        let _ = http2.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    });
                }
            });
        });
        (receiver, port)
    }

    /// What `found` answers on the spans received so far, as soon as it
    /// answers anything (woken by each export); panics naming `what` and
    /// the spans received when `within` runs out.
    fn wait_for<T>(&self, what: &str, within: Duration, found: impl Fn(&[Received]) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        let (spans, exported) = &*self.spans;
        let mut received = spans.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(answer) = found(&received) {
                return answer;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let names: Vec<(&str, &str)> = received.iter().map(|s| (s.service.as_str(), s.name.as_str())).collect();
            assert!(!left.is_zero(), "{what} within {within:?}; received {names:?}");
            received = exported.wait_timeout(received, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// The worker's task span, its parent in the workspace server and that
/// one's parent in the gateway, once all three have been exported.
fn chain(spans: &[Received]) -> Option<(Received, Received, Received)> {
    let by_id = |id: &[u8]| spans.iter().find(|span| span.span_id == id).cloned();
    let task = spans
        .iter()
        .find(|span| span.name == "pps.task" && span.attributes.get("pipeline").is_some_and(|p| p == "copy"))?;
    let server = by_id(&task.parent_span_id)?;
    let gateway = by_id(&server.parent_span_id)?;
    Some((task.clone(), server, gateway))
}

#[test]
fn one_put_file_and_its_datum_make_one_trace_across_gateway_workspace_server_and_worker() {
    let (receiver, port) = Receiver::start();
    let sandbox = Sandbox::new();
    let endpoint = format!("http://127.0.0.1:{port}");
    let _dev = sandbox.start_dev_with_env(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("STRATA_SANDBOX", "scratch"),
        ],
    );
    json(&sandbox, &["workspace", "create", "traced", "--org", "local", "--wait"]);
    ok(&sandbox, &["workspace", "use", "local/traced"]);
    ok(&sandbox, &["repo", "create", "letters"]);
    let spec = write_spec(
        &sandbox,
        "copy.json",
        r#"{"pipeline": {"name": "copy"}, "input": {"pfs": {"repo": "letters", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "cp $PFS/letters/* $PFS/out/"]}}"#,
    );
    ok(&sandbox, &["pipeline", "create", "-f", &spec]);
    put(&sandbox, "letters@master:/a.txt", "a\n");
    let job = json(&sandbox, &["job", "wait", "-p", "copy"]);
    assert_eq!(job["state"], "SUCCESS", "{job}");
    assert_eq!(ok(&sandbox, &["get", "file", "copy@master:/a.txt"]), "a\n");

    let (task, server, gateway) =
        receiver.wait_for("a task span chained to the gateway", Duration::from_secs(60), chain);
    assert_eq!(task.service, "strata-worker", "{task:?}");
    assert_eq!((server.service.as_str(), server.name.as_str()), ("strata-workspace", "http.request"), "{server:?}");
    assert_eq!((gateway.service.as_str(), gateway.name.as_str()), ("strata-api", "http.request"), "{gateway:?}");
    assert!(
        gateway.attributes.get("http.path").is_some_and(|p| p.starts_with("/v1/orgs/local/workspaces/traced/")),
        "{gateway:?}"
    );
    assert!(gateway.parent_span_id.is_empty(), "the gateway's span starts the trace: {gateway:?}");
    assert!([&server, &gateway].iter().all(|span| span.trace_id == task.trace_id), "one trace");

    // The worker's own calls to the server (inputs, result) are the task's children.
    let services =
        receiver.wait_for("the worker's calls to the server in the task's trace", Duration::from_secs(30), |spans| {
            let calls = spans.iter().any(|s| s.service == "strata-workspace" && s.parent_span_id == task.span_id);
            calls.then(|| {
                spans.iter().filter(|s| s.trace_id == task.trace_id).map(|s| s.service.clone()).collect::<Vec<_>>()
            })
        });
    assert!(
        services.iter().all(|s| ["strata-api", "strata-workspace", "strata-worker"].contains(&s.as_str())),
        "{services:?}"
    );
}
