//! Relay harness (`relay_sequence`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte picks from a fixed table) and every count is bounded by the
// number of operations.

mod modern;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::jsonrpc::{parse_message, Kind};
use crate::relay::{
    Budget, ClientError, Clients, Config, Event, Frame, Limits, Relay, Report, SessionKey,
};

use self::modern::ModernModel;

/// Fuzz target `relay_sequence`: drives a [`crate::relay::Relay`] with random
/// interleavings of what its driver can do, playing every client and a
/// well-behaved but arbitrary child, and checks the relay's promises after
/// every step.
///
/// Five configuration bytes come first: clients (`b % 3`: `Separate`, `One`,
/// `Anonymous`; bit 2: request events on; bit 3: end with the child's exit
/// rather than with every session closing), then `max_in_flight` 1–8 and
/// `session_frames` 1–8, `max_held` 1–8 and `max_child_lines` 1–16,
/// `session_bytes` 300–4,380, and the process budget 600–16,920 bytes, so
/// every bound is actually reached; bits 4–6 of the first byte turn on the
/// MCP 2026-07-28 part (upstream mode, seal, ops 16–24 and their
/// properties: see `modern.rs`). Then each operation is one byte
/// (`op % 16`, or `op % 25` with that part on) followed by its operands (a
/// missing byte reads as 0):
///
/// | op | operation | operand bytes |
/// | --- | --- | --- |
/// | 0 | a session opens (fresh key; at most 6 at once) | standalone |
/// | 1 | the harness closes a session (its transport ended) | session |
/// | 2 | client request (`initialize`, `ping`, …; maybe a progress token, padding, a case-variant key) | session, id, method, token, variant, pad |
/// | 3 | client notification, `notifications/initialized` or `notifications/cancelled` | session, kind, id, variant, pad |
/// | 4 | client batch of 1–4 requests, notifications, cancellations, answers, invalid and case-variant elements | session, count, one byte per element (+ its operands) |
/// | 5 | client answers a child request: its own token, another session's, a made-up one or a client id | session, which, form |
/// | 6 | the child reads its stdin (0 / 1 / 100 / 1,000 / unbounded bytes, once or until empty) | how |
/// | 7 | the child answers a request it read (result or error, kept to answer again) | which, form, pad |
/// | 8 | the child sends a request (sampling, roots, elicitation, ping) under a fresh id | form, method, pad |
/// | 9 | the child sends a notification: progress with a token it saw or a made-up one, a broadcast, a log message, a cancellation of its request, a broken line | kind, which, pad |
/// | 10 | a client reads some frames of its session (1–4, or all) | session, how many |
/// | 11 | every client reads everything | — |
/// | 12 | the child exits | code |
/// | 13 | the child is restarted (runtime update) | — |
/// | 14 | the relay initialises the child itself (stateless HTTP) | — |
/// | 15 | the child answers a stale, foreign or made-up id | kind, which |
///
/// Every client message carries a unique `"nonce"`, every child request a
/// `"cnonce"` and every child notification a `"bnonce"`, so each frame and
/// each line can be traced to what caused it. Asserts, after every step:
///
/// - every request the relay accepted (`Ok`) gets exactly one answer frame
///   (`is_response`) on its session, with exactly the client's id bytes —
///   the child's answer (traced by nonce to that very request) or the
///   relay's own error (matched by id) — unless the session was closed, by
///   the harness or by the relay as a slow client, or the client cancelled
///   that id (then at most one); never an answer on another session, never
///   one with an id the session did not send; after the child exits and the
///   sessions drain, nothing is left unanswered;
/// - `Ok(n)` for a batch is its requests plus its invalid elements, each
///   invalid element answered with a `null` id; a refused message gets no
///   answer and nothing of it reaches the child's stdin, and nothing with a
///   case-variant key ever does; no accepted message reaches the child twice
///   (the `initialize` replay aside);
/// - the child sees only fresh decimal gateway ids, cancellations of ids it
///   was sent, and at most one answer per request of its own, carrying that
///   request's `cnonce` when a client wrote it; a child request reaches at
///   most one session, under a 32-hex-digit token, and with separate clients
///   only that session may answer it (once);
/// - progress reaches the session that sent the request, with its token byte
///   for byte; a child notification reaches a session at most once;
///   broadcasts only standalone sessions;
/// - `SessionReady` / `ChildReady` precede every frame and line that
///   follows an empty queue; a session is dropped as slow only by the
///   child's messages; `RequestFinished` follows `RequestStarted` at most
///   once, and `RequestStarted` carries the client's id;
/// - the process budget and every session's bytes stay within their limit
///   plus the slack described at `RelayModel::slack`; once every session
///   is closed and the child has read its input, the budget is back to 0.
///
/// With `RELAY_TRACE` set, every step is printed to stderr, to read a crash
/// input.
#[allow(clippy::panic)]
pub fn relay_sequence(data: &[u8]) {
    let mut ops = RelayOps { data, at: 0 };
    let mut model = RelayModel::new(&mut ops);
    let kinds = if model.modern.is_some() {
        modern::OPS
    } else {
        16
    };
    for _ in 0..2048 {
        let Some(op) = ops.next_op(kinds) else {
            break;
        };
        model.child_op = false;
        model.step(op, &mut ops);
        model.settle();
    }
    model.finish();
}

/// At most this many sessions are open (or closing) at once.
const MAX_LIVE: usize = 6;

/// Client request ids: numbers and strings that collide across sessions,
/// with each other's text and with the relay's own decimal numbering.
const CLIENT_IDS: [&str; 12] = [
    "0",
    "1",
    "2",
    "3",
    "12",
    "\"1\"",
    "1.0",
    "-1",
    "\"a\"",
    "1e0",
    "\"\\u0031\"",
    "\"a-client-id-longer-than-inline-storage\"",
];

/// Progress tokens, colliding with the ids above.
const TOKENS: [&str; 5] = ["1", "\"p\"", "2", "\"1\"", "1.0"];

/// Keys that differ from a routing key only in case (ASCII, long s, Kelvin
/// sign, escaped or not), as a member of the envelope (`true`) or of
/// `params`. The relay must refuse them: a peer that matches keys
/// case-insensitively would read them as the routing key.
const VARIANTS: [(bool, &str); 14] = [
    (true, ",\"ID\":7"),
    (true, ",\"Id\":\"x\""),
    (true, ",\"Method\":\"y\""),
    (true, ",\"JSONRPC\":\"2.0\""),
    (true, ",\"Params\":{}"),
    (false, ",\"RequestId\":4"),
    (false, ",\"ProtocolVersion\":\"b\""),
    (false, ",\"NAME\":\"n\""),
    (false, ",\"_META\":{}"),
    (false, ",\"_meta\":{\"ProgressToken\":1}"),
    (false, ",\"_meta\":{\"progre\\u017f\\u017fToken\":1}"),
    (false, ",\"_meta\":{\"progre\u{17f}\u{17f}Token\":1}"),
    (false, ",\"_meta\":{\"progressToKen\":1}"),
    (false, ",\"_meta\":{\"progressTo\u{212a}en\":1}"),
];

