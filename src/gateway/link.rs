//! A link: one stdio child and the client sessions it serves.
//!
//! This is the routing core shared by every stdio→network mode. Clients hand
//! it their messages (`handle_client_message`); the child's stdout lines come
//! in through `handle_child_line`; what a client should receive is pushed to
//! that session's bounded outlet queue, which its transport (SSE stream,
//! WebSocket, Streamable HTTP response) drains and frames.
//!
//! Only what routing needs is parsed (`jsonrpc::parse_message`: id, method,
//! progress token, cancelled id); messages are passed through byte-for-byte
//! except for the spans of those ids, which are spliced. See `proto::mux`
//! for the id rules.
//!
//! With one shared child, a second client's `initialize` is answered from the
//! child's first `InitializeResult` instead of initialising the child again,
//! and `notifications/initialized` reaches the child once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::ops::{Deref, Range};
use std::rc::{Rc, Weak};

use smol::channel::{self, Receiver, Sender, TrySendError};
use supergateway_proto::jsonrpc::{
    codes, encode_error, encode_result, encode_string, parse_message, splice, split_batch, Id,
    Kind, Message, MessageError,
};
use supergateway_proto::mux::{write_u64, Mux};

use crate::child::{Child, ChildSpec, SendError};
use crate::telemetry::{self, RpcSpan};

/// A session's key inside a link.
pub(crate) type SessionKey = u64;

/// Client requests in flight through one link at most.
const MAX_IN_FLIGHT: usize = 65_536;

/// One JSON-RPC message for one client, as its transport will frame it.
pub(crate) struct Frame {
    bytes: FrameBytes,
    /// The message answers a client request (result or error): a
    /// request-scoped stream ends after its last answer.
    pub(crate) is_response: bool,
}

enum FrameBytes {
    Owned(Vec<u8>),
    /// One buffer shared by every session a notification is broadcast to.
    Shared(Rc<[u8]>),
}

impl Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.bytes {
            FrameBytes::Owned(bytes) => bytes,
            FrameBytes::Shared(bytes) => bytes,
        }
    }
}

impl Frame {
    fn response(bytes: Vec<u8>) -> Self {
        Self {
            bytes: FrameBytes::Owned(bytes),
            is_response: true,
        }
    }
    fn other(bytes: Vec<u8>) -> Self {
        Self {
            bytes: FrameBytes::Owned(bytes),
            is_response: false,
        }
    }
}

/// Why a client's message was refused as a whole (the transport answers
/// with an HTTP error; everything else is answered in-band).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientError {
    /// Not JSON, or not a JSON-RPC message: 400 with this error.
    Malformed(MessageError),
    /// The session is unknown to this link (it ended).
    NoSession,
}

/// Who the sessions of a link are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clients {
    /// Each session is a client of its own (SSE streams, WebSockets):
    /// notifications without a target go to every session, and only the
    /// session asked may answer a child's request.
    Separate,
    /// Every session is a stream of one client (a stateful Streamable HTTP
    /// session): notifications without a target go to its standalone
    /// stream only, and answers and cancellations may come on any stream.
    One,
    /// Sessions are single requests of clients the gateway cannot tell
    /// apart (stateless Streamable HTTP): notifications without a target
    /// have nowhere to go, answers to the child's requests may come on any
    /// request, and cancellation is by closing the request's stream.
    Anonymous,
}

/// What clients get for their requests in flight when a runtime update
/// restarts their child (or moves their session to a child of its own).
pub(crate) const RESTARTED: &str =
    "the MCP server was restarted by a runtime update; retry the request";

/// A client's `initialize` request as the child got it, kept to initialise a
/// restarted child: the bytes, and the span of the id to replace.
pub(crate) type Replay = (Vec<u8>, Range<usize>);

/// Client messages held while `initialize` is at the child, at most.
const MAX_HELD: usize = 4096;
/// Messages queued for one client before it counts as too slow.
const OUTLET_FRAMES: usize = 1024;
/// Bytes queued for one client before it counts as too slow (one message
/// of any size is always accepted into an empty queue).
const OUTLET_BYTES: usize = 8 * 1024 * 1024;

/// The link's end of a session's queue.
pub(crate) struct Outlet {
    sender: Sender<Frame>,
    /// Bytes in the queue now, shared with the `Inbox`.
    queued: Rc<Cell<usize>>,
}

/// The transport's end of a session's queue.
pub(crate) struct Inbox {
    frames: Receiver<Frame>,
    queued: Rc<Cell<usize>>,
}

