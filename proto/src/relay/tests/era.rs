//! Protocol eras in the relay: the `server/discover` probe, the checks on
//! 2026-07-28 requests, and a handshake-era child's answers completed for
//! modern clients.

use super::*;

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn modern(id: impl std::fmt::Display, method: &str, extra: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{{extra}{META}}}}}"#)
}

fn relay_era(upstream: UpstreamMode) -> Relay {
    let mut counter = 0u8;
    let config = Config {
        upstream,
        probe_timeout_ms: 1000,
        ..Config::new(Clients::Anonymous)
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
    relay
}

const PROBE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"supergateway","version":"VERSION"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;

fn probe_line() -> String {
    PROBE.replace("VERSION", env!("CARGO_PKG_VERSION"))
}

#[test]
fn a_child_that_answers_discover_is_modern_and_held_requests_follow() {
    let mut relay = relay_era(UpstreamMode::Auto);
    assert_eq!(to_child(&mut relay), [probe_line()]);
    assert_eq!(relay.poll_timeout(), Some(1000));
    relay.open_session(A, false);
    relay.open_session(B, false);
    assert_eq!(send(&mut relay, A, &modern(7, "tools/list", "")), Ok(1));
    assert_eq!(
        send(&mut relay, B, &modern(8, "server/discover", "")),
        Ok(1)
    );
    assert!(to_child(&mut relay).is_empty(), "held during the probe");
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":5,"cacheScope":"public"}}"#,
    );
    assert_eq!(reports(&mut relay), [Report::ChildEra { modern: true }]);
    assert_eq!(relay.poll_timeout(), None);
    assert_eq!(
        to_child(&mut relay),
        [modern(2, "tools/list", "")],
        "the child gets the request as sent, under a gateway id"
    );
    assert_eq!(
        frames(&mut relay, B),
        [
            r#"{"jsonrpc":"2.0","id":8,"result":{"resultType":"complete","supportedVersions":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"capabilities":{"tools":{}},"ttlMs":5,"cacheScope":"public"}}"#
        ],
        "discover is answered from the probe, with the versions the gateway serves"
    );
    // A modern child's answers pass untouched.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#]
    );
}

#[test]
fn a_child_that_refuses_discover_is_initialised_for_modern_clients() {
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    relay.open_session(A, false);
    send(&mut relay, A, &modern(7, "tools/list", "")).unwrap();
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
    );
    assert_eq!(reports(&mut relay), [Report::ChildEra { modern: false }]);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        to_child(&mut relay),
        [format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{"sampling":{{}},"elicitation":{{}},"roots":{{"listChanged":true}}}},"clientInfo":{{"name":"supergateway","version":"{version}"}}}}}}"#
        )],
        "the request waits for the gateway's own initialize"
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true},"tasks":{}},"serverInfo":{"name":"old","version":"1"},"instructions":"hi"}}"#,
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{}}}"#,
        ],
        "a legacy child gets no 2026-07-28 _meta keys"
    );
    // The legacy result gets what 2026-07-28 requires.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":7,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[]}}"#
        ]
    );
    // discover comes from the InitializeResult (no tasks capability).
    send(&mut relay, A, &modern(8, "server/discover", "")).unwrap();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":8,"result":{"resultType":"complete","supportedVersions":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"capabilities":{"tools":{"listChanged":true}},"instructions":"hi","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"old","version":"1"}},"ttlMs":0,"cacheScope":"private"}}"#
        ]
    );
    assert!(to_child(&mut relay).is_empty());
    // A call's empty result, an error the revision renamed, one it keeps.
    send(&mut relay, A, &modern(9, "tools/call", r#""name":"t","#)).unwrap();
    send(
        &mut relay,
        A,
        &modern(10, "resources/read", r#""uri":"u","#),
    )
    .unwrap();
    send(&mut relay, A, &modern(11, "prompts/get", r#""name":"p","#)).unwrap();
    assert_eq!(to_child(&mut relay).len(), 3);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":4,"result":{}}"#);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32002,"message":"Resource not found","data":{"uri":"u"}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"no such prompt"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":9,"result":{"resultType":"complete"}}"#,
            r#"{"jsonrpc":"2.0","id":10,"error":{"code":-32602,"message":"Resource not found","data":{"uri":"u"}}}"#,
            r#"{"jsonrpc":"2.0","id":11,"error":{"code":-32602,"message":"no such prompt"}}"#,
        ]
    );
}

#[test]
fn a_silent_child_is_taken_to_be_legacy_after_the_probe_timeout() {
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    relay.open_session(A, false);
    relay.initialize_child("2025-06-18");
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"x","method":"tools/list"}"#,
    )
    .unwrap();
    relay.advance(999);
    relay.handle_timeout();
    assert!(to_child(&mut relay).is_empty());
    relay.advance(1000);
    relay.handle_timeout();
    assert_eq!(
        reports(&mut relay),
        [
            Report::ProbeTimedOut { after_ms: 1000 },
            Report::ChildEra { modern: false }
        ]
    );
    let lines = to_child(&mut relay);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0]
        .contains(r#""id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18""#));
    // A late answer to the probe is dropped.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"capabilities":{}}}"#,
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
        ]
    );
    assert!(frames(&mut relay, A).is_empty());
}

