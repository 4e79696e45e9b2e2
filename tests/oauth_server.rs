//! The in-tree test authorization server (`tests/oauth/server.rs`) behaves as its module doc
//! says: the end-to-end OAuth tests of the reverse bridges rely on exactly these answers.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
#[path = "oauth/server.rs"]
mod oauth_server;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use oauth_server::{base64, form_decode, form_encode, s256, Client, Config, Iss, TestAs};
use serde_json::{json, Value};

/// One answer, read whole (every request is sent with `Connection: close`).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, target: &str) -> Answer {
    http(addr, "GET", target, &[], b"")
}

fn post_form(
    addr: SocketAddr,
    target: &str,
    pairs: &[(&str, String)],
    extra: &[(&str, &str)],
) -> Answer {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    headers.extend_from_slice(extra);
    http(
        addr,
        "POST",
        target,
        &headers,
        form_encode(pairs).as_bytes(),
    )
}

fn mcp(server: &TestAs, token: Option<&str>, message: &Value) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    http(
        server.addr(),
        "POST",
        "/mcp",
        &headers,
        message.to_string().as_bytes(),
    )
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-the-test-verifier-43plus";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// DCR with `method`; the client id and secret.
fn register(server: &TestAs, prefix: &str, method: &str) -> (String, Option<String>) {
    let body = json!({
        "client_name": "test", "redirect_uris": [REDIRECT], "application_type": "native",
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": method,
    });
    let answer = http(
        server.addr(),
        "POST",
        &format!("{prefix}/register"),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 201);
    let doc = answer.json();
    assert_eq!(doc["token_endpoint_auth_method"], method);
    (
        doc["client_id"].as_str().unwrap().to_owned(),
        doc["client_secret"].as_str().map(str::to_owned),
    )
}

/// GET authorize with PKCE for `client`; the redirect's query.
fn authorize(
    server: &TestAs,
    prefix: &str,
    client: &str,
    scope: Option<&str>,
) -> HashMap<String, String> {
    let mut pairs = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("state", "st4te".to_owned()),
        ("resource", server.mcp_url()),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope.to_owned()));
    }
    let answer = get(
        server.addr(),
        &format!("{prefix}/authorize?{}", form_encode(&pairs)),
    );
    assert_eq!(
        answer.status,
        302,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let location = answer.header("location").unwrap();
    let query = location.strip_prefix(&format!("{REDIRECT}?")).unwrap();
    form_decode(query)
}

