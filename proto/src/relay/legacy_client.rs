//! Handshake-era clients of a 2026-07-28 child (design/2026-07-28.md c.3,
//! c.7): a child that answered `server/discover` may lock its era for its
//! whole life (the Python SDK 2.x refuses `initialize` after a probe), so
//! the relay speaks 2026-07-28 to it on the legacy clients' behalf.
//!
//! - `initialize` is answered from the cached discover result; the client's
//!   capabilities and clientInfo are kept (per session, or for the one
//!   client of a stateful relay; stateless sessions are single requests and
//!   get the gateway's default set).
//! - `notifications/initialized` and `notifications/roots/list_changed` are
//!   dropped; `ping`, `logging/setLevel`, `resources/subscribe` and
//!   `resources/unsubscribe` are answered here.
//! - Every other request reaches the child with the 2026-07-28 `_meta`
//!   inserted; its results pass as they are.
//! - One `subscriptions/listen` per child, opened by the relay with the
//!   union of what its legacy clients need, brings list-changed
//!   notifications (to every standalone stream) and resource updates (to
//!   the sessions subscribed to that URI).
//! - An `input_required` result becomes server→client requests on the
//!   client's stream; once all are answered the request is sent again with
//!   `inputResponses` (and the child's `requestState`), up to ten rounds.

use std::collections::HashMap;

use super::client::parse_token;
use super::listen::capability;
use super::*;
use crate::jsonrpc::{member_string, object_members, ValueKind};
use crate::mcp::errors::encode_missing_capability;
use crate::mcp::{
    meta, push_own_meta, Capabilities, LogLevel, ProtocolVersion, MODERN_VERSION,
    NEWEST_HANDSHAKE_VERSION,
};

/// Most `input_required` rounds one request may go through (the SDKs' cap).
const MAX_ROUNDS: u8 = 10;

/// What the relay keeps for the legacy clients of a 2026-07-28 child.
#[derive(Default)]
pub(super) struct LegacyClients {
    /// What each client said in its `initialize`, by client key
    /// ([`Relay::client_key`]).
    clients: IntMap<SessionKey, Client>,
    /// Legacy requests at the child, by gateway id: what an
    /// `input_required` answer needs to send them again.
    requests: IntMap<u64, Pending>,
    /// Requests waiting for their client's answers to input requests, by
    /// the gateway id that got `input_required`.
    rounds: IntMap<u64, Round>,
    /// Input requests on clients' streams, by the token the client sees.
    inputs: HashMap<Token, Input>,
    /// The relay's `subscriptions/listen` at the child (its gateway id)
    /// and the resource URIs it asked for.
    listen: Option<u64>,
    listen_uris: Vec<Box<str>>,
    /// The child was probed again after refusing `initialize` with -32022
    /// (the slow-start rule: once per relay).
    reprobed: bool,
}

impl LegacyClients {
    pub(super) fn new() -> Self {
        Self {
            clients: int_map(),
            requests: int_map(),
            rounds: int_map(),
            inputs: HashMap::new(),
            listen: None,
            listen_uris: Vec::new(),
            reprobed: false,
        }
    }
}

struct Client {
    /// `params.capabilities` of its `initialize` (JSON) and its bits.
    capabilities: Vec<u8>,
    bits: Capabilities,
    /// `params.clientInfo` of its `initialize` (JSON), if an object.
    info: Option<Vec<u8>>,
    /// Its `logging/setLevel`, if it sent one.
    level: Option<LogLevel>,
    /// The resource URIs it subscribed to.
    uris: Vec<Box<str>>,
}

/// A legacy request as the child got it (with the client's id and
/// progress token), and how many rounds it went through.
struct Pending {
    bytes: Vec<u8>,
    rounds: u8,
}

struct Round {
    session: SessionKey,
    client_id: Id,
    pending: Pending,
    /// The child's `requestState` (JSON, echoed byte for byte).
    state: Option<Vec<u8>>,
    /// Input requests not answered yet.
    waiting: usize,
    /// The answers so far: key, result (JSON).
    answers: Vec<(Box<str>, Vec<u8>)>,
}

struct Input {
    /// The round it belongs to.
    round: u64,
    /// The client asked (its stream carried the request).
    session: SessionKey,
    /// Its key in `inputRequests`.
    key: Box<str>,
}

/// The capabilities a client that did not say gets: what the relay can
/// serve (design b.2).
const DEFAULT_CAPABILITIES: &[u8] =
    br#"{"sampling":{},"elicitation":{"form":{},"url":{}},"roots":{"listChanged":true}}"#;

