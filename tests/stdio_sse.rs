//! stdio→SSE end to end: the real binary on 127.0.0.1:0, the fixture MCP
//! server as its child, raw HTTP/1.1 and SSE over loopback sockets.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufReader, Write};
use std::time::Duration;

use common::{
    eventually, fixture, post, process_alive, read_response, tool_text, Gateway, SseClient,
};
use serde_json::json;

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str()];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

#[test]
fn stream_head_and_endpoint_event() {
    // (initialize, list and call are scenarios of stdio_scenarios.rs)
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    assert_eq!(client.head.status, 200);
    assert_eq!(
        client.head.header("content-type"),
        Some("text/event-stream")
    );
    assert!(
        client.endpoint.starts_with("/message?sessionId="),
        "{}",
        client.endpoint
    );
    // the endpoint event is all the stream says until asked
    client.expect_nothing();
}

#[test]
fn post_answers_202_accepted() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    let response = client.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(response.status, 202);
    assert_eq!(response.text(), "Accepted");
    assert_eq!(
        client.next_message(),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
    client.expect_nothing();
}

#[test]
fn session_errors() {
    let gw = gateway(&[]);
    let missing = gw.request(&post("/message", "{}", ""));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["jsonrpc"], "2.0");
    let unknown = gw.request(&post(
        "/message?sessionId=nope",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        "",
    ));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], json!(-32001));
    let wrong_type = gw.request(b"POST /message?sessionId=x HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(wrong_type.status, 415);
    let not_found = gw.request(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.header("content-type"), Some("application/json"));
    let wrong_method = gw.request(b"DELETE /sse HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));
}

#[test]
fn oversize_body_is_413_and_the_gateway_keeps_serving() {
    let gw = gateway(&["--maxBodyBytes", "1000"]);
    let mut client = SseClient::connect(&gw);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "x".repeat(2000)
    );
    let response = gw.request(&post(&client.endpoint, &big, ""));
    assert_eq!(response.status, 413);
    assert_eq!(response.json()["jsonrpc"], "2.0");
    // chunked bodies count too
    let chunked = format!("POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n", client.endpoint, big.len());
    assert_eq!(gw.request(chunked.as_bytes()).status, 413);
    // neither reached the child
    client.expect_nothing();
    assert_eq!(
        client.call(json!(2), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn smuggling_attempts_are_rejected_and_do_not_disturb_the_stream() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    let endpoint = client.endpoint.clone();
    let ping = r#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#;
    let cases: Vec<(String, u16)> = vec![
        // CL + TE
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        // duplicate Content-Length
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nContent-Length: {}\r\n\r\n{ping}", ping.len(), ping.len()), 400),
        // malformed Content-Length
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: +{}\r\n\r\n{ping}", ping.len()), 400),
        // TE other than chunked
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 501),
        // chunk-size overflow with a smuggled request behind it
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nf0000000000000003\r\nabc\r\n0\r\n\r\nPOST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
        // missing Host on HTTP/1.1
        (format!("POST {endpoint} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
        // obs-fold
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
    ];
    for (raw, status) in cases {
        let mut stream = gw.connect();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let response = read_response(&mut reader);
        assert_eq!(response.status, status, "{raw:?}");
        assert_eq!(response.header("connection"), Some("close"), "{raw:?}");
    }
    // nothing smuggled reached the child: no answer to id 99 arrives, and
    // the next message is our own ping's
    client.expect_nothing();
    assert_eq!(
        client.call(json!(1), "ping", json!({})),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
    client.expect_nothing();
}

#[test]
fn slow_drip_head_times_out_with_408() {
    let gw = gateway(&["--headTimeout", "500"]);
    let mut stream = gw.connect();
    stream.write_all(b"GET /sse HTTP/1.1\r\n").unwrap();
    let started = std::time::Instant::now();
    // one byte every 100 ms keeps each read alive, but not the whole head
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let dripper = std::thread::spawn(move || {
        for _ in 0..30 {
            if stream.write_all(b"X").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let response = read_response(&mut reader);
    assert_eq!(response.status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline covers the whole head"
    );
    dripper.join().unwrap();
    // still serving
    let mut client = SseClient::connect(&gw);
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn non_json_stdout_lines_are_dropped() {
    let fixture = fixture();
    let gw = Gateway::start_with_env(
        &["--stdio", &fixture],
        &[("FIXTURE_BANNER", "hello, I am not JSON")],
    );
    let mut client = SseClient::connect(&gw);
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
    eventually("the dropped line is logged", || {
        gw.log().contains("not a JSON-RPC message")
    });
}

#[test]
fn health_endpoint_and_configured_headers() {
    let gw = gateway(&[
        "--healthEndpoint",
        "/healthz",
        "--healthEndpoint",
        "/ready",
        "--header",
        "X-Test: yes",
    ]);
    for path in ["/healthz", "/ready"] {
        let response =
            gw.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "ok");
        assert_eq!(response.header("x-test"), Some("yes"));
    }
}

#[test]
fn cors_preflight_and_headers() {
    let gw = gateway(&["--cors", "http://app.example", "/^https://.*\\.trusted$/"]);
    let preflight = gw.request(b"OPTIONS /message HTTP/1.1\r\nHost: localhost\r\nOrigin: http://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n");
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type")
    );
    let allowed = gw
        .request(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nOrigin: https://x.trusted\r\n\r\n");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://x.trusted")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        Some("mcp-session-id")
    );
    let denied = gw.request(
        b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n",
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-origin"), None);
}

#[test]
fn foreign_host_or_origin_is_403_on_loopback() {
    let gw = gateway(&[]);
    let rebinding = gw.request(b"GET /sse HTTP/1.1\r\nHost: evil.example:8000\r\n\r\n");
    assert_eq!(rebinding.status, 403);
    assert_eq!(rebinding.json()["error"]["code"], json!(-32000));
    let origin =
        gw.request(b"GET /sse HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n");
    assert_eq!(origin.status, 403);
    let local = gw.request(
        b"GET /healthz HTTP/1.1\r\nHost: localhost:1234\r\nOrigin: http://localhost:3000\r\n\r\n",
    );
    assert_eq!(local.status, 404);
}

#[test]
fn sigterm_stops_the_child_and_its_group() {
    let fixture = fixture();
    let mut gw =
        Gateway::start_with_env(&["--stdio", &fixture], &[("FIXTURE_SPAWN_GRANDCHILD", "1")]);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let pid = grandchild_pid(&gw);
    assert!(process_alive(pid));
    gw.signal("TERM");
    assert_eq!(gw.wait_exit().code(), Some(0));
    eventually("the grandchild is gone", || !process_alive(pid));
}

#[test]
fn a_child_ignoring_sigterm_is_killed() {
    let fixture = fixture();
    let mut gw = Gateway::start_with_env(
        &["--stdio", &fixture],
        &[
            ("FIXTURE_IGNORE_SIGTERM", "1"),
            ("FIXTURE_SPAWN_GRANDCHILD", "1"),
        ],
    );
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let pid = grandchild_pid(&gw);
    gw.signal("INT");
    assert_eq!(gw.wait_exit().code(), Some(0));
    eventually("the grandchild is gone", || !process_alive(pid));
    assert!(gw.log().contains("SIGKILL"), "{}", gw.log());
}

fn grandchild_pid(gw: &Gateway) -> i32 {
    let mut pid = None;
    eventually("the fixture reports its grandchild", || {
        pid = gw.log().lines().find_map(|line| {
            line.split("grandchild pid ")
                .nth(1)
                .and_then(|p| p.trim().parse().ok())
        });
        pid.is_some()
    });
    pid.unwrap()
}

#[test]
fn endpoint_is_absolute_with_a_base_url() {
    let gw = gateway(&[
        "--baseUrl",
        "http://example.com:9/",
        "--messagePath",
        "/rpc",
        "--ssePath",
        "/events",
    ]);
    let client = SseClient::connect_path(&gw, "/events");
    assert!(
        client
            .endpoint
            .starts_with("http://example.com:9/rpc?sessionId="),
        "{}",
        client.endpoint
    );
}

#[test]
fn closing_the_stream_ends_the_session() {
    let gw = gateway(&[]);
    let client = SseClient::connect(&gw);
    let endpoint = client.endpoint.clone();
    client.shutdown();
    drop(client);
    eventually("POSTs to the closed session get 404", || {
        gw.request(&post(
            &endpoint,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            "",
        ))
        .status
            == 404
    });
}

#[test]
fn a_client_that_does_not_read_is_disconnected_without_disturbing_others() {
    let gw = gateway(&[]);
    let mut slow = SseClient::connect(&gw); // reads nothing after the endpoint event
    let mut fast = SseClient::connect(&gw);
    fast.initialize();
    let big = json!({"name":"big","arguments":{"bytes": 2 * 1024 * 1024}});
    for id in 0..24 {
        let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":big});
        let status = slow.send(&request).status;
        assert!(status == 202 || status == 404, "{status}");
    }
    let ping = json!({"jsonrpc":"2.0","id":"p","method":"ping"});
    eventually("the slow client's session is closed", || {
        slow.send(&ping).status == 404
    });
    eventually("the disconnection is logged", || {
        gw.log().contains("not reading its stream fast enough")
    });
    fast.expect_nothing();
    let reply = fast.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"fine"}}),
    );
    assert_eq!(tool_text(&reply), "fine");
}
