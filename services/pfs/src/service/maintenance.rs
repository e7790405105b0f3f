//! Maintenance: garbage collection, fsck, storage figures.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use object_store::ObjectStoreExt;

use super::Pfs;
use crate::error::PfsError;
use crate::model::{FsckReport, GcReport};
use crate::storage::Hash;
use crate::storage::chunks::{CHUNKS, INDEX};
use crate::storage::fileset::Root;

impl Pfs {
    // ---- maintenance -------------------------------------------------

    /// Deletes objects nothing refers to and that are older than `grace`.
    /// Uploads wait while GC sweeps.
    pub async fn gc(&self, grace: Duration) -> Result<GcReport, PfsError> {
        let _exclusive = self.gc_lock.write().await;
        let live = self.live_objects().await?;
        let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut report = GcReport::default();
        for area in [CHUNKS, INDEX] {
            let listing = self.objects().list(area).await?;
            for object in listing {
                let name = object.location.filename().unwrap_or_default();
                let referenced = Hash::from_hex(name).is_some_and(|h| live.contains(&(area, h)));
                if referenced || object.last_modified > cutoff {
                    report.objects_kept += 1;
                    report.bytes_kept += object.size;
                    continue;
                }
                self.objects()
                    .store()
                    .delete(&object.location)
                    .await
                    .map_err(|source| PfsError::ObjectStore { action: "delete", source })?;
                report.objects_deleted += 1;
                report.bytes_deleted += object.size;
            }
        }
        self.objects().forget_known();
        self.recount_stored(report.bytes_kept).await;
        tracing::info!(?report, "PFS garbage collection finished");
        Ok(report)
    }

    /// Marks every object reachable from metadata.
    pub(super) async fn live_objects(&self) -> Result<HashSet<(&'static str, Hash)>, PfsError> {
        let (roots, layers) = self.meta.referenced_objects().await?;
        let mut live = HashSet::new();
        let mut roots_to_walk: Vec<Root> = Vec::new();
        for hash in roots {
            live.insert((INDEX, hash));
            roots_to_walk.push(self.index.get_root(&hash).await?);
        }
        for hash in layers {
            live.insert((INDEX, hash));
            roots_to_walk.push(self.index.get_layer(&hash).await?.puts);
        }
        for root in roots_to_walk {
            for page in &root.pages {
                if !live.insert((INDEX, page.hash)) {
                    continue; // pages shared between commits are walked once
                }
                for entry in self.index.get_page(page).await? {
                    live.extend(entry.spans.iter().map(|s| (CHUNKS, s.chunk)));
                }
            }
        }
        Ok(live)
    }

    /// Verifies every reference and every hash, changing nothing.
    pub async fn fsck(&self) -> Result<FsckReport, PfsError> {
        // Check what is stored, not what was cached.
        self.objects().forget_known();
        let mut report = FsckReport::default();
        let mut checked: HashSet<(&str, Hash)> = HashSet::new();
        for repo in self.meta.repo_list().await? {
            for branch in self.meta.branch_list(Some(repo.name.as_str())).await? {
                if self.meta.commit_get(repo.name.as_str(), branch.head).await?.is_none() {
                    report
                        .problems
                        .push(format!("branch {}@{} points at missing commit {}", repo.name, branch.name, branch.head));
                }
            }
            for commit in self.meta.commit_list(repo.name.as_str(), u64::MAX).await? {
                report.commits_checked += 1;
                let label = format!("{}@{}", repo.name, commit.id);
                if let Some(parent) = commit.parent
                    && self.meta.commit_get(repo.name.as_str(), parent).await?.is_none()
                {
                    report.problems.push(format!("commit {label} has a missing parent {parent}"));
                }
                let roots = match (&commit.root, commit.is_finished()) {
                    (Some(root), _) => vec![self.check_root(*root, &label, &mut report, &mut checked).await],
                    (None, true) => {
                        report.problems.push(format!("finished commit {label} has no content root"));
                        Vec::new()
                    }
                    (None, false) => {
                        let mut roots = Vec::new();
                        for layer in self.meta.commit_layers(repo.name.as_str(), commit.id).await? {
                            report.objects_checked += 1;
                            match self.index.get_layer(&layer).await {
                                Ok(layer) => roots.push(Some(layer.puts)),
                                Err(error) => {
                                    report.problems.push(format!("open commit {label}: layer {layer}: {error}"));
                                }
                            }
                        }
                        roots
                    }
                };
                for root in roots.into_iter().flatten() {
                    self.check_pages(&root, &label, &mut report, &mut checked).await?;
                }
            }
        }
        Ok(report)
    }

    pub(super) async fn check_root(
        &self,
        hash: Hash,
        label: &str,
        report: &mut FsckReport,
        checked: &mut HashSet<(&str, Hash)>,
    ) -> Option<Root> {
        checked.insert((INDEX, hash));
        report.objects_checked += 1;
        match self.index.get_root(&hash).await {
            Ok(root) => Some(root),
            Err(error) => {
                report.problems.push(format!("commit {label}: root: {error}"));
                None
            }
        }
    }

    pub(super) async fn check_pages(
        &self,
        root: &Root,
        label: &str,
        report: &mut FsckReport,
        checked: &mut HashSet<(&str, Hash)>,
    ) -> Result<(), PfsError> {
        for page in &root.pages {
            if !checked.insert((INDEX, page.hash)) {
                continue;
            }
            report.objects_checked += 1;
            let entries = match self.index.get_page(page).await {
                Ok(entries) => entries,
                Err(error) => {
                    report.problems.push(format!("commit {label}: index page: {error}"));
                    continue;
                }
            };
            for entry in entries {
                for span in &entry.spans {
                    if !checked.insert((CHUNKS, span.chunk)) {
                        continue;
                    }
                    report.objects_checked += 1;
                    match self.objects().get(CHUNKS, &span.chunk).await {
                        Ok(chunk) if chunk.len() < (span.offset + span.len) as usize => {
                            report.problems.push(format!(
                                "commit {label}: file {}: chunk {} is shorter than the span",
                                entry.path, span.chunk
                            ));
                        }
                        Ok(_) => {}
                        Err(error) => report.problems.push(format!("commit {label}: file {}: {error}", entry.path)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes stored in the object store, per area (`chunks`, `index`).
    pub async fn stored_bytes(&self) -> Result<BTreeMap<&'static str, u64>, PfsError> {
        let mut sizes = BTreeMap::new();
        for area in [CHUNKS, INDEX] {
            let listing = self.objects().list(area).await?;
            sizes.insert(area, listing.iter().map(|o| o.size).sum());
        }
        Ok(sizes)
    }
}
