//! stdio→Streamable HTTP end to end: the real binary on 127.0.0.1:0 with the
//! fixture MCP server, raw HTTP/1.1 over loopback, each rule of
//! PROTOCOL.md §1.4 that the gateway answers for.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{eventually, fixture, post, process_alive, tool_text, Gateway, Streamable};
use serde_json::{json, Value};

const LATEST: &str = "2025-11-25";

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec![
        "--stdio",
        fixture.as_str(),
        "--outputTransport",
        "streamableHttp",
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

fn echo(message: &str) -> Value {
    json!({"name":"echo","arguments":{"message":message}})
}

fn error_code(body: &common::Response) -> Value {
    body.json()["error"]["code"].clone()
}

#[test]
fn stateful_session_lifecycle() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    let init = client.initialize(LATEST);
    assert_eq!(init["result"]["protocolVersion"], LATEST);
    let session = client
        .session
        .clone()
        .expect("Mcp-Session-Id on the InitializeResult response");
    assert!(
        session.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "visible ASCII: {session}"
    );

    let messages = client.call(json!("a"), "tools/call", echo("hello"));
    assert_eq!(tool_text(messages.last().unwrap()), "hello");

    // DELETE ends the session: 200, then 404 + -32001 for anything else
    assert_eq!(client.delete().status, 200);
    let (head, _) = client.post(&json!({"jsonrpc":"2.0","id":2,"method":"ping"}));
    assert_eq!(head.status, 404);
    assert_eq!(error_code(&head), json!(-32001));
    assert_eq!(client.delete().status, 404);
}

#[test]
fn request_stream_shape_priming_and_end() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let (head, events) = client.post(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
        "params":{"name":"progress","arguments":{"steps":2},"_meta":{"progressToken":"p"}}}));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("cache-control"), Some("no-cache, no-transform"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    assert_eq!(head.header("mcp-session-id"), client.session.as_deref());
    let mut events = events.unwrap();
    // priming: an id and empty data, before anything else
    let priming = events.next_event().unwrap();
    assert_eq!(priming.data, "");
    let first_id = priming.id.expect("priming event id");
    let mut ids = vec![first_id];
    let mut messages = Vec::new();
    while let Some(event) = events.next_event() {
        ids.push(event.id.clone().expect("every event has an id"));
        messages.push(serde_json::from_str::<Value>(&event.data).unwrap());
    }
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0]["method"], "notifications/progress");
    assert_eq!(messages[0]["params"]["progressToken"], json!("p"));
    assert_eq!(messages[2]["id"], json!(7));
    let stream_part: Vec<&str> = ids.iter().map(|id| id.split('-').next().unwrap()).collect();
    assert!(
        stream_part.iter().all(|part| *part == stream_part[0]),
        "ids name their stream: {ids:?}"
    );
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn older_clients_get_no_priming_event() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    client.initialize("2025-06-18");
    let (_, events) = client.post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    let event = events.unwrap().next_event().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&event.data).unwrap()["id"],
        json!(1)
    );
}

#[test]
fn notifications_and_responses_get_202_empty() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let (head, events) =
        client.post(&json!({"jsonrpc":"2.0","method":"notifications/roots/list_changed"}));
    assert_eq!(head.status, 202);
    assert!(head.body.is_empty() && events.is_none());
}

