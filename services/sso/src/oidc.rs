//! An OpenID Connect relying party: the authorization code flow with PKCE
//! (S256), `state` and `nonce`, and a verified id_token turned into an
//! [`Identity`].
//!
//! The protocol is `openidconnect`'s; this module decides what it is
//! allowed to accept (asymmetric signatures only, so neither `alg: none`
//! nor an HMAC keyed with a public key can pass; `iat` not in the future;
//! `azp` equal to our client when present or when there are several
//! audiences), caches each issuer's discovery document and key set, and
//! fetches the key set again when a token names a key it does not hold
//! (the provider rotated its keys).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IdToken,
    IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};

/// Signature algorithms an id_token may use: asymmetric ones only.
const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How far in the future an `iat` may be, for clocks that disagree.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Why a login could not complete. Messages name the cause for the audit
/// log and the person; none carries a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider's issuer `{issuer}` is not usable: {reason}")]
    Discovery { issuer: String, reason: String },
    #[error("the identity provider refused the authorization code: {0}")]
    CodeExchange(String),
    #[error("the identity provider's token response has no id_token")]
    NoIdToken,
    #[error("the id_token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("the id_token has no `{0}` claim, which the connection's claim mapping names")]
    MissingClaim(String),
    #[error("{0}")]
    Configuration(String),
}

pub type Result<T, E = OidcError> = std::result::Result<T, E>;

/// Which claims of the id_token say who someone is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMapping {
    pub email: String,
    pub name: String,
    pub groups: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        ClaimMapping { email: "email".to_owned(), name: "name".to_owned(), groups: "groups".to_owned() }
    }
}

/// One organisation's OpenID Connect client at its identity provider.
#[derive(Clone)]
pub struct Connection {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Asked for besides `openid`.
    pub scopes: Vec<String>,
    pub claims: ClaimMapping,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A login sent to the identity provider: where to send the browser, and
/// what the callback must match (kept server-side, never in the URL).
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the identity provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// What "test connection" learnt about a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSummary {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: Option<String>,
    pub signing_keys: usize,
    pub supports_pkce_s256: bool,
}

/// How long discovery documents are kept, and how often a key set may be
/// fetched again for an unknown key id (a forged token must not make us
/// fetch on every request).
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub discovery_ttl: Duration,
    pub jwks_refetch_after: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy { discovery_ttl: Duration::from_secs(3600), jwks_refetch_after: Duration::from_secs(10) }
    }
}

#[derive(Clone)]
struct CachedProvider {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    jwks_fetched_at: Instant,
}

/// Counts of what the relying party fetched, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchCounts {
    pub discovery: u64,
    pub jwks: u64,
}

/// The relying party: shared by every request (cheap to clone handles).
pub struct RelyingParty {
    http: reqwest::Client,
    reach: crate::net::Reach,
    policy: CachePolicy,
    providers: Mutex<HashMap<String, CachedProvider>>,
    counts: Mutex<FetchCounts>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// Every claim of the token besides the standard ones, so that a mapping
/// may name any of them (Entra's `upn`, Okta's `groups`, …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims(serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type FullIdToken = IdToken<OtherClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

impl RelyingParty {
    /// A relying party whose requests reach only what `reach` allows.
    pub fn new(reach: crate::net::Reach, policy: CachePolicy) -> Result<Self> {
        let http = crate::net::client(reach).map_err(|e| OidcError::Configuration(e.to_string()))?;
        Ok(RelyingParty { http, reach, policy, providers: Mutex::default(), counts: Mutex::default() })
    }

    /// What was fetched so far.
    pub fn fetch_counts(&self) -> FetchCounts {
        self.counts.lock().map(|c| *c).unwrap_or_default()
    }

