//! Multi Round-Trip Requests for a handshake-era child (MCP 2026-07-28,
//! basic/patterns/mrtr.mdx; design/2026-07-28.md c.5, c.6).
//!
//! A legacy child asks its client things with server→client requests
//! (sampling, elicitation, roots) while it works on a request. A modern
//! client takes no requests: it gets an `InputRequiredResult` carrying the
//! child's requests and a sealed `requestState`, answers them in a retry of
//! its original request, and the relay hands each answer to the child under
//! the child's own id. The child's request for the original keeps running
//! the whole time (parked between rounds), so its final answer — or its
//! next question — goes to whoever presented the newest valid state.
//!
//! Rounds: the child's first request opens a short gathering window (so
//! that requests written back to back travel in one result); when it
//! closes, the client's request is answered with the result and the entry
//! is parked until a retry (or `--inputTimeout`). A retry with a state that
//! does not open (tampered, expired, replayed, another request's, another
//! process's) is refused with -32602; one that lacks some answers is asked
//! again.

use std::borrow::Cow;
use std::rc::Rc;

use super::*;
use crate::jsonrpc::{
    canonical, encode_error_with_data, member_string, object_members, string_token, ValueKind,
};
use crate::mcp::request_state::{
    open, seal, split_instance, Seal, StatePayload, INSTANCE_SEPARATOR,
};
use crate::mcp::Capabilities;

/// How long the relay gathers a child's back-to-back requests into one
/// `InputRequiredResult`, ms.
pub(super) const GATHER_MS: u64 = 25;

/// Most requests of the child one client request may have waiting.
const MAX_PENDING: usize = 16;
/// Most client requests parked at once.
const MAX_ENTRIES: usize = 4096;

/// The wire text of every refused state (as the reference SDK writes it);
/// the reason goes to the log.
const INVALID_STATE: &str = "Invalid or expired requestState";

/// Methods a client request may collect input for.
pub(super) fn is_interactive(method: &str) -> bool {
    matches!(method, "tools/call" | "prompts/get" | "resources/read")
}

/// What the relay needs to seal states, set by the driver.
pub(super) struct Sealing {
    seal: Rc<dyn Seal>,
    /// Names this process (a load balancer can route retries back).
    instance: [u8; 8],
    /// Names this relay among the process's.
    relay: u32,
}

/// The relay's MRTR state.
pub(super) struct Mrtr {
    sealing: Option<Sealing>,
    /// `--instanceId`: what the states this relay mints start with (`ID.`),
    /// so that a load balancer can route a retry by its first bytes.
    instance_id: Option<Rc<str>>,
    /// Counts child restarts: a state outlives no restart.
    generation: u32,
    /// Modern interactive requests at the legacy child, by gateway id: the
    /// request as the client sent it (read only if the child asks).
    requests: IntMap<u64, Box<[u8]>>,
    /// Client requests the child asked something, by gateway id.
    entries: IntMap<u64, Entry>,
}

impl Mrtr {
    pub(super) fn new() -> Self {
        Self {
            sealing: None,
            instance_id: None,
            generation: 0,
            requests: int_map(),
            entries: int_map(),
        }
    }
}

struct Entry {
    method: Box<str>,
    target: Box<str>,
    /// The canonical form of the request's arguments.
    arguments: Vec<u8>,
    /// What the client declared it can answer.
    capabilities: Capabilities,
    completion: Option<Completion>,
    pending: Vec<Pending>,
    phase: Phase,
    nonce: [u8; 8],
    /// The child's final answer, kept while parked.
    answer: Option<Vec<u8>>,
    /// The progress token the child knows the request by (the gateway's),
    /// and the one the waiting client gave (its latest try's).
    progress: Option<(u64, Option<Id>)>,
}

struct Pending {
    /// The key in `inputRequests`.
    key: String,
    child_id: Id,
    /// `{"method":…,"params":…}`
    request: Vec<u8>,
}

