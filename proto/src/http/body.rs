//! Message bodies: the resumable body decoder (Content-Length, chunked, and
//! for responses read-until-close) and the chunked encoder.

use super::error::HttpError;
use super::framing::{BodyFraming, ResponseFraming};
use super::limits::Limits;
use super::reader::Reader;

/// Decodes one message body, resumably and within a body limit.
///
/// Built from a request head's [`BodyFraming`] ([`BodyDecoder::new`]) or a
/// response head's [`ResponseFraming`] ([`BodyDecoder::for_response`]); feed
/// it the bytes that follow the head. It never consumes a byte past the end
/// of the body, so whatever is left is the next message. A chunked body's
/// framing is checked byte by byte, the same code for requests and
/// responses: at most 16 hex digits per size, no `+`/`0x`, no whitespace
/// after the size, CRLF (never a bare LF or CR) ending every line and every
/// chunk's data, extensions and trailers bounded and then ignored. When the
/// connection closes, call [`BodyDecoder::handle_eof`]: it ends a
/// read-until-close body and reports any other unfinished body as
/// [`HttpError::Truncated`].
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{BodyDecoder, BodyFraming, Limits};
///
/// let mut body = BodyDecoder::new(BodyFraming::Chunked, 1024, &Limits::DEFAULT)?;
/// let mut payload = Vec::with_capacity(body.prealloc_hint());
///
/// let progress = body.decode(b"5\r\nhello\r\n0\r", &mut payload)?;
/// assert_eq!((progress.consumed, progress.done), (12, false)); // need more
///
/// let progress = body.decode(b"\n\r\nGET / HTTP/1.1\r\n", &mut payload)?;
/// assert_eq!((progress.consumed, progress.done), (3, true)); // the next request is left alone
/// assert_eq!(payload, b"hello");
/// # Ok::<(), supergateway_proto::http::HttpError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    state: BodyState,
    /// The route's body limit in bytes.
    max_body: u64,
    /// Sum of the chunk sizes read so far, or the bytes of a read-until-close
    /// body. Invariant: `<= max_body`.
    declared: u64,
    /// Chunk-extension bytes so far. Invariant: `<= limits.chunk_ext_bytes`.
    ext_bytes: usize,
    /// Trailer-section bytes so far. Invariant: `<= limits.trailer_bytes`.
    trailer_bytes: usize,
    /// Trailer fields so far. Invariant: `<= limits.trailers`.
    trailers: usize,
    /// `min(content length, limits.prealloc_bytes)`, 0 for chunked.
    prealloc: usize,
    limits: Limits,
}