/// The variant keys as they would appear in a line: none may reach the
/// child.
const VARIANT_KEYS: [&str; 14] = [
    "\"ID\"",
    "\"Id\"",
    "\"Method\"",
    "\"JSONRPC\"",
    "\"Params\"",
    "\"RequestId\"",
    "\"ProtocolVersion\"",
    "\"NAME\"",
    "\"_META\"",
    "\"ProgressToken\"",
    "progre\\u017f\\u017fToken",
    "progre\u{17f}\u{17f}Token",
    "progressToKen",
    "progressTo\u{212a}en",
];

/// Padding sizes, so that byte limits are reached.
const PADS: [usize; 5] = [0, 0, 40, 300, 1500];

/// What the relay's own answers weigh at most: "each under 200 bytes plus
/// the client's id" (relay `Limits::session_bytes`).
const OWN_FRAME: usize = 200;

/// A gateway id or token is at most 20 digits where the client's was at
/// least 1 byte: a spliced line grows by at most 19 bytes per splice (an
/// id and a progress token).
const SPLICE_GROWTH: usize = 2 * 19;

/// The relay's error answer to a child request (ambiguous, no client, or
/// its session ended), without the child's id.
const CHILD_ERROR: usize = 160;

/// The relay's own `initialize` line (`initialize_child`) and the
/// `notifications/initialized` it may add.
const SELF_INIT_LINES: usize = 300 + 56;

/// Reads the operation stream of `relay_sequence`.
struct RelayOps<'a> {
    data: &'a [u8],
    at: usize,
}

impl RelayOps<'_> {
    /// The next operation byte, modulo `kinds`.
    fn next_op(&mut self, kinds: u8) -> Option<u8> {
        let op = *self.data.get(self.at)?;
        self.at = self.at.saturating_add(1);
        op.checked_rem(kinds)
    }

    /// The next byte, or 0 past the end.
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at = self.at.saturating_add(1);
        b
    }

    fn pick<'p, T>(&mut self, pool: &'p [T]) -> Option<&'p T> {
        let b = usize::from(self.byte());
        pool.get(b.checked_rem(pool.len())?)
    }
}

/// One client session as the harness sees it.
#[derive(Default)]
struct ClientModel {
    /// Opened as the standalone stream (always with `Separate`).
    standalone: bool,
    /// Nonces of its accepted requests without an answer traced to them.
    outstanding: Vec<u64>,
    /// Answers without a nonce (the relay's own, `initialize`), by id bytes.
    nonceless: HashMap<Vec<u8>, usize>,
    /// Answers with a `null` id owed for invalid batch elements.
    null_owed: usize,
    /// Ids it cancelled: their requests may go unanswered.
    tainted: HashSet<Vec<u8>>,
    /// `Event::SessionClosed` arrived.
    closed_by_relay: bool,
    /// Dropped as a slow client (`Report::SlowClient`): its queue is gone.
    slow: bool,
    /// The harness saw its queue empty and no `SessionReady` since.
    known_empty: bool,
    /// Child notifications (`bnonce`) it received.
    notes: HashSet<u64>,
    /// Tokens of child requests it was sent.
    tokens: HashSet<Vec<u8>>,
    /// The nonce of its first 2026-07-28 request the relay accepted (one
    /// that passed the relay's checks), held or not.
    modern: Option<u64>,
    /// It sent a handshake-era message (request, notification, answer).
    handshake: bool,
    /// Listen-tagged notifications it received: (bnonce, tag).
    listen_notes: HashSet<(u64, Vec<u8>)>,
}

/// A client request the relay accepted.
struct Sent {
    session: SessionKey,
    id: Vec<u8>,
    token: Option<Vec<u8>>,
}

/// A child request that reached a client.
struct Asked {
    cnonce: u64,
    session: SessionKey,
    /// A client's answer to it was accepted (`Ok(0)`).
    answered: bool,
}

/// A request the child read and may answer.
#[derive(Clone)]
struct Seen {
    gateway_id: u64,
    nonce: Option<u64>,
    initialize: bool,
    /// The relay's `server/discover` probe.
    discover: bool,
}

/// The child process as the harness plays it.
#[derive(Default)]
struct ChildModel {
    /// Requests read and not answered yet.
    pending: Vec<Seen>,
    /// Progress tokens read, with the nonce of their request.
    progress: Vec<(Vec<u8>, Option<u64>)>,
    /// Its own requests without an answer read yet: id bytes → cnonce.
    own: BTreeMap<Vec<u8>, u64>,
    next_id: u64,
    /// The harness saw the stdin queue empty and no `ChildReady` since.
    known_empty: bool,
}

/// The state `relay_sequence` checks the relay against.
struct RelayModel {
    relay: Relay,
    clients: Clients,
    limits: Limits,
    request_events: bool,
    exit_last: bool,
    sessions: BTreeMap<SessionKey, ClientModel>,
    /// Keys the harness closed: events for them are ignored.
    closed: HashSet<SessionKey>,
    next_key: SessionKey,
    next_nonce: u64,
    sent: HashMap<u64, Sent>,
    accepted: HashSet<u64>,
    refused: HashSet<u64>,
    /// Nonces that reached the child.
    arrived: HashSet<u64>,
    /// One-client cancellations reach any session's request.
    global_taint: HashSet<Vec<u8>>,
    child: ChildModel,
    /// Every gateway id the child read (never reused, across restarts too).
    gateway_ids: Vec<u64>,
    /// Child request tokens handed to clients, in order, and by token.
    token_list: Vec<Vec<u8>>,
    asked: HashMap<Vec<u8>, Asked>,
    delivered: HashSet<u64>,
    exited: bool,
    started: HashMap<u64, Vec<u8>>,
    finished: HashSet<u64>,
    /// The current operation feeds the relay a child line.
    child_op: bool,
    longest_child_line: usize,
    longest_initialize: usize,
    /// The 2026-07-28 part of the model (configurations that enable it).
    modern: Option<ModernModel>,
}

#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
impl RelayModel {
    fn new(ops: &mut RelayOps<'_>) -> Self {
        let b0 = ops.byte();
        let (b1, b2, b3, b4) = (ops.byte(), ops.byte(), ops.byte(), ops.byte());
        let clients = match b0 % 3 {
            0 => Clients::Separate,
            1 => Clients::One,
            _ => Clients::Anonymous,
        };
        let limits = Limits {
            max_in_flight: 1 + usize::from(b1 % 8),
            session_frames: 1 + usize::from(b1 / 8 % 8),
            max_held: 1 + usize::from(b2 % 8),
            max_child_lines: 1 + usize::from(b2 / 8 % 16),
            session_bytes: 300 + 16 * usize::from(b3),
        };
        let request_events = b0 & 4 != 0;
        let modern = ModernModel::configure(b0);
        let mut counter = 0u128;
        let random = Box::new(move || {
            counter = counter.wrapping_add(0x0123_4567_89ab_cdef_0fed_cba9_8765_4321);
            counter.to_be_bytes()
        });
        let mut config = Config {
            clients,
            limits,
            request_events,
            ..Config::new(clients)
        };
        if let Some(modern) = &modern {
            modern.adjust(&mut config);
        }
        let mut relay = Relay::new(config, Budget::new(600 + 64 * usize::from(b4)), random);
        if let Some(modern) = &modern {
            modern.start(&mut relay);
        }
        let mut model = Self {
            relay,
            clients,
            limits,
            request_events,
            exit_last: b0 & 8 != 0,
            sessions: BTreeMap::new(),
            closed: HashSet::new(),
            next_key: 1,
            next_nonce: 1,
            sent: HashMap::new(),
            accepted: HashSet::new(),
            refused: HashSet::new(),
            arrived: HashSet::new(),
            global_taint: HashSet::new(),
            child: ChildModel {
                known_empty: true,
                next_id: 1,
                ..ChildModel::default()
            },
            gateway_ids: Vec::new(),
            token_list: Vec::new(),
            asked: HashMap::new(),
            delivered: HashSet::new(),
            exited: false,
            started: HashMap::new(),
            finished: HashSet::new(),
            child_op: false,
            longest_child_line: 0,
            longest_initialize: 0,
            modern,
        };
        // The probe may already wait for the child.
        model.settle();
        model
    }

