//! The fake through kube's typed API, as the provisioner uses it.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use strata_kube_fake::{Effect, FakeApiServer, Fault, Verb};

fn namespace(name: &str) -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"team": "a"}}})).expect("namespace")
}

fn deployment(name: &str, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}
        }
    })
}

fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

async fn with_namespace(fake: &FakeApiServer, name: &str) {
    let namespaces: Api<Namespace> = Api::all(fake.client());
    namespaces.create(&PostParams::default(), &namespace(name)).await.expect("namespace created");
}

#[tokio::test]
async fn objects_are_created_read_listed_by_label_and_refused_twice() {
    let fake = FakeApiServer::new();
    let namespaces: Api<Namespace> = Api::all(fake.client());
    let created = namespaces.create(&PostParams::default(), &namespace("ws-a")).await.expect("created");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let again = namespaces.create(&PostParams::default(), &namespace("ws-a")).await.expect_err("exists");
    assert_eq!(status_code(&again), Some(409));
    namespaces.create(&PostParams::default(), &namespace("other")).await.expect("second");
    let listed = namespaces.list(&ListParams::default().labels("team=a")).await.expect("list");
    assert_eq!(listed.items.len(), 2);
    let missing = namespaces.get("nope").await.expect_err("missing");
    assert_eq!(status_code(&missing), Some(404));
}

#[tokio::test]
async fn server_side_apply_is_idempotent_and_drops_fields_the_manager_no_longer_sets() {
    let fake = FakeApiServer::new();
    with_namespace(&fake, "ws-a").await;
    let deployments: Api<Deployment> = Api::namespaced(fake.client(), "ws-a");
    let params = PatchParams::apply("strata-provisioner").force();
    let mut wanted = deployment("server", "strata:1");
    wanted["spec"]["replicas"] = json!(2);
    let first = deployments.patch("server", &params, &Patch::Apply(&wanted)).await.expect("applied");
    let second = deployments.patch("server", &params, &Patch::Apply(&wanted)).await.expect("again");
    assert_eq!(first.metadata.resource_version, second.metadata.resource_version, "a no-op keeps the version");
    let unset = deployment("server", "strata:1");
    let third = deployments.patch("server", &params, &Patch::Apply(&unset)).await.expect("without replicas");
    assert_eq!(third.spec.replicas, None, "the field the manager dropped is gone");
    assert_ne!(third.metadata.resource_version, second.metadata.resource_version);
}

#[tokio::test]
async fn two_managers_conflict_unless_forced() {
    let fake = FakeApiServer::new();
    with_namespace(&fake, "ws-a").await;
    let deployments: Api<Deployment> = Api::namespaced(fake.client(), "ws-a");
    let mut one = deployment("w", "strata:1");
    one["spec"]["replicas"] = json!(1);
    deployments.patch("w", &PatchParams::apply("first"), &Patch::Apply(&one)).await.expect("first");
    let mut other = deployment("w", "strata:1");
    other["spec"]["replicas"] = json!(5);
    let conflict =
        deployments.patch("w", &PatchParams::apply("second"), &Patch::Apply(&other)).await.expect_err("conflict");
    assert_eq!(status_code(&conflict), Some(409));
    let forced =
        deployments.patch("w", &PatchParams::apply("second").force(), &Patch::Apply(&other)).await.expect("forced");
    assert_eq!(forced.spec.replicas, Some(5));
    assert_eq!(fake.managers("apps/v1", "Deployment", Some("ws-a"), "w"), ["first", "second"]);
}

#[tokio::test]
async fn invalid_objects_are_refused_with_422_and_recorded() {
    let fake = FakeApiServer::new();
    with_namespace(&fake, "ws-a").await;
    let deployments: Api<Deployment> = Api::namespaced(fake.client(), "ws-a");
    let mut bad = deployment("w", "strata:1");
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": {"millis": 5}}});
    let error = deployments.patch("w", &PatchParams::apply("m"), &Patch::Apply(&bad)).await.expect_err("invalid");
    assert_eq!(status_code(&error), Some(422));
    assert_eq!(fake.rejected().len(), 1);
    assert!(fake.get("apps/v1", "Deployment", Some("ws-a"), "w").is_none(), "nothing half-stored");
}

