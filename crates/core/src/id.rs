//! Typed identifiers.
//!
//! Every entity has its own id type so a `WorkspaceId` can never be passed
//! where an `OrganizationId` is expected. Ids are parsed once at the edge
//! (HTTP path, GraphQL argument, CLI flag) and stay typed inside, down to
//! the database: UUID ids are column types of their own
//! (`sea_orm::DeriveValueType`), stored as plain UUIDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind} id: {reason}")]
pub struct ParseIdError {
    kind: &'static str,
    input: String,
    reason: &'static str,
}

/// Defines a UUID-backed id type. Displayed as the plain hyphenated UUID.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sea_orm::DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        /// A UUID key is never made from a number; sea-orm asks primary
        /// keys for this only for auto-increment columns.
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// The underlying UUID, for storage.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            /// Wraps a UUID read back from storage.
            pub fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self).map_err(|_| ParseIdError {
                    kind: $kind,
                    input: s.to_owned(),
                    reason: "expected a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8",
                })
            }
        }
    };
}

/// Defines an id made of 32 lowercase hex characters (a UUID without
/// hyphens), the shape Pachyderm uses for commits and jobs.
macro_rules! hex32_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(*uuid::Uuid::new_v4().as_bytes())
            }

            /// The raw 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let error = |reason| ParseIdError { kind: $kind, input: s.to_owned(), reason };
                if s.len() != 32 {
                    return Err(error("expected exactly 32 hex characters"));
                }
                if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(error("hex characters must be lowercase"));
                }
                let mut bytes = [0u8; 16];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| error("expected only 0-9 and a-f"))?;
                Ok(Self(bytes))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// One running Strata installation (its control-plane database).
    InstanceId,
    "instance"
);
uuid_id!(
    /// A person who can log in.
    UserId,
    "user"
);
uuid_id!(
    /// A tenant: an organisation owns workspaces.
    OrganizationId,
    "organization"
);
uuid_id!(
    /// An isolated PFS + PPS instance inside an organisation.
    WorkspaceId,
    "workspace"
);
uuid_id!(
    /// A long-lived credential for CI and the CLI.
    ApiTokenId,
    "API token"
);
hex32_id!(
    /// A commit; commits caused by the same input commit share it (a commit set).
    CommitId,
    "commit"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_through_text_and_json() {
        let id = WorkspaceId::new();
        assert_eq!(id.to_string().parse::<WorkspaceId>(), Ok(id));
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<WorkspaceId>(&json).expect("parse"), id);
    }

    #[test]
    fn a_malformed_uuid_id_names_its_kind() {
        let error = "nope".parse::<OrganizationId>().expect_err("must fail");
        assert_eq!(
            error.to_string(),
            "`nope` is not a valid organization id: expected a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8"
        );
    }

    #[test]
    fn commit_ids_are_32_lowercase_hex_characters() {
        let id = CommitId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(text.parse::<CommitId>(), Ok(id));
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(serde_json::from_str::<CommitId>(&json).expect("parse"), id);
    }

    #[test]
    fn commit_ids_reject_wrong_length_case_and_alphabet() {
        let cases = [
            ("abc", "expected exactly 32 hex characters"),
            ("0123456789ABCDEF0123456789abcdef", "hex characters must be lowercase"),
            ("0123456789abcdefg123456789abcdef", "expected only 0-9 and a-f"),
        ];
        for (input, reason) in cases {
            let error = input.parse::<CommitId>().expect_err(input);
            assert!(error.to_string().ends_with(reason), "{input}: {error}");
        }
    }

    #[test]
    fn json_with_a_bad_commit_id_is_rejected() {
        assert!(serde_json::from_str::<CommitId>("\"xyz\"").is_err());
    }
}
