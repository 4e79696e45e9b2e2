//! Handshake-era clients in front of a 2026-07-28 child (design c.3, c.7):
//! the relay answers the handshake itself, inserts the modern `_meta`,
//! serves subscriptions through one listen of its own and turns
//! `input_required` results into server→client requests.

use super::*;

const DISCOVER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true}},"instructions":"be kind","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1.2"}}}}"#;

/// A relay whose child answered the probe as a 2026-07-28 server.
fn modern_child(clients: Clients) -> Relay {
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
    relay.start_child();
    assert_eq!(to_child(&mut relay).len(), 1, "the probe");
    child(&mut relay, DISCOVER);
    reports(&mut relay);
    relay
}

fn meta(capabilities: &str, info: &str, level: &str) -> String {
    format!(
        r#""_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{capabilities},"io.modelcontextprotocol/clientInfo":{info},"io.modelcontextprotocol/logLevel":"{level}"}}"#
    )
}

fn gateway_info() -> String {
    format!(
        r#"{{"name":"supergateway","version":"{}"}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"cli","version":"9"}}}"#;

fn listen_line(id: u64, notifications: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"subscriptions/listen","params":{{"notifications":{{{notifications}}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{},"io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#,
        gateway_info()
    )
}

#[test]
fn the_handshake_is_answered_from_discover_and_requests_carry_the_modern_meta() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    assert_eq!(send(&mut relay, A, INITIALIZE), Ok(1));
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#,
    )
    .unwrap();
    send(&mut relay, A, r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"warning"}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"progressToken":"p"}}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":5,"method":"prompts/list"}"#,
    )
    .unwrap();
    let caps = r#"{"sampling":{}}"#;
    let info = r#"{"name":"cli","version":"9"}"#;
    assert_eq!(
        to_child(&mut relay),
        [
            listen_line(2, r#""toolsListChanged":true"#),
            format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{{},"name":"t","arguments":{{}}}}}}"#,
                meta(caps, info, "debug")
            ),
            format!(
                r#"{{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{{"_meta":{{{},"progressToken":5}}}}}}"#,
                meta(caps, info, "warning")
                    .trim_start_matches(r#""_meta":{"#)
                    .trim_end_matches('}')
            ),
            format!(
                r#"{{"jsonrpc":"2.0","id":6,"method":"prompts/list","params":{{{}}}}}"#,
                meta(caps, info, "warning")
            ),
        ],
        "initialized and roots/list_changed are dropped, ping and setLevel answered here"
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true}},"serverInfo":{"name":"srv","version":"1.2"},"instructions":"be kind"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
        ]
    );
    // The child's results pass as they are, with the client's id.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"complete","content":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","content":[]}}"#]
    );
}

#[test]
fn an_unknown_or_modern_handshake_version_is_answered_with_the_newest_handshake_one() {
    let mut relay = modern_child(Clients::Anonymous);
    relay.open_session(A, false);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2026-07-28","capabilities":{}}}"#,
    )
    .unwrap();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"i","result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true}},"serverInfo":{"name":"srv","version":"1.2"},"instructions":"be kind"}}"#
        ]
    );
    assert!(
        to_child(&mut relay).is_empty(),
        "stateless clients get no listen"
    );
    // A stateless request: the gateway's default capabilities and name.
    relay.open_session(B, false);
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{{}}}}}"#,
            meta(
                r#"{"sampling":{},"elicitation":{"form":{},"url":{}},"roots":{"listChanged":true}}"#,
                &gateway_info(),
                "debug"
            )
        )]
    );
}

#[test]
fn legacy_requests_that_carry_reserved_meta_keys_or_bad_params_are_refused() {
    let mut relay = modern_child(Clients::Anonymous);
    relay.open_session(A, false);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientInfo":{}}}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"loud"}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":[]}"#,
    )
    .unwrap();
    assert!(to_child(&mut relay).is_empty());
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"params._meta carries io.modelcontextprotocol/ keys reserved for MCP 2026-07-28 requests"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"params.level must be a log level"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"params must be an object"}}"#,
        ]
    );
}

