//! A canonical text for a JSON value, so that two spellings of "the same
//! arguments" compare equal byte for byte (design c.6: an MRTR retry must
//! repeat the original request's arguments; the Python SDK binds
//! `compact_json(args, sort_keys=True)` the same way).
//!
//! The rules: whitespace outside strings dropped; object members sorted by
//! their keys' unescaped UTF-8 bytes (= code point order); strings decoded
//! and re-escaped minimally ([`encode_string`]: only `"`, `\` and controls);
//! numbers kept exactly as written (`1`, `1.0` and `1e0` stay distinct: a
//! tool may well tell them apart, and the gateway has no business rounding).
//!
//! Refused, because they would let two different values share one text or
//! one value be read two ways: duplicate keys in any object (after
//! unescaping), and `\u` escapes that leave a lone surrogate (serde_json and
//! most JSON libraries refuse those too). Nesting is bounded by
//! [`MAX_DEPTH`] and the walk uses an explicit stack, no recursion.

use std::fmt;

use super::encode::encode_string;
use super::scan::{Cursor, Type, MAX_DEPTH};

/// The canonical text of the JSON value in `json` (whitespace around it
/// allowed).
///
/// # Errors
///
/// [`CanonicalError::Json`] when `json` is not UTF-8 or not exactly one JSON
/// value (or nests deeper than the scanner's bound);
/// [`CanonicalError::DuplicateKey`] when an object repeats a key;
/// [`CanonicalError::LoneSurrogate`] for a `\uD800`–`\uDFFF` escape that is
/// not half of a pair.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jsonrpc::canonical;
///
/// let a = canonical(br#"{ "b": [1, 2.50], "a": "\u00e9\/" }"#)?;
/// assert_eq!(a, r#"{"a":"é/","b":[1,2.50]}"#.as_bytes());
/// assert_eq!(canonical(&a)?, a);
/// # Ok::<(), supergateway_proto::jsonrpc::CanonicalError>(())
/// ```
pub fn canonical(json: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let text = std::str::from_utf8(json).map_err(|_| CanonicalError::Json)?;
    let mut cursor = Cursor::new(text);
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        // At the start of a value.
        cursor.skip_ws();
        let mut value = match cursor.peek() {
            Some(open @ (b'{' | b'[')) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(CanonicalError::Json);
                }
                cursor.expect(open).map_err(|_| CanonicalError::Json)?;
                cursor.skip_ws();
                if open == b'{' {
                    if cursor.eat(b'}') {
                        b"{}".to_vec()
                    } else {
                        let key = member_key(&mut cursor)?;
                        stack.push(Frame::Object {
                            members: Vec::new(),
                            key,
                        });
                        continue;
                    }
                } else if cursor.eat(b']') {
                    b"[]".to_vec()
                } else {
                    stack.push(Frame::Array { items: vec![b'['] });
                    continue;
                }
            }
            _ => scalar(&mut cursor, stack.len())?,
        };
        // After a value: hand it to the container it completes, closing
        // containers until one continues with ','.
        loop {
            cursor.skip_ws();
            match stack.last_mut() {
                None => {
                    return if cursor.at_end() {
                        Ok(value)
                    } else {
                        Err(CanonicalError::Json)
                    };
                }
                Some(Frame::Array { items }) => {
                    items.append(&mut value);
                    if cursor.eat(b',') {
                        items.push(b',');
                        break;
                    }
                    cursor.expect(b']').map_err(|_| CanonicalError::Json)?;
                    items.push(b']');
                    value = std::mem::take(items);
                }
                Some(Frame::Object { members, key }) => {
                    members.push((std::mem::take(key), value));
                    if cursor.eat(b',') {
                        cursor.skip_ws();
                        *key = member_key(&mut cursor)?;
                        break;
                    }
                    cursor.expect(b'}').map_err(|_| CanonicalError::Json)?;
                    value = close_object(std::mem::take(members))?;
                }
            }
            stack.pop();
        }
    }
}

/// Why [`canonical`] refused its input.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanonicalError {
    /// An object has two members with the same (unescaped) key.
    DuplicateKey,
    /// Not UTF-8, not exactly one JSON value, or nested too deeply.
    Json,
    /// A `\u` escape leaves an unpaired UTF-16 surrogate.
    LoneSurrogate,
}

impl fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DuplicateKey => "duplicate object key",
            Self::Json => "not a single JSON value",
            Self::LoneSurrogate => "unpaired surrogate escape in a string",
        })
    }
}

