//! Discovery: the well-known URL orders, `resource` matching, and accept /
//! reject tables for both metadata documents.

use super::{
    authorization_server_urls, protected_resource_urls, resource_matches, resource_metadata_url,
    AuthorizationServer, ProtectedResource,
};
use crate::oauth::Error;
use crate::url::Url;

fn strings(urls: &[Url]) -> Vec<String> {
    urls.iter().map(ToString::to_string).collect()
}

#[test]
fn protected_resource_url_order() {
    for (mcp, expected) in [
        (
            "https://example.com/public/mcp",
            vec![
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource",
            ],
        ),
        (
            "http://localhost:3000/mcp/",
            vec![
                "http://localhost:3000/.well-known/oauth-protected-resource/mcp",
                "http://localhost:3000/.well-known/oauth-protected-resource",
            ],
        ),
        (
            "https://example.com/",
            vec!["https://example.com/.well-known/oauth-protected-resource"],
        ),
        (
            "https://example.com:8443",
            vec!["https://example.com:8443/.well-known/oauth-protected-resource"],
        ),
    ] {
        let urls = protected_resource_urls(&Url::parse(mcp).unwrap());
        assert_eq!(strings(&urls), expected, "{mcp}");
    }
}

#[test]
fn authorization_server_url_order() {
    for (issuer, expected) in [
        (
            "https://auth.example.com",
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ],
        ),
        (
            "https://auth.example.com/",
            vec![
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ],
        ),
        (
            "http://127.0.0.1:9000/tenant1/",
            vec![
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server/tenant1",
                "http://127.0.0.1:9000/.well-known/openid-configuration/tenant1",
                "http://127.0.0.1:9000/tenant1/.well-known/openid-configuration",
            ],
        ),
    ] {
        let urls = authorization_server_urls(issuer).unwrap();
        assert_eq!(strings(&urls), expected, "{issuer}");
    }
    for (issuer, error) in [
        ("http://auth.example.com", Error::Insecure("the issuer")),
        (
            "https://auth.example.com?x=1",
            Error::Malformed("issuer (query or fragment)"),
        ),
        (
            "https://auth.example.com#f",
            Error::Malformed("issuer (query or fragment)"),
        ),
        ("auth.example.com", Error::Malformed("issuer")),
        ("wss://auth.example.com", Error::Insecure("the issuer")),
    ] {
        assert_eq!(authorization_server_urls(issuer), Err(error), "{issuer}");
    }
}

#[test]
fn resource_matching() {
    let mcp = Url::parse("https://mcp.example.com/api/mcp").unwrap();
    for resource in [
        "https://mcp.example.com/api/mcp",
        "https://mcp.example.com/api/mcp/",
        "https://mcp.example.com/api",
        "https://mcp.example.com/",
        "https://mcp.example.com",
        "HTTPS://MCP.EXAMPLE.COM:443/api",
    ] {
        assert!(resource_matches(resource, &mcp), "{resource}");
    }
    for resource in [
        "https://evil.example.com/api/mcp",
        "http://mcp.example.com/api/mcp",
        "https://mcp.example.com:8443/api/mcp",
        "https://mcp.example.com/ap",
        "https://mcp.example.com/api/mcp/more",
        "https://mcp.example.com/other",
        "https://mcp.example.com/api/mcp#f",
        "https://mcp.example.com/api/mcp?x=1",
        "mcp.example.com/api/mcp",
        "",
    ] {
        assert!(!resource_matches(resource, &mcp), "{resource}");
    }
}

#[test]
fn resource_metadata_urls() {
    assert!(
        resource_metadata_url("https://x.example/.well-known/oauth-protected-resource").is_ok()
    );
    assert!(resource_metadata_url("http://localhost:1/prm").is_ok());
    assert_eq!(
        resource_metadata_url("http://x.example/prm"),
        Err(Error::Insecure("resource_metadata URL"))
    );
    assert_eq!(
        resource_metadata_url("/relative"),
        Err(Error::Malformed("resource_metadata URL"))
    );
}

