//! The scenarios every stdio→network transport must pass, written once
//! against [`McpClient`] and run for stdio→SSE (`sse::*`) and
//! stdio→WebSocket (`ws::*`): the real binary on 127.0.0.1:0 with the
//! fixture MCP server as its child. Transport-specific behaviour (HTTP
//! status codes, close codes, upgrade rules) stays in `stdio_sse.rs` and
//! `stdio_ws.rs`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::{tool_text, McpClient};
use serde_json::{json, Value};

/// Instantiates each scenario for both transports.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sse {
            $(#[test] fn $name() { super::$name::<crate::common::SseClient>() })*
        }
        mod ws {
            $(#[test] fn $name() { super::$name::<crate::common::WsClient>() })*
        }
    };
}

scenarios!(
    initialize_list_and_call_with_ids_kept_exactly,
    concurrent_clients_with_the_same_ids_get_only_their_own_answers,
    pipelined_requests_with_the_same_id_are_not_crossed,
    second_initialize_does_not_reinitialise_the_child,
    progress_goes_to_the_client_whose_token_it_is,
    sampling_request_reaches_the_asking_client_and_its_reply_the_child,
    notifications_without_a_request_go_to_every_client,
    child_per_session_isolates_clients,
    malformed_messages_get_an_error_and_the_connection_lives_on,
    child_exit_ends_connections_and_the_gateway_with_its_code,
);

fn echo(message: &str) -> Value {
    json!({"name":"echo","arguments":{"message":message}})
}

fn initialize_list_and_call_with_ids_kept_exactly<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut client = C::connect(&gw);
    let init = client.initialize();
    assert_eq!(init["id"], json!(0));
    assert_eq!(init["result"]["serverInfo"]["name"], "supergateway-fixture");
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    let tools = client.call(json!(1), "tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"echo"), "{names:?}");
    let reply = client.call(
        json!(2),
        "tools/call",
        json!({"name":"add","arguments":{"a":2,"b":3}}),
    );
    assert_eq!(tool_text(&reply), "5");
    // string ids come back as the same string, numbers as the same number
    for id in [json!("abc"), json!(1), json!(1.5), json!("a:1"), json!(-7)] {
        let reply = client.call(id.clone(), "tools/call", echo("hi \"there\""));
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(tool_text(&reply), "hi \"there\"");
    }
    client.expect_nothing();
}

fn concurrent_clients_with_the_same_ids_get_only_their_own_answers<C: McpClient>() {
    let gw = C::gateway(&[]);
    let threads: Vec<_> = (0..8)
        .map(|c| {
            let mut client = C::connect(&gw);
            std::thread::spawn(move || {
                client.initialize();
                for i in 1..=50 {
                    let message = format!("client {c} call {i}");
                    let reply = client.call(json!(i), "tools/call", echo(&message));
                    assert_eq!(reply["id"], json!(i));
                    assert_eq!(tool_text(&reply), message);
                }
                // every answer was the next message, and nothing is left
                client.expect_nothing();
                let pong = client.call(json!("last"), "ping", json!({}));
                assert_eq!(pong, json!({"jsonrpc":"2.0","id":"last","result":{}}));
                client
            })
        })
        .collect();
    // after everyone is done, nothing arrives late for anyone
    let mut clients: Vec<C> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for client in &mut clients {
        client.expect_nothing();
    }
}

fn pipelined_requests_with_the_same_id_are_not_crossed<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut a = C::connect(&gw);
    let mut b = C::connect(&gw);
    a.initialize();
    b.initialize();
    // both send id 7 before reading: the answers must not cross
    a.send(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":echo("from a")}));
    b.send(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":echo("from b")}));
    let answer = a.next_message();
    assert_eq!(
        (&answer["id"], tool_text(&answer).as_str()),
        (&json!(7), "from a")
    );
    let answer = b.next_message();
    assert_eq!(
        (&answer["id"], tool_text(&answer).as_str()),
        (&json!(7), "from b")
    );
    a.expect_nothing();
    b.expect_nothing();
}

fn second_initialize_does_not_reinitialise_the_child<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut a = C::connect(&gw);
    let mut b = C::connect(&gw);
    let first = a.initialize();
    let second = b.initialize();
    assert_eq!(first["result"], second["result"]);
    let count = b.call(
        json!(2),
        "tools/call",
        json!({"name":"init_count","arguments":{}}),
    );
    assert_eq!(tool_text(&count), "1");
    a.expect_nothing();
}

