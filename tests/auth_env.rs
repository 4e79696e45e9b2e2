//! `--authEnv CLAIM=VAR` (issue 16 item 4) end to end: with
//! `--childPerSession`, each authenticated caller gets a child of its own
//! whose environment holds that caller's identity, and a caller without
//! a usable value gets a 403 and no child. The real binary, the fixture's
//! `argv` tool reading its environment back, the test authorization
//! server of `tests/oauth/issuer.rs`, and rcgen certificates for mTLS.
//! The start-up refusals of the flag are unit tests (src/cli/tests.rs).
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
#[path = "oauth/issuer.rs"]
mod issuer;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{
    bearer, eventually, fixture, open_sse_as, post, tool_text, Gateway, Response, Streamable,
    WsClient, WAIT,
};
use issuer::{Issuer, Key};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const STARTED: &str = "child started (pid ";
const REFUSED: &str = "no MCP server started for a caller (403)";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `subject` that passes every check, with `email` if given.
fn token(key: &Key, issuer: &Issuer, subject: &str, email: Option<&str>) -> String {
    let mut claims = json!({
        "iss": issuer.url(),
        "sub": subject,
        "aud": RESOURCE,
        "client_id": "client-7",
        "iat": now(),
        "exp": now() + 600,
    });
    if let Some(email) = email {
        claims["email"] = json!(email);
    }
    key.sign(&claims)
}

/// The gateway in `mode` (extra flags), one child per session, handing
/// `sub` and `email` to each child.
fn start(issuer: &Issuer, mode: &[&str]) -> Gateway {
    let fixture = fixture();
    let url = issuer.url();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--authIssuer",
        url.as_str(),
        "--authResource",
        RESOURCE,
        "--childPerSession",
        "--authEnv",
        "sub=MCP_USER",
        "--authEnv",
        "email=MCP_EMAIL",
        "--logLevel",
        "debug",
    ];
    args.extend_from_slice(mode);
    let gw = Gateway::start(&args);
    eventually("the start-up JWKS fetch", || issuer.jwks_fetches() == 1);
    gw
}

/// `tools/call argv` asking for the two variables.
fn argv_call(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"argv","arguments":{"env":["MCP_USER","MCP_EMAIL"]}}})
}

/// What the child said about itself: its two variables and its pid.
fn seen(answer: &Value) -> (Value, i64) {
    let text: Value = serde_json::from_str(&tool_text(answer)).unwrap();
    (text["env"].clone(), text["pid"].as_i64().unwrap())
}

fn env_of(user: &str, email: &str) -> Value {
    json!({"MCP_USER": user, "MCP_EMAIL": email})
}

fn started(gw: &Gateway) -> usize {
    gw.log().matches(STARTED).count()
}

/// Callers who must get no child, each refused with the exact 403 that
/// names the claim: the request of the mode's entry point for a token is
/// `request`. No child starts for any of them (the spawn would be logged
/// before the refusal's answer is written).
fn assert_no_child_without_identity(
    gw: &Gateway,
    key: &Key,
    issuer: &Issuer,
    request: impl Fn(&str) -> Response,
) {
    let missing_email =
        "Forbidden: the caller has no email claim, which --authEnv passes to its MCP server";
    let unusable_sub =
        "Forbidden: the caller's sub claim is empty, over 256 bytes or has control characters";
    let long = "x".repeat(257);
    let cases = [
        // No email at all.
        (token(key, issuer, "carol", None), missing_email),
        // The verifier keeps no email it could not pass on: the 403 is
        // for a missing claim.
        (
            token(key, issuer, "dave", Some("dave\n@example.com")),
            missing_email,
        ),
        (
            token(key, issuer, "erin", Some(&format!("{long}@example.com"))),
            missing_email,
        ),
        // `sub` is the principal's subject even when unfit for an
        // environment: checked again here.
        (
            token(key, issuer, "frank\u{1b}[31m", Some("frank@example.com")),
            unusable_sub,
        ),
        (
            token(key, issuer, &long, Some("long@example.com")),
            unusable_sub,
        ),
    ];
    let before = started(gw);
    let refusals = gw.log().matches(REFUSED).count();
    for (n, (token, message)) in cases.iter().enumerate() {
        let response = request(token);
        assert_eq!(response.status, 403, "case {n}: {}", response.text());
        assert_eq!(
            response.json(),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":message}}),
            "case {n}"
        );
        // Not an authentication failure: no challenge to get a new token.
        assert_eq!(response.header("www-authenticate"), None, "case {n}");
    }
    eventually("the refusals in the log", || {
        gw.log().matches(REFUSED).count() == refusals + cases.len()
    });
    let log = gw.log();
    assert_eq!(log.matches(STARTED).count(), before, "{log}");
    // Names only, never the identity's values, in the start lines.
    assert!(!log.contains("@example.com"), "{log}");
}

