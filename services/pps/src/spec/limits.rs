//! Limits checked before a spec is parsed.
//!
//! The YAML scanner (libyaml, under `serde_yaml_ng`) does work proportional
//! to the current nesting of flow collections for every token, so text like
//! `{"a":{"a":…}}` nested 40,000 times costs seconds per request. The depth
//! is therefore measured by a linear scan first and the text refused before
//! any parser sees it. The scan reads brackets the way a YAML scanner does
//! (not inside quoted scalars, comments or block scalars); it is exact for
//! JSON and flow-style YAML, which is where deep nesting comes from. The
//! tree depth is checked again after parsing, and parsing runs on a blocking
//! thread under a deadline (`service`), in case block YAML fools the scan.

use super::SpecError;
use super::node::Node;

/// Largest spec text accepted, in bytes; real specs are a few kilobytes.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;
/// Deepest nesting of objects and lists in a spec. A spec with ten nested
/// `cross`/`union` inputs is about 25 deep.
pub const MAX_SPEC_DEPTH: usize = 64;

fn too_deep() -> SpecError {
    SpecError::new("", format!("the spec nests objects and lists more than {MAX_SPEC_DEPTH} levels deep"))
        .hint(format!("a pipeline spec is at most {MAX_SPEC_DEPTH} levels deep; flatten the input tree"))
}

/// Refuses text whose flow collections nest deeper than [`MAX_SPEC_DEPTH`].
pub(crate) fn check_flow_depth(text: &str) -> Result<(), SpecError> {
    if flow_depth(text.as_bytes(), MAX_SPEC_DEPTH) > MAX_SPEC_DEPTH { Err(too_deep()) } else { Ok(()) }
}

/// Refuses a parsed document deeper than [`MAX_SPEC_DEPTH`].
pub(crate) fn check_tree_depth(node: &Node) -> Result<(), SpecError> {
    if deeper_than(node, MAX_SPEC_DEPTH) { Err(too_deep()) } else { Ok(()) }
}

fn deeper_than(node: &Node, budget: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Node>> = match node {
        Node::Seq(items) => Box::new(items.iter()),
        Node::Map(entries) => Box::new(entries.iter().map(|(_, value)| value)),
        _ => return false,
    };
    match budget.checked_sub(1) {
        None => true,
        Some(rest) => children.into_iter().any(|child| deeper_than(child, rest)),
    }
}

/// The deepest nesting of `{`/`[` in `bytes`, or a number above `limit` as
/// soon as it passes it.
fn flow_depth(bytes: &[u8], limit: usize) -> usize {
    let mut scan = Scan { bytes, at: 0, depth: 0, deepest: 0, in_plain: false };
    while scan.at < bytes.len() && scan.deepest <= limit {
        scan.step();
    }
    scan.deepest
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    deepest: usize,
    /// Inside a plain (unquoted) scalar, where quotes are ordinary characters.
    in_plain: bool,
}