/// What a [`BodyDecoder::decode`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyProgress {
    /// Bytes of the input that were part of the body (never more than the
    /// input's length; never past the body's end).
    pub consumed: usize,
    /// Whether the whole body has now been read.
    pub done: bool,
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`, at most `max_body` payload
    /// bytes.
    ///
    /// A `Length(n)` with `n > max_body` is [`HttpError::BodyTooLarge`]
    /// right here, before any byte is read. A chunked body whose sizes add
    /// up to more than `max_body` fails with it as soon as the size line
    /// that crosses the limit has been read.
    pub fn new(framing: BodyFraming, max_body: u64, limits: &Limits) -> Result<Self, HttpError> {
        let (state, prealloc) = match framing {
            BodyFraming::None | BodyFraming::Length(0) => (BodyState::Done, 0),
            BodyFraming::Length(n) if n > max_body => return Err(HttpError::BodyTooLarge),
            BodyFraming::Length(n) => {
                // Never reserve on the sender's word alone (trillium caps at
                // 1 MiB too); grow as bytes arrive.
                let prealloc = usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .min(limits.prealloc_bytes);
                (BodyState::Length { remaining: n }, prealloc)
            }
            BodyFraming::Chunked => (
                BodyState::Size {
                    size: 0,
                    digits: 0,
                    line: 0,
                },
                0,
            ),
        };
        Ok(Self {
            state,
            max_body,
            declared: 0,
            ext_bytes: 0,
            trailer_bytes: 0,
            trailers: 0,
            prealloc,
            limits: *limits,
        })
    }

    /// A decoder for a response body framed as `framing` (from
    /// [`super::ResponseHead::body_framing`]), at most `max_body` payload
    /// bytes.
    ///
    /// `Chunked`, `Length` and `None` behave as in [`BodyDecoder::new`] (the
    /// same decoder: client and server frame bodies byte for byte alike).
    /// `UntilClose` takes every byte offered until
    /// [`BodyDecoder::handle_eof`]; more than `max_body` of them is
    /// [`HttpError::BodyTooLarge`] as soon as the byte past the limit
    /// arrives (the first `max_body` bytes have been appended by then).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::http::{BodyDecoder, HttpError, Limits, ResponseFraming};
    ///
    /// let mut body = BodyDecoder::for_response(ResponseFraming::UntilClose, 1024, &Limits::DEFAULT)?;
    /// let mut payload = Vec::new();
    /// assert!(!body.decode(b"hello", &mut payload)?.done);
    /// body.handle_eof()?; // the server closed the connection: the body is complete
    /// assert!(body.is_done());
    /// assert_eq!(payload, b"hello");
    ///
    /// let mut body = BodyDecoder::for_response(ResponseFraming::Length(10), 1024, &Limits::DEFAULT)?;
    /// body.decode(b"hello", &mut payload)?;
    /// assert_eq!(body.handle_eof(), Err(HttpError::Truncated)); // closed mid-body
    /// # Ok::<(), HttpError>(())
    /// ```
    pub fn for_response(
        framing: ResponseFraming,
        max_body: u64,
        limits: &Limits,
    ) -> Result<Self, HttpError> {
        match framing {
            ResponseFraming::Chunked => Self::new(BodyFraming::Chunked, max_body, limits),
            ResponseFraming::Length(n) => Self::new(BodyFraming::Length(n), max_body, limits),
            ResponseFraming::None => Self::new(BodyFraming::None, max_body, limits),
            ResponseFraming::UntilClose => {
                let mut decoder = Self::new(BodyFraming::None, max_body, limits)?;
                decoder.state = BodyState::UntilClose;
                Ok(decoder)
            }
        }
    }

    /// Tells the decoder that the connection has closed (read returned 0):
    /// no more bytes will come.
    ///
    /// `Ok(())` when the body is complete: it was already, or it is a
    /// read-until-close body, which EOF completes (`is_done` becomes
    /// `true`). Otherwise, a Content-Length or chunked body cut short, the
    /// decoder fails for good with [`HttpError::Truncated`] (RFC 9112 §8:
    /// an incomplete message must not be taken for a complete one). A
    /// decoder that had already failed returns its error again.
    pub fn handle_eof(&mut self) -> Result<(), HttpError> {
        match self.state {
            BodyState::Done => Ok(()),
            BodyState::UntilClose => {
                self.state = BodyState::Done;
                Ok(())
            }
            BodyState::Failed(e) => Err(e),
            _ => {
                self.state = BodyState::Failed(HttpError::Truncated);
                Err(HttpError::Truncated)
            }
        }
    }

    /// Decodes from `input`, appending payload bytes to `out`.
    ///
    /// `consumed <= input.len()`; `done` once the whole body (for chunked:
    /// last chunk, trailers, final line ending) has been consumed. Bytes
    /// after the body are never consumed. After an error the decoder is
    /// failed for good and returns the same error again.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<BodyProgress, HttpError> {
        if let BodyState::Failed(e) = self.state {
            return Err(e);
        }
        let mut reader = Reader::new(input);
        while !reader.is_empty() && self.state != BodyState::Done {
            if let Err(e) = self.step(&mut reader, out) {
                self.state = BodyState::Failed(e);
                return Err(e);
            }
        }
        Ok(BodyProgress {
            consumed: reader.used(),
            done: self.is_done(),
        })
    }

    /// Whether the whole body has been read.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// How much capacity to reserve in `out` up front:
    /// `min(content length, limits.prealloc_bytes)`, 0 for chunked.
    #[must_use]
    pub const fn prealloc_hint(&self) -> usize {
        self.prealloc
    }

    /// Consumes a run of data or one framing byte.
    fn step(&mut self, reader: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), HttpError> {
        self.state = match self.state {
            BodyState::Length { remaining } => {
                let remaining = take_data(reader, remaining, out)?;
                if remaining == 0 {
                    BodyState::Done
                } else {
                    BodyState::Length { remaining }
                }
            }
            BodyState::UntilClose => {
                // Every byte is payload; the body limit is exact, so split
                // reads give the same payload and error as one read.
                let room = self.max_body.saturating_sub(self.declared);
                let data = reader.take(usize::try_from(room).unwrap_or(usize::MAX));
                out.extend_from_slice(data);
                let taken = u64::try_from(data.len())
                    .map_err(|_| HttpError::Internal("read longer than u64"))?;
                self.declared = self.declared.saturating_add(taken);
                if !reader.is_empty() {
                    return Err(HttpError::BodyTooLarge);
                }
                BodyState::UntilClose
            }
            BodyState::Data { remaining } => {
                let remaining = take_data(reader, remaining, out)?;
                if remaining == 0 {
                    BodyState::DataEnd
                } else {
                    BodyState::Data { remaining }
                }
            }
            state => match reader.next() {
                Some(b) => self.handle_framing_byte(state, b)?,
                None => state,
            },
        };
        Ok(())
    }

    /// The chunked grammar of RFC 9112 §7.1, one byte at a time:
    ///
    /// ```text
    /// chunked-body = *chunk last-chunk trailer-section CRLF
    /// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
    /// chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
    /// ```
    ///
    /// Line endings follow the head's rule (see `head::Scan`): CRLF only. A
    /// bare LF after the size, the data or a trailer line, or whitespace
    /// after the size, is where lenient parsers (httparse, older hyper,
    /// llhttp before 9.1) and strict ones disagree about where a chunk ends,
    /// the start of most published smuggling chains: 400 and close.
    fn handle_framing_byte(&mut self, state: BodyState, b: u8) -> Result<BodyState, HttpError> {
        const BAD_SIZE: HttpError = HttpError::BadRequest("invalid chunk size");
        let next = match state {
            BodyState::Size { size, digits, line } => {
                let line = self.count_line(line, b)?;
                match char::from(b).to_digit(16) {
                    // RFC 9112 §7.1 `chunk-size = 1*HEXDIG`, at most 16
                    // digits counting leading zeros, checked arithmetic
                    // (RUSTSEC-2021-0079: `f0000000000000003` overflowed).
                    // `+` and `0x` are not hex digits (CVE-2023-38697).
                    Some(digit) => {
                        if digits >= 16 {
                            return Err(HttpError::BadRequest(
                                "chunk size longer than 16 hex digits",
                            ));
                        }
                        let size = size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(digit)))
                            .ok_or(BAD_SIZE)?;
                        BodyState::Size {
                            size,
                            digits: digits.saturating_add(1),
                            line,
                        }
                    }
                    None if digits == 0 => return Err(BAD_SIZE),
                    None => self.after_size(size, line, b)?,
                }
            }
            BodyState::Ext { size, line } => {
                let line = self.count_line(line, b)?;
                match b {
                    b'\r' => BodyState::SizeLf { size },
                    // An extension ends only at CRLF (httparse
                    // `parse_chunk_size` skips any byte in an extension,
                    // CVE-2023-38697).
                    b'\n' => return Err(HttpError::BadRequest("LF in chunk extension")),
                    // RFC 9112 §7.1.1: token / quoted-string; we ignore the
                    // content but reject NUL and other controls.
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {
                        self.count_ext()?;
                        BodyState::Ext { size, line }
                    }
                    _ => {
                        return Err(HttpError::BadRequest(
                            "control character in chunk extension",
                        ))
                    }
                }
            }
            BodyState::SizeLf { size } => match b {
                b'\n' => self.end_size_line(size)?,
                _ => return Err(HttpError::BadRequest("bare CR in chunk-size line")),
            },
            // RFC 9112 §7.1: the CRLF after chunk-data is mandatory.
            BodyState::DataEnd => match b {
                b'\r' => BodyState::DataLf,
                b'\n' => return Err(HttpError::BadRequest("bare LF after chunk data")),
                _ => return Err(HttpError::BadRequest("chunk data not followed by CRLF")),
            },
            BodyState::DataLf => match b {
                b'\n' => BodyState::Size {
                    size: 0,
                    digits: 0,
                    line: 0,
                },
                _ => return Err(HttpError::BadRequest("chunk data not followed by CRLF")),
            },
            // RFC 9112 §7.1.2: trailer fields are field lines, bounded here
            // and then discarded (never merged into the head).
            trailer @ (BodyState::TrailerStart
            | BodyState::TrailerName
            | BodyState::TrailerValue
            | BodyState::TrailerLf
            | BodyState::EndLf) => {
                self.trailer_bytes = self.trailer_bytes.saturating_add(1);
                if self.trailer_bytes > self.limits.trailer_bytes {
                    return Err(HttpError::TrailersTooLarge);
                }
                handle_trailer_byte(trailer, b, &mut self.trailers, self.limits.trailers)?
            }
            BodyState::Length { .. }
            | BodyState::Data { .. }
            | BodyState::UntilClose
            | BodyState::Done
            | BodyState::Failed(_) => {
                return Err(HttpError::Internal("framing byte in a data state"))
            }
        };
        Ok(next)
    }

    /// After the size digits: `;` or CR.
    fn after_size(&mut self, size: u64, line: usize, b: u8) -> Result<BodyState, HttpError> {
        Ok(match b {
            // RFC 9112 §7.1.1 would allow BWS before `;`, but no sender
            // needs it and parsers disagree on trailing whitespace (hyper
            // tolerates it, llhttp rejects it): one byte either way decides
            // where the size ends, so refuse it with or without an extension.
            b' ' | b'\t' => return Err(HttpError::BadRequest("whitespace after chunk size")),
            b';' => {
                self.count_ext()?;
                BodyState::Ext { size, line }
            }
            b'\r' => BodyState::SizeLf { size },
            b'\n' => return Err(HttpError::BadRequest("bare LF after chunk size")),
            _ => return Err(HttpError::BadRequest("invalid chunk size")),
        })
    }

    /// A complete chunk-size line: a last chunk or chunk data follows.
    fn end_size_line(&mut self, size: u64) -> Result<BodyState, HttpError> {
        if size == 0 {
            return Ok(BodyState::TrailerStart);
        }
        // The body limit covers chunked bodies too (STYLE.md pitfalls).
        match self.declared.checked_add(size) {
            Some(total) if total <= self.max_body => self.declared = total,
            _ => return Err(HttpError::BodyTooLarge),
        }
        Ok(BodyState::Data { remaining: size })
    }

    /// Counts byte `b` of a chunk-size line against the line limit (the
    /// line ending does not count).
    fn count_line(&self, line: usize, b: u8) -> Result<usize, HttpError> {
        if b == b'\r' || b == b'\n' {
            return Ok(line);
        }
        let line = line.saturating_add(1);
        if line > self.limits.chunk_size_line {
            return Err(HttpError::BadRequest("chunk-size line too long"));
        }
        Ok(line)
    }

    /// Counts one more chunk-extension byte against the per-body limit.
    fn count_ext(&mut self) -> Result<(), HttpError> {
        self.ext_bytes = self.ext_bytes.saturating_add(1);
        if self.ext_bytes > self.limits.chunk_ext_bytes {
            return Err(HttpError::BadRequest("chunk extensions too large"));
        }
        Ok(())
    }
}

