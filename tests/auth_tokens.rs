//! Static bearer tokens on the served endpoints (issue 16, item 1):
//! `--authTokenFile` and `SUPERGATEWAY_AUTH_TOKEN`, against the real binary
//! in the SSE, WebSocket and Streamable HTTP (stateless and stateful)
//! modes.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    bearer, binary, eventually, fixture, open_sse_as, post, Gateway, Response, Streamable, WsClient,
};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;

const ALICE: &str = "alice-7Hq2vXk9Lr4Tz8Wm";
const BOB: &str = "bob-Pd3Nf6Yc1Gs5Jb0Q";
const WRONG: &str = "mallory-0000000000000";
const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn pong(id: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"result":{}})
}

/// A token file for this test (removed when dropped).
struct TokenFile(PathBuf);

impl TokenFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sg-auth16-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        chmod_600(&path);
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Replaces the file the way editors do (a new inode).
    fn replace(&self, text: &str) {
        let next = self.0.with_extension("next");
        std::fs::write(&next, text).unwrap();
        chmod_600(&next);
        std::fs::rename(&next, &self.0).unwrap();
    }
}

fn chmod_600(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn two_tokens(name: &str) -> TokenFile {
    TokenFile::new(
        name,
        &format!("# team tokens\n\n  {ALICE}  \n# bob's laptop\n{BOB}\n"),
    )
}

fn start(file: &TokenFile, extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--authTokenFile",
        file.path(),
        "--healthEndpoint",
        "/healthz",
        "--cors",
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// A 401: the exact challenge, a JSON-RPC error body with `id: null`.
fn assert_unauthorized(response: &Response, challenge: &str, message: &str) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.header("www-authenticate"), Some(challenge));
    assert_eq!(
        response.json(),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":message}})
    );
}

fn assert_no_token(response: &Response) {
    assert_unauthorized(
        response,
        "Bearer",
        "Unauthorized: a bearer token is required",
    );
}

fn assert_wrong_token(response: &Response) {
    assert_unauthorized(
        response,
        "Bearer error=\"invalid_token\"",
        "Unauthorized: unknown bearer token",
    );
}

fn assert_other_caller(response: &Response) {
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(response.header("www-authenticate"), None);
    assert_eq!(
        response.json(),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,
            "message":"Forbidden: the session belongs to another caller"}})
    );
}