#[test]
fn sse_callers_get_their_own_child_with_their_identity() {
    let key = Key::ed25519("k1");
    let issuer = Issuer::start(&[&key]);
    let gw = start(&issuer, &[]);
    let mut pids = Vec::new();
    let mut streams = Vec::new();
    for (user, email) in [("alice", "alice@example.com"), ("bob", "bob@example.com")] {
        let token = token(&key, &issuer, user, Some(email));
        let (mut events, endpoint) = open_sse_as(&gw, &token);
        let accepted = gw.request(&post(&endpoint, &argv_call(1).to_string(), &bearer(&token)));
        assert_eq!(accepted.status, 202, "{}", accepted.text());
        let (env, pid) = seen(&events.next_message().unwrap());
        assert_eq!(env, env_of(user, email));
        pids.push(pid);
        streams.push(events);
    }
    assert_ne!(pids[0], pids[1]);
    assert_eq!(started(&gw), 2);
    assert!(gw.log().contains("(caller env: MCP_USER, MCP_EMAIL)"));
    assert_no_child_without_identity(&gw, &key, &issuer, |token| {
        gw.request(
            format!(
                "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{}\r\n",
                bearer(token)
            )
            .as_bytes(),
        )
    });
    // The sessions still answer, each from its own child.
    for events in &mut streams {
        events.expect_nothing();
    }
}

#[test]
fn websocket_callers_get_their_own_child_with_their_identity() {
    let key = Key::es256("ec-1");
    let issuer = Issuer::start(&[&key]);
    let gw = start(&issuer, &["--outputTransport", "ws"]);
    let mut pids = Vec::new();
    for (user, email) in [("alice", "alice@example.com"), ("bob", "bob@example.com")] {
        let token = token(&key, &issuer, user, Some(email));
        let mut request = format!("ws://{}/message", gw.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, response) = tungstenite::client(request, gw.connect()).unwrap();
        assert_eq!(response.status(), 101);
        let mut client = WsClient { ws, protocol: None };
        client.send(&argv_call(1));
        let (env, pid) = seen(&client.next_message());
        assert_eq!(env, env_of(user, email));
        client.expect_nothing();
        pids.push(pid);
    }
    assert_ne!(pids[0], pids[1]);
    assert_eq!(started(&gw), 2);
    assert_no_child_without_identity(&gw, &key, &issuer, |token| {
        gw.request(
            format!(
                "GET /message HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{}\r\n",
                bearer(token)
            )
            .as_bytes(),
        )
    });
}

