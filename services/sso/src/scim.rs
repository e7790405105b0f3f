//! SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) for Users and Groups,
//! as Okta and Microsoft Entra ID send them. There is no storage and no
//! HTTP here: the hub keeps people and teams, the API crate serves the
//! routes, and both call in here to read requests and to write responses.
//!
//! - [`UserResource`], [`GroupResource`]: what a POST or PUT carries, and
//!   what a GET answers (their `render`).
//! - [`ListQuery`], [`Filter`], [`Paging`]: `GET /Users?filter=…&startIndex=…&count=…`,
//!   and [`list_response`] for the answer.
//! - [`UserPatch`], [`GroupPatch`]: a PATCH turned into the changes it asks for.
//! - [`ScimError`]: every failure, with the status and `scimType` that SCIM
//!   clients act on.
//! - [`service_provider_config`]: what this server supports.
//!
//! Attribute names are case-insensitive everywhere (RFC 7643 §2.1): in
//! bodies, PATCH paths and filters. Attributes Strata does not keep (titles,
//! phone numbers, addresses, the enterprise extension Entra sends, custom
//! extension schemas) are accepted and ignored, because identity providers
//! send them in their default attribute mappings and refusing them would
//! stop provisioning; what Strata cannot honour is refused with a message
//! that names it.

use std::fmt;
use std::iter::Peekable;
use std::num::IntErrorKind;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Page size when a list request gives no `count`.
const DEFAULT_PAGE_SIZE: u64 = 100;
/// The largest page served, also announced as `filter.maxResults`.
const MAX_PAGE_SIZE: u64 = 200;

/// Core User attributes Strata does not keep. They are ignored rather than
/// refused: Entra's and Okta's default mappings send several of them.
const IGNORED_USER_ATTRIBUTES: [&str; 15] = [
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "password",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
];

/// The kinds of resources this server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// A person, served under `/Users`.
    User,
    /// A group of people (a Strata team), served under `/Groups`.
    Group,
}

impl ResourceType {
    fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            ResourceType::User => USER_SCHEMA,
            ResourceType::Group => GROUP_SCHEMA,
        }
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The `scimType` of an error (RFC 7644 §3.12), which clients read to tell
/// what was wrong with their request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter is malformed or uses what this server does not support.
    InvalidFilter,
    /// The body is not JSON or not the message it should be.
    InvalidSyntax,
    /// A PATCH path is malformed or names no supported attribute.
    InvalidPath,
    /// A PATCH `remove` has no path.
    NoTarget,
    /// A value is missing, empty or of the wrong type.
    InvalidValue,
    /// The request would change a read-only attribute.
    Mutability,
    /// The request would make a unique attribute (userName, a group's displayName) collide.
    Uniqueness,
}

impl ScimType {
    /// The keyword as it appears in the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::Mutability => "mutability",
            ScimType::Uniqueness => "uniqueness",
        }
    }
}

/// A SCIM error response: the HTTP status, the `scimType` for 400 and 409,
/// and a detail that tells the identity provider's administrator what to
/// change. Build one with the constructors; render it with [`ScimError::to_json`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    status: u16,
    scim_type: Option<ScimType>,
    detail: String,
}

impl ScimError {
    fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError { status: 400, scim_type: Some(scim_type), detail: detail.into() }
    }

    /// 400 `invalidFilter`: a list filter Strata cannot evaluate.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidSyntax`: a body that is not the JSON message expected.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// 400 `invalidPath`: a PATCH path that is malformed or names nothing Strata has.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`: a PATCH operation that says nothing about what it changes.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    /// 400 `invalidValue`: a missing, empty or mistyped value.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    /// 400 `mutability`: an attempt to change a read-only attribute.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    /// 409 `uniqueness`: e.g. a userName another person already has.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError { status: 409, scim_type: Some(ScimType::Uniqueness), detail: detail.into() }
    }

    /// 404: `what` (e.g. "User 2819c223") does not exist, or is not the caller's to see.
    pub fn not_found(what: impl fmt::Display) -> Self {
        ScimError { status: 404, scim_type: None, detail: format!("{what} not found") }
    }

    /// 401: no bearer token, or one that is not valid.
    pub fn unauthorized() -> Self {
        ScimError { status: 401, scim_type: None, detail: "a valid SCIM bearer token is required".into() }
    }

    /// 403: the token is valid but the request is outside what it may manage.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ScimError { status: 403, scim_type: None, detail: detail.into() }
    }

    /// 500 with a fixed detail, so that nothing internal reaches the
    /// identity provider; log the cause where this is built.
    pub fn internal() -> Self {
        ScimError { status: 500, scim_type: None, detail: "internal error; try again later".into() }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `scimType`, for 400 and 409 errors.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }

    /// What went wrong, for a person to read.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The error body (RFC 7644 §3.12); `status` is a string there.
    pub fn to_json(&self) -> Value {
        let body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        with_optional(body, "scimType", self.scim_type.map(|kind| kind.as_str().into()))
    }
}

// ---------------------------------------------------------------------------
// Reading JSON bodies
// ---------------------------------------------------------------------------

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ScimError::invalid_syntax("the body must be a JSON object")),
        Err(error) => Err(ScimError::invalid_syntax(format!("the body is not valid JSON: {error}"))),
    }
}

/// An attribute of `object` by its case-insensitive name; `null` counts as absent.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// A string that must have content (surrounding whitespace is not content).
fn required_text(value: &Value, attribute: &str) -> Result<String, ScimError> {
    match optional_text(value, attribute)? {
        Some(text) => Ok(text),
        None => Err(ScimError::invalid_value(format!("`{attribute}` cannot be empty"))),
    }
}

/// A string where empty means "none".
fn optional_text(value: &Value, attribute: &str) -> Result<Option<String>, ScimError> {
    match value {
        Value::String(text) if text.trim().is_empty() => Ok(None),
        Value::String(text) => Ok(Some(text.trim().to_owned())),
        Value::Null => Ok(None),
        other => Err(ScimError::invalid_value(format!("`{attribute}` must be a string, not {other}"))),
    }
}

fn required_string(object: &Map<String, Value>, name: &str) -> Result<String, ScimError> {
    match field(object, name) {
        Some(value) => required_text(value, name),
        None => Err(ScimError::invalid_value(format!("`{name}` is required"))),
    }
}

fn optional_string(object: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    Ok(field(object, name).map(|value| optional_text(value, name)).transpose()?.flatten())
}

/// A boolean, also as the strings Entra sends (`"True"`, `"False"`).
fn boolean(value: &Value, attribute: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::invalid_value(format!("`{attribute}` must be true or false, not {other}"))),
    }
}

fn as_object<'a>(value: &'a Value, attribute: &str) -> Result<&'a Map<String, Value>, ScimError> {
    value.as_object().ok_or_else(|| ScimError::invalid_value(format!("`{attribute}` must be an object, not {value}")))
}

/// The entries of a multi-valued complex attribute. A lone object counts
/// as a list of one, which some clients send for a single member.
fn entries<'a>(value: &'a Value, attribute: &str) -> Result<Vec<&'a Map<String, Value>>, ScimError> {
    match value {
        Value::Array(items) => items.iter().map(|item| as_object(item, attribute)).collect(),
        Value::Object(object) => Ok(vec![object]),
        other => Err(ScimError::invalid_value(format!("`{attribute}` must be a list of objects, not {other}"))),
    }
}

/// The primary email's address, else the first one's; `None` when the list has no address.
fn primary_email(value: &Value) -> Result<Option<String>, ScimError> {
    let mut first = None;
    for entry in entries(value, "emails")? {
        let Some(address) = optional_string(entry, "value")? else { continue };
        let primary = field(entry, "primary").map(|flag| boolean(flag, "emails.primary")).transpose()?;
        if primary == Some(true) {
            return Ok(Some(address));
        }
        first.get_or_insert(address);
    }
    Ok(first)
}

fn joined_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    match (given, family) {
        (Some(given), Some(family)) => Some(format!("{given} {family}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

/// A person as SCIM clients send and read them, reduced to what Strata keeps.
///
/// [`UserResource::parse`] reads a POST or PUT body; the hub builds one
/// from its record to answer with [`UserResource::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserResource {
    /// `userName`, never empty; Strata uses it as the person's email at sign-in.
    pub user_name: String,
    /// `displayName`, never empty (derived when the client sends none).
    pub display_name: String,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// The work email: the primary of `emails`, else the first, else `userName`.
    pub email: String,
    /// The identity provider's own id for the person.
    pub external_id: Option<String>,
    /// `active`; `false` is how Okta and Entra deprovision someone.
    pub active: bool,
}

impl UserResource {
    /// Reads a POST or PUT body. `userName` is required; `active` defaults
    /// to true; the display name is `displayName`, else `name.formatted`,
    /// else given and family name, else the part of `userName` before `@`.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let object = json_object(body)?;
        let user_name = required_string(&object, "userName")?;
        let name = field(&object, "name").map(|value| as_object(value, "name")).transpose()?;
        let name_part = |sub: &str| name.map(|name| optional_string(name, sub)).transpose().map(Option::flatten);
        let (given_name, family_name, formatted) =
            (name_part("givenName")?, name_part("familyName")?, name_part("formatted")?);
        let display_name = optional_string(&object, "displayName")?
            .or(formatted)
            .or_else(|| joined_name(given_name.as_deref(), family_name.as_deref()))
            .unwrap_or_else(|| local_part(&user_name).to_owned());
        let email =
            field(&object, "emails").map(primary_email).transpose()?.flatten().unwrap_or_else(|| user_name.clone());
        let active = field(&object, "active").map(|value| boolean(value, "active")).transpose()?.unwrap_or(true);
        let external_id = optional_string(&object, "externalId")?;
        Ok(UserResource { user_name, display_name, given_name, family_name, email, external_id, active })
    }

    /// The user as SCIM clients read it, with its `groups` (read-only,
    /// omitted when empty) and `meta`.
    pub fn render(&self, stored: &Stored<'_>, groups: &[ResourceRef]) -> Value {
        let user = json!({
            "schemas": [USER_SCHEMA],
            "id": stored.id,
            "userName": self.user_name,
            "name": self.name_json(),
            "displayName": self.display_name,
            // Strata keeps one address, so it is the primary work email.
            "emails": [{ "value": self.email, "type": "work", "primary": true }],
            "active": self.active,
            "meta": meta_json(ResourceType::User, stored),
        });
        let user = with_optional(user, "externalId", self.external_id.clone().map(Value::String));
        let groups = (!groups.is_empty()).then(|| references_json(stored.base, ResourceType::Group, groups));
        with_optional(user, "groups", groups)
    }

    fn name_json(&self) -> Value {
        let (given, family) = (self.given_name.as_deref(), self.family_name.as_deref());
        // Clients show `formatted` as the full name; without name parts the
        // display name is the best full name there is.
        let formatted = joined_name(given, family).unwrap_or_else(|| self.display_name.clone());
        let name = with_optional(json!({ "formatted": formatted }), "givenName", given.map(Value::from));
        with_optional(name, "familyName", family.map(Value::from))
    }
}

fn local_part(user_name: &str) -> &str {
    match user_name.split_once('@') {
        Some((local, _)) if !local.is_empty() => local,
        _ => user_name,
    }
}

/// A group (a Strata team) as SCIM clients send and read it.
///
/// [`GroupResource::parse`] reads a POST or PUT body; the hub builds one
/// from its record to answer with [`GroupResource::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResource {
    /// `displayName`, never empty.
    pub display_name: String,
    /// The identity provider's own id for the group.
    pub external_id: Option<String>,
    /// The members: `value` is a user's id.
    pub members: Vec<ResourceRef>,
}

