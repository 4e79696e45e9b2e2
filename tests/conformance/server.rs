//! `conformance-server`: a stdio MCP server exposing exactly the tool/resource/prompt set that
//! the official conformance suite's server scenarios expect (`@modelcontextprotocol/conformance`
//! 0.1.16, active suite; PROTOCOL.md §2). `scripts/conformance.sh` runs the suite against
//! `supergateway --stdio <this> --outputTransport streamableHttp`. This header is the contract.
//!
//! # Framing
//!
//! Newline-delimited JSON-RPC 2.0 on stdin (a trailing `\r` is tolerated, blank lines ignored);
//! one compact JSON message per line on stdout, each written with a single write and flush under
//! the stdout lock. stdout carries nothing else; diagnostics go to stderr. The reader never
//! blocks: tools that wait (delays, server→client requests) finish on other threads, so other
//! requests are answered meanwhile. Exits 0 on stdin EOF, dropping whatever is in flight.
//!
//! # Errors
//!
//! - Not UTF-8 / not JSON: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":
//!   "Parse error"}}`, then reading carries on.
//! - Not a single JSON-RPC 2.0 object (batches/arrays, `jsonrpc` ≠ `"2.0"`, request id that is
//!   neither string nor number): `-32600` `"Invalid Request"`, with the id if usable, else null.
//! - Unknown method: `-32601` `"Method not found"`.
//! - Bad params, unknown tool/prompt, missing required argument: `-32602`.
//! - `resources/read` of an unknown URI: `-32602` `"Resource not found: URI"`, `data: {"uri"}`
//!   (SEP-2164's recommended code).
//!
//! # Methods
//!
//! - `initialize`: echoes `params.protocolVersion` if it is 2024-11-05, 2025-03-26, 2025-06-18 or
//!   2025-11-25, else answers 2025-11-25; capabilities `tools {listChanged}`, `resources
//!   {subscribe, listChanged}`, `prompts {listChanged}`, `logging`, `completions`; serverInfo
//!   `supergateway-conformance-server` 1.0.0. Not enforced as the first request.
//! - `ping`, `resources/subscribe`, `resources/unsubscribe` (tracked per process),
//!   `logging/setLevel` (one of the 8 syslog levels; later `notifications/message` below that
//!   level are suppressed; default: everything is sent) → `{}`.
//! - `tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`: the sets below,
//!   no pagination.
//! - `completion/complete`: prefix match over fixed candidates (`arg1`/`arg2` of
//!   `test_prompt_with_arguments`, `id` of the template); `{"completion": {"values": [...],
//!   "total": N, "hasMore": false}}`, empty for anything else.
//! - Notifications: `notifications/cancelled {requestId}` stops a waiting tool call (it is never
//!   answered, and a server→client request it was waiting on is cancelled in turn);
//!   everything else (`notifications/initialized`, ...) is accepted silently.
//!
//! # Tools (no arguments unless stated)
//!
//! - `test_simple_text` → text "This is a simple text response for testing."
//! - `test_image_content` → image (1×1 PNG, `image/png`). `test_audio_content` → audio
//!   (`audio/wav`). `test_embedded_resource` → resource `test://embedded-resource` (text/plain).
//! - `test_multiple_content_types` → text, image and an embedded JSON resource.
//! - `test_tool_with_logging` → `notifications/message` (level info, logger
//!   `conformance-server`) "Tool execution started", 50 ms, "Tool processing data", 50 ms, "Tool
//!   execution completed", then the text result.
//! - `test_tool_with_progress` → with `params._meta.progressToken` T: `notifications/progress`
//!   `{progressToken: T, progress: 0|50|100, total: 100, message}` 50 ms apart, then the result;
//!   without a token only the delays.
//! - `test_error_handling` → `{"content":[{"type":"text","text":"This tool intentionally
//!   returns an error for testing"}],"isError":true}`.
//! - `test_reconnection` → text after 100 ms (the stream-closing part of SEP-1699 is the HTTP
//!   server's job; a stdio server cannot close an SSE stream).
//! - `test_sampling {prompt: string}` → server→client request (id `"srv-N"`, N = 1, 2, ... shared
//!   by all server→client requests) `sampling/createMessage {"messages":[{"role":"user",
//!   "content":{"type":"text","text":PROMPT}}],"maxTokens":100}`; when the response arrives:
//!   text "LLM response: TEXT" (`result.content.text`, or the first text item of an array).
//! - `test_elicitation {message: string}` → `elicitation/create {"mode":"form","message":MESSAGE,
//!   "requestedSchema":{"type":"object","properties":{"username":{"type":"string","description":
//!   "User's response"},"email":{"type":"string","description":"User's email address"}},
//!   "required":["username","email"]}}`; then text "User response: action=A, content=JSON".
//! - `test_elicitation_sep1034_defaults` → `elicitation/create` with string/integer/number/enum/
//!   boolean fields carrying defaults "John Doe", 30, 95.5, "active", true; then text
//!   "Elicitation completed: action=A, content=JSON".
//! - `test_elicitation_sep1330_enums` → `elicitation/create` with the five SEP-1330 enum shapes
//!   (`untitledSingle`, `titledSingle`, `legacyEnum`, `untitledMulti`, `titledMulti`); same text.
//! - `json_schema_2020_12_tool {name?, address?}` (pending scenario `json-schema-2020-12`):
//!   listed with a `$schema`/`$defs`/`additionalProperties: false` input schema; echoes args.
//!
//! A server→client request answered with an error gives an `isError` result naming the error; one
//! not answered within 60 s is cancelled (`notifications/cancelled`) and gives an `isError`
//! result. A response with an unknown id is reported on stderr and ignored. The client's declared
//! capabilities are not checked (a gateway may initialise this server itself).
//!
//! # Resources and prompts
//!
//! - Resources: `test://static-text` (text/plain), `test://static-binary` (image/png blob),
//!   `test://watched-resource` (text/plain); template `test://template/{id}/data` →
//!   `{"id":ID,"templateTest":true,"data":"Data for ID: ID"}` (application/json).
//! - Prompts: `test_simple_prompt`, `test_prompt_with_arguments {arg1, arg2}`,
//!   `test_prompt_with_embedded_resource {resourceUri}`, `test_prompt_with_image`.
//!
//! # Optional automatic behaviours (off by default; no active scenario checks them)
//!
//! - `CONFORMANCE_DYNAMIC_MS=N`: N ms after the first `notifications/initialized`, adds tool
//!   `test_dynamic_tool`, resource `test://dynamic-resource` and prompt `test_dynamic_prompt`, and
//!   sends `notifications/{tools,resources,prompts}/list_changed`.
//! - `CONFORMANCE_WATCH_MS=N`: every N ms the watched resource's text changes and, while
//!   `test://watched-resource` is subscribed, `notifications/resources/updated {uri}` is sent.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::{json, Map, Value};

