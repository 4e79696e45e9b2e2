//! JWT access tokens for the gateway's OAuth 2.1 resource server (MCP
//! 2026-07-28 `basic/authorization/`, RFC 9068), as pure functions: no I/O,
//! no clock (the caller passes `now` in Unix seconds), no key fetching (the
//! caller fetches the JWKS and hands its bytes to [`parse_jwks`]).
//!
//! # What the driver calls, in order
//!
//! 1. [`parse_jwks`] on the authorization server's `jwks_uri` document, once
//!    and on each refetch.
//! 2. Per request: [`decode`] the bearer token (size, three strict
//!    base64url parts, header JSON: `alg`, `kid`, `typ`, no `crit`).
//! 3. [`verify`] it against the keys and an [`Expect`] (issuer, resource,
//!    required scopes): signature first, then the claims. [`JwtError::NoKey`]
//!    means "refetch the JWKS (rate-limited) and try once more".
//! 4. For opaque tokens: [`parse_introspection`] on the RFC 7662 answer and
//!    [`check_introspection`] against the same [`Expect`].
//!
//! Every refusal is a [`JwtError`]: [`JwtError::status`] is the HTTP status
//! (403 for missing scopes, else 401) and [`JwtError::describe`] the text for
//! logs and `error_description`, never the token's contents.
//!
//! # What is refused, and why (RFC 8725 §3)
//!
//! Each item names the test in `jwt/tests.rs` that pins it.
//!
//! - Algorithms other than RS256, PS256, ES256 and EdDSA (Ed25519): `none`
//!   and the HMAC family above all (§3.1, §3.2), since the verifying keys are
//!   public (`unsupported_algorithms`, with the HS256-keyed-by-the-RSA-key
//!   forgery). A key verifies only the algorithm its type fits (an RSA key
//!   never checks an ES256 signature), and its `alg`, if stated, must be the
//!   header's (`algorithm_must_fit_the_key`).
//! - Any changed bit of header, payload or signature
//!   (`signature_refusals`, and each published vector's test).
//! - Keys named by the token itself (`jwk`, `jku`, `x5u`, `x5c` headers)
//!   are never used: only the configured issuer's JWKS counts
//!   (`header_refusals`).
//! - `crit` headers (we understand no extension, RFC 7515 §4.1.11) and
//!   `typ` values other than `at+jwt` / `application/at+jwt` / `JWT` (§3.11,
//!   RFC 9068 §4: an ID token or another JWT kind is not an access token)
//!   (`header_refusals`).
//! - Anything but three parts of canonical base64url: padding, `+` `/`,
//!   whitespace, impossible lengths, non-zero spare bits
//!   (`compact_form_refusals`); more than [`Limits::token_bytes`]
//!   (`size_limit`).
//! - Claims: `iss` must be the configured issuer, `aud` must contain the
//!   configured resource (RFC 8707 audience binding: a token minted for
//!   another resource is not accepted here), `exp` is required, `nbf` and
//!   `iat` may not be in the future (each with the leeway), `sub` is
//!   required (`claim_refusals`, `time_edges`), and every required scope
//!   must be granted (`scopes_and_client`). `iat` is checked only when
//!   present: RFC 9068 requires it, but some issuers omit it and `exp`
//!   already bounds the token's life.
//!
//! The JSON of the header and payload is read only after the size check,
//! and the payload only after the signature verified. Nothing here logs, and
//! no error or `Debug` output holds a token's contents.

use core::fmt;

use serde_json::{Map, Value};

use crate::mcp::base64::{self, Alphabet};

mod claims;
mod introspection;
mod jwks;
#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod vectors;

pub use self::claims::{env_value, Claims, ENV_CLAIMS, MAX_ENV_CLAIM_BYTES};
pub use self::introspection::{check_introspection, parse_introspection, Introspection};
pub use self::jwks::{parse_jwks, Jwks, JwksError};

/// Bounds on what a token, a JWKS or an introspection answer may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Default 8 KiB. Unit: bytes of the compact token. Bounds the base64
    /// and JSON work an unauthenticated request can cause (real access
    /// tokens are 1–2 KiB).
    pub token_bytes: usize,
    /// Default 64 KiB. Unit: bytes of a JWKS or introspection document.
    /// Bounds the JSON parse of what the authorization server sends.
    pub jwks_bytes: usize,
    /// Default 32. Unit: usable keys in a JWKS. Bounds the signature checks
    /// of a token without `kid`, which tries every fitting key.
    pub keys: usize,
}

impl Limits {
    /// The defaults above.
    pub const DEFAULT: Self = Self {
        token_bytes: 8 * 1024,
        jwks_bytes: 64 * 1024,
        keys: 32,
    };

    /// Sets [`Limits::token_bytes`].
    #[must_use]
    pub const fn token_bytes(mut self, bytes: usize) -> Self {
        self.token_bytes = bytes;
        self
    }

    /// Sets [`Limits::jwks_bytes`].
    #[must_use]
    pub const fn jwks_bytes(mut self, bytes: usize) -> Self {
        self.jwks_bytes = bytes;
        self
    }

