//! The gateway to every workspace: `/v1/orgs/{org}/workspaces/{slug}/…`.
//!
//! It authenticates the caller, checks their role on the workspace (and
//! on the repo a request names) exactly like the in-process endpoints, then
//! streams the request to the workspace's server with the workspace's
//! service secret, and streams the answer back. Workspace servers are never
//! exposed to people, so they need not know about users at all (in
//! Kubernetes, a NetworkPolicy admits only the hub and the workers).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::{SinkExt, StreamExt};
use strata_hub::{Hub, Principal};

use crate::workspace_auth::{WorkspaceGuard, authenticate, reject, repo_of, required_role};

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
pub(crate) async fn forward(
    request: HttpRequest,
    body: web::Payload,
    path: web::Path<(String, String, String)>,
    hub: web::Data<Hub>,
    guard: web::Data<WorkspaceGuard>,
    upstreams: web::Data<Upstreams>,
) -> HttpResponse {
    let (org, slug, tail) = path.into_inner();
    let principal = match authenticate(request.headers(), &hub).await {
        Ok(principal) => principal,
        Err(response) => return response,
    };
    let rest = format!("/{tail}");
    let route = match hub.workspace_route(&principal, &org, &slug, repo_of(&rest).as_deref()).await {
        Ok(route) => route,
        Err(error) => return refusal(&error, &org, &slug),
    };
    let needed = required_role(request.method(), &rest);
    if route.role < needed {
        let message = format!(
            "this needs the {needed} role on workspace `{org}/{slug}`; you are {}. Ask a workspace admin.",
            route.role
        );
        return reject(StatusCode::FORBIDDEN, "FORBIDDEN", message);
    }
    let (base, secret) = match &route.upstream {
        Some(upstream) => (upstream.endpoint.clone(), upstream.secret.clone()),
        None => (upstreams.own.clone(), guard.internal_token().to_owned()),
    };
    // The path as sent (still percent-encoded), so that names with `?`, `#`
    // or `%` reach the workspace server unchanged. Org and workspace slugs
    // are plain ASCII, so the decoded prefix is also the raw one.
    let raw = request.uri().path().strip_prefix(&format!("/v1/orgs/{org}/workspaces/{slug}")).unwrap_or(&rest);
    let mut url = format!("{}/v1/workspaces/{}{raw}", base.trim_end_matches('/'), route.slug);
    if let Some(query) = request.uri().query() {
        url = format!("{url}?{query}");
    }
    let Ok(permit) = upstreams.limit.acquire(&org).await else {
        return crate::rate_limit::too_many_calls(&org);
    };
    let sent = send(&upstreams.http, &request, body, &url, &secret).await;
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
        audit(&hub, &principal, route.workspace_id, request.method(), &rest).await;
    }
    relay(response)
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
    url: &str,
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
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
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
    workspace_id: uuid::Uuid,
    method: &actix_web::http::Method,
    rest: &str,
) {
    let Some((action, target)) = crate::workspace_auth::audited_action(method, rest) else { return };
    if let Err(error) = hub.record_workspace_action(principal, workspace_id, action, &target).await {
        tracing::error!(error = %strata_core::error::display_chain(&error), "cannot write an audit event");
    }
}
