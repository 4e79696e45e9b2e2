//! The Streamable HTTP→stdio bridge across the MCP eras (issue 15 item 1;
//! design/2026-07-28.md b.3, c.3, c.7): a legacy and a 2026-07-28 stdio
//! client, each in front of a 2026-07-28-only server and of a handshake-era
//! one. The servers are our forward gateway in front of the conformance
//! fixture (`CONFORMANCE_FIXTURE_ERA=modern|legacy`); the gateway checks the
//! `Mcp-*` headers the bridge sends (400 on a mismatch). The bridge finds a
//! modern server with its `server/discover` probe; it is kept on the
//! handshake era with `--upstreamProtocol legacy` (the forward gateway
//! itself speaks both eras).
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{conformance_server, post, tool_text, Gateway, WAIT};
use serde_json::{json, Value};

/// The bridge, spoken to over its stdin/stdout.
struct Local {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Local {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_supergateway"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|err| {
                    panic!("stdout carried a non-JSON line ({err}): {line:?}")
                });
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            stdin,
            lines,
            log,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&self) -> Value {
        self.lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no message on stdout; log:\n{}", self.log()))
    }

    /// Sends a request and returns the next message, which must be its
    /// answer (nothing else may come first).
    fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        let answer = self.recv();
        assert_eq!(answer["id"], id, "{answer}\nlog:\n{}", self.log());
        assert!(answer.get("method").is_none(), "{answer}");
        answer
    }

    /// Nothing more arrives on stdout (within a short grace: the absence
    /// of a message is what is checked, not a synchronisation).
    fn expect_nothing(&self) {
        if let Ok(extra) = self.lines.recv_timeout(Duration::from_millis(300)) {
            panic!("unexpected message on stdout: {extra}");
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our forward gateway in front of the conformance fixture of `era`.
fn server(era: &str) -> Gateway {
    let fixture = conformance_server();
    Gateway::start_with_env(
        &["--stdio", &fixture, "--outputTransport", "streamableHttp"],
        &[("CONFORMANCE_FIXTURE_ERA", era)],
    )
}

fn bridge(gw: &Gateway, extra: &[&str]) -> Local {
    let url = format!("http://{}/mcp", gw.addr);
    let mut args = vec!["--streamableHttp", url.as_str()];
    args.extend_from_slice(extra);
    Local::start(&args)
}

/// A 2026-07-28 request's `_meta`.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}
    })
}

fn legacy_initialize(local: &mut Local) -> Value {
    let answer = local.call(
        json!(0),
        "initialize",
        json!({"protocolVersion":"2025-06-18","capabilities":{"elicitation":{},"sampling":{}},
            "clientInfo":{"name":"t","version":"1"}}),
    );
    local.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    answer
}

/// The server learns `test_param_header`'s `x-mcp-header` annotation
/// from a listing of its own client, so that from now on it refuses a call
/// without a matching `Mcp-Param-Region` (the bridge must send it).
fn teach_param_headers(gw: &Gateway) {
    let body = json!({"jsonrpc":"2.0","id":"direct","method":"tools/list",
        "params":{"_meta":modern_meta()}})
    .to_string();
    let response = gw.request(&post(
        "/mcp",
        &body,
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n",
    ));
    assert_eq!(response.status, 200, "{}", response.text());
    // and it does check: a call without the header is refused
    let call = json!({"jsonrpc":"2.0","id":"bare","method":"tools/call",
        "params":{"name":"test_param_header","arguments":{"region":"x"},"_meta":modern_meta()}})
    .to_string();
    let refused = gw.request(&post(
        "/mcp",
        &call,
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: test_param_header\r\n",
    ));
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], json!(-32020));
}

