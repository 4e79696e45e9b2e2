//! 2026-07-28 requests (per-request `_meta`, no handshake): the `_meta` ladder, `server/discover`,
//! `resultType` and cache fields, MRTR (`InputRequiredResult` + sealed `requestState`) and
//! `subscriptions/listen`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::catalog::{
    complete, get_prompt, prompt_list, read_resource, resource_list, str_param, template_list,
};
use crate::flows::{self, Answer, Ask, Caps, Step, PROMPT_FLOW};
use crate::tools::{call_plain_tool, tool_list};
use crate::{lock, send_notification, state, Era, Fixture, Listen, RpcError, LOG_LEVELS};

pub(crate) const MODERN_VERSION: &str = "2026-07-28";
pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
pub(crate) const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";
/// Cache hints: discovery rarely changes, lists may (dynamic additions), reads may any time
/// (the watched resource).
const TTL_DISCOVER_MS: u64 = 3_600_000;
const TTL_LIST_MS: u64 = 60_000;
const TTL_READ_MS: u64 = 0;

/// The request's `_meta` carries the 2026 version key: it is a modern request.
pub(crate) fn is_modern(params: &Value) -> bool {
    params
        .get("_meta")
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key(META_VERSION))
}

/// A modern request. `None`: answered later (a timed tool) or never (a listen).
pub(crate) fn handle_request(
    fx: &Arc<Fixture>,
    method: &str,
    id: &Value,
    params: &Value,
) -> Option<Result<Value, RpcError>> {
    let (caps, log_level) = match check_meta(params) {
        Ok(parsed) => parsed,
        Err(e) => return Some(Err(e)),
    };
    let era = Era::Modern { log_level };
    let (result, ttl) = match method {
        "server/discover" => (Ok(discover()), Some(TTL_DISCOVER_MS)),
        "subscriptions/listen" => return listen(fx, id, params).err().map(Err),
        "tools/list" => (Ok(json!({ "tools": tool_list(fx) })), Some(TTL_LIST_MS)),
        "tools/call" => match call_tool(fx, era, caps, id, params)? {
            Ok(result) => (Ok(result), None),
            Err(e) => (Err(e), None),
        },
        "resources/list" => (
            Ok(json!({ "resources": resource_list(fx) })),
            Some(TTL_LIST_MS),
        ),
        "resources/templates/list" => (
            Ok(json!({ "resourceTemplates": template_list() })),
            Some(TTL_LIST_MS),
        ),
        "resources/read" => (read_resource(fx, params, false), Some(TTL_READ_MS)),
        "prompts/list" => (Ok(json!({ "prompts": prompt_list(fx) })), Some(TTL_LIST_MS)),
        "prompts/get" if str_param(params, "name").ok() == Some(PROMPT_FLOW) => {
            (run_flow(PROMPT_FLOW, &Map::new(), caps, params), None)
        }
        "prompts/get" => (get_prompt(fx, params), None),
        "completion/complete" => (complete(params), None),
        // `initialize`, `ping`, `logging/setLevel`, `resources/(un)subscribe` are gone in
        // 2026-07-28; like any unknown method they are -32601.
        _ => (Err(RpcError::new(-32601, "Method not found")), None),
    };
    Some(result.map(|r| finish(r, ttl)))
}

/// Adds `resultType: "complete"` unless the result says otherwise (an `InputRequiredResult`),
/// and the cache fields of a complete cacheable result.
pub(crate) fn finish(mut result: Value, ttl: Option<u64>) -> Value {
    if let Value::Object(map) = &mut result {
        let complete = !map.contains_key("resultType");
        if complete {
            map.insert("resultType".to_owned(), json!("complete"));
            if let Some(ttl) = ttl {
                map.insert("ttlMs".to_owned(), json!(ttl));
                map.insert("cacheScope".to_owned(), json!("public"));
            }
        }
    }
    result
}

