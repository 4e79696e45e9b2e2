//! The reverse bridge's OAuth client end to end: the real binary (`--streamableHttp`) in front
//! of the in-tree authorization server and protected MCP server (`tests/oauth/server.rs`), driven
//! over stdin/stdout like a desktop MCP client, with the headless browser (`oauth-browser`) as
//! `$BROWSER` and a fresh `XDG_CONFIG_HOME` as the token store.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
#[path = "oauth/server.rs"]
mod oauth_server;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use common::{oauth_browser, tool_text, WAIT};
use oauth_server::{Client as AsClient, Config, Iss, TestAs};
use serde_json::{json, Value};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A private temp dir (the bridge's `XDG_CONFIG_HOME`), removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "sg-oauth-bridge-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self(dir)
    }

    /// The token store directory the bridge uses under it.
    fn store(&self) -> PathBuf {
        self.0.join("supergateway").join("oauth")
    }

    /// The token files (`*.json`) in the store.
    fn token_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.store()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        files
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bridge, spoken to over its stdin/stdout.
struct Bridge {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    log: Arc<Mutex<Vec<String>>>,
    /// Reads stderr to its end.
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl Bridge {
    /// `supergateway --streamableHttp MCP --logLevel debug EXTRA` with the headless browser
    /// and `config` as `XDG_CONFIG_HOME`.
    fn start(server: &TestAs, config: &TempDir, extra: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
        command
            .args(["--streamableHttp", &server.mcp_url(), "--logLevel", "debug"])
            .args(extra)
            .env("BROWSER", oauth_browser())
            .env("XDG_CONFIG_HOME", &config.0);
        Self::spawn(command)
    }

    /// Runs `command` with piped stdio.
    fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|err| {
                    panic!("stdout carried a non-JSON line ({err}): {line:?}")
                });
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            stdin,
            lines,
            log,
            stderr: Some(stderr),
        }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request; its answer (nothing else may come before it).
    fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        let answer = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no answer to {method}; log:\n{}", self.log()));
        assert_eq!(answer["id"], id, "{answer}\nlog:\n{}", self.log());
        answer
    }

    fn initialize(&mut self) -> Value {
        let answer = self.call(
            0,
            "initialize",
            json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        );
        self.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        answer
    }

    /// `tools/call whoami`'s text: `scopes=…` of the token the server saw.
    fn whoami(&mut self, id: u64) -> String {
        let answer = self.call(id, "tools/call", json!({"name":"whoami","arguments":{}}));
        tool_text(&answer)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Closes stdin and waits for a clean exit; the whole stderr.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit {status}; log:\n{}", self.log());
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the bridge did not exit on stdin EOF; log:\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The process is gone: its stderr ends.
        if let Some(reader) = self.stderr.take() {
            reader.join().unwrap();
        }
        self.log()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `count` in `log`: how many lines contain `needle`.
fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

/// No token, code, verifier or secret the AS issued or received is in `log`.
fn assert_no_secrets(server: &TestAs, log: &str) {
    let mut secrets = server.secrets();
    for request in server.token_requests() {
        secrets.extend(request.form.get("code_verifier").cloned());
        secrets.extend(request.form.get("client_secret").cloned());
    }
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(
            !log.contains(&secret),
            "the bridge's stderr shows a secret ({secret:?}):\n{log}"
        );
    }
}

/// The first bridge: initialize, the code flow on the first 401, whoami.
fn authorise(server: &TestAs, config: &TempDir) -> String {
    let mut bridge = Bridge::start(server, config, &[]);
    let init = bridge.initialize();
    assert_eq!(
        init["result"]["protocolVersion"],
        "2025-06-18",
        "{init}\nlog:\n{}",
        bridge.log()
    );
    assert_eq!(bridge.whoami(1), "scopes=");
    bridge.finish()
}

