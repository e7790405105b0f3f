//! What a cluster needs to make a pipeline's worker pods: the user container's
//! image, user and resources from the effective spec and the pipeline's jobs,
//! and, for the Kubernetes provisioner alone, the secret values the pods
//! reference (see docs/provisioning.md, "Worker pods").

use strata_api_types::pps::{PodGpu, PodResources, SecretInfo, TaskSecrets, WorkerPod};

use crate::error::PpsError;
use crate::meta::JobRow;
use crate::service::{Pipeline, Pps};
use crate::spec::{PipelineSpec, Resources};

impl Pps {
    /// The values a pipeline's worker pods reference, as its tasks carry them:
    /// for the Kubernetes provisioner to store as the pods' Secrets.
    pub async fn pod_secrets(&self, pipeline: &str) -> Result<TaskSecrets, PpsError> {
        let Pipeline { spec, .. } = self.pipeline(pipeline).await?;
        self.task_secrets(&spec).await
    }
}

/// The pod of a pipeline with these unfinished jobs (oldest first) and the
/// workspace's `secrets`.
pub(crate) fn worker_pod(spec: &PipelineSpec, open_jobs: &[JobRow], secrets: &[SecretInfo]) -> WorkerPod {
    let pinned = open_jobs.iter().find_map(|job| job.image.clone());
    WorkerPod {
        image: pinned.unwrap_or_else(|| spec.transform.image.clone()),
        user: spec.transform.user,
        requests: resources(spec.resource_requests.as_ref()),
        limits: resources(spec.resource_limits.as_ref()),
        secrets_version: secrets_version(spec, secrets),
    }
}

fn resources(resources: Option<&Resources>) -> PodResources {
    let Some(resources) = resources else { return PodResources::default() };
    PodResources {
        millicpus: resources.millicpus(),
        memory_bytes: resources.memory_bytes(),
        disk_bytes: resources.disk_bytes(),
        gpu: resources.gpu.as_ref().map(|gpu| PodGpu { resource: gpu.kind.clone(), count: gpu.number }),
    }
}

/// A digest of which secrets the spec uses, how, and when each was last
/// written: when it changes the provisioner reads the values again. Never a
/// digest of the values themselves, which would let a reader of the load
/// test guesses.
fn secrets_version(spec: &PipelineSpec, secrets: &[SecretInfo]) -> Option<String> {
    let transform = &spec.transform;
    if transform.secrets.is_empty() && transform.image_pull_secrets.is_empty() {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    let mut names: Vec<&str> = transform.secrets.iter().map(|used| used.name.as_str()).collect();
    names.extend(transform.image_pull_secrets.iter().map(String::as_str));
    for used in &transform.secrets {
        let env = used.env.as_ref().map(|env| format!("{}={}", env.env_var, env.key)).unwrap_or_default();
        hasher.update(format!("{}\0{env}\0{}\0", used.name, used.mount_path.as_deref().unwrap_or("")).as_bytes());
    }
    for name in &transform.image_pull_secrets {
        hasher.update(format!("pull\0{name}\0").as_bytes());
    }
    for info in secrets.iter().filter(|info| names.contains(&info.name.as_str())) {
        hasher.update(format!("{}\0{}\0", info.name, info.updated_at).as_bytes());
    }
    Some(hasher.finalize().to_hex()[..16].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &serde_json::Value) -> PipelineSpec {
        let mut json = serde_json::json!({
            "pipeline": {"name": "edges"},
            "transform": {"image": "registry.local/opencv:1", "cmd": ["python3", "/edges.py"]},
            "input": {"pfs": {"repo": "images", "glob": "/*"}},
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            if key == "transform" {
                for (k, v) in value.as_object().into_iter().flatten() {
                    json["transform"][k] = v.clone();
                }
            } else {
                json[key] = value.clone();
            }
        }
        PipelineSpec::from_json_value(&json).expect("a valid spec")
    }

    fn info(name: &str, updated_at: &str) -> SecretInfo {
        SecretInfo {
            name: name.into(),
            keys: vec!["k".into()],
            created_at: updated_at.into(),
            updated_at: updated_at.into(),
        }
    }

    #[test]
    fn the_pod_carries_the_specs_user_and_resources() {
        let spec = spec(&serde_json::json!({
            "transform": {"user": "1234"},
            "resource_requests": {"cpu": 0.5, "memory": "256Mi", "disk": "1Gi"},
            "resource_limits": {"cpu": 2, "memory": "1Gi", "gpu": {"type": "nvidia.com/gpu", "number": 1}},
        }));
        let pod = worker_pod(&spec, &[], &[]);
        assert_eq!(pod.image, "registry.local/opencv:1", "no job pinned one yet");
        assert_eq!(pod.user, Some(1234));
        assert_eq!(pod.requests.millicpus, Some(500));
        assert_eq!(pod.requests.memory_bytes, Some(256 << 20));
        assert_eq!(pod.requests.disk_bytes, Some(1 << 30));
        assert_eq!(pod.limits.gpu, Some(PodGpu { resource: "nvidia.com/gpu".into(), count: 1 }));
        assert_eq!(pod.secrets_version, None, "no secrets, nothing to read");
    }

    #[test]
    fn the_secrets_version_follows_writes_of_the_secrets_used_and_nothing_else() {
        let spec = spec(&serde_json::json!({"transform": {
            "secrets": [{"name": "db", "env_var": "DB_PASSWORD", "key": "password"}],
            "image_pull_secrets": ["registry"],
        }}));
        let before = [info("db", "t1"), info("registry", "t1"), info("other", "t1")];
        let version = worker_pod(&spec, &[], &before).secrets_version.expect("a version");
        let other_changed = [info("db", "t1"), info("registry", "t1"), info("other", "t2")];
        assert_eq!(worker_pod(&spec, &[], &other_changed).secrets_version.as_deref(), Some(version.as_str()));
        let db_changed = [info("db", "t2"), info("registry", "t1"), info("other", "t1")];
        assert_ne!(worker_pod(&spec, &[], &db_changed).secrets_version.as_deref(), Some(version.as_str()));
    }
}
