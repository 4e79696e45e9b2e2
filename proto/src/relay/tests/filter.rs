//! Tool, prompt and resource filtering in the relay (issue 17): refused
//! requests never reach the child, listings lose their denied entries and
//! keep everything else, in both eras.

use std::rc::Rc;

use super::*;
use crate::mcp::filter::{Filter, Rules};

const NONE: &[&str] = &[];

fn filter() -> Rc<Filter> {
    Rc::new(Filter {
        tools: Rules::globs(NONE, &["delete_*"]).unwrap(),
        prompts: Rules::globs(&["greet*"], NONE).unwrap(),
        resources: Rules::prefixes(NONE, &["secret://"]).unwrap(),
    })
}

fn filtered(clients: Clients) -> Relay {
    let mut relay = initialised(clients, &[A]);
    relay.set_filter(Some(filter()));
    relay
}

const CALL_DELETE: &str = r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"delete_all","arguments":{}}}"#;

#[test]
fn denied_requests_are_answered_here_and_never_reach_the_child() {
    let mut relay = filtered(Clients::Separate);
    assert_eq!(send(&mut relay, A, CALL_DELETE), Ok(1));
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"admin"}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"secret://key"}}"#,
    )
    .unwrap();
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"c1","error":{"code":-32602,"message":"Unknown tool: delete_all"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown prompt: admin"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Resource not found: secret://key"}}"#,
        ]
    );
    // Allowed ones go through as they are.
    let call =
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;
    send(&mut relay, A, call).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#
        ]
    );
    // A batch: the denied element is answered, the other relayed.
    let batch = format!("[{CALL_DELETE},{}]", call.replace(":4,", ":5,"));
    assert_eq!(send(&mut relay, A, &batch), Ok(2));
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#
        ]
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"c1","error":{"code":-32602,"message":"Unknown tool: delete_all"}}"#
        ]
    );
}

#[test]
fn listings_lose_denied_entries_and_keep_their_cursors() {
    let mut relay = filtered(Clients::Separate);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_all"},{"name":"echo"}],"nextCursor":"pg2"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}],"nextCursor":"pg2"}}"#]
    );
    // The next page: the cursor reaches the child untouched; the page may
    // come back empty.
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"cursor":"pg2"}}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"pg2"}}"#]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"delete_x"}],"nextCursor":"pg3"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":8,"result":{"tools":[],"nextCursor":"pg3"}}"#]
    );
    // Prompts, resources, templates.
    for (id, method, result, want) in [
        (
            9,
            "prompts/list",
            r#"{"prompts":[{"name":"greeting"},{"name":"admin"}]}"#,
            r#"{"prompts":[{"name":"greeting"}]}"#,
        ),
        (
            10,
            "resources/list",
            r#"{"resources":[{"uri":"secret://k"},{"uri":"file:///a"}]}"#,
            r#"{"resources":[{"uri":"file:///a"}]}"#,
        ),
        (
            11,
            "resources/templates/list",
            r#"{"resourceTemplates":[{"uriTemplate":"secret://{k}"}]}"#,
            r#"{"resourceTemplates":[]}"#,
        ),
    ] {
        send(
            &mut relay,
            A,
            &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"}}"#),
        )
        .unwrap();
        let sent = to_child(&mut relay);
        let gateway_id = parse_message(sent[0].as_bytes())
            .unwrap()
            .id
            .unwrap()
            .as_bytes()
            .to_vec();
        let gateway_id = String::from_utf8(gateway_id).unwrap();
        child(
            &mut relay,
            &format!(r#"{{"jsonrpc":"2.0","id":{gateway_id},"result":{result}}}"#),
        );
        assert_eq!(
            frames(&mut relay, A),
            [format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{want}}}"#)]
        );
    }
}

#[test]
fn an_unreadable_listing_is_not_shown_and_errors_pass() {
    let mut relay = filtered(Clients::Separate);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"delete_all"}],"tools":[]}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"boom"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"the MCP server's listing cannot be read, so it cannot be filtered"}}"#,
            r#"{"jsonrpc":"2.0","id":8,"error":{"code":-32603,"message":"boom"}}"#,
        ]
    );
}

#[test]
fn a_denied_tools_annotations_are_not_learned() {
    let mut relay = filtered(Clients::Separate);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    let tool = |name: &str| {
        format!(
            r#"{{"name":"{name}","inputSchema":{{"type":"object","properties":{{"r":{{"type":"string","x-mcp-header":"Region"}}}}}}}}"#
        )
    };
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":2,"result":{{"tools":[{},{}]}}}}"#,
            tool("delete_db"),
            tool("query")
        ),
    );
    assert_eq!(frames(&mut relay, A).len(), 1);
    assert!(relay.param_headers("query").is_some());
    assert_eq!(relay.param_headers("delete_db"), None);
    // A listing the driver fetched itself is filtered too.
    relay.handle_tool_list(
        format!(r#"{{"tools":[{}]}}"#, tool("delete_other")).as_bytes(),
        false,
    );
    assert_eq!(relay.param_headers("delete_other"), None);
}

#[test]
fn rules_for_one_kind_leave_the_others_unparsed_and_no_filter_changes_nothing() {
    let mut relay = initialised(Clients::Separate, &[A]);
    relay.set_filter(Some(Rc::new(Filter {
        tools: Rules::globs(NONE, &["delete_*"]).unwrap(),
        ..Filter::default()
    })));
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":7,"method":"prompts/list"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    // Not readable as a listing, but prompts are not filtered: it passes.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"prompts":7}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":7,"result":{"prompts":7}}"#]
    );
    // An empty filter is no filter.
    relay.set_filter(Some(Rc::new(Filter::default())));
    send(&mut relay, A, CALL_DELETE).unwrap();
    assert_eq!(to_child(&mut relay).len(), 1);
}

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn era_relay(clients: Clients) -> Relay {
    let mut counter = 0u8;
    let config = Config {
        upstream: UpstreamMode::Auto,
        ..Config::new(clients)
    };
    let mut relay = Relay::new(
        config,
        Budget::new(64 << 20),
        Box::new(move || {
            counter = counter.wrapping_add(1);
            [counter; 16]
        }),
    );
    relay.set_filter(Some(filter()));
    relay.start_child();
    assert_eq!(to_child(&mut relay).len(), 1, "the probe");
    relay
}

