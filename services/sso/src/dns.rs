//! DNS proof that an organisation owns a domain: it publishes a TXT record
//! `_strata-challenge.<domain>` with the value
//! `strata-domain-verification=<token>`, and the hub looks it up.
//!
//! Lookups bypass every cache (a record just published must be seen on the
//! next try) and go to the system's resolvers or to one configured server.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as ResponseError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData};

const CHALLENGE_LABEL: &str = "_strata-challenge";
const CHALLENGE_PREFIX: &str = "strata-domain-verification=";

/// How long one try waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Tries after a failed one (hickory's `attempts`): two tries in all.
const RETRIES: usize = 1;

/// Why a lookup or a domain name failed; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// Not a domain name (the message says which rule it breaks).
    #[error("{0}")]
    InvalidDomain(String),
    /// No answer could be had: a timeout, an unreachable or failing server.
    /// Worth trying again later; a missing record is not an error.
    #[error("{0}")]
    Lookup(String),
    /// The resolver could not be made (e.g. no name server in
    /// `/etc/resolv.conf`).
    #[error("{0}")]
    Setup(String),
}

/// Looks up TXT records without caching them. Cheap to clone: clones share
/// their connections.
#[derive(Clone)]
pub struct TxtResolver(TokioResolver);

impl std::fmt::Debug for TxtResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxtResolver").finish_non_exhaustive()
    }
}

fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    // No cache, and should an answer get into it anyway, it is stale at once.
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options.timeout = TIMEOUT;
    options.attempts = RETRIES;
    // TXT records are never in /etc/hosts.
    options.use_hosts_file = ResolveHosts::Never;
    options
}

impl TxtResolver {
    /// The machine's resolvers (`/etc/resolv.conf`), with our timeouts and
    /// no cache.
    pub fn system() -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| {
            DnsError::Setup(format!("cannot read the system's DNS configuration (/etc/resolv.conf): {e}"))
        })?;
        *builder.options_mut() = options();
        builder
            .build()
            .map(TxtResolver)
            .map_err(|e| DnsError::Setup(format!("cannot use the system's DNS resolvers: {e}")))
    }

    /// One server, over UDP, and over TCP when an answer is too long for UDP.
    pub fn at(server: SocketAddr) -> Result<Self, DnsError> {
        let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
        for connection in &mut name_server.connections {
            connection.port = server.port();
        }
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![name_server]);
        TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options())
            .build()
            .map(TxtResolver)
            .map_err(|e| DnsError::Setup(format!("cannot use the DNS server {server}: {e}")))
    }

    /// The TXT strings of `name`, each record's character-strings joined
    /// (as SPF does, RFC 7208 §3.3); empty when the name or its TXT records
    /// do not exist, which is not an error.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let shown = name.strip_suffix('.').unwrap_or(name);
        let mut fqdn = Name::from_ascii(shown)
            .map_err(|e| DnsError::InvalidDomain(format!("`{shown}` is not a DNS name: {e}")))?;
        fqdn.set_fqdn(true);
        match self.0.txt_lookup(fqdn).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned()),
                    _ => None,
                })
                .collect()),
            // NXDOMAIN, or the name exists without TXT records.
            Err(error) if error.is_no_records_found() => Ok(Vec::new()),
            Err(error) => {
                tracing::debug!(name = shown, %error, "TXT lookup failed");
                Err(DnsError::Lookup(describe(&error, shown)))
            }
        }
    }

    /// Whether `domain` publishes the challenge for `token`: a TXT string at
    /// [`challenge_name`] equal to [`challenge_value`], ignoring the
    /// whitespace around it.
    pub async fn has_challenge(&self, domain: &str, token: &str) -> Result<bool, DnsError> {
        let expected = challenge_value(token);
        Ok(self.txt(&challenge_name(domain)).await?.iter().any(|value| value.trim() == expected))
    }
}

/// What went wrong, for the person who asked to verify their domain.
fn describe(error: &NetError, name: &str) -> String {
    match error {
        NetError::Timeout => format!(
            "no DNS server answered the lookup of `{name}` ({} tries of {} seconds); try again later, \
             and if it keeps failing, check that this server can reach its DNS resolvers",
            RETRIES + 1,
            TIMEOUT.as_secs()
        ),
        NetError::Dns(ResponseError::ResponseCode(ResponseCode::ServFail)) => format!(
            "the DNS server could not resolve `{name}` (SERVFAIL): the domain's name servers may be \
             unreachable or misconfigured (e.g. broken DNSSEC); check them, then try again"
        ),
        NetError::Dns(ResponseError::ResponseCode(ResponseCode::Refused)) => format!(
            "the DNS server refused to look up `{name}` (REFUSED); check which DNS server this \
             server is configured to ask"
        ),
        NetError::Dns(ResponseError::ResponseCode(code)) => {
            format!("the DNS server answered the lookup of `{name}` with an error ({code}); try again later")
        }
        NetError::Io(_) | NetError::NoConnections | NetError::Busy => {
            format!("cannot reach a DNS server to look up `{name}` ({error}); try again later")
        }
        other => format!("the DNS lookup of `{name}` failed ({other}); try again later"),
    }
}

