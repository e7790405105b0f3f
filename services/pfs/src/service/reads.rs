//! Reads: snapshots, listings, globs, diffs, history and tar streams.

use std::collections::HashMap;

use bytes::Bytes;
use strata_core::id::CommitId;

use super::Pfs;
use crate::error::PfsError;
use crate::glob::Glob;
use crate::model::{Commit, DiffEntry, DiffKind, FileInfo, FileKind, PathChange, Snapshot, StoredFile, TarMember};
use crate::names::{RepoName, clean_path, dir_prefix};
use crate::storage::Hash;
use crate::storage::chunks::CHUNKS;
use crate::storage::fileset::{Cursor, FileEntry, IndexStore, Root};

/// Commits read per statement when walking a file's history.
const HISTORY_BATCH: u64 = 256;

impl Pfs {
    /// A commit reference and its content, for readers.
    pub async fn snapshot(&self, repo: &RepoName, reference: &str) -> Result<(Commit, Snapshot), PfsError> {
        let commit = self.resolve(repo, reference).await?;
        let root = self.content(&commit).await?;
        Ok((commit, Snapshot { root }))
    }

    /// The content of a commit, finished or not.
    pub async fn commit_content(&self, commit: &Commit) -> Result<Snapshot, PfsError> {
        Ok(Snapshot { root: self.content(commit).await? })
    }

    /// Files and directories of `snapshot` matching `glob`, in path order,
    /// with directory hashes over their files.
    pub async fn glob(&self, snapshot: &Snapshot, glob: &Glob) -> Result<Vec<FileInfo>, PfsError> {
        glob_root(&self.index, &snapshot.root, glob).await
    }

    /// The file or directory at `path` with the hash [`Self::glob`] gives
    /// it; `None` when neither exists.
    pub async fn path_info(&self, snapshot: &Snapshot, path: &str) -> Result<Option<FileInfo>, PfsError> {
        if let Some(entry) = self.index.lookup(&snapshot.root, path).await? {
            return Ok(Some(file_info(&entry)));
        }
        let mut dir = DirAccumulator::new(path.to_owned());
        self.walk_entries(&snapshot.root, path, |entry| {
            dir.add(&entry);
            true
        })
        .await?;
        Ok((dir.files > 0).then(|| dir.finish()))
    }

    /// Paths that differ between two snapshots; the cost follows the size
    /// of the change, not of the snapshots.
    pub async fn changes(&self, old: &Snapshot, new: &Snapshot) -> Result<Vec<PathChange>, PfsError> {
        let changes = self.index.changes(&old.root, &new.root).await?;
        Ok(changes.into_iter().map(|change| PathChange { path: change.path }).collect())
    }

    /// For each of `paths`: the file there, or else every file below it as
    /// a directory, in path order; empty when neither exists. Each index
    /// page is read once: a task of a hundred one-file datums costs one
    /// page read, not a hundred.
    pub async fn files_at(&self, snapshot: &Snapshot, paths: &[String]) -> Result<Vec<Vec<StoredFile>>, PfsError> {
        let root = &snapshot.root;
        let mut pages: HashMap<usize, Vec<FileEntry>> = HashMap::new();
        let mut found = Vec::with_capacity(paths.len());
        for path in paths {
            let page =
                root.pages.iter().position(|p| p.first.as_str() <= path.as_str() && path.as_str() <= p.last.as_str());
            let file = match page {
                Some(index) => {
                    let entries = match pages.entry(index) {
                        std::collections::hash_map::Entry::Occupied(loaded) => loaded.into_mut(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert(self.index.get_page(&root.pages[index]).await?)
                        }
                    };
                    entries.binary_search_by(|e| e.path.as_str().cmp(path)).ok().map(|i| entries[i].clone())
                }
                None => None,
            };
            let entries = match file {
                Some(file) => vec![file],
                None => self.file_or_tree(root, path).await?,
            };
            found.push(entries.into_iter().map(StoredFile::new).collect());
        }
        Ok(found)
    }

    /// Every file under `dir` (recursively), in path order, until `visit`
    /// answers false.
    pub async fn walk(
        &self,
        snapshot: &Snapshot,
        dir: &str,
        mut visit: impl FnMut(StoredFile) -> bool,
    ) -> Result<(), PfsError> {
        self.walk_entries(&snapshot.root, dir, |entry| visit(StoredFile::new(entry))).await
    }