/// The queue is closed (session ended) and empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// A new session queue, bounded in messages and in bytes.
pub(crate) fn outlet() -> (Outlet, Inbox) {
    // Unbounded underneath, bounded in `try_send`: a bounded channel allocates
    // all of its slots up front (32 KiB per session at 1024 frames), while
    // this one grows in small blocks as frames are queued.
    let (sender, frames) = channel::unbounded();
    let queued = Rc::new(Cell::new(0));
    (
        Outlet {
            sender,
            queued: Rc::clone(&queued),
        },
        Inbox { frames, queued },
    )
}

impl Inbox {
    /// The next message; `Err(Closed)` once the session has ended and every
    /// queued message has been taken.
    pub(crate) async fn recv(&self) -> Result<Frame, Closed> {
        let frame = self.frames.recv().await.map_err(|_| Closed)?;
        self.taken(&frame);
        Ok(frame)
    }

    /// The next message if one is queued.
    pub(crate) fn try_recv(&self) -> Option<Frame> {
        let frame = self.frames.try_recv().ok()?;
        self.taken(&frame);
        Some(frame)
    }

    /// The session has ended (messages may still be queued).
    pub(crate) fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }

    fn taken(&self, frame: &Frame) {
        self.queued
            .set(self.queued.get().saturating_sub(frame.len()));
    }
}

impl Outlet {
    /// Queues `frame`, unless the client is too far behind.
    fn try_send(&self, frame: Frame) -> Result<(), TrySendError<Frame>> {
        let queued = self.queued.get();
        let too_many_bytes = queued > 0 && queued.saturating_add(frame.len()) > OUTLET_BYTES;
        if too_many_bytes || self.sender.len() >= OUTLET_FRAMES {
            return Err(TrySendError::Full(frame));
        }
        let len = frame.len();
        self.sender.try_send(frame)?;
        self.queued.set(queued.saturating_add(len));
        Ok(())
    }
}

struct Registered {
    outlet: Outlet,
    /// Receives the notifications that belong to no request.
    standalone: bool,
}

enum Init {
    /// No `initialize` has reached the child yet (or the last one failed).
    Idle,
    /// One is at the child under `gateway_id`; these sessions' `initialize`
    /// wait for its result (even if the session that sent it has left).
    Pending {
        gateway_id: u64,
        waiters: Vec<(SessionKey, Id)>,
    },
    /// The child's `InitializeResult` (the raw `result` value).
    Done(Vec<u8>),
}

/// See the module documentation.
pub(crate) struct Link {
    child: Option<Child>,
    clients: Clients,
    mux: Mux<SessionKey>,
    outlets: HashMap<SessionKey, Registered>,
    init: Init,
    /// The gateway initialised the child itself: it sends
    /// `notifications/initialized` when the result arrives.
    self_initialized: bool,
    initialized_sent: bool,
    /// Client messages that arrived while `initialize` was at the child;
    /// relayed, in order, once its result is in (MCP: no requests before the
    /// initialize response).
    held: Vec<(SessionKey, Vec<u8>)>,
    /// Set when the child has exited: new sessions are refused.
    exited: Option<i32>,
    /// What the current child was started with.
    spec: ChildSpec,
    /// Counts children: callbacks of a child replaced by a restart carry an
    /// older number and are ignored.
    generation: u64,
    /// Runs once when the current child exits by itself (not when a restart
    /// stops it).
    on_exit: Option<Box<dyn FnOnce(i32)>>,
    /// The `initialize` that initialised the child (set while it is pending
    /// or done), replayed to a restarted child.
    replay: Option<Replay>,
    /// Children replaced by a restart, possibly still shutting down (a
    /// gateway that stops waits for them too).
    retiring: Vec<Child>,
    /// The spans of the requests at the child, by gateway id (only while spans are on).
    spans: HashMap<u64, RpcSpan>,
}

impl Link {
    /// Spawns the child and the link around it. `on_exit` runs after the
    /// child has exited by itself and every session has been told.
    pub(crate) fn start(
        spec: &ChildSpec,
        clients: Clients,
        on_exit: impl FnOnce(i32) + 'static,
    ) -> io::Result<Rc<RefCell<Self>>> {
        Self::start_replaying(spec, clients, None, on_exit)
    }

