//! Is this host local? The pure half of the DNS-rebinding defence
//! (MCP transports: servers bound to loopback MUST validate `Origin`).
//!
//! A web page that rebinds its own name to 127.0.0.1 still sends its own
//! name in `Host` and `Origin`; a gateway bound to loopback refuses both
//! unless they name the local machine. The policy (when to check, `--cors`
//! exceptions, the 403) belongs to the caller; these functions only say
//! whether a value names a loopback host.
//!
//! Local means `localhost` (ASCII case-insensitive, no trailing dot) or an
//! IP literal that is loopback (`127.0.0.0/8`, `::1`). Everything else is
//! not local, including `localhost.` and `localhost.example`, IPv4 in
//! shorthand (`127.1`), IPv4-mapped IPv6 (`::ffff:127.0.0.1`) and names
//! that would resolve to loopback: no lookup is made here.

use std::net::IpAddr;

use super::target::is_port;

/// Whether a bind address (`--host`) is loopback: `localhost`, a loopback
/// IP, or a bracketed loopback IPv6 literal (`[::1]`). No port.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::is_loopback_host;
///
/// assert!(is_loopback_host("127.0.0.1") && is_loopback_host("::1"));
/// assert!(!is_loopback_host("0.0.0.0"));
/// ```
#[must_use]
pub fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    is_local_name(host)
}

/// Whether a `Host` value (RFC 9110 §7.2: `uri-host [ ":" port ]`) names
/// this machine. Rejects an empty value (whether an HTTP/1.0 request without
/// Host passes is the caller's policy), userinfo, a port that is not 1 to 5
/// digits up to 65535, and anything after a bracketed literal but a port.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::is_local_authority;
///
/// assert!(is_local_authority("localhost:8000") && is_local_authority("[::1]:80"));
/// assert!(!is_local_authority("evil.example:8000") && !is_local_authority(""));
/// assert!(!is_local_authority("localhost:99999"));
/// ```
#[must_use]
pub fn is_local_authority(authority: &str) -> bool {
    is_allowed_authority(authority, &[] as &[&str])
}

/// [`is_local_authority`], or a host named in `allowed` (compared ASCII
/// case-insensitively, without port or brackets): the names
/// `--allowedHost` adds, for a public name behind a proxy.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::is_allowed_authority;
///
/// let allowed = ["mcp.example.com"];
/// assert!(is_allowed_authority("MCP.example.com:443", &allowed));
/// assert!(is_allowed_authority("localhost", &allowed));
/// assert!(!is_allowed_authority("mcp.example.com.evil.com", &allowed));
/// ```
#[must_use]
pub fn is_allowed_authority<S: AsRef<str>>(authority: &str, allowed: &[S]) -> bool {
    split_authority(authority).is_some_and(|host| is_allowed_name(host, allowed))
}

/// Whether an `Origin` value (RFC 6454 §7: `scheme "://" host [ ":" port ]`)
/// is an `http` or `https` origin on this machine. Parsed exactly: rejects
/// `null` (opaque origins: sandboxed frames, `file:`), other schemes, an
/// upper-case scheme (browsers serialise it lower-case), userinfo, a path
/// (even `/`), a query, and whatever [`is_local_authority`] rejects.
///
/// # Examples
///
/// ```
/// use supergateway_proto::http::is_local_origin;
///
/// assert!(is_local_origin("http://localhost:3000"));
/// assert!(!is_local_origin("null") && !is_local_origin("http://evil.example"));
/// assert!(!is_local_origin("http://localhost:80@evil.com"));
/// assert!(!is_local_origin("http://[::1]evil.com"));
/// ```
#[must_use]
pub fn is_local_origin(origin: &str) -> bool {
    is_allowed_origin(origin, &[] as &[&str])
}

/// [`is_local_origin`], or an origin whose host is named in `allowed`
/// (as in [`is_allowed_authority`]).
#[must_use]
pub fn is_allowed_origin<S: AsRef<str>>(origin: &str, allowed: &[S]) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| is_allowed_authority(authority, allowed))
}

/// The host of `host [ ":" port ]` or `"[" literal "]" [ ":" port ]`, without
/// brackets; `None` unless the whole value is exactly that: a host of
/// RFC 3986 reg-name characters (no `@`, `/`, `?`, `#`, `%`, `:` or
/// whitespace; no userinfo) or a bracketed literal, and a port of 1 to 5
/// digits up to 65535.
fn split_authority(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (literal, after) = rest.split_once(']')?;
            (literal, after)
        }
        None => match authority.find(':') {
            Some(colon) => authority.split_at(colon),
            None => (authority, ""),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':'));
    // RFC 3986 §3.2.3, and the bound `HeadDecoder` applies to Host, so a
    // Host that got through decoding is judged on its host alone.
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => is_port(digits.as_bytes()),
    };
    (host_ok && port_ok).then_some(host)
}

/// `localhost` (any case), a loopback IP literal (brackets removed), or a
/// name in `allowed` (any case).
fn is_allowed_name<S: AsRef<str>>(host: &str, allowed: &[S]) -> bool {
    is_local_name(host)
        || allowed
            .iter()
            .any(|name| host.eq_ignore_ascii_case(name.as_ref()))
}

/// `localhost` (any case) or a loopback IP literal (brackets removed).
fn is_local_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