const SUPPORTED_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const LATEST_VERSION: &str = "2025-11-25";
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];
const LOGGER: &str = "conformance-server";
/// How long a tool call waits for the client's answer to a server→client request.
const CLIENT_REPLY_TIMEOUT: Duration = Duration::from_secs(60);
const STEP_DELAY: Duration = Duration::from_millis(50);

/// 1×1 PNG pixel.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// Minimal WAV file (44-byte header, one sample).
const WAV_BASE64: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

const WATCHED_URI: &str = "test://watched-resource";
const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

/// A JSON-RPC error: code, message and optional data.
struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(-32602, format!("Invalid params: {detail}"))
    }
}

/// What a server→client request is for, so its response can finish the tool call.
#[derive(Clone, Copy)]
enum Purpose {
    /// `test_elicitation`: "User response: ...".
    Elicitation,
    /// The SEP-1034 / SEP-1330 tools: "Elicitation completed: ...".
    ElicitationSep,
    Sampling,
}

/// A server→client request waiting for the client's response.
struct Outgoing {
    /// The id of the `tools/call` that is answered when the response arrives.
    call_id: Value,
    purpose: Purpose,
}

#[derive(Default)]
struct Fixture {
    next_request: AtomicU64,
    /// Index into `LOG_LEVELS` of the lowest level still sent.
    min_log_level: AtomicUsize,
    /// Our server→client request id → the tool call waiting for it.
    outgoing: Mutex<HashMap<String, Outgoing>>,
    /// JSON text of the ids of tool calls running on a timer thread (for cancellation).
    running: Mutex<HashSet<String>>,
    subscriptions: Mutex<HashSet<String>>,
    initialized_once: AtomicBool,
    dynamic_added: AtomicBool,
    watched_version: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn main() {
    let fx = Arc::new(Fixture::default());
    if let Some(ms) = env_ms("CONFORMANCE_WATCH_MS") {
        start_watch_timer(&fx, ms);
    }
    let mut stdin = io::stdin().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match stdin.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => handle_bytes(&fx, &buf),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("conformance-server: stdin read error: {e}");
                break;
            }
        }
    }
    std::process::exit(0);
}

