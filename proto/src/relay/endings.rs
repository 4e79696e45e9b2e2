//! Endings: sessions that leave, a child that exits or is replaced, the
//! `initialize` replay, and the small helpers they share.

use super::*;

impl Relay {
    /// Forgets what the mux and the child-request table hold for `key`:
    /// its requests are cancelled at the child, the child's requests to it
    /// answered with an error.
    pub(super) fn forget_session(&mut self, key: SessionKey, reason: &str) {
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
        let ended = self.mux.handle_session_end(key);
        self.sync_mux_budget();
        for gateway_id in ended.cancelled {
            self.finish_request(gateway_id, Some((codes::SERVER_ERROR, reason)), false);
            self.cancel_at_child(gateway_id, Some(reason));
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
                self.answer_child(&request.child_id, reason);
            }
        }
        self.forget_legacy_client(key);
        // Lines this session queued for the child stay queued (they were
        // admitted); they are no longer charged to it.
        let listen = self.sessions.get_mut(&key).and_then(|session| {
            session.pending_bytes = 0;
            session.owed = 0;
            session.listen.take()
        });
        self.end_listen(listen);
        self.mrtr_session_end(key);
    }

    /// Answers every request in flight, waiting or held with `message`,
    /// drops the lines queued for the child and the child's requests.
    pub(super) fn fail_everything(&mut self, message: &str) {
        self.mrtr_fail(message);
        for (_, line) in std::mem::take(&mut self.to_child) {
            self.budget.release(line.len());
        }
        for session in self.sessions.values_mut() {
            session.pending_bytes = 0;
        }
        let drained = self.mux.drain_requests();
        self.sync_mux_budget();
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
        self.fail_legacy_rounds(message);
    }

    pub(super) fn answer_waiters_of(&mut self, key: SessionKey, message: &str) {
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

    pub(super) fn answer_held_of(&mut self, key: SessionKey, message: &str) {
        let (mine, others): (VecDeque<Held>, VecDeque<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.session == key);
        self.held = others;
        for held in mine {
            self.unhold(&held);
            self.answer_if_request(&held, message);
        }
    }

    pub(super) fn answer_if_request(&mut self, held: &Held, message: &str) {
        if let Some(id) = &held.request {
            self.answer_error(held.session, id, codes::SERVER_ERROR, message);
        }
    }

    /// A held message leaves the held queue: its bytes and (for a request)
    /// its owed answer are no longer counted there.
    pub(super) fn unhold(&mut self, held: &Held) {
        self.budget.release(held.charged);
        if let Some(session) = self.sessions.get_mut(&held.session) {
            session.pending_bytes = session.pending_bytes.saturating_sub(held.charged);
            if held.request.is_some() {
                session.owed = session.owed.saturating_sub(1);
            }
        }
    }

    pub(super) fn settle_owed(&mut self, key: SessionKey) {
        if let Some(session) = self.sessions.get_mut(&key) {
            session.owed = session.owed.saturating_sub(1);
        }
    }

    pub(super) fn replay_initialize(&mut self) {
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

    /// Tells the child the request under `gateway_id` is cancelled.
    pub(super) fn cancel_at_child(&mut self, gateway_id: u64, reason: Option<&str>) {
        let mut line = Vec::with_capacity(128);
        line.extend_from_slice(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":",
        );
        line.extend_from_slice(write_u64(gateway_id, &mut [0; 20]));
        if let Some(reason) = reason {
            line.extend_from_slice(b",\"reason\":");
            encode_string(&mut line, reason);
        }
        line.extend_from_slice(b"}}\n");
        self.queue_to_child(None, line);
    }

    pub(super) fn finish_request(
        &mut self,
        request: u64,
        error: Option<(i32, &str)>,
        child_error: bool,
    ) {
        self.completions.remove(&request);
        self.listens.remove(&request);
        self.forget_interactive(request);
        if self.config.request_events {
            self.events.push_back(Event::RequestFinished {
                request,
                error: error.map(|(code, text)| (code, text.into())),
                child_error,
            });
        }
    }

    pub(super) fn report(&mut self, report: Report) {
        self.events.push_back(Event::Report(report));
    }

    pub(super) fn fresh_token(&mut self) -> Token {
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

    pub(super) fn bump_sequence(&mut self) -> u64 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }
}
