//! PFS metadata persistence: the only module that touches sea-orm.
//!
//! Invariant: every row that names an object (a root or a layer) is written
//! after that object, so a crash never leaves a dangling reference.
//! Invariant: state changes that must not be lost in a race are single
//! conditional statements (`UPDATE ... WHERE finished_at IS NULL AND
//! layers = N`), atomic on SQLite and PostgreSQL alike.

mod entities;
pub mod migration;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use strata_core::id::CommitId;

use self::entities::{branch, branch_provenance, commit, commit_provenance, layer, repo};
use crate::error::PfsError;
use crate::model::{Branch, BranchRef, Commit, Origin, Repo, RepoKind};
use crate::names::{BranchName, RepoName};
use crate::storage::Hash;

fn parse_commit_id(text: &str) -> Result<CommitId, PfsError> {
    text.parse().map_err(|e| PfsError::Internal(format!("stored commit id: {e}")))
}

fn parse_hash(text: &str) -> Result<Hash, PfsError> {
    Hash::from_hex(text).ok_or_else(|| PfsError::Internal(format!("stored hash `{text}` is not hex")))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Deletes one commit row with its layers and provenance, within `txn`.
async fn delete_commit_rows(txn: &impl ConnectionTrait, repo: &str, id: CommitId) -> Result<(), PfsError> {
    let key = id.to_string();
    layer::Entity::delete_many()
        .filter(layer::Column::Repo.eq(repo))
        .filter(layer::Column::Commit.eq(&key))
        .exec(txn)
        .await?;
    commit_provenance::Entity::delete_many()
        .filter(commit_provenance::Column::Repo.eq(repo))
        .filter(commit_provenance::Column::Commit.eq(&key))
        .exec(txn)
        .await?;
    commit::Entity::delete_by_id((repo.to_owned(), key)).exec(txn).await?;
    Ok(())
}

fn repo_from_row(row: repo::Model) -> Result<Repo, PfsError> {
    Ok(Repo {
        kind: RepoKind::parse(&row.kind)?,
        name: RepoName::from_stored(row.name),
        description: row.description,
        created_at: row.created_at,
    })
}

/// Branch rows joined with their provenance rows (read in one statement
/// for all of them).
fn branches_with_provenance(
    rows: Vec<branch::Model>,
    provenance: Vec<branch_provenance::Model>,
) -> Result<Vec<Branch>, PfsError> {
    let mut by_branch: HashMap<(String, String), Vec<BranchRef>> = HashMap::new();
    for row in provenance {
        let upstream = BranchRef {
            repo: RepoName::from_stored(row.upstream_repo),
            branch: BranchName::from_stored(row.upstream_branch),
        };
        by_branch.entry((row.repo, row.branch)).or_default().push(upstream);
    }
    rows.into_iter()
        .map(|row| {
            Ok(Branch {
                head: parse_commit_id(&row.head)?,
                provenance: by_branch.remove(&(row.repo.clone(), row.name.clone())).unwrap_or_default(),
                repo: RepoName::from_stored(row.repo),
                name: row.name,
                created_at: row.created_at,
            })
        })
        .collect()
}

fn commit_from_row(row: commit::Model, provenance: Vec<(RepoName, CommitId)>) -> Result<Commit, PfsError> {
    Ok(Commit {
        id: parse_commit_id(&row.id)?,
        parent: row.parent.as_deref().map(parse_commit_id).transpose()?,
        root: row.root.as_deref().map(parse_hash).transpose()?,
        repo: RepoName::from_stored(row.repo),
        seq: row.seq,
        branch: row.branch,
        origin: Origin::parse(&row.origin),
        description: row.description,
        started_at: row.started_at,
        finished_at: row.finished_at,
        size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
        files: u64::try_from(row.files).unwrap_or(0),
        error: row.error,
        provenance,
    })
}

/// What starting a commit does to its branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadUpdate {
    /// Nothing; the caller points a branch at the commit.
    Leave,
    /// Create the branch with the commit as head (fails if it exists).
    Create,
    /// Move the head from this commit to the new one (fails if it moved).
    Move(CommitId),
}

