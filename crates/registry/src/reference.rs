//! Image references as `docker pull` reads them: `alpine:3.20`,
//! `ghcr.io/org/tool:v1`, `127.0.0.1:5000/team/app@sha256:…`.

use std::fmt;

use crate::RegistryError;

/// Where a name without a registry lives, as Docker and podman assume.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually answers for [`DOCKER_HUB`].
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest means.
const DEFAULT_TAG: &str = "latest";

/// A parsed, fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`, [`DOCKER_HUB`] when the reference names none.
    pub registry: String,
    /// The repository path, with Docker Hub's `library/` filled in.
    pub repository: String,
    /// What the reference points at.
    pub target: Target,
}

/// A moving tag or a fixed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(String),
    Digest(Digest),
}

/// A content digest such as `sha256:0123…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest(String);

impl Digest {
    /// Checks `algorithm:hex`; only sha256 and sha512 occur in practice.
    pub fn parse(text: &str) -> Result<Digest, RegistryError> {
        let bad = || RegistryError::InvalidReference {
            reference: text.to_owned(),
            reason: "a digest is `sha256:` followed by 64 lower-case hex digits".to_owned(),
        };
        let (algorithm, hex) = text.split_once(':').ok_or_else(bad)?;
        let length = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(bad()),
        };
        if hex.len() != length || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad());
        }
        Ok(Digest(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ImageRef {
    /// Parses a reference the way `docker pull` does.
    pub fn parse(reference: &str) -> Result<ImageRef, RegistryError> {
        let invalid = |reason: &str| RegistryError::InvalidReference {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        if reference.is_empty() || reference.len() > 1024 || reference.chars().any(char::is_whitespace) {
            return Err(invalid("an image reference is one word such as `alpine:3.20`"));
        }
        let (named, digest) = match reference.split_once('@') {
            Some((named, digest)) => (named, Some(Digest::parse(digest)?)),
            None => (reference, None),
        };
        let (registry, path) = split_registry(named);
        // A tag is after the last `:` of the last path component, so that a
        // registry port is never read as one.
        let (path, tag) = match path.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
            _ => (path, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(
                "a tag is letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
            ));
        }
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(invalid(
                "repository names are lower-case letters and digits separated by `/`, `.`, `_`, `__` or `-`",
            ));
        }
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_owned() };
        let target = match digest {
            Some(digest) => Target::Digest(digest),
            None => Target::Tag(tag.unwrap_or(DEFAULT_TAG).to_owned()),
        };
        Ok(ImageRef { registry: registry.to_owned(), repository, target })
    }

    /// The host (and port) the registry API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// The same image pinned to `digest`: `registry/repository@digest`.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }

    /// The tag or digest, as the manifest URL takes it.
    pub fn manifest_reference(&self) -> &str {
        match &self.target {
            Target::Tag(tag) => tag,
            Target::Digest(digest) => digest.as_str(),
        }
    }
}

/// Splits off the registry: the first component is one when it has a `.` or
/// a `:`, or is `localhost` (Docker's rule); otherwise it is Docker Hub.
fn split_registry(named: &str) -> (&str, &str) {
    match named.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            let registry = if matches!(first, "index.docker.io" | DOCKER_HUB_API) { DOCKER_HUB } else { first };
            (registry, rest)
        }
        _ => (DOCKER_HUB, named),
    }
}

fn valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-'])
}

/// `[a-z0-9]+` runs separated by `.`, `_`, `__` or one or more `-`.
fn valid_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut runs = component.split(alnum).filter(|run| !run.is_empty());
    component.starts_with(alnum)
        && component.ends_with(alnum)
        && runs.all(|separator| {
            matches!(separator, "." | "_" | "__") || (!separator.is_empty() && separator.chars().all(|c| c == '-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(reference: &str) -> (String, String, String) {
        let image = ImageRef::parse(reference).expect("a valid reference");
        (image.registry.clone(), image.repository.clone(), image.manifest_reference().to_owned())
    }

    #[test]
    fn a_short_name_is_docker_hubs_library_at_latest() {
        assert_eq!(parsed("alpine"), ("docker.io".into(), "library/alpine".into(), "latest".into()));
        assert_eq!(parsed("alpine:3.20"), ("docker.io".into(), "library/alpine".into(), "3.20".into()));
        assert_eq!(parsed("pachyderm/opencv:1.0"), ("docker.io".into(), "pachyderm/opencv".into(), "1.0".into()));
        assert_eq!(ImageRef::parse("alpine").expect("valid").api_host(), "registry-1.docker.io");
    }

    #[test]
    fn a_first_component_with_a_dot_colon_or_localhost_is_the_registry() {
        assert_eq!(parsed("ghcr.io/org/tool:v1"), ("ghcr.io".into(), "org/tool".into(), "v1".into()));
        assert_eq!(
            parsed("127.0.0.1:5055/strata-test/busybox:1"),
            ("127.0.0.1:5055".into(), "strata-test/busybox".into(), "1".into())
        );
        assert_eq!(parsed("localhost/app"), ("localhost".into(), "app".into(), "latest".into()));
        assert_eq!(parsed("127.0.0.1:5055/app"), ("127.0.0.1:5055".into(), "app".into(), "latest".into()));
        assert_eq!(parsed("docker.io/alpine"), ("docker.io".into(), "library/alpine".into(), "latest".into()));
    }

    #[test]
    fn a_digest_pins_the_reference_and_round_trips() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let image = ImageRef::parse(&format!("alpine:3.20@{digest}")).expect("valid");
        assert_eq!(image.target, Target::Digest(Digest::parse(&digest).expect("valid")));
        let pinned = image.pinned(&Digest::parse(&digest).expect("valid"));
        assert_eq!(pinned, format!("docker.io/library/alpine@{digest}"));
        assert_eq!(ImageRef::parse(&pinned).expect("valid"), ImageRef { ..image });
    }

    #[test]
    fn malformed_references_are_refused_with_the_rule() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine:-x",
            "a b",
            "alpine@sha256:abc",
            "alpine@md5:00",
            "org//app",
            "-app",
            "app-",
            "a..b",
        ] {
            let error = ImageRef::parse(bad).expect_err(bad);
            assert!(matches!(error, RegistryError::InvalidReference { .. }), "{bad}: {error}");
        }
        for good in ["a__b", "a-b", "a--b", "a.b", "a_b", "x/y.z/w"] {
            ImageRef::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }
}