fn default_bits() -> Capabilities {
    Capabilities::SAMPLING
        | Capabilities::ELICITATION_FORM
        | Capabilities::ELICITATION_URL
        | Capabilities::ROOTS
}

impl Relay {
    /// Serves a handshake-era client's message when the child speaks
    /// 2026-07-28; false when it takes the ordinary path (the child is not
    /// modern, the message is, or it is a notification the child takes as
    /// it is).
    pub(super) fn serve_legacy_client(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> bool {
        if !self.child_is_modern() || era::is_modern(message) {
            return false;
        }
        match message.kind {
            Kind::Notification => matches!(
                message.method.as_deref(),
                Some("notifications/initialized" | "notifications/roots/list_changed")
            ),
            Kind::Request => {
                self.legacy_request(key, bytes, message);
                true
            }
            Kind::Response | Kind::ErrorResponse => false,
        }
    }

    /// Whose state a session's messages use: the one client of a stateful
    /// relay, else the session's own.
    fn client_key(&self, key: SessionKey) -> SessionKey {
        if self.config.clients == Clients::One {
            0
        } else {
            key
        }
    }

    fn legacy_request(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        let Some(raw_id) = &message.id else { return };
        let id = raw_id.to_owned();
        let answer_empty = |relay: &mut Self| {
            let mut frame = Vec::with_capacity(48);
            encode_result(&mut frame, id.as_bytes(), b"{}");
            relay.push_own(key, Frame::response(frame));
        };
        let params = params_of(bytes);
        match message.method.as_deref() {
            Some("initialize") => self.legacy_initialize(key, &id, message, params),
            Some("ping") => answer_empty(self),
            Some("logging/setLevel") => {
                let level = params
                    .and_then(|params| string_member(params, "level"))
                    .and_then(|level| LogLevel::parse(&level));
                let Some(level) = level else {
                    let why = "params.level must be a log level";
                    self.answer_error(key, &id, codes::INVALID_PARAMS, why);
                    return;
                };
                let client = self.client_key(key);
                if let Some(client) = self.legacy.clients.get_mut(&client) {
                    client.level = Some(level);
                }
                answer_empty(self);
            }
            Some(method @ ("resources/subscribe" | "resources/unsubscribe")) => {
                let Some(uri) = params.and_then(|params| string_member(params, "uri")) else {
                    let why = "params.uri must be a string";
                    self.answer_error(key, &id, codes::INVALID_PARAMS, why);
                    return;
                };
                let client = self.client_key(key);
                if let Some(client) = self.legacy.clients.get_mut(&client) {
                    if method == "resources/subscribe" {
                        if !client.uris.iter().any(|known| **known == *uri) {
                            client.uris.push(uri.into());
                        }
                    } else {
                        client.uris.retain(|known| **known != *uri);
                    }
                }
                answer_empty(self);
                self.refresh_listen();
            }
            _ => self.forward_legacy(key, bytes, message, &id),
        }
    }

    /// Answers `initialize` from the discover result and keeps what the
    /// client declared.
    fn legacy_initialize(
        &mut self,
        key: SessionKey,
        id: &Id,
        message: &Message<'_>,
        params: Option<&[u8]>,
    ) {
        let ChildEra::Modern(discover) = &self.child_era else {
            return;
        };
        let version = message
            .protocol_version
            .as_deref()
            .and_then(ProtocolVersion::parse)
            .filter(|version| version.is_known() && *version != ProtocolVersion::V2026_07_28)
            .map_or_else(|| NEWEST_HANDSHAKE_VERSION.to_owned(), |v| v.to_string());
        let result = initialize_result(discover, &version);
        let mut frame = Vec::with_capacity(result.len().saturating_add(48));
        encode_result(&mut frame, id.as_bytes(), &result);
        self.push_own(key, Frame::response(frame));
        if self.config.clients == Clients::Anonymous {
            return;
        }
        let member = |name: &str| {
            let params = params?;
            let found = object_members(params)
                .ok()?
                .into_iter()
                .find(|member| member.key == name && member.kind == ValueKind::Object)?;
            params.get(found.span).map(<[u8]>::to_vec)
        };
        let capabilities = member("capabilities").unwrap_or_else(|| b"{}".to_vec());
        let bits = Capabilities::parse(&capabilities).unwrap_or(Capabilities::NONE);
        let client = Client {
            capabilities,
            bits,
            info: member("clientInfo"),
            level: None,
            uris: Vec::new(),
        };
        let client_key = self.client_key(key);
        let uris = self
            .legacy
            .clients
            .insert(client_key, client)
            .map(|old| old.uris)
            .unwrap_or_default();
        if let Some(client) = self.legacy.clients.get_mut(&client_key) {
            client.uris = uris;
        }
        self.refresh_listen();
    }

    /// Sends a legacy request to the child with the 2026-07-28 `_meta`.
    fn forward_legacy(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>, id: &Id) {
        if let Some(found) = &message.meta {
            let reserved = found.capabilities.is_some()
                || found.log_level.is_some()
                || bytes.get(found.span.clone()).is_some_and(|raw| {
                    object_members(raw)
                        .is_ok_and(|members| members.iter().any(|m| m.key == meta::CLIENT_INFO))
                });
            if reserved {
                let why = "params._meta carries io.modelcontextprotocol/ keys reserved for \
                           MCP 2026-07-28 requests";
                self.answer_error(key, id, codes::INVALID_PARAMS, why);
                return;
            }
        }
        let client = self.legacy.clients.get(&self.client_key(key));
        let mut members = Vec::with_capacity(320);
        encode_string(&mut members, meta::PROTOCOL_VERSION);
        members.push(b':');
        encode_string(&mut members, MODERN_VERSION);
        members.push(b',');
        encode_string(&mut members, meta::CLIENT_CAPABILITIES);
        members.push(b':');
        members.extend_from_slice(client.map_or(DEFAULT_CAPABILITIES, |c| &c.capabilities));
        members.push(b',');
        encode_string(&mut members, meta::CLIENT_INFO);
        members.push(b':');
        match client.and_then(|c| c.info.as_deref()) {
            Some(info) => members.extend_from_slice(info),
            None => {
                members.extend_from_slice(b"{\"name\":\"supergateway\",\"version\":\"");
                members.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
                members.extend_from_slice(b"\"}");
            }
        }
        members.push(b',');
        encode_string(&mut members, meta::LOG_LEVEL);
        members.push(b':');
        // Legacy servers log without being asked: "debug" unless the
        // client set a level (design c.3).
        let level = client.and_then(|c| c.level).unwrap_or(LogLevel::Debug);
        encode_string(&mut members, level.as_str());
        let Some(line) = with_meta(bytes, message, &members) else {
            let why = "params must be an object";
            self.answer_error(key, id, codes::INVALID_PARAMS, why);
            return;
        };
        self.send_legacy(
            key,
            id,
            &line,
            Pending {
                bytes: line.clone(),
                rounds: 0,
            },
        );
    }

    /// Sends `line` (a legacy request with the client's id) to the child
    /// under a fresh gateway id; `pending` is what a retry starts from.
    fn send_legacy(&mut self, key: SessionKey, client_id: &Id, line: &[u8], pending: Pending) {
        let Ok(message) = parse_message(line) else {
            return;
        };
        let Some(id_span) = message.id_span.clone() else {
            return;
        };
        let token = message
            .progress_token
            .as_ref()
            .map(|(raw, _)| raw.to_owned());
        let outbound = match self
            .mux
            .handle_client_request(key, client_id.clone(), token, false)
        {
            Ok(outbound) => outbound,
            Err(err) => {
                self.answer_error(key, client_id, codes::INVALID_REQUEST, &err.to_string());
                return;
            }
        };
        self.sync_mux_budget();
        // A legacy client's listing teaches the annotations too: a reverse
        // bridge sends its later tools/call with the Mcp-Param-* headers.
        self.note_tools_list(outbound.id, line, &message);
        let last = self.bump_sequence();
        if let Some(session) = self.sessions.get_mut(&key) {
            session.last = last;
        }
        let mut id_buf = [0; 20];
        let mut token_buf = [0; 20];
        let mut replacements: Vec<(Range<usize>, &[u8])> = Vec::with_capacity(2);
        replacements.push((id_span, write_u64(outbound.id, &mut id_buf)));
        if let (Some(token), Some((_, span))) = (outbound.progress_token, &message.progress_token) {
            replacements.push((span.clone(), write_u64(token, &mut token_buf)));
        }
        replacements.sort_by_key(|(range, _)| range.start);
        self.splice_to_child(Some(key), line, &replacements);
        self.legacy.requests.insert(outbound.id, pending);
        if self.config.request_events {
            self.events.push_back(Event::RequestStarted {
                request: outbound.id,
                session: key,
                method: message.method.as_deref().unwrap_or_default().into(),
                client_id: client_id.clone(),
                era: Era::Handshake,
            });
        }
    }

    // ----- input_required (c.7) -----------------------------------------

    /// The child answered `gateway_id`: an `input_required` result to a
    /// legacy request starts a round (true: handled); anything else takes
    /// the ordinary path.
    pub(super) fn legacy_child_response(
        &mut self,
        gateway_id: u64,
        line: &[u8],
        message: &Message<'_>,
    ) -> bool {
        let Some(pending) = self.legacy.requests.remove(&gateway_id) else {
            return false;
        };
        let Some(result) = message.result_span.clone().and_then(|span| line.get(span)) else {
            return false;
        };
        let Ok(members) = object_members(result) else {
            return false;
        };
        let input_required = members.iter().any(|member| {
            member.key == "resultType"
                && result.get(member.span.clone()) == Some(b"\"input_required\"")
        });
        if !input_required {
            return false;
        }
        let Some(routed) = self.mux.handle_child_response_to(gateway_id) else {
            return true; // cancelled meanwhile
        };
        self.sync_mux_budget();
        self.finish_request(gateway_id, None, false);
        let (session, client_id) = (routed.session, routed.id);
        if pending.rounds >= MAX_ROUNDS {
            let why = "the MCP server asked for input more than 10 times";
            self.answer_error(session, &client_id, codes::INTERNAL_ERROR, why);
            return true;
        }
        let value = |name: &str| {
            members
                .iter()
                .find(|member| member.key == name)
                .and_then(|member| Some((member.kind, result.get(member.span.clone())?)))
        };
        let state = value("requestState").map(|(_, raw)| raw.to_vec());
        let asks = match value("inputRequests") {
            Some((ValueKind::Object, raw)) => input_requests(raw),
            None if state.is_some() => Some(Vec::new()),
            _ => None,
        };
        let Some(asks) = asks else {
            let why = "the MCP server's input_required result has no valid inputRequests";
            self.answer_error(session, &client_id, codes::INTERNAL_ERROR, why);
            return true;
        };
        let declared = self
            .legacy
            .clients
            .get(&self.client_key(session))
            .map_or_else(default_bits, |client| client.bits);
        let needed = asks
            .iter()
            .fold(Capabilities::NONE, |needed, ask| needed | ask.needs);
        let missing = needed.missing_from(declared);
        if !missing.is_empty() {
            let mut frame = Vec::with_capacity(192);
            let why = "The MCP server needs a client capability this client did not declare \
                       for this request";
            encode_missing_capability(&mut frame, Some(client_id.as_bytes()), why, missing);
            self.push_own(session, Frame::response(frame));
            return true;
        }
        let round = Round {
            session,
            client_id,
            pending,
            state,
            waiting: asks.len(),
            answers: Vec::with_capacity(asks.len()),
        };
        self.legacy.rounds.insert(gateway_id, round);
        if let Some(open) = self.sessions.get_mut(&session) {
            open.owed = open.owed.saturating_add(1);
        }
        if asks.is_empty() {
            self.retry_round(gateway_id);
            return true;
        }
        for ask in asks {
            let token = self.fresh_token();
            let mut frame = Vec::with_capacity(ask.params.len().saturating_add(96));
            frame.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":\"");
            frame.extend_from_slice(&token);
            frame.extend_from_slice(b"\",\"method\":");
            encode_string(&mut frame, &ask.method);
            if !ask.params.is_empty() {
                frame.extend_from_slice(b",\"params\":");
                frame.extend_from_slice(&ask.params);
            }
            frame.push(b'}');
            self.legacy.inputs.insert(
                token,
                Input {
                    round: gateway_id,
                    session,
                    key: ask.key,
                },
            );
            if !self.push_child_message(session, Frame::other(frame), false) {
                let why = "the gateway could not deliver the MCP server's input request";
                self.abort_round(gateway_id, Err(why));
                return true;
            }
        }
        true
    }

