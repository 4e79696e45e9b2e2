//! The `--oauth*` flags: accepted values into `Config::oauth`, refusals,
//! the secret file, and secrets kept out of errors and `Debug`.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::oauth::Flow;

const REMOTE: [&str; 2] = ["--streamableHttp", "http://127.0.0.1:9/mcp"];

fn with_remote(extra: &[&str]) -> Vec<String> {
    REMOTE
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect()
}

/// A temp file holding `contents` with `mode`; removed on drop.
struct SecretFile(std::path::PathBuf);

impl SecretFile {
    fn new(tag: &str, contents: &[u8], mode: u32) -> Self {
        let path = std::env::temp_dir().join(format!("sg-cli-secret-{tag}-{}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn oauth_defaults() {
    let config = parse(&with_remote(&[])).unwrap();
    let oauth = &config.oauth;
    assert!(!oauth.forced);
    assert_eq!(oauth.flow, Flow::AuthorizationCode);
    assert_eq!(oauth.client_id, None);
    assert!(oauth.client_secret.is_none());
    assert_eq!(oauth.issuer, None);
    assert_eq!(oauth.client_metadata_url, None);
    assert_eq!(oauth.callback_port, 0);
    assert_eq!(oauth.timeout, Duration::from_secs(300));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn oauth_accepts() {
    let file = SecretFile::new("accept", b"pre-registered-secret\r\n", 0o600);
    let config = parse(&with_remote(&[
        "--oauth",
        "--oauthFlow",
        "client_credentials",
        "--oauthClientId",
        "pre-registered-client",
        "--oauthClientSecretFile",
        file.path(),
        "--oauthIssuer",
        "http://localhost:3001",
        "--oauth-client-metadata-url",
        "https://conformance-test.local/client-metadata.json",
        "--oauthCallbackPort",
        "8765",
        "--oauthTimeout",
        "1500",
    ]))
    .unwrap();
    let oauth = &config.oauth;
    assert!(oauth.forced);
    assert_eq!(oauth.flow, Flow::ClientCredentials);
    assert_eq!(oauth.client_id.as_deref(), Some("pre-registered-client"));
    assert_eq!(
        oauth.client_secret.as_ref().map(|s| s.expose()),
        Some("pre-registered-secret")
    );
    assert_eq!(oauth.issuer.as_deref(), Some("http://localhost:3001"));
    assert_eq!(
        oauth.client_metadata_url.as_deref(),
        Some("https://conformance-test.local/client-metadata.json")
    );
    assert_eq!(oauth.callback_port, 8765);
    assert_eq!(oauth.timeout, Duration::from_millis(1500));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    // The secret on the command line; `device`.
    let config = parse(&with_remote(&[
        "--oauthFlow=device",
        "--oauthClientId=c",
        "--oauthClientSecret=a b:c%",
        "--oauthIssuer=https://as.example",
    ]))
    .unwrap();
    assert_eq!(config.oauth.flow, Flow::Device);
    assert_eq!(config.oauth.client_secret.unwrap().expose(), "a b:c%");
}

#[test]
fn oauth_secret_file_readable_by_others_is_a_warning() {
    let file = SecretFile::new("open", b"s\n", 0o644);
    let config = parse(&with_remote(&[
        "--oauthClientId",
        "c",
        "--oauthClientSecretFile",
        file.path(),
        "--oauthIssuer",
        "https://as.example",
    ]))
    .unwrap();
    assert_eq!(config.oauth.client_secret.unwrap().expose(), "s");
    assert_eq!(
        config.warnings,
        [format!(
            "--oauthClientSecretFile {:?} can be read by other users (chmod 600 it)",
            file.path()
        )]
    );
}

#[test]
fn oauth_flags_in_a_forward_mode_are_a_warning() {
    let config = parse(&args(&["--stdio", "x", "--oauthClientId", "c"])).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].starts_with("--oauthClientId "),
        "{:?}",
        config.warnings
    );
}

#[test]
fn oauth_rejects() {
    let empty = SecretFile::new("empty", b"\n", 0o600);
    let missing = "/nonexistent/sg-secret";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--oauthFlow", "implicit"],
            "--oauthFlow must be one of authorization_code, device, client_credentials (got \"implicit\")".into(),
        ),
        (
            vec!["--oauthClientId", "c", "--oauthClientSecret", "s", "--oauthClientSecretFile", empty.path()],
            "--oauthClientSecret and --oauthClientSecretFile cannot be combined".into(),
        ),
        (vec!["--oauthClientSecret", "s"], "a client secret needs --oauthClientId".into()),
        (
            vec!["--oauthClientId", "c", "--oauthClientSecret", "s"],
            "a client secret needs --oauthIssuer (the authorization server the client is \
             registered with: the secret is sent to no other)"
                .into(),
        ),
        (vec!["--oauthIssuer", "https://as"], "--oauthIssuer needs --oauthClientId".into()),
        (
            vec!["--oauthClientId", "c", "--oauthIssuer", "as.example.com"],
            "--oauthIssuer must be an absolute http or https URL (got \"as.example.com\")".into(),
        ),
        (
            vec!["--oauthClientMetadataUrl", "http://x.test/client.json"],
            "--oauthClientMetadataUrl must be an https URL with a path, without a fragment (got \"http://x.test/client.json\")".into(),
        ),
        (
            vec!["--oauthClientMetadataUrl", "https://x.test/"],
            "--oauthClientMetadataUrl must be an https URL with a path".into(),
        ),
        (
            vec!["--oauthFlow", "client_credentials", "--oauthClientId", "c"],
            "--oauthFlow client_credentials needs --oauthClientId and a secret".into(),
        ),
        (vec!["--oauthTimeout", "0"], "--oauthTimeout must be greater than 0".into()),
        (
            vec!["--oauthCallbackPort", "70000"],
            "--oauthCallbackPort must be a port from 0 to 65535".into(),
        ),
        (vec!["--oauthClientId", ""], "--oauthClientId must be 1 to 1024 characters".into()),
        (
            vec!["--oauthClientId", "c", "--oauthClientSecretFile", empty.path()],
            "the secret in --oauthClientSecretFile must be 1 to 4096 characters".into(),
        ),
        (
            vec!["--oauthClientId", "c", "--oauthClientSecretFile", missing],
            format!("--oauthClientSecretFile {missing:?}: No such file or directory"),
        ),
    ];
    for (extra, expected) in cases {
        let err = parse(&with_remote(&extra))
            .err()
            .unwrap_or_else(|| panic!("{extra:?} accepted"));
        assert_eq!(err.code, 2, "{extra:?}");
        assert!(
            err.message
                .starts_with(&format!("supergateway: {expected}")),
            "{extra:?}: {}",
            err.message
        );
    }
}

#[test]
fn oauth_secrets_stay_out_of_errors_and_debug() {
    // A bad secret is refused without being shown.
    let err = parse(&with_remote(&[
        "--oauthClientId",
        "c",
        "--oauthClientSecret",
        "top\u{7}secret",
    ]))
    .err()
    .unwrap();
    assert!(!err.message.contains("top"), "{}", err.message);
    let config = parse(&with_remote(&[
        "--oauthClientId",
        "c",
        "--oauthClientSecret",
        "topsecret",
        "--oauthIssuer",
        "https://as.example",
    ]))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(
        shown.contains("client_secret: Some(\"<redacted>\")"),
        "{shown}"
    );
}
