//! Input round trips (MRTR, design/2026-07-28.md c.5, c.6) end to end: the
//! real binary in front of a handshake-era child (the conformance fixture
//! with `CONFORMANCE_FIXTURE_ERA=legacy`, or a small shell server where a
//! test needs a child that holds a request open), 2026-07-28 clients on
//! Streamable HTTP (stateless and `--stateful`), WebSocket and SSE. A legacy
//! child's `elicitation/create` / `sampling/createMessage` / `roots/list`
//! becomes an `InputRequiredResult` with a sealed `requestState`; the
//! client's retry carries the answers back to the child under the child's
//! own ids. What the child was sent is read from a `tee` of its stdin.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{conformance_server, eventually, Gateway, SseClient, Streamable, WsClient};
use serde_json::{json, Value};
use supergateway_proto::mcp::request_state::{dangerous_peek, StatePayload};

const MODERN: &str = "2026-07-28";
/// Every capability an input request can need.
const ALL_CAPS: &str = r#"{"elicitation":{},"sampling":{},"roots":{}}"#;
const ELICITATION: &str = "test_input_required_result_elicitation";
const MULTIPLE: &str = "test_input_required_result_multiple_inputs";
const MULTI_ROUND: &str = "test_input_required_result_multi_round";
/// The fixture's `elicitation/create` for `user_name` (its params' bytes).
const ASK_NAME: &str = r#"{"method":"elicitation/create","params":{"message":"What is your name?","requestedSchema":{"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"}}}"#;
const ALICE: &str = r#"{"action":"accept","content":{"name":"Alice"}}"#;
/// What every refused `requestState` gets (the wire text is frozen).
const INVALID_STATE: &str = r#""error":{"code":-32602,"message":"Invalid or expired requestState","data":{"reason":"invalid_request_state"}}}"#;

/// A file in the temporary directory, unique to this test process.
fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sg-mrtr-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The lines the child was sent (its stdin, through `tee`).
fn child_lines(seen: &Path) -> Vec<String> {
    std::fs::read_to_string(seen)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The child's lines from the first that contains `from` on, once there
/// are at least `at_least` (`tee` writes its file after the child's pipe,
/// so the file may lag behind what the child answered).
fn lines_from(seen: &Path, from: &str, at_least: usize) -> Vec<String> {
    let mut found = Vec::new();
    eventually(
        &format!("{at_least} lines from {from} at the child"),
        || {
            let lines = child_lines(seen);
            found = match lines.iter().position(|l| l.contains(from)) {
                Some(start) => lines[start..].to_vec(),
                None => Vec::new(),
            };
            found.len() >= at_least
        },
    );
    found
}

/// The gateway id a request was forwarded to the child with.
fn gateway_id(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["id"]
        .as_u64()
        .unwrap()
}

/// `supergateway --stdio "tee -a SEEN | <legacy fixture>" --outputTransport
/// OUTPUT --upstreamProtocol UPSTREAM EXTRA…`.
fn gateway(seen: &Path, output: &str, upstream: &str, extra: &[&str]) -> Gateway {
    let command = format!("tee -a {} | {}", seen.display(), conformance_server());
    gateway_for(&command, output, upstream, extra)
}

fn gateway_for(command: &str, output: &str, upstream: &str, extra: &[&str]) -> Gateway {
    let mut args = vec![
        "--stdio",
        command,
        "--outputTransport",
        output,
        "--upstreamProtocol",
        upstream,
    ];
    args.extend_from_slice(extra);
    Gateway::start_with_env(&args, &[("CONFORMANCE_FIXTURE_ERA", "legacy")])
}

/// A 2026-07-28 request's bytes: `{"jsonrpc":"2.0","id":ID,"method":M,
/// "params":{TARGET_KEY:TARGET,EXTRA…,"_meta":{version, CAPS}}}`; `extra`
/// is raw members (each followed by a comma).
fn request(id: &str, method: &str, target: &str, caps: &str, extra: &str) -> String {
    let key = if method == "resources/read" {
        "uri"
    } else {
        "name"
    };
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{"{key}":"{target}",{extra}"_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{caps}}}}}}}"#
    )
}

/// `"inputResponses":RESPONSES,"requestState":"STATE",` for [`request`].
fn retry(responses: &str, state: &str) -> String {
    format!(r#""inputResponses":{responses},"requestState":"{state}","#)
}

/// POSTs a 2026-07-28 request with conforming routing headers; its answer
/// must come alone, as JSON: (status, body).
fn post(http: &Streamable, method: &str, target: &str, body: &str) -> (u16, String) {
    let headers =
        format!("MCP-Protocol-Version: {MODERN}\r\nMcp-Method: {method}\r\nMcp-Name: {target}\r\n");
    let (head, events) = http.post_raw(body, &headers);
    assert!(events.is_none(), "expected JSON, got a stream: {head:?}");
    assert_eq!(head.header("content-type"), Some("application/json"));
    (head.status, head.text())
}

/// [`post`] of a `tools/call` that must be answered 200.
fn call(http: &Streamable, tool: &str, id: u32, caps: &str, extra: &str) -> String {
    let (status, body) = post(
        http,
        "tools/call",
        tool,
        &request(&id.to_string(), "tools/call", tool, caps, extra),
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Splits an `InputRequiredResult`'s text into the text with its state
/// replaced by `STATE` and the state, which must be a well-formed token.
fn take_state(text: &str) -> (String, String) {
    const KEY: &str = r#""requestState":""#;
    let at = text
        .find(KEY)
        .unwrap_or_else(|| panic!("no requestState in {text}"))
        + KEY.len();
    let len = text[at..].find('"').unwrap();
    let state = text[at..at + len].to_owned();
    assert!(
        dangerous_peek(&state).is_ok(),
        "not a well-formed state: {state}"
    );
    (text.replace(&state, "STATE"), state)
}

/// What a state names (read without its MAC, as a load balancer would).
fn peek(state: &str) -> StatePayload {
    dangerous_peek(state).unwrap()
}

/// The exact `InputRequiredResult` the gateway writes.
fn input_required(id: &str, requests: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"resultType":"input_required","inputRequests":{{{requests}}},"requestState":"STATE"}}}}"#
    )
}

