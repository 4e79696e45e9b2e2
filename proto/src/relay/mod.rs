//! The relay core: many client sessions, one stdio child, as a
//! deterministic state machine (sans-IO, quinn-proto style).
//!
//! The driver (the binary's `gateway::link`) owns the child process and the
//! transports. It feeds the relay *verbs* — a session opens or closes
//! ([`Relay::open_session`], [`Relay::close_session`]), a client sends a
//! message ([`Relay::handle_client_message`]), the child writes a line
//! ([`Relay::handle_child_line`]), exits ([`Relay::handle_child_exit`]) or is
//! replaced ([`Relay::handle_child_restart`]) — and carries out what the
//! relay then has for it:
//!
//! - [`Relay::poll_child_transmit`]: bytes for the child's stdin (whole
//!   lines). Changed by every verb that relays a client message, by
//!   session closes (cancellations), by child requests nobody may answer,
//!   and by restarts (the `initialize` replay).
//! - [`Relay::poll_frame`]: the next message for a session. Changed by
//!   child lines, by the relay's own answers (errors, cached `initialize`),
//!   by exits and restarts (in-flight requests answered with errors).
//! - [`Relay::poll_event`]: what the driver must act on: a queue became
//!   non-empty (wake the writer), a session was closed by the relay, a
//!   request started or finished (spans), something to log once.
//!
//! No I/O, no clock, no logging, no randomness of its own (the driver
//! passes a CSPRNG source in): the same verbs give the same actions.
//!
//! # Routing rules
//!
//! - Client request ids travel to the child as fresh decimal gateway ids
//!   ([`crate::mux`]); the answer gets the client's id back byte for byte.
//!   Progress tokens and `notifications/cancelled` ids likewise.
//! - The first `initialize` goes to the child; while it is there, other
//!   sessions' `initialize` wait for it and their other messages (except
//!   `ping`) are held, then relayed in order. Later `initialize` requests
//!   are answered from the cached result; `notifications/initialized`
//!   reaches the child once.
//! - A request from the child (sampling, elicitation, roots, ping) goes
//!   only to a session that can be shown to own it (see
//!   [`Relay::handle_child_line`]); the client sees it under a fresh
//!   128-bit token id, and only that session (or, with anonymous clients,
//!   a message presenting the token) may answer it.
//! - A client that cancels a request frees its table entry (the late answer
//!   is dropped); a session that ends has its requests cancelled at the
//!   child and the child's requests to it answered with errors.
//!
//! # Bounds
//!
//! Every queue holding client or child data is bounded in messages and in
//! bytes ([`Limits`]), per session and process-wide ([`Budget`]):
//! a session's queued frames, its held messages, its lines waiting for
//! the child and its saved ids all count against its own byte limit and
//! the process budget. A message that does not fit is refused before
//! anything is queued ([`ClientError::Busy`]); a batch is admitted whole or
//! refused whole. The relay's own error answers are never refused (they
//! are small and at most one per admitted request), so no client is ever
//! disconnected because of the gateway's own errors; a client whose queue
//! fills with the child's messages is too slow and is disconnected.
//!
//! # Eras
//!
//! [`Era`] names the protocol generation of a request and of the child.
//! The relay routes handshake-era (≤ 2025-11-25) traffic today; the era is
//! carried with each request so that translation for the 2026-07-28
//! revision can be added here.

mod queue;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::rc::Rc;

use crate::jsonrpc::{
    codes, encode_error, encode_result, encode_string, parse_message, splice, split_batch,
    write_u64, Id, Kind, Message, MessageError,
};
use crate::mux::Mux;

use queue::Outbox;
pub use queue::{Budget, Frame};

/// A session's key, chosen by the driver (unique per relay; a session that
/// moves to another relay keeps its key).
pub type SessionKey = u64;

/// The protocol generation of a request or of the child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Era {
    /// 2024-11-05 to 2025-11-25: `initialize` handshake, server→client
    /// requests.
    #[default]
    Handshake,
    /// 2026-07-28: stateless, `_meta` on every request, no server→client
    /// requests.
    Modern,
}

/// Who the sessions of a relay are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clients {
    /// Each session is a client of its own (SSE streams, WebSockets):
    /// notifications without a target go to every session; only the
    /// session asked may answer a child's request.
    Separate,
    /// Every session is a stream of one client (a stateful Streamable HTTP
    /// session): notifications without a target go to its standalone
    /// stream only; answers and cancellations may come on any stream.
    One,
    /// Sessions are single requests of clients the gateway cannot tell
    /// apart (stateless Streamable HTTP): notifications without a target
    /// have nowhere to go, a child's request may be answered by a message
    /// that presents its token, and cancellation is by closing the stream.
    Anonymous,
}

/// Bounds of one relay. Byte bounds are per session; the process-wide
/// bound is the [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Client requests in flight at the child, all sessions together.
    /// Default 65,536. Bounds the id table.
    pub max_in_flight: usize,
    /// Client messages held while `initialize` is at the child, all
    /// sessions together. Default 4,096.
    pub max_held: usize,
    /// Lines waiting for the child's stdin (the child is not reading).
    /// Default 4,096. Over it, client messages are refused as busy.
    pub max_child_lines: usize,
    /// Frames queued for one session plus the answers it is owed: a client
    /// cannot have more requests outstanding than its queue can take
    /// answers. Default 1,024.
    pub session_frames: usize,
    /// Bytes one session may hold in the gateway: its queued frames, held
    /// messages, lines waiting for the child and saved ids. Default 8 MiB.
    /// One frame is always accepted into an empty queue whatever its size,
    /// and the relay's own error answers (each under 200 bytes plus the
    /// client's id) may go past it.
    pub session_bytes: usize,
}

impl Limits {
    /// The defaults documented on each field.
    pub const DEFAULT: Self = Self {
        max_in_flight: 65_536,
        max_held: 4096,
        max_child_lines: 4096,
        session_frames: 1024,
        session_bytes: 8 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a relay is set up.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Who the sessions are.
    pub clients: Clients,
    /// Per-relay bounds.
    pub limits: Limits,
    /// Emit [`Event::RequestStarted`] / [`Event::RequestFinished`] (for
    /// tracing spans); off, the relay spends nothing on them.
    pub request_events: bool,
}

/// Why a client's message was refused as a whole. Nothing of it was
/// relayed or queued; the transport answers with this error.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The gateway cannot take it now (a queue or byte budget is full):
    /// JSON-RPC -32000, HTTP 503. The reason.
    Busy(&'static str),
    /// Not JSON, not a JSON-RPC message, a batch that does not fit as a
    /// whole, or an answer to a request nobody asked this session:
    /// HTTP 400 with this error's code.
    Malformed(MessageError),
    /// The session is unknown to this relay, or closed.
    NoSession,
}

impl ClientError {
    /// The JSON-RPC error code to answer with.
    pub fn code(&self) -> i32 {
        match self {
            Self::Busy(_) | Self::NoSession => codes::SERVER_ERROR,
            Self::Malformed(err) => err.code(),
        }
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Busy(why) => write!(f, "the gateway is busy: {why}; try again later"),
            Self::Malformed(err) => err.fmt(f),
            Self::NoSession => f.write_str("the session has ended"),
        }
    }
}