#[test]
fn the_code_flow_through_the_browser_then_a_second_bridge_reuses_the_stored_token() {
    let server = TestAs::start(Config::default());
    let config = TempDir::new("code");
    let log = authorise(&server, &config);
    let counts = server.counts();
    assert_eq!(counts.register, 1);
    assert_eq!(counts.authorize, 1);
    assert_eq!(counts.token("authorization_code"), 1);
    assert_eq!(counts.token_ok("authorization_code"), 1);
    // PKCE, the PRM's resource, the loopback redirect, no scope (none anywhere).
    let authorization = &server.authorizations()[0];
    assert_eq!(authorization.query["code_challenge_method"], "S256");
    assert_eq!(authorization.query["resource"], server.mcp_url());
    assert!(
        authorization.query["redirect_uri"].starts_with("http://127.0.0.1:"),
        "{:?}",
        authorization.query
    );
    assert!(!authorization.query.contains_key("scope"));
    assert_eq!(server.registrations()[0].body["application_type"], "native");
    // The URL is printed whole, once.
    assert_eq!(
        lines_with(&log, "Open this URL to authorise: http://"),
        1,
        "{log}"
    );
    assert_no_secrets(&server, &log);

    // The store: private directories, one private file named after the issuer's host.
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&config.0.join("supergateway")), 0o700);
    assert_eq!(mode(&config.store()), 0o700);
    let files = config.token_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let hex = name
        .strip_prefix("127.0.0.1-")
        .and_then(|rest| rest.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("token file name {name:?}"));
    assert!(
        hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(mode(&files[0]), 0o600);

    // A second bridge: the stored token, no new authorization or token request.
    let mut second = Bridge::start(&server, &config, &[]);
    second.initialize();
    assert_eq!(second.whoami(1), "scopes=");
    let log = second.finish();
    let counts = server.counts();
    assert_eq!(counts.authorize, 1);
    assert_eq!(counts.register, 1);
    assert_eq!(counts.token.values().sum::<u32>(), 1);
    assert_eq!(lines_with(&log, "Open this URL"), 0, "{log}");
}

#[test]
fn an_expired_token_is_refreshed_and_a_revoked_refresh_token_means_a_new_authorization() {
    let server = TestAs::start(Config::default());
    let config = TempDir::new("refresh");
    let mut bridge = Bridge::start(&server, &config, &[]);
    bridge.initialize();
    assert_eq!(bridge.whoami(1), "scopes=");
    assert_eq!(server.counts().authorize, 1);

    // Expired at the server: the 401 leads to one refresh, and the call goes through.
    server.expire_access_tokens();
    assert_eq!(bridge.whoami(2), "scopes=");
    let counts = server.counts();
    assert_eq!(counts.token("refresh_token"), 1);
    assert_eq!(counts.token_ok("refresh_token"), 1);
    assert_eq!(counts.authorize, 1);

    // Expired and the refresh token revoked: refused, the tokens wiped, authorised again.
    server.expire_access_tokens();
    server.revoke_refresh_tokens();
    assert_eq!(bridge.whoami(3), "scopes=");
    let counts = server.counts();
    assert_eq!(counts.token("refresh_token"), 2);
    assert_eq!(counts.token_ok("refresh_token"), 1);
    assert_eq!(counts.authorize, 2);
    assert_eq!(counts.token_ok("authorization_code"), 2);
    // The registration was kept.
    assert_eq!(counts.register, 1);
    let log = bridge.finish();
    assert_eq!(
        lines_with(
            &log,
            "the stored refresh token was refused; authorising again"
        ),
        1,
        "{log}"
    );
    assert_no_secrets(&server, &log);
    // The file holds the new tokens: a new bridge needs nothing from the AS.
    let before = server.counts().token.values().sum::<u32>();
    let mut next = Bridge::start(&server, &config, &[]);
    next.initialize();
    assert_eq!(next.whoami(1), "scopes=");
    next.finish();
    assert_eq!(server.counts().token.values().sum::<u32>(), before);
}

#[test]
fn a_403_for_more_scope_steps_up_to_the_union_and_retries() {
    let server = TestAs::start(Config {
        challenge_scope: Some("mcp:basic".into()),
        call_scope: Some("mcp:write".into()),
        prm_scopes: Some(vec!["mcp:profile".into()]),
        ..Config::default()
    });
    let config = TempDir::new("stepup");
    let mut bridge = Bridge::start(&server, &config, &[]);
    bridge.initialize();
    assert_eq!(bridge.whoami(1), "scopes=mcp:basic mcp:write");
    let scopes: Vec<String> = server
        .authorizations()
        .iter()
        .map(|a| a.query["scope"].clone())
        .collect();
    assert_eq!(scopes, ["mcp:basic", "mcp:basic mcp:write"]);
    let counts = server.counts();
    assert_eq!(counts.mcp_403, 1);
    assert_eq!(counts.token_ok("authorization_code"), 2);
    let log = bridge.finish();
    assert_no_secrets(&server, &log);
}

