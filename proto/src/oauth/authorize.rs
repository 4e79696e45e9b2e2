//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 8707
//! `resource`) and the loopback redirect that answers it (§4.1.2, RFC 9207
//! `iss`).

use core::fmt;

use super::discovery::AuthorizationServer;
use super::form::{self, append_query, Form};
use super::pkce::State;
use super::{printable, Error, Secret, MAX_HEADER_BYTES};

/// The path of the loopback redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// The redirect URI for a loopback listener on `port` (RFC 8252 §7.3: the
/// IP literal, not `localhost`, so no resolver or other interface is
/// involved).
///
/// # Examples
///
/// ```
/// assert_eq!(supergateway_proto::oauth::authorize::redirect_uri(43117), "http://127.0.0.1:43117/callback");
/// ```
#[must_use]
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// What goes into an authorization URL besides the server's metadata.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    /// `client_id`.
    pub client_id: &'a str,
    /// `redirect_uri`, as registered ([`redirect_uri`]).
    pub redirect_uri: &'a str,
    /// The S256 `code_challenge` ([`super::pkce::Verifier::challenge`]).
    pub code_challenge: &'a str,
    /// `state`.
    pub state: &'a State,
    /// `scope`, omitted when `None`.
    pub scope: Option<&'a str>,
    /// `resource` (RFC 8707): always sent, MCP requires it.
    pub resource: &'a str,
}

/// The authorization URL to open in the browser: the server's
/// `authorization_endpoint` (its own query kept) with `response_type=code`,
/// `client_id`, `redirect_uri`, `code_challenge`,
/// `code_challenge_method=S256`, `state`, `scope` and `resource`. Refuses a
/// server without S256 (MCP: verify PKCE support before authorizing). The
/// URL carries no secret: the verifier stays here, and `state` only binds
/// the redirect to this attempt.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::authorize::{authorization_url, Params};
/// use supergateway_proto::oauth::discovery::AuthorizationServer;
/// use supergateway_proto::oauth::pkce::State;
///
/// let doc = br#"{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize",
///   "token_endpoint":"https://as.example/token","code_challenge_methods_supported":["S256"]}"#;
/// let server = AuthorizationServer::parse(doc, "https://as.example")?;
/// let state = State::from_random(&[0; 32]);
/// let url = authorization_url(&server, &Params {
///     client_id: "c1",
///     redirect_uri: "http://127.0.0.1:8/callback",
///     code_challenge: "abc",
///     state: &state,
///     scope: Some("a b"),
///     resource: "https://mcp.example/mcp",
/// })?;
/// assert_eq!(url, "https://as.example/authorize?response_type=code&client_id=c1\
///     &redirect_uri=http%3A%2F%2F127.0.0.1%3A8%2Fcallback&code_challenge=abc&code_challenge_method=S256\
///     &state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&scope=a+b&resource=https%3A%2F%2Fmcp.example%2Fmcp");
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn authorization_url(
    server: &AuthorizationServer,
    params: &Params<'_>,
) -> Result<String, Error> {
    let endpoint = server
        .authorization_endpoint()
        .ok_or(Error::Missing("authorization_endpoint"))?;
    if !server.supports_s256() {
        return Err(Error::NoPkce);
    }
    let mut query = Form::new();
    query
        .pair("response_type", "code")
        .pair("client_id", params.client_id)
        .pair("redirect_uri", params.redirect_uri)
        .pair("code_challenge", params.code_challenge)
        .pair("code_challenge_method", "S256")
        .pair("state", params.state.secret().expose());
    if let Some(scope) = params.scope {
        query.pair("scope", scope);
    }
    query.pair("resource", params.resource);
    Ok(append_query(endpoint, &query))
}

/// The redirect's parameters, parsed but not yet trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Callback {
    /// `code`.
    code: Option<Secret>,
    /// `state`, as received (compared with [`State::matches`]).
    state: Option<Secret>,
    /// `iss` (RFC 9207).
    iss: Option<String>,
    /// `error` (RFC 6749 §4.1.2.1).
    error: Option<String>,
    /// `error_description`.
    error_description: Option<String>,
}

