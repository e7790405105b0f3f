//! Server-side apply, in the model the fake keeps: each field manager owns
//! the leaf fields of the configuration it last applied. Maps merge field by
//! field; lists and scalars are atomic (a real server merges some lists by
//! key; the provisioner always applies whole lists, so the difference does
//! not show). Applying again with fewer fields removes the fields the
//! manager dropped, unless another manager owns them too.

use serde_json::{Map, Value};

/// A leaf path, as JSON object keys from the root.
type Path = Vec<String>;

/// The leaf paths of an applied configuration with their values.
pub fn leaves(value: &Value) -> Vec<(Path, Value)> {
    let mut out = Vec::new();
    collect(value, &mut Vec::new(), &mut out);
    out
}

fn collect(value: &Value, path: &mut Path, out: &mut Vec<(Path, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                collect(child, path, out);
                path.pop();
            }
        }
        other => out.push((path.clone(), other.clone())),
    }
}

pub fn get<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |node, key| node.as_object()?.get(key))
}

/// Sets `path` in `value`, creating maps on the way.
pub fn set(value: &mut Value, path: &[String], leaf: Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = leaf;
        return;
    };
    let mut node = value;
    for key in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), leaf);
    }
}

/// Removes `path` and any maps it leaves empty.
pub fn remove(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    let Value::Object(map) = value else { return };
    if rest.is_empty() {
        map.remove(first);
        return;
    }
    if let Some(child) = map.get_mut(first) {
        remove(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            map.remove(first);
        }
    }
}

/// Whether `path` or a field below or above it appears in `config`.
pub fn overlaps(config: &Value, path: &[String]) -> bool {
    let mut node = config;
    for key in path {
        match node {
            Value::Object(map) => match map.get(key) {
                Some(child) => node = child,
                None => return false,
            },
            // A leaf above `path` owns everything below it.
            _ => return true,
        }
    }
    true
}

/// JSON merge patch (RFC 7386): `null` deletes, maps merge, the rest replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> Path {
        text.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn leaves_stop_at_lists_and_scalars() {
        let config = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}, "metadata": {"labels": {}}});
        let mut found: Vec<String> = leaves(&config).into_iter().map(|(p, _)| p.join(".")).collect();
        found.sort();
        assert_eq!(found, ["metadata.labels", "spec.ports", "spec.replicas"]);
    }

    #[test]
    fn set_and_remove_keep_the_tree_tidy() {
        let mut object = json!({});
        set(&mut object, &path("spec.template.replicas"), json!(3));
        assert_eq!(object, json!({"spec": {"template": {"replicas": 3}}}));
        remove(&mut object, &path("spec.template.replicas"));
        assert_eq!(object, json!({}));
    }

    #[test]
    fn overlap_sees_fields_above_and_below() {
        let config = json!({"spec": {"replicas": 2, "selector": {"app": "x"}}});
        assert!(overlaps(&config, &path("spec.replicas")));
        assert!(overlaps(&config, &path("spec.selector.app")));
        assert!(overlaps(&config, &path("spec")));
        assert!(!overlaps(&config, &path("spec.template")));
    }

    #[test]
    fn merge_patch_deletes_with_null() {
        let mut object = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}});
        merge_patch(&mut object, &json!({"metadata": {"annotations": {"a": null, "c": "3"}}}));
        assert_eq!(object, json!({"metadata": {"annotations": {"b": "2", "c": "3"}}}));
    }
}
