//! The reverse bridges end to end: our stdio→network gateway in front of
//! the fixture, and our network→stdio gateway in front of it, driven over
//! its stdin/stdout like Claude Desktop would.
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
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{fixture, tool_text, Gateway, WAIT};
use serde_json::{json, Value};

/// Our gateway in a reverse mode, spoken to over its stdin/stdout.
struct Local {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Local {
    fn start(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Self::from_command(command)
    }

    fn from_command(mut command: Command) -> Self {
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|err| {
                    panic!("stdout carried a non-JSON line ({err}): {line:?}")
                });
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
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

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&self) -> Value {
        self.lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no message on stdout; log:\n{}", self.log()))
    }

    /// Sends a request and returns its answer; other messages on the way
    /// are returned too, in order, before it.
    fn call(&mut self, id: Value, method: &str, params: Value) -> (Vec<Value>, Value) {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        let mut before = Vec::new();
        loop {
            let message = self.recv();
            if message.get("id") == Some(&id) && message.get("method").is_none() {
                return (before, message);
            }
            before.push(message);
        }
    }

    fn initialize(&mut self) -> Value {
        let (_, answer) = self.call(
            json!(0),
            "initialize",
            json!({"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"t","version":"1"}}),
        );
        self.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        answer
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(output: &str, extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--outputTransport", output];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// Everything the fixture does, through the bridge.
fn round_trip(local: &mut Local) {
    let init = local.initialize();
    assert_eq!(
        init["result"]["serverInfo"]["name"], "supergateway-fixture",
        "{init}"
    );
    let (_, tools) = local.call(json!(1), "tools/list", json!({}));
    assert!(tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "echo"));
    let (_, echo) = local.call(
        json!("s"),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"héllo \"x\""}}),
    );
    assert_eq!(tool_text(&echo), "héllo \"x\"");
    // progress
    let (before, done) = local.call(
        json!(2),
        "tools/call",
        json!({"name":"progress","arguments":{"steps":2},"_meta":{"progressToken":"p"}}),
    );
    assert_eq!(tool_text(&done), "done");
    let progress: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 2, "{before:?}");
    assert_eq!(progress[0]["params"]["progressToken"], json!("p"));
    // logging
    let (before, done) = local.call(
        json!(3),
        "tools/call",
        json!({"name":"notify","arguments":{"message":"log line"}}),
    );
    assert_eq!(tool_text(&done), "notified");
    assert!(
        before
            .iter()
            .any(|m| m["method"] == "notifications/message" && m["params"]["data"] == "log line"),
        "{before:?}"
    );
    // a sampling request from the server, answered by the local client
    local.send(&json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"sample","arguments":{"prompt":"hi"}}}));
    let request = local.recv();
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    local.send(&json!({"jsonrpc":"2.0","id":request["id"],"result":{"role":"assistant","content":{"type":"text","text":"sure"},"model":"m"}}));
    let answer = local.recv();
    assert_eq!(answer["id"], json!(4));
    assert_eq!(tool_text(&answer), "sampled: sure");
}

#[test]
fn sse_bridge_round_trips_everything() {
    let gw = forward("sse", &[]);
    let url = format!("http://{}/sse", gw.addr);
    let mut local = Local::start(&["--sse", &url]);
    round_trip(&mut local);
}

#[test]
fn streamable_bridge_round_trips_everything_stateful() {
    let gw = forward("streamableHttp", &["--stateful"]);
    let url = format!("http://{}/mcp", gw.addr);
    let mut local = Local::start(&["--streamableHttp", &url]);
    round_trip(&mut local);
}

#[test]
fn streamable_bridge_round_trips_everything_stateless() {
    let gw = forward("streamableHttp", &[]);
    let url = format!("http://{}/mcp", gw.addr);
    let mut local = Local::start(&["--streamableHttp", &url]);
    round_trip(&mut local);
}

#[test]
fn streamable_bridge_round_trips_everything_to_a_legacy_upstream() {
    // Our forward gateway speaks both eras: under `auto` the bridge finds a
    // 2026-07-28 server (the tests above), under `legacy` it keeps the
    // handshake era and its session.
    const PROBED: &str = "the MCP server speaks 2026-07-28";
    for extra in [&["--stateful"][..], &[]] {
        let gw = forward("streamableHttp", extra);
        let url = format!("http://{}/mcp", gw.addr);
        let mut local = Local::start(&["--streamableHttp", &url, "--upstreamProtocol", "legacy"]);
        round_trip(&mut local);
        assert!(
            local
                .lines
                .recv_timeout(Duration::from_millis(300))
                .is_err(),
            "nothing else on stdout"
        );
        // No probe: the server was never asked server/discover.
        assert!(!local.log().contains(PROBED), "{}", local.log());
        // Under `auto` the same server is probed and found modern (so the
        // check above can tell the two apart).
        let mut auto = Local::start(&["--streamableHttp", &url]);
        round_trip(&mut auto);
        assert!(auto.log().contains(PROBED), "{}", auto.log());
    }
}

