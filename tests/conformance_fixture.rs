//! The conformance fixture (`tests/conformance/server/`, example `conformance-server`) over
//! pipes, in both eras and with `CONFORMANCE_FIXTURE_ERA=legacy`: the exact lines it writes.
//! "Nothing else arrived" is checked with a sentinel: the fixture answers synchronous requests
//! in order on one thread, so the line after the last expected one must be the sentinel's answer.
#![forbid(unsafe_code)]
// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// Bound for one line to arrive: a hang fails the test instead of stalling it.
const WAIT: Duration = Duration::from_secs(20);
const V: &str = "io.modelcontextprotocol/protocolVersion";
const CAPS: &str = "io.modelcontextprotocol/clientCapabilities";

/// The fixture's path, built (or confirmed fresh) once per test binary: `cargo test --test
/// conformance_fixture` does not build examples by itself.
fn exe() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let test_exe = std::env::current_exe().unwrap();
    let dir = test_exe.parent().unwrap().parent().unwrap().to_path_buf();
    BUILT.call_once(|| {
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo.args(["build", "--example", "conformance-server"]);
        if dir.file_name().is_some_and(|name| name == "release") {
            cargo.arg("--release");
        }
        assert!(
            cargo.status().unwrap().success(),
            "building the fixture failed"
        );
    });
    dir.join("examples").join("conformance-server")
}

struct Fixture {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Fixture {
    fn dual() -> Self {
        Self::start(None)
    }

    fn legacy() -> Self {
        Self::start(Some("legacy"))
    }

    fn start(era: Option<&str>) -> Self {
        let mut cmd = Command::new(exe());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("CONFORMANCE_DYNAMIC_MS")
            .env_remove("CONFORMANCE_WATCH_MS")
            .env_remove("CONFORMANCE_FIXTURE_ERA");
        if let Some(era) = era {
            cmd.env("CONFORMANCE_FIXTURE_ERA", era);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, msg: &Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("the fixture wrote no line in time")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.line()).unwrap()
    }

    /// Sends `msg`; its answer must be exactly `expected` and come first.
    fn expect(&mut self, msg: Value, expected: &str) {
        self.send(&msg);
        assert_eq!(self.line(), expected, "answer to {msg}");
    }

