//! The HTTP side of single sign-on: sending a browser to its organisation's
//! identity provider and taking it back (`/auth/sso/*`), and the CLI's two
//! ways in: the loopback code exchange and the device flow (`/auth/cli/*`,
//! `/auth/device*`). The decisions are the hub's (`strata_hub::sso`).
//!
//! The browser binding cookie is SameSite=Lax (the provider's redirect back
//! is a cross-site top-level navigation, which Strict cookies would miss),
//! HttpOnly, and scoped to `/auth/sso`.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use strata_api_types::ErrorCode;
use strata_http::reject;
use strata_hub::{DevicePoll, Hub, HubError, Realm, ReturnTo, SsoCallback, SsoFinished, Tokens};

use crate::rate_limit;
use crate::session_cookies::{self, RequestMeta};

const BINDING_COOKIE: &str = "strata_sso";
const BINDING_PATH: &str = "/auth/sso";

fn answer_error(error: &HubError) -> HttpResponse {
    match error.user_error() {
        Some(user) => reject(user.code, user.message.clone()),
        None => strata_http::error_response(ErrorCode::Internal, error, strata_http::Disclosure::Withheld),
    }
}

/// `GET /auth/sso/discover?email=…`: whether this email signs in with SSO
/// (home realm discovery for the console's login page).
pub(crate) async fn discover(hub: web::Data<Hub>, query: web::Query<DiscoverQuery>) -> HttpResponse {
    let sso = hub.sso_realm_exists(&Realm::Email(query.email.clone())).await;
    HttpResponse::Ok().json(serde_json::json!({ "sso": sso }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct DiscoverQuery {
    email: String,
}

/// Where a login starts: by organisation or by email, back to a console
/// page or to the CLI's loopback listener.
#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    org: Option<String>,
    email: Option<String>,
    return_to: Option<String>,
    cli_redirect: Option<String>,
    cli_challenge: Option<String>,
    cli_state: Option<String>,
}

/// `GET /auth/sso/start`: sends the browser to the identity provider.
pub(crate) async fn start(hub: web::Data<Hub>, query: web::Query<StartQuery>) -> HttpResponse {
    let realm = match (&query.org, &query.email) {
        (Some(org), _) => Realm::Org(org.clone()),
        (None, Some(email)) => Realm::Email(email.clone()),
        (None, None) => return reject(ErrorCode::InvalidArgument, "say whose single sign-on to use: `org` or `email`"),
    };
    let return_to = match (&query.cli_redirect, &query.cli_challenge, &query.cli_state) {
        (Some(redirect), Some(challenge), Some(state)) => match ReturnTo::cli(redirect, challenge, state) {
            Ok(target) => target,
            Err(error) => return reject(error.code, error.message),
        },
        (None, None, None) => ReturnTo::console(query.return_to.as_deref()),
        _ => {
            return reject(
                ErrorCode::InvalidArgument,
                "a CLI login sends cli_redirect, cli_challenge and cli_state together",
            );
        }
    };
    match hub.start_sso(realm, return_to).await {
        Ok(started) => {
            let cookie = Cookie::build(BINDING_COOKIE, started.browser_binding.clone())
                .path(BINDING_PATH)
                .http_only(true)
                .secure(true)
                .same_site(SameSite::Lax)
                .max_age(time::Duration::minutes(10))
                .finish();
            HttpResponse::SeeOther()
                .insert_header((header::SET_COOKIE, cookie.to_string()))
                .insert_header((header::LOCATION, started.authorize_url))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Err(error) => answer_error(&error),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/sso/callback`: the identity provider's answer. A failure
/// goes back to the console's login page with the reason to show.
pub(crate) async fn callback(
    request: HttpRequest,
    hub: web::Data<Hub>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let query = query.into_inner();
    let callback = SsoCallback {
        state: query.state,
        code: query.code,
        error: query.error,
        error_description: query.error_description,
        browser_binding: request.cookie(BINDING_COOKIE).map(|c| c.value().to_owned()),
        ip: RequestMeta::of(&request).ip,
    };
    let mut clear = Cookie::build(BINDING_COOKIE, "").path(BINDING_PATH).secure(true).http_only(true).finish();
    clear.make_removal();
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::CACHE_CONTROL, "no-store")).append_header((header::SET_COOKIE, clear.to_string()));
    match hub.finish_sso(callback).await {
        Ok(SsoFinished::Console { tokens, path }) => {
            for cookie in session_cookies::issue(&tokens) {
                response.append_header((header::SET_COOKIE, cookie));
            }
            response.insert_header((header::LOCATION, path)).finish()
        }
        Ok(SsoFinished::Cli { redirect }) => response.insert_header((header::LOCATION, redirect)).finish(),
        Err(error) => match error.user_error() {
            Some(user) => {
                let message: String = url::form_urlencoded::byte_serialize(user.message.as_bytes()).collect();
                response.insert_header((header::LOCATION, format!("/login?ssoError={message}"))).finish()
            }
            None => answer_error(&error),
        },
    }
}

/// Tokens handed to the CLI (it keeps the refresh token in its context).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CliTokens {
    access_token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
    refresh_token: String,
    refresh_expires_at: chrono::DateTime<chrono::Utc>,
    email: String,
}

impl From<&Tokens> for CliTokens {
    fn from(tokens: &Tokens) -> Self {
        CliTokens {
            access_token: tokens.access_token.clone(),
            expires_at: tokens.access_expires_at,
            refresh_token: tokens.refresh_token.clone(),
            refresh_expires_at: tokens.refresh_expires_at,
            email: tokens.user.email.clone(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct LoopbackExchange {
    code: String,
    verifier: String,
}

/// `POST /auth/cli/token`: the CLI trades its loopback code and PKCE
/// verifier for a session.
pub(crate) async fn cli_token(hub: web::Data<Hub>, body: web::Json<LoopbackExchange>) -> HttpResponse {
    match hub.redeem_loopback_code(&body.code, &body.verifier).await {
        Ok(tokens) => {
            HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(CliTokens::from(&tokens))
        }
        Err(error) => answer_error(&error),
    }
}

/// `POST /auth/device`: starts a device login (RFC 8628 §3.1–3.2).
pub(crate) async fn device_start(hub: web::Data<Hub>) -> HttpResponse {
    match hub.start_device_login().await {
        Ok(started) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": started.verification_uri,
            "verification_uri_complete": started.verification_uri_complete,
            "expires_in": started.expires_in,
            "interval": started.interval,
        })),
        Err(error) => answer_error(&error),
    }
}

#[derive(Deserialize)]
pub(crate) struct DevicePollBody {
    device_code: String,
}

/// `POST /auth/device/token`: one poll (RFC 8628 §3.4–3.5): tokens once
/// approved; until then `authorization_pending` or `slow_down`.
pub(crate) async fn device_token(hub: web::Data<Hub>, body: web::Json<DevicePollBody>) -> HttpResponse {
    let oauth_error = |error: &str, description: &str| {
        HttpResponse::BadRequest().json(serde_json::json!({ "error": error, "error_description": description }))
    };
    match hub.poll_device_login(&body.device_code).await {
        Ok(DevicePoll::Approved(tokens)) => {
            HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(CliTokens::from(tokens.as_ref()))
        }
        Ok(DevicePoll::Pending) => oauth_error("authorization_pending", "not approved yet"),
        Ok(DevicePoll::SlowDown) => oauth_error("slow_down", "polled faster than the interval"),
        Err(error) => match error.user_error() {
            Some(user) if user.code == ErrorCode::Expired => oauth_error("expired_token", &user.message),
            Some(user) => oauth_error("access_denied", &user.message),
            None => answer_error(&error),
        },
    }
}

/// The routes of this module. They answer anyone, so each has a limit per
/// client address (the callback only finishes a login its start counted):
/// starting a login keeps a row until it expires, and the lookups would
/// otherwise let one address probe domains or codes freely.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    let starts = || from_fn(rate_limit::limit_sso_starts);
    let lookups = || from_fn(rate_limit::limit_sso_lookups);
    config
        .service(web::resource("/auth/sso/discover").wrap(lookups()).route(web::get().to(discover)))
        .service(web::resource("/auth/sso/start").wrap(starts()).route(web::get().to(start)))
        .route("/auth/sso/callback", web::get().to(callback))
        .service(web::resource("/auth/cli/token").wrap(lookups()).route(web::post().to(cli_token)))
        .service(web::resource("/auth/device").wrap(starts()).route(web::post().to(device_start)))
        .service(web::resource("/auth/device/token").wrap(lookups()).route(web::post().to(device_token)));
}