/// `GET path` with `extra` header lines.
fn get(gw: &Gateway, path: &str, extra: &str) -> Response {
    gw.request(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").as_bytes())
}

/// The health endpoint and a CORS preflight need no token.
fn assert_open_paths(gw: &Gateway, path: &str) {
    let health = get(gw, "/healthz", "");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    let preflight = gw.request(
        format!(
            "OPTIONS {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: authorization, content-type\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(preflight.status, 204, "{}", preflight.text());
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
}

/// An SSE stream opened with `token`: its events and its endpoint.

#[test]
fn sse_stream_and_posts_need_a_token_and_keep_to_their_caller() {
    let file = two_tokens("sse");
    let gw = start(&file, &[]);
    assert_open_paths(&gw, "/sse");

    assert_no_token(&get(&gw, "/sse", ""));
    assert_no_token(&get(&gw, "/sse", "Authorization: Basic YWxpY2U6eA==\r\n"));
    assert_wrong_token(&get(&gw, "/sse", &bearer(WRONG)));
    assert_unauthorized(
        &get(&gw, "/sse", "Authorization: Bearer two words\r\n"),
        "Bearer error=\"invalid_token\"",
        "Unauthorized: malformed bearer token",
    );
    let two = get(&gw, "/sse", &format!("{}{}", bearer(ALICE), bearer(ALICE)));
    assert_eq!(two.status, 400, "{}", two.text());
    assert_eq!(
        two.header("www-authenticate"),
        Some("Bearer error=\"invalid_request\"")
    );
    // A browser may read the challenge (CORS).
    let browser = get(&gw, "/sse", "Origin: http://app.example\r\n");
    assert_no_token(&browser);
    assert_eq!(
        browser.header("access-control-expose-headers"),
        Some("mcp-session-id, www-authenticate")
    );

    let (mut events, endpoint) = open_sse_as(&gw, ALICE);
    assert_no_token(&gw.request(&post(&endpoint, PING, "")));
    assert_wrong_token(&gw.request(&post(&endpoint, PING, &bearer(WRONG))));
    // Bob's token is valid, but the session is Alice's.
    assert_other_caller(&gw.request(&post(&endpoint, PING, &bearer(BOB))));
    // The scheme in any case.
    let accepted = gw.request(&post(
        &endpoint,
        PING,
        &format!("authorization: bEaReR {ALICE}\r\n"),
    ));
    assert_eq!(
        (accepted.status, accepted.text().as_str()),
        (202, "Accepted")
    );
    assert_eq!(events.next_message(), Some(pong(json!(1))));
    // The refused POSTs reached nobody.
    events.expect_nothing();
}

#[test]
fn websocket_upgrade_needs_a_token() {
    let file = two_tokens("ws");
    let gw = start(&file, &["--outputTransport", "ws"]);
    assert_open_paths(&gw, "/message");
    let upgrade = |extra: &str| {
        get(
            &gw,
            "/message",
            &format!(
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}"
            ),
        )
    };
    assert_no_token(&upgrade(""));
    assert_wrong_token(&upgrade(&bearer(WRONG)));

    for token in [ALICE, BOB] {
        let mut request = format!("ws://{}/message", gw.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, response) = tungstenite::client(request, gw.connect()).unwrap();
        assert_eq!(response.status(), 101);
        let mut client = WsClient { ws, protocol: None };
        client.send_text(PING);
        assert_eq!(client.next_message(), pong(json!(1)));
        client.expect_nothing();
    }
}

#[test]
fn streamable_stateless_needs_a_token_for_every_method() {
    let file = two_tokens("stateless");
    let gw = start(&file, &["--outputTransport", "streamableHttp"]);
    assert_open_paths(&gw, "/mcp");
    let client = Streamable::new(&gw);
    let (head, _) = client.post_raw(PING, "");
    assert_no_token(&head);
    let (head, _) = client.post_raw(PING, &bearer(WRONG));
    assert_wrong_token(&head);
    // GET and DELETE are refused for want of a token before anything else.
    assert_no_token(&get(&gw, "/mcp", "Accept: text/event-stream\r\n"));
    assert_no_token(&gw.request(b"DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));

    for token in [ALICE, BOB] {
        let (head, events) = client.post_raw(PING, &bearer(token));
        assert_eq!(head.status, 200, "{}", head.text());
        assert_eq!(events.unwrap().rest(), vec![pong(json!(1))]);
    }
}

#[test]
fn streamable_stateful_session_belongs_to_its_token() {
    let file = two_tokens("stateful");
    let gw = start(
        &file,
        &["--outputTransport", "streamableHttp", "--stateful"],
    );
    let mut alice = Streamable::new(&gw);
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let (head, _) = alice.post_raw(&init.to_string(), "");
    assert_no_token(&head);
    let (head, events) = alice.post_raw(&init.to_string(), &bearer(ALICE));
    assert_eq!(head.status, 200, "{}", head.text());
    alice.session = head.header("mcp-session-id").map(str::to_owned);
    assert!(alice.session.is_some());
    assert_eq!(events.unwrap().rest()[0]["id"], json!(0));
    alice.version = Some("2025-11-25".to_owned());
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (head, _) = alice.post_raw(initialized, &bearer(ALICE));
    assert_eq!(head.status, 202);

    // Bob holds a valid token and Alice's session id: every method is 403.
    let (head, _) = alice.post_raw(PING, &bearer(BOB));
    assert_other_caller(&head);
    let (head, _) = alice.get(&bearer(BOB));
    assert_other_caller(&head);
    let session = alice.session.clone().unwrap();
    let delete = |token: &str| {
        gw.request(
            format!(
                "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: {session}\r\n\
                 MCP-Protocol-Version: 2025-11-25\r\n{}\r\n",
                bearer(token)
            )
            .as_bytes(),
        )
    };
    assert_other_caller(&delete(BOB));
    let (head, _) = alice.post_raw(PING, &bearer(WRONG));
    assert_wrong_token(&head);

    // Alice's session is untouched.
    let (head, events) = alice.post_raw(PING, &bearer(ALICE));
    assert_eq!(head.status, 200, "{}", head.text());
    assert_eq!(events.unwrap().rest(), vec![pong(json!(1))]);
    assert_eq!(delete(ALICE).status, 200);
    assert_eq!(delete(ALICE).status, 404);
}

/// A stateless ping with `token`: its status.
fn ping_status(gw: &Gateway, token: &str) -> u16 {
    let (head, events) = Streamable::new(gw).post_raw(PING, &bearer(token));
    if head.status == 200 {
        assert_eq!(events.unwrap().rest(), vec![pong(json!(1))]);
    }
    head.status
}

#[test]
fn a_changed_file_applies_within_a_second_and_a_broken_one_keeps_the_last_set() {
    let file = TokenFile::new("reload", &format!("{ALICE}\n"));
    let gw = start(&file, &["--outputTransport", "streamableHttp"]);
    assert_eq!(ping_status(&gw, ALICE), 200);
    assert_eq!(ping_status(&gw, BOB), 401);

    // Bob in, Alice out, in one replacement: both show at the same check.
    file.replace(&format!("# rotated\n{BOB}\n"));
    let changed = Instant::now();
    eventually("the new token is accepted", || ping_status(&gw, BOB) == 200);
    assert!(
        changed.elapsed() < Duration::from_secs(3),
        "took {:?}",
        changed.elapsed()
    );
    assert_eq!(ping_status(&gw, ALICE), 401);

    // Emptied: the last good set stays, with one warning.
    std::fs::write(&file.0, "# nobody\n").unwrap();
    let warning = "--authTokenFile not re-read, keeping the last good tokens";
    eventually("the warning", || {
        assert_eq!(ping_status(&gw, BOB), 200);
        gw.log().contains(warning)
    });
    // Later checks (one a second) of the still-broken file stay quiet.
    let since = Instant::now();
    while since.elapsed() < Duration::from_millis(2500) {
        assert_eq!(ping_status(&gw, BOB), 200);
    }
    assert_eq!(gw.log().matches(warning).count(), 1, "{}", gw.log());

    // Unreadable (gone), then good again.
    std::fs::remove_file(&file.0).unwrap();
    assert_eq!(ping_status(&gw, BOB), 200);
    std::fs::write(&file.0, format!("{ALICE}\n")).unwrap();
    eventually("the file is good again", || ping_status(&gw, ALICE) == 200);
    assert_eq!(ping_status(&gw, BOB), 401);
    assert!(gw.log().contains("--authTokenFile re-read: 1 token(s)"));
}

#[test]
fn the_environment_token_alone_or_beside_the_file() {
    let fixture = fixture();
    let args = [
        "--stdio",
        fixture.as_str(),
        "--outputTransport",
        "streamableHttp",
    ];
    let env = [("SUPERGATEWAY_AUTH_TOKEN", "env-Zt5Kq8Rw2Lm")];
    let gw = Gateway::start_with_env(&args, &env);
    assert_eq!(ping_status(&gw, "env-Zt5Kq8Rw2Lm"), 200);
    assert_eq!(ping_status(&gw, ALICE), 401);
    drop(gw);

    let file = TokenFile::new("env", &format!("{ALICE}\n"));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut both = args.to_vec();
    both.extend(["--authTokenFile", file.path()]);
    let gw = Gateway::start_with_env(&both, &env);
    assert_eq!(ping_status(&gw, "env-Zt5Kq8Rw2Lm"), 200);
    assert_eq!(ping_status(&gw, ALICE), 200);
    assert_eq!(ping_status(&gw, BOB), 401);
    assert!(
        gw.log()
            .contains("can be read by other users (chmod 600 it)"),
        "{}",
        gw.log()
    );
}

/// The token callers present (and the admin API's) stays with the gateway:
/// the child inherits the environment without them.
#[test]
fn the_child_never_sees_the_gateways_tokens() {
    let fixture = fixture();
    let args = [
        "--stdio",
        fixture.as_str(),
        "--outputTransport",
        "streamableHttp",
    ];
    let env = [
        ("SUPERGATEWAY_AUTH_TOKEN", "env-Zt5Kq8Rw2Lm"),
        ("SUPERGATEWAY_ADMIN_TOKEN", "admin-Hx4Pq9Rw2Lm5Kq8Rw2Lm"),
        ("SG_TEST_INHERITED", "kept"),
    ];
    let gw = Gateway::start_with_env(&args, &env);
    let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "argv",
        "arguments": {"env": ["SUPERGATEWAY_AUTH_TOKEN", "SUPERGATEWAY_ADMIN_TOKEN", "SG_TEST_INHERITED"]},
    }});
    let (head, events) =
        Streamable::new(&gw).post_raw(&call.to_string(), &bearer("env-Zt5Kq8Rw2Lm"));
    assert_eq!(head.status, 200, "{}", head.text());
    let answers = events.unwrap().rest();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let text = answers[0]["result"]["content"][0]["text"].as_str().unwrap();
    let seen: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        seen["env"],
        json!({"SUPERGATEWAY_AUTH_TOKEN": null, "SUPERGATEWAY_ADMIN_TOKEN": null, "SG_TEST_INHERITED": "kept"})
    );
}