/// The `_meta` ladder: supported version (-32022), then `clientCapabilities` (-32602), then a
/// valid `logLevel` (-32602). Gives the declared capabilities and the log threshold.
fn check_meta(params: &Value) -> Result<(Caps, Option<usize>), RpcError> {
    let meta = params.get("_meta").and_then(Value::as_object);
    let version = meta.and_then(|m| m.get(META_VERSION));
    match version.and_then(Value::as_str) {
        Some(MODERN_VERSION) => {}
        // `server/discover` and `subscriptions/listen` come here without it.
        None if version.is_none() => {
            return Err(RpcError::invalid_params(format!(
                "_meta must carry {META_VERSION}"
            )))
        }
        Some(_) | None => {
            return Err(RpcError {
                code: -32022,
                message: "Unsupported protocol version".to_owned(),
                data: Some(json!({
                    "supported": [MODERN_VERSION],
                    "requested": version.cloned().unwrap_or(Value::Null)
                })),
            })
        }
    }
    let caps = meta
        .and_then(|m| m.get(META_CAPS))
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params(format!("_meta must carry {META_CAPS}")))?;
    let declared = |name: &str| caps.get(name).is_some_and(Value::is_object);
    let caps = Caps {
        elicitation: declared("elicitation"),
        roots: declared("roots"),
        sampling: declared("sampling"),
    };
    let log_level = match meta.and_then(|m| m.get(META_LOG_LEVEL)) {
        None => None,
        Some(level) => Some(
            level
                .as_str()
                .and_then(|l| LOG_LEVELS.iter().position(|known| *known == l))
                .ok_or_else(|| RpcError::invalid_params(format!("unknown log level {level}")))?,
        ),
    };
    Ok((caps, log_level))
}

fn discover() -> Value {
    json!({
        "supportedVersions": [MODERN_VERSION],
        "capabilities": crate::capabilities(),
        "instructions": "Conformance fixture: every tool, resource and prompt of the suite.",
        "_meta": {META_SERVER_INFO: crate::server_info()}
    })
}

/// `None`: answered later by a timed tool's thread.
fn call_tool(
    fx: &Arc<Fixture>,
    era: Era,
    caps: Caps,
    id: &Value,
    params: &Value,
) -> Option<Result<Value, RpcError>> {
    let (name, args) = match crate::tool_name_and_args(params) {
        Ok(pair) => pair,
        Err(e) => return Some(Err(e)),
    };
    if name == "test_missing_capability" {
        // The tool needs sampling; a client that did not declare it gets -32021.
        return Some(if caps.sampling {
            Ok(crate::text_result("Success"))
        } else {
            Err(missing_capabilities(&["sampling/createMessage"]))
        });
    }
    if let Some(answer) = call_plain_tool(fx, era, id, name, &args, params) {
        return answer;
    }
    if flows::kind(name).is_some() {
        return Some(run_flow(name, &args, caps, params));
    }
    Some(Err(RpcError::new(-32602, format!("Unknown tool: {name}"))))
}

/// One round of an interactive tool or prompt: an `InputRequiredResult` or the final result.
fn run_flow(
    name: &str,
    args: &Map<String, Value>,
    caps: Caps,
    params: &Value,
) -> Result<Value, RpcError> {
    let kind = flows::kind(name).ok_or_else(|| RpcError::invalid_params("not interactive"))?;
    let mut answers = input_responses(params)?;
    let (round, memo) = match (kind.sealed, params.get("requestState")) {
        (false, _) => (0, Value::Null),
        // Answers are only trusted together with the state that asked for them.
        (true, None) => {
            answers.clear();
            (0, Value::Null)
        }
        (true, Some(Value::String(text))) => {
            let opened = state::open(name, text).map_err(RpcError::invalid_params)?;
            (opened.round, opened.memo)
        }
        (true, Some(_)) => return Err(RpcError::invalid_params("requestState must be a string")),
    };
    let step = flows::step(name, args, caps, round, &memo, &answers)?;
    let (round, memo, asks) = match step {
        Step::Done(result) => return Ok(result),
        Step::Ask(asks) => (round, memo, asks),
        Step::Next { memo, asks } => (round.saturating_add(1), memo, asks),
    };
    if !kind.adaptive {
        let missing: Vec<&str> = asks
            .iter()
            .filter(|a| !caps.allows(a.method))
            .map(|a| a.method)
            .collect();
        if !missing.is_empty() {
            return Err(missing_capabilities(&missing));
        }
    }
    let mut irr = Map::new();
    irr.insert("resultType".to_owned(), json!("input_required"));
    irr.insert("inputRequests".to_owned(), input_requests(asks));
    if kind.sealed {
        irr.insert(
            "requestState".to_owned(),
            json!(state::seal(name, round, &memo)),
        );
    }
    Ok(Value::Object(irr))
}

