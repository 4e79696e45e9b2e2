//! End-to-end tests of runtime args injection (issue 6): the admin API on
//! 127.0.0.1 (`--runtimeAdminPort`, `--runtimeAdminToken`) and the terminal
//! prompt (`--runtimePrompt`), against the real binary and the fixture
//! server, whose `argv` tool echoes the arguments and environment it was
//! started with.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::{
    eventually, fixture, process_alive, request_to, tool_text, Gateway, Response, SseClient,
    Streamable, WAIT,
};
use serde_json::{json, Value};

// --- helpers ---------------------------------------------------------------

/// The admin token the tests start gateways with (the API always needs one).
const TOKEN: &str = "test-admin-token";

fn gateway(extra: &[&str]) -> Gateway {
    gateway_with_env(extra, &[("SUPERGATEWAY_ADMIN_TOKEN", TOKEN)])
}

fn gateway_with_env(extra: &[&str], env: &[(&str, &str)]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--runtimeAdminPort", "0"];
    args.extend_from_slice(extra);
    Gateway::start_with_env(&args, env)
}

/// The admin API's address, from the gateway's log.
fn admin_addr(log: impl Fn() -> String) -> SocketAddr {
    let mut addr = None;
    eventually("the admin address in the log", || {
        addr = log()
            .lines()
            .find_map(|line| line.split("Runtime admin API on http://").nth(1))
            .map(|addr| addr.trim().parse().unwrap());
        addr.is_some()
    });
    addr.unwrap()
}

/// One admin request; `token` adds `Authorization: Bearer`.
fn admin(addr: SocketAddr, method: &str, path: &str, body: &str, token: Option<&str>) -> Response {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request_to(addr, raw.as_bytes())
}

