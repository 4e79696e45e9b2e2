//! Tests of URL parsing and reference resolution: accept and reject tables
//! per rule, the RFC 3986 §5.4 examples, and round trips.

use super::{redact, Scheme, Url, UrlError};

const MISSING_SCHEME: UrlError = UrlError::Scheme("missing scheme");
const UNSUPPORTED: UrlError = UrlError::Scheme("unsupported scheme (only http, https, ws and wss)");
const NO_SLASHES: UrlError = UrlError::Scheme("expected \"//\" after the scheme");
const EMPTY_HOST: UrlError = UrlError::Host("empty host");
const HOST_CHAR: UrlError = UrlError::Host("character not allowed in a host name");
const EMPTY_LABEL: UrlError = UrlError::Host("empty label in host");
const BAD_V4: UrlError = UrlError::Host("invalid IPv4 address");
const BAD_V6: UrlError = UrlError::Host("invalid IPv6 address");
const PORT_0: UrlError = UrlError::Port("port 0");
const PORT_BIG: UrlError = UrlError::Port("port over 65535");
const PORT_DIGITS: UrlError = UrlError::Port("port is not all digits");
const SPACE: UrlError = UrlError::Character("space in URL");
const CONTROL: UrlError = UrlError::Character("control character in URL");
const NON_ASCII: UrlError = UrlError::Character("non-ASCII byte in URL");
const BACKSLASH: UrlError = UrlError::Character("backslash in URL");
const NOT_ALLOWED: UrlError = UrlError::Character("character not allowed in a URL");
const PERCENT: UrlError = UrlError::Path("'%' not followed by two hex digits");
const BRACKET: UrlError = UrlError::Path("'[' or ']' outside an IPv6 host");