    /// Streams `members` as a tar archive, reading each file's chunks as it
    /// goes. A member with no content is written empty.
    pub fn tar_stream(&self, members: Vec<TarMember>) -> impl futures::Stream<Item = Result<Bytes, PfsError>> + use<> {
        crate::archive::tar_stream(self.clone(), members)
    }

    /// The entry of one file.
    pub(crate) async fn file_entry(&self, snapshot: &Snapshot, path: &str) -> Result<Option<FileEntry>, PfsError> {
        self.index.lookup(&snapshot.root, path).await
    }

    /// Reads a whole chunk (verified).
    pub(crate) async fn read_chunk(&self, hash: &Hash) -> Result<Bytes, PfsError> {
        self.objects().get(CHUNKS, hash).await
    }

    /// The file at `path`, or else every file below it as a directory, in
    /// path order; empty when neither exists.
    pub(crate) async fn file_or_tree(&self, root: &Root, path: &str) -> Result<Vec<FileEntry>, PfsError> {
        if let Some(file) = self.index.lookup(root, path).await? {
            return Ok(vec![file]);
        }
        let mut entries = Vec::new();
        self.walk_entries(root, path, |entry| {
            entries.push(entry);
            true
        })
        .await?;
        Ok(entries)
    }

    /// Every file entry under `dir` (recursively), in path order.
    async fn walk_entries(
        &self,
        root: &Root,
        dir: &str,
        mut visit: impl FnMut(FileEntry) -> bool,
    ) -> Result<(), PfsError> {
        let prefix = dir_prefix(dir);
        let mut cursor = self.index.cursor(root, &prefix);
        while let Some(entry) = cursor.next().await? {
            if !entry.path.starts_with(&prefix) || !visit(entry) {
                break;
            }
        }
        Ok(())
    }

    /// Information about a file or directory.
    pub async fn file_inspect(&self, repo: &RepoName, reference: &str, path: &str) -> Result<FileInfo, PfsError> {
        let path = clean_path(path)?;
        let (commit, Snapshot { root }) = self.snapshot(repo, reference).await?;
        if let Some(entry) = self.index.lookup(&root, &path).await? {
            return Ok(file_info(&entry));
        }
        let mut dir = DirAccumulator::new(path.clone());
        self.walk_entries(&root, &path, |entry| {
            dir.add(&entry);
            true
        })
        .await?;
        if dir.files == 0 && path != "/" {
            return Err(PfsError::not_found(format!("file `{repo}@{}:{path}`", commit.id)));
        }
        Ok(dir.finish())
    }

