//! The provisioner's section of the configuration (docs/configuration.md):
//! whether `strata dev` runs it, the autoscaler, deletion, and what the
//! Kubernetes backend needs besides a cluster.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_core::config::invalid;

use crate::plans::IdleSleep;

/// The provisioner's keys as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProvisionerConfig {
    /// Which provisioner `strata dev` runs for created workspaces: `local`
    /// (child processes) or `off` (they stay PENDING; run `strata
    /// provisioner run` separately).
    pub provisioner: String,
    /// Outstanding datums one autoscaled worker takes care of.
    pub datums_per_worker: u32,
    /// How long fewer workers must have been enough before some are stopped.
    pub scale_down_cooldown_secs: u64,
    /// How long a deleted workspace's data is kept before it is freed.
    pub deletion_grace_secs: u64,
    /// How long a workspace may be idle (no request, no outstanding datum)
    /// before its server stops until the next request: `plan` (each plan's
    /// own: free 15 min, team 60 min, enterprise never), `never`, or whole
    /// seconds for every plan.
    #[serde(deserialize_with = "text_or_number")]
    pub idle_sleep_after: String,
    /// Kubernetes backend: the Strata image workspace servers run and
    /// worker pods copy the binary from.
    pub kubernetes_image: String,
    /// Kubernetes backend: the namespace of the hub (api, provisioner),
    /// the only one allowed to reach workspace servers.
    pub kubernetes_hub_namespace: String,
    /// Kubernetes backend: where workspace servers may connect, as
    /// `CIDR:PORT,PORT` entries separated by `;` (the database, Redis and
    /// the object store), e.g. `10.0.0.0/16:5432,6379;0.0.0.0/0:443`.
    pub kubernetes_egress: String,
    /// Kubernetes backend: low-priority placeholder pods kept so new
    /// workers find room at once (0: none).
    pub kubernetes_placeholder_pods: u32,
    /// Kubernetes backend: the most placeholder pods the queue's forecast
    /// may keep (room for the recent peak of wanted workers); 0 keeps only
    /// `kubernetes_placeholder_pods`.
    pub kubernetes_placeholder_max: u32,
    /// Kubernetes backend: how long the forecast remembers a peak.
    pub kubernetes_placeholder_window_secs: u64,
    /// Kubernetes backend: how workspace servers get object-store
    /// credentials: `pod-identity` (EKS Pod Identity, each namespace limited
    /// to its own prefix) or `shared-keys` (the provisioner's own keys in
    /// every workspace's Secret: any workspace can read all others').
    pub kubernetes_workspace_credentials: String,
    /// Pod Identity: the EKS cluster's name.
    pub kubernetes_eks_cluster: String,
    /// Pod Identity: the cluster's region (default: `AWS_REGION`).
    pub kubernetes_eks_region: String,
    /// Pod Identity: the workspace role's ARN (terraform output `workspace_role_arn`).
    pub kubernetes_workspace_role_arn: String,
    /// Pod Identity: the EKS API endpoint, if not `https://eks.<region>.amazonaws.com`.
    pub kubernetes_eks_endpoint: String,
}

impl Default for ProvisionerConfig {
    fn default() -> Self {
        Self {
            provisioner: "local".to_owned(),
            datums_per_worker: 1,
            scale_down_cooldown_secs: 60,
            deletion_grace_secs: 3600,
            idle_sleep_after: "plan".to_owned(),
            kubernetes_image: format!("ghcr.io/strata-dev/strata:{}", env!("CARGO_PKG_VERSION")),
            kubernetes_hub_namespace: "strata".to_owned(),
            kubernetes_egress: String::new(),
            kubernetes_placeholder_pods: 1,
            kubernetes_placeholder_max: 16,
            kubernetes_placeholder_window_secs: 300,
            kubernetes_workspace_credentials: "pod-identity".to_owned(),
            kubernetes_eks_cluster: String::new(),
            kubernetes_eks_region: String::new(),
            kubernetes_workspace_role_arn: String::new(),
            kubernetes_eks_endpoint: String::new(),
        }
    }
}