/// A positive number of milliseconds from the environment, if set.
fn env_ms(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse::<u64>() {
        Ok(0) => None,
        Ok(ms) => Some(ms),
        Err(_) => {
            eprintln!("conformance-server: ignoring {name}={v:?} (not a number of milliseconds)");
            None
        }
    }
}

// ---- output ---------------------------------------------------------------------------------

/// Writes one message plus `\n` to stdout with a single write and flush under the stdout lock.
fn send(msg: &Value) {
    let mut text = msg.to_string();
    text.push('\n');
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("conformance-server: stdout write failed: {e}");
    }
}

fn send_result(id: &Value, result: Value) {
    send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
}

fn send_error(id: &Value, err: RpcError) {
    let mut error = Map::new();
    error.insert("code".to_owned(), json!(err.code));
    error.insert("message".to_owned(), json!(err.message));
    if let Some(data) = err.data {
        error.insert("data".to_owned(), data);
    }
    send(&json!({"jsonrpc": "2.0", "id": id, "error": error}));
}

fn send_notification(method: &str, params: Value) {
    send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
}

impl Fixture {
    /// Sends `notifications/message` unless `level` is below the level set by the client.
    fn log(&self, level: &str, data: &str) {
        let rank = LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0);
        if rank >= self.min_log_level.load(Ordering::SeqCst) {
            send_notification(
                "notifications/message",
                json!({"level": level, "logger": LOGGER, "data": data}),
            );
        }
    }
}

/// The key under which a request id is matched against `notifications/cancelled`.
fn id_key(id: &Value) -> String {
    id.to_string()
}

fn text_content(text: impl Into<String>) -> Value {
    json!({"type": "text", "text": text.into()})
}

fn text_result(text: impl Into<String>) -> Value {
    json!({ "content": [text_content(text)] })
}

fn error_result(text: impl Into<String>) -> Value {
    json!({"content": [text_content(text)], "isError": true})
}

// ---- input ----------------------------------------------------------------------------------

fn handle_bytes(fx: &Arc<Fixture>, bytes: &[u8]) {
    let Ok(line) = std::str::from_utf8(bytes) else {
        send_error(&Value::Null, RpcError::new(-32700, "Parse error"));
        return;
    };
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    let Ok(msg) = serde_json::from_str::<Value>(line) else {
        send_error(&Value::Null, RpcError::new(-32700, "Parse error"));
        return;
    };
    let Value::Object(obj) = msg else {
        // Arrays (batches) included: one message per line, as in 2025-06-18 and later.
        send_error(&Value::Null, RpcError::new(-32600, "Invalid Request"));
        return;
    };
    let usable_id = obj.get("id").filter(|id| id.is_string() || id.is_number());
    let is_response =
        !obj.contains_key("method") && (obj.contains_key("result") || obj.contains_key("error"));
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        if is_response {
            // Never answer a response; say so on stderr instead.
            eprintln!(
                "conformance-server: ignoring a response without \"jsonrpc\": \"2.0\": {line}"
            );
            return;
        }
        send_error(
            usable_id.unwrap_or(&Value::Null),
            RpcError::new(-32600, "Invalid Request"),
        );
        return;
    }
    let params = obj.get("params").unwrap_or(&Value::Null);
    match (obj.get("method"), obj.get("id")) {
        (Some(Value::String(method)), Some(id)) if usable_id.is_some() => {
            if !(params.is_null() || params.is_object()) {
                send_error(id, RpcError::invalid_params("'params' must be an object"));
                return;
            }
            match handle_request(fx, method, id, params) {
                Some(Ok(result)) => send_result(id, result),
                Some(Err(err)) => send_error(id, err),
                None => {}
            }
        }
        (Some(Value::String(method)), None) => handle_notification(fx, method, params),
        (None, Some(id)) if is_response => handle_response(fx, id, &obj),
        _ if is_response => eprintln!("conformance-server: ignoring a response without id: {line}"),
        _ => send_error(
            usable_id.unwrap_or(&Value::Null),
            RpcError::new(-32600, "Invalid Request"),
        ),
    }
}

