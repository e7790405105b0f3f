//! The Kubernetes objects of a workspace, as pure functions of what the hub
//! wants and the provisioner's configuration. Nothing here talks to a
//! cluster, so the same objects are applied, tested against the official
//! schemas, and printed into docs/provisioning.md.
//!
//! Every object carries the owner labels (managed-by, part-of, workspace),
//! and pods meet the Pod Security `restricted` profile: non-root, no
//! privilege escalation, every capability dropped, RuntimeDefault seccomp,
//! read-only root filesystems with emptyDir scratch space.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_api_types::pps::{TaskSecrets, WorkerPod};
use strata_core::id::WorkspaceId;
use strata_hub::{DesiredWorkspace, WorkspaceState};
use strata_sandbox::{DEFAULT_CONTAINER_USER, pod};

use crate::plans::PlanQuota;

/// The field manager of every apply, and the `managed-by` label value.
pub const MANAGER: &str = "strata-provisioner";
/// The annotation holding the hash of what was applied, so a re-reconcile
/// that would change nothing sends nothing.
pub const APPLIED_HASH: &str = "strata.dev/applied-hash";
pub const WORKSPACE_LABEL: &str = "strata.dev/workspace";
pub const COMPONENT_LABEL: &str = "strata.dev/component";
pub const PIPELINE_LABEL: &str = "strata.dev/pipeline";
/// The account workspace servers run as (the one EKS Pod Identity gives the
/// workspace role).
pub const SERVER_ACCOUNT: &str = super::identity::SERVICE_ACCOUNT;
/// The account worker pods run as: no cloud identity.
pub const WORKER_ACCOUNT: &str = "worker";
/// The Secret key of the service secret the workers present.
pub const SERVICE_SECRET_KEY: &str = "service-secret";
/// The key of a worker Secret that holds its pipeline's credential.
pub const WORKER_TOKEN_KEY: &str = "token";
pub const CONFIG_SECRET: &str = "workspace-config";
/// A pod-template annotation naming the service secret the pods were
/// started with (a digest), so a new secret (rotation) rolls the server
/// and the workers, which read it only when they start.
pub const SECRET_DIGEST: &str = "strata.dev/service-secret-digest";
pub const SERVER_PORT: u16 = 8080;
/// The user id of every Strata container (the distroless `nonroot` user).
const NONROOT: u32 = 65532;
/// The node label (and taint key) naming a node pool; infra/ sets the same.
pub const POOL_LABEL: &str = "strata.dev/pool";
/// The pool of CPU worker nodes, and of GPU ones.
pub const WORKERS_POOL: &str = "workers-cpu";
pub const GPU_POOL: &str = "workers-gpu";
/// The pool of the hub and the workspace servers, which never drains.
pub const SYSTEM_POOL: &str = "system";
/// A pod-template annotation that changes when the secrets the pods
/// reference are written, so the pods restart with the new values.
pub const SECRETS_VERSION: &str = "strata.dev/secrets-version";

/// What the objects depend on besides the workspace itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The Strata image: the workspace server, and the binary worker pods
    /// copy into the user's image.
    pub image: String,
    /// The namespace of the hub (api, gateway, provisioner), the only one
    /// whose pods may reach workspace servers.
    pub hub_namespace: String,
    /// Where workspace servers may connect outside the cluster: the
    /// database, Redis and the object store.
    pub egress: Vec<Egress>,
    /// Placeholder pods kept in the hub namespace so that a new job's first
    /// workers find a node at once (0 turns them off).
    pub placeholder_pods: u32,
    /// Where workspace servers export their spans: the provisioner's own
    /// [`TELEMETRY_VARS`], passed on (worker pods get none: tenant code
    /// shares their network, which reaches only the workspace server).
    pub telemetry_env: BTreeMap<String, String>,
}

/// The OpenTelemetry variables passed on to workspace servers. Not
/// `OTEL_EXPORTER_OTLP_HEADERS`: it may carry the collector's credentials.
pub const TELEMETRY_VARS: [&str; 6] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
];

impl Cluster {
    /// [`TELEMETRY_VARS`] as set in this process's environment.
    pub fn telemetry_from_env() -> BTreeMap<String, String> {
        TELEMETRY_VARS
            .iter()
            .filter_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()).map(|value| ((*var).to_owned(), value)))
            .collect()
    }
}

/// Destinations as a CIDR and TCP ports (the `kubernetes_egress` setting).
pub use crate::config::EgressRule as Egress;

