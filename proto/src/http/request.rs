//! A decoded request head and what it says.

use core::fmt;

use super::framing::BodyFraming;

/// A request method (RFC 9110 §9). Methods are case-sensitive
/// (RFC 9110 §9.1): `get` is [`Method::Other`], not [`Method::Get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `DELETE`
    Delete,
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// Any other valid token; see [`RequestHead::method_str`].
    Other,
}

impl Method {
    /// The method named by `token` (exact, case-sensitive match).
    pub(super) fn from_token(token: &str) -> Self {
        match token {
            "DELETE" => Self::Delete,
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            "PATCH" => Self::Patch,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            _ => Self::Other,
        }
    }
}

/// The HTTP version of a request or response. Only HTTP/1.0 and HTTP/1.1 are accepted
/// (anything else is `HttpError::BadRequest`, see [`super::HttpError::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// A byte range of the bytes of a [`RequestHead`] or
/// [`super::ResponseHead`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// A header line as two ranges of the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HeaderSpan {
    pub(super) name: Span,
    /// The value, with the OWS around it already trimmed.
    pub(super) value: Span,
}

/// A validated request head.
///
/// Owns one copy of the head bytes plus an index of ranges into them, so a
/// head costs two allocations however many fields it has. Produced only by
/// [`super::HeadDecoder`], after every rule of the module documentation has
/// passed: the framing is decided, Host is valid, the target is origin-form.
///
/// `Debug` prints the method, path, version, header names and framing, never
/// header values or the query, which may carry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The head from the first byte of the request line through the empty
    /// line that ends it (leading empty lines dropped). Every `Span` below
    /// lies inside it. Never forwarded raw.
    pub(super) bytes: Box<[u8]>,
    pub(super) method: Method,
    /// The method token.
    pub(super) method_token: Span,
    pub(super) version: Version,
    /// The origin-form target (or `*`); `None` means `/` (absolute-form
    /// with an empty path).
    pub(super) target: Option<Span>,
    /// The Host value, or the absolute-form authority of an HTTP/1.0
    /// request without Host; `None` means no host (HTTP/1.0 only).
    pub(super) host: Option<Span>,
    /// Every header line, in order.
    pub(super) headers: Box<[HeaderSpan]>,
    pub(super) framing: BodyFraming,
}

impl RequestHead {
    /// The method.
    #[must_use]
    pub const fn method(&self) -> Method {
        self.method
    }

    /// The method token as sent, e.g. `"GET"` or `"PROPFIND"`.
    #[must_use]
    pub fn method_str(&self) -> &str {
        self.text(self.method_token)
    }

