//! MCP 2026-07-28 clients on the Streamable HTTP endpoint, end to end: the
//! real binary with the conformance fixture (`tests/conformance/server/`)
//! as its child, dual-era or handshake-only (`CONFORMANCE_FIXTURE_ERA=legacy`),
//! raw HTTP/1.1 over loopback. Each rule of design/2026-07-28.md a.5, b.1,
//! c.2 and c.4 that a user can see: the header ladder, the version and
//! removed-method answers, `server/discover` both ways, the response form,
//! sessionless requests in stateful mode, `subscriptions/listen`, the
//! log-level opt-in, a legacy child's completed results and the probe's
//! fallback.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::path::PathBuf;

use common::{conformance_server, eventually, EventReader, Gateway, Response, Streamable};
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";
const VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
const SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";
const SUPPORTED: &str = r#"["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"]"#;
const SERVER_INFO: &str = r#"{"name":"supergateway-conformance-server","version":"1.0.0"}"#;
const FIXTURE_CAPS: &str = r#"{"completions":{},"logging":{},"prompts":{"listChanged":true},"resources":{"listChanged":true,"subscribe":true},"tools":{"listChanged":true}}"#;

/// Which conformance fixture the gateway runs.
#[derive(Clone, Copy, Debug)]
enum Era {
    /// Serves both eras (answers `server/discover`).
    Dual,
    /// Handshake-era only: -32601 to `server/discover` before `initialize`.
    Legacy,
}

/// `supergateway --stdio <conformance fixture> --outputTransport
/// streamableHttp --upstreamProtocol UPSTREAM EXTRA…`.
fn gateway(era: Era, upstream: &str, extra: &[&str]) -> Gateway {
    let server = conformance_server();
    gateway_for(&server, era, upstream, extra)
}

fn gateway_for(command: &str, era: Era, upstream: &str, extra: &[&str]) -> Gateway {
    let mut args = vec![
        "--stdio",
        command,
        "--outputTransport",
        "streamableHttp",
        "--upstreamProtocol",
        upstream,
    ];
    args.extend_from_slice(extra);
    let env: &[(&str, &str)] = match era {
        Era::Dual => &[],
        Era::Legacy => &[("CONFORMANCE_FIXTURE_ERA", "legacy")],
    };
    Gateway::start_with_env(&args, env)
}

/// A sessionless client: no `Mcp-Session-Id`, no default version header.
fn client(gw: &Gateway) -> Streamable {
    Streamable::new(gw)
}

/// `params` with the per-request `_meta` of a 2026-07-28 client that
/// declares no capabilities (merged into a `_meta` already there).
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

fn body(id: &Value, method: &str, params: &Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string()
}

/// The routing headers a conforming client sends for `method`/`params`
/// (the values the tests use are all plain header values).
fn routing(method: &str, params: &Value) -> String {
    let mut headers = format!("MCP-Protocol-Version: {MODERN}\r\nMcp-Method: {method}\r\n");
    let name = match method {
        "tools/call" | "prompts/get" => params["name"].as_str(),
        "resources/read" => params["uri"].as_str(),
        _ => None,
    };
    if let Some(name) = name {
        headers.push_str(&format!("Mcp-Name: {name}\r\n"));
    }
    headers
}

/// A conforming 2026-07-28 POST of request `method` (`_meta` added).
fn post(
    http: &Streamable,
    id: Value,
    method: &str,
    params: Value,
) -> (Response, Option<EventReader>) {
    let params = with_meta(params);
    http.post_raw(&body(&id, method, &params), &routing(method, &params))
}

/// A request whose answer must come alone, as `application/json` with
/// `status`: the body's bytes.
fn json_answer(http: &Streamable, id: Value, method: &str, params: Value, status: u16) -> String {
    let (head, events) = post(http, id, method, params);
    assert!(events.is_none(), "expected JSON, got a stream: {head:?}");
    assert_eq!(head.status, status, "{}", head.text());
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(
        head.header("mcp-session-id"),
        None,
        "modern answers mint no session"
    );
    head.text()
}

