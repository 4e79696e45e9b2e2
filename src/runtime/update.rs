//! Runtime updates: the payload parser and validator, the overrides it
//! produces, shell quoting of extra arguments, and the token comparison.
//!
//! A payload is `{"extra_cli_args": [..], "env": {..}, "headers": {..}}`,
//! every field optional. It is parsed into a `serde_json::Value` and checked
//! by hand so that every error names the field it is about; everything is
//! checked before anything is applied.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use supergateway_proto::http::{HeaderName, HeaderValue};

/// Largest admin request body or prompt line.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
/// `extra_cli_args` entries at most.
const MAX_ARGS: usize = 256;
/// Bytes of one extra argument at most.
const MAX_ARG_BYTES: usize = 4096;
/// `env` entries at most.
const MAX_ENV: usize = 256;
/// Bytes of one environment variable name at most.
use crate::cli::{is_env_name, MAX_ENV_NAME_BYTES};
/// Bytes of one environment variable value at most.
const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;
/// `headers` entries at most.
const MAX_HEADERS: usize = 64;
/// Bytes of one header value at most.
const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

/// What a runtime update sets. Each field given replaces the previous value
/// of that field; `None` leaves it alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// Appended to the `--stdio` command, each shell-quoted.
    pub(crate) extra_cli_args: Option<Vec<String>>,
    /// Added to the child's environment.
    pub(crate) env: Option<BTreeMap<String, String>>,
    /// Outbound request headers (reverse modes) or response headers (forward
    /// modes), in name order.
    pub(crate) headers: Option<Vec<(HeaderName, HeaderValue)>>,
}

impl Overrides {
    /// Replaces each field `update` gives.
    pub(crate) fn apply(&mut self, update: &Self) {
        if let Some(args) = &update.extra_cli_args {
            self.extra_cli_args = Some(args.clone());
        }
        if let Some(env) = &update.env {
            self.env = Some(env.clone());
        }
        if let Some(headers) = &update.headers {
            self.headers = Some(headers.clone());
        }
    }

    /// True when the update touches what the child is started with.
    pub(crate) fn touches_child(&self) -> bool {
        self.extra_cli_args.is_some() || self.env.is_some()
    }

    /// A JSON description for logs and `GET /runtime/sessions`: argument
    /// values (they are on the child's command line, visible in `ps`
    /// anyway), but only the names of environment variables and headers
    /// (values are often secrets).
    pub(crate) fn describe(&self) -> Value {
        let mut out = Map::new();
        if let Some(args) = &self.extra_cli_args {
            out.insert("extra_cli_args".into(), Value::from(args.clone()));
        }
        if let Some(env) = &self.env {
            let names: Vec<Value> = env.keys().map(|k| Value::from(k.as_str())).collect();
            out.insert("env".into(), Value::Array(names));
        }
        if let Some(headers) = &self.headers {
            let names: Vec<Value> = headers
                .iter()
                .map(|(name, _)| Value::from(name.as_str()))
                .collect();
            out.insert("headers".into(), Value::Array(names));
        }
        Value::Object(out)
    }
}

/// Where a prompt line's update goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The global defaults.
    Defaults,
    /// One session's overrides.
    Session(String),
}

/// A payload that was refused: the field it is about, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// `extra_cli_args[2]`, `env.NAME`, `headers.NAME`, `body`, ...
    pub(crate) field: String,
    /// One sentence.
    pub(crate) message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The JSON error body: `{"status":"error","field":..,"error":..}`.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let value = serde_json::json!({
            "status": "error",
            "field": self.field,
            "error": format!("{}: {}", self.field, self.message),
        });
        value.to_string().into_bytes()
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Parses an admin request body (the payload alone).
pub(crate) fn parse_payload(body: &[u8]) -> Result<Overrides, FieldError> {
    let object = parse_object(body)?;
    for key in object.keys() {
        if !matches!(key.as_str(), "extra_cli_args" | "env" | "headers") {
            return Err(FieldError::new(key.as_str(), "unknown field"));
        }
    }
    overrides(&object)
}