impl GroupResource {
    /// Reads a POST or PUT body; `displayName` is required, `members` optional.
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let object = json_object(body)?;
        let display_name = required_string(&object, "displayName")?;
        let external_id = optional_string(&object, "externalId")?;
        let members = match field(&object, "members") {
            Some(value) => entries(value, "members")?.into_iter().map(member_reference).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(GroupResource { display_name, external_id, members })
    }

    /// The group as SCIM clients read it, members with their `$ref`.
    pub fn render(&self, stored: &Stored<'_>) -> Value {
        let group = json!({
            "schemas": [GROUP_SCHEMA],
            "id": stored.id,
            "displayName": self.display_name,
            "members": references_json(stored.base, ResourceType::User, &self.members),
            "meta": meta_json(ResourceType::Group, stored),
        });
        with_optional(group, "externalId", self.external_id.clone().map(Value::String))
    }
}

fn member_reference(entry: &Map<String, Value>) -> Result<ResourceRef, ScimError> {
    let value = member_id(entry)?;
    Ok(ResourceRef { value, display: optional_string(entry, "display")? })
}

fn member_id(entry: &Map<String, Value>) -> Result<String, ScimError> {
    match field(entry, "value") {
        Some(value) => required_text(value, "members.value"),
        None => Err(ScimError::invalid_value("each member needs a `value`: the id of a user")),
    }
}

/// A reference to another resource: a member of a group (`value` is the
/// user's id) or a group of a user (`value` is the group's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// The referenced resource's id.
    pub value: String,
    /// Its name, for people reading the response.
    pub display: Option<String>,
}

/// What the store knows about a resource besides its attributes: what `id`
/// and `meta` are rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<'a> {
    /// The organisation's SCIM base URL, e.g. `https://strata.example/scim/v2/acme`.
    pub base: &'a str,
    /// The resource's id, given by Strata.
    pub id: &'a str,
    /// `meta.created`.
    pub created: DateTime<Utc>,
    /// `meta.lastModified`.
    pub last_modified: DateTime<Utc>,
    /// `meta.version`, when the store has one; Strata announces no ETag support.
    pub version: Option<&'a str>,
}

fn meta_json(resource: ResourceType, stored: &Stored<'_>) -> Value {
    let meta = json!({
        "resourceType": resource.name(),
        "created": timestamp(stored.created),
        "lastModified": timestamp(stored.last_modified),
        "location": location(stored.base, resource, stored.id),
    });
    with_optional(meta, "version", stored.version.map(Value::from))
}

fn references_json(base: &str, resource: ResourceType, references: &[ResourceRef]) -> Value {
    let rendered = references.iter().map(|reference| {
        let item = json!({ "value": reference.value, "$ref": location(base, resource, &reference.value) });
        with_optional(item, "display", reference.display.clone().map(Value::String))
    });
    Value::Array(rendered.collect())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn location(base: &str, resource: ResourceType, id: &str) -> String {
    format!("{}/{}/{}", base.trim_end_matches('/'), resource.endpoint(), encode_segment(id))
}

/// Percent-encodes all but RFC 3986's unreserved characters, so that no id
/// can change the shape of a location URL.
fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `value` with `key` set when there is something to set; `value` is always
/// an object here, built by `json!` in this module.
fn with_optional(mut value: Value, key: &str, item: Option<Value>) -> Value {
    if let (Some(object), Some(item)) = (value.as_object_mut(), item) {
        object.insert(key.to_owned(), item);
    }
    value
}

// ---------------------------------------------------------------------------
// Attribute paths, shared by filters and PATCH paths (RFC 7644 §3.4.2.2, §3.10)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    Paren,
}

type Tokens = Peekable<std::vec::IntoIter<Token>>;

/// Splits a filter or a path into words, quoted strings and brackets. Errors
/// are plain messages: the caller knows whether they are about a filter or a path.
fn tokenize(input: &str) -> Result<Tokens, String> {
    let mut tokens = Vec::new();
    let mut rest = input.trim_start();
    while let Some(first) = rest.chars().next() {
        let (token, length) = match first {
            '[' => (Token::Open, 1),
            ']' => (Token::Close, 1),
            '(' | ')' => (Token::Paren, 1),
            '"' => string_literal(rest)?,
            _ => {
                let length = rest.find(|c: char| c.is_whitespace() || "[]()\"".contains(c)).unwrap_or(rest.len());
                (Token::Word(rest[..length].to_owned()), length)
            }
        };
        tokens.push(token);
        rest = rest[length..].trim_start();
    }
    Ok(tokens.into_iter().peekable())
}

/// A quoted string at the start of `input`, with JSON's escapes (RFC 7644
/// §3.4.2.2 says filter strings are JSON strings).
fn string_literal(input: &str) -> Result<(Token, usize), String> {
    let mut escaped = false;
    for (at, character) in input.char_indices().skip(1) {
        match character {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                let literal = &input[..=at];
                let text = serde_json::from_str(literal).map_err(|_| format!("{literal} is not a valid string"))?;
                return Ok((Token::Str(text), at + 1));
            }
            _ => {}
        }
    }
    Err(format!("the string {input} has no closing quote"))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) if word.eq_ignore_ascii_case("or") => {
            "`or` is not supported; only `and` combines conditions".into()
        }
        Token::Word(word) if word.eq_ignore_ascii_case("not") => "`not` is not supported".into(),
        Token::Paren => "parentheses are not supported".into(),
        Token::Word(word) => format!("unexpected `{word}`"),
        Token::Str(text) => format!("unexpected \"{text}\""),
        Token::Open => "unexpected `[`".into(),
        Token::Close => "unexpected `]`".into(),
    }
}

fn is_keyword(token: Option<&Token>, keyword: &str) -> bool {
    matches!(token, Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
}

/// A comparison value: a quoted string, or a bare word (`true`, a number).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Str(String),
    Bare(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(text) => write!(f, "{}", Value::from(text.as_str())),
            Literal::Bare(word) => f.write_str(word),
        }
    }
}

/// `attribute eq literal` inside a value filter's brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    attribute: String,
    value: Literal,
}

/// `[schema:]attribute[.sub]` or `attribute[conditions][.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttrPath {
    /// The URN before the attribute, when the client wrote one.
    schema: Option<String>,
    attribute: String,
    sub: Option<String>,
    conditions: Vec<Condition>,
    /// The path as written, for messages.
    text: String,
}

impl AttrPath {
    fn sub_is(&self, name: &str) -> bool {
        self.sub.as_deref().is_some_and(|sub| sub.eq_ignore_ascii_case(name))
    }

    /// Whether the path is in `schema`'s namespace (no URN means the core schema).
    fn is_in(&self, schema: &str) -> bool {
        self.schema.as_deref().is_none_or(|written| written.eq_ignore_ascii_case(schema))
    }

    fn is_plain(&self) -> bool {
        self.sub.is_none() && self.conditions.is_empty()
    }
}

/// A URN-qualified name splits at its last colon: the schema's own URN has
/// colons (and a dot, in `2.0`) of its own.
fn split_schema(word: &str) -> (Option<String>, &str) {
    let is_urn = word.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:"));
    match word.rfind(':') {
        Some(at) if is_urn => (Some(word[..at].to_owned()), &word[at + 1..]),
        _ => (None, word),
    }
}

fn parse_attr_path(tokens: &mut Tokens) -> Result<AttrPath, String> {
    let word = match tokens.next() {
        Some(Token::Word(word)) if !word.starts_with('.') => word,
        Some(other) => return Err(describe(&other)),
        None => return Err("an attribute is missing".into()),
    };
    let (schema, name) = split_schema(&word);
    let (attribute, mut sub) = match name.split_once('.') {
        Some((attribute, sub)) => (attribute.to_owned(), Some(sub.to_owned())),
        None => (name.to_owned(), None),
    };
    let mut conditions = Vec::new();
    let mut text = word.clone();
    if tokens.next_if_eq(&Token::Open).is_some() {
        if sub.is_some() {
            return Err(format!("`{word}[`: a sub-attribute goes after the brackets"));
        }
        conditions = parse_conditions(tokens)?;
        let listed: Vec<String> = conditions.iter().map(|c| format!("{} eq {}", c.attribute, c.value)).collect();
        text = format!("{word}[{}]", listed.join(" and "));
        if let Some(Token::Word(next)) = tokens.peek()
            && let Some(after) = next.strip_prefix('.')
        {
            sub = Some(after.to_owned());
            text = format!("{text}.{after}");
            tokens.next();
        }
    }
    Ok(AttrPath { schema, attribute, sub, conditions, text })
}

fn parse_conditions(tokens: &mut Tokens) -> Result<Vec<Condition>, String> {
    let mut conditions = Vec::new();
    loop {
        let Some(Token::Word(attribute)) = tokens.next() else {
            return Err("expected an attribute inside `[ ]`".into());
        };
        expect_eq(tokens, &attribute)?;
        let value = parse_literal(tokens, &attribute)?;
        conditions.push(Condition { attribute, value });
        match tokens.next() {
            Some(Token::Close) => return Ok(conditions),
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("and") => {}
            Some(other) => return Err(describe(&other)),
            None => return Err("a `[` has no closing `]`".into()),
        }
    }
}

fn expect_eq(tokens: &mut Tokens, attribute: &str) -> Result<(), String> {
    match tokens.next() {
        Some(Token::Word(operator)) if operator.eq_ignore_ascii_case("eq") => Ok(()),
        Some(Token::Word(operator)) => Err(format!("the `{operator}` operator is not supported; only `eq` is")),
        _ => Err(format!("`{attribute}` must be followed by `eq` and a value")),
    }
}

fn parse_literal(tokens: &mut Tokens, attribute: &str) -> Result<Literal, String> {
    match tokens.next() {
        Some(Token::Str(text)) => Ok(Literal::Str(text)),
        Some(Token::Word(word)) if !word.eq_ignore_ascii_case("and") => Ok(Literal::Bare(word)),
        _ => Err(format!("`{attribute} eq` needs a value")),
    }
}

