//! Web sessions: the refresh token lives in an HttpOnly, Secure,
//! SameSite=Strict cookie scoped to `/auth`, so page scripts can never read
//! it; the web app keeps only the short-lived access token in memory and
//! calls `POST /auth/refresh` for the next one.
//!
//! CSRF: the refresh endpoint is the one place a cookie authenticates, and
//! it needs the `X-CSRF-Token` header to equal the `strata_csrf` cookie
//! (double submit: another site can neither read the cookie nor set the
//! header without a CORS preflight we never grant), and refuses a foreign
//! `Origin`. Every other request authenticates with a bearer token only.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use strata_api_types::ErrorCode;
use strata_http::reject;
use strata_hub::{Hub, Tokens};

const REFRESH_COOKIE: &str = "strata_refresh";
const CSRF_COOKIE: &str = "strata_csrf";
const CSRF_HEADER: &str = "x-csrf-token";
const REFRESH_PATH: &str = "/auth";

/// What resolvers may need to know about the HTTP request.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMeta {
    /// The client's address (the peer; a trusted proxy setting comes with deployment).
    pub ip: Option<String>,
}

impl RequestMeta {
    pub(crate) fn of(request: &HttpRequest) -> Self {
        RequestMeta { ip: request.peer_addr().map(|addr| addr.ip().to_string()) }
    }
}

/// `Set-Cookie` values for a new or refreshed session.
pub(crate) fn issue(tokens: &Tokens) -> Vec<String> {
    let lifetime = time::Duration::seconds((tokens.refresh_expires_at - chrono::Utc::now()).num_seconds().max(0));
    let refresh = Cookie::build(REFRESH_COOKIE, tokens.refresh_token.clone())
        .path(REFRESH_PATH)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(lifetime)
        .finish();
    // Random and unrelated to the refresh token. Not a secret from the page
    // (it copies it into the header), only from other sites.
    let csrf = Cookie::build(CSRF_COOKIE, uuid::Uuid::new_v4().simple().to_string())
        .path("/")
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(lifetime)
        .finish();
    vec![refresh.to_string(), csrf.to_string()]
}

/// `Set-Cookie` values that end the web session.
pub(crate) fn clear() -> Vec<String> {
    [(REFRESH_COOKIE, REFRESH_PATH), (CSRF_COOKIE, "/")]
        .into_iter()
        .map(|(name, path)| {
            let mut cookie = Cookie::build(name, "").path(path).secure(true).same_site(SameSite::Strict).finish();
            cookie.make_removal();
            cookie.to_string()
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Refreshed {
    access_token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// True when the request's `Origin` (if any) is this server itself.
fn same_origin(request: &HttpRequest) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = request.connection_info().host().to_owned();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// `POST /auth/refresh`: a new access token (and rotated cookies) for the
/// web session in the cookies.
pub(crate) async fn refresh(request: HttpRequest, hub: web::Data<Hub>) -> HttpResponse {
    if !same_origin(&request) {
        return reject(ErrorCode::Forbidden, "cross-site requests cannot refresh a session");
    }
    let csrf_cookie = request.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
    let csrf_header = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if csrf_cookie.is_none() || csrf_cookie != csrf_header {
        return reject(ErrorCode::Csrf, "missing or wrong X-CSRF-Token header; reload the page and log in again");
    }
    let Some(refresh) = request.cookie(REFRESH_COOKIE) else {
        return reject(ErrorCode::Unauthenticated, "no session; log in");
    };
    match hub.refresh(refresh.value()).await {
        Ok(tokens) => {
            let mut response = HttpResponse::Ok();
            for cookie in issue(&tokens) {
                response.append_header((header::SET_COOKIE, cookie));
            }
            response.json(Refreshed { access_token: tokens.access_token, expires_at: tokens.access_expires_at })
        }
        Err(error) => match error.user_error() {
            Some(user) => {
                let mut response = reject(user.code, user.message.clone());
                for cookie in clear() {
                    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
                        response.headers_mut().append(header::SET_COOKIE, value);
                    }
                }
                response
            }
            None => strata_http::error_response(ErrorCode::Internal, &error, strata_http::Disclosure::Withheld),
        },
    }
}

/// `GET /auth/link?token=…`: spends a one-time login link (`strata dev`
/// prints one), sets the session cookies and opens the console.
pub(crate) async fn login_link(hub: web::Data<Hub>, query: web::Query<LinkQuery>) -> HttpResponse {
    match hub.use_login_link(&query.token).await {
        Ok(tokens) => {
            let mut response = HttpResponse::SeeOther();
            for cookie in issue(&tokens) {
                response.append_header((header::SET_COOKIE, cookie));
            }
            response.insert_header((header::LOCATION, "/")).finish()
        }
        Err(error) => match error.user_error() {
            Some(user) => reject(user.code, format!("{} (restart `strata dev` for a new link)", user.message)),
            None => strata_http::error_response(ErrorCode::Internal, &error, strata_http::Disclosure::Withheld),
        },
    }
}

/// The query of a login link.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct LinkQuery {
    token: String,
}

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens.
pub(crate) async fn jwks(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=300")).json(hub.keys().jwks().await)
}
