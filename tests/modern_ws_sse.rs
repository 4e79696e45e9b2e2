//! MCP 2026-07-28 clients on the SSE and WebSocket outputs, end to end: the
//! real binary with the conformance fixture (dual-era, or handshake-only with
//! `CONFORMANCE_FIXTURE_ERA=legacy`) as its child. These transports have no
//! headers to check: each message's era comes from its own `_meta`
//! (design/2026-07-28.md b.1, d.4), so the body rungs of the ladder, the
//! gateway's `server/discover`, completed legacy results and
//! `subscriptions/listen` must work per connection, beside handshake-era
//! messages on the same connection.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{answer_after, conformance_server, Gateway, SseClient, WsClient};
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";
const VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";
const SUPPORTED: [&str; 5] = [
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

#[derive(Clone, Copy, Debug)]
enum Era {
    Dual,
    Legacy,
}

#[derive(Clone, Copy, Debug)]
enum Output {
    Sse,
    Ws,
}

const OUTPUTS: [Output; 2] = [Output::Sse, Output::Ws];

/// A client of either output: one stream of messages from the gateway.
enum Client {
    Sse(SseClient),
    Ws(WsClient),
}

impl Client {
    fn send(&mut self, message: &Value) {
        match self {
            Self::Sse(client) => {
                let response = client.send(message);
                assert_eq!(response.status, 202, "{}", response.text());
            }
            Self::Ws(client) => client.send(message),
        }
    }

    fn next_message(&mut self) -> Value {
        match self {
            Self::Sse(client) => client.next_message(),
            Self::Ws(client) => client.next_message(),
        }
    }

    fn expect_nothing(&mut self) {
        match self {
            Self::Sse(client) => client.expect_nothing(),
            Self::Ws(client) => client.expect_nothing(),
        }
    }

    /// Sends a request; returns the `expected` messages before its answer,
    /// then the answer (more fail the test).
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

    /// A request whose answer must be the next message.
    fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        let (before, answer) = self.call_through(id, method, params, 0);
        assert!(before.is_empty(), "unexpected messages: {before:?}");
        answer
    }

    /// A 2026-07-28 request (`_meta` added) whose answer must come next.
    fn modern(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.call(id, method, with_meta(params))
    }
}

/// The gateway on `output` with the conformance fixture of `era`
/// (`--upstreamProtocol auto`), and one client connected.
fn start(output: Output, era: Era) -> (Gateway, Client) {
    start_command(&conformance_server(), output, era)
}

/// Like [`start`] with another child command.
fn start_command(server: &str, output: Output, era: Era) -> (Gateway, Client) {
    let transport = match output {
        Output::Sse => "sse",
        Output::Ws => "ws",
    };
    let args = [
        "--stdio",
        server,
        "--outputTransport",
        transport,
        "--upstreamProtocol",
        "auto",
    ];
    let env: &[(&str, &str)] = match era {
        Era::Dual => &[],
        Era::Legacy => &[("CONFORMANCE_FIXTURE_ERA", "legacy")],
    };
    let gw = Gateway::start_with_env(&args, env);
    let client = match output {
        Output::Sse => Client::Sse(SseClient::connect(&gw)),
        Output::Ws => Client::Ws(WsClient::connect(&gw)),
    };
    (gw, client)
}

/// `params` with a 2026-07-28 client's `_meta` (no capabilities).
fn with_meta(mut params: Value) -> Value {
    let meta = params
        .as_object_mut()
        .unwrap()
        .entry("_meta")
        .or_insert_with(|| json!({}));
    meta[VERSION] = json!(MODERN);
    meta[CAPS] = json!({});
    params
}

fn server_info() -> Value {
    json!({"name":"supergateway-conformance-server","version":"1.0.0"})
}

fn fixture_capabilities() -> Value {
    json!({"completions":{},"logging":{},"prompts":{"listChanged":true},
        "resources":{"listChanged":true,"subscribe":true},"tools":{"listChanged":true}})
}

#[test]
fn discover_both_ways() {
    for output in OUTPUTS {
        let (_gw, mut client) = start(output, Era::Dual);
        assert_eq!(
            client.modern(json!(1), "server/discover", json!({})),
            json!({"jsonrpc":"2.0","id":1,"result":{
                "_meta":{"io.modelcontextprotocol/serverInfo":server_info()},
                "cacheScope":"public","capabilities":fixture_capabilities(),
                "instructions":"Conformance fixture: every tool, resource and prompt of the suite.",
                "resultType":"complete","supportedVersions":SUPPORTED,"ttlMs":3600000}}),
            "{output:?}, modern child"
        );
        let (_gw, mut client) = start(output, Era::Legacy);
        assert_eq!(
            client.modern(json!("d"), "server/discover", json!({})),
            json!({"jsonrpc":"2.0","id":"d","result":{
                "resultType":"complete","supportedVersions":SUPPORTED,
                "capabilities":fixture_capabilities(),
                "_meta":{"io.modelcontextprotocol/serverInfo":server_info()},
                "ttlMs":0,"cacheScope":"private"}}),
            "{output:?}, legacy child"
        );
        client.expect_nothing();
    }
}

