//! The driver end to end against the in-tree authorization server
//! (`tests/oauth/server.rs`): each flow through the hook as a bridge will
//! call it, refresh, step-up, `iss` checks, expired and revoked tokens,
//! migration, two drivers refreshing once, file modes, and no secret in
//! the logs.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use futures_lite::future;
use supergateway_proto::http::Method;
use supergateway_proto::oauth::authorize::CallbackError;
use supergateway_proto::oauth::Error as ProtoError;
use supergateway_proto::url::Url;

use super::fetch::Fetcher;
use super::store::Store;
use super::{Attempt, Authorizer, Config, Flow, OAuthError, Opener, Verdict};
use crate::gateway::authorized::{Answer, Upstream};
use crate::http::client::{Client, ClientOptions};
use crate::rt;

// Test code written for the integration tests, whose crates allow these.
#[allow(
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#[path = "../../tests/oauth/server.rs"]
mod oauth_server;

use oauth_server::{Client as AsClient, Config as AsConfig, Iss, TestAs};

/// A private temp directory for a token store, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let mut name = format!("sg-oauth-flow-{tag}-{}-", std::process::id());
        rt::push_hex(&mut name, &rt::random_bytes());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self(path)
    }

    fn store(&self) -> Store {
        Store::in_dir(&self.0).unwrap()
    }

    fn files(&self) -> Vec<(String, u32)> {
        let mut files: Vec<(String, u32)> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                (entry.file_name().into_string().unwrap(), mode)
            })
            .collect();
        files.sort();
        files
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A headless browser: GETs the authorization URL on a thread and follows
/// its redirect to the loopback listener. Records each URL opened.
fn headless() -> (Opener, Rc<RefCell<Vec<String>>>) {
    let opened = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&opened);
    let opener: Opener = Rc::new(move |url: &str| {
        seen.borrow_mut().push(url.to_owned());
        let url = url.to_owned();
        std::thread::spawn(move || {
            let (status, location) = get(&url);
            if let (302, Some(location)) = (status, location) {
                get(&location);
            }
        });
    });
    (opener, opened)
}

/// A blocking `GET url` (plain http): status and Location.
fn get(url: &str) -> (u16, Option<String>) {
    try_get(url).unwrap()
}

/// The same, `None` when nothing listens.
fn try_get(url: &str) -> Option<(u16, Option<String>)> {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, target) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(authority).ok()?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let location = answer.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    Some((status, location))
}

fn authorizer(test_as: &TestAs, config: Config, store: Store, opener: Opener) -> Authorizer {
    Authorizer::with_parts(
        config,
        Url::parse(&test_as.mcp_url()).unwrap(),
        Fetcher::new().unwrap(),
        store,
        opener,
    )
}

/// One MCP request through the hook, as the bridge makes it: the body's
/// answer, or the authorization error.
async fn call(auth: &Authorizer, mcp: &str, body: &str) -> Result<(u16, String), OAuthError> {
    let client = Client::new(ClientOptions::default()).unwrap();
    let url = Url::parse(mcp).unwrap();
    let mut attempt = Attempt::default();
    loop {
        let credential = auth.credential().await;
        attempt.sent(credential.as_ref());
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("content-type", b"application/json"),
            ("accept", b"application/json, text/event-stream"),
        ];
        if let Some(credential) = &credential {
            headers.push(("authorization", credential.header.expose().as_bytes()));
        }
        let response = client
            .send(Method::Post, &url, &headers, Some(body.as_bytes()), None)
            .await
            .unwrap();
        let status = response.status();
        let challenges: Vec<String> = response
            .head()
            .header_values("www-authenticate")
            .map(|value| String::from_utf8(value.to_vec()).unwrap())
            .collect();
        let text = String::from_utf8(response.body(1 << 20).await.unwrap()).unwrap();
        if status != 401 && status != 403 {
            return Ok((status, text));
        }
        let values: Vec<&str> = challenges.iter().map(String::as_str).collect();
        match auth.challenge(status, &values, &mut attempt).await {
            Verdict::Retry => {}
            Verdict::PassOn => return Ok((status, text)),
            Verdict::Fail(err) => return Err(err),
        }
    }
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
const WHOAMI: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;

