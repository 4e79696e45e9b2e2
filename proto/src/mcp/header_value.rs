//! Values of the `Mcp-Name` and `Mcp-Param-{Name}` headers (MCP 2026-07-28,
//! basic/transports/streamable-http.mdx §Value Encoding).
//!
//! A value travels as is when it is a safe header value: visible ASCII
//! (0x21–0x7E), space and horizontal tab (RFC 9110 §5.5), with no space or
//! tab at either end (RFC 9110 strips those as OWS). Anything else — and any
//! plain value that would read as the sentinel — travels as
//! `=?base64?{standard Base64 of its UTF-8}?=`. The markers are
//! case-sensitive (`=?BASE64?…?=` is a plain value), and a sentinel must hold
//! the canonical encoding of valid UTF-8: a server compares the decoded value
//! with the body, so two spellings of one value, or bytes that are no text,
//! would only open room for disagreement between intermediaries.

use std::borrow::Cow;
use std::fmt;

use super::base64::{self, Alphabet};

/// Encodes `value` for an `Mcp-Name` or `Mcp-Param-*` header: borrowed when
/// it can travel as is, else the Base64 sentinel.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::header_value;
///
/// assert_eq!(header_value::encode("us-west1"), "us-west1");
/// assert_eq!(header_value::encode(" padded "), "=?base64?IHBhZGRlZCA=?=");
/// ```
#[must_use]
pub fn encode(value: &str) -> Cow<'_, str> {
    if is_plain(value.as_bytes()) && !is_sentinel(value.as_bytes()) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(
        value
            .len()
            .div_ceil(3)
            .saturating_mul(4)
            .saturating_add(SENTINEL_LEN),
    );
    out.push_str(SENTINEL_PREFIX);
    base64::encode(value.as_bytes(), Alphabet::Standard, &mut out);
    out.push_str(SENTINEL_SUFFIX);
    Cow::Owned(out)
}

/// Decodes a received header value (the field value as the HTTP parser gave
/// it, OWS already removed): a sentinel yields its decoded text, any other
/// value itself.
///
/// # Errors
///
/// [`HeaderValueError::InvalidChar`] for a byte that may not appear in a
/// header value (controls other than HTAB, DEL, anything non-ASCII);
/// [`HeaderValueError::Base64`] for a sentinel whose payload is not canonical
/// standard Base64; [`HeaderValueError::Utf8`] when the decoded bytes are not
/// UTF-8.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::header_value::{decode, HeaderValueError};
///
/// assert_eq!(decode(b"=?base64?SGVsbG8sIOS4lueVjA==?=")?, "Hello, 世界");
/// assert_eq!(decode(b"get_weather")?, "get_weather");
/// assert_eq!(decode(b"=?base64?SGk?=").unwrap_err(), HeaderValueError::Base64);
/// # Ok::<(), HeaderValueError>(())
/// ```
pub fn decode(header: &[u8]) -> Result<Cow<'_, str>, HeaderValueError> {
    if !header.iter().all(|&b| is_field_byte(b)) {
        return Err(HeaderValueError::InvalidChar);
    }
    let Some(payload) = header
        .strip_prefix(SENTINEL_PREFIX.as_bytes())
        .and_then(|rest| rest.strip_suffix(SENTINEL_SUFFIX.as_bytes()))
    else {
        // Every byte is ASCII (checked above), so this cannot fail.
        return std::str::from_utf8(header)
            .map(Cow::Borrowed)
            .map_err(|_| HeaderValueError::InvalidChar);
    };
    let bytes = base64::decode(payload, Alphabet::Standard).ok_or(HeaderValueError::Base64)?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| HeaderValueError::Utf8)
}

