//! stdio→Streamable HTTP: MCP's single-endpoint transport (revisions
//! 2025-03-26, 2025-06-18 and 2025-11-25) in front of a stdio child.
//!
//! - POST carries one message (or a 2025-03-26 batch). Notifications and
//!   responses get 202; requests get an SSE response stream carrying what the
//!   child sends about them, then their answers, then the stream ends.
//! - GET opens a session's standalone stream (stateful only), or resumes a
//!   broken stream with `Last-Event-ID`.
//! - DELETE ends a stateful session.
//!
//! Stateful (`--stateful`): each MCP session has its own child and its own
//! `Link`, whose streams are the session's POST responses and GET stream.
//! Stateless (default): one shared child, initialised once, whose sessions
//! are single requests; `--childPerSession` gives each request its own child
//! instead.

mod modern;
mod param_headers;
mod sessions;

use crate::gateway::start_link;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use supergateway_proto::http::{Method, RequestHead};
use supergateway_proto::jsonrpc::encode_error_with_data;
use supergateway_proto::jsonrpc::{codes, parse_message, Kind, MessageError};
use supergateway_proto::mcp::ProtocolVersion;

use crate::auth::Caller;
use crate::child::{Child, RestartPolicy};
use crate::cli::Config;
use crate::gateway::event_stream::{parse_event_id, EventStream, PumpEnd};
use crate::gateway::front::Front;
use crate::gateway::link::{outlet, ClientError, Clients, Link, SessionKey};
use crate::gateway::refusal::Refusal;
use crate::gateway::stdio_sse::is_json;
use crate::gateway::StdioMode;
use crate::http::response::Response;
use crate::http::server::{Conn, Handler, Next, Request};
use crate::runtime::Runtime;
use crate::telemetry;

use self::modern::VersionHeader;
use self::sessions::{McpSession, Sessions};

/// What a request without `MCP-Protocol-Version` is taken to speak.
const DEFAULT_VERSION: ProtocolVersion = ProtocolVersion::V2025_03_26;

/// The stdio→Streamable HTTP handler.
pub(crate) struct StdioStreamable {
    front: Front,
    runtime: Rc<Runtime>,
    path: String,
    stateful: bool,
    /// Stateless with `--childPerSession`: a child per request.
    child_per_request: bool,
    /// `--childPerSession`: each 2026-07-28 request (sessionless in both
    /// modes) gets a child of its own.
    modern_child_per_request: bool,
    /// `--protocolVersion`: used when the gateway initialises the child.
    protocol_version: String,
    keep_alive: Option<Duration>,
    replay_limit: usize,
    /// Stateless: the shared child's link.
    shared: Option<Rc<RefCell<Link>>>,
    /// Stateful sessions.
    sessions: Rc<Sessions>,
    /// Stateful: the child that serves 2026-07-28 requests (they have no
    /// session), started on first use.
    modern_shared: RefCell<Option<Rc<RefCell<Link>>>>,
    /// `--restart`: what `modern_shared` does when its child exits, as the
    /// shared child does.
    restart: RestartPolicy,
    /// Stateless streams and 2026-07-28 requests open now (and their
    /// children with `--childPerSession`).
    open_requests: RefCell<HashMap<SessionKey, Option<Child>>>,
    /// Stream keys, unique across the gateway (they name event ids).
    next_key: Cell<SessionKey>,
}

/// What the head of a POST body says, from the one parse done here.
struct Peek {
    initialize: bool,
    /// `params.protocolVersion` of an `initialize`, if well-formed.
    version: Option<ProtocolVersion>,
}

