//! Published JWS test vectors, for the unit tests and the fuzz harness
//! (whose fixed key set is made of these public keys; it never holds a
//! private key, so any token it finds verifying must be one of these).

/// RFC 7515 Appendix A.2: RS256 over `{"iss":"joe", "exp":1300819380, …}`.
pub(crate) const RFC7515_A2_TOKEN: &str = concat!(
    "eyJhbGciOiJSUzI1NiJ9",
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5",
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L",
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi",
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
);

/// RFC 7515 Appendix A.2's public key, as a JWK (no `kid`).
pub(crate) const RFC7515_A2_JWK: &str = concat!(
    r#"{"kty":"RSA","e":"AQAB","n":""#,
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4",
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdb",
    "BYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-D",
    "WNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    r#""}"#,
);

/// RFC 7515 Appendix A.3: ES256 over the same payload.
pub(crate) const RFC7515_A3_TOKEN: &str = concat!(
    "eyJhbGciOiJFUzI1NiJ9",
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
);

/// RFC 7515 Appendix A.3's public key.
pub(crate) const RFC7515_A3_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-256","#,
    r#""x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","#,
    r#""y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
);

/// RFC 8037 Appendix A.4: EdDSA over the text "Example of Ed25519 signing"
/// (not JSON: its signature verifies, its claims cannot).
pub(crate) const RFC8037_A4_TOKEN: &str = concat!(
    "eyJhbGciOiJFZERTQSJ9",
    ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
);

/// RFC 8037 Appendix A.2's public key.
pub(crate) const RFC8037_A2_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

/// The three keys above as one JWKS.
pub(crate) fn rfc_jwks() -> String {
    format!(r#"{{"keys":[{RFC7515_A2_JWK},{RFC7515_A3_JWK},{RFC8037_A2_JWK}]}}"#)
}

/// The three tokens above.
pub(crate) const RFC_TOKENS: [&str; 3] = [RFC7515_A2_TOKEN, RFC7515_A3_TOKEN, RFC8037_A4_TOKEN];