/// `None` means the request is answered later, from another thread (or never, if cancelled).
fn handle_request(
    fx: &Arc<Fixture>,
    method: &str,
    id: &Value,
    params: &Value,
) -> Option<Result<Value, RpcError>> {
    let result = match method {
        "initialize" => Ok(initialize(params)),
        "ping" => Ok(json!({})),
        "logging/setLevel" => set_level(fx, params),
        "tools/list" => Ok(json!({ "tools": tool_list(fx) })),
        "tools/call" => return call_tool(fx, id, params),
        "resources/list" => Ok(json!({ "resources": resource_list(fx) })),
        "resources/templates/list" => Ok(json!({"resourceTemplates": [{
            "uriTemplate": "test://template/{id}/data",
            "name": "template",
            "title": "Resource Template",
            "description": "A resource template with parameter substitution",
            "mimeType": "application/json"
        }]})),
        "resources/read" => read_resource(fx, params),
        "resources/subscribe" | "resources/unsubscribe" => str_param(params, "uri").map(|uri| {
            let mut subs = lock(&fx.subscriptions);
            if method == "resources/subscribe" {
                subs.insert(uri.to_owned());
            } else {
                subs.remove(uri);
            }
            json!({})
        }),
        "prompts/list" => Ok(json!({ "prompts": prompt_list(fx) })),
        "prompts/get" => get_prompt(fx, params),
        "completion/complete" => complete(params),
        _ => Err(RpcError::new(-32601, "Method not found")),
    };
    Some(result)
}

fn initialize(params: &Value) -> Value {
    let version = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .filter(|v| SUPPORTED_VERSIONS.contains(v))
        .unwrap_or(LATEST_VERSION);
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
            "prompts": {"listChanged": true},
            "logging": {},
            "completions": {}
        },
        "serverInfo": {"name": "supergateway-conformance-server", "version": "1.0.0"}
    })
}

fn set_level(fx: &Fixture, params: &Value) -> Result<Value, RpcError> {
    let level = str_param(params, "level")?;
    let rank = LOG_LEVELS
        .iter()
        .position(|l| *l == level)
        .ok_or_else(|| RpcError::invalid_params(format!("unknown log level {level:?}")))?;
    fx.min_log_level.store(rank, Ordering::SeqCst);
    Ok(json!({}))
}

fn handle_notification(fx: &Arc<Fixture>, method: &str, params: &Value) {
    match method {
        "notifications/cancelled" => {
            if let Some(request_id) = params.get("requestId") {
                cancel_call(fx, &id_key(request_id));
            }
        }
        // Only the first one starts the timer (a gateway may initialise this server repeatedly).
        "notifications/initialized" if !fx.initialized_once.swap(true, Ordering::SeqCst) => {
            if let Some(ms) = env_ms("CONFORMANCE_DYNAMIC_MS") {
                start_dynamic_timer(fx, ms);
            }
        }
        _ => {}
    }
}

/// The client cancelled a tool call: never answer it, and cancel what it was waiting for.
fn cancel_call(fx: &Fixture, key: &str) {
    lock(&fx.running).remove(key);
    let ours: Vec<String> = {
        let mut outgoing = lock(&fx.outgoing);
        let ids: Vec<String> = outgoing
            .iter()
            .filter(|(_, o)| id_key(&o.call_id) == key)
            .map(|(our_id, _)| our_id.clone())
            .collect();
        for our_id in &ids {
            outgoing.remove(our_id);
        }
        ids
    };
    for our_id in ours {
        send_notification(
            "notifications/cancelled",
            json!({"requestId": our_id, "reason": "the tool call was cancelled"}),
        );
    }
}

/// The client's response to one of our server→client requests.
fn handle_response(fx: &Fixture, id: &Value, msg: &Map<String, Value>) {
    let pending = id
        .as_str()
        .and_then(|our_id| lock(&fx.outgoing).remove(our_id));
    let Some(Outgoing { call_id, purpose }) = pending else {
        eprintln!("conformance-server: ignoring response with unknown id {id}");
        return;
    };
    let what = match purpose {
        Purpose::Sampling => "Sampling",
        Purpose::Elicitation | Purpose::ElicitationSep => "Elicitation",
    };
    if let Some(error) = msg.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_owned);
        send_result(&call_id, error_result(format!("{what} error: {message}")));
        return;
    }
    let result = msg.get("result").unwrap_or(&Value::Null);
    let answer = match purpose {
        Purpose::Sampling => {
            let content = match result.get("content") {
                Some(Value::Array(items)) => items.iter().find(|c| c.get("text").is_some()),
                other => other,
            };
            match content.and_then(|c| c.get("text")).and_then(Value::as_str) {
                Some(text) => text_result(format!("LLM response: {text}")),
                None => error_result("Sampling error: the response had no text content"),
            }
        }
        Purpose::Elicitation | Purpose::ElicitationSep => {
            let action = result.get("action").and_then(Value::as_str);
            let content = result.get("content").cloned().unwrap_or_else(|| json!({}));
            match (action, purpose) {
                (None, _) => error_result("Elicitation error: the response had no action"),
                (Some(action), Purpose::Elicitation) => {
                    text_result(format!("User response: action={action}, content={content}"))
                }
                (Some(action), _) => text_result(format!(
                    "Elicitation completed: action={action}, content={content}"
                )),
            }
        }
    };
    send_result(&call_id, answer);
}

