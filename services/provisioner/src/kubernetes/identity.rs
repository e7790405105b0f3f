//! The object-store credentials of workspace servers on Kubernetes.
//!
//! A workspace server reaches only its own prefix of the bucket,
//! `ws/<namespace>/` ([`object_prefix`]). On EKS that is EKS Pod Identity: one
//! IAM role serves every workspace, and its policy names objects through the
//! `kubernetes-namespace` session tag EKS puts on each session
//! (`infra/terraform/modules/aws-workspace-identity`). The provisioner
//! associates that role with the ServiceAccount `workspace` of each workspace
//! namespace when it applies the workspace, and removes the association when it
//! tears the workspace down: nothing secret is copied into the namespace.
//!
//! The other choice, [`WorkspaceCredentials::SharedKeys`], copies the
//! provisioner's own keys into every workspace's Secret, so each workspace could
//! read every other's objects: for one-tenant clusters and S3-compatible stores
//! without IAM, chosen explicitly (docs/provisioning.md).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use serde_json::{Value, json};
use strata_core::id::WorkspaceId;
use tokio::sync::Mutex;

use crate::error::{ProvisionerError, Result};

/// The ServiceAccount workspace servers run as, the one that gets the role.
pub const SERVICE_ACCOUNT: &str = "workspace";

/// Where a workspace keeps its objects in the installation's bucket: the
/// prefix the workspace role's policy allows to the namespace's sessions.
pub fn object_prefix(namespace: &str) -> String {
    format!("ws/{namespace}")
}

/// The EKS Pod Identity agent on every node (IPv4), where pods of an
/// associated account fetch their credentials: workspace servers need egress to it.
pub fn agent_egress() -> crate::config::EgressRule {
    crate::config::EgressRule { cidr: "169.254.170.23/32".to_owned(), ports: vec![80] }
}

/// How workspace servers get their object-store credentials.
#[derive(Clone)]
pub enum WorkspaceCredentials {
    /// EKS Pod Identity, one association per workspace namespace.
    PodIdentity(PodIdentity),
    /// The provisioner's own object-store settings (keys included) in every
    /// workspace's Secret, as environment variables.
    SharedKeys(BTreeMap<String, String>),
}

impl fmt::Debug for WorkspaceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PodIdentity(identity) => f.debug_tuple("PodIdentity").field(identity).finish(),
            // Names only: the values are keys.
            Self::SharedKeys(env) => f.debug_tuple("SharedKeys").field(&env.keys().collect::<Vec<_>>()).finish(),
        }
    }
}

impl WorkspaceCredentials {
    /// The variables a workspace server's Secret carries for its object store.
    pub fn server_env(&self) -> BTreeMap<String, String> {
        match self {
            Self::PodIdentity(_) => BTreeMap::new(),
            Self::SharedKeys(env) => env.clone(),
        }
    }
}

/// What the provisioner needs to manage EKS Pod Identity associations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentitySettings {
    /// The EKS cluster's name.
    pub cluster: String,
    pub region: String,
    /// The workspace role (the terraform output `workspace_role_arn`).
    pub role_arn: String,
    /// The EKS API: `https://eks.<region>.amazonaws.com` unless a VPC or
    /// FIPS endpoint is named.
    pub endpoint: Option<String>,
}

/// A client of the EKS Pod Identity association API, signing with the
/// provisioner's own AWS credentials (object_store's credential chain and
/// SigV4 signer, as for its S3 requests).
#[derive(Clone)]
pub struct PodIdentity {
    settings: PodIdentitySettings,
    endpoint: String,
    credentials: AwsCredentialProvider,
    http: reqwest::Client,
    /// Namespaces this process has seen associated, so that a resync of an
    /// unchanged workspace makes no EKS call.
    associated: Arc<Mutex<HashSet<String>>>,
}

impl fmt::Debug for PodIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodIdentity").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// One association as the list call returns it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationSummary {
    association_id: String,
}