/// A legacy fixture's tool result as the gateway completes it (the
/// fixture writes its keys sorted; the gateway splices the id and inserts
/// `resultType`).
fn completed_text(id: &str, text: &str) -> String {
    format!(
        r#"{{"id":{id},"jsonrpc":"2.0","result":{{"resultType":"complete","content":[{{"text":"{text}","type":"text"}}]}}}}"#
    )
}

#[test]
fn an_elicitation_becomes_an_input_required_result_and_the_retry_completes_it() {
    for (upstream, extra) in [
        ("legacy", &[][..]),
        ("auto", &[][..]),
        ("legacy", &["--stateful"][..]),
        ("auto", &["--stateful"][..]),
    ] {
        let what = format!("--upstreamProtocol {upstream} {extra:?}");
        let seen = temp_path(&format!("basic-{upstream}-{}", extra.len()));
        let gw = gateway(&seen, "streamableHttp", upstream, extra);
        let http = Streamable::new(&gw);
        // The key is the child's own request id; the params are its bytes.
        let (asked, state) = take_state(&call(&http, ELICITATION, 1, ALL_CAPS, ""));
        assert_eq!(
            asked,
            input_required("1", &format!(r#""user_name":{ASK_NAME}"#)),
            "{what}"
        );
        let answer = call(
            &http,
            ELICITATION,
            2,
            ALL_CAPS,
            &retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state),
        );
        assert_eq!(answer, completed_text("2", "Hello, Alice!"), "{what}");
        // The child got the call once, then the client's answer under its
        // own request id, byte for byte; the retry itself never reached it.
        let lines = lines_from(&seen, ELICITATION, 2);
        assert_eq!(lines.len(), 2, "{what}: {lines:#?}");
        assert!(lines[0].contains(r#""method":"tools/call""#), "{what}");
        assert_eq!(
            lines[1],
            format!(r#"{{"jsonrpc":"2.0","id":"user_name","result":{ALICE}}}"#),
            "{what}"
        );
        let _ = std::fs::remove_file(&seen);
    }
}

#[test]
fn several_questions_travel_in_one_result_and_each_round_has_its_own_state() {
    let seen = temp_path("several");
    let gw = gateway(&seen, "streamableHttp", "legacy", &[]);
    let http = Streamable::new(&gw);
    // Three requests written back to back: one result, in the child's order.
    let (asked, state) = take_state(&call(&http, MULTIPLE, 1, ALL_CAPS, ""));
    assert_eq!(
        asked,
        input_required(
            "1",
            &format!(
                r#""user_name":{ASK_NAME},"greeting":{{"method":"sampling/createMessage","params":{{"maxTokens":50,"messages":[{{"content":{{"text":"Generate a greeting","type":"text"}},"role":"user"}}]}}}},"client_roots":{{"method":"roots/list","params":{{}}}}"#
            )
        )
    );
    let responses = format!(
        r#"{{"user_name":{ALICE},"greeting":{{"role":"assistant","content":{{"type":"text","text":"Hi"}},"model":"m"}},"client_roots":{{"roots":[{{"uri":"file:///work"}}]}}}}"#
    );
    assert_eq!(
        call(&http, MULTIPLE, 2, ALL_CAPS, &retry(&responses, &state)),
        completed_text("2", "Hello, Alice! Greeting: Hi. Roots: file:///work")
    );

    // Two rounds: the second result asks the next question with a new
    // state for the same parked request of the same instance.
    let (round1, state1) = take_state(&call(&http, MULTI_ROUND, 3, ALL_CAPS, ""));
    assert_eq!(
        round1,
        input_required(
            "3",
            r#""step1":{"method":"elicitation/create","params":{"message":"Step 1: What is your name?","requestedSchema":{"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"}}}"#
        )
    );
    let step1 = r#"{"step1":{"action":"accept","content":{"name":"Bo"}}}"#;
    let (round2, state2) = take_state(&call(
        &http,
        MULTI_ROUND,
        4,
        ALL_CAPS,
        &retry(step1, &state1),
    ));
    assert_eq!(
        round2,
        input_required(
            "4",
            r#""step2":{"method":"elicitation/create","params":{"message":"Step 2: What is your favorite color?","requestedSchema":{"properties":{"color":{"type":"string"}},"required":["color"],"type":"object"}}}"#
        )
    );
    assert_ne!(state1, state2);
    let (p1, p2) = (peek(&state1), peek(&state2));
    assert_eq!((p1.instance, p1.parked), (p2.instance, p2.parked));
    assert_ne!(p1.nonce, p2.nonce);
    // The first round's state is spent.
    let step2 = r#"{"step2":{"action":"accept","content":{"color":"red"}}}"#;
    let (status, body) = post(
        &http,
        "tools/call",
        MULTI_ROUND,
        &request(
            "5",
            "tools/call",
            MULTI_ROUND,
            ALL_CAPS,
            &retry(step2, &state1),
        ),
    );
    assert_eq!(
        (status, body),
        (400, format!(r#"{{"jsonrpc":"2.0","id":5,{INVALID_STATE}"#))
    );
    assert_eq!(
        call(&http, MULTI_ROUND, 6, ALL_CAPS, &retry(step2, &state2)),
        completed_text("6", "Hello, Bo! Your favorite color is red.")
    );
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn a_retry_missing_an_answer_is_asked_again_and_malformed_answers_are_invalid_params() {
    let seen = temp_path("missing");
    let gw = gateway(&seen, "streamableHttp", "legacy", &["--stateful"]);
    let http = Streamable::new(&gw);
    let (_, state) = take_state(&call(&http, MULTIPLE, 1, ALL_CAPS, ""));
    // `inputResponses` that are not an object of objects: -32602, and the
    // state still opens afterwards.
    for (id, responses) in [
        (2, r#"{"user_name":12345}"#),
        (3, "null"),
        (4, r#"[{"user_name":{}}]"#),
    ] {
        let (status, body) = post(
            &http,
            "tools/call",
            MULTIPLE,
            &request(
                &id.to_string(),
                "tools/call",
                MULTIPLE,
                ALL_CAPS,
                &retry(responses, &state),
            ),
        );
        assert_eq!(
            (status, body),
            (
                400,
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"inputResponses must be an object whose values are objects"}}}}"#
                )
            ),
            "{responses}"
        );
    }
    // Only the name (and a key nobody asked for): the other two are asked
    // again, with a new state.
    let (again, state2) = take_state(&call(
        &http,
        MULTIPLE,
        5,
        ALL_CAPS,
        &retry(&format!(r#"{{"user_name":{ALICE},"extra":{{}}}}"#), &state),
    ));
    assert_eq!(
        again,
        input_required(
            "5",
            r#""greeting":{"method":"sampling/createMessage","params":{"maxTokens":50,"messages":[{"content":{"text":"Generate a greeting","type":"text"},"role":"user"}]}},"client_roots":{"method":"roots/list","params":{}}"#
        )
    );
    assert_ne!(state, state2);
    let rest = r#"{"greeting":{"role":"assistant","content":{"type":"text","text":"Hey"},"model":"m"},"client_roots":{"roots":[]}}"#;
    assert_eq!(
        call(&http, MULTIPLE, 6, ALL_CAPS, &retry(rest, &state2)),
        completed_text("6", "Hello, Alice! Greeting: Hey. Roots: (none)")
    );
    // The child got each answer once, under its own id.
    let answers: Vec<String> = lines_from(&seen, MULTIPLE, 4).into_iter().skip(1).collect();
    assert_eq!(
        answers,
        [
            format!(r#"{{"jsonrpc":"2.0","id":"user_name","result":{ALICE}}}"#),
            r#"{"jsonrpc":"2.0","id":"greeting","result":{"role":"assistant","content":{"type":"text","text":"Hey"},"model":"m"}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":"client_roots","result":{"roots":[]}}"#.to_owned(),
        ]
    );
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn states_that_do_not_open_are_refused_and_nothing_reaches_the_child() {
    let seen = temp_path("refused");
    let gw = gateway(&seen, "streamableHttp", "legacy", &[]);
    let other_seen = temp_path("refused-other");
    let other = gateway(&other_seen, "streamableHttp", "legacy", &[]);
    let http = Streamable::new(&gw);
    // test_elicitation takes an argument, so a retry can change it.
    let with_message = |m: &str| format!(r#""arguments":{{"message":"{m}"}},"#);
    let (_, state) = take_state(&call(
        &http,
        "test_elicitation",
        1,
        ALL_CAPS,
        &with_message("hi"),
    ));
    let (_, prompt_state) = take_state(
        &post(
            &http,
            "prompts/get",
            "test_input_required_result_prompt",
            &request(
                "2",
                "prompts/get",
                "test_input_required_result_prompt",
                ALL_CAPS,
                "",
            ),
        )
        .1,
    );
    let (_, foreign) = take_state(&call(
        &Streamable::new(&other),
        "test_elicitation",
        1,
        ALL_CAPS,
        &with_message("hi"),
    ));
    let answer = r#"{"srv-1":{"action":"accept","content":{"username":"a","email":"b"}}}"#;
    let mut flipped = state.clone().into_bytes();
    let last = flipped.len() - 5; // inside the MAC
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for (id, what, tool, extra) in [
        (
            10,
            "tampered (the suite's suffix)",
            "test_elicitation",
            format!(
                "{}{}",
                with_message("hi"),
                retry(answer, &format!("{state}-TAMPERED"))
            ),
        ),
        (
            11,
            "a changed MAC",
            "test_elicitation",
            format!("{}{}", with_message("hi"), retry(answer, &flipped)),
        ),
        (
            12,
            "other arguments",
            "test_elicitation",
            format!("{}{}", with_message("bye"), retry(answer, &state)),
        ),
        (
            13,
            "no arguments",
            "test_elicitation",
            retry(answer, &state),
        ),
        (
            14,
            "another tool",
            "test_sampling",
            format!(
                "{}{}",
                r#""arguments":{"prompt":"hi"},"#,
                retry(answer, &state)
            ),
        ),
        (
            15,
            "another method's state",
            "test_elicitation",
            format!("{}{}", with_message("hi"), retry(answer, &prompt_state)),
        ),
        (
            16,
            "another instance's state",
            "test_elicitation",
            format!("{}{}", with_message("hi"), retry(answer, &foreign)),
        ),
        (
            17,
            "not a string",
            "test_elicitation",
            format!(
                r#"{}"inputResponses":{answer},"requestState":7,"#,
                with_message("hi")
            ),
        ),
    ] {
        let (status, body) = post(
            &http,
            "tools/call",
            tool,
            &request(&id.to_string(), "tools/call", tool, ALL_CAPS, &extra),
        );
        assert_eq!(
            (status, body),
            (
                400,
                format!(r#"{{"jsonrpc":"2.0","id":{id},{INVALID_STATE}"#)
            ),
            "{what}"
        );
    }
    // The real retry still works, and is the first thing the child got
    // since the refusals began; a replay of its state is refused.
    let good = format!("{}{}", with_message("hi"), retry(answer, &state));
    assert_eq!(
        call(&http, "test_elicitation", 20, ALL_CAPS, &good),
        completed_text(
            "20",
            r#"User response: action=accept, content={\"email\":\"b\",\"username\":\"a\"}"#
        )
    );
    let lines = lines_from(&seen, "test_input_required_result_prompt", 2);
    assert_eq!(
        lines[1..],
        [
            r#"{"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept","content":{"username":"a","email":"b"}}}"#
        ],
    );
    let (status, body) = post(
        &http,
        "tools/call",
        "test_elicitation",
        &request("21", "tools/call", "test_elicitation", ALL_CAPS, &good),
    );
    assert_eq!(
        (status, body),
        (400, format!(r#"{{"jsonrpc":"2.0","id":21,{INVALID_STATE}"#)),
        "a replay"
    );
    // A load balancer can tell the instances apart by the state alone.
    assert_ne!(peek(&state).instance, peek(&foreign).instance);
    assert_eq!(peek(&state).instance, peek(&prompt_state).instance);
    // Something that does reach the child marks where the replay's bytes
    // would be.
    call(&http, "test_simple_text", 22, ALL_CAPS, "");
    let after = lines_from(&seen, "test_input_required_result_prompt", 3);
    assert_eq!(after[..2], lines[..], "the replay reached the child");
    assert!(after[2].contains("test_simple_text"), "{after:#?}");
    let _ = std::fs::remove_file(&seen);
    let _ = std::fs::remove_file(&other_seen);
}

#[test]
fn an_unanswered_question_expires_after_input_timeout_and_its_state_with_it() {
    let seen = temp_path("expiry");
    let gw = gateway(
        &seen,
        "streamableHttp",
        "legacy",
        &["--inputTimeout", "300"],
    );
    let http = Streamable::new(&gw);
    let (_, state) = take_state(&call(&http, ELICITATION, 1, ALL_CAPS, ""));
    let g = gateway_id(&lines_from(&seen, ELICITATION, 1)[0]);
    // Nobody retries: the child's question is answered with an error and
    // its request cancelled (then the fixture's answer to it is dropped).
    let expected = [
        r#"{"jsonrpc":"2.0","id":"user_name","error":{"code":-32603,"message":"the client did not answer in time"}}"#.to_owned(),
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{g},"reason":"the client did not answer in time"}}}}"#
        ),
    ];
    assert_eq!(lines_from(&seen, ELICITATION, 3)[1..], expected);
    // A late retry is refused, and reaches nothing.
    let late = request(
        "2",
        "tools/call",
        ELICITATION,
        ALL_CAPS,
        &retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state),
    );
    assert_eq!(
        post(&http, "tools/call", ELICITATION, &late),
        (400, format!(r#"{{"jsonrpc":"2.0","id":2,{INVALID_STATE}"#))
    );
    // The gateway is fine: the next caller is asked afresh.
    let (asked, _) = take_state(&call(&http, ELICITATION, 3, ALL_CAPS, ""));
    assert_eq!(
        asked,
        input_required("3", &format!(r#""user_name":{ASK_NAME}"#))
    );
    let lines = lines_from(&seen, ELICITATION, 4);
    assert_eq!(lines[1..3], expected);
    assert!(lines[3].contains(r#""method":"tools/call""#), "{lines:#?}");
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn a_client_that_declared_no_capability_for_the_question_gets_32021() {
    let seen = temp_path("caps");
    for stateful in [false, true] {
        let _ = std::fs::remove_file(&seen);
        let extra: &[&str] = if stateful { &["--stateful"] } else { &[] };
        let gw = gateway(&seen, "streamableHttp", "legacy", extra);
        let http = Streamable::new(&gw);
        for (id, tool, caps, missing, key) in [
            (1, ELICITATION, "{}", r#"{"elicitation":{}}"#, "user_name"),
            (
                2,
                "test_missing_capability",
                r#"{"elicitation":{},"roots":{}}"#,
                r#"{"sampling":{}}"#,
                "sampling_probe",
            ),
        ] {
            let (status, body) = post(
                &http,
                "tools/call",
                tool,
                &request(&id.to_string(), "tools/call", tool, caps, ""),
            );
            assert_eq!(
                (status, body),
                (
                    400,
                    format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32021,"message":"the server needs a client capability this request did not declare","data":{{"requiredCapabilities":{missing}}}}}}}"#
                    )
                ),
                "{tool}, stateful {stateful}"
            );
            // The child's question is refused and its request cancelled.
            let lines = lines_from(&seen, tool, 3);
            let g = gateway_id(&lines[0]);
            assert_eq!(
                lines[1..],
                [
                    format!(
                        r#"{{"jsonrpc":"2.0","id":"{key}","error":{{"code":-32601,"message":"the client did not declare the capability this request needs"}}}}"#
                    ),
                    format!(
                        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{g},"reason":"the client lacks a capability"}}}}"#
                    ),
                ],
                "{tool}, stateful {stateful}"
            );
        }
        // With the capability: asked.
        let answer = call(
            &http,
            "test_missing_capability",
            3,
            r#"{"sampling":{}}"#,
            "",
        );
        assert!(
            answer.contains(r#""resultType":"input_required","inputRequests":{"sampling_probe":{"method":"sampling/createMessage""#),
            "{answer}"
        );
        // Two questions, one the client can answer: asked that one, the
        // other refused to the child.
        const BOTH: &str = "test_input_required_result_capabilities";
        let (asked, _) = take_state(&call(&http, BOTH, 4, r#"{"sampling":{}}"#, ""));
        assert_eq!(
            asked,
            input_required(
                "4",
                r#""greeting":{"method":"sampling/createMessage","params":{"maxTokens":50,"messages":[{"content":{"text":"Generate a greeting","type":"text"},"role":"user"}]}}"#
            ),
            "stateful {stateful}"
        );
        assert_eq!(
            lines_from(&seen, BOTH, 2)[1..],
            [
                r#"{"jsonrpc":"2.0","id":"user_name","error":{"code":-32601,"message":"the client did not declare the capability this request needs"}}"#
            ],
            "stateful {stateful}"
        );
    }
    let _ = std::fs::remove_file(&seen);
}

/// A handshake-era child in sh: `tools/call` `hold` is answered only when
/// the question is; `tools/call` `ask` and `resources/read` ask
/// `elicitation/create` id `"q"` and are answered `answered` (a result
/// came back) or `refused` (an error did) once it is.
const ASKER: &str = r#"while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([^,}]*\).*/\1/p')
  case "$line" in
    *'"method":"initialize"'*)
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{},"resources":{}},"serverInfo":{"name":"asker","version":"1.0.0"}}}\n' "$id" ;;
    *'"method":"tools/call"'*'"name":"hold"'*) held=$id ;;
    *'"method":"tools/call"'*'"name":"ask"'*|*'"method":"tools/call"'*'"name":"slow"'*|*'"method":"tools/call"'*'"name":"progress"'*|*'"method":"resources/read"'*)
      asker=$id
      token=$(printf '%s\n' "$line" | sed -n 's/.*"progressToken":\([^,}]*\).*/\1/p')
      case "$line" in *resources/read*) kind=read ;; *'"name":"slow"'*) kind=slow ;; *'"name":"progress"'*) kind=progress ;; *) kind=call ;; esac
      printf '{"jsonrpc":"2.0","id":"q","method":"elicitation/create","params":{"message":"Who?","requestedSchema":{"type":"object","properties":{}}}}\n' ;;
    *'"id":"q"'*)
      case "$line" in *'"error"'*) text=refused ;; *) text=answered ;; esac
      if [ "$kind" = slow ]; then
        :
      elif [ "$kind" = progress ]; then
        printf '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":%s,"progress":1}}\n' "$token"
        printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[]}}\n' "$asker"
      elif [ "$kind" = read ]; then
        printf '{"jsonrpc":"2.0","id":%s,"result":{"contents":[{"uri":"ask://x","text":"%s"}]}}\n' "$asker" "$text"
      else
        printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"%s"}]}}\n' "$asker" "$text"
      fi
      if [ -n "$held" ]; then
        printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"released"}]}}\n' "$held"
        held=
      fi ;;
  esac
