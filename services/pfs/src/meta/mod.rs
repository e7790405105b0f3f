//! PFS metadata persistence: the only module that touches sea-orm.
//!
//! Invariant: every row that names an object (a root or a layer) is written
//! after that object, so a crash never leaves a dangling reference.
//! Invariant: state changes that must not be lost in a race are single
//! conditional statements (`UPDATE ... WHERE finished_at IS NULL AND
//! layers = N`), atomic on SQLite and PostgreSQL alike.

mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use strata_core::id::CommitId;

use self::entities::{branch, branch_provenance, commit, commit_provenance, layer, repo};
use crate::error::PfsError;
use crate::storage::Hash;

/// What a repo holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// Data people put in.
    User,
    /// A pipeline's output.
    Output,
    /// A pipeline's spec history.
    Spec,
}

impl RepoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::User => "user",
            RepoKind::Output => "output",
            RepoKind::Spec => "spec",
        }
    }

    pub fn parse(text: &str) -> Result<Self, PfsError> {
        match text {
            "user" => Ok(RepoKind::User),
            "output" => Ok(RepoKind::Output),
            "spec" => Ok(RepoKind::Spec),
            other => Err(PfsError::invalid("repo type", format!("`{other}` is not one of: user, output, spec"))),
        }
    }
}

/// A repo row.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    pub kind: RepoKind,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// A branch row with its direct provenance.
#[derive(Debug, Clone)]
pub struct Branch {
    pub repo: String,
    pub name: String,
    pub head: CommitId,
    pub created_at: DateTime<Utc>,
    /// `(repo, branch)` pairs this branch is derived from.
    pub provenance: Vec<(String, String)>,
}

/// How a commit came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Started by a person or a program.
    User,
    /// Created by provenance propagation (a pipeline's output).
    Auto,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "USER",
            Origin::Auto => "AUTO",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "AUTO" { Origin::Auto } else { Origin::User }
    }
}

/// A commit row.
#[derive(Debug, Clone)]
pub struct Commit {
    pub repo: String,
    pub id: CommitId,
    /// Order of creation within the repo.
    pub seq: i64,
    pub branch: Option<String>,
    pub parent: Option<CommitId>,
    pub origin: Origin,
    pub description: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The file-set root; `None` while open.
    pub root: Option<Hash>,
    pub size_bytes: u64,
    pub files: u64,
    /// Number of change layers written so far.
    pub layers: i32,
    pub error: Option<String>,
    /// `(repo, commit)` pairs this commit was derived from.
    pub provenance: Vec<(String, CommitId)>,
}

impl Commit {
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}

fn parse_commit_id(text: &str) -> Result<CommitId, PfsError> {
    text.parse().map_err(|e| PfsError::Internal(format!("stored commit id: {e}")))
}

