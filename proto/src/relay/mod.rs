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

mod child;
mod client;
mod deliver;
mod endings;
mod era;
mod filter;
mod legacy_client;
mod listen;
mod mrtr;
mod params;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use crate::int_map::{int_map, IntMap};
use crate::jsonrpc::{
    codes, encode_error, encode_result, encode_string, parse_message, splice, split_batch,
    write_u64, Id, Kind, Message, MessageError,
};
use crate::mux::{parse_gateway_id, Mux};

use client::cost;
pub use era::UpstreamMode;
use era::{ChildEra, Completion};
pub use queue::{Budget, Frame};
use queue::{Outbox, SharedBytes};

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
    /// Which revision the child speaks, or whether to ask it
    /// ([`Relay::start_child`]).
    pub upstream: UpstreamMode,
    /// How long the `server/discover` probe waits for an answer, ms.
    pub probe_timeout_ms: u64,
    /// The revision the relay asks for when it initialises a handshake-era
    /// child itself for modern clients (`None`: 2025-11-25).
    pub handshake_version: Option<crate::mcp::ProtocolVersion>,
    /// How long a request that asked its client for input waits for the
    /// retry, ms (`--inputTimeout`).
    pub input_timeout_ms: u64,
    /// How long a legacy child's back-to-back requests are gathered into
    /// one `InputRequiredResult`, ms.
    pub coalesce_ms: u64,
}

