//! The steps of one authorization over proto's pieces: discovery (PRM, then
//! authorization-server metadata), the client (pre-registered, CIMD, stored
//! or dynamically registered), and the grants (authorization code with PKCE
//! and the loopback redirect, device code, client credentials, refresh).
//! The decisions between them (refresh or authorize, step-up, migration)
//! are the [`super::Authorizer`]'s.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use supergateway_proto::oauth::authorize::{self, Callback};
use supergateway_proto::oauth::challenge::Bearer;
use supergateway_proto::oauth::discovery::{self, AuthorizationServer, ProtectedResource};
use supergateway_proto::oauth::pkce::{State, Verifier, RANDOM_BYTES};
use supergateway_proto::oauth::registration::{self, AuthMethod, ClientInformation};
use supergateway_proto::oauth::token::{self, Action, ClientAuth, Grant, TokenError};
use supergateway_proto::oauth::Error as ProtoError;
use supergateway_proto::url::Url;

use super::error::OAuthError;
use super::fetch::Fetcher;
use super::loopback::Loopback;
use super::store::{ClientKind, ClientRecord, Record, Tokens};
use super::{Config, Opener};

/// Issuers tried from one PRM's `authorization_servers`, at most.
const MAX_ISSUERS: usize = 4;
/// Token lifetime assumed when the AS gives no `expires_in`.
const DEFAULT_LIFETIME: u64 = 3600;
/// Longest token lifetime believed.
const MAX_LIFETIME: u64 = 365 * 24 * 3600;
/// Longest device-code polling.
const MAX_DEVICE_WAIT: Duration = Duration::from_secs(15 * 60);
/// The DCR `client_name`.
const CLIENT_NAME: &str = "supergateway";
const FORM: &str = "application/x-www-form-urlencoded";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What discovery found.
pub(crate) struct Discovered {
    pub(crate) prm: ProtectedResource,
    pub(crate) server: AuthorizationServer,
}

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// PRM (the challenge's `resource_metadata` first, then the well-known
/// URLs), then the metadata of the first issuer that answers with a valid
/// document.
pub(crate) async fn discover(
    fetcher: &Fetcher,
    mcp: &Url,
    bearer: &Bearer,
) -> Result<Discovered, OAuthError> {
    let mut candidates = Vec::new();
    if let Some(value) = &bearer.resource_metadata {
        candidates.push(
            discovery::resource_metadata_url(value)
                .map_err(|err| OAuthError::Proto("resource_metadata", err))?,
        );
    }
    candidates.extend(discovery::protected_resource_urls(mcp));
    let mut prm = None;
    for url in &candidates {
        match fetcher.get_json(url, &[]).await {
            Ok(body) => {
                prm = Some(
                    ProtectedResource::parse(&body, mcp)
                        .map_err(|err| OAuthError::Proto("protected resource metadata", err))?,
                );
                break;
            }
            Err(err) => tracing::debug!("oauth: no resource metadata at {}: {err}", url.redacted()),
        }
    }
    let prm = prm.ok_or(OAuthError::NoResourceMetadata)?;
    let mut failure = OAuthError::NoServerMetadata;
    for issuer in prm.authorization_servers().iter().take(MAX_ISSUERS) {
        let urls = match discovery::authorization_server_urls(issuer) {
            Ok(urls) => urls,
            Err(err) => {
                failure = OAuthError::Proto("issuer", err);
                continue;
            }
        };
        for url in &urls {
            let body = match fetcher.get_json(url, &[]).await {
                Ok(body) => body,
                Err(err) => {
                    tracing::debug!("oauth: no metadata at {}: {err}", url.redacted());
                    continue;
                }
            };
            match AuthorizationServer::parse(&body, issuer) {
                Ok(server) => return Ok(Discovered { prm, server }),
                Err(err) => {
                    // A document that names another issuer is not tried
                    // under a third URL of the same issuer.
                    failure = OAuthError::Proto("authorization server metadata", err);
                    break;
                }
            }
        }
    }
    Err(failure)
}

