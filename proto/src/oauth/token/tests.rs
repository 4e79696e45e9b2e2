//! Token endpoint: request bodies per grant and authentication method,
//! accept / reject tables for the responses, device polling decisions.

use super::{
    next_interval, parse_response, Action, ClientAuth, DeviceAuthorization, ErrorCode, Grant,
    Request, TokenError, Tokens, MAX_INTERVAL_SECONDS,
};
use crate::oauth::registration::AuthMethod;
use crate::oauth::{Error, Secret};

fn secret(text: &str) -> Secret {
    Secret::new(text.to_owned())
}

#[test]
fn request_bodies() {
    let code = secret("c&1");
    let verifier = secret("v");
    let refresh = secret("r");
    let device = secret("d");
    let client_secret = secret("p@ss");
    let grants = [
        (
            Grant::AuthorizationCode { code: &code, redirect_uri: "http://127.0.0.1:5/callback", verifier: &verifier },
            "grant_type=authorization_code&code=c%261&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&code_verifier=v",
        ),
        (Grant::RefreshToken { refresh_token: &refresh, scope: None }, "grant_type=refresh_token&refresh_token=r"),
        (Grant::RefreshToken { refresh_token: &refresh, scope: Some("a b") }, "grant_type=refresh_token&refresh_token=r&scope=a+b"),
        (Grant::ClientCredentials { scope: None }, "grant_type=client_credentials"),
        (Grant::DeviceCode { device_code: &device }, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=d"),
    ];
    for (grant, prefix) in grants {
        let public = ClientAuth {
            client_id: "cid",
            secret: None,
            method: AuthMethod::None,
        };
        let request = Request::new(&grant, &public, Some("http://localhost:3000/mcp")).unwrap();
        assert_eq!(
            request.body.expose(),
            format!("{prefix}&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp&client_id=cid")
        );
        assert_eq!(request.authorization, None);

        let post = ClientAuth {
            client_id: "cid",
            secret: Some(&client_secret),
            method: AuthMethod::ClientSecretPost,
        };
        let request = Request::new(&grant, &post, None).unwrap();
        assert_eq!(
            request.body.expose(),
            format!("{prefix}&client_id=cid&client_secret=p%40ss")
        );
        assert_eq!(request.authorization, None);

        let basic = ClientAuth {
            client_id: "cid",
            secret: Some(&client_secret),
            method: AuthMethod::ClientSecretBasic,
        };
        let request = Request::new(&grant, &basic, None).unwrap();
        assert_eq!(request.body.expose(), prefix);
        // base64("cid:p%40ss")
        assert_eq!(
            request.authorization.as_ref().map(Secret::expose),
            Some("Basic Y2lkOnAlNDBzcw==")
        );
        assert_eq!(format!("{request:?}"), "Request { [redacted] }");
    }
    let no_secret = ClientAuth {
        client_id: "cid",
        secret: None,
        method: AuthMethod::ClientSecretBasic,
    };
    assert_eq!(
        Request::new(&Grant::ClientCredentials { scope: None }, &no_secret, None),
        Err(Error::Missing("client_secret"))
    );
    let public = ClientAuth {
        client_id: "cid",
        secret: None,
        method: AuthMethod::None,
    };
    let device =
        Request::device_authorization(&public, Some("s"), Some("https://m.example")).unwrap();
    assert_eq!(
        device.body.expose(),
        "scope=s&resource=https%3A%2F%2Fm.example&client_id=cid"
    );
}

#[test]
fn token_response_accepts() {
    let tokens = parse_response(
        200,
        br#"{"access_token":"at","token_type":"Bearer","expires_in":"3600","refresh_token":"rt","scope":"a b","extra":{"x":[1]}}"#,
        10,
    )
    .unwrap();
    assert_eq!(
        tokens,
        Tokens {
            access_token: secret("at"),
            expires_at: Some(3610),
            refresh_token: Some(secret("rt")),
            scope: Some("a b".to_owned()),
        }
    );
    let shown = format!("{tokens:?}");
    assert!(
        !shown.contains("\"at\"") && !shown.contains("\"rt\""),
        "{shown}"
    );
    for token_type in ["bearer", "BEARER", "BeArEr"] {
        let body = format!(r#"{{"access_token":"at","token_type":"{token_type}"}}"#);
        let tokens = parse_response(201, body.as_bytes(), 0).unwrap();
        assert_eq!((tokens.expires_at, &tokens.refresh_token), (None, &None));
        assert!(!tokens.needs_refresh(u64::MAX, u64::MAX));
    }
}

#[test]
fn token_response_rejects() {
    let invalid = |e: Error| Err::<Tokens, _>(TokenError::Invalid(e));
    for (body, expected) in [
        (
            &br#"{"token_type":"Bearer"}"#[..],
            invalid(Error::Missing("access_token")),
        ),
        (
            br#"{"access_token":"at"}"#,
            invalid(Error::Missing("token_type")),
        ),
        (
            br#"{"access_token":"at","token_type":"DPoP"}"#,
            invalid(Error::TokenType),
        ),
        (
            br#"{"access_token":"at","token_type":"mac"}"#,
            invalid(Error::TokenType),
        ),
        (
            br#"{"access_token":"at","token_type":"Bearer","expires_in":-5}"#,
            invalid(Error::Malformed("expires_in")),
        ),
        (
            br#"{"access_token":"at","token_type":"Bearer","expires_in":1.5}"#,
            invalid(Error::Malformed("expires_in")),
        ),
        (
            br#"{"access_token":"at","token_type":"Bearer","expires_in":"1h"}"#,
            invalid(Error::Malformed("expires_in")),
        ),
        (
            br#"{"access_token":"at","token_type":"Bearer","expires_in":18446744073709551615}"#,
            invalid(Error::Malformed("expires_in")),
        ),
        (
            br#"{"access_token":["at"],"token_type":"Bearer"}"#,
            invalid(Error::Malformed("access_token")),
        ),
        (
            b"access_token=at&token_type=bearer",
            invalid(Error::Malformed("token response")),
        ),
    ] {
        assert_eq!(
            parse_response(200, body, 1),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn token_errors() {
    for (status, body, expected) in [
        (
            400,
            &br#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#[..],
            TokenError::Server {
                code: ErrorCode::InvalidGrant,
                error: "invalid_grant".to_owned(),
                description: Some("refresh token revoked".to_owned()),
            },
        ),
        (
            401,
            br#"{"error":"invalid_client"}"#,
            TokenError::Server {
                code: ErrorCode::InvalidClient,
                error: "invalid_client".to_owned(),
                description: None,
            },
        ),
        (
            400,
            br#"{"error":"weird\u001b[1m"}"#,
            TokenError::Server {
                code: ErrorCode::Other,
                error: "weird?[1m".to_owned(),
                description: None,
            },
        ),
        (500, b"<html>oops</html>", TokenError::Http(500)),
        (400, br#"{"error":5}"#, TokenError::Http(400)),
        (302, b"", TokenError::Http(302)),
    ] {
        assert_eq!(
            parse_response(status, body, 0),
            Err(expected),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn error_actions() {
    for (name, action) in [
        ("authorization_pending", Action::KeepPolling),
        ("slow_down", Action::SlowDown),
        ("expired_token", Action::Fail),
        ("access_denied", Action::Fail),
        ("invalid_grant", Action::WipeTokens),
        ("invalid_client", Action::WipeClient),
        ("unauthorized_client", Action::WipeClient),
        ("invalid_scope", Action::Fail),
        ("server_error", Action::Fail),
    ] {
        let body = format!(r#"{{"error":"{name}"}}"#);
        let error = parse_response(400, body.as_bytes(), 0).unwrap_err();
        assert_eq!(error.action(), action, "{name}");
    }
    assert_eq!(TokenError::Http(500).action(), Action::Fail);
    assert_eq!(next_interval(5, Action::SlowDown), 10);
    assert_eq!(next_interval(5, Action::KeepPolling), 5);
    assert_eq!(next_interval(58, Action::SlowDown), MAX_INTERVAL_SECONDS);
    assert_eq!(
        next_interval(u64::MAX, Action::SlowDown),
        MAX_INTERVAL_SECONDS
    );
}

#[test]
fn device_authorization() {
    let device = DeviceAuthorization::parse(
        br#"{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device","verification_uri_complete":"https://as.example/device?user_code=ABCD-EFGH","expires_in":600,"interval":0}"#,
        1000,
    )
    .unwrap();
    assert_eq!(device.device_code, secret("dc"));
    assert_eq!(device.user_code, "ABCD-EFGH");
    assert_eq!(
        device.verification_uri.to_string(),
        "https://as.example/device"
    );
    assert_eq!(device.expires_at, 1600);
    assert_eq!(device.interval, 1);
    for (body, error) in [
        (&br#"{"user_code":"u","verification_uri":"https://a.example/d","expires_in":1}"#[..], Error::Missing("device_code")),
        (br#"{"device_code":"d","user_code":"u\n","verification_uri":"https://a.example/d","expires_in":1}"#, Error::Malformed("user_code")),
        (br#"{"device_code":"d","user_code":"u","verification_uri":"http://a.example/d","expires_in":1}"#, Error::Insecure("verification_uri")),
        (br#"{"device_code":"d","user_code":"u","expires_in":1}"#, Error::Missing("verification_uri")),
        (br#"{"device_code":"d","user_code":"u","verification_uri":"https://a.example/d"}"#, Error::Missing("expires_in")),
        (br#"{"device_code":"d","user_code":"u","verification_uri":"https://a.example/d","expires_in":1,"interval":"x"}"#, Error::Malformed("interval")),
    ] {
        assert_eq!(DeviceAuthorization::parse(body, 0), Err(error), "{}", String::from_utf8_lossy(body));
    }
    let slow = br#"{"device_code":"d","user_code":"u","verification_uri":"https://a.example/d","expires_in":1,"interval":3600}"#;
    assert_eq!(
        DeviceAuthorization::parse(slow, 0).unwrap().interval,
        MAX_INTERVAL_SECONDS
    );
}
