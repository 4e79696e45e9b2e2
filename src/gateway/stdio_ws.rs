//! stdio→WebSocket: MCP over WebSocket (RFC 6455) in front of a stdio
//! child, as the TypeScript SDK's WebSocket client transport speaks it.
//!
//! `GET --messagePath` with an upgrade opens a socket: one JSON-RPC message
//! per text frame, both ways. The subprotocol `mcp` is selected when the
//! client offers it (other offers are not echoed: the socket is accepted
//! without a subprotocol, as supergateway 4.0.0 accepts any). Each socket is
//! one session of a `Link`, so ids are multiplexed per connection and come
//! back untouched in value and JSON type (the Node gateway turns string ids
//! into `null`); `--childPerSession` gives each socket a child of its own,
//! stopped when the socket closes.
//!
//! The upgrade request is parsed by `proto::http` and answered here (the
//! `101` is written by us; async-tungstenite only frames). Refusals happen
//! before upgrading, with HTTP statuses and JSON-RPC error bodies: 403
//! (Host/Origin), 426 (not an upgrade, or `Sec-WebSocket-Version` other than
//! 13), 400 (bad `Sec-WebSocket-Key`), 503 (`--maxSessions` sockets open, or
//! the child has exited), 404 (other paths).
//!
//! After the upgrade, the gateway closes the socket with:
//!
//! | code | when |
//! | --- | --- |
//! | 1001 going away | the child exited (after its last messages) |
//! | 1002 protocol error | a frame breaking RFC 6455 (unmasked, bad opcode, ...) |
//! | 1003 unsupported data | a binary frame: messages are JSON text |
//! | 1007 invalid payload | a text frame that is not UTF-8 |
//! | 1008 policy violation | the client did not read its messages fast enough: its queue (1024 messages) filled up and was delivered (a socket that stays full is dropped without a Close), or it answered no ping for a whole `--keepAlive` interval |
//! | 1009 message too big | a message or frame over `--maxBodyBytes` |
//!
//! A text frame that is not JSON, or not JSON-RPC, is answered on the socket
//! with a JSON-RPC error (`id: null`, -32700 or -32600) and the socket stays
//! open. Pings go out every `--keepAlive`; pings from the client are answered.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::Timer;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use async_tungstenite::WebSocketStream;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_lite::{future, AsyncReadExt, FutureExt, StreamExt};
use futures_util::SinkExt;
use supergateway_proto::http::RequestHead;
use supergateway_proto::jsonrpc::{
    codes, encode_error, encode_error_with_data, parse_message, Kind,
};
use supergateway_proto::ws::accept_key;

use crate::auth::Caller;
use crate::child::Child;
use crate::cli::Config;
use crate::gateway::front::Front;
use crate::gateway::link::{ClientError, Frame, Inbox, Link, SessionKey};
use crate::gateway::rate::{self, MessageLimit};
use crate::gateway::{
    open_client_session, server_options, session_id, session_span, ClientSession, Route,
    RoutedSession, StdioMode,
};
use crate::http::response::Response;
use crate::http::server::{Conn, Handler, Next, Request};
use crate::http::stream::Stream;
use crate::rt;
use crate::runtime::Runtime;
use crate::telemetry;

/// tungstenite's read buffer per socket.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Bytes of queued messages sent before one flush.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// How long a closing socket waits for the client's Close (and end of
/// stream) after ours, and how long writes may still take once the session
/// has ended, before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How often a write in progress checks whether the session's queue was
/// closed.
const CLOSED_POLL: Duration = Duration::from_millis(50);
/// The subprotocol of MCP over WebSocket (the TypeScript SDK's client).
const SUBPROTOCOL: &[u8] = b"mcp";
/// The only WebSocket version (RFC 6455 §4.1).
const VERSION: &[u8] = b"13";