// ---- tools ----------------------------------------------------------------------------------

/// `None` means the answer is sent later by another thread.
fn call_tool(fx: &Arc<Fixture>, id: &Value, params: &Value) -> Option<Result<Value, RpcError>> {
    let name = match str_param(params, "name") {
        Ok(name) => name,
        Err(e) => return Some(Err(e)),
    };
    let empty = Map::new();
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Some(Err(RpcError::invalid_params(
                "'arguments' must be an object",
            )))
        }
    };
    let result = match name {
        "test_simple_text" => text_result("This is a simple text response for testing."),
        "test_image_content" => {
            json!({"content": [{"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}]})
        }
        "test_audio_content" => {
            json!({"content": [{"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"}]})
        }
        "test_embedded_resource" => json!({"content": [{"type": "resource", "resource": {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content."
        }}]}),
        "test_multiple_content_types" => json!({"content": [
            text_content("Multiple content types test:"),
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},
            {"type": "resource", "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": json!({"test": "data", "value": 123}).to_string()
            }}
        ]}),
        "test_error_handling" => {
            error_result("This tool intentionally returns an error for testing")
        }
        "test_tool_with_logging" => {
            run_later(fx, id, move |fx, alive| {
                for (i, text) in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ]
                .into_iter()
                .enumerate()
                {
                    if i > 0 {
                        thread::sleep(STEP_DELAY);
                    }
                    if !alive(fx) {
                        return None;
                    }
                    fx.log("info", text);
                }
                Some(text_result("Tool with logging executed successfully"))
            });
            return None;
        }
        "test_tool_with_progress" => {
            let token = params
                .get("_meta")
                .and_then(|m| m.get("progressToken"))
                .filter(|t| t.is_string() || t.is_number())
                .cloned();
            run_later(fx, id, move |fx, alive| {
                for (i, progress) in [0u32, 50, 100].into_iter().enumerate() {
                    if i > 0 {
                        thread::sleep(STEP_DELAY);
                    }
                    if !alive(fx) {
                        return None;
                    }
                    if let Some(token) = &token {
                        send_notification(
                            "notifications/progress",
                            json!({
                                "progressToken": token,
                                "progress": progress,
                                "total": 100,
                                "message": format!("Completed step {progress} of 100")
                            }),
                        );
                    }
                }
                Some(text_result(match &token {
                    Some(token) => format!("Progress reported with token {token}"),
                    None => "Completed without a progress token".to_owned(),
                }))
            });
            return None;
        }
        "test_reconnection" => {
            run_later(fx, id, |_, _| {
                thread::sleep(Duration::from_millis(100));
                Some(text_result(
                    "Reconnection test completed successfully. If you received this, the client \
                     properly reconnected after stream closure.",
                ))
            });
            return None;
        }
        "test_sampling" => {
            let prompt = match str_arg(args, "prompt") {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            let request = json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                "maxTokens": 100
            });
            ask_client(fx, id, Purpose::Sampling, "sampling/createMessage", request);
            return None;
        }
        "test_elicitation" => {
            let message = match str_arg(args, "message") {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            let request = json!({
                "mode": "form",
                "message": message,
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                }
            });
            ask_client(fx, id, Purpose::Elicitation, "elicitation/create", request);
            return None;
        }
        "test_elicitation_sep1034_defaults" => {
            let request = json!({
                "mode": "form",
                "message": "Please review and update the form fields with defaults",
                "requestedSchema": {"type": "object", "properties": {
                    "name": {"type": "string", "description": "User name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User age", "default": 30},
                    "score": {"type": "number", "description": "User score", "default": 95.5},
                    "status": {"type": "string", "description": "User status",
                               "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Verification status",
                                 "default": true}
                }, "required": []}
            });
            ask_client(
                fx,
                id,
                Purpose::ElicitationSep,
                "elicitation/create",
                request,
            );
            return None;
        }
        "test_elicitation_sep1330_enums" => {
            let titled = |first: &str, second: &str, third: &str| {
                json!([
                    {"const": "value1", "title": first},
                    {"const": "value2", "title": second},
                    {"const": "value3", "title": third}
                ])
            };
            let options = json!(["option1", "option2", "option3"]);
            let request = json!({
                "mode": "form",
                "message": "Please select options from the enum fields",
                "requestedSchema": {"type": "object", "properties": {
                    "untitledSingle": {
                        "type": "string",
                        "description": "Select one option",
                        "enum": options
                    },
                    "titledSingle": {
                        "type": "string",
                        "description": "Select one option with titles",
                        "oneOf": titled("First Option", "Second Option", "Third Option")
                    },
                    "legacyEnum": {
                        "type": "string",
                        "description": "Select one option (legacy)",
                        "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"]
                    },
                    "untitledMulti": {
                        "type": "array",
                        "description": "Select multiple options",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {"type": "string", "enum": options}
                    },
                    "titledMulti": {
                        "type": "array",
                        "description": "Select multiple options with titles",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {"anyOf": titled("First Choice", "Second Choice", "Third Choice")}
                    }
                }, "required": []}
            });
            ask_client(
                fx,
                id,
                Purpose::ElicitationSep,
                "elicitation/create",
                request,
            );
            return None;
        }
        "json_schema_2020_12_tool" => text_result(format!(
            "JSON Schema 2020-12 tool called with: {}",
            Value::Object(args.clone())
        )),
        "test_dynamic_tool" if fx.dynamic_added.load(Ordering::SeqCst) => {
            text_result("This tool was added dynamically.")
        }
        other => return Some(Err(RpcError::new(-32602, format!("Unknown tool: {other}")))),
    };
    Some(Ok(result))
}

