//! A remote MCP server on the Streamable HTTP transport in the place of a
//! link's child (the reverse bridge, design/2026-07-28.md d.4): the lines
//! the relay has for "the child" are POSTed, and what the server answers is
//! handed back to the relay as child lines. The relay does the era work
//! (the `server/discover` probe, legacy clients of a modern server, modern
//! clients of a legacy one); this side does HTTP.
//!
//! - Lines go out in order: `initialize`, the probe, notifications and the
//!   local client's answers are each sent once the one before has been
//!   answered; requests are sent on tasks of their own, so that a slow
//!   tool call (a server that answers with JSON sends its head only with
//!   the result) does not hold up the others.
//! - A JSON answer is one child line; each event of an SSE answer is one;
//!   202 gives nothing.
//! - A request whose `_meta` names 2026-07-28 (the relay puts it there for
//!   a modern server) carries the modern headers (`modern`); anything else
//!   the legacy ones: `Mcp-Session-Id` from the answer to `initialize`,
//!   `MCP-Protocol-Version` the version it chose. The legacy session's GET
//!   stream, `Last-Event-ID` resumption and the reconnection backoff are
//!   those of the handshake-era transport.
//! - Whatever goes wrong over HTTP becomes a JSON-RPC error answer to the
//!   gateway id, as if the child had answered it, so that the relay maps it
//!   back to the local client.

mod errors;
mod legacy;
mod modern;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use futures_lite::FutureExt;
use smol::channel::{Receiver, Sender};
use smol::Task;
use supergateway_proto::http::Method;
use supergateway_proto::jsonrpc::{
    codes, parse_message, split_batch, Id, Kind, Message, MessageError,
};
use supergateway_proto::mcp::MODERN_VERSION;
use supergateway_proto::sse::SseParser;
use supergateway_proto::url::Url;

use crate::gateway::authorized::{Answer, Paused, SendError, Upstream};
use crate::gateway::link::Link;
use crate::gateway::reverse::{cancel_notification, Backoff, MAX_EVENT_BYTES};
use crate::http::client::ClientResponse;
use crate::rt;
use crate::telemetry;

/// Resumption attempts for one broken answer stream.
const MAX_RESUMES: u32 = 5;
/// Delay before resuming when the server gave no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_millis(1000);
/// Bound on an error body read to explain an HTTP error.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

/// See the module documentation.
pub(crate) struct Remote {
    upstream: Rc<Upstream>,
    url: Url,
    link: Weak<RefCell<Link>>,
    request_timeout: Option<Duration>,
    /// Told once when the URL answers `initialize` like an HTTP+SSE server
    /// (400, 404 or 405 without a session): the driver switches transports.
    fall_back: Sender<()>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The legacy session, from the answer to `initialize`.
    session: Option<String>,
    /// `MCP-Protocol-Version` of legacy requests: the version the server
    /// chose in its `InitializeResult`.
    version: Option<String>,
    /// Gateway ids (raw) of the requests at the server without an answer
    /// yet, each answered exactly once: by the server or by us.
    in_flight: HashMap<Vec<u8>, Pending>,
    /// The standalone GET stream of the legacy session.
    listener: Option<Task<()>>,
    /// Whether the server can be reached, and the waits between attempts.
    backoff: Backoff,
    /// Connects in the background while the server cannot be reached.
    reconnecting: Option<Task<()>>,
    /// Modern requests being sent, by gateway id: dropping one closes its
    /// connection, which is how a 2026-07-28 request is cancelled.
    exchanges: HashMap<Vec<u8>, Task<()>>,
    /// The server gave a `server/discover` result listing 2026-07-28.
    modern: bool,
    /// Some exchange with the server succeeded (the HTTP+SSE fallback is
    /// decided before that).
    settled: bool,
    /// What the bridge learned from `tools/list` results (modern).
    tools: modern::Tools,
    /// The probe was refused with -32022 although the server lists
    /// 2026-07-28 as supported: it is sent once more (a server may reject
    /// a first attempt to see that the client retries; SEP-2575).
    probe_again: bool,
    /// That retry was made.
    probe_retried: bool,
    /// The probe's authorization failed: the relay's next probe waits for
    /// the local client's next message (a new authorization then, not a
    /// second browser window at once), the relay's clock paused meanwhile
    /// so that it does not settle the era by timeout.
    park_next_probe: bool,
    parked_probe: Option<(Vec<u8>, Paused)>,
    /// The probe could not reach the server: the era the relay settled on
    /// says nothing, and the probe is made again once it can be reached.
    probe_unreached: bool,
}

/// What an answer to a request in flight means to this side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    Initialize,
    Probe,
    ToolsList { first_page: bool },
    Other,
}

