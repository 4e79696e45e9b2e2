//! `oauth-browser`: the headless "browser" the conformance driver and the OAuth end-to-end tests
//! set as `BROWSER` (design/oauth-client.md c.1). The bridge runs `$BROWSER URL` with the
//! authorization URL; an authorization server that approves without a person (the conformance
//! suite's, `tests/oauth/as.rs`) answers it with a redirect to the bridge's loopback listener,
//! which this program then requests, handing the bridge its code.
//!
//! ```text
//! oauth-browser URL
//! ```
//!
//! GETs URL and follows redirects (301, 302, 303, 307, 308; relative `Location`s resolved
//! against the current URL) for at most `MAX_HOPS` hops, plain `http://` only (the test
//! authorization servers and the loopback listener speak no TLS), each request bounded by
//! `REQUEST_TIMEOUT` and its body read up to `MAX_BODY` and dropped. Exits 0 when the last
//! answer is 2xx, else 1 with one line on stderr. What it prints names hosts and paths only:
//! the callback's query carries the authorization code.

// A test tool, not part of the audited binary: the only arithmetic is on small counters and
// slice bounds found by `find`.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::env;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// Redirects followed before giving up (a loop between two servers ends here).
const MAX_HOPS: usize = 10;
/// Connect, write and each read, per request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Response bytes read (head and body); the rest is not waited for.
const MAX_BODY: usize = 1024 * 1024;

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let (Some(url), None) = (args.next(), args.next()) else {
        eprintln!("usage: oauth-browser URL");
        return ExitCode::from(2);
    };
    match browse(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("oauth-browser: {err}");
            ExitCode::FAILURE
        }
    }
}

fn browse(start: &str) -> Result<(), String> {
    let mut url = Url::parse(start)?;
    for _ in 0..=MAX_HOPS {
        let (status, location) = get(&url)?;
        match status {
            200..=299 => return Ok(()),
            301 | 302 | 303 | 307 | 308 => {
                let location = location
                    .ok_or_else(|| format!("{status} without Location from {}", url.shown()))?;
                url = url.join(&location)?;
            }
            _ => return Err(format!("{} answered {status}", url.shown())),
        }
    }
    Err(format!("more than {MAX_HOPS} redirects"))
}

/// One GET; the status and the `Location` header, if any.
fn get(url: &Url) -> Result<(u16, Option<String>), String> {
    let shown = url.shown();
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {shown}: {err}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {shown}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)
        .map_err(|err| format!("cannot connect to {shown}: {err}"))?;
    stream
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
        .map_err(|err| format!("socket: {err}"))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: oauth-browser\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.target, url.authority()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("cannot send to {shown}: {err}"))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // Read until the head is complete and the connection closes (or the cap): the body is not
    // needed, but reading it lets the server finish its write before we close.
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() >= MAX_BODY {
                    break;
                }
            }
            Err(_) if answer.windows(4).any(|w| w == b"\r\n\r\n") => break,
            Err(err) => return Err(format!("no answer from {shown}: {err}")),
        }
    }
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete response head from {shown}"))?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line from {shown}"))?;
    let location = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    Ok((status, location))
}

/// An `http://` URL, split as far as a GET needs.
struct Url {
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

impl Url {
    fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| "only http:// URLs are followed".to_owned())?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let target = target.split('#').next().unwrap_or_default();
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| "bad port in URL".to_owned())?;
                (host, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("URL without a host".to_owned());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            target,
        })
    }

    /// `location` resolved against this URL (absolute, or an absolute path).
    fn join(&self, location: &str) -> Result<Self, String> {
        if location.starts_with("http://") {
            return Self::parse(location);
        }
        if location.starts_with('/') && !location.starts_with("//") {
            return Self::parse(&format!("http://{}{location}", self.authority()));
        }
        Err("redirect to a non-http:// or relative-path Location".to_owned())
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Host and path, without the query (which may carry the code).
    fn shown(&self) -> String {
        let path = self.target.split('?').next().unwrap_or_default();
        format!("http://{}{path}", self.authority())
    }
}
