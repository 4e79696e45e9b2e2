//! Writing request heads, for the client side.

use super::body::is_tchar;
use super::error::HttpError;
use super::response::FieldWriter;
use super::target::is_valid_host;

/// Writes an HTTP/1.1 request head into a caller-owned buffer.
///
/// The mirror of [`super::ResponseHeadWriter`], with the same field
/// validation (the same code): a token name; a value without CR, LF, NUL or
/// other controls (RUSTSEC-2024-0009); one Content-Length, never with
/// Transfer-Encoding. On top of that, the method must be a token, the
/// target origin-form (`/` then visible ASCII, no `#` or `\`), and the head
/// must carry exactly one valid Host (RFC 9112 §3.2: a client MUST send
/// one; the value is checked with the server's own rule, so our client
/// never sends a Host our server would refuse). [`Url::authority`] is the
/// value to use.
///
/// The first invalid part is recorded, later calls are ignored, and
/// [`RequestHeadWriter::finish`] then truncates `out` back to where this
/// head began and returns the error: a head is written whole or not at all.
///
/// Framing is the caller's job (STYLE.md "Client-side framing"): a request
/// with a body always gets [`RequestHeadWriter::content_length`] or
/// `Transfer-Encoding: chunked`, even on GET.
///
/// [`Url::authority`]: crate::url::Url::authority
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{HttpError, RequestHeadWriter};
/// use supergateway_proto::url::Url;
///
/// let url = Url::parse("http://localhost:8000/message?sessionId=abc")?;
/// let mut out = Vec::new();
/// let mut head = RequestHeadWriter::new(&mut out, "POST", url.target());
/// head.header("Host", url.authority().as_bytes())
///     .header("Content-Type", b"application/json")
///     .content_length(2);
/// head.finish()?;
/// out.extend_from_slice(b"{}");
/// assert_eq!(
///     out,
///     b"POST /message?sessionId=abc HTTP/1.1\r\nHost: localhost:8000\r\n\
///       Content-Type: application/json\r\ncontent-length: 2\r\n\r\n{}"
/// );
///
/// let mut head = RequestHeadWriter::new(&mut out, "GET", "/sse HTTP/1.1\r\nX: y");
/// head.header("Host", b"localhost");
/// assert!(matches!(head.finish(), Err(HttpError::BadRequest(_))));
/// assert!(out.ends_with(b"{}")); // nothing of the bad head was left behind
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RequestHeadWriter<'a> {
    fields: FieldWriter<'a>,
    /// Host lines written so far.
    hosts: usize,
}

impl<'a> RequestHeadWriter<'a> {
    /// Starts a head: writes `{method} {target} HTTP/1.1\r\n`.
    ///
    /// A `method` that is not a token (RFC 9110 §9.1), or a `target` that
    /// is not origin-form (RFC 9112 §3.2.1: starts with `/`; we also refuse
    /// anything but visible ASCII, and `#` and `\`, as the server does), is
    /// recorded as an [`HttpError::BadRequest`] error.
    pub fn new(out: &'a mut Vec<u8>, method: &str, target: &str) -> Self {
        let mut fields = FieldWriter::new(out);
        if let Err(e) = check_method(method).and_then(|()| check_target(target)) {
            fields.fail(e);
        } else {
            let out = fields.out_mut();
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(target.as_bytes());
            out.extend_from_slice(b" HTTP/1.1\r\n");
        }
        Self { fields, hosts: 0 }
    }

    /// Writes `name: value\r\n`, name and value as given, after
    /// validating both (see the type documentation).
    pub fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if self.fields.failed() {
            return self;
        }
        self.fields.header(name, value);
        if name.eq_ignore_ascii_case("host") && !self.fields.failed() {
            self.hosts = self.hosts.saturating_add(1);
            // RFC 9112 §3.2: exactly one Host, a valid `uri-host [":" port]`
            // (the server's rule, `target::is_valid_host`). The line may be
            // in `out` already; `finish` truncates it away.
            if self.hosts > 1 {
                self.fields
                    .fail(HttpError::BadRequest("more than one Host header"));
            } else if !is_valid_host(value) {
                self.fields.fail(HttpError::BadRequest("invalid Host"));
            }
        }
        self
    }

    /// Writes `content-length: {n}\r\n`, without allocating.
    pub fn content_length(&mut self, n: u64) -> &mut Self {
        self.fields.content_length(n);
        self
    }

    /// Ends the head with the empty line. On a recorded error, or without a
    /// Host line, truncates `out` back to where this head began and returns
    /// the error.
    pub fn finish(mut self) -> Result<(), HttpError> {
        if self.hosts == 0 {
            self.fields
                .fail(HttpError::BadRequest("missing Host in an HTTP/1.1 request"));
        }
        self.fields.finish()
    }
}

/// RFC 9110 §9.1: `method = token`.
fn check_method(method: &str) -> Result<(), HttpError> {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HttpError::BadRequest("method is not a token"));
    }
    Ok(())
}

/// RFC 9112 §3.2.1 origin-form, with the server's byte rules
/// (`target::check_target`): visible ASCII only, no `#` (RFC 3986 §3.5),
/// no `\`.
fn check_target(target: &str) -> Result<(), HttpError> {
    if !target.starts_with('/') {
        return Err(HttpError::BadRequest("request-target is not origin-form"));
    }
    let visible = |b: u8| matches!(b, b'!'..=b'~') && b != b'#' && b != b'\\';
    if !target.bytes().all(visible) {
        return Err(HttpError::BadRequest(
            "request-target holds a byte other than visible ASCII, or # or \\",
        ));
    }
    Ok(())
}
