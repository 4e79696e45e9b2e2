//! The client side of the relay: admission, batches, held messages, client
//! requests, cancellations and answers to the child's requests.

use super::*;

impl Relay {
    pub(super) fn open_with(
        &mut self,
        key: SessionKey,
        standalone: bool,
        frames: VecDeque<Frame>,
    ) -> bool {
        if self.exited.is_some() || self.sessions.contains_key(&key) {
            // Frames moved from another relay stay charged: give them back.
            for frame in frames {
                self.budget.release(frame.process_share());
            }
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
                modern: false,
                log_level: None,
                listen: None,
                relisten: false,
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
    pub(super) fn admit(
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
        // Admission only looks: what is admitted is charged where it is
        // queued.
        if !self.charge_or_report(bytes) {
            return Err(ClientError::Busy("the gateway's memory budget is full"));
        }
        self.budget.release(bytes);
        Ok(())
    }

    pub(super) fn session_refusal(&mut self, key: SessionKey, why: &'static str) -> ClientError {
        if let Some(session) = self.sessions.get_mut(&key) {
            if !std::mem::replace(&mut session.over_reported, true) {
                self.events
                    .push_back(Event::Report(Report::SessionBudget(key)));
            }
        }
        ClientError::Busy(why)
    }

    pub(super) fn handle_batch(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
    ) -> Result<usize, ClientError> {
        // JSON-RPC batches (MCP 2025-03-26): admitted whole or not at all.
        let elements = split_batch(bytes).map_err(ClientError::Malformed)?;
        if elements.len() > self.config.limits.session_frames {
            return Err(ClientError::Malformed(MessageError::Invalid(
                "batch has more elements than the gateway queues for one client",
            )));
        }
        // Each element parsed once: for admission, then for relaying.
        let parsed: Vec<(&[u8], Result<Message<'_>, MessageError>)> = elements
            .into_iter()
            .map(|range| {
                let element = bytes.get(range).unwrap_or_default();
                (element, parse_message(element))
            })
            .collect();
        let (mut answers, mut bytes_needed) = (0usize, 0usize);
        for (element, message) in &parsed {
            let (answer, needed) = match message {
                Ok(message) => (
                    usize::from(message.kind == Kind::Request),
                    cost(element, message),
                ),
                Err(_) => (1, 0),
            };
            answers = answers.saturating_add(answer);
            bytes_needed = bytes_needed.saturating_add(needed);
        }
        self.admit(key, answers, bytes_needed, parsed.len())
            .map_err(|_| {
                ClientError::Malformed(MessageError::Invalid(
                    "batch does not fit the gateway's queues; send fewer or smaller messages",
                ))
            })?;
        for (element, message) in parsed {
            match message {
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
    pub(super) fn accept(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        // A denied target is refused before anything else: it is never
        // held, never starts an initialisation, never reaches the child.
        if message.kind == Kind::Request && self.refuse_filtered(key, bytes, message) {
            return;
        }
        if message.kind == Kind::Request {
            match self.filtered_listen(key, bytes, message) {
                Some(Some(rewritten)) => {
                    match parse_message(&rewritten) {
                        Ok(message) => self.accept_admitted(key, &rewritten, &message),
                        // Cannot happen (only array elements were taken
                        // out), but a request is never left unanswered.
                        Err(_) => {
                            if let Some(id) = &message.id {
                                let why = "the request's params cannot be read";
                                self.answer_error(key, &id.to_owned(), codes::INVALID_PARAMS, why);
                            }
                        }
                    }
                    return;
                }
                Some(None) => return,
                None => {}
            }
        }
        self.accept_admitted(key, bytes, message);
    }

    /// [`Relay::accept`] past the filter.
    fn accept_admitted(&mut self, key: SessionKey, bytes: &[u8], message: &Message<'_>) {
        let method = message.method.as_deref();
        let is_initialize = method == Some("initialize");
        if era::is_modern(message) {
            self.initialize_for_modern();
            // From now on its client is asked nothing, even while this
            // request is held behind `initialize` or the probe.
            if let Some(session) = self.sessions.get_mut(&key) {
                session.modern = true;
            }
        }
        // While the child's revision is unknown everything waits (how
        // `initialize` and `ping` are served depends on it).
        let probing = self.probe_id().is_some();
        if self.holding() && (probing || (!is_initialize && method != Some("ping"))) {
            if self.held.len() < self.config.limits.max_held {
                let charged = cost(bytes, message);
                let request = message
                    .id
                    .as_ref()
                    .filter(|_| message.kind == Kind::Request)
                    .map(|id| id.to_owned());
                self.held.push_back(Held {
                    session: key,
                    bytes: bytes.to_vec(),
                    request,
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

    pub(super) fn route_client_message(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) {
        if self.serve_legacy_client(key, bytes, message) {
            return;
        }
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

    pub(super) fn route_client_cancel(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) {
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
        self.mux.handle_abandoned(gateway_id);
        self.sync_mux_budget();
        self.finish_request(gateway_id, Some((codes::SERVER_ERROR, "cancelled")), false);
        let mut buf = [0; 20];
        let new_id = write_u64(gateway_id, &mut buf);
        self.splice_to_child(Some(key), bytes, &[(span.clone(), new_id)]);
    }

    pub(super) fn route_client_request(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) {
        let (Some(raw_id), Some(id_span)) = (&message.id, &message.id_span) else {
            return;
        };
        let modern = era::is_modern(message);
        if modern && !self.route_modern(key, bytes, message) {
            return;
        }
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
        self.sync_mux_budget();
        self.note_tools_list(outbound.id, bytes, message);
        if modern {
            let method = message.method.as_deref().unwrap_or_default();
            self.note_completion(outbound.id, method);
            self.note_interactive(outbound.id, method, bytes);
            if method == "subscriptions/listen" {
                self.listens.insert(outbound.id, bytes.into());
            }
        }
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
        let token = match (outbound.progress_token, &message.progress_token) {
            (Some(token), Some((_, span))) => {
                Some((span.clone(), write_u64(token, &mut token_buf)))
            }
            _ => None,
        };
        // A legacy child gets the request without the 2026-07-28 `_meta`
        // keys (the progress token, if any, rewritten inside it).
        let stripped = if modern {
            self.legacy_meta(bytes, message, token.as_ref().map(|(_, t)| *t))
        } else {
            None
        };
        match (&stripped, token) {
            (Some((span, meta)), _) => replacements.push((span.clone(), meta)),
            (None, Some(token)) => replacements.push(token),
            (None, None) => {}
        }
        replacements.sort_by_key(|(range, _)| range.start);
        self.splice_to_child(Some(key), bytes, &replacements);
        if self.config.request_events {
            self.events.push_back(Event::RequestStarted {
                request: outbound.id,
                session: key,
                method: message.method.as_deref().unwrap_or_default().into(),
                client_id,
                era: if modern { Era::Modern } else { Era::Handshake },
            });
        }
    }

    /// A client answers a request of the child's: relayed with the child's
    /// id back if this session may answer that token, else refused.
    pub(super) fn handle_client_answer(
        &mut self,
        key: SessionKey,
        bytes: &[u8],
        message: &Message<'_>,
    ) -> Result<usize, ClientError> {
        let foreign = ClientError::Malformed(MessageError::Invalid(
            "no request of the server's with this id awaits this client's answer",
        ));
        if let Some(answered) = self.legacy_input_answer(key, bytes, message) {
            return answered;
        }
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
        // The line for the child carries the child's own id instead of the
        // 34-byte token.
        let child_id = self
            .child_requests
            .get(&token)
            .map_or(0, |request| request.child_id.as_bytes().len());
        self.admit(key, 0, cost(bytes, message).saturating_add(child_id), 1)?;
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
}

/// The bytes admitting `message` (the bytes `bytes`) costs at most: its
/// line for the child, and for a request its entry in the id table.
pub(super) fn cost(bytes: &[u8], message: &Message<'_>) -> usize {
    let line = bytes.len().saturating_add(1);
    if message.kind != Kind::Request {
        return line;
    }
    // The gateway id and token (up to 20 digits each) may be longer than
    // the client's.
    let line = line.saturating_add(if message.progress_token.is_some() {
        40
    } else {
        20
    });
    let id = message.id.as_ref().map_or(&b""[..], |id| id.as_bytes());
    let token = message
        .progress_token
        .as_ref()
        .map(|(token, _)| token.as_bytes());
    line.saturating_add(crate::mux::entry_weight(id, token))
}

/// The token inside a client's answer id: exactly `"` + 32 lowercase hex
/// digits + `"`.
pub(super) fn parse_token(raw: &[u8]) -> Option<Token> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let token: Token = inner.try_into().ok()?;
    token
        .iter()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
        .then_some(token)
}
