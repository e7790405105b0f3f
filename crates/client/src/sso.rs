//! Single sign-on and teams. Over HTTP: the CLI's two ways of logging in
//! through a browser, the loopback code exchange (RFC 8252) and the device
//! flow (RFC 8628). Over GraphQL: an organisation's identity provider,
//! claimed domains, group mappings, SCIM token and teams.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strata_api_types::ErrorBody;
use url::Url;

use crate::hub::{decode, not_found_org};
use crate::{ClientError, StrataClient};

/// A session handed to the CLI after a browser login. `Debug` leaves the
/// tokens out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CliSession {
    pub access_token: String,
    pub expires_at: String,
    pub refresh_token: String,
    pub refresh_expires_at: String,
    pub email: String,
}

impl std::fmt::Debug for CliSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliSession").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Whose identity provider a single sign-on goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoRealm {
    /// An organisation, by slug.
    Org(String),
    /// A person's email: the organisation that verified its domain.
    Email(String),
}

/// Where the browser sends the one-time code of a loopback login, and what
/// binds the code to the CLI that asked (RFC 7636 challenge, RFC 6749 state).
#[derive(Debug, Clone, Copy)]
pub struct LoopbackReturn<'a> {
    /// `http://127.0.0.1:<port>/<path>`.
    pub redirect: &'a str,
    /// The S256 challenge of the CLI's PKCE verifier.
    pub challenge: &'a str,
    pub state: &'a str,
}

/// A started device login (RFC 8628 §3.2). `Debug` leaves the device code out.
#[derive(Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// What the person types, e.g. `BCDF-GHJK`.
    pub user_code: String,
    pub verification_uri: String,
    /// The verification URI with the user code filled in.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization").field("user_code", &self.user_code).finish_non_exhaustive()
    }
}

/// The answer to one poll of a device login (RFC 8628 §3.5).
#[derive(Debug)]
pub enum DevicePoll {
    /// Nobody approved it yet.
    Pending,
    /// Polled too often: add 5 seconds to the interval.
    SlowDown,
    Approved(Box<CliSession>),
    /// The codes expired; start again.
    Expired(String),
    /// Refused, or unknown to the server.
    Denied(String),
}

/// An OAuth error body (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// An organisation's OpenID Connect connection (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoConnectionInfo {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    /// Registered as the callback at the identity provider.
    pub redirect_uri: String,
    pub updated_at: String,
}

/// A claimed domain and the TXT record that proves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainInfo {
    pub domain: String,
    pub record_name: String,
    pub record_value: String,
    pub verified: bool,
    pub verified_at: Option<String>,
}

/// What members of an identity provider group get.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMappingInfo {
    pub group: String,
    pub team: Option<String>,
    pub org_role: Option<String>,
}

/// Everything about an organisation's single sign-on, for its admins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoSettings {
    pub sso_required: bool,
    pub sso_connection: Option<SsoConnectionInfo>,
    pub domains: Vec<DomainInfo>,
    pub group_mappings: Vec<GroupMappingInfo>,
}

/// A change to the SSO connection. `Debug` leaves the secret out.
#[derive(Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoConnectionChange {
    pub issuer: String,
    pub client_id: String,
    /// `None` keeps the stored secret.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub email_claim: Option<String>,
    pub name_claim: Option<String>,
    pub groups_claim: Option<String>,
}

impl std::fmt::Debug for SsoConnectionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConnectionChange").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// What `testSso` found at the identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoTestResult {
    pub ok: bool,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub signing_keys: Option<i64>,
}

/// A new SCIM token, shown once. `Debug` leaves the token out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimToken {
    pub token: String,
    pub base_url: String,
}

impl std::fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimToken").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// A team of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamInfo {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub managed_by_scim: bool,
    #[serde(default)]
    pub members: Vec<TeamMemberInfo>,
}

/// A member of a team.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamMemberInfo {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    /// `manual`, `idp` or `scim`.
    pub source: String,
}

/// A team's role on a workspace, or on one repo of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamRoleBindingInfo {
    pub team: String,
    pub repo: Option<String>,
    pub role: String,
}

const CONNECTION: &str = "issuer clientId scopes emailClaim nameClaim groupsClaim redirectUri updatedAt";
const DOMAIN: &str = "domain recordName recordValue verified verifiedAt";
const TEAM: &str = "id slug name managedByScim";
const TEAM_MEMBERS: &str = "members { userId email displayName source }";

impl StrataClient {
    /// The URL where a browser starts a loopback login (`GET /auth/sso/start`).
    pub fn sso_start_url(&self, realm: &SsoRealm, back: LoopbackReturn<'_>) -> Result<Url, ClientError> {
        let mut url = self.url(&["auth/sso/start"])?;
        {
            let mut query = url.query_pairs_mut();
            match realm {
                SsoRealm::Org(slug) => query.append_pair("org", slug),
                SsoRealm::Email(email) => query.append_pair("email", email),
            };
            query
                .append_pair("cli_redirect", back.redirect)
                .append_pair("cli_challenge", back.challenge)
                .append_pair("cli_state", back.state);
        }
        Ok(url)
    }