/// The metadata store of one workspace.
#[derive(Debug, Clone)]
pub struct Meta {
    db: DatabaseConnection,
}

impl Meta {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    // ---- repos -------------------------------------------------------

    pub async fn repo_create(&self, name: &str, kind: RepoKind, description: &str) -> Result<Repo, PfsError> {
        if self.repo_get(name).await?.is_some() {
            return Err(PfsError::AlreadyExists { what: format!("repo `{name}`") });
        }
        let row = repo::ActiveModel {
            name: Set(name.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            description: Set(description.to_owned()),
            created_at: Set(Utc::now()),
        };
        // A concurrent create of the same name loses on the primary key.
        repo::Entity::insert(row).exec(&self.db).await.map_err(|e| match self.is_unique_violation(&e) {
            true => PfsError::AlreadyExists { what: format!("repo `{name}`") },
            false => PfsError::Database(e),
        })?;
        self.repo_get(name).await?.ok_or_else(|| PfsError::Internal("repo vanished after create".into()))
    }

    fn is_unique_violation(&self, error: &sea_orm::DbErr) -> bool {
        let text = error.to_string().to_lowercase();
        text.contains("unique") || text.contains("duplicate key")
    }

    pub async fn repo_get(&self, name: &str) -> Result<Option<Repo>, PfsError> {
        let row = repo::Entity::find_by_id(name.to_owned()).one(&self.db).await?;
        row.map(repo_from_row).transpose()
    }

    pub async fn repo_list(&self) -> Result<Vec<Repo>, PfsError> {
        let rows = repo::Entity::find().order_by_asc(repo::Column::Name).all(&self.db).await?;
        rows.into_iter().map(repo_from_row).collect()
    }

    /// Deletes a repo with all its branches, commits and layers, in one
    /// transaction. Objects are left to GC.
    pub async fn repo_delete(&self, name: &str) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        layer::Entity::delete_many().filter(layer::Column::Repo.eq(name)).exec(&txn).await?;
        commit_provenance::Entity::delete_many().filter(commit_provenance::Column::Repo.eq(name)).exec(&txn).await?;
        branch_provenance::Entity::delete_many().filter(branch_provenance::Column::Repo.eq(name)).exec(&txn).await?;
        branch::Entity::delete_many().filter(branch::Column::Repo.eq(name)).exec(&txn).await?;
        commit::Entity::delete_many().filter(commit::Column::Repo.eq(name)).exec(&txn).await?;
        repo::Entity::delete_by_id(name.to_owned()).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Branches of other repos whose provenance includes `repo`.
    pub async fn repo_dependants(&self, repo: &str) -> Result<Vec<(String, String)>, PfsError> {
        let rows = branch_provenance::Entity::find()
            .filter(branch_provenance::Column::UpstreamRepo.eq(repo))
            .filter(branch_provenance::Column::Repo.ne(repo))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.repo, r.branch)).collect())
    }

    // ---- branches ----------------------------------------------------

    pub async fn branch_get(&self, repo: &str, name: &str) -> Result<Option<Branch>, PfsError> {
        let Some(row) = branch::Entity::find_by_id((repo.to_owned(), name.to_owned())).one(&self.db).await? else {
            return Ok(None);
        };
        let provenance = branch_provenance::Entity::find()
            .filter(branch_provenance::Column::Repo.eq(repo))
            .filter(branch_provenance::Column::Branch.eq(name))
            .order_by_asc(branch_provenance::Column::UpstreamRepo)
            .all(&self.db)
            .await?;
        Ok(branches_with_provenance(vec![row], provenance)?.pop())
    }

    /// The branches of `repo` (or of every repo when `None`), by repo and
    /// name, in two statements whatever their number.
    pub async fn branch_list(&self, repo: Option<&str>) -> Result<Vec<Branch>, PfsError> {
        let mut branches = branch::Entity::find();
        let mut provenance = branch_provenance::Entity::find();
        if let Some(repo) = repo {
            branches = branches.filter(branch::Column::Repo.eq(repo));
            provenance = provenance.filter(branch_provenance::Column::Repo.eq(repo));
        }
        let rows = branches.order_by_asc(branch::Column::Repo).order_by_asc(branch::Column::Name).all(&self.db).await?;
        let provenance = provenance.order_by_asc(branch_provenance::Column::UpstreamRepo).all(&self.db).await?;
        branches_with_provenance(rows, provenance)
    }

    /// The size of every branch head of `repo` (of every repo when `None`),
    /// by `(repo, head)`, in one statement.
    pub async fn branch_head_sizes(&self, repo: Option<&str>) -> Result<HashMap<(String, CommitId), u64>, PfsError> {
        let mut heads = sea_orm::sea_query::Query::select();
        heads.column(branch::Column::Head).from(branch::Entity);
        let mut commits = commit::Entity::find();
        if let Some(repo) = repo {
            heads.and_where(Expr::col(branch::Column::Repo).eq(repo));
            commits = commits.filter(commit::Column::Repo.eq(repo));
        }
        // Commits of one commit set share an id across repos; the caller
        // looks sizes up by repo and id, so the extra rows are harmless.
        let sizes: Vec<(String, String, i64)> = commits
            .select_only()
            .columns([commit::Column::Repo, commit::Column::Id, commit::Column::SizeBytes])
            .filter(commit::Column::Id.in_subquery(heads))
            .into_tuple()
            .all(&self.db)
            .await?;
        sizes
            .into_iter()
            .map(|(repo, id, size)| Ok(((repo, parse_commit_id(&id)?), u64::try_from(size).unwrap_or(0))))
            .collect()
    }

    /// Points a branch at `head`, creating it if needed, and replaces its
    /// provenance when `provenance` is given.
    pub async fn branch_upsert(
        &self,
        repo: &str,
        name: &str,
        head: CommitId,
        provenance: Option<&[BranchRef]>,
    ) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        let existing = branch::Entity::find_by_id((repo.to_owned(), name.to_owned())).one(&txn).await?;
        if existing.is_some() {
            branch::Entity::update_many()
                .col_expr(branch::Column::Head, Expr::value(head.to_string()))
                .filter(branch::Column::Repo.eq(repo))
                .filter(branch::Column::Name.eq(name))
                .exec(&txn)
                .await?;
        } else {
            let row = branch::ActiveModel {
                repo: Set(repo.to_owned()),
                name: Set(name.to_owned()),
                head: Set(head.to_string()),
                created_at: Set(Utc::now()),
            };
            branch::Entity::insert(row).exec(&txn).await?;
        }
        if let Some(provenance) = provenance {
            branch_provenance::Entity::delete_many()
                .filter(branch_provenance::Column::Repo.eq(repo))
                .filter(branch_provenance::Column::Branch.eq(name))
                .exec(&txn)
                .await?;
            for upstream in provenance {
                let row = branch_provenance::ActiveModel {
                    repo: Set(repo.to_owned()),
                    branch: Set(name.to_owned()),
                    upstream_repo: Set(upstream.repo.to_string()),
                    upstream_branch: Set(upstream.branch.to_string()),
                };
                branch_provenance::Entity::insert(row).exec(&txn).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn branch_delete(&self, repo: &str, name: &str) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        branch_provenance::Entity::delete_many()
            .filter(branch_provenance::Column::Repo.eq(repo))
            .filter(branch_provenance::Column::Branch.eq(name))
            .exec(&txn)
            .await?;
        branch::Entity::delete_by_id((repo.to_owned(), name.to_owned())).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Branches (of any repo) that list `repo@name` in their provenance.
    pub async fn branch_downstream(&self, repo: &str, name: &str) -> Result<Vec<(String, String)>, PfsError> {
        let rows = branch_provenance::Entity::find()
            .filter(branch_provenance::Column::UpstreamRepo.eq(repo))
            .filter(branch_provenance::Column::UpstreamBranch.eq(name))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.repo, r.branch)).collect())
    }

    // ---- commits -----------------------------------------------------

    /// Inserts a new commit (with its provenance) and updates its branch as
    /// `head` says. Returns `false` when another writer moved the head first.
    pub async fn commit_start(&self, commit: &Commit, head: HeadUpdate) -> Result<bool, PfsError> {
        // Two commits started at once in one repo can pick the same `seq`;
        // the loser of that unique-key race simply takes the next one.
        const ATTEMPTS: usize = 8;
        for _ in 1..ATTEMPTS {
            match self.commit_start_once(commit, head).await {
                Err(PfsError::Database(error)) if self.is_unique_violation(&error) => continue,
                other => return other,
            }
        }
        self.commit_start_once(commit, head).await
    }

    async fn commit_start_once(&self, commit: &Commit, head: HeadUpdate) -> Result<bool, PfsError> {
        let txn = self.db.begin().await?;
        let seq: Option<i64> = commit::Entity::find()
            .select_only()
            .column_as(commit::Column::Seq.max(), "max")
            .filter(commit::Column::Repo.eq(commit.repo.as_str()))
            .into_tuple()
            .one(&txn)
            .await?
            .flatten();
        let row = commit::ActiveModel {
            repo: Set(commit.repo.to_string()),
            id: Set(commit.id.to_string()),
            seq: Set(seq.unwrap_or(0) + 1),
            branch: Set(commit.branch.clone()),
            parent: Set(commit.parent.map(|p| p.to_string())),
            origin: Set(commit.origin.as_str().to_owned()),
            description: Set(commit.description.clone()),
            started_at: Set(commit.started_at),
            finished_at: Set(commit.finished_at),
            root: Set(commit.root.map(Hash::to_hex)),
            size_bytes: Set(to_i64(commit.size_bytes)),
            files: Set(to_i64(commit.files)),
            layers: Set(0),
            error: Set(None),
        };
        commit::Entity::insert(row).exec(&txn).await?;
        for (upstream_repo, upstream_commit) in &commit.provenance {
            let row = commit_provenance::ActiveModel {
                repo: Set(commit.repo.to_string()),
                commit: Set(commit.id.to_string()),
                upstream_repo: Set(upstream_repo.to_string()),
                upstream_commit: Set(upstream_commit.to_string()),
            };
            commit_provenance::Entity::insert(row).exec(&txn).await?;
        }
        if let (Some(branch_name), false) = (&commit.branch, head == HeadUpdate::Leave) {
            let moved = match head {
                HeadUpdate::Leave => true,
                HeadUpdate::Move(expected) => {
                    branch::Entity::update_many()
                        .col_expr(branch::Column::Head, Expr::value(commit.id.to_string()))
                        .filter(branch::Column::Repo.eq(commit.repo.as_str()))
                        .filter(branch::Column::Name.eq(branch_name))
                        .filter(branch::Column::Head.eq(expected.to_string()))
                        .exec(&txn)
                        .await?
                        .rows_affected
                        == 1
                }
                HeadUpdate::Create => {
                    let row = branch::ActiveModel {
                        repo: Set(commit.repo.to_string()),
                        name: Set(branch_name.clone()),
                        head: Set(commit.id.to_string()),
                        created_at: Set(Utc::now()),
                    };
                    branch::Entity::insert(row).exec(&txn).await.is_ok()
                }
            };
            if !moved {
                txn.rollback().await?;
                return Ok(false);
            }
        }
        txn.commit().await?;
        Ok(true)
    }

    pub async fn commit_get(&self, repo: &str, id: CommitId) -> Result<Option<Commit>, PfsError> {
        let Some(row) = commit::Entity::find_by_id((repo.to_owned(), id.to_string())).one(&self.db).await? else {
            return Ok(None);
        };
        Ok(self.with_provenance(vec![row]).await?.pop())
    }

    /// Commit rows with their provenance, read in one more statement.
    async fn with_provenance(&self, rows: Vec<commit::Model>) -> Result<Vec<Commit>, PfsError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut by_commit: HashMap<(String, String), Vec<(RepoName, CommitId)>> = HashMap::new();
        let provenance = commit_provenance::Entity::find()
            .filter(commit_provenance::Column::Commit.is_in(ids))
            .order_by_asc(commit_provenance::Column::UpstreamRepo)
            .all(&self.db)
            .await?;
        for row in provenance {
            let upstream = (RepoName::from_stored(row.upstream_repo), parse_commit_id(&row.upstream_commit)?);
            by_commit.entry((row.repo, row.commit)).or_default().push(upstream);
        }
        rows.into_iter()
            .map(|row| {
                let provenance = by_commit.remove(&(row.repo.clone(), row.id.clone())).unwrap_or_default();
                commit_from_row(row, provenance)
            })
            .collect()
    }

    /// Commits of a repo, newest first.
    pub async fn commit_list(&self, repo: &str, limit: u64) -> Result<Vec<Commit>, PfsError> {
        let rows = commit::Entity::find()
            .filter(commit::Column::Repo.eq(repo))
            .order_by_desc(commit::Column::Seq)
            // SQL LIMIT is a signed 64-bit number.
            .limit(Ord::min(limit, i64::MAX.unsigned_abs()))
            .all(&self.db)
            .await?;
        self.with_provenance(rows).await
    }

    /// Up to `limit` commits of `repo` created no later than `commit`
    /// (itself included), newest first. A parent is always older than its
    /// child, so a commit's ancestors are among them: history is read a
    /// batch at a time instead of a commit at a time.
    pub async fn commit_list_from(&self, repo: &str, commit: CommitId, limit: u64) -> Result<Vec<Commit>, PfsError> {
        let seq = commit::Entity::find_by_id((repo.to_owned(), commit.to_string()))
            .select_only()
            .column(commit::Column::Seq)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        let Some(seq) = seq else { return Ok(Vec::new()) };
        let rows = commit::Entity::find()
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Seq.lte(seq))
            .order_by_desc(commit::Column::Seq)
            .limit(Ord::min(limit, i64::MAX.unsigned_abs()))
            .all(&self.db)
            .await?;
        self.with_provenance(rows).await
    }

    /// Every commit that shares `id` (a commit set), in any repo.
    pub async fn commit_set(&self, id: CommitId) -> Result<Vec<Commit>, PfsError> {
        let rows = commit::Entity::find()
            .filter(commit::Column::Id.eq(id.to_string()))
            .order_by_asc(commit::Column::Repo)
            .all(&self.db)
            .await?;
        self.with_provenance(rows).await
    }

    pub async fn commit_children(&self, repo: &str, id: CommitId) -> Result<Vec<CommitId>, PfsError> {
        let rows = commit::Entity::find()
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Parent.eq(id.to_string()))
            .all(&self.db)
            .await?;
        rows.iter().map(|r| parse_commit_id(&r.id)).collect()
    }

    /// Records a layer written to an open commit. Fails with `Conflict` if
    /// the commit was finished meanwhile.
    pub async fn commit_add_layer(&self, repo: &str, id: CommitId, layer_hash: Hash) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        let bumped = commit::Entity::update_many()
            .col_expr(commit::Column::Layers, Expr::col(commit::Column::Layers).add(1))
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Id.eq(id.to_string()))
            .filter(commit::Column::FinishedAt.is_null())
            .exec(&txn)
            .await?;
        if bumped.rows_affected != 1 {
            txn.rollback().await?;
            return Err(PfsError::Conflict(format!(
                "commit {repo}@{id} is finished; start a new commit to write more"
            )));
        }
        let seq: i32 = commit::Entity::find_by_id((repo.to_owned(), id.to_string()))
            .one(&txn)
            .await?
            .map(|c| c.layers)
            .ok_or_else(|| PfsError::Internal("commit vanished".into()))?;
        let row = layer::ActiveModel {
            repo: Set(repo.to_owned()),
            commit: Set(id.to_string()),
            seq: Set(seq),
            layer: Set(layer_hash.to_hex()),
        };
        layer::Entity::insert(row).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The layers of an open commit, oldest first.
    pub async fn commit_layers(&self, repo: &str, id: CommitId) -> Result<Vec<Hash>, PfsError> {
        let rows = layer::Entity::find()
            .filter(layer::Column::Repo.eq(repo))
            .filter(layer::Column::Commit.eq(id.to_string()))
            .order_by_asc(layer::Column::Seq)
            .all(&self.db)
            .await?;
        rows.iter().map(|r| parse_hash(&r.layer)).collect()
    }

    /// Finishes an open commit with its new root, only if exactly `layers`
    /// layers were written (none was added while the root was computed).
    /// Returns `false` when the commit changed meanwhile.
    #[allow(clippy::too_many_arguments, reason = "one atomic statement with all the commit's final figures")]
    pub async fn commit_finish(
        &self,
        repo: &str,
        id: CommitId,
        layers: i32,
        root: Hash,
        size_bytes: u64,
        files: u64,
        description: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool, PfsError> {
        let txn = self.db.begin().await?;
        let mut update = commit::Entity::update_many()
            .col_expr(commit::Column::FinishedAt, Expr::value(Utc::now()))
            .col_expr(commit::Column::Root, Expr::value(root.to_hex()))
            .col_expr(commit::Column::SizeBytes, Expr::value(to_i64(size_bytes)))
            .col_expr(commit::Column::Files, Expr::value(to_i64(files)))
            .col_expr(commit::Column::Error, Expr::value(error.map(str::to_owned)));
        if let Some(description) = description {
            update = update.col_expr(commit::Column::Description, Expr::value(description.to_owned()));
        }
        let result = update
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Id.eq(id.to_string()))
            .filter(commit::Column::FinishedAt.is_null())
            .filter(commit::Column::Layers.eq(layers))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        layer::Entity::delete_many()
            .filter(layer::Column::Repo.eq(repo))
            .filter(layer::Column::Commit.eq(id.to_string()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Removes commit `id` from history in one transaction: its children
    /// take `parent` as theirs, then its row goes with its layers and
    /// provenance. The caller has checked that no branch points at it.
    pub async fn commit_squash(&self, repo: &str, id: CommitId, parent: Option<CommitId>) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        commit::Entity::update_many()
            .col_expr(commit::Column::Parent, Expr::value(parent.map(|p| p.to_string())))
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Parent.eq(id.to_string()))
            .exec(&txn)
            .await?;
        delete_commit_rows(&txn, repo, id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes one commit row with its layers and provenance, and moves any
    /// branch whose head it was to `new_head`.
    pub async fn commit_delete(&self, repo: &str, id: CommitId, new_head: Option<CommitId>) -> Result<(), PfsError> {
        let txn = self.db.begin().await?;
        let key = id.to_string();
        match new_head {
            Some(head) => {
                branch::Entity::update_many()
                    .col_expr(branch::Column::Head, Expr::value(head.to_string()))
                    .filter(branch::Column::Repo.eq(repo))
                    .filter(branch::Column::Head.eq(&key))
                    .exec(&txn)
                    .await?;
            }
            None => {
                branch::Entity::delete_many()
                    .filter(branch::Column::Repo.eq(repo))
                    .filter(branch::Column::Head.eq(&key))
                    .exec(&txn)
                    .await?;
            }
        }
        delete_commit_rows(&txn, repo, id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every object hash metadata refers to: roots of finished commits and
    /// layers of open ones. The mark phase of GC starts here.
    pub async fn referenced_objects(&self) -> Result<(Vec<Hash>, Vec<Hash>), PfsError> {
        let roots: Vec<Option<String>> =
            commit::Entity::find().select_only().column(commit::Column::Root).into_tuple().all(&self.db).await?;
        let layers: Vec<String> =
            layer::Entity::find().select_only().column(layer::Column::Layer).into_tuple().all(&self.db).await?;
        let roots = roots.into_iter().flatten().map(|r| parse_hash(&r)).collect::<Result<_, _>>()?;
        let layers = layers.iter().map(|l| parse_hash(l)).collect::<Result<_, _>>()?;
        Ok((roots, layers))
    }

    /// Runs the migrations of PFS.
    pub async fn migrate(&self) -> Result<(), PfsError> {
        use sea_orm_migration::MigratorTrait;
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }
}
