//! Pins container images: asks an image's registry (the OCI distribution
//! API, `HEAD /v2/<name>/manifests/<tag>`) which manifest a tag points at
//! now, so that a job runs, and is re-run, on that digest and never on a
//! tag that moved.
//!
//! Written on the workspace's `reqwest` (rustls on aws-lc-rs) rather than
//! taken from an OCI client crate: the ones on crates.io bring a second HTTP
//! and TLS stack, and resolving a digest is one request plus the token
//! exchange of the distribution spec.

mod auth;
mod error;
mod reference;

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;

pub use auth::{Credentials, DockerAuths};
pub use error::RegistryError;
pub use reference::{DOCKER_HUB, Digest, ImageRef, Target};

use auth::Challenge;

/// The manifest kinds a runtime can pull; an index (multi-platform image)
/// first, so the digest is the one `docker pull` reports.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const DIGEST_HEADER: &str = "docker-content-digest";
/// A registry that says nothing for this long is treated as down.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A manifest is a few kilobytes; anything far larger is not one.
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Resolves image references against their registries.
#[derive(Debug, Clone)]
pub struct Registries {
    http: reqwest::Client,
    /// Registries (`host:port`) spoken to over plain HTTP, such as a test
    /// registry on loopback; every other one over HTTPS.
    plain_http: Vec<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Registries {
    pub fn new(plain_http: Vec<String>) -> Result<Registries, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Client(e.to_string()))?;
        Ok(Registries { http, plain_http })
    }

    /// The digest `image` points at now. A reference that already holds a
    /// digest is its own answer, without a request.
    pub async fn resolve(&self, image: &ImageRef, auths: &DockerAuths) -> Result<Digest, RegistryError> {
        if let Target::Digest(digest) = &image.target {
            return Ok(digest.clone());
        }
        let scheme = if self.plain_http.contains(&image.registry) { "http" } else { "https" };
        let url =
            format!("{scheme}://{}/v2/{}/manifests/{}", image.api_host(), image.repository, image.manifest_reference());
        let credentials = auths.get(&image.registry);
        let mut answer = self.manifest(Method::HEAD, &url, None, image).await?;
        let mut authorization = None;
        if answer.status() == StatusCode::UNAUTHORIZED {
            let challenge =
                answer.headers().get(WWW_AUTHENTICATE).and_then(|h| h.to_str().ok()).and_then(Challenge::parse);
            let Some(challenge) = challenge else {
                return Err(RegistryError::Unauthorized {
                    registry: image.registry.clone(),
                    had_credentials: credentials.is_some(),
                });
            };
            authorization = Some(self.authorization(&challenge, credentials, image).await?);
            answer = self.manifest(Method::HEAD, &url, authorization.as_deref(), image).await?;
        }
        check_status(&answer, image, credentials.is_some())?;
        if let Some(digest) = answer.headers().get(DIGEST_HEADER).and_then(|h| h.to_str().ok()) {
            return Digest::parse(digest)
                .map_err(|_| protocol(image, format!("its digest header {digest:?} is not a digest")));
        }
        // The header is optional in the spec: the digest is then the hash of
        // the manifest bytes as served.
        let answer = self.manifest(Method::GET, &url, authorization.as_deref(), image).await?;
        check_status(&answer, image, credentials.is_some())?;
        let body = answer.bytes().await.map_err(|e| unreachable(image, e))?;
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(protocol(image, format!("its manifest is {} bytes, not a manifest", body.len())));
        }
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
        Digest::parse(&format!("sha256:{}", hex::encode(hash.as_ref())))
    }

    async fn manifest(
        &self,
        method: Method,
        url: &str,
        authorization: Option<&str>,
        image: &ImageRef,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.request(method, url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.send().await.map_err(|e| unreachable(image, e))
    }

    /// The `Authorization` value the challenge asks for: the credentials
    /// themselves for Basic, a token fetched with them (or anonymously) for Bearer.
    async fn authorization(
        &self,
        challenge: &Challenge,
        credentials: Option<&Credentials>,
        image: &ImageRef,
    ) -> Result<String, RegistryError> {
        let unauthorized =
            || RegistryError::Unauthorized { registry: image.registry.clone(), had_credentials: credentials.is_some() };
        match challenge {
            Challenge::Basic => {
                let c = credentials.ok_or_else(unauthorized)?;
                Ok(basic(c))
            }
            Challenge::Bearer { realm, service, scope } => {
                let scope = scope.clone().unwrap_or_else(|| format!("repository:{}:pull", image.repository));
                let mut query = vec![("scope", scope)];
                if let Some(service) = service {
                    query.push(("service", service.clone()));
                }
                let mut request = self.http.get(realm).query(&query);
                if let Some(c) = credentials {
                    request = request.header(AUTHORIZATION, basic(c));
                }
                let answer = request.send().await.map_err(|e| unreachable(image, e))?;
                if matches!(answer.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    return Err(unauthorized());
                }
                if !answer.status().is_success() {
                    return Err(status_error(answer.status(), image, "its token service"));
                }
                let token: TokenAnswer =
                    answer.json().await.map_err(|e| protocol(image, format!("its token answer: {e}")))?;
                let token = token
                    .token
                    .or(token.access_token)
                    .ok_or_else(|| protocol(image, "its token answer holds no token".into()))?;
                Ok(format!("Bearer {token}"))
            }
        }
    }
}

fn basic(credentials: &Credentials) -> String {
    use base64::Engine;
    let pair = format!("{}:{}", credentials.username, credentials.password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

fn check_status(answer: &Response, image: &ImageRef, had_credentials: bool) -> Result<(), RegistryError> {
    match answer.status() {
        status if status.is_success() => Ok(()),
        StatusCode::NOT_FOUND => Err(RegistryError::NotFound { image: display(image) }),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(RegistryError::Unauthorized { registry: image.registry.clone(), had_credentials })
        }
        status => Err(status_error(status, image, "the registry")),
    }
}

fn status_error(status: StatusCode, image: &ImageRef, who: &str) -> RegistryError {
    let message = format!("{who} answered {status}");
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        RegistryError::Unreachable { registry: image.registry.clone(), message }
    } else {
        protocol(image, message)
    }
}

fn unreachable(image: &ImageRef, error: reqwest::Error) -> RegistryError {
    // Without the URL: the chain of a connect error is what helps, and a
    // token realm's URL is the registry's business.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    RegistryError::Unreachable { registry: image.registry.clone(), message }
}

fn protocol(image: &ImageRef, message: String) -> RegistryError {
    RegistryError::Protocol { registry: image.registry.clone(), message }
}

fn display(image: &ImageRef) -> String {
    format!("{}/{}:{}", image.registry, image.repository, image.manifest_reference())
}