fn progress_goes_to_the_client_whose_token_it_is<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut a = C::connect(&gw);
    let mut b = C::connect(&gw);
    a.initialize();
    b.initialize();
    // both use the same id and token; each must see only its own progress
    for client in [&mut a, &mut b] {
        client.send(&json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
            "params":{"name":"progress","arguments":{"steps":3},"_meta":{"progressToken":"tok"}}}));
    }
    for client in [&mut a, &mut b] {
        // interleaved notifications are expected here: exactly three, in order
        for step in 1..=3 {
            assert_eq!(
                client.next_message(),
                json!({"jsonrpc":"2.0","method":"notifications/progress",
                    "params":{"progressToken":"tok","progress":step,"total":3}})
            );
        }
        let done = client.next_message();
        assert_eq!(done["id"], json!(5));
        assert_eq!(tool_text(&done), "done");
    }
    a.expect_nothing();
    b.expect_nothing();
}

fn sampling_request_reaches_the_asking_client_and_its_reply_the_child<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut idle = C::connect(&gw);
    let mut asker = C::connect(&gw);
    idle.initialize();
    asker.initialize();
    asker.send(&json!({"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"sample","arguments":{"prompt":"say hi"}}}));
    let sampling = asker.next_message();
    assert_eq!(sampling["method"], "sampling/createMessage", "{sampling}");
    assert_eq!(
        sampling["params"]["messages"][0]["content"]["text"],
        "say hi"
    );
    asker.send(&json!({"jsonrpc":"2.0","id":sampling["id"],"result":{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}}));
    let result = asker.next_message();
    assert_eq!(result["id"], json!("call-1"));
    assert_eq!(tool_text(&result), "sampled: hello");
    asker.expect_nothing();
    // the idle client saw none of it
    idle.expect_nothing();
    assert_eq!(
        idle.call(json!(9), "ping", json!({})),
        json!({"jsonrpc":"2.0","id":9,"result":{}})
    );
}

fn notifications_without_a_request_go_to_every_client<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut a = C::connect(&gw);
    let mut b = C::connect(&gw);
    a.initialize();
    b.initialize();
    let note = json!({"jsonrpc":"2.0","method":"notifications/message","params":{"data":"hello all","level":"info"}});
    // the asker gets the broadcast first, then its answer
    let (before, answer) = a.call_through(
        json!(3),
        "tools/call",
        json!({"name":"notify","arguments":{"message":"hello all"}}),
        1,
    );
    assert_eq!(before, vec![note.clone()]);
    assert_eq!(tool_text(&answer), "notified");
    // the other client gets the broadcast only
    assert_eq!(b.next_message(), note);
    a.expect_nothing();
    b.expect_nothing();
}

fn child_per_session_isolates_clients<C: McpClient>() {
    let gw = C::gateway(&["--childPerSession"]);
    let mut a = C::connect(&gw);
    let mut b = C::connect(&gw);
    a.initialize();
    b.initialize();
    for client in [&mut a, &mut b] {
        let count = client.call(
            json!(2),
            "tools/call",
            json!({"name":"init_count","arguments":{}}),
        );
        assert_eq!(tool_text(&count), "1");
    }
    // a's child crashing ends a's connection and leaves b untouched
    a.send(&json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"crash","arguments":{}}}));
    let error = a.next_message();
    assert_eq!(error["id"], json!(3));
    assert_eq!(error["error"]["code"], json!(-32000));
    a.expect_gone();
    b.expect_nothing();
    let reply = b.call(json!(4), "tools/call", echo("still here"));
    assert_eq!(tool_text(&reply), "still here");
}

fn malformed_messages_get_an_error_and_the_connection_lives_on<C: McpClient>() {
    let gw = C::gateway(&[]);
    let mut client = C::connect(&gw);
    let error = client.send_invalid("{not json");
    assert_eq!(error["id"], Value::Null, "{error}");
    assert_eq!(error["error"]["code"], json!(-32700), "{error}");
    let error = client.send_invalid(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#);
    assert_eq!(error["id"], Value::Null, "{error}");
    assert_eq!(error["error"]["code"], json!(-32600), "{error}");
    // nothing reached the child: no answer of its arrives
    client.expect_nothing();
    assert_eq!(
        client.call(json!(1), "ping", json!({})),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
}

fn child_exit_ends_connections_and_the_gateway_with_its_code<C: McpClient>() {
    let mut gw = C::gateway(&[]);
    let mut client = C::connect(&gw);
    client.initialize();
    client.send(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crash","arguments":{"code":7}}}));
    let error = client.next_message();
    assert_eq!(error["id"], json!(1));
    assert_eq!(error["error"]["code"], json!(-32000));
    client.expect_gone();
    assert_eq!(gw.wait_exit().code(), Some(7));
}