/// Captures every log line at debug level while `run` runs.
fn with_logs<T>(run: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink(Arc::default());
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Other tests of this binary run at the same time. While a single scoped subscriber is
    // registered, tracing computes a new callsite's interest from the subscriber of the thread
    // that reaches it first: another test's thread (none: "never") would silence it here for
    // good. A second registered dispatcher, kept for the process, makes tracing ask every live
    // subscriber instead.
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let result = tracing::subscriber::with_default(subscriber, run);
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    (result, logs)
}

#[test]
fn code_flow_end_to_end_then_a_second_driver_reuses_the_stored_token() {
    let test_as = TestAs::start(AsConfig {
        challenge_scope: Some("mcp:basic".into()),
        as_scopes: Some(vec!["mcp:basic".into(), "offline_access".into()]),
        ..AsConfig::default()
    });
    let dir = TempDir::new("code");
    let ((), logs) = with_logs(|| {
        rt::block_on(async {
            let (opener, opened) = headless();
            let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
            assert!(auth.credential().await.is_none());
            let (status, body) = call(&auth, &test_as.mcp_url(), WHOAMI).await.unwrap();
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("scopes=mcp:basic offline_access"), "{body}");
            assert_eq!(opened.borrow().len(), 1);
            // The next request carries the token: no 401.
            let before = test_as.counts().mcp_401;
            assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
            assert_eq!(test_as.counts().mcp_401, before);

            // A second driver (another bridge) on the same store: its first
            // 401 finds the stored token, no browser, no new authorization.
            let (opener2, opened2) = headless();
            let second = authorizer(&test_as, Config::default(), dir.store(), opener2);
            assert_eq!(
                call(&second, &test_as.mcp_url(), LIST).await.unwrap().0,
                200
            );
            assert!(opened2.borrow().is_empty());
        });
    });
    let counts = test_as.counts();
    assert_eq!(
        (
            counts.register,
            counts.authorize,
            counts.token("authorization_code")
        ),
        (1, 1, 1)
    );
    // What the AS saw: a native client, PKCE S256, the PRM's resource on
    // both requests, the union scope with offline_access.
    let registration = &test_as.registrations()[0];
    assert_eq!(registration.body["application_type"], "native");
    assert_eq!(registration.body["client_name"], "supergateway");
    assert_eq!(
        registration.body["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    let authorization = &test_as.authorizations()[0];
    assert_eq!(authorization.query["code_challenge_method"], "S256");
    assert_eq!(authorization.query["code_challenge"].len(), 43);
    assert_eq!(authorization.query["resource"], test_as.mcp_url());
    assert_eq!(authorization.query["scope"], "mcp:basic offline_access");
    let token = &test_as.token_requests()[0];
    assert_eq!(token.form["resource"], test_as.mcp_url());
    assert_eq!(token.form["code_verifier"].len(), 43);
    // One record and its lock, both 0600.
    let files = dir.files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, mode)| *mode == 0o600), "{files:?}");
    assert!(files[0].0.starts_with("127.0.0.1-") && files[0].0.ends_with(".json"));
    // Nothing the AS issued reached a log line, at debug level.
    let secrets = test_as.secrets();
    assert_eq!(secrets.len(), 3, "{secrets:?}"); // code, access, refresh
    for secret in secrets {
        assert!(!logs.contains(&secret), "{secret} in logs:\n{logs}");
    }
    assert!(
        logs.contains("oauth: MCP server requires authorization"),
        "{logs}"
    );
}

