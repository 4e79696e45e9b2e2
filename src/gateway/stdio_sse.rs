//! stdio→SSE: the MCP 2024-11-05 HTTP+SSE transport in front of a stdio
//! child.
//!
//! `GET --ssePath` opens a stream whose first event is `endpoint`, naming
//! `<messagePath>?sessionId=<id>`; the client POSTs its messages there (202
//! `Accepted`) and reads everything addressed to it as `message` events.
//! By default all sessions share one child through a `Link`, which keeps
//! each client's responses its own; `--childPerSession` gives every stream
//! a child of its own, stopped when the stream ends.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use supergateway_proto::http::{Method, RequestHead};
use supergateway_proto::jsonrpc::codes;
use supergateway_proto::sse::{encode_comment, encode_event, SseField};

use crate::auth::Caller;
use crate::child::Child;
use crate::cli::Config;
use crate::gateway::front::Front;
use crate::gateway::link::{ClientError, Frame, Inbox, Link, SessionKey};
use crate::gateway::refusal::Refusal;
use crate::gateway::{
    open_client_session, session_id, session_span, ClientSession, Route, RoutedSession, StdioMode,
};
use crate::http::response::Response;
use crate::http::server::{keep_alive_ticks, Conn, Handler, Next, Request};
use crate::rt;
use crate::runtime::Runtime;
use crate::telemetry;

/// Bytes gathered into one write when several messages are queued.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// The stdio→SSE handler.
pub(crate) struct StdioSse {
    front: Front,
    runtime: Rc<Runtime>,
    sse_path: String,
    message_path: String,
    /// `--baseUrl` without its trailing slash ("" for a relative endpoint).
    base_url: String,
    keep_alive: Option<Duration>,
    max_sessions: usize,
    /// The shared child's link; `None` with `--childPerSession`.
    shared: Option<Rc<RefCell<Link>>>,
    sessions: RefCell<HashMap<String, Session>>,
}

struct Session {
    key: SessionKey,
    route: Rc<Route>,
    /// Who opened the stream: only they may POST to it.
    caller: Caller,
}

impl StdioSse {
    /// Builds the handler; `shared` is the shared child's link, or `None`
    /// to spawn a child per session.
    pub(crate) fn new(
        config: &Config,
        runtime: &Rc<Runtime>,
        shared: Option<Rc<RefCell<Link>>>,
    ) -> Self {
        Self {
            front: Front::new(config, runtime),
            runtime: Rc::clone(runtime),
            sse_path: config.sse_path.clone(),
            message_path: config.message_path.clone(),
            base_url: absolute_base(&config.base_url),
            keep_alive: config.keep_alive,
            max_sessions: config.max_sessions,
            shared,
            sessions: RefCell::new(HashMap::new()),
        }
    }

