//! Single sign-on protocols, without storage: the hub keeps connections,
//! login attempts, domains and SCIM resources in its database and calls in
//! here for what the standards define.
//!
//! - [`oidc`]: an OpenID Connect relying party (authorization code with
//!   PKCE, discovery and JWKS cached per issuer, id_token verification).
//! - [`scim`]: SCIM 2.0 users and groups as Okta and Microsoft Entra send
//!   them (filters, PATCH operations, list responses, errors).
//! - [`dns`]: TXT lookups that prove an organisation owns a domain.
//! - [`net`]: the HTTP client for identity providers, kept off private
//!   networks.

pub mod dns;
pub mod net;
pub mod oidc;
pub mod scim;
