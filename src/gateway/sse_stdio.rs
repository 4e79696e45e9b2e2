//! SSE→stdio: a remote MCP server on the 2024-11-05 HTTP+SSE transport,
//! exposed as a local stdio server.
//!
//! As in the Streamable HTTP bridge, the server takes the place of a link's
//! child and the local client is the link's one session: stdin lines go to
//! the relay, its frames to stdout. The server is handshake-era (the
//! transport is), so a 2026-07-28 local client is translated by the relay
//! (design/2026-07-28.md c.1, c.2) and a legacy one passes through.
//!
//! The bridge GETs the event stream, resolves the `endpoint` event against
//! the stream URL, and POSTs each of the relay's lines there, in order.
//! Every event the server sends (responses, notifications, its own
//! requests) goes to the relay as a child line; the local client's replies
//! come back from it. Lines that wait for the endpoint are held (bounded),
//! not failed.
//!
//! When the stream drops, or cannot be opened, the requests in flight get a
//! JSON-RPC error (the server's session is gone with the stream), and the
//! bridge reconnects in the background with backoff (`reverse::Backoff`:
//! `retry` honoured, a floor under it, growing while failures continue).
//! Until a stream is open again, a request is answered at once with an
//! error naming the cause rather than held: the local client learns that
//! the server is down now, not after `--requestTimeout`. Only the very first
//! attempt holds requests (it may take its connect timeout). A new stream
//! is a new server session: the relay replays the local client's
//! `initialize` (answer swallowed) and `notifications/initialized`
//! (`Link::replace_remote`), so the local client carries on.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;
use smol::channel::{self, Receiver, Sender};
use supergateway_proto::http::Method;
use supergateway_proto::jsonrpc::{
    codes, encode_error, parse_message, split_batch, Id, Kind, MessageError,
};
use supergateway_proto::relay::UpstreamMode;
use supergateway_proto::sse::SseParser;
use supergateway_proto::url::{redact, Url};

use crate::cli::Config;
use crate::gateway::authorized::{Answer, SendError, Upstream};
use crate::gateway::link::{Clients, Link};
use crate::gateway::local::{Stdin, Stdout};
use crate::gateway::reverse;
use crate::gateway::reverse::{
    cancel_notification, connect, handle_stdin, jitter_seed, open_stdio_session, wait_for_signal,
    Backoff, MAX_EVENT_BYTES,
};
use crate::http::LiveHeaders;
use crate::relay_settings::RelaySettings;
use crate::rt;
use crate::telemetry;

/// Why an event stream ended or could not be opened.
enum Lost {
    /// The server wants authorization and it failed (the line says so).
    Auth(String),
    Io(String),
}

/// Messages held while there is no endpoint, at most.
const MAX_HELD: usize = 1024;

struct Bridge {
    upstream: Rc<Upstream>,
    /// The start of the request timers' clock (see [`Bridge::clock`]).
    epoch: Instant,
    stream_url: Url,
    link: Weak<RefCell<Link>>,
    request_timeout: Option<Duration>,
    posts: Sender<Vec<u8>>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    endpoint: Option<Url>,
    held: VecDeque<Vec<u8>>,
    /// The relay's requests at the server without an answer yet, by
    /// gateway id (raw), with when they were sent ([`Bridge::clock`]).
    in_flight: HashMap<Vec<u8>, Duration>,
    /// Endpoints received so far (a second one is a new server session).
    sessions: u64,
    /// Reconnection waits, and why the server cannot be reached while a
    /// streak of failures lasts (no stream open).
    backoff: Backoff,
    /// The server's last `retry`, kept across streams (as EventSource does).
    retry: Option<Duration>,
}

