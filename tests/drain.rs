//! The drain on SIGTERM (issue 17 item 6) for the long-lived streams:
//! a 2026-07-28 `subscriptions/listen`, a stateful GET `/mcp` stream and a
//! WebSocket are closed at once, while a request in flight completes.
//! (The SSE cases and the bound are in tests/restart.rs.)
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::time::{Duration, Instant};

use common::{conformance_server, fixture, tool_text, EventReader, Gateway, Response, Streamable};
use serde_json::{json, Value};

const SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

/// How long the slow request sleeps: the streams must end well before.
const SLEEP_MS: u64 = 2500;
/// "At once": well under `SLEEP_MS`, with room for a loaded machine.
const AT_ONCE: Duration = Duration::from_millis(1500);

/// A 2026-07-28 request: its `_meta` and the routing headers.
fn modern_post(
    http: &Streamable,
    id: Value,
    method: &str,
    mut params: Value,
) -> (Response, Option<EventReader>) {
    let meta = params
        .as_object_mut()
        .unwrap()
        .entry("_meta")
        .or_insert_with(|| json!({}));
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
    let mut headers = format!("MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\n");
    if let Some(name) = params["name"].as_str() {
        headers.push_str(&format!("Mcp-Name: {name}\r\n"));
    }
    let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
    http.post_raw(&body.to_string(), &headers)
}

/// Opens a listen for tool-list changes; returns its stream past the
/// acknowledgement.
fn open_listen(http: &Streamable, id: &Value) -> EventReader {
    let (head, events) = modern_post(
        http,
        id.clone(),
        "subscriptions/listen",
        json!({"notifications":{"toolsListChanged":true}}),
    );
    assert_eq!(head.status, 200, "{}", head.text());
    let mut events = events.unwrap();
    let ack: Value = serde_json::from_str(&events.next_event().unwrap().data).unwrap();
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    events
}

/// The listen ends at once with the graceful final result
/// (subscriptions.mdx, Graceful Closure) and nothing after it.
fn expect_graceful_end(listen: &mut EventReader, id: &Value, signalled: Instant) {
    let rest = listen.rest();
    let took = signalled.elapsed();
    assert!(took < AT_ONCE, "the listen ended after {took:?}");
    assert_eq!(
        rest,
        [
            json!({"jsonrpc":"2.0","id":id,"result":{"resultType":"complete","_meta":{SUBSCRIPTION:id}}})
        ]
    );
}

/// Stateful Streamable HTTP over a handshake-era child: the legacy
/// session's GET stream and a listen the relay serves end at once; the
/// session's request in flight gets its answer; the gateway exits 0.
#[test]
fn sigterm_ends_the_get_stream_and_a_relay_served_listen_at_once() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "streamableHttp",
        "--stateful",
        "--upstreamProtocol",
        "legacy",
        "--drainTimeout",
        "8000",
    ]);
    let mut legacy = Streamable::new(&gateway);
    legacy.initialize("2025-11-25");
    let (head, standalone) = legacy.get("");
    assert_eq!(head.status, 200, "{}", head.text());
    let mut standalone = standalone.unwrap();
    assert_eq!(
        standalone.next_event().unwrap().data,
        "",
        "the priming event"
    );
    let modern = Streamable::new(&gateway);
    let listen_id = json!("drain-listen");
    let mut listen = open_listen(&modern, &listen_id);

    let (head, in_flight) = legacy.post(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":SLEEP_MS}}}));
    assert_eq!(head.status, 200, "{}", head.text());
    let mut in_flight = in_flight.unwrap();
    let signalled = Instant::now();
    gateway.signal("TERM");

    assert_eq!(standalone.rest(), Vec::<Value>::new());
    let took = signalled.elapsed();
    assert!(took < AT_ONCE, "the GET stream ended after {took:?}");
    expect_graceful_end(&mut listen, &listen_id, signalled);

    let answer = in_flight.rest();
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0]["id"], 7);
    assert_eq!(tool_text(&answer[0]), "slept");
    assert_eq!(gateway.wait_exit().code(), Some(0));
}

/// A 2026-07-28 child serves the listen itself (the listen is a request
/// in flight at the child): the drain does not wait for it, it ends at
/// once, while another request in flight gets its answer.
#[test]
fn sigterm_ends_a_listen_a_modern_child_serves_at_once() {
    let mut gateway = Gateway::start(&[
        "--stdio",
        &conformance_server(),
        "--outputTransport",
        "streamableHttp",
        "--upstreamProtocol",
        "auto",
        "--drainTimeout",
        "8000",
    ]);
    let http = Streamable::new(&gateway);
    let listen_id = json!(41);
    let mut listen = open_listen(&http, &listen_id);
    // The conformance server's slow tool: progress, then its answer.
    let (head, in_flight) = modern_post(
        &http,
        json!(5),
        "tools/call",
        json!({"name":"test_tool_with_progress","_meta":{"progressToken":"p"}}),
    );
    assert_eq!(head.status, 200, "{}", head.text());
    let mut in_flight = in_flight.unwrap();
    let signalled = Instant::now();
    gateway.signal("TERM");
    expect_graceful_end(&mut listen, &listen_id, signalled);
    let messages = in_flight.rest();
    assert_eq!(messages.last().unwrap()["id"], 5, "{messages:?}");
    assert!(
        messages.last().unwrap()["result"].is_object(),
        "{messages:?}"
    );
    assert_eq!(gateway.wait_exit().code(), Some(0));
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "exit after {took:?}");
}

/// WebSocket clients are told why the socket closes: 1001 (going away),
/// at once for an idle one, after its answer for one with a request in
/// flight.
#[test]
fn sigterm_closes_websockets_with_going_away() {
    use common::WsClient;
    use tungstenite::protocol::frame::coding::CloseCode;

    let mut gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "ws",
        "--upstreamProtocol",
        "legacy",
        "--drainTimeout",
        "8000",
    ]);
    let mut idle = WsClient::connect(&gateway);
    idle.initialize();
    let mut busy = WsClient::connect(&gateway);
    busy.initialize();
    busy.send(&json!({"jsonrpc":"2.0","id":9,"method":"tools/call",
        "params":{"name":"sleep","arguments":{"ms":SLEEP_MS}}}));
    // The request is at the child once another one sent after it is
    // answered (the fixture answers in order of reading).
    let echoed = busy.call(
        json!(10),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"x"}}),
    );
    assert_eq!(tool_text(&echoed), "x");
    let signalled = Instant::now();
    gateway.signal("TERM");
    assert_eq!(idle.close_code(), CloseCode::Away);
    let took = signalled.elapsed();
    assert!(took < AT_ONCE, "the idle socket closed after {took:?}");
    let answer = busy.next_message();
    assert_eq!(answer["id"], 9, "{answer}");
    assert_eq!(tool_text(&answer), "slept");
    assert_eq!(busy.close_code(), CloseCode::Away);
    assert_eq!(gateway.wait_exit().code(), Some(0));
}