/// CPU in millicores and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub cpu_millis: u32,
    pub memory_mib: u32,
}

impl Size {
    fn cpu(self) -> String {
        format!("{}m", self.cpu_millis)
    }

    fn memory(self) -> String {
        format!("{}Mi", self.memory_mib)
    }
}

/// What the workspace server asks for, and may burst to.
pub const SERVER_REQUEST: Size = Size { cpu_millis: 250, memory_mib: 512 };
pub const SERVER_LIMIT: Size = Size { cpu_millis: 1000, memory_mib: 1024 };
/// The init container that copies the binary.
const INSTALL_SIZE: Size = Size { cpu_millis: 100, memory_mib: 64 };
/// The Strata container of a worker pod; the user container gets the rest of
/// the plan's worker size.
pub const WORKER_SIDECAR: Size = Size { cpu_millis: 100, memory_mib: 128 };

/// The namespace of a workspace.
pub fn namespace_of(id: WorkspaceId) -> String {
    format!("ws-{id}")
}

/// Where the gateway and the provisioner reach the workspace server.
pub fn endpoint_of(id: WorkspaceId) -> String {
    format!("http://server.{}.svc:{SERVER_PORT}", namespace_of(id))
}

/// Labels every object of the workspace carries.
fn owner_labels(id: WorkspaceId) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_owned(), MANAGER.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), "strata".to_owned()),
        (WORKSPACE_LABEL.to_owned(), id.to_string()),
    ])
}

fn labels_with(id: WorkspaceId, extra: &[(&str, &str)]) -> Value {
    let mut labels = owner_labels(id);
    labels.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    json!(labels)
}

fn metadata(name: &str, namespace: &str, labels: &Value) -> Value {
    json!({"name": name, "namespace": namespace, "labels": labels})
}

/// The selector labels of the server's pods, and of each role.
fn role(component: &str) -> Value {
    json!({ COMPONENT_LABEL: component })
}

/// Everything one workspace runs besides its workers, in apply order:
/// the namespace first, the server Deployment last.
#[derive(Debug)]
pub struct WorkspaceObjects<'a> {
    pub cluster: &'a Cluster,
    pub workspace: &'a DesiredWorkspace,
    pub quota: PlanQuota,
    /// The workspace server's configuration (JSON), stored in its Secret.
    pub server_config: String,
    pub service_secret: &'a str,
    /// Object-store credentials and such, as environment variables of the
    /// server, stored in its Secret.
    pub server_env: &'a BTreeMap<String, String>,
}

