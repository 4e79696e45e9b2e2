//! MCP 2026-07-28 requests on the Streamable HTTP endpoint: the header
//! checks (streamable-http.mdx §Request Metadata, §Standard Request
//! Headers, §Server Validation), sessionless routing, and the response form
//! chosen from the first frame the relay has for the request (JSON for a
//! lone answer, with the status its error code calls for; SSE when
//! notifications come first). The body checks live in the relay, so that
//! SSE and WebSocket clients get them too (design/2026-07-28.md b.1, d.4).

use std::cell::RefCell;
use std::rc::Rc;

use supergateway_proto::http::RequestHead;
use supergateway_proto::jsonrpc::encode_error_with_data;
use supergateway_proto::jsonrpc::{codes, error_code, parse_message, Kind, Message, MessageError};
use supergateway_proto::mcp::errors::write_unsupported_version_data;
use supergateway_proto::mcp::{header_value, ProtocolVersion, MODERN_VERSION};

use super::{param_headers, StdioStreamable};
use crate::auth::Caller;
use crate::gateway::event_stream::{EventStream, First, PumpEnd};
use crate::gateway::link::{outlet, ClientError, Clients, Link};
use crate::gateway::refusal::Refusal;
use crate::gateway::start_link;
use crate::http::response::Response;
use crate::http::server::{Conn, Next, Request};
use crate::telemetry;

/// What `MCP-Protocol-Version` says.
pub(super) enum VersionHeader {
    /// Not given.
    Absent,
    /// A handshake-era revision this endpoint serves.
    Handshake(ProtocolVersion),
    /// 2026-07-28.
    Modern,
    /// Anything else (the text, for -32022's `data.requested`).
    Unknown(String),
}

/// Handshake-era revisions the endpoint serves, newest first.
const HANDSHAKE_VERSIONS: [ProtocolVersion; 5] = [
    ProtocolVersion::V2025_11_25,
    ProtocolVersion::V2025_06_18,
    ProtocolVersion::V2025_03_26,
    ProtocolVersion::V2024_11_05,
    ProtocolVersion::V2024_10_07,
];

pub(super) fn version_header(head: &RequestHead) -> VersionHeader {
    let Some(text) = head.header_str("mcp-protocol-version") else {
        return VersionHeader::Absent;
    };
    if text == MODERN_VERSION {
        return VersionHeader::Modern;
    }
    match ProtocolVersion::parse(text) {
        Some(version) if HANDSHAKE_VERSIONS.contains(&version) => VersionHeader::Handshake(version),
        _ => VersionHeader::Unknown(text.to_owned()),
    }
}

/// Whether a POST is a 2026-07-28 request: the header says so, or the body
/// carries the 2026 `_meta` version (then the header must agree).
pub(super) fn is_modern_post(header: &VersionHeader, body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"io.modelcontextprotocol/protocolVersion\"";
    matches!(header, VersionHeader::Modern) || body.windows(KEY.len()).any(|window| window == KEY)
}

/// An answer the transport gives itself.
pub(super) struct Rejection {
    status: u16,
    code: i32,
    message: String,
    data: Option<Vec<u8>>,
}

impl Rejection {
    fn new(status: u16, code: i32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }

    fn mismatch(what: &str) -> Self {
        Self::new(
            400,
            codes::HEADER_MISMATCH,
            format!("Header mismatch: {what}"),
        )
    }
}

/// The 400 for an `MCP-Protocol-Version` the endpoint does not serve.
pub(super) fn unsupported(requested: &str) -> (u16, i32, &'static str, Vec<u8>) {
    (
        400,
        codes::UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        {
            let mut data = Vec::with_capacity(128);
            write_unsupported_version_data(&mut data, requested);
            data
        },
    )
}

