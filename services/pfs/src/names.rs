//! Names, paths and commit references, validated as Pachyderm does.

use std::fmt;

use crate::error::PfsError;

/// Longest repo or branch name; output repos are named after pipelines,
/// which become Kubernetes object names, so stay well below 253.
const MAX_NAME: usize = 100;
/// Longest file path, in bytes.
pub(crate) const MAX_PATH: usize = 4096;
/// Characters with a meaning in glob patterns, forbidden in file paths.
const GLOB_CHARS: &[char] = &['*', '?', '[', ']', '{', '}', '!', '(', ')', '@', '+', '^'];

fn validate_name(kind: &'static str, name: &str) -> Result<(), PfsError> {
    if name.is_empty() {
        return Err(PfsError::invalid(kind, format!("the {kind} name is empty")));
    }
    if name.len() > MAX_NAME {
        return Err(PfsError::invalid(kind, format!("`{name}` is longer than {MAX_NAME} characters")));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(PfsError::invalid(
            kind,
            format!("`{name}` contains {bad:?}; use only letters, digits, `_` and `-`"),
        ));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates `name`: `^[a-zA-Z0-9_-]+$`, at most 100 characters.
            pub fn parse(name: &str) -> Result<Self, PfsError> {
                validate_name($kind, name)?;
                Ok(Self(name.to_owned()))
            }

            /// A name read back from the database, where only validated
            /// names are written.
            pub(crate) fn from_stored(name: String) -> Self {
                Self(name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A repo name.
    RepoName,
    "repo"
);
name_type!(
    /// A branch name.
    BranchName,
    "branch"
);

/// Normalises and validates a file path: printable ASCII, no glob
/// characters, no `.` or `..` elements; returns it with one leading `/`,
/// no trailing `/` and no empty elements. The root is `/`.
pub(crate) fn clean_path(path: &str) -> Result<String, PfsError> {
    if path.len() > MAX_PATH {
        return Err(PfsError::invalid("path", format!("longer than {MAX_PATH} bytes")));
    }
    if let Some(bad) = path.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(PfsError::invalid(
            "path",
            format!("`{}` contains {bad:?}; paths must be printable ASCII", path.escape_debug()),
        ));
    }
    if let Some(bad) = path.chars().find(|c| GLOB_CHARS.contains(c)) {
        return Err(PfsError::invalid(
            "path",
            format!("`{path}` contains the glob character `{bad}`, which paths may not contain"),
        ));
    }
    let mut cleaned = String::with_capacity(path.len() + 1);
    for element in path.split('/').filter(|e| !e.is_empty()) {
        if element == "." || element == ".." {
            return Err(PfsError::invalid(
                "path",
                format!("`{path}` contains `{element}`; use absolute paths without `.` or `..`"),
            ));
        }
        cleaned.push('/');
        cleaned.push_str(element);
    }
    if cleaned.is_empty() {
        cleaned.push('/');
    }
    Ok(cleaned)
}

/// The directory prefix under which a directory's files live: `/a` → `/a/`, `/` → `/`.
pub(crate) fn dir_prefix(dir: &str) -> String {
    if dir == "/" { "/".to_owned() } else { format!("{dir}/") }
}

/// How far to move from the base of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ancestry {
    /// `^N` / `~N`: the N-th ancestor (0 = the commit itself).
    Back(u32),
    /// `.N` on a branch: the N-th commit counted from the oldest (1 = oldest).
    Nth(u32),
}

/// A commit reference: a branch or commit id, with optional ancestry, such
/// as `master`, `master^`, `master~3`, `master.1` or a 32-hex commit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRef {
    /// A branch name or a commit id; resolved by trying a branch first.
    pub base: String,
    pub ancestry: Ancestry,
}