/// A request whose answer comes on an SSE stream: every message of the
/// stream (which must end after the answer), after checking the stream's
/// form: no event ids, no priming event.
fn stream_answer(http: &Streamable, id: Value, method: &str, params: Value) -> Vec<Value> {
    let (head, events) = post(http, id.clone(), method, params);
    assert_eq!(head.status, 200, "{}", head.text());
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("cache-control"), Some("no-cache, no-transform"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    assert_eq!(head.header("mcp-session-id"), None);
    let mut events = events.unwrap();
    let mut messages = Vec::new();
    while let Some(event) = events.next_event() {
        assert_eq!(event.id, None, "2026-07-28 streams carry no event ids");
        assert_eq!(event.event, "message");
        assert!(!event.data.is_empty(), "no priming event: {event:?}");
        messages.push(serde_json::from_str::<Value>(&event.data).unwrap());
    }
    assert_eq!(messages.last().map(|m| &m["id"]), Some(&id), "{messages:?}");
    messages
}

/// The exact bytes of an error the gateway answers itself.
fn error(id: &Value, code: i64, message: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":"{message}"}}}}"#)
}

/// A file in the temporary directory, unique to this test process.
fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sg-modern-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The `method` of each JSON line of `path` (what a child was sent).
fn methods_in(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|message| message["method"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn header_ladder_in_both_modes() {
    let sentinel_match = "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?="; // "test_simple_text"
    let sentinel_other = "=?base64?dGVzdF9pbWFnZV9jb250ZW50?="; // "test_image_content"
    let call = |version: &str| {
        json!({"name":"test_simple_text","_meta":{VERSION: version, CAPS: {}}}).to_string()
    };
    let tools_call = |id: u32, version: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{}}}"#,
            call(version)
        )
    };
    const V: &str = "MCP-Protocol-Version: 2026-07-28\r\n";
    const M: &str = "Mcp-Method: tools/call\r\n";
    const N: &str = "Mcp-Name: test_simple_text\r\n";
    // (what, body, headers, status, code: 0 = the tool's result)
    let cases: Vec<(&str, String, String, u16, i64)> = vec![
        ("conforming", tools_call(1, MODERN), format!("{V}{M}{N}"), 200, 0),
        (
            "header names are case-insensitive",
            tools_call(2, MODERN),
            "mcp-protocol-version: 2026-07-28\r\nMCP-METHOD: tools/call\r\nmcp-name: test_simple_text\r\n".into(),
            200,
            0,
        ),
        ("no MCP-Protocol-Version", tools_call(3, MODERN), format!("{M}{N}"), 400, -32020),
        ("MCP-Protocol-Version twice", tools_call(4, MODERN), format!("{V}{V}{M}{N}"), 400, -32020),
        (
            "MCP-Protocol-Version differs from _meta",
            tools_call(5, MODERN),
            format!("MCP-Protocol-Version: 2025-11-25\r\n{M}{N}"),
            400,
            -32020,
        ),
        ("no Mcp-Method", tools_call(6, MODERN), format!("{V}{N}"), 400, -32020),
        ("Mcp-Method twice", tools_call(7, MODERN), format!("{V}{M}{M}{N}"), 400, -32020),
        (
            "Mcp-Method differs",
            tools_call(8, MODERN),
            format!("{V}Mcp-Method: tools/list\r\n{N}"),
            400,
            -32020,
        ),
        ("no Mcp-Name", tools_call(9, MODERN), format!("{V}{M}"), 400, -32020),
        ("Mcp-Name twice", tools_call(10, MODERN), format!("{V}{M}{N}{N}"), 400, -32020),
        (
            "Mcp-Name differs",
            tools_call(11, MODERN),
            format!("{V}{M}Mcp-Name: test_image_content\r\n"),
            400,
            -32020,
        ),
        (
            "Mcp-Name values are case-sensitive",
            tools_call(12, MODERN),
            format!("{V}{M}Mcp-Name: TEST_SIMPLE_TEXT\r\n"),
            400,
            -32020,
        ),
        (
            "a Base64 sentinel that decodes to the name",
            tools_call(13, MODERN),
            format!("{V}{M}Mcp-Name: {sentinel_match}\r\n"),
            200,
            0,
        ),
        (
            "a Base64 sentinel that decodes to another name",
            tools_call(14, MODERN),
            format!("{V}{M}Mcp-Name: {sentinel_other}\r\n"),
            400,
            -32020,
        ),
        (
            "a malformed sentinel",
            tools_call(15, MODERN),
            format!("{V}{M}Mcp-Name: =?base64?***?=\r\n"),
            400,
            -32020,
        ),
        (
            "no _meta (header says 2026-07-28): -32602 before any header rung",
            r#"{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"test_simple_text"}}"#.into(),
            V.to_owned(),
            400,
            -32602,
        ),
        (
            "_meta without clientCapabilities",
            format!(
                r#"{{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{{"name":"test_simple_text","_meta":{{"{VERSION}":"2026-07-28"}}}}}}"#
            ),
            format!("{V}{M}{N}"),
            400,
            -32602,
        ),
        (
            "header 2026-07-28, body v999.0.0: the mismatch comes first",
            tools_call(18, "v999.0.0"),
            format!("{V}{M}{N}"),
            400,
            -32020,
        ),
    ];
    for stateful in [false, true] {
        let extra: &[&str] = if stateful { &["--stateful"] } else { &[] };
        let gw = gateway(Era::Dual, "auto", extra);
        let http = client(&gw);
        for (what, body, headers, status, code) in &cases {
            let (head, events) = http.post_raw(body, headers);
            let id = serde_json::from_str::<Value>(body).unwrap()["id"].clone();
            assert!(events.is_none(), "{what}: {head:?}");
            assert_eq!(
                head.status,
                *status,
                "{what} (stateful {stateful}): {}",
                head.text()
            );
            assert_eq!(head.header("mcp-session-id"), None, "{what}");
            let answer = head.json();
            assert_eq!(answer["id"], id, "{what}: the id is echoed");
            if *code == 0 {
                assert_eq!(
                    answer["result"]["content"][0]["text"],
                    "This is a simple text response for testing.",
                    "{what}"
                );
                assert_eq!(answer["result"]["resultType"], "complete", "{what}");
            } else {
                assert_eq!(answer["error"]["code"], json!(code), "{what}: {answer}");
                if *code == -32020 {
                    let message = answer["error"]["message"].as_str().unwrap();
                    assert!(
                        message.starts_with("Header mismatch: "),
                        "{what}: {message}"
                    );
                }
            }
        }
        // An unsupported version in header and body: 400 -32022 naming the
        // supported revisions and the requested one, the id echoed.
        let (head, _) = http.post_raw(
            &tools_call(19, "v999.0.0"),
            &format!("MCP-Protocol-Version: v999.0.0\r\n{M}{N}"),
        );
        assert_eq!(head.status, 400);
        assert_eq!(
            head.text(),
            format!(
                r#"{{"jsonrpc":"2.0","id":19,"error":{{"code":-32022,"message":"Unsupported protocol version","data":{{"supported":{SUPPORTED},"requested":"v999.0.0"}}}}}}"#
            )
        );
        // Mcp-Name of resources/read is the URI, of prompts/get the name.
        let read = json!({"uri":"test://static-text"});
        assert_eq!(
            json_answer(&http, json!(20), "resources/read", read.clone(), 200),
            r#"{"id":20,"jsonrpc":"2.0","result":{"cacheScope":"public","contents":[{"mimeType":"text/plain","text":"This is the content of the static text resource.","uri":"test://static-text"}],"resultType":"complete","ttlMs":0}}"#
        );
        let read = with_meta(read);
        let (head, _) = http.post_raw(
            &body(&json!(21), "resources/read", &read),
            &format!("{V}Mcp-Method: resources/read\r\nMcp-Name: static-text\r\n"),
        );
        assert_eq!(head.status, 400);
        assert_eq!(head.json()["error"]["code"], json!(-32020));
        let prompt = with_meta(json!({"name":"test_simple_prompt"}));
        let (head, _) = http.post_raw(
            &body(&json!("p"), "prompts/get", &prompt),
            &format!("{V}Mcp-Method: prompts/get\r\n"),
        );
        assert_eq!(head.status, 400);
        assert_eq!(head.json()["id"], json!("p"));
        assert_eq!(head.json()["error"]["code"], json!(-32020));
    }
}

