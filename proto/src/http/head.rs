//! The resumable request-head decoder, and the end-of-head scan it shares
//! with the response-head decoder.

use super::error::HttpError;
use super::framing::request_framing;
use super::limits::Limits;
use super::reader::Reader;
use super::request::{HeaderSpan, Method, RequestHead, Span, Version};
use super::target::{check_target, is_valid_host};

/// Decodes request heads, resumably and within [`Limits`].
///
/// Each call scans only the bytes added since the previous call for the end
/// of the head (an empty line); httparse runs once, when the end has been
/// found, so a head trickled in one byte at a time costs linear time
/// (RUSTSEC-2023-0065). The scan stops at `limits.head_bytes`: the caller
/// never needs to buffer more than that plus one read.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{BodyFraming, HeadDecoder, Limits, Method};
///
/// let mut decoder = HeadDecoder::new(Limits::DEFAULT);
/// let mut buf = b"POST /message?sessionId=abc HTTP/1.1\r\nHost: localhost\r\n".to_vec();
/// assert_eq!(decoder.decode(&buf), Ok(None)); // need more
///
/// buf.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
/// let (head, n) = decoder.decode(&buf)?.expect("complete head");
/// assert_eq!(head.method(), Method::Post);
/// assert_eq!(head.path(), "/message");
/// assert_eq!(head.query_param("sessionId").as_deref(), Some("abc"));
/// assert_eq!(head.body_framing(), BodyFraming::Length(2));
/// assert_eq!(&buf[n..], b"{}"); // the body starts right after the head
///
/// decoder.reset(); // ready for the next request on this connection
/// # Ok::<(), supergateway_proto::http::HttpError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeadDecoder {
    limits: Limits,
    /// Where the end-of-head scan is.
    pub(super) scan: HeadScanner,
    /// Times httparse ran over this decoder's life.
    #[cfg(test)]
    pub(super) parse_count: usize,
}