#[test]
fn streamable_bridge_falls_back_to_sse() {
    // POST to an SSE stream URL is 405: the bridge must switch transports.
    let gw = forward("sse", &[]);
    let url = format!("http://{}/sse", gw.addr);
    let mut local = Local::start(&["--streamableHttp", &url]);
    round_trip(&mut local);
}

#[test]
fn stateful_session_is_deleted_on_stdin_eof() {
    let gw = forward("streamableHttp", &["--stateful"]);
    let url = format!("http://{}/mcp", gw.addr);
    // The legacy session is what is deleted (a 2026-07-28 server has none).
    let mut local = Local::start(&["--streamableHttp", &url, "--upstreamProtocol", "legacy"]);
    local.initialize();
    drop(std::mem::replace(&mut local.stdin, {
        // close stdin: swap in a dummy pipe end that we drop at once
        let mut dummy = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = dummy.stdin.take().unwrap();
        let _ = dummy.wait();
        stdin
    }));
    let status = local.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    common::eventually("the session ended by the client", || {
        gw.log().contains("ended by the client")
    });
}

/// `answer` (an HTTP response whose body is a JSON-RPC answer with
/// `"id":0`) for the POSTed `request`: with the request's id, as a real
/// server answers (the bridge sends its own ids upstream, never the local
/// client's).
fn answer_with_id(answer: &str, request: &[u8]) -> String {
    let id = serde_json::from_slice::<Value>(request)
        .ok()
        .and_then(|value| value.get("id").cloned())
        .unwrap_or_else(|| json!(0));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let body = body.replacen("\"id\":0", &format!("\"id\":{id}"), 1);
    let head: String = head
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!("{head}\r\n\r\n{body}")
}

/// A server that records each request head and answers it with `answer`
/// (see `answer_with_id`).
fn recording_server(answer: &'static str) -> (String, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, heads) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let _ = tx.send(head);
                    if answer.is_empty() {
                        // Never answer: hold the connection open until the
                        // client gives up on it.
                        let _ = std::io::copy(&mut reader, &mut std::io::sink());
                        return;
                    }
                    let answer = answer_with_id(answer, &body);
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/mcp"), heads)
}

#[test]
fn headers_and_bearer_reach_the_server() {
    let body = r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"rec","version":"1"}}}"#;
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let (url, heads) = recording_server(answer);
    let mut local = Local::start(&[
        "--streamableHttp",
        &url,
        "--header",
        "X-Team: blue",
        "--oauth2Bearer",
        "s3cret-token",
    ]);
    let init = local.initialize();
    assert_eq!(init["result"]["serverInfo"]["name"], "rec");
    let head = heads.recv_timeout(WAIT).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("post /mcp http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nx-team: blue\r\n"), "{head}");
    assert!(
        head.contains("\r\nauthorization: bearer s3cret-token\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\naccept: application/json, text/event-stream\r\n"),
        "{head}"
    );
    assert!(
        !local.log().contains("s3cret-token"),
        "the token must not be logged"
    );
}

#[test]
fn a_server_that_never_answers_hits_the_request_timeout() {
    let (url, _heads) = recording_server("");
    let mut local = Local::start(&["--streamableHttp", &url, "--requestTimeout", "500"]);
    local.send(&json!({"jsonrpc":"2.0","id":"slow","method":"initialize",
        "params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
    let answer = local.recv();
    assert_eq!(answer["id"], json!("slow"));
    assert_eq!(answer["error"]["code"], json!(-32001));
}

#[test]
fn sse_bridge_survives_an_abrupt_stream_drop() {
    let mut gw = forward("sse", &[]);
    let addr = gw.addr;
    let url = format!("http://{addr}/sse");
    let mut local = Local::start(&["--sse", &url]);
    local.initialize();
    let (_, echo) = local.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"before"}}),
    );
    assert_eq!(tool_text(&echo), "before");
    // a request in flight when the server goes away gets an error, not silence
    local.send(&json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":5000}}}));
    // Evidence that the slow call is in flight at the server: the bridge
    // POSTs in order and the fixture reads in order, so a ping's answer
    // comes back only after the slow call reached the fixture.
    let (before, pong) = local.call(json!("seen"), "ping", json!({}));
    assert_eq!((before, &pong["result"]), (vec![], &json!({})), "{pong}");
    gw.signal("KILL");
    gw.wait_exit();
    let lost = local.recv();
    assert_eq!(lost["id"], json!(2), "{lost}");
    assert_eq!(lost["error"]["code"], json!(-32000));
    // the server comes back on the same port: the bridge reconnects and
    // re-initialises the new session by itself
    let fixture = fixture();
    let port = addr.port().to_string();
    let _again = Gateway::start_on(&["--stdio", &fixture], &port);
    common::eventually("the bridge has the new server's endpoint", || {
        local.log().matches("SSE→stdio: messages go to").count() == 2
    });
    // the re-initialisation's answer stays inside the bridge
    let (before, reply) = local.call(
        json!(100),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"after"}}),
    );
    assert_eq!(before, Vec::<Value>::new(), "{}", local.log());
    assert_eq!(tool_text(&reply), "after");
}

