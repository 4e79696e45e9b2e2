#![allow(clippy::arithmetic_side_effects)]

use proptest::prelude::*;

use super::*;

fn field(s: &str) -> SseField {
    SseField::new(s).unwrap()
}

/// (name, event, id, data, expected bytes)
type EncodeCase<'a> = (
    &'a str,
    Option<&'a SseField>,
    Option<&'a SseField>,
    &'a [u8],
    &'a [u8],
);

#[test]
fn encode_table() {
    let message = SseField::MESSAGE;
    let id = field("s1-7");
    #[rustfmt::skip]
    let cases: &[EncodeCase<'_>] = &[
        ("plain", None, None, b"x", b"data: x\n\n"),
        ("LF", None, None, b"a\nb", b"data: a\ndata: b\n\n"),
        ("CR", None, None, b"a\rb", b"data: a\ndata: b\n\n"),
        ("CRLF", None, None, b"a\r\nb", b"data: a\ndata: b\n\n"),
        ("LF CR is two breaks", None, None, b"a\n\rb", b"data: a\ndata: \ndata: b\n\n"),
        ("mixed", None, None, b"a\r\n\nb\rc\n", b"data: a\ndata: \ndata: b\ndata: c\ndata: \n\n"),
        ("trailing LF", None, None, b"a\n", b"data: a\ndata: \n\n"),
        ("trailing CRLF", None, None, b"a\r\n", b"data: a\ndata: \n\n"),
        ("trailing CR", None, None, b"a\r", b"data: a\ndata: \n\n"),
        ("only LF", None, None, b"\n", b"data: \ndata: \n\n"),
        ("empty", None, None, b"", b"data: \n\n"),
        ("priming", None, Some(&id), b"", b"id: s1-7\ndata: \n\n"),
        ("field injection", None, None, b"x\r\nevent: evil\rid: 9", b"data: x\ndata: event: evil\ndata: id: 9\n\n"),
        ("name", Some(&message), None, b"{}", b"event: message\ndata: {}\n\n"),
        ("name and id", Some(&SseField::ENDPOINT), Some(&id), b"/m?s=1", b"event: endpoint\nid: s1-7\ndata: /m?s=1\n\n"),
        ("colon and spaces kept", None, None, b" : x ", b"data:  : x \n\n"),
    ];
    for (name, event, id, data, expected) in cases {
        let mut out = b"prefix|".to_vec();
        encode_event(&mut out, *event, *id, data);
        assert_eq!(out.strip_prefix(b"prefix|").unwrap(), *expected, "{name}");
    }
}

#[test]
fn encode_comment_and_retry() {
    let mut out = Vec::new();
    encode_comment(&mut out, "keep-alive");
    encode_comment(&mut out, "a\nb\rc\r\nd");
    encode_comment(&mut out, "");
    encode_comment(&mut out, "x\n");
    assert_eq!(out, b": keep-alive\n: a\n: b\n: c\n: d\n:\n: x\n:\n");

    out.clear();
    encode_retry(&mut out, 0);
    encode_retry(&mut out, 1500);
    encode_retry(&mut out, u64::MAX);
    assert_eq!(
        out,
        b"retry: 0\n\nretry: 1500\n\nretry: 18446744073709551615\n\n"
    );

    // Neither dispatches an event; the retry is picked up.
    let (events, error, parser) = parse_chunks(&[&out], 1024);
    assert_eq!(
        (events, error, parser.retry_ms()),
        (vec![], None, Some(u64::MAX))
    );
}

#[test]
fn field_rejects_line_breaks_and_nul() {
    for bad in ["a\nb", "a\rb", "\r\n", "x\0", "\n", "id\r"] {
        assert!(
            matches!(SseField::new(bad), Err(SseError::InvalidField(_))),
            "{bad:?}"
        );
    }
    for good in ["", "message", "s1-42", " x ", "é ü", "a:b"] {
        assert_eq!(SseField::new(good).unwrap().as_str(), good);
    }
    assert_eq!(SseField::MESSAGE.as_str(), "message");
    assert_eq!(SseField::ENDPOINT.as_str(), "endpoint");
    assert_eq!(SseField::new("message").unwrap(), SseField::MESSAGE);
}

