#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------- lines

/// Feeds `chunks` in order; `Ok(line)` per complete line, `Err(len)` per
/// oversize line.
fn lines(chunks: &[&[u8]], max: usize) -> (Vec<Result<Vec<u8>, usize>>, usize) {
    let mut decoder = LineDecoder::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            let (consumed, line) = decoder.decode(rest);
            assert!(consumed <= rest.len());
            match line {
                Line::Complete(line) => {
                    assert!(line.len() <= max);
                    out.push(Ok(line.to_vec()));
                }
                Line::Oversize { len } => out.push(Err(len)),
                Line::NeedMore => {
                    assert_eq!(consumed, rest.len());
                    break;
                }
            }
            rest = &rest[consumed..];
        }
    }
    (out, decoder.pending())
}

/// The specification of `LineDecoder` as a one-line model.
fn lines_model(input: &[u8], max: usize) -> (Vec<Result<Vec<u8>, usize>>, usize) {
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let pending = pieces.pop().unwrap().len();
    let out = pieces
        .into_iter()
        .map(|line| {
            if line.len() > max {
                Err(line.len())
            } else {
                Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            }
        })
        .collect();
    (out, pending)
}

/// A complete line, or the length of an oversize one.
type LineResult = Result<Vec<u8>, usize>;

/// (name, chunks, max, lines, pending)
type LineCase<'a> = (&'a str, &'a [&'a [u8]], usize, &'a [LineResult], usize);

fn ok(line: &[u8]) -> LineResult {
    Ok(line.to_vec())
}

#[test]
fn line_table() {
    #[rustfmt::skip]
    let cases: &[LineCase<'_>] = &[
        ("LF", &[b"a\nbc\n"], 8, &[ok(b"a"), ok(b"bc")], 0),
        ("CRLF stripped", &[b"a\r\nb\r\n"], 8, &[ok(b"a"), ok(b"b")], 0),
        ("only the CR before LF", &[b"a\r\r\nb\rc\n"], 8, &[ok(b"a\r"), ok(b"b\rc")], 0),
        ("CRLF split", &[b"a\r", b"\n"], 8, &[ok(b"a")], 0),
        ("empty lines", &[b"\n\r\n\n"], 8, &[ok(b""), ok(b""), ok(b"")], 0),
        ("partial kept", &[b"ab", b"c\nde"], 8, &[ok(b"abc")], 2),
        ("at limit", &[b"abcd\n"], 4, &[ok(b"abcd")], 0),
        ("CR counts toward limit", &[b"abcd\r\nab\r\n"], 4, &[Err(5), ok(b"ab")], 0),
        ("oversize dropped, next intact", &[b"abcde\nok\n"], 4, &[Err(5), ok(b"ok")], 0),
        ("oversize across chunks", &[b"abc", b"defgh", b"ij\nok\n"], 4, &[Err(10), ok(b"ok")], 0),
        ("oversize pending", &[b"abc", b"defgh"], 4, &[], 8),
        ("oversize then partial", &[b"abcdef\nxy"], 4, &[Err(6)], 2),
        ("zero limit", &[b"\na\n\n"], 0, &[ok(b""), Err(1), ok(b"")], 0),
    ];
    for (name, chunks, max, expected, pending) in cases {
        assert_eq!(lines(chunks, *max), (expected.to_vec(), *pending), "{name}");
        assert_eq!(
            lines_model(&chunks.concat(), *max),
            (expected.to_vec(), *pending),
            "model {name}"
        );
    }
}

#[test]
fn line_zero_copy_when_whole() {
    let input = b"{\"a\":1}\npartial";
    let mut decoder = LineDecoder::new(64);
    let (consumed, line) = decoder.decode(input);
    let Line::Complete(line) = line else {
        panic!("expected a line")
    };
    assert_eq!((consumed, line), (8, &b"{\"a\":1}"[..]));
    assert_eq!(line.as_ptr(), input.as_ptr(), "borrowed from input");

    let (consumed, line) = decoder.decode(&input[8..]);
    assert_eq!((consumed, line), (7, Line::NeedMore));
    let rest = b"-end\n";
    let (consumed, line) = decoder.decode(rest);
    let Line::Complete(line) = line else {
        panic!("expected a line")
    };
    assert_eq!((consumed, line), (5, &b"partial-end"[..]));
    assert!(
        !rest.as_ptr_range().contains(&line.as_ptr()),
        "from the buffer"
    );

    // The buffer is released before the next line: zero-copy again.
    let next = b"x\n";
    let (_, line) = decoder.decode(next);
    let Line::Complete(line) = line else {
        panic!("expected a line")
    };
    assert_eq!(line.as_ptr(), next.as_ptr());
}

#[test]
fn line_oversize_dropped_next_intact() {
    // Never buffered past the limit: pending stays a count, not bytes.
    let mut decoder = LineDecoder::new(16);
    let big = vec![b'x'; 1 << 20];
    assert_eq!(decoder.decode(&big), (big.len(), Line::NeedMore));
    assert_eq!(decoder.pending(), 1 << 20);
    assert_eq!(
        decoder.decode(b"yy\n{\"ok\":1}\n"),
        (3, Line::Oversize { len: (1 << 20) + 2 })
    );
    assert_eq!(
        decoder.decode(b"{\"ok\":1}\n"),
        (9, Line::Complete(b"{\"ok\":1}"))
    );
}