/// A PATCH `path` (or a key of a PATCH value object, which Entra writes as a path).
fn parse_path(text: &str) -> Result<AttrPath, ScimError> {
    let invalid = |why: String| ScimError::invalid_path(format!("the path `{text}` is not valid: {why}"));
    let mut tokens = tokenize(text).map_err(invalid)?;
    let mut path = parse_attr_path(&mut tokens).map_err(invalid)?;
    if let Some(extra) = tokens.next() {
        return Err(invalid(describe(&extra)));
    }
    path.text = text.trim().to_owned();
    Ok(path)
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

/// A list request's `filter`: equality tests, joined by `and`.
///
/// Supported for Users: `userName`, `externalId`, `emails.value` (also as
/// `emails[value eq "…"]` and Entra's `emails[type eq "work"].value eq "…"`)
/// and `id`; for Groups: `displayName`, `externalId`, `members.value` (also
/// `members[value eq "…"]`) and `id`. Anything else is `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `attribute eq "value"`; compare as [`FilterAttribute::matches`] says.
    Eq {
        /// What is compared.
        attribute: FilterAttribute,
        /// The value compared with, as the client wrote it.
        value: String,
    },
    /// All of two or more `Eq` filters (the parser flattens, so no `And` holds an `And`).
    And(Vec<Filter>),
}

/// What a [`Filter`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAttribute {
    /// The resource's id, given by Strata.
    Id,
    /// A user's `userName`.
    UserName,
    /// The identity provider's id for the resource.
    ExternalId,
    /// A user's (work) email.
    Email,
    /// A group's `displayName`.
    DisplayName,
    /// A group has the user with this id as a member.
    Member,
}

impl FilterAttribute {
    /// Whether values compare case-sensitively (RFC 7643's `caseExact`):
    /// ids and `externalId` do; `userName`, emails and `displayName` do not.
    pub fn case_exact(self) -> bool {
        match self {
            FilterAttribute::Id | FilterAttribute::ExternalId | FilterAttribute::Member => true,
            FilterAttribute::UserName | FilterAttribute::Email | FilterAttribute::DisplayName => false,
        }
    }

    /// Whether a stored value equals the filter's value for this attribute.
    pub fn matches(self, filter_value: &str, stored: &str) -> bool {
        if self.case_exact() { filter_value == stored } else { filter_value.to_lowercase() == stored.to_lowercase() }
    }
}

impl Filter {
    /// Parses the `filter` of a list request on `resource`'s endpoint.
    pub fn parse(resource: ResourceType, input: &str) -> Result<Filter, ScimError> {
        let invalid = |why: String| ScimError::invalid_filter(format!("the filter `{input}` is not supported: {why}"));
        let mut tokens = tokenize(input).map_err(invalid)?;
        let mut terms = Vec::new();
        loop {
            terms.extend(parse_term(resource, &mut tokens).map_err(invalid)?);
            match tokens.next() {
                None => return Ok(Filter::all(terms)),
                Some(Token::Word(word)) if word.eq_ignore_ascii_case("and") => {}
                Some(other) => return Err(invalid(describe(&other))),
            }
        }
    }

    /// Every equality test of the filter; all must hold.
    pub fn conditions(&self) -> Vec<(FilterAttribute, &str)> {
        match self {
            Filter::Eq { attribute, value } => vec![(*attribute, value.as_str())],
            Filter::And(filters) => filters.iter().flat_map(Filter::conditions).collect(),
        }
    }

    /// `terms` is never empty: every term yields at least one test or fails.
    fn all(mut terms: Vec<Filter>) -> Filter {
        if terms.len() == 1
            && let Some(only) = terms.pop()
        {
            return only;
        }
        Filter::And(terms)
    }
}

/// One condition between `and`s; `emails[type eq "work" and value eq "x"]`
/// is one condition that yields one test per compared value.
fn parse_term(resource: ResourceType, tokens: &mut Tokens) -> Result<Vec<Filter>, String> {
    match tokens.peek() {
        None => return Err("a condition is missing".into()),
        Some(token @ (Token::Paren | Token::Open | Token::Close | Token::Str(_))) => return Err(describe(token)),
        Some(token) if is_keyword(Some(token), "not") => return Err(describe(token)),
        Some(_) => {}
    }
    let path = parse_attr_path(tokens)?;
    let compared = match tokens.peek() {
        Some(Token::Word(word)) if !word.eq_ignore_ascii_case("and") && !word.eq_ignore_ascii_case("or") => {
            expect_eq(tokens, &path.text)?;
            Some(parse_literal(tokens, &path.text)?)
        }
        _ => None,
    };
    if !path.is_in(resource.schema()) {
        return Err(format!("`{}` is not in the {} schema", path.text, resource.name()));
    }
    match resource {
        ResourceType::User => user_terms(&path, compared),
        ResourceType::Group => group_terms(&path, compared),
    }
}

fn user_terms(path: &AttrPath, compared: Option<Literal>) -> Result<Vec<Filter>, String> {
    match path.attribute.to_ascii_lowercase().as_str() {
        "id" => plain_term(path, FilterAttribute::Id, compared),
        "username" => plain_term(path, FilterAttribute::UserName, compared),
        "externalid" => plain_term(path, FilterAttribute::ExternalId, compared),
        "emails" => multi_valued_terms(path, FilterAttribute::Email, compared),
        _ => Err(format!(
            "Users cannot be filtered by `{}`; use userName, externalId, emails.value, emails[type eq \"work\"].value or id",
            path.text
        )),
    }
}

fn group_terms(path: &AttrPath, compared: Option<Literal>) -> Result<Vec<Filter>, String> {
    match path.attribute.to_ascii_lowercase().as_str() {
        "id" => plain_term(path, FilterAttribute::Id, compared),
        "displayname" => plain_term(path, FilterAttribute::DisplayName, compared),
        "externalid" => plain_term(path, FilterAttribute::ExternalId, compared),
        "members" => multi_valued_terms(path, FilterAttribute::Member, compared),
        _ => Err(format!(
            "Groups cannot be filtered by `{}`; use displayName, externalId, members.value or id",
            path.text
        )),
    }
}

fn plain_term(path: &AttrPath, attribute: FilterAttribute, compared: Option<Literal>) -> Result<Vec<Filter>, String> {
    if !path.is_plain() {
        return Err(format!("`{}` has no sub-attributes", path.text));
    }
    match quoted(path, compared)? {
        Some(value) => Ok(vec![Filter::Eq { attribute, value }]),
        None => Err(format!("`{}` must be followed by `eq` and a value", path.text)),
    }
}

/// The compared value, checked only once the attribute is known to be
/// supported, so that the message names the real problem.
fn quoted(path: &AttrPath, compared: Option<Literal>) -> Result<Option<String>, String> {
    match compared {
        Some(Literal::Bare(word)) => Err(format!("compare `{}` with a quoted string, not `{word}`", path.text)),
        Some(Literal::Str(text)) => Ok(Some(text)),
        None => Ok(None),
    }
}

/// `emails` and `members`: `x.value eq "v"`, `x eq "v"`, `x[value eq "v"]`,
/// and for emails a `type eq "work"` selector (Strata keeps only the work email).
fn multi_valued_terms(
    path: &AttrPath,
    attribute: FilterAttribute,
    compared: Option<Literal>,
) -> Result<Vec<Filter>, String> {
    if path.sub.is_some() && !path.sub_is("value") {
        return Err(format!("`{}` is not supported; compare `{}.value`", path.text, path.attribute));
    }
    let mut values = Vec::new();
    for condition in &path.conditions {
        match (condition.attribute.to_ascii_lowercase().as_str(), &condition.value) {
            ("value", Literal::Str(value)) => values.push(value.clone()),
            ("type", Literal::Str(kind))
                if attribute == FilterAttribute::Email && kind.eq_ignore_ascii_case("work") => {}
            _ => {
                return Err(format!(
                    "`{} eq {}` inside `{}[ ]` is not supported; Strata keeps one work email and matches members by `value`",
                    condition.attribute, condition.value, path.attribute
                ));
            }
        }
    }
    values.extend(quoted(path, compared)?);
    if values.is_empty() {
        return Err(format!("`{}` compares nothing; add `eq` and a value", path.text));
    }
    Ok(values.into_iter().map(|value| Filter::Eq { attribute, value }).collect())
}

// ---------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------

/// Which page of a list was asked for (RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    start_index: u64,
    count: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { start_index: 1, count: DEFAULT_PAGE_SIZE }
    }
}

impl Paging {
    /// A page from numbers as a client sent them: `start_index` below 1
    /// means 1, a negative `count` means 0, and `count` is capped at 200.
    pub fn new(start_index: i64, count: i64) -> Self {
        let start_index = u64::try_from(start_index).unwrap_or(0).max(1);
        let count = u64::try_from(count).unwrap_or(0).min(MAX_PAGE_SIZE);
        Paging { start_index, count }
    }

    /// The 1-based index of the first result.
    pub fn start_index(self) -> u64 {
        self.start_index
    }

    /// How many results at most, between 0 and 200.
    pub fn count(self) -> u64 {
        self.count
    }

    /// How many results to skip: `start_index - 1`.
    pub fn offset(self) -> u64 {
        self.start_index - 1
    }
}

/// What a list request (`GET /Users`, `GET /Groups`) asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The `filter`; `None` lists everything.
    pub filter: Option<Filter>,
    /// `startIndex` and `count`.
    pub paging: Paging,
}

impl ListQuery {
    /// Reads the raw (still percent-encoded) query string of a list request
    /// on `resource`'s endpoint. Other parameters (`attributes`,
    /// `excludedAttributes`, `sortBy`) are ignored: answering with more
    /// attributes than asked for is allowed, and sorting is announced as unsupported.
    pub fn parse(resource: ResourceType, query: &str) -> Result<Self, ScimError> {
        let (mut filter, mut start_index, mut count) = (None, 1, DEFAULT_PAGE_SIZE as i64);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.to_ascii_lowercase().as_str() {
                "filter" if value.trim().is_empty() => {}
                "filter" => filter = Some(Filter::parse(resource, &value)?),
                "startindex" => start_index = query_integer("startIndex", &value)?,
                "count" => count = query_integer("count", &value)?,
                _ => {}
            }
        }
        Ok(ListQuery { filter, paging: Paging::new(start_index, count) })
    }
}

/// An integer query parameter; ones too large for `i64` saturate, since
/// paging clamps them anyway.
fn query_integer(name: &str, text: &str) -> Result<i64, ScimError> {
    match text.trim().parse::<i64>() {
        Ok(number) => Ok(number),
        Err(error) if *error.kind() == IntErrorKind::PosOverflow => Ok(i64::MAX),
        Err(error) if *error.kind() == IntErrorKind::NegOverflow => Ok(i64::MIN),
        Err(_) => Err(ScimError::invalid_value(format!("`{name}` must be an integer, not `{text}`"))),
    }
}

/// A list response: `resources` are the rendered resources of this page,
/// `total_results` counts all that match the filter.
pub fn list_response(resources: &[Value], total_results: u64, paging: Paging) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": paging.start_index(),
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

// ---------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug)]
struct PatchOperation {
    kind: OpKind,
    path: Option<AttrPath>,
    value: Option<Value>,
}

fn parse_operations(body: &[u8]) -> Result<Vec<PatchOperation>, ScimError> {
    let object = json_object(body)?;
    check_patch_schema(&object)?;
    let Some(Value::Array(operations)) = field(&object, "Operations") else {
        return Err(ScimError::invalid_syntax("a PATCH body needs an `Operations` array"));
    };
    operations.iter().map(parse_operation).collect()
}

