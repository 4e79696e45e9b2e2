//! One SSE stream of the Streamable HTTP transport: the response stream of
//! a POST, or a session's standalone GET stream.
//!
//! It drains a `Link` outlet onto a connection as SSE events with ids
//! `<stream>-<seq>` (unique within the gateway; the stream part names the
//! stream, as MCP 2025-11-25 suggests). Events written are kept in a bounded
//! replay buffer, so that a client whose connection broke can GET the
//! endpoint with `Last-Event-ID` and resume this stream, and only this one.

use std::collections::VecDeque;
use std::pin::pin;
use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use supergateway_proto::http::{encode_chunk, encode_last_chunk};
use supergateway_proto::mux::write_u64;
use supergateway_proto::sse::{encode_comment, encode_event, encode_retry, SseField};

use crate::gateway::link::{Frame, Inbox, SessionKey};
use crate::http::server::{keep_alive_ticks, Conn};

/// Bytes gathered into one write when several messages are queued.
const WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Bound on the bytes one stream's replay buffer holds.
const REPLAY_BYTES: usize = 4 * 1024 * 1024;
/// The reconnection delay announced with the priming event.
const RETRY_MS: u64 = 3000;

/// How a pump ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PumpEnd {
    /// Every request of the POST has its answer: the stream is complete.
    Complete,
    /// The client's connection went away before that.
    Gone,
    /// The link closed the outlet (session ended, child exited).
    Closed,
}

/// See the module documentation.
pub(crate) struct EventStream {
    /// The stream's key in its link (and the stream part of event ids).
    pub(crate) key: SessionKey,
    frames: Inbox,
    /// Answers that complete the stream; 0 for a standalone stream.
    expected: usize,
    answered: usize,
    /// Sequence number of the next event; 0 is the priming event.
    next_seq: u64,
    /// Encoded events still replayable, oldest first, with their sequence.
    replay: VecDeque<(u64, Vec<u8>)>,
    replay_bytes: usize,
    /// Events kept for replay at most (0 = no replay).
    replay_limit: usize,
    /// Events carry ids (MCP 2026-07-28 streams have none: no resumption).
    numbered: bool,
}

/// What came first on a stream whose response form is not chosen yet
/// ([`EventStream::first`]).
pub(crate) enum First {
    /// A frame (the caller writes it, then pumps the rest).
    Frame(Frame),
    /// Nothing within the keep-alive interval: commit to a stream.
    Quiet,
    /// The client's connection went away.
    Gone,
    /// The link closed the outlet without a frame.
    Closed,
}

impl EventStream {
    pub(crate) fn new(
        key: SessionKey,
        frames: Inbox,
        expected: usize,
        replay_limit: usize,
    ) -> Self {
        Self {
            key,
            frames,
            expected,
            answered: 0,
            next_seq: 1,
            replay: VecDeque::new(),
            replay_bytes: 0,
            replay_limit,
            numbered: true,
        }
    }

    /// Events without ids (MCP 2026-07-28: streams are not resumable).
    pub(crate) fn unnumbered(mut self) -> Self {
        self.numbered = false;
        self
    }

    /// Waits for the first frame, the client going away, or `quiet` (the
    /// keep-alive interval) passing with nothing to send.
    pub(crate) async fn first(&mut self, conn: &Conn, quiet: Option<Duration>) -> First {
        let frame = async { self.frames.recv().await.map_or(First::Closed, First::Frame) };
        let gone = async {
            conn.closed().await;
            First::Gone
        };
        let quiet = async {
            match quiet {
                Some(after) => {
                    async_io::Timer::after(after).await;
                    First::Quiet
                }
                None => std::future::pending().await,
            }
        };
        frame.or(gone).or(quiet).await
    }

    /// Encodes `frame` as the stream's next event into `out` (the first
    /// frame taken with [`EventStream::first`]).
    pub(crate) fn push_first(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        let mut event = Vec::with_capacity(frame.len().saturating_add(32));
        self.push_event(frame, &mut event);
        encode_chunk(out, &event);
    }

    /// True for a session's standalone (GET) stream.
    pub(crate) fn is_standalone(&self) -> bool {
        self.expected == 0
    }

    /// The priming event (MCP 2025-11-25): an event id with empty data, and
    /// the reconnection delay, so a client can resume even before the first
    /// message.
    pub(crate) fn prime(&self, out: &mut Vec<u8>) {
        let id = self.event_id(0);
        encode_event(out, None, Some(&id), b"");
        encode_retry(out, RETRY_MS);
    }

    /// Appends the events after `last_seq` that are still in the replay
    /// buffer (resumption after a broken connection).
    pub(crate) fn replay_after(&self, last_seq: u64, out: &mut Vec<u8>) {
        for (_, event) in self.replay.iter().filter(|(seq, _)| *seq > last_seq) {
            out.extend_from_slice(event);
        }
    }

