//! The interactive tools and the one interactive prompt, written once for both eras. A flow is
//! a function of (arguments, the client's capabilities, the round, what earlier rounds carried
//! forward, the answers so far) that says: ask these input requests, go to the next round and
//! ask these, or done. `modern.rs` turns an ask into an `InputRequiredResult` (answers come
//! back in `inputResponses`); `legacy.rs` turns it into server→client requests (answers come
//! back as JSON-RPC responses).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::catalog::str_arg;
use crate::{error_result, text_content, text_result, RpcError};

/// The interactive prompt (`prompts/get`); every other flow is a tool.
pub(crate) const PROMPT_FLOW: &str = "test_input_required_result_prompt";

/// One answer to an input request. Modern answers are always `Ok` (an `inputResponses`
/// value); a legacy client may answer a server→client request with a JSON-RPC error.
pub(crate) enum Answer {
    Err(String),
    Ok(Value),
}

/// One input request: the key names it in `inputRequests`/`inputResponses` and is the JSON-RPC
/// id of the legacy request (for the 2026 flows).
pub(crate) struct Ask {
    pub(crate) key: &'static str,
    pub(crate) method: &'static str,
    pub(crate) params: Value,
}

pub(crate) enum Step {
    /// Ask (again) for this round's inputs.
    Ask(Vec<Ask>),
    /// Round done: the next round carries `memo` and asks these.
    Next { memo: Value, asks: Vec<Ask> },
    /// The tool/prompt result (without `resultType`).
    Done(Value),
}

/// Which input requests the client can serve (its declared capabilities).
#[derive(Clone, Copy)]
pub(crate) struct Caps {
    pub(crate) elicitation: bool,
    pub(crate) roots: bool,
    pub(crate) sampling: bool,
}

impl Caps {
    /// A legacy client: its capabilities are not checked (a gateway may initialise us).
    pub(crate) const ALL: Self = Self {
        elicitation: true,
        roots: true,
        sampling: true,
    };

    pub(crate) fn allows(self, method: &str) -> bool {
        match method {
            "elicitation/create" => self.elicitation,
            "roots/list" => self.roots,
            "sampling/createMessage" => self.sampling,
            _ => false,
        }
    }
}

/// How a flow behaves beyond its asks.
#[derive(Clone, Copy)]
pub(crate) struct Kind {
    /// Modern: the round and memo live in a sealed `requestState`; answers without a valid
    /// state are not trusted. Ephemeral flows have one round and no state.
    pub(crate) sealed: bool,
    /// Legacy: server→client request ids are the keys (`"user_name"`), as the 2026 gateway
    /// translation expects; the 0.1.16 tools keep `"srv-N"`.
    pub(crate) keyed_ids: bool,
    /// The flow adapts to the client's capabilities itself (no -32021), and a refused input
    /// request does not end it.
    pub(crate) adaptive: bool,
}

/// The kind of the named flow, or `None` if the name is not an interactive tool/prompt.
pub(crate) fn kind(name: &str) -> Option<Kind> {
    let k = |sealed, keyed_ids, adaptive| Kind {
        sealed,
        keyed_ids,
        adaptive,
    };
    Some(match name {
        "test_sampling"
        | "test_elicitation"
        | "test_elicitation_sep1034_defaults"
        | "test_elicitation_sep1330_enums" => k(false, false, false),
        "test_input_required_result_elicitation"
        | "test_input_required_result_sampling"
        | "test_input_required_result_list_roots"
        | "test_missing_capability"
        | PROMPT_FLOW => k(false, true, false),
        "test_streaming_elicitation" | "test_input_required_result_capabilities" => {
            k(false, true, true)
        }
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state"
        | "test_input_required_result_multiple_inputs"
        | "test_input_required_result_multi_round" => k(true, true, false),
        _ => return None,
    })
}

