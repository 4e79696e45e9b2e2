//! The local side of the reverse bridges: the MCP client that launched us
//! talks JSON-RPC over our stdin and stdout.
//!
//! Stdin is framed into bounded lines; stdout gets one line per message,
//! written by one task in arrival order (several queued messages go out in
//! one write). Nothing but MCP messages is ever written to stdout: logs go
//! to stderr.

use std::io;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::channel::{self, Receiver, Sender};
use smol::Unblock;
use supergateway_proto::jsonrpc::{Line, LineDecoder};

use crate::rt;

/// Bound on one stdin line (one message from the local client).
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Lines from stdin.
pub(crate) struct Stdin {
    reader: Unblock<io::Stdin>,
    decoder: LineDecoder,
    buf: Vec<u8>,
    /// Bytes of `buf` not yet given to the decoder.
    pending: std::ops::Range<usize>,
}

impl Stdin {
    pub(crate) fn new() -> Self {
        Self {
            reader: Unblock::new(io::stdin()),
            decoder: LineDecoder::new(MAX_LINE_BYTES),
            buf: vec![0; 64 * 1024],
            pending: 0..0,
        }
    }

    /// The next non-empty line; `None` at end of input.
    pub(crate) async fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            while !self.pending.is_empty() {
                let input = self.buf.get(self.pending.clone()).unwrap_or_default();
                let (consumed, line) = self.decoder.decode(input);
                self.pending.start = self
                    .pending
                    .start
                    .saturating_add(consumed)
                    .min(self.pending.end);
                match line {
                    Line::Complete([]) => {}
                    Line::Complete(line) => return Some(line.to_vec()),
                    Line::Oversize { len } => {
                        tracing::warn!(
                            "dropped a {len}-byte line from stdin: over {MAX_LINE_BYTES} bytes"
                        );
                    }
                    Line::NeedMore => self.pending = 0..0,
                }
            }
            match self.reader.read(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending = 0..n,
            }
        }
    }
}

/// Stdout, shared by every task of a bridge.
#[derive(Clone)]
pub(crate) struct Stdout {
    lines: Sender<Vec<u8>>,
    done: Receiver<()>,
}

impl Stdout {
    /// Starts the writer task.
    pub(crate) fn new() -> Self {
        let (lines, queue) = channel::unbounded::<Vec<u8>>();
        let (finished, done) = channel::bounded::<()>(1);
        rt::spawn(async move {
            let mut out = Unblock::new(io::stdout());
            let mut batch = Vec::with_capacity(64 * 1024);
            while let Ok(first) = queue.recv().await {
                batch.clear();
                batch.extend_from_slice(&first);
                while batch.len() < 256 * 1024 {
                    let Ok(next) = queue.try_recv() else { break };
                    batch.extend_from_slice(&next);
                }
                if out.write_all(&batch).await.is_err() || out.flush().await.is_err() {
                    tracing::warn!("stdout is closed; the local client has gone");
                    break;
                }
            }
            drop(finished);
        })
        .detach();
        Self { lines, done }
    }

    /// Writes one message (without its newline).
    pub(crate) fn send(&self, message: &[u8]) {
        let mut line = Vec::with_capacity(message.len().saturating_add(1));
        // stdio framing is one message per line. In valid JSON a raw CR or
        // LF can only be whitespace (inside strings they are escaped), so a
        // pretty-printed message from the server becomes one line with the
        // same meaning.
        line.extend(
            message
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        line.push(b'\n');
        let _ = self.lines.try_send(line);
    }

    /// Waits until everything written so far is out (bounded by `limit`).
    pub(crate) async fn flush(&self, limit: Duration) {
        self.lines.close();
        let _ = futures_lite::FutureExt::or(
            async {
                let _ = self.done.recv().await;
            },
            async {
                async_io::Timer::after(limit).await;
            },
        )
        .await;
    }
}
