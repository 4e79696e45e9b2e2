//! Who may call the served endpoints: static bearer tokens from
//! `--authTokenFile` and `SUPERGATEWAY_AUTH_TOKEN` (issue 16, item 1).
//!
//! Tokens are kept as SHA-256 digests only: a presented token is hashed and
//! compared against every digest of the set without stopping early, so the
//! time of a refusal says nothing about how much of a token was right, nor
//! (the digests being of equal length) about the tokens' lengths. Sessions
//! are bound to the [`Caller`] that opened them, which holds a digest, never
//! the token.
//!
//! The file is re-read when its mtime, size or inode change, checked at most
//! once a second when a request needs it (no task, no timer: an idle gateway
//! does no work). A file that becomes unreadable, empty or invalid keeps the
//! last good set, with one warning until it is good again.
//!
//! OAuth access tokens (item 2) are the business of [`resource`]: JWTs
//! verified with the issuer's keys ([`jwks`]) or introspected
//! ([`introspection`]).

mod introspection;
mod jwks;
pub(crate) mod resource;

use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use supergateway_proto::http::{
    is_b64token, parse_bearer, parse_token_file, BearerError, TokenFileLimits,
};
use supergateway_proto::secrets::constant_time_eq;

/// Where the gateway looks for `SUPERGATEWAY_AUTH_TOKEN`.
pub(crate) const TOKEN_ENV: &str = "SUPERGATEWAY_AUTH_TOKEN";

/// How often the token file's metadata is looked at, at most.
const RECHECK: Duration = Duration::from_secs(1);

/// The SHA-256 digest of a token.
#[derive(Clone, Copy)]
pub(crate) struct Digest([u8; 32]);

impl Digest {
    fn of(token: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token);
        let mut bytes = [0u8; 32];
        for (out, byte) in bytes.iter_mut().zip(digest.as_ref()) {
            *out = *byte;
        }
        Self(bytes)
    }

    /// Equal, in time that does not depend on where the digests differ.
    fn matches(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

/// Never the digest either: it would let a log reader test guesses offline.
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(..)")
    }
}

/// Who made a request, as far as the gateway knows: each mechanism that is
/// configured adds what it proved. Sessions remember the caller that opened
/// them and refuse any other (403). With no authentication configured every
/// caller is the default one, and all are the same.
#[derive(Clone, Debug, Default)]
pub(crate) struct Caller {
    /// A static bearer token, by digest (item 1).
    pub(crate) token: Option<Digest>,
    /// The principal of a verified OAuth access token (item 2).
    pub(crate) principal: Option<Rc<Principal>>,
    /// The subject of a verified client certificate (item 3, mutual TLS),
    /// as an RFC 4514 distinguished name.
    pub(crate) certificate: Option<Rc<str>>,
}

/// What a verified OAuth access token says about its holder. A session is
/// bound to issuer and subject, not to the token, so a refreshed token
/// keeps its session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    /// `client_id` (RFC 9068), else `azp`.
    pub(crate) client_id: Option<String>,
    /// The allow-listed string claims `--authEnv` may hand to a child
    /// (name, value), values already checked printable and bounded.
    pub(crate) claims: Vec<(&'static str, String)>,
}

impl Caller {
    /// Who the caller proved to be, for logs and spans (`enduser.id`): the
    /// OAuth subject, else the client certificate's subject. Never a static
    /// token, not even its digest: those name no one.
    pub(crate) fn subject(&self) -> Option<&str> {
        match (&self.principal, &self.certificate) {
            (Some(principal), _) => Some(principal.subject.as_str()),
            (None, Some(certificate)) => Some(certificate),
            (None, None) => None,
        }
    }

    /// The OAuth client the caller used (`client_id`, else `azp`), if any.
    pub(crate) fn client_id(&self) -> Option<&str> {
        self.principal.as_deref()?.client_id.as_deref()
    }

    /// Whether `other` may use a session `self` opened: every part agrees
    /// (both absent, or both present and equal).
    pub(crate) fn is(&self, other: &Self) -> bool {
        let token = match (&self.token, &other.token) {
            (None, None) => true,
            (Some(a), Some(b)) => a.matches(b),
            _ => false,
        };
        let principal = match (&self.principal, &other.principal) {
            (None, None) => true,
            (Some(a), Some(b)) => a.issuer == b.issuer && a.subject == b.subject,
            _ => false,
        };
        token && principal && self.certificate == other.certificate
    }

