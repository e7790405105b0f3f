//! A DNS server for tests: authoritative for whatever TXT records a test
//! publishes, on a random UDP port of 127.0.0.1, until dropped. Unknown
//! names are NXDOMAIN; names marked failing answer SERVFAIL.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};

#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<String>>,
    failing: HashSet<String>,
}

/// The server; cheap to share by reference.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDns").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `name` as the zone keys it: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDns {
    pub async fn start() -> TestDns {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind a UDP port for the test DNS");
        let addr = socket.local_addr().expect("the test DNS address");
        let zone = Arc::new(Mutex::new(Zone::default()));
        let served = zone.clone();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            loop {
                let Ok((len, peer)) = socket.recv_from(&mut buffer).await else { return };
                if let Some(reply) = answer(&served, &buffer[..len]) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        TestDns { addr, zone, task }
    }

    /// Where to send queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Publishes `values` as the TXT records of `name` (replacing any).
    pub fn set_txt(&self, name: &str, values: Vec<String>) {
        self.zone.lock().expect("the test DNS zone").txt.insert(key(name), values);
    }

    /// Removes `name`'s records.
    pub fn remove(&self, name: &str) {
        self.zone.lock().expect("the test DNS zone").txt.remove(&key(name));
    }

    /// Makes queries for `name` fail with SERVFAIL.
    pub fn fail(&self, name: &str) {
        self.zone.lock().expect("the test DNS zone").failing.insert(key(name));
    }
}

fn answer(zone: &Mutex<Zone>, request: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    let question = query.queries.first()?.clone();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.add_query(question.clone());
    let name = key(&question.name().to_ascii());
    let zone = zone.lock().ok()?;
    if zone.failing.contains(&name) {
        reply.metadata.response_code = ResponseCode::ServFail;
        return reply.to_vec().ok();
    }
    match zone.txt.get(&name) {
        None => reply.metadata.response_code = ResponseCode::NXDomain,
        Some(values) if question.query_type() == RecordType::TXT => {
            let owner = Name::from_ascii(format!("{name}.")).ok()?;
            for value in values {
                reply.add_answer(Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(vec![value.clone()]))));
            }
        }
        // The name exists, with no records of that type: NOERROR, no answers.
        Some(_) => {}
    }
    reply.to_vec().ok()
}
