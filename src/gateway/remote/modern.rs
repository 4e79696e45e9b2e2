//! What the remote side adds for a 2026-07-28 server
//! (basic/transports/streamable-http.mdx §Standard Request Headers,
//! §Custom Headers from Tool Parameters, §Backward Compatibility): the
//! `Mcp-*` headers of a request, the tools it lists itself to know which
//! arguments to mirror, and how an HTTP error body is read.

use std::collections::HashSet;
use std::rc::Rc;

use supergateway_proto::http::Method;
use supergateway_proto::jsonrpc::{
    codes, encode_string, member, object_members, parse_message, Kind, Message, ValueKind,
};
use supergateway_proto::mcp::x_mcp_header::{self, Param};
use supergateway_proto::mcp::{header_value, push_own_meta, MODERN_VERSION};
use supergateway_proto::sse::SseParser;

use super::{Remote, MAX_EVENT_BYTES};
use crate::gateway::authorized::Answer;
use crate::http::client::ClientError;
use futures_lite::FutureExt;

/// Pages of its own `tools/list` the bridge reads at most (a server that
/// pages forever is not followed).
const MAX_PAGES: usize = 16;
/// Bound on one page of the bridge's own `tools/list`.
const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Tool names remembered as listed (past it, unknown tools are listed
/// again, which costs a request, never correctness).
const MAX_NAMES: usize = 4096;
/// Longest a page of the bridge's own tools listing may take to arrive.
const LISTING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The tools the server was seen to list (any listing through the bridge).
#[derive(Default)]
pub(super) struct Tools {
    names: HashSet<String>,
}

impl Tools {
    /// Remembers the names of a `tools/list` result.
    pub(super) fn learn(&mut self, result: &[u8]) {
        let Ok(tools) = x_mcp_header::list_tools(result) else {
            return;
        };
        for tool in tools {
            if self.names.len() >= MAX_NAMES {
                return;
            }
            self.names.insert(tool.name.into_owned());
        }
    }

    fn knows(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// The headers of a modern message beyond `MCP-Protocol-Version`:
/// `Mcp-Method`, `Mcp-Name` for the methods that name a target, and
/// `Mcp-Param-{Name}` for each `x-mcp-header` argument of a `tools/call`
/// (`params`: the tool's annotated parameters, as the relay learned them).
pub(super) fn headers(
    line: &[u8],
    message: &Message<'_>,
    params: Option<&[Param]>,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Some(method) = message.method.as_deref() else {
        return out;
    };
    out.push(("mcp-method".to_owned(), method.as_bytes().to_vec()));
    if message.kind != Kind::Request {
        return out;
    }
    if matches!(method, "tools/call" | "resources/read" | "prompts/get") {
        if let Some(target) = message.target.as_deref() {
            let value = header_value::encode(target);
            out.push(("mcp-name".to_owned(), value.as_bytes().to_vec()));
        }
    }
    let Some(params) = params else {
        return out;
    };
    let arguments = arguments(line);
    for param in params {
        if let Some(value) = x_mcp_header::render(param, arguments) {
            let value = header_value::encode(&value);
            out.push((
                format!("mcp-param-{}", param.header),
                value.as_bytes().to_vec(),
            ));
        }
    }
    out
}

/// The answer `line` to a `tools/list` (its `result` given) without the
/// tools whose `x-mcp-header` annotations are invalid: a client MUST
/// exclude such a tool and keep the others (§Custom Headers from Tool
/// Parameters). `None` when every tool is valid (the line goes on as it
/// is: nothing is re-serialised on the common path).
pub(super) fn drop_invalid_tools(line: &[u8], result: &[u8]) -> Option<Vec<u8>> {
    let tools = x_mcp_header::list_tools(result).ok()?;
    let invalid: HashSet<String> = tools
        .iter()
        .filter_map(|tool| {
            let why = x_mcp_header::annotations(tool.input_schema?).err()?;
            tracing::warn!(
                "left tool {:?} out of tools/list: {why} (a client must not use it)",
                tool.name
            );
            Some(tool.name.clone().into_owned())
        })
        .collect();
    if invalid.is_empty() {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value
        .get_mut("result")?
        .get_mut("tools")?
        .as_array_mut()?
        .retain(|tool| {
            !tool
                .get("name")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|name| invalid.contains(name))
        });
    serde_json::to_vec(&value).ok()
}

/// Whether a `tools/list` request asks for a later page.
pub(super) fn has_cursor(line: &[u8]) -> bool {
    member(line, "params", ValueKind::Object).is_some_and(|params| {
        object_members(params).is_ok_and(|members| {
            members
                .iter()
                .any(|m| m.key == "cursor" && m.kind != ValueKind::Null)
        })
    })
}

/// A `server/discover` result that lists 2026-07-28.
pub(super) fn lists_modern(result: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(result) else {
        return false;
    };
    value
        .get("supportedVersions")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|versions| versions.iter().any(|v| v == MODERN_VERSION))
}

/// The `data` of a -32022 error lists 2026-07-28 in `supported`.
pub(super) fn supports_modern(data: Option<&[u8]>) -> bool {
    data.and_then(|data| serde_json::from_slice::<serde_json::Value>(data).ok())
        .and_then(|data| {
            data.get("supported")?
                .as_array()
                .map(|versions| versions.iter().any(|v| v == MODERN_VERSION))
        })
        .unwrap_or(false)
}

/// The error of a JSON-RPC error body.
pub(super) struct RpcError {
    pub(super) code: i32,
    pub(super) message: String,
    /// The `data` member, as JSON.
    pub(super) data: Option<Vec<u8>>,
}

/// The `error` of an HTTP error body that is a JSON-RPC error response.
pub(super) fn rpc_error(body: &[u8]) -> Option<RpcError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = i32::try_from(error.get("code")?.as_i64()?).ok()?;
    let message = error.get("message")?.as_str()?.to_owned();
    let data = error
        .get("data")
        .and_then(|data| serde_json::to_vec(data).ok());
    Some(RpcError {
        code,
        message,
        data,
    })
}

/// An HTTP error that is positive evidence of a 2026-07-28 server
/// (§Backward Compatibility; design b.3): a 4xx whose JSON-RPC error is
/// one the revision defines, or 404 with "method not found".
pub(super) fn is_modern_error(status: u16, code: i32) -> bool {
    (400..500).contains(&status)
        && (matches!(
            code,
            codes::HEADER_MISMATCH
                | codes::MISSING_CLIENT_CAPABILITY
                | codes::UNSUPPORTED_PROTOCOL_VERSION
        ) || (status == 404 && code == codes::METHOD_NOT_FOUND))
}

/// The raw `params.arguments` of a request, `{}` when it has none.
fn arguments(line: &[u8]) -> &[u8] {
    member(line, "params", ValueKind::Object)
        .and_then(|params| {
            object_members(params)
                .ok()?
                .into_iter()
                .find(|m| m.key == "arguments")
                .and_then(|m| params.get(m.span))
        })
        .unwrap_or(b"{}")
}

impl Remote {
    /// Before a modern `tools/call` of a tool the bridge has not seen
    /// listed: lists the tools itself (its own requests, answered to it
    /// alone) and teaches the relay their `x-mcp-header` annotations, so
    /// that the call carries its `Mcp-Param-*` headers.
    pub(super) async fn list_tools_for(self: &Rc<Self>, message: &Message<'_>) {
        let Some(tool) = message.target.as_deref() else {
            return;
        };
        if self.state.borrow().tools.knows(tool) {
            return;
        }
        let mut cursor: Option<String> = None;
        for page in 0..MAX_PAGES {
            let Some(result) = self.list_page(page, cursor.as_deref()).await else {
                return;
            };
            self.state.borrow_mut().tools.learn(&result);
            if let Some(link) = self.link.upgrade() {
                link.borrow_mut().handle_tool_list(&result, page == 0);
            }
            cursor = serde_json::from_slice::<serde_json::Value>(&result)
                .ok()
                .and_then(|value| value.get("nextCursor")?.as_str().map(str::to_owned));
            if cursor.is_none() {
                return;
            }
        }
    }

    /// One page of the bridge's own `tools/list`: the raw `result`, or
    /// `None` (logged) when there is none to learn from.
    async fn list_page(&self, page: usize, cursor: Option<&str>) -> Option<Vec<u8>> {
        let id = format!("\"supergateway-tools-{page}\"");
        let mut line = Vec::with_capacity(320);
        line.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        line.extend_from_slice(id.as_bytes());
        line.extend_from_slice(b",\"method\":\"tools/list\",\"params\":{");
        if let Some(cursor) = cursor {
            line.extend_from_slice(b"\"cursor\":");
            encode_string(&mut line, cursor);
            line.push(b',');
        }
        line.extend_from_slice(b"\"_meta\":{");
        push_own_meta(&mut line);
        line.extend_from_slice(b"}}}");
        let headers: [(&str, &[u8]); 4] = [
            ("accept", b"application/json, text/event-stream"),
            ("content-type", b"application/json"),
            ("mcp-protocol-version", MODERN_VERSION.as_bytes()),
            ("mcp-method", b"tools/list"),
        ];
        let response = match self
            .upstream
            .send(Method::Post, &self.url, &headers, Some(&line), None)
            .await
        {
            Ok(Answer::Head(response)) => *response,
            Ok(Answer::Read { status, .. }) => {
                tracing::warn!("could not list the MCP server's tools: HTTP {status}");
                return None;
            }
            Err(err) => {
                tracing::warn!("could not list the MCP server's tools: {err}");
                return None;
            }
        };
        let status = response.status();
        let sse = response
            .header_str("content-type")
            .is_some_and(|ty| ty.to_ascii_lowercase().starts_with("text/event-stream"));
        // A listing the bridge makes for itself holds the ordered writer: a server that
        // leaves its answer stream open (or trickles keep-alives) must not stall it.
        let deadline = async {
            async_io::Timer::after(LISTING_TIMEOUT).await;
            Err(ClientError::Timeout("tools/list answer"))
        };
        let body = match response.body(MAX_PAGE_BYTES).or(deadline).await {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!("could not list the MCP server's tools: {err}");
                return None;
            }
        };
        if !(200..300).contains(&status) {
            tracing::warn!("could not list the MCP server's tools: HTTP {status}");
            return None;
        }
        let mut messages = Vec::new();
        if sse {
            let mut parser = SseParser::new(MAX_EVENT_BYTES);
            let mut input = body.as_slice();
            while !input.is_empty() {
                let Ok((consumed, event)) = parser.decode(input) else {
                    break;
                };
                input = input.get(consumed..).unwrap_or_default();
                match event {
                    Some(event) => messages.push(event.data.into_bytes()),
                    None if consumed == 0 => break,
                    None => {}
                }
            }
        } else {
            messages.push(body);
        }
        messages.into_iter().find_map(|message| {
            let parsed = parse_message(&message).ok()?;
            let ours = parsed.id.as_ref()?.as_bytes() == id.as_bytes();
            let span = parsed.result_span.clone().filter(|_| ours)?;
            message.get(span).map(<[u8]>::to_vec)
        })
    }
}