    /// `start`, then the child is initialised with `replay` (the
    /// `initialize` another link's child got; its answer is swallowed), so
    /// that sessions moved here find it initialised.
    pub(crate) fn start_replaying(
        spec: &ChildSpec,
        clients: Clients,
        replay: Option<Replay>,
        on_exit: impl FnOnce(i32) + 'static,
    ) -> io::Result<Rc<RefCell<Self>>> {
        let link = Rc::new(RefCell::new(Self {
            child: None,
            clients,
            mux: Mux::new(MAX_IN_FLIGHT),
            outlets: HashMap::new(),
            init: Init::Idle,
            self_initialized: false,
            initialized_sent: false,
            held: Vec::new(),
            exited: None,
            spec: spec.clone(),
            generation: 0,
            on_exit: Some(Box::new(on_exit)),
            replay: None,
            retiring: Vec::new(),
            spans: HashMap::new(),
        }));
        let child = spawn_child(&link, spec, 0)?;
        let mut this = link.borrow_mut();
        this.child = Some(child);
        this.replay = replay;
        this.replay_initialize();
        drop(this);
        Ok(link)
    }

    /// Replaces the child with one started from `spec`: the old one is
    /// stopped (stdin closed, then SIGTERM, SIGKILL), the clients' requests
    /// in flight get a JSON-RPC error, and the new child is initialised with
    /// the `initialize` the first client sent (its answer swallowed) and
    /// `notifications/initialized`. Sessions stay open. Does nothing once
    /// the child has exited by itself. The new child is spawned first: if
    /// that fails, the old one keeps serving and nothing else changes.
    pub(crate) fn restart(link: &Rc<RefCell<Self>>, spec: &ChildSpec) -> io::Result<()> {
        let generation = {
            let this = link.borrow();
            if this.exited.is_some() {
                return Ok(());
            }
            this.generation.wrapping_add(1)
        };
        // Its callbacks run only once `generation` is committed below (this
        // thread runs no other task in between).
        let child = spawn_child(link, spec, generation).inspect_err(|err| {
            tracing::error!("could not restart the MCP server (the old one keeps running): {err}");
        })?;
        let old = {
            let mut this = link.borrow_mut();
            this.generation = generation;
            this.fail_in_flight(RESTARTED);
            this.initialized_sent = false;
            this.retiring.retain(Child::is_running);
            let old = this.child.replace(child);
            if let Some(old) = &old {
                this.retiring.push(old.clone());
            }
            this.spec = spec.clone();
            this.replay_initialize();
            old
        };
        if let Some(old) = old {
            old.stop_in_background();
        }
        Ok(())
    }

    /// Every child of this link that may still run: the current one and
    /// those a restart replaced (stopping the gateway stops them all).
    pub(crate) fn children(&self) -> Vec<Child> {
        self.child
            .iter()
            .chain(self.retiring.iter().filter(|child| child.is_running()))
            .cloned()
            .collect()
    }

    /// What the current child was started with.
    pub(crate) fn spec(&self) -> &ChildSpec {
        &self.spec
    }

    /// The `initialize` to replay to another child, once the child has
    /// answered it.
    pub(crate) fn replay_request(&self) -> Option<Replay> {
        matches!(self.init, Init::Done(_))
            .then(|| self.replay.clone())
            .flatten()
    }

