//! PPS's stored rows, through `strata_pps::meta` on SQLite and PostgreSQL:
//! what the columns hold (whatever the wire types look like), corrupt
//! values reported as errors naming table and row instead of read as
//! defaults, and reads whose statements do not grow with the data.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use strata_pps::PpsError;
use strata_pps::meta::{DatumRow, JobRow, Meta};
use strata_pps::state::{DatumCounts, DatumState, DatumStats, JobState, JobStats};
use strata_testkit::{Backend, TestDatabase, on_both_backends};

/// A migrated, empty PPS database of its own.
struct Store {
    meta: Meta,
    db: DatabaseConnection,
    /// SQL of every statement sent through `meta`, in order.
    sent: Arc<Sent>,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

/// The SQL of the statements a connection's metric callback saw.
#[derive(Debug, Default)]
struct Sent(std::sync::Mutex<Vec<String>>);

impl Sent {
    fn all(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn store(backend: Backend) -> Store {
    let dir = tempfile::tempdir().expect("data dir");
    let database = TestDatabase::create(backend, dir.path()).await;
    let url = strata_core::config::DatabaseUrl::parse(&database.url()).expect("database URL");
    let db = strata_core::db::connect(&url).await.expect("connect");
    let mut counted = db.clone();
    let sent = Arc::new(Sent::default());
    let seen = sent.clone();
    counted.set_metric_callback(move |info| seen.all().push(info.statement.sql.clone()));
    let meta = Meta::new(counted);
    meta.migrate().await.expect("migrate");
    Store { meta, db, sent, _database: database, _dir: dir }
}

impl Store {
    async fn exec(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn text(&self, sql: &str) -> String {
        let statement = Statement::from_string(self.db.get_database_backend(), sql.to_owned());
        let row = self.db.query_one_raw(statement).await.expect("query").expect("a row");
        row.try_get_by_index::<String>(0).expect("a text column")
    }

    /// Statements `read` sent, with their SQL.
    async fn statements_of<T>(&self, read: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
        let mark = self.sent.all().len();
        let value = read.await;
        (value, self.sent.all()[mark..].to_vec())
    }

    async fn job(&self, id: &str, seq: i64) {
        let now = Utc::now();
        let row = JobRow {
            pipeline: "p".to_owned(),
            id: id.to_owned(),
            seq,
            state: JobState::Running,
            reason: None,
            spec_version: 1,
            counts: DatumCounts::default(),
            stats: JobStats::default(),
            inputs: vec!["in@c1".to_owned()],
            created_at: now,
            started_at: None,
            finished_at: None,
            image: None,
            runner: None,
        };
        self.meta.job_create(&row).await.expect("job");
    }

    async fn datums(&self, job: &str, rows: Vec<DatumRow>) {
        self.meta.datums_record("p", job, &rows).await.expect("datums");
    }
}

fn datum(id: &str, state: DatumState, outputs: &[&str], log: &str) -> DatumRow {
    let now = Utc::now();
    DatumRow {
        id: id.to_owned(),
        state,
        attempts: 1,
        exit: Some("exit 1".to_owned()),
        stats: DatumStats { bytes_in: 10, ..DatumStats::default() },
        outputs: outputs.iter().map(|path| (*path).to_owned()).collect(),
        log: log.to_owned(),
        started_at: now,
        finished_at: now,
    }
}

/// The table, row and column a `Corrupted` error names, checked against
/// its message too (which is what a person reads).
fn corrupted<T: std::fmt::Debug>(result: Result<T, PpsError>) -> (&'static str, String, &'static str) {
    match result {
        Err(error @ PpsError::Corrupted { .. }) => {
            let message = error.to_string();
            assert_eq!(error.code().as_str(), "DATA_CORRUPTED");
            let PpsError::Corrupted { table, key, column, .. } = error else { unreachable!() };
            assert!(message.contains(table) && message.contains(&key), "{message}");
            (table, key, column)
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

on_both_backends! {
    /// The columns hold PPS's own names and JSON, written and read apart
    /// from the wire types: renaming a wire field changes none of this.
    async fn rows_hold_stable_names_and_read_back_what_earlier_servers_wrote(backend: Backend) {
        let s = store(backend).await;
        s.job("j1", 1).await;
        s.datums("j1", vec![datum("d1", DatumState::Processed, &["/out/a"], "hello")]).await;
        s.meta.job_set_state("p", "j1", JobState::Failure, Some("a datum failed")).await.expect("state");

        assert_eq!(s.text("SELECT state FROM pps_jobs").await, "FAILURE");
        assert_eq!(
            s.text("SELECT stats FROM pps_jobs").await,
            r#"{"bytes_in":10,"bytes_out":0,"download_secs":0.0,"process_secs":0.0,"upload_secs":0.0,"cpu_secs":0.0}"#
        );
        assert_eq!(s.text("SELECT inputs FROM pps_jobs").await, r#"["in@c1"]"#);
        assert_eq!(s.text("SELECT state FROM pps_datums").await, "processed");
        assert_eq!(s.text("SELECT outputs FROM pps_datums").await, r#"["/out/a"]"#);

        // Values exactly as servers before PPS had its own types wrote them.
        s.exec(r#"UPDATE pps_jobs SET state = 'KILLED', stats = '{"bytes_in":7,"bytes_out":8,"download_secs":0.5,"process_secs":1.5,"upload_secs":2.5}'"#).await;
        s.exec(r#"UPDATE pps_datums SET state = 'recovered', stats = '{"bytes_in":3,"bytes_out":4,"download_secs":0.25,"process_secs":0.5,"upload_secs":0.75}', outputs = '["/out/x","/out/y"]'"#).await;
        let job = s.meta.job_get("p", "j1").await.expect("read").expect("the job");
        assert_eq!(job.state, JobState::Killed);
        // Written before CPU time was measured: none used.
        assert_eq!(
            job.stats,
            JobStats { bytes_in: 7, bytes_out: 8, download_secs: 0.5, process_secs: 1.5, upload_secs: 2.5, cpu_secs: 0.0 }
        );
        let [datum] = &s.meta.datum_rows("p", "j1").await.expect("read")[..] else { panic!("one datum") };
        assert_eq!(datum.state, DatumState::Recovered);
        assert_eq!(
            datum.stats,
            DatumStats { bytes_in: 3, bytes_out: 4, download_secs: 0.25, process_secs: 0.5, upload_secs: 0.75, cpu_secs: 0.0 }
        );
        assert_eq!(datum.outputs, ["/out/x", "/out/y"]);
    }
}

on_both_backends! {
    /// A job row that does not read back is an error naming its table, row
    /// and column, never CREATED or zero stats.
    async fn a_corrupt_job_row_is_an_error_naming_table_and_row(backend: Backend) {
        let s = store(backend).await;
        s.job("j1", 1).await;
        let cases = [
            ("state = 'PAUSED'", "state"),
            ("stats = 'not json'", "stats"),
            ("inputs = '{\"a\": 1}'", "inputs"),
            ("failed = -1", "failed"),
        ];
        for (corruption, column) in cases {
            s.exec(&format!("UPDATE pps_jobs SET {corruption}")).await;
            assert_eq!(corrupted(s.meta.job_get("p", "j1").await), ("pps_jobs", "p@j1".to_owned(), column));
            assert_eq!(corrupted(s.meta.jobs_open("p").await).1, "p@j1");
            assert_eq!(corrupted(s.meta.job_list(Some("p"), 10).await).2, column);
            s.exec(r#"UPDATE pps_jobs SET state = 'RUNNING', stats = '{"bytes_in":0,"bytes_out":0,"download_secs":0.0,"process_secs":0.0,"upload_secs":0.0}', inputs = '[]', failed = 0"#).await;
        }
        s.exec("UPDATE pps_jobs SET stats = '[]'").await;
        let recorded = s.meta.datums_record("p", "j1", &[datum("d1", DatumState::Processed, &[], "")]).await;
        assert_eq!(corrupted(recorded).2, "stats", "the job's stats are not reset to zero and added to");
    }
}

on_both_backends! {
    /// A datum whose outputs do not read back stops the reads that decide
    /// which outputs are stale, rather than passing for "wrote nothing":
    /// the master plans nothing, so it deletes nothing on its strength.
    async fn a_corrupt_datum_row_is_an_error_and_never_reads_as_no_outputs(backend: Backend) {
        let s = store(backend).await;
        s.job("j1", 1).await;
        s.job("j2", 2).await;
        s.datums("j1", vec![datum("d1", DatumState::Processed, &["/out/a"], "")]).await;
        s.exec("UPDATE pps_datums SET outputs = '[\"/out/a\"' WHERE id = 'd1'").await;
        let expected = ("pps_datums", "p@j1/d1".to_owned(), "outputs");
        assert_eq!(corrupted(s.meta.datums_ran_between("p", 0, 2).await), expected);
        assert_eq!(corrupted(s.meta.datum_rows("p", "j1").await), expected);
        assert_eq!(corrupted(s.meta.datum_get("p", "j1", "d1").await), expected);

        s.exec("UPDATE pps_datums SET outputs = '[]', state = 'lost' WHERE id = 'd1'").await;
        assert_eq!(corrupted(s.meta.datum_rows("p", "j1").await).2, "state", "not PENDING");
        s.exec("UPDATE pps_datums SET state = 'processed', stats = '' WHERE id = 'd1'").await;
        assert_eq!(corrupted(s.meta.datum_get("p", "j1", "d1").await).2, "stats");
    }
}

on_both_backends! {
    /// Planning a job reads what ran in every job since its base in one
    /// statement, whether 3 jobs lie between or 30.
    async fn what_ran_since_the_base_job_is_one_statement_however_many_jobs(backend: Backend) {
        let s = store(backend).await;
        let mut costs = Vec::new();
        for (base, jobs) in [(0, 3), (100, 30)] {
            for seq in base + 1..=base + jobs {
                let id = format!("j{seq}");
                s.job(&id, seq).await;
                let one = format!("/out/{seq}/one");
                let two = format!("/out/{seq}/two");
                let rows = vec![
                    datum(&format!("a{seq}"), DatumState::Processed, &[&one], ""),
                    datum(&format!("b{seq}"), DatumState::Failed, &[&two], ""),
                ];
                s.datums(&id, rows).await;
            }
            let (ran, statements) = s.statements_of(s.meta.datums_ran_between("p", base, base + jobs + 1)).await;
            let ran = ran.expect("read");
            assert_eq!(ran.len() as i64, 2 * jobs, "every datum of every job between");
            assert!(ran.iter().all(|d| d.outputs.len() == 1), "{ran:?}");
            costs.push(statements.len());
        }
        assert_eq!(costs, [1, 1], "one statement for 3 jobs and for 30");
    }
}

on_both_backends! {
    /// `job inspect` shows five failed datums with the end of their logs:
    /// one statement that reads at most five rows and at most the tail of
    /// each log, whether 3 datums failed or 30 (with 30 more that did not).
    async fn failed_datums_are_one_bounded_statement_however_many_failed(backend: Backend) {
        let s = store(backend).await;
        // Multi-byte characters: the database cuts characters, the tail bytes.
        let log: String = (0..3000).map(|n| format!("line {n} é\n")).collect();
        let mut costs = Vec::new();
        for (job, failed) in [("few", 3), ("many", 30)] {
            s.job(job, if job == "few" { 1 } else { 2 }).await;
            let mut rows: Vec<DatumRow> =
                (0..failed).map(|n| datum(&format!("f{n:02}"), DatumState::Failed, &[], &log)).collect();
            rows.extend((0..30).map(|n| datum(&format!("p{n:02}"), DatumState::Processed, &[], &log)));
            s.datums(job, rows).await;
            let (shown, statements) = s.statements_of(s.meta.datums_failed("p", job, 5, 2048)).await;
            let shown = shown.expect("read");
            assert_eq!(shown.len(), failed.min(5));
            assert!(shown.iter().all(|d| d.id.starts_with('f')), "only failed datums");
            for d in &shown {
                assert!(d.log_end.chars().count() <= 2049, "only the log's end is read");
                assert_eq!(strata_core::text::tail(&d.log_end, 2048), strata_core::text::tail(&log, 2048));
            }
            let [sql] = &statements[..] else { panic!("one statement: {statements:?}") };
            assert!(sql.contains("LIMIT"), "the rows are limited in SQL: {sql}");
            costs.push(statements.len());
        }
        assert_eq!(costs, [1, 1]);
        // A short log is shown whole, unmarked.
        s.job("short", 3).await;
        s.datums("short", vec![datum("f", DatumState::Failed, &[], "oops\n")]).await;
        let shown = s.meta.datums_failed("p", "short", 5, 2048).await.expect("read");
        assert_eq!(shown[0].log_end, "oops\n");
    }
}

on_both_backends! {
    /// A job's image is pinned once: planning it again after a restart, while
    /// the tag has moved, cannot change what its remaining datums run in.
    async fn a_jobs_pinned_image_is_set_once_and_running_clears_a_waiting_reason(backend: Backend) {
        let s = store(backend).await;
        s.job("j1", 1).await;
        assert_eq!(s.meta.job_get("p", "j1").await.expect("read").expect("job").image, None);
        let first = format!("r.io/app@sha256:{}", "a".repeat(64));
        let second = format!("r.io/app@sha256:{}", "b".repeat(64));
        s.meta.job_set_image("p", "j1", &first).await.expect("pin");
        s.meta.job_set_image("p", "j1", &second).await.expect("pin again");
        assert_eq!(s.text("SELECT image FROM pps_jobs").await, first);
        assert_eq!(s.meta.job_get("p", "j1").await.expect("read").expect("job").image, Some(first));
        s.meta.job_set_runner("p", "j1", "container").await.expect("runner");
        s.meta.job_set_runner("p", "j1", "scratch").await.expect("a later worker's");
        assert_eq!(s.meta.job_get("p", "j1").await.expect("read").expect("job").runner.as_deref(), Some("container"));

        s.meta.job_set_state("p", "j1", JobState::Starting, Some("waiting to pin image")).await.expect("state");
        s.meta.job_set_state("p", "j1", JobState::Running, None).await.expect("state");
        assert_eq!(s.meta.job_get("p", "j1").await.expect("read").expect("job").reason, None);
    }
}

on_both_backends! {
    /// Logs past the plan's retention go; the work they describe stays.
    async fn logs_before_the_retention_cutoff_are_forgotten_and_their_datums_kept(backend: Backend) {
        use strata_pps::meta::{ForgottenLogs, LogFilter, LogRow};
        let s = store(backend).await;
        let now = Utc::now();
        let days_ago = |days: i64| now - chrono::Duration::days(days);
        s.job("j1", 1).await;
        let aged = |mut row: DatumRow, days: i64| {
            (row.started_at, row.finished_at) = (days_ago(days), days_ago(days));
            row
        };
        s.datums("j1", vec![
            aged(datum("old", DatumState::Failed, &[], "old output"), 40),
            aged(datum("new", DatumState::Failed, &[], "new output"), 2),
        ]).await;
        let line = |days: i64, message: &str| LogRow {
            cursor: 0,
            ts: days_ago(days),
            pipeline: "p".into(),
            job: Some("j1".into()),
            datum: None,
            user: true,
            message: message.into(),
        };
        s.meta.log_append(vec![line(40, "then"), line(31, "a month ago"), line(2, "lately")]).await.expect("logs");

        let forgotten = s.meta.logs_forget_before(days_ago(30)).await.expect("forget");
        assert_eq!(forgotten, ForgottenLogs { lines: 2, datum_logs: 1 });
        let filter = LogFilter { pipeline: "p".into(), limit: 10, ..LogFilter::default() };
        let kept: Vec<String> = s.meta.log_query(&filter).await.expect("read").into_iter().map(|l| l.message).collect();
        assert_eq!(kept, ["lately"]);
        let datums = s.meta.datum_rows("p", "j1").await.expect("read");
        let logs: Vec<(&str, &str)> = datums.iter().map(|d| (d.id.as_str(), d.log.as_str())).collect();
        assert!(logs.contains(&("old", "")) && logs.contains(&("new", "new output")), "{logs:?}");
        assert_eq!(datums.len(), 2, "the datums themselves stay");
        assert_eq!(
            s.meta.logs_forget_before(days_ago(30)).await.expect("again"),
            ForgottenLogs::default(),
            "nothing is forgotten twice"
        );
    }
}
