//! Database connections and migrations, for SQLite and PostgreSQL alike.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseUrl;
use crate::error::{Error, Result};

/// Opens a connection pool. A missing SQLite file is created, in WAL mode
/// with a busy timeout so concurrent writers wait instead of failing.
pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection> {
    open(url, None).await
}

/// A connection of its own for readiness probes: one connection, never
/// shared with request handling, so a busy server whose pool is exhausted
/// still answers its probes truthfully instead of looking dead.
pub async fn connect_for_probes(url: &DatabaseUrl) -> Result<DatabaseConnection> {
    open(url, Some(1)).await
}

async fn open(url: &DatabaseUrl, max_connections: Option<u32>) -> Result<DatabaseConnection> {
    let mut options = match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|error| Error::Database {
                    url: url.redacted(),
                    message: format!("cannot create directory {}: {error}", parent.display()),
                    source: None,
                })?;
            }
            let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
            options.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
            options
        }
        DatabaseUrl::Postgres(secret) => ConnectOptions::new(secret.expose().to_owned()),
    };
    options.connect_timeout(Duration::from_secs(5)).acquire_timeout(Duration::from_secs(10)).sqlx_logging(false);
    if let Some(max) = max_connections {
        options.max_connections(max).min_connections(0);
    }
    sea_orm::Database::connect(options).await.map_err(|source| Error::Database {
        url: url.redacted(),
        message: describe_connect_error(&source),
        source: Some(source),
    })
}

/// A short, actionable reason for a failed connection.
fn describe_connect_error(error: &sea_orm::DbErr) -> String {
    let text = error.to_string();
    if text.contains("Connection refused") {
        "connection refused; is the server running? (scripts/services.sh starts one)".to_owned()
    } else if text.contains("does not exist") {
        format!("{text}; create it first or pick another database")
    } else {
        format!("cannot connect: {text}")
    }
}

/// Applies every pending migration of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection, url: &DatabaseUrl) -> Result<()> {
    M::up(db, None).await.map_err(|source| Error::Database {
        url: url.redacted(),
        message: format!("migration failed: {source}"),
        source: Some(source),
    })
}

/// Runs a trivial query: the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(backend, "SELECT 1")).await.map(|_| ())
}