/// A client for the code or device flow that needs no new registration:
/// `--oauthClientId`, else the stored one (unexpired), else the CIMD URL
/// where the server supports it.
pub(crate) fn known_client(
    config: &Config,
    server: &AuthorizationServer,
    stored: Option<&ClientRecord>,
) -> Result<Option<ClientRecord>, OAuthError> {
    if let Some(id) = &config.client_id {
        let method = registration::choose_auth_method(
            server.token_endpoint_auth_methods_supported(),
            config.client_secret.is_some(),
        )
        // A server that lists none of ours: try what we can do.
        .unwrap_or_else(|_| {
            if config.client_secret.is_some() {
                AuthMethod::ClientSecretBasic
            } else {
                AuthMethod::None
            }
        });
        return Ok(Some(ClientRecord {
            client_id: id.clone(),
            client_secret: config.client_secret.clone(),
            auth_method: method.as_str().to_owned(),
            redirect_uri: None,
            registered_at: now(),
            secret_expires_at: None,
            kind: ClientKind::Preregistered,
        }));
    }
    if let Some(client) = stored {
        let expired = registration::secret_expired(client.secret_expires_at, now());
        if client.kind == ClientKind::Dcr && !expired {
            return Ok(Some(client.clone()));
        }
    }
    if let Some(url) = &config.client_metadata_url {
        if server.client_id_metadata_document_supported() {
            return Ok(Some(ClientRecord {
                client_id: url.clone(),
                client_secret: None,
                auth_method: AuthMethod::None.as_str().to_owned(),
                redirect_uri: None,
                registered_at: now(),
                secret_expires_at: None,
                kind: ClientKind::Cimd,
            }));
        }
    }
    Ok(None)
}

/// Registers a client (RFC 7591) for `redirect_uri` (none: device flow).
pub(crate) async fn register(
    fetcher: &Fetcher,
    server: &AuthorizationServer,
    redirect_uri: Option<&str>,
    grant_types: &[&str],
) -> Result<ClientRecord, OAuthError> {
    let endpoint = server
        .registration_endpoint()
        .ok_or(OAuthError::NoRegistration)?;
    let supported = server.token_endpoint_auth_methods_supported();
    let method = registration::registration_auth_method(supported)
        .map_err(|err| OAuthError::Proto("client registration", err))?;
    let redirect_uris: Vec<String> = redirect_uri.map(str::to_owned).into_iter().collect();
    let body = registration::Request {
        client_name: CLIENT_NAME,
        redirect_uris: &redirect_uris,
        grant_types,
        auth_method: method,
        scope: None,
    }
    .to_json();
    let answer = fetcher
        .post(endpoint, "application/json", body.as_bytes(), None)
        .await
        .map_err(|err| OAuthError::Fetch("client registration", err))?;
    if !(200..=299).contains(&answer.status) {
        return Err(OAuthError::Registration(answer.status));
    }
    let info = ClientInformation::parse(&answer.body)
        .map_err(|err| OAuthError::Proto("registration response", err))?;
    let method = match info.auth_method {
        Some(method) => method,
        None => registration::choose_auth_method(supported, info.client_secret.is_some())
            .map_err(|err| OAuthError::Proto("registration response", err))?,
    };
    tracing::info!("oauth: registered a client with {}", server.issuer());
    Ok(ClientRecord {
        client_id: info.client_id,
        client_secret: info.client_secret,
        auth_method: method.as_str().to_owned(),
        redirect_uri: redirect_uri.map(str::to_owned),
        registered_at: now(),
        secret_expires_at: info.client_secret_expires_at,
        kind: ClientKind::Dcr,
    })
}