    /// A client's answer to an input request the relay made: collected,
    /// and the request sent again once all are in. `None`: not one of
    /// these.
    pub(super) fn legacy_input_answer(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> Option<Result<usize, ClientError>> {
        let token = parse_token(message.id.as_ref()?.as_bytes())?;
        let input = self.legacy.inputs.get(&token)?;
        if input.session != key && self.config.clients == Clients::Separate {
            self.report(Report::ForeignAnswer(key));
            return Some(Err(ClientError::Malformed(MessageError::Invalid(
                "no request of the server's with this id awaits this client's answer",
            ))));
        }
        if let Err(err) = self.admit(key, 0, bytes.len(), 0) {
            return Some(Err(err));
        }
        let input = self.legacy.inputs.remove(&token)?;
        if message.kind == Kind::ErrorResponse {
            self.abort_round(input.round, Ok(client_error(bytes)));
            return Some(Ok(0));
        }
        let result = message
            .result_span
            .clone()
            .and_then(|span| bytes.get(span))
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| b"{}".to_vec());
        let ready = self
            .legacy
            .rounds
            .get_mut(&input.round)
            .is_some_and(|round| {
                round.answers.push((input.key, result));
                round.waiting = round.waiting.saturating_sub(1);
                round.waiting == 0
            });
        if ready {
            self.retry_round(input.round);
        }
        Some(Ok(0))
    }