impl std::error::Error for CanonicalError {}

/// An open container.
enum Frame {
    /// `items`: `[` and the canonical elements so far, comma-separated.
    Array { items: Vec<u8> },
    /// `members`: (unescaped key, canonical value) so far; `key`: the key
    /// of the member whose value is being read.
    Object {
        members: Vec<(String, Vec<u8>)>,
        key: String,
    },
}

/// Reads `"key" :` (and the whitespace after it), returning the key text.
fn member_key(cursor: &mut Cursor<'_>) -> Result<String, CanonicalError> {
    let token = cursor.string().map_err(|_| CanonicalError::Json)?;
    let raw = cursor.slice(token.span).ok_or(CanonicalError::Json)?;
    let key = unescape(raw)?;
    cursor.skip_ws();
    cursor.expect(b':').map_err(|_| CanonicalError::Json)?;
    Ok(key)
}

/// The canonical text of the scalar under the cursor.
fn scalar(cursor: &mut Cursor<'_>, depth: usize) -> Result<Vec<u8>, CanonicalError> {
    let token = cursor.skip_value(depth).map_err(|_| CanonicalError::Json)?;
    let raw = cursor
        .slice(token.span.clone())
        .ok_or(CanonicalError::Json)?;
    match token.ty {
        Type::String { escaped: false } => Ok(raw.as_bytes().to_vec()),
        Type::String { escaped: true } => {
            let mut out = Vec::with_capacity(raw.len());
            encode_string(&mut out, &unescape(raw)?);
            Ok(out)
        }
        Type::Number | Type::True | Type::False | Type::Null => Ok(raw.as_bytes().to_vec()),
        Type::Array | Type::Object => Err(CanonicalError::Json),
    }
}

/// Sorts the members by key and writes the object; refuses a repeated key.
fn close_object(mut members: Vec<(String, Vec<u8>)>) -> Result<Vec<u8>, CanonicalError> {
    // `str` orders by UTF-8 bytes, which is code point order.
    members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if members.windows(2).any(|pair| match pair {
        [a, b] => a.0 == b.0,
        _ => false,
    }) {
        return Err(CanonicalError::DuplicateKey);
    }
    let size = members.iter().fold(2_usize, |sum, (key, value)| {
        sum.saturating_add(key.len())
            .saturating_add(value.len())
            .saturating_add(4)
    });
    let mut out = Vec::with_capacity(size);
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_string(&mut out, key);
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
    Ok(out)
}

/// Decodes a scanned string token (quotes included; the scanner has checked
/// its escapes are well-formed). Unlike the scanner's lenient decoder this
/// one refuses lone surrogates instead of mapping them to U+FFFD, which
/// would give distinct inputs one canonical text (or, for the property
/// names of `mcp::x_mcp_header`, one name to two distinct keys).
pub(crate) fn unescape(token: &str) -> Result<String, CanonicalError> {
    let inner = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or(CanonicalError::Json)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next().ok_or(CanonicalError::Json)? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let unit = hex4(&mut chars)?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = match (chars.next(), chars.next()) {
                            (Some('\\'), Some('u')) => hex4(&mut chars)?,
                            _ => return Err(CanonicalError::LoneSurrogate),
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(CanonicalError::LoneSurrogate);
                        }
                        let scalar = unit
                            .checked_sub(0xD800)
                            .and_then(|h| h.checked_mul(0x400))
                            .and_then(|h| h.checked_add(low.checked_sub(0xDC00)?))
                            .and_then(|v| v.checked_add(0x1_0000));
                        scalar
                            .and_then(char::from_u32)
                            .ok_or(CanonicalError::LoneSurrogate)?
                    }
                    0xDC00..=0xDFFF => return Err(CanonicalError::LoneSurrogate),
                    _ => char::from_u32(unit).ok_or(CanonicalError::Json)?,
                }
            }
            // `"`, `\` and `/` stand for themselves (the scanner allowed no other).
            other => other,
        };
        out.push(decoded);
    }
    Ok(out)
}

/// Four hex digits as a UTF-16 code unit.
fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, CanonicalError> {
    let mut unit: u32 = 0;
    for _ in 0..4 {
        let digit = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or(CanonicalError::Json)?;
        unit = unit
            .checked_mul(16)
            .and_then(|u| u.checked_add(digit))
            .ok_or(CanonicalError::Json)?;
    }
    Ok(unit)
}

#[cfg(test)]
mod tests;