impl Config {
    /// A relay for `clients` with default bounds, no request events, a
    /// handshake-era child and a 10 s probe timeout.
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            limits: Limits::DEFAULT,
            request_events: false,
            upstream: UpstreamMode::Legacy,
            probe_timeout_ms: 10_000,
            handshake_version: None,
            input_timeout_ms: 300_000,
            coalesce_ms: mrtr::GATHER_MS,
        }
    }
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
        /// The session it came from.
        session: SessionKey,
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
    /// The child has not read its input for so long that the relay's own
    /// lines for it (answers to its requests, cancellations) are being
    /// dropped (reported once until it reads again).
    ChildNotReading {
        /// Lines waiting for the child.
        lines: usize,
    },
    /// A client answered a child request it was not asked (dropped).
    ForeignAnswer(SessionKey),
    /// The child's requests waiting for client answers reached
    /// `session_frames`: a new one was answered with an error.
    TooManyChildRequests,
    /// The child sent a request and no client is connected to answer it.
    NoClientForChildRequest,
    /// The child sent a request while serving a 2026-07-28 client, which
    /// cannot be asked (answered with an error).
    ModernClientAsked,
    /// The process-wide byte budget refused a message (reported once until
    /// usage falls to half the budget).
    ProcessBudget {
        /// The budget, bytes.
        limit: usize,
    },
    /// The `initialize` kept from the first client is being replayed to a
    /// new child.
    Replaying,
    /// The child's revision is known (`server/discover` probe).
    ChildEra {
        /// It speaks 2026-07-28.
        modern: bool,
    },
    /// The child did not answer `server/discover` in time: taken to be
    /// handshake-era.
    ProbeTimedOut {
        /// The probe timeout, ms.
        after_ms: u64,
    },
    /// `--upstreamProtocol 2026-07-28` and the child did not answer
    /// `server/discover`: modern requests get errors.
    UpstreamRefused,
    /// A client asked for input never retried: the child's requests were
    /// answered with errors.
    InputExpired {
        /// The child's requests that went unanswered.
        requests: usize,
    },
    /// A retry presented a `requestState` that does not open.
    StateRejected {
        /// Why (never sent to the client).
        reason: &'static str,
    },
    /// The child exited while it was asked `server/discover` (some
    /// handshake-era servers abort on a request before `initialize`): a new
    /// one is started and served as handshake-era without a probe.
    ProbeExited {
        /// Its exit code.
        code: i32,
    },
    /// A session's byte or message bound refused a message (reported once
    /// until its queue empties).
    SessionBudget(SessionKey),
    /// A session's queue was full of the child's messages: the client is
    /// too slow and was disconnected.
    SlowClient(SessionKey),
    /// A `tools/list` result the relay carried has an invalid tool
    /// definition: its `Mcp-Param-*` headers are not checked (reported once
    /// per tool while it stays invalid).
    InvalidToolSchema {
        /// The tool; `None` when the whole result could not be read.
        tool: Option<Box<str>>,
        /// Why.
        reason: crate::mcp::x_mcp_header::Invalid,
    },
    /// The learned `x-mcp-header` annotations reached their bound: tools
    /// listed beyond it are not checked (reported once per listing).
    ToolParamsFull {
        /// The bound, tools.
        tools: usize,
    },
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
            Self::ChildNotReading { lines } => write!(
                f,
                "the MCP server is not reading its input ({lines} lines waiting); the gateway's \
                 own messages to it are dropped until it does"
            ),
            Self::TooManyChildRequests => f.write_str(
                "the MCP server has too many requests waiting for client answers; answered a \
                 new one with an error",
            ),
            Self::ForeignAnswer(session) => {
                write!(
                    f,
                    "session {session}: dropped an answer to a request it was not asked"
                )
            }
            Self::ModernClientAsked => f.write_str(
                "the MCP server sent a request while serving a 2026-07-28 client, which takes \
                 no requests; answered it with an error",
            ),
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
            Self::ChildEra { modern: true } => f.write_str(
                "the MCP server speaks 2026-07-28 (it answered server/discover); \
                 serving its clients as it speaks",
            ),
            Self::ChildEra { modern: false } => f.write_str(
                "the MCP server speaks a handshake-era revision (no server/discover); \
                 2026-07-28 clients are translated",
            ),
            Self::ProbeTimedOut { after_ms } => write!(
                f,
                "the MCP server did not answer server/discover within {after_ms} ms; taking it \
                 to be handshake-era (pass --upstreamProtocol legacy to skip the probe)"
            ),
            Self::InputExpired { requests } => write!(
                f,
                "a client asked for input did not come back within --inputTimeout; answered the \
                 MCP server's {requests} waiting request(s) with errors"
            ),
            Self::StateRejected { reason } => {
                write!(f, "refused a retry's requestState: {reason}")
            }
            Self::ProbeExited { code } => write!(
                f,
                "the MCP server exited (code {code}) when asked server/discover; starting it \
                 again as a handshake-era server (pass --upstreamProtocol legacy to skip the probe)"
            ),
            Self::UpstreamRefused => f.write_str(
                "the MCP server did not answer server/discover (--upstreamProtocol 2026-07-28); \
                 2026-07-28 requests get errors",
            ),
            Self::SessionBudget(session) => write!(
                f,
                "session {session}: its queues are full (--maxSessionBytes); refusing \
                 its messages until they drain"
            ),
            Self::SlowClient(session) => write!(
                f,
                "session {session}: client is not reading its stream fast enough; disconnecting it"
            ),
            Self::InvalidToolSchema {
                tool: Some(tool),
                reason,
            } => write!(
                f,
                "tool {tool:?} has an invalid x-mcp-header annotation ({reason}); clients drop \
                 it and its Mcp-Param-* headers are not checked"
            ),
            Self::InvalidToolSchema { tool: None, reason } => write!(
                f,
                "a tools/list result could not be read for x-mcp-header annotations ({reason}); \
                 Mcp-Param-* headers of the tools it lists are not checked"
            ),
            Self::ToolParamsFull { tools } => write!(
                f,
                "the MCP server lists more tools with x-mcp-header annotations than the gateway \
                 keeps ({tools}, or 1 MiB); Mcp-Param-* headers of the others are not checked"
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
    sessions: IntMap<SessionKey, Session>,
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
    /// What the process budget is charged for the id table: its weight
    /// as of the last `sync_mux_budget`.
    mux_charged: usize,
    /// The relay's own lines for the child were dropped (it is not
    /// reading) and that was reported; cleared when it reads again.
    child_input_full: bool,
    events: VecDeque<Event>,
    /// Counts sessions opened and requests sent, for "most recent".
    sequence: u64,
    /// The time, ms ([`Relay::advance`]).
    now: u64,
    /// The child's revision.
    child_era: ChildEra,
    /// `initialize_child` was asked for during the probe (the version).
    init_wanted: Option<String>,
    /// An `initialize` replay was asked for during the probe.
    replay_wanted: bool,
    /// Modern requests at a handshake-era child, by gateway id: how their
    /// answers are completed.
    completions: IntMap<u64, Completion>,
    /// Listens at a 2026-07-28 child, by gateway id: the request as the
    /// client sent it (sent again to a replacement child).
    listens: IntMap<u64, Box<[u8]>>,
    /// Resource URIs the relay's listens subscribed to, with their counts.
    uri_counts: HashMap<Box<str>, u32>,
    /// Input round trips for modern clients of a legacy child.
    mrtr: mrtr::Mrtr,
    /// `x-mcp-header` annotations from the `tools/list` results relayed.
    tool_params: params::ToolParams,
    /// Handshake-era clients of a 2026-07-28 child.
    legacy: legacy_client::LegacyClients,
    /// Tool, prompt and resource filtering.
    filtering: filter::Filtering,
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
    /// Its client sent a 2026-07-28 request.
    modern: bool,
    /// The log level its latest modern request opted into.
    log_level: Option<crate::mcp::LogLevel>,
    /// The `subscriptions/listen` the relay serves on it (a handshake-era
    /// child).
    listen: Option<Box<listen::Listen>>,
    /// Its listen was sent again to a replacement child: that child's
    /// acknowledgement is not passed on (the client has one).
    relisten: bool,
}