impl WorkspaceObjects<'_> {
    pub fn render(&self) -> Vec<Value> {
        let mut objects = vec![self.namespace(), self.quota(), self.limits()];
        objects.extend(self.network_policies());
        objects.extend(self.service_accounts());
        objects.extend([
            self.secret(),
            self.server_service(),
            self.worker_disruption_budget(),
            self.server_deployment(),
        ]);
        objects
    }

    fn ns(&self) -> String {
        namespace_of(self.workspace.id)
    }

    fn namespace(&self) -> Value {
        let id = self.workspace.id;
        let mut labels = owner_labels(id);
        labels.extend([
            ("strata.dev/org".to_owned(), self.workspace.org_slug.clone()),
            ("strata.dev/workspace-slug".to_owned(), self.workspace.slug.clone()),
            ("strata.dev/plan".to_owned(), self.workspace.plan.name.clone()),
        ]);
        for mode in ["enforce", "audit", "warn"] {
            labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".to_owned());
            labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), "latest".to_owned());
        }
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.ns(), "labels": labels},
        })
    }

    /// The plan as hard limits: workers at full size plus the server (and
    /// one surge pod of it during a rollout); no load balancers or node
    /// ports, so nothing of the workspace is exposed outside the cluster.
    fn quota(&self) -> Value {
        let q = self.quota;
        let workers = u64::from(q.max_workers);
        let cpu = |server: Size| workers * u64::from(q.worker_cpu_millis) + 2 * u64::from(server.cpu_millis);
        let memory = |server: Size| workers * u64::from(q.worker_memory_mib) + 2 * u64::from(server.memory_mib);
        json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": metadata("workspace-quota", &self.ns(), &labels_with(self.workspace.id, &[])),
            "spec": {"hard": {
                "pods": (workers + 2).to_string(),
                "requests.cpu": format!("{}m", cpu(SERVER_REQUEST)),
                "limits.cpu": format!("{}m", cpu(SERVER_LIMIT)),
                "requests.memory": format!("{}Mi", memory(SERVER_REQUEST)),
                "limits.memory": format!("{}Mi", memory(SERVER_LIMIT)),
                "requests.storage": format!("{}Gi", q.storage_gib),
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }},
        })
    }

    /// Containers that say nothing get a worker's size; none may be bigger
    /// than a worker or the server.
    fn limits(&self) -> Value {
        let worker = Size { cpu_millis: self.quota.worker_cpu_millis, memory_mib: self.quota.worker_memory_mib };
        let max = Size {
            cpu_millis: worker.cpu_millis.max(SERVER_LIMIT.cpu_millis),
            memory_mib: worker.memory_mib.max(SERVER_LIMIT.memory_mib),
        };
        json!({
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": metadata("workspace-limits", &self.ns(), &labels_with(self.workspace.id, &[])),
            "spec": {"limits": [{
                "type": "Container",
                "default": {"cpu": worker.cpu(), "memory": worker.memory()},
                "defaultRequest": {"cpu": worker.cpu(), "memory": worker.memory()},
                "max": {"cpu": max.cpu(), "memory": max.memory()},
            }]},
        })
    }

    /// Default deny both ways, then exactly the paths the workspace needs.
    fn network_policies(&self) -> Vec<Value> {
        let ns = self.ns();
        let policy = |name: &str, spec: Value| {
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": metadata(name, &ns, &labels_with(self.workspace.id, &[])),
                "spec": spec,
            })
        };
        let server_port = json!([{"protocol": "TCP", "port": SERVER_PORT}]);
        let hub_pods = json!({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.cluster.hub_namespace}},
            "podSelector": {"matchExpressions": [{
                "key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "provisioner"],
            }]},
        });
        let egress: Vec<Value> = self
            .cluster
            .egress
            .iter()
            .map(|rule| {
                let ports: Vec<Value> = rule.ports.iter().map(|p| json!({"protocol": "TCP", "port": p})).collect();
                json!({"to": [{"ipBlock": {"cidr": rule.cidr}}], "ports": ports})
            })
            .collect();
        vec![
            policy("default-deny", json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})),
            policy(
                "allow-dns",
                json!({
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{
                        "to": [{
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }],
                }),
            ),
            policy(
                "allow-server-ingress",
                json!({
                    "podSelector": {"matchLabels": role("server")},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": [hub_pods], "ports": server_port},
                        {"from": [{"podSelector": {"matchLabels": role("worker")}}], "ports": server_port},
                    ],
                }),
            ),
            policy(
                "allow-worker-egress",
                json!({
                    "podSelector": {"matchLabels": role("worker")},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"podSelector": {"matchLabels": role("server")}}], "ports": server_port}],
                }),
            ),
            policy(
                "allow-server-egress",
                json!({"podSelector": {"matchLabels": role("server")}, "policyTypes": ["Egress"], "egress": egress}),
            ),
        ]
    }

    /// The server's and the workers' accounts. No API token is mounted, since
    /// nothing in a workspace talks to Kubernetes; only the server's account gets
    /// the object-store role ([`super::identity`]), so tenant code in worker pods
    /// never holds object-store credentials.
    fn service_accounts(&self) -> [Value; 2] {
        [SERVER_ACCOUNT, WORKER_ACCOUNT].map(|name| {
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": metadata(name, &self.ns(), &labels_with(self.workspace.id, &[])),
                "automountServiceAccountToken": false,
            })
        })
    }

    fn secret(&self) -> Value {
        use base64::Engine;
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let mut data: BTreeMap<String, String> = self.server_env.iter().map(|(k, v)| (k.clone(), encode(v))).collect();
        data.insert("workspace.json".to_owned(), encode(&self.server_config));
        data.insert(SERVICE_SECRET_KEY.to_owned(), encode(self.service_secret));
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(CONFIG_SECRET, &self.ns(), &labels_with(self.workspace.id, &[])),
            "type": "Opaque",
            "immutable": false,
            "data": data,
        })
    }

    fn server_service(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata("server", &self.ns(), &labels_with(self.workspace.id, &[(COMPONENT_LABEL, "server")])),
            "spec": {
                "type": "ClusterIP",
                "selector": role("server"),
                "ports": [{"name": "http", "protocol": "TCP", "port": SERVER_PORT, "targetPort": "http"}],
            },
        })
    }

    /// A node drain evicts workers one at a time: each evicted worker hands
    /// its datum back, so this bounds the work redone. The server has no
    /// budget: with one replica any budget would block drains for good.
    fn worker_disruption_budget(&self) -> Value {
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata("workers", &self.ns(), &labels_with(self.workspace.id, &[])),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": role("worker")}},
        })
    }

    fn server_deployment(&self) -> Value {
        let server_env = |telemetry: &BTreeMap<String, String>| {
            let mut env = vec![json!({"name": "RUST_LOG", "value": "info"})];
            env.extend(telemetry.iter().map(|(name, value)| json!({"name": name, "value": value})));
            Value::Array(env)
        };
        let id = self.workspace.id;
        let labels = labels_with(id, &[(COMPONENT_LABEL, "server")]);
        let probe = |path: &str, period: u32| json!({"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 2});
        let container = json!({
            "name": "server",
            "image": self.cluster.image,
            "args": ["__workspace-server", "--config-file", "/etc/strata/workspace.json"],
            "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
            "envFrom": [{"secretRef": {"name": CONFIG_SECRET}}],
            "env": server_env(&self.cluster.telemetry_env),
            "readinessProbe": probe("/healthz", 2),
            "livenessProbe": probe("/healthz", 10),
            "startupProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 60},
            "resources": resources(SERVER_REQUEST, SERVER_LIMIT),
            "securityContext": container_security(),
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/strata", "readOnly": true},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        });
        let volumes = json!([
            {"name": "config", "secret": {"secretName": CONFIG_SECRET, "items": [{"key": "workspace.json", "path": "workspace.json"}]}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ]);
        let mut spec = pod_spec(SERVER_PRIORITY, Some(SERVER_ACCOUNT), &[container], None, &volumes);
        // Servers live with the hub, off the worker pools that drain to zero.
        spec["nodeSelector"] = json!({POOL_LABEL: SYSTEM_POOL});
        // A sleeping workspace keeps its namespace and Deployment at zero
        // replicas, so waking it is one scale-up, not a rebuild.
        let replicas = u32::from(self.workspace.state != WorkspaceState::Sleeping);
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata("server", &self.ns(), &labels),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": role("server")},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {SECRET_DIGEST: secret_digest(self.service_secret)}},
                    "spec": spec,
                },
            },
        })
    }
}