    /// The immediate children of a directory (files and directories).
    pub async fn file_list(&self, repo: &RepoName, reference: &str, dir: &str) -> Result<Vec<FileInfo>, PfsError> {
        let dir = clean_path(dir)?;
        let (commit, Snapshot { root }) = self.snapshot(repo, reference).await?;
        if let Some(file) = self.index.lookup(&root, &dir).await? {
            return Ok(vec![file_info(&file)]);
        }
        let prefix = dir_prefix(&dir);
        let mut out: Vec<FileInfo> = Vec::new();
        let mut current: Option<DirAccumulator> = None;
        self.walk_entries(&root, &dir, |entry| {
            let rest = &entry.path[prefix.len()..];
            match rest.split_once('/') {
                None => {
                    if let Some(done) = current.take() {
                        out.push(done.finish());
                    }
                    out.push(file_info(&entry));
                }
                Some((child, _)) => {
                    let child_path = format!("{prefix}{child}");
                    if let Some(done) = current.take_if(|c| c.path != child_path) {
                        out.push(done.finish());
                    }
                    current.get_or_insert_with(|| DirAccumulator::new(child_path)).add(&entry);
                }
            }
            true
        })
        .await?;
        if let Some(done) = current {
            out.push(done.finish());
        }
        if out.is_empty() && dir != "/" {
            return Err(PfsError::not_found(format!("directory `{repo}@{}:{dir}`", commit.id)));
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Files and directories matching a glob, in path order.
    pub async fn file_glob(&self, repo: &RepoName, reference: &str, pattern: &str) -> Result<Vec<FileInfo>, PfsError> {
        let glob = Glob::new(pattern)?;
        let (_, Snapshot { root }) = self.snapshot(repo, reference).await?;
        glob_root(&self.index, &root, &glob).await
    }

    /// Paths that differ between `new` and `old` (default: `new`'s parent),
    /// under `path`.
    pub async fn file_diff(
        &self,
        repo: &RepoName,
        reference: &str,
        path: &str,
        old: Option<(&RepoName, &str)>,
    ) -> Result<Vec<DiffEntry>, PfsError> {
        let path = clean_path(path)?;
        let (new_commit, Snapshot { root: new_root }) = self.snapshot(repo, reference).await?;
        let old_root = match old {
            Some((old_repo, old_ref)) => self.snapshot(old_repo, old_ref).await?.1.root,
            None => match new_commit.parent {
                Some(parent) => self.content(&self.commit_row(repo, parent).await?).await?,
                None => Root::default(),
            },
        };
        diff_roots(&self.index, &old_root, &new_root, &path).await
    }

    /// Commits, newest first, in which the file at `path` changed.
    pub async fn file_history(
        &self,
        repo: &RepoName,
        reference: &str,
        path: &str,
        limit: usize,
    ) -> Result<Vec<Commit>, PfsError> {
        let path = clean_path(path)?;
        let mut commit = self.resolve(repo, reference).await?;
        let mut here = self.index.lookup(&self.content(&commit).await?, &path).await?.map(|e| e.hash);
        let mut changes = Vec::new();
        // Ancestors are read a batch at a time, not one statement each.
        let mut older: HashMap<CommitId, Commit> = HashMap::new();
        loop {
            let parent = match commit.parent {
                Some(parent) => Some(self.ancestor_from_batch(repo, parent, &mut older).await?),
                None => None,
            };
            // Each commit's version of the file is looked up once: as the
            // parent here, it is `here` on the next step.
            let before = match &parent {
                Some(parent) => self.index.lookup(&self.content(parent).await?, &path).await?.map(|e| e.hash),
                None => None,
            };
            if here != before {
                changes.push(commit.clone());
                if changes.len() >= limit {
                    break;
                }
            }
            match parent {
                Some(parent) => commit = parent,
                None => break,
            }
            here = before;
        }
        Ok(changes)
    }

    /// Commit `id` of `repo`, from `batch` when it holds it, else from a
    /// new batch of the commits up to it, which `batch` keeps for the next
    /// steps down the history.
    async fn ancestor_from_batch(
        &self,
        repo: &RepoName,
        id: CommitId,
        batch: &mut HashMap<CommitId, Commit>,
    ) -> Result<Commit, PfsError> {
        if let Some(found) = batch.remove(&id) {
            return Ok(found);
        }
        batch.clear();
        batch
            .extend(self.meta.commit_list_from(repo.as_str(), id, HISTORY_BATCH).await?.into_iter().map(|c| (c.id, c)));
        batch.remove(&id).ok_or_else(|| PfsError::not_found(format!("commit `{repo}@{id}`")))
    }
}

fn file_info(entry: &FileEntry) -> FileInfo {
    FileInfo { path: entry.path.clone(), kind: FileKind::File, size: entry.size, hash: entry.hash.to_hex() }
}

/// Builds a directory's size and hash from its files in path order.
struct DirAccumulator {
    path: String,
    size: u64,
    files: u64,
    hasher: blake3::Hasher,
}

impl DirAccumulator {
    pub(super) fn new(path: String) -> Self {
        Self { path, size: 0, files: 0, hasher: blake3::Hasher::new() }
    }

    pub(super) fn add(&mut self, entry: &FileEntry) {
        self.size += entry.size;
        self.files += 1;
        self.hasher.update(entry.path.as_bytes());
        self.hasher.update(&entry.hash.0);
    }

    pub(super) fn finish(self) -> FileInfo {
        FileInfo {
            path: self.path,
            kind: FileKind::Dir,
            size: self.size,
            hash: self.hasher.finalize().to_hex().to_string(),
        }
    }
}

/// Matches files and directories of `root` against `glob`, in path order.
/// Directories are implicit: each is the run of files under its prefix, so
/// one pass over the sorted files finds them all. Matched entries wait in
/// `pending` only while a matched directory above them is still open.
pub(crate) async fn glob_root(index: &IndexStore, root: &Root, glob: &Glob) -> Result<Vec<FileInfo>, PfsError> {
    let mut out = Vec::new();
    if glob.is_match("/") {
        let mut whole = DirAccumulator::new("/".to_owned());
        let mut cursor = index.cursor(root, "/");
        while let Some(entry) = cursor.next().await? {
            whole.add(&entry);
        }
        out.push(whole.finish());
        return Ok(out);
    }
    let prefix = glob.literal_prefix().to_owned();
    // Open directories, outermost first: (accumulator, matched).
    let mut open: Vec<(DirAccumulator, bool)> = Vec::new();
    let mut pending: Vec<(String, Option<FileInfo>)> = Vec::new();
    let mut cursor = index.cursor(root, &prefix);
    while let Some(entry) = cursor.next().await? {
        if !entry.path.starts_with(&prefix) {
            break;
        }
        // Close directories this entry is not in.
        while let Some((dir, _)) = open.last() {
            if entry.path.starts_with(&dir_prefix(&dir.path)) {
                break;
            }
            close_dir(&mut open, &mut pending);
        }
        // Open the directories between the innermost open one and the file.
        let depth_start = open.last().map_or(1, |(dir, _)| dir.path.len() + 1);
        let mut at = depth_start;
        while let Some(slash) = entry.path[at..].find('/') {
            let dir_path = entry.path[..at + slash].to_owned();
            let matched = glob.is_match(&dir_path);
            if matched {
                pending.push((dir_path.clone(), None));
            }
            open.push((DirAccumulator::new(dir_path), matched));
            at += slash + 1;
        }
        for (dir, _) in &mut open {
            dir.add(&entry);
        }
        if glob.is_match(&entry.path) {
            pending.push((entry.path.clone(), Some(file_info(&entry))));
        }
        flush_ready(&mut pending, &mut out);
    }
    while !open.is_empty() {
        close_dir(&mut open, &mut pending);
    }
    flush_ready(&mut pending, &mut out);
    Ok(out)
}

fn close_dir(open: &mut Vec<(DirAccumulator, bool)>, pending: &mut [(String, Option<FileInfo>)]) {
    let Some((dir, matched)) = open.pop() else { return };
    if matched {
        let info = dir.finish();
        if let Some((_, slot)) = pending.iter_mut().rev().find(|(path, slot)| slot.is_none() && *path == info.path) {
            *slot = Some(info);
        }
    }
}

/// Emits pending results up to the first directory still being measured.
fn flush_ready(pending: &mut Vec<(String, Option<FileInfo>)>, out: &mut Vec<FileInfo>) {
    let ready = pending.iter().take_while(|(_, info)| info.is_some()).count();
    out.extend(pending.drain(..ready).filter_map(|(_, info)| info));
}

/// Paths under `dir` that differ between two roots, by merging the two
/// sorted walks.
async fn diff_roots(index: &IndexStore, old: &Root, new: &Root, dir: &str) -> Result<Vec<DiffEntry>, PfsError> {
    let prefix = if dir == "/" { "/".to_owned() } else { dir.to_owned() };
    let within = |path: &str| dir == "/" || path == dir || path.starts_with(&dir_prefix(dir));
    let mut old_cursor = index.cursor(old, &prefix);
    let mut new_cursor = index.cursor(new, &prefix);
    let mut a = next_within(&mut old_cursor, &within).await?;
    let mut b = next_within(&mut new_cursor, &within).await?;
    let mut out = Vec::new();
    loop {
        // Which walk is behind; an exhausted walk is behind nothing.
        let order = match (&a, &b) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.path.cmp(&y.path),
        };
        match (order, &a, &b) {
            (std::cmp::Ordering::Equal, Some(x), Some(y)) => {
                if x.hash != y.hash {
                    out.push(DiffEntry {
                        path: y.path.clone(),
                        change: DiffKind::Modified,
                        old_size: Some(x.size),
                        new_size: Some(y.size),
                    });
                }
                a = next_within(&mut old_cursor, &within).await?;
                b = next_within(&mut new_cursor, &within).await?;
            }
            (std::cmp::Ordering::Less, Some(x), _) => {
                out.push(DiffEntry {
                    path: x.path.clone(),
                    change: DiffKind::Removed,
                    old_size: Some(x.size),
                    new_size: None,
                });
                a = next_within(&mut old_cursor, &within).await?;
            }
            (_, _, Some(y)) => {
                out.push(DiffEntry {
                    path: y.path.clone(),
                    change: DiffKind::Added,
                    old_size: None,
                    new_size: Some(y.size),
                });
                b = next_within(&mut new_cursor, &within).await?;
            }
            (_, _, None) => break,
        }
    }
    Ok(out)
}

async fn next_within(cursor: &mut Cursor<'_>, within: &impl Fn(&str) -> bool) -> Result<Option<FileEntry>, PfsError> {
    Ok(cursor.next().await?.filter(|e| within(&e.path)))
}
