//! MCP 2026-07-28 harnesses (`header_value`, `canonical`, `request_state`).

// Fuzz harnesses assert properties by panicking, so the panic, indexing and
// arithmetic lints are allowed on them (STYLE.md 19).

use crate::jsonrpc::{canonical as canonical_text, CanonicalError};
use crate::mcp::header_value::{decode, encode};
use crate::mcp::request_state::{
    check_instance_id, dangerous_peek, open, seal, split_instance, Seal, StatePayload, TOKEN_LEN,
};

/// Fuzz target `header_value`: the input is a received header value.
/// `decode` never panics; a plain value decodes to itself; an accepted
/// sentinel re-encodes to exactly the input unless it needlessly wrapped a
/// plain value (so the sentinel decoding is injective: no second Base64
/// spelling of one value); and, when the input is UTF-8, `decode(encode(s)) == s` with
/// `encode(s)` a valid header value (visible ASCII, SP, HTAB; no space or
/// tab at either end).
#[allow(clippy::panic, clippy::expect_used, clippy::indexing_slicing)]
pub fn header_value(data: &[u8]) {
    if let Ok(value) = decode(data) {
        let sentinel = data.len() >= 11 && data.starts_with(b"=?base64?") && data.ends_with(b"?=");
        if sentinel {
            let again = encode(&value);
            assert!(
                again.as_bytes() == data || again == value,
                "a second sentinel spelling of one value"
            );
        } else {
            assert_eq!(value.as_bytes(), data, "a plain value is itself");
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let encoded = encode(text);
        let bytes = encoded.as_bytes();
        assert!(
            bytes
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)),
            "encoded value has a byte a header cannot carry"
        );
        assert!(!matches!(bytes.first(), Some(b' ' | b'\t')));
        assert!(!matches!(bytes.last(), Some(b' ' | b'\t')));
        assert_eq!(decode(bytes).expect("own encoding decodes"), text);
    }
}

/// Fuzz target `canonical`: differential against serde_json. Never panics;
/// accepts exactly what serde_json reads as a `Value` (modulo numbers out of
/// f64 range, which serde_json refuses and we keep as written, duplicate
/// keys, which serde_json lets the last win and we refuse, and deep nesting,
/// where the recursion limits differ); the canonical text reads as the same
/// `Value`, is its own canonical text, and serde_json's compact output of
/// that value (sorted keys, minimal escapes) is canonical as it stands.
#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn canonical(data: &[u8]) {
    let result = canonical_text(data);
    let shallow = data.iter().filter(|&&b| b == b'[' || b == b'{').count() < 100;
    let reference = serde_json::from_slice::<serde_json::Value>(data);
    match (&result, &reference) {
        (Ok(out), Ok(value)) => {
            let back: serde_json::Value =
                serde_json::from_slice(out).expect("canonical text is JSON");
            assert_eq!(&back, value, "canonical text changed the value");
            let compact = serde_json::to_vec(value).expect("serialises");
            assert_eq!(
                canonical_text(&compact).expect("serde_json output canonicalises"),
                compact,
                "serde_json's sorted compact output is not a fixed point"
            );
        }
        (Ok(_), Err(error)) => assert!(
            !shallow || error.to_string().contains("out of range"),
            "we accept what serde_json refuses: {error}"
        ),
        (Err(CanonicalError::Json | CanonicalError::LoneSurrogate), Ok(_)) => {
            assert!(!shallow, "we refuse what serde_json accepts: {result:?}")
        }
        _ => {}
    }
    if let Ok(out) = &result {
        assert_eq!(
            canonical_text(out).as_ref(),
            Ok(out),
            "canonical is not idempotent"
        );
        // Only whitespace and escapes are dropped: never longer.
        assert!(out.len() <= data.len(), "canonical text grew");
    }
}

/// Fuzz target `request_state`. Byte 0 selects the mode:
///
/// - even: the rest (lossily as UTF-8) is a token: `open` and
///   `dangerous_peek` never panic, agree on the syntax, and a token `open`
///   accepts is exactly the one `seal` writes for its payload (one text per
///   payload: the codec is canonical); `split_instance` never panics, and
///   what it splits is an instance id, `.` and a token-shaped rest, and
///   never a bare token;
/// - odd: the next 40 bytes are a payload, the rest splits at its first
///   NUL into method and target (lossily UTF-8): `seal` → `open` gives the
///   payload back, the token has the fixed length, and changing any one
///   symbol of it (position and value from the payload bytes) is refused.
#[allow(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub fn request_state(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = FnvSeal(0x5eed);
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        let opened = open(&key, &token, "tools/call", "echo");
        let peeked = dangerous_peek(&token);
        if let Ok(payload) = opened {
            assert_eq!(peeked, Ok(payload));
            assert_eq!(seal(&key, &payload, "tools/call", "echo"), token);
        }
        if peeked.is_err() {
            assert!(opened.is_err(), "open accepts what peek refuses");
        }
        if let Some((id, bare)) = split_instance(&token) {
            assert_eq!(format!("{id}.{bare}"), token);
            assert_eq!(check_instance_id(id), Ok(()));
            assert_eq!(bare.len(), TOKEN_LEN);
            assert!(opened.is_err(), "a prefixed token opened as a bare one");
        }
        return;
    }
    let Some((p, text)) = rest.split_first_chunk::<{ StatePayload::LEN }>() else {
        return;
    };
    let payload = StatePayload::from_bytes(p);
    assert_eq!(&payload.to_bytes(), p);
    let text = String::from_utf8_lossy(text);
    let (method, target) = text.split_once('\0').unwrap_or((&text, ""));
    let token = seal(&key, &payload, method, target);
    assert_eq!(token.len(), TOKEN_LEN);
    assert_eq!(open(&key, &token, method, target), Ok(payload));
    let at = usize::from(p[0]) % token.len();
    let symbols = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/";
    let replacement = symbols[usize::from(p[1]) % symbols.len()];
    let mut tampered = token.clone().into_bytes();
    if tampered[at] != replacement {
        tampered[at] = replacement;
        let tampered = String::from_utf8(tampered).expect("ASCII");
        assert!(open(&key, &tampered, method, target).is_err(), "{tampered}");
    }
}

/// A keyed FNV-1a with four lanes and length-prefixed parts: a stand-in MAC
/// (sensitive to every byte and part boundary), so the harness needs no
/// crypto crate. Never use it for real tokens.
struct FnvSeal(u64);

impl Seal for FnvSeal {
    #[allow(clippy::indexing_slicing)]
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut tag = [0_u8; 32];
        for (lane, chunk) in (0_u64..).zip(tag.chunks_mut(8)) {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.0 ^ lane;
            let mut eat = |b: u8| {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            };
            for part in parts {
                u64::try_from(part.len())
                    .unwrap_or(u64::MAX)
                    .to_be_bytes()
                    .into_iter()
                    .for_each(&mut eat);
                part.iter().copied().for_each(&mut eat);
            }
            chunk.copy_from_slice(&h.to_be_bytes());
        }
        tag
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.tag(parts) == tag
    }
}
