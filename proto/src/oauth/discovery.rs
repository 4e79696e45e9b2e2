//! Where the metadata lives and what it must say: protected-resource
//! metadata (RFC 9728) and authorization-server metadata (RFC 8414, OpenID
//! Connect Discovery 1.0), in the order and with the checks of MCP
//! 2026-07-28 `authorization-server-discovery`.

use crate::url::Url;

use super::{json, secure_url, Error};

const PRM_SUFFIX: &str = "/.well-known/oauth-protected-resource";
const OAUTH_SUFFIX: &str = "/.well-known/oauth-authorization-server";
const OIDC_SUFFIX: &str = "/.well-known/openid-configuration";

/// The well-known protected-resource metadata URLs for the MCP endpoint
/// `mcp`, in the order to try: path-suffixed (only when the path is not
/// `/`), then the root. The query is left out, as the SDKs do: it is part of
/// the endpoint, not of the resource's name.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::discovery::protected_resource_urls;
/// use supergateway_proto::url::Url;
///
/// let urls = protected_resource_urls(&Url::parse("https://example.com/public/mcp?k=1").unwrap());
/// let urls: Vec<String> = urls.iter().map(ToString::to_string).collect();
/// assert_eq!(urls, [
///     "https://example.com/.well-known/oauth-protected-resource/public/mcp",
///     "https://example.com/.well-known/oauth-protected-resource",
/// ]);
/// ```
#[must_use]
pub fn protected_resource_urls(mcp: &Url) -> Vec<Url> {
    let origin = origin(mcp);
    let path = mcp.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.extend(Url::parse(&format!("{origin}{PRM_SUFFIX}{path}")).ok());
    }
    urls.extend(Url::parse(&format!("{origin}{PRM_SUFFIX}")).ok());
    urls
}

/// Checks the `resource_metadata` URL of a challenge: absolute, no
/// fragment, https (or http on loopback).
pub fn resource_metadata_url(value: &str) -> Result<Url, Error> {
    endpoint_url(value, "resource_metadata URL")
}

