//! Id multiplexing harness (`mux_sequence`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19); input-derived sizes are
// small (one byte) and indexes are bounded by the input or by spans the
// property checks first.

/// Fuzz target `mux_sequence`: drives a [`crate::mux::Mux`] with a sequence
/// of operations decoded from the input and checks every answer against a
/// plain model after each step. The first byte sets `max_in_flight` (1–8);
/// then each operation is one byte (`op % 12`) followed by the bytes it
/// needs (a missing byte reads as 0):
///
/// | op | operation | operand bytes |
/// | --- | --- | --- |
/// | 0 | a session opens (fresh key, never reused) | — |
/// | 1 | client request | session, id, token (`≥ 128`: none), initialize |
/// | 2 | child response, id the gateway issued (answered or not) | which |
/// | 3 | child response, foreign or random id | kind, value… |
/// | 4 | child progress, issued or random token | kind, which |
/// | 5 | client cancel (own session, then any session) | session, id |
/// | 6 | child request to the busiest or latest open session | id, open mask |
/// | 7 | client response to a child request (own session / any) | session, id, any |
/// | 8 | session ends | session |
/// | 9 | drain (the child is gone) | — |
/// | 10 | abandoned request | which |
/// | 11 | child cancels its request, or a reserved gateway id | id, kind |
///
/// Asserts: a routed response goes to the session that sent the request,
/// with exactly its original id and `initialize` flag; a response and a
/// progress token route only while the request is in flight, so at most once
/// for a response; nothing routes to an ended session; refusals
/// (`DuplicateId`, `TooManyInFlight`) happen exactly when the model says;
/// gateway ids and tokens are never reused; session end and drain report
/// exactly the requests the model holds; and `in_flight()` (and
/// `in_flight_for`) equals requests sent minus answered, abandoned, ended
/// and drained. Client ids and tokens come from a small pool (numbers,
/// strings, `1.0`, a heap-stored long string) so collisions are frequent.
#[allow(clippy::panic)]
pub fn mux_sequence(data: &[u8]) {
    let mut ops = MuxOps { data, at: 0 };
    let max_in_flight = usize::from(ops.byte() % 8).saturating_add(1);
    let mut state = MuxModel::new(max_in_flight);
    // A poll budget is unnecessary (each step reads at least one byte), but
    // bound the work per input all the same.
    for _ in 0..4096 {
        let Some(op) = ops.next_op() else {
            break;
        };
        state.step(op, &mut ops);
        state.check();
    }
}

/// Client ids and progress tokens: numbers and strings that collide across
/// sessions and with each other's text, plus one longer than `Id::INLINE`.
const MUX_CLIENT_IDS: [&str; 10] = [
    "0",
    "1",
    "2",
    "\"1\"",
    "\"a\"",
    "1.0",
    "-1",
    "1e3",
    "\"\\u0031\"",
    "\"a-client-id-longer-than-inline-storage\"",
];

/// Ids of the child's own requests.
const MUX_CHILD_IDS: [&str; 5] = ["0", "1", "\"s\"", "\"s2\"", "7"];

/// Raw ids no gateway ever issues (or issues only as a token, never as an id
/// while in flight): they must never route a response.
const MUX_FOREIGN_IDS: [&[u8]; 9] = [
    b"\"1\"",
    b"-1",
    b"1.0",
    b"1e0",
    b"",
    b" 1",
    b"18446744073709551616",
    b"null",
    b"0",
];

/// Reads the operation stream of `mux_sequence`.
struct MuxOps<'a> {
    data: &'a [u8],
    at: usize,
}

impl MuxOps<'_> {
    fn next_op(&mut self) -> Option<u8> {
        let op = *self.data.get(self.at)?;
        self.at = self.at.saturating_add(1);
        Some(op % 12)
    }

    /// The next byte, or 0 past the end.
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at = self.at.saturating_add(1);
        b
    }

    /// Up to `n` raw bytes (fewer at the end).
    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.at.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.at = end;
        self.data.get(start..end).unwrap_or_default()
    }

    fn pick<'p, T>(&mut self, pool: &'p [T]) -> Option<&'p T> {
        let b = usize::from(self.byte());
        pool.get(b.checked_rem(pool.len())?)
    }
}

/// What the model knows of one client request in flight.
#[derive(Clone, Debug)]
struct MuxRequest {
    session: u32,
    id: crate::jsonrpc::Id,
    token: Option<(u64, crate::jsonrpc::Id)>,
    initialize: bool,
}

