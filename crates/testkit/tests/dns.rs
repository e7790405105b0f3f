//! Domain verification's TXT lookups (`strata_sso::dns::TxtResolver`)
//! against the test DNS server: published and absent records, no caching of
//! either, records of several strings and long ones (over TCP), wrong
//! tokens, and failures that say what happened.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::time::{Duration, Instant};

use strata_sso::dns::{DnsError, TxtResolver, challenge_name, challenge_value};
use strata_testkit::dns::TestDns;

const DOMAIN: &str = "example.com";
const TOKEN: &str = "k7Qn2vXyZ";

async fn server() -> (TestDns, TxtResolver) {
    let dns = TestDns::start().await;
    let resolver = TxtResolver::at(dns.addr()).unwrap();
    (dns, resolver)
}

#[tokio::test]
async fn a_published_challenge_is_found() {
    let (dns, resolver) = server().await;
    dns.set_txt(&challenge_name(DOMAIN), vec![challenge_value(TOKEN)]);
    assert_eq!(
        resolver.txt("_strata-challenge.example.com").await.unwrap(),
        vec!["strata-domain-verification=k7Qn2vXyZ"]
    );
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    // Names are case-insensitive and may be fully qualified.
    assert!(resolver.has_challenge("EXAMPLE.com.", TOKEN).await.unwrap());
}

#[tokio::test]
async fn nothing_published_is_no_records_not_an_error() {
    let (dns, resolver) = server().await;
    // NXDOMAIN: the name does not exist.
    assert_eq!(resolver.txt("_strata-challenge.example.com").await.unwrap(), Vec::<String>::new());
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    // NOERROR without answers: the name exists with no TXT records.
    dns.set_txt(&challenge_name(DOMAIN), Vec::new());
    assert_eq!(resolver.txt(&challenge_name(DOMAIN)).await.unwrap(), Vec::<String>::new());
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    assert!(dns.queries(&challenge_name(DOMAIN)) >= 4, "every lookup reached the server");
}

#[tokio::test]
async fn a_record_published_after_a_miss_is_seen_on_the_next_lookup() {
    let (dns, resolver) = server().await;
    let name = challenge_name(DOMAIN);
    // The miss carries an SOA with a negative TTL of 300 s, which a caching
    // resolver would honour.
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    dns.set_txt(&name, vec![challenge_value(TOKEN)]);
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    // Nor are answers (TTL 300 s) kept: a changed record is seen at once too.
    dns.set_txt(&name, vec![challenge_value("rotated")]);
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    assert!(resolver.has_challenge(DOMAIN, "rotated").await.unwrap());
    dns.remove(&name);
    assert!(!resolver.has_challenge(DOMAIN, "rotated").await.unwrap());
    // A clone shares the (absent) cache.
    dns.set_txt(&name, vec![challenge_value(TOKEN)]);
    assert!(resolver.clone().has_challenge(DOMAIN, TOKEN).await.unwrap());
    // At least: a UDP query may be sent again when the answer is slow.
    assert!(dns.queries(&name) >= 6, "each lookup asked the server");
}

#[tokio::test]
async fn the_challenge_is_found_among_other_txt_records() {
    let (dns, resolver) = server().await;
    let name = challenge_name(DOMAIN);
    dns.set_txt(
        &name,
        vec![
            "v=spf1 include:_spf.example.net -all".into(),
            challenge_value("someone-elses-token"),
            format!("  {}\t", challenge_value(TOKEN)),
        ],
    );
    let values = resolver.txt(&name).await.unwrap();
    assert_eq!(values.len(), 3, "{values:?}");
    assert!(values.contains(&"v=spf1 include:_spf.example.net -all".to_owned()));
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap(), "whitespace around the value is ignored");
    assert!(resolver.has_challenge(DOMAIN, "someone-elses-token").await.unwrap());
}

