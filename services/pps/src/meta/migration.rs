//! PPS metadata schema. PPS keeps its own migration table so a workspace
//! database can hold PPS beside PFS.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, integer, string, string_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

/// Applies the PPS migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Pps),
            Box::new(M0002Secrets),
            Box::new(M0003JobImage),
            Box::new(M0004JobRunner),
            Box::new(M0005Usage),
        ]
    }

    fn migration_table_name() -> DynIden {
        "pps_migrations".into_iden()
    }
}

#[derive(DeriveMigrationName)]
struct M0001Pps;

#[async_trait::async_trait]
impl MigrationTrait for M0001Pps {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pps_pipelines")
                    .col(string("name").primary_key())
                    .col(integer("version"))
                    .col(text("spec"))
                    .col(string("salt"))
                    .col(boolean("stopped"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pps_pipeline_versions")
                    .col(string("pipeline"))
                    .col(integer("version"))
                    .col(text("spec"))
                    .col(string("salt"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("pipeline").col("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pps_jobs")
                    .col(string("pipeline"))
                    .col(string("id"))
                    .col(big_integer("seq"))
                    .col(string("state"))
                    .col(text_null("reason"))
                    .col(integer("spec_version"))
                    .col(big_integer("total"))
                    .col(big_integer("processed"))
                    .col(big_integer("skipped"))
                    .col(big_integer("failed"))
                    .col(big_integer("recovered"))
                    .col(text("stats"))
                    .col(text("inputs"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .primary_key(Index::create().col("pipeline").col("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("pps_jobs_by_seq").table("pps_jobs").col("pipeline").col("seq").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pps_datums")
                    .col(string("pipeline"))
                    .col(string("job"))
                    .col(string("id"))
                    .col(string("state"))
                    .col(integer("attempts"))
                    .col(string_null("exit"))
                    .col(text("stats"))
                    .col(text("outputs"))
                    .col(text("log"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .primary_key(Index::create().col("pipeline").col("job").col("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pps_logs")
                    .col(big_pk_auto("cursor"))
                    .col(timestamp_with_time_zone("ts"))
                    .col(string("pipeline"))
                    .col(string_null("job"))
                    .col(string_null("datum"))
                    .col(boolean("user"))
                    .col(text("message"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("pps_logs_by_pipeline").table("pps_logs").col("pipeline").col("cursor").to_owned(),
            )
            .await
    }
}

/// The workspace's secrets, sealed (see `crate::secrets`).
struct M0002Secrets;

impl MigrationName for M0002Secrets {
    fn name(&self) -> &str {
        "m0002_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Secrets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pps_secrets")
                    .col(string("name").primary_key())
                    .col(text("keys"))
                    .col(string("key_id"))
                    .col(text("sealed"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await
    }
}

/// The digest-pinned image of each job.
struct M0003JobImage;

/// Named by hand (as M0002): the derive names a migration after its file,
/// and the first one already holds this file's name.
impl MigrationName for M0003JobImage {
    fn name(&self) -> &str {
        "m0003_job_image"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003JobImage {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("pps_jobs").add_column(text_null("image")).to_owned()).await
    }
}

/// What ran each job's datums.
struct M0004JobRunner;

/// Named by hand, as M0002 and M0003.
impl MigrationName for M0004JobRunner {
    fn name(&self) -> &str {
        "m0004_job_runner"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004JobRunner {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("pps_jobs").add_column(text_null("runner")).to_owned()).await
    }
}

/// Billing's outbox: what each batch of datum results used, written in the
/// transaction that records the datums (docs/billing.md, "Metering").
struct M0005Usage;

impl MigrationName for M0005Usage {
    fn name(&self) -> &str {
        "m0005_usage"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005Usage {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let usage = Table::create()
            .table("pps_usage")
            .col(big_pk_auto("seq"))
            .col(string("pipeline"))
            .col(string("job"))
            .col(big_integer("datums"))
            .col(big_integer("cpu_ms"))
            .col(big_integer("process_ms"))
            .col(big_integer("bytes_in"))
            .col(big_integer("bytes_out"))
            .col(timestamp_with_time_zone("recorded_at"))
            .to_owned();
        manager.create_table(usage).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("pps_usage").to_owned()).await
    }
}