    /// Every input of round `id` is answered: the request goes to the
    /// child again with `inputResponses` and `requestState`.
    fn retry_round(&mut self, id: u64) {
        let Some(round) = self.legacy.rounds.remove(&id) else {
            return;
        };
        self.settle_owed(round.session);
        let mut inserted = Vec::with_capacity(256);
        inserted.extend_from_slice(b"\"inputResponses\":{");
        for (i, (key, result)) in round.answers.iter().enumerate() {
            if i > 0 {
                inserted.push(b',');
            }
            encode_string(&mut inserted, key);
            inserted.push(b':');
            inserted.extend_from_slice(result);
        }
        inserted.push(b'}');
        if let Some(state) = &round.state {
            inserted.extend_from_slice(b",\"requestState\":");
            inserted.extend_from_slice(state);
        }
        let original = &round.pending.bytes;
        let Some(at) = params_of_span(original).and_then(|span| span.start.checked_add(1)) else {
            return;
        };
        if !object_is_empty(original.get(at..).unwrap_or_default()) {
            inserted.push(b',');
        }
        let mut line = Vec::with_capacity(original.len().saturating_add(inserted.len()));
        if splice(&mut line, original, &[(at..at, &inserted)]).is_err() {
            return;
        }
        let pending = Pending {
            bytes: round.pending.bytes,
            rounds: round.pending.rounds.saturating_add(1),
        };
        self.send_legacy(round.session, &round.client_id, &line, pending);
    }

