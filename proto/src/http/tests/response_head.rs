//! The client side: response heads, response framing, response bodies.

use crate::http::{
    BodyDecoder, BodyProgress, HttpError, Limits, Method, ResponseFraming, ResponseHead,
    ResponseHeadDecoder, Version,
};

type ResponseResult = Result<Option<(ResponseHead, usize)>, HttpError>;

const BARE_LF: HttpError = HttpError::BadRequest("bare LF in response head");
const STATUS_LINE: HttpError = HttpError::BadRequest("invalid status line");
const VERSION: HttpError = HttpError::BadRequest("unsupported HTTP version");
const BELOW_100: HttpError = HttpError::BadRequest("status code below 100");
const BARE_CR: HttpError = HttpError::BadRequest("bare CR in response head");
const NAME: HttpError = HttpError::InvalidHeader("invalid header name");
const VALUE: HttpError = HttpError::InvalidHeader("invalid header value");
const CL_TE: HttpError = HttpError::BadRequest("both Content-Length and Transfer-Encoding");
const TWO_CL: HttpError = HttpError::BadRequest("more than one Content-Length header");
const TWO_TE: HttpError = HttpError::BadRequest("more than one Transfer-Encoding header");
const NOT_DIGITS: HttpError = HttpError::BadRequest("Content-Length is not all digits");
const TE_10: HttpError = HttpError::BadRequest("Transfer-Encoding in an HTTP/1.0 response");
const CODING: HttpError = HttpError::NotImplemented("transfer coding other than chunked");

fn decode_with(limits: Limits, buf: &[u8]) -> ResponseResult {
    ResponseHeadDecoder::new(limits).decode(buf)
}

