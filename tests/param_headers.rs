//! `Mcp-Param-{Name}` headers on `/mcp` end to end (MCP 2026-07-28,
//! streamable-http.mdx §Custom Headers from Tool Parameters, §Server
//! Validation; design d.6): the real binary serving the conformance fixture
//! (`tests/conformance/server/`, tools `test_param_header` and
//! `test_param_header_types`), with a handshake-era child the gateway
//! translates for and with a 2026-07-28 child. The gateway checks a
//! `tools/call`'s headers against the `x-mcp-header` annotations of the
//! last `tools/list` result it relayed; rejected calls get 400 and -32020
//! with the request's id, from the gateway.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{conformance_server, post, Gateway, Response, Streamable};
use serde_json::{json, Value};

/// The gateway with `--upstreamProtocol upstream`, its fixture in `era`
/// (`legacy`: handshake-era only, so the gateway translates; `dual`: it
/// answers 2026-07-28 requests itself).
fn gateway(upstream: &str, era: &str) -> Gateway {
    let server = conformance_server();
    Gateway::start_with_env(
        &[
            "--stdio",
            &server,
            "--outputTransport",
            "streamableHttp",
            "--upstreamProtocol",
            upstream,
        ],
        &[("CONFORMANCE_FIXTURE_ERA", era)],
    )
}

/// A 2026-07-28 POST of `method` with `params` (plus `_meta`), the
/// standard headers and `extra` header lines (each ending CRLF).
fn modern(gw: &Gateway, id: u64, method: &str, mut params: Value, extra: &str) -> Response {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .map(|name| format!("Mcp-Name: {name}\r\n"))
        .unwrap_or_default();
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
    let headers = format!(
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\n{name}{extra}"
    );
    gw.request(&post("/mcp", &body, &headers))
}

fn call(gw: &Gateway, id: u64, tool: &str, arguments: Value, extra: &str) -> Response {
    modern(
        gw,
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        extra,
    )
}

/// Asserts a 200 whose result is the tool's one text `text`.
fn assert_text(response: &Response, id: u64, text: &str) {
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["id"], json!(id), "{body}");
    assert_eq!(body["result"]["resultType"], json!("complete"), "{body}");
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": text}]),
        "{body}"
    );
}

/// Asserts the gateway's 400 -32020 for `id`, exactly.
fn assert_mismatch(response: &Response, id: u64, message: &str) {
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": -32020,
            "message": format!("Header mismatch: {message}")
        }})
    );
}

const DIFFER: &str = "header value does not match the request body";
const MISSING: &str = "header is missing but the value is in the request body";

