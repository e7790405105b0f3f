//! File sets: sorted indexes of file entries, split into pages.
//!
//! A commit's content is a [`Root`]: an ordered list of page references,
//! each page a sorted run of [`FileEntry`]s stored as one object. Listing,
//! globbing and diffing walk pages one at a time, so memory stays bounded
//! whatever the number of files; a lookup loads one page. Applying a small
//! change to a large commit rewrites only the pages the change touches and
//! reuses the others by reference.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Hash;
use super::chunks::{INDEX, ObjectArea};
use crate::error::PfsError;

/// Entries per page: ~100 bytes each, so pages are a few hundred KiB.
pub const PAGE_ENTRIES: usize = 4096;

/// Part of a file: `len` bytes at `offset` in `chunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub chunk: Hash,
    pub offset: u32,
    pub len: u32,
}

/// One file of a file set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Absolute, validated path such as `/dir/file.csv`.
    pub path: String,
    pub size: u64,
    /// BLAKE3 of the content.
    pub hash: Hash,
    pub spans: Vec<Span>,
}

/// A reference to one stored page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    pub hash: Hash,
    pub first: String,
    pub last: String,
    pub files: u64,
    pub bytes: u64,
}

/// The index of a whole file set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub pages: Vec<PageRef>,
    pub files: u64,
    pub bytes: u64,
}

/// What one change layer of an open commit does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Layer {
    /// Files written (sorted).
    pub puts: Root,
    /// Paths deleted, applied before `puts`; a path ending in `/` deletes a
    /// whole directory.
    pub deletes: Vec<String>,
}

/// The net effect of a commit's layers, applied to its parent in one pass.
#[derive(Debug, Default)]
pub struct Diff {
    /// `Some` = written, `None` = deleted.
    changes: BTreeMap<String, Option<FileEntry>>,
    /// Deleted directories, each as a `/dir/` prefix.
    deleted_dirs: Vec<String>,
}

impl Diff {
    /// Records a write.
    pub fn put(&mut self, entry: FileEntry) {
        self.changes.insert(entry.path.clone(), Some(entry));
    }

    /// Records a deletion of a file, or of a directory when `path` ends in `/`.
    pub fn delete(&mut self, path: &str) {
        if path.ends_with('/') {
            let doomed: Vec<String> = self
                .changes
                .range(path.to_owned()..)
                .take_while(|(p, _)| p.starts_with(path))
                .map(|(p, _)| p.clone())
                .collect();
            for path in doomed {
                self.changes.insert(path, None);
            }
            self.deleted_dirs.push(path.to_owned());
        } else {
            self.changes.insert(path.to_owned(), None);
        }
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.deleted_dirs.is_empty()
    }

    fn dir_deleted(&self, path: &str) -> bool {
        self.deleted_dirs.iter().any(|dir| path.starts_with(dir.as_str()))
    }

    /// True when the diff may touch a path in `first..=last`.
    fn touches(&self, first: &str, last: &str) -> bool {
        let range = (Bound::Included(first.to_owned()), Bound::Included(last.to_owned()));
        self.changes.range::<String, _>(range).next().is_some()
            || self.deleted_dirs.iter().any(|dir| {
                // Paths under `/a/` sort in [`/a/`, `/a0`): '0' follows '/'.
                let end = format!("{}0", &dir[..dir.len() - 1]);
                dir.as_str() <= last && first < end.as_str()
            })
    }
}

/// Reads and writes file sets in the object store.
#[derive(Debug, Clone)]
pub struct IndexStore {
    objects: ObjectArea,
}

impl IndexStore {
    pub fn new(objects: ObjectArea) -> Self {
        Self { objects }
    }

    /// The object area underneath.
    pub fn objects(&self) -> &ObjectArea {
        &self.objects
    }

    async fn put_encoded<T: Serialize>(&self, value: &T) -> Result<Hash, PfsError> {
        let bytes = postcard::to_stdvec(value).map_err(|e| PfsError::Internal(format!("encoding index: {e}")))?;
        let hash = Hash::of(&bytes);
        self.objects.put(INDEX, hash, Bytes::from(bytes)).await?;
        Ok(hash)
    }