#[test]
fn protected_resource_accepts() {
    let mcp = Url::parse("http://localhost:3000/mcp").unwrap();
    let prm = ProtectedResource::parse(
        br#"{"resource":"http://localhost:3000","authorization_servers":["http://localhost:4000","https://b.example/t"],"bearer_methods_supported":["header"]}"#,
        &mcp,
    )
    .unwrap();
    assert_eq!(prm.resource(), "http://localhost:3000");
    assert_eq!(
        prm.authorization_servers(),
        ["http://localhost:4000", "https://b.example/t"]
    );
    assert_eq!(prm.scopes_supported(), None);
    let prm = ProtectedResource::parse(
        br#"{"resource":"http://localhost:3000/mcp","authorization_servers":["http://localhost:4000"],"scopes_supported":[]}"#,
        &mcp,
    )
    .unwrap();
    assert_eq!(prm.scopes_supported(), Some(&[][..]));
}

#[test]
fn protected_resource_rejects() {
    let mcp = Url::parse("http://localhost:3000/mcp").unwrap();
    let big = format!(
        r#"{{"resource":"http://localhost:3000","authorization_servers":["http://localhost:4000"],"pad":"{}"}}"#,
        "x".repeat(65 * 1024)
    );
    let many = format!(
        r#"{{"resource":"http://localhost:3000","authorization_servers":[{}]}}"#,
        vec![r#""http://localhost:4000""#; 65].join(",")
    );
    let cases: Vec<(&[u8], Error)> = vec![
        (b"", Error::Malformed("protected resource metadata")),
        (b"[]", Error::Malformed("protected resource metadata")),
        (b"{", Error::Malformed("protected resource metadata")),
        (br#"{"authorization_servers":["http://localhost:4000"]}"#, Error::Missing("resource")),
        (br#"{"resource":5}"#, Error::Malformed("resource")),
        (br#"{"resource":"https://evil.example.com/mcp","authorization_servers":["http://localhost:4000"]}"#, Error::ResourceMismatch),
        (br#"{"resource":"http://localhost:3000/mcp"}"#, Error::Missing("authorization_servers")),
        (br#"{"resource":"http://localhost:3000/mcp","authorization_servers":[]}"#, Error::Missing("authorization_servers")),
        (br#"{"resource":"http://localhost:3000/mcp","authorization_servers":"http://localhost:4000"}"#, Error::Malformed("authorization_servers")),
        (br#"{"resource":"http://localhost:3000/mcp","authorization_servers":[1]}"#, Error::Malformed("authorization_servers")),
        (br#"{"resource":"http://localhost:3000/mcp","authorization_servers":["http://as.example"]}"#, Error::Insecure("the issuer")),
        (br#"{"resource":"http://localhost:3000/mcp","authorization_servers":["http://localhost:4000"],"scopes_supported":"a"}"#, Error::Malformed("scopes_supported")),
        (big.as_bytes(), Error::TooLarge("protected resource metadata")),
        (many.as_bytes(), Error::TooLarge("authorization_servers")),
    ];
    for (body, error) in cases {
        assert_eq!(
            ProtectedResource::parse(body, &mcp),
            Err(error),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

const AS: &str = r#"{"issuer":"http://localhost:4000","authorization_endpoint":"http://localhost:4000/authorize","token_endpoint":"http://localhost:4000/token","registration_endpoint":"http://localhost:4000/register","device_authorization_endpoint":"http://localhost:4000/device","scopes_supported":["mcp:basic","offline_access"],"grant_types_supported":["authorization_code","refresh_token"],"token_endpoint_auth_methods_supported":["none","client_secret_post"],"code_challenge_methods_supported":["plain","S256"],"client_id_metadata_document_supported":true,"authorization_response_iss_parameter_supported":true,"response_types_supported":["code"]}"#;

#[test]
fn authorization_server_accepts() {
    let server = AuthorizationServer::parse(AS.as_bytes(), "http://localhost:4000").unwrap();
    assert_eq!(server.issuer(), "http://localhost:4000");
    let show = |url: Option<&Url>| url.map(ToString::to_string);
    assert_eq!(
        show(server.authorization_endpoint()).as_deref(),
        Some("http://localhost:4000/authorize")
    );
    assert_eq!(
        server.token_endpoint().to_string(),
        "http://localhost:4000/token"
    );
    assert_eq!(
        show(server.registration_endpoint()).as_deref(),
        Some("http://localhost:4000/register")
    );
    assert_eq!(
        show(server.device_authorization_endpoint()).as_deref(),
        Some("http://localhost:4000/device")
    );
    assert_eq!(server.scopes_supported(), ["mcp:basic", "offline_access"]);
    assert!(server.supports_grant("refresh_token"));
    assert!(!server.supports_grant("implicit"));
    assert_eq!(
        server.token_endpoint_auth_methods_supported(),
        ["none", "client_secret_post"]
    );
    assert!(server.supports_s256());
    assert!(server.client_id_metadata_document_supported());
    assert!(server.authorization_response_iss_parameter_supported());

    // Defaults when the optional fields are absent.
    let minimal =
        br#"{"issuer":"https://as.example/t","token_endpoint":"https://as.example/token"}"#;
    let server = AuthorizationServer::parse(minimal, "https://as.example/t").unwrap();
    assert_eq!(server.authorization_endpoint(), None);
    assert!(server.scopes_supported().is_empty());
    assert!(server.supports_grant("authorization_code"));
    assert!(!server.supports_grant("refresh_token"));
    assert_eq!(
        server.token_endpoint_auth_methods_supported(),
        ["client_secret_basic"]
    );
    assert!(!server.supports_s256());
    assert!(!server.client_id_metadata_document_supported());
    assert!(!server.authorization_response_iss_parameter_supported());
}

#[test]
fn authorization_server_rejects() {
    let with = |key: &str, value: &str| {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(AS).unwrap();
        map.insert(key.to_owned(), serde_json::from_str(value).unwrap());
        serde_json::to_vec(&map).unwrap()
    };
    let without = |key: &str| {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(AS).unwrap();
        map.remove(key);
        serde_json::to_vec(&map).unwrap()
    };
    let cases = [
        (
            with("issuer", r#""https://attacker.example.com""#),
            Error::IssuerMismatch,
        ),
        (
            with("issuer", r#""http://localhost:4000/""#),
            Error::IssuerMismatch,
        ),
        (
            with("issuer", r#""HTTP://localhost:4000""#),
            Error::IssuerMismatch,
        ),
        (without("issuer"), Error::Missing("issuer")),
        (without("token_endpoint"), Error::Missing("token_endpoint")),
        (
            with("token_endpoint", r#""http://as.example/token""#),
            Error::Insecure("token_endpoint"),
        ),
        (
            with("authorization_endpoint", r#""http://as.example/a""#),
            Error::Insecure("authorization_endpoint"),
        ),
        (
            with("registration_endpoint", r#""ftp://as.example/r""#),
            Error::Malformed("registration_endpoint"),
        ),
        (
            with(
                "device_authorization_endpoint",
                r#""https://as.example/d#x""#,
            ),
            Error::Malformed("device_authorization_endpoint"),
        ),
        (
            with("token_endpoint", "7"),
            Error::Malformed("token_endpoint"),
        ),
        (
            with("code_challenge_methods_supported", r#""S256""#),
            Error::Malformed("code_challenge_methods_supported"),
        ),
        (
            with("client_id_metadata_document_supported", r#""true""#),
            Error::Malformed("client_id_metadata_document_supported"),
        ),
        (
            with("authorization_response_iss_parameter_supported", "1"),
            Error::Malformed("authorization_response_iss_parameter_supported"),
        ),
    ];
    for (body, error) in cases {
        assert_eq!(
            AuthorizationServer::parse(&body, "http://localhost:4000"),
            Err(error),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    // An insecure issuer is refused even when the document agrees with it.
    let plain = br#"{"issuer":"http://as.example","token_endpoint":"https://as.example/t"}"#;
    assert_eq!(
        AuthorizationServer::parse(plain, "http://as.example"),
        Err(Error::Insecure("the issuer"))
    );
}