    /// Ends round `id` with the client's error answer (`Ok`: the error
    /// object) or the relay's own (`Err`: why).
    fn abort_round(&mut self, id: u64, error: Result<Vec<u8>, &str>) {
        let Some(round) = self.legacy.rounds.remove(&id) else {
            return;
        };
        self.legacy.inputs.retain(|_, input| input.round != id);
        self.settle_owed(round.session);
        match error {
            Ok(object) => {
                let mut frame = Vec::with_capacity(object.len().saturating_add(48));
                frame.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
                frame.extend_from_slice(round.client_id.as_bytes());
                frame.extend_from_slice(b",\"error\":");
                frame.extend_from_slice(&object);
                frame.push(b'}');
                self.push_own(round.session, Frame::response(frame));
            }
            Err(why) => {
                self.answer_error(round.session, &round.client_id, codes::INTERNAL_ERROR, why)
            }
        }
    }

    // ----- the relay's listen --------------------------------------------

    /// Opens (or re-opens, with a new filter) the relay's listen at the
    /// child: list changes the child can report, and the union of the
    /// legacy clients' resource subscriptions.
    pub(super) fn refresh_listen(&mut self) {
        let ChildEra::Modern(discover) = &self.child_era else {
            return;
        };
        if self.config.clients == Clients::Anonymous || self.legacy.clients.is_empty() {
            return;
        }
        let lists = ["tools", "prompts", "resources"]
            .map(|group| capability(discover, group, "listChanged"));
        let mut uris: Vec<Box<str>> = if capability(discover, "resources", "subscribe") {
            self.legacy
                .clients
                .values()
                .flat_map(|client| client.uris.iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        uris.sort();
        uris.dedup();
        if self.legacy.listen.is_some() && uris == self.legacy.listen_uris {
            return;
        }
        let old = self.legacy.listen.take();
        if lists.iter().any(|wanted| *wanted) || !uris.is_empty() {
            let gateway_id = self.mux.reserve_id();
            let mut line = Vec::with_capacity(384);
            line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
            line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
            line.extend_from_slice(
                b",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{",
            );
            let mut first = true;
            for (wanted, name) in lists.iter().zip([
                &b"\"toolsListChanged\":true"[..],
                b"\"promptsListChanged\":true",
                b"\"resourcesListChanged\":true",
            ]) {
                if *wanted {
                    if !std::mem::replace(&mut first, false) {
                        line.push(b',');
                    }
                    line.extend_from_slice(name);
                }
            }
            if !uris.is_empty() {
                if !first {
                    line.push(b',');
                }
                line.extend_from_slice(b"\"resourceSubscriptions\":[");
                for (i, uri) in uris.iter().enumerate() {
                    if i > 0 {
                        line.push(b',');
                    }
                    encode_string(&mut line, uri);
                }
                line.push(b']');
            }
            line.extend_from_slice(b"},\"_meta\":{");
            push_own_meta(&mut line);
            line.extend_from_slice(b"}}}\n");
            self.queue_to_child(None, line);
            self.legacy.listen = Some(gateway_id);
        }
        self.legacy.listen_uris = uris;
        if let Some(old) = old {
            self.cancel_at_child(old, None);
        }
    }

    /// A notification tagged with the relay's listen: list changes to
    /// every standalone legacy stream, resource updates to the clients
    /// subscribed to that URI, the rest dropped (true: it was one).
    pub(super) fn legacy_listen_notification(
        &mut self,
        line: &[u8],
        message: &Message<'_>,
    ) -> bool {
        let Some(listen) = self.legacy.listen else {
            return false;
        };
        let tagged = message
            .subscription_id
            .as_ref()
            .and_then(|(raw, _)| parse_gateway_id(raw.as_bytes()));
        if tagged != Some(listen) {
            return false;
        }
        let Some(method) = message.method.as_deref() else {
            return true;
        };
        let uri = match method {
            "notifications/tools/list_changed"
            | "notifications/prompts/list_changed"
            | "notifications/resources/list_changed" => None,
            "notifications/resources/updated" => {
                match params_of(line).and_then(|params| string_member(params, "uri")) {
                    Some(uri) => Some(uri),
                    None => return true,
                }
            }
            _ => return true,
        };
        let Some(frame) = untagged(line, method) else {
            return true;
        };
        let one = self.config.clients == Clients::One;
        let targets: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.standalone && !session.closing && !session.modern)
            .filter(|(key, _)| {
                let Some(uri) = &uri else { return true };
                let client = if one { 0 } else { **key };
                self.legacy
                    .clients
                    .get(&client)
                    .is_some_and(|client| client.uris.iter().any(|known| **known == **uri))
            })
            .map(|(key, _)| *key)
            .collect();
        for key in targets {
            self.push_child_message(key, Frame::other(frame.clone()), false);
        }
        true
    }

    // ----- the slow-start rule (b.2) ----------------------------------------

    /// The child answered the pending `initialize` (`line`): if it refused
    /// it with -32022, it locked itself to 2026-07-28 after a probe that
    /// timed out. It is asked `server/discover` again (once), and the
    /// `initialize` requests (the one at the child and those waiting for
    /// it) are held, to be answered from the discover result. True when
    /// that happened.
    pub(super) fn slow_start(&mut self, line: &[u8], message: &Message<'_>) -> bool {
        if message.kind != Kind::ErrorResponse
            || self.legacy.reprobed
            || self.config.upstream != UpstreamMode::Auto
            || crate::jsonrpc::error_code(line).map(|(_, code)| code)
                != Some(i64::from(codes::UNSUPPORTED_PROTOCOL_VERSION))
        {
            return false;
        }
        let (gateway_id, waiters) = match std::mem::replace(&mut self.init, Init::Idle) {
            Init::Pending {
                gateway_id,
                waiters,
            } => (gateway_id, waiters),
            other => {
                self.init = other;
                return false;
            }
        };
        self.legacy.reprobed = true;
        let replay = self.replay.take();
        self.self_initialized = false;
        // The client whose `initialize` reached the child, then those that
        // waited for it: their requests wait again, ahead of what is held.
        let mut again: Vec<(SessionKey, Id, bool)> =
            Vec::with_capacity(waiters.len().saturating_add(1));
        if let Some(routed) = self.mux.handle_child_response_to(gateway_id) {
            self.sync_mux_budget();
            self.finish_request(gateway_id, None, false);
            again.push((routed.session, routed.id, false));
        }
        again.extend(waiters.into_iter().map(|(key, id)| (key, id, true)));
        let mut held = VecDeque::with_capacity(again.len());
        for (session, id, owed) in again {
            // Only the first client's `initialize` was kept: the others
            // are taken to have asked the same.
            let Some(bytes) = replay.as_ref().and_then(|(bytes, span)| {
                let mut out = Vec::with_capacity(bytes.len());
                splice(&mut out, bytes, &[(span.clone(), id.as_bytes())]).ok()?;
                Some(out)
            }) else {
                self.answer_error(
                    session,
                    &id,
                    codes::INTERNAL_ERROR,
                    "the MCP server failed to initialize",
                );
                if owed {
                    self.settle_owed(session);
                }
                continue;
            };
            if !owed {
                if let Some(open) = self.sessions.get_mut(&session) {
                    open.owed = open.owed.saturating_add(1);
                }
            }
            held.push_back(Held {
                session,
                bytes,
                request: Some(id),
                charged: 0,
            });
        }
        held.append(&mut self.held);
        self.held = held;
        self.start_child();
        true
    }

    // ----- endings --------------------------------------------------------

    /// Session `key` ended: its rounds and input requests are forgotten,
    /// and (unless it is a stream of a stateful client) what its client
    /// declared and subscribed to.
    pub(super) fn forget_legacy_client(&mut self, key: SessionKey) {
        let rounds: Vec<u64> = self
            .legacy
            .rounds
            .iter()
            .filter(|(_, round)| round.session == key)
            .map(|(id, _)| *id)
            .collect();
        for id in rounds {
            self.legacy.rounds.remove(&id);
            self.legacy.inputs.retain(|_, input| input.round != id);
        }
        let mux = &self.mux;
        self.legacy
            .requests
            .retain(|gateway_id, _| mux.session_of(*gateway_id).is_some_and(|s| s != key));
        if self.config.clients != Clients::One && self.legacy.clients.remove(&key).is_some() {
            self.refresh_listen();
        }
    }

    /// The child is gone (exit or restart): requests waiting for input are
    /// answered with `message`; the relay's listen went with the child.
    pub(super) fn fail_legacy_rounds(&mut self, message: &str) {
        let rounds: Vec<u64> = self.legacy.rounds.keys().copied().collect();
        for id in rounds {
            if let Some(round) = self.legacy.rounds.remove(&id) {
                self.answer_error(
                    round.session,
                    &round.client_id,
                    codes::SERVER_ERROR,
                    message,
                );
            }
        }
        self.legacy.inputs.clear();
        self.legacy.requests.clear();
        self.legacy.listen = None;
        self.legacy.listen_uris.clear();
    }
}

/// The `InitializeResult` a legacy client gets from a discover result.
fn initialize_result(discover: &[u8], version: &str) -> Vec<u8> {
    let members = object_members(discover).unwrap_or_default();
    let value = |key: &str, kind: ValueKind| {
        members
            .iter()
            .find(|member| member.key == key && member.kind == kind)
            .and_then(|member| discover.get(member.span.clone()))
    };
    let mut out = Vec::with_capacity(discover.len().saturating_add(64));
    out.extend_from_slice(b"{\"protocolVersion\":");
    encode_string(&mut out, version);
    out.extend_from_slice(b",\"capabilities\":");
    out.extend_from_slice(value("capabilities", ValueKind::Object).unwrap_or(b"{}"));
    out.extend_from_slice(b",\"serverInfo\":");
    let info = value("_meta", ValueKind::Object).and_then(|raw| {
        let found = object_members(raw)
            .ok()?
            .into_iter()
            .find(|m| m.key == meta::SERVER_INFO && m.kind == ValueKind::Object)?;
        raw.get(found.span)
    });
    out.extend_from_slice(info.unwrap_or(b"{\"name\":\"unknown\",\"version\":\"0.0.0\"}"));
    if let Some(instructions) = value("instructions", ValueKind::String) {
        out.extend_from_slice(b",\"instructions\":");
        out.extend_from_slice(instructions);
    }
    out.push(b'}');
    out
}

/// The span of a message's `params` object, if it has one.
fn params_of_span(bytes: &[u8]) -> Option<Range<usize>> {
    object_members(bytes)
        .ok()?
        .into_iter()
        .find(|member| member.key == "params" && member.kind == ValueKind::Object)
        .map(|member| member.span)
}

/// A message's `params` object, if it has one.
fn params_of(bytes: &[u8]) -> Option<&[u8]> {
    bytes.get(params_of_span(bytes)?)
}

/// The string member `key` of the object `raw`, unescaped.
fn string_member(raw: &[u8], key: &str) -> Option<String> {
    let found = object_members(raw)
        .ok()?
        .into_iter()
        .find(|member| member.key == key && member.kind == ValueKind::String)?;
    member_string(raw, &found).map(|value| value.into_owned())
}

/// Whether the object that `rest` starts inside (just after its `{`) has
/// no member.
fn object_is_empty(rest: &[u8]) -> bool {
    rest.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'}')
}