enum Phase {
    /// A client waits; requests of the child are being gathered.
    Gathering {
        session: SessionKey,
        client_id: Id,
        deadline: u64,
    },
    /// Asked; waiting for the client's retry.
    Parked { expires: u64 },
    /// Retried with every answer; the client waits for the result.
    Waiting { session: SessionKey, client_id: Id },
}

impl Relay {
    /// Lets the relay answer a legacy child's requests to modern clients
    /// with `InputRequiredResult`s sealed by `seal`. `instance` names the
    /// process, `relay` this relay within it. Without it, such requests
    /// get errors.
    pub fn set_seal(&mut self, seal: Rc<dyn Seal>, instance: [u8; 8], relay: u32) {
        self.mrtr.sealing = Some(Sealing {
            seal,
            instance,
            relay,
        });
    }

    /// Prefixes the states this relay mints with `id` and a `.`, and refuses
    /// a retry whose state lacks that prefix (another instance's, or a bare
    /// one). `id` must pass `request_state::check_instance_id`; `None`: bare
    /// states, as without it.
    pub fn set_instance_id(&mut self, id: Option<Rc<str>>) {
        self.mrtr.instance_id = id;
    }

    /// Remembers a modern interactive request routed to a legacy child as
    /// `gateway_id`, in case the child asks something while on it.
    pub(super) fn note_interactive(&mut self, gateway_id: u64, method: &str, bytes: &[u8]) {
        if self.mrtr.sealing.is_some()
            && is_interactive(method)
            && matches!(self.child_era, ChildEra::Legacy)
            && self.charge_or_report(bytes.len())
        {
            if let Some(old) = self.mrtr.requests.insert(gateway_id, bytes.into()) {
                self.budget.release(old.len());
            }
        }
    }

    /// A request has ended: its remembered bytes go.
    pub(super) fn forget_interactive(&mut self, gateway_id: u64) {
        if let Some(bytes) = self.mrtr.requests.remove(&gateway_id) {
            self.budget.release(bytes.len());
        }
    }

    /// A request of a legacy child while modern clients have interactive
    /// requests open: attributed to the one such request (design c.6), or
    /// refused. False when no modern request could own it (the handshake
    /// rules apply).
    pub(super) fn mrtr_child_request(&mut self, line: &[u8], message: &Message<'_>) -> bool {
        if self.mrtr.sealing.is_none() || !matches!(self.child_era, ChildEra::Legacy) {
            return false;
        }
        // Requests a client is waiting on come first; a parked one (its
        // client may never come back) only when no client waits.
        let mut candidates: Vec<u64> = self
            .mrtr
            .requests
            .keys()
            .copied()
            .filter(|g| self.mux.session_of(*g).is_some())
            .collect();
        candidates.extend(
            self.mrtr
                .entries
                .iter()
                .filter(|(_, entry)| !matches!(entry.phase, Phase::Parked { .. }))
                .map(|(g, _)| *g),
        );
        if candidates.is_empty() {
            candidates.extend(self.mrtr.entries.keys().copied());
        }
        if candidates.is_empty() {
            return false;
        }
        let (Some(raw), method) = (&message.id, message.method.as_deref().unwrap_or_default())
        else {
            return true;
        };
        let child_id = raw.to_owned();
        if method == "ping" {
            // Answered here: a modern client has no ping to answer with.
            let mut answer = Vec::with_capacity(48);
            encode_result(&mut answer, child_id.as_bytes(), b"{}");
            answer.push(b'\n');
            self.queue_to_child(None, answer);
            return true;
        }
        let handshake_busy = self.sessions.iter().any(|(key, session)| {
            !session.modern && !session.closing && self.mux.in_flight_for(*key) > 0
        });
        let [g] = candidates.as_slice() else {
            self.report(Report::AmbiguousChildRequest {
                clients: candidates.len(),
            });
            self.answer_child(
                &child_id,
                "the gateway cannot tell which client this request is for",
            );
            return true;
        };
        let g = *g;
        if handshake_busy {
            self.report(Report::AmbiguousChildRequest { clients: 2 });
            self.answer_child(
                &child_id,
                "the gateway cannot tell which client this request is for",
            );
            return true;
        }
        if !matches!(
            method,
            "sampling/createMessage" | "elicitation/create" | "roots/list"
        ) {
            self.answer_child_with(&child_id, codes::METHOD_NOT_FOUND, "Method not found");
            return true;
        }
        if !self.mrtr.entries.contains_key(&g) && !self.open_entry(g) {
            self.answer_child(
                &child_id,
                "the gateway has too many requests waiting for input",
            );
            return true;
        }
        let params = object_members(line)
            .ok()
            .and_then(|members| {
                let params = members
                    .iter()
                    .find(|m| m.key == "params" && m.kind == ValueKind::Object)?;
                line.get(params.span.clone()).map(<[u8]>::to_vec)
            })
            .unwrap_or_else(|| b"{}".to_vec());
        let mut request = Vec::with_capacity(params.len().saturating_add(48));
        request.extend_from_slice(b"{\"method\":");
        encode_string(&mut request, method);
        request.extend_from_slice(b",\"params\":");
        request.extend_from_slice(&params);
        request.push(b'}');
        let base_key = input_key(raw.as_bytes());
        let now = self.now;
        let Some(entry) = self.mrtr.entries.get_mut(&g) else {
            return true;
        };
        if entry.pending.len() >= MAX_PENDING {
            self.answer_child(&child_id, "too many requests for one client request");
            return true;
        }
        let mut key = base_key.clone();
        let mut n = 1u32;
        while entry.pending.iter().any(|p| p.key == key) {
            n = n.saturating_add(1);
            key = format!("{base_key}#{n}");
        }
        entry.pending.push(Pending {
            key,
            child_id,
            request,
        });
        if let Phase::Waiting { session, client_id } = &entry.phase {
            entry.phase = Phase::Gathering {
                session: *session,
                client_id: client_id.clone(),
                deadline: now.saturating_add(self.config.coalesce_ms),
            };
        }
        true
    }