/// Whether the protected-resource metadata's `resource` names the MCP
/// endpoint `mcp`: same scheme, host and port (compared after parsing, so
/// case and default ports do not matter, as MCP's "Canonical Server URI"
/// asks), no fragment, no query, and a path that is `mcp`'s path or a
/// whole-segment prefix of it (`https://h` and `https://h/api` cover
/// `https://h/api/mcp`; `https://h/ap` does not). RFC 9728 §3.3 wants the
/// resource the metadata was fetched for; the root metadata of a server
/// names its origin, so a prefix is what the SDKs and the conformance suite
/// accept.
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::discovery::resource_matches;
/// use supergateway_proto::url::Url;
///
/// let mcp = Url::parse("https://mcp.example.com/api/mcp").unwrap();
/// assert!(resource_matches("https://MCP.example.com:443/api", &mcp));
/// assert!(!resource_matches("https://mcp.example.com/ap", &mcp));
/// assert!(!resource_matches("https://evil.example.com/api/mcp", &mcp));
/// ```
#[must_use]
pub fn resource_matches(resource: &str, mcp: &Url) -> bool {
    if resource.contains('#') || resource.contains('?') {
        return false;
    }
    let Ok(parsed) = Url::parse(resource) else {
        return false;
    };
    if !parsed.same_origin(mcp) {
        return false;
    }
    let prefix = parsed.path().trim_end_matches('/');
    let path = mcp.path();
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The canonical URI of the MCP endpoint `mcp` (MCP "Canonical Server
/// URI", RFC 8707 §2): lowercase scheme and host, the port only when not
/// the default, the path without a lone `/`, no query, no fragment. The
/// `resource` to send when there is no protected-resource metadata to name
/// one (the 2025-03-26 fallbacks).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::discovery::canonical_resource;
/// use supergateway_proto::url::Url;
///
/// let url = |s| Url::parse(s).unwrap();
/// assert_eq!(canonical_resource(&url("HTTPS://MCP.Example.com:443/")), "https://mcp.example.com");
/// assert_eq!(canonical_resource(&url("http://localhost:3000/mcp?k=1")), "http://localhost:3000/mcp");
/// ```
#[must_use]
pub fn canonical_resource(mcp: &Url) -> String {
    let path = mcp.path();
    let path = if path == "/" { "" } else { path };
    format!("{}{path}", origin(mcp))
}

/// A validated protected-resource metadata document (RFC 9728 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedResource {
    /// Matches the MCP endpoint ([`resource_matches`]).
    resource: String,
    /// At least one issuer, each an https (or loopback http) URL with no
    /// query or fragment.
    authorization_servers: Vec<String>,
    /// `None` when the document has no `scopes_supported`.
    scopes_supported: Option<Vec<String>>,
}

impl ProtectedResource {
    /// Parses and checks the document fetched for the MCP endpoint `mcp`.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::{discovery::ProtectedResource, Error};
    /// use supergateway_proto::url::Url;
    ///
    /// let mcp = Url::parse("https://mcp.example.com/mcp").unwrap();
    /// let doc = br#"{"resource":"https://mcp.example.com/mcp",
    ///   "authorization_servers":["https://auth.example.com/t1"],"scopes_supported":["files:read"]}"#;
    /// let prm = ProtectedResource::parse(doc, &mcp)?;
    /// assert_eq!(prm.authorization_servers(), ["https://auth.example.com/t1"]);
    /// assert_eq!(prm.scopes_supported(), Some(&["files:read".to_owned()][..]));
    ///
    /// let evil = br#"{"resource":"https://evil.example.com/mcp","authorization_servers":["https://a.example"]}"#;
    /// assert_eq!(ProtectedResource::parse(evil, &mcp), Err(Error::ResourceMismatch));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse(body: &[u8], mcp: &Url) -> Result<Self, Error> {
        let map = json::object(body, "protected resource metadata")?;
        let resource = json::required(&map, "resource", "resource")?;
        if !resource_matches(&resource, mcp) {
            return Err(Error::ResourceMismatch);
        }
        let authorization_servers =
            json::strings(&map, "authorization_servers", "authorization_servers")?
                .filter(|list| !list.is_empty())
                .ok_or(Error::Missing("authorization_servers"))?;
        for issuer in &authorization_servers {
            issuer_url(issuer)?;
        }
        let scopes_supported = json::strings(&map, "scopes_supported", "scopes_supported")?;
        Ok(Self {
            resource,
            authorization_servers,
            scopes_supported,
        })
    }

    /// The resource identifier: the `resource` parameter of the
    /// authorization and token requests (RFC 8707), as the document wrote it.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The issuers, in the document's order (MCP leaves the choice to the
    /// client; we take the first).
    #[must_use]
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// `scopes_supported`, `None` when the document has none.
    #[must_use]
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.scopes_supported.as_deref()
    }
}

/// The authorization-server metadata URLs for `issuer`, in MCP's order:
/// with a path, RFC 8414 path insertion, OpenID Connect path insertion,
/// OpenID Connect path appending; without one, RFC 8414 then OpenID
/// Connect. A terminating `/` of the path is removed first (RFC 8414 §3.1).
///
/// # Examples
///
/// ```
/// use supergateway_proto::oauth::discovery::authorization_server_urls;
///
/// let urls = authorization_server_urls("https://auth.example.com/tenant1")?;
/// let urls: Vec<String> = urls.iter().map(ToString::to_string).collect();
/// assert_eq!(urls, [
///     "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
///     "https://auth.example.com/.well-known/openid-configuration/tenant1",
///     "https://auth.example.com/tenant1/.well-known/openid-configuration",
/// ]);
/// assert_eq!(authorization_server_urls("https://auth.example.com")?.len(), 2);
/// # Ok::<(), supergateway_proto::oauth::Error>(())
/// ```
pub fn authorization_server_urls(issuer: &str) -> Result<Vec<Url>, Error> {
    let url = issuer_url(issuer)?;
    let origin = origin(&url);
    let path = url.path().trim_end_matches('/');
    let candidates = if path.is_empty() {
        vec![
            format!("{origin}{OAUTH_SUFFIX}"),
            format!("{origin}{OIDC_SUFFIX}"),
        ]
    } else {
        vec![
            format!("{origin}{OAUTH_SUFFIX}{path}"),
            format!("{origin}{OIDC_SUFFIX}{path}"),
            format!("{origin}{path}{OIDC_SUFFIX}"),
        ]
    };
    candidates
        .iter()
        .map(|text| Url::parse(text).map_err(|_| Error::Malformed("issuer")))
        .collect()
}