    /// Sets [`Limits::keys`].
    #[must_use]
    pub const fn keys(mut self, keys: usize) -> Self {
        self.keys = keys;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A JWS signature algorithm we verify (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Alg {
    /// `EdDSA` with an Ed25519 key (RFC 8037).
    EdDsa,
    /// `ES256`: ECDSA P-256 with SHA-256, signature `r || s` (64 bytes).
    Es256,
    /// `PS256`: RSASSA-PSS with SHA-256 and MGF1-SHA-256, 2048–8192-bit keys.
    Ps256,
    /// `RS256`: RSASSA-PKCS1-v1_5 with SHA-256, 2048–8192-bit keys.
    Rs256,
}

impl Alg {
    /// The algorithm named `name` (case-sensitive, RFC 7515 §4.1.1), `None`
    /// for anything we do not verify (`none`, `HS256`, `RS384`, …).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            "PS256" => Some(Self::Ps256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    /// The JOSE name (`RS256`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

/// Why a token (or an introspection answer) is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// `aud` does not contain the configured resource.
    Audience,
    /// No key verified the signature.
    BadSignature,
    /// The token expired (`exp` plus the leeway is not after now).
    Expired,
    /// An introspection answer says `"active": false`.
    Inactive,
    /// Required scopes the token does not carry (answer 403
    /// `insufficient_scope`). The names are ours, from [`Expect::scopes`].
    InsufficientScope {
        /// The required scopes missing from the token, in [`Expect::scopes`] order.
        missing: Vec<String>,
    },
    /// `iss` is not the configured issuer.
    Issuer,
    /// Not a compact JWS or introspection answer we can read; the text says
    /// which part (never its contents).
    Malformed(&'static str),
    /// A required claim is missing (or not of its type).
    MissingClaim(&'static str),
    /// No key of the JWKS fits: the `kid` is unknown, or no key of the
    /// header's algorithm. The driver refetches the JWKS (rate-limited) and
    /// tries once more.
    NoKey,
    /// `nbf` or `iat` is in the future beyond the leeway.
    NotYetValid,
    /// Larger than [`Limits::token_bytes`] (or [`Limits::jwks_bytes`] for an
    /// introspection answer).
    Oversize,
    /// `typ` is not an access-token type (or an introspection answer's
    /// `token_type` is neither `Bearer` nor `access_token`).
    Type,
    /// `alg` is not one we verify (`none`, HMAC, …).
    UnsupportedAlg,
}

impl JwtError {
    /// The HTTP status of the refusal: 403 for missing scopes (RFC 6750
    /// §3.1 `insufficient_scope`), else 401 (`invalid_token`).
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::InsufficientScope { .. } => 403,
            _ => 401,
        }
    }

    /// One line for logs and the `error_description`: what was wrong,
    /// never the token's contents.
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Audience => "the token is not meant for this resource",
            Self::BadSignature => "the token's signature does not verify",
            Self::Expired => "the token has expired",
            Self::Inactive => "the token is not active",
            Self::InsufficientScope { .. } => "the token lacks a required scope",
            Self::Issuer => "the token is from another issuer",
            Self::Malformed(what) => what,
            Self::MissingClaim(what) => what,
            Self::NoKey => "no key of the issuer verifies this token",
            Self::NotYetValid => "the token is not valid yet",
            Self::Oversize => "the token is too large",
            Self::Type => "the token is not an access token",
            Self::UnsupportedAlg => "the token's signature algorithm is not accepted",
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed token: {what}"),
            Self::MissingClaim(what) => write!(f, "the token has no valid `{what}` claim"),
            Self::InsufficientScope { missing } => {
                f.write_str("the token lacks required scopes:")?;
                for scope in missing {
                    write!(f, " {}", crate::oauth::printable(scope))?;
                }
                Ok(())
            }
            _ => f.write_str(self.describe()),
        }
    }
}

impl std::error::Error for JwtError {}

/// What a token must say to be accepted here.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// `iss`, compared exactly (RFC 8414 issuer identifier).
    pub issuer: &'a str,
    /// A value `aud` must contain, compared exactly: this server's canonical
    /// resource URI (RFC 8707, MCP authorization "Token Audience Binding").
    pub audience: &'a str,
    /// Every one must be among the token's scopes.
    pub scopes: &'a [String],
    /// Default 60 ([`Expect::DEFAULT_LEEWAY_SECS`]). Unit: seconds of clock
    /// skew allowed between us and the issuer, on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
}

impl Expect<'_> {
    /// The default [`Expect::leeway_secs`].
    pub const DEFAULT_LEEWAY_SECS: u64 = 60;
}

/// A compact JWS whose header was read and whose signature is not yet
/// checked. Nothing in it is to be trusted before [`verify`]. Its `Debug`
/// shows only `alg` and `kid`: the rest is a bearer credential.
#[derive(Clone)]
pub struct Unverified<'a> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`, what the signature covers.
    signing_input: &'a [u8],
    alg: Alg,
    kid: Option<String>,
    /// Decoded payload bytes, parsed as JSON only after the signature verified.
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Unverified<'_> {
    /// The header's `kid`, if any (bounded by the token size).
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `alg`.
    #[must_use]
    pub fn alg(&self) -> Alg {
        self.alg
    }
}

