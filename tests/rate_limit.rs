//! `--rateLimit`, `--trustedProxy`, the exposed-port warning and
//! `--authEnv`'s start-up checks (issue 16, items 4–6), against the real
//! binary.
//!
//! Timing: the HTTP cases use `N/m` rates, whose buckets gain a token every
//! 60/N seconds, so "N pass, the next is refused" holds however slowly the
//! machine runs the test (under 30 s). The WebSocket case uses `1/s` and
//! only asserts what the bucket guarantees: some message of a fast run is
//! refused, and polling later finds the bucket refilled.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{binary, eventually, fixture, Gateway, Response, Streamable, WsClient, WAIT};
use serde_json::{json, Value};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const ALICE: &str = "alice-Rl8vXk9Lr4Tz8Wm";
const BOB: &str = "bob-Rl3Nf6Yc1Gs5Jb0Q";
const CAROL: &str = "carol-Rl7Dq2Hw9Ux4Kp6";

fn pong(id: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"result":{}})
}

fn start(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--outputTransport",
        "streamableHttp",
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// What a stateless ping got: the response head, and the messages of its
/// event stream (none for an error response).
struct Answer {
    head: Response,
    messages: Vec<Value>,
}

/// A stateless ping POSTed to `addr` with extra header lines.
fn ping_at(addr: SocketAddr, extra: &str) -> Answer {
    let (head, events) = Streamable::at(addr).post_raw(PING, extra);
    let messages = events.map(|mut events| events.rest()).unwrap_or_default();
    Answer { head, messages }
}

fn ping(gw: &Gateway, extra: &str) -> Answer {
    ping_at(gw.addr, extra)
}

/// A ping that went through: 200, its pong on the stream.
fn assert_passed(answer: &Answer) {
    assert_eq!(answer.head.status, 200, "{}", answer.head.text());
    assert_eq!(answer.messages, vec![pong(json!(1))]);
}

/// The 429: `Retry-After` in whole seconds (at most `max`), the exact
/// JSON-RPC body.
fn assert_too_many(answer: impl Into<Refusal>, max: u64) {
    let Refusal(response) = answer.into();
    let response = &response;
    assert_eq!(response.status, 429, "{}", response.text());
    let retry: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=max).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        response.json(),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,
            "message":"Too Many Requests: rate limit exceeded"}})
    );
}

/// A response that must be a 429 (from a ping or any request).
struct Refusal(Response);

impl From<Answer> for Refusal {
    fn from(answer: Answer) -> Self {
        assert!(answer.messages.is_empty(), "{:?}", answer.messages);
        Self(answer.head)
    }
}

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Self(response)
    }
}

