//! `conformance-client`: a small stdio MCP client that drives the reverse bridge
//! (`supergateway --streamableHttp URL`) through the official conformance suite's CLIENT
//! scenarios (`@modelcontextprotocol/conformance` 0.1.16; PROTOCOL.md §2).
//! `scripts/conformance.sh ... client` runs it as
//! `conformance client --command "conformance-client GATEWAY" --scenario S`; the suite appends
//! the scenario server's URL as the last argument and names the scenario in
//! `MCP_CONFORMANCE_SCENARIO`.
//!
//! ```text
//! conformance-client GATEWAY [GATEWAY_ARGS...] URL
//! ```
//!
//! Spawns `GATEWAY --streamableHttp URL [GATEWAY_ARGS...]` (stdin and stdout piped, stderr
//! inherited) and talks to it like a real MCP client: `initialize`, `notifications/initialized`,
//! `tools/list`, then what the scenario wants:
//!
//! - `initialize`: nothing more (the scenario checks the `initialize` params).
//! - `tools_call`: `tools/call add_numbers {a: 5, b: 3}`; the answer must say 8.
//! - `sse-retry`: `tools/call test_reconnection {}`; the server closes the answer stream after a
//!   priming event and the bridge must resume it (GET + `Last-Event-ID` after `retry`); the
//!   answer must arrive.
//! - anything else: calls each listed tool: with the arguments the scenario's context gives for
//!   it (`toolCalls`, e.g. http-custom-headers: values whose `Mcp-Param-*` encoding it checks),
//!   else with a value for each required argument built from its input schema (default, first
//!   enum value, or a placeholder of its primitive type); a tool with a required argument that
//!   is not a plain primitive (object, array, `$ref`) is skipped.
//!
//! Server→client requests are answered while waiting: `ping` → `{}`, `sampling/createMessage`
//! → a fixed assistant text, `elicitation/create` → `accept` with the schema's defaults (and a
//! placeholder for required fields without one), `roots/list` → no roots, anything else →
//! -32601. Notifications are logged and ignored.
//!
//! Authorization scenarios (`auth/…`, suite 0.2.0-alpha.12 `--requirements 2026-07-28`): the
//! bridge runs its OAuth client headless, as design/oauth-client.md (a) maps it. `BROWSER` is
//! the `oauth-browser` example next to this program (it follows the authorization redirect to
//! the bridge's loopback listener: the suite's authorization server approves at once),
//! `XDG_CONFIG_HOME` a fresh folder (no stored token of the user's is read or written), and
//! `--oauthClientMetadataUrl` the suite's client metadata document URL. The scenario context
//! (`MCP_CONFORMANCE_CONTEXT`) may carry a pre-registered client: its id and issuer become
//! flags, its secret a 0600 file (`--oauthClientSecretFile`: no secret on a command line).
//! In the scenarios where a correct client gives up (a resource or issuer it must refuse, a
//! scope it cannot get), a JSON-RPC error answer ends the scenario as a success.
//!
//! Every request waits at most `CONFORMANCE_CLIENT_TIMEOUT_MS` (default 10000) for its answer.
//! Afterwards stdin is closed and the gateway must exit by itself within 5 s, with status 0.
//! Exits 0 on success; otherwise 1 with the reason on stderr (the gateway is killed if still
//! running). Anything on the gateway's stdout that is not a JSON object (stdio carries only MCP
//! messages) is a failure too.

// A test tool, not part of the audited binary: failing loudly is fine here, but the code
// returns errors rather than panicking anyway. Indexing `serde_json::Value` by key never
// panics (it yields `Null`), and the only arithmetic is on a request-id counter.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::env;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

