use opentelemetry::propagation::Injector;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use url::Url;

use strata_api_types::{ErrorBody, GraphQlError, GraphQlResponse, Readiness, ServerVersion};

/// Why a call failed. The CLI maps these to exit codes and messages.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the endpoint.
    #[error("cannot reach {endpoint}: {reason}; is the server running (`strata dev`)?")]
    Unreachable {
        endpoint: String,
        reason: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error body.
    #[error("{message} ({code}, HTTP {status})")]
    Api { status: u16, code: String, message: String },
    /// The server answered something that is not the expected JSON.
    #[error("unexpected answer from {endpoint}: {reason}")]
    Protocol { endpoint: String, reason: String },
    /// The GraphQL query returned errors.
    #[error("{}", graphql_message(.0))]
    GraphQl(Vec<GraphQlError>),
    /// A GraphQL mutation refused its input (`userErrors`).
    #[error("{}", refused_message(.0))]
    Refused(Vec<crate::hub::FieldError>),
    /// The endpoint URL is not usable.
    #[error("invalid endpoint `{0}`: expected a URL such as http://127.0.0.1:8080")]
    InvalidEndpoint(String),
}

fn refused_message(errors: &[crate::hub::FieldError]) -> String {
    let each = |e: &crate::hub::FieldError| match &e.field {
        Some(field) => format!("{field}: {} ({})", e.message, e.code),
        None => format!("{} ({})", e.message, e.code),
    };
    errors.iter().map(each).collect::<Vec<_>>().join("; ")
}

fn graphql_message(errors: &[GraphQlError]) -> String {
    errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
}

impl ClientError {
    /// True when the server answered that the request itself was wrong
    /// (4xx or a GraphQL validation error), as opposed to being unreachable
    /// or failing.
    pub fn is_user_error(&self) -> bool {
        match self {
            ClientError::Api { status, .. } => (400..500).contains(status),
            ClientError::GraphQl(_) | ClientError::Refused(_) | ClientError::InvalidEndpoint(_) => true,
            ClientError::Unreachable { .. } | ClientError::Protocol { .. } => false,
        }
    }
}

/// Writes propagation headers into reqwest's header map.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Chooses the bearer token of each request from its method and URL: for
/// callers that hand out a credential bound to one request (the hub's
/// GraphQL reaching a workspace server). Refusing is how such a caller
/// keeps a request it has not authorised from being sent at all.
pub trait RequestCredentials: Send + Sync + std::fmt::Debug {
    fn bearer(&self, method: &reqwest::Method, url: &Url) -> Result<String, ClientError>;
}

/// How requests authenticate.
#[derive(Debug, Clone)]
enum Credentials {
    None,
    Token(String),
    PerRequest(std::sync::Arc<dyn RequestCredentials>),
}

/// A connection to one Strata endpoint, optionally with a bearer token.
#[derive(Debug, Clone)]
pub struct StrataClient {
    base: Url,
    http: reqwest::Client,
    credentials: Credentials,
}