    /// Nothing else was written before the answer to a legacy `ping`.
    fn nothing_else(&mut self) {
        self.expect(
            json!({"jsonrpc": "2.0", "id": "sentinel", "method": "ping"}),
            r#"{"id":"sentinel","jsonrpc":"2.0","result":{}}"#,
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A modern request's params: `extra` plus the per-request `_meta` with `caps`.
fn modern(extra: Value, caps: Value) -> Value {
    let mut params = extra;
    params["_meta"] = json!({V: "2026-07-28", CAPS: caps});
    params
}

fn all_caps() -> Value {
    json!({"elicitation": {}, "sampling": {}, "roots": {}})
}

fn request(id: Value, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[test]
fn discover_and_modern_results_carry_result_type_and_cache_fields() {
    let mut fx = Fixture::dual();
    fx.expect(
        request(json!(1), "server/discover", modern(json!({}), json!({}))),
        r#"{"id":1,"jsonrpc":"2.0","result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"supergateway-conformance-server","version":"1.0.0"}},"cacheScope":"public","capabilities":{"completions":{},"logging":{},"prompts":{"listChanged":true},"resources":{"listChanged":true,"subscribe":true},"tools":{"listChanged":true}},"instructions":"Conformance fixture: every tool, resource and prompt of the suite.","resultType":"complete","supportedVersions":["2026-07-28"],"ttlMs":3600000}}"#,
    );
    fx.expect(
        request(
            json!("t"),
            "tools/call",
            modern(json!({"name": "test_simple_text"}), json!({})),
        ),
        r#"{"id":"t","jsonrpc":"2.0","result":{"content":[{"text":"This is a simple text response for testing.","type":"text"}],"resultType":"complete"}}"#,
    );
    fx.expect(
        request(
            json!(2),
            "resources/read",
            modern(json!({"uri": "test://static-text"}), json!({})),
        ),
        r#"{"id":2,"jsonrpc":"2.0","result":{"cacheScope":"public","contents":[{"mimeType":"text/plain","text":"This is the content of the static text resource.","uri":"test://static-text"}],"resultType":"complete","ttlMs":0}}"#,
    );
    // The same request without the 2026 envelope is legacy: exactly as before, no new fields.
    fx.expect(
        request(json!(3), "tools/call", json!({"name": "test_simple_text"})),
        r#"{"id":3,"jsonrpc":"2.0","result":{"content":[{"text":"This is a simple text response for testing.","type":"text"}]}}"#,
    );
    fx.nothing_else();
}

#[test]
fn meta_ladder_errors_echo_the_id() {
    let mut fx = Fixture::dual();
    // Version but no clientCapabilities.
    fx.expect(
        request(
            json!(102),
            "tools/list",
            json!({"_meta": {V: "2026-07-28"}}),
        ),
        r#"{"error":{"code":-32602,"message":"Invalid params: _meta must carry io.modelcontextprotocol/clientCapabilities"},"id":102,"jsonrpc":"2.0"}"#,
    );
    // `server/discover` with no `_meta` at all.
    fx.expect(
        request(json!(101), "server/discover", json!({})),
        r#"{"error":{"code":-32602,"message":"Invalid params: _meta must carry io.modelcontextprotocol/protocolVersion"},"id":101,"jsonrpc":"2.0"}"#,
    );
    fx.expect(
        request(
            json!(301),
            "server/discover",
            json!({"_meta": {V: "v999.0.0", CAPS: {}}}),
        ),
        r#"{"error":{"code":-32022,"data":{"requested":"v999.0.0","supported":["2026-07-28"]},"message":"Unsupported protocol version"},"id":301,"jsonrpc":"2.0"}"#,
    );
    // Removed in 2026-07-28.
    fx.expect(
        request(json!(500), "ping", modern(json!({}), json!({}))),
        r#"{"error":{"code":-32601,"message":"Method not found"},"id":500,"jsonrpc":"2.0"}"#,
    );
    fx.expect(
        request(
            json!(401),
            "tools/call",
            modern(json!({"name": "test_missing_capability"}), json!({})),
        ),
        r#"{"error":{"code":-32021,"data":{"requiredCapabilities":{"sampling":{}}},"message":"Missing required client capability"},"id":401,"jsonrpc":"2.0"}"#,
    );
    fx.nothing_else();
}

#[test]
fn input_required_round_trip_and_tampered_state() {
    let mut fx = Fixture::dual();
    let call = |id: u32, extra: Value| {
        let mut params = json!({"name": "test_input_required_result_request_state"});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        request(json!(id), "tools/call", modern(params, all_caps()))
    };
    fx.send(&call(1, json!({})));
    let irr = fx.json();
    let state = irr["result"]["requestState"].as_str().unwrap().to_owned();
    assert_eq!(
        irr,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "resultType": "input_required",
            "inputRequests": {"confirm": {"method": "elicitation/create", "params": {
                "message": "Please confirm",
                "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                    "required": ["ok"]}
            }}},
            "requestState": state
        }})
    );
    let answer = json!({"confirm": {"action": "accept", "content": {"ok": true}}});
    fx.expect(
        call(2, json!({"inputResponses": answer, "requestState": format!("{state}-TAMPERED")})),
        r#"{"error":{"code":-32602,"message":"Invalid params: requestState failed its integrity check"},"id":2,"jsonrpc":"2.0"}"#,
    );
    // A well-formed state with one payload byte changed: the tag no longer matches.
    let (payload, tag) = state.split_once('.').unwrap();
    let flipped = if payload.starts_with('7') { "6" } else { "7" };
    let forged = format!("{flipped}{}.{tag}", &payload[1..]);
    fx.expect(
        call(3, json!({"inputResponses": answer, "requestState": forged})),
        r#"{"error":{"code":-32602,"message":"Invalid params: requestState failed its integrity check"},"id":3,"jsonrpc":"2.0"}"#,
    );
    // Answers without the state are not trusted: asked again, with a new state.
    fx.send(&call(4, json!({"inputResponses": answer})));
    let again = fx.json();
    assert_eq!(again["result"]["resultType"], "input_required");
    assert!(again["result"]["inputRequests"]["confirm"].is_object());
    assert_ne!(again["result"]["requestState"], json!(state));
    // Malformed inputResponses.
    fx.expect(
        call(5, json!({"inputResponses": {"confirm": 12345}, "requestState": state})),
        r#"{"error":{"code":-32602,"message":"Invalid params: inputResponses.confirm must be an object (a result)"},"id":5,"jsonrpc":"2.0"}"#,
    );
    fx.expect(
        call(6, json!({"inputResponses": answer, "requestState": state})),
        r#"{"id":6,"jsonrpc":"2.0","result":{"content":[{"text":"state-ok: confirmed ok=true","type":"text"}],"resultType":"complete"}}"#,
    );
    fx.nothing_else();
}

#[test]
fn ephemeral_elicitation_re_asks_a_missing_key_and_completes_with_it() {
    let mut fx = Fixture::dual();
    let call = |id: u32, responses: Value| {
        request(
            json!(id),
            "tools/call",
            modern(
                json!({"name": "test_input_required_result_elicitation",
                       "inputResponses": responses}),
                all_caps(),
            ),
        )
    };
    let ask = r#"{"id":ID,"jsonrpc":"2.0","result":{"inputRequests":{"user_name":{"method":"elicitation/create","params":{"message":"What is your name?","requestedSchema":{"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"}}}},"resultType":"input_required"}}"#;
    fx.expect(
        call(1, json!({"wrong_key": {"action": "accept", "content": {}}})),
        &ask.replace("ID", "1"),
    );
    fx.expect(
        call(
            2,
            json!({"user_name": {"action": "accept", "content": {"name": "Alice"}},
                   "unknown_extra_key": {}}),
        ),
        r#"{"id":2,"jsonrpc":"2.0","result":{"content":[{"text":"Hello, Alice!","type":"text"}],"resultType":"complete"}}"#,
    );
    fx.nothing_else();
}

#[test]
fn listen_acknowledges_tags_and_ends_on_cancel() {
    let mut fx = Fixture::dual();
    fx.send(&request(
        json!(7),
        "subscriptions/listen",
        modern(
            json!({"notifications": {"toolsListChanged": true}}),
            json!({}),
        ),
    ));
    assert_eq!(
        fx.line(),
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7},"notifications":{"toolsListChanged":true}}}"#
    );
    let trigger = |id: u32, name: &str| {
        request(
            json!(id),
            "tools/call",
            modern(json!({"name": name}), json!({})),
        )
    };
    // A prompt change is not what this listen asked for.
    fx.expect(
        trigger(8, "test_trigger_prompt_change"),
        r#"{"id":8,"jsonrpc":"2.0","result":{"content":[{"text":"Triggered notifications/prompts/list_changed","type":"text"}],"resultType":"complete"}}"#,
    );
    fx.send(&trigger(9, "test_trigger_tool_change"));
    assert_eq!(
        fx.line(),
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
    );
    assert_eq!(
        fx.line(),
        r#"{"id":9,"jsonrpc":"2.0","result":{"content":[{"text":"Triggered notifications/tools/list_changed","type":"text"}],"resultType":"complete"}}"#
    );
    fx.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 7}}),
    );
    fx.expect(
        trigger(10, "test_trigger_tool_change"),
        r#"{"id":10,"jsonrpc":"2.0","result":{"content":[{"text":"Triggered notifications/tools/list_changed","type":"text"}],"resultType":"complete"}}"#,
    );
    fx.nothing_else();
}

