//! Session ids: 122 random bits from the OS CSPRNG, formatted as a UUID v4
//! (what the reference SDK issues; visible ASCII, as MCP requires).

use crate::rt;

/// A new session id: 122 random bits (see [`rt::random_bytes`]).
pub(crate) fn new() -> String {
    let mut bytes = rt::random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut id = String::with_capacity(36);
    for (index, group) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if index > 0 {
            id.push('-');
        }
        rt::push_hex(&mut id, bytes.get(group).unwrap_or_default());
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_v4_shape_and_uniqueness() {
        let a = super::new();
        let b = super::new();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    }
}
