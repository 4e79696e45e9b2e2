//! `x-mcp-header` annotations learned from the `tools/list` results the
//! relay carries (design d.6).

use super::*;
use crate::mcp::x_mcp_header::{Invalid, Param, ParamType};
use crate::relay::params::{MAX_BYTES, MAX_TOOLS};

fn list_request(id: u32, cursor: Option<&str>) -> String {
    match cursor {
        Some(cursor) => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{"cursor":"{cursor}"}}}}"#
        ),
        None => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#),
    }
}

/// A tool whose one string property `prop` is mirrored into `Mcp-Param-{header}`.
fn annotated(name: &str, prop: &str, header: &str) -> String {
    format!(
        r#"{{"name":"{name}","inputSchema":{{"type":"object","properties":{{"{prop}":{{"type":"string","x-mcp-header":"{header}"}}}}}}}}"#
    )
}

fn plain(name: &str) -> String {
    format!(
        r#"{{"name":"{name}","inputSchema":{{"type":"object","properties":{{"q":{{"type":"string"}}}}}}}}"#
    )
}

/// Sends a `tools/list` on `A` and answers it with `tools` (and `nextCursor`
/// when given); returns what `A` received.
fn list(
    relay: &mut Relay,
    cursor: Option<&str>,
    tools: &[String],
    next: Option<&str>,
) -> Vec<String> {
    send(relay, A, &list_request(7, cursor)).unwrap();
    let gateway_id = sent_id(relay);
    let next = next.map_or(String::new(), |n| format!(r#","nextCursor":"{n}""#));
    child(
        relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":{gateway_id},"result":{{"tools":[{}]{next}}}}}"#,
            tools.join(",")
        ),
    );
    frames(relay, A)
}

/// The id of the one line waiting for the child.
fn sent_id(relay: &mut Relay) -> String {
    let sent = to_child(relay);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = parse_message(sent[0].as_bytes()).unwrap();
    String::from_utf8(message.id.unwrap().as_bytes().to_vec()).unwrap()
}

fn param(path: &[&str], header: &str, ty: ParamType) -> Param {
    Param {
        path: path.iter().map(|p| (*p).to_owned()).collect(),
        header: header.to_owned(),
        ty,
    }
}

fn region() -> Vec<Param> {
    vec![param(&["region"], "Region", ParamType::String)]
}

#[test]
fn a_listing_teaches_the_annotated_tools_and_reaches_the_client_untouched() {
    let mut relay = initialised(Clients::Separate, &[A]);
    assert_eq!(relay.param_headers("execute_sql"), None, "never listed");
    let typed = r#"{"name":"typed","inputSchema":{"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"N"},"b":{"type":"boolean","x-mcp-header":"B"},"o":{"type":"object","properties":{"z":{"type":"string","x-mcp-header":"Zone"}}}}}}"#;
    let tools = [
        annotated("execute_sql", "region", "Region"),
        plain("echo"),
        typed.to_owned(),
        r#"{"name":"bare"}"#.to_owned(),
    ];
    let got = list(&mut relay, None, &tools, None);
    assert_eq!(
        got,
        [format!(
            r#"{{"jsonrpc":"2.0","id":7,"result":{{"tools":[{}]}}}}"#,
            tools.join(",")
        )]
    );
    assert_eq!(relay.param_headers("execute_sql"), Some(&region()[..]));
    assert_eq!(
        relay.param_headers("typed"),
        Some(
            &[
                param(&["b"], "B", ParamType::Boolean),
                param(&["n"], "N", ParamType::Integer),
                param(&["o", "z"], "Zone", ParamType::String),
            ][..]
        )
    );
    assert_eq!(relay.param_headers("echo"), None, "nothing to check");
    assert_eq!(relay.param_headers("bare"), None);
    assert_eq!(reports(&mut relay), []);
}

#[test]
fn a_first_page_replaces_and_later_pages_merge() {
    let mut relay = initialised(Clients::Separate, &[A]);
    list(
        &mut relay,
        None,
        &[annotated("a", "region", "Region")],
        Some("p2"),
    );
    list(
        &mut relay,
        Some("p2"),
        &[annotated("b", "zone", "Zone")],
        None,
    );
    assert_eq!(relay.param_headers("a"), Some(&region()[..]));
    let zone = [param(&["zone"], "Zone", ParamType::String)];
    assert_eq!(relay.param_headers("b"), Some(&zone[..]));
    // A later page naming a tool again replaces its entry (here: no
    // annotation left).
    list(&mut relay, Some("p3"), &[plain("a")], None);
    assert_eq!(relay.param_headers("a"), None);
    assert_eq!(relay.param_headers("b"), Some(&zone[..]));
    // A new listing starts over.
    list(
        &mut relay,
        None,
        &[annotated("c", "region", "Region")],
        None,
    );
    assert_eq!(relay.param_headers("b"), None, "not in the new listing");
    assert_eq!(relay.param_headers("c"), Some(&region()[..]));
    // `cursor: null` asks for the first page.
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"cursor":null}}"#,
    )
    .unwrap();
    let id = sent_id(&mut relay);
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{}]}}}}"#,
            plain("d")
        ),
    );
    assert_eq!(relay.param_headers("c"), None);
}

