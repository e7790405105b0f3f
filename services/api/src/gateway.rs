//! The gateway to every workspace: `/v1/orgs/{org}/workspaces/{slug}/…`.
//!
//! It parses the path once, authenticates the caller, checks their role on
//! the workspace (and on the repo a request names) exactly like the
//! in-process endpoints, then streams the request to the workspace's server
//! with a short-lived credential that names the caller, their role and this
//! one request (the server checks the role again and logs the actor), and
//! streams the answer back. Workspace servers are never exposed to people
//! (in Kubernetes, a NetworkPolicy admits only the hub and the workers).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::{SinkExt, StreamExt};
use strata_core::workspace_credentials::{FORWARD_LIFETIME_SECS, ForwardedRequest};
use strata_hub::{Hub, Principal, WorkspaceAccess, WorkspaceRoute};

use strata_api_types::ErrorCode;
use strata_http::reject;

use crate::workspace_auth::{WorkspaceGuard, authenticate};
use crate::workspace_path::{PathError, Refusal, Segments, WorkspacePath, encode_segment, upstream_method};

/// The HTTP client for upstream calls: no overall timeout, since some calls
/// wait on purpose (job and commit waits, worker task pulls).
#[derive(Debug, Clone)]
pub(crate) struct Upstreams {
    http: reqwest::Client,
    /// This server's own address, where the gateway sends requests for
    /// the workspaces it hosts.
    own: String,
    /// The workspaces this server hosts, which GraphQL calls in-process.
    hosted: crate::graphql::Hosted,
    /// Calls in flight per organisation (see `upstream_limit`).
    limit: std::sync::Arc<crate::upstream_limit::UpstreamLimit>,
    /// GraphQL's calls to workspaces, by how they were reached.
    graphql_calls: opentelemetry::metrics::Counter<u64>,
}

impl Upstreams {
    /// `listen` is this server's bound address: a wildcard is reached
    /// through loopback, a specific address as it is.
    pub(crate) fn new(
        listen: std::net::SocketAddr,
        hosted: crate::graphql::Hosted,
        metrics: &strata_core::telemetry::Metrics,
    ) -> Result<Self, crate::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| crate::Error::Serve(std::io::Error::other(e)))?;
        let host = match listen.ip() {
            ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
            ip => ip,
        };
        let limit = crate::upstream_limit::UpstreamLimit::new(crate::upstream_limit::CALLS_PER_ORG, metrics);
        let graphql_calls = metrics
            .meter("strata-api")
            .u64_counter("strata_graphql_workspace_calls")
            .with_description("Calls GraphQL made to workspaces, by `reached`: in_process (hosted here) or remote")
            .build();
        Ok(Upstreams {
            http,
            hosted,
            graphql_calls,
            own: format!("http://{}", std::net::SocketAddr::new(host, listen.port())),
            limit: std::sync::Arc::new(limit),
        })
    }

    /// This server's loopback address.
    pub(crate) fn own(&self) -> &str {
        &self.own
    }

    /// The workspaces this server hosts.
    pub(crate) fn hosted(&self) -> &crate::graphql::Hosted {
        &self.hosted
    }

    /// The pooled client every call to a workspace server goes through.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Counts GraphQL's calls to workspaces.
    pub(crate) fn graphql_calls(&self) -> &opentelemetry::metrics::Counter<u64> {
        &self.graphql_calls
    }

    /// Calls in flight per organisation.
    pub(crate) fn limit(&self) -> &crate::upstream_limit::UpstreamLimit {
        &self.limit
    }
}

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus
/// the caller's credentials, which stop here.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "cookie",
    // Replaced by this server's own span, so the workspace server's work
    // shows as a child of the gateway's in the trace.
    "traceparent",
    "tracestate",
];

