//! The hub's control-plane schema. The hub keeps its own migration table so
//! that the control-plane database can also hold the embedded workspace's
//! PFS and PPS tables in `strata dev`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, binary, boolean, integer, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

/// Applies the hub migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Hub),
            Box::new(M0002Provisioning),
            Box::new(M0003SealedSecrets),
            Box::new(M0004Activity),
            Box::new(M0005Sso),
            Box::new(M0006SsoUpkeep),
            Box::new(M0007Billing),
            Box::new(M0008Metering),
            Box::new(M0009SeatsAndStorage),
        ]
    }

    fn migration_table_name() -> DynIden {
        "hub_migrations".into_iden()
    }
}

#[derive(DeriveMigrationName)]
struct M0001Hub;

fn unique(table: &str, name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table.to_owned()).unique();
    for column in columns {
        index.col((*column).to_owned());
    }
    index.clone()
}

fn index(table: &str, name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table.to_owned());
    for column in columns {
        index.col((*column).to_owned());
    }
    index.clone()
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Hub {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("hub_users")
                .col(uuid("id").primary_key())
                // Normalised (trimmed, lower-cased); see `validate::email`.
                .col(string("email"))
                .col(string("display_name"))
                .col(text_null("password_hash"))
                .col(timestamp_with_time_zone_null("email_verified_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("deleted_at"))
                .to_owned(),
            // Ways to log in besides a password (SSO comes later): one user may have several.
            Table::create()
                .table("hub_identities")
                .col(uuid("id").primary_key())
                .col(uuid("user_id"))
                .col(string("provider"))
                .col(string("subject"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            // Single-use email links (verification, password reset); only hashes are kept.
            Table::create()
                .table("hub_email_tokens")
                .col(string("token_hash").primary_key())
                .col(uuid("user_id"))
                .col(string("purpose"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            // Refresh sessions. A refresh rotates the hash; reuse of an old one revokes the family.
            Table::create()
                .table("hub_sessions")
                .col(uuid("id").primary_key())
                .col(uuid("user_id"))
                .col(string("refresh_hash"))
                .col(string_null("previous_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_used_at"))
                .to_owned(),
            Table::create()
                .table("hub_signing_keys")
                .col(string("kid").primary_key())
                .col(binary("private_pkcs8"))
                .col(binary("public_key"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("retired_at"))
                .to_owned(),
            Table::create()
                .table("hub_orgs")
                .col(uuid("id").primary_key())
                .col(string("slug"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            Table::create()
                .table("hub_memberships")
                .col(uuid("org_id"))
                .col(uuid("user_id"))
                .col(string("role"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("org_id").col("user_id"))
                .to_owned(),
            Table::create()
                .table("hub_invitations")
                .col(uuid("id").primary_key())
                .col(uuid("org_id"))
                .col(string("email"))
                .col(string("role"))
                .col(string("token_hash"))
                .col(uuid("invited_by"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("accepted_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            Table::create()
                .table("hub_workspaces")
                .col(uuid("id").primary_key())
                .col(uuid("org_id"))
                .col(string("slug"))
                // Cleared (NULL) when the workspace is DELETED so the slug can be reused.
                .col(string_null("live_slug"))
                .col(string("plan"))
                .col(string("region"))
                .col(string("state"))
                .col(text_null("status_message"))
                .col(string_null("endpoint"))
                .col(big_integer("generation"))
                .col(big_integer("observed_generation"))
                .col(string_null("idempotency_key"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
            Table::create()
                .table("hub_api_tokens")
                .col(uuid("id").primary_key())
                .col(string("name"))
                // The first characters of the secret, to recognise it in lists.
                .col(string("prefix"))
                .col(string("secret_hash"))
                .col(uuid("user_id"))
                .col(uuid("org_id"))
                .col(uuid_null("workspace_id"))
                .col(string("role"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            // Workspace-wide bindings have repo = '' (not NULL, so the unique index holds).
            Table::create()
                .table("hub_role_bindings")
                .col(uuid("id").primary_key())
                .col(uuid("workspace_id"))
                .col(string("repo"))
                .col(uuid("user_id"))
                .col(string("role"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            Table::create()
                .table("hub_audit_events")
                .col(big_pk_auto("seq"))
                .col(uuid_null("org_id"))
                .col(uuid_null("actor_user_id"))
                .col(uuid_null("actor_token_id"))
                .col(string("action"))
                .col(string("target"))
                .col(string_null("ip"))
                .col(text("detail"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }
        let indexes = [
            unique("hub_users", "hub_users_email", &["email"]),
            unique("hub_identities", "hub_identities_subject", &["provider", "subject"]),
            index("hub_identities", "hub_identities_user", &["user_id"]),
            unique("hub_sessions", "hub_sessions_refresh", &["refresh_hash"]),
            index("hub_sessions", "hub_sessions_previous", &["previous_hash"]),
            unique("hub_orgs", "hub_orgs_slug", &["slug"]),
            index("hub_memberships", "hub_memberships_user", &["user_id"]),
            unique("hub_invitations", "hub_invitations_token", &["token_hash"]),
            index("hub_invitations", "hub_invitations_org", &["org_id"]),
            unique("hub_workspaces", "hub_workspaces_live_slug", &["org_id", "live_slug"]),
            unique("hub_workspaces", "hub_workspaces_idempotency", &["org_id", "idempotency_key"]),
            unique("hub_api_tokens", "hub_api_tokens_secret", &["secret_hash"]),
            index("hub_api_tokens", "hub_api_tokens_user", &["user_id"]),
            unique("hub_role_bindings", "hub_role_bindings_subject", &["workspace_id", "repo", "user_id"]),
            index("hub_audit_events", "hub_audit_events_org", &["org_id", "seq"]),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "hub_audit_events",
            "hub_role_bindings",
            "hub_api_tokens",
            "hub_workspaces",
            "hub_invitations",
            "hub_memberships",
            "hub_orgs",
            "hub_signing_keys",
            "hub_sessions",
            "hub_email_tokens",
            "hub_identities",
            "hub_users",
        ] {
            manager.drop_table(Table::drop().table(table.to_owned()).to_owned()).await?;
        }
        Ok(())
    }
}

/// What the provisioner needs: status conditions, who runs a workspace, its
/// service secret, when its data was freed, leases between provisioner
/// replicas, and the autoscaler's last decision per pipeline.
struct M0002Provisioning;

// Named by hand: the derive takes the module's name, which M0001 already has.
impl MigrationName for M0002Provisioning {
    fn name(&self) -> &str {
        "m0002_provisioning"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Provisioning {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            // JSON array of conditions (Ready, Progressing, Degraded).
            ColumnDef::new("conditions").text().not_null().default("[]").to_owned(),
            // `provisioner`, or `server` for the workspace `strata dev` serves itself.
            ColumnDef::new("managed_by").string().not_null().default("provisioner").to_owned(),
            // What the gateway and workers show the workspace server; made by the provisioner.
            ColumnDef::new("service_secret").text().null().to_owned(),
            ColumnDef::new("data_freed_at").timestamp_with_time_zone().null().to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table("hub_workspaces").add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("hub_leases")
                    .col(string("name").primary_key())
                    .col(string("holder"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("hub_workspace_workers")
                    .col(uuid("workspace_id"))
                    .col(string("pipeline"))
                    .col(integer("desired"))
                    .col(integer("current"))
                    .col(big_integer("outstanding"))
                    .col(integer("max_workers"))
                    .col(string("reason"))
                    .col(text_null("message"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("workspace_id").col("pipeline"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("hub_workspace_workers").to_owned()).await?;
        manager.drop_table(Table::drop().table("hub_leases").to_owned()).await?;
        for column in ["data_freed_at", "service_secret", "managed_by", "conditions"] {
            manager.alter_table(Table::alter().table("hub_workspaces").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

/// Secrets the hub reads back are kept encrypted (see `sealing`), and the
/// ones stored in plain text before are rotated, since anyone who read the
/// database may have them:
/// - every signing key is dropped (the table is made anew with a sealed
///   column), so every access token signed before stops verifying; the hub
///   makes a new key when it opens, sealed;
/// - every refresh session is revoked: people log in again;
/// - every workspace's plain service secret is removed and its generation
///   bumped, so the provisioner makes a new, sealed secret and hands it to
///   the workspace server (the local backend restarts the server, the
///   Kubernetes one rolls its pods) before the gateway uses it.
///
/// The migration needs no master key: it only removes; the hub seals what
/// it makes afterwards. On SQLite, `secure_delete` zeroes the removed bytes
/// in the file instead of leaving them in free pages.
struct M0003SealedSecrets;

impl MigrationName for M0003SealedSecrets {
    fn name(&self) -> &str {
        "m0003_sealed_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003SealedSecrets {
    /// One transaction on SQLite too: the pragma then holds for the
    /// connection that runs every statement below.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sqlite = manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
        if sqlite {
            db.execute_unprepared("PRAGMA secure_delete = ON").await?;
        }
        manager.drop_table(Table::drop().table("hub_signing_keys").to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table("hub_signing_keys")
                    .col(string("kid").primary_key())
                    // PKCS#8 of the Ed25519 key, sealed; bound to `kid`.
                    .col(binary("private_sealed"))
                    // The id of the master key that sealed it.
                    .col(string("sealing_key"))
                    .col(binary("public_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .to_owned(),
            )
            .await?;
        let revoke = Query::update()
            .table("hub_sessions")
            .value("revoked_at", chrono::Utc::now())
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        db.execute(&revoke).await?;
        let bump = Query::update()
            .table("hub_workspaces")
            .value("generation", Expr::col("generation").add(1))
            .and_where(Expr::col("service_secret").is_not_null())
            .to_owned();
        db.execute(&bump).await?;
        let columns = [
            // The service secret, sealed; bound to the workspace id.
            ColumnDef::new("service_secret_sealed").binary().null().to_owned(),
            ColumnDef::new("service_secret_key").string().null().to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table("hub_workspaces").add_column(&mut column).to_owned()).await?;
        }
        // Emptied first, so that the rewrite of the table drops no plain secret into free pages.
        let clear = Query::update()
            .table("hub_workspaces")
            .value("service_secret", Option::<String>::None)
            .and_where(Expr::col("service_secret").is_not_null())
            .to_owned();
        db.execute(&clear).await?;
        manager.alter_table(Table::alter().table("hub_workspaces").drop_column("service_secret").to_owned()).await?;
        if sqlite {
            db.execute_unprepared("PRAGMA secure_delete = OFF").await?;
        }
        Ok(())
    }

    /// Back to plain columns, empty: secrets made since cannot be decrypted
    /// here, so the provisioner makes new ones under the old code.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["service_secret_key", "service_secret_sealed"] {
            manager.alter_table(Table::alter().table("hub_workspaces").drop_column(column).to_owned()).await?;
        }
        let mut plain = ColumnDef::new("service_secret").text().null().to_owned();
        manager.alter_table(Table::alter().table("hub_workspaces").add_column(&mut plain).to_owned()).await?;
        manager.drop_table(Table::drop().table("hub_signing_keys").to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table("hub_signing_keys")
                    .col(string("kid").primary_key())
                    .col(binary("private_pkcs8"))
                    .col(binary("public_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// When a workspace was last asked for something through the gateway: what
/// puts an idle workspace to sleep.
struct M0004Activity;

impl MigrationName for M0004Activity {
    fn name(&self) -> &str {
        "m0004_activity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004Activity {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new("last_active_at").timestamp_with_time_zone().null().to_owned();
        manager.alter_table(Table::alter().table("hub_workspaces").add_column(&mut column).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("hub_workspaces").drop_column("last_active_at").to_owned()).await
    }
}

/// Single sign-on: an OpenID Connect connection per organisation (its client
/// secret sealed), login attempts in flight, claimed domains, teams with
/// their members and role bindings, IdP group mappings, SCIM tokens and
/// users, and the one-time codes that hand a login to the CLI. Sessions
/// remember which organisation's provider opened them; organisations may
/// require that.
struct M0005Sso;

impl MigrationName for M0005Sso {
    fn name(&self) -> &str {
        "m0005_sso"
    }
}

fn sso_tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table("hub_sso_connections")
            .col(uuid("org_id").primary_key())
            .col(string("issuer"))
            .col(string("client_id"))
            // Sealed, bound to the org id; never returned by any API.
            .col(binary("client_secret_sealed"))
            .col(string("client_secret_key"))
            .col(string("scopes"))
            .col(string("claim_email"))
            .col(string("claim_name"))
            .col(string("claim_groups"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .to_owned(),
        // A login sent to an IdP; `state` and the browser's cookie are kept as hashes.
        Table::create()
            .table("hub_sso_logins")
            .col(string("state_hash").primary_key())
            .col(uuid("org_id"))
            .col(string("browser_hash"))
            .col(string("nonce"))
            .col(binary("pkce_sealed"))
            .col(string("pkce_key"))
            .col(text("return_to"))
            .col(timestamp_with_time_zone("expires_at"))
            .col(timestamp_with_time_zone_null("used_at"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        Table::create()
            .table("hub_domains")
            .col(uuid("id").primary_key())
            .col(uuid("org_id"))
            .col(string("domain"))
            .col(string("token"))
            .col(timestamp_with_time_zone_null("verified_at"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        Table::create()
            .table("hub_teams")
            .col(uuid("id").primary_key())
            .col(uuid("org_id"))
            .col(string("slug"))
            .col(string("name"))
            .col(string_null("external_id"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        // `source`: who added the member (`manual`, `idp` at login, `scim`).
        Table::create()
            .table("hub_team_members")
            .col(uuid("team_id"))
            .col(uuid("user_id"))
            .col(string("source"))
            .col(timestamp_with_time_zone("created_at"))
            .primary_key(Index::create().col("team_id").col("user_id"))
            .to_owned(),
        // As hub_role_bindings, for a team: repo = '' for the whole workspace.
        Table::create()
            .table("hub_team_bindings")
            .col(uuid("id").primary_key())
            .col(uuid("workspace_id"))
            .col(string("repo"))
            .col(uuid("team_id"))
            .col(string("role"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        // An IdP group names a team to join and/or an org role to hold.
        Table::create()
            .table("hub_group_mappings")
            .col(uuid("id").primary_key())
            .col(uuid("org_id"))
            .col(string("group_name"))
            .col(uuid_null("team_id"))
            .col(string_null("org_role"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        Table::create()
            .table("hub_scim_tokens")
            .col(uuid("org_id").primary_key())
            .col(string("token_hash"))
            .col(string("prefix"))
            .col(uuid("created_by"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
        // A person as the org's SCIM client manages them; `role` is what a
        // deactivated member held, restored on reactivation.
        Table::create()
            .table("hub_scim_users")
            .col(uuid("org_id"))
            .col(uuid("user_id"))
            .col(string_null("external_id"))
            .col(boolean("active"))
            .col(string("role"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .primary_key(Index::create().col("org_id").col("user_id"))
            .to_owned(),
        // One-time codes that hand a browser login to the CLI: by loopback
        // redirect (`challenge` is the CLI's PKCE S256) or by device code.
        Table::create()
            .table("hub_cli_logins")
            .col(string("code_hash").primary_key())
            .col(string("kind"))
            .col(string_null("user_code"))
            .col(string_null("challenge"))
            .col(uuid_null("user_id"))
            .col(uuid_null("sso_org_id"))
            .col(timestamp_with_time_zone("expires_at"))
            .col(timestamp_with_time_zone_null("approved_at"))
            .col(timestamp_with_time_zone_null("used_at"))
            .col(timestamp_with_time_zone_null("last_polled_at"))
            .col(timestamp_with_time_zone("created_at"))
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0005Sso {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in sso_tables() {
            manager.create_table(table).await?;
        }
        let indexes = [
            unique("hub_domains", "hub_domains_org_domain", &["org_id", "domain"]),
            index("hub_domains", "hub_domains_domain", &["domain"]),
            unique("hub_teams", "hub_teams_slug", &["org_id", "slug"]),
            index("hub_team_members", "hub_team_members_user", &["user_id"]),
            unique("hub_team_bindings", "hub_team_bindings_subject", &["workspace_id", "repo", "team_id"]),
            index("hub_team_bindings", "hub_team_bindings_team", &["team_id"]),
            unique("hub_group_mappings", "hub_group_mappings_group", &["org_id", "group_name"]),
            unique("hub_scim_tokens", "hub_scim_tokens_hash", &["token_hash"]),
            unique("hub_cli_logins", "hub_cli_logins_user_code", &["user_code"]),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        let mut required = ColumnDef::new("sso_required").boolean().not_null().default(false).to_owned();
        manager.alter_table(Table::alter().table("hub_orgs").add_column(&mut required).to_owned()).await?;
        let mut via = ColumnDef::new("sso_org_id").uuid().null().to_owned();
        manager.alter_table(Table::alter().table("hub_sessions").add_column(&mut via).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("hub_sessions").drop_column("sso_org_id").to_owned()).await?;
        manager.alter_table(Table::alter().table("hub_orgs").drop_column("sso_required").to_owned()).await?;
        for table in sso_tables().iter().rev() {
            if let Some(name) = table.get_table_name() {
                manager.drop_table(Table::drop().table(name.clone()).to_owned()).await?;
            }
        }
        Ok(())
    }
}

/// Logins in flight are swept once long expired (on every new one), by
/// their expiry; teams the SCIM client made say so whether or not it sent
/// an `externalId`.
struct M0006SsoUpkeep;

impl MigrationName for M0006SsoUpkeep {
    fn name(&self) -> &str {
        "m0006_sso_upkeep"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0006SsoUpkeep {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index("hub_sso_logins", "hub_sso_logins_expires", &["expires_at"])).await?;
        manager.create_index(index("hub_cli_logins", "hub_cli_logins_expires", &["expires_at"])).await?;
        let mut managed = ColumnDef::new("scim_managed").boolean().not_null().default(false).to_owned();
        manager.alter_table(Table::alter().table("hub_teams").add_column(&mut managed).to_owned()).await?;
        // Before this column, a SCIM team was told apart by its externalId.
        let backfill = Query::update()
            .table("hub_teams")
            .value("scim_managed", true)
            .and_where(Expr::col("external_id").is_not_null())
            .to_owned();
        manager.exec_stmt(backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("hub_teams").drop_column("scim_managed").to_owned()).await?;
        manager.drop_index(Index::drop().name("hub_cli_logins_expires").table("hub_cli_logins").to_owned()).await?;
        manager.drop_index(Index::drop().name("hub_sso_logins_expires").table("hub_sso_logins").to_owned()).await
    }
}

/// Billing: each organisation's plan and Stripe subscription, and the
/// webhook events already handled.
struct M0007Billing;

impl MigrationName for M0007Billing {
    fn name(&self) -> &str {
        "m0007_billing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007Billing {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let accounts = Table::create()
            .table("hub_billing_accounts")
            .col(uuid("org_id").primary_key())
            .col(string_null("customer_id"))
            .col(string_null("subscription_id"))
            .col(string("plan"))
            .col(string("status"))
            .col(timestamp_with_time_zone_null("past_due_since"))
            .col(timestamp_with_time_zone_null("suspended_at"))
            .col(timestamp_with_time_zone_null("synced_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .to_owned();
        manager.create_table(accounts).await?;
        manager.create_index(unique("hub_billing_accounts", "hub_billing_accounts_customer", &["customer_id"])).await?;
        let events = Table::create()
            .table("hub_billing_events")
            .col(string("id").primary_key())
            .col(string("kind"))
            .col(timestamp_with_time_zone("received_at"))
            .to_owned();
        manager.create_table(events).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("hub_billing_events").to_owned()).await?;
        manager.drop_table(Table::drop().table("hub_billing_accounts").to_owned()).await
    }
}

/// Metering: how far each workspace's usage was counted, and usage per
/// organisation, meter and hour on its way to the payment provider.
struct M0008Metering;

impl MigrationName for M0008Metering {
    fn name(&self) -> &str {
        "m0008_metering"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0008Metering {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let cursors = Table::create()
            .table("hub_usage_cursors")
            .col(uuid("workspace_id").primary_key())
            .col(big_integer("last_seq"))
            .col(timestamp_with_time_zone("updated_at"))
            .to_owned();
        manager.create_table(cursors).await?;
        let buckets = Table::create()
            .table("hub_meter_buckets")
            .col(string("id").primary_key())
            .col(uuid("org_id"))
            .col(string("meter"))
            .col(timestamp_with_time_zone("hour"))
            .col(integer("part"))
            .col(big_integer("value"))
            .col(string("state"))
            .col(timestamp_with_time_zone("updated_at"))
            .to_owned();
        manager.create_table(buckets).await?;
        manager.create_index(index("hub_meter_buckets", "hub_meter_buckets_state", &["state", "hour"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("hub_meter_buckets").to_owned()).await?;
        manager.drop_table(Table::drop().table("hub_usage_cursors").to_owned()).await
    }
}

/// Billing: the seat quantity last set on each subscription, so member
/// changes are pushed to the payment provider once; and each workspace's
/// hourly storage samples.
struct M0009SeatsAndStorage;

impl MigrationName for M0009SeatsAndStorage {
    fn name(&self) -> &str {
        "m0009_seats_and_storage"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0009SeatsAndStorage {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = Table::alter().table("hub_billing_accounts").add_column(big_integer_null("seats_billed")).to_owned();
        manager.alter_table(add).await?;
        let samples = Table::create()
            .table("hub_storage_samples")
            .col(string("id").primary_key())
            .col(uuid("workspace_id"))
            .col(uuid("org_id"))
            .col(timestamp_with_time_zone("hour"))
            .col(big_integer("bytes"))
            .col(boolean("measured"))
            .col(timestamp_with_time_zone("sampled_at"))
            .to_owned();
        manager.create_table(samples).await?;
        manager
            .create_index(index("hub_storage_samples", "hub_storage_samples_workspace", &["workspace_id", "hour"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("hub_storage_samples").to_owned()).await?;
        manager.alter_table(Table::alter().table("hub_billing_accounts").drop_column("seats_billed").to_owned()).await
    }
}