fn post_update(addr: SocketAddr, path: &str, body: &Value) -> Value {
    let response = admin(addr, "POST", path, &body.to_string(), Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn sessions(addr: SocketAddr) -> Value {
    let response = admin(addr, "GET", "/runtime/sessions", "", Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

/// What the fixture says about itself: `{"argv": [..], "env": {..}, "pid": N}`.
fn argv_of(answer: &Value) -> Value {
    serde_json::from_str(&tool_text(answer)).unwrap()
}

fn argv_params(env: &[&str]) -> Value {
    json!({"name": "argv", "arguments": {"env": env}})
}

fn sse_argv(client: &mut SseClient, id: u64, env: &[&str]) -> Value {
    argv_of(&client.call(json!(id), "tools/call", argv_params(env)))
}

fn sse_session_id(client: &SseClient) -> String {
    client
        .endpoint
        .split("sessionId=")
        .nth(1)
        .unwrap()
        .to_owned()
}

// --- arguments, environment, restarts ----------------------------------------

#[test]
fn an_args_change_restarts_the_shared_child_and_the_client_stays_connected() {
    let gw = gateway(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let before = sse_argv(&mut client, 1, &[]);
    assert_eq!(before["argv"], json!([]));

    // Hostile arguments arrive as exactly these arguments (shell-quoted).
    let args = json!([
        "--root",
        "/tmp/a b",
        "x; touch /tmp/sg-runtime-pwned",
        "$(id)",
        "it's"
    ]);
    let reply = post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"extra_cli_args": args}),
    );
    assert_eq!(reply, json!({"status": "ok", "restart": true}));

    // Same SSE stream, no new initialize from the client: the gateway
    // replayed it to the new child.
    let after = sse_argv(&mut client, 2, &[]);
    assert_eq!(after["argv"], args);
    assert_ne!(after["pid"], before["pid"]);
    assert!(!std::path::Path::new("/tmp/sg-runtime-pwned").exists());
    let count = client.call(
        json!(3),
        "tools/call",
        json!({"name": "init_count", "arguments": {}}),
    );
    assert_eq!(tool_text(&count), "1");
    let old_pid = i32::try_from(before["pid"].as_u64().unwrap()).unwrap();
    eventually("the old child is gone", || !process_alive(old_pid));

    let listed = sessions(admin_at);
    assert_eq!(listed["defaults"]["extra_cli_args"], args);
    assert!(gw.log().contains("runtime update of the defaults"));
}

#[test]
fn updates_in_quick_succession_leave_an_initialised_child() {
    // The second restart comes while the replayed initialize is still at
    // the first new child: the replay must carry over to the next one.
    let gw = gateway(&["--outputTransport", "ws"]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = WsClient::ws(&gw);
    client.call(
        0,
        "initialize",
        json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    for round in 0..3 {
        post_update(
            admin_at,
            "/runtime/defaults",
            &json!({"extra_cli_args": [format!("r{round}-a")]}),
        );
        post_update(
            admin_at,
            "/runtime/defaults",
            &json!({"extra_cli_args": [format!("r{round}-b")]}),
        );
        let seen = argv_of(&client.call(round + 1, "tools/call", argv_params(&[])));
        assert_eq!(seen["argv"], json!([format!("r{round}-b")]));
        let count = client.call(
            100 + round,
            "tools/call",
            json!({"name": "init_count", "arguments": {}}),
        );
        assert_eq!(tool_text(&count), "1");
    }
}

/// A WebSocket client, enough for these tests.
struct WsClient {
    ws: tungstenite::WebSocket<TcpStream>,
}

impl WsClient {
    fn ws(gw: &Gateway) -> Self {
        use tungstenite::client::IntoClientRequest;
        let request = format!("ws://{}/message", gw.addr)
            .into_client_request()
            .unwrap();
        let (ws, _) = tungstenite::client(request, gw.connect()).unwrap();
        Self { ws }
    }

    fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.ws
            .send(tungstenite::Message::text(message.to_string()))
            .unwrap();
        loop {
            if let tungstenite::Message::Text(text) = self.ws.read().unwrap() {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["id"] == id {
                    return value;
                }
            }
        }
    }
}

#[test]
fn requests_in_flight_get_an_error_when_the_child_restarts() {
    let gw = gateway(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let response = client.send(
        &json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"ms": 10000}}}),
    );
    assert_eq!(response.status, 202);
    // Evidence that the slow call reached the child: the child reads its
    // stdin in order and answers a ping at once, so the ping's answer
    // arrives only after it has read (and started) the slow call.
    assert_eq!(
        client.call(json!("seen"), "ping", json!({}))["result"],
        json!({})
    );
    post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"extra_cli_args": ["v2"]}),
    );
    let answer = client.next_message();
    assert_eq!(answer["id"], "slow");
    assert_eq!(answer["error"]["code"], -32000);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("restarted"));
    // And the session carries on.
    assert_eq!(sse_argv(&mut client, 1, &[])["argv"], json!(["v2"]));
}

#[test]
fn an_env_change_restarts_the_child_with_the_variable() {
    let gw = gateway(&["--outputTransport", "streamableHttp"]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = Streamable::new(&gw);
    client.initialize("2025-06-18");
    let call = |client: &Streamable, id: u64| {
        let messages = client.call(json!(id), "tools/call", argv_params(&["SG_RUNTIME_TOKEN"]));
        argv_of(messages.last().unwrap())
    };
    assert_eq!(call(&client, 1)["env"]["SG_RUNTIME_TOKEN"], Value::Null);
    let reply = post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"env": {"SG_RUNTIME_TOKEN": "rotated-1"}}),
    );
    assert_eq!(reply["restart"], true);
    assert_eq!(call(&client, 2)["env"]["SG_RUNTIME_TOKEN"], "rotated-1");
    // The value is secret: the log names the variable only.
    let log = gw.log();
    assert!(log.contains("SG_RUNTIME_TOKEN"), "{log}");
    assert!(!log.contains("rotated-1"), "{log}");
    // The same value again restarts nothing.
    let reply = post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"env": {"SG_RUNTIME_TOKEN": "rotated-1"}}),
    );
    assert_eq!(reply["restart"], false);
}