/// One line for the server, classified.
struct Outgoing {
    line: Vec<u8>,
    /// The gateway id of a request.
    request: Option<Vec<u8>>,
    pending: Pending,
    /// A 2026-07-28 request (its `_meta` names the version).
    modern: bool,
    /// Headers beyond the common ones (modern requests).
    headers: Vec<(String, Vec<u8>)>,
}

impl Remote {
    pub(crate) fn new(
        upstream: Rc<Upstream>,
        url: Url,
        link: Weak<RefCell<Link>>,
        request_timeout: Option<Duration>,
        fall_back: Sender<()>,
    ) -> Rc<Self> {
        Rc::new(Self {
            upstream,
            url,
            link,
            request_timeout,
            fall_back,
            state: RefCell::new(State::default()),
        })
    }

    /// Sends the relay's lines for the server as they come: `woken`
    /// receives a signal whenever lines wait. Runs until the link is gone.
    pub(crate) async fn write(self: Rc<Self>, woken: Receiver<()>) {
        let mut batch = Vec::new();
        while Link::next_remote_lines(&self.link, &woken, &mut batch).await {
            for line in batch.split(|byte| *byte == b'\n') {
                if !line.is_empty() {
                    Rc::clone(&self).send_line(line.to_vec()).await;
                }
            }
        }
    }

    /// The local client sent a message: a probe parked after a failed
    /// authorization goes now (the relay holds the message until its
    /// answer).
    pub(crate) fn client_active(self: &Rc<Self>) {
        let Some((line, paused)) = self.state.borrow_mut().parked_probe.take() else {
            return;
        };
        drop(paused);
        rt::spawn(Rc::clone(self).send_line(line)).detach();
    }

    /// Whether the URL has proven to be a Streamable HTTP server.
    pub(crate) fn settled(&self) -> bool {
        self.state.borrow().settled
    }

    /// One line of the relay's: see the module documentation for the
    /// order it keeps.
    async fn send_line(self: Rc<Self>, line: Vec<u8>) {
        let Some(outgoing) = self.classify(line).await else {
            return;
        };
        if outgoing.pending == Pending::Probe
            && std::mem::take(&mut self.state.borrow_mut().park_next_probe)
        {
            let paused = self.upstream.pauses().pause();
            self.state.borrow_mut().parked_probe = Some((outgoing.line, paused));
            return;
        }
        if outgoing.pending == Pending::Initialize {
            // A new initialize starts a new session.
            self.forget_session();
        }
        if let Some(id) = &outgoing.request {
            self.state
                .borrow_mut()
                .in_flight
                .insert(id.clone(), outgoing.pending);
        }
        let concurrent = outgoing.request.is_some()
            && matches!(outgoing.pending, Pending::Other | Pending::ToolsList { .. });
        if !concurrent {
            self.exchange(&outgoing).await;
            if std::mem::take(&mut self.state.borrow_mut().probe_again) {
                self.exchange(&outgoing).await;
            }
            return;
        }
        let id = outgoing.request.clone().unwrap_or_default();
        let modern = outgoing.modern;
        let remote = Rc::clone(&self);
        let task = rt::spawn(async move {
            remote.exchange(&outgoing).await;
            if outgoing.modern {
                let id = outgoing.request.unwrap_or_default();
                // This task ends here: detach it before its handle drops.
                if let Some(task) = remote.state.borrow_mut().exchanges.remove(&id) {
                    task.detach();
                }
            }
        });
        if modern {
            self.state.borrow_mut().exchanges.insert(id, task);
        } else {
            task.detach();
        }
    }

    /// What `line` is, and the modern headers it needs; `None` when it is
    /// not sent (a modern request's cancellation closes its connection
    /// instead).
    async fn classify(self: &Rc<Self>, line: Vec<u8>) -> Option<Outgoing> {
        let Ok(message) = parse_message(&line) else {
            // The relay writes only single messages it has parsed (it splits
            // a client's batch): nothing else can come.
            tracing::debug!("dropped a line for the MCP server that is not one JSON-RPC message");
            return None;
        };
        self.upstream.asking().to_server(&message);
        let modern = message
            .meta
            .as_ref()
            .and_then(|meta| meta.version.as_ref())
            .is_some_and(|version| version.as_deref() == Ok(MODERN_VERSION));
        let method = message.method.as_deref().unwrap_or_default();
        if message.kind == Kind::Notification
            && method == "notifications/cancelled"
            && self.state.borrow().modern
        {
            // 2026-07-28 over HTTP: closing the stream cancels.
            if let Some((id, _)) = &message.cancelled_id {
                let task = self.state.borrow_mut().exchanges.remove(id.as_bytes());
                drop(task);
                self.state.borrow_mut().in_flight.remove(id.as_bytes());
            }
            return None;
        }
        let request = (message.kind == Kind::Request)
            .then(|| message.id.as_ref().map(|id| id.as_bytes().to_vec()))
            .flatten();
        let pending = match method {
            "initialize" => Pending::Initialize,
            "server/discover" => Pending::Probe,
            "tools/list" => Pending::ToolsList {
                first_page: !modern::has_cursor(&line),
            },
            _ => Pending::Other,
        };
        let mut headers = Vec::new();
        let message_modern = modern || (request.is_none() && self.state.borrow().modern);
        if message_modern {
            if modern && method == "tools/call" {
                self.list_tools_for(&message).await;
            }
            let link = self.link.upgrade();
            let link = link.as_ref().map(|link| link.borrow());
            let params = message
                .target
                .as_deref()
                .filter(|_| method == "tools/call")
                .and_then(|tool| link.as_ref()?.param_headers(tool));
            headers = modern::headers(&line, &message, params);
        }
        Some(Outgoing {
            request,
            pending,
            modern: message_modern,
            headers,
            line,
        })
    }

