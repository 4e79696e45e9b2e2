//! `conformance-server`: a stdio MCP server exposing exactly the tool/resource/prompt set that
//! the official conformance suite's server scenarios expect (`@modelcontextprotocol/conformance`
//! 0.1.16, active suite, PROTOCOL.md §2; and 0.2.0-alpha.12 `--requirements 2026-07-28`,
//! design/2026-07-28.md (e)). `scripts/conformance.sh` runs the suite against
//! `supergateway --stdio <this> --outputTransport streamableHttp`. This header is the contract.
//!
//! # Eras
//!
//! Per request: one whose `params._meta` has `io.modelcontextprotocol/protocolVersion` is
//! *modern* (2026-07-28, `modern.rs`); any other is *legacy* (handshake era, `legacy.rs`), and
//! everything below up to "Modern requests" describes legacy requests. Both share one process
//! state (subscriptions, dynamic additions, in-flight calls).
//!
//! With `CONFORMANCE_FIXTURE_ERA=legacy` the fixture is a handshake-era server only: until it
//! has answered `initialize`, `server/discover` and every request carrying the 2026 `_meta`
//! version get -32601 `"Method not found"`; after it, requests are served as legacy (unknown
//! `_meta` ignored, as a real legacy server does). `resources/read` of an unknown URI is then the
//! legacy -32002 (so a gateway's mapping to -32602 is exercised).
//!
//! With `CONFORMANCE_FIXTURE_ERA=modern` it is a 2026-07-28 server only: `initialize` and every
//! other request without the 2026 `_meta` version get -32022 `"Unsupported protocol version"`,
//! `data {"supported":["2026-07-28"],"requested":V}` (V: `params.protocolVersion`, else null), as
//! a modern-only server refuses the handshake era (the reverse bridge's tests use it).
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
//! - `test_param_header {region: string}` (`"x-mcp-header": "Region"`) → text "Region: REGION";
//!   `test_param_header_types {count?: integer, verbose?: boolean, target?: {zone?: string},
//!   note?: string}` (`x-mcp-header` `Count`, `Verbose`, `Zone`) → text "Arguments: JSON" (the
//!   arguments as received). Both eras; the headers are the gateway's business.
//! - The 2026-07-28 tools (no arguments), listed in both eras. Legacy requests get them as
//!   server→client requests whose ids are the keys below (`KEY-2`, `KEY-3`, ... while `KEY` is
//!   still outstanding); a round's requests are written back to back and the next round (or the
//!   result) follows when all are answered:
//!   `test_input_required_result_elicitation` (`user_name` → "Hello, NAME!"), `…_sampling`
//!   (`capital_question`), `…_list_roots` (`client_roots`), `…_request_state` and
//!   `…_tampered_state` (`confirm` → text with "state-ok"), `…_multiple_inputs` (`user_name`,
//!   `greeting`, `client_roots`), `…_multi_round` (`step1`, then `step2`), `…_capabilities`
//!   (`greeting` and `user_name` at once; an error answer does not end it),
//!   `test_streaming_elicitation` (`user_input`), `test_missing_capability` (`sampling_probe` →
//!   "Success"); prompt `test_input_required_result_prompt` (`user_context`).
//!   `test_logging_tool` logs one info message, then answers. `test_trigger_tool_change` /
//!   `test_trigger_prompt_change` send `notifications/{tools,prompts}/list_changed`.
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
//!   `test_prompt_with_embedded_resource {resourceUri}`, `test_prompt_with_image`,
//!   `test_input_required_result_prompt` (interactive, above).
//!
//! # Modern requests (2026-07-28)
//!
//! - `_meta` ladder: version other than `2026-07-28` → -32022 `{"supported":["2026-07-28"],
//!   "requested":V}`; no `clientCapabilities` object → -32602; `logLevel` not one of the 8 → -32602.
//!   `server/discover`/`subscriptions/listen` without the version key → -32602.
//! - `server/discover` → `supportedVersions ["2026-07-28"]`, the capabilities of `initialize`,
//!   `_meta.io.modelcontextprotocol/serverInfo`. Removed methods (`initialize`, `ping`,
//!   `logging/setLevel`, `resources/(un)subscribe`) → -32601.
//! - Every result carries `resultType`; complete results of `server/discover` (ttl 3600000),
//!   `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list` (60000) and
//!   `resources/read` (0) carry `ttlMs` and `cacheScope: "public"`. Unknown resource → -32602.
//! - Interactive tools/prompt (the keys above, and `sampling`/`elicitation` for the 0.1.16 ones)
//!   answer `{"resultType":"input_required","inputRequests":{KEY:{method,params}}}`; the retry's
//!   `inputResponses` (an object of objects, else -32602) finish them, and a missing key is
//!   asked again. `…_request_state`, `…_tampered_state`, `…_multiple_inputs`, `…_multi_round`
//!   add a `requestState` (HMAC-SHA256, `state.rs`); their answers count only with a valid
//!   state, an edited one is -32602. An input request the client's `clientCapabilities` cannot
//!   serve → -32021 `{"requiredCapabilities":{CAP:{}}}` (`test_missing_capability` without
//!   `sampling` too, else "Success"), except `…_capabilities` and `test_streaming_elicitation`,
//!   which ask only what the client can serve.
//! - `notifications/message` only with `_meta.io.modelcontextprotocol/logLevel`, at or above it.
//! - `subscriptions/listen {notifications}` → `notifications/subscriptions/acknowledged` with the
//!   honoured subset, then the opted-in list-changed / `resources/updated` notifications tagged
//!   `_meta.io.modelcontextprotocol/subscriptionId` = the listen's id, until
//!   `notifications/cancelled {requestId}` ends it (never answered).
//!
//! # Optional automatic behaviours (off by default; no active scenario checks them)
//!
//! - `CONFORMANCE_DYNAMIC_MS=N`: N ms after the first `notifications/initialized` (or the first
//!   modern request), adds tool
//!   `test_dynamic_tool`, resource `test://dynamic-resource` and prompt `test_dynamic_prompt`, and
//!   sends `notifications/{tools,resources,prompts}/list_changed`.
//! - `CONFORMANCE_WATCH_MS=N`: every N ms the watched resource's text changes and, while
//!   `test://watched-resource` is subscribed, `notifications/resources/updated {uri}` is sent.
//!   Both also go, tagged, to the listens that asked for them.

