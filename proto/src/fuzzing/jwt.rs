//! JWT harness (`jwt`).

// Fuzz harnesses assert properties by panicking (STYLE.md 19).
#![allow(clippy::panic, clippy::expect_used, clippy::arithmetic_side_effects)]

use std::sync::OnceLock;

use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;

use crate::jwt::vectors::{rfc_jwks, RFC_TOKENS};
use crate::jwt::{
    check_introspection, decode, env_value, parse_introspection, parse_jwks, verify,
    verify_signature, Claims, Expect, Jwks, JwksError, JwtError, Limits, ENV_CLAIMS,
};
use crate::oauth::pkce::base64url_encode;

const ISSUER: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 60;

/// Fuzz target `jwt`: the first byte picks a mode, the rest is its input.
/// Asserts that nothing panics, that every error prints as one line, and
/// per mode:
/// - JWKS: an accepted set holds at most [`Limits::keys`] keys, and a
///   lower cap refuses exactly the sets larger than it;
/// - token against a fixed key set (the public keys of RFC 7515 A.2/A.3
///   and RFC 8037 A.2, whose private halves the harness does not hold):
///   a signature verifies only for the exact bytes of a published vector,
///   and `verify` never accepts (those vectors carry no audience);
/// - introspection: an accepted answer is active, an access token when it
///   says what it is, in date, names this resource in `aud`, is for this
///   issuer when it says so, with the required scope;
/// - claims: the input is a payload the harness signs itself (Ed25519, its
///   own key), so the signature always verifies; an accepted token's claims
///   agree with an independent read of the payload.
pub fn jwt(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => jwks(input),
        1 => fixed_keys(input),
        2 => introspection(input),
        _ => signed_claims(input),
    }
}

fn one_line(error: &impl core::fmt::Display) {
    let shown = error.to_string();
    assert!(!shown.is_empty() && !shown.contains('\n'), "{shown:?}");
}

fn jwt_error(error: &JwtError) {
    one_line(error);
    let described = error.describe();
    assert!(!described.is_empty() && !described.contains('\n'));
    let status = if matches!(error, JwtError::InsufficientScope { .. }) {
        403
    } else {
        401
    };
    assert_eq!(error.status(), status);
}

fn jwks(input: &[u8]) {
    let limits = Limits::DEFAULT;
    let full = parse_jwks(input, limits);
    if input.len() > limits.jwks_bytes {
        assert_eq!(full, Err(JwksError::Oversize));
    }
    let capped = parse_jwks(input, limits.keys(1));
    match &full {
        Ok(keys) => {
            assert!(keys.len() <= limits.keys);
            match capped {
                Ok(small) => assert!(keys.len() <= 1 && small == *keys),
                Err(e) => assert!(keys.len() > 1 && e == JwksError::TooManyKeys),
            }
        }
        Err(e) => {
            one_line(e);
            // A lower cap can only refuse more.
            assert!(capped.is_err());
        }
    }
}

fn fixed_keys(input: &[u8]) {
    static KEYS: OnceLock<Jwks> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        parse_jwks(rfc_jwks().as_bytes(), Limits::DEFAULT).expect("the RFC key set parses")
    });
    let token = match decode(input, Limits::DEFAULT) {
        Ok(token) => token,
        Err(e) => {
            if input.len() > Limits::DEFAULT.token_bytes {
                assert_eq!(e, JwtError::Oversize);
            }
            return jwt_error(&e);
        }
    };
    assert!(input.len() <= Limits::DEFAULT.token_bytes);
    match verify_signature(&token, keys) {
        Ok(()) => assert!(
            RFC_TOKENS.iter().any(|vector| vector.as_bytes() == input),
            "a token the fixed keys never signed verifies"
        ),
        Err(e) => {
            assert!(
                matches!(e, JwtError::BadSignature | JwtError::NoKey),
                "{e:?}"
            );
            jwt_error(&e);
        }
    }
    let expect = Expect {
        issuer: "joe",
        audience: "joe",
        scopes: &[],
        leeway_secs: LEEWAY,
    };
    match verify(&token, keys, &expect, 1_300_819_000) {
        Ok(claims) => panic!("verify accepted a token without audience: {claims:?}"),
        Err(e) => jwt_error(&e),
    }
}

