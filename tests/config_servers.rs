//! `--config`: many stdio servers from one `mcpServers` file (issue 17
//! item 1), against the real binary and the fixture server: routes under
//! each name, `GET /`, per-server settings, isolation when one server's
//! child dies, the admin API's per-server scope, metrics by server, and the
//! drain.
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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use common::{
    eventually, fixture, process_alive, request_to, tool_text, Gateway, Response, SseClient,
    Streamable,
};
use serde_json::{json, Value};

/// A temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sg-config-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, json: &Value) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn get(gateway: &Gateway, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    gateway.request(request.as_bytes())
}

/// The fixture as a config entry, with `settings` as its `supergateway`
/// object.
fn server(settings: Value) -> Value {
    json!({"command": fixture(), "args": [], "supergateway": settings})
}

fn call(client: &mut SseClient, id: i64, tool: &str, arguments: Value) -> Value {
    client.call(
        json!(id),
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

#[test]
fn each_server_answers_under_its_name_and_get_root_lists_them() {
    let dir = Dir::new("routes");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "files": server(json!({})),
            "mail": server(json!({"outputTransport": ["sse", "ws"]})),
            "web": server(json!({"outputTransport": "streamableHttp"})),
            "old": {"command": "false", "disabled": true}
        }}),
    );
    let gateway = Gateway::start(&["--config", &config, "--readyEndpoint", "/ready"]);
    // Each child is probed for its era first: until then, `starting`.
    eventually("every server ready", || {
        get(&gateway, "/ready").status == 200
    });

    let listing = get(&gateway, "/");
    assert_eq!(listing.status, 200);
    assert_eq!(listing.header("content-type"), Some("application/json"));
    assert_eq!(
        listing.json(),
        json!({"servers": [
            {"name": "files", "status": "ready", "endpoints": {
                "sse": "http://localhost/files/sse", "message": "http://localhost/files/message"}},
            {"name": "mail", "status": "ready", "endpoints": {
                "sse": "http://localhost/mail/sse", "message": "http://localhost/mail/message",
                "ws": "ws://localhost/mail/ws"}},
            {"name": "web", "status": "ready", "endpoints": {
                "streamableHttp": "http://localhost/web/mcp"}},
            {"name": "old", "status": "disabled"}
        ]})
    );

    // SSE under its name, with an endpoint under its name.
    let mut files = SseClient::connect_path(&gateway, "/files/sse");
    assert!(
        files.endpoint.starts_with("/files/message?sessionId="),
        "{}",
        files.endpoint
    );
    files.initialize();
    let answer = call(&mut files, 2, "echo", json!({"message": "to files"}));
    assert_eq!(answer["id"], json!(2));
    assert_eq!(tool_text(&answer), "to files");

    // Streamable HTTP under its name.
    let mut web = Streamable::new(&gateway);
    web.path = "/web/mcp".into();
    web.initialize("2025-11-25");
    let messages = web.call(
        json!(7),
        "tools/call",
        json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
    );
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], json!(7));
    assert_eq!(tool_text(&messages[0]), "5");

    // HTTP/1.0 without Host: the listing gives paths.
    let bare = request_to(gateway.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(bare.status, 200);
    assert_eq!(
        bare.json()["servers"][1]["endpoints"],
        json!({"sse": "/mail/sse", "message": "/mail/message", "ws": "/mail/ws"})
    );

    // A path of another transport, or of no server, is 404; the paths of the
    // single-server mode are not served.
    for path in [
        "/files/mcp",
        "/web/sse",
        "/sse",
        "/mcp",
        "/old/sse",
        "/nobody/sse",
    ] {
        assert_eq!(get(&gateway, path).status, 404, "{path}");
    }
    assert_eq!(get(&gateway, "/ready").status, 200);
    assert_eq!(get(&gateway, "/files/ready").status, 200);
    // One child per served server (mail's SSE and WebSocket share one).
    let started = gateway.log().matches("child started").count();
    assert_eq!(started, 3, "{}", gateway.log());
}