#![forbid(unsafe_code)]

mod catalog;
mod flows;
mod legacy;
mod modern;
mod state;
mod tools;

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::modern::META_SUBSCRIPTION;

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

/// 1×1 PNG pixel.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

const WATCHED_URI: &str = "test://watched-resource";

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

/// The era of the request being served, and what it changes in the answer.
#[derive(Clone, Copy)]
enum Era {
    Legacy,
    /// `log_level`: index into `LOG_LEVELS` of `_meta.logLevel`; `None`: no logs at all.
    Modern {
        log_level: Option<usize>,
    },
}

impl Era {
    fn is_legacy(self) -> bool {
        matches!(self, Self::Legacy)
    }
}

/// An open `subscriptions/listen` and what it opted in to.
struct Listen {
    id: Value,
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<String>,
}

#[derive(Default)]
struct Fixture {
    /// `CONFORMANCE_FIXTURE_ERA=legacy`: handshake era only.
    legacy_only: bool,
    /// `CONFORMANCE_FIXTURE_ERA=modern`: 2026-07-28 only.
    modern_only: bool,
    /// `initialize` was answered (the legacy-only mode serves `_meta` requests after that).
    initialized: AtomicBool,
    next_request: AtomicU64,
    /// Index into `LOG_LEVELS` of the lowest level still sent (legacy `logging/setLevel`).
    min_log_level: AtomicUsize,
    /// Our server→client request id → the legacy interactive call waiting for it.
    outgoing: Mutex<HashMap<String, legacy::Outgoing>>,
    /// `id_key` of a legacy interactive call → its state.
    pending: Mutex<HashMap<String, legacy::Pending>>,
    /// JSON text of the ids of tool calls running on a timer thread (for cancellation).
    running: Mutex<HashSet<String>>,
    /// Legacy `resources/subscribe`.
    subscriptions: Mutex<HashSet<String>>,
    listens: Mutex<Vec<Listen>>,
    dynamic_started: AtomicBool,
    dynamic_added: AtomicBool,
    watched_version: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn main() {
    let (legacy_only, modern_only) = match std::env::var("CONFORMANCE_FIXTURE_ERA") {
        Ok(era) if era == "legacy" => (true, false),
        Ok(era) if era == "modern" => (false, true),
        Ok(era) if era == "dual" || era.is_empty() => (false, false),
        Ok(era) => {
            eprintln!(
                "conformance-server: CONFORMANCE_FIXTURE_ERA={era:?} is not dual|legacy|modern"
            );
            std::process::exit(2);
        }
        Err(_) => (false, false),
    };
    let fx = Arc::new(Fixture {
        legacy_only,
        modern_only,
        ..Fixture::default()
    });
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

/// The capabilities of both `initialize` and `server/discover`.
fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "resources": {"subscribe": true, "listChanged": true},
        "prompts": {"listChanged": true},
        "logging": {},
        "completions": {}
    })
}

fn server_info() -> Value {
    json!({"name": "supergateway-conformance-server", "version": "1.0.0"})
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
    /// Sends `notifications/message` at `level`: legacy unless below `logging/setLevel`'s level;
    /// modern only if the request asked (`_meta.logLevel`) for this level or a lower one.
    fn log(&self, era: Era, level: &str, data: &str) {
        let rank = LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0);
        let threshold = match era {
            Era::Legacy => self.min_log_level.load(Ordering::SeqCst),
            Era::Modern { log_level: None } => return,
            Era::Modern {
                log_level: Some(min),
            } => min,
        };
        if rank >= threshold {
            send_notification(
                "notifications/message",
                json!({"level": level, "logger": LOGGER, "data": data}),
            );
        }
    }
}

