//! Token introspection (RFC 7662) for `--authIntrospectionUrl`: the token
//! is POSTed as a form with the gateway's own client credentials
//! (`client_secret_basic`, from `--authIntrospectionClientFile`), and the
//! answer read by proto's `parse_introspection`. The token and the answer
//! are never logged; errors name the endpoint and the status only.

use std::fmt;

use supergateway_proto::jwt::{parse_introspection, Introspection, JwtError, Limits};
use supergateway_proto::oauth::form::Form;
use supergateway_proto::oauth::Secret;
use supergateway_proto::url::Url;

use crate::oauth::fetch::{FetchError, Fetcher};

/// The introspection endpoint and how the gateway authenticates to it.
#[derive(Clone)]
pub(crate) struct IntrospectionClient {
    pub(crate) url: Url,
    pub(crate) client_id: String,
    /// `Basic …` for the client id and secret.
    pub(crate) authorization: Secret,
}

impl fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("url", &self.url.redacted().to_string())
            .field("client_id", &self.client_id)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// Why an introspection gave no answer about the token.
#[derive(Debug)]
pub(crate) enum IntrospectError {
    /// The endpoint could not be asked, or answered something other than
    /// 200 JSON: the token may be fine, so this is not the caller's fault.
    Unavailable(String),
    /// A 200 answer that is not an RFC 7662 response.
    Answer(JwtError),
}

/// Asks the endpoint about `token`.
pub(crate) async fn introspect(
    fetcher: &Fetcher,
    client: &IntrospectionClient,
    token: &str,
) -> Result<Introspection, IntrospectError> {
    let mut form = Form::new();
    form.pair("token", token)
        .pair("token_type_hint", "access_token");
    let body = Secret::new(form.finish());
    let answer = fetcher
        .post(
            &client.url,
            "application/x-www-form-urlencoded",
            body.expose().as_bytes(),
            Some(client.authorization.expose().as_bytes()),
        )
        .await
        .map_err(|err: FetchError| {
            IntrospectError::Unavailable(format!("{}: {err}", client.url.redacted()))
        })?;
    if answer.status != 200 || !answer.json {
        return Err(IntrospectError::Unavailable(format!(
            "{}: answered {}{}",
            client.url.redacted(),
            answer.status,
            if answer.json { "" } else { " without JSON" }
        )));
    }
    parse_introspection(&answer.body, Limits::DEFAULT).map_err(IntrospectError::Answer)
}