#[test]
fn subscriptions_are_served_through_one_listen_with_the_union_of_uris() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    relay.open_session(B, true);
    send(&mut relay, A, INITIALIZE).unwrap();
    send(&mut relay, B, INITIALIZE).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [listen_line(2, r#""toolsListChanged":true"#)],
        "one listen for all the legacy clients"
    );
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///a"}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///a"}}"#,
    )
    .unwrap();
    let cancel = |id| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#
        )
    };
    assert_eq!(
        to_child(&mut relay),
        [
            listen_line(
                3,
                r#""toolsListChanged":true,"resourceSubscriptions":["file:///a"]"#
            ),
            cancel(2),
        ],
        "the second subscription to the same URI changes nothing"
    );
    let ok = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
    assert_eq!(frames(&mut relay, A)[1..], [ok]);
    assert_eq!(frames(&mut relay, B)[1..], [ok]);
    // Tagged with the relay's listen: untagged for legacy clients.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":3},"notifications":{}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":3}}}"#,
    );
    // The old listen's tags reach nobody.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#,
    );
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":2,"method":"resources/unsubscribe","params":{"uri":"file:///a"}}"#,
    )
    .unwrap();
    assert!(to_child(&mut relay).is_empty(), "A still wants file:///a");
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":3},"uri":"file:///a"}}"#,
    );
    let changed = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    let updated = r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///a"}}"#;
    assert_eq!(frames(&mut relay, A), [changed, updated]);
    assert_eq!(
        frames(&mut relay, B),
        [changed, r#"{"jsonrpc":"2.0","id":2,"result":{}}"#]
    );
    // A leaves: nobody wants the URI any more.
    relay.close_session(A);
    assert_eq!(
        to_child(&mut relay),
        [listen_line(4, r#""toolsListChanged":true"#), cancel(3)]
    );
}

const SAMPLE: &str =
    r#"{"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"#;

fn token(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

#[test]
fn input_required_becomes_requests_to_the_client_and_the_request_is_sent_again() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    send(&mut relay, A, INITIALIZE).unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"t"}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    frames(&mut relay, A);
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":3,"result":{{"resultType":"input_required","inputRequests":{{"s":{SAMPLE},"r":{{"method":"roots/list"}}}},"requestState":"S1"}}}}"#
        ),
    );
    // The client declared sampling only: roots/list cannot be asked.
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"c1","error":{"code":-32021,"message":"The MCP server needs a client capability this client did not declare for this request","data":{"requiredCapabilities":{"roots":{}}}}}"#
        ]
    );
    assert!(to_child(&mut relay).is_empty());
    assert_eq!(relay.in_flight(), 0);

    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"c2","method":"tools/call","params":{"name":"t"}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":4,"result":{{"resultType":"input_required","inputRequests":{{"s":{SAMPLE}}},"requestState":"S1"}}}}"#
        ),
    );
    assert_eq!(
        frames(&mut relay, A),
        [format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"sampling/createMessage","params":{{"messages":[],"maxTokens":5}}}}"#,
            token(1)
        )]
    );
    // Another session cannot answer it.
    relay.open_session(B, true);
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":"{}","result":{{"role":"assistant","content":{{"type":"text","text":"hi"}}}}}}"#,
        token(1)
    );
    assert!(send(&mut relay, B, &answer).is_err());
    assert_eq!(send(&mut relay, A, &answer), Ok(0));
    let caps = r#"{"sampling":{}}"#;
    let info = r#"{"name":"cli","version":"9"}"#;
    assert_eq!(
        to_child(&mut relay),
        [format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"inputResponses":{{"s":{{"role":"assistant","content":{{"type":"text","text":"hi"}}}}}},"requestState":"S1",{},"name":"t"}}}}"#,
            meta(caps, info, "debug")
        )],
        "sent again under a new id with the answers and the state"
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"complete","content":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":"c2","result":{"resultType":"complete","content":[]}}"#]
    );
}