fn redeem(server: &TestAs, prefix: &str, client: &str, code: &str, verifier: &str) -> Answer {
    post_form(
        server.addr(),
        &format!("{prefix}/token"),
        &[
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", verifier.into()),
            ("client_id", client.into()),
            ("resource", server.mcp_url()),
        ],
        &[],
    )
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

#[test]
fn unauthenticated_mcp_gets_the_challenge_and_metadata_is_discoverable() {
    let server = TestAs::start(Config {
        challenge_scope: Some("mcp:basic".into()),
        prm_scopes: Some(vec!["mcp:basic".into(), "mcp:write".into()]),
        as_scopes: Some(vec!["mcp:basic".into(), "offline_access".into()]),
        ..Config::default()
    });
    let base = server.base();
    let answer = mcp(&server, None, &initialize());
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.header("www-authenticate").unwrap(),
        format!("Bearer scope=\"mcp:basic\", resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"")
    );
    let answer = mcp(&server, Some("made-up"), &initialize());
    assert_eq!(answer.status, 401);
    assert!(answer
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\", "));

    let prm = get(server.addr(), "/.well-known/oauth-protected-resource/mcp");
    assert_eq!(prm.status, 200);
    assert_eq!(
        prm.json(),
        json!({"resource": format!("{base}/mcp"), "authorization_servers": [base], "scopes_supported": ["mcp:basic", "mcp:write"]})
    );
    assert_eq!(
        get(server.addr(), "/.well-known/oauth-protected-resource").status,
        404
    );

    let meta = get(server.addr(), "/.well-known/oauth-authorization-server").json();
    assert_eq!(meta["issuer"], base);
    assert_eq!(meta["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(meta["token_endpoint"], format!("{base}/token"));
    assert_eq!(meta["registration_endpoint"], format!("{base}/register"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["scopes_supported"],
        json!(["mcp:basic", "offline_access"])
    );
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert!(meta.get("client_id_metadata_document_supported").is_none());
    let counts = server.counts();
    assert_eq!((counts.mcp_401, counts.prm, counts.metadata), (2, 1, 1));
}

#[test]
fn authorization_code_with_pkce_resource_and_iss() {
    let server = TestAs::start(Config::default());
    let (client, secret) = register(&server, "", "none");
    assert_eq!(secret, None);
    let query = authorize(&server, "", &client, Some("mcp:basic"));
    assert_eq!(query["state"], "st4te");
    assert_eq!(query["iss"], server.base());
    let code = query["code"].clone();

    // A wrong verifier does not redeem the code, and burns it: a code is tried once.
    let answer = redeem(
        &server,
        "",
        &client,
        &code,
        "not-the-verifier-not-the-verifier-not-the-verifier",
    );
    assert_eq!(
        (answer.status, answer.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let query = authorize(&server, "", &client, Some("mcp:basic"));
    let answer = redeem(&server, "", &client, &query["code"], VERIFIER);
    assert_eq!(answer.status, 200);
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "mcp:basic");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string());
    // Used once: a second redemption fails.
    assert_eq!(
        redeem(&server, "", &client, &query["code"], VERIFIER).status,
        400
    );

    let answer = mcp(&server, Some(access), &initialize());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["result"]["protocolVersion"], "2025-06-18");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}});
    assert_eq!(
        mcp(&server, Some(access), &call).json()["result"]["content"][0]["text"],
        "scopes=mcp:basic"
    );
    let discover = json!({"jsonrpc": "2.0", "id": 3, "method": "server/discover", "params": {}});
    assert_eq!(
        mcp(&server, Some(access), &discover).json()["error"]["code"],
        -32601
    );
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(mcp(&server, Some(access), &note).status, 202);

    let counts = server.counts();
    assert_eq!(counts.token("authorization_code"), 3);
    assert_eq!(counts.token_ok("authorization_code"), 1);
    assert_eq!(counts.register, 1);
    assert_eq!(server.registrations()[0].body["application_type"], "native");
    assert!(server.secrets().iter().any(|s| s == access));
}

