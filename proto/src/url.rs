//! Absolute URLs for the client side: the URL of a remote MCP server
//! (`--sse`, `--streamableHttp`), and the SSE `endpoint` event resolved
//! against it (RFC 3986 §5.2).
//!
//! Deliberately small and strict, since a URL decides where credentials
//! go: the schemes `http`, `https`, `ws` and `wss` only, always with an
//! authority; no userinfo (credentials go in `--header`); ASCII only (no
//! IDNA: write internationalised names in punycode and percent-encode the
//! rest); no byte that RFC 3986 leaves out of URIs (space, controls, `\`,
//! `"`, `<`, `>`, `^`, `` ` ``, `{`, `|`, `}`); well-formed percent-encoding
//! in the path and query; a host that is a lowercase DNS-style name, a
//! dotted-quad IPv4 address or a bracketed IPv6 address (the forms
//! `127.1`, `0x7f.0.0.1` or `010.0.0.1`, which resolvers read differently,
//! are refused); a port from 1 to 65535. The fragment is dropped and dot
//! segments are removed from the path (RFC 3986 §5.2.4), as browsers and
//! curl do.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// A URL scheme we connect with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http`, port 80.
    Http,
    /// `https`, port 443.
    Https,
    /// `ws` (WebSocket over TCP), port 80.
    Ws,
    /// `wss` (WebSocket over TLS), port 443.
    Wss,
}

impl Scheme {
    /// The scheme name, lowercase.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// The port used when the URL names none (RFC 9110 §4.2, RFC 6455 §3).
    #[must_use]
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http | Self::Ws => 80,
            Self::Https | Self::Wss => 443,
        }
    }

    /// Whether the connection runs over TLS (`https`, `wss`).
    #[must_use]
    pub const fn is_tls(self) -> bool {
        matches!(self, Self::Https | Self::Wss)
    }

    /// The scheme named `name`, case-insensitive (RFC 3986 §3.1).
    fn from_name(name: &str) -> Option<Self> {
        [Self::Http, Self::Https, Self::Ws, Self::Wss]
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(name))
    }
}

/// A parsed absolute URL: scheme, host, port and origin-form target.
///
/// Built by [`Url::parse`] or [`Url::join`] only, so every value holds the
/// rules of the module documentation. `Display` writes it back
/// (`scheme://authority/target`), and parsing that gives the same `Url`.
/// `Debug` leaves the query out: it often carries a session id or a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    /// A lowercase reg-name, a dotted-quad IPv4 address, or an IPv6 address
    /// in its canonical text form without brackets (the only case with a
    /// `:`). Never empty.
    host: String,
    /// 1..=65535, the scheme's default when the URL names none.
    port: u16,
    /// `path [ "?" query ]`: the path starts with `/` and has no dot
    /// segments; every byte is one RFC 3986 allows there.
    target: String,
}

