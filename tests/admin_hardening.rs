//! Issue 13, items 2, 3 and 5, against the real binary: runtime updates
//! cannot set environment names that run code, the child's shell is
//! `/bin/sh` whatever `PATH` says, the admin API always needs a token (a
//! generated one is written to a private file), idle sockets cannot lock the
//! administrator out, and logged values cannot forge log lines (text and
//! JSON).
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, fixture, read_response, tool_text, Gateway, Response, SseClient};
use serde_json::{json, Value};

const TOKEN: &str = "hardening-admin-token";

/// How long the admin API gives each phase of a request.
const ADMIN_DEADLINE: Duration = Duration::from_secs(3);

/// Slots of the admin API.
const ADMIN_SLOTS: usize = 64;

fn gateway(extra: &[&str], env: &[(&str, &str)]) -> Gateway {
    let fixture = fixture();
    let mut args = vec!["--stdio", fixture.as_str(), "--runtimeAdminPort", "0"];
    args.extend_from_slice(extra);
    Gateway::start_with_env(&args, env)
}

fn with_token(extra: &[&str]) -> Gateway {
    gateway(extra, &[("SUPERGATEWAY_ADMIN_TOKEN", TOKEN)])
}

/// The text after `marker` on the first log line that has it, up to the
/// end of the line (text logs) or of the JSON `message` (JSON logs).
fn logged_after(log: &str, marker: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let text = match serde_json::from_str::<Value>(line) {
            Ok(value) => value["message"].as_str()?.to_owned(),
            Err(_) => line.to_owned(),
        };
        text.split(marker).nth(1).map(|rest| rest.trim().to_owned())
    })
}

fn admin_addr(log: impl Fn() -> String) -> SocketAddr {
    let mut addr = None;
    eventually("the admin address in the log", || {
        addr = logged_after(&log(), "Runtime admin API on http://").map(|a| a.parse().unwrap());
        addr.is_some()
    });
    addr.unwrap()
}

