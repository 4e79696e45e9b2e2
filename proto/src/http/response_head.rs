//! The resumable response-head decoder and the decoded response head, for
//! the client side (the reverse bridges read remote MCP servers with them).

use core::fmt;

use super::error::HttpError;
use super::framing::{response_framing, ResponseFraming};
use super::head::{map_httparse_error, offset_in, HeadScanner, Peer};
use super::limits::Limits;
use super::request::{fields, has_token, keep_alive, HeaderSpan, Method, Version};

/// Decodes response heads, resumably and within [`Limits`].
///
/// The same contract as [`super::HeadDecoder`], and the same end-of-head
/// scan: each call scans only the bytes added since the previous call,
/// httparse runs once per head (RUSTSEC-2023-0065), and a head longer than
/// `limits.head_bytes` (leading empty lines included) is
/// [`HttpError::HeadTooLarge`] as soon as the buffer holds more than that.
/// CRLF or a bare LF ends a line; a bare CR anywhere is rejected; obs-fold
/// is rejected (httparse's response-folding option is never enabled: we
/// re-emit what upstream servers send); at most `limits.headers` fields;
/// the status is three digits, 100 to 999; the version `HTTP/1.0` or
/// `HTTP/1.1`.
///
/// A 1xx head ([`ResponseHead::is_informational`]) is followed by another
/// head: `reset` and decode again from the byte after it.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{Limits, Method, ResponseFraming, ResponseHeadDecoder};
///
/// let mut decoder = ResponseHeadDecoder::new(Limits::DEFAULT);
/// let mut buf = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n".to_vec();
/// assert_eq!(decoder.decode(&buf), Ok(None)); // need more
///
/// buf.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n5\r\n");
/// let (head, n) = decoder.decode(&buf)?.expect("complete head");
/// assert_eq!(head.status(), 200);
/// assert_eq!(head.header_str("content-type"), Some("text/event-stream"));
/// assert_eq!(head.body_framing(Method::Get)?, ResponseFraming::Chunked);
/// assert_eq!(head.body_framing(Method::Head)?, ResponseFraming::None);
/// assert_eq!(&buf[n..], b"5\r\n"); // the body starts right after the head
///
/// decoder.reset(); // ready for the next response on this connection
/// # Ok::<(), supergateway_proto::http::HttpError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ResponseHeadDecoder {
    limits: Limits,
    /// Where the end-of-head scan is.
    pub(super) scan: HeadScanner,
}

impl ResponseHeadDecoder {
    /// A decoder ready for the first response of a connection.
    #[must_use]
    pub const fn new(limits: Limits) -> Self {
        Self {
            limits,
            scan: HeadScanner::new(Peer::Response, limits.head_bytes),
        }
    }

    /// Decodes the head at the start of `buf`.
    ///
    /// `buf` holds every byte received since this head began; it grows
    /// between calls (the caller appends reads) and is the same prefix each
    /// time.
    ///
    /// - `Ok(None)`: need more bytes.
    /// - `Ok(Some((head, n)))`: the head occupied `buf[..n]`; the bytes after
    ///   `n` are the body (see [`ResponseHead::body_framing`]) or, after a
    ///   1xx, the next head. Call [`ResponseHeadDecoder::reset`] before
    ///   decoding another head.
    /// - `Err(e)`: the response is unusable; close the connection. The
    ///   decoder stays failed and returns `e` again.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
        let Some(end) = self.scan.scan(buf)? else {
            return Ok(None);
        };
        let parsed = buf
            .get(..end)
            .ok_or(HttpError::Internal("head end out of bounds"))
            .and_then(|head| self.parse(head));
        match parsed {
            Ok(head) => Ok(Some((head, end))),
            Err(e) => Err(self.scan.fail(e)),
        }
    }

    /// Makes the decoder ready for the next head on the same connection
    /// (the caller's buffer then starts at it).
    pub fn reset(&mut self) {
        self.scan.reset();
    }

    /// Parses and validates a complete head (`head` ends with its empty
    /// line).
    fn parse(&self, head: &[u8]) -> Result<ResponseHead, HttpError> {
        // As for requests: httparse bounds the header count by the slice it
        // is given, and a field line takes at least 3 bytes.
        let slots = self.limits.headers.min(head.len());
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut response = httparse::Response::new(&mut headers);
        // Default config: obs-fold is rejected (RFC 9112 §5.2; the
        // `allow_obsolete_multiline_headers_in_responses` option stays off),
        // as are spaces before the colon (RFC 9112 §5.1) and several spaces
        // between the status-line parts (RFC 9112 §4).
        match response.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(HttpError::Internal("httparse disagrees with the head scan")),
            Err(e) => return Err(map_httparse_error(e)),
        }
        let (Some(minor), Some(status)) = (response.version, response.code) else {
            return Err(HttpError::Internal(
                "httparse left a status line part unset",
            ));
        };
        let version = match minor {
            0 => Version::Http10,
            1 => Version::Http11,
            _ => return Err(HttpError::Internal("httparse returned an unknown version")),
        };
        // RFC 9110 §15: a status code is three digits, the first 1 to 5; we
        // accept 1 to 9 as a recipient may (RFC 9110 §15 "MUST ... treat an
        // unrecognized status code as ... x00"), never below 100.
        if status < 100 {
            return Err(HttpError::BadRequest("status code below 100"));
        }

        // The copy starts at the status line: leading empty lines go. The
        // scan has checked that every CR among them is followed by LF, and
        // a status line starts with `H`.
        let leading = head
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let base = head.get(leading..).unwrap_or_default();
        let mut spans = Vec::with_capacity(response.headers.len());
        for header in response.headers.iter() {
            spans.push(HeaderSpan {
                name: offset_in(base, header.name.as_bytes())?,
                value: offset_in(base, header.value)?,
            });
        }
        Ok(ResponseHead {
            bytes: base.into(),
            status,
            version,
            headers: spans.into_boxed_slice(),
        })
    }
}

