//! The authorization code flow's redirect target (RFC 8252 §7.3): a listener
//! on 127.0.0.1 (never a wildcard address), on an ephemeral port or
//! `--oauthCallbackPort`, that waits for the browser's `GET /callback` with
//! this flow's `state`.
//!
//! Bounded, because any local process (or a web page the user has open)
//! can connect: one connection at a time; at most
//! [`MAX_CONNECTIONS`] per flow; each head ≤ 8 KiB (the target included)
//! and read within [`HEAD_TIMEOUT`]; the whole wait within the caller's
//! timeout (`--oauthTimeout`). A request that is not `GET /callback` with
//! exactly one `state` equal to ours gets a 400 page and the wait goes on
//! (a stray request cannot end the flow). The matching one gets a small
//! HTML page telling the user to go back to the terminal, and its request
//! target (which carries the code) goes to the caller: the callback checks
//! (`iss`, `error`, `code`) are the flow's.
//!
//! The pages are sent with `Referrer-Policy: no-referrer` and
//! `Cache-Control: no-store` so the code in the address bar goes nowhere
//! else; nothing here logs the target.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_io::Timer;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use smol::net::{TcpListener, TcpStream};
use supergateway_proto::http::{HeadDecoder, Limits, Method};
use supergateway_proto::secrets::constant_time_eq;

/// Connections accepted per flow, at most.
pub(crate) const MAX_CONNECTIONS: usize = 32;

/// Bytes of one request head (the target included).
pub(crate) const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Time to receive one request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The listener of one authorization; closed when dropped.
pub(crate) struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// The browser's request to our redirect URI.
pub(crate) struct Callback {
    target: String,
}

/// Why no callback arrived.
#[derive(Debug)]
pub(crate) enum LoopbackError {
    /// The listener could not be bound (the port is in use, say).
    Bind(io::Error),
    /// Accepting a connection failed.
    Accept(io::Error),
    /// [`MAX_CONNECTIONS`] arrived without the callback.
    TooManyConnections,
    /// The caller's timeout passed first.
    Timeout,
}

impl Loopback {
    /// Listens on 127.0.0.1:`port` (`0`: a port the OS picks).
    pub(crate) async fn bind(port: u16) -> Result<Self, LoopbackError> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(LoopbackError::Bind)?;
        let port = listener.local_addr().map_err(LoopbackError::Bind)?.port();
        Ok(Self { listener, port })
    }

    /// The port listened on.
    #[cfg(test)]
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/callback`: the `redirect_uri`.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Waits up to `timeout` for `GET /callback` carrying `state`; answers
    /// every other request with 400 and goes on waiting.
    pub(crate) async fn wait(
        &self,
        state: &str,
        timeout: Duration,
    ) -> Result<Callback, LoopbackError> {
        self.accept_loop(state)
            .or(async {
                Timer::after(timeout).await;
                Err(LoopbackError::Timeout)
            })
            .await
    }

    async fn accept_loop(&self, state: &str) -> Result<Callback, LoopbackError> {
        for _ in 0..MAX_CONNECTIONS {
            let (stream, _) = self
                .listener
                .accept()
                .await
                .map_err(LoopbackError::Accept)?;
            if let Some(callback) = serve(stream, state).await {
                return Ok(callback);
            }
        }
        Err(LoopbackError::TooManyConnections)
    }
}

impl Callback {
    /// The request target, `/callback?…` (holds the code: never log it).
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Its query, without the `?`.
    #[allow(dead_code)] // API: the flow hands the query to proto's callback check
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }
}

impl fmt::Debug for Callback {
    /// Never the target: it holds the authorization code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback(…)")
    }
}

impl fmt::Display for LoopbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bind(err) => write!(f, "cannot listen on 127.0.0.1 for the redirect: {err}"),
            Self::Accept(err) => write!(f, "the redirect listener failed: {err}"),
            Self::TooManyConnections => write!(
                f,
                "{MAX_CONNECTIONS} connections reached the redirect listener without the authorization response"
            ),
            Self::Timeout => f.write_str("timed out waiting for the authorization response"),
        }
    }
}

impl std::error::Error for LoopbackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind(err) | Self::Accept(err) => Some(err),
            Self::TooManyConnections | Self::Timeout => None,
        }
    }
}

/// The page for the callback we waited for.
const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>supergateway</title>\
<p>Authorization received. You can close this window and return to the terminal.</p>\n";

/// The page for anything else.
const WRONG_PAGE: &str = "<!doctype html><meta charset=utf-8><title>supergateway</title>\
<p>This is not the authorization response supergateway is waiting for.</p>\n";

const LIMITS: Limits = Limits::DEFAULT
    .with_head_bytes(MAX_HEAD_BYTES)
    .with_target_bytes(MAX_HEAD_BYTES);

/// Reads one request head from `stream` (bounded in size and time) and
/// answers it; the callback when it is ours.
async fn serve(mut stream: TcpStream, state: &str) -> Option<Callback> {
    let head = read_head(&mut stream)
        .or(async {
            Timer::after(HEAD_TIMEOUT).await;
            None
        })
        .await;
    let callback = head.and_then(|head| {
        let ours = head.method() == Method::Get
            && head.path() == "/callback"
            && head.query_param_count("state") == 1
            && head
                .query_param("state")
                .is_some_and(|given| constant_time_eq(given.as_bytes(), state.as_bytes()));
        ours.then(|| Callback {
            target: head.target().to_owned(),
        })
    });
    let (status, page) = match &callback {
        Some(_) => ("200 OK", DONE_PAGE),
        None => ("400 Bad Request", WRONG_PAGE),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-length: {}\r\ncache-control: no-store\r\nreferrer-policy: no-referrer\r\n\
         connection: close\r\n\r\n{page}",
        page.len()
    );
    // The answer is a courtesy to the browser: a peer gone already does not
    // change what arrived.
    let _ = async {
        stream.write_all(response.as_bytes()).await?;
        stream.flush().await
    }
    .or(async {
        Timer::after(HEAD_TIMEOUT).await;
        Err(io::Error::from(io::ErrorKind::TimedOut))
    })
    .await;
    callback
}

/// The request head, or `None` when the peer closes, errs or sends no
/// valid head within [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Option<supergateway_proto::http::RequestHead> {
    let mut decoder = HeadDecoder::new(LIMITS);
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
        if let Some((head, _)) = decoder.decode(&buf).ok()? {
            return Some(head);
        }
    }
}