#[test]
fn a_server_whose_child_dies_is_down_and_the_others_keep_serving() {
    let dir = Dir::new("isolation");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "a": server(json!({})),
            "b": server(json!({})),
            "c": server(json!({"restart": "on-failure"}))
        }}),
    );
    let gateway = Gateway::start(&[
        "--config",
        &config,
        "--readyEndpoint",
        "/ready",
        "--healthEndpoint",
        "/health",
    ]);
    let mut a = SseClient::connect_path(&gateway, "/a/sse");
    a.initialize();
    let mut b = SseClient::connect_path(&gateway, "/b/sse");
    b.initialize();
    // a's child exits at once, without answering: the call gets the
    // gateway's error and a's stream ends.
    let answer = call(&mut a, 2, "crash", json!({"code": 3}));
    assert_eq!(answer["id"], json!(2));
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    a.expect_end();
    eventually("a is down", || get(&gateway, "/a/ready").status == 503);
    assert_eq!(get(&gateway, "/a/health").status, 503);
    // A server down for good does not take the instance out of a load
    // balancer: the others still serve.
    assert_eq!(get(&gateway, "/ready").status, 200, "the others are ready");
    assert_eq!(
        get(&gateway, "/health").status,
        200,
        "the gateway itself is alive"
    );
    let refused = request_to(
        gateway.addr,
        b"GET /a/sse HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
    );
    assert_eq!(refused.status, 503);
    let listing = get(&gateway, "/").json();
    let status: Vec<(&str, &str)> = listing["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(status, [("a", "down"), ("b", "ready"), ("c", "ready")]);

    // b still answers, on its open session and on a new one.
    let answer = call(&mut b, 3, "echo", json!({"message": "still here"}));
    assert_eq!(tool_text(&answer), "still here");
    let mut b2 = SseClient::connect_path(&gateway, "/b/sse");
    b2.initialize();
    assert_eq!(
        tool_text(&call(&mut b2, 4, "echo", json!({"message": "new"}))),
        "new"
    );

    // c has a restart policy: its crash is healed and it serves again.
    let mut c = SseClient::connect_path(&gateway, "/c/sse");
    c.initialize();
    let answer = call(&mut c, 5, "crash", json!({"code": 4}));
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    eventually("c restarted", || get(&gateway, "/c/ready").status == 200);
    assert_eq!(
        tool_text(&call(&mut c, 6, "echo", json!({"message": "back"}))),
        "back"
    );
    assert!(gateway
        .log()
        .contains("server a: its MCP server exited with code 3"));
}

#[test]
fn a_server_gets_its_args_env_cwd_and_its_own_filter() {
    let dir = Dir::new("settings");
    let work = Dir::new("cwd");
    let out = dir.0.join("seen");
    // The shell records what the child was started with, then becomes the
    // fixture. The arguments reach it unexpanded: "$HOME" stays literal.
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "tools": {
                "command": "sh",
                "args": ["-c", "printf '%s|%s|%s' \"$PWD\" \"$WHO\" \"$1\" > \"$OUT\"; exec \"$0\"",
                         fixture(), "$HOME it's"],
                "env": {"WHO": "${env:SG_TEST_WHO}", "OUT": out.to_str().unwrap()},
                "cwd": work.0.to_str().unwrap(),
                "supergateway": {"tools": {"deny": ["crash", "sp*"]}}
            },
            "plain": server(json!({}))
        }}),
    );
    let gateway = Gateway::start_with_env(&["--config", &config], &[("SG_TEST_WHO", "ada")]);
    eventually("the child wrote what it saw", || out.exists());
    let seen = std::fs::read_to_string(&out).unwrap();
    let cwd = work.0.canonicalize().unwrap();
    assert_eq!(seen, format!("{}|ada|$HOME it's", cwd.display()));

    let mut tools = SseClient::connect_path(&gateway, "/tools/sse");
    tools.initialize();
    let listed = tools.call(json!(2), "tools/list", json!({}));
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"crash") && !names.contains(&"spew"),
        "{names:?}"
    );
    assert!(names.contains(&"echo"), "{names:?}");
    let refused = call(&mut tools, 3, "crash", json!({}));
    assert_eq!(refused["id"], json!(3));
    assert!(refused["error"].is_object(), "{refused}");
    // The other server has no filter.
    let mut plain = SseClient::connect_path(&gateway, "/plain/sse");
    plain.initialize();
    let listed = plain.call(json!(2), "tools/list", json!({}));
    let all = listed["result"]["tools"].as_array().unwrap();
    assert!(all.iter().any(|t| t["name"] == "crash"));
}

