//! Where a workspace keeps its data, whichever backend runs it: a
//! PostgreSQL schema (or, locally, a SQLite file), a prefix of the object
//! store and a prefix of the task queues; and freeing them for good.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use strata_core::config::SecretUrl;
use strata_core::store::DynObjectStore;
use uuid::Uuid;

use crate::error::{ProvisionerError, Result};

pub(crate) fn schema_name(id: Uuid) -> String {
    format!("ws_{}", id.simple())
}

pub(crate) fn object_prefix(id: Uuid) -> String {
    format!("workspaces/{id}")
}

pub(crate) fn queue_prefix(id: Uuid) -> String {
    format!("strata:ws:{}:", id.simple())
}

/// Creates the workspace's schema if missing; returns the database URL
/// that puts the workspace server in it.
pub(crate) async fn postgres_schema(db: &DatabaseConnection, url: &SecretUrl, id: Uuid) -> Result<String> {
    let schema = schema_name(id);
    db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await
        .map_err(|e| ProvisionerError::retryable("DatabaseError", format!("cannot create {schema}: {e}")))?;
    let separator = if url.expose().contains('?') { '&' } else { '?' };
    Ok(format!("{}{separator}options[search_path]={schema}", url.expose()))
}

pub(crate) async fn drop_postgres_schema(db: &DatabaseConnection, id: Uuid) -> Result<()> {
    let schema = schema_name(id);
    db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .map_err(|e| ProvisionerError::retryable("DatabaseError", format!("cannot drop {schema}: {e}")))?;
    Ok(())
}

/// Deletes every object below the workspace's prefix.
pub(crate) async fn delete_objects(store: &DynObjectStore, id: Uuid) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let prefix = object_prefix(id);
    let path = object_store::path::Path::from(prefix.as_str());
    let locations = store.list(Some(&path)).map_ok(|meta| meta.location).boxed();
    let mut deleted = store.delete_stream(locations);
    while let Some(outcome) = deleted.next().await {
        match outcome {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                return Err(ProvisionerError::retryable(
                    "ObjectStoreError",
                    format!("cannot delete {prefix}: {error}"),
                ));
            }
        }
    }
    Ok(())
}