#[test]
fn accept_urls() {
    // (input, scheme, host, port, target, Display)
    type Row<'a> = (&'a str, Scheme, &'a str, u16, &'a str, &'a str);
    let rows: &[Row<'_>] = &[
        (
            "http://example.com",
            Scheme::Http,
            "example.com",
            80,
            "/",
            "http://example.com/",
        ),
        ("http://h:1", Scheme::Http, "h", 1, "/", "http://h:1/"),
        (
            "http://h:65535/",
            Scheme::Http,
            "h",
            65535,
            "/",
            "http://h:65535/",
        ),
        (
            "http://h:00080/x",
            Scheme::Http,
            "h",
            80,
            "/x",
            "http://h/x",
        ),
        (
            "HTTP://EXAMPLE.Com:8080/Path?Q=1#frag",
            Scheme::Http,
            "example.com",
            8080,
            "/Path?Q=1",
            "http://example.com:8080/Path?Q=1",
        ),
        ("https://h/", Scheme::Https, "h", 443, "/", "https://h/"),
        (
            "https://h:443/x",
            Scheme::Https,
            "h",
            443,
            "/x",
            "https://h/x",
        ),
        (
            "https://h:80/x",
            Scheme::Https,
            "h",
            80,
            "/x",
            "https://h:80/x",
        ),
        ("ws://h/ws", Scheme::Ws, "h", 80, "/ws", "ws://h/ws"),
        (
            "WsS://h:8443/ws?x",
            Scheme::Wss,
            "h",
            8443,
            "/ws?x",
            "wss://h:8443/ws?x",
        ),
        (
            "http://127.0.0.1:8000/sse",
            Scheme::Http,
            "127.0.0.1",
            8000,
            "/sse",
            "http://127.0.0.1:8000/sse",
        ),
        (
            "http://0.0.0.0/",
            Scheme::Http,
            "0.0.0.0",
            80,
            "/",
            "http://0.0.0.0/",
        ),
        (
            "http://[::1]:8000/mcp",
            Scheme::Http,
            "::1",
            8000,
            "/mcp",
            "http://[::1]:8000/mcp",
        ),
        (
            "http://[::1]",
            Scheme::Http,
            "::1",
            80,
            "/",
            "http://[::1]/",
        ),
        (
            "https://[2001:DB8::1]",
            Scheme::Https,
            "2001:db8::1",
            443,
            "/",
            "https://[2001:db8::1]/",
        ),
        (
            "http://[0:0:0:0:0:0:0:1]/",
            Scheme::Http,
            "::1",
            80,
            "/",
            "http://[::1]/",
        ),
        (
            "http://[::FFFF:1.2.3.4]/",
            Scheme::Http,
            "::ffff:1.2.3.4",
            80,
            "/",
            "http://[::ffff:1.2.3.4]/",
        ),
        // No path, a query or fragment straight after the authority.
        ("http://h?q", Scheme::Http, "h", 80, "/?q", "http://h/?q"),
        ("http://h#f", Scheme::Http, "h", 80, "/", "http://h/"),
        ("http://h/#", Scheme::Http, "h", 80, "/", "http://h/"),
        ("http://h/a?", Scheme::Http, "h", 80, "/a?", "http://h/a?"),
        (
            "http://h/a?b?c/d",
            Scheme::Http,
            "h",
            80,
            "/a?b?c/d",
            "http://h/a?b?c/d",
        ),
        // Dot segments removed (RFC 3986 §5.2.4), percent-encoded dots not.
        (
            "http://h/a/./b/../c",
            Scheme::Http,
            "h",
            80,
            "/a/c",
            "http://h/a/c",
        ),
        ("http://h/..", Scheme::Http, "h", 80, "/", "http://h/"),
        (
            "http://h/../../x/.",
            Scheme::Http,
            "h",
            80,
            "/x/",
            "http://h/x/",
        ),
        (
            "http://h/%2e%2e/x",
            Scheme::Http,
            "h",
            80,
            "/%2e%2e/x",
            "http://h/%2e%2e/x",
        ),
        (
            "http://h/a//b",
            Scheme::Http,
            "h",
            80,
            "/a//b",
            "http://h/a//b",
        ),
        ("http://h//x", Scheme::Http, "h", 80, "//x", "http://h//x"),
        // Every pchar, and `?`/`/` in the query.
        (
            "http://h/%7Euser/%41:b@c;d=e,f!$&'()*+-._~?x=%2F/?",
            Scheme::Http,
            "h",
            80,
            "/%7Euser/%41:b@c;d=e,f!$&'()*+-._~?x=%2F/?",
            "http://h/%7Euser/%41:b@c;d=e,f!$&'()*+-._~?x=%2F/?",
        ),
        // Host names: `_`, `~`, `-`, a trailing dot, punycode, digits.
        (
            "http://my_host-1.example.com./x",
            Scheme::Http,
            "my_host-1.example.com.",
            80,
            "/x",
            "http://my_host-1.example.com./x",
        ),
        (
            "http://xn--bcher-kva.example/",
            Scheme::Http,
            "xn--bcher-kva.example",
            80,
            "/",
            "http://xn--bcher-kva.example/",
        ),
        (
            "http://1.2.3.4.example/",
            Scheme::Http,
            "1.2.3.4.example",
            80,
            "/",
            "http://1.2.3.4.example/",
        ),
        (
            "http://123abc/",
            Scheme::Http,
            "123abc",
            80,
            "/",
            "http://123abc/",
        ),
        ("http://a~b/", Scheme::Http, "a~b", 80, "/", "http://a~b/"),
        // `@` in the path is not userinfo.
        ("http://h/@x", Scheme::Http, "h", 80, "/@x", "http://h/@x"),
    ];
    for &(input, scheme, host, port, target, display) in rows {
        let url = Url::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(
            (url.scheme(), url.host(), url.port(), url.target()),
            (scheme, host, port, target),
            "{input:?}"
        );
        assert_eq!(url.to_string(), display, "{input:?}");
        // Display → parse gives the same URL.
        assert_eq!(Url::parse(display), Ok(url.clone()), "{input:?}");
        assert_eq!(display.parse::<Url>(), Ok(url.clone()), "{input:?}");
        // Resolving the empty reference, or the URL itself, is the identity.
        assert_eq!(url.join(""), Ok(url.clone()), "{input:?}");
        assert_eq!(url.join(input), Ok(url.clone()), "{input:?}");
        assert_eq!(url.is_tls(), scheme.is_tls());
    }
}

