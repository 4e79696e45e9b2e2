//! The OAuth 2.1 client of the reverse bridges (MCP 2026-07-28
//! `basic/authorization/`), as pure functions: no I/O, no clock (times are
//! seconds the caller reads and passes in), no randomness (the caller hands
//! in the random bytes), no SHA-256 (the caller passes the digest function).
//! Every input is bounded by the constants below; every error is a small
//! enum whose `Display` is one line that never holds a token or a secret.
//!
//! # What the driver calls, in order
//!
//! 1. The MCP server answers 401 (or 403): [`challenge::bearer`] on its
//!    `WWW-Authenticate` field values gives `resource_metadata`, `scope`,
//!    `error`.
//! 2. Protected-resource metadata (RFC 9728): fetch the challenge's
//!    `resource_metadata` ([`discovery::resource_metadata_url`] checks it),
//!    else try [`discovery::protected_resource_urls`] in order (path-suffixed,
//!    then root; a 4xx moves to the next). Parse with
//!    [`discovery::ProtectedResource::parse`], which checks `resource`
//!    against the MCP URL. The token audience is
//!    [`discovery::ProtectedResource::resource`] (RFC 8707).
//! 3. Pick an issuer from `authorization_servers` (the first), then try
//!    [`discovery::authorization_server_urls`] in order and parse with
//!    [`discovery::AuthorizationServer::parse`], which checks `issuer` and
//!    the endpoints. Stored credentials are keyed by
//!    [`discovery::AuthorizationServer::issuer`]: a different issuer than
//!    the stored one means re-registration (authorization-server migration).
//! 4. Scope: [`scope::initial`] (challenge, else PRM `scopes_supported`, else
//!    none; `offline_access` added when the AS offers it), and on 403
//!    `insufficient_scope` [`scope::step_up`] (union with what was asked).
//! 5. Client: pre-registered (`--oauthClientId`), or a Client ID Metadata
//!    Document URL when [`discovery::AuthorizationServer::client_id_metadata_document_supported`],
//!    else [`registration::Request::to_json`] POSTed to the
//!    `registration_endpoint` and [`registration::ClientInformation::parse`]
//!    on the answer. [`registration::choose_auth_method`] picks how the token
//!    endpoint is authenticated.
//! 6. Authorization code: random bytes → [`pkce::Verifier::from_random`],
//!    [`pkce::Verifier::challenge`] with the caller's SHA-256,
//!    [`pkce::State::from_random`]; [`authorize::authorization_url`] (refuses
//!    an AS without S256). Record the issuer with the verifier and state. The
//!    loopback listener hands the request target to
//!    [`authorize::Callback::parse`], then [`authorize::Callback::verify`]
//!    (`iss` per RFC 9207, then `state` in constant time) gives the code.
//! 7. Token: [`token::Grant`] + [`token::ClientAuth`] →
//!    [`token::Request::new`] (body, optional Basic `Authorization` value);
//!    the answer through [`token::parse_response`] gives [`token::Tokens`] or
//!    a [`token::TokenError`] whose [`token::ErrorCode::action`] says what to
//!    do (wipe stored credentials, keep polling, slow down, give up).
//!    [`token::Tokens::needs_refresh`] says when to use the refresh grant.
//! 8. Headless: device code (RFC 8628) — [`token::device_authorization_body`],
//!    [`token::DeviceAuthorization::parse`], then the device-code grant
//!    polled as [`token::ErrorCode::action`] says; client credentials — the
//!    `client_credentials` grant directly.
//!
//! Values that are secrets (tokens, codes, verifiers, client secrets, state)
//! are [`Secret`]s: their `Debug` prints `[redacted]` and they have no
//! `Display`.

use core::fmt;

pub mod authorize;
pub mod challenge;
pub mod discovery;
pub mod form;
mod json;
pub mod pkce;
pub mod registration;
pub mod scope;
pub mod token;

