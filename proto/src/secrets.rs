//! Comparing secrets (tokens, OAuth `state`, digests) without telling an
//! attacker where they first differ.

/// `a == b` in time that depends only on the lengths: every byte of the
/// longer one is looked at, whatever the first difference.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let len = a.len().max(b.len());
    for index in 0..len {
        let x = a.get(index).copied().unwrap_or(0);
        let y = b.get(index).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_every_byte_and_the_length_agree() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(constant_time_eq(b"", b""));
        for (a, b) in [
            (&b"secret"[..], &b"secreT"[..]),
            (b"secret", b"secret2"),
            (b"secret", b""),
            (b"", b"x"),
            (b"Secret", b"secret"),
            (b"a\0", b"a"),
        ] {
            assert!(!constant_time_eq(a, b));
            assert!(!constant_time_eq(b, a));
        }
    }
}