#[test]
fn a_legacy_childs_results_are_completed() {
    for output in OUTPUTS {
        let (_gw, mut client) = start(output, Era::Legacy);
        assert_eq!(
            client.modern(
                json!(1),
                "resources/read",
                json!({"uri":"test://static-text"})
            ),
            json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","ttlMs":0,
                "cacheScope":"private","contents":[{"mimeType":"text/plain",
                "text":"This is the content of the static text resource.",
                "uri":"test://static-text"}]}}),
            "{output:?}"
        );
        assert_eq!(
            client.modern(json!(2), "tools/call", json!({"name":"test_simple_text"})),
            json!({"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","content":[
                {"type":"text","text":"This is a simple text response for testing."}]}}),
            "{output:?}"
        );
        // -32002 (legacy "resource not found") → -32602, message and data kept.
        assert_eq!(
            client.modern(json!(3), "resources/read", json!({"uri":"test://nope"})),
            json!({"jsonrpc":"2.0","id":3,"error":{"code":-32602,
                "message":"Resource not found: test://nope","data":{"uri":"test://nope"}}}),
            "{output:?}"
        );
        client.expect_nothing();
    }
}

#[test]
fn body_checks_answer_on_the_connection() {
    for (output, era) in [
        (Output::Sse, Era::Dual),
        (Output::Ws, Era::Dual),
        (Output::Sse, Era::Legacy),
        (Output::Ws, Era::Legacy),
    ] {
        let (_gw, mut client) = start(output, era);
        let what = format!("{output:?}, {era:?} child");
        // The version without clientCapabilities: -32602.
        let answer = client.call(json!(1), "tools/list", json!({"_meta":{VERSION: MODERN}}));
        assert_eq!(answer["error"]["code"], json!(-32602), "{what}: {answer}");
        // An unsupported version: -32022 naming the supported ones.
        let answer = client.call(
            json!("v"),
            "tools/list",
            json!({"_meta":{VERSION: "v999.0.0", CAPS: {}}}),
        );
        assert_eq!(
            answer,
            json!({"jsonrpc":"2.0","id":"v","error":{"code":-32022,
                "message":"Unsupported protocol version",
                "data":{"supported":SUPPORTED,"requested":"v999.0.0"}}}),
            "{what}"
        );
        // Removed methods: -32601 from the gateway (a legacy child would
        // answer ping).
        for (id, method) in [
            (3, "ping"),
            (4, "logging/setLevel"),
            (5, "resources/subscribe"),
        ] {
            let params = json!({"level":"info","uri":"test://static-text"});
            assert_eq!(
                client.modern(json!(id), method, params),
                json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}}),
                "{what}: {method}"
            );
        }
        // The connection still serves modern requests.
        let answer = client.modern(json!(6), "tools/call", json!({"name":"test_simple_text"}));
        assert_eq!(
            answer["result"]["resultType"], "complete",
            "{what}: {answer}"
        );
        client.expect_nothing();
    }
}

#[test]
fn listen_on_the_connection_acknowledges_then_forwards_tagged_changes() {
    for (output, era, listen_id) in [
        (Output::Ws, Era::Dual, json!(41)),
        (Output::Ws, Era::Legacy, json!("listen")),
        (Output::Sse, Era::Dual, json!("listen")),
        (Output::Sse, Era::Legacy, json!(41)),
    ] {
        let what = format!("{output:?}, {era:?} child");
        let (_gw, mut client) = start(output, era);
        let filter = json!({"toolsListChanged":true});
        client.send(
            &json!({"jsonrpc":"2.0","id":listen_id,"method":"subscriptions/listen",
            "params":with_meta(json!({"notifications":filter}))}),
        );
        assert_eq!(
            client.next_message(),
            json!({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged",
                "params":{"_meta":{SUBSCRIPTION: listen_id},"notifications":filter}}),
            "{what}"
        );
        // Not asked for: prompts. The call's answer alone arrives.
        let answer = client.modern(
            json!(2),
            "tools/call",
            json!({"name":"test_trigger_prompt_change"}),
        );
        assert_eq!(answer["result"]["resultType"], "complete", "{what}");
        client.expect_nothing();
        let (before, answer) = client.call_through(
            json!(3),
            "tools/call",
            with_meta(json!({"name":"test_trigger_tool_change"})),
            1,
        );
        assert_eq!(answer["result"]["resultType"], "complete", "{what}");
        assert_eq!(
            before,
            [
                json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed",
                "params":{"_meta":{SUBSCRIPTION: listen_id}}})
            ],
            "{what}"
        );
        client.expect_nothing();
    }
}

