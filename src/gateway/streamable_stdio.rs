//! Streamable HTTP→stdio: a remote MCP server on the Streamable HTTP
//! transport, exposed as a local stdio server (the client side of
//! PROTOCOL.md §1.4).
//!
//! Each stdin message is POSTed with `Accept: application/json,
//! text/event-stream`; a JSON answer or the events of an SSE answer go to
//! stdout as they come. The local client's `initialize` is forwarded as is;
//! its answer gives the session (`Mcp-Session-Id`) and the protocol version
//! (`MCP-Protocol-Version` on every later request), and opens the GET stream
//! for the server's own messages (405 is fine). A broken answer stream is
//! resumed with GET + `Last-Event-ID` after the server's `retry`. A 404 for
//! the session is told to the local client, and its next `initialize` starts
//! a new session. If the URL answers `initialize` with 400, 404 or 405, the
//! bridge falls back to the HTTP+SSE transport at that URL. On stdin EOF or
//! a signal the session is DELETEd.
//!
//! When the server cannot be reached (no connection could be made), the
//! request gets an error at once, and so does every later one, without an
//! attempt, until a connection opened in the background with backoff
//! (`reverse::Backoff`) succeeds: a down server is not hammered by one
//! connect per request, and the local client is told why at once.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;
use smol::Task;
use supergateway_proto::http::Method;
use supergateway_proto::jsonrpc::{
    codes, parse_message, split_batch, Id, Kind, Message, MessageError,
};
use supergateway_proto::sse::SseParser;
use supergateway_proto::url::Url;

use crate::cli::Config;
use crate::gateway::local::{self, fail_all, InFlight, Stdin, Stdout};
use crate::gateway::reverse::{
    cancel_notification, connect, jitter_seed, reconnect_delay, wait_for_signal, Backoff,
    HEALTHY_AFTER, MAX_EVENT_BYTES,
};
use crate::gateway::sse_stdio;
use crate::http::client::{Client, ClientResponse};
use crate::http::LiveHeaders;
use crate::rt;
use crate::telemetry;

/// Resumption attempts for one broken answer stream.
const MAX_RESUMES: u32 = 5;
/// Delay before resuming when the server gave no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_millis(1000);

struct Bridge {
    client: Client,
    url: Url,
    stdout: Stdout,
    request_timeout: Option<Duration>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    session: Option<String>,
    version: Option<String>,
    in_flight: InFlight,
    /// The id of the local client's `initialize` while it is in flight.
    initialize_id: Option<Id>,
    /// The standalone GET stream of the current session.
    listener: Option<Task<()>>,
    /// Whether the server can be reached, and the waits between attempts.
    backoff: Backoff,
    /// Connects in the background while the server cannot be reached.
    reconnecting: Option<Task<()>>,
}

/// What became of a stdin message.
enum Outcome {
    Relayed,
    /// The URL answered `initialize` like an HTTP+SSE server: the message is
    /// to be sent again over that transport.
    FallBack(Vec<u8>),
}