impl Url {
    /// Parses an absolute URL (see the module documentation for the rules).
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::url::{Scheme, Url, UrlError};
    ///
    /// let url = Url::parse("HTTPS://Example.COM/mcp/../sse?x=1#frag")?;
    /// assert_eq!(url.scheme(), Scheme::Https);
    /// assert_eq!((url.host(), url.port()), ("example.com", 443));
    /// assert_eq!(url.target(), "/sse?x=1");
    /// assert_eq!(url.authority(), "example.com");
    /// assert_eq!(url.to_string(), "https://example.com/sse?x=1");
    ///
    /// let url = Url::parse("http://[::1]:8000")?;
    /// assert_eq!((url.host(), url.port(), url.target()), ("::1", 8000, "/"));
    /// assert_eq!(url.authority(), "[::1]:8000");
    ///
    /// assert_eq!(Url::parse("http://user:pw@example.com/"), Err(UrlError::Userinfo));
    /// assert!(matches!(Url::parse("http://example.com:0/"), Err(UrlError::Port(_))));
    /// # Ok::<(), UrlError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        check_characters(s)?;
        let s = strip_fragment(s);
        let Some((name, rest)) = split_scheme(s) else {
            return Err(UrlError::Scheme("missing scheme"));
        };
        let scheme = Scheme::from_name(name).ok_or(UrlError::Scheme(
            "unsupported scheme (only http, https, ws and wss)",
        ))?;
        // RFC 3986 §3: `hier-part = "//" authority path-abempty`; the other
        // forms have no host to connect to.
        let rest = rest
            .strip_prefix("//")
            .ok_or(UrlError::Scheme("expected \"//\" after the scheme"))?;
        Self::from_authority(scheme, rest)
    }

    /// The scheme.
    #[must_use]
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host without brackets: what to resolve, and the TLS server name
    /// (or IP address) to verify.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the URL's, or the scheme's default.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The request-target in origin-form, `path[?query]`, at least `/`.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The target before the first `?`, still percent-encoded.
    #[must_use]
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The target after the first `?`, still percent-encoded; `Some("")`
    /// for a bare `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The Host header value (RFC 9110 §7.2): the host, bracketed when it
    /// is an IPv6 address, plus `:port` only when the port is not the
    /// scheme's default.
    #[must_use]
    pub fn authority(&self) -> String {
        Authority(self).to_string()
    }

    /// Whether the connection runs over TLS (`https`, `wss`).
    #[must_use]
    pub const fn is_tls(&self) -> bool {
        self.scheme.is_tls()
    }

    /// This URL for a log line: every query value replaced by `…`
    /// (`https://host/sse?api_key=…`). Keys, scheme, authority and path are
    /// kept, since they are what a reader needs to tell servers apart.
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::url::Url;
    ///
    /// let url = Url::parse("https://example.com/sse?api_key=SECRET&v=2&flag")?;
    /// assert_eq!(url.redacted().to_string(), "https://example.com/sse?api_key=…&v=…&…");
    /// # Ok::<(), supergateway_proto::url::UrlError>(())
    /// ```
    #[must_use]
    pub const fn redacted(&self) -> Redacted<'_> {
        Redacted(Source::Url(self))
    }

    /// Whether `other` has the same origin (RFC 6454: scheme, host and
    /// port). An SSE `endpoint` that resolves to another origin would send
    /// the session's messages, and any `--header` credentials, elsewhere.
    #[must_use]
    pub fn same_origin(&self, other: &Self) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Resolves `reference` against this URL (RFC 3986 §5.2.2, strict):
    /// what an SSE `endpoint` event holds, relative or absolute.
    ///
    /// `reference` may be an absolute URL (`https://other/x`, parsed as by
    /// [`Url::parse`]), a network-path reference (`//host/p`, this URL's
    /// scheme), an absolute path (`/abs?q`), a relative path (`rel/p`,
    /// `../p`), a query alone (`?q`) or empty. Dot segments are removed and
    /// the fragment dropped; the character rules are the same as for
    /// [`Url::parse`]. A relative path whose first segment holds a `:` is
    /// refused (RFC 3986 §4.2 calls it ambiguous with a scheme).
    ///
    /// The result may have another origin: see [`Url::same_origin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use supergateway_proto::url::Url;
    ///
    /// let sse = Url::parse("http://localhost:8000/sse")?;
    /// let post = sse.join("/message?sessionId=abc")?;
    /// assert_eq!(post.to_string(), "http://localhost:8000/message?sessionId=abc");
    /// assert!(post.same_origin(&sse));
    ///
    /// let base = Url::parse("http://h/a/b/c")?;
    /// assert_eq!(base.join("../d?q")?.target(), "/a/d?q");
    /// assert_eq!(base.join("?x")?.target(), "/a/b/c?x");
    /// assert_eq!(base.join("//other/x")?.to_string(), "http://other/x");
    /// # Ok::<(), supergateway_proto::url::UrlError>(())
    /// ```
    pub fn join(&self, reference: &str) -> Result<Self, UrlError> {
        check_characters(reference)?;
        let reference = strip_fragment(reference);
        // RFC 3986 §5.2.2: a reference with a scheme is absolute.
        if split_scheme(reference).is_some() {
            return Self::parse(reference);
        }
        // A network-path reference keeps only the base's scheme.
        if let Some(rest) = reference.strip_prefix("//") {
            return Self::from_authority(self.scheme, rest);
        }
        let (path, query) = split_query(reference);
        check_component(path, Component::Path)?;
        if let Some(query) = query {
            check_component(query, Component::Query)?;
        }
        let (mut target, query) = if path.is_empty() {
            // Same document: the base path, and its query unless the
            // reference has one.
            (self.path().to_owned(), query.or_else(|| self.query()))
        } else if path.starts_with('/') {
            (remove_dot_segments(path), query)
        } else {
            let first = path.split('/').next().unwrap_or_default();
            if first.contains(':') {
                return Err(UrlError::Path(
                    "':' in the first segment of a relative path (write \"./\" before it)",
                ));
            }
            (remove_dot_segments(&merge(self.path(), path)), query)
        };
        if let Some(query) = query {
            target.push('?');
            target.push_str(query);
        }
        Ok(Self {
            scheme: self.scheme,
            host: self.host.clone(),
            port: self.port,
            target,
        })
    }

    /// `authority path-abempty [ "?" query ]` (RFC 3986 §3), after the `//`,
    /// fragment already gone.
    fn from_authority(scheme: Scheme, rest: &str) -> Result<Self, UrlError> {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(end);
        let (host, port) = parse_authority(authority, scheme)?;
        let (path, query) = split_query(path_query);
        check_component(path, Component::Path)?;
        let mut target = remove_dot_segments(path);
        if let Some(query) = query {
            check_component(query, Component::Query)?;
            target.push('?');
            target.push_str(query);
        }
        Ok(Self {
            scheme,
            host,
            port,
            target,
        })
    }
}

