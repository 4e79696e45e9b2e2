//! The HTTP/1.1 client of the reverse modes (`--sse URL`,
//! `--streamableHttp URL`): a thin driver around `proto::http`'s response
//! decoders, over TCP or TLS (see `transport`).
//!
//! - **Requests** go out whole, head and body in one write, always with a
//!   Content-Length when there is a body (even an empty one, and on every
//!   POST/PUT/PATCH; STYLE.md "Client-side framing").
//! - **Responses**: 1xx heads are skipped (a `101` is an error: we never ask
//!   for an upgrade); the body's framing comes from proto
//!   (`ResponseHead::body_framing`: HEAD/1xx/204/304 have none, chunked,
//!   Content-Length, or until close) and is read piece by piece
//!   ([`ClientResponse::chunk`]) or whole within a bound
//!   ([`ClientResponse::body`]).
//! - **Timeouts** cover whole phases (`future.or(Timer::after(..))`):
//!   connect (DNS, TCP and TLS handshake together), then writing the request
//!   and receiving the final response head together. Body reads have no
//!   overall deadline (an SSE stream lasts as long as the session); a
//!   per-read idle bound can be set with [`ClientResponse::set_read_timeout`].
//! - **Keep-alive pool**: per (TLS?, host, port), at most
//!   `max_idle_per_host` idle connections, most recently used first. A
//!   connection goes back only when its response body was read to its end,
//!   the response allowed keep-alive, and no byte beyond the body arrived;
//!   a response dropped before its end closes its connection (a half-read
//!   connection is never reused). On checkout, connections idle for
//!   `idle_timeout` or longer are dropped, and so is one the server has
//!   closed (or sent unsolicited bytes on), checked without waiting.
//! - **Retry**: a request sent on a *reused* connection that fails with end
//!   of stream, reset or broken pipe before a single byte of the response
//!   arrived is sent again, once, on a fresh connection, whatever its
//!   method, POST included. That failure is the race between our request
//!   and the server closing an idle keep-alive connection (Node closes them
//!   after 5 s), in which the server has not seen the request; a server
//!   that read a request and then dropped the connection without a byte of
//!   answer is the rare case a retry could repeat. A timeout, an error on a
//!   fresh connection, or any failure after the first response byte is never
//!   retried.
//!
//! Errors print one line and never a header value: configured headers carry
//! credentials (`--oauth2Bearer`).

mod transport;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::{AsyncWriteExt, FutureExt};
use futures_rustls::TlsConnector;
use supergateway_proto::http::{
    BodyDecoder, HeaderName, HeaderValue, HttpError, Limits, Method, RequestHeadWriter,
    ResponseFraming, ResponseHead, ResponseHeadDecoder,
};
use supergateway_proto::url::Url;