/// [`ProvisionerConfig`] validated: how workspaces other than the embedded
/// one are run and scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerSettings {
    /// Run the local provisioner inside `strata dev`.
    pub local: bool,
    pub datums_per_worker: u32,
    pub scale_down_cooldown: Duration,
    pub deletion_grace: Duration,
    pub idle_sleep: IdleSleep,
    pub kubernetes: KubernetesSettings,
}

/// What `strata provisioner run --backend kubernetes` needs besides a
/// cluster (docs/provisioning.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSettings {
    pub image: String,
    pub hub_namespace: String,
    pub egress: Vec<EgressRule>,
    pub placeholder_pods: u32,
    pub placeholder_max: u32,
    pub placeholder_window: Duration,
    pub credentials: CredentialsMode,
}

/// How workspace servers on Kubernetes get object-store credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsMode {
    /// EKS Pod Identity; the settings are checked when the backend starts,
    /// so that `strata dev` does not need them.
    PodIdentity {
        cluster: String,
        region: String,
        role_arn: String,
        endpoint: Option<String>,
    },
    SharedKeys,
}

/// Destinations outside the cluster as a CIDR and TCP ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRule {
    pub cidr: String,
    pub ports: Vec<u16>,
}

impl ProvisionerConfig {
    /// Validates every value, naming the key at fault.
    pub fn resolve(&self) -> strata_core::Result<ProvisionerSettings> {
        let local = match self.provisioner.as_str() {
            "local" => true,
            "off" => false,
            other => return Err(invalid("provisioner", format!("`{other}` is not one of: local, off"))),
        };
        if self.datums_per_worker == 0 {
            return Err(invalid("datums_per_worker", "a worker takes at least 1 datum"));
        }
        Ok(ProvisionerSettings {
            local,
            datums_per_worker: self.datums_per_worker,
            scale_down_cooldown: Duration::from_secs(self.scale_down_cooldown_secs),
            deletion_grace: Duration::from_secs(self.deletion_grace_secs),
            idle_sleep: self.idle_sleep()?,
            kubernetes: KubernetesSettings {
                image: self.kubernetes_image.clone(),
                hub_namespace: self.kubernetes_hub_namespace.clone(),
                egress: parse_egress(&self.kubernetes_egress)?,
                placeholder_pods: self.kubernetes_placeholder_pods,
                placeholder_max: self.kubernetes_placeholder_max,
                placeholder_window: Duration::from_secs(self.kubernetes_placeholder_window_secs),
                credentials: self.credentials_mode()?,
            },
        })
    }

    fn idle_sleep(&self) -> strata_core::Result<IdleSleep> {
        let shortest = strata_hub::SLEEP_AFTER_MIN.as_secs();
        let wrong = |why: String| {
            invalid("idle_sleep_after", format!("{why}; use `plan`, `never` or whole seconds of at least {shortest}"))
        };
        match self.idle_sleep_after.trim() {
            "plan" => Ok(IdleSleep::Plan),
            "never" => Ok(IdleSleep::Never),
            text => match text.parse::<u64>() {
                Ok(secs) if secs >= shortest => Ok(IdleSleep::After(Duration::from_secs(secs))),
                Ok(secs) => Err(wrong(format!(
                    "{secs} s is shorter than the {shortest} s a request's activity takes to be noted"
                ))),
                Err(_) => Err(wrong(format!("`{text}` is not a number of seconds"))),
            },
        }
    }

    fn credentials_mode(&self) -> strata_core::Result<CredentialsMode> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match self.kubernetes_workspace_credentials.as_str() {
            "pod-identity" => Ok(CredentialsMode::PodIdentity {
                cluster: self.kubernetes_eks_cluster.trim().to_owned(),
                region: text(&self.kubernetes_eks_region)
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .unwrap_or_default(),
                role_arn: self.kubernetes_workspace_role_arn.trim().to_owned(),
                endpoint: text(&self.kubernetes_eks_endpoint),
            }),
            "shared-keys" => Ok(CredentialsMode::SharedKeys),
            other => Err(invalid(
                "kubernetes_workspace_credentials",
                format!("`{other}` is not one of: pod-identity, shared-keys"),
            )),
        }
    }
}