/// One step of flow `name`. `answers` holds what the client answered for this round's keys
/// (unknown keys are ignored). A missing answer re-asks; an argument error is -32602.
pub(crate) fn step(
    name: &str,
    args: &Map<String, Value>,
    caps: Caps,
    round: u32,
    memo: &Value,
    answers: &HashMap<String, Answer>,
) -> Result<Step, RpcError> {
    let asks = asks(name, args, caps, round)?;
    if asks.iter().any(|a| !answers.contains_key(a.key)) {
        return Ok(Step::Ask(asks));
    }
    let ok = |key: &str| match answers.get(key) {
        Some(Answer::Ok(v)) => Some(v),
        _ => None,
    };
    let kind = kind(name).unwrap_or(Kind {
        sealed: false,
        keyed_ids: false,
        adaptive: false,
    });
    if !kind.adaptive {
        // A refused input request ends the call with an isError result naming the error.
        for ask in &asks {
            if let Some(Answer::Err(message)) = answers.get(ask.key) {
                return Ok(Step::Done(error_result(format!(
                    "{} error: {message}",
                    what(ask.method)
                ))));
            }
        }
    }
    let result = match (name, round) {
        ("test_sampling", _) => match sampled_text(ok("sampling")) {
            Some(text) => text_result(format!("LLM response: {text}")),
            None => error_result("Sampling error: the response had no text content"),
        },
        ("test_elicitation", _) => match elicit_action(ok("elicitation")) {
            Some((action, content)) => {
                text_result(format!("User response: action={action}, content={content}"))
            }
            None => error_result("Elicitation error: the response had no action"),
        },
        ("test_elicitation_sep1034_defaults" | "test_elicitation_sep1330_enums", _) => {
            match elicit_action(ok("elicitation")) {
                Some((action, content)) => text_result(format!(
                    "Elicitation completed: action={action}, content={content}"
                )),
                None => error_result("Elicitation error: the response had no action"),
            }
        }
        ("test_input_required_result_elicitation", _) => {
            text_result(format!("Hello, {}!", field(ok("user_name"), "name")))
        }
        ("test_input_required_result_sampling", _) => text_result(format!(
            "Sampling response: {}",
            sampled_text(ok("capital_question")).unwrap_or("(no text)")
        )),
        ("test_input_required_result_list_roots", _) => {
            text_result(format!("Client roots: {}", root_uris(ok("client_roots"))))
        }
        ("test_missing_capability", _) => text_result("Success"),
        ("test_streaming_elicitation", _) => match elicit_action(ok("user_input")) {
            Some((action, content)) => text_result(format!(
                "Streaming elicitation completed: action={action}, content={content}"
            )),
            None => text_result("Streaming elicitation completed without an answer"),
        },
        ("test_input_required_result_capabilities", _) => text_result(format!(
            "Capabilities honoured: answered {}",
            asks.iter()
                .filter(|a| matches!(answers.get(a.key), Some(Answer::Ok(_))))
                .map(|a| a.method)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ("test_input_required_result_request_state", _)
        | ("test_input_required_result_tampered_state", _) => text_result(format!(
            "state-ok: confirmed ok={}",
            ok("confirm")
                .and_then(|r| r.get("content"))
                .and_then(|c| c.get("ok"))
                .unwrap_or(&Value::Null)
        )),
        ("test_input_required_result_multiple_inputs", _) => text_result(format!(
            "Hello, {}! Greeting: {}. Roots: {}",
            field(ok("user_name"), "name"),
            sampled_text(ok("greeting")).unwrap_or("(no text)"),
            root_uris(ok("client_roots"))
        )),
        ("test_input_required_result_multi_round", 0) => {
            let name = field(ok("step1"), "name");
            return Ok(Step::Next {
                asks: asks_multi_round(1),
                memo: json!({ "name": name }),
            });
        }
        ("test_input_required_result_multi_round", _) => text_result(format!(
            "Hello, {}! Your favorite color is {}.",
            memo.get("name")
                .and_then(Value::as_str)
                .unwrap_or("stranger"),
            field(ok("step2"), "color")
        )),
        (PROMPT_FLOW, _) => json!({
            "description": "A prompt built from input the client provided",
            "messages": [{"role": "user", "content": text_content(format!(
                "Use this context: {}", field(ok("user_context"), "context")
            ))}]
        }),
        (other, _) => return Err(RpcError::new(-32602, format!("Unknown tool: {other}"))),
    };
    Ok(Step::Done(result))
}

/// The input requests of `name` at `round`.
fn asks(
    name: &str,
    args: &Map<String, Value>,
    caps: Caps,
    round: u32,
) -> Result<Vec<Ask>, RpcError> {
    let ask = |key, method, params| Ask {
        key,
        method,
        params,
    };
    let name_request = |message: &str| elicit(message, "name");
    Ok(match name {
        "test_sampling" => {
            let prompt = str_arg(args, "prompt")?;
            vec![ask(
                "sampling",
                "sampling/createMessage",
                sampling(prompt, 100),
            )]
        }
        "test_elicitation" => {
            let message = str_arg(args, "message")?;
            vec![ask(
                "elicitation",
                "elicitation/create",
                json!({
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
                }),
            )]
        }
        "test_elicitation_sep1034_defaults" => {
            vec![ask("elicitation", "elicitation/create", sep1034_request())]
        }
        "test_elicitation_sep1330_enums" => {
            vec![ask("elicitation", "elicitation/create", sep1330_request())]
        }
        "test_input_required_result_elicitation" => vec![ask(
            "user_name",
            "elicitation/create",
            name_request("What is your name?"),
        )],
        "test_input_required_result_sampling" => vec![ask(
            "capital_question",
            "sampling/createMessage",
            sampling("What is the capital of France?", 100),
        )],
        "test_input_required_result_list_roots" => {
            vec![ask("client_roots", "roots/list", json!({}))]
        }
        "test_missing_capability" => vec![ask(
            "sampling_probe",
            "sampling/createMessage",
            sampling("Reply with anything", 10),
        )],
        "test_streaming_elicitation" if caps.elicitation => vec![ask(
            "user_input",
            "elicitation/create",
            elicit("Please provide some input", "input"),
        )],
        "test_streaming_elicitation" => vec![],
        "test_input_required_result_capabilities" => {
            let mut asks = Vec::new();
            if caps.sampling {
                asks.push(ask(
                    "greeting",
                    "sampling/createMessage",
                    sampling("Generate a greeting", 50),
                ));
            }
            if caps.elicitation {
                asks.push(ask(
                    "user_name",
                    "elicitation/create",
                    name_request("What is your name?"),
                ));
            }
            asks
        }
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => {
            vec![ask(
                "confirm",
                "elicitation/create",
                json!({
                    "message": "Please confirm",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {"ok": {"type": "boolean"}},
                        "required": ["ok"]
                    }
                }),
            )]
        }
        "test_input_required_result_multiple_inputs" => vec![
            ask(
                "user_name",
                "elicitation/create",
                name_request("What is your name?"),
            ),
            ask(
                "greeting",
                "sampling/createMessage",
                sampling("Generate a greeting", 50),
            ),
            ask("client_roots", "roots/list", json!({})),
        ],
        "test_input_required_result_multi_round" => asks_multi_round(round),
        PROMPT_FLOW => vec![ask(
            "user_context",
            "elicitation/create",
            elicit("What context should the prompt use?", "context"),
        )],
        other => return Err(RpcError::new(-32602, format!("Unknown tool: {other}"))),
    })
}

fn asks_multi_round(round: u32) -> Vec<Ask> {
    if round == 0 {
        vec![Ask {
            key: "step1",
            method: "elicitation/create",
            params: elicit("Step 1: What is your name?", "name"),
        }]
    } else {
        vec![Ask {
            key: "step2",
            method: "elicitation/create",
            params: elicit("Step 2: What is your favorite color?", "color"),
        }]
    }
}

/// An `elicitation/create` asking for one required string property.
fn elicit(message: &str, property: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {property: {"type": "string"}},
            "required": [property]
        }
    })
}