use self::transport::Stream;
use crate::http::LiveHeaders;
use crate::http::ReadBuf;

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub(crate) struct ClientOptions {
    /// Sent on every request (`--header`, `--oauth2Bearer`).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// When set, sent on every request instead of `headers`: read at each
    /// request, so runtime updates apply to the next one.
    pub(crate) live_headers: Option<LiveHeaders>,
    /// A configured `Authorization` is not sent (`--oauth`: the OAuth
    /// client's credential replaces it).
    pub(crate) omit_authorization: bool,
    /// DNS, TCP connect and TLS handshake together.
    pub(crate) connect_timeout: Duration,
    /// From the start of writing a request to its final response head, when
    /// [`Client::send`] is not given one.
    pub(crate) head_timeout: Duration,
    /// Idle pooled connections older than this are not reused.
    pub(crate) idle_timeout: Duration,
    /// Idle connections kept per (scheme, host, port); 0 turns pooling off.
    pub(crate) max_idle_per_host: usize,
    /// Upper bound of [`ClientResponse::body`], whatever its caller asks
    /// for (streamed bodies, [`ClientResponse::chunk`], are not bounded).
    pub(crate) max_body_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            headers: Vec::new(),
            live_headers: None,
            omit_authorization: false,
            connect_timeout: Duration::from_secs(10),
            head_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            max_idle_per_host: 8,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// An HTTP/1.1 client with a keep-alive pool. Cheap to clone (the clones
/// share the pool); single-threaded.
#[derive(Clone)]
pub(crate) struct Client {
    inner: Rc<Inner>,
}

/// A response whose head has arrived; the body follows through
/// [`ClientResponse::chunk`] or [`ClientResponse::body`].
pub(crate) struct ClientResponse {
    head: ResponseHead,
    /// How the body is delimited (decided once, from the head and the
    /// request method).
    framing: ResponseFraming,
    body: Body,
    /// Where the connection goes back to at the end of the body.
    client: Rc<Inner>,
    key: PoolKey,
    /// Bound on each read of the body, if any.
    read_timeout: Option<Duration>,
}

/// Why a request failed. `Display` is one line and never shows a header
/// value.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// DNS, TCP connect, or the transport under a TLS handshake failed.
    Connect(io::Error),
    /// The TLS handshake failed: the certificate did not verify, or no
    /// common protocol.
    Tls(rustls::Error),
    /// A phase did not finish in time: "connect", "response head",
    /// "body read" (or a caller's own phase name).
    Timeout(&'static str),
    /// The response, or the request we were asked to send, broke HTTP/1.1
    /// framing rules.
    Http(HttpError),
    /// Reading or writing failed after the connection was up.
    Io(io::Error),
    /// The server closed the connection before the response (or its body)
    /// was complete.
    Closed,
    /// Invalid configuration or request (CA bundle, server name, method).
    Config(String),
}

impl Client {
    /// A client with the webpki roots plus, when the `SSL_CERT_FILE`
    /// environment variable names a PEM bundle, its certificates as trust
    /// anchors (for private CAs). A bundle that cannot be loaded is an
    /// error here, not at the first request.
    pub(crate) fn new(options: ClientOptions) -> Result<Self, ClientError> {
        let extra = std::env::var_os("SSL_CERT_FILE").filter(|path| !path.is_empty());
        Self::with_extra_roots(options, extra.as_deref().map(Path::new)).map_err(|err| match err {
            ClientError::Config(why) => ClientError::Config(format!("SSL_CERT_FILE: {why}")),
            other => other,
        })
    }

    /// [`Client::new`] with the extra PEM trust anchors given explicitly
    /// (`None`: the webpki roots only).
    pub(crate) fn with_extra_roots(
        options: ClientOptions,
        extra_roots: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let tls = TlsConnector::from(transport::tls_config(extra_roots)?);
        Ok(Self {
            inner: Rc::new(Inner {
                options,
                tls,
                pool: RefCell::new(HashMap::new()),
            }),
        })
    }

    /// Opens a connection to `url`'s origin (DNS, TCP, TLS handshake,
    /// within the connect timeout) and keeps it in the pool for the next
    /// request: how a bridge learns, without sending a request, that a
    /// server it could not reach is back.
    pub(crate) async fn connect(&self, url: &Url) -> Result<(), ClientError> {
        let key = PoolKey::of(url);
        let tls = key.tls.then_some(&self.inner.tls);
        let stream = transport::connect(
            url.host(),
            url.port(),
            tls,
            self.inner.options.connect_timeout,
        )
        .await?;
        let conn = Conn {
            stream,
            buf: ReadBuf::default(),
        };
        self.inner.checkin(key, conn);
        Ok(())
    }

    /// Sends `method url` and resolves when the final response head has
    /// arrived (1xx skipped), within `head_timeout` (default: the client's)
    /// from the start of writing.
    ///
    /// Headers sent: Host, the configured headers, `headers`, and
    /// Content-Length when `body` is `Some` or the method is POST, PUT or
    /// PATCH. A configured or given `Host` replaces ours. An idle pooled
    /// connection to the same scheme, host and port is used when there is
    /// one; see the module documentation for when a request is retried.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
        head_timeout: Option<Duration>,
    ) -> Result<ClientResponse, ClientError> {
        let request = self.encode_request(method, url, headers, body)?;
        let timeout = head_timeout.unwrap_or(self.inner.options.head_timeout);
        let key = PoolKey::of(url);
        if let Some(conn) = self.inner.checkout(&key).await {
            match self.exchange(conn, &key, &request, method, timeout).await {
                Ok(response) => return Ok(response),
                Err(failure) if failure.before_response => {
                    tracing::debug!(
                        "reused connection to {}:{} closed before the response ({}); retrying on a new one",
                        key.host,
                        key.port,
                        failure.error
                    );
                }
                Err(failure) => return Err(failure.error),
            }
        }
        let tls = key.tls.then_some(&self.inner.tls);
        let stream = transport::connect(
            url.host(),
            url.port(),
            tls,
            self.inner.options.connect_timeout,
        )
        .await?;
        let conn = Conn {
            stream,
            buf: ReadBuf::default(),
        };
        self.exchange(conn, &key, &request, method, timeout)
            .await
            .map_err(|failure| failure.error)
    }

    /// The request head and body, as one buffer for one write.
    fn encode_request(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ClientError> {
        let token = method_token(method)?;
        let live = self
            .inner
            .options
            .live_headers
            .as_ref()
            .map(LiveHeaders::snapshot);
        let configured: &[(HeaderName, HeaderValue)] = match &live {
            Some(live) => live,
            None => &self.inner.options.headers,
        };
        let host_given = configured
            .iter()
            .any(|(name, _)| name.as_str().eq_ignore_ascii_case("host"))
            || headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("host"));
        let body_len = body.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(512usize.saturating_add(body_len));
        let mut head = RequestHeadWriter::new(&mut out, token, url.target());
        if !host_given {
            head.header("host", url.authority().as_bytes());
        }
        let omit = self.inner.options.omit_authorization;
        for (name, value) in configured {
            if omit && name.as_str().eq_ignore_ascii_case("authorization") {
                continue;
            }
            head.header(name.as_str(), value.as_bytes());
        }
        for (name, value) in headers {
            head.header(name, value);
        }
        // RUSTSEC-2020-0008: a body is always framed, even an empty one.
        if body.is_some() || matches!(method, Method::Post | Method::Put | Method::Patch) {
            head.content_length(u64::try_from(body_len).unwrap_or(u64::MAX));
        }
        head.finish().map_err(ClientError::Http)?;
        out.extend_from_slice(body.unwrap_or_default());
        Ok(out)
    }

    /// Writes `request` on `conn` and reads up to the final response head.
    async fn exchange(
        &self,
        mut conn: Conn,
        key: &PoolKey,
        request: &[u8],
        method: Method,
        timeout: Duration,
    ) -> Result<ClientResponse, Failure> {
        let head = write_and_read_head(&mut conn, request)
            .or(async {
                Timer::after(timeout).await;
                Err(Failure::after_response(ClientError::Timeout(
                    "response head",
                )))
            })
            .await?;
        let framing = head
            .body_framing(method)
            .map_err(|err| Failure::after_response(ClientError::Http(err)))?;
        // The caller bounds the body: `body(max)` counts, `chunk` streams.
        let decoder = BodyDecoder::for_response(framing, u64::MAX, &RESPONSE_LIMITS)
            .map_err(|err| Failure::after_response(ClientError::Http(err)))?;
        let keep_alive = head.keep_alive() && !matches!(framing, ResponseFraming::UntilClose);
        let mut response = ClientResponse {
            head,
            framing,
            body: Body::Reading {
                conn,
                decoder,
                keep_alive,
            },
            client: Rc::clone(&self.inner),
            key: key.clone(),
            read_timeout: None,
        };
        // No body (HEAD, 204, 304, Content-Length: 0): the connection is
        // free right away, whether or not the caller reads the empty body.
        if let Body::Reading { decoder, .. } = &response.body {
            if decoder.is_done() {
                response.finish();
            }
        }
        Ok(response)
    }
}

