//! TLS and mutual TLS serving (`--tlsCert`, `--tlsKey`, `--tlsClientCa`,
//! `--tlsClientAuth`) end to end: the real binary, test certificates from
//! rcgen, and a synchronous rustls client over loopback sockets.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::{eventually, fixture, Gateway, WAIT};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{json, Value};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A certificate authority of the tests.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The server certificate for `localhost` and `127.0.0.1`.
    fn server(&self, common_name: &str, serial: u64) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate with subject `O=organization, CN=name`.
    fn client(&self, name: &str, organization: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    /// A client certificate with an empty subject (the name only in a
    /// subjectAltName, as SPIFFE and service meshes issue them).
    fn nameless_client(&self) -> Issued {
        let mut params = CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued { cert, key }
    }
}

/// A certificate and its key.
struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Issued {
    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn identity(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            vec![self.der()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der())),
        )
    }
}

/// Writes `contents` to a fresh file in the temp directory.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "supergateway-tls-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

/// A gateway's TLS files.
struct Files {
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new(server: &Issued) -> Self {
        Self {
            cert: temp_file("cert.pem", &server.cert.pem()),
            key: temp_file("key.pem", &server.key.serialize_pem()),
        }
    }

    fn replace(&self, server: &Issued) {
        std::fs::write(&self.cert, server.cert.pem()).unwrap();
        std::fs::write(&self.key, server.key.serialize_pem()).unwrap();
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

/// Starts the fixture behind a TLS gateway with `extra` flags.
fn start(files: &Files, extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--tlsCert",
        files.cert.to_str().unwrap(),
        "--tlsKey",
        files.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// How the test client connects.
struct Client {
    roots: Vec<CertificateDer<'static>>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    alpn: Vec<Vec<u8>>,
}

impl Client {
    fn trusting(ca: &Ca) -> Self {
        Self {
            roots: vec![ca.cert.der().clone()],
            identity: None,
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            alpn: vec![b"http/1.1".to_vec()],
        }
    }

    fn with_certificate(mut self, client: &Issued) -> Self {
        self.identity = Some(client.identity());
        self
    }

    fn config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for root in &self.roots {
            roots.add(root.clone()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((certs, key)) => builder
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .unwrap(),
        };
        config.alpn_protocols = self.alpn.clone();
        Arc::new(config)
    }

    /// A TLS connection to the gateway, the handshake done as far as the
    /// client can tell (in TLS 1.3 a refused client certificate shows on
    /// the first read).
    fn connect(&self, gw: &Gateway) -> std::io::Result<Tls> {
        let tcp = TcpStream::connect(gw.addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = ClientConnection::new(self.config(), name).unwrap();
        let mut tcp = tcp;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)?;
        }
        Ok(StreamOwned::new(tls, tcp))
    }

    /// One request with `Connection: close`; everything the gateway sent
    /// back, or the error that ended the exchange before any byte came.
    fn exchange(&self, gw: &Gateway, request: &str) -> std::io::Result<String> {
        let mut tls = self.connect(gw)?;
        tls.write_all(request.as_bytes())?;
        tls.flush()?;
        read_all(&mut tls)
    }

    /// One request: its status and body.
    fn request(&self, gw: &Gateway, request: &str) -> (u16, String) {
        let raw = self.exchange(gw, request).unwrap();
        split(&raw)
    }
}

/// Reads until the end of the stream; a reset or truncation after some
/// bytes ends the read as well, before any byte it is the error.
fn read_all(tls: &mut Tls) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(err) if out.is_empty() => return Err(err),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The status and body of a whole `Connection: close` response.
fn split(raw: &str) -> (u16, String) {
    assert!(raw.starts_with("HTTP/1.1 "), "not a response: {raw:?}");
    let status = raw[9..12].parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_owned())
}

/// A header's value in a whole response.
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split_once("\r\n\r\n").map_or(raw, |(h, _)| h);
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn post(path: &str, body: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nConnection: close\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

/// The first non-empty `data:` of an SSE body (chunked or not; priming
/// events carry none).
fn first_data(raw: &str) -> Value {
    let data = raw
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .find(|data| !data.trim().is_empty())
        .unwrap_or_else(|| panic!("no data in {raw:?}"));
    serde_json::from_str(data).unwrap()
}

/// An open SSE stream over TLS: the lines of its body.
struct SseStream {
    reader: BufReader<Tls>,
}

impl SseStream {
    fn open(client: &Client, gw: &Gateway) -> Self {
        let mut tls = client.connect(gw).unwrap();
        tls.write_all(b"GET /sse HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(tls);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
        Self { reader }
    }

    /// The next `data:` value of the given event.
    fn next_data(&mut self, event: &str) -> String {
        let mut current = String::from("message");
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "stream ended"
            );
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                current = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if current == event {
                    return data.to_owned();
                }
                current = String::from("message");
            }
        }
    }
}

