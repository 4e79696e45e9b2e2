//! Resources, prompts and completion: the catalogue both eras serve, plus argument helpers.

use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};

use crate::flows::PROMPT_FLOW;
use crate::{text_content, Fixture, RpcError, PNG_BASE64, WATCHED_URI};

const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

pub(crate) fn resource_list(fx: &Fixture) -> Value {
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

/// `resources/read`. An unknown URI is -32602 with `data.uri` (SEP-2164), or the legacy -32002
/// when `legacy_not_found` (the legacy-only fixture, so a gateway's mapping gets exercised).
pub(crate) fn read_resource(
    fx: &Fixture,
    params: &Value,
    legacy_not_found: bool,
) -> Result<Value, RpcError> {
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
                code: if legacy_not_found { -32002 } else { -32602 },
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

/// `resources/templates/list`'s one template.
pub(crate) fn template_list() -> Value {
    json!([{
        "uriTemplate": "test://template/{id}/data",
        "name": "template",
        "title": "Resource Template",
        "description": "A resource template with parameter substitution",
        "mimeType": "application/json"
    }])
}

// ---- prompts and completion -----------------------------------------------------------------

pub(crate) fn prompt_list(fx: &Fixture) -> Value {
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
    prompts.push(json!({"name": PROMPT_FLOW, "title": "Input Required Result Prompt",
                        "description": "A prompt that asks the client for context first (SEP-2322)"}));
    if fx.dynamic_added.load(Ordering::SeqCst) {
        prompts.push(json!({"name": "test_dynamic_prompt",
                            "description": "A prompt added after startup"}));
    }
    Value::Array(prompts)
}

pub(crate) fn get_prompt(fx: &Fixture, params: &Value) -> Result<Value, RpcError> {
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

pub(crate) fn complete(params: &Value) -> Result<Value, RpcError> {
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

// ---- argument helpers -----------------------------------------------------------------------

pub(crate) fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string '{name}'")))
}

pub(crate) fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string argument '{name}'")))
}