impl ClientResponse {
    /// The final status code.
    pub(crate) fn status(&self) -> u16 {
        self.head.status()
    }

    /// The final response head.
    #[allow(dead_code)] // API: all fields, for bridges that need more than one
    pub(crate) fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    pub(crate) fn header_str(&self, name: &str) -> Option<&str> {
        self.head.header_str(name)
    }

    /// Bounds each read of the body by `timeout` (`None`: no bound, the
    /// default); a read that takes longer fails with
    /// `ClientError::Timeout("body read")`.
    #[allow(dead_code)] // API: the bridges bound streams with their own timers
    pub(crate) fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// The next piece of the decoded body, as it arrives; `Ok(None)` at its
    /// end, and on every call after that. At the end of the body the
    /// connection goes back to the pool when it can. After an error the
    /// connection is closed and every later call fails with
    /// [`ClientError::Closed`].
    pub(crate) async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let result = self.next_piece().await;
        if result.is_err() {
            // Drop (close) the connection: it is mid-body.
            self.body = Body::Failed;
        }
        result
    }

    /// The whole body, at most `max` bytes and at most the client's
    /// `max_body_bytes` (`HttpError::BodyTooLarge` beyond, as soon as a
    /// Content-Length or the bytes received say so).
    pub(crate) async fn body(mut self, max: u64) -> Result<Vec<u8>, ClientError> {
        let max = max.min(self.client.options.max_body_bytes);
        let mut body = Vec::new();
        if let ResponseFraming::Length(n) = self.framing {
            if n > max {
                return Err(ClientError::Http(HttpError::BodyTooLarge));
            }
        }
        while let Some(piece) = self.chunk().await? {
            let total = u64::try_from(body.len().saturating_add(piece.len())).unwrap_or(u64::MAX);
            if total > max {
                return Err(ClientError::Http(HttpError::BodyTooLarge));
            }
            if body.is_empty() {
                body = piece;
            } else {
                body.extend_from_slice(&piece);
            }
        }
        Ok(body)
    }

    async fn next_piece(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        loop {
            let (conn, decoder) = match &mut self.body {
                Body::Reading { conn, decoder, .. } => (conn, decoder),
                Body::Done => return Ok(None),
                Body::Failed => return Err(ClientError::Closed),
            };
            if !conn.buf.is_empty() {
                let mut piece = Vec::new();
                let progress = decoder
                    .decode(conn.buf.filled(), &mut piece)
                    .map_err(ClientError::Http)?;
                conn.buf.consume(progress.consumed);
                if progress.done {
                    self.finish();
                    return Ok((!piece.is_empty()).then_some(piece));
                }
                if !piece.is_empty() {
                    return Ok(Some(piece));
                }
            }
            let read = conn.buf.read_from(&mut conn.stream);
            let n = match self.read_timeout {
                None => read.await,
                Some(timeout) => {
                    read.or(async {
                        Timer::after(timeout).await;
                        Err(io::Error::from(io::ErrorKind::TimedOut))
                    })
                    .await
                }
            };
            match n {
                Ok(0) => {
                    // End of stream: the end of an until-close body, or a
                    // truncated one (`HttpError::Truncated`).
                    decoder.handle_eof().map_err(ClientError::Http)?;
                    self.body = Body::Done;
                    return Ok(None);
                }
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                    return Err(ClientError::Timeout("body read"))
                }
                Err(err) => return Err(ClientError::Io(err)),
            }
        }
    }

    /// The body has ended: the connection goes back to the pool if the
    /// response allowed keep-alive and nothing followed the body.
    fn finish(&mut self) {
        if let Body::Reading {
            conn, keep_alive, ..
        } = std::mem::replace(&mut self.body, Body::Done)
        {
            if keep_alive && conn.buf.is_empty() {
                self.client.checkin(self.key.clone(), conn);
            }
        }
    }
}