#[test]
fn iss_is_checked_before_the_code_is_redeemed() {
    // (advertised, what the redirect carries, accepted?)
    let cases = [
        (Some(true), Iss::Correct, true),
        (None, Iss::Omit, true),
        (Some(true), Iss::Omit, false),
        (Some(true), Iss::Wrong, false),
        (None, Iss::Wrong, false),
        (Some(true), Iss::Normalized, false),
    ];
    for (supported, iss, accepted) in cases {
        let test_as = TestAs::start(AsConfig {
            iss_supported: supported,
            iss,
            ..AsConfig::default()
        });
        let dir = TempDir::new("iss");
        let result = rt::block_on(async {
            let (opener, _) = headless();
            let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
            call(&auth, &test_as.mcp_url(), LIST).await
        });
        let counts = test_as.counts();
        assert_eq!(counts.authorize, 1, "{supported:?} {iss:?}");
        if accepted {
            assert_eq!(result.unwrap().0, 200, "{supported:?} {iss:?}");
            assert_eq!(counts.token("authorization_code"), 1);
        } else {
            assert!(
                matches!(
                    result.as_ref().map_err(OAuthError::root),
                    Err(OAuthError::Callback(CallbackError::Invalid(
                        ProtoError::IssMismatch | ProtoError::IssMissing
                    )))
                ),
                "{supported:?} {iss:?}: {result:?}"
            );
            assert_eq!(
                counts.token("authorization_code"),
                0,
                "{supported:?} {iss:?}"
            );
        }
    }
}

#[test]
fn expired_token_refreshes_and_a_revoked_refresh_token_authorises_again() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("refresh");
    rt::block_on(async {
        let (opener, opened) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        test_as.expire_access_tokens();
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert_eq!(test_as.counts().token_ok("refresh_token"), 1);
        assert_eq!(opened.borrow().len(), 1);
        // Revoked: the refresh is refused (invalid_grant), the tokens are
        // wiped, the registration kept, and the user is asked again.
        test_as.expire_access_tokens();
        test_as.revoke_refresh_tokens();
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert_eq!(opened.borrow().len(), 2);
    });
    let counts = test_as.counts();
    assert_eq!(counts.token("refresh_token"), 2);
    assert_eq!(counts.token_ok("refresh_token"), 1);
    assert_eq!(counts.register, 1);
    assert_eq!(counts.token_ok("authorization_code"), 2);
}

#[test]
fn a_token_is_not_refreshed_before_its_margin() {
    // Lifetime 60 s: the margin is half of it, 30 s; nothing is due yet.
    let test_as = TestAs::start(AsConfig {
        expires_in: 60,
        ..AsConfig::default()
    });
    let dir = TempDir::new("margin");
    rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        let before = auth.credential().await.unwrap().header;
        assert_eq!(auth.credential().await.unwrap().header, before);
    });
    assert_eq!(test_as.counts().token("refresh_token"), 0);
}

#[test]
fn step_up_asks_for_the_union_and_retries_once() {
    let test_as = TestAs::start(AsConfig {
        challenge_scope: Some("mcp:basic".into()),
        call_scope: Some("mcp:write".into()),
        prm_scopes: Some(vec!["mcp:profile".into()]),
        ..AsConfig::default()
    });
    let dir = TempDir::new("stepup");
    rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        let (status, body) = call(&auth, &test_as.mcp_url(), WHOAMI).await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("scopes=mcp:basic mcp:write"), "{body}");
    });
    let scopes: Vec<String> = test_as
        .authorizations()
        .iter()
        .map(|a| a.query["scope"].clone())
        .collect();
    assert_eq!(scopes, ["mcp:basic", "mcp:basic mcp:write"]);
    assert_eq!(test_as.counts().register, 1);
}

#[test]
fn authorizations_are_capped_at_three_per_window() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("cap");
    rt::block_on(async {
        let (opener, opened) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        for _ in 0..3 {
            assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
            // Neither the token nor a refresh works any more: authorise again.
            test_as.expire_access_tokens();
            test_as.revoke_refresh_tokens();
        }
        let result = call(&auth, &test_as.mcp_url(), LIST).await;
        assert!(
            matches!(
                result.as_ref().map_err(OAuthError::root),
                Err(OAuthError::AttemptCap)
            ),
            "{result:?}"
        );
        assert_eq!(opened.borrow().len(), 3);
    });
    assert_eq!(test_as.counts().authorize, 3);
}