/// Parses one `--runtimePrompt` line: `{"scope": "defaults" | "session",
/// "session_id"?: .., ...payload}`.
pub(crate) fn parse_prompt_line(line: &[u8]) -> Result<(Scope, Overrides), FieldError> {
    let object = parse_object(line)?;
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "scope" | "session_id" | "extra_cli_args" | "env" | "headers"
        ) {
            return Err(FieldError::new(key.as_str(), "unknown field"));
        }
    }
    let session_id = match object.get("session_id") {
        None => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 256 => Some(id.clone()),
        Some(_) => {
            return Err(FieldError::new(
                "session_id",
                "must be a non-empty string of at most 256 bytes",
            ))
        }
    };
    let scope = match (object.get("scope"), session_id) {
        (Some(Value::String(scope)), None) if scope == "defaults" => Scope::Defaults,
        (Some(Value::String(scope)), Some(_)) if scope == "defaults" => {
            return Err(FieldError::new(
                "session_id",
                "only goes with \"scope\": \"session\"",
            ))
        }
        (Some(Value::String(scope)), Some(id)) if scope == "session" => Scope::Session(id),
        (Some(Value::String(scope)), None) if scope == "session" => {
            return Err(FieldError::new(
                "session_id",
                "is required with \"scope\": \"session\"",
            ))
        }
        _ => {
            return Err(FieldError::new(
                "scope",
                "must be \"defaults\" or \"session\"",
            ))
        }
    };
    Ok((scope, overrides(&object)?))
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, FieldError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(FieldError::new(
            "body",
            format!("over {MAX_BODY_BYTES} bytes"),
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(FieldError::new("body", "must be a JSON object")),
        Err(err) => Err(FieldError::new("body", format!("not valid JSON ({err})"))),
    }
}

fn overrides(object: &Map<String, Value>) -> Result<Overrides, FieldError> {
    Ok(Overrides {
        extra_cli_args: object.get("extra_cli_args").map(args).transpose()?,
        env: object.get("env").map(env).transpose()?,
        headers: object.get("headers").map(headers).transpose()?,
    })
}