/// Feeds `chunks` one after the other, collecting every event until the
/// input ends or an error.
fn parse_chunks(chunks: &[&[u8]], max: usize) -> (Vec<SseEvent>, Option<SseError>, SseParser) {
    let mut parser = SseParser::new(max);
    let mut events = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            match parser.decode(rest) {
                Ok((consumed, event)) => {
                    assert!(consumed <= rest.len());
                    rest = &rest[consumed..];
                    match event {
                        Some(event) => events.push(event),
                        None => {
                            assert!(rest.is_empty(), "None must consume everything");
                            break;
                        }
                    }
                }
                Err(error) => return (events, Some(error), parser),
            }
        }
    }
    (events, None, parser)
}

fn ev(event: &str, data: &str, id: &str) -> SseEvent {
    SseEvent {
        event: event.into(),
        data: data.into(),
        id: id.into(),
    }
}

struct Case {
    name: &'static str,
    chunks: &'static [&'static [u8]],
    max: usize,
    events: Vec<SseEvent>,
    error: Option<SseError>,
    last_id: &'static str,
    retry: Option<u64>,
}

fn case(name: &'static str, chunks: &'static [&'static [u8]], events: Vec<SseEvent>) -> Case {
    Case {
        name,
        chunks,
        max: 1024,
        events,
        error: None,
        last_id: "",
        retry: None,
    }
}

fn parser_cases() -> Vec<Case> {
    let m = |data: &str| ev("message", data, "");
    vec![
        case("LF", &[b"data: a\n\n"], vec![m("a")]),
        case("CR", &[b"data: a\rdata: b\r\r"], vec![m("a\nb")]),
        case("CRLF", &[b"data: a\r\ndata: b\r\n\r\n"], vec![m("a\nb")]),
        case("CR+LF split", &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], vec![m("a\nb")]),
        case("CR then CR split", &[b"data: a\r", b"\r"], vec![m("a")]),
        case("BOM", &[b"\xEF\xBB\xBFdata: a\n\n"], vec![m("a")]),
        case("BOM split", &[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"], vec![m("a")]),
        case("BOM only once", &[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n"], vec![m("b")]),
        case("partial BOM is content", &[b"\xEF\xBBdata: a\n\ndata: b\n\n"], vec![m("b")]),
        case("partial BOM then line end", &[b"\xEF\xBB\ndata: b\n\n"], vec![m("b")]),
        case("multi data lines", &[b"data: a\ndata: b\ndata: c\n\n"], vec![m("a\nb\nc")]),
        case("data without space", &[b"data:a\n\n"], vec![m("a")]),
        case("only one space removed", &[b"data:  a \n\n"], vec![m(" a ")]),
        case("data: empty dispatches", &[b"data:\n\n"], vec![m("")]),
        case("data no colon dispatches", &[b"data\n\n"], vec![m("")]),
        case("field without colon", &[b"data\ndata\ndata: x\n\n"], vec![m("\n\nx")]),
        case("trailing empty data line", &[b"data: a\ndata:\n\n"], vec![m("a\n")]),
        case("comment", &[b": hi\n\n:\ndata: a\n: between\ndata: b\n\n"], vec![m("a\nb")]),
        case("unknown field", &[b"foo: bar\nDATA: x\ndata : y\ndata: a\n\n"], vec![m("a")]),
        case("event name", &[b"event: endpoint\ndata: /m\n\ndata: x\n\n"], vec![ev("endpoint", "/m", ""), m("x")]),
        case("empty event name", &[b"event:\ndata: a\n\n"], vec![m("a")]),
        case("last event name wins", &[b"event: a\nevent: b\ndata: x\n\n"], vec![ev("b", "x", "")]),
        case("blank lines between", &[b"\n\n\r\ndata: a\n\n\n\ndata: b\n\n"], vec![m("a"), m("b")]),
        case("no final blank line", &[b"data: a\n\ndata: b\n"], vec![m("a")]),
        case("invalid UTF-8", &[b"data: a\xFFb\xE2\x82\n\n"], vec![m("a\u{FFFD}b\u{FFFD}")]),
        case("colon in value", &[b"data: a: b\n\n"], vec![m("a: b")]),
        Case {
            last_id: "1",
            ..case("id with NUL ignored", &[b"id: 1\n\nid: 2\0x\ndata: a\n\n"], vec![ev("message", "a", "1")])
        },
        Case {
            last_id: "1",
            ..case("id persists", &[b"id: 1\ndata: a\n\ndata: b\n\n"], vec![ev("message", "a", "1"), ev("message", "b", "1")])
        },
        case("id reset", &[b"id: 1\ndata: a\n\nid\ndata: b\n\n"], vec![ev("message", "a", "1"), m("b")]),
        Case {
            last_id: "9",
            ..case("empty event not dispatched but sets id", &[b"event: x\nid: 9\n\ndata: a\n\n"], vec![ev("message", "a", "9")])
        },
        Case {
            last_id: "2",
            ..case("id set at blank line", &[b"id: 1\n\nid: 2\n\n"], vec![])
        },
        Case { retry: Some(1500), ..case("retry", &[b"retry: 1500\n\n"], vec![]) },
        Case { retry: Some(7), ..case("retry leading zeros", &[b"retry: 007\n"], vec![]) },
        Case {
            retry: Some(1500),
            ..case(
                "retry digits only",
                &[b"retry: 1500\nretry: 1a\nretry: \nretry\nretry: -1\nretry: 1 \nretry: 99999999999999999999\n\n"],
                vec![],
            )
        },
        Case { retry: None, ..case("retry rejects 1a", &[b"retry: 1a\n\n"], vec![]) },
        Case { max: 7, ..case("line at limit", &[b"data: a\n\n"], vec![m("a")]) },
        Case { max: 7, error: Some(SseError::EventTooLarge), ..case("line too large", &[b"data: a\n\ndata: ab\n\n"], vec![m("a")]) },
        Case {
            max: 7,
            error: Some(SseError::EventTooLarge),
            ..case("line too large split", &[b"data: a\n\nda", b"ta: ", b"ab"], vec![m("a")])
        },
        Case { max: 16, ..case("data at limit", &[b"data: 0123456\ndata: 0123456\n\n"], vec![m("0123456\n0123456")]) },
        Case {
            max: 16,
            error: Some(SseError::EventTooLarge),
            ..case("event too large", &[b"data: 0123456\ndata: 01234567\n\n"], vec![])
        },
        Case {
            max: 8,
            error: Some(SseError::EventTooLarge),
            ..case("comment too large", &[b": 12345678\n"], vec![])
        },
        Case {
            max: 1,
            error: Some(SseError::EventTooLarge),
            ..case("partial BOM too large", &[b"\xEF\xBBx"], vec![])
        },
    ]
}

#[test]
fn parser_table() {
    for case in parser_cases() {
        let (events, error, parser) = parse_chunks(case.chunks, case.max);
        assert_eq!(events, case.events, "{}", case.name);
        assert_eq!(error, case.error, "{}", case.name);
        if error.is_none() {
            assert_eq!(parser.last_event_id(), case.last_id, "{}", case.name);
            assert_eq!(parser.retry_ms(), case.retry, "{}", case.name);
        }
    }
}

#[test]
fn failed_state_is_terminal() {
    let mut parser = SseParser::new(4);
    assert_eq!(parser.decode(b"data: x\n"), Err(SseError::EventTooLarge));
    assert_eq!(parser.decode(b"\n"), Err(SseError::Failed));
    assert_eq!(parser.decode(b""), Err(SseError::Failed));
}

#[test]
fn decode_consumes_through_dispatching_line_end() {
    let input = b"data: a\r\n\r\ndata: b\n\n";
    let mut parser = SseParser::new(64);
    assert_eq!(parser.decode(input), Ok((11, Some(ev("message", "a", "")))));
    assert_eq!(
        parser.decode(&input[11..]),
        Ok((9, Some(ev("message", "b", ""))))
    );
    assert_eq!(parser.decode(b""), Ok((0, None)));
    assert_eq!(parser.decode(b"data: c"), Ok((7, None)));
}

type Outcome = (Vec<SseEvent>, Option<SseError>, String, Option<u64>);

fn outcome(chunks: &[&[u8]], max: usize) -> Outcome {
    let (events, error, parser) = parse_chunks(chunks, max);
    (
        events,
        error,
        parser.last_event_id().to_owned(),
        parser.retry_ms(),
    )
}

/// STYLE.md 15: every split point and one byte at a time give the same result.
fn assert_split_invariant(input: &[u8], max: usize) {
    let whole = outcome(&[input], max);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(outcome(&[a, b], max), whole, "split at {at} of {input:?}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(outcome(&bytes, max), whole, "byte at a time: {input:?}");
}

#[test]
fn split_at_every_byte() {
    for case in parser_cases() {
        let input = case.chunks.concat();
        assert_split_invariant(&input, case.max);
    }
    let mixed =
        b"\xEF\xBB\xBFevent: e\r\nid: 1\rdata: a\r\rdata: b\n: c\r\nretry: 10\r\n\r\ndata\n\n";
    assert_split_invariant(mixed, 1024);
    assert_split_invariant(mixed, 8);
}

/// What a client receives for `data`: every line break becomes LF.
fn normalise(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// Strings rich in line breaks (CR, LF, CRLF) among arbitrary characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![any::<char>(), Just('\r'), Just('\n'), Just(':'), Just(' ')],
        0..max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn encode_decode_round_trip(
        events in prop::collection::vec(
            (
                prop::option::of("[^\r\n\0]{1,12}"),
                prop::option::of("[^\r\n\0]{0,12}"),
                text(24),
                prop::option::of(text(8)),
            ),
            1..6,
        ),
        split in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut last_id = String::new();
        for (name, id, data, comment) in &events {
            if let Some(comment) = comment {
                encode_comment(&mut wire, comment);
            }
            let name_field = name.as_deref().map(field);
            let id_field = id.as_deref().map(field);
            encode_event(&mut wire, name_field.as_ref(), id_field.as_ref(), data.as_bytes());
            if let Some(id) = id {
                last_id.clone_from(id);
            }
            expected.push(ev(name.as_deref().unwrap_or("message"), &normalise(data), &last_id));
        }
        let at = split.index(wire.len() + 1);
        let (a, b) = wire.split_at(at);
        let (decoded, error, parser) = parse_chunks(&[a, b], 1 << 16);
        prop_assert_eq!(error, None);
        prop_assert_eq!(decoded, expected);
        prop_assert_eq!(parser.last_event_id(), last_id.as_str());
    }

    #[test]
    fn arbitrary_input_split_invariant(input in prop::collection::vec(
        prop::sample::select(vec![b'\r', b'\n', b':', b' ', b'd', b'a', b't', b'i', b'\xEF', b'\xBB', b'\xBF', 0]),
        0..40,
    )) {
        assert_split_invariant(&input, 12);
    }
}

proptest! {
    #[test]
    fn fuzz_harness_sse_decode(limit in 0u8..8, input in prop::collection::vec(
        prop::sample::select(b"\r\n: dataeventidretry0123456789\xEF\xBB\xBF\xFF\0".to_vec()),
        0..64,
    )) {
        let mut data = vec![limit];
        data.extend_from_slice(&input);
        crate::fuzzing::sse_decode(&data);
    }
}

#[test]
fn fuzz_harness_sse_decode_seeds() {
    for case in parser_cases() {
        let mut data = vec![u8::try_from(case.max / 4).unwrap_or(u8::MAX)];
        data.extend_from_slice(&case.chunks.concat());
        crate::fuzzing::sse_decode(&data);
    }
}