    fn step(&mut self, op: u8, ops: &mut RelayOps<'_>) {
        if trace() {
            let budget = self.relay.budget();
            eprintln!("op {op} (budget {} of {})", budget.used(), budget.limit());
        }
        match op {
            0 => self.open(ops.byte() & 1 == 0),
            1 => {
                if let Some(key) = self.pick_session(ops) {
                    self.close(key);
                }
            }
            2 => self.client_request(ops),
            3 => self.client_notification(ops),
            4 => self.client_batch(ops),
            5 => self.client_answer(ops),
            6 => {
                let how = ops.byte();
                let max = [0, 1, 100, 1000, usize::MAX][usize::from(how % 5)];
                self.read_child(max, how & 0x80 != 0);
            }
            7 => self.child_answer(ops),
            8 => self.child_request(ops),
            9 => self.child_notification(ops),
            10 => {
                if let Some(key) = self.pick_session(ops) {
                    let how = ops.byte();
                    let n = if how & 0x80 != 0 {
                        usize::MAX
                    } else {
                        1 + usize::from(how % 4)
                    };
                    self.drain_session(key, n);
                }
            }
            11 => {
                let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
                for key in keys {
                    self.drain_session(key, usize::MAX);
                }
            }
            12 => {
                let code = i32::from(ops.byte());
                self.relay.handle_child_exit(code);
                self.child_gone();
                self.exited = true;
            }
            13 => self.replace_child(None),
            14 => self.relay.initialize_child("2025-06-18"),
            15 => self.stale_answer(ops),
            _ => self.modern_step(op, ops),
        }
    }

    // ----- clients ------------------------------------------------------

    fn pick_session(&mut self, ops: &mut RelayOps<'_>) -> Option<SessionKey> {
        let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
        ops.pick(&keys).copied()
    }

    fn fresh_nonce(&mut self) -> u64 {
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        nonce
    }

    fn open(&mut self, standalone: bool) {
        if self.sessions.len() >= MAX_LIVE {
            return;
        }
        // Keys far apart, as a driver's counters would be.
        let key = self.next_key.wrapping_mul(0x9e37_79b9);
        self.next_key += 1;
        let opened = self.relay.open_session(key, standalone);
        assert_eq!(opened, !self.exited, "open_session after exit: {opened}");
        if opened {
            let standalone = match self.clients {
                Clients::Separate => true,
                Clients::One => standalone,
                Clients::Anonymous => false,
            };
            self.sessions.insert(
                key,
                ClientModel {
                    standalone,
                    known_empty: true,
                    ..ClientModel::default()
                },
            );
        }
    }

    fn close(&mut self, key: SessionKey) {
        self.relay.close_session(key);
        self.sessions.remove(&key);
        self.closed.insert(key);
        assert_eq!(
            self.relay.session_bytes(key),
            0,
            "closed session holds bytes"
        );
    }

    /// Sends `text` on `key` and checks the answer against the session's
    /// state (a session the relay closed refuses everything, and only it).
    fn send(&mut self, key: SessionKey, text: &str) -> Result<usize, ClientError> {
        let result = self.relay.handle_client_message(key, text.as_bytes());
        if trace() {
            eprintln!("  client {key} -> {text} = {result:?}");
        }
        let closed = self.sessions.get(&key).is_some_and(|s| s.closed_by_relay);
        assert_eq!(
            result == Err(ClientError::NoSession),
            closed,
            "session {key} (closed by the relay: {closed}) answered {result:?} to {text}"
        );
        result
    }

    fn variant(ops: &mut RelayOps<'_>) -> Option<(bool, &'static str)> {
        let b = ops.byte();
        (b % 4 == 0).then(|| VARIANTS[usize::from(b / 4) % VARIANTS.len()])
    }

