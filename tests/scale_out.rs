//! Several instances behind a real load balancer (issue 17 item 5): three
//! gateways (`--instanceId a|b|c`, `--readyEndpoint /readyz`, the fixture as
//! their child) and HAProxy on loopback running docker/haproxy.cfg itself,
//! its addresses given in the environment variables the file reads.
//!
//! - 2026-07-28 clients on stateless Streamable HTTP: round robin, every
//!   answer exact, every instance served some (counted by each gateway's
//!   metrics and by HAProxy's request log, which must agree); a sealed
//!   `requestState` retry goes back to the instance that sealed it by its
//!   `ID.` prefix.
//! - Stateful sessions: every session stays on its instance (the prefix of
//!   its `Mcp-Session-Id`; HAProxy's stick table learns the same mapping);
//!   killing one instance fails only its sessions, with 404.
//! - Legacy SSE: `POST /message?sessionId=b.…` reaches b; a killed instance
//!   is taken out by the health checks and new streams go elsewhere.
//!
//! HAProxy comes from Debian's package (`.ci/run` installs it). Without it
//! the tests say so and pass, unless `SUPERGATEWAY_PROXY_TESTS=require`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    connect_to, eventually, fixture, open_sse, post, read_response, request_to, tool_text, Gateway,
    Streamable, WsClient, WAIT,
};
use serde_json::json;
use supergateway_proto::mcp::request_state::{dangerous_peek, split_instance};

/// The instances, as `--instanceId` and as HAProxy's server names.
const IDS: [&str; 3] = ["a", "b", "c"];
const MODERN: &str = "2026-07-28";
const CLIENTS: u64 = 32;
const CALLS: u64 = 200;

/// HAProxy, or `None` (the test then passes, saying it did not run) unless
/// `SUPERGATEWAY_PROXY_TESTS=require`.
fn haproxy() -> Option<PathBuf> {
    let required = std::env::var("SUPERGATEWAY_PROXY_TESTS").is_ok_and(|v| v == "require");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            !required,
            "haproxy is not installed and SUPERGATEWAY_PROXY_TESTS=require"
        );
        eprintln!("SKIPPED: haproxy is not installed (apt-get install haproxy)");
    }
    found
}

/// The three gateways: `--stdio FIXTURE EXTRA… --instanceId ID
/// --readyEndpoint /readyz --metricsEndpoint /metrics`, each ready.
fn gateways(extra: &[&str]) -> Vec<Gateway> {
    let fixture = fixture();
    IDS.iter()
        .map(|id| {
            let mut args = vec!["--stdio", fixture.as_str()];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[
                "--instanceId",
                id,
                "--readyEndpoint",
                "/readyz",
                "--metricsEndpoint",
                "/metrics",
            ]);
            let gateway = Gateway::start(&args);
            eventually(&format!("gateway {id} ready"), || {
                get(gateway.addr, "/readyz").status == 200
            });
            gateway
        })
        .collect()
}

