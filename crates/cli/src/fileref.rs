//! `REPO@REF[:/PATH]` arguments.

use anyhow::{anyhow, bail};

/// A parsed `REPO@REF[:/PATH]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub repo: String,
    pub reference: String,
    /// `None` when no `:PATH` was given.
    pub path: Option<String>,
}

impl FileRef {
    /// Parses `REPO@REF[:PATH]`; `REF` defaults to nothing (an error).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (repo, rest) = text
            .split_once('@')
            .ok_or_else(|| anyhow!("`{text}` is not REPO@REF[:/PATH] (for example images@master:/cats)"))?;
        let (reference, path) = match rest.split_once(':') {
            Some((reference, path)) => (reference, Some(path.to_owned())),
            None => (rest, None),
        };
        if repo.is_empty() || reference.is_empty() {
            bail!("`{text}` is not REPO@REF[:/PATH] (for example images@master:/cats)");
        }
        Ok(Self { repo: repo.to_owned(), reference: reference.to_owned(), path })
    }

    /// The path, or `default`.
    pub fn path_or(&self, default: &str) -> String {
        self.path.clone().unwrap_or_else(|| default.to_owned())
    }

    /// The path, required.
    pub fn required_path(&self) -> anyhow::Result<String> {
        self.path.clone().ok_or_else(|| {
            anyhow!("`{}@{}` needs a path, e.g. {}@{}:/file.txt", self.repo, self.reference, self.repo, self.reference)
        })
    }
}

/// Parses `REPO@BRANCH` (no path allowed).
pub fn repo_branch(text: &str) -> anyhow::Result<(String, String)> {
    let parsed = FileRef::parse(text)?;
    if parsed.path.is_some() {
        bail!("`{text}` should be REPO@BRANCH, without a path");
    }
    Ok((parsed.repo, parsed.reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repo_ref_and_path() {
        let parsed = FileRef::parse("images@master^:/cats/1.png").expect("parse");
        assert_eq!(
            parsed,
            FileRef { repo: "images".into(), reference: "master^".into(), path: Some("/cats/1.png".into()) }
        );
        assert_eq!(FileRef::parse("images@master").expect("parse").path, None);
    }

    #[test]
    fn malformed_references_explain_the_shape() {
        for bad in ["images", "@master", "images@", "images@:/x"] {
            let error = FileRef::parse(bad).expect_err(bad);
            assert!(error.to_string().contains("REPO@REF"), "{error}");
        }
    }
}