#[test]
fn modern_requests_that_fail_the_checks_never_reach_the_child() {
    let mut relay = relay_era(UpstreamMode::Legacy);
    relay.open_session(A, false);
    let caps = r#""io.modelcontextprotocol/clientCapabilities":{}"#;
    for (request, answer) in [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"params._meta must carry io.modelcontextprotocol/clientCapabilities (an object)"}}"#,
        ),
        (
            format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"v999.0.0",{caps}}}}}}}"#),
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"v999.0.0"}}}"#,
        ),
        (
            format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":7,{caps}}}}}}}"#),
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"params._meta must carry io.modelcontextprotocol/protocolVersion (a string)"}}"#,
        ),
        (
            modern(4, "tools/list", "").replace(r#"{}}"#, r#"{},"io.modelcontextprotocol/logLevel":"loud"}"#),
            r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"io.modelcontextprotocol/logLevel is not a log level"}}"#,
        ),
        (
            modern(5, "ping", ""),
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found"}}"#,
        ),
        (
            modern(6, "resources/subscribe", r#""uri":"u","#),
            r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32601,"message":"Method not found"}}"#,
        ),
    ] {
        assert_eq!(send(&mut relay, A, &request), Ok(1), "{request}");
        assert_eq!(frames(&mut relay, A), [answer], "{request}");
    }
    assert!(to_child(&mut relay).is_empty());
    // `initialize` is handshake-era whatever its `_meta` says.
    send(&mut relay, A, &modern(9, "initialize", "")).unwrap();
    assert_eq!(to_child(&mut relay), [modern(1, "initialize", "")]);
}

