//! `--restart`, `--readyEndpoint` and the drain on SIGTERM (issue 17 items
//! 3 and 6), against the real binary and the fixture server.
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
use std::time::{Duration, Instant};

use common::{eventually, fixture, read_response, tool_text, Gateway, SseClient};
use serde_json::{json, Value};

fn get(gateway: &Gateway, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    gateway.request(request.as_bytes()).status
}

/// The times (seconds since midnight) of the log lines containing `what`.
fn times_of(log: &str, what: &str) -> Vec<f64> {
    log.lines()
        .filter(|line| line.contains(what))
        .map(|line| {
            // 2026-12-06T11:29:44.484180Z  INFO ...
            let clock = line.split('T').nth(1).unwrap().split('Z').next().unwrap();
            let mut parts = clock.split(':');
            let h: f64 = parts.next().unwrap().parse().unwrap();
            let m: f64 = parts.next().unwrap().parse().unwrap();
            let s: f64 = parts.next().unwrap().parse().unwrap();
            h * 3600.0 + m * 60.0 + s
        })
        .collect()
}

#[test]
fn a_crash_looping_child_is_restarted_with_growing_bounded_waits_and_one_warning() {
    let gateway = Gateway::start(&[
        "--stdio",
        "sh -c 'exit 3'",
        "--restart",
        "on-failure",
        "--upstreamProtocol",
        "legacy",
        "--healthEndpoint",
        "/health",
        "--readyEndpoint",
        "/ready",
    ]);
    eventually("six exits", || {
        times_of(&gateway.log(), "child exited with code 3").len() >= 6
    });
    // Liveness: the gateway is working through restarts, not dead.
    assert_eq!(get(&gateway, "/health"), 200);
    let log = gateway.log();
    let exits = times_of(&log, "child exited with code 3");
    let gaps: Vec<f64> = exits.windows(2).map(|w| w[1] - w[0]).collect();
    // Waits of 100, 200, 400, 800, 1600 ms, each scaled by 80-100 %, plus
    // the time a child takes to start and exit.
    for (i, gap) in gaps.iter().take(5).enumerate() {
        let nominal = 0.1 * f64::from(1u32 << i);
        assert!(
            *gap >= nominal * 0.8 - 0.005 && *gap <= nominal + 0.3,
            "wait {i} was {gap} s, expected about {nominal} s; log:\n{log}"
        );
    }
    for pair in gaps.windows(2).take(4) {
        assert!(pair[1] > pair[0] * 1.3, "waits do not grow: {gaps:?}");
    }
    assert_eq!(
        log.matches("the MCP server keeps exiting (3 times); next start in")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("keeps exiting").count(), 1, "{log}");
    assert!(gateway.child.id() > 0);
}