/// Why a header value could not be decoded. Every variant means "reject the
/// request" (HTTP 400, -32020 `HeaderMismatch`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderValueError {
    /// The sentinel's payload is not canonical standard Base64 (bad symbol,
    /// wrong padding, non-zero trailing bits).
    Base64,
    /// A byte outside visible ASCII, space and HTAB.
    InvalidChar,
    /// The sentinel decodes to bytes that are not UTF-8.
    Utf8,
}

impl fmt::Display for HeaderValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Base64 => "malformed base64 sentinel value",
            Self::InvalidChar => "invalid character in header value",
            Self::Utf8 => "base64 sentinel value is not UTF-8",
        })
    }
}

impl std::error::Error for HeaderValueError {}

const SENTINEL_PREFIX: &str = "=?base64?";
const SENTINEL_SUFFIX: &str = "?=";
/// Both markers: the shortest sentinel (an empty payload).
const SENTINEL_LEN: usize = 11;
const _: () = assert!(SENTINEL_LEN == SENTINEL_PREFIX.len() + SENTINEL_SUFFIX.len());

/// Whether `value` can travel unencoded: field bytes only, no OWS at an end.
fn is_plain(value: &[u8]) -> bool {
    let edge_ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    value.iter().all(|&b| is_field_byte(b)) && !edge_ws(value.first()) && !edge_ws(value.last())
}

/// Whether a plain value reads as the sentinel (`=?base64?` … `?=`, the two
/// markers not overlapping), which the encoder must therefore wrap.
fn is_sentinel(value: &[u8]) -> bool {
    value.len() >= SENTINEL_LEN
        && value.starts_with(SENTINEL_PREFIX.as_bytes())
        && value.ends_with(SENTINEL_SUFFIX.as_bytes())
}

/// A byte allowed in a header value this codec writes or reads: VCHAR, SP,
/// HTAB (RFC 9110 §5.5; obs-text is not accepted, the spec names ASCII).
fn is_field_byte(b: u8) -> bool {
    matches!(b, b'\t' | 0x20..=0x7e)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, HeaderValueError};

    /// streamable-http.mdx §Value Encoding, "Encoding examples", verbatim:
    /// original value, reason, encoded header line.
    const SPEC_TABLE: &str = r#"