    async fn get_decoded<T: for<'de> Deserialize<'de>>(&self, hash: &Hash) -> Result<T, PfsError> {
        let bytes = self.objects.get(INDEX, hash).await?;
        postcard::from_bytes(&bytes)
            .map_err(|e| PfsError::Corrupted { object: format!("{INDEX}/{hash}"), reason: format!("undecodable: {e}") })
    }

    /// Stores a root; its hash names the file set.
    pub async fn put_root(&self, root: &Root) -> Result<Hash, PfsError> {
        self.put_encoded(root).await
    }

    pub async fn get_root(&self, hash: &Hash) -> Result<Root, PfsError> {
        self.get_decoded(hash).await
    }

    pub async fn put_layer(&self, layer: &Layer) -> Result<Hash, PfsError> {
        self.put_encoded(layer).await
    }

    pub async fn get_layer(&self, hash: &Hash) -> Result<Layer, PfsError> {
        self.get_decoded(hash).await
    }

    pub async fn get_page(&self, page: &PageRef) -> Result<Vec<FileEntry>, PfsError> {
        self.get_decoded(&page.hash).await
    }

    /// Writes sorted entries as a new file set.
    pub async fn write_sorted(&self, entries: Vec<FileEntry>) -> Result<Root, PfsError> {
        let mut builder = RootBuilder::new(self);
        for entry in entries {
            builder.push(entry).await?;
        }
        builder.finish().await
    }

    /// The entry at `path`, loading at most one page.
    pub async fn lookup(&self, root: &Root, path: &str) -> Result<Option<FileEntry>, PfsError> {
        let Some(page) = root.pages.iter().find(|p| p.first.as_str() <= path && path <= p.last.as_str()) else {
            return Ok(None);
        };
        let entries = self.get_page(page).await?;
        Ok(entries.binary_search_by(|e| e.path.as_str().cmp(path)).ok().map(|i| entries[i].clone()))
    }

    /// A cursor over entries whose path is `>= from`, in order.
    pub fn cursor<'a>(&'a self, root: &'a Root, from: &str) -> Cursor<'a> {
        let page = root.pages.iter().position(|p| p.last.as_str() >= from).unwrap_or(root.pages.len());
        Cursor { store: self, root, page, entries: Vec::new().into_iter(), from: from.to_owned() }
    }

    /// Applies `diff` to `base`, reusing every page the diff does not touch.
    pub async fn apply(&self, base: &Root, diff: &Diff) -> Result<Root, PfsError> {
        if diff.is_empty() {
            return Ok(base.clone());
        }
        let mut builder = RootBuilder::new(self);
        let mut changes = diff.changes.iter().peekable();
        for page in &base.pages {
            // Changes that sort before this page come first.
            while let Some((path, change)) = changes.next_if(|(path, _)| path.as_str() < page.first.as_str()) {
                if let Some(entry) = change {
                    debug_assert_eq!(&entry.path, path);
                    builder.push(entry.clone()).await?;
                }
            }
            if !diff.touches(&page.first, &page.last) {
                builder.push_page(page.clone()).await?;
                continue;
            }
            for entry in self.get_page(page).await? {
                while let Some((_, change)) = changes.next_if(|(path, _)| path.as_str() < entry.path.as_str()) {
                    if let Some(new) = change {
                        builder.push(new.clone()).await?;
                    }
                }
                match changes.next_if(|(path, _)| **path == entry.path) {
                    Some((_, Some(new))) => builder.push(new.clone()).await?,
                    Some((_, None)) => {}
                    None if diff.dir_deleted(&entry.path) => {}
                    None => builder.push(entry).await?,
                }
            }
        }
        for (_, change) in changes {
            if let Some(entry) = change {
                builder.push(entry.clone()).await?;
            }
        }
        builder.finish().await
    }
}

/// One path that differs between two file sets.
#[derive(Debug, Clone)]
pub struct Change {
    pub path: String,
}