#[test]
fn a_child_that_crashes_once_is_restarted_and_the_session_keeps_working() {
    // The wrapper delays each start by 0.4 s so that "not ready" lasts
    // long enough to be seen by polling.
    let command = format!("sleep 0.4; exec {}", fixture());
    let gateway = Gateway::start(&[
        "--stdio",
        &command,
        "--restart",
        "on-failure",
        "--upstreamProtocol",
        "legacy",
        "--healthEndpoint",
        "/health",
        "--readyEndpoint",
        "/ready",
    ]);
    let mut client = SseClient::connect(&gateway);
    client.initialize();
    eventually("ready", || get(&gateway, "/ready") == 200);

    // A slow request in flight, then the crash.
    let sleep = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":20000}}});
    assert_eq!(client.send(&sleep).status, 202);
    let crash = json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"crash","arguments":{"code":3}}});
    assert_eq!(client.send(&crash).status, 202);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer = client.next_message();
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
        assert_eq!(
            answer["error"]["message"],
            "the MCP server exited (code 3) and is being restarted; retry the request"
        );
        ids.push(answer["id"].clone());
    }
    ids.sort_by_key(Value::to_string);
    assert_eq!(ids, vec![json!(1), json!(2)]);

    // Not ready while it restarts; alive all along.
    eventually("not ready", || get(&gateway, "/ready") == 503);
    assert_eq!(get(&gateway, "/health"), 200);
    eventually("ready again", || get(&gateway, "/ready") == 200);

    // The same session works, on a child initialised by the gateway's
    // replay of the first initialize (the new process counted one).
    let answer = client.call(
        json!(3),
        "tools/call",
        json!({"name":"init_count","arguments":{}}),
    );
    assert_eq!(tool_text(&answer), "1");
    let answer = client.call(
        json!(4),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"after"}}),
    );
    assert_eq!(tool_text(&answer), "after");
    client.expect_nothing();
    let log = gateway.log();
    assert_eq!(
        log.matches("the MCP server exited with code 3; starting it again in 0.")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn on_failure_does_not_restart_a_clean_exit() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        "sh -c 'sleep 0.2; exit 0'",
        "--restart",
        "on-failure",
        "--upstreamProtocol",
        "legacy",
    ]);
    assert_eq!(gateway.wait_exit().code(), Some(0));
    assert!(!gateway.log().contains("starting it again"));
}

#[test]
fn always_restarts_a_clean_exit() {
    let gateway = Gateway::start(&[
        "--stdio",
        "sh -c 'exit 0'",
        "--restart",
        "always",
        "--upstreamProtocol",
        "legacy",
    ]);
    eventually("three exits", || {
        times_of(&gateway.log(), "child exited with code 0").len() >= 3
    });
    assert!(gateway
        .log()
        .contains("the MCP server exited with code 0; starting it again"));
}