/// The stdio→WebSocket handler.
pub(crate) struct StdioWs {
    front: Front,
    runtime: Rc<Runtime>,
    message_path: String,
    keep_alive: Option<Duration>,
    max_sessions: usize,
    ws_config: WebSocketConfig,
    /// How long one write may stall (a client that stopped reading).
    write_timeout: Duration,
    /// The shared child's link; `None` with `--childPerSession`.
    shared: Option<Rc<RefCell<Link>>>,
    sessions: RefCell<HashMap<SessionKey, Rc<Route>>>,
}

/// How a socket's session ended.
enum End {
    /// The client closed (its Close was answered) or the connection failed:
    /// nothing more to send.
    Gone,
    /// The gateway closes: send this Close, then wait for the client's.
    Close(CloseCode, &'static str),
}

impl StdioWs {
    /// Builds the handler; `shared` is the shared child's link (its clients
    /// `Clients::Separate`), or `None` to spawn a child per connection.
    pub(crate) fn new(
        config: &Config,
        runtime: &Rc<Runtime>,
        shared: Option<Rc<RefCell<Link>>>,
    ) -> Self {
        // A whole message, and so each frame, is bounded like a request body.
        let max_message = usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX);
        let ws_config = WebSocketConfig::default()
            // Allocated per socket up front (tungstenite's default: 128 KiB);
            // reads of the size the HTTP driver uses.
            .read_buffer_size(READ_BUFFER_BYTES)
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        Self {
            front: Front::new(config, runtime),
            runtime: Rc::clone(runtime),
            message_path: config.message_path.clone(),
            keep_alive: config.keep_alive,
            max_sessions: config.max_sessions,
            ws_config,
            write_timeout: server_options(config).write_timeout,
            shared,
            sessions: RefCell::new(HashMap::new()),
        }
    }