/// One pipeline's workers: pods of two containers, the Strata worker and the
/// pipeline's image with the sandbox helper as its entrypoint, which an init
/// container copies from the Strata image (see [`strata_sandbox::pod`] and
/// docs/provisioning.md, "Worker pods").
#[derive(Debug)]
pub struct WorkerDeployment<'a> {
    pub cluster: &'a Cluster,
    pub workspace_id: WorkspaceId,
    pub workspace_slug: &'a str,
    pub quota: PlanQuota,
    pub pipeline: &'a str,
    /// The user container's image, user and resources.
    pub pod: &'a WorkerPod,
    /// The secret values the pods reference (empty when they use none).
    pub secrets: &'a TaskSecrets,
    pub replicas: u32,
    /// The workers' credential, good for this pipeline's tasks only
    /// ([`strata_core::workspace_credentials`]); never the service secret.
    pub credential: &'a str,
    /// [`secret_digest`] of the service secret the workers present.
    pub secret_digest: &'a str,
}

impl WorkerDeployment<'_> {
    pub fn name(&self) -> String {
        worker_deployment_name(self.pipeline)
    }

    fn labels(&self) -> Value {
        labels_with(self.workspace_id, &[(COMPONENT_LABEL, "worker"), (PIPELINE_LABEL, &dns_name(self.pipeline))])
    }

    fn secret_object(&self, name: &str, kind: &str, data: BTreeMap<String, &str>) -> Value {
        use base64::Engine;
        let encoded: BTreeMap<String, String> = data
            .into_iter()
            .map(|(key, value)| (key, base64::engine::general_purpose::STANDARD.encode(value)))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(name, &namespace_of(self.workspace_id), &self.labels()),
            "type": kind,
            "data": encoded,
        })
    }

    /// The Secret the workers read their pipeline's credential from (named
    /// like the Deployment), so the credential never stands in the
    /// Deployment itself; the service secret's digest on the pod template
    /// rolls the pods when it changes.
    pub fn credential_secret(&self) -> Value {
        self.secret_object(&self.name(), "Opaque", BTreeMap::from([(WORKER_TOKEN_KEY.to_owned(), self.credential)]))
    }

    /// The Secrets of `transform.secrets` (variables and files of the user
    /// container) and of `image_pull_secrets` (for the kubelet's pull), each
    /// only when the pipeline has some; with their names, for deletion.
    pub fn pipeline_secrets(&self) -> Vec<Value> {
        let mut objects = Vec::new();
        let mut data: BTreeMap<String, &str> = BTreeMap::new();
        for (var, value) in &self.secrets.env {
            data.insert(env_key(var), value.expose());
        }
        for (path, value) in &self.secrets.files {
            data.insert(file_key(path), value.expose());
        }
        if !data.is_empty() {
            objects.push(self.secret_object(&self.values_secret(), "Opaque", data));
        }
        if let Some(auth) = &self.secrets.pull_auth {
            let data = BTreeMap::from([(".dockerconfigjson".to_owned(), auth.expose())]);
            objects.push(self.secret_object(&self.pull_secret(), "kubernetes.io/dockerconfigjson", data));
        }
        objects
    }

    /// The names of every Secret this pipeline's workers may have.
    pub fn secret_names(&self) -> [String; 3] {
        [self.name(), self.values_secret(), self.pull_secret()]
    }

    fn values_secret(&self) -> String {
        format!("{}-secrets", self.name())
    }

    fn pull_secret(&self) -> String {
        format!("{}-pull", self.name())
    }

    pub fn selector(&self) -> String {
        format!("{COMPONENT_LABEL}=worker,{PIPELINE_LABEL}={}", dns_name(self.pipeline))
    }

    pub fn render(&self) -> Value {
        let pipeline = dns_name(self.pipeline);
        let labels = self.labels();
        let mut annotations = json!({SECRET_DIGEST: self.secret_digest});
        if let Some(version) = &self.pod.secrets_version {
            annotations[SECRETS_VERSION] = json!(version);
        }
        let mut spec = pod_spec(
            WORKER_PRIORITY,
            Some(WORKER_ACCOUNT),
            &[self.worker_container(), self.user_container()],
            Some(self.install()),
            &self.volumes(),
        );
        self.schedule(&mut spec);
        if self.secrets.pull_auth.is_some() {
            spec["imagePullSecrets"] = json!([{"name": self.pull_secret()}]);
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": self.name(),
                "namespace": namespace_of(self.workspace_id),
                "labels": labels,
                "annotations": {"strata.dev/pipeline": self.pipeline},
            },
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": {COMPONENT_LABEL: "worker", PIPELINE_LABEL: pipeline}},
                // Within the quota during a rollout: no surge pod.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
                "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec},
            },
        })
    }

    /// Copies the `strata` binary (static: it runs in any image) for the
    /// user container's entrypoint.
    fn install(&self) -> Value {
        json!({
            "name": "install-strata",
            "image": self.cluster.image,
            "args": ["__install", format!("{}/strata", pod::HELPER_DIR)],
            "resources": resources(INSTALL_SIZE, INSTALL_SIZE),
            "securityContext": container_security(),
            "volumeMounts": [{"name": "strata-bin", "mountPath": pod::HELPER_DIR}],
        })
    }

    /// The Strata worker: tasks, inputs and outputs; the pipeline's credential.
    fn worker_container(&self) -> Value {
        json!({
            "name": "worker",
            "image": self.cluster.image,
            "args": [
                "worker", "--endpoint", format!("http://server:{SERVER_PORT}"), "--workspace", self.workspace_slug,
                "--pipeline", self.pipeline, "--id", "$(POD_NAME)", "--runner", "pod", "--pod-image", self.pod.image,
                "--helper-socket", pod::SOCKET, "--scratch", pod::WORK_DIR,
            ],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "STRATA_TOKEN", "valueFrom": {"secretKeyRef": {"name": self.name(), "key": WORKER_TOKEN_KEY}}},
            ],
            "resources": resources(WORKER_SIDECAR, WORKER_SIDECAR),
            "securityContext": container_security(),
            "volumeMounts": [
                {"name": "work", "mountPath": pod::WORK_DIR},
                {"name": "run", "mountPath": pod::RUN_DIR},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        })
    }

    /// The pipeline's image, as its user, with the sandbox helper as its
    /// entrypoint; `/pfs` its own, the datums' files on the shared volume.
    fn user_container(&self) -> Value {
        let user = self.pod.user.unwrap_or(DEFAULT_CONTAINER_USER);
        let mut security = container_security();
        security["runAsUser"] = json!(user);
        security["runAsGroup"] = json!(user);
        let mut env = vec![
            json!({"name": pod::LISTEN_ENV, "value": pod::SOCKET}),
            json!({"name": pod::WORK_DIR_ENV, "value": pod::WORK_DIR}),
        ];
        for var in self.secrets.env.keys() {
            let from = json!({"secretKeyRef": {"name": self.values_secret(), "key": env_key(var)}});
            env.push(json!({"name": var, "valueFrom": from}));
        }
        let mut mounts = vec![
            json!({"name": "strata-bin", "mountPath": pod::HELPER_DIR, "readOnly": true}),
            json!({"name": "work", "mountPath": pod::WORK_DIR}),
            json!({"name": "run", "mountPath": pod::RUN_DIR}),
            json!({"name": "pfs", "mountPath": "/pfs"}),
            json!({"name": "user-tmp", "mountPath": "/tmp"}),
        ];
        for (i, dir) in secret_dirs(self.secrets).keys().enumerate() {
            mounts.push(json!({"name": format!("secret-{i}"), "mountPath": dir, "readOnly": true}));
        }
        json!({
            "name": "user",
            "image": self.pod.image,
            "command": [format!("{}/strata", pod::HELPER_DIR), "__sandbox"],
            "env": env,
            "resources": user_resources(self.pod, self.quota),
            "securityContext": security,
            "volumeMounts": mounts,
        })
    }

    fn volumes(&self) -> Value {
        let work_size = self
            .pod
            .requests
            .disk_bytes
            .or(self.pod.limits.disk_bytes)
            .map_or_else(|| format!("{}Gi", (self.quota.storage_gib / 4).max(1)), |bytes| bytes.to_string());
        let mut volumes = vec![
            json!({"name": "strata-bin", "emptyDir": {"sizeLimit": "256Mi"}}),
            json!({"name": "work", "emptyDir": {"sizeLimit": work_size}}),
            // A socket, and links: nothing that needs a disk.
            json!({"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}),
            json!({"name": "pfs", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}),
            json!({"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}),
            json!({"name": "user-tmp", "emptyDir": {"sizeLimit": "1Gi"}}),
        ];
        for (i, (_, files)) in secret_dirs(self.secrets).iter().enumerate() {
            let items: Vec<Value> =
                files.iter().map(|(name, path)| json!({"key": file_key(path), "path": name})).collect();
            // Readable through the pod's group, which the user container has.
            let secret = json!({"secretName": self.values_secret(), "items": items, "defaultMode": 0o440});
            volumes.push(json!({"name": format!("secret-{i}"), "secret": secret}));
        }
        Value::Array(volumes)
    }

    /// Worker pods go to the worker node pools; a pipeline that asks for GPUs
    /// to the GPU pool, whose taint only such pods tolerate.
    fn schedule(&self, spec: &mut Value) {
        let mut tolerations =
            vec![json!({"key": POOL_LABEL, "operator": "Equal", "value": WORKERS_POOL, "effect": "NoSchedule"})];
        match &self.pod.limits.gpu {
            Some(gpu) => {
                spec["nodeSelector"] = json!({POOL_LABEL: GPU_POOL});
                tolerations
                    .push(json!({"key": POOL_LABEL, "operator": "Equal", "value": GPU_POOL, "effect": "NoSchedule"}));
                tolerations.push(json!({"key": gpu.resource, "operator": "Exists", "effect": "NoSchedule"}));
            }
            None => {
                let preferred = json!({"weight": 100, "preference": {"matchExpressions": [
                    {"key": POOL_LABEL, "operator": "In", "values": [WORKERS_POOL]},
                ]}});
                spec["affinity"] =
                    json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [preferred]}});
            }
        }
        spec["tolerations"] = Value::Array(tolerations);
    }
}