/// `bytes` with `members` inserted into `params._meta` (created, and
/// `params` too, when absent); `None` when `params` is not an object.
fn with_meta(bytes: &[u8], message: &Message<'_>, members: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len().saturating_add(members.len()).saturating_add(32));
    let mut inserted = Vec::with_capacity(members.len().saturating_add(32));
    let at = if let Some(found) = &message.meta {
        let at = found.span.start.checked_add(1)?;
        inserted.extend_from_slice(members);
        if !object_is_empty(bytes.get(at..)?) {
            inserted.push(b',');
        }
        at
    } else {
        let envelope = object_members(bytes).ok()?;
        match envelope.iter().find(|member| member.key == "params") {
            Some(params) if params.kind == ValueKind::Object => {
                let at = params.span.start.checked_add(1)?;
                inserted.extend_from_slice(b"\"_meta\":{");
                inserted.extend_from_slice(members);
                inserted.push(b'}');
                if !object_is_empty(bytes.get(at..)?) {
                    inserted.push(b',');
                }
                at
            }
            Some(_) => return None,
            None => {
                // Before the envelope's closing brace.
                let at = bytes.iter().rposition(|byte| *byte == b'}')?;
                inserted.extend_from_slice(b",\"params\":{\"_meta\":{");
                inserted.extend_from_slice(members);
                inserted.extend_from_slice(b"}}");
                at
            }
        }
    };
    splice(&mut out, bytes, &[(at..at, &inserted)]).ok()?;
    Some(out)
}

