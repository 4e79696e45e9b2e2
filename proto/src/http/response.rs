//! Writing response heads, and validated header names and values for
//! outbound use (shared with the request-head writer).

use core::fmt;

use super::body::{is_tchar, push_decimal};
use super::error::HttpError;
use super::request::trim_ows;

/// Writes an HTTP/1.1 response head into a caller-owned buffer.
///
/// Every header name and value is validated as it is written (a token name;
/// a value without CR, LF, NUL or other controls, RUSTSEC-2024-0009). The
/// first invalid one is recorded, later calls are ignored, and
/// [`ResponseHeadWriter::finish`] then truncates `out` back to where this
/// head began and returns the error: a head is written whole or not at all.
/// Writing Content-Length twice, or with Transfer-Encoding, is recorded as
/// an [`HttpError::Internal`] error too (it would frame the response
/// ambiguously).
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{HttpError, ResponseHeadWriter};
///
/// let mut out = Vec::new();
/// let mut head = ResponseHeadWriter::new(&mut out, 200);
/// head.header("Content-Type", b"application/json").content_length(2);
/// head.finish()?;
/// out.extend_from_slice(b"{}");
/// assert_eq!(
///     out,
///     b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\r\n{}"
/// );
///
/// let mut head = ResponseHeadWriter::new(&mut out, 200);
/// head.header("X-Injected", b"a\r\nSet-Cookie: b");
/// assert!(matches!(head.finish(), Err(HttpError::InvalidHeader(_))));
/// assert!(out.ends_with(b"{}")); // nothing of the bad head was left behind
/// # Ok::<(), HttpError>(())
/// ```
#[derive(Debug)]
pub struct ResponseHeadWriter<'a> {
    fields: FieldWriter<'a>,
}

impl<'a> ResponseHeadWriter<'a> {
    /// Starts a head: writes `HTTP/1.1 {status} {reason}\r\n`, the reason
    /// from [`reason_phrase`]. A `status` outside 100..=999 is recorded as
    /// an [`HttpError::Internal`] error (RFC 9110 §15: three digits).
    pub fn new(out: &'a mut Vec<u8>, status: u16) -> Self {
        let mut fields = FieldWriter::new(out);
        if (100..=999).contains(&status) {
            let out = fields.out_mut();
            out.extend_from_slice(b"HTTP/1.1 ");
            push_decimal(out, u64::from(status));
            out.push(b' ');
            out.extend_from_slice(reason_phrase(status).as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            fields.fail(HttpError::Internal("status code outside 100..=999"));
        }
        Self { fields }
    }

    /// Writes `name: value\r\n`, name and value as given, after
    /// validating both (see the type documentation).
    pub fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.fields.header(name, value);
        self
    }

    /// Writes `content-length: {n}\r\n`, without allocating.
    pub fn content_length(&mut self, n: u64) -> &mut Self {
        self.fields.content_length(n);
        self
    }

    /// Ends the head with the empty line. On a recorded error, truncates
    /// `out` back to where this head began and returns the error.
    pub fn finish(self) -> Result<(), HttpError> {
        self.fields.finish()
    }
}

/// The field-line half of a head writer, shared by [`ResponseHeadWriter`]
/// and [`super::RequestHeadWriter`]: one validation of names and values and
/// one framing-conflict rule for both directions.
#[derive(Debug)]
pub(super) struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
    /// `out.len()` when this head began: `finish` truncates back to it on
    /// error.
    start: usize,
    /// The first error recorded; once set, nothing more is written.
    error: Option<HttpError>,
    /// Whether a Content-Length line has been written.
    content_length: bool,
    /// Whether a Transfer-Encoding line has been written.
    transfer_encoding: bool,
}