impl fmt::Debug for ClientResponse {
    /// Status and framing only: header values may be credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("status", &self.status())
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(err) => write!(f, "cannot connect: {err}"),
            Self::Tls(err) => write!(f, "TLS handshake failed: {err}"),
            Self::Timeout(phase) => write!(f, "timed out ({phase})"),
            Self::Http(err) => write!(f, "invalid HTTP response: {err}"),
            Self::Io(err) => write!(f, "connection error: {err}"),
            Self::Closed => f.write_str("connection closed before the response was complete"),
            Self::Config(why) => f.write_str(why),
        }
    }
}

impl ClientError {
    /// True when no connection to the server could be made (DNS, TCP or
    /// TLS, or the connect timeout): nothing was sent.
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::Tls(_) | Self::Timeout("connect")
        )
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(err) | Self::Io(err) => Some(err),
            Self::Tls(err) => Some(err),
            Self::Http(err) => Some(err),
            Self::Timeout(_) | Self::Closed | Self::Config(_) => None,
        }
    }
}

/// Response heads from servers we did not write may be larger than the
/// request heads we accept: Set-Cookie and policy headers on CDNs.
const RESPONSE_LIMITS: Limits = Limits::DEFAULT.with_head_bytes(64 * 1024);

/// Interim (1xx) responses skipped before the final one, at most.
const MAX_INFORMATIONAL: usize = 16;

struct Inner {
    options: ClientOptions,
    tls: TlsConnector,
    /// Idle keep-alive connections, oldest first in each list.
    pool: RefCell<HashMap<PoolKey, Vec<Idle>>>,
}

/// Connections are shared only between URLs with the same scheme security,
/// host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    tls: bool,
    host: String,
    port: u16,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// A connection and the bytes read from it but not yet decoded.
struct Conn {
    stream: Stream,
    /// Invariant: empty while the connection is idle in the pool.
    buf: ReadBuf,
}

