//! `--metricsEndpoint` (issue 17 item 4) against the real binary: a known
//! sequence of requests (successes, a server error, a refused Origin, a
//! 429, an SSE session opened and closed), then scrapes checked line by
//! line here and parsed by the real Prometheus parser (`prometheus_client`
//! from PyPI, in a cached venv made by scripts/metrics-venv.sh). Without
//! python3 or the package the parser half prints a SKIPPED line, unless
//! `SUPERGATEWAY_METRICS_TESTS=require`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{eventually, fixture, request_to, Gateway, Response, SseClient};
use serde_json::{json, Value};

const TOKEN: &str = "metrics-Tk4Qz8Vn2Lw6Rp0Yc";

fn scrape(gw: &Gateway, extra: &str) -> Response {
    gw.request(
        format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

fn text(gw: &Gateway) -> String {
    let response = scrape(gw, "");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    response.text()
}

/// The value of the sample line `series` (name and labels, exactly).
fn value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

fn requests(method: &str, outcome: &str) -> String {
    format!(
        "supergateway_requests_total{{server=\"default\",transport=\"sse\",\
         method=\"{method}\",outcome=\"{outcome}\"}}"
    )
}

fn refused(reason: &str) -> String {
    format!(
        "supergateway_refused_requests_total{{server=\"default\",transport=\"sse\",\
         reason=\"{reason}\"}}"
    )
}

const SESSIONS: &str = "supergateway_sessions_open{server=\"default\",transport=\"sse\"}";

#[test]
fn a_known_sequence_scrapes_to_exact_values() {
    let fixture = fixture();
    // 20/m: the sequence's 7 requests from 127.0.0.1 fit the burst however
    // slowly it runs; the 429 is provoked from another (forwarded)
    // address, whose bucket the loop below empties.
    let gw = Gateway::start(&[
        "--stdio",
        &fixture,
        "--metricsEndpoint",
        "/metrics",
        "--rateLimit",
        "20/m",
        "--trustedProxy",
        "127.0.0.1/32",
    ]);
    let before = text(&gw);
    assert_eq!(value(&before, SESSIONS), Some(0), "{before}");
    assert_eq!(value(&before, &requests("tools/list", "ok")), Some(0));

    let mut client = SseClient::connect(&gw);
    client.initialize();
    for id in 1..=3 {
        let answer = client.call(json!(id), "tools/list", json!({}));
        assert!(answer["result"]["tools"].is_array(), "{answer}");
    }
    let answer = client.call(json!(4), "nope/x", json!({}));
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    let foreign = gw.request(&common::post(
        &client.endpoint,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
        "Origin: http://evil.example\r\n",
    ));
    assert_eq!(foreign.status, 403, "{}", foreign.text());

    let mut passed = 0;
    let too_many = loop {
        let response = request_to(
            gw.addr,
            b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.9\r\n\
              Connection: close\r\n\r\n",
        );
        if response.status == 429 {
            break response;
        }
        assert_eq!(response.status, 404, "{}", response.text());
        passed += 1;
        assert!(passed <= 200, "no 429 after {passed} requests");
    };
    assert!(too_many.header("retry-after").is_some());

    let during = text(&gw);
    let exact = [
        (SESSIONS.to_owned(), 1),
        (requests("initialize", "ok"), 1),
        (requests("tools/list", "ok"), 3),
        (requests("tools/list", "error"), 0),
        (requests("other", "error"), 1),
        (requests("other", "ok"), 0),
        (refused("origin"), 1),
        (refused("rate"), 1),
        (refused("auth"), 0),
        (refused("limits"), 0),
        (
            "supergateway_request_duration_seconds_count{transport=\"sse\"}".to_owned(),
            5,
        ),
        (
            "supergateway_request_duration_seconds_bucket{transport=\"sse\",le=\"+Inf\"}"
                .to_owned(),
            5,
        ),
        (
            "supergateway_child_starts_total{server=\"default\",transport=\"sse\"}".to_owned(),
            1,
        ),
        (
            "supergateway_child_exits_total{server=\"default\",transport=\"sse\"}".to_owned(),
            0,
        ),
        (
            "supergateway_slow_client_disconnects_total{server=\"default\",transport=\"sse\"}"
                .to_owned(),
            0,
        ),
    ];
    for (series, expected) in &exact {
        assert_eq!(
            value(&during, series),
            Some(*expected),
            "{series}\n{during}"
        );
    }
    let received = "supergateway_received_bytes_total{server=\"default\",transport=\"sse\"}";
    let sent = "supergateway_sent_bytes_total{server=\"default\",transport=\"sse\"}";
    // At least the request bodies sent above went in, and the answers out.
    assert!(value(&during, received).unwrap() > 400, "{during}");
    assert!(value(&during, sent).unwrap() > 400, "{during}");

    client.shutdown();
    eventually("the closed SSE session to leave the gauge", || {
        value(&text(&gw), SESSIONS) == Some(0)
    });
    let after = text(&gw);
    assert!(value(&after, sent).unwrap() > value(&during, sent).unwrap());
    // The scrapes themselves are not rate-limited, not refused, no requests.
    assert_eq!(value(&after, &refused("rate")), Some(1));
    assert_eq!(value(&after, &requests("tools/list", "ok")), Some(3));

    parsed_by_prometheus_client(&after);
}

#[test]
fn head_gets_the_head_and_other_methods_fall_through() {
    let fixture = fixture();
    let gw = Gateway::start(&["--stdio", &fixture, "--metricsEndpoint", "/metrics"]);
    let mut stream = gw.connect();
    stream
        .write_all(b"HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    stream.read_to_string(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // The head only: it ends the response.
    assert!(head.ends_with("\r\n\r\n"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/plain; version=0.0.4"));
    let post = gw.request(&common::post("/metrics", "{}", ""));
    assert_eq!(post.status, 404, "{}", post.text());
    // Off by default: the path is the mode's (404).
    let off = Gateway::start(&["--stdio", &fixture]);
    assert_eq!(scrape(&off, "").status, 404);
}

#[test]
fn with_tokens_a_scrape_needs_one() {
    let fixture = fixture();
    let dir = std::env::temp_dir().join(format!("sg-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let gw = Gateway::start(&[
        "--stdio",
        &fixture,
        "--metricsEndpoint",
        "/metrics",
        "--authTokenFile",
        file.to_str().unwrap(),
    ]);
    let without = scrape(&gw, "");
    assert_eq!(without.status, 401, "{}", without.text());
    let with = scrape(&gw, &format!("Authorization: Bearer {TOKEN}\r\n"));
    assert_eq!(with.status, 200, "{}", with.text());
    // The 401 above is the one refusal counted.
    assert_eq!(
        value(&with.text(), &refused("auth")),
        Some(1),
        "{}",
        with.text()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs tests/metrics_parse.py on `exposition` and checks the families.
fn parsed_by_prometheus_client(exposition: &str) {
    let required = std::env::var("SUPERGATEWAY_METRICS_TESTS").is_ok_and(|v| v == "require");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = Command::new("bash")
        .arg(root.join("scripts/metrics-venv.sh"))
        .stderr(Stdio::inherit())
        .output();
    let python = match venv {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned(),
        other => {
            assert!(
                !required,
                "no prometheus_client venv and SUPERGATEWAY_METRICS_TESTS=require: {other:?}"
            );
            println!(
                "SKIPPED: the prometheus_client parser check (scripts/metrics-venv.sh failed: \
                 python3, venv or pip unavailable)"
            );
            return;
        }
    };
    let mut child = Command::new(python)
        .arg(root.join("tests/metrics_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{exposition}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sample = |family: &str, name: &str, labels: Value| -> f64 {
        families[family]["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no family {family}: {families}"))
            .iter()
            .find(|s| s[0] == name && s[1] == labels)
            .unwrap_or_else(|| panic!("no {name} {labels} in {family}"))[2]
            .as_f64()
            .unwrap()
    };
    let types: Vec<(&str, &str)> = vec![
        ("supergateway_requests", "counter"),
        ("supergateway_request_duration_seconds", "histogram"),
        ("supergateway_sessions_open", "gauge"),
        ("supergateway_child_starts", "counter"),
        ("supergateway_child_exits", "counter"),
        ("supergateway_child_restarts", "counter"),
        ("supergateway_received_bytes", "counter"),
        ("supergateway_sent_bytes", "counter"),
        ("supergateway_queue_drops", "counter"),
        ("supergateway_slow_client_disconnects", "counter"),
        ("supergateway_refused_requests", "counter"),
    ];
    for (family, kind) in &types {
        assert_eq!(families[family]["type"], *kind, "{family}");
    }
    assert_eq!(families.as_object().unwrap().len(), types.len());
    let base = json!({"server":"default","transport":"sse"});
    let with = |extra: Value| {
        let mut labels = base.clone();
        labels
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        labels
    };
    assert_eq!(
        sample(
            "supergateway_requests",
            "supergateway_requests_total",
            with(json!({"method":"tools/list","outcome":"ok"}))
        ),
        3.0
    );
    assert_eq!(
        sample(
            "supergateway_requests",
            "supergateway_requests_total",
            with(json!({"method":"other","outcome":"error"}))
        ),
        1.0
    );
    assert_eq!(
        sample(
            "supergateway_refused_requests",
            "supergateway_refused_requests_total",
            with(json!({"reason":"origin"}))
        ),
        1.0
    );
    assert_eq!(
        sample(
            "supergateway_refused_requests",
            "supergateway_refused_requests_total",
            with(json!({"reason":"rate"}))
        ),
        1.0
    );
    assert_eq!(
        sample(
            "supergateway_sessions_open",
            "supergateway_sessions_open",
            base.clone()
        ),
        0.0
    );
    let histogram = "supergateway_request_duration_seconds";
    let transport = json!({"transport":"sse"});
    assert_eq!(
        sample(histogram, &format!("{histogram}_count"), transport.clone()),
        5.0
    );
    assert_eq!(
        sample(
            histogram,
            &format!("{histogram}_bucket"),
            json!({"transport":"sse","le":"+Inf"})
        ),
        5.0
    );
    let total = sample(histogram, &format!("{histogram}_sum"), transport);
    assert!(total > 0.0 && total < 150.0, "{total}");
}

#[test]
fn metrics_port_serves_only_the_path_on_loopback_without_a_token() {
    let fixture = fixture();
    let dir = std::env::temp_dir().join(format!("sg-metrics-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let gw = Gateway::start(&[
        "--stdio",
        &fixture,
        "--outputTransport",
        "streamableHttp",
        "--metricsEndpoint",
        "/metrics",
        "--metricsPort",
        "0",
        "--authTokenFile",
        file.to_str().unwrap(),
    ]);
    let mut addr = None;
    eventually("the metrics listener's log line", || {
        addr = gw.log().lines().find_map(|line| {
            let rest = line.split("Prometheus metrics on http://").nth(1)?;
            rest.strip_suffix("/metrics")?
                .parse::<std::net::SocketAddr>()
                .ok()
        });
        addr.is_some()
    });
    let addr = addr.unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    let get = |path: &str, extra: &str| {
        request_to(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    let scraped = get("/metrics", "");
    assert_eq!(scraped.status, 200, "{}", scraped.text());
    assert_eq!(
        value(
            &scraped.text(),
            "supergateway_sessions_open{server=\"default\",transport=\"streamableHttp\"}"
        ),
        Some(0),
        "{}",
        scraped.text()
    );
    assert_eq!(get("/other", "").status, 404);
    assert_eq!(
        get("/metrics", "Origin: http://evil.example\r\n").status,
        403
    );
    let foreign = request_to(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(foreign.status, 403);
    // The main port no longer serves the path: it is behind the tokens
    // (401) like any other.
    assert_eq!(scrape(&gw, "").status, 401);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_over_max_sessions_is_a_limits_refusal() {
    let fixture = fixture();
    let gw = Gateway::start(&[
        "--stdio",
        &fixture,
        "--metricsEndpoint",
        "/metrics",
        "--maxSessions",
        "1",
    ]);
    let _first = SseClient::connect(&gw);
    let second = gw.request(
        b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(second.status, 503, "{}", second.text());
    let now = text(&gw);
    assert_eq!(value(&now, &refused("limits")), Some(1), "{now}");
    assert_eq!(value(&now, SESSIONS), Some(1), "{now}");
}

/// A request body refused because the process-wide `--maxBufferedBytes`
/// budget is full (the 503 of tests/budget.rs) is counted under its own
/// reason, and nothing else is.
#[test]
fn a_body_over_the_shared_budget_is_a_budget_refusal() {
    const BODY: usize = 900_000;
    let gw = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "streamableHttp",
        "--metricsEndpoint",
        "/metrics",
        "--maxBufferedBytes",
        "2000000",
        "--maxSessionBytes",
        "1000000",
    ]);
    let refused = |reason: &str| {
        format!(
            "supergateway_refused_requests_total{{server=\"default\",\
             transport=\"streamableHttp\",reason=\"{reason}\"}}"
        )
    };
    let before = text(&gw);
    assert_eq!(value(&before, &refused("budget")), Some(0), "{before}");
    let start_post = || {
        let mut stream = gw.connect();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: {BODY}\r\n\r\n["
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
    };
    // Two bodies being read hold 1,800,000 of the 2,000,000 bytes.
    let _first = start_post();
    let _second = start_post();
    let third = start_post();
    let refusal = common::read_response(&mut std::io::BufReader::new(third));
    assert_eq!(refusal.status, 503, "{}", refusal.text());
    let now = text(&gw);
    for (reason, want) in [
        ("budget", 1),
        ("limits", 0),
        ("auth", 0),
        ("origin", 0),
        ("rate", 0),
    ] {
        assert_eq!(value(&now, &refused(reason)), Some(want), "{reason}: {now}");
    }
}