#[test]
fn a_second_insufficient_scope_for_one_request_fails() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("insist");
    rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        let challenge = r#"Bearer error="insufficient_scope", scope="mcp:admin""#;
        let mut attempt = Attempt::default();
        attempt.sent(auth.credential().await.as_ref());
        assert!(matches!(
            auth.challenge(403, &[challenge], &mut attempt).await,
            Verdict::Retry
        ));
        attempt.sent(auth.credential().await.as_ref());
        assert!(matches!(
            auth.challenge(403, &[challenge], &mut attempt).await,
            Verdict::Fail(OAuthError::ScopeRefused)
        ));
        // A new request that meets the same demand: already requested.
        let mut attempt = Attempt::default();
        attempt.sent(auth.credential().await.as_ref());
        assert!(matches!(
            auth.challenge(403, &[challenge], &mut attempt).await,
            Verdict::Fail(err) if matches!(err.root(), OAuthError::ScopeRefused)
        ));
        // A 403 that is not about scope is the server's answer.
        assert!(matches!(
            auth.challenge(
                403,
                &[r#"Bearer error="forbidden""#],
                &mut Attempt::default()
            )
            .await,
            Verdict::PassOn
        ));
    });
    assert_eq!(test_as.counts().authorize, 2);
}

#[test]
fn two_drivers_whose_token_expired_refresh_once() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("two");
    rt::block_on(async {
        let (opener, _) = headless();
        let first = authorizer(&test_as, Config::default(), dir.store(), opener);
        let (opener, opened) = headless();
        let second = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&first, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert_eq!(
            call(&second, &test_as.mcp_url(), LIST).await.unwrap().0,
            200
        );
        assert!(opened.borrow().is_empty());
        test_as.expire_access_tokens();
        let (a, b) = future::zip(
            call(&first, &test_as.mcp_url(), LIST),
            call(&second, &test_as.mcp_url(), LIST),
        )
        .await;
        assert_eq!((a.unwrap().0, b.unwrap().0), (200, 200));
    });
    let counts = test_as.counts();
    assert_eq!(counts.token("refresh_token"), 1, "{counts:?}");
    assert_eq!(counts.authorize, 1);
}

#[test]
fn migration_registers_at_the_new_authorization_server() {
    let test_as = TestAs::start(AsConfig {
        prefixes: vec!["/as1".into(), "/as2".into()],
        ..AsConfig::default()
    });
    let dir = TempDir::new("migrate");
    rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        test_as.update(|config| config.current = 1);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
    });
    let registrations = test_as.registrations();
    let prefixes: Vec<&str> = registrations.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(prefixes, ["/as1", "/as2"]);
    let authorizations = test_as.authorizations();
    assert_eq!(authorizations.len(), 2);
    assert_eq!(authorizations[1].prefix, "/as2");
    assert_ne!(
        authorizations[0].query["client_id"],
        authorizations[1].query["client_id"]
    );
    // No refresh at the old AS, and two files (one per issuer).
    assert_eq!(test_as.counts().token("refresh_token"), 0);
    assert_eq!(dir.files().len(), 4);
}

#[test]
fn metadata_naming_another_issuer_is_refused_before_any_endpoint_is_used() {
    let test_as = TestAs::start(AsConfig {
        metadata_issuer: Some("https://attacker.example.com".into()),
        ..AsConfig::default()
    });
    let dir = TempDir::new("issuer");
    let result = rt::block_on(async {
        let (opener, opened) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        let result = call(&auth, &test_as.mcp_url(), LIST).await;
        assert!(opened.borrow().is_empty());
        result
    });
    assert!(
        matches!(
            result.as_ref().map_err(OAuthError::root),
            Err(OAuthError::Proto(_, ProtoError::IssuerMismatch))
        ),
        "{result:?}"
    );
    let counts = test_as.counts();
    assert_eq!((counts.register, counts.authorize), (0, 0));
    assert!(counts.token.is_empty());
}