/// The PatchOp schema is checked when `schemas` is there and tolerated when
/// it is missing: what a client means is clear from `Operations`.
fn check_patch_schema(object: &Map<String, Value>) -> Result<(), ScimError> {
    let names_patch = |schema: &Value| schema.as_str().is_some_and(|name| name.eq_ignore_ascii_case(PATCH_OP_SCHEMA));
    match field(object, "schemas") {
        None => Ok(()),
        Some(Value::Array(schemas)) if schemas.iter().any(names_patch) => Ok(()),
        Some(_) => Err(ScimError::invalid_syntax(format!("a PATCH body's `schemas` must be [\"{PATCH_OP_SCHEMA}\"]"))),
    }
}

fn parse_operation(operation: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(operation) = operation else {
        return Err(ScimError::invalid_syntax("each of `Operations` must be an object"));
    };
    let kind = match field(operation, "op") {
        Some(Value::String(name)) => op_kind(name)?,
        _ => return Err(ScimError::invalid_syntax("each operation needs an `op`: add, replace or remove")),
    };
    let path = match field(operation, "path") {
        None => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(parse_path(text)?),
        Some(other) => return Err(ScimError::invalid_path(format!("`path` must be a string, not {other}"))),
    };
    Ok(PatchOperation { kind, path, value: field(operation, "value").cloned() })
}

/// Entra writes `Add`, `Replace`, `Remove`; RFC 7644 writes them in lower case.
fn op_kind(name: &str) -> Result<OpKind, ScimError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "add" => Ok(OpKind::Add),
        "replace" => Ok(OpKind::Replace),
        "remove" => Ok(OpKind::Remove),
        _ => Err(ScimError::invalid_syntax(format!("`{name}` is not a PATCH op; use add, replace or remove"))),
    }
}

fn required_value(value: Option<Value>, path: &AttrPath) -> Result<Value, ScimError> {
    value.ok_or_else(|| ScimError::invalid_value(format!("the operation on `{}` needs a `value`", path.text)))
}

/// The attributes of an operation without a path: each key is a path
/// (Entra writes keys such as `name.givenName`). The keys Okta echoes back
/// (`id`, `schemas`, `meta`) change nothing and are skipped.
fn value_entries(value: Option<Value>) -> Result<Vec<(AttrPath, Value)>, ScimError> {
    let Some(Value::Object(object)) = value else {
        return Err(ScimError::invalid_value("an operation without a `path` needs an object `value` of attributes"));
    };
    let envelope = |key: &str| ["id", "schemas", "meta"].iter().any(|name| key.eq_ignore_ascii_case(name));
    let mut items = Vec::new();
    for (key, value) in object.into_iter().filter(|(key, _)| !envelope(key)) {
        items.push((parse_path(&key)?, value));
    }
    Ok(items)
}

fn remove_without_path() -> ScimError {
    ScimError::no_target("a `remove` operation needs a `path` naming what to remove")
}

/// The changes a PATCH on a user asks for; `None` leaves an attribute alone.
///
/// For the optional attributes, `Some(None)` removes the value. Attributes
/// Strata does not keep are ignored; when several operations set one
/// attribute, the last wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// `active`: `Some(false)` deprovisions the person.
    pub active: Option<bool>,
    /// `userName`, never empty.
    pub user_name: Option<String>,
    /// `displayName`, never empty.
    pub display_name: Option<String>,
    /// `name.givenName`.
    pub given_name: Option<Option<String>>,
    /// `name.familyName`.
    pub family_name: Option<Option<String>>,
    /// The work email, never empty.
    pub email: Option<String>,
    /// `externalId`.
    pub external_id: Option<Option<String>>,
}

/// What a PATCH path on a user designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserTarget {
    Active,
    UserName,
    DisplayName,
    Name,
    GivenName,
    FamilyName,
    ExternalId,
    /// The whole `emails` list.
    Emails,
    /// The work email's address.
    Email,
    Ignored,
}

impl UserPatch {
    /// Reads a PATCH body (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let mut patch = UserPatch::default();
        for operation in parse_operations(body)? {
            patch.apply(operation)?;
        }
        Ok(patch)
    }

    /// `add` and `replace` mean the same for single-valued attributes, and
    /// Strata's one email makes `emails` single-valued too.
    fn apply(&mut self, operation: PatchOperation) -> Result<(), ScimError> {
        match (operation.kind, operation.path) {
            (OpKind::Remove, None) => Err(remove_without_path()),
            (OpKind::Remove, Some(path)) => self.remove(&path),
            (_, Some(path)) => self.set(&path, &required_value(operation.value, &path)?),
            (_, None) => {
                value_entries(operation.value)?.into_iter().try_for_each(|(path, value)| self.set(&path, &value))
            }
        }
    }

    fn set(&mut self, path: &AttrPath, value: &Value) -> Result<(), ScimError> {
        let attribute = path.text.as_str();
        match user_target(path)? {
            UserTarget::Active => self.active = Some(boolean(value, attribute)?),
            UserTarget::UserName => self.user_name = Some(required_text(value, attribute)?),
            UserTarget::DisplayName => self.display_name = Some(required_text(value, attribute)?),
            UserTarget::Name => self.set_name(value)?,
            UserTarget::GivenName => self.given_name = Some(optional_text(value, attribute)?),
            UserTarget::FamilyName => self.family_name = Some(optional_text(value, attribute)?),
            UserTarget::ExternalId => self.external_id = Some(optional_text(value, attribute)?),
            UserTarget::Emails => self.email = Some(email_of_list(value)?),
            UserTarget::Email => self.email = Some(required_text(value, attribute)?),
            UserTarget::Ignored => {}
        }
        Ok(())
    }

    /// `name` as an object: only the parts it names change (RFC 7644 §3.5.2.3).
    fn set_name(&mut self, value: &Value) -> Result<(), ScimError> {
        let name = as_object(value, "name")?;
        if let Some(given) = field(name, "givenName") {
            self.given_name = Some(optional_text(given, "name.givenName")?);
        }
        if let Some(family) = field(name, "familyName") {
            self.family_name = Some(optional_text(family, "name.familyName")?);
        }
        Ok(())
    }

    fn remove(&mut self, path: &AttrPath) -> Result<(), ScimError> {
        match user_target(path)? {
            UserTarget::GivenName => self.given_name = Some(None),
            UserTarget::FamilyName => self.family_name = Some(None),
            UserTarget::Name => (self.given_name, self.family_name) = (Some(None), Some(None)),
            UserTarget::ExternalId => self.external_id = Some(None),
            UserTarget::Ignored => {}
            UserTarget::Active
            | UserTarget::UserName
            | UserTarget::DisplayName
            | UserTarget::Emails
            | UserTarget::Email => {
                return Err(ScimError::invalid_value(format!(
                    "`{}` cannot be removed: Strata needs it for every person; replace it instead",
                    path.text
                )));
            }
        }
        Ok(())
    }
}

fn email_of_list(value: &Value) -> Result<String, ScimError> {
    primary_email(value)?.ok_or_else(|| {
        ScimError::invalid_value("`emails` has no address: Strata keeps one email per person, so replace it")
    })
}

fn user_target(path: &AttrPath) -> Result<UserTarget, ScimError> {
    // Extension schemas (Entra's enterprise User, Okta's custom ones) hold
    // nothing Strata keeps.
    if !path.is_in(USER_SCHEMA) {
        return Ok(UserTarget::Ignored);
    }
    let attribute = path.attribute.to_ascii_lowercase();
    let target = match attribute.as_str() {
        "name" => return name_target(path),
        "emails" => return email_target(path),
        "active" => UserTarget::Active,
        "username" => UserTarget::UserName,
        "displayname" => UserTarget::DisplayName,
        "externalid" => UserTarget::ExternalId,
        "id" | "meta" | "groups" | "schemas" => {
            return Err(ScimError::mutability(format!("`{}` is read-only", path.text)));
        }
        ignored if IGNORED_USER_ATTRIBUTES.contains(&ignored) => return Ok(UserTarget::Ignored),
        _ => return Err(ScimError::invalid_path(format!("`{}` is not an attribute of a User", path.text))),
    };
    if !path.is_plain() {
        return Err(ScimError::invalid_path(format!("`{}`: `{}` has no sub-attributes", path.text, path.attribute)));
    }
    Ok(target)
}

fn name_target(path: &AttrPath) -> Result<UserTarget, ScimError> {
    if !path.conditions.is_empty() {
        return Err(ScimError::invalid_path(format!("`{}`: `name` is not multi-valued", path.text)));
    }
    let Some(sub) = path.sub.as_deref() else { return Ok(UserTarget::Name) };
    match sub.to_ascii_lowercase().as_str() {
        "givenname" => Ok(UserTarget::GivenName),
        "familyname" => Ok(UserTarget::FamilyName),
        // Strata keeps a display name, not a formatted one.
        "formatted" | "middlename" | "honorificprefix" | "honorificsuffix" => Ok(UserTarget::Ignored),
        _ => Err(ScimError::invalid_path(format!("`{}` is not an attribute of a User", path.text))),
    }
}

/// `emails`, `emails.value`, `emails[type eq "work"].value`,
/// `emails[primary eq true].value`. Emails of other types are ignored
/// because Strata keeps the work email only.
fn email_target(path: &AttrPath) -> Result<UserTarget, ScimError> {
    for condition in &path.conditions {
        match (condition.attribute.to_ascii_lowercase().as_str(), &condition.value) {
            ("type", Literal::Str(kind)) if kind.eq_ignore_ascii_case("work") => {}
            ("type", Literal::Str(_)) => return Ok(UserTarget::Ignored),
            ("primary", Literal::Bare(flag)) if flag.eq_ignore_ascii_case("true") => {}
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "`{}`: select the email with `type eq \"work\"` or `primary eq true`",
                    path.text
                )));
            }
        }
    }
    match path.sub.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None if path.conditions.is_empty() => Ok(UserTarget::Emails),
        Some("value") => Ok(UserTarget::Email),
        Some("type" | "primary" | "display") => Ok(UserTarget::Ignored),
        None => Err(ScimError::invalid_path(format!("`{}`: name the address, e.g. `{}.value`", path.text, path.text))),
        Some(_) => Err(ScimError::invalid_path(format!("`{}` is not an attribute of a User", path.text))),
    }
}

/// One change to a group's members (ids of users), in the order the PATCH
/// gave them: apply them one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these users; adding a member again changes nothing.
    Add(Vec<String>),
    /// Remove these users; removing a non-member changes nothing.
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Make exactly these users the members.
    Replace(Vec<String>),
}

/// The changes a PATCH on a group asks for; `None` and an empty `members`
/// leave things alone. `external_id: Some(None)` removes the external id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatch {
    /// `displayName`, never empty (a rename).
    pub display_name: Option<String>,
    /// `externalId`.
    pub external_id: Option<Option<String>>,
    /// Member changes, in order.
    pub members: Vec<MemberOp>,
}

/// What a PATCH path on a group designates.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GroupTarget {
    DisplayName,
    ExternalId,
    Members,
    /// `members[value eq "<id>"]`.
    Member(String),
    Ignored,
}