impl HeadDecoder {
    /// A decoder ready for the first request of a connection.
    #[must_use]
    pub const fn new(limits: Limits) -> Self {
        Self {
            limits,
            scan: HeadScanner::new(Peer::Request, limits.head_bytes),
            #[cfg(test)]
            parse_count: 0,
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
    ///   `n` are the body or the next request. Call [`HeadDecoder::reset`]
    ///   before decoding another head.
    /// - `Err(e)`: answer `e.status()` and close the connection. The decoder
    ///   stays failed and returns `e` again.
    ///
    /// Leading empty lines (CRLF) before the request line are skipped
    /// (RFC 9112 §2.2) and count against `limits.head_bytes`. As soon as
    /// `buf` is longer than `limits.head_bytes` without a complete head the
    /// result is [`HttpError::HeadTooLarge`] ([`HttpError::TargetTooLong`]
    /// when the limit is hit inside the request-target).
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HttpError> {
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

    /// Makes the decoder ready for the next request on the same connection
    /// (the caller's buffer then starts at that request).
    pub fn reset(&mut self) {
        self.scan.reset();
    }

    /// Parses and validates a complete head (`head` ends with its empty
    /// line).
    fn parse(&mut self, head: &[u8]) -> Result<RequestHead, HttpError> {
        #[cfg(test)]
        {
            self.parse_count = self.parse_count.saturating_add(1);
        }
        // httparse bounds the header count only by the slice it is given
        // (STYLE.md pitfalls). A header line takes at least 3 bytes, so more
        // slots than head bytes are never used; capping by the length keeps a
        // huge configured limit from allocating a huge array.
        let slots = self.limits.headers.min(head.len());
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut request = httparse::Request::new(&mut headers);
        // Default config: obs-fold is rejected (RFC 9112 §5.2), as are
        // spaces before the colon (RFC 9112 §5.1) and multiple spaces in the
        // request line (RFC 9112 §3).
        match request.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(HttpError::Internal("httparse disagrees with the head scan")),
            Err(e) => return Err(map_httparse_error(e)),
        }
        let (Some(method), Some(target), Some(minor)) =
            (request.method, request.path, request.version)
        else {
            return Err(HttpError::Internal(
                "httparse left a request line part unset",
            ));
        };
        let version = match minor {
            0 => Version::Http10,
            1 => Version::Http11,
            _ => return Err(HttpError::Internal("httparse returned an unknown version")),
        };
        let method_kind = Method::from_token(method);
        let parts = check_target(method_kind, target.as_bytes(), &self.limits)?;

        // The copy starts at the request line: leading empty lines go.
        let base_offset = offset_in(head, method.as_bytes())?.start;
        let base = head.get(base_offset..).unwrap_or_default();
        let target_span = offset_in(base, target.as_bytes())?;
        let in_target = |(start, end): (usize, usize)| -> Result<Span, HttpError> {
            let start = target_span.start.checked_add(start);
            let end = target_span.start.checked_add(end);
            match (start, end) {
                (Some(start), Some(end)) => Ok(Span { start, end }),
                _ => Err(HttpError::Internal("target range overflow")),
            }
        };

        let mut spans = Vec::with_capacity(request.headers.len());
        let mut host: Option<Span> = None;
        let mut hosts = 0_usize;
        for header in request.headers.iter() {
            let name = offset_in(base, header.name.as_bytes())?;
            let value = offset_in(base, header.value)?;
            if header.name.eq_ignore_ascii_case("host") {
                hosts = hosts.saturating_add(1);
                host = host.or(Some(value));
                // RFC 9112 §3.2: 400 for an invalid Host value.
                if !is_valid_host(header.value) {
                    return Err(HttpError::BadRequest("invalid Host"));
                }
            }
            spans.push(HeaderSpan { name, value });
        }
        // RFC 9112 §3.2: 400 for more than one Host line, and for an HTTP/1.1
        // request without Host.
        if hosts > 1 {
            return Err(HttpError::BadRequest("more than one Host header"));
        }
        if version == Version::Http11 && host.is_none() {
            return Err(HttpError::BadRequest("missing Host in an HTTP/1.1 request"));
        }
        if let Some(authority) = parts.authority {
            let authority = in_target(authority)?;
            match host {
                // RFC 9112 §3.2.2 lets the target's authority override Host;
                // we require them to agree instead, so that nothing
                // downstream can look at the "other" host (trillium).
                Some(host) => {
                    let same = base
                        .get(host.start..host.end)
                        .zip(base.get(authority.start..authority.end));
                    if !same.is_some_and(|(h, a)| h.eq_ignore_ascii_case(a)) {
                        return Err(HttpError::BadRequest(
                            "absolute-form authority differs from Host",
                        ));
                    }
                }
                // HTTP/1.0 without Host: the authority is the host.
                None => host = Some(authority),
            }
        }
        let target = parts.origin.map(in_target).transpose()?;
        let framing = request_framing(version, request.headers.iter().map(|h| (h.name, h.value)))?;

        Ok(RequestHead {
            bytes: base.into(),
            method: method_kind,
            method_token: offset_in(base, method.as_bytes())?,
            version,
            target,
            host,
            headers: spans.into_boxed_slice(),
            framing,
        })
    }
}

/// Which kind of head a scan is for: it picks the error contexts, and only
/// a request line can be too long a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Peer {
    /// A request head, read by the server.
    Request,
    /// A response head, read by the client.
    Response,
}

impl Peer {
    const fn bare_cr(self) -> HttpError {
        HttpError::BadRequest(match self {
            Self::Request => "bare CR in request head",
            Self::Response => "bare CR in response head",
        })
    }

    const fn bare_lf(self) -> HttpError {
        HttpError::BadRequest(match self {
            Self::Request => "bare LF in request head",
            Self::Response => "bare LF in response head",
        })
    }

    const fn after_complete(self) -> HttpError {
        HttpError::Internal(match self {
            Self::Request => "HeadDecoder::decode after a complete head",
            Self::Response => "ResponseHeadDecoder::decode after a complete head",
        })
    }