const CLIENT_NAME: &str = "supergateway-conformance-client";
const CLIENT_VERSION: &str = "1.0.0";
/// Protocol versions this client can speak (the server may answer any of them).
const SUPPORTED_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The suite's Client ID Metadata Document URL (a constant of the suite, not in the context).
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";
/// Scenarios in which the client is meant to refuse to authorize (or to stop asking): an
/// error answer to the request that needed authorization is the right outcome.
const GIVE_UP_SCENARIOS: [&str; 7] = [
    "auth/resource-mismatch",
    "auth/scope-retry-limit",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
];
/// How long the gateway may take to exit after its stdin closed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((gateway, rest)) = args.split_first() else {
        eprintln!("usage: conformance-client GATEWAY [GATEWAY_ARGS...] URL");
        return ExitCode::from(2);
    };
    let Some((url, extra)) = rest.split_last() else {
        eprintln!("usage: conformance-client GATEWAY [GATEWAY_ARGS...] URL");
        return ExitCode::from(2);
    };
    let scenario = env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let timeout = env::var("CONFORMANCE_CLIENT_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    log(&format!(
        "scenario {scenario:?}: {gateway} --streamableHttp {url}"
    ));

    let oauth = match OAuthSetup::for_scenario(&scenario) {
        Ok(oauth) => oauth,
        Err(err) => {
            log(&format!("FAILED: {err}"));
            return ExitCode::FAILURE;
        }
    };
    let mut command = Command::new(gateway);
    command.arg("--streamableHttp").arg(url).args(extra);
    if let Some(oauth) = &oauth {
        command
            .args(&oauth.args)
            .env("BROWSER", &oauth.browser)
            .env("XDG_CONFIG_HOME", &oauth.dir);
    }
    let mut child = match command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            log(&format!("FAILED: cannot start {gateway}: {err}"));
            return ExitCode::FAILURE;
        }
    };
    let outcome = match Session::new(&mut child, timeout) {
        Ok(mut session) => {
            let result = match run_scenario(&mut session, &scenario) {
                Err(err) if GIVE_UP_SCENARIOS.contains(&scenario.as_str()) => {
                    log(&format!("gave up as this scenario expects: {err}"));
                    Ok(())
                }
                other => other,
            };
            result.and_then(|()| session.finish())
        }
        Err(err) => Err(err),
    };
    let exited = wait_exit(&mut child);
    drop(oauth);
    match outcome.and(exited) {
        Ok(()) => {
            log("OK");
            ExitCode::SUCCESS
        }
        Err(err) => {
            log(&format!("FAILED: {err}"));
            ExitCode::FAILURE
        }
    }
}

/// The bridge's OAuth setup for an `auth/…` scenario; removes its folder when dropped.
struct OAuthSetup {
    args: Vec<String>,
    browser: std::path::PathBuf,
    /// The bridge's `XDG_CONFIG_HOME` (token store), and the client secret file if any.
    dir: std::path::PathBuf,
}

impl OAuthSetup {
    fn for_scenario(scenario: &str) -> Result<Option<Self>, String> {
        if !scenario.starts_with("auth/") {
            return Ok(None);
        }
        let exe = env::current_exe().map_err(|err| format!("where am I: {err}"))?;
        let browser = exe.with_file_name(format!("oauth-browser{}", env::consts::EXE_SUFFIX));
        if !browser.is_file() {
            return Err(format!(
                "{} is missing (cargo build --examples)",
                browser.display()
            ));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let dir =
            env::temp_dir().join(format!("conformance-client-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let mut setup = Self {
            args: vec![
                "--oauthClientMetadataUrl".into(),
                CLIENT_METADATA_URL.into(),
            ],
            browser,
            dir,
        };
        let context: Value = env::var("MCP_CONFORMANCE_CONTEXT")
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        if let (Some(id), Some(secret)) = (
            context["client_id"].as_str(),
            context["client_secret"].as_str(),
        ) {
            let file = setup.dir.join("client-secret");
            write_private(&file, secret)?;
            setup.args.extend([
                "--oauthClientId".into(),
                id.into(),
                "--oauthClientSecretFile".into(),
                file.display().to_string(),
            ]);
            if let Some(issuer) = context["issuer"].as_str() {
                setup.args.extend(["--oauthIssuer".into(), issuer.into()]);
            }
            // Client-credentials scenarios (no person, no browser) name their grant.
            if scenario.starts_with("auth/client-credentials") {
                setup
                    .args
                    .extend(["--oauthFlow".into(), "client_credentials".into()]);
            }
        }
        log(&format!("OAuth flags: {}", setup.args.join(" ")));
        Ok(Some(setup))
    }
}

impl Drop for OAuthSetup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `text` to a new file readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|err| format!("{}: {err}", path.display()))
}

fn log(text: &str) {
    eprintln!("conformance-client: {text}");
}

/// Waits for the gateway to exit after its stdin closed; kills it after `EXIT_GRACE`.
fn wait_exit(child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + EXIT_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!(
                    "the gateway exited with {status} after stdin closed"
                ))
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the gateway did not exit within {EXIT_GRACE:?} after stdin closed; killed"
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(err) => return Err(format!("waiting for the gateway: {err}")),
        }
    }
}

/// What the reader thread saw on the gateway's stdout.
enum Line {
    Message(Map<String, Value>),
    /// Not a JSON object: stdout must carry only MCP messages.
    Garbage(String),
    Eof,
}

struct Session {
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    next_id: u64,
    timeout: Duration,
    /// The first stdio framing violation seen (reported at the end).
    protocol_error: Option<String>,
}

