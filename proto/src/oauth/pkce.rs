//! PKCE (RFC 7636) and the `state` value, from random bytes the caller
//! draws (getrandom in the binary), with the SHA-256 the caller passes in
//! (ring in the binary): proto has neither a clock, nor randomness, nor a
//! digest. Also the base64url (no padding) codec they use, which is the
//! URL-safe alphabet of [`crate::mcp`]'s base64 module.

use crate::mcp::base64::{self, Alphabet};

use super::Secret;
use crate::secrets::constant_time_eq;

/// Bytes of randomness behind a verifier or a state: 32 gives a 43-symbol
/// verifier, the length RFC 7636 §4.1 recommends, and 256 bits of entropy.
pub const RANDOM_BYTES: usize = 32;

/// A PKCE `code_verifier`: 43 base64url symbols (RFC 7636 §4.1 allows
/// 43–128 of `[A-Za-z0-9-._~]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier(Secret);

impl Verifier {
    /// The verifier for `random`, which must come from a CSPRNG.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::pkce::Verifier;
    ///
    /// let verifier = Verifier::from_random(&[0; 32]);
    /// assert_eq!(verifier.secret().expose(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    /// // The caller's SHA-256; a stand-in here.
    /// let challenge = verifier.challenge(|_| [0xff; 32]);
    /// assert_eq!(challenge, "__________________________________________8");
    /// ```
    #[must_use]
    pub fn from_random(random: &[u8; RANDOM_BYTES]) -> Self {
        Self(Secret::new(base64url_encode(random)))
    }

    /// The `code_verifier` for the token request.
    #[must_use]
    pub const fn secret(&self) -> &Secret {
        &self.0
    }

    /// The S256 `code_challenge`: base64url(SHA-256(ASCII(verifier)))
    /// (RFC 7636 §4.2), with `sha256` the digest function.
    #[must_use]
    pub fn challenge(&self, sha256: impl FnOnce(&[u8]) -> [u8; 32]) -> String {
        base64url_encode(&sha256(self.0.expose().as_bytes()))
    }
}

/// The `state` of one authorization request (RFC 6749 §10.12), compared in
/// constant time when the redirect comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State(Secret);

impl State {
    /// The state for `random`, which must come from a CSPRNG.
    #[must_use]
    pub fn from_random(random: &[u8; RANDOM_BYTES]) -> Self {
        Self(Secret::new(base64url_encode(random)))
    }

    /// The value sent in the authorization URL.
    #[must_use]
    pub const fn secret(&self) -> &Secret {
        &self.0
    }

    /// Whether `received` is this state, in time that depends only on the
    /// lengths (an attacker probing the listener learns nothing byte by
    /// byte).
    #[must_use]
    pub fn matches(&self, received: &str) -> bool {
        constant_time_eq(self.0.expose().as_bytes(), received.as_bytes())
    }
}

/// base64url without padding (RFC 4648 §5, RFC 7636 Appendix A).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::pkce::{base64url_decode, base64url_encode};
///
/// assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
/// assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
/// assert_eq!(base64url_decode("-_8="), None);
/// ```
#[must_use]
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    base64::encode(bytes, Alphabet::UrlNoPad, &mut out);
    out
}

/// Decodes base64url without padding, `None` unless canonical.
#[must_use]
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    base64::decode(text.as_bytes(), Alphabet::UrlNoPad)
}

#[cfg(test)]
mod tests {
    use super::{base64url_decode, base64url_encode, State, Verifier};

    #[test]
    fn verifier_shape() {
        let random: [u8; 32] = core::array::from_fn(|i| u8::try_from(i * 7).unwrap());
        let verifier = Verifier::from_random(&random);
        let text = verifier.secret().expose();
        assert_eq!(text.len(), 43);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(base64url_decode(text).as_deref(), Some(&random[..]));
        // The digest sees exactly the verifier's ASCII.
        let mut seen = Vec::new();
        let challenge = verifier.challenge(|input| {
            seen = input.to_vec();
            [1; 32]
        });
        assert_eq!(seen, text.as_bytes());
        assert_eq!(challenge, base64url_encode(&[1; 32]));
        assert_eq!(format!("{verifier:?}"), "Verifier([redacted])");
    }

    #[test]
    fn rfc7636_appendix_b() {
        // The RFC's example verifier, from its 32 octets.
        let random = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = Verifier::from_random(&random);
        assert_eq!(
            verifier.secret().expose(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn state_matching() {
        let state = State::from_random(&[9; 32]);
        let text = state.secret().expose().to_owned();
        assert!(state.matches(&text));
        assert!(!state.matches(&text[..42]));
        assert!(!state.matches(""));
        let mut other = text.into_bytes();
        other[0] ^= 1;
        assert!(!state.matches(core::str::from_utf8(&other).unwrap()));
    }
}
