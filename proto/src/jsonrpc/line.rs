//! Newline framing of the stdio transport (PROTOCOL.md 1.2.5: messages are
//! delimited by LF and contain no embedded newline).

/// What [`LineDecoder::decode`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// One line, without its LF and without a CR just before the LF. May be
    /// empty (a blank line); callers skip those.
    Complete(&'a [u8]),
    /// All input was consumed; a partial line (if any) is held.
    NeedMore,
    /// A line longer than the limit ended. Its bytes were discarded as they
    /// arrived; `len` is its length (bytes before the LF, saturating at
    /// `usize::MAX`). Reported once, when its LF arrives.
    Oversize {
        /// Length of the discarded line, CR included, LF excluded.
        len: usize,
    },
}

/// Splits a byte stream into LF-terminated lines of bounded length.
///
/// Feed it what was read; call `decode` again with the unconsumed rest until
/// it returns [`Line::NeedMore`]. Lines that lie whole inside `input` are
/// returned as slices of `input` (zero-copy); only a line split across reads
/// is buffered, and never beyond `max_line` bytes.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{Line, LineDecoder};
///
/// let mut decoder = LineDecoder::new(16);
/// let mut lines = Vec::new();
/// for chunk in [&b"{\"a\":1}\r\n{\"b\""[..], b":2}\n", b"0123456789abcdefXYZ\nok\n"] {
///     let mut rest = chunk;
///     loop {
///         let (consumed, line) = decoder.decode(rest);
///         match line {
///             Line::Complete(line) => lines.push(String::from_utf8_lossy(line).into_owned()),
///             Line::Oversize { len } => lines.push(format!("<{len} bytes dropped>")),
///             Line::NeedMore => break,
///         }
///         rest = &rest[consumed..];
///     }
/// }
/// assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}", "<19 bytes dropped>", "ok"]);
/// ```
#[derive(Clone, Debug)]
pub struct LineDecoder {
    state: State,
    /// The partial line carried over from earlier input. Invariant:
    /// `buf.len() ≤ max_line`; empty in [`State::Skip`].
    buf: Vec<u8>,
    /// Longest line accepted, counting every byte before the LF (a CR
    /// before the LF included).
    max_line: usize,
}

/// Where the decoder is in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Inside a line (possibly at its start); `buf` holds its bytes so far.
    Line,
    /// `buf` holds the line last returned by reference; clear it first.
    Returned,
    /// Inside a line that exceeded `max_line`: discard through its LF.
    Skip {
        /// Bytes of the line seen so far.
        len: usize,
    },
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes (CR included, LF
    /// excluded). Nothing is allocated until a line spans two inputs.
    pub fn new(max_line: usize) -> Self {
        Self {
            state: State::Line,
            buf: Vec::new(),
            max_line,
        }
    }

    /// Consumes `input` up to and including the next LF and returns the line
    /// it ends, or consumes all of it and returns [`Line::NeedMore`]. A line
    /// over `max_line` is never buffered past the limit: its bytes are
    /// dropped as they arrive and its LF yields [`Line::Oversize`].
    ///
    /// Returns `(consumed, line)`, `consumed ≤ input.len()`.
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> (usize, Line<'a>) {
        if self.state == State::Returned {
            self.release_buffer();
            self.state = State::Line;
        }
        let newline = input.iter().position(|&b| b == b'\n');
        let consumed = newline.map_or(input.len(), |at| at.saturating_add(1));
        let head = input
            .get(..newline.unwrap_or(input.len()))
            .unwrap_or_default();
        match (self.state, newline) {
            (State::Skip { len }, None) => {
                self.state = State::Skip {
                    len: len.saturating_add(head.len()),
                };
                (consumed, Line::NeedMore)
            }
            (State::Skip { len }, Some(_)) => {
                self.state = State::Line;
                (
                    consumed,
                    Line::Oversize {
                        len: len.saturating_add(head.len()),
                    },
                )
            }
            (_, newline) => {
                let len = self.buf.len().saturating_add(head.len());
                if len > self.max_line {
                    self.release_buffer();
                    if newline.is_some() {
                        return (consumed, Line::Oversize { len });
                    }
                    self.state = State::Skip { len };
                    return (consumed, Line::NeedMore);
                }
                if newline.is_none() {
                    self.buf.extend_from_slice(head);
                    return (consumed, Line::NeedMore);
                }
                let line = if self.buf.is_empty() {
                    head
                } else {
                    self.buf.extend_from_slice(head);
                    self.state = State::Returned;
                    &self.buf
                };
                (
                    consumed,
                    Line::Complete(line.strip_suffix(b"\r").unwrap_or(line)),
                )
            }
        }
    }

    /// Bytes of an unterminated line held (or, while discarding an oversize
    /// line, counted) so far. At end of input, a non-zero value means the
    /// stream ended in the middle of a line.
    pub fn pending(&self) -> usize {
        match self.state {
            State::Line => self.buf.len(),
            State::Returned => 0,
            State::Skip { len } => len,
        }
    }
}

impl LineDecoder {
    /// Empties the buffer, and gives its memory back when one long line
    /// grew it: a single 16 MiB message must not pin 16 MiB per child for
    /// the rest of the process.
    fn release_buffer(&mut self) {
        const KEEP: usize = 64 * 1024;
        if self.buf.capacity() > KEEP {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }
}