#[test]
fn an_invalid_tool_is_not_checked_and_reported_once() {
    let mut relay = initialised(Clients::Separate, &[A]);
    let nested = r#"{"name":"nested","inputSchema":{"type":"object","properties":{"xs":{"type":"array","items":{"type":"string","x-mcp-header":"X"}}}}}"#;
    let number = r#"{"name":"number","inputSchema":{"properties":{"n":{"type":"number","x-mcp-header":"N"}}}}"#;
    let tools = [
        nested.to_owned(),
        number.to_owned(),
        annotated("ok", "region", "Region"),
    ];
    list(&mut relay, None, &tools, None);
    assert_eq!(relay.param_headers("nested"), None);
    assert_eq!(relay.param_headers("number"), None);
    assert_eq!(relay.param_headers("ok"), Some(&region()[..]));
    assert_eq!(
        reports(&mut relay),
        [
            Report::InvalidToolSchema {
                tool: Some("nested".into()),
                reason: Invalid::Placement
            },
            Report::InvalidToolSchema {
                tool: Some("number".into()),
                reason: Invalid::Type
            },
        ]
    );
    // Listed again, unchanged: no new report; fixed, then broken again: one.
    list(&mut relay, None, &tools, None);
    assert_eq!(reports(&mut relay), []);
    list(&mut relay, None, &[annotated("nested", "a", "A")], None);
    assert_eq!(reports(&mut relay), []);
    list(&mut relay, None, &tools, None);
    assert_eq!(reports(&mut relay).len(), 2);
    assert_eq!(relay.param_headers("nested"), None);
}

#[test]
fn an_unreadable_listing_changes_nothing_and_is_reported_once() {
    let mut relay = initialised(Clients::Separate, &[A]);
    list(
        &mut relay,
        None,
        &[annotated("a", "region", "Region")],
        None,
    );
    for _ in 0..2 {
        send(&mut relay, A, &list_request(7, None)).unwrap();
        let id = sent_id(&mut relay);
        child(
            &mut relay,
            &format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":{{"a":1}}}}}}"#),
        );
    }
    assert_eq!(
        reports(&mut relay),
        [Report::InvalidToolSchema {
            tool: None,
            reason: Invalid::Json
        }]
    );
    assert_eq!(relay.param_headers("a"), Some(&region()[..]));
}

#[test]
fn only_tools_list_answers_teach() {
    let mut relay = initialised(Clients::Separate, &[A]);
    // A result that looks like a listing, answering another method.
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":2,"result":{{"tools":[{}]}}}}"#,
            annotated("a", "region", "Region")
        ),
    );
    // An error answer to a listing.
    send(&mut relay, A, &list_request(3, None)).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"no"}}"#,
    );
    assert_eq!(frames(&mut relay, A).len(), 2);
    assert_eq!(relay.param_headers("a"), None);
    // The answer to an id the listing never had teaches nothing either.
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":3,"result":{{"tools":[{}]}}}}"#,
            annotated("a", "region", "Region")
        ),
    );
    assert_eq!(relay.param_headers("a"), None);
}

#[test]
fn a_modern_clients_listing_teaches_too() {
    let mut relay = relay(Clients::Anonymous);
    relay.open_session(A, false);
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
    send(
        &mut relay,
        A,
        &format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{{{meta}}}}}"#),
    )
    .unwrap();
    // The relay initialises the handshake-era child first (gateway id 1).
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}}"#,
    );
    assert_eq!(to_child(&mut relay).len(), 2, "initialized + the listing");
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":2,"result":{{"tools":[{}]}}}}"#,
            annotated("a", "region", "Region")
        ),
    );
    let got = frames(&mut relay, A);
    assert!(got[0].contains(r#""resultType":"complete""#), "{got:?}");
    assert_eq!(relay.param_headers("a"), Some(&region()[..]));
}

#[test]
fn the_table_is_bounded() {
    let mut relay = initialised(Clients::Separate, &[A]);
    let tools: Vec<String> = (0..=MAX_TOOLS)
        .map(|i| annotated(&format!("t{i}"), "region", "Region"))
        .collect();
    list(&mut relay, None, &tools, None);
    assert_eq!(
        reports(&mut relay),
        [Report::ToolParamsFull { tools: MAX_TOOLS }]
    );
    let last = MAX_TOOLS - 1;
    assert_eq!(
        relay.param_headers(&format!("t{last}")),
        Some(&region()[..])
    );
    assert_eq!(relay.param_headers(&format!("t{}", MAX_TOOLS)), None);
    // Names beyond the byte bound are not kept either.
    let long = "n".repeat(MAX_BYTES);
    list(
        &mut relay,
        None,
        &[annotated(&long, "region", "Region")],
        None,
    );
    assert_eq!(relay.param_headers(&long), None);
    assert_eq!(
        relay.param_headers("t0"),
        None,
        "a first page replaced the table"
    );
}

#[test]
fn listings_in_flight_are_bounded_and_cancelled_ones_pruned() {
    let mut relay = initialised(Clients::Separate, &[A]);
    // 64 listings cancelled: their entries are pruned when the 65th comes.
    for id in 0..64 {
        send(&mut relay, A, &list_request(id, None)).unwrap();
        send(
            &mut relay,
            A,
            &format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#
            ),
        )
        .unwrap();
    }
    to_child(&mut relay);
    let got = list(
        &mut relay,
        None,
        &[annotated("a", "region", "Region")],
        None,
    );
    assert_eq!(got.len(), 1);
    assert_eq!(relay.param_headers("a"), Some(&region()[..]));
}