    fn healthy(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|link| link.borrow().is_live())
    }

    /// Validates the opening handshake (RFC 6455 §4.2.1), opens a session
    /// and upgrades; returns when the socket has closed.
    async fn accept(&self, head: &RequestHead, conn: &mut Conn, caller: &Caller) -> Next {
        let mut versions = head.header_values("sec-websocket-version");
        if versions.next() != Some(VERSION) || versions.next().is_some() {
            // §4.4: name the versions we speak.
            let message = "Upgrade Required: Sec-WebSocket-Version must be 13";
            return self
                .refuse(
                    head,
                    conn,
                    426,
                    message,
                    &[("sec-websocket-version", VERSION)],
                )
                .await;
        }
        let mut keys = head.header_values("sec-websocket-key");
        let client_key = match (keys.next(), keys.next()) {
            (Some(key), None) if is_valid_key(key) => key,
            _ => {
                let message = "Bad Request: Sec-WebSocket-Key must be 16 bytes in base64";
                return self.refuse(head, conn, 400, message, &[]).await;
            }
        };
        if self.sessions.borrow().len() >= self.max_sessions {
            self.front.count_refused(crate::metrics::Reason::Limits);
            return self
                .front
                .error(head, conn, 503, codes::SERVER_ERROR, "too many sessions")
                .await;
        }
        let opened = open_client_session(
            self.shared.as_ref(),
            &self.runtime,
            caller,
            self.front.counters(),
        );
        let ClientSession { route, key, frames } = match opened {
            Ok(session) => session,
            Err(refusal) => return self.front.refuse(head, conn, refusal).await,
        };
        self.sessions.borrow_mut().insert(key, Rc::clone(&route));
        // The id the admin API and the logs know the socket by.
        let id = session_id::new();
        let served = RoutedSession {
            route: Rc::clone(&route),
            key,
        };
        self.runtime.register(&id, "ws", Rc::new(served));

        let accept = accept_key(client_key);
        let mut response = Response::new(101)
            .header("upgrade", b"websocket")
            .header("connection", b"Upgrade")
            .header("sec-websocket-accept", accept.as_bytes());
        if offers_mcp(head) {
            response = response.header("sec-websocket-protocol", SUBPROTOCOL);
        }
        let upgraded = self.front.send(head, conn, response).await == Next::KeepAlive;
        let (stream, read_ahead) = conn.upgrade();
        let mut end = End::Gone;
        let mut socket = None;
        if upgraded {
            tracing::info!(
                "WebSocket session {id} opened by {}",
                self.front.client(head, conn)
            );
            let limit = self.front.message_limit(head, conn, caller);
            let mut ws = WebSocketStream::from_partially_read(
                Socket(Rc::clone(&stream)),
                read_ahead,
                Role::Server,
                Some(self.ws_config),
            )
            .await;
            let span = session_span("ws", &id, caller);
            let enduser = caller.subject();
            let pumped = self.pump(&mut ws, key, &route, &frames, limit.as_ref(), enduser);
            end = rt::in_span(span, pumped).await;
            socket = Some(ws);
        }

        // The session ends now (requests in flight are cancelled at the
        // child); the closing handshake only concerns the socket.
        self.sessions.borrow_mut().remove(&key);
        self.runtime.unregister(&id);
        route.link().borrow_mut().close_session(key);
        route.stop_own_child(self.shared.as_ref());
        if let (Some(mut ws), End::Close(code, reason)) = (socket, end) {
            tracing::info!(
                "WebSocket session {id}: closing ({}: {reason})",
                u16::from(code)
            );
            self.close(&mut ws, &stream, &frames, code, reason).await;
        }
        tracing::info!("WebSocket session {id} closed");
        Next::Close
    }

    /// Relays messages both ways until one side ends the session.
    async fn pump(
        &self,
        ws: &mut WebSocketStream<Socket>,
        key: SessionKey,
        route: &Route,
        frames: &Inbox,
        limit: Option<&MessageLimit>,
        enduser: Option<&str>,
    ) -> End {
        enum Wake {
            Incoming(Option<Result<Message, WsError>>),
            Outgoing(Option<Frame>),
            Tick,
        }
        let mut ticker = self.keep_alive.map(Timer::interval);
        // Something arrived since the last ping (a pong, or anything else).
        let mut heard = true;
        let mut out = Vec::with_capacity(128);
        // Notifications dropped over `--rateLimit` in this session.
        let mut dropped = 0u64;
        loop {
            // `race`: when both ways are ready, either may go first, so a
            // client that never stops sending still gets its answers, and
            // one flooded with messages still has its pongs read. Dropping
            // the losing futures loses nothing: tungstenite keeps a partly
            // read frame, and `recv` takes a message only when it completes.
            let wake = async { Wake::Incoming(ws.next().await) }
                .race(async { Wake::Outgoing(frames.recv().await.ok()) })
                .or(async {
                    match ticker.as_mut() {
                        Some(ticker) => ticker.next().await,
                        None => std::future::pending().await,
                    };
                    Wake::Tick
                })
                .await;
            match wake {
                Wake::Incoming(None) => return End::Gone,
                Wake::Incoming(Some(Err(err))) => return read_error(&err),
                Wake::Incoming(Some(Ok(message))) => {
                    heard = true;
                    match message {
                        // The guard takes the message's token (`--rateLimit`);
                        // only a message over the limit enters this arm.
                        Message::Text(text)
                            if over_limit(limit, text.as_bytes(), &mut dropped, &mut out) =>
                        {
                            // Answered (a request) or dropped (a notification).
                            if !out.is_empty() && !self.send_text(ws, frames, &out).await {
                                return End::Gone;
                            }
                            future::yield_now().await;
                        }
                        Message::Text(text) => {
                            let carrier = telemetry::Carrier {
                                transport: "ws",
                                session: None,
                                traceparent: None,
                                enduser,
                            };
                            let result = telemetry::with_carrier(carrier, || {
                                route
                                    .link()
                                    .borrow_mut()
                                    .handle_client_message(key, text.as_bytes())
                            });
                            if let Err(err @ (ClientError::Malformed(_) | ClientError::Busy(_))) =
                                result
                            {
                                // Answered in-band; the socket stays open. A
                                // request refused as busy gets its own id.
                                let id = matches!(err, ClientError::Busy(_))
                                    .then(|| parse_message(text.as_bytes()).ok())
                                    .flatten()
                                    .filter(|message| message.kind == Kind::Request)
                                    .and_then(|message| message.id)
                                    .map(|id| id.as_bytes().to_vec());
                                out.clear();
                                encode_error(&mut out, id.as_deref(), err.code(), &err.to_string());
                                if !self.send_text(ws, frames, &out).await {
                                    return End::Gone;
                                }
                            }
                            // `NoSession`: the link dropped this session; its
                            // queue is closed and ends the socket next.
                            // Reading a burst never yields by itself: let the
                            // child's reader and other connections run.
                            future::yield_now().await;
                        }
                        Message::Binary(_) => {
                            return End::Close(
                                CloseCode::Unsupported,
                                "binary frames are not supported",
                            );
                        }
                        Message::Close(_) => {
                            // tungstenite queued the reply; send it.
                            let _ = self.timed(frames, ws.flush()).await;
                            return End::Gone;
                        }
                        // Pings are answered by tungstenite on the next read
                        // or flush; pongs only count as `heard`.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
                Wake::Outgoing(Some(frame)) => {
                    if !self.send_batch(ws, frame, frames).await {
                        return End::Gone;
                    }
                }
                Wake::Outgoing(None) => {
                    // The link closed the queue, after everything queued.
                    return if crate::gateway::is_draining() {
                        End::Close(CloseCode::Away, "the gateway is shutting down")
                    } else if route.link().borrow().is_live() {
                        End::Close(CloseCode::Policy, "client too slow")
                    } else {
                        End::Close(CloseCode::Away, "the MCP server exited")
                    };
                }
                Wake::Tick => {
                    if !std::mem::replace(&mut heard, false) {
                        return End::Close(CloseCode::Policy, "no pong");
                    }
                    if !self
                        .timed(frames, ws.send(Message::Ping(Default::default())))
                        .await
                    {
                        return End::Gone;
                    }
                }
            }
        }
    }

    /// Sends `first` and whatever else is queued (up to a batch) as text
    /// frames, then flushes once.
    async fn send_batch(
        &self,
        ws: &mut WebSocketStream<Socket>,
        first: Frame,
        frames: &Inbox,
    ) -> bool {
        let batch = async {
            let mut bytes = 0usize;
            let mut next = Some(first);
            while let Some(frame) = next {
                bytes = bytes.saturating_add(frame.len());
                if let Some(text) = text(&frame) {
                    ws.feed(Message::Text(text)).await?;
                }
                next = if bytes < WRITE_BATCH_BYTES {
                    frames.try_recv()
                } else {
                    None
                };
            }
            ws.flush().await
        };
        self.timed(frames, batch).await
    }

    async fn send_text(
        &self,
        ws: &mut WebSocketStream<Socket>,
        frames: &Inbox,
        bytes: &[u8],
    ) -> bool {
        match text(bytes) {
            Some(text) => self.timed(frames, ws.send(Message::Text(text))).await,
            None => true,
        }
    }

    /// The closing handshake (RFC 6455 §7.1): our Close, then the client's
    /// bytes are read and discarded until it closes or `CLOSE_WAIT` passes,
    /// so that unread input does not turn our close into a reset that
    /// could destroy the Close frame before the client reads it.
    async fn close(
        &self,
        ws: &mut WebSocketStream<Socket>,
        stream: &Stream,
        frames: &Inbox,
        code: CloseCode,
        reason: &'static str,
    ) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        if !self
            .timed(frames, ws.send(Message::Close(Some(frame))))
            .await
        {
            return;
        }
        stream.shutdown(self.write_timeout).await;
        let mut reader = stream;
        let mut scratch = [0u8; 4096];
        async { while let Ok(1..) = reader.read(&mut scratch).await {} }
            .or(async {
                Timer::after(CLOSE_WAIT).await;
            })
            .await;
    }

    /// A write (or flush) bounded by the write timeout, and by `CLOSE_WAIT`
    /// once the link has closed the session's queue (a client too slow to
    /// read is dropped promptly, even when its socket is full); false on
    /// error or timeout.
    async fn timed(
        &self,
        frames: &Inbox,
        write: impl Future<Output = Result<(), WsError>>,
    ) -> bool {
        write
            .or(async {
                Timer::after(self.write_timeout).await;
                Err(WsError::Io(io::ErrorKind::TimedOut.into()))
            })
            .or(async {
                while !frames.is_closed() {
                    Timer::after(CLOSED_POLL).await;
                }
                Timer::after(CLOSE_WAIT).await;
                Err(WsError::Io(io::ErrorKind::TimedOut.into()))
            })
            .await
            .is_ok()
    }

    /// An HTTP refusal before upgrading, with a JSON-RPC error body and
    /// `Upgrade: websocket` (RFC 9110 §15.5.22: a 426 names the protocol).
    async fn refuse(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        status: u16,
        message: &str,
        extra: &[(&'static str, &'static [u8])],
    ) -> Next {
        let mut body = Vec::with_capacity(96);
        encode_error(&mut body, None, codes::SERVER_ERROR, message);
        let mut response = Response::new(status)
            .header("upgrade", b"websocket")
            .header("connection", b"Upgrade");
        for &(name, value) in extra {
            response = response.header(name, value);
        }
        self.front.send(head, conn, response.json(&body)).await
    }
}

