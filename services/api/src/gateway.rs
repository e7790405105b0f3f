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
use strata_hub::{Hub, Principal, WorkspaceRoute};

use crate::workspace_auth::{WorkspaceGuard, authenticate, reject};
use crate::workspace_path::{PathError, Refusal, Segments, WorkspacePath, encode_segment, upstream_method};

/// The HTTP client for upstream calls: no overall timeout, since some calls
/// wait on purpose (job and commit waits, worker task pulls).
#[derive(Debug, Clone)]
pub(crate) struct Upstreams {
    http: reqwest::Client,
    /// This server's own address, for the workspaces it hosts in-process.
    own: String,
    /// Calls in flight per organisation (see `upstream_limit`).
    limit: std::sync::Arc<crate::upstream_limit::UpstreamLimit>,
}

impl Upstreams {
    /// `listen` is this server's bound address: a wildcard is reached
    /// through loopback, a specific address as it is.
    pub(crate) fn new(
        listen: std::net::SocketAddr,
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
        Ok(Upstreams {
            http,
            own: format!("http://{}", std::net::SocketAddr::new(host, listen.port())),
            limit: std::sync::Arc::new(limit),
        })
    }

    /// This server's loopback address.
    pub(crate) fn own(&self) -> &str {
        &self.own
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
    let route = match hub.workspace_route(&principal, org, slug, path.repo()).await {
        Ok(route) => route,
        Err(error) => return refusal(&error, org, slug),
    };
    let needed = path.required_role(request.method());
    if route.role < needed {
        let message = format!(
            "this needs the {needed} role on workspace `{org}/{slug}`; you are {}. Ask a workspace admin.",
            route.role
        );
        return reject(StatusCode::FORBIDDEN, "FORBIDDEN", message);
    }
    let (base, credential) = match &route.upstream {
        Some(upstream) => (upstream.endpoint.clone(), vouch(&principal, &route, &target).seal(&upstream.secret)),
        None => (upstreams.own.clone(), guard.internal_token().to_owned()),
    };
    let url = match upstream_url(&base, &route.slug, path, request.uri().query()) {
        Ok(url) => url,
        Err(error @ UpstreamUrlError::Mismatch { .. }) => {
            tracing::error!(workspace = %format_args!("{org}/{slug}"), %error, "refusing to forward");
            return reject(StatusCode::BAD_REQUEST, "INVALID_PATH", format!("cannot forward this path: {error}"));
        }
        Err(error @ UpstreamUrlError::Endpoint(_)) => {
            tracing::error!(workspace = %format_args!("{org}/{slug}"), %error, "workspace endpoint unusable");
            return reject(
                StatusCode::BAD_GATEWAY,
                "WORKSPACE_UNAVAILABLE",
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
                StatusCode::BAD_GATEWAY,
                "WORKSPACE_UNAVAILABLE",
                format!("workspace `{org}/{slug}` is not answering right now ({}); try again shortly", route.state),
            );
        }
    };
    if response.status().is_success() {
        audit(&hub, &principal, route.workspace_id, request.method(), path).await;
    }
    relay(response)
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

/// What the gateway tells a workspace server about a request it has
/// authorised: who asks, with which role, for exactly this method and path.
fn vouch(principal: &Principal, route: &WorkspaceRoute, target: &GatewayRequest) -> ForwardedRequest {
    ForwardedRequest {
        workspace: route.slug.clone(),
        actor: principal.user_id.to_string(),
        token_id: principal.token_id().map(|id| id.to_string()),
        role: route.role.as_str().to_owned(),
        method: target.method.as_str().to_owned(),
        path: target.path.encoded(),
        expires: chrono::Utc::now().timestamp() + FORWARD_LIFETIME_SECS,
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
        Some(user) if user.code == strata_hub::UserErrorCode::NotFound => reject(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no workspace `{slug}` in `{org}`, or you do not have access to it"),
        ),
        Some(user) => reject(StatusCode::CONFLICT, "WORKSPACE_NOT_READY", user.message.clone()),
        None => {
            tracing::error!(error = %strata_core::error::display_chain(error), "workspace lookup failed");
            reject(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error; the server log has details".into())
        }
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
    upstream.body(reqwest::Body::wrap_stream(receiver)).send().await
}

/// The upstream answer, streamed back with its status and headers.
fn relay(response: reqwest::Response) -> HttpResponse {
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
    let stream = response.bytes_stream().map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
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
