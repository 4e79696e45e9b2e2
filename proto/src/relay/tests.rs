//! The relay's routing rules, in memory: no processes, no sockets.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::*;

const A: SessionKey = 1;
const B: SessionKey = 2;
const C: SessionKey = 3;

fn relay_with(clients: Clients, limits: Limits, budget: usize) -> Relay {
    let mut counter = 0u8;
    let random = Box::new(move || {
        counter = counter.wrapping_add(1);
        [counter; 16]
    });
    Relay::new(
        Config {
            clients,
            limits,
            request_events: false,
            ..Config::new(clients)
        },
        Budget::new(budget),
        random,
    )
}

fn relay(clients: Clients) -> Relay {
    relay_with(clients, Limits::DEFAULT, 64 << 20)
}

/// Everything queued for the child, line by line.
fn to_child(relay: &mut Relay) -> Vec<String> {
    let mut out = Vec::new();
    while relay.poll_child_transmit(&mut out, usize::MAX) {}
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Everything queued for `key`.
fn frames(relay: &mut Relay, key: SessionKey) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(frame) = relay.poll_frame(key) {
        out.push(String::from_utf8(frame.to_vec()).unwrap());
    }
    out
}

fn reports(relay: &mut Relay) -> Vec<Report> {
    let mut out = Vec::new();
    while let Some(event) = relay.poll_event() {
        if let Event::Report(report) = event {
            out.push(report);
        }
    }
    out
}

fn send(relay: &mut Relay, key: SessionKey, json: &str) -> Result<usize, ClientError> {
    relay.handle_client_message(key, json.as_bytes())
}

fn child(relay: &mut Relay, json: &str) {
    relay.handle_child_line(json.as_bytes());
}

/// Opens `keys` on a relay whose child was initialised by `A`.
fn initialised(clients: Clients, keys: &[SessionKey]) -> Relay {
    let mut relay = relay(clients);
    for key in keys {
        assert!(relay.open_session(*key, true));
    }
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{"v":1}}"#);
    frames(&mut relay, A);
    reports(&mut relay);
    relay
}

const SAMPLING: &str =
    r#"{"jsonrpc":"2.0","id":"s-1","method":"sampling/createMessage","params":{"p":"A's prompt"}}"#;

#[test]
fn two_sessions_with_the_same_ids_get_their_own_answers() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    assert_eq!(
        send(&mut relay, A, r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#),
        Ok(1)
    );
    assert_eq!(
        send(&mut relay, B, r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#),
        Ok(1)
    );
    assert_eq!(
        send(&mut relay, B, r#"{"jsonrpc":"2.0","id":"1","method":"y"}"#),
        Ok(1)
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"y"}"#,
        ]
    );
    child(&mut relay, r#"{"jsonrpc":"2.0","id":4,"result":"b-y"}"#);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":2,"result":"a-x"}"#);
    child(&mut relay, r#"{"id":3,"jsonrpc":"2.0","result":"b-x"}"#);
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":1,"result":"a-x"}"#]
    );
    assert_eq!(
        frames(&mut relay, B),
        [
            r#"{"jsonrpc":"2.0","id":"1","result":"b-y"}"#,
            r#"{"id":1,"jsonrpc":"2.0","result":"b-x"}"#,
        ]
    );
    assert_eq!(relay.in_flight(), 0);
    assert_eq!(relay.budget().used(), 0, "every byte given back");
}

#[test]
fn initialize_reaches_the_child_once_and_later_clients_get_the_cached_result() {
    let mut relay = relay(Clients::Separate);
    for key in [A, B, C] {
        relay.open_session(key, true);
    }
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#,
    )
    .unwrap();
    // B's other messages wait for the result; ping does not.
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"#,
    )
    .unwrap();
    send(&mut relay, B, r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).unwrap();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
        ]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}"#,
    );
    assert_eq!(
        frames(&mut relay, A),
        [r#"{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18"}}"#]
    );
    assert_eq!(
        frames(&mut relay, B),
        [r#"{"jsonrpc":"2.0","id":7,"result":{"protocolVersion":"2025-06-18"}}"#]
    );
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .unwrap();
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .unwrap();
    send(
        &mut relay,
        C,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
    )
    .unwrap();
    assert_eq!(
        frames(&mut relay, C),
        [r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}"#]
    );
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ]
    );
}