/// The header rungs of the modern ladder (design b.1), after the body
/// parsed: `_meta` present (else -32602, which the suite wants before any
/// header check), routing headers once each, equal to the body.
fn check_headers(head: &RequestHead, body: &[u8], message: &Message<'_>) -> Result<(), Rejection> {
    let invalid = |why: &str| Rejection::new(400, codes::INVALID_PARAMS, why);
    if message.kind != Kind::Request && message.kind != Kind::Notification {
        return Err(Rejection::new(
            400,
            codes::INVALID_REQUEST,
            "a 2026-07-28 POST carries a request or a notification",
        ));
    }
    if message.kind == Kind::Request {
        let Some(meta) = &message.meta else {
            return Err(invalid("params._meta is required"));
        };
        if meta.version.is_none() {
            return Err(invalid(
                "params._meta must carry io.modelcontextprotocol/protocolVersion",
            ));
        }
        let caps_object = meta
            .capabilities
            .as_ref()
            .and_then(|span| body.get(span.start))
            .is_some_and(|first| *first == b'{');
        if !caps_object {
            return Err(invalid(
                "params._meta must carry io.modelcontextprotocol/clientCapabilities (an object)",
            ));
        }
    }
    for name in ["mcp-protocol-version", "mcp-method", "mcp-name"] {
        if head.header_values(name).nth(1).is_some() {
            return Err(Rejection::mismatch(&format!("{name} given twice")));
        }
    }
    let body_version = message
        .meta
        .as_ref()
        .and_then(|meta| meta.version.as_ref())
        .and_then(|version| version.as_ref().ok());
    let header_version = head.header_str("mcp-protocol-version");
    if let Some(body_version) = body_version {
        if header_version != Some(body_version.as_ref()) {
            return Err(Rejection::mismatch(
                "MCP-Protocol-Version does not match params._meta",
            ));
        }
    }
    if head.header_str("mcp-method") != message.method.as_deref() {
        return Err(Rejection::mismatch("Mcp-Method does not match the method"));
    }
    let named = matches!(
        message.method.as_deref(),
        Some("tools/call" | "prompts/get" | "resources/read")
    );
    // §Value Encoding: the header may carry the Base64 sentinel; compare
    // the decoded value (a malformed one matches nothing).
    let name = head
        .header("mcp-name")
        .map(|raw| header_value::decode(raw).ok());
    if named && name.as_ref().map(|n| n.as_deref()) != message.target.as_deref().map(Some) {
        return Err(Rejection::mismatch(
            "Mcp-Name does not match params.name or params.uri",
        ));
    }
    Ok(())
}

/// Rung 5 of the ladder: a `tools/call`'s `Mcp-Param-*` headers against
/// the annotations `link` learned (none learned, nothing checked). Only for
/// 2026-07-28 itself: a body version the endpoint does not serve gets
/// -32022 from the relay first (rung 4).
fn check_param_headers(
    head: &RequestHead,
    body: &[u8],
    message: &Message<'_>,
    link: &Link,
) -> Result<(), String> {
    if message.method.as_deref() != Some("tools/call")
        || head.header_str("mcp-protocol-version") != Some(MODERN_VERSION)
    {
        return Ok(());
    }
    match message
        .target
        .as_deref()
        .and_then(|tool| link.param_headers(tool))
    {
        Some(params) => param_headers::check(head, body, params),
        None => Ok(()),
    }
}

/// The HTTP status for an answer that is the first thing a modern request
/// gets (the reference SDK's table): 400 for the malformed-request codes,
/// 404 for an unknown method, 200 otherwise.
fn status_of(frame: &[u8]) -> u16 {
    // Results (the common case) are not parsed: an error response names its
    // `error` member, and a result without those bytes cannot be one.
    const ERROR: &[u8] = b"\"error\"";
    if !frame.windows(ERROR.len()).any(|window| window == ERROR) {
        return 200;
    }
    // Only an error response has a top-level `error` object.
    let code = error_code(frame).map_or(0, |(_, code)| code);
    match code {
        -32700 | -32600 | -32602 | -32020 | -32021 | -32022 => 400,
        -32601 => 404,
        _ => 200,
    }
}

