//! Where a workspace keeps its data, whichever backend runs it: a
//! PostgreSQL schema (or, locally, a SQLite file), a prefix of the object
//! store and a prefix of the task queues; and freeing them for good.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use strata_core::config::{ObjectStoreUrl, SecretUrl};
use strata_core::id::WorkspaceId;
use strata_core::store::DynObjectStore;
use strata_core::workspace_server::WorkspaceServerConfig;
use strata_hub::DesiredWorkspace;

use crate::error::{ProvisionerError, Result};

/// What every workspace server shares, whichever backend starts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shared<'a> {
    /// The installation's object store; each server gets only its part of it.
    pub object_store: &'a ObjectStoreUrl,
    pub redis_url: Option<&'a str>,
    pub task_lease: std::time::Duration,
    /// The installation's master keys, from which each workspace's secrets keys derive.
    pub master_keys: Option<&'a strata_core::config::MasterKeys>,
    /// Set where the workers run containers.
    pub pin_images: Option<&'a strata_core::workspace_server::PinImages>,
}

/// A workspace server's configuration: its own metadata, its own part of the
/// object store (`object_prefix`, which differs by backend), queue prefix and
/// secret, and what all share.
pub(crate) fn server_config(
    workspace: &DesiredWorkspace,
    database_url: String,
    listen: std::net::SocketAddr,
    secret: &str,
    object_prefix: &str,
    shared: Shared<'_>,
) -> WorkspaceServerConfig {
    WorkspaceServerConfig {
        slug: workspace.slug.clone(),
        database_url,
        object_store_url: shared.object_store.below(object_prefix).describe(),
        redis_url: shared.redis_url.map(str::to_owned),
        queue_prefix: queue_prefix(workspace.id),
        listen,
        service_secret: secret.to_owned(),
        task_lease: shared.task_lease,
        pin_images: shared.pin_images.cloned(),
        secrets_keys: shared.master_keys.map(|keys| {
            let context = strata_core::workspace_server::secrets_context("hub", &workspace.id.to_string());
            keys.derive(&context).to_list()
        }),
        limits: Some(workspace.limits.clone()),
    }
}

pub(crate) fn schema_name(id: WorkspaceId) -> String {
    format!("ws_{}", id.as_uuid().simple())
}

/// Where the local backend keeps a workspace's objects.
pub(crate) fn local_object_prefix(id: WorkspaceId) -> String {
    format!("workspaces/{id}")
}

pub(crate) fn queue_prefix(id: WorkspaceId) -> String {
    format!("strata:ws:{}:", id.as_uuid().simple())
}

/// The database URL that puts the workspace server in its own schema.
pub(crate) fn schema_url(url: &SecretUrl, id: WorkspaceId) -> String {
    let separator = if url.expose().contains('?') { '&' } else { '?' };
    format!("{}{separator}options[search_path]={}", url.expose(), schema_name(id))
}

/// Creates the workspace's schema if missing.
pub(crate) async fn create_postgres_schema(db: &DatabaseConnection, id: WorkspaceId) -> Result<()> {
    let schema = schema_name(id);
    db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await
        .map_err(|e| ProvisionerError::retryable("DatabaseError", format!("cannot create {schema}: {e}")))?;
    Ok(())
}

pub(crate) async fn drop_postgres_schema(db: &DatabaseConnection, id: WorkspaceId) -> Result<()> {
    let schema = schema_name(id);
    db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .map_err(|e| ProvisionerError::retryable("DatabaseError", format!("cannot drop {schema}: {e}")))?;
    Ok(())
}

/// Deletes every object below a workspace's prefix.
pub(crate) async fn delete_objects(store: &DynObjectStore, prefix: &str) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let path = object_store::path::Path::from(prefix);
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

#[cfg(test)]
mod tests {
    use strata_core::id::{OrganizationId, WorkspaceId};

    use super::*;

    #[test]
    fn a_local_workspace_server_is_given_its_own_directory_of_the_store_and_nothing_above_it() {
        let id = WorkspaceId::new();
        let workspace = DesiredWorkspace {
            id,
            org_id: OrganizationId::new(),
            org_slug: "acme".into(),
            slug: "ci".into(),
            plan: strata_plans::Catalogue::built_in().named_or_default("team").clone(),
            limits: strata_hub::plans::workspace_limits(
                &strata_plans::Catalogue::built_in(),
                strata_plans::Catalogue::built_in().named_or_default("team"),
            ),
            region: "local".into(),
            state: strata_hub::WorkspaceState::Pending,
            generation: 1,
            observed_generation: 0,
            endpoint: None,
            conditions: Vec::new(),
            service_secret: None,
            updated_at: chrono::Utc::now(),
            data_freed_at: None,
        };
        let store = ObjectStoreUrl::parse("file:///srv/strata/objects").expect("url");
        let shared = Shared {
            object_store: &store,
            redis_url: None,
            task_lease: std::time::Duration::from_secs(30),
            master_keys: None,
            pin_images: None,
        };
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let config =
            server_config(&workspace, "sqlite://ws.db".into(), listen, "sts_x", &local_object_prefix(id), shared);
        assert_eq!(config.object_store_url, format!("file:///srv/strata/objects/workspaces/{id}"));
        let text = serde_json::to_string(&config).expect("json");
        assert_eq!(text.matches("/srv/strata/objects").count(), 1, "the store is named once, narrowed: {text}");
    }
}
