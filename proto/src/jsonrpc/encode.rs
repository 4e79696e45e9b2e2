//! Writing JSON-RPC messages: splicing new ids into relayed messages without
//! re-serialising them, and the few messages the gateway writes itself.

use std::ops::Range;

use super::MessageError;

/// Copies `input` into `out` with each span replaced by its bytes.
///
/// `replacements` must be sorted, non-overlapping and inside `input`;
/// otherwise nothing is appended and `Err(MessageError::Internal)` is
/// returned (a caller bug, not bad input). Used to swap ids, progress tokens
/// and cancelled ids in relayed messages using the spans of
/// [`Message`](super::Message).
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{parse_message, splice};
///
/// let input = br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#;
/// let span = parse_message(input)?.id_span.unwrap();
/// let mut out = Vec::new();
/// splice(&mut out, input, &[(span, b"17")])?;
/// assert_eq!(out, br#"{"jsonrpc":"2.0","id":17,"method":"ping"}"#);
/// # Ok::<(), supergateway_proto::jsonrpc::MessageError>(())
/// ```
pub fn splice(
    out: &mut Vec<u8>,
    input: &[u8],
    replacements: &[(Range<usize>, &[u8])],
) -> Result<(), MessageError> {
    let start_len = out.len();
    let mut copied = 0;
    for (span, bytes) in replacements {
        let in_order = copied <= span.start && span.start <= span.end && span.end <= input.len();
        let Some(before) = input.get(copied..span.start).filter(|_| in_order) else {
            out.truncate(start_len);
            return Err(MessageError::Internal(
                "splice spans unsorted, overlapping or out of bounds",
            ));
        };
        out.extend_from_slice(before);
        out.extend_from_slice(bytes);
        copied = span.end;
    }
    out.extend_from_slice(input.get(copied..).unwrap_or_default());
    Ok(())
}

/// Appends `{"jsonrpc":"2.0","id":ID,"error":{"code":CODE,"message":"MESSAGE"}}`.
///
/// `id` is the raw JSON text of the request id (as from [`RawId::as_bytes`]
/// or [`Id::as_bytes`]); `None` writes `null`, for errors about a message
/// whose id could not be read (JSON-RPC 2.0 §5). `message` is JSON-escaped.
///
/// [`RawId::as_bytes`]: super::RawId::as_bytes
/// [`Id::as_bytes`]: super::Id::as_bytes
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{codes, encode_error};
///
/// let mut out = Vec::new();
/// encode_error(&mut out, Some(b"7"), codes::METHOD_NOT_FOUND, "no \"x\"");
/// assert_eq!(
///     out,
///     br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no \"x\""}}"#
/// );
/// ```
pub fn encode_error(out: &mut Vec<u8>, id: Option<&[u8]>, code: i32, message: &str) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.unwrap_or(b"null"));
    out.extend_from_slice(b",\"error\":{\"code\":");
    if code < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    out.extend_from_slice(write_u64(u64::from(code.unsigned_abs()), &mut digits));
    out.extend_from_slice(b",\"message\":");
    encode_string(out, message);
    out.extend_from_slice(b"}}");
}

/// Appends `{"jsonrpc":"2.0","id":ID,"error":{"code":CODE,"message":"MESSAGE","data":DATA}}`:
/// [`encode_error`] with a `data` member. `data` is raw JSON text, written
/// as is (the caller builds it, e.g. with
/// [`Capabilities::write_object`](crate::mcp::Capabilities::write_object)).
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::{codes, encode_error_with_data};
///
/// let mut out = Vec::new();
/// encode_error_with_data(
///     &mut out,
///     Some(b"1"),
///     codes::MISSING_CLIENT_CAPABILITY,
///     "Server requires the elicitation capability for this request",
///     br#"{"requiredCapabilities":{"elicitation":{}}}"#,
/// );
/// assert_eq!(
///     out,
///     br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32021,"message":"Server requires the elicitation capability for this request","data":{"requiredCapabilities":{"elicitation":{}}}}}"#
/// );
/// ```
pub fn encode_error_with_data(
    out: &mut Vec<u8>,
    id: Option<&[u8]>,
    code: i32,
    message: &str,
    data: &[u8],
) {
    encode_error(out, id, code, message);
    // `encode_error` ends with `}}`: reopen the error object before them.
    out.truncate(out.len().saturating_sub(2));
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data);
    out.extend_from_slice(b"}}");
}

/// Appends `{"jsonrpc":"2.0","id":ID,"result":RESULT}`, both raw JSON text.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::encode_result;
///
/// let mut out = Vec::new();
/// encode_result(&mut out, b"\"a\"", b"{}");
/// assert_eq!(out, br#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
/// ```
pub fn encode_result(out: &mut Vec<u8>, id: &[u8], result: &[u8]) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id);
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result);
    out.push(b'}');
}

/// Appends `s` as a JSON string: quoted, with `"` and `\` escaped and
/// control characters written as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`
/// (RFC 8259 §7).
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::encode_string;
///
/// let mut out = Vec::new();
/// encode_string(&mut out, "a\"b\\\n\u{1}");
/// assert_eq!(out, br#""a\"b\\\n\u0001""#);
/// ```
pub fn encode_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len().saturating_add(2));
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut clean = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(bytes.get(clean..i).unwrap_or_default());
        clean = i.saturating_add(1);
        if short == 0 {
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(bytes.get(clean..).unwrap_or_default());
    out.push(b'"');
}

/// Writes `n` in decimal into the end of `buf` and returns the digits.
pub fn write_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        // `n % 10 < 10`, so the narrowing and the addition cannot overflow.
        let digit = u8::try_from(n.checked_rem(10).unwrap_or(0)).unwrap_or(0);
        start = start.saturating_sub(1);
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0'.saturating_add(digit);
        }
        n = n.checked_div(10).unwrap_or(0);
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}