impl Callback {
    /// Parses the request target the loopback listener received
    /// (`/callback?code=…&state=…&iss=…`). [`CallbackError::NotCallback`]
    /// for another path (a browser's `/favicon.ico`): answer 404 and keep
    /// waiting. A parameter given twice is refused (RFC 6749 §3.1: "MUST
    /// NOT be included more than once").
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::authorize::{Callback, CallbackError};
    ///
    /// assert!(Callback::parse("/callback?code=c&state=s").is_ok());
    /// assert_eq!(Callback::parse("/favicon.ico"), Err(CallbackError::NotCallback));
    /// ```
    pub fn parse(target: &str) -> Result<Self, CallbackError> {
        if target.len() > MAX_HEADER_BYTES {
            return Err(CallbackError::Invalid(Error::TooLarge("redirect")));
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != CALLBACK_PATH {
            return Err(CallbackError::NotCallback);
        }
        let mut callback = Self::default();
        for (name, value) in form::parse(query).map_err(CallbackError::Invalid)? {
            let slot = match name.as_str() {
                "code" | "state" => {
                    let slot = if name == "code" {
                        &mut callback.code
                    } else {
                        &mut callback.state
                    };
                    if slot.replace(Secret::new(value)).is_some() {
                        return Err(CallbackError::Invalid(Error::Malformed(
                            "redirect (a parameter given twice)",
                        )));
                    }
                    continue;
                }
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(CallbackError::Invalid(Error::Malformed(
                    "redirect (a parameter given twice)",
                )));
            }
        }
        Ok(callback)
    }

    /// The authorization code, once the response is proven to answer our
    /// request from the server we sent the user to, in the order RFC 9207
    /// §2.4 and MCP's "Authorization Response Validation" set: first `iss`
    /// (must equal `issuer` byte for byte when present; required when
    /// `iss_supported`), then `state` (constant time), and only then is an
    /// `error` acted on (on an `iss` mismatch the error is not even shown).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::authorize::{Callback, CallbackError};
    /// use supergateway_proto::oauth::{pkce::State, Error};
    ///
    /// let state = State::from_random(&[1; 32]);
    /// let s = state.secret().expose();
    /// let good = Callback::parse(&format!("/callback?code=c1&state={s}&iss=https%3A%2F%2Fas.example"))?;
    /// assert_eq!(good.verify(&state, "https://as.example", true)?.expose(), "c1");
    /// let slash = Callback::parse(&format!("/callback?code=c1&state={s}&iss=https%3A%2F%2Fas.example%2F"))?;
    /// assert_eq!(slash.verify(&state, "https://as.example", true), Err(CallbackError::Invalid(Error::IssMismatch)));
    /// # Ok::<(), CallbackError>(())
    /// ```
    pub fn verify(
        &self,
        state: &State,
        issuer: &str,
        iss_supported: bool,
    ) -> Result<Secret, CallbackError> {
        match &self.iss {
            Some(iss) if iss != issuer => return Err(CallbackError::Invalid(Error::IssMismatch)),
            None if iss_supported => return Err(CallbackError::Invalid(Error::IssMismatch)),
            _ => {}
        }
        let state_ok = self
            .state
            .as_ref()
            .is_some_and(|received| state.matches(received.expose()));
        if !state_ok {
            return Err(CallbackError::Invalid(Error::StateMismatch));
        }
        if let Some(error) = &self.error {
            return Err(CallbackError::Denied {
                error: printable(error),
                description: self.error_description.as_deref().map(printable),
            });
        }
        self.code
            .clone()
            .filter(|code| !code.expose().is_empty())
            .ok_or(CallbackError::Invalid(Error::Missing("code")))
    }
}

/// Why a redirect gives no code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackError {
    /// The authorization server answered with an error (the user declined,
    /// the request was invalid); both texts made printable.
    Denied {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The response failed a check: it may not be acted on.
    Invalid(Error),
    /// Another path than [`CALLBACK_PATH`].
    NotCallback,
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied {
                error,
                description: Some(description),
            } => {
                write!(f, "authorization refused: {error} ({description})")
            }
            Self::Denied {
                error,
                description: None,
            } => write!(f, "authorization refused: {error}"),
            Self::Invalid(error) => write!(f, "authorization response rejected: {error}"),
            Self::NotCallback => f.write_str("not the OAuth callback path"),
        }
    }
}

impl std::error::Error for CallbackError {}

impl From<Error> for CallbackError {
    fn from(error: Error) -> Self {
        Self::Invalid(error)
    }
}

#[cfg(test)]
mod tests {
    use super::{authorization_url, Callback, CallbackError, Params};
    use crate::oauth::discovery::AuthorizationServer;
    use crate::oauth::pkce::State;
    use crate::oauth::Error;

    const ISSUER: &str = "http://localhost:4000";

