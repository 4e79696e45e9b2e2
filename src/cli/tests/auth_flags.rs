//! The `--auth*` OAuth resource-server flags: accepted values into
//! `Config::auth_oauth`, the introspection client file, refusals, and the
//! secret kept out of errors and `Debug`. (The end-to-end refusals are in
//! `tests/auth_oauth.rs`.)

use std::os::unix::fs::PermissionsExt;

use super::*;

const ISSUER: &str = "https://as.example.com/tenant";
const RESOURCE: &str = "https://mcp.example.com/mcp";

fn args(extra: &[&str]) -> Vec<String> {
    ["--stdio", "true", "--outputTransport", "streamableHttp"]
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect()
}

/// A temp file holding `contents` with `mode`; removed on drop.
struct ClientFile(std::path::PathBuf);

impl ClientFile {
    fn new(tag: &str, contents: &str, mode: u32) -> Self {
        let path = std::env::temp_dir().join(format!("sg-cli-auth-{tag}-{}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ClientFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn oauth_resource_server_accepts() {
    let config = parse(&args(&[])).unwrap();
    assert!(config.auth_oauth.is_none());

    let config = parse(&args(&[
        "--authIssuer",
        ISSUER,
        "--authResource",
        RESOURCE,
        "--authScopes",
        "mcp:read, mcp:write,mcp:read",
    ]))
    .unwrap();
    let settings = config.auth_oauth.unwrap();
    assert_eq!(settings.issuer, ISSUER);
    assert_eq!(settings.resource, RESOURCE);
    assert_eq!(settings.scopes, ["mcp:read", "mcp:write"]);
    assert!(settings.introspection.is_none());
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    // Loopback http, and introspection with a commented client file.
    let file = ClientFile::new("ok", "# gateway\n\n  gw:s3cr:et  \n", 0o644);
    let config = parse(&args(&[
        "--authIssuer",
        "http://127.0.0.1:9000",
        "--authResource",
        "http://localhost:8000/mcp",
        "--authIntrospectionUrl",
        "http://127.0.0.1:9000/introspect",
        "--authIntrospectionClientFile",
        file.path(),
    ]))
    .unwrap();
    let settings = config.auth_oauth.as_ref().unwrap();
    let client = settings.introspection.as_ref().unwrap();
    assert_eq!(client.url.to_string(), "http://127.0.0.1:9000/introspect");
    assert_eq!(client.client_id, "gw");
    // base64("gw:s3cr%3Aet"): RFC 6749 §2.3.1 form-encodes id and secret.
    assert_eq!(client.authorization.expose(), "Basic Z3c6czNjciUzQWV0");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert!(!debug.contains("Z3c6"), "{debug}");
    assert_eq!(
        config.warnings,
        [format!(
            "--authIntrospectionClientFile {:?} can be read by other users (chmod 600 it)",
            file.path()
        )]
    );
}

#[test]
fn oauth_resource_server_rejects() {
    let no_colon = ClientFile::new("nocolon", "gw-only\n", 0o600);
    let two = ClientFile::new("two", "a:b\nc:d\n", 0o600);
    let empty_secret = ClientFile::new("empty", "gw:\n", 0o600);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--authScopes", "a"], "--authScopes needs --authIssuer"),
        (
            vec!["--authIssuer", ISSUER],
            "--authIssuer needs --authResource",
        ),
        (
            vec![
                "--authIssuer",
                "https://as.example/?x=1",
                "--authResource",
                RESOURCE,
            ],
            "--authIssuer must be an https URL",
        ),
        (
            vec![
                "--authIssuer",
                "ftp://as.example",
                "--authResource",
                RESOURCE,
            ],
            "--authIssuer must be an https URL",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                "https://mcp.example.com/mcp?x=1",
            ],
            "--authResource must be an https URL",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                RESOURCE,
                "--authScopes",
                "a,,b",
            ],
            "--authScopes must be a comma-separated list",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                RESOURCE,
                "--authScopes",
                "a\"b",
            ],
            "--authScopes must be a comma-separated list",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                RESOURCE,
                "--authIntrospectionClientFile",
                two.path(),
            ],
            "--authIntrospectionClientFile needs --authIntrospectionUrl",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                RESOURCE,
                "--authIntrospectionUrl",
                "http://127.0.0.1:9/introspect",
                "--authIntrospectionClientFile",
                two.path(),
            ],
            "--authIntrospectionUrl must be https when --authIssuer is",
        ),
        (
            vec![
                "--authIssuer",
                ISSUER,
                "--authResource",
                RESOURCE,
                "--authIntrospectionUrl",
                "http://as.example/introspect",
                "--authIntrospectionClientFile",
                two.path(),
            ],
            "--authIntrospectionUrl must be an https URL",
        ),
    ];
    for (extra, expected) in cases {
        let err = parse(&args(&extra)).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message.contains(expected),
            "{expected:?} not in {:?}",
            err.message
        );
    }
    for file in [&no_colon, &two, &empty_secret] {
        let err = parse(&args(&[
            "--authIssuer",
            ISSUER,
            "--authResource",
            RESOURCE,
            "--authIntrospectionUrl",
            "https://as.example.com/introspect",
            "--authIntrospectionClientFile",
            file.path(),
        ]))
        .unwrap_err();
        assert!(
            err.message
                .contains("must hold one line CLIENT_ID:CLIENT_SECRET"),
            "{}",
            err.message
        );
        for secret in ["gw-only", "a:b", "c:d"] {
            assert!(!err.message.contains(secret), "{}", err.message);
        }
    }
}

#[test]
fn oauth_resource_flags_in_a_reverse_mode_are_a_warning() {
    let config = parse(&[
        "--streamableHttp".to_owned(),
        "http://127.0.0.1:9/mcp".to_owned(),
        "--authIssuer".to_owned(),
        "not even a URL".to_owned(),
    ])
    .unwrap();
    assert!(config.auth_oauth.is_none());
    assert!(
        config.warnings.iter().any(|w| w.contains("--authIssuer")),
        "{:?}",
        config.warnings
    );
}
