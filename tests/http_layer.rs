//! The HTTP layer, end to end (issue 13 items 1, 9, 10): HEAD answered with
//! GET's head and no body on every route of every mode, the Host/Origin
//! check and `--allowedHost`, and configured headers that never collide
//! with the gateway's own.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{connect_to, eventually, fixture, is_timeout, Gateway, QUIET};

/// One response read exactly: the head, then as many body bytes as its
/// `content-length` says (none for a HEAD).
#[derive(Debug)]
struct Exact {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Exact {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// What a HEAD must repeat of the GET: status and the entity headers.
    fn head_summary(&self) -> (u16, Option<&str>, Option<&str>, Option<&str>) {
        (
            self.status,
            self.header("content-length"),
            self.header("content-type"),
            self.header("allow"),
        )
    }
}

/// A keep-alive connection on which requests are written and their
/// responses read byte-exactly.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn new(addr: SocketAddr) -> Self {
        let stream = connect_to(addr);
        let reader = BufReader::new(stream.try_clone().unwrap());
        Self { stream, reader }
    }

    /// Sends `METHOD path` with `extra` header lines and reads its answer.
    fn exchange(&mut self, method: &str, path: &str, extra: &str) -> Exact {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n");
        self.stream.write_all(request.as_bytes()).unwrap();
        self.read(method == "HEAD")
    }

    fn read(&mut self, head_only: bool) -> Exact {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let header = line
                .strip_suffix("\r\n")
                .unwrap_or_else(|| panic!("line without CRLF {line:?}"));
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut response = Exact {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_only {
            let length: usize = response
                .header("content-length")
                .unwrap_or_else(|| panic!("no content-length: {response:?}"))
                .parse()
                .unwrap();
            response.body = vec![0; length];
            self.reader.read_exact(&mut response.body).unwrap();
        }
        response
    }

    /// Nothing more arrives on the connection, and it is still open.
    fn expect_nothing(&mut self) {
        self.stream.set_read_timeout(Some(QUIET)).unwrap();
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Err(err) if is_timeout(&err) => {}
            Ok(0) => panic!("the connection was closed"),
            other => panic!("unexpected bytes after the last response: {other:?} {byte:?}"),
        }
        self.stream.set_read_timeout(Some(common::WAIT)).unwrap();
    }
}

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--healthEndpoint", "/healthz"];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// For each path: HEAD, then GET, on one connection; the HEAD's head equals
/// the GET's (status, content-length, content-type, allow) and carries no
/// body: the GET's status line is the very next thing read.
fn head_like_get(addr: SocketAddr, paths: &[&str], extra: &str) {
    let mut client = Client::new(addr);
    for path in paths {
        let head = client.exchange("HEAD", path, extra);
        let get = client.exchange("GET", path, extra);
        assert_eq!(head.head_summary(), get.head_summary(), "HEAD {path}");
        assert!(!get.body.is_empty(), "GET {path} has a body to leave out");
        assert_ne!(head.header("connection"), Some("close"), "HEAD {path}");
    }
    client.expect_nothing();
}

/// HEAD on a streaming route: 405 with `Allow` and no body (the reference
/// SDK answers methods it does not serve the same way); the connection
/// stays in step for the next request.
fn head_on_stream_is_405(addr: SocketAddr, path: &str, allow: &str) {
    let mut client = Client::new(addr);
    let head = client.exchange("HEAD", path, "Accept: text/event-stream\r\n");
    assert_eq!((head.status, head.header("allow")), (405, Some(allow)));
    assert!(head.header("content-length").is_some_and(|n| n != "0"));
    let health = client.exchange("GET", "/healthz", "");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    client.expect_nothing();
}

#[test]
fn head_gets_the_get_head_without_a_body_in_sse_mode() {
    let gw = gateway(&["--outputTransport", "sse"]);
    head_like_get(gw.addr, &["/healthz", "/nowhere", "/message"], "");
    head_on_stream_is_405(gw.addr, "/sse", "GET");
}

#[test]
fn head_gets_the_get_head_without_a_body_in_streamable_mode() {
    for stateful in [false, true] {
        let mut args = vec!["--outputTransport", "streamableHttp"];
        if stateful {
            args.push("--stateful");
        }
        let gw = gateway(&args);
        head_like_get(gw.addr, &["/healthz", "/nowhere"], "");
        head_on_stream_is_405(gw.addr, "/mcp", "GET, POST, DELETE");
    }
}

