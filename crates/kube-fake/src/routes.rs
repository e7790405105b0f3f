//! Which resource a request path names: `/api/v1/...` for the core group,
//! `/apis/{group}/{version}/...` for the others, then an optional
//! `namespaces/{ns}/`, the resource's plural name and an optional object
//! name.

use crate::error::ApiError;

/// A kind the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// The definition in the schema bundle that objects must match.
    pub definition: &'static str,
}

impl Resource {
    /// `v1` or `apps/v1`, as in an object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// A kind's group, version, plural and name as k8s-openapi spells them,
/// so the fake serves exactly the paths kube-rs asks for.
const fn of<K: k8s_openapi::Resource>(namespaced: bool, definition: &'static str) -> Resource {
    Resource {
        group: K::GROUP,
        version: K::VERSION,
        plural: K::URL_PATH_SEGMENT,
        kind: K::KIND,
        namespaced,
        definition,
    }
}

/// Every kind the fake knows: those the provisioner uses, pods (which the
/// simulated deployment controller makes) and the hub's own.
pub const RESOURCES: &[Resource] = {
    use k8s_openapi::api::{apps, autoscaling, core, networking, policy, rbac, scheduling};
    &[
        of::<core::v1::Namespace>(false, "io.k8s.api.core.v1.Namespace"),
        of::<core::v1::ResourceQuota>(true, "io.k8s.api.core.v1.ResourceQuota"),
        of::<core::v1::LimitRange>(true, "io.k8s.api.core.v1.LimitRange"),
        of::<core::v1::ServiceAccount>(true, "io.k8s.api.core.v1.ServiceAccount"),
        of::<core::v1::Secret>(true, "io.k8s.api.core.v1.Secret"),
        of::<core::v1::Service>(true, "io.k8s.api.core.v1.Service"),
        of::<core::v1::Pod>(true, "io.k8s.api.core.v1.Pod"),
        of::<apps::v1::Deployment>(true, "io.k8s.api.apps.v1.Deployment"),
        of::<networking::v1::NetworkPolicy>(true, "io.k8s.api.networking.v1.NetworkPolicy"),
        of::<policy::v1::PodDisruptionBudget>(true, "io.k8s.api.policy.v1.PodDisruptionBudget"),
        of::<scheduling::v1::PriorityClass>(false, "io.k8s.api.scheduling.v1.PriorityClass"),
        // The hub's own objects (`strata deploy render`).
        of::<autoscaling::v2::HorizontalPodAutoscaler>(true, "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"),
        of::<networking::v1::Ingress>(true, "io.k8s.api.networking.v1.Ingress"),
        of::<rbac::v1::ClusterRole>(false, "io.k8s.api.rbac.v1.ClusterRole"),
        of::<rbac::v1::ClusterRoleBinding>(false, "io.k8s.api.rbac.v1.ClusterRoleBinding"),
        of::<rbac::v1::Role>(true, "io.k8s.api.rbac.v1.Role"),
        of::<rbac::v1::RoleBinding>(true, "io.k8s.api.rbac.v1.RoleBinding"),
    ]
};

/// The resource of a kind, by `apiVersion` and `kind`.
pub fn resource_of(api_version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.kind == kind && r.api_version() == api_version)
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// Parses a request path.
pub fn parse(path: &str) -> Result<Target, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::not_found(format!("the server could not find the requested resource ({path})"))),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", namespace, plural, name @ ..] => (Some(*namespace), *plural, name),
        [plural, name @ ..] => (None, *plural, name),
        [] => return Err(ApiError::not_found(format!("no resource in {path}"))),
    };
    let name = match name {
        [] => None,
        [name] => Some(*name),
        _ => return Err(ApiError::not_found(format!("subresources are not served by the fake ({path})"))),
    };
    let resource = RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
        .ok_or_else(|| ApiError::not_found(format!("the server could not find the requested resource ({path})")))?;
    if resource.namespaced != namespace.is_some() && name.is_some() {
        return Err(ApiError::not_found(format!("{} must be addressed {}", resource.kind, scope(resource))));
    }
    Ok(Target { resource, namespace: namespace.map(str::to_owned), name: name.map(str::to_owned) })
}

fn scope(resource: &Resource) -> &'static str {
    if resource.namespaced { "inside a namespace" } else { "without a namespace" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_core_and_grouped_resources_with_or_without_namespace() {
        let ns = parse("/api/v1/namespaces/ws-1").expect("namespace");
        assert_eq!((ns.resource.kind, ns.namespace, ns.name.as_deref()), ("Namespace", None, Some("ws-1")));
        let list = parse("/apis/apps/v1/namespaces/ws-1/deployments").expect("list");
        assert_eq!((list.resource.kind, list.namespace.as_deref(), list.name), ("Deployment", Some("ws-1"), None));
        let pc = parse("/apis/scheduling.k8s.io/v1/priorityclasses/low").expect("cluster-scoped");
        assert_eq!(pc.resource.kind, "PriorityClass");
        assert_eq!(parse("/apis/apps/v1/namespaces/a/deployments/b/scale").map_err(|e| e.code), Err(404));
        assert_eq!(parse("/apis/nope/v1/things").map_err(|e| e.code), Err(404));
    }
}
