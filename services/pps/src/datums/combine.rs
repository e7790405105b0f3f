//! Forming a job's datums from its leaves' glob matches, along the input tree.
//!
//! The tree is evaluated bottom-up into [`Rows`]: each row is one datum under
//! construction, a list of [`Entry`]s (a leaf and one of its matches). Only at
//! the end are rows turned into [`Datum`]s with owned strings and hashes, so
//! combining (cross products, joins) moves pairs of indices, not strings.
//!
//! Semantics follow Pachyderm (reference §2.2):
//! - `pfs`/`cron`: one datum per match.
//! - `union`: the children's datums one after the other. Datums with the same
//!   id (children that match the same paths) are kept once, as Pachyderm's
//!   merge by datum id does; a job must not hold one id twice.
//! - `cross`: the Cartesian product, the first child varying slowest.
//! - `join`: per key (in sorted order), the product of the children's datums
//!   with that key; when some child lacks the key, only the `outer_join`
//!   children that have it take part, and without one there is no datum.
//! - `group`: per key (in sorted order), one datum holding every entry of every
//!   child with that key. A join inside a group loses its structure: each of
//!   its entries is grouped by its own `group_by` key.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::thread;

use strata_pfs::glob::Glob;

use super::{Datum, LeafMatch, LeafSet};
use crate::spec::{Input, KeyTemplate, Leaf};
use crate::state::DatumInput;

#[cfg(test)]
#[path = "combine_tests.rs"]
mod tests;

/// Forms the datums of `input`. `leaves[i]` holds the matches of the i-th leaf
/// of `input.leaves()` (depth-first order). `salt` is the pipeline salt.
///
/// A leaf without a `LeafSet` (a short `leaves`) contributes no matches, and a
/// leaf whose glob does not compile contributes no join or group keys: specs
/// are validated before, so neither should happen, and neither panics.
pub fn combine(input: &Input, leaves: &[LeafSet<'_>], salt: &str) -> Vec<Datum> {
    let context = Context::new(input, leaves);
    let rows = context.rows(input, 0);
    let mut datums = context.datums(&rows, salt);
    if contains_union(input) {
        // Only a union can yield one id twice: cross and join children have
        // distinct names, and group rows are deduplicated.
        let mut seen = HashSet::with_capacity(datums.len());
        datums.retain(|datum| seen.insert(datum.id.clone()));
    }
    datums
}

/// The id of a datum with these inputs: hex BLAKE3 over each input's name,
/// repo and path, each as a little-endian u64 length and the bytes.
///
/// The branch is left out so that moving a pipeline to another branch of the
/// same data keeps its ids, and the content is left out so that the same
/// paths in the next job give the same id (the hash tells whether they changed).
pub fn datum_id(inputs: &[DatumInput]) -> String {
    let parts = inputs.iter().map(|input| (input.name.as_str(), input.repo.as_str(), input.path.as_str()));
    id_of(parts, &mut Vec::new())
}

/// Hashes the id encoding, using `buffer` as scratch space: one BLAKE3 call
/// over a reused buffer is markedly cheaper than a streaming hasher fed with
/// many short slices, and this runs once per datum.
fn id_of<'s>(parts: impl Iterator<Item = (&'s str, &'s str, &'s str)>, buffer: &mut Vec<u8>) -> String {
    buffer.clear();
    for (name, repo, path) in parts {
        put(buffer, name);
        put(buffer, repo);
        put(buffer, path);
    }
    hex(&blake3::hash(buffer))
}

/// Length-prefixed, so that `("ab", "c")` and `("a", "bc")` hash differently.
fn put(buffer: &mut Vec<u8>, text: &str) {
    buffer.extend_from_slice(&(text.len() as u64).to_le_bytes());
    buffer.extend_from_slice(text.as_bytes());
}

/// Lowercase hex, as `blake3::Hash::to_hex` gives, straight into a `String`
/// of the right capacity (the ArrayString detour costs a copy per hash).
fn hex(hash: &blake3::Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * blake3::OUT_LEN);
    for &byte in hash.as_bytes() {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn contains_union(input: &Input) -> bool {
    matches!(input, Input::Union(_)) || input.children().iter().any(contains_union)
}

/// Below this many datums, starting threads costs more than it saves.
const PARALLEL_ABOVE: usize = 16 * 1024;

/// One match of one leaf: an index into the leaves and one into its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    leaf: usize,
    index: usize,
}

/// Datums under construction, stored flat: one allocation for all entries
/// rather than one per datum, which matters for a single input of many files.
#[derive(Debug, Default)]
struct Rows {
    entries: Vec<Entry>,
    /// Where each row ends in `entries`.
    ends: Vec<usize>,
}

impl Rows {
    fn push(&mut self, row: &[Entry]) {
        self.entries.extend_from_slice(row);
        self.ends.push(self.entries.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = &[Entry]> + '_ {
        self.range(0..self.len())
    }

    /// The rows numbered `range`.
    fn range(&self, range: Range<usize>) -> impl Iterator<Item = &[Entry]> + '_ {
        let mut start = range.start.checked_sub(1).and_then(|before| self.ends.get(before)).copied().unwrap_or(0);
        self.ends.get(range).unwrap_or_default().iter().map(move |&end| {
            // `ends` only ever holds lengths of `entries`, in increasing order.
            let row = self.entries.get(start..end).unwrap_or_default();
            start = end;
            row
        })
    }
}