impl StdioStreamable {
    pub(crate) fn new(
        config: &Config,
        runtime: &Rc<Runtime>,
        shared: Option<Rc<RefCell<Link>>>,
    ) -> Rc<Self> {
        let timeout = config.session_timeout.filter(|_| config.stateful);
        Rc::new(Self {
            front: Front::new(config, runtime),
            runtime: Rc::clone(runtime),
            path: config.streamable_http_path.clone(),
            stateful: config.stateful,
            child_per_request: !config.stateful && config.child_per_session,
            modern_child_per_request: config.child_per_session,
            protocol_version: config.protocol_version.clone(),
            keep_alive: config.keep_alive,
            replay_limit: config.replay_buffer,
            shared,
            sessions: Sessions::new(runtime, config.max_sessions, timeout),
            modern_shared: RefCell::new(None),
            restart: config.restart,
            open_requests: RefCell::new(HashMap::new()),
            next_key: Cell::new(1),
        })
    }

    fn new_key(&self) -> SessionKey {
        let key = self.next_key.get();
        self.next_key.set(key.wrapping_add(1));
        key
    }

    fn healthy(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|link| link.borrow().is_live())
    }

    async fn post(self: Rc<Self>, request: Request, conn: &mut Conn, caller: Caller) -> Next {
        let head = &request.head;
        if !accepts(head, "application/json") || !accepts(head, "text/event-stream") {
            let message =
                "Not Acceptable: Client must accept both application/json and text/event-stream";
            return self
                .front
                .error(head, conn, 406, codes::SERVER_ERROR, message)
                .await;
        }
        if !head.header_str("content-type").is_some_and(is_json) {
            let message = "Unsupported Media Type: Content-Type must be application/json";
            return self
                .front
                .error(head, conn, 415, codes::SERVER_ERROR, message)
                .await;
        }
        let header = modern::version_header(head);
        let header_version = match &header {
            VersionHeader::Unknown(text) => {
                return self.unsupported(head, conn, text, &request.body).await
            }
            VersionHeader::Handshake(version) => Some(*version),
            VersionHeader::Absent | VersionHeader::Modern => None,
        };
        if modern::is_modern_post(&header, &request.body) {
            return Rc::clone(&self).post_modern(request, conn, &caller).await;
        }
        let body = &request.body;
        let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        let peek = match peek(body) {
            Ok(peek) => peek,
            Err(err) => {
                return self
                    .front
                    .error(head, conn, 400, err.code(), &err.to_string())
                    .await
            }
        };

        // Which link, and which session (stateful).
        let target = if self.stateful {
            // A clone for the span below: cheap (a digest, two `Rc`s).
            self.stateful_target(head, &peek, caller.clone())
                .map(|session| (Rc::clone(&session.link), Some(session)))
        } else {
            self.stateless_link(&peek, &caller).map(|link| (link, None))
        };
        let (link, session) = match target {
            Ok(target) => target,
            Err(refusal) => return self.front.refuse(head, conn, refusal).await,
        };
        let version = peek.version.or(header_version).unwrap_or(DEFAULT_VERSION);
        if batch && !version.allows_batches() {
            self.end_request_child(&link, session.as_ref());
            return self
                .front
                .refuse(head, conn, Refusal::BATCH_NOT_ALLOWED)
                .await;
        }

        let key = self.new_key();
        let (outlet, frames) = outlet();
        if !link.borrow_mut().open_session(key, outlet, false) {
            self.end_request_child(&link, session.as_ref());
            return self.front.refuse(head, conn, Refusal::CHILD_EXITED).await;
        }
        let carrier = telemetry::Carrier {
            transport: "streamableHttp",
            session: session.as_ref().map(|session| session.id.as_str()),
            traceparent: head.header("traceparent"),
            enduser: caller.subject(),
        };
        let result = telemetry::with_carrier(carrier, || {
            link.borrow_mut().handle_client_message(key, body)
        });
        let requests = match result {
            Ok(requests) => requests,
            Err(err) => {
                link.borrow_mut().close_session(key);
                self.end_request_child(&link, session.as_ref());
                let (status, message) = match err {
                    ClientError::Busy(_) => (503, err.to_string()),
                    ClientError::NoSession => (400, "the MCP server has exited".to_owned()),
                    _ => (400, err.to_string()),
                };
                return self
                    .front
                    .error(head, conn, status, err.code(), &message)
                    .await;
            }
        };
        if requests == 0 {
            link.borrow_mut().close_session(key);
            self.end_request_child(&link, session.as_ref());
            return self
                .front
                .send(
                    head,
                    conn,
                    self.with_session(Response::new(202), session.as_deref()),
                )
                .await;
        }

        // An SSE response stream for the answers.
        let mut stream = EventStream::new(
            key,
            frames,
            requests,
            if self.stateful { self.replay_limit } else { 0 },
        );
        let mut pending = Vec::with_capacity(1024);
        let response = self.sse_response(session.as_deref());
        if conn
            .encode(&self.front.decorate(head, response), &mut pending)
            .is_err()
        {
            link.borrow_mut().close_session(key);
            return Next::Close;
        }
        if version.primes_streams() {
            let mut priming = Vec::new();
            stream.prime(&mut priming);
            supergateway_proto::http::encode_chunk(&mut pending, &priming);
        }
        if !self.stateful {
            let child = if self.child_per_request {
                link.borrow().child().cloned()
            } else {
                None
            };
            self.open_requests.borrow_mut().insert(key, child);
        }
        let end = stream.pump(conn, pending, true, self.keep_alive).await;
        self.finish_stream(&link, session.as_ref(), stream, end);
        if end == PumpEnd::Complete {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// After a POST or GET stream ended: a stateful stream that broke is
    /// kept for resumption; anything else leaves the link.
    fn finish_stream(
        &self,
        link: &Rc<RefCell<Link>>,
        session: Option<&Rc<McpSession>>,
        stream: EventStream,
        end: PumpEnd,
    ) {
        if let Some(session) = session {
            if stream.is_standalone() {
                session.standalone_open.set(false);
            }
            if end == PumpEnd::Gone && self.sessions.contains(&session.id) {
                session.detach(stream);
                return;
            }
        }
        link.borrow_mut().close_session(stream.key);
        if !self.stateful {
            self.open_requests.borrow_mut().remove(&stream.key);
            self.end_request_child(link, None);
        }
    }

    /// With a child per request, stops the request's child.
    fn end_request_child(&self, link: &Rc<RefCell<Link>>, session: Option<&Rc<McpSession>>) {
        if self.child_per_request && session.is_none() {
            if let Some(child) = link.borrow().child() {
                child.stop_in_background();
            }
        }
    }

    /// Stateful: the session a POST belongs to, created by `initialize`.
    fn stateful_target(
        &self,
        head: &RequestHead,
        peek: &Peek,
        caller: Caller,
    ) -> Result<Rc<McpSession>, Refusal> {
        match head.header_str("mcp-session-id") {
            Some(id) => {
                let session = self.sessions.get(id, &caller)?;
                if peek.initialize {
                    return Err(Refusal::ALREADY_INITIALIZED);
                }
                Ok(session)
            }
            None if peek.initialize => self.sessions.open(caller),
            None => Err(Refusal::SESSION_ID_REQUIRED),
        }
    }

    /// Stateless: the shared link, or a new child for this request; the
    /// child is initialised by the gateway unless this is `initialize`.
    fn stateless_link(&self, peek: &Peek, caller: &Caller) -> Result<Rc<RefCell<Link>>, Refusal> {
        let link = match &self.shared {
            Some(link) => Rc::clone(link),
            None => start_link(&self.runtime, Clients::Anonymous, caller)?,
        };
        if !peek.initialize {
            link.borrow_mut().initialize_child(&self.protocol_version);
        }
        Ok(link)
    }

    async fn get(self: Rc<Self>, head: &RequestHead, conn: &mut Conn, caller: &Caller) -> Next {
        if !self.stateful {
            return self.front.method_not_allowed(head, conn, "POST").await;
        }
        if !accepts(head, "text/event-stream") {
            let message = "Not Acceptable: Client must accept text/event-stream";
            return self
                .front
                .error(head, conn, 406, codes::SERVER_ERROR, message)
                .await;
        }
        let version = match modern::version_header(head) {
            VersionHeader::Handshake(version) => version,
            VersionHeader::Absent => DEFAULT_VERSION,
            VersionHeader::Unknown(text) => return self.unsupported(head, conn, &text, b"").await,
            VersionHeader::Modern => {
                return self.front.method_not_allowed(head, conn, "POST").await
            }
        };
        let Some(id) = head.header_str("mcp-session-id") else {
            return self
                .front
                .refuse(head, conn, Refusal::SESSION_ID_REQUIRED)
                .await;
        };
        let session = match self.sessions.get(id, caller) {
            Ok(session) => session,
            Err(refusal) => return self.front.refuse(head, conn, refusal).await,
        };
        let resume = head.header_str("last-event-id").and_then(parse_event_id);
        let resumed =
            resume.and_then(|(key, seq)| session.take_detached(key).map(|stream| (stream, seq)));
        let mut pending = Vec::with_capacity(1024);
        let (mut stream, standalone) = match resumed {
            Some((stream, seq)) => {
                let standalone = stream.is_standalone();
                if standalone && session.standalone_open.get() {
                    session.detach(stream);
                    return self
                        .front
                        .refuse(head, conn, Refusal::STREAM_CONFLICT)
                        .await;
                }
                conn.encode(
                    &self.front.decorate(head, self.sse_response(Some(&session))),
                    &mut pending,
                )
                .ok();
                let mut replay = Vec::new();
                stream.replay_after(seq, &mut replay);
                supergateway_proto::http::encode_chunk(&mut pending, &replay);
                (stream, standalone)
            }
            None => {
                if session.standalone_open.get() {
                    return self
                        .front
                        .refuse(head, conn, Refusal::STREAM_CONFLICT)
                        .await;
                }
                // A new standalone stream replaces one that broke.
                session.close_detached_standalone();
                let key = self.new_key();
                let (outlet, frames) = outlet();
                if !session.link.borrow_mut().open_session(key, outlet, true) {
                    return self
                        .front
                        .refuse(head, conn, Refusal::SESSION_NOT_FOUND)
                        .await;
                }
                let stream = EventStream::new(key, frames, 0, self.replay_limit);
                conn.encode(
                    &self.front.decorate(head, self.sse_response(Some(&session))),
                    &mut pending,
                )
                .ok();
                if version.primes_streams() {
                    let mut priming = Vec::new();
                    stream.prime(&mut priming);
                    supergateway_proto::http::encode_chunk(&mut pending, &priming);
                }
                (stream, true)
            }
        };
        if standalone {
            session.standalone_open.set(true);
        }
        let link = Rc::clone(&session.link);
        let end = stream.pump(conn, pending, true, self.keep_alive).await;
        self.finish_stream(&link, Some(&session), stream, end);
        if end == PumpEnd::Complete {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn delete(&self, head: &RequestHead, conn: &mut Conn, caller: &Caller) -> Next {
        if !self.stateful || matches!(modern::version_header(head), VersionHeader::Modern) {
            return self.front.method_not_allowed(head, conn, "POST").await;
        }
        let Some(id) = head.header_str("mcp-session-id") else {
            return self
                .front
                .refuse(head, conn, Refusal::SESSION_ID_REQUIRED)
                .await;
        };
        if let Err(refusal) = self.sessions.end(id, caller) {
            return self.front.refuse(head, conn, refusal).await;
        }
        self.front.send(head, conn, Response::new(200)).await
    }

    /// 400 with -32022 for an `MCP-Protocol-Version` this endpoint does not
    /// serve, echoing the id of the request in `body` if there is one.
    async fn unsupported(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        text: &str,
        request: &[u8],
    ) -> Next {
        let (status, code, message, data) = modern::unsupported(text);
        let parsed = parse_message(request).ok();
        let id = parsed
            .as_ref()
            .and_then(|message| message.id.as_ref())
            .map(|id| id.as_bytes());
        let mut body = Vec::with_capacity(192);
        encode_error_with_data(&mut body, id, code, message, &data);
        self.front
            .send(head, conn, Response::new(status).json(&body))
            .await
    }

    fn sse_response<'a>(&self, session: Option<&'a McpSession>) -> Response<'a> {
        let response = Response::new(200)
            .header("content-type", b"text/event-stream")
            .header("cache-control", b"no-cache, no-transform")
            .header("x-accel-buffering", b"no")
            .chunked();
        self.with_session(response, session)
    }

    fn with_session<'a>(
        &self,
        response: Response<'a>,
        session: Option<&'a McpSession>,
    ) -> Response<'a> {
        match session {
            Some(session) => response.header("mcp-session-id", session.id.as_bytes()),
            None => response,
        }
    }
}