#[test]
fn a_client_error_answer_ends_the_request_with_that_error() {
    let mut relay = modern_child(Clients::Anonymous);
    relay.open_session(A, false);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{"e":{"method":"elicitation/create","params":{"mode":"url","url":"https://x"}}}}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"elicitation/create","params":{{"mode":"url","url":"https://x"}}}}"#,
            token(1)
        )]
    );
    // Stateless: the answer comes on another request, by its token.
    relay.open_session(B, false);
    let refusal = format!(
        r#"{{"jsonrpc":"2.0","id":"{}","error":{{"code":-32601,"message":"no elicitation here"}}}}"#,
        token(1)
    );
    assert_eq!(send(&mut relay, B, &refusal), Ok(0));
    assert!(to_child(&mut relay).is_empty());
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"no elicitation here"}}"#]
    );
    assert!(frames(&mut relay, B).is_empty());
}

#[test]
fn a_child_that_keeps_asking_is_stopped_after_ten_rounds() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}}"#,
    )
    .unwrap();
    for round in 0..=10u8 {
        let gateway_id = 2 + u64::from(round);
        let sent = to_child(&mut relay);
        assert_eq!(sent.len(), 1, "round {round}");
        assert!(sent[0].starts_with(&format!(r#"{{"jsonrpc":"2.0","id":{gateway_id},"#)));
        child(
            &mut relay,
            &format!(
                r#"{{"jsonrpc":"2.0","id":{gateway_id},"result":{{"resultType":"input_required","inputRequests":{{"r":{{"method":"roots/list"}}}}}}}}"#
            ),
        );
        if round == 10 {
            break;
        }
        let asked = frames(&mut relay, A);
        assert_eq!(asked.len(), 1);
        let answer = format!(
            r#"{{"jsonrpc":"2.0","id":"{}","result":{{"roots":[]}}}}"#,
            token(round + 1)
        );
        assert_eq!(send(&mut relay, A, &answer), Ok(0));
    }
    assert!(to_child(&mut relay).is_empty());
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32603,"message":"the MCP server asked for input more than 10 times"}}"#
        ]
    );
}

#[test]
fn the_childs_exit_answers_requests_waiting_for_input() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{"r":{"method":"roots/list"}}}}"#,
    );
    frames(&mut relay, A);
    relay.handle_child_exit(3);
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32000,"message":"the MCP server exited (code 3)"}}"#
        ]
    );
}

