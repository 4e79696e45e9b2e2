//! The binary's [`Seal`] for `requestState` tokens: HMAC-SHA-256 (ring)
//! under a 32-byte key drawn from the OS CSPRNG once per process. Tokens
//! therefore never outlive the process that sealed them, which is what the
//! monotonic expiry inside them assumes (design 2026-07-28 c.6).

use ring::hmac;
use supergateway_proto::mcp::request_state::Seal;

/// HMAC-SHA-256 under a per-process random key.
pub(crate) struct HmacSeal {
    key: hmac::Key,
}

impl HmacSeal {
    /// A seal with a fresh key from the OS CSPRNG. Aborts the process if the
    /// OS has no randomness to give, as `rt::random_bytes` does: a guessable
    /// key would let anyone forge tokens.
    pub(crate) fn random() -> Self {
        let mut key = [0_u8; 32];
        if let Err(err) = getrandom::fill(&mut key) {
            tracing::error!("the OS random number generator failed: {err}");
            std::process::abort();
        }
        Self::with_key(&key)
    }

    fn with_key(key: &[u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }
}

impl Seal for HmacSeal {
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        for part in parts {
            context.update(part);
        }
        // HMAC-SHA-256 tags are 32 bytes by definition; the fallback is
        // unreachable and would only make every token fail to open.
        <[u8; 32]>::try_from(context.sign().as_ref()).unwrap_or([0; 32])
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        // `hmac::verify` compares in constant time; it takes one message.
        let message = parts.concat();
        hmac::verify(&self.key, &message, tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use supergateway_proto::mcp::request_state::{open, seal, Seal, StateError, StatePayload};

    use super::HmacSeal;

    #[test]
    fn rfc4231_test_case_2() {
        // RFC 4231 §4.3 uses a 4-byte key ("Jefe"); HMAC pads keys with
        // zeros to the block size, so the same key zero-extended to 32 bytes
        // gives the same tag.
        let mut key = [0_u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let seal = HmacSeal::with_key(&key);
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        let tag = seal.tag(&parts);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(seal.verify(&parts, &tag));
        assert!(seal.verify(&[b"what do ya want for nothing?"], &tag));
        let mut wrong = tag;
        wrong[31] ^= 1;
        assert!(!seal.verify(&parts, &wrong));
        assert!(!seal.verify(&parts, &tag[..31]));
    }

    #[test]
    fn tokens_open_only_under_their_key() {
        let payload = StatePayload {
            instance: [1; 8],
            relay: 2,
            parked: 3,
            generation: 4,
            nonce: [5; 8],
            expires_ms: 6,
        };
        let (a, b) = (HmacSeal::random(), HmacSeal::random());
        let token = seal(&a, &payload, "tools/call", "echo");
        assert_eq!(open(&a, &token, "tools/call", "echo"), Ok(payload));
        assert_eq!(open(&b, &token, "tools/call", "echo"), Err(StateError::Mac));
        assert_eq!(
            open(&a, &token, "tools/call", "echo2"),
            Err(StateError::Mac)
        );
    }
}