fn admin_addr(gateway: &Gateway) -> SocketAddr {
    let mut addr = None;
    eventually("the admin API's address in the log", || {
        addr = gateway
            .log()
            .lines()
            .find_map(|line| line.split("Runtime admin API on http://").nth(1))
            .map(|rest| rest.trim().parse().unwrap());
        addr.is_some()
    });
    addr.unwrap()
}

fn admin(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer admin-token\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    request_to(addr, raw.as_bytes())
}

fn shared_pid(addr: SocketAddr, name: &str) -> i64 {
    let sessions = admin(addr, "GET", &format!("/runtime/server/{name}/sessions"), "");
    assert_eq!(sessions.status, 200, "{}", sessions.text());
    sessions.json()["shared_child_pid"].as_i64().unwrap()
}

#[test]
fn the_admin_api_changes_one_server_at_a_time() {
    let dir = Dir::new("admin");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {"a": server(json!({})), "b": server(json!({}))}}),
    );
    let gateway = Gateway::start(&[
        "--config",
        &config,
        "--runtimeAdminPort",
        "0",
        "--runtimeAdminToken",
        "admin-token",
    ]);
    let addr = admin_addr(&gateway);
    let (a_before, b_before) = (shared_pid(addr, "a"), shared_pid(addr, "b"));
    let update = admin(
        addr,
        "POST",
        "/runtime/server/a/defaults",
        r#"{"env": {"SG_MARK": "x"}}"#,
    );
    assert_eq!(update.status, 200, "{}", update.text());
    assert_eq!(update.json(), json!({"status": "ok", "restart": true}));
    let a_after = shared_pid(addr, "a");
    assert_ne!(a_after, a_before, "a's child was restarted");
    assert_eq!(shared_pid(addr, "b"), b_before, "b's child was not");
    // A server whose child exited for good cannot be changed (409), and
    // reports no pid; the other can.
    let mut a = SseClient::connect_path(&gateway, "/a/sse");
    a.initialize();
    let crashed = call(&mut a, 2, "crash", json!({}));
    assert_eq!(crashed["error"]["code"], json!(-32000), "{crashed}");
    eventually("a is down", || {
        admin(addr, "GET", "/runtime/server/a/sessions", "").json()["shared_child_pid"].is_null()
    });
    let refused = admin(
        addr,
        "POST",
        "/runtime/server/a/defaults",
        r#"{"env": {"SG_MARK": "y"}}"#,
    );
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.json()["status"], json!("error"));
    let other = admin(
        addr,
        "POST",
        "/runtime/server/b/defaults",
        r#"{"env": {"SG_MARK": "y"}}"#,
    );
    assert_eq!(other.status, 200, "{}", other.text());
    // 405 names the methods of the path the request was routed to.
    let wrong = admin(addr, "POST", "/runtime/server/b/sessions", "");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));
    let wrong = admin(addr, "GET", "/runtime/server/b/session/sessions", "");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST"));

    // The single-server paths and unknown servers are 404.
    for path in [
        "/runtime/defaults",
        "/runtime/server/zz/defaults",
        "/runtime/server/a",
    ] {
        assert_eq!(admin(addr, "POST", path, "{}").status, 404, "{path}");
    }
    assert_eq!(admin(addr, "GET", "/runtime/sessions", "").status, 404);
}

