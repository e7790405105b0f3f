//! Control-plane schema migrations, applied in order at start.
//!
//! Each migration is a module `mNNNN_<what>` and is never edited once
//! released: changes come as new migrations.

use sea_orm_migration::prelude::*;

mod m0001_instance;

/// Applies the control-plane migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_instance::Migration)]
    }
}
