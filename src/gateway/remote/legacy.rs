//! The handshake-era side of the remote server: the session from the
//! answer to `initialize`, the standalone GET stream, resumption of a
//! broken answer stream with `Last-Event-ID`, the session's end (a 404
//! from the server, a DELETE from us).

use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;
use supergateway_proto::http::Method;
use supergateway_proto::jsonrpc::codes;
use supergateway_proto::sse::SseParser;

use super::{Remote, DEFAULT_RETRY, ERROR_BODY_BYTES, MAX_RESUMES};
use crate::gateway::authorized::Answer;
use crate::gateway::reverse::{jitter_seed, reconnect_delay, HEALTHY_AFTER, MAX_EVENT_BYTES};
use crate::http::client::ClientResponse;
use crate::rt;

impl Remote {
    /// The events of an SSE answer; resumed with `Last-Event-ID` if it
    /// breaks before the request's answer.
    pub(super) async fn read_answer_stream(
        self: &Rc<Self>,
        mut response: ClientResponse,
        request: Option<&[u8]>,
    ) {
        let mut parser = SseParser::new(MAX_EVENT_BYTES);
        let mut resumes = 0u32;
        loop {
            let ended = self.feed_events(&mut response, &mut parser).await;
            let answered = request.is_none_or(|id| !self.state.borrow().in_flight.contains_key(id));
            if answered {
                return;
            }
            let last_id = parser.last_event_id().to_owned();
            if last_id.is_empty() || resumes >= MAX_RESUMES || self.state.borrow().modern {
                let why = ended
                    .err()
                    .unwrap_or_else(|| "the answer stream ended early".to_owned());
                self.fail(request, &format!("the MCP server's answer was lost: {why}"));
                return;
            }
            let retry = parser
                .retry_ms()
                .map_or(DEFAULT_RETRY, Duration::from_millis);
            Timer::after(reconnect_delay(resumes, Some(retry), jitter_seed())).await;
            resumes = resumes.saturating_add(1);
            match self.get_stream(Some(&last_id)).await {
                Ok(resumed) => response = resumed,
                Err(err) => {
                    self.fail(
                        request,
                        &format!("could not resume the answer stream: {err}"),
                    );
                    return;
                }
            }
        }
    }

    /// The server ended the legacy session: the request gets an error, and
    /// the relay starts a new session with the `initialize` it kept.
    pub(super) fn session_ended(&self, request: Option<&[u8]>) {
        tracing::warn!("the MCP server ended the session; starting a new one");
        if let Some(id) = request {
            self.answer_error(
                id,
                codes::SERVER_ERROR,
                "Session not found: the MCP server ended the session; a new one was started, retry the request",
            );
        }
        self.forget_session();
        if let Some(link) = self.link.upgrade() {
            link.borrow_mut()
                .replace_remote("the MCP server ended the session; retry the request");
        }
    }

    /// Opens the standalone GET stream of the legacy session (the server's
    /// own messages), reconnecting while the session lasts.
    pub(super) fn start_listening(self: &Rc<Self>) {
        let session = self.state.borrow().session.clone();
        let remote = Rc::clone(self);
        let task = rt::spawn(async move {
            let mut parser = SseParser::new(MAX_EVENT_BYTES);
            // Streams in a row that ended before `HEALTHY_AFTER`: a server
            // that sends `retry: 0` and closes gets growing waits, not a
            // reconnect storm.
            let mut short = 0u32;
            loop {
                let started = Instant::now();
                let last = parser.last_event_id().to_owned();
                let mut response = match remote
                    .get_stream((!last.is_empty()).then_some(last.as_str()))
                    .await
                {
                    Ok(response) => response,
                    Err(err) => {
                        tracing::debug!("no standalone stream: {err}");
                        return;
                    }
                };
                let _ = remote.feed_events(&mut response, &mut parser).await;
                if remote.state.borrow().session != session {
                    return;
                }
                if started.elapsed() >= HEALTHY_AFTER {
                    short = 0;
                }
                let retry = parser
                    .retry_ms()
                    .map_or(DEFAULT_RETRY, Duration::from_millis);
                let wait = reconnect_delay(short, Some(retry), jitter_seed());
                tracing::debug!(
                    "the standalone stream ended; reopening it in {} ms",
                    wait.as_millis()
                );
                short = short.saturating_add(1);
                Timer::after(wait).await;
            }
        });
        self.state.borrow_mut().listener = Some(task);
    }

    /// GET the endpoint as an event stream (resuming after `last_event_id`).
    pub(super) async fn get_stream(
        &self,
        last_event_id: Option<&str>,
    ) -> Result<ClientResponse, String> {
        let (session, version) = {
            let state = self.state.borrow();
            (state.session.clone(), state.version.clone())
        };
        let mut headers: Vec<(&str, &[u8])> = vec![("accept", b"text/event-stream")];
        if let Some(session) = &session {
            headers.push(("mcp-session-id", session.as_bytes()));
        }
        if let Some(version) = &version {
            headers.push(("mcp-protocol-version", version.as_bytes()));
        }
        if let Some(last) = last_event_id {
            headers.push(("last-event-id", last.as_bytes()));
        }
        let response = match self
            .upstream
            .send(Method::Get, &self.url, &headers, None, None)
            .await
        {
            Ok(Answer::Head(response)) => *response,
            Ok(Answer::Read { status, .. }) => return Err(format!("HTTP {status}")),
            Err(err) => return Err(err.to_string()),
        };
        match response.status() {
            200 => Ok(response),
            status => {
                let _ = response.body(ERROR_BODY_BYTES).await;
                Err(format!("HTTP {status}"))
            }
        }
    }

    /// Drops the legacy session (the server ended it, or a new initialize
    /// starts another).
    pub(super) fn forget_session(&self) {
        let mut state = self.state.borrow_mut();
        state.session = None;
        state.version = None;
        state.listener = None;
    }

    /// DELETEs the legacy session on the way out.
    pub(crate) async fn end_session(&self) {
        let session = self.state.borrow_mut().session.take();
        self.state.borrow_mut().listener = None;
        let Some(session) = session else { return };
        let headers: [(&str, &[u8]); 1] = [("mcp-session-id", session.as_bytes())];
        let deleting = self.upstream.send_held(
            Method::Delete,
            &self.url,
            &headers,
            Some(Duration::from_secs(2)),
        );
        let _ = deleting
            .or(async {
                Timer::after(Duration::from_secs(3)).await;
                Err(crate::http::client::ClientError::Timeout("DELETE"))
            })
            .await;
    }
}