#[test]
fn every_mode_answers_over_tls() {
    let ca = Ca::new("test CA");
    let files = Files::new(&ca.server("localhost", 1));
    let client = Client::trusting(&ca);

    // Streamable HTTP.
    let gw = start(&files, &["--outputTransport", "streamableHttp"]);
    let raw = client.exchange(&gw, &post("/mcp", PING, "")).unwrap();
    assert_eq!(split(&raw).0, 200, "{raw}");
    assert_eq!(
        first_data(&raw),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
    drop(gw);

    // SSE: the stream over one TLS connection, the POST over another.
    let gw = start(&files, &[]);
    let mut stream = SseStream::open(&client, &gw);
    let endpoint = stream.next_data("endpoint");
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let (status, body) = client.request(&gw, &post(&endpoint, PING, ""));
    assert_eq!((status, body.as_str()), (202, "Accepted"));
    let answer: Value = serde_json::from_str(&stream.next_data("message")).unwrap();
    assert_eq!(answer, json!({"jsonrpc":"2.0","id":1,"result":{}}));
    drop(gw);

    // WebSocket: wss://.
    let gw = start(&files, &["--outputTransport", "ws"]);
    let tls = client.connect(&gw).unwrap();
    let url = format!("wss://localhost:{}/message", gw.addr.port());
    let (mut ws, response) = tungstenite::client(url.as_str(), tls).unwrap();
    assert_eq!(response.status(), 101);
    ws.send(tungstenite::Message::text(PING)).unwrap();
    let answer = loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(text) => break text,
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
    ws.close(None).unwrap();
}

#[test]
fn tls_versions_and_alpn() {
    let ca = Ca::new("test CA");
    let files = Files::new(&ca.server("localhost", 1));
    let gw = start(&files, &["--healthEndpoint", "/healthz"]);
    for (version, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let mut client = Client::trusting(&ca);
        client.versions = vec![version];
        client.alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let tls = client.connect(&gw).unwrap();
        assert_eq!(tls.conn.protocol_version(), Some(expected));
        assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(tls.conn.peer_certificates().unwrap()[0], files_cert(&files));
    }
    // A client that offers only h2 is refused (no protocol in common).
    let mut client = Client::trusting(&ca);
    client.alpn = vec![b"h2".to_vec()];
    assert!(client.connect(&gw).is_err());
}

fn files_cert(files: &Files) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(&files.cert).unwrap()
}

