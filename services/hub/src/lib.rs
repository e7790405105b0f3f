//! The hub's domain (DESIGN.md §5, docs/hub.md): people and how they log
//! in, organisations and their members, workspaces, API tokens, roles and
//! the audit log, on the control-plane database (SQLite or PostgreSQL).
//!
//! This crate knows nothing of HTTP or GraphQL; `strata-api` exposes it.
//! Every operation that acts for someone takes the [`Principal`] and checks
//! it here, so no transport can forget a permission check. Objects of
//! another tenant are reported exactly as missing ones ([`UserError::not_found`]).

mod api_tokens;
mod audit;
pub mod billing;
mod cache;
pub mod config;
pub mod entities;
pub mod error;
mod identity;
pub mod keys;
mod local;
pub mod mailer;
pub mod metering;
pub mod migration;
mod org_deletion;
mod orgs;
pub mod plans;
pub mod provisioning;
pub mod roles;
mod sealing;
mod seat_billing;
mod secrets;
mod sleep;
pub mod sso;
pub mod validate;
mod workspaces;

use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;
use strata_core::config::MasterKeys;
use strata_core::id::{OrganizationId, UserId};

pub use api_tokens::{ApiToken, NewApiToken};
pub use audit::{AuditEvent, AuditFilter};
pub use billing::{Applied, BillingAccount, BillingStatus, SubscriptionSnapshot};
pub use error::{HubError, Result, UserError};
pub use identity::{Session, SignUp, Tokens, User};
pub use keys::{Jwks, KeyRing};
pub use local::{LOCAL_ADMIN_EMAIL, LOCAL_ORG};
pub use mailer::{Mail, Mailer, OutboxMailer, SmtpMailer};
pub use org_deletion::OrgToDelete;
pub use orgs::{Invitation, Member, Org, OrgUsage};
pub use provisioning::{
    Condition, ConditionType, DesiredWorkspace, ObservedStatus, PipelineWorkers, Upstream, WorkspaceAccess,
    WorkspaceRoles, WorkspaceRoute,
};
pub use roles::{Credential, OrgRole, Principal, WorkspaceRole};
pub use seat_billing::SeatsToBill;
pub use secrets::API_TOKEN_PREFIX;
pub use sleep::{ActivityGuard, Reached, SLEEP_AFTER_MIN};
pub use sso::cli::{DeviceAuthorization, DevicePoll};
pub use sso::domains::Domain;
pub use sso::login::{Realm, ReturnTo, SsoCallback, SsoFinished, SsoStarted};
pub use sso::scim::{MemberChange, ScimGroup, ScimLookup, ScimPerson, ScimPersonChange};
pub use sso::teams::{GroupMapping, Team, TeamBinding, TeamMember};
pub use sso::{SsoConnection, SsoConnectionInput, SsoSettings};
pub use workspaces::{NewWorkspace, RoleBinding, Workspace, WorkspaceState};

/// Settings of the hub.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The public base URL of the web console, for links in emails.
    pub public_url: String,
    pub session_ttl: Duration,
    pub email_link_ttl: Duration,
    pub invitation_ttl: Duration,
    /// The plans this installation offers (the plans file).
    pub plans: std::sync::Arc<plans::Catalogue>,
    /// The operator's plan per organisation (the `org_plans` setting).
    pub org_plans: plans::OrgPlans,
    /// What signing keys and service secrets are encrypted with at rest.
    pub master_keys: MasterKeys,
    /// How identity providers and DNS are reached for single sign-on.
    pub sso: SsoSettings,
    /// How often the CLI polls a device login (RFC 8628's `interval`).
    pub device_poll_interval: Duration,
}

impl HubSettings {
    /// The default settings with these master keys; there is no default
    /// master key, since one in the code would protect nothing.
    pub fn new(master_keys: MasterKeys) -> Self {
        HubSettings {
            public_url: "http://localhost:8080".to_owned(),
            session_ttl: Duration::days(30),
            email_link_ttl: Duration::hours(24),
            invitation_ttl: Duration::days(7),
            plans: std::sync::Arc::new(plans::Catalogue::built_in()),
            org_plans: plans::OrgPlans::default(),
            master_keys,
            sso: SsoSettings::default(),
            device_poll_interval: Duration::seconds(5),
        }
    }
}

