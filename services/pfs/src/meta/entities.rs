//! sea-orm entities of the PFS tables. Only `meta` uses them.

pub mod repo {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_repos")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub kind: String,
        pub description: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod commit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_commits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub seq: i64,
        pub branch: Option<String>,
        pub parent: Option<String>,
        pub origin: String,
        pub description: String,
        pub started_at: ChronoDateTimeUtc,
        pub finished_at: Option<ChronoDateTimeUtc>,
        pub root: Option<String>,
        pub size_bytes: i64,
        pub files: i64,
        pub layers: i32,
        pub error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod branch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_branches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub head: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod branch_provenance {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_branch_provenance")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub branch: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub upstream_repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub upstream_branch: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod commit_provenance {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_commit_provenance")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub commit: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub upstream_repo: String,
        pub upstream_commit: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod layer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pfs_layers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub repo: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub commit: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i32,
        pub layer: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
