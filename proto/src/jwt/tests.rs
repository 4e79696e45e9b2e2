//! Tests of `jwt`: the published vectors (RFC 7515 A.2 and A.3, RFC 8037
//! A.4), tokens signed here with each algorithm, then every refusal.
#![allow(clippy::arithmetic_side_effects)]

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

use super::vectors::{
    rfc_jwks, RFC7515_A2_JWK, RFC7515_A2_TOKEN, RFC7515_A3_JWK, RFC7515_A3_TOKEN, RFC8037_A2_JWK,
    RFC8037_A4_TOKEN,
};
use super::{
    check_introspection, decode, parse_introspection, parse_jwks, verify, verify_signature, Alg,
    Claims, Expect, Introspection, Jwks, JwksError, JwtError, Limits,
};
use crate::oauth::pkce::base64url_encode as b64;

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://as.example";
const RESOURCE: &str = "https://mcp.example/mcp";
const RSA_PKCS8: &[u8] = include_bytes!("testdata/rsa2048.pk8.der");
const RSA_JWK: &str = include_str!("testdata/rsa2048.public.jwk.json");

/// One key pair per algorithm family, and the JWKS of their public halves
/// (kids `rsa-test`, `ec-test`, `ed-test`).
struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    ec_jwk: Value,
    ed_jwk: Value,
}

impl Keys {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(RSA_PKCS8).unwrap();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let point = ec.public_key().as_ref();
        assert_eq!((point.len(), point[0]), (65, 4));
        let ec_jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "ec-test",
            "x": b64(&point[1..33]), "y": b64(&point[33..]),
        });
        let ed_jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "ed-test", "x": b64(ed.public_key().as_ref()),
        });
        Self {
            rsa,
            ec,
            ed,
            ec_jwk,
            ed_jwk,
        }
    }

    fn rsa_jwk() -> Value {
        serde_json::from_str(RSA_JWK).unwrap()
    }

    fn jwks_json(&self) -> String {
        json!({ "keys": [Self::rsa_jwk(), self.ec_jwk, self.ed_jwk] }).to_string()
    }

    fn jwks(&self) -> Jwks {
        parse_jwks(self.jwks_json().as_bytes(), Limits::DEFAULT).unwrap()
    }

    /// The signature of `message` by the key that `alg` names.
    fn sign(&self, alg: Alg, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match alg {
            Alg::Rs256 | Alg::Ps256 => {
                let padding: &dyn signature::RsaEncoding = if alg == Alg::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut out = vec![0; self.rsa.public().modulus_len()];
                self.rsa.sign(padding, &rng, message, &mut out).unwrap();
                out
            }
            Alg::Es256 => self.ec.sign(&rng, message).unwrap().as_ref().to_vec(),
            Alg::EdDsa => self.ed.sign(message).as_ref().to_vec(),
        }
    }

    /// A compact token of `header` and `payload` signed with `signer`'s key.
    fn token_raw(&self, signer: Alg, header: &Value, payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
        let signature = self.sign(signer, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    /// A token with `alg`'s own key and kid, `typ` `at+jwt`, and `claims`.
    fn token(&self, alg: Alg, claims: &Value) -> String {
        let header = json!({ "alg": alg.name(), "kid": kid(alg), "typ": "at+jwt" });
        self.token_raw(alg, &header, claims.to_string().as_bytes())
    }
}

fn kid(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 | Alg::Ps256 => "rsa-test",
        Alg::Es256 => "ec-test",
        Alg::EdDsa => "ed-test",
    }
}

const ALGS: [Alg; 4] = [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa];

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "user-1",
        "exp": NOW + 300,
        "iat": NOW - 10,
        "scope": "read write",
        "client_id": "app-1",
        "email": "ann@example.com",
        "name": "Ann\nEvil",
    })
}

/// `claims()` with `changes` applied (`null` removes a member).
fn claims_with(changes: &Value) -> Value {
    let mut base = claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            base.as_object_mut().unwrap().remove(name);
        } else {
            base[name] = value.clone();
        }
    }
    base
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn expect(scopes: &[String]) -> Expect<'_> {
    Expect {
        issuer: ISSUER,
        audience: RESOURCE,
        scopes,
        leeway_secs: Expect::DEFAULT_LEEWAY_SECS,
    }
}

/// Decodes and verifies `token` against `keys`, requiring scope `read`.
fn check(token: &str, keys: &Jwks, now: u64) -> Result<Claims, JwtError> {
    let wanted = scopes(&["read"]);
    let token = decode(token.as_bytes(), Limits::DEFAULT)?;
    verify(&token, keys, &expect(&wanted), now)
}

/// `token` with part `index` (0 header, 1 payload, 2 signature) decoded,
/// changed by `change`, and encoded again.
fn tamper(token: &str, index: usize, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = crate::oauth::pkce::base64url_decode(&parts[index]).unwrap();
    change(&mut bytes);
    parts[index] = b64(&bytes);
    parts.join(".")
}

// --- Published vectors -------------------------------------------------------