    /// A digest naming what this caller proved, for per-caller state (the
    /// rate limit's buckets): the token's digest, the principal's issuer
    /// and subject (as [`Caller::is`] compares), the certificate subject,
    /// each length-prefixed so no two callers share one. `None` when
    /// nothing was proved.
    pub(crate) fn identity_key(&self) -> Option<[u8; 32]> {
        if self.token.is_none() && self.principal.is_none() && self.certificate.is_none() {
            return None;
        }
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(b"supergateway rate key: caller\0");
        let mut part = |tag: u8, bytes: &[u8]| {
            context.update(&[tag]);
            context.update(&u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
            context.update(bytes);
        };
        if let Some(token) = &self.token {
            part(b't', &token.0);
        }
        if let Some(principal) = &self.principal {
            part(b'i', principal.issuer.as_bytes());
            part(b's', principal.subject.as_bytes());
        }
        if let Some(certificate) = &self.certificate {
            part(b'c', certificate.as_bytes());
        }
        let mut key = [0u8; 32];
        for (out, byte) in key.iter_mut().zip(context.finish().as_ref()) {
            *out = *byte;
        }
        Some(key)
    }
}

/// Why a request was not authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No `Authorization: Bearer` header (none, or another scheme).
    NoToken,
    /// More than one `Authorization` header: which one counts would depend
    /// on the reader (a proxy in front may take the other one).
    SeveralHeaders,
    /// `Bearer` with a malformed token.
    Malformed,
    /// A well-formed token that is not in the set.
    UnknownToken,
}

impl Denied {
    /// The `WWW-Authenticate` value (RFC 6750 §3): no error code when no
    /// credentials were presented.
    pub(crate) fn challenge(self) -> &'static [u8] {
        match self {
            Self::NoToken => b"Bearer",
            Self::SeveralHeaders => b"Bearer error=\"invalid_request\"",
            Self::Malformed | Self::UnknownToken => b"Bearer error=\"invalid_token\"",
        }
    }

    /// The RFC 6750 §3.1 error code, none when no token was presented.
    pub(crate) fn error(self) -> Option<&'static str> {
        match self {
            Self::NoToken => None,
            Self::SeveralHeaders => Some("invalid_request"),
            Self::Malformed | Self::UnknownToken => Some("invalid_token"),
        }
    }

    /// RFC 6750 §3.1: `invalid_request` is 400, the others 401.
    pub(crate) fn status(self) -> u16 {
        match self {
            Self::SeveralHeaders => 400,
            Self::NoToken | Self::Malformed | Self::UnknownToken => 401,
        }
    }

    /// For the log line and the JSON-RPC error message; never the token.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::NoToken => "Unauthorized: a bearer token is required",
            Self::SeveralHeaders => "Bad Request: more than one Authorization header",
            Self::Malformed => "Unauthorized: malformed bearer token",
            Self::UnknownToken => "Unauthorized: unknown bearer token",
        }
    }
}

/// The validated token sources, as the command line gives them (a part of
/// `Config`).
#[derive(Clone)]
pub(crate) struct Source {
    /// `SUPERGATEWAY_AUTH_TOKEN`.
    pub(crate) env: Option<Digest>,
    /// `--authTokenFile`, read once at start (it had to be good then).
    pub(crate) file: Option<(PathBuf, Loaded)>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("env", &self.env.is_some())
            .field(
                "file",
                &self
                    .file
                    .as_ref()
                    .map(|(path, loaded)| (path, loaded.digests.len())),
            )
            .finish()
    }
}

impl Source {
    /// Checks `SUPERGATEWAY_AUTH_TOKEN`'s value; errors never show it.
    pub(crate) fn env_token(token: &str) -> Result<Digest, String> {
        let token = token.trim();
        if token.len() > TokenFileLimits::DEFAULT.token_bytes || !is_b64token(token.as_bytes()) {
            return Err(format!(
                "{TOKEN_ENV} must be a bearer token: 1 to 4096 letters, digits, -._~+/ then = padding"
            ));
        }
        Ok(Digest::of(token.as_bytes()))
    }
}

/// A token file's digests and the metadata they were read with.
#[derive(Clone)]
pub(crate) struct Loaded {
    digests: Vec<Digest>,
    stamp: Stamp,
}

