//! The id-multiplexing table: many clients, one child.
//!
//! Several clients talk to one stdio child. Their JSON-RPC ids collide (every
//! client starts at 0 or 1), so each request travels to the child under a
//! gateway-unique numeric id, and the child's response is routed back to the
//! client that sent it, with the client's original id spliced back in
//! byte-for-byte (a string id stays a string, `1.0` stays `1.0`).
//!
//! The same holds for the other ids that name a request:
//! - progress tokens (`params._meta.progressToken` of a client request, echoed
//!   by the child in `notifications/progress`) are rewritten to gateway
//!   tokens and back, so progress reaches the client whose token it is;
//! - `notifications/cancelled` from a client names the client's id, which is
//!   rewritten to the gateway id the child knows;
//! - server→client requests (sampling, elicitation, roots) keep the child's
//!   own id; the table remembers which client was asked, so only that client's
//!   reply reaches the child, and a client that leaves can be answered for.
//!
//! The table is generic over the session key `S` the driver uses. It does no
//! I/O: the driver asks it where a message goes and does the sending.

use std::collections::HashMap;
use std::hash::Hash;

use crate::int_map::{int_map, IntMap};
pub use crate::jsonrpc::write_u64;
use crate::jsonrpc::Id;

/// Where a client request goes on the child's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The gateway id to put on the wire instead of the client's id.
    pub id: u64,
    /// The gateway progress token to put on the wire instead of the client's.
    pub progress_token: Option<u64>,
}

/// A child response routed back to the client that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed<S> {
    /// The client (session) that sent the request.
    pub session: S,
    /// The client's original id, to splice back in.
    pub id: Id,
    /// The request was `initialize` (the driver caches its result).
    pub initialize: bool,
}

/// What a session leaves behind when it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// Gateway ids of its requests still in flight at the child: the driver
    /// sends `notifications/cancelled` for each so the child stops working.
    pub cancelled: Vec<u64>,
    /// Ids of the child's requests that this session was asked and never
    /// answered: the driver answers the child with an error for each.
    pub unanswered: Vec<Id>,
}

/// Why a client request was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuxError {
    /// The same client already has a request in flight with this id.
    DuplicateId,
    /// The table holds `max_in_flight` requests already.
    TooManyInFlight,
}

impl core::fmt::Display for MuxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::DuplicateId => "a request with this id is already in flight",
            Self::TooManyInFlight => "too many requests in flight",
        })
    }
}

impl std::error::Error for MuxError {}

/// The id-multiplexing table. See the module documentation.
#[derive(Debug)]
pub struct Mux<S> {
    /// Next gateway id or token; shared by both so a stray value never
    /// matches the wrong table. Starts at 1.
    next: u64,
    /// Bound on `pending`: a client that never waits for answers cannot grow
    /// the table without limit.
    max_in_flight: usize,
    /// Gateway id → the client request it stands for.
    pending: IntMap<u64, Pending<S>>,
    /// (session, client id) → gateway id, for `notifications/cancelled`.
    by_client: HashMap<(S, Id), u64>,
    /// Gateway progress token → (session, client token).
    progress: IntMap<u64, (S, Id)>,
    /// Child request id → the session asked to answer it.
    child_requests: HashMap<Id, S>,
    /// Per session: requests in flight and the sequence number of the latest.
    activity: IntMap<S, Activity>,
    /// Counts requests, to tell which session asked most recently.
    sequence: u64,
    /// Bytes the table holds for all requests in flight (see [`Mux::weight`]).
    weight: usize,
}

/// What one request in flight costs the table beyond its ids: the map
/// entries and their bookkeeping, rounded up.
pub const ENTRY_WEIGHT: usize = 128;