/// Runs `work` on its own thread and answers the tool call `id` with what it returns, unless the
/// call is cancelled first. `work` gets an `alive` check to stop early after a cancellation.
fn run_later<F>(fx: &Arc<Fixture>, id: &Value, work: F)
where
    F: FnOnce(&Fixture, &dyn Fn(&Fixture) -> bool) -> Option<Value> + Send + 'static,
{
    let key = id_key(id);
    lock(&fx.running).insert(key.clone());
    let fx = Arc::clone(fx);
    let id = id.clone();
    thread::spawn(move || {
        let alive_key = key.clone();
        let alive = move |fx: &Fixture| lock(&fx.running).contains(&alive_key);
        let result = work(&fx, &alive);
        // Hold the lock while answering so a cancellation is either fully before or after.
        let mut running = lock(&fx.running);
        if running.remove(&key) {
            if let Some(result) = result {
                send_result(&id, result);
            }
        }
    });
}

/// Sends a server→client request on behalf of the tool call `call_id`; `handle_response` answers
/// the call when the client responds, or a timer does after `CLIENT_REPLY_TIMEOUT`.
fn ask_client(fx: &Arc<Fixture>, call_id: &Value, purpose: Purpose, method: &str, params: Value) {
    let n = fx
        .next_request
        .fetch_add(1, Ordering::SeqCst)
        .wrapping_add(1);
    let our_id = format!("srv-{n}");
    lock(&fx.outgoing).insert(
        our_id.clone(),
        Outgoing {
            call_id: call_id.clone(),
            purpose,
        },
    );
    send(&json!({"jsonrpc": "2.0", "id": our_id, "method": method, "params": params}));
    let fx = Arc::clone(fx);
    let method = method.to_owned();
    thread::spawn(move || {
        thread::sleep(CLIENT_REPLY_TIMEOUT);
        let expired = lock(&fx.outgoing).remove(&our_id);
        if let Some(Outgoing { call_id, .. }) = expired {
            eprintln!("conformance-server: no response to {method} {our_id}; giving up");
            send_notification(
                "notifications/cancelled",
                json!({"requestId": our_id, "reason": "timed out"}),
            );
            send_result(
                &call_id,
                error_result(format!("{method}: no response from the client within 60 s")),
            );
        }
    });
}