#[test]
fn removed_methods_get_404_and_notifications_202_and_neither_reaches_the_child() {
    let seen = temp_path("removed");
    let command = format!("tee -a {} | {}", seen.display(), conformance_server());
    for stateful in [false, true] {
        let extra: &[&str] = if stateful { &["--stateful"] } else { &[] };
        let _ = std::fs::remove_file(&seen);
        let gw = gateway_for(&command, Era::Dual, MODERN, extra);
        let http = client(&gw);
        for (id, method) in [
            (1, "initialize"),
            (2, "ping"),
            (3, "logging/setLevel"),
            (4, "resources/subscribe"),
            (5, "resources/unsubscribe"),
        ] {
            let params = json!({"level":"info","uri":"test://static-text","protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}});
            assert_eq!(
                json_answer(&http, json!(id), method, params, 404),
                error(&json!(id), -32601, "Method not found"),
                "{method}"
            );
        }
        for method in ["notifications/initialized", "notifications/cancelled"] {
            let params = with_meta(json!({"requestId": 1}));
            let notification = json!({"jsonrpc":"2.0","method":method,"params":params});
            let (head, events) = http.post_raw(
                &notification.to_string(),
                &format!("MCP-Protocol-Version: {MODERN}\r\nMcp-Method: {method}\r\n"),
            );
            assert_eq!(head.status, 202, "{method}");
            assert!(head.body.is_empty() && events.is_none(), "{method}");
            assert_eq!(head.header("mcp-session-id"), None);
        }
        let list = json_answer(&http, json!(6), "prompts/list", json!({}), 200);
        assert!(
            list.starts_with(r#"{"id":6,"jsonrpc":"2.0","result":{"#),
            "{list}"
        );
        // The child has the one request forwarded to it, nothing else.
        eventually("the child to get prompts/list", || {
            methods_in(&seen).contains(&"prompts/list".to_owned())
        });
        // (The gateway asks a 2026-07-28 child for its DiscoverResult once.)
        assert_eq!(
            methods_in(&seen),
            ["server/discover", "prompts/list"],
            "stateful {stateful}"
        );
    }
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn modern_get_and_delete_are_405_in_both_modes() {
    for stateful in [false, true] {
        let extra: &[&str] = if stateful { &["--stateful"] } else { &[] };
        let gw = gateway(Era::Dual, "auto", extra);
        let http = Streamable {
            version: Some(MODERN.into()),
            ..client(&gw)
        };
        let (head, events) = http.get("");
        assert!(events.is_none());
        assert_eq!(head.status, 405, "GET, stateful {stateful}");
        assert_eq!(head.header("allow"), Some("POST"));
        let head = http.delete();
        assert_eq!(head.status, 405, "DELETE, stateful {stateful}");
        assert_eq!(head.header("allow"), Some("POST"));
        // Even with a session id (sessions are a handshake-era thing).
        let with_session = Streamable {
            session: Some("whatever".into()),
            ..http.clone()
        };
        assert_eq!(with_session.get("").0.status, 405);
        assert_eq!(with_session.delete().status, 405);
    }
}

#[test]
fn discover_from_a_modern_child_lists_the_gateways_versions() {
    for upstream in ["auto", MODERN] {
        let gw = gateway(Era::Dual, upstream, &[]);
        let answer = json_answer(&client(&gw), json!(1), "server/discover", json!({}), 200);
        assert_eq!(
            answer,
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"result":{{"_meta":{{"io.modelcontextprotocol/serverInfo":{SERVER_INFO}}},"cacheScope":"public","capabilities":{FIXTURE_CAPS},"instructions":"Conformance fixture: every tool, resource and prompt of the suite.","resultType":"complete","supportedVersions":{SUPPORTED},"ttlMs":3600000}}}}"#
            ),
            "--upstreamProtocol {upstream}"
        );
    }
}

#[test]
fn discover_built_from_a_legacy_childs_initialize_result() {
    // A handshake-only child found by the probe, and a dual one the
    // gateway is told to treat as legacy: the same answer.
    for (era, upstream) in [(Era::Legacy, "auto"), (Era::Dual, "legacy")] {
        let gw = gateway(era, upstream, &[]);
        let answer = json_answer(&client(&gw), json!("d"), "server/discover", json!({}), 200);
        assert_eq!(
            answer,
            format!(
                r#"{{"jsonrpc":"2.0","id":"d","result":{{"resultType":"complete","supportedVersions":{SUPPORTED},"capabilities":{FIXTURE_CAPS},"_meta":{{"io.modelcontextprotocol/serverInfo":{SERVER_INFO}}},"ttlMs":0,"cacheScope":"private"}}}}"#
            ),
            "{era:?} fixture, --upstreamProtocol {upstream}"
        );
    }
}

#[test]
fn answers_alone_are_json_and_notifications_first_make_an_sse_stream() {
    for (era, upstream) in [(Era::Dual, "auto"), (Era::Legacy, "auto")] {
        let gw = gateway(era, upstream, &[]);
        let http = client(&gw);
        let answer = json_answer(
            &http,
            json!(1),
            "tools/call",
            json!({"name":"test_simple_text"}),
            200,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap(),
            json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[{"type":"text","text":"This is a simple text response for testing."}]}}),
            "{era:?}"
        );
        let messages = stream_answer(
            &http,
            json!("progress"),
            "tools/call",
            json!({"name":"test_tool_with_progress","_meta":{"progressToken":"tok"}}),
        );
        assert_eq!(messages.len(), 4, "{era:?}: {messages:?}");
        for (message, progress) in messages.iter().zip([0, 50, 100]) {
            assert_eq!(message["method"], "notifications/progress", "{era:?}");
            assert_eq!(message["params"]["progressToken"], "tok", "{era:?}");
            assert_eq!(message["params"]["progress"], json!(progress), "{era:?}");
        }
        assert_eq!(messages[3]["result"]["resultType"], "complete");
    }
}