impl<'a> FieldWriter<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Self {
            out,
            start,
            error: None,
            content_length: false,
            transfer_encoding: false,
        }
    }

    /// The buffer, for the start line.
    pub(super) fn out_mut(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Records `e` unless an error is recorded already.
    pub(super) fn fail(&mut self, e: HttpError) {
        self.error = self.error.or(Some(e));
    }

    /// Whether an error has been recorded.
    pub(super) const fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Writes `name: value\r\n` after validating both.
    pub(super) fn header(&mut self, name: &str, value: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = check_name(name).and_then(|()| check_value(value)) {
            self.error = Some(e);
            return;
        }
        if name.eq_ignore_ascii_case("content-length") {
            self.note_content_length();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.note_transfer_encoding();
        }
        if self.error.is_none() {
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(value);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Writes `content-length: {n}\r\n`, without allocating.
    pub(super) fn content_length(&mut self, n: u64) {
        if self.error.is_some() {
            return;
        }
        self.note_content_length();
        if self.error.is_none() {
            self.out.extend_from_slice(b"content-length: ");
            push_decimal(self.out, n);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Ends the head with the empty line, or truncates `out` back to where
    /// the head began and returns the recorded error.
    pub(super) fn finish(self) -> Result<(), HttpError> {
        match self.error {
            Some(e) => {
                self.out.truncate(self.start);
                Err(e)
            }
            None => {
                self.out.extend_from_slice(b"\r\n");
                Ok(())
            }
        }
    }

    // RFC 9112 §6.3: one Content-Length, never with Transfer-Encoding;
    // the same smuggling rules we hold received messages to.
    fn note_content_length(&mut self) {
        if self.content_length || self.transfer_encoding {
            self.fail(HttpError::Internal("conflicting framing headers"));
        }
        self.content_length = true;
    }

    fn note_transfer_encoding(&mut self) {
        if self.content_length || self.transfer_encoding {
            self.fail(HttpError::Internal("conflicting framing headers"));
        }
        self.transfer_encoding = true;
    }
}

/// The reason phrase for `status` (RFC 9110 §15); `""` for codes it does
/// not name, which is valid (RFC 9112 §4: the reason is optional).
#[must_use]
pub const fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// A header name checked to be an RFC 9110 §5.1 token (non-empty `tchar`s),
/// for names configured by users (`--header "K: V"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderName(String);

impl HeaderName {
    /// Checks `s` and keeps it as given (case preserved).
    ///
    /// # Errors
    ///
    /// [`HttpError::InvalidHeader`] when `s` is empty or holds a byte that
    /// is not a `tchar` (space, `:`, controls, non-ASCII...).
    pub fn new(s: &str) -> Result<Self, HttpError> {
        check_name(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this names a field that frames the message or belongs to the
    /// connection (RFC 9110 §7.6.1, RFC 9112 §6): Content-Length,
    /// Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE,
    /// Trailer, Upgrade. The binary sets these itself; a user-configured
    /// one would break framing, so callers should refuse it.
    #[must_use]
    pub fn is_connection_level(&self) -> bool {
        const NAMES: [&str; 8] = [
            "connection",
            "content-length",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
        ];
        NAMES.iter().any(|n| n.eq_ignore_ascii_case(&self.0))
    }

    /// Why a user may not configure this header (`--header`,
    /// `--oauth2Bearer`'s name, runtime headers), or `None` when they may.
    /// The caller refuses it with this reason: it is never sent twice, and
    /// never replaces one the gateway sets.
    ///
    /// - framing and hop-by-hop fields ([`HeaderName::is_connection_level`]
    ///   and every `Proxy-*`): a configured one would desynchronise the peer
    ///   or a proxy between;
    /// - `Host` (which server a request is for) and `Set-Cookie` (the
    ///   gateway sets no cookie; one configured would be replayed to every
    ///   client of a shared gateway);
    /// - the fields the gateway itself writes on some response or outbound
    ///   request: `Content-Type`, `Accept`, `Cache-Control`,
    ///   `X-Accel-Buffering`, `Allow`, `Vary`, every `Access-Control-*`
    ///   (CORS), `Mcp-Session-Id`, `Mcp-Protocol-Version`, `Last-Event-ID`,
    ///   every `Sec-WebSocket-*`, `Traceparent` and `Tracestate`.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::http::HeaderName;
    ///
    /// let name = |s| HeaderName::new(s).unwrap();
    /// assert!(name("set-cookie").reserved().is_some());
    /// assert!(name("Mcp-Session-Id").reserved().is_some());
    /// assert!(name("Proxy-Authorization").reserved().is_some());
    /// assert_eq!(name("Authorization").reserved(), None);
    /// ```
    #[must_use]
    pub fn reserved(&self) -> Option<&'static str> {
        const GATEWAY: [&str; 11] = [
            "accept",
            "allow",
            "cache-control",
            "content-type",
            "last-event-id",
            "mcp-protocol-version",
            "mcp-session-id",
            "traceparent",
            "tracestate",
            "vary",
            "x-accel-buffering",
        ];
        const GATEWAY_PREFIXES: [&str; 2] = ["access-control-", "sec-websocket-"];
        let name = self.0.as_str();
        let has_prefix = |prefix: &str| {
            name.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        };
        if self.is_connection_level() || has_prefix("proxy-") {
            Some("it frames the message or belongs to one connection (hop-by-hop)")
        } else if name.eq_ignore_ascii_case("host") {
            Some("the gateway names the server a request is for itself")
        } else if name.eq_ignore_ascii_case("set-cookie") {
            Some("the gateway sets no cookies")
        } else if GATEWAY.iter().any(|n| n.eq_ignore_ascii_case(name))
            || GATEWAY_PREFIXES.iter().any(|p| has_prefix(p))
        {
            Some("the gateway sets it itself")
        } else {
            None
        }
    }
}

/// A header value checked to hold no CR, LF, NUL or other control byte
/// except HTAB (RFC 9110 §5.5; RUSTSEC-2024-0009).
///
/// `Debug` shows only the length: values configured by users are often
/// credentials (`Authorization`).
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderValue(Vec<u8>);

impl HeaderValue {
    /// Checks `v` and keeps it as given.
    ///
    /// # Errors
    ///
    /// [`HttpError::InvalidHeader`] when `v` holds CR, LF, NUL or another
    /// control byte but HTAB (DEL and bytes ≥ 0x80 are kept).
    pub fn new(v: &[u8]) -> Result<Self, HttpError> {
        check_value(v)?;
        Ok(Self(v.to_vec()))
    }

    /// The value.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderValue(<{} bytes>)", self.0.len())
    }
}

/// Parses `Name: value` (as given to `--header`) into a validated pair. The
/// name is everything before the first `:` and must be a token as is (no
/// whitespace before the colon, RFC 9112 §5.1); the value is the rest with
/// the OWS around it trimmed.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::parse_header_line;
///
/// let (name, value) = parse_header_line("Authorization:  Bearer t0k3n ")?;
/// assert_eq!(name.as_str(), "Authorization");
/// assert_eq!(value.as_bytes(), b"Bearer t0k3n");
/// assert!(parse_header_line("X-Evil: a\nb").is_err());
/// # Ok::<(), supergateway_proto::http::HttpError>(())
/// ```
pub fn parse_header_line(s: &str) -> Result<(HeaderName, HeaderValue), HttpError> {
    let (name, value) = s
        .split_once(':')
        .ok_or(HttpError::InvalidHeader("expected \"Name: value\""))?;
    Ok((
        HeaderName::new(name)?,
        HeaderValue::new(trim_ows(value.as_bytes()))?,
    ))
}

/// RFC 9110 §5.1: `field-name = token`.
fn check_name(name: &str) -> Result<(), HttpError> {
    if name.is_empty() {
        return Err(HttpError::InvalidHeader("empty header name"));
    }
    if !name.bytes().all(is_tchar) {
        return Err(HttpError::InvalidHeader("header name is not a token"));
    }
    Ok(())
}

/// RFC 9110 §5.5: CR, LF and NUL in a field value are "invalid and
/// dangerous" (header injection, RUSTSEC-2024-0009); we refuse every other
/// control byte but HTAB as well.
fn check_value(value: &[u8]) -> Result<(), HttpError> {
    for &b in value {
        match b {
            b'\r' => return Err(HttpError::InvalidHeader("CR in header value")),
            b'\n' => return Err(HttpError::InvalidHeader("LF in header value")),
            0 => return Err(HttpError::InvalidHeader("NUL in header value")),
            b'\t' | b' '..=b'~' | 0x80..=0xff => {}
            _ => {
                return Err(HttpError::InvalidHeader(
                    "control character in header value",
                ))
            }
        }
    }
    Ok(())
}
