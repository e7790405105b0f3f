//! DataLoaders: fields that would query once per object of a page batch
//! their lookups into one query per page instead.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::SimpleObject;
use async_graphql::dataloader::Loader;
use strata_core::id::WorkspaceId;
use strata_hub::Hub;

use super::hub_types::GqlWorkspaceRole;
use super::ids::{self, Kind};

/// Someone's explicit role on a workspace or one of its repos.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct WorkspaceMember {
    pub user_id: async_graphql::ID,
    pub email: String,
    pub display_name: String,
    /// The repo the role is limited to; null for the whole workspace.
    pub repo: Option<String>,
    pub role: GqlWorkspaceRole,
}

/// Role bindings by workspace id.
pub(crate) struct BindingsLoader(pub Hub);

impl Loader<WorkspaceId> for BindingsLoader {
    type Value = Vec<WorkspaceMember>;
    type Error = Arc<strata_hub::HubError>;

    async fn load(&self, keys: &[WorkspaceId]) -> Result<HashMap<WorkspaceId, Self::Value>, Self::Error> {
        let bindings = self.0.role_bindings(keys).await.map_err(Arc::new)?;
        let mut by_workspace: HashMap<WorkspaceId, Vec<WorkspaceMember>> = HashMap::new();
        for binding in bindings {
            by_workspace.entry(binding.workspace_id).or_default().push(WorkspaceMember {
                user_id: ids::encode(Kind::User, binding.user_id),
                email: binding.email,
                display_name: binding.display_name,
                repo: (!binding.repo.is_empty()).then_some(binding.repo),
                role: binding.role.into(),
            });
        }
        Ok(by_workspace)
    }
}
