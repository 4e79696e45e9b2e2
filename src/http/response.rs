//! Response heads and small bodies, written through `proto::http`'s
//! validating head writer.

use std::io;
use std::rc::Rc;

use supergateway_proto::http::{HeaderName, HeaderValue, ResponseHeadWriter};

/// A response to write: status, headers, and either a whole body
/// (`content-length`) or a stream that follows the head.
pub(crate) struct Response<'a> {
    status: u16,
    headers: Vec<(&'a str, &'a [u8])>,
    configured: Option<Rc<[(HeaderName, HeaderValue)]>>,
    body: &'a [u8],
    close: bool,
    stream: bool,
    chunked: bool,
}

impl<'a> Response<'a> {
    /// An empty response with `status`.
    pub(crate) fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            configured: None,
            body: &[],
            close: false,
            stream: false,
            chunked: false,
        }
    }

    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// A JSON body.
    pub(crate) fn json(self, body: &'a [u8]) -> Self {
        self.header("content-type", b"application/json").body(body)
    }

    /// A plain-text body.
    pub(crate) fn text(self, body: &'a str) -> Self {
        self.header("content-type", b"text/plain; charset=utf-8")
            .body(body.as_bytes())
    }

    /// A body with the content type set separately.
    pub(crate) fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// Adds a header (validated when written).
    pub(crate) fn header(mut self, name: &'a str, value: &'a [u8]) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds the user's headers (`--header`, and the runtime ones).
    pub(crate) fn configured(mut self, headers: Rc<[(HeaderName, HeaderValue)]>) -> Self {
        self.configured = Some(headers);
        self
    }

    /// Adds `connection: close`.
    pub(crate) fn close(mut self) -> Self {
        self.close = true;
        self
    }

    /// The body is a stream that follows the head (no content-length; the
    /// connection ends with the stream, as SSE over HTTP/1.1 does).
    pub(crate) fn stream(mut self) -> Self {
        self.stream = true;
        self.close = true;
        self
    }

    /// The body is a stream of chunks that follows the head
    /// (`transfer-encoding: chunked`): the connection can serve further
    /// requests after the stream's last chunk.
    pub(crate) fn chunked(mut self) -> Self {
        self.stream = true;
        self.chunked = true;
        self
    }

    /// Appends the head and body to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> io::Result<()> {
        self.encode_closing(out, false)
    }

    /// Appends the head and body to `out`, with `connection: close` also
    /// when `closing` and the response does not switch protocols (`101`).
    pub(crate) fn encode_closing(&self, out: &mut Vec<u8>, closing: bool) -> io::Result<()> {
        self.encode_head_closing(out, closing)?;
        out.extend_from_slice(self.body);
        Ok(())
    }

    /// Appends the head alone, exactly as [`Response::encode_closing`]
    /// writes it (the same content-length): the answer to a HEAD request
    /// (RFC 9110 §9.3.2).
    pub(crate) fn encode_head_closing(&self, out: &mut Vec<u8>, closing: bool) -> io::Result<()> {
        let mut head = ResponseHeadWriter::new(out, self.status);
        for (name, value) in self.configured.iter().flat_map(|headers| headers.iter()) {
            head.header(name.as_str(), value.as_bytes());
        }
        for (name, value) in &self.headers {
            head.header(name, value);
        }
        // 1xx and 204 carry no body and no content-length (RFC 9110 §8.6).
        if !self.stream && self.status >= 200 && self.status != 204 {
            head.content_length(u64::try_from(self.body.len()).unwrap_or(u64::MAX));
        }
        if self.chunked {
            head.header("transfer-encoding", b"chunked");
        }
        if self.close || (closing && self.status != 101) {
            head.header("connection", b"close");
        }
        head.finish()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
    }
}