impl Session {
    fn new(child: &mut Child, timeout: Duration) -> Result<Self, String> {
        let stdin = child.stdin.take().ok_or("no stdin pipe to the gateway")?;
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout pipe from the gateway")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let parsed = match serde_json::from_slice::<Value>(line) {
                    Ok(Value::Object(map)) => Line::Message(map),
                    _ => Line::Garbage(String::from_utf8_lossy(line).chars().take(300).collect()),
                };
                if tx.send(parsed).is_err() {
                    return;
                }
            }
            let _ = tx.send(Line::Eof);
        });
        Ok(Self {
            stdin: Some(stdin),
            lines: rx,
            next_id: 0,
            timeout,
            protocol_error: None,
        })
    }

    /// Closes the gateway's stdin (the bridge then ends its session and exits) and reads its
    /// stdout to the end, for at most `EXIT_GRACE`.
    fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_GRACE;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Line::Message(message)) => log(&format!(
                    "← after the end: {}",
                    short(&Value::Object(message))
                )),
                Ok(Line::Garbage(text)) => self.garbage(text),
                Ok(Line::Eof) | Err(_) => break,
            }
        }
        self.protocol_error.map_or(Ok(()), Err)
    }

    fn garbage(&mut self, text: String) {
        log(&format!(
            "not a JSON-RPC message on the gateway's stdout: {text}"
        ));
        self.protocol_error.get_or_insert_with(|| {
            format!("the gateway wrote a non-JSON-RPC line to stdout: {text}")
        });
    }

    fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        let mut line = message.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|err| format!("writing to the gateway's stdin: {err}"))
    }

    fn notify(&mut self, method: &str, params: Option<Value>) -> Result<(), String> {
        let mut message = json!({"jsonrpc": "2.0", "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send(&message)
    }

    /// Sends a request and waits for its answer, answering the server's requests meanwhile.
    /// An error answer is an `Err` with its code and message.
    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        log(&format!("→ {method} (id {id})"));
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.lines.recv_timeout(left) {
                Ok(Line::Message(message)) => message,
                Ok(Line::Garbage(text)) => {
                    self.garbage(text);
                    continue;
                }
                Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "{method}: the gateway closed its stdout (exited?) before answering"
                    ));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer within {:?}", self.timeout));
                }
            };
            let has_method = message.get("method").and_then(Value::as_str).is_some();
            match (message.get("id"), has_method) {
                (Some(_), true) => self.answer_server_request(&message)?,
                (None, true) => log(&format!(
                    "← notification {}",
                    short(&Value::Object(message.clone()))
                )),
                (Some(got), false) if got.as_u64() == Some(id) => {
                    if let Some(error) = message.get("error") {
                        return Err(format!("{method}: error answer {error}"));
                    }
                    let result = message
                        .get("result")
                        .cloned()
                        .ok_or_else(|| format!("{method}: answer without result"))?;
                    log(&format!("← {method} (id {id}): {}", short(&result)));
                    return Ok(result);
                }
                _ => log(&format!(
                    "ignored an answer to nothing this client asked: {}",
                    short(&Value::Object(message))
                )),
            }
        }
    }

    fn answer_server_request(&mut self, message: &Map<String, Value>) -> Result<(), String> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        log(&format!("← server request {method} (id {id})"));
        let answer = match method {
            "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            "roots/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"roots": []}}),
            "sampling/createMessage" => json!({"jsonrpc": "2.0", "id": id, "result": {
                "role": "assistant",
                "content": {"type": "text", "text": "This is a response from the conformance client."},
                "model": CLIENT_NAME,
                "stopReason": "endTurn",
            }}),
            "elicitation/create" => {
                json!({"jsonrpc": "2.0", "id": id, "result": {
                    "action": "accept",
                    "content": elicitation_content(&params["requestedSchema"]),
                }})
            }
            _ => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}})
            }
        };
        self.send(&answer)
    }
}

/// Form values for an elicitation: each property's default, a placeholder for required
/// properties without one.
fn elicitation_content(schema: &Value) -> Value {
    let mut content = Map::new();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let value = if let Some(default) = property.get("default") {
                default.clone()
            } else if required.contains(&name.as_str()) {
                match property["type"].as_str() {
                    _ if property["enum"].get(0).is_some() => property["enum"][0].clone(),
                    Some("boolean") => json!(true),
                    Some("integer") => json!(1),
                    Some("number") => json!(1.5),
                    Some("array") => json!([]),
                    _ => json!("conformance"),
                }
            } else {
                continue;
            };
            content.insert(name.clone(), value);
        }
    }
    Value::Object(content)
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

