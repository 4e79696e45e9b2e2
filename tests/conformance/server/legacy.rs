//! Handshake-era requests (≤ 2025-11-25): `initialize`, sessions of state in this process, and
//! interactive tools as server→client requests whose responses finish the call.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::catalog::{
    complete, get_prompt, prompt_list, read_resource, resource_list, str_param, template_list,
};
use crate::flows::{self, Answer, Ask, Caps, Step, PROMPT_FLOW};
use crate::tools::{call_plain_tool, tool_list};
use crate::{
    error_result, id_key, lock, send, send_error, send_notification, send_result, Era, Fixture,
    RpcError, LOG_LEVELS,
};

const SUPPORTED_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const LATEST_VERSION: &str = "2025-11-25";
/// How long a tool call waits for the client's answer to a server→client request.
const CLIENT_REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A legacy interactive call waiting for the client's responses.
pub(crate) struct Pending {
    call_id: Value,
    name: String,
    args: Map<String, Value>,
    round: u32,
    memo: Value,
    /// Our server→client request ids still unanswered in this round.
    waiting: HashSet<String>,
    /// This round's answers by key.
    answers: HashMap<String, Answer>,
}

/// A server→client request waiting for the client's response.
pub(crate) struct Outgoing {
    /// `id_key` of the call it belongs to.
    call_key: String,
    key: &'static str,
}