impl IndexStore {
    /// Every path whose entry differs between `old` and `new`, in path
    /// order. Pages both sets share (same hash at aligned positions, which
    /// is what `apply` produces for untouched ranges) are skipped unread, so
    /// the cost follows the size of the change, not of the sets.
    pub async fn changes(&self, old: &Root, new: &Root) -> Result<Vec<Change>, PfsError> {
        let mut a = PageWalk::new(self, &old.pages);
        let mut b = PageWalk::new(self, &new.pages);
        let mut out = Vec::new();
        loop {
            if a.at_page_start() && b.at_page_start() {
                while let (Some(x), Some(y)) = (a.next_page(), b.next_page()) {
                    if x.hash != y.hash {
                        break;
                    }
                    a.skip_page();
                    b.skip_page();
                }
            }
            let order = match (a.peek().await?, b.peek().await?) {
                (None, None) => return Ok(out),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.path.cmp(&y.path),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let old = a.take();
                    out.extend(old.map(|x| Change { path: x.path }));
                }
                std::cmp::Ordering::Greater => {
                    let new = b.take();
                    out.extend(new.map(|y| Change { path: y.path }));
                }
                std::cmp::Ordering::Equal => {
                    if let (Some(x), Some(y)) = (a.take(), b.take())
                        && (x.hash != y.hash || x.size != y.size)
                    {
                        out.push(Change { path: y.path });
                    }
                }
            }
        }
    }
}

/// A page-at-a-time walk that can skip whole pages.
struct PageWalk<'a> {
    store: &'a IndexStore,
    pages: &'a [PageRef],
    page: usize,
    entries: std::collections::VecDeque<FileEntry>,
}

impl<'a> PageWalk<'a> {
    fn new(store: &'a IndexStore, pages: &'a [PageRef]) -> Self {
        Self { store, pages, page: 0, entries: std::collections::VecDeque::new() }
    }

    fn at_page_start(&self) -> bool {
        self.entries.is_empty()
    }

    fn next_page(&self) -> Option<&'a PageRef> {
        self.pages.get(self.page)
    }

    fn skip_page(&mut self) {
        self.page += 1;
    }

    async fn peek(&mut self) -> Result<Option<&FileEntry>, PfsError> {
        while self.entries.is_empty() {
            let Some(page) = self.pages.get(self.page) else { return Ok(None) };
            self.page += 1;
            self.entries = self.store.get_page(page).await?.into();
        }
        Ok(self.entries.front())
    }

    /// The entry `peek` returned.
    fn take(&mut self) -> Option<FileEntry> {
        self.entries.pop_front()
    }
}

/// Walks a file set in path order, one page in memory at a time.
#[derive(Debug)]
pub struct Cursor<'a> {
    store: &'a IndexStore,
    root: &'a Root,
    page: usize,
    entries: std::vec::IntoIter<FileEntry>,
    from: String,
}

impl Cursor<'_> {
    /// The next entry, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<FileEntry>, PfsError> {
        loop {
            if let Some(entry) = self.entries.next() {
                if entry.path.as_str() >= self.from.as_str() {
                    return Ok(Some(entry));
                }
                continue;
            }
            let Some(page) = self.root.pages.get(self.page) else { return Ok(None) };
            self.page += 1;
            self.entries = self.store.get_page(page).await?.into_iter();
        }
    }
}

/// Accumulates sorted entries into pages.
struct RootBuilder<'a> {
    store: &'a IndexStore,
    root: Root,
    current: Vec<FileEntry>,
}

impl<'a> RootBuilder<'a> {
    fn new(store: &'a IndexStore) -> Self {
        Self { store, root: Root::default(), current: Vec::with_capacity(PAGE_ENTRIES) }
    }