/// The user container's resources: the spec's, within what a worker of the
/// plan may have beside its Strata container (requests = limits where the
/// spec names only one, the plan's worker size where it names neither).
fn user_resources(pod: &WorkerPod, quota: PlanQuota) -> Value {
    let most_cpu = u64::from(quota.worker_cpu_millis.saturating_sub(WORKER_SIDECAR.cpu_millis).max(100));
    let most_memory = u64::from(quota.worker_memory_mib.saturating_sub(WORKER_SIDECAR.memory_mib).max(64)) << 20;
    let (requests, limits) = (&pod.requests, &pod.limits);
    let cpu_limit = limits.millicpus.or(requests.millicpus).unwrap_or(most_cpu).min(most_cpu);
    let cpu_request = requests.millicpus.unwrap_or(cpu_limit).min(cpu_limit);
    let memory_limit = limits.memory_bytes.or(requests.memory_bytes).unwrap_or(most_memory).min(most_memory);
    let memory_request = requests.memory_bytes.unwrap_or(memory_limit).min(memory_limit);
    let mut resources = json!({
        "requests": {"cpu": format!("{cpu_request}m"), "memory": memory_request.to_string()},
        "limits": {"cpu": format!("{cpu_limit}m"), "memory": memory_limit.to_string()},
    });
    if let Some(disk) = requests.disk_bytes {
        resources["requests"]["ephemeral-storage"] = json!(disk.to_string());
    }
    if let Some(disk) = limits.disk_bytes {
        resources["limits"]["ephemeral-storage"] = json!(disk.to_string());
    }
    if let Some(gpu) = limits.gpu.as_ref().or(requests.gpu.as_ref()) {
        resources["limits"][gpu.resource.as_str()] = json!(gpu.count.to_string());
    }
    resources
}

