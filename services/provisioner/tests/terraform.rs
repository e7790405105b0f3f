//! infra/terraform, checked as far as these machines can without providers
//! or a cloud account (`terraform validate` needs both): every file parses
//! as HCL, every variable and output is documented and typed, every module
//! call wires every required input, every taggable resource carries the
//! environment's tags, no credential is written down, and the node pools
//! label and taint nodes exactly as the provisioner's worker pods expect.
//! `scripts/iac.sh` adds `terraform fmt -check` and checkov.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::{Block, Body, Expression};
use strata_provisioner::kubernetes::render::{GPU_POOL, POOL_LABEL, SYSTEM_POOL, WORKERS_POOL};

fn terraform_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/terraform").canonicalize().unwrap()
}

/// Every module directory (a root or a child module) with its parsed files.
fn modules() -> BTreeMap<PathBuf, Vec<(PathBuf, Body)>> {
    let mut modules: BTreeMap<PathBuf, Vec<(PathBuf, Body)>> = BTreeMap::new();
    let mut pending = vec![terraform_root()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "tf") {
                let text = std::fs::read_to_string(&path).unwrap();
                let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                modules.entry(dir.clone()).or_default().push((path, body));
            }
        }
    }
    modules
}

fn blocks<'a>(files: &'a [(PathBuf, Body)], kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    files.iter().flat_map(move |(_, body)| body.blocks().filter(move |b| b.identifier() == kind))
}

fn label(block: &Block, index: usize) -> &str {
    block.labels().get(index).map_or("", |l| l.as_str())
}

fn attribute<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block.body().attributes().find(|a| a.key() == key).map(hcl::Attribute::expr)
}

#[test]
fn there_is_an_aws_root_and_a_module_per_concern() {
    let names: BTreeSet<String> =
        modules().keys().map(|dir| dir.strip_prefix(terraform_root()).unwrap().display().to_string()).collect();
    for expected in [
        "aws",
        "modules/aws-network",
        "modules/aws-cluster",
        "modules/aws-node-pools",
        "modules/aws-data",
        "modules/aws-workspace-identity",
        "modules/aws-dns",
    ] {
        assert!(names.contains(expected), "no {expected} in {names:?}");
    }
}

#[test]
fn every_variable_is_typed_and_described_and_every_output_described() {
    for (dir, files) in modules() {
        for variable in blocks(&files, "variable") {
            let name = label(variable, 0);
            assert!(attribute(variable, "type").is_some(), "{}: variable {name} has no type", dir.display());
            assert!(
                attribute(variable, "description").is_some(),
                "{}: variable {name} has no description",
                dir.display()
            );
        }
        for output in blocks(&files, "output") {
            let name = label(output, 0);
            assert!(attribute(output, "description").is_some(), "{}: output {name} undescribed", dir.display());
        }
    }
}