fn expect(scopes: &[String]) -> Expect<'_> {
    Expect {
        issuer: ISSUER,
        audience: RESOURCE,
        scopes,
        leeway_secs: LEEWAY,
    }
}

/// What every accepted token or answer must satisfy.
fn accepted(claims: &Claims, wanted: &[String]) {
    assert!(!claims.subject.is_empty());
    assert!(claims.expires_at.saturating_add(LEEWAY) > NOW);
    assert!(wanted.iter().all(|scope| claims.scopes.contains(scope)));
    let mut last = None;
    for (name, value) in &claims.env_claims {
        let at = ENV_CLAIMS.iter().position(|known| known == name);
        assert!(at.is_some(), "{name} is not an allowed claim");
        assert!(at > last, "env claims out of order or repeated");
        last = at;
        assert!(env_value(value), "{value:?}");
    }
}

fn introspection(input: &[u8]) {
    let wanted = vec!["read".to_owned()];
    let answer = match parse_introspection(input, Limits::DEFAULT) {
        Ok(answer) => answer,
        Err(e) => return jwt_error(&e),
    };
    match check_introspection(&answer, &expect(&wanted), NOW) {
        Ok(claims) => {
            accepted(&claims, &wanted);
            assert!(answer.active);
            assert!(answer.issuer.as_deref().is_none_or(|iss| iss == ISSUER));
            assert_eq!(claims.issuer, ISSUER);
            assert!(answer.audience.iter().any(|a| a == RESOURCE));
            assert!(answer.token_type.as_deref().is_none_or(|t| {
                t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("access_token")
            }));
            assert_eq!(claims.expires_at, answer.expires_at.unwrap_or(u64::MAX));
        }
        Err(e) => jwt_error(&e),
    }
}

fn signed_claims(payload: &[u8]) {
    static SIGNER: OnceLock<(Ed25519KeyPair, Jwks)> = OnceLock::new();
    let (signer, keys) = SIGNER.get_or_init(|| {
        let signer = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("a 32-byte seed");
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"fuzz","x":"{}"}}]}}"#,
            base64url_encode(signer.public_key().as_ref())
        );
        let keys = parse_jwks(jwks.as_bytes(), Limits::DEFAULT).expect("the harness key parses");
        (signer, keys)
    });
    let header = base64url_encode(br#"{"alg":"EdDSA","kid":"fuzz","typ":"at+jwt"}"#);
    let input = format!("{header}.{}", base64url_encode(payload));
    let signature = signer.sign(input.as_bytes());
    let token = format!("{input}.{}", base64url_encode(signature.as_ref()));
    let token = match decode(token.as_bytes(), Limits::DEFAULT) {
        Ok(token) => token,
        Err(e) => {
            assert_eq!(e, JwtError::Oversize);
            return;
        }
    };
    assert_eq!(verify_signature(&token, keys), Ok(()));
    let wanted = vec!["read".to_owned()];
    match verify(&token, keys, &expect(&wanted), NOW) {
        Ok(claims) => {
            accepted(&claims, &wanted);
            // An independent read of what was signed.
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(payload) else {
                panic!("accepted a payload that is not a JSON object");
            };
            assert_eq!(map.get("iss").and_then(Value::as_str), Some(ISSUER));
            assert_eq!(claims.issuer, ISSUER);
            assert_eq!(
                map.get("sub").and_then(Value::as_str),
                Some(claims.subject.as_str())
            );
            let aud = map.get("aud").expect("accepted without aud");
            let has_resource = match aud {
                Value::String(one) => one == RESOURCE,
                Value::Array(list) => list.iter().any(|a| a.as_str() == Some(RESOURCE)),
                _ => false,
            };
            assert!(has_resource, "accepted for another audience");
        }
        Err(e) => {
            assert!(
                !matches!(e, JwtError::BadSignature | JwtError::NoKey),
                "{e:?} on a token signed by the harness key"
            );
            jwt_error(&e);
        }
    }
}
