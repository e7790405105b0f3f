//! A DNS server for tests: authoritative for whatever TXT records a test
//! publishes, on a random port of 127.0.0.1 (UDP, and TCP on the same port),
//! until dropped.
//!
//! ```ignore
//! let dns = TestDns::start().await;
//! dns.set_txt("_strata-challenge.example.com", vec!["strata-domain-verification=t".into()]);
//! let resolver = strata_sso::dns::TxtResolver::at(dns.addr())?;
//! dns.fail("broken.example.com"); // SERVFAIL from now on
//! ```
//!
//! Answers are what a real authoritative server sends, so that a resolver
//! that caches would show it: records have a TTL of 300 seconds and
//! negative answers (NXDOMAIN for unknown names, NOERROR without answers
//! for other record types of a known name) carry an SOA whose negative TTL
//! is 300 seconds. UDP answers longer than the query allows (512 bytes, or
//! its EDNS size) are truncated, so the client asks again over TCP.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

/// The TTL of every record, and the negative TTL of every SOA.
const TTL: u32 = 300;
/// The longest character-string of a TXT record.
const MAX_STRING: usize = 255;

#[derive(Default)]
struct Zone {
    /// Per name, its TXT records, each a list of character-strings.
    txt: HashMap<String, Vec<Vec<Vec<u8>>>>,
    failing: HashSet<String>,
    queries: HashMap<String, usize>,
}

/// The server. Stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    udp: JoinHandle<()>,
    tcp: JoinHandle<()>,
}

impl std::fmt::Debug for TestDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDns").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.udp.abort();
        // Its connections are in a JoinSet it owns: they end with it.
        self.tcp.abort();
    }
}

/// `name` as the zone keys it: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `value` as character-strings of at most 255 bytes, as DNS providers
/// store long values.
fn split(value: &str) -> Vec<Vec<u8>> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return vec![Vec::new()];
    }
    bytes.chunks(MAX_STRING).map(<[u8]>::to_vec).collect()
}

impl TestDns {
    /// Starts the server on a free port of 127.0.0.1, UDP and TCP.
    pub async fn start() -> TestDns {
        let (udp, tcp) = bind_udp_and_tcp().await;
        let addr = udp.local_addr().expect("the test DNS address");
        let zone = Arc::new(Mutex::new(Zone::default()));
        TestDns {
            addr,
            udp: tokio::spawn(serve_udp(udp, zone.clone())),
            tcp: tokio::spawn(serve_tcp(tcp, zone.clone())),
            zone,
        }
    }

    /// Where to send queries (UDP or TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> MutexGuard<'_, Zone> {
        // A panic elsewhere while holding the lock leaves the zone usable.
        self.zone.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes `values` as the TXT records of `name`, one record each,
    /// replacing any; a value longer than 255 bytes is split into several
    /// character-strings of one record.
    pub fn set_txt(&self, name: &str, values: Vec<String>) {
        let records = values.into_iter().map(|value| split(&value)).collect();
        self.zone().txt.insert(key(name), records);
    }

    /// Publishes TXT records given as their character-strings (each at most
    /// 255 bytes), e.g. `vec![vec!["v=spf1 ".into(), "-all".into()]]` for one
    /// record of two strings; replaces any.
    pub fn set_txt_records(&self, name: &str, records: Vec<Vec<String>>) {
        let records = records
            .into_iter()
            .map(|strings| {
                strings
                    .into_iter()
                    .map(|s| {
                        assert!(s.len() <= MAX_STRING, "a TXT character-string has at most 255 bytes: {s:?}");
                        s.into_bytes()
                    })
                    .collect()
            })
            .collect();
        self.zone().txt.insert(key(name), records);
    }

    /// Removes `name`'s records and makes it answer normally again if it
    /// was failing: it is NXDOMAIN afterwards.
    pub fn remove(&self, name: &str) {
        let mut zone = self.zone();
        zone.txt.remove(&key(name));
        zone.failing.remove(&key(name));
    }