impl FromStr for Url {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::parse(s)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            Authority(self),
            self.target
        )
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Url")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path())
            .field("query", &self.query().map(|q| Length(q.len())))
            .finish()
    }
}

/// Why a URL or reference was refused. The context names the rule.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// A byte no URL may hold: space, control, non-ASCII, `\` and the other
    /// characters RFC 3986 §2 leaves out.
    Character(&'static str),
    /// The host is empty, has a character a DNS name does not, or is a
    /// malformed IPv4 or IPv6 address.
    Host(&'static str),
    /// The path or query has a bad percent-encoding or a character RFC 3986
    /// §3.3/§3.4 does not allow there.
    Path(&'static str),
    /// The port is empty, not digits, 0, or over 65535.
    Port(&'static str),
    /// No scheme, a scheme other than http/https/ws/wss, or no `//`.
    Scheme(&'static str),
    /// `user:password@` in the authority: credentials go in `--header`, not
    /// in URLs, which end up in logs and process listings.
    Userinfo,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Character(why) | Self::Scheme(why) => write!(f, "invalid URL: {why}"),
            Self::Host(why) => write!(f, "invalid URL host: {why}"),
            Self::Path(why) => write!(f, "invalid URL path: {why}"),
            Self::Port(why) => write!(f, "invalid URL port: {why}"),
            Self::Userinfo => f.write_str(
                "invalid URL: credentials (user:password@) are not accepted; send them with --header",
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// A URL, or text that should have been one, for a log line: the userinfo
/// (`user:password@`) becomes `…@`, every query value becomes `…`
/// (`?api_key=…`; a parameter without `=` becomes `…` whole), the fragment
/// is dropped, and control characters are escaped. What a server URL
/// carries there is often a credential (an API key, a session id), and
/// logs are read by more people than the command line is.
///
/// Made by [`Url::redacted`], or by [`redact`] for text that did not parse.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(Source<'a>);

#[derive(Clone, Copy)]
enum Source<'a> {
    Text(&'a str),
    Url(&'a Url),
}

/// `text` (a URL or a reference that may not parse, such as an `endpoint`
/// event a server sent) for a log line: see [`Redacted`].
///
/// # Examples
///
/// ```
/// use supergateway_proto::url::redact;
///
/// assert_eq!(redact("https://me:pw@host/p?key=s3cret#top").to_string(), "https://…@host/p?key=…");
/// assert_eq!(redact("/message?sessionId=abc").to_string(), "/message?sessionId=…");
/// assert_eq!(redact("bad\nline").to_string(), "bad\\nline");
/// ```
#[must_use]
pub const fn redact(text: &str) -> Redacted<'_> {
    Redacted(Source::Text(text))
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Url(url) => {
                write!(
                    f,
                    "{}://{}{}",
                    url.scheme.as_str(),
                    Authority(url),
                    url.path()
                )?;
                url.query().map_or(Ok(()), |query| write_query(f, query))
            }
            Source::Text(text) => {
                let text = strip_fragment(text);
                let (before, query) = split_query(text);
                // `scheme://authority`, `//authority` or neither (a path).
                let (prefix, rest) = match split_scheme(before) {
                    Some((scheme, rest)) if rest.starts_with("//") => {
                        (before.get(..scheme.len().saturating_add(3)), rest.get(2..))
                    }
                    _ if before.starts_with("//") => (Some("//"), before.get(2..)),
                    _ => (None, Some(before)),
                };
                let rest = rest.unwrap_or_default();
                let path = if let Some(prefix) = prefix {
                    write_escaped(f, prefix)?;
                    let end = rest.find('/').unwrap_or(rest.len());
                    let (authority, path) = rest.split_at(end);
                    match authority.rsplit_once('@') {
                        Some((_, host)) => {
                            f.write_str("…@")?;
                            write_escaped(f, host)?;
                        }
                        None => write_escaped(f, authority)?,
                    }
                    path
                } else {
                    rest
                };
                write_escaped(f, path)?;
                query.map_or(Ok(()), |query| write_query(f, query))
            }
        }
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// `?` and the query with each value replaced by `…`.
fn write_query(f: &mut fmt::Formatter<'_>, query: &str) -> fmt::Result {
    f.write_str("?")?;
    for (i, parameter) in query.split('&').enumerate() {
        if i > 0 {
            f.write_str("&")?;
        }
        match parameter.split_once('=') {
            Some((key, _)) => {
                write_escaped(f, key)?;
                f.write_str("=…")?;
            }
            None if parameter.is_empty() => {}
            None => f.write_str("…")?,
        }
    }
    Ok(())
}

/// `s` with control characters (and `\\`, `"`) escaped as Rust does, so
/// that text from a server cannot start a new log line.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        if c.is_control() || c == '\\' || c == '"' {
            write!(f, "{}", c.escape_debug())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// Writes the authority of a URL: host (IPv6 bracketed), `:port` unless
/// default.
struct Authority<'a>(&'a Url);

impl fmt::Display for Authority<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        if url.host.contains(':') {
            write!(f, "[{}]", url.host)?;
        } else {
            f.write_str(&url.host)?;
        }
        if url.port != url.scheme.default_port() {
            write!(f, ":{}", url.port)?;
        }
        Ok(())
    }
}

/// Shows a length instead of a value in `Debug` output.
struct Length(usize);

impl fmt::Debug for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// Which component a byte rule is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Component {
    Path,
    Query,
}

/// Refuses the bytes no part of a URL may hold (RFC 3986 §2: a URI is
/// ASCII `unreserved`, `reserved` and `%`). Checked on the whole input
/// first, fragment included, so that no error depends on where the bad
/// byte is.
fn check_characters(s: &str) -> Result<(), UrlError> {
    for b in s.bytes() {
        match b {
            b' ' => return Err(UrlError::Character("space in URL")),
            0x00..=0x1f | 0x7f => return Err(UrlError::Character("control character in URL")),
            // No IDNA: which Unicode a name stands for is a question we do
            // not answer (punycode it first).
            0x80..=0xff => return Err(UrlError::Character("non-ASCII byte in URL")),
            // WHATWG parsers read `\` as `/`, RFC 3986 ones do not: a path
            // that differs between the two is refused.
            b'\\' => return Err(UrlError::Character("backslash in URL")),
            b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'|' | b'}' => {
                return Err(UrlError::Character("character not allowed in a URL"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `s` without its fragment (RFC 3986 §3.5: never sent in a request).
fn strip_fragment(s: &str) -> &str {
    s.split_once('#').map_or(s, |(before, _)| before)
}

/// Splits `scheme ":" rest` when `s` starts with a scheme
/// (RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (name, rest) = s.split_once(':')?;
    let mut bytes = name.bytes();
    let first = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let others = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first && others).then_some((name, rest))
}

/// Splits `path [ "?" query ]` at the first `?`.
fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (s, None),
    }
}

/// `authority = host [ ":" port ]` (RFC 3986 §3.2, userinfo refused):
/// the host in canonical form and the port, defaulted by `scheme`.
fn parse_authority(authority: &str, scheme: Scheme) -> Result<(String, u16), UrlError> {
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated; a
    // recipient should treat it as an error. (`@` is allowed in paths, not
    // here.)
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
        // RFC 3986 §3.2.2 IP-literal; IPvFuture and zone ids are refused.
        let (inside, after) = literal
            .split_once(']')
            .ok_or(UrlError::Host("'[' without ']'"))?;
        let ip = Ipv6Addr::from_str(inside).map_err(|_| UrlError::Host("invalid IPv6 address"))?;
        let port = match after {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or(UrlError::Host("characters after ']'"))?,
            ),
        };
        (ip.to_string(), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        (parse_host_name(name)?, port)
    };
    let port = match port {
        None => scheme.default_port(),
        Some(port) => parse_port(port)?,
    };
    Ok((host, port))
}

/// A host that is not an IP-literal: a DNS-style name, lowercased, or a
/// dotted-quad IPv4 address.
fn parse_host_name(name: &str) -> Result<String, UrlError> {
    if name.is_empty() {
        return Err(UrlError::Host("empty host"));
    }
    // RFC 1035 §2.3.4 (a name of 255 octets on the wire is 253 as text).
    if name.len() > 253 {
        return Err(UrlError::Host("host longer than 253 bytes"));
    }
    // RFC 3986 §3.2.2 allows sub-delims and percent-encoding in a reg-name
    // too; no resolver does, and `,` or `%` in Host is a smuggling hint.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !name.bytes().all(allowed) {
        return Err(UrlError::Host("character not allowed in a host name"));
    }
    let name = name.to_ascii_lowercase();
    // One trailing dot (a fully qualified name) is fine; other empty labels
    // are not.
    let labels = name.strip_suffix('.').unwrap_or(&name);
    if labels.split('.').any(str::is_empty) {
        return Err(UrlError::Host("empty label in host"));
    }
    // A name whose last label is a number is an IPv4 address to WHATWG
    // parsers and to `inet_aton` (`127.1`, `0x7f.1`, `010.0.0.1`): accept
    // only the one form everybody reads the same way, four decimal parts
    // without leading zeros (which `Ipv4Addr::from_str` enforces).
    let last = labels.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        let ip = Ipv4Addr::from_str(&name).map_err(|_| UrlError::Host("invalid IPv4 address"))?;
        return Ok(ip.to_string());
    }
    Ok(name)
}

/// `port = *DIGIT` (RFC 3986 §3.2.3), 1 to 65535 here; empty is refused.
fn parse_port(port: &str) -> Result<u16, UrlError> {
    if port.is_empty() {
        return Err(UrlError::Port("empty port"));
    }
    let mut n: u16 = 0;
    for b in port.bytes() {
        // `to_digit(10)` is `Some` exactly for b'0'..=b'9'.
        let Some(digit) = char::from(b).to_digit(10) else {
            return Err(UrlError::Port("port is not all digits"));
        };
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u16::try_from(digit).ok()?))
            .ok_or(UrlError::Port("port over 65535"))?;
    }
    if n == 0 {
        return Err(UrlError::Port("port 0"));
    }
    Ok(n)
}

