//! Relay global ids: `base64url("<Type>:<uuid>")`, opaque to clients.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The kinds of object that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    Organization,
    Workspace,
    ApiToken,
    Invitation,
    AuditEvent,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Organization => "Organization",
            Kind::Workspace => "Workspace",
            Kind::ApiToken => "ApiToken",
            Kind::Invitation => "Invitation",
            Kind::AuditEvent => "AuditEvent",
        }
    }

    const ALL: [Kind; 6] =
        [Kind::User, Kind::Organization, Kind::Workspace, Kind::ApiToken, Kind::Invitation, Kind::AuditEvent];
}

pub(crate) fn encode(kind: Kind, id: impl std::fmt::Display) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// The kind and raw id inside a global id, if it is one of ours.
pub(crate) fn decode(id: &str) -> Option<(Kind, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (name, raw) = text.split_once(':')?;
    let kind = Kind::ALL.into_iter().find(|kind| kind.name() == name)?;
    Some((kind, raw.to_owned()))
}

/// The typed id (`UserId`, `WorkspaceId`, ...) inside a global id of the
/// expected kind.
pub(crate) fn decode_id<T: std::str::FromStr>(id: &str, expected: Kind) -> Option<T> {
    match decode(id)? {
        (kind, raw) if kind == expected => raw.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use strata_core::id::{OrganizationId, WorkspaceId};

    use super::*;

    #[test]
    fn global_ids_round_trip_and_keep_their_kind() {
        let id = WorkspaceId::new();
        let global = encode(Kind::Workspace, id);
        assert_eq!(decode_id(&global, Kind::Workspace), Some(id));
        assert_eq!(decode_id::<OrganizationId>(&global, Kind::Organization), None);
        assert_eq!(decode("not base64 at all!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("Secret:1")), None);
    }
}