#[test]
fn sse_bridge_refuses_an_endpoint_on_another_origin() {
    // the server tells us to POST to another host: our messages (and any
    // --header credentials) must not go there
    let gw = forward("sse", &["--baseUrl", "http://127.0.0.2:9"]);
    let url = format!("http://{}/sse", gw.addr);
    let mut local = Local::start(&["--sse", &url, "--requestTimeout", "500"]);
    local.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    let answer = local.recv();
    assert_eq!(answer["id"], json!(1));
    assert_eq!(answer["error"]["code"], json!(-32001), "{answer}");
    assert!(
        local.log().contains("refused the server's endpoint"),
        "{}",
        local.log()
    );
}

/// A TLS server for "localhost" signed by a fresh test CA; answers every
/// request with an InitializeResult. Returns (port, CA PEM path).
fn tls_server() -> (u16, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let ca_path = std::env::temp_dir().join(format!(
        "supergateway-reverse-ca-{}.pem",
        std::process::id()
    ));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let tls = rustls::ServerConnection::new(config).unwrap();
                let mut stream = rustls::StreamOwned::new(tls, stream);
                let mut reader = Vec::new();
                let mut byte = [0u8; 1];
                while !reader.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    reader.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&reader).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0; length];
                stream.read_exact(&mut body).unwrap();
                let answer = r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"tls","version":"1"}}}"#;
                let response = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}", answer.len());
                let response = answer_with_id(&response, &body);
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.flush();
            });
        }
    });
    (port, ca_path)
}

fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Local {
    // Local::start with extra environment: set it for this child only
    let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
    command.args(args).env_remove("SSL_CERT_FILE");
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Local::from_command(command)
}

#[test]
fn https_with_a_private_ca_from_ssl_cert_file() {
    let (port, ca) = tls_server();
    let url = format!("https://localhost:{port}/mcp");
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize",
        "params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    // trusted through SSL_CERT_FILE
    let mut local = start_with_env(
        &["--streamableHttp", &url],
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    );
    local.send(&init);
    let answer = local.recv();
    assert_eq!(answer["result"]["serverInfo"]["name"], "tls", "{answer}");
    // without it, the certificate is refused and the request fails cleanly
    let mut untrusted = start_with_env(&["--streamableHttp", &url], &[]);
    untrusted.send(&init);
    let answer = untrusted.recv();
    assert_eq!(answer["id"], json!(0));
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    let message = answer["error"]["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(message.contains("certificate"), "{message}");
}

// Issue 13 item 4: a credential in a bridge URL is never logged.

/// Checks that `log` never shows `secret`, and shows the URL redacted.
fn assert_redacted(log: &str, secret: &str, shown: &str) {
    assert!(!log.contains(secret), "the secret was logged:\n{log}");
    assert!(log.contains(shown), "expected {shown:?} in the log:\n{log}");
}

#[test]
fn sse_bridge_logs_urls_without_their_query_values() {
    let gw = forward("sse", &[]);
    let url = format!("http://{}/sse?api_key=SECRET-4a", gw.addr);
    let mut local = Local::start(&["--sse", &url, "--logLevel", "debug"]);
    local.initialize();
    let (before, pong) = local.call(json!(1), "ping", json!({}));
    assert_eq!((before, &pong["result"]), (vec![], &json!({})), "{pong}");
    let log = local.log();
    let addr = gw.addr;
    assert_redacted(
        &log,
        "SECRET-4a",
        &format!("SSE→stdio: connecting to http://{addr}/sse?api_key=…"),
    );
    // the endpoint's session id is a credential for the session too
    assert!(
        log.contains(&format!("messages go to http://{addr}/message?sessionId=…")),
        "{log}"
    );
}

#[test]
fn sse_bridge_redacts_the_refused_endpoint_line() {
    let gw = forward("sse", &["--baseUrl", "http://127.0.0.2:9"]);
    let url = format!("http://{}/sse?api_key=SECRET-4b", gw.addr);
    let mut local = Local::start(&["--sse", &url, "--requestTimeout", "500"]);
    local.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    let answer = local.recv();
    assert_eq!(answer["error"]["code"], json!(-32001), "{answer}");
    assert_redacted(
        &local.log(),
        "SECRET-4b",
        &format!(
            "refused the server's endpoint http://127.0.0.2:9/message?sessionId=…: \
             not on the origin of http://{}/sse?api_key=…",
            gw.addr
        ),
    );
}

#[test]
fn streamable_bridge_logs_urls_without_their_query_values() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp?api_key=SECRET-4c&v=1");
    let mut local = Local::start(&["--streamableHttp", &url, "--logLevel", "debug"]);
    local.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    let answer = local.recv();
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    let log = local.log();
    assert_redacted(
        &log,
        "SECRET-4c",
        &format!("Streamable HTTP→stdio: http://127.0.0.1:{port}/mcp?api_key=…&v=…"),
    );
}

