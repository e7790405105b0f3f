//! SCIM 2.0 over HTTP (`/scim/v2/{org}/…`): the organisation's identity
//! provider provisions people and groups with the organisation's bearer
//! token. Requests and resources are `strata_sso::scim`'s; storage and the
//! rules (verified domains only, deactivation ends sessions) the hub's.
//! Every answer is `application/scim+json`, errors in SCIM's error shape.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use strata_api_types::ErrorCode;
use strata_core::id::{OrganizationId, UserId};
use strata_hub::{Hub, HubError, MemberChange, ScimGroup, ScimLookup, ScimPerson, ScimPersonChange};
use strata_sso::scim::{
    Filter, FilterAttribute, GroupPatch, GroupResource, ListQuery, MemberOp, ResourceRef, ResourceType, ScimError,
    Stored, UserPatch, UserResource, list_response, service_provider_config,
};
use uuid::Uuid;

const SCIM_JSON: &str = "application/scim+json";

fn scim(status: u16, body: &serde_json::Value) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_JSON)).body(body.to_string())
}

fn failed(error: &ScimError) -> HttpResponse {
    scim(error.status(), &error.to_json())
}

/// A hub failure as a SCIM error; server faults are logged, not shown.
fn from_hub(error: &HubError) -> ScimError {
    match error.user_error() {
        Some(user) => match user.code {
            ErrorCode::NotFound => ScimError::not_found(&user.message),
            ErrorCode::AlreadyExists => ScimError::uniqueness(user.message.clone()),
            ErrorCode::Unauthenticated => ScimError::unauthorized(),
            _ => ScimError::invalid_value(user.message.clone()),
        },
        None => {
            tracing::error!(error = %strata_core::error::display_chain(error), "a SCIM request failed");
            ScimError::internal()
        }
    }
}

/// The organisation the bearer token may act on.
async fn authorise(hub: &Hub, request: &HttpRequest, org: &str) -> Result<OrganizationId, ScimError> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(ScimError::unauthorized)?;
    hub.scim_org(org, bearer).await.map_err(|e| from_hub(&e))
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    Uuid::parse_str(id).map(UserId::from_uuid).map_err(|_| ScimError::not_found("user"))
}

fn person_json(base: &str, person: &ScimPerson) -> serde_json::Value {
    let id = person.user_id.to_string();
    let resource = UserResource {
        user_name: person.email.clone(),
        display_name: person.display_name.clone(),
        given_name: None,
        family_name: None,
        email: person.email.clone(),
        external_id: person.external_id.clone(),
        active: person.active,
    };
    let stored = Stored { base, id: &id, created: person.created_at, last_modified: person.updated_at, version: None };
    resource.render(&stored, &[])
}

fn group_json(base: &str, group: &ScimGroup) -> serde_json::Value {
    let id = group.team.id.to_string();
    let resource = GroupResource {
        display_name: group.team.name.clone(),
        external_id: group.team.external_id.clone(),
        members: group
            .members
            .iter()
            .map(|(user, email)| ResourceRef { value: user.to_string(), display: Some(email.clone()) })
            .collect(),
    };
    let stored =
        Stored { base, id: &id, created: group.team.created_at, last_modified: group.team.created_at, version: None };
    resource.render(&stored)
}

/// What the store can look up first; the other conditions are checked
/// on what it finds.
fn lookup(filter: Option<&Filter>) -> ScimLookup {
    let Some((attribute, value)) = filter.and_then(|f| f.conditions().first().copied()) else { return ScimLookup::All };
    match attribute {
        FilterAttribute::Id => Uuid::parse_str(value).map_or(ScimLookup::Nothing, ScimLookup::Id),
        FilterAttribute::UserName | FilterAttribute::Email => ScimLookup::Email(value.to_owned()),
        FilterAttribute::ExternalId => ScimLookup::ExternalId(value.to_owned()),
        // Case-insensitive (RFC 7643): compared on what the organisation has.
        FilterAttribute::DisplayName | FilterAttribute::Member => ScimLookup::All,
    }
}

fn person_matches(filter: Option<&Filter>, person: &ScimPerson) -> bool {
    filter.is_none_or(|f| {
        f.conditions().iter().all(|(attribute, value)| match attribute {
            FilterAttribute::Id => attribute.matches(value, &person.user_id.to_string()),
            FilterAttribute::UserName | FilterAttribute::Email => attribute.matches(value, &person.email),
            FilterAttribute::ExternalId => person.external_id.as_deref().is_some_and(|e| attribute.matches(value, e)),
            FilterAttribute::DisplayName | FilterAttribute::Member => false,
        })
    })
}

