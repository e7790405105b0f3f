//! PPS metadata: pipelines with their spec history, jobs, the datums that
//! ran, and log lines, in the workspace database.
//!
//! Skipped datums have no rows: a job's full datum list lives in its plan
//! object (see `plan`), so skipping 20,000 datums writes nothing here.

mod entities;
pub mod migration;
mod secrets;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use crate::error::PpsError;
use crate::state::{DatumCounts, DatumState, DatumStats, JobState, JobStats};
use entities::{datum, job, log_line, pipeline, pipeline_version, usage};
pub use secrets::SecretRow;
pub use strata_api_types::pps::UsageRecord;

/// A pipeline's current row.
#[derive(Debug, Clone)]
pub struct PipelineRow {
    pub name: String,
    pub version: i32,
    /// The normalised spec as JSON (see `PipelineSpec::to_json`).
    pub spec: serde_json::Value,
    /// Mixed into every datum hash; a new salt reprocesses everything.
    pub salt: String,
    pub stopped: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A job's row.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub pipeline: String,
    pub id: String,
    pub seq: i64,
    pub state: JobState,
    pub reason: Option<String>,
    pub spec_version: i32,
    pub counts: DatumCounts,
    pub stats: JobStats,
    /// `repo@commit` of every input commit.
    pub inputs: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The image its datums run in, pinned by digest; set when the job
    /// starts, where images are pinned.
    pub image: Option<String>,
    /// What ran its datums (`container`, `namespace`, `scratch`), from its
    /// first task result.
    pub runner: Option<String>,
}

/// A datum that ran (processed, failed or recovered).
#[derive(Debug, Clone)]
pub struct DatumRow {
    pub id: String,
    pub state: DatumState,
    pub attempts: u32,
    pub exit: Option<String>,
    pub stats: DatumStats,
    pub outputs: Vec<String>,
    pub log: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A failed datum as `job inspect` shows it: the end of its log only.
#[derive(Debug, Clone)]
pub struct FailedDatumRow {
    pub id: String,
    pub exit: Option<String>,
    /// At most the last `log_tail` characters and one more (see
    /// [`Meta::datums_failed`]).
    pub log_end: String,
}

/// A datum that ran in some job, with the output paths it wrote.
#[derive(Debug, Clone)]
pub struct RanDatum {
    pub id: String,
    pub outputs: Vec<String>,
}

/// One stored log line.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub cursor: i64,
    pub ts: DateTime<Utc>,
    pub pipeline: String,
    pub job: Option<String>,
    pub datum: Option<String>,
    pub user: bool,
    pub message: String,
}

/// Which log lines to read.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub pipeline: String,
    pub job: Option<String>,
    pub datum: Option<String>,
    pub after: i64,
    pub limit: u64,
}

/// What [`Meta::logs_forget_before`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForgottenLogs {
    pub lines: u64,
    pub datum_logs: u64,
}

/// The PPS tables.
#[derive(Debug, Clone)]
pub struct Meta {
    db: DatabaseConnection,
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Where a stored value came from, so that one that does not read back is
/// reported as [`PpsError::Corrupted`] naming its table, row and column.
#[derive(Debug, Clone, Copy)]
struct Stored<'a> {
    table: &'static str,
    key: &'a str,
}

/// A stored name (a state) that no value of its type has.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a name PPS stores there")]
struct UnknownName(String);

/// A stored count or attempt number below zero or too large.
#[derive(Debug, thiserror::Error)]
#[error("{0} is out of range")]
struct OutOfRange(i64);

impl Stored<'_> {
    fn corrupted(self, column: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> PpsError {
        PpsError::Corrupted { table: self.table, key: self.key.to_owned(), column, source: Box::new(source) }
    }

    /// Parses a JSON column. Never a default: a corrupt `outputs` read as
    /// "none" would decide which outputs are stale and get deleted.
    fn json<T: serde::de::DeserializeOwned>(self, column: &'static str, text: &str) -> Result<T, PpsError> {
        serde_json::from_str(text).map_err(|source| self.corrupted(column, source))
    }

    fn named<T>(self, column: &'static str, text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, PpsError> {
        parse(text).ok_or_else(|| self.corrupted(column, UnknownName(text.to_owned())))
    }

    fn count<T: TryFrom<i64>>(self, column: &'static str, value: i64) -> Result<T, PpsError> {
        T::try_from(value).map_err(|_| self.corrupted(column, OutOfRange(value)))
    }
}

