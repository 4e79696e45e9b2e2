//! The OAuth 2.1 resource server (issue 16 item 2): `--authIssuer`'s access
//! tokens accepted on the MCP endpoints, as MCP 2026-07-28 "Authorization"
//! asks of a server.
//!
//! - Tokens are JWTs verified with the issuer's keys ([`super::jwks`]), or,
//!   with `--authIntrospectionUrl`, every token is introspected
//!   ([`super::introspection`]). Either way the audience must be
//!   `--authResource` (RFC 8707: a token meant for another server is
//!   refused), the issuer `--authIssuer`, and every `--authScopes` scope
//!   held (403 `insufficient_scope` otherwise).
//! - Accepted tokens are remembered by SHA-256 digest (never the token)
//!   until they expire or [`JWT_CACHE`] / [`INTROSPECTION_CACHE`] pass,
//!   [`CACHE_ENTRIES`] at most, so a token is verified once, not on every
//!   request. With introspection, refused tokens are remembered too (for
//!   [`REFUSAL_CACHE`]), and at most [`MAX_INTROSPECTIONS`] requests to
//!   the endpoint are in flight: a client presenting bad tokens cannot
//!   turn each of its requests into one to the issuer.
//! - Refusals carry the RFC 6750 / RFC 9728 challenge: the metadata URL,
//!   built from `--authResource` (a request's Host is the caller's to
//!   choose), and the required scopes.
//! - The protected-resource metadata (RFC 9728) is served at the root
//!   well-known URL and at the path-suffixed ones of the MCP endpoints.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::SystemTime;

use supergateway_proto::jwt::{
    check_introspection, decode, verify, Claims, Expect, JwtError, Limits,
};
use supergateway_proto::oauth::discovery::protected_resource_urls;
use supergateway_proto::url::Url;

use super::introspection::{introspect, IntrospectError};
use super::jwks::Keys;
use super::{Digest, Principal};
use crate::oauth::fetch::Fetcher;
use crate::rt;

pub(crate) use super::introspection::IntrospectionClient;

/// A verified JWT is remembered at most this long (and never past `exp`).
const JWT_CACHE: u64 = 300;
/// An introspection answer is remembered at most this long (and never past
/// `exp`): a revoked token stops working within it.
const INTROSPECTION_CACHE: u64 = 60;
/// Remembered tokens, at most; the oldest is forgotten first.
const CACHE_ENTRIES: usize = 4096;
/// A token the introspection endpoint refused (inactive, or failing our
/// checks) is refused again without asking for this long: a guessed or
/// revoked token repeated costs the issuer one request per 30 s, and a
/// token activated since is accepted within it.
const REFUSAL_CACHE: u64 = 30;
/// Introspection requests in flight, at most; beyond, 503 with
/// `Retry-After: 1` ([`Rejection::Busy`]). Each holds a connection to the
/// issuer for up to the fetch timeout.
const MAX_INTROSPECTIONS: usize = 16;

/// The validated `--auth*` OAuth flags (a part of `Config`).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// `--authIssuer`, exactly as given: tokens' `iss` must equal it.
    pub(crate) issuer: String,
    /// `--authResource`: tokens' `aud` must contain it.
    pub(crate) resource: String,
    /// `--authScopes`, without duplicates.
    pub(crate) scopes: Vec<String>,
    /// `--authIntrospectionUrl` and its client file.
    pub(crate) introspection: Option<IntrospectionClient>,
}

/// Why a token was not accepted.
#[derive(Debug)]
pub(crate) enum Refused {
    /// 401 `invalid_token`, or 403 `insufficient_scope`.
    Token(JwtError),
    /// The issuer's keys or the introspection endpoint could not be had:
    /// 503, the token may be good.
    Unavailable,
}

/// Why [`Resource::authenticate`] gave no principal.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The token, or the issuer, said no (see [`Refused`]).
    Refused(Refused),
    /// [`MAX_INTROSPECTIONS`] requests to the endpoint are already in
    /// flight: 503 with `Retry-After: 1`, the token may be good.
    Busy,
}

impl From<Refused> for Rejection {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused)
    }
}

/// See the module documentation.
pub(crate) struct Resource {
    settings: Settings,
    verifier: Verifier,
    cache: RefCell<TokenCache<Rc<Principal>>>,
    /// Introspected tokens refused, by digest, with why.
    refusals: RefCell<TokenCache<JwtError>>,
    /// Introspection requests in flight ([`MAX_INTROSPECTIONS`] at most).
    introspecting: Rc<Cell<usize>>,
    /// `resource_metadata="…"` and, with scopes, `, scope="…"`.
    challenge: String,
    /// The protected-resource metadata document.
    metadata: Vec<u8>,
    /// Where it is served.
    metadata_paths: Vec<String>,
}