/// Every method on `/v1/orgs/{org}/workspaces/{workspace}/{tail:.*}`.
///
/// The org, the workspace, the role needed, the repo, the audit action and
/// the upstream URL all come from one parse of the raw request path
/// ([`GatewayRequest::parse`]); actix's own captures are not used.
pub(crate) async fn forward(
    request: HttpRequest,
    body: web::Payload,
    hub: web::Data<Hub>,
    guard: web::Data<WorkspaceGuard>,
    upstreams: web::Data<Upstreams>,
    billing: web::Data<strata_billing::Billing>,
) -> HttpResponse {
    let target = match GatewayRequest::parse(request.method(), request.uri().path()) {
        Ok(target) => target,
        Err(refusal) => return refusal.response(),
    };
    let GatewayRequest { org, slug, path, method } = &target;
    let principal = match authenticate(request.headers(), &hub).await {
        Ok(principal) => principal,
        Err(response) => return response,
    };
    // Wakes a sleeping workspace and keeps it awake until the answer is sent.
    let strata_hub::Reached { access, activity } = match hub.reach_workspace(&principal, org, slug).await {
        Ok(reached) => reached,
        Err(error) => return refusal(&error, org, slug),
    };
    let Forward { base, bearer: credential, route } =
        match authorize(&principal, &access, org, &target.method, path, &upstreams.own, guard.internal_token()) {
            Ok(forward) => forward,
            Err((code, message)) => return reject(code, message),
        };
    let url = match upstream_url(&base, &route.slug, path, request.uri().query()) {
        Ok(url) => url,
        Err(error @ UpstreamUrlError::Mismatch { .. }) => {
            tracing::error!(workspace = %format_args!("{org}/{slug}"), %error, "refusing to forward");
            return reject(ErrorCode::InvalidPath, format!("cannot forward this path: {error}"));
        }
        Err(error @ UpstreamUrlError::Endpoint(_)) => {
            tracing::error!(workspace = %format_args!("{org}/{slug}"), %error, "workspace endpoint unusable");
            return reject(
                ErrorCode::WorkspaceUnavailable,
                format!("workspace `{org}/{slug}` is not reachable right now; try again shortly"),
            );
        }
    };
    let Ok(permit) = upstreams.limit.acquire(org).await else {
        return crate::rate_limit::too_many_calls(org);
    };
    let sent = send(&upstreams.http, &request, body, method.clone(), url, &credential).await;
    drop(permit);
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(workspace = %format_args!("{org}/{slug}"), %error, "workspace server unreachable");
            return reject(
                ErrorCode::WorkspaceUnavailable,
                format!("workspace `{org}/{slug}` is not answering right now ({}); try again shortly", route.state),
            );
        }
    };
    if response.status().is_success() {
        audit(&hub, &principal, route.workspace_id, request.method(), path).await;
    }
    let egress = Egress { billing: billing.into_inner(), workspace: route.workspace_id, org: route.org_id, bytes: 0 };
    relay(response, activity, egress)
}

/// The bytes of one answer sent out of a workspace, counted into billing's
/// egress meter once the answer's stream ends (sent whole or cut off).
struct Egress {
    billing: std::sync::Arc<strata_billing::Billing>,
    /// For the log, should counting fail.
    workspace: strata_core::id::WorkspaceId,
    org: strata_core::id::OrganizationId,
    bytes: u64,
}

impl Egress {
    /// Takes `&mut self` so that the stream's closure owns the whole
    /// counter (a closure using only the field would copy it, and the
    /// counter would be dropped, at zero, when the answer starts).
    fn sent(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }
}

impl Drop for Egress {
    fn drop(&mut self) {
        if self.bytes == 0 || !self.billing.is_enabled() {
            return;
        }
        let (billing, workspace, org, bytes) = (self.billing.clone(), self.workspace, self.org, self.bytes);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(%workspace, bytes, "egress not counted: no runtime");
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = billing.count_egress(org, bytes).await {
                tracing::error!(%workspace, bytes, error = %strata_core::error::display_chain(&error), "egress not counted");
            }
        });
    }
}

