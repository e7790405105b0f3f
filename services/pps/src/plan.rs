//! A job's plan: what each leaf input matched and every datum with its
//! state, stored as one compressed object per job (`pps/plans/…`).
//!
//! The next job reads its base job's plan to (1) list its leaves
//! incrementally, looking only at the paths that changed between the two
//! input commits, and (2) skip datums whose hash already succeeded. Reading
//! one object instead of a row per datum keeps job setup proportional to
//! the change, not to the size of the input.

use std::collections::{BTreeMap, HashMap, HashSet};

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use strata_core::store::DynObjectStore;
use strata_pfs::Pfs;
use strata_pfs::glob::Glob;
use strata_pfs::{Commit, RepoName, Snapshot};

use crate::datums::{Datum, LeafMatch};
use crate::error::PpsError;
use crate::state::{DatumInput, DatumState};

/// Above this many changed paths a full listing is cheaper than lookups.
const FULL_LISTING_ABOVE: usize = 4096;

/// What one leaf input matched at one commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafRecord {
    pub repo: String,
    pub glob: String,
    pub commit: String,
    pub matches: Vec<LeafMatch>,
}

/// One datum of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedDatum {
    pub id: String,
    pub hash: String,
    pub inputs: Vec<DatumInput>,
    pub state: DatumState,
    /// Output paths the datum wrote (or, when skipped, carried forward).
    pub outputs: Vec<String>,
}

impl PlannedDatum {
    pub fn new(datum: Datum, state: DatumState, outputs: Vec<String>) -> Self {
        Self { id: datum.id, hash: datum.hash, inputs: datum.inputs, state, outputs }
    }
}

/// A job's plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub leaves: Vec<LeafRecord>,
    pub datums: Vec<PlannedDatum>,
}

impl Plan {
    pub fn pending(&self) -> impl Iterator<Item = (usize, &PlannedDatum)> {
        self.datums.iter().enumerate().filter(|(_, d)| d.state == DatumState::Pending)
    }

    pub fn skipped(&self) -> usize {
        self.datums.iter().filter(|d| d.state == DatumState::Skipped).count()
    }
}

fn plan_key(pipeline: &str, job: &str) -> ObjectPath {
    ObjectPath::from(format!("pps/plans/{pipeline}/{job}"))
}

/// Stores a plan (overwriting an earlier version of the same job's plan).
pub async fn save(store: &DynObjectStore, pipeline: &str, job: &str, plan: &Plan) -> Result<(), PpsError> {
    let raw = postcard::to_stdvec(plan).map_err(|e| PpsError::internal(format!("encoding plan: {e}")))?;
    let packed = zstd::bulk::compress(&raw, 3).map_err(|e| PpsError::internal(format!("compressing plan: {e}")))?;
    let key = plan_key(pipeline, job);
    store.put(&key, packed.into()).await.map_err(|source| PpsError::ObjectStore {
        action: "write",
        key: key.to_string(),
        source,
    })?;
    Ok(())
}

/// Loads a job's plan; `None` when the job never got one.
pub async fn load(store: &DynObjectStore, pipeline: &str, job: &str) -> Result<Option<Plan>, PpsError> {
    let key = plan_key(pipeline, job);
    let bytes = match store.get(&key).await {
        Ok(found) => found.bytes().await.map_err(|source| PpsError::ObjectStore {
            action: "read",
            key: key.to_string(),
            source,
        })?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(source) => return Err(PpsError::ObjectStore { action: "read", key: key.to_string(), source }),
    };
    let raw = zstd::stream::decode_all(bytes.as_ref()).map_err(|e| PpsError::internal(format!("plan {key}: {e}")))?;
    let plan = postcard::from_bytes(&raw).map_err(|e| PpsError::internal(format!("plan {key}: {e}")))?;
    Ok(Some(plan))
}