enum Body {
    /// The body is being read.
    Reading {
        conn: Conn,
        decoder: BodyDecoder,
        /// Whether the connection may be reused after the body.
        keep_alive: bool,
    },
    /// The body ended (the connection is pooled or closed).
    Done,
    /// Reading the body failed; the connection is closed.
    Failed,
}

/// A failed exchange, and whether it failed before any byte of a response
/// arrived in a way that an idle-connection close explains (see the module
/// documentation): only then is a request on a reused connection retried.
struct Failure {
    error: ClientError,
    before_response: bool,
}

impl Failure {
    fn after_response(error: ClientError) -> Self {
        Self {
            error,
            before_response: false,
        }
    }
}

impl PoolKey {
    fn of(url: &Url) -> Self {
        Self {
            tls: url.is_tls(),
            host: url.host().to_ascii_lowercase(),
            port: url.port(),
        }
    }
}

impl Inner {
    /// The most recently used idle connection for `key` that is still
    /// usable; stale and closed ones are dropped on the way.
    async fn checkout(&self, key: &PoolKey) -> Option<Conn> {
        loop {
            let candidate = {
                let mut pool = self.pool.borrow_mut();
                let idle = pool.get_mut(key)?;
                let timeout = self.options.idle_timeout;
                idle.retain(|entry| entry.since.elapsed() < timeout);
                let candidate = idle.pop();
                if idle.is_empty() {
                    pool.remove(key);
                }
                candidate?
            };
            let mut conn = candidate.conn;
            if !conn.stream.is_unusable().await {
                return Some(conn);
            }
        }
    }

    /// Keeps `conn` for reuse, dropping the oldest idle one past the bound.
    fn checkin(&self, key: PoolKey, conn: Conn) {
        let max = self.options.max_idle_per_host;
        if max == 0 {
            return;
        }
        let mut pool = self.pool.borrow_mut();
        let idle = pool.entry(key).or_default();
        let timeout = self.options.idle_timeout;
        idle.retain(|entry| entry.since.elapsed() < timeout);
        while idle.len() >= max {
            idle.remove(0);
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
    }
}

/// Writes the whole request, then reads until a final (non-1xx) head.
async fn write_and_read_head(conn: &mut Conn, request: &[u8]) -> Result<ResponseHead, Failure> {
    let write = async {
        conn.stream.write_all(request).await?;
        conn.stream.flush().await
    };
    if let Err(err) = write.await {
        return Err(Failure {
            before_response: is_closed_kind(&err),
            error: ClientError::Io(err),
        });
    }
    let mut decoder = ResponseHeadDecoder::new(RESPONSE_LIMITS);
    let mut received = false;
    let mut informational = 0usize;
    loop {
        if let Some((head, used)) = decoder
            .decode(conn.buf.filled())
            .map_err(|err| Failure::after_response(ClientError::Http(err)))?
        {
            conn.buf.consume(used);
            if !head.is_informational() {
                return Ok(head);
            }
            if head.status() == 101 {
                // We never send Upgrade; bytes after a 101 are another
                // protocol (RUSTSEC-2026-0033 is the server-side mirror).
                return Err(Failure::after_response(ClientError::Http(
                    HttpError::BadRequest("unexpected 101 Switching Protocols"),
                )));
            }
            informational = informational.saturating_add(1);
            if informational > MAX_INFORMATIONAL {
                return Err(Failure::after_response(ClientError::Http(
                    HttpError::BadRequest("too many interim responses"),
                )));
            }
            decoder.reset();
            continue;
        }
        match conn.buf.read_from(&mut conn.stream).await {
            Ok(0) => {
                return Err(Failure {
                    before_response: !received,
                    error: ClientError::Closed,
                })
            }
            Ok(_) => received = true,
            Err(err) => {
                return Err(Failure {
                    before_response: !received && is_closed_kind(&err),
                    error: ClientError::Io(err),
                })
            }
        }
    }
}

/// Errors that mean "the peer closed the connection" rather than a local or
/// protocol failure. A TLS peer that closes without close_notify surfaces
/// as `UnexpectedEof`.
fn is_closed_kind(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

/// The method token for the request line.
fn method_token(method: Method) -> Result<&'static str, ClientError> {
    Ok(match method {
        Method::Delete => "DELETE",
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Options => "OPTIONS",
        Method::Patch => "PATCH",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Other => {
            return Err(ClientError::Config(
                "the HTTP client sends only standard methods".to_owned(),
            ))
        }
    })
}