#[test]
fn stateful_modern_requests_need_no_session_and_leave_a_legacy_session_alone() {
    let gw = gateway(Era::Dual, "auto", &["--stateful"]);
    let mut legacy = Streamable::new(&gw);
    legacy.initialize("2025-11-25");
    let session = legacy.session.clone().expect("a legacy session");
    let (head, standalone) = legacy.get("");
    assert_eq!(head.status, 200);
    let mut standalone = standalone.unwrap();
    let priming = standalone.next_event().unwrap();
    assert_eq!(
        priming.data, "",
        "a 2025-11-25 stream starts with a priming event"
    );

    // A legacy request in flight while modern ones come and go.
    let (head, in_flight) = legacy.post(&json!({"jsonrpc":"2.0","id":"slow","method":"tools/call",
        "params":{"name":"test_tool_with_progress","_meta":{"progressToken":"legacy"}}}));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("mcp-session-id"), Some(session.as_str()));

    let modern = client(&gw);
    let answer = json_answer(
        &modern,
        json!(1),
        "tools/call",
        json!({"name":"test_trigger_tool_change"}),
        200,
    );
    assert!(
        answer.contains("Triggered notifications/tools/list_changed"),
        "{answer}"
    );
    // A session id on a modern request is ignored: not an error, not echoed.
    for id in [session.as_str(), "no-such-session"] {
        let with_id = Streamable {
            session: Some(id.to_owned()),
            ..modern.clone()
        };
        let answer = json_answer(&with_id, json!(2), "prompts/list", json!({}), 200);
        assert!(answer.contains(r#""resultType":"complete""#), "{answer}");
    }

    // The legacy request ends as it would alone, with only its own messages.
    let messages = in_flight.unwrap().rest();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages[..3].iter().all(
        |m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == "legacy"
    ));
    assert_eq!(messages[3]["id"], "slow");
    // The child is modern (auto): the legacy client's request reached it
    // with the 2026-07-28 `_meta`, and its result comes back as the child
    // wrote it (extra members such as resultType are legal for a legacy
    // client).
    assert!(
        messages[3]["result"]["content"].is_array(),
        "a tool result: {:?}",
        messages[3]
    );
    // Nothing of the modern traffic reached the session's stream, and the
    // session still works.
    standalone.expect_nothing();
    let messages = legacy.call(json!(3), "tools/call", json!({"name":"test_simple_text"}));
    assert_eq!(
        messages,
        [
            json!({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"This is a simple text response for testing."}],"resultType":"complete"}})
        ]
    );
}