    /// The HTTP version.
    #[must_use]
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The target in origin-form, `path?query` (or `*` for
    /// `OPTIONS *`). An absolute-form target has already been checked
    /// against Host and reduced to this form.
    #[must_use]
    pub fn target(&self) -> &str {
        match self.target {
            Some(span) => self.text(span),
            None => "/",
        }
    }

    /// The target before the first `?`, still percent-encoded.
    #[must_use]
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The target after the first `?`, still percent-encoded; `Some("")`
    /// for a bare `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// The first value of parameter `name` in the query
    /// (`application/x-www-form-urlencoded`: `&`-separated `name=value`
    /// pairs, `+` is a space), percent-decoded.
    ///
    /// `None` when the parameter is absent, or when its first value is not
    /// valid percent-encoding or not UTF-8 once decoded. A parameter without
    /// `=` has the value `""`.
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // A key that does not decode cannot equal `name`: skip it.
            if form_decode(key).as_deref() == Some(name) {
                return form_decode(value);
            }
        }
        None
    }

    /// How many times parameter `name` appears in the query, compared after
    /// percent-decoding as [`RequestHead::query_param`] does (so
    /// `session%49d` counts as `sessionId`). A caller that reads one value
    /// refuses more than one: first-wins and last-wins parsers would pick
    /// different ones.
    #[must_use]
    pub fn query_param_count(&self, name: &str) -> usize {
        self.query().map_or(0, |query| {
            query
                .split('&')
                .filter(|pair| {
                    let key = pair.split_once('=').map_or(*pair, |(key, _)| key);
                    form_decode(key).as_deref() == Some(name)
                })
                .count()
        })
    }

    /// The first value of header `name` (ASCII case-insensitive), with the
    /// OWS around it trimmed.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Like [`RequestHead::header`], but `None` as well when the value is
    /// not UTF-8.
    #[must_use]
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Every value of header `name` (ASCII case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header as `(name, value)`, in order, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        fields(&self.bytes, &self.headers)
    }

    /// The host the request is for: the validated Host value (which equals
    /// the authority of an absolute-form target), or that authority for an
    /// HTTP/1.0 request without Host; `""` for HTTP/1.0 with neither.
    #[must_use]
    pub fn host(&self) -> &str {
        self.host.map_or("", |span| self.text(span))
    }

    /// How the body that follows this head is delimited.
    #[must_use]
    pub const fn body_framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the connection may carry another request after this one
    /// (RFC 9112 §9.3): on HTTP/1.1 unless `Connection` has the token
    /// `close`; on HTTP/1.0 only when it has `keep-alive` (and not `close`).
    #[must_use]
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, |token| self.has_token("connection", token))
    }

    /// Whether the client sent `Expect: 100-continue` (case-insensitive) and
    /// waits for a `100 Continue` before sending the body. Always `false` on
    /// HTTP/1.0, which must ignore it (RFC 9110 §10.1.1).
    #[must_use]
    pub fn expect_continue(&self) -> bool {
        self.version == Version::Http11
            && self
                .header_values("expect")
                .any(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }

    /// Whether this is a WebSocket opening handshake (RFC 6455 §4.2.1): an
    /// HTTP/1.1 `GET` whose `Connection` has the token `upgrade` and whose
    /// `Upgrade` has the token `websocket` (both case-insensitive). HTTP/1.0
    /// is excluded: a server must ignore Upgrade there (RFC 9110 §7.8).
    #[must_use]
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == Method::Get
            && self.version == Version::Http11
            && self.has_token("connection", "upgrade")
            && self.has_token("upgrade", "websocket")
    }

    /// Whether any `name` line, read as a comma-separated list
    /// (RFC 9110 §5.6.1), has an element equal to `token`
    /// (case-insensitive).
    fn has_token(&self, name: &str, token: &str) -> bool {
        has_token(self.header_values(name), token)
    }

    /// A span the decoder checked to be ASCII (method, target, Host).
    fn text(&self, span: Span) -> &str {
        text(&self.bytes, span)
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Names<'a>(&'a RequestHead);
        impl fmt::Debug for Names<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.headers().map(|(n, _)| n))
                    .finish()
            }
        }
        f.debug_struct("RequestHead")
            .field("method", &self.method_str())
            .field("path", &self.path())
            .field("version", &self.version)
            .field("headers", &Names(self))
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

// ------------------------------------------------------------------------
// Header-index helpers shared with `ResponseHead` (one copy of each rule).

/// Every header of a head as `(name, value)`, in order: `bytes` is the
/// head, `headers` its index.
pub(super) fn fields<'a>(
    bytes: &'a [u8],
    headers: &'a [HeaderSpan],
) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
    headers
        .iter()
        .map(move |h| (text(bytes, h.name), slice(bytes, h.value)))
}

/// Whether the connection may carry another message (RFC 9112 §9.3):
/// on HTTP/1.1 unless `Connection` has the token `close`; on HTTP/1.0 only
/// when it has `keep-alive` (and not `close`). `connection_has` tells
/// whether `Connection` has a token.
pub(super) fn keep_alive(version: Version, connection_has: impl Fn(&str) -> bool) -> bool {
    let close = connection_has("close");
    match version {
        Version::Http11 => !close,
        Version::Http10 => !close && connection_has("keep-alive"),
    }
}

/// Whether any of `values`, read as a comma-separated list
/// (RFC 9110 §5.6.1), has an element equal to `token` (case-insensitive).
pub(super) fn has_token<'a>(mut values: impl Iterator<Item = &'a [u8]>, token: &str) -> bool {
    values.any(|value| {
        value
            .split(|&b| b == b',')
            .any(|element| trim_ows(element).eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The bytes of `span`; empty if it lies outside `bytes`, which the
/// decoders never let happen.
pub(super) fn slice(bytes: &[u8], span: Span) -> &[u8] {
    bytes.get(span.start..span.end).unwrap_or_default()
}

/// A span the decoder checked to be ASCII (names, tokens); `""` otherwise,
/// which cannot happen.
pub(super) fn text(bytes: &[u8], span: Span) -> &str {
    core::str::from_utf8(slice(bytes, span)).unwrap_or_default()
}

/// Trims optional whitespace (SP, HTAB; RFC 9110 §5.6.3) on both sides.
pub(super) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XY` is a byte; `None` on a malformed escape or non-UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = char::from(bytes.next()?).to_digit(16)?;
                let low = char::from(bytes.next()?).to_digit(16)?;
                // Two hex digits: at most 0xff, so `try_from` cannot fail.
                let byte = high.checked_mul(16).and_then(|h| h.checked_add(low))?;
                out.push(u8::try_from(byte).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}
