//! Telemetry end to end: the real binary exporting OTLP/HTTP JSON to a loopback collector
//! written here (a thread per connection, keep-alive, answers scripted per test).
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

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{fixture, post, tool_text, Gateway, SseClient, WAIT};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;

/// One request the collector received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the collector answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Status(u16),
    /// Read the request, never answer.
    Never,
}

#[derive(Clone)]
struct Collector {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    /// A collector answering `script` in order, then 200.
    fn start(script: &[Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let sink = Arc::clone(&sink);
                let script = Arc::clone(&script);
                std::thread::spawn(move || serve(stream, &sink, &script));
            }
        });
        Self { port, received }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every span received so far (from `/v1/traces`).
    fn spans(&self) -> Vec<Value> {
        let mut spans = Vec::new();
        for request in self.received() {
            if request.path != "/v1/traces" {
                continue;
            }
            for resource in request.body["resourceSpans"].as_array().unwrap() {
                for scope in resource["scopeSpans"].as_array().unwrap() {
                    spans.extend(scope["spans"].as_array().unwrap().iter().cloned());
                }
            }
        }
        spans
    }

    /// Waits for a span matching `pred`.
    fn wait_span(&self, what: &str, pred: impl Fn(&Value) -> bool) -> (Value, Instant) {
        let deadline = Instant::now() + WAIT;
        loop {
            for request in self.received() {
                if request.path != "/v1/traces" {
                    continue;
                }
                for resource in request.body["resourceSpans"].as_array().unwrap() {
                    for scope in resource["scopeSpans"].as_array().unwrap() {
                        for span in scope["spans"].as_array().unwrap() {
                            if pred(span) {
                                return (span.clone(), request.at);
                            }
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {what} span; got {:#?}",
                self.spans()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, sink: &Mutex<Vec<Received>>, script: &Mutex<VecDeque<Answer>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = serde_json::from_slice(&body).unwrap_or_else(|err| {
            panic!(
                "collector got non-JSON ({err}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        sink.lock().unwrap().push(Received {
            path,
            headers,
            body,
            at: Instant::now(),
        });
        let answer = script.lock().unwrap().pop_front();
        match answer.unwrap_or(Answer::Status(200)) {
            Answer::Never => {
                // Hold the connection open, answering nothing.
                std::thread::sleep(Duration::from_secs(600));
                return;
            }
            Answer::Status(status) => {
                let extra = if status == 503 {
                    "retry-after: 0\r\n"
                } else {
                    ""
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: 2\r\n\r\n{{}}"
                );
                if reader.get_mut().write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn string_attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    attribute(span, key)?["stringValue"].as_str()
}

fn exporting(collector: &Collector, delay_ms: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", delay_ms.to_owned()),
        ("OTEL_SERVICE_NAME", "gw-test".to_owned()),
    ]
}

fn start(env: &[(&'static str, String)]) -> Gateway {
    let fixture = fixture();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Gateway::start_with_env(&["--stdio", &fixture], &env)
}

fn session_of(client: &SseClient) -> String {
    client
        .endpoint
        .split("sessionId=")
        .nth(1)
        .unwrap()
        .to_owned()
}

#[test]
fn a_tools_call_through_sse_is_exported_as_a_server_span_with_its_child_span() {
    let collector = Collector::start(&[]);
    let gw = start(&exporting(&collector, "200"));
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let answer = client.call(
        json!(7),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"hi"}}),
    );
    let answered = Instant::now();
    assert_eq!(tool_text(&answer), "hi");
    let session = session_of(&client);

    let (server, at) = collector.wait_span("tools/call server", |span| {
        span["name"] == "tools/call" && span["kind"] == 2
    });
    // Exported within the batch interval (200 ms), with slack for a loaded machine.
    assert!(
        at.duration_since(answered) < Duration::from_millis(1500),
        "exported {:?} after the answer",
        at.duration_since(answered)
    );
    assert_eq!(string_attribute(&server, "rpc.method"), Some("tools/call"));
    assert_eq!(string_attribute(&server, "rpc.system"), Some("jsonrpc"));
    assert_eq!(
        string_attribute(&server, "rpc.jsonrpc.request_id"),
        Some("7")
    );
    assert_eq!(
        string_attribute(&server, "mcp.session.id"),
        Some(session.as_str())
    );
    assert_eq!(
        string_attribute(&server, "supergateway.transport"),
        Some("sse")
    );
    // The pid of the child that served it (the fixture, the gateway's only child).
    let child_pid = common::children_of(gw.pid())
        .first()
        .map(|(pid, _)| pid.to_string())
        .unwrap();
    assert_eq!(
        attribute(&server, "process.pid").unwrap()["intValue"],
        child_pid.as_str()
    );
    assert!(
        server.get("parentSpanId").is_none(),
        "a root span: {server}"
    );
    // No authentication, no end user.
    assert_eq!(attribute(&server, "enduser.id"), None, "{server}");
    assert!(server.get("status").is_none(), "{server}");
    let trace_id = server["traceId"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    let start: u64 = server["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = server["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(start > 0 && end >= start);

    let server_id = server["spanId"].as_str().unwrap().to_owned();
    let (child, _) = collector.wait_span("child.call", |span| {
        span["name"] == "child.call" && span["parentSpanId"] == server_id.as_str()
    });
    assert_eq!(child["traceId"], trace_id);
    assert_eq!(child["kind"], 3);

    // The resource names the service.
    let request = collector
        .received()
        .into_iter()
        .find(|r| r.path == "/v1/traces")
        .unwrap();
    assert_eq!(request.header("content-type"), Some("application/json"));
    let resource = &request.body["resourceSpans"][0]["resource"];
    assert_eq!(string_attribute(resource, "service.name"), Some("gw-test"));
    assert_eq!(
        request.body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
        "supergateway"
    );

    // An error answer: status error with the JSON-RPC code.
    let answer = client.call(json!(8), "no/such/method", json!({}));
    assert!(answer.get("error").is_some(), "{answer}");
    let (failed, _) = collector.wait_span("error", |span| span["name"] == "no/such/method");
    assert_eq!(failed["status"]["code"], 2, "{failed}");
    assert_eq!(
        failed["status"]["message"], answer["error"]["message"],
        "{failed}"
    );
    let code = answer["error"]["code"].as_i64().unwrap().to_string();
    assert_eq!(
        attribute(&failed, "rpc.jsonrpc.error_code").unwrap()["intValue"],
        code.as_str()
    );
}

#[test]
fn logs_arrive_at_v1_logs() {
    let collector = Collector::start(&[]);
    let mut env = exporting(&collector, "100");
    env.push((
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%20s3cret-otlp,x-tenant=t1".to_owned(),
    ));
    env.push(("RUST_LOG", "supergateway=debug".to_owned()));
    let gw = start(&env);
    let deadline = Instant::now() + WAIT;
    let record = loop {
        let found = collector
            .received()
            .into_iter()
            .filter(|r| r.path == "/v1/logs")
            .flat_map(|r| {
                r.body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .find(|record| {
                record["body"]["stringValue"]
                    .as_str()
                    .is_some_and(|body| body.starts_with("Listening on"))
            });
        if let Some(record) = found {
            break record;
        }
        assert!(
            Instant::now() < deadline,
            "no log record; log:\n{}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(record["severityNumber"], 9);
    assert_eq!(record["severityText"], "INFO");
    assert!(record["timeUnixNano"].is_string());
    // OTEL_EXPORTER_OTLP_HEADERS go out percent-decoded, and never into the log.
    let request = collector
        .received()
        .into_iter()
        .find(|r| r.path == "/v1/logs")
        .unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer s3cret-otlp"));
    assert_eq!(request.header("x-tenant"), Some("t1"));
    assert!(!gw.log().contains("s3cret"), "{}", gw.log());
}

#[test]
fn a_503_is_retried_and_the_retry_succeeds() {
    let collector = Collector::start(&[Answer::Status(503)]);
    let mut env = exporting(&collector, "100");
    // Only traces: the one scripted 503 goes to the first traces batch.
    env.push(("OTEL_LOGS_EXPORTER", "none".to_owned()));
    let gw = start(&env);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    collector.wait_span("initialize", |span| span["name"] == "initialize");
    let posts: Vec<Received> = collector
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/traces")
        .collect();
    assert!(posts.len() >= 2, "{posts:#?}");
    assert_eq!(posts[0].body, posts[1].body, "the same batch, sent again");
    assert!(collector.received().iter().all(|r| r.path != "/v1/logs"));
}

#[test]
fn a_collector_that_never_answers_does_not_slow_the_relay() {
    let collector = Collector::start(&[Answer::Never; 64]);
    let gw = start(&exporting(&collector, "20"));
    let mut client = SseClient::connect(&gw);
    client.initialize();
    // The exporter is stuck on its first request by now.
    let deadline = Instant::now() + WAIT;
    while collector.received().is_empty() {
        assert!(Instant::now() < deadline, "the exporter never connected");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let started = Instant::now();
        let answer = client.call(
            json!(100 + i),
            "tools/call",
            json!({"name":"echo","arguments":{"message":"x"}}),
        );
        worst = worst.max(started.elapsed());
        assert_eq!(tool_text(&answer), "x");
    }
    assert!(
        worst < Duration::from_millis(500),
        "a round trip took {worst:?} while the collector hung"
    );
}

#[test]
fn the_incoming_traceparent_is_the_parent_of_the_request_span() {
    let collector = Collector::start(&[]);
    let gw = start(&exporting(&collector, "100"));
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let body = json!({"jsonrpc":"2.0","id":"t-1","method":"tools/call","params":{"name":"echo","arguments":{"message":"traced"}}}).to_string();
    let traceparent = format!("traceparent: 00-{trace_id}-{parent_id}-01\r\n");
    let response = gw.request(&post(&client.endpoint, &body, &traceparent));
    assert_eq!(response.status, 202);
    let answer = client.next_message();
    assert_eq!(tool_text(&answer), "traced");
    let (span, _) = collector.wait_span("traced", |span| {
        string_attribute(span, "rpc.jsonrpc.request_id") == Some("\"t-1\"")
    });
    assert_eq!(span["traceId"], trace_id);
    assert_eq!(span["parentSpanId"], parent_id);
    assert_eq!(span["kind"], 2);

    // An invalid traceparent is ignored: a new root span.
    let bad = "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n";
    let body = json!({"jsonrpc":"2.0","id":"t-2","method":"ping"}).to_string();
    assert_eq!(gw.request(&post(&client.endpoint, &body, bad)).status, 202);
    client.next_message();
    let (span, _) = collector.wait_span("t-2", |span| {
        string_attribute(span, "rpc.jsonrpc.request_id") == Some("\"t-2\"")
    });
    assert!(span.get("parentSpanId").is_none(), "{span}");
    assert_ne!(span["traceId"], "00000000000000000000000000000000");
}

#[test]
fn otel_sdk_disabled_exports_nothing() {
    let collector = Collector::start(&[]);
    let mut env = exporting(&collector, "50");
    env.push(("OTEL_SDK_DISABLED", "true".to_owned()));
    let gw = start(&env);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let answer = client.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"quiet"}}),
    );
    assert_eq!(tool_text(&answer), "quiet");
    std::thread::sleep(Duration::from_millis(500));
    drop(client);
    drop(gw);
    assert!(
        collector.received().is_empty(),
        "{:#?}",
        collector.received()
    );
}

#[test]
fn the_reverse_bridge_sends_traceparent_and_the_trace_continues_upstream() {
    let collector = Collector::start(&[]);
    let env = exporting(&collector, "100");
    let upstream = start(&env);
    let url = format!("http://{}/sse", upstream.addr);
    let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
    command
        .args(["--sse", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in &env {
        command.env(key, value);
    }
    let mut local = command.spawn().unwrap();
    let mut stdin = local.stdin.take().unwrap();
    let mut stdout = BufReader::new(local.stdout.take().unwrap());
    let mut call = |message: Value| -> Value {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    call(
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
    );
    let answer = call(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"far"}}}),
    );
    assert_eq!(tool_text(&answer), "far");
    let (client_span, _) = collector.wait_span("bridge client span", |span| {
        span["name"] == "tools/call" && span["kind"] == 3
    });
    // The bridge's own server span for the stdio request is a `tools/call`
    // of kind 2 too (transport stdio), and may be exported first: the
    // upstream's is the one received over SSE.
    let (server_span, _) = collector.wait_span("upstream server span", |span| {
        span["name"] == "tools/call"
            && span["kind"] == 2
            && string_attribute(span, "supergateway.transport") == Some("sse")
    });
    assert_eq!(server_span["traceId"], client_span["traceId"]);
    assert_eq!(server_span["parentSpanId"], client_span["spanId"]);
    let _ = local.kill();
    let _ = local.wait();
}

#[test]
fn a_collector_that_is_down_neither_feeds_the_queue_nor_floods_the_log() {
    // Nothing listens on this port: every export fails at connect, and the HTTP client logs
    // that at debug. Those events come from the export itself and must not be exported (a
    // failing export would feed the queue it drains), and the failures are reported at most
    // once per 10 s.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fixture = fixture();
    let endpoint = format!("http://127.0.0.1:{port}");
    let gw = Gateway::start_with_env(
        &["--stdio", &fixture],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("RUST_LOG", "supergateway=debug"),
        ],
    );
    let mut client = SseClient::connect(&gw);
    client.initialize();
    std::thread::sleep(Duration::from_millis(1000));
    let log = gw.log();
    let reports = log.matches("OTLP:").count();
    assert!((1..=4).contains(&reports), "{reports} reports:\n{log}");
    assert!(
        log.lines().count() < 200,
        "{} lines:\n{log}",
        log.lines().count()
    );
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let fixture = fixture();
    let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
    command
        .args(["--stdio", &fixture, "--port", "0", "--logFormat", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut gateway = command.spawn().unwrap();
    let mut stdout = BufReader::new(gateway.stdout.take().unwrap());
    let mut line = String::new();
    let listening = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no listening line"
        );
        let value: Value =
            serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line:?}"));
        assert!(
            value["timestamp"].as_str().unwrap().ends_with('Z'),
            "{value}"
        );
        assert!(
            value["level"].is_string() && value["target"].is_string(),
            "{value}"
        );
        if value["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Listening on"))
        {
            break value;
        }
    };
    assert_eq!(listening["level"], "INFO");
    assert_eq!(listening["target"], "supergateway::http::server");
    let _ = gateway.kill();
    let _ = gateway.wait();
}

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// A token of the test issuer for `subject`, for [`RESOURCE`].
fn oauth_token(key: &issuer::Key, issuer: &issuer::Issuer, subject: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    key.sign(&json!({
        "iss": issuer.url(),
        "sub": subject,
        "aud": RESOURCE,
        "client_id": format!("client-of-{}", subject.get(..3).unwrap_or(subject)),
        "iat": now,
        "exp": now + 600,
    }))
}

/// `supergateway --stdio fixture --authIssuer … --authResource … EXTRA…`,
/// once the issuer's keys are fetched.
fn start_oauth(issuer: &issuer::Issuer, extra: &[&str], env: &[(&'static str, String)]) -> Gateway {
    let fixture = fixture();
    let url = issuer.url();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--authIssuer",
        url.as_str(),
        "--authResource",
        RESOURCE,
    ];
    args.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gw = Gateway::start_with_env(&args, &env);
    common::eventually("the start-up JWKS fetch", || issuer.jwks_fetches() == 1);
    gw
}

#[test]
fn the_authenticated_subject_is_the_request_spans_enduser_id_never_the_token() {
    let collector = Collector::start(&[]);
    let key = issuer::Key::ed25519("k1");
    let issuer = issuer::Issuer::start(&[&key]);
    let gw = start_oauth(
        &issuer,
        &[
            "--outputTransport",
            "streamableHttp",
            "--stateful",
            "--logLevel",
            "debug",
        ],
        &exporting(&collector, "100"),
    );
    let mut tokens = Vec::new();
    for (n, subject) in ["alice", "bob"].into_iter().enumerate() {
        let token = oauth_token(&key, &issuer, subject);
        let auth = format!("Authorization: Bearer {token}\r\n");
        let mut client = common::Streamable::new(&gw);
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let (head, events) = client.post_raw(&init.to_string(), &auth);
        assert_eq!(head.status, 200, "{}", head.text());
        events.unwrap().rest();
        client.session = head.header("mcp-session-id").map(str::to_owned);
        client.version = Some("2025-11-25".to_owned());
        let session = client.session.clone().unwrap();
        // The session's `initialize` waited for the new child's probe: its
        // span still names the caller and the session.
        let (span, _) = collector.wait_span("initialize server", |span| {
            span["name"] == "initialize" && string_attribute(span, "enduser.id") == Some(subject)
        });
        assert_eq!(
            string_attribute(&span, "mcp.session.id"),
            Some(session.as_str())
        );
        let id = 10 + n;
        let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"echo","arguments":{"message":subject}}});
        let (head, events) = client.post_raw(&call.to_string(), &auth);
        assert_eq!(head.status, 200, "{}", head.text());
        assert_eq!(tool_text(&events.unwrap().rest().pop().unwrap()), subject);
        let (span, _) = collector.wait_span("tools/call server", |span| {
            span["name"] == "tools/call"
                && span["kind"] == 2
                && string_attribute(span, "rpc.jsonrpc.request_id") == Some(&id.to_string())
        });
        assert_eq!(
            string_attribute(&span, "enduser.id"),
            Some(subject),
            "{span}"
        );
        assert_eq!(
            string_attribute(&span, "mcp.session.id"),
            Some(session.as_str())
        );
        // The request's line in the log (debug) names the caller too.
        let done = format!(
            "rpc.jsonrpc.request_id={id} mcp.session.id=\"{session}\" enduser.id=\"{subject}\""
        );
        common::eventually("the request's log line", || {
            gw.log()
                .lines()
                .any(|line| line.contains(&done) && line.ends_with("outcome=\"ok\""))
        });
        tokens.push(token);
    }
    // Neither token, nor a piece of one, reached the collector or the log.
    let exported: String = collector
        .received()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    let log = gw.log();
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!exported.contains(signature), "a token exported");
        assert!(!log.contains(signature), "a token in the log:\n{log}");
    }
}

#[test]
fn a_request_on_a_child_of_its_own_keeps_its_caller_and_trace() {
    let collector = Collector::start(&[]);
    let key = issuer::Key::ed25519("k1");
    let issuer = issuer::Issuer::start(&[&key]);
    // Stateless, a child per request: each request waits for its child to
    // be initialised and probed before it reaches it.
    let gw = start_oauth(
        &issuer,
        &["--outputTransport", "streamableHttp", "--childPerSession"],
        &exporting(&collector, "100"),
    );
    let client = common::Streamable::new(&gw);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (n, subject) in ["alice", "bob"].into_iter().enumerate() {
        let token = oauth_token(&key, &issuer, subject);
        let parent = format!("00f067aa0ba902b{n}");
        let extra =
            format!("Authorization: Bearer {token}\r\ntraceparent: 00-{trace_id}-{parent}-01\r\n");
        let id = 20 + n;
        let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"echo","arguments":{"message":subject}}});
        let (head, events) = client.post_raw(&call.to_string(), &extra);
        assert_eq!(head.status, 200, "{}", head.text());
        assert_eq!(tool_text(&events.unwrap().rest().pop().unwrap()), subject);
        let (span, _) = collector.wait_span("tools/call server", |span| {
            span["name"] == "tools/call"
                && span["kind"] == 2
                && string_attribute(span, "rpc.jsonrpc.request_id") == Some(&id.to_string())
        });
        assert_eq!(
            string_attribute(&span, "enduser.id"),
            Some(subject),
            "{span}"
        );
        assert_eq!(
            string_attribute(&span, "supergateway.transport"),
            Some("streamableHttp"),
            "{span}"
        );
        assert_eq!(span["traceId"], trace_id, "{span}");
        assert_eq!(span["parentSpanId"], parent.as_str(), "{span}");
    }
}