    fn healthy(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|link| link.borrow().is_live())
    }

    async fn open_stream(
        self: Rc<Self>,
        head: &RequestHead,
        conn: &mut Conn,
        caller: Caller,
    ) -> Next {
        if self.sessions.borrow().len() >= self.max_sessions {
            self.front.count_refused(crate::metrics::Reason::Limits);
            return self
                .front
                .error(head, conn, 503, codes::SERVER_ERROR, "too many sessions")
                .await;
        }
        let opened = open_client_session(
            self.shared.as_ref(),
            &self.runtime,
            &caller,
            self.front.counters(),
        );
        let ClientSession { route, key, frames } = match opened {
            Ok(session) => session,
            Err(refusal) => return self.front.refuse(head, conn, refusal).await,
        };
        let id = session_id::new();
        let span = session_span("sse", &id, &caller);
        self.sessions.borrow_mut().insert(
            id.clone(),
            Session {
                key,
                route: Rc::clone(&route),
                caller,
            },
        );
        let served = RoutedSession {
            route: Rc::clone(&route),
            key,
        };
        self.runtime.register(&id, "sse", Rc::new(served));
        tracing::info!(
            "SSE session {id} opened by {}",
            self.front.client(head, conn)
        );

        let response = Response::new(200)
            .header("content-type", b"text/event-stream")
            .header("cache-control", b"no-cache, no-transform")
            .header("x-accel-buffering", b"no")
            .stream();
        let mut out = Vec::with_capacity(4096);
        let written = conn.encode(&self.front.decorate(head, response), &mut out);
        let endpoint = format!("{}{}?sessionId={}", self.base_url, self.message_path, id);
        encode_event(
            &mut out,
            Some(&SseField::ENDPOINT),
            None,
            endpoint.as_bytes(),
        );
        if written.is_ok() && conn.write(&out).await.is_ok() {
            rt::in_span(span, self.pump(conn, &frames, &mut out)).await;
        }

        tracing::info!("SSE session {id} closed");
        self.sessions.borrow_mut().remove(&id);
        self.runtime.unregister(&id);
        route.link().borrow_mut().close_session(key);
        // This session's own child (`--childPerSession`, or a runtime
        // override): stop it without holding up the connection task.
        route.stop_own_child(self.shared.as_ref());
        Next::Close
    }

    /// Writes queued messages as `message` events until the queue closes
    /// (session ended, child gone) or the client goes away.
    async fn pump(&self, conn: &Conn, frames: &Inbox, out: &mut Vec<u8>) {
        enum Wake {
            Frame(Frame),
            Tick,
            Done,
        }
        // Made once, not per event: each new `closed` future would try a
        // read (EAGAIN, then an epoll registration) and each new timer would
        // reprogram the reactor's timerfd, three syscalls per message.
        let mut closed = pin!(conn.closed());
        let mut ticks = keep_alive_ticks(self.keep_alive);
        loop {
            let next = async { frames.recv().await.map_or(Wake::Done, Wake::Frame) }
                .or(async {
                    closed.as_mut().await;
                    Wake::Done
                })
                .or(async {
                    ticks.next().await;
                    Wake::Tick
                })
                .await;
            out.clear();
            match next {
                Wake::Done => return,
                Wake::Tick => encode_comment(out, "keepalive"),
                Wake::Frame(frame) => {
                    encode_event(out, Some(&SseField::MESSAGE), None, &frame);
                    while out.len() < WRITE_BATCH_BYTES {
                        let Some(frame) = frames.try_recv() else {
                            break;
                        };
                        encode_event(out, Some(&SseField::MESSAGE), None, &frame);
                    }
                }
            }
            if conn.write(out).await.is_err() {
                return;
            }
        }
    }

    async fn post_message(&self, request: &Request, conn: &mut Conn, caller: &Caller) -> Next {
        let head = &request.head;
        let Some(id) = head.query_param("sessionId") else {
            return self
                .front
                .error(
                    head,
                    conn,
                    400,
                    codes::SERVER_ERROR,
                    "Missing sessionId parameter",
                )
                .await;
        };
        if let Some(content_type) = head.header_str("content-type") {
            if !is_json(content_type) {
                let message = "Unsupported Media Type: Content-Type must be application/json";
                return self
                    .front
                    .error(head, conn, 415, codes::SERVER_ERROR, message)
                    .await;
            }
        }
        let target = self
            .sessions
            .borrow()
            .get(&id)
            .map(|session| (session.key, session.route.link(), session.caller.is(caller)));
        let Some((key, link, same_caller)) = target else {
            return self
                .front
                .error(
                    head,
                    conn,
                    404,
                    codes::SESSION_NOT_FOUND,
                    "Session not found",
                )
                .await;
        };
        if !same_caller {
            return self.front.refuse(head, conn, Refusal::OTHER_CALLER).await;
        }
        self.runtime.touch(&id);
        let carrier = telemetry::Carrier {
            transport: "sse",
            session: Some(&id),
            traceparent: head.header("traceparent"),
            enduser: caller.subject(),
        };
        let result = telemetry::with_carrier(carrier, || {
            link.borrow_mut().handle_client_message(key, &request.body)
        });
        match result {
            Ok(_) => {
                self.front
                    .send(head, conn, Response::new(202).text("Accepted"))
                    .await
            }
            Err(ClientError::NoSession) => {
                self.front
                    .error(
                        head,
                        conn,
                        404,
                        codes::SESSION_NOT_FOUND,
                        "Session not found",
                    )
                    .await
            }
            Err(err @ ClientError::Busy(_)) => {
                let message = err.to_string();
                self.front
                    .error(head, conn, 503, err.code(), &message)
                    .await
            }
            Err(err) => {
                let message = err.to_string();
                self.front
                    .error(head, conn, 400, err.code(), &message)
                    .await
            }
        }
    }
}

impl StdioMode for StdioSse {
    fn session_count(&self) -> usize {
        self.sessions.borrow().len()
    }

    fn children(&self) -> Vec<Child> {
        let mut children: Vec<Child> = self
            .shared
            .as_ref()
            .map(|link| link.borrow().children())
            .unwrap_or_default();
        for session in self.sessions.borrow().values() {
            if session.route.owns_child(self.shared.as_ref()) {
                children.extend(session.route.link().borrow().children());
            }
        }
        children
    }
}

impl Handler for StdioSse {
    async fn handle(self: Rc<Self>, request: Request, conn: &mut Conn) -> Next {
        let head = &request.head;
        let caller = match self.front.intercept(head, conn, self.healthy()).await {
            Ok(caller) => caller,
            Err(next) => return next,
        };
        let path = head.path();
        if path == self.sse_path {
            if head.method() != Method::Get {
                return self.front.method_not_allowed(head, conn, "GET").await;
            }
            return Rc::clone(&self).open_stream(head, conn, caller).await;
        }
        if path == self.message_path {
            if head.method() != Method::Post {
                return self.front.method_not_allowed(head, conn, "POST").await;
            }
            return self.post_message(&request, conn, &caller).await;
        }
        self.front
            .error(head, conn, 404, codes::SERVER_ERROR, "Not found")
            .await
    }
}

/// `--baseUrl` prefixes the endpoint as given (absolute when it has a
/// scheme and host, as in the Node gateway); its trailing slash is dropped so
/// that `<base><messagePath>` has one slash.
fn absolute_base(base_url: &str) -> String {
    base_url.trim_end_matches('/').to_owned()
}

/// `application/json`, with or without parameters, any case.
pub(crate) fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_prefixes_the_endpoint() {
        assert_eq!(absolute_base(""), "");
        assert_eq!(absolute_base("/prefix/"), "/prefix");
        assert_eq!(absolute_base("http://example.com/"), "http://example.com");
        assert_eq!(absolute_base("https://h:1/base"), "https://h:1/base");
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
    }
}
