//! What the `--oauth*` flags decide (validated by `cli`), handed to the
//! reverse bridges' [`crate::oauth`] client.

use std::fmt;
use std::time::Duration;

use crate::oauth::Secret;

/// The OAuth client's settings.
#[derive(Clone)]
pub(crate) struct Config {
    /// `--oauth`: use OAuth even when a static `Authorization` header is
    /// configured (which is then not sent). Without it OAuth starts on the
    /// first 401 unless a static `Authorization` header exists.
    pub(crate) forced: bool,
    /// `--oauthFlow`, default the authorization code flow.
    pub(crate) flow: Flow,
    /// `--oauthClientId`: a pre-registered client.
    pub(crate) client_id: Option<String>,
    /// `--oauthClientSecret`, or the contents of `--oauthClientSecretFile`
    /// (trailing newline dropped).
    pub(crate) client_secret: Option<Secret>,
    /// `--oauthIssuer`: the authorization server the pre-registered client
    /// belongs to.
    pub(crate) issuer: Option<String>,
    /// `--oauthClientMetadataUrl`: an https URL with a path, used as the
    /// client id where the AS supports client ID metadata documents.
    pub(crate) client_metadata_url: Option<String>,
    /// `--oauthCallbackPort`, 0 (default): a port the OS picks.
    pub(crate) callback_port: u16,
    /// `--oauthTimeout MS`, default 300 s: the interactive step (browser
    /// callback, device polling, another process's lock).
    pub(crate) timeout: Duration,
}

/// `--oauthFlow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Authorization code with PKCE, loopback redirect and a browser.
    AuthorizationCode,
    /// `client_credentials`: no user (needs a client id and secret).
    ClientCredentials,
    /// RFC 8628 device authorization: a code the user enters elsewhere.
    Device,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            forced: false,
            flow: Flow::AuthorizationCode,
            client_id: None,
            client_secret: None,
            issuer: None,
            client_metadata_url: None,
            callback_port: 0,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// `--oauthTimeout`'s default.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl fmt::Debug for Config {
    /// The secret is shown as present or not, never its value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("forced", &self.forced)
            .field("flow", &self.flow)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("issuer", &self.issuer)
            .field("client_metadata_url", &self.client_metadata_url)
            .field("callback_port", &self.callback_port)
            .field("timeout", &self.timeout)
            .finish()
    }
}