impl StdioStreamable {
    /// Serves one 2026-07-28 POST (the generic checks — Accept,
    /// Content-Type, Origin — have passed).
    pub(super) async fn post_modern(
        self: Rc<Self>,
        request: Request,
        conn: &mut Conn,
        caller: &Caller,
    ) -> Next {
        let head = &request.head;
        let body = &request.body;
        let message = match parse_message(body) {
            Ok(message) => message,
            Err(err) => {
                let err = match err {
                    MessageError::Batch => MessageError::Invalid("batches are not allowed"),
                    other => other,
                };
                return self
                    .front
                    .error(head, conn, 400, err.code(), &err.to_string())
                    .await;
            }
        };
        let id = message.id.as_ref().map(|id| id.as_bytes().to_vec());
        let checked = if message.method.as_deref() == Some("initialize") {
            // Removed in 2026-07-28 (the relay would serve it as a
            // handshake-era request).
            Err(Rejection::new(
                404,
                codes::METHOD_NOT_FOUND,
                "Method not found",
            ))
        } else {
            check_headers(head, body, &message)
        };
        if let Err(rejection) = checked {
            return self.reject(head, conn, id.as_deref(), rejection).await;
        }
        if message.kind == Kind::Notification {
            // 2026-07-28 defines no client notification over HTTP (closing
            // the stream cancels): accepted and dropped.
            return self.front.send(head, conn, Response::new(202)).await;
        }
        let link = match self.modern_link(caller) {
            Ok(link) => link,
            Err(refusal) => return self.front.refuse(head, conn, refusal).await,
        };
        // Bound first: a scrutinee's temporaries (the borrow) would live
        // through the `await` below.
        let params_checked = check_param_headers(head, body, &message, &link.borrow());
        if let Err(what) = params_checked {
            self.end_modern_child(&link);
            let rejection = Rejection::mismatch(&what);
            return self.reject(head, conn, id.as_deref(), rejection).await;
        }
        drop(message);
        let key = self.new_key();
        let (outlet, frames) = outlet();
        if !link.borrow_mut().open_session(key, outlet, false) {
            self.end_modern_child(&link);
            return self.front.refuse(head, conn, Refusal::CHILD_EXITED).await;
        }
        let carrier = telemetry::Carrier {
            transport: "streamableHttp",
            session: None,
            traceparent: head.header("traceparent"),
            enduser: caller.subject(),
        };
        let result = telemetry::with_carrier(carrier, || {
            link.borrow_mut().handle_client_message(key, body)
        });
        if let Err(err) = result {
            link.borrow_mut().close_session(key);
            self.end_modern_child(&link);
            let status = if matches!(err, ClientError::Busy(_)) {
                503
            } else {
                400
            };
            return self
                .front
                .error(head, conn, status, err.code(), &err.to_string())
                .await;
        }
        let child = if self.modern_child_per_request {
            link.borrow().child().cloned()
        } else {
            None
        };
        self.open_requests.borrow_mut().insert(key, child);
        let mut stream = EventStream::new(key, frames, 1, 0).unnumbered();
        let (end, next) = match stream.first(conn, self.keep_alive).await {
            First::Frame(frame) if frame.is_response => {
                let response = Response::new(status_of(&frame)).json(&frame);
                let next = self.front.send(head, conn, response).await;
                (PumpEnd::Complete, next)
            }
            First::Frame(frame) => {
                let mut pending = self.modern_stream_head(head, conn);
                stream.push_first(&frame, &mut pending);
                let end = stream.pump(conn, pending, true, self.keep_alive).await;
                (end, keep_alive_if(end))
            }
            First::Quiet => {
                let pending = self.modern_stream_head(head, conn);
                let end = stream.pump(conn, pending, true, self.keep_alive).await;
                (end, keep_alive_if(end))
            }
            First::Gone => (PumpEnd::Gone, Next::Close),
            First::Closed => {
                let refusal = Refusal::CHILD_EXITED;
                let next = self.front.refuse(head, conn, refusal).await;
                (PumpEnd::Closed, next)
            }
        };
        let _ = end;
        link.borrow_mut().close_session(stream.key);
        self.open_requests.borrow_mut().remove(&stream.key);
        self.end_modern_child(&link);
        next
    }

    /// Answers with `rejection`, echoing the request's id when it has one.
    async fn reject(
        &self,
        head: &RequestHead,
        conn: &mut Conn,
        id: Option<&[u8]>,
        rejection: Rejection,
    ) -> Next {
        let mut body = Vec::with_capacity(160);
        match &rejection.data {
            Some(data) => {
                encode_error_with_data(&mut body, id, rejection.code, &rejection.message, data)
            }
            None => supergateway_proto::jsonrpc::encode_error(
                &mut body,
                id,
                rejection.code,
                &rejection.message,
            ),
        }
        let response = Response::new(rejection.status).json(&body);
        self.front.send(head, conn, response).await
    }

    /// The SSE head of a modern response stream, encoded.
    fn modern_stream_head(&self, head: &RequestHead, conn: &Conn) -> Vec<u8> {
        let mut pending = Vec::with_capacity(1024);
        let response = Response::new(200)
            .header("content-type", b"text/event-stream")
            .header("cache-control", b"no-cache, no-transform")
            .header("x-accel-buffering", b"no")
            .chunked();
        let _ = conn.encode(&self.front.decorate(head, response), &mut pending);
        pending
    }

    /// The link a modern request goes to: with `--childPerSession`, a child
    /// for this request; else stateless, the shared child; stateful, a
    /// shared child started on first use, outside every session, and
    /// restarted by `--restart`'s policy like the shared child (its open
    /// listens carried to the next child).
    fn modern_link(&self, caller: &Caller) -> Result<Rc<RefCell<Link>>, Refusal> {
        let start = || start_link(&self.runtime, Clients::Anonymous, caller);
        if self.modern_child_per_request {
            return start();
        }
        if !self.stateful {
            return match &self.shared {
                Some(link) => Ok(Rc::clone(link)),
                None => start(),
            };
        }
        let mut shared = self.modern_shared.borrow_mut();
        match &*shared {
            // Live: running, or (with `--restart`) waiting out a backoff,
            // what is sent meanwhile waiting for the next child.
            Some(link) if link.borrow().is_live() => Ok(Rc::clone(link)),
            _ => {
                let link = start()?;
                link.borrow_mut().restart_on_exit(self.restart);
                *shared = Some(Rc::clone(&link));
                Ok(link)
            }
        }
    }

    /// With a child per request, stops the request's child.
    fn end_modern_child(&self, link: &Rc<RefCell<Link>>) {
        if self.modern_child_per_request {
            if let Some(child) = link.borrow().child() {
                child.stop_in_background();
            }
        }
    }
}

fn keep_alive_if(end: PumpEnd) -> Next {
    if end == PumpEnd::Complete {
        Next::KeepAlive
    } else {
        Next::Close
    }
}
