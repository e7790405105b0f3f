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
            match parse_literal(tokens, &path.text)? {
                Literal::Str(text) => Some(text),
                Literal::Bare(word) => {
                    return Err(format!("compare `{}` with a quoted string, not `{word}`", path.text));
                }
            }
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

fn user_terms(path: &AttrPath, compared: Option<String>) -> Result<Vec<Filter>, String> {
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

fn group_terms(path: &AttrPath, compared: Option<String>) -> Result<Vec<Filter>, String> {
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

fn plain_term(path: &AttrPath, attribute: FilterAttribute, compared: Option<String>) -> Result<Vec<Filter>, String> {
    if !path.is_plain() {
        return Err(format!("`{}` has no sub-attributes", path.text));
    }
    match compared {
        Some(value) => Ok(vec![Filter::Eq { attribute, value }]),
        None => Err(format!("`{}` must be followed by `eq` and a value", path.text)),
    }
}

/// `emails` and `members`: `x.value eq "v"`, `x eq "v"`, `x[value eq "v"]`,
/// and for emails a `type eq "work"` selector (Strata keeps only the work email).
fn multi_valued_terms(
    path: &AttrPath,
    attribute: FilterAttribute,
    compared: Option<String>,
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
    values.extend(compared);
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
