//! PFS metadata schema. PFS keeps its own migration table so a workspace
//! database can hold PFS beside other services' tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, string, string_null, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

/// Applies the PFS migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Pfs)]
    }

    fn migration_table_name() -> DynIden {
        "pfs_migrations".into_iden()
    }
}

#[derive(DeriveMigrationName)]
struct M0001Pfs;

#[async_trait::async_trait]
impl MigrationTrait for M0001Pfs {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pfs_repos")
                    .col(string("name").primary_key())
                    .col(string("kind"))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pfs_commits")
                    .col(string("repo"))
                    .col(string("id"))
                    .col(big_integer("seq"))
                    .col(string_null("branch"))
                    .col(string_null("parent"))
                    .col(string("origin"))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(string_null("root"))
                    .col(big_integer("size_bytes"))
                    .col(big_integer("files"))
                    .col(integer("layers"))
                    .col(text_null("error"))
                    .primary_key(Index::create().col("repo").col("id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("pfs_commits", "repo")
                            .to("pfs_repos", "name")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pfs_commits_by_seq")
                    .table("pfs_commits")
                    .col("repo")
                    .col("seq")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pfs_branches")
                    .col(string("repo"))
                    .col(string("name"))
                    .col(string("head"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("repo").col("name"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("pfs_branches", "repo")
                            .to("pfs_repos", "name")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pfs_branch_provenance")
                    .col(string("repo"))
                    .col(string("branch"))
                    .col(string("upstream_repo"))
                    .col(string("upstream_branch"))
                    .primary_key(Index::create().col("repo").col("branch").col("upstream_repo").col("upstream_branch"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pfs_commit_provenance")
                    .col(string("repo"))
                    .col(string("commit"))
                    .col(string("upstream_repo"))
                    .col(string("upstream_commit"))
                    .primary_key(Index::create().col("repo").col("commit").col("upstream_repo"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pfs_layers")
                    .col(string("repo"))
                    .col(string("commit"))
                    .col(integer("seq"))
                    .col(string("layer"))
                    .primary_key(Index::create().col("repo").col("commit").col("seq"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["pfs_layers", "pfs_commit_provenance", "pfs_branch_provenance", "pfs_branches", "pfs_commits", "pfs_repos"]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