#[test]
fn every_module_call_passes_every_required_input_and_nothing_unknown() {
    let modules = modules();
    let mut calls = 0;
    for (dir, files) in &modules {
        for call in blocks(files, "module") {
            let Some(Expression::String(source)) = attribute(call, "source") else {
                panic!("module {} has no literal source", label(call, 0));
            };
            let target = normalise(&dir.join(source));
            let called = modules.get(&target).unwrap_or_else(|| panic!("module source {source} not found"));
            let variables: BTreeMap<&str, bool> =
                blocks(called, "variable").map(|v| (label(v, 0), attribute(v, "default").is_none())).collect();
            let passed: BTreeSet<&str> = call.body().attributes().map(hcl::Attribute::key).collect();
            for (name, required) in &variables {
                assert!(!required || passed.contains(name), "module {} does not pass {name}", label(call, 0));
            }
            let meta = ["source", "version", "providers", "depends_on", "count", "for_each"];
            for name in passed.iter().filter(|name| !meta.contains(name)) {
                assert!(variables.contains_key(name), "module {} has no variable {name}", label(call, 0));
            }
            calls += 1;
        }
    }
    assert!(calls >= 6, "only {calls} module calls");
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// AWS resources the provider gives no `tags` argument: sub-resources of
/// buckets, policies, attachments, associations, routes and records. Any
/// other `aws_*` resource must carry the environment's tags.
const UNTAGGABLE: &[&str] = &[
    "aws_acm_certificate_validation",
    "aws_cloudwatch_event_target",
    "aws_cloudwatch_log_resource_policy",
    "aws_eks_access_policy_association",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_alias",
    "aws_route",
    "aws_route53_hosted_zone_dnssec",
    "aws_route53_key_signing_key",
    "aws_route53_query_log",
    "aws_route53_record",
    "aws_route_table_association",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_secretsmanager_secret_version",
    "aws_sqs_queue_policy",
];

#[test]
fn every_taggable_resource_carries_the_environments_tags() {
    let mut checked = 0;
    for (dir, files) in modules() {
        for resource in blocks(&files, "resource") {
            let (kind, name) = (label(resource, 0), label(resource, 1));
            if !kind.starts_with("aws_") || UNTAGGABLE.contains(&kind) {
                continue;
            }
            let tags = attribute(resource, "tags").map(ToString::to_string).unwrap_or_default();
            assert!(
                tags == "var.tags" || tags.starts_with("merge(var.tags"),
                "{}: {kind}.{name} has tags {tags:?}, not var.tags",
                dir.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} taggable resources");
}

/// Attribute names that hold a credential; their value must come from a
/// generator or a secret store, never a literal.
const SECRET_KEYS: &[&str] = &["password", "master_password", "auth_token", "access_key", "secret_key", "token"];

#[test]
fn no_credential_is_written_down() {
    for (dir, files) in modules() {
        for (path, _) in &files {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(!text.contains("AKIA"), "{}: an AWS access key id", path.display());
            assert!(!text.contains("BEGIN RSA PRIVATE KEY"), "{}: a private key", path.display());
        }
        let mut pending: Vec<&Body> = files.iter().map(|(_, body)| body).collect();
        while let Some(body) = pending.pop() {
            for attribute in body.attributes() {
                let literal = matches!(attribute.expr(), Expression::String(s) if !s.is_empty());
                assert!(
                    !(SECRET_KEYS.contains(&attribute.key()) && literal),
                    "{}: {} is a literal",
                    dir.display(),
                    attribute.key()
                );
            }
            pending.extend(body.blocks().map(Block::body));
        }
    }
}

/// The pools label and taint nodes with the provisioner's own names, so
/// worker pods' selectors and tolerations match the nodes made for them.
#[test]
fn node_pools_use_the_provisioners_labels_and_taints() {
    let modules = modules();
    let pools = modules.get(&terraform_root().join("modules/aws-node-pools")).unwrap();
    let locals: BTreeMap<String, String> = blocks(pools, "locals")
        .flat_map(|b| b.body().attributes())
        .filter_map(|a| match a.expr() {
            Expression::String(s) => Some((a.key().to_owned(), s.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(locals.get("pool_label").map(String::as_str), Some(POOL_LABEL));
    assert_eq!(locals.get("workers_cpu_pool").map(String::as_str), Some(WORKERS_POOL));
    assert_eq!(locals.get("workers_gpu_pool").map(String::as_str), Some(GPU_POOL));
    assert_eq!(locals.get("gpu_resource").map(String::as_str), Some("nvidia.com/gpu"));

    // The system node group labels its nodes for the hub and the servers.
    let cluster = std::fs::read_to_string(terraform_root().join("modules/aws-cluster/main.tf")).unwrap();
    let needle = format!("\"{POOL_LABEL}\" = \"{SYSTEM_POOL}\"");
    assert!(cluster.replace(char::is_whitespace, "").contains(&needle.replace(' ', "")), "no {needle}");
    // Each NodePool labels its nodes and taints them NoSchedule with its
    // pool (the GPU pool with the GPU resource too), which worker pods
    // tolerate (render.rs, `schedule`).
    let text: String = pools.iter().map(|(path, _)| std::fs::read_to_string(path).unwrap()).collect();
    let text = text.replace(char::is_whitespace, "");
    for pool in ["workers_cpu_pool", "workers_gpu_pool"] {
        for needle in [
            format!("labels={{(local.pool_label)=local.{pool}}}"),
            format!("{{key=local.pool_label,value=local.{pool},effect=\"NoSchedule\"}}"),
        ] {
            assert!(text.contains(&needle), "node pools lack {needle}");
        }
    }
    assert!(text.contains("{key=local.gpu_resource,value=\"true\",effect=\"NoSchedule\"}"));
}

/// The workspace role allows `<workspace_prefix>/<namespace>/*` to each
/// namespace's sessions; the provisioner gives each workspace server exactly
/// that prefix, and the configuration output names the keys Pod Identity needs.
#[test]
fn the_workspace_roles_prefix_is_the_one_each_server_is_given() {
    use strata_provisioner::kubernetes::identity::object_prefix;
    let modules = modules();
    let identity = modules.get(&terraform_root().join("modules/aws-workspace-identity")).unwrap();
    let prefix = blocks(identity, "variable")
        .find(|v| label(v, 0) == "workspace_prefix")
        .and_then(|v| attribute(v, "default"))
        .and_then(|d| match d {
            Expression::String(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(object_prefix("ws-1234"), format!("{prefix}/ws-1234"));

    let outputs = std::fs::read_to_string(terraform_root().join("aws/outputs.tf")).unwrap();
    for key in [
        "kubernetes_workspace_credentials",
        "kubernetes_eks_cluster",
        "kubernetes_eks_region",
        "kubernetes_workspace_role_arn",
    ] {
        assert!(outputs.contains(key), "strata_config lacks {key}");
        let config = strata_provisioner::config::ProvisionerConfig::default();
        assert!(serde_json::to_value(&config).unwrap().get(key).is_some(), "{key} is not a Strata setting");
    }
}