#[test]
fn legacy_client_of_a_modern_server() {
    let gw = server("modern");
    teach_param_headers(&gw);
    let mut local = bridge(&gw, &[]);
    // initialize is answered from the server's server/discover result
    let init = legacy_initialize(&mut local);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(
        init["result"]["serverInfo"]["name"], "supergateway-conformance-server",
        "{init}"
    );
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    // ping is answered by the bridge
    let pong = local.call(json!("p"), "ping", json!({}));
    assert_eq!(pong["result"], json!({}), "{pong}");
    let simple = local.call(
        json!(1),
        "tools/call",
        json!({"name":"test_simple_text","arguments":{}}),
    );
    assert_eq!(
        tool_text(&simple),
        "This is a simple text response for testing."
    );
    // Mcp-Name and Mcp-Param-Region (Base64 sentinel: not plain ASCII)
    let region = local.call(
        json!("r"),
        "tools/call",
        json!({"name":"test_param_header","arguments":{"region":"zürich 1"}}),
    );
    assert_eq!(tool_text(&region), "Region: zürich 1", "{region}");
    // an InputRequiredResult becomes an elicitation request to the client
    local.send(&json!({"jsonrpc":"2.0","id":"e","method":"tools/call",
        "params":{"name":"test_input_required_result_elicitation","arguments":{}}}));
    let ask = local.recv();
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    assert_eq!(ask["params"]["message"], "What is your name?", "{ask}");
    assert!(ask["id"].is_string(), "{ask}");
    local.send(&json!({"jsonrpc":"2.0","id":ask["id"],
        "result":{"action":"accept","content":{"name":"Ada"}}}));
    let done = local.recv();
    assert_eq!(done["id"], json!("e"), "{done}");
    assert_eq!(tool_text(&done), "Hello, Ada!");
    local.expect_nothing();
    assert!(local.log().contains("speaks 2026-07-28"), "{}", local.log());
}

#[test]
fn modern_client_of_a_modern_server() {
    let gw = server("modern");
    teach_param_headers(&gw);
    let mut local = bridge(&gw, &[]);
    let discover = local.call(json!(1), "server/discover", json!({"_meta":modern_meta()}));
    let versions = discover["result"]["supportedVersions"].as_array().unwrap();
    assert!(versions.contains(&json!("2026-07-28")), "{discover}");
    // a call of a tool nobody listed through the bridge: it lists the
    // tools itself (not shown here) to send Mcp-Param-Region
    let region = local.call(
        json!("r"),
        "tools/call",
        json!({"name":"test_param_header","arguments":{"region":"us-west1"},"_meta":modern_meta()}),
    );
    assert_eq!(region["result"]["resultType"], "complete", "{region}");
    assert_eq!(tool_text(&region), "Region: us-west1");
    // input rounds pass through: the client answers and retries
    let first = local.call(
        json!(2),
        "tools/call",
        json!({"name":"test_input_required_result_elicitation","arguments":{},"_meta":modern_meta()}),
    );
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let ask = &first["result"]["inputRequests"]["user_name"];
    assert_eq!(ask["method"], "elicitation/create", "{first}");
    let done = local.call(
        json!(3),
        "tools/call",
        json!({"name":"test_input_required_result_elicitation","arguments":{},
            "inputResponses":{"user_name":{"action":"accept","content":{"name":"Bo"}}},
            "_meta":modern_meta()}),
    );
    assert_eq!(tool_text(&done), "Hello, Bo!", "{done}");
    // a modern error passes with its code
    let missing = local.call(
        json!(4),
        "resources/read",
        json!({"uri":"test://nope","_meta":modern_meta()}),
    );
    assert_eq!(missing["error"]["code"], json!(-32602), "{missing}");
    local.expect_nothing();
}

#[test]
fn legacy_client_of_a_legacy_server() {
    let gw = server("legacy");
    let mut local = bridge(&gw, &["--upstreamProtocol", "legacy"]);
    let init = legacy_initialize(&mut local);
    assert_eq!(
        init["result"]["serverInfo"]["name"], "supergateway-conformance-server",
        "{init}"
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    let simple = local.call(
        json!(1),
        "tools/call",
        json!({"name":"test_simple_text","arguments":{}}),
    );
    assert_eq!(
        tool_text(&simple),
        "This is a simple text response for testing."
    );
    assert!(simple["result"].get("resultType").is_none(), "{simple}");
    // the server's own request reaches the client and its answer goes back
    local.send(&json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"test_sampling","arguments":{"prompt":"hi"}}}));
    let ask = local.recv();
    assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
    local.send(&json!({"jsonrpc":"2.0","id":ask["id"],
        "result":{"role":"assistant","content":{"type":"text","text":"sure"},"model":"m"}}));
    let done = local.recv();
    assert_eq!(done["id"], json!(2), "{done}");
    assert_eq!(tool_text(&done), "LLM response: sure");
    local.expect_nothing();
}