fn initialize(version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

#[test]
fn stateful_streamable_sessions_get_their_callers_identity() {
    let key = Key::ed25519("k1");
    let issuer = Issuer::start(&[&key]);
    let gw = start(
        &issuer,
        &["--outputTransport", "streamableHttp", "--stateful"],
    );
    let mut pids = Vec::new();
    for (user, email) in [("alice", "alice@example.com"), ("bob", "bob@example.com")] {
        let token = token(&key, &issuer, user, Some(email));
        let mut client = Streamable::new(&gw);
        let (head, events) =
            client.post_raw(&initialize("2025-11-25").to_string(), &bearer(&token));
        assert_eq!(head.status, 200, "{}", head.text());
        assert_eq!(events.unwrap().rest()[0]["id"], json!(0));
        client.session = head.header("mcp-session-id").map(str::to_owned);
        client.version = Some("2025-11-25".to_owned());
        for id in 1..=2 {
            let (head, events) = client.post_raw(&argv_call(id).to_string(), &bearer(&token));
            assert_eq!(head.status, 200, "{}", head.text());
            let (env, pid) = seen(&events.unwrap().rest().pop().unwrap());
            assert_eq!(env, env_of(user, email));
            // Both calls reach the session's one child.
            if id == 2 {
                assert_eq!(pids.last(), Some(&pid));
            } else {
                pids.push(pid);
            }
        }
    }
    assert_ne!(pids[0], pids[1]);
    assert_eq!(started(&gw), 2);
    let init = initialize("2025-11-25").to_string();
    assert_no_child_without_identity(&gw, &key, &issuer, |token| {
        Streamable::new(&gw).post_raw(&init, &bearer(token)).0
    });
}

#[test]
fn stateless_streamable_requests_get_their_callers_identity() {
    let key = Key::ed25519("k1");
    let issuer = Issuer::start(&[&key]);
    let gw = start(&issuer, &["--outputTransport", "streamableHttp"]);
    let client = Streamable::new(&gw);
    let mut pids = Vec::new();
    for (user, email) in [
        ("alice", "alice@example.com"),
        ("bob", "bob@example.com"),
        ("alice", "alice@example.com"),
    ] {
        let token = token(&key, &issuer, user, Some(email));
        let (head, events) = client.post_raw(&argv_call(1).to_string(), &bearer(&token));
        assert_eq!(head.status, 200, "{}", head.text());
        let (env, pid) = seen(&events.unwrap().rest().pop().unwrap());
        assert_eq!(env, env_of(user, email));
        pids.push(pid);
    }
    // A child per request: three requests, three children.
    assert!(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
    assert_eq!(started(&gw), 3);
    let call = argv_call(1).to_string();
    assert_no_child_without_identity(&gw, &key, &issuer, |token| {
        client.post_raw(&call, &bearer(token)).0
    });
}

mod mtls {
    //! `--authEnv tls_subject=VAR` behind mutual TLS.

    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

    type Tls = StreamOwned<ClientConnection, TcpStream>;

    fn issue(
        params: CertificateParams,
        ca: &(rcgen::Certificate, KeyPair),
    ) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca.0, &ca.1).unwrap();
        (cert, key)
    }

    fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        (params.self_signed(&key).unwrap(), key)
    }

    /// A client certificate whose subject is the RDN sequence
    /// `O=organization`, `CN=name` (in that order: the default name of
    /// rcgen's parameters, a CN, is replaced, not reused, so that the CN
    /// comes last as in most certificates).
    fn client_cert(
        ca: &(rcgen::Certificate, KeyPair),
        name: &str,
        organization: &str,
    ) -> (rcgen::Certificate, KeyPair) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        issue(params, ca)
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "supergateway-auth-env-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// One request over TLS as `client` (with `Connection: close`): the
    /// whole response.
    fn exchange(
        roots: &rcgen::Certificate,
        client: Option<&(rcgen::Certificate, KeyPair)>,
        gw: &Gateway,
        request: &str,
    ) -> String {
        let mut store = RootCertStore::empty();
        store.add(roots.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(cert.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
                )
                .unwrap(),
        };
        let tcp = TcpStream::connect(gw.addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let connection = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls: Tls = StreamOwned::new(connection, tcp);
        tls.write_all(request.as_bytes()).unwrap();
        tls.flush().unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) if !out.is_empty() => break,
                Err(err) => panic!("TLS exchange: {err}"),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn post_close(body: &str) -> String {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// The last non-empty `data:` of an SSE body: the answer.
    fn last_data(raw: &str) -> Value {
        let data = raw
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .rfind(|data| !data.trim().is_empty())
            .unwrap_or_else(|| panic!("no data in {raw:?}"));
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn the_child_sees_the_certificate_subject() {
        let server_ca = ca("server CA");
        let clients_ca = ca("clients CA");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = issue(params, &server_ca);
        let cert_file = temp_file("cert.pem", &server.0.pem());
        let key_file = temp_file("key.pem", &server.1.serialize_pem());
        let ca_file = temp_file("clients.pem", &clients_ca.0.pem());
        let fixture = fixture();
        let gw = Gateway::start(&[
            "--stdio",
            fixture.as_str(),
            "--outputTransport",
            "streamableHttp",
            "--tlsCert",
            cert_file.to_str().unwrap(),
            "--tlsKey",
            key_file.to_str().unwrap(),
            "--tlsClientCa",
            ca_file.to_str().unwrap(),
            "--tlsClientAuth",
            "optional",
            "--childPerSession",
            "--authEnv",
            "tls_subject=MCP_CLIENT",
        ]);
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"argv","arguments":{"env":["MCP_CLIENT"]}}})
        .to_string();
        for (name, organization, subject) in [
            ("alice", "Example", "CN=alice,O=Example"),
            // RFC 4514 escapes the special characters of a value.
            ("bob, jr.", "Example+Co", "CN=bob\\, jr.,O=Example\\+Co"),
        ] {
            let cert = client_cert(&clients_ca, name, organization);
            let raw = exchange(&server_ca.0, Some(&cert), &gw, &post_close(&call));
            assert!(raw.starts_with("HTTP/1.1 200 "), "{raw}");
            let text: Value = serde_json::from_str(&tool_text(&last_data(&raw))).unwrap();
            assert_eq!(text["env"], json!({ "MCP_CLIENT": subject }), "{raw}");
        }
        assert_eq!(started(&gw), 2);
        // Without a certificate (optional): no subject, no child.
        let raw = exchange(&server_ca.0, None, &gw, &post_close(&call));
        assert!(raw.starts_with("HTTP/1.1 403 "), "{raw}");
        let body = raw.split_once("\r\n\r\n").unwrap().1;
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap(),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":
                "Forbidden: the caller has no client certificate subject (tls_subject), which --authEnv passes to its MCP server"}})
        );
        eventually("the refusal in the log", || gw.log().contains(REFUSED));
        assert_eq!(started(&gw), 2);
        for file in [cert_file, key_file, ca_file] {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A 2026-07-28 `tools/call argv` (no session; the version, method and
/// name in headers and `_meta`), as `token`'s holder: the answer.
fn modern_argv(client: &Streamable, token: &str, id: u64) -> (Response, Option<Value>) {
    let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":"argv","arguments":{"env":["MCP_USER","MCP_EMAIL"]},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
            "io.modelcontextprotocol/clientCapabilities":{}}}});
    let headers = format!(
        "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: argv\r\n{}",
        bearer(token)
    );
    let (head, events) = client.post_raw(&body.to_string(), &headers);
    let answer = match events {
        Some(mut events) => events.rest().pop(),
        None if head.status == 200 => Some(head.json()),
        None => None,
    };
    (head, answer)
}

