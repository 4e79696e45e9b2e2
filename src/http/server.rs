//! The HTTP/1.1 connection driver: a thin loop around `proto::http`.
//!
//! Per connection: read → decode head → read and decode body → hand the
//! request to the mode's handler → repeat while keep-alive holds. Every phase
//! has a deadline that covers the whole phase, not each read (slowloris):
//! idle between requests, head (from its first byte), body. Protocol errors
//! are answered once, with the status from `HttpError::status` and a JSON-RPC
//! error body, and the connection is closed.
//!
//! With `--tlsCert` a connection starts with the TLS handshake, under the
//! head deadline ([`establish`]); the handlers then see the same [`Conn`]
//! over a [`Stream`] that is the socket or a TLS session over it.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::FutureExt;
use supergateway_proto::http::{
    BodyDecoder, BodyFraming, HeadDecoder, HttpError, Limits, Method, RequestHead,
};
use supergateway_proto::jsonrpc::{codes, encode_error};
use supergateway_proto::relay::Budget;

use crate::http::response::Response;
use crate::http::stream::{SharedTcp, Stream, Tls};
use crate::http::tls::{peer_subject, Acceptor};
use crate::http::ReadBuf;
use crate::rt;

/// Timeouts and bounds of the connection driver.
#[derive(Clone, Debug)]
pub(crate) struct ServerOptions {
    /// Request head limits.
    pub(crate) limits: Limits,
    /// Largest request body accepted (413 beyond).
    pub(crate) max_body_bytes: u64,
    /// How long a keep-alive connection may wait for its next request.
    pub(crate) idle_timeout: Duration,
    /// How long a whole request head may take, from its first byte.
    pub(crate) head_timeout: Duration,
    /// How long a whole request body may take.
    pub(crate) body_timeout: Duration,
    /// How long one write may stall (a client that stops reading).
    pub(crate) write_timeout: Duration,
    /// Open connections at most; past it new ones get 503 and are closed,
    /// or with `queue_when_full` wait unaccepted for a slot.
    pub(crate) max_connections: usize,
    /// When full, stop accepting until a connection ends, so new ones wait
    /// in the kernel's listen queue in arrival order (the admin API: an
    /// administrator queued behind idle sockets is served when they time
    /// out, instead of being refused while an attacker keeps renewing them).
    pub(crate) queue_when_full: bool,
    /// The span each connection runs in, from the peer address: set by the
    /// caller (the gateway) so the driver imports no telemetry of its own.
    pub(crate) conn_span: fn(SocketAddr) -> tracing::Span,
    /// The process-wide byte budget request bodies are charged to while
    /// they are read and handled (`None`: not charged). A body that does
    /// not fit is answered 503 and the connection closed.
    pub(crate) budget: Option<Budget>,
    /// `--tlsCert`: connections start with a TLS handshake (bounded by
    /// `head_timeout`), through this acceptor.
    pub(crate) tls: Option<Rc<Acceptor>>,
}

/// One request with its whole body.
pub(crate) struct Request {
    pub(crate) head: RequestHead,
    pub(crate) body: Vec<u8>,
    /// The body's share of the budget, given back when the request is
    /// dropped (after its handler).
    _charge: Charge,
}

/// Bytes charged to a budget, given back on drop.
#[derive(Default)]
struct Charge {
    budget: Option<Budget>,
    bytes: usize,
}

impl Charge {
    /// Charges the growth of a body to `bytes` in all. `Err(first)` when the
    /// budget cannot take it (`first`: the first refusal since it had room).
    fn grow_to(&mut self, bytes: usize) -> Result<(), bool> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        let more = bytes.saturating_sub(self.bytes);
        if more > 0 {
            budget.try_charge(more)?;
            self.bytes = bytes;
        }
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.bytes);
        }
    }
}

/// What the connection does after a handler returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read the next request (if the request allowed keep-alive).
    KeepAlive,
    /// Close the connection.
    Close,
}

