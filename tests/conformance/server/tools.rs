//! `tools/list` and the tools that need no input from the client (both eras). The interactive
//! tools are in `flows.rs`; the era-specific driving is in `legacy.rs` and `modern.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::{
    error_result, notify_list_changed, run_later, send_notification, text_content, text_result,
    Era, Fixture, RpcError, PNG_BASE64,
};

/// Minimal WAV file (44-byte header, one sample).
const WAV_BASE64: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
const STEP_DELAY: Duration = Duration::from_millis(50);

/// Runs a tool that needs no client input. `None`: not such a tool. `Some(None)`: answered
/// later by another thread.
pub(crate) fn call_plain_tool(
    fx: &Arc<Fixture>,
    era: Era,
    id: &Value,
    name: &str,
    args: &Map<String, Value>,
    params: &Value,
) -> Option<Option<Result<Value, RpcError>>> {
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
            run_later(fx, id, era, move |fx, alive| {
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
                    fx.log(era, "info", text);
                }
                Some(text_result("Tool with logging executed successfully"))
            });
            return Some(None);
        }
        "test_logging_tool" => {
            // Legacy: logs like any legacy tool (a gateway drops it for a modern client that
            // did not ask). Modern: only with `_meta.logLevel` at or below info.
            fx.log(era, "info", "test_logging_tool ran");
            text_result("Logging tool completed")
        }
        "test_tool_with_progress" => {
            let token = params
                .get("_meta")
                .and_then(|m| m.get("progressToken"))
                .filter(|t| t.is_string() || t.is_number())
                .cloned();
            run_later(fx, id, era, move |fx, alive| {
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
            return Some(None);
        }
        "test_reconnection" => {
            run_later(fx, id, era, |_, _| {
                thread::sleep(Duration::from_millis(100));
                Some(text_result(
                    "Reconnection test completed successfully. If you received this, the client \
                     properly reconnected after stream closure.",
                ))
            });
            return Some(None);
        }
        "test_trigger_tool_change" | "test_trigger_prompt_change" => {
            let kind = if name == "test_trigger_tool_change" {
                "tools"
            } else {
                "prompts"
            };
            notify_list_changed(fx, kind, era.is_legacy());
            text_result(format!("Triggered notifications/{kind}/list_changed"))
        }
        "json_schema_2020_12_tool" => text_result(format!(
            "JSON Schema 2020-12 tool called with: {}",
            Value::Object(args.clone())
        )),
        "test_param_header" => text_result(format!(
            "Region: {}",
            args.get("region")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )),
        "test_param_header_types" => {
            text_result(format!("Arguments: {}", Value::Object(args.clone())))
        }
        "test_dynamic_tool" if fx.dynamic_added.load(Ordering::SeqCst) => {
            text_result("This tool was added dynamically.")
        }
        _ => return None,
    };
    Some(Some(Ok(result)))
}

pub(crate) fn tool_list(fx: &Fixture) -> Value {
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
    let mut tools: Vec<Value> = [
        ("test_simple_text", "Tests simple text content response"),
        ("test_image_content", "Tests image content response"),
        ("test_audio_content", "Tests audio content response"),
        (
            "test_embedded_resource",
            "Tests embedded resource content response",
        ),
        (
            "test_multiple_content_types",
            "Tests response with multiple content types (text, image, resource)",
        ),
        (
            "test_tool_with_logging",
            "Tests tool that emits log messages during execution",
        ),
        (
            "test_tool_with_progress",
            "Tests tool that reports progress notifications",
        ),
        ("test_error_handling", "Tests error response handling"),
        (
            "test_reconnection",
            "Tests SSE stream disconnection and client reconnection (SEP-1699)",
        ),
    ]
    .into_iter()
    .map(|(name, description)| tool(name, description, &no_args))
    .collect();
    tools.extend([
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
        // `Mcp-Param-*` (SEP-2243): the pending scenario
        // `http-custom-header-server-validation` calls the first tool with a string
        // `x-mcp-header` parameter, so this one comes first.
        tool(
            "test_param_header",
            "Echoes its region, which clients mirror into Mcp-Param-Region",
            &json!({
                "type": "object",
                "properties": {
                    "region": {"type": "string", "description": "A region", "x-mcp-header": "Region"}
                },
                "required": ["region"]
            }),
        ),
        tool(
            "test_param_header_types",
            "Echoes its arguments; integer, boolean and nested x-mcp-header parameters",
            &json!({
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "x-mcp-header": "Count"},
                    "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
                    "target": {"type": "object", "properties": {
                        "zone": {"type": "string", "x-mcp-header": "Zone"}
                    }},
                    "note": {"type": "string"}
                }
            }),
        ),
    ]);
    // The 2026-07-28 diagnostic tools (the suite only calls the ones it sees listed).
    tools.extend(
        [
            (
                "test_missing_capability",
                "Needs the client's sampling capability",
            ),
            (
                "test_streaming_elicitation",
                "Asks the client for input while running",
            ),
            ("test_logging_tool", "Logs one info message, then answers"),
            (
                "test_trigger_tool_change",
                "Sends notifications/tools/list_changed",
            ),
            (
                "test_trigger_prompt_change",
                "Sends notifications/prompts/list_changed",
            ),
            (
                "test_input_required_result_elicitation",
                "Asks for the user's name",
            ),
            (
                "test_input_required_result_sampling",
                "Asks the client's LLM a question",
            ),
            (
                "test_input_required_result_list_roots",
                "Asks for the client's roots",
            ),
            (
                "test_input_required_result_request_state",
                "Asks for a confirmation, with state",
            ),
            (
                "test_input_required_result_multiple_inputs",
                "Asks for three inputs at once",
            ),
            (
                "test_input_required_result_multi_round",
                "Asks twice, one input per round",
            ),
            (
                "test_input_required_result_tampered_state",
                "Rejects an edited requestState",
            ),
            (
                "test_input_required_result_capabilities",
                "Asks only what the client can serve",
            ),
        ]
        .into_iter()
        .map(|(name, description)| tool(name, description, &no_args)),
    );
    if fx.dynamic_added.load(Ordering::SeqCst) {
        tools.push(tool(
            "test_dynamic_tool",
            "A tool added after startup",
            &no_args,
        ));
    }
    Value::Array(tools)
}
