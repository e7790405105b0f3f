//! The format-neutral document tree and the typed readers over it.
//!
//! JSON and YAML are both read into [`Node`] first, instead of deserializing
//! straight into typed structs, so that every later error can name its field
//! path, duplicate keys (`joinOn` next to `join_on`) are seen rather than one
//! silently winning, and unknown fields can suggest the closest known one.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Format, SpecError, limits};

/// A parsed JSON or YAML value with keys in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn from_json(value: &Value) -> Node {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Node::Int(i128::from(i)),
                (None, Some(u), _) => Node::Int(i128::from(u)),
                (None, None, Some(f)) => Node::Float(f),
                // Only reachable with arbitrary-precision numbers.
                (None, None, None) => Node::Str(n.to_string()),
            },
            Value::String(s) => Node::Str(s.clone()),
            Value::Array(items) => Node::Seq(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => Node::Map(map.iter().map(|(k, v)| (k.clone(), Node::from_json(v))).collect()),
        }
    }

    /// How the value reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => format!("the boolean {b}"),
            Node::Int(i) => format!("the number {i}"),
            Node::Float(f) => format!("the number {f}"),
            Node::Str(s) => format!("the string {s:?}"),
            Node::Seq(_) => "a list".to_owned(),
            Node::Map(_) => "an object".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(i128::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(i128::from(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let Node::Str(key) = key else {
                return Err(de::Error::custom(format!(
                    "field names must be strings, found {}; quote the key",
                    key.describe()
                )));
            };
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Node::Map(entries))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Node, A::Error> {
        Err(de::Error::custom("YAML tags such as `!Name` are not supported in pipeline specs"))
    }
}

/// Splits `text` into spec documents, read as `format` only: a spec that
/// fails as JSON is not tried again as YAML (YAML's flow style also starts
/// with `{`, and a second parse doubled the cost of every bad request). JSON
/// may be an array of specs or several concatenated objects; YAML a stream
/// of documents. Top-level lists are flattened and empty documents skipped.
pub(crate) fn documents(text: &str, format: Format) -> Result<Vec<Node>, SpecError> {
    let text = text.trim_start_matches('\u{feff}');
    limits::check_flow_depth(text)?;
    let roots = match format {
        Format::Json => json_documents(text)?,
        Format::Yaml => yaml_documents(text)?,
    };
    let mut specs = Vec::new();
    for root in roots {
        limits::check_tree_depth(&root)?;
        match root {
            Node::Null => {}
            Node::Seq(items) => specs.extend(items),
            other => specs.push(other),
        }
    }
    Ok(specs)
}

fn json_documents(text: &str) -> Result<Vec<Node>, SpecError> {
    serde_json::Deserializer::from_str(text).into_iter::<Node>().collect::<Result<Vec<_>, _>>().map_err(|e| {
        SpecError::new("", format!("invalid JSON: {e}"))
            .hint("a spec in YAML's flow style is read as YAML only when sent as YAML (a `.yaml` file)")
    })
}

fn yaml_documents(text: &str) -> Result<Vec<Node>, SpecError> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(Node::deserialize)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SpecError::new("", format!("invalid YAML: {e}")))
}

/// `prefix.field`, or `field` at the top.
pub(crate) fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") }
}

/// `join_on` → `joinOn`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `joinOn` → `join_on`, and lower-cases the rest, for comparing near misses.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// The fields one kind of object accepts, and what to say about the others.
#[derive(Debug)]
pub(crate) struct Shape {
    /// Canonical snake_case names; the camelCase form is accepted too.
    pub fields: &'static [&'static str],
    /// Pachyderm fields Strata does not support, with what to do instead.
    pub unsupported: &'static [(&'static str, &'static str)],
    /// Fields that belong somewhere else, with where.
    pub misplaced: &'static [(&'static str, &'static str)],
}

/// The fields of one object, keyed by canonical name, `null`s dropped.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    path: String,
    /// In document order, so errors about combinations name the later field.
    values: Vec<(&'static str, &'a Node)>,
}