/// The directories secret files are mounted in, each with its files as
/// (file name, full path).
fn secret_dirs(secrets: &TaskSecrets) -> BTreeMap<&str, Vec<(&str, &str)>> {
    let mut dirs: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for path in secrets.files.keys() {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        dirs.entry(if dir.is_empty() { "/" } else { dir }).or_default().push((name, path));
    }
    dirs
}

/// A Secret key for an environment variable (its name is a valid key).
fn env_key(var: &str) -> String {
    format!("env.{var}")
}

/// A Secret key for a file: paths hold `/`, which keys may not.
fn file_key(path: &str) -> String {
    format!("file.{}", &blake3::hash(path.as_bytes()).to_hex()[..16])
}

/// The priority classes of workspace pods: servers above workers (a
/// server evicted stops every job of its workspace), workers above the
/// placeholders, which any real pod preempts.
pub const SERVER_PRIORITY: &str = "strata-workspace-server";
pub const WORKER_PRIORITY: &str = "strata-worker";
pub const PLACEHOLDER_PRIORITY: &str = "strata-placeholder";

/// The PriorityClasses workspace pods name; the provisioner applies them,
/// and the hub's manifests carry them so they exist before any workspace.
pub fn priority_classes() -> Vec<Value> {
    use super::hub::priority_class;
    let mut placeholder = priority_class(
        PLACEHOLDER_PRIORITY,
        -10,
        "Placeholder pods that keep room for Strata workers; any real pod preempts them.",
    );
    placeholder["preemptionPolicy"] = json!("Never");
    vec![
        priority_class(SERVER_PRIORITY, 100_000, "Strata workspace servers."),
        priority_class(WORKER_PRIORITY, 1_000, "Strata pipeline workers."),
        placeholder,
    ]
}

