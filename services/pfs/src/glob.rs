//! Pachyderm glob patterns, compiled to anchored regular expressions.
//!
//! `*` matches within one path element, `**` across elements, `?` one
//! character, `[abc]`/`[!abc]`/`[a-c]` classes, `{a,b}` alternatives, and
//! `( … )` capture groups (numbered left to right; pipelines join and group
//! on them). Patterns are matched against whole absolute paths; directories
//! are matched without a trailing `/`.

use regex::Regex;

use crate::error::PfsError;

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    regex: Regex,
    /// The pattern is `/`: the whole commit is one match.
    is_root: bool,
    /// The longest literal directory prefix: only paths under it can match.
    literal_prefix: String,
}

impl Glob {
    /// Compiles `pattern`; a missing leading `/` is added.
    pub fn new(pattern: &str) -> Result<Self, PfsError> {
        let pattern = if pattern.starts_with('/') { pattern.to_owned() } else { format!("/{pattern}") };
        let pattern = if pattern.len() > 1 { pattern.trim_end_matches('/').to_owned() } else { pattern };
        let invalid = |why: String| PfsError::invalid("glob", format!("`{pattern}`: {why}"));
        let mut regex = String::from("^");
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut braces = 0usize;
        let mut groups = 0isize;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    regex.push_str(".*");
                    i += 1;
                }
                '*' => regex.push_str("[^/]*"),
                '?' => regex.push_str("[^/]"),
                '[' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or_else(|| invalid("`[` without `]`".into()))?;
                    let body: String = chars[i + 1..i + 1 + close].iter().collect();
                    if body.is_empty() {
                        return Err(invalid("empty character class `[]`".into()));
                    }
                    let (negate, body) = match body.strip_prefix('!') {
                        Some(rest) => (true, rest.to_owned()),
                        None => (false, body),
                    };
                    regex.push('[');
                    if negate {
                        regex.push('^');
                    }
                    regex.push_str(
                        &body.replace('\\', "\\\\").replace('[', "\\[").replace('&', "\\&").replace('~', "\\~"),
                    );
                    regex.push(']');
                    i += close + 1;
                }
                '{' => {
                    braces += 1;
                    regex.push_str("(?:");
                }
                ',' if braces > 0 => regex.push('|'),
                '}' if braces > 0 => {
                    braces -= 1;
                    regex.push(')');
                }
                '(' => {
                    groups += 1;
                    regex.push('(');
                }
                ')' => {
                    groups -= 1;
                    if groups < 0 {
                        return Err(invalid("`)` without `(`".into()));
                    }
                    regex.push(')');
                }
                '|' if groups > 0 => regex.push('|'),
                '@' | '+' | '!' if chars.get(i + 1) == Some(&'(') => {
                    return Err(invalid(format!("extended glob `{c}(` is not supported; use `{{a,b}}` alternatives")));
                }
                other => regex.push_str(&regex::escape(&other.to_string())),
            }
            i += 1;
        }
        if braces > 0 {
            return Err(invalid("`{` without `}`".into()));
        }
        if groups != 0 {
            return Err(invalid("`(` without `)`".into()));
        }
        regex.push('$');
        let regex = Regex::new(&regex).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { regex, is_root: pattern == "/", literal_prefix: literal_prefix(&pattern) })
    }

    /// True when `path` (a file or a directory without trailing `/`) matches.
    /// Only the pattern `/` matches the root: `*` needs a name.
    pub fn is_match(&self, path: &str) -> bool {
        if path == "/" {
            return self.is_root;
        }
        self.regex.is_match(path)
    }

    /// The capture groups of a match, in order; `None` when it does not match.
    pub fn captures(&self, path: &str) -> Option<Vec<String>> {
        let captures = self.regex.captures(path)?;
        Some(captures.iter().skip(1).map(|m| m.map(|m| m.as_str().to_owned()).unwrap_or_default()).collect())
    }

    /// Directory prefix (ending in `/`) every match lies in.
    pub(crate) fn literal_prefix(&self) -> &str {
        &self.literal_prefix
    }
}

/// The part of the pattern before the first special character, cut back to
/// the last `/`.
fn literal_prefix(pattern: &str) -> String {
    let special = pattern.find(['*', '?', '[', '{', '(']).unwrap_or(pattern.len());
    let literal = &pattern[..special];
    match literal.rfind('/') {
        Some(slash) => literal[..=slash].to_owned(),
        None => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).expect(pattern).is_match(path)
    }

    #[test]
    fn star_stays_within_one_element_and_double_star_crosses() {
        assert!(matches("/*", "/a"));
        assert!(!matches("/*", "/a/b"));
        assert!(matches("/*/*", "/a/b"));
        assert!(matches("/**", "/a/b/c"));
        assert!(matches("/**.txt", "/a/b/c.txt"));
        assert!(matches("/C*", "/Cat"));
        assert!(!matches("/C*", "/dog"));
    }

    #[test]
    fn root_glob_matches_the_root_only() {
        assert!(matches("/", "/"));
        assert!(!matches("/", "/a"));
        assert!(!matches("/*", "/"));
        assert!(!matches("/**", "/"));
    }

    #[test]
    fn classes_alternatives_and_question_marks() {
        assert!(matches("/[ab]?.csv", "/a1.csv"));
        assert!(!matches("/[!ab]?.csv", "/a1.csv"));
        assert!(matches("/[a-c]", "/b"));
        assert!(matches("/{x,y}/*", "/y/z"));
        assert!(!matches("/{x,y}/*", "/w/z"));
        assert!(matches("/a.b", "/a.b"));
        assert!(!matches("/a.b", "/axb"), "dots are literal");
    }

    #[test]
    fn capture_groups_are_numbered_left_to_right() {
        let glob = Glob::new("/(*)_(*).txt").expect("glob");
        assert_eq!(glob.captures("/user_42.txt"), Some(vec!["user".to_owned(), "42".to_owned()]));
    }

    #[test]
    fn the_literal_prefix_narrows_the_search() {
        assert_eq!(Glob::new("/data/2024/*.csv").expect("g").literal_prefix(), "/data/2024/");
        assert_eq!(Glob::new("/*").expect("g").literal_prefix(), "/");
        assert_eq!(Glob::new("data/x*").expect("g").literal_prefix(), "/data/");
    }

    #[test]
    fn malformed_globs_are_rejected() {
        for bad in ["/[abc", "/{a,b", "/(a", "/a)", "/@(a)"] {
            assert!(Glob::new(bad).is_err(), "{bad}");
        }
    }
}