/// A setting that is a word or a number (`never` or `900`): variables and
/// TOML give a number for the latter, kept as its text.
fn text_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(u64),
    }
    Ok(match TextOrNumber::deserialize(deserializer)? {
        TextOrNumber::Text(text) => text,
        TextOrNumber::Number(number) => number.to_string(),
    })
}

/// `CIDR:PORT,PORT;CIDR:PORT`.
fn parse_egress(text: &str) -> strata_core::Result<Vec<EgressRule>> {
    text.split(';').map(str::trim).filter(|entry| !entry.is_empty()).map(parse_egress_rule).collect()
}

fn parse_egress_rule(entry: &str) -> strata_core::Result<EgressRule> {
    let wrong = |why: &str| {
        invalid(
            "kubernetes_egress",
            format!(
                "`{entry}` {why}; write CIDR:PORT,PORT entries separated by `;`, e.g. 10.0.0.0/16:5432,6379;0.0.0.0/0:443"
            ),
        )
    };
    let (cidr, ports) = entry.rsplit_once(':').ok_or_else(|| wrong("has no ports"))?;
    let (address, prefix) = cidr.split_once('/').ok_or_else(|| wrong("is not a CIDR"))?;
    let address: std::net::IpAddr = address.parse().map_err(|_| wrong("has no valid address"))?;
    let longest = if address.is_ipv4() { 32 } else { 128 };
    if !prefix.parse::<u8>().is_ok_and(|p| p <= longest) {
        return Err(wrong("has no valid prefix length"));
    }
    let ports = ports
        .split(',')
        .map(|port| port.trim().parse::<u16>().ok().filter(|p| *p > 0))
        .collect::<Option<Vec<u16>>>()
        .ok_or_else(|| wrong("has a port that is not 1-65535"))?;
    Ok(EgressRule { cidr: cidr.to_owned(), ports })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_egress_is_a_list_of_cidrs_with_ports() {
        let rules = parse_egress("10.0.0.0/16:5432,6379; 0.0.0.0/0:443;fd00::/8:443").expect("valid");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0], EgressRule { cidr: "10.0.0.0/16".into(), ports: vec![5432, 6379] });
        assert_eq!(rules[2].cidr, "fd00::/8");
        assert!(parse_egress("").expect("empty").is_empty());
        for bad in ["10.0.0.0/16", "10.0.0.0:443", "10.0.0.0/33:443", "db:443", "10.0.0.0/8:0", "10.0.0.0/8:https"] {
            let error = parse_egress(bad).expect_err(bad).to_string();
            assert!(error.contains("kubernetes_egress") && error.contains("e.g."), "{bad}: {error}");
        }
    }

    #[test]
    fn idle_sleep_is_the_plans_never_or_seconds() {
        let resolved = |text: &str| {
            let config = ProvisionerConfig { idle_sleep_after: text.into(), ..ProvisionerConfig::default() };
            config.resolve().map(|settings| settings.idle_sleep)
        };
        assert_eq!(resolved("plan").ok(), Some(IdleSleep::Plan));
        assert_eq!(resolved(" never ").ok(), Some(IdleSleep::Never));
        assert_eq!(resolved("600").ok(), Some(IdleSleep::After(Duration::from_secs(600))));
        for bad in ["2", "15m", ""] {
            let error = resolved(bad).expect_err(bad).to_string();
            assert!(error.contains("`idle_sleep_after`") && error.contains("`plan`, `never`"), "{bad}: {error}");
        }
    }

    #[test]
    fn invalid_values_are_rejected_with_their_key() {
        let cases: [(&str, ProvisionerConfig); 4] = [
            ("provisioner", ProvisionerConfig { provisioner: "remote".into(), ..ProvisionerConfig::default() }),
            ("datums_per_worker", ProvisionerConfig { datums_per_worker: 0, ..ProvisionerConfig::default() }),
            ("kubernetes_egress", ProvisionerConfig { kubernetes_egress: "db".into(), ..ProvisionerConfig::default() }),
            ("idle_sleep_after", ProvisionerConfig { idle_sleep_after: "1".into(), ..ProvisionerConfig::default() }),
        ];
        for (key, config) in cases {
            let error = config.resolve().expect_err(key);
            assert!(error.is_user_error());
            assert!(error.to_string().contains(&format!("`{key}`")), "{key}: {error}");
        }
    }
}