#[test]
fn reject_urls() {
    let long_host = format!("http://{}/", "a".repeat(254));
    let rows: &[(&str, UrlError)] = &[
        // Scheme: absolute URLs with an authority, four schemes.
        ("", MISSING_SCHEME),
        ("example.com", MISSING_SCHEME),
        ("/sse", MISSING_SCHEME),
        ("//h/x", MISSING_SCHEME),
        ("1http://h/", MISSING_SCHEME),
        ("localhost:8000", UNSUPPORTED),
        ("ftp://h/", UNSUPPORTED),
        ("file:///etc/passwd", UNSUPPORTED),
        ("httpx://h/", UNSUPPORTED),
        ("javascript:alert(1)", UNSUPPORTED),
        ("http:/h/", NO_SLASHES),
        ("http:h", NO_SLASHES),
        ("http:", NO_SLASHES),
        // Userinfo: credentials go in --header (RFC 9110 §4.2.4).
        ("http://user:pass@h/", UrlError::Userinfo),
        ("http://user@h/", UrlError::Userinfo),
        ("http://@h/", UrlError::Userinfo),
        ("https://h@evil.com/", UrlError::Userinfo),
        ("http://[::1]@h/", UrlError::Userinfo),
        // Host.
        ("http://", EMPTY_HOST),
        ("http:///x", EMPTY_HOST),
        ("http://:80/", EMPTY_HOST),
        ("http://?q", EMPTY_HOST),
        ("http://#f", EMPTY_HOST),
        ("http://::1/", EMPTY_HOST),
        ("http://h%41/", HOST_CHAR),
        ("http://a,b/", HOST_CHAR),
        ("http://a;b/", HOST_CHAR),
        ("http://a!b/", HOST_CHAR),
        ("http://a=b/", HOST_CHAR),
        ("http://a]/", HOST_CHAR),
        ("http://a[b/", HOST_CHAR),
        ("http://a..b/", EMPTY_LABEL),
        ("http://.a/", EMPTY_LABEL),
        ("http://./", EMPTY_LABEL),
        ("http://a../", EMPTY_LABEL),
        (
            long_host.as_str(),
            UrlError::Host("host longer than 253 bytes"),
        ),
        // Numbers that resolvers read as IPv4 in different ways.
        ("http://127.1/", BAD_V4),
        ("http://0x7f.0.0.1/", BAD_V4),
        ("http://0x7f000001/", BAD_V4),
        ("http://2130706433/", BAD_V4),
        ("http://010.0.0.1/", BAD_V4),
        ("http://256.0.0.1/", BAD_V4),
        ("http://1.2.3.4.5/", BAD_V4),
        ("http://1.2.3.4./", BAD_V4),
        ("http://example.123/", BAD_V4),
        // IPv6 literals: well-formed, no zone id, no IPvFuture.
        ("http://[::1/", UrlError::Host("'[' without ']'")),
        ("http://[::1]x/", UrlError::Host("characters after ']'")),
        ("http://[::1]]/", UrlError::Host("characters after ']'")),
        ("http://[fe80::1%25eth0]/", BAD_V6),
        ("http://[v1.x]/", BAD_V6),
        ("http://[1.2.3.4]/", BAD_V6),
        ("http://[]/", BAD_V6),
        ("http://[::g]/", BAD_V6),
        ("http://[1:2:3:4:5:6:7:8:9]/", BAD_V6),
        // Port: 1..=65535, digits only, not empty.
        ("http://h:0", PORT_0),
        ("http://h:00000/", PORT_0),
        ("http://h:65536", PORT_BIG),
        ("http://h:99999999999999999999/", PORT_BIG),
        ("http://h:", UrlError::Port("empty port")),
        ("http://h:/x", UrlError::Port("empty port")),
        ("http://[::1]:", UrlError::Port("empty port")),
        ("http://h:8o/", PORT_DIGITS),
        ("http://h:-1/", PORT_DIGITS),
        ("http://h:+80/", PORT_DIGITS),
        ("http://h:0x50/", PORT_DIGITS),
        ("http://h:80:80/", PORT_DIGITS),
        ("http://[::1]:80:1/", PORT_DIGITS),
        // Characters, anywhere (fragment included).
        ("http://h h/", SPACE),
        ("http://h/a b", SPACE),
        (" http://h/", SPACE),
        ("http://h/\t", CONTROL),
        ("http://h/\r\nHost: evil", CONTROL),
        ("http://h/\n", CONTROL),
        ("http://h/\0", CONTROL),
        ("http://h/\x7f", CONTROL),
        ("http://h/#\x01", CONTROL),
        ("http://bücher.de/", NON_ASCII),
        ("http://h/é", NON_ASCII),
        ("http://h\\evil.com/", BACKSLASH),
        ("http://h/a\\b", BACKSLASH),
        ("http://h/{x}", NOT_ALLOWED),
        ("http://h/a|b", NOT_ALLOWED),
        ("http://h/<script>", NOT_ALLOWED),
        ("http://h/\"", NOT_ALLOWED),
        ("http://h/^", NOT_ALLOWED),
        ("http://h/`", NOT_ALLOWED),
        ("http://h/#}", NOT_ALLOWED),
        // Path and query: well-formed percent-encoding, no brackets.
        ("http://h/%", PERCENT),
        ("http://h/%4", PERCENT),
        ("http://h/%zz", PERCENT),
        ("http://h/%%41", PERCENT),
        ("http://h/?%g0", PERCENT),
        ("http://h?%", PERCENT),
        ("http://h/[x]", BRACKET),
        ("http://h/?[", BRACKET),
    ];
    for &(input, expected) in rows {
        assert_eq!(Url::parse(input), Err(expected), "{input:?}");
    }
}

