//! Request heads: request line, line endings, headers, targets, Host,
//! limits, resumability, accessors.

use super::{decode_with, get_with, head, head_err, head_err_with, request, HeadResult};
use crate::http::{BodyFraming, HeadDecoder, HttpError, Limits, Method, Version};

const BAD_TOKEN: HttpError = HttpError::BadRequest("invalid method or request-target");
const BAD_VERSION: HttpError = HttpError::BadRequest("unsupported HTTP version");
const BARE_CR: HttpError = HttpError::BadRequest("bare CR in request head");
const BAD_NAME: HttpError = HttpError::InvalidHeader("invalid header name");
const BAD_VALUE: HttpError = HttpError::InvalidHeader("invalid header value");
const BAD_HOST: HttpError = HttpError::BadRequest("invalid Host");

#[test]
fn accept_request_line() {
    let rows: &[(&str, Method, &str, Version)] = &[
        ("GET / HTTP/1.1", Method::Get, "GET", Version::Http11),
        (
            "DELETE / HTTP/1.1",
            Method::Delete,
            "DELETE",
            Version::Http11,
        ),
        ("HEAD / HTTP/1.1", Method::Head, "HEAD", Version::Http11),
        (
            "OPTIONS / HTTP/1.1",
            Method::Options,
            "OPTIONS",
            Version::Http11,
        ),
        ("PATCH / HTTP/1.1", Method::Patch, "PATCH", Version::Http11),
        ("POST / HTTP/1.1", Method::Post, "POST", Version::Http11),
        ("PUT / HTTP/1.1", Method::Put, "PUT", Version::Http11),
        // RFC 9110 §9.1: methods are case-sensitive.
        ("get / HTTP/1.1", Method::Other, "get", Version::Http11),
        ("Post / HTTP/1.1", Method::Other, "Post", Version::Http11),
        (
            "PROPFIND / HTTP/1.1",
            Method::Other,
            "PROPFIND",
            Version::Http11,
        ),
        (
            "M-SEARCH / HTTP/1.1",
            Method::Other,
            "M-SEARCH",
            Version::Http11,
        ),
        ("GET / HTTP/1.0", Method::Get, "GET", Version::Http10),
    ];
    for &(line, method, token, version) in rows {
        let h = head(&request(line, &["Host: example.com"]));
        assert_eq!(
            (h.method(), h.method_str(), h.version()),
            (method, token, version),
            "{line}"
        );
    }
}

#[test]
fn reject_request_line() {
    let rows: &[(&str, HttpError)] = &[
        // RFC 9110 §9.1: the method is a token.
        ("G(T / HTTP/1.1", BAD_TOKEN),
        ("GE\"T / HTTP/1.1", BAD_TOKEN),
        (" GET / HTTP/1.1", BAD_TOKEN),
        // RFC 9112 §3: single SP between the parts.
        ("GET  / HTTP/1.1", BAD_TOKEN),
        ("GET /\tHTTP/1.1", BAD_TOKEN),
        ("GET\t/ HTTP/1.1", BAD_TOKEN),
        // HTTP/0.9-style request lines.
        ("GET /", BAD_TOKEN),
        ("GET", BAD_TOKEN),
        (
            "GET / HTTP/1.1 ",
            HttpError::BadRequest("invalid line ending"),
        ),
    ];
    for &(line, expected) in rows {
        assert_eq!(
            head_err(&request(line, &["Host: example.com"])),
            expected,
            "{line:?}"
        );
    }
}

#[test]
fn reject_version() {
    // RFC 9112 §2.3; only HTTP/1.0 and HTTP/1.1, all others 400 (see
    // `HttpError::status`).
    let rows: &[(&str, HttpError)] = &[
        ("GET / HTTP/1.2", BAD_VERSION),
        ("GET / HTTP/2.0", BAD_VERSION),
        ("PRI * HTTP/2.0", BAD_VERSION),
        ("GET / HTTP/0.9", BAD_VERSION),
        ("GET / HTTP/3", BAD_VERSION),
        ("GET / http/1.1", BAD_VERSION),
        ("GET / HTTPS/1.1", BAD_VERSION),
        (
            "GET / HTTP/1.10",
            HttpError::BadRequest("invalid line ending"),
        ),
    ];
    for &(line, expected) in rows {
        let e = head_err(&request(line, &["Host: example.com"]));
        assert_eq!((e, e.status()), (expected, 400), "{line:?}");
    }
}

