//! Incremental `text/event-stream` parser following WHATWG HTML §9.2.6
//! "Event stream interpretation" (section numbers below refer to it).

use std::mem;

use super::SseError;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type: the last `event` field of the event, `"message"` if
    /// there was none (or it was empty).
    pub event: String,
    /// The `data` lines joined with LF (the final LF removed).
    pub data: String,
    /// The last event id at dispatch (it persists across events), `""` if
    /// none was ever set or it was reset by an empty `id`.
    pub id: String,
}

/// Incremental event-stream parser.
///
/// Follows the WHATWG rules: one UTF-8 BOM skipped at the start of the
/// stream; CR, LF and CRLF all end a line, also when the CR and the LF
/// arrive in different inputs; `data` lines joined with LF; `event`
/// defaulting to `message`; an `id` containing NUL ignored and the last
/// event id persisting across events; `retry` accepted only as ASCII digits
/// (and fitting in a `u64`); comments and unknown fields ignored; a line
/// without a colon is a field name with an empty value; one space after the
/// colon removed. A blank line dispatches the event unless no `data` line was
/// seen (its `id` still becomes the last event id). Invalid UTF-8 becomes
/// U+FFFD, as with the spec's UTF-8 decode. End of input never dispatches:
/// an event cut off before its blank line is lost, as the spec requires.
///
/// Bounded: a line longer than `max_event_bytes` (line end excluded) or an
/// event whose data (with one LF per `data` line, after U+FFFD replacement)
/// exceeds `max_event_bytes` is [`SseError::EventTooLarge`], after which the
/// parser is failed for good and every call returns [`SseError::Failed`].
///
/// # Examples
///
/// ```
/// use supergateway_proto::sse::{SseEvent, SseParser};
///
/// let mut parser = SseParser::new(1 << 20);
/// let mut events = Vec::new();
/// for chunk in [&b"event: endpoint\r\ndata: /message?sessionId=1\r"[..], b"\n\r\n: ping\nid: 7\ndata: {}\n\n"] {
///     let mut rest = chunk;
///     while let (consumed, Some(event)) = parser.decode(rest)? {
///         events.push(event);
///         rest = &rest[consumed..];
///     }
/// }
/// assert_eq!(events, [
///     SseEvent { event: "endpoint".into(), data: "/message?sessionId=1".into(), id: "".into() },
///     SseEvent { event: "message".into(), data: "{}".into(), id: "7".into() },
/// ]);
/// assert_eq!(parser.last_event_id(), "7");
/// # Ok::<(), supergateway_proto::sse::SseError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SseParser {
    state: State,
    /// The start of a line that spans inputs. Invariant: `line.len() ≤ max`.
    line: Vec<u8>,
    fields: Fields,
    /// Limit on one line and on one event's data buffer, in bytes.
    max: usize,
}

/// What comes next in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The start of the stream: `matched` bytes of a UTF-8 BOM seen so far.
    Bom { matched: usize },
    /// Line content (the current line's start is in `line`).
    Line,
    /// A CR just ended a line at the end of an input: skip an LF if it
    /// comes first (CRLF is one line end).
    LineFeed,
    /// An error was returned; nothing more is parsed.
    Failed,
}

/// The buffers of §9.2.6.
#[derive(Clone, Debug, Default)]
struct Fields {
    /// The data buffer: each `data` value followed by LF. Invariant:
    /// `data.len() ≤ max`.
    data: String,
    /// The event type buffer.
    event: String,
    /// The last event ID buffer, set by `id` fields.
    id_buffer: String,
    /// The last event ID string, copied from `id_buffer` at each blank line.
    last_id: String,
    /// The latest valid `retry`, in milliseconds.
    retry: Option<u64>,
}

/// The UTF-8 byte order mark, removed from the start of the stream by the
/// UTF-8 decode step.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

