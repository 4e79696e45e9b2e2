//! Helpers for the end-to-end tests: start the real binary on 127.0.0.1:0,
//! talk raw HTTP/1.1 and SSE to it over loopback sockets, and find the
//! fixture MCP server (`tests/fixture/server.rs`, built by `cargo test` as
//! the `fixture-server` example).
#![allow(dead_code, unreachable_pub)]

mod transport;
mod ws;

pub use transport::McpClient;
pub use ws::WsClient;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generous bound for anything the tests wait on: a hang fails the test
/// instead of stalling the suite. Not a performance assertion.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long a "nothing else arrived" check watches an open stream. A
/// message that was going to arrive has had time to: the gateway relays
/// within milliseconds, and anything it sent before the check is already in
/// the socket.
pub const QUIET: Duration = Duration::from_millis(300);

/// Whether a read failed because its timeout passed.
pub fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads messages with `next` until the answer to `id` arrives; the
/// messages before it are returned, and more than `expected` of them fail
/// the test, showing what arrived.
pub fn answer_after(
    id: Value,
    expected: usize,
    mut next: impl FnMut() -> Value,
) -> (Vec<Value>, Value) {
    let mut before = Vec::new();
    loop {
        let message = next();
        if message.get("id") == Some(&id) && message.get("method").is_none() {
            return (before, message);
        }
        assert!(
            before.len() < expected,
            "unexpected message while waiting for the answer to {id}: {message} (after {before:?})"
        );
        before.push(message);
    }
}

/// The fixture server's path. A plain `cargo test` builds it (examples are
/// built with the tests); `cargo test --test NAME` does not, so it is built
/// here on first use.
pub fn fixture() -> String {
    static BUILT: std::sync::Once = std::sync::Once::new();
    example("fixture-server", &BUILT)
}

/// The conformance fixture's path (`tests/conformance/server/`), built on
/// first use like [`fixture`].
pub fn conformance_server() -> String {
    static BUILT: std::sync::Once = std::sync::Once::new();
    example("conformance-server", &BUILT)
}

/// The headless browser (`tests/oauth/browser.rs`), built on first use like
/// [`fixture`].
pub fn oauth_browser() -> String {
    static BUILT: std::sync::Once = std::sync::Once::new();
    example("oauth-browser", &BUILT)
}

/// The path of example `name` of this build's profile, built once.
fn example(name: &str, built: &std::sync::Once) -> String {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/examples/<name>
    let dir = exe.parent().unwrap().parent().unwrap();
    let path: PathBuf = dir.join("examples").join(name);
    built.call_once(|| {
        if !path.exists() {
            let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
            cargo.args(["build", "--example", name]);
            if dir.file_name().is_some_and(|profile| profile == "release") {
                cargo.arg("--release");
            }
            assert!(cargo.status().unwrap().success(), "building {name} failed");
        }
    });
    assert!(path.exists(), "{name} not built at {}", path.display());
    path.to_string_lossy().into_owned()
}

/// The gateway binary the tests run: this build's, or the one named by
/// the `SG_BIN` environment variable when it is set (to run a test file
/// against another build, e.g. an older commit's, to show that a
/// regression test fails there).
pub fn binary() -> std::ffi::OsString {
    std::env::var_os("SG_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_supergateway").into())
}