    /// Whether an organisation signs `email` in with SSO (it verified the domain).
    pub async fn sso_discover(&self, email: &str) -> Result<bool, ClientError> {
        #[derive(Deserialize)]
        struct Answer {
            sso: bool,
        }
        let request = self.request_url(reqwest::Method::GET, self.url(&["auth/sso/discover"])?)?;
        let answer: Answer = self.json(self.send(request.query(&[("email", email)])).await?, &[200]).await?;
        Ok(answer.sso)
    }

    /// Trades the code the browser brought to the loopback listener, and the
    /// PKCE verifier only this CLI knows, for a session (`POST /auth/cli/token`).
    pub async fn redeem_loopback_code(&self, code: &str, verifier: &str) -> Result<CliSession, ClientError> {
        let request = self.request_url(reqwest::Method::POST, self.url(&["auth/cli/token"])?)?;
        let body = json!({ "code": code, "verifier": verifier });
        self.json(self.send(request.json(&body)).await?, &[200]).await
    }

    /// Starts a device login (`POST /auth/device`).
    pub async fn start_device_login(&self) -> Result<DeviceAuthorization, ClientError> {
        let request = self.request_url(reqwest::Method::POST, self.url(&["auth/device"])?)?;
        self.json(self.send(request).await?, &[200]).await
    }

    /// Polls a device login once (`POST /auth/device/token`).
    pub async fn poll_device_login(&self, device_code: &str) -> Result<DevicePoll, ClientError> {
        let request = self.request_url(reqwest::Method::POST, self.url(&["auth/device/token"])?)?;
        let response = self.send(request.json(&json!({ "device_code": device_code }))).await?;
        if response.status().as_u16() != 400 {
            let session: CliSession = self.json(response, &[200]).await?;
            return Ok(DevicePoll::Approved(Box::new(session)));
        }
        let bytes = response.bytes().await.map_err(|e| self.protocol_error(&e.to_string()))?;
        let Ok(oauth) = serde_json::from_slice::<OAuthError>(&bytes) else {
            // Not the RFC's shape: the request itself was refused.
            let body: ErrorBody = serde_json::from_slice(&bytes).map_err(|e| self.protocol_error(&e.to_string()))?;
            return Err(ClientError::Api { status: 400, code: body.code.as_str().to_owned(), message: body.message });
        };
        let description = oauth.error_description.unwrap_or_else(|| oauth.error.clone());
        Ok(match oauth.error.as_str() {
            "authorization_pending" => DevicePoll::Pending,
            "slow_down" => DevicePoll::SlowDown,
            "expired_token" => DevicePoll::Expired(description),
            _ => DevicePoll::Denied(description),
        })
    }

    /// Approves a device login as the caller; needs a browser (session)
    /// login, not an API token.
    pub async fn approve_device_login(&self, user_code: &str) -> Result<(), ClientError> {
        self.mutate("approveDeviceLogin", json!({ "userCode": user_code }), "ok").await.map(drop)
    }

    /// Fields of organisation `org`, or NOT_FOUND when the caller is not a member.
    async fn org_fields(&self, org: &str, selection: &str) -> Result<Value, ClientError> {
        let query = format!("query($org: String!) {{ organization(slug: $org) {{ {selection} }} }}");
        let found: Value = self.query_field(&query, json!({ "org": org }), &["organization"]).await?;
        if found.is_null() { Err(not_found_org(org)) } else { Ok(found) }
    }

    pub async fn sso_settings(&self, org: &str) -> Result<SsoSettings, ClientError> {
        let selection = format!(
            "ssoRequired ssoConnection {{ {CONNECTION} }} domains {{ {DOMAIN} }} groupMappings {{ group team orgRole }}"
        );
        decode(self, &self.org_fields(org, &selection).await?)
    }

    pub async fn configure_sso(
        &self,
        org: &str,
        change: &SsoConnectionChange,
    ) -> Result<SsoConnectionInfo, ClientError> {
        let mut input = serde_json::to_value(change).map_err(|e| self.protocol_error(&e.to_string()))?;
        input["organization"] = json!(org);
        let payload = self.mutate("configureSso", input, &format!("connection {{ {CONNECTION} }}")).await?;
        decode(self, &payload["connection"])
    }

    pub async fn remove_sso(&self, org: &str) -> Result<(), ClientError> {
        self.mutate("removeSso", json!({ "organization": org }), "ok").await.map(drop)
    }

    pub async fn test_sso(&self, org: &str) -> Result<SsoTestResult, ClientError> {
        let selection = "ok issuer authorizationEndpoint tokenEndpoint signingKeys";
        decode(self, &self.mutate("testSso", json!({ "organization": org }), selection).await?)
    }

    pub async fn set_sso_required(&self, org: &str, required: bool) -> Result<(), ClientError> {
        self.mutate("setSsoRequired", json!({ "organization": org, "required": required }), "ok").await.map(drop)
    }

    pub async fn claim_domain(&self, org: &str, domain: &str) -> Result<DomainInfo, ClientError> {
        self.domain_mutation("claimDomain", org, domain).await
    }