#[test]
fn held_messages_survive_a_restart_and_in_flight_requests_are_told() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call"}"#,
    )
    .unwrap();
    assert_eq!(to_child(&mut relay).len(), 1);
    relay.handle_child_restart();
    let restarted =
        format!(r#"{{"jsonrpc":"2.0","id":5,"error":{{"code":-32000,"message":"{RESTARTED}"}}}}"#);
    assert_eq!(frames(&mut relay, B), [restarted]);
    // The new child gets A's initialize under a new id; meanwhile A's
    // request is held, then relayed once the replay is answered.
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}}"#]
    );
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#,
    )
    .unwrap();
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    child(&mut relay, r#"{"jsonrpc":"2.0","id":3,"result":{"v":2}}"#);
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/list"}"#,
        ]
    );
    assert_eq!(
        frames(&mut relay, A),
        Vec::<String>::new(),
        "the replay's answer is swallowed"
    );
    assert!(reports(&mut relay).contains(&Report::Replaying));
}

#[test]
fn a_child_request_goes_only_to_the_one_session_with_requests_in_flight() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, SAMPLING);
    let token = "01".repeat(16);
    assert_eq!(
        frames(&mut relay, A),
        [format!(
            r#"{{"jsonrpc":"2.0","id":"{token}","method":"sampling/createMessage","params":{{"p":"A's prompt"}}}}"#
        )]
    );
    assert_eq!(frames(&mut relay, B), Vec::<String>::new());
    // B cannot answer A's request, even with the right token.
    let answer = format!(r#"{{"jsonrpc":"2.0","id":"{token}","result":{{"from":"B"}}}}"#);
    assert!(matches!(
        send(&mut relay, B, &answer),
        Err(ClientError::Malformed(MessageError::Invalid(_)))
    ));
    assert_eq!(reports(&mut relay), [Report::ForeignAnswer(B)]);
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    // A can, once: the child gets its own id back.
    let answer = format!(r#"{{"jsonrpc":"2.0","id":"{token}","result":{{"from":"A"}}}}"#);
    assert_eq!(send(&mut relay, A, &answer), Ok(0));
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":"s-1","result":{"from":"A"}}"#]
    );
    assert!(send(&mut relay, A, &answer).is_err(), "answered already");
    // Child's old-style id is not a token: refused.
    assert!(send(&mut relay, A, r#"{"jsonrpc":"2.0","id":"s-1","result":{}}"#).is_err());
}

#[test]
fn an_ambiguous_child_request_is_answered_with_an_error_and_reaches_nobody() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, SAMPLING);
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert_eq!(frames(&mut relay, B), Vec::<String>::new());
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"s-1","error":{"code":-32603,"message":"the gateway cannot tell which client this request is for"}}"#
        ]
    );
    assert_eq!(
        reports(&mut relay),
        [Report::AmbiguousChildRequest { clients: 2 }]
    );
    // Idle: two open sessions are ambiguous too; one alone owns it.
    child(&mut relay, r#"{"jsonrpc":"2.0","id":2,"result":{}}"#);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":3,"result":{}}"#);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":"r","method":"roots/list"}"#,
    );
    assert_eq!(
        reports(&mut relay),
        [Report::AmbiguousChildRequest { clients: 2 }]
    );
    relay.close_session(B);
    to_child(&mut relay);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":"r2","method":"roots/list"}"#,
    );
    frames(&mut relay, A);
    assert_eq!(frames(&mut relay, A).len(), 0);
    assert!(reports(&mut relay).is_empty());
}

#[test]
fn anonymous_clients_answer_child_requests_by_presenting_the_token() {
    let mut relay = relay(Clients::Anonymous);
    relay.initialize_child("2025-06-18");
    assert_eq!(to_child(&mut relay).len(), 1);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    relay.open_session(A, false);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, SAMPLING);
    let token = "01".repeat(16);
    assert_eq!(frames(&mut relay, A).len(), 1);
    relay.open_session(B, false);
    // A POST with a wrong token is refused; the right one is relayed.
    let wrong = format!(
        r#"{{"jsonrpc":"2.0","id":"{}","result":{{}}}}"#,
        "02".repeat(16)
    );
    assert!(send(&mut relay, B, &wrong).is_err());
    let right = format!(r#"{{"jsonrpc":"2.0","id":"{token}","result":{{"ok":1}}}}"#);
    assert_eq!(send(&mut relay, B, &right), Ok(0));
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":"s-1","result":{"ok":1}}"#]
    );
}

