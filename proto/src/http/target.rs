//! Request-target and Host validation (RFC 9112 §3.2, RFC 9110 §7.2).

use super::error::HttpError;
use super::limits::Limits;
use super::request::Method;

/// The parts of a valid request-target, as byte ranges of the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TargetParts {
    /// Where the origin-form (`/path?query`, or `*`) lies; `None` when an
    /// absolute-form target had an empty path, which means `/`
    /// (RFC 9112 §3.2.1).
    pub(super) origin: Option<(usize, usize)>,
    /// The authority of an absolute-form target.
    pub(super) authority: Option<(usize, usize)>,
}

/// Checks a request-target and finds its origin-form part.
///
/// Accepted forms: origin-form `/…`, absolute-form `http://authority[/…]`
/// (scheme case-insensitive, no userinfo, path non-empty when there is a
/// query), and `*` for OPTIONS only. Authority-form (CONNECT) and any other
/// scheme are rejected: this server is not a proxy.
pub(super) fn check_target(
    method: Method,
    target: &[u8],
    limits: &Limits,
) -> Result<TargetParts, HttpError> {
    // RFC 9112 §3: a server answers 414 to a target longer than it accepts.
    if target.len() > limits.target_bytes {
        return Err(HttpError::TargetTooLong);
    }
    for &b in target {
        match b {
            // RFC 9112 §3.2 / RFC 3986 §3.5: a request-target has no fragment.
            b'#' => return Err(HttpError::BadRequest("fragment in request-target")),
            // Not allowed by RFC 3986 §2; some stacks read it as `/`, which
            // lets paths be smuggled past prefix checks.
            b'\\' => return Err(HttpError::BadRequest("backslash in request-target")),
            // RFC 9112 §3.2: the target is ASCII URI syntax; NUL, controls,
            // SP and DEL are never part of it (httparse rejects most of these
            // already; we do not rely on it).
            0x00..=0x20 | 0x7f => {
                return Err(HttpError::BadRequest("control character in request-target"));
            }
            0x80..=0xff => {
                return Err(HttpError::BadRequest("non-ASCII byte in request-target"));
            }
            _ => {}
        }
    }
    let whole = Some((0, target.len()));
    if target == b"*" {
        // RFC 9112 §3.2.4: asterisk-form is only used with OPTIONS.
        return if method == Method::Options {
            Ok(TargetParts {
                origin: whole,
                authority: None,
            })
        } else {
            Err(HttpError::BadRequest(
                "asterisk-form request-target without OPTIONS",
            ))
        };
    }
    if target.first() == Some(&b'/') {
        // RFC 9112 §3.2.1 origin-form.
        return Ok(TargetParts {
            origin: whole,
            authority: None,
        });
    }
    // RFC 9112 §3.2.2 absolute-form; the scheme is case-insensitive
    // (RFC 3986 §3.1).
    const SCHEME: &[u8] = b"http://";
    let Some((scheme, rest)) = target.split_at_checked(SCHEME.len()) else {
        return Err(HttpError::BadRequest(
            "request-target is not origin-form or absolute-form",
        ));
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(HttpError::BadRequest(
            "request-target is not origin-form or absolute-form",
        ));
    }
    let authority_len = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_len);
    // RFC 9110 §4.2.4: userinfo in an http URI is an error to reject.
    if authority.contains(&b'@') {
        return Err(HttpError::BadRequest("userinfo in request-target"));
    }
    if !is_valid_host(authority) {
        return Err(HttpError::BadRequest("invalid authority in request-target"));
    }
    let authority_end = SCHEME.len().saturating_add(authority_len);
    let authority = Some((SCHEME.len(), authority_end));
    match path.first() {
        None => Ok(TargetParts {
            origin: None,
            authority,
        }),
        Some(b'/') => Ok(TargetParts {
            origin: Some((authority_end, target.len())),
            authority,
        }),
        // `http://host?q`: the origin-form would be `/?q`, which is not a
        // slice of the head; rare enough to refuse.
        Some(_) => Err(HttpError::BadRequest(
            "absolute-form request-target with a query but no path",
        )),
    }
}

/// Whether `value` is a valid Host field value (RFC 9110 §7.2:
/// `uri-host [ ":" port ]`), non-empty, with no `@`, `/`, `,`, whitespace,
/// controls or non-ASCII bytes.
///
/// `uri-host` is an IP-literal in brackets (hex digits, `:` and `.`), or a
/// reg-name of unreserved characters, sub-delimiters other than `,`, and
/// well-formed percent-encodings (RFC 3986 §3.2.2). The port, when present,
/// is a number of 1 to 5 digits up to 65535 ([`is_port`]).
pub(super) fn is_valid_host(value: &[u8]) -> bool {
    let (host_ok, port) = if let Some(literal) = value.strip_prefix(b"[") {
        let Some(close) = literal.iter().position(|&b| b == b']') else {
            return false;
        };
        let (inside, after) = literal.split_at(close);
        let ok = !inside.is_empty()
            && inside
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        // `after` starts with the `]`.
        (ok, after.get(1..).unwrap_or_default())
    } else {
        let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        let (name, port) = value.split_at(end);
        (!name.is_empty() && is_reg_name(name), port)
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => is_port(digits),
        Some(_) => false,
    };
    host_ok && port_ok
}

/// A TCP port as an authority writes it: 1 to 5 ASCII digits (leading zeros
/// allowed, RFC 3986 §3.2.3), at most 65535. `:99999` names no port a
/// connection can have, and parsers that wrap it modulo 65536 would see
/// another one.
pub(super) fn is_port(digits: &[u8]) -> bool {
    (1..=5).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && digits.iter().fold(0_u32, |n, &d| {
            let digit = char::from(d).to_digit(10).unwrap_or(0);
            n.saturating_mul(10).saturating_add(digit)
        }) <= 65_535
}

/// RFC 3986 §3.2.2 `reg-name = *( unreserved / pct-encoded / sub-delims )`,
/// minus `,` (STYLE.md: a comma in Host hints at a joined duplicate).
fn is_reg_name(name: &[u8]) -> bool {
    let mut bytes = name.iter();
    while let Some(&b) = bytes.next() {
        let ok = match b {
            b'%' => matches!(
                (bytes.next(), bytes.next()),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
            ),
            b'-' | b'.' | b'_' | b'~' => true,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b';' | b'=' => true,
            _ => b.is_ascii_alphanumeric(),
        };
        if !ok {
            return false;
        }
    }
    true
}
