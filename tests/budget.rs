//! The process-wide byte budget (`--maxBufferedBytes`) counts request
//! bodies while they are read: bodies that do not fit are refused with 503
//! and a JSON-RPC error, and the budget comes back once they are done.
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

use common::{fixture, read_response, Gateway};

const BODY: usize = 900_000;

/// The head and the first byte of a POST whose body is `BODY` bytes.
fn start_post(gateway: &Gateway) -> std::net::TcpStream {
    let mut stream = gateway.connect();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {BODY}\r\n\r\n["
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

#[test]
fn bodies_being_read_are_charged_to_the_process_budget() {
    let gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "streamableHttp",
        "--maxBufferedBytes",
        "2000000",
        "--maxSessionBytes",
        "1000000",
    ]);
    // Two bodies of 900,000 bytes in flight fit in 2,000,000 bytes...
    let first = start_post(&gateway);
    let second = start_post(&gateway);
    // ...a third does not: 503 with a JSON-RPC error, connection closed.
    let third = start_post(&gateway);
    let mut reader = BufReader::new(third);
    let refused = read_response(&mut reader);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("connection"), Some("close"));
    let body = refused.json();
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(
        body["error"]["message"],
        "the gateway is busy: its memory budget is full; try again later"
    );
    common::eventually("the refusal logged", || {
        gateway
            .log()
            .contains("request body refused: the gateway's memory budget")
    });
    // The first two give their share back when they go: a whole body of
    // the same size is then read and accepted (a notification: 202).
    drop(first);
    drop(second);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#;
    let padded = format!("{note}{}", " ".repeat(BODY - note.len()));
    common::eventually("a 900,000-byte body to be accepted again", || {
        let mut stream = gateway.connect();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: {BODY}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(padded.as_bytes()).unwrap();
        let status = read_response(&mut BufReader::new(stream)).status;
        assert!(matches!(status, 202 | 503), "got {status}");
        status == 202
    });
}