#[test]
fn plain_http_and_silent_clients_are_closed_and_the_next_one_is_served() {
    let ca = Ca::new("test CA");
    let files = Files::new(&ca.server("localhost", 1));
    let gw = start(
        &files,
        &[
            "--healthEndpoint",
            "/healthz",
            "--headTimeout",
            "500",
            "--logLevel",
            "debug",
        ],
    );
    let client = Client::trusting(&ca);
    let health = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    // Plain HTTP on the TLS port: no HTTP answer, the connection closes.
    let mut plain = gw.connect();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    plain.write_all(health.as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(client.request(&gw, health), (200, "ok".to_owned()));

    // A client that connects and says nothing is closed (the handshake
    // shares the request head's deadline); WAIT only bounds a hang.
    let mut silent = gw.connect();
    silent.set_read_timeout(Some(WAIT)).unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    loop {
        match silent.read(&mut byte) {
            Ok(0) => break,
            Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
    assert!(started.elapsed() < WAIT);
    assert_eq!(client.request(&gw, health), (200, "ok".to_owned()));
    eventually("the plain request is logged once", || {
        gw.log().matches("TLS handshake with").count() == 2
    });
}

#[test]
fn connections_over_the_limit_are_closed_before_the_handshake() {
    let ca = Ca::new("test CA");
    let files = Files::new(&ca.server("localhost", 1));
    // `--maxSessions 1`: 2 × 1 + 64 connections (src/gateway/mod.rs). The
    // head timeout, which bounds a handshake, is far longer than WAIT, so
    // only the shedding can close a silent connection within WAIT.
    let limit = 66;
    let gw = start(
        &files,
        &[
            "--maxSessions",
            "1",
            "--headTimeout",
            "120000",
            "--healthEndpoint",
            "/healthz",
        ],
    );
    // Accepted in order: these fill every slot and say nothing.
    let held: Vec<TcpStream> = (0..limit).map(|_| gw.connect()).collect();
    let over: Vec<TcpStream> = (0..3).map(|_| gw.connect()).collect();
    for mut extra in over {
        extra.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        match extra.read_to_end(&mut got) {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            Err(err) => panic!("expected the connection to close, got {err}"),
        }
        // Closed unanswered: no plaintext 503, no TLS record.
        assert_eq!(got, b"", "{:?}", String::from_utf8_lossy(&got));
    }
    eventually("the refusals are logged", || {
        gw.log()
            .matches(&format!(
                "over {limit} connections (closed before the TLS handshake)"
            ))
            .count()
            == 3
    });
    // Slots freed, a TLS client is served again.
    drop(held);
    let client = Client::trusting(&ca);
    let health = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    eventually(
        "a client is served once the held connections are gone",
        || {
            client
                .exchange(&gw, health)
                .is_ok_and(|raw| split(&raw) == (200, "ok".to_owned()))
        },
    );
}

fn start_mtls(files: &Files, ca: &Path, mode: Option<&str>, extra: &[&str]) -> Gateway {
    let mut args = vec!["--tlsClientCa", ca.to_str().unwrap()];
    if let Some(mode) = mode {
        args.extend(["--tlsClientAuth", mode]);
    }
    args.extend_from_slice(extra);
    start(files, &args)
}

#[test]
fn mutual_tls_required_and_optional() {
    let ca = Ca::new("test CA");
    let clients_ca = Ca::new("clients CA");
    let other_ca = Ca::new("other CA");
    let files = Files::new(&ca.server("localhost", 1));
    let ca_file = temp_file("clients.pem", &clients_ca.pem());
    let alice = clients_ca.client("alice", "Example");
    let mallory = other_ca.client("alice", "Example");
    let health = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    let gw = start_mtls(&files, &ca_file, None, &["--healthEndpoint", "/healthz"]);
    let anonymous = Client::trusting(&ca);
    assert!(anonymous.exchange(&gw, health).is_err(), "no certificate");
    let impostor = Client::trusting(&ca).with_certificate(&mallory);
    assert!(impostor.exchange(&gw, health).is_err(), "another CA");
    let known = Client::trusting(&ca).with_certificate(&alice);
    assert_eq!(known.request(&gw, health), (200, "ok".to_owned()));
    eventually("the refusals are logged", || {
        gw.log().matches("TLS handshake with").count() == 2
    });
    drop(gw);

    let gw = start_mtls(
        &files,
        &ca_file,
        Some("optional"),
        &["--healthEndpoint", "/healthz"],
    );
    assert_eq!(anonymous.request(&gw, health), (200, "ok".to_owned()));
    assert!(impostor.exchange(&gw, health).is_err(), "another CA");
    assert_eq!(known.request(&gw, health), (200, "ok".to_owned()));
    let _ = std::fs::remove_file(ca_file);
}

/// With client certificates, a browser page of a foreign origin cannot
/// act as the user (browsers present certificates by themselves), even on a
/// non-loopback bind where Host and Origin are otherwise not checked; and a
/// certificate with an empty subject is refused (it would name no caller).
#[test]
fn client_certificates_refuse_foreign_origins_and_nameless_certificates() {
    let ca = Ca::new("test CA");
    let clients_ca = Ca::new("clients CA");
    let files = Files::new(&ca.server("localhost", 1));
    let ca_file = temp_file("clients.pem", &clients_ca.pem());
    let alice = Client::trusting(&ca).with_certificate(&clients_ca.client("alice", "Example"));
    let gw = start_mtls(
        &files,
        &ca_file,
        None,
        &[
            "--outputTransport",
            "streamableHttp",
            "--host",
            "0.0.0.0",
            "--cors",
            "https://app.example",
        ],
    );
    let pong = json!({"jsonrpc":"2.0","id":1,"result":{}});
    for origin in ["", "Origin: https://app.example\r\n"] {
        let raw = alice.exchange(&gw, &post("/mcp", PING, origin)).unwrap();
        assert_eq!(split(&raw).0, 200, "{origin:?}: {raw}");
        assert_eq!(first_data(&raw), pong, "{origin:?}");
    }
    let (status, body) =
        alice.request(&gw, &post("/mcp", PING, "Origin: https://evil.example\r\n"));
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,
            "message":"Forbidden: Origin is not allowed (client certificates are in use)"}})
    );
    // The WebSocket upgrade, which CORS does not guard, gets the same check.
    let upgrade = "GET /message HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Origin: https://evil.example\r\n\r\n";
    drop(gw);
    let gw = start_mtls(
        &files,
        &ca_file,
        None,
        &["--outputTransport", "ws", "--host", "0.0.0.0"],
    );
    let raw = alice.exchange(&gw, upgrade).unwrap();
    assert_eq!(split(&raw).0, 403, "{raw}");

    let nameless = Client::trusting(&ca).with_certificate(&clients_ca.nameless_client());
    // Refused after the handshake: an error or an end without a byte.
    if let Ok(raw) = nameless.exchange(&gw, &post("/message", PING, "")) {
        assert!(raw.is_empty(), "{raw}");
    }
    eventually("the nameless certificate's refusal is logged", || {
        gw.log().contains(
            "its client certificate's subject cannot be read: the subject is empty \
             (callers are named by their certificate's subject)",
        )
    });
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn a_session_belongs_to_its_certificate() {
    let ca = Ca::new("test CA");
    let clients_ca = Ca::new("clients CA");
    let files = Files::new(&ca.server("localhost", 1));
    let ca_file = temp_file("clients.pem", &clients_ca.pem());
    let alice = Client::trusting(&ca).with_certificate(&clients_ca.client("alice", "Example"));
    let bob = Client::trusting(&ca).with_certificate(&clients_ca.client("bob", "Example"));
    let anonymous = Client::trusting(&ca);
    let gw = start_mtls(
        &files,
        &ca_file,
        Some("optional"),
        &["--outputTransport", "streamableHttp", "--stateful"],
    );
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let raw = alice
        .exchange(&gw, &post("/mcp", &init.to_string(), ""))
        .unwrap();
    assert_eq!(split(&raw).0, 200, "{raw}");
    let session = header(&raw, "mcp-session-id").unwrap().to_owned();
    let extra = format!("Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n");
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        alice.request(&gw, &post("/mcp", initialized, &extra)).0,
        202
    );

    let forbidden = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,
        "message":"Forbidden: the session belongs to another caller"}});
    for (who, client) in [("bob", &bob), ("no certificate", &anonymous)] {
        let (status, body) = client.request(&gw, &post("/mcp", PING, &extra));
        assert_eq!(status, 403, "{who}: {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            forbidden,
            "{who}"
        );
    }
    let raw = alice.exchange(&gw, &post("/mcp", PING, &extra)).unwrap();
    assert_eq!(split(&raw).0, 200, "{raw}");
    assert_eq!(
        first_data(&raw),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn sighup_reloads_the_certificate_and_open_streams_keep_going() {
    let ca = Ca::new("test CA");
    let first = ca.server("first", 1);
    let second = ca.server("second", 2);
    let files = Files::new(&first);
    let gw = start(&files, &[]);
    let client = Client::trusting(&ca);
    let served = |client: &Client| {
        let tls = client.connect(&gw).unwrap();
        tls.conn.peer_certificates().unwrap()[0].clone()
    };
    assert_eq!(served(&client), first.der());
    let mut stream = SseStream::open(&client, &gw);
    let endpoint = stream.next_data("endpoint");

    files.replace(&second);
    gw.signal("HUP");
    eventually("new connections get the new certificate", || {
        served(&client) == second.der()
    });
    assert!(gw.log().contains("TLS: reloaded"), "{}", gw.log());
    // Still running, and the stream opened before the reload still receives.
    let (status, _) = client.request(&gw, &post(&endpoint, PING, ""));
    assert_eq!(status, 202);
    let answer: Value = serde_json::from_str(&stream.next_data("message")).unwrap();
    assert_eq!(answer, json!({"jsonrpc":"2.0","id":1,"result":{}}));

    // A broken file keeps the current certificate, with one line saying why.
    std::fs::write(&files.cert, "not a certificate").unwrap();
    gw.signal("HUP");
    eventually("the failed reload is logged", || {
        gw.log().contains("TLS reload failed")
    });
    assert_eq!(served(&client), second.der());
}

#[test]
fn bad_tls_flags_are_usage_errors() {
    let ca = Ca::new("test CA");
    let files = Files::new(&ca.server("localhost", 1));
    let missing = std::env::temp_dir().join("supergateway-tls-missing.pem");
    let not_pem = temp_file("empty.pem", "nothing here\n");
    let cert = files.cert.to_str().unwrap();
    let key = files.key.to_str().unwrap();
    let table: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--tlsCert", cert],
            "--tlsCert needs --tlsKey".to_owned(),
        ),
        (vec!["--tlsKey", key], "--tlsKey needs --tlsCert".to_owned()),
        (
            vec!["--tlsCert", missing.to_str().unwrap(), "--tlsKey", key],
            format!("--tlsCert {}", missing.display()),
        ),
        (
            vec!["--tlsCert", not_pem.to_str().unwrap(), "--tlsKey", key],
            format!(
                "--tlsCert {}: no PEM certificate in the file",
                not_pem.display()
            ),
        ),
        (
            vec!["--tlsCert", cert, "--tlsKey", cert],
            format!("--tlsKey {}: no usable private key", cert),
        ),
        (
            vec![
                "--tlsCert",
                cert,
                "--tlsKey",
                key,
                "--tlsClientAuth",
                "optional",
            ],
            "--tlsClientAuth needs --tlsClientCa".to_owned(),
        ),
        (
            vec![
                "--tlsCert",
                cert,
                "--tlsKey",
                key,
                "--tlsClientCa",
                cert,
                "--tlsClientAuth",
                "maybe",
            ],
            "--tlsClientAuth must be required or optional".to_owned(),
        ),
        (
            vec!["--tlsClientCa", cert],
            "--tlsClientCa needs --tlsCert and --tlsKey".to_owned(),
        ),
    ];
    for (flags, expected) in table {
        let output = Command::new(common::binary())
            .args(["--stdio", "true", "--port", "0"])
            .args(&flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{flags:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("supergateway: {expected}")),
            "{flags:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_file(not_pem);
}

#[test]
fn without_tls_sighup_still_stops_the_gateway() {
    let fixture = fixture();
    let mut gw = Gateway::start(&["--stdio", fixture.as_str()]);
    gw.signal("HUP");
    let status = gw.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", gw.log());
    assert!(
        gw.log().contains("received Hup; shutting down"),
        "{}",
        gw.log()
    );
}