#[test]
fn modern_requests_get_a_child_of_their_own_with_their_callers_identity() {
    let key = Key::ed25519("k1");
    let issuer = Issuer::start(&[&key]);
    for mode in [&[][..], &["--stateful"]] {
        let mut flags = vec!["--outputTransport", "streamableHttp"];
        flags.extend_from_slice(mode);
        let gw = start(&issuer, &flags);
        let client = Streamable::new(&gw);
        let mut pids = Vec::new();
        for (n, (user, email)) in [
            ("alice", "alice@example.com"),
            ("bob", "bob@example.com"),
            ("alice", "alice@example.com"),
        ]
        .into_iter()
        .enumerate()
        {
            let token = token(&key, &issuer, user, Some(email));
            let (head, answer) = modern_argv(&client, &token, n as u64 + 1);
            assert_eq!(head.status, 200, "{mode:?}: {}", head.text());
            assert_eq!(head.header("mcp-session-id"), None);
            let (env, pid) = seen(&answer.unwrap());
            assert_eq!(env, env_of(user, email), "{mode:?}");
            pids.push(pid);
        }
        // A child per request, whoever asks.
        assert!(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
        assert_eq!(started(&gw), 3, "{mode:?}");
        assert_no_child_without_identity(&gw, &key, &issuer, |token| {
            modern_argv(&client, token, 9).0
        });
    }
}