#[test]
fn post_header_rules() {
    let gw = gateway(&["--stateful", "--maxBodyBytes", "2000"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let session = format!("Mcp-Session-Id: {}\r\n", client.session.as_deref().unwrap());

    // Accept must list both
    let only_json = format!("POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Type: application/json\r\n{session}Content-Length: {}\r\n\r\n{ping}", ping.len());
    let response = gw.request(only_json.as_bytes());
    assert_eq!(response.status, 406);
    assert_eq!(error_code(&response), json!(-32000));
    // Content-Type must be JSON
    let text = format!("POST /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json, text/event-stream\r\nContent-Type: text/plain\r\n{session}Content-Length: {}\r\n\r\n{ping}", ping.len());
    assert_eq!(gw.request(text.as_bytes()).status, 415);
    // body limit
    let big =
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":echo(&"x".repeat(3000))});
    assert_eq!(client.post(&big).0.status, 413);
    // invalid JSON
    let (head, _) = client.post_raw("{oops", "");
    assert_eq!(head.status, 400);
    assert_eq!(error_code(&head), json!(-32700));
    // unsupported protocol version: 400 with -32022 naming the supported
    // ones and echoing the request's (MCP 2026-07-28 §Protocol Version
    // Negotiation); a malformed revision is just as unsupported
    let unversioned = Streamable {
        version: None,
        ..client.clone()
    };
    for version in ["1999-01-01", "2025-11-25-draft", "2025-1-25", "v999.0.0"] {
        let (head, _) = unversioned.post_raw(ping, &format!("MCP-Protocol-Version: {version}\r\n"));
        assert_eq!(head.status, 400, "{version}");
        assert_eq!(
            head.json(),
            json!({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version","data":{
                "supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],
                "requested":version}}}),
            "{version}"
        );
    }
    // A 2026-07-28 client must name the method in Mcp-Method: 400 -32020.
    let (head, _) = unversioned.post_raw(
        r#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
        "MCP-Protocol-Version: 2026-07-28\r\n",
    );
    assert_eq!(head.status, 400);
    assert_eq!(error_code(&head), json!(-32020));
    // unsupported method
    let put = format!("PUT /mcp HTTP/1.1\r\nHost: localhost\r\n{session}Content-Length: 0\r\n\r\n");
    let response = gw.request(put.as_bytes());
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, POST, DELETE"));
    // the session still works
    assert_eq!(
        client.call(json!(2), "ping", json!({})).last().unwrap()["result"],
        json!({})
    );
}

#[test]
fn stateful_session_id_rules() {
    let gw = gateway(&["--stateful"]);
    let client = Streamable::new(&gw);
    let (head, _) = client.post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(head.status, 400, "missing session id");
    assert_eq!(error_code(&head), json!(-32000));
    let unknown = Streamable {
        session: Some("nope".into()),
        ..Streamable::new(&gw)
    };
    let (head, _) = unknown.post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(head.status, 404);
    assert_eq!(error_code(&head), json!(-32001));
    // a second initialize on a session
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let (head, _) = client.post(&json!({"jsonrpc":"2.0","id":9,"method":"initialize",
        "params":{"protocolVersion":LATEST,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
    assert_eq!(head.status, 400);
    assert_eq!(error_code(&head), json!(-32600));
}

#[test]
fn batches_only_for_2025_03_26() {
    let gw = gateway(&["--stateful"]);
    let mut old = Streamable::new(&gw);
    old.initialize("2025-03-26");
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}]"#;
    let (head, events) = old.post_raw(batch, "");
    assert_eq!(head.status, 200);
    let mut ids: Vec<Value> = events
        .unwrap()
        .rest()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    ids.sort_by_key(|id| id.as_i64());
    assert_eq!(ids, vec![json!(1), json!(2)]);

    let mut new = Streamable::new(&gw);
    new.initialize(LATEST);
    let (head, _) = new.post_raw(batch, "");
    assert_eq!(head.status, 400);
    assert_eq!(error_code(&head), json!(-32600));
}

#[test]
fn standalone_get_stream_and_409_for_a_second() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let (head, events) = client.get("");
    assert_eq!(head.status, 200);
    let mut events = events.unwrap();
    assert_eq!(events.next_event().unwrap().data, "", "priming");
    let (second, _) = client.get("");
    assert_eq!(second.status, 409);
    assert_eq!(error_code(&second), json!(-32000));
    // a log line written while a request is in flight goes on that request's stream only
    let notify = json!({"name":"notify","arguments":{"message":"hi"}});
    let messages = client.call(json!(3), "tools/call", notify);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["method"], "notifications/message");
    // a notification that belongs to no request goes to the standalone stream, and only there
    let announce = json!({"name":"announce","arguments":{"ms":100}});
    let messages = client.call(json!(4), "tools/call", announce);
    assert_eq!(
        messages.len(),
        1,
        "the POST stream carries only its answer: {messages:?}"
    );
    let note = events.next_message().unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed");
    // GET needs text/event-stream in Accept
    let no_accept = format!("GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nMcp-Session-Id: {}\r\n\r\n", client.session.as_deref().unwrap());
    assert_eq!(gw.request(no_accept.as_bytes()).status, 406);
}

