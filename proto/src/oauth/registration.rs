//! Client registration: the Dynamic Client Registration request and
//! response (RFC 7591, with OpenID Connect's `application_type`, which MCP
//! requires), and the choice of token endpoint authentication method.

use core::fmt;

use serde_json::{json, Map, Value};

use super::{json, Error, Secret};

/// How the client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// `none`: a public client; `client_id` in the body, PKCE protects the code.
    None,
}

impl AuthMethod {
    /// The RFC 7591 name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// The method named `name`, `None` for one we do not implement
    /// (`private_key_jwt`, `tls_client_auth`, …).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None]
            .into_iter()
            .find(|method| method.as_str() == name)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token endpoint authentication method for a client that has a
/// secret (`has_secret`) or not, given the server's
/// `token_endpoint_auth_methods_supported`. With a secret: Basic (the
/// method every server must support, RFC 6749 §2.3.1) when listed, else
/// post, else `none` when the server takes public clients only. Without
/// one: `none`, which the server must list.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::registration::{choose_auth_method, AuthMethod};
///
/// let post_only = ["client_secret_post".to_owned()];
/// assert_eq!(choose_auth_method(&post_only, true), Ok(AuthMethod::ClientSecretPost));
/// assert!(choose_auth_method(&post_only, false).is_err());
/// ```
pub fn choose_auth_method(supported: &[String], has_secret: bool) -> Result<AuthMethod, Error> {
    let listed = |method: AuthMethod| supported.iter().any(|name| name == method.as_str());
    let order: &[AuthMethod] = if has_secret {
        &[
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::None,
        ]
    } else {
        &[AuthMethod::None]
    };
    order
        .iter()
        .copied()
        .find(|&method| listed(method))
        .ok_or(Error::NoAuthMethod)
}

/// The method to ask for in a registration request: `none` (a public
/// client with PKCE, no secret to store) when the server lists it, else
/// the first of Basic and post it lists.
pub fn registration_auth_method(supported: &[String]) -> Result<AuthMethod, Error> {
    choose_auth_method(supported, false).or_else(|_| {
        [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost]
            .into_iter()
            .find(|method| supported.iter().any(|name| name == method.as_str()))
            .ok_or(Error::NoAuthMethod)
    })
}

/// A registration request (RFC 7591 §2, §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// `client_name`, shown to the user on the consent page.
    pub client_name: &'a str,
    /// `redirect_uris`: the loopback callback (empty for headless flows).
    pub redirect_uris: &'a [String],
    /// `grant_types`, e.g. `authorization_code` and `refresh_token` (MCP
    /// SEP-2207 asks for `refresh_token` from clients that want one).
    pub grant_types: &'a [&'a str],
    /// `token_endpoint_auth_method`.
    pub auth_method: AuthMethod,
    /// `scope`, when one is being asked for.
    pub scope: Option<&'a str>,
}

impl Request<'_> {
    /// The JSON body: the fields above, `response_types` `["code"]` when
    /// the authorization code grant is asked for, and `application_type`
    /// `"native"` (MCP: a CLI on the user's machine with a loopback
    /// redirect).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::registration::{AuthMethod, Request};
    ///
    /// let redirect = ["http://127.0.0.1:8/callback".to_owned()];
    /// let body = Request {
    ///     client_name: "supergateway",
    ///     redirect_uris: &redirect,
    ///     grant_types: &["authorization_code", "refresh_token"],
    ///     auth_method: AuthMethod::None,
    ///     scope: None,
    /// }
    /// .to_json();
    /// assert_eq!(body, r#"{"application_type":"native","client_name":"supergateway","grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1:8/callback"],"response_types":["code"],"token_endpoint_auth_method":"none"}"#);
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut body = Map::new();
        body.insert("application_type".into(), json!("native"));
        body.insert("client_name".into(), json!(self.client_name));
        body.insert("grant_types".into(), json!(self.grant_types));
        body.insert("redirect_uris".into(), json!(self.redirect_uris));
        let response_types: &[&str] = if self.grant_types.contains(&"authorization_code") {
            &["code"]
        } else {
            &[]
        };
        body.insert("response_types".into(), json!(response_types));
        if let Some(scope) = self.scope {
            body.insert("scope".into(), json!(scope));
        }
        body.insert(
            "token_endpoint_auth_method".into(),
            json!(self.auth_method.as_str()),
        );
        Value::Object(body).to_string()
    }
}

/// What a registration gave us (RFC 7591 §3.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInformation {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, for confidential clients.
    pub client_secret: Option<Secret>,
    /// `client_secret_expires_at` in seconds since the epoch; `None` (or 0
    /// on the wire) for a secret that does not expire.
    pub client_secret_expires_at: Option<u64>,
    /// The method the server chose; `None` when it did not say (then the
    /// one we asked for applies, RFC 7591 §3.2.1 echoes what it registered).
    pub auth_method: Option<AuthMethod>,
}

