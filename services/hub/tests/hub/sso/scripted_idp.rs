//! An identity provider whose tokens a test scripts: it speaks OpenID
//! Connect (discovery, JWKS, authorize, token with PKCE S256, single-use
//! codes) like any provider, and signs the id_token it is told to, forged
//! ones included. The real provider (npm `oidc-provider`) shows that the
//! flow works; this one shows what the relying party refuses, since no
//! honest provider sends a token signed with `alg: none`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The person the provider signs in (no login page: it approves at once).
#[derive(Debug, Clone)]
pub struct Account {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}

/// How the next id_token is forged, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    None,
    WrongIssuer,
    WrongAudience,
    /// Another audience besides ours and no `azp`.
    ExtraAudienceWithoutAzp,
    /// Signed by a key the provider does not publish, under a published `kid`.
    BadSignature,
    /// Signed by a key the provider does not publish, under its own `kid`.
    UnknownKey,
    AlgNone,
    /// HMAC-SHA256 keyed with the provider's public key (the classic
    /// algorithm-confusion attack).
    Hs256WithPublicKey,
    Expired,
    IssuedInTheFuture,
    NonceMismatch,
}

struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl SigningKey {
    fn generate(kid: &str) -> SigningKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        SigningKey { kid: kid.to_owned(), pkcs8: pkcs8.as_ref().to_vec(), public: pair.public_key().as_ref().to_vec() }
    }

    /// The public JWK: the uncompressed point is 0x04 || x || y.
    fn jwk(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&self.public[33..65]),
        })
    }
}

struct Pending {
    nonce: String,
    challenge: String,
    client_id: String,
}

struct State {
    issuer: String,
    account: Account,
    forgery: Forgery,
    keys: Vec<SigningKey>,
    codes: HashMap<String, Pending>,
    next_code: u64,
    /// Sign with the oldest key instead of the newest.
    sign_with_oldest: bool,
    /// How many of `keys` (newest first) the JWKS publishes.
    published: usize,
}

/// The provider, serving on loopback until dropped.
pub struct ScriptedIdp {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ScriptedIdp {
    pub async fn start(account: Account) -> ScriptedIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            account,
            forgery: Forgery::None,
            keys: vec![SigningKey::generate("key-1")],
            codes: HashMap::new(),
            next_code: 0,
            sign_with_oldest: false,
            published: 1,
        }));
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        ScriptedIdp { issuer, state, server }
    }

    pub fn forge(&self, forgery: Forgery) {
        self.state.lock().unwrap().forgery = forgery;
    }

    pub fn set_account(&self, account: Account) {
        self.state.lock().unwrap().account = account;
    }

    /// Starts signing with a new key, publishing it before the old one
    /// (which stays published, as providers do during a rotation).
    pub fn rotate_keys(&self, kid: &str) {
        let mut state = self.state.lock().unwrap();
        state.keys.insert(0, SigningKey::generate(kid));
        state.published += 1;
    }

    /// Signs with the oldest key, published or not (a token minted before a rotation).
    pub fn sign_with_oldest_key(&self, oldest: bool) {
        self.state.lock().unwrap().sign_with_oldest = oldest;
    }
}

async fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    match path.as_str() {
        "/.well-known/openid-configuration" => json_response(StatusCode::OK, &discovery(&state.lock().unwrap().issuer)),
        "/jwks" => {
            let state = state.lock().unwrap();
            let keys: Vec<Value> = state.keys.iter().take(state.published).map(SigningKey::jwk).collect();
            json_response(StatusCode::OK, &json!({ "keys": keys }))
        }
        "/authorize" => authorize(state, &query),
        "/token" => {
            let body = request.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
            let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
            token(state, &form)
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({ "error": "not_found" })),
    }
}

fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
    })
}

/// Approves at once: back to the relying party with a fresh code.
fn authorize(state: &Mutex<State>, query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let mut state = state.lock().unwrap();
    let required = ["redirect_uri", "state", "nonce", "code_challenge", "client_id"];
    if required.iter().any(|k| !query.contains_key(*k))
        || query.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_request" }));
    }
    state.next_code += 1;
    let code = format!("code-{}", state.next_code);
    state.codes.insert(
        code.clone(),
        Pending {
            nonce: query["nonce"].clone(),
            challenge: query["code_challenge"].clone(),
            client_id: query["client_id"].clone(),
        },
    );
    let mut target = url::Url::parse(&query["redirect_uri"]).unwrap();
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", &query["state"]);
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", target.as_str())
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Spends a code once, checking the PKCE verifier, and signs the id_token.
fn token(state: &Mutex<State>, form: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let mut state = state.lock().unwrap();
    let Some(pending) = form.get("code").and_then(|code| state.codes.remove(code)) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_grant", "error_description": "unknown or used code" }),
        );
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    if URL_SAFE_NO_PAD.encode(digest.as_ref()) != pending.challenge {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_grant", "error_description": "PKCE" }),
        );
    }
    let id_token = id_token(&state, &pending.client_id, &pending.nonce);
    json_response(
        StatusCode::OK,
        &json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token }),
    )
}

fn id_token(state: &State, client_id: &str, nonce: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": state.issuer, "sub": state.account.sub, "aud": client_id, "azp": client_id,
        "iat": now, "exp": now + 300, "nonce": nonce,
        "email": state.account.email, "email_verified": state.account.email_verified,
        "name": "Scripted Person", "groups": state.account.groups,
    });
    match state.forgery {
        Forgery::WrongIssuer => claims["iss"] = json!("https://evil.example.com"),
        Forgery::WrongAudience => {
            claims["aud"] = json!("someone-else");
            claims["azp"] = json!("someone-else");
        }
        Forgery::ExtraAudienceWithoutAzp => {
            claims["aud"] = json!([client_id, "someone-else"]);
            claims.as_object_mut().unwrap().remove("azp");
        }
        Forgery::Expired => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        Forgery::IssuedInTheFuture => claims["iat"] = json!(now + 3600),
        Forgery::NonceMismatch => claims["nonce"] = json!("not-the-nonce"),
        _ => {}
    }
    let key = if state.sign_with_oldest { &state.keys[state.keys.len() - 1] } else { &state.keys[0] };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    match state.forgery {
        Forgery::AlgNone => {
            let head = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": key.kid }).to_string());
            format!("{head}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
        }
        Forgery::Hs256WithPublicKey => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid.clone());
            let secret = key.jwk().to_string();
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
        }
        Forgery::BadSignature => {
            let impostor = SigningKey::generate(&key.kid);
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&impostor.pkcs8)).unwrap()
        }
        Forgery::UnknownKey => {
            let impostor = SigningKey::generate("never-published");
            header.kid = Some(impostor.kid.clone());
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&impostor.pkcs8)).unwrap()
        }
        _ => jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&key.pkcs8)).unwrap(),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}
