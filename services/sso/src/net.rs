//! The HTTP client that talks to identity providers. An organisation admin
//! types the issuer URL, so the hub must not become a way into the
//! platform's own network: names that resolve to loopback, private,
//! link-local (cloud metadata) or otherwise non-public addresses are
//! refused, and so are such addresses written as IP literals, unless the
//! operator allows private issuers (an IdP inside the company network, and
//! the tests' provider on loopback). Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether identity providers may live on non-public addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    PublicOnly,
    AllowPrivate,
}

/// A client for identity providers, bounded in time, without redirects.
pub fn client(reach: Reach) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("strata-hub/", env!("CARGO_PKG_VERSION")));
    match reach {
        Reach::AllowPrivate => builder.build(),
        Reach::PublicOnly => builder.dns_resolver(Arc::new(PublicResolver)).build(),
    }
}

/// Refuses a URL whose host is an IP literal that `reach` does not allow
/// (the resolver never sees those).
pub fn check_url(url: &url::Url, reach: Reach) -> Result<(), String> {
    if reach == Reach::AllowPrivate {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(format!("`{url}` has no host")),
    };
    if is_public(ip) { Ok(()) } else { Err(format!("`{url}` is not a public address")) }
}

/// True for addresses on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                // Shared address space (carrier-grade NAT) and 0/8.
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves with the system and keeps only public addresses.
struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                let message = format!("`{host}` resolves to no public address; identity providers must be public");
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_metadata_addresses_are_not_public() {
        for text in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        for text in ["::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1"] {
            assert!(!is_public(text.parse().unwrap()), "{text}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }

    #[test]
    fn ip_literal_urls_are_checked_and_names_left_to_the_resolver() {
        let metadata = url::Url::parse("http://169.254.169.254/latest").unwrap();
        assert!(check_url(&metadata, Reach::PublicOnly).is_err());
        assert!(check_url(&metadata, Reach::AllowPrivate).is_ok());
        assert!(check_url(&url::Url::parse("https://login.example.com").unwrap(), Reach::PublicOnly).is_ok());
    }

    #[tokio::test]
    async fn a_name_of_loopback_is_refused_when_only_public_providers_are_allowed() {
        let client = client(Reach::PublicOnly).unwrap();
        let error = client.get("http://localhost:9/").send().await.unwrap_err();
        let chain = format!("{error:?}");
        assert!(chain.contains("no public address"), "{chain}");
    }
}
