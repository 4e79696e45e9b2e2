#![allow(clippy::arithmetic_side_effects)]

use super::{dangerous_peek, open, seal, Seal, StateError, StatePayload, TOKEN_LEN};

/// A keyed FNV-1a for tests: not a MAC anyone should deploy, but keyed,
/// sensitive to every byte and to the boundaries between parts (each part's
/// length is hashed too), which is what these tests need.
pub(crate) struct Fnv(pub(crate) u64);

impl Seal for Fnv {
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut tag = [0_u8; 32];
        for (lane, chunk) in tag.chunks_mut(8).enumerate() {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.0 ^ (lane as u64);
            let mut eat = |b: u8| {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            };
            for part in parts {
                for b in (part.len() as u64).to_be_bytes() {
                    eat(b);
                }
                for &b in *part {
                    eat(b);
                }
            }
            chunk.copy_from_slice(&h.to_be_bytes());
        }
        tag
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.tag(parts) == tag
    }
}

const PAYLOAD: StatePayload = StatePayload {
    instance: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
    relay: 0x0a0b_0c0d,
    parked: 0x1112_1314_1516_1718,
    generation: 0x2122_2324,
    nonce: *b"\x31\x32\x33\x34\x35\x36\x37\x38",
    expires_ms: 0x4142_4344_4546_4748,
};

#[test]
fn payload_layout() {
    let bytes = PAYLOAD.to_bytes();
    let expected: Vec<u8> = [
        &[1, 2, 3, 4, 5, 6, 7, 8][..],
        &[0x0a, 0x0b, 0x0c, 0x0d],
        &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        &[0x21, 0x22, 0x23, 0x24],
        &[0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38],
        &[0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48],
    ]
    .concat();
    assert_eq!(bytes.as_slice(), expected.as_slice());
    assert_eq!(StatePayload::from_bytes(&bytes), PAYLOAD);
}

#[test]
fn round_trip_and_binding() {
    let key = Fnv(7);
    let token = seal(&key, &PAYLOAD, "tools/call", "get_weather");
    assert_eq!(token.len(), TOKEN_LEN);
    assert_eq!(TOKEN_LEN, 102);
    // P as Python's base64.urlsafe_b64encode writes it, padding stripped.
    assert!(token.starts_with("sg1.AQIDBAUGBwgKCwwNERITFBUWFxghIiMkMTIzNDU2NzhBQkNERUZHSA."));
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    assert_eq!(open(&key, &token, "tools/call", "get_weather"), Ok(PAYLOAD));
    assert_eq!(dangerous_peek(&token), Ok(PAYLOAD));
    // Bound to the key, the method and the target, and the split between
    // the last two.
    for (key, method, target) in [
        (Fnv(8), "tools/call", "get_weather"),
        (Fnv(7), "prompts/get", "get_weather"),
        (Fnv(7), "tools/call", "get_weathe"),
        (Fnv(7), "tools/call", ""),
        (Fnv(7), "tools/callg", "et_weather"),
        (Fnv(7), "tools/cal", "lget_weather"),
    ] {
        assert_eq!(open(&key, &token, method, target), Err(StateError::Mac));
    }
    // Every payload field is covered by the MAC.
    let mut p = PAYLOAD;
    p.expires_ms += 1;
    let other = seal(&key, &p, "tools/call", "get_weather");
    let forged = format!("{}{}", &other[..58], &token[58..]);
    assert_eq!(
        open(&key, &forged, "tools/call", "get_weather"),
        Err(StateError::Mac)
    );
    assert_eq!(dangerous_peek(&forged), Ok(p));
}

#[test]
fn flipping_any_symbol_is_refused() {
    let key = Fnv(1);
    let token = seal(&key, &PAYLOAD, "resources/read", "file:///x");
    for at in 0..token.len() {
        for replacement in [b'A', b'B', b'g', b'-', b'_', b'.', b'=', b'+'] {
            let mut bytes = token.clone().into_bytes();
            if bytes[at] == replacement {
                continue;
            }
            bytes[at] = replacement;
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(
                open(&key, &tampered, "resources/read", "file:///x").is_err(),
                "{tampered}"
            );
        }
    }
}

#[test]
fn reject_syntax_table() {
    let key = Fnv(3);
    let token = seal(&key, &PAYLOAD, "tools/call", "t");
    let (p, t) = token[4..].split_once('.').unwrap();
    let bad: Vec<String> = vec![
        String::new(),
        "sg1.".into(),
        format!("{token}-TAMPERED"),
        format!("{token}="),
        format!("{token}\n"),
        format!(" {token}"),
        token[..token.len() - 1].to_string(),
        format!("sg2.{p}.{t}"),
        format!("SG1.{p}.{t}"),
        format!("sg1{p}..{t}"),
        format!("sg1.{p}{t}."),
        // Right total length, wrong split.
        format!("sg1.{}.{}{}", &p[..53], &p[53..], t),
        format!("sg1.{}{}.{}", p, &t[..1], &t[1..]),
        // Padding, other alphabet.
        format!("sg1.{p}.{}=", &t[..42]),
        format!("sg1.{}+.{t}", &p[..53]),
        format!("sg1.{}/.{t}", &p[..53]),
        // Non-zero trailing bits in the last symbol of P (4 spare bits) and
        // of T (2 spare bits): the decoded bytes would be the same.
        format!("sg1.{}{}.{t}", &p[..53], flip_low_bit(&p[53..])),
        format!("sg1.{p}.{}{}", &t[..42], flip_low_bit(&t[42..])),
        // Non-ASCII of the same byte length.
        format!("sg1.{}é.{t}", &p[..52]),
    ];
    for bad in &bad {
        assert_eq!(
            open(&key, bad, "tools/call", "t"),
            Err(StateError::Syntax),
            "{bad:?}"
        );
        assert_eq!(dangerous_peek(bad), Err(StateError::Syntax), "{bad:?}");
    }
}

/// The base64url symbol whose value differs from `symbol`'s in bit 0.
fn flip_low_bit(symbol: &str) -> String {
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let at = URL.iter().position(|&b| b == symbol.as_bytes()[0]).unwrap();
    char::from(URL[at ^ 1]).to_string()
}

proptest::proptest! {
    #[test]
    fn seal_open_round_trip(
        instance: [u8; 8], relay: u32, parked: u64, generation: u32,
        nonce: [u8; 8], expires_ms: u64, key: u64,
        method in "[a-z/]{0,12}", target in ".{0,40}",
    ) {
        let payload = StatePayload { instance, relay, parked, generation, nonce, expires_ms };
        let token = seal(&Fnv(key), &payload, &method, &target);
        proptest::prop_assert_eq!(token.len(), TOKEN_LEN);
        proptest::prop_assert_eq!(open(&Fnv(key), &token, &method, &target), Ok(payload));
        proptest::prop_assert_eq!(
            open(&Fnv(key ^ 1), &token, &method, &target),
            Err(StateError::Mac)
        );
    }
}
