//! The hub's own objects, as `strata deploy render` prints them: the api
//! servers (gateway, GraphQL, console) with their autoscaler and disruption
//! budget, the provisioner with exactly the RBAC its backend uses, the
//! PriorityClasses every Strata pod runs under, and the Services a
//! Prometheus operator's ServiceMonitor selects.
//!
//! They are rendered by the binary rather than kept as static YAML so that
//! the provisioner's permissions are derived from the kinds and verbs its
//! backend actually calls ([`super::KINDS`]), and the labels, ports and
//! priority classes come from the same constants as the workspace objects:
//! a new kind in the backend cannot ship without its permission.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{KINDS, Kind};
use crate::kubernetes::render::{self, MANAGER, POOL_LABEL, SYSTEM_POOL, container_security, pod_security};

/// The port the api serves on, and the one only the scraper reaches.
pub const API_PORT: u16 = 8080;
pub const METRICS_PORT: u16 = 9464;
/// The label a ServiceMonitor selects.
pub const METRICS_LABEL: &str = "strata.dev/metrics";

/// What an installation chooses; the rest follows from the constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubManifest {
    /// The hub's namespace (`kubernetes_hub_namespace`).
    pub namespace: String,
    /// The Strata image every hub pod runs.
    pub image: String,
    /// The Secret holding the installation's configuration as `STRATA_*`
    /// variables (database URL, master key, …), made by the operator.
    pub config_secret: String,
    /// The public host name of the api, if it gets an Ingress.
    pub host: Option<String>,
    pub ingress_class: String,
    /// The TLS certificate's Secret; `None` when the ingress controller
    /// terminates TLS itself (e.g. an ALB with an ACM certificate).
    pub tls_secret: Option<String>,
    pub api_replicas: Replicas,
    /// The namespace of the Prometheus that scrapes `/metrics`.
    pub monitoring_namespace: String,
}

/// An autoscaled replica range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    pub min: u32,
    pub max: u32,
}

impl HubManifest {
    /// Every object, in the order to apply them.
    pub fn render(&self) -> Vec<Value> {
        let mut objects = vec![self.namespace_object()];
        objects.push(priority_class("strata-hub", 1_000_000, "The Strata hub: api servers and the provisioner."));
        objects.extend(render::priority_classes());
        objects.extend([
            self.service_account("api", false),
            self.service_account("provisioner", true),
            self.provisioner_role(),
            self.provisioner_binding(),
            self.network_policy(),
            self.api_service(),
            self.metrics_service(),
            self.api_deployment(),
            self.api_autoscaler(),
            self.disruption_budget("api", json!({"minAvailable": 1})),
            self.provisioner_deployment(),
            self.disruption_budget("provisioner", json!({"maxUnavailable": 1})),
        ]);
        objects.extend(self.ingress());
        objects
    }

    fn labels(&self, component: &str) -> Value {
        json!({
            "app.kubernetes.io/name": "strata",
            "app.kubernetes.io/part-of": "strata",
            "app.kubernetes.io/managed-by": "strata-deploy",
            "app.kubernetes.io/component": component,
        })
    }

    fn metadata(&self, name: &str, component: &str) -> Value {
        json!({"name": name, "namespace": self.namespace, "labels": self.labels(component)})
    }

    fn selector(component: &str) -> Value {
        json!({"app.kubernetes.io/name": "strata", "app.kubernetes.io/component": component})
    }