// Issue 13 item 6: a floor under reconnects, growing while failures last.

/// A port with nothing listening on it (for now).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The request lines a test server saw, with when.
type Seen = Mutex<Vec<(Instant, String)>>;

/// A server that answers every GET with `get_answer` and closes, and every
/// POST with `post_answer(session)` (keeping the connection); returns its
/// address and the request lines it saw, with when.
fn closing_stream_server(
    get_answer: &'static str,
    post_answer: &'static str,
) -> (std::net::SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let request_line = head.lines().next().unwrap_or_default().to_owned();
                    log.lock()
                        .unwrap()
                        .push((Instant::now(), request_line.clone()));
                    if request_line.starts_with("GET ") {
                        let _ = stream.write_all(get_answer.as_bytes());
                        return; // and close
                    }
                    let post_answer = answer_with_id(post_answer, &body);
                    if stream.write_all(post_answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// How many of `seen` start with `prefix`.
fn count(seen: &Seen, prefix: &str) -> usize {
    let seen = seen.lock().unwrap();
    seen.iter()
        .filter(|(_, line)| line.starts_with(prefix))
        .count()
}

/// Watches the reconnects for 2 s: a handful, each wait at least the floor.
fn assert_no_reconnect_storm(seen: &Seen, prefix: &str, log: &str) {
    // A rate over a time window is what is measured here: the window is
    // the test's subject, not a synchronisation.
    std::thread::sleep(Duration::from_secs(2));
    let gets: Vec<Instant> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, line)| line.starts_with(prefix))
        .map(|(at, _)| *at)
        .collect();
    // Waits of 250, 500, 1000 ms at least (plus jitter): 4 streams in 2 s
    // at most, against thousands without a floor.
    assert!(
        (2..=4).contains(&gets.len()),
        "{} streams opened in 2 s:\n{log}",
        gets.len()
    );
    for pair in gets.windows(2) {
        let wait = pair[1] - pair[0];
        assert!(
            wait >= Duration::from_millis(240),
            "reconnected after {wait:?}"
        );
    }
}

#[test]
fn sse_bridge_does_not_storm_a_server_that_sends_retry_0_and_closes() {
    let (addr, seen) = closing_stream_server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n\
         retry: 0\n\nevent: endpoint\ndata: /message\n\n",
        "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    );
    let url = format!("http://{addr}/sse");
    let local = Local::start(&["--sse", &url]);
    common::eventually("the first stream", || count(&seen, "GET /sse ") >= 1);
    assert_no_reconnect_storm(&seen, "GET /sse ", &local.log());
    // the log says so once per streak, not once per reconnect
    let log = local.log();
    assert_eq!(
        log.matches("then with backoff up to 30 s").count(),
        1,
        "{log}"
    );
    assert!(local.lines.try_recv().is_err(), "nothing goes to stdout");
}

