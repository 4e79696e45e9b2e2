//! Base64 (RFC 4648), in-tree: the standard alphabet with padding for the
//! `=?base64?…?=` header sentinel ([`super::header_value`]) and the URL-safe
//! alphabet without padding for `requestState` tokens
//! ([`super::request_state`]).
//!
//! Decoding is strict: only the canonical encoding of some byte string is
//! accepted (RFC 4648 §3.5 lets decoders reject non-zero pad bits; we must,
//! or one value would have several header spellings and one token several
//! texts). No whitespace, no line breaks, no mixed alphabets, padding exactly
//! as the encoder writes it.

/// Which of RFC 4648's two alphabets, and whether `=` padding is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// §4: `A–Z a–z 0–9 + /`, padded to a multiple of four symbols.
    Standard,
    /// §5: `A–Z a–z 0–9 - _`, never padded (§3.2 lets a specification omit it).
    UrlNoPad,
}

impl Alphabet {
    fn symbols(self) -> &'static [u8; 64] {
        match self {
            Self::Standard => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            Self::UrlNoPad => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        }
    }

    fn padded(self) -> bool {
        self == Self::Standard
    }

    /// The 6-bit value of `symbol`, `None` for a byte outside the alphabet.
    fn value(self, symbol: u8) -> Option<u32> {
        let (sixty_two, sixty_three) = match self {
            Self::Standard => (b'+', b'/'),
            Self::UrlNoPad => (b'-', b'_'),
        };
        let value = match symbol {
            b'A'..=b'Z' => symbol.checked_sub(b'A')?,
            b'a'..=b'z' => symbol.checked_sub(b'a')?.checked_add(26)?,
            b'0'..=b'9' => symbol.checked_sub(b'0')?.checked_add(52)?,
            _ if symbol == sixty_two => 62,
            _ if symbol == sixty_three => 63,
            _ => return None,
        };
        Some(u32::from(value))
    }
}

/// Appends the encoding of `input` to `out`.
pub(crate) fn encode(input: &[u8], alphabet: Alphabet, out: &mut String) {
    let symbols = alphabet.symbols();
    for chunk in input.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = byte(0).wrapping_shl(16) | byte(1).wrapping_shl(8) | byte(2);
        // A chunk of n bytes (1–3) needs n + 1 symbols; the rest is padding.
        let used = chunk.len().saturating_add(1);
        for (i, shift) in [18_u32, 12, 6, 0].into_iter().enumerate() {
            if i < used {
                let six = usize::try_from(group.wrapping_shr(shift) & 0x3f).unwrap_or(0);
                out.push(char::from(symbols.get(six).copied().unwrap_or(b'A')));
            } else if alphabet.padded() {
                out.push('=');
            }
        }
    }
}

/// Decodes `input`, `None` unless it is the canonical encoding of some bytes.
pub(crate) fn decode(input: &[u8], alphabet: Alphabet) -> Option<Vec<u8>> {
    let body = if alphabet.padded() {
        if input.len() % 4 != 0 {
            return None;
        }
        let body = input.strip_suffix(b"=").unwrap_or(input);
        let body = body.strip_suffix(b"=").unwrap_or(body);
        // Exactly the padding that completes the last group: none after a
        // full group, two after two symbols, one after three.
        let padding = input.len().saturating_sub(body.len());
        let expected = match body.len() % 4 {
            0 => 0,
            2 => 2,
            3 => 1,
            _ => return None,
        };
        if padding != expected {
            return None;
        }
        body
    } else {
        input
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(3) / 4);
    for chunk in body.chunks(4) {
        let mut group: u32 = 0;
        for (i, &symbol) in chunk.iter().enumerate() {
            let shift = 18_u32.checked_sub(u32::try_from(i).ok()?.checked_mul(6)?)?;
            group |= alphabet.value(symbol)?.wrapping_shl(shift);
        }
        // `chunk.len()` symbols carry `chunk.len() - 1` whole bytes; the bits
        // below them must be zero in a canonical encoding.
        let bytes = chunk.len().checked_sub(1)?;
        let spare_bits = match bytes {
            1 => 16,
            2 => 8,
            _ => 0,
        };
        if spare_bits > 0 && group & (1_u32.wrapping_shl(spare_bits).wrapping_sub(1)) != 0 {
            return None;
        }
        let [_, b0, b1, b2] = group.to_be_bytes();
        out.extend_from_slice([b0, b1, b2].get(..bytes)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, Alphabet};

    fn enc(input: &[u8], alphabet: Alphabet) -> String {
        let mut out = String::new();
        encode(input, alphabet, &mut out);
        out
    }

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10.
        for (plain, padded, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(plain.as_bytes(), Alphabet::Standard), padded);
            assert_eq!(enc(plain.as_bytes(), Alphabet::UrlNoPad), url);
            assert_eq!(
                decode(padded.as_bytes(), Alphabet::Standard).unwrap(),
                plain.as_bytes()
            );
            assert_eq!(
                decode(url.as_bytes(), Alphabet::UrlNoPad).unwrap(),
                plain.as_bytes()
            );
        }
        // The two alphabets differ in symbols 62 and 63 only.
        assert_eq!(enc(&[0xfb, 0xff], Alphabet::Standard), "+/8=");
        assert_eq!(enc(&[0xfb, 0xff], Alphabet::UrlNoPad), "-_8");
    }

    #[test]
    fn every_length_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            for alphabet in [Alphabet::Standard, Alphabet::UrlNoPad] {
                let text = enc(&bytes[..len], alphabet);
                assert_eq!(
                    decode(text.as_bytes(), alphabet).as_deref(),
                    Some(&bytes[..len])
                );
            }
        }
    }

    #[test]
    fn reject_non_canonical() {
        for bad in [
            "Zg",       // padding missing
            "Zg=",      // padding short
            "Zg===",    // padding long
            "Zh==",     // non-zero trailing bits (h = 33 = 0b100001)
            "Zm9=",     // non-zero trailing bits
            "Z===",     // one symbol cannot carry a byte
            "=Zg=",     // padding first
            "Zg==Zg==", // padding in the middle
            "Zm 9v",    // whitespace
            "Zm9v\n",   // line break
            "-_8=",     // URL-safe symbols in the standard alphabet
            "Zm9",      // padding missing
            "Z",        // too short
        ] {
            assert_eq!(decode(bad.as_bytes(), Alphabet::Standard), None, "{bad:?}");
        }
        for bad in [
            "Zg==",      // padding
            "Zh",        // non-zero trailing bits
            "Zm9",       // non-zero trailing bits (9 = 61 = 0b111101)
            "Z",         // one symbol cannot carry a byte
            "Zm9vY",     // likewise after a full group
            "+/8",       // standard symbols in the URL-safe alphabet
            "Zm9v=",     // padding
            "Zm9v.",     // a byte outside the alphabet
            "Zm9\u{e9}", // non-ASCII
        ] {
            assert_eq!(decode(bad.as_bytes(), Alphabet::UrlNoPad), None, "{bad:?}");
        }
    }
}