#[derive(Clone, Debug)]
struct Pending<S> {
    session: S,
    id: Id,
    progress_token: Option<u64>,
    initialize: bool,
    /// `ENTRY_WEIGHT` plus the bytes of the saved client id and token.
    weight: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Activity {
    in_flight: usize,
    /// Sum of the weights of the session's requests in flight.
    weight: usize,
    /// Sequence of the session's latest request, or of its opening.
    last: u64,
}

impl<S: Copy + Eq + Hash> Mux<S> {
    /// An empty table holding at most `max_in_flight` client requests.
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            next: 1,
            max_in_flight,
            pending: int_map(),
            by_client: HashMap::new(),
            progress: int_map(),
            child_requests: HashMap::new(),
            activity: int_map(),
            sequence: 0,
            weight: 0,
        }
    }

    /// Bytes held for the requests in flight: for each, [`ENTRY_WEIGHT`]
    /// plus its saved client id and progress token (a client's id may be
    /// as long as its message, so the table is bounded in bytes by the
    /// driver's budget, not only by `max_in_flight`).
    pub fn weight(&self) -> usize {
        self.weight
    }

    /// The part of [`Mux::weight`] that `session`'s requests hold.
    pub fn weight_of(&self, session: S) -> usize {
        self.activity
            .get(&session)
            .map_or(0, |activity| activity.weight)
    }

    /// A gateway id for a request the driver sends on its own behalf (it
    /// routes to no session).
    pub fn reserve_id(&mut self) -> u64 {
        self.bump_next()
    }

    /// A session opened: it becomes the most recent one for server→client
    /// requests until another session opens or sends a request.
    pub fn handle_session_open(&mut self, session: S) {
        let last = self.bump_sequence();
        self.activity.entry(session).or_default().last = last;
    }

    /// A client request is about to be relayed to the child. Returns the
    /// gateway id (and progress token) to splice in.
    pub fn handle_client_request(
        &mut self,
        session: S,
        id: Id,
        progress_token: Option<Id>,
        initialize: bool,
    ) -> Result<Outbound, MuxError> {
        if self.by_client.contains_key(&(session, id.clone())) {
            return Err(MuxError::DuplicateId);
        }
        if self.pending.len() >= self.max_in_flight {
            return Err(MuxError::TooManyInFlight);
        }
        let gateway_id = self.bump_next();
        let weight = entry_weight(id.as_bytes(), progress_token.as_ref().map(Id::as_bytes));
        let token = progress_token.map(|client_token| {
            let gateway_token = self.bump_next();
            self.progress.insert(gateway_token, (session, client_token));
            gateway_token
        });
        self.by_client.insert((session, id.clone()), gateway_id);
        self.pending.insert(
            gateway_id,
            Pending {
                session,
                id,
                progress_token: token,
                initialize,
                weight,
            },
        );
        self.weight = self.weight.saturating_add(weight);
        let last = self.bump_sequence();
        let activity = self.activity.entry(session).or_default();
        activity.in_flight = activity.in_flight.saturating_add(1);
        activity.weight = activity.weight.saturating_add(weight);
        activity.last = last;
        Ok(Outbound {
            id: gateway_id,
            progress_token: token,
        })
    }

    /// The child answered request `id` (the raw JSON of its id). Returns the
    /// client to route it to, or `None` for an id the table does not know
    /// (a late answer to a cancelled request, or a confused child).
    pub fn handle_child_response(&mut self, id: &[u8]) -> Option<Routed<S>> {
        self.handle_child_response_to(parse_gateway_id(id)?)
    }

    /// [`Mux::handle_child_response`] for an id already parsed with
    /// [`parse_gateway_id`].
    pub fn handle_child_response_to(&mut self, gateway_id: u64) -> Option<Routed<S>> {
        let pending = self.pending.remove(&gateway_id)?;
        self.forget(&pending);
        Some(Routed {
            session: pending.session,
            id: pending.id,
            initialize: pending.initialize,
        })
    }

    /// The child sent `notifications/progress` with `token` (raw JSON).
    /// Returns the client and its original token.
    pub fn handle_child_progress(&self, token: &[u8]) -> Option<(S, &Id)> {
        let gateway_token = parse_gateway_id(token)?;
        self.progress
            .get(&gateway_token)
            .map(|(session, id)| (*session, id))
    }

    /// A client cancels its request `id`. Returns the gateway id to put in
    /// the notification, or `None` when no such request is in flight (the
    /// notification is then dropped: MCP lets receivers ignore unknown ids).
    pub fn handle_client_cancel(&self, session: S, id: &Id) -> Option<u64> {
        self.by_client.get(&(session, id.clone())).copied()
    }

    /// The child sends a request of its own. Picks the session to ask: the
    /// one with a request in flight that asked most recently, else the most
    /// recently active one. `is_open` filters out sessions the driver knows
    /// are gone. Returns `None` when there is no session to ask.
    pub fn handle_child_request(&mut self, id: Id, is_open: impl Fn(S) -> bool) -> Option<S> {
        let chosen = self.busiest(&is_open).or_else(|| {
            self.activity
                .iter()
                .filter(|(session, _)| is_open(**session))
                .max_by_key(|(_, activity)| activity.last)
                .map(|(session, _)| *session)
        })?;
        self.child_requests.insert(id, chosen);
        Some(chosen)
    }

    /// The open session with a request in flight that asked most recently:
    /// where a message the child sends while working (a log line, a request
    /// of its own) most likely belongs.
    pub fn busiest(&self, is_open: impl Fn(S) -> bool) -> Option<S> {
        self.activity
            .iter()
            .filter(|(session, activity)| activity.in_flight > 0 && is_open(**session))
            .max_by_key(|(_, activity)| activity.last)
            .map(|(session, _)| *session)
    }

    /// The child cancels its own request `id`. Returns the session that was
    /// asked, and forgets the request.
    pub fn handle_child_cancel(&mut self, id: &Id) -> Option<S> {
        self.child_requests.remove(id)
    }

    /// A client answers a child request. True when `session` was the one
    /// asked (the answer goes to the child, and the request is forgotten);
    /// false for an answer nobody asked this session for (dropped).
    pub fn handle_client_response(&mut self, session: S, id: &Id) -> bool {
        if self.child_requests.get(id) == Some(&session) {
            self.child_requests.remove(id);
            true
        } else {
            false
        }
    }

    /// A client answers a child request, where every session of the table
    /// belongs to one client (or clients are anonymous): the answer counts
    /// from any session. True when such a request was pending.
    pub fn handle_client_response_any(&mut self, id: &Id) -> bool {
        self.child_requests.remove(id).is_some()
    }

    /// A client cancels its request `id`, where every session of the table
    /// belongs to that one client: the request may have come on any of them.
    pub fn handle_client_cancel_any(&self, id: &Id) -> Option<u64> {
        self.by_client
            .iter()
            .find(|((_, client_id), _)| client_id == id)
            .map(|(_, gateway_id)| *gateway_id)
    }

    /// Forgets a request the driver gave up on (for example, it could not be
    /// written to the child): its id and token no longer route.
    pub fn handle_abandoned(&mut self, gateway_id: u64) {
        if let Some(pending) = self.pending.remove(&gateway_id) {
            self.forget(&pending);
        }
    }

    /// A session ended: forget everything it had, and say what the child
    /// should be told.
    pub fn handle_session_end(&mut self, session: S) -> Ended {
        let mut ended = Ended::default();
        let gone: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.session == session)
            .map(|(gateway_id, _)| *gateway_id)
            .collect();
        for gateway_id in gone {
            if let Some(pending) = self.pending.remove(&gateway_id) {
                self.forget(&pending);
                // `initialize` must not be cancelled (MCP lifecycle); its
                // answer will simply find nobody to route to.
                if !pending.initialize {
                    ended.cancelled.push(gateway_id);
                }
            }
        }
        ended.cancelled.sort_unstable();
        self.child_requests.retain(|id, asked| {
            if *asked == session {
                ended.unanswered.push(id.clone());
                false
            } else {
                true
            }
        });
        self.activity.remove(&session);
        ended
    }

    /// Forgets every client request in flight (the child is gone) and
    /// returns each one's session and client id, so that each client can be
    /// told.
    pub fn drain(&mut self) -> Vec<(S, Id)> {
        self.drain_requests()
            .into_iter()
            .map(|(_, session, id)| (session, id))
            .collect()
    }

    /// [`Mux::drain`], with each request's gateway id, in the order the
    /// requests were sent.
    pub fn drain_requests(&mut self) -> Vec<(u64, S, Id)> {
        let mut drained: Vec<(u64, S, Id)> = self
            .pending
            .drain()
            .map(|(gateway_id, pending)| (gateway_id, pending.session, pending.id))
            .collect();
        drained.sort_unstable_by_key(|(gateway_id, _, _)| *gateway_id);
        self.by_client.clear();
        self.progress.clear();
        self.child_requests.clear();
        for activity in self.activity.values_mut() {
            activity.in_flight = 0;
            activity.weight = 0;
        }
        self.weight = 0;
        drained
    }

    /// The client ids of `session`'s requests in flight, in the order they
    /// were sent (for answering them before the session moves elsewhere).
    #[must_use]
    pub fn in_flight_ids(&self, session: S) -> Vec<Id> {
        let mut ids: Vec<(u64, Id)> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.session == session)
            .map(|(gateway_id, pending)| (*gateway_id, pending.id.clone()))
            .collect();
        ids.sort_unstable_by_key(|(gateway_id, _)| *gateway_id);
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// Number of client requests in flight at the child.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The session whose request travels under `gateway_id`, while it is
    /// in flight.
    pub fn session_of(&self, gateway_id: u64) -> Option<S> {
        self.pending.get(&gateway_id).map(|pending| pending.session)
    }

    /// The session and client id of the request that travels under
    /// `gateway_id`, while it is in flight.
    pub fn request_of(&self, gateway_id: u64) -> Option<(S, &Id)> {
        self.pending
            .get(&gateway_id)
            .map(|pending| (pending.session, &pending.id))
    }

    /// The gateway's progress token of the request under `gateway_id`, if
    /// its client gave one.
    pub fn progress_token_of(&self, gateway_id: u64) -> Option<u64> {
        self.pending.get(&gateway_id)?.progress_token
    }

    /// Number of client requests of `session` in flight at the child.
    pub fn in_flight_for(&self, session: S) -> usize {
        self.activity
            .get(&session)
            .map_or(0, |activity| activity.in_flight)
    }

    fn forget(&mut self, pending: &Pending<S>) {
        self.by_client
            .remove(&(pending.session, pending.id.clone()));
        if let Some(token) = pending.progress_token {
            self.progress.remove(&token);
        }
        if let Some(activity) = self.activity.get_mut(&pending.session) {
            activity.in_flight = activity.in_flight.saturating_sub(1);
            activity.weight = activity.weight.saturating_sub(pending.weight);
        }
        self.weight = self.weight.saturating_sub(pending.weight);
    }

    fn bump_next(&mut self) -> u64 {
        let value = self.next;
        // 2^64 requests will not happen; wrapping keeps this panic-free.
        self.next = self.next.wrapping_add(1).max(1);
        value
    }

    fn bump_sequence(&mut self) -> u64 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }
}

