//! stdio→SSE end to end: the real binary on 127.0.0.1:0, the fixture MCP
//! server as its child, raw HTTP/1.1 and SSE over loopback sockets.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufReader, Write};
use std::time::Duration;

use common::{
    eventually, fixture, post, process_alive, read_response, tool_text, Gateway, SseClient,
};
use serde_json::{json, Value};

fn gateway(extra: &[&str]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str()];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

#[test]
fn initialize_list_and_call() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    assert_eq!(
        client.head.header("content-type"),
        Some("text/event-stream")
    );
    assert!(
        client.endpoint.starts_with("/message?sessionId="),
        "{}",
        client.endpoint
    );

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

    // string ids come back as the same string, numbers as the same number
    let reply = client.call(
        json!("abc"),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"hi \"there\""}}),
    );
    assert_eq!(reply["id"], json!("abc"));
    assert_eq!(tool_text(&reply), "hi \"there\"");
    let reply = client.call(
        json!(1.5),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"x"}}),
    );
    assert_eq!(reply["id"], json!(1.5));
}

#[test]
fn post_answers_202_accepted() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    let response = client.send(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
    assert_eq!(response.status, 202);
    assert_eq!(response.text(), "Accepted");
    assert_eq!(
        client.next_message(),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
}

#[test]
fn concurrent_clients_with_the_same_ids_get_only_their_own_answers() {
    let gw = gateway(&[]);
    let threads: Vec<_> = (0..8)
        .map(|c| {
            let mut client = SseClient::connect(&gw);
            std::thread::spawn(move || {
                client.initialize();
                for i in 1..=50 {
                    let message = format!("client {c} call {i}");
                    let reply = client.call(
                        json!(i),
                        "tools/call",
                        json!({"name":"echo","arguments":{"message":message}}),
                    );
                    assert_eq!(reply["id"], json!(i));
                    assert_eq!(tool_text(&reply), message);
                }
                // nothing else is left for this client: a ping's answer is next
                let pong = client.call(json!("last"), "ping", json!({}));
                assert_eq!(pong["result"], json!({}));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn pipelined_requests_are_answered_each_with_its_own_id() {
    let gw = gateway(&[]);
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
    a.initialize();
    b.initialize();
    // both send id 7 before reading: the answers must not cross
    assert_eq!(a.send(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"from a"}}})).status, 202);
    assert_eq!(b.send(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"from b"}}})).status, 202);
    assert_eq!(tool_text(&a.next_message()), "from a");
    assert_eq!(tool_text(&b.next_message()), "from b");
}

#[test]
fn second_initialize_does_not_reinitialise_the_child() {
    let gw = gateway(&[]);
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
    let first = a.initialize();
    let second = b.initialize();
    assert_eq!(first["result"], second["result"]);
    let count = b.call(
        json!(2),
        "tools/call",
        json!({"name":"init_count","arguments":{}}),
    );
    assert_eq!(tool_text(&count), "1");
}

#[test]
fn progress_goes_to_the_client_whose_token_it_is() {
    let gw = gateway(&[]);
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
    a.initialize();
    b.initialize();
    // both use the same token; each must see only its own progress
    for client in [&mut a, &mut b] {
        let request = json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
            "params":{"name":"progress","arguments":{"steps":3},"_meta":{"progressToken":"tok"}}});
        assert_eq!(client.send(&request).status, 202);
    }
    for client in [&mut a, &mut b] {
        for step in 1..=3 {
            let note = client.next_message();
            assert_eq!(note["method"], "notifications/progress", "{note}");
            assert_eq!(note["params"]["progressToken"], json!("tok"));
            assert_eq!(note["params"]["progress"], json!(step));
        }
        let done = client.next_message();
        assert_eq!(done["id"], json!(5));
        assert_eq!(tool_text(&done), "done");
    }
}

