//! What goes wrong with the remote server, told to the relay as the
//! server's own error answers (so that it maps them back to the local
//! client): HTTP errors, lost answers, refused lines, and the background
//! reconnection while the server cannot be reached.

use std::rc::Rc;

use async_io::Timer;
use supergateway_proto::jsonrpc::{codes, encode_error, encode_error_with_data};

use super::{modern, Outgoing, Pending, Remote};
use crate::gateway::reverse::jitter_seed;
use crate::oauth::OAuthError;
use crate::rt;

impl Remote {
    /// A non-2xx answer: a modern server's JSON-RPC error is passed on with
    /// its code; anything else is explained with the status.
    pub(super) fn http_error(&self, outgoing: &Outgoing, status: u16, body: &[u8]) {
        let request = outgoing.request.as_deref();
        if let (Some(id), Some(error)) = (request, modern::rpc_error(body)) {
            if outgoing.modern || outgoing.pending == Pending::Probe {
                if outgoing.pending == Pending::Probe
                    && error.code == codes::UNSUPPORTED_PROTOCOL_VERSION
                    && modern::supports_modern(error.data.as_deref())
                {
                    let mut state = self.state.borrow_mut();
                    if !std::mem::replace(&mut state.probe_retried, true) {
                        tracing::info!(
                            "the MCP server refused server/discover with -32022 but lists 2026-07-28; asking again"
                        );
                        state.probe_again = true;
                        return;
                    }
                }
                if modern::is_modern_error(status, error.code) {
                    let probe = outgoing.pending == Pending::Probe;
                    {
                        let mut state = self.state.borrow_mut();
                        state.settled = true;
                        state.modern |= probe;
                    }
                    if probe {
                        tracing::warn!(
                            "the MCP server speaks 2026-07-28 but refused server/discover: {}",
                            error.message.chars().take(200).collect::<String>()
                        );
                        if let Some(link) = self.link.upgrade() {
                            link.borrow_mut().handle_probe_refused();
                        }
                    }
                }
                if self.state.borrow_mut().in_flight.remove(id).is_some() {
                    let mut line = Vec::with_capacity(128);
                    match &error.data {
                        Some(data) => encode_error_with_data(
                            &mut line,
                            Some(id),
                            error.code,
                            &error.message,
                            data,
                        ),
                        None => encode_error(&mut line, Some(id), error.code, &error.message),
                    }
                    self.to_link(&line);
                }
                return;
            }
        }
        let detail = modern::rpc_error(body)
            .map(|error| format!(": {}", error.message.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        let cause = format!("the MCP server answered HTTP {status}{detail}");
        tracing::warn!("{cause}");
        self.refuse(outgoing, &cause);
    }

    /// Authorization for `outgoing` failed: one line on stderr, and its
    /// request gets -32000 "Authorization failed: …"
    /// with the server's last status as `data.httpStatus`.
    pub(super) fn auth_failed(&self, outgoing: &Outgoing, status: u16, error: &OAuthError) {
        let text = format!("Authorization failed: {error}");
        tracing::warn!("{text}");
        let data = format!("{{\"httpStatus\":{status}}}");
        self.answer_requests(outgoing, &text, Some(data.as_bytes()));
    }

    /// The probe's authorization failed: that says nothing about the
    /// server's era. The relay answers the local client's messages it held
    /// with the failure and probes again (`replace_remote`); that probe
    /// waits for the local client's next message (`Remote::client_active`).
    pub(super) fn probe_auth_failed(&self, outgoing: &Outgoing, error: &OAuthError) {
        let text = format!("Authorization failed: {error}");
        tracing::warn!("{text}");
        if let Some(id) = &outgoing.request {
            self.state.borrow_mut().in_flight.remove(id);
        }
        self.state.borrow_mut().park_next_probe = true;
        if let Some(link) = self.link.upgrade() {
            link.borrow_mut().replace_remote(&text);
        }
    }

    /// The request gets `text` as an error (if still in flight), logged.
    pub(super) fn fail(&self, request: Option<&[u8]>, text: &str) {
        tracing::warn!("{text}");
        if let Some(id) = request {
            self.answer_error(id, codes::SERVER_ERROR, text);
        }
    }

    /// Answers request `id` (if still in flight) with an error, as the
    /// server would have.
    pub(super) fn answer_error(&self, id: &[u8], code: i32, text: &str) {
        if self.state.borrow_mut().in_flight.remove(id).is_none() {
            return;
        }
        let mut line = Vec::with_capacity(96);
        encode_error(&mut line, Some(id), code, text);
        self.to_link(&line);
    }

    /// `outgoing` was not relayed: its request gets `text` as its error.
    pub(super) fn refuse(&self, outgoing: &Outgoing, text: &str) {
        self.answer_requests(outgoing, text, None);
    }

    /// Answers -32000 `text` (with `data`, if any) to the request of
    /// `outgoing`, if it is one and still in flight. (The relay hands the
    /// server single messages: it splits a client's batch.)
    fn answer_requests(&self, outgoing: &Outgoing, text: &str, data: Option<&[u8]>) {
        let Some(id) = &outgoing.request else {
            return;
        };
        if self.state.borrow_mut().in_flight.remove(id).is_none() {
            return;
        }
        let mut line = Vec::with_capacity(128);
        match data {
            Some(data) => {
                encode_error_with_data(&mut line, Some(id), codes::SERVER_ERROR, text, data)
            }
            None => encode_error(&mut line, Some(id), codes::SERVER_ERROR, text),
        }
        self.to_link(&line);
    }

    /// No connection could be made: requests are refused from now on, and
    /// a background task connects with backoff until one can be made.
    pub(super) fn unreachable(self: &Rc<Self>, cause: &str) {
        let mut state = self.state.borrow_mut();
        if state.reconnecting.is_some() {
            return; // another request's failure of the same outage
        }
        let first = state.backoff.fail(cause.to_owned(), None, jitter_seed());
        let remote = Rc::clone(self);
        state.reconnecting = Some(rt::spawn(async move {
            let mut wait = first;
            loop {
                Timer::after(wait).await;
                match remote.upstream.client().connect(&remote.url).await {
                    Ok(()) => break,
                    Err(err) => {
                        let cause = format!("could not reach the MCP server: {err}");
                        wait = remote
                            .state
                            .borrow_mut()
                            .backoff
                            .fail(cause, None, jitter_seed());
                    }
                }
            }
            let probe_again = {
                let mut state = remote.state.borrow_mut();
                state.backoff.succeeded();
                // This task ends here: detach it before its handle is dropped.
                if let Some(task) = state.reconnecting.take() {
                    task.detach();
                }
                std::mem::take(&mut state.probe_unreached)
            };
            if probe_again {
                if let Some(link) = remote.link.upgrade() {
                    tracing::info!("asking the MCP server server/discover again");
                    link.borrow_mut()
                        .replace_remote("the MCP server was unreachable; retry the request");
                }
            }
        }));
    }
}
