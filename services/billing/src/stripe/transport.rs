//! Sends async-stripe's typed requests over the platform's own HTTP client
//! (reqwest on aws-lc-rs), through async-stripe's `StripeClient` trait.
//!
//! Two reasons not to use async-stripe's hyper client: it is a second HTTP
//! and TLS stack in the server, and it parses every error answer into
//! Stripe's full error object, which embeds payment intents, payment
//! methods and sources: that alone put about 10 MiB into the binary. An
//! error here keeps Stripe's status, type and message, all Strata shows.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use stripe_client_core::{CustomizedStripeRequest, RequestStrategy, StripeClient, StripeClientErr, StripeMethod};

/// Why a call to Stripe failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Stripe answered with an error status.
    Api { status: u16, kind: String, message: String },
    /// Stripe could not be reached, or did not answer in time.
    Transport(String),
    /// The answer did not parse.
    Answer(String),
}

impl StripeClientErr for CallError {
    fn deserialize_err(message: impl fmt::Display) -> Self {
        CallError::Answer(message.to_string())
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Api { status, kind, message } => write!(f, "Stripe answered {status} ({kind}): {message}"),
            CallError::Transport(what) => write!(f, "Stripe could not be reached: {what}"),
            CallError::Answer(what) => write!(f, "Stripe's answer did not parse: {what}"),
        }
    }
}

/// `{"error": {"type": …, "message": …}}`, Stripe's error answer.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: Option<String>,
}

/// A Stripe account's API at `base` (`https://api.stripe.com/` or a
/// stand-in), with its secret key.
pub(crate) struct Transport {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
    timeout: Duration,
}

// Written by hand so that the key never reaches a log line.
impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(base: &str, secret_key: SecretString, timeout: Duration) -> Result<Self, CallError> {
        let user_agent = concat!("strata/", env!("CARGO_PKG_VERSION"));
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .build()
            .map_err(|error| CallError::Transport(error.to_string()))?;
        let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
        Ok(Transport { http, base, secret_key, timeout })
    }

    /// One attempt: callers retry at their own pace (a meter round, a
    /// person's click), with the same idempotency key.
    async fn send(&self, call: CustomizedStripeRequest) -> Result<Bytes, CallError> {
        let (request, overrides) = call.into_pieces();
        let mut url = format!("{}v1{}", self.base, request.path);
        if let Some(query) = &request.query {
            url.push('?');
            url.push_str(query);
        }
        let method = match request.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(self.secret_key.expose_secret())
            .header("Stripe-Version", stripe_shared::version::VERSION.as_str())
            .timeout(overrides.timeout.unwrap_or(self.timeout));
        if let Some(RequestStrategy::Idempotent(key)) = &overrides.request_strategy {
            builder = builder.header("Idempotency-Key", key.as_str());
        }
        if let Some(account) = &overrides.account_id {
            builder = builder.header("Stripe-Account", account.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        }
        // reqwest's error may name the URL, never the headers (the key).
        let response = builder.send().await.map_err(|error| CallError::Transport(error.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| CallError::Transport(error.without_url().to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        let (kind, message) = match serde_json::from_slice::<ErrorAnswer>(&body) {
            Ok(answer) => (answer.error.kind, answer.error.message.unwrap_or_else(|| "no message".to_owned())),
            Err(_) => ("unknown".to_owned(), "an answer that is not Stripe's error object".to_owned()),
        };
        Err(CallError::Api { status: status.as_u16(), kind, message })
    }
}

impl StripeClient for Transport {
    type Err = CallError;

    fn execute(&self, call: CustomizedStripeRequest) -> impl Future<Output = Result<Bytes, CallError>> + Send {
        self.send(call)
    }
}