/// The model `mux_sequence` checks the table against.
struct MuxModel {
    mux: crate::mux::Mux<u32>,
    max_in_flight: usize,
    /// Sessions opened and not ended, in opening order.
    live: Vec<u32>,
    /// Sessions that ended: nothing may route to them again.
    ended: std::collections::HashSet<u32>,
    next_session: u32,
    /// Gateway id → the request in flight.
    pending: std::collections::HashMap<u64, MuxRequest>,
    /// Every gateway id and token ever handed out, in order.
    issued_ids: Vec<u64>,
    issued_tokens: Vec<u64>,
    /// Child request id → the session asked.
    child_requests: std::collections::HashMap<crate::jsonrpc::Id, u32>,
    /// Per live session: (requests in flight, sequence of latest activity).
    activity: std::collections::HashMap<u32, (usize, u64)>,
    sequence: u64,
    /// Requests accepted, and those answered, abandoned, ended or drained:
    /// `in_flight()` must equal `sent - gone`.
    sent: usize,
    gone: usize,
}

#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
impl MuxModel {
    fn new(max_in_flight: usize) -> Self {
        Self {
            mux: crate::mux::Mux::new(max_in_flight),
            max_in_flight,
            live: Vec::new(),
            ended: std::collections::HashSet::new(),
            next_session: 0,
            pending: std::collections::HashMap::new(),
            issued_ids: Vec::new(),
            issued_tokens: Vec::new(),
            child_requests: std::collections::HashMap::new(),
            activity: std::collections::HashMap::new(),
            sequence: 0,
            sent: 0,
            gone: 0,
        }
    }

    fn id(text: &str) -> crate::jsonrpc::Id {
        crate::jsonrpc::Id::from_raw(text.as_bytes()).expect("pool ids are valid JSON tokens")
    }