/// Something the driver acts on, in the order it happened.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Bytes are waiting for the child ([`Relay::poll_child_transmit`]);
    /// emitted when that queue becomes non-empty.
    ChildReady,
    /// A request reached the child (only with `request_events`).
    RequestStarted {
        /// The gateway id it travels under.
        request: u64,
        /// Its method.
        method: Box<str>,
        /// The client's id, as the client wrote it.
        client_id: Id,
        /// The request's era.
        era: Era,
    },
    /// A request that started has its answer, or will never get one from
    /// the child (`error` is then what the client was told).
    RequestFinished {
        /// The gateway id of [`Event::RequestStarted`].
        request: u64,
        /// The JSON-RPC error code and message, for error answers the
        /// relay made itself (the driver reads the child's own errors
        /// from the frame if it needs them).
        error: Option<(i32, Box<str>)>,
        /// The child answered with an error response.
        child_error: bool,
    },
    /// Worth a log line (each is emitted once per occurrence, and budget
    /// refusals once until the budget has room again).
    Report(Report),
    /// The relay closed this session (too slow, or the child exited): its
    /// queue takes no more frames, and once drained its transport ends.
    SessionClosed(SessionKey),
    /// Frames are waiting for this session ([`Relay::poll_frame`]);
    /// emitted when its queue becomes non-empty.
    SessionReady(SessionKey),
}

/// What a [`Event::Report`] is about.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The child sent a request while several clients could own it; it was
    /// answered with an error (`clients`: how many had requests in flight,
    /// or were open when none had).
    AmbiguousChildRequest {
        /// The candidate clients.
        clients: usize,
    },
    /// A line from the child that is not a JSON-RPC message was dropped.
    BadChildLine(MessageError),
    /// A client answered a child request it was not asked (dropped).
    ForeignAnswer(SessionKey),
    /// The child sent a request and no client is connected to answer it.
    NoClientForChildRequest,
    /// The process-wide byte budget refused a message (reported once until
    /// usage falls to half the budget).
    ProcessBudget {
        /// The budget, bytes.
        limit: usize,
    },
    /// The `initialize` kept from the first client is being replayed to a
    /// new child.
    Replaying,
    /// A session's byte or message bound refused a message (reported once
    /// until its queue empties).
    SessionBudget(SessionKey),
    /// A session's queue was full of the child's messages: the client is
    /// too slow and was disconnected.
    SlowClient(SessionKey),
}

impl core::fmt::Display for Report {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AmbiguousChildRequest { clients } => write!(
                f,
                "the MCP server sent a request while {clients} clients could be its addressee; \
                 answered it with an error (run servers that ask their clients things with \
                 --childPerSession or --stateful)"
            ),
            Self::BadChildLine(err) => {
                write!(
                    f,
                    "dropped a line from the child that is not a JSON-RPC message ({err})"
                )
            }
            Self::ForeignAnswer(session) => {
                write!(
                    f,
                    "session {session}: dropped an answer to a request it was not asked"
                )
            }
            Self::NoClientForChildRequest => {
                f.write_str("the MCP server sent a request and no client is connected to answer it")
            }
            Self::ProcessBudget { limit } => write!(
                f,
                "the process-wide memory budget ({limit} bytes, --maxBufferedBytes) is full; \
                 refusing messages until it drains"
            ),
            Self::Replaying => {
                f.write_str("replaying the client's initialize to the new MCP server")
            }
            Self::SessionBudget(session) => write!(
                f,
                "session {session}: its queues are full (--maxSessionBytes); refusing \
                 its messages until they drain"
            ),
            Self::SlowClient(session) => write!(
                f,
                "session {session}: client is not reading its stream fast enough; disconnecting it"
            ),
        }
    }
}

/// What clients get for their requests in flight when the child is
/// replaced (a runtime update restarted it, or moved their session).
pub const RESTARTED: &str = "the MCP server was restarted by a runtime update; retry the request";

/// A client's `initialize` request as the child got it, kept to initialise
/// a replacement child: the bytes, and the span of the id to replace.
pub type Replay = (Vec<u8>, Range<usize>);

/// A session taken out of a relay with its queued frames
/// ([`Relay::detach_session`]), to be opened on another relay.
#[derive(Debug)]
pub struct Detached {
    frames: VecDeque<Frame>,
    standalone: bool,
}

/// See the module documentation.
pub struct Relay {
    config: Config,
    budget: Budget,
    /// The driver's CSPRNG: 128 bits per child request token.
    random: Box<dyn FnMut() -> [u8; 16]>,
    mux: Mux<SessionKey>,
    sessions: HashMap<SessionKey, Session>,
    init: Init,
    /// The relay initialised the child itself: it sends
    /// `notifications/initialized` when the result arrives.
    self_initialized: bool,
    initialized_sent: bool,
    /// The `initialize` that initialised the child, replayed to a new one.
    replay: Option<Replay>,
    /// Client messages that arrived while `initialize` was at the child.
    held: VecDeque<Held>,
    /// Lines for the child's stdin, with the session charged for each.
    to_child: VecDeque<(Option<SessionKey>, Vec<u8>)>,
    /// Child requests delivered to a client, by the token the client sees.
    child_requests: HashMap<Token, ChildRequest>,
    /// The token of each child request, by the child's id (for the
    /// child's `notifications/cancelled`).
    child_tokens: HashMap<Id, Token>,
    /// Set once the child has exited.
    exited: Option<i32>,
    events: VecDeque<Event>,
    /// Counts sessions opened and requests sent, for "most recent".
    sequence: u64,
}

struct Session {
    /// Receives the notifications that belong to no request.
    standalone: bool,
    outbox: Outbox,
    /// Bytes of its held messages and of its lines waiting for the child.
    pending_bytes: usize,
    /// Answers it is owed for requests held or waiting for `initialize`
    /// (those in the mux are counted there).
    owed: usize,
    /// Closed by the relay: takes no more frames; drained, then gone.
    closing: bool,
    /// A budget refusal was reported and the queue has not emptied since.
    over_reported: bool,
    /// Sequence of its latest request or of its opening.
    last: u64,
}