/// A mode's request handler.
pub(crate) trait Handler: 'static {
    /// Handles one request. The handler writes its response on `conn` (and
    /// may keep streaming on it, e.g. SSE) before returning.
    fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> impl Future<Output = Next>;
}

/// The client connection as handlers see it.
pub(crate) struct Conn {
    stream: Rc<Stream>,
    peer: SocketAddr,
    /// The subject of the client's verified TLS certificate (mutual TLS).
    certificate: Option<Rc<str>>,
    write_timeout: Duration,
    /// Reused buffer for response heads and small bodies.
    out: Vec<u8>,
    /// During a WebSocket upgrade request: the bytes the client sent after
    /// the request (and its body), already read by the driver.
    read_ahead: Vec<u8>,
    /// The request being answered is a HEAD: responses are written without
    /// their body, whatever the handler built (RFC 9110 §9.3.2; a body would
    /// put a keep-alive client out of step).
    head_only: bool,
    /// The request being answered is an upgrade request: the connection
    /// closes after it, so an answer other than `101` says `connection:
    /// close` (a proxy that pools connections would otherwise send the next
    /// request on a connection about to close).
    upgrade_request: bool,
}

impl Conn {
    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The subject of the client's verified certificate (RFC 4514), with
    /// mutual TLS.
    pub(crate) fn certificate(&self) -> Option<&Rc<str>> {
        self.certificate.as_ref()
    }

    /// Takes the connection over after a WebSocket upgrade request (the
    /// handler writes the `101` itself): the socket, and the bytes the client
    /// sent after the request, which belong to the new protocol. The driver
    /// closes the connection once the handler of an upgrade request returns,
    /// whatever it answered: bytes after an Upgrade request are never read
    /// as HTTP (a refused upgrade may be followed by frames).
    pub(crate) fn upgrade(&mut self) -> (Rc<Stream>, Vec<u8>) {
        (
            Rc::clone(&self.stream),
            std::mem::take(&mut self.read_ahead),
        )
    }

    /// Appends `response` as this connection must send it: with
    /// `connection: close` when answering an upgrade request (the connection
    /// closes after it), the head alone when answering HEAD. Every response
    /// goes through here, [`Conn::send`]'s and the heads streaming handlers
    /// write themselves.
    pub(crate) fn encode(&self, response: &Response<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        if self.head_only {
            response.encode_head_closing(out, self.upgrade_request)
        } else {
            response.encode_closing(out, self.upgrade_request)
        }
    }

    /// Writes a complete response (head and body) in one write.
    pub(crate) async fn send(&mut self, response: &Response<'_>) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let result = match self.encode(response, &mut out) {
            Ok(()) => self.stream.write_all(&out, self.write_timeout).await,
            Err(err) => Err(err),
        };
        self.out = out;
        result
    }

    /// Writes raw bytes (a streaming handler's frames), bounded by the
    /// write timeout. Nothing when answering a HEAD request: streaming
    /// routes refuse HEAD (405), and no body byte may follow a HEAD's head.
    pub(crate) async fn write(&self, bytes: &[u8]) -> io::Result<()> {
        if self.head_only {
            return Ok(());
        }
        self.stream.write_all(bytes, self.write_timeout).await
    }

    /// Resolves when the client closes its side (or sends bytes we will not
    /// read: pipelining over a stream is not supported, so that closes too).
    pub(crate) async fn closed(&self) {
        self.stream.closed().await;
    }
}

/// The keep-alive heartbeat of a stream: a tick every `every`, or never.
pub(crate) fn keep_alive_ticks(every: Option<Duration>) -> Timer {
    every.map_or_else(Timer::never, Timer::interval)
}

/// Binds `host:port` and logs the bound address (tests start on port 0 and
/// read it from the log).
pub(crate) fn bind(host: &str, port: u16) -> io::Result<Async<TcpListener>> {
    let listener = bind_quiet(host, port)?;
    let local = listener.get_ref().local_addr()?;
    tracing::info!("Listening on {local}");
    Ok(listener)
}