/// A gateway request, parsed once from the raw path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayRequest {
    pub(crate) org: String,
    pub(crate) slug: String,
    pub(crate) path: WorkspacePath,
    /// The method forwarded, converted from the one decided on.
    pub(crate) method: reqwest::Method,
}

impl GatewayRequest {
    /// Parses `/v1/orgs/{org}/workspaces/{slug}/…`.
    pub(crate) fn parse(method: &actix_web::http::Method, raw_path: &str) -> Result<Self, Refusal> {
        let upstream = upstream_method(method).ok_or_else(|| Refusal::Method(method.to_string()))?;
        let prefix = [Some("v1"), Some("orgs"), None, Some("workspaces"), None];
        let (captured, path) = Segments::parse(raw_path)?.below(&prefix)?;
        let [org, slug] = <[String; 2]>::try_from(captured)
            .map_err(|_| PathError::OutsidePrefix { expected: "/v1/orgs/{org}/workspaces/{slug}".into() })?;
        Ok(GatewayRequest { org, slug, path, method: upstream })
    }
}

/// Where and how a request the caller may make is sent.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The server's address: the workspace's own server, or this one.
    pub(crate) base: String,
    /// A credential for exactly this request (or, in-process, the
    /// internal token: the check here is then the only one).
    pub(crate) bearer: String,
    pub(crate) route: WorkspaceRoute,
}

/// The one decision on a request to a workspace, made for the gateway and
/// for GraphQL's workspace fields alike: the caller's role for the repo the
/// path names, against the role the method and path need. A refusal is the
/// code and message to answer with.
pub(crate) fn authorize(
    principal: &Principal,
    access: &WorkspaceAccess,
    org: &str,
    method: &reqwest::Method,
    path: &WorkspacePath,
    own: &str,
    internal_token: &str,
) -> Result<Forward, (ErrorCode, String)> {
    let slug = &access.slug;
    let route = access.route(path.repo()).map_err(|error| match error.user_error() {
        Some(user) => user_refusal(user, org, slug),
        None => (ErrorCode::Internal, strata_http::INTERNAL_MESSAGE.to_owned()),
    })?;
    let needed = actix_web::http::Method::from_bytes(method.as_str().as_bytes())
        .map(|method| path.required_role(&method))
        .map_err(|_| (ErrorCode::MethodNotAllowed, format!("workspace endpoints do not serve {method}")))?;
    if route.role < needed {
        let message = format!(
            "this needs the {needed} role on workspace `{org}/{slug}`; you are {}. Ask a workspace admin.",
            route.role
        );
        return Err((ErrorCode::Forbidden, message));
    }
    let (base, bearer) = match &route.upstream {
        Some(upstream) => (upstream.endpoint.clone(), vouch(principal, &route, method, path).seal(&upstream.secret)),
        None => (own.to_owned(), internal_token.to_owned()),
    };
    Ok(Forward { base, bearer, route })
}

/// What the gateway tells a workspace server about a request it has
/// authorised: who asks, with which role, for exactly this method and path.
fn vouch(
    principal: &Principal,
    route: &WorkspaceRoute,
    method: &reqwest::Method,
    path: &WorkspacePath,
) -> ForwardedRequest {
    ForwardedRequest {
        workspace: route.slug.clone(),
        actor: principal.user_id.to_string(),
        token_id: principal.token_id().map(|id| id.to_string()),
        role: route.role.as_str().to_owned(),
        method: method.as_str().to_owned(),
        path: path.encoded(),
        expires: chrono::Utc::now().timestamp() + FORWARD_LIFETIME_SECS,
        limits: Some(route.limits.clone()),
    }
}

/// Why the gateway will not forward a path it has authorised.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamUrlError {
    #[error("the workspace endpoint `{0}` is not a URL")]
    Endpoint(String),
    #[error("the URL parser reads the path as `{actual}`, not `{expected}`")]
    Mismatch { expected: String, actual: String },
}