fn group_matches(filter: Option<&Filter>, group: &ScimGroup) -> bool {
    filter.is_none_or(|f| {
        f.conditions().iter().all(|(attribute, value)| match attribute {
            FilterAttribute::Id => attribute.matches(value, &group.team.id.to_string()),
            FilterAttribute::DisplayName => attribute.matches(value, &group.team.name),
            FilterAttribute::ExternalId => {
                group.team.external_id.as_deref().is_some_and(|e| attribute.matches(value, e))
            }
            FilterAttribute::Member => {
                group.members.iter().any(|(user, _)| attribute.matches(value, &user.to_string()))
            }
            FilterAttribute::UserName | FilterAttribute::Email => false,
        })
    })
}

fn members(refs: &[ResourceRef]) -> Result<Vec<UserId>, ScimError> {
    refs.iter()
        .map(|r| {
            Uuid::parse_str(&r.value)
                .map(UserId::from_uuid)
                .map_err(|_| ScimError::invalid_value(format!("`{}` is not a user id of this organisation", r.value)))
        })
        .collect()
}

fn member_change(op: &MemberOp) -> Result<MemberChange, ScimError> {
    let ids = |values: &[String]| {
        values
            .iter()
            .map(|v| {
                Uuid::parse_str(v)
                    .map(UserId::from_uuid)
                    .map_err(|_| ScimError::invalid_value(format!("`{v}` is not a user id")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match op {
        MemberOp::Add(values) => MemberChange::Add(ids(values)?),
        MemberOp::Remove(values) => MemberChange::Remove(ids(values)?),
        MemberOp::RemoveAll => MemberChange::RemoveAll,
        MemberOp::Replace(values) => MemberChange::Replace(ids(values)?),
    })
}

type Answer = Result<HttpResponse, ScimError>;

async fn list_users(hub: &Hub, org: OrganizationId, base: &str, query: &str) -> Answer {
    let list = ListQuery::parse(ResourceType::User, query)?;
    let filter = list.filter.as_ref();
    let found = hub.scim_people(org, &lookup(filter)).await.map_err(|e| from_hub(&e))?;
    let matching: Vec<&ScimPerson> = found.iter().filter(|p| person_matches(filter, p)).collect();
    let page: Vec<serde_json::Value> =
        page_of(&matching, list.paging).into_iter().map(|p| person_json(base, p)).collect();
    Ok(scim(200, &list_response(&page, matching.len() as u64, list.paging)))
}

fn page_of<T: Copy>(items: &[T], paging: strata_sso::scim::Paging) -> Vec<T> {
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let count = usize::try_from(paging.count()).unwrap_or(usize::MAX);
    items.iter().skip(offset).take(count).copied().collect()
}

async fn list_groups(hub: &Hub, org: OrganizationId, base: &str, query: &str) -> Answer {
    let list = ListQuery::parse(ResourceType::Group, query)?;
    let filter = list.filter.as_ref();
    let found = hub.scim_groups(org, &lookup(filter)).await.map_err(|e| from_hub(&e))?;
    let matching: Vec<&ScimGroup> = found.iter().filter(|g| group_matches(filter, g)).collect();
    let page: Vec<serde_json::Value> =
        page_of(&matching, list.paging).into_iter().map(|g| group_json(base, g)).collect();
    Ok(scim(200, &list_response(&page, matching.len() as u64, list.paging)))
}

async fn create_user(hub: &Hub, org: OrganizationId, base: &str, body: &[u8]) -> Answer {
    let user = UserResource::parse(body)?;
    let change = ScimPersonChange {
        email: Some(user.email.clone()),
        display_name: Some(user.display_name),
        external_id: Some(user.external_id),
        active: Some(user.active),
    };
    let person = hub.scim_create_person(org, change).await.map_err(|e| from_hub(&e))?;
    Ok(scim(201, &person_json(base, &person)))
}

async fn replace_user(hub: &Hub, org: OrganizationId, base: &str, id: &str, body: &[u8]) -> Answer {
    let user = UserResource::parse(body)?;
    let change = ScimPersonChange {
        email: Some(user.email),
        display_name: Some(user.display_name),
        external_id: Some(user.external_id),
        active: Some(user.active),
    };
    let person = hub.scim_change_person(org, user_id(id)?, change).await.map_err(|e| from_hub(&e))?;
    Ok(scim(200, &person_json(base, &person)))
}

async fn patch_user(hub: &Hub, org: OrganizationId, base: &str, id: &str, body: &[u8]) -> Answer {
    let patch = UserPatch::parse(body)?;
    let change = ScimPersonChange {
        email: patch.email.or(patch.user_name),
        display_name: patch.display_name,
        external_id: patch.external_id,
        active: patch.active,
    };
    let person = hub.scim_change_person(org, user_id(id)?, change).await.map_err(|e| from_hub(&e))?;
    Ok(scim(200, &person_json(base, &person)))
}

fn team_id(id: &str) -> Result<Uuid, ScimError> {
    Uuid::parse_str(id).map_err(|_| ScimError::not_found("group"))
}

async fn create_group(hub: &Hub, org: OrganizationId, base: &str, body: &[u8]) -> Answer {
    let group = GroupResource::parse(body)?;
    let made = hub
        .scim_create_group(org, &group.display_name, group.external_id.as_deref(), members(&group.members)?)
        .await
        .map_err(|e| from_hub(&e))?;
    Ok(scim(201, &group_json(base, &made)))
}

async fn replace_group(hub: &Hub, org: OrganizationId, base: &str, id: &str, body: &[u8]) -> Answer {
    let group = GroupResource::parse(body)?;
    let changes = vec![MemberChange::Replace(members(&group.members)?)];
    let changed = hub
        .scim_change_group(org, team_id(id)?, Some(&group.display_name), Some(group.external_id), changes)
        .await
        .map_err(|e| from_hub(&e))?;
    Ok(scim(200, &group_json(base, &changed)))
}

async fn patch_group(hub: &Hub, org: OrganizationId, base: &str, id: &str, body: &[u8]) -> Answer {
    let patch = GroupPatch::parse(body)?;
    let changes = patch.members.iter().map(member_change).collect::<Result<Vec<_>, _>>()?;
    let changed = hub
        .scim_change_group(org, team_id(id)?, patch.display_name.as_deref(), patch.external_id, changes)
        .await
        .map_err(|e| from_hub(&e))?;
    Ok(scim(200, &group_json(base, &changed)))
}

/// `/scim/v2/{org}/{resource}[/{id}]`, every method.
pub(crate) async fn serve(
    request: HttpRequest,
    hub: web::Data<Hub>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (org_slug, tail) = path.into_inner();
    let answer = async {
        let org = authorise(&hub, &request, &org_slug).await?;
        let base = hub.scim_base_url(&org_slug);
        let query = request.query_string();
        let method = request.method().as_str();
        let parts: Vec<&str> = tail.trim_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("GET", ["ServiceProviderConfig"]) => Ok(scim(200, &service_provider_config(&base))),
            ("GET", ["Users"]) => list_users(&hub, org, &base, query).await,
            ("POST", ["Users"]) => create_user(&hub, org, &base, &body).await,
            ("GET", ["Users", id]) => {
                let person = hub.scim_person(org, user_id(id)?).await.map_err(|e| from_hub(&e))?;
                Ok(scim(200, &person_json(&base, &person)))
            }
            ("PUT", ["Users", id]) => replace_user(&hub, org, &base, id, &body).await,
            ("PATCH", ["Users", id]) => patch_user(&hub, org, &base, id, &body).await,
            ("DELETE", ["Users", id]) => {
                hub.scim_delete_person(org, user_id(id)?).await.map_err(|e| from_hub(&e))?;
                Ok(HttpResponse::NoContent().finish())
            }
            ("GET", ["Groups"]) => list_groups(&hub, org, &base, query).await,
            ("POST", ["Groups"]) => create_group(&hub, org, &base, &body).await,
            ("GET", ["Groups", id]) => {
                let group = hub.scim_group(org, team_id(id)?).await.map_err(|e| from_hub(&e))?;
                Ok(scim(200, &group_json(&base, &group)))
            }
            ("PUT", ["Groups", id]) => replace_group(&hub, org, &base, id, &body).await,
            ("PATCH", ["Groups", id]) => patch_group(&hub, org, &base, id, &body).await,
            ("DELETE", ["Groups", id]) => {
                hub.scim_delete_group(org, team_id(id)?).await.map_err(|e| from_hub(&e))?;
                Ok(HttpResponse::NoContent().finish())
            }
            _ => Err(ScimError::not_found(format!("{method} {tail}"))),
        }
    };
    answer.await.unwrap_or_else(|error| failed(&error))
}