    /// A request's text, with its nonce.
    #[allow(clippy::too_many_arguments)]
    fn request_text(
        id: &str,
        method: &str,
        nonce: u64,
        token: Option<&str>,
        pad: usize,
        variant: Option<(bool, &str)>,
        id_last: bool,
    ) -> String {
        let mut params = String::new();
        if method == "initialize" {
            params.push_str("\"protocolVersion\":\"2025-06-18\",");
        }
        params.push_str(&format!("\"nonce\":{nonce}"));
        if let Some(token) = token {
            params.push_str(&format!(",\"_meta\":{{\"progressToken\":{token}}}"));
        }
        if pad > 0 {
            params.push_str(&format!(",\"pad\":\"{}\"", "p".repeat(pad)));
        }
        let (top, inner) = match variant {
            Some((true, text)) => (text, ""),
            Some((false, text)) => ("", text),
            None => ("", ""),
        };
        if id_last {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"method\":\"{method}\",\"params\":{{{params}{inner}}}{top},\"id\":{id}}}"
            )
        } else {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\",\"params\":{{{params}{inner}}}{top}}}"
            )
        }
    }

    fn client_request(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let id = *ops.pick(&CLIENT_IDS).expect("non-empty pool");
        let m = ops.byte();
        let method = ["tools/call", "x", "ping", "initialize"][usize::from(m % 4)];
        let t = ops.byte();
        let token = (t % 3 == 0).then(|| TOKENS[usize::from(t / 3) % TOKENS.len()]);
        let variant = Self::variant(ops);
        let pad = PADS[usize::from(ops.byte() % 5)];
        let nonce = self.fresh_nonce();
        let text = Self::request_text(id, method, nonce, token, pad, variant, m & 0x10 != 0);
        if method == "initialize" {
            self.longest_initialize = self.longest_initialize.max(text.len());
        }
        let result = self.send(key, &text);
        match result {
            Ok(1) if variant.is_none() => {
                self.mark_handshake(key);
                self.accept_request(key, nonce, id, token);
            }
            Err(ClientError::Busy(_)) if variant.is_none() => {
                self.refused.insert(nonce);
            }
            Err(ClientError::Malformed(_)) if variant.is_some() => {
                self.refused.insert(nonce);
            }
            Err(ClientError::NoSession) => {
                self.refused.insert(nonce);
            }
            other => panic!("request {text}: {other:?}"),
        }
    }

    fn mark_handshake(&mut self, key: SessionKey) {
        if let Some(session) = self.sessions.get_mut(&key) {
            session.handshake = true;
        }
    }

    fn accept_request(&mut self, key: SessionKey, nonce: u64, id: &str, token: Option<&str>) {
        self.accepted.insert(nonce);
        self.sent.insert(
            nonce,
            Sent {
                session: key,
                id: id.as_bytes().to_vec(),
                token: token.map(|t| t.as_bytes().to_vec()),
            },
        );
        let session = self.sessions.get_mut(&key).expect("live session");
        session.outstanding.push(nonce);
    }

    /// A cancellation of `id` on `key` was accepted: the requests it may
    /// reach may go unanswered, now or (held behind `initialize`) later.
    fn taint(&mut self, key: SessionKey, id: &str) {
        match self.clients {
            Clients::Separate => {
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.tainted.insert(id.as_bytes().to_vec());
                }
            }
            Clients::One => {
                self.global_taint.insert(id.as_bytes().to_vec());
            }
            // Anonymous clients cancel by closing their stream.
            Clients::Anonymous => {}
        }
    }

    fn notification_text(
        method: &str,
        nonce: u64,
        cancel: Option<&str>,
        pad: usize,
        variant: Option<(bool, &str)>,
    ) -> String {
        let mut params = format!("\"nonce\":{nonce}");
        if let Some(id) = cancel {
            params.push_str(&format!(",\"requestId\":{id}"));
        }
        if pad > 0 {
            params.push_str(&format!(",\"pad\":\"{}\"", "n".repeat(pad)));
        }
        let (top, inner) = match variant {
            Some((true, text)) => (text, ""),
            Some((false, text)) => ("", text),
            None => ("", ""),
        };
        format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"{method}\",\"params\":{{{params}{inner}}}{top}}}"
        )
    }

    fn client_notification(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let kind = ops.byte() % 3;
        let id = *ops.pick(&CLIENT_IDS).expect("non-empty pool");
        let variant = Self::variant(ops);
        let pad = PADS[usize::from(ops.byte() % 5)];
        let nonce = self.fresh_nonce();
        let (method, cancel) = match kind {
            0 => ("notifications/x", None),
            1 => ("notifications/initialized", None),
            _ => ("notifications/cancelled", Some(id)),
        };
        let text = Self::notification_text(method, nonce, cancel, pad, variant);
        match self.send(key, &text) {
            Ok(0) if variant.is_none() => {
                self.mark_handshake(key);
                self.accepted.insert(nonce);
                if let Some(id) = cancel {
                    self.taint(key, id);
                }
            }
            Err(ClientError::Busy(_)) if variant.is_none() => {
                self.refused.insert(nonce);
            }
            Err(ClientError::Malformed(_)) if variant.is_some() => {
                self.refused.insert(nonce);
            }
            Err(ClientError::NoSession) => {
                self.refused.insert(nonce);
            }
            other => panic!("notification {text}: {other:?}"),
        }
    }

    /// A client's answer to a child request: the token (or whatever id it
    /// presents), with the cnonce of the request it believes it answers.
    fn answer_text(id: &str, cnonce: u64, nonce: u64, error: bool, variant: bool) -> String {
        let extra = if variant { ",\"Result\":{}" } else { "" };
        if error {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32001,\"message\":\"declined\",\"data\":{{\"cnonce\":{cnonce},\"nonce\":{nonce}}}}}{extra}}}"
            )
        } else {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"cnonce\":{cnonce},\"nonce\":{nonce}}}{extra}}}"
            )
        }
    }

    /// Which id a client presents when it answers a child request.
    fn answer_id(&mut self, key: SessionKey, which: u8) -> String {
        match which % 5 {
            0 | 1 => {
                // Any token handed out, to this session or another.
                let i = usize::from(which / 5);
                match self
                    .token_list
                    .get(i.checked_rem(self.token_list.len()).unwrap_or(0))
                {
                    Some(token) => String::from_utf8_lossy(token).into_owned(),
                    None => format!("\"{}\"", "0".repeat(32)),
                }
            }
            2 => {
                // This session's own latest token.
                let own = self
                    .token_list
                    .iter()
                    .rev()
                    .find(|t| self.asked.get(*t).is_some_and(|a| a.session == key));
                match own {
                    Some(token) => String::from_utf8_lossy(token).into_owned(),
                    None => format!("\"{}\"", "f".repeat(32)),
                }
            }
            3 => format!("\"{}\"", "f".repeat(32)),
            _ => CLIENT_IDS[usize::from(which / 5) % CLIENT_IDS.len()].to_owned(),
        }
    }

    fn client_answer(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let which = ops.byte();
        let form = ops.byte();
        let id = self.answer_id(key, which);
        let cnonce = self.asked.get(id.as_bytes()).map_or(0, |a| a.cnonce);
        let variant = form % 8 == 0;
        let nonce = self.fresh_nonce();
        let text = Self::answer_text(&id, cnonce, nonce, form & 1 != 0, variant);
        match self.send(key, &text) {
            Ok(0) if !variant => {
                self.mark_handshake(key);
                self.accepted.insert(nonce);
                let separate = self.clients == Clients::Separate;
                let asked = self
                    .asked
                    .get_mut(id.as_bytes())
                    .unwrap_or_else(|| panic!("answer to {id}, never handed out, accepted"));
                assert!(!asked.answered, "child request {id} answered twice");
                assert!(
                    !separate || asked.session == key,
                    "session {key} answered session {}'s child request {id}",
                    asked.session
                );
                asked.answered = true;
            }
            Err(_) => {
                self.refused.insert(nonce);
            }
            other => panic!("answer {text}: {other:?}"),
        }
    }

    fn client_batch(&mut self, ops: &mut RelayOps<'_>) {
        let Some(key) = self.pick_session(ops) else {
            return;
        };
        let count = 1 + usize::from(ops.byte() % 4);
        let mut elements = Vec::with_capacity(count);
        // Expected answers; accepted requests; nonces of elements that must
        // never reach the child; nonces that may; cancelled ids.
        let mut answers = 0usize;
        let mut requests: Vec<(u64, &str, Option<&str>)> = Vec::new();
        let mut invalid_nonces: Vec<u64> = Vec::new();
        let mut valid_nonces: Vec<u64> = Vec::new();
        let mut cancels: Vec<&str> = Vec::new();
        let mut nulls = 0usize;
        for _ in 0..count {
            let kind = ops.byte();
            let id = *ops.pick(&CLIENT_IDS).expect("non-empty pool");
            let nonce = self.fresh_nonce();
            match kind % 7 {
                0 | 1 => {
                    let method =
                        ["tools/call", "ping", "x", "initialize"][usize::from(kind / 7 % 4)];
                    let token = (kind & 0x80 != 0).then_some(TOKENS[usize::from(kind % 5)]);
                    elements.push(Self::request_text(id, method, nonce, token, 0, None, false));
                    answers += 1;
                    requests.push((nonce, id, token));
                    valid_nonces.push(nonce);
                }
                2 => {
                    elements.push(Self::notification_text(
                        "notifications/x",
                        nonce,
                        None,
                        0,
                        None,
                    ));
                    valid_nonces.push(nonce);
                }
                3 => {
                    let text = Self::notification_text(
                        "notifications/cancelled",
                        nonce,
                        Some(id),
                        0,
                        None,
                    );
                    elements.push(text);
                    cancels.push(id);
                    valid_nonces.push(nonce);
                }
                4 => {
                    let variant = VARIANTS[usize::from(kind / 7) % VARIANTS.len()];
                    elements.push(Self::request_text(
                        id,
                        "tools/call",
                        nonce,
                        None,
                        0,
                        Some(variant),
                        false,
                    ));
                    answers += 1;
                    nulls += 1;
                    invalid_nonces.push(nonce);
                }
                5 => {
                    let id = self.answer_id(key, kind / 7);
                    let cnonce = self.asked.get(id.as_bytes()).map_or(0, |a| a.cnonce);
                    elements.push(Self::answer_text(&id, cnonce, nonce, false, false));
                    // It may or may not reach the child (not counted in
                    // Ok(n)); the child checks it answers at most once.
                    valid_nonces.push(nonce);
                }
                _ => {
                    elements.push(
                        [
                            "{\"jsonrpc\":\"2.0\"}",
                            "7",
                            "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}",
                        ][usize::from(kind / 7 % 3)]
                        .to_owned(),
                    );
                    answers += 1;
                    nulls += 1;
                }
            }
        }
        let text = format!("[{}]", elements.join(","));
        match self.send(key, &text) {
            Ok(n) => {
                assert_eq!(n, answers, "batch {text}");
                self.mark_handshake(key);
                for (nonce, id, token) in requests {
                    self.accept_request(key, nonce, id, token);
                }
                self.accepted.extend(valid_nonces);
                self.refused.extend(invalid_nonces);
                for id in cancels {
                    self.taint(key, id);
                }
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.null_owed += nulls;
                }
            }
            Err(ClientError::Malformed(_) | ClientError::NoSession) => {
                self.refused.extend(valid_nonces);
                self.refused.extend(invalid_nonces);
            }
            Err(other) => panic!("batch {text}: {other:?}"),
        }
    }

    /// The client of `key` reads up to `max` frames; a session the relay
    /// closed is closed by the harness once drained, as the driver does.
    fn drain_session(&mut self, key: SessionKey, max: usize) {
        let mut read = 0usize;
        while read < max {
            match self.relay.poll_frame(key) {
                Some(frame) => {
                    let session = self.sessions.get(&key).expect("live session");
                    assert!(
                        !session.known_empty,
                        "a frame for session {key} without SessionReady"
                    );
                    self.client_reads(key, &frame);
                    read += 1;
                }
                None => {
                    let session = self.sessions.get_mut(&key).expect("live session");
                    session.known_empty = true;
                    let closed = session.closed_by_relay;
                    assert_eq!(
                        self.relay.is_session_finished(key),
                        closed,
                        "is_session_finished with an empty queue"
                    );
                    if closed {
                        if !session.slow {
                            assert!(self.exited, "session {key} closed, neither slow nor exited");
                            self.check_answered(key);
                        }
                        self.close(key);
                    }
                    break;
                }
            }
        }
    }

    fn tainted(&self, key: SessionKey, id: &[u8]) -> bool {
        self.global_taint.contains(id)
            || self
                .sessions
                .get(&key)
                .is_some_and(|s| s.tainted.contains(id))
    }

    /// Outstanding requests of `key` with id `id`.
    fn outstanding_with(&self, key: SessionKey, id: &[u8]) -> usize {
        self.sessions.get(&key).map_or(0, |session| {
            session
                .outstanding
                .iter()
                .filter(|n| self.sent.get(n).is_some_and(|s| s.id == id))
                .count()
        })
    }

    /// Answers without a nonce match outstanding requests by id: never more
    /// of them than requests with that id.
    fn check_nonceless(&self, key: SessionKey, id: &[u8]) {
        let got = self
            .sessions
            .get(&key)
            .and_then(|s| s.nonceless.get(id))
            .copied()
            .unwrap_or(0);
        let owed = self.outstanding_with(key, id);
        assert!(
            got <= owed,
            "session {key}: {got} answers with id {} for {owed} requests",
            String::from_utf8_lossy(id)
        );
    }

    /// Every request of `key` has had its one answer (the child exited and
    /// the session drained).
    fn check_answered(&self, key: SessionKey) {
        let session = self.sessions.get(&key).expect("live session");
        assert_eq!(session.null_owed, 0, "session {key}: batch errors missing");
        let mut ids: Vec<&Vec<u8>> = session
            .outstanding
            .iter()
            .map(|n| &self.sent.get(n).expect("sent").id)
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let owed = self.outstanding_with(key, id);
            let got = session.nonceless.get(id).copied().unwrap_or(0);
            if self.tainted(key, id) {
                assert!(got <= owed);
            } else {
                assert_eq!(
                    got,
                    owed,
                    "session {key}: requests with id {} unanswered after the child exited",
                    String::from_utf8_lossy(id)
                );
            }
        }
    }

    /// A frame reached session `key`'s client.
    fn client_reads(&mut self, key: SessionKey, frame: &Frame) {
        let bytes: &[u8] = frame;
        let text = String::from_utf8_lossy(bytes).into_owned();
        if trace() {
            eprintln!("  client {key} <- {text}");
        }
        let message =
            parse_message(bytes).unwrap_or_else(|e| panic!("frame is not JSON-RPC ({e}): {text}"));
        let is_answer = matches!(message.kind, Kind::Response | Kind::ErrorResponse);
        assert_eq!(frame.is_response, is_answer, "is_response of {text}");
        if is_answer {
            let id = message.id.map(|id| id.as_bytes().to_vec());
            self.client_answered(key, id, &text);
        } else {
            let method = message.method.as_deref().unwrap_or_default().to_owned();
            let id = message.id.map(|id| id.as_bytes().to_vec());
            let progress = message.progress_token.map(|(t, _)| t.as_bytes().to_vec());
            let cancelled = message.cancelled_id.map(|(t, _)| t.as_bytes().to_vec());
            self.client_notified(key, &method, id, progress, cancelled, &text);
        }
    }

    fn client_answered(&mut self, key: SessionKey, id: Option<Vec<u8>>, text: &str) {
        if let Some(request) = id.as_deref().and_then(modern::request_nonce) {
            self.modern_answered(key, request, text);
            return;
        }
        let nonce = find_number(text.as_bytes(), b"\"nonce\":");
        match (nonce, id) {
            (Some(nonce), Some(id)) => {
                let sent = self
                    .sent
                    .get(&nonce)
                    .unwrap_or_else(|| panic!("answer to an unknown request: {text}"));
                assert_eq!(
                    sent.session, key,
                    "session {key} got session {}'s answer: {text}",
                    sent.session
                );
                assert_eq!(
                    sent.id,
                    id,
                    "answer id not the client's bytes ({}): {text}",
                    String::from_utf8_lossy(&sent.id)
                );
                let session = self.sessions.get_mut(&key).expect("live session");
                let at = session
                    .outstanding
                    .iter()
                    .position(|n| *n == nonce)
                    .unwrap_or_else(|| panic!("second answer to a request: {text}"));
                session.outstanding.remove(at);
                self.check_nonceless(key, &id);
            }
            (Some(_), None) => panic!("child answer with a null id: {text}"),
            (None, None) => {
                let session = self.sessions.get_mut(&key).expect("live session");
                assert!(session.null_owed > 0, "unexpected null-id answer: {text}");
                session.null_owed -= 1;
                assert!(text.len() < OWN_FRAME + 4, "own answer too long: {text}");
            }
            (None, Some(id)) => {
                assert!(
                    text.len() < OWN_FRAME + id.len(),
                    "own answer over 200 bytes plus the id: {text}"
                );
                let session = self.sessions.get_mut(&key).expect("live session");
                *session.nonceless.entry(id.clone()).or_default() += 1;
                self.check_nonceless(key, &id);
            }
        }
    }

    fn client_notified(
        &mut self,
        key: SessionKey,
        method: &str,
        id: Option<Vec<u8>>,
        progress: Option<Vec<u8>>,
        cancelled: Option<Vec<u8>>,
        text: &str,
    ) {
        if let Some(token) = id {
            // A child request, under a token.
            // (Written after the client spoke 2026-07-28: its cnonce is
            // later on the same clock.)
            let session = self.sessions.get(&key).expect("live session");
            let cnonce = find_number(text.as_bytes(), b"\"cnonce\":").unwrap_or(0);
            assert!(
                session.modern.is_none_or(|since| since > cnonce) || session.handshake,
                "a 2026-07-28 client was sent a request: {text}"
            );
            assert!(
                is_token(&token),
                "child request id not a 32-hex token: {text}"
            );
            let cnonce = find_number(text.as_bytes(), b"\"cnonce\":")
                .unwrap_or_else(|| panic!("child request without cnonce: {text}"));
            assert!(
                self.delivered.insert(cnonce),
                "child request reached a second session ({key}): {text}"
            );
            assert!(!self.asked.contains_key(&token), "token reused: {text}");
            self.asked.insert(
                token.clone(),
                Asked {
                    cnonce,
                    session: key,
                    answered: false,
                },
            );
            self.token_list.push(token.clone());
            let session = self.sessions.get_mut(&key).expect("live session");
            session.tokens.insert(token);
            return;
        }
        let session = self.sessions.get_mut(&key).expect("live session");
        match method {
            "notifications/progress" => {
                let nonce = find_number(text.as_bytes(), b"\"nonce\":")
                    .unwrap_or_else(|| panic!("progress without the request's nonce: {text}"));
                let sent = self
                    .sent
                    .get(&nonce)
                    .unwrap_or_else(|| panic!("progress for an unknown request: {text}"));
                assert_eq!(sent.session, key, "progress on another session: {text}");
                assert_eq!(
                    sent.token, progress,
                    "progress token not the client's: {text}"
                );
            }
            "notifications/cancelled" => {
                let token = cancelled.unwrap_or_default();
                assert!(
                    session.tokens.contains(&token),
                    "cancellation of a child request this session was not sent: {text}"
                );
            }
            _ if modern::tag_of(text).is_some() => self.listen_notified(key, method, text),
            "notifications/tools/list_changed"
            | "notifications/message"
            | "notifications/prompts/list_changed"
            | "notifications/resources/list_changed"
            | "notifications/resources/updated" => {
                let bnonce = find_number(text.as_bytes(), b"\"bnonce\":")
                    .unwrap_or_else(|| panic!("child notification without bnonce: {text}"));
                assert!(
                    session.notes.insert(bnonce),
                    "child notification twice on session {key}: {text}"
                );
                if method != "notifications/message" {
                    assert!(
                        session.standalone,
                        "broadcast to a non-standalone session {key}"
                    );
                }
            }
            _ => panic!("unexpected frame for session {key}: {text}"),
        }
    }

    // ----- the child ----------------------------------------------------

    /// The child feeds the relay one line of its stdout.
    fn child_line(&mut self, line: &str) {
        self.child_op = true;
        self.longest_child_line = self.longest_child_line.max(line.len());
        if trace() {
            eprintln!("  child -> {line}");
        }
        self.relay.handle_child_line(line.as_bytes());
    }

    /// The child (and what it was owed) is gone: exit or restart.
    fn child_gone(&mut self) {
        self.child.pending.clear();
        self.child.progress.clear();
        self.child.own.clear();
    }

    /// The child is replaced: a runtime update (`message` `None`:
    /// `handle_child_restart`) or, for a reverse bridge, a session the
    /// remote server ended (`handle_child_replaced(message)`); the same
    /// promises hold either way.
    fn replace_child(&mut self, message: Option<&str>) {
        match message {
            None => self.relay.handle_child_restart(),
            Some(message) => self.relay.handle_child_replaced(message),
        }
        if self.exited {
            return;
        }
        let unanswered: Vec<u64> = self
            .child
            .pending
            .iter()
            .filter_map(|seen| seen.nonce)
            .collect();
        self.child_gone();
        if let Some(modern) = &mut self.modern {
            // Listens open at a 2026-07-28 child are carried to the
            // replacement: sent to it again (or served by the relay if it
            // is handshake-era), unanswered.
            for nonce in modern.restarted(&unanswered) {
                self.arrived.remove(&nonce);
            }
        }
    }

    /// The child reads its stdin: `poll_child_transmit` with `max`, once or
    /// until empty.
    fn read_child(&mut self, max: usize, all: bool) {
        loop {
            let mut out = Vec::new();
            if !self.relay.poll_child_transmit(&mut out, max) {
                assert!(out.is_empty(), "poll_child_transmit false but wrote");
                self.child.known_empty = true;
                return;
            }
            assert!(
                !self.child.known_empty,
                "a line for the child without ChildReady"
            );
            assert_eq!(out.last(), Some(&b'\n'), "a partial line for the child");
            for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                self.child_reads(line);
            }
            if !all {
                return;
            }
        }
    }

    fn child_reads(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line).into_owned();
        if trace() {
            eprintln!("  child <- {text}");
        }
        for key in VARIANT_KEYS {
            assert!(
                !text.contains(key),
                "case-variant key reached the child: {text}"
            );
        }
        let message =
            parse_message(line).unwrap_or_else(|e| panic!("child got non-JSON-RPC ({e}): {text}"));
        let nonce = find_number(line, b"\"nonce\":");
        let initialize = message.method.as_deref() == Some("initialize");
        if let Some(nonce) = nonce {
            assert!(
                !self.refused.contains(&nonce),
                "a refused message reached the child: {text}"
            );
            assert!(
                self.accepted.contains(&nonce),
                "a message never accepted reached the child: {text}"
            );
            assert!(
                initialize || self.arrived.insert(nonce),
                "a message reached the child twice: {text}"
            );
        }
        match message.kind {
            Kind::Request => {
                let raw = message
                    .id
                    .map(|id| id.as_bytes().to_vec())
                    .unwrap_or_default();
                let gateway_id = decimal(&raw)
                    .unwrap_or_else(|| panic!("child got a request without a gateway id: {text}"));
                assert!(
                    !self.gateway_ids.contains(&gateway_id),
                    "gateway id {gateway_id} reused: {text}"
                );
                self.gateway_ids.push(gateway_id);
                if self.request_events {
                    match (self.started.get(&gateway_id), nonce) {
                        (Some(client_id), Some(nonce)) => {
                            let sent = self.sent.get(&nonce).expect("accepted request");
                            assert_eq!(*client_id, sent.id, "RequestStarted client id: {text}");
                        }
                        (Some(_), None) => panic!("started request without nonce: {text}"),
                        (None, Some(_)) => {
                            assert!(initialize, "request without RequestStarted: {text}")
                        }
                        (None, None) => assert!(
                            initialize || modern::relay_own(message.method.as_deref()),
                            "request without RequestStarted: {text}"
                        ),
                    }
                }
                if let Some((token, _)) = message.progress_token.as_ref().filter(|_| !initialize) {
                    // (A replayed `initialize` is the client's bytes with only
                    // the id replaced: its token, if any, is left as it was.)
                    assert!(
                        decimal(token.as_bytes()).is_some(),
                        "child got a client's progress token: {text}"
                    );
                    self.child.progress.push((token.as_bytes().to_vec(), nonce));
                }
                let discover = self.modern_child_reads(&message, gateway_id, nonce, &text);
                self.child.pending.push(Seen {
                    gateway_id,
                    nonce,
                    initialize,
                    discover,
                });
            }
            Kind::Notification => {
                if message.method.as_deref() == Some("notifications/cancelled") {
                    let raw = message
                        .cancelled_id
                        .map(|(id, _)| id.as_bytes().to_vec())
                        .unwrap_or_default();
                    let gateway_id = decimal(&raw)
                        .unwrap_or_else(|| panic!("cancellation of a non-gateway id: {text}"));
                    assert!(
                        self.gateway_ids.contains(&gateway_id),
                        "cancellation of a request the child never got: {text}"
                    );
                }
            }
            Kind::Response | Kind::ErrorResponse => {
                let raw = message
                    .id
                    .map(|id| id.as_bytes().to_vec())
                    .unwrap_or_default();
                let cnonce = self.child.own.remove(&raw).unwrap_or_else(|| {
                    panic!("child got an answer to no request of its own (or twice): {text}")
                });
                if let Some(got) = find_number(line, b"\"cnonce\":") {
                    assert_eq!(got, cnonce, "answer spliced to the wrong child id: {text}");
                }
            }
        }
    }

    fn pad_text(ops: &mut RelayOps<'_>) -> String {
        let pad = PADS[usize::from(ops.byte() % 5)];
        if pad == 0 {
            String::new()
        } else {
            format!(",\"pad\":\"{}\"", "c".repeat(pad))
        }
    }

    fn child_answer(&mut self, ops: &mut RelayOps<'_>) {
        let which = ops.byte();
        let form = ops.byte();
        let pad = Self::pad_text(ops);
        if self.child.pending.is_empty() {
            return;
        }
        let at = usize::from(which) % self.child.pending.len();
        let seen = if form & 0x40 != 0 {
            self.child.pending[at].clone()
        } else {
            self.child.pending.remove(at)
        };
        let id = seen.gateway_id;
        if let (Some(modern), Some(nonce)) = (&mut self.modern, seen.nonce) {
            modern.child_answered.insert(nonce);
        }
        let error = form & 1 != 0;
        if seen.discover || (seen.nonce.is_none() && !seen.initialize) {
            let line = self.relay_own_answer(&seen, form, &pad);
            self.child_line(&line);
            return;
        }
        if let (Some(modern), Some(nonce), false) = (&self.modern, seen.nonce, seen.initialize) {
            let line = modern.child_answer(id, nonce, form, &pad);
            self.child_line(&line);
            return;
        }
        let line = match (seen.initialize, error, seen.nonce) {
            (true, false, _) if self.modern.is_some() => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}}}",
                modern::child_capabilities(form)
            ),
            (true, false, _) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"protocolVersion\":\"2025-06-18\"}}}}"
            ),
            (true, true, _) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32602,\"message\":\"no\"}}}}"
            ),
            (false, false, Some(nonce)) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"nonce\":{nonce}{pad}}}}}"
            ),
            (false, true, Some(nonce)) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32001,\"message\":\"failed\",\"data\":{{\"nonce\":{nonce}{pad}}}}}}}"
            ),
            (false, _, None) => panic!("a request without nonce that is not initialize"),
        };
        self.child_line(&line);
    }

    fn child_request(&mut self, ops: &mut RelayOps<'_>) {
        let form = ops.byte();
        let method = [
            "sampling/createMessage",
            "roots/list",
            "elicitation/create",
            "ping",
        ][usize::from(ops.byte() % 4)];
        let pad = Self::pad_text(ops);
        let n = self.child.next_id;
        self.child.next_id += 1;
        let id = match form % 3 {
            0 => n.to_string(),
            1 => format!("\"{n}\""),
            _ => format!("\"s-{n}\""),
        };
        let cnonce = self.fresh_nonce();
        self.child.own.insert(id.as_bytes().to_vec(), cnonce);
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\",\"params\":{{\"cnonce\":{cnonce}{pad}}}}}"
        );
        self.child_line(&line);
    }

    fn child_notification(&mut self, ops: &mut RelayOps<'_>) {
        let kind = ops.byte();
        let which = usize::from(ops.byte());
        let pad = Self::pad_text(ops);
        if self.modern.is_some() && kind % 10 >= 6 {
            if let Some(line) = self.modern_notification(kind % 10 - 6, which, &pad) {
                self.child_line(&line);
            }
            return;
        }
        let line = match kind % 6 {
            0 => {
                let Some((token, nonce)) = self
                    .child
                    .progress
                    .get(which.checked_rem(self.child.progress.len()).unwrap_or(0))
                    .cloned()
                else {
                    return;
                };
                let token = String::from_utf8_lossy(&token).into_owned();
                let nonce = nonce.expect("progress tokens come with client requests");
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{{\"progressToken\":{token},\"progress\":1,\"nonce\":{nonce}{pad}}}}}"
                )
            }
            1 | 2 => {
                let method = if kind % 6 == 1 {
                    "notifications/tools/list_changed"
                } else {
                    "notifications/message"
                };
                let bnonce = self.fresh_nonce();
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"method\":\"{method}\",\"params\":{{\"bnonce\":{bnonce}{pad}}}}}"
                )
            }
            3 => {
                let ids: Vec<Vec<u8>> = self.child.own.keys().cloned().collect();
                let Some(id) = ids.get(which.checked_rem(ids.len()).unwrap_or(0)) else {
                    return;
                };
                if let Some(cnonce) = self.child.own.get(id).copied() {
                    self.withdrawn(cnonce);
                }
                let id = String::from_utf8_lossy(id).into_owned();
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{{\"requestId\":{id},\"reason\":\"gone\"}}}}"
                )
            }
            4 => [
                "not json",
                "{\"jsonrpc\":\"2.0\"}",
                "",
                "[1]",
                "{\"jsonrpc\":\"2.0\",\"ID\":1,\"method\":\"x\"}",
            ][which % 5]
                .to_owned(),
            _ => {
                // Tokens no request was given: they must route nowhere.
                let token = match which % 4 {
                    0 => format!("\"{which}\""),
                    1 => format!("{which}.0"),
                    2 => format!("-{which}"),
                    _ => format!("{}", (1u64 << 60) | which as u64),
                };
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{{\"progressToken\":{token},\"progress\":1}}}}"
                )
            }
        };
        self.child_line(&line);
    }

    /// The child answers an id that is no request in flight (or, by chance,
    /// one that is: then it is a real answer, without a nonce).
    fn stale_answer(&mut self, ops: &mut RelayOps<'_>) {
        let kind = ops.byte();
        let which = usize::from(ops.byte());
        let id = match kind % 4 {
            0 => {
                let Some(id) = self
                    .gateway_ids
                    .get(which.checked_rem(self.gateway_ids.len()).unwrap_or(0))
                else {
                    return;
                };
                // A request still pending at the child is answered now.
                self.child.pending.retain(|seen| seen.gateway_id != *id);
                let id = *id;
                if let Some(modern) = &mut self.modern {
                    modern.probe_answered(id, false);
                }
                id.to_string()
            }
            1 => (which * 7).to_string(),
            2 => format!("\"{}\"", which),
            _ => "null".to_owned(),
        };
        let line = if id == "null" {
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}"
                .to_owned()
        } else {
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"stale\":true}}}}")
        };
        self.child_line(&line);
    }

    // ----- after every step ---------------------------------------------

    /// Takes the relay's events and checks the bounds.
    fn settle(&mut self) {
        while let Some(event) = self.relay.poll_event() {
            if trace() {
                eprintln!("  event {event:?}");
            }
            match event {
                Event::ChildReady => self.child.known_empty = false,
                Event::SessionReady(key) => match self.sessions.get_mut(&key) {
                    Some(session) => session.known_empty = false,
                    None => assert!(self.closed.contains(&key), "SessionReady({key}) unknown"),
                },
                Event::SessionClosed(key) => match self.sessions.get_mut(&key) {
                    Some(session) => session.closed_by_relay = true,
                    None => assert!(self.closed.contains(&key), "SessionClosed({key}) unknown"),
                },
                Event::Report(Report::SlowClient(key)) => {
                    assert!(
                        self.child_op,
                        "session {key} dropped as slow by something other than the child"
                    );
                    if let Some(session) = self.sessions.get_mut(&key) {
                        session.slow = true;
                    }
                }
                Event::Report(report) => {
                    if let Some(modern) = &mut self.modern {
                        modern.reported(&report);
                    }
                }
                Event::RequestStarted {
                    request, client_id, ..
                } => {
                    assert!(self.request_events, "RequestStarted while off");
                    let old = self.started.insert(request, client_id.as_bytes().to_vec());
                    assert!(old.is_none(), "RequestStarted twice for {request}");
                }
                Event::RequestFinished { request, .. } => {
                    assert!(
                        self.started.contains_key(&request),
                        "RequestFinished({request}) without RequestStarted"
                    );
                    assert!(
                        self.finished.insert(request),
                        "RequestFinished({request}) twice"
                    );
                }
            }
        }
        self.check_bounds();
    }

    /// How far the relay may go past its byte limits, derived from what it
    /// documents (relay `Limits::session_bytes`, `Budget::charge`):
    ///
    /// - its own answers (errors, cached `initialize` results) are never
    ///   refused, each under [`OWN_FRAME`] bytes plus the client's id, and
    ///   each answers a request (or an invalid batch element) the client has
    ///   not read an answer to yet — so at most one per request outstanding
    ///   in this model;
    /// - a line relayed to the child is admitted at its own size, and the
    ///   gateway id and progress token spliced into it may be longer than the
    ///   client's: [`SPLICE_GROWTH`] per line, for at most `max_child_lines`
    ///   lines;
    /// - the relay answers a child request it cannot route (or whose session
    ///   ended) with an error line, charged whatever the budget: at most one
    ///   per child request the child has not read an answer to;
    /// - a restart replays the kept `initialize` (at most the longest one a
    ///   client sent), or the relay's own, and `notifications/initialized`;
    /// - one frame of the child's is always accepted into an empty session
    ///   queue, whatever its size (session bound only).
    fn slack(&self) -> (usize, usize) {
        let longest_id = CLIENT_IDS.iter().map(|id| id.len()).max().unwrap_or(0);
        let own: usize = self
            .sessions
            .values()
            .map(|s| s.outstanding.len() + s.null_owed)
            .sum::<usize>()
            * (OWN_FRAME + longest_id);
        let session_own = self.limits.session_frames * (OWN_FRAME + longest_id);
        let growth = self.limits.max_child_lines * SPLICE_GROWTH;
        let child_errors = self.child.own.len() * (CHILD_ERROR + 24);
        let replay = self.longest_initialize.max(SELF_INIT_LINES) + 24 + 56;
        let modern = self.modern_slack();
        let process = own + growth + child_errors + replay + modern;
        let session = session_own + growth + self.longest_child_line + 64 + modern;
        (process, session)
    }

    fn check_bounds(&self) {
        let (process, session) = self.slack();
        let budget = self.relay.budget();
        assert!(
            budget.used() <= budget.limit() + process,
            "budget {} used of {} (+{process} slack)",
            budget.used(),
            budget.limit()
        );
        for key in self.sessions.keys() {
            let bytes = self.relay.session_bytes(*key);
            assert!(
                bytes <= self.limits.session_bytes + session,
                "session {key} holds {bytes} bytes, limit {} (+{session} slack)",
                self.limits.session_bytes
            );
        }
    }

    /// The end of the input: the child reads what it was sent; then either
    /// it exits (every request must then be answered) or every session
    /// closes; either way nothing may stay charged.
    fn finish(&mut self) {
        self.child_op = false;
        self.read_child(usize::MAX, true);
        self.settle();
        if self.exit_last {
            self.relay.handle_child_exit(0);
            self.child_gone();
            self.exited = true;
            self.settle();
            let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
            for key in keys {
                self.drain_session(key, usize::MAX);
            }
            assert!(self.sessions.is_empty(), "sessions left after the exit");
            if self.request_events {
                let mut open: Vec<u64> = self
                    .started
                    .keys()
                    .filter(|r| !self.finished.contains(r))
                    .copied()
                    .collect();
                open.sort_unstable();
                assert!(
                    open.is_empty(),
                    "requests started, never finished: {open:?}"
                );
            }
        } else {
            let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
            for key in keys {
                self.close(key);
            }
            self.settle();
            self.read_child(usize::MAX, true);
            self.settle();
            assert_eq!(
                self.relay.in_flight(),
                0,
                "requests in flight without sessions"
            );
        }
        assert_eq!(self.relay.session_count(), 0, "sessions left");
        assert_eq!(
            self.relay.budget().used(),
            0,
            "bytes still charged with no session and nothing for the child"
        );
    }
}

/// The digits after `key` in `hay`, as a number.
fn find_number(hay: &[u8], key: &[u8]) -> Option<u64> {
    let at = hay.windows(key.len()).position(|w| w == key)?;
    let rest = hay.get(at.saturating_add(key.len())..)?;
    let digits: Vec<u8> = rest
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    decimal(&digits)
}

/// A plain decimal `u64`, as the relay writes gateway ids.
fn decimal(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(raw).ok()?.parse().ok()
}

/// `"` + 32 lowercase hex digits + `"`.
fn is_token(raw: &[u8]) -> bool {
    raw.len() == 34
        && raw.first() == Some(&b'"')
        && raw.last() == Some(&b'"')
        && raw.get(1..33).is_some_and(|hex| {
            hex.iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        })
}

/// `RELAY_TRACE` set in the environment: print every step, message, frame,
/// line and event to stderr (to read a crash input:
/// `RELAY_TRACE=1 fuzz/target/…/relay_sequence crash-…`).
fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RELAY_TRACE").is_some())
}