impl StrataClient {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:8080`).
    pub fn new(endpoint: &str) -> Result<Self, ClientError> {
        let base = Url::parse(endpoint).map_err(|_| ClientError::InvalidEndpoint(endpoint.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::InvalidEndpoint(endpoint.to_owned()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("strata-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|source| ClientError::Unreachable {
                endpoint: endpoint.to_owned(),
                reason: "cannot set up HTTP".to_owned(),
                source,
            })?;
        Ok(Self::with_http(base, http))
    }

    /// A client for `endpoint` that sends through `http`, a pooled client
    /// shared with other callers (a server reaching many workspaces keeps
    /// one pool rather than one per call).
    pub fn with_http_client(endpoint: &str, http: reqwest::Client) -> Result<Self, ClientError> {
        let base = Url::parse(endpoint).map_err(|_| ClientError::InvalidEndpoint(endpoint.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::InvalidEndpoint(endpoint.to_owned()));
        }
        Ok(Self::with_http(base, http))
    }

    fn with_http(base: Url, http: reqwest::Client) -> Self {
        Self { base, http, credentials: Credentials::None }
    }

    /// Sends `token` as `Authorization: Bearer` on every request.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Credentials::Token(token.into());
        self
    }

    /// Asks `credentials` for the bearer token of each request.
    #[must_use]
    pub fn with_request_credentials(mut self, credentials: std::sync::Arc<dyn RequestCredentials>) -> Self {
        self.credentials = Credentials::PerRequest(credentials);
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Url {
        &self.base
    }

    /// `GET /healthz`: true when the process answers.
    pub async fn healthz(&self) -> Result<bool, ClientError> {
        let response = self.send(self.request(reqwest::Method::GET, "healthz")?).await?;
        Ok(response.status().is_success())
    }

    /// `GET /readyz`: the readiness of every dependency. A 503 is not an
    /// error here: the body says what is down.
    pub async fn readyz(&self) -> Result<Readiness, ClientError> {
        let response = self.send(self.request(reqwest::Method::GET, "readyz")?).await?;
        self.json(response, &[200, 503]).await
    }

    /// The server's version through GraphQL.
    pub async fn version(&self) -> Result<ServerVersion, ClientError> {
        #[derive(serde::Deserialize)]
        struct Data {
            version: ServerVersion,
        }
        let data: Data = self.graphql("query { version { server api } }", serde_json::json!({})).await?;
        Ok(data.version)
    }

    /// Runs a GraphQL operation and decodes its `data`.
    pub async fn graphql<T: DeserializeOwned>(&self, query: &str, variables: impl Serialize) -> Result<T, ClientError> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let response = self.send(self.request(reqwest::Method::POST, "graphql")?.json(&body)).await?;
        let envelope: GraphQlResponse<T> = self.json(response, &[200]).await?;
        match (envelope.data, envelope.errors.is_empty()) {
            (Some(data), true) => Ok(data),
            (_, false) => Err(ClientError::GraphQl(envelope.errors)),
            (None, true) => Err(self.protocol("GraphQL response without data or errors")),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> Result<reqwest::RequestBuilder, ClientError> {
        let url = self.base.join(path).map_err(|_| ClientError::InvalidEndpoint(self.base.to_string()))?;
        self.request_url(method, url)
    }

    /// A URL below the endpoint made of `segments`, each percent-encoded
    /// (a segment may contain `/`, which is kept as a separator).
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| ClientError::InvalidEndpoint(self.base.to_string()))?;
            path.pop_if_empty();
            for segment in segments {
                let mut parts = segment.split('/').filter(|p| !p.is_empty()).peekable();
                if parts.peek().is_none() {
                    // The root path `/`: keep a trailing slash so routes
                    // ending in `{path}` still match.
                    path.push("");
                }
                for part in parts {
                    path.push(part);
                }
            }
        }
        Ok(url)
    }

    pub(crate) fn request_url(
        &self,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut headers = HeaderMap::new();
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
        });
        let bearer = match &self.credentials {
            Credentials::None => None,
            Credentials::Token(token) => Some(token.clone()),
            Credentials::PerRequest(credentials) => Some(credentials.bearer(&method, &url)?),
        };
        let request = self.http.request(method, url).headers(headers);
        Ok(match bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        request.send().await.map_err(|source| ClientError::Unreachable {
            endpoint: self.base.to_string(),
            reason: describe(&source),
            source,
        })
    }

    /// Decodes a JSON body when the status is expected, else the error body.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
        expected: &[u16],
    ) -> Result<T, ClientError> {
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| self.protocol(&e.to_string()))?;
        if expected.contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| self.protocol(&e.to_string()));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => {
                // A server failure is logged under this id; the user quotes it.
                let message = match body.request_id {
                    Some(id) => format!("{} (request id {id})", body.message),
                    None => body.message,
                };
                Err(ClientError::Api { status, code: body.code.as_str().to_owned(), message })
            }
            Err(_) => Err(ClientError::Api {
                status,
                code: "UNKNOWN".to_owned(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            }),
        }
    }

    fn protocol(&self, reason: &str) -> ClientError {
        ClientError::Protocol { endpoint: self.base.to_string(), reason: reason.to_owned() }
    }
}

/// The most useful words of a transport error.
fn describe(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "connection refused".to_owned()
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    }
}
