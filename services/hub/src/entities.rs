//! sea-orm entities of the hub tables; only this crate's stores use them.

pub mod user {
    use sea_orm::entity::prelude::*;
    use strata_core::id::UserId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: UserId,
        pub email: String,
        pub display_name: String,
        pub password_hash: Option<String>,
        pub email_verified_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
        pub deleted_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod email_token {
    use sea_orm::entity::prelude::*;
    use strata_core::id::UserId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_email_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub user_id: UserId,
        pub purpose: String,
        pub expires_at: ChronoDateTimeUtc,
        pub used_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: UserId,
        pub refresh_hash: String,
        pub previous_hash: Option<String>,
        pub expires_at: ChronoDateTimeUtc,
        pub revoked_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
        pub last_used_at: ChronoDateTimeUtc,
        /// The organisation whose identity provider opened the session.
        pub sso_org_id: Option<OrganizationId>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        /// The PKCS#8 document, sealed (`sealing`); never stored in plain text.
        pub private_sealed: Vec<u8>,
        /// The master key that sealed it.
        pub sealing_key: String,
        pub public_key: Vec<u8>,
        pub created_at: ChronoDateTimeUtc,
        pub retired_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_orgs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: OrganizationId,
        pub slug: String,
        pub name: String,
        pub created_at: ChronoDateTimeUtc,
        /// Sessions not opened by the org's identity provider cannot act in it.
        pub sso_required: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod membership {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: OrganizationId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: UserId,
        pub role: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invitation {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_invitations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: OrganizationId,
        pub email: String,
        pub role: String,
        pub token_hash: String,
        pub invited_by: UserId,
        pub expires_at: ChronoDateTimeUtc,
        pub accepted_at: Option<ChronoDateTimeUtc>,
        pub revoked_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod workspace {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId, WorkspaceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_workspaces")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: WorkspaceId,
        pub org_id: OrganizationId,
        pub slug: String,
        pub live_slug: Option<String>,
        pub plan: String,
        pub region: String,
        pub state: String,
        pub status_message: Option<String>,
        pub endpoint: Option<String>,
        pub generation: i64,
        pub observed_generation: i64,
        pub idempotency_key: Option<String>,
        pub created_by: UserId,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
        pub conditions: String,
        pub managed_by: String,
        pub data_freed_at: Option<ChronoDateTimeUtc>,
        /// The service secret, sealed (`sealing`); never stored in plain text.
        pub service_secret_sealed: Option<Vec<u8>>,
        /// The master key that sealed it.
        pub service_secret_key: Option<String>,
        /// The last request through the gateway (noted at most every few seconds).
        pub last_active_at: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_token {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{ApiTokenId, OrganizationId, UserId, WorkspaceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ApiTokenId,
        pub name: String,
        pub prefix: String,
        pub secret_hash: String,
        pub user_id: UserId,
        pub org_id: OrganizationId,
        pub workspace_id: Option<WorkspaceId>,
        pub role: String,
        pub expires_at: Option<ChronoDateTimeUtc>,
        pub last_used_at: Option<ChronoDateTimeUtc>,
        pub revoked_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod role_binding {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{UserId, WorkspaceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_role_bindings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: WorkspaceId,
        pub repo: String,
        pub user_id: UserId,
        pub role: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{ApiTokenId, OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub org_id: Option<OrganizationId>,
        pub actor_user_id: Option<UserId>,
        pub actor_token_id: Option<ApiTokenId>,
        pub action: String,
        pub target: String,
        pub ip: Option<String>,
        pub detail: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod lease {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_leases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub holder: String,
        pub expires_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod workspace_workers {
    use sea_orm::entity::prelude::*;
    use strata_core::id::WorkspaceId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_workspace_workers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub workspace_id: WorkspaceId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub pipeline: String,
        pub desired: i32,
        pub current: i32,
        pub outstanding: i64,
        pub max_workers: i32,
        pub reason: String,
        pub message: Option<String>,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sso_connection {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_sso_connections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: OrganizationId,
        pub issuer: String,
        pub client_id: String,
        /// Sealed (`sealing`), bound to the org id.
        pub client_secret_sealed: Vec<u8>,
        pub client_secret_key: String,
        /// Space-separated, besides `openid`.
        pub scopes: String,
        pub claim_email: String,
        pub claim_name: String,
        pub claim_groups: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sso_login {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_sso_logins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub org_id: OrganizationId,
        pub browser_hash: String,
        pub nonce: String,
        pub pkce_sealed: Vec<u8>,
        pub pkce_key: String,
        pub return_to: String,
        pub expires_at: ChronoDateTimeUtc,
        pub used_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod domain {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: OrganizationId,
        pub domain: String,
        pub token: String,
        pub verified_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod team {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_teams")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: OrganizationId,
        pub slug: String,
        pub name: String,
        pub external_id: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        /// Made by the organisation's SCIM client, which manages its members.
        pub scim_managed: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod team_member {
    use sea_orm::entity::prelude::*;
    use strata_core::id::UserId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_team_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub team_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: UserId,
        pub source: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod team_binding {
    use sea_orm::entity::prelude::*;
    use strata_core::id::WorkspaceId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_team_bindings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub workspace_id: WorkspaceId,
        pub repo: String,
        pub team_id: Uuid,
        pub role: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod group_mapping {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_group_mappings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: OrganizationId,
        pub group_name: String,
        pub team_id: Option<Uuid>,
        pub org_role: Option<String>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_token {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_scim_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: OrganizationId,
        pub token_hash: String,
        pub prefix: String,
        pub created_by: UserId,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scim_user {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_scim_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: OrganizationId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: UserId,
        pub external_id: Option<String>,
        pub active: bool,
        pub role: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cli_login {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, UserId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_cli_logins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        /// `loopback` or `device`.
        pub kind: String,
        pub user_code: Option<String>,
        pub challenge: Option<String>,
        pub user_id: Option<UserId>,
        pub sso_org_id: Option<OrganizationId>,
        pub expires_at: ChronoDateTimeUtc,
        pub approved_at: Option<ChronoDateTimeUtc>,
        pub used_at: Option<ChronoDateTimeUtc>,
        pub last_polled_at: Option<ChronoDateTimeUtc>,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod identity {
    use sea_orm::entity::prelude::*;
    use strata_core::id::UserId;

    /// A way to log in besides a password: `provider` is the OIDC issuer,
    /// `subject` its `sub` for the person.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: UserId,
        pub provider: String,
        pub subject: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod billing_account {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    /// An organisation's plan and, when billing is on, its Stripe customer
    /// and subscription as last seen.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_billing_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: OrganizationId,
        #[sea_orm(unique)]
        pub customer_id: Option<String>,
        pub subscription_id: Option<String>,
        pub plan: String,
        /// Stripe's subscription status, or `none`.
        pub status: String,
        /// When a payment first failed and is still due.
        pub past_due_since: Option<ChronoDateTimeUtc>,
        pub suspended_at: Option<ChronoDateTimeUtc>,
        /// When the subscription state applied was read from Stripe; older
        /// reads are not applied over it.
        pub synced_at: Option<ChronoDateTimeUtc>,
        pub updated_at: ChronoDateTimeUtc,
        /// The seat quantity of the subscription as last read or set.
        pub seats_billed: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod billing_event {
    use sea_orm::entity::prelude::*;

    /// A webhook event handled, so a second delivery is acknowledged only.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_billing_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub received_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod usage_cursor {
    use sea_orm::entity::prelude::*;
    use strata_core::id::WorkspaceId;

    /// The last usage record of a workspace that metering counted.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_usage_cursors")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub workspace_id: WorkspaceId,
        pub last_seq: i64,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod meter_bucket {
    use sea_orm::entity::prelude::*;
    use strata_core::id::OrganizationId;

    /// An organisation's usage of one meter in one hour: `open` while it
    /// grows, `sending` once frozen (its value never changes again), then
    /// `sent` (or `unbilled`, for an organisation without a customer).
    /// Usage that arrives for a frozen hour opens the next `part`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_meter_buckets")]
    pub struct Model {
        /// Also the meter event's identifier at the payment provider.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: OrganizationId,
        pub meter: String,
        pub hour: ChronoDateTimeUtc,
        pub part: i32,
        pub value: i64,
        pub state: String,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod storage_sample {
    use sea_orm::entity::prelude::*;
    use strata_core::id::{OrganizationId, WorkspaceId};

    /// A workspace's bytes stored, sampled once an hour; counted into its
    /// organisation's storage bucket in the transaction that writes it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hub_storage_samples")]
    pub struct Model {
        /// `{workspace}-{hour as Unix seconds}`: one sample per workspace and hour.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub workspace_id: WorkspaceId,
        pub org_id: OrganizationId,
        pub hour: ChronoDateTimeUtc,
        pub bytes: i64,
        /// Whether the server was asked (else the last sample was carried
        /// over: a sleeping workspace's data does not change).
        pub measured: bool,
        pub sampled_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
