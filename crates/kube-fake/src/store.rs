//! The objects and what each verb does to them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::apply;
use crate::error::ApiError;
use crate::routes::{RESOURCES, Resource, Target, resource_of};
use crate::schema;
use crate::select::Selector;

/// Who wrote the fields of an object: each manager's last applied
/// configuration (`apply`) or last written body (`update`).
#[derive(Debug, Clone)]
struct Entry {
    object: Value,
    managers: Vec<(String, Value)>,
}

/// (`apiVersion/plural`, namespace or "", name): cluster-scoped objects
/// have an empty namespace.
type Key = (String, String, String);

/// Everything the fake API server holds.
#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<Key, Entry>,
    revision: u64,
    /// Whether the simulated deployment controller runs (pods, status).
    pub deployment_controller: bool,
}

fn resource_id(resource: &Resource) -> String {
    format!("{}/{}", resource.api_version(), resource.plural)
}

fn key(target: &Target, name: &str) -> Key {
    (resource_id(target.resource), target.namespace.clone().unwrap_or_default(), name.to_owned())
}

/// Fields only the server sets; a client's value is ignored.
const SERVER_FIELDS: [&str; 6] =
    ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp"];

impl Store {
    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    pub fn get(&self, target: &Target) -> Result<Value, ApiError> {
        let name = target.name.as_deref().unwrap_or_default();
        self.objects.get(&key(target, name)).map(|entry| entry.object.clone()).ok_or_else(|| not_found(target, name))
    }

