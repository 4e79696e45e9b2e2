//! The client's byte streams: DNS, TCP, and TLS through rustls.
//!
//! TLS uses rustls with the ring provider, TLS 1.3 and 1.2, and the Mozilla
//! roots from webpki-roots, plus the PEM bundle named by `SSL_CERT_FILE` for
//! private CAs. Certificates are always verified; there is no switch to turn
//! that off. The server name comes from the URL host: a DNS name is sent as
//! SNI and checked against the certificate's DNS names; an IP address is not
//! sent (RFC 6066 §3 forbids IP literals in SNI) and is checked against the
//! certificate's IP address names.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, FutureExt};
use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::ClientError;

/// A connection to a server, in the clear or over TLS.
pub(super) enum Stream {
    Plain(Async<TcpStream>),
    // Boxed: the rustls connection state is large, and a pool holds many
    // `Stream`s.
    Tls(Box<TlsStream<Async<TcpStream>>>),
}

impl Stream {
    /// Whether an idle connection can no longer carry a request: the server
    /// closed it, reset it, or sent bytes nobody asked for. Does not wait.
    pub(super) async fn is_unusable(&mut self) -> bool {
        let mut byte = [0u8; 1];
        // A pending read means the connection is open and quiet. For TLS the
        // poll also processes records that carry no data (TLS 1.3 session
        // tickets) and sees a close_notify as end of stream.
        futures_lite::future::poll_once(self.read(&mut byte))
            .await
            .is_some()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_close(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_close(cx),
        }
    }
}

/// The TLS client configuration: ring, TLS 1.3 and 1.2, ALPN `http/1.1`,
/// the webpki roots plus every certificate of the PEM file `extra_roots`.
///
/// A file that cannot be read, holds a malformed PEM section or a
/// certificate rustls refuses as a trust anchor, or holds no certificate at
/// all, is a [`ClientError::Config`].
pub(super) fn tls_config(extra_roots: Option<&Path>) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_roots {
        add_pem_roots(&mut roots, path).map_err(|why| {
            ClientError::Config(format!(
                "cannot load CA certificates from {}: {why}",
                path.display()
            ))
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| ClientError::Config(format!("TLS setup: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // We speak HTTP/1.1 only; saying so keeps an ALPN-aware front end from
    // guessing.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Adds each certificate of a PEM bundle (other sections, such as keys,
/// are skipped) as a trust anchor.
fn add_pem_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let mut added = 0usize;
    for cert in CertificateDer::pem_file_iter(path).map_err(|err| err.to_string())? {
        let cert = cert.map_err(|err| err.to_string())?;
        roots.add(cert).map_err(|err| err.to_string())?;
        added = added.saturating_add(1);
    }
    if added == 0 {
        return Err("no PEM certificate in the file".to_owned());
    }
    Ok(())
}

/// Opens a connection to `host:port` (TLS when `tls` is given), the whole
/// of it (DNS, TCP, TLS handshake) within `timeout`.
///
/// The resolved addresses, IPv4 and IPv6, are tried in the resolver's order.
/// Each attempt but the last gets an equal share of the time left, so one
/// black-holed address (typically IPv6 on a network without a route) cannot
/// use up the whole connect timeout.
pub(super) async fn connect(
    host: &str,
    port: u16,
    tls: Option<&TlsConnector>,
    timeout: Duration,
) -> Result<Stream, ClientError> {
    let deadline = Instant::now().checked_add(timeout);
    async {
        let tcp = connect_tcp(host, port, deadline).await?;
        let Some(connector) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ClientError::Config(format!("invalid TLS server name {host:?}")))?;
        match connector.connect(name, tcp).await {
            Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
            Err(err) => Err(tls_error(err)),
        }
    }
    .or(async {
        Timer::after(timeout).await;
        Err(ClientError::Timeout("connect"))
    })
    .await
}

async fn connect_tcp(
    host: &str,
    port: u16,
    deadline: Option<Instant>,
) -> Result<Async<TcpStream>, ClientError> {
    // IP literals are parsed in place; names go to the system resolver on
    // smol's blocking pool.
    let addrs = smol::net::resolve((host, port))
        .await
        .map_err(ClientError::Connect)?;
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("no address found for {host}"),
    );
    let count = addrs.len();
    for (i, addr) in addrs.into_iter().enumerate() {
        let left = count.saturating_sub(i);
        match connect_one(addr, attempt_budget(deadline, left)).await {
            Ok(stream) => {
                // Requests go out in one write each; no reason to wait for
                // more.
                let _ = stream.get_ref().set_nodelay(true);
                return Ok(stream);
            }
            Err(err) => {
                tracing::debug!("connect to {addr} failed: {err}");
                last = err;
            }
        }
    }
    Err(ClientError::Connect(last))
}

/// The time one attempt may take: an equal share of what is left before
/// `deadline` among the `left` addresses still to try (at least 1). `None`
/// when there is no deadline (the caller's timer still bounds the phase).
fn attempt_budget(deadline: Option<Instant>, left: usize) -> Option<Duration> {
    let remaining = deadline?.saturating_duration_since(Instant::now());
    let left = u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    Some(remaining.checked_div(left).unwrap_or(remaining))
}

async fn connect_one(addr: SocketAddr, budget: Option<Duration>) -> io::Result<Async<TcpStream>> {
    let attempt = Async::<TcpStream>::connect(addr);
    match budget {
        None => attempt.await,
        Some(budget) => {
            attempt
                .or(async {
                    Timer::after(budget).await;
                    Err(io::ErrorKind::TimedOut.into())
                })
                .await
        }
    }
}

/// A handshake failure: the rustls error when there is one (a certificate
/// that does not verify, a protocol mismatch), else the I/O error.
fn tls_error(err: io::Error) -> ClientError {
    let is_rustls = err
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>());
    if !is_rustls {
        return ClientError::Connect(err);
    }
    match err
        .into_inner()
        .map(|inner| inner.downcast::<rustls::Error>())
    {
        Some(Ok(tls)) => ClientError::Tls(*tls),
        Some(Err(other)) => ClientError::Connect(io::Error::other(other)),
        None => ClientError::Connect(io::ErrorKind::Other.into()),
    }
}