#[test]
fn the_session_span_and_the_request_line_name_the_caller_in_the_log() {
    let key = issuer::Key::es256("ec-1");
    let issuer = issuer::Issuer::start(&[&key]);
    let gw = start_oauth(
        &issuer,
        &[
            "--outputTransport",
            "ws",
            "--rateLimit",
            "1/m",
            "--logLevel",
            "debug",
        ],
        &[],
    );
    // The second subject tries to forge a log line and steer the terminal.
    for subject in ["alice", "mallory\u{1b}[2J\nFORGED line"] {
        let token = oauth_token(&key, &issuer, subject);
        let mut request = format!("ws://{}/message", gw.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, response) = tungstenite::client(request, gw.connect()).unwrap();
        assert_eq!(response.status(), 101);
        let mut client = common::WsClient { ws, protocol: None };
        // Over the limit at once (the upgrade took the minute's request):
        // the warning is logged inside the session's span.
        client.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
        let answer = client.next_message();
        assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
        let log = gw.log();
        assert!(!log.contains(token.rsplit('.').next().unwrap()), "{log}");
    }
    common::eventually("both warnings", || {
        gw.log().matches("over --rateLimit").count() == 2
    });
    let log = gw.log();
    let warning = |who: &str| {
        log.lines()
            .find(|line| line.contains("over --rateLimit") && line.contains(who))
            .unwrap_or_else(|| panic!("no warning for {who}:\n{log}"))
            .to_owned()
    };
    let alice = warning("subject=\"alice\"");
    assert!(
        alice.contains("}:session{transport=\"ws\" id=")
            && alice.contains(" subject=\"alice\" client_id=\"client-of-ali\"}"),
        "{alice}"
    );
    // The issuer's words are escaped: no control character, no new line.
    let mallory = warning("subject=\"mallory");
    assert!(
        mallory.contains(r#"subject="mallory\u{1b}[2J\nFORGED line" client_id="client-of-mal"}"#),
        "{mallory}"
    );
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(!log.lines().any(|line| line.starts_with("FORGED")), "{log}");
}