/// A decoded response head.
///
/// Like [`super::RequestHead`], one copy of the head bytes plus an index of
/// ranges into them. Produced only by [`ResponseHeadDecoder`]: the status
/// line and every field line are well-formed. The framing header fields are
/// checked by [`ResponseHead::body_framing`], which needs the request
/// method.
///
/// `Debug` prints the status, version and header names, never header
/// values, which may carry credentials or session ids.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The head from the first byte of the status line through the empty
    /// line that ends it (leading empty lines dropped). Every span below
    /// lies inside it. Never forwarded raw.
    bytes: Box<[u8]>,
    /// 100..=999.
    status: u16,
    version: Version,
    /// Every header line, in order.
    headers: Box<[HeaderSpan]>,
}

impl ResponseHead {
    /// The status code, 100 to 999.
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The HTTP version.
    #[must_use]
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The first value of header `name` (ASCII case-insensitive), with the
    /// OWS around it trimmed.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Like [`ResponseHead::header`], but `None` as well when the value is
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

    /// Whether the connection may carry another request after this
    /// response (RFC 9112 §9.3): on HTTP/1.1 unless `Connection` has the
    /// token `close`; on HTTP/1.0 only when it has `keep-alive` (and not
    /// `close`).
    ///
    /// The body framing matters too: after a
    /// [`ResponseFraming::UntilClose`] body, or a body not read to its end,
    /// the connection cannot be reused whatever this says.
    #[must_use]
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, |token| {
            has_token(self.header_values("connection"), token)
        })
    }

    /// Whether this is an interim 1xx response (RFC 9110 §15.2): no body,
    /// and the final response follows. Skip it and decode the next head.
    ///
    /// `101 Switching Protocols` is 1xx too, but after it the connection no
    /// longer speaks HTTP: a caller that did not ask for an upgrade must
    /// treat a 101 as an error, not skip it.
    #[must_use]
    pub const fn is_informational(&self) -> bool {
        self.status >= 100 && self.status < 200
    }

    /// How the body that follows this head is delimited, for the response to
    /// a request with `method` (RFC 9112 §6.3):
    ///
    /// - a response to HEAD, any 1xx, 204 and 304: [`ResponseFraming::None`];
    /// - `Transfer-Encoding: chunked` exactly (case-insensitive):
    ///   [`ResponseFraming::Chunked`];
    /// - any other transfer coding whose final coding is not `chunked`
    ///   (`gzip`, `identity`): [`ResponseFraming::UntilClose`];
    /// - one valid Content-Length: [`ResponseFraming::Length`];
    /// - neither: [`ResponseFraming::UntilClose`].
    ///
    /// The framing header fields follow the server's rules for requests, the
    /// same function checks both (STYLE.md item 10): Content-Length with
    /// Transfer-Encoding, several Content-Length or Transfer-Encoding lines,
    /// a Content-Length that is not all digits, an empty Transfer-Encoding
    /// and a Transfer-Encoding on HTTP/1.0 are [`HttpError::BadRequest`],
    /// even on a response that has no body. A coding list ending in
    /// `chunked` other than `chunked` alone (`gzip, chunked`) is
    /// [`HttpError::NotImplemented`]: we cannot undo the other codings, and
    /// reading it to close would take the chunk framing for payload.
    pub fn body_framing(&self, method: Method) -> Result<ResponseFraming, HttpError> {
        response_framing(method, self.status, self.version, self.headers())
    }
}

impl fmt::Debug for ResponseHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Names<'a>(&'a ResponseHead);
        impl fmt::Debug for Names<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.headers().map(|(n, _)| n))
                    .finish()
            }
        }
        f.debug_struct("ResponseHead")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("headers", &Names(self))
            .finish_non_exhaustive()
    }
}