#[test]
fn listen_acknowledges_then_forwards_tagged_list_changes() {
    for (era, listen_id, extra) in [
        (Era::Dual, json!(41), &[][..]),
        (Era::Legacy, json!("listen-1"), &[][..]),
        (Era::Dual, json!("listen-2"), &["--stateful"][..]),
        (Era::Legacy, json!(42), &["--stateful"][..]),
    ] {
        let gw = gateway(era, "auto", extra);
        let http = client(&gw);
        let filter =
            json!({"toolsListChanged":true,"resourceSubscriptions":["test://watched-resource"]});
        let (head, events) = post(
            &http,
            listen_id.clone(),
            "subscriptions/listen",
            json!({"notifications": filter}),
        );
        assert_eq!(head.status, 200, "{era:?}: {}", head.text());
        assert_eq!(head.header("content-type"), Some("text/event-stream"));
        let mut events = events.unwrap();
        let ack = events.next_event().unwrap();
        assert_eq!(ack.id, None);
        assert_eq!(
            serde_json::from_str::<Value>(&ack.data).unwrap(),
            json!({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged",
                "params":{"_meta":{SUBSCRIPTION: listen_id},"notifications":filter}}),
            "{era:?}"
        );
        // Not asked for: prompts.
        json_answer(
            &http,
            json!(2),
            "tools/call",
            json!({"name":"test_trigger_prompt_change"}),
            200,
        );
        events.expect_nothing();
        json_answer(
            &http,
            json!(3),
            "tools/call",
            json!({"name":"test_trigger_tool_change"}),
            200,
        );
        let changed = events.next_event().unwrap();
        assert_eq!(changed.id, None);
        assert_eq!(
            serde_json::from_str::<Value>(&changed.data).unwrap(),
            json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed",
                "params":{"_meta":{SUBSCRIPTION: listen_id}}}),
            "{era:?}"
        );
        events.expect_nothing();
    }
}