#[test]
fn accessors() {
    let rows: &[(&str, &str, &str, Option<&str>)] = &[
        // (URL, authority, path, query)
        ("http://h:80/", "h", "/", None),
        ("http://h:8080/a?b", "h:8080", "/a", Some("b")),
        ("https://h:80/", "h:80", "/", None),
        ("https://h:443/?", "h", "/", Some("")),
        ("ws://[::1]/x?y?z", "[::1]", "/x", Some("y?z")),
        ("wss://[::1]:443", "[::1]", "/", None),
        ("wss://[::1]:444", "[::1]:444", "/", None),
        ("http://127.0.0.1:3000/sse", "127.0.0.1:3000", "/sse", None),
    ];
    for &(input, authority, path, query) in rows {
        let url = Url::parse(input).unwrap();
        assert_eq!(
            (url.authority().as_str(), url.path(), url.query()),
            (authority, path, query),
            "{input:?}"
        );
    }
    let tls = [
        (Scheme::Http, false, 80, "http"),
        (Scheme::Https, true, 443, "https"),
        (Scheme::Ws, false, 80, "ws"),
        (Scheme::Wss, true, 443, "wss"),
    ];
    for (scheme, is_tls, port, name) in tls {
        assert_eq!(
            (scheme.is_tls(), scheme.default_port(), scheme.as_str()),
            (is_tls, port, name)
        );
    }
    // The authority is a Host value our own server accepts.
    for input in ["http://[::ffff:1.2.3.4]:8/", "http://a_b~c.d.:1/"] {
        let url = Url::parse(input).unwrap();
        let mut out = Vec::new();
        let mut head = crate::http::RequestHeadWriter::new(&mut out, "GET", url.target());
        head.header("Host", url.authority().as_bytes());
        assert_eq!(head.finish(), Ok(()), "{input:?}");
    }
}

#[test]
fn same_origin() {
    let base = Url::parse("http://h:8000/sse").unwrap();
    let rows = [
        ("/message?sessionId=1", true),
        ("http://H:8000/x", true),
        ("//h:8000/x", true),
        ("https://h:8000/x", false),
        ("ws://h:8000/x", false),
        ("//h/x", false),
        ("//other:8000/x", false),
    ];
    for (reference, same) in rows {
        let joined = base.join(reference).unwrap();
        assert_eq!(joined.same_origin(&base), same, "{reference:?}");
    }
}