impl PodIdentity {
    pub fn new(settings: PodIdentitySettings, credentials: AwsCredentialProvider, timeout: Duration) -> Result<Self> {
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://eks.{}.amazonaws.com", settings.region))
            .trim_end_matches('/')
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ProvisionerError::Config(format!("cannot make the EKS API client: {e}")))?;
        Ok(PodIdentity { settings, endpoint, credentials, http, associated: Arc::default() })
    }

    /// A client signing with the provisioner's own AWS identity: the chain the
    /// object store uses for `bucket` (environment keys, or the provisioner pod's
    /// own Pod Identity through `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
    pub fn with_own_credentials(settings: PodIdentitySettings, bucket: &str, timeout: Duration) -> Result<Self> {
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_url(bucket)
            .build()
            .map_err(|e| ProvisionerError::Config(format!("cannot load the provisioner's AWS credentials: {e}")))?;
        Self::new(settings, store.credentials().clone(), timeout)
    }

    /// Makes sure the namespace's ServiceAccount `workspace` has the workspace
    /// role, and only it; creating the association is idempotent (its client
    /// request token is the namespace).
    pub(crate) async fn associate(&self, namespace: &str, workspace: WorkspaceId) -> Result<()> {
        if self.associated.lock().await.contains(namespace) {
            return Ok(());
        }
        self.make_association(namespace, workspace).await?;
        self.associated.lock().await.insert(namespace.to_owned());
        Ok(())
    }

    async fn make_association(&self, namespace: &str, workspace: WorkspaceId) -> Result<()> {
        for found in self.associations(namespace).await? {
            let path = self.association_path(Some(&found.association_id));
            let Some(described) = self.call(reqwest::Method::GET, &path, &[], None).await? else { continue };
            let role = described.pointer("/association/roleArn").and_then(Value::as_str);
            if role == Some(self.settings.role_arn.as_str()) {
                return Ok(());
            }
            // Another role (the installation's role was replaced): take it over.
            let body = json!({"roleArn": self.settings.role_arn, "clientRequestToken": format!("{namespace}-update")});
            self.call(reqwest::Method::POST, &path, &[], Some(body)).await?;
            return Ok(());
        }
        let body = json!({
            "namespace": namespace,
            "serviceAccount": SERVICE_ACCOUNT,
            "roleArn": self.settings.role_arn,
            "clientRequestToken": namespace,
            "tags": {"strata.dev/workspace": workspace.to_string()},
        });
        self.call(reqwest::Method::POST, &self.association_path(None), &[], Some(body)).await?;
        Ok(())
    }

    /// Removes every association of the namespace's ServiceAccount.
    pub(crate) async fn dissociate(&self, namespace: &str) -> Result<()> {
        self.associated.lock().await.remove(namespace);
        for found in self.associations(namespace).await? {
            let path = self.association_path(Some(&found.association_id));
            self.call(reqwest::Method::DELETE, &path, &[], None).await?;
        }
        Ok(())
    }

    async fn associations(&self, namespace: &str) -> Result<Vec<AssociationSummary>> {
        let query = [("namespace", namespace), ("serviceAccount", SERVICE_ACCOUNT)];
        let Some(listed) = self.call(reqwest::Method::GET, &self.association_path(None), &query, None).await? else {
            return Err(ProvisionerError::permanent(
                "PodIdentityClusterMissing",
                format!(
                    "EKS has no cluster `{}` in {}: set kubernetes_eks_cluster to the cluster's name",
                    self.settings.cluster, self.settings.region
                ),
            ));
        };
        let associations = listed.get("associations").cloned().unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(associations).map_err(|e| {
            ProvisionerError::retryable("PodIdentityApiError", format!("unexpected association list from EKS: {e}"))
        })
    }

    fn association_path(&self, id: Option<&str>) -> String {
        let cluster = &self.settings.cluster;
        match id {
            Some(id) => format!("/clusters/{cluster}/pod-identity-associations/{id}"),
            None => format!("/clusters/{cluster}/pod-identity-associations"),
        }
    }

    /// One signed call; `None` when EKS answers 404 (the thing is not there).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Option<Value>> {
        let what = format!("{method} {path}");
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.endpoint))
            .map_err(|e| ProvisionerError::Config(format!("the EKS endpoint {} is not a URL: {e}", self.endpoint)))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let bytes = body.map(|body| body.to_string().into_bytes()).unwrap_or_default();
        let headers = self.signed_headers(&method, &url, &bytes).await?;
        let response = self
            .http
            .request(method, url)
            .headers(headers)
            .body(bytes)
            .send()
            .await
            .map_err(|e| ProvisionerError::retryable("PodIdentityApiUnreachable", format!("{what}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ProvisionerError::retryable("PodIdentityApiUnreachable", format!("{what}: {e}")))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(eks_error(&what, status, &text));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ProvisionerError::retryable("PodIdentityApiError", format!("{what}: not JSON: {e}")))
    }

    /// The headers of a SigV4-signed request for the `eks` service.
    async fn signed_headers(
        &self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        body: &[u8],
    ) -> Result<reqwest::header::HeaderMap> {
        let credential = self.credentials.get_credential().await.map_err(|e| {
            ProvisionerError::retryable("PodIdentityCredentials", format!("no AWS credentials for the EKS API: {e}"))
        })?;
        let mut request = http::Request::builder()
            .method(method.as_str())
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(object_store::client::HttpRequestBody::from(body.to_vec()))
            .map_err(|e| ProvisionerError::Config(format!("cannot build an EKS request: {e}")))?;
        AwsAuthorizer::new(&credential, "eks", &self.settings.region)
            .try_authorize(&mut request, None)
            .map_err(|e| ProvisionerError::retryable("PodIdentityCredentials", format!("cannot sign for EKS: {e}")))?;
        Ok(request.headers().clone())
    }
}

/// An EKS error answer as a condition: what IAM or the request got wrong is
/// named, and nothing is retried that cannot succeed as it is.
fn eks_error(what: &str, status: reqwest::StatusCode, body: &str) -> ProvisionerError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = parsed.get("message").and_then(Value::as_str).unwrap_or(body);
    let text = format!("{what}: EKS answered {status}: {message}");
    match status.as_u16() {
        400 => ProvisionerError::permanent("PodIdentityInvalid", text),
        401 | 403 => ProvisionerError::retryable(
            "PodIdentityForbidden",
            format!(
                "{text}; the provisioner's role needs eks:*PodIdentityAssociation and iam:PassRole on the workspace role"
            ),
        ),
        _ => ProvisionerError::retryable("PodIdentityApiError", text),
    }
}
