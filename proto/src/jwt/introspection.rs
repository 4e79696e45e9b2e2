//! Token introspection answers (RFC 7662 §2.2), for opaque access tokens.

use serde_json::Value;

use super::claims::{self, Claims};
use super::{json_object, Expect, JwtError, Limits};

/// What an introspection endpoint said about a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Introspection {
    /// `active`: whether the token is currently valid at the issuer.
    pub active: bool,
    /// `sub`.
    pub subject: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: Option<u64>,
    /// `iss`.
    pub issuer: Option<String>,
    /// `aud`, one string or several; empty when absent.
    pub audience: Vec<String>,
    /// `username`.
    pub username: Option<String>,
    /// `token_type` (RFC 7662 §2.2), as the issuer spelled it.
    pub token_type: Option<String>,
    /// The claims of [`super::ENV_CLAIMS`] fit for a child's environment,
    /// as in [`Claims::env_claims`].
    pub env_claims: Vec<(&'static str, String)>,
}

/// Reads an introspection answer: a JSON object (at most
/// [`Limits::jwks_bytes`]) whose `active` is a boolean. Members of the
/// wrong type are refused; unknown members are ignored.
///
/// # Examples
///
/// ```
/// use supergateway_proto::jwt::{parse_introspection, JwtError, Limits};
///
/// let answer = parse_introspection(br#"{"active":true,"sub":"u1","scope":"a b"}"#, Limits::DEFAULT).unwrap();
/// assert!(answer.active);
/// assert_eq!(answer.scopes, ["a", "b"]);
/// assert_eq!(parse_introspection(b"{}", Limits::DEFAULT), Err(JwtError::MissingClaim("active")));
/// ```
pub fn parse_introspection(json: &[u8], limits: Limits) -> Result<Introspection, JwtError> {
    if json.len() > limits.jwks_bytes {
        return Err(JwtError::Oversize);
    }
    let map = json_object(json).ok_or(JwtError::Malformed("introspection is not a JSON object"))?;
    let active = match map.get("active") {
        Some(Value::Bool(active)) => *active,
        _ => return Err(JwtError::MissingClaim("active")),
    };
    let scopes = match claims::string(&map, "scope")? {
        Some(text) => text
            .split(' ')
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    Ok(Introspection {
        active,
        subject: claims::string(&map, "sub")?,
        client_id: claims::string(&map, "client_id")?,
        scopes,
        expires_at: claims::date(&map, "exp")?,
        issuer: claims::string(&map, "iss")?,
        audience: claims::audience(&map)?.unwrap_or_default(),
        username: claims::string(&map, "username")?,
        token_type: claims::string(&map, "token_type")?,
        env_claims: claims::env_claims(&map),
    })
}

/// Checks an introspection answer against `expect` at `now`: `active`,
/// then `token_type` names an access token (when present), `iss` (when
/// present), `aud` present and containing the resource, `exp` with the
/// leeway (when present), `sub` present, the scopes.
pub fn check_introspection(
    answer: &Introspection,
    expect: &Expect<'_>,
    now: u64,
) -> Result<Claims, JwtError> {
    if !answer.active {
        return Err(JwtError::Inactive);
    }
    // An issuer that introspects refresh tokens too would otherwise let
    // one stand in for an access token.
    if let Some(token_type) = &answer.token_type {
        if !introspected_access_token(token_type) {
            return Err(JwtError::Type);
        }
    }
    if let Some(issuer) = &answer.issuer {
        if issuer != expect.issuer {
            return Err(JwtError::Issuer);
        }
    }
    // The audience is required, as for a JWT: a token the issuer minted for
    // another resource must not be accepted here (MCP authorization,
    // security considerations, audience validation). An answer that does
    // not say whom the token is for cannot show that it is for us.
    if !answer.audience.iter().any(|aud| aud == expect.audience) {
        return Err(JwtError::Audience);
    }
    if let Some(expires_at) = answer.expires_at {
        claims::check_expiry(expires_at, expect, now)?;
    }
    let subject = answer
        .subject
        .clone()
        .filter(|sub| !sub.is_empty())
        .ok_or(JwtError::MissingClaim("sub"))?;
    claims::check_scopes(&answer.scopes, expect)?;
    Ok(Claims {
        issuer: answer
            .issuer
            .clone()
            .unwrap_or_else(|| expect.issuer.to_owned()),
        subject,
        client_id: answer.client_id.clone(),
        scopes: answer.scopes.clone(),
        expires_at: answer.expires_at.unwrap_or(u64::MAX),
        env_claims: answer.env_claims.clone(),
    })
}

/// Whether an introspection `token_type` names an access token: `Bearer`
/// (the RFC 6749 token type most issuers report) or `access_token` (the
/// RFC 8693 token type identifier's short form), in any case.
fn introspected_access_token(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case("bearer") || token_type.eq_ignore_ascii_case("access_token")
}