/// What one request in flight weighs in the table ([`Mux::weight`]):
/// [`ENTRY_WEIGHT`] plus its saved client id and progress token (raw JSON).
pub fn entry_weight(id: &[u8], progress_token: Option<&[u8]>) -> usize {
    ENTRY_WEIGHT
        .saturating_add(id.len())
        .saturating_add(progress_token.map_or(0, <[u8]>::len))
}

/// A gateway id is the decimal we wrote (at most 20 digits, no sign, no
/// fraction); anything else is not ours.
pub fn parse_gateway_id(raw: &[u8]) -> Option<u64> {
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

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn id(raw: &str) -> Id {
        Id::from_raw(raw.as_bytes()).unwrap()
    }

    #[test]
    fn same_ids_from_two_sessions_route_back_to_each() {
        let mut mux = Mux::new(100);
        let a = mux
            .handle_client_request(1u32, id("1"), None, false)
            .unwrap();
        let b = mux
            .handle_client_request(2u32, id("1"), None, false)
            .unwrap();
        assert_ne!(a.id, b.id);
        let mut buf = [0; 20];
        let routed = mux
            .handle_child_response(write_u64(b.id, &mut buf))
            .unwrap();
        assert_eq!(routed.session, 2);
        assert_eq!(routed.id.as_bytes(), b"1");
        let routed = mux
            .handle_child_response(write_u64(a.id, &mut buf))
            .unwrap();
        assert_eq!(routed.session, 1);
        // answered once: a second answer with the same id routes nowhere
        assert_eq!(mux.handle_child_response(write_u64(a.id, &mut buf)), None);
        assert_eq!(mux.in_flight(), 0);
    }

    #[test]
    fn ids_keep_their_json_type_and_text() {
        let mut mux = Mux::new(100);
        for raw in ["\"req-1\"", "1.0", "-3", "\"1\"", "1e3"] {
            let out = mux
                .handle_client_request(7u8, id(raw), None, false)
                .unwrap();
            let routed = mux
                .handle_child_response(out.id.to_string().as_bytes())
                .unwrap();
            assert_eq!(routed.id.as_bytes(), raw.as_bytes());
        }
    }

    #[test]
    fn duplicate_in_flight_id_is_refused_per_session() {
        let mut mux = Mux::new(100);
        mux.handle_client_request(1u8, id("5"), None, false)
            .unwrap();
        assert_eq!(
            mux.handle_client_request(1u8, id("5"), None, false),
            Err(MuxError::DuplicateId)
        );
        // another session may use the same id
        assert!(mux.handle_client_request(2u8, id("5"), None, false).is_ok());
    }

    #[test]
    fn in_flight_bound() {
        let mut mux = Mux::new(2);
        mux.handle_client_request(1u8, id("1"), None, false)
            .unwrap();
        mux.handle_client_request(1u8, id("2"), None, false)
            .unwrap();
        assert_eq!(
            mux.handle_client_request(1u8, id("3"), None, false),
            Err(MuxError::TooManyInFlight)
        );
    }

    #[test]
    fn progress_tokens_route_to_their_session_until_the_response() {
        let mut mux = Mux::new(100);
        let a = mux
            .handle_client_request(1u8, id("1"), Some(id("\"tok\"")), false)
            .unwrap();
        let b = mux
            .handle_client_request(2u8, id("1"), Some(id("\"tok\"")), false)
            .unwrap();
        let (ta, tb) = (a.progress_token.unwrap(), b.progress_token.unwrap());
        assert_ne!(ta, tb);
        let (session, token) = mux
            .handle_child_progress(tb.to_string().as_bytes())
            .unwrap();
        assert_eq!((session, token.as_bytes()), (2, &b"\"tok\""[..]));
        mux.handle_child_response(b.id.to_string().as_bytes())
            .unwrap();
        assert!(mux
            .handle_child_progress(tb.to_string().as_bytes())
            .is_none());
        assert!(mux
            .handle_child_progress(ta.to_string().as_bytes())
            .is_some());
        assert!(mux.handle_child_progress(b"\"tok\"").is_none());
    }

    #[test]
    fn cancel_names_the_gateway_id_of_that_session_only() {
        let mut mux = Mux::new(100);
        let a = mux
            .handle_client_request(1u8, id("9"), None, false)
            .unwrap();
        assert_eq!(mux.handle_client_cancel(1, &id("9")), Some(a.id));
        assert_eq!(mux.handle_client_cancel(2, &id("9")), None);
    }

    #[test]
    fn child_requests_go_to_the_busy_session_else_the_most_recent() {
        let mut mux = Mux::new(100);
        mux.handle_session_open(1u8);
        mux.handle_session_open(2u8);
        // nobody busy: most recent session
        assert_eq!(mux.handle_child_request(id("\"s1\""), |_| true), Some(2));
        // session 1 has a request in flight: it is asked
        mux.handle_client_request(1u8, id("1"), None, false)
            .unwrap();
        assert_eq!(mux.handle_child_request(id("\"s2\""), |_| true), Some(1));
        // only the asked session's answer counts
        assert!(!mux.handle_client_response(2, &id("\"s2\"")));
        assert!(mux.handle_client_response(1, &id("\"s2\"")));
        assert!(!mux.handle_client_response(1, &id("\"s2\"")));
        // closed sessions are skipped
        assert_eq!(mux.handle_child_request(id("\"s3\""), |s| s == 2), Some(2));
        assert_eq!(mux.handle_child_request(id("\"s4\""), |_| false), None);
    }

    #[test]
    fn session_end_reports_what_the_child_must_hear() {
        let mut mux = Mux::new(100);
        mux.handle_session_open(1u8);
        let init = mux.handle_client_request(1u8, id("0"), None, true).unwrap();
        let a = mux
            .handle_client_request(1u8, id("1"), Some(id("7")), false)
            .unwrap();
        let other = mux
            .handle_client_request(2u8, id("1"), None, false)
            .unwrap();
        assert_eq!(mux.handle_child_request(id("\"s\""), |s| s == 1), Some(1));
        let ended = mux.handle_session_end(1);
        assert_eq!(ended.cancelled, vec![a.id]);
        assert_eq!(ended.unanswered, vec![id("\"s\"")]);
        assert_eq!(
            mux.handle_child_response(init.id.to_string().as_bytes()),
            None
        );
        assert!(mux
            .handle_child_progress(a.progress_token.unwrap().to_string().as_bytes())
            .is_none());
        assert_eq!(
            mux.handle_child_response(other.id.to_string().as_bytes())
                .unwrap()
                .session,
            2
        );
        assert_eq!(mux.in_flight(), 0);
    }

    #[test]
    fn any_session_answers_and_cancels() {
        let mut mux = Mux::new(100);
        let out = mux
            .handle_client_request(1u8, id("4"), None, false)
            .unwrap();
        assert_eq!(mux.handle_client_cancel_any(&id("4")), Some(out.id));
        assert_eq!(mux.handle_client_cancel_any(&id("5")), None);
        mux.handle_session_open(2u8);
        assert_eq!(mux.handle_child_request(id("\"s\""), |_| true), Some(1));
        assert!(mux.handle_client_response_any(&id("\"s\"")));
        assert!(!mux.handle_client_response_any(&id("\"s\"")));
    }

    #[test]
    fn foreign_ids_do_not_route() {
        let mut mux: Mux<u8> = Mux::new(100);
        for raw in [
            &b"\"1\""[..],
            b"-1",
            b"1.0",
            b"",
            b"99999999999999999999999",
            b"0",
        ] {
            assert_eq!(mux.handle_child_response(raw), None);
        }
    }

    #[test]
    fn write_u64_digits() {
        let mut buf = [0; 20];
        for n in [0, 1, 9, 10, 12345, u64::MAX] {
            assert_eq!(write_u64(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