    async fn push(&mut self, entry: FileEntry) -> Result<(), PfsError> {
        self.current.push(entry);
        if self.current.len() >= PAGE_ENTRIES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn push_page(&mut self, page: PageRef) -> Result<(), PfsError> {
        self.flush().await?;
        self.root.files += page.files;
        self.root.bytes += page.bytes;
        self.root.pages.push(page);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), PfsError> {
        let (Some(first), Some(last)) = (self.current.first(), self.current.last()) else { return Ok(()) };
        let files = self.current.len() as u64;
        let bytes = self.current.iter().map(|e| e.size).sum();
        let (first, last) = (first.path.clone(), last.path.clone());
        let hash = self.store.put_encoded(&self.current).await?;
        self.current.clear();
        self.root.files += files;
        self.root.bytes += bytes;
        self.root.pages.push(PageRef { hash, first, last, files, bytes });
        Ok(())
    }

    async fn finish(mut self) -> Result<Root, PfsError> {
        self.flush().await?;
        Ok(self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> IndexStore {
        IndexStore::new(ObjectArea::new(std::sync::Arc::new(object_store::memory::InMemory::new())))
    }

    fn entry(path: &str, size: u64) -> FileEntry {
        FileEntry { path: path.to_owned(), size, hash: Hash::of(path.as_bytes()), spans: Vec::new() }
    }

    async fn paths(store: &IndexStore, root: &Root) -> Vec<String> {
        let mut cursor = store.cursor(root, "");
        let mut out = Vec::new();
        while let Some(entry) = cursor.next().await.expect("next") {
            out.push(entry.path);
        }
        out
    }

    fn many(count: usize) -> Vec<FileEntry> {
        let mut entries: Vec<FileEntry> = (0..count).map(|i| entry(&format!("/d{}/f{i:06}", i % 7), 1)).collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries
    }

    #[tokio::test]
    async fn applying_a_diff_matches_a_simple_model() {
        let store = store();
        let base_entries = many(3 * PAGE_ENTRIES + 10);
        let base = store.write_sorted(base_entries.clone()).await.expect("write");
        assert_eq!(base.files, base_entries.len() as u64);
        let mut diff = Diff::default();
        diff.put(entry("/d0/f000000", 99));
        diff.put(entry("/a-new-first", 1));
        diff.put(entry("/zz-new-last", 1));
        diff.delete("/d1/f000001");
        diff.delete("/d3/");
        diff.put(entry("/d3/reborn", 1));
        let applied = store.apply(&base, &diff).await.expect("apply");

        let mut model: BTreeMap<String, u64> = base_entries.iter().map(|e| (e.path.clone(), e.size)).collect();
        model.insert("/d0/f000000".into(), 99);
        model.insert("/a-new-first".into(), 1);
        model.insert("/zz-new-last".into(), 1);
        model.remove("/d1/f000001");
        model.retain(|path, _| !path.starts_with("/d3/"));
        model.insert("/d3/reborn".into(), 1);
        assert_eq!(paths(&store, &applied).await, model.keys().cloned().collect::<Vec<_>>());
        assert_eq!(applied.bytes, model.values().sum::<u64>());
        assert_eq!(store.lookup(&applied, "/d0/f000000").await.expect("lookup").map(|e| e.size), Some(99));
    }

    #[tokio::test]
    async fn pages_a_diff_does_not_touch_are_reused() {
        let store = store();
        let base = store.write_sorted(many(4 * PAGE_ENTRIES)).await.expect("write");
        let last_page = base.pages.last().expect("pages").clone();
        let mut diff = Diff::default();
        diff.put(entry(&format!("{}x", last_page.first), 5));
        let applied = store.apply(&base, &diff).await.expect("apply");
        let reused = applied.pages.iter().filter(|p| base.pages.contains(p)).count();
        assert_eq!(reused, base.pages.len() - 1, "only the touched page is rewritten");
    }

    #[tokio::test]
    async fn a_cursor_starts_at_its_prefix() {
        let store = store();
        let root = store.write_sorted(many(2 * PAGE_ENTRIES)).await.expect("write");
        let mut cursor = store.cursor(&root, "/d5/");
        let first = cursor.next().await.expect("next").expect("an entry");
        assert!(first.path.starts_with("/d5/"), "{}", first.path);
    }
}
