//! JSON Web Key Sets (RFC 7517 §5) of the public keys that sign access
//! tokens, and the signature check with each kind of key (`ring`).

use core::fmt;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use super::{json_object, Alg, Limits};
use crate::mcp::base64::{self, Alphabet};

/// The usable signing keys of a JWKS, in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// How many usable keys the document held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was usable.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some usable key has this `kid`.
    #[must_use]
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid.as_deref() == Some(kid))
    }

    /// Keys that may verify a token signed with `alg` and naming `kid`:
    /// those fitting `alg` with that kid; when none has it, those fitting
    /// `alg` that have no kid at all (a `kid` is only a hint, RFC 7515
    /// §4.1.4, and some issuers publish keys without one); every key
    /// fitting `alg` when the token names none. Duplicate kids are all
    /// tried: an issuer rotating keys may reuse one.
    pub(super) fn candidates<'k>(
        &'k self,
        alg: Alg,
        kid: Option<&'k str>,
    ) -> impl Iterator<Item = &'k Jwk> + 'k {
        let named = kid.is_some()
            && self
                .keys
                .iter()
                .any(|key| key.fits(alg) && key.kid.as_deref() == kid);
        self.keys.iter().filter(move |key| {
            key.fits(alg)
                && match kid {
                    None => true,
                    Some(_) if named => key.kid.as_deref() == kid,
                    Some(_) => key.kid.is_none(),
                }
        })
    }
}

/// Why a JWKS document was refused as a whole. Single keys we cannot use
/// are skipped instead (RFC 7517 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object with a `keys` array; the text says which part.
    Malformed(&'static str),
    /// Larger than [`Limits::jwks_bytes`].
    Oversize,
    /// More usable keys than [`Limits::keys`].
    TooManyKeys,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed JWKS: {what}"),
            Self::Oversize => f.write_str("the JWKS is too large"),
            Self::TooManyKeys => f.write_str("the JWKS has too many signing keys"),
        }
    }
}

impl std::error::Error for JwksError {}

/// Reads a JWKS (`{"keys": [...]}`), keeping the keys we can verify with:
/// `kty` `RSA` (2048–8192-bit `n`), `EC` with `crv` `P-256` (32-byte `x`
/// and `y`), `OKP` with `crv` `Ed25519` (32-byte `x`); `use` absent or
/// `sig`; `key_ops` absent or holding `verify`; `alg` absent or one we
/// verify and that fits the key type. Other entries are skipped, as RFC
/// 7517 §5 asks (an `enc` key, an X25519 key, a missing `kty`).
///
/// # Examples
///
/// ```
/// use supergateway_proto::jwt::{parse_jwks, JwksError, Limits};
///
/// let jwks = br#"{"keys":[
///   {"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///   {"kty":"OKP","crv":"X25519","kid":"b","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}
/// ]}"#;
/// let keys = parse_jwks(jwks, Limits::DEFAULT).unwrap();
/// assert_eq!(keys.len(), 1);
/// assert!(keys.has_kid("a") && !keys.has_kid("b"));
/// assert_eq!(parse_jwks(b"[]", Limits::DEFAULT), Err(JwksError::Malformed("not a JSON object")));
/// ```
pub fn parse_jwks(json: &[u8], limits: Limits) -> Result<Jwks, JwksError> {
    if json.len() > limits.jwks_bytes {
        return Err(JwksError::Oversize);
    }
    let document = json_object(json).ok_or(JwksError::Malformed("not a JSON object"))?;
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err(JwksError::Malformed("no keys array"));
    };
    let mut keys = Vec::new();
    for entry in entries {
        let Value::Object(entry) = entry else {
            continue;
        };
        let Some(key) = Jwk::parse(entry) else {
            continue;
        };
        if keys.len() >= limits.keys {
            return Err(JwksError::TooManyKeys);
        }
        keys.push(key);
    }
    Ok(Jwks { keys })
}

/// One usable public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Jwk {
    kid: Option<String>,
    /// The key's own `alg`, when it names one: it then verifies only that.
    alg: Option<Alg>,
    material: Material,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    /// Big-endian modulus (2048–8192 bits, no leading zero byte) and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point `0x04 || x || y`, 65 bytes.
    P256 { point: Vec<u8> },
    /// The 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

impl Jwk {
    fn parse(entry: &Map<String, Value>) -> Option<Self> {
        let text = |name: &str| match entry.get(name) {
            Some(Value::String(value)) => Some(value.as_str()),
            _ => None,
        };
        let bytes = |name: &str| base64::decode(text(name)?.as_bytes(), Alphabet::UrlNoPad);
        // RFC 7517 §4.2 and §4.3: a key meant for encryption, or whose
        // operations exclude verification, is not ours to verify with.
        match entry.get("use") {
            None => {}
            Some(Value::String(usage)) if usage == "sig" => {}
            Some(_) => return None,
        }
        match entry.get("key_ops") {
            None => {}
            Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => {}
            Some(_) => return None,
        }
        let material = match text("kty")? {
            "RSA" => {
                let n = bytes("n")?;
                let e = bytes("e")?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                let bits = rsa_bits(n)?;
                // ring verifies 2048–8192-bit moduli and exponents of at
                // most 33 bits; anything else could never verify.
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 5 {
                    return None;
                }
                Material::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                }
            }
            "EC" if text("crv")? == "P-256" => {
                let x = bytes("x")?;
                let y = bytes("y")?;
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::P256 { point }
            }
            "OKP" if text("crv")? == "Ed25519" => {
                let x = bytes("x")?;
                if x.len() != 32 {
                    return None;
                }
                Material::Ed25519 { x }
            }
            _ => return None,
        };
        let alg = match entry.get("alg") {
            None => None,
            Some(Value::String(name)) => Some(Alg::from_name(name)?),
            Some(_) => return None,
        };
        let kid = match entry.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return None,
        };
        let key = Self { kid, alg, material };
        // A key whose own alg does not fit its type can verify nothing.
        if let Some(alg) = key.alg {
            if !key.material.fits(alg) {
                return None;
            }
        }
        Some(key)
    }

    /// Whether this key may verify `alg` signatures: its type fits, and its
    /// own `alg`, if stated, is `alg` (RFC 8725 §3.1: the key, not the
    /// token, decides the algorithm).
    pub(super) fn fits(&self, alg: Alg) -> bool {
        self.alg.is_none_or(|own| own == alg) && self.material.fits(alg)
    }

    /// Whether `signature` over `message` verifies with this key under
    /// `alg`. The caller checked [`Jwk::fits`].
    pub(super) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        match (&self.material, alg) {
            (Material::Rsa { n, e }, Alg::Rs256 | Alg::Ps256) => {
                let params = if alg == Alg::Rs256 {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            (Material::P256 { point }, Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Ed25519 { x }, Alg::EdDsa) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            _ => false,
        }
    }
}

impl Material {
    fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (Self::Rsa { .. }, Alg::Rs256 | Alg::Ps256)
                | (Self::P256 { .. }, Alg::Es256)
                | (Self::Ed25519 { .. }, Alg::EdDsa)
        )
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros..).unwrap_or_default()
}

/// Bit length of a big-endian integer without leading zero bytes.
fn rsa_bits(n: &[u8]) -> Option<usize> {
    let first = n.first()?;
    let spare = usize::try_from(first.leading_zeros()).ok()?;
    n.len().checked_mul(8)?.checked_sub(spare)
}