/// The authorization code flow: client, loopback listener, browser,
/// callback checks, code exchange. `record.client` is updated when a client
/// is registered.
pub(crate) async fn code_flow(
    fetcher: &Fetcher,
    config: &Config,
    opener: &Opener,
    found: &Discovered,
    record: &mut Record,
    scope: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let server = &found.server;
    let resource = found.prm.resource();
    let mut client = known_client(config, server, record.client.as_ref())?;
    // A stored DCR registration names its redirect URI: listen there again
    // when no port is configured, or register anew.
    let stored_port = client
        .as_ref()
        .filter(|client| client.kind == ClientKind::Dcr)
        .and_then(|client| client.redirect_uri.as_deref())
        .and_then(redirect_port);
    let loopback = match (config.callback_port, stored_port) {
        (0, Some(port)) => match Loopback::bind(port).await {
            Ok(loopback) => loopback,
            Err(_) => {
                client = None;
                Loopback::bind(0).await.map_err(OAuthError::Loopback)?
            }
        },
        (port, _) => Loopback::bind(port).await.map_err(OAuthError::Loopback)?,
    };
    let redirect_uri = loopback.redirect_uri();
    if let Some(existing) = &client {
        if existing.kind == ClientKind::Dcr
            && existing.redirect_uri.as_deref() != Some(redirect_uri.as_str())
        {
            client = None;
        }
    }
    let client = match client {
        Some(client) => client,
        None => {
            let client = register(
                fetcher,
                server,
                Some(&redirect_uri),
                &["authorization_code", "refresh_token"],
            )
            .await?;
            client
        }
    };
    if client.kind == ClientKind::Dcr {
        record.client = Some(client.clone());
    }
    let verifier = Verifier::from_random(&random());
    let state = State::from_random(&random());
    let challenge = verifier.challenge(sha256);
    let url = authorize::authorization_url(
        server,
        &authorize::Params {
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            code_challenge: &challenge,
            state: &state,
            scope,
            resource,
        },
    )
    .map_err(|err| OAuthError::Proto("authorization request", err))?;
    (opener)(&url);
    let callback = loopback
        .wait(state.secret().expose(), config.timeout)
        .await
        .map_err(OAuthError::Loopback)?;
    drop(loopback);
    let code = Callback::parse(callback.target())
        .and_then(|parsed| {
            parsed.verify(
                &state,
                server.issuer(),
                server.authorization_response_iss_parameter_supported(),
            )
        })
        .map_err(OAuthError::Callback)?;
    let grant = Grant::AuthorizationCode {
        code: &code,
        redirect_uri: &redirect_uri,
        verifier: verifier.secret(),
    };
    let tokens = exchange(fetcher, server, &grant, &client, resource)
        .await
        .map_err(|err| wipe_client_on(err, record))?;
    Ok(stored_tokens(tokens, scope))
}

/// The device authorization grant (RFC 8628).
pub(crate) async fn device_flow(
    fetcher: &Fetcher,
    config: &Config,
    found: &Discovered,
    record: &mut Record,
    scope: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let server = &found.server;
    let resource = found.prm.resource();
    let endpoint = server
        .device_authorization_endpoint()
        .ok_or(OAuthError::NoDeviceEndpoint)?;
    let client = match known_client(config, server, record.client.as_ref())? {
        Some(client) => client,
        None => {
            let client = register(fetcher, server, None, &[DEVICE_GRANT, "refresh_token"]).await?;
            record.client = Some(client.clone());
            client
        }
    };
    let auth = client_auth(&client);
    let request = token::Request::device_authorization(&auth, scope, Some(resource))
        .map_err(|err| OAuthError::Proto("device authorization request", err))?;
    let answer = fetcher
        .post(
            endpoint,
            FORM,
            request.body.expose().as_bytes(),
            request
                .authorization
                .as_ref()
                .map(|value| value.expose().as_bytes()),
        )
        .await
        .map_err(|err| OAuthError::Fetch("device authorization", err))?;
    if !(200..=299).contains(&answer.status) {
        return Err(OAuthError::Token(
            token::parse_response(answer.status, &answer.body, now())
                .err()
                .unwrap_or(TokenError::Http(answer.status)),
        ));
    }
    let device = token::DeviceAuthorization::parse(&answer.body, now())
        .map_err(|err| OAuthError::Proto("device authorization response", err))?;
    match &device.verification_uri_complete {
        Some(complete) => eprintln!(
            "To authorise, open {} and enter the code {} (or open {complete})",
            device.verification_uri, device.user_code
        ),
        None => eprintln!(
            "To authorise, open {} and enter the code {}",
            device.verification_uri, device.user_code
        ),
    }
    let wait = Duration::from_secs(device.expires_at.saturating_sub(now()))
        .min(MAX_DEVICE_WAIT)
        .min(config.timeout);
    let deadline = Instant::now().checked_add(wait);
    let mut interval = device.interval.max(1);
    loop {
        Timer::after(Duration::from_secs(interval)).await;
        if deadline.is_none_or(|deadline| Instant::now() >= deadline) {
            return Err(OAuthError::DeviceExpired);
        }
        let grant = Grant::DeviceCode {
            device_code: &device.device_code,
        };
        match exchange(fetcher, server, &grant, &client, resource).await {
            Ok(tokens) => return Ok(stored_tokens(tokens, scope)),
            Err(OAuthError::Token(err)) => match err.action() {
                Action::KeepPolling => {}
                Action::SlowDown => interval = token::next_interval(interval, Action::SlowDown),
                _ => return Err(wipe_client_on(OAuthError::Token(err), record)),
            },
            Err(other) => return Err(other),
        }
    }
}

