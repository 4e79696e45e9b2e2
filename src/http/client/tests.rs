//! Client tests against small std::net servers on 127.0.0.1 (threads), and
//! a rustls server with a CA made at test time. Every wait is bounded.
#![allow(clippy::arithmetic_side_effects)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use supergateway_proto::http::{parse_header_line, HttpError, Method};
use supergateway_proto::url::Url;

use super::{Client, ClientError, ClientOptions, PoolKey};
use crate::rt;

/// Bound for the waits on the test servers' evidence: a hang fails the
/// test instead of stalling the suite.
const WAIT: Duration = Duration::from_secs(5);

/// A request as the test server saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// Which connection (0, 1, ...) it came on.
    conn: usize,
    /// The head, lowercased.
    head: String,
    body: Vec<u8>,
    /// The TLS server name (SNI) of its connection, if any.
    sni: Option<String>,
}

struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}{path}", self.port)).unwrap()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// What a connection handler gets: its index, a request reader and the
/// request log.
struct Peer<S> {
    conn: usize,
    stream: S,
    buf: Vec<u8>,
    seen: Arc<Mutex<Vec<Seen>>>,
    sni: Option<String>,
}

impl<S: Read + Write> Peer<S> {
    /// Reads one request (head and Content-Length body) and logs it; `None`
    /// at end of stream or on error.
    fn request(&mut self) -> Option<Seen> {
        let end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            let mut scratch = [0u8; 4096];
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&scratch[..n]),
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
        self.buf.drain(..end);
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .map_or(0, |n| n.trim().parse::<usize>().unwrap());
        while self.buf.len() < length {
            let mut scratch = [0u8; 4096];
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&scratch[..n]),
            }
        }
        let body = self.buf.drain(..length).collect();
        let seen = Seen {
            conn: self.conn,
            head,
            body,
            sni: self.sni.clone(),
        };
        self.seen.lock().unwrap().push(seen.clone());
        Some(seen)
    }

    fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
        let _ = self.stream.flush();
    }

    /// Waits for the client to close (true) or for `limit` to pass (false).
    fn closed_within(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        let mut scratch = [0u8; 64];
        while start.elapsed() < limit {
            match self.stream.read(&mut scratch) {
                Ok(0) => return true,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
                Ok(_) => {}
            }
        }
        false
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A plain HTTP server on 127.0.0.1: one thread per connection, running
/// `handler`. Reads time out after 5 s, so no thread outlives a test long.
fn serve<F>(handler: F) -> Server
where
    F: Fn(&mut Peer<TcpStream>) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    {
        let connections = Arc::clone(&connections);
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let conn = connections.fetch_add(1, Ordering::SeqCst);
                let handler = Arc::clone(&handler);
                let seen = Arc::clone(&seen);
                thread::spawn(move || {
                    handler(&mut Peer {
                        conn,
                        stream,
                        buf: Vec::new(),
                        seen,
                        sni: None,
                    });
                });
            }
        });
    }
    Server {
        port,
        connections,
        seen,
    }
}