    /// Makes an entry for the modern request `g` the child asked something:
    /// the request leaves the id table (it is no longer its stream's to
    /// cancel) and its client waits while the child's requests gather.
    fn open_entry(&mut self, g: u64) -> bool {
        if self.mrtr.entries.len() >= MAX_ENTRIES {
            return false;
        }
        let Some(bytes) = self.mrtr.requests.remove(&g) else {
            return false;
        };
        self.budget.release(bytes.len());
        let Some((session, client_id)) = self.mux.request_of(g).map(|(s, id)| (s, id.clone()))
        else {
            return false;
        };
        let Ok(message) = parse_message(&bytes) else {
            return false;
        };
        let capabilities = message
            .meta
            .as_ref()
            .and_then(|meta| meta.capabilities.clone())
            .and_then(|span| bytes.get(span))
            .and_then(|caps| Capabilities::parse(caps).ok())
            .unwrap_or_default();
        let progress = self.mux.progress_token_of(g).map(|token| {
            let client = message
                .progress_token
                .as_ref()
                .map(|(raw, _)| raw.to_owned());
            (token, client)
        });
        let entry = Entry {
            progress,
            method: message.method.as_deref().unwrap_or_default().into(),
            target: message.target.as_deref().unwrap_or_default().into(),
            arguments: arguments_of(&bytes),
            capabilities,
            completion: self.completions.remove(&g),
            pending: Vec::new(),
            phase: Phase::Gathering {
                session,
                client_id,
                deadline: self.now.saturating_add(self.config.coalesce_ms),
            },
            nonce: [0; 8],
            answer: None,
        };
        self.mux.handle_abandoned(g);
        self.sync_mux_budget();
        if let Some(session) = self.sessions.get_mut(&session) {
            session.owed = session.owed.saturating_add(1);
        }
        self.mrtr.entries.insert(g, entry);
        true
    }

    /// The earliest MRTR deadline.
    pub(super) fn mrtr_timeout(&self) -> Option<u64> {
        self.mrtr
            .entries
            .values()
            .map(|entry| match entry.phase {
                Phase::Gathering { deadline, .. } => deadline,
                Phase::Parked { expires } => expires,
                Phase::Waiting { .. } => u64::MAX,
            })
            .filter(|deadline| *deadline != u64::MAX)
            .min()
    }