enum Verifier {
    Jwt(Rc<Keys>),
    Introspection(Fetcher, IntrospectionClient),
    /// No HTTP client (its TLS roots failed to load): nothing verifies.
    Broken,
}

impl Resource {
    /// The resource server for `settings`, whose MCP endpoints are at
    /// `endpoint_paths`. The issuer's keys are fetched in the background
    /// from now on, so that the first request finds them.
    pub(crate) fn new(settings: &Settings, endpoint_paths: &[&str]) -> Rc<Self> {
        let verifier = match Fetcher::new() {
            Err(err) => {
                tracing::error!("--authIssuer: no HTTP client, every token is refused: {err}");
                Verifier::Broken
            }
            Ok(fetcher) => {
                let fetcher = match Url::parse(&settings.issuer) {
                    // Plain http only for a plain-http issuer (loopback):
                    // an https issuer's metadata must not send us to
                    // services on this machine.
                    Ok(issuer) => fetcher.for_server(&issuer),
                    Err(_) => fetcher,
                };
                match &settings.introspection {
                    Some(client) => Verifier::Introspection(fetcher, client.clone()),
                    None => Verifier::Jwt(Rc::new(Keys::new(&settings.issuer, fetcher))),
                }
            }
        };
        let (metadata_url, mut metadata_paths) = match Url::parse(&settings.resource) {
            Ok(url) => {
                let urls = protected_resource_urls(&url);
                let paths = urls.iter().map(|url| url.path().to_owned()).collect();
                let first = urls.first().map(ToString::to_string).unwrap_or_default();
                (first, paths)
            }
            Err(_) => (String::new(), Vec::new()),
        };
        for path in endpoint_paths {
            let suffixed = format!("/.well-known/oauth-protected-resource{path}");
            if !metadata_paths.contains(&suffixed) {
                metadata_paths.push(suffixed);
            }
        }
        let mut challenge = format!("resource_metadata=\"{metadata_url}\"");
        if !settings.scopes.is_empty() {
            challenge.push_str(&format!(", scope=\"{}\"", settings.scopes.join(" ")));
        }
        let resource = Rc::new(Self {
            metadata: metadata_document(settings),
            settings: settings.clone(),
            verifier,
            cache: RefCell::new(TokenCache::default()),
            refusals: RefCell::new(TokenCache::default()),
            introspecting: Rc::new(Cell::new(0)),
            challenge,
            metadata_paths,
        });
        if matches!(resource.verifier, Verifier::Jwt(_)) {
            let background = Rc::clone(&resource);
            rt::spawn(async move {
                if let Verifier::Jwt(keys) = &background.verifier {
                    keys.prefetch().await;
                }
            })
            .detach();
        }
        resource
    }

    /// The metadata document, if `path` is one of its URLs' paths.
    pub(crate) fn metadata(&self, path: &str) -> Option<&[u8]> {
        self.metadata_paths
            .iter()
            .any(|known| known == path)
            .then_some(self.metadata.as_slice())
    }

    /// The `WWW-Authenticate` value: `Bearer` with the metadata URL and the
    /// scopes, then `error` and `error_description` when given (their
    /// texts are ours, never the token's).
    pub(crate) fn challenge(&self, error: Option<(&str, &str)>) -> Vec<u8> {
        let mut value = format!("Bearer {}", self.challenge);
        if let Some((code, description)) = error {
            // A quoted-string: no `"` or `\` (RFC 6750 §3 forbids them in
            // error_description anyway), no control characters.
            let description: String = description
                .chars()
                .map(|c| {
                    if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                        '\''
                    } else {
                        c
                    }
                })
                .collect();
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{description}\""
            ));
        }
        value.into_bytes()
    }

    /// Who holds `token` (a well-formed bearer token), or why it is refused.
    pub(crate) async fn authenticate(&self, token: &[u8]) -> Result<Rc<Principal>, Rejection> {
        let digest = Digest::of(token);
        let now = unix_now();
        if let Some(principal) = self.cache.borrow().get(&digest, now) {
            return Ok(principal);
        }
        if let Some(refusal) = self.refusals.borrow().get(&digest, now) {
            return Err(Refused::Token(refusal).into());
        }
        let expect = Expect {
            issuer: &self.settings.issuer,
            audience: &self.settings.resource,
            scopes: &self.settings.scopes,
            leeway_secs: Expect::DEFAULT_LEEWAY_SECS,
        };
        let (claims, bound) = match &self.verifier {
            Verifier::Broken => return Err(Refused::Unavailable.into()),
            Verifier::Jwt(keys) => (verify_jwt(keys, token, &expect).await?, JWT_CACHE),
            Verifier::Introspection(fetcher, client) => {
                // A bearer token is ASCII (RFC 6750 b64token).
                let text = std::str::from_utf8(token)
                    .map_err(|_| Refused::Token(JwtError::Malformed("token")))?;
                let Some(_permit) = Permit::take(&self.introspecting) else {
                    return Err(Rejection::Busy);
                };
                let answer = introspect(fetcher, client, text)
                    .await
                    .map_err(|err| match err {
                        IntrospectError::Unavailable(why) => {
                            tracing::warn!("--authIntrospectionUrl: {why}");
                            Refused::Unavailable
                        }
                        IntrospectError::Answer(err) => {
                            tracing::warn!("--authIntrospectionUrl: unreadable answer: {err}");
                            Refused::Unavailable
                        }
                    })?;
                let now = unix_now();
                match check_introspection(&answer, &expect, now) {
                    Ok(claims) => (claims, INTROSPECTION_CACHE),
                    Err(err) => {
                        let until = now.saturating_add(REFUSAL_CACHE);
                        self.refusals
                            .borrow_mut()
                            .insert(digest, err.clone(), until);
                        return Err(Refused::Token(err).into());
                    }
                }
            }
        };
        let until = claims.expires_at.min(now.saturating_add(bound));
        let principal = Rc::new(Principal {
            issuer: claims.issuer,
            subject: claims.subject,
            client_id: claims.client_id,
            claims: claims.env_claims,
        });
        self.cache
            .borrow_mut()
            .insert(digest, Rc::clone(&principal), until);
        Ok(principal)
    }
}