    /// Takes a session out of this link without ending its stream: its
    /// requests in flight get `message` as an error, those are cancelled at
    /// the child, and the queue is returned to be opened on another link.
    pub(crate) fn detach_session(&mut self, key: SessionKey, message: &str) -> Option<Outlet> {
        if !self.outlets.contains_key(&key) {
            return None;
        }
        for id in self.mux.in_flight_ids(key) {
            self.answer_error(key, &id, codes::SERVER_ERROR, message);
        }
        let mut waiting = Vec::new();
        if let Init::Pending { waiters, .. } = &mut self.init {
            waiters.retain(|(session, id)| {
                if *session == key {
                    waiting.push(id.clone());
                }
                *session != key
            });
        }
        for id in waiting {
            self.answer_error(key, &id, codes::SERVER_ERROR, message);
        }
        let (held, others) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(session, _)| *session == key);
        self.held = others;
        self.answer_held(held, message);
        // (A client too slow to take those answers has been dropped.)
        let registered = self.outlets.remove(&key)?;
        self.close_session(key);
        Some(registered.outlet)
    }

    /// Answers every request in flight (and every held one) with `message`.
    /// The `initialize` to replay is kept even if its answer had not come
    /// yet: the next child gets it, and a client that retries its
    /// `initialize` waits for that.
    fn fail_in_flight(&mut self, message: &str) {
        for (_, span) in self.spans.drain() {
            span.finish(Some((i64::from(codes::SERVER_ERROR), message)));
        }
        for (key, id) in self.mux.drain() {
            self.answer_error(key, &id, codes::SERVER_ERROR, message);
        }
        match std::mem::replace(&mut self.init, Init::Idle) {
            Init::Pending { waiters, .. } => {
                for (key, id) in waiters {
                    self.answer_error(key, &id, codes::SERVER_ERROR, message);
                }
            }
            Init::Done(result) => self.init = Init::Done(result),
            Init::Idle => {}
        }
        let held = std::mem::take(&mut self.held);
        self.answer_held(held, message);
    }

    /// Answers the requests among `held` messages (held while `initialize`
    /// was at the child) with an error; held notifications are dropped.
    fn answer_held(&mut self, held: Vec<(SessionKey, Vec<u8>)>, message: &str) {
        for (key, bytes) in held {
            if let Ok(held) = parse_message(&bytes) {
                if let (Kind::Request, Some(id)) = (held.kind, &held.id) {
                    self.answer_error(key, &id.to_owned(), codes::SERVER_ERROR, message);
                }
            }
        }
    }

    /// Sends the kept `initialize` to the (new) child under a gateway id of
    /// its own; its answer is swallowed (no client waits for that id), and
    /// the gateway sends `notifications/initialized` itself.
    fn replay_initialize(&mut self) {
        let Some((bytes, span)) = &self.replay else {
            return;
        };
        let gateway_id = self.mux.reserve_id();
        let mut frame = Vec::with_capacity(bytes.len().saturating_add(24));
        let mut id_buf = [0; 20];
        let new_id = write_u64(gateway_id, &mut id_buf);
        if splice(&mut frame, bytes, &[(span.clone(), new_id)]).is_err() {
            return;
        }
        frame.push(b'\n');
        self.self_initialized = true;
        self.initialized_sent = false;
        self.init = Init::Pending {
            gateway_id,
            waiters: Vec::new(),
        };
        tracing::info!("replaying the client's initialize to the new MCP server");
        self.send_to_child(frame);
    }

    /// The child process.
    pub(crate) fn child(&self) -> Option<&Child> {
        self.child.as_ref()
    }

    /// True while the child runs.
    pub(crate) fn is_running(&self) -> bool {
        self.exited.is_none() && self.child.as_ref().is_some_and(Child::is_running)
    }

    /// Registers a session and the queue its transport drains. False when
    /// the child has exited. `standalone`: with `Clients::One`, this is the
    /// stream for notifications that belong to no request (with `Separate`
    /// every session is).
    pub(crate) fn open_session(
        &mut self,
        key: SessionKey,
        outlet: Outlet,
        standalone: bool,
    ) -> bool {
        if self.exited.is_some() {
            return false;
        }
        let standalone = match self.clients {
            Clients::Separate => true,
            Clients::One => standalone,
            Clients::Anonymous => false,
        };
        self.outlets.insert(key, Registered { outlet, standalone });
        self.mux.handle_session_open(key);
        true
    }

    /// Sends `initialize` (with `protocol_version`) to the child on behalf of
    /// clients that will not: stateless Streamable HTTP clients each
    /// initialise only their own request. Later `initialize` requests are
    /// answered from its result.
    pub(crate) fn initialize_child(&mut self, protocol_version: &str) {
        if !matches!(self.init, Init::Idle) {
            return;
        }
        let gateway_id = self.mux.reserve_id();
        let mut frame = Vec::with_capacity(256);
        frame.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        frame.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
        frame.extend_from_slice(b",\"method\":\"initialize\",\"params\":{\"protocolVersion\":");
        encode_string(&mut frame, protocol_version);
        frame.extend_from_slice(b",\"capabilities\":{\"sampling\":{},\"elicitation\":{},\"roots\":{\"listChanged\":true}},\"clientInfo\":{\"name\":\"supergateway\",\"version\":\"");
        frame.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        frame.extend_from_slice(b"\"}}}\n");
        let id_start = b"{\"jsonrpc\":\"2.0\",\"id\":".len();
        let id_len = write_u64(gateway_id, &mut [0; 20]).len();
        let line_len = frame.len().saturating_sub(1);
        self.replay = frame
            .get(..line_len)
            .map(|line| (line.to_vec(), id_start..id_start.saturating_add(id_len)));
        self.self_initialized = true;
        self.init = Init::Pending {
            gateway_id,
            waiters: Vec::new(),
        };
        self.send_to_child(frame);
    }

    /// Ends a session: its queue closes (its transport ends the stream), its
    /// requests in flight are cancelled at the child, and the child's
    /// requests it was asked are answered with an error.
    pub(crate) fn close_session(&mut self, key: SessionKey) {
        if let Some(registered) = self.outlets.remove(&key) {
            registered.outlet.sender.close();
        }
        if let Init::Pending { waiters, .. } = &mut self.init {
            waiters.retain(|(session, _)| *session != key);
        }
        self.held.retain(|(session, _)| *session != key);
        let ended = self.mux.handle_session_end(key);
        for gateway_id in ended.cancelled {
            if let Some(span) = self.spans.remove(&gateway_id) {
                span.finish(Some((
                    i64::from(codes::SERVER_ERROR),
                    "client disconnected",
                )));
            }
            let mut frame = Vec::with_capacity(128);
            frame.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":");
            frame.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
            frame.extend_from_slice(b",\"reason\":\"client disconnected\"}}\n");
            self.send_to_child(frame);
        }
        for id in ended.unanswered {
            let mut frame = Vec::with_capacity(128);
            encode_error(
                &mut frame,
                Some(id.as_bytes()),
                codes::INTERNAL_ERROR,
                "client disconnected",
            );
            frame.push(b'\n');
            self.send_to_child(frame);
        }
    }

    /// Handles one message (or batch) a client sent. Returns how many
    /// requests it held: each will get exactly one answer on the session's
    /// outlet.
    pub(crate) fn handle_client_message(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
    ) -> Result<usize, ClientError> {
        if !self.outlets.contains_key(&key) {
            return Err(ClientError::NoSession);
        }
        match parse_message(bytes) {
            Ok(message) => Ok(self.accept_client_message(key, bytes, &message)),
            Err(MessageError::Batch) => {
                // JSON-RPC batches (MCP 2025-03-26): each element on its own.
                let elements = split_batch(bytes).map_err(ClientError::Malformed)?;
                if elements.is_empty() {
                    return Err(ClientError::Malformed(MessageError::Invalid("empty batch")));
                }
                let mut requests = 0usize;
                for range in elements {
                    let element = bytes.get(range).unwrap_or_default();
                    match parse_message(element) {
                        Ok(message) => {
                            let counted = self.accept_client_message(key, element, &message);
                            requests = requests.saturating_add(counted);
                        }
                        Err(err) => {
                            let mut frame = Vec::with_capacity(96);
                            encode_error(&mut frame, None, err.code(), &err.to_string());
                            self.deliver(key, Frame::response(frame));
                            requests = requests.saturating_add(1);
                        }
                    }
                }
                Ok(requests)
            }
            Err(err) => Err(ClientError::Malformed(err)),
        }
    }

    /// Relays one parsed message now, or holds it while `initialize` is at
    /// the child. Returns 1 for a request, else 0.
    fn accept_client_message(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> usize {
        let is_request = usize::from(message.kind == Kind::Request);
        let is_initialize = message.method.as_deref() == Some("initialize");
        if !is_initialize
            && matches!(self.init, Init::Pending { .. })
            && message.method.as_deref() != Some("ping")
        {
            if self.held.len() < MAX_HELD {
                self.held.push((key, bytes.to_vec()));
            } else if let Some(id) = &message.id {
                let message = "the MCP server is still initialising; try again";
                self.answer_error(key, &id.to_owned(), codes::SERVER_ERROR, message);
            }
            return is_request;
        }
        self.route_client_message(key, bytes, message);
        is_request
    }

    fn route_client_message(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        match message.kind {
            Kind::Request => self.route_client_request(key, bytes, message),
            Kind::Notification => match message.method.as_deref() {
                Some("notifications/initialized") => {
                    // Once per child: later clients were answered from the cache.
                    if !std::mem::replace(&mut self.initialized_sent, true) {
                        self.send_line_to_child(bytes);
                    }
                }
                Some("notifications/cancelled") => {
                    let Some((raw, span)) = &message.cancelled_id else {
                        return;
                    };
                    let id = raw.to_owned();
                    let gateway_id = match self.clients {
                        Clients::Separate => self.mux.handle_client_cancel(key, &id),
                        Clients::One => self.mux.handle_client_cancel_any(&id),
                        // Anonymous clients cancel by closing their stream.
                        Clients::Anonymous => None,
                    };
                    if let Some(gateway_id) = gateway_id {
                        let mut buf = [0; 20];
                        let new_id = write_u64(gateway_id, &mut buf);
                        self.splice_to_child(bytes, &[(span.clone(), new_id)]);
                    }
                }
                _ => self.send_line_to_child(bytes),
            },
            Kind::Response | Kind::ErrorResponse => {
                // A reply to a request of the child's.
                let Some(raw) = &message.id else { return };
                let id = raw.to_owned();
                let asked = match self.clients {
                    Clients::Separate => self.mux.handle_client_response(key, &id),
                    Clients::One | Clients::Anonymous => self.mux.handle_client_response_any(&id),
                };
                if asked {
                    self.send_line_to_child(bytes);
                } else {
                    tracing::debug!("session {key}: dropped a response nobody asked it for");
                }
            }
        }
    }

    fn route_client_request(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        let (Some(raw_id), Some(id_span)) = (&message.id, &message.id_span) else {
            return;
        };
        let client_id = raw_id.to_owned();
        let initialize = message.method.as_deref() == Some("initialize");
        if initialize {
            match &mut self.init {
                Init::Done(result) => {
                    let mut frame = Vec::with_capacity(result.len().saturating_add(48));
                    encode_result(&mut frame, client_id.as_bytes(), result);
                    self.deliver(key, Frame::response(frame));
                    return;
                }
                Init::Pending { waiters, .. } => {
                    waiters.push((key, client_id));
                    return;
                }
                Init::Idle => {}
            }
        }
        let token = message
            .progress_token
            .as_ref()
            .map(|(raw, _)| raw.to_owned());
        let outbound =
            match self
                .mux
                .handle_client_request(key, client_id.clone(), token, initialize)
            {
                Ok(outbound) => outbound,
                Err(err) => {
                    self.answer_error(key, &client_id, codes::INVALID_REQUEST, &err.to_string());
                    return;
                }
            };
        if initialize {
            self.init = Init::Pending {
                gateway_id: outbound.id,
                waiters: Vec::new(),
            };
            self.replay = Some((bytes.to_vec(), id_span.clone()));
        }
        let mut id_buf = [0; 20];
        let mut token_buf = [0; 20];
        let mut replacements: Vec<(Range<usize>, &[u8])> = Vec::with_capacity(2);
        replacements.push((id_span.clone(), write_u64(outbound.id, &mut id_buf)));
        if let (Some(token), Some((_, span))) = (outbound.progress_token, &message.progress_token) {
            replacements.push((span.clone(), write_u64(token, &mut token_buf)));
        }
        replacements.sort_by_key(|(range, _)| range.start);
        if let Err(err) = self.try_splice_to_child(bytes, &replacements) {
            self.mux.handle_abandoned(outbound.id);
            if initialize {
                self.init = Init::Idle;
                self.replay = None;
            }
            let message = match err {
                SendError::Busy => "the MCP server is not reading its input; try again later",
                SendError::Gone => "the MCP server has exited",
            };
            self.answer_error(key, &client_id, codes::SERVER_ERROR, message);
            return;
        }
        let method = message.method.as_deref().unwrap_or_default();
        let pid = self.child.as_ref().and_then(Child::pid);
        if let Some(span) = telemetry::rpc_span(method, client_id.as_bytes(), pid) {
            self.spans.insert(outbound.id, span);
        }
    }

    fn handle_child_line(&mut self, line: &[u8]) {
        let message = match parse_message(line) {
            Ok(message) => message,
            Err(err) => {
                let shown = String::from_utf8_lossy(line.get(..200).unwrap_or(line)).into_owned();
                tracing::warn!(
                    "dropped a line from the child that is not a JSON-RPC message ({err}): {shown}"
                );
                return;
            }
        };
        match message.kind {
            Kind::Response | Kind::ErrorResponse => self.route_child_response(line, &message),
            Kind::Request => {
                let Some(raw) = &message.id else { return };
                let outlets = &self.outlets;
                match self
                    .mux
                    .handle_child_request(raw.to_owned(), |key| outlets.contains_key(&key))
                {
                    Some(key) => self.deliver(key, Frame::other(line.to_vec())),
                    None => {
                        let mut frame = Vec::with_capacity(96);
                        encode_error(
                            &mut frame,
                            Some(raw.as_bytes()),
                            codes::INTERNAL_ERROR,
                            "no client is connected",
                        );
                        frame.push(b'\n');
                        self.send_to_child(frame);
                    }
                }
            }
            Kind::Notification => self.route_child_notification(line, &message),
        }
    }

    fn route_child_response(&mut self, line: &[u8], message: &Message<'_>) {
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            let shown = String::from_utf8_lossy(line.get(..200).unwrap_or(line)).into_owned();
            tracing::warn!("the child sent an error without a request id: {shown}");
            return;
        };
        // Our own ids are decimal numbers: parsed once here for the checks
        // below (the mux parses its own copy).
        let gateway_id = raw.to_owned().as_u64();
        let is_initialize = matches!(
            &self.init,
            Init::Pending { gateway_id: pending, .. } if gateway_id == Some(*pending)
        );
        if is_initialize {
            self.finish_initialize(line, message);
        }
        let Some(routed) = self.mux.handle_child_response(raw.as_bytes()) else {
            tracing::debug!("dropped a response for no request in flight");
            return;
        };
        if let Some(rpc) = gateway_id
            .filter(|_| !self.spans.is_empty())
            .and_then(|id| self.spans.remove(&id))
        {
            let error = (message.kind == Kind::ErrorResponse)
                .then(|| telemetry::error_of(line))
                .flatten();
            rpc.finish(error.as_ref().map(|(code, text)| (*code, text.as_str())));
        }
        let mut frame = Vec::with_capacity(line.len().saturating_add(16));
        if splice(&mut frame, line, &[(span.clone(), routed.id.as_bytes())]).is_ok() {
            self.deliver(routed.session, Frame::response(frame));
        }
    }

    /// The child answered an `initialize`: cache a result for later
    /// clients, and answer the ones that waited for it.
    fn finish_initialize(&mut self, line: &[u8], message: &Message<'_>) {
        let waiters = match std::mem::replace(&mut self.init, Init::Idle) {
            Init::Pending { waiters, .. } => waiters,
            other => {
                self.init = other;
                return;
            }
        };
        let result = message
            .result_span
            .clone()
            .and_then(|span| line.get(span))
            .map(<[u8]>::to_vec);
        if let Some(result) = &result {
            for (key, id) in &waiters {
                let mut frame = Vec::with_capacity(result.len().saturating_add(48));
                encode_result(&mut frame, id.as_bytes(), result);
                self.deliver(*key, Frame::response(frame));
            }
        } else {
            // The child refused: each waiter gets the same error.
            for (key, id) in &waiters {
                self.answer_error(
                    *key,
                    id,
                    codes::INTERNAL_ERROR,
                    "the MCP server failed to initialize",
                );
            }
        }
        match result {
            Some(result) => self.init = Init::Done(result),
            None => self.replay = None,
        }
        if self.self_initialized && !std::mem::replace(&mut self.initialized_sent, true) {
            self.send_to_child(
                b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n".to_vec(),
            );
        }
        for (key, bytes) in std::mem::take(&mut self.held) {
            if let Ok(message) = parse_message(&bytes) {
                self.route_client_message(key, &bytes, &message);
            }
        }
    }

    fn route_child_notification(&mut self, line: &[u8], message: &Message<'_>) {
        match message.method.as_deref() {
            Some("notifications/progress") => {
                let Some((raw, span)) = &message.progress_token else {
                    return;
                };
                let Some((key, client_token)) = self.mux.handle_child_progress(raw.as_bytes())
                else {
                    tracing::debug!("dropped progress for an unknown token");
                    return;
                };
                let mut frame = Vec::with_capacity(line.len().saturating_add(16));
                if splice(&mut frame, line, &[(span.clone(), client_token.as_bytes())]).is_ok() {
                    self.deliver(key, Frame::other(frame));
                }
            }
            Some("notifications/cancelled") => {
                // The child withdraws a request it sent to a client.
                let Some((raw, _)) = &message.cancelled_id else {
                    return;
                };
                if let Some(key) = self.mux.handle_child_cancel(&raw.to_owned()) {
                    self.deliver(key, Frame::other(line.to_vec()));
                }
            }
            Some("notifications/message") if self.clients != Clients::Separate => {
                // Streamable HTTP sends each message on exactly one stream:
                // a log line the child writes while working on a request
                // goes to that request's stream.
                let outlets = &self.outlets;
                match self.mux.busiest(|key| outlets.contains_key(&key)) {
                    Some(key) => self.deliver(key, Frame::other(line.to_vec())),
                    None => self.broadcast(line),
                }
            }
            _ => self.broadcast(line),
        }
    }

    fn broadcast(&mut self, line: &[u8]) {
        let shared: Rc<[u8]> = Rc::from(line);
        let mut overflowed = Vec::new();
        for (key, registered) in self
            .outlets
            .iter()
            .filter(|(_, registered)| registered.standalone)
        {
            let frame = Frame {
                bytes: FrameBytes::Shared(Rc::clone(&shared)),
                is_response: false,
            };
            if registered.outlet.try_send(frame).is_err() {
                overflowed.push(*key);
            }
        }
        for key in overflowed {
            self.drop_slow_session(key);
        }
    }

    /// Queues `frame` for `key`. A client whose queue is full is too slow
    /// to keep up: it is disconnected, and nobody else waits for it.
    fn deliver(&mut self, key: SessionKey, frame: Frame) {
        let Some(registered) = self.outlets.get(&key) else {
            return;
        };
        match registered.outlet.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.drop_slow_session(key),
            Err(TrySendError::Closed(_)) => self.close_session(key),
        }
    }

    fn drop_slow_session(&mut self, key: SessionKey) {
        tracing::warn!(
            "session {key}: client is not reading its stream fast enough; disconnecting it"
        );
        self.close_session(key);
    }

    fn answer_error(&mut self, key: SessionKey, id: &Id, code: i32, message: &str) {
        let mut frame = Vec::with_capacity(96);
        encode_error(&mut frame, Some(id.as_bytes()), code, message);
        self.deliver(key, Frame::response(frame));
    }

    fn handle_child_exit(&mut self, code: i32) {
        self.exited = Some(code);
        let message = format!("the MCP server exited (code {code})");
        for (_, span) in self.spans.drain() {
            span.finish(Some((i64::from(codes::SERVER_ERROR), &message)));
        }
        for (key, id) in self.mux.drain() {
            self.answer_error(key, &id, codes::SERVER_ERROR, &message);
        }
        if let Init::Pending { waiters, .. } = std::mem::replace(&mut self.init, Init::Idle) {
            for (key, id) in waiters {
                self.answer_error(key, &id, codes::SERVER_ERROR, &message);
            }
        }
        // Closing the queues ends every stream once it has been drained.
        self.held.clear();
        for (_, registered) in self.outlets.drain() {
            registered.outlet.sender.close();
        }
    }

    fn send_line_to_child(&mut self, bytes: &[u8]) {
        let mut frame = Vec::with_capacity(bytes.len().saturating_add(1));
        frame.extend_from_slice(bytes);
        frame.push(b'\n');
        self.send_to_child(frame);
    }

    fn splice_to_child(&mut self, bytes: &[u8], replacements: &[(Range<usize>, &[u8])]) {
        if let Err(err) = self.try_splice_to_child(bytes, replacements) {
            tracing::warn!("could not relay a message to the child: {err:?}");
        }
    }

    fn try_splice_to_child(
        &mut self,
        bytes: &[u8],
        replacements: &[(Range<usize>, &[u8])],
    ) -> Result<(), SendError> {
        let mut frame = Vec::with_capacity(bytes.len().saturating_add(24));
        splice(&mut frame, bytes, replacements).map_err(|_| SendError::Gone)?;
        frame.push(b'\n');
        self.child.as_ref().ok_or(SendError::Gone)?.send(frame)
    }

    fn send_to_child(&mut self, frame: Vec<u8>) {
        let Some(child) = &self.child else { return };
        if let Err(err) = child.send(frame) {
            tracing::warn!("could not relay a message to the child: {err:?}");
        }
    }
}

/// Spawns `spec` as `link`'s child number `generation`. The callbacks hold
/// the link weakly (the link owns the child; the child's tasks must not own
/// the link) and do nothing once a restart has replaced this child.
fn spawn_child(link: &Rc<RefCell<Link>>, spec: &ChildSpec, generation: u64) -> io::Result<Child> {
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    let on_line = move |line: &[u8]| {
        if let Some(link) = weak.upgrade() {
            let mut link = link.borrow_mut();
            if link.generation == generation {
                link.handle_child_line(line);
            }
        }
    };
    let weak: Weak<RefCell<Link>> = Rc::downgrade(link);
    Child::spawn(spec, on_line, move |code| {
        let Some(link) = weak.upgrade() else { return };
        let on_exit = {
            let mut link = link.borrow_mut();
            if link.generation != generation {
                return; // replaced by a restart: nobody is told
            }
            link.handle_child_exit(code);
            link.on_exit.take()
        };
        if let Some(on_exit) = on_exit {
            on_exit(code);
        }
    })
}
