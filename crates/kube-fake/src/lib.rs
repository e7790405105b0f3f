//! An in-memory Kubernetes API server for tests (DESIGN.md §8): a tower
//! `Service` that `kube::Client::new` talks to directly, with no network.
//!
//! What it does like a real server:
//! * objects per group/version/resource, namespace and name, with uid,
//!   resourceVersion (unchanged by a write that changes nothing) and
//!   generation (bumped when anything but metadata and status changes);
//! * get, list (with label selectors), create (409 AlreadyExists), replace
//!   (409 on a stale resourceVersion), JSON merge patch, server-side apply
//!   (field managers, conflicts unless forced; see [`apply`]) and delete;
//!   deleting a namespace deletes everything in it; nothing is created in a
//!   namespace that does not exist;
//! * every stored object is validated against the official Kubernetes 1.37
//!   schemas, strict (see [`schema`]); a request that would store an
//!   invalid object gets 422 and is recorded in [`FakeApiServer::rejected`].
//!
//! What it does not: watch, admission, quota enforcement, garbage
//! collection, and controllers, except an optional simulated deployment
//! controller ([`FakeApiServer::with_deployment_controller`]).
//!
//! Tests can count requests ([`FakeApiServer::requests`]) and inject
//! faults ([`Fault`]): error statuses or delays for matching requests, and
//! wait until a fault has taken effect ([`FakeApiServer::faults_taken`]).

mod apply;
mod controller;
mod error;
mod routes;
mod schema;
mod select;
mod store;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

pub use controller::DELETION_COST;
pub use error::ApiError;
use routes::Target;
use select::Selector;
use store::Store;

/// What a request did, by the API server's verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Create,
    Replace,
    Patch,
    Apply,
    Delete,
}

impl Verb {
    /// Whether the verb can change stored state.
    pub fn is_write(self) -> bool {
        !matches!(self, Verb::Get | Verb::List)
    }
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub verb: Verb,
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: u16,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Answer with this HTTP status (and the matching `Status` reason).
    Status(u16),
    /// Wait this long, then answer normally (a slow or hung server).
    Delay(Duration),
}

/// A fault for the next `times` requests that match `verb` and `kind`
/// (`None` matches any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub verb: Option<Verb>,
    pub kind: Option<&'static str>,
    pub effect: Effect,
    pub times: usize,
}

#[derive(Debug, Default)]
struct State {
    store: Store,
    requests: Vec<Recorded>,
    faults: Vec<Fault>,
    /// Injected faults that have taken effect so far.
    faults_taken: usize,
    rejected: Vec<String>,
}

/// The fake server; clones share one state.
#[derive(Debug, Clone, Default)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
    /// Notified each time an injected fault takes effect.
    fault_taken: Arc<tokio::sync::Notify>,
}

impl FakeApiServer {
    pub fn new() -> Self {
        FakeApiServer::default()
    }

    /// Turns on the simulated deployment controller (pods and status).
    pub fn with_deployment_controller(self) -> Self {
        self.lock().store.deployment_controller = true;
        self
    }

    /// A client whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already;
        // the state is still usable for its report.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Why each refused write was refused (schema and name violations).
    pub fn rejected(&self) -> Vec<String> {
        self.lock().rejected.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Resolves once `count` injected faults have taken effect: a request
    /// given a [`Effect::Delay`] is then waiting out its delay.
    pub async fn faults_taken(&self, count: usize) {
        loop {
            let taken = self.fault_taken.notified();
            tokio::pin!(taken);
            // Registered before the check, so a fault taken in between is not missed.
            taken.as_mut().enable();
            if self.lock().faults_taken >= count {
                return;
            }
            taken.await;
        }
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().store.all()
    }

    /// One stored object.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.lock().store.find(api_version, kind, namespace, name)
    }