/// Largest JSON document read (metadata, registration and token responses).
/// Unit: bytes. Bounds memory per fetched document; real ones are < 4 KiB.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Longest string field kept from a document (a URL, a token, a scope list).
/// Unit: bytes. Bounds what one field can make us store or print.
pub const MAX_STRING_BYTES: usize = 8 * 1024;
/// Most entries read from one JSON array or one scope list. Bounds the work
/// of a hostile list (`scopes_supported`, `authorization_servers`).
pub const MAX_LIST_ENTRIES: usize = 64;
/// Largest `WWW-Authenticate` value, all fields together, and largest
/// callback request target. Unit: bytes. The HTTP head limit is 8 KiB too.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// A secret string: a token, an authorization code, a PKCE verifier, a
/// client secret or a `state`. `Debug` prints `[redacted]`; there is no
/// `Display`, so a secret reaches a log only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    #[must_use]
    pub const fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret text, for the one place it goes (a request body, a header
    /// value, the token file).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why an OAuth document, header or redirect was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server does not list S256 in
    /// `code_challenge_methods_supported` (MCP: refuse to proceed).
    NoPkce,
    /// No token endpoint authentication method both sides support.
    NoAuthMethod,
    /// An endpoint or issuer URL is neither https nor http on loopback.
    Insecure(&'static str),
    /// The `iss` of an authorization response differs from the issuer
    /// recorded for it, or is absent though the metadata promised it.
    IssMismatch,
    /// The metadata's `issuer` differs from the issuer it was fetched for.
    IssuerMismatch,
    /// A value is not what its grammar allows.
    Malformed(&'static str),
    /// A required field is absent.
    Missing(&'static str),
    /// The protected-resource metadata names another resource than the MCP
    /// server we connect to.
    ResourceMismatch,
    /// The `state` of an authorization response is not the one we sent.
    StateMismatch,
    /// The `token_type` is not `Bearer`.
    TokenType,
    /// An input is over its bound (the field names which).
    TooLarge(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPkce => f.write_str(
                "the authorization server does not support PKCE with S256; refusing to authorize",
            ),
            Self::NoAuthMethod => f.write_str(
                "no token endpoint authentication method supported by both the authorization server and this client",
            ),
            Self::Insecure(what) => write!(f, "{what} is not https (http only on loopback)"),
            Self::IssMismatch => f.write_str(
                "the authorization response's issuer (iss) is not the authorization server we sent the user to",
            ),
            Self::IssuerMismatch => f.write_str(
                "the authorization server metadata names another issuer than the one it was fetched for",
            ),
            Self::Malformed(what) => write!(f, "malformed {what}"),
            Self::Missing(what) => write!(f, "missing {what}"),
            Self::ResourceMismatch => f.write_str(
                "the protected resource metadata is for another resource than this MCP server",
            ),
            Self::StateMismatch => {
                f.write_str("the authorization response's state is not the one we sent")
            }
            Self::TokenType => f.write_str("the token type is not Bearer"),
            Self::TooLarge(what) => write!(f, "{what} too large"),
        }
    }
}

impl std::error::Error for Error {}

/// `text` made safe to print on one line of a terminal: controls and
/// non-ASCII bytes become `?`, cut at 200 characters. For text an
/// authorization server chose (`error_description`).
#[must_use]
pub fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Whether `url` may carry OAuth traffic: https, or http to a loopback
/// host (`localhost`, 127.0.0.0/8, `::1`), as MCP's "Communication
/// Security" (all AS endpoints https; redirect URIs localhost or https)
/// allows for local testing.
pub(crate) fn secure_url(url: &crate::url::Url) -> bool {
    use crate::url::Scheme;
    match url.scheme() {
        Scheme::Https => true,
        Scheme::Http => is_loopback(url.host()),
        Scheme::Ws | Scheme::Wss => false,
    }
}

/// Whether `host` (as [`crate::url::Url::host`] gives it) is loopback.
pub(crate) fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if let Ok(v4) = host.parse::<core::net::Ipv4Addr>() {
        return v4.is_loopback();
    }
    host.parse::<core::net::Ipv6Addr>()
        .is_ok_and(|v6| v6.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::{is_loopback, printable, Secret};

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("tok-123".to_owned());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), "tok-123");
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "a.localhost", "127.0.0.1", "127.9.9.9", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "::2",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn printable_strips_controls() {
        assert_eq!(printable("a\nb\x1b[31mé"), "a?b?[31m?");
        assert_eq!(printable(&"x".repeat(300)).len(), 200);
    }
}