fn get(addr: SocketAddr, path: &str) -> common::Response {
    request_to(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A running HAProxy: its address, its request log (stdout, one line per
/// request: `SERVER STATUS METHOD TARGET`) and its runtime API socket.
struct Haproxy {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    output: Arc<Mutex<Vec<String>>>,
}

impl Haproxy {
    /// Starts docker/haproxy.cfg in front of `gateways` on a free loopback
    /// port. The port is chosen before HAProxy binds it, so something else
    /// can take it first: a start counts only once a request through the
    /// port shows up in this HAProxy's own log; otherwise another port.
    fn start(program: &Path, gateways: &[Gateway], name: &str) -> Self {
        let mut failures = Vec::new();
        for attempt in 0..3 {
            match Self::launch(program, gateways, name, attempt) {
                Ok(proxy) => return proxy,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("haproxy did not start:\n{}", failures.join("\n---\n"));
    }

    fn launch(
        program: &Path,
        gateways: &[Gateway],
        name: &str,
        attempt: u32,
    ) -> Result<Self, String> {
        let dir =
            std::env::temp_dir().join(format!("sg-scale-{name}-{}-{attempt}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let listen = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/haproxy.cfg");
        let mut command = Command::new(program);
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("SG_LISTEN", listen.to_string())
            .env("SG_READY", "/readyz")
            .env("SG_ADMIN_SOCKET", dir.join("admin.sock"));
        for (var, gateway) in ["SG_A", "SG_B", "SG_C"].iter().zip(gateways) {
            command.env(var, gateway.addr.to_string());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    output.lock().unwrap().push(line);
                }
            });
        }
        let mut proxy = Self {
            child,
            addr: listen,
            dir,
            output,
        };
        let probe = format!("/readyz?scale-probe-{attempt}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                return Err(format!(
                    "attempt {attempt} on {listen}: exited ({status}):\n{}",
                    proxy.output.lock().unwrap().join("\n")
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "attempt {attempt} on {listen}: no request through it reached its log:\n{}",
                    proxy.output.lock().unwrap().join("\n")
                ));
            }
            if proxy.answers(&probe) {
                return Ok(proxy);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `GET target` through the port is answered 200 and logged
    /// (HAProxy logs a request once it is done).
    fn answers(&self, target: &str) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if !answer.starts_with("HTTP/1.1 200") {
            return false;
        }
        let logged = Instant::now() + Duration::from_secs(2);
        while Instant::now() < logged {
            if self.requests().iter().any(|line| line.ends_with(target)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The request log so far: `SERVER STATUS METHOD TARGET` lines.
    fn requests(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap()
            .iter()
            .filter(|line| {
                let server = line.split(' ').next().unwrap_or_default();
                IDS.contains(&server) || server == "<NOSRV>"
            })
            .cloned()
            .collect()
    }

    /// One command on the runtime API; its whole answer.
    fn admin(&self, command: &str) -> String {
        let mut socket = UnixStream::connect(self.dir.join("admin.sock")).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        answer
    }

    /// A server's status as the health checks see it (`UP`, `DOWN`, …).
    fn status(&self, server: &str) -> String {
        self.stat(server, "status")
    }

    /// A column of `show stat` for one of the servers.
    fn stat<T: std::str::FromStr>(&self, server: &str, name: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        let stat = self.admin("show stat");
        let header = stat.lines().next().unwrap().trim_start_matches("# ");
        let column = header.split(',').position(|c| c == name).unwrap();
        stat.lines()
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|fields| fields[0] == "supergateway" && fields[1] == server)
            .map(|fields| fields[column].parse().unwrap())
            .unwrap_or_else(|| panic!("no server {server} in:\n{stat}"))
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The instance id a session id or state starts with, checking the rest:
/// a UUID v4 for a session id, a well-formed bare token for a state.
fn instance_of_session(id: &str) -> &str {
    let (instance, uuid) = id
        .split_once('.')
        .unwrap_or_else(|| panic!("no instance prefix in {id}"));
    assert!(IDS.contains(&instance), "{id}");
    assert_eq!(uuid.len(), 36, "{id}");
    assert!(uuid.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    instance
}

/// The counter `supergateway_requests_total` of `method` answered `ok`.
fn served(gateway: &Gateway, transport: &str, method: &str) -> u64 {
    let metrics = get(gateway.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    let key = format!(
        "supergateway_requests_total{{server=\"default\",transport=\"{transport}\",method=\"{method}\",outcome=\"ok\"}} "
    );
    metrics
        .text()
        .lines()
        .find_map(|line| line.strip_prefix(&key))
        .map_or(0, |value| value.parse().unwrap())
}

/// A 2026-07-28 `tools/call` POST: the body and the routing headers.
fn modern_call(id: u64, tool: &str, arguments: &str, caps: &str, extra: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments},{extra}"_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{caps}}}}}}}"#
    );
    let headers = format!(
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {MODERN}\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: {tool}\r\n"
    );
    post("/mcp", &body, &headers)
}

#[test]
fn stateless_2026_clients_are_balanced_over_every_instance_and_retries_find_their_state() {
    let Some(program) = haproxy() else { return };
    let gateways = gateways(&["--outputTransport", "streamableHttp"]);
    let proxy = Haproxy::start(&program, &gateways, "stateless");
    // From here on HAProxy counts only the calls (not the start's probe).
    proxy.admin("clear counters all");

    // 32 clients × 200 calls, each client on one keep-alive connection.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let addr = proxy.addr;
            std::thread::spawn(move || {
                let mut connection = BufReader::new(connect_to(addr));
                for call in 0..CALLS {
                    let id = client * 1000 + call;
                    let request =
                        modern_call(id, "add", &format!(r#"{{"a":{client},"b":{call}}}"#), "{}", "");
                    connection.get_mut().write_all(&request).unwrap();
                    let answer = read_response(&mut connection);
                    assert_eq!(answer.status, 200, "call {id}: {}", answer.text());
                    assert_eq!(
                        answer.text(),
                        format!(
                            r#"{{"id":{id},"jsonrpc":"2.0","result":{{"resultType":"complete","content":[{{"text":"{}","type":"text"}}]}}}}"#,
                            client + call
                        )
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let counts: BTreeMap<&str, u64> = IDS
        .iter()
        .zip(&gateways)
        .map(|(id, gateway)| (*id, served(gateway, "streamableHttp", "tools/call")))
        .collect();
    eprintln!("tools/call answered per instance (32 clients x 200 calls): {counts:?}");
    assert_eq!(counts.values().sum::<u64>(), CLIENTS * CALLS, "{counts:?}");
    assert!(counts.values().all(|n| *n > 0), "{counts:?}");
    // HAProxy's own counters say the same: each instance's 2xx answers
    // are its calls. (Its request log is no count: it drops lines when
    // stdout is busy.)
    for (id, count) in &counts {
        assert_eq!(proxy.stat::<u64>(id, "hrsp_2xx"), *count, "{id}");
    }

    // Input round trips: each retry goes back to the instance that sealed
    // its state, by the state's prefix (round robin alone would send it to
    // the next instance, which cannot open it).
    let mut sealers = BTreeSet::new();
    for round in 0..6u64 {
        let arguments = format!(r#"{{"prompt":"p{round}"}}"#);
        let caps = r#"{"sampling":{}}"#;
        let asked = request_to(
            proxy.addr,
            &modern_call(round, "sample", &arguments, caps, ""),
        );
        assert_eq!(asked.status, 200, "{}", asked.text());
        let result = &asked.json()["result"];
        assert_eq!(result["resultType"], "input_required", "{result}");
        let state = result["requestState"].as_str().unwrap().to_owned();
        let (instance, bare) = split_instance(&state).unwrap_or_else(|| panic!("{state}"));
        assert!(IDS.contains(&instance), "{state}");
        assert!(dangerous_peek(bare).is_ok(), "{state}");
        sealers.insert(instance.to_owned());
        let requests = result["inputRequests"].as_object().unwrap();
        assert_eq!(requests.len(), 1, "{result}");
        let (key, request) = requests.iter().next().unwrap();
        assert_eq!(request["method"], "sampling/createMessage", "{result}");
        let responses = format!(
            r#""inputResponses":{{"{key}":{{"role":"assistant","content":{{"type":"text","text":"r{round}"}},"model":"m"}}}},"requestState":"{state}","#
        );
        let retry = 100 + round;
        let answer = request_to(
            proxy.addr,
            &modern_call(retry, "sample", &arguments, caps, &responses),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(
            answer.json(),
            json!({"id":retry,"jsonrpc":"2.0","result":{"resultType":"complete",
                "content":[{"type":"text","text":format!("sampled: r{round}")}]}}),
            "round {round}, sealed by {instance}"
        );
    }
    assert!(sealers.len() >= 2, "every state sealed by {sealers:?}");
    // Another instance refuses a state by its prefix (sent to it
    // directly), and the state still opens where it belongs.
    let arguments = r#"{"prompt":"elsewhere"}"#;
    let caps = r#"{"sampling":{}}"#;
    let asked = request_to(proxy.addr, &modern_call(7, "sample", arguments, caps, ""));
    let result = &asked.json()["result"];
    let state = result["requestState"].as_str().unwrap();
    let (sealer, _) = split_instance(state).unwrap();
    let key = result["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    let responses = format!(
        r#""inputResponses":{{"{key}":{{"role":"assistant","content":{{"type":"text","text":"x"}},"model":"m"}}}},"requestState":"{state}","#
    );
    let other = IDS.iter().position(|id| *id != sealer).unwrap();
    let refused = request_to(
        gateways[other].addr,
        &modern_call(8, "sample", arguments, caps, &responses),
    );
    assert_eq!(
        refused.text(),
        r#"{"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"Invalid or expired requestState","data":{"reason":"invalid_request_state"}}}"#
    );
    eventually("the refusal's reason in the log", || {
        gateways[other]
            .log()
            .contains("refused a retry's requestState: sealed by another gateway instance")
    });
    let answer = request_to(
        proxy.addr,
        &modern_call(9, "sample", arguments, caps, &responses),
    );
    assert_eq!(tool_text(&answer.json()), "sampled: x");
}

/// A handshake-era client's `tools/call echo` in its session: the text, or
/// the status when the call was refused.
fn echo(client: &Streamable, id: u64, message: &str) -> Result<String, u16> {
    let (head, events) = client.post(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"echo","arguments":{"message":message}}}));
    if head.status != 200 {
        return Err(head.status);
    }
    let messages = events.unwrap().rest();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["id"], id, "{messages:?}");
    Ok(tool_text(&messages[0]))
}

#[test]
fn stateful_sessions_stick_to_their_instance_and_a_dead_ones_get_404() {
    let Some(program) = haproxy() else { return };
    let mut gateways = gateways(&["--outputTransport", "streamableHttp", "--stateful"]);
    let proxy = Haproxy::start(&program, &gateways, "stateful");

    let mut clients = Vec::new();
    for _ in 0..9 {
        let mut client = Streamable::at(proxy.addr);
        client.initialize("2025-06-18");
        let session = client.session.clone().unwrap();
        let instance = instance_of_session(&session).to_owned();
        clients.push((instance, client));
    }
    let by_instance: BTreeSet<&str> = clients.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(by_instance.len(), 3, "sessions on {by_instance:?}");
    // Every call reaches the session's instance (another would answer 404).
    for round in 0..3 {
        for (n, (instance, client)) in clients.iter().enumerate() {
            let message = format!("{instance}-{n}-{round}");
            assert_eq!(echo(client, round, &message), Ok(message));
        }
    }
    for (gateway, id) in gateways.iter().zip(IDS) {
        let sessions = clients.iter().filter(|(i, _)| i == id).count() as u64;
        assert_eq!(
            served(gateway, "streamableHttp", "tools/call"),
            3 * sessions,
            "{id}"
        );
    }
    // The stick table learned each session from its initialize answer, for
    // the gateways that run without --instanceId.
    let table = StickTable::read(&proxy);
    for (instance, client) in &clients {
        let session = client.session.as_deref().unwrap();
        assert_eq!(
            table.server_of(session),
            Some(IDS.iter().position(|id| id == instance).unwrap() + 1),
            "{session} in\n{}",
            table.0
        );
    }

    // b dies: its sessions get 404 (so their clients start over), the
    // others go on.
    gateways[1].child.kill().unwrap();
    gateways[1].child.wait().unwrap();
    for (n, (instance, client)) in clients.iter().enumerate() {
        let message = format!("after-{n}");
        if instance == "b" {
            assert_eq!(echo(client, 10, &message), Err(404), "{n}");
        } else {
            assert_eq!(echo(client, 10, &message), Ok(message));
        }
    }
    for (instance, client) in clients.iter_mut().filter(|(i, _)| i == "b") {
        client.session = None;
        client.initialize("2025-06-18");
        *instance = instance_of_session(client.session.as_deref().unwrap()).to_owned();
        assert_ne!(instance, "b");
        assert_eq!(echo(client, 11, "again"), Ok("again".to_owned()));
    }
    eventually("the health checks take b out", || {
        proxy.status("b").starts_with("DOWN")
    });
    assert!(proxy.status("a").starts_with("UP"));
}

/// `show table supergateway`: which server id each key is stuck to.
struct StickTable(String);

impl StickTable {
    fn read(proxy: &Haproxy) -> Self {
        Self(proxy.admin("show table supergateway"))
    }

    fn server_of(&self, key: &str) -> Option<usize> {
        let line = self
            .0
            .lines()
            .find(|line| line.contains(&format!(" key={key} ")))?;
        line.split(' ')
            .find_map(|word| word.strip_prefix("server_id="))
            .map(|id| id.parse().unwrap())
    }
}

#[test]
fn legacy_sse_sessions_are_routed_by_their_prefix_and_a_dead_instance_is_taken_out() {
    let Some(program) = haproxy() else { return };
    let mut gateways = gateways(&[]);
    let proxy = Haproxy::start(&program, &gateways, "sse");

    let mut sessions = Vec::new();
    for _ in 0..6 {
        let (events, endpoint) = open_sse(proxy.addr, "/sse").unwrap();
        let id = endpoint
            .strip_prefix("/message?sessionId=")
            .unwrap_or_else(|| panic!("{endpoint}"));
        let instance = instance_of_session(id).to_owned();
        sessions.push((instance, endpoint, events));
    }
    let instances: BTreeSet<&str> = sessions.iter().map(|(i, _, _)| i.as_str()).collect();
    assert_eq!(instances.len(), 3, "streams on {instances:?}");
    // Each POST reaches the instance holding the stream: its answer arrives
    // there (any other instance would have answered 404).
    for (n, (instance, endpoint, events)) in sessions.iter_mut().enumerate() {
        let message = format!("{instance}-{n}");
        let body = json!({"jsonrpc":"2.0","id":n,"method":"tools/call",
            "params":{"name":"echo","arguments":{"message":message}}});
        let posted = request_to(proxy.addr, &post(endpoint, &body.to_string(), ""));
        assert_eq!(posted.status, 202, "{}", posted.text());
        let answer = events.next_message().unwrap();
        assert_eq!(answer["id"], n, "{answer}");
        assert_eq!(tool_text(&answer), message);
    }
    for (gateway, id) in gateways.iter().zip(IDS) {
        let streams = sessions.iter().filter(|(i, _, _)| i == id).count() as u64;
        assert_eq!(served(gateway, "sse", "tools/call"), streams, "{id}");
    }

    // c dies: its streams end, its sessions' POSTs get 404, the health
    // checks take it out and new streams go to a and b.
    gateways[2].child.kill().unwrap();
    gateways[2].child.wait().unwrap();
    for (instance, endpoint, events) in &mut sessions {
        let body = r#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#;
        let posted = request_to(proxy.addr, &post(endpoint, body, ""));
        if instance == "c" {
            assert!(events.next_message().is_none(), "c's stream goes on");
            assert_eq!(posted.status, 404, "{}", posted.text());
        } else {
            assert_eq!(posted.status, 202, "{}", posted.text());
            assert_eq!(events.next_message().unwrap()["id"], 99);
        }
    }
    eventually("the health checks take c out", || {
        proxy.status("c").starts_with("DOWN")
    });
    for n in 0..4 {
        let (mut events, endpoint) = open_sse(proxy.addr, "/sse").unwrap();
        let id = endpoint.strip_prefix("/message?sessionId=").unwrap();
        assert_ne!(instance_of_session(id), "c", "stream {n}");
        let body = json!({"jsonrpc":"2.0","id":n,"method":"tools/call",
            "params":{"name":"echo","arguments":{"message":"new"}}});
        let posted = request_to(proxy.addr, &post(&endpoint, &body.to_string(), ""));
        assert_eq!(posted.status, 202, "{}", posted.text());
        assert_eq!(tool_text(&events.next_message().unwrap()), "new");
    }
}

#[test]
fn websocket_sessions_carry_the_instance_prefix_too() {
    let gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "ws",
        "--instanceId",
        "ws-1",
    ]);
    let mut client = WsClient::connect(&gateway);
    client.initialize();
    let mut id = String::new();
    eventually("the session's log line", || {
        let log = gateway.log();
        let Some((_, rest)) = log.split_once("WebSocket session ") else {
            return false;
        };
        id = rest.split(' ').next().unwrap().to_owned();
        true
    });
    let (instance, uuid) = id.split_once('.').unwrap();
    assert_eq!(instance, "ws-1", "{id}");
    assert_eq!(uuid.len(), 36, "{id}");
    // Without the flag, ids are bare UUIDs, as before.
    let plain = Gateway::start(&["--stdio", &fixture(), "--outputTransport", "ws"]);
    let mut client = WsClient::connect(&plain);
    client.initialize();
    eventually("the session's log line", || {
        let log = plain.log();
        let Some((_, rest)) = log.split_once("WebSocket session ") else {
            return false;
        };
        id = rest.split(' ').next().unwrap().to_owned();
        true
    });
    assert_eq!(id.len(), 36, "{id}");
    assert!(!id.contains('.'), "{id}");
}