#[test]
fn streamable_bridge_does_not_storm_a_get_stream_that_sends_retry_0_and_closes() {
    let body = r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"closing","version":"1"}}}"#;
    let post_answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s-1\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let (addr, seen) = closing_stream_server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 0\n\n",
        post_answer,
    );
    let url = format!("http://{addr}/mcp");
    let mut local = Local::start(&["--streamableHttp", &url]);
    let (before, init) = local.call(
        json!(0),
        "initialize",
        json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    assert_eq!(before, Vec::<Value>::new());
    assert_eq!(init["result"]["serverInfo"]["name"], "closing", "{init}");
    common::eventually("the standalone stream", || count(&seen, "GET /mcp ") >= 1);
    assert_no_reconnect_storm(&seen, "GET /mcp ", &local.log());
    assert!(
        local.lines.try_recv().is_err(),
        "nothing else goes to stdout"
    );
}

// Issue 13 item 7: a bridge whose server is down answers at once, and
// serves again once the server is back.

/// Sends `initialize` as request `id` and expects a prompt -32000 naming
/// the cause.
fn expect_prompt_unreachable(local: &mut Local, id: Value) {
    let started = Instant::now();
    local.send(&json!({"jsonrpc":"2.0","id":id,"method":"initialize",
        "params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
    let answer = local
        .lines
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_else(|_| panic!("no answer within 2 s; log:\n{}", local.log()));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("could not reach the MCP server: ") && message.contains("refused"),
        "{message}"
    );
}

#[test]
fn sse_bridge_answers_at_once_while_the_server_is_down_and_recovers() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/sse");
    let mut local = Local::start(&["--sse", &url]);
    // the first attempt fails at once (connection refused)
    expect_prompt_unreachable(&mut local, json!("first"));
    // backing off: answered at once, not held
    expect_prompt_unreachable(&mut local, json!("second"));
    // the server comes up on that port: the bridge finds it by itself
    let fixture = fixture();
    let _gw = Gateway::start_on(&["--stdio", &fixture], &port.to_string());
    common::eventually("the bridge has the server's endpoint", || {
        local.log().contains("SSE→stdio: messages go to")
    });
    let init = local.initialize();
    assert_eq!(init["result"]["serverInfo"]["name"], "supergateway-fixture");
    let (before, echo) = local.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"back"}}),
    );
    assert_eq!(before, Vec::<Value>::new());
    assert_eq!(tool_text(&echo), "back");
    assert!(local.lines.try_recv().is_err(), "one answer per request");
}

#[test]
fn streamable_bridge_answers_at_once_while_the_server_is_down_and_recovers() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut local = Local::start(&["--streamableHttp", &url]);
    expect_prompt_unreachable(&mut local, json!("first"));
    expect_prompt_unreachable(&mut local, json!("second"));
    let fixture = fixture();
    let _gw = Gateway::start_on(
        &["--stdio", &fixture, "--outputTransport", "streamableHttp"],
        &port.to_string(),
    );
    common::eventually("the bridge reached the server again", || {
        local.log().contains("the MCP server is reachable again")
    });
    let init = local.initialize();
    assert_eq!(init["result"]["serverInfo"]["name"], "supergateway-fixture");
    // the probe that could not reach it was made again: the era is the
    // server's (our gateway speaks 2026-07-28), not a fallback's
    assert!(
        local.log().contains("the MCP server speaks 2026-07-28"),
        "{}",
        local.log()
    );
    let (before, echo) = local.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"back"}}),
    );
    assert_eq!(before, Vec::<Value>::new());
    assert_eq!(tool_text(&echo), "back");
    assert!(local.lines.try_recv().is_err(), "one answer per request");
}

#[test]
fn a_session_the_server_ended_is_started_again() {
    // The server drops idle sessions after 300 ms; the bridge's GET stream
    // does not count as activity once the session is gone.
    let gw = forward("streamableHttp", &["--stateful", "--sessionTimeout", "300"]);
    let url = format!("http://{}/mcp", gw.addr);
    let mut local = Local::start(&["--streamableHttp", &url, "--upstreamProtocol", "legacy"]);
    local.initialize();
    common::eventually("the idle session expires", || {
        gw.log().contains("expired after 300 ms idle")
    });
    let (before, lost) = local.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"one"}}),
    );
    assert_eq!(before, Vec::<Value>::new());
    assert_eq!(lost["error"]["code"], json!(-32000), "{lost}");
    assert!(
        lost["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Session not found: the MCP server ended the session"),
        "{lost}"
    );
    // the bridge initialised a new session with the client's initialize
    common::eventually("a second session", || {
        gw.log()
            .lines()
            .filter(|line| line.contains(" session ") && line.ends_with(" started"))
            .count()
            == 2
    });
    let (before, echo) = local.call(
        json!(2),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"two"}}),
    );
    assert_eq!(before, Vec::<Value>::new());
    assert_eq!(tool_text(&echo), "two");
    assert!(local.lines.try_recv().is_err(), "nothing else on stdout");
}
