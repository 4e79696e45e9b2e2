//! How long a request body is: decided once per head, with the smuggling
//! rules of STYLE.md ("Known pitfalls").

use super::error::HttpError;
use super::request::Version;

/// How the body of a message is delimited (RFC 9112 §6.3).
///
/// A request body is never delimited by closing the connection: without
/// Content-Length or Transfer-Encoding it is empty (RFC 9112 §6.3 rule 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes follow the head (Content-Length).
    Length(u64),
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1).
    Chunked,
}

/// A validated Content-Length value (STYLE.md item 9).
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::{ContentLength, HttpError};
///
/// assert_eq!(ContentLength::parse(b"42").map(ContentLength::get), Ok(42));
/// assert!(matches!(ContentLength::parse(b"+42"), Err(HttpError::BadRequest(_))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContentLength(u64);

impl ContentLength {
    /// Parses a Content-Length field value: one or more ASCII digits whose
    /// value fits in a `u64`, and nothing else.
    ///
    /// This is the strict parser of RFC 9110 §8.6 (`1*DIGIT`), never
    /// `str::parse`, which would accept `+5` (RUSTSEC-2021-0078,
    /// CVE-2021-32715). Signs, `0x`, whitespace (the caller has already
    /// trimmed the OWS around the field value), commas and empty values are
    /// all rejected. Leading zeros are allowed, as the grammar allows them.
    pub fn parse(value: &[u8]) -> Result<Self, HttpError> {
        if value.is_empty() {
            return Err(HttpError::BadRequest("empty Content-Length"));
        }
        let mut n: u64 = 0;
        for &b in value {
            // `to_digit(10)` is `Some` exactly for b'0'..=b'9'.
            let Some(digit) = char::from(b).to_digit(10) else {
                return Err(HttpError::BadRequest("Content-Length is not all digits"));
            };
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(digit)))
                .ok_or(HttpError::BadRequest(
                    "Content-Length does not fit in 64 bits",
                ))?;
        }
        Ok(Self(n))
    }

    /// The length in bytes.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Decides the framing of a request body from its version and header
/// fields (all of them, in order, values OWS-trimmed).
///
/// The one framing function of the request path (STYLE.md item 10). The
/// order of the checks fixes which error wins when several rules fail.
pub(super) fn request_framing<'h>(
    version: Version,
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
) -> Result<BodyFraming, HttpError> {
    let mut content_length: Option<&[u8]> = None;
    let mut content_lengths = 0_usize;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut transfer_encodings = 0_usize;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            content_length = content_length.or(Some(value));
            content_lengths = content_lengths.saturating_add(1);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = transfer_encoding.or(Some(value));
            transfer_encodings = transfer_encodings.saturating_add(1);
        }
    }

    if let Some(coding) = transfer_encoding {
        // RFC 9112 §6.1: a Transfer-Encoding in an HTTP/1.0 message means the
        // framing is faulty, even with a Content-Length
        // (RUSTSEC-2026-0034 pingora): 400.
        if version == Version::Http10 {
            return Err(HttpError::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        // Several Transfer-Encoding lines are a list we would have to join;
        // peers disagree on how (RUSTSEC-2021-0020 hyper, RUSTSEC-2020-0031
        // tiny_http TE:TE): 400.
        if transfer_encodings > 1 {
            return Err(HttpError::BadRequest(
                "more than one Transfer-Encoding header",
            ));
        }
        // RFC 9112 §6.3 rule 3: CL and TE together is a smuggling attempt
        // (CL.TE / TE.CL); a gateway rejects it rather than pick one: 400.
        if content_length.is_some() {
            return Err(HttpError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        // RFC 9112 §6.1: `Transfer-Encoding = #transfer-coding` needs at
        // least one coding.
        if coding.is_empty() {
            return Err(HttpError::BadRequest("empty Transfer-Encoding"));
        }
        // Exactly `chunked` (case-insensitive, RFC 9112 §7). Anything else,
        // including `gzip, chunked` or `chunked, chunked`, is a coding we do
        // not implement: 501 (RFC 9112 §6.1 "SHOULD respond with 501").
        if coding.eq_ignore_ascii_case(b"chunked") {
            return Ok(BodyFraming::Chunked);
        }
        return Err(HttpError::NotImplemented(
            "transfer coding other than chunked",
        ));
    }

    if let Some(value) = content_length {
        // RFC 9112 §6.3 rule 5 / RFC 9110 §8.6: duplicates are rejected even
        // when identical (stricter than hyper; RUSTSEC-2021-0078).
        if content_lengths > 1 {
            return Err(HttpError::BadRequest("more than one Content-Length header"));
        }
        return ContentLength::parse(value).map(|n| BodyFraming::Length(n.get()));
    }

    // RFC 9112 §6.3 rule 7: a request without either has no body.
    Ok(BodyFraming::None)
}
