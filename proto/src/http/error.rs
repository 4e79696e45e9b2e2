//! The HTTP layer's error type and the one error → status mapping.

use core::fmt;

/// Why a request or response was rejected (or something we were about to
/// send: a head written with invalid fields).
///
/// Small and `Copy`: the context strings are `&'static str`, so building an
/// error never allocates. [`HttpError::status`] is the one place that maps an
/// error to a response status; after answering with it, the caller closes the
/// connection (STYLE.md item 8). The `Display` text is one short line, fit for
/// a JSON-RPC error message, and is not an API.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Malformed request line, status line, target, framing or Host (400).
    /// The context names the rule that failed.
    BadRequest(&'static str),
    /// The body is larger than the route (or, for a response, the client)
    /// allows (413), declared up front by Content-Length or reached by a
    /// chunked or read-until-close body.
    BodyTooLarge,
    /// No complete head within `Limits::head_bytes` (431).
    HeadTooLarge,
    /// A state that cannot happen did (500); a bug, never caused by input
    /// alone (rustls `Error::General`/`Unreachable` style).
    Internal(&'static str),
    /// A header name or value is malformed (400 when received). Also returned
    /// when building an outbound header from an invalid name or value.
    InvalidHeader(&'static str),
    /// A valid request that uses something we do not implement, such as a
    /// transfer coding other than `chunked` (501, RFC 9112 §6.1).
    NotImplemented(&'static str),
    /// The request-target is longer than `Limits::target_bytes` (414).
    TargetTooLong,
    /// More header fields than `Limits::headers` (431).
    TooManyHeaders,
    /// The trailer section of a chunked body is over `Limits::trailer_bytes`
    /// or `Limits::trailers` (431).
    TrailersTooLarge,
    /// The connection closed before the end of a Content-Length or chunked
    /// body (`BodyDecoder::handle_eof`). 400, though a server has nobody
    /// left to answer.
    Truncated,
}

impl HttpError {
    /// The response status for this error: 400, 413, 414, 431, 501, or 500
    /// for [`HttpError::Internal`]. This is the only error → status mapping
    /// in the code base.
    ///
    /// Versions other than HTTP/1.0 and HTTP/1.1 arrive as
    /// `BadRequest("unsupported HTTP version")` and so map to 400, not 505:
    /// httparse cannot tell `HTTP/2.0` from garbage (it reports both as
    /// `Error::Version`), and hyper answers both with 400 as well.
    #[must_use]
    pub const fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) | Self::InvalidHeader(_) | Self::Truncated => 400,
            Self::BodyTooLarge => 413,
            Self::TargetTooLong => 414,
            Self::HeadTooLarge | Self::TooManyHeaders | Self::TrailersTooLarge => 431,
            Self::Internal(_) => 500,
            Self::NotImplemented(_) => 501,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::BodyTooLarge => f.write_str("request body too large"),
            Self::HeadTooLarge => f.write_str("request head too large"),
            Self::Internal(why) => write!(f, "internal error: {why}"),
            Self::InvalidHeader(why) => write!(f, "invalid header: {why}"),
            Self::NotImplemented(why) => write!(f, "not implemented: {why}"),
            Self::TargetTooLong => f.write_str("request-target too long"),
            Self::TooManyHeaders => f.write_str("too many header fields"),
            Self::TrailersTooLarge => f.write_str("trailer section too large"),
            Self::Truncated => f.write_str("connection closed before the end of the body"),
        }
    }
}

impl std::error::Error for HttpError {}