/// Runs the bridge until stdin ends or a signal arrives.
pub(crate) async fn run(config: &Config, url: &str, headers: &LiveHeaders) -> i32 {
    let (parsed, client) = match connect("--streamableHttp", url, config, headers) {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    tracing::info!("Streamable HTTP→stdio: {}", parsed.redacted());
    let bridge = Rc::new(Bridge {
        client,
        url: parsed,
        stdout: Stdout::new(),
        request_timeout: config.request_timeout,
        state: RefCell::new(State::default()),
    });
    let mut stdin = Stdin::new();
    let mut fell_back = None;
    let relay = async {
        while let Some(line) = stdin.next_line().await {
            if let Outcome::FallBack(line) = Rc::clone(&bridge).handle_stdin(line).await {
                fell_back = Some(line);
                return;
            }
        }
        tracing::info!("stdin closed; exiting");
    };
    relay.or(wait_for_signal()).await;
    if let Some(line) = fell_back {
        tracing::info!(
            "the server answered initialize like an HTTP+SSE server; using that transport"
        );
        bridge.stdout.flush(Duration::from_millis(100)).await;
        return sse_stdio::run(config, url, headers, stdin, vec![line]).await;
    }
    bridge.end_session().await;
    bridge.stdout.flush(Duration::from_secs(1)).await;
    0
}

impl Bridge {
    /// A message from the local client. `initialize` is relayed before the
    /// next stdin line is read (nothing may overtake it); anything else is
    /// POSTed on its own task, so requests run concurrently and the local
    /// client can answer the server's requests meanwhile.
    async fn handle_stdin(self: Rc<Self>, line: Vec<u8>) -> Outcome {
        let (request, initialize) = match parse_message(&line) {
            Ok(message) => {
                let id = (message.kind == Kind::Request)
                    .then(|| message.id.as_ref().map(|id| id.to_owned()))
                    .flatten();
                (id, message.method.as_deref() == Some("initialize"))
            }
            Err(MessageError::Batch) => (None, false),
            Err(err) => {
                self.stdout.error(None, err.code(), &err.to_string());
                return Outcome::Relayed;
            }
        };
        if let Some(id) = &request {
            self.state.borrow_mut().in_flight.insert(id.clone());
        }
        if initialize {
            // A new initialize starts a new session.
            self.forget_session();
            self.state.borrow_mut().initialize_id = request.clone();
            return self.exchange(line, request, true).await;
        }
        rt::spawn(async move {
            self.exchange(line, request, false).await;
        })
        .detach();
        Outcome::Relayed
    }

    /// One POST and its answer, bounded by `--requestTimeout`.
    async fn exchange(
        self: &Rc<Self>,
        line: Vec<u8>,
        request: Option<Id>,
        initialize: bool,
    ) -> Outcome {
        let posting = self.post(&line, request.as_ref(), initialize);
        let Some(timeout) = self.request_timeout.filter(|_| request.is_some()) else {
            return posting.await;
        };
        let timed_out = async {
            Timer::after(timeout).await;
            None
        };
        match async { Some(posting.await) }.or(timed_out).await {
            Some(outcome) => outcome,
            None => {
                if let Some(id) = &request {
                    if self.state.borrow_mut().in_flight.answered(id) {
                        self.stdout
                            .error(Some(id), codes::REQUEST_TIMEOUT, "Request timed out");
                    }
                    let cancel = cancel_notification(id);
                    let bridge = Rc::clone(self);
                    rt::spawn(async move {
                        let _ = bridge.post(&cancel, None, false).await;
                    })
                    .detach();
                }
                Outcome::Relayed
            }
        }
    }

    async fn post(self: &Rc<Self>, line: &[u8], request: Option<&Id>, initialize: bool) -> Outcome {
        let (session, version, failing) = {
            let state = self.state.borrow();
            let failing = state.backoff.failing().map(str::to_owned);
            (state.session.clone(), state.version.clone(), failing)
        };
        if let Some(cause) = failing {
            // Not sent: answered at once while the background reconnection
            // goes on.
            self.refuse(line, request, &cause);
            return Outcome::Relayed;
        }
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("accept", b"application/json, text/event-stream"),
            ("content-type", b"application/json"),
        ];
        if let Some(session) = &session {
            headers.push(("mcp-session-id", session.as_bytes()));
        }
        if let Some(version) = &version {
            headers.push(("mcp-protocol-version", version.as_bytes()));
        }
        let span = telemetry::client_span(line, "streamableHttp", self.url.host());
        if let Some(traceparent) = span.as_ref().and_then(telemetry::ClientSpan::traceparent) {
            headers.push(("traceparent", traceparent));
        }
        let response = match self
            .client
            .send(Method::Post, &self.url, &headers, Some(line), None)
            .await
        {
            Ok(response) => {
                if let Some(span) = &span {
                    span.record_status(response.status());
                }
                self.state.borrow_mut().backoff.succeeded();
                response
            }
            Err(err) => {
                let cause = format!("could not reach the MCP server: {err}");
                if err.is_unreachable() {
                    self.unreachable(&cause);
                } else {
                    tracing::warn!("{cause}");
                }
                self.refuse(line, request, &cause);
                return Outcome::Relayed;
            }
        };
        let status = response.status();
        if initialize && session.is_none() && matches!(status, 400 | 404 | 405) {
            let _ = response.body(64 * 1024).await;
            if let Some(id) = request {
                self.state.borrow_mut().in_flight.answered(id);
            }
            return Outcome::FallBack(line.to_vec());
        }
        if status == 404 && session.is_some() {
            let _ = response.body(64 * 1024).await;
            tracing::warn!(
                "the MCP server ended the session; the next initialize starts a new one"
            );
            self.forget_session();
            self.fail(
                request,
                "Session not found: the MCP server ended the session; initialize again",
            );
            return Outcome::Relayed;
        }
        if !(200..300).contains(&status) {
            let body = response.body(64 * 1024).await.unwrap_or_default();
            let detail = error_message(&body).unwrap_or_default();
            let cause = format!("the MCP server answered HTTP {status}{detail}");
            tracing::warn!("{cause}");
            self.refuse(line, request, &cause);
            return Outcome::Relayed;
        }
        if initialize {
            let mut state = self.state.borrow_mut();
            state.session = response.header_str("mcp-session-id").map(str::to_owned);
        }
        let content_type = response
            .header_str("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_answer_stream(response, request).await;
        } else if status != 202 {
            match response.body(u64::MAX).await {
                Ok(body) if !body.iter().all(u8::is_ascii_whitespace) => self.relay(&body),
                Ok(_) => {}
                Err(err) => self.fail(request, &format!("reading the answer failed: {err}")),
            }
        }
        if initialize {
            self.start_listening();
        }
        Outcome::Relayed
    }

    /// The events of an SSE answer; resumed with `Last-Event-ID` if it
    /// breaks before the request's answer.
    async fn read_answer_stream(
        self: &Rc<Self>,
        mut response: ClientResponse,
        request: Option<&Id>,
    ) {
        let mut parser = SseParser::new(MAX_EVENT_BYTES);
        let mut resumes = 0u32;
        loop {
            let ended = self.relay_events(&mut response, &mut parser).await;
            let answered = request.is_none_or(|id| !self.state.borrow().in_flight.contains(id));
            if answered {
                return;
            }
            let last_id = parser.last_event_id().to_owned();
            if last_id.is_empty() || resumes >= MAX_RESUMES {
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

    /// Relays every event of `response` to stdout until the body ends.
    async fn relay_events(
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
                        self.relay(event.data.as_bytes());
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a message (or each message of a batch) from the server to
    /// stdout, noting answers.
    fn relay(&self, body: &[u8]) {
        match parse_message(body) {
            Ok(message) => {
                self.note_answer(&message, body);
                self.stdout.send(trim(body));
            }
            Err(MessageError::Batch) => {
                for range in split_batch(body).unwrap_or_default() {
                    if let Some(element) = body.get(range) {
                        self.relay(element);
                    }
                }
            }
            Err(err) => {
                tracing::warn!("dropped a message from the MCP server that is not JSON-RPC: {err}")
            }
        }
    }

    fn note_answer(&self, message: &Message<'_>, line: &[u8]) {
        if !matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
            return;
        }
        let Some(id) = &message.id else { return };
        let id = id.to_owned();
        let mut state = self.state.borrow_mut();
        state.in_flight.answered(&id);
        if state.initialize_id.as_ref() == Some(&id) {
            state.initialize_id = None;
            // MCP-Protocol-Version from now on: the version the server chose.
            state.version = result_version(message, line);
        }
    }

    /// Opens the standalone GET stream of the session (server-initiated
    /// messages), reconnecting while the session lasts.
    fn start_listening(self: &Rc<Self>) {
        let session = self.state.borrow().session.clone();
        let bridge = Rc::clone(self);
        let task = rt::spawn(async move {
            let mut parser = SseParser::new(MAX_EVENT_BYTES);
            // Streams in a row that ended before `HEALTHY_AFTER`: a server
            // that sends `retry: 0` and closes gets growing waits, not a
            // reconnect storm.
            let mut short = 0u32;
            loop {
                let started = Instant::now();
                let last = parser.last_event_id().to_owned();
                let mut response = match bridge
                    .get_stream((!last.is_empty()).then_some(last.as_str()))
                    .await
                {
                    Ok(response) => response,
                    Err(err) => {
                        tracing::debug!("no standalone stream: {err}");
                        return;
                    }
                };
                let _ = bridge.relay_events(&mut response, &mut parser).await;
                if bridge.state.borrow().session != session {
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
    async fn get_stream(&self, last_event_id: Option<&str>) -> Result<ClientResponse, String> {
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
        let response = self
            .client
            .send(Method::Get, &self.url, &headers, None, None)
            .await
            .map_err(|err| err.to_string())?;
        match response.status() {
            200 => Ok(response),
            status => {
                let _ = response.body(64 * 1024).await;
                Err(format!("HTTP {status}"))
            }
        }
    }

    /// The local client gets an error for `request` (if still in flight).
    fn fail(&self, request: Option<&Id>, text: &str) {
        tracing::warn!("{text}");
        self.answer_error(request, text);
    }

    /// [`Bridge::fail`] without the log line (the backoff logs once per
    /// streak of failures).
    fn answer_error(&self, request: Option<&Id>, text: &str) {
        if let Some(id) = request {
            if self.state.borrow_mut().in_flight.answered(id) {
                self.stdout.error(Some(id), codes::SERVER_ERROR, text);
            }
        }
    }

    /// `line` was not relayed: its request (or each request of a batch)
    /// gets `text` as its error.
    fn refuse(&self, line: &[u8], request: Option<&Id>, text: &str) {
        match request {
            Some(_) => self.answer_error(request, text),
            None => local::refuse_batch(&self.stdout, line, text),
        }
    }

    /// No connection could be made: requests are refused from now on, and
    /// a background task connects with backoff until one can be made.
    fn unreachable(self: &Rc<Self>, cause: &str) {
        let mut state = self.state.borrow_mut();
        if state.reconnecting.is_some() {
            return; // another request's failure of the same outage
        }
        let first = state.backoff.fail(cause.to_owned(), None, jitter_seed());
        let bridge = Rc::clone(self);
        state.reconnecting = Some(rt::spawn(async move {
            let mut wait = first;
            loop {
                Timer::after(wait).await;
                match bridge.client.connect(&bridge.url).await {
                    Ok(()) => break,
                    Err(err) => {
                        let cause = format!("could not reach the MCP server: {err}");
                        wait = bridge
                            .state
                            .borrow_mut()
                            .backoff
                            .fail(cause, None, jitter_seed());
                    }
                }
            }
            let mut state = bridge.state.borrow_mut();
            state.backoff.succeeded();
            // This task ends here: detach it before its handle is dropped.
            if let Some(task) = state.reconnecting.take() {
                task.detach();
            }
        }));
    }

    /// Drops the session (the server ended it, or a new initialize starts
    /// another): requests still in flight on it get an error.
    fn forget_session(&self) {
        let mut state = self.state.borrow_mut();
        if state.session.take().is_some() {
            let mut in_flight = std::mem::take(&mut state.in_flight);
            fail_all(&self.stdout, &mut in_flight, "the MCP session ended");
        }
        state.version = None;
        state.listener = None;
    }

    /// DELETEs the session on the way out.
    async fn end_session(&self) {
        let session = self.state.borrow_mut().session.take();
        self.state.borrow_mut().listener = None;
        let Some(session) = session else { return };
        let headers: [(&str, &[u8]); 1] = [("mcp-session-id", session.as_bytes())];
        let deleting = self.client.send(
            Method::Delete,
            &self.url,
            &headers,
            None,
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

/// `result.protocolVersion` of an answer (parsed only for the answer to
/// `initialize`).
fn result_version(message: &Message<'_>, line: &[u8]) -> Option<String> {
    let result = line.get(message.result_span.clone()?)?;
    let value: serde_json::Value = serde_json::from_slice(result).ok()?;
    value.get("protocolVersion")?.as_str().map(str::to_owned)
}

/// `: <message>` of a JSON-RPC error body, to explain an HTTP error.
fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value.get("error")?.get("message")?.as_str()?;
    Some(format!(
        ": {}",
        message.chars().take(200).collect::<String>()
    ))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i.saturating_add(1));
    bytes.get(start..end).unwrap_or_default()
}