#[test]
fn case_variant_keys_are_refused_and_never_forwarded() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    for json in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{},"ID":2}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"RequestId":4}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"ProgressToken":1}}}"#,
    ] {
        let err = send(&mut relay, A, json).unwrap_err();
        assert_eq!(err.code(), codes::INVALID_REQUEST, "{json}");
    }
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    assert_eq!(relay.in_flight(), 0);
}

#[test]
fn a_cancelled_request_frees_its_entry_and_its_late_answer_is_dropped() {
    let mut relay = initialised(Clients::Separate, &[A]);
    for _ in 0..3 {
        send(&mut relay, A, r#"{"jsonrpc":"2.0","id":9,"method":"slow"}"#).unwrap();
        send(
            &mut relay,
            A,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}"#,
        )
        .unwrap();
        assert_eq!(relay.in_flight(), 0);
    }
    // Each round: the request under a fresh gateway id, then its cancel.
    let expected: Vec<String> = [2, 3, 4]
        .iter()
        .flat_map(|id| {
            [
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"slow"}}"#),
                format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#
                ),
            ]
        })
        .collect();
    assert_eq!(to_child(&mut relay), expected);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":2,"result":"late"}"#);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":4,"result":"late"}"#);
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert_eq!(relay.budget().used(), 0);
}

#[test]
fn progress_reaches_the_owner_of_the_token_with_its_own_token() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":"p"}}}"#,
    )
    .unwrap();
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":"p"}}}"#,
    )
    .unwrap();
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"x","params":{"_meta":{"progressToken":3}}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"x","params":{"_meta":{"progressToken":5}}}"#,
        ]
    );
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":5,"progress":1}}"#,
    );
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert_eq!(
        frames(&mut relay, B),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}"#
        ]
    );
}

#[test]
fn a_closed_session_is_cancelled_at_the_child_and_its_child_requests_answered() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, SAMPLING);
    relay.close_session(A);
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"client disconnected"}}"#,
            r#"{"jsonrpc":"2.0","id":"s-1","error":{"code":-32603,"message":"client disconnected"}}"#,
        ]
    );
    assert_eq!(relay.budget().used(), 0);
}

#[test]
fn the_childs_exit_answers_every_request_and_closes_every_session_after_draining() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":"q","method":"tools/call"}"#,
    )
    .unwrap();
    relay.handle_child_exit(3);
    assert!(
        !relay.is_session_finished(A),
        "A has an answer to read first"
    );
    assert_eq!(
        frames(&mut relay, A),
        [
            r#"{"jsonrpc":"2.0","id":"q","error":{"code":-32000,"message":"the MCP server exited (code 3)"}}"#
        ]
    );
    assert!(relay.is_session_finished(A));
    assert!(relay.is_session_finished(B));
    assert!(!relay.open_session(C, true));
    assert_eq!(
        send(&mut relay, B, r#"{"jsonrpc":"2.0","method":"x"}"#),
        Err(ClientError::NoSession)
    );
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
}