struct Held {
    session: SessionKey,
    bytes: Vec<u8>,
    /// What holding it charges: its admission [`cost`] (its line and, for
    /// a request, its id-table entry), so that relaying it once
    /// `initialize` is answered stays within what was admitted.
    charged: usize,
}

enum Init {
    /// No `initialize` has reached the child yet (or the last one failed).
    Idle,
    /// One is at the child under `gateway_id`; these sessions' `initialize`
    /// wait for its result.
    Pending {
        gateway_id: u64,
        waiters: Vec<(SessionKey, Id)>,
    },
    /// The child's `InitializeResult` (the raw `result` value).
    Done(Vec<u8>),
}

/// The 32 lowercase hex digits of a child request's token.
type Token = [u8; 32];

struct ChildRequest {
    /// The child's own id, spliced back into the client's answer.
    child_id: Id,
    session: SessionKey,
}

impl Relay {
    /// A relay with no session, for a child that has just been spawned.
    /// `random` must return fresh CSPRNG output on every call.
    pub fn new(config: Config, budget: Budget, random: Box<dyn FnMut() -> [u8; 16]>) -> Self {
        Self {
            config,
            budget,
            random,
            mux: Mux::new(config.limits.max_in_flight),
            sessions: HashMap::new(),
            init: Init::Idle,
            self_initialized: false,
            initialized_sent: false,
            replay: None,
            held: VecDeque::new(),
            to_child: VecDeque::new(),
            child_requests: HashMap::new(),
            child_tokens: HashMap::new(),
            exited: None,
            events: VecDeque::new(),
            sequence: 0,
        }
    }

    // ----- verbs --------------------------------------------------------

    /// Registers a session. `standalone`: with [`Clients::One`], this is
    /// the stream for notifications that belong to no request (with
    /// `Separate` every session is, with `Anonymous` none). False when the
    /// child has exited or the key is taken.
    pub fn open_session(&mut self, key: SessionKey, standalone: bool) -> bool {
        self.open_with(key, standalone, VecDeque::new())
    }

    /// Opens a session detached from another relay on the same budget, with
    /// the frames it had queued there.
    pub fn open_detached(&mut self, key: SessionKey, detached: Detached) -> bool {
        self.open_with(key, detached.standalone, detached.frames)
    }

    /// The transport of `key` has ended: its queue is dropped, its requests
    /// in flight are cancelled at the child (not `initialize`), and the
    /// child's requests it was asked are answered with an error.
    pub fn close_session(&mut self, key: SessionKey) {
        if let Some(mut session) = self.sessions.remove(&key) {
            session.outbox.clear(&self.budget);
        }
        self.forget_session(key, "client disconnected");
    }

    /// Takes `key` out of this relay without ending its stream: its
    /// requests in flight (and held ones) are answered with `message`, those
    /// are cancelled at the child, and the session with its queued frames is
    /// returned, to be opened on another relay ([`Relay::open_detached`]).
    pub fn detach_session(&mut self, key: SessionKey, message: &str) -> Option<Detached> {
        if self
            .sessions
            .get(&key)
            .is_none_or(|session| session.closing)
        {
            return None;
        }
        for id in self.mux.in_flight_ids(key) {
            self.answer_error(key, &id, codes::SERVER_ERROR, message);
        }
        self.answer_waiters_of(key, message);
        self.answer_held_of(key, message);
        // Its lines already queued for the child stay queued (admitted).
        let mut session = self.sessions.remove(&key)?;
        self.forget_session(key, message);
        Some(Detached {
            frames: session.outbox.take(),
            standalone: session.standalone,
        })
    }

