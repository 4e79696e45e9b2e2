//! HTTP/1.1 framing, sans-IO: the server side (requests in, responses out)
//! and the client side (requests out, responses in), sharing one scanner,
//! one framing function and one field validator (STYLE.md item 10).
//!
//! - [`HeadDecoder`] turns the bytes of a connection into a validated
//!   [`RequestHead`]: request line, headers, Host, target and body framing.
//! - [`ResponseHeadDecoder`] does the same for the client with a
//!   [`ResponseHead`], whose [`ResponseHead::body_framing`] gives the
//!   [`ResponseFraming`] for the method that was sent.
//! - [`BodyDecoder`] reads the body that follows, Content-Length or chunked
//!   (or, for a response, until the connection closes:
//!   [`BodyDecoder::for_response`], [`BodyDecoder::handle_eof`]), within a
//!   body limit; [`encode_chunk`] and [`encode_last_chunk`] write chunked
//!   bodies.
//! - [`ResponseHeadWriter`] and [`RequestHeadWriter`] write heads with
//!   validated header names and values; [`HeaderName`], [`HeaderValue`] and
//!   [`parse_header_line`] validate user-configured headers once.
//! - [`HttpError::status`] is the one error → status mapping.
//! - [`Limits`] holds every size bound.
//! - [`is_local_authority`], [`is_local_origin`] and [`is_loopback_host`]
//!   say whether a Host, an Origin or a bind address names this machine
//!   (the DNS-rebinding check; the policy is the caller's);
//!   [`is_allowed_authority`] and [`is_allowed_origin`] also accept names
//!   the caller allows (`--allowedHost`).
//!
//! URLs (the client's targets and Host values) are in [`crate::url`].
//!
//! The caller owns all buffers and does all I/O. After any error, the server
//! answers with `error.status()` and closes the connection; the client
//! closes it.
//!
//! # Rules, and the tests that pin them
//!
//! Each rule cites its RFC section or advisory in a `//` comment where it is
//! enforced. Tests live in `http/tests/`.
//!
//! | vector | rule | status | tests |
//! | --- | --- | --- | --- |
//! | Version | only `HTTP/1.0` and `HTTP/1.1` | 400 | `head::reject_version` |
//! | Method | a token, case-sensitive (`get` is [`Method::Other`]) | 400 | `head::accept_request_line`, `head::reject_request_line` |
//! | CL + TE | both present | 400 | `framing::reject_framing` |
//! | TE other than `chunked` | `gzip, chunked`, `gzip`, `chunked, chunked` | 501 | `framing::reject_framing` |
//! | TE on HTTP/1.0, several TE lines, empty TE | | 400 | `framing::reject_framing` |
//! | Content-Length | one line, ASCII digits only, fits `u64` (strict parser, duplicates rejected even if identical) | 400 | `framing::content_length_table`, `framing::reject_framing` |
//! | Chunk size | ≤ 16 hex digits, checked arithmetic, no `+`/`0x`, no space or tab after it (with or without an extension) | 400 | `body::reject_chunked`, `body::chunk_size_overflow_does_not_smuggle` |
//! | Chunk extensions | no controls; must end with CRLF; ≤ `chunk_ext_bytes` per body; size line ≤ `chunk_size_line` | 400 | `body::reject_chunked`, `body::chunk_ext_limit_is_per_body` |
//! | Chunk data | CRLF (never a bare LF) after each chunk's data is mandatory | 400 | `body::reject_chunked` |
//! | Trailers | ≤ `trailer_bytes` and ≤ `trailers` fields, valid field lines, then ignored | 431 / 400 | `body::accept_chunked`, `body::reject_chunked` |
//! | Body size | `Length(n > max_body)` before reading; chunked total | 413 | `body::length_over_limit_fails_up_front`, `body::reject_chunked` |
//! | Line endings | only CRLF ends a line (head and chunked alike); a bare LF or bare CR is rejected everywhere (SECURITY.md "Bare LF / bare CR" says why we do not take RFC 9112 §2.2's leave to accept a bare LF) | 400 | `head::accept_line_endings`, `head::reject_line_endings`, `body::accept_chunked`, `body::reject_chunked` |
//! | obs-fold | rejected (httparse default), also in trailers | 400 | `head::reject_headers`, `body::reject_chunked` |
//! | Header count / head size | `headers` fields; `head_bytes`, leading empty lines included, checked before buffering more | 431 | `head::reject_limits`, `head::head_too_large_as_soon_as_over_limit` |
//! | Quadratic re-scan | each byte scanned once; httparse runs once per head | | `head::each_byte_is_scanned_once` |
//! | Target | origin-form, absolute-form `http://` (authority = Host), `*` for OPTIONS; no `#`, `\`, NUL, controls, non-ASCII; ≤ `target_bytes` | 400 / 414 | `head::accept_targets`, `head::reject_targets`, `head::target_length_limit` |
//! | Host | HTTP/1.1: exactly one, non-empty, no `@ / ,`, whitespace, controls; port 1–5 digits ≤ 65535 | 400 | `head::accept_hosts`, `head::reject_hosts` |
//! | DNS rebinding | local Host/Origin: `localhost` (any case, no trailing dot) or a loopback IP literal, or a name the caller allows (`is_allowed_authority`), port 1–5 digits ≤ 65535, no userinfo or other garbage; Origin exactly `http`/`https` `://` host `[:port]`, `null` not local | 403 (caller's policy) | `local::accept_local_authorities`, `local::reject_local_authorities`, `local::accept_local_origins`, `local::reject_local_origins`, `local::allowed_names_extend_the_local_ones`, `local::loopback_binds` |
//! | Outbound injection | header names are tokens; values have no CR, LF, NUL (RUSTSEC-2024-0009); conflicting framing headers | `finish` fails, `out` unchanged | `response::reject_header`, `response::framing_conflicts` |
//! | Pre-allocation | `prealloc_hint` ≤ `prealloc_bytes` whatever Content-Length says | | `body::prealloc_hint_is_capped` |
//! | Resumability | split-at-every-byte and byte-at-a-time equivalence | | `head::split_at_every_byte`, `body::split_at_every_byte`, `props::chunked_round_trip`, `response_head::split_at_every_byte`, `response_head::response_bodies_split_at_every_byte` |
//! | Fuzz properties | `crate::fuzzing::{parse_head, chunked_decode, content_length, parse_response_head, url_parse}`, also run under proptest | | `props::fuzz_*` |
//!
//! Client side: responses read and requests written by our HTTP client
//! (STYLE.md pitfalls, "Client-side framing").
//!
//! | vector | rule | outcome | tests |
//! | --- | --- | --- | --- |
//! | Status line | `HTTP/1.0` or `HTTP/1.1`, one SP, three digits 100–999, reason optional | `BadRequest` | `response_head::accept_status_lines`, `response_head::reject_status_lines` |
//! | Line endings, obs-fold, field syntax | the request rules, through the same scan: CRLF only, bare LF and bare CR rejected; obs-fold rejected (httparse's response folding never enabled); no space before the colon | `BadRequest` / `InvalidHeader` | `response_head::reject_status_lines`, `response_head::split_at_every_byte` |
//! | Header count / head size / re-scan | `headers` fields; `head_bytes` with leading empty lines, checked before buffering more (never 414); each byte scanned once | `TooManyHeaders` / `HeadTooLarge` | `response_head::reject_limits`, `response_head::each_byte_is_scanned_once` |
//! | Bodiless responses | HEAD, 1xx, 204, 304 have no body (RFC 9112 §6.3 rule 1); a 1xx is skipped and the next head decoded | `ResponseFraming::None` | `response_head::accept_response_framing`, `response_head::interim_responses_then_reset` |
//! | Response framing | `chunked` exactly → chunked; a TE whose final coding is not `chunked` → until close; one strict Content-Length → length; neither → until close | | `response_head::accept_response_framing` |
//! | Response smuggling | the request function decides: CL + TE, several CL (even identical), malformed CL, several TE, empty TE, TE on HTTP/1.0 — even on a bodiless status; `gzip, chunked` (chunk framing we would take for payload) | `BadRequest` / `NotImplemented` | `response_head::reject_response_framing` |
//! | Response bodies | the request path's decoder for length and chunked; until close bounded by `max_body`, exactly; EOF completes an until-close body and truncates any other | `BodyTooLarge` / `Truncated` | `response_head::response_bodies` |
//! | Outbound requests | method a token; origin-form target of visible ASCII without `#` or `\`; exactly one Host that our server's Host rule accepts; fields and framing conflicts as for responses (shared writer); always CL or chunked with a body is the caller's rule | `finish` fails, `out` unchanged | `request_writer::accept_heads`, `request_writer::reject_heads` |
//! | URLs | no userinfo, ASCII only, no `\`, strict IPv4, bracketed IPv6 without zone, port 1–65535, percent-encoding checked, dot segments removed; `join` per RFC 3986 §5.2 | `UrlError` | `url::tests::*` |

mod bearer;
mod body;
mod error;
mod forwarded;
mod framing;
mod head;
mod limits;
mod local;
mod reader;
mod request;
mod request_writer;
mod response;
mod response_head;
mod target;

#[cfg(test)]
mod tests;

pub use bearer::{
    is_b64token, parse_bearer, parse_token_file, BearerError, TokenFileError, TokenFileLimits,
};
pub use body::{encode_chunk, encode_last_chunk, BodyDecoder, BodyProgress};
pub use error::HttpError;
pub use forwarded::{client_address, Cidr, CidrError};
pub use framing::{BodyFraming, ContentLength, ResponseFraming};
pub use head::HeadDecoder;
pub use limits::Limits;
pub use local::{
    is_allowed_authority, is_allowed_origin, is_local_authority, is_local_origin, is_loopback_host,
};
pub use request::{Method, RequestHead, Version};
pub use request_writer::RequestHeadWriter;
pub use response::{parse_header_line, reason_phrase, HeaderName, HeaderValue, ResponseHeadWriter};
pub use response_head::{ResponseHead, ResponseHeadDecoder};