#[test]
fn sampling_request_reaches_the_asking_client_and_its_reply_the_child() {
    let gw = gateway(&[]);
    let mut idle = SseClient::connect(&gw);
    let mut asker = SseClient::connect(&gw);
    idle.initialize();
    asker.initialize();
    let request = json!({"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"sample","arguments":{"prompt":"say hi"}}});
    assert_eq!(asker.send(&request).status, 202);
    let sampling = asker.next_message();
    assert_eq!(sampling["method"], "sampling/createMessage", "{sampling}");
    let reply = json!({"jsonrpc":"2.0","id":sampling["id"],"result":{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}});
    assert_eq!(asker.send(&reply).status, 202);
    let result = asker.next_message();
    assert_eq!(result["id"], json!("call-1"));
    assert_eq!(tool_text(&result), "sampled: hello");
    // the idle client saw none of it: its next message is its own ping's answer
    assert_eq!(
        idle.call(json!(9), "ping", json!({})),
        json!({"jsonrpc":"2.0","id":9,"result":{}})
    );
}

#[test]
fn notifications_without_a_request_go_to_every_client() {
    let gw = gateway(&[]);
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
    a.initialize();
    b.initialize();
    let request = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"notify","arguments":{"message":"hello all"}}});
    assert_eq!(a.send(&request).status, 202);
    let note = json!({"jsonrpc":"2.0","method":"notifications/message","params":{"data":"hello all","level":"info"}});
    assert_eq!(a.next_message(), note);
    assert_eq!(tool_text(&a.next_message()), "notified");
    assert_eq!(b.next_message(), note);
}

#[test]
fn child_per_session_isolates_clients() {
    let gw = gateway(&["--childPerSession"]);
    let mut a = SseClient::connect(&gw);
    let mut b = SseClient::connect(&gw);
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
    // a's child crashing leaves b untouched
    assert_eq!(a.send(&json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"crash","arguments":{}}})).status, 202);
    let error = a.next_message();
    assert_eq!(error["id"], json!(3));
    assert_eq!(error["error"]["code"], json!(-32000));
    assert!(a.next_event().is_none(), "a's stream ends with its child");
    let reply = b.call(
        json!(4),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"still here"}}),
    );
    assert_eq!(tool_text(&reply), "still here");
}