impl Scan<'_> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.at + offset).copied()
    }

    fn blank_at(&self, offset: usize) -> bool {
        self.peek(offset).is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
    }

    fn after_blank(&self) -> bool {
        self.at == 0 || matches!(self.bytes[self.at - 1], b' ' | b'\t' | b'\r' | b'\n')
    }

    fn step(&mut self) {
        let c = self.bytes[self.at];
        let flow = self.depth > 0;
        match c {
            b'#' if self.after_blank() => return self.skip_line(),
            b'{' | b'[' if flow || !self.in_plain => {
                self.depth += 1;
                self.deepest = self.deepest.max(self.depth);
                self.in_plain = false;
            }
            b'}' | b']' if flow => {
                self.depth -= 1;
                self.in_plain = false;
            }
            b',' if flow => self.in_plain = false,
            b':' if self.blank_at(1) || (flow && !self.in_plain) => self.in_plain = false,
            b'\n' if !flow => self.in_plain = false,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'\'' | b'"' if !self.in_plain => return self.skip_quoted(c),
            b'|' | b'>' if !flow && !self.in_plain => return self.skip_block_scalar(),
            b'&' | b'*' | b'!' if !self.in_plain => return self.skip_word(),
            b'-' | b'?' if !self.in_plain && self.blank_at(1) => {}
            _ => self.in_plain = true,
        }
        self.at += 1;
    }

    fn skip_line(&mut self) {
        while self.at < self.bytes.len() && self.bytes[self.at] != b'\n' {
            self.at += 1;
        }
    }

    /// A quoted scalar: `''` escapes a single quote, `\` escapes in double quotes.
    fn skip_quoted(&mut self, quote: u8) {
        self.at += 1;
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if quote == b'"' && c == b'\\' {
                self.at += 1;
            } else if c == quote {
                if quote == b'\'' && self.peek(0) == Some(b'\'') {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        self.in_plain = false;
    }

    /// An anchor, alias or tag: a word after which a collection may start.
    fn skip_word(&mut self) {
        while !self.blank_at(0) && !matches!(self.peek(0), Some(b'[' | b']' | b'{' | b'}' | b',')) {
            self.at += 1;
        }
    }

    /// A literal or folded block scalar: the rest of the line, then every
    /// line that is blank or indented deeper than the line it starts on.
    fn skip_block_scalar(&mut self) {
        let line_start = self.bytes[..self.at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let indent = self.bytes[line_start..].iter().take_while(|&&b| b == b' ').count();
        self.skip_line();
        while self.at < self.bytes.len() {
            let next = self.at + 1;
            let spaces = self.bytes[next..].iter().take_while(|&&b| b == b' ').count();
            let blank = matches!(self.bytes.get(next + spaces), None | Some(b'\n' | b'\r'));
            if !blank && spaces <= indent {
                break;
            }
            self.at = next;
            self.skip_line();
        }
        self.in_plain = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(text: &str) -> usize {
        flow_depth(text.as_bytes(), 1000)
    }

    #[test]
    fn json_nesting_is_measured_exactly() {
        assert_eq!(depth(r#"{"a": [1, {"b": [[]]}]}"#), 5);
        assert_eq!(depth(r#"{"a": "[[[{{{", "b": "\"[["}"#), 1, "brackets in strings do not count");
        let nested = format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
        assert!(flow_depth(nested.as_bytes(), MAX_SPEC_DEPTH) > MAX_SPEC_DEPTH);
        let alternating = r#"["]"["]"["]"["]"#;
        assert_eq!(depth(alternating), 4, "a quoted closer does not close");
    }

    #[test]
    fn yaml_quotes_comments_and_block_scalars_are_read_as_yaml_reads_them() {
        assert_eq!(depth("cmd: [sh, -c, 'echo [x]']\nglob: /[a-z]*\n"), 1);
        assert_eq!(depth("msg: it's [fine\nnext: [[1]]\n"), 2, "a quote inside a plain scalar opens nothing");
        assert_eq!(depth("a: 1 # {{{{ not counted\nb: [2]\n"), 1);
        assert_eq!(depth("script: |\n  if [ -f x ]; then echo '{{'; fi\n  ]]]]\nafter: [[[1]]]\n"), 3);
        assert_eq!(depth("a: &anchor [[1]]\nb: !!seq [[[2]]]\n"), 3);
        assert_eq!(depth("{a: 'it''s ]]', b: [c]}"), 2);
    }

    #[test]
    fn deep_trees_are_refused_after_parsing_too() {
        let mut node = Node::Int(1);
        for _ in 0..MAX_SPEC_DEPTH {
            node = Node::Seq(vec![node]);
        }
        assert!(check_tree_depth(&node).is_ok());
        let deeper = Node::Map(vec![("a".to_owned(), node)]);
        let error = check_tree_depth(&deeper).expect_err("too deep");
        assert!(error.message.contains(&MAX_SPEC_DEPTH.to_string()), "{error}");
    }
}
