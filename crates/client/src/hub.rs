//! The hub's GraphQL API, typed: accounts, organisations, workspaces and
//! API tokens. Expected failures come back as [`ClientError::Refused`]
//! with the server's `userErrors`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{ClientError, StrataClient};

/// One of a mutation's `userErrors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: Option<String>,
    pub message: String,
    pub code: String,
}

/// The person behind the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub email_verified: bool,
}

/// An organisation with the caller's role in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub viewer_role: String,
}

/// A member of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub joined_at: String,
}

/// An open invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires_at: String,
}

/// A workspace and its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    pub id: String,
    pub slug: String,
    pub organization_slug: String,
    pub plan: String,
    pub region: String,
    pub state: String,
    pub status_message: Option<String>,
    pub endpoint: Option<String>,
    pub generation: i64,
    pub observed_generation: i64,
    #[serde(default)]
    pub conditions: Vec<ConditionInfo>,
    pub viewer_role: String,
    pub created_at: String,
}

/// One status condition of a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

/// The autoscaler's last decision for one pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineWorkersInfo {
    pub pipeline: String,
    pub desired: u32,
    pub current: u32,
    pub outstanding: u64,
    pub max_workers: u32,
    pub reason: String,
    pub message: Option<String>,
    pub updated_at: String,
}

/// An API token as listed (no secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenInfo {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub workspace_id: Option<String>,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

/// A token just made: its secret is here and nowhere else.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApiToken {
    pub token: String,
    #[serde(rename = "apiToken")]
    pub api_token: ApiTokenInfo,
}

/// Tokens a CLI login receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user: Viewer,
}

const VIEWER: &str = "id email displayName emailVerified";
const ORG: &str = "id slug name viewerRole";
const MEMBER: &str = "userId email displayName role joinedAt";
const WORKSPACE: &str = "id slug organizationSlug plan region state statusMessage endpoint generation observedGeneration conditions { type status reason message lastTransitionTime } viewerRole createdAt";
const TOKEN: &str = "id name prefix role workspaceId expiresAt lastUsedAt revokedAt createdAt";

fn input_type(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + "Input").unwrap_or_default()
}

impl StrataClient {
    /// Runs `mutation { name(input) { selection userErrors } }`; user errors
    /// become [`ClientError::Refused`].
    pub async fn mutate(&self, name: &str, input: Value, selection: &str) -> Result<Value, ClientError> {
        let query = format!(
            "mutation($input: {}!) {{ {name}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}",
            input_type(name)
        );
        let mut data: Value = self.graphql(&query, json!({ "input": input })).await?;
        let mut payload = data.get_mut(name).map(Value::take).unwrap_or(Value::Null);
        let errors: Vec<FieldError> =
            serde_json::from_value(payload.get_mut("userErrors").map(Value::take).unwrap_or(Value::Null))
                .unwrap_or_default();
        if errors.is_empty() { Ok(payload) } else { Err(ClientError::Refused(errors)) }
    }