/// Binds `host:port` without logging (the caller says what it is).
pub(crate) fn bind_quiet(host: &str, port: u16) -> io::Result<Async<TcpListener>> {
    Async::<TcpListener>::bind(resolve(host, port)?)
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot resolve {host}"),
        )
    })
}

/// Accepts connections forever, each served on its own task.
pub(crate) async fn serve<H: Handler>(
    listener: Async<TcpListener>,
    options: Rc<ServerOptions>,
    handler: Rc<H>,
) -> io::Result<()> {
    let open = Rc::new(Cell::new(0usize));
    // Wakes the accept loop when a connection ends (`queue_when_full`).
    let (freed, slot_freed) = smol::channel::bounded::<()>(1);
    loop {
        while options.queue_when_full && open.get() >= options.max_connections {
            if slot_freed.recv().await.is_err() {
                break;
            }
        }
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {err}");
                Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.get_ref().set_nodelay(true);
        let guard = ConnectionGuard::new(&open, &freed);
        let options = Rc::clone(&options);
        let handler = Rc::clone(&handler);
        rt::spawn(async move {
            let _guard = guard;
            let span = (options.conn_span)(peer);
            rt::in_span(span, async {
                // Before the handshake: a connection over the limit must not
                // hold a slot's worth of TLS work (and time) first.
                if _guard.count > options.max_connections {
                    shed(stream, peer, &options).await;
                    return;
                }
                let Some((stream, certificate)) = establish(stream, peer, &options).await else {
                    return;
                };
                let conn = Conn {
                    stream: Rc::new(stream),
                    peer,
                    certificate,
                    write_timeout: options.write_timeout,
                    out: Vec::with_capacity(1024),
                    read_ahead: Vec::new(),
                    head_only: false,
                    upgrade_request: false,
                };
                serve_connection(conn, &options, handler).await;
            })
            .await;
        })
        .detach();
    }
}

/// A connection over `max_connections`, refused at once: plain HTTP gets a
/// 503; a TLS connection is closed unanswered, before any handshake, since
/// its client could not read a plaintext 503 (and a TLS alert would need
/// the handshake's cost first).
async fn shed(tcp: Async<TcpStream>, peer: SocketAddr, options: &ServerOptions) {
    if options.tls.is_some() {
        tracing::warn!(
            "refused a connection from {peer}: over {} connections (closed before the TLS handshake)",
            options.max_connections
        );
        return;
    }
    tracing::warn!(
        "refused a connection from {peer}: over {} connections (503)",
        options.max_connections
    );
    let mut out = Vec::new();
    error_response(&mut out, 503, "too many connections");
    let _ = Stream::Plain(tcp)
        .write_all(&out, options.write_timeout)
        .await;
}

