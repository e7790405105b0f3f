//! One private database per test.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database};

/// Which metadata database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file in the test's data directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL server.
    Postgres,
}

/// The admin URL used to create and drop test databases.
pub fn postgres_admin_url() -> String {
    std::env::var("STRATA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test. PostgreSQL databases are dropped
/// when this value is dropped; SQLite files go with the test's directory.
#[derive(Debug)]
pub struct TestDatabase {
    backend: Backend,
    url: String,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// Creates an empty database for one test.
    pub async fn create(backend: Backend, data_dir: &Path) -> Self {
        match backend {
            Backend::Sqlite => {
                Self { backend, url: format!("sqlite://{}", data_dir.join("strata.db").display()), postgres_name: None }
            }
            Backend::Postgres => {
                let name = format!("strata_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(postgres_admin_url())
                    .await
                    .expect("PostgreSQL answers on 127.0.0.1:5432 (run scripts/services.sh)");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                admin.close().await.expect("close the admin connection");
                let mut url = url::Url::parse(&postgres_admin_url()).expect("admin URL is a URL");
                url.set_path(&name);
                Self { backend, url: url.to_string(), postgres_name: Some(name) }
            }
        }
    }

    /// The URL to give the app as `database_url`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else { return };
        // Drop runs outside async context; a helper thread with its own
        // runtime does the cleanup. FORCE ends the app's pooled connections.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = Database::connect(postgres_admin_url()).await.ok()?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.ok()?;
                admin.close().await.ok()
            })
        });
        // A failed cleanup leaves a database named strata_test_*, harmless.
        let _ = cleanup.join();
    }
}