    pub fn list(&self, target: &Target, selector: &Selector) -> Value {
        let id = resource_id(target.resource);
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((r, ns, _), _)| *r == id && target.namespace.as_ref().is_none_or(|want| want == ns))
            .filter(|(_, entry)| selector.matches(entry.object.pointer("/metadata/labels").and_then(Value::as_object)))
            .map(|(_, entry)| entry.object.clone())
            .collect();
        json!({
            "apiVersion": target.resource.api_version(),
            "kind": format!("{}List", target.resource.kind),
            "metadata": {"resourceVersion": self.revision.to_string()},
            "items": items,
        })
    }

    pub fn create(&mut self, target: &Target, body: Value, manager: &str) -> Result<Value, ApiError> {
        let name = body_name(&body)?;
        self.check_namespace(target)?;
        if self.objects.contains_key(&key(target, &name)) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", target.resource.plural),
            ));
        }
        let object = self.admit(target, None, clean(body))?;
        self.insert(target, &name, object, vec![(format!("update:{manager}"), Value::Null)])
    }

    pub fn replace(&mut self, target: &Target, body: Value, manager: &str) -> Result<Value, ApiError> {
        let name = body_name(&body)?;
        let current = self.objects.get(&key(target, &name)).ok_or_else(|| not_found(target, &name))?;
        let sent = body.pointer("/metadata/resourceVersion").and_then(Value::as_str);
        let stored = current.object.pointer("/metadata/resourceVersion").and_then(Value::as_str);
        if sent.is_some() && sent != stored {
            return Err(ApiError::conflict(format!(
                "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                target.resource.plural
            )));
        }
        let managers = with_manager(current.managers.clone(), &format!("update:{manager}"), Value::Null);
        let previous = current.object.clone();
        let object = self.admit(target, Some(&previous), clean(body))?;
        self.insert(target, &name, object, managers)
    }

    pub fn merge_patch(&mut self, target: &Target, patch: &Value, manager: &str) -> Result<Value, ApiError> {
        let name = target.name.clone().unwrap_or_default();
        let current = self.objects.get(&key(target, &name)).ok_or_else(|| not_found(target, &name))?;
        let previous = current.object.clone();
        let managers = with_manager(current.managers.clone(), &format!("update:{manager}"), Value::Null);
        let mut object = previous.clone();
        apply::merge_patch(&mut object, &clean(patch.clone()));
        let object = self.admit(target, Some(&previous), object)?;
        self.insert(target, &name, object, managers)
    }

    /// Server-side apply (see [`crate::apply`]); `force` takes fields that
    /// other managers own instead of answering 409.
    pub fn apply(&mut self, target: &Target, config: Value, manager: &str, force: bool) -> Result<Value, ApiError> {
        let name = target.name.clone().unwrap_or_default();
        if body_name(&config)? != name {
            return Err(ApiError::bad_request("the name in the body does not match the name in the URL"));
        }
        let config = clean(config);
        let existing = self.objects.get(&key(target, &name)).cloned();
        let Some(existing) = existing else {
            self.check_namespace(target)?;
            let object = self.admit(target, None, config.clone())?;
            return self.insert(target, &name, object, vec![(manager.to_owned(), config)]);
        };
        let mut managers = existing.managers.clone();
        let leaves = apply::leaves(&config);
        let conflicts = conflicting(&managers, manager, &leaves, &existing.object);
        if !conflicts.is_empty() && !force {
            return Err(ApiError::conflict(format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                conflicts.join(", ")
            )));
        }
        for (owner, owned) in &mut managers {
            if owner != manager {
                for (path, _) in &leaves {
                    if conflicts.contains(&path.join(".")) {
                        apply::remove(owned, path);
                    }
                }
            }
        }
        let mut object = existing.object.clone();
        let previous = managers.iter().find(|(m, _)| m == manager).map(|(_, c)| c.clone()).unwrap_or(Value::Null);
        for (path, _) in apply::leaves(&previous) {
            let still_wanted = apply::get(&config, &path).is_some();
            let owned_elsewhere = managers.iter().any(|(m, c)| m != manager && apply::overlaps(c, &path));
            if !still_wanted && !owned_elsewhere && !path.is_empty() {
                apply::remove(&mut object, &path);
            }
        }
        for (path, value) in leaves {
            apply::set(&mut object, &path, value);
        }
        let managers = with_manager(managers, manager, config);
        let object = self.admit(target, Some(&existing.object), object)?;
        self.insert(target, &name, object, managers)
    }

    pub fn delete(&mut self, target: &Target) -> Result<Value, ApiError> {
        let name = target.name.clone().unwrap_or_default();
        let entry = self.objects.remove(&key(target, &name)).ok_or_else(|| not_found(target, &name))?;
        if target.resource.kind == "Namespace" {
            // The namespace controller's work, done at once: everything in
            // the namespace goes with it.
            self.objects.retain(|(_, ns, _), _| *ns != name);
        }
        let mut object = entry.object;
        apply::set(&mut object, &["metadata".into(), "deletionTimestamp".into()], json!(now()));
        Ok(object)
    }

    /// Validates a new version of an object and fills in what the server
    /// owns; `previous` is the stored version, if any.
    fn admit(&self, target: &Target, previous: Option<&Value>, mut object: Value) -> Result<Value, ApiError> {
        check_type(target.resource, &object)?;
        if let Some(namespace) = &target.namespace {
            apply::set(&mut object, &["metadata".into(), "namespace".into()], json!(namespace));
        }
        let meta = |field: &str| previous.and_then(|p| p.pointer(&format!("/metadata/{field}"))).cloned();
        let uid = meta("uid").unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        let created = meta("creationTimestamp").unwrap_or_else(|| json!(now()));
        let generation = meta("generation").and_then(|g| g.as_i64()).unwrap_or(0);
        let spec_changed = previous.is_none_or(|p| without_meta_and_status(p) != without_meta_and_status(&object));
        for (field, value) in [("uid", uid), ("creationTimestamp", created)] {
            apply::set(&mut object, &["metadata".into(), field.into()], value);
        }
        let generation = if spec_changed { generation + 1 } else { generation };
        apply::set(&mut object, &["metadata".into(), "generation".into()], json!(generation));
        if let Some(status) = previous.and_then(|p| p.get("status")) {
            apply::set(&mut object, &["status".into()], status.clone());
        }
        if target.resource.kind == "Namespace" {
            apply::set(&mut object, &["status".into(), "phase".into()], json!("Active"));
        }
        if let Some(rv) = previous.and_then(|p| p.pointer("/metadata/resourceVersion")) {
            apply::set(&mut object, &["metadata".into(), "resourceVersion".into()], rv.clone());
        }
        schema::validate(target.resource, &object)?;
        Ok(object)
    }

    /// Stores an admitted object; a write that changes nothing keeps its
    /// resourceVersion, as on a real server.
    fn insert(
        &mut self,
        target: &Target,
        name: &str,
        mut object: Value,
        managers: Vec<(String, Value)>,
    ) -> Result<Value, ApiError> {
        let key = key(target, name);
        let unchanged = self.objects.get(&key).is_some_and(|entry| entry.object == object);
        if !unchanged {
            let revision = self.next_revision();
            apply::set(&mut object, &["metadata".into(), "resourceVersion".into()], json!(revision));
        }
        self.objects.insert(key, Entry { object: object.clone(), managers });
        if self.deployment_controller && target.resource.kind == "Deployment" && !unchanged {
            crate::controller::reconcile_deployment(self, target, name);
            return self.get(&Target { name: Some(name.to_owned()), ..target.clone() });
        }
        Ok(object)
    }

    /// Stores an object as a controller would: no validation of the
    /// request, no managers.
    pub(crate) fn put_status(&mut self, target: &Target, name: &str, object: Value) {
        let mut object = object;
        let revision = self.next_revision();
        apply::set(&mut object, &["metadata".into(), "resourceVersion".into()], json!(revision));
        let managers = self.objects.get(&key(target, name)).map(|e| e.managers.clone()).unwrap_or_default();
        self.objects.insert(key(target, name), Entry { object, managers });
    }

    pub(crate) fn remove(&mut self, target: &Target, name: &str) {
        self.objects.remove(&key(target, name));
    }

    fn check_namespace(&self, target: &Target) -> Result<(), ApiError> {
        let Some(namespace) = &target.namespace else { return Ok(()) };
        let exists = self.objects.contains_key(&("v1/namespaces".to_owned(), String::new(), namespace.clone()));
        if exists { Ok(()) } else { Err(ApiError::not_found(format!("namespaces {namespace:?} not found"))) }
    }

    /// Every stored object, for tests' inspection.
    pub fn all(&self) -> Vec<Value> {
        self.objects.values().map(|entry| entry.object.clone()).collect()
    }

    /// The stored object of a kind, if any.
    pub fn find(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let resource = resource_of(api_version, kind)?;
        let key = (resource_id(resource), namespace.unwrap_or_default().to_owned(), name.to_owned());
        self.objects.get(&key).map(|entry| entry.object.clone())
    }

    /// Objects of a kind in a namespace, for the simulated controller.
    pub(crate) fn in_namespace(&self, resource: &Resource, namespace: &str) -> Vec<Value> {
        let id = resource_id(resource);
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| *r == id && ns == namespace)
            .map(|(_, entry)| entry.object.clone())
            .collect()
    }

    /// The field managers of an object, for tests.
    pub fn managers(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Vec<String> {
        let Some(resource) = resource_of(api_version, kind) else { return Vec::new() };
        let key = (resource_id(resource), namespace.unwrap_or_default().to_owned(), name.to_owned());
        self.objects.get(&key).map(|e| e.managers.iter().map(|(m, _)| m.clone()).collect()).unwrap_or_default()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn with_manager(mut managers: Vec<(String, Value)>, manager: &str, config: Value) -> Vec<(String, Value)> {
    match managers.iter_mut().find(|(m, _)| m == manager) {
        Some(slot) => slot.1 = config,
        None => managers.push((manager.to_owned(), config)),
    }
    managers
}

/// Fields of `leaves` that another applying manager set to another value.
fn conflicting(
    managers: &[(String, Value)],
    manager: &str,
    leaves: &[(Vec<String>, Value)],
    object: &Value,
) -> Vec<String> {
    leaves
        .iter()
        .filter(|(path, value)| {
            managers.iter().any(|(m, c)| m != manager && !m.starts_with("update:") && apply::get(c, path).is_some())
                && apply::get(object, path) != Some(value)
        })
        .map(|(path, _)| path.join("."))
        .collect()
}

fn body_name(body: &Value) -> Result<String, ApiError> {
    body.pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid("metadata.name: Required value: name is required"))
}

/// A client's body without the fields only the server may set.
fn clean(mut body: Value) -> Value {
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_FIELDS {
            meta.remove(field);
        }
    }
    if let Some(object) = body.as_object_mut() {
        object.remove("status");
    }
    body
}

fn check_type(resource: &Resource, object: &Value) -> Result<(), ApiError> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version != resource.api_version() || kind != resource.kind {
        return Err(ApiError::bad_request(format!(
            "the body is a {api_version}/{kind}, the URL names {}/{}",
            resource.api_version(),
            resource.kind
        )));
    }
    Ok(())
}

fn without_meta_and_status(object: &Value) -> Map<String, Value> {
    let mut map = object.as_object().cloned().unwrap_or_default();
    map.remove("metadata");
    map.remove("status");
    map
}

fn not_found(target: &Target, name: &str) -> ApiError {
    let group = if target.resource.group.is_empty() { String::new() } else { format!(".{}", target.resource.group) };
    ApiError::not_found(format!("{}{group} {name:?} not found", target.resource.plural))
}

/// The resource of a plural in the core group, for the controller.
pub(crate) fn core_resource(plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group.is_empty() && r.plural == plural)
}