    fn step(&mut self, op: u8, ops: &mut MuxOps<'_>) {
        match op {
            0 => self.open(),
            1 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CLIENT_IDS).expect("non-empty pool"));
                let token_byte = ops.byte();
                let token = (token_byte < 128).then(|| {
                    Self::id(MUX_CLIENT_IDS[usize::from(token_byte) % MUX_CLIENT_IDS.len()])
                });
                let initialize = ops.byte() % 8 == 0;
                self.request(session, id, token, initialize);
            }
            2 => {
                let Some(&gateway_id) = ops.pick(&self.issued_ids) else {
                    return;
                };
                self.respond(crate::mux::write_u64(gateway_id, &mut [0; 20]));
            }
            3 => {
                let kind = ops.byte();
                match kind % 4 {
                    0 => {
                        let raw = ops.pick(&MUX_FOREIGN_IDS).copied().unwrap_or_default();
                        self.respond(raw);
                    }
                    1 => {
                        // A token value is never an id in flight.
                        let Some(&token) = ops.pick(&self.issued_tokens) else {
                            return;
                        };
                        self.respond(crate::mux::write_u64(token, &mut [0; 20]));
                    }
                    2 => {
                        let mut value = [0u8; 8];
                        for (dst, src) in value.iter_mut().zip(ops.take(8)) {
                            *dst = *src;
                        }
                        let value = u64::from_le_bytes(value) >> (kind / 4 % 64);
                        self.respond(crate::mux::write_u64(value, &mut [0; 20]));
                    }
                    _ => {
                        let len = usize::from(ops.byte() % 24);
                        let raw = ops.take(len).to_vec();
                        self.respond(&raw);
                    }
                }
            }
            4 => {
                let kind = ops.byte();
                let raw: Vec<u8> = if kind % 2 == 0 {
                    let Some(&token) = ops.pick(&self.issued_tokens) else {
                        return;
                    };
                    crate::mux::write_u64(token, &mut [0; 20]).to_vec()
                } else if kind % 4 == 1 {
                    let Some(&id) = ops.pick(&self.issued_ids) else {
                        return;
                    };
                    crate::mux::write_u64(id, &mut [0; 20]).to_vec()
                } else {
                    let len = usize::from(ops.byte() % 24);
                    ops.take(len).to_vec()
                };
                self.progress(&raw);
            }
            5 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CLIENT_IDS).expect("non-empty pool"));
                self.cancel(session, &id);
            }
            6 => {
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                let mask = ops.byte();
                self.child_request(id, mask);
            }
            7 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                let any = ops.byte() % 4 == 0;
                self.client_response(session, &id, any);
            }
            8 => {
                let Some(&session) = ops.pick(&self.live) else {
                    return;
                };
                self.end(session);
            }
            9 => self.drain(),
            10 => {
                let Some(&gateway_id) = ops.pick(&self.issued_ids) else {
                    return;
                };
                self.mux.handle_abandoned(gateway_id);
                if let Some(request) = self.pending.remove(&gateway_id) {
                    self.gone += 1;
                    let activity = self
                        .activity
                        .get_mut(&request.session)
                        .expect("live session");
                    activity.0 -= 1;
                }
            }
            _ => {
                let id = Self::id(ops.pick(&MUX_CHILD_IDS).expect("non-empty pool"));
                if ops.byte() % 2 == 0 {
                    assert_eq!(
                        self.mux.handle_child_cancel(&id),
                        self.child_requests.remove(&id),
                        "child cancel"
                    );
                } else {
                    let reserved = self.mux.reserve_id();
                    self.fresh(reserved);
                    self.issued_ids.push(reserved);
                }
            }
        }
    }

    fn open(&mut self) {
        let session = self.next_session;
        self.next_session += 1;
        self.mux.handle_session_open(session);
        self.live.push(session);
        self.sequence += 1;
        self.activity.insert(session, (0, self.sequence));
    }

    fn request(
        &mut self,
        session: u32,
        id: crate::jsonrpc::Id,
        token: Option<crate::jsonrpc::Id>,
        initialize: bool,
    ) {
        use crate::mux::MuxError;
        let result = self
            .mux
            .handle_client_request(session, id.clone(), token.clone(), initialize);
        let duplicate = self
            .pending
            .values()
            .any(|r| r.session == session && r.id == id);
        if duplicate {
            assert_eq!(result, Err(MuxError::DuplicateId));
            return;
        }
        if self.pending.len() >= self.max_in_flight {
            assert_eq!(result, Err(MuxError::TooManyInFlight));
            return;
        }
        let out = match result {
            Ok(out) => out,
            Err(e) => panic!("request refused: {e}"),
        };
        self.fresh(out.id);
        self.issued_ids.push(out.id);
        assert_eq!(out.progress_token.is_some(), token.is_some());
        let token = out.progress_token.zip(token);
        if let Some((gateway_token, _)) = &token {
            self.fresh(*gateway_token);
            assert_ne!(*gateway_token, out.id);
            self.issued_tokens.push(*gateway_token);
        }
        self.pending.insert(
            out.id,
            MuxRequest {
                session,
                id,
                token,
                initialize,
            },
        );
        self.sent += 1;
        self.sequence += 1;
        let activity = self.activity.get_mut(&session).expect("live session");
        activity.0 += 1;
        activity.1 = self.sequence;
    }

    /// A gateway id or token must never have been handed out before.
    fn fresh(&self, value: u64) {
        assert_ne!(value, 0, "gateway ids start at 1");
        assert!(
            !self.issued_ids.contains(&value) && !self.issued_tokens.contains(&value),
            "gateway id or token {value} reused"
        );
    }

    /// The gateway id a raw JSON id stands for: the plain decimal the gateway
    /// wrote (at most 20 digits, fitting a `u64`), else none.
    fn ours(raw: &[u8]) -> Option<u64> {
        if raw.is_empty() || raw.len() > 20 || !raw.iter().all(u8::is_ascii_digit) {
            return None;
        }
        core::str::from_utf8(raw).ok()?.parse().ok()
    }

    fn respond(&mut self, raw: &[u8]) {
        let routed = self.mux.handle_child_response(raw);
        let expected = Self::ours(raw).and_then(|g| Some((g, self.pending.remove(&g)?)));
        match (routed, expected) {
            (None, None) => {}
            (Some(routed), Some((gateway_id, request))) => {
                assert!(
                    !self.ended.contains(&routed.session),
                    "routed to an ended session"
                );
                assert_eq!(
                    (routed.session, &routed.id, routed.initialize),
                    (request.session, &request.id, request.initialize),
                    "response {gateway_id} routed to the wrong request"
                );
                self.gone += 1;
                let activity = self
                    .activity
                    .get_mut(&request.session)
                    .expect("live session");
                activity.0 -= 1;
            }
            (routed, expected) => panic!(
                "response {:?}: routed {routed:?}, model {expected:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    fn progress(&mut self, raw: &[u8]) {
        let routed = self
            .mux
            .handle_child_progress(raw)
            .map(|(session, token)| (session, token.clone()));
        let expected = Self::ours(raw).and_then(|g| {
            self.pending.values().find_map(|r| match &r.token {
                Some((token, client)) if *token == g => Some((r.session, client.clone())),
                _ => None,
            })
        });
        if let Some((session, _)) = &routed {
            assert!(
                !self.ended.contains(session),
                "progress to an ended session"
            );
        }
        assert_eq!(
            routed,
            expected,
            "progress {:?}",
            String::from_utf8_lossy(raw)
        );
    }

    fn cancel(&mut self, session: u32, id: &crate::jsonrpc::Id) {
        let expected = self
            .pending
            .iter()
            .find(|(_, r)| r.session == session && r.id == *id)
            .map(|(g, _)| *g);
        assert_eq!(
            self.mux.handle_client_cancel(session, id),
            expected,
            "cancel"
        );
        let any = self.mux.handle_client_cancel_any(id);
        let candidates: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, r)| r.id == *id)
            .map(|(g, _)| *g)
            .collect();
        match any {
            Some(g) => assert!(candidates.contains(&g), "cancel_any names {g}, not {id:?}"),
            None => assert!(candidates.is_empty(), "cancel_any misses {id:?}"),
        }
    }

    fn child_request(&mut self, id: crate::jsonrpc::Id, mask: u8) {
        // The mask hides some live sessions, as a driver whose session is
        // closing would (bit = position in `live` mod 8).
        let open: Vec<u32> = self
            .live
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << (i % 8)) == 0)
            .map(|(_, s)| *s)
            .collect();
        let latest = |busy: bool| {
            open.iter()
                .filter_map(|s| Some((*s, *self.activity.get(s)?)))
                .filter(|(_, (in_flight, _))| !busy || *in_flight > 0)
                .max_by_key(|(_, (_, last))| *last)
                .map(|(s, _)| s)
        };
        let expected = latest(true).or_else(|| latest(false));
        assert_eq!(
            self.mux.busiest(|s| open.contains(&s)),
            latest(true),
            "busiest"
        );
        let chosen = self
            .mux
            .handle_child_request(id.clone(), |s| open.contains(&s));
        assert_eq!(chosen, expected, "child request {id:?}");
        if let Some(session) = chosen {
            self.child_requests.insert(id, session);
        }
    }

    fn client_response(&mut self, session: u32, id: &crate::jsonrpc::Id, any: bool) {
        if any {
            let expected = self.child_requests.remove(id).is_some();
            assert_eq!(
                self.mux.handle_client_response_any(id),
                expected,
                "response_any"
            );
        } else {
            let expected = self.child_requests.get(id) == Some(&session);
            if expected {
                self.child_requests.remove(id);
            }
            assert_eq!(
                self.mux.handle_client_response(session, id),
                expected,
                "client response"
            );
        }
    }

    fn end(&mut self, session: u32) {
        let mut ended = self.mux.handle_session_end(session);
        let mut cancelled: Vec<u64> = Vec::new();
        let gone: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, r)| r.session == session)
            .map(|(g, _)| *g)
            .collect();
        for g in gone {
            let request = self.pending.remove(&g).expect("listed above");
            self.gone += 1;
            if !request.initialize {
                cancelled.push(g);
            }
        }
        cancelled.sort_unstable();
        assert_eq!(ended.cancelled, cancelled, "cancelled on session end");
        let mut unanswered: Vec<crate::jsonrpc::Id> = Vec::new();
        self.child_requests.retain(|id, asked| {
            let keep = *asked != session;
            if !keep {
                unanswered.push(id.clone());
            }
            keep
        });
        let key = |id: &crate::jsonrpc::Id| id.as_bytes().to_vec();
        unanswered.sort_unstable_by_key(key);
        ended.unanswered.sort_unstable_by_key(key);
        assert_eq!(ended.unanswered, unanswered, "unanswered on session end");
        self.live.retain(|s| *s != session);
        self.activity.remove(&session);
        self.ended.insert(session);
    }

    fn drain(&mut self) {
        let drained = self.mux.drain();
        let mut expected: Vec<(u64, MuxRequest)> = self.pending.drain().collect();
        expected.sort_unstable_by_key(|(g, _)| *g);
        let expected: Vec<(u32, crate::jsonrpc::Id)> = expected
            .into_iter()
            .map(|(_, r)| (r.session, r.id))
            .collect();
        assert_eq!(drained, expected, "drain");
        self.gone += expected.len();
        self.child_requests.clear();
        for activity in self.activity.values_mut() {
            activity.0 = 0;
        }
    }

    /// The invariants that hold between any two steps.
    fn check(&self) {
        assert_eq!(self.mux.in_flight(), self.pending.len(), "in_flight");
        assert_eq!(self.mux.in_flight(), self.sent - self.gone, "sent − gone");
        for session in &self.live {
            let count = self
                .pending
                .values()
                .filter(|r| r.session == *session)
                .count();
            assert_eq!(self.mux.in_flight_for(*session), count, "in_flight_for");
            assert_eq!(self.activity.get(session).map(|a| a.0), Some(count));
        }
        for session in &self.ended {
            assert_eq!(
                self.mux.in_flight_for(*session),
                0,
                "ended session in flight"
            );
            assert!(self.pending.values().all(|r| r.session != *session));
            assert!(self.child_requests.values().all(|s| s != session));
        }
    }
}