/// Runs the bridge until stdin ends or a signal arrives. `pending` are
/// messages already read from stdin, and `upstream` the client (with its
/// OAuth client and tokens), of a Streamable HTTP bridge that fell back to
/// this transport.
pub(crate) async fn run(
    config: &Config,
    url: &str,
    headers: &LiveHeaders,
    mut stdin: Stdin,
    pending: Vec<Vec<u8>>,
    upstream: Option<Rc<Upstream>>,
) -> i32 {
    let (stream_url, client) = match connect("--sse", url, config, headers) {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let upstream = match upstream {
        Some(upstream) => upstream,
        None => match reverse::upstream(config, &stream_url, client) {
            Ok(upstream) => upstream,
            Err(code) => return code,
        },
    };
    tracing::info!("SSE→stdio: connecting to {}", stream_url.redacted());
    // HTTP+SSE is the handshake era's transport: no probe.
    let settings = RelaySettings::of(config, UpstreamMode::Legacy);
    let (wake, woken) = channel::bounded::<()>(1);
    let link = Link::start_remote(&settings, Clients::Separate, move || {
        let _ = wake.try_send(());
    });
    link.borrow_mut().set_pauses(Rc::clone(upstream.pauses()));
    let (posts, to_post) = channel::unbounded();
    let bridge = Rc::new(Bridge {
        upstream,
        epoch: Instant::now(),
        stream_url,
        link: Rc::downgrade(&link),
        request_timeout: config.request_timeout,
        posts,
        state: RefCell::new(State::default()),
    });
    let _stream = rt::spawn(Rc::clone(&bridge).read_stream());
    let _poster = rt::spawn(Rc::clone(&bridge).post_in_order(to_post));
    let _sweeper = rt::spawn(Rc::clone(&bridge).expire_requests());
    let _writer = rt::spawn(Rc::clone(&bridge).take_lines(woken));
    let stdout = Stdout::new();
    let _frames = open_stdio_session(&link, &stdout);
    for line in pending {
        handle_stdin(&link, &stdout, &line);
    }
    let reading = async {
        while let Some(line) = stdin.next_line().await {
            handle_stdin(&link, &stdout, &line);
        }
        tracing::info!("stdin closed; exiting");
    };
    reading.or(wait_for_signal()).await;
    stdout.flush(Duration::from_secs(1)).await;
    0
}

impl Bridge {
    /// Takes the relay's lines for the server as they come (`woken`: lines
    /// wait). Runs until the link is gone.
    async fn take_lines(self: Rc<Self>, woken: Receiver<()>) {
        let mut batch = Vec::new();
        while Link::next_remote_lines(&self.link, &woken, &mut batch).await {
            for line in batch.split(|byte| *byte == b'\n') {
                if !line.is_empty() {
                    self.take_line(line.to_vec());
                }
            }
        }
    }

    /// One line of the relay's for the server.
    fn take_line(&self, line: Vec<u8>) {
        if let Ok(message) = parse_message(&line) {
            self.upstream.asking().to_server(&message);
            if let (Kind::Request, Some(id)) = (message.kind, &message.id) {
                self.state
                    .borrow_mut()
                    .in_flight
                    .insert(id.as_bytes().to_vec(), self.clock());
            }
        }
        self.post(line);
    }

    /// The request timers' time: since the bridge started, without the
    /// time spent waiting for an authorization.
    fn clock(&self) -> Duration {
        self.epoch
            .elapsed()
            .saturating_sub(self.upstream.pauses().paused())
    }

    /// Hands `line` from the server to the relay.
    fn to_link(&self, line: &[u8]) {
        if let Some(link) = self.link.upgrade() {
            link.borrow_mut().handle_child_line(line);
        }
    }

    /// Answers the relay's request `id` (if still in flight) with an
    /// error, as the server would have.
    fn answer_error(&self, id: &[u8], code: i32, text: &str) {
        if self.state.borrow_mut().in_flight.remove(id).is_none() {
            return;
        }
        let mut line = Vec::with_capacity(96);
        encode_error(&mut line, Some(id), code, text);
        self.to_link(&line);
    }

    /// Queues `line` for POSTing, holds it until there is an endpoint, or
    /// refuses it while the server cannot be reached.
    fn post(&self, line: Vec<u8>) {
        let mut state = self.state.borrow_mut();
        if state.endpoint.is_some() {
            let _ = self.posts.try_send(line);
        } else if let Some(cause) = state.backoff.failing().map(str::to_owned) {
            drop(state);
            self.refuse(&line, &cause);
        } else if state.held.len() < MAX_HELD {
            state.held.push_back(line);
        } else {
            drop(state);
            let text = "not connected to the MCP server yet, and too many messages are waiting";
            self.refuse(&line, text);
        }
    }

    /// A message that cannot be sent now: a request gets an error with
    /// `cause` at once (if still in flight); anything else is dropped (the
    /// server session it was for is gone).
    fn refuse(&self, line: &[u8], cause: &str) {
        match parse_message(line) {
            Ok(message) => match (message.kind, message.id) {
                (Kind::Request, Some(id)) => {
                    self.answer_error(id.as_bytes(), codes::SERVER_ERROR, cause);
                }
                _ => tracing::debug!("dropped a message for the MCP server: {cause}"),
            },
            Err(MessageError::Batch) => {
                for range in split_batch(line).unwrap_or_default() {
                    if let Some(element) = line.get(range) {
                        self.refuse(element, cause);
                    }
                }
            }
            Err(_) => {}
        }
    }

    /// POSTs queued messages one at a time, so the server sees them in order.
    async fn post_in_order(self: Rc<Self>, queue: Receiver<Vec<u8>>) {
        while let Ok(line) = queue.recv().await {
            let endpoint = self.state.borrow().endpoint.clone();
            let Some(endpoint) = endpoint else {
                // Queued for a session that is gone with its stream (whose
                // requests have had their error): never sent to the next one,
                // whose answer would be a second one.
                self.refuse(&line, "the connection to the MCP server was lost");
                continue;
            };
            let span = telemetry::client_span(&line, "sse", endpoint.host());
            let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
            if let Some(traceparent) = span.as_ref().and_then(telemetry::ClientSpan::traceparent) {
                headers.push(("traceparent", traceparent));
            }
            let result = self
                .upstream
                .send(Method::Post, &endpoint, &headers, Some(&line), None)
                .await;
            let refused = match result {
                Ok(Answer::Read { status, .. }) => {
                    if let Some(span) = &span {
                        span.record_status(status);
                    }
                    Some(format!(
                        "the MCP server refused the message (HTTP {status})"
                    ))
                }
                Err(err @ SendError::Auth { .. }) => Some(err.to_string()),
                Ok(Answer::Head(response)) => {
                    let status = response.status();
                    if let Some(span) = &span {
                        span.record_status(status);
                    }
                    let _ = response.body(64 * 1024).await;
                    (!(200..300).contains(&status))
                        .then(|| format!("the MCP server refused the message (HTTP {status})"))
                }
                Err(err) => Some(format!("could not reach the MCP server: {err}")),
            };
            if let Some(text) = refused {
                tracing::warn!("{text}");
                if let Ok(message) = parse_message(&line) {
                    if let (Kind::Request, Some(id)) = (message.kind, &message.id) {
                        self.answer_error(id.as_bytes(), codes::SERVER_ERROR, &text);
                    }
                }
            }
        }
    }

    /// Keeps the event stream open, reconnecting with backoff.
    async fn read_stream(self: Rc<Self>) {
        loop {
            let started = Instant::now();
            let mut parser = SseParser::new(MAX_EVENT_BYTES);
            let mut connected = false;
            let ended = self.stream_once(&mut parser, &mut connected).await;
            let cause = match (connected, ended) {
                (_, Err(Lost::Auth(err))) => err,
                (false, Err(Lost::Io(err))) => format!("could not reach the MCP server: {err}"),
                (true, Err(Lost::Io(err))) => {
                    format!("the connection to the MCP server was lost: {err}")
                }
                (_, Ok(())) => {
                    "the connection to the MCP server was lost: it closed the event stream"
                        .to_owned()
                }
            };
            let lost: Vec<Vec<u8>> = {
                let mut state = self.state.borrow_mut();
                state.endpoint = None;
                // Held lines are requests in flight (answered just below),
                // or notifications and answers for a session that is gone.
                state.held.clear();
                state.in_flight.keys().cloned().collect()
            };
            for id in lost {
                self.answer_error(&id, codes::SERVER_ERROR, &cause);
            }
            let wait = {
                let mut state = self.state.borrow_mut();
                if let Some(retry) = parser.retry_ms() {
                    state.retry = Some(Duration::from_millis(retry));
                }
                if connected {
                    state.backoff.ended(started.elapsed());
                }
                let retry = state.retry;
                state.backoff.fail(cause, retry, jitter_seed())
            };
            Timer::after(wait).await;
        }
    }

    /// One connection of the event stream, until it ends.
    /// `connected` becomes true once the server answered 200.
    async fn stream_once(&self, parser: &mut SseParser, connected: &mut bool) -> Result<(), Lost> {
        let headers: [(&str, &[u8]); 2] = [
            ("accept", b"text/event-stream"),
            ("cache-control", b"no-cache"),
        ];
        let mut response = match self
            .upstream
            .send(Method::Get, &self.stream_url, &headers, None, None)
            .await
        {
            Ok(Answer::Head(response)) => *response,
            Ok(Answer::Read { status, .. }) => {
                return Err(Lost::Io(format!("the event stream answered HTTP {status}")))
            }
            Err(err @ SendError::Auth { .. }) => return Err(Lost::Auth(err.to_string())),
            Err(err) => return Err(Lost::Io(err.to_string())),
        };
        if response.status() != 200 {
            return Err(Lost::Io(format!(
                "the event stream answered HTTP {}",
                response.status()
            )));
        }
        *connected = true;
        self.state.borrow_mut().backoff.connected();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| Lost::Io(err.to_string()))?
        {
            let mut input = chunk.as_slice();
            while !input.is_empty() {
                let (consumed, event) = parser
                    .decode(input)
                    .map_err(|err| Lost::Io(err.to_string()))?;
                input = input.get(consumed..).unwrap_or_default();
                if let Some(event) = event {
                    self.handle_event(&event.event, event.data.as_bytes());
                }
            }
        }
        Ok(())
    }

    fn handle_event(&self, name: &str, data: &[u8]) {
        match name {
            "endpoint" => self.handle_endpoint(data),
            "message" => self.handle_message(data),
            other => tracing::debug!("ignored an SSE event named {other:?}"),
        }
    }

    fn handle_endpoint(&self, data: &[u8]) {
        let reference = String::from_utf8_lossy(data);
        let endpoint = match self.stream_url.join(reference.trim()) {
            Ok(endpoint) => endpoint,
            Err(err) => {
                tracing::error!(
                    "the server's endpoint {:?} is not a URL: {err}",
                    redact(&reference)
                );
                return;
            }
        };
        // The endpoint must stay on the stream's origin (as the reference SDK
        // requires): a server must not be able to send our messages, and the
        // --header credentials with them, to another host.
        if !endpoint.same_origin(&self.stream_url) {
            tracing::error!(
                "refused the server's endpoint {}: not on the origin of {}",
                endpoint.redacted(),
                self.stream_url.redacted()
            );
            return;
        }
        tracing::info!("SSE→stdio: messages go to {}", endpoint.redacted());
        let new_session = {
            let mut state = self.state.borrow_mut();
            state.sessions = state.sessions.saturating_add(1);
            state.endpoint = Some(endpoint);
            state.sessions > 1
        };
        // A new server session: the relay initialises it as the local
        // client did (its requests in flight were answered when the stream
        // was lost).
        if new_session {
            if let Some(link) = self.link.upgrade() {
                link.borrow_mut()
                    .replace_remote("the connection to the MCP server was lost");
            }
        }
        let mut state = self.state.borrow_mut();
        while let Some(line) = state.held.pop_front() {
            let _ = self.posts.try_send(line);
        }
    }

    fn handle_message(&self, data: &[u8]) {
        match parse_message(data) {
            Ok(message) => {
                self.upstream.asking().from_server(&message);
                if matches!(message.kind, Kind::Response | Kind::ErrorResponse) {
                    if let Some(id) = &message.id {
                        self.state.borrow_mut().in_flight.remove(id.as_bytes());
                    }
                }
                self.to_link(data);
            }
            Err(MessageError::Batch) => {
                for range in split_batch(data).unwrap_or_default() {
                    if let Some(element) = data.get(range) {
                        self.handle_message(element);
                    }
                }
            }
            Err(err) => {
                tracing::warn!("dropped an event from the MCP server that is not JSON-RPC: {err}");
            }
        }
    }

    /// Requests past `--requestTimeout`: cancelled upstream, and an error
    /// to the local client.
    async fn expire_requests(self: Rc<Self>) {
        let Some(timeout) = self.request_timeout else {
            return;
        };
        loop {
            Timer::after(Duration::from_millis(250)).await;
            let now = self.clock();
            let expired: Vec<Vec<u8>> = self
                .state
                .borrow()
                .in_flight
                .iter()
                .filter(|(_, since)| now.saturating_sub(**since) >= timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                self.answer_error(&id, codes::REQUEST_TIMEOUT, "Request timed out");
                if let Some(id) = Id::from_raw(&id) {
                    self.post(cancel_notification(&id));
                }
            }
        }
    }
}