#[test]
fn debug_hides_the_query() {
    let url = Url::parse("http://h/message?sessionId=secret").unwrap();
    let debug = format!("{url:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(
        debug.contains("/message") && debug.contains("<16 bytes>"),
        "{debug}"
    );
}

#[test]
fn error_display() {
    let rows = [
        (UrlError::Character("x"), "invalid URL: x"),
        (UrlError::Host("x"), "invalid URL host: x"),
        (UrlError::Path("x"), "invalid URL path: x"),
        (UrlError::Port("x"), "invalid URL port: x"),
        (UrlError::Scheme("x"), "invalid URL: x"),
        (
            UrlError::Userinfo,
            "invalid URL: credentials (user:password@) are not accepted; send them with --header",
        ),
    ];
    for (error, text) in rows {
        assert_eq!(error.to_string(), text);
        assert!(!text.contains('\n'));
    }
    let boxed: Box<dyn std::error::Error> = Box::new(UrlError::Userinfo);
    assert!(boxed.to_string().starts_with("invalid URL"));
}

/// RFC 3986 §5.4: base `http://a/b/c/d;p?q`. Results differ from the RFC
/// only where we drop the fragment and write an empty path as `/`.
#[test]
fn join_rfc3986_examples() {
    let base = Url::parse("http://a/b/c/d;p?q").unwrap();
    let rows: &[(&str, &str)] = &[
        // §5.4.1 normal examples (but "g:h", an unsupported scheme, below).
        ("g", "http://a/b/c/g"),
        ("./g", "http://a/b/c/g"),
        ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"),
        ("//g", "http://g/"),
        ("?y", "http://a/b/c/d;p?y"),
        ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q"),
        ("g#s", "http://a/b/c/g"),
        ("g?y#s", "http://a/b/c/g?y"),
        (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"),
        ("g;x?y#s", "http://a/b/c/g;x?y"),
        ("", "http://a/b/c/d;p?q"),
        (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"),
        ("..", "http://a/b/"),
        ("../", "http://a/b/"),
        ("../g", "http://a/b/g"),
        ("../..", "http://a/"),
        ("../../", "http://a/"),
        ("../../g", "http://a/g"),
        // §5.4.2 abnormal examples.
        ("../../../g", "http://a/g"),
        ("../../../../g", "http://a/g"),
        ("/./g", "http://a/g"),
        ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."),
        (".g", "http://a/b/c/.g"),
        ("g..", "http://a/b/c/g.."),
        ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"),
        ("./g/.", "http://a/b/c/g/"),
        ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
        ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"),
        ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g"),
        ("g#s/../x", "http://a/b/c/g"),
    ];
    for &(reference, expected) in rows {
        let joined = base
            .join(reference)
            .unwrap_or_else(|e| panic!("{reference:?}: {e}"));
        assert_eq!(joined.to_string(), expected, "{reference:?}");
        assert_eq!(Url::parse(expected), Ok(joined), "{reference:?}");
    }
    // "g:h" and the strict reading of "http:g" (§5.4.2): absolute
    // references we cannot connect to.
    assert_eq!(base.join("g:h"), Err(UNSUPPORTED));
    assert_eq!(base.join("http:g"), Err(NO_SLASHES));
}

#[test]
fn join_mcp_endpoints() {
    let rows: &[(&str, &str, &str)] = &[
        // (stream URL, `endpoint` event data, where to POST)
        (
            "http://h:1/sse",
            "/message?sessionId=abc",
            "http://h:1/message?sessionId=abc",
        ),
        ("http://h/a/sse", "message?x=1", "http://h/a/message?x=1"),
        ("http://h/a/sse", "https://other/x", "https://other/x"),
        (
            "http://localhost:8000/sse",
            "http://localhost:8000/message?sessionId=1",
            "http://localhost:8000/message?sessionId=1",
        ),
        (
            "https://h/mcp/sse",
            "//cdn.example/x",
            "https://cdn.example/x",
        ),
        (
            "http://h/sse?token=t",
            "?sessionId=2",
            "http://h/sse?sessionId=2",
        ),
        ("http://h/sse?token=t", "", "http://h/sse?token=t"),
        (
            "http://h/base/sse",
            "../message?s=1#frag",
            "http://h/message?s=1",
        ),
        ("http://h/sse", "./a:b", "http://h/a:b"),
        ("http://h/sse", "/a:b", "http://h/a:b"),
        (
            "http://[::1]:3000/sse",
            "/messages/?session_id=0f",
            "http://[::1]:3000/messages/?session_id=0f",
        ),
    ];
    for &(base, reference, expected) in rows {
        let base = Url::parse(base).unwrap();
        let joined = base
            .join(reference)
            .unwrap_or_else(|e| panic!("{reference:?}: {e}"));
        assert_eq!(joined.to_string(), expected, "{base} + {reference:?}");
        assert_eq!(Url::parse(&joined.to_string()), Ok(joined));
    }
}

#[test]
fn join_rejects() {
    let base = Url::parse("http://h/a/sse").unwrap();
    let rows: &[(&str, UrlError)] = &[
        ("g:h", UNSUPPORTED),
        ("javascript:alert(1)", UNSUPPORTED),
        ("http:g", NO_SLASHES),
        (
            "1a:b",
            UrlError::Path("':' in the first segment of a relative path (write \"./\" before it)"),
        ),
        ("a b", SPACE),
        ("/x\r\nHost: y", CONTROL),
        ("/é", NON_ASCII),
        ("\\\\evil.com/x", BACKSLASH),
        ("/x|y", NOT_ALLOWED),
        ("//user@evil/", UrlError::Userinfo),
        ("//h:0/", PORT_0),
        ("//", EMPTY_HOST),
        ("///x", EMPTY_HOST),
        ("%zz", PERCENT),
        ("?%", PERCENT),
        ("/[x]", BRACKET),
        ("x?]", BRACKET),
    ];
    for &(reference, expected) in rows {
        assert_eq!(base.join(reference), Err(expected), "{reference:?}");
    }
}

#[test]
fn join_is_parse_for_absolute_references() {
    let base = Url::parse("https://base.example/x/y").unwrap();
    for input in [
        "http://h/a/../b?c#d",
        "wss://[::1]:9/",
        "HTTP://H.example:80",
        "http://h/./",
    ] {
        assert_eq!(base.join(input), Url::parse(input), "{input:?}");
    }
}

#[test]
fn redacted_urls_keep_no_query_value() {
    let rows = [
        (
            "https://example.com/sse?api_key=SECRET",
            "https://example.com/sse?api_key=…",
        ),
        (
            "http://127.0.0.1:8000/m?a=1&b=&c&&d=x=y",
            "http://127.0.0.1:8000/m?a=…&b=…&…&&d=…",
        ),
        ("http://[::1]/?", "http://[::1]/?"),
        ("https://h/path#frag=secret", "https://h/path"),
        ("https://h", "https://h/"),
    ];
    for (input, expected) in rows {
        let url = Url::parse(input).unwrap();
        assert_eq!(url.redacted().to_string(), expected, "{input}");
        // The text form agrees with the parsed form on a parsed URL.
        assert_eq!(redact(&url.to_string()).to_string(), expected, "{input}");
        assert_eq!(format!("{:?}", url.redacted()), format!("{expected:?}"));
    }
}

#[test]
fn redacted_text_hides_userinfo_and_query_values() {
    let rows = [
        ("https://user:SECRET@host/p?k=v", "https://…@host/p?k=…"),
        (
            "https://a@b@host:8443?token=SECRET",
            "https://…@host:8443?token=…",
        ),
        ("//user:SECRET@other/x", "//…@other/x"),
        ("/message?sessionId=SECRET", "/message?sessionId=…"),
        ("rel/p?SECRET", "rel/p?…"),
        ("?SECRET=1", "?SECRET=…"),
        ("mailto:SECRET@host", "mailto:SECRET@host"),
        ("", ""),
        ("/a\nforged line?x=\r", "/a\\nforged line?x=…"),
        ("/q\"uote\\", "/q\\\"uote\\\\"),
    ];
    for (input, expected) in rows {
        let shown = redact(input).to_string();
        assert_eq!(shown, expected, "{input:?}");
        assert!(!shown.contains("SECRET=1") && !shown.contains(['\n', '\r']));
    }
}
