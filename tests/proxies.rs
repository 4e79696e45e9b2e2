//! Real proxies in front of the gateway: nginx and HAProxy, each started on
//! loopback with the configuration kept in tests/proxy/ (README's recipes),
//! in front of the real binary (stdio → Streamable HTTP, stateless, the
//! fixture as the child). Both reuse upstream connections, so a request one
//! parser frames differently from the other would surface on a shared
//! connection as a request the proxy never sent (smuggled) or one the
//! gateway never saw (swallowed).
//!
//! Every case of tests/proxy/corpus/ (the escape format of
//! tests/corpus/README.md) is sent to the proxy over a fresh connection;
//! every request in it carries a unique tag (`/mcp?tag-NAME-N`). The proxy's
//! access log says which tags it forwarded upstream; the gateway's debug log
//! (`request METHOD TARGET`) says which it read. For each case: every tag
//! the gateway read was forwarded by the proxy (nothing smuggled), and every
//! forwarded request was read by the gateway or refused by it with an error
//! that closes the connection (nothing swallowed).
//!
//! The proxies come from Debian packages (`nginx-light`, `haproxy`;
//! `.ci/run` installs them). Without them the test says so and passes,
//! unless `SUPERGATEWAY_PROXY_TESTS=require` (set by `.ci/run` when the
//! install succeeded). `PROXY_FILTER=substring` runs the matching cases.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
#[path = "common/escape.rs"]
mod escape;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, fixture, read_response, Gateway, WAIT};

/// How long a case's connection may sit with neither an answer nor a close
/// before the client half-closes it (a case whose body one side still waits
/// for). Not a synchronisation: what is compared is the two logs, after a
/// marker request has gone through both.
const STALL: Duration = Duration::from_secs(3);

/// The probe's JSON-RPC id: its answer shows the connection was kept alive.
const PROBE_ID: &str = "proxy-probe";