impl StdioMode for StdioWs {
    fn session_count(&self) -> usize {
        self.sessions.borrow().len()
    }

    fn children(&self) -> Vec<Child> {
        let mut children: Vec<Child> = self
            .shared
            .as_ref()
            .map(|link| link.borrow().children())
            .unwrap_or_default();
        for route in self.sessions.borrow().values() {
            if route.owns_child(self.shared.as_ref()) {
                children.extend(route.link().borrow().children());
            }
        }
        children
    }
}

impl Handler for StdioWs {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let head = &request.head;
        // Host/Origin (403), CORS preflight and health endpoints come first,
        // so a refused upgrade is refused before it happens.
        // With bearer tokens, the upgrade needs one too; the connection is
        // then its session, so no later message can come from another caller.
        let caller = match self.front.intercept(head, conn, self.healthy()).await {
            Ok(caller) => caller,
            Err(next) => return next,
        };
        if head.path() != self.message_path {
            return self
                .front
                .error(head, conn, 404, codes::SERVER_ERROR, "Not found")
                .await;
        }
        if !head.is_websocket_upgrade() {
            let message = "Upgrade Required: this endpoint speaks WebSocket";
            return self.refuse(head, conn, 426, message, &[]).await;
        }
        self.accept(head, conn, &caller).await
    }
}