/// The hub: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Hub {
    db: DatabaseConnection,
    keys: KeyRing,
    /// Seals and opens the service secrets (the key ring has its own handle).
    sealer: Arc<sealing::Sealer>,
    mailer: Arc<dyn Mailer>,
    settings: HubSettings,
    /// Principals by bearer-token hash, and users by id (see `cache`).
    principals: Arc<cache::TtlCache<String, Principal>>,
    users: Arc<cache::TtlCache<UserId, User>>,
    /// Woken when a workspace is created or deleted, so a provisioner in
    /// the same process starts at once instead of at its next poll.
    workspace_changes: Arc<tokio::sync::Notify>,
    /// Woken (all waiters) whenever the provisioner records a workspace's
    /// status here, so a request waiting for a workspace to wake sees it at once.
    status_changes: Arc<tokio::sync::Notify>,
    /// The requests this process serves per workspace (see `sleep`).
    activity: Arc<sleep::Activity>,
    /// The OpenID Connect relying party, with its per-issuer caches.
    relying_party: Arc<strata_sso::oidc::RelyingParty>,
    /// Looks up the TXT records that prove domains; `None` on a machine
    /// without resolvers (domain checks then say to set `sso_dns_server`).
    txt: Option<strata_sso::dns::TxtResolver>,
}

impl Hub {
    /// Applies the hub's migrations and loads (or makes) its signing keys.
    /// Secrets sealed with an older master key are sealed again with the
    /// current one. Fails with [`HubError::MasterKey`] when the configured
    /// master keys cannot open what is stored.
    pub async fn open(db: DatabaseConnection, mailer: Arc<dyn Mailer>, settings: HubSettings) -> Result<Hub> {
        use sea_orm_migration::MigratorTrait;
        let sealer = Arc::new(sealing::Sealer::new(&settings.master_keys)?);
        let migrated = !migration::Migrator::get_pending_migrations(&db).await?.is_empty();
        migration::Migrator::up(&db, None).await?;
        if migrated {
            forget_removed_bytes(&db).await;
        }
        let keys = KeyRing::load(db.clone(), sealer.clone()).await?;
        let relying_party = strata_sso::oidc::RelyingParty::new(settings.sso.reach, settings.sso.cache)
            .map_err(|e| HubError::Crypto(format!("cannot set up single sign-on: {e}")))?;
        let txt = match settings.sso.dns_server {
            Some(server) => strata_sso::dns::TxtResolver::at(server),
            None => strata_sso::dns::TxtResolver::system(),
        }
        .inspect_err(|error| tracing::warn!(%error, "domain verification is off until `sso_dns_server` is set"))
        .ok();
        let hub = Hub {
            db,
            keys,
            sealer,
            mailer,
            settings,
            principals: Arc::default(),
            users: Arc::default(),
            workspace_changes: Arc::default(),
            status_changes: Arc::default(),
            activity: Arc::default(),
            relying_party: Arc::new(relying_party),
            txt,
        };
        hub.reseal_service_secrets().await?;
        hub.reseal_sso_client_secrets().await?;
        Ok(hub)
    }

    /// The plan of the organisation `org_id` (`org_slug`), which bounds its
    /// workspaces' plans and their number: the operator's for it if set,
    /// else the one billing granted.
    pub async fn org_plan(&self, org_id: OrganizationId, org_slug: &str) -> Result<&plans::Plan> {
        if let Some(plan) = self.settings.org_plans.of(&self.settings.plans, org_slug) {
            return Ok(plan);
        }
        let account = self.billing_account(org_id).await?;
        Ok(self.settings.plans.named_or_default(&account.plan))
    }

    /// The plans this installation offers, smallest first.
    pub fn plans(&self) -> &plans::Catalogue {
        &self.settings.plans
    }

    /// The signing keys (for the JWKS endpoint and rotation).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Notified whenever a workspace's desired state changes here.
    pub fn workspace_changes(&self) -> Arc<tokio::sync::Notify> {
        self.workspace_changes.clone()
    }

    /// Drops cached authentication of `user` (after a change to the account).
    fn forget_user(&self, user: UserId) {
        self.principals.forget(|p| p.user_id == user);
        self.users.forget(|u| u.id == user);
    }

    fn link(&self, path: &str, token: &str) -> String {
        format!("{}/{path}?token={token}", self.settings.public_url.trim_end_matches('/'))
    }
}

/// After a migration removed plain secrets from SQLite, empties the
/// write-ahead log, which may still hold the pages they were written in.
/// Best effort: a busy reader only delays it to SQLite's next checkpoint.
async fn forget_removed_bytes(db: &DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
        && let Err(error) = db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await
    {
        tracing::debug!(%error, "could not truncate the write-ahead log after a migration");
    }
}