#[test]
fn a_session_override_affects_only_that_session() {
    let gw = gateway(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
    a.initialize();
    b.initialize();
    let a_id = sse_session_id(&a);
    let listed = sessions(admin_at);
    let list = listed["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{listed}");
    assert!(list
        .iter()
        .all(|s| s["transport"] == "sse" && s["own_child"] == false));

    let reply = post_update(
        admin_at,
        &format!("/runtime/session/{a_id}"),
        &json!({"extra_cli_args": ["only-a"], "env": {"SG_WHO": "a"}}),
    );
    assert_eq!(reply, json!({"status": "ok", "restart": true}));
    let seen_a = sse_argv(&mut a, 1, &["SG_WHO"]);
    let seen_b = sse_argv(&mut b, 1, &["SG_WHO"]);
    assert_eq!(seen_a["argv"], json!(["only-a"]));
    assert_eq!(seen_a["env"]["SG_WHO"], "a");
    assert_eq!(seen_b["argv"], json!([]));
    assert_eq!(seen_b["env"]["SG_WHO"], Value::Null);
    assert_ne!(seen_a["pid"], seen_b["pid"]);

    let listed = sessions(admin_at);
    let entry = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == a_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["own_child"], true);
    assert_eq!(entry["overrides"]["extra_cli_args"], json!(["only-a"]));
    assert_eq!(entry["overrides"]["env"], json!(["SG_WHO"]));
    assert!(entry["child_pid"].is_u64());

    // A defaults change restarts the shared child and A's own (A keeps its
    // arguments, gets the new default environment under its own).
    post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"env": {"SG_ALL": "1"}}),
    );
    let seen_a = sse_argv(&mut a, 2, &["SG_ALL", "SG_WHO"]);
    let seen_b = sse_argv(&mut b, 2, &["SG_ALL", "SG_WHO"]);
    assert_eq!(seen_a["argv"], json!(["only-a"]));
    assert_eq!(seen_a["env"], json!({"SG_ALL": "1", "SG_WHO": "a"}));
    assert_eq!(seen_b["env"], json!({"SG_ALL": "1", "SG_WHO": null}));

    // When A leaves, its own child is stopped.
    let a_pid = i32::try_from(seen_a["pid"].as_u64().unwrap()).unwrap();
    a.shutdown();
    drop(a);
    eventually("A's own child is stopped", || !process_alive(a_pid));
    assert_eq!(sessions(admin_at)["sessions"].as_array().unwrap().len(), 1);
}

#[test]
fn a_session_override_in_stateful_streamable_restarts_that_session_only() {
    let gw = gateway(&["--outputTransport", "streamableHttp", "--stateful"]);
    let admin_at = admin_addr(|| gw.log());
    let mut a = Streamable::new(&gw);
    let mut b = Streamable::new(&gw);
    a.initialize("2025-06-18");
    b.initialize("2025-06-18");
    let call = |client: &Streamable, id: u64| {
        let messages = client.call(json!(id), "tools/call", argv_params(&[]));
        argv_of(messages.last().unwrap())
    };
    let b_before = call(&b, 1);
    let a_id = a.session.clone().unwrap();
    let reply = post_update(
        admin_at,
        &format!("/runtime/session/{a_id}"),
        &json!({"extra_cli_args": ["--folder", "/srv/other"]}),
    );
    assert_eq!(reply["restart"], true);
    assert_eq!(call(&a, 2)["argv"], json!(["--folder", "/srv/other"]));
    let b_after = call(&b, 2);
    assert_eq!(b_after["argv"], json!([]));
    assert_eq!(b_after["pid"], b_before["pid"]);
    let listed = sessions(admin_at);
    assert!(listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["transport"] == "streamableHttp"));
}

