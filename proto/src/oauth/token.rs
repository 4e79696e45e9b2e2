//! The token endpoint: request bodies for each grant (RFC 6749 §4.1.3,
//! §4.4.2, §6; RFC 8628 §3.4) with client authentication (§2.3.1), the
//! token response (§5.1) and error response (§5.2) with what each error
//! means for the driver, and the device authorization response (RFC 8628
//! §3.2).

use core::fmt;

use crate::mcp::base64::{self, Alphabet};
use crate::url::Url;

use super::form::{self, Form};
use super::registration::AuthMethod;
use super::{json, printable, secure_url, Error, Secret};

/// Seconds added to the device polling interval on `slow_down` (RFC 8628
/// §3.5).
pub const SLOW_DOWN_SECONDS: u64 = 5;
/// Device polling interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL_SECONDS: u64 = 5;
/// Largest device polling interval we accept from a server: beyond this the
/// user would wait for nothing. Unit: seconds.
pub const MAX_INTERVAL_SECONDS: u64 = 60;

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug)]
pub struct ClientAuth<'a> {
    /// `client_id`.
    pub client_id: &'a str,
    /// `client_secret`, for confidential clients.
    pub secret: Option<&'a Secret>,
    /// The method ([`super::registration::choose_auth_method`]).
    pub method: AuthMethod,
}

/// A grant to redeem at the token endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Grant<'a> {
    /// `authorization_code` with the PKCE verifier (RFC 7636 §4.5).
    AuthorizationCode {
        /// The code from the verified redirect.
        code: &'a Secret,
        /// The same `redirect_uri` as in the authorization request.
        redirect_uri: &'a str,
        /// `code_verifier`.
        verifier: &'a Secret,
    },
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials {
        /// `scope`, omitted when `None`.
        scope: Option<&'a str>,
    },
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
    DeviceCode {
        /// `device_code` from the device authorization response.
        device_code: &'a Secret,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The stored refresh token.
        refresh_token: &'a Secret,
        /// `scope`, omitted when `None` (then the original scope applies).
        scope: Option<&'a str>,
    },
}

/// A form POST for the token or device authorization endpoint. Send it
/// with `Content-Type: application/x-www-form-urlencoded`, `Accept:
/// application/json`, and `Authorization: <authorization>` when present.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The form body; it holds secrets (codes, verifiers, client secrets).
    pub body: Secret,
    /// `Basic …` for `client_secret_basic`.
    pub authorization: Option<Secret>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Request { [redacted] }")
    }
}

impl Request {
    /// The token request for `grant`, authenticated as `auth`, with the
    /// RFC 8707 `resource` (MCP: always, on every grant).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::registration::AuthMethod;
    /// use supergateway_proto::oauth::token::{ClientAuth, Grant, Request};
    /// use supergateway_proto::oauth::Secret;
    ///
    /// let secret = Secret::new("s3".to_owned());
    /// let auth = ClientAuth { client_id: "c 1", secret: Some(&secret), method: AuthMethod::ClientSecretBasic };
    /// let request = Request::new(&Grant::ClientCredentials { scope: Some("a") }, &auth, Some("https://mcp.example"))?;
    /// assert_eq!(request.body.expose(), "grant_type=client_credentials&scope=a&resource=https%3A%2F%2Fmcp.example");
    /// // base64("c+1:s3"): the id and secret are form-encoded first (RFC 6749 §2.3.1).
    /// assert_eq!(request.authorization.unwrap().expose(), "Basic YysxOnMz");
    /// # Ok::<(), supergateway_proto::oauth::Error>(())
    /// ```
    pub fn new(
        grant: &Grant<'_>,
        auth: &ClientAuth<'_>,
        resource: Option<&str>,
    ) -> Result<Self, Error> {
        let mut body = Form::new();
        match grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => {
                body.pair("grant_type", "authorization_code")
                    .pair("code", code.expose())
                    .pair("redirect_uri", redirect_uri)
                    .pair("code_verifier", verifier.expose());
            }
            Grant::ClientCredentials { scope } => {
                body.pair("grant_type", "client_credentials");
                if let Some(scope) = scope {
                    body.pair("scope", scope);
                }
            }
            Grant::DeviceCode { device_code } => {
                body.pair("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
                    .pair("device_code", device_code.expose());
            }
            Grant::RefreshToken {
                refresh_token,
                scope,
            } => {
                body.pair("grant_type", "refresh_token")
                    .pair("refresh_token", refresh_token.expose());
                if let Some(scope) = scope {
                    body.pair("scope", scope);
                }
            }
        }
        if let Some(resource) = resource {
            body.pair("resource", resource);
        }
        Self::authenticated(body, auth)
    }

