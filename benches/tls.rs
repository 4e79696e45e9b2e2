//! TLS against plain HTTP, in one run: the release binary serves the fixture server over
//! Streamable HTTP (stateless), once on plain HTTP and once with `--tlsCert`/`--tlsKey` (a CA and
//! a server certificate made here with the `openssl` command). The load is MCP 2026-07-28
//! `tools/call echo` requests, whose answers are JSON with a Content-Length.
//!
//! Loads: `C` clients, each on one keep-alive connection sending `N` requests one after the
//! other (`1×N`, `16×N`, `64×N`), and 16 clients opening a new connection for every request
//! (what a handshake costs). For each load and each side: throughput, p50 and p99 latency, and
//! the gateway's CPU per request (utime + stime of the gateway process from `/proc`, the
//! child's excluded); then the TLS/plain ratios, which are what to compare (the machine is
//! shared, absolute numbers are not).
//!
//! ```sh
//! cargo build --release --bins --examples
//! cargo bench --bench tls                 # TLS_BENCH_SCALE=0.2 for a quick run
//! ```
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// `/proc/PID/stat` times are in USER_HZ, which is 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gateway = root.join("target/release/supergateway");
    let fixture = root.join("target/release/examples/fixture-server");
    for path in [&gateway, &fixture] {
        assert!(
            path.exists(),
            "{} is missing: cargo build --release --bins --examples",
            path.display()
        );
    }
    let scale: f64 = std::env::var("TLS_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let count = |n: usize| ((n as f64 * scale).ceil() as usize).max(10);
    let dir = std::env::temp_dir().join(format!("sg-tls-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pki = make_pki(&dir);
    let loads = [
        Load::kept(1, count(5000)),
        Load::kept(16, count(2000)),
        Load::kept(64, count(500)),
        Load::fresh(16, count(300)),
    ];
    println!("| load | side | requests | req/s | p50 µs | p99 µs | gateway CPU µs/req |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut ratios = Vec::new();
    for load in &loads {
        let mut results = Vec::new();
        for tls in [false, true] {
            let server = Server::start(&gateway, &fixture, tls.then_some(&pki));
            let client = if tls { Some(pki.client_config()) } else { None };
            // warm-up: the child started, the first handshake done
            run_load(&server, client.clone(), &Load::kept(1, 50));
            let result = run_load(&server, client, load);
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |",
                load.name(),
                if tls { "TLS" } else { "plain" },
                result.requests,
                result.throughput,
                result.p50_us,
                result.p99_us,
                result.cpu_us_per_request
            );
            results.push(result);
        }
        ratios.push((load.name(), results));
    }
    println!();
    println!("| load | TLS/plain req/s | TLS/plain p50 | TLS/plain CPU µs/req |");
    println!("| --- | --- | --- | --- |");
    for (name, results) in ratios {
        let (plain, tls) = (&results[0], &results[1]);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            tls.throughput / plain.throughput,
            tls.p50_us / plain.p50_us,
            tls.cpu_us_per_request / plain.cpu_us_per_request
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

struct Load {
    clients: usize,
    requests: usize,
    /// A new connection (and handshake) for every request.
    fresh: bool,
}

impl Load {
    fn kept(clients: usize, requests: usize) -> Self {
        Self {
            clients,
            requests,
            fresh: false,
        }
    }

    fn fresh(clients: usize, requests: usize) -> Self {
        Self {
            clients,
            requests,
            fresh: true,
        }
    }

    fn name(&self) -> String {
        format!(
            "{}×{}{}",
            self.clients,
            self.requests,
            if self.fresh {
                ", a connection per request"
            } else {
                ", keep-alive"
            }
        )
    }
}

struct Outcome {
    requests: usize,
    throughput: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_request: f64,
}

/// Where the certificates are, and the CA the client trusts.
struct Pki {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl Pki {
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

/// A P-256 CA and a server certificate for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) -> Pki {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the openssl command is needed to make the certificates");
        assert!(status.success(), "openssl {args:?} failed");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509", "-days", "2", "-subj", "/CN=bench CA"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-new", "-subj", "/CN=127.0.0.1"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    Pki {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: dir.join("ca.pem"),
    }
}

/// The gateway under load.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(gateway: &Path, fixture: &Path, tls: Option<&Pki>) -> Self {
        let mut command = Command::new(gateway);
        command
            .arg("--stdio")
            .arg(fixture)
            .args([
                "--outputTransport",
                "streamableHttp",
                "--port",
                "0",
                "--logLevel",
                "info",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(pki) = tls {
            command
                .arg("--tlsCert")
                .arg(&pki.cert)
                .arg("--tlsKey")
                .arg(&pki.key);
        }
        let mut child = command.spawn().unwrap();
        // The log goes to stdout; it is read to the end so the gateway never
        // blocks on a full pipe.
        let log = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("Listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let listening = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the gateway did not say where it listens");
        let port = listening
            .rsplit(':')
            .next()
            .and_then(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse::<u16>()
                    .ok()
            })
            .expect("a port in the Listening line");
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// The gateway process's CPU time so far (not its child's).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // After the command name in parentheses: fields 3.. ; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').unwrap().1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client connection, plain or TLS.
enum Connection {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Connection {
    fn open(addr: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        match tls {
            None => Self::Plain(stream),
            Some(config) => {
                let name = ServerName::try_from("127.0.0.1").unwrap();
                let connection = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
                Self::Tls(Box::new(rustls::StreamOwned::new(connection, stream)))
            }
        }
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => stream.as_mut(),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One request and its answer on `connection`; checks the answer carries `text`.
fn call(connection: &mut Connection, buf: &mut Vec<u8>, id: usize, text: &str) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{text}"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let io = connection.io();
    io.write_all(request.as_bytes()).unwrap();
    io.flush().unwrap();
    buf.clear();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap();
            assert!(head.starts_with("HTTP/1.1 200"), "answer: {head}");
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .expect("a Content-Length");
            break (end + 4, length);
        }
        let n = io.read(&mut chunk).unwrap();
        assert!(n > 0, "the gateway closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    while buf.len() < head_end + length {
        let n = io.read(&mut chunk).unwrap();
        assert!(n > 0, "the gateway closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let answer = std::str::from_utf8(&buf[head_end..head_end + length]).unwrap();
    assert!(
        answer.contains(&format!("\"id\":{id},")) && answer.contains(text),
        "wrong answer: {answer}"
    );
}

fn run_load(server: &Server, tls: Option<Arc<rustls::ClientConfig>>, load: &Load) -> Outcome {
    let barrier = Arc::new(Barrier::new(load.clients + 1));
    let threads: Vec<_> = (0..load.clients)
        .map(|client| {
            let barrier = Arc::clone(&barrier);
            let tls = tls.clone();
            let addr = server.addr;
            let (requests, fresh) = (load.requests, load.fresh);
            std::thread::spawn(move || {
                let mut connection = (!fresh).then(|| Connection::open(addr, tls.as_ref()));
                let mut buf = Vec::with_capacity(8192);
                let mut latencies = Vec::with_capacity(requests);
                barrier.wait();
                for seq in 0..requests {
                    let text = format!("c{client:05}r{seq:07}");
                    let started = Instant::now();
                    match connection.as_mut() {
                        Some(connection) => call(connection, &mut buf, seq + 1, &text),
                        None => call(
                            &mut Connection::open(addr, tls.as_ref()),
                            &mut buf,
                            seq + 1,
                            &text,
                        ),
                    }
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let cpu_before = server.cpu();
    barrier.wait();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    let cpu = server.cpu().saturating_sub(cpu_before);
    latencies.sort();
    let requests = latencies.len();
    let percentile = |p: f64| {
        let index = ((requests as f64 * p).ceil() as usize).clamp(1, requests) - 1;
        latencies[index].as_secs_f64() * 1e6
    };
    Outcome {
        requests,
        throughput: requests as f64 / elapsed.as_secs_f64(),
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        cpu_us_per_request: cpu.as_secs_f64() * 1e6 / requests as f64,
    }
}