#[test]
fn handshake_and_modern_messages_share_a_connection() {
    for (output, era) in [
        (Output::Sse, Era::Dual),
        (Output::Ws, Era::Dual),
        (Output::Sse, Era::Legacy),
        (Output::Ws, Era::Legacy),
    ] {
        let what = format!("{output:?}, {era:?} child");
        let (_gw, mut client) = start(output, era);
        let modern = client.modern(json!(1), "tools/call", json!({"name":"test_simple_text"}));
        assert_eq!(
            modern["result"]["resultType"], "complete",
            "{what}: {modern}"
        );
        let init = client.call(
            json!(2),
            "initialize",
            json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        );
        assert_eq!(
            init["result"]["protocolVersion"], "2025-11-25",
            "{what}: {init}"
        );
        client.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        let legacy = client.call(json!(3), "tools/call", json!({"name":"test_simple_text"}));
        assert_eq!(
            legacy["result"]["content"][0]["text"], "This is a simple text response for testing.",
            "{what}: {legacy}"
        );
        assert_eq!(
            client.call(json!(4), "ping", json!({})),
            json!({"jsonrpc":"2.0","id":4,"result":{}}),
            "{what}: a handshake-era ping is still served"
        );
        let modern = client.modern(json!(5), "tools/call", json!({"name":"test_simple_text"}));
        assert_eq!(
            modern["result"]["resultType"], "complete",
            "{what}: {modern}"
        );
        client.expect_nothing();
    }
}

#[test]
fn listens_belong_to_their_connection() {
    for (output, era) in [
        (Output::Ws, Era::Dual),
        (Output::Ws, Era::Legacy),
        (Output::Sse, Era::Dual),
        (Output::Sse, Era::Legacy),
    ] {
        let what = format!("{output:?}, {era:?} child");
        let (gw, mut listener) = start(output, era);
        let mut other = match output {
            Output::Sse => Client::Sse(SseClient::connect(&gw)),
            Output::Ws => Client::Ws(WsClient::connect(&gw)),
        };
        let filter = json!({"toolsListChanged":true});
        listener.send(
            &json!({"jsonrpc":"2.0","id":7,"method":"subscriptions/listen",
            "params":with_meta(json!({"notifications":filter}))}),
        );
        let ack = listener.next_message();
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "{what}"
        );
        // The other connection triggers: it gets its answer only, the
        // listener one tagged notification.
        let answer = other.modern(
            json!(1),
            "tools/call",
            json!({"name":"test_trigger_tool_change"}),
        );
        assert_eq!(answer["result"]["resultType"], "complete", "{what}");
        assert_eq!(
            listener.next_message(),
            json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed",
                "params":{"_meta":{SUBSCRIPTION: 7}}}),
            "{what}"
        );
        listener.expect_nothing();
        other.expect_nothing();
        // Once the listener is gone, the other connection is unaffected.
        drop(listener);
        let answer = other.modern(
            json!(2),
            "tools/call",
            json!({"name":"test_trigger_tool_change"}),
        );
        assert_eq!(answer["result"]["resultType"], "complete", "{what}");
        other.expect_nothing();
    }
}

/// The JSON lines of `path` (what the child was sent, through `tee`).
fn lines_in(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn closing_the_connection_ends_its_listen_at_the_child() {
    for (output, era) in [
        (Output::Ws, Era::Dual),
        (Output::Ws, Era::Legacy),
        (Output::Sse, Era::Dual),
        (Output::Sse, Era::Legacy),
    ] {
        let what = format!("{output:?}, {era:?} child");
        let seen = std::env::temp_dir().join(format!(
            "sg-modern-ws-sse-{}-{output:?}-{era:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&seen);
        let command = format!("tee -a {} | {}", seen.display(), conformance_server());
        let (_gw, mut client) = start_command(&command, output, era);
        let filter = json!({"resourceSubscriptions":["test://watched-resource"]});
        client.send(
            &json!({"jsonrpc":"2.0","id":"l","method":"subscriptions/listen",
            "params":with_meta(json!({"notifications":filter}))}),
        );
        let ack = client.next_message();
        assert_eq!(
            ack["params"]["notifications"], filter,
            "{what}: the child can subscribe: {ack}"
        );
        drop(client);
        // What ends the listen at the child: a modern child's listen is
        // cancelled by the gateway id it was forwarded with; for a legacy
        // child the gateway drops its last subscriber of the URI.
        let ended = |lines: &[Value]| -> bool {
            match era {
                Era::Dual => {
                    let listen_id = lines
                        .iter()
                        .find(|m| m["method"] == "subscriptions/listen")
                        .map(|m| m["id"].clone());
                    listen_id.is_some_and(|id| {
                        lines.iter().any(|m| {
                            m["method"] == "notifications/cancelled"
                                && m["params"]["requestId"] == id
                        })
                    })
                }
                Era::Legacy => lines.iter().any(|m| {
                    m["method"] == "resources/unsubscribe"
                        && m["params"]["uri"] == "test://watched-resource"
                }),
            }
        };
        common::eventually(&format!("{what}: the listen to end at the child"), || {
            ended(&lines_in(&seen))
        });
        let _ = std::fs::remove_file(&seen);
    }
}
