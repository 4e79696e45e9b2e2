//! Why an authorization failed. `Display` is one line, what the local
//! client gets after "Authorization failed: " and what stderr gets once; it
//! never holds a value from a token response, a code or a secret (AS error
//! text arrives already made printable and cut by proto).

use std::fmt;
use std::rc::Rc;

use supergateway_proto::oauth::authorize::CallbackError;
use supergateway_proto::oauth::token::TokenError;
use supergateway_proto::oauth::Error as ProtoError;

use super::fetch::FetchError;
use super::loopback::LoopbackError;
use super::store::StoreError;

/// An authorization that did not give a usable token.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum OAuthError {
    /// [`super::MAX_AUTHORIZATIONS`] authorizations in the attempt window.
    AttemptCap,
    /// The redirect came back refused (`error=`) or failed its checks
    /// (`iss`, `state`, no code).
    Callback(CallbackError),
    /// The device code expired (or `--oauthTimeout` passed) before the
    /// user approved.
    DeviceExpired,
    /// An HTTP exchange with `what` failed.
    Fetch(&'static str, FetchError),
    /// The redirect listener failed or timed out.
    Loopback(LoopbackError),
    /// The authorization server has no device authorization endpoint.
    NoDeviceEndpoint,
    /// No way to get a client id: not pre-registered, no CIMD support, no
    /// registration endpoint.
    NoRegistration,
    /// No protected-resource metadata answered.
    NoResourceMetadata,
    /// No authorization-server metadata answered for any issuer.
    NoServerMetadata,
    /// The pre-registered client is bound (`--oauthIssuer`) to another
    /// authorization server than the one the MCP server names.
    PreregisteredIssuer(String),
    /// A document, header or redirect was refused (`what`, why).
    Proto(&'static str, ProtoError),
    /// Dynamic registration answered this status.
    Registration(u16),
    /// The server asks again for scopes already granted, or a second
    /// step-up for one request.
    ScopeRefused,
    /// An authorization's failure, as each request that waited for it gets
    /// it.
    Shared(Rc<Self>),
    /// The token store failed.
    Store(StoreError),
    /// The token endpoint refused.
    Token(TokenError),
    /// The server refused the new token too.
    Unauthorized,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AttemptCap => write!(
                f,
                "{} authorizations in {} minutes; not trying again yet",
                super::MAX_AUTHORIZATIONS,
                super::ATTEMPT_WINDOW.as_secs() / 60
            ),
            Self::Callback(err) => err.fmt(f),
            Self::DeviceExpired => f.write_str("the device code expired before it was approved"),
            Self::Fetch(what, err) => write!(f, "{what}: {err}"),
            Self::Loopback(err) => err.fmt(f),
            Self::NoDeviceEndpoint => {
                f.write_str("the authorization server offers no device authorization endpoint")
            }
            Self::NoRegistration => f.write_str(
                "no client id: give --oauthClientId, or --oauthClientMetadataUrl for a server that \
                 supports client metadata documents; the server offers no dynamic registration",
            ),
            Self::NoResourceMetadata => {
                f.write_str("the MCP server publishes no protected resource metadata")
            }
            Self::NoServerMetadata => {
                f.write_str("no authorization server metadata could be fetched")
            }
            Self::PreregisteredIssuer(issuer) => write!(
                f,
                "the pre-registered client belongs to {issuer}, not to the authorization server the MCP server names"
            ),
            Self::Proto(what, err) => write!(f, "{what}: {err}"),
            Self::Registration(status) => {
                write!(f, "dynamic client registration answered HTTP {status}")
            }
            Self::ScopeRefused => f.write_str(
                "the MCP server asks for scopes already requested (insufficient_scope again)",
            ),
            Self::Shared(err) => err.fmt(f),
            Self::Store(err) => write!(f, "token store: {err}"),
            Self::Token(err) => err.fmt(f),
            Self::Unauthorized => f.write_str("the MCP server refused the new access token"),
        }
    }
}

impl std::error::Error for OAuthError {}

impl OAuthError {
    /// The error itself, out of any [`Self::Shared`].
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Self {
        match self {
            Self::Shared(err) => err.root(),
            other => other,
        }
    }
}