#[test]
fn modern_logs_only_with_a_log_level() {
    let mut fx = Fixture::dual();
    let result = r#"{"id":ID,"jsonrpc":"2.0","result":{"content":[{"text":"Logging tool completed","type":"text"}],"resultType":"complete"}}"#;
    fx.expect(
        request(
            json!(1),
            "tools/call",
            modern(json!({"name": "test_logging_tool"}), json!({})),
        ),
        &result.replace("ID", "1"),
    );
    let mut params = modern(json!({"name": "test_logging_tool"}), json!({}));
    params["_meta"]["io.modelcontextprotocol/logLevel"] = json!("warning");
    fx.expect(
        request(json!(2), "tools/call", params.clone()),
        &result.replace("ID", "2"),
    );
    params["_meta"]["io.modelcontextprotocol/logLevel"] = json!("debug");
    fx.send(&request(json!(3), "tools/call", params));
    assert_eq!(
        fx.line(),
        r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"test_logging_tool ran","level":"info","logger":"conformance-server"}}"#
    );
    assert_eq!(fx.line(), result.replace("ID", "3"));
    fx.nothing_else();
}

#[test]
fn legacy_mode_refuses_the_2026_envelope_until_initialised() {
    let mut fx = Fixture::legacy();
    let not_found =
        r#"{"error":{"code":-32601,"message":"Method not found"},"id":ID,"jsonrpc":"2.0"}"#;
    fx.expect(
        request(json!(1), "server/discover", modern(json!({}), all_caps())),
        &not_found.replace("ID", "1"),
    );
    fx.expect(
        request(
            json!(2),
            "tools/call",
            modern(json!({"name": "test_simple_text"}), all_caps()),
        ),
        &not_found.replace("ID", "2"),
    );
    fx.send(&request(
        json!(3),
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "t", "version": "1"}}),
    ));
    assert_eq!(fx.json()["result"]["protocolVersion"], "2025-11-25");
    fx.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    // Still no such method; but the envelope is now ignored, as a legacy server does.
    fx.expect(
        request(json!(4), "server/discover", modern(json!({}), all_caps())),
        &not_found.replace("ID", "4"),
    );
    fx.expect(
        request(json!(5), "tools/call", modern(json!({"name": "test_simple_text"}), all_caps())),
        r#"{"id":5,"jsonrpc":"2.0","result":{"content":[{"text":"This is a simple text response for testing.","type":"text"}]}}"#,
    );
    fx.expect(
        request(
            json!(6),
            "resources/read",
            json!({"uri": "test://nonexistent-resource-for-conformance-testing"}),
        ),
        r#"{"error":{"code":-32002,"data":{"uri":"test://nonexistent-resource-for-conformance-testing"},"message":"Resource not found: test://nonexistent-resource-for-conformance-testing"},"id":6,"jsonrpc":"2.0"}"#,
    );
    fx.nothing_else();
}