/// Whether `Accept` lists `media` (or a wildcard covering it).
fn accepts(head: &RequestHead, media: &str) -> bool {
    let media = media.as_bytes();
    let kind = media.split(|&b| b == b'/').next().unwrap_or(media);
    head.header_values("accept").any(|value| {
        value.split(|&b| b == b',').any(|item| {
            let item = item
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            item.eq_ignore_ascii_case(media)
                || item == b"*/*"
                || item
                    .strip_suffix(b"/*")
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case(kind))
        })
    })
}

/// Is the body an `initialize` request, and which version does it ask for?
/// Parsed only when the body names `initialize` at all (the relay path does
/// not pay for a second parse).
fn peek(body: &[u8]) -> Result<Peek, MessageError> {
    let mentions = body.windows(12).any(|window| window == b"\"initialize\"");
    if !mentions {
        return Ok(Peek {
            initialize: false,
            version: None,
        });
    }
    match parse_message(body) {
        Ok(message) => {
            let initialize =
                message.kind == Kind::Request && message.method.as_deref() == Some("initialize");
            let version = message
                .protocol_version
                .as_deref()
                .filter(|_| initialize)
                .and_then(ProtocolVersion::parse);
            Ok(Peek {
                initialize,
                version,
            })
        }
        Err(MessageError::Batch) => Ok(Peek {
            initialize: false,
            version: None,
        }),
        Err(err) => Err(err),
    }
}

