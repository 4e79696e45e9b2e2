//! One client interface over the stdio→SSE and stdio→WebSocket modes, so a
//! scenario is written once and run against both (`tests/stdio_scenarios.rs`).

use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;

use super::{answer_after, fixture, Gateway, SseClient, WsClient};

/// A client of a stdio→network gateway: messages in, messages out, and
/// nothing the test did not ask for.
pub trait McpClient: Sized + Send + 'static {
    /// The transport's name, for failure messages.
    const NAME: &'static str;

    /// Starts the gateway in this transport's mode in front of the fixture,
    /// with `extra` arguments.
    fn gateway_with_env(extra: &[&str], env: &[(&str, &str)]) -> Gateway;

    fn connect(gateway: &Gateway) -> Self;

    /// Sends one message (SSE: a POST, which must be answered 202).
    fn send(&mut self, message: &Value);

    /// Sends text that is not a valid JSON-RPC message and returns the
    /// JSON-RPC error the gateway answers with (SSE: the POST's 400 body;
    /// WebSocket: the next message on the socket).
    fn send_invalid(&mut self, text: &str) -> Value;

    /// The next message; anything else (or the end) fails the test.
    fn next_message(&mut self) -> Value;

    /// Asserts that no message arrives for a short while and that the
    /// connection is still open.
    fn expect_nothing(&mut self);

    /// Asserts that the gateway ended this client's connection because its
    /// child went away (SSE: end of stream; WebSocket: Close 1001), with no
    /// message before.
    fn expect_gone(&mut self);

    fn gateway(extra: &[&str]) -> Gateway {
        Self::gateway_with_env(extra, &[])
    }

    /// Sends a request; its answer must be the next message.
    fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        let (before, answer) = self.call_through(id, method, params, 0);
        assert!(
            before.is_empty(),
            "{}: unexpected messages before the answer: {before:?}",
            Self::NAME
        );
        answer
    }

    /// Sends a request; returns at most `expected` messages that arrive
    /// before its answer (the caller asserts them), then the answer.
    fn call_through(
        &mut self,
        id: Value,
        method: &str,
        params: Value,
        expected: usize,
    ) -> (Vec<Value>, Value) {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        answer_after(id, expected, || self.next_message())
    }

    /// `initialize`, then `notifications/initialized`: the answer.
    fn initialize(&mut self) -> Value {
        let result = self.call(
            json!(0),
            "initialize",
            json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        );
        self.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        result
    }
}

fn start(transport: &str, extra: &[&str], env: &[(&str, &str)]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--outputTransport", transport];
    args.extend_from_slice(extra);
    Gateway::start_with_env(&args, env)
}

impl McpClient for SseClient {
    const NAME: &'static str = "sse";

    fn gateway_with_env(extra: &[&str], env: &[(&str, &str)]) -> Gateway {
        start("sse", extra, env)
    }

    fn connect(gateway: &Gateway) -> Self {
        Self::connect(gateway)
    }

    fn send(&mut self, message: &Value) {
        let response = Self::send(self, message);
        assert_eq!(response.status, 202, "POST {message}: {}", response.text());
    }

    fn send_invalid(&mut self, text: &str) -> Value {
        let response = self.send_raw(text);
        assert_eq!(response.status, 400, "POST {text:?}: {}", response.text());
        response.json()
    }

    fn next_message(&mut self) -> Value {
        Self::next_message(self)
    }

    fn expect_nothing(&mut self) {
        Self::expect_nothing(self);
    }

    fn expect_gone(&mut self) {
        self.expect_end();
    }
}

impl McpClient for WsClient {
    const NAME: &'static str = "ws";

    fn gateway_with_env(extra: &[&str], env: &[(&str, &str)]) -> Gateway {
        start("ws", extra, env)
    }

    fn connect(gateway: &Gateway) -> Self {
        Self::connect(gateway)
    }

    fn send(&mut self, message: &Value) {
        Self::send(self, message);
    }

    fn send_invalid(&mut self, text: &str) -> Value {
        self.send_text(text);
        Self::next_message(self)
    }

    fn next_message(&mut self) -> Value {
        Self::next_message(self)
    }

    fn expect_nothing(&mut self) {
        Self::expect_nothing(self);
    }

    fn expect_gone(&mut self) {
        assert_eq!(self.close_code(), CloseCode::Away);
    }
}
