//! sea-orm entities of the PPS tables. Only `meta` uses them.

pub mod pipeline {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_pipelines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub version: i32,
        pub spec: String,
        pub salt: String,
        pub stopped: bool,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod pipeline_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_pipeline_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub pipeline: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub spec: String,
        pub salt: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub pipeline: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub seq: i64,
        pub state: String,
        pub reason: Option<String>,
        pub spec_version: i32,
        pub total: i64,
        pub processed: i64,
        pub skipped: i64,
        pub failed: i64,
        pub recovered: i64,
        pub stats: String,
        pub inputs: String,
        pub created_at: ChronoDateTimeUtc,
        pub started_at: Option<ChronoDateTimeUtc>,
        pub finished_at: Option<ChronoDateTimeUtc>,
        /// The image pinned by digest (migration 3).
        pub image: Option<String>,
        /// What ran its datums, as its workers reported it (migration 4).
        pub runner: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod datum {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_datums")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub pipeline: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub job: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub state: String,
        pub attempts: i32,
        pub exit: Option<String>,
        pub stats: String,
        pub outputs: String,
        pub log: String,
        pub started_at: ChronoDateTimeUtc,
        pub finished_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod log_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_logs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub cursor: i64,
        pub ts: ChronoDateTimeUtc,
        pub pipeline: String,
        pub job: Option<String>,
        pub datum: Option<String>,
        pub user: bool,
        pub message: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod secret {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// The key names in clear, as JSON: what `secret list` shows.
        pub keys: String,
        /// The id of the key that sealed `sealed`.
        pub key_id: String,
        /// Base64 of `nonce || ciphertext || tag` of the values as JSON.
        pub sealed: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod usage {
    use sea_orm::entity::prelude::*;

    /// What one batch of datum results used (billing's outbox).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pps_usage")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub pipeline: String,
        pub job: String,
        pub datums: i64,
        pub cpu_ms: i64,
        pub process_ms: i64,
        pub bytes_in: i64,
        pub bytes_out: i64,
        pub recorded_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