#[test]
fn metrics_are_labelled_by_server() {
    let dir = Dir::new("metrics");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "a": server(json!({})),
            "b": server(json!({"outputTransport": ["sse", "ws"]}))
        }}),
    );
    let gateway = Gateway::start(&["--config", &config, "--metricsEndpoint", "/metrics"]);
    let mut a = SseClient::connect_path(&gateway, "/a/sse");
    a.initialize();
    call(&mut a, 2, "echo", json!({"message": "1"}));
    call(&mut a, 3, "echo", json!({"message": "2"}));
    let mut b = SseClient::connect_path(&gateway, "/b/sse");
    b.initialize();
    call(&mut b, 2, "echo", json!({"message": "1"}));
    // b's WebSocket shares b's child; its requests count as ws.
    let mut ws = common::WsClient::connect_with(&gateway, "/b/ws", None);
    ws.initialize();
    for id in 2..5 {
        let answer = ws.call(
            json!(id),
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "w"}}),
        );
        assert_eq!(answer["id"], json!(id));
    }
    let text = get(&gateway, "/metrics").text();
    let value = |series: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(series))
            .map(|rest| rest.trim().to_owned())
    };
    let calls = |server: &str| {
        format!(
            "supergateway_requests_total{{server=\"{server}\",transport=\"sse\",method=\"tools/call\",outcome=\"ok\"}}"
        )
    };
    assert_eq!(value(&calls("a")).as_deref(), Some("2"), "{text}");
    assert_eq!(value(&calls("b")).as_deref(), Some("1"), "{text}");
    let ws_calls = "supergateway_requests_total{server=\"b\",transport=\"ws\",method=\"tools/call\",outcome=\"ok\"}";
    assert_eq!(value(ws_calls).as_deref(), Some("3"), "{text}");
    assert_eq!(
        value("supergateway_sessions_open{server=\"b\",transport=\"ws\"}").as_deref(),
        Some("1"),
        "{text}"
    );
    let sessions = |server: &str| {
        format!("supergateway_sessions_open{{server=\"{server}\",transport=\"sse\"}}")
    };
    assert_eq!(value(&sessions("a")).as_deref(), Some("1"));
    assert_eq!(value(&sessions("b")).as_deref(), Some("1"));
    let starts = |server: &str| {
        format!("supergateway_child_starts_total{{server=\"{server}\",transport=\"sse\"}}")
    };
    assert_eq!(value(&starts("a")).as_deref(), Some("1"));
    // Connection bytes are counted before routing, under `*`.
    let bytes = value("supergateway_received_bytes_total{server=\"*\",transport=\"sse\"}");
    assert!(
        bytes.is_some_and(|b| b.parse::<u64>().unwrap() > 0),
        "{text}"
    );
}

#[test]
fn sigterm_drains_and_stops_every_servers_child() {
    let dir = Dir::new("drain");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {"a": server(json!({})), "b": server(json!({}))}}),
    );
    let mut gateway = Gateway::start(&["--config", &config]);
    let mut a = SseClient::connect_path(&gateway, "/a/sse");
    a.initialize();
    let pids: Vec<i32> = gateway
        .log()
        .lines()
        .filter_map(|line| line.split("child started (pid ").nth(1))
        .map(|rest| rest.split(')').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{}", gateway.log());
    gateway.signal("TERM");
    let status = gateway.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", gateway.log());
    for pid in pids {
        assert!(!process_alive(pid), "child {pid} left running");
    }
}

#[test]
fn a_bad_file_is_one_line_naming_the_json_path_and_exit_2() {
    let dir = Dir::new("bad");
    let cases = [
        (
            json!({"mcpServers": {"files": {"command": "x", "args": ["a", 1]}}}),
            "mcpServers.files.args[1]",
        ),
        (
            json!({"mcpServers": {"remote": {"url": "https://example.com/mcp"}}}),
            "mcpServers.remote.url",
        ),
        (
            json!({"mcpServers": {"bad name": {"command": "x"}}}),
            "mcpServers[\"bad name\"]",
        ),
        (
            json!({"mcpServers": {"f": {"command": "x", "supergateway": {"colour": "red"}}}}),
            "mcpServers.f.supergateway.colour",
        ),
    ];
    for (json, path) in cases {
        let file = dir.write("bad.json", &json);
        let out = Command::new(common::binary())
            .args(["--config", &file])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{json}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("supergateway: --config {file}: {path}")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_server_can_have_its_own_token_file() {
    let dir = Dir::new("tokens");
    let private = dir.0.join("private.tokens");
    std::fs::write(&private, "private-token-0123456789abcdef\n").unwrap();
    let shared = dir.0.join("shared.tokens");
    std::fs::write(&shared, "shared-token-0123456789abcdef\n").unwrap();
    for file in [&private, &shared] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "private": server(json!({"authTokenFile": private.to_str().unwrap()})),
            "team": server(json!({}))
        }}),
    );
    let gateway = Gateway::start(&[
        "--config",
        &config,
        "--authTokenFile",
        shared.to_str().unwrap(),
    ]);
    let open = |path: &str, token: Option<&str>| {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n{auth}\r\n"
        );
        let mut stream = gateway.connect();
        std::io::Write::write_all(&mut stream, raw.as_bytes()).unwrap();
        common::read_response(&mut std::io::BufReader::new(stream)).status
    };
    assert_eq!(open("/private/sse", None), 401);
    assert_eq!(
        open("/private/sse", Some("shared-token-0123456789abcdef")),
        401
    );
    assert_eq!(
        open("/private/sse", Some("private-token-0123456789abcdef")),
        200
    );
    assert_eq!(
        open("/team/sse", Some("private-token-0123456789abcdef")),
        401
    );
    assert_eq!(
        open("/team/sse", Some("shared-token-0123456789abcdef")),
        200
    );
    // The listing is behind the gateway-wide tokens too.
    assert_eq!(get(&gateway, "/").status, 401);
}