/// What the combinators need to know about one leaf.
#[derive(Debug)]
struct LeafView<'a> {
    name: &'a str,
    repo: &'a str,
    commit: &'a str,
    matches: &'a [LeafMatch],
    /// `join_on` keys by match; empty when the leaf has no `join_on`.
    join_keys: Vec<Option<String>>,
    /// `group_by` keys by match; empty when the leaf has no `group_by`.
    group_keys: Vec<Option<String>>,
}

impl<'a> LeafView<'a> {
    fn new(leaf: Leaf<'a>, set: Option<LeafSet<'a>>) -> Self {
        let (commit, matches) = set.map_or(("", &[][..]), |set| (set.commit, set.matches));
        let (join_on, group_by) = match leaf {
            Leaf::Pfs(pfs) => (pfs.join_on.as_ref(), pfs.group_by.as_ref()),
            Leaf::Cron(_) => (None, None),
        };
        Self {
            name: leaf.name(),
            repo: leaf.repo(),
            commit,
            matches,
            join_keys: keys(leaf.glob(), join_on, matches),
            group_keys: keys(leaf.glob(), group_by, matches),
        }
    }
}

/// Renders `template` over each match's captures. Keys are computed once
/// per leaf, up front, so that combinators and the final datums share them.
fn keys(glob: &str, template: Option<&KeyTemplate>, matches: &[LeafMatch]) -> Vec<Option<String>> {
    let Some(template) = template else { return Vec::new() };
    let Ok(glob) = Glob::new(glob) else { return vec![None; matches.len()] };
    matches.iter().map(|m| glob.captures(&m.path).map(|captures| template.render(&captures))).collect()
}

/// The leaves of one input tree with their matches and keys.
#[derive(Debug)]
struct Context<'a> {
    leaves: Vec<LeafView<'a>>,
}

