//! `join_on` / `group_by` key templates over a glob's capture groups.

use super::{Problem, SpecError};

/// A key template such as `$1` or `${1}-${2}`, read with Go's
/// `regexp.Expand` rules as Pachyderm does: `$1`/`${1}` insert capture
/// group 1, `$$` is a literal `$`, and a `$` not followed by a name is
/// literal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// 1-based capture group.
    Group(usize),
}

const TEMPLATE_HINT: &str = "refer to capture groups as `$1`, `$2`, ... or `${1}` next to letters and digits";

impl KeyTemplate {
    /// Parses a template; it must refer to at least one capture group.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        parse(text).map_err(|problem| problem.at(""))
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The highest group number used.
    pub fn highest_group(&self) -> usize {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Group(n) => Some(*n),
                Part::Literal(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The key for one match, given its capture groups in order (as
    /// `Glob::captures` returns them). A missing group renders empty, as in Go.
    pub fn render(&self, captures: &[String]) -> String {
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Group(n) => key.push_str(captures.get(n - 1).map_or("", String::as_str)),
            }
        }
        key
    }
}

pub(crate) fn parse(text: &str) -> Result<KeyTemplate, Problem> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        literal.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            rest = tail;
            continue;
        }
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(close) => (&braced[..close], &braced[close + 1..]),
                None => ("", after),
            }
        } else {
            let len = after.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            (&after[..len], &after[len..])
        };
        if name.is_empty() {
            // Go copies a `$` that starts no valid name through unchanged.
            literal.push('$');
            rest = after;
            continue;
        }
        let group = group_number(text, name)?;
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        parts.push(Part::Group(group));
        rest = tail;
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    if !parts.iter().any(|part| matches!(part, Part::Group(_))) {
        return Err(Problem::new(format!("`{text}` refers to no capture group, so every file would get the same key"))
            .hint("use `$1` for the first `( … )` group of the glob, e.g. glob \"/(*).csv\" with \"$1\""));
    }
    Ok(KeyTemplate { text: text.to_owned(), parts })
}

fn group_number(text: &str, name: &str) -> Result<usize, Problem> {
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let hint = if digits.is_empty() {
            "globs have only numbered groups; ".to_owned() + TEMPLATE_HINT
        } else {
            format!("write `${{{digits}}}{}` to put text right after group {digits}", &name[digits.len()..])
        };
        return Err(Problem::new(format!("`{text}` refers to the group named `{name}`, which no glob has")).hint(hint));
    }
    match name.parse::<usize>() {
        Ok(0) => Err(Problem::new(format!("`{text}` refers to group 0")).hint("capture groups are numbered from 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(Problem::new(format!("`{text}`: the group number `{name}` is too large")).hint(TEMPLATE_HINT)),
    }
}

/// The number of capture groups in a glob: its `(` outside character
/// classes, counted the way `strata_pfs::glob::Glob` numbers them.
pub fn glob_capture_groups(pattern: &str) -> usize {
    let mut groups = 0;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            // Glob::new ends a class at the first `]`.
            '[' => {
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                }
            }
            '(' => groups += 1,
            _ => {}
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn templates_render_groups_and_literals() {
        let template = parse("${1}-$2.$$").expect("parses");
        assert_eq!(template.render(&caps(&["a", "b"])), "a-b.$");
        assert_eq!(template.highest_group(), 2);
        assert_eq!(parse("$1").expect("parses").render(&caps(&["x"])), "x");
        assert_eq!(parse("$2").expect("parses").render(&caps(&["x"])), "", "missing groups are empty");
        assert_eq!(parse("$1$").expect("parses").render(&caps(&["x"])), "x$", "a lone `$` is literal");
    }

    #[test]
    fn go_reads_letters_after_a_group_number_as_part_of_the_name() {
        let problem = parse("$1_suffix").expect_err("`$1_suffix` is the group named `1_suffix` in Go");
        assert!(problem.message.contains("`1_suffix`"), "{}", problem.message);
        assert_eq!(problem.hint.as_deref(), Some("write `${1}_suffix` to put text right after group 1"));
        assert!(parse("$name").is_err());
        assert!(parse("$0").is_err());
        assert!(parse("constant").expect_err("no groups").message.contains("no capture group"));
    }

    #[test]
    fn capture_groups_are_counted_outside_classes() {
        assert_eq!(glob_capture_groups("/*"), 0);
        assert_eq!(glob_capture_groups("/(*)_(*).txt"), 2);
        assert_eq!(glob_capture_groups("/[(]/(*)"), 1);
        assert_eq!(glob_capture_groups("/((a)b)"), 2);
    }
}