#[tokio::test]
async fn nothing_is_created_in_a_missing_namespace_and_deleting_a_namespace_empties_it() {
    let fake = FakeApiServer::new();
    let secrets: Api<Secret> = Api::namespaced(fake.client(), "ws-a");
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}})).expect("secret");
    let error = secrets.create(&PostParams::default(), &secret).await.expect_err("no namespace");
    assert_eq!(status_code(&error), Some(404));
    with_namespace(&fake, "ws-a").await;
    secrets.create(&PostParams::default(), &secret).await.expect("created");
    let namespaces: Api<Namespace> = Api::all(fake.client());
    namespaces.delete("ws-a", &DeleteParams::default()).await.expect("deleted");
    assert!(fake.objects().is_empty(), "{:?}", fake.objects());
}

#[tokio::test]
async fn unknown_kinds_are_not_served() {
    let fake = FakeApiServer::new();
    with_namespace(&fake, "ws-a").await;
    let maps: Api<ConfigMap> = Api::namespaced(fake.client(), "ws-a");
    assert_eq!(status_code(&maps.list(&ListParams::default()).await.expect_err("unserved")), Some(404));
}

#[tokio::test]
async fn faults_hit_matching_requests_a_given_number_of_times() {
    let fake = FakeApiServer::new();
    fake.inject(Fault { verb: Some(Verb::Create), kind: Some("Namespace"), effect: Effect::Status(500), times: 1 });
    let namespaces: Api<Namespace> = Api::all(fake.client());
    let error = namespaces.create(&PostParams::default(), &namespace("a")).await.expect_err("fault");
    assert_eq!(status_code(&error), Some(500));
    namespaces.create(&PostParams::default(), &namespace("a")).await.expect("second try");
    fake.inject(Fault { verb: None, kind: None, effect: Effect::Delay(Duration::from_secs(5)), times: 1 });
    let slow = tokio::time::timeout(Duration::from_millis(100), namespaces.get("a")).await;
    assert!(slow.is_err(), "the delayed request is still waiting");
    let counted: Vec<_> = fake.requests().iter().map(|r| (r.verb, r.status)).collect();
    assert_eq!(counted, [(Verb::Create, 500), (Verb::Create, 201)]);
}

async fn pod_names(pods: &Api<k8s_openapi::api::core::v1::Pod>) -> Vec<String> {
    let listed = pods.list(&ListParams::default().labels("app=w")).await.expect("pods");
    listed.items.into_iter().filter_map(|p| p.metadata.name).collect()
}

#[tokio::test]
async fn the_simulated_controller_runs_pods_and_removes_the_cheapest_first() {
    let fake = FakeApiServer::new().with_deployment_controller();
    with_namespace(&fake, "ws-a").await;
    let deployments: Api<Deployment> = Api::namespaced(fake.client(), "ws-a");
    let params = PatchParams::apply("m");
    let mut three = deployment("w", "strata:1");
    three["spec"]["replicas"] = json!(3);
    let applied = deployments.patch("w", &params, &Patch::Apply(&three)).await.expect("applied");
    assert_eq!(applied.status.and_then(|s| s.available_replicas), Some(3));
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(fake.client(), "ws-a");
    let names = pod_names(&pods).await;
    assert_eq!(names.len(), 3);
    for (name, cost) in names.iter().zip(["100", "-5", "100"]) {
        let patch = json!({"metadata": {"annotations": {strata_kube_fake::DELETION_COST: cost}}});
        pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotated");
    }
    three["spec"]["replicas"] = json!(2);
    deployments.patch("w", &params, &Patch::Apply(&three)).await.expect("scaled down");
    let left = pod_names(&pods).await;
    assert!(!left.contains(&names[1]), "the pod with the lowest deletion cost went first");
    assert_eq!(left.len(), 2);
}