/// A running gateway.
pub struct Gateway {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Starts `supergateway ARGS --port 0` and waits for its
    /// `Listening on ADDR` log line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_full(args, env, "0")
    }

    /// Starts the gateway on a given port (to come back where a stopped one was).
    pub fn start_on(args: &[&str], port: &str) -> Self {
        Self::start_full(args, &[], port)
    }

    /// Starts `WRAPPER… supergateway ARGS --port 0` (e.g. under `unshare`).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Self {
        let (program, rest) = wrapper.split_first().unwrap();
        let mut command = Command::new(program);
        command.args(rest).arg(binary());
        Self::spawn(command, args, &[], "0")
    }

    fn start_full(args: &[&str], env: &[(&str, &str)], port: &str) -> Self {
        Self::spawn(Command::new(binary()), args, env, port)
    }

    fn spawn(mut command: Command, args: &[&str], env: &[(&str, &str)], port: &str) -> Self {
        command
            .args(args)
            .args(["--port", port])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = Arc::clone(&log);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("Listening on ").nth(1) {
                        let _ = tx.send(rest.trim().to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(WAIT) {
            Ok(addr) => addr.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gateway did not log its address; log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self { child, addr, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn connect(&self) -> TcpStream {
        connect_to(self.addr)
    }

    /// Sends one request on a new connection and reads the response.
    pub fn request(&self, raw: &[u8]) -> Response {
        request_to(self.addr, raw)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    pub fn signal(&self, signal: &str) {
        self.signal_pid(self.pid(), signal);
    }

    /// Signals another process (the gateway itself when it runs under a wrapper).
    pub fn signal_pid(&self, pid: i32, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the gateway to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gateway did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a response head, then a content-length body (or none).
pub fn read_response(reader: &mut impl BufRead) -> Response {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "bad status line {line:?}");
    let status = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = response.header("content-length") {
        let mut body = vec![0; length.parse().unwrap()];
        reader.read_exact(&mut body).unwrap();
        response.body = body;
    }
    response
}

/// `POST path` with a JSON body (and `extra` header lines, each ending CRLF).
pub fn post(path: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One SSE event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// A client of the stdio→SSE mode: the GET stream plus a keep-alive POST
/// connection.
pub struct SseClient {
    events: BufReader<TcpStream>,
    pub head: Response,
    pub endpoint: String,
    post: BufReader<TcpStream>,
}

impl SseClient {
    pub fn connect(gateway: &Gateway) -> Self {
        Self::connect_path(gateway, "/sse")
    }

    pub fn connect_path(gateway: &Gateway, path: &str) -> Self {
        Self::connect_addr(gateway.addr, path)
    }

    /// A client of a gateway known only by its address.
    pub fn connect_addr(addr: SocketAddr, path: &str) -> Self {
        let mut stream = connect_to(addr);
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut events = BufReader::new(stream);
        let head = read_response(&mut events);
        assert_eq!(head.status, 200, "GET {path}: {head:?}");
        let mut client = Self {
            events,
            head,
            endpoint: String::new(),
            post: BufReader::new(connect_to(addr)),
        };
        let first = client.next_event().expect("endpoint event");
        assert_eq!(first.event, "endpoint");
        client.endpoint = first.data;
        client
    }

    /// The next event (comments skipped); `None` when the stream ended.
    pub fn next_event(&mut self) -> Option<Event> {
        let mut event = Event {
            event: "message".into(),
            data: String::new(),
            id: None,
        };
        let mut has_data = false;
        loop {
            let mut line = String::new();
            match self.events.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) => panic!("reading the SSE stream: {err}"),
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if has_data {
                    return Some(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event.event = value.to_owned(),
                "data" => {
                    if has_data {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                    has_data = true;
                }
                "id" => event.id = Some(value.to_owned()),
                _ => {}
            }
        }
    }

    /// The next event, which must be a `message`: its JSON. Any other event
    /// (or the end of the stream) fails the test, showing what arrived.
    pub fn next_message(&mut self) -> Value {
        let event = self
            .next_event()
            .expect("stream ended while waiting for a message");
        assert_eq!(event.event, "message", "unexpected SSE event {event:?}");
        serde_json::from_str(&event.data)
            .unwrap_or_else(|err| panic!("SSE message is not JSON ({err}): {event:?}"))
    }

    /// Asserts that no event arrives on the open stream for [`QUIET`]
    /// (comments, the gateway's keep-alives, are not events) and that the
    /// stream is still open.
    pub fn expect_nothing(&mut self) {
        let deadline = Instant::now() + QUIET;
        let mut line = Vec::new();
        loop {
            // A line that started arriving is read to its end: it is
            // either a comment (fine) or the evidence to show.
            let left = if line.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                WAIT
            };
            if left.is_zero() {
                break;
            }
            self.events.get_ref().set_read_timeout(Some(left)).unwrap();
            match self.events.read_until(b'\n', &mut line) {
                Ok(0) => panic!("the SSE stream ended while nothing was expected"),
                Ok(_) if line.ends_with(b"\n") => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    if !text.is_empty() && !text.starts_with(':') {
                        self.events.get_ref().set_read_timeout(Some(WAIT)).unwrap();
                        let rest = self.next_event();
                        panic!("unexpected SSE line {text:?} (then {rest:?}) when nothing else was expected");
                    }
                    line.clear();
                }
                Ok(_) => {}
                Err(err) if is_timeout(&err) && line.is_empty() => break,
                Err(err) if is_timeout(&err) => {}
                Err(err) => panic!("reading the SSE stream: {err}"),
            }
        }
        self.events.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    }

    /// Asserts that the gateway ended the stream: no further event, then
    /// end of stream.
    pub fn expect_end(&mut self) {
        if let Some(event) = self.next_event() {
            panic!("expected the SSE stream to end, got {event:?}");
        }
    }

    /// POSTs one message to the endpoint; returns the response.
    pub fn send(&mut self, message: &Value) -> Response {
        self.send_raw(&message.to_string())
    }

    pub fn send_raw(&mut self, body: &str) -> Response {
        let request = post(&self.endpoint, body, "");
        self.post.get_mut().write_all(&request).unwrap();
        read_response(&mut self.post)
    }

    /// Sends a request and returns its answer, which must be the next
    /// message on the stream: anything else arriving first fails the test.
    /// Use [`Self::call_through`] where other messages are expected.
    pub fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        let (before, answer) = self.call_through(id, method, params, 0);
        assert!(
            before.is_empty(),
            "unexpected messages before the answer: {before:?}"
        );
        answer
    }

    /// Sends a request and returns the `expected` messages that arrive
    /// before its answer (notifications, server requests), then the answer.
    /// More messages than expected fail the test; the caller asserts what
    /// they are.
    pub fn call_through(
        &mut self,
        id: Value,
        method: &str,
        params: Value,
        expected: usize,
    ) -> (Vec<Value>, Value) {
        let response = self
            .send(&serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        assert_eq!(response.status, 202, "{}", response.text());
        answer_after(id, expected, || self.next_message())
    }

    pub fn initialize(&mut self) -> Value {
        let result = self.call(
            serde_json::json!(0),
            "initialize",
            serde_json::json!({"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        );
        let status = self
            .send(&serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .status;
        assert_eq!(status, 202);
        result
    }

    pub fn shutdown(&self) {
        let _ = self.events.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// Text of a tools/call result.
pub fn tool_text(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {response}"))
        .to_owned()
}

/// Whether a process exists.
pub fn process_alive(pid: i32) -> bool {
    // /proc/<pid>/stat state Z (zombie) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Pids of processes whose environment contains `marker` (KEY=VALUE).
pub fn processes_with_env(marker: &str) -> Vec<i32> {
    let needle = format!("{marker}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
            if environ
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
                && process_alive(pid)
            {
                found.push(pid);
            }
        }
    }
    found
}

/// Polls `condition` until it holds or `WAIT` passes.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Events of an SSE response body, chunked or close-delimited, read as
/// they arrive.
pub struct EventReader {
    reader: BufReader<TcpStream>,
    chunked: bool,
    text: String,
    ended: bool,
}

impl EventReader {
    pub fn new(reader: BufReader<TcpStream>, head: &Response) -> Self {
        let chunked = head.header("transfer-encoding") == Some("chunked");
        Self {
            reader,
            chunked,
            text: String::new(),
            ended: false,
        }
    }

    /// The next event (with data, or an id); `None` at the end of the body.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut event = Event {
                    event: "message".into(),
                    data: String::new(),
                    id: None,
                };
                let mut has_data = false;
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "event" => event.event = value.to_owned(),
                        "data" => {
                            if has_data {
                                event.data.push('\n');
                            }
                            event.data.push_str(value);
                            has_data = true;
                        }
                        "id" => event.id = Some(value.to_owned()),
                        _ => {}
                    }
                }
                if has_data || event.id.is_some() {
                    return Some(event);
                }
                continue;
            }
            if self.ended || !self.fill() {
                self.ended = true;
                return None;
            }
        }
    }

    /// The next event carrying a JSON message (priming events skipped).
    pub fn next_message(&mut self) -> Option<Value> {
        loop {
            let event = self.next_event()?;
            if !event.data.is_empty() {
                return Some(serde_json::from_str(&event.data).unwrap());
            }
        }
    }

    /// Asserts that no event arrives for [`QUIET`] (comments, the
    /// gateway's keep-alives, and a lone `retry:` field are not events) and
    /// that the body goes on.
    pub fn expect_nothing(&mut self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let only_comments = self
                .text
                .lines()
                .all(|line| line.is_empty() || line.starts_with(':') || line.starts_with("retry:"));
            assert!(
                only_comments,
                "unexpected SSE data {:?} when nothing was expected",
                self.text
            );
            if self.text.ends_with('\n') {
                self.text.clear();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.reader.get_ref().set_read_timeout(Some(left)).unwrap();
            let arrived = self.reader.fill_buf().map(|buf| !buf.is_empty());
            self.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
            match arrived {
                Err(err) if is_timeout(&err) => break,
                Err(err) => panic!("reading the SSE body: {err}"),
                Ok(more) => assert!(
                    more && self.fill(),
                    "the SSE body ended while nothing was expected"
                ),
            }
        }
    }

    /// All remaining messages until the body ends.
    pub fn rest(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.next_message()).collect()
    }

    /// The connection, once the body has ended (for keep-alive reuse).
    pub fn into_inner(self) -> BufReader<TcpStream> {
        self.reader
    }

    fn fill(&mut self) -> bool {
        if self.chunked {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return false;
            }
            let size = usize::from_str_radix(line.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {line:?}"));
            if size == 0 {
                let mut end = String::new();
                self.reader.read_line(&mut end).unwrap();
                return false;
            }
            let mut data = vec![0; size + 2];
            self.reader.read_exact(&mut data).unwrap();
            assert_eq!(&data[size..], b"\r\n", "chunk must end with CRLF");
            self.text
                .push_str(std::str::from_utf8(&data[..size]).unwrap());
            true
        } else {
            let mut data = [0u8; 4096];
            match self.reader.read(&mut data) {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    self.text.push_str(std::str::from_utf8(&data[..n]).unwrap());
                    true
                }
            }
        }
    }
}

/// A connection to `addr` with the tests' read timeout.
pub fn connect_to(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends one request to `addr` on a new connection and reads the response.
pub fn request_to(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = connect_to(addr);
    stream.write_all(raw).unwrap();
    read_response(&mut BufReader::new(stream))
}

/// A Streamable HTTP client: one connection per call.
#[derive(Clone)]
pub struct Streamable {
    pub addr: SocketAddr,
    pub path: String,
    pub session: Option<String>,
    pub version: Option<String>,
}

impl Streamable {
    pub fn new(gateway: &Gateway) -> Self {
        Self::at(gateway.addr)
    }

    pub fn at(addr: SocketAddr) -> Self {
        Self {
            addr,
            path: "/mcp".into(),
            session: None,
            version: None,
        }
    }

    fn headers(&self, extra: &str) -> String {
        let mut headers = String::from("Accept: application/json, text/event-stream\r\n");
        if let Some(session) = &self.session {
            headers.push_str(&format!("Mcp-Session-Id: {session}\r\n"));
        }
        if let Some(version) = &self.version {
            headers.push_str(&format!("MCP-Protocol-Version: {version}\r\n"));
        }
        headers.push_str(extra);
        headers
    }

    /// POSTs `body`; returns the response head and, for a stream, its reader.
    pub fn post_raw(&self, body: &str, extra: &str) -> (Response, Option<EventReader>) {
        let mut stream = connect_to(self.addr);
        stream
            .write_all(&post(&self.path, body, &self.headers(extra)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let head = read_response(&mut reader);
        if head.header("content-type") == Some("text/event-stream") {
            let events = EventReader::new(reader, &head);
            (head, Some(events))
        } else {
            (head, None)
        }
    }

    pub fn post(&self, message: &Value) -> (Response, Option<EventReader>) {
        self.post_raw(&message.to_string(), "")
    }

    /// A request whose stream must end with its answer: returns every
    /// message of the stream, the answer last.
    pub fn call(&self, id: Value, method: &str, params: Value) -> Vec<Value> {
        let (head, events) = self
            .post(&serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}));
        assert_eq!(head.status, 200, "{}", head.text());
        let messages = events.unwrap().rest();
        assert_eq!(
            messages.last().and_then(|m| m.get("id")),
            Some(&id),
            "{messages:?}"
        );
        messages
    }

    /// initialize (+ notifications/initialized); keeps the session id.
    pub fn initialize(&mut self, version: &str) -> Value {
        let (head, events) = self.post(&serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize",
            "params":{"protocolVersion":version,"capabilities":{"sampling":{}},"clientInfo":{"name":"t","version":"1"}}}));
        assert_eq!(head.status, 200, "{}", head.text());
        self.session = head.header("mcp-session-id").map(str::to_owned);
        let answer = events.unwrap().rest().pop().unwrap();
        self.version = Some(version.to_owned());
        let (head, _) =
            self.post(&serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        assert_eq!(head.status, 202);
        answer
    }

    /// GET the endpoint (standalone stream or resumption).
    pub fn get(&self, extra: &str) -> (Response, Option<EventReader>) {
        let mut stream = connect_to(self.addr);
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
            self.path,
            self.headers(extra).replace("application/json, ", "")
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let head = read_response(&mut reader);
        if head.status == 200 {
            let events = EventReader::new(reader, &head);
            (head, Some(events))
        } else {
            (head, None)
        }
    }

    pub fn delete(&self) -> Response {
        let request = format!(
            "DELETE {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n",
            self.path,
            self.headers("")
        );
        request_to(self.addr, request.as_bytes())
    }
}

/// The soft and hard `RLIMIT_NOFILE` of this process, from `/proc/self/limits`
/// (`u64::MAX` for "unlimited").
pub fn fd_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no 'Max open files' in /proc/self/limits:\n{limits}"));
    let mut fields = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|value| value.parse::<u64>().unwrap_or(u64::MAX));
    (fields.next().unwrap(), fields.next().unwrap())
}

/// Raises this process's soft fd limit to `want` (at most the hard limit)
/// if it is lower; gateways started afterwards inherit it. Returns the
/// soft limit now in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    let (soft, hard) = fd_limits();
    if soft < want {
        let target = want.min(hard);
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(target),
                maximum: (hard != u64::MAX).then_some(hard),
            },
        );
    }
    fd_limits().0
}