impl<'a> Fields<'a> {
    /// Reads `node` as an object of `shape`.
    pub(crate) fn read(node: &'a Node, path: &str, shape: &Shape) -> Result<Self, SpecError> {
        let Node::Map(entries) = node else {
            return Err(type_error(path, "an object", node));
        };
        let mut values = Vec::new();
        let mut spelled: BTreeMap<&'static str, &str> = BTreeMap::new();
        for (key, value) in entries {
            let Some(field) = shape.fields.iter().copied().find(|f| *f == key || camel(f) == *key) else {
                return Err(unknown_field(path, key, shape));
            };
            if let Some(previous) = spelled.insert(field, key) {
                let message = if previous == key {
                    format!("`{key}` is given twice")
                } else {
                    format!("`{key}` and `{previous}` are the same field, given twice")
                };
                return Err(SpecError::new(join(path, field), message).hint("keep one of them"));
            }
            if !matches!(value, Node::Null) {
                values.push((field, value));
            }
        }
        Ok(Self { path: path.to_owned(), values })
    }

    pub(crate) fn path_of(&self, field: &str) -> String {
        join(&self.path, field)
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Node> {
        self.values.iter().find(|(name, _)| *name == field).map(|(_, node)| *node)
    }

    /// The fields present, in document order.
    pub(crate) fn present(&self) -> &[(&'static str, &'a Node)] {
        &self.values
    }

    pub(crate) fn missing(&self, field: &str, hint: &str) -> SpecError {
        SpecError::new(self.path_of(field), "missing; this field is required").hint(hint)
    }

    pub(crate) fn string(&self, field: &str) -> Result<Option<String>, SpecError> {
        self.get(field).map(|node| string(node, &self.path_of(field))).transpose()
    }

    pub(crate) fn required_string(&self, field: &str, hint: &str) -> Result<String, SpecError> {
        self.string(field)?.ok_or_else(|| self.missing(field, hint))
    }

    /// An optional boolean, false when absent.
    pub(crate) fn flag(&self, field: &str) -> Result<bool, SpecError> {
        let Some(node) = self.get(field) else { return Ok(false) };
        match node {
            Node::Bool(b) => Ok(*b),
            other => {
                let error = type_error(&self.path_of(field), "true or false", other);
                Err(match other {
                    Node::Str(_) => {
                        error.hint("write true or false without quotes; YAML's yes/no/on/off are plain strings here")
                    }
                    _ => error,
                })
            }
        }
    }

    pub(crate) fn whole_number(&self, field: &str) -> Result<Option<u32>, SpecError> {
        let Some(node) = self.get(field) else { return Ok(None) };
        let path = self.path_of(field);
        match node {
            Node::Int(i) => u32::try_from(*i).map(Some).map_err(|_| {
                SpecError::new(path, format!("{i} is out of range")).hint("use a whole number from 1 to 4294967295")
            }),
            Node::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX) => {
                // YAML and some JSON writers print whole numbers as `3.0`;
                // the guard keeps the cast exact.
                Ok(Some(*f as u32))
            }
            other => Err(type_error(&path, "a whole number", other)),
        }
    }

    /// A list of strings; empty when absent.
    pub(crate) fn string_list(&self, field: &str) -> Result<Vec<String>, SpecError> {
        let Some(node) = self.get(field) else { return Ok(Vec::new()) };
        let path = self.path_of(field);
        let Node::Seq(items) = node else {
            let error = type_error(&path, "a list of strings", node);
            return Err(match node {
                Node::Str(s) => error.hint(format!(
                    "write a list, one argument per item: [{}]",
                    s.split_whitespace().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(", ")
                )),
                _ => error,
            });
        };
        items.iter().enumerate().map(|(i, item)| string(item, &format!("{path}[{i}]"))).collect()
    }

    /// A map of strings to strings; empty when absent.
    pub(crate) fn string_map(&self, field: &str) -> Result<BTreeMap<String, String>, SpecError> {
        let Some(node) = self.get(field) else { return Ok(BTreeMap::new()) };
        let path = self.path_of(field);
        let Node::Map(entries) = node else {
            return Err(type_error(&path, "an object of string values", node));
        };
        let mut map = BTreeMap::new();
        for (key, value) in entries {
            let value_path = join(&path, key);
            if map.insert(key.clone(), string(value, &value_path)?).is_some() {
                return Err(SpecError::new(value_path, format!("`{key}` is given twice")).hint("keep one of them"));
            }
        }
        Ok(map)
    }
}

