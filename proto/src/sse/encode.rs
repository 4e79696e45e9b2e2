//! Writing `text/event-stream` bodies (WHATWG HTML §9.2.5 "Event stream
//! interpretation" read in reverse). Every function appends whole lines
//! ending in LF and allocates nothing beyond growing `out`.

use super::SseField;

/// Appends one event: `event: NAME` if `name` is given, `id: ID` if `id` is
/// given, then `data` as `data: ` lines, then the blank line that
/// dispatches it.
///
/// `data` is split on CRLF, LF and CR alike, one `data: ` line per piece, so
/// no byte of it can start a new field (the trillium-http RUSTSEC-2024-0009
/// class). A client joins the pieces with LF, so it receives `data` with
/// every line break normalised to LF. Empty `data` still produces one
/// `data: ` line: an event must carry a data line to be dispatched, and
/// `id: X` + empty data is the Streamable HTTP priming event.
///
/// # Examples
///
/// ```
/// use supergateway_proto::sse::{encode_event, SseField};
///
/// let mut out = Vec::new();
/// encode_event(&mut out, Some(&SseField::MESSAGE), None, br#"{"jsonrpc":"2.0"}"#);
/// assert_eq!(out, b"event: message\ndata: {\"jsonrpc\":\"2.0\"}\n\n");
///
/// out.clear();
/// let id = SseField::new("s1-0")?;
/// encode_event(&mut out, None, Some(&id), b"");
/// assert_eq!(out, b"id: s1-0\ndata: \n\n");
/// # Ok::<(), supergateway_proto::sse::SseError>(())
/// ```
pub fn encode_event(
    out: &mut Vec<u8>,
    name: Option<&SseField>,
    id: Option<&SseField>,
    data: &[u8],
) {
    // 7 bytes of "event: ", 4 of "id: ", 6 of "data: ", a few LFs; extra
    // data lines grow `out` as needed.
    let fields = name
        .map_or(0, |n| n.as_str().len())
        .saturating_add(id.map_or(0, |i| i.as_str().len()));
    out.reserve(data.len().saturating_add(fields).saturating_add(24));
    if let Some(name) = name {
        push_line(out, b"event: ", name.as_str().as_bytes());
    }
    if let Some(id) = id {
        push_line(out, b"id: ", id.as_str().as_bytes());
    }
    for piece in pieces(data) {
        push_line(out, b"data: ", piece);
    }
    out.push(b'\n');
}

/// Appends `text` as comment lines, `: PIECE` per line of `text` (split on
/// CRLF, LF and CR; `:` alone for an empty piece). Comments are ignored by
/// clients and dispatch nothing, so no blank line follows; used as the
/// keep-alive heartbeat.
///
/// # Examples
///
/// ```
/// use supergateway_proto::sse::encode_comment;
///
/// let mut out = Vec::new();
/// encode_comment(&mut out, "ping");
/// encode_comment(&mut out, "a\r\nb");
/// encode_comment(&mut out, "");
/// assert_eq!(out, b": ping\n: a\n: b\n:\n");
/// ```
pub fn encode_comment(out: &mut Vec<u8>, text: &str) {
    for piece in pieces(text.as_bytes()) {
        if piece.is_empty() {
            out.extend_from_slice(b":\n");
        } else {
            push_line(out, b": ", piece);
        }
    }
}

/// Appends `retry: MS` followed by a blank line: a self-contained block that
/// sets the client's reconnection time (WHATWG: digits only) and dispatches
/// nothing, because it has no data line. Ending the block means the field
/// can never merge into the fields of the next event.
///
/// # Examples
///
/// ```
/// use supergateway_proto::sse::encode_retry;
///
/// let mut out = Vec::new();
/// encode_retry(&mut out, 3000);
/// assert_eq!(out, b"retry: 3000\n\n");
/// ```
pub fn encode_retry(out: &mut Vec<u8>, ms: u64) {
    let mut digits = [0u8; 20];
    push_line(out, b"retry: ", crate::jsonrpc::write_u64(ms, &mut digits));
    out.push(b'\n');
}

/// Appends `prefix`, `value` and LF.
fn push_line(out: &mut Vec<u8>, prefix: &[u8], value: &[u8]) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The pieces of `data` between line breaks (CRLF, LF or CR): always at
/// least one, possibly empty.
fn pieces(data: &[u8]) -> Pieces<'_> {
    Pieces { rest: Some(data) }
}

/// Iterator behind [`pieces`]; `rest` is `None` once the last piece is out.
struct Pieces<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
            // Fast path, and the last piece: no line break left.
            self.rest = None;
            return Some(rest);
        };
        let (piece, tail) = rest.split_at(at);
        let skip = if tail.starts_with(b"\r\n") { 2 } else { 1 };
        self.rest = Some(tail.get(skip..).unwrap_or_default());
        Some(piece)
    }
}