impl GroupPatch {
    /// Reads a PATCH body (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
    pub fn parse(body: &[u8]) -> Result<Self, ScimError> {
        let mut patch = GroupPatch::default();
        for operation in parse_operations(body)? {
            patch.apply(operation)?;
        }
        Ok(patch)
    }

    fn apply(&mut self, operation: PatchOperation) -> Result<(), ScimError> {
        let kind = operation.kind;
        match (kind, operation.path) {
            (OpKind::Remove, None) => Err(remove_without_path()),
            (OpKind::Remove, Some(path)) => self.remove(&path, operation.value.as_ref()),
            (_, Some(path)) => self.set(kind, &path, &required_value(operation.value, &path)?),
            (_, None) => {
                value_entries(operation.value)?.into_iter().try_for_each(|(path, value)| self.set(kind, &path, &value))
            }
        }
    }

    fn set(&mut self, kind: OpKind, path: &AttrPath, value: &Value) -> Result<(), ScimError> {
        match group_target(path)? {
            GroupTarget::DisplayName => self.display_name = Some(required_text(value, &path.text)?),
            GroupTarget::ExternalId => self.external_id = Some(optional_text(value, &path.text)?),
            GroupTarget::Members => {
                let ids = member_ids(value)?;
                match kind {
                    OpKind::Replace => self.members.push(MemberOp::Replace(ids)),
                    _ if ids.is_empty() => {}
                    _ => self.members.push(MemberOp::Add(ids)),
                }
            }
            GroupTarget::Member(_) => {
                return Err(ScimError::invalid_path(format!(
                    "`{}` names one member, which can only be removed; add members with the path `members`",
                    path.text
                )));
            }
            GroupTarget::Ignored => {}
        }
        Ok(())
    }

    /// Entra removes members with the path `members` and a value list;
    /// Okta names one member in the path; no value removes everyone.
    fn remove(&mut self, path: &AttrPath, value: Option<&Value>) -> Result<(), ScimError> {
        match (group_target(path)?, value) {
            (GroupTarget::Members, None) => self.members.push(MemberOp::RemoveAll),
            (GroupTarget::Members, Some(value)) => {
                let ids = member_ids(value)?;
                if !ids.is_empty() {
                    self.members.push(MemberOp::Remove(ids));
                }
            }
            (GroupTarget::Member(id), _) => self.members.push(MemberOp::Remove(vec![id])),
            (GroupTarget::ExternalId, _) => self.external_id = Some(None),
            (GroupTarget::Ignored, _) => {}
            (GroupTarget::DisplayName, _) => {
                return Err(ScimError::invalid_value(
                    "`displayName` cannot be removed: a group needs a name; replace it instead",
                ));
            }
        }
        Ok(())
    }
}

fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    entries(value, "members")?.into_iter().map(member_id).collect()
}

fn group_target(path: &AttrPath) -> Result<GroupTarget, ScimError> {
    if !path.is_in(GROUP_SCHEMA) {
        return Ok(GroupTarget::Ignored);
    }
    let target = match path.attribute.to_ascii_lowercase().as_str() {
        "members" => return members_target(path),
        "displayname" => GroupTarget::DisplayName,
        "externalid" => GroupTarget::ExternalId,
        "id" | "meta" | "schemas" => return Err(ScimError::mutability(format!("`{}` is read-only", path.text))),
        _ => {
            return Err(ScimError::invalid_path(format!(
                "`{}` is not an attribute of a Group; Strata's groups have displayName, externalId and members",
                path.text
            )));
        }
    };
    if !path.is_plain() {
        return Err(ScimError::invalid_path(format!("`{}`: `{}` has no sub-attributes", path.text, path.attribute)));
    }
    Ok(target)
}