#[test]
fn a_detached_session_takes_its_queue_and_gets_errors_for_its_requests() {
    let mut shared = initialised(Clients::Separate, &[A, B]);
    child(
        &mut shared,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    send(
        &mut shared,
        A,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call"}"#,
    )
    .unwrap();
    let detached = shared.detach_session(A, RESTARTED).unwrap();
    let mut own = relay(Clients::Separate);
    own.replay_from(shared.replay_request().unwrap());
    assert!(own.open_detached(A, detached));
    let got = frames(&mut own, A);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#
    );
    assert!(got[1].starts_with(r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32000"#));
    assert_eq!(
        to_child(&mut shared),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the MCP server was restarted by a runtime update; retry the request"}}"#
        ]
    );
    assert_eq!(
        to_child(&mut own),
        [r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#]
    );
}

#[test]
fn a_session_over_its_byte_budget_is_refused_and_others_are_not_affected() {
    let limits = Limits {
        session_bytes: 4096,
        ..Limits::DEFAULT
    };
    let mut relay = relay_with(Clients::Separate, limits, 1 << 20);
    relay.open_session(A, true);
    relay.open_session(B, true);
    relay.initialize_child("2025-06-18");
    // While initialize is at the child, messages are held: A fills its
    // share with three 1,048-byte lines (with their newlines).
    let note = format!(
        r#"{{"jsonrpc":"2.0","method":"n","params":{{"x":"{}"}}}}"#,
        "a".repeat(1000)
    );
    for _ in 0..3 {
        send(&mut relay, A, &note).unwrap();
    }
    assert!(matches!(
        send(&mut relay, A, &note),
        Err(ClientError::Busy(_))
    ));
    assert!(matches!(
        send(&mut relay, A, &note),
        Err(ClientError::Busy(_))
    ));
    assert_eq!(
        reports(&mut relay),
        [Report::SessionBudget(A)],
        "reported once"
    );
    assert_eq!(send(&mut relay, B, &note), Ok(0));
    assert!(relay.session_bytes(A) <= 4096);
}

#[test]
fn the_process_budget_bounds_all_sessions_together_and_is_reported_once() {
    let mut relay = relay_with(Clients::Separate, Limits::DEFAULT, 100_000);
    relay.initialize_child("2025-06-18");
    let note = format!(
        r#"{{"jsonrpc":"2.0","method":"n","params":{{"x":"{}"}}}}"#,
        "a".repeat(9_000)
    );
    let mut admitted = 0;
    for key in 1..=20 {
        relay.open_session(key, true);
        if send(&mut relay, key, &note).is_ok() {
            admitted += 1;
        }
    }
    // 9,048 bytes each (with the newline), after the gateway's initialize.
    assert_eq!(admitted, 11);
    assert!(relay.budget().used() <= 100_000);
    let budget = reports(&mut relay);
    assert_eq!(budget, [Report::ProcessBudget { limit: 100_000 }]);
    // Memory comes back when the child reads its input.
    to_child(&mut relay);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    to_child(&mut relay);
    assert_eq!(relay.budget().used(), 0);
    assert_eq!(send(&mut relay, 1, &note), Ok(0));
}

#[test]
fn requests_outstanding_are_bounded_by_what_the_queue_can_answer() {
    let limits = Limits {
        session_frames: 8,
        ..Limits::DEFAULT
    };
    let mut relay = relay_with(Clients::Separate, limits, 64 << 20);
    relay.open_session(A, true);
    relay.initialize_child("2025-06-18");
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    for id in 0..8 {
        send(
            &mut relay,
            A,
            &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"x"}}"#),
        )
        .unwrap();
    }
    assert!(matches!(
        send(&mut relay, A, r#"{"jsonrpc":"2.0","id":99,"method":"x"}"#),
        Err(ClientError::Busy(_))
    ));
    // The child exits: all eight get their error; the session is not
    // dropped for the gateway's own answers.
    relay.handle_child_exit(1);
    assert_eq!(frames(&mut relay, A).len(), 8);
    assert!(!reports(&mut relay)
        .iter()
        .any(|r| matches!(r, Report::SlowClient(_))));
}

#[test]
fn a_batch_is_admitted_whole_or_refused_whole_with_one_error() {
    let mut relay = initialised(Clients::Separate, &[A, B]);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let huge = format!("[{}]", vec![ping; 10_000].join(","));
    let err = send(&mut relay, A, &huge).unwrap_err();
    assert_eq!(err.code(), codes::INVALID_REQUEST);
    assert_eq!(to_child(&mut relay), Vec::<String>::new());
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert!(reports(&mut relay)
        .iter()
        .all(|r| !matches!(r, Report::SlowClient(_))));
    // A batch that fits: each element relayed, invalid ones answered.
    let batch = r#"[{"jsonrpc":"2.0","id":"x","method":"ping"},{"jsonrpc":"2.0"},{"jsonrpc":"2.0","method":"n"}]"#;
    assert_eq!(send(&mut relay, A, batch), Ok(2));
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"n"}"#
        ]
    );
    assert_eq!(
        frames(&mut relay, A).len(),
        1,
        "the invalid element's error"
    );
    // Too many for what is outstanding: refused whole.
    let limits = Limits {
        session_frames: 4,
        ..Limits::DEFAULT
    };
    let mut small = relay_with(Clients::Separate, limits, 64 << 20);
    small.open_session(A, true);
    let four = format!("[{}]", [ping; 4].join(","));
    let five = format!("[{}]", [ping; 5].join(","));
    assert!(send(&mut small, A, &five).is_err());
    assert_eq!(send(&mut small, A, &four), Ok(4));
}