    /// The field managers of a stored object.
    pub fn managers(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Vec<String> {
        self.lock().store.managers(api_version, kind, namespace, name)
    }

    /// Deletes a namespace and its contents as `kubectl delete` would,
    /// behind the provisioner's back.
    pub fn delete_namespace(&self, name: &str) -> Result<(), ApiError> {
        let target = routes::parse(&format!("/api/v1/namespaces/{name}"))?;
        self.lock().store.delete(&target).map(|_| ())
    }

    async fn handle(&self, request: Request<kube::client::Body>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let target = match routes::parse(parts.uri.path()) {
            Ok(target) => target,
            Err(error) => return respond_error(&error),
        };
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let verb = match verb_of(&parts.method, &target, content_type) {
            Ok(verb) => verb,
            Err(error) => return respond_error(&error),
        };
        if let Some(effect) = self.take_fault(verb, target.resource.kind) {
            match effect {
                Effect::Status(code) => {
                    let error = ApiError::for_code(code, format!("injected fault: {code}"));
                    self.record(verb, &target, code);
                    return respond_error(&error);
                }
                // The injected fault itself (a slow server), not synchronisation.
                Effect::Delay(delay) => tokio::time::sleep(delay).await,
            }
        }
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return respond_error(&ApiError::bad_request(format!("cannot read the body: {error}"))),
        };
        let outcome = self.execute(
            verb,
            &target,
            &body,
            param("fieldManager"),
            param("force") == Some("true"),
            param("labelSelector"),
        );
        let status = outcome.as_ref().map_or_else(|e| e.code, |(code, _)| *code);
        self.record(verb, &target, status);
        match outcome {
            Ok((code, value)) => respond(code, &value),
            Err(error) => {
                if error.code == 422 {
                    self.lock().rejected.push(error.message.clone());
                }
                respond_error(&error)
            }
        }
    }

    fn execute(
        &self,
        verb: Verb,
        target: &Target,
        body: &[u8],
        manager: Option<&str>,
        force: bool,
        selector: Option<&str>,
    ) -> Result<(u16, Value), ApiError> {
        let parsed = || -> Result<Value, ApiError> {
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
        };
        let manager = manager.unwrap_or("unknown");
        let mut state = self.lock();
        let store = &mut state.store;
        match verb {
            Verb::Get => store.get(target).map(|v| (200, v)),
            Verb::List => Ok((200, store.list(target, &Selector::parse(selector.unwrap_or_default())?))),
            Verb::Create => store.create(target, parsed()?, manager).map(|v| (201, v)),
            Verb::Replace => store.replace(target, parsed()?, manager).map(|v| (200, v)),
            Verb::Patch => store.merge_patch(target, &parsed()?, manager).map(|v| (200, v)),
            Verb::Apply => {
                if manager == "unknown" {
                    return Err(ApiError::bad_request("fieldManager is required for apply requests"));
                }
                store.apply(target, parsed()?, manager, force).map(|v| (200, v))
            }
            Verb::Delete => store.delete(target).map(|v| (200, v)),
        }
    }

    fn take_fault(&self, verb: Verb, kind: &'static str) -> Option<Effect> {
        let mut state = self.lock();
        let index = state.faults.iter().position(|fault| {
            fault.times > 0 && fault.verb.is_none_or(|v| v == verb) && fault.kind.is_none_or(|k| k == kind)
        })?;
        let fault = &mut state.faults[index];
        fault.times -= 1;
        let effect = fault.effect.clone();
        if fault.times == 0 {
            state.faults.remove(index);
        }
        state.faults_taken += 1;
        drop(state);
        self.fault_taken.notify_waiters();
        Some(effect)
    }

    fn record(&self, verb: Verb, target: &Target, status: u16) {
        self.lock().requests.push(Recorded {
            verb,
            kind: target.resource.kind,
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            status,
        });
    }
}

fn verb_of(method: &Method, target: &Target, content_type: &str) -> Result<Verb, ApiError> {
    let named = target.name.is_some();
    Ok(match (method.as_str(), named) {
        ("GET", true) => Verb::Get,
        ("GET", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("PUT", true) => Verb::Replace,
        ("DELETE", true) => Verb::Delete,
        ("PATCH", true) if content_type.starts_with("application/apply-patch") => Verb::Apply,
        ("PATCH", true) if content_type.starts_with("application/merge-patch+json") => Verb::Patch,
        ("PATCH", true) => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the fake does not serve {content_type:?} patches"),
            ));
        }
        _ => return Err(ApiError::new(405, "MethodNotAllowed", format!("{method} is not served here"))),
    })
}

fn respond(code: u16, value: &Value) -> Response<Full<Bytes>> {
    let body = Full::new(Bytes::from(serde_json::to_vec(value).unwrap_or_default()));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn respond_error(error: &ApiError) -> Response<Full<Bytes>> {
    respond(error.code, &error.to_status())
}

impl tower::Service<Request<kube::client::Body>> for FakeApiServer {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<kube::client::Body>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move { Ok(server.handle(request).await) })
    }
}