| `"us-west1"`           | Plain ASCII              | `Mcp-Param-Region: us-west1`                          |
| `"Hello, 世界"`        | Contains non-ASCII       | `Mcp-Param-Greeting: =?base64?SGVsbG8sIOS4lueVjA==?=` |
| `" padded "`           | Leading/trailing spaces  | `Mcp-Param-Text: =?base64?IHBhZGRlZCA=?=`             |
| `"line1\nline2"`       | Contains newline         | `Mcp-Param-Text: =?base64?bGluZTEKbGluZTI=?=`         |
| `"=?base64?literal?="` | Matches sentinel pattern | `Mcp-Param-Val: =?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=`  |
"#;

    #[test]
    fn spec_value_encoding_table() {
        let mut rows = 0;
        for line in SPEC_TABLE.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // The original is a JSON string literal inside backticks.
            let original: String =
                serde_json::from_str(cells[1].trim_matches('`')).expect("JSON string");
            let header = cells[3].trim_matches('`');
            let (_, value) = header.split_once(": ").expect("header line");
            assert_eq!(encode(&original), value, "{}", cells[2]);
            assert_eq!(decode(value.as_bytes()).unwrap(), original, "{}", cells[2]);
            rows += 1;
        }
        assert_eq!(rows, 5);
    }

    #[test]
    fn accept_table() {
        // (value, encoded): plain when header-safe with no edge whitespace
        // and not sentinel-shaped; the sentinel otherwise.
        for (value, encoded) in [
            ("", ""),
            ("a", "a"),
            ("a b\tc", "a b\tc"),
            (
                "file:///projects/myapp/config.json",
                "file:///projects/myapp/config.json",
            ),
            (
                "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
                "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
            ),
            // Case-sensitive markers: these are not the sentinel.
            ("=?BASE64?SGk=?=", "=?BASE64?SGk=?="),
            ("=?Base64?x?=", "=?Base64?x?="),
            // Markers that overlap are no sentinel either.
            ("=?base64?=", "=?base64?="),
            ("=?base64?", "=?base64?"),
            // Sentinel-shaped plain values are wrapped.
            ("=?base64??=", "=?base64?PT9iYXNlNjQ/Pz0=?="),
            ("=?base64?SGk=?=", "=?base64?PT9iYXNlNjQ/U0drPT89?="),
            // Edge whitespace, controls, DEL, non-ASCII.
            (" ", "=?base64?IA==?="),
            ("\t", "=?base64?CQ==?="),
            ("a ", "=?base64?YSA=?="),
            ("\ta", "=?base64?CWE=?="),
            ("a\rb", "=?base64?YQ1i?="),
            ("\0", "=?base64?AA==?="),
            ("\u{7f}", "=?base64?fw==?="),
            ("é", "=?base64?w6k=?="),
        ] {
            assert_eq!(encode(value), encoded, "{value:?}");
            assert_eq!(decode(encoded.as_bytes()).unwrap(), value, "{encoded:?}");
        }
        // A sentinel holding an empty payload decodes to the empty string
        // (the encoder writes "" plainly, but the spelling is canonical).
        assert_eq!(decode(b"=?base64??=").unwrap(), "");
        // A sentinel may wrap a value that did not need it.
        assert_eq!(decode(b"=?base64?dXMtd2VzdDE=?=").unwrap(), "us-west1");
        // Interior whitespace of a plain value is kept.
        assert_eq!(decode(b"a  b").unwrap(), "a  b");
    }

    #[test]
    fn reject_table() {
        for (header, error) in [
            (&b"a\rb"[..], HeaderValueError::InvalidChar),
            (b"a\nb", HeaderValueError::InvalidChar),
            (b"\0", HeaderValueError::InvalidChar),
            (b"\x7f", HeaderValueError::InvalidChar),
            (b"caf\xc3\xa9", HeaderValueError::InvalidChar),
            (b"\xff", HeaderValueError::InvalidChar),
            (b"=?base64?\xc3\xa9?=", HeaderValueError::InvalidChar),
            // Missing, short, long or misplaced padding.
            (b"=?base64?SGk?=", HeaderValueError::Base64),
            (b"=?base64?SG=?=", HeaderValueError::Base64),
            (b"=?base64?SGk==?=", HeaderValueError::Base64),
            (b"=?base64?=SGk?=", HeaderValueError::Base64),
            // Non-zero trailing bits: "SGl=" and "SGk=" both read as "Hi".
            (b"=?base64?SGl=?=", HeaderValueError::Base64),
            (b"=?base64?IB==?=", HeaderValueError::Base64),
            // Symbols of the URL-safe alphabet, whitespace inside, junk.
            (b"=?base64?-_8=?=", HeaderValueError::Base64),
            (b"=?base64?SG k=?=", HeaderValueError::Base64),
            (b"=?base64?S?=", HeaderValueError::Base64),
            (b"=?base64???=", HeaderValueError::Base64),
            // Canonical Base64 of bytes that are not UTF-8.
            (b"=?base64?/w==?=", HeaderValueError::Utf8),
            (b"=?base64?7aCA?=", HeaderValueError::Utf8), // a surrogate, ED A0 80
            (b"=?base64?wKA=?=", HeaderValueError::Utf8), // overlong C0 A0
        ] {
            assert_eq!(
                decode(header),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_inverts_encode(value in ".*") {
            let encoded = encode(&value);
            proptest::prop_assert_eq!(decode(encoded.as_bytes()).unwrap(), value.as_str());
            // What travels is always a valid header value.
            proptest::prop_assert!(encoded.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)));
            proptest::prop_assert!(!encoded.starts_with(' ') && !encoded.ends_with(' '));
        }
    }
}