#[track_caller]
fn response(buf: &[u8]) -> (ResponseHead, usize) {
    match decode_with(Limits::DEFAULT, buf) {
        Ok(Some(done)) => done,
        other => panic!(
            "{:?}: expected a head, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// A status line and header lines, CRLF-terminated, with the empty line.
fn head_bytes(line: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = format!("{line}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[test]
fn accept_status_lines() {
    type Row<'a> = (&'a [u8], u16, Version, &'a [(&'a str, &'a [u8])]);
    let rows: &[Row<'_>] = &[
        (b"HTTP/1.1 200 OK\r\n\r\n", 200, Version::Http11, &[]),
        (
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            404,
            Version::Http10,
            &[("Content-Length", b"0")],
        ),
        // The reason phrase is optional (RFC 9112 §4), may be empty, and
        // may hold obs-text.
        (b"HTTP/1.1 204\r\n\r\n", 204, Version::Http11, &[]),
        (b"HTTP/1.1 200 \r\n\r\n", 200, Version::Http11, &[]),
        (
            b"HTTP/1.1 200 D\xe9j\xe0 vu\r\n\r\n",
            200,
            Version::Http11,
            &[],
        ),
        (
            b"HTTP/1.1 999 Whatever it is\r\n\r\n",
            999,
            Version::Http11,
            &[],
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n", 100, Version::Http11, &[]),
        // Leading empty lines are skipped (RFC 9112 §2.2).
        (
            b"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            200,
            Version::Http11,
            &[],
        ),
        // OWS around values is trimmed; obs-text and HTAB inside are kept.
        (
            b"HTTP/1.1 200 OK\r\nX:  \xff\t v \t\r\nY:\r\n\r\n",
            200,
            Version::Http11,
            &[("X", b"\xff\t v"), ("Y", b"")],
        ),
        (
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a\r\nset-cookie: b\r\n\r\n",
            200,
            Version::Http11,
            &[("Set-Cookie", b"a"), ("set-cookie", b"b")],
        ),
    ];
    for &(input, status, version, headers) in rows {
        let (head, n) = response(input);
        assert_eq!(n, input.len(), "{:?}", String::from_utf8_lossy(input));
        assert_eq!((head.status(), head.version()), (status, version));
        let got: Vec<(&str, &[u8])> = head.headers().collect();
        assert_eq!(got, headers, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn reject_status_lines() {
    let rows: &[(&[u8], HttpError)] = &[
        // Status: three digits (httparse), 100..=999 (RFC 9110 §15).
        (b"HTTP/1.1 099 Low\r\n\r\n", BELOW_100),
        (b"HTTP/1.1 000\r\n\r\n", BELOW_100),
        (b"HTTP/1.1 20 OK\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1 2000 OK\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1 abc OK\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1 +20 OK\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1 200\tOK\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1 200 O\x01K\r\n\r\n", STATUS_LINE),
        (b"HTTP/1.1  200 OK\r\n\r\n", STATUS_LINE),
        // Version: HTTP/1.0 and HTTP/1.1 only.
        (b"HTTP/2.0 200 OK\r\n\r\n", VERSION),
        (b"HTTP/1.2 200 OK\r\n\r\n", VERSION),
        (b"http/1.1 200 OK\r\n\r\n", VERSION),
        (b"ICY 200 OK\r\n\r\n", VERSION),
        (b"HTTP/1.1\r\n\r\n", VERSION),
        // Bare CR, wherever it is (RFC 9112 §2.2).
        (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", BARE_CR),
        (b"HTTP/1.1 200 OK\rX: a\r\n\r\n", BARE_CR),
        (b"\rHTTP/1.1 200 OK\r\n\r\n", BARE_CR),
        (b"HTTP/1.1 200 OK\r\n\r\r", BARE_CR),
        // Bare LF: CRLF only, the request rule (SECURITY.md "Bare LF / bare CR").
        (b"HTTP/1.1 200 OK\nX: a\n\n", BARE_LF),
        (b"\r\n\nHTTP/1.1 200 OK\r\n\r\n", BARE_LF),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n\n", BARE_LF),
        // obs-fold (RFC 9112 §5.2): httparse's response folding stays off.
        (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", NAME),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n\tfolded\r\n\r\n", NAME),
        (
            b"HTTP/1.1 200 OK\r\n Transfer-Encoding: chunked\r\n\r\n",
            NAME,
        ),
        // Field lines: a token name, no space before the colon, no controls.
        (b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", NAME),
        (b"HTTP/1.1 200 OK\r\n: a\r\n\r\n", NAME),
        (b"HTTP/1.1 200 OK\r\nX(: a\r\n\r\n", NAME),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", NAME),
        (b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", VALUE),
        (b"HTTP/1.1 200 OK\r\nX: a\x0bb\r\n\r\n", VALUE),
        (b"HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n", VALUE),
    ];
    for &(input, expected) in rows {
        let e = decode_with(Limits::DEFAULT, input).unwrap_err();
        assert_eq!(e, expected, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn reject_limits() {
    // Header count: `limits.headers`.
    let three = head_bytes("HTTP/1.1 200 OK", &["A: 1", "B: 2", "C: 3"]);
    let two = Limits::DEFAULT.with_headers(2);
    assert_eq!(decode_with(two, &three), Err(HttpError::TooManyHeaders));
    assert!(decode_with(Limits::DEFAULT.with_headers(3), &three).is_ok());
    // Head size: 431 as soon as the buffer is over the limit, wherever the
    // limit falls (never 414: a response has no target).
    let small = Limits::DEFAULT.with_head_bytes(32);
    let long = head_bytes("HTTP/1.1 200 OK", &["X: aaaaaaaaaaaaaaaaaaaaaaaaaaaa"]);
    assert_eq!(decode_with(small, &long), Err(HttpError::HeadTooLarge));
    assert_eq!(
        decode_with(small, &long[..33]),
        Err(HttpError::HeadTooLarge)
    );
    assert_eq!(decode_with(small, &long[..32]), Ok(None));
    let long_line = format!("HTTP/1.1 200 {}", "a".repeat(40));
    assert_eq!(
        decode_with(small, long_line.as_bytes()),
        Err(HttpError::HeadTooLarge)
    );
    // Leading empty lines count.
    assert_eq!(
        decode_with(small, &b"\r\n".repeat(17)),
        Err(HttpError::HeadTooLarge)
    );
    // A head complete within the limit is fine however much follows it.
    let mut ok = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    ok.extend_from_slice(&[b'x'; 100]);
    assert_eq!(decode_with(small, &ok).unwrap().unwrap().1, 19);
}

#[test]
fn each_byte_is_scanned_once() {
    // RUSTSEC-2023-0065, as for request heads.
    let lines: Vec<String> = (0..90)
        .map(|i| format!("X-{i:02}: {}", "v".repeat(60)))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut input = head_bytes("HTTP/1.1 200 OK", &lines);
    let head_len = input.len();
    input.extend_from_slice(b"body bytes that are never scanned");
    let mut decoder = ResponseHeadDecoder::new(Limits::DEFAULT);
    for len in 0..head_len {
        assert_eq!(decoder.decode(&input[..len]), Ok(None));
    }
    let (head, n) = decoder.decode(&input).unwrap().unwrap();
    assert_eq!((n, head.headers().count()), (head_len, 90));
    assert_eq!(decoder.scan.scan_count, head_len);
}

/// Inputs for the split test: valid, invalid, and over the limits.
fn split_inputs() -> Vec<(Limits, Vec<u8>)> {
    let d = Limits::DEFAULT;
    let small = Limits::DEFAULT.with_head_bytes(40);
    let mut cases: Vec<(Limits, Vec<u8>)> = [
        &b"HTTP/1.1 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"\r\n\nHTTP/1.0 200 OK\nX: a\n\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n\r",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
    ]
    .iter()
    .map(|c| (d, c.to_vec()))
    .collect();
    cases.push((
        small,
        b"HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".to_vec(),
    ));
    cases.push((small, b"\r\n".repeat(30)));
    cases
}

/// Feeds growing prefixes (the caller appending reads) until a result.
fn feed(limits: Limits, input: &[u8], cuts: impl IntoIterator<Item = usize>) -> ResponseResult {
    let mut decoder = ResponseHeadDecoder::new(limits);
    for cut in cuts {
        match decoder.decode(&input[..cut]) {
            Ok(None) => {}
            done => return done,
        }
    }
    decoder.decode(input)
}

#[test]
fn split_at_every_byte() {
    for (limits, input) in split_inputs() {
        let one_shot = decode_with(limits, &input);
        for cut in 0..=input.len() {
            assert_eq!(
                feed(limits, &input, [cut]),
                one_shot,
                "cut {cut} of {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        assert_eq!(
            feed(limits, &input, 0..input.len()),
            one_shot,
            "bytewise {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn interim_responses_then_reset() {
    let stream = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    let mut decoder = ResponseHeadDecoder::new(Limits::DEFAULT);
    let mut at = 0;
    let mut statuses = Vec::new();
    let head = loop {
        let (head, n) = decoder.decode(&stream[at..]).unwrap().unwrap();
        at += n;
        statuses.push(head.status());
        decoder.reset();
        if !head.is_informational() {
            break head;
        }
        assert_eq!(head.body_framing(Method::Post), Ok(ResponseFraming::None));
    };
    assert_eq!(statuses, [100, 103, 200]);
    assert_eq!(
        head.body_framing(Method::Post),
        Ok(ResponseFraming::Length(2))
    );
    assert_eq!(&stream[at..], b"{}");
    // Misuse without reset, and a shorter buffer, are caller bugs.
    let mut decoder = ResponseHeadDecoder::new(Limits::DEFAULT);
    decoder.decode(stream).unwrap().unwrap();
    assert_eq!(
        decoder.decode(stream),
        Err(HttpError::Internal(
            "ResponseHeadDecoder::decode after a complete head"
        ))
    );
    decoder.reset();
    assert_eq!(decoder.decode(b"HTTP/1.1 2"), Ok(None));
    assert_eq!(
        decoder.decode(b"HTTP"),
        Err(HttpError::Internal(
            "ResponseHeadDecoder::decode given a shorter buffer"
        ))
    );
    // Failure is terminal.
    let mut decoder = ResponseHeadDecoder::new(Limits::DEFAULT);
    assert_eq!(decoder.decode(b"HTTP/1.1 099 x\r\n\r\n"), Err(BELOW_100));
    assert_eq!(decoder.decode(b"HTTP/1.1 200 OK\r\n\r\n"), Err(BELOW_100));
}

#[test]
fn accessors() {
    let (head, _) = response(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive, Upgrade\r\nX-Bin: \xff\r\nx-multi: a\r\nX-Multi: b\r\n\r\n",
    );
    assert_eq!(head.header("content-type"), Some(&b"text/event-stream"[..]));
    assert_eq!(head.header_str("CONTENT-TYPE"), Some("text/event-stream"));
    assert_eq!(head.header("x-bin"), Some(&b"\xff"[..]));
    assert_eq!(head.header_str("x-bin"), None);
    assert_eq!(head.header("missing"), None);
    let multi: Vec<&[u8]> = head.header_values("X-MULTI").collect();
    assert_eq!(multi, [&b"a"[..], b"b"]);
    assert!(head.keep_alive());
    assert!(!head.is_informational());
    // Debug shows names, never values.
    let debug = format!("{head:?}");
    assert!(
        debug.contains("Content-Type") && !debug.contains("event-stream"),
        "{debug}"
    );
}

#[test]
fn keep_alive_table() {
    let rows: &[(&str, &[&str], bool)] = &[
        ("HTTP/1.1 200 OK", &[], true),
        ("HTTP/1.1 200 OK", &["Connection: close"], false),
        ("HTTP/1.1 200 OK", &["Connection: Upgrade, CLOSE"], false),
        (
            "HTTP/1.1 200 OK",
            &["Connection: keep-alive", "Connection: close"],
            false,
        ),
        ("HTTP/1.0 200 OK", &[], false),
        ("HTTP/1.0 200 OK", &["Connection: keep-alive"], true),
        ("HTTP/1.0 200 OK", &["Connection: keep-alive, close"], false),
    ];
    for &(line, headers, keep) in rows {
        let (head, _) = response(&head_bytes(line, headers));
        assert_eq!(head.keep_alive(), keep, "{line} {headers:?}");
    }
}

#[test]
fn accept_response_framing() {
    use ResponseFraming::{Chunked, Length, None, UntilClose};
    let rows: &[(&str, &[&str], Method, ResponseFraming)] = &[
        // RFC 9112 §6.3 rule 8: no framing header, read until close.
        ("HTTP/1.1 200 OK", &[], Method::Get, UntilClose),
        ("HTTP/1.0 200 OK", &[], Method::Post, UntilClose),
        ("HTTP/1.1 205 Reset Content", &[], Method::Post, UntilClose),
        // Rule 5/6: Content-Length, the request path's strict parser.
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 5"],
            Method::Get,
            Length(5),
        ),
        (
            "HTTP/1.1 200 OK",
            &["content-length: 0"],
            Method::Post,
            Length(0),
        ),
        (
            "HTTP/1.1 404 Not Found",
            &["Content-Length: 007"],
            Method::Post,
            Length(7),
        ),
        (
            "HTTP/1.0 200 OK",
            &["Content-Length: 3"],
            Method::Get,
            Length(3),
        ),
        // Rule 4: chunked exactly; a final coding other than chunked reads
        // until close.
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked"],
            Method::Get,
            Chunked,
        ),
        (
            "HTTP/1.1 200 OK",
            &["transfer-encoding: CHUNKED"],
            Method::Post,
            Chunked,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: gzip"],
            Method::Get,
            UntilClose,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: identity"],
            Method::Get,
            UntilClose,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked, gzip"],
            Method::Get,
            UntilClose,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked;q=1"],
            Method::Get,
            UntilClose,
        ),
        // Rule 1: HEAD, 1xx, 204, 304 end at the head, whatever the fields.
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 5"],
            Method::Head,
            None,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked"],
            Method::Head,
            None,
        ),
        ("HTTP/1.1 200 OK", &[], Method::Head, None),
        ("HTTP/1.1 100 Continue", &[], Method::Post, None),
        (
            "HTTP/1.1 101 Switching Protocols",
            &["Upgrade: websocket"],
            Method::Get,
            None,
        ),
        ("HTTP/1.1 103 Early Hints", &[], Method::Get, None),
        ("HTTP/1.1 204 No Content", &[], Method::Post, None),
        (
            "HTTP/1.1 204 No Content",
            &["Content-Length: 0"],
            Method::Delete,
            None,
        ),
        (
            "HTTP/1.1 304 Not Modified",
            &["Content-Length: 1234"],
            Method::Get,
            None,
        ),
        (
            "HTTP/1.1 304 Not Modified",
            &["Transfer-Encoding: chunked"],
            Method::Get,
            None,
        ),
    ];
    for &(line, headers, method, framing) in rows {
        let (head, _) = response(&head_bytes(line, headers));
        assert_eq!(
            head.body_framing(method),
            Ok(framing),
            "{line} {headers:?} {method:?}"
        );
    }
}

#[test]
fn reject_response_framing() {
    let rows: &[(&str, &[&str], Method, HttpError)] = &[
        // RFC 9112 §6.3 rule 3: both, whatever the status or method.
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 5", "Transfer-Encoding: chunked"],
            Method::Get,
            CL_TE,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: gzip", "Content-Length: 5"],
            Method::Get,
            CL_TE,
        ),
        (
            "HTTP/1.1 204 No Content",
            &["Transfer-Encoding: chunked", "Content-Length: 0"],
            Method::Get,
            CL_TE,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked", "Content-Length: 5"],
            Method::Head,
            CL_TE,
        ),
        // Duplicates and malformed Content-Length (RUSTSEC-2021-0078).
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 5", "Content-Length: 5"],
            Method::Get,
            TWO_CL,
        ),
        (
            "HTTP/1.1 304 Not Modified",
            &["Content-Length: 5", "Content-Length: 6"],
            Method::Get,
            TWO_CL,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 5, 5"],
            Method::Get,
            NOT_DIGITS,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: +5"],
            Method::Get,
            NOT_DIGITS,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: -1"],
            Method::Get,
            NOT_DIGITS,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 0x5"],
            Method::Get,
            NOT_DIGITS,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length:"],
            Method::Get,
            HttpError::BadRequest("empty Content-Length"),
        ),
        (
            "HTTP/1.1 200 OK",
            &["Content-Length: 18446744073709551616"],
            Method::Get,
            HttpError::BadRequest("Content-Length does not fit in 64 bits"),
        ),
        // Several TE lines (RUSTSEC-2021-0020), empty TE, TE on HTTP/1.0.
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
            Method::Get,
            TWO_TE,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
            Method::Get,
            TWO_TE,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding:"],
            Method::Get,
            HttpError::BadRequest("empty Transfer-Encoding"),
        ),
        (
            "HTTP/1.0 200 OK",
            &["Transfer-Encoding: chunked"],
            Method::Get,
            TE_10,
        ),
        (
            "HTTP/1.0 200 OK",
            &["Transfer-Encoding: gzip"],
            Method::Get,
            TE_10,
        ),
        // Chunked last after other codings: chunk framing we cannot take
        // for payload.
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: gzip, chunked"],
            Method::Get,
            CODING,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: chunked, chunked"],
            Method::Get,
            CODING,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: gzip ,  Chunked"],
            Method::Get,
            CODING,
        ),
        (
            "HTTP/1.1 200 OK",
            &["Transfer-Encoding: ,chunked"],
            Method::Get,
            CODING,
        ),
    ];
    for &(line, headers, method, expected) in rows {
        let (head, _) = response(&head_bytes(line, headers));
        assert_eq!(
            head.body_framing(method),
            Err(expected),
            "{line} {headers:?} {method:?}"
        );
    }
}

/// Payload, then (consumed, done) or the error; `handle_eof` runs once all
/// of `input` has been offered without the body ending.
type BodyOutcome = (Vec<u8>, Result<(usize, bool), HttpError>);

/// Decodes a response body from `input` in reads ending at `cuts`,
/// re-offering what was not consumed, then signals EOF.
fn body_run(
    framing: ResponseFraming,
    max_body: u64,
    input: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> BodyOutcome {
    let mut decoder = BodyDecoder::for_response(framing, max_body, &Limits::DEFAULT).unwrap();
    let mut out = Vec::new();
    let mut consumed = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        if cut < consumed {
            continue;
        }
        match decoder.decode(&input[consumed..cut], &mut out) {
            Ok(BodyProgress { consumed: n, done }) => {
                assert!(n <= cut - consumed);
                consumed += n;
                if done {
                    assert_eq!(decoder.handle_eof(), Ok(()));
                    return (out, Ok((consumed, true)));
                }
            }
            Err(e) => return (out, Err(e)),
        }
    }
    let result = decoder.handle_eof().map(|()| (consumed, decoder.is_done()));
    if let Err(e) = result {
        // Failed for good.
        assert_eq!(decoder.decode(b"x", &mut Vec::new()), Err(e));
        assert_eq!(decoder.handle_eof(), Err(e));
    }
    (out, result)
}

fn response_body_rows() -> Vec<(ResponseFraming, u64, &'static [u8], BodyOutcome)> {
    use ResponseFraming::{Chunked, Length, None, UntilClose};
    let ok = |payload: &[u8], consumed| (payload.to_vec(), Ok((consumed, true)));
    let err = |payload: &[u8], e| (payload.to_vec(), Err(e));
    vec![
        // UntilClose: every byte until EOF, within the body limit.
        (UntilClose, 1024, b"hello world", ok(b"hello world", 11)),
        (UntilClose, 1024, b"", ok(b"", 0)),
        (UntilClose, 5, b"hello", ok(b"hello", 5)),
        (
            UntilClose,
            5,
            b"hello world",
            err(b"hello", HttpError::BodyTooLarge),
        ),
        (UntilClose, 0, b"x", err(b"", HttpError::BodyTooLarge)),
        // Length: never past the end; EOF before the end is Truncated.
        (
            Length(5),
            1024,
            b"helloHTTP/1.1 200 OK\r\n",
            ok(b"hello", 5),
        ),
        (Length(0), 1024, b"HTTP/1.1", ok(b"", 0)),
        (
            Length(10),
            1024,
            b"hello",
            err(b"hello", HttpError::Truncated),
        ),
        // Chunked: the request path's decoder.
        (
            Chunked,
            1024,
            b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1",
            ok(b"hello", 15),
        ),
        (
            Chunked,
            1024,
            b"5\r\nhello\r\n",
            err(b"hello", HttpError::Truncated),
        ),
        (
            Chunked,
            1024,
            b"5\r\nhello\r\n0\r\n",
            err(b"hello", HttpError::Truncated),
        ),
        (
            Chunked,
            1024,
            b"5\r\nhel",
            err(b"hel", HttpError::Truncated),
        ),
        (Chunked, 1024, b"", err(b"", HttpError::Truncated)),
        (
            Chunked,
            4,
            b"5\r\nhello\r\n0\r\n\r\n",
            err(b"", HttpError::BodyTooLarge),
        ),
        (
            Chunked,
            1024,
            b"0x5\r\nhello\r\n",
            err(b"", HttpError::BadRequest("invalid chunk size")),
        ),
        // None: nothing is consumed.
        (None, 1024, b"HTTP/1.1 200 OK\r\n", ok(b"", 0)),
        (None, 1024, b"", ok(b"", 0)),
    ]
}

#[test]
fn response_bodies() {
    for (framing, max_body, input, expected) in response_body_rows() {
        assert_eq!(
            body_run(framing, max_body, input, []),
            expected,
            "{framing:?} {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Length over the limit fails before any byte is read.
    assert_eq!(
        BodyDecoder::for_response(ResponseFraming::Length(11), 10, &Limits::DEFAULT).unwrap_err(),
        HttpError::BodyTooLarge
    );
    // Until close, pre-allocation stays 0; the Content-Length cap applies.
    let until = BodyDecoder::for_response(ResponseFraming::UntilClose, u64::MAX, &Limits::DEFAULT);
    assert_eq!(until.unwrap().prealloc_hint(), 0);
    let length = BodyDecoder::for_response(
        ResponseFraming::Length(u64::MAX),
        u64::MAX,
        &Limits::DEFAULT,
    );
    assert_eq!(
        length.unwrap().prealloc_hint(),
        Limits::DEFAULT.prealloc_bytes
    );
    // EOF after EOF, and a request body that ended, are fine.
    let mut done =
        BodyDecoder::for_response(ResponseFraming::UntilClose, 9, &Limits::DEFAULT).unwrap();
    assert_eq!(
        (done.handle_eof(), done.handle_eof(), done.is_done()),
        (Ok(()), Ok(()), true)
    );
    assert_eq!(
        done.decode(b"more", &mut Vec::new()).map(|p| p.consumed),
        Ok(0)
    );
}

#[test]
fn response_bodies_split_at_every_byte() {
    for (framing, max_body, input, expected) in response_body_rows() {
        let name = String::from_utf8_lossy(input);
        for cut in 0..=input.len() {
            assert_eq!(
                body_run(framing, max_body, input, [cut]),
                expected,
                "{framing:?} cut {cut} of {name:?}"
            );
        }
        assert_eq!(
            body_run(framing, max_body, input, 0..input.len()),
            expected,
            "{framing:?} bytewise {name:?}"
        );
    }
}