    /// Closes gathering windows and expires parked entries whose time has
    /// come.
    pub(super) fn mrtr_handle_timeout(&mut self) {
        let now = self.now;
        let due: Vec<(u64, bool)> = self
            .mrtr
            .entries
            .iter()
            .filter_map(|(g, entry)| match entry.phase {
                Phase::Gathering { deadline, .. } if deadline <= now => Some((*g, true)),
                Phase::Parked { expires } if expires <= now => Some((*g, false)),
                _ => None,
            })
            .collect();
        for (g, gathering) in due {
            if gathering {
                self.ask(g);
            } else {
                self.expire(g);
            }
        }
    }

    /// The gathering window of `g` closed: its client is asked what the
    /// child wants (the parts it declared it can answer), or told it must
    /// declare more (-32021).
    fn ask(&mut self, g: u64) {
        let Some(mut entry) = self.mrtr.entries.remove(&g) else {
            return;
        };
        let Phase::Gathering {
            session, client_id, ..
        } = entry.phase
        else {
            self.mrtr.entries.insert(g, entry);
            return;
        };
        let mut missing = Capabilities::NONE;
        let mut refused = Vec::new();
        entry.pending.retain(|pending| {
            let needed = needed_capabilities(&pending.request);
            if entry.capabilities.contains(needed) {
                true
            } else {
                missing = missing | needed.missing_from(entry.capabilities);
                refused.push(pending.child_id.clone());
                false
            }
        });
        for child_id in refused {
            let why = "the client did not declare the capability this request needs";
            self.answer_child_with(&child_id, codes::METHOD_NOT_FOUND, why);
        }
        self.settle_owed(session);
        if entry.pending.is_empty() {
            // Nothing the client can answer: the request cannot go on.
            let mut data = Vec::with_capacity(64);
            data.extend_from_slice(b"{\"requiredCapabilities\":");
            missing.write_object(&mut data);
            data.push(b'}');
            let mut frame = Vec::with_capacity(160);
            encode_error_with_data(
                &mut frame,
                Some(client_id.as_bytes()),
                codes::MISSING_CLIENT_CAPABILITY,
                "the server needs a client capability this request did not declare",
                &data,
            );
            self.push_own(session, Frame::response(frame));
            self.cancel_at_child(g, Some("the client lacks a capability"));
            self.finish_request(
                g,
                Some((codes::MISSING_CLIENT_CAPABILITY, "missing")),
                false,
            );
            return;
        }
        let expires = self.now.saturating_add(self.config.input_timeout_ms);
        entry.phase = Phase::Parked { expires };
        let frame = self.input_required(g, &mut entry, client_id.as_bytes(), expires);
        self.mrtr.entries.insert(g, entry);
        if let Some(frame) = frame {
            self.push_own(session, Frame::response(frame));
        }
    }

    /// `{"jsonrpc":"2.0","id":…,"result":{"resultType":"input_required",…}}`
    /// asking for every pending request of `entry`, with a fresh state.
    fn input_required(
        &mut self,
        g: u64,
        entry: &mut Entry,
        client_id: &[u8],
        expires: u64,
    ) -> Option<Vec<u8>> {
        let nonce_source = (self.random)();
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(nonce_source.get(..8)?);
        entry.nonce = nonce;
        let sealing = self.mrtr.sealing.as_ref()?;
        let payload = StatePayload {
            instance: sealing.instance,
            relay: sealing.relay,
            parked: g,
            generation: self.mrtr.generation,
            nonce,
            expires_ms: expires,
        };
        let mut token = seal(&*sealing.seal, &payload, &entry.method, &entry.target);
        if let Some(id) = &self.mrtr.instance_id {
            token.insert(0, INSTANCE_SEPARATOR);
            token.insert_str(0, id);
        }
        let mut result = Vec::with_capacity(256);
        result.extend_from_slice(b"{\"resultType\":\"input_required\",\"inputRequests\":{");
        for (i, pending) in entry.pending.iter().enumerate() {
            if i > 0 {
                result.push(b',');
            }
            encode_string(&mut result, &pending.key);
            result.push(b':');
            result.extend_from_slice(&pending.request);
        }
        result.extend_from_slice(b"},\"requestState\":");
        encode_string(&mut result, &token);
        result.push(b'}');
        let mut frame = Vec::with_capacity(result.len().saturating_add(48));
        encode_result(&mut frame, client_id, &result);
        Some(frame)
    }

