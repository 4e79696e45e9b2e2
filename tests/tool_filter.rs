//! Tool, prompt and resource filtering end to end (issue 17): the real
//! binary with `--denyTool`/`--allowTool`/`--denyResource`, the fixture
//! server as its child, over stateless Streamable HTTP and SSE.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{fixture, tool_text, Gateway, SseClient, Streamable};
use serde_json::{json, Value};

const LATEST: &str = "2025-11-25";

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str()];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

fn names(result: &Value, list: &str, key: &str) -> Vec<String> {
    result["result"][list]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
        .iter()
        .map(|entry| entry[key].as_str().unwrap().to_owned())
        .collect()
}

/// The fixture's tools, in its order (see its header).
const TOOLS: [&str; 13] = [
    "echo",
    "add",
    "progress",
    "sample",
    "notify",
    "announce",
    "sleep",
    "crash",
    "stderr",
    "init_count",
    "big",
    "spew",
    "argv",
];

#[test]
fn stateless_streamable_hides_and_refuses_denied_tools() {
    let gw = gateway(&[
        "--outputTransport",
        "streamableHttp",
        "--denyTool",
        "crash",
        "--denyTool",
        "s?e*",
        "--denyResource",
        "test://",
    ]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let listed = client.call(json!(1), "tools/list", json!({}));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let want: Vec<&str> = TOOLS
        .into_iter()
        .filter(|name| !["crash", "sleep", "spew"].contains(name))
        .collect();
    assert_eq!(names(&listed[0], "tools", "name"), want);
    // The refused call is answered by the gateway: had it reached the
    // child, the child would have exited and the echo after it failed.
    let refused = client.call(
        json!("c"),
        "tools/call",
        json!({"name":"crash","arguments":{}}),
    );
    assert_eq!(
        refused,
        [json!({"jsonrpc":"2.0","id":"c","error":{"code":-32602,"message":"Unknown tool: crash"}})]
    );
    let echoed = client.call(
        json!(2),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"still here"}}),
    );
    assert_eq!(tool_text(echoed.last().unwrap()), "still here");
    // Resources by URI prefix.
    let resources = client.call(json!(3), "resources/list", json!({}));
    assert_eq!(
        resources,
        [json!({"jsonrpc":"2.0","id":3,"result":{"resources":[]}})]
    );
    let read = client.call(json!(4), "resources/read", json!({"uri":"test://static"}));
    assert_eq!(
        read,
        [
            json!({"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"Resource not found: test://static"}})
        ]
    );
    // Prompts have no rule: the fixture's listing passes as it is.
    let prompts = client.call(json!(5), "prompts/list", json!({}));
    assert_eq!(
        prompts,
        [json!({"jsonrpc":"2.0","id":5,"result":{"prompts":[]}})]
    );
}

#[test]
fn sse_shows_only_allowed_tools_and_refuses_the_rest() {
    let gw = gateway(&[
        "--allowTool",
        "echo",
        "--allowTool",
        "init_*",
        "--allowTool",
        "crash",
        "--denyTool",
        "crash",
    ]);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let listed = client.call(json!(1), "tools/list", json!({}));
    assert_eq!(names(&listed, "tools", "name"), ["echo", "init_count"]);
    for (id, tool) in [(2, "crash"), (3, "add")] {
        let refused = client.call(
            json!(id),
            "tools/call",
            json!({"name":tool,"arguments":{"a":1,"b":2}}),
        );
        assert_eq!(
            refused,
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32602,"message":format!("Unknown tool: {tool}")}})
        );
    }
    let echoed = client.call(
        json!(4),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"hi"}}),
    );
    assert_eq!(tool_text(&echoed), "hi");
    client.expect_nothing();
}

#[test]
fn bad_patterns_are_refused_at_startup() {
    let fixture = fixture();
    let output = std::process::Command::new(common::binary())
        .args(["--stdio", fixture.as_str(), "--denyTool", ""])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "supergateway: --allowTool and --denyTool: the pattern is empty \
         (at most 256 patterns of 512 bytes, no control characters)\n"
    );
}

/// The reverse bridge (Streamable HTTP→stdio) filters what it relays from
/// the remote server: here an unfiltered forward gateway over the fixture.
#[test]
fn the_reverse_bridge_filters_too() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    let remote = gateway(&["--outputTransport", "streamableHttp"]);
    let url = format!("http://{}/mcp", remote.addr);
    let mut local = Command::new(common::binary())
        .args(["--streamableHttp", &url, "--denyTool", "crash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = local.stdin.take().unwrap();
    let stdout = local.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    let mut call = |message: Value| {
        writeln!(stdin, "{message}").unwrap();
        lines.recv_timeout(common::WAIT).unwrap()
    };
    call(
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":LATEST,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
    );
    let listed = call(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}));
    let listed = names(&listed, "tools", "name");
    assert!(!listed.iter().any(|name| name == "crash"), "{listed:?}");
    assert_eq!(listed.len(), TOOLS.len() - 1, "{listed:?}");
    assert_eq!(
        call(
            json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash","arguments":{}}})
        ),
        json!({"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown tool: crash"}})
    );
    let echoed = call(
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"via bridge"}}}),
    );
    assert_eq!(tool_text(&echoed), "via bridge");
    let _ = local.kill();
    let _ = local.wait();
}

/// `resources/subscribe` and `completion/complete` naming denied targets
/// are answered like the reads and gets of them; allowed ones reach the
/// fixture, which knows neither method (-32601 shows they got there).
#[test]
fn subscribe_and_completion_of_denied_targets_are_refused() {
    let gw = gateway(&[
        "--outputTransport",
        "streamableHttp",
        "--denyResource",
        "test://",
        "--denyPrompt",
        "admin*",
    ]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let refused = |id: u32, message: &str| {
        vec![json!({"jsonrpc":"2.0","id":id,"error":{"code":-32602,"message":message}})]
    };
    let unknown = |id: u32| {
        vec![json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}})]
    };
    assert_eq!(
        client.call(
            json!(1),
            "resources/subscribe",
            json!({"uri":"test://static"})
        ),
        refused(1, "Resource not found: test://static")
    );
    assert_eq!(
        client.call(
            json!(2),
            "completion/complete",
            json!({"ref":{"type":"ref/prompt","name":"admin_panel"},"argument":{"name":"a","value":""}})
        ),
        refused(2, "Unknown prompt: admin_panel")
    );
    assert_eq!(
        client.call(
            json!(3),
            "completion/complete",
            json!({"ref":{"type":"ref/resource","uri":"test://{name}"},"argument":{"name":"name","value":""}})
        ),
        refused(3, "Resource not found: test://{name}")
    );
    assert_eq!(
        client.call(json!(4), "resources/subscribe", json!({"uri":"file:///a"})),
        unknown(4)
    );
    assert_eq!(
        client.call(
            json!(5),
            "completion/complete",
            json!({"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}})
        ),
        unknown(5)
    );
}