    const fn shorter_buffer(self) -> HttpError {
        HttpError::Internal(match self {
            Self::Request => "HeadDecoder::decode given a shorter buffer",
            Self::Response => "ResponseHeadDecoder::decode given a shorter buffer",
        })
    }
}

/// The end-of-head scan shared by [`HeadDecoder`] and
/// [`super::ResponseHeadDecoder`]: one line grammar and one size rule for
/// both directions (STYLE.md item 10).
///
/// Each call scans only the bytes added since the previous one, and stops
/// at `head_bytes`.
#[derive(Clone, Debug)]
pub(super) struct HeadScanner {
    peer: Peer,
    /// `Limits::head_bytes`.
    head_bytes: usize,
    state: HeadState,
    /// `buf[..scanned]` has been scanned for the end of the head and is never
    /// scanned again. Invariant: `scanned <= head_bytes`.
    scanned: usize,
    /// Bytes examined by the end-of-head scan over this scanner's life.
    #[cfg(test)]
    pub(super) scan_count: usize,
}

impl HeadScanner {
    pub(super) const fn new(peer: Peer, head_bytes: usize) -> Self {
        Self {
            peer,
            head_bytes,
            state: HeadState::Scan(Scan::Leading),
            scanned: 0,
            #[cfg(test)]
            scan_count: 0,
        }
    }

    /// Ready for the next head (the caller's buffer then starts at it).
    pub(super) fn reset(&mut self) {
        self.state = HeadState::Scan(Scan::Leading);
        self.scanned = 0;
    }

    /// Looks for the end of the head at the start of `buf` (the same
    /// growing prefix each call): `Ok(Some(end))` when the head is
    /// `buf[..end]`, after which the scanner waits for `reset`; `Ok(None)`
    /// for need more. Errors are terminal and returned again.
    pub(super) fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HttpError> {
        let scan = match self.state {
            HeadState::Scan(scan) => scan,
            HeadState::Done => return Err(self.peer.after_complete()),
            HeadState::Failed(e) => return Err(e),
        };
        let result = self.handle_bytes(scan, buf);
        match result {
            Ok(Some(_)) => self.state = HeadState::Done,
            Ok(None) => {}
            Err(e) => self.state = HeadState::Failed(e),
        }
        result
    }

    /// Records that the head found by `scan` is invalid: the scanner stays
    /// failed with `e`, which is returned for convenience.
    pub(super) fn fail(&mut self, e: HttpError) -> HttpError {
        self.state = HeadState::Failed(e);
        e
    }

    fn handle_bytes(&mut self, mut scan: Scan, buf: &[u8]) -> Result<Option<usize>, HttpError> {
        let window_end = buf.len().min(self.head_bytes);
        let Some(new) = buf.get(self.scanned..window_end) else {
            return Err(self.peer.shorter_buffer());
        };
        let mut reader = Reader::new(new);
        let end = loop {
            let at = self.scanned.saturating_add(reader.used());
            match scan.advance(&mut reader, at, self.peer)? {
                Step::Continue(next) => scan = next,
                Step::NeedMore(next) => {
                    scan = next;
                    break None;
                }
                Step::End => break Some(self.scanned.saturating_add(reader.used())),
            }
        };
        #[cfg(test)]
        {
            self.scan_count = self.scan_count.saturating_add(reader.used());
        }
        if end.is_some() {
            return Ok(end);
        }
        self.state = HeadState::Scan(scan);
        self.scanned = window_end;
        if buf.len() > self.head_bytes {
            let limited = buf.get(..window_end).unwrap_or_default();
            return Err(self.overflow_error(scan, limited));
        }
        Ok(None)
    }

    /// The error for a head that did not end within `head_bytes`: 414 when
    /// the limit was hit inside a request-target (the target is longer than
    /// we are willing to read, RFC 9110 §15.5.15), else 431 (hyper
    /// distinguishes `UriTooLong` from `TooLarge` the same way).
    fn overflow_error(&self, scan: Scan, limited: &[u8]) -> HttpError {
        let (Peer::Request, Scan::RequestLine { start }) = (self.peer, scan) else {
            return HttpError::HeadTooLarge;
        };
        // Inside the target: exactly one SP so far (after the method).
        let line = limited.get(start..).unwrap_or_default();
        if line.iter().filter(|&&b| b == b' ').count() == 1 {
            HttpError::TargetTooLong
        } else {
            HttpError::HeadTooLarge
        }
    }
}

/// Where a scan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadState {
    /// Looking for the end of the head.
    Scan(Scan),
    /// A head was returned; waiting for `reset`.
    Done,
    /// Terminal: this error is returned again.
    Failed(HttpError),
}