/// The connection's stream: the socket itself, or a TLS session over it once
/// the handshake is done (within `head_timeout`, the deadline of a request
/// head: a client that connects and says nothing is closed as soon). `None`
/// when the handshake fails, which is logged once: a refused client
/// certificate at info (an administrator wants to see those), anything else
/// (a plain HTTP request, a scanner, a timeout) at debug.
async fn establish(
    tcp: Async<TcpStream>,
    peer: SocketAddr,
    options: &ServerOptions,
) -> Option<(Stream, Option<Rc<str>>)> {
    let Some(acceptor) = &options.tls else {
        return Some((Stream::Plain(tcp), None));
    };
    let tcp = Rc::new(tcp);
    let handshake = acceptor.current().accept(SharedTcp(Rc::clone(&tcp)));
    let session = handshake
        .or(async {
            Timer::after(options.head_timeout).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await;
    let session = match session {
        Ok(session) => session,
        Err(err) => {
            let certificate = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|inner| {
                    matches!(
                        inner,
                        rustls::Error::NoCertificatesPresented
                            | rustls::Error::InvalidCertificate(_)
                    )
                });
            if certificate {
                tracing::info!("TLS handshake with {peer} refused: {err}");
            } else {
                tracing::debug!("TLS handshake with {peer} failed: {err}");
            }
            let _ = tcp.get_ref().shutdown(std::net::Shutdown::Both);
            return None;
        }
    };
    let certificate = match peer_subject(session.get_ref().1) {
        Ok(subject) => subject,
        Err(why) => {
            tracing::warn!(
                "refused {peer}: its client certificate's subject cannot be read: {why}"
            );
            return None;
        }
    };
    Some((Stream::Tls(Box::new(Tls::new(tcp, session))), certificate))
}

struct ConnectionGuard {
    open: Rc<Cell<usize>>,
    count: usize,
    freed: smol::channel::Sender<()>,
}

impl ConnectionGuard {
    fn new(open: &Rc<Cell<usize>>, freed: &smol::channel::Sender<()>) -> Self {
        let count = open.get().saturating_add(1);
        open.set(count);
        Self {
            open: Rc::clone(open),
            count,
            freed: freed.clone(),
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.open.set(self.open.get().saturating_sub(1));
        // Full: a wake-up is already pending, which is enough.
        let _ = self.freed.try_send(());
    }
}

/// Why reading a request stopped.
enum ReadError {
    /// The client closed (or went silent) between requests: no answer due.
    Closed,
    /// A protocol error to answer before closing.
    Http(HttpError),
    /// A phase deadline passed mid-request: 408, then close.
    Timeout,
    /// The body does not fit the process-wide budget: 503, then close.
    /// `first`: the first refusal since the budget last had room (logged).
    OverBudget { first: bool },
}

async fn serve_connection<H: Handler>(mut conn: Conn, options: &ServerOptions, handler: Rc<H>) {
    let mut buf = ReadBuf::default();
    let mut decoder = HeadDecoder::new(options.limits);
    loop {
        decoder.reset();
        conn.head_only = false;
        let request = match read_request(&conn, &mut buf, &mut decoder, options).await {
            Ok(request) => request,
            Err(ReadError::Closed) => return,
            Err(ReadError::OverBudget { first }) => {
                crate::metrics::refused(crate::metrics::Reason::Budget);
                if first {
                    tracing::warn!(
                        "request body refused: the gateway's memory budget (--maxBufferedBytes) is full (503)"
                    );
                }
                let mut out = Vec::new();
                error_response(
                    &mut out,
                    503,
                    "the gateway is busy: its memory budget is full; try again later",
                );
                let _ = conn.write(&out).await;
                return;
            }
            Err(ReadError::Timeout) => {
                tracing::info!("slow client: request not received in time (408)");
                let mut out = Vec::new();
                error_response(&mut out, 408, "request timed out");
                let _ = conn.write(&out).await;
                return;
            }
            Err(ReadError::Http(err)) => {
                crate::metrics::refused(crate::metrics::Reason::Limits);
                match err.status() {
                    status @ (413 | 414 | 431) => {
                        tracing::warn!("request over a limit ({status}): {err}");
                    }
                    status => tracing::debug!("bad request ({status}): {err}"),
                }
                let mut out = Vec::new();
                error_response(&mut out, err.status(), &err.to_string());
                let _ = conn.stream.write_all(&out, conn.write_timeout).await;
                return;
            }
        };
        // One line per request read, for tracing what a proxy in front forwarded
        // (tests/proxies.rs); query values are left out, as they may be credentials.
        tracing::debug!(
            "request {} {}",
            request.head.method_str(),
            QueryNames(&request.head)
        );
        let keep_alive = request.head.keep_alive();
        conn.head_only = request.head.method() == Method::Head;
        let upgrade = request.head.is_websocket_upgrade();
        conn.upgrade_request = upgrade;
        if upgrade {
            conn.read_ahead = std::mem::take(&mut buf).into_filled();
        }
        let next = Rc::clone(&handler).handle(request, &mut conn).await;
        if next == Next::Close || !keep_alive || upgrade {
            conn.stream.shutdown(conn.write_timeout).await;
            return;
        }
    }
}

async fn read_request(
    conn: &Conn,
    buf: &mut ReadBuf,
    decoder: &mut HeadDecoder,
    options: &ServerOptions,
) -> Result<Request, ReadError> {
    // Idle: wait for the first byte of the next request.
    if buf.is_empty() {
        let n = buf
            .read_from(&*conn.stream)
            .or(async {
                Timer::after(options.idle_timeout).await;
                Ok(0)
            })
            .await
            .map_err(|_| ReadError::Closed)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
    }
    // Head: one deadline for all of it.
    let head = async {
        loop {
            if let Some((head, used)) = decoder.decode(buf.filled()).map_err(ReadError::Http)? {
                buf.consume(used);
                return Ok(head);
            }
            match buf.read_from(&*conn.stream).await {
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        }
    }
    .or(async {
        Timer::after(options.head_timeout).await;
        Err(ReadError::Timeout)
    })
    .await?;

    let framing = head.body_framing();
    let mut body_decoder = BodyDecoder::new(framing, options.max_body_bytes, &options.limits)
        .map_err(ReadError::Http)?;
    if framing == BodyFraming::None {
        return Ok(Request {
            head,
            body: Vec::new(),
            _charge: Charge::default(),
        });
    }
    let mut charge = Charge {
        budget: options.budget.clone(),
        bytes: 0,
    };
    if head.expect_continue() {
        conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| ReadError::Closed)?;
    }
    let mut body = Vec::with_capacity(body_decoder.prealloc_hint());
    async {
        loop {
            let progress = body_decoder
                .decode(buf.filled(), &mut body)
                .map_err(ReadError::Http)?;
            buf.consume(progress.consumed);
            charge
                .grow_to(body.capacity())
                .map_err(|first| ReadError::OverBudget { first })?;
            if progress.done {
                return Ok(());
            }
            match buf.read_from(&*conn.stream).await {
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        }
    }
    .or(async {
        Timer::after(options.body_timeout).await;
        Err(ReadError::Timeout)
    })
    .await?;
    Ok(Request {
        head,
        body,
        _charge: charge,
    })
}

/// A complete error response that closes the connection: the status, and a
/// JSON-RPC error body (never an HTML page).
pub(crate) fn error_response(out: &mut Vec<u8>, status: u16, message: &str) {
    let mut body = Vec::with_capacity(96);
    let code = if status == 400 {
        codes::PARSE_ERROR
    } else {
        codes::SERVER_ERROR
    };
    encode_error(&mut body, None, code, message);
    let response = Response::new(status).json(&body).close();
    if response.encode(out).is_err() {
        out.clear();
        out.extend_from_slice(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
    }
}

/// A request's path and the names of its query parameters, without their
/// values: `/mcp?a=1&b` shows as `/mcp?a=…&b`.
struct QueryNames<'a>(&'a RequestHead);

impl std::fmt::Display for QueryNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.path())?;
        let Some(query) = self.0.query() else {
            return Ok(());
        };
        for (i, pair) in query.split('&').enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            match pair.split_once('=') {
                Some((name, _)) => write!(f, "{name}=…")?,
                None => f.write_str(pair)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_log_shows_query_names_not_values() {
        let table = [
            ("/mcp", "/mcp"),
            ("/mcp?tag-a-1", "/mcp?tag-a-1"),
            (
                "/message?sessionId=abc&api_key=SECRET&x",
                "/message?sessionId=…&api_key=…&x",
            ),
            ("/?", "/?"),
        ];
        for (target, shown) in table {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let (head, _) = HeadDecoder::new(Limits::DEFAULT)
                .decode(raw.as_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(QueryNames(&head).to_string(), shown, "{target}");
        }
    }
}