fn tool_list(fx: &Fixture) -> Value {
    let no_args = json!({"type": "object", "properties": {}});
    let tool = |name: &str, description: &str, schema: &Value| {
        let mut t = Map::new();
        t.insert("name".to_owned(), json!(name));
        t.insert("description".to_owned(), json!(description));
        t.insert("inputSchema".to_owned(), schema.clone());
        Value::Object(t)
    };
    let string_arg = |arg: &str, description: &str| {
        json!({
            "type": "object",
            "properties": {arg: {"type": "string", "description": description}},
            "required": [arg]
        })
    };
    let mut tools = vec![
        tool(
            "test_simple_text",
            "Tests simple text content response",
            &no_args,
        ),
        tool(
            "test_image_content",
            "Tests image content response",
            &no_args,
        ),
        tool(
            "test_audio_content",
            "Tests audio content response",
            &no_args,
        ),
        tool(
            "test_embedded_resource",
            "Tests embedded resource content response",
            &no_args,
        ),
        tool(
            "test_multiple_content_types",
            "Tests response with multiple content types (text, image, resource)",
            &no_args,
        ),
        tool(
            "test_tool_with_logging",
            "Tests tool that emits log messages during execution",
            &no_args,
        ),
        tool(
            "test_tool_with_progress",
            "Tests tool that reports progress notifications",
            &no_args,
        ),
        tool(
            "test_error_handling",
            "Tests error response handling",
            &no_args,
        ),
        tool(
            "test_reconnection",
            "Tests SSE stream disconnection and client reconnection (SEP-1699)",
            &no_args,
        ),
        tool(
            "test_sampling",
            "Tests server-initiated sampling (LLM completion request)",
            &string_arg("prompt", "The prompt to send to the LLM"),
        ),
        tool(
            "test_elicitation",
            "Tests server-initiated elicitation (user input request)",
            &string_arg("message", "The message to show the user"),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Tests elicitation with default values per SEP-1034",
            &no_args,
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Tests elicitation with enum schema improvements per SEP-1330",
            &no_args,
        ),
        tool(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
            &json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"type": "object", "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"}
                }}},
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"}
                },
                "additionalProperties": false
            }),
        ),
    ];
    if fx.dynamic_added.load(Ordering::SeqCst) {
        tools.push(tool(
            "test_dynamic_tool",
            "A tool added after startup",
            &no_args,
        ));
    }
    Value::Array(tools)
}

// ---- resources ------------------------------------------------------------------------------

fn resource_list(fx: &Fixture) -> Value {
    let mut resources = vec![
        json!({"uri": "test://static-text", "name": "static-text", "title": "Static Text Resource",
               "description": "A static text resource for testing", "mimeType": "text/plain"}),
        json!({"uri": "test://static-binary", "name": "static-binary",
               "title": "Static Binary Resource",
               "description": "A static binary resource (image) for testing",
               "mimeType": "image/png"}),
        json!({"uri": WATCHED_URI, "name": "watched-resource", "title": "Watched Resource",
               "description": "A resource that can be subscribed to", "mimeType": "text/plain"}),
    ];
    if fx.dynamic_added.load(Ordering::SeqCst) {
        resources.push(
            json!({"uri": "test://dynamic-resource", "name": "dynamic-resource",
                              "description": "A resource added after startup",
                              "mimeType": "text/plain"}),
        );
    }
    Value::Array(resources)
}

fn read_resource(fx: &Fixture, params: &Value) -> Result<Value, RpcError> {
    let uri = str_param(params, "uri")?;
    let text = |mime: &str, text: String| {
        let item = json!({"uri": uri, "mimeType": mime, "text": text});
        json!({ "contents": [item] })
    };
    match uri {
        "test://static-text" => Ok(text(
            "text/plain",
            "This is the content of the static text resource.".to_owned(),
        )),
        "test://static-binary" => Ok(json!({"contents": [
            {"uri": uri, "mimeType": "image/png", "blob": PNG_BASE64}
        ]})),
        WATCHED_URI => {
            let version = fx.watched_version.load(Ordering::SeqCst);
            Ok(text(
                "text/plain",
                if version == 0 {
                    "Watched resource content".to_owned()
                } else {
                    format!("Watched resource content (version {version})")
                },
            ))
        }
        "test://dynamic-resource" if fx.dynamic_added.load(Ordering::SeqCst) => Ok(text(
            "text/plain",
            "This resource was added dynamically.".to_owned(),
        )),
        _ => match template_id(uri) {
            Some(id) => Ok(text(
                "application/json",
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                    .to_string(),
            )),
            None => Err(RpcError {
                code: -32602,
                message: format!("Resource not found: {uri}"),
                data: Some(json!({ "uri": uri })),
            }),
        },
    }
}

/// The `{id}` of `test://template/{id}/data`: one non-empty path segment.
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

// ---- prompts and completion -----------------------------------------------------------------

