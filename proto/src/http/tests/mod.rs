//! Tests of the HTTP layer: accept/reject tables per rule, split-at-every-
//! byte equivalence, property tests. Test names are cited in the table of
//! the module documentation.

#![allow(clippy::arithmetic_side_effects)]

mod body;
mod framing;
mod head;
mod local;
mod props;
mod request_writer;
mod response;
mod response_head;

use super::{HeadDecoder, HttpError, Limits, RequestHead};

type HeadResult = Result<Option<(RequestHead, usize)>, HttpError>;

/// Decodes `buf` in one call with `limits`.
fn decode_with(limits: Limits, buf: &[u8]) -> HeadResult {
    HeadDecoder::new(limits).decode(buf)
}

/// Decodes a complete head with default limits, panicking if it is not one.
#[track_caller]
fn head(buf: &[u8]) -> RequestHead {
    match decode_with(Limits::DEFAULT, buf) {
        Ok(Some((head, _))) => head,
        other => panic!(
            "{:?}: expected a head, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Decodes with default limits, expecting an error.
#[track_caller]
fn head_err(buf: &[u8]) -> HttpError {
    head_err_with(Limits::DEFAULT, buf)
}

#[track_caller]
fn head_err_with(limits: Limits, buf: &[u8]) -> HttpError {
    match decode_with(limits, buf) {
        Err(e) => e,
        other => panic!(
            "{:?}: expected an error, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// `GET / HTTP/1.1` with `Host: example.com` and the given extra header
/// lines (each without its CRLF).
fn get_with(headers: &[&str]) -> Vec<u8> {
    request(
        "GET / HTTP/1.1",
        &[&["Host: example.com"], headers].concat(),
    )
}

/// A request line and header lines, CRLF-terminated, with the empty line.
fn request(line: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = format!("{line}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}