/// Reads a compact JWS (RFC 7515 §7.1): exactly three parts of strict
/// base64url (no padding, only `A–Z a–z 0–9 - _`, canonical), a header
/// that is a JSON object with a supported `alg`, an optional string `kid`,
/// an access-token `typ` or none, and no `crit`.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jwt::{decode, JwtError, Limits};
///
/// // {"alg":"none"}.{}. is refused before any key is looked at.
/// let token = b"eyJhbGciOiJub25lIn0.e30.";
/// assert_eq!(decode(token, Limits::DEFAULT).err(), Some(JwtError::UnsupportedAlg));
/// assert_eq!(decode(b"a.b", Limits::DEFAULT).err(), Some(JwtError::Malformed("not three parts")));
/// ```
pub fn decode(token: &[u8], limits: Limits) -> Result<Unverified<'_>, JwtError> {
    if token.len() > limits.token_bytes {
        return Err(JwtError::Oversize);
    }
    let mut parts = token.splitn(4, |&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three parts"));
    };
    let signing_len = header
        .len()
        .checked_add(1)
        .and_then(|n| n.checked_add(payload.len()))
        .ok_or(JwtError::Malformed("length"))?;
    let signing_input = token
        .get(..signing_len)
        .ok_or(JwtError::Malformed("length"))?;

    let header = b64(header, "header is not base64url")?;
    let header = json_object(&header).ok_or(JwtError::Malformed("header is not a JSON object"))?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Alg::from_name(name).ok_or(JwtError::UnsupportedAlg)?,
        _ => return Err(JwtError::Malformed("header has no alg")),
    };
    // RFC 7515 §4.1.11: a recipient must reject extensions it does not
    // understand, and we understand none.
    if header.contains_key("crit") {
        return Err(JwtError::Malformed("header has crit"));
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if access_token_type(typ) => {}
        Some(_) => return Err(JwtError::Type),
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("kid is not a string")),
    };

    let payload = b64(payload, "payload is not base64url")?;
    let signature = b64(signature, "signature is not base64url")?;
    if signature.is_empty() {
        return Err(JwtError::Malformed("no signature"));
    }
    Ok(Unverified {
        signing_input,
        alg,
        kid,
        payload,
        signature,
    })
}

/// Checks the signature of `token` against `keys`, then its claims against
/// `expect` at `now` (Unix seconds), and returns them.
///
/// Keys tried: those that fit the header's `alg` and whose `kid` is the
/// header's (when no key has it, those without a `kid`; every key when the
/// header has none); none → [`JwtError::NoKey`], none verifies →
/// [`JwtError::BadSignature`]. The claim checks are listed
/// in the module documentation.
pub fn verify(
    token: &Unverified<'_>,
    keys: &Jwks,
    expect: &Expect<'_>,
    now: u64,
) -> Result<Claims, JwtError> {
    verify_signature(token, keys)?;
    let payload =
        json_object(&token.payload).ok_or(JwtError::Malformed("payload is not a JSON object"))?;
    claims::check(&payload, expect, now)
}

/// The signature part of [`verify`] alone: `Ok` when a fitting key of
/// `keys` verifies it. Does not look at the claims.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jwt::{decode, parse_jwks, verify_signature, JwtError, Limits};
///
/// // RFC 8037 Appendix A.2's public key and A.4's token.
/// let keys = parse_jwks(
///     br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
///     Limits::DEFAULT,
/// )
/// .unwrap();
/// let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
///     hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
/// let token = decode(token.as_bytes(), Limits::DEFAULT).unwrap();
/// assert_eq!(verify_signature(&token, &keys), Ok(()));
/// ```
pub fn verify_signature(token: &Unverified<'_>, keys: &Jwks) -> Result<(), JwtError> {
    let mut tried = false;
    for key in keys.candidates(token.alg, token.kid.as_deref()) {
        tried = true;
        if key.verify(token.alg, token.signing_input, &token.signature) {
            return Ok(());
        }
    }
    if tried {
        Err(JwtError::BadSignature)
    } else {
        Err(JwtError::NoKey)
    }
}

/// `typ` values of an access token, case-insensitive (RFC 7515 §4.1.9:
/// `application/` may be omitted; RFC 9068 §2.1 `at+jwt`; plain `JWT` is
/// what many issuers still write).
fn access_token_type(typ: &str) -> bool {
    let typ = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .and_then(|_| typ.get(12..))
        .unwrap_or(typ);
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("jwt")
}

fn b64(part: &[u8], what: &'static str) -> Result<Vec<u8>, JwtError> {
    base64::decode(part, Alphabet::UrlNoPad).ok_or(JwtError::Malformed(what))
}

/// A JSON object, `None` for anything else. Callers bound the input first.
pub(crate) fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}