/// What tells a changed file: editors replace it (new inode), `>` rewrites
/// it (new mtime, usually a new size).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    size: u64,
    inode: u64,
    device: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            size: meta.len(),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

/// Reads and parses a token file; the error is one line naming the path.
pub(crate) fn load(path: &Path) -> Result<Loaded, String> {
    let limits = TokenFileLimits::DEFAULT;
    let file = std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|err| format!("{}: {err}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let stamp = Stamp::of(&meta);
    let mut bytes = Vec::new();
    let cap = u64::try_from(limits.file_bytes.saturating_add(1)).unwrap_or(u64::MAX);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("{}: {err}", path.display()))?;
    let tokens =
        parse_token_file(&bytes, limits).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(Loaded {
        digests: tokens.into_iter().map(Digest::of).collect(),
        stamp,
    })
}

/// The live token set the front door checks requests against.
pub(crate) struct Tokens {
    env: Option<Digest>,
    file: Option<Watched>,
}

struct Watched {
    path: PathBuf,
    state: RefCell<WatchState>,
}

struct WatchState {
    loaded: Loaded,
    checked: Instant,
    /// The last re-read failed and was logged; the next failure is not.
    failing: bool,
}

impl Tokens {
    pub(crate) fn new(source: &Source) -> Self {
        Self {
            env: source.env,
            file: source.file.as_ref().map(|(path, loaded)| Watched {
                path: path.clone(),
                state: RefCell::new(WatchState {
                    loaded: loaded.clone(),
                    checked: Instant::now(),
                    failing: false,
                }),
            }),
        }
    }

    /// The caller of a request with these `Authorization` header values.
    #[cfg(test)]
    pub(crate) fn authenticate<'a>(
        &self,
        authorization: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Caller, Denied> {
        let token = bearer_token(authorization)?;
        match self.check(token) {
            Some(presented) => Ok(Caller {
                token: Some(presented),
                ..Caller::default()
            }),
            None => Err(Denied::UnknownToken),
        }
    }

    /// The digest of `token` when it is one of the set.
    pub(crate) fn check(&self, token: &[u8]) -> Option<Digest> {
        let presented = Digest::of(token);
        // Every digest is compared, the result only looked at after.
        let mut found = self.env.as_ref().is_some_and(|env| env.matches(&presented));
        if let Some(watched) = &self.file {
            watched.refresh(Instant::now());
            for digest in &watched.state.borrow().loaded.digests {
                found |= digest.matches(&presented);
            }
        }
        found.then_some(presented)
    }
}

/// The bearer token of a request with these `Authorization` header values:
/// exactly one header, scheme `Bearer`, a well-formed token.
pub(crate) fn bearer_token<'a>(
    mut authorization: impl Iterator<Item = &'a [u8]>,
) -> Result<&'a [u8], Denied> {
    let Some(value) = authorization.next() else {
        return Err(Denied::NoToken);
    };
    if authorization.next().is_some() {
        return Err(Denied::SeveralHeaders);
    }
    parse_bearer(value).map_err(|err| match err {
        BearerError::NotBearer => Denied::NoToken,
        _ => Denied::Malformed,
    })
}