fn members_target(path: &AttrPath) -> Result<GroupTarget, ScimError> {
    let by_value = |condition: &Condition| condition.attribute.eq_ignore_ascii_case("value");
    match (path.sub.as_deref(), path.conditions.as_slice()) {
        (None, []) => Ok(GroupTarget::Members),
        (None, [condition @ Condition { value: Literal::Str(id), .. }]) if by_value(condition) => {
            Ok(GroupTarget::Member(id.clone()))
        }
        _ => Err(ScimError::invalid_path(format!(
            "`{}` is not supported; use `members`, or `members[value eq \"<user id>\"]` to remove one member",
            path.text
        ))),
    }
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

/// `GET /ServiceProviderConfig`: what this server supports, for the
/// organisation's SCIM base URL `base`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_PAGE_SIZE },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organisation's SCIM token in the Authorization header: `Bearer <token>`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BASE: &str = "https://strata.example/scim/v2/acme/";

    fn body(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    fn stored(id: &str) -> Stored<'_> {
        Stored {
            base: BASE,
            id,
            created: Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap(),
            last_modified: Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 5).unwrap(),
            version: None,
        }
    }

    fn eq(attribute: FilterAttribute, value: &str) -> Filter {
        Filter::Eq { attribute, value: value.into() }
    }

    fn patch(operations: &Value) -> Vec<u8> {
        body(&json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": operations }))
    }

    #[track_caller]
    fn assert_scim_error(error: &ScimError, status: u16, scim_type: Option<ScimType>, mentions: &str) {
        assert_eq!((error.status(), error.scim_type()), (status, scim_type), "{error}");
        assert!(error.detail().contains(mentions), "`{}` should mention `{mentions}`", error.detail());
    }

    // -- Errors ------------------------------------------------------------

    #[test]
    fn error_body_has_the_error_schema_a_string_status_and_the_scim_type() {
        let error = ScimError::invalid_filter("the filter `title pr` is not supported");
        assert_eq!(
            error.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "the filter `title pr` is not supported",
            })
        );
        assert_eq!(error.to_string(), "the filter `title pr` is not supported");
    }

    #[test]
    fn error_constructors_give_the_statuses_clients_expect() {
        let not_found = ScimError::not_found("User 2819c223");
        assert_scim_error(&not_found, 404, None, "User 2819c223 not found");
        assert_eq!(
            not_found.to_json(),
            json!({ "schemas": [ERROR_SCHEMA], "status": "404", "detail": "User 2819c223 not found" })
        );
        assert_scim_error(
            &ScimError::uniqueness("userName `a@b.c` is taken"),
            409,
            Some(ScimType::Uniqueness),
            "taken",
        );
        assert_eq!(ScimError::uniqueness("x").to_json()["scimType"], "uniqueness");
        assert_scim_error(&ScimError::unauthorized(), 401, None, "bearer token");
        assert_scim_error(&ScimError::forbidden("example.org is not verified"), 403, None, "verified");
        assert_scim_error(&ScimError::internal(), 500, None, "internal");
        for (error, kind) in [
            (ScimError::invalid_syntax("x"), "invalidSyntax"),
            (ScimError::invalid_path("x"), "invalidPath"),
            (ScimError::no_target("x"), "noTarget"),
            (ScimError::invalid_value("x"), "invalidValue"),
            (ScimError::mutability("x"), "mutability"),
        ] {
            assert_eq!(error.status(), 400);
            assert_eq!(error.to_json()["scimType"], kind);
        }
    }

    // -- Filters -----------------------------------------------------------

    #[test]
    fn user_filters_that_okta_and_entra_send_are_parsed() {
        let cases = [
            (r#"userName eq "ada.lovelace@example.com""#, eq(FilterAttribute::UserName, "ada.lovelace@example.com")),
            (r#"externalId eq "00u1abcd2EFGH3ijk4x7""#, eq(FilterAttribute::ExternalId, "00u1abcd2EFGH3ijk4x7")),
            (r#"emails.value eq "ada@example.com""#, eq(FilterAttribute::Email, "ada@example.com")),
            (r#"emails[type eq "work"].value eq "ada@example.com""#, eq(FilterAttribute::Email, "ada@example.com")),
            (r#"emails[value eq "ada@example.com"]"#, eq(FilterAttribute::Email, "ada@example.com")),
            (r#"emails[type eq "work" and value eq "ada@example.com"]"#, eq(FilterAttribute::Email, "ada@example.com")),
            (
                r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
                eq(FilterAttribute::Id, "2819c223-7f76-453a-919d-413861904646"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Filter::parse(ResourceType::User, input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn group_filters_that_okta_and_entra_send_are_parsed() {
        let cases = [
            (r#"displayName eq "Engineering""#, eq(FilterAttribute::DisplayName, "Engineering")),
            (r#"externalId eq "00g1emaKYZTWRYYRRTSK""#, eq(FilterAttribute::ExternalId, "00g1emaKYZTWRYYRRTSK")),
            (r#"id eq "5e1c7c9a""#, eq(FilterAttribute::Id, "5e1c7c9a")),
            (r#"members[value eq "2819c223"]"#, eq(FilterAttribute::Member, "2819c223")),
            (r#"members.value eq "2819c223""#, eq(FilterAttribute::Member, "2819c223")),
        ];
        for (input, expected) in cases {
            assert_eq!(Filter::parse(ResourceType::Group, input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn filter_conditions_joined_by_and_are_flattened() {
        let filter = Filter::parse(
            ResourceType::Group,
            r#"id eq "5e1c7c9a" and members[value eq "2819c223"] AND displayName eq "Engineering""#,
        )
        .unwrap();
        assert_eq!(
            filter,
            Filter::And(vec![
                eq(FilterAttribute::Id, "5e1c7c9a"),
                eq(FilterAttribute::Member, "2819c223"),
                eq(FilterAttribute::DisplayName, "Engineering"),
            ])
        );
        assert_eq!(
            filter.conditions(),
            vec![
                (FilterAttribute::Id, "5e1c7c9a"),
                (FilterAttribute::Member, "2819c223"),
                (FilterAttribute::DisplayName, "Engineering")
            ]
        );
    }

    #[test]
    fn filter_attribute_names_and_operators_are_case_insensitive_and_may_carry_the_core_schema() {
        for input in [
            r#"USERNAME EQ "ada@example.com""#,
            r#"username eq "ada@example.com""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@example.com""#,
        ] {
            assert_eq!(
                Filter::parse(ResourceType::User, input).unwrap(),
                eq(FilterAttribute::UserName, "ada@example.com"),
                "{input}"
            );
        }
        let entra = Filter::parse(ResourceType::User, r#"Emails[Type eq "Work"].Value eq "ada@example.com""#).unwrap();
        assert_eq!(entra, eq(FilterAttribute::Email, "ada@example.com"));
    }

    #[test]
    fn filter_strings_use_json_escapes() {
        let filter = Filter::parse(ResourceType::Group, r#"displayName eq "R&D \"core\" \u00e9quipe""#).unwrap();
        assert_eq!(filter, eq(FilterAttribute::DisplayName, "R&D \"core\" équipe"));
    }

    #[test]
    fn user_name_and_email_compare_case_insensitively_ids_exactly() {
        assert!(FilterAttribute::UserName.matches("Ada.Lovelace@Example.com", "ada.lovelace@example.com"));
        assert!(FilterAttribute::Email.matches("ADA@EXAMPLE.COM", "ada@example.com"));
        assert!(FilterAttribute::DisplayName.matches("engineering", "Engineering"));
        assert!(!FilterAttribute::ExternalId.matches("00U1ABCD", "00u1abcd"));
        assert!(!FilterAttribute::Id.matches("ABC", "abc"));
        assert!(FilterAttribute::Member.matches("abc", "abc"));
    }

    #[test]
    fn unsupported_filters_are_invalid_filter_errors_naming_what_is_not_supported() {
        let cases = [
            (ResourceType::User, r#"userName eq "a" or userName eq "b""#, "`or` is not supported"),
            (ResourceType::User, r#"not (userName eq "a")"#, "`not` is not supported"),
            (ResourceType::User, r#"(userName eq "a")"#, "parentheses are not supported"),
            (ResourceType::User, r#"userName co "ada""#, "the `co` operator is not supported"),
            (ResourceType::User, r#"userName sw "ada""#, "the `sw` operator is not supported"),
            (ResourceType::User, "title pr", "the `pr` operator is not supported"),
            (ResourceType::User, r#"title eq "Countess""#, "Users cannot be filtered by `title`"),
            (
                ResourceType::User,
                r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
                "the `gt` operator is not supported",
            ),
            (
                ResourceType::User,
                r#"meta.lastModified eq "2026-01-01T00:00:00Z""#,
                "Users cannot be filtered by `meta.lastModified`",
            ),
            (ResourceType::User, r#"displayName eq "Ada""#, "Users cannot be filtered by `displayName`"),
            (ResourceType::Group, r#"userName eq "ada""#, "Groups cannot be filtered by `userName`"),
            (ResourceType::User, "active eq true", "Users cannot be filtered by `active`"),
            (ResourceType::User, "userName eq ada", "compare `userName` with a quoted string"),
            (ResourceType::User, r#"userName eq "ada"#, "has no closing quote"),
            (ResourceType::User, r#"userName eq "ada" and"#, "a condition is missing"),
            (ResourceType::User, "", "a condition is missing"),
            (ResourceType::User, "userName", "`userName` must be followed by `eq` and a value"),
            (ResourceType::User, r#"userName eq "a" "b""#, "unexpected \"b\""),
            (
                ResourceType::User,
                r#"emails[type eq "home"].value eq "a@b.c""#,
                "`type eq \"home\"` inside `emails[ ]` is not supported",
            ),
            (ResourceType::User, r#"emails[type eq "work"]"#, "compares nothing"),
            (ResourceType::User, r#"emails.type eq "work""#, "compare `emails.value`"),
            (ResourceType::User, r#"emails[value eq "a@b.c""#, "has no closing `]`"),
            (ResourceType::User, r#"userName.x eq "a""#, "has no sub-attributes"),
            (
                ResourceType::User,
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D""#,
                "not in the User schema",
            ),
        ];
        for (resource, input, mentions) in cases {
            let error = Filter::parse(resource, input).unwrap_err();
            assert_scim_error(&error, 400, Some(ScimType::InvalidFilter), mentions);
            assert_eq!(error.to_json()["scimType"], "invalidFilter");
        }
    }

    // -- Lists -------------------------------------------------------------

    #[test]
    fn okta_list_query_with_percent_encoded_filter_and_paging() {
        let query = "startIndex=1&count=100&filter=userName%20eq%20%22ada.lovelace%40example.com%22";
        let list = ListQuery::parse(ResourceType::User, query).unwrap();
        assert_eq!(list.filter, Some(eq(FilterAttribute::UserName, "ada.lovelace@example.com")));
        assert_eq!((list.paging.start_index(), list.paging.count(), list.paging.offset()), (1, 100, 0));
    }

    #[test]
    fn entra_list_query_with_plus_encoded_filter_and_excluded_attributes() {
        let query = "excludedAttributes=members&filter=displayName+eq+%22Engineering%22";
        let list = ListQuery::parse(ResourceType::Group, query).unwrap();
        assert_eq!(list.filter, Some(eq(FilterAttribute::DisplayName, "Engineering")));
        assert_eq!(list.paging, Paging::default());
    }

    #[test]
    fn list_query_without_parameters_lists_the_first_page_of_everything() {
        let list = ListQuery::parse(ResourceType::User, "").unwrap();
        assert_eq!(list, ListQuery { filter: None, paging: Paging::default() });
        assert_eq!((list.paging.start_index(), list.paging.count()), (1, 100));
        assert_eq!(ListQuery::parse(ResourceType::User, "filter=").unwrap().filter, None);
    }

    #[test]
    fn paging_clamps_start_index_and_count() {
        let cases = [
            ("startIndex=0", 1, 100),
            ("startIndex=-5&count=10", 1, 10),
            ("startIndex=51&count=25", 51, 25),
            ("count=500", 1, 200),
            ("count=-3", 1, 0),
            ("count=0", 1, 0),
            ("startIndex=99999999999999999999&count=99999999999999999999", i64::MAX as u64, 200),
            ("startindex=3&COUNT=7", 3, 7),
        ];
        for (query, start_index, count) in cases {
            let paging = ListQuery::parse(ResourceType::User, query).unwrap().paging;
            assert_eq!((paging.start_index(), paging.count()), (start_index, count), "{query}");
        }
        assert_eq!(Paging::new(51, 25).offset(), 50);
    }

    #[test]
    fn list_query_errors_name_the_bad_parameter() {
        let error = ListQuery::parse(ResourceType::User, "count=ten").unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidValue), "`count` must be an integer, not `ten`");
        let error = ListQuery::parse(ResourceType::User, "startIndex=1.5").unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidValue), "`startIndex`");
        let error = ListQuery::parse(ResourceType::User, "filter=title+pr").unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidFilter), "title");
    }

    #[test]
    fn list_response_counts_the_page_and_the_total() {
        let resources = vec![json!({ "id": "a" }), json!({ "id": "b" })];
        let response = list_response(&resources, 7, Paging::new(3, 2));
        assert_eq!(
            response,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 7,
                "startIndex": 3,
                "itemsPerPage": 2,
                "Resources": [{ "id": "a" }, { "id": "b" }],
            })
        );
        let empty = list_response(&[], 0, Paging::default());
        assert_eq!(
            (empty["totalResults"].clone(), empty["itemsPerPage"].clone(), empty["Resources"].clone()),
            (json!(0), json!(0), json!([]))
        );
    }

    // -- Users -------------------------------------------------------------

    fn okta_create_user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada.lovelace@example.com",
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "emails": [{ "primary": true, "value": "ada.lovelace@example.com", "type": "work" }],
            "displayName": "Ada Lovelace",
            "locale": "en-US",
            "externalId": "00u1abcd2EFGH3ijk4x7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })
    }

    fn entra_create_user() -> Value {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "externalId": "grace",
            "userName": "Grace.Hopper@contoso.onmicrosoft.com",
            "active": true,
            "addresses": [{ "primary": true, "type": "work", "formatted": "1 Microsoft Way", "country": "US" }],
            "displayName": "Grace Hopper",
            "emails": [
                { "primary": false, "type": "other", "value": "grace@navy.example" },
                { "primary": true, "type": "work", "value": "grace@contoso.com" }
            ],
            "meta": { "resourceType": "User" },
            "name": { "familyName": "Hopper", "givenName": "Grace", "formatted": "Grace B. Hopper" },
            "phoneNumbers": [{ "type": "work", "value": "+1 555 0100" }],
            "title": "Rear Admiral",
            "preferredLanguage": "en-US",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "department": "Navy",
                "manager": { "value": "b8a9e7d2" }
            }
        })
    }

    #[test]
    fn okta_user_creation_is_read() {
        let user = UserResource::parse(&body(&okta_create_user())).unwrap();
        assert_eq!(
            user,
            UserResource {
                user_name: "ada.lovelace@example.com".into(),
                display_name: "Ada Lovelace".into(),
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                email: "ada.lovelace@example.com".into(),
                external_id: Some("00u1abcd2EFGH3ijk4x7".into()),
                active: true,
            }
        );
    }

    #[test]
    fn entra_user_creation_is_read_and_extensions_ignored() {
        let user = UserResource::parse(&body(&entra_create_user())).unwrap();
        assert_eq!(user.user_name, "Grace.Hopper@contoso.onmicrosoft.com");
        assert_eq!(user.display_name, "Grace Hopper");
        assert_eq!(user.email, "grace@contoso.com", "the primary email wins over the first");
        assert_eq!(user.external_id.as_deref(), Some("grace"));
        assert!(user.active);
    }

    #[test]
    fn user_display_name_falls_back_to_formatted_then_name_parts_then_the_user_name() {
        let cases = [
            (json!({ "userName": "a@x.io", "name": { "formatted": "Dr Ada L", "givenName": "Ada" } }), "Dr Ada L"),
            (json!({ "userName": "a@x.io", "name": { "givenName": "Ada", "familyName": "Lovelace" } }), "Ada Lovelace"),
            (json!({ "userName": "a@x.io", "name": { "familyName": "Lovelace" } }), "Lovelace"),
            (json!({ "userName": "ada.lovelace@x.io", "displayName": "  " }), "ada.lovelace"),
            (json!({ "userName": "ada" }), "ada"),
        ];
        for (user, display_name) in cases {
            assert_eq!(UserResource::parse(&body(&user)).unwrap().display_name, display_name, "{user}");
        }
    }

    #[test]
    fn user_email_falls_back_to_the_first_email_then_the_user_name() {
        let first = json!({ "userName": "ada@x.io", "emails": [{ "value": "one@x.io" }, { "value": "two@x.io" }] });
        assert_eq!(UserResource::parse(&body(&first)).unwrap().email, "one@x.io");
        let string_primary = json!({ "userName": "ada@x.io", "emails": [{ "value": "one@x.io" }, { "value": "two@x.io", "primary": "True" }] });
        assert_eq!(UserResource::parse(&body(&string_primary)).unwrap().email, "two@x.io");
        let none = json!({ "userName": "ada@x.io", "emails": [] });
        assert_eq!(UserResource::parse(&body(&none)).unwrap().email, "ada@x.io");
        assert_eq!(UserResource::parse(&body(&json!({ "userName": "ada@x.io" }))).unwrap().email, "ada@x.io");
    }

    #[test]
    fn user_active_defaults_to_true_and_accepts_string_booleans() {
        assert!(UserResource::parse(&body(&json!({ "userName": "ada@x.io" }))).unwrap().active);
        assert!(!UserResource::parse(&body(&json!({ "userName": "ada@x.io", "active": "False" }))).unwrap().active);
        assert!(!UserResource::parse(&body(&json!({ "userName": "ada@x.io", "active": false }))).unwrap().active);
    }

    #[test]
    fn user_attribute_names_are_case_insensitive() {
        let user = json!({ "USERNAME": "ada@x.io", "DisplayName": "Ada", "ExternalID": "e1", "Active": false });
        let user = UserResource::parse(&body(&user)).unwrap();
        assert_eq!(
            (user.user_name.as_str(), user.display_name.as_str(), user.external_id.as_deref(), user.active),
            ("ada@x.io", "Ada", Some("e1"), false)
        );
    }

    #[test]
    fn user_bodies_without_a_user_name_or_with_wrong_types_are_refused() {
        let cases = [
            (json!({ "displayName": "Ada" }), ScimType::InvalidValue, "`userName` is required"),
            (json!({ "userName": "" }), ScimType::InvalidValue, "`userName` cannot be empty"),
            (json!({ "userName": 42 }), ScimType::InvalidValue, "`userName` must be a string"),
            (
                json!({ "userName": "a@x.io", "active": "maybe" }),
                ScimType::InvalidValue,
                "`active` must be true or false",
            ),
            (json!({ "userName": "a@x.io", "emails": "a@x.io" }), ScimType::InvalidValue, "`emails` must be a list"),
            (json!({ "userName": "a@x.io", "name": "Ada" }), ScimType::InvalidValue, "`name` must be an object"),
            (json!(["userName"]), ScimType::InvalidSyntax, "must be a JSON object"),
        ];
        for (user, kind, mentions) in cases {
            assert_scim_error(&UserResource::parse(&body(&user)).unwrap_err(), 400, Some(kind), mentions);
        }
        assert_scim_error(
            &UserResource::parse(b"{\"userName\":").unwrap_err(),
            400,
            Some(ScimType::InvalidSyntax),
            "not valid JSON",
        );
    }

    #[test]
    fn users_render_as_scim_clients_read_them() {
        let user = UserResource::parse(&body(&okta_create_user())).unwrap();
        let groups = [ResourceRef { value: "g1".into(), display: Some("Engineering".into()) }];
        assert_eq!(
            user.render(&stored("2819c223"), &groups),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "2819c223",
                "externalId": "00u1abcd2EFGH3ijk4x7",
                "userName": "ada.lovelace@example.com",
                "name": { "formatted": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace" },
                "displayName": "Ada Lovelace",
                "emails": [{ "value": "ada.lovelace@example.com", "type": "work", "primary": true }],
                "active": true,
                "groups": [{ "value": "g1", "display": "Engineering", "$ref": "https://strata.example/scim/v2/acme/Groups/g1" }],
                "meta": {
                    "resourceType": "User",
                    "created": "2026-03-01T09:30:00.000Z",
                    "lastModified": "2026-03-02T10:00:05.000Z",
                    "location": "https://strata.example/scim/v2/acme/Users/2819c223",
                },
            })
        );
    }

    #[test]
    fn a_user_without_optional_parts_renders_without_them() {
        let user = UserResource {
            user_name: "ada@x.io".into(),
            display_name: "Ada".into(),
            given_name: None,
            family_name: None,
            email: "ada@x.io".into(),
            external_id: None,
            active: false,
        };
        let stored = Stored { version: Some("W/\"3\""), ..stored("a b/c") };
        let rendered = user.render(&stored, &[]);
        assert_eq!(rendered["name"], json!({ "formatted": "Ada" }));
        assert_eq!(rendered["active"], json!(false));
        assert!(rendered.get("groups").is_none() && rendered.get("externalId").is_none());
        assert_eq!(rendered["meta"]["version"], "W/\"3\"");
        assert_eq!(rendered["meta"]["location"], "https://strata.example/scim/v2/acme/Users/a%20b%2Fc");
    }

    #[test]
    fn a_rendered_user_reads_back_as_the_same_user() {
        let user = UserResource::parse(&body(&entra_create_user())).unwrap();
        let again = UserResource::parse(&body(&user.render(&stored("u1"), &[]))).unwrap();
        assert_eq!(again, user);
    }

    // -- Groups ------------------------------------------------------------

    #[test]
    fn okta_and_entra_group_creations_are_read() {
        let okta = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [
                { "value": "2819c223", "display": "ada.lovelace@example.com" },
                { "value": "902c246b" }
            ]
        });
        assert_eq!(
            GroupResource::parse(&body(&okta)).unwrap(),
            GroupResource {
                display_name: "Engineering".into(),
                external_id: None,
                members: vec![
                    ResourceRef { value: "2819c223".into(), display: Some("ada.lovelace@example.com".into()) },
                    ResourceRef { value: "902c246b".into(), display: None },
                ],
            }
        );
        let entra = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "meta": { "resourceType": "Group" }
        });
        let group = GroupResource::parse(&body(&entra)).unwrap();
        assert_eq!(group.external_id.as_deref(), Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"));
        assert!(group.members.is_empty());
    }

    #[test]
    fn group_bodies_without_a_name_or_with_members_without_ids_are_refused() {
        let error = GroupResource::parse(&body(&json!({ "members": [] }))).unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidValue), "`displayName` is required");
        let error =
            GroupResource::parse(&body(&json!({ "displayName": "E", "members": [{ "display": "Ada" }] }))).unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidValue), "each member needs a `value`");
        let error = GroupResource::parse(&body(&json!({ "displayName": "E", "members": ["2819c223"] }))).unwrap_err();
        assert_scim_error(&error, 400, Some(ScimType::InvalidValue), "`members` must be an object");
    }

    #[test]
    fn groups_render_with_member_references() {
        let group = GroupResource {
            display_name: "Engineering".into(),
            external_id: Some("00g1emaKYZTWRYYRRTSK".into()),
            members: vec![ResourceRef { value: "2819c223".into(), display: Some("Ada Lovelace".into()) }],
        };
        assert_eq!(
            group.render(&stored("5e1c7c9a")),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "5e1c7c9a",
                "externalId": "00g1emaKYZTWRYYRRTSK",
                "displayName": "Engineering",
                "members": [{ "value": "2819c223", "display": "Ada Lovelace", "$ref": "https://strata.example/scim/v2/acme/Users/2819c223" }],
                "meta": {
                    "resourceType": "Group",
                    "created": "2026-03-01T09:30:00.000Z",
                    "lastModified": "2026-03-02T10:00:05.000Z",
                    "location": "https://strata.example/scim/v2/acme/Groups/5e1c7c9a",
                },
            })
        );
        let empty = GroupResource { display_name: "E".into(), external_id: None, members: Vec::new() };
        assert_eq!(empty.render(&stored("g")).get("members"), Some(&json!([])));
    }

    // -- User PATCH --------------------------------------------------------

    #[test]
    fn okta_deactivation_with_a_value_object_sets_active_false() {
        let body = patch(&json!([{ "op": "replace", "value": { "active": false } }]));
        assert_eq!(UserPatch::parse(&body).unwrap(), UserPatch { active: Some(false), ..UserPatch::default() });
    }

    #[test]
    fn entra_deactivation_with_a_path_and_a_string_boolean_sets_active_false() {
        let body = patch(&json!([{ "op": "Replace", "path": "active", "value": "False" }]));
        assert_eq!(UserPatch::parse(&body).unwrap().active, Some(false));
        let body = patch(&json!([{ "op": "Replace", "path": "active", "value": "True" }]));
        assert_eq!(UserPatch::parse(&body).unwrap().active, Some(true));
    }

    #[test]
    fn entra_attribute_updates_by_path_are_collected() {
        let body = patch(&json!([
            { "op": "Replace", "path": "userName", "value": "ada.king@example.com" },
            { "op": "Replace", "path": "displayName", "value": "Ada King" },
            { "op": "Replace", "path": "name.givenName", "value": "Augusta Ada" },
            { "op": "Replace", "path": "name.familyName", "value": "King" },
            { "op": "Add", "path": "externalId", "value": "ada-king" },
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada.king@example.com" },
            { "op": "Replace", "path": "title", "value": "Countess" },
            { "op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+44 20 7946 0000" },
            { "op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "London" },
            { "op": "Replace", "path": "preferredLanguage", "value": "en-GB" },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Analytical Engines" },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "b8a9e7d2" },
            { "op": "Replace", "path": "emails[type eq \"home\"].value", "value": "ada@home.example" },
            { "op": "Replace", "path": "name.formatted", "value": "Augusta Ada King" }
        ]));
        assert_eq!(
            UserPatch::parse(&body).unwrap(),
            UserPatch {
                active: None,
                user_name: Some("ada.king@example.com".into()),
                display_name: Some("Ada King".into()),
                given_name: Some(Some("Augusta Ada".into())),
                family_name: Some(Some("King".into())),
                email: Some("ada.king@example.com".into()),
                external_id: Some(Some("ada-king".into())),
            }
        );
    }

    #[test]
    fn a_value_object_sets_every_attribute_it_holds_whatever_the_key_style() {
        let body = patch(&json!([{
            "op": "add",
            "value": {
                "name.givenName": "Grace",
                "name": { "familyName": "Hopper" },
                "emails[type eq \"work\"].value": "grace@contoso.com",
                "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Grace Hopper",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Navy" },
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
                "id": "2819c223",
                "schemas": [USER_SCHEMA]
            }
        }]));
        assert_eq!(
            UserPatch::parse(&body).unwrap(),
            UserPatch {
                display_name: Some("Grace Hopper".into()),
                given_name: Some(Some("Grace".into())),
                family_name: Some(Some("Hopper".into())),
                email: Some("grace@contoso.com".into()),
                ..UserPatch::default()
            }
        );
    }

    #[test]
    fn replacing_the_emails_list_keeps_the_primary_address() {
        let body = patch(&json!([{
            "op": "replace",
            "path": "emails",
            "value": [{ "value": "ada@home.example", "type": "home" }, { "value": "ada@example.com", "type": "work", "primary": true }]
        }]));
        assert_eq!(UserPatch::parse(&body).unwrap().email, Some("ada@example.com".into()));
        let body = patch(
            &json!([{ "op": "replace", "value": { "emails": [{ "value": "ada@example.com", "primary": true }] } }]),
        );
        assert_eq!(UserPatch::parse(&body).unwrap().email, Some("ada@example.com".into()));
    }

    #[test]
    fn removing_or_emptying_optional_user_attributes_clears_them() {
        let body = patch(&json!([
            { "op": "Remove", "path": "externalId" },
            { "op": "Remove", "path": "name.givenName" },
            { "op": "Replace", "path": "name.familyName", "value": "" },
            { "op": "Remove", "path": "title" },
            { "op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" }
        ]));
        assert_eq!(
            UserPatch::parse(&body).unwrap(),
            UserPatch {
                given_name: Some(None),
                family_name: Some(None),
                external_id: Some(None),
                ..UserPatch::default()
            }
        );
        let body = patch(&json!([{ "op": "remove", "path": "name" }]));
        assert_eq!(
            UserPatch::parse(&body).unwrap(),
            UserPatch { given_name: Some(None), family_name: Some(None), ..UserPatch::default() }
        );
    }

    #[test]
    fn the_last_operation_on_an_attribute_wins() {
        let body = patch(&json!([
            { "op": "replace", "path": "active", "value": false },
            { "op": "replace", "value": { "active": true } }
        ]));
        assert_eq!(UserPatch::parse(&body).unwrap().active, Some(true));
    }

    #[test]
    fn patch_ops_and_keys_are_case_insensitive_and_schemas_may_be_missing() {
        let body = body(&json!({ "operations": [{ "OP": "REPLACE", "PATH": "Active", "Value": "false" }] }));
        assert_eq!(UserPatch::parse(&body).unwrap().active, Some(false));
    }

    #[test]
    fn user_patches_that_cannot_be_honoured_are_refused_with_the_right_scim_type() {
        let cases = [
            (json!([{ "op": "remove", "value": { "externalId": "x" } }]), ScimType::NoTarget, "needs a `path`"),
            (json!([{ "op": "remove", "path": "userName" }]), ScimType::InvalidValue, "`userName` cannot be removed"),
            (json!([{ "op": "remove", "path": "active" }]), ScimType::InvalidValue, "`active` cannot be removed"),
            (
                json!([{ "op": "Remove", "path": "emails[type eq \"work\"].value" }]),
                ScimType::InvalidValue,
                "cannot be removed",
            ),
            (
                json!([{ "op": "move", "path": "active", "value": false }]),
                ScimType::InvalidSyntax,
                "`move` is not a PATCH op",
            ),
            (json!([{ "path": "active", "value": false }]), ScimType::InvalidSyntax, "needs an `op`"),
            (
                json!([{ "op": "replace", "path": "favouriteColour", "value": "green" }]),
                ScimType::InvalidPath,
                "`favouriteColour` is not an attribute of a User",
            ),
            (
                json!([{ "op": "replace", "path": "name.nickname", "value": "Ada" }]),
                ScimType::InvalidPath,
                "`name.nickname`",
            ),
            (
                json!([{ "op": "replace", "path": "userName.value", "value": "a" }]),
                ScimType::InvalidPath,
                "has no sub-attributes",
            ),
            (
                json!([{ "op": "replace", "path": "emails[display eq \"x\"].value", "value": "a@x.io" }]),
                ScimType::InvalidPath,
                "type eq \"work\"",
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"]", "value": "a@x.io" }]),
                ScimType::InvalidPath,
                "name the address",
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"", "value": "a@x.io" }]),
                ScimType::InvalidPath,
                "no closing `]`",
            ),
            (
                json!([{ "op": "replace", "path": "active eq", "value": true }]),
                ScimType::InvalidPath,
                "unexpected `eq`",
            ),
            (json!([{ "op": "replace", "path": 7, "value": true }]), ScimType::InvalidPath, "`path` must be a string"),
            (json!([{ "op": "replace", "path": "id", "value": "x" }]), ScimType::Mutability, "`id` is read-only"),
            (
                json!([{ "op": "add", "path": "groups", "value": [{ "value": "g1" }] }]),
                ScimType::Mutability,
                "`groups` is read-only",
            ),
            (json!([{ "op": "replace", "path": "active" }]), ScimType::InvalidValue, "needs a `value`"),
            (
                json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
                ScimType::InvalidValue,
                "`active` must be true or false",
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": " " }]),
                ScimType::InvalidValue,
                "`userName` cannot be empty",
            ),
            (
                json!([{ "op": "replace", "path": "displayName", "value": ["Ada"] }]),
                ScimType::InvalidValue,
                "must be a string",
            ),
            (json!([{ "op": "replace", "value": "inactive" }]), ScimType::InvalidValue, "needs an object `value`"),
            (
                json!([{ "op": "replace", "path": "emails", "value": [] }]),
                ScimType::InvalidValue,
                "`emails` has no address",
            ),
            (json!(["replace"]), ScimType::InvalidSyntax, "must be an object"),
        ];
        for (operations, kind, mentions) in cases {
            let error = UserPatch::parse(&patch(&operations)).unwrap_err();
            assert_scim_error(&error, 400, Some(kind), mentions);
        }
    }

    #[test]
    fn patch_bodies_that_are_not_patch_messages_are_invalid_syntax() {
        let wrong_schema = body(&json!({ "schemas": [USER_SCHEMA], "Operations": [] }));
        assert_scim_error(
            &UserPatch::parse(&wrong_schema).unwrap_err(),
            400,
            Some(ScimType::InvalidSyntax),
            PATCH_OP_SCHEMA,
        );
        let no_operations = body(&json!({ "schemas": [PATCH_OP_SCHEMA] }));
        assert_scim_error(
            &GroupPatch::parse(&no_operations).unwrap_err(),
            400,
            Some(ScimType::InvalidSyntax),
            "`Operations` array",
        );
        assert_scim_error(
            &GroupPatch::parse(b"not json").unwrap_err(),
            400,
            Some(ScimType::InvalidSyntax),
            "not valid JSON",
        );
        assert_eq!(UserPatch::parse(&patch(&json!([]))).unwrap(), UserPatch::default());
    }

    // -- Group PATCH -------------------------------------------------------

    #[test]
    fn okta_member_additions_and_removals_keep_their_order() {
        let body = patch(&json!([
            { "op": "add", "path": "members", "value": [{ "value": "2819c223", "display": "ada@example.com" }, { "value": "902c246b" }] },
            { "op": "remove", "path": "members[value eq \"2819c223\"]" }
        ]));
        assert_eq!(
            GroupPatch::parse(&body).unwrap().members,
            vec![MemberOp::Add(vec!["2819c223".into(), "902c246b".into()]), MemberOp::Remove(vec!["2819c223".into()])]
        );
    }

    #[test]
    fn entra_member_additions_and_removals_with_value_lists() {
        let body = patch(&json!([
            { "op": "Add", "path": "members", "value": [{ "value": "2819c223" }] },
            { "op": "Remove", "path": "members", "value": [{ "value": "902c246b" }, { "value": "e9e30dba" }] }
        ]));
        assert_eq!(
            GroupPatch::parse(&body).unwrap().members,
            vec![MemberOp::Add(vec!["2819c223".into()]), MemberOp::Remove(vec!["902c246b".into(), "e9e30dba".into()])]
        );
    }

    #[test]
    fn okta_replacing_members_replaces_the_whole_set() {
        let body = patch(
            &json!([{ "op": "replace", "path": "members", "value": [{ "value": "2819c223" }, { "value": "902c246b" }] }]),
        );
        assert_eq!(
            GroupPatch::parse(&body).unwrap().members,
            vec![MemberOp::Replace(vec!["2819c223".into(), "902c246b".into()])]
        );
        let body = patch(&json!([{ "op": "replace", "path": "members", "value": [] }]));
        assert_eq!(GroupPatch::parse(&body).unwrap().members, vec![MemberOp::Replace(Vec::new())]);
    }

    #[test]
    fn removing_members_without_a_value_removes_everyone() {
        let body = patch(&json!([{ "op": "remove", "path": "members" }]));
        assert_eq!(GroupPatch::parse(&body).unwrap().members, vec![MemberOp::RemoveAll]);
    }

    #[test]
    fn okta_rename_with_a_value_object_ignores_the_echoed_id() {
        let body =
            patch(&json!([{ "op": "replace", "value": { "id": "5e1c7c9a", "displayName": "Platform Engineering" } }]));
        assert_eq!(
            GroupPatch::parse(&body).unwrap(),
            GroupPatch { display_name: Some("Platform Engineering".into()), ..GroupPatch::default() }
        );
    }

    #[test]
    fn renames_and_external_ids_by_path() {
        let body = patch(&json!([
            { "op": "Replace", "path": "displayName", "value": "Platform" },
            { "op": "Add", "path": "externalId", "value": "8aa1a0c0" },
            { "op": "Add", "path": "urn:example:custom:2.0:Group:costCentre", "value": "42" }
        ]));
        assert_eq!(
            GroupPatch::parse(&body).unwrap(),
            GroupPatch {
                display_name: Some("Platform".into()),
                external_id: Some(Some("8aa1a0c0".into())),
                members: Vec::new()
            }
        );
        let body = patch(&json!([{ "op": "remove", "path": "externalId" }]));
        assert_eq!(GroupPatch::parse(&body).unwrap().external_id, Some(None));
    }

    #[test]
    fn a_value_object_may_add_or_replace_members() {
        let body = patch(&json!([
            { "op": "add", "value": { "members": [{ "value": "2819c223" }] } },
            { "op": "replace", "value": { "members": [{ "value": "902c246b" }], "displayName": "Ops" } }
        ]));
        let patch = GroupPatch::parse(&body).unwrap();
        assert_eq!(
            patch.members,
            vec![MemberOp::Add(vec!["2819c223".into()]), MemberOp::Replace(vec!["902c246b".into()])]
        );
        assert_eq!(patch.display_name.as_deref(), Some("Ops"));
    }

    #[test]
    fn empty_member_lists_in_add_and_remove_change_nothing() {
        let body = patch(&json!([
            { "op": "add", "path": "members", "value": [] },
            { "op": "remove", "path": "members", "value": [] }
        ]));
        assert_eq!(GroupPatch::parse(&body).unwrap(), GroupPatch::default());
    }

    #[test]
    fn group_patches_that_cannot_be_honoured_are_refused_with_the_right_scim_type() {
        let cases = [
            (json!([{ "op": "remove" }]), ScimType::NoTarget, "needs a `path`"),
            (
                json!([{ "op": "add", "path": "members[value eq \"2819c223\"]", "value": [{ "value": "2819c223" }] }]),
                ScimType::InvalidPath,
                "can only be removed",
            ),
            (
                json!([{ "op": "remove", "path": "members[display eq \"Ada\"]" }]),
                ScimType::InvalidPath,
                "members[value eq",
            ),
            (json!([{ "op": "remove", "path": "members.display" }]), ScimType::InvalidPath, "is not supported"),
            (
                json!([{ "op": "replace", "path": "owner", "value": "ada" }]),
                ScimType::InvalidPath,
                "`owner` is not an attribute of a Group",
            ),
            (json!([{ "op": "replace", "path": "id", "value": "x" }]), ScimType::Mutability, "`id` is read-only"),
            (
                json!([{ "op": "remove", "path": "displayName" }]),
                ScimType::InvalidValue,
                "`displayName` cannot be removed",
            ),
            (
                json!([{ "op": "replace", "path": "displayName", "value": "" }]),
                ScimType::InvalidValue,
                "`displayName` cannot be empty",
            ),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "display": "Ada" }] }]),
                ScimType::InvalidValue,
                "each member needs a `value`",
            ),
            (
                json!([{ "op": "add", "path": "members", "value": "2819c223" }]),
                ScimType::InvalidValue,
                "`members` must be a list",
            ),
            (json!([{ "op": "add", "path": "members" }]), ScimType::InvalidValue, "needs a `value`"),
            (
                json!([{ "op": "Merge", "path": "members", "value": [] }]),
                ScimType::InvalidSyntax,
                "`Merge` is not a PATCH op",
            ),
        ];
        for (operations, kind, mentions) in cases {
            let error = GroupPatch::parse(&patch(&operations)).unwrap_err();
            assert_scim_error(&error, 400, Some(kind), mentions);
        }
    }

    // -- Discovery ---------------------------------------------------------

    #[test]
    fn service_provider_config_announces_what_is_supported() {
        let config = service_provider_config(BASE);
        assert_eq!(config["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
        assert_eq!(config["patch"], json!({ "supported": true }));
        assert_eq!(config["filter"], json!({ "supported": true, "maxResults": 200 }));
        for unsupported in ["bulk", "sort", "etag", "changePassword"] {
            assert_eq!(config[unsupported]["supported"], json!(false), "{unsupported}");
        }
        assert_eq!(config["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(config["meta"]["location"], "https://strata.example/scim/v2/acme/ServiceProviderConfig");
    }
}