    /// Starts a login: a fresh `state`, `nonce` and PKCE verifier, and the
    /// provider's authorization URL. `login_hint` is the email the person
    /// typed, so they need not type it again at their provider.
    pub async fn start(
        &self,
        connection: &Connection,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<Started> {
        let metadata = self.metadata(&connection.issuer, false).await?;
        let client = client(connection, metadata, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in scopes(connection) {
            request = request.add_scope(Scope::new(scope));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            authorize_url: url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a login: trades `code` (with the PKCE verifier) for tokens
    /// and verifies the id_token against `nonce`.
    pub async fn finish(
        &self,
        connection: &Connection,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity> {
        let metadata = self.metadata(&connection.issuer, false).await?;
        let client = client(connection, metadata, redirect_uri)?;
        let http = self.http_client();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Configuration(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::CodeExchange(describe_request_error(&e)))?;
        let id_token = response.id_token().ok_or(OidcError::NoIdToken)?.to_string();
        self.verify(connection, &id_token, nonce).await
    }

    /// Verifies a raw id_token for `connection`, expecting `nonce`. A token
    /// signed by a key we do not hold fetches the key set once more (at
    /// most every `jwks_refetch_after`), so rotations are picked up.
    pub async fn verify(&self, connection: &Connection, id_token: &str, nonce: &str) -> Result<Identity> {
        let token: FullIdToken = id_token.parse().map_err(|e| OidcError::InvalidIdToken(format!("{e}")))?;
        let metadata = self.metadata(&connection.issuer, false).await?;
        match check(connection, &metadata, &token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let Some(refreshed) = self.refresh_keys(&connection.issuer).await? else {
                    return Err(OidcError::InvalidIdToken(
                        "it is signed by a key the provider does not publish".into(),
                    ));
                };
                identity(connection, &check(connection, &refreshed, &token, nonce).map_err(invalid)?)
            }
            checked => identity(connection, &checked.map_err(invalid)?),
        }
    }

    /// Fetches discovery and keys afresh and says what they offer.
    pub async fn test(&self, connection: &Connection) -> Result<ProviderSummary> {
        let metadata = self.metadata(&connection.issuer, true).await?;
        client(connection, metadata.clone(), "http://127.0.0.1/callback")?;
        let supports_pkce_s256 = self.advertises_pkce_s256(&connection.issuer).await;
        Ok(ProviderSummary {
            issuer: metadata.issuer().to_string(),
            authorization_endpoint: metadata.authorization_endpoint().to_string(),
            token_endpoint: metadata.token_endpoint().map(ToString::to_string),
            signing_keys: metadata.jwks().keys().len(),
            supports_pkce_s256,
        })
    }

    /// Whether the discovery document lists S256 among the PKCE methods (a
    /// field `openidconnect`'s core metadata does not keep).
    async fn advertises_pkce_s256(&self, issuer: &str) -> bool {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let Ok(parsed) = url::Url::parse(&url) else { return false };
        if crate::net::check_url(&parsed, self.reach).is_err() {
            return false;
        }
        let Ok(response) = self.http.get(url).send().await else { return false };
        let Ok(document) = response.json::<serde_json::Value>().await else { return false };
        document["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|methods| methods.iter().any(|m| m == "S256"))
    }

    /// The issuer's metadata with its key set, from the cache while fresh.
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata> {
        if !fresh && let Some(cached) = self.cached(issuer) {
            return Ok(cached.metadata);
        }
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| OidcError::Discovery { issuer: issuer.to_owned(), reason: e.to_string() })?;
        let http = self.http_client();
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| OidcError::Discovery { issuer: issuer.to_owned(), reason: describe_discovery_error(&e) })?;
        self.count(|c| {
            c.discovery += 1;
            c.jwks += 1;
        });
        let now = Instant::now();
        if let Ok(mut providers) = self.providers.lock() {
            let entry = CachedProvider { metadata: metadata.clone(), fetched_at: now, jwks_fetched_at: now };
            providers.insert(issuer.to_owned(), entry);
        }
        Ok(metadata)
    }

    fn cached(&self, issuer: &str) -> Option<CachedProvider> {
        let providers = self.providers.lock().ok()?;
        providers.get(issuer).filter(|p| p.fetched_at.elapsed() < self.policy.discovery_ttl).cloned()
    }

    /// The issuer's key set fetched again, or `None` when it was fetched
    /// too recently to ask again.
    async fn refresh_keys(&self, issuer: &str) -> Result<Option<CoreProviderMetadata>> {
        let Some(cached) = self.cached(issuer) else { return self.metadata(issuer, true).await.map(Some) };
        if cached.jwks_fetched_at.elapsed() < self.policy.jwks_refetch_after {
            return Ok(None);
        }
        let http = self.http_client();
        let jwks = CoreJsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), &http)
            .await
            .map_err(|e| OidcError::Discovery { issuer: issuer.to_owned(), reason: describe_discovery_error(&e) })?;
        self.count(|c| c.jwks += 1);
        let metadata = cached.metadata.set_jwks(jwks);
        if let Ok(mut providers) = self.providers.lock() {
            let entry = CachedProvider {
                metadata: metadata.clone(),
                fetched_at: cached.fetched_at,
                jwks_fetched_at: Instant::now(),
            };
            providers.insert(issuer.to_owned(), entry);
        }
        Ok(Some(metadata))
    }

    fn count(&self, change: impl FnOnce(&mut FetchCounts)) {
        if let Ok(mut counts) = self.counts.lock() {
            change(&mut counts);
        }
    }

    /// `openidconnect`'s HTTP calls, made with our client (one TLS stack).
    fn http_client(&self) -> impl Fn(openidconnect::HttpRequest) -> HttpFuture + '_ {
        move |request| Box::pin(send(self.http.clone(), self.reach, request))
    }
}

type HttpFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'static>>;

/// A failed HTTP exchange with the identity provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

async fn send(
    http: reqwest::Client,
    reach: crate::net::Reach,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let parsed = url::Url::parse(&url).map_err(|e| HttpError(format!("{url}: {e}")))?;
    crate::net::check_url(&parsed, reach).map_err(HttpError)?;
    let response = http
        .request(parts.method, &url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(format!("{url}: {e}")))?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await.map_err(|e| HttpError(format!("{url}: {e}")))?;
    builder.body(body.to_vec()).map_err(|e| HttpError(e.to_string()))
}

fn client(
    connection: &Connection,
    metadata: CoreProviderMetadata,
    redirect_uri: &str,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| OidcError::Configuration(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(connection.client_id.clone()),
        Some(ClientSecret::new(connection.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// `openid` first, then the connection's scopes without repeats.
fn scopes(connection: &Connection) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in connection.scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty() && *s != "openid") {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    scopes
}

/// The claims of `token` once everything the standard and our allow-list
/// require holds, serialised back to JSON for the claim mapping.
fn check(
    connection: &Connection,
    metadata: &CoreProviderMetadata,
    token: &FullIdToken,
    nonce: &str,
) -> std::result::Result<serde_json::Value, ClaimsVerificationError> {
    let issuer = metadata.issuer().clone();
    let client_id = ClientId::new(connection.client_id.clone());
    let keys: Vec<CoreJsonWebKey> = metadata.jwks().keys().clone();
    let verifier = IdTokenVerifier::new_public_client(client_id, issuer, CoreJsonWebKeySet::new(keys))
        .set_allowed_algs(ALLOWED_ALGORITHMS)
        .set_issue_time_verifier_fn(|iat| {
            if iat > chrono::Utc::now() + CLOCK_SKEW {
                return Err(format!("it was issued in the future ({iat})"));
            }
            Ok(())
        });
    let claims = token.claims(&verifier, &Nonce::new(nonce.to_owned()))?;
    let authorized_party = claims.authorized_party().map(|azp| azp.as_str().to_owned());
    let audiences = claims.audiences().len();
    match authorized_party {
        Some(azp) if azp != connection.client_id => {
            return Err(ClaimsVerificationError::InvalidAudience(format!("azp `{azp}` is not this client")));
        }
        None if audiences > 1 => {
            return Err(ClaimsVerificationError::InvalidAudience("several audiences and no azp".to_owned()));
        }
        _ => {}
    }
    serde_json::to_value(claims).map_err(|e| ClaimsVerificationError::Other(e.to_string()))
}

fn invalid(error: ClaimsVerificationError) -> OidcError {
    OidcError::InvalidIdToken(match error {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            "it is signed by a key the provider does not publish".to_owned()
        }
        // Its own Display says only "Signature verification failed".
        ClaimsVerificationError::SignatureVerification(cause) => format!("its signature does not verify: {cause}"),
        other => other.to_string(),
    })
}

/// The identity in verified claims, read through the claim mapping.
fn identity(connection: &Connection, claims: &serde_json::Value) -> Result<Identity> {
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    let subject = text("sub").ok_or_else(|| OidcError::MissingClaim("sub".to_owned()))?;
    let issuer = text("iss").ok_or_else(|| OidcError::MissingClaim("iss".to_owned()))?;
    // Some providers (Entra, Cognito) send the flag as a string.
    let email_verified = match claims.get("email_verified") {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(flag)) => flag.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let groups = match claims.get(&connection.claims.groups) {
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).map(str::to_owned).collect()
        }
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(Identity {
        issuer,
        subject,
        email: text(&connection.claims.email).map(|e| e.trim().to_lowercase()),
        email_verified,
        name: text(&connection.claims.name),
        groups,
    })
}

fn describe_discovery_error<E: std::error::Error>(error: &openidconnect::DiscoveryError<E>) -> String {
    use openidconnect::DiscoveryError;
    match error {
        DiscoveryError::Request(e) => format!("cannot reach it: {e}"),
        DiscoveryError::Response(status, _, reason) => format!("it answered {status}: {reason}"),
        DiscoveryError::Parse(e) => format!("its discovery document does not parse: {e}"),
        DiscoveryError::Validation(reason) => format!("its discovery document is wrong: {reason}"),
        other => other.to_string(),
    }
}

fn describe_request_error<E: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    error: &openidconnect::RequestTokenError<E, T>,
) -> String {
    use openidconnect::RequestTokenError;
    match error {
        RequestTokenError::ServerResponse(response) => response.to_string(),
        RequestTokenError::Request(e) => format!("cannot reach the token endpoint: {e}"),
        RequestTokenError::Parse(e, _) => format!("its token response does not parse: {e}"),
        RequestTokenError::Other(reason) => reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        Connection {
            issuer: "http://127.0.0.1:1".into(),
            client_id: "strata".into(),
            client_secret: "s3cret".into(),
            scopes: vec!["email".into(), "openid".into(), "groups".into(), "email".into()],
            claims: ClaimMapping::default(),
        }
    }

    #[test]
    fn scopes_drop_openid_and_repeats() {
        assert_eq!(scopes(&connection()), vec!["email".to_owned(), "groups".to_owned()]);
    }

    #[test]
    fn the_identity_reads_the_mapped_claims_and_string_flags() {
        let mut connection = connection();
        connection.claims = ClaimMapping { email: "upn".into(), name: "name".into(), groups: "roles".into() };
        let claims = serde_json::json!({
            "iss": "https://idp", "sub": "u1", "upn": " Ada@Example.COM ", "email_verified": "True",
            "name": "Ada", "roles": ["eng", 7, "ops"]
        });
        let identity = identity(&connection, &claims).unwrap();
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
        assert!(identity.email_verified);
        assert_eq!(identity.groups, vec!["eng".to_owned(), "ops".to_owned()]);
    }

    #[test]
    fn the_debug_form_of_a_connection_has_no_secret() {
        assert!(!format!("{:?}", connection()).contains("s3cret"));
    }
}
