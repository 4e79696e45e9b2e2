//! A served connection's byte stream: the TCP socket, or TLS over it.
//!
//! Handlers read and write one connection from more than one future at a
//! time (a stream writes while `Conn::closed` reads; the WebSocket mode reads
//! and writes the socket it took over), so the stream is shared through
//! `&Stream`, as `&Async<TcpStream>` was. The plain socket is a direct call,
//! as before. The TLS session sits in a `RefCell` borrowed only inside each
//! poll call, never across an await, so the futures that share it take turns
//! (the gateway is single-threaded). Its TCP socket is kept apart in an `Rc`
//! so that waiting for readiness does not hold the session.

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt};
use futures_rustls::server::TlsStream;

use crate::metrics;

/// See the module documentation.
pub(crate) enum Stream {
    Plain(Async<TcpStream>),
    // Boxed: the TLS session is large and a plain connection should not
    // carry its size.
    Tls(Box<Tls>),
}

/// A TLS session over a shared TCP socket.
pub(crate) struct Tls {
    tcp: Rc<Async<TcpStream>>,
    session: RefCell<TlsStream<SharedTcp>>,
}

impl Tls {
    pub(crate) fn new(tcp: Rc<Async<TcpStream>>, session: TlsStream<SharedTcp>) -> Self {
        Self {
            tcp,
            session: RefCell::new(session),
        }
    }
}

/// The TCP socket as the TLS session reads and writes it (the session owns
/// its transport; the socket's readiness is also awaited without it).
pub(crate) struct SharedTcp(pub(crate) Rc<Async<TcpStream>>);

impl Stream {
    /// Writes all of `bytes` (and, over TLS, flushes the records they make),
    /// or fails with `TimedOut` when the write stalls for `timeout` (a
    /// client that stopped reading).
    pub(crate) async fn write_all(&self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        let mut writer = self;
        let write = async {
            AsyncWriteExt::write_all(&mut writer, bytes).await?;
            if let Self::Tls(_) = self {
                AsyncWriteExt::flush(&mut writer).await?;
            }
            Ok(())
        };
        write
            .or(async {
                Timer::after(timeout).await;
                Err(io::ErrorKind::TimedOut.into())
            })
            .await
    }

    /// Ends our side of the connection: over TLS a close_notify first
    /// (bounded by `timeout`), then the TCP write half.
    pub(crate) async fn shutdown(&self, timeout: Duration) {
        match self {
            Self::Plain(tcp) => {
                let _ = tcp.get_ref().shutdown(Shutdown::Write);
            }
            Self::Tls(tls) => {
                let mut writer = self;
                let _ = writer
                    .close()
                    .or(async {
                        Timer::after(timeout).await;
                        Ok(())
                    })
                    .await;
                let _ = tls.tcp.get_ref().shutdown(Shutdown::Write);
            }
        }
    }

    /// Resolves when the client closes its side (or the connection fails).
    /// Anything it sends meanwhile is read and discarded.
    ///
    /// It waits for the socket's readiness and reads only then: a pending
    /// `read` future retries the syscall each time it is polled, and a
    /// stream's task is polled for every message it sends.
    pub(crate) async fn closed(&self) {
        let mut scratch = [0u8; 512];
        match self {
            Self::Plain(tcp) => loop {
                if tcp.readable().await.is_err() {
                    return;
                }
                match tcp.get_ref().read(&mut scratch) {
                    Ok(0) => return,
                    // A client may send nothing on a stream it reads; anything
                    // it sends is discarded, bounded by this small buffer.
                    Ok(_) => {}
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            },
            Self::Tls(tls) => loop {
                if tls.tcp.readable().await.is_err() {
                    return;
                }
                // Records are decrypted until the session has nothing more
                // to give without waiting; a close_notify reads as 0.
                let mut reader = self;
                loop {
                    match futures_lite::future::poll_once(reader.read(&mut scratch)).await {
                        Some(Ok(0) | Err(_)) => return,
                        Some(Ok(_)) => {}
                        None => break,
                    }
                }
            },
        }
    }
}

impl AsyncRead for &Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = match **self {
            Stream::Plain(ref tcp) => Pin::new(&mut &*tcp).poll_read(cx, buf),
            Stream::Tls(ref tls) => match tls.session.try_borrow_mut() {
                Ok(mut session) => Pin::new(&mut *session).poll_read(cx, buf),
                Err(_) => Poll::Ready(Err(busy())),
            },
        };
        // Application bytes (decrypted under TLS).
        if let Poll::Ready(Ok(n)) = poll {
            metrics::bytes_in(n);
        }
        poll
    }
}

impl AsyncWrite for &Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = match **self {
            Stream::Plain(ref tcp) => Pin::new(&mut &*tcp).poll_write(cx, buf),
            Stream::Tls(ref tls) => match tls.session.try_borrow_mut() {
                Ok(mut session) => Pin::new(&mut *session).poll_write(cx, buf),
                Err(_) => Poll::Ready(Err(busy())),
            },
        };
        if let Poll::Ready(Ok(n)) = poll {
            metrics::bytes_out(n);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match **self {
            Stream::Plain(ref tcp) => Pin::new(&mut &*tcp).poll_flush(cx),
            Stream::Tls(ref tls) => match tls.session.try_borrow_mut() {
                Ok(mut session) => Pin::new(&mut *session).poll_flush(cx),
                Err(_) => Poll::Ready(Err(busy())),
            },
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match **self {
            Stream::Plain(ref tcp) => Pin::new(&mut &*tcp).poll_close(cx),
            Stream::Tls(ref tls) => match tls.session.try_borrow_mut() {
                Ok(mut session) => Pin::new(&mut *session).poll_close(cx),
                Err(_) => Poll::Ready(Err(busy())),
            },
        }
    }
}

/// A session borrowed while another poll of it runs: cannot happen, as
/// no poll call re-enters the stream, but an error beats a panic.
fn busy() -> io::Error {
    io::Error::other("TLS session re-entered")
}

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}