#[test]
fn accept_line_endings() {
    // RFC 9112 §2.2: leading empty lines (CRLF) are skipped.
    let canonical = head(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n");
    let input: &[u8] = b"\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n";
    let (h, n) = decode_with(Limits::DEFAULT, input).unwrap().unwrap();
    assert_eq!(
        (h.method(), h.target(), h.host(), h.body_framing()),
        (
            canonical.method(),
            canonical.target(),
            canonical.host(),
            canonical.body_framing()
        )
    );
    assert_eq!(n, input.len());
}

#[test]
fn reject_line_endings() {
    // RFC 9112 §2.2: a bare CR is never a line ending; reject it anywhere.
    let rows: &[&[u8]] = &[
        b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\rX",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
    ];
    for &input in rows {
        assert_eq!(
            head_err(input),
            BARE_CR,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // CRLF only: a bare LF anywhere in the head is refused, where httparse
    // (and RFC 9112 §2.2's leniency) would take it as a line end (SECURITY.md
    // "Bare LF / bare CR": a proxy in front may not).
    let rows: &[&[u8]] = &[
        b"POST /x HTTP/1.1\nHost: a\nContent-Length: 1\n\n",
        b"POST /x HTTP/1.1\r\nHost: a\nContent-Length: 1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
        b"\nPOST /x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\n\nPOST /x HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for &input in rows {
        assert_eq!(
            head_err(input),
            HttpError::BadRequest("bare LF in request head"),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn accept_headers() {
    let h = head(b"GET / HTTP/1.1\r\nHost: a\r\nX-A:no-space\r\nX-B:  padded \t \r\nx-a: second\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9 \xff\r\n\r\n");
    let all: Vec<(&str, &[u8])> = h.headers().collect();
    assert_eq!(
        all,
        [
            ("Host", &b"a"[..]),
            ("X-A", b"no-space"),
            ("X-B", b"padded"),
            ("x-a", b"second"),
            ("X-Empty", b""),
            ("X-Obs", b"caf\xc3\xa9 \xff"),
        ]
    );
    assert_eq!(h.header("x-A"), Some(&b"no-space"[..]));
    assert_eq!(h.header_str("X-B"), Some("padded"));
    assert_eq!(
        h.header_values("X-A").collect::<Vec<_>>(),
        [&b"no-space"[..], b"second"]
    );
    assert_eq!(h.header("X-Empty"), Some(&b""[..]));
    assert_eq!(h.header_str("X-Obs"), None, "not UTF-8");
    assert_eq!(h.header("X-Missing"), None);
    assert_eq!(h.header_values("X-Missing").count(), 0);
}

#[test]
fn reject_headers() {
    let rows: &[(&[u8], HttpError)] = &[
        // RFC 9112 §5.2: obs-fold is rejected (httparse default).
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", BAD_NAME),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
            BAD_NAME,
        ),
        (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", BAD_NAME),
        // RFC 9112 §5.1: no whitespace between name and colon.
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", BAD_NAME),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX\t: a\r\n\r\n", BAD_NAME),
        // RFC 9110 §5.1: the name is a non-empty token.
        (b"GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", BAD_NAME),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n", BAD_NAME),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX(: a\r\n\r\n", BAD_NAME),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: a\r\n\r\n",
            BAD_NAME,
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n", BAD_NAME),
        // RFC 9110 §5.5: no NUL or other controls in values.
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", BAD_VALUE),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", BAD_VALUE),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", BAD_VALUE),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: \x0bb\r\n\r\n", BAD_VALUE),
    ];
    for &(input, expected) in rows {
        let e = head_err(input);
        assert_eq!(
            (e, e.status()),
            (expected, 400),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn accept_targets() {
    // (request line, Host, target(), path(), query(), host())
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a str,
    );
    let rows: &[Row<'_>] = &[
        // RFC 9112 §3.2.1 origin-form.
        ("GET / HTTP/1.1", Some("a"), "/", "/", None, "a"),
        (
            "GET /a/b?x=1&y HTTP/1.1",
            Some("a"),
            "/a/b?x=1&y",
            "/a/b",
            Some("x=1&y"),
            "a",
        ),
        ("GET /? HTTP/1.1", Some("a"), "/?", "/", Some(""), "a"),
        (
            "GET /a?b?c HTTP/1.1",
            Some("a"),
            "/a?b?c",
            "/a",
            Some("b?c"),
            "a",
        ),
        (
            "GET //double HTTP/1.1",
            Some("a"),
            "//double",
            "//double",
            None,
            "a",
        ),
        (
            "GET /%41%2f:@!$&'()*+,;=-._~ HTTP/1.1",
            Some("a"),
            "/%41%2f:@!$&'()*+,;=-._~",
            "/%41%2f:@!$&'()*+,;=-._~",
            None,
            "a",
        ),
        // RFC 9112 §3.2.2 absolute-form, reduced to origin-form.
        (
            "GET http://example.com/p?q HTTP/1.1",
            Some("example.com"),
            "/p?q",
            "/p",
            Some("q"),
            "example.com",
        ),
        (
            "GET HTTP://Example.COM:8080/p HTTP/1.1",
            Some("example.com:8080"),
            "/p",
            "/p",
            None,
            "example.com:8080",
        ),
        (
            "GET http://example.com HTTP/1.1",
            Some("example.com"),
            "/",
            "/",
            None,
            "example.com",
        ),
        (
            "GET http://[::1]:80/ HTTP/1.1",
            Some("[::1]:80"),
            "/",
            "/",
            None,
            "[::1]:80",
        ),
        // HTTP/1.0 without Host: the authority is the host.
        (
            "GET http://h.example/x HTTP/1.0",
            None,
            "/x",
            "/x",
            None,
            "h.example",
        ),
        ("GET /x HTTP/1.0", None, "/x", "/x", None, ""),
        // RFC 9112 §3.2.4 asterisk-form, OPTIONS only.
        ("OPTIONS * HTTP/1.1", Some("a"), "*", "*", None, "a"),
    ];
    for &(line, host, target, path, query, host_out) in rows {
        let host_line = host.map(|h| format!("Host: {h}"));
        let headers: Vec<&str> = host_line.iter().map(String::as_str).collect();
        let h = head(&request(line, &headers));
        assert_eq!(
            (h.target(), h.path(), h.query(), h.host()),
            (target, path, query, host_out),
            "{line}"
        );
    }
}

#[test]
fn reject_targets() {
    let not_origin = HttpError::BadRequest("request-target is not origin-form or absolute-form");
    let bad_authority = HttpError::BadRequest("invalid authority in request-target");
    let rows: &[(&[u8], HttpError)] = &[
        (
            b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("fragment in request-target"),
        ),
        (
            b"GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("backslash in request-target"),
        ),
        (
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("non-ASCII byte in request-target"),
        ),
        // httparse refuses these before our own byte check sees them.
        (b"GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TOKEN),
        (b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TOKEN),
        (b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TOKEN),
        (b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TOKEN),
        (
            b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("asterisk-form request-target without OPTIONS"),
        ),
        (b"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", not_origin),
        (
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            not_origin,
        ),
        (b"GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", not_origin),
        (b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", not_origin),
        (b"GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n", not_origin),
        (
            b"GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("userinfo in request-target"),
        ),
        (b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", bad_authority),
        (
            b"GET http://a,b/ HTTP/1.1\r\nHost: a\r\n\r\n",
            bad_authority,
        ),
        (
            b"GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n",
            bad_authority,
        ),
        (
            b"GET http://a?q HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("absolute-form request-target with a query but no path"),
        ),
        // The absolute-form authority must equal Host.
        (
            b"GET http://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            HttpError::BadRequest("absolute-form authority differs from Host"),
        ),
        (
            b"GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("absolute-form authority differs from Host"),
        ),
        (
            b"GET http://a/ HTTP/1.0\r\nHost: b\r\n\r\n",
            HttpError::BadRequest("absolute-form authority differs from Host"),
        ),
    ];
    for &(input, expected) in rows {
        let e = head_err(input);
        assert_eq!(
            (e, e.status()),
            (expected, 400),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn target_length_limit() {
    let limits = Limits::DEFAULT.with_target_bytes(16);
    let fits = request(&format!("GET /{} HTTP/1.1", "a".repeat(15)), &["Host: a"]);
    assert!(matches!(decode_with(limits, &fits), Ok(Some(_))));
    let over = request(&format!("GET /{} HTTP/1.1", "a".repeat(16)), &["Host: a"]);
    let e = head_err_with(limits, &over);
    assert_eq!((e, e.status()), (HttpError::TargetTooLong, 414));

    // Overflowing the head inside a target already over the limit: 414.
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', 9000));
    let e = head_err(&long);
    assert_eq!((e, e.status()), (HttpError::TargetTooLong, 414));
    // Overflowing inside a long method, or in the headers: 431.
    assert_eq!(head_err(&vec![b'A'; 9000]), HttpError::HeadTooLarge);
    let mut long = get_with(&[]);
    long.truncate(long.len() - 2);
    long.extend_from_slice(b"X: ");
    long.extend(std::iter::repeat_n(b'a', 9000));
    assert_eq!(head_err(&long), HttpError::HeadTooLarge);
}

#[test]
fn accept_hosts() {
    let rows = [
        "example.com",
        "example.com:80",
        "EXAMPLE.com:65535",
        "127.0.0.1:8000",
        "localhost",
        "[::1]",
        "[::1]:3000",
        "[2001:db8::7]",
        "a-b.c_d~e",
        "xn--bcher-kva.example",
        "%41b",
        "a!$&'()*+;=b",
    ];
    for host in rows {
        let h = head(&request("GET / HTTP/1.1", &[&format!("Host: {host}")]));
        assert_eq!(h.host(), host);
        // HTTP/1.0 may send Host too.
        let h = head(&request("GET / HTTP/1.0", &[&format!("Host: {host}")]));
        assert_eq!(h.host(), host);
    }
    // HTTP/1.0 does not need one.
    assert_eq!(head(b"GET / HTTP/1.0\r\n\r\n").host(), "");
}

#[test]
fn reject_hosts() {
    let rows: &[(&[u8], HttpError)] = &[
        // RFC 9112 §3.2: exactly one Host on HTTP/1.1.
        (
            b"GET / HTTP/1.1\r\n\r\n",
            HttpError::BadRequest("missing Host in an HTTP/1.1 request"),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("more than one Host header"),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            HttpError::BadRequest("more than one Host header"),
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            HttpError::BadRequest("more than one Host header"),
        ),
        // RFC 9110 §7.2: a valid uri-host [":" port], non-empty.
        (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", BAD_HOST),
        // Ports up to 65535 (`is_port`).
        (b"GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: [::1]:70000\r\n\r\n", BAD_HOST),
        (
            b"GET http://a:99999/ HTTP/1.1\r\nHost: a:99999\r\n\r\n",
            HttpError::BadRequest("invalid authority in request-target"),
        ),
        (b"GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: []\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: %4\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", BAD_HOST),
        (b"GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", BAD_HOST),
    ];
    for &(input, expected) in rows {
        let e = head_err(input);
        assert_eq!(
            (e, e.status()),
            (expected, 400),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn reject_limits() {
    let limits = Limits::DEFAULT.with_headers(3);
    let three = request("GET / HTTP/1.1", &["Host: a", "B: 1", "C: 2"]);
    assert_eq!(
        decode_with(limits, &three)
            .unwrap()
            .unwrap()
            .0
            .headers()
            .count(),
        3
    );
    let four = request("GET / HTTP/1.1", &["Host: a", "B: 1", "C: 2", "D: 3"]);
    let e = head_err_with(limits, &four);
    assert_eq!((e, e.status()), (HttpError::TooManyHeaders, 431));
    // Default: 100 fields.
    let names: Vec<String> = (0..99).map(|i| format!("X-{i}: v")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(decode_with(Limits::DEFAULT, &get_with(&names))
        .unwrap()
        .is_some());
    let names: Vec<String> = (0..100).map(|i| format!("X-{i}: v")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(head_err(&get_with(&names)), HttpError::TooManyHeaders);
    // Zero fields allowed: only HTTP/1.0 without headers passes.
    assert!(
        decode_with(Limits::DEFAULT.with_headers(0), b"GET / HTTP/1.0\r\n\r\n")
            .unwrap()
            .is_some()
    );

    // Head size, exact fit and one over.
    let req = get_with(&[]);
    let fit = Limits::DEFAULT.with_head_bytes(req.len());
    assert!(decode_with(fit, &req).unwrap().is_some());
    let tight = Limits::DEFAULT.with_head_bytes(req.len() - 1);
    let e = head_err_with(tight, &req);
    assert_eq!((e, e.status()), (HttpError::HeadTooLarge, 431));
    // Leading empty lines count against the head limit.
    let mut padded = b"\r\n".repeat(20);
    padded.extend_from_slice(&req);
    assert_eq!(
        head_err_with(Limits::DEFAULT.with_head_bytes(req.len() + 39), &padded),
        HttpError::HeadTooLarge
    );
    assert!(
        decode_with(Limits::DEFAULT.with_head_bytes(req.len() + 40), &padded)
            .unwrap()
            .is_some()
    );
    // A CRLF flood is rejected once over the limit.
    assert_eq!(head_err(&b"\r\n".repeat(5000)), HttpError::HeadTooLarge);
}

#[test]
fn head_too_large_as_soon_as_over_limit() {
    let limits = Limits::DEFAULT.with_head_bytes(64);
    let mut stream = b"GET / HTTP/1.1\r\nX: ".to_vec();
    stream.resize(200, b'a');
    let mut decoder = HeadDecoder::new(limits);
    for len in 0..=64 {
        assert_eq!(decoder.decode(&stream[..len]), Ok(None), "len {len}");
    }
    assert_eq!(decoder.decode(&stream[..65]), Err(HttpError::HeadTooLarge));
    // Terminal: the same error again, whatever comes next.
    assert_eq!(decoder.decode(&stream), Err(HttpError::HeadTooLarge));
    // A head complete within the limit is fine however much follows it.
    let mut ok = b"GET / HTTP/1.0\r\n\r\n".to_vec();
    ok.extend_from_slice(&[b'x'; 1000]);
    assert_eq!(decode_with(limits, &ok).unwrap().unwrap().1, 18);
}

#[test]
fn each_byte_is_scanned_once() {
    // RUSTSEC-2023-0065: a head trickled in one byte at a time must cost
    // linear time. Count what the scan looks at, and how often httparse runs.
    let value = "v".repeat(70);
    let lines: Vec<String> = (0..98).map(|i| format!("X-{i:02}: {value}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut req = get_with(&lines);
    let head_len = req.len();
    assert!(head_len > 7000 && head_len <= 8192, "{head_len}");
    req.extend_from_slice(b"body bytes that are never scanned");

    let mut decoder = HeadDecoder::new(Limits::DEFAULT);
    for len in 0..head_len {
        assert_eq!(decoder.decode(&req[..len]), Ok(None));
    }
    let (h, n) = decoder.decode(&req).unwrap().unwrap();
    assert_eq!((n, h.headers().count()), (head_len, 99));
    assert_eq!(decoder.scan.scan_count, head_len);
    assert_eq!(decoder.parse_count, 1);

    // Same with uneven reads.
    let mut decoder = HeadDecoder::new(Limits::DEFAULT);
    let mut len = 0;
    let mut step = 1;
    let result = loop {
        len = (len + step).min(req.len());
        step = step * 3 % 1000 + 1;
        if let Some(done) = decoder.decode(&req[..len]).unwrap() {
            break done;
        }
    };
    assert_eq!(result.1, head_len);
    assert_eq!(decoder.scan.scan_count, head_len);
    assert_eq!(decoder.parse_count, 1);
}

/// Inputs for the split tests: valid, invalid, and over the limits.
fn split_inputs() -> Vec<(Limits, Vec<u8>)> {
    let d = Limits::DEFAULT;
    let small = Limits::DEFAULT.with_head_bytes(48).with_target_bytes(20);
    let mut cases: Vec<(Limits, Vec<u8>)> = [
        &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"POST /m?s=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"\r\n\nGET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r",
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        b"GET /# HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ]
    .iter()
    .map(|c| (d, c.to_vec()))
    .collect();
    cases.push((
        small,
        b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".to_vec(),
    ));
    cases.push((
        small,
        b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n".to_vec(),
    ));
    cases.push((
        small,
        b"GET /aaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n".to_vec(),
    ));
    cases.push((small, b"\r\n".repeat(30)));
    cases
}

/// Feeds growing prefixes (the caller appending reads) until a result.
fn feed(limits: Limits, input: &[u8], cuts: impl IntoIterator<Item = usize>) -> HeadResult {
    let mut decoder = HeadDecoder::new(limits);
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
fn reset_decodes_the_next_request() {
    let stream = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut decoder = HeadDecoder::new(Limits::DEFAULT);
    let (first, n) = decoder.decode(stream).unwrap().unwrap();
    assert_eq!(first.target(), "/a");
    // Without reset, a misuse is reported, not silently accepted.
    assert_eq!(
        decoder.decode(stream),
        Err(HttpError::Internal(
            "HeadDecoder::decode after a complete head"
        ))
    );
    decoder.reset();
    let (second, m) = decoder.decode(&stream[n..]).unwrap().unwrap();
    assert_eq!((second.target(), n + m), ("/b", stream.len()));
    // A buffer shorter than what was already scanned is a caller bug.
    decoder.reset();
    assert_eq!(decoder.decode(b"GET / HT"), Ok(None));
    assert_eq!(
        decoder.decode(b"GET"),
        Err(HttpError::Internal(
            "HeadDecoder::decode given a shorter buffer"
        ))
    );
}

#[test]
fn query_param_table() {
    let h = head(b"GET /p?a=1&b=x+y&c=%41%42&d&e=%zz&f=%ff&a=2&g%20h=v&e=ok&i=%E2%82%AC&j=%4 HTTP/1.1\r\nHost: a\r\n\r\n");
    let rows: &[(&str, Option<&str>)] = &[
        ("a", Some("1")),
        ("b", Some("x y")),
        ("c", Some("AB")),
        ("d", Some("")),
        ("e", None), // first value malformed
        ("f", None), // not UTF-8
        ("g h", Some("v")),
        ("i", Some("€")),
        ("j", None),
        ("missing", None),
        ("A", None), // case-sensitive
    ];
    for &(name, expected) in rows {
        assert_eq!(h.query_param(name).as_deref(), expected, "{name}");
    }
    assert_eq!(
        head(b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n").query_param("a"),
        None
    );
    // Counted after decoding: two `a`, two `e` (one malformed value), the
    // `g h` spelled `g%20h`.
    for (name, count) in [("a", 2), ("e", 2), ("g h", 1), ("b", 1), ("A", 0), ("x", 0)] {
        assert_eq!(h.query_param_count(name), count, "{name}");
    }
    let h = head(b"GET /m?sessionId=1&session%49d=2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h.query_param_count("sessionId"), 2);
    assert_eq!(
        head(b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n").query_param_count("a"),
        0
    );
}

#[test]
fn connection_semantics() {
    // (request line, extra headers, keep_alive)
    let rows: &[(&str, &[&str], bool)] = &[
        ("GET / HTTP/1.1", &[], true),
        ("GET / HTTP/1.1", &["Connection: close"], false),
        ("GET / HTTP/1.1", &["Connection: Keep-Alive, CLOSE"], false),
        (
            "GET / HTTP/1.1",
            &["Connection: foo", "Connection: close"],
            false,
        ),
        ("GET / HTTP/1.1", &["Connection: closed"], true),
        ("GET / HTTP/1.1", &["Connection: keep-alive"], true),
        ("GET / HTTP/1.0", &[], false),
        ("GET / HTTP/1.0", &["Connection: keep-alive"], true),
        ("GET / HTTP/1.0", &["Connection: Keep-Alive"], true),
        ("GET / HTTP/1.0", &["Connection: keep-alive, close"], false),
        ("GET / HTTP/1.0", &["Connection: keep-alive-ish"], false),
    ];
    for &(line, extra, keep_alive) in rows {
        let h = head(&request(line, &[&["Host: a"], extra].concat()));
        assert_eq!(h.keep_alive(), keep_alive, "{line} {extra:?}");
    }
}

#[test]
fn expect_continue_table() {
    let rows: &[(&str, &[&str], bool)] = &[
        ("POST / HTTP/1.1", &["Expect: 100-continue"], true),
        ("POST / HTTP/1.1", &["Expect: 100-Continue"], true),
        ("POST / HTTP/1.1", &[], false),
        ("POST / HTTP/1.1", &["Expect: 200-ok"], false),
        // RFC 9110 §10.1.1: ignored on HTTP/1.0.
        ("POST / HTTP/1.0", &["Expect: 100-continue"], false),
    ];
    for &(line, extra, expected) in rows {
        let h = head(&request(line, &[&["Host: a"], extra].concat()));
        assert_eq!(h.expect_continue(), expected, "{line} {extra:?}");
    }
}

#[test]
fn websocket_upgrade_table() {
    let rows: &[(&str, &[&str], bool)] = &[
        (
            "GET /ws HTTP/1.1",
            &["Connection: Upgrade", "Upgrade: websocket"],
            true,
        ),
        (
            "GET /ws HTTP/1.1",
            &["Connection: keep-alive, upgrade", "Upgrade: WebSocket"],
            true,
        ),
        (
            "GET /ws HTTP/1.1",
            &["Upgrade: websocket", "Connection: x", "Connection: Upgrade"],
            true,
        ),
        ("GET /ws HTTP/1.1", &["Upgrade: websocket"], false),
        ("GET /ws HTTP/1.1", &["Connection: Upgrade"], false),
        (
            "GET /ws HTTP/1.1",
            &["Connection: Upgrade", "Upgrade: h2c"],
            false,
        ),
        (
            "GET /ws HTTP/1.1",
            &["Connection: Upgraded", "Upgrade: websocket"],
            false,
        ),
        (
            "POST /ws HTTP/1.1",
            &["Connection: Upgrade", "Upgrade: websocket"],
            false,
        ),
        (
            "GET /ws HTTP/1.0",
            &["Connection: Upgrade", "Upgrade: websocket"],
            false,
        ),
    ];
    for &(line, extra, expected) in rows {
        let h = head(&request(line, &[&["Host: a"], extra].concat()));
        assert_eq!(h.is_websocket_upgrade(), expected, "{line} {extra:?}");
    }
}

#[test]
fn debug_does_not_print_values_or_query() {
    let h = head(b"POST /m?token=s3cr3t HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer hunter2\r\nContent-Length: 0\r\n\r\n");
    let debug = format!("{h:?}");
    assert!(
        debug.contains("Authorization") && debug.contains("/m"),
        "{debug}"
    );
    assert!(
        !debug.contains("hunter2") && !debug.contains("s3cr3t"),
        "{debug}"
    );
    assert_eq!(h.body_framing(), BodyFraming::Length(0));
}