#[test]
fn a_legacy_childs_log_lines_reach_a_modern_client_only_when_it_opted_in() {
    let mut relay = relay_era(UpstreamMode::Legacy);
    relay.initialize_child("2025-11-25");
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}}"#,
    );
    to_child(&mut relay);
    let log = |level: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/message","params":{{"level":"{level}","data":"x"}}}}"#
        )
    };
    relay.open_session(A, false);
    send(&mut relay, A, &modern(1, "tools/call", r#""name":"t","#)).unwrap();
    child(&mut relay, &log("error"));
    assert!(
        frames(&mut relay, A).is_empty(),
        "no logLevel: no log lines"
    );
    child(&mut relay, r#"{"jsonrpc":"2.0","id":2,"result":{}}"#);
    frames(&mut relay, A);
    let opted = modern(2, "tools/call", r#""name":"t","#).replace(
        r#"{}}"#,
        r#"{},"io.modelcontextprotocol/logLevel":"warning"}"#,
    );
    send(&mut relay, A, &opted).unwrap();
    child(&mut relay, &log("info"));
    child(&mut relay, &log("warning"));
    child(&mut relay, &log("emergency"));
    assert_eq!(frames(&mut relay, A), [log("warning"), log("emergency")]);
    // Notifications that belong to no request are not for it either.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    assert!(frames(&mut relay, A).is_empty());
}

#[test]
fn a_legacy_childs_request_to_a_modern_client_is_answered_with_an_error() {
    let mut relay = relay_era(UpstreamMode::Legacy);
    relay.initialize_child("2025-11-25");
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}}"#,
    );
    to_child(&mut relay);
    relay.open_session(A, false);
    send(&mut relay, A, &modern(1, "tools/call", r#""name":"t","#)).unwrap();
    to_child(&mut relay);
    child(&mut relay, SAMPLING);
    assert!(frames(&mut relay, A).is_empty());
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"s-1","error":{"code":-32603,"message":"the client speaks MCP 2026-07-28, which has no server-to-client requests"}}"#
        ]
    );
    assert_eq!(reports(&mut relay), [Report::ModernClientAsked]);
}

#[test]
fn a_forced_modern_child_that_refuses_discover_fails_modern_requests() {
    let mut relay = relay_era(UpstreamMode::Modern);
    to_child(&mut relay);
    relay.open_session(A, false);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#,
    );
    assert_eq!(reports(&mut relay), [Report::UpstreamRefused]);
    send(&mut relay, A, &modern(3, "tools/list", "")).unwrap();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"the MCP server did not answer server/discover (--upstreamProtocol 2026-07-28)"}}"#
        ]
    );
    assert!(to_child(&mut relay).is_empty());
}

/// A legacy child initialised with `capabilities`, the relay serving
/// modern clients.
fn legacy_child(capabilities: &str) -> Relay {
    let mut relay = relay_era(UpstreamMode::Legacy);
    relay.initialize_child("2025-11-25");
    to_child(&mut relay);
    child(
        &mut relay,
        &format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"capabilities":{capabilities}}}}}"#),
    );
    to_child(&mut relay);
    relay
}

#[test]
fn the_relay_serves_listens_for_a_legacy_child() {
    let mut relay =
        legacy_child(r#"{"tools":{"listChanged":true},"resources":{"subscribe":true}}"#);
    relay.open_session(A, false);
    relay.open_session(B, false);
    let listen = |id: &str, filter: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"subscriptions/listen","params":{{"notifications":{filter},{META}}}}}"#
        )
    };
    assert_eq!(
        send(
            &mut relay,
            A,
            &listen(
                "\"a\"",
                r#"{"toolsListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["file:///x","file:///y"]}"#
            )
        ),
        Ok(1)
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"a"},"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///x","file:///y"]}}}"#
        ],
        "only what the child can honour (no prompts capability)"
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"file:///x"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"file:///y"}}"#,
        ]
    );
    send(
        &mut relay,
        B,
        &listen("7", r#"{"resourceSubscriptions":["file:///x"]}"#),
    )
    .unwrap();
    frames(&mut relay, B);
    assert!(
        to_child(&mut relay).is_empty(),
        "file:///x is subscribed already"
    );
    // The answers to the relay's own subscriptions go nowhere.
    child(&mut relay, r#"{"jsonrpc":"2.0","id":2,"result":{}}"#);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///x","title":"t"}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/prompts/list_changed"}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"a"}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"a"},"title":"t","uri":"file:///x"}}"#,
        ]
    );
    assert_eq!(
        frames(&mut relay, B),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7},"title":"t","uri":"file:///x"}}"#
        ]
    );
    // A's stream closes: file:///y is no longer wanted, file:///x still is.
    relay.close_session(A);
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"file:///y"}}"#
        ]
    );
    // The child exits: B's listen ends gracefully.
    relay.handle_child_exit(0);
    assert_eq!(
        frames(&mut relay, B),
        [
            r#"{"jsonrpc":"2.0","id":7,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        ]
    );
}