fn input_requests(asks: Vec<Ask>) -> Value {
    let mut requests = Map::new();
    for ask in asks {
        requests.insert(
            ask.key.to_owned(),
            json!({"method": ask.method, "params": ask.params}),
        );
    }
    Value::Object(requests)
}

/// `params.inputResponses`: absent, or an object of objects (else -32602). Each value is
/// checked against the result type its key's method would give only loosely (an object):
/// the flows read the fields they need and fall back when they are missing.
fn input_responses(params: &Value) -> Result<HashMap<String, Answer>, RpcError> {
    let Some(responses) = params.get("inputResponses") else {
        return Ok(HashMap::new());
    };
    let responses = responses
        .as_object()
        .ok_or_else(|| RpcError::invalid_params("inputResponses must be an object"))?;
    responses
        .iter()
        .map(|(key, value)| {
            if value.is_object() {
                Ok((key.clone(), Answer::Ok(value.clone())))
            } else {
                Err(RpcError::invalid_params(format!(
                    "inputResponses.{key} must be an object (a result)"
                )))
            }
        })
        .collect()
}

/// -32021 naming the capabilities the given input-request methods need.
fn missing_capabilities(methods: &[&str]) -> RpcError {
    let mut required = Map::new();
    for method in methods {
        let cap = match *method {
            "elicitation/create" => "elicitation",
            "roots/list" => "roots",
            _ => "sampling",
        };
        required.insert(cap.to_owned(), json!({}));
    }
    RpcError {
        code: -32021,
        message: "Missing required client capability".to_owned(),
        data: Some(json!({ "requiredCapabilities": required })),
    }
}

/// `subscriptions/listen`: acknowledges the honoured subset (every requested type: all are
/// supported) and registers the listen; it stays open until `notifications/cancelled`.
fn listen(fx: &Fixture, id: &Value, params: &Value) -> Result<(), RpcError> {
    let filter = params
        .get("notifications")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("'notifications' must be an object"))?;
    let flag = |name: &str| filter.get(name).and_then(Value::as_bool) == Some(true);
    let uris: Vec<String> = filter
        .get("resourceSubscriptions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let listen = Listen {
        id: id.clone(),
        tools: flag("toolsListChanged"),
        prompts: flag("promptsListChanged"),
        resources: flag("resourcesListChanged"),
        uris,
    };
    let mut honoured = Map::new();
    for (name, on) in [
        ("toolsListChanged", listen.tools),
        ("promptsListChanged", listen.prompts),
        ("resourcesListChanged", listen.resources),
    ] {
        if on {
            honoured.insert(name.to_owned(), json!(true));
        }
    }
    if filter.contains_key("resourceSubscriptions") {
        honoured.insert("resourceSubscriptions".to_owned(), json!(listen.uris));
    }
    // Registered under the lock that notifiers take, after the ack: nothing tagged with this
    // id can precede the acknowledgement.
    let mut listens = lock(&fx.listens);
    send_notification(
        "notifications/subscriptions/acknowledged",
        json!({"_meta": {META_SUBSCRIPTION: id}, "notifications": honoured}),
    );
    listens.push(listen);
    Ok(())
}
