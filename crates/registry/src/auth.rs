//! Registry credentials: Docker's `config.json` `auths` (what a Kubernetes
//! `kubernetes.io/dockerconfigjson` secret holds), and the token dance a
//! registry asks for in its `WWW-Authenticate` challenge.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::RegistryError;
use crate::reference::DOCKER_HUB;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The `auths` of one or more Docker config files, by registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerAuths {
    by_registry: BTreeMap<String, Credentials>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerAuths {
    /// Reads a Docker `config.json`. Errors name the registry entry, never a value.
    pub fn parse(json: &str) -> Result<DockerAuths, RegistryError> {
        let file: ConfigFile = serde_json::from_str(json).map_err(|e| RegistryError::InvalidCredentials {
            reason: format!("not a Docker config.json with `auths` (line {}, column {})", e.line(), e.column()),
        })?;
        let mut auths = DockerAuths::default();
        for (key, entry) in file.auths {
            let credentials = entry.credentials().ok_or_else(|| RegistryError::InvalidCredentials {
                reason: format!(
                    "the entry for {key:?} has neither `auth` (base64 of user:password) nor `username` and `password`"
                ),
            })?;
            auths.by_registry.insert(registry_of(&key), credentials);
        }
        Ok(auths)
    }

    /// Adds another file's entries; a later file wins for the same registry.
    pub fn merge(&mut self, other: DockerAuths) {
        self.by_registry.extend(other.by_registry);
    }

    pub fn get(&self, registry: &str) -> Option<&Credentials> {
        self.by_registry.get(registry)
    }

    pub fn is_empty(&self) -> bool {
        self.by_registry.is_empty()
    }

    /// The merged file, as podman's `--authfile` reads it.
    pub fn to_config_json(&self) -> String {
        let auths: serde_json::Map<String, serde_json::Value> = self
            .by_registry
            .iter()
            .map(|(registry, c)| {
                let auth = STANDARD.encode(format!("{}:{}", c.username, c.password));
                (registry.clone(), serde_json::json!({ "auth": auth }))
            })
            .collect();
        serde_json::json!({ "auths": auths }).to_string()
    }
}

impl AuthEntry {
    fn credentials(self) -> Option<Credentials> {
        if let (Some(username), Some(password)) = (self.username, self.password) {
            return Some(Credentials { username, password });
        }
        let decoded = STANDARD.decode(self.auth?.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        Some(Credentials { username: username.to_owned(), password: password.to_owned() })
    }
}

/// The registry a config key names: keys may be URLs
/// (`https://index.docker.io/v1/`) or bare hosts.
fn registry_of(key: &str) -> String {
    let host = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB.to_owned(),
        other => other.to_owned(),
    }
}

/// What a registry's 401 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    /// Fetch a token from `realm` for `service` and `scope`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
    pub(crate) fn parse(header: &str) -> Option<Challenge> {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key="value", key=value` pairs; commas inside quotes belong to the value
/// (scopes such as `repository:a:pull,push` have them).
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remaining)) => (value, remaining),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        params.insert(key, value.to_owned());
        rest = remaining.trim_start().trim_start_matches(',');
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_gives_credentials_per_registry() {
        let auth = STANDARD.encode("robot:s3cret");
        let json = format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}},
                "127.0.0.1:5056": {{"username": "ci", "password": "pw:with:colons"}}}}}}"#
        );
        let auths = DockerAuths::parse(&json).expect("a config");
        let hub = auths.get("docker.io").expect("docker hub entry");
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("robot", "s3cret"));
        assert_eq!(auths.get("127.0.0.1:5056").map(|c| c.password.as_str()), Some("pw:with:colons"));
        assert_eq!(DockerAuths::parse(&auths.to_config_json()).expect("round trip"), auths);
    }

    #[test]
    fn a_broken_config_is_refused_without_echoing_it() {
        let error = DockerAuths::parse(r#"{"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}}"#).expect_err("no colon");
        assert!(error.to_string().contains("r.io"), "{error}");
        let error = DockerAuths::parse("hunter2").expect_err("not json");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{:?}", Credentials { username: "u".into(), password: "hunter2".into() }).contains("hunter2"));
    }

    #[test]
    fn challenges_name_the_token_service() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
            })
        );
        let with_commas = r#"Bearer realm="https://r.io/token", scope="repository:a:pull,push""#;
        assert!(
            matches!(Challenge::parse(with_commas), Some(Challenge::Bearer { scope: Some(s), .. }) if s == "repository:a:pull,push")
        );
        assert_eq!(Challenge::parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(Challenge::parse("Negotiate"), None);
    }
}