#[test]
fn a_wrong_iss_is_one_error_to_the_client_one_stderr_line_and_no_token_request() {
    let server = TestAs::start(Config {
        iss: Iss::Wrong,
        ..Config::default()
    });
    let config = TempDir::new("iss");
    let mut bridge = Bridge::start(&server, &config, &[]);
    let answer = bridge.call(
        0,
        "initialize",
        json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    let reason = "Authorization failed: authorization response rejected: the authorization response's issuer (iss) is not the authorization server we sent the user to";
    assert_eq!(
        answer,
        json!({"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":reason}}),
        "log:\n{}",
        bridge.log()
    );
    let log = bridge.finish();
    assert_eq!(lines_with(&log, "Authorization failed"), 1, "{log}");
    assert!(log.contains(reason), "{log}");
    let counts = server.counts();
    assert_eq!(counts.authorize, 1);
    assert_eq!(counts.token.values().sum::<u32>(), 0);
    assert!(config.token_files().iter().all(|file| {
        let record: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        record.get("tokens").is_none_or(Value::is_null)
    }));
}

#[test]
fn two_bridges_started_at_once_with_an_expired_token_refresh_once() {
    let server = TestAs::start(Config::default());
    let config = TempDir::new("twice");
    authorise(&server, &config);
    server.expire_access_tokens();
    let mut first = Bridge::start(&server, &config, &[]);
    let mut second = Bridge::start(&server, &config, &[]);
    first.send(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"a","version":"1"}}}));
    second.send(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}));
    for bridge in [&first, &second] {
        let answer = bridge.lines.recv_timeout(WAIT).unwrap();
        assert_eq!(
            answer["result"]["protocolVersion"],
            "2025-06-18",
            "{answer}\nlog:\n{}",
            bridge.log()
        );
    }
    for bridge in [&mut first, &mut second] {
        bridge.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        assert_eq!(bridge.whoami(1), "scopes=");
    }
    first.finish();
    second.finish();
    let counts = server.counts();
    assert_eq!(counts.token("refresh_token"), 1);
    assert_eq!(counts.authorize, 1);
}

#[test]
fn the_device_flow_prints_the_code_and_polls() {
    let server = TestAs::start(Config {
        device_pending_polls: 1,
        device_interval: 1,
        ..Config::default()
    });
    let config = TempDir::new("device");
    let mut bridge = Bridge::start(&server, &config, &["--oauthFlow", "device"]);
    bridge.initialize();
    assert_eq!(bridge.whoami(1), "scopes=");
    let log = bridge.finish();
    let counts = server.counts();
    assert_eq!(counts.device, 1);
    assert_eq!(counts.authorize, 0);
    assert_eq!(counts.token(DEVICE_GRANT), 2);
    assert_eq!(counts.token_ok(DEVICE_GRANT), 1);
    assert_eq!(
        lines_with(&log, "To authorise, open http://"),
        1,
        "the verification URI and user code are shown:\n{log}"
    );
    assert_eq!(lines_with(&log, "Open this URL"), 0, "{log}");
    assert_no_secrets(&server, &log);
}

#[test]
fn the_client_credentials_flow_needs_no_person() {
    let server = TestAs::start(Config {
        dcr: false,
        clients: vec![AsClient {
            id: "robot".into(),
            secret: Some("s3cret:with%odd&chars".into()),
            method: "client_secret_basic".into(),
            redirect_uris: Vec::new(),
            prefix: String::new(),
        }],
        ..Config::default()
    });
    let config = TempDir::new("cc");
    let secret_file = config.0.join("secret");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret_file)
        .and_then(|mut file| file.write_all(b"s3cret:with%odd&chars\n"))
        .unwrap();
    let secret_path = secret_file.to_string_lossy().into_owned();
    let issuer = server.issuer(0);
    let mut bridge = Bridge::start(
        &server,
        &config,
        &[
            "--oauthFlow",
            "client_credentials",
            "--oauthClientId",
            "robot",
            "--oauthClientSecretFile",
            &secret_path,
            "--oauthIssuer",
            &issuer,
        ],
    );
    bridge.initialize();
    assert_eq!(bridge.whoami(1), "scopes=");
    let log = bridge.finish();
    let counts = server.counts();
    assert_eq!(counts.token_ok("client_credentials"), 1);
    assert_eq!(counts.token.values().sum::<u32>(), 1);
    assert_eq!(counts.authorize, 0);
    assert_eq!(counts.register, 0);
    assert_eq!(
        server.token_requests()[0].basic_client.as_deref(),
        Some("robot")
    );
    assert!(!log.contains("s3cret"), "{log}");
    assert_no_secrets(&server, &log);
}