    pub(crate) async fn query_field<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
        path: &[&str],
    ) -> Result<T, ClientError> {
        let mut data: Value = self.graphql(query, variables).await?;
        for key in path {
            data = data.get_mut(*key).map(Value::take).unwrap_or(Value::Null);
        }
        serde_json::from_value(data)
            .map_err(|e| ClientError::Protocol { endpoint: self.endpoint().to_string(), reason: e.to_string() })
    }

    pub async fn sign_up(&self, email: &str, password: &str, display_name: Option<&str>) -> Result<(), ClientError> {
        // The answer is the same whether or not the address has an account
        // (its owner gets a mail instead), so there is nothing to return.
        let input = json!({ "email": email, "password": password, "displayName": display_name });
        self.mutate("signUp", input, "ok").await.map(drop)
    }

    pub async fn verify_email(&self, token: &str) -> Result<Viewer, ClientError> {
        let payload = self.mutate("verifyEmail", json!({ "token": token }), &format!("user {{ {VIEWER} }}")).await?;
        decode(self, &payload["user"])
    }

    /// Logs in as a CLI client: the refresh token comes in the answer.
    pub async fn log_in(&self, email: &str, password: &str) -> Result<Session, ClientError> {
        let input = json!({ "email": email, "password": password, "client": "CLI" });
        let payload =
            self.mutate("logIn", input, &format!("user {{ {VIEWER} }} accessToken {{ token }} refreshToken")).await?;
        Ok(Session {
            access_token: decode(self, &payload["accessToken"]["token"])?,
            refresh_token: decode(self, &payload["refreshToken"])?,
            user: decode(self, &payload["user"])?,
        })
    }

    /// Trades a refresh token for a new access token and refresh token.
    pub async fn refresh_session(&self, refresh_token: &str) -> Result<(String, String), ClientError> {
        let payload = self
            .mutate("refreshSession", json!({ "refreshToken": refresh_token }), "accessToken { token } refreshToken")
            .await?;
        Ok((decode(self, &payload["accessToken"]["token"])?, decode(self, &payload["refreshToken"])?))
    }

    pub async fn log_out(&self) -> Result<(), ClientError> {
        let query = "mutation { logOut { ok userErrors { field message code } } }";
        let data: Value = self.graphql(query, json!({})).await?;
        let errors: Vec<FieldError> = serde_json::from_value(data["logOut"]["userErrors"].clone()).unwrap_or_default();
        if errors.is_empty() { Ok(()) } else { Err(ClientError::Refused(errors)) }
    }

    pub async fn viewer(&self) -> Result<Viewer, ClientError> {
        self.query_field(&format!("{{ viewer {{ {VIEWER} }} }}"), json!({}), &["viewer"]).await
    }

    pub async fn organizations(&self) -> Result<Vec<Organization>, ClientError> {
        let query = format!("{{ viewer {{ organizations(first: 100) {{ edges {{ node {{ {ORG} }} }} }} }} }}");
        let edges: Vec<Value> = self.query_field(&query, json!({}), &["viewer", "organizations", "edges"]).await?;
        edges.iter().map(|edge| decode(self, &edge["node"])).collect()
    }

    pub async fn create_organization(&self, slug: &str, name: Option<&str>) -> Result<Organization, ClientError> {
        let payload = self
            .mutate("createOrganization", json!({ "slug": slug, "name": name }), &format!("organization {{ {ORG} }}"))
            .await?;
        decode(self, &payload["organization"])
    }

    pub async fn members(&self, org: &str) -> Result<Vec<Member>, ClientError> {
        self.org_list(org, "members", MEMBER).await
    }

    /// The first 100 nodes of the connection `field` of organisation `org`.
    async fn org_list<T: DeserializeOwned>(
        &self,
        org: &str,
        field: &str,
        selection: &str,
    ) -> Result<Vec<T>, ClientError> {
        let query = format!(
            "query($org: String!) {{ organization(slug: $org) {{ {field}(first: 100) {{ edges {{ node {{ {selection} }} }} }} }} }}"
        );
        let org_value: Value = self.query_field(&query, json!({ "org": org }), &["organization"]).await?;
        if org_value.is_null() {
            return Err(not_found_org(org));
        }
        let edges = org_value[field]["edges"].as_array().cloned().unwrap_or_default();
        edges.iter().map(|edge| decode(self, &edge["node"])).collect()
    }

    pub async fn invite_member(&self, org: &str, email: &str, role: &str) -> Result<Invitation, ClientError> {
        let input = json!({ "organization": org, "email": email, "role": role.to_uppercase() });
        let payload = self.mutate("inviteMember", input, "invitation { id email role expiresAt }").await?;
        decode(self, &payload["invitation"])
    }

    pub async fn accept_invitation(&self, token: &str) -> Result<Organization, ClientError> {
        let payload =
            self.mutate("acceptInvitation", json!({ "token": token }), &format!("organization {{ {ORG} }}")).await?;
        decode(self, &payload["organization"])
    }

    pub async fn workspaces(&self, org: &str) -> Result<Vec<WorkspaceInfo>, ClientError> {
        self.org_list(org, "workspaces", WORKSPACE).await
    }

    /// The workspace, or `None` when it does not exist (or is not the caller's).
    pub async fn workspace_info(&self, org: &str, slug: &str) -> Result<Option<WorkspaceInfo>, ClientError> {
        let query = format!(
            "query($org: String!, $slug: String!) {{ workspace(organization: $org, slug: $slug) {{ {WORKSPACE} }} }}"
        );
        self.query_field(&query, json!({ "org": org, "slug": slug }), &["workspace"]).await
    }

    /// The autoscaler's view of a workspace's pipelines.
    pub async fn workspace_workers(&self, org: &str, slug: &str) -> Result<Vec<PipelineWorkersInfo>, ClientError> {
        let query = "query($org: String!, $slug: String!) { workspace(organization: $org, slug: $slug) { workers { pipeline desired current outstanding maxWorkers reason message updatedAt } } }";
        let found: Option<Value> = self.query_field(query, json!({ "org": org, "slug": slug }), &["workspace"]).await?;
        match found {
            Some(workspace) => decode(self, &workspace["workers"]),
            None => Ok(Vec::new()),
        }
    }

    pub async fn create_workspace(
        &self,
        org: &str,
        slug: &str,
        plan: Option<&str>,
        region: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<WorkspaceInfo, ClientError> {
        let input = json!({ "organization": org, "slug": slug, "plan": plan, "region": region, "idempotencyKey": idempotency_key });
        let payload = self.mutate("createWorkspace", input, &format!("workspace {{ {WORKSPACE} }}")).await?;
        decode(self, &payload["workspace"])
    }

    pub async fn set_workspace_plan(&self, org: &str, slug: &str, plan: &str) -> Result<WorkspaceInfo, ClientError> {
        let input = json!({ "organization": org, "slug": slug, "plan": plan });
        let payload = self.mutate("setWorkspacePlan", input, &format!("workspace {{ {WORKSPACE} }}")).await?;
        decode(self, &payload["workspace"])
    }

    pub async fn delete_workspace(&self, org: &str, slug: &str, confirm: &str) -> Result<WorkspaceInfo, ClientError> {
        let input = json!({ "organization": org, "slug": slug, "confirm": confirm });
        let payload = self.mutate("deleteWorkspace", input, &format!("workspace {{ {WORKSPACE} }}")).await?;
        decode(self, &payload["workspace"])
    }

    /// Deletes organisation `org` (`confirm` repeats its slug); returns its id.
    pub async fn delete_organization(&self, org: &str, confirm: &str) -> Result<String, ClientError> {
        let input = json!({ "organization": org, "confirm": confirm });
        let payload = self.mutate("deleteOrganization", input, "deletedOrganizationId").await?;
        decode(self, &payload["deletedOrganizationId"])
    }

    pub async fn create_api_token(
        &self,
        org: &str,
        workspace: Option<&str>,
        name: &str,
        role: &str,
        expires_in_days: Option<u32>,
    ) -> Result<NewApiToken, ClientError> {
        let input = json!({ "organization": org, "workspace": workspace, "name": name, "role": role.to_uppercase(), "expiresInDays": expires_in_days });
        let payload = self.mutate("createApiToken", input, &format!("token apiToken {{ {TOKEN} }}")).await?;
        decode(self, &payload)
    }

    pub async fn api_tokens(&self, org: &str) -> Result<Vec<ApiTokenInfo>, ClientError> {
        self.org_list(org, "apiTokens", TOKEN).await
    }

    pub async fn revoke_api_token(&self, id: &str) -> Result<ApiTokenInfo, ClientError> {
        let payload = self.mutate("revokeApiToken", json!({ "id": id }), &format!("apiToken {{ {TOKEN} }}")).await?;
        decode(self, &payload["apiToken"])
    }
}

pub(crate) fn decode<T: DeserializeOwned>(client: &StrataClient, value: &Value) -> Result<T, ClientError> {
    T::deserialize(value)
        .map_err(|e| ClientError::Protocol { endpoint: client.endpoint().to_string(), reason: e.to_string() })
}

pub(crate) fn not_found_org(org: &str) -> ClientError {
    ClientError::Refused(vec![FieldError {
        field: Some("organization".to_owned()),
        message: format!("no organisation `{org}`, or you are not a member (see `strata org list`)"),
        code: "NOT_FOUND".to_owned(),
    }])
}
