//! Request heads written by the client.

use crate::http::{HeadDecoder, HttpError, Limits, RequestHeadWriter};

const PREVIOUS: &[u8] = b"previous request";
const METHOD: HttpError = HttpError::BadRequest("method is not a token");
const NOT_ORIGIN: HttpError = HttpError::BadRequest("request-target is not origin-form");
const TARGET_BYTE: HttpError =
    HttpError::BadRequest("request-target holds a byte other than visible ASCII, or # or \\");
const INVALID_HOST: HttpError = HttpError::BadRequest("invalid Host");
const CONFLICT: HttpError = HttpError::Internal("conflicting framing headers");

/// A header, or a Content-Length through the dedicated setter.
#[derive(Clone, Copy, Debug)]
enum Field<'a> {
    H(&'a str, &'a [u8]),
    Cl(u64),
}

/// Writes a head after `PREVIOUS`; returns what was added and the result.
fn write(method: &str, target: &str, fields: &[Field<'_>]) -> (Vec<u8>, Result<(), HttpError>) {
    let mut out = PREVIOUS.to_vec();
    let mut writer = RequestHeadWriter::new(&mut out, method, target);
    for field in fields {
        match *field {
            Field::H(name, value) => writer.header(name, value),
            Field::Cl(n) => writer.content_length(n),
        };
    }
    let result = writer.finish();
    assert!(out.starts_with(PREVIOUS));
    (out[PREVIOUS.len()..].to_vec(), result)
}

#[test]
fn accept_heads() {
    use Field::{Cl, H};
    type Row<'a> = (&'a str, &'a str, &'a [Field<'a>], &'a [u8]);
    let rows: &[Row<'_>] = &[
        ("GET", "/sse", &[H("Host", b"h")], b"GET /sse HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("POST", "/message?sessionId=abc", &[H("Host", b"localhost:8000"), H("Content-Type", b"application/json"), Cl(2)], b"POST /message?sessionId=abc HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\r\n"),
        ("DELETE", "/mcp", &[H("host", b"[::1]:3000"), H("Mcp-Session-Id", b"x")], b"DELETE /mcp HTTP/1.1\r\nhost: [::1]:3000\r\nMcp-Session-Id: x\r\n\r\n"),
        ("PROPFIND", "/", &[H("Host", b"a"), Cl(0)], b"PROPFIND / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n"),
        ("GET", "/a!$&'()*+,;=:@%20?x=/?", &[H("Host", b"a")], b"GET /a!$&'()*+,;=:@%20?x=/? HTTP/1.1\r\nHost: a\r\n\r\n"),
        ("POST", "/mcp", &[H("Host", b"a"), H("Transfer-Encoding", b"chunked")], b"POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ("GET", "/", &[H("Host", b"a"), H("Authorization", b"Bearer t\t0k3n \xff")], b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\t0k3n \xff\r\n\r\n"),
    ];
    for &(method, target, fields, expected) in rows {
        let (out, result) = write(method, target, fields);
        assert_eq!(result, Ok(()), "{method} {target} {fields:?}");
        assert_eq!(out, expected, "{method} {target} {fields:?}");
        // What we write, our own server reads back the same.
        let (head, n) = HeadDecoder::new(Limits::DEFAULT)
            .decode(&out)
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.method_str(), head.target(), n),
            (method, target, out.len())
        );
    }
}