/// A validated authorization-server metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationServer {
    /// Identical to the issuer it was fetched for.
    issuer: String,
    authorization_endpoint: Option<Url>,
    token_endpoint: Url,
    registration_endpoint: Option<Url>,
    device_authorization_endpoint: Option<Url>,
    /// `jwks_uri`: the keys a resource server verifies JWT access tokens
    /// with.
    jwks_uri: Option<Url>,
    /// Empty when absent.
    scopes_supported: Vec<String>,
    /// `None` when absent (RFC 8414 default: authorization_code, implicit).
    grant_types_supported: Option<Vec<String>>,
    /// RFC 8414 default `client_secret_basic` when absent.
    token_endpoint_auth_methods_supported: Vec<String>,
    /// Empty when absent (then PKCE is unsupported, MCP says).
    code_challenge_methods_supported: Vec<String>,
    client_id_metadata_document_supported: bool,
    authorization_response_iss_parameter_supported: bool,
}

impl AuthorizationServer {
    /// Parses and checks the document fetched for `issuer` (the string from
    /// `authorization_servers`, compared byte for byte: RFC 8414 §3.3).
    /// Every endpoint must be https, or http on loopback. S256 support is
    /// checked where PKCE is used ([`super::authorize::authorization_url`]),
    /// so that client credentials still work with an AS that has no PKCE.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::{discovery::AuthorizationServer, Error};
    ///
    /// let doc = br#"{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize",
    ///   "token_endpoint":"https://as.example/token","code_challenge_methods_supported":["S256"]}"#;
    /// let server = AuthorizationServer::parse(doc, "https://as.example")?;
    /// assert!(server.supports_s256());
    /// assert_eq!(server.token_endpoint().to_string(), "https://as.example/token");
    /// assert_eq!(AuthorizationServer::parse(doc, "https://as.example/"), Err(Error::IssuerMismatch));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse(body: &[u8], issuer: &str) -> Result<Self, Error> {
        let map = json::object(body, "authorization server metadata")?;
        let stated = json::required(&map, "issuer", "issuer")?;
        if stated != issuer {
            return Err(Error::IssuerMismatch);
        }
        issuer_url(&stated)?;
        let endpoint = |key: &str, what: &'static str| -> Result<Option<Url>, Error> {
            json::string(&map, key, what)?
                .map(|text| endpoint_url(&text, what))
                .transpose()
        };
        let strings = |key: &str, what: &'static str| json::strings(&map, key, what);
        Ok(Self {
            authorization_endpoint: endpoint("authorization_endpoint", "authorization_endpoint")?,
            token_endpoint: endpoint("token_endpoint", "token_endpoint")?
                .ok_or(Error::Missing("token_endpoint"))?,
            registration_endpoint: endpoint("registration_endpoint", "registration_endpoint")?,
            device_authorization_endpoint: endpoint(
                "device_authorization_endpoint",
                "device_authorization_endpoint",
            )?,
            jwks_uri: endpoint("jwks_uri", "jwks_uri")?,
            scopes_supported: strings("scopes_supported", "scopes_supported")?.unwrap_or_default(),
            grant_types_supported: strings("grant_types_supported", "grant_types_supported")?,
            token_endpoint_auth_methods_supported: strings(
                "token_endpoint_auth_methods_supported",
                "token_endpoint_auth_methods_supported",
            )?
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]),
            code_challenge_methods_supported: strings(
                "code_challenge_methods_supported",
                "code_challenge_methods_supported",
            )?
            .unwrap_or_default(),
            client_id_metadata_document_supported: json::flag(
                &map,
                "client_id_metadata_document_supported",
                "client_id_metadata_document_supported",
            )?,
            authorization_response_iss_parameter_supported: json::flag(
                &map,
                "authorization_response_iss_parameter_supported",
                "authorization_response_iss_parameter_supported",
            )?,
            issuer: stated,
        })
    }

    /// The 2025-03-26 fallback for a server with no metadata at all (no
    /// protected-resource metadata, nothing at the well-known AS URLs of its
    /// origin): the MCP origin is the issuer, with `/authorize`, `/token`
    /// and `/register` at its root, PKCE with S256 (that revision required
    /// it of clients) and no RFC 9207 `iss`. Only for a driver that has
    /// found no metadata document of either kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::oauth::discovery::AuthorizationServer;
    /// use supergateway_proto::url::Url;
    ///
    /// let server = AuthorizationServer::legacy_fallback(&Url::parse("http://localhost:3000/mcp").unwrap())?;
    /// assert_eq!(server.issuer(), "http://localhost:3000");
    /// assert_eq!(server.token_endpoint().to_string(), "http://localhost:3000/token");
    /// # Ok::<(), supergateway_proto::oauth::Error>(())
    /// ```
    pub fn legacy_fallback(mcp: &Url) -> Result<Self, Error> {
        let issuer = origin(mcp);
        issuer_url(&issuer)?;
        let at = |path: &str| endpoint_url(&format!("{issuer}{path}"), "the MCP server URL");
        Ok(Self {
            authorization_endpoint: Some(at("/authorize")?),
            token_endpoint: at("/token")?,
            registration_endpoint: Some(at("/register")?),
            device_authorization_endpoint: None,
            jwks_uri: None,
            scopes_supported: Vec::new(),
            grant_types_supported: None,
            token_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]
            .map(str::to_owned)
            .to_vec(),
            code_challenge_methods_supported: vec!["S256".to_owned()],
            client_id_metadata_document_supported: false,
            authorization_response_iss_parameter_supported: false,
            issuer,
        })
    }

    /// The issuer identifier: the key for stored client credentials and
    /// tokens, and the value an authorization response's `iss` must equal.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `authorization_endpoint`, absent on client-credentials-only servers.
    #[must_use]
    pub const fn authorization_endpoint(&self) -> Option<&Url> {
        self.authorization_endpoint.as_ref()
    }

    /// `token_endpoint`.
    #[must_use]
    pub const fn token_endpoint(&self) -> &Url {
        &self.token_endpoint
    }

    /// `registration_endpoint` (RFC 7591), if offered.
    #[must_use]
    pub const fn registration_endpoint(&self) -> Option<&Url> {
        self.registration_endpoint.as_ref()
    }

    /// `device_authorization_endpoint` (RFC 8628), if offered.
    #[must_use]
    pub const fn device_authorization_endpoint(&self) -> Option<&Url> {
        self.device_authorization_endpoint.as_ref()
    }

    /// `scopes_supported` (empty when absent).
    #[must_use]
    pub fn scopes_supported(&self) -> &[String] {
        &self.scopes_supported
    }

    /// `jwks_uri` (RFC 8414 §2), if offered.
    #[must_use]
    pub const fn jwks_uri(&self) -> Option<&Url> {
        self.jwks_uri.as_ref()
    }

    /// Whether the server lists grant type `grant` (RFC 8414 default when
    /// the field is absent: `authorization_code` and `implicit`).
    #[must_use]
    pub fn supports_grant(&self, grant: &str) -> bool {
        match &self.grant_types_supported {
            Some(list) => list.iter().any(|listed| listed == grant),
            None => grant == "authorization_code" || grant == "implicit",
        }
    }

    /// `token_endpoint_auth_methods_supported` (RFC 8414 default
    /// `client_secret_basic` when absent).
    #[must_use]
    pub fn token_endpoint_auth_methods_supported(&self) -> &[String] {
        &self.token_endpoint_auth_methods_supported
    }

    /// Whether `code_challenge_methods_supported` lists `S256`.
    #[must_use]
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|method| method == "S256")
    }

    /// `client_id_metadata_document_supported`.
    #[must_use]
    pub const fn client_id_metadata_document_supported(&self) -> bool {
        self.client_id_metadata_document_supported
    }

    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3).
    #[must_use]
    pub const fn authorization_response_iss_parameter_supported(&self) -> bool {
        self.authorization_response_iss_parameter_supported
    }
}

/// `scheme://authority` of `url`.
fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme().as_str(), url.authority())
}

/// An issuer identifier (RFC 8414 §2): https (or loopback http), no query,
/// no fragment.
fn issuer_url(issuer: &str) -> Result<Url, Error> {
    if issuer.contains('?') || issuer.contains('#') {
        return Err(Error::Malformed("issuer (query or fragment)"));
    }
    let url = Url::parse(issuer).map_err(|_| Error::Malformed("issuer"))?;
    if !secure_url(&url) {
        return Err(Error::Insecure("the issuer"));
    }
    Ok(url)
}

/// An endpoint URL: absolute, no fragment (RFC 6749 §3.1), https or
/// loopback http.
fn endpoint_url(text: &str, what: &'static str) -> Result<Url, Error> {
    if text.contains('#') {
        return Err(Error::Malformed(what));
    }
    let url = Url::parse(text).map_err(|_| Error::Malformed(what))?;
    if !secure_url(&url) {
        return Err(Error::Insecure(what));
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