/// Decodes and verifies a JWT; an unknown key refetches the keys (rate
/// limited by [`Keys`]) and verifies once more.
async fn verify_jwt(keys: &Rc<Keys>, token: &[u8], expect: &Expect<'_>) -> Result<Claims, Refused> {
    let unverified = decode(token, Limits::DEFAULT).map_err(Refused::Token)?;
    let jwks = keys.current().await.map_err(|_| Refused::Unavailable)?;
    match verify(&unverified, &jwks, expect, unix_now()) {
        Err(JwtError::NoKey) => match keys.refetch_for_unknown_key(&jwks).await {
            Some(newer) => verify(&unverified, &newer, expect, unix_now()).map_err(Refused::Token),
            None => Err(Refused::Token(JwtError::NoKey)),
        },
        other => other.map_err(Refused::Token),
    }
}

/// RFC 9728 §2: what this resource is and where its tokens come from.
fn metadata_document(settings: &Settings) -> Vec<u8> {
    let mut document = serde_json::Map::new();
    document.insert("resource".to_owned(), settings.resource.clone().into());
    document.insert(
        "authorization_servers".to_owned(),
        vec![serde_json::Value::from(settings.issuer.clone())].into(),
    );
    if !settings.scopes.is_empty() {
        document.insert(
            "scopes_supported".to_owned(),
            settings
                .scopes
                .iter()
                .cloned()
                .map(serde_json::Value::from)
                .collect::<Vec<_>>()
                .into(),
        );
    }
    document.insert(
        "bearer_methods_supported".to_owned(),
        vec![serde_json::Value::from("header")].into(),
    );
    serde_json::to_vec(&serde_json::Value::Object(document)).unwrap_or_default()
}

/// Seconds since the Unix epoch (the clock JWT dates are in).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// One introspection request in flight, counted in the shared counter
/// until dropped (also when the request's future is, the client gone).
struct Permit(Rc<Cell<usize>>);