done
"#;

/// The gateway (streamableHttp, `--upstreamProtocol legacy`) in front of
/// [`ASKER`], its stdin teed to `seen`.
fn asker_gateway(seen: &Path, extra: &[&str]) -> (Gateway, PathBuf) {
    let script = temp_path(&format!(
        "asker-{}.sh",
        seen.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&script, ASKER).unwrap();
    let command = format!("tee -a {} | sh {}", seen.display(), script.display());
    (
        gateway_for(&command, "streamableHttp", "legacy", extra),
        script,
    )
}

const ASKER_QUESTION: &str = r#"{"method":"elicitation/create","params":{"message":"Who?","requestedSchema":{"type":"object","properties":{}}}}"#;

#[test]
fn a_question_during_two_interactive_calls_is_refused_to_the_child_and_both_are_answered() {
    for extra in [&[][..], &["--stateful"][..]] {
        let seen = temp_path(&format!("ambiguous-{}", extra.len()));
        let (gw, script) = asker_gateway(&seen, extra);
        let http = Streamable::new(&gw);
        // One client's call waits at the child...
        let holder = {
            let http = http.clone();
            std::thread::spawn(move || call(&http, "hold", 1, ALL_CAPS, ""))
        };
        eventually("the held call to reach the child", || {
            child_lines(&seen)
                .iter()
                .any(|l| l.contains(r#""name":"hold""#))
        });
        // ...when the child asks something during another's: the gateway
        // cannot tell whose question it is.
        assert_eq!(
            call(&http, "ask", 2, ALL_CAPS, ""),
            r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","content":[{"type":"text","text":"refused"}]}}"#,
            "{extra:?}"
        );
        assert_eq!(
            holder.join().unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[{"type":"text","text":"released"}]}}"#,
            "{extra:?}"
        );
        assert_eq!(
            lines_from(&seen, r#""name":"ask""#, 2)[1..],
            [
                r#"{"jsonrpc":"2.0","id":"q","error":{"code":-32603,"message":"the gateway cannot tell which client this request is for"}}"#
            ],
            "{extra:?}"
        );
        // One interactive call at a time: the question is the caller's.
        let (asked, state) = take_state(&call(&http, "ask", 3, ALL_CAPS, ""));
        assert_eq!(
            asked,
            input_required("3", &format!(r#""q":{ASKER_QUESTION}"#))
        );
        assert_eq!(
            call(
                &http,
                "ask",
                4,
                ALL_CAPS,
                &retry(r#"{"q":{"action":"decline"}}"#, &state)
            ),
            r#"{"jsonrpc":"2.0","id":4,"result":{"resultType":"complete","content":[{"type":"text","text":"answered"}]}}"#
        );
        let _ = std::fs::remove_file(&seen);
        let _ = std::fs::remove_file(&script);
    }
}

#[test]
fn a_prompt_and_a_resource_read_can_ask_for_input() {
    // prompts/get: the fixture's interactive prompt.
    let seen = temp_path("prompt");
    let gw = gateway(&seen, "streamableHttp", "auto", &[]);
    let http = Streamable::new(&gw);
    const PROMPT: &str = "test_input_required_result_prompt";
    let (status, body) = post(
        &http,
        "prompts/get",
        PROMPT,
        &request(r#""p1""#, "prompts/get", PROMPT, ALL_CAPS, ""),
    );
    assert_eq!(status, 200, "{body}");
    let (asked, state) = take_state(&body);
    assert_eq!(
        asked,
        input_required(
            r#""p1""#,
            r#""user_context":{"method":"elicitation/create","params":{"message":"What context should the prompt use?","requestedSchema":{"properties":{"context":{"type":"string"}},"required":["context"],"type":"object"}}}"#
        )
    );
    let answer = retry(
        r#"{"user_context":{"action":"accept","content":{"context":"tea"}}}"#,
        &state,
    );
    assert_eq!(
        post(&http, "prompts/get", PROMPT, &request(r#""p2""#, "prompts/get", PROMPT, ALL_CAPS, &answer)),
        (
            200,
            r#"{"id":"p2","jsonrpc":"2.0","result":{"resultType":"complete","description":"A prompt built from input the client provided","messages":[{"content":{"text":"Use this context: tea","type":"text"},"role":"user"}]}}"#.to_owned()
        )
    );
    let _ = std::fs::remove_file(&seen);

    // resources/read: the completed result carries the cache fields.
    let seen = temp_path("read");
    let (gw, script) = asker_gateway(&seen, &[]);
    let http = Streamable::new(&gw);
    const URI: &str = "ask://x";
    let (status, body) = post(
        &http,
        "resources/read",
        URI,
        &request("1", "resources/read", URI, ALL_CAPS, ""),
    );
    assert_eq!(status, 200, "{body}");
    let (asked, state) = take_state(&body);
    assert_eq!(
        asked,
        input_required("1", &format!(r#""q":{ASKER_QUESTION}"#))
    );
    // The state is bound to the URI.
    let answer = retry(r#"{"q":{"action":"accept","content":{}}}"#, &state);
    assert_eq!(
        post(
            &http,
            "resources/read",
            "ask://y",
            &request("2", "resources/read", "ask://y", ALL_CAPS, &answer)
        ),
        (400, format!(r#"{{"jsonrpc":"2.0","id":2,{INVALID_STATE}"#))
    );
    assert_eq!(
        post(&http, "resources/read", URI, &request("3", "resources/read", URI, ALL_CAPS, &answer)),
        (
            200,
            r#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","contents":[{"uri":"ask://x","text":"answered"}]}}"#.to_owned()
        )
    );
    let _ = std::fs::remove_file(&seen);
    let _ = std::fs::remove_file(&script);
}

/// The next text frame of a WebSocket, as sent.
fn ws_text(client: &mut WsClient) -> String {
    loop {
        match client.ws.read().unwrap() {
            tungstenite::Message::Text(text) => return text.as_str().to_owned(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[test]
fn a_websocket_client_gets_the_result_on_its_socket_and_may_retry_on_another() {
    let seen = temp_path("ws");
    let gw = gateway(&seen, "ws", "auto", &[]);
    let mut first = WsClient::connect(&gw);
    first.send_text(&request("1", "tools/call", ELICITATION, ALL_CAPS, ""));
    let (asked, state) = take_state(&ws_text(&mut first));
    assert_eq!(
        asked,
        input_required("1", &format!(r#""user_name":{ASK_NAME}"#))
    );
    first.expect_nothing();
    // Closing the socket does not withdraw the question: the state names
    // the parked request, not the connection.
    drop(first);
    let mut second = WsClient::connect(&gw);
    second.send_text(&request(
        r#""r""#,
        "tools/call",
        ELICITATION,
        ALL_CAPS,
        &retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state),
    ));
    assert_eq!(
        ws_text(&mut second),
        completed_text(r#""r""#, "Hello, Alice!")
    );
    second.expect_nothing();
    // Refusals come back on the socket, which stays open.
    second.send_text(&request(
        "3",
        "tools/call",
        ELICITATION,
        ALL_CAPS,
        &retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state),
    ));
    assert_eq!(
        ws_text(&mut second),
        format!(r#"{{"jsonrpc":"2.0","id":3,{INVALID_STATE}"#)
    );
    second.send_text(&request("4", "tools/call", ELICITATION, "{}", ""));
    assert_eq!(
        ws_text(&mut second),
        r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32021,"message":"the server needs a client capability this request did not declare","data":{"requiredCapabilities":{"elicitation":{}}}}}"#
    );
    second.expect_nothing();
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn an_sse_client_goes_through_two_rounds_on_its_stream() {
    let seen = temp_path("sse");
    let gw = gateway(&seen, "sse", "legacy", &[]);
    let mut client = SseClient::connect(&gw);
    let mut exchange = |body: String| {
        let response = client.send_raw(&body);
        assert_eq!(response.status, 202, "{}", response.text());
        let event = client.next_event().unwrap();
        assert_eq!(event.event, "message");
        event.data
    };
    let (round1, state1) = take_state(&exchange(request(
        "1",
        "tools/call",
        MULTI_ROUND,
        ALL_CAPS,
        "",
    )));
    assert!(round1.contains(r#""inputRequests":{"step1":"#), "{round1}");
    let (round2, state2) = take_state(&exchange(request(
        "2",
        "tools/call",
        MULTI_ROUND,
        ALL_CAPS,
        &retry(
            r#"{"step1":{"action":"accept","content":{"name":"Cy"}}}"#,
            &state1,
        ),
    )));
    assert!(round2.starts_with(r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"input_required","inputRequests":{"step2":"#), "{round2}");
    assert_ne!(state1, state2);
    assert_eq!(
        exchange(request(
            "3",
            "tools/call",
            MULTI_ROUND,
            ALL_CAPS,
            &retry(
                r#"{"step2":{"action":"accept","content":{"color":"blue"}}}"#,
                &state2
            ),
        )),
        completed_text("3", "Hello, Cy! Your favorite color is blue.")
    );
    client.expect_nothing();
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn with_a_child_per_request_the_child_is_gone_before_the_retry() {
    // `--childPerSession` on /mcp (stateless, and stateful, where every
    // 2026-07-28 request gets its own child too): the POST's child ends
    // with it, so the question cannot be answered (README: use the shared
    // child for input round trips).
    for extra in [
        &["--childPerSession"][..],
        &["--childPerSession", "--stateful"],
    ] {
        let seen = temp_path("per-request");
        let gw = gateway(&seen, "streamableHttp", "legacy", extra);
        let http = Streamable::new(&gw);
        let (_, state) = take_state(&call(&http, ELICITATION, 1, ALL_CAPS, ""));
        let late = request(
            "2",
            "tools/call",
            ELICITATION,
            ALL_CAPS,
            &retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state),
        );
        assert_eq!(
            post(&http, "tools/call", ELICITATION, &late),
            (400, format!(r#"{{"jsonrpc":"2.0","id":2,{INVALID_STATE}"#)),
            "{extra:?}"
        );
        let _ = std::fs::remove_file(&seen);
    }

    // On a WebSocket the connection's child lives as long as the socket:
    // the retry works there, not on another socket (another child).
    let seen = temp_path("per-socket");
    let gw = gateway(&seen, "ws", "legacy", &["--childPerSession"]);
    let (mut first, mut second) = (WsClient::connect(&gw), WsClient::connect(&gw));
    first.send_text(&request("1", "tools/call", ELICITATION, ALL_CAPS, ""));
    let (_, state) = take_state(&ws_text(&mut first));
    let answer = retry(&format!(r#"{{"user_name":{ALICE}}}"#), &state);
    second.send_text(&request("2", "tools/call", ELICITATION, ALL_CAPS, &answer));
    assert_eq!(
        ws_text(&mut second),
        format!(r#"{{"jsonrpc":"2.0","id":2,{INVALID_STATE}"#)
    );
    first.send_text(&request("3", "tools/call", ELICITATION, ALL_CAPS, &answer));
    assert_eq!(ws_text(&mut first), completed_text("3", "Hello, Alice!"));
    let _ = std::fs::remove_file(&seen);
}

#[test]
fn closing_a_retrys_stream_cancels_the_request_at_the_child() {
    let seen = temp_path("close-retry");
    let (gw, script) = asker_gateway(&seen, &[]);
    let http = Streamable::new(&gw);
    let (_, state) = take_state(&call(&http, "slow", 1, ALL_CAPS, ""));
    let g = gateway_id(&lines_from(&seen, r#""name":"slow""#, 1)[0]);
    // The retry answers everything; the child takes its time. Closing
    // the retry's connection is the client giving up.
    let body = request(
        "2",
        "tools/call",
        "slow",
        ALL_CAPS,
        &retry(r#"{"q":{"action":"cancel"}}"#, &state),
    );
    let mut stream = gw.connect();
    stream
        .write_all(&common::post(
            "/mcp",
            &body,
            &format!("Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: slow\r\n"),
        ))
        .unwrap();
    let answer = r#"{"jsonrpc":"2.0","id":"q","result":{"action":"cancel"}}"#;
    eventually("the answer to reach the child", || {
        child_lines(&seen).iter().any(|l| l == answer)
    });
    drop(stream);
    let cancelled = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{g},"reason":"client disconnected"}}}}"#
    );
    eventually("the request to be cancelled at the child", || {
        child_lines(&seen).contains(&cancelled)
    });
    assert_eq!(
        lines_from(&seen, r#""name":"slow""#, 3)[1..],
        [answer.to_owned(), cancelled]
    );
    let _ = std::fs::remove_file(&seen);
    let _ = std::fs::remove_file(&script);
}

#[test]
fn a_question_while_a_handshake_client_is_busy_on_the_shared_child_is_refused() {
    let seen = temp_path("mixed");
    let gw = gateway(&seen, "ws", "legacy", &[]);
    // A handshake-era client's call waits for its own answer to the
    // child's question (forwarded to it as a request, as before 2026).
    let mut legacy = WsClient::connect(&gw);
    legacy.initialize();
    legacy.send(&json!({"jsonrpc":"2.0","id":"l1","method":"tools/call",
        "params":{"name":"test_elicitation","arguments":{"message":"hi"}}}));
    let question = legacy.next_message();
    assert_eq!(question["method"], "elicitation/create", "{question}");
    // A 2026-07-28 client's question meanwhile: whose is it? Refused to
    // the child, whose tool then reports the error in its result.
    let mut modern = WsClient::connect(&gw);
    modern.send_text(&request("1", "tools/call", ELICITATION, ALL_CAPS, ""));
    assert_eq!(
        ws_text(&mut modern),
        r#"{"id":1,"jsonrpc":"2.0","result":{"resultType":"complete","content":[{"text":"Elicitation error: the gateway cannot tell which client this request is for","type":"text"}],"isError":true}}"#
    );
    // The handshake client is unaffected.
    legacy.send(&json!({"jsonrpc":"2.0","id":question["id"],
        "result":{"action":"accept","content":{"username":"u","email":"e"}}}));
    let answer = legacy.next_message();
    assert_eq!(answer["id"], "l1");
    assert_eq!(
        answer["result"]["content"][0]["text"],
        r#"User response: action=accept, content={"email":"e","username":"u"}"#
    );
    modern.expect_nothing();
    legacy.expect_nothing();
    let _ = std::fs::remove_file(&seen);
}

/// Design c.6 step 5: the retry's `progressToken` replaces the original
/// request's (the relay keeps the child's token for the parked request and
/// maps it to the waiting client's).
#[test]
fn what_the_child_sends_after_the_answers_goes_to_the_retrys_stream() {
    let seen = temp_path("progress");
    let (gw, script) = asker_gateway(&seen, &[]);
    let http = Streamable::new(&gw);
    let with_token = |id: &str, token: &str, extra: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"progress",{extra}"_meta":{{"progressToken":"{token}","io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{ALL_CAPS}}}}}}}"#
        )
    };
    let (status, body) = post(
        &http,
        "tools/call",
        "progress",
        &with_token("1", "first", ""),
    );
    assert_eq!(status, 200, "{body}");
    let (_, state) = take_state(&body);
    // The retry's stream gets the child's progress under the retry's own
    // token, then the answer: an SSE stream, as for any request.
    let headers = format!(
        "MCP-Protocol-Version: {MODERN}\r\nMcp-Method: tools/call\r\nMcp-Name: progress\r\n"
    );
    let (head, events) = http.post_raw(
        &with_token(
            "2",
            "second",
            &retry(r#"{"q":{"action":"decline"}}"#, &state),
        ),
        &headers,
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("text/event-stream"),
        "{}",
        head.text()
    );
    let mut events = events.unwrap();
    let mut data = Vec::new();
    while let Some(event) = events.next_event() {
        data.push(event.data);
    }
    assert_eq!(
        data,
        [
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"second","progress":1}}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{"resultType":"complete","content":[]}}"#,
        ]
    );
    let _ = std::fs::remove_file(&seen);
    let _ = std::fs::remove_file(&script);
}