#[test]
fn a_websocket_connection_has_an_id_and_can_be_overridden() {
    let gw = gateway(&["--outputTransport", "ws"]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = WsClient::ws(&gw);
    let mut call = |id: u64, method: &str, params: Value| client.call(id, method, params);
    call(
        0,
        "initialize",
        json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    let listed = sessions(admin_at);
    let id = listed["sessions"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["sessions"][0]["transport"], "ws");
    assert!(gw.log().contains(&format!("WebSocket session {id} opened")));
    post_update(
        admin_at,
        &format!("/runtime/session/{id}"),
        &json!({"env": {"SG_WS": "yes"}}),
    );
    let seen = argv_of(&call(1, "tools/call", argv_params(&["SG_WS"])));
    assert_eq!(seen["env"]["SG_WS"], "yes");
}

// --- headers -------------------------------------------------------------------

#[test]
fn forward_response_headers_change_live_without_a_restart() {
    let gw = gateway(&["--header", "X-Static: 1"]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let pid = sse_argv(&mut client, 1, &[])["pid"].clone();
    let reply = post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"headers": {"X-Rotated": "v2", "X-Static": "2"}}),
    );
    assert_eq!(reply, json!({"status": "ok", "restart": false}));
    let response = client.send(&json!({"jsonrpc": "2.0", "method": "notifications/x"}));
    assert_eq!(response.header("x-rotated"), Some("v2"));
    assert_eq!(response.header("x-static"), Some("2"));
    assert_eq!(sse_argv(&mut client, 2, &[])["pid"], pid);
    // A session's own headers go on that session's responses only.
    let id = sse_session_id(&client);
    post_update(
        admin_at,
        &format!("/runtime/session/{id}"),
        &json!({"headers": {"X-Mine": "yes"}}),
    );
    let response = client.send(&json!({"jsonrpc": "2.0", "method": "notifications/x"}));
    assert_eq!(response.header("x-mine"), Some("yes"));
    assert_eq!(response.header("x-rotated"), Some("v2"));
    let mut other = SseClient::connect(&gw);
    other.initialize();
    let response = other.send(&json!({"jsonrpc": "2.0", "method": "notifications/x"}));
    assert_eq!(response.header("x-mine"), None);
    // A refused request naming the session (here a foreign page's) does not
    // get them either.
    let refused = gw.request(
        format!(
            "POST /message?sessionId={id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Origin: http://evil.example\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\n\r\n{{}}"
        )
        .as_bytes(),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.header("x-mine"), None);
    assert_eq!(refused.header("x-rotated"), Some("v2"));
    // The header value is never logged.
    assert!(!gw.log().contains("yes\""), "{}", gw.log());
}

/// The headers of each request a recording server got (lowercased names).
type Recorded = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A Streamable HTTP server that answers everything and records each
/// request's headers.
fn recording_server() -> (SocketAddr, Recorded) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let recorded = Arc::clone(&recorded);
            std::thread::spawn(move || serve_one(stream, &recorded));
        }
    });
    (addr, seen)
}

fn serve_one(stream: TcpStream, recorded: &Mutex<Vec<HashMap<String, String>>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    recorded.lock().unwrap().push(headers);
    let method = request_line.split(' ').next().unwrap_or("");
    let reply = match method {
        "POST" => {
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match message.get("id") {
                Some(id) => {
                    let result = if message["method"] == "initialize" {
                        json!({"protocolVersion": "2025-06-18", "capabilities": {},
                            "serverInfo": {"name": "recorder", "version": "1"}})
                    } else {
                        json!({"content": [{"type": "text", "text": "ok"}]})
                    };
                    let body = json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nmcp-session-id: rec-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                }
                None => "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned(),
            }
        }
        "DELETE" => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
        _ => "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .to_owned(),
    };
    let mut stream = reader.into_inner();
    let _ = stream.write_all(reply.as_bytes());
}