impl SseParser {
    /// A parser whose lines and event data are limited to `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            state: State::Bom { matched: 0 },
            line: Vec::new(),
            fields: Fields::default(),
            max: max_event_bytes,
        }
    }

    /// Consumes `input` up to and including the line end that dispatches the
    /// next event and returns `(consumed, Some(event))`; or consumes all of
    /// it and returns `(input.len(), None)` when it ends first (a partial
    /// line or event is kept for the next call). Call again with the rest
    /// after an event.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when a line or an event's data exceeds
    /// the limit; [`SseError::Failed`] on every call after an error.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<SseEvent>), SseError> {
        let mut pos: usize = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.state {
                State::Failed => return Err(SseError::Failed),
                State::Bom { matched } => {
                    let Some(&byte) = rest.first() else {
                        return Ok((pos, None));
                    };
                    if BOM.get(matched) == Some(&byte) {
                        pos = pos.saturating_add(1);
                        let matched = matched.saturating_add(1);
                        self.state = if matched == BOM.len() {
                            State::Line
                        } else {
                            State::Bom { matched }
                        };
                    } else {
                        // Not a BOM after all: the bytes matched so far are
                        // line content (they decode to U+FFFD).
                        self.state = State::Line;
                        self.push_line(BOM.get(..matched).unwrap_or_default())?;
                    }
                }
                State::LineFeed => {
                    let Some(&byte) = rest.first() else {
                        return Ok((pos, None));
                    };
                    if byte == b'\n' {
                        pos = pos.saturating_add(1);
                    }
                    self.state = State::Line;
                }
                State::Line => {
                    let Some(at) = rest.iter().position(|&b| b == b'\r' || b == b'\n') else {
                        self.push_line(rest)?;
                        return Ok((input.len(), None));
                    };
                    let (content, end) = rest.split_at(at);
                    // §9.2.6: a line ends at CRLF, a lone LF or a lone CR.
                    let (end_len, next) = match end {
                        [b'\r', b'\n', ..] => (2, State::Line),
                        [b'\r'] => (1, State::LineFeed),
                        _ => (1, State::Line),
                    };
                    let event = self.end_line(content)?;
                    self.state = next;
                    pos = pos.saturating_add(at).saturating_add(end_len);
                    if event.is_some() {
                        return Ok((pos, event));
                    }
                }
            }
        }
    }

    /// The last event id: the `id` in force at the latest blank line
    /// (whether or not that blank line dispatched an event); `""` if none.
    pub fn last_event_id(&self) -> &str {
        &self.fields.last_id
    }

    /// The latest valid `retry` value, in milliseconds. A `retry` that is
    /// not all ASCII digits, or does not fit a `u64`, is ignored (the
    /// previous value stays), as the SSE specification says.
    pub fn retry_ms(&self) -> Option<u64> {
        self.fields.retry
    }

    /// Appends part of a line to `line`, enforcing the line limit before
    /// buffering anything past it.
    fn push_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self
            .line
            .len()
            .checked_add(bytes.len())
            .is_none_or(|len| len > self.max)
        {
            return Err(self.fail());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Processes the line made of `line` and `content` (zero-copy when
    /// nothing was buffered).
    fn end_line(&mut self, content: &[u8]) -> Result<Option<SseEvent>, SseError> {
        let handled = if self.line.is_empty() {
            if content.len() > self.max {
                return Err(self.fail());
            }
            self.fields.handle_line(content, self.max)
        } else {
            self.push_line(content)?;
            let handled = self.fields.handle_line(&self.line, self.max);
            self.line.clear();
            handled
        };
        if handled.is_err() {
            self.fail();
        }
        handled
    }

    /// Enters the terminal failed state, releasing the buffers.
    fn fail(&mut self) -> SseError {
        self.state = State::Failed;
        self.line = Vec::new();
        self.fields.data = String::new();
        self.fields.event = String::new();
        SseError::EventTooLarge
    }
}

impl Fields {
    /// §9.2.6 "process the field" for one complete line.
    fn handle_line(&mut self, line: &[u8], max: usize) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            // A line starting with a colon is a comment.
            Some(0) => return Ok(None),
            Some(at) => {
                let (name, value) = line.split_at(at);
                let value = value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            // No colon: the whole line is the field name, the value empty.
            None => (line, &b""[..]),
        };
        match name {
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            b"data" => {
                let value = String::from_utf8_lossy(value);
                let len = self
                    .data
                    .len()
                    .checked_add(value.len())
                    .and_then(|len| len.checked_add(1));
                if len.is_none_or(|len| len > max) {
                    return Err(SseError::EventTooLarge);
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            // An id containing NUL is ignored (it could not be sent back in
            // a Last-Event-ID header).
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&String::from_utf8_lossy(value));
            }
            b"retry" => {
                if let Some(ms) = parse_digits(value) {
                    self.retry = Some(ms);
                }
            }
            // Unknown fields are ignored.
            _ => {}
        }
        Ok(None)
    }

    /// §9.2.6 "dispatch the event", run at a blank line.
    fn dispatch(&mut self) -> Option<SseEvent> {
        if self.last_id != self.id_buffer {
            self.last_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event.clear();
            return None;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event = if self.event.is_empty() {
            String::from("message")
        } else {
            mem::take(&mut self.event)
        };
        Some(SseEvent {
            event,
            data: mem::take(&mut self.data),
            id: self.last_id.clone(),
        })
    }
}

/// A non-empty run of ASCII digits that fits in a `u64`, else `None` (the
/// field is then ignored).
fn parse_digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = b
            .is_ascii_digit()
            .then(|| u64::from(b.wrapping_sub(b'0')))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}