#[test]
fn param_headers_are_checked_against_the_listed_annotations() {
    for (upstream, era) in [("legacy", "legacy"), ("auto", "dual")] {
        let gw = gateway(upstream, era);
        let region = json!({"region": "us-west1"});

        // Never listed: nothing to check against, the call goes through.
        let response = call(&gw, 1, "test_param_header", region.clone(), "");
        assert_text(&response, 1, "Region: us-west1");

        let listed = modern(&gw, 2, "tools/list", json!({}), "");
        assert_eq!(listed.status, 200, "{upstream}: {}", listed.text());
        let tools = listed.json()["result"]["tools"].clone();
        assert!(
            tools
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "test_param_header"),
            "{tools}"
        );

        // Matching (header names are case-insensitive).
        let ok = call(
            &gw,
            3,
            "test_param_header",
            region.clone(),
            "Mcp-Param-Region: us-west1\r\n",
        );
        assert_text(&ok, 3, "Region: us-west1");
        let lower = call(
            &gw,
            4,
            "test_param_header",
            region.clone(),
            "mcp-param-region: us-west1\r\n",
        );
        assert_text(&lower, 4, "Region: us-west1");
        // Mismatching, missing, given twice.
        let wrong = call(
            &gw,
            5,
            "test_param_header",
            region.clone(),
            "Mcp-Param-Region: us-east1\r\n",
        );
        assert_mismatch(&wrong, 5, &format!("Mcp-Param-Region: {DIFFER}"));
        let missing = call(&gw, 6, "test_param_header", region.clone(), "");
        assert_mismatch(&missing, 6, &format!("Mcp-Param-Region: {MISSING}"));
        let twice = call(
            &gw,
            7,
            "test_param_header",
            region.clone(),
            "Mcp-Param-Region: us-west1\r\nMcp-Param-Region: us-west1\r\n",
        );
        assert_mismatch(&twice, 7, "Mcp-Param-Region given twice");
        // An unknown Mcp-Param-* header is ignored.
        let unknown = call(
            &gw,
            8,
            "test_param_header",
            region.clone(),
            "Mcp-Param-Region: us-west1\r\nMcp-Param-Tenant: acme\r\n",
        );
        assert_text(&unknown, 8, "Region: us-west1");

        // Base64: the decoded value is compared; a sentinel that is not
        // canonical Base64 is refused; a value that is no sentinel is literal.
        let hello = json!({"region": "Hello, 世界"});
        let encoded = call(
            &gw,
            9,
            "test_param_header",
            hello,
            "Mcp-Param-Region: =?base64?SGVsbG8sIOS4lueVjA==?=\r\n",
        );
        assert_text(&encoded, 9, "Region: Hello, 世界");
        let padding = call(
            &gw,
            10,
            "test_param_header",
            json!({"region": "Hello"}),
            "Mcp-Param-Region: =?base64?SGVsbG8?=\r\n",
        );
        assert_mismatch(&padding, 10, "Mcp-Param-Region: header value is malformed");
        let literal = call(
            &gw,
            11,
            "test_param_header",
            json!({"region": "=?base64?SGVsbG8="}),
            "Mcp-Param-Region: =?base64?SGVsbG8=\r\n",
        );
        assert_text(&literal, 11, "Region: =?base64?SGVsbG8=");

        // Integer (compared numerically), boolean, and a nested property.
        let types = "test_param_header_types";
        let args = json!({"count": 42, "verbose": true, "target": {"zone": "eu"}});
        let all = "Mcp-Param-Count: 42\r\nMcp-Param-Verbose: true\r\nMcp-Param-Zone: eu\r\n";
        let echoed = format!("Arguments: {args}");
        assert_text(&call(&gw, 12, types, args.clone(), all), 12, &echoed);
        let decimal = all.replace("Count: 42", "Count: 42.0");
        assert_text(&call(&gw, 13, types, args.clone(), &decimal), 13, &echoed);
        let other = all.replace("Count: 42", "Count: 43");
        assert_mismatch(
            &call(&gw, 14, types, args.clone(), &other),
            14,
            &format!("Mcp-Param-Count: {DIFFER}"),
        );
        let capital = all.replace("true", "True");
        assert_mismatch(
            &call(&gw, 15, types, args.clone(), &capital),
            15,
            &format!("Mcp-Param-Verbose: {DIFFER}"),
        );
        let no_zone = all.replace("Mcp-Param-Zone: eu\r\n", "");
        assert_mismatch(
            &call(&gw, 16, types, args.clone(), &no_zone),
            16,
            &format!("Mcp-Param-Zone: {MISSING}"),
        );
        // Absent or null values take no header; a header for one is refused.
        let sparse = json!({"count": null, "note": "n"});
        assert_text(
            &call(&gw, 17, types, sparse.clone(), ""),
            17,
            &format!("Arguments: {sparse}"),
        );
        assert_mismatch(
            &call(&gw, 18, types, sparse, "Mcp-Param-Count: 1\r\n"),
            18,
            "Mcp-Param-Count: header is present but the value is not in the request body",
        );
        drop(gw);
    }
}

#[test]
fn handshake_era_requests_are_not_checked() {
    let gw = gateway("legacy", "legacy");
    let client = Streamable {
        version: Some("2025-11-25".into()),
        ..Streamable::new(&gw)
    };
    // A handshake-era client lists the tools: the annotations are learned.
    let listed = client.call(json!(1), "tools/list", json!({}));
    assert_eq!(listed.len(), 1, "{listed:?}");
    // Its own calls carry no Mcp-Param-* obligation (2025-11-25 has none).
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_param_header","arguments":{"region":"us-west1"}}}"#;
    let (head, events) = client.post_raw(body, "Mcp-Param-Region: elsewhere\r\n");
    assert_eq!(head.status, 200, "{}", head.text());
    assert_eq!(
        events.unwrap().rest(),
        [json!({"jsonrpc": "2.0", "id": 2, "result": {
            "content": [{"type": "text", "text": "Region: us-west1"}]
        }})]
    );
    // A modern client is checked against what that listing taught.
    let modern_call = call(
        &gw,
        3,
        "test_param_header",
        json!({"region": "us-west1"}),
        "",
    );
    assert_mismatch(&modern_call, 3, &format!("Mcp-Param-Region: {MISSING}"));
}