#[test]
fn client_credentials_with_a_pre_registered_client() {
    let test_as = TestAs::start(AsConfig {
        auth_methods: vec!["client_secret_basic".into()],
        dcr: false,
        clients: vec![AsClient {
            id: "svc".into(),
            secret: Some("p@ss:w rd".into()),
            method: "client_secret_basic".into(),
            redirect_uris: Vec::new(),
            prefix: String::new(),
        }],
        ..AsConfig::default()
    });
    let dir = TempDir::new("cc");
    rt::block_on(async {
        let (opener, opened) = headless();
        let config = Config {
            flow: Flow::ClientCredentials,
            client_id: Some("svc".into()),
            client_secret: Some(super::Secret::new("p@ss:w rd".into())),
            issuer: Some(test_as.issuer(0)),
            ..Config::default()
        };
        let auth = authorizer(&test_as, config, dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert!(opened.borrow().is_empty());
    });
    let requests = test_as.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].basic_client.as_deref(), Some("svc"));
    assert_eq!(requests[0].form["grant_type"], "client_credentials");
    assert_eq!(requests[0].form["resource"], test_as.mcp_url());
    assert!(!requests[0].form.contains_key("client_secret"));
}

#[test]
fn a_pre_registered_client_bound_to_another_issuer_fails() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("bound");
    let result = rt::block_on(async {
        let (opener, _) = headless();
        let config = Config {
            client_id: Some("c".into()),
            issuer: Some("https://other.example.com".into()),
            ..Config::default()
        };
        let auth = authorizer(&test_as, config, dir.store(), opener);
        call(&auth, &test_as.mcp_url(), LIST).await
    });
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the pre-registered client belongs to https://other.example.com, not to the authorization server the MCP server names"
    );
    assert_eq!(test_as.counts().authorize, 0);
}

#[test]
fn device_flow_polls_until_approved() {
    let test_as = TestAs::start(AsConfig {
        device_pending_polls: 1,
        device_interval: 1,
        ..AsConfig::default()
    });
    let dir = TempDir::new("device");
    rt::block_on(async {
        let (opener, opened) = headless();
        let config = Config {
            flow: Flow::Device,
            ..Config::default()
        };
        let auth = authorizer(&test_as, config, dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert!(opened.borrow().is_empty());
    });
    let counts = test_as.counts();
    assert_eq!(counts.device, 1);
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    assert_eq!((counts.token(device), counts.token_ok(device)), (2, 1));
    assert_eq!(
        test_as.registrations()[0].body["grant_types"],
        serde_json::json!([device, "refresh_token"])
    );
}

#[test]
fn a_denied_authorization_fails_with_the_servers_code() {
    let test_as = TestAs::start(AsConfig {
        deny: true,
        ..AsConfig::default()
    });
    let dir = TempDir::new("deny");
    let result = rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        call(&auth, &test_as.mcp_url(), LIST).await
    });
    assert_eq!(
        result.unwrap_err().to_string(),
        "authorization refused: access_denied"
    );
}

#[test]
fn a_client_metadata_url_is_the_client_id_where_supported() {
    let cimd = "https://conformance-test.local/client-metadata.json";
    for supported in [true, false] {
        let test_as = TestAs::start(AsConfig {
            cimd: supported,
            ..AsConfig::default()
        });
        let dir = TempDir::new("cimd");
        rt::block_on(async {
            let (opener, _) = headless();
            let config = Config {
                client_metadata_url: Some(cimd.into()),
                ..Config::default()
            };
            let auth = authorizer(&test_as, config, dir.store(), opener);
            assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        });
        let client_id = test_as.authorizations()[0].query["client_id"].clone();
        if supported {
            assert_eq!(client_id, cimd);
            assert_eq!(test_as.counts().register, 0);
        } else {
            assert_ne!(client_id, cimd);
            assert_eq!(test_as.counts().register, 1);
        }
    }
}