/// Objects shared by every workspace of a cluster: the PriorityClasses and,
/// when `cluster.placeholder_pods` is above 0, that many placeholder pods
/// (the floor the provisioner raises with the queue's forecast).
pub fn cluster_objects(cluster: &Cluster, worker: Size) -> Vec<Value> {
    let mut objects = priority_classes();
    if cluster.placeholder_pods > 0 {
        objects.push(placeholders(cluster, worker, cluster.placeholder_pods));
    }
    objects
}

/// `replicas` placeholder pods: pause containers the size of a worker on the
/// CPU worker pool, preempted by any real pod, so the pool keeps that much
/// room warm (docs/provisioning.md, "Nodes").
pub fn placeholders(cluster: &Cluster, worker: Size, replicas: u32) -> Value {
    let labels = json!({
        "app.kubernetes.io/managed-by": MANAGER,
        "app.kubernetes.io/part-of": "strata",
        "app.kubernetes.io/component": "placeholder",
    });
    let container = json!({
        "name": "pause",
        "image": "registry.k8s.io/pause:3.10",
        "resources": resources(worker, worker),
        "securityContext": container_security(),
    });
    // The hub's namespace has its own accounts; a pause container needs none.
    let mut spec = pod_spec(PLACEHOLDER_PRIORITY, None, &[container], None, &json!([]));
    spec["terminationGracePeriodSeconds"] = json!(0);
    // On the pool the workers need room in, never on the system nodes.
    spec["nodeSelector"] = json!({POOL_LABEL: WORKERS_POOL});
    spec["tolerations"] =
        json!([{"key": POOL_LABEL, "operator": "Equal", "value": WORKERS_POOL, "effect": "NoSchedule"}]);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": PLACEHOLDERS, "namespace": cluster.hub_namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/component": "placeholder"}},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    })
}

