//! The child side of the relay: its answers, its requests (with the
//! ownership rule), its notifications and broadcasts.

use super::*;

impl Relay {
    pub(super) fn route_child_response(&mut self, line: &[u8], message: &Message<'_>) {
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            return;
        };
        // Our ids are decimals: parsed once, for all the checks below.
        let Some(gateway_id) = parse_gateway_id(raw.as_bytes()) else {
            return; // not an id the gateway gave
        };
        if self.probe_id() == Some(gateway_id) {
            self.finish_probe(line, message);
            return;
        }
        if self.legacy_child_response(gateway_id, line, message) {
            return;
        }
        if matches!(&self.init, Init::Pending { gateway_id: pending, .. } if *pending == gateway_id)
        {
            self.finish_initialize(line, message);
        }
        if self.mrtr_answer(gateway_id, line) {
            return;
        }
        self.learn_tools(gateway_id, line, message);
        let Some(routed) = self.mux.handle_child_response_to(gateway_id) else {
            return; // a late answer to a cancelled request, or ours
        };
        self.sync_mux_budget();
        let completion = self.completions.remove(&gateway_id);
        let listen = self.listens.remove(&gateway_id).is_some();
        let child_error = message.kind == Kind::ErrorResponse;
        self.finish_request(gateway_id, None, child_error);
        let frame = match completion {
            None if listen => {
                Self::listen_result(line, message, span.clone(), routed.id.as_bytes())
            }
            Some(completion) => Self::completed_answer(
                line,
                message,
                span.clone(),
                routed.id.as_bytes(),
                completion,
            ),
            None => {
                let mut frame = Vec::with_capacity(line.len().saturating_add(16));
                splice(&mut frame, line, &[(span.clone(), routed.id.as_bytes())])
                    .ok()
                    .map(|()| frame)
            }
        };
        if let Some(frame) = frame {
            self.push_answer(routed.session, &routed.id, frame);
        }
    }

    /// The child answered an `initialize`: cache the result for later
    /// clients, answer the ones that waited, relay the held messages.
    pub(super) fn finish_initialize(&mut self, line: &[u8], message: &Message<'_>) {
        if self.slow_start(line, message) {
            return;
        }
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
            self.resubscribe();
        }
        self.release_held();
    }

    /// Relays the messages held while the child was not ready, in order
    /// (those that must wait again are held again).
    pub(super) fn release_held(&mut self) {
        for held in std::mem::take(&mut self.held) {
            self.unhold(&held);
            if self.sessions.get(&held.session).is_some_and(|s| !s.closing) {
                if let Ok(message) = parse_message(&held.bytes) {
                    self.accept(held.session, &held.bytes, &message);
                }
            }
        }
    }

    pub(super) fn route_child_request(&mut self, line: &[u8], message: &Message<'_>) {
        let (Some(raw), Some(span)) = (&message.id, &message.id_span) else {
            return;
        };
        if self.mrtr_child_request(line, message) {
            return;
        }
        let child_id = raw.to_owned();
        // A client that never answers cannot make the table grow without
        // bound: past `session_frames` requests waiting, the child is told.
        let owner = if self.child_requests.len() >= self.config.limits.session_frames {
            Err(Report::TooManyChildRequests)
        } else {
            self.owner_of_child_request()
        };
        let owner = owner.and_then(|owner| {
            // A 2026-07-28 client takes no requests (design c.5/c.6: input
            // round trips for them are not built yet).
            match self.sessions.get(&owner) {
                Some(session) if session.modern => Err(Report::ModernClientAsked),
                _ => Ok(owner),
            }
        });
        let owner = match owner {
            Ok(owner) => owner,
            Err(report) => {
                let why = match report {
                    Report::TooManyChildRequests => {
                        "too many of this server's requests are waiting for client answers"
                    }
                    Report::ModernClientAsked => {
                        "the client speaks MCP 2026-07-28, which has no server-to-client requests"
                    }
                    _ => "the gateway cannot tell which client this request is for",
                };
                self.report(report);
                self.answer_child(&child_id, why);
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
                let why = "the gateway could not deliver this request to its client";
                self.answer_child(&request.child_id, why);
            }
        }
    }

    /// Who may be asked a request the child sends now (see
    /// [`Relay::handle_child_line`]).
    pub(super) fn owner_of_child_request(&self) -> Result<SessionKey, Report> {
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

    pub(super) fn route_child_notification(&mut self, line: &[u8], message: &Message<'_>) {
        if self.child_is_modern()
            && (self.legacy_listen_notification(line, message) || self.route_tagged(line, message))
        {
            return;
        }
        match message.method.as_deref() {
            Some("notifications/progress") => {
                let Some((raw, span)) = &message.progress_token else {
                    return;
                };
                let Some((key, client_token)) = self.mux.handle_child_progress(raw.as_bytes())
                else {
                    self.mrtr_progress(line, raw.as_bytes(), span.clone());
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
                    self.mrtr_withdraw(&raw.to_owned());
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
                let open = |key| sessions.get(&key).is_some_and(|s: &Session| !s.closing);
                // Anonymous clients: only when one request is in flight
                // (the line cannot be tied to one of several clients).
                let target = match self.config.clients {
                    Clients::Anonymous => {
                        // A listen at a 2026-07-28 child is never sent log
                        // lines (its stream carries tagged notifications
                        // only): it does not make the line ambiguous.
                        let listening = |key: SessionKey| {
                            self.listens
                                .keys()
                                .filter(|id| self.mux.session_of(**id) == Some(key))
                                .count()
                        };
                        let mut busy = sessions.keys().copied().filter(|key| {
                            open(*key) && self.mux.in_flight_for(*key) > listening(*key)
                        });
                        match (busy.next(), busy.next()) {
                            (Some(key), None) => Some(key),
                            (Some(_), Some(_)) => return,
                            _ => None,
                        }
                    }
                    _ => self.mux.busiest(open),
                };
                match target {
                    Some(key) => {
                        if self.log_allowed(key, line) {
                            self.push_child_message(key, Frame::other(line.to_vec()), false);
                        }
                    }
                    None => self.broadcast(line),
                }
            }
            Some(method) => {
                if !self.child_is_modern() {
                    self.fan_out(line, method);
                }
                self.broadcast(line);
            }
            None => {}
        }
    }

    pub(super) fn broadcast(&mut self, line: &[u8]) {
        let targets: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, session)| {
                session.standalone && !session.closing && self.takes_broadcasts(session)
            })
            .map(|(key, _)| *key)
            .collect();
        if targets.is_empty() {
            return;
        }
        // One buffer for all, charged to the process budget once.
        if !self.charge_or_report(line.len()) {
            return;
        }
        // Released when the last holder drops it (here, if nobody took it).
        let shared = SharedBytes::charged(line, &self.budget);
        for key in targets {
            self.push_child_message(key, Frame::shared(&shared), true);
        }
    }
}