fn options() -> ClientOptions {
    ClientOptions {
        headers: vec![parse_header_line("X-Configured: yes").unwrap()],
        connect_timeout: Duration::from_secs(5),
        head_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

fn client() -> Client {
    Client::with_extra_roots(options(), None).unwrap()
}

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// Answers every request on a connection with `OK_HELLO`.
fn hello_server() -> Server {
    serve(|peer| {
        while peer.request().is_some() {
            peer.send(OK_HELLO);
        }
    })
}

#[test]
fn content_length_body_and_request_headers() {
    let server = hello_server();
    let client = client();
    let url = server.url("/mcp?session=1");
    rt::block_on(async {
        let response = client
            .send(
                Method::Post,
                &url,
                &[("Accept", b"application/json")],
                Some(b"{\"a\":1}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.header_str("content-length"), Some("5"));
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    let seen = server.seen();
    let head = &seen[0].head;
    assert!(
        head.starts_with("post /mcp?session=1 http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nhost: 127.0.0.1:{}\r\n", server.port)),
        "{head}"
    );
    assert!(head.contains("\r\nx-configured: yes\r\n"), "{head}");
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-length: 7\r\n"), "{head}");
    assert_eq!(seen[0].body, b"{\"a\":1}");
}

#[test]
fn a_body_is_always_framed() {
    let server = hello_server();
    let client = client();
    rt::block_on(async {
        for (method, body) in [
            (Method::Post, None),
            (Method::Get, Some(&b""[..])),
            (Method::Delete, None),
        ] {
            let response = client
                .send(method, &server.url("/"), &[], body, None)
                .await
                .unwrap();
            response.body(100).await.unwrap();
        }
    });
    let seen = server.seen();
    assert!(seen[0].head.starts_with("post "));
    assert!(seen[0].head.contains("\r\ncontent-length: 0\r\n"));
    assert!(seen[1].head.starts_with("get "));
    assert!(seen[1].head.contains("\r\ncontent-length: 0\r\n"));
    assert!(seen[2].head.starts_with("delete "));
    assert!(!seen[2].head.contains("content-length"));
}

#[test]
fn chunked_body_arrives_in_pieces_and_the_connection_is_reused() {
    let (first_read, wait_first_read) = mpsc::channel();
    let wait_first_read = Mutex::new(wait_first_read);
    let server = serve(move |peer| {
        peer.request().unwrap();
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        // The rest only once the client has read the first chunk: the body
        // really arrives in pieces.
        wait_first_read.lock().unwrap().recv_timeout(WAIT).unwrap();
        peer.send(b"6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
        while peer.request().is_some() {
            peer.send(OK_HELLO);
        }
    });
    let client = client();
    rt::block_on(async {
        let mut response = client
            .send(Method::Get, &server.url("/sse"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b"hello");
        first_read.send(()).unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b" world");
        assert_eq!(response.chunk().await.unwrap(), None);
        assert_eq!(response.chunk().await.unwrap(), None);
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    assert_eq!(server.connections(), 1);
}

#[test]
fn until_close_body_reads_to_the_end_and_is_not_reused() {
    let (first_read, wait_first_read) = mpsc::channel();
    let wait_first_read = Mutex::new(wait_first_read);
    let server = serve(move |peer| {
        if peer.request().is_some() {
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
            // The rest once the client has read the first piece.
            wait_first_read.lock().unwrap().recv_timeout(WAIT).unwrap();
            peer.send(b"close");
        }
    });
    let client = client();
    rt::block_on(async {
        for _ in 0..2 {
            let mut response = client
                .send(Method::Get, &server.url("/"), &[], None, None)
                .await
                .unwrap();
            assert_eq!(response.chunk().await.unwrap().unwrap(), b"until ");
            first_read.send(()).unwrap();
            assert_eq!(response.body(100).await.unwrap(), b"close");
        }
    });
    assert_eq!(server.connections(), 2);
}

#[test]
fn interim_responses_are_skipped() {
    let server = serve(|peer| {
        while peer.request().is_some() {
            peer.send(b"HTTP/1.1 100 Continue\r\n\r\n");
            peer.send(
                b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            );
        }
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Post, &server.url("/"), &[], Some(b"x"), None)
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.body(100).await.unwrap(), b"ok");
    });
}

#[test]
fn switching_protocols_is_an_error() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
            peer.closed_within(Duration::from_secs(2));
        }
    });
    let client = client();
    rt::block_on(async {
        let result = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await;
        assert!(matches!(result, Err(ClientError::Http(_))), "{result:?}");
    });
}

#[test]
fn keep_alive_reuses_one_connection() {
    let server = serve(|peer| {
        let mut n = 0;
        while peer.request().is_some() {
            n += 1;
            if n == 2 {
                // No body at all: the connection is free at once.
                peer.send(b"HTTP/1.1 204 No Content\r\n\r\n");
            } else {
                peer.send(OK_HELLO);
            }
        }
    });
    let client = client();
    rt::block_on(async {
        let first = client
            .send(Method::Get, &server.url("/a"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(first.body(100).await.unwrap(), b"hello");
        // The 204's empty body is never read: the connection is back anyway.
        let second = client
            .send(Method::Get, &server.url("/b"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(second.status(), 204);
        drop(second);
        let third = client
            .send(Method::Get, &server.url("/c"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(third.body(100).await.unwrap(), b"hello");
    });
    assert_eq!(server.connections(), 1);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.conn == 0));
}

#[test]
fn connection_close_is_honoured() {
    let server = serve(|peer| {
        while peer.request().is_some() {
            peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let client = client();
    rt::block_on(async {
        for _ in 0..2 {
            let response = client
                .send(Method::Get, &server.url("/"), &[], None, None)
                .await
                .unwrap();
            assert_eq!(response.body(100).await.unwrap(), b"ok");
        }
    });
    assert_eq!(server.connections(), 2);
}

#[test]
fn dead_pooled_connection_is_retried_once() {
    // Connection 0 answers one request, then drops the connection when
    // the next one arrives: the idle-close race, seen from the client.
    let server = serve(|peer| {
        if peer.conn == 0 {
            peer.request().unwrap();
            peer.send(OK_HELLO);
            peer.request();
            return;
        }
        while peer.request().is_some() {
            peer.send(OK_HELLO);
        }
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        response.body(100).await.unwrap();
        let response = client
            .send(Method::Post, &server.url("/"), &[], Some(b"{}"), None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    assert_eq!(server.connections(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!((seen[1].conn, seen[2].conn), (0, 1));
    assert_eq!(seen[2].body, b"{}");
}

#[test]
fn retry_happens_only_once() {
    let server = serve(|peer| {
        if peer.conn == 0 {
            peer.request().unwrap();
            peer.send(OK_HELLO);
        }
        // Every later request is read and dropped unanswered.
        peer.request();
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        response.body(100).await.unwrap();
        let result = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await;
        assert!(matches!(result, Err(ClientError::Closed)), "{result:?}");
    });
    assert_eq!(server.connections(), 2);
}

#[test]
fn connection_closed_while_idle_is_not_reused() {
    let (closed, wait_closed) = mpsc::channel();
    let server = serve(move |peer| {
        if peer.request().is_some() {
            peer.send(OK_HELLO);
            // ... and close, as a server's keep-alive timeout does.
            let _ = peer.stream.shutdown(std::net::Shutdown::Both);
            closed.send(()).unwrap();
        }
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        response.body(100).await.unwrap();
        let key = PoolKey::of(&server.url("/"));
        assert_eq!(idle(&client, &key), 1);
        // The server has closed (its FIN is delivered within the shutdown
        // call on loopback).
        wait_closed.recv_timeout(WAIT).unwrap();
        // Checkout sees the close without sending anything.
        assert!(client.inner.checkout(&key).await.is_none());
        assert_eq!(idle(&client, &key), 0);
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    let seen = server.seen();
    assert_eq!((seen[0].conn, seen[1].conn), (0, 1));
}

/// Idle connections pooled for `key`.
fn idle(client: &Client, key: &PoolKey) -> usize {
    client.inner.pool.borrow().get(key).map_or(0, Vec::len)
}

#[test]
fn pool_is_bounded_per_host() {
    let server = hello_server();
    let client = Client::with_extra_roots(
        ClientOptions {
            max_idle_per_host: 2,
            ..options()
        },
        None,
    )
    .unwrap();
    let key = PoolKey::of(&server.url("/"));
    rt::block_on(async {
        // Three responses open at once need three connections; two of them
        // stay for reuse.
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(
                client
                    .send(Method::Get, &server.url("/"), &[], None, None)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(idle(&client, &key), 0);
        for response in open {
            assert_eq!(response.body(100).await.unwrap(), b"hello");
        }
        assert_eq!(idle(&client, &key), 2);
        // Another host (same address, other name) has a pool of its own.
        let other = Url::parse(&format!("http://localhost:{}/", server.port)).unwrap();
        let response = client
            .send(Method::Get, &other, &[], None, None)
            .await
            .unwrap();
        response.body(100).await.unwrap();
        assert_eq!(idle(&client, &key), 2);
        assert_eq!(idle(&client, &PoolKey::of(&other)), 1);
    });
    assert_eq!(server.connections(), 4);
}

#[test]
fn idle_timeout_drops_pooled_connections() {
    let server = hello_server();
    let client = Client::with_extra_roots(
        ClientOptions {
            idle_timeout: Duration::from_millis(50),
            ..options()
        },
        None,
    )
    .unwrap();
    rt::block_on(async {
        for _ in 0..2 {
            let response = client
                .send(Method::Get, &server.url("/"), &[], None, None)
                .await
                .unwrap();
            response.body(100).await.unwrap();
            // Waiting past the idle timeout is the behaviour under test.
            async_io::Timer::after(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(server.connections(), 2);
}

#[test]
fn dropping_a_response_mid_body_closes_its_connection() {
    let (closed, wait_closed) = mpsc::channel();
    let server = {
        serve(move |peer| {
            if peer.conn == 0 {
                peer.request().unwrap();
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
                closed
                    .send(peer.closed_within(Duration::from_secs(3)))
                    .unwrap();
                return;
            }
            while peer.request().is_some() {
                peer.send(OK_HELLO);
            }
        })
    };
    let client = client();
    rt::block_on(async {
        let mut response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b"hello");
        drop(response);
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    assert_eq!(server.connections(), 2);
    assert_eq!(
        wait_closed.recv_timeout(WAIT),
        Ok(true),
        "the first connection is closed, not left idle"
    );
}

#[test]
fn truncated_body_is_an_error() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
        }
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        let result = response.body(100).await;
        assert!(
            matches!(result, Err(ClientError::Http(HttpError::Truncated))),
            "{result:?}"
        );
    });
}

#[test]
fn body_limit() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
        }
        if peer.request().is_some() {
            peer.send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n4\r\n4567\r\n0\r\n\r\n",
            );
        }
    });
    let client = client();
    rt::block_on(async {
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        let result = response.body(5).await;
        assert!(
            matches!(result, Err(ClientError::Http(HttpError::BodyTooLarge))),
            "{result:?}"
        );
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        let result = response.body(6).await;
        assert!(
            matches!(result, Err(ClientError::Http(HttpError::BodyTooLarge))),
            "{result:?}"
        );
    });
}

#[test]
fn malformed_response_is_an_error() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.send(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
        }
    });
    let client = client();
    rt::block_on(async {
        let result = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await;
        assert!(matches!(result, Err(ClientError::Http(_))), "{result:?}");
    });
}

#[test]
fn silent_server_hits_the_head_timeout() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.closed_within(Duration::from_secs(3));
        }
    });
    let client = client();
    let start = Instant::now();
    rt::block_on(async {
        let result = client
            .send(
                Method::Get,
                &server.url("/"),
                &[],
                None,
                Some(Duration::from_millis(200)),
            )
            .await;
        assert!(
            matches!(result, Err(ClientError::Timeout("response head"))),
            "{result:?}"
        );
    });
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn body_read_timeout() {
    let server = serve(|peer| {
        if peer.request().is_some() {
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            peer.closed_within(Duration::from_secs(3));
        }
    });
    let client = client();
    rt::block_on(async {
        let mut response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        response.set_read_timeout(Some(Duration::from_millis(100)));
        let result = response.chunk().await;
        assert!(
            matches!(result, Err(ClientError::Timeout("body read"))),
            "{result:?}"
        );
        assert!(matches!(response.chunk().await, Err(ClientError::Closed)));
    });
}

#[test]
fn refused_connection_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client();
    rt::block_on(async {
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let result = client.send(Method::Get, &url, &[], None, None).await;
        assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
    });
}

#[test]
fn connect_pools_a_connection_for_the_next_request() {
    let server = hello_server();
    let client = client();
    let key = PoolKey::of(&server.url("/"));
    rt::block_on(async {
        client.connect(&server.url("/")).await.unwrap();
        assert_eq!(idle(&client, &key), 1);
        let response = client
            .send(Method::Get, &server.url("/"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"hello");
    });
    // one connection: the one opened by `connect`, used by the request
    assert_eq!(server.connections(), 1);
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_refused_connect_is_unreachable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client();
    rt::block_on(async {
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = client.connect(&url).await.unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        assert!(!ClientError::Closed.is_unreachable());
        assert!(!ClientError::Timeout("response head").is_unreachable());
    });
}

#[test]
fn errors_do_not_show_header_values() {
    let client = Client::with_extra_roots(
        ClientOptions {
            headers: vec![parse_header_line("Authorization: Bearer s3cr3t").unwrap()],
            ..options()
        },
        None,
    )
    .unwrap();
    rt::block_on(async {
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        let result = client
            .send(Method::Get, &url, &[("X-Bad", b"a\r\nb")], None, None)
            .await;
        let Err(err) = result else {
            panic!("a header with CR LF was sent")
        };
        assert!(matches!(
            err,
            ClientError::Http(HttpError::InvalidHeader(_))
        ));
        let text = err.to_string();
        assert!(
            !text.contains("s3cr3t") && !text.contains("a\r\nb"),
            "{text}"
        );
    });
}

// ---- TLS ----

/// A test CA and a server certificate for `localhost` and `127.0.0.1`.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    pki_for(&["localhost", "127.0.0.1"])
}

/// A test CA and a server certificate for `names` (DNS names or IPs).
fn pki_for(names: &[&str]) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "supergateway test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// Writes `contents` to a fresh file in the temp directory.
fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "supergateway-client-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

/// A TLS server (rustls over std TcpStream) answering every request with
/// `secure`, limited to `versions`.
fn serve_tls(pki: &Pki, versions: &[&'static rustls::SupportedProtocolVersion]) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert.clone()],
            PrivateKeyDer::Pkcs8(pki.key.clone_key()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let connections = Arc::clone(&connections);
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let conn = connections.fetch_add(1, Ordering::SeqCst);
                let config = Arc::clone(&config);
                let seen = Arc::clone(&seen);
                thread::spawn(move || {
                    let mut tls = rustls::ServerConnection::new(config).unwrap();
                    while tls.is_handshaking() {
                        if tls.complete_io(&mut stream).is_err() {
                            return;
                        }
                    }
                    let sni = tls.server_name().map(str::to_owned);
                    let mut peer = Peer {
                        conn,
                        stream: rustls::StreamOwned::new(tls, stream),
                        buf: Vec::new(),
                        seen,
                        sni,
                    };
                    while peer.request().is_some() {
                        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure");
                    }
                });
            }
        });
    }
    Server {
        port,
        connections,
        seen,
    }
}

#[test]
fn tls_with_a_private_ca() {
    let pki = pki();
    let ca = temp_file("ca.pem", pki.ca_pem.as_bytes());
    let server = serve_tls(&pki, rustls::DEFAULT_VERSIONS);
    let client = Client::with_extra_roots(
        ClientOptions {
            headers: vec![parse_header_line("Authorization: Bearer t0k3n").unwrap()],
            ..options()
        },
        Some(&ca),
    )
    .unwrap();
    rt::block_on(async {
        for host in ["localhost", "localhost", "127.0.0.1"] {
            let url = Url::parse(&format!("https://{host}:{}/mcp", server.port)).unwrap();
            let response = client
                .send(Method::Post, &url, &[], Some(b"{}"), None)
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.body(100).await.unwrap(), b"secure");
        }
    });
    let _ = std::fs::remove_file(&ca);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    // Reused for the second request to the same host; a new connection
    // (and no SNI) for the IP address.
    assert_eq!((seen[0].conn, seen[1].conn), (0, 0));
    assert_eq!(seen[0].sni.as_deref(), Some("localhost"));
    assert_eq!(seen[2].sni, None);
    assert!(seen[0].head.contains("\r\nauthorization: bearer t0k3n\r\n"));
    assert!(seen[0]
        .head
        .contains(&format!("\r\nhost: localhost:{}\r\n", server.port)));
    assert_eq!(seen[0].body, b"{}");
    assert_eq!(server.connections(), 2);
}

#[test]
fn tls12_only_server() {
    let pki = pki();
    let ca = temp_file("ca.pem", pki.ca_pem.as_bytes());
    let server = serve_tls(&pki, &[&rustls::version::TLS12]);
    let client = Client::with_extra_roots(options(), Some(&ca)).unwrap();
    rt::block_on(async {
        let url = Url::parse(&format!("https://localhost:{}/", server.port)).unwrap();
        let response = client
            .send(Method::Get, &url, &[], None, None)
            .await
            .unwrap();
        assert_eq!(response.body(100).await.unwrap(), b"secure");
    });
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn tls_without_the_ca_fails_verification() {
    let pki = pki();
    let server = serve_tls(&pki, rustls::DEFAULT_VERSIONS);
    let client = client();
    rt::block_on(async {
        let url = Url::parse(&format!("https://localhost:{}/", server.port)).unwrap();
        let result = client.send(Method::Get, &url, &[], None, None).await;
        assert!(
            matches!(
                result,
                Err(ClientError::Tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                )))
            ),
            "{result:?}"
        );
    });
    assert!(server.seen().is_empty());
}

#[test]
fn tls_name_mismatch_fails_verification() {
    let pki = pki_for(&["mcp.example.test"]);
    let ca = temp_file("ca.pem", pki.ca_pem.as_bytes());
    let server = serve_tls(&pki, rustls::DEFAULT_VERSIONS);
    let client = Client::with_extra_roots(options(), Some(&ca)).unwrap();
    rt::block_on(async {
        for host in ["localhost", "127.0.0.1"] {
            let url = Url::parse(&format!("https://{host}:{}/", server.port)).unwrap();
            let result = client.send(Method::Get, &url, &[], None, None).await;
            assert!(
                matches!(
                    result,
                    Err(ClientError::Tls(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForName
                            | rustls::CertificateError::NotValidForNameContext { .. }
                    )))
                ),
                "{result:?}"
            );
        }
    });
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn bad_ca_bundles_are_refused_up_front() {
    let missing = std::env::temp_dir().join("supergateway-client-no-such-file.pem");
    let err = Client::with_extra_roots(options(), Some(&missing))
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("no-such-file.pem"), "{err}");

    let empty = temp_file("empty.pem", b"no certificates here\n");
    let err = Client::with_extra_roots(options(), Some(&empty))
        .err()
        .unwrap();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    let _ = std::fs::remove_file(&empty);

    let broken = temp_file(
        "broken.pem",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let err = Client::with_extra_roots(options(), Some(&broken))
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Config(_)), "{err:?}");
    let _ = std::fs::remove_file(&broken);
}