/// The placeholder Deployment's name, in the hub's namespace.
pub const PLACEHOLDERS: &str = "strata-placeholders";

fn resources(request: Size, limit: Size) -> Value {
    json!({
        "requests": {"cpu": request.cpu(), "memory": request.memory()},
        "limits": {"cpu": limit.cpu(), "memory": limit.memory()},
    })
}

/// The pod settings of the `restricted` Pod Security profile, as the
/// non-root user of the Strata image.
pub(crate) fn pod_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": NONROOT,
        "runAsGroup": NONROOT,
        "fsGroup": NONROOT,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// The container settings of the `restricted` Pod Security profile.
pub(crate) fn container_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// A pod of `account` (`None`: the namespace's default account).
fn pod_spec(
    priority: &str,
    account: Option<&str>,
    containers: &[Value],
    init: Option<Value>,
    volumes: &Value,
) -> Value {
    let mut spec = json!({
        "priorityClassName": priority,
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": pod_security(),
        "containers": containers,
        "volumes": volumes,
    });
    if let Some(init) = init {
        spec["initContainers"] = json!([init]);
    }
    if let Some(account) = account {
        spec["serviceAccountName"] = json!(account);
    }
    spec
}

/// The name of a pipeline's worker Deployment.
pub fn worker_deployment_name(pipeline: &str) -> String {
    format!("worker-{}", dns_name(pipeline))
}

/// A pipeline name as a DNS label part: lower case, `-` for anything else,
/// and a hash suffix when that changed it or it is long, so two names
/// never meet.
pub fn dns_name(pipeline: &str) -> String {
    let cleaned: String =
        pipeline.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned == pipeline && pipeline.len() <= 40 {
        return cleaned.to_owned();
    }
    let hash = blake3::hash(pipeline.as_bytes()).to_hex();
    let short: String = cleaned.chars().take(40).collect();
    let short = short.trim_end_matches('-');
    if short.is_empty() { format!("p-{}", &hash[..8]) } else { format!("{short}-{}", &hash[..8]) }
}

/// The hash of an object as rendered, for [`APPLIED_HASH`].
pub fn applied_hash(object: &Value) -> String {
    let canonical = serde_json::to_vec(&sorted(object)).unwrap_or_default();
    blake3::hash(&canonical).to_hex()[..16].to_owned()
}

/// The value with every map's keys in order, whatever map serde_json uses.
fn sorted(value: &Value) -> serde_json::Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
            json!(ordered)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Names a service secret without revealing it: a keyed hash of 256
/// random bits, cut to 64.
pub fn secret_digest(secret: &str) -> String {
    let digest = blake3::derive_key("strata 2026 service secret digest", secret.as_bytes());
    blake3::Hash::from(digest).to_hex()[..16].to_owned()
}

/// The object with its hash annotation added.
pub fn with_hash(mut object: Value) -> Value {
    let hash = applied_hash(&object);
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        annotations[APPLIED_HASH] = json!(hash);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_names_become_distinct_dns_labels() {
        assert_eq!(dns_name("edges"), "edges");
        let a = dns_name("Edges_v2");
        let b = dns_name("edges-v2");
        assert_ne!(a, b, "cleaning never makes two names meet");
        assert!(a.starts_with("edges-v2-") && a.len() == "edges-v2-".len() + 8, "{a}");
        let long = dns_name(&"x".repeat(100));
        assert!(long.len() <= 49, "{long}");
        assert!(dns_name("___").starts_with("p-"));
    }

    #[test]
    fn the_hash_changes_with_the_object_and_not_with_key_order() {
        let one = json!({"metadata": {"name": "a"}, "spec": {"x": 1, "y": 2}});
        let same: Value =
            serde_json::from_str(r#"{"spec": {"y": 2, "x": 1}, "metadata": {"name": "a"}}"#).expect("json");
        assert_eq!(applied_hash(&one), applied_hash(&same));
        assert_ne!(applied_hash(&one), applied_hash(&json!({"metadata": {"name": "a"}, "spec": {"x": 2}})));
        assert!(with_hash(one)["metadata"]["annotations"][APPLIED_HASH].is_string());
    }
}