    /// A parked entry nobody came back for: the child's requests are
    /// answered with errors and its request cancelled.
    fn expire(&mut self, g: u64) {
        let Some(entry) = self.mrtr.entries.remove(&g) else {
            return;
        };
        self.report(Report::InputExpired {
            requests: entry.pending.len(),
        });
        for pending in &entry.pending {
            self.answer_child(&pending.child_id, "the client did not answer in time");
        }
        self.cancel_at_child(g, Some("the client did not answer in time"));
        self.finish_request(g, Some((codes::SERVER_ERROR, "input timed out")), false);
    }

    /// A modern retry of an interactive request (it carries
    /// `requestState`): the answers go to the child's waiting requests.
    /// True when it was one (answered or routed here).
    pub(super) fn mrtr_retry(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> bool {
        let Some(method) = message.method.as_deref().filter(|m| is_interactive(m)) else {
            return false;
        };
        if self.mrtr.sealing.is_none() || !matches!(self.child_era, ChildEra::Legacy) {
            return false;
        }
        const STATE: &[u8] = b"\"requestState\"";
        const RESPONSES: &[u8] = b"\"inputResponses\"";
        let mentions = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        let (has_state, has_responses) = (mentions(STATE), mentions(RESPONSES));
        if !has_state && !has_responses {
            return false;
        }
        let Some(id) = message.id.as_ref().map(|id| id.to_owned()) else {
            return false;
        };
        let params = params_members(bytes);
        let responses = match input_responses(bytes, &params) {
            Ok(responses) => responses,
            Err(why) => {
                self.answer_error(key, &id, codes::INVALID_PARAMS, why);
                return true;
            }
        };
        let state = params
            .iter()
            .find(|(name, _, _)| name == "requestState")
            .map(|(_, span, kind)| (span.clone(), *kind));
        let Some((state_span, kind)) = state else {
            return false; // a fresh request with unsolicited answers: forwarded
        };
        let token = (kind == ValueKind::String)
            .then(|| string_token(bytes.get(state_span)?))
            .flatten();
        let target = message.target.as_deref().unwrap_or_default();
        let opened = match token.as_deref() {
            Some(token) => self.open_state(token, method, target, bytes),
            None => Err("not a string"),
        };
        let g = match opened {
            Ok(g) => g,
            Err(reason) => {
                self.report(Report::StateRejected { reason });
                let mut frame = Vec::with_capacity(160);
                encode_error_with_data(
                    &mut frame,
                    Some(id.as_bytes()),
                    codes::INVALID_PARAMS,
                    INVALID_STATE,
                    b"{\"reason\":\"invalid_request_state\"}",
                );
                self.push_own(key, Frame::response(frame));
                return true;
            }
        };
        let Some(mut entry) = self.mrtr.entries.remove(&g) else {
            return true;
        };
        // Each answer the child waits for goes to it under its own id.
        let mut still = Vec::new();
        for pending in std::mem::take(&mut entry.pending) {
            match responses.iter().find(|(k, _)| *k == pending.key) {
                Some((_, value)) => {
                    let mut line = Vec::with_capacity(value.len().saturating_add(48));
                    encode_result(&mut line, pending.child_id.as_bytes(), value);
                    line.push(b'\n');
                    self.queue_to_child(Some(key), line);
                }
                None => still.push(pending),
            }
        }
        entry.pending = still;
        if !entry.pending.is_empty() {
            // Some answers are missing: ask again (mrtr.mdx §Error Handling).
            let expires = self.now.saturating_add(self.config.input_timeout_ms);
            entry.phase = Phase::Parked { expires };
            let frame = self.input_required(g, &mut entry, id.as_bytes(), expires);
            self.mrtr.entries.insert(g, entry);
            if let Some(frame) = frame {
                self.push_own(key, Frame::response(frame));
            }
            return true;
        }
        if let Some(answer) = entry.answer.take() {
            self.deliver_final(g, key, &id, &entry, &answer);
            return true;
        }
        if let Some(session) = self.sessions.get_mut(&key) {
            session.owed = session.owed.saturating_add(1);
        }
        // The child's progress now goes to the retry, under its token.
        if let Some((_, client)) = &mut entry.progress {
            *client = message
                .progress_token
                .as_ref()
                .map(|(raw, _)| raw.to_owned());
        }
        entry.phase = Phase::Waiting {
            session: key,
            client_id: id,
        };
        self.mrtr.entries.insert(g, entry);
        true
    }

    /// Checks a presented state; the parked request's gateway id, or why
    /// not (for the log).
    fn open_state(
        &self,
        token: &str,
        method: &str,
        target: &str,
        bytes: &[u8],
    ) -> Result<u64, &'static str> {
        let sealing = self.mrtr.sealing.as_ref().ok_or("no seal")?;
        // The instance prefix is only a routing hint (outside the MAC), but
        // a state must carry exactly this instance's: a misrouted retry is
        // told apart from a forgery in the log.
        let ours = self.mrtr.instance_id.as_deref().and_then(|id| {
            token
                .strip_prefix(id)
                .and_then(|rest| rest.strip_prefix(INSTANCE_SEPARATOR))
        });
        let token = match ours {
            Some(bare) => bare,
            None if split_instance(token).is_some() => {
                return Err("sealed by another gateway instance")
            }
            None if self.mrtr.instance_id.is_some() => {
                return Err("without this gateway instance's prefix")
            }
            None => token,
        };
        let payload = open(&*sealing.seal, token, method, target).map_err(|err| match err {
            crate::mcp::request_state::StateError::Syntax => "malformed",
            _ => "not sealed for this request by this process",
        })?;
        if payload.instance != sealing.instance {
            return Err("sealed by another gateway instance");
        }
        if payload.relay != sealing.relay || payload.generation != self.mrtr.generation {
            return Err("the MCP server has been replaced since");
        }
        if payload.expires_ms <= self.now {
            return Err("expired");
        }
        let entry = self
            .mrtr
            .entries
            .get(&payload.parked)
            .ok_or("no such request waits for input")?;
        if !matches!(entry.phase, Phase::Parked { .. }) || entry.nonce != payload.nonce {
            return Err("already used, or an older round's");
        }
        if *entry.method != *method || *entry.target != *target {
            return Err("another request's");
        }
        if entry.arguments != arguments_of(bytes) {
            return Err("the arguments differ from the original request's");
        }
        Ok(payload.parked)
    }

