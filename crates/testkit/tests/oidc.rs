//! The single sign-on harness against the real provider: discovery, a full
//! authorization-code flow with PKCE, a refused password, key rotation, and
//! an already expired id_token. Needs `scripts/oidc.sh` to have run (the
//! tests fail, not skip, without it).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use strata_testkit::oidc::{Account, Client, IdpBrowser, OidcProvider, ProviderConfig, ProviderOptions};
use url::Url;

const CLIENT_ID: &str = "strata-test";
const CLIENT_SECRET: &str = "client-secret";
/// Nothing listens there: the sign-in stops at the redirect to it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/sso/callback";

fn config() -> ProviderConfig {
    ProviderConfig {
        clients: vec![Client::new(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)],
        accounts: vec![
            Account::new("ann", "ann@example.com", "correct horse").with_groups(&["eng", "admins"]),
            Account {
                email_verified: false,
                name: "Bob B.".to_owned(),
                ..Account::new("bob", "bob@example.com", "hunter2")
            },
        ],
        keys: None,
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the relying party keeps between the redirect and the callback.
struct Request {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn authorize(idp: &OidcProvider) -> Request {
    let (state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    let mut url = Url::parse(&format!("{}/auth", idp.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Request { url: url.into(), state, nonce, verifier }
}

/// Exchanges `code` at the token endpoint (client_secret_basic).
async fn redeem(idp: &OidcProvider, code: &str, verifier: &str) -> Value {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_verifier", verifier)
        .finish();
    let response = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let tokens: Value = response.json().await.unwrap();
    assert!(status.is_success(), "token endpoint answered {status}: {tokens}");
    tokens
}

/// The header and claims of a JWT (not verified: the RP's tests do that).
fn decode(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.').map(|part| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()));
    (parts.next().unwrap().unwrap(), parts.next().unwrap().unwrap())
}

/// Signs in as `login` and returns the id_token's header and claims.
async fn sign_in(idp: &OidcProvider, login: &str, password: &str) -> (Value, Value) {
    let request = authorize(idp);
    let outcome = IdpBrowser::new().sign_in(&request.url, login, password).await.unwrap();
    assert!(outcome.redirect.as_str().starts_with(REDIRECT_URI), "{}", outcome.redirect);
    assert_eq!(outcome.param("state").as_deref(), Some(request.state.as_str()));
    assert_eq!(outcome.param("iss").as_deref(), Some(idp.issuer()));
    let code = outcome.param("code").expect("the callback has a code");
    let tokens = redeem(idp, &code, &request.verifier).await;
    let (header, claims) = decode(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], request.nonce);
    (header, claims)
}

async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url).await.unwrap();
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn discovery_names_the_issuer_and_s256() {
    let idp = OidcProvider::start(config()).await;
    assert_eq!(idp.issuer(), format!("http://127.0.0.1:{}", idp.port()));
    let discovery = get_json(&idp.discovery_url()).await;
    assert_eq!(discovery["issuer"], idp.issuer());
    assert!(discovery["code_challenge_methods_supported"].as_array().unwrap().contains(&"S256".into()));
    for scope in ["openid", "email", "profile", "groups"] {
        assert!(discovery["scopes_supported"].as_array().unwrap().contains(&scope.into()), "{scope}");
    }
    let jwks = get_json(discovery["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(jwks["keys"][0]["kid"], idp.signing_kid());
    assert!(jwks["keys"][0].get("d").is_none(), "the JWKS must not publish private keys");
}

#[tokio::test]
async fn code_flow_with_pkce_gives_the_account_claims() {
    let idp = OidcProvider::start(config()).await;
    let (header, claims) = sign_in(&idp, "ann@example.com", "correct horse").await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], idp.signing_kid());
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["sub"], "ann");
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "ann");
    assert_eq!(claims["groups"], serde_json::json!(["eng", "admins"]));

    // The subject is accepted as the login name too.
    let (_, claims) = sign_in(&idp, "bob", "hunter2").await;
    assert_eq!(claims["email"], "bob@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["name"], "Bob B.");
    assert_eq!(claims["groups"], serde_json::json!([]));
}

#[tokio::test]
async fn a_wrong_password_or_unknown_login_is_refused() {
    let idp = OidcProvider::start(config()).await;
    let browser = IdpBrowser::new();
    for (login, password) in [("ann@example.com", "wrong"), ("nobody@example.com", "correct horse")] {
        let error = browser.sign_in(&authorize(&idp).url, login, password).await.unwrap_err();
        assert!(error.starts_with("login refused: "), "{error}");
        assert!(error.contains("Invalid email or password"), "{error}");
    }
    // The same browser can still sign in properly afterwards.
    let outcome = browser.sign_in(&authorize(&idp).url, "ann@example.com", "correct horse").await.unwrap();
    assert!(outcome.param("code").is_some(), "{}", outcome.redirect);
}

#[tokio::test]
async fn pkce_is_required() {
    let idp = OidcProvider::start(config()).await;
    let mut url = Url::parse(&authorize(&idp).url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !key.starts_with("code_challenge"))
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let outcome = IdpBrowser::new().sign_in(url.as_str(), "ann@example.com", "correct horse").await.unwrap();
    assert_eq!(outcome.param("error").as_deref(), Some("invalid_request"), "{}", outcome.redirect);
}

#[tokio::test]
async fn key_rotation_keeps_the_issuer_and_publishes_both_keys() {
    let idp = OidcProvider::start(config()).await;
    let (issuer, old_kid) = (idp.issuer().to_owned(), idp.signing_kid().to_owned());
    let new_key = OidcProvider::generate_key().await;
    let keys = vec![new_key.clone(), idp.keys()[0].clone()];
    let idp = idp.restart_with_keys(keys).await;

    assert_eq!(idp.issuer(), issuer);
    assert_eq!(idp.signing_kid(), new_key["kid"].as_str().unwrap());
    assert_ne!(idp.signing_kid(), old_kid);
    let jwks = get_json(&format!("{issuer}/jwks")).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [idp.signing_kid(), old_kid.as_str()]);

    let (header, _) = sign_in(&idp, "ann@example.com", "correct horse").await;
    assert_eq!(header["kid"], idp.signing_kid());

    // rotate_key does the same in one step.
    let idp = idp.rotate_key().await;
    assert_eq!(idp.keys().len(), 3);
    let (header, _) = sign_in(&idp, "ann@example.com", "correct horse").await;
    assert_eq!(header["kid"], idp.signing_kid());
}

#[tokio::test]
async fn a_negative_id_token_ttl_issues_expired_tokens() {
    let options = ProviderOptions { id_token_ttl: Some(-120) };
    let idp = OidcProvider::start_with_options(config(), options).await;
    let (_, claims) = sign_in(&idp, "ann@example.com", "correct horse").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expires = claims["exp"].as_u64().unwrap();
    assert!(expires + 100 <= now, "exp {expires} should be two minutes before {now}");
}