/// The key of a job in errors and logs: `pipeline@job`.
fn job_key(pipeline: &str, job: &str) -> String {
    format!("{pipeline}@{job}")
}

/// The key of a datum in errors and logs: `pipeline@job/datum`.
fn datum_key(pipeline: &str, job: &str, datum: &str) -> String {
    format!("{pipeline}@{job}/{datum}")
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Meta {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn migrate(&self) -> Result<(), PpsError> {
        use sea_orm_migration::MigratorTrait;
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    // ---- pipelines ---------------------------------------------------

    pub async fn pipeline_get(&self, name: &str) -> Result<Option<PipelineRow>, PpsError> {
        let row = pipeline::Entity::find_by_id(name.to_owned()).one(&self.db).await?;
        row.map(pipeline_row).transpose()
    }

    pub async fn pipeline_list(&self) -> Result<Vec<PipelineRow>, PpsError> {
        let rows = pipeline::Entity::find().order_by_asc(pipeline::Column::Name).all(&self.db).await?;
        rows.into_iter().map(pipeline_row).collect()
    }

    /// Creates a pipeline at version 1, or records a new version of it.
    pub async fn pipeline_save(
        &self,
        name: &str,
        spec: &serde_json::Value,
        salt: &str,
    ) -> Result<PipelineRow, PpsError> {
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let current = pipeline::Entity::find_by_id(name.to_owned()).one(&txn).await?;
        let version = current.as_ref().map_or(1, |row| row.version + 1);
        let row = pipeline::ActiveModel {
            name: Set(name.to_owned()),
            version: Set(version),
            spec: Set(spec.to_string()),
            salt: Set(salt.to_owned()),
            stopped: Set(current.as_ref().is_some_and(|row| row.stopped)),
            created_at: Set(current.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        pipeline::Entity::insert(row)
            .on_conflict(
                OnConflict::column(pipeline::Column::Name)
                    .update_columns([
                        pipeline::Column::Version,
                        pipeline::Column::Spec,
                        pipeline::Column::Salt,
                        pipeline::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        let history = pipeline_version::ActiveModel {
            pipeline: Set(name.to_owned()),
            version: Set(version),
            spec: Set(spec.to_string()),
            salt: Set(salt.to_owned()),
            created_at: Set(now),
        };
        pipeline_version::Entity::insert(history).exec(&txn).await?;
        txn.commit().await?;
        self.pipeline_get(name).await?.ok_or_else(|| PpsError::internal("pipeline vanished after save"))
    }

    pub async fn pipeline_set_stopped(&self, name: &str, stopped: bool) -> Result<(), PpsError> {
        pipeline::Entity::update_many()
            .col_expr(pipeline::Column::Stopped, Expr::value(stopped))
            .filter(pipeline::Column::Name.eq(name))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The spec (JSON) and salt of one version of a pipeline.
    pub async fn pipeline_version(
        &self,
        name: &str,
        version: i32,
    ) -> Result<Option<(serde_json::Value, String)>, PpsError> {
        let row = pipeline_version::Entity::find_by_id((name.to_owned(), version)).one(&self.db).await?;
        row.map(|row| {
            let key = format!("{name} v{version}");
            let spec = Stored { table: PIPELINE_VERSIONS, key: &key }.json("spec", &row.spec)?;
            Ok((spec, row.salt))
        })
        .transpose()
    }

    /// Number of versions recorded for a pipeline.
    pub async fn pipeline_versions(&self, name: &str) -> Result<u64, PpsError> {
        let rows =
            pipeline_version::Entity::find().filter(pipeline_version::Column::Pipeline.eq(name)).all(&self.db).await?;
        Ok(rows.len() as u64)
    }

    /// Deletes a pipeline and everything PPS recorded about it.
    pub async fn pipeline_delete(&self, name: &str) -> Result<(), PpsError> {
        let txn = self.db.begin().await?;
        log_line::Entity::delete_many().filter(log_line::Column::Pipeline.eq(name)).exec(&txn).await?;
        datum::Entity::delete_many().filter(datum::Column::Pipeline.eq(name)).exec(&txn).await?;
        job::Entity::delete_many().filter(job::Column::Pipeline.eq(name)).exec(&txn).await?;
        pipeline_version::Entity::delete_many().filter(pipeline_version::Column::Pipeline.eq(name)).exec(&txn).await?;
        pipeline::Entity::delete_by_id(name.to_owned()).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    // ---- jobs --------------------------------------------------------

    pub async fn job_get(&self, pipeline: &str, id: &str) -> Result<Option<JobRow>, PpsError> {
        let row = job::Entity::find_by_id((pipeline.to_owned(), id.to_owned())).one(&self.db).await?;
        row.map(job_row).transpose()
    }

    /// Jobs newest first, of one pipeline or all.
    pub async fn job_list(&self, pipeline: Option<&str>, limit: u64) -> Result<Vec<JobRow>, PpsError> {
        let mut query = job::Entity::find();
        if let Some(pipeline) = pipeline {
            query = query.filter(job::Column::Pipeline.eq(pipeline));
        }
        let rows = query
            .order_by_desc(job::Column::CreatedAt)
            .order_by_desc(job::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(job_row).collect()
    }

    /// Jobs of a pipeline that are not over, oldest first.
    pub async fn jobs_open(&self, pipeline: &str) -> Result<Vec<JobRow>, PpsError> {
        let rows = job::Entity::find()
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::State.is_not_in(JobState::terminal_names()))
            .order_by_asc(job::Column::Seq)
            .all(&self.db)
            .await?;
        rows.into_iter().map(job_row).collect()
    }

    /// The newest successful job before `seq`.
    pub async fn job_last_success(&self, pipeline: &str, before_seq: i64) -> Result<Option<JobRow>, PpsError> {
        let row = job::Entity::find()
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::State.eq(JobState::Success.as_str()))
            .filter(job::Column::Seq.lt(before_seq))
            .order_by_desc(job::Column::Seq)
            .one(&self.db)
            .await?;
        row.map(job_row).transpose()
    }

    /// Every datum that ran in a job of the pipeline with
    /// `after_seq < seq < before_seq`, with its outputs: one statement,
    /// however many jobs lie between.
    pub async fn datums_ran_between(
        &self,
        pipeline: &str,
        after_seq: i64,
        before_seq: i64,
    ) -> Result<Vec<RanDatum>, PpsError> {
        use sea_orm::sea_query::Query;
        let jobs_between = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            .and_where(job::Column::Pipeline.eq(pipeline))
            .and_where(job::Column::Seq.gt(after_seq))
            .and_where(job::Column::Seq.lt(before_seq))
            .to_owned();
        let rows: Vec<(String, String, String)> = datum::Entity::find()
            .select_only()
            .column(datum::Column::Job)
            .column(datum::Column::Id)
            .column(datum::Column::Outputs)
            .filter(datum::Column::Pipeline.eq(pipeline))
            .filter(datum::Column::Job.in_subquery(jobs_between))
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(job, id, outputs)| {
                let key = datum_key(pipeline, &job, &id);
                let stored = Stored { table: DATUMS, key: &key };
                Ok(RanDatum { outputs: stored.json("outputs", &outputs)?, id })
            })
            .collect()
    }

    /// Records a job in CREATED unless it is already known.
    pub async fn job_create(&self, job: &JobRow) -> Result<(), PpsError> {
        let row = job::ActiveModel {
            pipeline: Set(job.pipeline.clone()),
            id: Set(job.id.clone()),
            seq: Set(job.seq),
            state: Set(job.state.as_str().to_owned()),
            reason: Set(job.reason.clone()),
            spec_version: Set(job.spec_version),
            total: Set(0),
            processed: Set(0),
            skipped: Set(0),
            failed: Set(0),
            recovered: Set(0),
            stats: Set(json(&job.stats)),
            inputs: Set(json(&job.inputs)),
            created_at: Set(job.created_at),
            started_at: Set(None),
            finished_at: Set(None),
            image: Set(job.image.clone()),
            runner: Set(job.runner.clone()),
        };
        job::Entity::insert(row)
            .on_conflict_do_nothing_on([job::Column::Pipeline, job::Column::Id])
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Moves a job to `state` unless it is already terminal; returns
    /// whether it moved. Terminal states stamp `finished_at`.
    pub async fn job_set_state(
        &self,
        pipeline: &str,
        id: &str,
        state: JobState,
        reason: Option<&str>,
    ) -> Result<bool, PpsError> {
        let mut update = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(state.as_str()))
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::State.is_not_in(JobState::terminal_names()));
        if let Some(reason) = reason {
            update = update.col_expr(job::Column::Reason, Expr::value(reason));
        } else if state == JobState::Running {
            // A reason given while starting (e.g. waiting for a registry) is over.
            update = update.col_expr(job::Column::Reason, Expr::value(Option::<String>::None));
        }
        if state == JobState::Running {
            update = update.col_expr(job::Column::StartedAt, Expr::value(Utc::now()));
        }
        if state.is_terminal() {
            update = update.col_expr(job::Column::FinishedAt, Expr::value(Utc::now()));
        }
        let result = update.exec(&self.db).await?;
        Ok(result.rows_affected > 0)
    }

    /// Records the digest-pinned image a job runs in. Set once: a job
    /// never changes image, even if the master plans it again.
    pub async fn job_set_image(&self, pipeline: &str, id: &str, image: &str) -> Result<(), PpsError> {
        self.job_set_once(pipeline, id, job::Column::Image, image).await
    }

    /// Records what ran a job's datums, from its first task result; later
    /// results of other workers do not change it.
    pub async fn job_set_runner(&self, pipeline: &str, id: &str, runner: &str) -> Result<(), PpsError> {
        self.job_set_once(pipeline, id, job::Column::Runner, runner).await
    }

    /// Sets a nullable text column of a job unless it is set already.
    async fn job_set_once(&self, pipeline: &str, id: &str, column: job::Column, value: &str) -> Result<(), PpsError> {
        job::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::Id.eq(id))
            .filter(column.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Sets the job's planned counts (total and skipped).
    pub async fn job_set_plan(
        &self,
        pipeline: &str,
        id: &str,
        total: u64,
        skipped: u64,
        inputs: &[String],
    ) -> Result<(), PpsError> {
        job::Entity::update_many()
            .col_expr(job::Column::Total, Expr::value(signed(total)))
            .col_expr(job::Column::Skipped, Expr::value(signed(skipped)))
            .col_expr(job::Column::Inputs, Expr::value(json(&inputs)))
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Usage records after `after` (a `seq`), oldest first, at most `limit`.
    pub async fn usage_after(&self, after: i64, limit: u64) -> Result<Vec<UsageRecord>, PpsError> {
        use sea_orm::QuerySelect as _;
        let rows = usage::Entity::find()
            .filter(usage::Column::Seq.gt(after))
            .order_by_asc(usage::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        let unsigned = |value: i64| u64::try_from(value).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|row| UsageRecord {
                seq: row.seq,
                pipeline: row.pipeline,
                job: row.job,
                datums: unsigned(row.datums),
                cpu_ms: unsigned(row.cpu_ms),
                process_ms: unsigned(row.process_ms),
                bytes_in: unsigned(row.bytes_in),
                bytes_out: unsigned(row.bytes_out),
                recorded_at: row.recorded_at,
            })
            .collect())
    }

    /// Usage per pipeline of the records made in `[from, to)`, by name.
    pub async fn usage_by_pipeline(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<strata_api_types::pps::PipelineUsage>, PpsError> {
        use sea_orm::{FromQueryResult, QuerySelect as _};
        #[derive(FromQueryResult)]
        struct Sums {
            pipeline: String,
            jobs: i64,
            datums: i64,
            cpu_ms: i64,
            process_ms: i64,
            bytes_in: i64,
            bytes_out: i64,
        }
        // SUM of a BIGINT is NUMERIC on PostgreSQL; the cast reads the same
        // on both databases.
        let sum = |column: &str| Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"));
        let rows = usage::Entity::find()
            .select_only()
            .column(usage::Column::Pipeline)
            .column_as(Expr::cust("COUNT(DISTINCT job)"), "jobs")
            .column_as(sum("datums"), "datums")
            .column_as(sum("cpu_ms"), "cpu_ms")
            .column_as(sum("process_ms"), "process_ms")
            .column_as(sum("bytes_in"), "bytes_in")
            .column_as(sum("bytes_out"), "bytes_out")
            .filter(usage::Column::RecordedAt.gte(from))
            .filter(usage::Column::RecordedAt.lt(to))
            .group_by(usage::Column::Pipeline)
            .order_by_asc(usage::Column::Pipeline)
            .into_model::<Sums>()
            .all(&self.db)
            .await?;
        let unsigned = |value: i64| u64::try_from(value).unwrap_or(0);
        let secs = |millis: i64| unsigned(millis) as f64 / 1000.0;
        Ok(rows
            .into_iter()
            .map(|row| strata_api_types::pps::PipelineUsage {
                jobs: unsigned(row.jobs),
                datums: unsigned(row.datums),
                cpu_secs: secs(row.cpu_ms),
                process_secs: secs(row.process_ms),
                bytes_in: unsigned(row.bytes_in),
                bytes_out: unsigned(row.bytes_out),
                pipeline: row.pipeline,
            })
            .collect())
    }

    /// Stores the results of datums that ran, once each: a datum already
    /// recorded (a task redelivered after a lost heartbeat) is ignored.
    /// Returns the rows actually added. One transaction.
    pub async fn datums_record(
        &self,
        pipeline: &str,
        job_id: &str,
        rows: &[DatumRow],
    ) -> Result<Vec<DatumRow>, PpsError> {
        let txn = self.db.begin().await?;
        let mut added = Vec::new();
        for row in rows {
            let known =
                datum::Entity::find_by_id((pipeline.to_owned(), job_id.to_owned(), row.id.clone())).one(&txn).await?;
            if known.is_some() {
                continue;
            }
            datum::Entity::insert(datum_model(pipeline, job_id, row)).exec(&txn).await?;
            added.push(row.clone());
        }
        if !added.is_empty() {
            add_to_job(&txn, pipeline, job_id, &added).await?;
            record_usage(&txn, pipeline, job_id, &added).await?;
        }
        txn.commit().await?;
        Ok(added)
    }

    /// Sets a job's processed, failed and recovered counts to what its datum
    /// rows say, in one statement. The rows are the record; the counts on
    /// the job are a summary the master reads each tick.
    pub async fn job_recount(&self, pipeline: &str, job_id: &str) -> Result<(), PpsError> {
        use sea_orm::ExprTrait as _;
        use sea_orm::sea_query::{Query, SimpleExpr};
        let count_of = |state: DatumState| {
            let query = Query::select()
                .expr(Expr::col(datum::Column::Id).count())
                .from(datum::Entity)
                .and_where(Expr::col(datum::Column::Pipeline).eq(pipeline))
                .and_where(Expr::col(datum::Column::Job).eq(job_id))
                .and_where(Expr::col(datum::Column::State).eq(state.as_str()))
                .to_owned();
            SimpleExpr::SubQuery(None, Box::new(query.into()))
        };
        job::Entity::update_many()
            .col_expr(job::Column::Processed, count_of(DatumState::Processed))
            .col_expr(job::Column::Failed, count_of(DatumState::Failed))
            .col_expr(job::Column::Recovered, count_of(DatumState::Recovered))
            .filter(job::Column::Pipeline.eq(pipeline))
            .filter(job::Column::Id.eq(job_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn datum_rows(&self, pipeline: &str, job_id: &str) -> Result<Vec<DatumRow>, PpsError> {
        let rows = datum::Entity::find()
            .filter(datum::Column::Pipeline.eq(pipeline))
            .filter(datum::Column::Job.eq(job_id))
            .all(&self.db)
            .await?;
        rows.into_iter().map(datum_row).collect()
    }

    pub async fn datum_get(&self, pipeline: &str, job_id: &str, id: &str) -> Result<Option<DatumRow>, PpsError> {
        let row =
            datum::Entity::find_by_id((pipeline.to_owned(), job_id.to_owned(), id.to_owned())).one(&self.db).await?;
        row.map(datum_row).transpose()
    }

    /// The first `limit` failed datums of a job (by finishing time), each
    /// with only the end of its log: the last `log_tail` characters and
    /// one more, cut in SQL so that logs of up to 64 KiB per datum are not
    /// read to show two. The extra character lets the caller see whether
    /// the log was longer than it shows (a character is at least a byte).
    pub async fn datums_failed(
        &self,
        pipeline: &str,
        job_id: &str,
        limit: u64,
        log_tail: u32,
    ) -> Result<Vec<FailedDatumRow>, PpsError> {
        let rows: Vec<(String, Option<String>, String)> = datum::Entity::find()
            .select_only()
            .column(datum::Column::Id)
            .column(datum::Column::Exit)
            .column_as(self.log_end(log_tail.saturating_add(1)), "log_end")
            .filter(datum::Column::Pipeline.eq(pipeline))
            .filter(datum::Column::Job.eq(job_id))
            .filter(datum::Column::State.eq(DatumState::Failed.as_str()))
            .order_by_asc(datum::Column::FinishedAt)
            .order_by_asc(datum::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(id, exit, log_end)| FailedDatumRow { id, exit, log_end }).collect())
    }

    /// The last `chars` characters of a datum's log, in this backend's SQL.
    fn log_end(&self, chars: u32) -> sea_orm::sea_query::SimpleExpr {
        // Both count characters, not bytes; `chars` is a number, so the
        // text below holds nothing that came from outside.
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => Expr::cust(format!("right(\"log\", {chars})")),
            _ => Expr::cust(format!("substr(\"log\", -{chars})")),
        }
    }

    // ---- logs --------------------------------------------------------

    pub async fn log_append(&self, lines: Vec<LogRow>) -> Result<(), PpsError> {
        if lines.is_empty() {
            return Ok(());
        }
        let models = lines.into_iter().map(|line| log_line::ActiveModel {
            cursor: sea_orm::ActiveValue::NotSet,
            ts: Set(line.ts),
            pipeline: Set(line.pipeline),
            job: Set(line.job),
            datum: Set(line.datum),
            user: Set(line.user),
            message: Set(line.message),
        });
        log_line::Entity::insert_many(models).exec(&self.db).await?;
        Ok(())
    }

    /// Forgets the logs of work before `before`: log lines written then,
    /// and the captured output of datums that finished then (their rows,
    /// states and figures stay). Returns how many of each it removed.
    pub async fn logs_forget_before(&self, before: DateTime<Utc>) -> Result<ForgottenLogs, PpsError> {
        let lines = log_line::Entity::delete_many().filter(log_line::Column::Ts.lt(before)).exec(&self.db).await?;
        let datums = datum::Entity::update_many()
            .col_expr(datum::Column::Log, Expr::value(""))
            .filter(datum::Column::FinishedAt.lt(before))
            .filter(datum::Column::Log.ne(""))
            .exec(&self.db)
            .await?;
        Ok(ForgottenLogs { lines: lines.rows_affected, datum_logs: datums.rows_affected })
    }

    pub async fn log_query(&self, filter: &LogFilter) -> Result<Vec<LogRow>, PpsError> {
        let mut query = log_line::Entity::find()
            .filter(log_line::Column::Pipeline.eq(filter.pipeline.as_str()))
            .filter(log_line::Column::Cursor.gt(filter.after));
        if let Some(job) = &filter.job {
            query = query.filter(log_line::Column::Job.eq(job.as_str()));
        }
        if let Some(datum) = &filter.datum {
            query = query.filter(log_line::Column::Datum.eq(datum.as_str()));
        }
        let rows = query.order_by_asc(log_line::Column::Cursor).limit(filter.limit).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| LogRow {
                cursor: row.cursor,
                ts: row.ts,
                pipeline: row.pipeline,
                job: row.job,
                datum: row.datum,
                user: row.user,
                message: row.message,
            })
            .collect())
    }
}

/// Billing's outbox row for datums just recorded, in the same transaction:
/// a batch is metered exactly when its datums are stored, and once.
async fn record_usage(
    txn: &impl ConnectionTrait,
    pipeline: &str,
    job_id: &str,
    added: &[DatumRow],
) -> Result<(), PpsError> {
    let millis = |secs: f64| (secs * 1000.0).round() as i64;
    let mut total = JobStats::default();
    for datum in added {
        total.add(&datum.stats);
    }
    let row = usage::ActiveModel {
        seq: sea_orm::ActiveValue::NotSet,
        pipeline: Set(pipeline.to_owned()),
        job: Set(job_id.to_owned()),
        datums: Set(added.len() as i64),
        cpu_ms: Set(millis(total.cpu_secs)),
        process_ms: Set(millis(total.process_secs)),
        bytes_in: Set(signed(total.bytes_in)),
        bytes_out: Set(signed(total.bytes_out)),
        recorded_at: Set(Utc::now()),
    };
    usage::Entity::insert(row).exec_without_returning(txn).await?;
    Ok(())
}

/// Adds freshly recorded datums to the job's counters and stats.
async fn add_to_job(
    txn: &impl ConnectionTrait,
    pipeline: &str,
    job_id: &str,
    added: &[DatumRow],
) -> Result<(), PpsError> {
    use sea_orm::ExprTrait as _;
    let count = |state: DatumState| added.iter().filter(|datum| datum.state == state).count() as i64;
    // Counters go up in SQL, and that first write locks the job's row until
    // the transaction ends, so the statistics read below are the latest:
    // workers report concurrently, and a read-modify-write of the counters
    // would lose one report's datums and leave its job running for ever.
    let job_matches = || job::Column::Pipeline.eq(pipeline).and(job::Column::Id.eq(job_id));
    let updated = job::Entity::update_many()
        .col_expr(job::Column::Processed, Expr::col(job::Column::Processed).add(count(DatumState::Processed)))
        .col_expr(job::Column::Failed, Expr::col(job::Column::Failed).add(count(DatumState::Failed)))
        .col_expr(job::Column::Recovered, Expr::col(job::Column::Recovered).add(count(DatumState::Recovered)))
        .filter(job_matches())
        .exec(txn)
        .await?;
    let row = match updated.rows_affected {
        0 => None,
        _ => job::Entity::find_by_id((pipeline.to_owned(), job_id.to_owned())).one(txn).await?,
    };
    let Some(row) = row else {
        return Err(PpsError::not_found(format!("job {pipeline}@{job_id}"), ""));
    };
    let key = job_key(pipeline, job_id);
    let mut stats: JobStats = Stored { table: JOBS, key: &key }.json("stats", &row.stats)?;
    for datum in added {
        stats.add(&datum.stats);
    }
    job::Entity::update_many()
        .col_expr(job::Column::Stats, Expr::value(json(&stats)))
        .filter(job_matches())
        .exec(txn)
        .await?;
    Ok(())
}

fn pipeline_row(row: pipeline::Model) -> Result<PipelineRow, PpsError> {
    let spec = Stored { table: PIPELINES, key: &row.name }.json("spec", &row.spec)?;
    Ok(PipelineRow {
        name: row.name,
        version: row.version,
        spec,
        salt: row.salt,
        stopped: row.stopped,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Table names in `Corrupted` errors.
const PIPELINES: &str = "pps_pipelines";
const PIPELINE_VERSIONS: &str = "pps_pipeline_versions";
const JOBS: &str = "pps_jobs";
const DATUMS: &str = "pps_datums";

fn job_row(row: job::Model) -> Result<JobRow, PpsError> {
    let key = job_key(&row.pipeline, &row.id);
    let stored = Stored { table: JOBS, key: &key };
    Ok(JobRow {
        state: stored.named("state", &row.state, JobState::parse)?,
        counts: DatumCounts {
            total: stored.count("total", row.total)?,
            processed: stored.count("processed", row.processed)?,
            skipped: stored.count("skipped", row.skipped)?,
            failed: stored.count("failed", row.failed)?,
            recovered: stored.count("recovered", row.recovered)?,
        },
        stats: stored.json("stats", &row.stats)?,
        inputs: stored.json("inputs", &row.inputs)?,
        pipeline: row.pipeline,
        id: row.id,
        seq: row.seq,
        reason: row.reason,
        spec_version: row.spec_version,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        image: row.image,
        runner: row.runner,
    })
}

fn datum_row(row: datum::Model) -> Result<DatumRow, PpsError> {
    let key = datum_key(&row.pipeline, &row.job, &row.id);
    let stored = Stored { table: DATUMS, key: &key };
    Ok(DatumRow {
        state: stored.named("state", &row.state, DatumState::parse)?,
        attempts: stored.count("attempts", i64::from(row.attempts))?,
        stats: stored.json("stats", &row.stats)?,
        outputs: stored.json("outputs", &row.outputs)?,
        id: row.id,
        exit: row.exit,
        log: row.log,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

fn datum_model(pipeline: &str, job_id: &str, row: &DatumRow) -> datum::ActiveModel {
    datum::ActiveModel {
        pipeline: Set(pipeline.to_owned()),
        job: Set(job_id.to_owned()),
        id: Set(row.id.clone()),
        state: Set(row.state.as_str().to_owned()),
        attempts: Set(i32::try_from(row.attempts).unwrap_or(i32::MAX)),
        exit: Set(row.exit.clone()),
        stats: Set(json(&row.stats)),
        outputs: Set(json(&row.outputs)),
        log: Set(row.log.clone()),
        started_at: Set(row.started_at),
        finished_at: Set(row.finished_at),
    }
}