#[test]
fn oauth_scopes_per_server_and_metadata_for_every_endpoint() {
    let key = issuer::Key::ed25519("k1");
    let issuer = issuer::Issuer::start(&[&key]);
    let dir = Dir::new("oauth");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "files": server(json!({"outputTransport": "streamableHttp",
                                   "authScopes": ["files:read"]})),
            "mail": server(json!({"outputTransport": "streamableHttp"}))
        }}),
    );
    let url = issuer.url();
    let resource = "https://mcp.example.com/mcp";
    let gateway = Gateway::start(&[
        "--config",
        &config,
        "--authIssuer",
        &url,
        "--authResource",
        resource,
        "--authScopes",
        "mcp:read",
    ]);
    let metadata = get(&gateway, "/.well-known/oauth-protected-resource/files/mcp");
    assert_eq!(metadata.status, 200, "{}", metadata.text());
    assert_eq!(metadata.json()["resource"], json!(resource));
    assert_eq!(metadata.json()["scopes_supported"], json!(["files:read"]));
    let mail = get(&gateway, "/.well-known/oauth-protected-resource/mail/mcp");
    assert_eq!(mail.status, 200);
    assert_eq!(mail.json()["scopes_supported"], json!(["mcp:read"]));
    // No server of that name: the gateway-wide front door, which asks for
    // a token before it says "not found".
    assert_eq!(
        get(&gateway, "/.well-known/oauth-protected-resource/nobody/mcp").status,
        401
    );
    let token = |scope: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        key.sign(
            &json!({"iss": url, "sub": "ada", "aud": resource, "scope": scope,
                         "iat": now, "exp": now + 600, "jti": scope}),
        )
    };
    let ping = |path: &str, token: &str| {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let extra = format!(
            "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n{}",
            common::bearer(token)
        );
        request_to(gateway.addr, &common::post(path, body, &extra))
    };
    let general = token("mcp:read");
    let refused = ping("/files/mcp", &general);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused
        .header("www-authenticate")
        .is_some_and(|c| c.contains("insufficient_scope") && c.contains("scope=\"files:read\"")));
    assert_eq!(ping("/files/mcp", &token("files:read")).status, 200);
    assert_eq!(ping("/mail/mcp", &general).status, 200);
    assert_eq!(ping("/mail/mcp", &token("files:read")).status, 403);
}

#[test]
fn a_servers_transports_share_its_rate_limit_and_other_servers_have_their_own() {
    let dir = Dir::new("rate");
    let config = dir.write(
        "mcp.json",
        &json!({"mcpServers": {
            "m": server(json!({"outputTransport": ["sse", "ws"]})),
            "o": server(json!({}))
        }}),
    );
    let gateway = Gateway::start(&["--config", &config, "--rateLimit", "2/m"]);
    let status = |path: &str, upgrade: bool| {
        let extra = if upgrade {
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        } else {
            "Accept: text/event-stream\r\n"
        };
        let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n");
        let mut stream = gateway.connect();
        std::io::Write::write_all(&mut stream, raw.as_bytes()).unwrap();
        common::read_response(&mut std::io::BufReader::new(stream)).status
    };
    assert_eq!(status("/m/sse", false), 200);
    assert_eq!(status("/m/ws", true), 101);
    // The bucket of m is empty, whichever transport asks.
    assert_eq!(status("/m/sse", false), 429);
    assert_eq!(status("/m/ws", true), 429);
    // o has buckets of its own.
    assert_eq!(status("/o/sse", false), 200);
}