    /// Writes events until the stream completes, the client goes away, or
    /// the outlet closes. `pending` (head, priming, replay) goes out with
    /// the first write. With `chunked`, every write is one HTTP chunk and a
    /// complete stream ends with the last chunk.
    pub(crate) async fn pump(
        &mut self,
        conn: &Conn,
        mut pending: Vec<u8>,
        chunked: bool,
        keep_alive: Option<Duration>,
    ) -> PumpEnd {
        enum Wake {
            Frame(Frame),
            Tick,
            Closed,
            Gone,
        }
        let mut events = Vec::with_capacity(4096);
        let mut out = Vec::with_capacity(4096);
        if self.is_complete() {
            return self.finish(conn, pending, chunked).await;
        }
        if !pending.is_empty() && conn.write(&pending).await.is_err() {
            return PumpEnd::Gone;
        }
        pending.clear();
        // Made once, not per event (see `stdio_sse`'s pump).
        let mut closed = pin!(conn.closed());
        let mut ticks = keep_alive_ticks(keep_alive);
        loop {
            let wake = async { self.frames.recv().await.map_or(Wake::Closed, Wake::Frame) }
                .or(async {
                    closed.as_mut().await;
                    Wake::Gone
                })
                .or(async {
                    ticks.next().await;
                    Wake::Tick
                })
                .await;
            events.clear();
            match wake {
                Wake::Gone => return PumpEnd::Gone,
                Wake::Closed => {
                    // The stream is over without its answers: end it cleanly.
                    let _ = self.finish(conn, Vec::new(), chunked).await;
                    return PumpEnd::Closed;
                }
                Wake::Tick => encode_comment(&mut events, "keepalive"),
                Wake::Frame(frame) => {
                    self.push_event(&frame, &mut events);
                    while events.len() < WRITE_BATCH_BYTES && !self.is_complete() {
                        let Some(frame) = self.frames.try_recv() else {
                            break;
                        };
                        self.push_event(&frame, &mut events);
                    }
                }
            }
            out.clear();
            if chunked {
                encode_chunk(&mut out, &events);
            } else {
                out.extend_from_slice(&events);
            }
            if self.is_complete() {
                return self.finish(conn, out, chunked).await;
            }
            if conn.write(&out).await.is_err() {
                return PumpEnd::Gone;
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.expected > 0 && self.answered >= self.expected
    }

    /// Writes `out` and, for a chunked stream, the last chunk.
    async fn finish(&self, conn: &Conn, mut out: Vec<u8>, chunked: bool) -> PumpEnd {
        if chunked {
            encode_last_chunk(&mut out);
        }
        match conn.write(&out).await {
            Ok(()) => PumpEnd::Complete,
            Err(_) => PumpEnd::Gone,
        }
    }

    fn push_event(&mut self, frame: &Frame, events: &mut Vec<u8>) {
        if frame.is_response {
            self.answered = self.answered.saturating_add(1);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let start = events.len();
        let id = self.numbered.then(|| self.event_id(seq));
        encode_event(events, Some(&SseField::MESSAGE), id.as_ref(), frame);
        if self.replay_limit > 0 {
            let event = events.get(start..).unwrap_or_default().to_vec();
            self.replay_bytes = self.replay_bytes.saturating_add(event.len());
            self.replay.push_back((seq, event));
            while self.replay.len() > self.replay_limit || self.replay_bytes > REPLAY_BYTES {
                let Some((_, old)) = self.replay.pop_front() else {
                    break;
                };
                self.replay_bytes = self.replay_bytes.saturating_sub(old.len());
            }
        }
    }

    fn event_id(&self, seq: u64) -> SseField {
        let mut key = [0; 20];
        let mut number = [0; 20];
        let mut id = String::with_capacity(24);
        id.push_str(std::str::from_utf8(write_u64(self.key, &mut key)).unwrap_or("0"));
        id.push('-');
        id.push_str(std::str::from_utf8(write_u64(seq, &mut number)).unwrap_or("0"));
        // Digits and a dash cannot hold a line break.
        SseField::new(&id).unwrap_or(SseField::MESSAGE)
    }
}

/// Parses a `Last-Event-ID` of ours: `<stream>-<seq>`.
pub(crate) fn parse_event_id(value: &str) -> Option<(SessionKey, u64)> {
    let (stream, seq) = value.trim().split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(stream) || !digits(seq) {
        return None;
    }
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse_event_id;

    #[test]
    fn event_ids() {
        assert_eq!(parse_event_id("12-0"), Some((12, 0)));
        assert_eq!(parse_event_id(" 3-45 "), Some((3, 45)));
        for bad in [
            "",
            "12",
            "-1",
            "1-",
            "a-1",
            "1-2-3",
            "1--2",
            "99999999999999999999999-1",
        ] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }
}
