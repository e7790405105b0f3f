//! DNS proof that an organisation owns a domain: it publishes a TXT record
//! `_strata-challenge.<domain>` with the value
//! `strata-domain-verification=<token>`, and the hub looks it up.
//!
//! Lookups bypass every cache (a record just published must be seen on the
//! next try) and go to the system's resolvers or to one configured server.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

const CHALLENGE_LABEL: &str = "_strata-challenge";
const CHALLENGE_PREFIX: &str = "strata-domain-verification=";

/// Why a lookup or a domain name failed; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("{0}")]
    InvalidDomain(String),
    #[error("the DNS lookup failed: {0}; try again later")]
    Lookup(String),
    #[error("cannot set up DNS lookups: {0}")]
    Setup(String),
}

/// Looks up TXT records without caching them.
#[derive(Clone)]
pub struct TxtResolver(TokioResolver);

impl std::fmt::Debug for TxtResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxtResolver").finish_non_exhaustive()
    }
}

fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.cache_size = 0;
    options.timeout = Duration::from_secs(3);
    options.attempts = 2;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options
}

impl TxtResolver {
    /// The machine's resolvers (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| DnsError::Setup(e.to_string()))?;
        *builder.options_mut() = options();
        builder.build().map(TxtResolver).map_err(|e| DnsError::Setup(e.to_string()))
    }

    /// One server, over UDP with TCP for long answers.
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
            .map_err(|e| DnsError::Setup(e.to_string()))
    }

    /// The TXT strings of `name`, each record's character-strings joined
    /// (as SPF does); empty when the name or its TXT records do not exist.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fully_qualified = format!("{}.", name.trim_end_matches('.'));
        match self.0.txt_lookup(fully_qualified.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                    }
                    _ => None,
                })
                .collect()),
            Err(error) if error.is_nx_domain() || error.is_no_records_found() => Ok(Vec::new()),
            Err(error) => Err(DnsError::Lookup(error.to_string())),
        }
    }

    /// Whether `domain` publishes the challenge for `token`.
    pub async fn has_challenge(&self, domain: &str, token: &str) -> Result<bool, DnsError> {
        let expected = challenge_value(token);
        Ok(self.txt(&challenge_name(domain)).await?.iter().any(|value| value.trim() == expected))
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

/// A domain as organisations claim it: lower case, no trailing dot, two or
/// more labels of letters, digits and inner hyphens; not an IP address.
pub fn normalise_domain(input: &str) -> Result<String, DnsError> {
    let domain = input.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = |why: &str| Err(DnsError::InvalidDomain(format!("`{}` is not a domain: {why}", input.trim())));
    if domain.is_empty() {
        return invalid("it is empty");
    }
    if !domain.is_ascii() {
        return invalid("write international names in their xn-- form");
    }
    if domain.len() > 253 {
        return invalid("a domain has at most 253 characters");
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return invalid("it is an IP address");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return invalid("it needs a dot, e.g. example.com");
    }
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !labels.iter().all(label_ok) {
        return invalid("each part has 1–63 letters, digits or inner hyphens");
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return invalid("its last part is a number");
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_bad_ones_refused_with_a_reason() {
        assert_eq!(normalise_domain(" Example.COM. ").unwrap(), "example.com");
        for bad in ["", "localhost", "10.0.0.1", "exa mple.com", "-a.com", "a-.com", "é.com", "a..com", "1.2.3.4.5"] {
            let error = normalise_domain(bad).unwrap_err();
            assert!(error.to_string().contains("is not a domain"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_challenge_record_has_a_fixed_name_and_value_format() {
        assert_eq!(challenge_name("example.com"), "_strata-challenge.example.com");
        assert_eq!(challenge_value("abc"), "strata-domain-verification=abc");
    }
}