fn prompt_list(fx: &Fixture) -> Value {
    let arg = |name: &str, description: &str| json!({"name": name, "description": description, "required": true});
    let mut prompts = vec![
        json!({"name": "test_simple_prompt", "title": "Simple Test Prompt",
               "description": "A simple prompt without arguments"}),
        json!({"name": "test_prompt_with_arguments", "title": "Prompt With Arguments",
               "description": "A prompt with required arguments",
               "arguments": [arg("arg1", "First test argument"),
                             arg("arg2", "Second test argument")]}),
        json!({"name": "test_prompt_with_embedded_resource",
               "title": "Prompt With Embedded Resource",
               "description": "A prompt that includes an embedded resource",
               "arguments": [arg("resourceUri", "URI of the resource to embed")]}),
        json!({"name": "test_prompt_with_image", "title": "Prompt With Image",
               "description": "A prompt that includes image content"}),
    ];
    if fx.dynamic_added.load(Ordering::SeqCst) {
        prompts.push(json!({"name": "test_dynamic_prompt",
                            "description": "A prompt added after startup"}));
    }
    Value::Array(prompts)
}

fn get_prompt(fx: &Fixture, params: &Value) -> Result<Value, RpcError> {
    let name = str_param(params, "name")?;
    let empty = Map::new();
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(RpcError::invalid_params("'arguments' must be an object")),
    };
    let user = |content: Value| json!({"role": "user", "content": content});
    let messages = match name {
        "test_simple_prompt" => vec![user(text_content("This is a simple prompt for testing."))],
        "test_prompt_with_arguments" => {
            let arg1 = str_arg(args, "arg1")?;
            let arg2 = str_arg(args, "arg2")?;
            vec![user(text_content(format!(
                "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
            )))]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = str_arg(args, "resourceUri")?;
            vec![
                user(json!({"type": "resource", "resource": {
                    "uri": uri,
                    "mimeType": "text/plain",
                    "text": "Embedded resource content for testing."
                }})),
                user(text_content("Please process the embedded resource above.")),
            ]
        }
        "test_prompt_with_image" => vec![
            user(json!({"type": "image", "data": PNG_BASE64, "mimeType": "image/png"})),
            user(text_content("Please analyze the image above.")),
        ],
        "test_dynamic_prompt" if fx.dynamic_added.load(Ordering::SeqCst) => {
            vec![user(text_content("This prompt was added dynamically."))]
        }
        other => return Err(RpcError::new(-32602, format!("Unknown prompt: {other}"))),
    };
    Ok(json!({ "messages": messages }))
}

fn complete(params: &Value) -> Result<Value, RpcError> {
    let reference = params
        .get("ref")
        .filter(|r| r.is_object())
        .ok_or_else(|| RpcError::invalid_params("missing object 'ref'"))?;
    let argument = params
        .get("argument")
        .filter(|a| a.is_object())
        .ok_or_else(|| RpcError::invalid_params("missing object 'argument'"))?;
    let arg_name = str_param(argument, "name")?;
    let prefix = str_param(argument, "value")?;
    let ref_type = reference.get("type").and_then(Value::as_str);
    let candidates: &[&str] = match (ref_type, arg_name) {
        (Some("ref/prompt"), "arg1" | "arg2")
            if reference.get("name").and_then(Value::as_str)
                == Some("test_prompt_with_arguments") =>
        {
            &["paris", "park", "party", "test", "testValue1", "testValue2"]
        }
        (Some("ref/resource"), "id")
            if reference.get("uri").and_then(Value::as_str)
                == Some("test://template/{id}/data") =>
        {
            &["1", "2", "3", "123"]
        }
        (Some("ref/prompt" | "ref/resource"), _) => &[],
        _ => {
            return Err(RpcError::invalid_params(
                "'ref.type' must be ref/prompt or ref/resource",
            ))
        }
    };
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|c| c.starts_with(prefix))
        .collect();
    Ok(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}))
}

// ---- optional automatic behaviours ----------------------------------------------------------

fn start_dynamic_timer(fx: &Arc<Fixture>, ms: u64) {
    let fx = Arc::clone(fx);
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(ms));
        fx.dynamic_added.store(true, Ordering::SeqCst);
        for kind in ["tools", "resources", "prompts"] {
            send_notification(&format!("notifications/{kind}/list_changed"), json!({}));
        }
    });
}

fn start_watch_timer(fx: &Arc<Fixture>, ms: u64) {
    let fx = Arc::clone(fx);
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(ms));
        fx.watched_version.fetch_add(1, Ordering::SeqCst);
        if lock(&fx.subscriptions).contains(WATCHED_URI) {
            send_notification(
                "notifications/resources/updated",
                json!({"uri": WATCHED_URI}),
            );
        }
    });
}

// ---- argument helpers -----------------------------------------------------------------------

fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string '{name}'")))
}

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string argument '{name}'")))
}
