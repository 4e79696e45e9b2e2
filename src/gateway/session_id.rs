//! Session ids: 122 random bits from the OS CSPRNG, formatted as a UUID v4
//! (what the reference SDK issues; visible ASCII, as MCP requires).

/// 128 bits from the OS CSPRNG. Aborts the process if the OS has no
/// randomness to give, since a predictable id or token would be a security
/// hole.
pub(crate) fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if let Err(err) = getrandom::fill(&mut bytes) {
        tracing::error!("the OS random number generator failed: {err}");
        std::process::abort();
    }
    bytes
}

/// A new session id (see [`random_bytes`]).
pub(crate) fn new() -> String {
    let mut bytes = random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut id = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(hex_digit(byte >> 4));
        id.push(hex_digit(byte & 0x0f));
    }
    id
}

fn hex_digit(nibble: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(nibble))
            .copied()
            .unwrap_or(b'0'),
    )
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
