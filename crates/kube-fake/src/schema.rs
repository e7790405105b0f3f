//! Validation of every object the fake stores against the official
//! Kubernetes 1.37 JSON schemas (strict: unknown fields are errors), plus
//! the name rules the API server checks outside the schema.
//!
//! The schemas come from the PyPI package kubernetes-validate; the bundle in
//! `schemas/` holds only the kinds the provisioner sends and what they
//! reference, and `scripts/k8s-schemas.sh` regenerates it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::Resource;

const BUNDLE: &str = include_str!("../schemas/k8s-1.37-strict.json");

/// One compiled validator per definition, shared by every fake.
static VALIDATORS: LazyLock<HashMap<&'static str, Result<Arc<jsonschema::Validator>, String>>> = LazyLock::new(|| {
    let bundle: Value = match serde_json::from_str(BUNDLE) {
        Ok(bundle) => bundle,
        Err(error) => return crate::routes::RESOURCES.iter().map(|r| (r.definition, Err(error.to_string()))).collect(),
    };
    crate::routes::RESOURCES
        .iter()
        .map(|resource| {
            let schema = json!({"$defs": bundle["$defs"], "$ref": format!("#/$defs/{}", resource.definition)});
            let validator = jsonschema::validator_for(&schema).map(Arc::new).map_err(|e| e.to_string());
            (resource.definition, validator)
        })
        .collect()
});

/// Checks an object as a real API server's validation would; the error
/// lists every violation with its JSON pointer.
pub fn validate(resource: &Resource, object: &Value) -> Result<(), ApiError> {
    let validator = match VALIDATORS.get(resource.definition) {
        Some(Ok(validator)) => validator,
        Some(Err(error)) => return Err(ApiError::new(500, "InternalError", format!("schema bundle: {error}"))),
        None => return Err(ApiError::new(500, "InternalError", format!("no schema for {}", resource.kind))),
    };
    let mut problems: Vec<String> =
        validator.iter_errors(object).map(|error| format!("{}: {error}", error.instance_path())).collect();
    problems.extend(name_problems(resource, object));
    if problems.is_empty() {
        return Ok(());
    }
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    Err(ApiError::invalid(format!("{} {name:?} is invalid: {}", resource.kind, problems.join("; "))))
}

/// Names, label keys and label values: the rules of
/// k8s.io/apimachinery's validation that the schema does not carry.
fn name_problems(resource: &Resource, object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    // Namespaces, services and pods' hostnames are DNS labels; the rest
    // DNS subdomains.
    let label_named = matches!(resource.kind, "Namespace" | "Service");
    let ok = if label_named { is_dns_label(name) } else { is_dns_subdomain(name) };
    if !ok {
        problems.push(format!(
            "/metadata/name: {name:?} is not a valid DNS {}",
            if label_named { "label" } else { "subdomain" }
        ));
    }
    for field in ["labels", "annotations"] {
        let Some(map) = object.pointer(&format!("/metadata/{field}")).and_then(Value::as_object) else { continue };
        for (key, value) in map {
            if !is_qualified_name(key) {
                problems.push(format!("/metadata/{field}: key {key:?} is not a qualified name"));
            }
            if field == "labels" && !value.as_str().is_some_and(is_label_value) {
                problems.push(format!("/metadata/labels/{key}: {value} is not a valid label value"));
            }
        }
    }
    problems
}

fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

fn is_label_value(text: &str) -> bool {
    text.is_empty() || (text.len() <= 63 && is_name_part(text))
}

/// `[prefix/]name`: a DNS subdomain prefix and a 63-character name.
fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && name.len() <= 63 && is_name_part(name),
        None => key.len() <= 63 && is_name_part(key),
    }
}

fn is_name_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::resource_of;

    fn deployment() -> &'static Resource {
        resource_of("apps/v1", "Deployment").expect("known")
    }

    fn valid_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "server", "namespace": "ws-1", "labels": {"app.kubernetes.io/name": "strata"}},
            "spec": {
                "selector": {"matchLabels": {"app": "server"}},
                "template": {
                    "metadata": {"labels": {"app": "server"}},
                    "spec": {"containers": [{"name": "server", "image": "strata:1"}]}
                }
            }
        })
    }

    #[test]
    fn a_valid_object_passes() {
        validate(deployment(), &valid_deployment()).expect("valid");
    }

    #[test]
    fn wrong_types_unknown_fields_and_missing_required_fields_are_rejected() {
        let mut wrong_type = valid_deployment();
        wrong_type["spec"]["replicas"] = json!("two");
        let mut unknown = valid_deployment();
        unknown["spec"]["replica"] = json!(2);
        let mut missing = valid_deployment();
        missing["spec"]["template"]["spec"]["containers"][0].as_object_mut().expect("object").remove("name");
        for (what, object) in [("wrong type", wrong_type), ("unknown field", unknown), ("missing name", missing)] {
            let error = validate(deployment(), &object).expect_err(what);
            assert_eq!(error.code, 422, "{what}");
            assert!(error.message.contains("/spec"), "{what}: {}", error.message);
        }
    }

    #[test]
    fn names_and_labels_follow_the_api_server_rules() {
        let mut upper = valid_deployment();
        upper["metadata"]["name"] = json!("Server");
        let mut long_label = valid_deployment();
        long_label["metadata"]["labels"]["app"] = json!("x".repeat(64));
        let mut bad_key = valid_deployment();
        bad_key["metadata"]["annotations"] = json!({"not a key": "v"});
        for (what, object) in [("upper-case name", upper), ("long label", long_label), ("bad key", bad_key)] {
            assert_eq!(validate(deployment(), &object).map_err(|e| e.code), Err(422), "{what}");
        }
    }
}
