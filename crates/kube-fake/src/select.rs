//! Label selectors as `?labelSelector=` carries them: `k=v`, `k==v`,
//! `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, joined by commas.

use serde_json::{Map, Value};

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, ApiError> {
        split_top_level(text)
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .map(|part| requirement(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(Selector)
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::Absent(k) => get(k).is_none(),
            Requirement::In(k, values) => get(k).is_some_and(|v| values.iter().any(|x| x == v)),
            Requirement::NotIn(k, values) => get(k).is_none_or(|v| !values.iter().any(|x| x == v)),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn requirement(part: &str) -> Result<Requirement, ApiError> {
    let invalid = || ApiError::bad_request(format!("unable to parse requirement: {part:?}"));
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(key.trim().into(), value.trim().into()));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key.trim().into(), value.trim().into()));
    }
    for (word, notin) in [(" notin ", true), (" in ", false)] {
        if let Some((key, values)) = part.split_once(word) {
            let values = values.trim().strip_prefix('(').and_then(|v| v.strip_suffix(')')).ok_or_else(invalid)?;
            let values = values.split(',').map(|v| v.trim().to_owned()).collect();
            let key = key.trim().to_owned();
            return Ok(if notin { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    match part.strip_prefix('!') {
        Some(key) if !key.trim().is_empty() => Ok(Requirement::Absent(key.trim().into())),
        None if !part.contains(char::is_whitespace) => Ok(Requirement::Exists(part.into())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("labels must be an object, not {other}"),
        }
    }

    #[test]
    fn selectors_match_like_the_api_server() {
        let worker = labels(json!({"app": "worker", "pipeline": "edges"}));
        let server = labels(json!({"app": "server"}));
        let cases = [
            ("app=worker", true, false),
            ("app==worker,pipeline=edges", true, false),
            ("app!=worker", false, true),
            ("pipeline", true, false),
            ("!pipeline", false, true),
            ("app in (worker,server)", true, true),
            ("pipeline notin (edges)", false, true),
            ("", true, true),
        ];
        for (text, on_worker, on_server) in cases {
            let selector = Selector::parse(text).expect(text);
            assert_eq!(selector.matches(Some(&worker)), on_worker, "{text} on worker");
            assert_eq!(selector.matches(Some(&server)), on_server, "{text} on server");
        }
        assert!(Selector::parse("app in worker").is_err());
    }
}