#[test]
fn a_client_that_does_not_read_is_disconnected_and_others_go_on() {
    let limits = Limits {
        session_frames: 4,
        ..Limits::DEFAULT
    };
    let mut relay = relay_with(Clients::Separate, limits, 64 << 20);
    relay.open_session(A, true);
    relay.open_session(B, true);
    for n in 0..5 {
        child(
            &mut relay,
            &format!(r#"{{"jsonrpc":"2.0","method":"notifications/n","params":{{"n":{n}}}}}"#),
        );
        frames(&mut relay, B); // B reads, A does not
    }
    assert!(reports(&mut relay).contains(&Report::SlowClient(A)));
    assert!(relay.is_session_finished(A));
    assert!(!relay.is_session_finished(B));
    assert_eq!(
        send(&mut relay, A, r#"{"jsonrpc":"2.0","method":"x"}"#),
        Err(ClientError::NoSession)
    );
    assert_eq!(relay.budget().used(), 0);
}

#[test]
fn a_stateful_clients_streams_are_one_client() {
    let mut relay = relay(Clients::One);
    relay.open_session(A, true); // the GET stream
    relay.open_session(B, false); // a POST
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#,
    )
    .unwrap();
    to_child(&mut relay);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    frames(&mut relay, B);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    assert_eq!(frames(&mut relay, A).len(), 1);
    assert_eq!(frames(&mut relay, B).len(), 0);
    // The child's request goes to the standalone stream; a POST answers it.
    child(&mut relay, SAMPLING);
    assert_eq!(frames(&mut relay, A).len(), 1);
    relay.open_session(C, false);
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":"{}","result":{{}}}}"#,
        "01".repeat(16)
    );
    assert_eq!(send(&mut relay, C, &answer), Ok(0));
    assert_eq!(
        to_child(&mut relay),
        [r#"{"jsonrpc":"2.0","id":"s-1","result":{}}"#]
    );
}

#[test]
fn a_child_request_the_budget_cannot_take_is_answered_at_once() {
    // Found by relay_sequence: the request used to stay registered, and the
    // child waited for an answer no client could give.
    let mut relay = relay_with(Clients::Separate, Limits::DEFAULT, 600);
    relay.open_session(A, true);
    let pad = "c".repeat(1500);
    child(
        &mut relay,
        &format!(
            r#"{{"jsonrpc":"2.0","id":"1","method":"elicitation/create","params":{{"pad":"{pad}"}}}}"#
        ),
    );
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":"1","error":{"code":-32603,"message":"the gateway could not deliver this request to its client"}}"#
        ]
    );
}

#[test]
fn held_messages_are_charged_what_relaying_them_costs() {
    let mut relay = relay_with(Clients::Separate, Limits::DEFAULT, 3000);
    relay.open_session(A, true);
    relay.initialize_child("2025-06-18");
    let mut admitted = 0;
    for id in 0..40 {
        if send(
            &mut relay,
            A,
            &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"x"}}"#),
        )
        .is_ok()
        {
            admitted += 1;
        }
        assert!(relay.budget().used() <= 3000);
    }
    assert!(admitted > 0 && admitted < 40);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    assert!(relay.budget().used() <= 3000, "{}", relay.budget().used());
    assert_eq!(relay.in_flight(), admitted);
    // The held requests reached the child, after the initialize and the
    // gateway's notifications/initialized, under ids 2, 3, ...
    let lines = to_child(&mut relay);
    assert_eq!(lines.len(), 2 + admitted);
    assert_eq!(
        lines[1],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
    );
    assert_eq!(lines[2], r#"{"jsonrpc":"2.0","id":2,"method":"x"}"#);
}

#[test]
fn an_initialize_whose_client_left_finishes_its_span() {
    let mut relay = relay(Clients::Separate);
    relay.config.request_events = true;
    relay.open_session(A, true);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#,
    )
    .unwrap();
    relay.close_session(A);
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    relay.handle_child_exit(0);
    let (mut started, mut finished) = (0, 0);
    while let Some(event) = relay.poll_event() {
        match event {
            Event::RequestStarted { .. } => started += 1,
            Event::RequestFinished { .. } => finished += 1,
            _ => {}
        }
    }
    assert_eq!((started, finished), (1, 1));
}