/// One input request of an `input_required` result.
struct Ask {
    key: Box<str>,
    method: String,
    /// Its `params` (JSON), empty when absent.
    params: Vec<u8>,
    /// The client capability answering it takes.
    needs: Capabilities,
}

/// The members of `inputRequests`; `None` when one is not
/// `{"method": string, "params"?: object}`.
fn input_requests(raw: &[u8]) -> Option<Vec<Ask>> {
    let members = object_members(raw).ok()?;
    let mut asks = Vec::with_capacity(members.len());
    for member in members {
        if member.kind != ValueKind::Object {
            return None;
        }
        let request = raw.get(member.span.clone())?;
        let method = string_member(request, "method")?;
        let params = object_members(request)
            .ok()?
            .into_iter()
            .find(|m| m.key == "params" && m.kind == ValueKind::Object)
            .and_then(|m| request.get(m.span))
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let needs = match method.as_str() {
            "sampling/createMessage" => Capabilities::SAMPLING,
            "roots/list" => Capabilities::ROOTS,
            "elicitation/create" => {
                let url =
                    !params.is_empty() && string_member(&params, "mode").as_deref() == Some("url");
                if url {
                    Capabilities::ELICITATION_URL
                } else {
                    Capabilities::ELICITATION_FORM
                }
            }
            _ => Capabilities::NONE,
        };
        asks.push(Ask {
            key: member.key.into_owned().into(),
            method,
            params,
            needs,
        });
    }
    Some(asks)
}