impl<'a> Context<'a> {
    fn new(input: &'a Input, sets: &[LeafSet<'a>]) -> Self {
        let leaves = input.leaves().into_iter().enumerate();
        Self { leaves: leaves.map(|(i, leaf)| LeafView::new(leaf, sets.get(i).copied())).collect() }
    }

    /// The rows of `input`, whose first leaf is leaf number `first`.
    fn rows(&self, input: &Input, first: usize) -> Rows {
        match input {
            Input::Pfs(_) | Input::Cron(_) => self.leaf_rows(first),
            Input::Union(children) => union(self.children_rows(children, first)),
            Input::Cross(children) => cross(&self.children_rows(children, first)),
            Input::Join(children) => self.join(children, &self.children_rows(children, first)),
            Input::Group(children) => self.group(&self.children_rows(children, first)),
        }
    }

    /// The rows of each child, each handed the global index of its first leaf.
    fn children_rows(&self, children: &[Input], first: usize) -> Vec<Rows> {
        let mut next = first;
        children
            .iter()
            .map(|child| {
                let rows = self.rows(child, next);
                next += child.leaves().len();
                rows
            })
            .collect()
    }

    fn leaf_rows(&self, leaf: usize) -> Rows {
        let count = self.leaves.get(leaf).map_or(0, |view| view.matches.len());
        Rows { entries: (0..count).map(|index| Entry { leaf, index }).collect(), ends: (1..=count).collect() }
    }

    /// Joins on the first entry's `join_on` key: join children are `pfs`
    /// inputs, whose rows hold one entry. Rows without a key never match.
    fn join(&self, children: &[Input], rows: &[Rows]) -> Rows {
        let mut by_key: BTreeMap<&str, Vec<Vec<&[Entry]>>> = BTreeMap::new();
        for (child, child_rows) in rows.iter().enumerate() {
            for row in child_rows.iter() {
                let Some(key) = row.first().and_then(|&entry| self.join_key(entry)) else { continue };
                by_key.entry(key).or_insert_with(|| vec![Vec::new(); rows.len()])[child].push(row);
            }
        }
        let outer: Vec<bool> =
            children.iter().map(|child| matches!(child, Input::Pfs(pfs) if pfs.outer_join)).collect();
        let mut out = Rows::default();
        for present in by_key.values() {
            let all = present.iter().all(|list| !list.is_empty());
            // Pachyderm crosses the present children and then keeps only the
            // outer inputs of incomplete datums, which repeats each outer
            // datum once per inner match; crossing the outer ones alone gives
            // the same datums without the duplicates.
            let lists: Vec<Vec<&[Entry]>> = present
                .iter()
                .zip(&outer)
                .filter(|(list, outer)| !list.is_empty() && (all || **outer))
                .map(|(list, _)| list.clone())
                .collect();
            if !lists.is_empty() {
                product(&lists, &mut Vec::new(), &mut out);
            }
        }
        out
    }

    /// One row per `group_by` key with every keyed entry of every child, in
    /// leaf (= child) order and then path order, each entry once.
    fn group(&self, rows: &[Rows]) -> Rows {
        let mut by_key: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
        for entry in rows.iter().flat_map(|child_rows| child_rows.entries.iter().copied()) {
            if let Some(key) = self.group_key(entry) {
                by_key.entry(key).or_default().push(entry);
            }
        }
        let mut out = Rows::default();
        for entries in by_key.values_mut() {
            // Matches are in path order and leaves in tree order, so sorting
            // entries gives child order, then path order.
            entries.sort_unstable();
            entries.dedup();
            out.push(entries);
        }
        out
    }

    fn view(&self, entry: Entry) -> Option<(&LeafView<'a>, &'a LeafMatch)> {
        let view = self.leaves.get(entry.leaf)?;
        Some((view, view.matches.get(entry.index)?))
    }

    fn join_key(&self, entry: Entry) -> Option<&str> {
        self.leaves.get(entry.leaf)?.join_keys.get(entry.index)?.as_deref()
    }

    fn group_key(&self, entry: Entry) -> Option<&str> {
        self.leaves.get(entry.leaf)?.group_keys.get(entry.index)?.as_deref()
    }

    /// The key shown to the datum's program: the group key when the input has
    /// one (the datum was formed by it), otherwise the join key.
    fn shown_key(&self, entry: Entry) -> Option<String> {
        self.group_key(entry).or_else(|| self.join_key(entry)).map(str::to_owned)
    }

    /// Turns the rows into datums. Hashing and copying strings is most of
    /// the cost of a large input, and it parallelises perfectly, so big jobs
    /// spread it over the cores (the calling thread takes a share too).
    fn datums(&self, rows: &Rows, salt: &str) -> Vec<Datum> {
        let count = rows.len();
        let threads = if count < PARALLEL_ABOVE { 1 } else { thread::available_parallelism().map_or(1, usize::from) };
        let share = count.div_ceil(threads.max(1));
        let ranges: Vec<Range<usize>> = (0..count).step_by(share.max(1)).map(|s| s..(s + share).min(count)).collect();
        let Some((own, others)) = ranges.split_last() else { return Vec::new() };
        thread::scope(|scope| {
            let spawned: Vec<_> =
                others.iter().map(|range| scope.spawn(|| self.datums_in(rows, range.clone(), salt))).collect();
            let last = self.datums_in(rows, own.clone(), salt);
            let mut datums = Vec::with_capacity(count);
            for handle in spawned {
                // A panic in a helper is a bug here; re-raise it rather than
                // hand back a job with datums silently missing.
                datums.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            datums.extend(last);
            datums
        })
    }

    fn datums_in(&self, rows: &Rows, range: Range<usize>, salt: &str) -> Vec<Datum> {
        let mut buffer = Vec::with_capacity(256);
        rows.range(range).map(|row| self.datum(row, salt, &mut buffer)).collect()
    }

    /// Turns a row into a datum with its id and content hash.
    fn datum(&self, row: &[Entry], salt: &str, buffer: &mut Vec<u8>) -> Datum {
        let resolved = || row.iter().filter_map(|&entry| self.view(entry));
        let id = id_of(resolved().map(|(view, m)| (view.name, view.repo, m.path.as_str())), buffer);
        buffer.clear();
        // The id is 64 hex characters, so it needs no length prefix.
        buffer.extend_from_slice(id.as_bytes());
        for (_, m) in resolved() {
            put(buffer, &m.hash);
        }
        put(buffer, salt);
        let hash = hex(&blake3::hash(buffer));
        let inputs = row.iter().filter_map(|&entry| self.input(entry)).collect();
        Datum { id, hash, inputs }
    }

    fn input(&self, entry: Entry) -> Option<DatumInput> {
        let (view, m) = self.view(entry)?;
        Some(DatumInput {
            name: view.name.to_owned(),
            repo: view.repo.to_owned(),
            commit: view.commit.to_owned(),
            path: m.path.clone(),
            key: self.shown_key(entry),
        })
    }
}

fn union(children: Vec<Rows>) -> Rows {
    let mut out = Rows::default();
    for rows in children {
        let base = out.entries.len();
        out.entries.extend(rows.entries);
        out.ends.extend(rows.ends.into_iter().map(|end| base + end));
    }
    out
}

fn cross(children: &[Rows]) -> Rows {
    let mut out = Rows::default();
    // A cross of nothing has no datums, not one empty datum.
    if children.is_empty() || children.iter().any(|rows| rows.len() == 0) {
        return out;
    }
    let lists: Vec<Vec<&[Entry]>> = children.iter().map(|rows| rows.iter().collect()).collect();
    product(&lists, &mut Vec::new(), &mut out);
    out
}

/// Pushes every combination of one row from each list (the first list varying
/// slowest) onto `out`, each prefixed with `prefix`.
fn product(lists: &[Vec<&[Entry]>], prefix: &mut Vec<Entry>, out: &mut Rows) {
    let Some((first, rest)) = lists.split_first() else {
        out.push(prefix);
        return;
    };
    for row in first {
        let len = prefix.len();
        prefix.extend_from_slice(row);
        product(rest, prefix, out);
        prefix.truncate(len);
    }
}