impl CommitRef {
    /// Parses the part after `repo@`.
    pub fn parse(text: &str) -> Result<Self, PfsError> {
        let invalid = |why: &str| PfsError::invalid("commit reference", format!("`{text}`: {why}"));
        let split = text.find(['^', '~']).unwrap_or(text.len());
        let (head, suffix) = text.split_at(split);
        let mut back: u32 = 0;
        let mut rest = suffix;
        while let Some(first) = rest.chars().next() {
            rest = &rest[1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            rest = &rest[digits.len()..];
            let steps = if digits.is_empty() {
                1
            } else {
                digits.parse::<u32>().map_err(|_| invalid("ancestry number too large"))?
            };
            if first != '^' && first != '~' {
                return Err(invalid("expected `^`, `^N` or `~N` after the name"));
            }
            back = back.checked_add(steps).ok_or_else(|| invalid("ancestry number too large"))?;
        }
        let (base, ancestry) = match head.rsplit_once('.') {
            Some((branch, nth)) if !nth.is_empty() && nth.bytes().all(|b| b.is_ascii_digit()) => {
                if back > 0 {
                    return Err(invalid("`.N` cannot be combined with `^` or `~`"));
                }
                let n = nth.parse::<u32>().map_err(|_| invalid("`.N` number too large"))?;
                if n == 0 {
                    return Err(invalid("`.N` counts from 1 (the oldest commit)"));
                }
                (branch, Ancestry::Nth(n))
            }
            _ => (head, Ancestry::Back(back)),
        };
        validate_name("branch or commit", base).map_err(|_| invalid("expected a branch name or a commit id"))?;
        Ok(Self { base: base.to_owned(), ancestry })
    }
}

impl fmt::Display for CommitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ancestry {
            Ancestry::Back(0) => write!(f, "{}", self.base),
            Ancestry::Back(n) => write!(f, "{}~{n}", self.base),
            Ancestry::Nth(n) => write!(f, "{}.{n}", self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_letters_digits_underscore_and_dash_only() {
        assert!(RepoName::parse("images_2024-raw").is_ok());
        for bad in ["", "has space", "dot.ted", "slash/ed", "ünï", &"x".repeat(101)] {
            let error = RepoName::parse(bad).expect_err(bad);
            assert_eq!(error.code().as_str(), "INVALID_ARGUMENT");
        }
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(clean_path("a/b//c/").expect("ok"), "/a/b/c");
        assert_eq!(clean_path("/").expect("ok"), "/");
        assert_eq!(clean_path("").expect("ok"), "/");
        assert_eq!(clean_path("/with space/x.csv").expect("ok"), "/with space/x.csv");
    }

    #[test]
    fn paths_reject_glob_characters_dots_and_control_characters() {
        for bad in ["/a/*.csv", "/a/../b", "/./a", "/tab\there", "/x?", "/[x]", "/caf\u{e9}"] {
            let error = clean_path(bad).expect_err(bad);
            assert_eq!(error.code().as_str(), "INVALID_ARGUMENT", "{bad}");
        }
    }

    #[test]
    fn commit_references_parse_pachyderm_ancestry() {
        let cases = [
            ("master", "master", Ancestry::Back(0)),
            ("master^", "master", Ancestry::Back(1)),
            ("master^^", "master", Ancestry::Back(2)),
            ("master^3", "master", Ancestry::Back(3)),
            ("master~2", "master", Ancestry::Back(2)),
            ("master~", "master", Ancestry::Back(1)),
            ("master.1", "master", Ancestry::Nth(1)),
            ("0123456789abcdef0123456789abcdef^", "0123456789abcdef0123456789abcdef", Ancestry::Back(1)),
        ];
        for (text, base, ancestry) in cases {
            let parsed = CommitRef::parse(text).expect(text);
            assert_eq!((parsed.base.as_str(), parsed.ancestry), (base, ancestry), "{text}");
        }
    }

    #[test]
    fn malformed_commit_references_are_rejected() {
        for bad in ["", "master^x", "master.0", "master.1^", "ma ster", "^"] {
            assert!(CommitRef::parse(bad).is_err(), "{bad}");
        }
    }
}