    /// The device authorization request (RFC 8628 §3.1) with `scope` and
    /// `resource`.
    pub fn device_authorization(
        auth: &ClientAuth<'_>,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Self, Error> {
        let mut body = Form::new();
        if let Some(scope) = scope {
            body.pair("scope", scope);
        }
        if let Some(resource) = resource {
            body.pair("resource", resource);
        }
        Self::authenticated(body, auth)
    }

    /// Adds client authentication to `body` (RFC 6749 §2.3.1): the
    /// `client_id` in the body for `none` and post (and the secret for
    /// post), a Basic header otherwise.
    fn authenticated(mut body: Form, auth: &ClientAuth<'_>) -> Result<Self, Error> {
        let secret = || auth.secret.ok_or(Error::Missing("client_secret"));
        let authorization = match auth.method {
            AuthMethod::None => {
                body.pair("client_id", auth.client_id);
                None
            }
            AuthMethod::ClientSecretPost => {
                body.pair("client_id", auth.client_id)
                    .pair("client_secret", secret()?.expose());
                None
            }
            AuthMethod::ClientSecretBasic => Some(client_secret_basic(auth.client_id, secret()?)),
        };
        Ok(Self {
            body: Secret::new(body.finish()),
            authorization,
        })
    }
}

/// The `Authorization` value of `client_secret_basic` (RFC 6749 §2.3.1):
/// `Basic` and the base64 of the form-encoded id, `:`, the form-encoded
/// secret. Also what a resource server sends to an introspection endpoint
/// (RFC 7662 §2.1).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::{token::client_secret_basic, Secret};
///
/// let header = client_secret_basic("c 1", &Secret::new("s3".to_owned()));
/// assert_eq!(header.expose(), "Basic YysxOnMz");
/// ```
#[must_use]
pub fn client_secret_basic(client_id: &str, secret: &Secret) -> Secret {
    let mut credentials = String::new();
    form::encode(client_id, &mut credentials);
    credentials.push(':');
    form::encode(secret.expose(), &mut credentials);
    let mut header = String::from("Basic ");
    base64::encode(credentials.as_bytes(), Alphabet::Standard, &mut header);
    Secret::new(header)
}

/// A successful token response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// `access_token`, sent as `Authorization: Bearer …`.
    pub access_token: Secret,
    /// When the access token expires, in seconds since the epoch (`now` +
    /// `expires_in`); `None` when the server did not say.
    pub expires_at: Option<u64>,
    /// `refresh_token`, if one was issued (never assume one, MCP says).
    pub refresh_token: Option<Secret>,
    /// `scope` granted, when the server says (else what was asked).
    pub scope: Option<String>,
}

impl Tokens {
    /// Whether to refresh before using the access token at `now`: it expires
    /// within `margin` seconds. A token without an expiry is used until the
    /// server answers 401.
    #[must_use]
    pub fn needs_refresh(&self, now: u64, margin: u64) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.saturating_add(margin))
    }
}