#[test]
fn modern_client_of_a_legacy_server() {
    let gw = server("legacy");
    let mut local = bridge(&gw, &["--upstreamProtocol", "legacy"]);
    // server/discover is answered from the InitializeResult of the
    // bridge's own initialize
    let discover = local.call(json!(1), "server/discover", json!({"_meta":modern_meta()}));
    let result = &discover["result"];
    assert_eq!(result["resultType"], "complete", "{discover}");
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{discover}"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "supergateway-conformance-server",
        "{discover}"
    );
    // results are completed as the revision requires
    let tools = local.call(json!(2), "tools/list", json!({"_meta":modern_meta()}));
    assert_eq!(tools["result"]["resultType"], "complete", "{tools}");
    assert_eq!(tools["result"]["ttlMs"], json!(0), "{tools}");
    assert_eq!(tools["result"]["cacheScope"], "private", "{tools}");
    let simple = local.call(
        json!(3),
        "tools/call",
        json!({"name":"test_simple_text","arguments":{},"_meta":modern_meta()}),
    );
    assert_eq!(simple["result"]["resultType"], "complete", "{simple}");
    assert_eq!(
        tool_text(&simple),
        "This is a simple text response for testing."
    );
    local.expect_nothing();
}

/// A 2026-07-28 server on a thread that answers `server/discover` and
/// `tools/list` (one valid tool, one whose `x-mcp-header` sits on a
/// `number` property: invalid), and records the methods it was sent.
fn listing_server() -> (String, Arc<Mutex<Vec<String>>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) =
                            line.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = value.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let method = request["method"].as_str().unwrap_or_default().to_owned();
                    log.lock().unwrap().push(method.clone());
                    let result = match method.as_str() {
                        "server/discover" => json!({"resultType":"complete",
                            "supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},
                            "_meta":{"io.modelcontextprotocol/serverInfo":{"name":"lister","version":"1"}}}),
                        "tools/list" => json!({"resultType":"complete","tools":[
                            {"name":"ok_tool","inputSchema":{"type":"object","properties":{
                                "r":{"type":"string","x-mcp-header":"R"}}}},
                            {"name":"bad_tool","inputSchema":{"type":"object","properties":{
                                "n":{"type":"number","x-mcp-header":"N"}}}}]}),
                        _ => {
                            let answer = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
                            if stream.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                            continue;
                        }
                    };
                    let body =
                        json!({"jsonrpc":"2.0","id":request["id"],"result":result}).to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/mcp"), seen)
}

#[test]
fn tools_with_invalid_header_annotations_are_left_out() {
    let (url, seen) = listing_server();
    // a 2026-07-28 client
    let mut local = Local::start(&["--streamableHttp", &url]);
    let tools = local.call(json!(1), "tools/list", json!({"_meta":modern_meta()}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ok_tool"], "{tools}");
    local.expect_nothing();
    assert!(
        local
            .log()
            .contains("left tool \"bad_tool\" out of tools/list"),
        "{}",
        local.log()
    );
    // a legacy client
    let mut legacy = Local::start(&["--streamableHttp", &url]);
    let init = legacy_initialize(&mut legacy);
    assert_eq!(init["result"]["serverInfo"]["name"], "lister", "{init}");
    let tools = legacy.call(json!("t"), "tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ok_tool"], "{tools}");
    legacy.expect_nothing();
    // neither bridge sent initialize
    assert!(!seen.lock().unwrap().iter().any(|m| m == "initialize"));
}

#[test]
fn modern_client_through_the_sse_bridge() {
    // HTTP+SSE is handshake-era: the bridge translates a 2026-07-28 client.
    let fixture = conformance_server();
    let gw = Gateway::start_with_env(
        &["--stdio", &fixture, "--outputTransport", "sse"],
        &[("CONFORMANCE_FIXTURE_ERA", "legacy")],
    );
    let url = format!("http://{}/sse", gw.addr);
    let mut local = Local::start(&["--sse", &url]);
    let discover = local.call(json!(1), "server/discover", json!({"_meta":modern_meta()}));
    assert_eq!(discover["result"]["resultType"], "complete", "{discover}");
    assert_eq!(
        discover["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "supergateway-conformance-server",
        "{discover}"
    );
    let tools = local.call(json!(2), "tools/list", json!({"_meta":modern_meta()}));
    assert_eq!(tools["result"]["cacheScope"], "private", "{tools}");
    let simple = local.call(
        json!(3),
        "tools/call",
        json!({"name":"test_simple_text","arguments":{},"_meta":modern_meta()}),
    );
    assert_eq!(simple["result"]["resultType"], "complete", "{simple}");
    assert_eq!(
        tool_text(&simple),
        "This is a simple text response for testing."
    );
    local.expect_nothing();
}