#[test]
fn last_event_id_resumes_that_stream_only() {
    let gw = gateway(&["--stateful"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    // a call that waits for the client (a sampling request) and whose
    // connection breaks after the priming event and that request
    let (_, events) = client.post(&json!({"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"sample","arguments":{"prompt":"hi"}}}));
    let mut events = events.unwrap();
    let priming = events.next_event().unwrap();
    assert_eq!(priming.data, "", "{priming:?}");
    let priming_id = priming.id.unwrap();
    let sampling = events.next_message().unwrap();
    assert_eq!(sampling["method"], "sampling/createMessage", "{sampling}");
    drop(events);
    // another stream's traffic meanwhile
    let other = client.call(json!("other"), "tools/call", echo("not yours"));
    assert_eq!(tool_text(other.last().unwrap()), "not yours");
    // the reply lets the child answer the call whose stream is broken
    let reply = json!({"jsonrpc":"2.0","id":sampling["id"],"result":{"role":"assistant","content":{"type":"text","text":"sure"},"model":"m"}});
    let (head, _) = client.post(&reply);
    assert_eq!(head.status, 202);
    // Evidence that the answer has reached the broken stream: the child
    // reads in order and answers the call as soon as it reads the reply, and
    // the gateway relays the child's output in order, so the ping's answer
    // comes back after it.
    assert_eq!(
        client.call(json!("seen"), "ping", json!({})),
        vec![json!({"jsonrpc":"2.0","id":"seen","result":{}})]
    );
    // resume: exactly the broken stream's events after the priming one,
    // nothing of the other streams
    let (head, events) = client.get(&format!("Last-Event-ID: {priming_id}\r\n"));
    assert_eq!(head.status, 200);
    let messages = events.unwrap().rest();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0], sampling);
    assert_eq!(messages[1]["id"], json!("slow"));
    assert_eq!(tool_text(&messages[1]), "sampled: sure");
}

#[test]
fn session_timeout_ends_idle_sessions_and_their_child() {
    let gw = gateway(&["--stateful", "--sessionTimeout", "300"]);
    let mut client = Streamable::new(&gw);
    client.initialize(LATEST);
    let session = client.session.clone().unwrap();
    eventually("the idle session expires", || {
        gw.log()
            .contains(&format!("session {session} expired after 300 ms idle"))
    });
    let (head, _) = client.post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(head.status, 404);
    eventually("the session's child is gone", || {
        !gw.log().contains("child started") || gw.log().contains("child exited")
    });
}

#[test]
fn max_sessions_is_503() {
    let gw = gateway(&["--stateful", "--maxSessions", "2"]);
    let mut a = Streamable::new(&gw);
    let mut b = Streamable::new(&gw);
    a.initialize(LATEST);
    b.initialize(LATEST);
    let c = Streamable::new(&gw);
    let (head, _) = c.post(&json!({"jsonrpc":"2.0","id":0,"method":"initialize",
        "params":{"protocolVersion":LATEST,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
    assert_eq!(head.status, 503);
    assert_eq!(a.delete().status, 200);
    let mut c = Streamable::new(&gw);
    c.initialize(LATEST);
}

#[test]
fn stateful_sessions_each_have_their_own_child() {
    let gw = gateway(&["--stateful"]);
    let threads: Vec<_> = (0..8)
        .map(|c| {
            let gw_addr = gw.addr;
            std::thread::spawn(move || {
                let mut client = Streamable::at(gw_addr);
                client.initialize(LATEST);
                let count = client.call(
                    json!(1),
                    "tools/call",
                    json!({"name":"init_count","arguments":{}}),
                );
                assert_eq!(tool_text(count.last().unwrap()), "1");
                for i in 2..30 {
                    let message = format!("session {c} call {i}");
                    let messages = client.call(json!(i), "tools/call", echo(&message));
                    assert_eq!(tool_text(messages.last().unwrap()), message);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn stateless_shares_one_child_initialised_once() {
    let gw = gateway(&[]);
    let threads: Vec<_> = (0..8)
        .map(|c| {
            let gw_addr = gw.addr;
            std::thread::spawn(move || {
                let mut client = Streamable::at(gw_addr);
                client.initialize(LATEST);
                assert!(client.session.is_none(), "no session ids when stateless");
                for i in 1..30 {
                    let message = format!("client {c} call {i}");
                    let messages = client.call(json!(i), "tools/call", echo(&message));
                    assert_eq!(tool_text(messages.last().unwrap()), message);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let client = Streamable::new(&gw);
    let count = client.call(
        json!(1),
        "tools/call",
        json!({"name":"init_count","arguments":{}}),
    );
    assert_eq!(tool_text(count.last().unwrap()), "1");
}

#[test]
fn stateless_gateway_initialises_the_child_itself() {
    let gw = gateway(&["--protocolVersion", "2025-06-18"]);
    // no initialize from the client at all
    let client = Streamable::new(&gw);
    let messages = client.call(json!("first"), "tools/call", echo("direct"));
    assert_eq!(tool_text(messages.last().unwrap()), "direct");
    // a later client's initialize is answered from the child's result
    let mut late = Streamable::new(&gw);
    let init = late.initialize(LATEST);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let count = client.call(
        json!(2),
        "tools/call",
        json!({"name":"init_count","arguments":{}}),
    );
    assert_eq!(tool_text(count.last().unwrap()), "1");
}

#[test]
fn sampling_travels_on_the_request_stream() {
    for stateful in [false, true] {
        let gw = if stateful {
            gateway(&["--stateful"])
        } else {
            gateway(&[])
        };
        let mut client = Streamable::new(&gw);
        client.initialize(LATEST);
        let (_, events) = client.post(&json!({"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"sample","arguments":{"prompt":"hi"}}}));
        let mut events = events.unwrap();
        let request = events.next_message().unwrap();
        assert_eq!(request["method"], "sampling/createMessage", "{request}");
        let reply = json!({"jsonrpc":"2.0","id":request["id"],"result":{"role":"assistant","content":{"type":"text","text":"sure"},"model":"m"}});
        let (head, _) = client.post(&reply);
        assert_eq!(head.status, 202);
        let result = events.next_message().unwrap();
        assert_eq!(result["id"], json!("call"));
        assert_eq!(tool_text(&result), "sampled: sure");
        assert!(
            events.next_message().is_none(),
            "the stream ends after the answer"
        );
    }
}

#[test]
fn stateless_child_per_request_reaps_each_child() {
    let gw = gateway(&["--childPerSession"]);
    for i in 0..3 {
        let client = Streamable::new(&gw);
        let count = client.call(
            json!(i),
            "tools/call",
            json!({"name":"init_count","arguments":{}}),
        );
        assert_eq!(
            tool_text(count.last().unwrap()),
            "1",
            "each request has a fresh child"
        );
    }
    eventually("every child exited", || {
        gw.log().matches("child exited").count() == 3
    });
    let pids: Vec<i32> = gw
        .log()
        .lines()
        .filter_map(|l| {
            l.split("child started (pid ")
                .nth(1)?
                .split(')')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|pid| !process_alive(*pid)));
}

#[test]
fn stateless_get_and_delete_are_405() {
    let gw = gateway(&[]);
    let client = Streamable::new(&gw);
    assert_eq!(client.get("").0.status, 405);
    assert_eq!(client.delete().status, 405);
}

#[test]
fn dns_rebinding_is_403() {
    let gw = gateway(&["--stateful"]);
    let body = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":LATEST,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string();
    let foreign = format!("POST /mcp HTTP/1.1\r\nHost: evil.example\r\nOrigin: http://evil.example\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let response = gw.request(foreign.as_bytes());
    assert_eq!(response.status, 403);
    assert_eq!(error_code(&response), json!(-32000));
    assert!(
        !gw.log().contains("child started"),
        "no session was created"
    );
    let local = post(
        "/mcp",
        &body,
        "Accept: application/json, text/event-stream\r\nOrigin: http://localhost:3000\r\n",
    );
    assert_eq!(gw.request(&local).status, 200);
}