#[test]
fn head_gets_the_get_head_without_a_body_in_ws_mode() {
    let gw = gateway(&["--outputTransport", "ws"]);
    // `/message` without an upgrade is 426, to HEAD as to GET.
    head_like_get(gw.addr, &["/healthz", "/nowhere", "/message"], "");
}

#[test]
fn head_gets_the_get_head_without_a_body_on_the_admin_api() {
    let gw = gateway(&[
        "--runtimeAdminPort",
        "0",
        "--runtimeAdminToken",
        "admin-secret",
    ]);
    let mut addr = None;
    eventually("the admin address in the log", || {
        addr = gw
            .log()
            .lines()
            .find_map(|line| line.split("Runtime admin API on http://").nth(1))
            .map(|addr| addr.trim().parse().unwrap());
        addr.is_some()
    });
    let auth = "Authorization: Bearer admin-secret\r\n";
    head_like_get(
        addr.unwrap(),
        &["/runtime/sessions", "/nowhere", "/runtime/defaults"],
        auth,
    );
}

/// The status of `GET /healthz` with these header lines (Host among them).
fn health_status(addr: SocketAddr, headers: &str) -> u16 {
    let raw = format!("GET /healthz HTTP/1.1\r\n{headers}\r\n");
    common::request_to(addr, raw.as_bytes()).status
}

#[test]
fn allowed_host_lets_a_public_name_through_the_loopback_check() {
    let public = "Host: mcp.example.com:8443\r\n";
    let public_origin = "Host: mcp.example.com\r\nOrigin: https://mcp.example.com\r\n";
    // Without the flag, a foreign Host or Origin is refused.
    let gw = gateway(&[]);
    assert_eq!(health_status(gw.addr, public), 403);
    assert_eq!(health_status(gw.addr, public_origin), 403);
    drop(gw);

    let gw = gateway(&[
        "--allowedHost",
        "mcp.example.com",
        "--allowedHost",
        "other.test",
    ]);
    assert_eq!(health_status(gw.addr, public), 200, "{}", gw.log());
    assert_eq!(health_status(gw.addr, public_origin), 200);
    assert_eq!(health_status(gw.addr, "Host: OTHER.test\r\n"), 200);
    assert_eq!(health_status(gw.addr, "Host: localhost:8000\r\n"), 200);
    // Only the names given, exactly.
    for refused in [
        "Host: evil.com\r\n",
        "Host: mcp.example.com.evil.com\r\n",
        "Host: evil.mcp.example.com\r\n",
        "Host: mcp.example.com\r\nOrigin: https://evil.com\r\n",
        "Host: mcp.example.com\r\nOrigin: https://mcp.example.com@evil.com\r\n",
    ] {
        assert_eq!(health_status(gw.addr, refused), 403, "{refused:?}");
    }
}

#[test]
fn origin_and_host_are_parsed_exactly() {
    let gw = gateway(&[]);
    // Userinfo that ends in a foreign host, garbage after a literal.
    for origin in [
        "http://localhost:80@evil.com",
        "http://[::1]evil.com",
        "http://localhost:99999",
        "http://localhost/",
    ] {
        let headers = format!("Host: localhost\r\nOrigin: {origin}\r\n");
        assert_eq!(health_status(gw.addr, &headers), 403, "{origin}");
    }
    assert_eq!(
        health_status(
            gw.addr,
            "Host: localhost\r\nOrigin: http://localhost:65535\r\n"
        ),
        200
    );
    // A Host port past 65535 is not a Host at all (RFC 9112 §3.2: 400).
    assert_eq!(health_status(gw.addr, "Host: localhost:99999\r\n"), 400);
    assert_eq!(health_status(gw.addr, "Host: localhost:65536\r\n"), 400);
    assert_eq!(health_status(gw.addr, "Host: localhost:65535\r\n"), 200);
}

