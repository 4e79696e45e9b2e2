//! Queues: frames for sessions (the slow-client rule, the budgets) and lines
//! for the child.

use super::*;

impl Relay {
    /// Queues a message from the child for `key`. A client whose queue is
    /// full (in messages, or in bytes with something already queued) is too
    /// slow: it is disconnected. `charged`: the process budget already
    /// counts the bytes (a shared broadcast buffer). True when queued.
    pub(super) fn push_child_message(
        &mut self,
        key: SessionKey,
        frame: Frame,
        charged: bool,
    ) -> bool {
        let limits = self.config.limits;
        let Some(session) = self.sessions.get(&key).filter(|s| !s.closing) else {
            return false;
        };
        // Too slow = its queue of the child's messages is full (what else
        // it holds was bounded when admitted).
        let full = session.outbox.len() >= limits.session_frames
            || (!session.outbox.is_empty()
                && session.outbox.bytes().saturating_add(frame.len()) > limits.session_bytes);
        if full {
            self.drop_slow_session(key);
            return false;
        }
        if !charged && !self.charge_or_report(frame.len()) {
            return false;
        }
        self.push(key, frame);
        true
    }

    /// Queues the child's answer for `key`; if the process budget cannot
    /// take it, the client gets an error answer instead.
    pub(super) fn push_answer(&mut self, key: SessionKey, id: &Id, frame: Vec<u8>) {
        let limits = self.config.limits;
        let Some(session) = self.sessions.get(&key).filter(|s| !s.closing) else {
            return;
        };
        let too_slow = !session.outbox.is_empty()
            && (session.outbox.len() >= limits.session_frames
                || session.outbox.bytes().saturating_add(frame.len()) > limits.session_bytes);
        if too_slow {
            self.drop_slow_session(key);
            return;
        }
        if self.charge_or_report(frame.len()) {
            self.push(key, Frame::response(frame));
        } else {
            let why = "the answer does not fit the gateway's memory budget";
            self.answer_error(key, id, codes::INTERNAL_ERROR, why);
        }
    }

    /// Queues one of the relay's own frames (an error, a cached result):
    /// never refused, so that a client is never dropped for them.
    pub(super) fn push_own(&mut self, key: SessionKey, frame: Frame) {
        if self.sessions.get(&key).is_some_and(|s| !s.closing) {
            self.budget.charge(frame.len());
            self.push(key, frame);
        }
    }

    pub(super) fn push(&mut self, key: SessionKey, frame: Frame) {
        if let Some(session) = self.sessions.get_mut(&key) {
            if session.outbox.is_empty() {
                self.events.push_back(Event::SessionReady(key));
            }
            session.outbox.push(frame);
        }
    }

    pub(super) fn drop_slow_session(&mut self, key: SessionKey) {
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

    pub(super) fn answer_error(&mut self, key: SessionKey, id: &Id, code: i32, message: &str) {
        let mut frame = Vec::with_capacity(message.len().saturating_add(80));
        encode_error(&mut frame, Some(id.as_bytes()), code, message);
        self.push_own(key, Frame::response(frame));
    }

    pub(super) fn queue_line(&mut self, session: Option<SessionKey>, bytes: &[u8]) {
        let mut line = Vec::with_capacity(bytes.len().saturating_add(1));
        line.extend_from_slice(bytes);
        line.push(b'\n');
        self.queue_to_child(session, line);
    }

    pub(super) fn splice_to_child(
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
    pub(super) fn queue_to_child(&mut self, session: Option<SessionKey>, line: Vec<u8>) {
        if self.exited.is_some() {
            return;
        }
        // Client lines were admitted against `max_child_lines`; the relay's
        // own (answers to the child's requests, cancellations) are bounded
        // here: a child that never reads its stdin cannot make them pile
        // up. Past twice the bound they are dropped, reported once.
        let own_bound = self.config.limits.max_child_lines.saturating_mul(2);
        if session.is_none() && self.to_child.len() >= own_bound {
            if !std::mem::replace(&mut self.child_input_full, true) {
                let lines = self.to_child.len();
                self.report(Report::ChildNotReading { lines });
            }
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

    /// Answers the child's request `child_id` with a -32603 error saying
    /// `why` (no client will).
    pub(super) fn answer_child(&mut self, child_id: &Id, why: &str) {
        self.answer_child_with(child_id, codes::INTERNAL_ERROR, why);
    }

    /// Answers the child's request `child_id` with the error `code`.
    pub(super) fn answer_child_with(&mut self, child_id: &Id, code: i32, why: &str) {
        let mut line = Vec::with_capacity(why.len().saturating_add(64));
        encode_error(&mut line, Some(child_id.as_bytes()), code, why);
        line.push(b'\n');
        self.queue_to_child(None, line);
    }

    /// Charges `bytes` to the process budget if they fit; the first refusal
    /// since the budget last had room is reported.
    pub(super) fn charge_or_report(&mut self, bytes: usize) -> bool {
        match self.budget.try_charge(bytes) {
            Ok(()) => true,
            Err(first) => {
                if first {
                    let limit = self.budget.limit();
                    self.report(Report::ProcessBudget { limit });
                }
                false
            }
        }
    }

    /// Brings the process budget in line with what the id table holds
    /// (called after every change to the mux).
    pub(super) fn sync_mux_budget(&mut self) {
        let weight = self.mux.weight();
        if weight > self.mux_charged {
            self.budget.charge(weight.saturating_sub(self.mux_charged));
        } else {
            self.budget.release(self.mux_charged.saturating_sub(weight));
        }
        self.mux_charged = weight;
    }
}