#[test]
fn the_token_endpoint_is_authenticated_as_registered() {
    // (methods the AS supports, Basic header sent?, client_secret in the body?)
    let cases = [
        ("client_secret_basic", true, false),
        ("client_secret_post", false, true),
        ("none", false, false),
    ];
    for (method, basic, in_body) in cases {
        let test_as = TestAs::start(AsConfig {
            auth_methods: vec![method.into()],
            ..AsConfig::default()
        });
        let dir = TempDir::new("method");
        rt::block_on(async {
            let (opener, _) = headless();
            let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
            assert_eq!(
                call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0,
                200,
                "{method}"
            );
        });
        assert_eq!(
            test_as.registrations()[0].body["token_endpoint_auth_method"],
            method
        );
        let token = &test_as.token_requests()[0];
        assert_eq!(token.basic_client.is_some(), basic, "{method}");
        assert_eq!(
            token.form.contains_key("client_secret"),
            in_body,
            "{method}"
        );
        assert_eq!(token.form["resource"], test_as.mcp_url(), "{method}");
    }
}

/// The `WWW-Authenticate` values of the MCP server's 401 to a request
/// without a token.
async fn challenge_of(mcp: &str) -> Vec<String> {
    let client = Client::new(ClientOptions::default()).unwrap();
    let response = client
        .send(
            Method::Post,
            &Url::parse(mcp).unwrap(),
            &[("content-type", b"application/json")],
            Some(LIST.as_bytes()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    response
        .head()
        .header_values("www-authenticate")
        .map(|value| String::from_utf8(value.to_vec()).unwrap())
        .collect()
}

#[test]
fn a_cancelled_request_does_not_stop_its_authorization() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("cancel");
    rt::block_on(async {
        // A browser that tells the test of each URL, waits until the test
        // lets it go, then follows it and says whether the redirect was
        // delivered to the loopback listener.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let (opened_tx, opened) = smol::channel::unbounded::<String>();
        let (delivered_tx, delivered) = smol::channel::unbounded::<bool>();
        let opener: Opener = Rc::new(move |url: &str| {
            opened_tx.try_send(url.to_owned()).unwrap();
            let (url, gate, delivered) = (url.to_owned(), Arc::clone(&gate), delivered_tx.clone());
            std::thread::spawn(move || {
                // Err once the test drops `release`.
                let _ = gate.lock().unwrap().recv();
                let redirect = match get(&url) {
                    (302, Some(location)) => try_get(&location).is_some(),
                    _ => false,
                };
                delivered.try_send(redirect).unwrap();
            });
        });
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        let values = challenge_of(&test_as.mcp_url()).await;
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let mut attempt = Attempt::default();
        let mut first = Box::pin(auth.challenge(401, &values, &mut attempt));
        // The request is cancelled (a local notifications/cancelled, its
        // timeout) while the user is in the browser.
        let url = future::or(async { opened.recv().await.unwrap() }, async {
            let verdict = first.as_mut().await;
            panic!("the request ended before the browser opened: {verdict:?}")
        })
        .await;
        drop(first);
        drop(release);
        assert!(
            delivered.recv().await.unwrap(),
            "the redirect found no listener: {url}"
        );
        // The authorization finished on its own: the next request uses its
        // token (or waits for it), with no second browser window.
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert!(opened.is_empty());
    });
    let counts = test_as.counts();
    assert_eq!(
        (counts.authorize, counts.token_ok("authorization_code")),
        (1, 1)
    );
}

#[test]
fn a_failed_authorization_is_shared_with_the_requests_that_waited() {
    let test_as = TestAs::start(AsConfig {
        deny: true,
        ..AsConfig::default()
    });
    let dir = TempDir::new("shared");
    let verdicts = rt::block_on(async {
        let (opener, opened) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        let values = challenge_of(&test_as.mcp_url()).await;
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        // Two requests met the 401 at once: the second waits for the
        // authorization the first started.
        let (mut first, mut second) = (Attempt::default(), Attempt::default());
        let verdicts = future::zip(
            auth.challenge(401, &values, &mut first),
            auth.challenge(401, &values, &mut second),
        )
        .await;
        assert_eq!(opened.borrow().len(), 1);
        verdicts
    });
    for verdict in [verdicts.0, verdicts.1] {
        let Verdict::Fail(err) = verdict else {
            panic!("{verdict:?}");
        };
        assert_eq!(err.to_string(), "authorization refused: access_denied");
    }
    assert_eq!(test_as.counts().authorize, 1);
}

#[test]
fn the_clocks_stop_while_a_request_refreshes_the_token() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("pause");
    rt::block_on(async {
        let (opener, _) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        // The token is due for a refresh (to the driver; the server still
        // takes it).
        if let Some(current) = auth.inner.held.borrow_mut().current.as_mut() {
            current.tokens.expires_at = super::flow::now();
        }
        let upstream = Upstream::new(
            Client::new(ClientOptions::default()).unwrap(),
            Some(auth),
            std::time::Duration::from_secs(60),
        );
        let headers: [(&str, &[u8]); 2] = [
            ("content-type", b"application/json"),
            ("accept", b"application/json, text/event-stream"),
        ];
        let url = Url::parse(&test_as.mcp_url()).unwrap();
        let answer = upstream
            .send(Method::Post, &url, &headers, Some(LIST.as_bytes()), None)
            .await
            .unwrap();
        let Answer::Head(response) = answer else {
            panic!("not a head");
        };
        assert_eq!(response.status(), 200);
        assert!(upstream.pauses().paused() > std::time::Duration::ZERO);
    });
    let counts = test_as.counts();
    // One 401 (the first request), one refresh, no 401 after it.
    assert_eq!((counts.mcp_401, counts.token_ok("refresh_token")), (1, 1));
}

