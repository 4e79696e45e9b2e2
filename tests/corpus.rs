//! The golden request-smuggling corpus (`tests/corpus/`, format in its
//! README.md): each `NAME.http` is sent over a fresh connection to the real
//! binary (stdio→Streamable HTTP in front of the fixture) and the statuses
//! it gets, and whether the connection is closed afterwards, must equal
//! `NAME.expect`.
//!
//! `CORPUS_FILTER=substring` runs the cases whose name contains it;
//! `CORPUS_BLESS=1` rewrites the `.expect` files from what the server
//! answered (review the diff: the server's answers become the spec).
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

use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use common::{connect_to, fixture, Gateway};
use escape::decode;

/// The request sent after the case's first answer on the same connection:
/// its answer (recognised by its id) shows the connection was kept alive.
const PROBE_ID: &str = "corpus-probe";

#[test]
fn corpus() {
    let filter = std::env::var("CORPUS_FILTER").ok();
    let bless = std::env::var("CORPUS_BLESS").is_ok_and(|v| v == "1");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let fixture = fixture();
    let gw = Gateway::start(&[
        "--stdio",
        &fixture,
        "--outputTransport",
        "streamableHttp",
        "--healthEndpoint",
        "/healthz",
    ]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // every expectation belongs to a case
    for name in &names {
        if let Some(stem) = name.strip_suffix(".expect") {
            assert!(
                names.contains(&format!("{stem}.http")),
                "{name} has no {stem}.http"
            );
        }
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    for stem in names.iter().filter_map(|name| name.strip_suffix(".http")) {
        if filter.as_deref().is_some_and(|f| !stem.contains(f)) {
            continue;
        }
        ran += 1;
        let request = decode(&std::fs::read_to_string(dir.join(format!("{stem}.http"))).unwrap())
            .unwrap_or_else(|err| panic!("{stem}.http: {err}"));
        let expect_path: PathBuf = dir.join(format!("{stem}.expect"));
        let outcome = match replay(gw.addr, &request) {
            Ok(outcome) => outcome,
            Err(err) => {
                failures.push(format!("{stem}: {err}"));
                continue;
            }
        };
        if bless {
            std::fs::write(&expect_path, format!("{outcome}\n")).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expect_path) {
            Ok(expected) if expected.trim() == outcome.to_string() => {}
            Ok(expected) => failures.push(format!(
                "{stem}: expected {:?}, the server answered {:?}",
                expected.trim(),
                outcome.to_string()
            )),
            Err(err) => failures.push(format!(
                "{stem}: {}: {err} (CORPUS_BLESS=1 writes it)",
                expect_path.display()
            )),
        }
    }
    assert!(ran > 0, "no case matched CORPUS_FILTER={filter:?}");
    // the gateway is still serving after all of it
    let after = replay(gw.addr, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(after.to_string(), "200 keep-alive", "{}", gw.log());
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What the server did with one case: the statuses of its answers, in
/// order, then whether it closed the connection.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    statuses: Vec<u16>,
    closed: bool,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for status in &self.statuses {
            write!(f, "{status} ")?;
        }
        f.write_str(if self.closed { "close" } else { "keep-alive" })
    }
}

/// Sends `request` on a fresh connection; reads the first answer (or the
/// close); then sends the probe and reads on until the probe's answer
/// (kept alive) or the end of the connection (closed). Every read is
/// bounded by `common::WAIT`: a server that neither answers nor closes is
/// a failure.
fn replay(addr: SocketAddr, request: &[u8]) -> Result<Outcome, String> {
    let mut stream: TcpStream = connect_to(addr);
    let mut statuses = Vec::new();
    if let Err(err) = stream.write_all(request) {
        return gone(&err, statuses);
    }
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    match read_answer(&mut reader) {
        Ok(Some(answer)) if answer.is_probe => {
            return Err("the probe's answer before the probe".into())
        }
        Ok(Some(answer)) => statuses.push(answer.status),
        Ok(None) => {
            return Ok(Outcome {
                statuses,
                closed: true,
            })
        }
        Err(err) if closed_by_peer(&err) => {
            return Ok(Outcome {
                statuses,
                closed: true,
            })
        }
        Err(err) => return Err(format!("reading the first answer: {err}")),
    }
    if let Err(err) = stream.write_all(&probe()) {
        return gone(&err, statuses);
    }
    loop {
        match read_answer(&mut reader) {
            Ok(Some(answer)) if answer.is_probe => {
                return Ok(Outcome {
                    statuses,
                    closed: false,
                })
            }
            Ok(Some(answer)) => statuses.push(answer.status),
            Ok(None) => {
                return Ok(Outcome {
                    statuses,
                    closed: true,
                })
            }
            Err(err) if closed_by_peer(&err) => {
                return Ok(Outcome {
                    statuses,
                    closed: true,
                })
            }
            Err(err) => return Err(format!("after {statuses:?}: {err}")),
        }
    }
}

fn gone(err: &std::io::Error, statuses: Vec<u16>) -> Result<Outcome, String> {
    if closed_by_peer(err) {
        Ok(Outcome {
            statuses,
            closed: true,
        })
    } else {
        Err(format!("writing: {err}"))
    }
}

fn closed_by_peer(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// A ping whose answer names [`PROBE_ID`].
fn probe() -> Vec<u8> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":"{PROBE_ID}","method":"ping"}}"#);
    format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Answer {
    status: u16,
    /// Whether the body names the probe's id.
    is_probe: bool,
}

/// One response: head, then its body as framed (Content-Length, chunked,
/// none for 1xx/204/304, or up to the close). `None` at a clean end of the
/// connection before any byte.
fn read_answer(reader: &mut impl BufRead) -> std::io::Result<Option<Answer>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let invalid = |what: String| std::io::Error::new(ErrorKind::InvalidData, what);
    let status: u16 = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
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
            "content-length" => length = Some(value.trim().parse::<usize>().unwrap()),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if (100..200).contains(&status) || status == 204 || status == 304 {
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