/// RFC 3986 §3.3 `path-abempty` (`*( "/" segment )`, segments of `pchar`)
/// and §3.4 `query` (`*( pchar / "/" / "?" )`), percent-encodings
/// well-formed. `check_characters` has run already.
fn check_component(s: &str, component: Component) -> Result<(), UrlError> {
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        let ok = match b {
            b'%' => {
                let (high, low) = (bytes.next(), bytes.next());
                if !(high.is_some_and(|b| b.is_ascii_hexdigit())
                    && low.is_some_and(|b| b.is_ascii_hexdigit()))
                {
                    return Err(UrlError::Path("'%' not followed by two hex digits"));
                }
                true
            }
            // unreserved
            b'-' | b'.' | b'_' | b'~' => true,
            // sub-delims
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => true,
            b':' | b'@' | b'/' => true,
            b'?' => component == Component::Query,
            _ => b.is_ascii_alphanumeric(),
        };
        if !ok {
            // `[` and `]` are the only bytes left: reserved for IP-literals.
            return Err(UrlError::Path("'[' or ']' outside an IPv6 host"));
        }
    }
    Ok(())
}

/// RFC 3986 §5.2.3: the base path up to its last `/`, then the reference
/// path. The base path always has a `/` (it starts with one).
fn merge(base_path: &str, reference: &str) -> String {
    let directory = base_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{directory}/{reference}")
}

