//! A simulated deployment controller, off unless a test turns it on: after
//! each change of a Deployment it makes the pods match `spec.replicas` at
//! once (all Running and ready) and writes the Deployment's status. When it
//! removes pods it removes those with the lowest
//! `controller.kubernetes.io/pod-deletion-cost` first, as the ReplicaSet
//! controller does. There is no scheduler, kubelet or garbage collector.

use serde_json::{Value, json};

use crate::routes::Target;
use crate::store::{Store, core_resource};

pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

pub(crate) fn reconcile_deployment(store: &mut Store, target: &Target, name: &str) {
    let Some(namespace) = target.namespace.clone() else { return };
    let Some(pods) = core_resource("pods") else { return };
    let Some(deployment) = store.find("apps/v1", "Deployment", Some(&namespace), name) else { return };
    let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize;
    let template = deployment.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    let pod_target = Target { resource: pods, namespace: Some(namespace.clone()), name: None };

    let mut owned: Vec<Value> = store
        .in_namespace(pods, &namespace)
        .into_iter()
        .filter(|pod| {
            pod.pointer("/metadata/labels/strata.dev~1owner-deployment").and_then(Value::as_str) == Some(name)
        })
        .collect();
    // Cheapest first; among equals the newest, as the ReplicaSet controller.
    owned.sort_by_key(|pod| (cost(pod), std::cmp::Reverse(created(pod))));
    while owned.len() > replicas {
        let pod = owned.remove(0);
        if let Some(pod_name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
            store.remove(&pod_target, pod_name);
        }
    }
    for _ in owned.len()..replicas {
        let pod_name = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..5]);
        let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
        labels["strata.dev/owner-deployment"] = json!(name);
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "labels": labels,
                "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            },
            "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
            "status": {"phase": "Running"},
        });
        store.put_status(&pod_target, &pod_name, pod);
    }
    let generation = deployment.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    let mut deployment = deployment;
    deployment["status"] = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
    });
    store.put_status(target, name, deployment);
}

fn cost(pod: &Value) -> i64 {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(DELETION_COST))
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn created(pod: &Value) -> String {
    pod.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or_default().to_owned()
}