/// A token endpoint error code (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `access_denied` (device flow: the user said no).
    AccessDenied,
    /// `authorization_pending` (device flow: not yet).
    AuthorizationPending,
    /// `expired_token` (device flow: the device code expired).
    ExpiredToken,
    /// `invalid_client`.
    InvalidClient,
    /// `invalid_grant` (a code or refresh token that is expired, revoked or
    /// not ours).
    InvalidGrant,
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_scope`.
    InvalidScope,
    /// `slow_down` (device flow: poll less often).
    SlowDown,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// Any other code.
    Other,
}

impl ErrorCode {
    fn from_name(name: &str) -> Self {
        match name {
            "access_denied" => Self::AccessDenied,
            "authorization_pending" => Self::AuthorizationPending,
            "expired_token" => Self::ExpiredToken,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "invalid_request" => Self::InvalidRequest,
            "invalid_scope" => Self::InvalidScope,
            "slow_down" => Self::SlowDown,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            _ => Self::Other,
        }
    }

    /// What the driver does about this error.
    #[must_use]
    pub const fn action(self) -> Action {
        match self {
            Self::AuthorizationPending => Action::KeepPolling,
            Self::SlowDown => Action::SlowDown,
            Self::InvalidGrant => Action::WipeTokens,
            Self::InvalidClient | Self::UnauthorizedClient => Action::WipeClient,
            Self::AccessDenied
            | Self::ExpiredToken
            | Self::InvalidRequest
            | Self::InvalidScope
            | Self::UnsupportedGrantType
            | Self::Other => Action::Fail,
        }
    }
}

/// What a token error asks of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Give up this attempt and report the error.
    Fail,
    /// Device flow: poll again after the same interval.
    KeepPolling,
    /// Device flow: poll again after the interval plus
    /// [`SLOW_DOWN_SECONDS`] ([`next_interval`]).
    SlowDown,
    /// The client registration is no good: delete the stored client and
    /// tokens for this issuer, register (or report a pre-registered
    /// client's failure) and authorize again.
    WipeClient,
    /// The grant (refresh token, code) is no good: delete the stored tokens
    /// for this issuer and resource and authorize again.
    WipeTokens,
}

/// The device polling interval after `action` (RFC 8628 §3.5: `slow_down`
/// adds 5 seconds, for this and every later request), capped at
/// [`MAX_INTERVAL_SECONDS`].
#[must_use]
pub fn next_interval(interval: u64, action: Action) -> u64 {
    let next = if action == Action::SlowDown {
        interval.saturating_add(SLOW_DOWN_SECONDS)
    } else {
        interval
    };
    next.min(MAX_INTERVAL_SECONDS)
}

/// Why a token request gave no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// A non-success status without an OAuth error body.
    Http(u16),
    /// A success status with a body we refuse.
    Invalid(Error),
    /// The server's OAuth error (RFC 6749 §5.2).
    Server {
        /// The code, for [`ErrorCode::action`].
        code: ErrorCode,
        /// `error` as sent, made printable.
        error: String,
        /// `error_description`, made printable.
        description: Option<String>,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(status) => write!(f, "token endpoint answered HTTP {status}"),
            Self::Invalid(error) => write!(f, "token response rejected: {error}"),
            Self::Server {
                error,
                description: Some(description),
                ..
            } => {
                write!(f, "token endpoint error: {error} ({description})")
            }
            Self::Server {
                error,
                description: None,
                ..
            } => {
                write!(f, "token endpoint error: {error}")
            }
        }
    }
}

impl std::error::Error for TokenError {}

impl TokenError {
    /// What the driver does: [`ErrorCode::action`] for a server error,
    /// [`Action::Fail`] otherwise.
    #[must_use]
    pub const fn action(&self) -> Action {
        match self {
            Self::Server { code, .. } => code.action(),
            Self::Http(_) | Self::Invalid(_) => Action::Fail,
        }
    }
}

/// Parses the token endpoint's answer: `status` and `body`, at `now`
/// seconds since the epoch. A 2xx must be a Bearer token response; anything
/// else is the RFC 6749 §5.2 error, or [`TokenError::Http`] when the body is
/// not one.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::token::{parse_response, Action};
///
/// let tokens = parse_response(200, br#"{"access_token":"at","token_type":"bearer","expires_in":60}"#, 1000).unwrap();
/// assert_eq!(tokens.expires_at, Some(1060));
/// assert!(tokens.needs_refresh(1030, 30));
///
/// let error = parse_response(400, br#"{"error":"invalid_grant"}"#, 1000).unwrap_err();
/// assert_eq!(error.action(), Action::WipeTokens);
/// ```
pub fn parse_response(status: u16, body: &[u8], now: u64) -> Result<Tokens, TokenError> {
    if !(200..=299).contains(&status) {
        return Err(parse_error(status, body));
    }
    parse_tokens(body, now).map_err(TokenError::Invalid)
}