#[test]
fn nginx_and_haproxy_agree_with_the_gateway_on_every_request() {
    let required = std::env::var("SUPERGATEWAY_PROXY_TESTS").is_ok_and(|v| v == "require");
    let programs = [
        ("nginx", find_program("nginx")),
        ("haproxy", find_program("haproxy")),
    ];
    if let Some((name, _)) = programs.iter().find(|(_, path)| path.is_none()) {
        assert!(
            !required,
            "{name} is not installed and SUPERGATEWAY_PROXY_TESTS=require"
        );
        eprintln!(
            "SKIPPED: {name} is not installed (apt-get install nginx-light haproxy); \
             the proxy test did not run"
        );
        return;
    }
    let cases = load_cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let fixture = fixture();
    let runs: Vec<_> = programs
        .into_iter()
        .map(|(name, program)| {
            let cases = cases.clone();
            let fixture = fixture.clone();
            let program = program.unwrap();
            std::thread::spawn(move || run_proxy(name, &program, &fixture, &cases))
        })
        .collect();
    let mut tables = Vec::new();
    let mut failures = Vec::new();
    for run in runs {
        let (table, failed) = run.join().unwrap();
        tables.push(table);
        failures.extend(failed);
    }
    eprintln!(
        "| proxy | cases | requests in the cases | forwarded by the proxy | read by the gateway | \
         refused by the proxy | refused by the gateway | cases where both agree |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n{}",
        tables.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Found by the proxies: the gateway closes the connection after an upgrade
/// request whatever it answered, so an answer that is not `101` must say so,
/// or nginx pools the connection and loses the next client's request (502).
#[test]
fn a_refused_upgrade_says_connection_close() {
    let gateway = Gateway::start(&[
        "--stdio",
        &fixture(),
        "--outputTransport",
        "streamableHttp",
        "--healthEndpoint",
        "/healthz",
    ]);
    let mut stream = gateway.connect();
    stream
        .write_all(
            b"GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
              Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\
              GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let refused = read_response(&mut reader);
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("connection"), Some("close"));
    // and the pipelined request is not read as HTTP
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(String::from_utf8_lossy(&rest), "");
}

#[derive(Clone)]
struct Case {
    name: String,
    bytes: Vec<u8>,
    /// The tags written in the case (hidden ones included).
    tags: Vec<String>,
}

fn load_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proxy/corpus");
    let filter = std::env::var("PROXY_FILTER").ok();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut cases = Vec::new();
    let mut seen = BTreeSet::new();
    for file in names {
        let name = file
            .strip_suffix(".http")
            .unwrap_or_else(|| panic!("tests/proxy/corpus/{file}: only NAME.http files"))
            .to_owned();
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let bytes = escape::decode(&text).unwrap_or_else(|err| panic!("{file}: {err}"));
        let tags = tags_in(&String::from_utf8_lossy(&bytes));
        assert!(!tags.is_empty(), "{file}: no tag");
        for tag in &tags {
            assert!(
                tag.starts_with(&format!("tag-{name}-")),
                "{file}: tag {tag} does not name the case"
            );
            assert!(seen.insert(tag.clone()), "{file}: tag {tag} twice");
        }
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        cases.push(Case { name, bytes, tags });
    }
    cases
}

/// Every `tag-…` token in `text` (letters, digits and `-`).
fn tags_in(text: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("tag-") {
        let token: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        rest = &rest[at + token.len()..];
        tags.push(token);
    }
    tags
}

/// The program on PATH, or in the sbin directories a non-root PATH may lack.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running proxy and where its per-request log lines are.
struct Proxy {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    /// The process's own stdout and stderr (HAProxy's request log is its stdout).
    output: Arc<Mutex<Vec<String>>>,
    /// nginx's access log file; `None` for HAProxy (stdout).
    access_log: Option<PathBuf>,
}

impl Proxy {
    /// Starts the proxy on a free loopback port. The port is chosen before
    /// the proxy binds it, so something else (the other proxy's gateway,
    /// a client's local port) can take it first: the proxy then fails to
    /// bind, and a connect may even reach that other listener. So a start
    /// counts only once a request through the port shows up in this
    /// proxy's own log; otherwise it is tried again on another port.
    fn start(name: &str, program: &Path, gateway: SocketAddr) -> Self {
        let mut failures = Vec::new();
        for attempt in 0..3 {
            match Self::launch(name, program, gateway, attempt) {
                Ok(proxy) => return proxy,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("{name} did not start:\n{}", failures.join("\n---\n"));
    }

    fn launch(
        name: &str,
        program: &Path,
        gateway: SocketAddr,
        attempt: u32,
    ) -> Result<Self, String> {
        let dir =
            std::env::temp_dir().join(format!("sg-proxy-{name}-{}-{attempt}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let listen = free_port();
        let file = if name == "nginx" {
            "nginx.conf"
        } else {
            "haproxy.cfg"
        };
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/proxy")
                .join(file),
        )
        .unwrap();
        let config = template
            .replace("@DIR@", dir.to_str().unwrap())
            .replace("@LISTEN@", &listen.to_string())
            .replace("@GATEWAY@", &gateway.port().to_string());
        assert!(!config.contains("@DIR@") && !config.contains("@LISTEN@"));
        let config_path = dir.join(file);
        std::fs::write(&config_path, config).unwrap();
        let mut command = Command::new(program);
        let access_log = if name == "nginx" {
            for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                std::fs::create_dir_all(dir.join(temp)).unwrap();
            }
            command.arg("-p").arg(&dir).arg("-c").arg(&config_path);
            Some(dir.join("nginx-access.log"))
        } else {
            command.arg("-db").arg("-f").arg(&config_path);
            None
        };
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
        let addr: SocketAddr = format!("127.0.0.1:{listen}").parse().unwrap();
        let mut proxy = Self {
            child,
            addr,
            dir,
            output,
            access_log,
        };
        let ready = format!("tag-{name}-ready-{attempt}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                return Err(format!(
                    "attempt {attempt} on port {listen}: exited ({status}):\n{}",
                    proxy.diagnostics()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "attempt {attempt} on port {listen}: no request through it reached its log:\n{}",
                    proxy.diagnostics()
                ));
            }
            if proxy.answers_probe(&ready) {
                return Ok(proxy);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether a request for `tag` through the port is answered and
    /// appears in this proxy's log (its log line follows the answer).
    fn answers_probe(&self, tag: &str) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request =
            format!("GET /healthz?{tag} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
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
            if self
                .requests()
                .iter()
                .any(|line| tags_in(line).iter().any(|t| t == tag))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The request log so far: one line per request the proxy handled.
    fn requests(&self) -> Vec<String> {
        match &self.access_log {
            Some(path) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect(),
            None => self
                .output
                .lock()
                .unwrap()
                .iter()
                .filter(|line| line.starts_with("gateway ") || line.starts_with("<NOSRV> "))
                .cloned()
                .collect(),
        }
    }

    fn diagnostics(&self) -> String {
        let mut text = self.output.lock().unwrap().join("\n");
        if let Ok(errors) = std::fs::read_to_string(self.dir.join("nginx-error.log")) {
            text.push_str(&errors);
        }
        text
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One proxy log line (`UPSTREAM STATUS TARGET`): the tag of the target,
/// and whether the request went upstream (nginx: an upstream address;
/// HAProxy: a server).
fn proxy_entry(line: &str) -> (String, bool) {
    let mut words = line.splitn(3, ' ');
    let upstream = words.next().unwrap_or_default();
    let target = words.nth(1).unwrap_or_default();
    (tag_of(target), upstream != "-" && upstream != "<NOSRV>")
}

/// The tag in a target, or the whole target marked untagged.
fn tag_of(target: &str) -> String {
    tags_in(target)
        .into_iter()
        .next()
        .unwrap_or_else(|| format!("untagged:{target}"))
}

/// What the gateway's log says about requests: the tags read (with the
/// upstream connection each came on) and how many requests it refused
/// while reading them.
struct GatewayLog {
    read: Vec<(String, String)>,
    refused: usize,
}

fn gateway_log(lines: &[String]) -> GatewayLog {
    let mut log = GatewayLog {
        read: Vec::new(),
        refused: 0,
    };
    for line in lines {
        if [
            "bad request (",
            "request over a limit (",
            "slow client: request not received",
            "request body refused",
        ]
        .iter()
        .any(|what| line.contains(what))
        {
            log.refused += 1;
        } else if let Some((_, request)) = line.split_once("supergateway::http::server: request ") {
            let target = request.split_whitespace().nth(1).unwrap_or_default();
            let peer = line
                .split_once("peer=")
                .and_then(|(_, rest)| rest.split_once('}'))
                .map_or("", |(peer, _)| peer);
            log.read.push((tag_of(target), peer.to_owned()));
        }
    }
    log
}

/// Runs every case through one proxy; returns its table row and the failures.
fn run_proxy(name: &str, program: &Path, fixture: &str, cases: &[Case]) -> (String, Vec<String>) {
    let gateway = Gateway::start(&[
        "--stdio",
        fixture,
        "--outputTransport",
        "streamableHttp",
        "--healthEndpoint",
        "/healthz",
        "--maxBodyBytes",
        "4096",
        "--logLevel",
        "debug",
    ]);
    let proxy = Proxy::start(name, program, gateway.addr);
    let gateway_lines = || -> Vec<String> { gateway.log().lines().map(str::to_owned).collect() };
    let mut failures = Vec::new();
    let (mut in_cases, mut forwarded_total, mut read_total) = (0, 0, 0);
    let (mut proxy_refused, mut gateway_refused, mut agreed) = (0, 0, 0);
    // upstream connection → the cases whose requests it carried
    let mut connections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for case in cases {
        let proxy_before = proxy.requests().len();
        let gateway_before = gateway_lines().len();
        if let Err(err) = replay(proxy.addr, case) {
            failures.push(format!("{name} {}: {err}", case.name));
        }
        // A marker through both: once both logs show it, the case's lines are in.
        let marker = format!("tag-mark-{}", case.name);
        let mut stream = TcpStream::connect(proxy.addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            stream,
            "GET /healthz?{marker} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{name}: the marker after {} got {answer:?}\n{}\n{}",
            case.name,
            proxy.diagnostics(),
            gateway.log()
        );
        eventually(
            &format!("{name}: the marker after {} in both logs", case.name),
            || {
                // whole tags: `tag-mark-head` is a prefix of `tag-mark-head-mcp`
                let has = |text: &str| tags_in(text).contains(&marker);
                proxy.requests().iter().any(|line| has(line)) && has(&gateway.log())
            },
        );
        let probe = format!("tag-{}-probe", case.name);
        let ours = |tag: &String| tag != &marker;
        let proxied: Vec<(String, bool)> = proxy.requests()[proxy_before..]
            .iter()
            .map(|line| proxy_entry(line))
            .filter(|(tag, _)| ours(tag))
            .collect();
        let window = gateway_lines()[gateway_before..].to_vec();
        let log = gateway_log(&window);
        let read: Vec<String> = log
            .read
            .iter()
            .map(|(tag, _)| tag.clone())
            .filter(ours)
            .collect();
        for (tag, peer) in &log.read {
            if ours(tag) {
                connections
                    .entry(peer.clone())
                    .or_default()
                    .insert(case.name.clone());
            }
        }
        let mut forwarded: Vec<String> = proxied
            .iter()
            .filter(|(_, upstream)| *upstream)
            .map(|(tag, _)| tag.clone())
            .collect();
        let mut read_sorted = read.clone();
        forwarded.sort();
        read_sorted.sort();
        // every request read was forwarded, each at most as often as forwarded
        let mut unmatched = forwarded.clone();
        let mut smuggled = Vec::new();
        for tag in &read_sorted {
            match unmatched.iter().position(|t| t == tag) {
                Some(at) => {
                    unmatched.remove(at);
                }
                None => smuggled.push(tag.clone()),
            }
        }
        let ok = smuggled.is_empty() && unmatched.len() == log.refused;
        if ok {
            agreed += 1;
        } else {
            failures.push(format!(
                "{name} {}: the proxy forwarded {forwarded:?}, the gateway read {read_sorted:?} \
                 and refused {} (read but not forwarded: {smuggled:?})\n{}\n{}",
                case.name,
                log.refused,
                proxy.requests()[proxy_before..].join("\n"),
                window.join("\n")
            ));
        }
        let count = |tags: &[String]| tags.iter().filter(|t| **t != probe).count();
        in_cases += case.tags.len();
        forwarded_total += count(&forwarded);
        read_total += count(&read);
        proxy_refused += proxied
            .iter()
            .filter(|(tag, upstream)| !upstream && *tag != probe)
            .count();
        gateway_refused += log.refused;
    }
    // The premise: the proxy reuses upstream connections, across cases.
    let shared = connections.values().filter(|cases| cases.len() > 1).count();
    if shared == 0 {
        failures.push(format!(
            "{name}: no upstream connection carried two cases' requests ({} connections)",
            connections.len()
        ));
    }
    let row = format!(
        "| {name} | {} | {in_cases} | {forwarded_total} | {read_total} | {proxy_refused} | \
         {gateway_refused} | {agreed} of {} |",
        cases.len(),
        cases.len()
    );
    (row, failures)
}

/// Sends a case on a fresh connection, then (after its first final answer)
/// the probe, and reads answers until the probe's, the end of the
/// connection, or a stall (then it half-closes and reads to the end).
fn replay(addr: SocketAddr, case: &Case) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(STALL)).unwrap();
    if let Err(err) = stream.write_all(&case.bytes) {
        return gone(&err);
    }
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    // The first answer of a HEAD case has no body.
    let mut head = case.bytes.starts_with(b"HEAD ");
    let mut probe_sent = false;
    let mut stalled = false;
    loop {
        match read_answer(&mut reader, head) {
            Ok(Some(answer)) if answer.is_probe => return Ok(()),
            Ok(Some(answer)) => {
                if answer.status >= 200 {
                    head = false;
                    if !probe_sent {
                        probe_sent = true;
                        if let Err(err) = stream.write_all(&probe(&case.name)) {
                            return gone(&err);
                        }
                    }
                }
            }
            Ok(None) => return Ok(()),
            Err(err) if closed_by_peer(&err) => return Ok(()),
            Err(err) if common::is_timeout(&err) && !stalled => {
                stalled = true;
                let _ = stream.shutdown(Shutdown::Write);
                stream.set_read_timeout(Some(WAIT)).unwrap();
            }
            Err(err) => return Err(format!("reading: {err}")),
        }
    }
}

fn gone(err: &std::io::Error) -> Result<(), String> {
    if closed_by_peer(err) {
        Ok(())
    } else {
        Err(format!("writing: {err}"))
    }
}

fn closed_by_peer(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

fn probe(case: &str) -> Vec<u8> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":"{PROBE_ID}","method":"ping"}}"#);
    format!(
        "POST /mcp?tag-{case}-probe HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Answer {
    status: u16,
    is_probe: bool,
}

/// One response, its body read as framed (none for HEAD, 1xx, 204, 304).
/// `None` at a clean end of the connection before any byte.
fn read_answer(reader: &mut impl BufRead, head: bool) -> std::io::Result<Option<Answer>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let invalid = |what: String| std::io::Error::new(ErrorKind::InvalidData, what);
    if !line.starts_with("HTTP/") {
        // An HTTP/0.9 answer (nginx answers an HTTP/0.9 request so): the body
        // alone, up to the close.
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        return Ok(None);
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("the head ended early".into()));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header {header:?}")))?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if head || (100..200).contains(&status) || status == 204 || status == 304 {
    } else if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    let is_probe = String::from_utf8_lossy(&body).contains(&format!("\"{PROBE_ID}\""));
    Ok(Some(Answer { status, is_probe }))
}