/// The error object a client's error answer carries, as its request's
/// client gets it: the code kept when it is a JSON-RPC code outside the
/// range servers define (−32768..−32100), else −32603 with the message.
fn client_error(bytes: &[u8]) -> Vec<u8> {
    let fallback = || {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(
            b"{\"code\":-32603,\"message\":\"the client refused the MCP server's input request\"}",
        );
        out
    };
    let Some(error) = object_members(bytes).ok().and_then(|members| {
        members
            .into_iter()
            .find(|m| m.key == "error" && m.kind == ValueKind::Object)
    }) else {
        return fallback();
    };
    let Some(raw) = bytes.get(error.span) else {
        return fallback();
    };
    let Ok(members) = object_members(raw) else {
        return fallback();
    };
    let code: Option<i64> = members
        .iter()
        .find(|m| m.key == "code" && m.kind == ValueKind::Number)
        .and_then(|m| raw.get(m.span.clone()))
        .and_then(|text| core::str::from_utf8(text).ok())
        .and_then(|text| text.parse().ok());
    if code.is_some_and(|code| (-32768..=-32100).contains(&code)) {
        return raw.to_vec();
    }
    let message = members
        .iter()
        .find(|m| m.key == "message" && m.kind == ValueKind::String)
        .and_then(|m| member_string(raw, m))
        .map_or_else(
            || "the client refused the MCP server's input request".to_owned(),
            |message| message.into_owned(),
        );
    let mut out = Vec::with_capacity(message.len().saturating_add(48));
    out.extend_from_slice(b"{\"code\":-32603,\"message\":");
    encode_string(&mut out, &message);
    out.push(b'}');
    out
}

/// A listen notification of the child's without the listen's tag, as a
/// legacy client expects it.
fn untagged(line: &[u8], method: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":");
    encode_string(&mut out, method);
    if let Some(params) = params_of(line) {
        let members: Vec<_> = object_members(params)
            .ok()?
            .into_iter()
            .filter(|member| member.key != "_meta")
            .collect();
        if !members.is_empty() {
            out.extend_from_slice(b",\"params\":{");
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_string(&mut out, &member.key);
                out.push(b':');
                out.extend_from_slice(params.get(member.span.clone())?);
            }
            out.push(b'}');
        }
    }
    out.push(b'}');
    Some(out)
}