/// A reverse-mode gateway with its stdin and stdout as the local client.
struct Bridge {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Bridge {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_supergateway"))
            .args(args)
            .env("SUPERGATEWAY_ADMIN_TOKEN", TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            stdin,
            lines,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn call(&mut self, message: &Value) -> Value {
        writeln!(self.stdin, "{message}").unwrap();
        let line = self.lines.recv_timeout(WAIT).unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn reverse_mode_headers_apply_to_the_next_request_without_a_restart() {
    let (server, seen) = recording_server();
    let url = format!("http://{server}/mcp");
    let mut bridge = Bridge::start(&[
        "--streamableHttp",
        &url,
        "--header",
        "X-Static: 1",
        "--runtimeAdminPort",
        "0",
    ]);
    let admin_at = admin_addr(|| bridge.log());
    let answer = bridge.call(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}));
    assert_eq!(answer["result"]["serverInfo"]["name"], "recorder");
    let last = || seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last().get("x-rotated"), None);
    assert_eq!(last().get("x-static").map(String::as_str), Some("1"));

    let reply = post_update(
        admin_at,
        "/runtime/defaults",
        &json!({"headers": {"X-Rotated": "token-2", "Authorization": "Bearer new"}}),
    );
    assert_eq!(reply, json!({"status": "ok", "restart": false}));
    let answer = bridge.call(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "x", "arguments": {}}}));
    assert_eq!(answer["id"], 2);
    let headers = last();
    assert_eq!(
        headers.get("x-rotated").map(String::as_str),
        Some("token-2")
    );
    assert_eq!(
        headers.get("authorization").map(String::as_str),
        Some("Bearer new")
    );
    assert_eq!(headers.get("x-static").map(String::as_str), Some("1"));
    assert_eq!(
        headers.get("mcp-session-id").map(String::as_str),
        Some("rec-1")
    );
    assert!(
        bridge.child.try_wait().unwrap().is_none(),
        "the bridge kept running"
    );
    assert!(!bridge.log().contains("token-2"));

    // Arguments and environment have no child to go to here.
    let response = admin(
        admin_at,
        "POST",
        "/runtime/defaults",
        r#"{"env": {"A": "b"}}"#,
        Some(TOKEN),
    );
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["field"], "env");
}

// --- the admin API itself ------------------------------------------------------

#[test]
fn the_admin_api_listens_on_loopback_only() {
    // Even with the main port on every interface.
    let gw = gateway(&["--host", "0.0.0.0"]);
    let admin_at = admin_addr(|| gw.log());
    assert_eq!(admin_at.ip().to_string(), "127.0.0.1");
    // 127.0.0.2 is loopback too, but not the address the API is bound to;
    // the main port, bound to 0.0.0.0, answers there.
    let other = SocketAddr::from(([127, 0, 0, 2], admin_at.port()));
    assert!(TcpStream::connect_timeout(&other, Duration::from_secs(2)).is_err());
    let main = SocketAddr::from(([127, 0, 0, 2], gw.addr.port()));
    assert!(TcpStream::connect_timeout(&main, Duration::from_secs(2)).is_ok());
    // The admin API is not on the main port.
    let response = admin(gw.addr, "GET", "/runtime/sessions", "", None);
    assert_eq!(response.status, 404);
}