impl StdioMode for StdioStreamable {
    fn session_count(&self) -> usize {
        if self.stateful {
            self.sessions.len()
        } else {
            self.open_requests.borrow().len()
        }
    }

    fn children(&self) -> Vec<Child> {
        let mut children: Vec<Child> = self
            .shared
            .as_ref()
            .map(|link| link.borrow().children())
            .unwrap_or_default();
        children.extend(self.sessions.children());
        if let Some(link) = &*self.modern_shared.borrow() {
            children.extend(link.borrow().children());
        }
        children.extend(self.open_requests.borrow().values().flatten().cloned());
        children
    }
}

impl Handler for StdioStreamable {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let head = &request.head;
        let caller = match self.front.intercept(head, conn, self.healthy()).await {
            Ok(caller) => caller,
            Err(next) => return next,
        };
        if head.path() != self.path {
            return self
                .front
                .error(head, conn, 404, codes::SERVER_ERROR, "Not found")
                .await;
        }
        match head.method() {
            Method::Post => Rc::clone(&self).post(request, conn, caller).await,
            Method::Get => {
                let head = request.head;
                Rc::clone(&self).get(&head, conn, &caller).await
            }
            Method::Delete => self.delete(head, conn, &caller).await,
            _ => {
                self.front
                    .method_not_allowed(head, conn, "GET, POST, DELETE")
                    .await
            }
        }
    }
}