    /// Handles one message (or batch) a client sent on session `key`.
    /// Returns how many answers the session will receive for it (one per
    /// request, and one per invalid batch element), each on its queue.
    ///
    /// Refused whole (nothing relayed): not JSON-RPC, a key that differs
    /// from a routing key only in case, a batch whose elements do not all
    /// fit the queues and budgets (-32600), an answer to a request this
    /// session was not asked (-32600), no room ([`ClientError::Busy`]).
    pub fn handle_client_message(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
    ) -> Result<usize, ClientError> {
        if self
            .sessions
            .get(&key)
            .is_none_or(|session| session.closing)
        {
            return Err(ClientError::NoSession);
        }
        match parse_message(bytes) {
            Ok(message) => {
                if matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
                    return self.handle_client_answer(key, bytes, &message);
                }
                let answers = usize::from(message.kind == Kind::Request);
                self.admit(key, answers, cost(bytes, &message), 1)?;
                self.accept(key, bytes, &message);
                Ok(answers)
            }
            Err(MessageError::Batch) => self.handle_batch(key, bytes),
            Err(err) => Err(ClientError::Malformed(err)),
        }
    }

    /// Handles one line the child wrote to stdout (without its newline).
    ///
    /// Responses go to the session that asked, with its id back. A request
    /// of the child's goes to the session that owns it: with
    /// [`Clients::Separate`] and [`Clients::Anonymous`], the one session
    /// with requests in flight (or the only session open when none has);
    /// with [`Clients::One`], the client's busiest stream or its standalone
    /// stream. When that is ambiguous or nobody is there, the child gets an
    /// error answer and a [`Report`] says why: the relay never guesses.
    /// Progress goes to the owner of the token, `notifications/cancelled`
    /// to the session asked, `notifications/message` (Streamable HTTP) to
    /// the busiest stream, other notifications to every standalone session.
    pub fn handle_child_line(&mut self, line: &[u8]) {
        let message = match parse_message(line) {
            Ok(message) => message,
            Err(err) => {
                self.report(Report::BadChildLine(err));
                return;
            }
        };
        match message.kind {
            Kind::Response | Kind::ErrorResponse => self.route_child_response(line, &message),
            Kind::Request => self.route_child_request(line, &message),
            Kind::Notification => self.route_child_notification(line, &message),
        }
    }

    /// The child exited: every request in flight (and every held or
    /// waiting one) is answered with an error, lines for it are dropped,
    /// every session is closed (its queue drains first), and new sessions
    /// are refused.
    pub fn handle_child_exit(&mut self, code: i32) {
        if self.exited.is_some() {
            return;
        }
        let message = format!("the MCP server exited (code {code})");
        self.fail_everything(&message);
        self.exited = Some(code);
        let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
        for key in keys {
            if let Some(session) = self.sessions.get_mut(&key) {
                session.closing = true;
            }
            self.events.push_back(Event::SessionClosed(key));
        }
    }

    /// The child was replaced by a new one (a runtime update): lines queued
    /// for the old one are dropped, requests in flight get [`RESTARTED`],
    /// and the new child is initialised with the kept `initialize` (its
    /// answer swallowed) and `notifications/initialized`. Sessions stay.
    pub fn handle_child_restart(&mut self) {
        if self.exited.is_some() {
            return;
        }
        self.fail_everything(RESTARTED);
        self.initialized_sent = false;
        self.replay_initialize();
    }

    /// Initialises the child on behalf of clients that will not
    /// (stateless Streamable HTTP): `initialize` with `protocol_version`;
    /// later `initialize` requests are answered from its result.
    pub fn initialize_child(&mut self, protocol_version: &str) {
        if !matches!(self.init, Init::Idle) || self.exited.is_some() {
            return;
        }
        let gateway_id = self.mux.reserve_id();
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        let id_start = line.len();
        line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
        let id_end = line.len();
        line.extend_from_slice(b",\"method\":\"initialize\",\"params\":{\"protocolVersion\":");
        encode_string(&mut line, protocol_version);
        line.extend_from_slice(b",\"capabilities\":{\"sampling\":{},\"elicitation\":{},\"roots\":{\"listChanged\":true}},\"clientInfo\":{\"name\":\"supergateway\",\"version\":\"");
        line.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        line.extend_from_slice(b"\"}}}");
        self.replay = Some((line.clone(), id_start..id_end));
        self.self_initialized = true;
        self.init = Init::Pending {
            gateway_id,
            waiters: Vec::new(),
        };
        line.push(b'\n');
        self.queue_to_child(None, line);
    }

    /// Starts from the `initialize` another relay's child got (its answer
    /// is swallowed), so that sessions moved here find the child
    /// initialised.
    pub fn replay_from(&mut self, replay: Replay) {
        self.replay = Some(replay);
        self.replay_initialize();
    }

    // ----- outputs ------------------------------------------------------

    /// Appends lines waiting for the child to `out`, at least one and then
    /// as many as fit in `max` bytes; false when there were none. Their
    /// bytes are given back to the budgets.
    #[must_use]
    pub fn poll_child_transmit(&mut self, out: &mut Vec<u8>, max: usize) -> bool {
        let mut any = false;
        while let Some((_, line)) = self.to_child.front() {
            if any && out.len().saturating_add(line.len()) > max {
                break;
            }
            let Some((session, line)) = self.to_child.pop_front() else {
                break;
            };
            out.extend_from_slice(&line);
            self.budget.release(line.len());
            if let Some(session) = session.and_then(|key| self.sessions.get_mut(&key)) {
                session.pending_bytes = session.pending_bytes.saturating_sub(line.len());
            }
            any = true;
        }
        any
    }

    /// The next frame for session `key`, if one is queued.
    #[must_use]
    pub fn poll_frame(&mut self, key: SessionKey) -> Option<Frame> {
        let session = self.sessions.get_mut(&key)?;
        let frame = session.outbox.pop(&self.budget)?;
        if session.outbox.is_empty() {
            session.over_reported = false;
        }
        Some(frame)
    }

    /// The next event for the driver.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- queries ------------------------------------------------------

    /// True when `key`'s transport should end: the session is unknown, or
    /// the relay closed it and its queue is empty.
    pub fn is_session_finished(&self, key: SessionKey) -> bool {
        self.sessions
            .get(&key)
            .is_none_or(|session| session.closing && session.outbox.is_empty())
    }

    /// The child's exit code, once it has exited.
    pub fn exit_code(&self) -> Option<i32> {
        self.exited
    }

    /// The `initialize` to replay to another child, once the child has
    /// answered it.
    pub fn replay_request(&self) -> Option<Replay> {
        matches!(self.init, Init::Done(_))
            .then(|| self.replay.clone())
            .flatten()
    }

    /// Sessions registered (closing ones included).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Client requests in flight at the child.
    pub fn in_flight(&self) -> usize {
        self.mux.in_flight()
    }

    /// Bytes `key` holds in this relay (queued frames, held messages,
    /// lines waiting for the child, saved ids).
    pub fn session_bytes(&self, key: SessionKey) -> usize {
        self.sessions.get(&key).map_or(0, |session| {
            session
                .outbox
                .bytes()
                .saturating_add(session.pending_bytes)
                .saturating_add(self.mux.weight_of(key))
        })
    }

    /// The process budget this relay charges.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    // ----- client side --------------------------------------------------

    fn open_with(&mut self, key: SessionKey, standalone: bool, frames: VecDeque<Frame>) -> bool {
        if self.exited.is_some() || self.sessions.contains_key(&key) {
            return false;
        }
        let standalone = match self.config.clients {
            Clients::Separate => true,
            Clients::One => standalone,
            Clients::Anonymous => false,
        };
        let last = self.bump_sequence();
        let mut outbox = Outbox::default();
        let ready = !frames.is_empty();
        for frame in frames {
            outbox.push(frame);
        }
        self.sessions.insert(
            key,
            Session {
                standalone,
                outbox,
                pending_bytes: 0,
                owed: 0,
                closing: false,
                over_reported: false,
                last,
            },
        );
        self.mux.handle_session_open(key);
        if ready {
            self.events.push_back(Event::SessionReady(key));
        }
        true
    }

    /// Checks that `answers` more answers, `bytes` more bytes and `lines`
    /// more lines for the child fit session `key` and the process.
    fn admit(
        &mut self,
        key: SessionKey,
        answers: usize,
        bytes: usize,
        lines: usize,
    ) -> Result<(), ClientError> {
        let limits = self.config.limits;
        let Some(session) = self.sessions.get(&key) else {
            return Err(ClientError::NoSession);
        };
        let owed = session
            .owed
            .saturating_add(self.mux.in_flight_for(key))
            .saturating_add(session.outbox.len())
            .saturating_add(answers);
        if owed > limits.session_frames {
            return Err(self.session_refusal(key, "too many requests outstanding"));
        }
        if self.mux.in_flight().saturating_add(answers) > limits.max_in_flight {
            return Err(ClientError::Busy("too many requests in flight"));
        }
        let queued_lines = self.to_child.len().saturating_add(self.held.len());
        if queued_lines.saturating_add(lines) > limits.max_child_lines {
            return Err(ClientError::Busy("the MCP server is not reading its input"));
        }
        if self.session_bytes(key).saturating_add(bytes) > limits.session_bytes {
            return Err(self.session_refusal(key, "this client's queues are full"));
        }
        if !self.budget.has_room(bytes) {
            if self.budget.try_charge(bytes) == Err(true) {
                let limit = self.budget.limit();
                self.report(Report::ProcessBudget { limit });
            }
            return Err(ClientError::Busy("the gateway's memory budget is full"));
        }
        Ok(())
    }

    fn session_refusal(&mut self, key: SessionKey, why: &'static str) -> ClientError {
        if let Some(session) = self.sessions.get_mut(&key) {
            if !std::mem::replace(&mut session.over_reported, true) {
                self.events
                    .push_back(Event::Report(Report::SessionBudget(key)));
            }
        }
        ClientError::Busy(why)
    }

    fn handle_batch(&mut self, key: SessionKey, bytes: &[u8]) -> Result<usize, ClientError> {
        // JSON-RPC batches (MCP 2025-03-26): admitted whole or not at all.
        let elements = split_batch(bytes).map_err(ClientError::Malformed)?;
        if elements.len() > self.config.limits.session_frames {
            return Err(ClientError::Malformed(MessageError::Invalid(
                "batch has more elements than the gateway queues for one client",
            )));
        }
        let (mut answers, mut bytes_needed) = (0usize, 0usize);
        for range in &elements {
            let element = bytes.get(range.clone()).unwrap_or_default();
            let (answer, needed) = match parse_message(element) {
                Ok(message) => (
                    usize::from(message.kind == Kind::Request),
                    cost(element, &message),
                ),
                Err(_) => (1, 0),
            };
            answers = answers.saturating_add(answer);
            bytes_needed = bytes_needed.saturating_add(needed);
        }
        self.admit(key, answers, bytes_needed, elements.len())
            .map_err(|_| {
                ClientError::Malformed(MessageError::Invalid(
                    "batch does not fit the gateway's queues; send fewer or smaller messages",
                ))
            })?;
        for range in elements {
            let element = bytes.get(range).unwrap_or_default();
            match parse_message(element) {
                Ok(message) if matches!(message.kind, Kind::Response | Kind::ErrorResponse) => {
                    // An answer inside a batch: relayed if this session was
                    // asked, else dropped (it has no id to answer).
                    let _ = self.handle_client_answer(key, element, &message);
                }
                Ok(message) => self.accept(key, element, &message),
                Err(err) => {
                    let mut frame = Vec::with_capacity(96);
                    encode_error(&mut frame, None, err.code(), &err.to_string());
                    self.push_own(key, Frame::response(frame));
                }
            }
        }
        Ok(answers)
    }

    /// Relays one admitted request or notification now, or holds it while
    /// `initialize` is at the child.
    fn accept(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        let method = message.method.as_deref();
        let is_initialize = method == Some("initialize");
        if !is_initialize && matches!(self.init, Init::Pending { .. }) && method != Some("ping") {
            if self.held.len() < self.config.limits.max_held {
                let charged = cost(bytes, message);
                self.held.push_back(Held {
                    session: key,
                    bytes: bytes.to_vec(),
                    charged,
                });
                self.budget.charge(charged);
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.pending_bytes = session.pending_bytes.saturating_add(charged);
                    if message.kind == Kind::Request {
                        session.owed = session.owed.saturating_add(1);
                    }
                }
            } else if let Some(id) = &message.id {
                let why = "the MCP server is still initialising; try again";
                self.answer_error(key, &id.to_owned(), codes::SERVER_ERROR, why);
            }
            return;
        }
        self.route_client_message(key, bytes, message);
    }

    fn route_client_message(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        match message.kind {
            Kind::Request => self.route_client_request(key, bytes, message),
            Kind::Notification => match message.method.as_deref() {
                Some("notifications/initialized") => {
                    // Once per child: later clients were answered from the cache.
                    if !std::mem::replace(&mut self.initialized_sent, true) {
                        self.queue_line(Some(key), bytes);
                    }
                }
                Some("notifications/cancelled") => self.route_client_cancel(key, bytes, message),
                _ => self.queue_line(Some(key), bytes),
            },
            // Answers are handled before admission; none is held.
            Kind::Response | Kind::ErrorResponse => {}
        }
    }

    fn route_client_cancel(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        let Some((raw, span)) = &message.cancelled_id else {
            return;
        };
        let id = raw.to_owned();
        let gateway_id = match self.config.clients {
            Clients::Separate => self.mux.handle_client_cancel(key, &id),
            Clients::One => self.mux.handle_client_cancel_any(&id),
            // Anonymous clients cancel by closing their stream.
            Clients::Anonymous => None,
        };
        let Some(gateway_id) = gateway_id else { return };
        // The entry is freed now: request + cancel cannot fill the table,
        // and the child's late answer (if any) is dropped.
        let weight_before = self.mux.weight();
        self.mux.handle_abandoned(gateway_id);
        self.budget
            .release(weight_before.saturating_sub(self.mux.weight()));
        self.finish_request(gateway_id, Some((codes::SERVER_ERROR, "cancelled")), false);
        let mut buf = [0; 20];
        let new_id = write_u64(gateway_id, &mut buf);
        self.splice_to_child(Some(key), bytes, &[(span.clone(), new_id)]);
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
                    self.push_own(key, Frame::response(frame));
                    return;
                }
                Init::Pending { waiters, .. } => {
                    waiters.push((key, client_id));
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.owed = session.owed.saturating_add(1);
                    }
                    return;
                }
                Init::Idle => {}
            }
        }
        let token = message
            .progress_token
            .as_ref()
            .map(|(raw, _)| raw.to_owned());
        let weight_before = self.mux.weight();
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
        self.budget
            .charge(self.mux.weight().saturating_sub(weight_before));
        let last = self.bump_sequence();
        if let Some(session) = self.sessions.get_mut(&key) {
            session.last = last;
        }
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
        self.splice_to_child(Some(key), bytes, &replacements);
        if self.config.request_events {
            self.events.push_back(Event::RequestStarted {
                request: outbound.id,
                method: message.method.as_deref().unwrap_or_default().into(),
                client_id,
                era: Era::Handshake,
            });
        }
    }

    /// A client answers a request of the child's: relayed with the child's
    /// id back if this session may answer that token, else refused.
    fn handle_client_answer(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> Result<usize, ClientError> {
        let foreign = ClientError::Malformed(MessageError::Invalid(
            "no request of the server's with this id awaits this client's answer",
        ));
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            return Err(foreign);
        };
        let Some(token) = parse_token(raw.as_bytes()) else {
            self.report(Report::ForeignAnswer(key));
            return Err(foreign);
        };
        let allowed = self.child_requests.get(&token).is_some_and(|request| {
            request.session == key || self.config.clients != Clients::Separate
        });
        if !allowed {
            self.report(Report::ForeignAnswer(key));
            return Err(foreign);
        }
        self.admit(key, 0, cost(bytes, message), 1)?;
        let Some(request) = self.child_requests.remove(&token) else {
            return Err(foreign);
        };
        self.child_tokens.remove(&request.child_id);
        self.splice_to_child(
            Some(key),
            bytes,
            &[(span.clone(), request.child_id.as_bytes())],
        );
        Ok(0)
    }

    // ----- child side ---------------------------------------------------

    fn route_child_response(&mut self, line: &[u8], message: &Message<'_>) {
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            return;
        };
        let is_initialize = matches!(
            &self.init,
            Init::Pending { gateway_id, .. } if parse_decimal(raw.as_bytes()) == Some(*gateway_id)
        );
        if is_initialize {
            self.finish_initialize(line, message);
        }
        let weight_before = self.mux.weight();
        let Some(routed) = self.mux.handle_child_response(raw.as_bytes()) else {
            return; // a late answer to a cancelled request, or ours
        };
        self.budget
            .release(weight_before.saturating_sub(self.mux.weight()));
        if self.config.request_events {
            if let Some(request) = parse_decimal(raw.as_bytes()) {
                let child_error = message.kind == Kind::ErrorResponse;
                self.finish_request(request, None, child_error);
            }
        }
        let mut frame = Vec::with_capacity(line.len().saturating_add(16));
        if splice(&mut frame, line, &[(span.clone(), routed.id.as_bytes())]).is_ok() {
            self.push_answer(routed.session, &routed.id, frame);
        }
    }

    /// The child answered an `initialize`: cache the result for later
    /// clients, answer the ones that waited, relay the held messages.
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
        for (key, id) in &waiters {
            self.settle_owed(*key);
            match &result {
                Some(result) => {
                    let mut frame = Vec::with_capacity(result.len().saturating_add(48));
                    encode_result(&mut frame, id.as_bytes(), result);
                    self.push_own(*key, Frame::response(frame));
                }
                None => self.answer_error(
                    *key,
                    id,
                    codes::INTERNAL_ERROR,
                    "the MCP server failed to initialize",
                ),
            }
        }
        match result {
            Some(result) => self.init = Init::Done(result),
            None => self.replay = None,
        }
        if self.self_initialized && !std::mem::replace(&mut self.initialized_sent, true) {
            self.queue_to_child(
                None,
                b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n".to_vec(),
            );
        }
        for held in std::mem::take(&mut self.held) {
            self.unhold(&held);
            if self.sessions.get(&held.session).is_some_and(|s| !s.closing) {
                if let Ok(message) = parse_message(&held.bytes) {
                    self.route_client_message(held.session, &held.bytes, &message);
                }
            }
        }
    }

    fn route_child_request(&mut self, line: &[u8], message: &Message<'_>) {
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            return;
        };
        let child_id = raw.to_owned();
        let owner = match self.owner_of_child_request() {
            Ok(owner) => owner,
            Err(report) => {
                self.report(report);
                let mut answer = Vec::with_capacity(160);
                encode_error(
                    &mut answer,
                    Some(child_id.as_bytes()),
                    codes::INTERNAL_ERROR,
                    "the gateway cannot tell which client this request is for",
                );
                answer.push(b'\n');
                self.queue_to_child(None, answer);
                return;
            }
        };
        let token = self.fresh_token();
        let mut quoted = [0u8; 34];
        quoted[0] = b'"';
        quoted[33] = b'"';
        if let Some(inner) = quoted.get_mut(1..33) {
            inner.copy_from_slice(&token);
        }
        let mut frame = Vec::with_capacity(line.len().saturating_add(34));
        if splice(&mut frame, line, &[(span.clone(), &quoted)]).is_err() {
            return;
        }
        if let Some(old) = self.child_tokens.insert(child_id.clone(), token) {
            // The child reused an id still pending: the older one is lost.
            self.child_requests.remove(&old);
        }
        self.child_requests.insert(
            token,
            ChildRequest {
                child_id,
                session: owner,
            },
        );
        if !self.push_child_message(owner, Frame::other(frame), false) {
            // Not delivered (the budget refused it, or the client was just
            // dropped as slow): answer the child now rather than leave it
            // waiting for an answer no client can give, and forget the
            // token so that a later cancellation reaches nobody.
            if let Some(request) = self.child_requests.remove(&token) {
                self.child_tokens.remove(&request.child_id);
                let mut answer = Vec::with_capacity(160);
                encode_error(
                    &mut answer,
                    Some(request.child_id.as_bytes()),
                    codes::INTERNAL_ERROR,
                    "the gateway could not deliver this request to its client",
                );
                answer.push(b'\n');
                self.queue_to_child(None, answer);
            }
        }
    }

    /// Who may be asked a request the child sends now (see
    /// [`Relay::handle_child_line`]).
    fn owner_of_child_request(&self) -> Result<SessionKey, Report> {
        let open = || {
            self.sessions
                .iter()
                .filter(|(_, session)| !session.closing)
                .map(|(key, session)| (*key, session))
        };
        let busy: Vec<(SessionKey, u64)> = open()
            .filter(|(key, session)| self.mux.in_flight_for(*key) > 0 || session.owed > 0)
            .map(|(key, session)| (key, session.last))
            .collect();
        match self.config.clients {
            Clients::One => {
                // One client: its most recently busy stream, else its
                // standalone stream.
                busy.iter()
                    .max_by_key(|(_, last)| *last)
                    .map(|(key, _)| *key)
                    .or_else(|| {
                        open()
                            .filter(|(_, session)| session.standalone)
                            .max_by_key(|(_, session)| session.last)
                            .map(|(key, _)| key)
                    })
                    .ok_or(Report::NoClientForChildRequest)
            }
            Clients::Separate | Clients::Anonymous => match busy.as_slice() {
                [(key, _)] => Ok(*key),
                [] => {
                    let idle: Vec<SessionKey> = open().map(|(key, _)| key).collect();
                    match idle.as_slice() {
                        [key] if self.config.clients == Clients::Separate => Ok(*key),
                        [] => Err(Report::NoClientForChildRequest),
                        many => Err(Report::AmbiguousChildRequest {
                            clients: many.len(),
                        }),
                    }
                }
                many => Err(Report::AmbiguousChildRequest {
                    clients: many.len(),
                }),
            },
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
                    return;
                };
                let mut frame = Vec::with_capacity(line.len().saturating_add(16));
                if splice(&mut frame, line, &[(span.clone(), client_token.as_bytes())]).is_ok() {
                    self.push_child_message(key, Frame::other(frame), false);
                }
            }
            Some("notifications/cancelled") => {
                // The child withdraws a request it sent to a client.
                let Some((raw, span)) = &message.cancelled_id else {
                    return;
                };
                let Some(token) = self.child_tokens.remove(&raw.to_owned()) else {
                    return;
                };
                let Some(request) = self.child_requests.remove(&token) else {
                    return;
                };
                let mut quoted = Vec::with_capacity(34);
                quoted.push(b'"');
                quoted.extend_from_slice(&token);
                quoted.push(b'"');
                let mut frame = Vec::with_capacity(line.len().saturating_add(34));
                if splice(&mut frame, line, &[(span.clone(), &quoted)]).is_ok() {
                    self.push_child_message(request.session, Frame::other(frame), false);
                }
            }
            Some("notifications/message") if self.config.clients != Clients::Separate => {
                // Streamable HTTP sends each message on exactly one stream:
                // a log line the child writes while working on a request
                // goes to that request's stream.
                let sessions = &self.sessions;
                match self
                    .mux
                    .busiest(|key| sessions.get(&key).is_some_and(|s| !s.closing))
                {
                    Some(key) => {
                        self.push_child_message(key, Frame::other(line.to_vec()), false);
                    }
                    None => self.broadcast(line),
                }
            }
            _ => self.broadcast(line),
        }
    }

    fn broadcast(&mut self, line: &[u8]) {
        let targets: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.standalone && !session.closing)
            .map(|(key, _)| *key)
            .collect();
        if targets.is_empty() {
            return;
        }
        // One buffer for all, charged to the process budget once.
        if let Err(first) = self.budget.try_charge(line.len()) {
            if first {
                let limit = self.budget.limit();
                self.report(Report::ProcessBudget { limit });
            }
            return;
        }
        let shared: Rc<[u8]> = Rc::from(line);
        for key in targets {
            self.push_child_message(key, Frame::shared(&shared), true);
        }
        // If every session refused it, the budget gets the bytes back here.
        if Rc::strong_count(&shared) == 1 {
            self.budget.release(line.len());
        }
    }

    // ----- queues -------------------------------------------------------

    /// Queues a message from the child for `key`. A client whose queue is
    /// full (in messages, or in bytes with something already queued) is too
    /// slow: it is disconnected. `charged`: the process budget already
    /// counts the bytes (a shared broadcast buffer). True when queued.
    fn push_child_message(&mut self, key: SessionKey, frame: Frame, charged: bool) -> bool {
        let limits = self.config.limits;
        let session_bytes = self.session_bytes(key);
        let Some(session) = self.sessions.get(&key).filter(|s| !s.closing) else {
            return false;
        };
        let full = session.outbox.len() >= limits.session_frames
            || (!session.outbox.is_empty()
                && session_bytes.saturating_add(frame.len()) > limits.session_bytes);
        if full {
            self.drop_slow_session(key);
            return false;
        }
        if !charged {
            if let Err(first) = self.budget.try_charge(frame.len()) {
                if first {
                    let limit = self.budget.limit();
                    self.report(Report::ProcessBudget { limit });
                }
                return false;
            }
        }
        self.push(key, frame);
        true
    }

    /// Queues the child's answer for `key`; if the process budget cannot
    /// take it, the client gets an error answer instead.
    fn push_answer(&mut self, key: SessionKey, id: &Id, frame: Vec<u8>) {
        let limits = self.config.limits;
        let session_bytes = self.session_bytes(key);
        let Some(session) = self.sessions.get(&key).filter(|s| !s.closing) else {
            return;
        };
        let too_slow = !session.outbox.is_empty()
            && (session.outbox.len() >= limits.session_frames
                || session_bytes.saturating_add(frame.len()) > limits.session_bytes);
        if too_slow {
            self.drop_slow_session(key);
            return;
        }
        match self.budget.try_charge(frame.len()) {
            Ok(()) => self.push(key, Frame::response(frame)),
            Err(first) => {
                if first {
                    let limit = self.budget.limit();
                    self.report(Report::ProcessBudget { limit });
                }
                let why = "the answer does not fit the gateway's memory budget";
                self.answer_error(key, id, codes::INTERNAL_ERROR, why);
            }
        }
    }

    /// Queues one of the relay's own frames (an error, a cached result):
    /// never refused, so that a client is never dropped for them.
    fn push_own(&mut self, key: SessionKey, frame: Frame) {
        if self.sessions.get(&key).is_some_and(|s| !s.closing) {
            self.budget.charge(frame.len());
            self.push(key, frame);
        }
    }

    fn push(&mut self, key: SessionKey, frame: Frame) {
        if let Some(session) = self.sessions.get_mut(&key) {
            if session.outbox.is_empty() {
                self.events.push_back(Event::SessionReady(key));
            }
            session.outbox.push(frame);
        }
    }

    fn drop_slow_session(&mut self, key: SessionKey) {
        self.report(Report::SlowClient(key));
        if let Some(session) = self.sessions.get_mut(&key) {
            session.closing = true;
            session.outbox.clear(&self.budget);
        }
        self.answer_waiters_of(key, "client disconnected");
        self.answer_held_of(key, "client disconnected");
        self.forget_session(key, "client disconnected");
        self.events.push_back(Event::SessionClosed(key));
    }

    fn answer_error(&mut self, key: SessionKey, id: &Id, code: i32, message: &str) {
        let mut frame = Vec::with_capacity(message.len().saturating_add(80));
        encode_error(&mut frame, Some(id.as_bytes()), code, message);
        self.push_own(key, Frame::response(frame));
    }

    fn queue_line(&mut self, session: Option<SessionKey>, bytes: &[u8]) {
        let mut line = Vec::with_capacity(bytes.len().saturating_add(1));
        line.extend_from_slice(bytes);
        line.push(b'\n');
        self.queue_to_child(session, line);
    }

    fn splice_to_child(
        &mut self,
        session: Option<SessionKey>,
        bytes: &[u8],
        replacements: &[(Range<usize>, &[u8])],
    ) {
        let mut line = Vec::with_capacity(bytes.len().saturating_add(40));
        if splice(&mut line, bytes, replacements).is_ok() {
            line.push(b'\n');
            self.queue_to_child(session, line);
        }
    }

    /// Queues a line for the child (admitted by the caller, or the relay's
    /// own: never refused).
    fn queue_to_child(&mut self, session: Option<SessionKey>, line: Vec<u8>) {
        if self.exited.is_some() {
            return;
        }
        self.budget.charge(line.len());
        if let Some(session) = session.and_then(|key| self.sessions.get_mut(&key)) {
            session.pending_bytes = session.pending_bytes.saturating_add(line.len());
        }
        if self.to_child.is_empty() {
            self.events.push_back(Event::ChildReady);
        }
        self.to_child.push_back((session, line));
    }

    // ----- endings ------------------------------------------------------

    /// Forgets what the mux and the child-request table hold for `key`:
    /// its requests are cancelled at the child, the child's requests to it
    /// answered with an error.
    fn forget_session(&mut self, key: SessionKey, reason: &str) {
        if let Init::Pending {
            waiters,
            gateway_id,
        } = &mut self.init
        {
            waiters.retain(|(session, _)| *session != key);
            // Its own `initialize` stays at the child (never cancelled: the
            // answer is still cached for the others), but nobody waits for
            // it any more: its span ends here.
            let gateway_id = *gateway_id;
            if self.mux.session_of(gateway_id) == Some(key) {
                self.finish_request(gateway_id, Some((codes::SERVER_ERROR, reason)), false);
            }
        }
        let held_bytes: usize = self
            .held
            .iter()
            .filter(|held| held.session == key)
            .map(|held| held.charged)
            .sum();
        self.held.retain(|held| held.session != key);
        self.budget.release(held_bytes);
        let weight_before = self.mux.weight();
        let ended = self.mux.handle_session_end(key);
        self.budget
            .release(weight_before.saturating_sub(self.mux.weight()));
        for gateway_id in ended.cancelled {
            self.finish_request(gateway_id, Some((codes::SERVER_ERROR, reason)), false);
            let mut line = Vec::with_capacity(128);
            line.extend_from_slice(
                b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":",
            );
            line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
            line.extend_from_slice(b",\"reason\":");
            encode_string(&mut line, reason);
            line.extend_from_slice(b"}}\n");
            self.queue_to_child(None, line);
        }
        let asked: Vec<Token> = self
            .child_requests
            .iter()
            .filter(|(_, request)| request.session == key)
            .map(|(token, _)| *token)
            .collect();
        for token in asked {
            if let Some(request) = self.child_requests.remove(&token) {
                self.child_tokens.remove(&request.child_id);
                let mut line = Vec::with_capacity(128);
                encode_error(
                    &mut line,
                    Some(request.child_id.as_bytes()),
                    codes::INTERNAL_ERROR,
                    reason,
                );
                line.push(b'\n');
                self.queue_to_child(None, line);
            }
        }
        // Lines this session queued for the child stay queued (they were
        // admitted); they are no longer charged to it.
        if let Some(session) = self.sessions.get_mut(&key) {
            session.pending_bytes = 0;
            session.owed = 0;
        }
    }

    /// Answers every request in flight, waiting or held with `message`,
    /// drops the lines queued for the child and the child's requests.
    fn fail_everything(&mut self, message: &str) {
        for (_, line) in std::mem::take(&mut self.to_child) {
            self.budget.release(line.len());
        }
        for session in self.sessions.values_mut() {
            session.pending_bytes = 0;
        }
        let weight = self.mux.weight();
        let drained = self.mux.drain_requests();
        self.budget.release(weight);
        for (request, key, id) in drained {
            self.finish_request(request, Some((codes::SERVER_ERROR, message)), false);
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
        for held in std::mem::take(&mut self.held) {
            self.unhold(&held);
            self.answer_if_request(&held, message);
        }
        for session in self.sessions.values_mut() {
            session.owed = 0;
        }
        self.child_requests.clear();
        self.child_tokens.clear();
    }

    fn answer_waiters_of(&mut self, key: SessionKey, message: &str) {
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
            self.settle_owed(key);
            self.answer_error(key, &id, codes::SERVER_ERROR, message);
        }
    }

    fn answer_held_of(&mut self, key: SessionKey, message: &str) {
        let (mine, others): (VecDeque<Held>, VecDeque<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.session == key);
        self.held = others;
        for held in mine {
            self.unhold(&held);
            self.answer_if_request(&held, message);
        }
    }

    fn answer_if_request(&mut self, held: &Held, message: &str) {
        if let Ok(parsed) = parse_message(&held.bytes) {
            if let (Kind::Request, Some(id)) = (parsed.kind, &parsed.id) {
                self.answer_error(held.session, &id.to_owned(), codes::SERVER_ERROR, message);
            }
        }
    }

    /// A held message leaves the held queue: its bytes and (for a request)
    /// its owed answer are no longer counted there.
    fn unhold(&mut self, held: &Held) {
        self.budget.release(held.charged);
        let is_request = parse_message(&held.bytes).is_ok_and(|m| m.kind == Kind::Request);
        if let Some(session) = self.sessions.get_mut(&held.session) {
            session.pending_bytes = session.pending_bytes.saturating_sub(held.charged);
            if is_request {
                session.owed = session.owed.saturating_sub(1);
            }
        }
    }

    fn settle_owed(&mut self, key: SessionKey) {
        if let Some(session) = self.sessions.get_mut(&key) {
            session.owed = session.owed.saturating_sub(1);
        }
    }

    fn replay_initialize(&mut self) {
        let Some((bytes, span)) = self.replay.clone() else {
            return;
        };
        let gateway_id = self.mux.reserve_id();
        let mut id_buf = [0; 20];
        let new_id = write_u64(gateway_id, &mut id_buf);
        let mut line = Vec::with_capacity(bytes.len().saturating_add(24));
        if splice(&mut line, &bytes, &[(span, new_id)]).is_err() {
            return;
        }
        line.push(b'\n');
        self.self_initialized = true;
        self.initialized_sent = false;
        self.init = Init::Pending {
            gateway_id,
            waiters: Vec::new(),
        };
        self.report(Report::Replaying);
        self.queue_to_child(None, line);
    }

    fn finish_request(&mut self, request: u64, error: Option<(i32, &str)>, child_error: bool) {
        if self.config.request_events {
            self.events.push_back(Event::RequestFinished {
                request,
                error: error.map(|(code, text)| (code, text.into())),
                child_error,
            });
        }
    }

    fn report(&mut self, report: Report) {
        self.events.push_back(Event::Report(report));
    }

    fn fresh_token(&mut self) -> Token {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = (self.random)();
        let mut token = [0u8; 32];
        for (pair, byte) in token.chunks_exact_mut(2).zip(bytes) {
            if let [high, low] = pair {
                *high = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                *low = HEX.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
            }
        }
        token
    }

    fn bump_sequence(&mut self) -> u64 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }
}

/// The bytes admitting `message` (the bytes `bytes`) costs at most: its
/// line for the child, and for a request its entry in the id table.
fn cost(bytes: &[u8], message: &Message<'_>) -> usize {
    let line = bytes.len().saturating_add(1);
    if message.kind != Kind::Request {
        return line;
    }
    let id = message.id.as_ref().map_or(0, |id| id.as_bytes().len());
    let token = message
        .progress_token
        .as_ref()
        .map_or(0, |(token, _)| token.as_bytes().len());
    line.saturating_add(crate::mux::ENTRY_WEIGHT)
        .saturating_add(id)
        .saturating_add(token)
}

/// The token inside a client's answer id: exactly `"` + 32 lowercase hex
/// digits + `"`.
fn parse_token(raw: &[u8]) -> Option<Token> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let token: Token = inner.try_into().ok()?;
    token
        .iter()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
        .then_some(token)
}

/// A gateway id is the decimal we wrote; anything else is not ours.
fn parse_decimal(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in raw {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(byte.wrapping_sub(b'0')))?;
    }
    Some(value)
}