    fn namespace_object(&self) -> Value {
        let mut labels: BTreeMap<String, String> = serde_json::from_value(self.labels("hub")).unwrap_or_default();
        for mode in ["enforce", "audit", "warn"] {
            labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".to_owned());
        }
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace, "labels": labels}})
    }

    /// Only the provisioner talks to the Kubernetes API, so only its
    /// account gets a token.
    fn service_account(&self, name: &str, token: bool) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": self.metadata(name, name),
            "automountServiceAccountToken": token,
        })
    }

    /// Cluster-wide, because workspaces are namespaces made at run time;
    /// kinds and verbs are exactly those of the backend.
    fn provisioner_role(&self) -> Value {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "strata-provisioner", "labels": self.labels("provisioner")},
            "rules": rbac_rules(KINDS),
        })
    }

    fn provisioner_binding(&self) -> Value {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "strata-provisioner", "labels": self.labels("provisioner")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "strata-provisioner"},
            "subjects": [{"kind": "ServiceAccount", "name": "provisioner", "namespace": self.namespace}],
        })
    }

    /// Ingress to the api from anywhere (the load balancer), to metrics
    /// from the monitoring namespace only; nothing reaches the provisioner.
    fn network_policy(&self) -> Value {
        let monitoring = json!({"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": self.monitoring_namespace,
        }}});
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.metadata("hub", "hub"),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"ports": [{"protocol": "TCP", "port": API_PORT}]},
                    {"from": [monitoring], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
                ],
            },
        })
    }

    fn api_service(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata("api", "api"),
            "spec": {
                "type": "ClusterIP",
                "selector": Self::selector("api"),
                "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
            },
        })
    }

    /// A Service of its own, so a ServiceMonitor selecting
    /// `strata.dev/metrics: "true"` and port `metrics` scrapes every api
    /// pod without the public Service exposing metrics.
    fn metrics_service(&self) -> Value {
        let mut metadata = self.metadata("api-metrics", "api");
        metadata["labels"][METRICS_LABEL] = json!("true");
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "None",
                "selector": Self::selector("api"),
                "ports": [{"name": "metrics", "protocol": "TCP", "port": METRICS_PORT, "targetPort": "metrics"}],
            },
        })
    }

    fn api_deployment(&self) -> Value {
        let probe = |path: &str, period: u32, failures: u32| json!({"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": failures});
        let container = json!({
            "name": "api",
            "image": self.image,
            "args": ["serve", "--listen", format!("0.0.0.0:{API_PORT}")],
            "ports": [
                {"name": "http", "containerPort": API_PORT, "protocol": "TCP"},
                {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            ],
            "envFrom": [{"secretRef": {"name": self.config_secret}}],
            "env": [
                {"name": "STRATA_PROVISIONER", "value": "off"},
                {"name": "STRATA_METRICS_LISTEN", "value": format!("0.0.0.0:{METRICS_PORT}")},
                {"name": "STRATA_DATA_DIR", "value": "/tmp/strata"},
                {"name": "STRATA_LOG_FORMAT", "value": "json"},
            ],
            // Liveness checks only the process: a database outage must not
            // restart every replica; readiness takes it out of the Service.
            "startupProbe": probe("/healthz", 1, 60),
            "livenessProbe": probe("/healthz", 10, 3),
            "readinessProbe": probe("/readyz", 5, 2),
            "resources": {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"cpu": "2", "memory": "1Gi"},
            },
            "securityContext": container_security(),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        });
        self.deployment("api", self.api_replicas.min, "api", &container)
    }

    fn api_autoscaler(&self) -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": self.metadata("api", "api"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                "minReplicas": self.api_replicas.min,
                "maxReplicas": self.api_replicas.max,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70},
                }}],
                // Scale in slowly: long polls of workers are spread again
                // only as they reconnect.
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [
                    {"type": "Pods", "value": 1, "periodSeconds": 60},
                ]}},
            },
        })
    }

    /// Two replicas share the work through the lease in the control-plane
    /// database: one reconciles, the other takes over within the lease's
    /// lifetime if it stops.
    fn provisioner_deployment(&self) -> Value {
        let container = json!({
            "name": "provisioner",
            "image": self.image,
            "args": ["provisioner", "run", "--backend", "kubernetes"],
            "envFrom": [{"secretRef": {"name": self.config_secret}}],
            "env": [
                {"name": "STRATA_KUBERNETES_IMAGE", "value": self.image},
                {"name": "STRATA_KUBERNETES_HUB_NAMESPACE", "value": self.namespace},
                {"name": "STRATA_DATA_DIR", "value": "/tmp/strata"},
                {"name": "STRATA_LOG_FORMAT", "value": "json"},
            ],
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
            "securityContext": container_security(),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        });
        self.deployment("provisioner", 2, "provisioner", &container)
    }

    fn deployment(&self, name: &str, replicas: u32, account: &str, container: &Value) -> Value {
        let labels = self.labels(name);
        let spread = json!({
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": Self::selector(name)},
        });
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(name, name),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": Self::selector(name)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": account,
                        "automountServiceAccountToken": account == "provisioner",
                        "enableServiceLinks": false,
                        "priorityClassName": "strata-hub",
                        "nodeSelector": {POOL_LABEL: SYSTEM_POOL},
                        "topologySpreadConstraints": [spread],
                        "securityContext": pod_security(),
                        "containers": [container],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                    },
                },
            },
        })
    }

    fn disruption_budget(&self, name: &str, budget: Value) -> Value {
        let mut spec = budget;
        spec["selector"] = json!({"matchLabels": Self::selector(name)});
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": self.metadata(name, name), "spec": spec})
    }

    fn ingress(&self) -> Option<Value> {
        let host = self.host.as_deref()?;
        let backend = json!({"service": {"name": "api", "port": {"name": "http"}}});
        let mut spec = json!({
            "ingressClassName": self.ingress_class,
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}],
        });
        if let Some(secret) = &self.tls_secret {
            spec["tls"] = json!([{"hosts": [host], "secretName": secret}]);
        }
        Some(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": self.metadata("api", "api"), "spec": spec}),
        )
    }
}