#[test]
fn authorize_refuses_what_the_spec_requires() {
    let server = TestAs::start(Config::default());
    let (client, _) = register(&server, "", "none");
    let base = [
        ("response_type", "code".to_owned()),
        ("client_id", client.clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("resource", server.mcp_url()),
    ];
    let without = |name: &str| {
        let pairs: Vec<_> = base.iter().filter(|(n, _)| *n != name).cloned().collect();
        get(
            server.addr(),
            &format!("/authorize?{}", form_encode(&pairs)),
        )
    };
    let error_of = |answer: Answer| {
        form_decode(
            answer
                .header("location")
                .unwrap()
                .split_once('?')
                .unwrap()
                .1,
        )["error"]
            .clone()
    };
    assert_eq!(error_of(without("code_challenge")), "invalid_request");
    assert_eq!(error_of(without("resource")), "invalid_target");
    // Unknown client and unregistered redirect URI: never redirected to.
    let mut pairs = base.to_vec();
    pairs[1].1 = "nobody".into();
    assert_eq!(
        get(
            server.addr(),
            &format!("/authorize?{}", form_encode(&pairs))
        )
        .status,
        400
    );
    let mut pairs = base.to_vec();
    pairs[2].1 = "http://127.0.0.1:9/elsewhere".into();
    assert_eq!(
        get(
            server.addr(),
            &format!("/authorize?{}", form_encode(&pairs))
        )
        .status,
        400
    );
    server.update(|c| c.deny = true);
    assert_eq!(
        error_of(get(
            server.addr(),
            &format!("/authorize?{}", form_encode(&base))
        )),
        "access_denied"
    );
}

#[test]
fn iss_switches() {
    let server = TestAs::start(Config::default());
    let (client, _) = register(&server, "", "none");
    let issuer = server.base();
    server.update(|c| c.iss = Iss::Wrong);
    assert_eq!(
        authorize(&server, "", &client, None)["iss"],
        "https://evil.example.com"
    );
    server.update(|c| c.iss = Iss::Normalized);
    assert_eq!(
        authorize(&server, "", &client, None)["iss"],
        format!("{issuer}/")
    );
    server.update(|c| {
        c.iss = Iss::Omit;
        c.iss_supported = None;
        c.metadata_issuer = Some("https://attacker.example.com".into());
    });
    assert!(!authorize(&server, "", &client, None).contains_key("iss"));
    let meta = get(server.addr(), "/.well-known/oauth-authorization-server").json();
    assert!(meta
        .get("authorization_response_iss_parameter_supported")
        .is_none());
    assert_eq!(meta["issuer"], "https://attacker.example.com");
}

#[test]
fn refresh_rotates_and_revocation_is_invalid_grant() {
    let server = TestAs::start(Config::default());
    let (client, secret) = register(&server, "", "client_secret_basic");
    let secret = secret.unwrap();
    let basic = format!("Basic {}", base64(format!("{client}:{secret}").as_bytes()));
    let query = authorize(&server, "", &client, Some("mcp:basic"));
    let form = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", query["code"].clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
        ("resource", server.mcp_url()),
    ];
    // The Basic client must authenticate: no header is invalid_client, 401.
    let answer = post_form(server.addr(), "/token", &form, &[]);
    assert_eq!(
        (answer.status, answer.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let query = authorize(&server, "", &client, Some("mcp:basic"));
    let mut form = form.to_vec();
    form[1].1 = query["code"].clone();
    let tokens = post_form(server.addr(), "/token", &form, &[("Authorization", &basic)]).json();
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    let refresh = |token: &str| {
        post_form(
            server.addr(),
            "/token",
            &[
                ("grant_type", "refresh_token".into()),
                ("refresh_token", token.into()),
                ("resource", server.mcp_url()),
            ],
            &[("Authorization", &basic)],
        )
    };
    let answer = refresh(&first);
    assert_eq!(answer.status, 200);
    let second = answer.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(answer.json()["scope"], "mcp:basic");
    // Rotation: the used one is gone.
    assert_eq!(refresh(&first).json()["error"], "invalid_grant");
    server.revoke_refresh_tokens();
    let answer = refresh(&second);
    assert_eq!(
        (answer.status, answer.json()["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let counts = server.counts();
    assert_eq!(
        (
            counts.token("refresh_token"),
            counts.token_ok("refresh_token")
        ),
        (3, 1)
    );
}

#[test]
fn expired_tokens_and_short_lifetimes() {
    let server = TestAs::start(Config {
        expires_in: 1,
        ..Config::default()
    });
    let (client, _) = register(&server, "", "none");
    let query = authorize(&server, "", &client, None);
    let tokens = redeem(&server, "", &client, &query["code"], VERIFIER).json();
    assert_eq!(tokens["expires_in"], 1);
    assert!(tokens.get("scope").is_none());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp(&server, Some(access), &initialize()).status, 200);
    server.expire_access_tokens();
    let answer = mcp(&server, Some(access), &initialize());
    assert_eq!(answer.status, 401);
    assert!(answer
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
}

#[test]
fn step_up_on_tools_call() {
    let server = TestAs::start(Config {
        call_scope: Some("mcp:write".into()),
        ..Config::default()
    });
    let (client, _) = register(&server, "", "none");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}});
    let query = authorize(&server, "", &client, Some("mcp:basic"));
    let basic = redeem(&server, "", &client, &query["code"], VERIFIER).json();
    let answer = mcp(&server, basic["access_token"].as_str(), &call);
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.header("www-authenticate").unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"mcp:write\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            server.base()
        )
    );
    let tools = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    assert_eq!(
        mcp(&server, basic["access_token"].as_str(), &tools).status,
        200
    );
    let query = authorize(&server, "", &client, Some("mcp:basic mcp:write"));
    let both = redeem(&server, "", &client, &query["code"], VERIFIER).json();
    let answer = mcp(&server, both["access_token"].as_str(), &call);
    assert_eq!(
        answer.json()["result"]["content"][0]["text"],
        "scopes=mcp:basic mcp:write"
    );
    assert_eq!(server.counts().mcp_403, 1);
}