#[test]
fn legacy_mode_asks_with_the_input_key_as_request_id() {
    let mut fx = Fixture::legacy();
    let call = |id: u32| {
        request(
            json!(id),
            "tools/call",
            json!({"name": "test_input_required_result_elicitation"}),
        )
    };
    let ask = r#"{"id":"ID","jsonrpc":"2.0","method":"elicitation/create","params":{"message":"What is your name?","requestedSchema":{"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"}}}"#;
    fx.send(&call(1));
    assert_eq!(fx.line(), ask.replace("ID", "user_name"));
    // A second call while the first key is outstanding gets a suffixed id.
    fx.send(&call(2));
    assert_eq!(fx.line(), ask.replace("ID", "user_name-2"));
    fx.send(&json!({"jsonrpc": "2.0", "id": "user_name-2",
                    "result": {"action": "accept", "content": {"name": "Bob"}}}));
    assert_eq!(
        fx.line(),
        r#"{"id":2,"jsonrpc":"2.0","result":{"content":[{"text":"Hello, Bob!","type":"text"}]}}"#
    );
    fx.send(&json!({"jsonrpc": "2.0", "id": "user_name",
                    "result": {"action": "accept", "content": {"name": "Alice"}}}));
    assert_eq!(
        fx.line(),
        r#"{"id":1,"jsonrpc":"2.0","result":{"content":[{"text":"Hello, Alice!","type":"text"}]}}"#
    );
    fx.nothing_else();
}

#[test]
fn legacy_multi_round_asks_step2_after_step1() {
    let mut fx = Fixture::legacy();
    fx.send(&request(
        json!(1),
        "tools/call",
        json!({"name": "test_input_required_result_multi_round"}),
    ));
    let first = fx.json();
    assert_eq!(
        (&first["id"], &first["method"]),
        (&json!("step1"), &json!("elicitation/create"))
    );
    fx.send(&json!({"jsonrpc": "2.0", "id": "step1",
                    "result": {"action": "accept", "content": {"name": "Ann"}}}));
    let second = fx.json();
    assert_eq!(
        (&second["id"], &second["method"]),
        (&json!("step2"), &json!("elicitation/create"))
    );
    fx.send(&json!({"jsonrpc": "2.0", "id": "step2",
                    "result": {"action": "accept", "content": {"color": "teal"}}}));
    assert_eq!(
        fx.line(),
        r#"{"id":1,"jsonrpc":"2.0","result":{"content":[{"text":"Hello, Ann! Your favorite color is teal.","type":"text"}]}}"#
    );
    fx.nothing_else();
}