fn parse_tokens(body: &[u8], now: u64) -> Result<Tokens, Error> {
    let map = json::object(body, "token response")?;
    let access_token = json::required(&map, "access_token", "access_token")?;
    let token_type = json::required(&map, "token_type", "token_type")?;
    // RFC 6749 §5.1: token_type is case-insensitive.
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::TokenType);
    }
    let expires_at = json::seconds(&map, "expires_in", "expires_in")?
        .map(|seconds| {
            now.checked_add(seconds)
                .ok_or(Error::Malformed("expires_in"))
        })
        .transpose()?;
    let refresh_token = json::string(&map, "refresh_token", "refresh_token")?
        .filter(|token| !token.is_empty())
        .map(Secret::new);
    let scope = json::string(&map, "scope", "scope")?;
    Ok(Tokens {
        access_token: Secret::new(access_token),
        expires_at,
        refresh_token,
        scope,
    })
}

fn parse_error(status: u16, body: &[u8]) -> TokenError {
    let Ok(map) = json::object(body, "token error") else {
        return TokenError::Http(status);
    };
    let Ok(Some(error)) = json::string(&map, "error", "error") else {
        return TokenError::Http(status);
    };
    let description = json::string(&map, "error_description", "error_description")
        .ok()
        .flatten()
        .map(|text| printable(&text));
    TokenError::Server {
        code: ErrorCode::from_name(&error),
        error: printable(&error),
        description,
    }
}

/// A device authorization response (RFC 8628 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// `device_code`, for the device-code grant.
    pub device_code: Secret,
    /// `user_code`, shown to the user (printable ASCII only).
    pub user_code: String,
    /// `verification_uri`, shown to the user.
    pub verification_uri: Url,
    /// `verification_uri_complete`, if given (it embeds the user code).
    pub verification_uri_complete: Option<Url>,
    /// When the device code expires, seconds since the epoch.
    pub expires_at: u64,
    /// Polling interval in seconds (default 5, at most
    /// [`MAX_INTERVAL_SECONDS`]).
    pub interval: u64,
}

impl DeviceAuthorization {
    /// Parses the device authorization endpoint's 2xx body at `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::token::DeviceAuthorization;
    ///
    /// let body = br#"{"device_code":"d","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","expires_in":1800}"#;
    /// let device = DeviceAuthorization::parse(body, 100)?;
    /// assert_eq!((device.expires_at, device.interval), (1900, 5));
    /// # Ok::<(), supergateway_proto::oauth::Error>(())
    /// ```
    pub fn parse(body: &[u8], now: u64) -> Result<Self, Error> {
        let map = json::object(body, "device authorization response")?;
        let device_code = json::required(&map, "device_code", "device_code")?;
        let user_code = json::required(&map, "user_code", "user_code")?;
        if user_code.len() > 64 || !user_code.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(Error::Malformed("user_code"));
        }
        let uri = |key: &str, what: &'static str| -> Result<Option<Url>, Error> {
            json::string(&map, key, what)?
                .map(|text| {
                    let url = Url::parse(&text).map_err(|_| Error::Malformed(what))?;
                    if secure_url(&url) {
                        Ok(url)
                    } else {
                        Err(Error::Insecure(what))
                    }
                })
                .transpose()
        };
        let verification_uri = uri("verification_uri", "verification_uri")?
            .ok_or(Error::Missing("verification_uri"))?;
        let verification_uri_complete =
            uri("verification_uri_complete", "verification_uri_complete")?;
        let expires_in =
            json::seconds(&map, "expires_in", "expires_in")?.ok_or(Error::Missing("expires_in"))?;
        let expires_at = now
            .checked_add(expires_in)
            .ok_or(Error::Malformed("expires_in"))?;
        let interval = json::seconds(&map, "interval", "interval")?
            .unwrap_or(DEFAULT_INTERVAL_SECONDS)
            .clamp(1, MAX_INTERVAL_SECONDS);
        Ok(Self {
            device_code: Secret::new(device_code),
            user_code,
            verification_uri,
            verification_uri_complete,
            expires_at,
            interval,
        })
    }
}

#[cfg(test)]
mod tests;
