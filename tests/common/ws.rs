//! The WebSocket client of the stdio→WS tests (tungstenite's synchronous
//! client over a loopback socket). Like the SSE client it fails the test on
//! any message the test did not ask for.

use std::net::TcpStream;
use std::time::Instant;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::WebSocket;
use tungstenite::Message;

use super::{answer_after, is_timeout, Gateway, QUIET, WAIT};

/// A WebSocket client of the gateway.
pub struct WsClient {
    pub ws: WebSocket<TcpStream>,
    /// The `101` response's `Sec-WebSocket-Protocol`, if any.
    pub protocol: Option<String>,
}

impl WsClient {
    pub fn connect(gw: &Gateway) -> Self {
        Self::connect_with(gw, "/message", None)
    }

    pub fn connect_with(gw: &Gateway, path: &str, protocols: Option<&str>) -> Self {
        let mut request = format!("ws://{}{path}", gw.addr)
            .into_client_request()
            .unwrap();
        if let Some(protocols) = protocols {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocols.parse().unwrap());
        }
        let (ws, response) = tungstenite::client(request, gw.connect()).unwrap();
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        Self { ws, protocol }
    }

    pub fn send(&mut self, message: &Value) {
        self.send_text(&message.to_string());
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).unwrap();
    }

    /// The next message, which must be a text frame: its JSON. Pings and
    /// pongs are the transport's keep-alive, not messages, and are skipped
    /// (tungstenite answers pings by itself); anything else fails the test.
    pub fn next_message(&mut self) -> Value {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|err| panic!("text frame is not JSON ({err}): {text}"))
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(other) => panic!("expected a text message, got {other:?}"),
                Err(err) => panic!("reading the WebSocket while waiting for a message: {err}"),
            }
        }
    }

    /// The server's Close frame, which must be the next frame (pings
    /// aside): its code.
    pub fn close_code(&mut self) -> CloseCode {
        loop {
            match self.ws.read() {
                Ok(Message::Close(Some(frame))) => return frame.code,
                Ok(Message::Close(None)) => panic!("close frame without a code"),
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(other) => panic!("expected a Close frame, got {other:?}"),
                Err(err) => panic!("connection ended without a close frame: {err}"),
            }
        }
    }

    /// Asserts that no message arrives for [`QUIET`] (pings aside) and that
    /// the socket is still open.
    pub fn expect_nothing(&mut self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.ws.get_mut().set_read_timeout(Some(left)).unwrap();
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(other) => {
                    panic!("unexpected WebSocket message {other:?} when nothing else was expected")
                }
                // tungstenite keeps a partly read frame: reading again resumes it.
                Err(tungstenite::Error::Io(err)) if is_timeout(&err) => break,
                Err(err) => panic!("the WebSocket failed while nothing was expected: {err}"),
            }
        }
        self.ws.get_mut().set_read_timeout(Some(WAIT)).unwrap();
    }

    /// Sends a request and returns its answer, which must be the next
    /// message: anything else arriving first fails the test.
    pub fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        let (before, answer) = self.call_through(id, method, params, 0);
        assert!(
            before.is_empty(),
            "unexpected messages before the answer: {before:?}"
        );
        answer
    }

    /// Sends a request and returns the `expected` messages that arrive
    /// before its answer, then the answer (more fail the test).
    pub fn call_through(
        &mut self,
        id: Value,
        method: &str,
        params: Value,
        expected: usize,
    ) -> (Vec<Value>, Value) {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        answer_after(id, expected, || self.next_message())
    }

    pub fn initialize(&mut self) -> Value {
        let result = self.call(
            json!(0),
            "initialize",
            json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        );
        self.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        result
    }
}