/// The client credentials grant: no user.
pub(crate) async fn client_credentials(
    fetcher: &Fetcher,
    config: &Config,
    found: &Discovered,
    scope: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let client = known_client(config, &found.server, None)?
        .filter(|client| client.kind == ClientKind::Preregistered)
        .ok_or(OAuthError::NoRegistration)?;
    let grant = Grant::ClientCredentials { scope };
    let tokens = exchange(
        fetcher,
        &found.server,
        &grant,
        &client,
        found.prm.resource(),
    )
    .await?;
    Ok(stored_tokens(tokens, scope))
}

/// The refresh token grant with the same scope as before; a new refresh
/// token replaces the old one, else the old one is kept.
pub(crate) async fn refresh(
    fetcher: &Fetcher,
    server: &AuthorizationServer,
    client: &ClientRecord,
    resource: &str,
    old: &Tokens,
) -> Result<Tokens, OAuthError> {
    let Some(refresh_token) = &old.refresh_token else {
        return Err(OAuthError::Token(TokenError::Invalid(ProtoError::Missing(
            "refresh_token",
        ))));
    };
    let grant = Grant::RefreshToken {
        refresh_token,
        scope: old.requested_scope.as_deref(),
    };
    let tokens = exchange(fetcher, server, &grant, client, resource).await?;
    let mut new = stored_tokens(tokens, old.requested_scope.as_deref());
    if new.refresh_token.is_none() {
        new.refresh_token = Some(refresh_token.clone());
    }
    if new.scope.is_none() {
        new.scope.clone_from(&old.scope);
    }
    tracing::info!("oauth: refreshed the access token");
    Ok(new)
}

/// One token request with `client`'s authentication and `resource`.
async fn exchange(
    fetcher: &Fetcher,
    server: &AuthorizationServer,
    grant: &Grant<'_>,
    client: &ClientRecord,
    resource: &str,
) -> Result<token::Tokens, OAuthError> {
    let request = token::Request::new(grant, &client_auth(client), Some(resource))
        .map_err(|err| OAuthError::Proto("token request", err))?;
    let answer = fetcher
        .post(
            server.token_endpoint(),
            FORM,
            request.body.expose().as_bytes(),
            request
                .authorization
                .as_ref()
                .map(|value| value.expose().as_bytes()),
        )
        .await
        .map_err(|err| OAuthError::Fetch("token request", err))?;
    token::parse_response(answer.status, &answer.body, now()).map_err(OAuthError::Token)
}

fn client_auth(client: &ClientRecord) -> ClientAuth<'_> {
    ClientAuth {
        client_id: &client.client_id,
        secret: client.client_secret.as_ref(),
        method: AuthMethod::from_name(&client.auth_method).unwrap_or(AuthMethod::None),
    }
}

/// `invalid_client` forgets the registration (the next attempt registers
/// again); the error is passed on.
fn wipe_client_on(err: OAuthError, record: &mut Record) -> OAuthError {
    if let OAuthError::Token(token_err) = &err {
        if token_err.action() == Action::WipeClient {
            record.client = None;
        }
    }
    err
}

/// The tokens as stored: expiry clamped to [now, now + 1 year], one hour
/// when the AS gave none.
pub(crate) fn stored_tokens(tokens: token::Tokens, requested: Option<&str>) -> Tokens {
    let now = now();
    let expires_at = tokens
        .expires_at
        .unwrap_or_else(|| now.saturating_add(DEFAULT_LIFETIME))
        .clamp(now, now.saturating_add(MAX_LIFETIME));
    Tokens {
        access_token: tokens.access_token,
        token_type: "Bearer".to_owned(),
        expires_at,
        refresh_token: tokens.refresh_token,
        scope: tokens.scope,
        requested_scope: requested.map(str::to_owned),
    }
}

/// The port of `http://127.0.0.1:PORT/callback`.
fn redirect_port(uri: &str) -> Option<u16> {
    let port = uri
        .strip_prefix("http://127.0.0.1:")?
        .strip_suffix(authorize::CALLBACK_PATH)?;
    port.parse().ok().filter(|&port| port != 0)
}

/// 32 bytes from the OS CSPRNG (PKCE verifier, state).
fn random() -> [u8; RANDOM_BYTES] {
    let mut bytes = [0u8; RANDOM_BYTES];
    let (first, second) = bytes.split_at_mut(16);
    first.copy_from_slice(&crate::rt::random_bytes());
    second.copy_from_slice(&crate::rt::random_bytes());
    bytes
}

/// SHA-256 through ring, for PKCE's S256.
fn sha256(input: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, input);
    let mut out = [0u8; 32];
    if let Some(bytes) = digest.as_ref().get(..32) {
        out.copy_from_slice(bytes);
    }
    out
}
