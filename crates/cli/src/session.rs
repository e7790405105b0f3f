//! Connecting to the server as the context's user: the bearer token comes
//! from `STRATA_TOKEN` or the context, and a login session's access token
//! is renewed with its refresh token shortly before it expires.

use anyhow::anyhow;
use base64::Engine;
use strata_client::StrataClient;

use crate::cli::GlobalArgs;
use crate::context::{CliConfig, Target, config_path, resolve_target};
use crate::failure::{Failure, user};

/// Renew access tokens that expire within this many seconds.
const RENEW_BEFORE_SECS: i64 = 60;

/// A client for the target of `global`, with fresh credentials.
pub(crate) async fn connect(global: &GlobalArgs) -> Result<(StrataClient, Target), Failure> {
    let mut target = resolve_target(global.endpoint.as_deref(), global.context.as_deref()).map_err(user)?;
    let client = StrataClient::new(&target.endpoint)?;
    if let (Some(token), Some(refresh)) = (&target.token, &target.refresh_token)
        && expires_soon(token)
    {
        let (access, next_refresh) = client
            .refresh_session(refresh)
            .await
            .map_err(|error| user(anyhow!("your login session has ended ({error}); run `strata auth login` again")))?;
        save_tokens(target.context_name.as_deref(), &access, &next_refresh).map_err(user)?;
        target.token = Some(access);
        target.refresh_token = Some(next_refresh);
    }
    let client = match &target.token {
        Some(token) => client.with_token(token.clone()),
        None => client,
    };
    Ok((client, target))
}

/// The organisation a hub command acts on: `--org`, else the context's.
pub(crate) fn organization(flag: Option<&str>, target: &Target) -> Result<String, Failure> {
    flag.map(str::to_owned).or_else(|| target.organization.clone()).ok_or_else(|| {
        user(anyhow!("which organisation? pass --org SLUG, or set one with `strata workspace use ORG/WORKSPACE`"))
    })
}

/// True for a JWT whose `exp` is near or past; API tokens never expire here.
fn expires_soon(token: &str) -> bool {
    let Some(payload) = token.split('.').nth(1) else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else { return false };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
    claims["exp"].as_i64().is_some_and(|exp| exp - chrono::Utc::now().timestamp() < RENEW_BEFORE_SECS)
}

/// Stores renewed tokens in the context they came from.
pub(crate) fn save_tokens(context: Option<&str>, access: &str, refresh: &str) -> anyhow::Result<()> {
    let Some(name) = context else { return Ok(()) };
    let path = config_path()?;
    let mut config = CliConfig::load(&path)?;
    if let Some(context) = config.contexts.get_mut(name) {
        context.token = Some(access.to_owned());
        context.refresh_token = Some(refresh.to_owned());
        config.save(&path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: i64) -> String {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        format!("eyJhbGciOiJFZERTQSJ9.{body}.sig")
    }

    #[test]
    fn only_access_tokens_near_expiry_are_renewed() {
        let now = chrono::Utc::now().timestamp();
        assert!(expires_soon(&jwt(now + 10)));
        assert!(expires_soon(&jwt(now - 10)));
        assert!(!expires_soon(&jwt(now + 600)));
        assert!(!expires_soon("stp_0123456789abcdef"));
    }
}