fn args(value: &Value) -> Result<Vec<String>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(
            "extra_cli_args",
            "must be an array of strings",
        ));
    };
    if items.len() > MAX_ARGS {
        return Err(FieldError::new(
            "extra_cli_args",
            format!("more than {MAX_ARGS} arguments"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = || format!("extra_cli_args[{index}]");
        let Value::String(arg) = item else {
            return Err(FieldError::new(field(), "must be a string"));
        };
        if arg.len() > MAX_ARG_BYTES {
            return Err(FieldError::new(
                field(),
                format!("over {MAX_ARG_BYTES} bytes"),
            ));
        }
        if arg.contains('\0') {
            return Err(FieldError::new(field(), "contains NUL"));
        }
        out.push(arg.clone());
    }
    Ok(out)
}

fn env(value: &Value) -> Result<BTreeMap<String, String>, FieldError> {
    let Value::Object(entries) = value else {
        return Err(FieldError::new("env", "must be an object of string values"));
    };
    if entries.len() > MAX_ENV {
        return Err(FieldError::new(
            "env",
            format!("more than {MAX_ENV} variables"),
        ));
    }
    let mut out = BTreeMap::new();
    for (name, value) in entries {
        let field = || format!("env.{}", printable(name));
        if !is_env_name(name) {
            return Err(FieldError::new(
                field(),
                format!(
                    "name must match [A-Za-z_][A-Za-z0-9_]* (at most {MAX_ENV_NAME_BYTES} bytes)"
                ),
            ));
        }
        let Value::String(value) = value else {
            return Err(FieldError::new(field(), "value must be a string"));
        };
        if value.len() > MAX_ENV_VALUE_BYTES {
            return Err(FieldError::new(
                field(),
                format!("value over {MAX_ENV_VALUE_BYTES} bytes"),
            ));
        }
        if value.contains('\0') {
            return Err(FieldError::new(field(), "value contains NUL"));
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

fn headers(value: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, FieldError> {
    let Value::Object(entries) = value else {
        return Err(FieldError::new(
            "headers",
            "must be an object of string values",
        ));
    };
    if entries.len() > MAX_HEADERS {
        return Err(FieldError::new(
            "headers",
            format!("more than {MAX_HEADERS} headers"),
        ));
    }
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let field = || format!("headers.{}", printable(name));
        let header_name = match HeaderName::new(name) {
            Ok(header_name) if name.len() <= MAX_ENV_NAME_BYTES => header_name,
            _ => {
                return Err(FieldError::new(
                    field(),
                    "name must be an HTTP token (RFC 9110 §5.1)",
                ))
            }
        };
        if let Some(why) = header_name.reserved() {
            return Err(FieldError::new(field(), format!("cannot be set: {why}")));
        }
        if out
            .iter()
            .any(|(other, _)| other.as_str().eq_ignore_ascii_case(name))
        {
            return Err(FieldError::new(field(), "given twice (names ignore case)"));
        }
        let Value::String(value) = value else {
            return Err(FieldError::new(field(), "value must be a string"));
        };
        if value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(FieldError::new(
                field(),
                format!("value over {MAX_HEADER_VALUE_BYTES} bytes"),
            ));
        }
        let Ok(header_value) = HeaderValue::new(value.as_bytes()) else {
            return Err(FieldError::new(
                field(),
                "value must not contain CR, LF, NUL or other control characters",
            ));
        };
        out.push((header_name, header_value));
    }
    Ok(out)
}

/// A name as it may appear in an error (which is logged): at most 64
/// characters, controls escaped.
fn printable(name: &str) -> String {
    name.chars().take(64).flat_map(char::escape_debug).collect()
}

/// `arg` quoted for `sh`: inside single quotes nothing is special, and a
/// single quote is written as `'\''` (close, escaped quote, reopen).
pub(crate) fn shell_quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len().saturating_add(2));
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The `--stdio` command with `args` appended, each quoted.
pub(crate) fn command_with_args(command: &str, args: &[String]) -> String {
    let mut out = command.to_owned();
    for arg in args {
        out.push(' ');
        out.push_str(&shell_quote(arg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_payloads() {
        let cases: &[(&str, Overrides)] = &[
            ("{}", Overrides::default()),
            (
                r#"{"extra_cli_args": ["--root", "/tmp/x y", ""]}"#,
                Overrides {
                    extra_cli_args: Some(vec!["--root".into(), "/tmp/x y".into(), String::new()]),
                    ..Overrides::default()
                },
            ),
            (
                r#"{"extra_cli_args": []}"#,
                Overrides {
                    extra_cli_args: Some(Vec::new()),
                    ..Overrides::default()
                },
            ),
            (
                r#"{"env": {"API_TOKEN": "t0k3n", "_x1": ""}}"#,
                Overrides {
                    env: Some(BTreeMap::from([
                        ("API_TOKEN".into(), "t0k3n".into()),
                        ("_x1".into(), String::new()),
                    ])),
                    ..Overrides::default()
                },
            ),
            (
                r#"{"headers": {"Authorization": "Bearer abc", "X-Tab": "a\tb"}}"#,
                Overrides {
                    headers: Some(vec![
                        (
                            HeaderName::new("Authorization").unwrap(),
                            HeaderValue::new(b"Bearer abc").unwrap(),
                        ),
                        (
                            HeaderName::new("X-Tab").unwrap(),
                            HeaderValue::new(b"a\tb").unwrap(),
                        ),
                    ]),
                    ..Overrides::default()
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(&parse_payload(body.as_bytes()).unwrap(), expected, "{body}");
        }
    }

    #[test]
    fn rejected_payloads_name_the_field() {
        let big_arg = format!(r#"{{"extra_cli_args": ["{}"]}}"#, "a".repeat(4097));
        let many_args = format!(
            r#"{{"extra_cli_args": [{}]}}"#,
            vec!["\"a\""; 257].join(",")
        );
        let huge = format!(r#"{{"env": {{"A": "{}"}}}}"#, "a".repeat(70 * 1024));
        let cases: &[(&str, &str)] = &[
            ("", "body"),
            ("not json", "body"),
            ("[]", "body"),
            ("null", "body"),
            (r#"{"extra_cli_args": ["a"], "nope": 1}"#, "nope"),
            (r#"{"extra_cli_args": "a b"}"#, "extra_cli_args"),
            (r#"{"extra_cli_args": null}"#, "extra_cli_args"),
            (r#"{"extra_cli_args": ["a", 1]}"#, "extra_cli_args[1]"),
            (r#"{"extra_cli_args": ["a\u0000b"]}"#, "extra_cli_args[0]"),
            (&big_arg, "extra_cli_args[0]"),
            (&many_args, "extra_cli_args"),
            (r#"{"env": ["A=b"]}"#, "env"),
            (r#"{"env": {"A": 1}}"#, "env.A"),
            (r#"{"env": {"A": null}}"#, "env.A"),
            (r#"{"env": {"A": true}}"#, "env.A"),
            (r#"{"env": {"1A": "x"}}"#, "env.1A"),
            (r#"{"env": {"A-B": "x"}}"#, "env.A-B"),
            (r#"{"env": {"": "x"}}"#, "env."),
            (r#"{"env": {"A=B": "x"}}"#, "env.A=B"),
            (r#"{"env": {"A": "x\u0000"}}"#, "env.A"),
            (&huge, "body"),
            (r#"{"headers": "X: y"}"#, "headers"),
            (r#"{"headers": {"X": "a\r\nInjected: 1"}}"#, "headers.X"),
            (r#"{"headers": {"X": "a\nb"}}"#, "headers.X"),
            (r#"{"headers": {"X": "a\rb"}}"#, "headers.X"),
            (r#"{"headers": {"X": "a\u0000b"}}"#, "headers.X"),
            (r#"{"headers": {"X": 5}}"#, "headers.X"),
            (r#"{"headers": {"Bad Name": "v"}}"#, "headers.Bad Name"),
            (r#"{"headers": {"": "v"}}"#, "headers."),
            (
                r#"{"headers": {"Content-Length": "5"}}"#,
                "headers.Content-Length",
            ),
            (
                r#"{"headers": {"transfer-encoding": "chunked"}}"#,
                "headers.transfer-encoding",
            ),
            (r#"{"headers": {"X-A": "1", "x-a": "2"}}"#, "headers.x-a"),
            // Never configurable (`HeaderName::reserved`).
            (r#"{"headers": {"Host": "evil"}}"#, "headers.Host"),
            (
                r#"{"headers": {"Set-Cookie": "a=b"}}"#,
                "headers.Set-Cookie",
            ),
            (
                r#"{"headers": {"Connection": "close"}}"#,
                "headers.Connection",
            ),
            (r#"{"headers": {"Keep-Alive": "5"}}"#, "headers.Keep-Alive"),
            (r#"{"headers": {"TE": "trailers"}}"#, "headers.TE"),
            (r#"{"headers": {"Trailer": "X"}}"#, "headers.Trailer"),
            (r#"{"headers": {"Upgrade": "h2c"}}"#, "headers.Upgrade"),
            (
                r#"{"headers": {"Proxy-Authorization": "x"}}"#,
                "headers.Proxy-Authorization",
            ),
            (
                r#"{"headers": {"content-type": "text/html"}}"#,
                "headers.content-type",
            ),
            (
                r#"{"headers": {"Mcp-Session-Id": "x"}}"#,
                "headers.Mcp-Session-Id",
            ),
            (
                r#"{"headers": {"Access-Control-Allow-Origin": "*"}}"#,
                "headers.Access-Control-Allow-Origin",
            ),
        ];
        for (body, field) in cases {
            let err = parse_payload(body.as_bytes()).unwrap_err();
            assert_eq!(&err.field, field, "{body}: {err}");
            let json: Value = serde_json::from_slice(&err.to_json()).unwrap();
            assert_eq!(json["status"], "error");
            assert_eq!(json["field"], *field);
        }
    }

    #[test]
    fn prompt_lines() {
        let (scope, update) =
            parse_prompt_line(br#"{"scope":"defaults","env":{"A":"b"}}"#).unwrap();
        assert_eq!(scope, Scope::Defaults);
        assert!(update.env.is_some());
        let (scope, _) =
            parse_prompt_line(br#"{"scope":"session","session_id":"abc","headers":{}}"#).unwrap();
        assert_eq!(scope, Scope::Session("abc".into()));
        for (line, field) in [
            (r#"{}"#, "scope"),
            (r#"{"scope":"global"}"#, "scope"),
            (r#"{"scope":"session"}"#, "session_id"),
            (r#"{"scope":"session","session_id":5}"#, "session_id"),
            (r#"{"scope":"defaults","session_id":"x"}"#, "session_id"),
            (r#"{"scope":"defaults","x":1}"#, "x"),
            (r#"{"scope":"defaults","env":{"A":1}}"#, "env.A"),
        ] {
            assert_eq!(
                parse_prompt_line(line.as_bytes()).unwrap_err().field,
                field,
                "{line}"
            );
        }
    }

    #[test]
    fn apply_replaces_given_fields_only() {
        let mut current = parse_payload(br#"{"extra_cli_args":["a"],"env":{"A":"1"}}"#).unwrap();
        current.apply(&parse_payload(br#"{"env":{"B":"2"}}"#).unwrap());
        assert_eq!(current.extra_cli_args, Some(vec!["a".to_owned()]));
        assert_eq!(
            current.env,
            Some(BTreeMap::from([("B".into(), "2".into())]))
        );
        assert_eq!(
            current.describe(),
            serde_json::json!({"extra_cli_args":["a"],"env":["B"]})
        );
    }

    /// Runs `sh -c "printf '<%s>' ARGS"` and returns what it printed.
    fn through_sh(args: &[String]) -> String {
        let command = command_with_args("printf '<%s>'", args);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn quoting_survives_hostile_arguments() {
        let hostile: Vec<String> = [
            "; rm -rf /tmp/should-not-exist",
            "$(touch /tmp/sg-quote-test)",
            "`id`",
            "it's",
            "'",
            "''",
            "\"double\"",
            "a\nb",
            "",
            "$HOME",
            "\\",
            "*",
            "a b\tc",
            "--flag=x|y&z>w<v",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let expected: String = hostile.iter().map(|arg| format!("<{arg}>")).collect();
        assert_eq!(through_sh(&hostile), expected);
        assert!(!std::path::Path::new("/tmp/sg-quote-test").exists());
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(command_with_args("srv", &[]), "srv");
    }
}