fn admin_request(method: &str, path: &str, body: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn admin(addr: SocketAddr, method: &str, path: &str, body: &str, token: Option<&str>) -> Response {
    common::request_to(addr, admin_request(method, path, body, token).as_bytes())
}

fn sessions(addr: SocketAddr) -> Value {
    let response = admin(addr, "GET", "/runtime/sessions", "", Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn argv(client: &mut SseClient, id: u64, env: &[&str]) -> Value {
    let answer = client.call(
        json!(id),
        "tools/call",
        json!({"name": "argv", "arguments": {"env": env}}),
    );
    serde_json::from_str(&tool_text(&answer)).unwrap()
}

/// A fresh directory for one test (removed first if a previous run left it).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sg-h13-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A directory with an executable `sh` that records that it ran (creating
/// `marker`) and then behaves as the real shell.
fn fake_sh_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let marker = dir.join("fake-sh-ran");
    let sh = dir.join("sh");
    std::fs::write(
        &sh,
        format!(
            "#!/bin/sh\ntouch '{}'\nexec /bin/sh \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, marker)
}

// --- item 2: environment names that run code ------------------------------------

#[test]
fn ld_preload_is_refused_and_nothing_restarts() {
    let gw = with_token(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let before = argv(&mut client, 1, &["LD_PRELOAD"]);
    for (body, field) in [
        (
            r#"{"env": {"LD_PRELOAD": "/home/me/evil.so"}}"#,
            "env.LD_PRELOAD",
        ),
        // Any case: a variant is refused as well.
        (
            r#"{"env": {"ld_preload": "/home/me/evil.so"}}"#,
            "env.ld_preload",
        ),
        (
            r#"{"env": {"API_TOKEN": "fine", "NODE_OPTIONS": "--require /tmp/x.js"}}"#,
            "env.NODE_OPTIONS",
        ),
        (
            r#"{"extra_cli_args": ["x"], "env": {"npm_config_registry": "http://evil"}}"#,
            "env.npm_config_registry",
        ),
        (r#"{"env": {"PYTHONPATH": "/tmp"}}"#, "env.PYTHONPATH"),
    ] {
        let response = admin(admin_at, "POST", "/runtime/defaults", body, Some(TOKEN));
        assert_eq!(response.status, 400, "{body}: {}", response.text());
        let reply = response.json();
        assert_eq!(reply["status"], "error");
        assert_eq!(reply["field"], field, "{reply}");
        let name = field.trim_start_matches("env.");
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .contains(&format!("--runtimeAllowEnv {name}")),
            "{reply}"
        );
    }
    // A session override is checked the same way.
    let id = client
        .endpoint
        .split("sessionId=")
        .nth(1)
        .unwrap()
        .to_owned();
    let response = admin(
        admin_at,
        "POST",
        &format!("/runtime/session/{id}"),
        r#"{"env": {"LD_AUDIT": "/x.so"}}"#,
        Some(TOKEN),
    );
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["field"], "env.LD_AUDIT");

    // Nothing applied, nothing restarted: same child, no defaults.
    let after = argv(&mut client, 2, &["LD_PRELOAD"]);
    assert_eq!(after, before);
    assert_eq!(after["env"]["LD_PRELOAD"], Value::Null);
    let listed = sessions(admin_at);
    assert_eq!(listed["defaults"], json!({}));
    assert_eq!(listed["sessions"][0]["overrides"], json!({}));
    assert!(!gw.log().contains("restarting"), "{}", gw.log());
}

#[test]
fn path_is_refused_unless_allowed_and_a_fake_sh_on_it_is_never_run() {
    let (fakebin, marker) = fake_sh_dir("path-update");
    let body = json!({"env": {"PATH": fakebin.to_str().unwrap()}}).to_string();

    let gw = with_token(&[]);
    let admin_at = admin_addr(|| gw.log());
    let response = admin(admin_at, "POST", "/runtime/defaults", &body, Some(TOKEN));
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["field"], "env.PATH");
    drop(gw);

    // Allowed by name: the child gets the PATH, and is still started by
    // /bin/sh, not by the `sh` that PATH finds first.
    let gw = with_token(&["--runtimeAllowEnv", "SOMETHING_ELSE,PATH"]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let response = admin(admin_at, "POST", "/runtime/defaults", &body, Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), json!({"status": "ok", "restart": true}));
    let seen = argv(&mut client, 1, &["PATH"]);
    assert_eq!(seen["env"]["PATH"], fakebin.to_str().unwrap());
    assert!(!marker.exists(), "the fake sh on PATH was run");
    // The allow list is exact: another case of the name is still refused.
    let response = admin(
        admin_at,
        "POST",
        "/runtime/defaults",
        r#"{"env": {"Path": "/tmp"}}"#,
        Some(TOKEN),
    );
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["field"], "env.Path");
    let _ = std::fs::remove_dir_all(&fakebin);
}

#[test]
fn a_fake_sh_on_the_gateways_own_path_is_not_run() {
    let (fakebin, marker) = fake_sh_dir("own-path");
    let path = format!(
        "{}:{}",
        fakebin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let gw = Gateway::start_with_env(&["--stdio", &fixture()], &[("PATH", &path)]);
    let mut client = SseClient::connect(&gw);
    client.initialize();
    let seen = argv(&mut client, 1, &[]);
    assert!(seen["pid"].as_u64().is_some(), "{seen}");
    assert!(
        !marker.exists(),
        "the fake sh on the gateway's PATH was run"
    );
    let _ = std::fs::remove_dir_all(&fakebin);
}

#[test]
fn the_allow_list_takes_names_only() {
    let output = Command::new(env!("CARGO_BIN_EXE_supergateway"))
        .args(["--stdio", "x", "--runtimeAllowEnv", "PATH,LD-PRELOAD"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--runtimeAllowEnv takes environment names"),
        "{stderr}"
    );
}

// --- item 2: the admin API always needs a token -------------------------------

/// The generated token's file, from the log.
fn token_path(gw: &Gateway) -> PathBuf {
    let mut path = None;
    eventually("the token file in the log", || {
        path = logged_after(&gw.log(), "readable by this user only) in ")
            .and_then(|rest| rest.split("; send it").next().map(PathBuf::from));
        path.is_some()
    });
    path.unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn without_a_token_the_api_is_closed_and_the_generated_token_opens_it() {
    let runtime_dir = scratch("xdg");
    std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut gw = gateway(&[], &[("XDG_RUNTIME_DIR", runtime_dir.to_str().unwrap())]);
    let admin_at = admin_addr(|| gw.log());
    let path = token_path(&gw);
    assert_eq!(
        path,
        runtime_dir.join(format!("supergateway-admin-{}.token", gw.pid()))
    );
    assert_eq!(mode(&path), 0o600);
    let content = std::fs::read_to_string(&path).unwrap();
    let token = content.strip_suffix('\n').unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    // No token: 401, and the connection is closed after it.
    let mut stream = common::connect_to(admin_at);
    stream
        .write_all(admin_request("GET", "/runtime/sessions", "", None).as_bytes())
        .unwrap();
    let mut reader = BufReader::new(stream);
    let response = read_response(&mut reader);
    assert_eq!(response.status, 401);
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    let response = admin(
        admin_at,
        "POST",
        "/runtime/defaults",
        r#"{"env": {"A": "b"}}"#,
        None,
    );
    assert_eq!(response.status, 401);

    // The token from the file works.
    let response = admin(admin_at, "GET", "/runtime/sessions", "", Some(token));
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(!gw.log().contains(token), "the token was logged");

    // Removed at exit.
    gw.signal("TERM");
    gw.wait_exit();
    assert!(!path.exists(), "token file left behind");
    let _ = std::fs::remove_dir_all(&runtime_dir);
}

#[test]
fn without_a_private_runtime_dir_the_token_goes_to_a_new_private_directory() {
    // A runtime directory others may enter is not used.
    let shared = scratch("xdg-shared");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = scratch("tmpdir");
    let mut gw = gateway(
        &[],
        &[
            ("XDG_RUNTIME_DIR", shared.to_str().unwrap()),
            ("TMPDIR", tmp.to_str().unwrap()),
        ],
    );
    let admin_at = admin_addr(|| gw.log());
    let path = token_path(&gw);
    let dir = path.parent().unwrap().to_owned();
    assert_eq!(dir.parent().unwrap(), tmp);
    let dir_name = dir.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        dir_name.starts_with(&format!("supergateway-{}-", gw.pid())),
        "{dir_name}"
    );
    assert_eq!(path.file_name().unwrap(), "admin.token");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    let token = std::fs::read_to_string(&path).unwrap();
    let response = admin(admin_at, "GET", "/runtime/sessions", "", Some(token.trim()));
    assert_eq!(response.status, 200);
    gw.signal("TERM");
    gw.wait_exit();
    assert!(!dir.exists(), "token directory left behind");
    let _ = std::fs::remove_dir_all(&shared);
    let _ = std::fs::remove_dir_all(&tmp);
}

// --- item 3: the admin API cannot be locked out --------------------------------

#[test]
fn idle_sockets_cannot_lock_the_administrator_out() {
    let gw = with_token(&[]);
    let admin_at = admin_addr(|| gw.log());
    // Every slot taken: half say nothing, half send part of a head.
    let mut squatters = Vec::new();
    for i in 0..ADMIN_SLOTS {
        let mut stream = TcpStream::connect(admin_at).unwrap();
        if i % 2 == 1 {
            stream
                .write_all(b"GET /runtime/sessions HTTP/1.1\r\n")
                .unwrap();
        }
        squatters.push(stream);
    }
    let started = Instant::now();
    let response = admin(admin_at, "GET", "/runtime/sessions", "", Some(TOKEN));
    let took = started.elapsed();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["sessions"], json!([]));
    assert!(
        took < ADMIN_DEADLINE + Duration::from_millis(2500),
        "the administrator waited {took:?}"
    );
    // The squatters were cut: silently when idle, 408 mid-head.
    for (i, mut stream) in squatters.into_iter().enumerate() {
        stream
            .set_read_timeout(Some(ADMIN_DEADLINE + Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        let got = String::from_utf8_lossy(&got);
        if i % 2 == 1 {
            assert!(got.starts_with("HTTP/1.1 408 "), "{i}: {got}");
        } else {
            assert!(got.is_empty(), "{i}: {got}");
        }
    }
}

// --- item 5: log lines cannot be forged ----------------------------------------

/// What an attacker puts in values that get logged: a forged line, a
/// carriage return, terminal escapes, C1 NEL and U+2028.
const FORGED: &str = "x\n2099-01-01T00:00:00Z  INFO supergateway: FORGED\r\u{1b}[2K\u{1b}]0;t\u{7}\u{85}NEL\u{2028}LS";

/// The escaped form of [`FORGED`] in text logs.
const FORGED_TEXT: &str = "x\\n2099-01-01T00:00:00Z  INFO supergateway: FORGED\\r\\u{1b}[2K\\u{1b}]0;t\\u{7}\\u{85}NEL\\u{2028}LS";

/// A child's stderr line (the gateway splits stderr at LF, so none here):
/// a carriage return to overwrite the line, terminal escapes, NEL, U+2028.
const STDERR: &str =
    "from the child\r2099-01-01T00:00:00Z  INFO supergateway: FORGED\u{1b}[2K\u{85}NEL\u{2028}LS";

/// The escaped form of [`STDERR`] in text logs.
const STDERR_TEXT: &str =
    "from the child\\r2099-01-01T00:00:00Z  INFO supergateway: FORGED\\u{1b}[2K\\u{85}NEL\\u{2028}LS";

/// Lines a hostile value must not have produced: a raw control (CR, ESC,
/// C1, ...) or separator anywhere, or a line of its own.
fn assert_no_forged_lines(log: &str) {
    for line in log.lines() {
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
            "raw control character in {line:?}"
        );
        assert!(!line.starts_with("2099-"), "forged line {line:?}");
    }
}

#[test]
fn logged_values_are_escaped_in_text_logs() {
    let gw = with_token(&[]);
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect(&gw);
    client.initialize();
    // An admin argument with a newline, into the "child started" line.
    let body = json!({"extra_cli_args": [FORGED]}).to_string();
    let response = admin(admin_at, "POST", "/runtime/defaults", &body, Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(argv(&mut client, 1, &[])["argv"], json!([FORGED]));
    // A line of the child's stderr.
    let answer = client.call(
        json!(2),
        "tools/call",
        json!({"name": "stderr", "arguments": {"message": STDERR}}),
    );
    assert_eq!(tool_text(&answer), "ok");
    eventually("the child's stderr line in the log", || {
        gw.log().contains(STDERR_TEXT)
    });
    let log = gw.log();
    let started = log
        .lines()
        .rfind(|line| line.contains("child started"))
        .unwrap();
    assert!(started.ends_with(&format!("'{FORGED_TEXT}'")), "{started}");
    // The update's own log line carries the argument too, escaped.
    assert!(
        log.lines()
            .any(|line| line.contains("runtime update of the defaults") && line.contains("FORGED")),
        "{log}"
    );
    assert_no_forged_lines(&log);
}

/// A gateway with `--logFormat json`, its stdout lines collected.
struct JsonGateway {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl JsonGateway {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_supergateway"))
            .args([
                "--stdio",
                &fixture(),
                "--port",
                "0",
                "--runtimeAdminPort",
                "0",
                "--logFormat",
                "json",
            ])
            .env("SUPERGATEWAY_ADMIN_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn messages(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("not one JSON object ({err}): {line:?}"));
                value["message"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

impl Drop for JsonGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn logged_values_are_escaped_in_json_logs() {
    let gw = JsonGateway::start();
    let mut addr = None;
    eventually("the listening address in the log", || {
        addr = logged_after(&gw.log(), "Listening on ").map(|a| a.parse().unwrap());
        addr.is_some()
    });
    let admin_at = admin_addr(|| gw.log());
    let mut client = SseClient::connect_addr(addr.unwrap(), "/sse");
    client.initialize();
    let body = json!({"extra_cli_args": [FORGED]}).to_string();
    let response = admin(admin_at, "POST", "/runtime/defaults", &body, Some(TOKEN));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(argv(&mut client, 1, &[])["argv"], json!([FORGED]));
    let answer = client.call(
        json!(2),
        "tools/call",
        json!({"name": "stderr", "arguments": {"message": STDERR}}),
    );
    assert_eq!(tool_text(&answer), "ok");
    eventually("the child's stderr line in the log", || {
        gw.messages().iter().any(|message| message == STDERR)
    });
    // Every line is one JSON object without raw controls, and the values
    // read back exactly.
    let log = gw.log();
    assert_no_forged_lines(&log);
    assert!(
        log.contains("\\u001b[2K\\u001b]0;t\\u0007\\u0085NEL\\u2028LS"),
        "{log}"
    );
    let messages = gw.messages();
    let started = messages
        .iter()
        .rfind(|m| m.starts_with("child started"))
        .unwrap();
    assert!(started.ends_with(&format!("'{FORGED}'")), "{started}");
}