#[test]
fn sigterm_drains_requests_in_flight_then_exits() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--upstreamProtocol",
        "legacy",
        "--readyEndpoint",
        "/ready",
        "--drainTimeout",
        "5000",
    ]);
    let mut client = SseClient::connect(&gateway);
    client.initialize();
    // A kept-alive connection: the listener stops accepting during the
    // drain, so readiness is asked on a connection opened before.
    let mut probe = gateway.connect();
    let mut reader = BufReader::new(probe.try_clone().unwrap());
    let ask = b"GET /ready HTTP/1.1\r\nHost: localhost\r\n\r\n";
    probe.write_all(ask).unwrap();
    assert_eq!(read_response(&mut reader).status, 200);

    let sleep = json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":1500}}});
    assert_eq!(client.send(&sleep).status, 202);
    eventually("the request at the child", || {
        gateway.log().contains("child started")
    });
    let signalled = Instant::now();
    gateway.signal("TERM");
    eventually("not ready", || {
        probe.write_all(ask).unwrap();
        read_response(&mut reader).status == 503
    });
    // The request in flight finishes with its answer.
    let answer = client.next_message();
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(tool_text(&answer), "slept");
    client.expect_end();
    assert_eq!(gateway.wait_exit().code(), Some(0));
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn the_drain_is_bounded_by_drain_timeout() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--upstreamProtocol",
        "legacy",
        "--drainTimeout",
        "300",
    ]);
    let mut client = SseClient::connect(&gateway);
    client.initialize();
    let sleep = json!({"jsonrpc":"2.0","id":8,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":60000}}});
    assert_eq!(client.send(&sleep).status, 202);
    let signalled = Instant::now();
    gateway.signal("TERM");
    assert_eq!(gateway.wait_exit().code(), Some(0));
    let took = signalled.elapsed();
    // 300 ms of drain, then the child's shutdown (stdin closed: the
    // fixture exits at once).
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(gateway.log().contains("drain timeout (300 ms) reached"));
}

#[test]
fn sigterm_closes_idle_streams_at_once_and_busy_ones_after_their_answer() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--upstreamProtocol",
        "legacy",
        "--drainTimeout",
        "8000",
    ]);
    let mut busy = SseClient::connect(&gateway);
    busy.initialize();
    let mut idle = SseClient::connect(&gateway);
    idle.initialize();
    let sleep = json!({"jsonrpc":"2.0","id":9,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":3000}}});
    assert_eq!(busy.send(&sleep).status, 202);
    let signalled = Instant::now();
    gateway.signal("TERM");
    // The idle stream ends well before the busy one's answer is due.
    idle.expect_end();
    let idle_ended = signalled.elapsed();
    assert!(idle_ended < Duration::from_millis(2000), "{idle_ended:?}");
    let answer = busy.next_message();
    assert_eq!(answer["id"], 9, "{answer}");
    assert_eq!(tool_text(&answer), "slept");
    busy.expect_end();
    assert_eq!(gateway.wait_exit().code(), Some(0));
}

/// A 2026-07-28 request: its `_meta` and the routing headers.
fn modern_post(
    http: &common::Streamable,
    id: Value,
    method: &str,
    mut params: Value,
) -> (common::Response, Option<common::EventReader>) {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let mut headers = format!("MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\n");
    if let Some(name) = params["name"].as_str() {
        headers.push_str(&format!("Mcp-Name: {name}\r\n"));
    }
    let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
    http.post_raw(&body.to_string(), &headers)
}

/// The JSON answer of a 2026-07-28 request.
fn modern_call(http: &common::Streamable, id: Value, method: &str, params: Value) -> Value {
    let (head, events) = modern_post(http, id, method, params);
    assert!(events.is_none(), "a stream: {head:?}");
    assert_eq!(head.status, 200, "{}", head.text());
    serde_json::from_str(&head.text()).unwrap()
}

/// With `--stateful`, 2026-07-28 requests (sessionless) go to a child of
/// their own kind, started on first use: `--restart` restarts it like the
/// shared child. The request in flight gets -32000, a later request
/// succeeds on the next child, and an open `subscriptions/listen` stays
/// open across the restart (it hears the new child's list changes).
#[test]
fn the_stateful_modern_child_follows_the_restart_policy() {
    let gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "streamableHttp",
        "--stateful",
        "--restart",
        "on-failure",
        "--upstreamProtocol",
        "legacy",
    ]);
    let http = common::Streamable::new(&gateway);
    let echo = |id: u32, message: &str| {
        let answer = modern_call(
            &http,
            json!(id),
            "tools/call",
            json!({"name":"echo","arguments":{"message":message}}),
        );
        assert_eq!(tool_text(&answer), message, "{answer}");
    };
    echo(1, "before");
    let (head, listen) = modern_post(
        &http,
        json!("L"),
        "subscriptions/listen",
        json!({"notifications":{"toolsListChanged":true}}),
    );
    assert_eq!(head.status, 200, "{}", head.text());
    let mut listen = listen.unwrap();
    let ack: Value = serde_json::from_str(&listen.next_event().unwrap().data).unwrap();
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );

    let crashed = modern_call(
        &http,
        json!(2),
        "tools/call",
        json!({"name":"crash","arguments":{"code":3}}),
    );
    assert_eq!(
        crashed,
        json!({"jsonrpc":"2.0","id":2,"error":{"code":-32000,
            "message":"the MCP server exited (code 3) and is being restarted; retry the request"}})
    );
    // Sent during the backoff, it waits for the next child.
    echo(3, "after");
    let announced = modern_call(
        &http,
        json!(4),
        "tools/call",
        json!({"name":"announce","arguments":{"ms":10}}),
    );
    assert_eq!(tool_text(&announced), "announcing");
    let changed: Value = serde_json::from_str(&listen.next_event().unwrap().data).unwrap();
    assert_eq!(
        changed,
        json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed",
            "params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"L"}}})
    );
    listen.expect_nothing();
    let log = gateway.log();
    assert_eq!(
        log.matches("the MCP server exited with code 3; starting it again in 0.")
            .count(),
        1,
        "{log}"
    );
}
