//! Input round trips (MRTR) between a legacy child's requests and modern
//! clients' `InputRequiredResult`s and retries.

use std::rc::Rc;

use super::*;
use crate::mcp::request_state::Seal;

/// A keyed checksum standing in for HMAC in these tests.
struct TestSeal(u64);

impl Seal for TestSeal {
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for byte in parts.iter().flat_map(|part| part.iter()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut tag = [0u8; 32];
        for chunk in tag.chunks_mut(8) {
            chunk.copy_from_slice(&hash.to_le_bytes());
            hash = hash.rotate_left(13).wrapping_mul(31);
        }
        tag
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.tag(parts) == tag
    }
}

const CAPS: &str = r#"{"sampling":{},"elicitation":{},"roots":{}}"#;

fn call(id: u32, name: &str, caps: &str, extra: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{{"a":1}},{extra}"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{caps}}}}}}}"#
    )
}

/// A legacy child, initialised, with sealing on; the relay at time 0.
fn mrtr_relay() -> Relay {
    let mut counter = 0u8;
    let config = Config {
        upstream: UpstreamMode::Legacy,
        input_timeout_ms: 10_000,
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
    relay.set_seal(Rc::new(TestSeal(7)), [9; 8], 1);
    relay.start_child();
    relay.initialize_child("2025-11-25");
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}}"#,
    );
    to_child(&mut relay);
    relay
}

const ELICIT: &str = r#"{"jsonrpc":"2.0","id":"user_name","method":"elicitation/create","params":{"message":"name?","requestedSchema":{}}}"#;

/// The `requestState` of an `InputRequiredResult` frame.
fn state_of(frame: &str) -> String {
    let at = frame.find(r#""requestState":""#).unwrap() + 16;
    frame[at..].split('"').next().unwrap().to_owned()
}

#[test]
fn a_legacy_childs_question_becomes_an_input_required_result_and_the_retry_answers_it() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", CAPS, "")).unwrap();
    assert_eq!(to_child(&mut relay).len(), 1);
    child(&mut relay, ELICIT);
    assert!(frames(&mut relay, A).is_empty(), "gathering");
    assert_eq!(relay.poll_timeout(), Some(GATHER));
    relay.advance(GATHER);
    relay.handle_timeout();
    let frame = frames(&mut relay, A);
    assert_eq!(frame.len(), 1);
    let state = state_of(&frame[0]);
    assert_eq!(
        frame[0],
        format!(
            r#"{{"jsonrpc":"2.0","id":5,"result":{{"resultType":"input_required","inputRequests":{{"user_name":{{"method":"elicitation/create","params":{{"message":"name?","requestedSchema":{{}}}}}}}},"requestState":"{state}"}}}}"#
        )
    );
    assert!(
        to_child(&mut relay).is_empty(),
        "the child's request still waits"
    );
    relay.close_session(A);
    assert!(
        to_child(&mut relay).is_empty(),
        "the POST ending cancels nothing"
    );
    // The retry: a new id, the same call, the answer and the state.
    relay.open_session(B, false);
    let answer =
        r#""inputResponses":{"user_name":{"action":"accept","content":{"name":"Alice"}}},"#;
    let retry = call(
        6,
        "t",
        CAPS,
        &format!(r#"{answer}"requestState":"{state}","#),
    );
    assert_eq!(send(&mut relay, B, &retry), Ok(1));
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"user_name","result":{"action":"accept","content":{"name":"Alice"}}}"#
        ]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"content":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, B),
        [r#"{"jsonrpc":"2.0","id":6,"result":{"resultType":"complete","content":[]}}"#]
    );
    // The same state again: used up.
    relay.open_session(C, false);
    send(&mut relay, C, &retry).unwrap();
    assert_eq!(
        frames(&mut relay, C),
        [
            r#"{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"Invalid or expired requestState","data":{"reason":"invalid_request_state"}}}"#
        ]
    );
    assert!(to_child(&mut relay).is_empty());
}

const GATHER: u64 = 25;