impl Permit {
    /// A permit, unless [`MAX_INTROSPECTIONS`] are out.
    fn take(count: &Rc<Cell<usize>>) -> Option<Self> {
        let taken = count.get();
        if taken >= MAX_INTROSPECTIONS {
            return None;
        }
        count.set(taken.saturating_add(1));
        Some(Self(Rc::clone(count)))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Tokens' outcomes (a principal, or why refused) by digest, oldest first
/// out.
struct TokenCache<T> {
    entries: HashMap<[u8; 32], Cached<T>>,
    /// Every key of `entries` once, in insertion order.
    order: VecDeque<[u8; 32]>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

struct Cached<T> {
    value: T,
    /// Unix seconds; usable while now is before it.
    until: u64,
}

impl<T: Clone> TokenCache<T> {
    fn get(&self, digest: &Digest, now: u64) -> Option<T> {
        let cached = self.entries.get(&digest.0)?;
        (now < cached.until).then(|| cached.value.clone())
    }

    fn insert(&mut self, digest: Digest, value: T, until: u64) {
        if let Some(cached) = self.entries.get_mut(&digest.0) {
            // Expired and verified again: same place in the order.
            *cached = Cached { value, until };
            return;
        }
        while self.entries.len() >= CACHE_ENTRIES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.entries.insert(digest.0, Cached { value, until });
        self.order.push_back(digest.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(subject: &str) -> Rc<Principal> {
        Rc::new(Principal {
            issuer: "https://as".to_owned(),
            subject: subject.to_owned(),
            client_id: None,
            claims: Vec::new(),
        })
    }

    #[test]
    fn cache_expires_and_evicts_the_oldest() {
        let mut cache = TokenCache::default();
        cache.insert(Digest::of(b"a"), principal("a"), 100);
        assert_eq!(cache.get(&Digest::of(b"a"), 99).unwrap().subject, "a");
        assert!(cache.get(&Digest::of(b"a"), 100).is_none());
        assert!(cache.get(&Digest::of(b"b"), 0).is_none());
        for n in 0..CACHE_ENTRIES {
            cache.insert(Digest::of(n.to_string().as_bytes()), principal("n"), 100);
        }
        assert_eq!(cache.entries.len(), CACHE_ENTRIES);
        assert_eq!(cache.order.len(), CACHE_ENTRIES);
        // "a" was the oldest.
        assert!(cache.get(&Digest::of(b"a"), 0).is_none());
        assert!(cache.get(&Digest::of(b"0"), 0).is_some());
    }

    #[test]
    fn refusals_are_remembered_for_their_time_and_bounded() {
        let mut refusals = TokenCache::default();
        refusals.insert(Digest::of(b"guess"), JwtError::Inactive, 130);
        assert_eq!(
            refusals.get(&Digest::of(b"guess"), 129),
            Some(JwtError::Inactive)
        );
        assert_eq!(refusals.get(&Digest::of(b"guess"), 130), None);
        assert_eq!(refusals.get(&Digest::of(b"other"), 0), None);
        for n in 0..CACHE_ENTRIES {
            refusals.insert(
                Digest::of(n.to_string().as_bytes()),
                JwtError::Audience,
                130,
            );
        }
        assert_eq!(refusals.entries.len(), CACHE_ENTRIES);
        assert_eq!(refusals.order.len(), CACHE_ENTRIES);
        assert_eq!(refusals.get(&Digest::of(b"guess"), 0), None);
        let last = (CACHE_ENTRIES - 1).to_string();
        assert_eq!(
            refusals.get(&Digest::of(last.as_bytes()), 0),
            Some(JwtError::Audience)
        );
    }

    #[test]
    fn introspections_in_flight_are_capped() {
        let count = Rc::new(Cell::new(0));
        let mut permits: Vec<Permit> = (0..MAX_INTROSPECTIONS)
            .map(|_| Permit::take(&count).unwrap())
            .collect();
        assert_eq!(count.get(), MAX_INTROSPECTIONS);
        assert!(Permit::take(&count).is_none());
        assert_eq!(count.get(), MAX_INTROSPECTIONS);
        // One finishes (or its client goes away): one more may start.
        drop(permits.pop());
        assert_eq!(count.get(), MAX_INTROSPECTIONS - 1);
        permits.push(Permit::take(&count).unwrap());
        assert!(Permit::take(&count).is_none());
        drop(permits);
        assert_eq!(count.get(), 0);
    }

    fn settings(scopes: &[&str]) -> Settings {
        Settings {
            issuer: "https://as.example".to_owned(),
            resource: "https://mcp.example/mcp".to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            introspection: None,
        }
    }

    #[test]
    fn metadata_document_and_paths() {
        let doc: serde_json::Value =
            serde_json::from_slice(&metadata_document(&settings(&["a", "b"]))).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": "https://mcp.example/mcp",
                "authorization_servers": ["https://as.example"],
                "scopes_supported": ["a", "b"],
                "bearer_methods_supported": ["header"],
            })
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&metadata_document(&settings(&[]))).unwrap();
        assert!(doc.get("scopes_supported").is_none());
    }

    #[test]
    fn challenges() {
        rt::block_on(async {
            let resource = Resource::new(&settings(&["a", "b"]), &["/sse", "/message"]);
            assert_eq!(
                String::from_utf8(resource.challenge(None)).unwrap(),
                "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\", scope=\"a b\""
            );
            assert_eq!(
                String::from_utf8(resource.challenge(Some(("invalid_token", "bad \"x\"\n")))).unwrap(),
                "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\", scope=\"a b\", error=\"invalid_token\", error_description=\"bad 'x''\""
            );
            for path in [
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource/sse",
                "/.well-known/oauth-protected-resource/message",
            ] {
                assert!(resource.metadata(path).is_some(), "{path}");
            }
            assert!(resource
                .metadata("/.well-known/oauth-protected-resource/other")
                .is_none());
            assert!(resource.metadata("/mcp").is_none());
        });
    }
}
