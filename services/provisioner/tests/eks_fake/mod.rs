//! The EKS Pod Identity association API on loopback, in the shapes of the EKS
//! API reference (CreatePodIdentityAssociation, ListPodIdentityAssociations,
//! DescribePodIdentityAssociation, UpdatePodIdentityAssociation,
//! DeletePodIdentityAssociation), refusing any request that is not SigV4-signed
//! for `eks` with the test key and the body's own SHA-256. No EKS server runs
//! here; the signer itself is object_store's, which the S3 tests prove against a
//! real S3 server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub const KEY_ID: &str = "AKIDSTRATATEST";
pub const CLUSTER: &str = "strata-test";
pub const REGION: &str = "eu-west-1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub id: String,
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub tags: Value,
}

#[derive(Debug, Default)]
struct State {
    associations: BTreeMap<String, Association>,
    /// (method, path) of every request served, in order.
    calls: Vec<(String, String)>,
    next: u32,
    /// Answer every call with this status and message, when set.
    fault: Option<(u16, String)>,
}

#[derive(Debug, Clone)]
pub struct EksFake {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

/// One HTTP/1.1 request as read off the socket.
struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl EksFake {
    pub async fn start() -> EksFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fake = EksFake { endpoint, state: Arc::default() };
        let serving = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = serving.clone();
                tokio::spawn(async move { fake.serve(stream).await });
            }
        });
        fake
    }

    pub fn associations(&self) -> Vec<Association> {
        self.state.lock().unwrap().associations.values().cloned().collect()
    }

    pub fn calls(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    pub fn fail_with(&self, status: u16, message: &str) {
        self.state.lock().unwrap().fault = Some((status, message.to_owned()));
    }

    /// An association made by someone else (the installation's earlier role).
    pub fn insert(&self, namespace: &str, role_arn: &str) {
        let mut state = self.state.lock().unwrap();
        state.next += 1;
        let id = format!("a-{:017}", state.next);
        let association = Association {
            id: id.clone(),
            namespace: namespace.to_owned(),
            service_account: "workspace".to_owned(),
            role_arn: role_arn.to_owned(),
            tags: json!({}),
        };
        state.associations.insert(id, association);
    }

    async fn serve(&self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        while let Some(request) = read_request(&mut reader).await {
            let (status, body) = self.answer(&request);
            let body = body.to_string();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            if write.write_all(head.as_bytes()).await.is_err() || write.write_all(body.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    fn answer(&self, request: &Request) -> (u16, Value) {
        let mut state = self.state.lock().unwrap();
        state.calls.push((request.method.clone(), request.path.clone()));
        if let Some((status, message)) = &state.fault {
            return (*status, json!({"message": message}));
        }
        if let Err(why) = signed(request) {
            return (403, json!({"message": why}));
        }
        let base = format!("/clusters/{CLUSTER}/pod-identity-associations");
        let Some(rest) = request.path.strip_prefix(&base) else {
            return (404, json!({"message": format!("No cluster found for name: {}.", request.path)}));
        };
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), rest.trim_start_matches('/')) {
            ("GET", "") => {
                let listed: Vec<Value> = state
                    .associations
                    .values()
                    .filter(|a| request.query.get("namespace").is_none_or(|n| *n == a.namespace))
                    .filter(|a| request.query.get("serviceAccount").is_none_or(|s| *s == a.service_account))
                    .map(summary)
                    .collect();
                (200, json!({"associations": listed}))
            }
            ("POST", "") => create(&mut state, &body),
            ("GET", id) => match state.associations.get(id) {
                Some(found) => (200, json!({"association": described(found)})),
                None => not_found(id),
            },
            ("POST", id) => match (state.associations.get_mut(id), body["roleArn"].as_str()) {
                (Some(found), Some(role)) => {
                    found.role_arn = role.to_owned();
                    (200, json!({"association": described(found)}))
                }
                (None, _) => not_found(id),
                (Some(_), None) => (400, json!({"message": "roleArn is required"})),
            },
            ("DELETE", id) => match state.associations.remove(id) {
                Some(gone) => (200, json!({"association": described(&gone)})),
                None => not_found(id),
            },
            _ => (405, json!({"message": "method not allowed"})),
        }
    }
}

fn create(state: &mut State, body: &Value) -> (u16, Value) {
    let field = |name: &str| body[name].as_str().filter(|v| !v.is_empty()).map(str::to_owned);
    let (Some(namespace), Some(service_account), Some(role_arn)) =
        (field("namespace"), field("serviceAccount"), field("roleArn"))
    else {
        return (400, json!({"message": "namespace, serviceAccount and roleArn are required"}));
    };
    if !role_arn.starts_with("arn:aws:iam::") {
        return (400, json!({"message": format!("{role_arn} is not an IAM role ARN")}));
    }
    if state.associations.values().any(|a| a.namespace == namespace && a.service_account == service_account) {
        return (409, json!({"message": "Association already exists"}));
    }
    state.next += 1;
    let id = format!("a-{:017}", state.next);
    let association = Association { id: id.clone(), namespace, service_account, role_arn, tags: body["tags"].clone() };
    let answer = json!({"association": described(&association)});
    state.associations.insert(id, association);
    (200, answer)
}

fn summary(a: &Association) -> Value {
    json!({
        "clusterName": CLUSTER,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "associationArn": format!("arn:aws:eks:{REGION}:111122223333:podidentityassociation/{CLUSTER}/{}", a.id),
        "associationId": a.id,
    })
}

fn described(a: &Association) -> Value {
    let mut value = summary(a);
    value["roleArn"] = json!(a.role_arn);
    value["tags"] = a.tags.clone();
    value
}

fn not_found(id: &str) -> (u16, Value) {
    (404, json!({"message": format!("No Pod Identity Association found for id: {id}.")}))
}

/// Whether the request carries a SigV4 authorization for `eks` in [`REGION`]
/// with the test key, signing the host, date and payload hash, and that hash
/// is the body's.
fn signed(request: &Request) -> Result<(), String> {
    let header = |name: &str| request.headers.get(name).cloned().unwrap_or_default();
    let authorization = header("authorization");
    let date = header("x-amz-date");
    let Some(day) = date.get(..8) else { return Err("no x-amz-date".to_owned()) };
    let scope = format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/{day}/{REGION}/eks/aws4_request, SignedHeaders=");
    let Some(rest) = authorization.strip_prefix(&scope) else {
        return Err(format!("not signed for eks in {REGION} with the test key: {authorization:?}"));
    };
    let signed_headers = rest.split(',').next().unwrap_or_default();
    for needed in ["host", "x-amz-content-sha256", "x-amz-date"] {
        if !signed_headers.split(';').any(|h| h == needed) {
            return Err(format!("{needed} is not signed"));
        }
    }
    let digest = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &request.body));
    if header("x-amz-content-sha256") != digest {
        return Err("x-amz-content-sha256 is not the body's hash".to_owned());
    }
    Ok(())
}

async fn read_request(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).await.ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = url::Url::parse(&format!("http://fake{}", parts.next()?)).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers.get("content-length").and_then(|l| l.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path: target.path().to_owned(),
        query: target.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        headers,
        body,
    })
}