/// A request logged after everything before it (the 403 of a foreign
/// Host), so that once its line is in the log, every earlier line is too.
fn log_barrier(gw: &Gateway, marker: &str) {
    let response =
        gw.request(format!("GET /{marker} HTTP/1.1\r\nHost: {marker}.example\r\n\r\n").as_bytes());
    assert_eq!(response.status, 403);
    eventually("the barrier's log line", || {
        gw.log().contains(&format!("/{marker} (403)"))
    });
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

#[test]
fn n_requests_pass_then_429_with_retry_after() {
    let gw = start(&[
        "--rateLimit",
        "2/m",
        "--healthEndpoint",
        "/healthz",
        "--cors",
    ]);
    // Health checks and CORS preflights are not counted.
    for _ in 0..5 {
        let health = gw.request(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert_eq!((health.status, health.text().as_str()), (200, "ok"));
        let preflight = gw.request(
            b"OPTIONS /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\n\
              Access-Control-Request-Method: POST\r\n\r\n",
        );
        assert_eq!(preflight.status, 204);
    }
    assert_passed(&ping(&gw, ""));
    assert_passed(&ping(&gw, ""));
    // A refill of one token takes 30 s: the third is refused.
    assert_too_many(ping(&gw, ""), 30);
    // Every method counts, not only POST.
    let get =
        gw.request(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    assert_too_many(get, 30);
    assert_too_many(ping(&gw, ""), 30);
    // Still open: health.
    let health = gw.request(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(health.status, 200);
    // Logged once for the burst, not per request.
    log_barrier(&gw, "barrier");
    let log = gw.log();
    assert_eq!(count(&log, "(429)"), 1, "{log}");
    assert!(
        log.contains("refused POST /mcp from 127.0.0.1:") && log.contains("over --rateLimit 2/m"),
        "{log}"
    );
}

/// A token file for this test (removed when dropped).
struct TokenFile(PathBuf);

impl TokenFile {
    fn new(name: &str, text: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("sg-rate16-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

#[test]
fn callers_have_separate_buckets() {
    let file = TokenFile::new("three", &format!("{ALICE}\n{BOB}\n{CAROL}\n"));
    let gw = start(&["--authTokenFile", file.path(), "--rateLimit", "1/m"]);
    assert_passed(&ping(&gw, &bearer(ALICE)));
    assert_too_many(ping(&gw, &bearer(ALICE)), 60);
    // Same address, another caller: its own bucket.
    assert_passed(&ping(&gw, &bearer(BOB)));
    assert_too_many(ping(&gw, &bearer(BOB)), 60);
    // Authentication comes first: no token is a 401, not a 429 (the
    // callers' buckets are empty, the address's is not), and costs the
    // address's bucket, not a caller's.
    let anonymous = ping(&gw, "").head;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert_too_many(ping(&gw, &bearer("mallory-000000000000")), 60);
    assert_too_many(ping(&gw, &bearer(ALICE)), 60);
    // A caller is never limited by its address's bucket.
    assert_passed(&ping(&gw, &bearer(CAROL)));
}

#[test]
fn wrong_tokens_take_from_the_address_bucket() {
    let file = TokenFile::new("guessed", &format!("{ALICE}\n"));
    let gw = start(&["--authTokenFile", file.path(), "--rateLimit", "2/m"]);
    for guess in ["guess-0000000001", "guess-0000000002"] {
        let refused = ping(&gw, &bearer(guess));
        assert!(refused.messages.is_empty(), "{:?}", refused.messages);
        assert_eq!(refused.head.status, 401, "{}", refused.head.text());
        assert_eq!(
            refused.head.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\"")
        );
    }
    // The address's bucket is empty: the third guess is slowed down.
    assert_too_many(ping(&gw, &bearer("guess-0000000003")), 30);
    // Two Authorization headers (400) and none at all (401) count too.
    assert_too_many(
        ping(&gw, &format!("{}{}", bearer(ALICE), bearer(ALICE))),
        30,
    );
    assert_too_many(ping(&gw, ""), 30);
    // The holder of a good token, from the same address, is not.
    assert_passed(&ping(&gw, &bearer(ALICE)));
    assert_passed(&ping(&gw, &bearer(ALICE)));
    assert_too_many(ping(&gw, &bearer(ALICE)), 30);
}

/// `ping` with `X-Forwarded-For: value`.
fn forwarded(gw: &Gateway, value: &str) -> Answer {
    ping(gw, &format!("X-Forwarded-For: {value}\r\n"))
}

#[test]
fn without_trusted_proxies_forwarded_for_is_ignored() {
    let gw = start(&["--rateLimit", "1/m"]);
    assert_passed(&forwarded(&gw, "203.0.113.1"));
    // Another claimed client, the same peer: the same bucket.
    assert_too_many(forwarded(&gw, "203.0.113.2"), 60);
    assert_too_many(ping(&gw, ""), 60);
}

#[test]
fn behind_a_trusted_proxy_forwarded_clients_have_their_own_buckets() {
    let gw = start(&["--rateLimit", "1/m", "--trustedProxy", "127.0.0.1/32"]);
    assert_passed(&forwarded(&gw, "203.0.113.1"));
    assert_too_many(forwarded(&gw, "203.0.113.1"), 60);
    assert_passed(&forwarded(&gw, "203.0.113.2"));
    // The proxy's own requests are the proxy's.
    assert_passed(&ping(&gw, ""));
    // What a client writes on the left does not count: the right-most
    // untrusted entry is the client (203.0.113.1, refused already).
    assert_too_many(forwarded(&gw, "198.51.100.77, 203.0.113.1"), 60);
    // Several headers are one list; trusted entries are skipped.
    let two = ping(
        &gw,
        "X-Forwarded-For: 198.51.100.77\r\nX-Forwarded-For: 203.0.113.2, 127.0.0.1\r\n",
    );
    assert_too_many(two, 60);
    // A malformed entry leaves the peer as the client (refused already).
    assert_too_many(forwarded(&gw, "203.0.113.3:4711"), 60);
    assert_passed(&forwarded(&gw, "2001:db8::5"));
    // The log names the client and the proxy it came through.
    log_barrier(&gw, "barrier");
    let log = gw.log();
    assert!(
        log.contains("refused POST /mcp from 203.0.113.1 via 127.0.0.1:"),
        "{log}"
    );
}

#[test]
fn without_authentication_buckets_are_per_address() {
    // Bound to every address, so that 127.0.0.1 and ::1 are two clients.
    let gw = start(&["--rateLimit", "1/m", "--host", "::"]);
    let port = gw.addr.port();
    let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    if TcpStream::connect(v6).is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    assert_passed(&ping_at(v4, ""));
    assert_too_many(ping_at(v4, ""), 60);
    assert_passed(&ping_at(v6, ""));
    assert_too_many(ping_at(v6, ""), 60);
}

#[test]
fn websocket_messages_over_the_limit_get_errors_and_the_socket_stays() {
    let fixture = fixture();
    let gw = Gateway::start(&[
        "--stdio",
        fixture.as_str(),
        "--outputTransport",
        "ws",
        "--rateLimit",
        "1/s",
    ]);
    let mut client = WsClient::connect(&gw);
    let mut refused = None;
    for id in 1..=50 {
        client.send(&json!({"jsonrpc":"2.0","id":id,"method":"ping"}));
        let answer = client.next_message();
        if answer.get("error").is_some() {
            refused = Some((id, answer));
            break;
        }
        assert_eq!(answer, pong(json!(id)));
    }
    let (id, answer) = refused.expect("50 pings in a row, one of them over 1/s");
    assert_eq!(
        answer,
        json!({"jsonrpc":"2.0","id":id,"error":{"code":-32000,
            "message":"Too Many Requests: rate limit exceeded","data":{"retryAfter":1}}})
    );
    // A string id is echoed as it was sent.
    let mut string_refused = false;
    for n in 0..50 {
        let id = format!("s-{n}");
        client.send(&json!({"jsonrpc":"2.0","id":id,"method":"ping"}));
        let answer = client.next_message();
        if answer.get("error").is_some() {
            assert_eq!(answer["id"], json!(id));
            string_refused = true;
            break;
        }
    }
    assert!(string_refused);
    // The socket stays open: once the bucket has refilled (polled), a ping
    // is answered by the server again.
    let deadline = Instant::now() + WAIT;
    let mut next = 1000;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        client.send(&json!({"jsonrpc":"2.0","id":next,"method":"ping"}));
        let answer = client.next_message();
        if answer == pong(json!(next)) {
            break;
        }
        assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
        assert!(Instant::now() < deadline, "the bucket never refilled");
        next += 1;
    }
    client.expect_nothing();
}

const WARNING: &str = "without authentication: anyone who can reach this port may call every tool";

#[test]
fn exposed_port_warning_at_start() {
    let fixture = fixture();
    let exposed = Gateway::start(&["--stdio", fixture.as_str(), "--host", "0.0.0.0"]);
    let log = exposed.log();
    assert_eq!(count(&log, WARNING), 1, "{log}");
    assert!(
        log.contains(
            "--host 0.0.0.0 without authentication: anyone who can reach this port may call \
             every tool of the MCP server; protect it with --authTokenFile, \
             SUPERGATEWAY_AUTH_TOKEN, --authIssuer or --tlsClientCa, or bind 127.0.0.1"
        ),
        "{log}"
    );

    let file = TokenFile::new("warning", &format!("{ALICE}\n"));
    let with_file = Gateway::start(&[
        "--stdio",
        fixture.as_str(),
        "--host",
        "0.0.0.0",
        "--authTokenFile",
        file.path(),
    ]);
    let with_env = Gateway::start_with_env(
        &["--stdio", fixture.as_str(), "--host", "0.0.0.0"],
        &[("SUPERGATEWAY_AUTH_TOKEN", ALICE)],
    );
    let loopback = Gateway::start(&["--stdio", fixture.as_str()]);
    for gw in [&with_file, &with_env, &loopback] {
        // Warnings are logged before `Listening on`: once that line is in,
        // a warning would be too.
        eventually("the Listening line", || gw.log().contains("Listening on"));
        let log = gw.log();
        assert_eq!(count(&log, WARNING), 0, "{log}");
    }
}

#[test]
fn auth_env_names_are_checked_at_start() {
    for (args, error) in [
        (
            &["--authEnv", "sub=LD_PRELOAD", "--childPerSession"][..],
            "supergateway: --authEnv sub=LD_PRELOAD: LD_PRELOAD refused: it can change how the \
             child's loader, shell, interpreter or package runner starts or where it fetches \
             code (rule LD_*, any case); start the gateway with --runtimeAllowEnv LD_PRELOAD to \
             allow it",
        ),
        (
            &["--authEnv", "groups=G", "--childPerSession"][..],
            "supergateway: --authEnv claim must be one of sub, client_id, azp, email, \
             preferred_username, name, iss, tls_subject (got \"groups\")",
        ),
    ] {
        let output = Command::new(binary())
            .args(["--stdio", "true"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr, format!("{error}\n"), "{args:?}");
    }
}