/// A string value. Numbers and booleans are not turned into strings: YAML
/// reads `branch: 2024` as a number and `name: no` as a string, and quietly
/// guessing either way hides mistakes.
pub(crate) fn string(node: &Node, path: &str) -> Result<String, SpecError> {
    match node {
        Node::Str(s) => Ok(s.clone()),
        Node::Int(_) | Node::Float(_) | Node::Bool(_) => Err(type_error(path, "a string", node)
            .hint("put the value in quotes; unquoted, YAML reads it as a number or boolean")),
        other => Err(type_error(path, "a string", other)),
    }
}

pub(crate) fn type_error(path: &str, expected: &str, found: &Node) -> SpecError {
    SpecError::new(path, format!("expected {expected}, found {}", found.describe()))
}

fn unknown_field(path: &str, key: &str, shape: &Shape) -> SpecError {
    let at = join(path, key);
    let canonical = snake(key);
    if let Some((_, what)) = shape.unsupported.iter().find(|(f, _)| *f == canonical) {
        return SpecError::new(at, format!("`{key}` is a Pachyderm field that Strata does not support")).hint(*what);
    }
    if let Some((_, place)) = shape.misplaced.iter().find(|(f, _)| *f == canonical) {
        return SpecError::new(at, format!("unknown field `{key}` here")).hint(format!("`{key}` belongs in {place}"));
    }
    let message = format!("unknown field `{key}`");
    let error = SpecError::new(at, message);
    match closest(&canonical, shape.fields) {
        Some(best) => {
            // Suggest in the style the file uses.
            let spelled = if key.chars().any(|c| c.is_ascii_uppercase()) { camel(best) } else { best.to_owned() };
            error.hint(format!("did you mean `{spelled}`?"))
        }
        None => error.hint(format!("known fields here: {}", shape.fields.join(", "))),
    }
}

/// The known field nearest to `key`, if it is near enough to be a typo.
fn closest(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    let squash = |s: &str| s.replace('_', "");
    fields
        .iter()
        .copied()
        .map(|field| {
            let distance = if squash(field) == squash(key) { 0 } else { strsim::damerau_levenshtein(key, field) };
            (distance, field)
        })
        .filter(|(distance, field)| *distance <= (field.len() / 3).max(1) || (key.len() >= 4 && field.starts_with(key)))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, field)| field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_and_snake_forms_convert_both_ways() {
        assert_eq!(camel("join_on"), "joinOn");
        assert_eq!(camel("parallelism_spec"), "parallelismSpec");
        assert_eq!(camel("glob"), "glob");
        assert_eq!(snake("joinOn"), "join_on");
        assert_eq!(snake("JoinOn"), "join_on");
    }

    #[test]
    fn near_misses_find_their_field_and_strangers_do_not() {
        let fields = &["join_on", "group_by", "glob", "repo", "datum_tries", "parallelism_spec"];
        assert_eq!(closest("joinon", fields), Some("join_on"));
        assert_eq!(closest("join_one", fields), Some("join_on"));
        assert_eq!(closest("datum_try", fields), Some("datum_tries"));
        assert_eq!(closest("parallelism", fields), Some("parallelism_spec"));
        assert_eq!(closest("repository", fields), None);
        assert_eq!(closest("zzz", fields), None);
    }

    #[test]
    fn concatenated_json_objects_and_arrays_are_separate_specs() {
        let docs = documents("{\"a\": 1} {\"b\": 2}\n[{\"c\": 3}, {\"d\": 4}]", Format::Json).expect("parses");
        assert_eq!(docs.len(), 4);
    }

    #[test]
    fn yaml_streams_skip_empty_documents() {
        let docs = documents("---\na: 1\n---\n---\nb: 2\n", Format::Yaml).expect("parses");
        assert_eq!(docs.len(), 2);
    }
}