#[test]
fn a_static_authorization_wins_and_the_401_goes_to_the_client() {
    let server = TestAs::start(Config::default());
    let config = TempDir::new("static");
    let mut bridge = Bridge::start(&server, &config, &["--oauth2Bearer", "not-a-token"]);
    let answer = bridge.call(
        0,
        "initialize",
        json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
    );
    assert_eq!(answer["error"]["code"], -32000, "{answer}");
    assert_eq!(
        answer["error"]["message"], "the MCP server answered HTTP 401",
        "{answer}"
    );
    bridge.finish();
    let counts = server.counts();
    assert_eq!(counts.prm, 0);
    assert_eq!(counts.authorize, 0);
    assert!(!config.store().exists(), "no store without OAuth");
}

#[test]
fn request_and_probe_timeouts_do_not_run_while_the_user_authorises() {
    let server = TestAs::start(Config::default());
    let config = TempDir::new("slow");
    // A user who takes 1.5 s in the browser: longer than both timeouts below.
    let browser = config.0.join("slow-browser");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&browser)
        .and_then(|mut file| {
            write!(
                file,
                "#!/bin/sh\nsleep 1.5\nexec '{}' \"$@\"\n",
                oauth_browser()
            )
        })
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
    command
        .args(["--streamableHttp", &server.mcp_url(), "--logLevel", "debug"])
        .args(["--requestTimeout", "500", "--probeTimeout", "500"])
        .env("BROWSER", &browser)
        .env("XDG_CONFIG_HOME", &config.0);
    let mut bridge = Bridge::spawn(command);
    let init = bridge.initialize();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(bridge.whoami(1), "scopes=");
    let log = bridge.finish();
    assert_eq!(
        lines_with(&log, "did not answer server/discover"),
        0,
        "{log}"
    );
    assert_eq!(lines_with(&log, "timed out"), 0, "{log}");
    assert_eq!(server.counts().authorize, 1);
}

#[test]
fn request_timeouts_do_not_run_while_the_local_client_answers_the_server() {
    // No OAuth here: our forward gateway in front of the fixture, whose `sample` tool asks
    // the client (sampling/createMessage) before it answers.
    let fixture = common::fixture();
    let forward = common::Gateway::start(&[
        "--stdio",
        &fixture,
        "--outputTransport",
        "streamableHttp",
        "--stateful",
    ]);
    let url = format!("http://{}/mcp", forward.addr);
    let config = TempDir::new("asking");
    let mut command = Command::new(env!("CARGO_BIN_EXE_supergateway"));
    command
        // Handshake-era upstream: the server's request arrives while the tools/call is open
        // (2026-07-28 would end the call with input_required instead).
        .args(["--streamableHttp", &url, "--requestTimeout", "500"])
        .args(["--upstreamProtocol", "legacy"])
        .env("XDG_CONFIG_HOME", &config.0);
    let mut bridge = Bridge::spawn(command);
    bridge.call(
        0,
        "initialize",
        json!({"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"t","version":"1"}}),
    );
    bridge.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    bridge.send(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sample","arguments":{"prompt":"hi"}}}));
    let ask = bridge.lines.recv_timeout(WAIT).unwrap();
    assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
    // The user takes longer than --requestTimeout to approve.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    bridge.send(&json!({"jsonrpc":"2.0","id":ask["id"],"result":{"role":"assistant","content":{"type":"text","text":"sure"},"model":"m"}}));
    let answer = bridge.lines.recv_timeout(WAIT).unwrap();
    assert_eq!(answer["id"], 7, "{answer}\nlog:\n{}", bridge.log());
    assert_eq!(tool_text(&answer), "sampled: sure", "{answer}");
    // The clock runs again once answered: a call that hangs still times out.
    let slow = bridge.call(
        8,
        "tools/call",
        json!({"name":"sleep","arguments":{"ms":5000}}),
    );
    assert_eq!(
        slow,
        json!({"jsonrpc":"2.0","id":8,"error":{"code":-32001,"message":"Request timed out"}})
    );
    bridge.finish();
    assert!(!config.store().exists(), "no store without a 401");
}
