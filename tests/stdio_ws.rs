//! stdio→WebSocket end to end: the real binary on 127.0.0.1:0, the fixture
//! MCP server as its child, tungstenite's synchronous client (and raw bytes
//! where a client would not misbehave on purpose) over loopback sockets.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{eventually, fixture, read_response, tool_text, Gateway, Response, WsClient, WAIT};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocket};
use tungstenite::Message;

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--outputTransport", "ws"];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// An upgrade request's bytes, with `extra` header lines (each ending CRLF).
fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// Sends raw request bytes; returns the response head (and body) and the
/// connection with the bytes read past the head.
fn raw_upgrade(gw: &Gateway, bytes: &[u8]) -> (Response, TcpStream, Vec<u8>) {
    let mut stream = gw.connect();
    stream.write_all(bytes).unwrap();
    let mut reader = BufReader::new(stream);
    let response = read_response(&mut reader);
    let rest = reader.buffer().to_vec();
    (response, reader.into_inner(), rest)
}

/// A masked client text frame (mask key 0, so the payload is as is).
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// Reads one unmasked server frame: (opcode, payload).
fn read_raw_frame(stream: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).unwrap();
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).unwrap();
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).unwrap()];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

#[test]
fn a_number_id_is_relayed_as_its_exact_text() {
    // (ids of every JSON type coming back equal is a scenario of
    // stdio_scenarios.rs; this is the raw text on the socket)
    let gw = gateway(&[]);
    let mut client = WsClient::connect(&gw);
    client.initialize();
    // `1.50` is not re-serialised as another number form
    client.send_text(r#"{"jsonrpc":"2.0","id":1.50,"method":"ping"}"#);
    match client.ws.read().unwrap() {
        Message::Text(text) => {
            assert_eq!(text.as_str(), r#"{"id":1.50,"jsonrpc":"2.0","result":{}}"#)
        }
        other => panic!("{other:?}"),
    }
    client.expect_nothing();
}

#[test]
fn binary_frame_is_closed_with_1003() {
    let gw = gateway(&[]);
    let mut client = WsClient::connect(&gw);
    client
        .ws
        .send(Message::binary(
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(),
        ))
        .unwrap();
    assert_eq!(client.close_code(), CloseCode::Unsupported);
}

#[test]
fn oversize_message_is_closed_with_1009_and_others_carry_on() {
    let gw = gateway(&["--maxBodyBytes", "1024"]);
    let mut other = WsClient::connect(&gw);
    other.initialize();
    let mut client = WsClient::connect(&gw);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "x".repeat(256 * 1024)
    );
    client.send_text(&big);
    assert_eq!(client.close_code(), CloseCode::Size);
    // just under the limit is fine
    let fits = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "y".repeat(900)
    );
    other.send_text(&fits);
    assert_eq!(tool_text(&other.next_message()), "y".repeat(900));
    other.expect_nothing();
}