#[test]
fn modern_clients_of_a_legacy_child_get_filtered_completed_listings() {
    let mut relay = era_relay(Clients::Anonymous);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
    );
    relay.open_session(A, false);
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"delete_all",{META}}}}}"#
    );
    assert_eq!(send(&mut relay, A, &call), Ok(1));
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: delete_all"}}"#
        ]
    );
    assert_eq!(
        to_child(&mut relay),
        Vec::<String>::new(),
        "not even the initialize"
    );
    let list = format!(r#"{{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{{{META}}}}}"#);
    send(&mut relay, A, &list).unwrap();
    let sent = to_child(&mut relay);
    assert_eq!(sent.len(), 1, "the gateway's initialize: {sent:?}");
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"old","version":"1"}}}"#,
    );
    let sent = to_child(&mut relay);
    assert_eq!(
        sent[1],
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{}}}"#
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"delete_all"},{"name":"echo"}],"nextCursor":"n"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":6,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[{"name":"echo"}],"nextCursor":"n"}}"#
        ]
    );
}

#[test]
fn legacy_clients_of_a_modern_child_are_filtered_too() {
    let mut relay = era_relay(Clients::Separate);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1"}}}}"#,
    );
    reports(&mut relay);
    relay.open_session(A, true);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cli","version":"9"}}}"#,
    )
    .unwrap();
    frames(&mut relay, A);
    to_child(&mut relay);
    assert_eq!(send(&mut relay, A, CALL_DELETE), Ok(1));
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"c1","error":{"code":-32602,"message":"Unknown tool: delete_all"}}"#
        ]
    );
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
    )
    .unwrap();
    let sent = to_child(&mut relay);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let gateway_id = parse_message(sent[0].as_bytes())
        .unwrap()
        .id
        .unwrap()
        .as_bytes()
        .to_vec();
    let gateway_id = String::from_utf8(gateway_id).unwrap();
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":{gateway_id},"result":{{"resultType":"complete","tools":[{{"name":"delete_all"}},{{"name":"echo"}}]}}}}"#
        ),
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","tools":[{"name":"echo"}]}}"#
        ]
    );
}

#[test]
fn subscribe_and_completion_of_denied_targets_are_refused_like_reads() {
    let mut relay = filtered(Clients::Separate);
    for request in [
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"secret://key"}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"admin"},"argument":{"name":"a","value":"x"}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"secret://{k}"},"argument":{"name":"k","value":""}}}"#,
        // A repeated key could hide a denied target from one reader.
        r#"{"jsonrpc":"2.0","id":4,"method":"resources/subscribe","params":{"uri":"file:///a","uri":"secret://key"}}"#,
    ] {
        assert_eq!(send(&mut relay, A, request), Ok(1), "{request}");
    }
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Resource not found: secret://key"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown prompt: admin"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Resource not found: secret://{k}"}}"#,
            r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"the request's params cannot be read"}}"#,
        ]
    );
    // Allowed targets reach the child as sent.
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":5,"method":"resources/subscribe","params":{"uri":"file:///a"}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":6,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greeting"},"argument":{"name":"a","value":"x"}}}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"file:///a"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greeting"},"argument":{"name":"a","value":"x"}}}"#,
        ]
    );
}

#[test]
fn updates_about_denied_resources_reach_nobody() {
    let mut relay = filtered(Clients::Separate);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"secret://key"}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///a","uri":"secret://key"}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///a"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///a"}}"#
        ]
    );
}

fn listen_request(id: u32, uris: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"subscriptions/listen","params":{{"notifications":{{"toolsListChanged":true,"resourceSubscriptions":{uris}}},{META}}}}}"#
    )
}

#[test]
fn a_listen_served_for_a_legacy_child_never_subscribes_to_denied_resources() {
    let mut relay = era_relay(Clients::Anonymous);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
    );
    relay.open_session(A, false);
    relay.initialize_child("2025-11-25");
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"capabilities":{"resources":{"subscribe":true}}}}"#,
    );
    to_child(&mut relay);
    send(
        &mut relay,
        A,
        &listen_request(9, r#"["secret://k","file:///a"]"#),
    )
    .unwrap();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9},"notifications":{"resourceSubscriptions":["file:///a"]}}}"#
        ]
    );
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"file:///a"}}"#]
    );
}

#[test]
fn a_listen_reaches_a_modern_child_without_denied_resources() {
    let mut relay = era_relay(Clients::Anonymous);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{"resources":{"subscribe":true}}}}"#,
    );
    reports(&mut relay);
    relay.open_session(A, false);
    send(
        &mut relay,
        A,
        &listen_request(9, r#"["secret://k","file:///a","secret://j"]"#),
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [listen_request(2, r#"["file:///a"]"#)]
    );
    // Nothing denied: the listen is not rewritten.
    relay.open_session(B, false);
    send(&mut relay, B, &listen_request(4, r#"["file:///b"]"#)).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [listen_request(3, r#"["file:///b"]"#)]
    );
    // An update the child sends anyway for a denied URI is dropped.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2},"uri":"secret://k"}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2},"uri":"file:///a"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9},"uri":"file:///a"}}"#
        ]
    );
}