fn sampling(text: &str, max_tokens: u32) -> Value {
    json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        "maxTokens": max_tokens
    })
}

/// For "X error: message" results.
fn what(method: &str) -> &'static str {
    match method {
        "sampling/createMessage" => "Sampling",
        "roots/list" => "Roots",
        _ => "Elicitation",
    }
}

/// `result.content.text`, or the first text item of an array.
fn sampled_text(result: Option<&Value>) -> Option<&str> {
    let content = match result?.get("content") {
        Some(Value::Array(items)) => items.iter().find(|c| c.get("text").is_some()),
        other => other,
    };
    content?.get("text")?.as_str()
}

fn elicit_action(result: Option<&Value>) -> Option<(&str, Value)> {
    let result = result?;
    let action = result.get("action")?.as_str()?;
    let content = result.get("content").cloned().unwrap_or_else(|| json!({}));
    Some((action, content))
}

/// A string property of an accepted elicitation's content, or "stranger".
fn field<'a>(result: Option<&'a Value>, name: &str) -> &'a str {
    result
        .and_then(|r| r.get("content"))
        .and_then(|c| c.get(name))
        .and_then(Value::as_str)
        .unwrap_or("stranger")
}

fn root_uris(result: Option<&Value>) -> String {
    let uris: Vec<&str> = result
        .and_then(|r| r.get("roots"))
        .and_then(Value::as_array)
        .map(|roots| {
            roots
                .iter()
                .filter_map(|r| r.get("uri").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if uris.is_empty() {
        "(none)".to_owned()
    } else {
        uris.join(", ")
    }
}

fn sep1034_request() -> Value {
    json!({
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
    })
}

fn sep1330_request() -> Value {
    let titled = |first: &str, second: &str, third: &str| {
        json!([
            {"const": "value1", "title": first},
            {"const": "value2", "title": second},
            {"const": "value3", "title": third}
        ])
    };
    let options = json!(["option1", "option2", "option3"]);
    json!({
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
    })
}