#[test]
fn reject_heads() {
    use Field::{Cl, H};
    let host: &[Field<'_>] = &[H("Host", b"h")];
    type Row<'a> = (&'a str, &'a str, &'a [Field<'a>], HttpError);
    let rows: &[Row<'_>] = &[
        // Method: a token (RFC 9110 §9.1).
        ("", "/", host, METHOD),
        ("GET ", "/", host, METHOD),
        ("G T", "/", host, METHOD),
        ("GET\r\nX: y", "/", host, METHOD),
        ("GÉT", "/", host, METHOD),
        ("GET/", "/", host, METHOD),
        // Target: origin-form, visible ASCII, no `#` or `\`.
        ("GET", "", host, NOT_ORIGIN),
        ("GET", "sse", host, NOT_ORIGIN),
        ("GET", "http://h/", host, NOT_ORIGIN),
        ("OPTIONS", "*", host, NOT_ORIGIN),
        ("GET", "/a b", host, TARGET_BYTE),
        ("GET", "/sse HTTP/1.1\r\nX: y", host, TARGET_BYTE),
        ("GET", "/a\nb", host, TARGET_BYTE),
        ("GET", "/\0", host, TARGET_BYTE),
        ("GET", "/\x7f", host, TARGET_BYTE),
        ("GET", "/#frag", host, TARGET_BYTE),
        ("GET", "/a\\b", host, TARGET_BYTE),
        ("GET", "/é", host, TARGET_BYTE),
        // Field injection (RUSTSEC-2024-0009): the response writer's rules.
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X", b"a\r\nSet-Cookie: b")],
            HttpError::InvalidHeader("CR in header value"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X", b"a\nb")],
            HttpError::InvalidHeader("LF in header value"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X", b"a\0b")],
            HttpError::InvalidHeader("NUL in header value"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X", b"\x1b[31m")],
            HttpError::InvalidHeader("control character in header value"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X\r\nY", b"v")],
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("X Y", b"v")],
            HttpError::InvalidHeader("header name is not a token"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("", b"v")],
            HttpError::InvalidHeader("empty header name"),
        ),
        // Host: exactly one, valid (the server's rule, RFC 9112 §3.2).
        (
            "GET",
            "/",
            &[],
            HttpError::BadRequest("missing Host in an HTTP/1.1 request"),
        ),
        (
            "GET",
            "/",
            &[H("X", b"h")],
            HttpError::BadRequest("missing Host in an HTTP/1.1 request"),
        ),
        (
            "GET",
            "/",
            &[H("Host", b"h"), H("host", b"h")],
            HttpError::BadRequest("more than one Host header"),
        ),
        ("GET", "/", &[H("Host", b"")], INVALID_HOST),
        ("GET", "/", &[H("Host", b"a b")], INVALID_HOST),
        ("GET", "/", &[H("Host", b"u@h")], INVALID_HOST),
        ("GET", "/", &[H("Host", b"h/x")], INVALID_HOST),
        ("GET", "/", &[H("Host", b"a,b")], INVALID_HOST),
        ("GET", "/", &[H("Host", b"h:")], INVALID_HOST),
        (
            "GET",
            "/",
            &[H("Host", b"h\r\nX: y")],
            HttpError::InvalidHeader("CR in header value"),
        ),
        // Framing conflicts (RFC 9112 §6.3).
        ("POST", "/", &[H("Host", b"h"), Cl(1), Cl(1)], CONFLICT),
        (
            "POST",
            "/",
            &[H("Host", b"h"), H("Content-Length", b"1"), Cl(1)],
            CONFLICT,
        ),
        (
            "POST",
            "/",
            &[H("Host", b"h"), Cl(1), H("transfer-encoding", b"chunked")],
            CONFLICT,
        ),
        (
            "POST",
            "/",
            &[
                H("Host", b"h"),
                H("Transfer-Encoding", b"chunked"),
                H("Transfer-Encoding", b"chunked"),
            ],
            CONFLICT,
        ),
        // The first error wins.
        ("G T", "/a b", &[H("X", b"\r")], METHOD),
        (
            "GET",
            "/",
            &[H("X", b"\r"), H("Host", b"h"), H("Host", b"h")],
            HttpError::InvalidHeader("CR in header value"),
        ),
    ];
    for &(method, target, fields, expected) in rows {
        let (out, result) = write(method, target, fields);
        assert_eq!(result, Err(expected), "{method:?} {target:?} {fields:?}");
        // `out` is left exactly as it was.
        assert_eq!(out, b"", "{method:?} {target:?} {fields:?}");
    }
}