#[test]
fn a_modern_childs_listen_tags_carry_the_clients_id() {
    let mut relay = relay_era(UpstreamMode::Modern);
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#,
    );
    relay.open_session(A, false);
    let request = modern(
        9,
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    send(&mut relay, A, &request).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [modern(
            2,
            "subscriptions/listen",
            r#""notifications":{"toolsListChanged":true},"#
        )]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2},"notifications":{"toolsListChanged":true}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9},"notifications":{"toolsListChanged":true}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#,
        ]
    );
    // A tag for a listen that has ended reaches nobody.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#,
    );
    assert!(frames(&mut relay, A).is_empty());
}

#[test]
fn a_legacy_child_gets_modern_requests_without_the_2026_meta_keys() {
    let mut relay = legacy_child("{}");
    relay.open_session(A, false);
    let request = r#"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"t","_meta":{"progressToken":"p","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"info","x.example/trace":[1]}}}"#;
    send(&mut relay, A, request).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":3,"x.example/trace":[1]}}}"#
        ]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":3,"progress":1}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}"#
        ]
    );
}

#[test]
fn listens_survive_a_restart_and_the_new_child_is_subscribed_again() {
    let mut relay = legacy_child(r#"{"resources":{"subscribe":true}}"#);
    relay.open_session(A, false);
    let listen = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{{"notifications":{{"resourceSubscriptions":["file:///x"]}},{META}}}}}"#
    );
    send(&mut relay, A, &listen).unwrap();
    frames(&mut relay, A);
    assert_eq!(to_child(&mut relay).len(), 1);
    relay.handle_child_restart();
    let lines = to_child(&mut relay);
    assert_eq!(lines.len(), 1, "the initialize replay: {lines:?}");
    assert!(
        lines[0].contains(r#""id":3,"method":"initialize""#),
        "{lines:?}"
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"result":{"capabilities":{}}}"#,
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/subscribe","params":{"uri":"file:///x"}}"#,
        ]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///x"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1},"uri":"file:///x"}}"#
        ]
    );
}

#[test]
fn a_modern_childs_listens_are_sent_again_to_its_replacement() {
    let mut relay = relay_era(UpstreamMode::Modern);
    to_child(&mut relay);
    let discover = r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#;
    child(&mut relay, discover);
    relay.open_session(A, false);
    let request = modern(
        9,
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    send(&mut relay, A, &request).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2},"notifications":{"toolsListChanged":true}}}"#,
    );
    assert_eq!(frames(&mut relay, A).len(), 1);
    relay.handle_child_restart();
    assert!(frames(&mut relay, A).is_empty(), "the listen is not failed");
    let probe = probe_line().replace(r#""id":1"#, r#""id":3"#);
    assert_eq!(
        to_child(&mut relay),
        [probe],
        "held while the new child is probed"
    );
    child(&mut relay, &discover.replace(r#""id":1"#, r#""id":3"#));
    assert_eq!(
        to_child(&mut relay),
        [modern(
            4,
            "subscriptions/listen",
            r#""notifications":{"toolsListChanged":true},"#
        )]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":4},"notifications":{"toolsListChanged":true}}}"#,
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":4}}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#
        ],
        "the second acknowledgement is not passed on"
    );
}

#[test]
fn a_listen_carried_to_a_legacy_replacement_is_served_by_the_relay_without_a_second_ack() {
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#,
    );
    relay.open_session(A, false);
    let request = modern(
        9,
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    send(&mut relay, A, &request).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2},"notifications":{"toolsListChanged":true}}}"#,
    );
    assert_eq!(frames(&mut relay, A).len(), 1);
    // The replacement refuses server/discover: handshake-era.
    relay.handle_child_restart();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found"}}"#,
    );
    let lines = to_child(&mut relay);
    assert!(
        lines[0].contains(r#""id":4,"method":"initialize""#),
        "{lines:?}"
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":4,"result":{"capabilities":{"tools":{"listChanged":true}}}}"#,
    );
    to_child(&mut relay);
    assert!(
        frames(&mut relay, A).is_empty(),
        "no second acknowledgement"
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#
        ]
    );
}