/// Appends `data` as one chunk: hex size, CRLF, data, CRLF
/// (RFC 9112 §7.1). Does nothing for empty `data`, since an empty chunk
/// would end the body.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{encode_chunk, encode_last_chunk};
///
/// let mut out = Vec::new();
/// encode_chunk(&mut out, b"0123456789abcdefXY");
/// encode_chunk(&mut out, b"");
/// encode_last_chunk(&mut out);
/// assert_eq!(out, b"12\r\n0123456789abcdefXY\r\n0\r\n\r\n");
/// ```
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    push_hex(out, data.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and an empty trailer section, `0\r\n\r\n`,
/// which ends a chunked body.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

/// Where the body decoder is, named for what comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyState {
    /// Content-Length body: `remaining` payload bytes to go (> 0).
    Length { remaining: u64 },
    /// Chunk-size hex digits (`digits` so far, `size` their value); the line
    /// is `line` bytes long so far.
    Size { size: u64, digits: u8, line: usize },
    /// Inside chunk extensions, up to CRLF.
    Ext { size: u64, line: usize },
    /// A CR ended the size line: LF must follow.
    SizeLf { size: u64 },
    /// Chunk data: `remaining` bytes to go (> 0).
    Data { remaining: u64 },
    /// After chunk data: CR.
    DataEnd,
    /// After chunk data and CR: LF.
    DataLf,
    /// The start of a trailer field line, or the empty line ending the body.
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value.
    TrailerValue,
    /// A CR ended a trailer line: LF must follow.
    TrailerLf,
    /// A CR started the final empty line: LF must follow.
    EndLf,
    /// A response body that ends when the connection closes: every byte is
    /// payload until `handle_eof`.
    UntilClose,
    /// The whole body has been read.
    Done,
    /// Terminal: this error is returned again.
    Failed(HttpError),
}