#[test]
fn tokens_never_reach_the_log() {
    let file = two_tokens("log");
    let fixture = fixture();
    let gw = Gateway::start_with_env(
        &[
            "--stdio",
            fixture.as_str(),
            "--outputTransport",
            "streamableHttp",
            "--stateful",
            "--logLevel",
            "debug",
            "--authTokenFile",
            file.path(),
            "--oauth2Bearer",
            "resp-header-Vb7Hn2",
        ],
        &[("SUPERGATEWAY_AUTH_TOKEN", "env-Xc4Rt9Pw1")],
    );
    let mut alice = Streamable::new(&gw);
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let (head, events) = alice.post_raw(&init.to_string(), &bearer(ALICE));
    assert_eq!(head.status, 200);
    events.unwrap().rest();
    alice.session = head.header("mcp-session-id").map(str::to_owned);
    let (head, _) = alice.post_raw(PING, &bearer(BOB));
    assert_eq!(head.status, 403);
    let (head, _) = alice.post_raw(PING, &bearer(WRONG));
    assert_eq!(head.status, 401);
    let (head, _) = alice.post_raw(PING, "");
    assert_eq!(head.status, 401);
    let (head, _) = alice.post_raw(PING, &bearer("env-Xc4Rt9Pw1"));
    assert_eq!(head.status, 403);

    let log = gw.log();
    assert!(!log.contains("can be read by other users"), "{log}");
    for reason in [
        "(401): Unauthorized: unknown bearer token",
        "(401): Unauthorized: a bearer token is required",
        "(403): the session was opened by another caller",
        "--oauth2Bearer sets a response header when serving a stdio server and protects nothing",
    ] {
        assert!(log.contains(reason), "{reason:?} not in:\n{log}");
    }
    for secret in [ALICE, BOB, WRONG, "env-Xc4Rt9Pw1", "resp-header-Vb7Hn2"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn a_bad_token_source_is_a_usage_error() {
    let empty = TokenFile::new("empty", "# no tokens yet\n\n");
    let invalid = TokenFile::new("invalid", "good-token\nnot a token\n");
    let missing = std::env::temp_dir().join(format!("sg-auth16-{}-missing", std::process::id()));
    let missing = missing.to_str().unwrap();
    /// Arguments, environment, what the one-line error says.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        (
            &["--authTokenFile", empty.path()],
            &[],
            "the file holds no token",
        ),
        (
            &["--authTokenFile", invalid.path()],
            &[],
            "line 2 is not a bearer token",
        ),
        (&["--authTokenFile", missing], &[], "No such file"),
        (
            &[],
            &[("SUPERGATEWAY_AUTH_TOKEN", "has spaces in it")],
            "SUPERGATEWAY_AUTH_TOKEN must be a bearer token",
        ),
    ];
    for (args, env, expected) in cases {
        let output = Command::new(binary())
            .args(["--stdio", "true", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("supergateway: "), "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("has spaces"), "{stderr}");
    }
}