#[test]
fn rfc7515_a2_rs256() {
    let keys = parse_jwks(
        format!(r#"{{"keys":[{RFC7515_A2_JWK}]}}"#).as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(keys.len(), 1);
    let token = decode(RFC7515_A2_TOKEN.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!((token.alg(), token.kid()), (Alg::Rs256, None));
    assert_eq!(verify_signature(&token, &keys), Ok(()));
    // Its claims are `iss` "joe" and `exp` only: the claim checks run after
    // the signature and stop at the missing audience.
    let expect = Expect {
        issuer: "joe",
        audience: RESOURCE,
        scopes: &[],
        leeway_secs: 60,
    };
    assert_eq!(
        verify(&token, &keys, &expect, 1_300_819_000),
        Err(JwtError::MissingClaim("aud"))
    );
    // One bit of the signature, or of the payload, and it no longer verifies.
    let flipped = tamper(RFC7515_A2_TOKEN, 2, |sig| sig[100] ^= 1);
    let flipped = decode(flipped.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(
        verify_signature(&flipped, &keys),
        Err(JwtError::BadSignature)
    );
    let flipped = tamper(RFC7515_A2_TOKEN, 1, |payload| payload[8] ^= 1);
    let flipped = decode(flipped.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(
        verify_signature(&flipped, &keys),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn rfc7515_a3_es256() {
    let keys = parse_jwks(
        format!(r#"{{"keys":[{RFC7515_A3_JWK}]}}"#).as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    let token = decode(RFC7515_A3_TOKEN.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(token.alg(), Alg::Es256);
    assert_eq!(verify_signature(&token, &keys), Ok(()));
    let flipped = tamper(RFC7515_A3_TOKEN, 2, |sig| sig[63] ^= 0x80);
    let flipped = decode(flipped.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(
        verify_signature(&flipped, &keys),
        Err(JwtError::BadSignature)
    );
    // The RSA key of A.2 does not fit ES256: no key at all.
    let rsa = parse_jwks(
        format!(r#"{{"keys":[{RFC7515_A2_JWK}]}}"#).as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(verify_signature(&token, &rsa), Err(JwtError::NoKey));
}

#[test]
fn rfc8037_a4_eddsa() {
    let keys = parse_jwks(
        format!(r#"{{"keys":[{RFC8037_A2_JWK}]}}"#).as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    let token = decode(RFC8037_A4_TOKEN.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(token.alg(), Alg::EdDsa);
    assert_eq!(verify_signature(&token, &keys), Ok(()));
    // Its payload is text, not claims.
    assert_eq!(
        verify(&token, &keys, &expect(&[]), NOW),
        Err(JwtError::Malformed("payload is not a JSON object"))
    );
    let flipped = tamper(RFC8037_A4_TOKEN, 1, |payload| payload[0] ^= 0x20);
    let flipped = decode(flipped.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(
        verify_signature(&flipped, &keys),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn rfc_vectors_in_one_set() {
    let keys = parse_jwks(rfc_jwks().as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(keys.len(), 3);
    for vector in super::vectors::RFC_TOKENS {
        let token = decode(vector.as_bytes(), Limits::DEFAULT).unwrap();
        assert_eq!(verify_signature(&token, &keys), Ok(()), "{vector}");
    }
}

// --- Tokens signed here ---------------------------------------------------------

#[test]
fn every_algorithm_verifies() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    assert_eq!(jwks.len(), 3);
    assert!(jwks.has_kid("rsa-test") && jwks.has_kid("ec-test") && jwks.has_kid("ed-test"));
    for alg in ALGS {
        let token = keys.token(alg, &claims());
        assert_eq!(
            decode(token.as_bytes(), Limits::DEFAULT).unwrap().kid(),
            Some(kid(alg))
        );
        assert_eq!(
            check(&token, &jwks, NOW),
            Ok(Claims {
                issuer: ISSUER.into(),
                subject: "user-1".into(),
                client_id: Some("app-1".into()),
                scopes: scopes(&["read", "write"]),
                expires_at: NOW + 300,
                // `name` holds a line break: left out.
                env_claims: vec![
                    ("iss", ISSUER.into()),
                    ("sub", "user-1".into()),
                    ("client_id", "app-1".into()),
                    ("email", "ann@example.com".into()),
                ],
            }),
            "{alg:?}"
        );
    }
}

#[test]
fn debug_shows_no_token_contents() {
    let keys = Keys::new();
    let token = keys.token(Alg::EdDsa, &claims());
    let shown = format!("{:?}", decode(token.as_bytes(), Limits::DEFAULT).unwrap());
    assert_eq!(
        shown,
        r#"Unverified { alg: EdDsa, kid: Some("ed-test"), .. }"#
    );
}

#[test]
fn without_kid_every_fitting_key_is_tried() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    for alg in ALGS {
        let header = json!({ "alg": alg.name() });
        let token = keys.token_raw(alg, &header, claims().to_string().as_bytes());
        assert_eq!(
            check(&token, &jwks, NOW).map(|c| c.subject),
            Ok("user-1".into())
        );
    }
}

#[test]
fn signature_refusals() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    for alg in ALGS {
        let token = keys.token(alg, &claims());
        // One bit in the signature, one in the payload.
        let bad = tamper(&token, 2, |sig| sig[10] ^= 1);
        assert_eq!(
            check(&bad, &jwks, NOW),
            Err(JwtError::BadSignature),
            "{alg:?}"
        );
        let bad = tamper(&token, 1, |payload| {
            let at = payload.windows(6).position(|w| w == b"user-1").unwrap();
            payload[at + 5] ^= 1; // user-1 → user-0
        });
        assert_eq!(
            check(&bad, &jwks, NOW),
            Err(JwtError::BadSignature),
            "{alg:?}"
        );
        // A signature from another algorithm's key, under this header.
        let other = if alg == Alg::EdDsa {
            Alg::Es256
        } else {
            Alg::EdDsa
        };
        let header = json!({ "alg": alg.name(), "kid": kid(alg) });
        let forged = keys.token_raw(other, &header, claims().to_string().as_bytes());
        assert_eq!(
            check(&forged, &jwks, NOW),
            Err(JwtError::BadSignature),
            "{alg:?}"
        );
    }
}

#[test]
fn algorithm_must_fit_the_key() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let payload = claims().to_string();
    // Header RS256 naming the EC key: that key cannot verify RS256.
    let header = json!({ "alg": "RS256", "kid": "ec-test" });
    let token = keys.token_raw(Alg::Rs256, &header, payload.as_bytes());
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::NoKey));
    // Header ES256 on an RSA-signed token, naming the RSA key.
    let header = json!({ "alg": "ES256", "kid": "rsa-test" });
    let token = keys.token_raw(Alg::Rs256, &header, payload.as_bytes());
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::NoKey));
    // … and without kid: the EC key is tried and refuses it.
    let header = json!({ "alg": "ES256" });
    let token = keys.token_raw(Alg::Rs256, &header, payload.as_bytes());
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::BadSignature));
    // A key whose own alg is PS256 does not verify RS256, and does PS256.
    let mut pss = Keys::rsa_jwk();
    pss["alg"] = json!("PS256");
    let only_pss = parse_jwks(
        json!({ "keys": [pss] }).to_string().as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    let rs = keys.token(Alg::Rs256, &claims());
    assert_eq!(check(&rs, &only_pss, NOW), Err(JwtError::NoKey));
    let ps = keys.token(Alg::Ps256, &claims());
    assert!(check(&ps, &only_pss, NOW).is_ok());
    // A JWKS with only the EC key has no key for EdDSA.
    let only_ec = parse_jwks(
        json!({ "keys": [keys.ec_jwk] }).to_string().as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    let ed = keys.token(Alg::EdDsa, &claims());
    assert_eq!(check(&ed, &only_ec, NOW), Err(JwtError::NoKey));
}

#[test]
fn unknown_kid_is_no_key() {
    let keys = Keys::new();
    let header = json!({ "alg": "EdDSA", "kid": "rotated-away" });
    let token = keys.token_raw(Alg::EdDsa, &header, claims().to_string().as_bytes());
    assert_eq!(check(&token, &keys.jwks(), NOW), Err(JwtError::NoKey));
    assert_eq!(check(&token, &Jwks::default(), NOW), Err(JwtError::NoKey));
}

#[test]
fn kid_falls_back_to_keys_without_kid() {
    let keys = Keys::new();
    let mut bare = keys.ed_jwk.clone();
    bare.as_object_mut().unwrap().remove("kid");
    let jwks = parse_jwks(
        json!({ "keys": [keys.ec_jwk, bare] })
            .to_string()
            .as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    // The token names a kid no key has: the kid-less Ed25519 key is tried.
    let token = keys.token(Alg::EdDsa, &claims());
    assert!(check(&token, &jwks, NOW).is_ok());
    // Another Ed25519 key under the token's kid: only that one is tried.
    let other = Keys::new();
    let jwks = parse_jwks(
        json!({ "keys": [other.ed_jwk, bare] })
            .to_string()
            .as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::BadSignature));
    // A kid-less key of another type is no candidate.
    let mut bare_ec = keys.ec_jwk.clone();
    bare_ec.as_object_mut().unwrap().remove("kid");
    let jwks = parse_jwks(
        json!({ "keys": [bare_ec] }).to_string().as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::NoKey));
}

#[test]
fn unsupported_algorithms() {
    let payload = b64(claims().to_string().as_bytes());
    for alg in [
        "none", "None", "HS256", "HS384", "HS512", "RS384", "RS512", "ES384", "ES512", "PS512",
        "rs256", "Ed25519", "",
    ] {
        let header = b64(json!({ "alg": alg }).to_string().as_bytes());
        for signature in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{signature}");
            assert_eq!(
                decode(token.as_bytes(), Limits::DEFAULT).err(),
                Some(JwtError::UnsupportedAlg),
                "{alg} {signature:?}"
            );
        }
    }
    // HS256 "signed" with the RSA public key as the HMAC secret (the
    // classic key-confusion forgery) is refused before any key is used.
    let keys = Keys::new();
    let header = b64(br#"{"alg":"HS256","kid":"rsa-test"}"#);
    let input = format!("{header}.{payload}");
    let secret = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RSA_JWK.as_bytes());
    let tag = ring::hmac::sign(&secret, input.as_bytes());
    let token = format!("{input}.{}", b64(tag.as_ref()));
    assert_eq!(
        check(&token, &keys.jwks(), NOW),
        Err(JwtError::UnsupportedAlg)
    );
}

#[test]
fn header_refusals() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let payload = claims().to_string();
    let sign = |header: Value| keys.token_raw(Alg::EdDsa, &header, payload.as_bytes());
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
        "JWT",
        "jwt",
    ] {
        let token = sign(json!({ "alg": "EdDSA", "typ": typ }));
        assert!(check(&token, &jwks, NOW).is_ok(), "{typ}");
    }
    for typ in [
        json!("JOSE"),
        json!("id_token+jwt"),
        json!("application/jwt+x"),
        json!(""),
        json!(5),
    ] {
        let token = sign(json!({ "alg": "EdDSA", "typ": typ }));
        assert_eq!(check(&token, &jwks, NOW), Err(JwtError::Type), "{typ}");
    }
    let token = sign(json!({ "alg": "EdDSA", "crit": ["exp"], "exp": 1 }));
    assert_eq!(
        check(&token, &jwks, NOW),
        Err(JwtError::Malformed("header has crit"))
    );
    let token = sign(json!({ "alg": "EdDSA", "kid": 7 }));
    assert_eq!(
        check(&token, &jwks, NOW),
        Err(JwtError::Malformed("kid is not a string"))
    );
    let token = sign(json!({ "typ": "JWT" }));
    assert_eq!(
        check(&token, &jwks, NOW),
        Err(JwtError::Malformed("header has no alg"))
    );
    let token = sign(json!({ "alg": ["EdDSA"] }));
    assert_eq!(
        check(&token, &jwks, NOW),
        Err(JwtError::Malformed("header has no alg"))
    );
    // Keys carried by the token itself are ignored: an embedded `jwk` of
    // another key pair does not make its signature count.
    let other = Keys::new();
    let token = other.token_raw(
        Alg::EdDsa,
        &json!({ "alg": "EdDSA", "jwk": other.ed_jwk, "jku": "https://evil.example/jwks" }),
        payload.as_bytes(),
    );
    assert_eq!(check(&token, &jwks, NOW), Err(JwtError::BadSignature));
    // The header must be a JSON object.
    for header in [&b"not json"[..], b"[1]", b"\"alg\"", b"{\"alg\":\"EdDSA\""] {
        let token = format!("{}.{}.c2ln", b64(header), b64(payload.as_bytes()));
        assert_eq!(
            check(&token, &jwks, NOW),
            Err(JwtError::Malformed("header is not a JSON object")),
            "{header:?}"
        );
    }
}

#[test]
fn compact_form_refusals() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let token = keys.token(Alg::Es256, &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let malformed = |what| Err(JwtError::Malformed(what));
    let cases: Vec<(String, Result<Claims, JwtError>)> = vec![
        (format!("{h}.{p}"), malformed("not three parts")),
        (format!("{h}.{p}.{s}.{s}"), malformed("not three parts")),
        (format!("{h}.{p}.{s}."), malformed("not three parts")),
        (String::new(), malformed("not three parts")),
        ("..".to_owned(), malformed("header is not a JSON object")),
        (format!("{h}.{p}."), malformed("no signature")),
        // Padding, the standard alphabet, whitespace, a length no encoding has.
        (
            format!("{h}=.{p}.{s}"),
            malformed("header is not base64url"),
        ),
        (
            format!("{h}.{p}.{s}=="),
            malformed("signature is not base64url"),
        ),
        (
            format!("{h}.{p}.+{}", &s[1..]),
            malformed("signature is not base64url"),
        ),
        (
            format!("{h}.{p}.{}/", &s[..s.len() - 1]),
            malformed("signature is not base64url"),
        ),
        (
            format!("{h}.{p} .{s}"),
            malformed("payload is not base64url"),
        ),
        (format!("{h}.{p}A.{s}"), {
            // One more symbol: either a length no encoding has (4n+1) or a
            // different payload, never the same.
            if (p.len() + 1) % 4 == 1 {
                malformed("payload is not base64url")
            } else {
                Err(JwtError::BadSignature)
            }
        }),
        (format!("{h}.{p}.{}", &s[..s.len() - 1]), {
            // 64 bytes are 86 symbols; 85 (4n + 1) encode nothing.
            assert_eq!(s.len(), 86);
            malformed("signature is not base64url")
        }),
    ];
    for (token, want) in cases {
        assert_eq!(check(&token, &jwks, NOW), want, "{token}");
    }
    // Non-canonical trailing bits: the last of 86 symbols carries 2 bits of
    // the signature and 4 that must be zero; the next symbol of the
    // alphabet sets one of those 4.
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = ALPHABET.find(&s[s.len() - 1..]).unwrap();
    assert_eq!(last % 16, 0);
    let other = format!("{}{}", &s[..s.len() - 1], &ALPHABET[last + 1..last + 2]);
    assert_eq!(
        check(&format!("{h}.{p}.{other}"), &jwks, NOW),
        malformed("signature is not base64url")
    );
}

#[test]
fn size_limit() {
    let keys = Keys::new();
    let token = keys.token(Alg::EdDsa, &claims());
    let exact = Limits::DEFAULT.token_bytes(token.len());
    assert!(decode(token.as_bytes(), exact).is_ok());
    let short = Limits::DEFAULT.token_bytes(token.len() - 1);
    assert_eq!(
        decode(token.as_bytes(), short).err(),
        Some(JwtError::Oversize)
    );
    // Over the default without any parsing: not even three parts.
    let huge = vec![b'A'; 8 * 1024 + 1];
    assert_eq!(
        decode(&huge, Limits::DEFAULT).err(),
        Some(JwtError::Oversize)
    );
}

// --- Claims -------------------------------------------------------------------------

#[test]
fn claim_refusals() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let cases: Vec<(Value, Result<(), JwtError>)> = vec![
        (
            json!({ "iss": "https://other.example" }),
            Err(JwtError::Issuer),
        ),
        (
            json!({ "iss": "https://as.example/" }),
            Err(JwtError::Issuer),
        ),
        (json!({ "iss": null }), Err(JwtError::MissingClaim("iss"))),
        (json!({ "iss": 5 }), Err(JwtError::MissingClaim("iss"))),
        (
            json!({ "aud": "https://other.example/mcp" }),
            Err(JwtError::Audience),
        ),
        (
            json!({ "aud": "https://mcp.example/mcp/" }),
            Err(JwtError::Audience),
        ),
        (
            json!({ "aud": ["https://a.example", "https://b.example"] }),
            Err(JwtError::Audience),
        ),
        (json!({ "aud": [] }), Err(JwtError::Audience)),
        (json!({ "aud": ["https://a.example", RESOURCE] }), Ok(())),
        (
            json!({ "aud": [RESOURCE, 5] }),
            Err(JwtError::MissingClaim("aud")),
        ),
        (json!({ "aud": null }), Err(JwtError::MissingClaim("aud"))),
        (json!({ "exp": null }), Err(JwtError::MissingClaim("exp"))),
        (
            json!({ "exp": "1700000300" }),
            Err(JwtError::MissingClaim("exp")),
        ),
        (json!({ "exp": -1 }), Err(JwtError::MissingClaim("exp"))),
        (json!({ "exp": 1.0e30 }), Err(JwtError::MissingClaim("exp"))),
        (json!({ "exp": 1_700_000_300.5 }), Ok(())),
        (json!({ "sub": null }), Err(JwtError::MissingClaim("sub"))),
        (json!({ "sub": "" }), Err(JwtError::MissingClaim("sub"))),
        (json!({ "sub": 12 }), Err(JwtError::MissingClaim("sub"))),
        (json!({ "iat": null }), Ok(())),
        (
            json!({ "iat": "yesterday" }),
            Err(JwtError::MissingClaim("iat")),
        ),
        (json!({ "nbf": true }), Err(JwtError::MissingClaim("nbf"))),
        (
            json!({ "scope": null }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (
            json!({ "scope": "write" }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (
            json!({ "scope": "reader" }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (
            json!({ "scope": ["read"] }),
            Err(JwtError::MissingClaim("scope")),
        ),
        (json!({ "scope": null, "scp": ["write", "read"] }), Ok(())),
        (json!({ "scope": null, "scp": "read write" }), Ok(())),
        (
            json!({ "scope": null, "scp": [1] }),
            Err(JwtError::MissingClaim("scp")),
        ),
        // `scope` wins when both are there.
        (
            json!({ "scope": "write", "scp": ["read"] }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (
            json!({ "client_id": 3 }),
            Err(JwtError::MissingClaim("client_id")),
        ),
    ];
    for (changes, want) in cases {
        let token = keys.token(Alg::EdDsa, &claims_with(&changes));
        assert_eq!(check(&token, &jwks, NOW).map(|_| ()), want, "{changes}");
    }
}

#[test]
fn time_edges() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let leeway = Expect::DEFAULT_LEEWAY_SECS;
    let at = |changes: Value| check(&keys.token(Alg::EdDsa, &claims_with(&changes)), &jwks, NOW);
    // exp + leeway must be after now.
    assert_eq!(
        at(json!({ "exp": NOW - leeway })).map(|_| ()),
        Err(JwtError::Expired)
    );
    assert_eq!(
        at(json!({ "exp": NOW - leeway + 1 })).map(|c| c.expires_at),
        Ok(NOW - leeway + 1)
    );
    assert_eq!(at(json!({ "exp": 0 })).map(|_| ()), Err(JwtError::Expired));
    assert_eq!(
        at(json!({ "exp": u64::MAX })).map(|c| c.expires_at),
        Ok(u64::MAX)
    );
    // nbf and iat may be at most leeway seconds ahead.
    for name in ["nbf", "iat"] {
        let ok = at(json!({ name: NOW + leeway }));
        assert!(ok.is_ok(), "{name}");
        let late = at(json!({ name: NOW + leeway + 1 }));
        assert_eq!(late.map(|_| ()), Err(JwtError::NotYetValid), "{name}");
        let fraction = at(json!({ name: (NOW + leeway) as f64 + 0.5 }));
        assert!(fraction.is_ok(), "{name}");
    }
    // A float exp is rounded down.
    assert_eq!(
        at(json!({ "exp": 1_700_000_300.9 })).map(|c| c.expires_at),
        Ok(1_700_000_300)
    );
    // No leeway at all.
    let none = scopes(&[]);
    let strict = Expect {
        leeway_secs: 0,
        ..expect(&none)
    };
    let token = keys.token(Alg::EdDsa, &claims_with(&json!({ "exp": NOW })));
    let token = decode(token.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(verify(&token, &jwks, &strict, NOW), Err(JwtError::Expired));
    assert!(verify(&token, &jwks, &strict, NOW - 1).is_ok());
}

#[test]
fn scopes_and_client() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let wanted = scopes(&["read", "admin", "write", "deploy"]);
    let token = keys.token(Alg::EdDsa, &claims());
    let token = decode(token.as_bytes(), Limits::DEFAULT).unwrap();
    let refused = verify(&token, &jwks, &expect(&wanted), NOW).unwrap_err();
    assert_eq!(
        refused,
        JwtError::InsufficientScope {
            missing: scopes(&["admin", "deploy"])
        }
    );
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.to_string(),
        "the token lacks required scopes: admin deploy"
    );
    // No scope required: any token passes.
    assert!(verify(&token, &jwks, &expect(&[]), NOW).is_ok());
    // Extra spaces between scopes are not scopes.
    let spaced = keys.token(
        Alg::EdDsa,
        &claims_with(&json!({ "scope": "  read   write " })),
    );
    assert_eq!(
        check(&spaced, &jwks, NOW).map(|c| c.scopes),
        Ok(scopes(&["read", "write"]))
    );
    // client_id, else azp, else none.
    let azp = claims_with(&json!({ "client_id": null, "azp": "web-app" }));
    let claims_of = |c: &Value| check(&keys.token(Alg::EdDsa, c), &jwks, NOW).unwrap();
    let got = claims_of(&azp);
    assert_eq!(got.client_id.as_deref(), Some("web-app"));
    assert!(got.env_claims.contains(&("azp", "web-app".into())));
    let neither = claims_with(&json!({ "client_id": null }));
    assert_eq!(claims_of(&neither).client_id, None);
}

#[test]
fn env_claims_filter() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let long = "x".repeat(257);
    let fits = "y".repeat(256);
    let got = check(
        &keys.token(
            Alg::EdDsa,
            &claims_with(&json!({
                "email": long,
                "preferred_username": fits,
                "name": "Zoë Ünïcode",
                "azp": "a\u{7f}b",
                "client_id": "",
                "groups": "admins",
                "access_token": "secret",
            })),
        ),
        &jwks,
        NOW,
    )
    .unwrap();
    assert_eq!(
        got.env_claims,
        vec![
            ("iss", ISSUER.into()),
            ("sub", "user-1".into()),
            ("preferred_username", fits),
            ("name", "Zoë Ünïcode".into()),
        ]
    );
}

// --- JWKS ---------------------------------------------------------------------------

#[test]
fn jwks_table() {
    let keys = Keys::new();
    let rsa = Keys::rsa_jwk();
    let ed = keys.ed_jwk.clone();
    let ec = keys.ec_jwk.clone();
    let with = |base: &Value, changes: Value| {
        let mut key = base.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                key.as_object_mut().unwrap().remove(name);
            } else {
                key[name] = value.clone();
            }
        }
        key
    };
    // A 1024-bit modulus and a 32-byte "x" shortened to 31.
    let short_n = b64(&[0xc5; 128]);
    let short_x = b64(&[7; 31]);
    // (key, kept?)
    let table: Vec<(Value, bool)> = vec![
        (rsa.clone(), true),
        (ec.clone(), true),
        (ed.clone(), true),
        (with(&rsa, json!({ "kty": null })), false),
        (with(&rsa, json!({ "kty": "rsa" })), false),
        (with(&rsa, json!({ "n": short_n })), false),
        (with(&rsa, json!({ "n": null })), false),
        (with(&rsa, json!({ "e": "" })), false),
        (
            with(
                &rsa,
                json!({ "n": format!("{}=", rsa["n"].as_str().unwrap()) }),
            ),
            false,
        ),
        (with(&rsa, json!({ "alg": "RS256" })), true),
        (with(&rsa, json!({ "alg": "PS256" })), true),
        (with(&rsa, json!({ "alg": "ES256" })), false),
        (with(&rsa, json!({ "alg": "RS512" })), false),
        (with(&rsa, json!({ "alg": "HS256" })), false),
        (with(&rsa, json!({ "use": "enc" })), false),
        (with(&rsa, json!({ "use": "sig" })), true),
        (with(&rsa, json!({ "key_ops": ["verify"] })), true),
        (with(&rsa, json!({ "key_ops": ["encrypt"] })), false),
        (with(&rsa, json!({ "kid": 4 })), false),
        (with(&ec, json!({ "x": short_x })), false),
        (with(&ec, json!({ "y": null })), false),
        (with(&ec, json!({ "crv": "P-384" })), false),
        (with(&ec, json!({ "crv": "secp256k1" })), false),
        (with(&ec, json!({ "alg": "ES256" })), true),
        (with(&ed, json!({ "crv": "X25519" })), false),
        (with(&ed, json!({ "crv": "Ed448" })), false),
        (with(&ed, json!({ "x": short_x })), false),
        (with(&ed, json!({ "alg": "EdDSA" })), true),
        (json!({ "kty": "oct", "k": "c2VjcmV0" }), false),
        (json!("not an object"), false),
        (json!(null), false),
    ];
    for (key, kept) in &table {
        let doc = json!({ "keys": [key] }).to_string();
        let parsed = parse_jwks(doc.as_bytes(), Limits::DEFAULT);
        assert_eq!(
            parsed.map(|jwks| jwks.len()),
            Ok(usize::from(*kept)),
            "{key}"
        );
    }
    // All of them in one document: the usable ones, in order.
    let all: Vec<Value> = table.iter().map(|(key, _)| key.clone()).collect();
    let doc = json!({ "keys": all }).to_string();
    let kept = table.iter().filter(|(_, kept)| *kept).count();
    assert_eq!(
        parse_jwks(doc.as_bytes(), Limits::DEFAULT).map(|j| j.len()),
        Ok(kept)
    );
}

#[test]
fn jwks_document_refusals() {
    let limits = Limits::DEFAULT;
    let malformed = |what| Err(JwksError::Malformed(what));
    assert_eq!(parse_jwks(b"", limits), malformed("not a JSON object"));
    assert_eq!(parse_jwks(b"[]", limits), malformed("not a JSON object"));
    assert_eq!(
        parse_jwks(b"{\"keys\":[}", limits),
        malformed("not a JSON object")
    );
    assert_eq!(parse_jwks(b"{}", limits), malformed("no keys array"));
    assert_eq!(
        parse_jwks(b"{\"keys\":{}}", limits),
        malformed("no keys array")
    );
    assert_eq!(
        parse_jwks(b"{\"keys\":[]}", limits).map(|j| j.is_empty()),
        Ok(true)
    );
    let big = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
    assert_eq!(parse_jwks(big.as_bytes(), limits), Err(JwksError::Oversize));
    assert!(parse_jwks(big.as_bytes(), limits.jwks_bytes(big.len())).is_ok());
}

#[test]
fn jwks_key_cap_and_duplicates() {
    let keys = Keys::new();
    let ed = keys.ed_jwk.clone();
    let doc = |n: usize| json!({ "keys": vec![ed.clone(); n] }).to_string();
    assert_eq!(
        parse_jwks(doc(32).as_bytes(), Limits::DEFAULT).map(|j| j.len()),
        Ok(32)
    );
    assert_eq!(
        parse_jwks(doc(33).as_bytes(), Limits::DEFAULT),
        Err(JwksError::TooManyKeys)
    );
    assert_eq!(
        parse_jwks(doc(3).as_bytes(), Limits::DEFAULT.keys(2)),
        Err(JwksError::TooManyKeys)
    );
    // Skipped entries do not count against the cap.
    let mut many: Vec<Value> = vec![json!({ "kty": "oct" }); 40];
    many.push(ed.clone());
    let doc = json!({ "keys": many }).to_string();
    assert_eq!(
        parse_jwks(doc.as_bytes(), Limits::DEFAULT).map(|j| j.len()),
        Ok(1)
    );
    // Two keys under one kid: both kept, and the second verifies.
    let other = Keys::new();
    let doc = json!({ "keys": [other.ed_jwk, ed] }).to_string();
    let jwks = parse_jwks(doc.as_bytes(), Limits::DEFAULT).unwrap();
    assert_eq!(jwks.len(), 2);
    let token = keys.token(Alg::EdDsa, &claims());
    assert!(check(&token, &jwks, NOW).is_ok());
}

// --- Introspection ------------------------------------------------------------------

fn introspect(json: &Value) -> Result<Claims, JwtError> {
    let wanted = scopes(&["read"]);
    let answer = parse_introspection(json.to_string().as_bytes(), Limits::DEFAULT)?;
    check_introspection(&answer, &expect(&wanted), NOW)
}

#[test]
fn introspection_parse() {
    let answer = parse_introspection(
        json!({
            "active": true, "sub": "user-1", "client_id": "app-1", "scope": "read  write",
            "exp": NOW + 60, "iss": ISSUER, "aud": RESOURCE, "username": "ann",
            "email": "ann@example.com", "token_type": "Bearer", "extra": {"nested": [1]},
        })
        .to_string()
        .as_bytes(),
        Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(
        answer,
        Introspection {
            active: true,
            subject: Some("user-1".into()),
            client_id: Some("app-1".into()),
            scopes: scopes(&["read", "write"]),
            expires_at: Some(NOW + 60),
            issuer: Some(ISSUER.into()),
            audience: vec![RESOURCE.into()],
            username: Some("ann".into()),
            token_type: Some("Bearer".into()),
            env_claims: vec![
                ("iss", ISSUER.into()),
                ("sub", "user-1".into()),
                ("client_id", "app-1".into()),
                ("email", "ann@example.com".into()),
            ],
        }
    );
    let limits = Limits::DEFAULT;
    assert_eq!(
        parse_introspection(b"{}", limits),
        Err(JwtError::MissingClaim("active"))
    );
    assert_eq!(
        parse_introspection(br#"{"active":"true"}"#, limits),
        Err(JwtError::MissingClaim("active"))
    );
    assert_eq!(
        parse_introspection(b"[true]", limits),
        Err(JwtError::Malformed("introspection is not a JSON object"))
    );
    assert_eq!(
        parse_introspection(br#"{"active":true,"scope":["read"]}"#, limits),
        Err(JwtError::MissingClaim("scope"))
    );
    let big = format!("{{\"active\":true,\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
    assert_eq!(
        parse_introspection(big.as_bytes(), limits),
        Err(JwtError::Oversize)
    );
    // Inactive answers usually hold nothing else (RFC 7662 §2.2).
    let inactive = parse_introspection(br#"{"active":false}"#, limits).unwrap();
    assert_eq!(inactive, Introspection::default());
}

#[test]
fn introspection_checks() {
    let good = json!({
        "active": true, "sub": "user-1", "scope": "read", "exp": NOW + 60,
        "aud": [RESOURCE, "https://other.example"], "client_id": "app-1",
    });
    let with = |changes: Value| {
        let mut answer = good.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                answer.as_object_mut().unwrap().remove(name);
            } else {
                answer[name] = value.clone();
            }
        }
        answer
    };
    assert_eq!(
        introspect(&good),
        Ok(Claims {
            issuer: ISSUER.into(),
            subject: "user-1".into(),
            client_id: Some("app-1".into()),
            scopes: scopes(&["read"]),
            expires_at: NOW + 60,
            env_claims: vec![("sub", "user-1".into()), ("client_id", "app-1".into())],
        })
    );
    let cases: Vec<(Value, Result<(), JwtError>)> = vec![
        (json!({ "active": false }), Err(JwtError::Inactive)),
        (json!({ "exp": NOW - 60 }), Err(JwtError::Expired)),
        (json!({ "exp": NOW - 59 }), Ok(())),
        (
            json!({ "scope": "write" }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (
            json!({ "scope": null }),
            Err(JwtError::InsufficientScope {
                missing: scopes(&["read"]),
            }),
        ),
        (json!({ "aud": RESOURCE }), Ok(())),
        (
            json!({ "aud": "https://other.example" }),
            Err(JwtError::Audience),
        ),
        (
            json!({ "aud": ["https://other.example"] }),
            Err(JwtError::Audience),
        ),
        // An answer that does not name this resource is refused, as a JWT is.
        (json!({ "aud": null }), Err(JwtError::Audience)),
        (json!({ "aud": [] }), Err(JwtError::Audience)),
        (json!({ "aud": 7 }), Err(JwtError::MissingClaim("aud"))),
        (json!({ "token_type": "Bearer" }), Ok(())),
        (json!({ "token_type": "bearer" }), Ok(())),
        (json!({ "token_type": "access_token" }), Ok(())),
        (json!({ "token_type": "Access_Token" }), Ok(())),
        (
            json!({ "token_type": "refresh_token" }),
            Err(JwtError::Type),
        ),
        (json!({ "token_type": "" }), Err(JwtError::Type)),
        (
            json!({ "token_type": 1 }),
            Err(JwtError::MissingClaim("token_type")),
        ),
        (json!({ "iss": ISSUER }), Ok(())),
        (
            json!({ "iss": "https://other.example" }),
            Err(JwtError::Issuer),
        ),
        (json!({ "sub": null }), Err(JwtError::MissingClaim("sub"))),
        (json!({ "exp": "soon" }), Err(JwtError::MissingClaim("exp"))),
    ];
    for (changes, want) in cases {
        assert_eq!(
            introspect(&with(changes.clone())).map(|_| ()),
            want,
            "{changes}"
        );
    }
    // No exp stated: no end from the answer itself.
    assert_eq!(
        introspect(&with(json!({ "exp": null }))).map(|c| c.expires_at),
        Ok(u64::MAX)
    );
}

// --- Errors -----------------------------------------------------------------------------

#[test]
fn errors_describe_without_contents() {
    let all = [
        JwtError::Audience,
        JwtError::BadSignature,
        JwtError::Expired,
        JwtError::Inactive,
        JwtError::InsufficientScope {
            missing: scopes(&["a\nb"]),
        },
        JwtError::Issuer,
        JwtError::Malformed("header is not base64url"),
        JwtError::MissingClaim("sub"),
        JwtError::NoKey,
        JwtError::NotYetValid,
        JwtError::Oversize,
        JwtError::Type,
        JwtError::UnsupportedAlg,
    ];
    for error in &all {
        let text = error.describe();
        assert!(!text.is_empty() && !text.contains('\n'), "{error:?}");
        let shown = error.to_string();
        assert!(!shown.is_empty() && !shown.contains('\n'), "{error:?}");
        let want = if matches!(error, JwtError::InsufficientScope { .. }) {
            403
        } else {
            401
        };
        assert_eq!(error.status(), want);
    }
    assert_eq!(
        JwtError::MissingClaim("sub").to_string(),
        "the token has no valid `sub` claim"
    );
    assert_eq!(Limits::default(), Limits::DEFAULT);
    assert_eq!(
        (
            Limits::DEFAULT.token_bytes,
            Limits::DEFAULT.jwks_bytes,
            Limits::DEFAULT.keys
        ),
        (8192, 65536, 32)
    );
}