    /// One POST and its answer, bounded by `--requestTimeout` for a
    /// request.
    async fn exchange(self: &Rc<Self>, outgoing: &Outgoing) {
        let posting = self.post(outgoing);
        let Some(timeout) = self.request_timeout.filter(|_| outgoing.request.is_some()) else {
            posting.await;
            return;
        };
        let timed_out = async {
            // Time spent waiting for an authorization does not count.
            self.upstream.pauses().sleep(timeout).await;
            false
        };
        let done = async {
            posting.await;
            true
        };
        if done.or(timed_out).await {
            return;
        }
        let Some(id) = &outgoing.request else { return };
        self.answer_error(id, codes::REQUEST_TIMEOUT, "Request timed out");
        if !outgoing.modern {
            // A legacy server is told; a modern one saw its connection
            // close (the posting was dropped).
            let cancel = cancel_notification_raw(id);
            let remote = Rc::clone(self);
            rt::spawn(async move {
                let outgoing = Outgoing {
                    line: cancel,
                    request: None,
                    pending: Pending::Other,
                    modern: false,
                    headers: Vec::new(),
                };
                remote.post(&outgoing).await;
            })
            .detach();
        }
    }

    /// Sends one line and hands what comes back to the relay.
    async fn post(self: &Rc<Self>, outgoing: &Outgoing) {
        let (session, version, failing) = {
            let state = self.state.borrow();
            let failing = state.backoff.failing().map(str::to_owned);
            (state.session.clone(), state.version.clone(), failing)
        };
        let request = outgoing.request.as_deref();
        if let Some(cause) = failing {
            // Not sent: answered at once while the background reconnection
            // goes on.
            self.refuse(outgoing, &cause);
            return;
        }
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("accept", b"application/json, text/event-stream"),
            ("content-type", b"application/json"),
        ];
        if outgoing.modern {
            headers.push(("mcp-protocol-version", MODERN_VERSION.as_bytes()));
            headers.extend(
                outgoing
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_slice())),
            );
        } else {
            if let Some(session) = &session {
                headers.push(("mcp-session-id", session.as_bytes()));
            }
            if let Some(version) = &version {
                headers.push(("mcp-protocol-version", version.as_bytes()));
            }
        }
        let span = telemetry::client_span(&outgoing.line, "streamableHttp", self.url.host());
        if let Some(traceparent) = span.as_ref().and_then(telemetry::ClientSpan::traceparent) {
            headers.push(("traceparent", traceparent));
        }
        let response = match self
            .upstream
            .send(
                Method::Post,
                &self.url,
                &headers,
                Some(&outgoing.line),
                None,
            )
            .await
        {
            Ok(Answer::Head(response)) => {
                if let Some(span) = &span {
                    span.record_status(response.status());
                }
                self.state.borrow_mut().backoff.succeeded();
                *response
            }
            Ok(Answer::Read { status, body }) => {
                if let Some(span) = &span {
                    span.record_status(status);
                }
                self.state.borrow_mut().backoff.succeeded();
                self.http_error(outgoing, status, &body);
                return;
            }
            Err(SendError::Auth { status, error }) => {
                if let Some(span) = &span {
                    span.record_status(status);
                }
                if outgoing.pending == Pending::Probe {
                    self.probe_auth_failed(outgoing, &error);
                } else {
                    self.auth_failed(outgoing, status, &error);
                }
                return;
            }
            Err(SendError::Http(err)) => {
                let cause = format!("could not reach the MCP server: {err}");
                if err.is_unreachable() {
                    if outgoing.pending == Pending::Probe {
                        self.state.borrow_mut().probe_unreached = true;
                    }
                    self.unreachable(&cause);
                } else {
                    tracing::warn!("{cause}");
                }
                self.refuse(outgoing, &cause);
                return;
            }
        };
        let status = response.status();
        let initialize = outgoing.pending == Pending::Initialize;
        if initialize && session.is_none() && !self.settled() && matches!(status, 400 | 404 | 405) {
            let _ = response.body(ERROR_BODY_BYTES).await;
            if let Some(id) = request {
                self.state.borrow_mut().in_flight.remove(id);
            }
            let _ = self.fall_back.try_send(());
            return;
        }
        if status == 404 && session.is_some() && !outgoing.modern {
            let _ = response.body(ERROR_BODY_BYTES).await;
            self.session_ended(request);
            return;
        }
        if !(200..300).contains(&status) {
            let body = response.body(ERROR_BODY_BYTES).await.unwrap_or_default();
            self.http_error(outgoing, status, &body);
            return;
        }
        {
            let mut state = self.state.borrow_mut();
            state.settled = true;
            if initialize {
                state.session = response.header_str("mcp-session-id").map(str::to_owned);
            }
        }
        let content_type = response
            .header_str("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_answer_stream(response, request).await;
        } else if status != 202 {
            match response.body(u64::MAX).await {
                Ok(body) if !body.iter().all(u8::is_ascii_whitespace) => self.feed(&body),
                Ok(_) => {}
                Err(err) => self.fail(request, &format!("reading the answer failed: {err}")),
            }
        }
        if let Some(id) = request.filter(|_| initialize || outgoing.pending == Pending::Probe) {
            // The relay waits for these: they must settle.
            if self.state.borrow().in_flight.contains_key(id) {
                self.fail(request, "the MCP server sent no answer");
            }
        }
        if initialize && self.state.borrow().session.is_some() {
            self.start_listening();
        }
    }

    /// Hands every event of `response` to the relay until the body ends.
    async fn feed_events(
        &self,
        response: &mut ClientResponse,
        parser: &mut SseParser,
    ) -> Result<(), String> {
        while let Some(chunk) = response.chunk().await.map_err(|err| err.to_string())? {
            let mut input = chunk.as_slice();
            while !input.is_empty() {
                let (consumed, event) = parser.decode(input).map_err(|err| err.to_string())?;
                input = input.get(consumed..).unwrap_or_default();
                if let Some(event) = event {
                    if event.event == "message" && !event.data.is_empty() {
                        self.feed(event.data.as_bytes());
                    }
                }
            }
        }
        Ok(())
    }

    /// Hands a message (or each message of a batch) from the server to the
    /// relay, noting answers.
    fn feed(&self, body: &[u8]) {
        match parse_message(body) {
            Ok(message) => {
                self.upstream.asking().from_server(&message);
                match self.note_answer(&message, body) {
                    Some(rewritten) => self.to_link(&rewritten),
                    None => self.to_link(body.trim_ascii()),
                }
            }
            Err(MessageError::Batch) => {
                for range in split_batch(body).unwrap_or_default() {
                    if let Some(element) = body.get(range) {
                        self.feed(element);
                    }
                }
            }
            Err(err) => {
                tracing::warn!("dropped a message from the MCP server that is not JSON-RPC: {err}")
            }
        }
    }

    fn to_link(&self, line: &[u8]) {
        if let Some(link) = self.link.upgrade() {
            link.borrow_mut().handle_child_line(line);
        }
    }

    /// Notes an answer to a request in flight; `Some`: the line to hand
    /// on instead (a modern server's `tools/list` without its invalid
    /// tools).
    fn note_answer(&self, message: &Message<'_>, line: &[u8]) -> Option<Vec<u8>> {
        if !matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
            return None;
        }
        let id = message.id.as_ref()?;
        let pending = self.state.borrow_mut().in_flight.remove(id.as_bytes());
        let result = message.result_span.clone().and_then(|span| line.get(span));
        match (pending, result) {
            (Some(Pending::Initialize), Some(result)) => {
                // MCP-Protocol-Version from now on: the version it chose.
                self.state.borrow_mut().version = result_version(result);
            }
            (Some(Pending::Probe), Some(result)) if modern::lists_modern(result) => {
                let mut state = self.state.borrow_mut();
                state.modern = true;
                state.settled = true;
            }
            (Some(Pending::ToolsList { .. }), Some(result)) => {
                self.state.borrow_mut().tools.learn(result);
                if self.state.borrow().modern {
                    return modern::drop_invalid_tools(line, result);
                }
            }
            _ => {}
        }
        None
    }
}

/// `notifications/cancelled` for the raw gateway id `id`.
fn cancel_notification_raw(id: &[u8]) -> Vec<u8> {
    Id::from_raw(id).map_or_else(Vec::new, |id| cancel_notification(&id))
}

/// `protocolVersion` of an `InitializeResult`.
fn result_version(result: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(result).ok()?;
    value.get("protocolVersion")?.as_str().map(str::to_owned)
}