/// The URL a request goes to: the workspace server's endpoint, the
/// workspace, and the authorised path re-encoded. Refuses when the URL
/// parser (which reqwest sends as it is) would read another path, so what
/// is forwarded is always what was authorised.
pub(crate) fn upstream_url(
    base: &str,
    slug: &str,
    path: &WorkspacePath,
    query: Option<&str>,
) -> Result<reqwest::Url, UpstreamUrlError> {
    let mut url = reqwest::Url::parse(base).map_err(|_| UpstreamUrlError::Endpoint(base.to_owned()))?;
    let expected =
        format!("{}/v1/workspaces/{}{}", url.path().trim_end_matches('/'), encode_segment(slug), path.encoded());
    url.set_path(&expected);
    if url.path() != expected {
        return Err(UpstreamUrlError::Mismatch { expected, actual: url.path().to_owned() });
    }
    url.set_query(query);
    Ok(url)
}

/// The hub's refusal (missing workspace, no server yet) as an HTTP answer.
fn refusal(error: &strata_hub::HubError, org: &str, slug: &str) -> HttpResponse {
    match error.user_error() {
        Some(user) => {
            let (code, message) = user_refusal(user, org, slug);
            reject(code, message)
        }
        None => strata_http::error_response(error.code(), error, strata_http::Disclosure::Withheld),
    }
}

/// The code and message for the hub's refusal of a workspace request: a
/// missing workspace and one the caller has no role for read the same.
fn user_refusal(user: &strata_hub::UserError, org: &str, slug: &str) -> (ErrorCode, String) {
    if user.code == ErrorCode::NotFound {
        (ErrorCode::NotFound, format!("no workspace `{slug}` in `{org}`, or you do not have access to it"))
    } else {
        (user.code, user.message.clone())
    }
}

/// Streams the request upstream. actix's body stream lives on this
/// worker's thread, so a local task feeds it through a channel.
async fn send(
    http: &reqwest::Client,
    request: &HttpRequest,
    mut body: web::Payload,
    method: reqwest::Method,
    url: reqwest::Url,
    secret: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    let (mut sender, receiver) = futures::channel::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let mut upstream = http.request(method, url).bearer_auth(secret);
    for (name, value) in request.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            upstream = upstream.header(name.as_str(), value.as_bytes());
        }
    }
    for (name, value) in strata_core::telemetry::trace_headers() {
        upstream = upstream.header(name, value);
    }
    upstream.body(reqwest::Body::wrap_stream(receiver)).send().await
}

/// The upstream answer, streamed back with its status and headers.
/// The workspace server's answer, streamed on; `activity` is held until the
/// last byte is sent (a long download keeps its workspace awake), and the
/// bytes sent are counted for billing once the stream ends.
fn relay(response: reqwest::Response, activity: strata_hub::ActivityGuard, mut egress: Egress) -> HttpResponse {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut answer = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if !NOT_FORWARDED.contains(&name.as_str()) && name.as_str() != "content-length" {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
    }
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return answer.finish();
    }
    let length = response.content_length();
    let stream = response.bytes_stream().map(move |chunk| {
        let _awake = &activity;
        if let Ok(bytes) = &chunk {
            egress.sent(bytes.len());
        }
        chunk.map_err(|e| std::io::Error::other(e.to_string()))
    });
    match length {
        Some(length) => answer.no_chunking(length).streaming(stream),
        None => answer.streaming(stream),
    }
}

async fn audit(
    hub: &Hub,
    principal: &Principal,
    workspace_id: strata_core::id::WorkspaceId,
    method: &actix_web::http::Method,
    path: &WorkspacePath,
) {
    let Some((action, target)) = path.audited_action(method) else { return };
    if let Err(error) = hub.record_workspace_action(principal, workspace_id, action, &target).await {
        tracing::error!(error = %strata_core::error::display_chain(&error), "cannot write an audit event");
    }
}
