//! The claims of a verified access token (RFC 9068 §2.2, RFC 7519 §4.1)
//! and their checks against what this resource expects.

use serde_json::{Map, Value};

use super::{Expect, JwtError};

/// What a verified token (or an active introspection answer) says about
/// its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `client_id` (RFC 9068 §2.2), else `azp` (OpenID Connect).
    pub client_id: Option<String>,
    /// The granted scopes (`scope`, else `scp`), in token order.
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds. For an introspection answer without `exp`,
    /// `u64::MAX`: the answer stated no end, and the caller's own cache
    /// lifetime bounds it.
    pub expires_at: u64,
    /// The claims of [`ENV_CLAIMS`] that are strings fit for a child's
    /// environment (see [`env_value`]), in [`ENV_CLAIMS`] order; the others
    /// are left out.
    pub env_claims: Vec<(&'static str, String)>,
}

/// The string claims a child process may be given (`--authEnv`): who the
/// caller is, never the token or anything secret.
pub const ENV_CLAIMS: [&str; 7] = [
    "iss",
    "sub",
    "client_id",
    "azp",
    "email",
    "preferred_username",
    "name",
];

/// The longest claim value passed on in [`Claims::env_claims`], in bytes.
pub const MAX_ENV_CLAIM_BYTES: usize = 256;

/// Checks a verified token's payload against `expect` at `now`.
pub(super) fn check(
    payload: &Map<String, Value>,
    expect: &Expect<'_>,
    now: u64,
) -> Result<Claims, JwtError> {
    let issuer = string(payload, "iss")?.ok_or(JwtError::MissingClaim("iss"))?;
    if issuer != expect.issuer {
        return Err(JwtError::Issuer);
    }
    let audience = audience(payload)?.ok_or(JwtError::MissingClaim("aud"))?;
    if !audience.iter().any(|aud| aud == expect.audience) {
        return Err(JwtError::Audience);
    }
    let expires_at = date(payload, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    check_expiry(expires_at, expect, now)?;
    // RFC 7519 §4.1.5 `nbf`; `iat` (§4.1.6) only when present: a token
    // issued in the future is as suspect as one not valid yet.
    for name in ["nbf", "iat"] {
        if let Some(start) = date(payload, name)? {
            if start > now.saturating_add(expect.leeway_secs) {
                return Err(JwtError::NotYetValid);
            }
        }
    }
    let subject = string(payload, "sub")?
        .filter(|sub| !sub.is_empty())
        .ok_or(JwtError::MissingClaim("sub"))?;
    let scopes = scopes(payload)?;
    check_scopes(&scopes, expect)?;
    // An empty `client_id` names no client: fall back as if absent.
    let client_id = match string(payload, "client_id")?.filter(|id| !id.is_empty()) {
        Some(id) => Some(id),
        None => string(payload, "azp")?.filter(|id| !id.is_empty()),
    };
    Ok(Claims {
        issuer,
        subject,
        client_id,
        scopes,
        expires_at,
        env_claims: env_claims(payload),
    })
}

/// `exp + leeway > now`, else [`JwtError::Expired`].
pub(super) fn check_expiry(expires_at: u64, expect: &Expect<'_>, now: u64) -> Result<(), JwtError> {
    if expires_at.saturating_add(expect.leeway_secs) > now {
        Ok(())
    } else {
        Err(JwtError::Expired)
    }
}

/// Every scope of `expect.scopes` is in `granted`, else
/// [`JwtError::InsufficientScope`] naming those missing.
pub(super) fn check_scopes(granted: &[String], expect: &Expect<'_>) -> Result<(), JwtError> {
    let missing: Vec<String> = expect
        .scopes
        .iter()
        .filter(|wanted| !granted.contains(wanted))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(JwtError::InsufficientScope { missing })
    }
}

/// The string claim `name`: `None` when absent or `null`, refused when of
/// another type.
pub(super) fn string(
    map: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, JwtError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(JwtError::MissingClaim(name)),
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
pub(super) fn audience(map: &Map<String, Value>) -> Result<Option<Vec<String>>, JwtError> {
    match map.get("aud") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(aud)) => Ok(Some(vec![aud.clone()])),
        Some(Value::Array(list)) => list
            .iter()
            .map(|entry| match entry {
                Value::String(aud) => Ok(aud.clone()),
                _ => Err(JwtError::MissingClaim("aud")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(JwtError::MissingClaim("aud")),
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, an integer or a
/// fraction (rounded down), never negative.
pub(super) fn date(map: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    let number = match map.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number,
        Some(_) => return Err(JwtError::MissingClaim(name)),
    };
    if let Some(seconds) = number.as_u64() {
        return Ok(Some(seconds));
    }
    match number.as_f64() {
        // `as` saturates at u64::MAX, and the range check keeps it exact
        // below: 2^64 as f64 is the first value that does not fit.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(seconds)
            if seconds.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&seconds) =>
        {
            Ok(Some(seconds.floor() as u64))
        }
        _ => Err(JwtError::MissingClaim(name)),
    }
}

/// The granted scopes: `scope` (RFC 9068 §2.2.3, a space-separated
/// string), else `scp` (an array of strings, or a space-separated string,
/// as some issuers write it).
pub(super) fn scopes(map: &Map<String, Value>) -> Result<Vec<String>, JwtError> {
    let split = |text: &str| -> Vec<String> {
        text.split(' ')
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match map.get("scope") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => return Ok(split(text)),
        Some(_) => return Err(JwtError::MissingClaim("scope")),
    }
    match map.get("scp") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(split(text)),
        Some(Value::Array(list)) => list
            .iter()
            .map(|entry| match entry {
                Value::String(scope) => Ok(scope.clone()),
                _ => Err(JwtError::MissingClaim("scp")),
            })
            .collect(),
        Some(_) => Err(JwtError::MissingClaim("scp")),
    }
}

/// The claims of [`ENV_CLAIMS`] that hold a usable [`env_value`].
pub(super) fn env_claims(map: &Map<String, Value>) -> Vec<(&'static str, String)> {
    ENV_CLAIMS
        .iter()
        .filter_map(|&name| match map.get(name) {
            Some(Value::String(value)) if env_value(value) => Some((name, value.clone())),
            _ => None,
        })
        .collect()
}

/// Whether a claim value may go into a child's environment: non-empty, at
/// most [`MAX_ENV_CLAIM_BYTES`], no control characters (no line breaks or
/// NUL to confuse a child reading it, no escape sequences for a terminal).
#[must_use]
pub fn env_value(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_ENV_CLAIM_BYTES && !value.chars().any(char::is_control)
}