#[test]
fn a_child_that_exits_during_the_probe_is_served_as_handshake_era_next_time() {
    let mut relay = Relay::new(
        Config {
            upstream: UpstreamMode::Auto,
            ..Config::new(Clients::Separate)
        },
        Budget::new(64 << 20),
        Box::new(|| [7; 16]),
    );
    relay.start_child();
    assert_eq!(to_child(&mut relay).len(), 1, "the probe");
    relay.open_session(A, true);
    send(&mut relay, A, INITIALIZE).unwrap();
    send(&mut relay, A, r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
    assert!(to_child(&mut relay).is_empty(), "held during the probe");
    assert!(relay.handle_probe_exit(1));
    assert_eq!(
        reports(&mut relay),
        [
            Report::ProbeExited { code: 1 },
            Report::ChildEra { modern: false }
        ]
    );
    assert_eq!(
        to_child(&mut relay),
        [
            INITIALIZE.replace(r#""id":0"#, r#""id":2"#),
            r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#.to_owned()
        ],
        "the held messages go to the new child, no probe first"
    );
    assert_eq!(relay.poll_timeout(), None);
    // The new child is not probed: its exit is an ordinary one.
    assert!(!relay.handle_probe_exit(1));
    relay.handle_child_exit(1);
    assert_eq!(relay.exit_code(), Some(1));
}

#[test]
fn a_probe_exit_under_a_forced_revision_is_an_ordinary_exit() {
    let mut relay = Relay::new(
        Config {
            upstream: UpstreamMode::Modern,
            ..Config::new(Clients::Separate)
        },
        Budget::new(64 << 20),
        Box::new(|| [7; 16]),
    );
    relay.start_child();
    assert!(!relay.handle_probe_exit(1));
    assert!(reports(&mut relay).is_empty());
}

#[test]
fn a_child_that_refuses_the_fallback_initialize_as_too_old_is_probed_again() {
    let mut relay = Relay::new(
        Config {
            upstream: UpstreamMode::Auto,
            probe_timeout_ms: 100,
            ..Config::new(Clients::Separate)
        },
        Budget::new(64 << 20),
        Box::new(|| [7; 16]),
    );
    relay.start_child();
    to_child(&mut relay);
    relay.advance(100);
    relay.handle_timeout();
    relay.open_session(A, true);
    relay.open_session(B, true);
    send(&mut relay, A, INITIALIZE).unwrap();
    send(
        &mut relay,
        B,
        &INITIALIZE.replace(r#""id":0"#, r#""id":"b""#),
    )
    .unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [INITIALIZE.replace(r#""id":0"#, r#""id":2"#)],
        "the silent child was taken to be handshake-era"
    );
    // It locked itself to 2026-07-28 when the late probe arrived.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"2025-06-18"}}}"#,
    );
    let probe = to_child(&mut relay);
    assert_eq!(probe.len(), 1);
    assert!(probe[0].starts_with(r#"{"jsonrpc":"2.0","id":3,"method":"server/discover","#));
    assert!(frames(&mut relay, A).is_empty(), "nothing answered yet");
    child(&mut relay, &DISCOVER.replace(r#""id":1"#, r#""id":3"#));
    let result = r#""result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true}},"serverInfo":{"name":"srv","version":"1.2"},"instructions":"be kind"}}"#;
    assert_eq!(
        frames(&mut relay, A),
        [format!(r#"{{"jsonrpc":"2.0","id":0,{result}"#)]
    );
    assert_eq!(
        frames(&mut relay, B),
        [format!(r#"{{"jsonrpc":"2.0","id":"b",{result}"#)]
    );
    assert_eq!(
        to_child(&mut relay),
        [
            listen_line(4, r#""toolsListChanged":true"#),
            format!(
                r#"{{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{{{}}}}}"#,
                meta(
                    r#"{"sampling":{}}"#,
                    r#"{"name":"cli","version":"9"}"#,
                    "debug"
                )
            ),
        ],
        "the held request follows, as a modern one"
    );
}

#[test]
fn a_legacy_clients_listing_teaches_the_x_mcp_header_annotations() {
    let mut relay = modern_child(Clients::Separate);
    relay.open_session(A, true);
    send(&mut relay, A, INITIALIZE).unwrap();
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .unwrap();
    frames(&mut relay, A);
    to_child(&mut relay);
    assert_eq!(relay.param_headers("execute_sql"), None, "never listed");
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
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
    let tool = r#"{"name":"execute_sql","inputSchema":{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}}"#;
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":{gateway_id},"result":{{"resultType":"complete","tools":[{tool}]}}}}"#
        ),
    );
    assert_eq!(
        frames(&mut relay, A),
        [format!(
            r#"{{"jsonrpc":"2.0","id":7,"result":{{"resultType":"complete","tools":[{tool}]}}}}"#
        )]
    );
    let region = [crate::mcp::x_mcp_header::Param {
        path: vec!["region".to_owned()],
        header: "Region".to_owned(),
        ty: crate::mcp::x_mcp_header::ParamType::String,
    }];
    assert_eq!(relay.param_headers("execute_sql"), Some(&region[..]));
}