#[test]
fn the_token_is_required_when_set() {
    let gw = gateway_with_env(&[], &[("SUPERGATEWAY_ADMIN_TOKEN", "s3cret-t0ken")]);
    let admin_at = admin_addr(|| gw.log());
    for token in [
        None,
        Some("wrong"),
        Some("s3cret-t0ke"),
        Some("s3cret-t0ken2"),
    ] {
        let response = admin(admin_at, "GET", "/runtime/sessions", "", token);
        assert_eq!(response.status, 401, "{token:?}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        let response = admin(admin_at, "POST", "/runtime/defaults", "{}", token);
        assert_eq!(response.status, 401, "{token:?}");
    }
    let response = admin(
        admin_at,
        "GET",
        "/runtime/sessions",
        "",
        Some("s3cret-t0ken"),
    );
    assert_eq!(response.status, 200);
    let raw = "GET /runtime/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: bearer s3cret-t0ken\r\n\r\n";
    assert_eq!(request_to(admin_at, raw.as_bytes()).status, 200);
    assert!(!gw.log().contains("s3cret"));

    // The flag works too (and wins over nothing else set).
    let gw = gateway(&["--runtimeAdminToken", "flag-token"]);
    let admin_at = admin_addr(|| gw.log());
    assert_eq!(
        admin(admin_at, "GET", "/runtime/sessions", "", None).status,
        401
    );
    assert_eq!(
        admin(admin_at, "GET", "/runtime/sessions", "", Some("flag-token")).status,
        200
    );
}

#[test]
fn bad_payloads_are_rejected_and_nothing_is_applied() {
    let gw = gateway(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let before = sse_argv(&mut client, 1, &["A"]);
    let cases: &[(&str, &str)] = &[
        ("not json", "body"),
        ("[1]", "body"),
        (r#"{"extra_cli_args": ["ok"], "unknown": 1}"#, "unknown"),
        (r#"{"extra_cli_args": "a b"}"#, "extra_cli_args"),
        (r#"{"extra_cli_args": ["ok", 7]}"#, "extra_cli_args[1]"),
        (r#"{"extra_cli_args": ["ok"], "env": {"A": 1}}"#, "env.A"),
        (r#"{"env": {"A": "ok", "B": null}}"#, "env.B"),
        (r#"{"env": {"BAD-NAME": "x"}}"#, "env.BAD-NAME"),
        (r#"{"env": ["A=1"]}"#, "env"),
        (
            r#"{"extra_cli_args": ["ok"], "headers": {"X-A": "a\r\nX-Injected: 1"}}"#,
            "headers.X-A",
        ),
        (r#"{"headers": {"X-A": "a\nb"}}"#, "headers.X-A"),
        (r#"{"headers": {"Bad Name": "x"}}"#, "headers.Bad Name"),
        (
            r#"{"headers": {"Content-Length": "1"}}"#,
            "headers.Content-Length",
        ),
        (r#"{"headers": {"X-A": 1}}"#, "headers.X-A"),
    ];
    for (body, field) in cases {
        let response = admin(admin_at, "POST", "/runtime/defaults", body, Some(TOKEN));
        assert_eq!(response.status, 400, "{body}: {}", response.text());
        let json = response.json();
        assert_eq!(json["status"], "error", "{body}");
        assert_eq!(json["field"], *field, "{body}: {json}");
        assert!(json["error"].as_str().unwrap().starts_with(field));
    }
    // Oversize body: refused before it is read.
    let big = format!(r#"{{"extra_cli_args": ["{}"]}}"#, "a".repeat(70 * 1024));
    let response = admin(admin_at, "POST", "/runtime/defaults", &big, Some(TOKEN));
    assert_eq!(response.status, 413);
    // Unknown session, unknown path, wrong method, a browser.
    let response = admin(admin_at, "POST", "/runtime/session/nope", "{}", Some(TOKEN));
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["field"], "session_id");
    assert_eq!(
        admin(admin_at, "GET", "/runtime/other", "", Some(TOKEN)).status,
        404
    );
    assert_eq!(
        admin(admin_at, "GET", "/runtime/defaults", "", Some(TOKEN)).status,
        405
    );
    assert_eq!(
        admin(admin_at, "POST", "/runtime/sessions", "{}", Some(TOKEN)).status,
        405
    );
    let raw = "POST /runtime/defaults HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(request_to(admin_at, raw.as_bytes()).status, 403);
    let raw = "GET /runtime/sessions HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    assert_eq!(request_to(admin_at, raw.as_bytes()).status, 403);

    // Nothing was applied: same child, same arguments, no defaults.
    let after = sse_argv(&mut client, 2, &["A"]);
    assert_eq!(after, before);
    assert_eq!(sessions(admin_at)["defaults"], json!({}));
}

// --- the terminal prompt -------------------------------------------------------

#[test]
fn the_prompt_without_a_terminal_is_a_clear_error() {
    // `setsid` starts it in a new session: no controlling terminal.
    let fixture = fixture();
    let output = Command::new("setsid")
        .args([
            "-w",
            env!("CARGO_BIN_EXE_supergateway"),
            "--stdio",
            &fixture,
            "--port",
            "0",
            "--runtimePrompt",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("supergateway: --runtimePrompt needs a controlling terminal"),
        "{stderr}"
    );
}

/// Runs the gateway on a pseudo-terminal (python's `pty`): lines written to
/// the driver's stdin go to the terminal; what the gateway writes on the
/// terminal comes out of the driver's stdout. The gateway's own output goes
/// to `log`.
const PTY_DRIVER: &str = r#"
import os, pty, select, signal, sys, termios
log = sys.argv[1]
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    attrs = termios.tcgetattr(0)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(0, termios.TCSANOW, attrs)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.execv(argv[0], argv)
stdin_open = True
while True:
    fds = [fd] + ([0] if stdin_open else [])
    ready, _, _ = select.select(fds, [], [], 30)
    if not ready:
        break
    if 0 in ready:
        data = os.read(0, 65536)
        if not data:
            break
        os.write(fd, data)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
"#;

#[test]
fn the_prompt_applies_json_lines_from_the_terminal() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 is not installed: skipping the pseudo-terminal test");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sg-prompt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("gateway.log");
    let fixture = fixture();
    let mut driver = Command::new("python3")
        .args([
            "-c",
            PTY_DRIVER,
            log_path.to_str().unwrap(),
            env!("CARGO_BIN_EXE_supergateway"),
            "--stdio",
            &fixture,
            "--port",
            "0",
            "--runtimePrompt",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut terminal_in = driver.stdin.take().unwrap();
    let (tx, terminal_out) = mpsc::channel::<String>();
    let stdout = driver.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line.trim_end_matches('\r').to_owned());
        }
    });
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut addr: Option<SocketAddr> = None;
    eventually("the gateway's address in its log file", || {
        addr = log()
            .lines()
            .find_map(|l| l.split("Listening on ").nth(1))
            .map(|addr| addr.trim().parse().unwrap());
        addr.is_some()
    });
    let addr = addr.unwrap();
    let reply = |line: &str, terminal_in: &mut std::process::ChildStdin| -> Value {
        writeln!(terminal_in, "{line}").unwrap();
        terminal_in.flush().unwrap();
        loop {
            let out = terminal_out.recv_timeout(WAIT).unwrap();
            if out.starts_with('{') {
                return serde_json::from_str(&out).unwrap();
            }
        }
    };
    let mut client = SseClient::connect_addr(addr, "/sse");
    client.initialize();
    assert_eq!(sse_argv(&mut client, 1, &[])["argv"], json!([]));

    let answer = reply(
        r#"{"scope": "defaults", "extra_cli_args": ["from-tty"]}"#,
        &mut terminal_in,
    );
    assert_eq!(answer, json!({"status": "ok", "restart": true}));
    assert_eq!(sse_argv(&mut client, 2, &[])["argv"], json!(["from-tty"]));

    let answer = reply(r#"{"scope": "nowhere"}"#, &mut terminal_in);
    assert_eq!(answer["field"], "scope");
    let answer = reply(
        r#"{"scope": "session", "session_id": "unknown", "env": {}}"#,
        &mut terminal_in,
    );
    assert_eq!(answer["field"], "session_id");
    let id = sse_session_id(&client);
    let answer = reply(
        &format!(r#"{{"scope": "session", "session_id": "{id}", "env": {{"SG_TTY": "1"}}}}"#),
        &mut terminal_in,
    );
    assert_eq!(answer["restart"], true);
    assert_eq!(sse_argv(&mut client, 3, &["SG_TTY"])["env"]["SG_TTY"], "1");

    drop(terminal_in);
    let _ = driver.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