/// Objects as one multi-document YAML stream under a comment header.
pub fn to_yaml(header: &str, objects: &[Value]) -> crate::error::Result<String> {
    let mut yaml = String::new();
    for line in header.lines() {
        yaml.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    for object in objects {
        yaml.push_str("---\n");
        let document = serde_yaml_ng::to_string(object)
            .map_err(|error| crate::error::ProvisionerError::Config(format!("cannot write YAML: {error}")))?;
        yaml.push_str(&document);
    }
    Ok(yaml)
}

/// One rule per API group and verb set, listing the resources.
fn rbac_rules(kinds: &[Kind]) -> Vec<Value> {
    let mut rules: BTreeMap<(&str, &[&str]), Vec<&str>> = BTreeMap::new();
    for kind in kinds {
        rules.entry((kind.group, kind.verbs)).or_default().push(kind.plural);
    }
    rules
        .into_iter()
        .map(|((group, verbs), mut resources)| {
            resources.sort_unstable();
            json!({"apiGroups": [group], "resources": resources, "verbs": verbs})
        })
        .collect()
}

/// A PriorityClass of Strata's.
pub(crate) fn priority_class(name: &str, value: i32, description: &str) -> Value {
    json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": MANAGER, "app.kubernetes.io/part-of": "strata"}},
        "value": value,
        "globalDefault": false,
        "description": description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provisioner_may_do_what_its_backend_does_and_nothing_else() {
        let rules = rbac_rules(KINDS);
        let text = serde_json::to_string(&rules).unwrap();
        for forbidden in ["\"*\"", "escalate", "bind", "impersonate", "nodes", "pods/exec", "clusterroles"] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
        let pods = rules.iter().find(|r| r["resources"].as_array().unwrap().contains(&json!("pods"))).unwrap();
        assert_eq!(pods["verbs"], json!(["get", "list", "patch"]), "pods are the Deployments' to make and remove");
        let deployments =
            rules.iter().find(|r| r["resources"].as_array().unwrap().contains(&json!("deployments"))).unwrap();
        assert_eq!(deployments["apiGroups"], json!(["apps"]));
        assert!(deployments["verbs"].as_array().unwrap().contains(&json!("create")), "apply creates");
    }
}