fn parse_hash(text: &str) -> Result<Hash, PfsError> {
    Hash::from_hex(text).ok_or_else(|| PfsError::Internal(format!("stored hash `{text}` is not hex")))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn commit_from_row(row: commit::Model, provenance: Vec<(String, CommitId)>) -> Result<Commit, PfsError> {
    Ok(Commit {
        id: parse_commit_id(&row.id)?,
        parent: row.parent.as_deref().map(parse_commit_id).transpose()?,
        root: row.root.as_deref().map(parse_hash).transpose()?,
        repo: row.repo,
        seq: row.seq,
        branch: row.branch,
        origin: Origin::parse(&row.origin),
        description: row.description,
        started_at: row.started_at,
        finished_at: row.finished_at,
        size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
        files: u64::try_from(row.files).unwrap_or(0),
        layers: row.layers,
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

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
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
        row.map(|row| {
            Ok(Repo {
                kind: RepoKind::parse(&row.kind)?,
                name: row.name,
                description: row.description,
                created_at: row.created_at,
            })
        })
        .transpose()
    }

    pub async fn repo_list(&self) -> Result<Vec<Repo>, PfsError> {
        let rows = repo::Entity::find().order_by_asc(repo::Column::Name).all(&self.db).await?;
        rows.into_iter()
            .map(|row| {
                Ok(Repo {
                    kind: RepoKind::parse(&row.kind)?,
                    name: row.name,
                    description: row.description,
                    created_at: row.created_at,
                })
            })
            .collect()
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

    async fn branch_provenance_of(&self, repo: &str, name: &str) -> Result<Vec<(String, String)>, PfsError> {
        let rows = branch_provenance::Entity::find()
            .filter(branch_provenance::Column::Repo.eq(repo))
            .filter(branch_provenance::Column::Branch.eq(name))
            .order_by_asc(branch_provenance::Column::UpstreamRepo)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.upstream_repo, r.upstream_branch)).collect())
    }

    pub async fn branch_get(&self, repo: &str, name: &str) -> Result<Option<Branch>, PfsError> {
        let Some(row) = branch::Entity::find_by_id((repo.to_owned(), name.to_owned())).one(&self.db).await? else {
            return Ok(None);
        };
        let provenance = self.branch_provenance_of(repo, name).await?;
        Ok(Some(Branch {
            head: parse_commit_id(&row.head)?,
            repo: row.repo,
            name: row.name,
            created_at: row.created_at,
            provenance,
        }))
    }

    pub async fn branch_list(&self, repo: &str) -> Result<Vec<Branch>, PfsError> {
        let rows = branch::Entity::find()
            .filter(branch::Column::Repo.eq(repo))
            .order_by_asc(branch::Column::Name)
            .all(&self.db)
            .await?;
        let mut branches = Vec::with_capacity(rows.len());
        for row in rows {
            let provenance = self.branch_provenance_of(repo, &row.name).await?;
            branches.push(Branch {
                head: parse_commit_id(&row.head)?,
                repo: row.repo,
                name: row.name,
                created_at: row.created_at,
                provenance,
            });
        }
        Ok(branches)
    }

    /// Points a branch at `head`, creating it if needed, and replaces its
    /// provenance when `provenance` is given.
    pub async fn branch_upsert(
        &self,
        repo: &str,
        name: &str,
        head: CommitId,
        provenance: Option<&[(String, String)]>,
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
            for (upstream_repo, upstream_branch) in provenance {
                let row = branch_provenance::ActiveModel {
                    repo: Set(repo.to_owned()),
                    branch: Set(name.to_owned()),
                    upstream_repo: Set(upstream_repo.clone()),
                    upstream_branch: Set(upstream_branch.clone()),
                };
                branch_provenance::Entity::insert(row).exec(&txn).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Moves the head only if it is still `expected`: the loser of a race
    /// between two writers learns it lost.
    pub async fn branch_move_head(
        &self,
        repo: &str,
        name: &str,
        expected: CommitId,
        head: CommitId,
    ) -> Result<bool, PfsError> {
        let result = branch::Entity::update_many()
            .col_expr(branch::Column::Head, Expr::value(head.to_string()))
            .filter(branch::Column::Repo.eq(repo))
            .filter(branch::Column::Name.eq(name))
            .filter(branch::Column::Head.eq(expected.to_string()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
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
            .filter(commit::Column::Repo.eq(&commit.repo))
            .into_tuple()
            .one(&txn)
            .await?
            .flatten();
        let row = commit::ActiveModel {
            repo: Set(commit.repo.clone()),
            id: Set(commit.id.to_string()),
            seq: Set(seq.unwrap_or(0) + 1),
            branch: Set(commit.branch.clone()),
            parent: Set(commit.parent.map(|p| p.to_string())),
            origin: Set(commit.origin.as_str().to_owned()),
            description: Set(commit.description.clone()),
            started_at: Set(commit.started_at),
            finished_at: Set(commit.finished_at),
            root: Set(commit.root.map(|r| r.to_hex())),
            size_bytes: Set(to_i64(commit.size_bytes)),
            files: Set(to_i64(commit.files)),
            layers: Set(0),
            error: Set(None),
        };
        commit::Entity::insert(row).exec(&txn).await?;
        for (upstream_repo, upstream_commit) in &commit.provenance {
            let row = commit_provenance::ActiveModel {
                repo: Set(commit.repo.clone()),
                commit: Set(commit.id.to_string()),
                upstream_repo: Set(upstream_repo.clone()),
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
                        .filter(branch::Column::Repo.eq(&commit.repo))
                        .filter(branch::Column::Name.eq(branch_name))
                        .filter(branch::Column::Head.eq(expected.to_string()))
                        .exec(&txn)
                        .await?
                        .rows_affected
                        == 1
                }
                HeadUpdate::Create => {
                    let row = branch::ActiveModel {
                        repo: Set(commit.repo.clone()),
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
        let provenance = self.commit_provenance_of(repo, id).await?;
        commit_from_row(row, provenance).map(Some)
    }

    async fn commit_provenance_of(&self, repo: &str, id: CommitId) -> Result<Vec<(String, CommitId)>, PfsError> {
        let rows = commit_provenance::Entity::find()
            .filter(commit_provenance::Column::Repo.eq(repo))
            .filter(commit_provenance::Column::Commit.eq(id.to_string()))
            .all(&self.db)
            .await?;
        rows.into_iter().map(|r| Ok((r.upstream_repo, parse_commit_id(&r.upstream_commit)?))).collect()
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
        let mut commits = Vec::with_capacity(rows.len());
        for row in rows {
            let id = parse_commit_id(&row.id)?;
            let provenance = self.commit_provenance_of(repo, id).await?;
            commits.push(commit_from_row(row, provenance)?);
        }
        Ok(commits)
    }

    /// Every commit that shares `id` (a commit set), in any repo.
    pub async fn commit_set(&self, id: CommitId) -> Result<Vec<Commit>, PfsError> {
        let rows = commit::Entity::find()
            .filter(commit::Column::Id.eq(id.to_string()))
            .order_by_asc(commit::Column::Repo)
            .all(&self.db)
            .await?;
        let mut commits = Vec::with_capacity(rows.len());
        for row in rows {
            let provenance = self.commit_provenance_of(&row.repo, id).await?;
            commits.push(commit_from_row(row, provenance)?);
        }
        Ok(commits)
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

    /// Replaces a commit's parent (squash folds a commit into its children).
    pub async fn commit_set_parent_and_root(
        &self,
        repo: &str,
        id: CommitId,
        parent: Option<CommitId>,
        root: Option<(Hash, u64, u64)>,
    ) -> Result<(), PfsError> {
        let mut update =
            commit::Entity::update_many().col_expr(commit::Column::Parent, Expr::value(parent.map(|p| p.to_string())));
        if let Some((root, size, files)) = root {
            update = update
                .col_expr(commit::Column::Root, Expr::value(root.to_hex()))
                .col_expr(commit::Column::SizeBytes, Expr::value(to_i64(size)))
                .col_expr(commit::Column::Files, Expr::value(to_i64(files)));
        }
        update
            .filter(commit::Column::Repo.eq(repo))
            .filter(commit::Column::Id.eq(id.to_string()))
            .exec(&self.db)
            .await?;
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
        layer::Entity::delete_many()
            .filter(layer::Column::Repo.eq(repo))
            .filter(layer::Column::Commit.eq(&key))
            .exec(&txn)
            .await?;
        commit_provenance::Entity::delete_many()
            .filter(commit_provenance::Column::Repo.eq(repo))
            .filter(commit_provenance::Column::Commit.eq(&key))
            .exec(&txn)
            .await?;
        commit::Entity::delete_by_id((repo.to_owned(), key)).exec(&txn).await?;
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

    /// For tests and fsck: the database backend answers.
    pub async fn ping(&self) -> Result<(), PfsError> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}
