//! A small in-tree authorization server for the resource-server tests
//! (issue 16 item 2, `tests/auth_oauth.rs`): std threads and a `TcpListener`
//! on 127.0.0.1. It only publishes and checks, it runs no flows: tokens are
//! minted by the test with [`Issuer::token`].
//!
//! Routes (BASE = `http://127.0.0.1:PORT`, the issuer):
//! - `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata with
//!   `jwks_uri` = BASE/jwks and `introspection_endpoint` = BASE/introspect.
//! - `GET /jwks`: the current key set (switch with [`Issuer::rotate`]),
//!   `Content-Type: application/jwk-set+json`, `Cache-Control: max-age=300`;
//!   each fetch counted ([`Issuer::jwks_fetches`]) when it arrives; it
//!   answers after [`Issuer::slow_jwks`]'s delay.
//! - `POST /introspect`: needs `Authorization: Basic` (recorded as sent:
//!   [`Issuer::introspection_credentials`]); answers the claims registered
//!   with [`Issuer::activate`] plus `"active": true` (exactly those: a
//!   test that wants an answer the gateway accepts registers `aud`), else
//!   `{"active": false}`; 401 without Basic credentials. Each request with
//!   credentials is counted: [`Issuer::introspection_credentials`]`.len()`.
//!   After [`Issuer::hold_introspections`] answers wait (counted on
//!   arrival) until [`Issuer::release_introspections`].
//!
//! Signing keys are generated with ring: Ed25519 (`EdDSA`) and P-256
//! (`ES256`). Include with `#[path = "oauth/issuer.rs"] mod issuer;`.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// A signing key and its `kid`.
pub enum Key {
    Ed25519(String, Ed25519KeyPair),
    Es256(String, EcdsaKeyPair),
}

impl Key {
    pub fn ed25519(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Self::Ed25519(
            kid.to_owned(),
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        )
    }

    pub fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es256(
            kid.to_owned(),
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    /// A new key of the same algorithm under the same `kid` (a forger's).
    pub fn impostor(&self) -> Self {
        match self {
            Self::Ed25519(kid, _) => Self::ed25519(kid),
            Self::Es256(kid, _) => Self::es256(kid),
        }
    }

    pub fn kid(&self) -> &str {
        match self {
            Self::Ed25519(kid, _) | Self::Es256(kid, _) => kid,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        match self {
            Self::Ed25519(kid, pair) => json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                "x": b64url(pair.public_key().as_ref()),
            }),
            Self::Es256(kid, pair) => {
                // Uncompressed point: 0x04 || x || y.
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
                })
            }
        }
    }

    /// A compact JWS of `claims` with header `{"alg", "typ": "at+jwt", "kid"}`.
    pub fn sign(&self, claims: &Value) -> String {
        let alg = match self {
            Self::Ed25519(..) => "EdDSA",
            Self::Es256(..) => "ES256",
        };
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": self.kid()});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = match self {
            Self::Ed25519(_, pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
            Self::Es256(_, pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", b64url(&signature))
    }
}

/// Base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn b64_decode_std(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

struct State {
    /// The keys published at /jwks.
    published: Vec<Value>,
    jwks_fetches: usize,
    /// Token → its introspection claims (active).
    active: HashMap<String, Value>,
    /// The decoded `Basic` credentials of each introspection request.
    introspection_credentials: Vec<String>,
    /// How long /jwks takes to answer.
    jwks_delay: Duration,
    /// Introspection answers wait while this is set.
    hold_introspections: bool,
}

/// See the module documentation.
pub struct Issuer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Issuer {
    /// Serves `keys` (public halves) until the test process ends.
    pub fn start(keys: &[&Key]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            published: keys.iter().map(|key| key.jwk()).collect(),
            jwks_fetches: 0,
            active: HashMap::new(),
            introspection_credentials: Vec::new(),
            jwks_delay: Duration::ZERO,
            hold_introspections: false,
        }));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                thread::spawn(move || serve(stream, addr, &state));
            }
        });
        Self { addr, state }
    }

    /// The issuer identifier.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Publishes `keys` instead.
    pub fn rotate(&self, keys: &[&Key]) {
        self.state.lock().unwrap().published = keys.iter().map(|key| key.jwk()).collect();
    }

    /// Makes /jwks answer only after `delay` (counted on arrival).
    pub fn slow_jwks(&self, delay: Duration) {
        self.state.lock().unwrap().jwks_delay = delay;
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    /// Makes introspection answer `claims` (and `active: true`) for `token`.
    pub fn activate(&self, token: &str, claims: Value) {
        self.state
            .lock()
            .unwrap()
            .active
            .insert(token.to_owned(), claims);
    }

    /// Introspection requests are counted, then wait unanswered...
    pub fn hold_introspections(&self) {
        self.state.lock().unwrap().hold_introspections = true;
    }

    /// ...until this.
    pub fn release_introspections(&self) {
        self.state.lock().unwrap().hold_introspections = false;
    }

    pub fn introspection_credentials(&self) -> Vec<String> {
        self.state.lock().unwrap().introspection_credentials.clone()
    }
}

/// One request per connection (the answer closes it).
fn serve(stream: TcpStream, addr: SocketAddr, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let base = format!("http://{addr}");
    let (status, content_type, extra, answer) = match (method.as_str(), target.as_str()) {
        ("GET", "/.well-known/oauth-authorization-server") => (
            200,
            "application/json",
            "",
            json!({
                "issuer": base,
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
                "introspection_endpoint": format!("{base}/introspect"),
                "response_types_supported": ["code"],
            }),
        ),
        ("GET", "/jwks") => {
            let (keys, delay) = {
                let mut state = state.lock().unwrap();
                state.jwks_fetches += 1;
                (json!({"keys": state.published}), state.jwks_delay)
            };
            // A slow issuer: requests arriving meanwhile must share this fetch.
            thread::sleep(delay);
            (
                200,
                "application/jwk-set+json",
                "Cache-Control: public, max-age=300\r\n",
                keys,
            )
        }
        ("POST", "/introspect") => introspect(&headers, &body, state),
        _ => (404, "application/json", "", json!({"error": "not_found"})),
    };
    let body = answer.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

fn introspect(
    headers: &HashMap<String, String>,
    body: &[u8],
    state: &Mutex<State>,
) -> (u16, &'static str, &'static str, Value) {
    let credentials = headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(b64_decode_std)
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some(credentials) = credentials else {
        return (
            401,
            "application/json",
            "WWW-Authenticate: Basic\r\n",
            json!({"error": "invalid_client"}),
        );
    };
    state
        .lock()
        .unwrap()
        .introspection_credentials
        .push(credentials);
    // Held: the request stays in flight at the gateway meanwhile.
    while state.lock().unwrap().hold_introspections {
        thread::sleep(Duration::from_millis(10));
    }
    let state = state.lock().unwrap();
    let form = String::from_utf8_lossy(body).into_owned();
    let token = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|value| {
            value
                .replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "=")
        })
        .unwrap_or_default();
    let answer = match state.active.get(&token) {
        Some(claims) => {
            let mut claims = claims.clone();
            claims["active"] = json!(true);
            claims
        }
        None => json!({"active": false}),
    };
    (200, "application/json", "", answer)
}