#[test]
fn client_credentials_and_preregistered_post() {
    let server = TestAs::start(Config {
        dcr: false,
        clients: vec![Client {
            id: "svc".into(),
            secret: Some("s3cret:with/odd&chars".into()),
            method: "client_secret_basic".into(),
            redirect_uris: Vec::new(),
            prefix: String::new(),
        }],
        ..Config::default()
    });
    assert!(
        get(server.addr(), "/.well-known/oauth-authorization-server")
            .json()
            .get("registration_endpoint")
            .is_none()
    );
    // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
    let basic = format!("Basic {}", base64(b"svc:s3cret%3Awith%2Fodd%26chars"));
    let form = [
        ("grant_type", "client_credentials".to_owned()),
        ("scope", "mcp:basic".to_owned()),
        ("resource", server.mcp_url()),
    ];
    let answer = post_form(server.addr(), "/token", &form, &[("Authorization", &basic)]);
    assert_eq!(answer.status, 200);
    let tokens = answer.json();
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(
        mcp(&server, tokens["access_token"].as_str(), &initialize()).status,
        200
    );
    let wrong = format!("Basic {}", base64(b"svc:wrong"));
    assert_eq!(
        post_form(server.addr(), "/token", &form, &[("Authorization", &wrong)]).status,
        401
    );
    // The registered method is Basic: the same secret in the body is refused.
    let mut posted = form.to_vec();
    posted.push(("client_id", "svc".into()));
    posted.push(("client_secret", "s3cret:with/odd&chars".into()));
    assert_eq!(post_form(server.addr(), "/token", &posted, &[]).status, 401);
    assert_eq!(
        server.token_requests()[0].basic_client.as_deref(),
        Some("svc")
    );
    // A resource other than the MCP server's is refused.
    let mut elsewhere = form.to_vec();
    elsewhere[2].1 = "https://evil.example.com/mcp".into();
    let answer = post_form(
        server.addr(),
        "/token",
        &elsewhere,
        &[("Authorization", &basic)],
    );
    assert_eq!(answer.json()["error"], "invalid_target");
}

#[test]
fn device_code_polls_pending_then_succeeds() {
    let server = TestAs::start(Config {
        device_pending_polls: 2,
        ..Config::default()
    });
    let (client, _) = register(&server, "", "none");
    let answer = post_form(
        server.addr(),
        "/device_authorization",
        &[
            ("client_id", client.clone()),
            ("scope", "mcp:basic".into()),
            ("resource", server.mcp_url()),
        ],
        &[],
    );
    let device = answer.json();
    assert_eq!(device["interval"], 1);
    assert_eq!(
        device["verification_uri"],
        format!("{}/device", server.base())
    );
    let poll = || {
        post_form(
            server.addr(),
            "/token",
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".into(),
                ),
                (
                    "device_code",
                    device["device_code"].as_str().unwrap().into(),
                ),
                ("client_id", client.clone()),
            ],
            &[],
        )
    };
    assert_eq!(poll().json()["error"], "authorization_pending");
    assert_eq!(poll().json()["error"], "authorization_pending");
    let tokens = poll().json();
    assert_eq!(tokens["scope"], "mcp:basic");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(
        mcp(&server, tokens["access_token"].as_str(), &initialize()).status,
        200
    );
    assert_eq!(poll().json()["error"], "invalid_grant");
}

#[test]
fn migration_between_two_issuers() {
    let server = TestAs::start(Config {
        prefixes: vec!["/as1".into(), "/as2".into()],
        ..Config::default()
    });
    let (client1, _) = register(&server, "/as1", "none");
    let query = authorize(&server, "/as1", &client1, None);
    assert_eq!(query["iss"], server.issuer(0));
    let tokens = redeem(&server, "/as1", &client1, &query["code"], VERIFIER).json();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp(&server, Some(access), &initialize()).status, 200);
    let meta = get(server.addr(), "/.well-known/oauth-authorization-server/as2").json();
    assert_eq!(meta["issuer"], server.issuer(1));
    assert_eq!(
        meta["token_endpoint"],
        format!("{}/as2/token", server.base())
    );

    server.update(|c| c.current = 1);
    let prm = get(server.addr(), "/.well-known/oauth-protected-resource/mcp").json();
    assert_eq!(prm["authorization_servers"], json!([server.issuer(1)]));
    // AS1's token is foreign now; AS1's client is unknown at AS2.
    assert_eq!(mcp(&server, Some(access), &initialize()).status, 401);
    let pairs = [
        ("response_type", "code".to_owned()),
        ("client_id", client1.clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("resource", server.mcp_url()),
    ];
    assert_eq!(
        get(
            server.addr(),
            &format!("/as2/authorize?{}", form_encode(&pairs))
        )
        .status,
        400
    );
    let (client2, _) = register(&server, "/as2", "none");
    let query = authorize(&server, "/as2", &client2, None);
    let tokens = redeem(&server, "/as2", &client2, &query["code"], VERIFIER).json();
    assert_eq!(
        mcp(&server, tokens["access_token"].as_str(), &initialize()).status,
        200
    );
    assert_eq!(
        server
            .registrations()
            .iter()
            .map(|r| r.prefix.as_str())
            .collect::<Vec<_>>(),
        ["/as1", "/as2"]
    );
}