/// The upgraded connection as async-tungstenite wants it: an owned
/// futures-io stream over the driver's stream (plain or TLS).
struct Socket(Rc<Stream>);

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}

/// Takes `text`'s token from the connection's bucket. Over the limit:
/// true, with `out` holding the error answer of a request (its id echoed;
/// `id: null` when it is not a JSON-RPC request, e.g. a batch) or empty
/// for a notification (dropped, counted in `dropped`). A client's response
/// passes whatever the bucket says (false): it answers the server's own
/// request, which would otherwise wait in vain.
fn over_limit(
    limit: Option<&MessageLimit>,
    text: &[u8],
    dropped: &mut u64,
    out: &mut Vec<u8>,
) -> bool {
    let Some(refused) = limit.and_then(|limit| limit.check().err()) else {
        return false;
    };
    out.clear();
    let message = parse_message(text).ok();
    let kind = message.as_ref().map(|message| message.kind);
    match kind {
        Some(Kind::Response | Kind::ErrorResponse) => return false,
        Some(Kind::Notification) => *dropped = dropped.saturating_add(1),
        Some(Kind::Request) | None => {
            let id = message
                .as_ref()
                .and_then(|message| message.id.as_ref())
                .map(|id| id.as_bytes());
            let data = format!("{{\"retryAfter\":{}}}", refused.retry_after_secs());
            encode_error_with_data(
                out,
                id,
                codes::SERVER_ERROR,
                rate::TOO_MANY,
                data.as_bytes(),
            );
        }
    }
    if refused.first {
        tracing::warn!(
            "over --rateLimit {}: refusing this session's requests and dropping its \
             notifications until its bucket refills ({} notification(s) dropped so far)",
            limit
                .map(|limit| limit.limits.rate().to_string())
                .unwrap_or_default(),
            dropped
        );
    }
    true
}