    /// The child answered a request that has an entry: to the client that
    /// waits (or kept for the retry). True when it had one.
    pub(super) fn mrtr_answer(&mut self, g: u64, line: &[u8]) -> bool {
        let Some(mut entry) = self.mrtr.entries.remove(&g) else {
            return false;
        };
        for pending in std::mem::take(&mut entry.pending) {
            self.answer_child(&pending.child_id, "the request has finished");
        }
        match &entry.phase {
            Phase::Gathering {
                session, client_id, ..
            }
            | Phase::Waiting { session, client_id } => {
                let (session, client_id) = (*session, client_id.clone());
                self.settle_owed(session);
                self.deliver_final(g, session, &client_id, &entry, line);
            }
            Phase::Parked { .. } => {
                if self.charge_or_report(line.len()) {
                    self.budget.release(line.len());
                    entry.answer = Some(line.to_vec());
                    self.mrtr.entries.insert(g, entry);
                }
            }
        }
        true
    }

    fn deliver_final(
        &mut self,
        g: u64,
        session: SessionKey,
        client_id: &Id,
        entry: &Entry,
        line: &[u8],
    ) {
        let child_error = parse_message(line).is_ok_and(|m| m.kind == Kind::ErrorResponse);
        self.finish_request(g, None, child_error);
        let Ok(message) = parse_message(line) else {
            return;
        };
        let Some(span) = message.id_span.clone() else {
            return;
        };
        let frame = match entry.completion {
            Some(completion) => {
                Self::completed_answer(line, &message, span, client_id.as_bytes(), completion)
            }
            None => {
                let mut frame = Vec::with_capacity(line.len().saturating_add(16));
                splice(&mut frame, line, &[(span, client_id.as_bytes())])
                    .ok()
                    .map(|()| frame)
            }
        };
        if let Some(frame) = frame {
            self.push_answer(session, client_id, frame);
        }
    }