/// `None` means the request is answered later, from another thread (or never, if cancelled).
pub(crate) fn handle_request(
    fx: &Arc<Fixture>,
    method: &str,
    id: &Value,
    params: &Value,
) -> Option<Result<Value, RpcError>> {
    let result = match method {
        "initialize" => {
            fx.initialized.store(true, Ordering::SeqCst);
            Ok(initialize(params))
        }
        "ping" => Ok(json!({})),
        "logging/setLevel" => set_level(fx, params),
        "tools/list" => Ok(json!({ "tools": tool_list(fx) })),
        "tools/call" => return call_tool(fx, id, params),
        "resources/list" => Ok(json!({ "resources": resource_list(fx) })),
        "resources/templates/list" => Ok(json!({ "resourceTemplates": template_list() })),
        "resources/read" => read_resource(fx, params, fx.legacy_only),
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
        "prompts/get" if str_param(params, "name").ok() == Some(PROMPT_FLOW) => {
            return start_flow(fx, id, PROMPT_FLOW, Map::new());
        }
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
        "capabilities": crate::capabilities(),
        "serverInfo": crate::server_info()
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

fn call_tool(fx: &Arc<Fixture>, id: &Value, params: &Value) -> Option<Result<Value, RpcError>> {
    let (name, args) = match crate::tool_name_and_args(params) {
        Ok(pair) => pair,
        Err(e) => return Some(Err(e)),
    };
    if let Some(answer) = call_plain_tool(fx, Era::Legacy, id, name, &args, params) {
        return answer;
    }
    if flows::kind(name).is_some() {
        return start_flow(fx, id, name, args);
    }
    Some(Err(RpcError::new(-32602, format!("Unknown tool: {name}"))))
}

/// Starts an interactive call: its first round's server→client requests.
fn start_flow(
    fx: &Arc<Fixture>,
    id: &Value,
    name: &str,
    args: Map<String, Value>,
) -> Option<Result<Value, RpcError>> {
    let step = match flows::step(name, &args, Caps::ALL, 0, &Value::Null, &HashMap::new()) {
        Ok(step) => step,
        Err(e) => return Some(Err(e)),
    };
    let mut pending = Pending {
        call_id: id.clone(),
        name: name.to_owned(),
        args,
        round: 0,
        memo: Value::Null,
        waiting: HashSet::new(),
        answers: HashMap::new(),
    };
    match step {
        Step::Done(result) => Some(Ok(result)),
        Step::Ask(asks) | Step::Next { asks, .. } => {
            ask_round(fx, &mut pending, asks);
            lock(&fx.pending).insert(id_key(id), pending);
            None
        }
    }
}

/// Sends one round's requests. Ids: the key for the 2026 flows (`key-N` while `key` is still
/// outstanding), `srv-N` for the 0.1.16 ones, as before.
fn ask_round(fx: &Arc<Fixture>, pending: &mut Pending, asks: Vec<Ask>) {
    let keyed = flows::kind(&pending.name).is_some_and(|k| k.keyed_ids);
    let call_key = id_key(&pending.call_id);
    for ask in asks {
        let our_id = {
            let mut outgoing = lock(&fx.outgoing);
            let our_id = if keyed {
                (1u32..)
                    .map(|n| match n {
                        1 => ask.key.to_owned(),
                        n => format!("{}-{n}", ask.key),
                    })
                    .find(|candidate| !outgoing.contains_key(candidate))
                    .unwrap_or_else(|| ask.key.to_owned())
            } else {
                let n = fx
                    .next_request
                    .fetch_add(1, Ordering::SeqCst)
                    .wrapping_add(1);
                format!("srv-{n}")
            };
            outgoing.insert(
                our_id.clone(),
                Outgoing {
                    call_key: call_key.clone(),
                    key: ask.key,
                },
            );
            our_id
        };
        pending.waiting.insert(our_id.clone());
        send(&json!({"jsonrpc": "2.0", "id": our_id, "method": ask.method, "params": ask.params}));
        start_reply_timer(fx, our_id, ask.method);
    }
}

/// Gives up on a server→client request after `CLIENT_REPLY_TIMEOUT`: cancels it and answers
/// the call with an `isError` result.
fn start_reply_timer(fx: &Arc<Fixture>, our_id: String, method: &'static str) {
    let fx = Arc::clone(fx);
    thread::spawn(move || {
        thread::sleep(CLIENT_REPLY_TIMEOUT);
        let expired = lock(&fx.outgoing).remove(&our_id);
        let Some(Outgoing { call_key, .. }) = expired else {
            return;
        };
        eprintln!("conformance-server: no response to {method} {our_id}; giving up");
        send_notification(
            "notifications/cancelled",
            json!({"requestId": our_id, "reason": "timed out"}),
        );
        if let Some(pending) = lock(&fx.pending).remove(&call_key) {
            drop_outgoing(&fx, &pending, false);
            send_result(
                &pending.call_id,
                error_result(format!("{method}: no response from the client within 60 s")),
            );
        }
    });
}

/// The client's response to one of our server→client requests.
pub(crate) fn handle_response(fx: &Arc<Fixture>, id: &Value, msg: &Map<String, Value>) {
    let outgoing = id
        .as_str()
        .and_then(|our_id| lock(&fx.outgoing).remove(our_id));
    let Some(Outgoing { call_key, key }) = outgoing else {
        eprintln!("conformance-server: ignoring response with unknown id {id}");
        return;
    };
    let answer = match msg.get("error") {
        Some(error) => Answer::Err(
            error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned),
        ),
        None => Answer::Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
    };
    let mut all = lock(&fx.pending);
    let Some(pending) = all.get_mut(&call_key) else {
        return;
    };
    if let Some(our_id) = id.as_str() {
        pending.waiting.remove(our_id);
    }
    pending.answers.insert(key.to_owned(), answer);
    if !pending.waiting.is_empty() {
        return;
    }
    let step = flows::step(
        &pending.name,
        &pending.args,
        Caps::ALL,
        pending.round,
        &pending.memo,
        &pending.answers,
    );
    match step {
        Ok(Step::Ask(asks)) => ask_round(fx, pending, asks),
        Ok(Step::Next { memo, asks }) => {
            pending.round = pending.round.saturating_add(1);
            pending.memo = memo;
            pending.answers.clear();
            ask_round(fx, pending, asks);
        }
        Ok(Step::Done(result)) => {
            if let Some(pending) = all.remove(&call_key) {
                send_result(&pending.call_id, result);
            }
        }
        Err(err) => {
            if let Some(pending) = all.remove(&call_key) {
                send_error(&pending.call_id, err);
            }
        }
    }
}

/// The client cancelled a legacy interactive call: forget it and cancel what it was waiting for.
pub(crate) fn cancel_flow(fx: &Fixture, key: &str) {
    if let Some(pending) = lock(&fx.pending).remove(key) {
        drop_outgoing(fx, &pending, true);
    }
}

fn drop_outgoing(fx: &Fixture, pending: &Pending, notify: bool) {
    let mut outgoing = lock(&fx.outgoing);
    for our_id in &pending.waiting {
        if outgoing.remove(our_id).is_some() && notify {
            send_notification(
                "notifications/cancelled",
                json!({"requestId": our_id, "reason": "the tool call was cancelled"}),
            );
        }
    }
}