impl ClientInformation {
    /// Parses a successful registration response. A method we do not
    /// implement is refused: we could not authenticate as that client.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::registration::{AuthMethod, ClientInformation};
    ///
    /// let info = ClientInformation::parse(br#"{"client_id":"c1","client_secret":"s","client_secret_expires_at":0,"token_endpoint_auth_method":"client_secret_post"}"#)?;
    /// assert_eq!(info.client_id, "c1");
    /// assert_eq!(info.client_secret.as_ref().map(|s| s.expose()), Some("s"));
    /// assert_eq!(info.client_secret_expires_at, None);
    /// assert_eq!(info.auth_method, Some(AuthMethod::ClientSecretPost));
    /// # Ok::<(), supergateway_proto::oauth::Error>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let map = json::object(body, "registration response")?;
        let client_id = json::required(&map, "client_id", "client_id")?;
        let client_secret = json::string(&map, "client_secret", "client_secret")?
            .filter(|secret| !secret.is_empty())
            .map(Secret::new);
        let client_secret_expires_at =
            json::seconds(&map, "client_secret_expires_at", "client_secret_expires_at")?
                .filter(|&at| at != 0);
        let auth_method = json::string(
            &map,
            "token_endpoint_auth_method",
            "token_endpoint_auth_method",
        )?
        .map(|name| AuthMethod::from_name(&name).ok_or(Error::NoAuthMethod))
        .transpose()?;
        Ok(Self {
            client_id,
            client_secret,
            client_secret_expires_at,
            auth_method,
        })
    }

    /// Whether the secret has expired at `now` (seconds since the epoch),
    /// so the client must register again.
    #[must_use]
    pub fn secret_expired(&self, now: u64) -> bool {
        secret_expired(self.client_secret_expires_at, now)
    }
}

/// Whether a secret with `client_secret_expires_at` = `expires_at` has
/// expired at `now`: RFC 7591 §3.2.1 says 0 means it never does.
#[must_use]
pub fn secret_expired(expires_at: Option<u64>, now: u64) -> bool {
    expires_at.is_some_and(|at| at != 0 && at <= now)
}

#[cfg(test)]
mod tests {
    use super::{
        choose_auth_method, registration_auth_method, AuthMethod, ClientInformation, Request,
    };
    use crate::oauth::Error;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn choose_table() {
        use AuthMethod::{ClientSecretBasic as Basic, ClientSecretPost as Post};
        for (supported, secret, expected) in [
            (&["client_secret_basic"][..], true, Ok(Basic)),
            (
                &["client_secret_post", "client_secret_basic"],
                true,
                Ok(Basic),
            ),
            (&["client_secret_post"], true, Ok(Post)),
            (&["none"], true, Ok(AuthMethod::None)),
            (&["private_key_jwt"], true, Err(Error::NoAuthMethod)),
            (
                &["none", "client_secret_basic"],
                false,
                Ok(AuthMethod::None),
            ),
            (&["client_secret_basic"], false, Err(Error::NoAuthMethod)),
            (&[], true, Err(Error::NoAuthMethod)),
        ] {
            assert_eq!(
                choose_auth_method(&owned(supported), secret),
                expected,
                "{supported:?} {secret}"
            );
        }
        for (supported, expected) in [
            (&["client_secret_basic", "none"][..], Ok(AuthMethod::None)),
            (&["client_secret_post", "client_secret_basic"], Ok(Basic)),
            (&["client_secret_post"], Ok(Post)),
            (&["private_key_jwt"], Err(Error::NoAuthMethod)),
        ] {
            assert_eq!(
                registration_auth_method(&owned(supported)),
                expected,
                "{supported:?}"
            );
        }
    }

    #[test]
    fn request_body() {
        let body = Request {
            client_name: "sg \"x\"",
            redirect_uris: &[],
            grant_types: &["client_credentials"],
            auth_method: AuthMethod::ClientSecretBasic,
            scope: Some("a b"),
        }
        .to_json();
        assert_eq!(
            body,
            r#"{"application_type":"native","client_name":"sg \"x\"","grant_types":["client_credentials"],"redirect_uris":[],"response_types":[],"scope":"a b","token_endpoint_auth_method":"client_secret_basic"}"#
        );
    }

    #[test]
    fn response_accepts() {
        let info = ClientInformation::parse(
            br#"{"client_id":"abc","client_secret_expires_at":100,"client_secret":"s"}"#,
        )
        .unwrap();
        assert_eq!(info.client_secret_expires_at, Some(100));
        assert!(!info.secret_expired(99));
        assert!(info.secret_expired(100));
        assert_eq!(info.auth_method, None);
        assert!(!format!("{info:?}").contains("\"s\""));
        let public = ClientInformation::parse(
            br#"{"client_id":"abc","client_secret":"","token_endpoint_auth_method":"none"}"#,
        )
        .unwrap();
        assert_eq!(public.client_secret, None);
        assert_eq!(public.auth_method, Some(AuthMethod::None));
        assert!(!public.secret_expired(u64::MAX));
        // RFC 7591 §3.2.1: 0 is "never expires".
        let forever = ClientInformation::parse(
            br#"{"client_id":"abc","client_secret_expires_at":0,"client_secret":"s"}"#,
        )
        .unwrap();
        assert!(!forever.secret_expired(u64::MAX));
    }

    #[test]
    fn response_rejects() {
        for (body, error) in [
            (&b"{}"[..], Error::Missing("client_id")),
            (br#"{"client_id":""}"#, Error::Missing("client_id")),
            (br#"{"client_id":1}"#, Error::Malformed("client_id")),
            (
                br#"{"client_id":"a","client_secret":false}"#,
                Error::Malformed("client_secret"),
            ),
            (
                br#"{"client_id":"a","client_secret_expires_at":-1}"#,
                Error::Malformed("client_secret_expires_at"),
            ),
            (
                br#"{"client_id":"a","token_endpoint_auth_method":"private_key_jwt"}"#,
                Error::NoAuthMethod,
            ),
            (b"null", Error::Malformed("registration response")),
        ] {
            assert_eq!(
                ClientInformation::parse(body),
                Err(error),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
