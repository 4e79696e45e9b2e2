//! How long a message body is: decided once per head, with the smuggling
//! rules of STYLE.md ("Known pitfalls"), shared by the server's request path
//! and the client's response path (STYLE.md item 10).

use super::error::HttpError;
use super::head::Peer;
use super::request::{trim_ows, Method, Version};

/// How the body of a request is delimited (RFC 9112 §6.3); responses have
/// [`ResponseFraming`].
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

/// How the body of a response is delimited (RFC 9112 §6.3), for the
/// client reading it; from [`super::ResponseHead::body_framing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// `Transfer-Encoding: chunked` (RFC 9112 §7.1).
    Chunked,
    /// Exactly this many bytes follow the head (Content-Length).
    Length(u64),
    /// No body: a response to HEAD, a 1xx, 204 or 304 (RFC 9112 §6.3
    /// rule 1).
    None,
    /// The body ends when the server closes the connection (RFC 9112 §6.3
    /// rules 4 and 8): no Content-Length, or a transfer coding that does not
    /// end in `chunked`. The connection cannot carry another request.
    UntilClose,
}

/// Decides the framing of a request body from its version and header
/// fields (all of them, in order, values OWS-trimmed).
///
/// The framing function of the request path (STYLE.md item 10); the checks
/// it shares with [`response_framing`] live in [`declared_framing`]. The
/// order of the checks fixes which error wins when several rules fail.
pub(super) fn request_framing<'h>(
    version: Version,
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
) -> Result<BodyFraming, HttpError> {
    match declared_framing(Peer::Request, version, headers)? {
        Declared::Chunked => Ok(BodyFraming::Chunked),
        Declared::Length(n) => Ok(BodyFraming::Length(n)),
        // RFC 9112 §6.3 rule 7: a request without either has no body.
        Declared::Nothing => Ok(BodyFraming::None),
        // Exactly `chunked` (case-insensitive, RFC 9112 §7). Anything else,
        // including `gzip, chunked` or `chunked, chunked`, is a coding we do
        // not implement: 501 (RFC 9112 §6.1 "SHOULD respond with 501"). A
        // request body is never delimited by closing the connection.
        Declared::OtherCoding { .. } => Err(HttpError::NotImplemented(
            "transfer coding other than chunked",
        )),
    }
}

/// Decides the framing of a response body from its status, its version,
/// its header fields (all of them, in order, values OWS-trimmed) and the
/// method of the request it answers.
///
/// The framing function of the client's response path (STYLE.md item 10).
/// The header rules are the request path's, through [`declared_framing`]:
/// one Content-Length of digits only, never with Transfer-Encoding, one
/// Transfer-Encoding line, none on HTTP/1.0. They are checked even when the
/// status says there is no body, so a response the server path would refuse
/// is refused here too.
pub(super) fn response_framing<'h>(
    method: Method,
    status: u16,
    version: Version,
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
) -> Result<ResponseFraming, HttpError> {
    let declared = declared_framing(Peer::Response, version, headers)?;
    // RFC 9112 §6.3 rule 1: a response to HEAD, any 1xx, 204 and 304 end
    // with the head whatever their header fields say. (Rule 2, a 2xx to
    // CONNECT, cannot happen: we never send CONNECT.)
    if method == Method::Head || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(ResponseFraming::None);
    }
    match declared {
        Declared::Chunked => Ok(ResponseFraming::Chunked),
        Declared::Length(n) => Ok(ResponseFraming::Length(n)),
        // RFC 9112 §6.3 rule 8: neither header, read until the server closes.
        Declared::Nothing => Ok(ResponseFraming::UntilClose),
        // RFC 9112 §6.3 rule 4: when `chunked` is not the final coding the
        // body ends at close. When it is (`gzip, chunked`), the body is
        // chunked-framed in a coding we cannot undo; reading it to close
        // would hand the chunk framing over as payload, so refuse.
        Declared::OtherCoding {
            chunked_last: false,
        } => Ok(ResponseFraming::UntilClose),
        Declared::OtherCoding { chunked_last: true } => Err(HttpError::NotImplemented(
            "transfer coding other than chunked",
        )),
    }
}

/// What the framing header fields of a message say, once the rules shared
/// by requests and responses have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Declared {
    /// `Transfer-Encoding: chunked`, exactly.
    Chunked,
    /// One valid Content-Length.
    Length(u64),
    /// Neither header.
    Nothing,
    /// A Transfer-Encoding other than exactly `chunked`; `chunked_last` when
    /// its final coding is `chunked` (as in `gzip, chunked`).
    OtherCoding { chunked_last: bool },
}

/// The smuggling rules of STYLE.md ("Known pitfalls") on the framing header
/// fields, shared by [`request_framing`] and [`response_framing`].
fn declared_framing<'h>(
    peer: Peer,
    version: Version,
    headers: impl Iterator<Item = (&'h str, &'h [u8])>,
) -> Result<Declared, HttpError> {
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
            return Err(HttpError::BadRequest(match peer {
                Peer::Request => "Transfer-Encoding in an HTTP/1.0 request",
                Peer::Response => "Transfer-Encoding in an HTTP/1.0 response",
            }));
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
        if coding.eq_ignore_ascii_case(b"chunked") {
            return Ok(Declared::Chunked);
        }
        let last = coding.rsplit(|&b| b == b',').next().unwrap_or_default();
        return Ok(Declared::OtherCoding {
            chunked_last: trim_ows(last).eq_ignore_ascii_case(b"chunked"),
        });
    }

    if let Some(value) = content_length {
        // RFC 9112 §6.3 rule 5 / RFC 9110 §8.6: duplicates are rejected even
        // when identical (stricter than hyper; RUSTSEC-2021-0078).
        if content_lengths > 1 {
            return Err(HttpError::BadRequest("more than one Content-Length header"));
        }
        return ContentLength::parse(value).map(|n| Declared::Length(n.get()));
    }
    Ok(Declared::Nothing)
}