/// Open file descriptors of process `pid` (entries of `/proc/<pid>/fd`).
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|err| panic!("reading /proc/{pid}/fd: {err}"))
        .count()
}

/// Pids whose parent is `pid`, zombies included (an unreaped child is a
/// leak too), each with its state letter.
pub fn children_of(pid: i32) -> Vec<(i32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let mut rest = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if rest.next().and_then(|ppid| ppid.parse::<i32>().ok()) == Some(pid) {
            found.push((child, state));
        }
    }
    found
}

/// A `/proc/<pid>/status` field in KiB (`VmHWM`, `VmRSS`, ...).
pub fn status_kib(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Opens a stdio→SSE stream with a GET alone (no POST connection, so one
/// socket per session): the events and the `endpoint` URI, or the response
/// when the GET is refused.
pub fn open_sse(addr: SocketAddr, path: &str) -> Result<(EventReader, String), Response> {
    open_sse_with(addr, path, "")
}

/// [`open_sse`] with `extra` header lines (each ending in CRLF).
pub fn open_sse_with(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> Result<(EventReader, String), Response> {
    let mut stream = connect_to(addr);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{extra}\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let head = read_response(&mut reader);
    if head.status != 200 {
        return Err(head);
    }
    let mut events = EventReader::new(reader, &head);
    let first = events.next_event().expect("endpoint event");
    assert_eq!(first.event, "endpoint", "{first:?}");
    Ok((events, first.data))
}

/// The `Authorization` header line for a bearer token (CRLF included).
pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

/// [`open_sse`] on `/sse` with a bearer token, which must be accepted.
pub fn open_sse_as(gw: &Gateway, token: &str) -> (EventReader, String) {
    open_sse_with(gw.addr, "/sse", &bearer(token))
        .unwrap_or_else(|head| panic!("the SSE stream was refused: {}", head.text()))
}