#[test]
fn subprotocol_mcp_is_selected_when_offered() {
    let gw = gateway(&[]);
    // none offered, none selected
    assert_eq!(WsClient::connect(&gw).protocol, None);
    assert_eq!(
        WsClient::connect_with(&gw, "/message", Some("mcp"))
            .protocol
            .as_deref(),
        Some("mcp")
    );
    let mut client = WsClient::connect_with(&gw, "/message", Some("chat, mcp"));
    assert_eq!(client.protocol.as_deref(), Some("mcp"));
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
    // other offers are accepted without a subprotocol
    let (response, _, _) = raw_upgrade(
        &gw,
        upgrade_request("/message", "Sec-WebSocket-Protocol: chat\r\n").as_bytes(),
    );
    assert_eq!(response.status, 101);
    assert_eq!(response.header("sec-websocket-protocol"), None);
    assert_eq!(
        response.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

#[test]
fn bytes_sent_right_after_the_upgrade_request_are_read_as_frames() {
    let gw = gateway(&[]);
    let mut bytes = upgrade_request("/message", "").into_bytes();
    bytes.extend(masked_text_frame(
        br#"{"jsonrpc":"2.0","id":"early","method":"ping"}"#,
    ));
    let (response, stream, rest) = raw_upgrade(&gw, &bytes);
    assert_eq!(response.status, 101);
    let mut ws = WebSocket::from_partially_read(stream, rest, Role::Client, None);
    match ws.read().unwrap() {
        Message::Text(text) => {
            assert_eq!(
                serde_json::from_str::<Value>(&text).unwrap(),
                json!({"jsonrpc":"2.0","id":"early","result":{}})
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_before_the_upgrade() {
    let gw = gateway(&[]);
    // Host and Origin are checked before upgrading
    let evil_host =
        upgrade_request("/message", "").replace("Host: 127.0.0.1", "Host: evil.example");
    let (response, _, _) = raw_upgrade(&gw, evil_host.as_bytes());
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["error"]["code"], json!(-32000));
    let (response, _, _) = raw_upgrade(
        &gw,
        upgrade_request("/message", "Origin: http://evil.example\r\n").as_bytes(),
    );
    assert_eq!(response.status, 403);
    let (response, _, _) = raw_upgrade(
        &gw,
        upgrade_request("/message", "Origin: http://localhost:3000\r\n").as_bytes(),
    );
    assert_eq!(response.status, 101);

    // not an upgrade: 426 naming the protocol
    let response = gw.request(b"GET /message HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(response.status, 426);
    assert_eq!(response.header("upgrade"), Some("websocket"));
    assert_eq!(response.json()["id"], Value::Null);
    let response = gw.request(&common::post(
        "/message",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        "",
    ));
    assert_eq!(response.status, 426);

    // versions other than 13: 426 naming 13
    let v8 = upgrade_request("/message", "")
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let (response, _, _) = raw_upgrade(&gw, v8.as_bytes());
    assert_eq!(response.status, 426);
    assert_eq!(response.header("sec-websocket-version"), Some("13"));

    // a key that is not 16 bytes of base64: 400
    let bad_key = upgrade_request("/message", "").replace("dGhlIHNhbXBsZSBub25jZQ==", "short");
    let (response, _, _) = raw_upgrade(&gw, bad_key.as_bytes());
    assert_eq!(response.status, 400);

    // other paths: 404
    let (response, _, _) = raw_upgrade(&gw, upgrade_request("/other", "").as_bytes());
    assert_eq!(response.status, 404);
    let response = gw.request(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(response.status, 404);
}

#[test]
fn a_refused_upgrade_closes_the_connection() {
    // bytes after a refused upgrade request are never read as HTTP
    let gw = gateway(&[]);
    let v8 = upgrade_request("/message", "")
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let mut bytes = v8.into_bytes();
    bytes.extend_from_slice(b"GET /message HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let (response, mut stream, rest) = raw_upgrade(&gw, &bytes);
    assert_eq!(response.status, 426);
    assert!(rest.is_empty());
    let mut after = Vec::new();
    stream.read_to_end(&mut after).unwrap();
    assert!(after.is_empty(), "{:?}", String::from_utf8_lossy(&after));
}

#[test]
fn max_sessions_bounds_open_sockets() {
    let gw = gateway(&["--maxSessions", "1"]);
    let mut first = WsClient::connect(&gw);
    let (response, _, _) = raw_upgrade(&gw, upgrade_request("/message", "").as_bytes());
    assert_eq!(response.status, 503);
    assert_eq!(first.call(json!(1), "ping", json!({}))["result"], json!({}));
    first.ws.close(None).unwrap();
    while first.ws.read().is_ok() {}
    eventually("a socket can open again", || {
        raw_upgrade(&gw, upgrade_request("/message", "").as_bytes())
            .0
            .status
            == 101
    });
}

#[test]
fn child_per_session_stops_the_child_when_the_socket_closes() {
    let fixture = fixture();
    let gw = Gateway::start_with_env(
        &[
            "--stdio",
            &fixture,
            "--outputTransport",
            "ws",
            "--childPerSession",
        ],
        &[("FIXTURE_SPAWN_GRANDCHILD", "1")],
    );
    let mut client = WsClient::connect(&gw);
    client.initialize();
    let mut pid = None;
    eventually("the fixture reports its grandchild", || {
        pid = gw.log().lines().find_map(|line| {
            line.split("grandchild pid ")
                .nth(1)
                .and_then(|p| p.trim().parse().ok())
        });
        pid.is_some()
    });
    let pid: i32 = pid.unwrap();
    assert!(common::process_alive(pid));
    client.ws.close(None).unwrap();
    while client.ws.read().is_ok() {}
    eventually("the session's child (and its group) is gone", || {
        !common::process_alive(pid)
    });
}

#[test]
fn health_endpoint_and_cors_on_the_same_port() {
    let gw = gateway(&["--healthEndpoint", "/healthz", "--cors"]);
    let mut client = WsClient::connect(&gw);
    let response = gw.request(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    let (response, _, _) = raw_upgrade(
        &gw,
        upgrade_request("/message", "Origin: https://app.example\r\n").as_bytes(),
    );
    assert_eq!(response.status, 101);
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn pings_keep_the_socket_alive_and_a_silent_client_is_closed() {
    let gw = gateway(&["--keepAlive", "100"]);
    // a client that answers pings (tungstenite does) stays connected
    let mut client = WsClient::connect(&gw);
    let start = Instant::now();
    let mut pings = 0;
    while pings < 3 {
        match client.ws.read().unwrap() {
            Message::Ping(_) => pings += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(start.elapsed() < WAIT);
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );

    // one that never answers is closed with 1008
    let (response, mut stream, rest) = raw_upgrade(&gw, upgrade_request("/message", "").as_bytes());
    assert_eq!(response.status, 101);
    assert!(rest.is_empty());
    loop {
        let (opcode, payload) = read_raw_frame(&mut stream);
        match opcode {
            0x9 => {}
            0x8 => {
                assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1008);
                break;
            }
            other => panic!("unexpected opcode {other}"),
        }
    }
}

#[test]
fn a_client_too_slow_to_read_is_disconnected() {
    let gw = gateway(&[]);
    let mut fast = WsClient::connect(&gw);
    fast.initialize();
    let mut slow = WsClient::connect(&gw);
    slow.initialize();
    // far more progress notifications than fit in socket buffers and the
    // client's queue, and no reading meanwhile
    for id in 1..=2 {
        slow.send(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"progress","arguments":{"steps":100000},"_meta":{"progressToken":id}}}));
    }
    eventually("the gateway drops the slow client", || {
        gw.log().contains("not reading its stream fast enough")
    });
    // what was sent before the drop can still be read, then the stream ends
    // without the tool's result
    slow.ws
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut progress = 0;
    loop {
        match slow.ws.read() {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(message["method"], "notifications/progress", "{message}");
                progress += 1;
            }
            Ok(Message::Close(frame)) => {
                assert_eq!(frame.map(|f| f.code), Some(CloseCode::Policy));
                break;
            }
            Ok(_) => {}
            // a socket that stayed full is dropped without a Close
            Err(_) => break,
        }
    }
    assert!(progress < 200_000, "{progress}");
    // the other client never noticed
    fast.expect_nothing();
    assert_eq!(fast.call(json!(2), "ping", json!({}))["result"], json!({}));
}

#[test]
fn client_close_is_answered() {
    let gw = gateway(&[]);
    let mut client = WsClient::connect(&gw);
    client.initialize();
    client.ws.close(None).unwrap();
    // tungstenite returns ConnectionClosed once the gateway's Close arrived
    // and the gateway closed the connection
    loop {
        match client.ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(err) => panic!("{err}"),
        }
    }
}