#[test]
fn a_cancelled_request_does_not_lose_a_rotated_refresh_token() {
    let test_as = TestAs::start(AsConfig::default());
    let dir = TempDir::new("rotate");
    rt::block_on(async {
        let (opener, opened) = headless();
        let auth = authorizer(&test_as, Config::default(), dir.store(), opener);
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        if let Some(current) = auth.inner.held.borrow_mut().current.as_mut() {
            current.tokens.expires_at = super::flow::now();
        }
        // The AS rotates the refresh token, then holds its answer until the
        // request that asked for it is gone.
        let (held_tx, held) = smol::channel::unbounded::<()>();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        test_as.before_next_token_answer(move || {
            held_tx.try_send(()).unwrap();
            // Err once the test drops `release`.
            let _ = gate.recv();
        });
        let mcp = test_as.mcp_url();
        let mut first = Box::pin(call(&auth, &mcp, LIST));
        future::or(async { held.recv().await.unwrap() }, async {
            let result = first.as_mut().await;
            panic!("the request ended before the refresh was answered: {result:?}")
        })
        .await;
        drop(first);
        drop(release);
        // The new refresh token reached the driver: the next request needs
        // neither another refresh nor the browser.
        assert_eq!(call(&auth, &test_as.mcp_url(), LIST).await.unwrap().0, 200);
        assert_eq!(opened.borrow().len(), 1);
    });
    let counts = test_as.counts();
    assert_eq!(
        (
            counts.token("refresh_token"),
            counts.token_ok("refresh_token"),
            counts.authorize
        ),
        (1, 1, 1)
    );
    // And the store: a second driver takes the rotated token as it is.
    let stored = rt::block_on(async {
        let (opener, opened) = headless();
        let second = authorizer(&test_as, Config::default(), dir.store(), opener);
        let result = call(&second, &test_as.mcp_url(), LIST).await;
        assert!(opened.borrow().is_empty());
        result
    });
    assert_eq!(stored.unwrap().0, 200);
    assert_eq!(test_as.counts().token("refresh_token"), 1);
}
