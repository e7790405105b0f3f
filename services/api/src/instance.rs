//! The installation's identity, created on first start and kept forever.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue, DatabaseConnection, EntityTrait};
use strata_core::id::InstanceId;

use crate::error::Error;

mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "instance")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub slot: i32,
        pub id: Uuid,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const SLOT: i32 = 1;

/// One Strata installation: everything in one control-plane database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub created_at: DateTime<Utc>,
}

/// Returns the installation's identity, creating it on the very first start.
/// Safe when several processes start at once on the same database: the
/// first insert wins and everyone reads the same row.
pub(crate) async fn instance_get_or_create(db: &DatabaseConnection) -> Result<Instance, Error> {
    let fresh = entity::ActiveModel {
        slot: ActiveValue::Set(SLOT),
        id: ActiveValue::Set(InstanceId::new().as_uuid()),
        // Stored at second precision with UTC offset on both backends.
        created_at: ActiveValue::Set(Utc::now()),
    };
    entity::Entity::insert(fresh)
        .on_conflict_do_nothing_on([entity::Column::Slot])
        .exec(db)
        .await
        .map_err(Error::Database)?;
    let row = entity::Entity::find_by_id(SLOT).one(db).await.map_err(Error::Database)?.ok_or_else(|| {
        Error::Database(sea_orm::DbErr::RecordNotFound("instance row vanished after insert".to_owned()))
    })?;
    Ok(Instance { id: InstanceId::from_uuid(row.id), created_at: row.created_at })
}