#[test]
fn malformed_json_is_a_400_parse_error_and_the_stream_lives_on() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    let response = client.send_raw("{not json");
    assert_eq!(response.status, 400);
    let body = response.json();
    assert_eq!(body["error"]["code"], json!(-32700));
    assert_eq!(body["id"], Value::Null);
    let response = client.send_raw(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#);
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"]["code"], json!(-32600));
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn session_errors() {
    let gw = gateway(&[]);
    let missing = gw.request(&post("/message", "{}", ""));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["jsonrpc"], "2.0");
    let unknown = gw.request(&post(
        "/message?sessionId=nope",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        "",
    ));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], json!(-32001));
    let wrong_type = gw.request(b"POST /message?sessionId=x HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(wrong_type.status, 415);
    let not_found = gw.request(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.header("content-type"), Some("application/json"));
    let wrong_method = gw.request(b"DELETE /sse HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));
}

#[test]
fn oversize_body_is_413_and_the_gateway_keeps_serving() {
    let gw = gateway(&["--maxBodyBytes", "1000"]);
    let mut client = SseClient::connect(&gw);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "x".repeat(2000)
    );
    let response = gw.request(&post(&client.endpoint, &big, ""));
    assert_eq!(response.status, 413);
    assert_eq!(response.json()["jsonrpc"], "2.0");
    // chunked bodies count too
    let chunked = format!("POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n", client.endpoint, big.len());
    assert_eq!(gw.request(chunked.as_bytes()).status, 413);
    assert_eq!(
        client.call(json!(2), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn smuggling_attempts_are_rejected_and_do_not_disturb_the_stream() {
    let gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    let endpoint = client.endpoint.clone();
    let ping = r#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#;
    let cases: Vec<(String, u16)> = vec![
        // CL + TE
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        // duplicate Content-Length
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nContent-Length: {}\r\n\r\n{ping}", ping.len(), ping.len()), 400),
        // malformed Content-Length
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: +{}\r\n\r\n{ping}", ping.len()), 400),
        // TE other than chunked
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 501),
        // chunk-size overflow with a smuggled request behind it
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nf0000000000000003\r\nabc\r\n0\r\n\r\nPOST {endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
        // missing Host on HTTP/1.1
        (format!("POST {endpoint} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
        // obs-fold
        (format!("POST {endpoint} HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\nContent-Length: {}\r\n\r\n{ping}", ping.len()), 400),
    ];
    for (raw, status) in cases {
        let mut stream = gw.connect();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let response = read_response(&mut reader);
        assert_eq!(response.status, status, "{raw:?}");
        assert_eq!(response.header("connection"), Some("close"), "{raw:?}");
    }
    // nothing smuggled reached the child: the next message is our own ping's
    assert_eq!(
        client.call(json!(1), "ping", json!({})),
        json!({"jsonrpc":"2.0","id":1,"result":{}})
    );
}

#[test]
fn slow_drip_head_times_out_with_408() {
    let gw = gateway(&["--headTimeout", "500"]);
    let mut stream = gw.connect();
    stream.write_all(b"GET /sse HTTP/1.1\r\n").unwrap();
    let started = std::time::Instant::now();
    // one byte every 100 ms keeps each read alive, but not the whole head
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let dripper = std::thread::spawn(move || {
        for _ in 0..30 {
            if stream.write_all(b"X").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let response = read_response(&mut reader);
    assert_eq!(response.status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline covers the whole head"
    );
    dripper.join().unwrap();
    // still serving
    let mut client = SseClient::connect(&gw);
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
}

#[test]
fn non_json_stdout_lines_are_dropped() {
    let fixture = fixture();
    let gw = Gateway::start_with_env(
        &["--stdio", &fixture],
        &[("FIXTURE_BANNER", "hello, I am not JSON")],
    );
    let mut client = SseClient::connect(&gw);
    assert_eq!(
        client.call(json!(1), "ping", json!({}))["result"],
        json!({})
    );
    eventually("the dropped line is logged", || {
        gw.log().contains("not a JSON-RPC message")
    });
}

#[test]
fn health_endpoint_and_configured_headers() {
    let gw = gateway(&[
        "--healthEndpoint",
        "/healthz",
        "--healthEndpoint",
        "/ready",
        "--header",
        "X-Test: yes",
    ]);
    for path in ["/healthz", "/ready"] {
        let response =
            gw.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "ok");
        assert_eq!(response.header("x-test"), Some("yes"));
    }
}

#[test]
fn cors_preflight_and_headers() {
    let gw = gateway(&["--cors", "http://app.example", "/^https://.*\\.trusted$/"]);
    let preflight = gw.request(b"OPTIONS /message HTTP/1.1\r\nHost: localhost\r\nOrigin: http://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n");
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type")
    );
    let allowed = gw
        .request(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nOrigin: https://x.trusted\r\n\r\n");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://x.trusted")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        Some("mcp-session-id")
    );
    let denied = gw.request(
        b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n",
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-origin"), None);
}

#[test]
fn foreign_host_or_origin_is_403_on_loopback() {
    let gw = gateway(&[]);
    let rebinding = gw.request(b"GET /sse HTTP/1.1\r\nHost: evil.example:8000\r\n\r\n");
    assert_eq!(rebinding.status, 403);
    assert_eq!(rebinding.json()["error"]["code"], json!(-32000));
    let origin =
        gw.request(b"GET /sse HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\n\r\n");
    assert_eq!(origin.status, 403);
    let local = gw.request(
        b"GET /healthz HTTP/1.1\r\nHost: localhost:1234\r\nOrigin: http://localhost:3000\r\n\r\n",
    );
    assert_eq!(local.status, 404);
}

#[test]
fn child_exit_ends_streams_and_the_gateway_with_its_code() {
    let mut gw = gateway(&[]);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    assert_eq!(client.send(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crash","arguments":{"code":7}}})).status, 202);
    let error = client.next_message();
    assert_eq!(error["id"], json!(1));
    assert_eq!(error["error"]["code"], json!(-32000));
    assert!(client.next_event().is_none());
    assert_eq!(gw.wait_exit().code(), Some(7));
}

#[test]
fn sigterm_stops_the_child_and_its_group() {
    let fixture = fixture();
    let mut gw =
        Gateway::start_with_env(&["--stdio", &fixture], &[("FIXTURE_SPAWN_GRANDCHILD", "1")]);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let pid = grandchild_pid(&gw);
    assert!(process_alive(pid));
    gw.signal("TERM");
    assert_eq!(gw.wait_exit().code(), Some(0));
    eventually("the grandchild is gone", || !process_alive(pid));
}

#[test]
fn a_child_ignoring_sigterm_is_killed() {
    let fixture = fixture();
    let mut gw = Gateway::start_with_env(
        &["--stdio", &fixture],
        &[
            ("FIXTURE_IGNORE_SIGTERM", "1"),
            ("FIXTURE_SPAWN_GRANDCHILD", "1"),
        ],
    );
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let pid = grandchild_pid(&gw);
    gw.signal("INT");
    assert_eq!(gw.wait_exit().code(), Some(0));
    eventually("the grandchild is gone", || !process_alive(pid));
    assert!(gw.log().contains("SIGKILL"), "{}", gw.log());
}

fn grandchild_pid(gw: &Gateway) -> i32 {
    let mut pid = None;
    eventually("the fixture reports its grandchild", || {
        pid = gw.log().lines().find_map(|line| {
            line.split("grandchild pid ")
                .nth(1)
                .and_then(|p| p.trim().parse().ok())
        });
        pid.is_some()
    });
    pid.unwrap()
}

#[test]
fn endpoint_is_absolute_with_a_base_url() {
    let gw = gateway(&[
        "--baseUrl",
        "http://example.com:9/",
        "--messagePath",
        "/rpc",
        "--ssePath",
        "/events",
    ]);
    let client = SseClient::connect_path(&gw, "/events");
    assert!(
        client
            .endpoint
            .starts_with("http://example.com:9/rpc?sessionId="),
        "{}",
        client.endpoint
    );
}

#[test]
fn closing_the_stream_ends_the_session() {
    let gw = gateway(&[]);
    let client = SseClient::connect(&gw);
    let endpoint = client.endpoint.clone();
    client.shutdown();
    drop(client);
    eventually("POSTs to the closed session get 404", || {
        gw.request(&post(
            &endpoint,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            "",
        ))
        .status
            == 404
    });
}

#[test]
fn a_client_that_does_not_read_is_disconnected_without_disturbing_others() {
    let gw = gateway(&[]);
    let mut slow = SseClient::connect(&gw); // reads nothing after the endpoint event
    let mut fast = SseClient::connect(&gw);
    fast.initialize();
    let big = json!({"name":"big","arguments":{"bytes": 2 * 1024 * 1024}});
    for id in 0..24 {
        let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":big});
        let status = slow.send(&request).status;
        assert!(status == 202 || status == 404, "{status}");
    }
    let ping = json!({"jsonrpc":"2.0","id":"p","method":"ping"});
    eventually("the slow client's session is closed", || {
        slow.send(&ping).status == 404
    });
    eventually("the disconnection is logged", || {
        gw.log().contains("not reading its stream fast enough")
    });
    let reply = fast.call(
        json!(1),
        "tools/call",
        json!({"name":"echo","arguments":{"message":"fine"}}),
    );
    assert_eq!(tool_text(&reply), "fine");
}