    fn server(extra: &str) -> AuthorizationServer {
        let doc = format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"http://localhost:4000/authorize?tenant=t","token_endpoint":"http://localhost:4000/token"{extra}}}"#
        );
        AuthorizationServer::parse(doc.as_bytes(), ISSUER).unwrap()
    }

    #[test]
    fn url_keeps_endpoint_query_and_omits_absent_scope() {
        let state = State::from_random(&[0; 32]);
        let params = Params {
            client_id: "https://app.example/client.json",
            redirect_uri: "http://127.0.0.1:1/callback",
            code_challenge: "ch",
            state: &state,
            scope: None,
            resource: "http://localhost:3000",
        };
        let url = authorization_url(
            &server(r#","code_challenge_methods_supported":["S256"]"#),
            &params,
        )
        .unwrap();
        assert_eq!(
            url,
            "http://localhost:4000/authorize?tenant=t&response_type=code\
             &client_id=https%3A%2F%2Fapp.example%2Fclient.json\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&code_challenge=ch\
             &code_challenge_method=S256&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\
             &resource=http%3A%2F%2Flocalhost%3A3000"
        );
        assert_eq!(authorization_url(&server(""), &params), Err(Error::NoPkce));
        assert_eq!(
            authorization_url(
                &server(r#","code_challenge_methods_supported":["plain"]"#),
                &params
            ),
            Err(Error::NoPkce)
        );
    }

    #[test]
    fn parse_table() {
        let dup = CallbackError::Invalid(Error::Malformed("redirect (a parameter given twice)"));
        for (target, expected) in [
            ("/", Err(CallbackError::NotCallback)),
            ("/callback/x?code=1", Err(CallbackError::NotCallback)),
            ("/Callback?code=1", Err(CallbackError::NotCallback)),
            ("/callback?code=1&code=2", Err(dup.clone())),
            ("/callback?state=1&state=1", Err(dup.clone())),
            ("/callback?iss=a&iss=a", Err(dup)),
            (
                "/callback?code=%zz",
                Err(CallbackError::Invalid(Error::Malformed("percent-encoding"))),
            ),
            ("/callback", Ok(Callback::default())),
            ("/callback?unknown=1&x", Ok(Callback::default())),
        ] {
            assert_eq!(Callback::parse(target), expected, "{target}");
        }
        let long = format!("/callback?code={}", "x".repeat(8192));
        assert_eq!(
            Callback::parse(&long),
            Err(CallbackError::Invalid(Error::TooLarge("redirect")))
        );
    }

    #[test]
    fn verify_table() {
        let state = State::from_random(&[7; 32]);
        let s = state.secret().expose().to_owned();
        let iss_ok = "http%3A%2F%2Flocalhost%3A4000";
        let ok = |code: &str| -> Result<String, CallbackError> { Ok(code.to_owned()) };
        let invalid =
            |e: Error| -> Result<String, CallbackError> { Err(CallbackError::Invalid(e)) };
        let cases: Vec<(String, bool, Result<String, CallbackError>)> = vec![
            // RFC 9207 table: supported + present, supported + absent,
            // unadvertised + present, unadvertised + absent.
            (format!("code=c&state={s}&iss={iss_ok}"), true, ok("c")),
            (
                format!("code=c&state={s}"),
                true,
                invalid(Error::IssMismatch),
            ),
            (format!("code=c&state={s}&iss={iss_ok}"), false, ok("c")),
            (
                format!("code=c&state={s}&iss=https%3A%2F%2Fevil.example.com"),
                false,
                invalid(Error::IssMismatch),
            ),
            (format!("code=c&state={s}"), false, ok("c")),
            // No normalisation: trailing slash, case, default port, escapes.
            (
                format!("code=c&state={s}&iss={iss_ok}%2F"),
                true,
                invalid(Error::IssMismatch),
            ),
            (
                format!("code=c&state={s}&iss=HTTP%3A%2F%2Flocalhost%3A4000"),
                true,
                invalid(Error::IssMismatch),
            ),
            (
                format!("code=c&state={s}&iss=http%3A%2F%2Flocalhost%3A4000%3A"),
                true,
                invalid(Error::IssMismatch),
            ),
            // State.
            ("code=c".to_owned(), false, invalid(Error::StateMismatch)),
            (
                "code=c&state=".to_owned(),
                false,
                invalid(Error::StateMismatch),
            ),
            (
                format!("code=c&state={s}x"),
                false,
                invalid(Error::StateMismatch),
            ),
            // Code.
            (format!("state={s}"), false, invalid(Error::Missing("code"))),
            (
                format!("code=&state={s}"),
                false,
                invalid(Error::Missing("code")),
            ),
            // Errors only count after iss and state.
            (
                format!("error=access_denied&error_description=No%0Away&state={s}"),
                false,
                Err(CallbackError::Denied {
                    error: "access_denied".to_owned(),
                    description: Some("No?way".to_owned()),
                }),
            ),
            (
                format!("error=access_denied&state={s}&iss=https%3A%2F%2Fevil"),
                false,
                invalid(Error::IssMismatch),
            ),
            (
                "error=access_denied&state=wrong".to_owned(),
                false,
                invalid(Error::StateMismatch),
            ),
        ];
        for (query, supported, expected) in cases {
            let callback = Callback::parse(&format!("/callback?{query}")).unwrap();
            let got = callback
                .verify(&state, ISSUER, supported)
                .map(|code| code.expose().to_owned());
            assert_eq!(got, expected, "{query} supported={supported}");
        }
    }

    #[test]
    fn debug_and_display_hide_secrets() {
        let callback = Callback::parse("/callback?code=SECRETCODE&state=SECRETSTATE").unwrap();
        let shown = format!("{callback:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        let denied = CallbackError::Denied {
            error: "access_denied".to_owned(),
            description: None,
        };
        assert_eq!(denied.to_string(), "authorization refused: access_denied");
        assert_eq!(
            CallbackError::Invalid(Error::StateMismatch).to_string(),
            "authorization response rejected: the authorization response's state is not the one we sent"
        );
    }
}