#[test]
fn the_relays_own_lines_for_a_child_that_does_not_read_are_bounded() {
    let limits = Limits {
        max_child_lines: 4,
        ..Limits::DEFAULT
    };
    let mut relay = relay_with(Clients::Separate, limits, 64 << 20);
    relay.open_session(A, true);
    relay.open_session(B, true);
    // Two clients could own each of the child's requests: each is answered
    // with an error line the child never reads.
    for n in 0..20 {
        child(
            &mut relay,
            &format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"roots/list"}}"#),
        );
    }
    let reports: Vec<Report> = reports(&mut relay)
        .into_iter()
        .filter(|report| matches!(report, Report::ChildNotReading { .. }))
        .collect();
    assert_eq!(
        reports,
        [Report::ChildNotReading { lines: 8 }],
        "reported once"
    );
    assert_eq!(to_child(&mut relay).len(), 8);
    // Once it reads, the relay's answers flow again.
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","id":"x","method":"roots/list"}"#,
    );
    assert_eq!(to_child(&mut relay).len(), 1);
}

#[test]
fn a_broadcast_taken_by_several_transports_gives_its_bytes_back_once_all_are_done() {
    let mut relay = relay(Clients::Separate);
    relay.open_session(A, true);
    relay.open_session(B, true);
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
    );
    let used = relay.budget().used();
    assert!(used > 0);
    // Both transports hold their copy (a socket write in progress).
    let a = relay.poll_frame(A).unwrap();
    let b = relay.poll_frame(B).unwrap();
    assert_eq!(relay.budget().used(), used, "still held");
    drop(a);
    assert_eq!(relay.budget().used(), used, "B still holds it");
    drop(b);
    assert_eq!(relay.budget().used(), 0);
}

#[test]
fn a_dropped_relay_gives_back_what_it_still_held() {
    let budget = Budget::new(1 << 20);
    let config = Config {
        clients: Clients::Separate,
        limits: Limits::DEFAULT,
        request_events: false,
        ..Config::new(Clients::Separate)
    };
    let mut relay = Relay::new(config, budget.clone(), Box::new(|| [7; 16]));
    relay.open_session(A, true);
    relay.initialize_child("2025-06-18");
    send(&mut relay, A, r#"{"jsonrpc":"2.0","id":1,"method":"held"}"#).unwrap();
    child(
        &mut relay,
        r#"{"jsonrpc":"2.0","method":"notifications/n"}"#,
    );
    assert!(budget.used() > 0);
    drop(relay);
    assert_eq!(budget.used(), 0);
}

#[test]
fn stateless_log_lines_go_only_to_the_one_request_in_flight() {
    let mut relay = relay(Clients::Anonymous);
    relay.initialize_child("2025-06-18");
    child(&mut relay, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    to_child(&mut relay);
    relay.open_session(A, false);
    relay.open_session(B, false);
    send(
        &mut relay,
        A,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    let log = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
    child(&mut relay, log);
    assert_eq!(frames(&mut relay, A), [log]);
    // Two requests in flight: the line cannot be tied to either.
    send(
        &mut relay,
        B,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
    )
    .unwrap();
    child(&mut relay, log);
    assert_eq!(frames(&mut relay, A), Vec::<String>::new());
    assert_eq!(frames(&mut relay, B), Vec::<String>::new());
}

#[test]
fn the_childs_requests_waiting_for_answers_are_bounded() {
    let limits = Limits {
        session_frames: 3,
        ..Limits::DEFAULT
    };
    let mut relay = relay_with(Clients::Separate, limits, 64 << 20);
    relay.open_session(A, true);
    for n in 0..4 {
        child(
            &mut relay,
            &format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"roots/list"}}"#),
        );
    }
    assert_eq!(frames(&mut relay, A).len(), 3);
    assert_eq!(
        to_child(&mut relay),
        [
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"too many of this server's requests are waiting for client answers"}}"#
        ]
    );
    assert!(reports(&mut relay).contains(&Report::TooManyChildRequests));
}

mod era;
mod filter;
mod legacy_client;
mod mrtr;
mod params;