/// Takes up to `remaining` payload bytes; returns how many are still to come.
fn take_data(reader: &mut Reader<'_>, remaining: u64, out: &mut Vec<u8>) -> Result<u64, HttpError> {
    let data = reader.take(usize::try_from(remaining).unwrap_or(usize::MAX));
    out.extend_from_slice(data);
    u64::try_from(data.len())
        .ok()
        .and_then(|n| remaining.checked_sub(n))
        .ok_or(HttpError::Internal("took more data than remained"))
}

/// One byte of the trailer section (RFC 9112 §7.1.2, field lines as in
/// RFC 9112 §5: `field-name ":" OWS field-value OWS`, no obs-fold).
fn handle_trailer_byte(
    state: BodyState,
    b: u8,
    trailers: &mut usize,
    max_trailers: usize,
) -> Result<BodyState, HttpError> {
    const BAD_TRAILER: HttpError = HttpError::BadRequest("invalid trailer field");
    const BARE_CR: HttpError = HttpError::BadRequest("bare CR in chunked body");
    const BARE_LF: HttpError = HttpError::BadRequest("bare LF in chunked body");
    Ok(match (state, b) {
        (BodyState::TrailerStart, b'\r') => BodyState::EndLf,
        (BodyState::EndLf, b'\n') => BodyState::Done,
        (BodyState::TrailerStart | BodyState::TrailerValue, b'\n') => return Err(BARE_LF),
        (BodyState::TrailerStart, b) if is_tchar(b) => {
            *trailers = trailers.saturating_add(1);
            if *trailers > max_trailers {
                return Err(HttpError::TrailersTooLarge);
            }
            BodyState::TrailerName
        }
        (BodyState::TrailerName, b) if is_tchar(b) => BodyState::TrailerName,
        (BodyState::TrailerName, b':') => BodyState::TrailerValue,
        (BodyState::TrailerValue, b'\r') => BodyState::TrailerLf,
        (BodyState::TrailerLf, b'\n') => BodyState::TrailerStart,
        // RFC 9110 §5.5 field-value: VCHAR, obs-text, SP, HTAB.
        (BodyState::TrailerValue, b'\t' | b' '..=b'~' | 0x80..=0xff) => BodyState::TrailerValue,
        (BodyState::TrailerLf | BodyState::EndLf, _) => return Err(BARE_CR),
        // Includes obs-fold (a line starting with SP/HTAB, RFC 9112 §5.2),
        // an empty name, and controls in a value.
        _ => return Err(BAD_TRAILER),
    })
}

/// RFC 9110 §5.6.2 `tchar`.
pub(super) const fn is_tchar(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    ) || b.is_ascii_alphanumeric()
}

/// Appends `n` in lowercase hex without leading zeros ("0" for 0).
fn push_hex(out: &mut Vec<u8>, n: usize) {
    if n >= 16 {
        push_hex(out, n >> 4);
    }
    out.push(ascii_digit(n & 0xf));
}

/// Appends `n` in decimal.
pub(super) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(ascii_digit(usize::try_from(n % 10).unwrap_or(0)));
}

/// The ASCII digit for `d < 16` (lowercase).
const fn ascii_digit(d: usize) -> u8 {
    match d {
        0 => b'0',
        1 => b'1',
        2 => b'2',
        3 => b'3',
        4 => b'4',
        5 => b'5',
        6 => b'6',
        7 => b'7',
        8 => b'8',
        9 => b'9',
        10 => b'a',
        11 => b'b',
        12 => b'c',
        13 => b'd',
        14 => b'e',
        _ => b'f',
    }
}
