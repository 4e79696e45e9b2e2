//! Response heads, outbound header validation, errors.

use crate::http::{
    parse_header_line, reason_phrase, HeaderName, HeaderValue, HttpError, ResponseHeadWriter,
};

fn write(
    status: u16,
    build: impl FnOnce(&mut ResponseHeadWriter<'_>),
) -> (Vec<u8>, Result<(), HttpError>) {
    let mut out = b"previous response".to_vec();
    let mut writer = ResponseHeadWriter::new(&mut out, status);
    build(&mut writer);
    let result = writer.finish();
    (out, result)
}

#[test]
fn accept_heads() {
    type Row<'a> = (u16, &'a [(&'a str, &'a [u8])], &'a [u8]);
    let rows: &[Row<'_>] = &[
        (200, &[], b"HTTP/1.1 200 OK\r\n\r\n"),
        (404, &[("Content-Type", b"text/plain")], b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n"),
        (101, &[("Upgrade", b"websocket"), ("Connection", b"Upgrade")], b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        (299, &[], b"HTTP/1.1 299 \r\n\r\n"),
        (100, &[], b"HTTP/1.1 100 Continue\r\n\r\n"),
        (999, &[], b"HTTP/1.1 999 \r\n\r\n"),
        (200, &[("X", b"")], b"HTTP/1.1 200 OK\r\nX: \r\n\r\n"),
        (200, &[("X", b"a\tb \xff")], b"HTTP/1.1 200 OK\r\nX: a\tb \xff\r\n\r\n"),
        (200, &[("!#$%&'*+-.^_`|~09azAZ", b"v")], b"HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"),
        (200, &[("Transfer-Encoding", b"chunked")], b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ];
    for &(status, headers, expected) in rows {
        let (out, result) = write(status, |w| {
            for &(n, v) in headers {
                w.header(n, v);
            }
        });
        assert_eq!(result, Ok(()));
        assert_eq!(
            &out[b"previous response".len()..],
            expected,
            "{status} {headers:?}"
        );
    }
    let (out, result) = write(200, |w| {
        w.content_length(0);
    });
    assert_eq!(
        (result, &out[17..]),
        (Ok(()), &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..])
    );
    let (out, result) = write(200, |w| {
        w.content_length(u64::MAX);
    });
    assert_eq!(
        (result, &out[17..]),
        (
            Ok(()),
            &b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\n"[..]
        )
    );
}

#[test]
fn reject_header() {
    // RUSTSEC-2024-0009 (CVE-2024-23644): no CR, LF, NUL in values; names
    // are tokens (RFC 9110 §5.1, §5.5).
    let rows: &[(&str, &[u8], HttpError)] = &[
        ("X", b"a\rb", HttpError::InvalidHeader("CR in header value")),
        (
            "X",
            b"a\r\nSet-Cookie: x",
            HttpError::InvalidHeader("CR in header value"),
        ),
        ("X", b"a\nb", HttpError::InvalidHeader("LF in header value")),
        (
            "X",
            b"a\0b",
            HttpError::InvalidHeader("NUL in header value"),
        ),
        (
            "X",
            b"a\x1bb",
            HttpError::InvalidHeader("control character in header value"),
        ),
        (
            "X",
            b"\x7f",
            HttpError::InvalidHeader("control character in header value"),
        ),
        ("", b"v", HttpError::InvalidHeader("empty header name")),
        (
            "X Y",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "X:",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "X\r\nY",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "X\0",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "Ä",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "(X)",
            b"v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
    ];
    for &(name, value, expected) in rows {
        // Whether the bad header comes first, last, or between good ones,
        // `out` is left exactly as it was.
        for position in 0..3 {
            let (out, result) = write(200, |w| {
                if position > 0 {
                    w.header("Good", b"1");
                }
                w.header(name, value);
                if position < 2 {
                    w.header("Later", b"2").content_length(5);
                }
            });
            assert_eq!(result, Err(expected), "{name:?} {value:?}");
            assert_eq!(out, b"previous response", "{name:?} {value:?}");
        }
        // The newtypes refuse the same inputs.
        if let Err(e) = HeaderName::new(name) {
            assert_eq!(e, expected);
        } else {
            assert_eq!(HeaderValue::new(value).unwrap_err(), expected);
        }
    }
    // The first error wins.
    let (_, result) = write(200, |w| {
        w.header("A B", b"v").header("X", b"\n");
    });
    assert_eq!(
        result,
        Err(HttpError::InvalidHeader("header name is not a token"))
    );
}

#[test]
fn reject_status() {
    for status in [0, 99, 1000, u16::MAX] {
        let (out, result) = write(status, |w| {
            w.header("X", b"v");
        });
        assert_eq!(
            result,
            Err(HttpError::Internal("status code outside 100..=999")),
            "{status}"
        );
        assert_eq!(out, b"previous response");
    }
}

#[test]
fn framing_conflicts() {
    let conflict = Err(HttpError::Internal("conflicting framing headers"));
    let cases: [fn(&mut ResponseHeadWriter<'_>); 5] = [
        |w| {
            w.content_length(1).content_length(1);
        },
        |w| {
            w.header("Content-Length", b"1").content_length(1);
        },
        |w| {
            w.content_length(1).header("content-length", b"1");
        },
        |w| {
            w.header("Transfer-Encoding", b"chunked").content_length(1);
        },
        |w| {
            w.content_length(1).header("TRANSFER-ENCODING", b"chunked");
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let (out, result) = write(200, case);
        assert_eq!(
            (result, out.as_slice()),
            (conflict, &b"previous response"[..]),
            "case {i}"
        );
    }
}

#[test]
fn header_line_table() {
    let accept: &[(&str, &str, &[u8])] = &[
        ("Authorization: Bearer x", "Authorization", b"Bearer x"),
        ("X:b", "X", b"b"),
        ("X:   b c  \t", "X", b"b c"),
        ("X:", "X", b""),
        ("X: a:b", "X", b"a:b"),
    ];
    for &(line, name, value) in accept {
        let (n, v) = parse_header_line(line).unwrap();
        assert_eq!((n.as_str(), v.as_bytes()), (name, value), "{line:?}");
    }
    let reject: &[(&str, HttpError)] = &[
        (
            "no colon",
            HttpError::InvalidHeader("expected \"Name: value\""),
        ),
        ("", HttpError::InvalidHeader("expected \"Name: value\"")),
        (": v", HttpError::InvalidHeader("empty header name")),
        (
            "X Y: v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "X : v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            " X: v",
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "X: a\r\nY: b",
            HttpError::InvalidHeader("CR in header value"),
        ),
        ("X: a\nY: b", HttpError::InvalidHeader("LF in header value")),
        ("X: a\0", HttpError::InvalidHeader("NUL in header value")),
    ];
    for &(line, expected) in reject {
        assert_eq!(parse_header_line(line).unwrap_err(), expected, "{line:?}");
    }
}

#[test]
fn header_newtypes() {
    assert_eq!(
        HeaderName::new("Mcp-Session-Id").unwrap().as_str(),
        "Mcp-Session-Id"
    );
    assert_eq!(HeaderValue::new(b"a b").unwrap().as_bytes(), b"a b");
    // Debug never shows a value (it may be a credential).
    let value = HeaderValue::new(b"Bearer hunter2").unwrap();
    assert_eq!(format!("{value:?}"), "HeaderValue(<14 bytes>)");
    for (name, reserved) in [
        ("Content-Length", true),
        ("transfer-encoding", true),
        ("Connection", true),
        ("TE", true),
        ("Upgrade", true),
        ("Keep-Alive", true),
        ("Trailer", true),
        ("Proxy-Connection", true),
        ("Authorization", false),
        ("Content-Type", false),
        ("Trailers", false),
    ] {
        assert_eq!(
            HeaderName::new(name).unwrap().is_connection_level(),
            reserved,
            "{name}"
        );
    }
}

#[test]
fn reserved_header_names() {
    const HOP: &str = "it frames the message or belongs to one connection (hop-by-hop)";
    const OWN: &str = "the gateway sets it itself";
    for (name, reason) in [
        ("Content-Length", Some(HOP)),
        ("TRANSFER-ENCODING", Some(HOP)),
        ("Connection", Some(HOP)),
        ("Keep-Alive", Some(HOP)),
        ("TE", Some(HOP)),
        ("Trailer", Some(HOP)),
        ("Upgrade", Some(HOP)),
        ("Proxy-Connection", Some(HOP)),
        ("Proxy-Authorization", Some(HOP)),
        ("proxy-authenticate", Some(HOP)),
        (
            "Host",
            Some("the gateway names the server a request is for itself"),
        ),
        ("set-cookie", Some("the gateway sets no cookies")),
        ("Content-Type", Some(OWN)),
        ("Mcp-Session-Id", Some(OWN)),
        ("mcp-protocol-version", Some(OWN)),
        ("Last-Event-ID", Some(OWN)),
        ("Accept", Some(OWN)),
        ("Cache-Control", Some(OWN)),
        ("Allow", Some(OWN)),
        ("Vary", Some(OWN)),
        ("Access-Control-Allow-Origin", Some(OWN)),
        ("access-control-max-age", Some(OWN)),
        ("Sec-WebSocket-Protocol", Some(OWN)),
        ("Traceparent", Some(OWN)),
        ("X-Accel-Buffering", Some(OWN)),
        // What users configure.
        ("Authorization", None),
        ("X-Api-Key", None),
        ("Cookie", None),
        ("Proxy", None),
        ("Hosts", None),
        ("Content-Security-Policy", None),
        ("Strict-Transport-Security", None),
        ("Mcp-Session", None),
    ] {
        assert_eq!(HeaderName::new(name).unwrap().reserved(), reason, "{name}");
    }
}

#[test]
fn reason_phrases() {
    let rows = [
        (200, "OK"),
        (202, "Accepted"),
        (204, "No Content"),
        (400, "Bad Request"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (413, "Content Too Large"),
        (414, "URI Too Long"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
        (501, "Not Implemented"),
        (503, "Service Unavailable"),
        (299, ""),
        (0, ""),
    ];
    for (status, reason) in rows {
        assert_eq!(reason_phrase(status), reason, "{status}");
    }
}

#[test]
fn error_status_and_display() {
    let rows = [
        (HttpError::BadRequest("x"), 400, "bad request: x"),
        (HttpError::InvalidHeader("x"), 400, "invalid header: x"),
        (HttpError::BodyTooLarge, 413, "request body too large"),
        (HttpError::TargetTooLong, 414, "request-target too long"),
        (HttpError::HeadTooLarge, 431, "request head too large"),
        (HttpError::TooManyHeaders, 431, "too many header fields"),
        (
            HttpError::TrailersTooLarge,
            431,
            "trailer section too large",
        ),
        (HttpError::Internal("x"), 500, "internal error: x"),
        (HttpError::NotImplemented("x"), 501, "not implemented: x"),
        (
            HttpError::Truncated,
            400,
            "connection closed before the end of the body",
        ),
    ];
    for (error, status, text) in rows {
        assert_eq!(
            (error.status(), error.to_string()),
            (status, text.to_owned())
        );
        // Every status we map to has a reason phrase.
        assert!(!reason_phrase(status).is_empty());
    }
    let boxed: Box<dyn std::error::Error> = Box::new(HttpError::BodyTooLarge);
    assert_eq!(boxed.to_string(), "request body too large");
}