impl Watched {
    /// Re-reads the file if a second has passed and its metadata changed.
    fn refresh(&self, now: Instant) {
        let mut state = self.state.borrow_mut();
        if now.saturating_duration_since(state.checked) < RECHECK {
            return;
        }
        state.checked = now;
        let changed = match std::fs::metadata(&self.path) {
            Ok(meta) => Stamp::of(&meta) != state.loaded.stamp,
            // Unreadable now: report it (once) below.
            Err(_) => true,
        };
        if !changed {
            return;
        }
        match load(&self.path) {
            Ok(loaded) => {
                tracing::info!("--authTokenFile re-read: {} token(s)", loaded.digests.len());
                state.loaded = loaded;
                state.failing = false;
            }
            Err(why) => {
                if !state.failing {
                    tracing::warn!(
                        "--authTokenFile not re-read, keeping the last good tokens: {why}"
                    );
                }
                state.failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(env: Option<&str>) -> Source {
        Source {
            env: env.map(|token| Source::env_token(token).unwrap()),
            file: None,
        }
    }

    #[test]
    fn authenticates_by_digest() {
        let tokens = Tokens::new(&source(Some("s3cret")));
        let check = |values: &[&[u8]]| tokens.authenticate(values.iter().copied());
        assert!(check(&[b"Bearer s3cret"]).unwrap().token.is_some());
        assert!(check(&[b"bearer s3cret"]).unwrap().token.is_some());
        assert_eq!(check(&[]).unwrap_err(), Denied::NoToken);
        assert_eq!(check(&[b"Basic czNjcmV0"]).unwrap_err(), Denied::NoToken);
        assert_eq!(check(&[b"Bearer s3cre"]).unwrap_err(), Denied::UnknownToken);
        assert_eq!(
            check(&[b"Bearer s3cret2"]).unwrap_err(),
            Denied::UnknownToken
        );
        assert_eq!(check(&[b"Bearer s3 cret"]).unwrap_err(), Denied::Malformed);
        assert_eq!(
            check(&[b"Bearer s3cret", b"Bearer s3cret"]).unwrap_err(),
            Denied::SeveralHeaders
        );
    }

    #[test]
    fn callers_compare_by_every_part() {
        let token = |t: &[u8]| Caller {
            token: Some(Digest::of(t)),
            ..Caller::default()
        };
        let (a, a2, b) = (token(b"a"), token(b"a"), token(b"b"));
        assert!(a.is(&a2));
        assert!(!a.is(&b));
        assert!(!a.is(&Caller::default()));
        assert!(!Caller::default().is(&a));
        assert!(Caller::default().is(&Caller::default()));
        let principal = |issuer: &str, subject: &str, client: &str| Caller {
            principal: Some(Rc::new(Principal {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
                client_id: Some(client.to_owned()),
                claims: Vec::new(),
            })),
            ..Caller::default()
        };
        // A refreshed token (another client id, same subject) keeps the session.
        assert!(principal("https://as", "alice", "c1").is(&principal("https://as", "alice", "c2")));
        assert!(!principal("https://as", "alice", "c1").is(&principal("https://as", "bob", "c1")));
        assert!(!principal("https://as", "alice", "c1").is(&principal(
            "https://other",
            "alice",
            "c1"
        )));
        assert!(!principal("https://as", "alice", "c1").is(&Caller::default()));
        let cert = |subject: &str| Caller {
            certificate: Some(Rc::from(subject)),
            ..Caller::default()
        };
        assert!(cert("CN=a").is(&cert("CN=a")));
        assert!(!cert("CN=a").is(&cert("CN=b")));
        assert!(!cert("CN=a").is(&Caller::default()));
    }

    #[test]
    fn identity_keys_follow_what_was_proved() {
        let token = |t: &[u8]| Caller {
            token: Some(Digest::of(t)),
            ..Caller::default()
        };
        assert_eq!(Caller::default().identity_key(), None);
        assert_eq!(token(b"a").identity_key(), token(b"a").identity_key());
        assert_ne!(token(b"a").identity_key(), token(b"b").identity_key());
        let principal = |issuer: &str, subject: &str| Caller {
            principal: Some(Rc::new(Principal {
                issuer: issuer.to_owned(),
                subject: subject.to_owned(),
                client_id: None,
                claims: Vec::new(),
            })),
            ..Caller::default()
        };
        // Length prefixes: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            principal("ab", "c").identity_key(),
            principal("a", "bc").identity_key()
        );
        assert_eq!(
            principal("a", "b").identity_key(),
            principal("a", "b").identity_key()
        );
        let cert = Caller {
            certificate: Some(Rc::from("b")),
            ..Caller::default()
        };
        assert!(cert.identity_key().is_some());
        assert_ne!(cert.identity_key(), principal("a", "b").identity_key());
    }

    #[test]
    fn env_token_is_checked() {
        assert!(Source::env_token("abc").is_ok());
        assert!(Source::env_token("  abc\n").is_ok());
        let err = Source::env_token("two words").unwrap_err();
        assert!(!err.contains("two words"));
        assert!(Source::env_token("").is_err());
        assert!(Source::env_token(&"a".repeat(4097)).is_err());
    }

    #[test]
    fn debug_shows_no_digest() {
        let text = format!("{:?}", source(Some("s3cret")));
        assert_eq!(text, "Source { env: true, file: None }");
        assert_eq!(format!("{:?}", Digest::of(b"x")), "Digest(..)");
    }
}