#[tokio::test]
async fn a_wrong_or_partial_token_is_not_a_proof() {
    let (dns, resolver) = server().await;
    dns.set_txt(&challenge_name(DOMAIN), vec![challenge_value(TOKEN)]);
    for wrong in ["k7Qn2vXy", "k7Qn2vXyZZ", "K7QN2VXYZ", ""] {
        assert!(!resolver.has_challenge(DOMAIN, wrong).await.unwrap(), "{wrong:?}");
    }
    // The record of another domain, or at the domain itself, proves nothing.
    assert!(!resolver.has_challenge("other.example", TOKEN).await.unwrap());
    dns.set_txt(DOMAIN, vec![challenge_value(TOKEN)]);
    dns.remove(&challenge_name(DOMAIN));
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    // Nor does the token without the prefix.
    dns.set_txt(&challenge_name(DOMAIN), vec![TOKEN.into()]);
    assert!(!resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
}

#[tokio::test]
async fn the_strings_of_one_record_are_joined() {
    let (dns, resolver) = server().await;
    let name = challenge_name(DOMAIN);
    let value = challenge_value(TOKEN);
    let (head, tail) = value.split_at(10);
    dns.set_txt_records(&name, vec![vec![head.into(), tail.into()]]);
    assert_eq!(resolver.txt(&name).await.unwrap(), vec![value]);
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
}

#[tokio::test]
async fn long_answers_come_over_tcp() {
    let (dns, resolver) = server().await;
    let name = challenge_name(DOMAIN);
    // 3 × 700 bytes: more than a UDP answer may carry (1232 bytes with
    // hickory's EDNS), so the server truncates it and the resolver asks
    // again over TCP. Each value is also longer than one string (255 bytes).
    let token = "t".repeat(700 - challenge_value("").len());
    let filler: Vec<String> = (0..2).map(|i| format!("filler-{i}-{}", "x".repeat(690))).collect();
    dns.set_txt(&name, [filler.clone(), vec![challenge_value(&token)]].concat());
    let values = resolver.txt(&name).await.unwrap();
    assert_eq!(values.len(), 3);
    assert!(filler.iter().all(|f| values.contains(f)), "{values:?}");
    assert!(resolver.has_challenge(DOMAIN, &token).await.unwrap());
    assert!(dns.queries(&name) >= 4, "each lookup went over UDP, then TCP: {}", dns.queries(&name));
}

#[tokio::test]
async fn a_server_failure_is_an_error_that_says_what_to_do() {
    let (dns, resolver) = server().await;
    let name = challenge_name(DOMAIN);
    dns.set_txt(&name, vec![challenge_value(TOKEN)]);
    dns.fail(&name);
    let error = resolver.has_challenge(DOMAIN, TOKEN).await.unwrap_err();
    assert!(matches!(error, DnsError::Lookup(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("_strata-challenge.example.com"), "{message}");
    assert!(message.contains("SERVFAIL") && message.contains("try again"), "{message}");
    // Failures are not remembered either.
    dns.remove(&name);
    dns.set_txt(&name, vec![challenge_value(TOKEN)]);
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
}

#[tokio::test]
async fn a_silent_server_is_a_timeout_error_within_seconds() {
    // A socket that never answers (the fault under test: the lookup gives
    // up after its two tries of three seconds).
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resolver = TxtResolver::at(silent.local_addr().unwrap()).unwrap();
    let started = Instant::now();
    let error = resolver.txt(&challenge_name(DOMAIN)).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, DnsError::Lookup(_)), "{error:?}");
    assert!(error.to_string().contains("no DNS server answered"), "{error}");
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let (dns, resolver) = server().await;
    let addr = dns.addr();
    dns.set_txt(&challenge_name(DOMAIN), vec![challenge_value(TOKEN)]);
    assert!(resolver.has_challenge(DOMAIN, TOKEN).await.unwrap());
    drop(dns);
    // Its tasks end when the runtime next runs them: then both sockets are
    // closed and the port can be bound again (UDP and TCP).
    for _ in 0..1000 {
        if tokio::net::UdpSocket::bind(addr).await.is_ok() && tokio::net::TcpListener::bind(addr).await.is_ok() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("port {addr} still in use after the server was dropped");
}