#[test]
fn states_that_were_tampered_with_expired_or_name_other_arguments_are_refused() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", CAPS, "")).unwrap();
    to_child(&mut relay);
    child(&mut relay, ELICIT);
    relay.advance(GATHER);
    relay.handle_timeout();
    let state = state_of(&frames(&mut relay, A)[0]);
    relay.close_session(A);
    let refused = |id: u32| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Invalid or expired requestState","data":{{"reason":"invalid_request_state"}}}}}}"#
        )
    };
    let answer = r#""inputResponses":{"user_name":{"action":"decline"}},"#;
    for (n, retry) in [
        call(
            10,
            "t",
            CAPS,
            &format!(r#"{answer}"requestState":"{state}-TAMPERED","#),
        ),
        call(
            11,
            "other",
            CAPS,
            &format!(r#"{answer}"requestState":"{state}","#),
        ),
        call(
            12,
            "t",
            CAPS,
            &format!(r#"{answer}"requestState":"{state}","#),
        )
        .replace(r#"{"a":1}"#, r#"{"a":2}"#),
        call(13, "t", CAPS, &format!(r#"{answer}"requestState":7,"#)),
    ]
    .iter()
    .enumerate()
    {
        let key = 100 + n as u64;
        relay.open_session(key, false);
        send(&mut relay, key, retry).unwrap();
        assert_eq!(frames(&mut relay, key), [refused(10 + n as u32)], "{retry}");
    }
    // Arguments in another key order are the same arguments.
    // (Checked below after expiry would fail: do it first.)
    assert!(to_child(&mut relay).is_empty());
    // Past --inputTimeout the child's question is answered with an error
    // and its request cancelled.
    relay.advance(GATHER + 10_000);
    relay.handle_timeout();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"user_name","error":{"code":-32603,"message":"the client did not answer in time"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the client did not answer in time"}}"#,
        ]
    );
    relay.open_session(200, false);
    send(
        &mut relay,
        200,
        &call(
            20,
            "t",
            CAPS,
            &format!(r#"{answer}"requestState":"{state}","#),
        ),
    )
    .unwrap();
    assert_eq!(frames(&mut relay, 200), [refused(20)]);
}

#[test]
fn several_questions_travel_together_and_undeclared_ones_are_refused_to_the_child() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", r#"{"sampling":{}}"#, "")).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[]}}"#,
    );
    child(&mut relay, ELICIT);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"method":"sampling/createMessage","params":{}}"#,
    );
    relay.advance(GATHER);
    relay.handle_timeout();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"user_name","error":{"code":-32601,"message":"the client did not declare the capability this request needs"}}"#
        ]
    );
    let frame = &frames(&mut relay, A)[0];
    assert!(
        frame.contains(r#""inputRequests":{"1":{"method":"sampling/createMessage","params":{"messages":[]}},"2":{"method":"sampling/createMessage","params":{}}}"#),
        "{frame}"
    );
    // A retry answering only one is asked the other again.
    let state = state_of(frame);
    relay.close_session(A);
    relay.open_session(B, false);
    let retry = call(
        6,
        "t",
        r#"{"sampling":{}}"#,
        &format!(r#""inputResponses":{{"1":{{"role":"assistant"}}}},"requestState":"{state}","#),
    );
    send(&mut relay, B, &retry).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":1,"result":{"role":"assistant"}}"#]
    );
    let again = &frames(&mut relay, B)[0];
    assert!(
        again.contains(r#""inputRequests":{"2":{"method":"sampling/createMessage","params":{}}}"#),
        "{again}"
    );
    assert_ne!(state_of(again), state, "a new state each round");
}

#[test]
fn a_question_the_client_cannot_answer_at_all_is_32021() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", "{}", "")).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{}}"#,
    );
    relay.advance(GATHER);
    relay.handle_timeout();
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32021,"message":"the server needs a client capability this request did not declare","data":{"requiredCapabilities":{"sampling":{}}}}}"#
        ]
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the client did not declare the capability this request needs"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the client lacks a capability"}}"#,
        ]
    );
}

#[test]
fn the_childs_answer_inside_the_window_wins() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", CAPS, "")).unwrap();
    to_child(&mut relay);
    child(&mut relay, ELICIT);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":2,"result":{"content":[]}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"complete","content":[]}}"#]
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"user_name","error":{"code":-32603,"message":"the request has finished"}}"#
        ]
    );
    assert_eq!(relay.poll_timeout(), None);
}

#[test]
fn an_abandoned_question_does_not_block_the_next_client() {
    let mut relay = mrtr_relay();
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", CAPS, "")).unwrap();
    to_child(&mut relay);
    child(&mut relay, ELICIT);
    relay.advance(GATHER);
    relay.handle_timeout();
    frames(&mut relay, A);
    relay.close_session(A);
    // A never retries. B calls; the child asks B something.
    relay.open_session(B, false);
    send(&mut relay, B, &call(6, "t", CAPS, "")).unwrap();
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":"b","method":"roots/list","params":{}}"#,
    );
    relay.advance(2 * GATHER);
    relay.handle_timeout();
    let frame = &frames(&mut relay, B)[0];
    assert!(
        frame.starts_with(r#"{"jsonrpc":"2.0","id":6,"result":{"resultType":"input_required","inputRequests":{"b":{"method":"roots/list","params":{}}},"requestState":"#),
        "{frame}"
    );
    assert!(to_child(&mut relay).is_empty());
}

#[test]
fn an_instance_id_prefixes_the_state_and_only_that_prefix_opens_it() {
    let mut relay = mrtr_relay();
    relay.set_instance_id(Some(Rc::from("gw-b")));
    relay.open_session(A, false);
    send(&mut relay, A, &call(5, "t", CAPS, "")).unwrap();
    to_child(&mut relay);
    child(&mut relay, ELICIT);
    relay.advance(GATHER);
    relay.handle_timeout();
    let state = state_of(&frames(&mut relay, A)[0]);
    relay.close_session(A);
    let bare = state.strip_prefix("gw-b.").unwrap();
    assert_eq!(
        crate::mcp::request_state::split_instance(&state),
        Some(("gw-b", bare))
    );
    assert!(crate::mcp::request_state::dangerous_peek(bare).is_ok());
    let answer = r#""inputResponses":{"user_name":{"action":"decline"}},"#;
    let refused = |id: u32| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Invalid or expired requestState","data":{{"reason":"invalid_request_state"}}}}}}"#
        )
    };
    // Another instance's prefix, a prefix that only starts like ours, and
    // the bare token (valid MAC, but not as this instance mints it): refused
    // as every invalid state is, and the child hears nothing.
    for (n, presented) in [
        format!("gw-a.{bare}"),
        format!("gw-bb.{bare}"),
        format!("gw.{bare}"),
        bare.to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let key = 100 + n as u64;
        let id = 10 + n as u32;
        relay.open_session(key, false);
        let retry = call(
            id,
            "t",
            CAPS,
            &format!(r#"{answer}"requestState":"{presented}","#),
        );
        send(&mut relay, key, &retry).unwrap();
        assert_eq!(frames(&mut relay, key), [refused(id)], "{presented}");
    }
    assert!(to_child(&mut relay).is_empty());
    // Its own prefixed state opens.
    relay.open_session(B, false);
    let retry = call(
        6,
        "t",
        CAPS,
        &format!(r#"{answer}"requestState":"{state}","#),
    );
    assert_eq!(send(&mut relay, B, &retry), Ok(1));
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":"user_name","result":{"action":"decline"}}"#]
    );
}
