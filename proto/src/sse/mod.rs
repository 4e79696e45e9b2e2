//! Server-sent events (WHATWG HTML §9.2 "Server-sent events"): an encoder for
//! the events the gateway sends and an incremental parser for the streams it
//! reads as a client.
//!
//! Injection and parsing vectors, and the tests that pin them (in
//! `sse/tests.rs`):
//!
//! | vector | rule | test |
//! | --- | --- | --- |
//! | a CR, LF or CRLF in data starting a new field (RUSTSEC-2024-0009 class) | data split on all three, one `data:` line per piece | `encode_table` |
//! | CR/LF/NUL in `event`/`id` | rejected when building an [`SseField`] | `field_rejects_line_breaks_and_nul` |
//! | CR at the end of one read and LF at the start of the next read as two line ends | one line end | `parser_table` (`CR+LF split`), `split_at_every_byte` |
//! | unbounded line or event | [`SseError::EventTooLarge`], then a terminal failed state | `parser_table` (`too large`) |
//! | `retry` with non-digits | ignored | `parser_table` (`retry`) |

mod encode;
mod parse;

use std::borrow::Cow;
use std::fmt;

pub use encode::{encode_comment, encode_event, encode_retry};
pub use parse::{SseEvent, SseParser};

/// A validated value for the `event:` or `id:` field of an event: contains
/// no CR, LF or NUL, so it can neither start a new field nor be ignored by a
/// client (WHATWG: an `id` containing NUL is dropped).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SseField(Cow<'static, str>);

impl SseField {
    /// The event name of JSON-RPC messages on a 2024-11-05 SSE stream.
    pub const MESSAGE: Self = Self(Cow::Borrowed("message"));
    /// The event name announcing the POST URI on a 2024-11-05 SSE stream.
    pub const ENDPOINT: Self = Self(Cow::Borrowed("endpoint"));

    /// Validates `s`: `Err(SseError::InvalidField)` if it contains CR, LF or
    /// NUL.
    ///
    /// ```
    /// use supergateway_proto::sse::SseField;
    /// assert_eq!(SseField::new("s1-42").unwrap().as_str(), "s1-42");
    /// assert!(SseField::new("a\nid: 1").is_err());
    /// ```
    pub fn new(s: &str) -> Result<Self, SseError> {
        match s.bytes().find(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
            Some(b'\0') => Err(SseError::InvalidField("NUL in an SSE field")),
            Some(_) => Err(SseError::InvalidField("line break in an SSE field")),
            None => Ok(Self(Cow::Owned(s.to_owned()))),
        }
    }

    /// The field value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the SSE encoder or parser refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseError {
    /// One line, or the data of one event, exceeded the parser's maximum.
    EventTooLarge,
    /// The parser already failed; it yields nothing more.
    Failed,
    /// A field value contained a forbidden byte; the reason.
    InvalidField(&'static str),
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EventTooLarge => f.write_str("SSE line or event too large"),
            Self::Failed => f.write_str("SSE stream already failed"),
            Self::InvalidField(why) => write!(f, "invalid SSE field: {why}"),
        }
    }
}

impl std::error::Error for SseError {}

#[cfg(test)]
mod tests;