/// Runs the binary with `args` (on port 0) to its exit: (exit code,
/// stderr). One that is still running after `common::WAIT` accepted the
/// arguments: it is killed and the test fails.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supergateway"))
        .args(args)
        .args(["--port", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + common::WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} started instead of exiting");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

#[test]
fn reserved_header_names_are_refused_at_start_up() {
    let fixture = fixture();
    for header in [
        "Host: evil.com",
        "Set-Cookie: session=stolen",
        "Connection: close",
        "Keep-Alive: timeout=5",
        "Transfer-Encoding: chunked",
        "TE: trailers",
        "Trailer: X",
        "Upgrade: h2c",
        "Proxy-Authorization: Basic eA==",
        "Content-Type: text/html",
        "Mcp-Session-Id: fixed",
        "Access-Control-Allow-Origin: *",
    ] {
        let name = header.split(':').next().unwrap();
        for mode in [
            &["--stdio", fixture.as_str()][..],
            &["--streamableHttp", "http://127.0.0.1:9/mcp"][..],
        ] {
            let mut args = mode.to_vec();
            args.extend(["--header", header]);
            let (code, stderr) = run_to_exit(&args);
            assert_eq!(code, Some(2), "{header}: {stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "one line for {header}: {stderr}");
            assert!(
                lines[0].contains(&format!("--header {name} cannot be set: ")),
                "{header}: {stderr}"
            );
        }
    }
}

#[test]
fn reserved_header_names_are_refused_by_the_admin_api() {
    let gw = gateway(&[
        "--runtimeAdminPort",
        "0",
        "--runtimeAdminToken",
        "admin-secret",
        "--header",
        "X-Kept: 1",
    ]);
    let mut addr = None;
    eventually("the admin address in the log", || {
        addr = gw
            .log()
            .lines()
            .find_map(|line| line.split("Runtime admin API on http://").nth(1))
            .map(|addr| addr.trim().parse().unwrap());
        addr.is_some()
    });
    let admin: SocketAddr = addr.unwrap();
    for name in [
        "Host",
        "Set-Cookie",
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Upgrade",
        "Proxy-Connection",
        "Content-Type",
        "mcp-session-id",
    ] {
        let body = format!(r#"{{"headers":{{"{name}":"x"}}}}"#);
        let raw = format!(
            "POST /runtime/defaults HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer admin-secret\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let response = common::request_to(admin, raw.as_bytes());
        assert_eq!(response.status, 400, "{name}: {}", response.text());
        assert_eq!(response.json()["field"], format!("headers.{name}"));
    }
    // Nothing was applied: the gateway's responses carry the start-up
    // headers, one Content-Type, no cookie.
    let mut client = Client::new(gw.addr);
    let health = client.exchange("GET", "/healthz", "");
    let names: Vec<&str> = health.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "content-type").count(),
        1,
        "{names:?}"
    );
    assert_eq!(health.header("x-kept"), Some("1"));
    assert_eq!(health.header("set-cookie"), None);
}

#[test]
fn two_session_ids_are_refused_with_400() {
    // Streamable HTTP, stateful: a real session, then the same id twice and
    // two different ids.
    let gw = gateway(&["--outputTransport", "streamableHttp", "--stateful"]);
    let mut streamable = common::Streamable::new(&gw);
    streamable.initialize("2025-03-26");
    let session = streamable.session.clone().unwrap();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for ids in [
        [session.as_str(), session.as_str()],
        [session.as_str(), "other"],
    ] {
        let raw = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMcp-Session-Id: {}\r\n\
             Mcp-Session-Id: {}\r\nContent-Length: {}\r\n\r\n{ping}",
            ids[0],
            ids[1],
            ping.len()
        );
        let response = common::request_to(gw.addr, raw.as_bytes());
        assert_eq!(response.status, 400, "{ids:?}: {}", response.text());
        assert_eq!(
            response.json()["error"]["message"],
            "Bad Request: more than one Mcp-Session-Id header"
        );
    }
    // One id is served as before.
    let answers = streamable.call(serde_json::json!(2), "ping", serde_json::json!({}));
    assert_eq!(answers.len(), 1, "{answers:?}");

    // SSE: the endpoint's sessionId twice (also spelled percent-encoded).
    let gw = gateway(&["--outputTransport", "sse"]);
    let mut sse = common::SseClient::connect(&gw);
    let endpoint = sse.endpoint.clone();
    for target in [
        format!("{endpoint}&sessionId=other"),
        format!("{endpoint}&session%49d=other"),
    ] {
        let response = common::request_to(gw.addr, &common::post(&target, ping, ""));
        assert_eq!(response.status, 400, "{target}: {}", response.text());
        assert_eq!(
            response.json()["error"]["message"],
            "Bad Request: more than one sessionId parameter"
        );
    }
    sse.expect_nothing();
    // The session still works with one.
    let answer = sse.call(serde_json::json!(3), "ping", serde_json::json!({}));
    assert_eq!(answer["id"], 3, "{answer}");
}