#[test]
fn log_messages_only_with_a_log_level_and_at_or_above_it() {
    for era in [Era::Legacy, Era::Dual] {
        let gw = gateway(era, "auto", &[]);
        let http = client(&gw);
        let logging = |level: Option<&str>| {
            let mut params = json!({"name":"test_tool_with_logging"});
            if let Some(level) = level {
                params["_meta"] = json!({LOG_LEVEL: level});
            }
            params
        };
        let quiet = json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[{"type":"text","text":"Tool with logging executed successfully"}]}});
        // No level: the tool's info messages are dropped.
        let answer = json_answer(&http, json!(1), "tools/call", logging(None), 200);
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap(),
            quiet,
            "{era:?}"
        );
        // Above info: dropped too.
        let answer = json_answer(&http, json!(1), "tools/call", logging(Some("warning")), 200);
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap(),
            quiet,
            "{era:?}"
        );
        // At or below info: the three messages, then the answer.
        for level in ["info", "debug"] {
            let messages = stream_answer(&http, json!(1), "tools/call", logging(Some(level)));
            let texts: Vec<&Value> = messages[..messages.len() - 1]
                .iter()
                .map(|m| {
                    assert_eq!(m["method"], "notifications/message", "{era:?} {level}");
                    assert_eq!(m["params"]["level"], "info");
                    &m["params"]["data"]
                })
                .collect();
            assert_eq!(
                texts,
                [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed"
                ],
                "{era:?} {level}"
            );
            assert_eq!(messages.last().unwrap(), &quiet);
        }
        // Not a level: -32602.
        let (head, _) = post(&http, json!(9), "tools/call", logging(Some("loud")));
        assert_eq!(head.status, 400, "{era:?}");
        assert_eq!(head.json()["error"]["code"], json!(-32602));
        assert_eq!(head.json()["id"], json!(9));
    }
}