    /// The child's progress for a request that has an entry: to the client
    /// waiting on it, under that client's token (dropped while parked, or
    /// when that client gave none). True when it was one.
    pub(super) fn mrtr_progress(&mut self, line: &[u8], token: &[u8], span: Range<usize>) -> bool {
        let Some(token) = parse_gateway_id(token) else {
            return false;
        };
        let Some(entry) = self
            .mrtr
            .entries
            .values()
            .find(|entry| entry.progress.as_ref().is_some_and(|(t, _)| *t == token))
        else {
            return false;
        };
        let session = match &entry.phase {
            Phase::Gathering { session, .. } | Phase::Waiting { session, .. } => *session,
            Phase::Parked { .. } => return true,
        };
        let Some(client) = entry.progress.as_ref().and_then(|(_, c)| c.clone()) else {
            return true;
        };
        let mut frame = Vec::with_capacity(line.len().saturating_add(16));
        if splice(&mut frame, line, &[(span, client.as_bytes())]).is_ok() {
            self.push_child_message(session, Frame::other(frame), false);
        }
        true
    }

    /// The child withdrew one of its requests (`notifications/cancelled`):
    /// no client will be asked it. True when it was one of the entries'.
    pub(super) fn mrtr_withdraw(&mut self, child_id: &Id) -> bool {
        for entry in self.mrtr.entries.values_mut() {
            let before = entry.pending.len();
            entry
                .pending
                .retain(|pending| pending.child_id != *child_id);
            if entry.pending.len() != before {
                return true;
            }
        }
        false
    }

    /// A session has ended: requests whose client waited on it are
    /// cancelled at the child.
    pub(super) fn mrtr_session_end(&mut self, key: SessionKey) {
        let ended: Vec<u64> = self
            .mrtr
            .entries
            .iter()
            .filter(|(_, entry)| match &entry.phase {
                Phase::Gathering { session, .. } | Phase::Waiting { session, .. } => {
                    *session == key
                }
                Phase::Parked { .. } => false,
            })
            .map(|(g, _)| *g)
            .collect();
        for g in ended {
            if let Some(entry) = self.mrtr.entries.remove(&g) {
                for pending in &entry.pending {
                    self.answer_child(&pending.child_id, "client disconnected");
                }
                self.cancel_at_child(g, Some("client disconnected"));
                self.finish_request(g, Some((codes::SERVER_ERROR, "client disconnected")), false);
            }
        }
    }

    /// The child exited or was replaced: every entry ends; clients waiting
    /// get `message`, and no state issued so far opens any more.
    pub(super) fn mrtr_fail(&mut self, message: &str) {
        self.mrtr.generation = self.mrtr.generation.wrapping_add(1);
        for (_, bytes) in self.mrtr.requests.drain() {
            self.budget.release(bytes.len());
        }
        let entries: Vec<(u64, Entry)> = self.mrtr.entries.drain().collect();
        for (g, entry) in entries {
            if let Phase::Gathering {
                session, client_id, ..
            }
            | Phase::Waiting { session, client_id } = entry.phase
            {
                self.settle_owed(session);
                self.answer_error(session, &client_id, codes::SERVER_ERROR, message);
            }
            self.finish_request(g, Some((codes::SERVER_ERROR, message)), false);
        }
    }
}