/// RFC 3986 §5.2.4 `remove_dot_segments`, for a path that is empty or
/// starts with `/`; the result starts with `/` (an empty path becomes `/`,
/// the origin-form of an empty path, RFC 9112 §3.2.1).
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    while !input.is_empty() {
        // A. Leading `../` or `./` (relative input only).
        if let Some(rest) = input
            .strip_prefix("../")
            .or_else(|| input.strip_prefix("./"))
        {
            input = rest;
        // B. `/./` or a final `/.` becomes `/`.
        } else if let Some(rest) = input.strip_prefix("/.").filter(|r| r.starts_with('/')) {
            input = rest;
        } else if input == "/." {
            input = "/";
        // C. `/../` or a final `/..` becomes `/`, dropping the last output
        //    segment.
        } else if let Some(rest) = input.strip_prefix("/..").filter(|r| r.starts_with('/')) {
            input = rest;
            pop_segment(&mut output);
        } else if input == "/.." {
            input = "/";
            pop_segment(&mut output);
        // D. A lone `.` or `..`.
        } else if input == "." || input == ".." {
            input = "";
        // E. Move the first segment (with its leading `/`) to the output.
        } else {
            let end = input
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '/')
                .map_or(input.len(), |(i, _)| i);
            let (segment, rest) = input.split_at(end);
            output.push_str(segment);
            input = rest;
        }
    }
    if !output.starts_with('/') {
        output.insert(0, '/');
    }
    output
}

/// Drops the last segment of `output` and the `/` before it.
fn pop_segment(output: &mut String) {
    let keep = output.rfind('/').unwrap_or(0);
    output.truncate(keep);
}

#[cfg(test)]
mod tests;