struct Held {
    session: SessionKey,
    bytes: Vec<u8>,
    /// The id of a held request (it is owed an answer), `None` for a
    /// notification.
    request: Option<Id>,
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
            sessions: int_map(),
            init: Init::Idle,
            self_initialized: false,
            initialized_sent: false,
            replay: None,
            held: VecDeque::new(),
            to_child: VecDeque::new(),
            child_requests: HashMap::new(),
            child_tokens: HashMap::new(),
            exited: None,
            mux_charged: 0,
            child_input_full: false,
            events: VecDeque::new(),
            sequence: 0,
            now: 0,
            child_era: ChildEra::Legacy,
            init_wanted: None,
            replay_wanted: false,
            completions: int_map(),
            listens: int_map(),
            uri_counts: HashMap::new(),
            mrtr: mrtr::Mrtr::new(),
            tool_params: params::ToolParams::default(),
            legacy: legacy_client::LegacyClients::new(),
            filtering: filter::Filtering::new(),
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
            self.end_listen(session.listen.take());
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
                if era::is_modern(&message) {
                    if let Err(refused) = era::check_modern(bytes, &message) {
                        let id = message.id.as_ref().map_or(&b"null"[..], |id| id.as_bytes());
                        self.answer_refused(key, id, &refused);
                        return Ok(1);
                    }
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
        if matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
            if let Some(filtered) = self.filtered_answer(line, &message) {
                if let Ok(message) = parse_message(&filtered) {
                    self.route_child_response(&filtered, &message);
                }
                return;
            }
        }
        match message.kind {
            Kind::Response | Kind::ErrorResponse => self.route_child_response(line, &message),
            Kind::Request => self.route_child_request(line, &message),
            Kind::Notification if !self.passes_filter(line, &message) => {}
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
        self.close_listens();
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
        self.handle_child_replaced(RESTARTED);
    }

    /// [`Relay::handle_child_restart`] for a child replaced for another
    /// reason: requests in flight get `message`. A reverse bridge whose
    /// remote server ended its session calls this: the "new child" is a
    /// new session, initialised with the kept `initialize`.
    pub fn handle_child_replaced(&mut self, message: &str) {
        if self.exited.is_some() {
            return;
        }
        let listens = self.carry_listens();
        self.fail_everything(message);
        self.initialized_sent = false;
        self.start_child();
        if matches!(self.child_era, ChildEra::Probing { .. }) {
            self.replay_wanted = self.replay.is_some();
        } else {
            self.replay_initialize();
        }
        self.relisten(listens);
    }

    /// Initialises the child on behalf of clients that will not
    /// (stateless Streamable HTTP): `initialize` with `protocol_version`;
    /// later `initialize` requests are answered from its result.
    ///
    /// While the child's revision is being probed this waits for the
    /// verdict; a 2026-07-28 child is not initialised.
    pub fn initialize_child(&mut self, protocol_version: &str) {
        match self.child_era {
            ChildEra::Probing { .. } => {
                self.init_wanted = Some(protocol_version.to_owned());
                return;
            }
            ChildEra::Legacy => {}
            ChildEra::Modern(_) | ChildEra::Failed => return,
        }
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
        if matches!(self.child_era, ChildEra::Probing { .. }) {
            self.replay_wanted = true;
        } else {
            self.replay_initialize();
        }
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
            self.child_input_full = false;
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

    /// The child is being probed or initialised (by a client's
    /// `initialize` or a replay after a restart): not ready to serve yet.
    pub fn is_initializing(&self) -> bool {
        matches!(self.init, Init::Pending { .. })
            || matches!(self.child_era, ChildEra::Probing { .. })
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

    /// The `x-mcp-header` parameters of `tool` to check against a
    /// `tools/call`'s `Mcp-Param-*` headers, as the last `tools/list`
    /// result this relay carried declared them (any client's, any era's).
    /// `None`: nothing to check — the tool has no annotated parameter, its
    /// annotations are invalid (a client drops such a tool), or it was
    /// never listed here.
    pub fn param_headers(&self, tool: &str) -> Option<&[crate::mcp::x_mcp_header::Param]> {
        self.tool_params.get(tool)
    }

    /// Learns the `x-mcp-header` annotations of a `tools/list` `result` the
    /// driver fetched itself (a reverse bridge lists the tools when a
    /// `tools/call` names one it has not seen); `first_page`: the listing
    /// had no cursor and replaces the table.
    pub fn handle_tool_list(&mut self, result: &[u8], first_page: bool) {
        // Only the tools clients may see are learned.
        let Some(result) = self.filtered_tools(result) else {
            return;
        };
        for report in self.tool_params.learn(&result, first_page) {
            self.report(report);
        }
    }

    /// The process budget this relay charges.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }
}

impl Drop for Relay {
    /// A relay dropped with data still queued (a per-session child's link
    /// going away) gives its bytes back to the process budget, which
    /// outlives it.
    fn drop(&mut self) {
        for (_, line) in self.to_child.drain(..) {
            self.budget.release(line.len());
        }
        for held in self.held.drain(..) {
            self.budget.release(held.charged);
        }
        self.budget.release(self.mux_charged);
        for session in self.sessions.values_mut() {
            session.outbox.clear(&self.budget);
        }
    }
}