    /// Makes queries for `name` (of any type) answer SERVFAIL until
    /// [`TestDns::remove`].
    pub fn fail(&self, name: &str) {
        self.zone().failing.insert(key(name));
    }

    /// How many queries for `name` (any type, UDP or TCP) the server has
    /// answered so far.
    pub fn queries(&self, name: &str) -> usize {
        self.zone().queries.get(&key(name)).copied().unwrap_or(0)
    }
}

/// A UDP socket and a TCP listener on the same free port.
async fn bind_udp_and_tcp() -> (UdpSocket, TcpListener) {
    const TRIES: usize = 50;
    for _ in 0..TRIES {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind a UDP port for the test DNS");
        let addr = udp.local_addr().expect("the test DNS address");
        match TcpListener::bind(addr).await {
            Ok(tcp) => return (udp, tcp),
            // Someone has this port for TCP; take another one.
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {}
            Err(error) => panic!("cannot listen on {addr}/tcp for the test DNS: {error}"),
        }
    }
    panic!("found no port of 127.0.0.1 free for both UDP and TCP in {TRIES} tries");
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Mutex<Zone>>) {
    let mut buffer = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer).await else { continue };
        if let Some(reply) = answer(&zone, &buffer[..len], Transport::Udp) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Mutex<Zone>>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(stream, zone.clone()));
    }
}

/// Messages on a TCP connection, each after its length in two bytes
/// (RFC 1035 §4.2.2), until the client closes it.
async fn serve_connection(mut stream: TcpStream, zone: Arc<Mutex<Zone>>) {
    loop {
        let Ok(len) = stream.read_u16().await else { return };
        let mut request = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut request).await.is_err() {
            return;
        }
        let Some(reply) = answer(&zone, &request, Transport::Tcp) else { return };
        let Ok(reply_len) = u16::try_from(reply.len()) else { return };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// The reply to `request`, encoded; `None` for what is not a DNS query.
fn answer(zone: &Mutex<Zone>, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    let Some(question) = query.queries.first().cloned() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply.to_vec().ok();
    };
    reply.add_query(question.clone());
    if query.metadata.op_code != OpCode::Query {
        reply.metadata.response_code = ResponseCode::NotImp;
        return reply.to_vec().ok();
    }
    let name = key(&question.name().to_ascii());
    let records = {
        let mut zone = zone.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *zone.queries.entry(name.clone()).or_default() += 1;
        if zone.failing.contains(&name) {
            reply.metadata.response_code = ResponseCode::ServFail;
            return reply.to_vec().ok();
        }
        zone.txt.get(&name).cloned()
    };
    reply.metadata.authoritative = true;
    match records {
        None => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            reply.add_authority(soa(question.name()));
        }
        Some(records) if question.query_type() == RecordType::TXT && !records.is_empty() => {
            for strings in records {
                let txt = TXT::from_bytes(strings.iter().map(Vec::as_slice).collect());
                reply.add_answer(Record::from_rdata(question.name().clone(), TTL, RData::TXT(txt)));
            }
        }
        // The name exists, without records of that type: NOERROR, no answers.
        Some(_) => {
            reply.add_authority(soa(question.name()));
        }
    }
    let encoded = reply.to_vec().ok()?;
    if transport == Transport::Udp && encoded.len() > usize::from(query.max_payload()) {
        // Too long for this query over UDP: the header, the question, TC set.
        return reply.truncate().to_vec().ok();
    }
    Some(encoded)
}

/// The SOA of a negative answer for `name`: the zone is its last two labels.
fn soa(name: &Name) -> Record {
    let zone = name.trim_to(2);
    let host =
        |label: &str| Name::from_ascii(label).and_then(|l| l.append_domain(&zone)).unwrap_or_else(|_| zone.clone());
    let soa = SOA::new(host("ns"), host("hostmaster"), 1, 3600, 600, 86_400, TTL);
    Record::from_rdata(zone.clone(), TTL, RData::SOA(soa))
}