/// Deletes every plan of a pipeline.
pub async fn delete_all(store: &DynObjectStore, pipeline: &str) -> Result<(), PpsError> {
    use futures::TryStreamExt;
    let prefix = ObjectPath::from(format!("pps/plans/{pipeline}"));
    let keys: Vec<ObjectPath> = store
        .list(Some(&prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|source| PpsError::ObjectStore { action: "list", key: prefix.to_string(), source })?;
    for key in keys {
        store.delete(&key).await.map_err(|source| PpsError::ObjectStore {
            action: "delete",
            key: key.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Lists what `glob` matches in `commit`, reusing `base` (the same leaf
/// at an earlier commit of the same repo) when there is one: then only
/// the changed paths and their matching ancestors are looked at.
pub async fn list_leaf(
    pfs: &Pfs,
    repo: &str,
    glob_text: &str,
    commit: &Commit,
    base: Option<&LeafRecord>,
) -> Result<LeafRecord, PpsError> {
    let glob = Glob::new(glob_text)?;
    let snapshot = pfs.commit_content(commit).await?;
    let id = commit.id.to_string();
    let record =
        |matches| LeafRecord { repo: repo.to_owned(), glob: glob_text.to_owned(), commit: id.clone(), matches };
    let Some(base) = base.filter(|b| b.repo == repo && b.glob == glob_text) else {
        return Ok(record(full_listing(pfs, &snapshot, &glob).await?));
    };
    if base.commit == id {
        return Ok(record(base.matches.clone()));
    }
    // A base commit that was squashed or dropped: list everything.
    let Ok(old_commit) = pfs.commit_inspect(&RepoName::parse(repo)?, &base.commit).await else {
        return Ok(record(full_listing(pfs, &snapshot, &glob).await?));
    };
    let old_snapshot = pfs.commit_content(&old_commit).await?;
    let changes = pfs.changes(&old_snapshot, &snapshot).await?;
    if changes.len() > FULL_LISTING_ABOVE {
        return Ok(record(full_listing(pfs, &snapshot, &glob).await?));
    }
    let mut touched: BTreeMap<String, Option<LeafMatch>> = BTreeMap::new();
    for change in &changes {
        for candidate in matching_ancestors(&glob, &change.path) {
            if touched.contains_key(&candidate) {
                continue;
            }
            let now = pfs.path_info(&snapshot, &candidate).await?;
            let found = now.map(|info| LeafMatch { path: info.path, hash: info.hash, size: info.size });
            touched.insert(candidate, found);
        }
    }
    Ok(record(apply_touched(&base.matches, touched)))
}

async fn full_listing(pfs: &Pfs, snapshot: &Snapshot, glob: &Glob) -> Result<Vec<LeafMatch>, PpsError> {
    let infos = pfs.glob(snapshot, glob).await?;
    Ok(infos.into_iter().map(|info| LeafMatch { path: info.path, hash: info.hash, size: info.size }).collect())
}

/// The path itself and each of its ancestor directories that the glob
/// matches: a changed file changes every datum that contains it.
fn matching_ancestors(glob: &Glob, path: &str) -> Vec<String> {
    let mut found = Vec::new();
    if glob.is_match("/") {
        found.push("/".to_owned());
    }
    let mut end = 0;
    while let Some(next) = path[end + 1..].find('/').map(|i| i + end + 1) {
        let ancestor = &path[..next];
        if !ancestor.is_empty() && glob.is_match(ancestor) {
            found.push(ancestor.to_owned());
        }
        end = next;
    }
    if glob.is_match(path) {
        found.push(path.to_owned());
    }
    found
}

/// Merges looked-up matches into the base listing, keeping path order.
fn apply_touched(base: &[LeafMatch], mut touched: BTreeMap<String, Option<LeafMatch>>) -> Vec<LeafMatch> {
    let mut merged = Vec::with_capacity(base.len() + touched.len());
    for existing in base {
        match touched.remove(&existing.path) {
            Some(Some(updated)) => merged.push(updated),
            Some(None) => {}
            None => merged.push(existing.clone()),
        }
    }
    merged.extend(touched.into_values().flatten());
    merged.sort_by(|a, b| a.path.cmp(&b.path));
    merged
}

/// The outcome of comparing a job's datums with its base job's.
#[derive(Debug, Default)]
pub struct Merge {
    pub datums: Vec<PlannedDatum>,
    /// Output paths of base datums that are gone or rerun: they must be
    /// removed from the inherited output before the job writes.
    pub stale_outputs: Vec<String>,
}

/// Marks datums whose hash succeeded in `base` as skipped (carrying their
/// outputs) unless `always_rerun` or they ran again since (`ran_since`);
/// the rest are pending.
pub fn merge_with_base(
    datums: Vec<Datum>,
    base: Option<&Plan>,
    always_rerun: bool,
    ran_since: &HashSet<String>,
) -> Merge {
    let previous: HashMap<&str, &PlannedDatum> =
        base.map(|plan| plan.datums.iter().map(|d| (d.id.as_str(), d)).collect()).unwrap_or_default();
    let mut carried: HashSet<&str> = HashSet::new();
    let mut planned = Vec::with_capacity(datums.len());
    for datum in datums {
        let before = previous.get(datum.id.as_str()).copied();
        match before {
            Some(old)
                if !always_rerun
                    && old.hash == datum.hash
                    && old.state.succeeded()
                    && !ran_since.contains(&datum.id) =>
            {
                carried.insert(old.id.as_str());
                let outputs = old.outputs.clone();
                planned.push(PlannedDatum::new(datum, DatumState::Skipped, outputs));
            }
            _ => planned.push(PlannedDatum::new(datum, DatumState::Pending, Vec::new())),
        }
    }
    let kept: HashSet<&str> = planned
        .iter()
        .filter(|d| d.state == DatumState::Skipped)
        .flat_map(|d| d.outputs.iter().map(String::as_str))
        .collect();
    let mut stale: Vec<String> = previous
        .values()
        .filter(|old| !carried.contains(old.id.as_str()))
        .flat_map(|old| old.outputs.iter())
        .filter(|path| !kept.contains(path.as_str()))
        .cloned()
        .collect();
    stale.sort();
    stale.dedup();
    Merge { datums: planned, stale_outputs: stale }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &str, hash: &str) -> LeafMatch {
        LeafMatch { path: path.into(), hash: hash.into(), size: 1 }
    }

    #[test]
    fn ancestors_matching_the_glob_are_the_datums_a_change_touches() {
        let glob = Glob::new("/*").unwrap();
        assert_eq!(matching_ancestors(&glob, "/a/b/c.txt"), ["/a"]);
        assert_eq!(matching_ancestors(&glob, "/top.txt"), ["/top.txt"]);
        let deep = Glob::new("/*/*").unwrap();
        assert_eq!(matching_ancestors(&deep, "/a/b/c.txt"), ["/a/b"]);
        let root = Glob::new("/").unwrap();
        assert_eq!(matching_ancestors(&root, "/a/b"), ["/"]);
        let all = Glob::new("/**").unwrap();
        assert_eq!(matching_ancestors(&all, "/a/b"), ["/a", "/a/b"]);
    }

    #[test]
    fn touched_matches_replace_remove_or_add_in_path_order() {
        let base = vec![m("/a", "1"), m("/b", "2"), m("/c", "3")];
        let mut touched = BTreeMap::new();
        touched.insert("/b".to_owned(), None);
        touched.insert("/c".to_owned(), Some(m("/c", "9")));
        touched.insert("/ab".to_owned(), Some(m("/ab", "4")));
        let merged = apply_touched(&base, touched);
        let paths: Vec<_> = merged.iter().map(|x| (x.path.as_str(), x.hash.as_str())).collect();
        assert_eq!(paths, [("/a", "1"), ("/ab", "4"), ("/c", "9")]);
    }

    fn datum(id: &str, hash: &str) -> Datum {
        Datum { id: id.into(), hash: hash.into(), inputs: Vec::new() }
    }

    fn base_plan() -> Plan {
        let mut done = PlannedDatum::new(datum("a", "h1"), DatumState::Processed, vec!["/out/a".into()]);
        done.outputs = vec!["/out/a".into()];
        Plan {
            leaves: Vec::new(),
            datums: vec![
                done,
                PlannedDatum::new(datum("b", "h2"), DatumState::Processed, vec!["/out/b".into()]),
                PlannedDatum::new(datum("c", "h3"), DatumState::Failed, Vec::new()),
                PlannedDatum::new(datum("gone", "h4"), DatumState::Skipped, vec!["/out/gone".into()]),
            ],
        }
    }

    #[test]
    fn unchanged_successful_datums_are_skipped_with_their_outputs() {
        let merge = merge_with_base(
            vec![datum("a", "h1"), datum("b", "changed"), datum("c", "h3")],
            Some(&base_plan()),
            false,
            &HashSet::new(),
        );
        let states: Vec<_> = merge.datums.iter().map(|d| (d.id.as_str(), d.state)).collect();
        assert_eq!(states, [("a", DatumState::Skipped), ("b", DatumState::Pending), ("c", DatumState::Pending)]);
        assert_eq!(merge.datums[0].outputs, ["/out/a"]);
        assert_eq!(merge.stale_outputs, ["/out/b", "/out/gone"]);
    }

    #[test]
    fn every_job_reprocessing_skips_nothing() {
        let merge = merge_with_base(vec![datum("a", "h1")], Some(&base_plan()), true, &HashSet::new());
        assert_eq!(merge.datums[0].state, DatumState::Pending);
        assert!(merge.stale_outputs.contains(&"/out/a".to_owned()));
    }

    #[test]
    fn a_datum_rewritten_by_a_failed_job_since_the_base_runs_again() {
        let ran_since = HashSet::from(["a".to_owned()]);
        let merge = merge_with_base(vec![datum("a", "h1")], Some(&base_plan()), false, &ran_since);
        assert_eq!(merge.datums[0].state, DatumState::Pending);
        assert!(merge.stale_outputs.contains(&"/out/a".to_owned()));
    }

    /// A plan as servers wrote it before PPS had state types of its own
    /// (postcard: lengths as varints, every field in order, the datum
    /// state by position): one leaf with one match, a processed datum and a
    /// recovered one whose input has a key.
    const PLAN_WRITTEN_EARLIER: &[u8] = b"\x01\x02in\x02/*\x02c1\x01\x02/a\x01h\x03\
        \x02\x02d1\x01x\x01\x02in\x02in\x02c1\x02/a\x00\x01\x01\x06/out/a\
        \x02d2\x01y\x01\x01k\x01r\x02c2\x02/b\x01\x01j\x04\x00";

    #[test]
    fn plans_written_earlier_read_back_and_are_written_the_same_way() {
        let plan: Plan = postcard::from_bytes(PLAN_WRITTEN_EARLIER).unwrap();
        assert_eq!(plan.leaves.len(), 1);
        assert_eq!((plan.leaves[0].repo.as_str(), plan.leaves[0].glob.as_str()), ("in", "/*"));
        assert_eq!(plan.leaves[0].matches, [LeafMatch { path: "/a".into(), hash: "h".into(), size: 3 }]);
        let [first, second] = &plan.datums[..] else { panic!("two datums: {plan:?}") };
        assert_eq!((first.id.as_str(), first.hash.as_str(), first.state), ("d1", "x", DatumState::Processed));
        assert_eq!(first.outputs, ["/out/a"]);
        let input = |name: &str, repo: &str, commit: &str, path: &str, key: Option<&str>| DatumInput {
            name: name.into(),
            repo: repo.into(),
            commit: commit.into(),
            path: path.into(),
            key: key.map(str::to_owned),
        };
        assert_eq!(first.inputs, [input("in", "in", "c1", "/a", None)]);
        assert_eq!((second.id.as_str(), second.state), ("d2", DatumState::Recovered));
        assert_eq!(second.inputs, [input("k", "r", "c2", "/b", Some("j"))]);
        assert!(second.outputs.is_empty());
        assert_eq!(postcard::to_stdvec(&plan).unwrap(), PLAN_WRITTEN_EARLIER, "older servers read what we write");
    }

    #[test]
    fn plans_survive_encoding() {
        let plan = base_plan();
        let raw = postcard::to_stdvec(&plan).unwrap();
        let back: Plan = postcard::from_bytes(&raw).unwrap();
        assert_eq!(back.datums.len(), 4);
        assert_eq!(back.datums[3].outputs, ["/out/gone"]);
    }
}
