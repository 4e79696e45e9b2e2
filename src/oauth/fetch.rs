//! Bounded HTTP exchanges with authorization servers and metadata
//! endpoints: GET of JSON metadata (PRM, RFC 8414 / OpenID metadata) and
//! POSTs of forms or JSON (token, registration, device authorization).
//!
//! - Its own [`Client`]: the bridge's configured headers (`--header`,
//!   `--oauth2Bearer`) are for the MCP server and never go to an
//!   authorization server.
//! - Each exchange, head and body together, within [`EXCHANGE_TIMEOUT`]
//!   (connect has the client's own 10 s inside it); bodies ≤
//!   [`MAX_JSON_BYTES`].
//! - No redirect is followed: a 3xx is [`FetchError::Redirect`] (a metadata
//!   candidate that fails; a token endpoint that redirects is broken).
//! - [`Fetcher::get_json`] wants 200 with a JSON media type; every other
//!   answer is an error naming the status. [`Fetcher::post`] returns any
//!   non-3xx answer with its body, so the caller can read an OAuth error
//!   (`{"error": "invalid_grant"}`) from a 400 or 401.
//!
//! Bodies are never logged or shown in errors: token answers hold tokens.

use std::fmt;
use std::time::Duration;

use async_io::Timer;
use futures_lite::FutureExt;
use supergateway_proto::http::{HttpError, Method};
use supergateway_proto::url::Url;

use crate::http::client::{Client, ClientError, ClientOptions};

/// Head and body of one exchange, at most.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest JSON body read.
pub(crate) const MAX_JSON_BYTES: u64 = 64 * 1024;

/// Talks to authorization servers. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: Client,
    timeout: Duration,
    /// Whether plain-http URLs (loopback only, as proto's checks allow)
    /// may be fetched: not for an https MCP server, whose metadata must not
    /// send the bridge to a service on this machine.
    plain_http: bool,
}

/// A POST's answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// Whether its Content-Type is JSON (`application/json`, `…+json`).
    pub(crate) json: bool,
    /// `Cache-Control: max-age` in seconds (0 for `no-cache`/`no-store`).
    pub(crate) max_age: Option<u64>,
    pub(crate) body: Vec<u8>,
}

/// Why an exchange gave no usable answer. `Display` is one line without
/// any body or header value.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// Connecting, sending or reading failed.
    Http(ClientError),
    /// A 3xx (not followed).
    Redirect(u16),
    /// A GET answered with this status instead of 200.
    Status(u16),
    /// A plain-http URL named by an https MCP server's metadata.
    PlainHttp,
    /// A 200 GET whose Content-Type is not JSON.
    NotJson,
    /// The body is over [`MAX_JSON_BYTES`].
    TooLarge,
    /// [`EXCHANGE_TIMEOUT`] passed.
    Timeout,
}

impl Fetcher {
    /// A fetcher with a client of its own (no configured headers; TLS roots
    /// as the bridges' client, `SSL_CERT_FILE` included).
    pub(crate) fn new() -> Result<Self, ClientError> {
        let options = ClientOptions {
            head_timeout: EXCHANGE_TIMEOUT,
            max_idle_per_host: 2,
            max_body_bytes: MAX_JSON_BYTES,
            ..ClientOptions::default()
        };
        Ok(Self {
            client: Client::new(options)?,
            timeout: EXCHANGE_TIMEOUT,
            plain_http: true,
        })
    }

    /// The same for the MCP server at `mcp`: plain http (to loopback) only
    /// if that server is plain http too.
    pub(crate) fn for_server(mut self, mcp: &Url) -> Self {
        self.plain_http = !mcp.is_tls();
        self
    }

    /// The same with another exchange timeout (tests).
    #[cfg(test)]
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// GETs `url` and returns the body of a 200 JSON answer.
    pub(crate) async fn get_json(
        &self,
        url: &Url,
        headers: &[(&str, &[u8])],
    ) -> Result<Vec<u8>, FetchError> {
        let mut all: Vec<(&str, &[u8])> = vec![("accept", b"application/json")];
        all.extend_from_slice(headers);
        Ok(self.get(url, &all).await?.body)
    }