/// Position of the end-of-head scan in the line grammar, named for what
/// comes next.
///
/// Line endings: only CRLF ends a line, in the head as in chunked framing
/// (RFC 9112 §2.2 gives CRLF). A bare LF or a bare CR is rejected wherever
/// it appears. RFC 9112 §2.2 would let a recipient accept a bare LF, and
/// httparse does, but a proxy in front that does not (it may keep the LF
/// inside a field value and forward it) would see one header where we see
/// two, which is how a `Transfer-Encoding` or `Content-Length` gets
/// smuggled past it; no HTTP library sends a bare LF, so refusing costs
/// nothing (SECURITY.md "Bare LF / bare CR").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// The start of a line before the request or status line; an empty
    /// line here is skipped (RFC 9112 §2.2).
    Leading,
    /// A CR at the start of a leading line: LF must follow.
    LeadingLf,
    /// Inside the request or status line, which started at offset `start`.
    RequestLine { start: usize },
    /// A CR inside a line: LF must follow.
    LineLf,
    /// The start of a line after the first line: an empty line ends the
    /// head.
    LineStart,
    /// Inside a header line.
    Line,
    /// A CR at the start of a line after the first line: LF must follow,
    /// and ends the head.
    EndLf,
}

/// What one scan step found.
enum Step {
    Continue(Scan),
    NeedMore(Scan),
    /// The head ends where the reader now stands.
    End,
}

impl Scan {
    /// Advances over the next byte or line of `reader`; `at` is the absolute
    /// offset of the reader's next byte.
    fn advance(self, reader: &mut Reader<'_>, at: usize, peer: Peer) -> Result<Step, HttpError> {
        if matches!(self, Self::RequestLine { .. } | Self::Line) {
            // Skip the body of the line in one go.
            let _ = reader.take_until(|b| b == b'\r' || b == b'\n');
        }
        let Some(b) = reader.next() else {
            return Ok(Step::NeedMore(self));
        };
        let next = match (self, b) {
            (Self::Leading, b'\r') => Self::LeadingLf,
            (Self::Leading, b'\n') => return Err(peer.bare_lf()),
            (Self::Leading, _) => Self::RequestLine { start: at },
            (Self::LeadingLf, b'\n') => Self::Leading,
            (Self::RequestLine { .. } | Self::Line | Self::LineStart, b'\n') => {
                return Err(peer.bare_lf())
            }
            (Self::RequestLine { .. } | Self::Line, _) => Self::LineLf,
            (Self::LineLf, b'\n') => Self::LineStart,
            (Self::EndLf, b'\n') => return Ok(Step::End),
            (Self::LineStart, b'\r') => Self::EndLf,
            (Self::LineStart, _) => Self::Line,
            (Self::LeadingLf | Self::LineLf | Self::EndLf, _) => return Err(peer.bare_cr()),
        };
        Ok(Step::Continue(next))
    }
}

/// The range `part` occupies in `base`, which must contain it (httparse
/// returns slices of the buffer it parsed; hyper records header indices the
/// same way).
pub(super) fn offset_in(base: &[u8], part: &[u8]) -> Result<Span, HttpError> {
    const OUTSIDE: HttpError = HttpError::Internal("slice outside the head");
    let start = (part.as_ptr() as usize)
        .checked_sub(base.as_ptr() as usize)
        .ok_or(OUTSIDE)?;
    let end = start.checked_add(part.len()).ok_or(OUTSIDE)?;
    if end > base.len() {
        return Err(OUTSIDE);
    }
    Ok(Span { start, end })
}

/// Maps httparse's errors to ours (all 400 but too many headers, 431).
pub(super) const fn map_httparse_error(e: httparse::Error) -> HttpError {
    match e {
        httparse::Error::HeaderName => HttpError::InvalidHeader("invalid header name"),
        httparse::Error::HeaderValue => HttpError::InvalidHeader("invalid header value"),
        httparse::Error::NewLine => HttpError::BadRequest("invalid line ending"),
        // Responses only.
        httparse::Error::Status => HttpError::BadRequest("invalid status line"),
        httparse::Error::Token => HttpError::BadRequest("invalid method or request-target"),
        httparse::Error::TooManyHeaders => HttpError::TooManyHeaders,
        // Anything but `HTTP/1.0` and `HTTP/1.1`, including `HTTP/2.0`
        // (RFC 9112 §2.3): 400, see `HttpError::status`.
        httparse::Error::Version => HttpError::BadRequest("unsupported HTTP version"),
    }
}