/// `notifications/{kind}/list_changed`: tagged to each listen that opted in, and untagged to
/// everyone when `broadcast` (the legacy way).
fn notify_list_changed(fx: &Fixture, kind: &str, broadcast: bool) {
    let method = format!("notifications/{kind}/list_changed");
    let listens = lock(&fx.listens);
    for listen in listens.iter() {
        let wanted = match kind {
            "tools" => listen.tools,
            "prompts" => listen.prompts,
            _ => listen.resources,
        };
        if wanted {
            send_notification(&method, json!({"_meta": {META_SUBSCRIPTION: listen.id}}));
        }
    }
    if broadcast {
        send_notification(&method, json!({}));
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

/// `tools/call`'s `name` and `arguments` (absent or null = no arguments).
fn tool_name_and_args(params: &Value) -> Result<(&str, Map<String, Value>), RpcError> {
    let name = catalog::str_param(params, "name")?;
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(RpcError::invalid_params("'arguments' must be an object")),
    };
    Ok((name, args))
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
        (None, Some(id)) if is_response => legacy::handle_response(fx, id, &obj),
        _ if is_response => eprintln!("conformance-server: ignoring a response without id: {line}"),
        _ => send_error(
            usable_id.unwrap_or(&Value::Null),
            RpcError::new(-32600, "Invalid Request"),
        ),
    }
}

/// Chooses the era of one request. `None`: answered later (or never).
fn handle_request(
    fx: &Arc<Fixture>,
    method: &str,
    id: &Value,
    params: &Value,
) -> Option<Result<Value, RpcError>> {
    let modern_only = matches!(method, "server/discover" | "subscriptions/listen");
    let modern = modern::is_modern(params);
    if fx.legacy_only {
        // A legacy server knows neither the method nor the envelope before `initialize`;
        // afterwards it ignores `_meta` it does not know.
        if !fx.initialized.load(Ordering::SeqCst) && (modern || modern_only) {
            return Some(Err(RpcError::new(-32601, "Method not found")));
        }
        return legacy::handle_request(fx, method, id, params);
    }
    if fx.modern_only && !modern && !modern_only {
        let requested = params
            .get("protocolVersion")
            .cloned()
            .unwrap_or(Value::Null);
        return Some(Err(RpcError {
            code: -32022,
            message: "Unsupported protocol version".to_owned(),
            data: Some(serde_json::json!({"supported":["2026-07-28"],"requested":requested})),
        }));
    }
    if modern || modern_only {
        start_dynamic_timer_once(fx);
        return modern::handle_request(fx, method, id, params);
    }
    legacy::handle_request(fx, method, id, params)
}

fn handle_notification(fx: &Arc<Fixture>, method: &str, params: &Value) {
    match method {
        "notifications/cancelled" => {
            if let Some(request_id) = params.get("requestId") {
                let key = id_key(request_id);
                lock(&fx.running).remove(&key);
                legacy::cancel_flow(fx, &key);
                lock(&fx.listens).retain(|l| id_key(&l.id) != key);
            }
        }
        "notifications/initialized" => start_dynamic_timer_once(fx),
        _ => {}
    }
}

/// Runs `work` on its own thread and answers the tool call `id` with what it returns, unless the
/// call is cancelled first. `work` gets an `alive` check to stop early after a cancellation.
fn run_later<F>(fx: &Arc<Fixture>, id: &Value, era: Era, work: F)
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
                let result = match era {
                    Era::Legacy => result,
                    Era::Modern { .. } => modern::finish(result, None),
                };
                send_result(&id, result);
            }
        }
    });
}

// ---- optional automatic behaviours ----------------------------------------------------------

/// Only the first call starts the timer (a gateway may initialise this server repeatedly).
fn start_dynamic_timer_once(fx: &Arc<Fixture>) {
    let Some(ms) = env_ms("CONFORMANCE_DYNAMIC_MS") else {
        return;
    };
    if fx.dynamic_started.swap(true, Ordering::SeqCst) {
        return;
    }
    let fx = Arc::clone(fx);
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(ms));
        fx.dynamic_added.store(true, Ordering::SeqCst);
        for kind in ["tools", "resources", "prompts"] {
            notify_list_changed(&fx, kind, true);
        }
    });
}

fn start_watch_timer(fx: &Arc<Fixture>, ms: u64) {
    let fx = Arc::clone(fx);
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(ms));
        fx.watched_version.fetch_add(1, Ordering::SeqCst);
        let params = |tag: Option<&Value>| match tag {
            Some(id) => json!({"uri": WATCHED_URI, "_meta": {META_SUBSCRIPTION: id}}),
            None => json!({"uri": WATCHED_URI}),
        };
        for listen in lock(&fx.listens).iter() {
            if listen.uris.iter().any(|u| u == WATCHED_URI) {
                send_notification("notifications/resources/updated", params(Some(&listen.id)));
            }
        }
        if lock(&fx.subscriptions).contains(WATCHED_URI) {
            send_notification("notifications/resources/updated", params(None));
        }
    });
}