#[test]
fn a_listen_at_a_modern_child_does_not_make_a_log_line_ambiguous() {
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#,
    );
    reports(&mut relay);
    relay.open_session(A, false);
    relay.open_session(B, false);
    let listen = modern(
        5,
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    assert_eq!(send(&mut relay, A, &listen), Ok(1));
    assert_eq!(send(&mut relay, B, &modern(6, "tools/call", "")), Ok(1));
    assert_eq!(to_child(&mut relay).len(), 2);
    let log = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
    child(&mut relay, log);
    // the call's stream gets it, the listen's does not
    assert_eq!(frames(&mut relay, B), [log]);
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    // a second call makes it ambiguous again: nobody gets it
    relay.open_session(C, false);
    assert_eq!(send(&mut relay, C, &modern(7, "tools/call", "")), Ok(1));
    child(&mut relay, log);
    assert_eq!(frames(&mut relay, B), Vec::<String>::new());
    assert_eq!(frames(&mut relay, C), Vec::<String>::new());
}

#[test]
fn a_probe_refused_with_a_modern_error_does_not_fall_back() {
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    relay.open_session(A, false);
    assert_eq!(send(&mut relay, A, &modern(7, "tools/list", "")), Ok(1));
    // a reverse bridge saw a 2026-07-28 error over HTTP
    relay.handle_probe_refused();
    assert_eq!(reports(&mut relay), [Report::UpstreamRefused]);
    assert!(to_child(&mut relay).is_empty(), "no initialize, no request");
    let answer = frames(&mut relay, A);
    assert_eq!(answer.len(), 1);
    assert!(
        answer[0].contains(r#""id":7"#) && answer[0].contains("-32603"),
        "{answer:?}"
    );
    // the probe's late answer changes nothing
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x"}}"#,
    );
    assert!(to_child(&mut relay).is_empty());
    assert!(frames(&mut relay, A).is_empty());
}

#[test]
fn draining_ends_every_listen_with_its_final_result() {
    // A listen at a 2026-07-28 child: cancelled there, out of the id
    // table, its client told; a call in flight beside it is left alone.
    let mut relay = relay_era(UpstreamMode::Auto);
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"],"capabilities":{}}}"#,
    );
    reports(&mut relay);
    relay.open_session(A, false);
    relay.open_session(B, false);
    let listen = modern(
        5,
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    send(&mut relay, A, &listen).unwrap();
    send(&mut relay, B, &modern(6, "tools/call", "")).unwrap();
    assert_eq!(to_child(&mut relay).len(), 2);
    assert_eq!(relay.in_flight(), 2);
    relay.end_listens();
    assert_eq!(relay.in_flight(), 1);
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the gateway is shutting down"}}"#
        ]
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":5}}}"#
        ]
    );
    assert!(frames(&mut relay, B).is_empty());
    // The child's late notifications for it reach nobody.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#,
    );
    assert!(frames(&mut relay, A).is_empty());
    // Ending them again does nothing.
    relay.end_listens();
    assert!(to_child(&mut relay).is_empty());
    assert!(frames(&mut relay, A).is_empty());

    // A listen the relay serves for a handshake-era child.
    let mut relay = legacy_child(r#"{"tools":{"listChanged":true}}"#);
    relay.open_session(A, false);
    let listen = modern(
        "\"l\"",
        "subscriptions/listen",
        r#""notifications":{"toolsListChanged":true},"#,
    );
    send(&mut relay, A, &listen).unwrap();
    assert_eq!(frames(&mut relay, A).len(), 1, "the acknowledgement");
    relay.end_listens();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"l","result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":"l"}}}"#
        ]
    );
    assert!(to_child(&mut relay).is_empty());
}