#[test]
fn a_legacy_childs_results_are_completed_for_modern_clients() {
    // (The dual fixture answers any request carrying the 2026 `_meta` in
    // the modern form, whatever the gateway takes it for: only the
    // handshake-only fixture is a legacy child here.)
    for upstream in ["auto", "legacy"] {
        let gw = gateway(Era::Legacy, upstream, &[]);
        let http = client(&gw);
        assert_eq!(
            json_answer(
                &http,
                json!(1),
                "resources/read",
                json!({"uri":"test://static-text"}),
                200
            ),
            r#"{"id":1,"jsonrpc":"2.0","result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","contents":[{"mimeType":"text/plain","text":"This is the content of the static text resource.","uri":"test://static-text"}]}}"#,
            "--upstreamProtocol {upstream}"
        );
        let list = json_answer(&http, json!(2), "tools/list", json!({}), 200);
        assert!(
            list.starts_with(r#"{"id":2,"jsonrpc":"2.0","result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":["#),
            "--upstreamProtocol {upstream}: {list}"
        );
        // tools/call results get resultType only (no cache fields).
        assert_eq!(
            json_answer(
                &http,
                json!(3),
                "tools/call",
                json!({"name":"test_simple_text"}),
                200
            ),
            r#"{"id":3,"jsonrpc":"2.0","result":{"resultType":"complete","content":[{"text":"This is a simple text response for testing.","type":"text"}]}}"#,
        );
        // A legacy -32002 (resource not found) becomes -32602, message and
        // data kept.
        assert_eq!(
            json_answer(
                &http,
                json!(4),
                "resources/read",
                json!({"uri":"test://nope"}),
                400
            ),
            r#"{"error":{"code":-32602,"data":{"uri":"test://nope"},"message":"Resource not found: test://nope"},"id":4,"jsonrpc":"2.0"}"#
        );
    }
}

/// A handshake-era child that never answers `server/discover` (nor
/// anything but `initialize` and `tools/list`): what the probe must not
/// wait on for ever.
const SILENT_CHILD: &str = r#"while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([^,}]*\).*/\1/p')
  case "$line" in
    *'"method":"initialize"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{"tasks":{"list":{}},"tools":{}},"serverInfo":{"name":"silent","version":"2.0.0"},"instructions":"Ignores server/discover."}}\n' "$id" ;;
    *'"method":"tools/list"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"tools":[]}}\n' "$id" ;;
  esac
done
"#;

#[test]
fn the_probe_falls_back_to_legacy_after_probe_timeout() {
    let script = temp_path("silent.sh");
    std::fs::write(&script, SILENT_CHILD).unwrap();
    let command = format!("sh {}", script.display());
    let gw = gateway_for(&command, Era::Dual, "auto", &["--probeTimeout", "300"]);
    let http = client(&gw);
    // Held until the probe gives up, then answered from the child's
    // InitializeResult (capabilities without "tasks").
    assert_eq!(
        json_answer(&http, json!(1), "server/discover", json!({}), 200),
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"resultType":"complete","supportedVersions":{SUPPORTED},"capabilities":{{"tools":{{}}}},"instructions":"Ignores server/discover.","_meta":{{"io.modelcontextprotocol/serverInfo":{{"name":"silent","version":"2.0.0"}}}},"ttlMs":0,"cacheScope":"private"}}}}"#
        )
    );
    let list = json_answer(&http, json!(2), "tools/list", json!({}), 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        list,
        json!({"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[]}})
    );
    let _ = std::fs::remove_file(&script);
}

#[test]
fn closing_a_listen_stream_ends_the_listen_at_the_child() {
    for era in [Era::Dual, Era::Legacy] {
        let seen = temp_path(&format!("listen-{era:?}"));
        let command = format!("tee -a {} | {}", seen.display(), conformance_server());
        let gw = gateway_for(&command, era, "auto", &[]);
        let http = client(&gw);
        let filter = json!({"resourceSubscriptions":["test://watched-resource"]});
        let (head, events) = post(
            &http,
            json!(5),
            "subscriptions/listen",
            json!({"notifications": filter}),
        );
        assert_eq!(head.status, 200);
        let mut events = events.unwrap();
        let ack: Value = serde_json::from_str(&events.next_event().unwrap().data).unwrap();
        assert_eq!(ack["params"]["notifications"], filter, "{era:?}: {ack}");
        drop(events);
        // A modern child's listen is cancelled by the id the gateway gave
        // it; for a legacy child the last subscriber of the URI is gone.
        eventually(&format!("{era:?}: the listen to end at the child"), || {
            let lines: Vec<Value> = std::fs::read_to_string(&seen)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect();
            match era {
                Era::Dual => lines
                    .iter()
                    .find(|m| m["method"] == "subscriptions/listen")
                    .is_some_and(|listen| {
                        lines.iter().any(|m| {
                            m["method"] == "notifications/cancelled"
                                && m["params"]["requestId"] == listen["id"]
                        })
                    }),
                Era::Legacy => lines.iter().any(|m| {
                    m["method"] == "resources/unsubscribe"
                        && m["params"]["uri"] == "test://watched-resource"
                }),
            }
        });
        let _ = std::fs::remove_file(&seen);
    }
}

#[test]
fn a_modern_notification_with_an_unsupported_version_is_400() {
    let gw = gateway(Era::Dual, "auto", &[]);
    let http = client(&gw);
    let notification = json!({"jsonrpc":"2.0","method":"notifications/cancelled",
        "params":{"requestId":1,"_meta":{VERSION:"v999.0.0",CAPS:{}}}});
    let (head, events) = http.post_raw(
        &notification.to_string(),
        "MCP-Protocol-Version: v999.0.0\r\nMcp-Method: notifications/cancelled\r\n",
    );
    assert!(events.is_none());
    assert_eq!(head.status, 400, "{}", head.text());
    assert_eq!(
        head.text(),
        format!(
            r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32022,"message":"Unsupported protocol version","data":{{"supported":{SUPPORTED},"requested":"v999.0.0"}}}}}}"#
        )
    );
}