/// How a read error ends the socket.
fn read_error(err: &WsError) -> End {
    match err {
        WsError::Capacity(_) => End::Close(CloseCode::Size, "message too big"),
        WsError::Protocol(_) => End::Close(CloseCode::Protocol, "protocol error"),
        WsError::Utf8(_) => End::Close(CloseCode::Invalid, "text frame is not UTF-8"),
        _ => {
            tracing::debug!("WebSocket read failed: {err}");
            End::Gone
        }
    }
}

/// A message as a text frame's payload; `None` (logged) if it is not UTF-8,
/// which a text frame cannot carry.
fn text(bytes: &[u8]) -> Option<Utf8Bytes> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(Utf8Bytes::from(text)),
        Err(_) => {
            tracing::warn!("dropped a message for a WebSocket client that is not UTF-8");
            None
        }
    }
}

/// RFC 6455 §4.1: the key is 16 bytes in base64, so 24 characters: 22 of
/// the alphabet and `==`.
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key
            .iter()
            .take(22)
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether `Sec-WebSocket-Protocol` (a comma-separated list, possibly over
/// several lines) offers `mcp`.
fn offers_mcp(head: &RequestHead) -> bool {
    head.header_values("sec-websocket-protocol")
        .flat_map(|value| value.split(|&b| b == b','))
        .any(|token| token.trim_ascii() == SUBPROTOCOL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key(b"AAAAAAAAAAAAAAAAAAAA+/==")); // alphabet edges
        for bad in [
            &b""[..],
            b"dGhlIHNhbXBsZSBub25jZQ=",
            b"dGhlIHNhbXBsZSBub25jZQ===",
            b"dGhlIHNhbXBsZSBub25jZ===",
            b"dGhlIHNhbXBsZSBub25jZ-==",
            b"dGhlIHNhbXBsZSBub25j ZQ==",
        ] {
            assert!(!is_valid_key(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn messages_over_the_limit() {
        use supergateway_proto::rate_limit::{Key, Rate};

        let limit = MessageLimit {
            limits: rate::RateLimits::new(Rate::parse("1/m").unwrap()),
            key: Key([7; 32]),
        };
        let (mut dropped, mut out) = (0, Vec::new());
        let request = br#"{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}"#;
        assert!(!over_limit(None, request, &mut dropped, &mut out));
        // The one token of the minute.
        assert!(!over_limit(Some(&limit), request, &mut dropped, &mut out));
        assert!(out.is_empty());
        assert!(over_limit(Some(&limit), request, &mut dropped, &mut out));
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"jsonrpc":"2.0","id":"a-1","error":{"code":-32000,"message":"Too Many Requests: rate limit exceeded","data":{"retryAfter":60}}}"#
        );
        let notification = br#"{"jsonrpc":"2.0","method":"notifications/progress"}"#;
        assert!(over_limit(
            Some(&limit),
            notification,
            &mut dropped,
            &mut out
        ));
        assert!(out.is_empty(), "dropped without an answer");
        assert_eq!(dropped, 1);
        // Not JSON-RPC (a batch): answered with `id: null`.
        assert!(over_limit(Some(&limit), b"[]", &mut dropped, &mut out));
        assert!(out.starts_with(br#"{"jsonrpc":"2.0","id":null,"error""#));
        // The client's answers to the server pass.
        let response = br#"{"jsonrpc":"2.0","id":"0f3a","result":{}}"#;
        assert!(!over_limit(Some(&limit), response, &mut dropped, &mut out));
        let error = br#"{"jsonrpc":"2.0","id":"0f3a","error":{"code":1,"message":"no"}}"#;
        assert!(!over_limit(Some(&limit), error, &mut dropped, &mut out));
        assert_eq!(dropped, 1);
    }

    #[test]
    fn accept_key_matches_rfc_6455() {
        // RFC 6455 §1.3's example.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