    pub async fn verify_domain(&self, org: &str, domain: &str) -> Result<DomainInfo, ClientError> {
        self.domain_mutation("verifyDomain", org, domain).await
    }

    async fn domain_mutation(&self, name: &str, org: &str, domain: &str) -> Result<DomainInfo, ClientError> {
        let input = json!({ "organization": org, "domain": domain });
        let payload = self.mutate(name, input, &format!("domain {{ {DOMAIN} }}")).await?;
        decode(self, &payload["domain"])
    }

    pub async fn remove_domain(&self, org: &str, domain: &str) -> Result<(), ClientError> {
        self.mutate("removeDomain", json!({ "organization": org, "domain": domain }), "ok").await.map(drop)
    }

    /// Maps an identity provider group to a team and/or an org role
    /// (`MEMBER`, `ADMIN`); with neither, removes the mapping.
    pub async fn set_group_mapping(
        &self,
        org: &str,
        group: &str,
        team: Option<&str>,
        org_role: Option<&str>,
    ) -> Result<(), ClientError> {
        let input = json!({ "organization": org, "group": group, "team": team, "orgRole": org_role });
        self.mutate("setGroupMapping", input, "ok").await.map(drop)
    }

    /// Issues the organisation's SCIM token, replacing the previous one.
    pub async fn issue_scim_token(&self, org: &str) -> Result<ScimToken, ClientError> {
        decode(self, &self.mutate("issueScimToken", json!({ "organization": org }), "token baseUrl").await?)
    }

    /// The organisation's teams with their members.
    pub async fn teams(&self, org: &str) -> Result<Vec<TeamInfo>, ClientError> {
        let found = self.org_fields(org, &format!("teams {{ {TEAM} {TEAM_MEMBERS} }}")).await?;
        decode(self, &found["teams"])
    }

    pub async fn create_team(&self, org: &str, slug: &str, name: Option<&str>) -> Result<TeamInfo, ClientError> {
        let input = json!({ "organization": org, "slug": slug, "name": name });
        let payload = self.mutate("createTeam", input, &format!("team {{ {TEAM} }}")).await?;
        decode(self, &payload["team"])
    }

    pub async fn delete_team(&self, org: &str, team: &str) -> Result<(), ClientError> {
        self.mutate("deleteTeam", json!({ "organization": org, "team": team }), "ok").await.map(drop)
    }

    /// Adds (`member`) or removes a user, by id, to or from a team.
    pub async fn set_team_member(&self, org: &str, team: &str, user_id: &str, member: bool) -> Result<(), ClientError> {
        let input = json!({ "organization": org, "team": team, "userId": user_id, "member": member });
        self.mutate("setTeamMember", input, "ok").await.map(drop)
    }

    /// Grants a team `role` (`READER`, `WRITER`, `ADMIN`) on a workspace or
    /// one repo of it; no role takes the binding away.
    pub async fn set_team_role_binding(
        &self,
        org: &str,
        workspace: &str,
        team: &str,
        repo: Option<&str>,
        role: Option<&str>,
    ) -> Result<(), ClientError> {
        let input = json!({ "organization": org, "workspace": workspace, "team": team, "repo": repo, "role": role });
        self.mutate("setTeamRoleBinding", input, "ok").await.map(drop)
    }

    /// The roles teams hold on a workspace; `None` when the workspace does
    /// not exist or the caller has no role on it.
    pub async fn team_role_bindings(
        &self,
        org: &str,
        workspace: &str,
    ) -> Result<Option<Vec<TeamRoleBindingInfo>>, ClientError> {
        let query = "query($org: String!, $slug: String!) { workspace(organization: $org, slug: $slug) { teamRoleBindings { team repo role } } }";
        let found: Option<Value> =
            self.query_field(query, json!({ "org": org, "slug": workspace }), &["workspace"]).await?;
        found.map(|ws| decode(self, &ws["teamRoleBindings"])).transpose()
    }

    fn protocol_error(&self, reason: &str) -> ClientError {
        ClientError::Protocol { endpoint: self.endpoint().to_string(), reason: reason.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_url_carries_the_realm_and_the_loopback_binding() {
        let client = StrataClient::new("https://strata.example/base/").expect("client");
        let challenge = "c".repeat(43);
        let back = LoopbackReturn { redirect: "http://127.0.0.1:4321/callback", challenge: &challenge, state: "s1" };
        let url = client.sso_start_url(&SsoRealm::Email("ada@acme.example".into()), back).expect("url");
        assert_eq!(url.path(), "/base/auth/sso/start");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("email".into(), "ada@acme.example".into()));
        assert_eq!(pairs[1], ("cli_redirect".into(), "http://127.0.0.1:4321/callback".into()));
        assert_eq!(pairs[3], ("cli_state".into(), "s1".into()));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let change = SsoConnectionChange { client_secret: Some("hunter2".into()), ..SsoConnectionChange::default() };
        let scim = ScimToken { token: "scim_secret".into(), base_url: "https://x/scim/v2".into() };
        assert!(!format!("{change:?}{scim:?}").contains("hunter2"));
        assert!(!format!("{scim:?}").contains("scim_secret"));
    }
}