/// The name of the TXT record that proves `domain`.
pub fn challenge_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

/// The value of the TXT record for `token`.
pub fn challenge_value(token: &str) -> String {
    format!("{CHALLENGE_PREFIX}{token}")
}

/// A domain as organisations claim it: lower case, without the trailing
/// dot, two or more labels of 1–63 letters, digits and inner hyphens, at
/// most 253 characters, not an IP address. Syntax only: whether it is a
/// public suffix or a mail provider's domain is not checked here.
pub fn normalise_domain(input: &str) -> Result<String, DnsError> {
    let shown = input.trim();
    let invalid = |why: String| Err(DnsError::InvalidDomain(format!("`{shown}` is not a domain: {why}")));
    let domain = shown.strip_suffix('.').unwrap_or(shown).to_ascii_lowercase();
    if domain.is_empty() {
        return invalid("it is empty".into());
    }
    if domain.contains("://") || domain.contains('/') {
        return invalid("give the domain alone, e.g. `example.com`, not a URL".into());
    }
    if domain.contains('@') {
        return invalid("give the domain alone, e.g. `example.com`, not an email address".into());
    }
    if !domain.is_ascii() {
        return invalid("write an international name in its ASCII (`xn--`) form".into());
    }
    let bare = domain.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return invalid("it is an IP address".into());
    }
    if domain.len() > 253 {
        return invalid(format!("it has {} characters, at most 253 are allowed", domain.len()));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return invalid("it needs at least two parts, e.g. `example.com`".into());
    }
    for label in &labels {
        if label.is_empty() {
            return invalid("it has an empty part (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return invalid(format!("the part `{label}` has {} characters, at most 63 are allowed", label.len()));
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return invalid(format!("the part `{label}` has `{bad}`; only letters, digits and hyphens are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid(format!("the part `{label}` starts or ends with a hyphen"));
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return invalid("its last part is a number".into());
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_cased_and_lose_the_trailing_dot() {
        assert_eq!(normalise_domain(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(normalise_domain("mail.example.co.uk").unwrap(), "mail.example.co.uk");
        assert_eq!(normalise_domain("xn--bcher-kva.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(normalise_domain("a-b.9c").unwrap(), "a-b.9c");
        let longest = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
        assert_eq!(longest.len(), 253);
        assert_eq!(normalise_domain(&longest).unwrap(), longest);
    }

    #[test]
    fn bad_domains_are_refused_with_the_rule_they_break() {
        let too_long = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(62)].join(".");
        let cases = [
            ("", "it is empty"),
            ("  ", "it is empty"),
            (".", "it is empty"),
            ("localhost", "at least two parts"),
            ("com.", "at least two parts"),
            ("10.0.0.1", "IP address"),
            ("::1", "IP address"),
            ("[2001:db8::1]", "IP address"),
            ("1.2.3.4.5", "last part is a number"),
            ("exa mple.com", "the part `exa mple` has ` `"),
            ("under_score.com", "has `_`"),
            ("-a.com", "starts or ends with a hyphen"),
            ("a-.com", "starts or ends with a hyphen"),
            ("a..com", "empty part"),
            (".a.com", "empty part"),
            ("example.com..", "empty part"),
            ("é.com", "`xn--`"),
            ("https://example.com", "not a URL"),
            ("example.com/path", "not a URL"),
            ("ada@example.com", "not an email address"),
            (&too_long, "at most 253"),
        ];
        for (bad, why) in cases {
            let error = normalise_domain(bad).unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, DnsError::InvalidDomain(_)), "{bad}: {error:?}");
            assert!(message.contains("is not a domain") && message.contains(why), "{bad:?}: {message}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(normalise_domain(&long_label).unwrap_err().to_string().contains("has 64 characters, at most 63"));
    }

    #[test]
    fn the_challenge_record_has_a_fixed_name_and_value_format() {
        assert_eq!(challenge_name("example.com"), "_strata-challenge.example.com");
        assert_eq!(challenge_value("abc"), "strata-domain-verification=abc");
    }

    #[test]
    fn lookup_errors_name_the_record_and_say_what_to_do() {
        let name = "_strata-challenge.example.com";
        let servfail = describe(&NetError::Dns(ResponseError::ResponseCode(ResponseCode::ServFail)), name);
        assert!(servfail.contains(name) && servfail.contains("SERVFAIL") && servfail.contains("try again"));
        let timeout = describe(&NetError::Timeout, name);
        assert!(timeout.contains("no DNS server answered") && timeout.contains("2 tries of 3 seconds"), "{timeout}");
        let refused = describe(&NetError::Dns(ResponseError::ResponseCode(ResponseCode::Refused)), name);
        assert!(refused.contains("REFUSED"), "{refused}");
    }

    #[tokio::test]
    async fn a_lookup_of_a_name_that_is_not_a_dns_name_is_refused_before_asking() {
        let resolver = TxtResolver::at(SocketAddr::from(([127, 0, 0, 1], 9))).unwrap();
        let error = resolver.txt(&format!("{}.example.com", "a".repeat(64))).await.unwrap_err();
        assert!(matches!(error, DnsError::InvalidDomain(_)), "{error:?}");
    }
}