#[test]
fn cimd_client_ids_and_counts_endpoint() {
    let server = TestAs::start(Config {
        cimd: true,
        ..Config::default()
    });
    let meta = get(server.addr(), "/.well-known/oauth-authorization-server").json();
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let cimd = "https://conformance-test.local/client-metadata.json";
    let query = authorize(&server, "", cimd, None);
    assert_eq!(
        redeem(&server, "", cimd, &query["code"], VERIFIER).status,
        200
    );
    let counts = get(server.addr(), "/_test/counts").json();
    assert_eq!(counts["token_ok"]["authorization_code"], 1);
    assert_eq!(counts["authorize"], 1);
    assert_eq!(counts["register"], 0);
}

/// A stand-in for the bridge's loopback listener: answers one GET with `status` and hands
/// its request target over.
fn callback_listener(status: u16) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = format!("http://{}/callback", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        loop {
            let mut header = String::new();
            std::io::BufRead::read_line(&mut reader, &mut header).unwrap();
            if header == "\r\n" {
                break;
            }
        }
        let mut stream = stream;
        let body = "you may close this window";
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        tx.send(line.split(' ').nth(1).unwrap().to_owned()).unwrap();
    });
    (redirect, rx)
}

fn run_browser(url: &str) -> std::process::Output {
    std::process::Command::new(common::oauth_browser())
        .arg(url)
        .output()
        .unwrap()
}

#[test]
fn the_browser_helper_follows_the_redirect_to_the_loopback_listener() {
    let server = TestAs::start(Config::default());
    let (redirect, targets) = callback_listener(200);
    let body = json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none"});
    let client = http(
        server.addr(),
        "POST",
        "/register",
        &[],
        body.to_string().as_bytes(),
    )
    .json()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pairs = [
        ("response_type", "code".to_owned()),
        ("client_id", client.clone()),
        ("redirect_uri", redirect.clone()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("state", "xyz".to_owned()),
        ("resource", server.mcp_url()),
    ];
    let output = run_browser(&format!(
        "{}/authorize?{}",
        server.base(),
        form_encode(&pairs)
    ));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, b"");
    assert_eq!(output.stderr, b"");
    let target = targets.recv_timeout(Duration::from_secs(10)).unwrap();
    let query = form_decode(target.strip_prefix("/callback?").unwrap());
    assert_eq!(
        (query["state"].as_str(), query["iss"].as_str()),
        ("xyz", server.base().as_str())
    );
    let answer = post_form(
        server.addr(),
        "/token",
        &[
            ("grant_type", "authorization_code".into()),
            ("code", query["code"].clone()),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER.into()),
            ("client_id", client),
            ("resource", server.mcp_url()),
        ],
        &[],
    );
    assert_eq!(answer.status, 200);
}

#[test]
fn the_browser_helper_fails_on_an_error_page_without_printing_the_query() {
    let server = TestAs::start(Config::default());
    // The listener refuses (as the bridge's does for a wrong state): exit 1.
    let (redirect, targets) = callback_listener(400);
    let body = json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none"});
    let client = http(
        server.addr(),
        "POST",
        "/register",
        &[],
        body.to_string().as_bytes(),
    )
    .json()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pairs = [
        ("response_type", "code".to_owned()),
        ("client_id", client),
        ("redirect_uri", redirect.clone()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("resource", server.mcp_url()),
    ];
    let output = run_browser(&format!(
        "{}/authorize?{}",
        server.base(),
        form_encode(&pairs)
    ));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("oauth-browser: {redirect} answered 400\n")
    );
    assert!(targets
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .contains("code="));
    // The authorization server itself refuses (unknown client): no redirect, exit 1.
    let output = run_browser(&format!(
        "{}/authorize?client_id=nobody&redirect_uri=x",
        server.base()
    ));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("oauth-browser: {}/authorize answered 400\n", server.base())
    );
}