fn run_scenario(session: &mut Session, scenario: &str) -> Result<(), String> {
    // The scenarios' own spec versions: sse-retry is a 2025-11-25 feature (SEP-1699).
    let version = match scenario {
        "tools_call" => "2025-06-18",
        _ => "2025-11-25",
    };
    let init = session.request(
        "initialize",
        json!({
            "protocolVersion": version,
            "capabilities": {"sampling": {}, "elicitation": {}, "roots": {"listChanged": false}},
            "clientInfo": {"name": CLIENT_NAME, "version": CLIENT_VERSION},
        }),
    )?;
    let chosen = init["protocolVersion"]
        .as_str()
        .ok_or("initialize: the answer has no protocolVersion")?;
    if !SUPPORTED_VERSIONS.contains(&chosen) {
        return Err(format!("initialize: the server chose protocol version {chosen:?}, which this client does not speak"));
    }
    session.notify("notifications/initialized", None)?;
    let listed = session.request("tools/list", json!({}))?;
    let tools = listed["tools"]
        .as_array()
        .cloned()
        .ok_or("tools/list: the answer has no tools array")?;
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    match scenario {
        "initialize" => Ok(()),
        "tools_call" => {
            require_tool(&names, "add_numbers")?;
            let result = call_tool(session, "add_numbers", json!({"a": 5, "b": 3}))?;
            let text = texts(&result);
            if text.contains('8') {
                Ok(())
            } else {
                Err(format!(
                    "tools/call add_numbers(5, 3): expected the sum 8 in the answer, got {text:?}"
                ))
            }
        }
        "sse-retry" => {
            require_tool(&names, "test_reconnection")?;
            call_tool(session, "test_reconnection", json!({})).map(|_| ())
        }
        _ => {
            let planned = planned_calls();
            for tool in &tools {
                let name = tool["name"].as_str().unwrap_or_default();
                for arguments in planned.iter().filter(|(n, _)| n == name).map(|(_, a)| a) {
                    call_tool(session, name, arguments.clone())?;
                }
                if planned.iter().any(|(n, _)| n == name) {
                    continue;
                }
                match schema_arguments(&tool["inputSchema"]) {
                    Some(arguments) => {
                        call_tool(session, name, arguments)?;
                    }
                    None => log(&format!(
                        "skipping {name}: a required argument is not a plain string, number, \
                         integer or boolean"
                    )),
                }
            }
            for (name, _) in &planned {
                if !names.contains(&name.as_str()) {
                    log(&format!(
                        "the scenario asked for {name}, which tools/list did not list"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// The calls the scenario's context asks for (`toolCalls: [{name, arguments}]`, as
/// http-custom-headers gives the values whose encoding it checks), in its order.
fn planned_calls() -> Vec<(String, Value)> {
    let context: Value = env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    context["toolCalls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|call| {
                    let name = call["name"].as_str()?;
                    let arguments = match &call["arguments"] {
                        Value::Null => json!({}),
                        arguments => arguments.clone(),
                    };
                    Some((name.to_owned(), arguments))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Arguments for a tool from its input schema: a value for each required property (its
/// default, its first enum value, else a placeholder of its type), or `None` when a required
/// property is not a plain primitive (an object, an array, a `$ref` this client does not
/// follow): such a tool is not called.
fn schema_arguments(schema: &Value) -> Option<Value> {
    let mut arguments = Map::new();
    let required = schema["required"].as_array().map_or(&[][..], Vec::as_slice);
    for name in required {
        let name = name.as_str()?;
        let property = &schema["properties"][name];
        let value = if let Some(default) = property.get("default") {
            default.clone()
        } else if let Some(first) = property["enum"].get(0) {
            first.clone()
        } else {
            match property["type"].as_str()? {
                "string" => json!("conformance"),
                "integer" => json!(1),
                "number" => json!(1.5),
                "boolean" => json!(true),
                _ => return None,
            }
        };
        arguments.insert(name.to_owned(), value);
    }
    Some(Value::Object(arguments))
}

fn require_tool(names: &[&str], name: &str) -> Result<(), String> {
    if names.contains(&name) {
        Ok(())
    } else {
        Err(format!("tools/list: no tool {name:?} (got {names:?})"))
    }
}

/// `tools/call`; a result with `isError: true` is a failure.
fn call_tool(session: &mut Session, name: &str, arguments: Value) -> Result<Value, String> {
    let result = session.request("tools/call", json!({"name": name, "arguments": arguments}))?;
    if result["isError"].as_bool() == Some(true) {
        return Err(format!(
            "tools/call {name}: the tool failed: {}",
            texts(&result)
        ));
    }
    Ok(result)
}

/// The text parts of a tool result, joined.
fn texts(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| part["text"].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