    /// GETs `url` with exactly `headers` and returns a 200 JSON answer
    /// (with its `max-age`, for the resource server's key cache).
    pub(crate) async fn get(
        &self,
        url: &Url,
        headers: &[(&str, &[u8])],
    ) -> Result<Answer, FetchError> {
        let answer = self.exchange(Method::Get, url, headers, None).await?;
        if answer.status != 200 {
            return Err(FetchError::Status(answer.status));
        }
        if !answer.json {
            return Err(FetchError::NotJson);
        }
        Ok(answer)
    }

    /// POSTs `body` as `content_type` (with `Authorization: authorization`
    /// when given) and returns any non-3xx answer.
    pub(crate) async fn post(
        &self,
        url: &Url,
        content_type: &str,
        body: &[u8],
        authorization: Option<&[u8]>,
    ) -> Result<Answer, FetchError> {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("accept", b"application/json"),
            ("content-type", content_type.as_bytes()),
        ];
        if let Some(value) = authorization {
            headers.push(("authorization", value));
        }
        self.exchange(Method::Post, url, &headers, Some(body)).await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Result<Answer, FetchError> {
        if !url.is_tls() && !self.plain_http {
            return Err(FetchError::PlainHttp);
        }
        let exchange = async {
            let response = self
                .client
                .send(method, url, headers, body, Some(self.timeout))
                .await
                .map_err(FetchError::from_client)?;
            let status = response.status();
            if (300..400).contains(&status) {
                return Err(FetchError::Redirect(status));
            }
            let json = response.header_str("content-type").is_some_and(is_json);
            let max_age = response.header_str("cache-control").and_then(max_age);
            let body = response
                .body(MAX_JSON_BYTES)
                .await
                .map_err(FetchError::from_client)?;
            Ok(Answer {
                status,
                json,
                max_age,
                body,
            })
        };
        exchange
            .or(async {
                Timer::after(self.timeout).await;
                Err(FetchError::Timeout)
            })
            .await
    }
}

impl FetchError {
    fn from_client(err: ClientError) -> Self {
        match err {
            ClientError::Http(HttpError::BodyTooLarge) => Self::TooLarge,
            // The client's own head deadline is the exchange's.
            ClientError::Timeout("response head") => Self::Timeout,
            other => Self::Http(other),
        }
    }
}

impl fmt::Debug for Answer {
    /// Status and size only: token answers hold tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("json", &self.json)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(err) => err.fmt(f),
            Self::Redirect(status) => {
                write!(f, "redirected ({status}; redirects are not followed)")
            }
            Self::Status(status) => write!(f, "answered {status}"),
            Self::PlainHttp => f.write_str("not fetched: plain http named by an https MCP server"),
            Self::NotJson => f.write_str("answered 200 without a JSON content type"),
            Self::TooLarge => write!(f, "answer larger than {} KiB", MAX_JSON_BYTES / 1024),
            Self::Timeout => write!(f, "no answer within {} s", EXCHANGE_TIMEOUT.as_secs()),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Http(err) => Some(err),
            _ => None,
        }
    }
}

/// `application/json` or a `+json` structured syntax suffix (RFC 6839),
/// parameters ignored, case-insensitive.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1; digits only,
/// large values saturate), 0 for `no-cache` or `no-store`.
fn max_age(value: &str) -> Option<u64> {
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(0);
        }
        if let Some(digits) = lower.strip_prefix("max-age=") {
            let digits = digits.trim_matches('"');
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            found = Some(digits.bytes().fold(0u64, |acc, b| {
                acc.saturating_mul(10)
                    .saturating_add(u64::from(b.saturating_sub(b'0')))
            }));
        }
    }
    found
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{is_json, max_age};

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("max-age=300"), Some(300));
        assert_eq!(max_age("public, Max-Age=60, must-revalidate"), Some(60));
        assert_eq!(max_age("max-age=\"12\""), Some(12));
        assert_eq!(max_age("max-age=99999999999999999999999"), Some(u64::MAX));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("public, no-cache"), Some(0));
        assert_eq!(max_age("max-age=-1"), None);
        assert_eq!(max_age("max-age="), None);
        assert_eq!(max_age("s-maxage=5"), None);
        assert_eq!(max_age("private"), None);
    }

    #[test]
    fn json_media_types() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;x=y",
            "application/jwk-set+json",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "text/json",
            "text/html",
            "application/jsonx",
            "",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }
}