fn assert_line_split_invariant(input: &[u8], max: usize) {
    let whole = lines(&[input], max);
    assert_eq!(whole, lines_model(input, max), "model {input:?}");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(lines(&[a, b], max), whole, "split at {at} of {input:?}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(lines(&bytes, max), whole, "byte at a time {input:?}");
}

#[test]
fn line_split_at_every_byte() {
    assert_line_split_invariant(b"{\"a\":1}\r\n\nabcdefghij\nxy\r\r\n\rz\ntail", 8);
    assert_line_split_invariant(b"12345678\n123456789\n1234567\r\n12345678\r\n", 8);
}

proptest! {
    #[test]
    fn fuzz_harness_line_decode(data in prop::collection::vec(
        prop::sample::select(vec![b'\n', b'\r', b'a', 3, 0xff]),
        0..64,
    )) {
        crate::fuzzing::line_decode(&data);
    }

    #[test]
    fn line_decoder_matches_model(
        input in prop::collection::vec(prop::sample::select(vec![b'\n', b'\r', b'a', b'b']), 0..48),
        max in 0usize..6,
    ) {
        assert_line_split_invariant(&input, max);
    }
}

// ---------------------------------------------------------------- ids

#[test]
fn id_from_raw_table() {
    let accept: &[&[u8]] = &[
        b"0",
        b"7",
        b"-5",
        b"1.0",
        b"1e3",
        b"-0.5E-3",
        b"1E+2",
        b"18446744073709551616",
        b"\"\"",
        b"\"req-1\"",
        b"\"x\\\"y\"",
        b"\"\\u00e9\"",
        "\"é\"".as_bytes(),
    ];
    for raw in accept {
        let id = Id::from_raw(raw).unwrap_or_else(|| panic!("{raw:?}"));
        assert_eq!(id.as_bytes(), *raw);
        assert_eq!(id.is_string(), raw[0] == b'"');
    }
    let reject: &[&[u8]] = &[
        b"",
        b" 1",
        b"1 ",
        b"01",
        b"1.",
        b".5",
        b"+1",
        b"-",
        b"1e",
        b"0x1",
        b"null",
        b"true",
        b"{}",
        b"[]",
        b"\"a",
        b"\"a\"b",
        b"\"\\x\"",
        b"\"\x01\"",
        b"\"\xff\"",
        b"1,2",
        b"NaN",
    ];
    for raw in reject {
        assert_eq!(Id::from_raw(raw), None, "{raw:?}");
    }
}

#[test]
fn id_as_u64_and_from_u64() {
    #[rustfmt::skip]
    let cases: &[(&[u8], Option<u64>)] = &[
        (b"0", Some(0)), (b"7", Some(7)), (b"18446744073709551615", Some(u64::MAX)),
        (b"18446744073709551616", None), (b"-1", None), (b"1.0", None), (b"1e3", None), (b"\"7\"", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(Id::from_raw(raw).unwrap().as_u64(), *expected, "{raw:?}");
    }
    for n in [0, 1, 9, 10, 4242, u64::MAX] {
        let id = Id::from_u64(n);
        assert_eq!(id.as_bytes(), n.to_string().as_bytes());
        assert_eq!(id.as_u64(), Some(n));
    }
}

#[test]
fn id_owned_round_trip() {
    let short = b"\"0123456789abcdefghijk\"";
    assert_eq!(short.len(), Id::INLINE);
    let long = b"\"0123456789abcdefghijkl\"";
    for raw in [&short[..], &long[..]] {
        let id = Id::from_raw(raw).unwrap();
        assert_eq!(id.is_inline(), raw.len() <= Id::INLINE);
        assert_eq!(id.as_bytes(), raw);
        assert_eq!(id.clone(), id);
        assert_eq!(id.as_raw().to_owned(), id);
    }
    // Equality and hashing are on the raw text.
    let set: HashSet<Id> = [&b"1"[..], b"1.0", b"\"1\"", b"1"]
        .iter()
        .map(|r| Id::from_raw(r).unwrap())
        .collect();
    assert_eq!(set.len(), 3);
    assert_eq!(
        format!("{:?} {}", Id::from_u64(5), Id::from_raw(b"\"a\"").unwrap()),
        "Id(\"5\") \"a\""
    );
}

// ---------------------------------------------------------------- messages

/// A message seen through the text of its spans.
#[derive(Debug, PartialEq)]
struct View {
    kind: Kind,
    id: Option<String>,
    id_span: Option<String>,
    method: Option<String>,
    progress: Option<String>,
    cancelled: Option<String>,
    result: Option<String>,
    version: Option<String>,
}

impl View {
    fn of(input: &[u8], msg: &Message<'_>) -> Self {
        let text = |span: &std::ops::Range<usize>| {
            std::str::from_utf8(&input[span.clone()])
                .unwrap()
                .to_owned()
        };
        let token = |pair: &Option<(RawId<'_>, std::ops::Range<usize>)>| {
            pair.as_ref().map(|(raw, span)| {
                assert_eq!(raw.as_bytes(), &input[span.clone()]);
                text(span)
            })
        };
        if let (Some(raw), Some(span)) = (&msg.id, &msg.id_span) {
            assert_eq!(raw.as_bytes(), &input[span.clone()]);
        }
        Self {
            kind: msg.kind,
            id: msg
                .id
                .map(|raw| std::str::from_utf8(raw.as_bytes()).unwrap().to_owned()),
            id_span: msg.id_span.as_ref().map(text),
            method: msg.method.as_deref().map(str::to_owned),
            progress: token(&msg.progress_token),
            cancelled: token(&msg.cancelled_id),
            result: msg.result_span.as_ref().map(text),
            version: msg.protocol_version.as_deref().map(str::to_owned),
        }
    }

    fn new(kind: Kind) -> Self {
        Self {
            kind,
            id: None,
            id_span: None,
            method: None,
            progress: None,
            cancelled: None,
            result: None,
            version: None,
        }
    }
    fn id(self, id: &str) -> Self {
        Self {
            id: Some(id.into()),
            id_span: Some(id.into()),
            ..self
        }
    }
    fn null_id(self) -> Self {
        Self {
            id_span: Some("null".into()),
            ..self
        }
    }
    fn method(self, method: &str) -> Self {
        Self {
            method: Some(method.into()),
            ..self
        }
    }
    fn progress(self, token: &str) -> Self {
        Self {
            progress: Some(token.into()),
            ..self
        }
    }
    fn cancelled(self, id: &str) -> Self {
        Self {
            cancelled: Some(id.into()),
            ..self
        }
    }
    fn result(self, result: &str) -> Self {
        Self {
            result: Some(result.into()),
            ..self
        }
    }
    fn version(self, version: &str) -> Self {
        Self {
            version: Some(version.into()),
            ..self
        }
    }
}

fn req(id: &str, method: &str) -> View {
    View::new(Kind::Request).id(id).method(method)
}

fn note(method: &str) -> View {
    View::new(Kind::Notification).method(method)
}

#[test]
fn accept_table() {
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"a","params":{{"x":{}{}}}}}"#,
        "[".repeat(scan::MAX_DEPTH - 2),
        "]".repeat(scan::MAX_DEPTH - 2)
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, View)> = vec![
        ("request", r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, req("1", "ping")),
        ("notification", r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, note("notifications/initialized")),
        ("result", r#"{"jsonrpc":"2.0","id":"a","result":{"x":[1,2]}}"#,
            View::new(Kind::Response).id("\"a\"").result(r#"{"x":[1,2]}"#)),
        ("result null", r#"{"jsonrpc":"2.0","id":3,"result":null}"#, View::new(Kind::Response).id("3").result("null")),
        ("error null id", r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
            View::new(Kind::ErrorResponse).null_id()),
        ("error", r#"{"jsonrpc":"2.0","id":"e","error":{"code":-1,"message":"x"}}"#, View::new(Kind::ErrorResponse).id("\"e\"")),
        ("id 1.0", r#"{"jsonrpc":"2.0","id":1.0,"method":"a"}"#, req("1.0", "a")),
        ("id -5", r#"{"jsonrpc":"2.0","id":-5,"method":"a"}"#, req("-5", "a")),
        ("id 1e3", r#"{"jsonrpc":"2.0","id":1e3,"method":"a"}"#, req("1e3", "a")),
        ("id -0.5E-3", r#"{"jsonrpc":"2.0","id":-0.5E-3,"method":"a"}"#, req("-0.5E-3", "a")),
        ("id escaped quote", r#"{"jsonrpc":"2.0","id":"x\"y","method":"a"}"#, req(r#""x\"y""#, "a")),
        ("id unicode", r#"{"jsonrpc":"2.0","id":"é\u00e9","method":"a"}"#, req(r#""é\u00e9""#, "a")),
        ("id empty string", r#"{"jsonrpc":"2.0","id":"","method":"a"}"#, req(r#""""#, "a")),
        ("progress in _meta", r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","_meta":{"a":[1],"progressToken":"p1"},"arguments":{}}}"#,
            req("2", "tools/call").progress("\"p1\"")),
        ("progress number, keys reordered", r#"{"params":{"_meta":{"progressToken":-7}},"method":"x","id":3,"jsonrpc":"2.0"}"#,
            req("3", "x").progress("-7")),
        ("progress token null ignored", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":null}}}"#, req("1", "x")),
        ("progress token object ignored", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":{"a":1}}}}"#, req("1", "x")),
        ("_meta not an object", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":5}}"#, req("1", "x")),
        ("params.progressToken of a request ignored", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"progressToken":1}}"#, req("1", "x")),
        ("params array", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1,{"_meta":{"progressToken":1}}]}"#, req("1", "x")),
        ("progress notification", r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p1","progress":1,"total":2}}"#,
            note("notifications/progress").progress("\"p1\"")),
        ("progress notification _meta ignored", r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{"progressToken":1},"progressToken":2}}"#,
            note("notifications/progress").progress("2")),
        ("cancelled", r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"x"}}"#,
            note("notifications/cancelled").cancelled("7")),
        ("cancelled string id", r#"{"method":"notifications/cancelled","params":{"reason":"x","requestId":"r\"1"},"jsonrpc":"2.0"}"#,
            note("notifications/cancelled").cancelled(r#""r\"1""#)),
        ("requestId elsewhere ignored", r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"requestId":7,"requestId":8}}"#, req("1", "x")),
        ("escaped method", r#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#, req("1", "tools/list")),
        ("unicode escapes", r#"{"jsonrpc":"2.0","id":1,"method":"\u0070ing\ud83d\ude00\ud800x"}"#, req("1", "ping\u{1F600}\u{FFFD}x")),
        ("escaped cancelled method", r#"{"jsonrpc":"2.0","method":"notifications\/cancelled","params":{"requestId":1}}"#,
            note("notifications/cancelled").cancelled("1")),
        ("initialize", r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#,
            req("0", "initialize").version("2025-06-18")),
        ("initialize version not a string", r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":1}}"#, req("0", "initialize")),
        ("protocolVersion only on initialize", r#"{"jsonrpc":"2.0","id":0,"method":"x","params":{"protocolVersion":"v"}}"#, req("0", "x")),
        ("whitespace", " \t\r\n{ \"jsonrpc\" : \"2.0\" ,\n\"id\" : 1 , \"method\" : \"a\" } \r\n", req("1", "a")),
        ("escaped key", r#"{"json\u0072pc":"2\u002e0","i\u0064":1,"method":"a"}"#, req("1", "a")),
        ("unknown keys", r#"{"jsonrpc":"2.0","id":1,"method":"a","x":1,"y":{"x":2},"z":[]}"#, req("1", "a")),
        ("deep nesting at limit", &deep, note("a")),
        ("all value types", r#"{"jsonrpc":"2.0","id":1,"result":[true,false,null,-0,0.5e-1,"\b\f\n\r\t\/\\",{}]}"#,
            View::new(Kind::Response).id("1").result(r#"[true,false,null,-0,0.5e-1,"\b\f\n\r\t\/\\",{}]"#)),
    ];
    for (name, input, expected) in cases {
        let msg = parse_message(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(View::of(input.as_bytes(), &msg), expected, "{name}");
    }
}

#[test]
fn exact_message() {
    let input = br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"_meta":{"progressToken":7}}}"#;
    let msg = parse_message(input).unwrap();
    assert_eq!(
        msg,
        Message {
            kind: Kind::Request,
            id: Some(RawId::new_unchecked(b"\"a\"")),
            id_span: Some(22..25),
            method: Some(Cow::Borrowed("tools/call")),
            progress_token: Some((RawId::new_unchecked(b"7"), 83..84)),
            cancelled_id: None,
            result_span: None,
            protocol_version: None,
            meta: Some(Meta {
                span: 66..85,
                version: None,
                capabilities: None,
                log_level: None,
            }),
            target: None,
            subscription_id: None,
        }
    );
    assert!(
        matches!(msg.method, Some(Cow::Borrowed(_))),
        "no allocation without escapes"
    );
    assert!(msg.id.unwrap().is_string());
    let escaped = parse_message(br#"{"jsonrpc":"2.0","method":"a\/b"}"#).unwrap();
    assert!(matches!(escaped.method, Some(Cow::Owned(ref m)) if m == "a/b"));
}

#[test]
fn reject_table() {
    use MessageError::{Batch, Invalid, Parse};
    let dup = Invalid("duplicate key");
    let dup_params = Invalid("duplicate key in params");
    let bad_id = Invalid("id is not a number or string");
    let case = Invalid("a key differs from a routing key only in letter case");
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"a","params":{{"x":{}}}}}"#,
        "[".repeat(200)
    );
    let too_deep = format!(
        r#"{{"jsonrpc":"2.0","method":"a","params":{{"x":{}{}}}}}"#,
        "[".repeat(scan::MAX_DEPTH - 1),
        "]".repeat(scan::MAX_DEPTH - 1)
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, &[u8], MessageError)> = vec![
        ("empty", b"", Parse),
        ("whitespace only", b" \n", Parse),
        ("not json", b"hello", Parse),
        ("unterminated", br#"{"jsonrpc":"2.0","id":1"#, Parse),
        ("unterminated beats invalid", br#"{"jsonrpc":"1.0","id":1,"method":"a""#, Parse),
        ("trailing garbage", br#"{"jsonrpc":"2.0","id":1,"method":"a"} x"#, Parse),
        ("two messages", br#"{"jsonrpc":"2.0","id":1,"method":"a"}{"jsonrpc":"2.0","id":2,"method":"b"}"#, Parse),
        ("trailing comma", br#"{"jsonrpc":"2.0","id":1,"method":"a",}"#, Parse),
        ("trailing comma in array", br#"{"jsonrpc":"2.0","id":1,"result":[1,]}"#, Parse),
        ("missing colon", br#"{"jsonrpc" "2.0"}"#, Parse),
        ("single quotes", br#"{'jsonrpc':'2.0'}"#, Parse),
        ("invalid UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", Parse),
        ("invalid UTF-8 outside strings", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}\xc3", Parse),
        ("raw control char", b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\nb\"}", Parse),
        ("bad escape", br#"{"jsonrpc":"2.0","id":1,"method":"\x"}"#, Parse),
        ("short unicode escape", br#"{"jsonrpc":"2.0","id":1,"method":"\u12"}"#, Parse),
        ("leading zero", br#"{"jsonrpc":"2.0","id":01,"method":"a"}"#, Parse),
        ("bare fraction", br#"{"jsonrpc":"2.0","id":1.,"method":"a"}"#, Parse),
        ("bare exponent", br#"{"jsonrpc":"2.0","id":1e,"method":"a"}"#, Parse),
        ("plus sign", br#"{"jsonrpc":"2.0","id":+1,"method":"a"}"#, Parse),
        ("bad literal", br#"{"jsonrpc":"2.0","id":1,"result":tru}"#, Parse),
        ("unquoted key", br#"{jsonrpc:"2.0"}"#, Parse),
        ("deep unterminated", deep.as_bytes(), Parse),
        ("too deep", too_deep.as_bytes(), Parse),
        ("jsonrpc missing", br#"{"id":1,"method":"a"}"#, Invalid("missing \"jsonrpc\"")),
        ("jsonrpc 1.0", br#"{"jsonrpc":"1.0","id":1,"method":"a"}"#, Invalid("\"jsonrpc\" is not \"2.0\"")),
        ("jsonrpc number", br#"{"jsonrpc":2.0,"id":1,"method":"a"}"#, Invalid("\"jsonrpc\" is not \"2.0\"")),
        ("jsonrpc 2.00", br#"{"jsonrpc":"2.00","id":1,"method":"a"}"#, Invalid("\"jsonrpc\" is not \"2.0\"")),
        ("id object", br#"{"jsonrpc":"2.0","id":{},"method":"a"}"#, bad_id),
        ("id array", br#"{"jsonrpc":"2.0","id":[1],"method":"a"}"#, bad_id),
        ("id bool", br#"{"jsonrpc":"2.0","id":true,"method":"a"}"#, bad_id),
        ("id null on request", br#"{"jsonrpc":"2.0","id":null,"method":"a"}"#, bad_id),
        ("id null on result", br#"{"jsonrpc":"2.0","id":null,"result":{}}"#, bad_id),
        ("id object on error", br#"{"jsonrpc":"2.0","id":{},"error":{}}"#, bad_id),
        ("method number", br#"{"jsonrpc":"2.0","id":1,"method":1}"#, Invalid("method is not a string")),
        ("method null", br#"{"jsonrpc":"2.0","method":null}"#, Invalid("method is not a string")),
        ("result and error", br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#, Invalid("both result and error")),
        ("request with result", br#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#, Invalid("request or notification with result or error")),
        ("notification with error", br#"{"jsonrpc":"2.0","method":"a","error":{}}"#, Invalid("request or notification with result or error")),
        ("response without id", br#"{"jsonrpc":"2.0","result":{}}"#, Invalid("response without id")),
        ("error without id", br#"{"jsonrpc":"2.0","error":{"code":1,"message":""}}"#, Invalid("response without id")),
        ("nothing", br#"{"jsonrpc":"2.0"}"#, Invalid("neither method, result nor error")),
        ("empty object", b"{}", Invalid("missing \"jsonrpc\"")),
        ("string", br#""x""#, Invalid("not an object")),
        ("number", b" 1 ", Invalid("not an object")),
        ("null", b"null", Invalid("not an object")),
        ("array", br#"[{"jsonrpc":"2.0","id":1,"method":"a"}]"#, Batch),
        ("empty array", b" [ ] ", Batch),
        ("invalid array", b"[1,", Parse),
        ("duplicate id", br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}"#, dup),
        ("duplicate escaped id", br#"{"jsonrpc":"2.0","id":1,"i\u0064":2,"method":"a"}"#, dup),
        ("duplicate method", br#"{"jsonrpc":"2.0","method":"a","method":"b"}"#, dup),
        ("duplicate jsonrpc", br#"{"jsonrpc":"2.0","jsonrpc":"2.0","method":"a"}"#, dup),
        ("duplicate params", br#"{"jsonrpc":"2.0","method":"a","params":{},"params":[]}"#, dup),
        ("duplicate result", br#"{"jsonrpc":"2.0","id":1,"result":1,"result":2}"#, dup),
        ("duplicate unknown", br#"{"jsonrpc":"2.0","method":"a","x":1,"y":1,"x":2}"#, dup),
        ("duplicate progressToken", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"progressToken":1,"progressToken":2}}}"#, dup_params),
        ("duplicate _meta", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"progressToken":1},"_meta":{}}}"#, dup_params),
        ("duplicate progress notification token", br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progressToken":2}}"#, dup_params),
        ("duplicate requestId", br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"requestId":2}}"#, dup_params),
        ("duplicate protocolVersion", br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"a","protocolVersion":"b"}}"#, dup_params),
        // A case-insensitive decoder (Go's encoding/json) would read these
        // as the routing key: issue 12, CVE-2026-27896.
        ("case variant ID", br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{},"ID":2}"#, case),
        ("case variant Id alone", br#"{"jsonrpc":"2.0","method":"a","Id":2}"#, case),
        ("case variant JSONRPC", br#"{"jsonrpc":"2.0","method":"a","JSONRPC":"1.0"}"#, case),
        ("case variant Method", br#"{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}"#, case),
        ("case variant Result", br#"{"jsonrpc":"2.0","id":1,"result":{},"Result":{}}"#, case),
        ("case variant escaped", br#"{"jsonrpc":"2.0","id":1,"method":"a","ID":2}"#, case),
        ("case variant RequestID", br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"RequestID":4}}"#, case),
        ("case variant RequestId alone", br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"RequestId":4}}"#, case),
        ("case variant ProgressToken in _meta", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"ProgressToken":1}}}"#, case),
        ("case variant long s", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"_meta\":{\"progre\u{17f}\u{17f}Token\":1}}}".as_bytes(), case),
        ("case variant escaped long s", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"progre\u017f\u017fToken":1}}}"#, case),
        ("case variant Kelvin", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"_meta\":{\"progressTo\u{212a}en\":1}}}".as_bytes(), case),
        ("case variant _META", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_META":{}}}"#, case),
        ("case variant Name", br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}"#, case),
        ("case variant URI", br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"URI":"x"}}"#, case),
        ("case variant Params", br#"{"jsonrpc":"2.0","method":"a","Params":{}}"#, case),
        ("case variant RequestState", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"RequestState":"x"}}"#, case),
        ("case variant InputResponses", br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"inputresponses":{}}}"#, case),
        ("case variant SubscriptionID", br#"{"jsonrpc":"2.0","method":"a","params":{"_meta":{"SubscriptionID":"x"}}}"#, case),
        ("case variant ProtocolVersion", br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"a","ProtocolVersion":"b"}}"#, case),
    ];
    for (name, input, expected) in cases {
        assert_eq!(parse_message(input), Err(expected), "{name}");
    }
}

#[test]
fn keys_that_only_look_like_routing_keys_are_accepted() {
    #[rustfmt::skip]
    let cases: [&[u8]; 8] = [
        // Not equal under folding: longer, shorter, other letters.
        br#"{"jsonrpc":"2.0","id":1,"method":"a","ids":2,"i":3,"idx":4}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"names":"b","arguments":{"ID":1,"Name":2}}}"#,
        // Nested below the objects the gateway reads: the child's business.
        br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"x":{"ProgressToken":1}}}}"#,
        br#"{"jsonrpc":"2.0","id":1,"result":{"Id":1,"Method":"x"}}"#,
        // Non-ASCII that folds to no ASCII letter (U+0130, U+212B).
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"\u{130}d\":1,\"\u{212b}\":2}".as_bytes(),
        br#"{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"progressToken":"t","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"n","uri":"u","requestState":"s","inputResponses":{}}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"x"}}"#,
    ];
    for input in cases {
        assert!(
            parse_message(input).is_ok(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn deep_nesting_is_bounded() {
    // Far past any recursion depth: iterative, so no stack overflow.
    let open = "[".repeat(1 << 20);
    assert_eq!(parse_message(open.as_bytes()), Err(MessageError::Parse));
    let wrapped = format!(r#"{{"jsonrpc":"2.0","method":"a","params":{{"_meta":{{"x":{open}"#);
    assert_eq!(parse_message(wrapped.as_bytes()), Err(MessageError::Parse));
    assert_eq!(split_batch(open.as_bytes()), Err(MessageError::Parse));
    let objects = r#"{"a":"#.repeat(1 << 16);
    assert_eq!(parse_message(objects.as_bytes()), Err(MessageError::Parse));
}

#[test]
fn error_codes() {
    assert_eq!(MessageError::Parse.code(), -32700);
    assert_eq!(MessageError::Invalid("x").code(), -32600);
    assert_eq!(MessageError::Batch.code(), -32600);
    assert_eq!(MessageError::Internal("x").code(), -32603);
    assert_eq!(
        [
            codes::METHOD_NOT_FOUND,
            codes::INVALID_PARAMS,
            codes::SERVER_ERROR,
            codes::SESSION_NOT_FOUND
        ],
        [-32601, -32602, -32000, -32001]
    );
}

#[test]
fn split_batch_table() {
    let input =
        br#" [ {"jsonrpc":"2.0","id":1,"method":"a"} ,{"jsonrpc":"2.0","method":"b"},[1],"s" ] "#;
    let spans = split_batch(input).unwrap();
    let texts: Vec<&[u8]> = spans.iter().map(|s| &input[s.clone()]).collect();
    assert_eq!(
        texts,
        [
            &br#"{"jsonrpc":"2.0","id":1,"method":"a"}"#[..],
            br#"{"jsonrpc":"2.0","method":"b"}"#,
            b"[1]",
            b"\"s\""
        ]
    );
    assert_eq!(parse_message(texts[0]).unwrap().kind, Kind::Request);
    assert_eq!(parse_message(texts[1]).unwrap().kind, Kind::Notification);
    assert_eq!(parse_message(texts[2]), Err(MessageError::Batch));
    assert_eq!(
        split_batch(b"[]"),
        Err(MessageError::Invalid("empty batch"))
    );
    assert_eq!(
        split_batch(b"{}"),
        Err(MessageError::Invalid("not an array"))
    );
    assert_eq!(split_batch(b"{"), Err(MessageError::Parse));
    assert_eq!(split_batch(b"[1,]"), Err(MessageError::Parse));
    assert_eq!(split_batch(b"[1] [2]"), Err(MessageError::Parse));
    assert_eq!(split_batch(b"[1]\xff"), Err(MessageError::Parse));
}

// ---------------------------------------------------------------- writing

type Replacement<'a> = (std::ops::Range<usize>, &'a [u8]);

/// (replacements, expected output)
type SpliceCase<'a> = (&'a [Replacement<'a>], Result<&'a [u8], MessageError>);

#[test]
fn splice_table() {
    let input = b"0123456789";
    #[rustfmt::skip]
    let cases: &[SpliceCase<'_>] = &[
        (&[], Ok(b"0123456789")),
        (&[(2..4, b"ab")], Ok(b"01ab456789")),
        (&[(0..1, b"<"), (9..10, b">")], Ok(b"<12345678>")),
        (&[(2..4, b""), (4..6, b"xyz")], Ok(b"01xyz6789")),
        (&[(3..3, b"+"), (3..3, b"-")], Ok(b"012+-3456789")),
        (&[(0..10, b"all")], Ok(b"all")),
        (&[(10..10, b"!")], Ok(b"0123456789!")),
        (&[(4..6, b"x"), (2..3, b"y")], Err(MessageError::Internal("splice spans unsorted, overlapping or out of bounds"))),
        (&[(2..5, b"x"), (4..6, b"y")], Err(MessageError::Internal("splice spans unsorted, overlapping or out of bounds"))),
        (&[(8..11, b"x")], Err(MessageError::Internal("splice spans unsorted, overlapping or out of bounds"))),
        (&[(11..12, b"x")], Err(MessageError::Internal("splice spans unsorted, overlapping or out of bounds"))),
        #[allow(clippy::reversed_empty_ranges)]
        (&[(5..4, b"x")], Err(MessageError::Internal("splice spans unsorted, overlapping or out of bounds"))),
    ];
    for (replacements, expected) in cases {
        let mut out = b"keep|".to_vec();
        let result = splice(&mut out, input, replacements);
        match expected {
            Ok(bytes) => {
                assert_eq!(result, Ok(()), "{replacements:?}");
                assert_eq!(&out[5..], *bytes, "{replacements:?}");
            }
            Err(error) => {
                assert_eq!(result, Err(*error), "{replacements:?}");
                assert_eq!(out, b"keep|", "nothing appended on error");
            }
        }
    }
}

#[test]
fn splice_ids_from_spans() {
    let input = br#"{"jsonrpc":"2.0","id":"client-1","method":"tools/call","params":{"_meta":{"progressToken":"t"}}}"#;
    let msg = parse_message(input).unwrap();
    let mut out = Vec::new();
    splice(
        &mut out,
        input,
        &[
            (msg.id_span.unwrap(), b"41"),
            (msg.progress_token.unwrap().1, b"42"),
        ],
    )
    .unwrap();
    assert_eq!(out, br#"{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"_meta":{"progressToken":42}}}"#);
    let back = parse_message(&out).unwrap();
    assert_eq!(back.id.unwrap().as_bytes(), b"41");
    assert_eq!(back.progress_token.unwrap().0.as_bytes(), b"42");
}

#[test]
fn encode_error_escapes() {
    let message = "quote \" backslash \\ slash / nl \n cr \r tab \t nul \0 bell \u{7} esc \u{1b} del \u{7f} é 😀 \u{2028}";
    let mut out = Vec::new();
    encode_error(
        &mut out,
        Some(b"\"a\\\"b\""),
        codes::INVALID_REQUEST,
        message,
    );
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["jsonrpc"], "2.0");
    assert_eq!(value["id"], "a\"b");
    assert_eq!(value["error"]["code"], -32600);
    assert_eq!(value["error"]["message"], message);
    assert!(!out.iter().any(|&b| b < 0x20), "no raw control bytes");
    // And our own parser accepts it as an error response with that id.
    let msg = parse_message(&out).unwrap();
    assert_eq!(
        (msg.kind, msg.id.unwrap().as_bytes()),
        (Kind::ErrorResponse, &b"\"a\\\"b\""[..])
    );

    out.clear();
    encode_error(&mut out, None, i32::MIN, "");
    assert_eq!(
        out,
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-2147483648,"message":""}}"#
    );
    out.clear();
    encode_error(&mut out, Some(b"0"), 0, "\u{1f}\u{8}\u{c}");
    assert_eq!(
        out,
        br#"{"jsonrpc":"2.0","id":0,"error":{"code":0,"message":"\u001f\b\f"}}"#
    );
    out.clear();
    encode_error(&mut out, Some(b"1"), i32::MAX, "x");
    assert_eq!(
        out,
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":2147483647,"message":"x"}}"#
    );
}

#[test]
fn encode_result_exact() {
    let mut out = b"x".to_vec();
    encode_result(&mut out, b"1.0", br#"{"tools":[]}"#);
    assert_eq!(out, br#"x{"jsonrpc":"2.0","id":1.0,"result":{"tools":[]}}"#);
    let msg = parse_message(&out[1..]).unwrap();
    assert_eq!((msg.kind, msg.result_span), (Kind::Response, Some(35..47)));
}

proptest! {
    #[test]
    fn encode_string_round_trips(s in any::<String>(), controls in prop::collection::vec(0u8..0x20, 0..4)) {
        let s = format!("{s}{}", controls.iter().map(|&c| char::from(c)).collect::<String>());
        let mut out = Vec::new();
        encode_string(&mut out, &s);
        let back: String = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn parse_message_agrees_with_serde_json(input in json_ish()) {
        crate::fuzzing::parse_message(input.as_bytes());
    }
}

/// Short strings over JSON's structural alphabet, so that most are near-JSON.
fn json_ish() -> impl Strategy<Value = String> {
    let atoms = vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\"",
        "\\",
        "\"jsonrpc\"",
        "\"2.0\"",
        "\"id\"",
        "\"method\"",
        "\"params\"",
        "\"result\"",
        "\"error\"",
        "\"_meta\"",
        "\"progressToken\"",
        "\"requestId\"",
        "\"notifications/progress\"",
        "\"notifications/cancelled\"",
        "1",
        "-0.5e3",
        "null",
        "true",
        "\"a\"",
        "\\u0041",
        "é",
    ];
    prop::collection::vec(prop::sample::select(atoms), 0..24).prop_map(|parts| parts.concat())
}

/// One generated message: its parts, written in a shuffled key order with
/// random whitespace, must be read back exactly.
#[derive(Debug, Clone)]
struct Generated {
    id: Option<String>,
    method: String,
    token: Option<String>,
    extra: Vec<(String, String)>,
    order: Vec<usize>,
    space: String,
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i32>().prop_map(|n| format!("{n}.0")),
        "-?[1-9][0-9]{0,3}[eE][+-]?[0-9]{1,2}",
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        prop::option::of(id_text()),
        any::<String>(),
        prop::option::of(id_text()),
        prop::collection::vec(("[a-z]{4,6}", id_text()), 0..3),
        Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
        "[ \t\r\n]{0,2}",
    )
        .prop_map(|(id, method, token, extra, order, space)| Generated {
            id,
            method,
            token,
            extra,
            order,
            space,
        })
}

impl Generated {
    fn text(&self) -> String {
        let s = &self.space;
        let mut members = Vec::new();
        for &i in &self.order {
            match i {
                0 => members.push(format!(r#""jsonrpc"{s}:{s}"2.0""#)),
                1 => members.push(format!(
                    r#""method":{s}{}"#,
                    serde_json::to_string(&self.method).unwrap()
                )),
                2 => {
                    if let Some(id) = &self.id {
                        members.push(format!(r#""id":{id}"#));
                    }
                }
                3 => {
                    let token = self
                        .token
                        .as_ref()
                        .map(|t| format!(r#","progressToken"{s}:{s}{t}"#))
                        .unwrap_or_default();
                    members.push(format!(
                        r#""params":{{"a":[1,{{}}],"_meta":{{"x":null{token}}}}}"#
                    ));
                }
                4 => members.extend(self.extra.iter().map(|(k, v)| format!(r#""x{k}":{v}"#))),
                _ => {}
            }
        }
        format!("{s}{{{s}{}{s}}}{s}", members.join(&format!("{s},{s}")))
    }
}

proptest! {
    #[test]
    fn generated_messages_read_back(g in generated()) {
        let mut extra_keys: Vec<&String> = g.extra.iter().map(|(k, _)| k).collect();
        extra_keys.sort();
        extra_keys.dedup();
        prop_assume!(extra_keys.len() == g.extra.len());
        let text = g.text();
        let input = text.as_bytes();
        let msg = parse_message(input).map_err(|e| TestCaseError::fail(format!("{e:?} for {text}")))?;
        let mut expected = View::new(if g.id.is_some() { Kind::Request } else { Kind::Notification }).method(&g.method);
        if let Some(id) = &g.id {
            expected = expected.id(id);
            if let Some(token) = &g.token {
                expected = expected.progress(token);
            }
        }
        prop_assert_eq!(View::of(input, &msg), expected);
        crate::fuzzing::parse_message(input);
    }
}

// ------------------------------------------------- 2026-07-28 `_meta` facts

/// (message, version, capabilities, logLevel, target) as read by
/// `parse_message`: `Some("=…")` marks a version of another type.
#[test]
fn modern_meta_table() {
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let table: &[Row] = &[
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/logLevel":"info"}}}"#,
            Some("2026-07-28"),
            Some(r#"{"sampling":{}}"#),
            Some(r#""info""#),
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\u00e9","_meta":{"io.modelcontextprotocol/protocolVersion":7}}}"#,
            Some("=7"),
            None,
            None,
            Some("aé"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///x","name":"n","_meta":{}}}"#,
            None,
            None,
            None,
            Some("file:///x"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":5}}"#,
            None,
            None,
            None,
            None,
        ),
        // Keys of other objects are not the request's.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"name":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}}"#,
            None,
            None,
            None,
            None,
        ),
    ];
    for (input, version, caps, level, target) in table {
        let msg = parse_message(input.as_bytes()).unwrap();
        let meta = msg.meta.as_ref();
        let got_version = meta.and_then(|m| m.version.as_ref()).map(|v| match v {
            Ok(text) => text.to_string(),
            Err(span) => format!("={}", &input[span.clone()]),
        });
        assert_eq!(got_version.as_deref(), *version, "{input}");
        let span_text = |span: Option<&std::ops::Range<usize>>| span.map(|s| &input[s.clone()]);
        assert_eq!(
            span_text(meta.and_then(|m| m.capabilities.as_ref())),
            *caps,
            "{input}"
        );
        assert_eq!(
            span_text(meta.and_then(|m| m.log_level.as_ref())),
            *level,
            "{input}"
        );
        assert_eq!(msg.target.as_deref(), *target, "{input}");
        if let Some(meta) = meta {
            let object = &input[meta.span.clone()];
            assert!(object.starts_with('{') && object.ends_with('}'), "{input}");
        }
    }
    // No `_meta` at all, or not an object: no facts.
    for input in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":[]}}"#,
    ] {
        assert_eq!(
            parse_message(input.as_bytes()).unwrap().meta,
            None,
            "{input}"
        );
    }
}

#[test]
fn modern_meta_duplicates_are_refused() {
    for input in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientCapabilities":{}}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"_meta":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","uri":"b"}}"#,
    ] {
        assert!(
            matches!(
                parse_message(input.as_bytes()),
                Err(MessageError::Invalid(_))
            ),
            "{input}"
        );
    }
    // A duplicate `name` matters only where the method routes on it.
    let input = br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"u","name":"a","name":"b"}}"#;
    assert_eq!(parse_message(input).unwrap().target.as_deref(), Some("u"));
}

#[test]
fn subscription_id_of_notifications() {
    let input = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":17}}}"#;
    let (id, span) = parse_message(input).unwrap().subscription_id.unwrap();
    assert_eq!((id.as_bytes(), &input[span]), (&b"17"[..], &b"17"[..]));
    let dup = br#"{"jsonrpc":"2.0","method":"n","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1,"io.modelcontextprotocol/subscriptionId":2}}}"#;
    assert!(matches!(parse_message(dup), Err(MessageError::Invalid(_))));
    // On a cancellation the routing key is requestId; other types are left alone.
    let other = br#"{"jsonrpc":"2.0","method":"n","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":{}}}}"#;
    assert_eq!(parse_message(other).unwrap().subscription_id, None);
}