/// The `inputRequests` key for a child request id: the string it is, or
/// the number as written.
fn input_key(raw: &[u8]) -> String {
    string_token(raw).map_or_else(
        || String::from_utf8_lossy(raw).into_owned(),
        Cow::into_owned,
    )
}

/// What a child request needs the client to have declared (c.5).
fn needed_capabilities(request: &[u8]) -> Capabilities {
    let members = object_members(request).unwrap_or_default();
    let value = |key: &str| {
        members
            .iter()
            .find(|m| m.key == key)
            .and_then(|m| Some((m, request.get(m.span.clone())?)))
    };
    let method = value("method")
        .and_then(|(m, _)| member_string(request, m))
        .unwrap_or_default();
    let params = value("params").map(|(_, raw)| raw).unwrap_or(b"{}");
    let params_members = object_members(params).unwrap_or_default();
    let param = |key: &str| params_members.iter().find(|m| m.key == key);
    match &*method {
        "sampling/createMessage" => {
            let mut needed = Capabilities::SAMPLING;
            if param("tools").is_some() || param("toolChoice").is_some() {
                needed = needed | Capabilities::SAMPLING_TOOLS;
            }
            let context = param("includeContext").and_then(|m| member_string(params, m));
            if matches!(context.as_deref(), Some("thisServer" | "allServers")) {
                needed = needed | Capabilities::SAMPLING_CONTEXT;
            }
            needed
        }
        "elicitation/create" => {
            let mode = param("mode").and_then(|m| member_string(params, m));
            if mode.as_deref() == Some("url") {
                Capabilities::ELICITATION_URL
            } else {
                Capabilities::ELICITATION_FORM
            }
        }
        "roots/list" => Capabilities::ROOTS,
        _ => Capabilities::NONE,
    }
}

/// The members of a request's `params` (key, span in the request, kind).
fn params_members(bytes: &[u8]) -> Vec<(String, Range<usize>, ValueKind)> {
    let Ok(members) = object_members(bytes) else {
        return Vec::new();
    };
    let Some(params) = members
        .iter()
        .find(|m| m.key == "params" && m.kind == ValueKind::Object)
    else {
        return Vec::new();
    };
    let Some(raw) = bytes.get(params.span.clone()) else {
        return Vec::new();
    };
    object_members(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let start = params.span.start.checked_add(m.span.start)?;
            let end = params.span.start.checked_add(m.span.end)?;
            Some((m.key.into_owned(), start..end, m.kind))
        })
        .collect()
}

/// `params.inputResponses`: absent, or an object whose values are objects
/// (mrtr.mdx §Error Handling: malformed → invalid params).
fn input_responses<'a>(
    bytes: &'a [u8],
    params: &[(String, Range<usize>, ValueKind)],
) -> Result<Vec<(String, &'a [u8])>, &'static str> {
    let Some((_, span, kind)) = params.iter().find(|(name, _, _)| name == "inputResponses") else {
        return Ok(Vec::new());
    };
    let bad = "inputResponses must be an object whose values are objects";
    if *kind != ValueKind::Object {
        return Err(bad);
    }
    let raw = bytes.get(span.clone()).ok_or(bad)?;
    let members = object_members(raw).map_err(|_| bad)?;
    members
        .into_iter()
        .map(|m| {
            if m.kind != ValueKind::Object {
                return Err(bad);
            }
            let start = span.start.checked_add(m.span.start).ok_or(bad)?;
            let end = span.start.checked_add(m.span.end).ok_or(bad)?;
            Ok((m.key.into_owned(), bytes.get(start..end).ok_or(bad)?))
        })
        .collect()
}

/// The canonical form of a request's `params.arguments` (empty when it
/// has none): what a retry must repeat exactly.
fn arguments_of(bytes: &[u8]) -> Vec<u8> {
    params_members(bytes)
        .into_iter()
        .find(|(name, _, _)| name == "arguments")
        .and_then(|(_, span, _)| canonical(bytes.get(span)?).ok())
        .unwrap_or_default()
}
